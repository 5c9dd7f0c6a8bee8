/* test_load.c - the initial bulk load (matcherd --load), with the real
 * matcherd binary on a temporary store:
 *
 *  - a delimited file of the demo population plus a few hundred generated
 *    entities (and two bad events) loads; the rejected events are reported
 *    with their offsets; every stored list equals the brute-force oracle;
 *    the daemon then starts on the store and serves exactly those lists; a
 *    replay from 0 answers REPLAY_PURGED; a new event after the load gives
 *    MatchUpdates numbered after the load's marker, replayable from it;
 *  - refusals: a store that holds entities, a store a daemon has locked, a
 *    truncated file, a bad varint, a length beyond any message: clear
 *    error, nothing stored;
 *  - a damaged stdin stops the load midway: the daemon refuses to start on
 *    that store until a second --load finishes it;
 *  - CSV -> matchctl import --out -> matcherd --load, then the same CSV
 *    imported into the daemon is all DUPLICATE;
 *  - more events than one decoded chunk in one transaction, their lists
 *    built in three threads (equal to the oracle too).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

#include "cli_run.h"
#include "config.h"
#include "harness.h"
#include "oracle.h"
#include "proto_json.h"
#include "reference.h"
#include "score.h"
#include "store.h"
#include "passerelle/v1/feed.pb-c.h"
#include "passerelle/v1/ingest.pb-c.h"
#include "passerelle/v1/query.pb-c.h"

#define S_GRADS  400
#define S_VACS   120
#define S_RUN_MS 120000

/* ---- building delimited files -------------------------------------- */

static void s_put_varint(FILE *f, uint64_t v)
{
    while (v >= 0x80) {
        fputc((int)(v & 0x7f) | 0x80, f);
        v >>= 7;
    }
    fputc((int)v, f);
}

static void s_put_msg(FILE *f, const void *data, size_t len)
{
    s_put_varint(f, len);
    assert_int_equal(fwrite(data, 1, len, f), len);
}

static void s_put_event(FILE *f, const hev_t *e)
{
    hbuf_t b = {0};
    assert_int_equal(hev_pack(e, &b), 0);
    s_put_msg(f, b.data, b.len);
    hbuf_free(&b);
}

/* The demo population (deploy/demo/population.jsonl, JSON Events). */
static size_t s_put_demo(FILE *f)
{
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    char path[1024], line[16384], err[256];
    size_t n = 0;
    (void)snprintf(path, sizeof path, "%s/deploy/demo/population.jsonl", src ? src : "..");
    FILE *in = fopen(path, "r");
    if (!in)
        fail_msg("cannot open %s", path);
    while (fgets(line, sizeof line, in)) {
        if (line[0] != '{')
            continue;
        ProtobufCMessage *m = proto_json_parse(&passerelle__v1__event__descriptor, line,
                                               strlen(line), err, sizeof err);
        if (!m)
            fail_msg("%s: %s", path, err);
        size_t len = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        assert_int_equal(protobuf_c_message_pack(m, buf), len);
        s_put_msg(f, buf, len);
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
        n++;
    }
    fclose(in);
    return n;
}

/* Generated graduates and vacancies, clustered around 30 points so that
 * lists hold many entries and ties. */
static void s_put_generated(FILE *f, size_t grads, size_t vacs, const char *tag)
{
    hev_t *e = malloc(sizeof *e);
    char id[64], evid[64];
    assert_non_null(e);
    for (size_t i = 0; i < grads; i++) {
        (void)snprintf(id, sizeof id, "g%s-%04zu", tag, i);
        (void)snprintf(evid, sizeof evid, "ev-g%s-%04zu", tag, i);
        hev_graduate(e, "ep-tarbes", evid, HARNESS_T0_MS + (int64_t)i, id);
        hev_graduate_skills(e, 1 + i % 6);
        hev_spread(e, i % 30);
        e->graduate.mobility_radius_km = 20 + (uint32_t)(i % 7) * 10;
        s_put_event(f, e);
    }
    for (size_t i = 0; i < vacs; i++) {
        (void)snprintf(id, sizeof id, "v%s-%04zu", tag, i);
        (void)snprintf(evid, sizeof evid, "ev-v%s-%04zu", tag, i);
        hev_vacancy(e, "uimm-r76", evid, HARNESS_T0_MS + (int64_t)i, id);
        hev_spread(e, i % 30);
        s_put_event(f, e);
    }
    free(e);
}

/* The whole good file; returns its path in path. With bad: a vacancy
 * without a valid id and 40 bytes that are not an Event, in the middle. */
static size_t s_good_file(harness_t *h, const char *name, int bad, char *path, size_t size)
{
    FILE *f = cli_open_file(h->root, name, path, size);
    size_t n = s_put_demo(f);
    s_put_generated(f, S_GRADS / 2, S_VACS / 2, "a");
    if (bad) {
        hev_t *e = malloc(sizeof *e);
        assert_non_null(e);
        hev_vacancy(e, "uimm-r76", "ev-bad-id", HARNESS_T0_MS, "bad id with spaces");
        s_put_event(f, e);
        free(e);
        uint8_t junk[40];
        memset(junk, 0xff, sizeof junk);
        s_put_msg(f, junk, sizeof junk);
    }
    s_put_generated(f, S_GRADS / 2, S_VACS / 2, "b");
    fclose(f);
    return n + S_GRADS + S_VACS + (bad ? 2 : 0);
}

/* ---- running matcherd --load ----------------------------------------- */

static cli_result_t s_load(harness_t *h, const char *file)
{
    char *argv[] = {h->matcherd, "--data", h->data_dir, "--load", (char *)file, NULL};
    return cli_run_argv(h->root, argv, NULL, S_RUN_MS);
}

/* The same, with the lists computed in `threads` threads. */
static cli_result_t s_load_threads(harness_t *h, const char *file, const char *threads)
{
    char *argv[] = {h->matcherd,  "--data",         h->data_dir,     "--load",
                    (char *)file, "--load-threads", (char *)threads, NULL};
    return cli_run_argv(h->root, argv, NULL, S_RUN_MS);
}

/* The same, the file given on stdin through a shell. */
static cli_result_t s_load_stdin(harness_t *h, const char *file)
{
    char cmd[2048];
    (void)snprintf(cmd, sizeof cmd, "exec '%s' --data '%s' --load - < '%s'", h->matcherd,
                   h->data_dir, file);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return cli_run_argv(h->root, argv, NULL, S_RUN_MS);
}

/* ---- checking the store ------------------------------------------------ */

typedef struct {
    reference_t *ref;
    score_weights_t w;
    unsigned k;
} s_ctx_t;

static void s_ctx(s_ctx_t *c)
{
    config_t cfg;
    char err[256], refdir[1024];
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    config_defaults(&cfg);
    (void)snprintf(refdir, sizeof refdir, "%s/deploy/reference", src ? src : "..");
    c->ref = reference_load(src ? refdir : cfg.reference_dir, err, sizeof err);
    if (!c->ref)
        fail_msg("reference: %s", err);
    c->w = (score_weights_t){cfg.w_skills, cfg.w_certification,   cfg.w_distance,
                             cfg.w_start,  cfg.distance_scale_km, cfg.start_window_days};
    assert_int_equal(score_weights_normalise(&c->w), 0);
    c->k = (unsigned)cfg.k;
}

/* Visible lists of vacancies, as stored: "v\tg1,g2,..." lines. */
typedef struct {
    char *text;
    size_t len, cap;
    unsigned k;
    size_t lists, entries;
} s_dump_t;

static void s_dump_add(s_dump_t *d, const char *s)
{
    size_t n = strlen(s);
    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->text = realloc(d->text, d->cap);
        assert_non_null(d->text);
    }
    memcpy(d->text + d->len, s, n + 1);
    d->len += n;
}

static int s_dump_fn(const char *id, const store_list_t *l, void *arg)
{
    s_dump_t *d = arg;
    char line[128];
    (void)snprintf(line, sizeof line, "%s\t", id);
    s_dump_add(d, line);
    for (unsigned i = 0; i < l->n && i < d->k; i++) {
        (void)snprintf(line, sizeof line, "%s%s", i ? "," : "", l->e[i].id);
        s_dump_add(d, line);
        d->entries++;
    }
    s_dump_add(d, "\n");
    d->lists++;
    return 0;
}

static int s_dump_txn(store_txn_t *txn, void *arg)
{
    return store_list_each(txn, STORE_ENTITY_VACANCY, s_dump_fn, arg);
}

static int s_stats_txn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* Open the stopped store read-only: the oracle, the stats and the
 * vacancies' visible lists. */
static void s_check_store(harness_t *h, const s_ctx_t *c, store_stats_t *ss, s_dump_t *d)
{
    store_options_t opts = {.read_only = 1};
    int err = 0;
    oracle_report_t rep;
    store_t *st = store_new(h->data_dir, &opts, &err);
    if (!st)
        fail_msg("cannot open the store: %s", store_strerror(err));
    memset(&rep, 0, sizeof rep);
    assert_int_equal(oracle_check_lists(st, c->ref, &c->w, c->k, &rep), 0);
    oracle_print("bulk load", &rep);
    assert_int_equal(rep.mismatches, 0);
    assert_int_equal(rep.stray, 0);
    assert_true(rep.lists > 0);
    assert_true(rep.pairs > 0);
    assert_int_equal(store_read(st, s_stats_txn, ss), 0);
    if (d) {
        d->k = c->k;
        assert_int_equal(store_read(st, s_dump_txn, d), 0);
    }
    store_destroy(&st);
}

/* ---- queries ------------------------------------------------------------ */

static Passerelle__V1__Response *s_replay(harness_t *h, uint64_t after)
{
    return harness_replay(h, NULL, after, 10000);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_load_serve_replay(void **state)
{
    harness_t *h = *state;
    s_ctx_t c;
    char path[400];
    store_stats_t ss;
    s_dump_t d = {0};

    s_ctx(&c);
    size_t n = s_good_file(h, "pop.pb", 1, path, sizeof path);
    cli_result_t r = s_load(h, path);
    cli_expect_code(&r, 3, "load with two bad events");
    cli_expect_in(r.err, "rejected", "rejections reported");
    cli_expect_in(r.err, "at offset", "with their offsets");
    cli_expect_in(r.err, "ERROR_CODE_UNDECODABLE", "the garbage message");
    cli_expect_in(r.err, "load summary:", "summary line");
    char want[128];
    (void)snprintf(want, sizeof want,
                   "load summary: %zu events (%zu accepted, 0 duplicate, 2 "
                   "rejected)",
                   n, n - 2);
    cli_expect_in(r.err, want, "counts");
    cli_result_free(&r);

    s_check_store(h, &c, &ss, &d);
    print_message("loaded: %" PRIu64 " graduates, %" PRIu64 " vacancies, %zu vacancy lists, %zu "
                  "visible entries\n",
                  ss.graduates, ss.vacancies, d.lists, d.entries);
    assert_int_equal(ss.events, n - 2);
    assert_int_equal(ss.matches, 1);       /* the marker only */
    assert_int_equal(ss.matches_first, 0); /* and it is purged */
    assert_true(d.entries > 2 * d.lists);  /* lists with many entries */

    /* The daemon starts on it and serves the same lists. */
    assert_int_equal(harness_start(h), 0);
    char served[4096];
    size_t compared = 0;
    for (char *line = d.text; line && *line;) {
        char *nl = strchr(line, '\n'), *tab = strchr(line, '\t');
        assert_non_null(nl);
        *nl = '\0';
        *tab = '\0';
        assert_int_equal(harness_top_ids(h, false, line, served, sizeof served), 0);
        if (strcmp(served, tab + 1) != 0)
            fail_msg("vacancy %s: served [%s], stored [%s]", line, served, tab + 1);
        compared++;
        line = nl + 1;
    }
    print_message("served lists equal to the stored ones: %zu\n", compared);

    /* A replay from 0 is told to fetch the lists. */
    Passerelle__V1__Response *resp = s_replay(h, 0);
    assert_int_equal(resp->error, H_ERR(REPLAY_PURGED));
    assert_non_null(resp->replay);
    assert_int_equal(resp->replay->head_sequence, 1);
    passerelle__v1__response__free_unpacked(resp, NULL);
    resp = s_replay(h, 1);
    assert_int_equal(resp->error, H_ERR(NONE));
    assert_int_equal(resp->replay->n_updates, 0);
    passerelle__v1__response__free_unpacked(resp, NULL);

    /* A new vacancy after the load: updates numbered from 2, live and in
     * the log. */
    hclient_t *sub = hclient_new(h, ZMQ_SUB, h->feed_ep);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "", 0), 0);
    usleep(300000);
    hclient_t *prod = hclient_new(h, ZMQ_DEALER, h->ingest_ep);
    assert_non_null(prod);
    hev_t *e = malloc(sizeof *e);
    assert_non_null(e);
    hev_vacancy(e, "uimm-r76", "ev-after-load", HARNESS_T0_MS + 5000, "v-after-load");
    hev_spread(e, 3);
    Passerelle__V1__Ack *ack = hclient_call(prod, e, 5000);
    free(e);
    assert_non_null(ack);
    assert_int_equal(ack->status, PASSERELLE__V1__ACK_STATUS__ACK_STATUS_ACCEPTED);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    uint64_t expect = 2;
    size_t live = 0;
    Passerelle__V1__MatchUpdate *u;
    while ((u = hclient_recv_update(sub, 1000)) != NULL) {
        /* one update may come under several topics, with the same number */
        assert_true(u->sequence == expect || u->sequence == expect - 1);
        if (u->sequence == expect) {
            expect++;
            live++;
        }
        for (size_t i = 0; i < u->n_previous_sequence; i++)
            assert_true(u->previous_sequence[i]->value == 0 ||
                        (u->previous_sequence[i]->value >= 2 &&
                         u->previous_sequence[i]->value < u->sequence));
        passerelle__v1__match_update__free_unpacked(u, NULL);
    }
    print_message("live updates after the load: %zu (sequences 2..%" PRIu64 ")\n", live,
                  expect - 1);
    assert_true(live > 0);
    resp = s_replay(h, 1);
    assert_int_equal(resp->error, H_ERR(NONE));
    assert_true(resp->replay->n_updates >= live);
    assert_int_equal(resp->replay->updates[0]->update->sequence, 2);
    assert_int_equal(resp->replay->head_sequence, expect - 1);
    passerelle__v1__response__free_unpacked(resp, NULL);
    hclient_destroy(&prod);
    hclient_destroy(&sub);

    /* After a restart too, and the lists still agree with the oracle. */
    assert_int_equal(harness_stop_clean(h), 0);
    s_check_store(h, &c, &ss, NULL);
    assert_int_equal(ss.matches, expect - 1);
    assert_int_equal(harness_start(h), 0);
    resp = s_replay(h, 0);
    assert_int_equal(resp->error, H_ERR(REPLAY_PURGED));
    passerelle__v1__response__free_unpacked(resp, NULL);
    assert_int_equal(harness_stop_clean(h), 0);

    /* A second load is refused: the store is no longer empty. */
    r = s_load(h, path);
    cli_expect_code(&r, 1, "load into a loaded store");
    cli_expect_in(r.err, "initial load of an empty store only", "refusal");
    cli_result_free(&r);
    harness_pass(h);
    free(d.text);
    reference_destroy(&c.ref);
}

static void test_load_refusals(void **state)
{
    harness_t *h = *state;
    char good[400], path[400];
    cli_result_t r;
    FILE *f;

    s_good_file(h, "good.pb", 0, good, sizeof good);

    /* A truncated file: nothing stored. */
    f = cli_open_file(h->root, "trunc.pb", path, sizeof path);
    s_put_generated(f, 5, 2, "t");
    s_put_varint(f, 300);
    fputs("too short", f);
    fclose(f);
    r = s_load(h, path);
    cli_expect_code(&r, 1, "truncated file");
    cli_expect_in(r.err, "file truncated", "reason");
    cli_expect_in(r.err, "nothing was loaded", "what is left");
    cli_result_free(&r);

    /* A bad varint. */
    f = cli_open_file(h->root, "varint.pb", path, sizeof path);
    s_put_generated(f, 2, 1, "u");
    for (int i = 0; i < 11; i++)
        fputc(0xff, f);
    fclose(f);
    r = s_load(h, path);
    cli_expect_code(&r, 1, "bad varint");
    cli_expect_in(r.err, "bad length prefix", "reason");
    cli_result_free(&r);

    /* A length no message has (a file that is not delimited). */
    f = cli_open_file(h->root, "huge.pb", path, sizeof path);
    s_put_varint(f, (uint64_t)1 << 40);
    fputs("x", f);
    fclose(f);
    r = s_load(h, path);
    cli_expect_code(&r, 1, "huge length");
    cli_expect_in(r.err, "not a delimited file", "reason");
    cli_result_free(&r);

    /* A missing file. */
    r = s_load(h, "/nonexistent/file.pb");
    cli_expect_code(&r, 1, "missing file");
    cli_expect_in(r.err, "cannot open", "reason");
    cli_result_free(&r);

    /* None of these stored anything: the daemon starts on an empty store,
     * and while it runs the store is locked. */
    assert_int_equal(harness_start(h), 0);
    hstats_t st;
    assert_int_equal(harness_stats(h, &st), 0);
    assert_int_equal(st.graduates + st.vacancies, 0);
    r = s_load(h, good);
    cli_expect_code(&r, 1, "load while the daemon runs");
    cli_expect_in(r.err, "matcherd is running on it", "lock");
    cli_result_free(&r);
    assert_int_equal(harness_stop_clean(h), 0);

    /* The good file loads now. */
    r = s_load(h, good);
    cli_expect_code(&r, 0, "good load");
    cli_result_free(&r);
    harness_pass(h);
}

static void test_load_stdin_resume(void **state)
{
    harness_t *h = *state;
    s_ctx_t c;
    char good[400], path[400];
    store_stats_t ss;
    cli_result_t r;

    s_ctx(&c);
    s_good_file(h, "good.pb", 0, good, sizeof good);
    /* Half of the population, then a truncated message, on stdin: the
     * first half is stored, the load stays unfinished. */
    FILE *f = cli_open_file(h->root, "half.pb", path, sizeof path);
    s_put_generated(f, S_GRADS / 2, S_VACS / 2, "a");
    s_put_varint(f, 500);
    fputs("short", f);
    fclose(f);
    r = s_load_stdin(h, path);
    cli_expect_code(&r, 1, "damaged stdin");
    cli_expect_in(r.err, "file truncated", "reason");
    cli_expect_in(r.err, "run matcherd --load again", "what to do");
    cli_result_free(&r);

    /* The daemon refuses that store. */
    assert_int_not_equal(harness_start(h), 0);
    char *log = cli_slurp(h->log_path);
    assert_non_null(log);
    cli_expect_in(log, "did not finish", "daemon refusal");
    free(log);

    /* Loading the whole file finishes it: what was stored is a duplicate. */
    r = s_load_stdin(h, good);
    cli_expect_code(&r, 0, "resumed load");
    cli_expect_in(r.err, "finishing the unfinished load", "resume");
    char want[64];
    (void)snprintf(want, sizeof want, "%d duplicate", S_GRADS / 2 + S_VACS / 2);
    cli_expect_in(r.err, want, "duplicates");
    cli_result_free(&r);
    s_check_store(h, &c, &ss, NULL);
    assert_int_equal(ss.matches, 1);
    assert_int_equal(harness_start(h), 0);
    Passerelle__V1__Response *resp = s_replay(h, 0);
    assert_int_equal(resp->error, H_ERR(REPLAY_PURGED));
    passerelle__v1__response__free_unpacked(resp, NULL);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
    reference_destroy(&c.ref);
}

/* More events than one decoded chunk (4,096) in one transaction, with a
 * duplicate and a rejected event beyond the first chunk. */
static void test_load_many_chunks(void **state)
{
    harness_t *h = *state;
    s_ctx_t c;
    char path[400];
    store_stats_t ss;
    FILE *f = cli_open_file(h->root, "many.pb", path, sizeof path);
    s_put_generated(f, 4500, 300, "m");
    s_put_generated(f, 1, 0, "m"); /* graduate 0 again: a duplicate */
    hev_t *e = malloc(sizeof *e);
    assert_non_null(e);
    hev_graduate(e, "ep-tarbes", "ev-bad-school", HARNESS_T0_MS, "g-bad-school");
    e->graduate.school_id = "not a school";
    s_put_event(f, e);
    free(e);
    fclose(f);

    s_ctx(&c);
    cli_result_t r = s_load_threads(h, "/dev/null", "0");
    cli_expect_code(&r, 2, "--load-threads 0 refused");
    cli_expect_in(r.err, "--load-threads", "the option named");
    cli_result_free(&r);
    /* more threads than CPUs, each with a share of every chunk of 500,
     * computing while the chunk before is stored; from a map of 1 MiB,
     * which has to grow while they compute (a growth waits for them) */
    char conf[400];
    FILE *cf = cli_open_file(h->root, "small-map.conf", conf, sizeof conf);
    fputs("[store]\nmap_initial_mb = 1\n", cf);
    fclose(cf);
    char *argv[] = {h->matcherd, "--config",       conf, "--data", h->data_dir, "--load",
                    path,        "--load-threads", "3",  NULL};
    r = cli_run_argv(h->root, argv, NULL, S_RUN_MS);
    cli_expect_code(&r, 3, "many chunks");
    cli_expect_in(r.err, "in 3 threads", "three threads");
    const char *lists_step = strstr(r.err, "building the ranked lists");
    assert_non_null(lists_step);
    cli_expect_in(lists_step, "map grown", "the map grew while the lists were stored");
    cli_expect_in(r.err, "load summary: 4802 events (4800 accepted, 1 duplicate, 1 rejected)",
                  "counts");
    cli_expect_in(r.err, "event 4802 at offset", "the rejected event, by its index");
    cli_result_free(&r);
    s_check_store(h, &c, &ss, NULL);
    assert_int_equal(ss.graduates, 4500);
    assert_int_equal(ss.vacancies, 300);
    assert_int_equal(ss.events, 4800);
    harness_pass(h);
    reference_destroy(&c.ref);
}

/* CSV -> matchctl import --out -> matcherd --load: the operator's flow. */
static void test_import_out_then_load(void **state)
{
    harness_t *h = *state;
    s_ctx_t c;
    char gcsv[1024], vcsv[1024], gpb[400], vpb[400], want[128];
    store_stats_t ss;
    const char *src = getenv("PASSERELLE_SOURCE_DIR");

    s_ctx(&c);
    (void)snprintf(gcsv, sizeof gcsv, "%s/clients/templates/graduates.csv", src ? src : "..");
    (void)snprintf(vcsv, sizeof vcsv, "%s/clients/templates/vacancies.csv", src ? src : "..");
    (void)snprintf(gpb, sizeof gpb, "%s/graduates.pb", h->root);
    (void)snprintf(vpb, sizeof vpb, "%s/vacancies.pb", h->root);
    const char *ga[] = {"import", "graduates", gcsv, "--source", "ep-sis", "--out", gpb, NULL};
    cli_result_t r = cli_run(h->root, ga, NULL);
    cli_expect_code(&r, 0, "import graduates --out");
    cli_expect_in(r.err, "written ", "count");
    size_t ng = 0;
    assert_int_equal(sscanf(strstr(r.err, "written "), "written %zu", &ng), 1);
    assert_true(ng > 0);
    cli_result_free(&r);
    const char *va[] = {"import", "vacancies", vcsv, "--source", "uimm", "--out", vpb, NULL};
    r = cli_run(h->root, va, NULL);
    cli_expect_code(&r, 0, "import vacancies --out");
    size_t nv = 0;
    assert_int_equal(sscanf(strstr(r.err, "written "), "written %zu", &nv), 1);
    assert_true(nv > 0);
    cli_result_free(&r);

    char *argv[] = {h->matcherd, "--data", h->data_dir, "--load", vpb, "--load", gpb, NULL};
    r = cli_run_argv(h->root, argv, NULL, S_RUN_MS);
    cli_expect_code(&r, 0, "load the imported files");
    (void)snprintf(want, sizeof want, "load summary: %zu events (%zu accepted", ng + nv, ng + nv);
    cli_expect_in(r.err, want, "all accepted");
    cli_result_free(&r);
    s_check_store(h, &c, &ss, NULL);
    assert_int_equal(ss.graduates, ng);
    assert_int_equal(ss.vacancies, nv);
    /* importing the same CSV into the running daemon: every row a duplicate */
    assert_int_equal(harness_start(h), 0);
    const char *again[] = {"import", "graduates", gcsv,         "--source",
                           "ep-sis", "--ingest",  h->ingest_ep, NULL};
    r = cli_run(h->root, again, NULL);
    cli_expect_code(&r, 0, "import again through the socket");
    (void)snprintf(want, sizeof want, "accepted 0, duplicate %zu", ng);
    cli_expect_in(r.out, want, "duplicates");
    cli_result_free(&r);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
    reference_destroy(&c.ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_serve_replay, harness_setup_stopped,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_load_refusals, harness_setup_stopped,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_load_stdin_resume, harness_setup_stopped,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_import_out_then_load, harness_setup_stopped,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_load_many_chunks, harness_setup_stopped,
                                        harness_teardown),
    };
    harness_cmocka_filter();
    cli_find_matchctl();
    return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
