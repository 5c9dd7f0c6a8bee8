/* feed.h - the match feed: MatchUpdate messages built from ranked-list
 * changes, stored in the match log inside the batch's transaction, then
 * published on the XPUB socket once the transaction is committed.
 *
 * Topics: a change to a vacancy's list goes to "employer/<SIRET>" and
 * "region/<INSEE region>/<sector>"; a change to a graduate's list goes to
 * "school/<school id>". Publishing never blocks: a subscriber whose queue is
 * full loses messages (libzmq drops them for that subscriber only) and
 * catches up by replay from the match log.
 */
#ifndef MATCHER_FEED_H
#define MATCHER_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"
#include "reference.h"
#include "score.h"
#include "store.h"

/* passerelle.v1.MatchKind / ListSide / LeftReason values */
enum { FEED_ENTERED = 1, FEED_UPDATED = 2, FEED_LEFT = 3 };
enum { FEED_SIDE_VACANCY = 1, FEED_SIDE_GRADUATE = 2 };
enum {
    FEED_LEFT_OUTRANKED = 1,
    FEED_LEFT_NO_LONGER_ELIGIBLE = 2,
    FEED_LEFT_GRADUATE_HIRED = 3,
    FEED_LEFT_GRADUATE_LEFT = 4,
    FEED_LEFT_GRADUATE_ERASED = 5,
    FEED_LEFT_VACANCY_FILLED = 6,
    FEED_LEFT_VACANCY_CANCELLED = 7,
    FEED_LEFT_VACANCY_EXPIRED = 8
};

/* One change of one ranked list. */
typedef struct {
    uint8_t kind;        /* FEED_ENTERED / UPDATED / LEFT */
    uint8_t side;        /* whose list changed */
    uint8_t left_reason; /* FEED_LEFT_*, for LEFT */
    uint8_t anonymous;   /* store without the graduate's ids (erasure) */
    const store_vacancy_t *v;
    const store_graduate_t *g;
    uint32_t rank;             /* 1-based; 0 for LEFT */
    uint32_t micro;            /* score in millionths (the last one for LEFT) */
    const score_result_t *res; /* explanation; NULL when unchanged or LEFT */
    const score_vacancy_t *sv; /* the vacancy's prepared skills, with res */
} feed_change_t;

typedef struct feed feed_t;

/* Bind the XPUB socket on cfg->feed. NULL (reason logged) on failure. */
feed_t *feed_new(void *zctx, const config_t *cfg, const reference_t *ref, counters_t *counters);

void feed_destroy(feed_t **self_p);

void *feed_socket(feed_t *self);

/* Learn the last sequence published under each topic (for
 * MatchUpdate.previous_sequence): the values saved by feed_save_topics,
 * then the stored matches after those they cover (the whole match log if
 * none were saved). Call once at start-up. Returns 0 or a STORE_E* code. */
int feed_learn_topics(feed_t *self, store_t *store) STORE_WUR;

/* Save in the store the topics' last sequences that changed, so that the
 * next start reads only the matches after them (store_topic_put): at most
 * max topics in one write transaction. Call between batches; again until
 * *done says that the store's values cover every committed match. Returns
 * 0 or the STORE_E* code of the write (the same topics are saved at the
 * next call). */
int feed_save_topics(feed_t *self, store_t *store, size_t max, int *done) STORE_WUR;

/* Read and account pending subscription messages. */
void feed_handle_subscriptions(feed_t *self);

/* Forget every queued message (a batch is starting, or being re-run). */
void feed_reset(feed_t *self);

/* Number the change with the next match sequence number, store it in the
 * match log within txn and queue it for publication. Returns 0 or a
 * STORE_E* code (the batch then aborts). */
int feed_record(feed_t *self, store_txn_t *txn, const feed_change_t *c, int64_t now_ms) STORE_WUR;

/* Publish the queued messages (call after the commit), remember the last
 * sequence of each of their topics, then forget them. Those past [feed]
 * outbox_max_mb of a batch are read back from the match log of store, the
 * store the batch was committed to (never NULL). */
void feed_publish(feed_t *self, store_t *store);

/* INSEE region code of a place ("" when unknown). */
const char *feed_region_of(const reference_t *ref, const store_place_t *p);

/* Lower-case short name of a passerelle.v1.Sector value ("aeronautics"). */
const char *feed_sector_name(int sector);

#endif
