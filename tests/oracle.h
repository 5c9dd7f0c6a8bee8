/* oracle.h - independent checks of a store's matching state, for tests.
 *
 * Two checks that need nothing but the store, the reference data, the
 * weights and K:
 *
 *  - oracle_check_lists: brute force. Every open graduate is scored
 *    against every open vacancy (no index, no candidate search), and every
 *    stored ranked list must be the true top n of that recomputation, for
 *    some n with min(K, all) <= n <= 2K, and all of it when marked
 *    exhaustive (the engine's invariant, engine.h). Entities are read by
 *    walking the store, so the caller need not know what was posted.
 *
 *  - oracle_check_replay: the match log, read from its first stored entry,
 *    must have strictly increasing sequence numbers equal to the numbers
 *    inside the messages, with no hole (when nothing was erased or purged
 *    from its middle) and no duplicate; every previous_sequence link must
 *    point back into the same topic; and replaying the updates from nothing
 *    must reproduce the visible part (first K) of every stored list, with
 *    nothing extra left live.
 *
 * Both run in one read transaction of the caller's store_t. They count
 * problems rather than abort, print the first few on stderr, and return 0
 * when they could run (whatever they found), or a negative STORE_E* code
 * when the store could not be read.
 */
#ifndef PASSERELLE_TESTS_ORACLE_H
#define PASSERELLE_TESTS_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "reference.h"
#include "score.h"
#include "store.h"

typedef struct {
    /* oracle_check_lists */
    size_t graduates_open;
    size_t vacancies_open;
    size_t lists;      /* lists compared (one per open entity) */
    size_t pairs;      /* eligible pairs found by brute force */
    size_t mismatches; /* lists that are not a true top n */
    size_t stray;      /* stored lists of entities that are not open */
    /* oracle_check_replay */
    uint64_t first_seq, last_seq; /* of the stored match log */
    size_t updates;               /* entries replayed */
    size_t holes;                 /* missing numbers between first and last */
    size_t out_of_order;          /* numbers not strictly increasing, or not
                                     equal to the message's own number */
    size_t undecodable;
    size_t prev_checked, prev_bad; /* previous_sequence links */
    size_t entries;                /* visible list entries checked */
    size_t replay_mismatches;      /* entries the replay does not reproduce */
    size_t live;                   /* entries the replay leaves live */
} oracle_report_t;

/* Brute-force recomputation of every ranked list (see above). Fills the
 * first block of *out. Returns 0 or a STORE_E* code. */
int oracle_check_lists(store_t *store, const reference_t *ref, const score_weights_t *w, unsigned k,
                       oracle_report_t *out);

/* The same for every stride-th open vacancy and graduate only (stride 1:
 * all), each still against the whole population: for long runs, where
 * scoring every pair after every crash would cost O(entities^2). */
int oracle_check_lists_sampled(store_t *store, const reference_t *ref, const score_weights_t *w,
                               unsigned k, size_t stride, oracle_report_t *out);

/* Match-log continuity and replay (see above). Holes are counted in
 * out->holes; erasures and purges make them legitimate, so whether they
 * are an error is the caller's call. Fills the second block of *out.
 * Returns 0 or a STORE_E* code. */
int oracle_check_replay(store_t *store, unsigned k, oracle_report_t *out);

/* Every problem counted by either check except holes: 0 means the store
 * passed. */
size_t oracle_problems(const oracle_report_t *r);

/* One line with every figure of the report, for the test's output. */
void oracle_print(const char *title, const oracle_report_t *r);

#endif
