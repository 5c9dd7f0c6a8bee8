/* test_security.c - CurveZMQ, ZAP, roles and erasure, against the real
 * matcherd over loopback.
 *
 * One daemon runs with [security] mode = curve on keys made here with
 * czmq; each test speaks to it as one client or another by switching the
 * harness's keys. A TCP relay between a client and the daemon keeps every
 * byte that crosses it, so that the test can look for a graduate id on the
 * wire: absent with curve, present without (the same relay, a second
 * daemon in mode none), so the check can fail.
 */
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "cli_run.h"
#include "harness.h"

#define SCHOOL_A   "0650043X"
#define SCHOOL_B   "0310099Z"
#define EMPLOYER_A "12345678900012"
#define EMPLOYER_B "98765432100019"
#define REGION     "76" /* Occitanie: the harness's events are in Tarbes */
#define QUIET_MS   1500 /* how long "no answer" is waited for */
#define N_KEYS     8

static const char *const s_names[N_KEYS] = {"server", "school-a", "fed",     "rec-a",
                                            "ops",    "rogue",    "revoked", "uncertified"};
enum { K_SERVER, K_SCHOOL_A, K_FED, K_REC_A, K_OPS, K_ROGUE, K_REVOKED, K_UNCERTIFIED };

typedef struct {
    harness_t *h;
    zcert_t *certs[N_KEYS];
    char roles[400];
} fx_t;

static void s_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_write(const char *path, const char *fmt, ...)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

static void s_roles(fx_t *fx, int with_revoked)
{
    s_write(fx->roles,
            "# test roles\n"
            "school-a  school     " SCHOOL_A "\n"
            "fed       federation " REGION "\n"
            "rec-a     recruiter  " EMPLOYER_A "\n"
            "ops       operator\n"
            "uncertified operator\n"
            "%s",
            with_revoked ? "revoked   operator\n" : "");
}

/* Talk to the daemon as key k (or without CURVE when k < 0). */
static void s_as(fx_t *fx, int k)
{
    fx->h->curve = k >= 0;
    if (k < 0)
        return;
    memcpy(fx->h->curve_server, zcert_public_key(fx->certs[K_SERVER]), 32);
    memcpy(fx->h->curve_public, zcert_public_key(fx->certs[k]), 32);
    memcpy(fx->h->curve_secret, zcert_secret_key(fx->certs[k]), 32);
}

static int s_setup(void **state)
{
    static fx_t fx;
    char dir[512], path[600], conf[600], args[700];
    memset(&fx, 0, sizeof fx);
    fx.h = harness_new();
    assert_non_null(fx.h);
    (void)snprintf(dir, sizeof dir, "%s/clients", fx.h->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    for (int k = 0; k < N_KEYS; k++) {
        fx.certs[k] = zcert_new();
        assert_non_null(fx.certs[k]);
        zcert_set_meta(fx.certs[k], "name", "%s", s_names[k]);
        /* the server's pair beside; the clients' public certs in the allowed dir,
         * except the rogue's */
        (void)snprintf(path, sizeof path, "%s/%s", k == K_SERVER || k == K_ROGUE ? fx.h->root : dir,
                       s_names[k]);
        assert_int_equal(zcert_save(fx.certs[k], path), 0);
    }
    (void)snprintf(fx.roles, sizeof fx.roles, "%s/roles", fx.h->root);
    s_roles(&fx, 1);
    (void)snprintf(conf, sizeof conf, "%s/security.conf", fx.h->root);
    s_write(conf,
            "[security]\nmode = curve\nserver_cert = %s/server_secret\nclients_dir = %s\n"
            "roles = %s\nmax_subscriptions = 8\n[privacy]\nscrub_after_erase_s = 1\n",
            fx.h->root, dir, fx.roles);
    (void)snprintf(args, sizeof args, "--config %s", conf);
    setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    s_as(&fx, K_OPS); /* the harness's readiness check asks for health */
    int rc = harness_start(fx.h);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
    assert_int_equal(rc, 0);
    *state = &fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->h->pid > 0)
        assert_int_equal(harness_stop_clean(fx->h), 0);
    harness_pass(fx->h);
    harness_destroy(&fx->h);
    for (int k = 0; k < N_KEYS; k++)
        zcert_destroy(&fx->certs[k]);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static Passerelle__V1__Response *s_query(fx_t *fx, Passerelle__V1__Request *rq, int timeout_ms)
{
    return harness_query(fx->h, rq, timeout_ms, false);
}

static Passerelle__V1__Response *s_health(fx_t *fx, int timeout_ms)
{
    Passerelle__V1__Request rq = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__HealthRequest hr = PASSERELLE__V1__HEALTH_REQUEST__INIT;
    rq.request_id = "health";
    rq.query_case = PASSERELLE__V1__REQUEST__QUERY_HEALTH;
    rq.health = &hr;
    return s_query(fx, &rq, timeout_ms);
}

/* The operator's Stats (caller frees the response). */
static Passerelle__V1__Response *s_stats(fx_t *fx)
{
    Passerelle__V1__Request rq = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    rq.request_id = "stats";
    rq.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    rq.stats = &sr;
    s_as(fx, fx->certs[K_OPS] ? K_OPS : -1); /* the operator, or anyone without security */
    Passerelle__V1__Response *r = s_query(fx, &rq, HARNESS_QUERY_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->error, 0);
    return r;
}

static int s_error_of(fx_t *fx, Passerelle__V1__Request *rq)
{
    Passerelle__V1__Response *r = s_query(fx, rq, HARNESS_QUERY_TIMEOUT_MS);
    assert_non_null(r);
    int e = r->error;
    passerelle__v1__response__free_unpacked(r, NULL);
    return e;
}

static int s_replay_error(fx_t *fx, const char *prefix)
{
    Passerelle__V1__Request rq = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__ReplayRequest rr = PASSERELLE__V1__REPLAY_REQUEST__INIT;
    rq.request_id = "replay";
    rq.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
    rq.replay = &rr;
    rr.topic_prefix = (char *)prefix;
    return s_error_of(fx, &rq);
}

static int s_top_error(fx_t *fx, const char *vacancy, const char *graduate)
{
    Passerelle__V1__Request rq = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__TopMatchesRequest tr = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
    rq.request_id = "top";
    rq.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
    rq.top_matches = &tr;
    if (vacancy) {
        tr.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
        tr.vacancy_id = (char *)vacancy;
    } else {
        tr.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_GRADUATE_ID;
        tr.graduate_id = (char *)graduate;
    }
    return s_error_of(fx, &rq);
}

/* Post e as key k through endpoint ep (NULL: the daemon's); returns the
 * ack's status and sets *error to its code. */
static int s_post_via(fx_t *fx, int k, const char *ep, const hev_t *e, int *error)
{
    s_as(fx, k);
    hclient_t *c = hclient_new(fx->h, ZMQ_DEALER, ep);
    assert_non_null(c);
    Passerelle__V1__Ack *ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    if (!ack)
        fail_msg("no ack for %s: %s", e->event_id, c->err);
    int status = ack->status;
    *error = ack->error;
    passerelle__v1__ack__free_unpacked(ack, NULL);
    hclient_destroy(&c);
    return status;
}

static int s_post(fx_t *fx, int k, const hev_t *e, int *error)
{
    return s_post_via(fx, k, NULL, e, error);
}

static void s_vacancy_of(hev_t *e, const char *id, const char *employer, int64_t at)
{
    char evid[96];
    (void)snprintf(evid, sizeof evid, "%s-v%lld", id, (long long)at);
    hev_vacancy(e, "fed", evid, at, id);
    (void)snprintf(e->owner_id, sizeof e->owner_id, "%s", employer);
}

static void s_graduate_of(hev_t *e, const char *id, const char *school, int64_t at)
{
    char evid[96];
    (void)snprintf(evid, sizeof evid, "%s-v%lld", id, (long long)at);
    hev_graduate(e, "school-a", evid, at, id);
    (void)snprintf(e->owner_id, sizeof e->owner_id, "%s", school);
}

/* One message on sub within timeout_ms: 1, else 0. */
static int s_sub_got(hclient_t *sub, int timeout_ms)
{
    zmq_pollitem_t it = {sub->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    char buf[8192];
    int more = 1;
    while (more) {
        size_t sz = sizeof more;
        if (zmq_recv(sub->sock, buf, sizeof buf, 0) < 0 ||
            zmq_getsockopt(sub->sock, ZMQ_RCVMORE, &more, &sz) != 0)
            return 0;
    }
    return 1;
}

static hclient_t *s_sub(fx_t *fx, int k, const char *ep, const char *topic)
{
    s_as(fx, k);
    hclient_t *sub = hclient_new(fx->h, ZMQ_SUB, ep ? ep : fx->h->feed_ep);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, topic, strlen(topic)), 0);
    return sub;
}

/* ---- authentication -------------------------------------------------------- */

static void test_no_key_unknown_key_revoked_key_get_nothing(void **state)
{
    fx_t *fx = *state;
    Passerelle__V1__Response *r;
    s_as(fx, -1); /* plain, no CURVE */
    assert_null(s_health(fx, QUIET_MS));
    s_as(fx, K_ROGUE); /* a valid key pair the daemon does not know */
    assert_null(s_health(fx, QUIET_MS));
    s_as(fx, K_REVOKED);
    assert_non_null(r = s_health(fx, HARNESS_QUERY_TIMEOUT_MS));
    passerelle__v1__response__free_unpacked(r, NULL);
    /* revoke: out of the roles file, then SIGHUP */
    s_roles(fx, 0);
    assert_int_equal(harness_signal(fx->h, SIGHUP), 0);
    int revoked = 0;
    for (int i = 0; i < 100 && !revoked; i++) {
        s_as(fx, K_REVOKED);
        r = s_health(fx, 200);
        revoked = r == NULL;
        if (r)
            passerelle__v1__response__free_unpacked(r, NULL);
    }
    assert_true(revoked);
    assert_null(s_health(fx, QUIET_MS));
    /* or: its certificate out of the clients directory, then SIGHUP */
    char path[600];
    s_as(fx, K_UNCERTIFIED);
    assert_non_null(r = s_health(fx, HARNESS_QUERY_TIMEOUT_MS));
    passerelle__v1__response__free_unpacked(r, NULL);
    (void)snprintf(path, sizeof path, "%s/clients/uncertified", fx->h->root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(harness_signal(fx->h, SIGHUP), 0);
    revoked = 0;
    for (int i = 0; i < 100 && !revoked; i++) {
        r = s_health(fx, 200);
        revoked = r == NULL;
        if (r)
            passerelle__v1__response__free_unpacked(r, NULL);
    }
    assert_true(revoked);
    assert_null(s_health(fx, QUIET_MS));
    s_as(fx, K_OPS); /* the others are still served */
    assert_non_null(r = s_health(fx, HARNESS_QUERY_TIMEOUT_MS));
    passerelle__v1__response__free_unpacked(r, NULL);
    /* a bad roles file keeps the set in force */
    s_write(fx->roles, "ops overlord\n");
    assert_int_equal(harness_signal(fx->h, SIGHUP), 0);
    for (int i = 0; i < 3; i++) {
        assert_non_null(r = s_health(fx, HARNESS_QUERY_TIMEOUT_MS));
        passerelle__v1__response__free_unpacked(r, NULL);
    }
    s_roles(fx, 0);
}

/* matchctl: keygen writes czmq certificates; the global certificate
 * options make every subcommand speak CURVE. */
static void test_matchctl_keygen_and_curve(void **state)
{
    fx_t *fx = *state;
    const char *mc = getenv("PASSERELLE_MATCHCTL");
    char cmd[2048], path[600];
    struct stat st;
    assert_non_null(mc);
    (void)snprintf(cmd, sizeof cmd, "%s keygen new-client --dir %s >/dev/null", mc, fx->h->root);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(system(cmd), 0); /* never overwrites */
    (void)snprintf(path, sizeof path, "%s/new-client_secret", fx->h->root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    zcert_t *c = zcert_load(path);
    assert_non_null(c);
    assert_string_equal(zcert_meta(c, "name"), "new-client");
    zcert_destroy(&c);
    (void)snprintf(cmd, sizeof cmd,
                   "%s --client-cert %s/clients/ops_secret --server-cert %s/server health "
                   "--query %s --timeout 5000 >/dev/null",
                   mc, fx->h->root, fx->h->root, fx->h->query_ep);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd, sizeof cmd, "%s health --query %s --timeout 800 2>/dev/null", mc,
                   fx->h->query_ep);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 3); /* no key: no answer */
}

/* ---- authorisation ----------------------------------------------------------- */

static void test_ingest_roles(void **state)
{
    fx_t *fx = *state;
    hev_t e;
    int err;
    s_graduate_of(&e, "g-own", SCHOOL_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_ACCEPTED);
    s_graduate_of(&e, "g-other", SCHOOL_B, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_REJECTED);
    assert_int_equal(err, H_ERR(FORBIDDEN));
    s_graduate_of(&e, "g-fed", SCHOOL_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_REJECTED);
    assert_int_equal(err, H_ERR(FORBIDDEN));
    s_vacancy_of(&e, "v-rec", EMPLOYER_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_REC_A, &e, &err), H_REJECTED);
    assert_int_equal(err, H_ERR(FORBIDDEN));
    s_vacancy_of(&e, "v-a", EMPLOYER_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_ACCEPTED);
    /* a vacancy in Lille is outside Occitanie */
    s_vacancy_of(&e, "v-lille", EMPLOYER_A, HARNESS_T0_MS);
    e.point.latitude = 50.6292;
    e.point.longitude = 3.0573;
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_REJECTED);
    assert_int_equal(err, H_ERR(FORBIDDEN));
    hev_erase(&e, "school-a", "erase-other", HARNESS_T0_MS + 1, "g-own", SCHOOL_B);
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_REJECTED);
    assert_int_equal(err, H_ERR(FORBIDDEN));
    Passerelle__V1__Response *r = s_stats(fx);
    uint64_t forbidden = 0;
    for (size_t i = 0; i < r->stats->n_rejected_by_error; i++)
        if (strcmp(r->stats->rejected_by_error[i]->key, "ERROR_CODE_FORBIDDEN") == 0)
            forbidden = r->stats->rejected_by_error[i]->value;
    assert_true(forbidden >= 5);
    passerelle__v1__response__free_unpacked(r, NULL);
}

static void test_feed_and_query_scopes(void **state)
{
    fx_t *fx = *state;
    hev_t e;
    int err;
    s_vacancy_of(&e, "v-feed-a", EMPLOYER_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_ACCEPTED);
    s_vacancy_of(&e, "v-feed-b", EMPLOYER_B, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_ACCEPTED);
    hclient_t *own = s_sub(fx, K_REC_A, NULL, "employer/" EMPLOYER_A);
    hclient_t *other = s_sub(fx, K_REC_A, NULL, "employer/" EMPLOYER_B);
    hclient_t *all = s_sub(fx, K_REC_A, NULL, "");
    /* graduates arrive until A's feed shows them (its subscription may
     * reach the daemon after the first posts) */
    int got = 0;
    for (int i = 0; i < 40 && got < 2; i++) {
        char id[32];
        (void)snprintf(id, sizeof id, "g-feed-%d", i);
        s_graduate_of(&e, id, SCHOOL_A, HARNESS_T0_MS);
        assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_ACCEPTED);
        got += s_sub_got(own, 250);
    }
    assert_true(got >= 2);
    assert_false(s_sub_got(other, 300));
    assert_false(s_sub_got(all, 10));
    Passerelle__V1__Response *r = s_stats(fx);
    assert_true(r->stats->subscriptions_refused >= 2);
    passerelle__v1__response__free_unpacked(r, NULL);

    /* the query socket: the same scopes */
    s_as(fx, K_REC_A);
    assert_int_equal(s_replay_error(fx, "employer/" EMPLOYER_A), 0);
    assert_int_equal(s_replay_error(fx, "employer/" EMPLOYER_B), H_ERR(FORBIDDEN));
    assert_int_equal(s_replay_error(fx, ""), H_ERR(FORBIDDEN));
    assert_int_equal(s_top_error(fx, "v-feed-a", NULL), 0);
    assert_int_equal(s_top_error(fx, "v-feed-b", NULL), H_ERR(FORBIDDEN));
    assert_int_equal(s_top_error(fx, NULL, "g-feed-0"), H_ERR(FORBIDDEN));
    Passerelle__V1__Request rq = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    rq.request_id = "stats";
    rq.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    rq.stats = &sr;
    assert_int_equal(s_error_of(fx, &rq), H_ERR(FORBIDDEN));
    s_as(fx, K_SCHOOL_A);
    assert_int_equal(s_top_error(fx, NULL, "g-feed-0"), 0);
    assert_int_equal(s_top_error(fx, "v-feed-a", NULL), H_ERR(FORBIDDEN));
    assert_int_equal(s_replay_error(fx, "school/" SCHOOL_A), 0);
    assert_int_equal(s_replay_error(fx, "school/" SCHOOL_B), H_ERR(FORBIDDEN));
    hclient_destroy(&other);
    hclient_destroy(&all);

    /* at most max_subscriptions (8) per key: `own` holds one, 7 more pass */
    r = s_stats(fx);
    uint64_t refused = r->stats->subscriptions_refused;
    passerelle__v1__response__free_unpacked(r, NULL);
    hclient_t *many = s_sub(fx, K_REC_A, NULL, "employer/" EMPLOYER_A "/0");
    for (int i = 1; i < 10; i++) {
        char t[64];
        (void)snprintf(t, sizeof t, "employer/" EMPLOYER_A "/%d", i);
        assert_int_equal(zmq_setsockopt(many->sock, ZMQ_SUBSCRIBE, t, strlen(t)), 0);
    }
    uint64_t now = refused;
    for (int i = 0; i < 100 && now < refused + 3; i++) {
        r = s_stats(fx);
        now = r->stats->subscriptions_refused;
        passerelle__v1__response__free_unpacked(r, NULL);
        if (now < refused + 3)
            usleep(50000);
    }
    assert_int_equal(now, refused + 3);
    hclient_destroy(&many);
    hclient_destroy(&own);
}

/* ---- erasure ------------------------------------------------------------------- */

/* Occurrences of needle in every file under dir (recursively). */
static size_t s_scan(const char *dir, const char *needle)
{
    size_t found = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            found += s_scan(path, needle);
            continue;
        }
        found += cli_count_in_file(path, needle);
    }
    closedir(d);
    return found;
}

static void test_erasure_leaves_no_trace(void **state)
{
    fx_t *fx = *state;
    const char *id = "zq7erase9kx";
    hev_t e;
    int err;
    s_vacancy_of(&e, "v-erase", EMPLOYER_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_ACCEPTED);
    for (int v = 1; v <= 3; v++) { /* a few versions: log entries, dedupe rows, matches */
        s_graduate_of(&e, id, SCHOOL_A, HARNESS_T0_MS + v);
        e.graduate.mobility_radius_km = 40 + (uint32_t)v;
        assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_ACCEPTED);
    }
    s_as(fx, K_SCHOOL_A);
    assert_int_equal(s_top_error(fx, NULL, id), 0);
    /* the scan can see it: the id is in the store now */
    assert_true(s_scan(fx->h->data_dir, id) > 0);
    Passerelle__V1__Response *r = s_stats(fx);
    uint64_t scrubs = r->stats->store_scrubs;
    passerelle__v1__response__free_unpacked(r, NULL);
    char evid[64];
    (void)snprintf(evid, sizeof evid, "erase-%s", id); /* the erasure names it too */
    hev_erase(&e, "school-a", evid, HARNESS_T0_MS + 10, id, SCHOOL_A);
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_ACCEPTED);
    /* re-sent: still a duplicate, although its id is gone */
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_DUPLICATE);
    s_graduate_of(&e, id, SCHOOL_A, HARNESS_T0_MS + 2);
    assert_int_equal(s_post(fx, K_SCHOOL_A, &e, &err), H_DUPLICATE);
    Passerelle__V1__Response *before = s_stats(fx);
    int done = 0;
    for (int i = 0; i < 150 && !done; i++) {
        r = s_stats(fx);
        done = r->stats->store_scrubs > scrubs;
        if (done) { /* the rewritten store holds everything that was live */
            assert_int_equal(r->stats->graduates, before->stats->graduates);
            assert_int_equal(r->stats->graduates_available, before->stats->graduates_available);
            assert_int_equal(r->stats->vacancies_open, before->stats->vacancies_open);
            assert_int_equal(r->stats->events, before->stats->events);
            assert_int_equal(r->stats->match_sequence, before->stats->match_sequence);
            assert_true(r->stats->store_bytes <= before->stats->store_bytes);
        }
        passerelle__v1__response__free_unpacked(r, NULL);
        if (!done)
            usleep(100000);
    }
    passerelle__v1__response__free_unpacked(before, NULL);
    assert_true(done);
    assert_int_equal(s_scan(fx->h->data_dir, id), 0);
    s_as(fx, K_SCHOOL_A);
    assert_int_equal(s_top_error(fx, NULL, id), H_ERR(NOT_FOUND));
    assert_int_equal(s_top_error(fx, "v-erase", NULL), H_ERR(FORBIDDEN));
    s_as(fx, K_OPS);
    assert_int_equal(s_top_error(fx, "v-erase", NULL), 0); /* the store still works */
}

/* ---- retention ----------------------------------------------------------------------- */

/* A daemon of its own (mode none) keeping graduates and closed vacancies 30
 * days: its timer erases what is older, as an erasure would. */
static void test_retention_sweeps_old_graduates_and_closed_vacancies(void **state)
{
    (void)state;
    harness_t *h = harness_new();
    char conf[400], args[500];
    hev_t e;
    assert_non_null(h);
    (void)snprintf(conf, sizeof conf, "%s/retention.conf", h->root);
    s_write(conf, "[privacy]\ngraduate_retention_days = 30\nclosed_vacancy_retention_days = 30\n");
    (void)snprintf(args, sizeof args, "--config %s", conf);
    setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    int rc = harness_start(h);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
    assert_int_equal(rc, 0);
    fx_t fx = {.h = h};
    int64_t now = (int64_t)time(NULL) * 1000, old = now - 200LL * 86400000;
    int err;
    s_vacancy_of(&e, "v-open", EMPLOYER_A, old); /* open: kept whatever its age */
    assert_int_equal(s_post(&fx, -1, &e, &err), H_ACCEPTED);
    s_vacancy_of(&e, "v-closed", EMPLOYER_A, old);
    assert_int_equal(s_post(&fx, -1, &e, &err), H_ACCEPTED);
    hev_close(&e, "fed", "close-1", old + 1, "v-closed", EMPLOYER_A);
    assert_int_equal(s_post(&fx, -1, &e, &err), H_ACCEPTED);
    s_graduate_of(&e, "g-old", SCHOOL_A, old);
    assert_int_equal(s_post(&fx, -1, &e, &err), H_ACCEPTED);
    s_graduate_of(&e, "g-new", SCHOOL_A, now);
    assert_int_equal(s_post(&fx, -1, &e, &err), H_ACCEPTED);
    int swept = 0;
    Passerelle__V1__Response *r = NULL;
    for (int i = 0; i < 250 && !swept; i++) { /* the timer runs every 10 s */
        if (r)
            passerelle__v1__response__free_unpacked(r, NULL);
        r = s_stats(&fx);
        swept = r->stats->graduates == 1 && r->stats->vacancies == 1;
        if (!swept)
            usleep(100000);
    }
    assert_true(swept);
    assert_int_equal(r->stats->erasures, 1);
    passerelle__v1__response__free_unpacked(r, NULL);
    assert_int_equal(s_top_error(&fx, NULL, "g-old"), H_ERR(NOT_FOUND));
    assert_int_equal(s_top_error(&fx, NULL, "g-new"), 0);
    assert_int_equal(s_top_error(&fx, "v-closed", NULL), H_ERR(NOT_FOUND));
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
    harness_destroy(&h);
}

/* ---- the wire ---------------------------------------------------------------------- */

typedef struct {
    int lfd;
    int port;
    struct sockaddr_in to;
    volatile int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    hbuf_t seen;
} s_relay_t;

static void s_keep(s_relay_t *r, const uint8_t *b, size_t n)
{
    pthread_mutex_lock(&r->lock);
    size_t at = r->seen.len;
    if (hbuf_resize(&r->seen, at + n) == 0)
        memcpy(r->seen.data + at, b, n);
    pthread_mutex_unlock(&r->lock);
}

/* Copy bytes both ways for every accepted connection; keep them all. */
static void *s_relay_main(void *arg)
{
    s_relay_t *r = arg;
    struct pollfd p[1 + 2 * 8];
    int n = 1;
    p[0].fd = r->lfd;
    p[0].events = POLLIN;
    while (!r->stop) {
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n < (int)(sizeof p / sizeof p[0])) {
            int c = accept(r->lfd, NULL, NULL), u = socket(AF_INET, SOCK_STREAM, 0);
            if (c >= 0 && u >= 0 && connect(u, (struct sockaddr *)&r->to, sizeof r->to) == 0) {
                p[n].fd = c;
                p[n + 1].fd = u;
                p[n].events = p[n + 1].events = POLLIN;
                n += 2;
            } else {
                if (c >= 0)
                    close(c);
                if (u >= 0)
                    close(u);
            }
        }
        for (int i = 1; i < n; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            uint8_t buf[65536];
            ssize_t got = read(p[i].fd, buf, sizeof buf);
            int peer = (i % 2) ? i + 1 : i - 1;
            if (got <= 0) {
                close(p[i].fd);
                close(p[peer].fd);
                p[i].fd = p[peer].fd = -1;
                continue;
            }
            s_keep(r, buf, (size_t)got);
            if (write(p[peer].fd, buf, (size_t)got) != got) {
                close(p[i].fd);
                close(p[peer].fd);
                p[i].fd = p[peer].fd = -1;
            }
        }
    }
    for (int i = 1; i < n; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    return NULL;
}

/* A relay from an ephemeral loopback port to the tcp:// endpoint ep. */
static void s_relay_start(s_relay_t *r, const char *ep)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(r, 0, sizeof *r);
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    r->to.sin_family = AF_INET;
    r->to.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
    r->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->lfd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 8), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &alen), 0);
    r->port = ntohs(a.sin_port);
    pthread_mutex_init(&r->lock, NULL);
    assert_int_equal(pthread_create(&r->thread, NULL, s_relay_main, r), 0);
}

static int s_relay_saw(s_relay_t *r, const char *needle)
{
    size_t n = strlen(needle);
    int found = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i + n <= r->seen.len && !found; i++)
        found = memcmp(r->seen.data + i, needle, n) == 0;
    pthread_mutex_unlock(&r->lock);
    return found;
}

static void s_relay_stop(s_relay_t *r)
{
    r->stop = 1;
    pthread_join(r->thread, NULL);
    close(r->lfd);
    pthread_mutex_destroy(&r->lock);
    hbuf_free(&r->seen);
}

/* Post graduates named id-N through a relay on ingest and receive their
 * matches through a relay on the feed, as key k (-1: no CURVE); 1 if the
 * relays saw id. */
static int s_wire(fx_t *fx, int k, const char *id)
{
    s_relay_t in, out;
    char in_ep[64], out_ep[64];
    hev_t e;
    int got = 0;
    s_relay_start(&in, fx->h->ingest_ep);
    s_relay_start(&out, fx->h->feed_ep);
    (void)snprintf(in_ep, sizeof in_ep, "tcp://127.0.0.1:%d", in.port);
    (void)snprintf(out_ep, sizeof out_ep, "tcp://127.0.0.1:%d", out.port);
    hclient_t *sub = s_sub(fx, k, out_ep, "school/" SCHOOL_A);
    hclient_t *c = hclient_new(fx->h, ZMQ_DEALER, in_ep);
    assert_non_null(c);
    for (int i = 0; i < 40 && !got; i++) {
        char gid[64];
        (void)snprintf(gid, sizeof gid, "%s-%d", id, i); /* a new graduate: a new match */
        s_graduate_of(&e, gid, SCHOOL_A, HARNESS_T0_MS);
        Passerelle__V1__Ack *ack = hclient_call(c, &e, HARNESS_ACK_TIMEOUT_MS);
        if (!ack)
            fail_msg("no ack for %s: %s", e.event_id, c->err);
        assert_int_equal(ack->status, H_ACCEPTED);
        passerelle__v1__ack__free_unpacked(ack, NULL);
        got = s_sub_got(sub, 250);
    }
    assert_true(got); /* the update crossed the relay and was decrypted */
    hclient_destroy(&c);
    hclient_destroy(&sub);
    int saw = s_relay_saw(&in, id) + s_relay_saw(&out, id);
    assert_true(in.seen.len > 0 && out.seen.len > 0);
    s_relay_stop(&in);
    s_relay_stop(&out);
    return saw;
}

static void test_traffic_is_encrypted(void **state)
{
    fx_t *fx = *state;
    hev_t e;
    int err;
    s_vacancy_of(&e, "v-wire", EMPLOYER_A, HARNESS_T0_MS);
    assert_int_equal(s_post(fx, K_FED, &e, &err), H_ACCEPTED);
    assert_int_equal(s_wire(fx, K_SCHOOL_A, "zq7wire4curve"), 0);
    /* the same relay sees the id when security is off */
    assert_int_equal(harness_stop_clean(fx->h), 0);
    s_as(fx, -1);
    assert_int_equal(harness_start(fx->h), 0); /* no --config: mode none */
    s_vacancy_of(&e, "v-wire", EMPLOYER_A, HARNESS_T0_MS + 1);
    assert_int_equal(s_post(fx, -1, &e, &err), H_ACCEPTED);
    assert_true(s_wire(fx, -1, "zq7wire4plain") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_key_unknown_key_revoked_key_get_nothing),
        cmocka_unit_test(test_matchctl_keygen_and_curve),
        cmocka_unit_test(test_ingest_roles),
        cmocka_unit_test(test_feed_and_query_scopes),
        cmocka_unit_test(test_erasure_leaves_no_trace),
        cmocka_unit_test(test_retention_sweeps_old_graduates_and_closed_vacancies),
        cmocka_unit_test(test_traffic_is_encrypted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
