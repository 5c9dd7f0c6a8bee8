/* notify.c - see notify.h. */
#include "notify.h"

#include <stdio.h>

#include "log.h"

#ifdef PASSERELLE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static void s_notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_warnx("sd_notify %s: failed (%d)", state, rc);
}
#else
static void s_notify(const char *state)
{
    (void)state; /* built without libsystemd: nothing to tell */
}
#endif

void notify_ready(const char *status)
{
    char buf[512];
    (void)snprintf(buf, sizeof buf, "READY=1\nSTATUS=%s", status);
    s_notify(buf);
}

void notify_stopping(void)
{
    s_notify("STOPPING=1\nSTATUS=stopping");
}

void notify_starting(const char *status)
{
    char buf[512];
    (void)snprintf(buf, sizeof buf, "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=%s",
                   (unsigned long long)NOTIFY_EXTEND_S * 1000000, status);
    s_notify(buf);
}
