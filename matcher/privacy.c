/* privacy.c - see privacy.h. */
#include "privacy.h"

#include <string.h>

#define S_PAGE 256 /* ids examined per transaction, at most */

typedef struct {
    const config_t *cfg;
    engine_t *engine;
    feed_t *feed;
    int64_t now_ms;
    store_entity_kind_t kind;
    size_t max;
    char after[STORE_ID_MAX + 1]; /* where the walk resumes */
    char ids[S_PAGE][STORE_ID_MAX + 1];
    size_t n;
    int cut; /* the transaction ended before the last of ids[] (store_txn_full) */
    uint64_t deleted;
    store_graduate_t g;
    store_vacancy_t v;
} s_walk_t;

static s_walk_t s_walks[2]; /* graduates, vacancies: positions kept between calls */

static int s_collect(const char *id, size_t len, void *arg)
{
    s_walk_t *w = arg;
    memcpy(w->ids[w->n], id, len);
    w->ids[w->n++][len] = '\0';
    return 0;
}

static int s_graduate(s_walk_t *w, store_txn_t *txn, const char *id, int64_t cutoff)
{
    int rc = store_graduate_get(txn, id, &w->g);
    if (rc != 0 || w->g.version >= cutoff)
        return rc == STORE_ENOTFOUND || rc == STORE_ECORRUPT ? 0 : rc;
    /* the same steps as a graduate_erased event */
    w->g.state = STORE_STATE_LEFT;
    if ((rc = store_graduate_put(txn, &w->g)) != 0 ||
        (w->engine && (rc = engine_graduate_erasing(w->engine, txn, id, w->now_ms)) != 0) ||
        (rc = store_graduate_erase(txn, id)) != 0)
        return rc;
    w->deleted++;
    return 0;
}

static int s_vacancy(s_walk_t *w, store_txn_t *txn, const char *id, int64_t cutoff)
{
    int rc = store_vacancy_get(txn, id, &w->v);
    if (rc != 0 || w->v.state == STORE_STATE_OPEN || w->v.version >= cutoff)
        return rc == STORE_ENOTFOUND || rc == STORE_ECORRUPT ? 0 : rc;
    if ((rc = store_vacancy_erase(txn, id)) != 0)
        return rc;
    w->deleted++;
    return 0;
}

static int s_walk_fn(store_txn_t *txn, void *arg)
{
    s_walk_t *w = arg;
    int days = w->kind == STORE_ENTITY_GRADUATE ? w->cfg->graduate_retention_days
                                                : w->cfg->closed_retention_days;
    int64_t cutoff = w->now_ms - (int64_t)days * 86400000;
    w->n = 0;
    w->cut = 0;
    w->deleted = 0;
    if (w->feed)
        feed_reset(w->feed);
    int rc =
        store_entity_ids(txn, w->kind, w->after, w->max < S_PAGE ? w->max : S_PAGE, s_collect, w);
    for (size_t i = 0; rc == 0 && i < w->n; i++) {
        rc = w->kind == STORE_ENTITY_GRADUATE ? s_graduate(w, txn, w->ids[i], cutoff)
                                              : s_vacancy(w, txn, w->ids[i], cutoff);
        if (rc == 0 && i + 1 < w->n && store_txn_full(txn)) {
            w->n = i + 1; /* the next call resumes after ids[i] */
            w->cut = 1;
        }
    }
    return rc;
}

static int64_t s_walk(s_walk_t *w, store_t *store)
{
    int rc = store_write(store, s_walk_fn, w);
    if (rc != 0)
        return rc;
    if (w->feed)
        feed_publish(w->feed, store);
    /* a short page means the end: start again from the first id next time */
    if (!w->cut && w->n < (w->max < S_PAGE ? w->max : S_PAGE))
        w->after[0] = '\0';
    else
        memcpy(w->after, w->ids[w->n - 1], sizeof w->after);
    return (int64_t)w->deleted;
}

int64_t privacy_run(store_t *store, const config_t *cfg, engine_t *engine, feed_t *feed,
                    int64_t now_ms, size_t max, uint64_t *graduates_erased)
{
    int64_t total = 0;
    if (graduates_erased)
        *graduates_erased = 0;
    for (int k = 0; k < 2; k++) {
        s_walk_t *w = &s_walks[k];
        int days = k == 0 ? cfg->graduate_retention_days : cfg->closed_retention_days;
        if (days == 0 || max == 0)
            continue;
        w->cfg = cfg;
        w->engine = engine;
        w->feed = feed;
        w->now_ms = now_ms;
        w->kind = k == 0 ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
        w->max = max;
        int64_t n = s_walk(w, store);
        if (n < 0)
            return n;
        if (k == 0 && graduates_erased)
            *graduates_erased = (uint64_t)n;
        total += n;
    }
    return total;
}
