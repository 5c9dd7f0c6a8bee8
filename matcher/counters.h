/* counters.h - what matcherd counts since it started, for stats and
 * metrics. Plain integers, written by the one loop thread only. */
#ifndef MATCHER_COUNTERS_H
#define MATCHER_COUNTERS_H

#include <stdint.h>

#define COUNTERS_ERROR_CODES 32 /* > the largest passerelle.v1.ErrorCode */

/* Events by type (store_event_type_t 1..5; 0: undecodable) and ack status
 * (APPLY_* 1..4). */
#define COUNTERS_EVENT_TYPES 6
#define COUNTERS_STATUSES    5

/* Histograms with fixed bucket bounds (cumulative counts are computed when
 * reported). Batch sizes: 1, 2, 4 ... 1024 events, then +Inf. Commit
 * latency: 0.5 ms ... 1 s, then +Inf. */
#define COUNTERS_BATCH_BUCKETS  12
#define COUNTERS_COMMIT_BUCKETS 12

static const double counters_batch_le[COUNTERS_BATCH_BUCKETS - 1] = {1,  2,   4,   8,   16,  32,
                                                                     64, 128, 256, 512, 1024};
static const double counters_commit_le_s[COUNTERS_COMMIT_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

_Static_assert(COUNTERS_BATCH_BUCKETS <= COUNTERS_COMMIT_BUCKETS, "counters_hist_t holds both");

typedef struct {
    uint64_t n[COUNTERS_COMMIT_BUCKETS]; /* per bucket (not cumulative); the last is +Inf */
    uint64_t count;
    double sum;
} counters_hist_t;

/* Count value v in h, whose n_bounds finite upper bounds are le. */
static inline void counters_observe(counters_hist_t *h, const double *le, int n_bounds, double v)
{
    int i = 0;
    while (i < n_bounds && v > le[i])
        i++;
    h->n[i]++;
    h->count++;
    h->sum += v;
}

typedef struct {
    int64_t started_ms;
    uint64_t accepted;
    uint64_t duplicate;
    uint64_t rejected;
    uint64_t retry;
    uint64_t superseded;
    uint64_t by_error[COUNTERS_ERROR_CODES]; /* rejected and retry, by ErrorCode */
    uint64_t batches;
    uint64_t batch_max;
    uint64_t txns_full; /* ingest transactions ended at [store] txn_max_writes */
    uint64_t commit_us_last;
    uint64_t commit_us_max;
    uint64_t acks_dropped; /* the producer was gone or its queue full */
    uint64_t queries;
    uint64_t queries_bad;
    uint64_t feed_dropped;
    uint64_t feed_published; /* topic messages sent */
    uint64_t subscriptions;  /* subscribe requests seen */
    uint64_t subs_refused;   /* subscriptions outside the key's scope or over its limit */
    uint64_t erasures;       /* graduates erased (by event or retention) */
    uint64_t scrubs;         /* store scrubs done */
    /* operations metrics (docs/OPERATIONS.md) */
    uint64_t events[COUNTERS_EVENT_TYPES][COUNTERS_STATUSES]; /* [type][APPLY_*] */
    uint64_t matches_by_kind[4];    /* [FEED_ENTERED / UPDATED / LEFT] updates published */
    counters_hist_t batch_size;     /* events per committed batch */
    counters_hist_t commit_seconds; /* duration of each write transaction */
    uint64_t commit_failures;       /* batches answered RETRY after a failed commit */
    uint64_t subscriptions_now;     /* topic prefixes subscribed on the XPUB socket */
    uint64_t backups;
    uint64_t backup_failures;
    int store_ok;           /* the last commit succeeded */
    char store_detail[128]; /* why not, for health */
} counters_t;

#endif
