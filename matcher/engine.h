/* engine.h - standing queries: every open vacancy's top-K graduates and
 * every available graduate's top-K vacancies, kept current event by event.
 *
 * Called inside the batch's write transaction after an entity changed in
 * the store. It retrieves the entity's candidates through the inverted
 * indexes (skills, certifications, ROME codes; or geographic cells when
 * they are fewer), scores them (score.h), rewrites the entity's own list
 * and every other list that the change touches, and records each list
 * change as a MatchUpdate (feed.h). Invariant, after every event: each
 * stored list holds the true top n (K <= n <= 2K, or all of them if fewer)
 * of a from-scratch scoring of all eligible pairs, ordered by score
 * (descending) then id (ascending); the first K are the list shown and
 * published. The margin beyond K lets an entry leave without a rescan of
 * every candidate.
 */
#ifndef MATCHER_ENGINE_H
#define MATCHER_ENGINE_H

#include <stdint.h>

#include "feed.h"
#include "reference.h"
#include "score.h"
#include "store.h"

typedef struct engine engine_t;

/* A new engine keeping lists of k entries (1..STORE_LIST_MAX). feed may be
 * NULL (changes are then neither stored nor published: for tests that only
 * look at the lists). NULL on allocation failure. */
engine_t *engine_new(const reference_t *ref, const score_weights_t *w, unsigned k, feed_t *feed);

void engine_destroy(engine_t **self_p);

/* Graduate id was written (upserted, withdrawn) in txn: bring every
 * affected list up to date. Returns 0 or a STORE_E* code. */
int engine_graduate_changed(engine_t *self, store_txn_t *txn, const char *id,
                            int64_t now_ms) STORE_WUR;

/* The same for a vacancy. */
int engine_vacancy_changed(engine_t *self, store_txn_t *txn, const char *id,
                           int64_t now_ms) STORE_WUR;

/* Graduate id is about to be erased: retract it from every list (the lists
 * are refilled), and empty its own list. Its retractions are stored
 * anonymised. Call before store_graduate_erase(). */
int engine_graduate_erasing(engine_t *self, store_txn_t *txn, const char *id,
                            int64_t now_ms) STORE_WUR;

/* The head a from-scratch scoring gives for (kind, id) (up to 2K entries,
 * exhaustive flag set), into *out: for tests and checks. Returns 0 or a
 * STORE_E* code. */
int engine_compute_list(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                        store_list_t *out) STORE_WUR;

/* Compute the list of (kind, id) from scratch (as a recomputation does:
 * the top 2K of its eligible partners) and store it with its membership
 * rows, recording NO MatchUpdate: for building every list of a store
 * loaded in bulk (matcherd --load), where nobody follows the feed yet. A
 * closed entity's list is emptied. *written: 1 if a non-empty list was
 * stored. Returns 0 or a STORE_E* code. */
int engine_build_list(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                      int *written) STORE_WUR;

/* engine_build_list in two steps, for building lists in several threads:
 * engine_list_for_load only reads (a read transaction of the calling
 * thread will do; one engine per thread) and puts the list into *out;
 * engine_list_store stores it (in the write transaction). */
int engine_list_for_load(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                         store_list_t *out) STORE_WUR;
int engine_list_store(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                      const store_list_t *list, int *written) STORE_WUR;

/* Score one pair with its explanation. 1 if eligible, 0 if not (or if one
 * side is missing), <0 on a store error. *sv must outlive the use of *res
 * (it holds the skill codes the explanation points to). */
int engine_explain(engine_t *self, store_txn_t *txn, const char *vacancy_id,
                   const char *graduate_id, store_vacancy_t *v, store_graduate_t *g,
                   score_vacancy_t *sv, score_result_t *res);

/* Work counters: candidates scored, lists rewritten, full recomputations. */
typedef struct {
    uint64_t changed;    /* entity changes handled (each retrieves, then revisits lists) */
    uint64_t heads;      /* candidate heads read */
    uint64_t candidates; /* pairs scored */
    uint64_t lists_written;
    uint64_t recomputations;
    uint64_t changes;
    uint64_t pruned;        /* candidates whose score bound spared decoding and scoring them */
    uint64_t cells_skipped; /* cells of a retrieval's box entirely out of reach */
} engine_stats_t;

void engine_stats(const engine_t *self, engine_stats_t *out);

/* K: how many entries of a list are shown and published. */
unsigned engine_k(const engine_t *self);

#endif
