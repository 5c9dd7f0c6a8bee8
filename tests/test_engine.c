/* test_engine.c - the matching engine against the real reference data:
 * hand-built cases with expected orderings and explanations, and an
 * oracle test in which a brute-force scorer (every pair, no index;
 * tests/oracle.c) recomputes every ranked list after a long random sequence
 * of events and must agree exactly with the lists the engine maintained
 * incrementally; the stored match log, replayed from nothing, must give the
 * same lists.
 */
#define _GNU_SOURCE
#include <errno.h>
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
#include <zmq.h>

#include <cmocka.h>

#include "apply.h"
#include "engine.h"
#include "enrich.h"
#include "explain.h"
#include "expiry.h"
#include "feed.h"
#include "feed_pack.h"
#include "oracle.h"
#include "privacy.h"
#include "passerelle/v1/feed.pb-c.h"
#include "rebuild.h"
#include "reference.h"
#include "retention.h"
#include "score.h"
#include "store.h"
#include "strmap.h"

#define K 5

typedef struct {
    char dir[64];
    store_t *store;
    reference_t *ref;
    void *zctx;
    feed_t *feed;
    engine_t *engine;
    score_weights_t w;
    counters_t counters;
    config_t cfg;
    void *sub; /* a subscriber of the feed, closed at teardown */
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
    static s_fix_t f;
    char err[256], refdir[1024];
    memset(&f, 0, sizeof f);
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    snprintf(refdir, sizeof refdir, "%s/deploy/reference", src ? src : "..");
    f.ref = reference_load(refdir, err, sizeof err);
    if (!f.ref)
        fail_msg("reference: %s", err);
    snprintf(f.dir, sizeof f.dir, "/tmp/test_engine.XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    int e;
    store_options_t so = {.vacancy_skills = score_vacancy_head, .vacancy_skills_arg = f.ref};
    f.store = store_new(f.dir, &so, &e);
    assert_non_null(f.store);
    config_defaults(&f.cfg);
    snprintf(f.cfg.feed, sizeof f.cfg.feed, "inproc://feed-%d", getpid());
    f.zctx = zmq_ctx_new();
    f.feed = feed_new(f.zctx, &f.cfg, f.ref, &f.counters);
    assert_non_null(f.feed);
    score_weights_default(&f.w);
    assert_int_equal(score_weights_normalise(&f.w), 0);
    f.engine = engine_new(f.ref, &f.w, K, f.feed);
    assert_non_null(f.engine);
    *state = &f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    engine_destroy(&f->engine);
    feed_destroy(&f->feed);
    if (f->sub) /* left open by a failed assertion, it would hang zmq_ctx_term */
        zmq_close(f->sub);
    zmq_ctx_term(f->zctx);
    store_destroy(&f->store);
    reference_destroy(&f->ref);
    nftw(f->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- building and applying events ------------------------------------ */

static uint64_t s_event_no;

static void s_apply(s_fix_t *f, apply_item_t *items, size_t n)
{
    apply_batch_t b = {
        .items = items, .n = n, .now_ms = 1800000000000LL, .engine = f->engine, .feed = f->feed};
    for (size_t i = 0; i < n; i++) {
        matcher_verdict_t v;
        items[i].valid = 1;
        items[i].payload = "x";
        items[i].payload_len = 1;
        snprintf(items[i].ev.source, sizeof items[i].ev.source, "test");
        snprintf(items[i].ev.event_id, sizeof items[i].ev.event_id, "e%llu",
                 (unsigned long long)++s_event_no);
        if (enrich_event(f->ref, &items[i].ev, &v) != 0)
            fail_msg("enrich: %s", v.message);
    }
    int rc = store_write(f->store, apply_batch, &b);
    if (rc != 0)
        fail_msg("store_write: %s", store_strerror(rc));
    feed_publish(f->feed, f->store);
    for (size_t i = 0; i < n; i++)
        if (items[i].status != APPLY_ACCEPTED)
            fail_msg("event %zu: status %d: %s", i, items[i].status, items[i].verdict.message);
}

static void s_graduate(apply_item_t *it, const char *id, const char *rncp, int level,
                       const char *commune, int radius, int64_t version)
{
    store_graduate_t *g = &it->ev.u.grad;
    memset(it, 0, sizeof *it);
    it->ev.type = STORE_EV_GRADUATE_UPSERT;
    it->ev.occurred_ms = version;
    snprintf(g->id, sizeof g->id, "%s", id);
    snprintf(g->school, sizeof g->school, "0650043X");
    g->version = version;
    g->n_certs = 1;
    g->certs[0].kind = level == 3 ? 1 : 2;
    g->certs[0].level = (uint8_t)level;
    snprintf(g->certs[0].rncp, sizeof g->certs[0].rncp, "%s", rncp);
    snprintf(g->home.commune, sizeof g->home.commune, "%s", commune);
    g->radius_km = radius;
}

static void s_vacancy(apply_item_t *it, const char *id, const char *rome, const char *commune,
                      int min_level, int64_t version)
{
    store_vacancy_t *v = &it->ev.u.vac;
    memset(it, 0, sizeof *it);
    it->ev.type = STORE_EV_VACANCY_UPSERT;
    it->ev.occurred_ms = version;
    snprintf(v->id, sizeof v->id, "%s", id);
    snprintf(v->employer, sizeof v->employer, "12345678900012");
    v->version = version;
    v->sector = 3;
    v->contract = 1;
    v->positions = 1;
    v->min_level = (uint8_t)min_level;
    v->n_romes = 1;
    snprintf(v->romes[0], sizeof v->romes[0], "%s", rome);
    snprintf(v->site.commune, sizeof v->site.commune, "%s", commune);
}

static store_list_t s_list;

static int s_get_list_fn(store_txn_t *txn, void *arg)
{
    const char **a = arg;
    return store_list_get(txn, a[0][0] == 'v' ? STORE_ENTITY_VACANCY : STORE_ENTITY_GRADUATE, a[1],
                          &s_list);
}

static const store_list_t *s_get_list(s_fix_t *f, const char *kind, const char *id)
{
    const char *a[2] = {kind, id};
    assert_int_equal(store_read(f->store, s_get_list_fn, a), 0);
    return &s_list;
}

/* ---- hand-built cases ------------------------------------------------- */

/* The Tarbes population of the hand-built cases. */
static void s_tarbes(s_fix_t *f)
{
    apply_item_t items[6];
    /* A: CAP welding (RNCP27470) in Tarbes; B: the same, living in Auch,
     * about 66 km away; C: CAP ceramics (RNCP579) in Tarbes; D: welding
     * but only 20 km of mobility, in Auch. */
    s_graduate(&items[0], "A", "RNCP27470", 3, "65440", 30, 1);
    s_graduate(&items[1], "B", "RNCP27470", 3, "32013", 100, 1);
    s_graduate(&items[2], "C", "RNCP579", 3, "65440", 30, 1);
    s_graduate(&items[3], "D", "RNCP27470", 3, "32013", 20, 1);
    s_vacancy(&items[4], "weld-tarbes", "H2913", "65440", 3, 1);
    store_vacancy_t *v = &items[4].ev.u.vac;
    v->n_required = 1;
    snprintf(v->required[0].code, sizeof v->required[0].code, "486590");
    v->required[0].weight = 2;
    v->n_desirable = 1;
    snprintf(v->desirable[0].code, sizeof v->desirable[0].code, "402099");
    v->desirable[0].weight = 1;
    /* E: Bac pro chaudronnerie (level 4) in Tarbes, for a level-4 vacancy */
    s_graduate(&items[5], "E", "RNCP38337", 4, "65440", 30, 1);
    s_apply(f, items, 6);
}

static void test_tarbes_welding_ordering(void **state)
{
    s_fix_t *f = *state;
    apply_item_t items[1];
    s_tarbes(f);
    const store_list_t *l = s_get_list(f, "v", "weld-tarbes");
    assert_true(l->n >= 3);
    assert_string_equal(l->e[0].id, "A");
    int b = -1, c = -1;
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->e[i].id, "B") == 0)
            b = i;
        if (strcmp(l->e[i].id, "C") == 0)
            c = i;
        assert_string_not_equal(l->e[i].id, "D"); /* outside D's own radius */
    }
    assert_true(b > 0);
    assert_true(c > b);
    assert_true(l->e[0].micro > l->e[b].micro && l->e[b].micro > l->e[c].micro);

    /* The graduate's side agrees. */
    const store_list_t *la = s_get_list(f, "g", "A");
    assert_int_equal(la->n, 1);
    assert_string_equal(la->e[0].id, "weld-tarbes");

    /* A level-4 vacancy: the CAP holders (level 3) never appear. */
    s_vacancy(&items[0], "boiler-tarbes", "H2902", "65440", 4, 1);
    s_apply(f, items, 1);
    l = s_get_list(f, "v", "boiler-tarbes");
    assert_int_equal(l->n, 1);
    assert_string_equal(l->e[0].id, "E");
}

typedef struct {
    s_fix_t *f;
    store_vacancy_t v;
    store_graduate_t g;
    score_vacancy_t sv;
    score_result_t res;
    int rc;
} s_explain_t;

static int s_explain_fn(store_txn_t *txn, void *arg)
{
    s_explain_t *x = arg;
    x->rc = engine_explain(x->f->engine, txn, "weld-tarbes", "A", &x->v, &x->g, &x->sv, &x->res);
    return 0;
}

static void test_explanation_names_skills(void **state)
{
    s_fix_t *f = *state;
    static s_explain_t x;
    s_tarbes(f);
    x.f = f;
    assert_int_equal(store_read(f->store, s_explain_fn, &x), 0);
    assert_int_equal(x.rc, 1);
    assert_int_equal(x.res.fit, SCORE_FIT_SAME_OCCUPATION);
    assert_string_equal(x.res.fit_rncp, "RNCP27470");
    assert_true(x.res.distance_km < 1.0);
    int found = 0;
    for (int i = 0; i < x.res.n_matched; i++)
        found |= strcmp(x.sv.skills[x.res.matched[i]].code, "486590") == 0;
    assert_true(found); /* "Assembler des éléments métalliques", a core welding skill */
    assert_int_equal(x.res.n_missing, 0);
    const ref_skill_t *rs = reference_skill(f->ref, "486590");
    assert_non_null(rs);
    assert_non_null(strstr(rs->label, "Assembler"));
    double sum =
        x.res.skills_share + x.res.certification_share + x.res.distance_share + x.res.start_share;
    assert_true(fabs(sum - x.res.micro / 1e6) < 2e-6);
}

static void test_hire_and_close_refill(void **state)
{
    s_fix_t *f = *state;
    apply_item_t it[1];
    s_tarbes(f);
    store_list_t before = *s_get_list(f, "v", "weld-tarbes");
    assert_string_equal(before.e[0].id, "A");
    /* A is hired: it leaves weld-tarbes, the second moves up to first. */
    memset(it, 0, sizeof it);
    it[0].ev.type = STORE_EV_GRADUATE_WITHDRAWN;
    it[0].ev.occurred_ms = 5;
    snprintf(it[0].ev.u.ref.id, sizeof it[0].ev.u.ref.id, "A");
    snprintf(it[0].ev.u.ref.owner, sizeof it[0].ev.u.ref.owner, "0650043X");
    it[0].ev.u.ref.state = STORE_STATE_HIRED;
    s_apply(f, it, 1);
    const store_list_t *l = s_get_list(f, "v", "weld-tarbes");
    assert_int_equal(l->n, before.n - 1);
    for (int i = 0; i < l->n; i++) {
        assert_string_equal(l->e[i].id, before.e[i + 1].id);
        assert_int_equal(l->e[i].micro, before.e[i + 1].micro);
    }
    assert_int_equal(s_get_list(f, "g", "A")->n, 0);
    /* The vacancy is filled: every list that held it loses it. */
    memset(it, 0, sizeof it);
    it[0].ev.type = STORE_EV_VACANCY_CLOSED;
    it[0].ev.occurred_ms = 6;
    snprintf(it[0].ev.u.ref.id, sizeof it[0].ev.u.ref.id, "weld-tarbes");
    snprintf(it[0].ev.u.ref.owner, sizeof it[0].ev.u.ref.owner, "12345678900012");
    it[0].ev.u.ref.state = STORE_STATE_FILLED;
    s_apply(f, it, 1);
    assert_int_equal(s_get_list(f, "v", "weld-tarbes")->n, 0);
    assert_int_equal(s_get_list(f, "g", "B")->n, 0);
    assert_int_equal(s_get_list(f, "g", "E")->n, 0);
}

typedef struct {
    uint64_t first, last;
    char purged[32];
} s_span_t;

static int s_span_fn(store_txn_t *txn, void *arg)
{
    s_span_t *sp = arg;
    sp->first = store_match_first(txn);
    sp->last = store_match_last(txn);
    if (store_meta_get_str(txn, "match_purged_upto", sp->purged, sizeof sp->purged) != 0)
        sp->purged[0] = '\0';
    return 0;
}

static void test_retention_purges_oldest(void **state)
{
    s_fix_t *f = *state;
    s_span_t before, after;
    s_tarbes(f);
    assert_int_equal(store_read(f->store, s_span_fn, &before), 0);
    assert_true(before.last > 6);
    assert_int_equal(before.first, 1);
    f->cfg.retention_days = 0;
    f->cfg.retention_max_updates = 0;
    assert_int_equal(retention_run(f->store, &f->cfg, 1800000000000LL, 1000), 0);
    f->cfg.retention_max_updates = 4; /* keep the newest 4 */
    assert_int_equal(retention_run(f->store, &f->cfg, 1800000000000LL, 2), 2); /* chunked */
    assert_int_equal(retention_run(f->store, &f->cfg, 1800000000000LL, 1000),
                     (int64_t)before.last - 4 - 2);
    assert_int_equal(store_read(f->store, s_span_fn, &after), 0);
    assert_int_equal(after.first, before.last - 3);
    assert_int_equal(after.last, before.last);
    assert_int_equal(strtoull(after.purged, NULL, 10), before.last - 4);
    /* by age: everything was written at 1800000000000 (see s_apply) */
    f->cfg.retention_max_updates = 0;
    f->cfg.retention_days = 1;
    assert_int_equal(retention_run(f->store, &f->cfg, 1800000000000LL + 86400000 - 1, 1000), 0);
    assert_int_equal(retention_run(f->store, &f->cfg, 1800000000000LL + 86400000 + 1, 1000), 4);
    assert_int_equal(store_read(f->store, s_span_fn, &after), 0);
    assert_int_equal(after.first, 0);
    assert_int_equal(strtoull(after.purged, NULL, 10), before.last);
}

typedef struct {
    engine_t *engine;
    const char *kind;
    const char *id;
    store_list_t want, got;
} s_cmp_t;

static int s_cmp_fn(store_txn_t *txn, void *arg)
{
    s_cmp_t *c = arg;
    store_entity_kind_t k = c->kind[0] == 'v' ? STORE_ENTITY_VACANCY : STORE_ENTITY_GRADUATE;
    int rc = engine_compute_list(c->engine, txn, k, c->id, &c->want);
    return rc ? rc : store_list_get(txn, k, c->id, &c->got);
}

/* Close and open the store again, full after txn_writes B-tree writes. */
static void s_reopen(s_fix_t *f, uint64_t txn_writes)
{
    store_options_t o = {.txn_writes = txn_writes,
                         .vacancy_skills = score_vacancy_head,
                         .vacancy_skills_arg = (void *)f->ref};
    int e = 0;
    store_destroy(&f->store);
    f->store = store_new(f->dir, &o, &e);
    assert_non_null(f->store);
}

/* Rebuild with other weights: visits n entities, lists as computed afresh. */
static void s_rebuild_check(s_fix_t *f, uint64_t entities)
{
    static const char *ids[][2] = {{"v", "weld-tarbes"}, {"g", "A"}, {"g", "B"},
                                   {"g", "C"},           {"g", "D"}, {"g", "E"}};
    score_weights_t w2 = {1, 0, 0, 0, 30, 90}; /* skills only: every score changes */
    engine_t *e2 = engine_new(f->ref, &w2, K, f->feed);
    assert_non_null(e2);
    uint64_t before = f->counters.feed_published, n = 0;
    assert_int_equal(rebuild_all(f->store, e2, f->feed, &n), 0);
    assert_int_equal(n, entities);
    assert_true(f->counters.feed_published > before); /* the changes were published */
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        static s_cmp_t c;
        c.engine = e2;
        c.kind = ids[i][0];
        c.id = ids[i][1];
        assert_int_equal(store_read(f->store, s_cmp_fn, &c), 0);
        assert_int_equal(c.got.n < K ? c.got.n : K, c.want.n < K ? c.want.n : K);
        for (int k = 0; k < c.want.n && k < K; k++) {
            assert_string_equal(c.got.e[k].id, c.want.e[k].id);
            assert_int_equal(c.got.e[k].micro, c.want.e[k].micro);
        }
    }
    engine_destroy(&e2);
}

static void test_rebuild_after_weights_change(void **state)
{
    s_fix_t *f = *state;
    s_tarbes(f);
    s_rebuild_check(f, 6);
}

/* A transaction full after one write takes one entity each: the rebuild
 * goes on in the next transactions, from where the last one ended, to the
 * same lists. */
static void test_rebuild_in_full_transactions(void **state)
{
    s_fix_t *f = *state;
    apply_item_t it[1];
    s_tarbes(f);
    s_vacancy(&it[0], "weld-auch", "H2913", "32013", 3, 1); /* two vacancies to cut between */
    s_apply(f, it, 1);
    s_reopen(f, 1);
    s_rebuild_check(f, 7);
}

/* Vacancies of one day, closed one per transaction when a transaction is
 * full after one write: each run closes one, the day is finished by the
 * run that finds nothing left of it. */
static void test_expiry_in_full_transactions(void **state)
{
    s_fix_t *f = *state;
    apply_item_t it[2];
    s_tarbes(f);
    s_vacancy(&it[0], "weld-tarbes", "H2913", "65440", 3, 2);
    it[0].ev.u.vac.expires_on = 21000;
    s_vacancy(&it[1], "weld-auch", "H2913", "32013", 3, 2);
    it[1].ev.u.vac.expires_on = 21000;
    s_apply(f, it, 2);
    assert_true(s_get_list(f, "v", "weld-tarbes")->n > 0);
    assert_true(s_get_list(f, "v", "weld-auch")->n > 0);
    s_reopen(f, 1);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21001, 100), 1);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21001, 100), 1);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21001, 100), 0);
    assert_int_equal(s_get_list(f, "v", "weld-tarbes")->n, 0);
    assert_int_equal(s_get_list(f, "v", "weld-auch")->n, 0);
    assert_int_equal(s_get_list(f, "g", "A")->n, 0);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21002, 100), 0);
}

/* Graduates past retention, erased one per transaction when a transaction
 * is full after one write: each run erases one, the walk goes on from there
 * and the lists they were in are refilled without them. */
static void test_privacy_in_full_transactions(void **state)
{
    s_fix_t *f = *state;
    uint64_t erased = 0;
    int64_t now = 1800000000000LL;
    s_tarbes(f);
    f->cfg.graduate_retention_days = 30; /* every Tarbes graduate dates from 1970 */
    s_reopen(f, 1);
    for (int run = 0; run < 5; run++) {
        assert_int_equal(privacy_run(f->store, &f->cfg, f->engine, f->feed, now, 256, &erased), 1);
        assert_int_equal(erased, 1);
    }
    assert_int_equal(privacy_run(f->store, &f->cfg, f->engine, f->feed, now, 256, &erased), 0);
    assert_int_equal(s_get_list(f, "v", "weld-tarbes")->n, 0);
}

/* A bounded batch in a transaction full after one write decides one event
 * per transaction; the caller passes the rest to the next. */
static void test_batch_bounded(void **state)
{
    s_fix_t *f = *state;
    static apply_item_t items[3];
    s_graduate(&items[0], "A", "RNCP27470", 3, "65440", 30, 1);
    s_graduate(&items[1], "B", "RNCP27470", 3, "32013", 100, 1);
    s_vacancy(&items[2], "weld-tarbes", "H2913", "65440", 3, 1);
    s_reopen(f, 1);
    for (size_t i = 0; i < 3; i++) {
        matcher_verdict_t v;
        items[i].valid = 1;
        items[i].payload = "x";
        items[i].payload_len = 1;
        snprintf(items[i].ev.source, sizeof items[i].ev.source, "test");
        snprintf(items[i].ev.event_id, sizeof items[i].ev.event_id, "b%zu", i);
        if (enrich_event(f->ref, &items[i].ev, &v) != 0)
            fail_msg("enrich: %s", v.message);
    }
    size_t done = 0, txns = 0;
    while (done < 3) {
        apply_batch_t b = {.items = items + done,
                           .n = 3 - done,
                           .now_ms = 1800000000000LL,
                           .engine = f->engine,
                           .feed = f->feed,
                           .bounded = 1};
        assert_int_equal(store_write(f->store, apply_batch, &b), 0);
        assert_int_equal(b.decided, 1);
        assert_true(b.writes > 1);
        assert_int_equal(items[done].status, APPLY_ACCEPTED);
        for (size_t i = done + 1; i < 3; i++)
            assert_int_equal(items[i].status, 0); /* not reached */
        feed_publish(f->feed, f->store);
        done += b.decided;
        txns++;
    }
    assert_int_equal(txns, 3);
    assert_int_equal(s_get_list(f, "v", "weld-tarbes")->n, 2); /* A and B, who moves 100 km */
    assert_string_equal(s_get_list(f, "g", "A")->e[0].id, "weld-tarbes");
}

static void test_expiry_closes_vacancies(void **state)
{
    s_fix_t *f = *state;
    apply_item_t it[1];
    s_tarbes(f);
    s_vacancy(&it[0], "weld-tarbes", "H2913", "65440", 3, 2); /* newer version */
    it[0].ev.u.vac.expires_on = 21000;                        /* s_apply receives on day 20833 */
    s_apply(f, it, 1);
    assert_true(s_get_list(f, "v", "weld-tarbes")->n > 0);
    assert_true(s_get_list(f, "g", "A")->n == 1);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21000, 100), 0); /* last day */
    assert_true(s_get_list(f, "v", "weld-tarbes")->n > 0);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21001, 100), 1);
    assert_int_equal(s_get_list(f, "v", "weld-tarbes")->n, 0);
    assert_int_equal(s_get_list(f, "g", "A")->n, 0);
    assert_int_equal(expiry_run(f->store, f->engine, f->feed, 21002, 100), 0); /* done once */
    /* a newer upsert with a later expiry reopens it */
    s_vacancy(&it[0], "weld-tarbes", "H2913", "65440", 3, 1800000000001LL);
    it[0].ev.u.vac.expires_on = 21100;
    s_apply(f, it, 1);
    assert_true(s_get_list(f, "v", "weld-tarbes")->n > 0);
    /* posted already expired: stored closed, in no list */
    s_vacancy(&it[0], "old-offer", "H2913", "65440", 3, 1);
    it[0].ev.u.vac.expires_on = 20000;
    s_apply(f, it, 1);
    assert_int_equal(s_get_list(f, "v", "old-offer")->n, 0);
}

/* ---- the oracle ------------------------------------------------------- */

#define NG 1000
#define NV 400

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_next(s_rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static size_t s_pick(s_rng_t *r, size_t n)
{
    return (size_t)(s_next(r) % n);
}

/* Industrial certifications with a level and a ROME code, and communes of
 * the south-west, drawn from the reference data. */
static const char *s_rncps[] = {"RNCP27470", "RNCP27468", "RNCP38337", "RNCP34502",
                                "RNCP34738", "RNCP34135", "RNCP37928", "RNCP37700",
                                "RNCP36337", "RNCP579",   "RNCP184",   "RNCP183"};
static const char *s_romes[] = {"H2913", "H2902", "H2914", "I1606", "H2803",
                                "B1201", "H2909", "I1304", "H2906", "H1506"};
static const char *s_communes[] = {"65440", "32013", "64445", "64300", "31555", "33063",
                                   "87085", "65286", "64024", "40192", "65100", "31395"};

static void s_random_graduate(s_fix_t *f, s_rng_t *r, apply_item_t *it, int i, int64_t version)
{
    char id[16];
    snprintf(id, sizeof id, "g%04d", i);
    const ref_rncp_t *rn = reference_rncp(f->ref, s_rncps[s_pick(r, 12)]);
    s_graduate(it, id, rn->code, rn->level ? rn->level : 3, s_communes[s_pick(r, 12)],
               20 + (int)s_pick(r, 200), version);
    store_graduate_t *g = &it->ev.u.grad;
    if (s_pick(r, 3) == 0) { /* a second certification */
        const ref_rncp_t *r2 = reference_rncp(f->ref, s_rncps[s_pick(r, 12)]);
        if (strcmp(r2->code, rn->code) != 0) {
            g->certs[1] = g->certs[0];
            snprintf(g->certs[1].rncp, sizeof g->certs[1].rncp, "%s", r2->code);
            g->certs[1].level = r2->level ? r2->level : 3;
            g->n_certs = 2;
        }
    }
    g->contracts = s_pick(r, 3) == 0 ? (1u << (1 + s_pick(r, 5))) : 0;
    g->licence = s_pick(r, 2);
    g->available_from = s_pick(r, 2) ? 20000 + (int32_t)s_pick(r, 200) : 0;
}

static void s_random_vacancy(s_rng_t *r, apply_item_t *it, int i, int64_t version)
{
    char id[16];
    snprintf(id, sizeof id, "v%04d", i);
    s_vacancy(it, id, s_romes[s_pick(r, 10)], s_communes[s_pick(r, 12)],
              s_pick(r, 3) == 0 ? 3 + (int)s_pick(r, 2) : 0, version);
    store_vacancy_t *v = &it->ev.u.vac;
    if (s_pick(r, 3) == 0) {
        v->n_rncps = 1;
        snprintf(v->rncps[0], sizeof v->rncps[0], "%s", s_rncps[s_pick(r, 12)]);
    }
    v->contract = (uint8_t)(1 + s_pick(r, 5));
    v->licence_required = s_pick(r, 4) == 0;
    v->max_distance_km = s_pick(r, 2) ? 30 + (int)s_pick(r, 150) : 0;
    v->start_date = s_pick(r, 2) ? 20000 + (int32_t)s_pick(r, 200) : 0;
    snprintf(v->employer, sizeof v->employer, "%014d", 10000 + i % 50); /* fixed per vacancy */
}

typedef struct {
    char id[16];
    int state; /* 0 never posted, 1 open, 2 withdrawn/closed, 3 erased */
    char owner[STORE_ID_MAX + 1];
} s_known_t;

static s_known_t s_g[NG], s_v[NV];

static void s_random_event(s_fix_t *f, s_rng_t *r, apply_item_t *it, int64_t version)
{
    int gside = s_pick(r, 2);
    size_t i = s_pick(r, gside ? NG : NV);
    s_known_t *k = gside ? &s_g[i] : &s_v[i];
    size_t roll = s_pick(r, 10);
    memset(it, 0, sizeof *it);
    if (k->state == 1 && roll < 2) { /* withdraw / close */
        it->ev.type = gside ? STORE_EV_GRADUATE_WITHDRAWN : STORE_EV_VACANCY_CLOSED;
        it->ev.occurred_ms = version;
        snprintf(it->ev.u.ref.id, sizeof it->ev.u.ref.id, "%s", k->id);
        snprintf(it->ev.u.ref.owner, sizeof it->ev.u.ref.owner, "%s", k->owner);
        it->ev.u.ref.state = gside ? STORE_STATE_HIRED + (uint8_t)s_pick(r, 2)
                                   : STORE_STATE_FILLED + (uint8_t)s_pick(r, 3);
        k->state = 2;
    } else if (gside && k->state == 1 && roll == 2) { /* erase */
        it->ev.type = STORE_EV_GRADUATE_ERASED;
        it->ev.occurred_ms = version;
        snprintf(it->ev.u.ref.id, sizeof it->ev.u.ref.id, "%s", k->id);
        snprintf(it->ev.u.ref.owner, sizeof it->ev.u.ref.owner, "%s", k->owner);
        k->state = 3;
    } else if (gside) {
        s_random_graduate(f, r, it, (int)i, version);
        k->state = 1;
        snprintf(k->owner, sizeof k->owner, "%s", it->ev.u.grad.school);
    } else {
        s_random_vacancy(r, it, (int)i, version);
        k->state = 1;
        snprintf(k->owner, sizeof k->owner, "%s", it->ev.u.vac.employer);
    }
}

/* Pairs of the bound test: graduates and vacancies of one occupation with
 * random subsets of its skills and random weights. */
#define BG 60
#define BV 60

typedef struct {
    s_fix_t *f;
    size_t eligible, tighter, below, unknown, beyond;
} s_bound_chk_t;

static int s_bound_fn(store_txn_t *txn, void *arg)
{
    s_bound_chk_t *c = arg;
    static store_graduate_t gr;
    static store_vacancy_t vr;
    static score_graduate_t pg;
    static score_vacancy_t pv;
    static score_result_t res;
    score_bound_t b;
    store_head_t h;
    char id[16];
    for (int i = 0; i < BG; i++) {
        snprintf(id, sizeof id, "bg%02d", i);
        assert_int_equal(store_graduate_get(txn, id, &gr), 0);
        score_prepare_graduate(c->f->ref, &gr, &pg);
        score_bound_prepare_graduate(c->f->ref, &pg, &b);
        for (int j = 0; j < BV; j++) {
            snprintf(id, sizeof id, "bv%02d", j);
            assert_int_equal(store_vacancy_get(txn, id, &vr), 0);
            assert_int_equal(store_entity_head(txn, STORE_ENTITY_VACANCY, id, &h), 0);
            c->unknown += !h.skills_table;
            c->beyond += i == 0 && h.table_rest > 0;
            score_prepare_vacancy(c->f->ref, &vr, &pv);
            double d = score_distance_km(gr.home.lat, gr.home.lon, h.lat, h.lon);
            int64_t bound = score_bound_vacancy(&c->f->w, &pg, &b, &h, d);
            store_head_t whole = h; /* a signature of every bit: coverage taken as whole */
            whole.skills_table = 0;
            memset(whole.sig_skills, 0xff, sizeof whole.sig_skills);
            int64_t loose = score_bound_vacancy(&c->f->w, &pg, &b, &whole, d);
            assert_true(bound <= loose);
            if (!score_pair(c->f->ref, &c->f->w, &pg, &pv, &res, 0))
                continue;
            c->eligible++;
            c->below += bound < (int64_t)res.micro;
            c->tighter += bound < loose;
        }
    }
    return 0;
}

/* A graduate's score bound with a vacancy, from the vacancy's head and the
 * table of its skills' weights, is never below the real score, and is
 * lower than whole coverage for most pairs. */
static void test_bound_vacancy_skills(void **state)
{
    s_fix_t *f = *state;
    s_rng_t r = {20261127};
    const ref_rome_t *ro = reference_rome(f->ref, "H2913");
    assert_non_null(ro);
    assert_true(ro->n_skills > 20);
    static apply_item_t it;
    char id[16];
    for (int i = 0; i < BV; i++) {
        snprintf(id, sizeof id, "bv%02d", i);
        s_vacancy(&it, id, "H2913", s_communes[s_pick(&r, 3)], 0, 100 + i);
        store_vacancy_t *v = &it.ev.u.vac;
        /* required and desirable drawn apart: a code may be in both */
        v->n_required = (uint16_t)(1 + s_pick(&r, i % 4 ? 12 : 30)); /* some beyond the table */
        v->n_desirable = (uint16_t)s_pick(&r, 8);
        for (size_t k = 0; k < v->n_required; k++) {
            snprintf(v->required[k].code, sizeof v->required[k].code, "%s",
                     ro->skills[s_pick(&r, ro->n_skills)].ogr);
            v->required[k].weight = 0.1f + (float)s_pick(&r, 10) / 10.0f;
        }
        for (size_t k = 0; k < v->n_desirable; k++) {
            snprintf(v->desirable[k].code, sizeof v->desirable[k].code, "%s",
                     ro->skills[s_pick(&r, ro->n_skills)].ogr);
            v->desirable[k].weight = 0.1f + (float)s_pick(&r, 10) / 10.0f;
        }
        s_apply(f, &it, 1);
    }
    for (int i = 0; i < BG; i++) {
        snprintf(id, sizeof id, "bg%02d", i);
        s_graduate(&it, id, "RNCP27470", 3, s_communes[s_pick(&r, 3)], 300, 100 + i);
        store_graduate_t *g = &it.ev.u.grad;
        size_t first = s_pick(&r, ro->n_skills), n = 1 + s_pick(&r, 15);
        for (size_t k = 0; k < n && k < ro->n_skills; k++) /* distinct codes */
            snprintf(g->skills[g->n_skills++].code, sizeof g->skills[0].code, "%s",
                     ro->skills[(first + 3 * k) % ro->n_skills].ogr);
        s_apply(f, &it, 1);
    }
    s_bound_chk_t c = {.f = f};
    assert_int_equal(store_read(f->store, s_bound_fn, &c), 0);
    print_message("bound: %zu eligible pairs, %zu with a bound below whole coverage's, %zu below "
                  "their score; %zu vacancies with skills beyond their head's table\n",
                  c.eligible, c.tighter, c.below, c.beyond);
    assert_int_equal(c.unknown, 0);
    assert_int_equal(c.below, 0);
    assert_true(c.beyond > 0);
    assert_true(c.eligible > BG * BV / 4);
    assert_true(c.tighter > c.eligible / 2);
}

static void test_oracle(void **state)
{
    s_fix_t *f = *state;
    const char *seed_env = getenv("PASSERELLE_ORACLE_SEED");
    s_rng_t r = {seed_env ? strtoull(seed_env, NULL, 10) : 20261126};
    const char *n_env = getenv("PASSERELLE_ORACLE_EVENTS");
    size_t n_events = n_env ? strtoull(n_env, NULL, 10) : 4000;
    static apply_item_t batch[64];
    print_message("oracle: seed %llu, %zu events, %d graduates x %d vacancies, K %d\n",
                  (unsigned long long)r.s, n_events, NG, NV, K);
    for (int i = 0; i < NG; i++)
        snprintf(s_g[i].id, sizeof s_g[i].id, "g%04d", i);
    for (int i = 0; i < NV; i++)
        snprintf(s_v[i].id, sizeof s_v[i].id, "v%04d", i);
    int64_t version = 100;
    for (size_t done = 0; done < n_events;) {
        size_t n = 1 + s_pick(&r, 64);
        if (n > n_events - done)
            n = n_events - done;
        for (size_t i = 0; i < n; i++)
            s_random_event(f, &r, &batch[i], ++version);
        /* one entity twice in a batch would make the second event see the
         * first one's state: that is fine, the engine applies in order */
        s_apply(f, batch, n);
        done += n;
    }
    oracle_report_t o;
    memset(&o, 0, sizeof o);
    assert_int_equal(oracle_check_lists(f->store, f->ref, &f->w, K, &o), 0);
    print_message("oracle: %zu lists compared, %zu eligible pairs, %zu mismatches, %zu stray\n",
                  o.lists, o.pairs, o.mismatches, o.stray);
    assert_int_equal(o.mismatches, 0);
    assert_int_equal(o.stray, 0);
    assert_true(o.pairs > 1000); /* the population really matches */

    assert_int_equal(oracle_check_replay(f->store, K, &o), 0);
    print_message("replay: %zu updates (numbers %llu..%llu, %zu erased), %zu list entries "
                  "checked, %zu mismatches, %zu live replayed entries\n",
                  o.updates, (unsigned long long)o.first_seq, (unsigned long long)o.last_seq,
                  o.holes, o.entries, o.replay_mismatches, o.live);
    assert_int_equal(o.out_of_order, 0);
    assert_int_equal(o.undecodable, 0);
    assert_int_equal(o.replay_mismatches, 0);
    assert_int_equal(o.live, o.entries); /* nothing extra survives the replay */
    print_message("replay: %zu previous_sequence links checked, %zu wrong\n", o.prev_checked,
                  o.prev_bad);
    assert_true(o.prev_checked > 0);
    assert_int_equal(o.prev_bad, 0);

    /* New weights (as after a change of reference data): a rebuild brings
     * every list to what the brute force gives with them. */
    score_weights_t w2 = {0.2, 0.2, 0.5, 0.1, 15, 30};
    engine_t *e2 = engine_new(f->ref, &w2, K, f->feed);
    assert_non_null(e2);
    uint64_t visited = 0;
    assert_int_equal(rebuild_all(f->store, e2, f->feed, &visited), 0);
    f->w = w2;
    oracle_report_t o2;
    memset(&o2, 0, sizeof o2);
    assert_int_equal(oracle_check_lists(f->store, f->ref, &f->w, K, &o2), 0);
    print_message("rebuild: %llu entities visited, %zu lists compared, %zu mismatches\n",
                  (unsigned long long)visited, o2.lists, o2.mismatches);
    assert_int_equal(o2.mismatches, 0);
    engine_destroy(&e2);
}

/* ---- the outbox read back from the match log ---------------------------- */

/* One message: its sequence, topic and bytes, the graduate its stored row
 * names ("" for a published message, or an anonymised row). */
typedef struct {
    uint64_t seq;
    char topic[STORE_TOPIC_MAX + 1];
    char graduate[STORE_ID_MAX + 1];
    size_t len;
    uint8_t bytes[8192];
} s_msg_t;

#define S_MSGS_MAX 512
static s_msg_t s_rx[S_MSGS_MAX], s_st[S_MSGS_MAX];
static size_t s_n_rx, s_n_st;

/* Everything the subscriber has received, as (topic, MatchUpdate) pairs. */
static void s_receive(void *sub)
{
    s_n_rx = 0;
    for (;;) {
        s_msg_t *m = &s_rx[s_n_rx];
        memset(m, 0, sizeof *m);
        int n = zmq_recv(sub, m->topic, sizeof m->topic - 1, ZMQ_DONTWAIT);
        if (n < 0) {
            assert_int_equal(zmq_errno(), EAGAIN);
            return;
        }
        int more = 0;
        size_t ml = sizeof more;
        assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml), 0);
        assert_true(more);
        n = zmq_recv(sub, m->bytes, sizeof m->bytes, 0);
        assert_true(n > 0 && (size_t)n <= sizeof m->bytes);
        m->len = (size_t)n;
        Passerelle__V1__MatchUpdate *u =
            passerelle__v1__match_update__unpack(NULL, m->len, m->bytes);
        assert_non_null(u);
        m->seq = u->sequence;
        passerelle__v1__match_update__free_unpacked(u, NULL);
        assert_true(++s_n_rx < S_MSGS_MAX);
    }
}

typedef struct {
    uint64_t after;
} s_rows_t;

static int s_row_cb(const store_match_t *m, void *arg)
{
    (void)arg;
    for (size_t t = 0; t < m->n_topics; t++) { /* published once per topic */
        s_msg_t *r = &s_st[s_n_st];
        memset(r, 0, sizeof *r);
        r->seq = m->seq;
        snprintf(r->topic, sizeof r->topic, "%s", m->topics[t]);
        snprintf(r->graduate, sizeof r->graduate, "%s", m->graduate_id);
        assert_true(m->payload_len <= sizeof r->bytes);
        memcpy(r->bytes, m->payload, m->payload_len);
        r->len = m->payload_len;
        assert_true(++s_n_st < S_MSGS_MAX);
    }
    return 0;
}

static int s_rows_fn(store_txn_t *txn, void *arg)
{
    s_rows_t *r = arg;
    s_n_st = 0;
    return store_match_each(txn, r->after, s_row_cb, NULL) < 0 ? -1 : 0;
}

static int s_last_fn(store_txn_t *txn, void *arg)
{
    *(uint64_t *)arg = store_match_last(txn);
    return 0;
}

static uint64_t s_match_last(s_fix_t *f)
{
    uint64_t last = 0;
    assert_int_equal(store_read(f->store, s_last_fn, &last), 0);
    return last;
}

/* The labels of u's explanation that are not empty. */
static size_t s_labels(const Passerelle__V1__MatchUpdate *u)
{
    const Passerelle__V1__Explanation *e = u->explanation;
    size_t n = 0;
    if (e == NULL)
        return 0;
    for (size_t i = 0; i < e->n_matched_skills; i++)
        n += e->matched_skills[i]->label[0] != '\0';
    for (size_t i = 0; i < e->n_missing_required_skills; i++)
        n += e->missing_required_skills[i]->label[0] != '\0';
    return n + (e->certification_label[0] != '\0');
}

/* The stored rows after `after` against what the subscriber received:
 * the same sequences in the same order, under the same topics; every row
 * that names its graduate is stored without a label and was published as
 * the same bytes with the labels of the reference data put back. */
static void s_check_published(s_fix_t *f, void *sub, uint64_t after)
{
    s_rows_t r = {after};
    size_t labels = 0;
    assert_int_equal(store_read(f->store, s_rows_fn, &r), 0);
    s_receive(sub);
    assert_true(s_n_st > 0);
    assert_int_equal(s_n_rx, s_n_st);
    for (size_t i = 0; i < s_n_st; i++) {
        assert_int_equal(s_rx[i].seq, s_st[i].seq);
        assert_string_equal(s_rx[i].topic, s_st[i].topic);
        if (s_st[i].graduate[0] == '\0')
            continue;
        Passerelle__V1__MatchUpdate *u =
            passerelle__v1__match_update__unpack(NULL, s_st[i].len, s_st[i].bytes);
        assert_non_null(u);
        assert_int_equal(s_labels(u), 0);
        if (u->explanation != NULL)
            assert_int_equal(explain_label(f->ref, u->explanation), 0);
        labels += s_labels(u);
        uint8_t again[sizeof s_st[i].bytes];
        size_t len = feed_pack_size(u);
        assert_true(len <= sizeof again);
        assert_int_equal(feed_pack(u, again, len), len);
        passerelle__v1__match_update__free_unpacked(u, NULL);
        assert_int_equal(s_rx[i].len, len);
        assert_memory_equal(s_rx[i].bytes, again, len);
    }
    assert_true(labels > 0 || after > 0); /* the first batch explains its matches */
}

/* A feed whose outbox keeps outbox_max bytes of MatchUpdates in memory,
 * and a subscriber of everything it publishes; the Tarbes batch applied,
 * and what went out checked against the match log. */
static void *s_outbox_case(s_fix_t *f, size_t outbox_max)
{
    engine_destroy(&f->engine);
    feed_destroy(&f->feed);
    f->cfg.outbox_max_bytes = outbox_max;
    snprintf(f->cfg.feed, sizeof f->cfg.feed, "inproc://feed-spilled-%d", getpid());
    f->feed = feed_new(f->zctx, &f->cfg, f->ref, &f->counters);
    assert_non_null(f->feed);
    f->engine = engine_new(f->ref, &f->w, K, f->feed);
    assert_non_null(f->engine);

    void *sub = f->sub = zmq_socket(f->zctx, ZMQ_SUB);
    assert_non_null(sub);
    int hwm = 100000, linger = 0;
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_connect(sub, f->cfg.feed), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    zmq_pollitem_t pi = {feed_socket(f->feed), 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&pi, 1, 5000), 1); /* the subscription reached the feed */
    feed_handle_subscriptions(f->feed);

    s_tarbes(f);
    s_check_published(f, sub, 0);
    return sub;
}

/* With [feed] outbox_max_mb = 0 no MatchUpdate stays in memory: the
 * batch's are read back from the match log after the commit, in one walk,
 * and labelled again. A graduate who enters lists and is erased in the
 * same batch has no rows left: none of its updates may go out but its
 * retractions. */
static void test_outbox_read_back(void **state)
{
    s_fix_t *f = *state;
    void *sub = s_outbox_case(f, 0);
    uint64_t before = s_match_last(f);
    apply_item_t it[2];
    s_graduate(&it[0], "F", "RNCP27470", 3, "65440", 30, 1);
    memset(&it[1], 0, sizeof it[1]);
    it[1].ev.type = STORE_EV_GRADUATE_ERASED;
    it[1].ev.occurred_ms = 2;
    snprintf(it[1].ev.u.ref.id, sizeof it[1].ev.u.ref.id, "F");
    snprintf(it[1].ev.u.ref.owner, sizeof it[1].ev.u.ref.owner, "0650043X");
    s_apply(f, it, 2);
    s_check_published(f, sub, before);
    /* F's entries were written, then erased: the batch's sequences have a
     * gap where they were, and nothing was published under them */
    uint64_t last = s_match_last(f);
    assert_true(s_n_st > 0);
    size_t rows = 1;
    for (size_t i = 1; i < s_n_st; i++)
        rows += s_st[i].seq != s_st[i - 1].seq;
    assert_true(rows < last - before);
}

/* With room in memory, the same messages go out from the outbox. */
static void test_outbox_in_memory(void **state)
{
    (void)s_outbox_case(*state, 16u << 20);
}

/* ---- the feed's topics, saved in passes ---------------------------- */

typedef struct {
    char topic[8][STORE_TOPIC_MAX + 1];
    uint64_t seq[8];
    size_t n;
    uint64_t upto;
} s_saved_t;

static int s_saved_fn(const char *topic, uint64_t seq, void *arg)
{
    s_saved_t *sv = arg;
    assert_true(sv->n < 8);
    snprintf(sv->topic[sv->n], sizeof sv->topic[sv->n], "%s", topic);
    sv->seq[sv->n++] = seq;
    return 0;
}

/* Every topic of a match up to the cover is saved, at that match or later. */
static int s_covered_fn(const store_match_t *m, void *arg)
{
    const s_saved_t *sv = arg;
    if (m->seq > sv->upto)
        return 1;
    for (size_t t = 0; t < m->n_topics; t++) {
        size_t i = 0;
        while (i < sv->n && strcmp(sv->topic[i], m->topics[t]) != 0)
            i++;
        if (i == sv->n || sv->seq[i] < m->seq)
            fail_msg("match %llu under %s: the saved topics do not cover it",
                     (unsigned long long)m->seq, m->topics[t]);
    }
    return 0;
}

static int s_saved_read_fn(store_txn_t *txn, void *arg)
{
    s_saved_t *sv = arg;
    sv->n = 0;
    sv->upto = store_topics_upto(txn);
    int rc = store_topics_each(txn, s_saved_fn, sv);
    return rc != 0 ? rc : store_match_each(txn, 0, s_covered_fn, sv) < 0;
}

static s_saved_t s_saved(s_fix_t *f)
{
    s_saved_t sv;
    memset(&sv, 0, sizeof sv);
    assert_int_equal(store_read(f->store, s_saved_read_fn, &sv), 0);
    return sv;
}

/* feed_save_topics saves a pass of topics a chunk at a time, and says what
 * the saved values cover only with the pass's last chunk; a pass covers
 * the matches known when it began, not those of the events applied while
 * it ran (the next pass covers those). */
static void test_topics_saved_in_passes(void **state)
{
    s_fix_t *f = *state;
    int done = 0;
    s_tarbes(f);
    uint64_t first = s_match_last(f);
    size_t calls = 0;
    while (!done) {
        assert_int_equal(feed_save_topics(f->feed, f->store, 1, &done), 0);
        calls++;
        if (!done)
            assert_int_equal(s_saved(f).upto, 0); /* the pass is not whole yet */
    }
    s_saved_t sv = s_saved(f);
    assert_int_equal(calls, sv.n); /* one topic a call */
    assert_true(sv.n >= 3);        /* the employer, the school, the region */
    assert_int_equal(sv.upto, first);
    assert_int_equal(feed_save_topics(f->feed, f->store, 1, &done), 0);
    assert_true(done); /* nothing changed since */

    /* a pass under way while events apply */
    apply_item_t it;
    s_graduate(&it, "F", "RNCP27470", 3, "65440", 30, 1);
    s_apply(f, &it, 1);
    uint64_t second = s_match_last(f);
    assert_true(second > first);
    assert_int_equal(feed_save_topics(f->feed, f->store, 1, &done), 0);
    assert_false(done);
    s_vacancy(&it, "weld-tarbes-2", "H2913", "65440", 3, 1);
    s_apply(f, &it, 1);
    uint64_t third = s_match_last(f);
    assert_true(third > second);
    int covered_second = 0;
    while (!done) {
        assert_int_equal(feed_save_topics(f->feed, f->store, 1, &done), 0);
        sv = s_saved(f); /* checks the cover at every step */
        assert_true(sv.upto == first || sv.upto == second || sv.upto == third);
        covered_second |= sv.upto == second;
    }
    assert_true(covered_second); /* the pass that began before the vacancy */
    assert_int_equal(s_saved(f).upto, third);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tarbes_welding_ordering, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_explanation_names_skills, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hire_and_close_refill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_purges_oldest, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_after_weights_change, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_in_full_transactions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_closes_vacancies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_in_full_transactions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_privacy_in_full_transactions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_read_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_in_memory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_oracle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bound_vacancy_skills, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_topics_saved_in_passes, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
