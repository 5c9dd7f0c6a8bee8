/* test_store.c - unit tests of store/: opening and refusing stores, the
 * event log and dedupe table, entities and their index entries, ranked
 * lists and their membership index, the match log, meta strings, erasure,
 * counters, map growth and the STORE_EFULL limit, aborted writes and
 * damaged records. Each test gets a fresh directory under /tmp, removed in
 * teardown. Tests that damage a store on purpose use LMDB directly. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store.h"
#include "store_v2.h"
#include "store_codec.h"

/* ---- fixture ------------------------------------------------------------- */

typedef struct {
    char dir[64];
    store_t *st;
} fx_t;

static char s_logs[65536]; /* every line the store logged in this test */

static void s_capture(int level, const char *msg)
{
    size_t used = strlen(s_logs);
    (void)snprintf(s_logs + used, sizeof s_logs - used, "%d %s\n", level, msg);
    if (getenv("TEST_STORE_VERBOSE") != NULL)
        fprintf(stderr, "[log %d] %s\n", level, msg);
}

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    (void)snprintf(fx->dir, sizeof fx->dir, "/tmp/test_store.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    s_logs[0] = '\0';
    store_set_logger(s_capture);
    *state = fx;
    return 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->st);
    int rc = nftw(fx->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return rc;
}

/* PASSERELLE_TEST_WRITEMAP set: every store is opened with a writable
 * map (the daemon's default), so that the whole file runs in both modes. */
static int s_writemap;

static store_t *s_open(const fx_t *fx, size_t map, size_t max, int *err)
{
    store_options_t opts = {.map_bytes = map, .map_max_bytes = max, .writemap = s_writemap};
    return store_new(fx->dir, &opts, err);
}

static void s_reopen(fx_t *fx, size_t map, size_t max)
{
    int err = 0;
    store_destroy(&fx->st);
    assert_null(fx->st);
    fx->st = s_open(fx, map, max, &err);
    assert_non_null(fx->st);
    assert_int_equal(err, 0);
}

/* ---- raw LMDB, to damage a closed store on purpose ---------------------- */

/* Open the file that holds table of the store in dir: lists.mdb for the
 * ranked lists and their membership, data.mdb for the rest. */
static void s_raw_env_open(MDB_env *env, const char *dir, const char *table, unsigned flags)
{
    char path[4096];
    if (strcmp(table, "lists") == 0 || strcmp(table, "list_members") == 0) {
        (void)snprintf(path, sizeof path, "%s/lists.mdb", dir);
        assert_int_equal(mdb_env_open(env, path, flags | MDB_NOSUBDIR, 0600), 0);
    } else {
        assert_int_equal(mdb_env_open(env, dir, flags, 0600), 0);
    }
}

static void s_raw_put(const char *dir, const char *table, const void *k, size_t klen, const void *v,
                      size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    s_raw_env_open(env, dir, table, 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* ---- record builders ------------------------------------------------------ */

static void s_graduate(store_graduate_t *g, const char *id, int64_t version, uint8_t state,
                       const char *const *skills, const char *const *rncps, double lat, double lon)
{
    memset(g, 0, sizeof *g);
    (void)snprintf(g->id, sizeof g->id, "%s", id);
    (void)snprintf(g->school, sizeof g->school, "school-0420");
    g->version = version;
    g->state = state;
    g->licence = 1;
    g->skills_inferred = 1;
    g->contracts = (1u << STORE_CONTRACT_CDI) | (1u << STORE_CONTRACT_APPRENTICESHIP);
    g->radius_km = 42;
    g->available_from = 19876;
    g->home.lat = lat;
    g->home.lon = lon;
    g->home.has_point = 1;
    (void)snprintf(g->home.commune, sizeof g->home.commune, "2A004");
    for (; rncps != NULL && *rncps != NULL; rncps++) {
        store_cert_t *c = &g->certs[g->n_certs++];
        c->kind = STORE_CERT_BAC_PRO;
        c->level = 4;
        c->obtained = 19000 + g->n_certs;
        (void)snprintf(c->rncp, sizeof c->rncp, "%s", *rncps);
    }
    for (; skills != NULL && *skills != NULL; skills++) {
        store_skill_t *s = &g->skills[g->n_skills++];
        (void)snprintf(s->code, sizeof s->code, "%s", *skills);
        s->weight = 1.0f / (float)g->n_skills;
    }
}

static void s_vacancy(store_vacancy_t *v, const char *id, int64_t version, uint8_t state,
                      const char *const *required, const char *const *desirable,
                      const char *const *romes, const char *const *rncps)
{
    memset(v, 0, sizeof *v);
    (void)snprintf(v->id, sizeof v->id, "%s", id);
    (void)snprintf(v->employer, sizeof v->employer, "35600000000048");
    v->version = version;
    v->state = state;
    v->sector = 2;
    v->contract = STORE_CONTRACT_CDD;
    v->licence_required = 1;
    v->min_level = 3;
    v->max_distance_km = 80;
    v->positions = 3;
    v->start_date = 20000;
    v->expires_on = 20100;
    v->site.lat = 43.6;
    v->site.lon = 1.44;
    v->site.has_point = 1;
    for (; required != NULL && *required != NULL; required++) {
        store_skill_t *s = &v->required[v->n_required++];
        (void)snprintf(s->code, sizeof s->code, "%s", *required);
        s->weight = 2.5f;
    }
    for (; desirable != NULL && *desirable != NULL; desirable++) {
        store_skill_t *s = &v->desirable[v->n_desirable++];
        (void)snprintf(s->code, sizeof s->code, "%s", *desirable);
        s->weight = 0.5f;
    }
    for (; romes != NULL && *romes != NULL; romes++)
        (void)snprintf(v->romes[v->n_romes++], sizeof v->romes[0], "%s", *romes);
    for (; rncps != NULL && *rncps != NULL; rncps++)
        (void)snprintf(v->rncps[v->n_rncps++], sizeof v->rncps[0], "%s", *rncps);
}

/* ---- units of work and their wrappers --------------------------------------- */

static int s_fn_put_g(store_txn_t *txn, void *arg)
{
    return store_graduate_put(txn, arg);
}

static int s_fn_put_v(store_txn_t *txn, void *arg)
{
    return store_vacancy_put(txn, arg);
}

static int s_fn_erase_g(store_txn_t *txn, void *arg)
{
    return store_graduate_erase(txn, arg);
}

static int s_fn_erase_v(store_txn_t *txn, void *arg)
{
    return store_vacancy_erase(txn, arg);
}

static int s_put_g(store_t *st, const store_graduate_t *g)
{
    return store_write(st, s_fn_put_g, (void *)g);
}

static int s_put_v(store_t *st, const store_vacancy_t *v)
{
    return store_write(st, s_fn_put_v, (void *)v);
}

typedef struct {
    const char *id;
    store_graduate_t g;
    store_vacancy_t v;
} get_arg_t;

static int s_fn_get_g(store_txn_t *txn, void *arg)
{
    get_arg_t *a = arg;
    return store_graduate_get(txn, a->id, &a->g);
}

static int s_fn_get_v(store_txn_t *txn, void *arg)
{
    get_arg_t *a = arg;
    return store_vacancy_get(txn, a->id, &a->v);
}

static int s_get_g(store_t *st, const char *id, store_graduate_t *out)
{
    static get_arg_t a;
    a.id = id;
    int rc = store_read(st, s_fn_get_g, &a);
    memcpy(out, &a.g, sizeof *out);
    return rc;
}

static int s_get_v(store_t *st, const char *id, store_vacancy_t *out)
{
    static get_arg_t a;
    a.id = id;
    int rc = store_read(st, s_fn_get_v, &a);
    memcpy(out, &a.v, sizeof *out);
    return rc;
}

typedef struct {
    store_entity_kind_t who;
    const void *key;
    size_t len;
    size_t n;
} count_arg_t;

static int s_fn_count(store_txn_t *txn, void *arg)
{
    count_arg_t *a = arg;
    a->n = store_near_count(txn, a->who, a->key, a->len);
    return 0;
}

/* Entities of kind who under code (of kind STORE_NEAR_*) in the coarse
 * cell of (lat, lon) of the places index. */
static size_t s_near(store_t *st, store_entity_kind_t who, double lat, double lon, char kind,
                     const char *code)
{
    uint8_t key[STORE_NEAR_KEY_MAX];
    int row, col;
    store_near_cell(lat, lon, &row, &col);
    count_arg_t a = {who, key, store_near_key(row, col, kind, code, key), 0};
    assert_int_equal(store_read(st, s_fn_count, &a), 0);
    return a.n;
}

/* The places of the tests' entities. */
#define LYON  45.76, 4.83
#define TLSE  43.6, 1.44
#define PARIS 48.85, 1.44

typedef struct {
    store_event_t ev;
    uint64_t seq;
} append_arg_t;

static int s_fn_append(store_txn_t *txn, void *arg)
{
    append_arg_t *a = arg;
    a->seq = 0;
    return store_log_append(txn, &a->ev, &a->seq);
}

static int s_append(store_t *st, const char *event_id, char kind, const char *entity,
                    const void *payload, size_t len, uint64_t *seq)
{
    append_arg_t a = {{0}, 0};
    a.ev.type = kind == 'g' ? STORE_EV_GRADUATE_UPSERT : STORE_EV_VACANCY_UPSERT;
    a.ev.entity_kind = (uint8_t)kind;
    a.ev.occurred_ms = 1700000000000;
    a.ev.received_ms = 1700000000123;
    a.ev.source = "ecole-prod-lyon";
    a.ev.event_id = event_id;
    a.ev.entity_id = entity;
    a.ev.payload = payload;
    a.ev.payload_len = len;
    int rc = store_write(st, s_fn_append, &a);
    if (seq != NULL)
        *seq = a.seq;
    return rc;
}

/* A copy of a log entry, taken inside the read transaction. */
typedef struct {
    uint64_t seq;
    int rc;
    store_event_t ev;
    char source[128], event_id[128], entity_id[128];
    uint8_t payload[65536];
} log_copy_t;

static int s_fn_log_get(store_txn_t *txn, void *arg)
{
    log_copy_t *c = arg;
    c->rc = store_log_get(txn, c->seq, &c->ev);
    if (c->rc != 0)
        return c->rc;
    (void)snprintf(c->source, sizeof c->source, "%s", c->ev.source);
    (void)snprintf(c->event_id, sizeof c->event_id, "%s", c->ev.event_id);
    (void)snprintf(c->entity_id, sizeof c->entity_id, "%s", c->ev.entity_id);
    assert_true(c->ev.payload_len <= sizeof c->payload);
    memcpy(c->payload, c->ev.payload, c->ev.payload_len);
    return 0;
}

static log_copy_t s_log; /* big: static, not on the stack */

static int s_log_get(store_t *st, uint64_t seq)
{
    memset(&s_log, 0, sizeof s_log);
    s_log.seq = seq;
    return store_read(st, s_fn_log_get, &s_log);
}

typedef struct {
    const char *source, *event_id;
    uint64_t seq;
    uint64_t last;
} dedupe_arg_t;

static int s_fn_dedupe(store_txn_t *txn, void *arg)
{
    dedupe_arg_t *a = arg;
    a->last = store_log_last(txn);
    return store_dedupe_get(txn, a->source, a->event_id, &a->seq);
}

static int s_fn_stats(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

static store_stats_t s_stats(store_t *st)
{
    store_stats_t out;
    assert_int_equal(store_read(st, s_fn_stats, &out), 0);
    return out;
}

static const char *const G_SKILLS1[] = {"soudage-tig", "lecture-plan", NULL};
static const char *const G_RNCPS1[] = {"RNCP27470", "", NULL};
static const char *const G_ROMES1[] = {"H2913", "H2902", NULL};

/* Replace g's ROME codes with the NULL-terminated romes. */
static void s_romes(store_graduate_t *g, const char *const *romes)
{
    memset(g->romes, 0, sizeof g->romes);
    for (g->n_romes = 0; romes != NULL && *romes != NULL; romes++)
        (void)snprintf(g->romes[g->n_romes++], sizeof g->romes[0], "%s", *romes);
}

/* ---- opening ------------------------------------------------------------------ */

static void test_create_reopen_keeps_data(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    uint64_t seq;
    int err = -99;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    assert_int_equal(err, 0);
    s_graduate(&g, "g-1", 10, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_append(fx->st, "ev-1", 'g', "g-1", "abc", 3, &seq), 0);
    assert_int_equal(seq, 1);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_memory_equal(&g, &got, sizeof g);
    assert_int_equal(s_log_get(fx->st, 1), 0);
    assert_memory_equal(s_log.payload, "abc", 3);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 1);
    assert_int_equal(s.events, 1);
    assert_int_equal(s.map_bytes, 64u << 20);
}

static void test_read_only_open(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    int err = 0;
    store_options_t ro = {.read_only = 1};
    assert_null(store_new(fx->dir, &ro, &err)); /* nothing there yet */
    assert_int_equal(err, STORE_ENOTFOUND);
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-ro", 1, STORE_STATE_OPEN, G_SKILLS1, NULL, 1.0, 1.0);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    store_destroy(&fx->st);
    fx->st = store_new(fx->dir, &ro, &err);
    assert_non_null(fx->st);
    assert_int_equal(s_get_g(fx->st, "g-ro", &got), 0);
    assert_int_equal(s_get_g(fx->st, "g-ro", &got), 0); /* renewed read txn */
    assert_int_equal(s_put_g(fx->st, &g), STORE_EINVAL);
}

static void test_version_refused(void **state)
{
    fx_t *fx = *state;
    uint8_t seven[4] = {7, 0, 0, 0};
    int err = 0;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    store_destroy(&fx->st);
    s_raw_put(fx->dir, "meta", "format", 6, seven, sizeof seven);
    assert_null(s_open(fx, 0, 0, &err));
    assert_int_equal(err, STORE_EVERSION);
    assert_non_null(strstr(s_logs, "on-disk format version 7, this matcherd understands "
                                   "version 5 (the store was written by a newer matcherd); "
                                   "refusing to open it"));
    assert_non_null(strstr(s_logs, fx->dir));
}

static void test_garbage_file_refused(void **state)
{
    fx_t *fx = *state;
    char path[128], junk[8192];
    int err = 0;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    (void)snprintf(path, sizeof path, "%s/data.mdb", fx->dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    assert_int_equal(fclose(f), 0);
    assert_null(s_open(fx, 0, 0, &err));
    assert_int_equal(err, STORE_ECORRUPT);
    assert_non_null(strstr(s_logs, "not an LMDB environment"));
}

static void test_second_open_busy(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g;
    int err = 0;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    assert_null(s_open(fx, 0, 0, &err));
    assert_int_equal(err, STORE_EBUSY);
    assert_non_null(strstr(s_logs, "another process uses the store"));
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, NULL, NULL, 0, 0);
    assert_int_equal(s_put_g(fx->st, &g), 0); /* the first one still works */
    s_reopen(fx, 0, 0);                       /* and the lock goes with it */
}

/* ---- log and dedupe ------------------------------------------------------------ */

static void test_log_dedupe(void **state)
{
    fx_t *fx = *state;
    uint8_t payload[300];
    uint64_t seq1, seq2;
    int err;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i; /* includes NUL bytes */
    fx->st = s_open(fx, 0, 0, &err);
    assert_int_equal(s_append(fx->st, "ev-1", 'g', "g-1", payload, sizeof payload, &seq1), 0);
    assert_int_equal(s_append(fx->st, "ev-2", 'v', "v-1", NULL, 0, &seq2), 0);
    assert_int_equal(seq1, 1);
    assert_int_equal(seq2, 2);
    dedupe_arg_t d = {"ecole-prod-lyon", "ev-1", 0, 0};
    assert_int_equal(store_read(fx->st, s_fn_dedupe, &d), 0);
    assert_int_equal(d.seq, 1);
    assert_int_equal(d.last, 2);
    d.event_id = "ev-3";
    assert_int_equal(store_read(fx->st, s_fn_dedupe, &d), STORE_ENOTFOUND);
    /* the same pair again is refused, and nothing of it is stored */
    assert_int_equal(s_append(fx->st, "ev-1", 'g', "g-1", "x", 1, NULL), STORE_EINVAL);
    assert_int_equal(s_stats(fx->st).events, 2);
    /* round trip of every field */
    assert_int_equal(s_log_get(fx->st, 1), 0);
    assert_int_equal(s_log.ev.seq, 1);
    assert_int_equal(s_log.ev.type, STORE_EV_GRADUATE_UPSERT);
    assert_int_equal(s_log.ev.entity_kind, STORE_ENTITY_GRADUATE);
    assert_int_equal(s_log.ev.occurred_ms, 1700000000000);
    assert_int_equal(s_log.ev.received_ms, 1700000000123);
    assert_string_equal(s_log.source, "ecole-prod-lyon");
    assert_string_equal(s_log.event_id, "ev-1");
    assert_string_equal(s_log.entity_id, "g-1");
    assert_int_equal(s_log.ev.payload_len, sizeof payload);
    assert_memory_equal(s_log.payload, payload, sizeof payload);
    assert_int_equal(s_log_get(fx->st, 2), 0);
    assert_int_equal(s_log.ev.payload_len, 0);
    assert_int_equal(s_log_get(fx->st, 3), STORE_ENOTFOUND);
}

static void test_log_bad_arguments(void **state)
{
    fx_t *fx = *state;
    char big[402];
    int err;
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fx->st = s_open(fx, 0, 0, &err);
    assert_int_equal(s_append(fx->st, big, 'g', "g-1", NULL, 0, NULL), STORE_EINVAL);
    assert_int_equal(s_append(fx->st, "ev", 'x', "g-1", NULL, 0, NULL), STORE_EINVAL);
    assert_int_equal(s_append(fx->st, "ev", 'g', "g", NULL, 5, NULL), STORE_EINVAL);
    dedupe_arg_t d = {"ecole-prod-lyon", big, 0, 0};
    assert_int_equal(store_read(fx->st, s_fn_dedupe, &d), STORE_EINVAL);
    assert_int_equal(s_stats(fx->st).events, 0);
    /* an empty entity id files the event under nobody (erasures) */
    assert_int_equal(s_append(fx->st, "ev", 'g', "", NULL, 0, NULL), 0);
    assert_int_equal(s_stats(fx->st).events, 1);
}

/* ---- graduates ------------------------------------------------------------------- */

static void test_graduate_round_trip(void **state)
{
    fx_t *fx = *state;
    static store_graduate_t g, got;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-full", -5, STORE_STATE_OPEN, NULL, NULL, -21.1151, 55.5364);
    /* every array full, every string at its maximum */
    memset(g.id, 'i', STORE_ID_MAX);
    g.id[STORE_ID_MAX] = '\0';
    memset(g.school, 's', STORE_ID_MAX);
    g.n_certs = STORE_CERTS_MAX;
    for (int i = 0; i < STORE_CERTS_MAX; i++) {
        g.certs[i].kind = (uint8_t)(i % 5);
        g.certs[i].level = (uint8_t)(3 + i % 6);
        g.certs[i].obtained = -i;
        (void)snprintf(g.certs[i].rncp, sizeof g.certs[i].rncp, "RNCP%011d", i);
    }
    g.n_skills = STORE_SKILLS_MAX;
    for (int i = 0; i < STORE_SKILLS_MAX; i++) {
        memset(g.skills[i].code, 'a' + i % 26, STORE_SKILL_MAX);
        g.skills[i].code[0] = (char)('0' + i / 10);
        g.skills[i].code[1] = (char)('0' + i % 10);
        g.skills[i].weight = (float)i * 0.25f;
    }
    g.n_romes = STORE_ROMES_MAX;
    for (int i = 0; i < STORE_ROMES_MAX; i++)
        (void)snprintf(g.romes[i], sizeof g.romes[i], "R%014d", i);
    g.contracts = 0xdeadbeef;
    g.radius_km = -1;
    g.available_from = INT32_MIN;
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_get_g(fx->st, g.id, &got), 0);
    assert_memory_equal(&g, &got, sizeof g);
    assert_int_equal(s_get_g(fx->st, "nobody", &got), STORE_ENOTFOUND);
    /* out-of-bounds records are refused, not truncated */
    g.n_skills = STORE_SKILLS_MAX + 1;
    assert_int_equal(s_put_g(fx->st, &g), STORE_EINVAL);
    g.n_skills = STORE_SKILLS_MAX;
    g.n_romes = STORE_ROMES_MAX + 1;
    assert_int_equal(s_put_g(fx->st, &g), STORE_EINVAL);
    g.n_romes = 1;
    memset(g.romes[0], 'r', sizeof g.romes[0]); /* no NUL inside the array */
    assert_int_equal(s_put_g(fx->st, &g), STORE_EINVAL);
}

typedef struct {
    store_graduate_t g;
    uint64_t writes[4]; /* at the start, after a put, after an erase, after a read */
    int full[4];
} writes_arg_t;

static int s_fn_count_writes(store_txn_t *txn, void *arg)
{
    writes_arg_t *a = arg;
    store_graduate_t got;
    a->writes[0] = store_txn_writes(txn);
    a->full[0] = store_txn_full(txn);
    int rc = store_graduate_put(txn, &a->g);
    a->writes[1] = store_txn_writes(txn);
    a->full[1] = store_txn_full(txn);
    if (rc == 0)
        rc = store_graduate_erase(txn, a->g.id);
    a->writes[2] = store_txn_writes(txn);
    a->full[2] = store_txn_full(txn);
    if (rc == 0)
        rc = store_graduate_get(txn, a->g.id, &got) == STORE_ENOTFOUND ? 0 : STORE_EINTERNAL;
    a->writes[3] = store_txn_writes(txn);
    a->full[3] = store_txn_full(txn);
    return rc;
}

static int s_fn_read_writes(store_txn_t *txn, void *arg)
{
    writes_arg_t *a = arg;
    a->writes[0] = store_txn_writes(txn);
    a->full[0] = store_txn_full(txn);
    return store_graduate_get(txn, a->g.id, &a->g) == STORE_ENOTFOUND ? 0 : STORE_EINTERNAL;
}

/* A write transaction counts its B-tree writes, puts and deletes, from
 * zero, reads count nothing, and it is full once the count reaches the
 * store's txn_writes; writes past it still succeed. */
static void test_txn_writes_counted(void **state)
{
    fx_t *fx = *state;
    static writes_arg_t a;
    static const char *const skills[] = {"100001", "100002", "100003", NULL};
    int err = 0;
    store_options_t opts = {.writemap = s_writemap, .txn_writes = 6};
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    s_graduate(&a.g, "g-count", 1, STORE_STATE_OPEN, skills, NULL, 43.2328, 0.0781);
    for (int round = 0; round < 2; round++) { /* the second starts from zero again */
        memset(a.writes, 0xff, sizeof a.writes);
        assert_int_equal(store_write(fx->st, s_fn_count_writes, &a), 0);
        assert_int_equal(a.writes[0], 0);
        assert_int_equal(a.full[0], 0);
        /* the record and its two counters: the places index is in memory */
        assert_true(a.writes[1] >= 3);
        assert_true(a.writes[2] > a.writes[1]);
        assert_int_equal(a.full[2], 1);
        assert_int_equal(a.writes[3], a.writes[2]);
        assert_int_equal(a.full[1], a.writes[1] >= 6);
    }
    a.writes[0] = 99;
    a.full[0] = 99;
    assert_int_equal(store_read(fx->st, s_fn_read_writes, &a), 0);
    assert_int_equal(a.writes[0], 0);
    assert_int_equal(a.full[0], 0);
}

typedef struct {
    uint64_t first, twenty, big; /* writes after 1 and 20 small appends, then a large one */
} appends_arg_t;

static int s_fn_count_appends(store_txn_t *txn, void *arg)
{
    appends_arg_t *a = arg;
    static uint8_t payload[20000];
    char id[32];
    uint64_t seq;
    int rc = 0;
    for (int i = 0; rc == 0 && i < 21; i++) {
        (void)snprintf(id, sizeof id, "ev-append-%d", i);
        store_event_t ev = {0,       STORE_EV_GRADUATE_UPSERT,     'g', 1, 2, "src", id, "g-x",
                            payload, i < 20 ? 100 : sizeof payload};
        rc = store_log_append(txn, &ev, &seq);
        if (i == 0)
            a->first = store_txn_writes(txn);
        else if (i == 19)
            a->twenty = store_txn_writes(txn);
        else if (i == 20)
            a->big = store_txn_writes(txn);
    }
    return rc;
}

/* Appends to the event log count by the pages they fill: twenty small
 * events add their other rows (dedupe, entity log) and a page or two for
 * the log records, not twenty; a 20,000-byte one at least five pages. */
static void test_txn_writes_count_appends_by_page(void **state)
{
    fx_t *fx = *state;
    appends_arg_t a = {0};
    int err = 0;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_write(fx->st, s_fn_count_appends, &a), 0);
    uint64_t other = a.first - 1; /* the rows besides the log record: one page for it */
    assert_true(other >= 2);      /* dedupe and entity-log rows at least */
    assert_true(a.twenty <= 20 * other + 2);
    assert_true(a.twenty >= 20 * other + 1);
    assert_true(a.big - a.twenty >= other + 5);
}

static int s_fn_big_append(store_txn_t *txn, void *arg)
{
    int *full = arg;
    static uint8_t payload[60000];
    uint64_t seq;
    store_event_t ev = {
        0, STORE_EV_GRADUATE_UPSERT, 'g', 1, 2, "src", "ev-big", "g-x", payload, sizeof payload};
    full[0] = store_txn_full(txn);
    int rc = store_log_append(txn, &ev, &seq);
    full[1] = store_txn_full(txn);
    return rc;
}

/* The pages an append fills count toward a full transaction: one event of
 * 60,000 bytes (15 pages) fills a transaction allowed 10 writes, though
 * its other rows are two or three. */
static void test_txn_full_counts_appends(void **state)
{
    fx_t *fx = *state;
    int full[2] = {-1, -1}, err = 0;
    store_options_t opts = {.writemap = s_writemap, .txn_writes = 10};
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_write(fx->st, s_fn_big_append, full), 0);
    assert_int_equal(full[0], 0);
    assert_int_equal(full[1], 1);
}

static void test_graduate_update_replaces_index_entries(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, other;
    static const char *const skills2[] = {"lecture-plan", "usinage-cn", NULL};
    static const char *const rncps2[] = {"RNCP35000", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&other, "g-other", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &other), 0);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 2);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'c', "RNCP27470"), 2);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "lecture-plan"), 2);
    s_graduate(&g, "g-1", 2, STORE_STATE_OPEN, skills2, rncps2, 43.6, 1.44);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1); /* gone */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "lecture-plan"),
                     1); /* moved */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 's', "lecture-plan"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 's', "usinage-cn"), 1); /* new */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "usinage-cn"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'c', "RNCP27470"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 'c', "RNCP35000"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 'c', "RNCP27470"), 0);
    /* no point: no entry */
    g.version = 3;
    g.home.has_point = 0;
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 's', "lecture-plan"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 's', "usinage-cn"), 0);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 2);
    assert_int_equal(s.graduates_open, 2);
}

static void test_graduate_stale_and_equal_versions(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    static const char *const skills2[] = {"peinture", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-1", 100, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    s_graduate(&g, "g-1", 99, STORE_STATE_HIRED, skills2, NULL, 1.0, 1.0);
    assert_int_equal(s_put_g(fx->st, &g), STORE_ESTALE);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_int_equal(got.version, 100);
    assert_int_equal(got.state, STORE_STATE_OPEN);
    assert_string_equal(got.skills[0].code, "soudage-tig");
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "peinture"), 0);
    /* equal version replaces */
    s_graduate(&g, "g-1", 100, STORE_STATE_OPEN, skills2, NULL, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_string_equal(got.skills[0].code, "peinture");
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "peinture"), 1);
}

static void test_graduate_withdrawn_keeps_record(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_stats(fx->st).graduates_open, 1);
    g.version = 2;
    g.state = STORE_STATE_HIRED;
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'c', "RNCP27470"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "lecture-plan"), 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_int_equal(got.state, STORE_STATE_HIRED);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 1);
    assert_int_equal(s.graduates_open, 0);
    /* an older upsert cannot resurrect it */
    g.version = 1;
    g.state = STORE_STATE_OPEN;
    assert_int_equal(s_put_g(fx->st, &g), STORE_ESTALE);
    /* a newer one reopens it */
    g.version = 3;
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1);
    assert_int_equal(s_stats(fx->st).graduates_open, 1);
}

static void test_graduate_erase(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    uint64_t s1, s2, s3, s4, s5;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_append(fx->st, "ev-1", 'g', "g-1", "p1", 2, &s1), 0);
    assert_int_equal(s_append(fx->st, "ev-2", 'v', "g-1", "p2", 2, &s2), 0); /* a vacancy */
    assert_int_equal(s_append(fx->st, "ev-3", 'g', "g-1", "p3", 2, &s3), 0);
    assert_int_equal(s_append(fx->st, "ev-4", 'g', "g-1", "p4", 2, &s4), 0);
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-1"), 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), STORE_ENOTFOUND);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'c', "RNCP27470"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "lecture-plan"), 0);
    assert_int_equal(s_log_get(fx->st, s1), STORE_ENOTFOUND);
    assert_int_equal(s_log_get(fx->st, s3), STORE_ENOTFOUND);
    assert_int_equal(s_log_get(fx->st, s4), STORE_ENOTFOUND);
    assert_int_equal(s_log_get(fx->st, s2), 0); /* vacancy "g-1" is another entity */
    /* the newest entries were erased: numbers still go up */
    assert_int_equal(s_append(fx->st, "ev-5", 'g', "g-2", NULL, 0, &s5), 0);
    assert_int_equal(s5, s4 + 1);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_append(fx->st, "ev-6", 'g', "g-2", NULL, 0, &s5), 0);
    assert_int_equal(s5, s4 + 2);
    /* dedupe rows stay, so an old event cannot come back */
    assert_int_equal(s_append(fx->st, "ev-1", 'g', "g-1", "p1", 2, NULL), STORE_EINVAL);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 0);
    assert_int_equal(s.graduates_open, 0);
    assert_int_equal(s.events, s4 + 2);
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-1"), STORE_ENOTFOUND);
    /* log entries of an entity without a record are erased too */
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-2"), 0);
    assert_int_equal(s_log_get(fx->st, s5), STORE_ENOTFOUND);
}

/* ---- vacancies ------------------------------------------------------------------- */

static void test_vacancy_round_trip_and_indexes(void **state)
{
    fx_t *fx = *state;
    static store_vacancy_t v, got;
    static const char *const req[] = {"soudage-tig", "lecture-plan", NULL};
    static const char *const des[] = {"lecture-plan", "anglais", NULL};
    static const char *const romes[] = {"H2913", "H2902", NULL};
    static const char *const rncps[] = {"RNCP27470", "RNCP35000", NULL};
    static const char *const req2[] = {"chaudronnerie", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_vacancy(&v, "v-1", 7, STORE_STATE_OPEN, req, des, romes, rncps);
    assert_int_equal(s_put_v(fx->st, &v), 0);
    assert_int_equal(s_get_v(fx->st, "v-1", &got), 0);
    assert_memory_equal(&v, &got, sizeof v);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 's', "lecture-plan"), 1); /* once */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 's', "soudage-tig"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 's', "anglais"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 'r', "H2913"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 'c', "RNCP35000"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 's', "soudage-tig"),
                     0); /* one cell */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, TLSE, 's', "soudage-tig"), 0);
    /* update: a skill in both lists before must be gone entirely */
    s_vacancy(&v, "v-1", 8, STORE_STATE_OPEN, req2, NULL, romes + 1, NULL);
    v.site.lat = 48.85;
    assert_int_equal(s_put_v(fx->st, &v), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 's', "lecture-plan"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 's', "anglais"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 's', "chaudronnerie"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 'r', "H2913"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 'r', "H2902"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 'c', "RNCP35000"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 's', "soudage-tig"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, TLSE, 's', "chaudronnerie"),
                     0); /* moved */
    /* stale, closed, erased */
    v.version = 1;
    assert_int_equal(s_put_v(fx->st, &v), STORE_ESTALE);
    v.version = 9;
    v.state = STORE_STATE_FILLED;
    assert_int_equal(s_put_v(fx->st, &v), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, PARIS, 's', "chaudronnerie"), 0);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.vacancies, 1);
    assert_int_equal(s.vacancies_open, 0);
    assert_int_equal(s_append(fx->st, "ev-v", 'v', "v-1", "x", 1, NULL), 0);
    assert_int_equal(store_write(fx->st, s_fn_erase_v, "v-1"), 0);
    assert_int_equal(s_get_v(fx->st, "v-1", &got), STORE_ENOTFOUND);
    assert_int_equal(s_log_get(fx->st, 1), STORE_ENOTFOUND);
    assert_int_equal(s_stats(fx->st).vacancies, 0);
}

/* ---- indexes ----------------------------------------------------------------------- */

typedef struct {
    char ids[8][STORE_ID_MAX + 1];
    int n, stop_at;
} collect_t;

static int s_collect(const char *id, size_t len, void *arg)
{
    collect_t *c = arg;
    (void)snprintf(c->ids[c->n++], sizeof c->ids[0], "%.*s", (int)len, id);
    return c->n == c->stop_at ? 42 : 0;
}

typedef struct {
    collect_t c;
    size_t keylen;
} each_arg_t;

static int s_fn_each(store_txn_t *txn, void *arg)
{
    each_arg_t *a = arg;
    static char key[600];
    uint8_t day[4];
    memset(key, 'k', sizeof key);
    if (a->keylen > 0)
        return store_index_each(txn, STORE_IX_V_EXPIRY, key, a->keylen, s_collect, &a->c);
    store_day_key(20100, day); /* s_vacancy's expiry */
    return store_index_each(txn, STORE_IX_V_EXPIRY, day, sizeof day, s_collect, &a->c);
}

static void test_index_each_order_stop_and_long_key(void **state)
{
    fx_t *fx = *state;
    store_vacancy_t v;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    const char *ids[] = {"v-c", "v-a", "v-b"};
    for (int i = 0; i < 3; i++) {
        s_vacancy(&v, ids[i], 1, STORE_STATE_OPEN, NULL, NULL, NULL, NULL);
        assert_int_equal(s_put_v(fx->st, &v), 0);
    }
    each_arg_t a = {{{{0}}, 0, 0}, 0};
    assert_int_equal(store_read(fx->st, s_fn_each, &a), 0);
    assert_int_equal(a.c.n, 3);
    assert_string_equal(a.c.ids[0], "v-a");
    assert_string_equal(a.c.ids[1], "v-b");
    assert_string_equal(a.c.ids[2], "v-c");
    memset(&a, 0, sizeof a);
    a.c.stop_at = 2;
    assert_int_equal(store_read(fx->st, s_fn_each, &a), 42);
    assert_int_equal(a.c.n, 2);
    memset(&a, 0, sizeof a);
    a.keylen = 600; /* over mdb_env_get_maxkeysize() */
    assert_int_equal(store_read(fx->st, s_fn_each, &a), STORE_EINVAL);
}

/* ---- counters, growth, limits, aborts ---------------------------------------------- */

static void test_stats_counters(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g;
    store_vacancy_t v;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    for (int i = 0; i < 5; i++) {
        char id[16];
        (void)snprintf(id, sizeof id, "g-%d", i);
        s_graduate(&g, id, 1, i < 3 ? STORE_STATE_OPEN : STORE_STATE_LEFT, G_SKILLS1, NULL, 0, 0);
        assert_int_equal(s_put_g(fx->st, &g), 0);
        (void)snprintf(id, sizeof id, "v-%d", i);
        s_vacancy(&v, id, 1, i < 2 ? STORE_STATE_OPEN : STORE_STATE_EXPIRED, NULL, NULL, NULL,
                  NULL);
        assert_int_equal(s_put_v(fx->st, &v), 0);
        assert_int_equal(s_append(fx->st, id, 'v', id, NULL, 0, NULL), 0);
    }
    assert_int_equal(s_put_v(fx->st, &v), 0); /* replacing counts nothing new */
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 5);
    assert_int_equal(s.graduates_open, 3);
    assert_int_equal(s.vacancies, 5);
    assert_int_equal(s.vacancies_open, 2);
    assert_int_equal(s.events, 5);
    assert_true(s.file_bytes > 0);
    assert_true(s.used_bytes > 0 && s.used_bytes <= s.map_bytes);
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-0"), 0);
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-4"), 0);
    s = s_stats(fx->st);
    assert_int_equal(s.graduates, 3);
    assert_int_equal(s.graduates_open, 2);
}

/* Append n events of len-byte payloads in ONE write. */
typedef struct {
    int n;
    size_t len;
    int first; /* event ids first, first+1, ... */
    uint8_t *payload;
} batch_arg_t;

static int s_fn_batch(store_txn_t *txn, void *arg)
{
    batch_arg_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        char evid[32];
        uint64_t seq;
        (void)snprintf(evid, sizeof evid, "big-%d", b->first + i);
        store_event_t ev = {
            0, STORE_EV_GRADUATE_UPSERT, 'g', 1, 2, "src", evid, "g-big", b->payload, b->len};
        memset(b->payload, b->first + i, b->len);
        int rc = store_log_append(txn, &ev, &seq);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void s_check_big(store_t *st, uint64_t seq, size_t len)
{
    assert_int_equal(s_log_get(st, seq), 0);
    assert_int_equal(s_log.ev.payload_len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(s_log.payload[i], (uint8_t)(seq - 1));
}

static void test_map_grows_from_tiny(void **state)
{
    fx_t *fx = *state;
    static uint8_t payload[20000];
    int err;
    fx->st = s_open(fx, 64 << 10, 0, &err);
    assert_non_null(fx->st);
    assert_int_equal(s_stats(fx->st).map_bytes, 64 << 10);
    batch_arg_t b = {3, sizeof payload, 0, payload}; /* 60 KB in one write */
    assert_int_equal(store_write(fx->st, s_fn_batch, &b), 0);
    assert_non_null(strstr(s_logs, "store: map grown from 0.0625 to 0.125 MiB"));
    for (int i = 0; i < 10; i++) {
        b.first += b.n;
        assert_int_equal(store_write(fx->st, s_fn_batch, &b), 0);
    }
    assert_true(s_stats(fx->st).map_bytes > (128 << 10));
    s_reopen(fx, 64 << 10, 0);
    assert_int_equal(s_stats(fx->st).events, 33);
    for (uint64_t seq = 1; seq <= 33; seq++)
        s_check_big(fx->st, seq, sizeof payload);
    b.first = 33;
    assert_int_equal(store_write(fx->st, s_fn_batch, &b), 0); /* and it grows again */
}

/* In writemap mode the data file is as large as the map and its blocks
 * are allocated (a write into the map can never meet a full disk); a
 * reopen with a smaller configured map keeps the map as large as the file.
 * In the ordinary mode the file is never larger than the map. */
static void test_map_file_reserved(void **state)
{
    fx_t *fx = *state;
    static uint8_t payload[20000];
    char path[600];
    struct stat st;
    int err;
    fx->st = s_open(fx, 64 << 10, 0, &err);
    assert_non_null(fx->st);
    batch_arg_t b = {3, sizeof payload, 0, payload};
    for (int i = 0; i < 6; i++, b.first += b.n)
        assert_int_equal(store_write(fx->st, s_fn_batch, &b), 0);
    store_stats_t s = s_stats(fx->st);
    assert_true(s.map_bytes > (64 << 10));
    snprintf(path, sizeof path, "%s/data.mdb", fx->dir);
    assert_int_equal(stat(path, &st), 0);
    if (s.writemap) { /* the mode the store runs in (it falls back if it must) */
        assert_int_equal((size_t)st.st_size, s.map_bytes);
        assert_true((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size); /* not sparse */
    } else {
        assert_true((size_t)st.st_size <= s.map_bytes);
    }
    s_reopen(fx, 64 << 10, 0);
    assert_true(s_stats(fx->st).map_bytes >= (size_t)st.st_size);
    assert_int_equal(s_stats(fx->st).events, 18);
    for (uint64_t seq = 1; seq <= 18; seq++)
        s_check_big(fx->st, seq, sizeof payload);
}

static void test_map_limit_efull(void **state)
{
    fx_t *fx = *state;
    static uint8_t payload[20000];
    int err, rc = 0, writes = 0;
    fx->st = s_open(fx, 64 << 10, 128 << 10, &err);
    assert_non_null(fx->st);
    batch_arg_t b = {1, sizeof payload, 0, payload};
    for (writes = 0; writes < 100; writes++) {
        b.first = writes;
        rc = store_write(fx->st, s_fn_batch, &b);
        if (rc != 0)
            break;
    }
    assert_int_equal(rc, STORE_EFULL);
    assert_true(writes >= 2);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.map_bytes, 128 << 10);
    assert_int_equal(s.events, (uint64_t)writes);
    for (uint64_t seq = 1; seq <= (uint64_t)writes; seq++)
        s_check_big(fx->st, seq, sizeof payload);
    assert_int_equal(store_write(fx->st, s_fn_batch, &b), STORE_EFULL); /* still, no loop */
    s_reopen(fx, 64 << 10, 128 << 10);
    assert_int_equal(s_stats(fx->st).events, (uint64_t)writes);
}

/* Growth doubles the map once per write: a batch that needs more than
 * twice the map is refused, not retried in a loop, and nothing of it stays. */
static void test_map_grows_once_per_write(void **state)
{
    fx_t *fx = *state;
    static uint8_t payload[20000];
    int err;
    fx->st = s_open(fx, 64 << 10, 0, &err);
    assert_non_null(fx->st);
    batch_arg_t b = {15, sizeof payload, 0, payload}; /* 300 KB > 2 x 64 KiB */
    assert_int_equal(store_write(fx->st, s_fn_batch, &b), STORE_EFULL);
    assert_non_null(strstr(s_logs, "map still full at 0.125 MiB after growing"));
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.map_bytes, 128 << 10);
    assert_int_equal(s.events, 0);
    b.n = 5; /* 100 KB: one more doubling is enough */
    assert_int_equal(store_write(fx->st, s_fn_batch, &b), 0);
    assert_int_equal(s_stats(fx->st).events, 5);
    s_check_big(fx->st, 5, sizeof payload);
}

/* A unit of work that ignores a failed operation and returns 0 must not
 * commit a half-done transaction. */
static int s_fn_ignore_errors(store_txn_t *txn, void *arg)
{
    batch_arg_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        char evid[32];
        uint64_t seq;
        (void)snprintf(evid, sizeof evid, "ign-%d", i);
        store_event_t ev = {
            0, STORE_EV_GRADUATE_UPSERT, 'g', 1, 2, "src", evid, "g-ign", b->payload, b->len};
        int rc = store_log_append(txn, &ev, &seq);
        (void)rc; /* on purpose */
    }
    return 0;
}

static void test_ignored_failure_is_not_committed(void **state)
{
    fx_t *fx = *state;
    static uint8_t payload[20000];
    int err;
    fx->st = s_open(fx, 64 << 10, 0, &err);
    batch_arg_t b = {15, sizeof payload, 0, payload};
    assert_int_equal(store_write(fx->st, s_fn_ignore_errors, &b), STORE_EFULL);
    assert_int_equal(s_stats(fx->st).events, 0);
    for (int e = STORE_EINTERNAL; e <= 0; e++)
        assert_non_null(store_strerror(e));
}

static int s_fn_put_then_fail(store_txn_t *txn, void *arg)
{
    store_event_t ev = {0, STORE_EV_GRADUATE_UPSERT, 'g', 1, 2, "src", "ev-x", "g-x", "p", 1};
    uint64_t seq;
    int rc = store_graduate_put(txn, arg);
    if (rc == 0)
        rc = store_log_append(txn, &ev, &seq);
    return rc != 0 ? rc : STORE_EINVAL; /* then the caller changes its mind */
}

static void test_failed_fn_aborts_everything(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-x", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    assert_int_equal(store_write(fx->st, s_fn_put_then_fail, &g), STORE_EINVAL);
    assert_int_equal(s_get_g(fx->st, "g-x", &got), STORE_ENOTFOUND);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 0);
    dedupe_arg_t d = {"src", "ev-x", 0, 0};
    assert_int_equal(store_read(fx->st, s_fn_dedupe, &d), STORE_ENOTFOUND);
    assert_int_equal(d.last, 0);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.graduates, 0);
    assert_int_equal(s.graduates_open, 0);
    assert_int_equal(s.events, 0);
}

/* ---- damaged records ----------------------------------------------------------------- */

static int s_fn_near_verify(store_txn_t *txn, void *arg)
{
    (void)arg;
    return store_near_verify(txn, NULL);
}

static void test_corrupt_record(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, got;
    static const uint8_t junk[] = {0x47, 0xff, 0xff, 'x', 'y'};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    s_romes(&g, G_ROMES1);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    s_graduate(&g, "g-2", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    s_romes(&g, G_ROMES1);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    store_destroy(&fx->st);
    s_raw_put(fx->dir, "graduates", "g-1", 3, junk, sizeof junk);
    s_raw_put(fx->dir, "graduates", "g-3", 3, "garbage!", 8);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), STORE_ECORRUPT);
    assert_int_equal(s_get_g(fx->st, "g-3", &got), STORE_ECORRUPT);
    assert_non_null(strstr(s_logs, "does not decode"));
    assert_int_equal(s_put_g(fx->st, &g), 0); /* others are unharmed */
    g.version = 5;
    (void)snprintf(g.id, sizeof g.id, "g-1");
    assert_int_equal(s_put_g(fx->st, &g), STORE_ECORRUPT);
    /* the places index, built from the records at open, never held the
     * damaged record: only g-2 is filed */
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1);
    assert_int_equal(store_read(fx->st, s_fn_near_verify, NULL), 0);
    /* erasure still removes every trace */
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-1"), 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), STORE_ENOTFOUND);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "soudage-tig"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'c', "RNCP27470"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 's', "lecture-plan"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2913"), 1);
    assert_non_null(strstr(s_logs, "erasing damaged graduate 'g-1': swept 0 index entries and "
                                   "0 postings"));
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-3"), 0);
    /* Whether g-1 was open when it was damaged is written nowhere this
     * process can read (its record does not decode, and the index of
     * places is only in memory, built without it): its erasure counts it
     * as not open, so the open count keeps it. */
    assert_int_equal(s_stats(fx->st).graduates_open, 2);
    assert_int_equal(store_read(fx->st, s_fn_near_verify, NULL), 0);
}

/* Every truncation and every single-byte change of a full record either
 * decodes or is refused: never a read out of bounds (run under ASan). */
static void test_codec_never_overreads(void **state)
{
    (void)state;
    static store_graduate_t g, out;
    static store_vacancy_t v, vout;
    static const char *const req[] = {"a", "b", NULL};
    size_t len;
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 1, 2);
    s_romes(&g, G_ROMES1);
    assert_int_equal(store_codec_graduate_size(&g, &len), 0);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    store_codec_graduate_encode(&g, buf, len);
    assert_int_equal(store_codec_graduate_decode(buf, len, &out), 0);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n + 1); /* exact-size copies let ASan see overreads */
        assert_non_null(cut);
        memcpy(cut, buf, n);
        assert_int_equal(store_codec_graduate_decode(cut, n, &out), STORE_ECORRUPT);
        free(cut);
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = buf[i];
        buf[i] = 0xff;
        int rc = store_codec_graduate_decode(buf, len, &out); /* no crash */
        assert_true(rc == 0 || rc == STORE_ECORRUPT);
        buf[i] = saved;
    }
    free(buf);
    s_vacancy(&v, "v-1", 1, STORE_STATE_OPEN, req, req, req, req);
    assert_int_equal(store_codec_vacancy_size(&v, &len), 0);
    buf = malloc(len);
    assert_non_null(buf);
    store_codec_vacancy_encode(&v, buf, len);
    for (size_t n = 0; n < len; n++)
        assert_int_equal(store_codec_vacancy_decode(buf, n, &vout), STORE_ECORRUPT);
    assert_int_equal(store_codec_vacancy_decode(buf, len, &vout), 0);
    free(buf);
}

/* ---- raw table sizes (the store closed) ------------------------------------------ */

static size_t s_raw_entries(const char *dir, const char *table)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    s_raw_env_open(env, dir, table, MDB_RDONLY);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

/* Entries of table, counted with the store closed; the store is reopened. */
static size_t s_entries(fx_t *fx, const char *table)
{
    store_destroy(&fx->st);
    size_t n = s_raw_entries(fx->dir, table);
    s_reopen(fx, 0, 0);
    return n;
}

/* ---- graduates' ROME codes ---------------------------------------------------------- */

static void test_graduate_romes_index(void **state)
{
    fx_t *fx = *state;
    store_graduate_t g, other, got;
    static const char *const romes2[] = {"H2902", "I1304", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&other, "g-other", 1, STORE_STATE_OPEN, G_SKILLS1, NULL, 45.76, 4.83);
    s_romes(&other, romes2);
    assert_int_equal(s_put_g(fx->st, &other), 0);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, G_RNCPS1, 45.76, 4.83);
    s_romes(&g, G_ROMES1);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_memory_equal(&g, &got, sizeof g);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2913"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2902"), 2);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_VACANCY, LYON, 'r', "H2913"),
                     0); /* not the vacancies' */
    /* an update replaces the entries */
    g.version = 2;
    s_romes(&g, romes2);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2913"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2902"), 2);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "I1304"), 2);
    /* withdrawn: no entries; other graduates keep theirs */
    g.version = 3;
    g.state = STORE_STATE_HIRED;
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2902"), 1);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "I1304"), 1);
    assert_int_equal(s_get_g(fx->st, "g-1", &got), 0);
    assert_int_equal(got.n_romes, 2);
    assert_string_equal(got.romes[1], "I1304");
    /* erasing the open one leaves no entry at all */
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-other"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2902"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "I1304"), 0);
}

/* ---- ranked lists ------------------------------------------------------------------- */

typedef struct {
    store_entity_kind_t kind;
    const char *id;
    const store_list_t *l;
} list_put_arg_t;

static int s_fn_list_put(store_txn_t *txn, void *arg)
{
    list_put_arg_t *a = arg;
    return store_list_put(txn, a->kind, a->id, a->l);
}

static int s_list_put(store_t *st, store_entity_kind_t kind, const char *id, const store_list_t *l)
{
    list_put_arg_t a = {kind, id, l};
    return store_write(st, s_fn_list_put, &a);
}

/* Fill *l from "id:micro" strings (NULL-terminated); every byte is set. */
static void s_list(store_list_t *l, const char *const *entries)
{
    memset(l, 0, sizeof *l);
    for (; entries != NULL && *entries != NULL; entries++) {
        store_rank_t *e = &l->e[l->n++];
        const char *colon = strchr(*entries, ':');
        assert_non_null(colon);
        (void)snprintf(e->id, sizeof e->id, "%.*s", (int)(colon - *entries), *entries);
        e->micro = (uint32_t)strtoul(colon + 1, NULL, 10);
    }
}

typedef struct {
    store_entity_kind_t kind;
    const char *id;
    store_list_t l;
    uint64_t count_g, count_v;
} list_get_arg_t;

static int s_fn_list_get(store_txn_t *txn, void *arg)
{
    list_get_arg_t *a = arg;
    a->count_g = store_list_count(txn, STORE_ENTITY_GRADUATE);
    a->count_v = store_list_count(txn, STORE_ENTITY_VACANCY);
    return store_list_get(txn, a->kind, a->id, &a->l);
}

static list_get_arg_t s_lg; /* 7 KB: static, not on the stack */

static int s_list_get(store_t *st, store_entity_kind_t kind, const char *id)
{
    memset(&s_lg, 0xa5, sizeof s_lg); /* get must set what it returns */
    s_lg.kind = kind;
    s_lg.id = id;
    return store_read(st, s_fn_list_get, &s_lg);
}

/* The list of (kind, id) as "id:micro,id:micro", "" when empty. */
static const char *s_list_str(store_t *st, store_entity_kind_t kind, const char *id)
{
    static char out[4096];
    size_t used = 0;
    assert_int_equal(s_list_get(st, kind, id), 0);
    out[0] = '\0';
    for (size_t i = 0; i < s_lg.l.n; i++)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s:%u", i ? "," : "",
                                 s_lg.l.e[i].id, (unsigned)s_lg.l.e[i].micro);
    return out;
}

typedef struct {
    store_entity_kind_t kind;
    const char *member;
    char out[1024];
    int n, stop_at;
} owners_arg_t;

static int s_owner(const char *id, size_t len, void *arg)
{
    owners_arg_t *a = arg;
    size_t used = strlen(a->out);
    (void)snprintf(a->out + used, sizeof a->out - used, "%s%.*s", a->n ? "," : "", (int)len, id);
    return ++a->n == a->stop_at ? 42 : 0;
}

static int s_fn_owners(store_txn_t *txn, void *arg)
{
    owners_arg_t *a = arg;
    return store_list_owners(txn, a->kind, a->member, s_owner, a);
}

/* The owners (of kind) whose lists hold member, "a,b,c" in byte order. */
static const char *s_owners(store_t *st, store_entity_kind_t kind, const char *member)
{
    static owners_arg_t a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.member = member;
    assert_int_equal(store_read(st, s_fn_owners, &a), 0);
    return a.out;
}

static void test_list_round_trip(void **state)
{
    fx_t *fx = *state;
    static store_list_t l, full;
    static const char *const three[] = {"g-b:900000", "g-a:850000", "g-c:0", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1"), 0); /* absent: empty */
    assert_int_equal(s_lg.l.n, 0);
    s_list(&l, three);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1"), 0);
    assert_memory_equal(&s_lg.l, &l, sizeof l); /* rank order kept, every byte set */
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_GRADUATE, "v-1"), 0); /* other kind */
    assert_int_equal(s_lg.l.n, 0);
    /* a full list of longest ids */
    full.n = STORE_LIST_MAX;
    for (int i = 0; i < STORE_LIST_MAX; i++) {
        memset(full.e[i].id, 'a' + i % 26, STORE_ID_MAX);
        (void)snprintf(full.e[i].id, sizeof full.e[i].id, "%03d", i);
        full.e[i].id[3] = 'x'; /* snprintf's NUL: keep the id STORE_ID_MAX long */
        full.e[i].micro = UINT32_MAX - (uint32_t)i;
    }
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-full", &full), 0);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_GRADUATE, "g-full"), 0);
    assert_memory_equal(&s_lg.l, &full, sizeof full);
    assert_int_equal(s_lg.count_g, 1);
    assert_int_equal(s_lg.count_v, 1);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, full.e[99].id), "g-full");
}

static void test_list_bad_arguments(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const one[] = {"g-a:1", NULL};
    char long_id[STORE_ID_MAX + 2];
    int err;
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    fx->st = s_open(fx, 0, 0, &err);
    s_list(&l, one);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    l.n = STORE_LIST_MAX + 1;
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), STORE_EINVAL);
    l.n = 2; /* second entry has an empty id */
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), STORE_EINVAL);
    l.n = 1;
    memset(l.e[0].id, 'x', sizeof l.e[0].id); /* not terminated */
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), STORE_EINVAL);
    s_list(&l, one);
    assert_int_equal(s_list_put(fx->st, (store_entity_kind_t)'x', "v-1", &l), STORE_EINVAL);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "", &l), STORE_EINVAL);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, long_id, &l), STORE_EINVAL);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", NULL), STORE_EINVAL);
    assert_int_equal(s_list_get(fx->st, (store_entity_kind_t)'x', "v-1"), STORE_EINVAL);
    /* nothing of the refused calls is stored */
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "g-a:1");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-a"), "v-1");
    assert_int_equal(s_lg.count_v, 1);
    /* writes need a write transaction */
    list_put_arg_t a = {STORE_ENTITY_VACANCY, "v-2", &l};
    assert_int_equal(store_read(fx->st, s_fn_list_put, &a), STORE_EINVAL);
}

static void test_list_membership_follows_replacements(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const v1[] = {"g-a:9", "g-b:8", NULL};
    static const char *const v2[] = {"g-c:9", "g-b:7", NULL};
    static const char *const v1_new[] = {"g-c:9", "g-d:8", "g-b:1", NULL};
    static const char *const twice[] = {"g-e:9", "g-c:5", "g-e:3", NULL};
    static const char *const ga[] = {"v-1:5", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    s_list(&l, v2);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-a"), "v-1");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-b"), "v-1,v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-c"), "v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-d"), "");
    /* replacement: g-a leaves, g-c and g-d come, g-b stays (re-ranked) */
    s_list(&l, v1_new);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-a"), "");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-b"), "v-1,v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-c"), "v-1,v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-d"), "v-1");
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "g-c:9,g-d:8,g-b:1");
    /* a member listed twice is one membership, and leaves once */
    s_list(&l, twice);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-e"), "v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-b"), "v-1");
    s_list(&l, v2);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-e"), "");
    /* kinds are apart: a graduate's list of vacancies */
    s_list(&l, ga);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-a", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "v-1"), "g-a");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "v-1"), "");
    /* stop early */
    owners_arg_t a = {STORE_ENTITY_VACANCY, "g-c", "", 0, 1};
    assert_int_equal(store_read(fx->st, s_fn_owners, &a), 42);
    assert_string_equal(a.out, "v-1");
    /* n = 0 deletes the list and its memberships; counts follow */
    (void)s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1");
    assert_int_equal(s_lg.count_v, 2);
    assert_int_equal(s_lg.count_g, 1);
    s_list(&l, NULL);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-9", &l), 0); /* absent */
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "");
    assert_int_equal(s_lg.count_v, 1);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-c"), "v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-d"), "");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-b"), "v-2");
    /* exactly the rows of v-2 (2) and g-a (1) are left */
    assert_int_equal(s_entries(fx, "list_members"), 3);
    assert_int_equal(s_entries(fx, "lists"), 2);
}

/* ---- lists.mdb: when the ranked lists are trusted ---------------------- */

static store_t *s_open_boot(const fx_t *fx, const char *boot, int *err)
{
    store_options_t opts = {.writemap = s_writemap, .boot_id = boot};
    return store_new(fx->dir, &opts, err);
}

/* In a child: open the store in boot, put the list of v-1, and die with
 * the store open (SIGKILL: no clean close). */
static void s_die_after_list(const fx_t *fx, const char *boot, const char *const *v1)
{
    static store_list_t l;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int err = 0;
        store_t *st = s_open_boot(fx, boot, &err);
        if (st == NULL)
            _exit(2);
        s_list(&l, v1);
        if (s_list_put(st, STORE_ENTITY_VACANCY, "v-1", &l) != 0)
            _exit(3);
        (void)raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void s_copy_file(const char *from, const char *to)
{
    static char buf[1 << 16];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
}

/* The lists of v-1 and whose lists hold g-a and g-c, as one string. */
static const char *s_lists_seen(store_t *st)
{
    static char out[3200];
    char l[1024], a[1024];
    (void)snprintf(l, sizeof l, "%s", s_list_str(st, STORE_ENTITY_VACANCY, "v-1"));
    (void)snprintf(a, sizeof a, "%s", s_owners(st, STORE_ENTITY_VACANCY, "g-a"));
    (void)snprintf(out, sizeof out, "%s|%s|%s", l, a, s_owners(st, STORE_ENTITY_VACANCY, "g-c"));
    return out;
}

static void test_lists_file_trust(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const v1[] = {"g-a:9", "g-b:8", NULL};
    static const char *const v1b[] = {"g-c:7", NULL};
    char path[4096], old[4096 + 8];
    int err = 0;
    (void)snprintf(path, sizeof path, "%s/lists.mdb", fx->dir);
    (void)snprintf(old, sizeof old, "%s.old", path);

    /* closed cleanly: trusted at the next open, even in another boot */
    fx->st = s_open_boot(fx, "boot-1", &err);
    assert_non_null(fx->st);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    store_destroy(&fx->st);
    fx->st = s_open_boot(fx, "boot-2", &err);
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-a:9,g-b:8|v-1|");
    store_destroy(&fx->st);

    /* the process died in this boot: what it wrote is in the page cache */
    s_die_after_list(fx, "boot-2", v1b);
    fx->st = s_open_boot(fx, "boot-2", &err);
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-c:7||v-1");
    store_destroy(&fx->st);

    /* the machine stopped before a clean close: the lists are emptied,
     * their counters with them, and stay so until rebuilt */
    s_die_after_list(fx, "boot-2", v1);
    s_logs[0] = '\0';
    fx->st = s_open_boot(fx, "boot-3", &err);
    assert_non_null(fx->st);
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_non_null(strstr(s_logs, "the machine stopped since it was last written"));
    assert_string_equal(s_lists_seen(fx->st), "||");
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1"), 0);
    assert_int_equal(s_lg.count_v, 0);
    assert_int_equal(s_lg.count_g, 0);
    s_list(&l, v1b); /* the rebuild, interrupted by a stop */
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    store_destroy(&fx->st);
    s_logs[0] = '\0';
    fx->st = s_open_boot(fx, "boot-3", &err);
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_non_null(strstr(s_logs, "it was being rebuilt"));
    assert_string_equal(s_lists_seen(fx->st), "||");
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(store_lists_rebuilt(fx->st), 0);
    assert_int_equal(store_lists_stale(fx->st), 0);
    store_destroy(&fx->st);
    s_die_after_list(fx, "boot-3", v1b); /* rebuilt, then killed in this boot: kept */
    fx->st = s_open_boot(fx, "boot-3", &err);
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-c:7||v-1");
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1"), 0);
    assert_int_equal(s_lg.count_v, 1);
    store_destroy(&fx->st);

    /* lists.mdb a commit behind data.mdb (a stop between the two
     * commits): its copy from before the last write put back */
    s_copy_file(path, old);
    fx->st = s_open_boot(fx, "boot-3", &err);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    store_destroy(&fx->st);
    assert_int_equal(rename(old, path), 0);
    s_logs[0] = '\0';
    fx->st = s_open_boot(fx, "boot-3", &err);
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_non_null(strstr(s_logs, "does not go with data.mdb's last commit"));
    assert_string_equal(s_lists_seen(fx->st), "||");
    assert_int_equal(store_lists_rebuilt(fx->st), 0);
    store_destroy(&fx->st);

    /* no lists.mdb (data.mdb restored from a backup): read-only, the lists
     * read as empty; for writing, a new one, to be rebuilt */
    assert_int_equal(unlink(path), 0);
    store_options_t ro = {.read_only = 1};
    fx->st = store_new(fx->dir, &ro, &err);
    assert_non_null(fx->st);
    assert_string_equal(s_lists_seen(fx->st), "||");
    store_destroy(&fx->st);
    s_logs[0] = '\0';
    fx->st = s_open_boot(fx, "boot-3", &err);
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_non_null(strstr(s_logs, "it holds no state"));
    /* a new store's empty lists are whole */
    store_destroy(&fx->st);
}

/* [store] lists_dir: lists.mdb in a directory of its own (under /dev/shm
 * when there is one: another file system), bound to the store
 * (lists.store names it, flock()ed while it is open): the store's own
 * file moved there at the binding; trusted there as in the store's
 * directory; refused to another store; not trusted when it is gone (a
 * tmpfs after a reboot) or was left with no binding. */
static void test_lists_dir(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const v1[] = {"g-a:9", "g-b:8", NULL};
    char ldir[4096], other[4096], path[4200], bind[4200], who[4096], got[4200] = "";
    struct stat sst;
    int err = 0;
    const char *root = stat("/dev/shm", &sst) == 0 && S_ISDIR(sst.st_mode) ? "/dev/shm" : fx->dir;
    (void)snprintf(ldir, sizeof ldir, "%s/test_store_lists.XXXXXX", root);
    assert_non_null(mkdtemp(ldir));
    (void)snprintf(other, sizeof other, "%s/other-store", fx->dir);
    (void)snprintf(path, sizeof path, "%s/lists.mdb", ldir);
    (void)snprintf(bind, sizeof bind, "%s/lists.store", ldir);
    store_options_t opts = {.writemap = s_writemap, .boot_id = "boot-1", .lists_dir = ldir};

    /* the lists the store kept beside data.mdb move at the binding */
    store_options_t own = {.writemap = s_writemap, .boot_id = "boot-1"};
    fx->st = store_new(fx->dir, &own, &err);
    assert_non_null(fx->st);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    store_destroy(&fx->st);
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_non_null(strstr(s_logs, "a directory bound to this store"));
    assert_non_null(strstr(s_logs, "lists.mdb moved from"));
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-a:9,g-b:8|v-1|");
    assert_int_equal(access(path, F_OK), 0);
    (void)snprintf(got, sizeof got, "%s/lists.mdb", fx->dir);
    assert_int_equal(access(got, F_OK), -1); /* not in the store's directory */
    FILE *f = fopen(bind, "r");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof got, f));
    (void)fclose(f);
    assert_non_null(realpath(fx->dir, who));
    strcat(who, "\n");
    assert_string_equal(got, who);

    /* another store, while this one is open, then after it closed */
    store_options_t o2 = opts;
    store_t *st2 = store_new(other, &o2, &err);
    assert_null(st2);
    assert_int_equal(err, STORE_EBUSY);
    assert_non_null(strstr(s_logs, "in use by another process"));
    store_destroy(&fx->st);
    s_logs[0] = '\0';
    st2 = store_new(other, &o2, &err);
    assert_null(st2);
    assert_int_equal(err, STORE_EBUSY);
    assert_non_null(strstr(s_logs, "holds the ranked lists of the store in"));

    /* closed cleanly: trusted in another boot, and read-only */
    opts.boot_id = "boot-2";
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-a:9,g-b:8|v-1|");
    store_destroy(&fx->st);
    store_options_t ro = {.read_only = 1, .lists_dir = ldir};
    fx->st = store_new(fx->dir, &ro, &err);
    assert_non_null(fx->st);
    assert_string_equal(s_lists_seen(fx->st), "g-a:9,g-b:8|v-1|");
    store_destroy(&fx->st);

    /* gone, as from a tmpfs after a reboot: a new one, to be rebuilt */
    assert_int_equal(unlink(path), 0);
    s_logs[0] = '\0';
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_non_null(strstr(s_logs, "it holds no state"));
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(store_lists_rebuilt(fx->st), 0);
    store_destroy(&fx->st);

    /* a lists.mdb with no binding is no store's: removed, not trusted,
     * though it names the store's last commit and was closed cleanly */
    assert_int_equal(unlink(bind), 0);
    s_logs[0] = '\0';
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_non_null(strstr(s_logs, "a directory bound to this store"));
    assert_int_equal(store_lists_stale(fx->st), 1);
    assert_string_equal(s_lists_seen(fx->st), "||");
    store_destroy(&fx->st);

    /* lists_dir naming the store's own directory: the file there is kept */
    fx->st = store_new(fx->dir, &own, &err);
    assert_non_null(fx->st);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(store_lists_rebuilt(fx->st), 0);
    store_destroy(&fx->st);
    store_options_t same = {.writemap = s_writemap, .boot_id = "boot-1", .lists_dir = fx->dir};
    fx->st = store_new(fx->dir, &same, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_lists_stale(fx->st), 0);
    assert_string_equal(s_lists_seen(fx->st), "g-a:9,g-b:8|v-1|");
    store_destroy(&fx->st);
    (void)snprintf(got, sizeof got, "rm -rf '%s'", ldir);
    assert_int_equal(system(got), 0);
}

/* A transaction that writes more lists than lists.mdb's map holds: it is
 * full (store_txn_full) before the writes limit, and when it goes on all
 * the same, the store grows the map and runs it again; every list is there
 * after it. */
typedef struct {
    int runs, full_at;
    store_list_t l;
} many_lists_t;

static int s_fn_many_lists(store_txn_t *txn, void *arg)
{
    many_lists_t *m = arg;
    m->runs++;
    m->full_at = -1;
    for (int i = 0; i < 3000; i++) {
        char owner[32];
        memset(&m->l, 0, sizeof m->l);
        m->l.n = 20;
        for (size_t k = 0; k < m->l.n; k++) {
            (void)snprintf(m->l.e[k].id, sizeof m->l.e[k].id, "graduate-%d-%zu", i, k);
            m->l.e[k].micro = (uint32_t)(900000 - k);
        }
        (void)snprintf(owner, sizeof owner, "vacancy-%d", i);
        int rc = store_list_put(txn, STORE_ENTITY_VACANCY, owner, &m->l);
        if (rc != 0)
            return rc;
        if (m->full_at < 0 && store_txn_full(txn))
            m->full_at = i;
    }
    return 0;
}

static void test_lists_map_room(void **state)
{
    fx_t *fx = *state;
    static many_lists_t m;
    int err = 0;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    s_logs[0] = '\0';
    assert_int_equal(store_write(fx->st, s_fn_many_lists, &m), 0);
    assert_true(m.runs >= 2); /* the first found the map short */
    assert_true(m.full_at >= 0 && m.full_at < 3000);
    assert_non_null(strstr(s_logs, "lists.mdb's map grown"));
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "vacancy-2999"),
                        "graduate-2999-0:900000,graduate-2999-1:899999,graduate-2999-2:899998,"
                        "graduate-2999-3:899997,graduate-2999-4:899996,graduate-2999-5:899995,"
                        "graduate-2999-6:899994,graduate-2999-7:899993,graduate-2999-8:899992,"
                        "graduate-2999-9:899991,graduate-2999-10:899990,graduate-2999-11:899989,"
                        "graduate-2999-12:899988,graduate-2999-13:899987,graduate-2999-14:899986,"
                        "graduate-2999-15:899985,graduate-2999-16:899984,graduate-2999-17:899983,"
                        "graduate-2999-18:899982,graduate-2999-19:899981");
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "vacancy-0"), 0);
    assert_int_equal(s_lg.count_v, 3000);
    fprintf(stderr, "3000 lists in one transaction: %d runs, full after %d lists\n", m.runs,
            m.full_at + 1);
}

/* Pages of lists.mdb's writable map that this process has dirtied and
 * the kernel has not written back, in kB (Private_Dirty + Shared_Dirty of
 * its mapping in /proc/self/smaps). */
static long s_lists_dirty_kb(const fx_t *fx)
{
    char path[128], line[512];
    unsigned long a, b;
    long kb = 0, v;
    int in = 0;
    (void)snprintf(path, sizeof path, "%s/lists.mdb", fx->dir);
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2) { /* lists.mdb, not lists.mdb-lock */
            size_t n = strlen(line), k = strlen(path);
            in = n > k && strncmp(line + n - k - 1, path, k) == 0 && line[n - 1] == '\n';
        } else if (in && (sscanf(line, "Private_Dirty: %ld kB", &v) == 1 ||
                          sscanf(line, "Shared_Dirty: %ld kB", &v) == 1))
            kb += v;
    }
    (void)fclose(f);
    return kb;
}

/* With lists_writeback_ms, the store writes lists.mdb back itself: the
 * pages 3000 lists dirtied are clean two sweeps later. Without, they stay
 * dirty (the kernel waits 30 s), and nothing is swept. */
static void test_lists_written_back(void **state)
{
    fx_t *fx = *state;
    static many_lists_t m;
    int err = 0;
    store_options_t opts = {.writemap = 1};
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_int_equal(store_write(fx->st, s_fn_many_lists, &m), 0);
    usleep(300000);
    long kept = s_lists_dirty_kb(fx);
    assert_true(kept > 64);
    assert_int_equal(s_stats(fx->st).lists_writeback_sweeps, 0);

    store_destroy(&fx->st);
    opts.lists_writeback_ms = 64; /* a slice a millisecond */
    s_logs[0] = '\0';
    fx->st = store_new(fx->dir, &opts, &err);
    assert_non_null(fx->st);
    assert_non_null(strstr(s_logs, "lists.mdb written back by matcherd, all of it every 64 ms"));
    assert_int_equal(store_write(fx->st, s_fn_many_lists, &m), 0); /* the same lists again */
    assert_true(s_lists_dirty_kb(fx) > 0 || s_stats(fx->st).lists_writeback_sweeps > 0);
    uint64_t from = s_stats(fx->st).lists_writeback_sweeps;
    for (int i = 0; i < 500 && s_stats(fx->st).lists_writeback_sweeps < from + 2; i++)
        usleep(10000);
    assert_true(s_stats(fx->st).lists_writeback_sweeps >= from + 2);
    long left = s_lists_dirty_kb(fx);
    fprintf(stderr,
            "lists.mdb dirty: %ld kB left to the kernel after 300 ms, %ld kB two sweeps "
            "after the same writes\n",
            kept, left);
    assert_int_equal(left, 0);
    store_destroy(&fx->st); /* joins the thread */
}

/* Readers in other threads than the writer's see data.mdb and lists.mdb
 * as of the same commit: each write sets meta "k" and the list of v-1 to
 * k % 20 + 1 entries in one transaction; a reader that began between the
 * writer's two commits would see them disagree. */
typedef struct {
    store_t *st;
    volatile int stop;
    long reads, torn, failed;
    store_list_t l;
} readers_arg_t;

static int s_fn_k_and_list(store_txn_t *txn, void *arg)
{
    readers_arg_t *a = arg;
    char k[32];
    int rc = store_meta_get_str(txn, "k", k, sizeof k);
    if (rc == STORE_ENOTFOUND)
        return 0;
    if (rc == 0 && (rc = store_list_get(txn, STORE_ENTITY_VACANCY, "v-1", &a->l)) == 0) {
        a->reads++;
        a->torn += a->l.n != atoi(k) % 20 + 1;
    }
    return rc;
}

static void *s_reader_main(void *arg)
{
    readers_arg_t *a = arg;
    while (!a->stop)
        if (store_read_shared(a->st, s_fn_k_and_list, a) != 0)
            a->failed++;
    return NULL;
}

typedef struct {
    int k;
    store_list_t l;
} k_write_t;

static int s_fn_k_write(store_txn_t *txn, void *arg)
{
    k_write_t *w = arg;
    char k[32];
    (void)snprintf(k, sizeof k, "%d", w->k);
    memset(&w->l, 0, sizeof w->l);
    w->l.n = (uint16_t)(w->k % 20 + 1);
    for (size_t i = 0; i < w->l.n; i++) {
        (void)snprintf(w->l.e[i].id, sizeof w->l.e[i].id, "g-%d-%zu", w->k, i);
        w->l.e[i].micro = (uint32_t)(1000 - i);
    }
    int rc = store_meta_put_str(txn, "k", k);
    return rc != 0 ? rc : store_list_put(txn, STORE_ENTITY_VACANCY, "v-1", &w->l);
}

static void test_lists_readers_consistent(void **state)
{
    fx_t *fx = *state;
    static readers_arg_t a;
    static k_write_t w;
    pthread_t th;
    int err = 0;
    fx->st = s_open(fx, 0, 0, &err);
    assert_non_null(fx->st);
    memset(&a, 0, sizeof a);
    a.st = fx->st;
    assert_int_equal(pthread_create(&th, NULL, s_reader_main, &a), 0);
    for (w.k = 0; w.k < 1500; w.k++)
        assert_int_equal(store_write(fx->st, s_fn_k_write, &w), 0);
    a.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    fprintf(stderr, "%ld reads beside 1500 writes, %ld torn, %ld failed\n", a.reads, a.torn,
            a.failed);
    assert_true(a.reads > 100);
    assert_int_equal(a.torn, 0);
    assert_int_equal(a.failed, 0);
}

typedef struct {
    store_entity_kind_t kind;
    char out[1024];
    int n, stop_at;
} list_each_arg_t;

static int s_list_seen(const char *id, const store_list_t *l, void *arg)
{
    list_each_arg_t *a = arg;
    size_t used = strlen(a->out);
    (void)snprintf(a->out + used, sizeof a->out - used, "%s%s/%u", a->n ? "," : "", id,
                   (unsigned)l->n);
    return ++a->n == a->stop_at ? 7 : 0;
}

static int s_fn_list_each(store_txn_t *txn, void *arg)
{
    list_each_arg_t *a = arg;
    return store_list_each(txn, a->kind, s_list_seen, a);
}

static void test_list_each(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const two[] = {"x-1:2", "x-2:1", NULL};
    static const char *const ids[] = {"v-c", "v-a", "v-b"};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_list(&l, two);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, ids[i], &l), 0);
    l.n = 1;
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-a", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "w", &l), 0); /* sorts after 'v' */
    list_each_arg_t a = {STORE_ENTITY_VACANCY, "", 0, 0};
    assert_int_equal(store_read(fx->st, s_fn_list_each, &a), 0);
    assert_string_equal(a.out, "v-a/2,v-b/2,v-c/2");
    list_each_arg_t b = {STORE_ENTITY_GRADUATE, "", 0, 0};
    assert_int_equal(store_read(fx->st, s_fn_list_each, &b), 0);
    assert_string_equal(b.out, "g-a/1,w/1");
    list_each_arg_t c = {STORE_ENTITY_VACANCY, "", 0, 2};
    assert_int_equal(store_read(fx->st, s_fn_list_each, &c), 7);
    assert_string_equal(c.out, "v-a/2,v-b/2");
}

/* A list that no longer decodes reads as STORE_ECORRUPT; a put replaces it
 * and sweeps its membership rows, so no stale membership survives. */
static void test_list_damaged_is_replaced(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const v1[] = {"g-a:9", "g-b:8", NULL};
    static const char *const v1_new[] = {"g-c:9", NULL};
    static const uint8_t junk[] = {0x4c, 0x02, 0x00, 0xff};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "v-1", &l), 0); /* same id */
    store_destroy(&fx->st);
    s_raw_put(fx->dir, "lists", "vv-1", 4, junk, sizeof junk);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_list_get(fx->st, STORE_ENTITY_VACANCY, "v-1"), STORE_ECORRUPT);
    assert_non_null(strstr(s_logs, "vacancy list 'v-1': stored list (4 bytes) does not decode"));
    s_list(&l, v1_new);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "g-c:9");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-a"), "v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-c"), "v-1");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "g-a"), "v-1"); /* kept */
    assert_int_equal(s_lg.count_v, 2);
}

/* ---- match log ------------------------------------------------------------------------ */

typedef struct {
    store_match_t m;
    uint64_t last, first;
} match_arg_t;

static int s_fn_match_append(store_txn_t *txn, void *arg)
{
    return store_match_append(txn, &((match_arg_t *)arg)->m);
}

static void s_match(match_arg_t *a, uint64_t seq, int64_t at_ms, const char *graduate_id)
{
    static char payload[32];
    memset(a, 0, sizeof *a);
    a->m.seq = seq;
    a->m.at_ms = at_ms;
    a->m.graduate_id = graduate_id;
    a->m.n_topics = 2;
    a->m.topics[0] = "match/vacancy/v-1";
    a->m.topics[1] = "match/school/school-0420";
    (void)snprintf(payload, sizeof payload, "update-%llu", (unsigned long long)seq);
    a->m.payload = payload;
    a->m.payload_len = strlen(payload);
}

static int s_match_append(store_t *st, uint64_t seq, int64_t at_ms, const char *graduate_id)
{
    match_arg_t a;
    s_match(&a, seq, at_ms, graduate_id);
    return store_write(st, s_fn_match_append, &a);
}

typedef struct {
    uint64_t after;
    char out[4096];
    int n, stop_at;
    int check; /* check each record's fields against s_match() */
} match_each_arg_t;

static int s_match_seen(const store_match_t *m, void *arg)
{
    match_each_arg_t *a = arg;
    size_t used = strlen(a->out);
    (void)snprintf(a->out + used, sizeof a->out - used, "%s%llu", a->n ? "," : "",
                   (unsigned long long)m->seq);
    if (a->check) {
        char payload[32];
        (void)snprintf(payload, sizeof payload, "update-%llu", (unsigned long long)m->seq);
        assert_int_equal(m->at_ms, 1000 * (int64_t)m->seq);
        assert_int_equal(m->n_topics, 2);
        assert_string_equal(m->topics[0], "match/vacancy/v-1");
        assert_string_equal(m->topics[1], "match/school/school-0420");
        assert_null(m->topics[2]);
        assert_int_equal(m->payload_len, strlen(payload));
        assert_memory_equal(m->payload, payload, m->payload_len);
    }
    return ++a->n == a->stop_at ? 9 : 0;
}

static int s_fn_match_each(store_txn_t *txn, void *arg)
{
    match_each_arg_t *a = arg;
    return store_match_each(txn, a->after, s_match_seen, a);
}

/* Sequence numbers of the stored matches after seq after, "1,2,3". */
static const char *s_matches(store_t *st, uint64_t after)
{
    static match_each_arg_t a;
    memset(&a, 0, sizeof a);
    a.after = after;
    assert_int_equal(store_read(st, s_fn_match_each, &a), 0);
    return a.out;
}

static int s_fn_match_seqs(store_txn_t *txn, void *arg)
{
    match_arg_t *a = arg;
    a->last = store_match_last(txn);
    a->first = store_match_first(txn);
    return 0;
}

/* (first, last) as "first/last". */
static const char *s_match_seqs(store_t *st)
{
    static char out[64];
    match_arg_t a;
    assert_int_equal(store_read(st, s_fn_match_seqs, &a), 0);
    (void)snprintf(out, sizeof out, "%llu/%llu", (unsigned long long)a.first,
                   (unsigned long long)a.last);
    return out;
}

/* Graduate ids of matches 1..6. */
static const char *const S_MATCH_GIDS[] = {"g-1", "g-2", "", "g-1", "g-2", ""};

static void s_six_matches(store_t *st)
{
    for (uint64_t seq = 1; seq <= 6; seq++)
        assert_int_equal(s_match_append(st, seq, 1000 * (int64_t)seq, S_MATCH_GIDS[seq - 1]), 0);
}

static void test_match_append_and_each(void **state)
{
    fx_t *fx = *state;
    match_arg_t a;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    assert_string_equal(s_match_seqs(fx->st), "0/0");
    assert_string_equal(s_matches(fx->st, 0), "");
    assert_int_equal(s_match_append(fx->st, 2, 1, "g-1"), STORE_EINVAL); /* must be last + 1 */
    assert_int_equal(s_match_append(fx->st, 0, 1, "g-1"), STORE_EINVAL);
    s_six_matches(fx->st);
    assert_int_equal(s_match_append(fx->st, 6, 1, "g-1"), STORE_EINVAL);
    assert_int_equal(s_match_append(fx->st, 8, 1, "g-1"), STORE_EINVAL);
    assert_string_equal(s_match_seqs(fx->st), "1/6");
    /* from the middle, in order, every field */
    match_each_arg_t e = {3, "", 0, 0, 1};
    assert_int_equal(store_read(fx->st, s_fn_match_each, &e), 0);
    assert_string_equal(e.out, "4,5,6");
    assert_string_equal(s_matches(fx->st, 0), "1,2,3,4,5,6");
    assert_string_equal(s_matches(fx->st, 6), "");
    assert_string_equal(s_matches(fx->st, UINT64_MAX), "");
    /* stop early */
    match_each_arg_t stop = {1, "", 0, 2, 0};
    assert_int_equal(store_read(fx->st, s_fn_match_each, &stop), 9);
    assert_string_equal(stop.out, "2,3");
    /* bad matches are refused */
    s_match(&a, 7, 1, NULL);
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    s_match(&a, 7, 1, "g-1");
    a.m.n_topics = 0;
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    a.m.n_topics = STORE_TOPICS_MAX + 1;
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    s_match(&a, 7, 1, "g-1");
    a.m.topics[1] = "";
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    static char long_topic[STORE_TOPIC_MAX + 2];
    memset(long_topic, 't', sizeof long_topic - 1);
    a.m.topics[1] = long_topic;
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    long_topic[STORE_TOPIC_MAX] = '\0'; /* the longest allowed */
    a.m.n_topics = STORE_TOPICS_MAX;
    a.m.topics[2] = a.m.topics[3] = "t";
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), 0);
    s_match(&a, 8, 1, "g-1");
    a.m.payload = NULL;
    assert_int_equal(store_write(fx->st, s_fn_match_append, &a), STORE_EINVAL);
    assert_int_equal(store_read(fx->st, s_fn_match_append, &a), STORE_EINVAL); /* read txn */
    assert_string_equal(s_match_seqs(fx->st), "1/7");
    s_reopen(fx, 0, 0);
    assert_string_equal(s_matches(fx->st, 5), "6,7");
}

typedef struct {
    const char *id;
    size_t removed;
    uint64_t upto;
    int64_t before_ms;
    size_t max;
} match_del_arg_t;

static int s_fn_match_erase(store_txn_t *txn, void *arg)
{
    match_del_arg_t *a = arg;
    return store_match_erase_graduate(txn, a->id, &a->removed);
}

static size_t s_match_erase(store_t *st, const char *id)
{
    match_del_arg_t a = {id, 99, 0, 0, 0};
    assert_int_equal(store_write(st, s_fn_match_erase, &a), 0);
    return a.removed;
}

static int s_fn_match_purge(store_txn_t *txn, void *arg)
{
    match_del_arg_t *a = arg;
    return store_match_purge(txn, a->upto, a->before_ms, a->max, &a->removed);
}

static size_t s_match_purge(store_t *st, uint64_t upto, int64_t before_ms, size_t max)
{
    match_del_arg_t a = {NULL, 99, upto, before_ms, max};
    assert_int_equal(store_write(st, s_fn_match_purge, &a), 0);
    return a.removed;
}

static void test_match_erase_graduate(void **state)
{
    fx_t *fx = *state;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_six_matches(fx->st);
    assert_int_equal(s_match_erase(fx->st, "g-1"), 2);
    assert_string_equal(s_matches(fx->st, 0), "2,3,5,6");
    assert_int_equal(s_match_erase(fx->st, "g-1"), 0);
    assert_int_equal(s_match_erase(fx->st, "g-9"), 0);
    match_del_arg_t a = {"", 0, 0, 0, 0};
    assert_int_equal(store_write(fx->st, s_fn_match_erase, &a), STORE_EINVAL);
    assert_int_equal(s_match_erase(fx->st, "g-2"), 2);
    assert_string_equal(s_matches(fx->st, 0), "3,6"); /* filed under nobody: kept */
    /* erasing the newest never makes its number reusable */
    assert_int_equal(s_match_append(fx->st, 7, 7000, "g-3"), 0);
    assert_int_equal(s_match_erase(fx->st, "g-3"), 1);
    assert_string_equal(s_match_seqs(fx->st), "3/7");
    assert_int_equal(s_match_append(fx->st, 7, 7000, "g-4"), STORE_EINVAL);
    s_reopen(fx, 0, 0);
    assert_int_equal(s_match_append(fx->st, 7, 7000, "g-4"), STORE_EINVAL);
    assert_int_equal(s_match_append(fx->st, 8, 8000, "g-4"), 0);
    assert_string_equal(s_matches(fx->st, 0), "3,6,8");
    assert_int_equal(s_entries(fx, "match_blocks"), 0); /* no block complete yet */
}

static void test_match_purge(void **state)
{
    fx_t *fx = *state;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    assert_int_equal(s_match_purge(fx->st, 10, 0, 100), 0); /* empty: fine */
    for (uint64_t seq = 1; seq <= 10; seq++) {
        const char *gid = seq % 2 ? "g-odd" : "g-even";
        assert_int_equal(s_match_append(fx->st, seq, 1000 * (int64_t)seq, gid), 0);
    }
    assert_int_equal(s_match_purge(fx->st, 0, 0, 100), 0); /* no limit given: nothing */
    assert_int_equal(s_match_purge(fx->st, 3, 0, 0), 0);   /* max 0: nothing */
    /* by sequence number */
    assert_int_equal(s_match_purge(fx->st, 3, 0, 100), 3);
    assert_string_equal(s_match_seqs(fx->st), "4/10");
    /* by age: written before 6000 ms are 4 and 5 */
    assert_int_equal(s_match_purge(fx->st, 0, 6000, 100), 2);
    assert_string_equal(s_match_seqs(fx->st), "6/10");
    /* either limit, whichever reaches further */
    assert_int_equal(s_match_purge(fx->st, 6, 8000, 100), 2);
    assert_string_equal(s_matches(fx->st, 0), "8,9,10");
    /* at most max per call */
    assert_int_equal(s_match_purge(fx->st, UINT64_MAX, 0, 2), 2);
    assert_string_equal(s_match_seqs(fx->st), "10/10");
    assert_int_equal(s_match_erase(fx->st, "g-odd"), 0);
    assert_int_equal(s_match_erase(fx->st, "g-even"), 1);
    assert_string_equal(s_match_seqs(fx->st), "0/10"); /* empty, numbers go on */
    assert_int_equal(s_match_append(fx->st, 11, 11000, "g-odd"), 0);
    assert_string_equal(s_match_seqs(fx->st), "11/11");
}

/* ---- the match log's index for erasure, by blocks ------------------------------------- */

#define S_B STORE_MATCH_BLOCK_ROWS

/* FNV-1a of a graduate id: the hash match_blocks files it under (part of
 * the on-disk format, store_match.c). */
static uint32_t s_fnv(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id != '\0'; id++) {
        h ^= (uint8_t)*id;
        h *= 16777619u;
    }
    return h;
}

/* Two ids "c-N" and "c-M" whose hashes collide: a birthday search. */
static char s_coll_a[16], s_coll_b[16];

static void s_colliding_ids(void)
{
    size_t cap = (size_t)1 << 22;
    uint32_t *hv = calloc(cap, sizeof *hv), *at = calloc(cap, sizeof *at);
    char id[16];
    assert_non_null(hv);
    assert_non_null(at);
    for (uint32_t i = 1; i < 2000000; i++) {
        (void)snprintf(id, sizeof id, "c-%u", i);
        uint32_t h = s_fnv(id);
        size_t slot = h & (cap - 1);
        while (at[slot] != 0 && hv[slot] != h)
            slot = (slot + 1) & (cap - 1);
        if (at[slot] != 0) {
            (void)snprintf(s_coll_a, sizeof s_coll_a, "c-%u", at[slot]);
            (void)snprintf(s_coll_b, sizeof s_coll_b, "%s", id);
            break;
        }
        hv[slot] = h;
        at[slot] = i;
    }
    free(hv);
    free(at);
    assert_true(s_coll_a[0] != '\0');
    assert_int_equal(s_fnv(s_coll_a), s_fnv(s_coll_b));
    assert_string_not_equal(s_coll_a, s_coll_b);
}

/* The graduate match seq names in the blocks tests: the two colliding ids
 * in every block and the tail, "g-c" in blocks 0 and 2 and the tail only,
 * nobody now and then, 50 others. */
static const char *s_block_gid(uint64_t seq)
{
    static char buf[16];
    if (seq % 1000 == 1)
        return s_coll_a;
    if (seq % 1000 == 2)
        return s_coll_b;
    if (seq == 100 || seq == 2 * S_B + 5 || seq == 3 * S_B + 400)
        return "g-c";
    if (seq % 7 == 0)
        return "";
    (void)snprintf(buf, sizeof buf, "g-%02u", (unsigned)(seq % 50));
    return buf;
}

typedef struct {
    uint64_t from, to;
} match_range_t;

/* Append matches from..to in one transaction, graduates by s_block_gid. */
static int s_fn_match_range(store_txn_t *txn, void *arg)
{
    match_range_t *r = arg;
    for (uint64_t seq = r->from; seq <= r->to; seq++) {
        match_arg_t a;
        char gid[16];
        (void)snprintf(gid, sizeof gid, "%s", s_block_gid(seq));
        s_match(&a, seq, 1000 * (int64_t)seq, gid);
        int rc = store_match_append(txn, &a.m);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Append matches from..to, 1,000 per transaction. */
static void s_match_range(store_t *st, uint64_t from, uint64_t to)
{
    for (uint64_t a = from; a <= to; a += 1000) {
        match_range_t r = {a, a + 999 < to ? a + 999 : to};
        assert_int_equal(store_write(st, s_fn_match_range, &r), 0);
    }
}

static int s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Index rows expected: distinct (block, hash) over matches first..last of
 * the complete blocks up to last_seq that name a graduate, but for those
 * up to gone_upto that name one of gone (erased). */
static size_t s_block_rows(uint64_t first, uint64_t last_seq, const char *const *gone,
                           uint64_t gone_upto)
{
    size_t n = 0;
    uint32_t *seen = malloc(S_B * sizeof *seen);
    assert_non_null(seen);
    for (uint64_t b = (first - 1) / S_B; b < last_seq / S_B; b++) {
        size_t k = 0;
        for (uint64_t seq = b * S_B + 1; seq <= (b + 1) * S_B; seq++) {
            if (seq < first)
                continue;
            const char *g = s_block_gid(seq);
            int skip = *g == '\0';
            for (const char *const *x = gone; !skip && seq <= gone_upto && x && *x; x++)
                skip = strcmp(*x, g) == 0;
            if (skip)
                continue;
            seen[k++] = s_fnv(g);
        }
        qsort(seen, k, sizeof *seen, s_u32_cmp);
        for (size_t i = 0; i < k; i++)
            n += i == 0 || seen[i] != seen[i - 1];
    }
    free(seen);
    return n;
}

typedef struct {
    const char *id;
    size_t named, all;
} match_count_t;

static int s_match_counted(const store_match_t *m, void *arg)
{
    match_count_t *c = arg;
    c->all++;
    c->named += strcmp(m->graduate_id, c->id) == 0;
    return 0;
}

static int s_fn_match_count(store_txn_t *txn, void *arg)
{
    return store_match_each(txn, 0, s_match_counted, arg);
}

/* Stored matches naming id; *all (may be NULL) gets every stored match. */
static size_t s_match_named(store_t *st, const char *id, size_t *all)
{
    match_count_t c = {id, 0, 0};
    assert_int_equal(store_read(st, s_fn_match_count, &c), 0);
    if (all != NULL)
        *all = c.all;
    return c.named;
}

/* Matches first..last naming id by s_block_gid. */
static size_t s_block_named(uint64_t first, uint64_t last, const char *id)
{
    size_t n = 0;
    for (uint64_t seq = first; seq <= last; seq++)
        n += strcmp(s_block_gid(seq), id) == 0;
    return n;
}

static void test_match_blocks(void **state)
{
    fx_t *fx = *state;
    int err;
    size_t all = 0, before = 0;
    const uint64_t last = 3 * S_B + 500;
    s_colliding_ids();
    fx->st = s_open(fx, 0, 0, &err);
    s_match_range(fx->st, 1, last);
    assert_int_equal(s_entries(fx, "match_blocks"), s_block_rows(1, last, NULL, UINT64_MAX));
    assert_true(s_block_rows(1, last, NULL, UINT64_MAX) > 3 * 50);

    /* the colliding ids share their index rows: erasing one leaves the
     * other's matches and the rows */
    size_t na = s_block_named(1, last, s_coll_a), nb = s_block_named(1, last, s_coll_b);
    assert_int_equal(na, last / 1000 + 1);
    assert_int_equal(nb, last / 1000 + 1);
    assert_int_equal(s_match_named(fx->st, s_coll_b, &before), nb);
    assert_int_equal(s_match_erase(fx->st, s_coll_a), na);
    assert_int_equal(s_match_named(fx->st, s_coll_a, &all), 0);
    assert_int_equal(all, before - na);
    assert_int_equal(s_match_named(fx->st, s_coll_b, NULL), nb);
    const char *gone1[] = {s_coll_a, NULL};
    assert_int_equal(s_block_rows(1, last, gone1, UINT64_MAX),
                     s_block_rows(1, last, NULL, UINT64_MAX));
    assert_int_equal(s_entries(fx, "match_blocks"), s_block_rows(1, last, NULL, UINT64_MAX));
    assert_int_equal(s_match_erase(fx->st, s_coll_b), nb);
    const char *gone2[] = {s_coll_a, s_coll_b, NULL};
    assert_int_equal(s_entries(fx, "match_blocks"), s_block_rows(1, last, gone2, UINT64_MAX));
    assert_true(s_block_rows(1, last, gone2, UINT64_MAX) < s_block_rows(1, last, NULL, UINT64_MAX));

    /* an id in blocks 0 and 2 and the tail, not in block 1 */
    assert_int_equal(s_match_erase(fx->st, "g-c"), 3);
    assert_int_equal(s_match_named(fx->st, "g-c", &all), 0);
    assert_int_equal(all, before - na - nb - 3);
    const char *gone3[] = {s_coll_a, s_coll_b, "g-c", NULL};
    assert_int_equal(s_entries(fx, "match_blocks"), s_block_rows(1, last, gone3, UINT64_MAX));
    assert_int_equal(s_match_erase(fx->st, "g-c"), 0);

    /* a purge drops the index rows of the blocks it emptied, and only those */
    assert_int_equal(s_match_purge(fx->st, S_B + 10, 0, SIZE_MAX),
                     S_B + 10 - s_block_named(1, S_B + 10, s_coll_a) -
                         s_block_named(1, S_B + 10, s_coll_b) - s_block_named(1, S_B + 10, "g-c"));
    size_t rows = s_block_rows(S_B + 1, last, gone3, UINT64_MAX); /* block 1 as indexed */
    assert_int_equal(s_entries(fx, "match_blocks"), rows);
    size_t n7 = s_block_named(S_B + 11, last, "g-07");
    assert_true(n7 > 0);
    assert_int_equal(s_match_erase(fx->st, "g-07"), n7);
    assert_int_equal(s_match_named(fx->st, "g-07", NULL), 0);

    /* after a restart: the tail's block completes, and is indexed */
    s_reopen(fx, 0, 0);
    assert_int_equal(s_match_erase(fx->st, "g-07"), 0);
    s_match_range(fx->st, last + 1, 4 * S_B + 1);
    const char *gone4[] = {s_coll_a, s_coll_b, "g-c", "g-07", NULL};
    /* block 3 was indexed with its rows as they stood: those erased
     * before the restart not, those appended after it all */
    size_t want = s_block_rows(S_B + 1, 4 * S_B + 1, gone4, last);
    assert_int_equal(s_entries(fx, "match_blocks"), want);
    assert_int_equal(s_match_erase(fx->st, "g-11"), s_block_named(S_B + 11, 4 * S_B + 1, "g-11"));
    assert_int_equal(s_match_named(fx->st, "g-11", NULL), 0);

    /* everything purged: no index row left */
    assert_int_equal(s_match_purge(fx->st, UINT64_MAX, 0, SIZE_MAX) > 0, 1);
    assert_int_equal(s_entries(fx, "match_blocks"), 0);
}

/* Entries of table name in the closed store at dir, -1 if it is missing. */
static long s_raw_entries_or_missing(const char *dir, const char *table)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st = {0};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    int rc = mdb_dbi_open(txn, table, 0, &dbi);
    if (rc == 0)
        assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc == MDB_NOTFOUND ? -1 : (long)st.ms_entries;
}

typedef struct {
    int calls;
    char last[256];
} progress_seen_t;

static void s_progress(const char *status, void *arg)
{
    progress_seen_t *p = arg;
    p->calls++;
    (void)snprintf(p->last, sizeof p->last, "%s", status);
}

static void test_upgrade_v2_match_index(void **state)
{
    fx_t *fx = *state;
    int err = 0;
    const uint64_t last = 2 * S_B + 10;
    s_colliding_ids();
    fx->st = s_open(fx, 0, 0, &err);
    s_match_range(fx->st, 1, last);
    assert_int_equal(s_match_purge(fx->st, 50, 0, SIZE_MAX), 50);
    store_destroy(&fx->st);
    store_v2_make(fx->dir, s_block_gid);
    assert_int_equal(s_raw_entries_or_missing(fx->dir, "match_blocks"), -1);
    long filed = s_raw_entries_or_missing(fx->dir, "match_by_graduate");
    assert_true(filed > (long)S_B);

    /* read-only, a format-2 store is read as it is */
    store_options_t ro = {.read_only = 1};
    store_t *st = store_new(fx->dir, &ro, &err);
    assert_non_null(st);
    size_t all = 0;
    assert_int_equal(s_match_named(st, "g-c", &all), 2);
    assert_int_equal(all, last - 50);
    store_destroy(&st);
    assert_int_equal(s_raw_entries_or_missing(fx->dir, "match_blocks"), -1);

    /* opened for writing, it is upgraded: match_by_graduate dropped, the
     * complete blocks indexed (the progress callback told when it began
     * and when it ended), and erasure finds what they hold */
    s_logs[0] = '\0';
    progress_seen_t seen = {0, ""};
    store_options_t po = {.writemap = s_writemap, .progress = s_progress, .progress_arg = &seen};
    fx->st = store_new(fx->dir, &po, &err);
    assert_non_null(fx->st);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(seen.last, "upgrading the store: 2 of 2 blocks of the match log indexed");
    assert_non_null(strstr(s_logs, "upgrading the store: 0 of 2 blocks of the match log indexed"));
    assert_non_null(strstr(s_logs, "on-disk format version 2, this matcherd writes version 5: "
                                   "upgrading the store to version 5"));
    assert_non_null(strstr(s_logs, "upgrade: dropped table match_by_graduate"));
    assert_non_null(strstr(s_logs, "match_blocks built (2 blocks of 16384"));
    assert_non_null(strstr(s_logs, "format version 5 written"));
    store_destroy(&fx->st);
    assert_int_equal(s_raw_entries_or_missing(fx->dir, "match_by_graduate"), -1);
    assert_int_equal(s_raw_entries_or_missing(fx->dir, "match_blocks"),
                     (long)s_block_rows(51, last, NULL, UINT64_MAX));
    s_reopen(fx, 0, 0);
    assert_int_equal(s_match_erase(fx->st, "g-c"), 2); /* blocks 0 and 2: indexed and tail */
    assert_int_equal(s_match_erase(fx->st, s_coll_a), s_block_named(51, last, s_coll_a));
    assert_int_equal(s_match_named(fx->st, s_coll_b, NULL), s_block_named(51, last, s_coll_b));
    s_logs[0] = '\0';
    s_reopen(fx, 0, 0);
    assert_null(strstr(s_logs, "upgrad")); /* once */
}

/* ---- meta strings ---------------------------------------------------------------------- */

typedef struct {
    const char *name, *value;
    char out[300];
    size_t size;
} meta_arg_t;

static int s_fn_meta_put(store_txn_t *txn, void *arg)
{
    meta_arg_t *a = arg;
    return store_meta_put_str(txn, a->name, a->value);
}

static int s_fn_meta_get(store_txn_t *txn, void *arg)
{
    meta_arg_t *a = arg;
    return store_meta_get_str(txn, a->name, a->out, a->size);
}

static int s_meta_put(store_t *st, const char *name, const char *value)
{
    meta_arg_t a = {name, value, "", 0};
    return store_write(st, s_fn_meta_put, &a);
}

static meta_arg_t s_meta; /* the last s_meta_get */

static int s_meta_get(store_t *st, const char *name, size_t size)
{
    memset(&s_meta, 'z', sizeof s_meta);
    s_meta.name = name;
    s_meta.size = size;
    return store_read(st, s_fn_meta_get, &s_meta);
}

static void test_meta_strings(void **state)
{
    fx_t *fx = *state;
    char name33[34], value257[258];
    int err;
    memset(name33, 'n', sizeof name33 - 1);
    name33[sizeof name33 - 1] = '\0';
    memset(value257, 'v', sizeof value257 - 1);
    value257[sizeof value257 - 1] = '\0';
    fx->st = s_open(fx, 0, 0, &err);
    assert_int_equal(s_meta_get(fx->st, "reference", sizeof s_meta.out), STORE_ENOTFOUND);
    assert_int_equal(s_meta_put(fx->st, "reference", "rome-v460/rncp-2026-11"), 0);
    assert_int_equal(s_meta_get(fx->st, "reference", sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, "rome-v460/rncp-2026-11");
    assert_int_equal(s_meta_get(fx->st, "reference", 5), 0); /* truncated, terminated */
    assert_string_equal(s_meta.out, "rome");
    assert_int_equal(s_meta_get(fx->st, "reference", 0), STORE_EINVAL);
    /* limits */
    assert_int_equal(s_meta_put(fx->st, "", "x"), STORE_EINVAL);
    assert_int_equal(s_meta_put(fx->st, name33, "x"), STORE_EINVAL);
    assert_int_equal(s_meta_put(fx->st, "reference", value257), STORE_EINVAL);
    assert_int_equal(s_meta_put(fx->st, "reference", NULL), STORE_EINVAL);
    name33[32] = '\0';
    value257[256] = '\0';
    assert_int_equal(s_meta_put(fx->st, name33, value257), 0);
    assert_int_equal(s_meta_get(fx->st, name33, sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, value257);
    assert_int_equal(s_meta_put(fx->st, "empty", ""), 0);
    assert_int_equal(s_meta_get(fx->st, "empty", sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, "");
    meta_arg_t a = {"x", "y", "", 0};
    assert_int_equal(store_read(fx->st, s_fn_meta_put, &a), STORE_EINVAL); /* read txn */
    /* names of counters do not clash with them */
    store_graduate_t g;
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, NULL, NULL, 0, 0);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_meta_put(fx->st, "graduates", "many"), 0);
    assert_int_equal(s_meta_put(fx->st, "format", "mine"), 0);
    s_reopen(fx, 0, 0); /* the format version is intact */
    assert_int_equal(s_meta_get(fx->st, "graduates", sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, "many");
    assert_int_equal(s_meta_get(fx->st, "reference", sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, "rome-v460/rncp-2026-11");
}

/* The feed's saved topics: rows of meta beside the counters and strings. */
typedef struct {
    const char *topics[4];
    uint64_t seqs[4];
    size_t n;
    uint64_t upto;
    int rc[3];
} topics_arg_t;

static int s_fn_topics_put(store_txn_t *txn, void *arg)
{
    topics_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        int rc = store_topic_put(txn, a->topics[i], a->seqs[i]);
        if (rc != 0)
            return rc;
    }
    return a->upto ? store_topics_upto_put(txn, a->upto) : 0;
}

typedef struct {
    char topics[8][STORE_TOPIC_MAX + 1];
    uint64_t seqs[8];
    size_t n, stop_after;
    uint64_t upto;
} topics_seen_t;

static int s_topic_seen(const char *topic, uint64_t seq, void *arg)
{
    topics_seen_t *t = arg;
    assert_true(t->n < 8);
    snprintf(t->topics[t->n], sizeof t->topics[t->n], "%s", topic);
    t->seqs[t->n++] = seq;
    return t->stop_after && t->n == t->stop_after ? 7 : 0;
}

static int s_fn_topics_clear(store_txn_t *txn, void *arg)
{
    (void)arg;
    return store_topics_clear(txn);
}

static int s_fn_topics_read(store_txn_t *txn, void *arg)
{
    topics_seen_t *t = arg;
    t->upto = store_topics_upto(txn);
    return store_topics_each(txn, s_topic_seen, t);
}

static void test_topics_saved(void **state)
{
    fx_t *fx = *state;
    char long_topic[STORE_TOPIC_MAX + 2];
    topics_seen_t seen;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_read(fx->st, s_fn_topics_read, &seen), 0);
    assert_int_equal(seen.n, 0);
    assert_int_equal(seen.upto, 0); /* never saved: read the whole log */
    /* beside counters ("graduates") and strings ("s:..."), in byte order */
    store_graduate_t g;
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, NULL, NULL, 0, 0);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    assert_int_equal(s_meta_put(fx->st, "tz", "x"), 0);
    topics_arg_t a = {{"school/0650043X", "employer/12345678900012", "region/76/metalworking"},
                      {7, 12, 3},
                      3,
                      12,
                      {0}};
    assert_int_equal(store_write(fx->st, s_fn_topics_put, &a), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_read(fx->st, s_fn_topics_read, &seen), 0);
    assert_int_equal(seen.upto, 12);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.topics[0], "employer/12345678900012");
    assert_int_equal(seen.seqs[0], 12);
    assert_string_equal(seen.topics[1], "region/76/metalworking");
    assert_int_equal(seen.seqs[1], 3);
    assert_string_equal(seen.topics[2], "school/0650043X");
    assert_int_equal(seen.seqs[2], 7);
    /* a later value replaces; fn's non-zero ends the walk and is returned */
    topics_arg_t b = {{"region/76/metalworking"}, {15}, 1, 15, {0}};
    assert_int_equal(store_write(fx->st, s_fn_topics_put, &b), 0);
    memset(&seen, 0, sizeof seen);
    seen.stop_after = 2;
    assert_int_equal(store_read(fx->st, s_fn_topics_read, &seen), 7);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.seqs[1], 15);
    assert_int_equal(seen.upto, 15);
    /* limits: 1..STORE_TOPIC_MAX bytes, a write transaction */
    memset(long_topic, 't', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    topics_arg_t bad = {{""}, {1}, 1, 0, {0}};
    assert_int_equal(store_write(fx->st, s_fn_topics_put, &bad), STORE_EINVAL);
    bad.topics[0] = long_topic;
    assert_int_equal(store_write(fx->st, s_fn_topics_put, &bad), STORE_EINVAL);
    long_topic[STORE_TOPIC_MAX] = '\0';
    assert_int_equal(store_write(fx->st, s_fn_topics_put, &bad), 0);
    bad.topics[0] = "school/x";
    assert_int_equal(store_read(fx->st, s_fn_topics_put, &bad), STORE_EINVAL);
    /* counters and strings are intact */
    assert_int_equal(s_meta_get(fx->st, "tz", sizeof s_meta.out), 0);
    assert_string_equal(s_meta.out, "x");
    /* a damaged row is reported, not skipped */
    store_destroy(&fx->st);
    s_raw_put(fx->dir, "meta", "t:region/xx", 11, "abc", 3);
    fx->st = s_open(fx, 0, 0, &err);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_read(fx->st, s_fn_topics_read, &seen), STORE_ECORRUPT);
    /* clearing deletes every saved row, the damaged one too, and the cover */
    assert_int_equal(store_write(fx->st, s_fn_topics_clear, NULL), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_read(fx->st, s_fn_topics_read, &seen), 0);
    assert_int_equal(seen.n, 0);
    assert_int_equal(seen.upto, 0);
    assert_int_equal(s_meta_get(fx->st, "tz", sizeof s_meta.out), 0);
    assert_int_equal(store_read(fx->st, s_fn_topics_clear, NULL), STORE_EINVAL);
}

/* ---- erasure of lists and matches, statistics ------------------------------------------ */

static void test_graduate_erase_removes_lists_and_matches(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const own[] = {"v-1:9", "v-2:8", NULL};
    static const char *const v1[] = {"g-1:9", "g-2:8", NULL};
    static const char *const v2[] = {"g-2:8", NULL};
    store_graduate_t g;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_graduate(&g, "g-1", 1, STORE_STATE_OPEN, G_SKILLS1, NULL, 45.76, 4.83);
    s_romes(&g, G_ROMES1);
    assert_int_equal(s_put_g(fx->st, &g), 0);
    s_list(&l, own);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-1", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-2", &l), 0);
    s_list(&l, v1); /* against the contract, v-1 still lists g-1 */
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    s_list(&l, v2);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    s_six_matches(fx->st);
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-1"), 0);
    assert_int_equal(s_near(fx->st, STORE_ENTITY_GRADUATE, LYON, 'r', "H2913"), 0);
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_GRADUATE, "g-1"), "");
    assert_int_equal(s_lg.count_g, 1);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "v-1"), "g-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "v-2"), "g-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-1"), "");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-2"), "v-1,v-2");
    assert_non_null(strstr(s_logs, "erasing graduate 'g-1': still listed by 1 vacancy list(s)"));
    /* documented: the stray entry stays in v-1's value until v-1 is rewritten */
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "g-1:9,g-2:8");
    s_list(&l, v2);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-2"), "v-1,v-2");
    assert_string_equal(s_matches(fx->st, 0), "2,3,5,6");
    /* traces without a record are erased too; then nothing is left */
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-2"), 0);
    assert_string_equal(s_matches(fx->st, 0), "3,6");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-2"), "");
    assert_int_equal(store_write(fx->st, s_fn_erase_g, "g-2"), STORE_ENOTFOUND);
    assert_int_equal(s_entries(fx, "list_members"), 0);
    assert_int_equal(s_entries(fx, "lists"), 2); /* v-1 and v-2, now empty of members */
}

static void test_vacancy_erase_removes_lists(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const v1[] = {"g-1:9", "g-2:8", NULL};
    static const char *const g1[] = {"v-1:9", "v-2:8", NULL};
    store_vacancy_t v;
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    s_vacancy(&v, "v-1", 1, STORE_STATE_OPEN, NULL, NULL, NULL, NULL);
    assert_int_equal(s_put_v(fx->st, &v), 0);
    s_list(&l, v1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    s_list(&l, g1);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-1", &l), 0);
    assert_int_equal(store_write(fx->st, s_fn_erase_v, "v-1"), 0);
    assert_string_equal(s_list_str(fx->st, STORE_ENTITY_VACANCY, "v-1"), "");
    assert_int_equal(s_lg.count_v, 1);
    assert_int_equal(s_lg.count_g, 1);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-1"), "v-2");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "v-1"), "");
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_GRADUATE, "v-2"), "g-1");
    /* a vacancy known only by its list is still found and erased */
    assert_int_equal(store_write(fx->st, s_fn_erase_v, "v-2"), 0);
    assert_int_equal(store_write(fx->st, s_fn_erase_v, "v-2"), STORE_ENOTFOUND);
    assert_string_equal(s_owners(fx->st, STORE_ENTITY_VACANCY, "g-1"), "");
}

static void test_stats_lists_and_matches(void **state)
{
    fx_t *fx = *state;
    static store_list_t l;
    static const char *const one[] = {"x:1", NULL};
    int err;
    fx->st = s_open(fx, 0, 0, &err);
    store_stats_t s = s_stats(fx->st);
    assert_int_equal(s.vacancy_lists, 0);
    assert_int_equal(s.graduate_lists, 0);
    assert_int_equal(s.matches, 0);
    assert_int_equal(s.matches_first, 0);
    s_list(&l, one);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-2", &l), 0); /* replaced */
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_GRADUATE, "g-1", &l), 0);
    s_six_matches(fx->st);
    assert_int_equal(s_match_purge(fx->st, 2, 0, 10), 2);
    s = s_stats(fx->st);
    assert_int_equal(s.vacancy_lists, 2);
    assert_int_equal(s.graduate_lists, 1);
    assert_int_equal(s.matches, 6);
    assert_int_equal(s.matches_first, 3);
    assert_int_equal(s.events, 0); /* the event log is another sequence */
    s_list(&l, NULL);
    assert_int_equal(s_list_put(fx->st, STORE_ENTITY_VACANCY, "v-1", &l), 0);
    assert_int_equal(s_match_purge(fx->st, 6, 0, 10), 4);
    s = s_stats(fx->st);
    assert_int_equal(s.vacancy_lists, 1);
    assert_int_equal(s.matches, 6);
    assert_int_equal(s.matches_first, 0);
}

/* Truncations and single-byte changes of list and match records: decoded or
 * refused, never read out of bounds (run under ASan). */
static void test_codec_lists_and_matches_never_overread(void **state)
{
    (void)state;
    static store_list_t l, lout;
    static const char *const three[] = {"g-b:900000", "g-a:850000", "g-c:0", NULL};
    match_arg_t a;
    store_match_t mout;
    size_t len, mlen;
    s_list(&l, three);
    assert_int_equal(store_codec_list_size(&l, &len), 0);
    s_match(&a, 1, 1000, "g-1");
    assert_int_equal(store_codec_match_size(&a.m, &mlen), 0);
    uint8_t *buf = malloc(len), *mbuf = malloc(mlen);
    assert_non_null(buf);
    assert_non_null(mbuf);
    store_codec_list_encode(&l, buf, len);
    store_codec_match_encode(&a.m, mbuf, mlen);
    assert_int_equal(store_codec_list_decode(buf, len, &lout), 0);
    assert_memory_equal(&l, &lout, sizeof l);
    assert_int_equal(store_codec_match_decode(mbuf, mlen, &mout), 0);
    assert_string_equal(mout.graduate_id, "g-1");
    for (size_t n = 0; n < len; n++)
        assert_int_equal(store_codec_list_decode(buf, n, &lout), STORE_ECORRUPT);
    for (size_t n = 0; n < mlen; n++)
        assert_int_equal(store_codec_match_decode(mbuf, n, &mout), STORE_ECORRUPT);
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = buf[i];
        buf[i] = 0xff;
        int rc = store_codec_list_decode(buf, len, &lout);
        assert_true(rc == 0 || rc == STORE_ECORRUPT);
        buf[i] = saved;
    }
    for (size_t i = 0; i < mlen; i++) {
        uint8_t saved = mbuf[i];
        mbuf[i] = 0xff;
        int rc = store_codec_match_decode(mbuf, mlen, &mout);
        assert_true(rc == 0 || rc == STORE_ECORRUPT);
        mbuf[i] = saved;
    }
    free(mbuf);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
        T(test_create_reopen_keeps_data),
        T(test_read_only_open),
        T(test_version_refused),
        T(test_garbage_file_refused),
        T(test_second_open_busy),
        T(test_log_dedupe),
        T(test_log_bad_arguments),
        T(test_graduate_round_trip),
        T(test_txn_writes_counted),
        T(test_txn_writes_count_appends_by_page),
        T(test_txn_full_counts_appends),
        T(test_graduate_update_replaces_index_entries),
        T(test_graduate_stale_and_equal_versions),
        T(test_graduate_withdrawn_keeps_record),
        T(test_graduate_erase),
        T(test_vacancy_round_trip_and_indexes),
        T(test_index_each_order_stop_and_long_key),
        T(test_stats_counters),
        T(test_map_grows_from_tiny),
        T(test_map_file_reserved),
        T(test_map_limit_efull),
        T(test_map_grows_once_per_write),
        T(test_ignored_failure_is_not_committed),
        T(test_failed_fn_aborts_everything),
        T(test_corrupt_record),
        T(test_codec_never_overreads),
        T(test_graduate_romes_index),
        T(test_list_round_trip),
        T(test_list_bad_arguments),
        T(test_list_membership_follows_replacements),
        T(test_lists_file_trust),
        T(test_lists_dir),
        T(test_lists_readers_consistent),
        T(test_lists_map_room),
        T(test_lists_written_back),
        T(test_list_each),
        T(test_list_damaged_is_replaced),
        T(test_match_append_and_each),
        T(test_match_erase_graduate),
        T(test_match_purge),
        T(test_match_blocks),
        T(test_upgrade_v2_match_index),
        T(test_meta_strings),
        T(test_topics_saved),
        T(test_graduate_erase_removes_lists_and_matches),
        T(test_vacancy_erase_removes_lists),
        T(test_stats_lists_and_matches),
        T(test_codec_lists_and_matches_never_overread),
#undef T
    };
    s_writemap = getenv("PASSERELLE_TEST_WRITEMAP") != NULL;
    return cmocka_run_group_tests_name(s_writemap ? "store (writable map)" : "store", tests, NULL,
                                       NULL);
}
