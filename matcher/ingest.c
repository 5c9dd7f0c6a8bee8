/* ingest.c - see ingest.h.
 *
 * Framing is envelope.h's: [Event] from a DEALER, [""][Event] from REQ.
 */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "apply.h"
#include "auth.h"
#include "clock.h"
#include "envelope.h"
#include "enrich.h"
#include "feed.h"
#include "log.h"
#include "passerelle/v1/ingest.pb-c.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

struct ingest {
    void *sock;
    store_t *store;
    counters_t *counters;
    const config_t *cfg;
    const reference_t *ref;
    engine_t *engine;
    feed_t *feed;
    size_t batch_max;
    apply_item_t *items;
    envelope_t *env;
    log_limit_t failure_log; /* "commit failed" lines, one a period */
    int failure_logged;      /* a failure line awaits its recovery line */
    log_limit_t reject_log;  /* "rejected" lines, one a period */
};

/* Rejections and failed commits come in bursts (a producer with a bug, a
 * full disk): the first of a period is logged in full, the others are
 * counted and summed up in the next line, so the log stays readable. */
#define S_LOG_PERIOD_MS 60000

static int s_setopt_int(void *sock, int opt, int val, const char *name)
{
    if (zmq_setsockopt(sock, opt, &val, sizeof val) == 0)
        return 0;
    log_warnx("ingest: zmq_setsockopt %s: %s", name, zmq_strerror(errno));
    return -1;
}

ingest_t *ingest_new(void *zctx, const config_t *cfg, store_t *store, counters_t *counters,
                     const reference_t *ref, engine_t *engine, feed_t *feed)
{
    ingest_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ref = ref;
    self->engine = engine;
    self->feed = feed;
    self->store = store;
    self->counters = counters;
    self->cfg = cfg;
    self->batch_max = cfg->batch_max;
    self->items = calloc(self->batch_max, sizeof *self->items);
    self->env = calloc(self->batch_max, sizeof *self->env);
    if (!self->items || !self->env)
        goto fail;
    self->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!self->sock) {
        log_warnx("ingest: zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (auth_server_socket(self->sock) != 0)
        goto fail;
    int64_t maxmsg = (int64_t)cfg->max_message_bytes;
    if (s_setopt_int(self->sock, ZMQ_SNDHWM, cfg->sndhwm, "ZMQ_SNDHWM") ||
        s_setopt_int(self->sock, ZMQ_RCVHWM, cfg->rcvhwm, "ZMQ_RCVHWM") ||
        s_setopt_int(self->sock, ZMQ_LINGER, 100, "ZMQ_LINGER") ||
        s_setopt_int(self->sock, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY") ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        goto fail;
    if (zmq_bind(self->sock, cfg->ingest) != 0) {
        log_warnx("ingest: bind %s: %s", cfg->ingest, zmq_strerror(errno));
        goto fail;
    }
    return self;
fail:
    ingest_destroy(&self);
    return NULL;
}

void ingest_destroy(ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_t *self = *self_p;
    if (self->sock)
        (void)zmq_close(self->sock); /* fails only on a bad handle */
    free(self->env);
    free(self->items);
    free(self);
    *self_p = NULL;
}

void *ingest_socket(ingest_t *self)
{
    return self->sock;
}

/* The region of the stored vacancy named by a closure ("" if unknown). */
typedef struct {
    const reference_t *ref;
    const char *id;
    char region[16];
    store_vacancy_t v;
} s_region_job_t;

static int s_region_fn(store_txn_t *txn, void *arg)
{
    s_region_job_t *j = arg;
    int rc = store_vacancy_get(txn, j->id, &j->v);
    if (rc == 0)
        (void)snprintf(j->region, sizeof j->region, "%s", feed_region_of(j->ref, &j->v.site));
    return rc == STORE_ENOTFOUND ? 0 : rc;
}

/* Why the client c may not post ev, or NULL. A school posts, withdraws and
 * erases only its own graduates; a federation posts and closes only
 * vacancies whose site is in its region; no other role posts. */
static const char *s_forbidden(ingest_t *self, const auth_client_t *c, const matcher_event_t *ev)
{
    static s_region_job_t job;
    switch (ev->type) {
    case STORE_EV_GRADUATE_UPSERT:
    case STORE_EV_GRADUATE_WITHDRAWN:
    case STORE_EV_GRADUATE_ERASED:
        if (c->role != AUTH_ROLE_SCHOOL)
            return "only a school key may post graduate events";
        if (!auth_has_scope(c, ev->type == STORE_EV_GRADUATE_UPSERT ? ev->u.grad.school
                                                                    : ev->u.ref.owner))
            return "a school key may post only its own school's graduates";
        return NULL;
    case STORE_EV_VACANCY_UPSERT:
    case STORE_EV_VACANCY_CLOSED:
        if (c->role != AUTH_ROLE_FEDERATION)
            return "only a federation key may post vacancy events";
        if (ev->type == STORE_EV_VACANCY_UPSERT &&
            (!self->ref || !auth_has_scope(c, feed_region_of(self->ref, &ev->u.vac.site))))
            return "the vacancy's site is outside the federation's region";
        /* and where it is now: no moving another region's vacancy into ours */
        job.ref = self->ref;
        job.id = ev->type == STORE_EV_VACANCY_UPSERT ? ev->u.vac.id : ev->u.ref.id;
        job.region[0] = '\0';
        if (self->ref && store_read(self->store, s_region_fn, &job) != 0)
            return "the vacancy could not be read to check its region";
        /* not stored: a new vacancy (its site checked above), or a closure
         * refused later as UNKNOWN_ENTITY */
        if (job.region[0] && !auth_has_scope(c, job.region))
            return "the vacancy's site is outside the federation's region";
        return NULL;
    default: return "unknown event type";
    }
}

/* With security on: refuse it FORBIDDEN unless its sender may post it. */
static void s_authorise(ingest_t *self, envelope_t *env, apply_item_t *it)
{
    if (!auth_enabled() || !it->valid)
        return;
    const char *user = zmq_msg_gets(&env->body, "User-Id");
    const auth_client_t *c = auth_client(user);
    const char *why = c ? s_forbidden(self, c, &it->ev) : "the key's role was revoked";
    if (!why)
        return;
    it->valid = 0;
    it->status = APPLY_REJECTED;
    (void)validate_refuse(&it->verdict, E(FORBIDDEN), "", "%s (client %s)", why, user ? user : "?");
}

/* Decode and validate the payload of env into it. */
static void s_judge(ingest_t *self, envelope_t *env, apply_item_t *it)
{
    if (env->frames != 1 || !env->has_body) {
        apply_item_reset(it);
        it->status = APPLY_REJECTED;
        (void)validate_refuse(&it->verdict, E(BAD_FRAMES), "",
                              "expected one frame holding an Event, got %d", env->frames);
        return;
    }
    apply_judge(it, zmq_msg_data(&env->body), zmq_msg_size(&env->body), self->cfg->max_event_bytes,
                self->ref);
    s_authorise(self, env, it);
}

/* Record a write transaction of `valid` events that took dt_us, apply_us
 * of them deciding and matching, and ended with rc: latency histogram,
 * batch size histogram, and a warning when it was slower than
 * log.slow_commit_ms. */
static void s_observe_commit(ingest_t *self, size_t valid, uint64_t dt_us, const apply_batch_t *b,
                             int rc)
{
    uint64_t apply_us = b->spent_us;
    counters_t *c = self->counters;
    c->commit_us_last = dt_us;
    if (dt_us > c->commit_us_max)
        c->commit_us_max = dt_us;
    counters_observe(&c->commit_seconds, counters_commit_le_s, COUNTERS_COMMIT_BUCKETS - 1,
                     (double)dt_us / 1e6);
    if (rc == 0)
        counters_observe(&c->batch_size, counters_batch_le, COUNTERS_BATCH_BUCKETS - 1,
                         (double)valid);
    if (self->cfg->slow_commit_ms > 0 && dt_us >= (uint64_t)self->cfg->slow_commit_ms * 1000)
        log_warnx("ingest: slow commit: %zu events in %.1f ms: %.1f ms applying and matching, "
                  "%.1f ms committing, %" PRIu64 " B-tree writes (log.slow_commit_ms is %d)",
                  valid, (double)dt_us / 1000.0, (double)apply_us / 1000.0,
                  (double)(dt_us > apply_us ? dt_us - apply_us : 0) / 1000.0, b->writes,
                  self->cfg->slow_commit_ms);
}

/* A failed commit: the first is logged at once, then one line a period at
 * most, with the count (a store at its map limit may fail and succeed in
 * turn as batch sizes vary). Marks the store not ready. */
static void s_log_commit_failure(ingest_t *self, size_t valid, int rc)
{
    int64_t now = clock_now_ms();
    self->counters->store_ok = 0;
    uint64_t n = log_limit(&self->failure_log, 1, now, S_LOG_PERIOD_MS);
    if (n == 0)
        return;
    log_errorx("ingest: commit of %zu events failed: %s; answered RETRY (%llu failed commits "
               "since the last such line; not ready until a commit succeeds)",
               valid, store_strerror(rc), (unsigned long long)n);
    self->failure_logged = 1;
}

/* A rejected event: debug line each, a warning with the count once a period. */
static void s_log_rejected(ingest_t *self, const apply_item_t *it)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &passerelle__v1__error_code__descriptor, it->verdict.code);
    const char *code = ev ? ev->name : "?";
    int64_t now = clock_now_ms();
    log_debug("ingest: event '%s' from '%s' rejected: %s at '%s': %s", it->ev.event_id,
              it->ev.source, code, it->verdict.field, it->verdict.message);
    uint64_t n = log_limit(&self->reject_log, 1, now, S_LOG_PERIOD_MS);
    if (n == 0)
        return;
    log_warnx("ingest: event '%s' from '%s' rejected: %s at '%s': %s (%llu rejected since the "
              "last such line; every one is counted in stats)",
              it->ev.event_id, it->ev.source, code, it->verdict.field, it->verdict.message,
              (unsigned long long)n);
}

/* Commit the valid items of items[0, n) in one write transaction, or
 * with [ingest] batch_max_ms those decided within that time (the first
 * one at least); on failure answer every one of them RETRY. Returns how
 * many items it settled, a prefix of the n. */
static size_t s_commit(ingest_t *self, apply_item_t *items, size_t n, int shutting_down)
{
    apply_batch_t batch = {.items = items,
                           .n = n,
                           .now_ms = clock_now_ms(),
                           .engine = self->engine,
                           .feed = self->feed,
                           .budget_us = (uint64_t)self->cfg->batch_max_ms * 1000,
                           .bounded = 1};
    size_t valid = 0;
    for (size_t i = 0; i < n; i++)
        valid += items[i].valid;
    if (valid == 0)
        return n;
    int rc = STORE_OK, code = E(SHUTTING_DOWN);
    if (!shutting_down) {
        uint64_t t0 = clock_mono_us();
        rc = store_write(self->store, apply_batch, &batch);
        uint64_t dt = clock_mono_us() - t0;
        if (rc == 0 && batch.decided < n) {
            valid = 0;
            for (size_t i = 0; i < batch.decided; i++)
                valid += items[i].valid;
        }
        s_observe_commit(self, valid, dt, &batch, rc);
        if (rc == 0) {
            self->counters->batches++;
            self->counters->txns_full += batch.full;
            if (valid > self->counters->batch_max)
                self->counters->batch_max = valid;
            if (self->failure_logged) { /* one recovery line per failure line */
                log_info("ingest: commits succeed again (%zu events committed)", valid);
                self->failure_logged = 0;
            }
            self->counters->store_ok = 1;
            if (self->feed)
                feed_publish(self->feed, self->store); /* only what is on disk goes out */
            return batch.decided;
        }
        if (self->feed)
            feed_reset(self->feed);
        code = rc == STORE_EFULL || rc == STORE_ENOSPC ? E(STORE_FULL) : E(STORE_FAILED);
        self->counters->commit_failures++;
        (void)snprintf(self->counters->store_detail, sizeof self->counters->store_detail,
                       "last commit failed: %s", store_strerror(rc));
        s_log_commit_failure(self, valid, rc);
    }
    for (size_t i = 0; i < n; i++) {
        apply_item_t *it = &items[i];
        if (!it->valid)
            continue;
        it->status = APPLY_RETRY;
        it->seq = 0;
        it->superseded = 0;
        (void)validate_refuse(&it->verdict, code, "", "%s",
                              shutting_down ? "matcherd is stopping; send again later"
                                            : store_strerror(rc));
    }
    return n;
}

static void s_count(ingest_t *self, const apply_item_t *it)
{
    counters_t *c = self->counters;
    if (it->ev.type < COUNTERS_EVENT_TYPES && it->status > 0 && it->status < COUNTERS_STATUSES)
        c->events[it->ev.type][it->status]++;
    switch (it->status) {
    case APPLY_ACCEPTED:
        c->accepted++;
        c->erasures += it->ev.type == STORE_EV_GRADUATE_ERASED && !it->superseded;
        c->superseded += it->superseded != 0;
        return;
    case APPLY_DUPLICATE: c->duplicate++; return;
    case APPLY_REJECTED:
        c->rejected++;
        s_log_rejected(self, it);
        break;
    default: c->retry++; break;
    }
    if (it->verdict.code >= 0 && it->verdict.code < COUNTERS_ERROR_CODES)
        c->by_error[it->verdict.code]++;
}

/* Send the ack of it to the peer of env; never blocks. */
static void s_ack(ingest_t *self, const envelope_t *env, const apply_item_t *it)
{
    Passerelle__V1__Ack ack = PASSERELLE__V1__ACK__INIT;
    uint8_t buf[1024];
    ack.event_id = (char *)it->ev.event_id;
    ack.status = (Passerelle__V1__AckStatus)it->status;
    ack.error = (Passerelle__V1__ErrorCode)it->verdict.code;
    ack.message = (char *)it->verdict.message;
    ack.field = (char *)it->verdict.field;
    ack.sequence = it->seq;
    ack.superseded = it->superseded != 0;
    size_t len = passerelle__v1__ack__get_packed_size(&ack);
    if (len > sizeof buf)
        fatalx("%s: ack of %zu bytes exceeds its buffer", __func__, len);
    size_t packed = passerelle__v1__ack__pack(&ack, buf);
    if (packed != len)
        fatalx("%s: ack packed to %zu bytes, expected %zu", __func__, packed, len);
    if (envelope_reply(self->sock, env, buf, len) != 0)
        self->counters->acks_dropped++; /* peer gone or its queue full: it will resend */
}

int ingest_process(ingest_t *self, int shutting_down)
{
    size_t n = 0, bytes = 0;
    while (n < self->batch_max && bytes < self->cfg->batch_max_bytes) {
        int rc = envelope_recv(self->sock, &self->env[n]);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (errno != ETERM)
                log_warnx("ingest: receive: %s", zmq_strerror(errno));
            for (size_t i = 0; i < n; i++)
                envelope_close(&self->env[i]);
            return -1;
        }
        s_judge(self, &self->env[n], &self->items[n]);
        if (self->env[n].has_body)
            bytes += zmq_msg_size(&self->env[n].body);
        n++;
    }
    if (n == 0)
        return 0;
    /* one transaction, or several when [ingest] batch_max_ms cuts it:
     * each one's events are answered as soon as it is committed */
    for (size_t from = 0; from < n;) {
        size_t done = s_commit(self, self->items + from, n - from, shutting_down);
        for (size_t i = from; i < from + done; i++) {
            s_count(self, &self->items[i]);
            s_ack(self, &self->env[i], &self->items[i]);
            envelope_close(&self->env[i]);
        }
        from += done;
    }
    log_debug("ingest: batch of %zu messages", n);
    return (int)n;
}
