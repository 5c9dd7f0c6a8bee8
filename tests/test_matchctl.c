/* test_matchctl.c - integration tests of matchctl against the real daemon.
 *
 * Each test gets a fresh matcherd (harness.h) and runs the real matchctl
 * binary ($PASSERELLE_MATCHCTL) with fork/exec, its output in files of the
 * harness's temporary directory, every run bounded in time:
 *   - post: a happy file, a file with one bad line, bad flags, daemon down;
 *   - stats, health: content, and daemon down;
 *   - matches: ranked and explained (JSON and table), unknown ids;
 *   - subscribe: late with --from 0 (the printed updates rebuild the list
 *     that `matches` shows), live continuation with no duplicate and no
 *     missing sequence, a subscriber killed and resumed with --from, a
 *     subscriber of one employer whose numbers jump over the other
 *     employer's updates asks for no gap replay (--verbose reports each);
 *   - a slow subscriber (raw SUB, tiny RCVHWM, never reading) does not slow
 *     matching down, and what it lost is caught up by replay.
 * The events are JSON lines around Tarbes (commune 65440) with the CAP
 * RNCP27470 (soudage) and the ROME occupation H2913.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
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
#define MAX_SEQS   200000

/* ------------------------------------------------------------------ */
/* Events as JSON lines. */

/* Post the events file at path with matchctl; require exit 0. */
static void s_post(harness_t *h, const char *path)
{
    const char *args[] = {"post", "--ingest", h->ingest_ep, path, NULL};
    cli_result_t r = cli_run(h->root, args, NULL);

    cli_expect_code(&r, 0, "post");
    cli_result_free(&r);
}

/* The base population: vacancy v-1 of EMPLOYER in Tarbes; g-near in
 * Tarbes, g-mid in Lourdes, g-far in Pau, all equally qualified. */
static void s_post_base(harness_t *h)
{
    char path[400];
    FILE *f = cli_open_file(h->root, "base.jsonl", path, sizeof path);

    cli_json_graduate(f, "ev-g-far", "g-far", PAU, HARNESS_T0_MS);
    cli_json_graduate(f, "ev-g-near", "g-near", TARBES, HARNESS_T0_MS);
    cli_json_vacancy(f, "uimm-occitanie", "ev-v-1", "v-1", EMPLOYER, TARBES, HARNESS_T0_MS);
    cli_json_graduate(f, "ev-g-mid", "g-mid", LOURDES, HARNESS_T0_MS);
    fclose(f);
    s_post(h, path);
}

/* ------------------------------------------------------------------ */
/* Reading JSON lines (the compact JSON mapping matchctl prints). */

/* Where the value of "key" starts in the text [p, end), or NULL. */
static const char *s_json_find(const char *p, const char *end, const char *key)
{
    char pat[64];
    size_t plen;

    (void)snprintf(pat, sizeof pat, "\"%s\":", key);
    plen = strlen(pat);
    for (; p != NULL && p + plen <= end; p++) {
        if (memcmp(p, pat, plen) == 0) {
            p += plen;
            while (p < end && (*p == ' ' || *p == '\n'))
                p++;
            return p;
        }
    }
    return NULL;
}

/* The string or number value of key in [p, end) into out ("" if absent). */
static void s_json_get(const char *p, const char *end, const char *key, char *out, size_t size)
{
    const char *v = s_json_find(p, end, key);
    size_t n = 0;

    out[0] = '\0';
    if (v == NULL)
        return;
    if (*v == '"')
        v++;
    while (v + n < end && v[n] != '"' && v[n] != ',' && v[n] != '}' && n + 1 < size)
        n++;
    memcpy(out, v, n);
    out[n] = '\0';
}

static uint64_t s_json_u64(const char *p, const char *end, const char *key)
{
    char buf[64];

    s_json_get(p, end, key, buf, sizeof buf);
    return strtoull(buf, NULL, 10);
}

/* One printed update. */
typedef struct {
    uint64_t seq;
    char topic[80];
    char kind[32];
    char vacancy[72];
    char graduate[72];
    unsigned rank;
    double score;
} s_line_t;

/* Parse the lines of text into lines (at most max). Returns the count. */
static size_t s_parse_lines(const char *text, s_line_t *lines, size_t max)
{
    size_t n = 0;
    const char *p = text;

    while (*p != '\0' && n < max) {
        const char *end = strchr(p, '\n');
        char buf[64];
        if (end == NULL)
            break; /* a partial last line: not yet flushed */
        memset(&lines[n], 0, sizeof lines[n]);
        lines[n].seq = s_json_u64(p, end, "sequence");
        s_json_get(p, end, "topic", lines[n].topic, sizeof lines[n].topic);
        s_json_get(p, end, "kind", lines[n].kind, sizeof lines[n].kind);
        s_json_get(p, end, "vacancyId", lines[n].vacancy, sizeof lines[n].vacancy);
        s_json_get(p, end, "graduateId", lines[n].graduate, sizeof lines[n].graduate);
        lines[n].rank = (unsigned)s_json_u64(p, end, "rank");
        s_json_get(p, end, "score", buf, sizeof buf);
        lines[n].score = strtod(buf, NULL);
        n++;
        p = end + 1;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* The truth, from the query socket. */

typedef struct {
    const char *prefix;
    uint64_t *seqs;
    size_t n, cap;
} s_seqs_t;

static void s_seq_one(const Passerelle__V1__Topical *t, void *arg)
{
    s_seqs_t *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->seqs = realloc(s->seqs, s->cap * sizeof *s->seqs);
        assert_non_null(s->seqs);
    }
    assert_true(strncmp(t->topic, s->prefix, strlen(s->prefix)) == 0);
    s->seqs[s->n++] = t->update->sequence;
}

/* The sequences of every stored update for prefix, in *seqs (malloc'd),
 * paging through replay. Returns the count. */
static size_t s_replay_all(harness_t *h, const char *prefix, uint64_t after, uint64_t **seqs)
{
    s_seqs_t s = {prefix, NULL, 0, 0};
    (void)harness_replay_each(h, prefix, after, 500, s_seq_one, &s);
    *seqs = s.seqs;
    return s.n;
}

/* The current list of vacancy_id, from the query socket (caller frees). */
static Passerelle__V1__Response *s_top(harness_t *h, const char *vacancy_id)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__TopMatchesRequest tm = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
    Passerelle__V1__Response *resp;

    tm.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
    tm.vacancy_id = (char *)vacancy_id;
    req.request_id = "t-top";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
    req.top_matches = &tm;
    resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
    assert_non_null(resp);
    assert_int_equal(resp->error, H_ERR(NONE));
    assert_non_null(resp->top_matches);
    return resp;
}

/* Fail unless the sequences of lines[0..n) are exactly want[0..n_want). */
static void s_expect_seqs(const s_line_t *lines, size_t n, const uint64_t *want, size_t n_want,
                          const char *what)
{
    size_t i;

    for (i = 0; i < n && i < n_want; i++)
        if (lines[i].seq != want[i])
            fail_msg("%s: update %zu has sequence %" PRIu64 ", expected %" PRIu64, what, i,
                     lines[i].seq, want[i]);
    if (n != n_want)
        fail_msg("%s: %zu updates printed, expected %zu (last expected %" PRIu64 ")", what, n,
                 n_want, n_want ? want[n_want - 1] : 0);
}

/* ------------------------------------------------------------------ */
/* post */

static void test_post_happy_and_bad_line(void **state)
{
    harness_t *h = *state;
    char path[400];
    FILE *f = cli_open_file(h->root, "bad.jsonl", path, sizeof path);
    cli_result_t r;
    const char *args[] = {"post", "--ingest", h->ingest_ep, path, NULL};

    s_post_base(h); /* exit 0 checked inside */

    cli_json_graduate(f, "ev-b-1", "g-b-1", TARBES, HARNESS_T0_MS);
    fprintf(f, "# a comment, then a line that is not an Event\n");
    fprintf(f, "{\"eventId\":\"ev-b-2\",\"colour\":\"blue\"}\n");
    cli_json_graduate(f, "ev-b-3", "g-b-3", LOURDES, HARNESS_T0_MS);
    fclose(f);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 1, "post with a bad line");
    assert_non_null(strstr(r.out, "accepted 2, duplicate 0, rejected 1"));
    assert_non_null(strstr(r.out, "line 3:"));
    assert_non_null(strstr(r.out, "colour"));
    cli_result_free(&r);

    /* The same file again: duplicates, and the bad line still reported. */
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 1, "post again");
    assert_non_null(strstr(r.out, "accepted 0, duplicate 2, rejected 1"));
    cli_result_free(&r);
    harness_pass(h);
}

static void test_usage_errors(void **state)
{
    harness_t *h = *state;
    const char *bad_flag[] = {"post", "--no-such-flag", "x.jsonl", NULL};
    const char *no_file[] = {"post", "--ingest", h->ingest_ep, NULL};
    const char *bad_limit[] = {"matches", "vacancy", "v-1", "--limit", "lots", NULL};
    const char *bad_kind[] = {"matches", "employer", "v-1", NULL};
    const char *bad_from[] = {"subscribe", "employer/", "--from", "-3", NULL};
    const char *from_live[] = {"subscribe", "employer/", "--from", "3", "--live", NULL};
    const char *no_topic[] = {"subscribe", NULL};
    const char *const *cases[] = {bad_flag, no_file,   bad_limit, bad_kind,
                                  bad_from, from_live, no_topic};
    const char *helps[] = {"post", "stats", "health", "matches", "subscribe"};
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_result_t r = cli_run(h->root, cases[i], NULL);
        cli_expect_code(&r, 2, cases[i][0]);
        assert_non_null(strstr(r.err, "--help"));
        cli_result_free(&r);
    }
    for (i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        const char *args[] = {helps[i], "--help", NULL};
        cli_result_t r = cli_run(h->root, args, NULL);
        cli_expect_code(&r, 0, helps[i]);
        assert_non_null(strstr(r.out, "Usage: matchctl"));
        assert_non_null(strstr(r.out, "Example"));
        assert_non_null(strstr(r.out, "Exit status"));
        cli_result_free(&r);
    }
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* stats, health, and everything with the daemon down */

static void test_stats_health_and_daemon_down(void **state)
{
    harness_t *h = *state;
    const char *stats[] = {"stats", "--query", h->query_ep, NULL};
    const char *stats_json[] = {"stats", "--query", h->query_ep, "--json", NULL};
    const char *health[] = {"health", "--query", h->query_ep, NULL};
    const char *env_stats[] = {"stats", NULL};
    char env_query[128], path[400];
    const char *env[] = {env_query, NULL};
    cli_result_t r;
    FILE *f;

    s_post_base(h);
    r = cli_run(h->root, stats, NULL);
    cli_expect_code(&r, 0, "stats");
    assert_non_null(strstr(r.out, "graduates "));
    assert_non_null(strstr(r.out, "match_sequence"));
    cli_result_free(&r);
    r = cli_run(h->root, stats_json, NULL);
    cli_expect_code(&r, 0, "stats --json");
    assert_non_null(strstr(r.out, "\"graduates\": \"3\""));
    assert_non_null(strstr(r.out, "\"vacanciesOpen\": \"1\""));
    cli_result_free(&r);
    r = cli_run(h->root, health, NULL);
    cli_expect_code(&r, 0, "health");
    assert_string_equal(r.out, "live ready\n");
    cli_result_free(&r);
    /* The endpoint from the environment. */
    (void)snprintf(env_query, sizeof env_query, "PASSERELLE_QUERY=%s", h->query_ep);
    r = cli_run(h->root, env_stats, env);
    cli_expect_code(&r, 0, "stats with $PASSERELLE_QUERY");
    cli_result_free(&r);

    assert_int_equal(harness_stop_clean(h), 0);
    {
        const char *st[] = {"stats", "--query", h->query_ep, "--timeout", "500", NULL};
        const char *he[] = {"health", "--query", h->query_ep, "--timeout", "500", NULL};
        const char *ma[] = {"matches",   "vacancy",   "v-1", "--query",
                            h->query_ep, "--timeout", "500", NULL};
        const char *su[] = {"subscribe", "employer/", "--feed", h->feed_ep, "--query",
                            h->query_ep, "--timeout", "500",    NULL};
        const char *const *down[] = {st, he, ma, su};
        size_t i;
        for (i = 0; i < sizeof down / sizeof down[0]; i++) {
            r = cli_run(h->root, down[i], NULL);
            cli_expect_code(&r, 3, down[i][0]);
            assert_non_null(strstr(r.err, h->query_ep));
            cli_result_free(&r);
        }
    }
    f = cli_open_file(h->root, "down.jsonl", path, sizeof path);
    cli_json_graduate(f, "ev-d-1", "g-d-1", TARBES, HARNESS_T0_MS);
    fclose(f);
    {
        const char *po[] = {"post", "--ingest", h->ingest_ep, "--timeout", "500", path, NULL};
        r = cli_run(h->root, po, NULL);
        cli_expect_code(&r, 3, "post, daemon down");
        assert_non_null(strstr(r.err, h->ingest_ep));
        cli_result_free(&r);
    }
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* matches */

static void test_matches_ranked_and_explained(void **state)
{
    harness_t *h = *state;
    const char *json[] = {"matches", "vacancy", "v-1", "--query", h->query_ep, "--json", NULL};
    const char *table[] = {"matches", "vacancy", "v-1", "--query", h->query_ep, NULL};
    const char *grad[] = {"matches", "graduate", "g-near", "--query", h->query_ep, NULL};
    const char *limit[] = {"matches",   "vacancy", "v-1", "--query",
                           h->query_ep, "--limit", "1",   NULL};
    const char *unknown[] = {"matches", "vacancy", "v-nope", "--query", h->query_ep, NULL};
    const char *unknown_g[] = {"matches", "graduate", "g-nope", "--query", h->query_ep, NULL};
    const char *near, *mid, *far, *first_row;
    cli_result_t r;

    s_post_base(h);
    r = cli_run(h->root, json, NULL);
    cli_expect_code(&r, 0, "matches --json");
    near = strstr(r.out, "\"graduateId\": \"g-near\"");
    mid = strstr(r.out, "\"graduateId\": \"g-mid\"");
    far = strstr(r.out, "\"graduateId\": \"g-far\"");
    if (near == NULL || mid == NULL || far == NULL || !(near < mid && mid < far))
        fail_msg("expected g-near, g-mid, g-far in this order:\n%s", r.out);
    assert_non_null(strstr(r.out, "\"matchedSkills\""));
    assert_non_null(strstr(r.out, "\"code\": \"486590\""));
    assert_non_null(strstr(r.out, "\"certificationFit\": \"CERTIFICATION_FIT_EXACT_RNCP\""));
    assert_non_null(strstr(r.out, "\"distanceKm\""));
    assert_true(r.out[0] == '{');
    cli_result_free(&r);

    r = cli_run(h->root, table, NULL);
    cli_expect_code(&r, 0, "matches (table)");
    assert_true(strncmp(r.out, "RANK  GRADUATE", 14) == 0);
    assert_non_null(strstr(r.out, "SCHOOL"));
    assert_non_null(strstr(r.out, "SCORE"));
    assert_non_null(strstr(r.out, "CERTIFICATION"));
    assert_non_null(strstr(r.out, "SKILLS"));
    first_row = strchr(r.out, '\n') + 1;
    assert_true(strncmp(first_row, "   1  g-near ", 13) == 0);
    assert_non_null(strstr(first_row, SCHOOL));
    assert_non_null(strstr(first_row, "exact RNCP27470"));
    assert_non_null(strstr(first_row, "Assembler des"));
    assert_non_null(strstr(r.out, "   3  g-far "));
    cli_result_free(&r);

    r = cli_run(h->root, grad, NULL);
    cli_expect_code(&r, 0, "matches graduate");
    assert_true(strncmp(r.out, "RANK  VACANCY", 13) == 0);
    assert_non_null(strstr(r.out, "   1  v-1 "));
    assert_non_null(strstr(r.out, EMPLOYER));
    cli_result_free(&r);

    r = cli_run(h->root, limit, NULL);
    cli_expect_code(&r, 0, "matches --limit 1");
    assert_non_null(strstr(r.out, "g-near"));
    assert_null(strstr(r.out, "g-mid"));
    cli_result_free(&r);

    r = cli_run(h->root, unknown, NULL);
    cli_expect_code(&r, 1, "matches of an unknown vacancy");
    assert_non_null(strstr(r.err, "v-nope"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    r = cli_run(h->root, unknown_g, NULL);
    cli_expect_code(&r, 1, "matches of an unknown graduate");
    cli_result_free(&r);
    harness_pass(h);
}

/* withdraw, close, erase: each one event, reported like post */
static void test_withdraw_close_erase(void **state)
{
    harness_t *h = *state;
    const char *hire[] = {"withdraw", "g-near",   "--school",   SCHOOL, "--reason",
                          "hired",    "--ingest", h->ingest_ep, NULL};
    const char *stranger[] = {"withdraw", "g-mid",    "--school",   "9999999Z", "--reason",
                              "left",     "--ingest", h->ingest_ep, NULL};
    const char *bad_reason[] = {"withdraw", "g-mid",    "--school",   SCHOOL, "--reason",
                                "bored",    "--ingest", h->ingest_ep, NULL};
    const char *close[] = {"close",  "v-1",      "--employer", EMPLOYER, "--reason",
                           "filled", "--ingest", h->ingest_ep, NULL};
    const char *erase[] = {"erase", "g-mid", "--school", SCHOOL, "--ingest", h->ingest_ep, NULL};
    const char *top[] = {"matches", "vacancy", "v-1", "--query", h->query_ep, NULL};
    const char *gone[] = {"matches", "graduate", "g-mid", "--query", h->query_ep, NULL};
    cli_result_t r;

    s_post_base(h);
    r = cli_run(h->root, hire, NULL);
    cli_expect_code(&r, 0, "withdraw");
    assert_non_null(strstr(r.out, "accepted 1, duplicate 0, rejected 0"));
    cli_result_free(&r);
    r = cli_run(h->root, top, NULL);
    cli_expect_code(&r, 0, "matches after the hire");
    assert_null(strstr(r.out, "g-near"));           /* retracted */
    assert_non_null(strstr(r.out, "   1  g-mid ")); /* the next one moved up */
    cli_result_free(&r);
    r = cli_run(h->root, stranger, NULL);
    cli_expect_code(&r, 1, "withdraw by another school");
    assert_non_null(strstr(r.out, "ERROR_CODE_OWNER_MISMATCH"));
    cli_result_free(&r);
    r = cli_run(h->root, bad_reason, NULL);
    cli_expect_code(&r, 2, "withdraw with an unknown reason");
    cli_result_free(&r);
    r = cli_run(h->root, close, NULL);
    cli_expect_code(&r, 0, "close");
    cli_result_free(&r);
    r = cli_run(h->root, top, NULL);
    cli_expect_code(&r, 0, "matches after the closure");
    assert_non_null(strstr(r.out, "(no matches for vacancy v-1)"));
    cli_result_free(&r);
    r = cli_run(h->root, erase, NULL);
    cli_expect_code(&r, 0, "erase");
    cli_result_free(&r);
    r = cli_run(h->root, gone, NULL);
    cli_expect_code(&r, 1, "matches of an erased graduate");
    cli_result_free(&r);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* subscribe */

/* Rebuild v-1's list from the printed updates and compare it with what the
 * query socket says now. */
static void s_expect_rebuilt(harness_t *h, const s_line_t *lines, size_t n, const char *vacancy)
{
    struct {
        char graduate[72];
        unsigned rank;
        double score;
        bool in;
    } state[64];
    size_t n_state = 0, i, j, count = 0;
    Passerelle__V1__Response *top = s_top(h, vacancy);

    memset(state, 0, sizeof state);
    for (i = 0; i < n; i++) {
        if (strcmp(lines[i].vacancy, vacancy) != 0)
            continue;
        for (j = 0; j < n_state && strcmp(state[j].graduate, lines[i].graduate) != 0; j++)
            ;
        if (j == n_state) {
            assert_true(n_state < 64);
            (void)snprintf(state[j].graduate, sizeof state[j].graduate, "%s", lines[i].graduate);
            n_state++;
        }
        state[j].in = strcmp(lines[i].kind, "MATCH_KIND_LEFT") != 0;
        state[j].rank = lines[i].rank;
        state[j].score = lines[i].score;
    }
    for (j = 0; j < n_state; j++)
        count += state[j].in;
    if (count != top->top_matches->n_matches)
        fail_msg("the feed leaves %zu graduates in %s's list, matches shows %zu", count, vacancy,
                 top->top_matches->n_matches);
    for (i = 0; i < top->top_matches->n_matches; i++) {
        const Passerelle__V1__RankedMatch *m = top->top_matches->matches[i];
        for (j = 0; j < n_state && strcmp(state[j].graduate, m->graduate_id) != 0; j++)
            ;
        if (j == n_state || !state[j].in)
            fail_msg("%s at rank %u is not in the list rebuilt from the feed", m->graduate_id,
                     m->rank);
        /* the list's order follows from the scores (then the ids): the
         * rank an update carries is its entry's rank when it was sent */
        unsigned rank = 1;
        for (size_t k = 0; k < n_state; k++)
            if (state[k].in && k != j &&
                (state[k].score > state[j].score + 1e-9 ||
                 (fabs(state[k].score - state[j].score) <= 1e-9 &&
                  strcmp(state[k].graduate, state[j].graduate) < 0)))
                rank++;
        if (rank != m->rank || fabs(state[j].score - m->score) > 1e-6)
            fail_msg("%s: the feed gives rank %u score %f, matches says rank %u score %f",
                     m->graduate_id, rank, state[j].score, m->rank, m->score);
    }
    passerelle__v1__response__free_unpacked(top, NULL);
}

/* More events: new graduates, one hired, another employer's vacancy. */
static void s_post_more(harness_t *h, const char *name, int round)
{
    char path[400], ev[64], id[64];
    FILE *f = cli_open_file(h->root, name, path, sizeof path);
    const char *where[] = {TARBES, LOURDES, PAU, "65100"};
    int i;

    for (i = 0; i < 6; i++) {
        (void)snprintf(ev, sizeof ev, "ev-r%d-g%d", round, i);
        (void)snprintf(id, sizeof id, "g-r%d-%d", round, i);
        cli_json_graduate(f, ev, id, where[(i + round) % 4], HARNESS_T0_MS + round);
    }
    (void)snprintf(ev, sizeof ev, "ev-r%d-v", round);
    (void)snprintf(id, sizeof id, "v-r%d", round);
    cli_json_vacancy(f, "uimm-occitanie", ev, id, EMPLOYER_2, LOURDES, HARNESS_T0_MS + round);
    (void)snprintf(ev, sizeof ev, "ev-r%d-w", round);
    (void)snprintf(id, sizeof id, "g-r%d-0", round);
    cli_json_withdraw(f, ev, id, HARNESS_T0_MS + round + 1);
    fclose(f);
    s_post(h, path);
}

static void test_subscribe_late_from_zero(void **state)
{
    harness_t *h = *state;
    char count[32];
    const char *args[] = {"subscribe", "employer/" EMPLOYER,
                          "--feed",    h->feed_ep,
                          "--query",   h->query_ep,
                          "--from",    "0",
                          "--count",   count,
                          NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    uint64_t *want = NULL;
    size_t n_want, n;
    cli_result_t r;

    assert_non_null(lines);
    s_post_base(h);
    s_post_more(h, "more1.jsonl", 1);
    s_post_more(h, "more2.jsonl", 2);
    n_want = s_replay_all(h, "employer/" EMPLOYER, 0, &want);
    assert_true(n_want >= 3);
    (void)snprintf(count, sizeof count, "%zu", n_want);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 0, "subscribe --from 0 --count N");
    n = s_parse_lines(r.out, lines, MAX_SEQS);
    s_expect_seqs(lines, n, want, n_want, "late subscriber");
    assert_string_equal(lines[0].topic, "employer/" EMPLOYER);
    s_expect_rebuilt(h, lines, n, "v-1");
    cli_result_free(&r);
    free(want);
    free(lines);
    harness_pass(h);
}

/* The sequence of the last complete line of the file at path (0 if none),
 * reading only its end. */
static uint64_t s_last_seq(const char *path)
{
    char buf[65536 + 1];
    FILE *f = fopen(path, "r");
    long size;
    size_t n;
    char *end, *start;

    if (f == NULL)
        return 0;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, size > 65536 ? size - 65536 : 0, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    end = strrchr(buf, '\n');
    if (end == NULL)
        return 0;
    *end = '\0';
    start = strrchr(buf, '\n');
    start = start != NULL ? start + 1 : buf;
    return s_json_u64(start, end, "sequence");
}

/* Wait until the file at path holds a line with sequence >= seq, then
 * parse it into lines. Returns true when it does. */
static bool s_wait_for_seq(const char *path, uint64_t seq, int timeout_ms, s_line_t *lines,
                           size_t *n)
{
    int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;
    bool reached;
    char *text;

    while (!(reached = s_last_seq(path) >= seq) && harness_now_us() < deadline)
        usleep(10000);
    text = cli_slurp(path);
    *n = s_parse_lines(text, lines, MAX_SEQS);
    free(text);
    return reached;
}

/* Stop a background subscriber with SIGTERM; it must exit 0. */
static void s_stop_subscriber(pid_t pid)
{
    int code;

    assert_int_equal(kill(pid, SIGTERM), 0);
    code = cli_wait(pid, 5000);
    if (code != 0)
        fail_msg("subscribe exited %d on SIGTERM, expected 0", code);
}

static void test_subscribe_live_continuation(void **state)
{
    harness_t *h = *state;
    char out[400];
    const char *args[] = {"subscribe", "employer/", "--feed",  h->feed_ep, "--query",
                          h->query_ep, "--count",   "1000000", NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    uint64_t *want = NULL;
    size_t n_want, n = 0;
    pid_t pid;

    assert_non_null(lines);
    s_post_base(h);
    n_want = s_replay_all(h, "employer/", 0, &want);
    (void)snprintf(out, sizeof out, "%s/live.out", h->root);
    pid = cli_spawn(args, out, NULL);
    assert_true(pid > 0);
    if (!s_wait_for_seq(out, want[n_want - 1], 10000, lines, &n))
        fail_msg("the subscriber did not catch up to %" PRIu64, want[n_want - 1]);
    free(want);

    /* Live: several batches, with other topics' updates in between. */
    s_post_more(h, "more1.jsonl", 1);
    s_post_more(h, "more2.jsonl", 2);
    s_post_more(h, "more3.jsonl", 3);
    n_want = s_replay_all(h, "employer/", 0, &want);
    if (!s_wait_for_seq(out, want[n_want - 1], 10000, lines, &n))
        fail_msg("the subscriber printed %zu updates, not up to %" PRIu64, n, want[n_want - 1]);
    s_stop_subscriber(pid);
    {
        char *text = cli_slurp(out);
        n = s_parse_lines(text, lines, MAX_SEQS);
        free(text);
    }
    s_expect_seqs(lines, n, want, n_want, "live subscriber");
    s_expect_rebuilt(h, lines, n, "v-1");
    free(want);
    free(lines);
    harness_pass(h);
}

static void test_subscribe_killed_and_resumed(void **state)
{
    harness_t *h = *state;
    char out1[400], out2[400], from[32];
    const char *args1[] = {"subscribe", "employer/", "--feed", h->feed_ep,
                           "--query",   h->query_ep, NULL};
    const char *args2[] = {"subscribe", "employer/", "--feed", h->feed_ep, "--query",
                           h->query_ep, "--from",    from,     NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    s_line_t *all = calloc(MAX_SEQS, sizeof *all);
    uint64_t *want = NULL;
    size_t n_want, n1 = 0, n2 = 0;
    pid_t pid;

    assert_non_null(lines);
    assert_non_null(all);
    s_post_base(h);
    s_post_more(h, "more1.jsonl", 1);
    n_want = s_replay_all(h, "employer/", 0, &want);
    (void)snprintf(out1, sizeof out1, "%s/first.out", h->root);
    pid = cli_spawn(args1, out1, NULL);
    assert_true(pid > 0);
    if (!s_wait_for_seq(out1, want[n_want - 1], 10000, lines, &n1))
        fail_msg("the first subscriber did not catch up");
    free(want);
    s_post_more(h, "more2.jsonl", 2);
    usleep(200000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(cli_wait(pid, 5000), 128 + SIGKILL);
    {
        char *text = cli_slurp(out1);
        n1 = s_parse_lines(text, lines, MAX_SEQS);
        free(text);
    }
    memcpy(all, lines, n1 * sizeof *lines);

    /* While nobody listens. */
    s_post_more(h, "more3.jsonl", 3);
    (void)snprintf(from, sizeof from, "%" PRIu64, n1 > 0 ? all[n1 - 1].seq : 0);
    (void)snprintf(out2, sizeof out2, "%s/second.out", h->root);
    pid = cli_spawn(args2, out2, NULL);
    assert_true(pid > 0);
    s_post_more(h, "more4.jsonl", 4);
    n_want = s_replay_all(h, "employer/", 0, &want);
    if (!s_wait_for_seq(out2, want[n_want - 1], 10000, lines, &n2))
        fail_msg("the resumed subscriber did not reach %" PRIu64, want[n_want - 1]);
    s_stop_subscriber(pid);
    {
        char *text = cli_slurp(out2);
        n2 = s_parse_lines(text, lines, MAX_SEQS);
        free(text);
    }
    assert_true(n1 + n2 <= MAX_SEQS);
    memcpy(all + n1, lines, n2 * sizeof *lines);
    s_expect_seqs(all, n1 + n2, want, n_want, "killed then resumed subscriber");
    s_expect_rebuilt(h, all, n1 + n2, "v-1");
    free(want);
    free(lines);
    free(all);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* A slow subscriber never stalls matching. */

static void test_slow_subscriber(void **state)
{
    harness_t *h = *state;
    void *sub = zmq_socket(h->zctx, ZMQ_SUB);
    int hwm = 1, rcvbuf = 4096, linger = 0, i;
    char path[400], count[32], ev[64], id[64];
    const char *where[] = {TARBES, LOURDES, PAU, "65100"};
    const char *post[] = {"post", "--ingest", h->ingest_ep, "--timeout", "30000", path, NULL};
    const char *args[] = {"subscribe", "",  "--feed",  h->feed_ep, "--query", h->query_ep,
                          "--from",    "0", "--count", count,      NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    uint64_t *want = NULL;
    size_t n_want, n, received = 0;
    int64_t t0, post_ms;
    cli_result_t r;
    FILE *f;

    assert_non_null(sub);
    assert_non_null(lines);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(sub, h->feed_ep), 0);
    usleep(200000); /* let the subscription reach the publisher */

    /* Ten vacancies and 1500 graduates around Tarbes: each graduate enters
     * ten lists, tens of thousands of updates for one SUB that never reads. */
    f = cli_open_file(h->root, "bulk.jsonl", path, sizeof path);
    for (i = 0; i < 10; i++) {
        (void)snprintf(ev, sizeof ev, "ev-bv-%d", i);
        (void)snprintf(id, sizeof id, "v-b-%d", i);
        cli_json_vacancy(f, "uimm-occitanie", ev, id, i % 2 ? EMPLOYER : EMPLOYER_2, where[i % 4],
                         HARNESS_T0_MS);
    }
    for (i = 0; i < 1500; i++) {
        (void)snprintf(ev, sizeof ev, "ev-bg-%d", i);
        (void)snprintf(id, sizeof id, "g-b-%d", i);
        cli_json_graduate(f, ev, id, where[i % 4], HARNESS_T0_MS);
    }
    fclose(f);
    t0 = harness_now_us();
    r = cli_run(h->root, post, NULL);
    post_ms = (harness_now_us() - t0) / 1000;
    cli_expect_code(&r, 0, "bulk post with a stalled subscriber");
    assert_non_null(strstr(r.out, "accepted 1510"));
    cli_result_free(&r);
    if (post_ms > 20000)
        fail_msg("1510 events took %" PRId64 " ms with a stalled subscriber", post_ms);

    /* The stalled subscriber holds only what its queues took. */
    for (;;) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        zmq_msg_t msg;
        if (zmq_poll(&item, 1, 300) <= 0)
            break;
        zmq_msg_init(&msg);
        while (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&msg))
            ;
        zmq_msg_close(&msg);
        received++;
    }
    zmq_close(sub);

    /* It catches up by replay: every update, in order, once. */
    n_want = s_replay_all(h, "", 0, &want);
    assert_true(n_want > 10000);
    print_message("stalled SUB received %zu of %zu updates live; post took %" PRId64 " ms\n",
                  received, n_want, post_ms);
    for (n = 0; n < n_want; n++)
        assert_true(want[n] == n + 1); /* every update has a topic: 1..head */
    (void)snprintf(count, sizeof count, "%zu", n_want);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 0, "catch-up by replay");
    n = s_parse_lines(r.out, lines, MAX_SEQS);
    s_expect_seqs(lines, n, want, n_want, "catch-up");
    cli_result_free(&r);
    free(want);
    free(lines);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* Gap repair: a subscriber that is frozen (SIGSTOP) while a burst is
 * published loses messages at the high-water marks; when it runs again it
 * sees jumps in the sequence numbers and fills them from the store. */

static void s_post_bulk(harness_t *h, const char *name, int vacancies, int graduates)
{
    const char *where[] = {TARBES, LOURDES, PAU, "65100"};
    char path[400], ev[64], id[64];
    const char *post[] = {"post", "--ingest", h->ingest_ep, "--timeout", "30000", path, NULL};
    FILE *f = cli_open_file(h->root, name, path, sizeof path);
    cli_result_t r;
    int i;

    for (i = 0; i < vacancies; i++) {
        (void)snprintf(ev, sizeof ev, "ev-%s-v-%d", name, i);
        (void)snprintf(id, sizeof id, "v-%s-%d", name, i);
        cli_json_vacancy(f, "uimm-occitanie", ev, id, i % 2 ? EMPLOYER : EMPLOYER_2, where[i % 4],
                         HARNESS_T0_MS);
    }
    for (i = 0; i < graduates; i++) {
        (void)snprintf(ev, sizeof ev, "ev-%s-g-%d", name, i);
        (void)snprintf(id, sizeof id, "g-%s-%d", name, i);
        cli_json_graduate(f, ev, id, where[i % 4], HARNESS_T0_MS);
    }
    fclose(f);
    r = cli_run(h->root, post, NULL);
    cli_expect_code(&r, 0, "bulk post");
    cli_result_free(&r);
}

/* A match log that keeps only the last 2 updates. */
static int s_setup_retention(void **state)
{
    return harness_setup_config(state, "[feed]\nretention_max_updates = 2\n");
}

/* Publisher queues of 500 messages, so that a frozen subscriber loses some. */
static int s_setup_small_hwm(void **state)
{
    return harness_setup_config(state, "[sockets]\nsndhwm = 500\n");
}

static void test_subscribe_repairs_hwm_drops(void **state)
{
    harness_t *h = *state;
    char out[400];
    const char *args[] = {"subscribe", "school/",   "--feed",    h->feed_ep,
                          "--query",   h->query_ep, "--verbose", NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    uint64_t *want = NULL;
    size_t n_want, n = 0;
    pid_t pid;

    assert_non_null(lines);
    s_post_base(h);
    n_want = s_replay_all(h, "school/", 0, &want);
    (void)snprintf(out, sizeof out, "%s/frozen.out", h->root);
    pid = cli_spawn(args, out, NULL);
    assert_true(pid > 0);
    if (!s_wait_for_seq(out, want[n_want - 1], 10000, lines, &n))
        fail_msg("the subscriber did not catch up");
    free(want);

    assert_int_equal(kill(pid, SIGSTOP), 0);
    /* Far more than the publisher's HWM and than loopback TCP buffers can
     * hold (they grow to tens of MB): each graduate enters 20 lists. */
    s_post_bulk(h, "burst", 20, 2500);
    assert_int_equal(kill(pid, SIGCONT), 0);
    n_want = s_replay_all(h, "school/", 0, &want);
    assert_true(n_want > 45000);
    if (!s_wait_for_seq(out, want[n_want - 1], 60000, lines, &n))
        fail_msg("the subscriber printed %zu updates, not up to %" PRIu64, n, want[n_want - 1]);
    s_stop_subscriber(pid);
    {
        char *text = cli_slurp(out);
        n = s_parse_lines(text, lines, MAX_SEQS);
        free(text);
    }
    s_expect_seqs(lines, n, want, n_want, "frozen subscriber");
    {
        char err_path[420];
        char *err;
        (void)snprintf(err_path, sizeof err_path, "%s.err", out);
        err = cli_slurp(err_path);
        /* Under ASan the timing differs and loopback buffers sometimes hold
         * the whole burst: then only the no-gap, no-duplicate check above
         * applies. Elsewhere a run without a loss proves nothing: fail. */
#ifdef __SANITIZE_ADDRESS__
        if (strstr(err, "recovered") == NULL)
            print_message("note: no update was lost on the feed in this run\n");
#else
        if (strstr(err, "recovered") == NULL)
            fail_msg("no update was lost and recovered: the test proves nothing; stderr:\n%s", err);
#endif
        /* a recovery is always revealed by previous_sequence */
        if (strstr(err, "recovered") != NULL && strstr(err, "(gap:") == NULL)
            fail_msg("updates were recovered without a gap replay; stderr:\n%s", err);
        if (strstr(err, "(jump") != NULL)
            fail_msg("matcherd sends previous_sequence: no replay for a mere jump; stderr:\n%s",
                     err);
        free(err);
    }
    free(want);
    free(lines);
    harness_pass(h);
}

/* A subscriber of one employer while both employers' lists change: its
 * sequence numbers jump over the other's updates, and previous_sequence
 * tells it that nothing of its own was lost: no replay for those jumps. */
static void test_subscribe_sparse_topic_no_replay(void **state)
{
    harness_t *h = *state;
    char out[400], err_path[420];
    const char *args[] = {"subscribe", "employer/" EMPLOYER, "--feed",    h->feed_ep,
                          "--query",   h->query_ep,          "--verbose", NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    uint64_t *want = NULL;
    size_t n_want, n = 0, i, n_before, jumps = 0;
    char *err;
    pid_t pid;

    assert_non_null(lines);
    s_post_base(h);
    n_want = s_replay_all(h, "employer/" EMPLOYER, 0, &want);
    assert_true(n_want > 0);
    n_before = n_want;
    (void)snprintf(out, sizeof out, "%s/sparse.out", h->root);
    pid = cli_spawn(args, out, NULL);
    assert_true(pid > 0);
    if (!s_wait_for_seq(out, want[n_want - 1], 10000, lines, &n))
        fail_msg("the subscriber did not catch up");
    free(want);

    s_post_bulk(h, "sparse", 12, 40); /* vacancies of both employers, in turn */
    n_want = s_replay_all(h, "employer/" EMPLOYER, 0, &want);
    assert_true(n_want > n_before);
    if (!s_wait_for_seq(out, want[n_want - 1], 30000, lines, &n))
        fail_msg("the subscriber printed %zu updates, not up to %" PRIu64, n, want[n_want - 1]);
    s_stop_subscriber(pid);
    {
        char *text = cli_slurp(out);
        n = s_parse_lines(text, lines, MAX_SEQS);
        free(text);
    }
    s_expect_seqs(lines, n, want, n_want, "subscriber of one employer");
    for (i = n_before; i < n_want; i++)
        jumps += want[i] > want[i - 1] + 1;
    if (jumps == 0)
        fail_msg("the other employer's updates did not interleave: the test proves nothing");
    (void)snprintf(err_path, sizeof err_path, "%s.err", out);
    err = cli_slurp(err_path);
    if (strstr(err, "replay after 0 (start)") == NULL)
        fail_msg("--verbose did not report the first replay; stderr:\n%s", err);
    if (strstr(err, "(gap:") != NULL || strstr(err, "(jump") != NULL)
        fail_msg("%zu jumps over the other employer's numbers caused a replay; stderr:\n%s", jumps,
                 err);
    free(err);
    free(want);
    free(lines);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* A log purged past the subscriber's position: warned, then live. */

/* The answer to a replay of prefix after after (caller frees). */
static Passerelle__V1__Response *s_replay_resp(harness_t *h, const char *prefix, uint64_t after)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__ReplayRequest rr = PASSERELLE__V1__REPLAY_REQUEST__INIT;
    Passerelle__V1__Response *resp;

    rr.topic_prefix = (char *)prefix;
    rr.after_sequence = after;
    req.request_id = "t-replay";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
    req.replay = &rr;
    resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
    assert_non_null(resp);
    return resp;
}

static void test_subscribe_purged_log(void **state)
{
    harness_t *h = *state;
    char out[400], err_path[420];
    const char *args[] = {"subscribe", "employer/", "--feed", h->feed_ep, "--query",
                          h->query_ep, "--from",    "0",      NULL};
    s_line_t *lines = calloc(MAX_SEQS, sizeof *lines);
    int64_t deadline;
    uint64_t head = 0;
    size_t n = 0, i;
    char *err;
    pid_t pid;

    assert_non_null(lines);
    s_post_base(h);
    s_post_more(h, "more1.jsonl", 1);
    /* The daemon purges on a timer (every 10 s): wait for it. */
    deadline = harness_now_us() + 25000000;
    for (;;) {
        Passerelle__V1__Response *resp = s_replay_resp(h, "employer/", 0);
        int code = (int)resp->error;
        passerelle__v1__response__free_unpacked(resp, NULL);
        if (code == H_ERR(REPLAY_PURGED))
            break;
        if (harness_now_us() > deadline)
            fail_msg("the match log was not purged (retention_max_updates 2)");
        usleep(200000);
    }
    {
        Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
        Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
        Passerelle__V1__Response *resp;
        req.request_id = "t-stats";
        req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
        req.stats = &sr;
        resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
        assert_non_null(resp);
        head = resp->stats->match_sequence;
        passerelle__v1__response__free_unpacked(resp, NULL);
    }
    (void)snprintf(out, sizeof out, "%s/purged.out", h->root);
    (void)snprintf(err_path, sizeof err_path, "%s.err", out);
    pid = cli_spawn(args, out, NULL);
    assert_true(pid > 0);
    deadline = harness_now_us() + 10000000;
    for (;;) {
        err = cli_slurp(err_path);
        if (strstr(err, "purged") != NULL || harness_now_us() > deadline)
            break;
        free(err);
        usleep(20000);
    }
    if (strstr(err, "purged") == NULL || strstr(err, "matchctl matches") == NULL)
        fail_msg("no purge warning from subscribe; stderr:\n%s", err);
    free(err);
    s_post_more(h, "more2.jsonl", 2);
    {
        uint64_t *want = NULL;
        size_t n_want = s_replay_all(h, "employer/", head, &want);
        assert_true(n_want > 0);
        if (!s_wait_for_seq(out, want[n_want - 1], 10000, lines, &n))
            fail_msg("after the purge warning, the subscriber did not go on live");
        s_stop_subscriber(pid);
        {
            char *text = cli_slurp(out);
            n = s_parse_lines(text, lines, MAX_SEQS);
            free(text);
        }
        for (i = 0; i < n; i++)
            assert_true(lines[i].seq > head);
        s_expect_seqs(lines, n, want, n_want, "after a purge");
        free(want);
    }
    free(lines);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_happy_and_bad_line, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stats_health_and_daemon_down, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_matches_ranked_and_explained, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_close_erase, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_late_from_zero, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_live_continuation, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_killed_and_resumed, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_slow_subscriber, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_repairs_hwm_drops, s_setup_small_hwm,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_purged_log, s_setup_retention,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_sparse_topic_no_replay, harness_setup,
                                        harness_teardown),
    };

    cli_find_matchctl();
    harness_cmocka_filter();
    return cmocka_run_group_tests_name("matchctl", tests, NULL, NULL);
}
