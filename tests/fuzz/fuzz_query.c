/* fuzz_query.c - libFuzzer target over the query request path: the bytes
 * of one frame are sent on a DEALER to the real query socket (query.c, a
 * ROUTER on inproc) over a small stored population with ranked lists and
 * a match log; query_process answers it. Every request, decodable or not,
 * must get exactly one Response that decodes; one that is not a Request
 * must get BAD_REQUEST.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "apply.h"
#include "config.h"
#include "counters.h"
#include "engine.h"
#include "enrich.h"
#include "feed.h"
#include "fuzz_common.h"
#include "log.h"
#include "passerelle/v1/query.pb-c.h"
#include "query.h"
#include "reference.h"
#include "score.h"
#include "store.h"

#define S_POP 24

static struct {
    char dir[64];
    config_t cfg;
    store_t *store;
    reference_t *ref;
    void *zctx;
    feed_t *feed;
    engine_t *engine;
    query_t *query;
    void *client;
    counters_t counters;
} s;

static void s_quiet(int level, const char *msg)
{
    (void)level;
    (void)msg;
}

static void s_cleanup(void)
{
    if (s.client)
        (void)zmq_close(s.client);
    query_destroy(&s.query);
    engine_destroy(&s.engine);
    feed_destroy(&s.feed);
    if (s.zctx)
        (void)zmq_ctx_term(s.zctx);
    store_destroy(&s.store);
    reference_destroy(&s.ref);
    fuzz_rm_rf(s.dir);
}

/* Graduates and vacancies around Tarbes with welding certifications, so
 * that lists and the match log have content. */
static void s_populate(void)
{
    static apply_item_t items[S_POP];
    static const char *communes[] = {"65440", "32013", "64445", "31555"};
    memset(items, 0, sizeof items);
    for (int i = 0; i < S_POP; i++) {
        apply_item_t *it = &items[i];
        it->valid = 1;
        it->payload = "x";
        it->payload_len = 1;
        snprintf(it->ev.source, sizeof it->ev.source, "fuzz");
        snprintf(it->ev.event_id, sizeof it->ev.event_id, "pop-%d", i);
        it->ev.occurred_ms = 1767225600000LL + i;
        if (i % 3 != 2) {
            store_graduate_t *g = &it->ev.u.grad;
            it->ev.type = STORE_EV_GRADUATE_UPSERT;
            snprintf(g->id, sizeof g->id, "g%d", i);
            snprintf(g->school, sizeof g->school, "0650043X");
            g->version = it->ev.occurred_ms;
            g->n_certs = 1;
            g->certs[0].kind = 1;
            g->certs[0].level = 3;
            snprintf(g->certs[0].rncp, sizeof g->certs[0].rncp, "RNCP27470");
            snprintf(g->home.commune, sizeof g->home.commune, "%s", communes[i % 4]);
            g->radius_km = 100;
        } else {
            store_vacancy_t *v = &it->ev.u.vac;
            it->ev.type = STORE_EV_VACANCY_UPSERT;
            snprintf(v->id, sizeof v->id, "v%d", i);
            snprintf(v->employer, sizeof v->employer, "12345678900012");
            v->version = it->ev.occurred_ms;
            v->sector = 3;
            v->contract = 1;
            v->positions = 1;
            v->n_romes = 1;
            snprintf(v->romes[0], sizeof v->romes[0], "H2913");
            snprintf(v->site.commune, sizeof v->site.commune, "%s", communes[i % 4]);
        }
        matcher_verdict_t verdict;
        if (enrich_event(s.ref, &it->ev, &verdict) != 0) {
            fprintf(stderr, "fuzz_query: population: %s\n", verdict.message);
            exit(1);
        }
    }
    apply_batch_t b = {
        .items = items, .n = S_POP, .now_ms = 1800000000000LL, .engine = s.engine, .feed = s.feed};
    int rc = store_write(s.store, apply_batch, &b);
    if (rc != 0) {
        fprintf(stderr, "fuzz_query: population: %s\n", store_strerror(rc));
        exit(1);
    }
    feed_publish(s.feed, s.store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256], ep[sizeof s.cfg.query];
    score_weights_t w;
    int e = 0, linger = 0;
    (void)argc;
    (void)argv;
    log_init("fuzz_query", LOG_LEVEL_ERROR, 0);
    store_set_logger(s_quiet);
    config_defaults(&s.cfg);
    s.ref = reference_load(fuzz_reference_dir(s.cfg.reference_dir), err, sizeof err);
    snprintf(s.dir, sizeof s.dir, "/tmp/fuzz_query.XXXXXX");
    if (!s.ref || !mkdtemp(s.dir) || !(s.store = store_new(s.dir, NULL, &e))) {
        fprintf(stderr, "fuzz_query: reference or store: %s %s\n", err, store_strerror(e));
        exit(1);
    }
    snprintf(s.cfg.feed, sizeof s.cfg.feed, "inproc://fuzzq-feed-%d", getpid());
    snprintf(s.cfg.query, sizeof s.cfg.query, "inproc://fuzzq-query-%d", getpid());
    snprintf(ep, sizeof ep, "%s", s.cfg.query);
    w = (score_weights_t){s.cfg.w_skills, s.cfg.w_certification,   s.cfg.w_distance,
                          s.cfg.w_start,  s.cfg.distance_scale_km, s.cfg.start_window_days};
    s.counters.store_ok = 1;
    if (score_weights_normalise(&w) != 0 || !(s.zctx = zmq_ctx_new()) ||
        !(s.feed = feed_new(s.zctx, &s.cfg, s.ref, &s.counters)) ||
        !(s.engine = engine_new(s.ref, &w, (unsigned)s.cfg.k, s.feed)) ||
        !(s.query = query_new(s.zctx, &s.cfg, s.store, &s.counters, s.ref, s.engine)) ||
        !(s.client = zmq_socket(s.zctx, ZMQ_DEALER)) ||
        zmq_setsockopt(s.client, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(s.client, ep) != 0) {
        fprintf(stderr, "fuzz_query: setup failed: %s\n", zmq_strerror(zmq_errno()));
        exit(1);
    }
    s_populate();
    atexit(s_cleanup);
    return 0;
}

/* Wait for socket to be readable: 1, or 0 after timeout_ms. */
static int s_readable(void *sock, int timeout_ms)
{
    zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&pi, 1, timeout_ms) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0; /* the socket's ZMQ_MAXMSGSIZE drops such a peer */
    if (zmq_send(s.client, data, size, 0) != (int)size)
        abort();
    if (!s_readable(query_socket(s.query), 5000) || query_process(s.query, 1) != 1)
        abort(); /* the request was lost */
    if (!s_readable(s.client, 5000))
        abort(); /* no answer */
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s.client, 0) < 0)
        abort();
    int more = zmq_msg_more(&msg);
    Passerelle__V1__Response *r =
        passerelle__v1__response__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    if (more || !r)
        abort(); /* one frame holding a Response */
    Passerelle__V1__Request *rq = passerelle__v1__request__unpack(NULL, size, data);
    if (!rq && r->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_BAD_REQUEST)
        abort();
    if (rq)
        passerelle__v1__request__free_unpacked(rq, NULL);
    passerelle__v1__response__free_unpacked(r, NULL);
    return 0;
}
