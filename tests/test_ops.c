/* test_ops.c - operating matcherd, against the real daemon and matchctl:
 *
 * - `matchctl stats --prometheus` after known events, parsed by the
 *   Prometheus client's own parser (tests/prom_check.py, run with Debian's
 *   /usr/bin/python3 and python3-prometheus-client), values checked;
 * - `matchctl health` exit codes: 0 ready, 1 live but not ready (a store
 *   whose map cannot grow), 3 unreachable (daemon down);
 * - `matchctl backup` while a producer ingests, then a restore: a daemon
 *   started on the backup holds what was acknowledged before the request,
 *   and its match log agrees with its ranked lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "cli_run.h"
#include "harness.h"

#define EMPLOYER   "12345678900012"
#define EMPLOYER_2 "98765432100017"
#define SCHOOL     "0650043X"
#define TARBES     "65440"
#define LOURDES    "65286"
#define PAU        "64445"
#define LILLE      "59350"
#define RUN_MS     60000 /* longest run of one child command */

/* ------------------------------------------------------------------ */
/* Children: matchctl and python, run with cli_run.h. */

static char s_source[1024];

static void s_find_tools(void)
{
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    cli_find_matchctl();
    (void)snprintf(s_source, sizeof s_source, "%s", src && src[0] ? src : "..");
}

/* ------------------------------------------------------------------ */
/* Events as JSON lines. */

/* Post path; returns matchctl's result. */
static cli_result_t s_post(harness_t *h, const char *path)
{
    const char *args[] = {"post", "--ingest", h->ingest_ep, path, NULL};
    return cli_run_ms(h->root, args, NULL, RUN_MS);
}

/* The base population: vacancy v-1 in Tarbes; g-near, g-mid, g-far around. */
static void s_write_base(harness_t *h, char *path, size_t size, int with_bad)
{
    FILE *f = cli_open_file(h->root, "base.jsonl", path, size);
    cli_json_graduate(f, "ev-g-far", "g-far", PAU, HARNESS_T0_MS);
    cli_json_graduate(f, "ev-g-near", "g-near", TARBES, HARNESS_T0_MS);
    cli_json_vacancy(f, "uimm", "ev-v-1", "v-1", EMPLOYER, TARBES, HARNESS_T0_MS);
    cli_json_graduate(f, "ev-g-mid", "g-mid", LOURDES, HARNESS_T0_MS);
    if (with_bad) /* a SIRET of 3 digits: REJECTED, BAD_FORMAT */
        cli_json_vacancy(f, "uimm", "ev-v-bad", "v-bad", "123", TARBES, HARNESS_T0_MS);
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* Prometheus. */

typedef struct {
    char *text; /* prom_check.py's normalised lines */
} s_prom_t;

/* The value of the normalised sample "name{labels}" (labels sorted), or
 * fail. */
static double s_prom_get(const s_prom_t *p, const char *sample)
{
    size_t len = strlen(sample);
    const char *line = p->text;
    while (line && *line) {
        if (strncmp(line, sample, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    fail_msg("no sample %s in:\n%s", sample, p->text);
    return 0;
}

/* matchctl stats --prometheus into a file, parsed and checked by the real
 * parser. */
static s_prom_t s_prom_scrape(harness_t *h)
{
    char path[400], script[1100];
    const char *args[] = {"stats", "--query", h->query_ep, "--prometheus", NULL};
    cli_result_t r = cli_run_ms(h->root, args, NULL, RUN_MS);
    cli_expect_code(&r, 0, "stats --prometheus");
    (void)snprintf(path, sizeof path, "%s/metrics.prom", h->root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(r.out, f);
    fclose(f);
    cli_result_free(&r);
    (void)snprintf(script, sizeof script, "%s/tests/prom_check.py", s_source);
    char *argv[] = {"/usr/bin/python3", script, path, NULL};
    r = cli_run_argv(h->root, argv, NULL, RUN_MS);
    cli_expect_code(&r, 0, "prom_check.py (the Prometheus parser)");
    free(r.err);
    return (s_prom_t){r.out};
}

static uint64_t s_stats_u64(harness_t *h, size_t offset)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    req.request_id = "t-stats";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    req.stats = &sr;
    Passerelle__V1__Response *resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
    assert_non_null(resp);
    assert_non_null(resp->stats);
    uint64_t v;
    memcpy(&v, (const char *)resp->stats + offset, sizeof v);
    passerelle__v1__response__free_unpacked(resp, NULL);
    return v;
}

/* Wait until the stats field at offset equals want (subscriptions reach
 * the daemon asynchronously). */
static void s_wait_stat(harness_t *h, size_t offset, uint64_t want, const char *what)
{
    uint64_t v = 0;
    for (int i = 0; i < 500; i++) {
        if ((v = s_stats_u64(h, offset)) == want)
            return;
        usleep(10000);
    }
    fail_msg("%s stayed %" PRIu64 ", expected %" PRIu64, what, v, want);
}

static void test_prometheus_after_known_events(void **state)
{
    harness_t *h = *state;
    char base[400], more[400];
    cli_result_t r;

    /* A subscriber, counted as a subscribed prefix. */
    hclient_t *sub = hclient_new(h, ZMQ_SUB, h->feed_ep);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "employer/", 9), 0);
    s_wait_stat(h, offsetof(Passerelle__V1__Stats, subscriptions), 1, "subscriptions");

    s_write_base(h, base, sizeof base, 1);
    r = s_post(h, base); /* 4 accepted, 1 rejected */
    cli_expect_code(&r, 1, "post base with a bad vacancy");
    cli_result_free(&r);
    FILE *f = cli_open_file(h->root, "more.jsonl", more, sizeof more);
    cli_json_withdraw(f, "ev-w-near", "g-near", HARNESS_T0_MS + 1000);
    fclose(f);
    r = s_post(h, more);
    cli_expect_code(&r, 0, "post withdrawal");
    cli_result_free(&r);
    r = s_post(h, base); /* 4 duplicate, 1 rejected */
    cli_expect_code(&r, 1, "post base again");
    assert_non_null(strstr(r.out, "accepted 0, duplicate 4, rejected 1"));
    cli_result_free(&r);

    s_prom_t p = s_prom_scrape(h);
    const char *ev = "passerelle_events_total";
    char name[200];
#define EV(type, status, want)                                                                     \
    do {                                                                                           \
        (void)snprintf(name, sizeof name, "%s{status=%s,type=%s}", ev, status, type);              \
        assert_int_equal((uint64_t)s_prom_get(&p, name), want);                                    \
    } while (0)
    EV("graduate_upsert", "accepted", 3);
    EV("graduate_upsert", "duplicate", 3);
    EV("vacancy_upsert", "accepted", 1);
    EV("vacancy_upsert", "duplicate", 1);
    EV("vacancy_upsert", "rejected", 2);
    EV("graduate_withdrawn", "accepted", 1);
#undef EV
    assert_int_equal(
        (uint64_t)s_prom_get(&p, "passerelle_event_errors_total{code=ERROR_CODE_BAD_FORMAT}"), 2);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_graduates{}"), 3);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_graduates_available{}"), 2);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_vacancies_open{}"), 1);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_event_sequence{}"), 5);
    /* Lists after the withdrawal: v-1 holds g-far and g-mid, each of them
     * holds v-1. */
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_ranked_lists{}"), 3);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_ranked_list_entries{}"), 4);
    /* Every stored match update was published (no erasure here). */
    double entered = s_prom_get(&p, "passerelle_matches_published_total{kind=entered}");
    double updated = s_prom_get(&p, "passerelle_matches_published_total{kind=updated}");
    double left = s_prom_get(&p, "passerelle_matches_published_total{kind=left}");
    assert_true(entered >= 6 && left >= 2);
    assert_int_equal((uint64_t)(entered + updated + left),
                     (uint64_t)s_prom_get(&p, "passerelle_match_sequence{}"));
    /* Batches: 3 commits at least (one per post); 9 valid events in them. */
    double batches = s_prom_get(&p, "passerelle_batches_total{}");
    assert_true(batches >= 3);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_batch_size_count{}"), (uint64_t)batches);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_batch_size_sum{}"), 9);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_commit_duration_seconds_count{}"),
                     (uint64_t)batches);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_commit_duration_seconds_bucket{le=+Inf}"),
                     (uint64_t)batches);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_batch_size_bucket{le=4}"),
                     (uint64_t)batches); /* no batch above 4 events */
    assert_true(s_prom_get(&p, "passerelle_commit_duration_seconds_sum{}") > 0);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_commit_failures_total{}"), 0);
    /* small batches, far from store.txn_max_writes */
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_ingest_transactions_full_total{}"), 0);
    assert_true(s_prom_get(&p, "passerelle_store_file_bytes{}") > 0);
    assert_true(s_prom_get(&p, "passerelle_store_map_bytes{}") >=
                s_prom_get(&p, "passerelle_store_used_bytes{}"));
    /* lists.mdb: its blocks reserved ahead of what it uses, which holds lists */
    assert_true(s_prom_get(&p, "passerelle_store_lists_used_bytes{}") > 4096);
    assert_true(s_prom_get(&p, "passerelle_store_lists_file_bytes{}") >=
                s_prom_get(&p, "passerelle_store_lists_used_bytes{}"));
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_feed_subscriptions{}"), 1);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_feed_subscribe_messages_total{}"), 1);
    assert_true(s_prom_get(&p, "passerelle_feed_messages_sent_total{}") >= entered);
    assert_int_equal(
        (uint64_t)s_prom_get(&p, "passerelle_build_info{version=" PASSERELLE_VERSION "}"), 1);
    assert_true(s_prom_get(&p, "passerelle_start_time_seconds{}") > 1.7e9);
    free(p.text);

    /* An erasure takes g-mid out of v-1's list and drops its own list. */
    f = cli_open_file(h->root, "erase.jsonl", more, sizeof more);
    fprintf(f,
            "{\"eventId\":\"ev-e-mid\",\"source\":\"ep-tarbes\",\"occurredAtMs\":\"%lld\","
            "\"graduateErased\":{\"graduateId\":\"g-mid\",\"schoolId\":\"" SCHOOL "\"}}\n",
            (long long)HARNESS_T0_MS + 2000);
    fclose(f);
    r = s_post(h, more);
    cli_expect_code(&r, 0, "post erasure");
    cli_result_free(&r);
    p = s_prom_scrape(h);
    assert_int_equal(
        (uint64_t)s_prom_get(&p, "passerelle_events_total{status=accepted,type=graduate_erased}"),
        1);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_ranked_lists{}"), 2);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_ranked_list_entries{}"), 2);
    assert_int_equal((uint64_t)s_prom_get(&p, "passerelle_graduates{}"), 2);
    free(p.text);

    /* The subscriber leaves: the gauge goes back to 0. */
    hclient_destroy(&sub);
    s_wait_stat(h, offsetof(Passerelle__V1__Stats, subscriptions), 0, "subscriptions");
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* Health exit codes. */

static void test_health_ready_then_unreachable(void **state)
{
    harness_t *h = *state;
    const char *health[] = {"health", "--query", h->query_ep, "--timeout", "2000", NULL};
    cli_result_t r = cli_run_ms(h->root, health, NULL, RUN_MS);
    cli_expect_code(&r, 0, "health, daemon up");
    assert_string_equal(r.out, "live ready\n");
    cli_result_free(&r);
    assert_int_equal(harness_stop_clean(h), 0);
    r = cli_run_ms(h->root, health, NULL, RUN_MS);
    cli_expect_code(&r, 3, "health, daemon down");
    assert_non_null(strstr(r.err, h->query_ep));
    cli_result_free(&r);
    harness_pass(h);
}

/* A map of 1 MiB that may not grow: the store fills, commits fail. */
static int s_setup_tiny_map(void **state)
{
    return harness_setup_config(state, "[store]\nmap_initial_mb = 1\nmap_max_mb = 1\n");
}

static void test_health_not_ready_when_store_full(void **state)
{
    harness_t *h = *state;
    char path[400], id[64], eid[64];
    FILE *f = cli_open_file(h->root, "fill.jsonl", path, sizeof path);
    for (int i = 0; i < 3000; i++) {
        (void)snprintf(id, sizeof id, "g-fill-%d", i);
        (void)snprintf(eid, sizeof eid, "ev-fill-%d", i);
        cli_json_graduate(f, eid, id, i % 2 ? TARBES : LILLE, HARNESS_T0_MS);
    }
    fclose(f);
    cli_result_t r = s_post(h, path);
    cli_expect_code(&r, 1, "post until the store is full");
    assert_non_null(strstr(r.out, "ERROR_CODE_STORE_FULL"));
    cli_result_free(&r);
    /* A smaller batch may still fit after a large one failed, and a commit
     * that succeeds makes the daemon ready again: send single events until
     * one is answered RETRY, so that the last commit is a failed one. */
    hclient_t *c = hclient_new(h, ZMQ_DEALER, h->ingest_ep);
    assert_non_null(c);
    static hev_t e;
    int retry = 0;
    for (int i = 0; i < 5000 && !retry; i++) {
        (void)snprintf(id, sizeof id, "g-one-%d", i);
        (void)snprintf(eid, sizeof eid, "ev-one-%d", i);
        hev_graduate(&e, "ep-tarbes", eid, HARNESS_T0_MS, id);
        Passerelle__V1__Ack *ack = hclient_call(c, &e, HARNESS_ACK_TIMEOUT_MS);
        assert_non_null(ack);
        retry = ack->status == H_RETRY;
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }
    assert_true(retry);
    hclient_destroy(&c);
    const char *health[] = {"health", "--query", h->query_ep, "--timeout", "2000", NULL};
    r = cli_run_ms(h->root, health, NULL, RUN_MS);
    cli_expect_code(&r, 1, "health, store full");
    assert_non_null(strstr(r.out, "live, not ready"));
    cli_result_free(&r);
    s_prom_t p = s_prom_scrape(h);
    assert_true(s_prom_get(&p, "passerelle_commit_failures_total{}") >= 1);
    assert_true(s_prom_get(&p, "passerelle_events_total{status=retry,type=graduate_upsert}") >= 1);
    free(p.text);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* Backup and restore. */

#define S_FOLD_MAX 4096

typedef struct {
    const char *v;
    char (*out)[64];
    size_t n;
} s_fold_t;

/* One stored update folded into vacancy v's list (ENTERED/UPDATED add,
 * LEFT removes); updates of other lists are left out. */
static void s_fold_one(const Passerelle__V1__Topical *t, void *arg)
{
    s_fold_t *f = arg;
    const Passerelle__V1__MatchUpdate *u = t->update;
    if (strcmp(u->vacancy_id, f->v) != 0 || u->side != PASSERELLE__V1__LIST_SIDE__LIST_SIDE_VACANCY)
        return;
    size_t j = 0;
    while (j < f->n && strcmp(f->out[j], u->graduate_id) != 0)
        j++;
    if (u->kind == PASSERELLE__V1__MATCH_KIND__MATCH_KIND_LEFT) {
        if (j < f->n)
            memmove(f->out[j], f->out[j + 1], (f->n - j - 1) * sizeof f->out[0]), f->n--;
    } else if (j == f->n) {
        assert_true(f->n < S_FOLD_MAX);
        (void)snprintf(f->out[f->n++], sizeof f->out[0], "%s", u->graduate_id);
    }
}

/* The graduates in vacancy v's list according to the match log: every
 * stored update of v's side folded. Returns how many; ids in out
 * (sorted). */
static size_t s_fold_log(harness_t *h, const char *prefix, const char *v, char (*out)[64])
{
    s_fold_t f = {v, out, 0};
    (void)harness_replay_each(h, prefix, 0, 1000, s_fold_one, &f);
    qsort(out, f.n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
    return f.n;
}

/* The same ids from top_matches, sorted. */
static size_t s_top_sorted(harness_t *h, const char *v, char (*out)[64])
{
    char list[S_FOLD_MAX * 8];
    size_t n = 0;
    assert_int_equal(harness_top_ids(h, false, v, list, sizeof list), 0);
    for (char *tok = list; *tok;) {
        char *comma = strchr(tok, ',');
        size_t len = comma ? (size_t)(comma - tok) : strlen(tok);
        (void)snprintf(out[n++], sizeof out[0], "%.*s", (int)len, tok);
        tok += len + (comma != NULL);
    }
    qsort(out, n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

static void s_expect_log_agrees(harness_t *h, const char *prefix, const char *v)
{
    static char a[S_FOLD_MAX][64], b[S_FOLD_MAX][64];
    size_t na = s_fold_log(h, prefix, v, a), nb = s_top_sorted(h, v, b);
    if (na != nb)
        fail_msg("vacancy %s: the match log folds to %zu entries, its list has %zu", v, na, nb);
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            fail_msg("vacancy %s: log has %s where the list has %s", v, a[i], b[i]);
}

static Passerelle__V1__Response *s_backup(harness_t *h, const char *dir)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__BackupRequest br = PASSERELLE__V1__BACKUP_REQUEST__INIT;
    br.path = (char *)dir;
    req.request_id = "t-backup";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_BACKUP;
    req.backup = &br;
    Passerelle__V1__Response *resp = harness_query(h, &req, 60000, true);
    assert_non_null(resp);
    return resp;
}

static void test_backup_during_ingest_and_restore(void **state)
{
    harness_t *h = *state;
    char base[400], bulk[400], bk[400], moved[400], out_path[400], id[64], eid[64];
    char top_before[4096], top_after[4096];

    /* Acknowledged before the backup: the base population. */
    s_write_base(h, base, sizeof base, 0);
    cli_result_t r = s_post(h, base);
    cli_expect_code(&r, 0, "post base");
    cli_result_free(&r);
    assert_int_equal(harness_top_ids(h, false, "v-1", top_before, sizeof top_before), 0);
    assert_true(top_before[0] != '\0');

    /* A producer around Lille, far from v-1's reach, goes on meanwhile. */
    FILE *f = cli_open_file(h->root, "bulk.jsonl", bulk, sizeof bulk);
    for (int i = 0; i < 1500; i++) {
        (void)snprintf(id, sizeof id, "g-lille-%d", i);
        (void)snprintf(eid, sizeof eid, "ev-g-lille-%d", i);
        if (i % 50 == 0) {
            char vid[64], veid[64];
            (void)snprintf(vid, sizeof vid, "v-lille-%d", i / 50);
            (void)snprintf(veid, sizeof veid, "ev-v-lille-%d", i / 50);
            cli_json_vacancy(f, "uimm", veid, vid, EMPLOYER_2, LILLE, HARNESS_T0_MS);
        }
        cli_json_graduate(f, eid, id, LILLE, HARNESS_T0_MS);
    }
    fclose(f);
    (void)snprintf(out_path, sizeof out_path, "%s/producer.out", h->root);
    const char *pargs[] = {"post", "--ingest", h->ingest_ep, "--window", "16", bulk, NULL};
    pid_t producer = cli_spawn(pargs, out_path, NULL);
    assert_true(producer > 0);
    uint64_t events_base = s_stats_u64(h, offsetof(Passerelle__V1__Stats, events));
    for (int i = 0;
         i < 1000 && s_stats_u64(h, offsetof(Passerelle__V1__Stats, events)) < events_base + 100;
         i++)
        usleep(5000);

    /* The backup, refused where a store already is, then into a new dir. */
    Passerelle__V1__Response *resp = s_backup(h, h->data_dir);
    assert_int_equal(resp->error, H_ERR(BAD_REQUEST));
    assert_non_null(strstr(resp->message, "already holds a store"));
    passerelle__v1__response__free_unpacked(resp, NULL);
    (void)snprintf(bk, sizeof bk, "%s/backups/one", h->root);
    resp = s_backup(h, bk);
    if (resp->error != H_ERR(NONE))
        fail_msg("backup: %s", resp->message);
    assert_int_equal(resp->result_case, PASSERELLE__V1__RESPONSE__RESULT_BACKUP);
    uint64_t b_events = resp->backup->events, b_matches = resp->backup->match_sequence;
    assert_true(resp->backup->bytes > 0);
    passerelle__v1__response__free_unpacked(resp, NULL);
    assert_true(b_events >= events_base);

    int pcode = cli_wait(producer, RUN_MS);
    if (pcode != 0)
        fail_msg("producer exit %d: %s", pcode, cli_slurp(out_path));
    uint64_t events_final = s_stats_u64(h, offsetof(Passerelle__V1__Stats, events));
    assert_true(b_events <= events_final);
    printf("backup at event %" PRIu64 " of %" PRIu64 " (base %" PRIu64 "), match %" PRIu64 "\n",
           b_events, events_final, events_base, b_matches);

    /* Restore: stop, put the backup in place of the data dir, start. */
    assert_int_equal(harness_stop_clean(h), 0);
    (void)snprintf(moved, sizeof moved, "%s/data.replaced", h->root);
    assert_int_equal(rename(h->data_dir, moved), 0);
    assert_int_equal(rename(bk, h->data_dir), 0);
    assert_int_equal(harness_restart(h), 0);

    assert_int_equal(s_stats_u64(h, offsetof(Passerelle__V1__Stats, events)), b_events);
    assert_int_equal(s_stats_u64(h, offsetof(Passerelle__V1__Stats, match_sequence)), b_matches);
    assert_int_equal(harness_top_ids(h, false, "v-1", top_after, sizeof top_after), 0);
    assert_string_equal(top_after, top_before);
    /* Events acknowledged before the backup are there: all duplicates. */
    r = s_post(h, base);
    cli_expect_code(&r, 0, "post base to the restored daemon");
    assert_non_null(strstr(r.out, "accepted 0, duplicate 4, rejected 0"));
    cli_result_free(&r);
    /* A consistent state: the match log and the lists agree. */
    s_expect_log_agrees(h, "employer/" EMPLOYER, "v-1");
    for (int i = 0; i < 30; i += 7) {
        char vid[64];
        (void)snprintf(vid, sizeof vid, "v-lille-%d", i);
        Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
        Passerelle__V1__TopMatchesRequest tm = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
        tm.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
        tm.vacancy_id = vid;
        req.request_id = "t-exists";
        req.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
        req.top_matches = &tm;
        resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
        assert_non_null(resp);
        int found = resp->error == H_ERR(NONE);
        passerelle__v1__response__free_unpacked(resp, NULL);
        if (found)
            s_expect_log_agrees(h, "employer/" EMPLOYER_2, vid);
    }
    /* The producer can finish its work on the restored daemon. */
    const char *again[] = {"post", "--ingest", h->ingest_ep, bulk, NULL};
    r = cli_run_ms(h->root, again, NULL, RUN_MS);
    cli_expect_code(&r, 0, "post the bulk again after the restore");
    cli_result_free(&r);
    assert_int_equal(s_stats_u64(h, offsetof(Passerelle__V1__Stats, graduates)), 1503);
    harness_pass(h);
}

/* matchctl backup: a relative directory, the printed summary, refusal. */
static void test_matchctl_backup(void **state)
{
    harness_t *h = *state;
    char base[400], dir[500];
    s_write_base(h, base, sizeof base, 0);
    cli_result_t r = s_post(h, base);
    cli_expect_code(&r, 0, "post base");
    cli_result_free(&r);
    (void)snprintf(dir, sizeof dir, "%s/bk-cli", h->root);
    const char *args[] = {"backup", dir, "--query", h->query_ep, NULL};
    r = cli_run_ms(h->root, args, NULL, RUN_MS);
    cli_expect_code(&r, 0, "matchctl backup");
    assert_non_null(strstr(r.out, "backup written to"));
    assert_non_null(strstr(r.out, "events up to 4"));
    cli_result_free(&r);
    r = cli_run_ms(h->root, args, NULL, RUN_MS);
    cli_expect_code(&r, 1, "matchctl backup into a store");
    assert_non_null(strstr(r.err, "already holds a store"));
    cli_result_free(&r);
    const char *none[] = {"backup", "--query", h->query_ep, NULL};
    r = cli_run_ms(h->root, none, NULL, RUN_MS);
    cli_expect_code(&r, 2, "matchctl backup without a directory");
    cli_result_free(&r);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prometheus_after_known_events, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_health_ready_then_unreachable, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_health_not_ready_when_store_full, s_setup_tiny_map,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_backup_during_ingest_and_restore, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_matchctl_backup, harness_setup, harness_teardown),
    };
    s_find_tools();
    harness_cmocka_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
