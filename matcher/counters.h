/* counters.h - what matcherd counts since it started, for stats and
 * metrics. Plain integers, written by the one loop thread only. */
#ifndef MATCHER_COUNTERS_H
#define MATCHER_COUNTERS_H

#include <stdint.h>

#define COUNTERS_ERROR_CODES 32 /* > the largest passerelle.v1.ErrorCode */

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
    int store_ok;            /* the last commit succeeded */
    char store_detail[128];  /* why not, for health */
} counters_t;

#endif
