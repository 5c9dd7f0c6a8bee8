/* retention.c - see retention.h. */
#include "retention.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const config_t *cfg;
    int64_t now_ms;
    size_t max;
    size_t removed;
} s_job_t;

static int s_purge_fn(store_txn_t *txn, void *arg)
{
    s_job_t *j = arg;
    char buf[32];
    uint64_t last = store_match_last(txn), upto = 0;
    int64_t before = 0;
    j->removed = 0;
    if (j->cfg->retention_max_updates && last > j->cfg->retention_max_updates)
        upto = last - j->cfg->retention_max_updates;
    if (j->cfg->retention_days)
        before = j->now_ms - (int64_t)j->cfg->retention_days * 86400000;
    if (upto == 0 && before == 0)
        return 0;
    int rc = store_match_purge(txn, upto, before, j->max, &j->removed);
    if (rc != 0 || j->removed == 0)
        return rc;
    uint64_t first = store_match_first(txn);
    (void)snprintf(buf, sizeof buf, "%" PRIu64, first ? first - 1 : last);
    return store_meta_put_str(txn, "match_purged_upto", buf);
}

int64_t retention_run(store_t *store, const config_t *cfg, int64_t now_ms, size_t max)
{
    s_job_t j = {cfg, now_ms, max, 0};
    if (!cfg->retention_days && !cfg->retention_max_updates)
        return 0;
    int rc = store_write(store, s_purge_fn, &j);
    return rc != 0 ? rc : (int64_t)j.removed;
}
