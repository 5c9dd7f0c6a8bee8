/* notify.h - telling the service manager how matcherd is doing (systemd's
 * sd_notify protocol: READY=1, STOPPING=1, STATUS=..., EXTEND_TIMEOUT_USEC).
 * Every call is a no-op when matcherd was not started by a service manager
 * that asked for it (no NOTIFY_SOCKET in the environment) or was built
 * without libsystemd.
 */
#ifndef MATCHER_NOTIFY_H
#define MATCHER_NOTIFY_H

/* The daemon serves: its sockets are bound and its store open. status is a
 * one-line description shown by `systemctl status`. */
void notify_ready(const char *status);

/* The daemon has begun to stop. */
void notify_stopping(void);

/* Start-up is still busy (an upgrade of the store): status says where it
 * is, and the service manager's start-up timeout is extended to
 * NOTIFY_EXTEND_S from now (EXTEND_TIMEOUT_USEC). */
#define NOTIFY_EXTEND_S 300
void notify_starting(const char *status);

#endif
