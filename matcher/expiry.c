/* expiry.c - see expiry.h. */
#include "expiry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define S_FIRST_LOOKBACK_DAYS 3650 /* a new store sweeps ten years back once */

typedef struct {
    engine_t *engine;
    feed_t *feed;
    int32_t today;
    size_t max;
    size_t closed;
    char ids[64][STORE_ID_MAX + 1];
    size_t n;
    store_vacancy_t v;
} s_job_t;

static int s_collect(const char *id, size_t len, void *arg)
{
    s_job_t *j = arg;
    if (j->n == sizeof j->ids / sizeof j->ids[0])
        return 1;
    memcpy(j->ids[j->n], id, len);
    j->ids[j->n++][len] = '\0';
    return 0;
}

/* Close the vacancies of one day; 1 if the day is done, 0 if max was hit. */
static int s_day(store_txn_t *txn, s_job_t *j, int32_t day, int64_t now)
{
    uint8_t key[4];
    store_day_key(day, key);
    j->n = 0;
    int rc = store_index_each(txn, STORE_IX_V_EXPIRY, key, sizeof key, s_collect, j);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < j->n; i++) {
        if (j->closed == j->max || store_txn_full(txn))
            return 0;
        if ((rc = store_vacancy_get(txn, j->ids[i], &j->v)) != 0)
            return rc;
        j->v.state = STORE_STATE_EXPIRED;
        if (j->v.version < now)
            j->v.version = now;
        if ((rc = store_vacancy_put(txn, &j->v)) != 0 ||
            (rc = engine_vacancy_changed(j->engine, txn, j->v.id, now)) != 0)
            return rc;
        j->closed++;
    }
    return j->n == sizeof j->ids / sizeof j->ids[0] ? 0 : 1; /* a full page: come back */
}

static int s_expire_fn(store_txn_t *txn, void *arg)
{
    s_job_t *j = arg;
    char buf[16];
    int64_t now = clock_now_ms();
    int32_t checked = j->today - S_FIRST_LOOKBACK_DAYS;
    int rc = store_meta_get_str(txn, "expiry_checked_day", buf, sizeof buf);
    j->closed = 0;
    if (j->feed)
        feed_reset(j->feed);
    if (rc == 0)
        checked = (int32_t)strtol(buf, NULL, 10);
    else if (rc != STORE_ENOTFOUND)
        return rc;
    int32_t day = checked + 1;
    for (; day < j->today; day++) {
        rc = s_day(txn, j, day, now);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break; /* this day is not finished */
    }
    (void)snprintf(buf, sizeof buf, "%ld", (long)(day - 1));
    return store_meta_put_str(txn, "expiry_checked_day", buf);
}

int64_t expiry_run(store_t *store, engine_t *engine, feed_t *feed, int32_t today, size_t max)
{
    static s_job_t j;
    memset(&j, 0, sizeof j);
    j.engine = engine;
    j.feed = feed;
    j.today = today;
    j.max = max;
    int rc = store_write(store, s_expire_fn, &j);
    if (rc != 0)
        return rc;
    if (feed)
        feed_publish(feed, store);
    return (int64_t)j.closed;
}
