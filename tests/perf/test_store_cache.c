/* test_store_cache.c - the store's in-memory cache of entity heads and of
 * ranked-list admission data (store_entity_head, store_list_meta) must
 * always say what the store holds: after commits, after aborted write
 * transactions (their writes were cached, then undone), after erasure, and
 * in a store opened again. Also store_list_replace against store_list_put.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

typedef struct {
    char dir[64];
    store_t *st;
} s_fix_t;

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    int err = 0;
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/passerelle-cache-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->st = store_new(f->dir, NULL, &err);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    store_destroy(&f->st);
    nftw(f->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static store_graduate_t s_grad;

static const store_graduate_t *s_graduate(const char *id, int64_t version, double lat,
                                          int32_t radius)
{
    store_graduate_t *g = &s_grad;
    memset(g, 0, sizeof *g);
    snprintf(g->id, sizeof g->id, "%s", id);
    snprintf(g->school, sizeof g->school, "school-1");
    g->version = version;
    g->state = STORE_STATE_OPEN;
    g->radius_km = radius;
    g->home.lat = lat;
    g->home.lon = 1.44;
    g->home.has_point = 1;
    g->n_certs = 1;
    g->certs[0].kind = STORE_CERT_CAP;
    g->certs[0].level = 3;
    snprintf(g->certs[0].rncp, sizeof g->certs[0].rncp, "RNCP27470");
    g->n_skills = 1;
    snprintf(g->skills[0].code, sizeof g->skills[0].code, "soudage-tig");
    g->skills[0].weight = 1.0f;
    return g;
}

/* A unit of work: an optional put, an optional erase, an optional list
 * write, then what to return (non-zero aborts). */
typedef struct {
    const store_graduate_t *put;
    const char *erase;
    const store_list_t *list; /* written as vacancy "v-1"'s list */
    int replace;              /* through store_list_replace */
    int fail;                 /* return this after the writes */
    store_head_t seen;        /* the head read after the writes */
    int seen_rc;
} s_work_t;

static int s_work(store_txn_t *txn, void *arg)
{
    s_work_t *w = arg;
    int rc = 0;
    if (w->put)
        rc = store_graduate_put(txn, w->put);
    if (rc == 0 && w->erase)
        rc = store_graduate_erase(txn, w->erase);
    if (rc == 0 && w->list && w->replace) {
        static store_list_t was;
        rc = store_list_get(txn, STORE_ENTITY_VACANCY, "v-1", &was);
        if (rc == 0)
            rc = store_list_replace(txn, STORE_ENTITY_VACANCY, "v-1", &was, w->list);
    } else if (rc == 0 && w->list) {
        rc = store_list_put(txn, STORE_ENTITY_VACANCY, "v-1", w->list);
    }
    if (rc == 0)
        w->seen_rc = store_entity_head(txn, STORE_ENTITY_GRADUATE, "g-1", &w->seen);
    return rc != 0 ? rc : w->fail;
}

typedef struct {
    store_head_t h;
    int rc;
    store_list_meta_t m;
    int mrc;
} s_look_t;

static int s_look_fn(store_txn_t *txn, void *arg)
{
    s_look_t *l = arg;
    l->rc = store_entity_head(txn, STORE_ENTITY_GRADUATE, "g-1", &l->h);
    l->mrc = store_list_meta(txn, STORE_ENTITY_VACANCY, "v-1", &l->m);
    return 0;
}

static s_look_t s_look(store_t *st)
{
    s_look_t l;
    memset(&l, 0, sizeof l);
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    return l;
}

static void test_head_follows_commits_and_aborts(void **state)
{
    s_fix_t *f = *state;
    s_work_t w = {.put = s_graduate("g-1", 1, 43.6, 30)};
    assert_int_equal(store_write(f->st, s_work, &w), 0);
    s_look_t l = s_look(f->st);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.h.distance_km, 30);
    assert_true(l.h.lat == 43.6);
    assert_int_equal(l.h.level, 3);
    assert_int_not_equal(l.h.sig_rncps, 0);

    /* a newer version, read in its own transaction, then aborted */
    s_work_t w2 = {.put = s_graduate("g-1", 2, 45.0, 70), .fail = STORE_EINVAL};
    assert_int_equal(store_write(f->st, s_work, &w2), STORE_EINVAL);
    assert_int_equal(w2.seen_rc, 0);
    assert_int_equal(w2.seen.distance_km, 70); /* the txn saw its own write */
    l = s_look(f->st);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.h.distance_km, 30); /* and the abort undid it */
    assert_true(l.h.lat == 43.6);

    /* committed this time */
    s_work_t w3 = {.put = s_graduate("g-1", 3, 45.0, 70)};
    assert_int_equal(store_write(f->st, s_work, &w3), 0);
    l = s_look(f->st);
    assert_int_equal(l.h.distance_km, 70);

    /* erasure aborted, then committed */
    s_work_t w4 = {.erase = "g-1", .fail = STORE_EINVAL};
    assert_int_equal(store_write(f->st, s_work, &w4), STORE_EINVAL);
    assert_int_equal(w4.seen_rc, STORE_ENOTFOUND);
    assert_int_equal(s_look(f->st).rc, 0);
    s_work_t w5 = {.erase = "g-1"};
    assert_int_equal(store_write(f->st, s_work, &w5), 0);
    assert_int_equal(s_look(f->st).rc, STORE_ENOTFOUND);
}

static void s_list(store_list_t *l, int n, uint8_t exhaustive)
{
    memset(l, 0, sizeof *l);
    l->n = (uint16_t)n;
    l->exhaustive = exhaustive;
    for (int i = 0; i < n; i++) {
        snprintf(l->e[i].id, sizeof l->e[i].id, "g-%d", i + 1);
        l->e[i].micro = (uint32_t)(900000 - 1000 * i);
    }
}

static void test_list_meta_follows_commits_and_aborts(void **state)
{
    s_fix_t *f = *state;
    static store_list_t a, b;
    s_look_t l = s_look(f->st);
    assert_int_equal(l.mrc, 0);
    assert_int_equal(l.m.n, 0); /* no list: empty */

    s_list(&a, 3, 1);
    s_work_t w = {.list = &a};
    assert_int_equal(store_write(f->st, s_work, &w), 0);
    l = s_look(f->st);
    assert_int_equal(l.m.n, 3);
    assert_int_equal(l.m.exhaustive, 1);
    assert_int_equal(l.m.last_micro, 898000);

    s_list(&b, 5, 0);
    s_work_t w2 = {.list = &b, .replace = 1, .fail = STORE_EINVAL};
    assert_int_equal(store_write(f->st, s_work, &w2), STORE_EINVAL);
    l = s_look(f->st);
    assert_int_equal(l.m.n, 3); /* the aborted write is not seen */
    assert_int_equal(l.m.exhaustive, 1);

    s_work_t w3 = {.list = &b, .replace = 1};
    assert_int_equal(store_write(f->st, s_work, &w3), 0);
    l = s_look(f->st);
    assert_int_equal(l.m.n, 5);
    assert_int_equal(l.m.exhaustive, 0);
    assert_int_equal(l.m.last_micro, 896000);

    /* a store opened again reads the same from disk */
    store_destroy(&f->st);
    int err = 0;
    f->st = store_new(f->dir, NULL, &err);
    assert_non_null(f->st);
    l = s_look(f->st);
    assert_int_equal(l.m.n, 5);
    assert_int_equal(l.m.last_micro, 896000);
}

/* One entity's list changed, then its head, in a transaction that aborts:
 * both come back to what was committed, whatever the order of the logs
 * that undo them. */
typedef struct {
    const store_list_t *list;
    const store_graduate_t *put;
} s_both_t;

static int s_both_ok_fn(store_txn_t *txn, void *arg)
{
    s_both_t *b = arg;
    int rc = store_list_put(txn, STORE_ENTITY_GRADUATE, "g-1", b->list);
    return rc == 0 ? store_graduate_put(txn, b->put) : rc;
}

static int s_both_fn(store_txn_t *txn, void *arg)
{
    int rc = s_both_ok_fn(txn, arg);
    return rc != 0 ? rc : STORE_EINVAL;
}

static int s_both_look_fn(store_txn_t *txn, void *arg)
{
    s_look_t *l = arg;
    l->rc = store_entity_head(txn, STORE_ENTITY_GRADUATE, "g-1", &l->h);
    l->mrc = store_list_meta(txn, STORE_ENTITY_GRADUATE, "g-1", &l->m);
    return 0;
}

static void test_list_then_head_aborted(void **state)
{
    s_fix_t *f = *state;
    static store_list_t a, b;
    s_list(&a, 2, 1);
    s_both_t ok = {.list = &a, .put = s_graduate("g-1", 1, 43.6, 30)};
    assert_int_equal(store_write(f->st, s_both_ok_fn, &ok), 0);

    s_list(&b, 6, 0);
    s_both_t bad = {.list = &b, .put = s_graduate("g-1", 2, 45.0, 70)};
    assert_int_equal(store_write(f->st, s_both_fn, &bad), STORE_EINVAL);
    s_look_t l;
    memset(&l, 0, sizeof l);
    assert_int_equal(store_read(f->st, s_both_look_fn, &l), 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.h.distance_km, 30);
    assert_int_equal(l.mrc, 0);
    assert_int_equal(l.m.n, 2);
    assert_int_equal(l.m.exhaustive, 1);
    assert_int_equal(l.m.last_micro, 899000);
}

typedef struct {
    char ids[8][STORE_ID_MAX + 1];
    int n;
} s_owners_t;

static int s_owner_cb(const char *id, size_t len, void *arg)
{
    s_owners_t *o = arg;
    if (o->n < 8) {
        memcpy(o->ids[o->n], id, len);
        o->ids[o->n++][len] = '\0';
    }
    return 0;
}

typedef struct {
    const char *member;
    s_owners_t o;
} s_owners_q_t;

static int s_owners_fn(store_txn_t *txn, void *arg)
{
    s_owners_q_t *q = arg;
    q->o.n = 0;
    return store_list_owners(txn, STORE_ENTITY_VACANCY, q->member, s_owner_cb, &q->o);
}

static void test_replace_keeps_membership(void **state)
{
    s_fix_t *f = *state;
    static store_list_t a, b;
    s_list(&a, 3, 0); /* g-1 g-2 g-3 */
    s_work_t w = {.list = &a, .replace = 1};
    assert_int_equal(store_write(f->st, s_work, &w), 0);
    s_list(&b, 2, 0); /* g-1 g-2, then g-3 replaced by g-9 */
    b.n = 3;
    snprintf(b.e[2].id, sizeof b.e[2].id, "g-9");
    b.e[2].micro = 10;
    s_work_t w2 = {.list = &b, .replace = 1};
    assert_int_equal(store_write(f->st, s_work, &w2), 0);
    s_owners_q_t q = {.member = "g-3"};
    assert_int_equal(store_read(f->st, s_owners_fn, &q), 0);
    assert_int_equal(q.o.n, 0);
    q.member = "g-9";
    assert_int_equal(store_read(f->st, s_owners_fn, &q), 0);
    assert_int_equal(q.o.n, 1);
    assert_string_equal(q.o.ids[0], "v-1");
    /* the same members re-scored: rows unchanged */
    b.e[0].micro = 5;
    s_work_t w3 = {.list = &b, .replace = 1};
    assert_int_equal(store_write(f->st, s_work, &w3), 0);
    q.member = "g-1";
    assert_int_equal(store_read(f->st, s_owners_fn, &q), 0);
    assert_int_equal(q.o.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_head_follows_commits_and_aborts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_meta_follows_commits_and_aborts, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_replace_keeps_membership, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_then_head_aborted, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
