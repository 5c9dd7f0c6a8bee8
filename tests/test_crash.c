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
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define SCHOOL           "0650043X"
#define SRC_SCHOOL       "ep-tarbes-sis"
#define SRC_FED          "uimm-occitanie"
#define ROUND_MAX_EVENTS 500000 /* per round; far more than a kill delay allows */
#define RETRY_PASSES     5

enum { K_GRADUATE, K_VACANCY, K_WITHDRAW };

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
    if (i % 10 == 9 && cr->w_head < cr->w_tail) {
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
    if (ce->kind != K_WITHDRAW)
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

    if (hbuf_resize(out, ce->len) != 0)
        return -1;
    memcpy(out->data, ce->bytes, ce->len);
    snprintf(id, HEV_ID_MAX, "%s", ce->id);
    return 0;
}

static int s_on_ack_again(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    crash_t *cr = p->ctx;
    cevent_t *ce = &cr->ev[cr->order[i]];
    char abuf[1024];

    ce->retry = false;
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

    assert_int_equal(harness_start(cr->h), 0);
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
    size_t shared = 0;
    hstats_t st;

    memset(&cr, 0, sizeof cr);
    cr.h = *state;
    cr.rng = seed;
    if (max_ms < min_ms)
        max_ms = min_ms;
    fprintf(stderr,
            "crash test: seed %u (PASSERELLE_CRASH_SEED), %d rounds, kill after %d..%d ms\n", seed,
            rounds, min_ms, max_ms);

    for (cr.round = 1; cr.round <= rounds; cr.round++)
        s_round(&cr, min_ms, max_ms);

    /* Every event stored exactly once, under its own sequence. */
    seqs = calloc(cr.n ? cr.n : 1, sizeof *seqs);
    assert_non_null(seqs);
    for (size_t i = 0; i < cr.n; i++)
        seqs[i] = cr.ev[i].seq;
    qsort(seqs, cr.n, sizeof *seqs, s_cmp_u64);
    for (size_t i = 1; i < cr.n; i++)
        if (seqs[i] == seqs[i - 1])
            shared++;
    if (harness_stats(cr.h, &st) != 0)
        fail_msg("cannot get stats");
    cr.duplicated += shared;
    if (st.events > cr.n)
        cr.duplicated += (size_t)(st.events - cr.n);
    fprintf(stderr,
            "crash test: rounds %d, events %zu, acked %zu, lost %zu, duplicated %zu "
            "(unacked but stored %zu, stored on re-send %zu, RETRY %zu, stats.events %" PRIu64
            ", seed %u)\n",
            rounds, cr.n, cr.acked, cr.lost, cr.duplicated, cr.late_duplicate, cr.late_accepted,
            cr.retried, st.events, seed);
    if (shared > 0)
        fail_msg("%zu sequences shared by two events", shared);
    if (st.events != cr.n)
        fail_msg("stats.events is %" PRIu64 ", expected %zu distinct events", st.events, cr.n);
    assert_int_equal(cr.lost, 0);
    assert_int_equal(cr.duplicated, 0);
    assert_int_equal(harness_stop_clean(cr.h), 0);
    harness_pass(cr.h);

    for (size_t i = 0; i < cr.n; i++)
        free(cr.ev[i].bytes);
    free(cr.ev);
    free(cr.withdrawable);
    free(cr.order);
    free(seqs);
}

static int s_setup(void **state)
{
    harness_t *h = harness_new();

    if (h == NULL)
        return -1;
    *state = h;
    return 0;
}

static int s_teardown(void **state)
{
    harness_t *h = *state;
    harness_destroy(&h);
    *state = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill9_loses_no_acked_event, s_setup, s_teardown),
    };

    harness_cmocka_filter();
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
