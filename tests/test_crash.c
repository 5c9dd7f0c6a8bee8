/* test_crash.c - kill -9 the daemon mid-stream, again and again; no
 * acknowledged event may ever be lost (DESIGN.md, promise 1) and none may be
 * stored twice (promise 2).
 *
 * Each round: (re)start matcherd on the same store; a producer pipelines
 * events with unique ids (graduate and vacancy upserts, and withdrawals of
 * graduates whose upsert was already acknowledged) and records every
 * ACCEPTED ack (event -> sequence); after a random delay the daemon gets
 * SIGKILL; it is restarted and EVERY event ever sent is sent again: each
 * acknowledged one must come back DUPLICATE with exactly its recorded
 * sequence; each other one ACCEPTED or DUPLICATE, and its sequence is
 * recorded from then on. At the end stats.events must equal the number of
 * distinct events and no sequence may be shared.
 *
 * Some events of each round are invalid (latitude 200): each must be
 * REJECTED, on first sending and on every re-send.
 *
 * Crash consistency: after every kill, before the restart, the test opens
 * the store read-only, as the daemon left it, and checks (oracle.h): every
 * event acknowledged so far is in the dedupe table under its sequence, no
 * rejected event is, the ranked lists equal a brute-force recomputation
 * from the stored entities, the match log's sequence numbers have no hole
 * and no duplicate, and replaying the match log reproduces the lists. The
 * same checks run once more after the final clean stop.
 *
 * Environment: PASSERELLE_CRASH_ROUNDS (5), PASSERELLE_CRASH_SEED (random,
 * printed), PASSERELLE_CRASH_MIN_MS / _MAX_MS (10 / 300): the kill delay,
 * PASSERELLE_CRASH_WINDOW (256): unacknowledged events in flight.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "config.h"
#include "harness.h"
#include "oracle.h"
#include "reference.h"
#include "score.h"
#include "store.h"

#define SCHOOL           "0650043X"
#define SRC_SCHOOL       "ep-tarbes-sis"
#define SRC_FED          "uimm-occitanie"
#define ROUND_MAX_EVENTS 500000 /* per round; far more than a kill delay allows */
#define RETRY_PASSES     5

enum { K_GRADUATE, K_VACANCY, K_WITHDRAW, K_BAD };

typedef struct cevent {
    uint8_t *bytes;
    size_t len;
    char id[32];
    char entity[32];
    int kind;
    uint64_t seq; /* known sequence (acked, or learnt on re-send); 0 if none */
    bool acked;   /* got an ACCEPTED ack while it was first sent */
    bool retry;   /* RETRY on the last re-send: send again */
} cevent_t;

typedef struct crash {
    harness_t *h;
    cevent_t *ev;
    size_t n;
    size_t cap;
    size_t *withdrawable; /* acked graduate upserts not withdrawn yet (FIFO) */
    size_t w_head;
    size_t w_tail;
    size_t w_cap;
    int round;
    size_t round_start; /* index of the first event of the round */
    unsigned rng;
    int64_t kill_at_us;
    bool killed;
    /* re-send pass */
    size_t *order; /* event indices of the pass */
    size_t norder;
    /* totals */
    size_t acked; /* ACCEPTED acks while producing */
    size_t retried;
    size_t lost;
    size_t duplicated;
    size_t late_accepted;  /* unacked, ACCEPTED on re-send */
    size_t late_duplicate; /* unacked, but stored: DUPLICATE on re-send */
    size_t rejected;       /* REJECTED acks of invalid events */
    size_t rejected_again; /* ... on re-sends */
    /* what the daemon matches with, for the oracle */
    reference_t *ref;
    score_weights_t w;
    unsigned k;
    size_t checks;   /* read-only store checks run */
    size_t stale;    /* checks that found lists.mdb behind data.mdb */
    size_t rebuilds; /* starts in another boot, which rebuilt the lists */
} crash_t;

static int s_push_event(crash_t *cr)
{
    if (cr->n == cr->cap) {
        size_t cap = cr->cap ? cr->cap * 2 : 4096;
        cevent_t *ev = realloc(cr->ev, cap * sizeof *ev);
        if (ev == NULL)
            return -1;
        cr->ev = ev;
        cr->cap = cap;
    }
    memset(&cr->ev[cr->n], 0, sizeof cr->ev[cr->n]);
    cr->n++;
    return 0;
}

static int s_push_withdrawable(crash_t *cr, size_t idx)
{
    if (cr->w_tail == cr->w_cap) {
        size_t cap = cr->w_cap ? cr->w_cap * 2 : 4096;
        size_t *w = realloc(cr->withdrawable, cap * sizeof *w);
        if (w == NULL)
            return -1;
        cr->withdrawable = w;
        cr->w_cap = cap;
    }
    cr->withdrawable[cr->w_tail++] = idx;
    return 0;
}

/* Producing: build event round_start + i, keep its bytes for re-sending. */
static int s_make_new(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    crash_t *cr = p->ctx;
    size_t idx = cr->round_start + i;
    hev_t *e;
    cevent_t *ce;
    int64_t at = HARNESS_T0_MS + (int64_t)idx; /* strictly newer each event */
    int rc = -1;

    if (i >= ROUND_MAX_EVENTS)
        return 1;
    if (idx != cr->n || s_push_event(cr) != 0)
        return -1;
    e = malloc(sizeof *e);
    if (e == NULL)
        return -1;
    ce = &cr->ev[idx];
    snprintf(ce->id, sizeof ce->id, "r%d-%zu", cr->round, i);
    if (i % 50 == 25) {
        /* invalid: must be refused and never stored */
        ce->kind = K_BAD;
        snprintf(ce->entity, sizeof ce->entity, "bad-r%d-%zu", cr->round, i);
        hev_graduate(e, SRC_SCHOOL, ce->id, at, ce->entity);
        e->point.latitude = 200.0;
    } else if (i % 10 == 9 && cr->w_head < cr->w_tail) {
        size_t g = cr->withdrawable[cr->w_head++];
        ce->kind = K_WITHDRAW;
        snprintf(ce->entity, sizeof ce->entity, "%s", cr->ev[g].entity);
        hev_withdraw(e, SRC_SCHOOL, ce->id, at, ce->entity, SCHOOL);
    } else if (i % 10 >= 6) {
        ce->kind = K_VACANCY;
        snprintf(ce->entity, sizeof ce->entity, "v-r%d-%zu", cr->round, i);
        hev_vacancy(e, SRC_FED, ce->id, at, ce->entity);
    } else {
        ce->kind = K_GRADUATE;
        snprintf(ce->entity, sizeof ce->entity, "g-r%d-%zu", cr->round, i);
        hev_graduate(e, SRC_SCHOOL, ce->id, at, ce->entity);
    }
    if (ce->kind == K_GRADUATE || ce->kind == K_VACANCY)
        hev_spread(e, idx);
    if (hev_pack(e, out) != 0)
        goto done;
    ce->bytes = malloc(out->len);
    if (ce->bytes == NULL)
        goto done;
    memcpy(ce->bytes, out->data, out->len);
    ce->len = out->len;
    snprintf(id, HEV_ID_MAX, "%s", ce->id);
    rc = 0;
done:
    free(e);
    return rc;
}

static int s_on_ack_new(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    crash_t *cr = p->ctx;
    cevent_t *ce = &cr->ev[cr->round_start + i];
    char abuf[1024];

    if (ack->status == H_RETRY) {
        cr->retried++;
        return 0;
    }
    if (ce->kind == K_BAD) {
        if (ack->status == H_REJECTED && ack->error == H_ERR(OUT_OF_RANGE) && ack->sequence == 0) {
            cr->rejected++;
            return 0;
        }
        snprintf(p->err, sizeof p->err, "invalid event %s: %s", ce->id,
                 h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    if (ack->status != H_ACCEPTED || ack->sequence == 0) {
        snprintf(p->err, sizeof p->err, "new event %s: %s", ce->id,
                 h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    ce->seq = ack->sequence;
    ce->acked = true;
    cr->acked++;
    if (ce->kind == K_GRADUATE && s_push_withdrawable(cr, cr->round_start + i) != 0)
        return -1;
    return 0;
}

static int s_tick_kill(void *arg)
{
    crash_t *cr = arg;

    if (!cr->killed && harness_now_us() >= cr->kill_at_us) {
        if (harness_kill(cr->h) != 0)
            return HPIPE_FAIL;
        cr->killed = true;
        /* Acks already on their way were sent before the kill: still valid. */
        return HPIPE_DRAIN;
    }
    return HPIPE_GO;
}

/* Re-sending: the pass sends cr->order[i]. */
static int s_make_again(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    crash_t *cr = p->ctx;
    const cevent_t *ce = &cr->ev[cr->order[i]];

    return hpipe_copy(out, id, ce->bytes, ce->len, ce->id);
}

static int s_on_ack_again(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    crash_t *cr = p->ctx;
    cevent_t *ce = &cr->ev[cr->order[i]];
    char abuf[1024];

    ce->retry = false;
    if (ce->kind == K_BAD) {
        if (ack->status == H_RETRY) {
            ce->retry = true;
            return 0;
        }
        if (ack->status == H_REJECTED && ack->sequence == 0) {
            cr->rejected_again++;
            return 0;
        }
        snprintf(p->err, sizeof p->err, "invalid event %s on re-send: %s", ce->id,
                 h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    if (ce->seq != 0) {
        /* Known: acknowledged before, or stored and learnt on a re-send. */
        if (ack->status == H_DUPLICATE && ack->sequence == ce->seq)
            return 0;
        if (ack->status == H_RETRY) {
            ce->retry = true;
            return 0;
        }
        if (cr->lost + cr->duplicated < 20)
            fprintf(stderr, "%s: event %s (%s) had sequence %" PRIu64 ", now %s\n",
                    ack->status == H_DUPLICATE ? "CHANGED" : "LOST", ce->id,
                    ce->acked ? "acked" : "learnt", ce->seq, h_ack_str(ack, abuf, sizeof abuf));
        if (ack->status == H_DUPLICATE)
            cr->duplicated++; /* stored, but not as the copy we were told */
        else
            cr->lost++;
        return 0;
    }
    if (ack->status == H_RETRY) {
        ce->retry = true;
        return 0;
    }
    if ((ack->status != H_ACCEPTED && ack->status != H_DUPLICATE) || ack->sequence == 0) {
        snprintf(p->err, sizeof p->err, "unacked event %s on re-send: %s", ce->id,
                 h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    if (ack->status == H_ACCEPTED)
        cr->late_accepted++;
    else
        cr->late_duplicate++;
    ce->seq = ack->sequence;
    return 0;
}

/* Send every event again, and again those answered RETRY. */
static void s_resend_all(crash_t *cr)
{
    hpipe_t pipe;

    cr->order = realloc(cr->order, (cr->n ? cr->n : 1) * sizeof *cr->order);
    assert_non_null(cr->order);
    cr->norder = cr->n;
    for (size_t i = 0; i < cr->n; i++)
        cr->order[i] = i;
    for (int pass = 0; pass < RETRY_PASSES && cr->norder > 0; pass++) {
        size_t k = 0;

        memset(&pipe, 0, sizeof pipe);
        pipe.client = hclient_new(cr->h, ZMQ_DEALER, NULL);
        assert_non_null(pipe.client);
        pipe.n = cr->norder;
        pipe.window = 1000;
        pipe.make = s_make_again;
        pipe.on_ack = s_on_ack_again;
        pipe.ctx = cr;
        if (hpipe_run(&pipe, NULL, NULL) != 0)
            fail_msg("round %d: re-sending %zu events: sent %zu, acked %zu: %s", cr->round,
                     cr->norder, pipe.sent, pipe.acked, pipe.err);
        hclient_destroy(&pipe.client);
        for (size_t i = 0; i < cr->norder; i++)
            if (cr->ev[cr->order[i]].retry)
                cr->order[k++] = cr->order[i];
        if (k > 0)
            fprintf(stderr, "round %d: %zu events answered RETRY; sending them again\n", cr->round,
                    k);
        cr->norder = k;
    }
    if (cr->norder > 0)
        fail_msg("round %d: %zu events still answered RETRY after %d passes", cr->round, cr->norder,
                 RETRY_PASSES);
}

/* ---- the store as the daemon left it ---------------------------------- */

typedef struct {
    crash_t *cr;
    size_t missing;  /* acknowledged (or learnt) events not in the dedupe table */
    size_t moved;    /* ... or there under another sequence */
    size_t rejected; /* invalid events found in the store */
} s_dedupe_check_t;

static int s_dedupe_fn(store_txn_t *txn, void *arg)
{
    s_dedupe_check_t *d = arg;
    const crash_t *cr = d->cr;
    store_graduate_t *g = malloc(sizeof *g);
    if (g == NULL)
        return STORE_ENOMEM;
    for (size_t i = 0; i < cr->n; i++) {
        const cevent_t *ce = &cr->ev[i];
        const char *src = ce->kind == K_VACANCY ? SRC_FED : SRC_SCHOOL;
        uint64_t seq = 0;
        int rc = store_dedupe_get(txn, src, ce->id, &seq);
        if (rc != 0 && rc != STORE_ENOTFOUND) {
            free(g);
            return rc;
        }
        if (ce->kind == K_BAD) {
            if (rc == 0 || store_graduate_get(txn, ce->entity, g) != STORE_ENOTFOUND) {
                if (d->rejected++ < 5)
                    fprintf(stderr, "rejected event %s is in the store\n", ce->id);
            }
        } else if (ce->seq != 0 && rc != 0) {
            if (d->missing++ < 5)
                fprintf(stderr, "LOST: event %s (sequence %" PRIu64 ") is not in the store\n",
                        ce->id, ce->seq);
        } else if (ce->seq != 0 && seq != ce->seq) {
            if (d->moved++ < 5)
                fprintf(stderr, "event %s: sequence %" PRIu64 " acknowledged, %" PRIu64 " stored\n",
                        ce->id, ce->seq, seq);
        }
    }
    free(g);
    return 0;
}

/* Open the stopped daemon's store read-only and check it (see the top). */
static void s_check_store(crash_t *cr, const char *when)
{
    store_options_t opts = {.read_only = 1};
    int err = 0;
    store_t *st = store_new(cr->h->data_dir, &opts, &err);
    oracle_report_t rep;
    s_dedupe_check_t d = {cr, 0, 0, 0};
    char title[128];
    int64_t t0 = harness_now_us();

    if (st == NULL)
        fail_msg("%s: cannot open the store read-only: %s", when, store_strerror(err));
    memset(&rep, 0, sizeof rep);
    assert_int_equal(store_read(st, s_dedupe_fn, &d), 0);
    /* every list up to 6000 events; then a sample of about 3000 lists
     * (each still against the whole population). A kill between the
     * commits of data.mdb and lists.mdb leaves the lists to be rebuilt by
     * the next start: they are checked after it, at the next kill. */
    size_t stride = cr->n > 6000 ? cr->n / 3000 : 1;
    int stale = store_lists_stale(st);
    if (stale) {
        cr->stale++;
        fprintf(stderr, "%s: lists.mdb does not go with data.mdb: lists not checked\n", when);
    } else {
        assert_int_equal(oracle_check_lists_sampled(st, cr->ref, &cr->w, cr->k, stride, &rep), 0);
        assert_int_equal(oracle_check_replay(st, cr->k, &rep), 0);
    }
    store_destroy(&st);
    if (stale && strstr(when, "clean stop") != NULL)
        fail_msg("%s: lists.mdb does not go with data.mdb after a clean stop", when);
    snprintf(title, sizeof title, "%s (%.1f s, lists sampled 1 in %zu)", when,
             (double)(harness_now_us() - t0) / 1e6, stride);
    oracle_print(title, &rep);
    cr->checks++;
    if (d.missing || d.moved || d.rejected)
        fail_msg("%s: %zu acknowledged events missing, %zu under another sequence, %zu rejected "
                 "events stored",
                 when, d.missing, d.moved, d.rejected);
    /* nothing is erased or purged in this test: the log must be whole */
    if (oracle_problems(&rep) != 0 || rep.holes != 0)
        fail_msg("%s: the store is not consistent (see above)", when);
    if (rep.last_seq > 0 && rep.first_seq != 1)
        fail_msg("%s: the match log starts at %" PRIu64 ", not 1", when, rep.first_seq);
}

/* One round: produce until the kill, restart, re-send everything. */
static void s_round(crash_t *cr, int min_ms, int max_ms)
{
    hpipe_t pipe;
    int delay_ms = min_ms + (int)(rand_r(&cr->rng) % (unsigned)(max_ms - min_ms + 1));
    size_t acked_before = cr->acked;

    if (cr->h->pid <= 0)
        assert_int_equal(harness_start(cr->h), 0);
    memset(&pipe, 0, sizeof pipe);
    pipe.client = hclient_new(cr->h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = SIZE_MAX;
    /* A few hundred in flight: several group commits (and acks) fit in the
     * kill delay even when a commit takes a while. */
    pipe.window = (size_t)harness_env_long("PASSERELLE_CRASH_WINDOW", 256);
    pipe.make = s_make_new;
    pipe.on_ack = s_on_ack_new;
    pipe.ctx = cr;
    pipe.drain_ms = 300;
    cr->round_start = cr->n;
    cr->killed = false;
    cr->kill_at_us = harness_now_us() + (int64_t)delay_ms * 1000;
    if (hpipe_run(&pipe, s_tick_kill, cr) != 0)
        fail_msg("round %d: producer: sent %zu, acked %zu: %s", cr->round, pipe.sent, pipe.acked,
                 pipe.err);
    /* The client goes before the restart: its queued messages must not
     * reach the new daemon behind our back. */
    hclient_destroy(&pipe.client);
    if (!cr->killed)
        fail_msg("round %d: producer stopped before the kill", cr->round);
    fprintf(stderr, "round %d: killed after %d ms: sent %zu, acked %zu\n", cr->round, delay_ms,
            pipe.sent, cr->acked - acked_before);
    {
        char when[64];
        snprintf(when, sizeof when, "round %d, after the kill", cr->round);
        s_check_store(cr, when);
    }

    /* every other restart, as after a stop of the machine (another boot):
     * what the killed daemon left of lists.mdb in the page cache is not
     * trusted, and the lists are rebuilt before serving */
    char boot[32];
    struct stat lst;
    long from = stat(cr->h->log_path, &lst) == 0 ? (long)lst.st_size : 0;
    snprintf(boot, sizeof boot, "crash-boot-%d", (cr->round + 1) / 2);
    setenv("PASSERELLE_BOOT_ID", boot, 1);
    assert_int_equal(harness_start(cr->h), 0);
    if (cr->round % 2 == 1) { /* a boot of its own: the start's log must say it rebuilt */
        static char log[1 << 20];
        FILE *f = fopen(cr->h->log_path, "r");
        size_t n = 0;
        if (f != NULL && fseek(f, from, SEEK_SET) == 0)
            n = fread(log, 1, sizeof log - 1, f);
        if (f != NULL)
            fclose(f);
        log[n] = '\0';
        if (strstr(log, "ranked lists rebuilt for ") == NULL)
            fail_msg("round %d: a start in another boot did not rebuild the ranked lists",
                     cr->round);
        cr->rebuilds++;
    }
    s_resend_all(cr);
    if (cr->lost > 0 || cr->duplicated > 0)
        fail_msg("round %d: %zu acknowledged events lost, %zu changed sequence", cr->round,
                 cr->lost, cr->duplicated);
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_kill9_loses_no_acked_event(void **state)
{
    crash_t cr;
    int rounds = (int)harness_env_long("PASSERELLE_CRASH_ROUNDS", 5);
    int min_ms = (int)harness_env_long("PASSERELLE_CRASH_MIN_MS", 10);
    int max_ms = (int)harness_env_long("PASSERELLE_CRASH_MAX_MS", 300);
    unsigned seed = (unsigned)harness_env_long("PASSERELLE_CRASH_SEED",
                                               (long)((harness_now_us() ^ getpid()) & 0x7fffffff));
    uint64_t *seqs;
    size_t shared = 0, nvalid = 0;
    config_t cfg;
    char err[256];
    hstats_t st;

    memset(&cr, 0, sizeof cr);
    cr.h = *state;
    cr.rng = seed;
    if (max_ms < min_ms)
        max_ms = min_ms;
    /* the daemon runs with the default configuration: match with it */
    config_defaults(&cfg);
    {
        const char *src = getenv("PASSERELLE_SOURCE_DIR");
        char refdir[1024];
        snprintf(refdir, sizeof refdir, "%s/deploy/reference", src ? src : "..");
        cr.ref = reference_load(src ? refdir : cfg.reference_dir, err, sizeof err);
        if (cr.ref == NULL)
            fail_msg("reference: %s", err);
    }
    cr.w = (score_weights_t){cfg.w_skills, cfg.w_certification,   cfg.w_distance,
                             cfg.w_start,  cfg.distance_scale_km, cfg.start_window_days};
    assert_int_equal(score_weights_normalise(&cr.w), 0);
    cr.k = (unsigned)cfg.k;
    fprintf(stderr,
            "crash test: seed %u (PASSERELLE_CRASH_SEED), %d rounds, kill after %d..%d ms\n", seed,
            rounds, min_ms, max_ms);

    for (cr.round = 1; cr.round <= rounds; cr.round++)
        s_round(&cr, min_ms, max_ms);

    /* Every event stored exactly once, under its own sequence. */
    seqs = calloc(cr.n ? cr.n : 1, sizeof *seqs);
    assert_non_null(seqs);
    for (size_t i = 0; i < cr.n; i++)
        if (cr.ev[i].kind != K_BAD)
            seqs[nvalid++] = cr.ev[i].seq;
    qsort(seqs, nvalid, sizeof *seqs, s_cmp_u64);
    for (size_t i = 1; i < nvalid; i++)
        if (seqs[i] == seqs[i - 1])
            shared++;
    if (harness_stats(cr.h, &st) != 0)
        fail_msg("cannot get stats");
    cr.duplicated += shared;
    if (st.events > nvalid)
        cr.duplicated += (size_t)(st.events - nvalid);
    fprintf(stderr,
            "crash test: rounds %d (crashes survived), events %zu, acked %zu, lost %zu, "
            "duplicated %zu, rejected %zu + %zu on re-sends (unacked but stored %zu, stored on "
            "re-send %zu, RETRY %zu, stats.events %" PRIu64 ", seed %u)\n",
            rounds, cr.n, cr.acked, cr.lost, cr.duplicated, cr.rejected, cr.rejected_again,
            cr.late_duplicate, cr.late_accepted, cr.retried, st.events, seed);
    if (shared > 0)
        fail_msg("%zu sequences shared by two events", shared);
    if (st.events != nvalid)
        fail_msg("stats.events is %" PRIu64 ", expected %zu distinct events", st.events, nvalid);
    assert_int_equal(cr.lost, 0);
    assert_int_equal(cr.duplicated, 0);
    /* the invalid events were judged (on first sending if the daemon lived
     * long enough, on every re-send anyway) */
    assert_true(cr.rejected + cr.rejected_again > 0);
    assert_int_equal(harness_stop_clean(cr.h), 0);
    s_check_store(&cr, "after the clean stop");
    fprintf(stderr,
            "crash test: %zu read-only store checks passed (%zu with lists.mdb behind); %zu "
            "starts in another boot rebuilt the lists\n",
            cr.checks, cr.stale, cr.rebuilds);
    unsetenv("PASSERELLE_BOOT_ID");
    harness_pass(cr.h);
    reference_destroy(&cr.ref);

    for (size_t i = 0; i < cr.n; i++)
        free(cr.ev[i].bytes);
    free(cr.ev);
    free(cr.withdrawable);
    free(cr.order);
    free(seqs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill9_loses_no_acked_event, harness_setup_stopped,
                                        harness_teardown),
    };

    harness_cmocka_filter();
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
