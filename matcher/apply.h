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
    int64_t now_ms;   /* receive time recorded in the log */
    engine_t *engine; /* keeps the ranked lists; NULL: none */
    feed_t *feed;     /* its outbox is reset on (re)entry; NULL: none */
} apply_batch_t;

/* store_txn_fn: decide every valid item of the batch (arg is an
 * apply_batch_t *). Per-item refusals (unknown entity, owner mismatch) are
 * recorded in the item and do not abort. Returns 0, or a STORE_E* code
 * that aborts the whole batch (the caller then answers RETRY). */
int apply_batch(store_txn_t *txn, void *arg);

#endif
