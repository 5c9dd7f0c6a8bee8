/* rebuild.c - see rebuild.h. */
#include "rebuild.h"

#include <string.h>

#include "clock.h"

#define S_CHUNK 200

typedef struct {
    engine_t *engine;
    feed_t *feed;
    store_entity_kind_t kind;
    char after[STORE_ID_MAX + 1];
    char ids[S_CHUNK][STORE_ID_MAX + 1];
    size_t n;
    int cut; /* the transaction ended before the last of ids[] (store_txn_full) */
} s_job_t;

static int s_collect(const char *id, size_t len, void *arg)
{
    s_job_t *j = arg;
    memcpy(j->ids[j->n], id, len);
    j->ids[j->n++][len] = '\0';
    return 0;
}

/* One chunk: the next S_CHUNK ids after j->after, each brought up to date,
 * or those of them taken before the transaction was full (store_txn_full;
 * at least one). */
static int s_chunk_fn(store_txn_t *txn, void *arg)
{
    s_job_t *j = arg;
    int64_t now = clock_now_ms();
    int rc;
    j->n = 0;
    j->cut = 0;
    if (j->feed)
        feed_reset(j->feed);
    if ((rc = store_entity_ids(txn, j->kind, j->after, S_CHUNK, s_collect, j)) != 0)
        return rc;
    for (size_t i = 0; i < j->n; i++) {
        rc = j->kind == STORE_ENTITY_GRADUATE
                 ? engine_graduate_changed(j->engine, txn, j->ids[i], now)
                 : engine_vacancy_changed(j->engine, txn, j->ids[i], now);
        if (rc != 0)
            return rc;
        if (i + 1 < j->n && store_txn_full(txn)) {
            j->n = i + 1; /* the next chunk starts after ids[i] */
            j->cut = 1;
        }
    }
    return 0;
}

int rebuild_all(store_t *store, engine_t *engine, feed_t *feed, uint64_t *entities)
{
    static s_job_t j;
    uint64_t visited = 0;
    const store_entity_kind_t kinds[2] = {STORE_ENTITY_VACANCY, STORE_ENTITY_GRADUATE};
    for (int k = 0; k < 2; k++) {
        memset(&j, 0, sizeof j);
        j.engine = engine;
        j.feed = feed;
        j.kind = kinds[k];
        do {
            int rc = store_write(store, s_chunk_fn, &j);
            if (rc != 0)
                return rc;
            if (feed)
                feed_publish(feed, store);
            visited += j.n;
            if (j.n)
                memcpy(j.after, j.ids[j.n - 1], sizeof j.after);
        } while (j.n == S_CHUNK || j.cut);
    }
    if (entities)
        *entities = visited;
    return 0;
}
