/* ingest.h - the ingest socket: receive events, validate, group-commit,
 * acknowledge.
 *
 * ingest_process() drains what is waiting on the ROUTER (bounded by count
 * and bytes), validates each message, applies every valid event in ONE
 * store transaction (one fsync), and only then sends one Ack per message,
 * in arrival order. A failed commit turns every undecided ack into RETRY;
 * nothing is acknowledged as accepted unless it is on disk.
 */
#ifndef MATCHER_INGEST_H
#define MATCHER_INGEST_H

#include "config.h"
#include "counters.h"
#include "engine.h"
#include "feed.h"
#include "reference.h"
#include "store.h"

typedef struct ingest ingest_t;

/* Bind a ROUTER on cfg->ingest in ZeroMQ context zctx. Events are
 * enriched from ref, applied to store with engine keeping the ranked lists
 * (NULL: none), and the resulting updates published on feed (NULL: none)
 * after each commit. Returns NULL (reason logged) on failure. */
ingest_t *ingest_new(void *zctx, const config_t *cfg, store_t *store, counters_t *counters,
                     const reference_t *ref, engine_t *engine, feed_t *feed);

/* Close the socket and free everything; NULLs *self_p. NULL-safe. */
void ingest_destroy(ingest_t **self_p);

/* The socket, for zmq_poll. */
void *ingest_socket(ingest_t *self);

/* Handle one batch of waiting messages (see above). shutting_down answers
 * every event RETRY / SHUTTING_DOWN without storing it. Returns the number
 * of messages handled (0 if none was waiting), or -1 if the socket failed
 * (ETERM: the context is closing). */
int ingest_process(ingest_t *self, int shutting_down);

#endif
