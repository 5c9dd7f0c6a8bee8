/* daemon.h - matcherd's life: open the store, bind the sockets, run the
 * zmq_poll loop until SIGTERM or SIGINT, then tear down in reverse order.
 */
#ifndef MATCHER_DAEMON_H
#define MATCHER_DAEMON_H

#include "config.h"

/* Run until a stop signal. Returns the process exit status: 0 after a clean
 * stop, 1 if start-up failed (reason logged). */
int daemon_run(const config_t *cfg);

/* The store's logger (store_set_logger) for matcherd's processes: the
 * store's lines at their level through log.h. */
void daemon_store_log(int level, const char *msg);

#endif
