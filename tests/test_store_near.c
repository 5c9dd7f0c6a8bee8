/* test_store_near.c - the places index in memory (store/store_near.c)
 * must hold exactly what the records call for: after random upserts,
 * closures and erasures of graduates and vacancies, inside the write
 * transaction that made them (the engine reads its own writes), after
 * transactions that abort (their changes undone entry for entry), after
 * a transaction retried because the map filled, and in a store opened
 * again (built from the records). store_near_verify compares memory with
 * the records posting by posting; walks through store_near_each must name
 * the same entities as this file's own reading of the records: every open
 * entity with a point that has a code under one of the walk's keys.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

#define S_GRADS 60
#define S_VACS  40

static const char *const s_skills[] = {"soudage-tig", "soudage-mig", "lecture-plan", "cariste",
                                       "accueil",     "caisse",      "cuisine",      "plonge",
                                       "electricite", "plomberie",   "peinture",     "maconnerie"};
static const char *const s_rncps[] = {"RNCP27470", "RNCP35001", "RNCP12345", "RNCP999"};
static const char *const s_romes[] = {"H2913", "N1101", "G1602", "F1603", "D1505"};
static const double s_lats[] = {43.6, 43.9, 44.2, 48.85, 45.7};
#define S_N(a) (sizeof(a) / sizeof(a[0]))

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

static void s_quiet(int level, const char *msg)
{
    if (level <= STORE_LOG_WARN)
        fprintf(stderr, "store: %s\n", msg);
}

static store_t *s_open(const char *dir, size_t map_bytes)
{
    store_options_t o = {.map_bytes = map_bytes};
    int err = 0;
    store_t *st = store_new(dir, &o, &err);
    assert_non_null(st);
    return st;
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    store_set_logger(s_quiet);
    snprintf(f->dir, sizeof f->dir, "/tmp/passerelle-near-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->st = s_open(f->dir, 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    store_destroy(&f->st);
    nftw(f->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    store_set_logger(NULL);
    return 0;
}

/* ---- random changes ------------------------------------------------------ */

static uint64_t s_next(uint64_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static unsigned s_pick(uint64_t *r, unsigned n)
{
    return (unsigned)(s_next(r) % n);
}

static int64_t s_version = 1; /* only ever grows: no put is stale */

static void s_place(uint64_t *r, store_place_t *p)
{
    p->has_point = s_pick(r, 10) != 0;
    p->lat = s_lats[s_pick(r, S_N(s_lats))] + 0.01 * s_pick(r, 50);
    p->lon = 1.0 + 0.02 * s_pick(r, 100);
}

static void s_rand_graduate(uint64_t *r, store_graduate_t *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->id, sizeof g->id, "g-%u", s_pick(r, S_GRADS));
    snprintf(g->school, sizeof g->school, "school-1");
    g->version = s_version++;
    g->state = s_pick(r, 5) == 0 ? STORE_STATE_HIRED : STORE_STATE_OPEN;
    g->radius_km = 30;
    s_place(r, &g->home);
    g->n_skills = (uint16_t)s_pick(r, 6);
    for (unsigned i = 0; i < g->n_skills; i++) /* repeats allowed: one posting each */
        snprintf(g->skills[i].code, sizeof g->skills[i].code, "%s",
                 s_skills[s_pick(r, S_N(s_skills))]);
    g->n_certs = (uint16_t)s_pick(r, 3);
    for (unsigned i = 0; i < g->n_certs; i++) {
        g->certs[i].level = 3;
        snprintf(g->certs[i].rncp, sizeof g->certs[i].rncp, "%s", s_rncps[s_pick(r, S_N(s_rncps))]);
    }
    g->n_romes = (uint16_t)s_pick(r, 3);
    for (unsigned i = 0; i < g->n_romes; i++)
        snprintf(g->romes[i], sizeof g->romes[i], "%s", s_romes[s_pick(r, S_N(s_romes))]);
    uint64_t q = (uint64_t)g->version * 0x9e3779b97f4a7c15u + 1; /* r's draws unchanged */
    g->licence = (uint8_t)s_pick(&q, 2);
    g->contracts = s_pick(&q, 3) == 0 ? 0 : (uint32_t)(s_pick(&q, 63) + 1) & 0x3e; /* may be none */
}

static void s_rand_vacancy(uint64_t *r, store_vacancy_t *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "v-%u", s_pick(r, S_VACS));
    snprintf(v->employer, sizeof v->employer, "12345678900011");
    v->version = s_version++;
    v->state = s_pick(r, 5) == 0 ? STORE_STATE_FILLED : STORE_STATE_OPEN;
    v->contract = STORE_CONTRACT_CDI;
    v->positions = 1;
    s_place(r, &v->site);
    v->n_required = (uint16_t)s_pick(r, 4);
    for (unsigned i = 0; i < v->n_required; i++)
        snprintf(v->required[i].code, sizeof v->required[i].code, "%s",
                 s_skills[s_pick(r, S_N(s_skills))]);
    v->n_desirable = (uint16_t)s_pick(r, 4); /* may repeat a required skill */
    for (unsigned i = 0; i < v->n_desirable; i++)
        snprintf(v->desirable[i].code, sizeof v->desirable[i].code, "%s",
                 s_skills[s_pick(r, S_N(s_skills))]);
    v->n_rncps = (uint16_t)s_pick(r, 3);
    for (unsigned i = 0; i < v->n_rncps; i++)
        snprintf(v->rncps[i], sizeof v->rncps[i], "%s", s_rncps[s_pick(r, S_N(s_rncps))]);
    v->n_romes = (uint16_t)s_pick(r, 3);
    for (unsigned i = 0; i < v->n_romes; i++)
        snprintf(v->romes[i], sizeof v->romes[i], "%s", s_romes[s_pick(r, S_N(s_romes))]);
    uint64_t q = (uint64_t)v->version * 0x9e3779b97f4a7c15u + 1; /* r's draws unchanged */
    v->contract = (uint8_t)(STORE_CONTRACT_CDI + s_pick(&q, 5));
    v->licence_required = s_pick(&q, 3) == 0;
}

/* A unit of work: n random changes from seed, a check of memory against
 * the records inside the transaction, then fail (non-zero aborts). The
 * same seed gives the same changes when store_write runs it again. */
typedef struct {
    uint64_t seed;
    int n;
    int fail;
    int verified; /* checks passed inside the transaction */
} s_work_t;

static store_graduate_t s_g;
static store_vacancy_t s_v;

static int s_change(store_txn_t *txn, uint64_t *r)
{
    char id[16];
    int rc;
    switch (s_pick(r, 6)) {
    case 0:
    case 1: s_rand_graduate(r, &s_g); return store_graduate_put(txn, &s_g);
    case 2:
    case 3: s_rand_vacancy(r, &s_v); return store_vacancy_put(txn, &s_v);
    case 4:
        snprintf(id, sizeof id, "g-%u", s_pick(r, S_GRADS));
        rc = store_graduate_erase(txn, id);
        return rc == STORE_ENOTFOUND ? 0 : rc;
    default:
        snprintf(id, sizeof id, "v-%u", s_pick(r, S_VACS));
        rc = store_vacancy_erase(txn, id);
        return rc == STORE_ENOTFOUND ? 0 : rc;
    }
}

static int s_work(store_txn_t *txn, void *arg)
{
    s_work_t *w = arg;
    uint64_t r = w->seed * 2654435761u + 1;
    int rc = 0;
    for (int i = 0; i < w->n && rc == 0; i++)
        rc = s_change(txn, &r);
    if (rc == 0 && (rc = store_near_verify(txn, NULL)) == 0)
        w->verified++;
    return rc != 0 ? rc : w->fail;
}

/* ---- checks -------------------------------------------------------------- */

typedef struct {
    uint64_t postings;
    int rc;
} s_verify_t;

static int s_verify_fn(store_txn_t *txn, void *arg)
{
    s_verify_t *v = arg;
    v->rc = store_near_verify(txn, &v->postings);
    return 0;
}

static uint64_t s_verify(store_t *st)
{
    s_verify_t v = {0, -1};
    assert_int_equal(store_read(st, s_verify_fn, &v), 0);
    assert_int_equal(v.rc, 0);
    return v.postings;
}

/* Ids named by a walk, sorted, without repeats. */
typedef struct {
    char ids[S_GRADS + S_VACS][16];
    store_list_meta_t meta[S_GRADS + S_VACS]; /* what the walk said of its list */
    int known[S_GRADS + S_VACS];              /* and whether it said anything */
    int n;
    int overflow;
} s_names_t;

static int s_name_add(s_names_t *o, const char *id, size_t len)
{
    if (o->n == S_GRADS + S_VACS || len >= sizeof o->ids[0]) {
        o->overflow = 1;
        return 0;
    }
    memcpy(o->ids[o->n], id, len);
    o->ids[o->n++][len] = '\0';
    return 0;
}

static int s_near_cb(const char *id, size_t len, const store_head_t *h,
                     const store_list_meta_t *list, void *arg)
{
    s_names_t *o = arg;
    assert_int_equal(h->state, STORE_STATE_OPEN);
    int n = o->n;
    int rc = s_name_add(o, id, len);
    if (o->n > n) {
        o->known[n] = list != NULL;
        if (list)
            o->meta[n] = *list;
    }
    return rc;
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every key of a few cells and every code, the way the engine asks. */
typedef struct {
    uint8_t keys[8 * 32 * STORE_NEAR_KEY_MAX];
    size_t lens[8 * 32];
    size_t n;
    s_names_t a, b;
    int rc_a, rc_b;
} s_walk_t;

static void s_keys(s_walk_t *w, int row)
{
    size_t off = 0;
    w->n = 0;
    for (int c = 1; c <= 2; c++) {
        for (size_t i = 0; i < S_N(s_skills); i++, w->n++)
            off += w->lens[w->n] =
                store_near_key(row, c, STORE_NEAR_SKILL, s_skills[i], w->keys + off);
        for (size_t i = 0; i < S_N(s_rncps); i++, w->n++)
            off += w->lens[w->n] =
                store_near_key(row, c, STORE_NEAR_RNCP, s_rncps[i], w->keys + off);
        for (size_t i = 0; i < S_N(s_romes); i++, w->n++)
            off += w->lens[w->n] =
                store_near_key(row, c, STORE_NEAR_ROME, s_romes[i], w->keys + off);
    }
}

static store_entity_kind_t s_walk_kind;

/* Code (of kind STORE_NEAR_*) under the cell of p is one of w's keys. */
static int s_in_walk(const s_walk_t *w, const store_place_t *p, char kind, const char *code)
{
    uint8_t key[STORE_NEAR_KEY_MAX];
    int row, col;
    if (!code[0])
        return 0;
    store_near_cell(p->lat, p->lon, &row, &col);
    size_t len = store_near_key(row, col, kind, code, key);
    for (size_t i = 0, off = 0; i < w->n; off += w->lens[i++])
        if (w->lens[i] == len && memcmp(w->keys + off, key, len) == 0)
            return 1;
    return 0;
}

/* The open entities of kind with a point and a code under one of w's
 * keys, read from their records one by one, into o. */
static int s_oracle(store_txn_t *txn, store_entity_kind_t kind, const s_walk_t *w, s_names_t *o)
{
    static store_graduate_t g;
    static store_vacancy_t v;
    char id[16];
    int grad = kind == STORE_ENTITY_GRADUATE;
    for (int i = 0; i < (grad ? S_GRADS : S_VACS); i++) {
        snprintf(id, sizeof id, "%s-%d", grad ? "g" : "v", i);
        int rc = grad ? store_graduate_get(txn, id, &g) : store_vacancy_get(txn, id, &v);
        if (rc == STORE_ENOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        const store_place_t *p = grad ? &g.home : &v.site;
        if ((grad ? g.state : v.state) != STORE_STATE_OPEN || !p->has_point)
            continue;
        int in = 0;
        if (grad) {
            for (unsigned j = 0; j < g.n_skills; j++)
                in |= s_in_walk(w, p, STORE_NEAR_SKILL, g.skills[j].code);
            for (unsigned j = 0; j < g.n_certs; j++)
                in |= s_in_walk(w, p, STORE_NEAR_RNCP, g.certs[j].rncp);
            for (unsigned j = 0; j < g.n_romes; j++)
                in |= s_in_walk(w, p, STORE_NEAR_ROME, g.romes[j]);
        } else {
            for (unsigned j = 0; j < v.n_required; j++)
                in |= s_in_walk(w, p, STORE_NEAR_SKILL, v.required[j].code);
            for (unsigned j = 0; j < v.n_desirable; j++)
                in |= s_in_walk(w, p, STORE_NEAR_SKILL, v.desirable[j].code);
            for (unsigned j = 0; j < v.n_rncps; j++)
                in |= s_in_walk(w, p, STORE_NEAR_RNCP, v.rncps[j]);
            for (unsigned j = 0; j < v.n_romes; j++)
                in |= s_in_walk(w, p, STORE_NEAR_ROME, v.romes[j]);
        }
        if (in)
            s_name_add(o, id, strlen(id));
    }
    return 0;
}

static int s_walk_fn(store_txn_t *txn, void *arg)
{
    s_walk_t *w = arg;
    memset(&w->a, 0, sizeof w->a);
    memset(&w->b, 0, sizeof w->b);
    w->rc_a = s_oracle(txn, s_walk_kind, w, &w->a);
    w->rc_b =
        store_near_each(txn, s_walk_kind, w->keys, w->lens, w->n, NULL, NULL, s_near_cb, &w->b);
    return 0;
}

/* Walks of both kinds over the cells of every latitude used agree. */
static void s_walks_agree(store_t *st)
{
    static s_walk_t w;
    for (int k = 0; k < 2; k++) {
        for (size_t l = 0; l < S_N(s_lats); l++) {
            s_walk_kind = k == 0 ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
            s_keys(&w, (int)s_lats[l]);
            assert_int_equal(store_read(st, s_walk_fn, &w), 0);
            assert_int_equal(w.rc_a, 0);
            assert_int_equal(w.rc_b, 0);
            assert_false(w.a.overflow || w.b.overflow);
            assert_int_equal(w.a.n, w.b.n); /* the walk names each entity once */
            qsort(w.a.ids, (size_t)w.a.n, sizeof w.a.ids[0], s_name_cmp);
            qsort(w.b.ids, (size_t)w.b.n, sizeof w.b.ids[0], s_name_cmp);
            for (int i = 0; i < w.a.n; i++)
                assert_string_equal(w.a.ids[i], w.b.ids[i]);
        }
    }
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_random_changes_commits_and_aborts(void **state)
{
    s_fix_t *f = *state;
    int aborted = 0, committed = 0;
    uint64_t most = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        s_work_t w = {
            .seed = seed, .n = 1 + (int)(seed % 7), .fail = seed % 3 == 0 ? STORE_EINVAL : 0};
        int rc = store_write(f->st, s_work, &w);
        assert_int_equal(rc, w.fail);
        assert_true(w.verified >= 1); /* memory = records inside the transaction */
        aborted += rc != 0;
        committed += rc == 0;
        uint64_t p = s_verify(f->st); /* and after: the abort undid memory too */
        most = p > most ? p : most;
        if (seed % 25 == 0)
            s_walks_agree(f->st);
    }
    assert_true(aborted > 50 && committed > 150);
    assert_true(most > 100); /* the lists were not trivially empty */
    s_walks_agree(f->st);

    /* a store opened again builds the same lists from the records */
    uint64_t before = s_verify(f->st);
    store_destroy(&f->st);
    f->st = s_open(f->dir, 0);
    assert_int_equal(s_verify(f->st), before);
    s_walks_agree(f->st);

    /* and follows changes and aborts from there */
    for (uint64_t seed = 301; seed <= 400; seed++) {
        s_work_t w = {.seed = seed, .n = 3, .fail = seed % 2 ? STORE_EINVAL : 0};
        assert_int_equal(store_write(f->st, s_work, &w), w.fail);
        s_verify(f->st);
    }
    s_walks_agree(f->st);
}

/* An abort must restore the lists exactly, not just empty or rebuild
 * them: a walk before and after an aborted transaction that changed most
 * entities names the same entities. */
static void test_abort_restores_walks(void **state)
{
    s_fix_t *f = *state;
    static s_walk_t w1, w2;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        s_work_t w = {.seed = seed, .n = 8};
        assert_int_equal(store_write(f->st, s_work, &w), 0);
    }
    s_walk_kind = STORE_ENTITY_GRADUATE;
    s_keys(&w1, 43);
    assert_int_equal(store_read(f->st, s_walk_fn, &w1), 0);
    s_work_t big = {.seed = 999, .n = 200, .fail = STORE_EINVAL};
    assert_int_equal(store_write(f->st, s_work, &big), STORE_EINVAL);
    s_verify(f->st);
    w2 = w1;
    assert_int_equal(store_read(f->st, s_walk_fn, &w2), 0);
    assert_int_equal(w1.b.n, w2.b.n);
    qsort(w1.b.ids, (size_t)w1.b.n, sizeof w1.b.ids[0], s_name_cmp);
    qsort(w2.b.ids, (size_t)w2.b.n, sizeof w2.b.ids[0], s_name_cmp);
    for (int i = 0; i < w1.b.n; i++)
        assert_string_equal(w1.b.ids[i], w2.b.ids[i]);
}

/* A map too small for the writes: store_write aborts, grows the map and
 * runs the unit of work again; memory must follow the second run only. */
static void test_map_growth_retry(void **state)
{
    s_fix_t *f = *state;
    store_destroy(&f->st);
    nftw(f->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    f->st = s_open(f->dir, (size_t)1 << 16); /* 64 KiB: fills within a few transactions */
    store_stats_t ss0, ss1;
    assert_int_equal(store_read(f->st, s_stats_fn, &ss0), 0);
    for (uint64_t seed = 1; seed <= 60; seed++) {
        s_work_t w = {.seed = seed, .n = 40};
        assert_int_equal(store_write(f->st, s_work, &w), 0);
        s_verify(f->st);
    }
    assert_int_equal(store_read(f->st, s_stats_fn, &ss1), 0);
    assert_true(ss1.map_bytes > ss0.map_bytes); /* the retry path did run */
    assert_true(ss1.near_postings > 0);
    assert_true(ss1.memory_bytes > 0);
    s_walks_agree(f->st);
}

/* A walk hands each entity's list meta over when the store holds it in
 * memory, and it is what the stored list says: inside the transaction
 * that wrote the lists, after it committed, after another one that
 * rewrote them aborted, and in a store opened again (filled from the
 * lists at open). */
typedef struct {
    s_walk_t *w;
    int salt; /* list contents depend on it */
    int fail;
    int checked;
} s_lists_t;

static void s_list_of(int i, int salt, store_list_t *l)
{
    memset(l, 0, sizeof *l);
    l->n = (uint16_t)((i + salt) % 4);
    l->exhaustive = (uint8_t)((i + salt) % 3 == 0);
    for (unsigned j = 0; j < l->n; j++) {
        snprintf(l->e[j].id, sizeof l->e[j].id, "v-%u", (unsigned)(j + (unsigned)salt) % S_VACS);
        l->e[j].micro = 900000u - 1000u * j - (uint32_t)(i * 7 + salt);
    }
}

/* Every entity named by b whose meta the walk gave has that meta in the
 * stored list itself (read from the table, not from memory). */
static void s_meta_agree(store_txn_t *txn, const s_names_t *b, int *checked)
{
    static store_list_t l;
    for (int i = 0; i < b->n; i++) {
        if (!b->known[i])
            continue;
        assert_int_equal(store_list_get(txn, STORE_ENTITY_GRADUATE, b->ids[i], &l), 0);
        assert_int_equal(b->meta[i].n, l.n);
        assert_int_equal(b->meta[i].exhaustive, l.exhaustive);
        assert_int_equal(b->meta[i].last_micro, l.n ? l.e[l.n - 1].micro : 0);
        (*checked)++;
    }
}

static int s_lists_fn(store_txn_t *txn, void *arg)
{
    s_lists_t *x = arg;
    s_walk_fn(txn, x->w);
    assert_int_equal(x->w->rc_b, 0);
    s_names_t names = x->w->b;
    for (int i = 0; i < names.n; i++) {
        static store_list_t l;
        s_list_of(i, x->salt, &l);
        assert_int_equal(store_list_put(txn, STORE_ENTITY_GRADUATE, names.ids[i], &l), 0);
    }
    s_walk_fn(txn, x->w); /* the walk sees the transaction's own lists */
    assert_int_equal(x->w->b.n, names.n);
    for (int i = 0; i < x->w->b.n; i++)
        assert_true(x->w->b.known[i]);
    s_meta_agree(txn, &x->w->b, &x->checked);
    return x->fail;
}

static int s_meta_fn(store_txn_t *txn, void *arg)
{
    s_lists_t *x = arg;
    s_walk_fn(txn, x->w);
    s_meta_agree(txn, &x->w->b, &x->checked);
    return 0;
}

static void test_walk_list_meta(void **state)
{
    s_fix_t *f = *state;
    static s_walk_t w;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        s_work_t wk = {.seed = seed, .n = 8};
        assert_int_equal(store_write(f->st, s_work, &wk), 0);
    }
    s_walk_kind = STORE_ENTITY_GRADUATE;
    s_keys(&w, 43);
    s_lists_t put = {&w, 1, 0, 0};
    assert_int_equal(store_write(f->st, s_lists_fn, &put), 0);
    assert_true(w.b.n >= 5); /* graduates were named, with lists */
    s_lists_t after = {&w, 0, 0, 0};
    assert_int_equal(store_read(f->st, s_meta_fn, &after), 0);
    assert_int_equal(after.checked, w.b.n); /* known for all, as committed */

    s_lists_t lost = {&w, 2, STORE_EINVAL, 0};
    assert_int_equal(store_write(f->st, s_lists_fn, &lost), STORE_EINVAL);
    s_lists_t kept = {&w, 0, 0, 0};
    assert_int_equal(store_read(f->st, s_meta_fn, &kept), 0);
    assert_int_equal(kept.checked, w.b.n); /* the committed metas, not the aborted ones */

    store_destroy(&f->st);
    f->st = s_open(f->dir, 0);
    s_lists_t cold = {&w, 0, 0, 0};
    assert_int_equal(store_read(f->st, s_meta_fn, &cold), 0);
    assert_int_equal(cold.checked, w.b.n); /* read from the lists at open, before any list read */
}

/* ---- the contract and licence filters of a walk ------------------------- */

/* What the engine's hard filters say of a graduate and a vacancy's heads
 * (engine.c s_head_ok), written out again. */
static int s_pair_ok(const store_head_t *g, const store_head_t *v)
{
    if (g->contracts && !(g->contracts & (1u << v->contract)))
        return 0;
    return !(v->licence && !g->licence);
}

typedef struct {
    int n;
    char ids[S_GRADS + S_VACS][16];
    store_head_t heads[S_GRADS + S_VACS];
} s_heads_t;

static int s_heads_cb(const char *id, size_t len, const store_head_t *h,
                      const store_list_meta_t *list, void *arg)
{
    (void)list;
    s_heads_t *o = arg;
    assert_true(o->n < S_GRADS + S_VACS && len < sizeof o->ids[0]);
    memcpy(o->ids[o->n], id, len);
    o->ids[o->n][len] = '\0';
    o->heads[o->n++] = *h;
    return 0;
}

typedef struct {
    s_walk_t *w;
    int walkers, left_out, kept;
} s_filter_t;

/* Every open entity of one side walks the other side's keys with and
 * without its filters: the filtered walk names exactly the unfiltered
 * one's entities that pass the hard filters with the walker. */
static int s_filter_fn(store_txn_t *txn, void *arg)
{
    s_filter_t *f = arg;
    static s_heads_t all, some;
    char id[16];
    for (int kind = 0; kind < 2; kind++) {
        int grad = kind == 0;
        store_entity_kind_t ix = grad ? STORE_ENTITY_VACANCY : STORE_ENTITY_GRADUATE;
        for (int i = 0; i < (grad ? S_GRADS : S_VACS); i++) {
            store_head_t me;
            snprintf(id, sizeof id, "%s-%d", grad ? "g" : "v", i);
            store_entity_kind_t k = grad ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
            if (store_entity_head(txn, k, id, &me) != 0 || me.state != STORE_STATE_OPEN)
                continue;
            static store_graduate_t g;
            static store_vacancy_t v;
            assert_int_equal(
                grad ? store_graduate_get(txn, id, &g) : store_vacancy_get(txn, id, &v), 0);
            store_near_from_t from, plain;
            store_near_from(&from, k, grad ? (const void *)&g : (const void *)&v);
            assert_true(from.lat == me.lat && from.lon == me.lon);
            from.max_km = HUGE_VAL; /* only the partners' own limits: more partners to filter */
            plain = from;           /* the same point and limits: the same distance test */
            plain.contracts = 0;
            plain.licence = 0;
            all.n = some.n = 0;
            assert_int_equal(store_near_each(txn, ix, f->w->keys, f->w->lens, f->w->n, &plain, NULL,
                                             s_heads_cb, &all),
                             0);
            assert_int_equal(store_near_each(txn, ix, f->w->keys, f->w->lens, f->w->n, &from, NULL,
                                             s_heads_cb, &some),
                             0);
            int j = 0;
            for (int a = 0; a < all.n; a++) {
                int ok = grad ? s_pair_ok(&me, &all.heads[a]) : s_pair_ok(&all.heads[a], &me);
                if (!ok) {
                    f->left_out++;
                    continue;
                }
                f->kept++;
                /* walks name entities in the postings' order, filtered or not */
                assert_true(j < some.n);
                assert_string_equal(some.ids[j], all.ids[a]);
                j++;
            }
            assert_int_equal(j, some.n);
            f->walkers++;
        }
    }
    return 0;
}

static void test_walk_filters(void **state)
{
    s_fix_t *f = *state;
    static s_walk_t w;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        s_work_t wk = {.seed = seed, .n = 8};
        assert_int_equal(store_write(f->st, s_work, &wk), 0);
    }
    s_filter_t flt = {&w, 0, 0, 0};
    for (size_t l = 0; l < S_N(s_lats); l++) {
        s_keys(&w, (int)s_lats[l]);
        assert_int_equal(store_read(f->st, s_filter_fn, &flt), 0);
    }
    /* enough of each outcome for the comparison to mean something */
    printf("walk filters: %d walkers, %d partners kept, %d left out\n", flt.walkers, flt.kept,
           flt.left_out);
    assert_true(flt.walkers >= 100);
    assert_true(flt.left_out >= 100);
    assert_true(flt.kept >= 100);
}

/* ---- memory that runs short -------------------------------------------------- */

/* This program is linked with --wrap for malloc, calloc and realloc
 * (tests/CMakeLists.txt): every allocation of the store's code and of this
 * file goes through the wrappers below (LMDB's own, in its shared library,
 * do not). Once s_fail_in allocations have been made, every later one
 * fails, until the test lets them succeed again. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long s_fail_in = -1; /* allocations left before they fail; -1: none fails */
static long s_refused;      /* allocations refused */

static int s_refuse(void)
{
    if (s_fail_in < 0)
        return 0;
    if (s_fail_in > 0) {
        s_fail_in--;
        return 0;
    }
    s_refused++;
    return 1;
}

void *__wrap_malloc(size_t n)
{
    return s_refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return s_refuse() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return s_refuse() ? NULL : __real_realloc(p, n);
}

/* New graduates and vacancies under codes nobody had (new lists, longer
 * arrays, new places), moves of some of them, and erasures: a write that
 * allocates all along. Their codes are not the walks' (s_keys), so the
 * walks' oracle, which reads only the usual ids, still sees every entity
 * a walk names. */
typedef struct {
    int round;
    int n;
} s_alloc_work_t;

static int s_alloc_work(store_txn_t *txn, void *arg)
{
    const s_alloc_work_t *a = arg;
    static store_graduate_t g;
    static store_vacancy_t v;
    int rc = 0;
    for (int i = 0; i < a->n && rc == 0; i++) {
        memset(&g, 0, sizeof g);
        snprintf(g.id, sizeof g.id, "m-%d", i);
        snprintf(g.school, sizeof g.school, "school-1");
        g.version = s_version++;
        g.state = STORE_STATE_OPEN;
        g.radius_km = 30;
        g.home.has_point = 1;
        g.home.lat = 40.5 + (i % 2); /* two cells: long lists, grown many times */
        g.home.lon = -1.5 + (i % 2);
        g.n_skills = 6; /* 1,200 postings: the undo log grows within the transaction */
        for (unsigned j = 0; j < g.n_skills; j++)
            snprintf(g.skills[j].code, sizeof g.skills[j].code, "oom-%d-%d", a->round,
                     (i * 3 + (int)j) % 11);
        rc = store_graduate_put(txn, &g);
        if (rc == 0 && i % 4 == 0) {
            memset(&v, 0, sizeof v);
            snprintf(v.id, sizeof v.id, "w-%d", i);
            snprintf(v.employer, sizeof v.employer, "12345678900011");
            v.version = s_version++;
            v.state = STORE_STATE_OPEN;
            v.contract = STORE_CONTRACT_CDI;
            v.positions = 1;
            v.site = g.home;
            v.n_required = 2;
            snprintf(v.required[0].code, sizeof v.required[0].code, "oom-%d-%d", a->round, i);
            snprintf(v.required[1].code, sizeof v.required[1].code, "oom-v-%d", i);
            rc = store_vacancy_put(txn, &v);
        }
        if (rc == 0 && i % 5 == 4) {
            char id[16];
            snprintf(id, sizeof id, "m-%d", i - 2);
            rc = store_graduate_erase(txn, id);
        }
    }
    return rc;
}

static int s_nothing(store_txn_t *txn, void *arg)
{
    (void)txn;
    (void)arg;
    return 0;
}

/* Each allocation of a write transaction in turn is the first to fail:
 * the transaction fails with STORE_ENOMEM (or commits, when the write
 * needed fewer), and the places index is then exactly what the committed
 * records call for, walks included; the next write finds it whole. The
 * same for the build at open: a store that cannot build the index does
 * not open, and opens once memory is back. */
static void test_memory_short(void **state)
{
    s_fix_t *f = *state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        s_work_t w = {.seed = seed, .n = 8};
        assert_int_equal(store_write(f->st, s_work, &w), 0);
    }
    uint64_t before = s_verify(f->st);
    int short_txns = 0, round = 0;
    for (long k = 0;; k++, round++) {
        s_alloc_work_t a = {round, 200};
        s_refused = 0;
        s_fail_in = k;
        int rc = store_write(f->st, s_alloc_work, &a);
        s_fail_in = -1;
        if (s_refused == 0) { /* the write needed fewer than k allocations */
            assert_int_equal(rc, 0);
            break;
        }
        if (rc != STORE_ENOMEM)
            fail_msg("allocation %ld refused: store_write gave %d", k, rc);
        short_txns++;
        assert_int_equal(store_write(f->st, s_nothing, NULL), 0);
        assert_int_equal(s_verify(f->st), before); /* nothing of the work stayed */
        if (k % 16 == 0)
            s_walks_agree(f->st);
    }
    printf("memory short: %d write transactions given up, one per allocation\n", short_txns);
    assert_true(short_txns >= 20);
    uint64_t after = s_verify(f->st);
    assert_true(after > before); /* the last round committed, and is filed */
    s_walks_agree(f->st);

    int refused_opens = 0;
    store_destroy(&f->st);
    for (long k = 0;; k++) {
        store_options_t o = {0};
        int err = 0;
        s_refused = 0;
        s_fail_in = k;
        f->st = store_new(f->dir, &o, &err);
        s_fail_in = -1;
        if (f->st != NULL && s_refused == 0)
            break;
        if (f->st != NULL)
            fail_msg("allocation %ld refused, yet the store opened", k);
        assert_int_equal(err, STORE_ENOMEM);
        refused_opens++;
    }
    printf("memory short: %d opens refused\n", refused_opens);
    assert_true(refused_opens >= 5);
    assert_int_equal(s_verify(f->st), after);
    s_walks_agree(f->st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_changes_commits_and_aborts, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_abort_restores_walks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_growth_retry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_walk_list_meta, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_walk_filters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_memory_short, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
