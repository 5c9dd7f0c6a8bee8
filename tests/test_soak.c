/* test_soak.c - steady load with subscribers attached, one of which never
 * reads (DESIGN.md promise 6: a slow subscriber never stalls matching, and
 * catches up by replay with no gap and no duplicate).
 *
 * For PASSERELLE_SOAK_SECONDS (15) a pipelined producer posts graduates and
 * vacancies over a fixed population of ids (so entities are updated and
 * move, and the store does not grow without bound), every 10th event a
 * withdrawal or closure followed later by a re-posting. Meanwhile:
 *  - a live subscriber (SUB to every topic) reads continuously;
 *  - a stuck subscriber (SUB, RCVHWM 10) reads nothing until the end;
 *  - a query peer sends requests and never reads the answers.
 * Every interval the test prints events acknowledged per second and match
 * updates per second (from Stats), and matcherd's RSS (VmRSS of
 * /proc/<pid>/status) at the start and the end.
 *
 * Checks (correctness only, never timings): every event acknowledged
 * exactly once, ACCEPTED, in order; the daemon alive and answering at the
 * end; then each subscriber reads what it has, counts the updates it lost
 * (sequence gaps), and catches up the Clone way: replay from the query
 * socket in pages, merged with what it received live by sequence. The
 * result must be every number from the first to the head, each once, and
 * an update received live must be byte-identical to its replayed copy.
 */
#define _GNU_SOURCE
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

#include "harness.h"
#include "passerelle/v1/feed.pb-c.h"

#define SRC_SCHOOL  "ep-tarbes-sis"
#define SRC_FED     "uimm-occitanie"
#define SCHOOL      "0650043X"
#define EMPLOYER    "12345678900012"
#define POP_G       3000
#define POP_V       1000
#define INTERVAL_US 2000000

/* What a subscriber has seen: an FNV-1a hash of each update's bytes by
 * sequence (0: not seen). */
typedef struct {
    const char *name;
    void *sock;
    uint64_t *hash; /* by sequence */
    size_t cap;
    size_t frames;   /* messages received (one per topic of an update) */
    size_t distinct; /* sequences received */
    size_t bad;      /* undecodable or malformed messages */
} sub_t;

typedef struct {
    harness_t *h;
    int64_t end_us;
    int64_t next_report_us;
    int64_t last_report_us;
    size_t acked_at_report;
    uint64_t seq_at_report;
    size_t acked;
    size_t order_errors;
    sub_t live;
    void *flood; /* query peer that never reads */
    size_t flood_sent;
    int64_t next_flood_us;
    int stopping;
    int64_t start_us;
    uint8_t req[64]; /* a packed stats Request, for the flooding peer */
    size_t req_len;
    sub_t stuck;
} soak_t;

static uint64_t s_fnv(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h | 1; /* never 0 */
}

/* One "Name: N kB" line of /proc/<pid>/status (VmRSS, RssAnon, RssFile),
 * or -1. RssFile is mostly the store's memory map (LMDB reads through it),
 * RssAnon the daemon's own allocations. */
static long s_status_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    size_t n = strlen(name);
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return kb;
}

static long s_rss_kb(pid_t pid)
{
    return s_status_kb(pid, "VmRSS");
}

static void *s_sub_new(harness_t *h, int rcvhwm)
{
    void *s = zmq_socket(h->zctx, ZMQ_SUB);
    int linger = 0;
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(s, h->feed_ep), 0);
    return s;
}

/* Record one update (seq, bytes) in sub; a second copy (another topic, or
 * replay) must be identical. */
static void s_note(sub_t *sub, uint64_t seq, const void *data, size_t len, size_t *mismatch)
{
    uint64_t h = s_fnv(data, len);
    if (seq >= sub->cap) {
        size_t cap = sub->cap ? sub->cap : 65536;
        while (cap <= seq)
            cap *= 2;
        uint64_t *p = realloc(sub->hash, cap * sizeof *p);
        assert_non_null(p);
        memset(p + sub->cap, 0, (cap - sub->cap) * sizeof *p);
        sub->hash = p;
        sub->cap = cap;
    }
    if (sub->hash[seq] == 0) {
        sub->hash[seq] = h;
        sub->distinct++;
    } else if (sub->hash[seq] != h) {
        (*mismatch)++;
    }
}

/* Read what is waiting on a SUB without blocking: [topic][MatchUpdate]. */
static void s_drain(sub_t *sub, size_t *mismatch)
{
    for (;;) {
        zmq_msg_t topic, body;
        int more = 0;
        size_t more_len = sizeof more;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, sub->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_getsockopt(sub->sock, ZMQ_RCVMORE, &more, &more_len);
        if (!more) {
            sub->bad++;
            zmq_msg_close(&topic);
            continue;
        }
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, sub->sock, 0) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            return;
        }
        Passerelle__V1__MatchUpdate *u =
            passerelle__v1__match_update__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        sub->frames++;
        if (u == NULL || u->sequence == 0)
            sub->bad++;
        else
            s_note(sub, u->sequence, zmq_msg_data(&body), zmq_msg_size(&body), mismatch);
        if (u != NULL)
            passerelle__v1__match_update__free_unpacked(u, NULL);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

/* ---- the producer ----------------------------------------------------- */

static int s_make(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    soak_t *s = p->ctx;
    hev_t *e;
    char ent[32], eid[32];
    int64_t at = HARNESS_T0_MS + (int64_t)i;
    if (s->stopping)
        return 1;
    if ((e = malloc(sizeof *e)) == NULL)
        return -1;
    snprintf(eid, sizeof eid, "soak-%zu", i);
    size_t slot = (i * 7919) % (POP_G + POP_V); /* visits every slot */
    int gside = slot < POP_G;
    if (gside)
        snprintf(ent, sizeof ent, "g-soak-%zu", slot);
    else
        snprintf(ent, sizeof ent, "v-soak-%zu", slot - POP_G);
    if (i % 10 == 9 && (i / (POP_G + POP_V)) % 2 == 1) {
        /* every slot was posted in the round before; the next round
         * posts it again */
        if (gside)
            hev_withdraw(e, SRC_SCHOOL, eid, at, ent, SCHOOL);
        else
            hev_close(e, SRC_FED, eid, at, ent, EMPLOYER);
    } else {
        if (gside)
            hev_graduate(e, SRC_SCHOOL, eid, at, ent);
        else
            hev_vacancy(e, SRC_FED, eid, at, ent);
        hev_spread(e, i % 5000); /* entities move between posts */
    }
    int rc = hev_pack(e, out);
    free(e);
    snprintf(id, HEV_ID_MAX, "%s", eid);
    return rc;
}

static int s_on_ack(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    soak_t *s = p->ctx;
    char abuf[1024];
    (void)i;
    /* hpipe checks the event id of each ack against the oldest in flight:
     * acks in order, each once */
    if (ack->status != H_ACCEPTED || ack->sequence == 0) {
        snprintf(p->err, sizeof p->err, "%s", h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    s->acked++;
    return 0;
}

static void s_report(soak_t *s, int64_t now)
{
    hstats_t st;
    double dt = (double)(now - s->last_report_us) / 1e6;
    if (harness_stats_wait(s->h, &st, 5000) != 0)
        return;
    fprintf(stderr,
            "soak: t=%5.1f s: %7.0f events/s acked, %8.0f match updates/s, feed dropped %" PRIu64
            ", RSS %ld kB\n",
            (double)(now - s->start_us) / 1e6, (double)(s->acked - s->acked_at_report) / dt,
            (double)(st.match_sequence - s->seq_at_report) / dt, st.feed_dropped,
            s_rss_kb(s->h->pid));
    s->acked_at_report = s->acked;
    s->seq_at_report = st.match_sequence;
    s->last_report_us = now;
}

static int s_tick(void *arg)
{
    soak_t *s = arg;
    int64_t now = harness_now_us();
    size_t mismatch = 0;
    s_drain(&s->live, &mismatch);
    if (mismatch)
        s->order_errors += mismatch;
    if (now >= s->next_flood_us && s->flood_sent < 20000) {
        /* a peer that asks and never reads the answers */
        if (zmq_send(s->flood, s->req, s->req_len, ZMQ_DONTWAIT) == (int)s->req_len)
            s->flood_sent++;
        s->next_flood_us = now + 500;
    }
    if (now >= s->next_report_us) {
        s_report(s, now);
        s->next_report_us = now + INTERVAL_US;
    }
    if (now >= s->end_us) {
        s->stopping = 1;
        return HPIPE_DRAIN;
    }
    return HPIPE_GO;
}

/* ---- catching up ------------------------------------------------------ */

/* Replay everything after 0 in pages, merge into sub. Returns the head. */
static uint64_t s_catch_up(harness_t *h, sub_t *sub, size_t *replayed, size_t *mismatch,
                           size_t *replay_dups)
{
    uint64_t after = 0, head = 0, last = 0;
    for (int page = 0; page < 100000; page++) {
        Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
        Passerelle__V1__ReplayRequest rr = PASSERELLE__V1__REPLAY_REQUEST__INIT;
        rr.topic_prefix = (char *)"";
        rr.after_sequence = after;
        rr.limit = 10000;
        req.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
        req.replay = &rr;
        Passerelle__V1__Response *r = harness_query(h, &req, 30000, true);
        if (r == NULL || r->error != 0 || r->replay == NULL)
            fail_msg("%s: replay after %" PRIu64 " failed: %s", sub->name, after,
                     r ? r->message : "no answer");
        head = r->replay->head_sequence;
        for (size_t i = 0; i < r->replay->n_updates; i++) {
            const Passerelle__V1__MatchUpdate *u = r->replay->updates[i]->update;
            size_t len = passerelle__v1__match_update__get_packed_size(u);
            uint8_t *buf = malloc(len ? len : 1);
            assert_non_null(buf);
            passerelle__v1__match_update__pack(u, buf);
            if (u->sequence <= last)
                (*replay_dups)++;
            last = u->sequence;
            s_note(sub, u->sequence, buf, len, mismatch);
            free(buf);
            (*replayed)++;
        }
        int more = r->replay->more;
        after = r->replay->last_sequence;
        passerelle__v1__response__free_unpacked(r, NULL);
        if (!more)
            break;
    }
    return head;
}

/* Read what the subscriber holds, count its losses, catch up, check.
 * Returns how many distinct updates it had received live. */
static size_t s_finish_sub(soak_t *s, sub_t *sub, uint64_t head_before)
{
    size_t mismatch = 0, replayed = 0, dups = 0;
    int64_t quiet_until = harness_now_us() + 1000000;
    while (harness_now_us() < quiet_until) {
        size_t before = sub->frames;
        s_drain(sub, &mismatch);
        if (sub->frames != before)
            quiet_until = harness_now_us() + 1000000;
        usleep(20000);
    }
    size_t seen = sub->distinct;
    size_t lost = head_before > seen ? (size_t)head_before - seen : 0;
    uint64_t head = s_catch_up(s->h, sub, &replayed, &mismatch, &dups);
    size_t missing = 0;
    for (uint64_t q = 1; q <= head; q++)
        missing += q >= sub->cap || sub->hash[q] == 0;
    fprintf(stderr,
            "soak: %s subscriber: %zu messages, %zu distinct updates of %" PRIu64
            " (lost %zu, seen in gaps), %zu malformed; replay: %zu updates, head %" PRIu64
            "; after merging: %zu missing, %zu differing copies, %zu replay duplicates\n",
            sub->name, sub->frames, seen, head_before, lost, sub->bad, replayed, head, missing,
            mismatch, dups);
    assert_int_equal(sub->bad, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(mismatch, 0);
    assert_int_equal(dups, 0);
    assert_true(sub->distinct == head); /* nothing beyond the head either */
    return seen;
}

/* The soak, the daemon configured with extra (appended to its config). */
static void s_soak(void **state, const char *extra, long seconds)
{
    soak_t *s = *state;
    harness_t *h = s->h;
    sub_t *stuck = &s->stuck;
    hstats_t st;
    hpipe_t pipe;
    char conf[400];
    FILE *fp;

    {
        Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
        Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
        req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
        req.stats = &sr;
        s->req_len = passerelle__v1__request__get_packed_size(&req);
        assert_true(s->req_len <= sizeof s->req);
        passerelle__v1__request__pack(&req, s->req);
    }
    /* a small feed queue per subscriber, so the stuck one overflows soon */
    snprintf(conf, sizeof conf, "%s/soak.conf", h->root);
    fp = fopen(conf, "w");
    assert_non_null(fp);
    fprintf(fp, "[sockets]\nsndhwm = 1000\n%s", extra ? extra : "");
    fclose(fp);
    {
        char args[512];
        snprintf(args, sizeof args, "--config %s", conf);
        setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    }
    assert_int_equal(harness_start(h), 0);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
    long rss_start = s_rss_kb(h->pid), anon_start = s_status_kb(h->pid, "RssAnon");

    s->live.name = "live";
    s->live.sock = s_sub_new(h, 100000);
    stuck->name = "stuck";
    stuck->sock = s_sub_new(h, 10);
    s->flood = zmq_socket(h->zctx, ZMQ_DEALER);
    assert_non_null(s->flood);
    {
        int linger = 0, hwm = 100000;
        zmq_setsockopt(s->flood, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s->flood, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s->flood, ZMQ_RCVHWM, &hwm, sizeof hwm);
        assert_int_equal(zmq_connect(s->flood, h->query_ep), 0);
    }
    usleep(300000); /* let the subscriptions arrive before the first update */

    fprintf(stderr, "soak: %ld s (PASSERELLE_SOAK_SECONDS), matcherd RSS at start %ld kB\n",
            seconds, rss_start);
    s->start_us = s->last_report_us = harness_now_us();
    s->next_report_us = s->last_report_us + INTERVAL_US;
    s->end_us = s->last_report_us + seconds * 1000000;
    memset(&pipe, 0, sizeof pipe);
    pipe.client = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = SIZE_MAX;
    pipe.window = 128;
    pipe.make = s_make;
    pipe.on_ack = s_on_ack;
    pipe.ctx = s;
    pipe.drain_ms = 2000;
    if (hpipe_run(&pipe, s_tick, s) != 0)
        fail_msg("producer: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    if (pipe.acked != pipe.sent)
        fail_msg("producer: sent %zu, acked %zu", pipe.sent, pipe.acked);
    hclient_destroy(&pipe.client);

    assert_int_equal(harness_stats_wait(h, &st, 10000), 0);
    long rss_end = s_rss_kb(h->pid), anon_end = s_status_kb(h->pid, "RssAnon");
    long file_end = s_status_kb(h->pid, "RssFile");
    fprintf(
        stderr,
        "soak: %ld s: %zu events sent and acknowledged exactly once, in order (%.0f/s); %" PRIu64
        " match updates (%.0f/s); %zu unread queries sent; feed dropped %" PRIu64
        "; matcherd RSS %ld kB at start, %ld kB at end (anonymous %ld -> %ld kB, file-backed "
        "(store map) %ld kB)\n",
        seconds, s->acked, (double)s->acked / (double)seconds, st.match_sequence,
        (double)st.match_sequence / (double)seconds, s->flood_sent, st.feed_dropped, rss_start,
        rss_end, anon_start, anon_end, file_end);
    assert_true(s->acked > 0);
    assert_int_equal(s->order_errors, 0);
    assert_int_equal(st.events_accepted, s->acked);

    /* the live one reads all along: it receives part of the feed itself */
    assert_true(s_finish_sub(s, &s->live, st.match_sequence) > 0);
    (void)s_finish_sub(s, stuck, st.match_sequence);

    /* still alive and answering, after all that */
    bool live = false, ready = false;
    assert_int_equal(harness_health(h, 5000, &live, &ready), 0);
    assert_true(live && ready);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

static void test_soak(void **state)
{
    s_soak(state, NULL, harness_env_long("PASSERELLE_SOAK_SECONDS", 15));
}

/* The same with no MatchUpdate kept in memory for publishing ([feed]
 * outbox_max_mb = 0): every one is read back from the match log after its
 * commit, and what the subscribers receive must still be every update,
 * byte for byte as replayed. */
static void test_soak_outbox_spilled(void **state)
{
    s_soak(state, "[feed]\noutbox_max_mb = 0\n",
           (harness_env_long("PASSERELLE_SOAK_SECONDS", 15) + 2) / 3);
}

/* A query peer pipelines a flood of requests: each gets exactly one
 * answer, in order, either served or refused with BUSY (a peer gets at
 * most 32 requests served per turn of the loop); meanwhile another peer's
 * health request is answered. */
#define FLOOD 3000

static void test_query_flood(void **state)
{
    soak_t *s = *state;
    harness_t *h = s->h;
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    char rid[32];
    uint8_t buf[128];
    size_t served = 0, refused = 0, other = 0, order = 0;
    int hwm = 100000, linger = 0;
    bool live = false, ready = false;

    assert_int_equal(harness_start(h), 0);
    s->flood = zmq_socket(h->zctx, ZMQ_DEALER);
    assert_non_null(s->flood);
    zmq_setsockopt(s->flood, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->flood, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->flood, ZMQ_RCVHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_connect(s->flood, h->query_ep), 0);
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    req.stats = &sr;
    req.request_id = rid;
    for (int i = 0; i < FLOOD; i++) {
        snprintf(rid, sizeof rid, "q%d", i);
        size_t len = passerelle__v1__request__pack(&req, buf);
        assert_int_equal(zmq_send(s->flood, buf, len, 0), (int)len);
    }
    assert_int_equal(harness_health(h, 10000, &live, &ready), 0);
    assert_true(live);
    for (int i = 0; i < FLOOD; i++) {
        zmq_pollitem_t pi = {s->flood, 0, ZMQ_POLLIN, 0};
        zmq_msg_t m;
        if (zmq_poll(&pi, 1, 30000) != 1)
            fail_msg("answer %d of %d did not come", i, FLOOD);
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s->flood, 0) >= 0);
        Passerelle__V1__Response *r =
            passerelle__v1__response__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(r);
        snprintf(rid, sizeof rid, "q%d", i);
        order += strcmp(r->request_id, rid) != 0;
        if (r->error == 0 && r->stats != NULL)
            served++;
        else if (r->error == H_ERR(BUSY))
            refused++;
        else
            other++;
        passerelle__v1__response__free_unpacked(r, NULL);
    }
    fprintf(stderr,
            "query flood: %d pipelined requests: %zu served, %zu refused BUSY, %zu "
            "other, %zu out of order\n",
            FLOOD, served, refused, other, order);
    assert_int_equal(other, 0);
    assert_int_equal(order, 0);
    assert_true(served > 0);
    assert_int_equal(served + refused, FLOOD);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

static int s_setup(void **state)
{
    soak_t *s = calloc(1, sizeof *s);
    if (s == NULL || (s->h = harness_new()) == NULL) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* Our own sockets first: the harness terminates the context. */
static int s_teardown(void **state)
{
    soak_t *s = *state;
    if (s->live.sock)
        zmq_close(s->live.sock);
    if (s->stuck.sock)
        zmq_close(s->stuck.sock);
    if (s->flood)
        zmq_close(s->flood);
    harness_destroy(&s->h);
    free(s->live.hash);
    free(s->stuck.hash);
    free(s);
    *state = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_soak, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_soak_outbox_spilled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_query_flood, s_setup, s_teardown),
    };
    harness_cmocka_filter();
    return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}
