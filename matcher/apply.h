/* apply.h - applying a batch of validated events to the store, in one
 * write transaction: dedupe, ownership, version order, entity updates and
 * the event log. Runs as a store_txn_fn, so it may run twice (after the map
 * grew): it resets every result it produces on entry.
 */
#ifndef MATCHER_APPLY_H
#define MATCHER_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "feed.h"
#include "reference.h"
#include "store.h"
#include "validate.h"

/* Ack statuses, numerically equal to passerelle.v1.AckStatus. */
enum { APPLY_ACCEPTED = 1, APPLY_DUPLICATE = 2, APPLY_REJECTED = 3, APPLY_RETRY = 4 };

/* One received event on its way to an ack. */
typedef struct {
    int valid; /* passed validation: apply must decide */
    matcher_event_t ev;
    matcher_verdict_t verdict; /* REJECTED or RETRY reason */
    int status;                /* APPLY_* once decided */
    uint64_t seq;              /* ACCEPTED / DUPLICATE */
    int superseded;            /* ACCEPTED but older than the stored version */
    const void *payload;       /* the event's bytes as received, for the log */
    size_t payload_len;
} apply_item_t;

typedef struct {
    apply_item_t *items;
    size_t n;
    int64_t now_ms;     /* receive time recorded in the log */
    engine_t *engine;   /* keeps the ranked lists; NULL: none */
    feed_t *feed;       /* its outbox is reset on (re)entry; NULL: none */
    uint64_t budget_us; /* take no more items once this long was spent (0: no limit) */
    int bounded;        /* take no more items once the transaction is full (store_txn_full) */
    size_t decided;     /* out: items[0, decided) were decided; the rest were not reached */
    uint64_t spent_us;  /* out: how long its last run took (what the commit adds is not in it) */
    uint64_t writes;    /* out: the B-tree writes of its last run */
    int full;           /* out: it stopped early because the transaction was full */
} apply_batch_t;

/* Reset it and judge the event bytes (data, len): size limit, decoding,
 * validation and, when ref is not NULL, enrichment. it->valid is set when
 * apply_batch must decide; otherwise it->status is APPLY_REJECTED with the
 * reason in it->verdict. data is kept as the payload for the event log and
 * must outlive the batch. The socket and matcherd --load judge alike. */
void apply_judge(apply_item_t *it, const void *data, size_t len, size_t max_bytes,
                 const reference_t *ref);

/* Reset it to "not judged yet" (what apply_judge starts with). */
void apply_item_reset(apply_item_t *it);

/* store_txn_fn: decide the valid items of the batch in order (arg is an
 * apply_batch_t *), all of them, or with a budget of time, or bounded,
 * those up to the one during which the time ran out or the transaction
 * became full (at least one): decided says how many; the
 * caller commits those and passes the rest to another transaction.
 * Per-item refusals (unknown entity, owner mismatch) are recorded in the
 * item and do not abort. Returns 0, or a STORE_E* code that aborts the
 * whole batch (the caller then answers RETRY). */
int apply_batch(store_txn_t *txn, void *arg);

#endif
