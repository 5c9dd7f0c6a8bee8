/* retention.h - the match log is kept for a configurable time and/or
 * number of updates; older updates are purged in short write transactions
 * from the daemon's timer. A replay that asks for a purged range is told
 * so (ERROR_CODE_REPLAY_PURGED) and re-fetches the current lists instead.
 */
#ifndef MATCHER_RETENTION_H
#define MATCHER_RETENTION_H

#include <stdint.h>

#include "config.h"
#include "store.h"

/* Purge what the retention settings of cfg no longer keep, at most max
 * updates. Records the highest purged sequence number in the store's meta
 * string "match_purged_upto". Returns the number purged (>= 0) or a
 * STORE_E* code. */
int64_t retention_run(store_t *store, const config_t *cfg, int64_t now_ms, size_t max);

#endif
