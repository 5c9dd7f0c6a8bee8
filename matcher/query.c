/* query.c - see query.h. */
#include "query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "log.h"
#include "passerelle/v1/query.pb-c.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name
#define S_RID_MAX 256
#define S_MAX_REQUEST 65536

struct query {
    void *sock;
    store_t *store;
    counters_t *counters;
};

query_t *query_new(void *zctx, const config_t *cfg, store_t *store, counters_t *counters)
{
    query_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!self->sock) {
        log_warnx("query: zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int linger = 100, mandatory = 1;
    int64_t maxmsg = S_MAX_REQUEST;
    if (zmq_setsockopt(self->sock, ZMQ_SNDHWM, &cfg->sndhwm, sizeof cfg->sndhwm) ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &cfg->rcvhwm, sizeof cfg->rcvhwm) ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg)) {
        log_warnx("query: zmq_setsockopt: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(self->sock, cfg->query) != 0) {
        log_warnx("query: bind %s: %s", cfg->query, zmq_strerror(errno));
        goto fail;
    }
    return self;
fail:
    query_destroy(&self);
    return NULL;
}

void query_destroy(query_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_t *self = *self_p;
    if (self->sock)
        (void)zmq_close(self->sock); /* fails only on a bad handle */
    free(self);
    *self_p = NULL;
}

void *query_socket(query_t *self)
{
    return self->sock;
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fill st (and its map entries, in the caller's arrays) from counters. */
static void s_fill_stats(query_t *self, Passerelle__V1__Stats *st, const store_stats_t *ss,
                         Passerelle__V1__Stats__RejectedByErrorEntry *entries,
                         Passerelle__V1__Stats__RejectedByErrorEntry **ptrs)
{
    const counters_t *c = self->counters;
    st->version = PASSERELLE_VERSION;
    st->uptime_s = (uint64_t)(s_now_ms() - c->started_ms) / 1000;
    st->graduates = ss->graduates;
    st->graduates_available = ss->graduates_open;
    st->vacancies = ss->vacancies;
    st->vacancies_open = ss->vacancies_open;
    st->events = ss->events;
    st->events_accepted = c->accepted;
    st->events_duplicate = c->duplicate;
    st->events_rejected = c->rejected;
    st->events_retry = c->retry;
    st->batches = c->batches;
    st->batch_max = c->batch_max;
    st->store_bytes = ss->file_bytes;
    st->store_map_bytes = ss->map_bytes;
    st->feed_dropped = c->feed_dropped;
    st->commit_us_last = c->commit_us_last;
    size_t n = 0;
    for (int code = 1; code < COUNTERS_ERROR_CODES; code++) {
        const ProtobufCEnumValue *ev;
        if (!c->by_error[code] ||
            !(ev = protobuf_c_enum_descriptor_get_value(&passerelle__v1__error_code__descriptor,
                                                        code)))
            continue;
        passerelle__v1__stats__rejected_by_error_entry__init(&entries[n]);
        entries[n].key = (char *)ev->name;
        entries[n].value = c->by_error[code];
        ptrs[n] = &entries[n];
        n++;
    }
    st->n_rejected_by_error = n;
    st->rejected_by_error = ptrs;
}

static void s_send(query_t *self, const uint8_t *rid, size_t rid_len, int req,
                   const Passerelle__V1__Response *resp)
{
    size_t len = passerelle__v1__response__get_packed_size(resp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        log_warnx("query: out of memory for a %zu-byte response", len);
        return;
    }
    if (passerelle__v1__response__pack(resp, buf) != len)
        fatalx("%s: response packed to an unexpected size", __func__);
    if (zmq_send(self->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        (req && zmq_send(self->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) ||
        zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) == -1)
        log_debug("query: response dropped: %s", zmq_strerror(errno));
    free(buf);
}

/* Build and send the response to one decoded request (NULL: undecodable). */
static void s_answer(query_t *self, const uint8_t *rid, size_t rid_len, int req,
                     const Passerelle__V1__Request *rq, const char *bad)
{
    Passerelle__V1__Response resp = PASSERELLE__V1__RESPONSE__INIT;
    Passerelle__V1__Stats st = PASSERELLE__V1__STATS__INIT;
    Passerelle__V1__Health h = PASSERELLE__V1__HEALTH__INIT;
    Passerelle__V1__Stats__RejectedByErrorEntry entries[COUNTERS_ERROR_CODES];
    Passerelle__V1__Stats__RejectedByErrorEntry *ptrs[COUNTERS_ERROR_CODES];
    store_stats_t ss;

    resp.request_id = rq && rq->request_id ? rq->request_id : "";
    if (bad) {
        resp.error = E(BAD_REQUEST);
        resp.message = (char *)bad;
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_STATS) {
        int rc = store_read(self->store, s_stats_fn, &ss);
        if (rc != 0) {
            resp.error = E(STORE_FAILED);
            resp.message = (char *)store_strerror(rc);
        } else {
            s_fill_stats(self, &st, &ss, entries, ptrs);
            resp.result_case = PASSERELLE__V1__RESPONSE__RESULT_STATS;
            resp.stats = &st;
        }
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_HEALTH) {
        h.live = 1;
        h.ready = self->counters->store_ok != 0;
        h.detail = h.ready ? "" : self->counters->store_detail;
        resp.result_case = PASSERELLE__V1__RESPONSE__RESULT_HEALTH;
        resp.health = &h;
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY__NOT_SET) {
        resp.error = E(BAD_REQUEST);
        resp.message = "the request names no query (stats, health, top_matches, replay)";
    } else {
        resp.error = E(UNSUPPORTED);
        resp.message = "this matcherd does not serve that query yet";
    }
    s_send(self, rid, rid_len, req, &resp);
}

/* Read the frames of one request. Returns 1, 0 if none waiting, -1. */
static int s_recv(query_t *self, uint8_t *rid, size_t *rid_len, int *req, zmq_msg_t *body,
                  int *frames)
{
    zmq_msg_t part;
    int more, n = 0, have = 0;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, self->sock, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close(&part);
        return errno == EAGAIN ? 0 : -1;
    }
    zmq_msg_init(body);
    *rid_len = zmq_msg_size(&part) <= S_RID_MAX ? zmq_msg_size(&part) : 0;
    memcpy(rid, zmq_msg_data(&part), *rid_len);
    more = zmq_msg_more(&part);
    zmq_msg_close(&part);
    *req = 0;
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->sock, 0) == -1) {
            zmq_msg_close(&part);
            zmq_msg_close(body);
            return -1;
        }
        more = zmq_msg_more(&part);
        if (++n == 1 && more && zmq_msg_size(&part) == 0)
            *req = 1;
        else if (!have && (have = 1))
            zmq_msg_move(body, &part);
        zmq_msg_close(&part);
    }
    *frames = n - *req;
    return 1;
}

int query_process(query_t *self, int max)
{
    int done = 0;
    while (done < max) {
        uint8_t rid[S_RID_MAX];
        size_t rid_len;
        int req, frames = 0;
        zmq_msg_t body;
        int rc = s_recv(self, rid, &rid_len, &req, &body, &frames);
        if (rc <= 0)
            return rc < 0 ? -1 : done;
        self->counters->queries++;
        Passerelle__V1__Request *rq = NULL;
        if (frames == 1)
            rq = passerelle__v1__request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        if (!rq) {
            self->counters->queries_bad++;
            s_answer(self, rid, rid_len, req, NULL,
                     frames == 1 ? "the frame is not a passerelle.v1.Request"
                                 : "expected one frame holding a Request");
        } else {
            s_answer(self, rid, rid_len, req, rq, NULL);
            passerelle__v1__request__free_unpacked(rq, NULL);
        }
        zmq_msg_close(&body);
        done++;
    }
    return done;
}
