/* query.c - see query.h. */
#include "query.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "clock.h"
#include "feed.h"
#include "envelope.h"
#include "explain.h"
#include "log.h"
#include "passerelle/v1/query.pb-c.h"

#define E(name)           PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name
#define S_MAX_REQUEST     65536
#define S_REPLAY_DEFAULT  1000
#define S_REPLAY_MAX      10000
#define S_REPLAY_SCAN_MAX 200000 /* stored updates examined per page, at most */
/* Requests of one peer served in one turn of the loop (query_process);
 * the peer's further requests read in that turn get a BUSY error at
 * once instead of being served: a peer that pipelines a flood gets
 * refusals, costs little and cannot starve the loop or build a backlog of
 * work. */
#define S_PEER_PER_TURN 32

struct query {
    void *sock;
    store_t *store;
    counters_t *counters;
    const reference_t *ref;
    engine_t *engine;
    store_backup_t *backup; /* running, or NULL */
    envelope_t backup_env;  /* who asked for it (routing only: body closed) */
    char backup_rid[65];    /* their request_id */
};

query_t *query_new(void *zctx, const config_t *cfg, store_t *store, counters_t *counters,
                   const reference_t *ref, engine_t *engine)
{
    query_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ref = ref;
    self->engine = engine;
    self->store = store;
    self->counters = counters;
    self->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!self->sock) {
        log_warnx("query: zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (auth_server_socket(self->sock) != 0)
        goto fail;
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
    if (self->backup) {
        log_info("backup to %s: waiting for it to end before stopping",
                 store_backup_dir(self->backup));
        query_backup_done(self); /* the reply may still go out before the socket closes */
    }
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

/* Fill st (and its map entries, in the caller's arrays) from counters. */
static void s_fill_stats(query_t *self, Passerelle__V1__Stats *st, const store_stats_t *ss,
                         Passerelle__V1__Stats__RejectedByErrorEntry *entries,
                         Passerelle__V1__Stats__RejectedByErrorEntry **ptrs)
{
    const counters_t *c = self->counters;
    st->version = PASSERELLE_VERSION;
    st->uptime_s = (uint64_t)(clock_now_ms() - c->started_ms) / 1000;
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
    st->match_sequence = ss->matches;
    st->commit_us_last = c->commit_us_last;
    st->subscriptions_refused = c->subs_refused;
    st->erasures = c->erasures;
    st->store_scrubs = c->scrubs;
    size_t n = 0;
    for (int code = 1; code < COUNTERS_ERROR_CODES; code++) {
        const ProtobufCEnumValue *ev;
        if (!c->by_error[code] || !(ev = protobuf_c_enum_descriptor_get_value(
                                        &passerelle__v1__error_code__descriptor, code)))
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

/* ---- operations metrics ---------------------------------------------- */

static const char *const s_type_names[COUNTERS_EVENT_TYPES] = {
    "unknown",         "graduate_upsert", "graduate_withdrawn",
    "graduate_erased", "vacancy_upsert",  "vacancy_closed"};
static const char *const s_status_names[COUNTERS_STATUSES] = {"", "accepted", "duplicate",
                                                              "rejected", "retry"};
static const char *const s_kind_names[4] = {"", "entered", "updated", "left"};

/* Room for the operations part of one Stats message. */
typedef struct {
    char keys[COUNTERS_EVENT_TYPES * COUNTERS_STATUSES][40];
    Passerelle__V1__Stats__EventsByTypeStatusEntry ev[COUNTERS_EVENT_TYPES * COUNTERS_STATUSES];
    Passerelle__V1__Stats__EventsByTypeStatusEntry *ev_p[COUNTERS_EVENT_TYPES * COUNTERS_STATUSES];
    Passerelle__V1__Stats__MatchesPublishedByKindEntry mk[3];
    Passerelle__V1__Stats__MatchesPublishedByKindEntry *mk_p[3];
    Passerelle__V1__Histogram hist[2];
    Passerelle__V1__HistogramBucket buckets[2][COUNTERS_COMMIT_BUCKETS];
    Passerelle__V1__HistogramBucket *bucket_p[2][COUNTERS_COMMIT_BUCKETS];
} s_ops_t;

/* Fill h from c: cumulative buckets with the bounds le[0..n_bounds-1], +Inf. */
static void s_fill_hist(Passerelle__V1__Histogram *h, Passerelle__V1__HistogramBucket *b,
                        Passerelle__V1__HistogramBucket **bp, const counters_hist_t *c,
                        const double *le, int n_bounds)
{
    uint64_t cum = 0;
    passerelle__v1__histogram__init(h);
    for (int i = 0; i <= n_bounds; i++) {
        passerelle__v1__histogram_bucket__init(&b[i]);
        cum += c->n[i];
        b[i].le = i < n_bounds ? le[i] : INFINITY;
        b[i].count = cum;
        bp[i] = &b[i];
    }
    h->buckets = bp;
    h->n_buckets = (size_t)n_bounds + 1;
    h->count = c->count;
    h->sum = c->sum;
}

static void s_fill_ops(query_t *self, Passerelle__V1__Stats *st, const store_stats_t *ss,
                       s_ops_t *o)
{
    const counters_t *c = self->counters;
    size_t n = 0;
    for (int t = 0; t < COUNTERS_EVENT_TYPES; t++)
        for (int s = 1; s < COUNTERS_STATUSES; s++) {
            if (!c->events[t][s])
                continue;
            passerelle__v1__stats__events_by_type_status_entry__init(&o->ev[n]);
            (void)snprintf(o->keys[n], sizeof o->keys[n], "%s/%s", s_type_names[t],
                           s_status_names[s]);
            o->ev[n].key = o->keys[n];
            o->ev[n].value = c->events[t][s];
            o->ev_p[n] = &o->ev[n];
            n++;
        }
    st->events_by_type_status = o->ev_p;
    st->n_events_by_type_status = n;
    for (int k = 1; k <= 3; k++) {
        passerelle__v1__stats__matches_published_by_kind_entry__init(&o->mk[k - 1]);
        o->mk[k - 1].key = (char *)s_kind_names[k];
        o->mk[k - 1].value = c->matches_by_kind[k];
        o->mk_p[k - 1] = &o->mk[k - 1];
    }
    st->matches_published_by_kind = o->mk_p;
    st->n_matches_published_by_kind = 3;
    s_fill_hist(&o->hist[0], o->buckets[0], o->bucket_p[0], &c->batch_size, counters_batch_le,
                COUNTERS_BATCH_BUCKETS - 1);
    s_fill_hist(&o->hist[1], o->buckets[1], o->bucket_p[1], &c->commit_seconds,
                counters_commit_le_s, COUNTERS_COMMIT_BUCKETS - 1);
    st->batch_size = &o->hist[0];
    st->commit_seconds = &o->hist[1];
    st->feed_messages_sent = c->feed_published;
    st->ranked_lists = ss->vacancy_lists + ss->graduate_lists;
    st->ranked_list_entries = ss->vacancy_list_entries + ss->graduate_list_entries;
    st->subscriptions = c->subscriptions_now;
    st->subscribe_messages = c->subscriptions;
    st->store_used_bytes = ss->used_bytes;
    st->lists_file_bytes = ss->lists_file_bytes;
    st->lists_used_bytes = ss->lists_used_bytes;
    st->commit_failures = c->commit_failures;
    st->ingest_transactions_full = c->txns_full;
    st->acks_dropped = c->acks_dropped;
    st->queries = c->queries;
    st->events_superseded = c->superseded;
    st->backups = c->backups;
    st->backup_failures = c->backup_failures;
    st->commit_us_max = c->commit_us_max;
    st->started_at_ms = (uint64_t)c->started_ms;
}

/* ---- top matches ------------------------------------------------------ */

typedef struct {
    query_t *self;
    const Passerelle__V1__TopMatchesRequest *rq;
    Passerelle__V1__TopMatches *out;
    int found;
    const auth_client_t *client; /* NULL: security off */
    int forbidden;
} s_top_t;

/* Scratch for explaining one list; the daemon answers one query at a time. */
static struct {
    store_list_t list;
    store_vacancy_t v;
    store_graduate_t g;
    score_vacancy_t sv[STORE_LIST_MAX];
    score_result_t res[STORE_LIST_MAX];
    explain_buf_t eb[STORE_LIST_MAX];
    Passerelle__V1__Explanation ex[STORE_LIST_MAX];
    Passerelle__V1__RankedMatch rm[STORE_LIST_MAX];
    Passerelle__V1__RankedMatch *ptrs[STORE_LIST_MAX];
    char ids[STORE_LIST_MAX][4][STORE_ID_MAX + 1];
} s_top;

/* May c see the ranked list of this vacancy (vacancy != 0) or graduate?
 * Recruiters: their employers' vacancies; federations and observers: the
 * vacancies of their region; schools: their own graduates. */
static int s_entity_allowed(const query_t *self, const auth_client_t *c, int vacancy,
                            const store_vacancy_t *v, const store_graduate_t *g)
{
    switch (c->role) {
    case AUTH_ROLE_OPERATOR: return 1;
    case AUTH_ROLE_RECRUITER: return vacancy && auth_has_scope(c, v->employer);
    case AUTH_ROLE_FEDERATION:
    case AUTH_ROLE_OBSERVER:
        return vacancy && self->ref && auth_has_scope(c, feed_region_of(self->ref, &v->site));
    case AUTH_ROLE_SCHOOL: return !vacancy && auth_has_scope(c, g->school);
    default: return 0;
    }
}

static int s_top_fn(store_txn_t *txn, void *arg)
{
    s_top_t *t = arg;
    int vacancy = t->rq->entity_case == PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
    const char *id = vacancy ? t->rq->vacancy_id : t->rq->graduate_id;
    int rc = vacancy ? store_vacancy_get(txn, id, &s_top.v) : store_graduate_get(txn, id, &s_top.g);
    if (rc != 0)
        return rc;
    t->found = 1;
    if (t->client && !s_entity_allowed(t->self, t->client, vacancy, &s_top.v, &s_top.g)) {
        t->forbidden = 1;
        return 0;
    }
    rc = store_list_get(txn, vacancy ? STORE_ENTITY_VACANCY : STORE_ENTITY_GRADUATE, id,
                        &s_top.list);
    if (rc != 0)
        return rc;
    size_t n = s_top.list.n < engine_k(t->self->engine) ? s_top.list.n : engine_k(t->self->engine);
    if (t->rq->limit && t->rq->limit < n)
        n = t->rq->limit;
    for (size_t i = 0; i < n; i++) {
        const char *vid = vacancy ? id : s_top.list.e[i].id;
        const char *gid = vacancy ? s_top.list.e[i].id : id;
        Passerelle__V1__RankedMatch *m = &s_top.rm[i];
        passerelle__v1__ranked_match__init(m);
        rc = engine_explain(t->self->engine, txn, vid, gid, &s_top.v, &s_top.g, &s_top.sv[i],
                            &s_top.res[i]);
        if (rc < 0)
            return rc;
        memcpy(s_top.ids[i][0], s_top.v.id, sizeof s_top.ids[i][0]);
        memcpy(s_top.ids[i][1], s_top.v.employer, sizeof s_top.ids[i][1]);
        memcpy(s_top.ids[i][2], s_top.g.id, sizeof s_top.ids[i][2]);
        memcpy(s_top.ids[i][3], s_top.g.school, sizeof s_top.ids[i][3]);
        m->rank = (uint32_t)i + 1;
        m->score = s_top.list.e[i].micro / 1e6;
        m->vacancy_id = s_top.ids[i][0];
        m->employer_id = s_top.ids[i][1];
        m->graduate_id = s_top.ids[i][2];
        m->school_id = s_top.ids[i][3];
        if (rc == 1) {
            explain_fill(t->self->ref, &s_top.res[i], &s_top.sv[i], &s_top.ex[i], &s_top.eb[i], 1);
            m->explanation = &s_top.ex[i];
        }
        s_top.ptrs[i] = m;
    }
    t->out->matches = s_top.ptrs;
    t->out->n_matches = n;
    return 0;
}

static void s_top_matches(query_t *self, const Passerelle__V1__TopMatchesRequest *rq,
                          Passerelle__V1__Response *resp, Passerelle__V1__TopMatches *out,
                          const auth_client_t *client)
{
    s_top_t t = {self, rq, out, 0, client, 0};
    if (rq->entity_case == PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY__NOT_SET) {
        resp->error = E(BAD_REQUEST);
        resp->message = "top_matches needs a vacancy_id or a graduate_id";
        return;
    }
    int rc = store_read(self->store, s_top_fn, &t);
    if (rc == 0 && t.forbidden) {
        resp->error = E(FORBIDDEN);
        resp->message = "this key may not see that entity's matches";
    } else if (rc == STORE_ENOTFOUND || (rc == 0 && !t.found)) {
        resp->error = E(NOT_FOUND);
        resp->message = "no such vacancy or graduate";
    } else if (rc != 0) {
        resp->error = E(STORE_FAILED);
        resp->message = (char *)store_strerror(rc);
    } else {
        resp->result_case = PASSERELLE__V1__RESPONSE__RESULT_TOP_MATCHES;
        resp->top_matches = out;
    }
}

/* ---- replay ------------------------------------------------------------ */

typedef struct {
    const reference_t *ref; /* the labels the match log does not keep */
    const char *prefix;
    size_t prefix_len;
    uint32_t limit;
    size_t scanned;
    Passerelle__V1__Topical **items;
    size_t n;
    uint64_t last;
    int more;
    int oom;
} s_replay_t;

static int s_replay_cb(const store_match_t *m, void *arg)
{
    s_replay_t *r = arg;
    if (r->n >= r->limit || r->scanned >= S_REPLAY_SCAN_MAX) {
        r->more = 1;
        return 1;
    }
    r->scanned++;
    r->last = m->seq;
    for (size_t i = 0; i < m->n_topics; i++) {
        if (strncmp(m->topics[i], r->prefix, r->prefix_len) != 0)
            continue;
        Passerelle__V1__Topical *t = calloc(1, sizeof *t);
        if (!t) {
            r->oom = 1;
            return 1;
        }
        passerelle__v1__topical__init(t);
        t->update = passerelle__v1__match_update__unpack(NULL, m->payload_len, m->payload);
        t->topic = strdup(m->topics[i]);
        r->items[r->n++] = t;
        if (!t->update || !t->topic ||
            (t->update->explanation && r->ref &&
             explain_label(r->ref, t->update->explanation) != 0)) {
            r->oom = 1;
            return 1;
        }
        break; /* one entry per update; subscribers dedupe by sequence */
    }
    return 0;
}

typedef struct {
    s_replay_t *r;
    uint64_t after;
    uint64_t head;
    uint64_t purged;
} s_replay_job_t;

static int s_replay_fn(store_txn_t *txn, void *arg)
{
    s_replay_job_t *j = arg;
    char buf[32];
    j->head = store_match_last(txn);
    int rc = store_meta_get_str(txn, "match_purged_upto", buf, sizeof buf);
    j->purged = rc == 0 ? strtoull(buf, NULL, 10) : 0;
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc;
    if (j->after < j->purged)
        return 0;
    rc = store_match_each(txn, j->after, s_replay_cb, j->r);
    return rc > 0 ? 0 : rc;
}

static void s_replay_free(s_replay_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->items[i]->update)
            passerelle__v1__match_update__free_unpacked(r->items[i]->update, NULL);
        free(r->items[i]->topic);
        free(r->items[i]);
    }
    free(r->items);
}

static void s_replay(query_t *self, const Passerelle__V1__ReplayRequest *rq,
                     Passerelle__V1__Response *resp, Passerelle__V1__ReplayPage *page,
                     s_replay_t *r)
{
    static char msg[160];
    r->ref = self->ref;
    r->prefix = rq->topic_prefix ? rq->topic_prefix : "";
    r->prefix_len = strlen(r->prefix);
    r->limit = rq->limit ? rq->limit : S_REPLAY_DEFAULT;
    if (r->limit > S_REPLAY_MAX) {
        resp->error = E(BAD_REQUEST);
        resp->message = "replay limit is at most 10000";
        return;
    }
    r->last = rq->after_sequence;
    if (!(r->items = calloc(r->limit, sizeof *r->items))) {
        resp->error = E(STORE_FAILED);
        resp->message = "out of memory";
        return;
    }
    s_replay_job_t j = {r, rq->after_sequence, 0, 0};
    int rc = store_read(self->store, s_replay_fn, &j);
    if (rc != 0 || r->oom) {
        resp->error = E(STORE_FAILED);
        resp->message = rc ? (char *)store_strerror(rc) : "out of memory";
    } else if (rq->after_sequence < j.purged) {
        (void)snprintf(msg, sizeof msg,
                       "updates up to %llu were purged; fetch the current lists, then replay "
                       "from %llu",
                       (unsigned long long)j.purged, (unsigned long long)j.head);
        resp->error = E(REPLAY_PURGED);
        resp->message = msg;
        page->head_sequence = j.head; /* where to continue after a re-fetch */
        resp->result_case = PASSERELLE__V1__RESPONSE__RESULT_REPLAY;
        resp->replay = page;
    } else {
        page->updates = r->items;
        page->n_updates = r->n;
        page->last_sequence = r->last;
        page->more = r->more;
        page->head_sequence = j.head;
        resp->result_case = PASSERELLE__V1__RESPONSE__RESULT_REPLAY;
        resp->replay = page;
    }
}

static void s_send(query_t *self, const envelope_t *env, const Passerelle__V1__Response *resp)
{
    size_t len = passerelle__v1__response__get_packed_size(resp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        log_warnx("query: out of memory for a %zu-byte response", len);
        return;
    }
    if (passerelle__v1__response__pack(resp, buf) != len)
        fatalx("%s: response packed to an unexpected size", __func__);
    if (envelope_reply(self->sock, env, buf, len) != 0)
        log_debug("query: response dropped: %s", zmq_strerror(errno));
    free(buf);
}

/* May client c make request rq at all? One switch over the request kinds;
 * a kind not named here (added later) is for operators only. Top matches
 * are checked again against the entity once it is read. */
static int s_request_allowed(const auth_client_t *c, const Passerelle__V1__Request *rq)
{
    if (c->role == AUTH_ROLE_OPERATOR)
        return 1;
    switch (rq->query_case) {
    case PASSERELLE__V1__REQUEST__QUERY_HEALTH: return 1;      /* any authenticated key */
    case PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES: return 1; /* then per entity */
    case PASSERELLE__V1__REQUEST__QUERY_REPLAY:
        return auth_topic_allowed(c, rq->replay->topic_prefix ? rq->replay->topic_prefix : "");
    case PASSERELLE__V1__REQUEST__QUERY_STATS:
    default: return 0;
    }
}

/* Build and send the response to one decoded request (NULL: undecodable). */
static void s_answer(query_t *self, const envelope_t *env, const Passerelle__V1__Request *rq,
                     const char *bad)
{
    const auth_client_t *client = NULL;
    Passerelle__V1__Response resp = PASSERELLE__V1__RESPONSE__INIT;
    Passerelle__V1__Stats st = PASSERELLE__V1__STATS__INIT;
    Passerelle__V1__Health h = PASSERELLE__V1__HEALTH__INIT;
    Passerelle__V1__TopMatches top = PASSERELLE__V1__TOP_MATCHES__INIT;
    Passerelle__V1__ReplayPage page = PASSERELLE__V1__REPLAY_PAGE__INIT;
    s_replay_t replay = {0};
    Passerelle__V1__Stats__RejectedByErrorEntry entries[COUNTERS_ERROR_CODES];
    Passerelle__V1__Stats__RejectedByErrorEntry *ptrs[COUNTERS_ERROR_CODES];
    static s_ops_t ops; /* 3 KB, off the stack; one query at a time */
    store_stats_t ss;

    resp.request_id = rq && rq->request_id ? rq->request_id : "";
    if (auth_enabled() && env->has_body)
        client = auth_client(zmq_msg_gets((zmq_msg_t *)&env->body, "User-Id"));
    if (!bad && auth_enabled() && (!client || !s_request_allowed(client, rq))) {
        resp.error = E(FORBIDDEN);
        resp.message =
            client ? "this key's role may not make that request" : "this key's role was revoked";
    } else if (bad) {
        resp.error = E(BAD_REQUEST);
        resp.message = (char *)bad;
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_STATS) {
        int rc = store_read(self->store, s_stats_fn, &ss);
        if (rc != 0) {
            resp.error = E(STORE_FAILED);
            resp.message = (char *)store_strerror(rc);
        } else {
            s_fill_stats(self, &st, &ss, entries, ptrs);
            s_fill_ops(self, &st, &ss, &ops);
            resp.result_case = PASSERELLE__V1__RESPONSE__RESULT_STATS;
            resp.stats = &st;
        }
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_HEALTH) {
        h.live = 1;
        h.ready = self->counters->store_ok != 0;
        h.detail = h.ready ? "" : self->counters->store_detail;
        resp.result_case = PASSERELLE__V1__RESPONSE__RESULT_HEALTH;
        resp.health = &h;
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES && self->engine) {
        s_top_matches(self, rq->top_matches, &resp, &top, client);
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_REPLAY) {
        s_replay(self, rq->replay, &resp, &page, &replay);
    } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY__NOT_SET) {
        resp.error = E(BAD_REQUEST);
        resp.message = "the request names no query (stats, health, top_matches, replay)";
    } else {
        resp.error = E(UNSUPPORTED);
        resp.message = "this matcherd does not serve that query yet";
    }
    s_send(self, env, &resp);
    s_replay_free(&replay);
}

/* ---- backup ------------------------------------------------------------ */

static void s_backup_reply(query_t *self, const envelope_t *env, const char *rid, int error,
                           const char *message, Passerelle__V1__BackupResult *res)
{
    Passerelle__V1__Response resp = PASSERELLE__V1__RESPONSE__INIT;
    resp.request_id = (char *)rid;
    resp.error = (Passerelle__V1__ErrorCode)error;
    resp.message = (char *)message;
    if (res) {
        resp.result_case = PASSERELLE__V1__RESPONSE__RESULT_BACKUP;
        resp.backup = res;
    }
    s_send(self, env, &resp);
}

/* Start the backup asked for by rq; answer now only if it cannot start. */
static void s_backup_start(query_t *self, const envelope_t *env, const Passerelle__V1__Request *rq)
{
    char why[512];
    int err = 0;
    const char *path = rq->backup && rq->backup->path ? rq->backup->path : "";
    self->backup = store_backup_start(self->store, path, why, sizeof why, &err);
    if (!self->backup) {
        self->counters->backup_failures++;
        s_backup_reply(self, env, rq->request_id,
                       err == STORE_EINVAL || err == STORE_EBUSY ? E(BAD_REQUEST) : E(STORE_FAILED),
                       why, NULL);
        return;
    }
    log_info("backup to %s started", path);
    memcpy(self->backup_env.rid, env->rid, env->rid_len);
    self->backup_env.rid_len = env->rid_len;
    self->backup_env.req = env->req;
    (void)snprintf(self->backup_rid, sizeof self->backup_rid, "%s",
                   rq->request_id ? rq->request_id : "");
}

int query_backup_fd(const query_t *self)
{
    return self->backup ? store_backup_fd(self->backup) : -1;
}

void query_backup_done(query_t *self)
{
    Passerelle__V1__BackupResult res = PASSERELLE__V1__BACKUP_RESULT__INIT;
    store_backup_result_t r;
    char dir[4096];
    if (!self->backup)
        return;
    (void)snprintf(dir, sizeof dir, "%s", store_backup_dir(self->backup));
    int rc = store_backup_finish(&self->backup, &r);
    if (rc != 0) {
        self->counters->backup_failures++;
        log_errorx("backup to %s failed: %s", dir, r.why);
        s_backup_reply(self, &self->backup_env, self->backup_rid, E(STORE_FAILED), r.why, NULL);
        return;
    }
    self->counters->backups++;
    log_info("backup to %s done: %llu bytes in %.1f ms, events up to %llu, matches up to %llu", dir,
             (unsigned long long)r.bytes, (double)r.duration_us / 1000.0,
             (unsigned long long)r.events, (unsigned long long)r.matches);
    res.path = dir;
    res.bytes = r.bytes;
    res.duration_ms = r.duration_us / 1000;
    res.events = r.events;
    res.match_sequence = r.matches;
    s_backup_reply(self, &self->backup_env, self->backup_rid, E(NONE), "", &res);
}

/* How many requests of the peer env came from were read in this turn,
 * this one included. peers/counts hold up to max distinct peers. */
static int s_peer_count(const envelope_t *env, envelope_t *peers, int *counts, int *npeers)
{
    for (int i = 0; i < *npeers; i++)
        if (peers[i].rid_len == env->rid_len && memcmp(peers[i].rid, env->rid, env->rid_len) == 0)
            return ++counts[i];
    memcpy(peers[*npeers].rid, env->rid, env->rid_len);
    peers[*npeers].rid_len = env->rid_len;
    counts[(*npeers)++] = 1;
    return 1;
}

/* Refuse one request of a peer over its share of the turn. */
static void s_refuse_busy(query_t *self, const envelope_t *env, const Passerelle__V1__Request *rq)
{
    Passerelle__V1__Response resp = PASSERELLE__V1__RESPONSE__INIT;
    resp.request_id = rq && rq->request_id ? rq->request_id : "";
    resp.error = E(BUSY);
    resp.message = "too many requests in flight from this peer; wait for the answers";
    s_send(self, env, &resp);
}

int query_process(query_t *self, int max)
{
    static envelope_t peers[64]; /* routing ids only */
    int counts[64], npeers = 0;
    int done = 0;
    if (max > 64)
        max = 64;
    while (done < max) {
        envelope_t env;
        int rc = envelope_recv(self->sock, &env);
        if (rc <= 0)
            return rc < 0 ? -1 : done;
        self->counters->queries++;
        Passerelle__V1__Request *rq = NULL;
        if (env.frames == 1 && env.has_body)
            rq = passerelle__v1__request__unpack(NULL, zmq_msg_size(&env.body),
                                                 zmq_msg_data(&env.body));
        if (!rq) {
            self->counters->queries_bad++;
            s_answer(self, &env, NULL,
                     env.frames == 1 ? "the frame is not a passerelle.v1.Request"
                                     : "expected one frame holding a Request");
        } else if (rq->query_case == PASSERELLE__V1__REQUEST__QUERY_BACKUP) {
            s_backup_start(self, &env, rq);
            passerelle__v1__request__free_unpacked(rq, NULL);
        } else {
            if (s_peer_count(&env, peers, counts, &npeers) > S_PEER_PER_TURN)
                s_refuse_busy(self, &env, rq);
            else
                s_answer(self, &env, rq, NULL);
            passerelle__v1__request__free_unpacked(rq, NULL);
        }
        envelope_close(&env);
        done++;
    }
    return done;
}
