/* query.h - the query socket: Request in, Response out (stats, health;
 * top matches and replay once the matching engine serves them).
 *
 * Requests are answered in arrival order, one Response frame per Request
 * frame, mirroring the envelope (DEALER: [Response]; REQ: [""][Response]).
 * A malformed request gets a Response with error BAD_REQUEST, never silence.
 */
#ifndef MATCHER_QUERY_H
#define MATCHER_QUERY_H

#include "config.h"
#include "counters.h"
#include "engine.h"
#include "reference.h"
#include "store.h"

typedef struct query query_t;

/* Bind a ROUTER on cfg->query. engine explains top matches. NULL (reason
 * logged) on failure. */
query_t *query_new(void *zctx, const config_t *cfg, store_t *store, counters_t *counters,
                   const reference_t *ref, engine_t *engine);

void query_destroy(query_t **self_p);

void *query_socket(query_t *self);

/* Answer up to max waiting requests. Returns how many were answered, or -1
 * if the socket failed. */
int query_process(query_t *self, int max);

/* Backups: a BackupRequest starts a copy of the store in a thread of its
 * own (store_backup_start); the reply is sent when it ends. query_backup_fd
 * is a descriptor to poll that becomes readable then (-1 when no backup
 * runs); query_backup_done finishes it and answers the requester. */
int query_backup_fd(const query_t *self);
void query_backup_done(query_t *self);

#endif
