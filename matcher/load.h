/* load.h - initial bulk load (matcherd --load FILE...): onboard a whole
 * population into an EMPTY store, offline, then build every ranked list in
 * one pass.
 *
 * Each FILE holds passerelle.v1.Event messages, each preceded by its length
 * as a protobuf varint ("delimited" format); "-" is stdin. Every event goes
 * through the ingest path (decode, validation, enrichment, dedupe,
 * apply_batch) without the engine and the feed, in large durable write
 * transactions; then each entity's list is computed from scratch
 * (engine_build_list) and stored, without a MatchUpdate per entry. The
 * match log is left so that a replay from before the load is answered
 * REPLAY_PURGED: one sequence number is reserved as a marker and
 * "match_purged_upto" set to it. See docs/BULK-LOAD.md.
 *
 * A load that did not finish leaves meta "bulk_load" = "loading": running
 * it again (with the same files: what was stored counts as duplicates)
 * finishes it, and the daemon refuses to start on that store meanwhile.
 */
#ifndef MATCHER_LOAD_H
#define MATCHER_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "reference.h"
#include "score.h"
#include "store.h"

/* Exit statuses of load_run. */
enum {
    LOAD_OK = 0,      /* every event accepted (or duplicate), lists built */
    LOAD_FAILED = 1,  /* refused or failed (reason logged) */
    LOAD_REJECTED = 3 /* done, lists built, but some events were rejected */
};

/* Most threads computing lists. */
#define LOAD_THREADS_MAX 64

/* Load files[0..n-1] into the store of cfg; lists are computed in threads
 * threads (0: one per CPU online, at most LOAD_THREADS_MAX). Returns a
 * LOAD_* status. */
int load_run(const config_t *cfg, const char *const *files, size_t n, unsigned threads);

/* For the daemon: 0 if the store holds no unfinished bulk load, -1 (reason
 * logged) if it does. */
int load_check_finished(store_t *store);

/* Build every ranked list from scratch in threads (0: one per CPU online),
 * without a MatchUpdate (the match log already says what they hold), then
 * store_lists_rebuilt: for a store whose lists.mdb could not be trusted
 * (store_lists_stale). *entities (may be NULL) counts the entities. 0 or a
 * STORE_E* code. */
int load_build_lists(store_t *store, const reference_t *ref, const score_weights_t *w, unsigned k,
                     unsigned threads, uint64_t *entities);

#endif
