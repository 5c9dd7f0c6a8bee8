/* feed.c - see feed.h.
 *
 * The outbox holds the packed messages of the batch being applied, with
 * their topics, so that they are published only after the commit: a
 * subscriber never sees a MatchUpdate that a crash could take back.
 */
#include "feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "clock.h"
#include "explain.h"
#include "feed_pack.h"
#include "log.h"
#include "strmap.h"
#include "passerelle/v1/feed.pb-c.h"

/* The region of a place known only by its coordinates: the nearest
 * commune's, found by a search of the reference data, remembered here by
 * the exact coordinates (a direct-mapped cache: a collision replaces). */
#define S_REGION_CACHE 4096 /* a power of 2 */

typedef struct {
    uint64_t lat, lon; /* the bits of the doubles */
    const char *region;
} s_region_slot_t;

/* The last sequence numbers published under one topic, for
 * MatchUpdate.previous_sequence: committed (on disk), and staged by the
 * batch being applied (0: none yet); saved: the value the store keeps for
 * the next start (store_topic_put, 0: none). */
typedef struct {
    uint64_t committed, staged, saved;
    uint8_t queued; /* in feed.unsaved */
    char name[];    /* the topic */
} s_topic_t;

/* The topics a MatchUpdate is published under. */
typedef struct {
    char topics[STORE_TOPICS_MAX][STORE_TOPIC_MAX + 1];
    uint8_t n_topics;
} s_topics_t;

/* One MatchUpdate of the batch in the outbox: its payload, then its
 * topics (NUL-terminated), in the outbox buffer; offsets, since the
 * buffer moves as it grows. A batch may hold hundreds of thousands: past
 * [feed] outbox_max_mb of them, an entry keeps only its number, and the
 * message is read back from the match log to be published (spilled). */
typedef struct {
    size_t off, len;                      /* payload */
    uint32_t topic_off[STORE_TOPICS_MAX]; /* topic i at buf + off + topic_off[i] */
    uint64_t seq;                         /* of a spilled entry */
    uint8_t n_topics;
    uint8_t kind;    /* FEED_ENTERED / UPDATED / LEFT, for the metrics */
    uint8_t spilled; /* not in buf: read back from the match log */
} s_pending_t;

struct feed {
    void *sock;
    const reference_t *ref;
    counters_t *counters;
    strmap_t *topics;    /* topic -> s_topic_t: its last sequences, committed and staged */
    s_topic_t **touched; /* topics staged by the batch being applied */
    size_t n_touched, cap_touched;
    s_pending_t *pending;
    size_t n_pending, cap_pending;
    uint8_t *buf;
    size_t buf_len, buf_cap;
    size_t buf_max;   /* [feed] outbox_max_mb */
    size_t n_spilled; /* entries of the batch to read back */
    uint8_t *sbuf;    /* a spilled entry labelled again (s_send_stored) */
    size_t sbuf_cap;
    int manual;               /* security on: the daemon grants each subscription */
    int max_subs;             /* per client key */
    strmap_t *subs;           /* "name\ntopic" -> count granted; "name" -> topics held */
    size_t subs_spent;        /* entries of subs whose count fell to 0 */
    log_limit_t refusal_log;  /* one "refused subscription" line a second */
    log_limit_t sub_log;      /* subscription changes: S_SUB_LOG_PER_S lines a second */
    log_limit_t drop_log;     /* one "dropped" line a minute */
    uint64_t drops_seen;      /* counters->feed_dropped when last looked at */
    s_region_slot_t *regions; /* S_REGION_CACHE slots; region NULL: empty */
    uint64_t next_seq;        /* the next match number in this batch; 0: ask the store */
    /* The saving of the topics (feed_save_topics): those whose committed
     * value is not the saved one, each once, in the order they changed;
     * the first pass of them (0: no pass under way) belong to the pass
     * under way, which covers the matches up to pass_upto. */
    s_topic_t **unsaved;
    size_t n_unsaved, cap_unsaved, pass;
    uint64_t pass_upto;
    uint64_t saved_upto; /* what the store says the saved values cover */
    uint64_t known_upto; /* the last match whose topics this memory knows */
    int unsaved_lost;    /* out of memory queuing one: never say they are all saved */
    int clear_saved;     /* a saved row was damaged: the next pass saves all anew */
};

static const char *s_sector_names[] = {
    "unspecified",
    "aeronautics",
    "mechanics",
    "metalworking",
    "machining",
    "technical-ceramics",
    "industrial-maintenance",
    "other-industry",
};

const char *feed_sector_name(int sector)
{
    if (sector < 0 || sector >= (int)(sizeof s_sector_names / sizeof s_sector_names[0]))
        return "unspecified";
    return s_sector_names[sector];
}

const char *feed_region_of(const reference_t *ref, const store_place_t *p)
{
    const ref_commune_t *c = NULL;
    if (p->commune[0])
        c = reference_commune(ref, p->commune);
    if (!c && p->has_point)
        c = reference_commune_near(ref, p->lat, p->lon);
    return c ? c->region : "";
}

/* feed_region_of, with the nearest-commune searches remembered. */
static const char *s_region(feed_t *self, const store_place_t *p)
{
    const ref_commune_t *c = NULL;
    if (p->commune[0] && (c = reference_commune(self->ref, p->commune)) != NULL)
        return c->region;
    if (!p->has_point)
        return "";
    uint64_t lat, lon;
    memcpy(&lat, &p->lat, sizeof lat);
    memcpy(&lon, &p->lon, sizeof lon);
    uint64_t h = (lat * 0x9e3779b97f4a7c15ull) ^ (lon * 0xc2b2ae3d27d4eb4full);
    s_region_slot_t *slot = &self->regions[(h >> 32) & (S_REGION_CACHE - 1)];
    if (slot->region && slot->lat == lat && slot->lon == lon)
        return slot->region;
    c = reference_commune_near(self->ref, p->lat, p->lon);
    slot->lat = lat;
    slot->lon = lon;
    slot->region = c ? c->region : "";
    return slot->region;
}

feed_t *feed_new(void *zctx, const config_t *cfg, const reference_t *ref, counters_t *counters)
{
    feed_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ref = ref;
    self->counters = counters;
    if (!(self->topics = strmap_new()) ||
        !(self->regions = calloc(S_REGION_CACHE, sizeof *self->regions)))
        goto fail;
    self->sock = zmq_socket(zctx, ZMQ_XPUB);
    if (!self->sock) {
        log_warnx("feed: zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int linger = 100;
    if (zmq_setsockopt(self->sock, ZMQ_SNDHWM, &cfg->sndhwm, sizeof cfg->sndhwm) ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &cfg->rcvhwm, sizeof cfg->rcvhwm) ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger)) {
        log_warnx("feed: zmq_setsockopt: %s", zmq_strerror(errno));
        goto fail;
    }
    self->max_subs = cfg->max_subscriptions;
    self->buf_max = cfg->outbox_max_bytes;
    if (auth_enabled()) {
        int on = 1;
        self->manual = 1;
        if (!(self->subs = strmap_new()) || auth_server_socket(self->sock) != 0 ||
            zmq_setsockopt(self->sock, ZMQ_XPUB_MANUAL, &on, sizeof on) != 0) {
            log_warnx("feed: security setup: %s", zmq_strerror(errno));
            goto fail;
        }
    }
    if (zmq_bind(self->sock, cfg->feed) != 0) {
        log_warnx("feed: bind %s: %s", cfg->feed, zmq_strerror(errno));
        goto fail;
    }
    return self;
fail:
    feed_destroy(&self);
    return NULL;
}

static void s_topic_free(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void feed_destroy(feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    feed_t *self = *self_p;
    if (self->sock)
        (void)zmq_close(self->sock); /* fails only on a bad handle */
    free(self->regions);
    free(self->pending);
    free(self->buf);
    free(self->sbuf);
    if (self->topics)
        strmap_each(self->topics, s_topic_free, NULL);
    strmap_destroy(&self->topics);
    free(self->touched);
    free(self->unsaved);
    strmap_destroy(&self->subs);
    free(self);
    *self_p = NULL;
}

void *feed_socket(feed_t *self)
{
    return self->sock;
}

/* Add delta to the count under key; returns the new count. */
static uintptr_t s_count_add(strmap_t *m, const char *key, int delta)
{
    uintptr_t n = (uintptr_t)strmap_get(m, key);
    if (delta < 0 && n == 0)
        return 0;
    n = delta < 0 ? n - 1 : n + 1;
    if (strmap_put(m, key, (void *)n) != 0)
        log_warnx("feed: out of memory counting subscriptions");
    return n;
}

static void s_refuse(feed_t *self, const char *user, const char *topic, size_t len, const char *why)
{
    int64_t now = clock_now_ms();
    self->counters->subs_refused++;
    if (!log_limit(&self->refusal_log, 1, now, 1000))
        return; /* at most one line a second; the counter has them all */
    log_warnx("feed: refused subscription of %s to \"%.*s\": %s (%llu refused so far)",
              user ? user : "?", (int)len, topic, why,
              (unsigned long long)self->counters->subs_refused);
}

/* Find a key holding topic ("name\ntopic" with a count), for s_gone. */
typedef struct {
    const char *topic;
    char name[AUTH_NAME_MAX + 1];
} s_holder_t;

static void s_find_holder(const char *key, void *value, void *arg)
{
    s_holder_t *h = arg;
    const char *nl = strchr(key, '\n');
    if (h->name[0] || !nl || (uintptr_t)value == 0 || strcmp(nl + 1, h->topic) != 0 ||
        (size_t)(nl - key) > AUTH_NAME_MAX)
        return;
    memcpy(h->name, key, (size_t)(nl - key));
    h->name[nl - key] = '\0';
}

static void s_copy_held(const char *key, void *value, void *arg)
{
    if ((uintptr_t)value != 0 && strmap_put(arg, key, value) != 0)
        log_warnx("feed: out of memory compacting the subscription counts");
}

/* Entries whose count fell to 0 stay in the map (strmap cannot delete):
 * past S_SUBS_SPENT of them, copy the live ones into a new map, so that a
 * client cycling through topics cannot grow it without bound. */
#define S_SUBS_SPENT 10000

static void s_subs_compact(feed_t *self)
{
    strmap_t *fresh = strmap_new();
    if (!fresh)
        return; /* try again at the next release */
    strmap_each(self->subs, s_copy_held, fresh);
    strmap_destroy(&self->subs);
    self->subs = fresh;
    self->subs_spent = 0;
}

/* Give back one grant of topic held by name (if it holds one). */
static void s_release(feed_t *self, const char *name, const char *topic)
{
    char key[AUTH_NAME_MAX + STORE_TOPIC_MAX + 2];
    (void)snprintf(key, sizeof key, "%s\n%s", name, topic);
    if ((uintptr_t)strmap_get(self->subs, key) == 0)
        return;
    if (self->counters->subscriptions_now > 0)
        self->counters->subscriptions_now--;
    self->subs_spent += s_count_add(self->subs, key, -1) == 0;
    self->subs_spent += s_count_add(self->subs, name, -1) == 0;
    if (self->subs_spent > S_SUBS_SPENT)
        s_subs_compact(self);
}

/* Security on: pass a subscription to libzmq only within the sender's
 * scope and under its key's limit. Unsubscriptions always go through (for
 * the pipe that sent them). libzmq itself unsubscribes a subscriber that
 * disconnects, and tells us with a message that carries no User-Id: the
 * grant is then given back by one key that holds that topic (exact unless
 * several keys share it). Topics are text of at most STORE_TOPIC_MAX. */
static void s_manual(feed_t *self, int sub, const char *user, const char *topic, size_t len)
{
    char t[STORE_TOPIC_MAX + 1], key[AUTH_NAME_MAX + STORE_TOPIC_MAX + 2];
    if (len > STORE_TOPIC_MAX || memchr(topic, '\0', len)) {
        if (sub)
            s_refuse(self, user, topic, len > 64 ? 64 : len, "not a topic");
        return;
    }
    memcpy(t, topic, len);
    t[len] = '\0';
    if (!sub && !user) { /* a subscriber went away */
        s_holder_t h = {t, ""};
        strmap_each(self->subs, s_find_holder, &h);
        if (h.name[0])
            s_release(self, h.name, t);
        return;
    }
    if (!sub) {
        s_release(self, user, t);
        (void)zmq_setsockopt(self->sock, ZMQ_UNSUBSCRIBE, t, len);
        return;
    }
    const auth_client_t *c = auth_client(user);
    if (!c || !auth_topic_allowed(c, t)) {
        s_refuse(self, user, t, len, c ? "outside the key's scope" : "unknown key");
        return;
    }
    if ((uintptr_t)strmap_get(self->subs, c->name) >= (uintptr_t)self->max_subs) {
        s_refuse(self, user, t, len, "too many subscriptions for this key");
        return;
    }
    if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, t, len) != 0) {
        log_warnx("feed: subscribe \"%s\": %s", t, zmq_strerror(errno));
        return;
    }
    self->counters->subscriptions_now++;
    (void)snprintf(key, sizeof key, "%s\n%s", c->name, t);
    (void)s_count_add(self->subs, key, 1);
    (void)s_count_add(self->subs, c->name, 1);
}

/* XPUB passes on the first subscription to a prefix and the last
 * unsubscription from it, so the gauge counts distinct prefixes. One info
 * line per change, at most S_SUB_LOG_PER_S a second (the rest are summed
 * up in the next line), so that a reconnect storm cannot flood the log. */
#define S_SUB_LOG_PER_S 5

static void s_log_subscription(feed_t *self, int subscribe, const char *topic, int len)
{
    uint64_t n = log_limit(&self->sub_log, 1, clock_now_ms(), 1000 / S_SUB_LOG_PER_S);
    if (n == 0)
        return;
    log_info("feed: %s \"%.*s\"; %llu topic prefixes subscribed%s",
             subscribe ? "subscribe" : "unsubscribe", len, topic,
             (unsigned long long)self->counters->subscriptions_now,
             n > 1 ? " (more subscription changes not logged)" : "");
}

void feed_handle_subscriptions(feed_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) >= 0) {
        const char *buf = zmq_msg_data(&msg);
        size_t n = zmq_msg_size(&msg);
        if (n >= 1 && (buf[0] == 1 || buf[0] == 0)) {
            int len = n - 1 < 255 ? (int)n - 1 : 255;
            const char *user = self->manual ? zmq_msg_gets(&msg, "User-Id") : NULL;
            if (buf[0])
                self->counters->subscriptions++;
            if (self->manual) {
                s_manual(self, buf[0], user, buf + 1, n - 1); /* counts what it grants */
            } else if (buf[0]) {
                self->counters->subscriptions_now++;
            } else if (self->counters->subscriptions_now > 0) {
                self->counters->subscriptions_now--;
            }
            s_log_subscription(self, buf[0], buf + 1, len);
        }
    }
    zmq_msg_close(&msg);
}

void feed_reset(feed_t *self)
{
    self->n_pending = 0;
    self->n_spilled = 0;
    self->buf_len = 0;
    self->next_seq = 0;
    for (size_t i = 0; i < self->n_touched; i++)
        self->touched[i]->staged = 0;
    self->n_touched = 0;
}

/* The entry of topic, added if new; NULL when out of memory. */
static s_topic_t *s_topic(feed_t *self, const char *topic)
{
    s_topic_t *t = strmap_get(self->topics, topic);
    if (t)
        return t;
    size_t len = strlen(topic);
    if (!(t = calloc(1, sizeof *t + len + 1)))
        return NULL;
    memcpy(t->name, topic, len + 1);
    if (strmap_put(self->topics, topic, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* The last sequence published (or staged) under t, 0 if none. */
static uint64_t s_last_on(const s_topic_t *t)
{
    return t->staged ? t->staged : t->committed;
}

/* Stage seq as the last of t in the batch being applied. */
static int s_stage(feed_t *self, s_topic_t *t, uint64_t seq)
{
    if (!t->staged) {
        if (self->n_touched == self->cap_touched) {
            size_t cap = self->cap_touched ? self->cap_touched * 2 : 64;
            s_topic_t **p = realloc(self->touched, cap * sizeof *p);
            if (!p)
                return STORE_ENOMEM;
            self->touched = p;
            self->cap_touched = cap;
        }
        self->touched[self->n_touched++] = t;
    }
    t->staged = seq;
    return 0;
}

/* Queue t to be saved, if its committed value is not the saved one. */
static int s_unsaved(feed_t *self, s_topic_t *t)
{
    if (t->queued || t->committed == t->saved)
        return 0;
    if (self->n_unsaved == self->cap_unsaved) {
        size_t cap = self->cap_unsaved ? self->cap_unsaved * 2 : 256;
        s_topic_t **p = realloc(self->unsaved, cap * sizeof *p);
        if (!p)
            return STORE_ENOMEM;
        self->unsaved = p;
        self->cap_unsaved = cap;
    }
    self->unsaved[self->n_unsaved++] = t;
    t->queued = 1;
    return 0;
}

typedef struct {
    feed_t *self;
    uint64_t saved, read; /* topics found saved, matches read after them */
    int damaged;          /* a saved row did not decode: the whole log was read */
} s_learn_t;

static int s_learn_saved_fn(const char *topic, uint64_t seq, void *arg)
{
    s_learn_t *l = arg;
    s_topic_t *t = s_topic(l->self, topic);
    if (!t)
        return STORE_ENOMEM;
    t->committed = t->saved = seq;
    l->saved++;
    return 0;
}

static int s_learn_fn(const store_match_t *m, void *arg)
{
    s_learn_t *l = arg;
    for (size_t i = 0; i < m->n_topics; i++) {
        s_topic_t *t = s_topic(l->self, m->topics[i]);
        if (!t)
            return STORE_ENOMEM;
        t->committed = m->seq;
    }
    l->read++;
    return 0;
}

/* The saved values, then the matches after those they cover: the last
 * of these for a topic is its last (sequence order). The saved values are
 * only a shortcut: a damaged one sends the start through the whole log. */
static int s_learn_txn(store_txn_t *txn, void *arg)
{
    s_learn_t *l = arg;
    l->self->saved_upto = store_topics_upto(txn);
    l->self->known_upto = store_match_last(txn);
    int rc = store_topics_each(txn, s_learn_saved_fn, l);
    if (rc == STORE_ECORRUPT) {
        l->damaged = 1;
        l->self->saved_upto = 0; /* saved again at the first housekeeping */
        rc = 0;
    }
    return rc != 0 ? rc : store_match_each(txn, l->self->saved_upto, s_learn_fn, l);
}

/* Queue every topic the matches moved past its saved value (all of them
 * when the saved rows are to be written anew). */
static void s_queue_fn(const char *key, void *value, void *arg)
{
    (void)key;
    feed_t *self = arg;
    if (self->clear_saved)
        ((s_topic_t *)value)->saved = 0;
    if (s_unsaved(self, value) != 0)
        self->unsaved_lost = 1;
}

int feed_learn_topics(feed_t *self, store_t *store)
{
    s_learn_t l = {self, 0, 0, 0};
    uint64_t t0 = clock_mono_us();
    int rc = store_read(store, s_learn_txn, &l);
    if (rc != 0)
        return rc;
    self->clear_saved = l.damaged;
    strmap_each(self->topics, s_queue_fn, self);
    if (self->unsaved_lost)
        return STORE_ENOMEM;
    if (l.damaged)
        log_warnx("feed: a saved topic is damaged (see above): the whole match log was read, and "
                  "the topics are saved anew");
    log_info("feed: %zu topics: %llu saved up to match %llu, then %llu match updates read, "
             "in %.1f s",
             strmap_size(self->topics), (unsigned long long)l.saved,
             (unsigned long long)self->saved_upto, (unsigned long long)l.read,
             (double)(clock_mono_us() - t0) / 1e6);
    return 0;
}

/* ---- saving the topics ------------------------------------------------
 *
 * A pass saves the topics queued when it starts, a chunk per call, and
 * with its last chunk says that the saved values cover every match up to
 * known_upto as it was at the start: each of those topics is saved with
 * its value then or a later one, and the others were saved before. A
 * value saved later than the pass's cover is harmless: the next start
 * reads the matches after the cover, that one among them. */

typedef struct {
    feed_t *self;
    size_t n;     /* unsaved[0, n) are written, and... */
    int complete; /* ...with them the pass: topics_upto too */
    int clear;    /* every saved row deleted first (and the cover with them) */
} s_save_t;

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp((*(s_topic_t *const *)a)->name, (*(s_topic_t *const *)b)->name);
}

/* store_txn_fn (may run twice): write the chunk, and the pass's end. */
static int s_save_fn(store_txn_t *txn, void *arg)
{
    s_save_t *sv = arg;
    feed_t *self = sv->self;
    int rc0 = sv->clear ? store_topics_clear(txn) : 0;
    if (rc0 != 0)
        return rc0;
    for (size_t i = 0; i < sv->n; i++) {
        int rc = store_topic_put(txn, self->unsaved[i]->name, self->unsaved[i]->committed);
        if (rc != 0)
            return rc;
    }
    return sv->complete ? store_topics_upto_put(txn, self->pass_upto) : 0;
}

int feed_save_topics(feed_t *self, store_t *store, size_t max, int *done)
{
    *done = 0;
    if (self->pass == 0) { /* a new pass (of no topic when only the cover moves) */
        if (self->n_unsaved == 0 && (self->saved_upto == self->known_upto || self->unsaved_lost)) {
            *done = 1;
            return 0;
        }
        self->pass = self->n_unsaved;
        self->pass_upto = self->known_upto;
    }
    s_save_t sv = {self, self->pass < max ? self->pass : max, 0, self->clear_saved};
    sv.complete = sv.n == self->pass && !self->unsaved_lost;
    /* in key order: neighbours share the B-tree's pages */
    uint64_t t0 = clock_mono_us();
    if (sv.n > 1)
        qsort(self->unsaved, sv.n, sizeof *self->unsaved, s_name_cmp);
    int rc = store_write(store, s_save_fn, &sv);
    if (rc != 0)
        return rc; /* the same chunk at the next call */
    self->clear_saved = 0;
    log_debug("feed: %zu topics saved in %.1f ms%s", sv.n, (double)(clock_mono_us() - t0) / 1e3,
              sv.complete ? ", with the cover of the pass" : "");
    for (size_t i = 0; i < sv.n; i++) {
        self->unsaved[i]->saved = self->unsaved[i]->committed;
        self->unsaved[i]->queued = 0;
    }
    if (sv.n > 0)
        memmove(self->unsaved, self->unsaved + sv.n,
                (self->n_unsaved - sv.n) * sizeof *self->unsaved);
    self->n_unsaved -= sv.n;
    self->pass -= sv.n;
    if (self->pass == 0) {
        if (sv.complete)
            self->saved_upto = self->pass_upto;
        *done = self->n_unsaved == 0 && self->saved_upto == self->known_upto;
    }
    return 0;
}

/* Topic i of outbox entry p. */
static const char *s_topic_of(const feed_t *self, const s_pending_t *p, size_t i)
{
    return (const char *)self->buf + p->off + p->topic_off[i];
}

/* A new outbox entry: len bytes of payload, then the topics. */
static s_pending_t *s_pending_add(feed_t *self, size_t len, const s_topics_t *topics)
{
    size_t tl[STORE_TOPICS_MAX], all = len;
    for (size_t i = 0; i < topics->n_topics; i++)
        all += (tl[i] = strlen(topics->topics[i])) + 1;
    if (self->n_pending == self->cap_pending) {
        size_t cap = self->cap_pending ? self->cap_pending * 2 : 256;
        s_pending_t *p = realloc(self->pending, cap * sizeof *p);
        if (!p)
            return NULL;
        self->pending = p;
        self->cap_pending = cap;
    }
    if (self->buf_len + all > self->buf_cap) {
        size_t cap = self->buf_cap ? self->buf_cap : 65536;
        while (cap < self->buf_len + all)
            cap *= 2;
        uint8_t *b = realloc(self->buf, cap);
        if (!b)
            return NULL;
        self->buf = b;
        self->buf_cap = cap;
    }
    s_pending_t *p = &self->pending[self->n_pending++];
    memset(p, 0, sizeof *p);
    p->off = self->buf_len;
    p->len = len;
    size_t at = len;
    for (size_t i = 0; i < topics->n_topics; i++) {
        memcpy(self->buf + p->off + at, topics->topics[i], tl[i] + 1);
        p->topic_off[i] = (uint32_t)at;
        at += tl[i] + 1;
    }
    p->n_topics = topics->n_topics;
    self->buf_len += all;
    return p;
}

/* c's MatchUpdate carries an explanation: a score to explain, and not a
 * retraction. */
static int s_explained(const feed_change_t *c)
{
    return c->res != NULL && c->kind != FEED_LEFT;
}

/* Pack c as a MatchUpdate numbered seq into a new outbox entry; without
 * the graduate's ids when anonymous, without the labels of its
 * explanation unless labels (explain_fill). */
static s_pending_t *s_pack(feed_t *self, const feed_change_t *c, uint64_t seq, int64_t now_ms,
                           const char *region, int anonymous, int labels, const s_topics_t *topics,
                           s_topic_t *const *tp)
{
    Passerelle__V1__MatchUpdate m = PASSERELLE__V1__MATCH_UPDATE__INIT;
    Passerelle__V1__Explanation e;
    static explain_buf_t ebuf;
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry prev[STORE_TOPICS_MAX];
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry *prev_p[STORE_TOPICS_MAX];
    for (size_t i = 0; i < topics->n_topics; i++) {
        passerelle__v1__match_update__previous_sequence_entry__init(&prev[i]);
        prev[i].key = (char *)topics->topics[i];
        prev[i].value = s_last_on(tp[i]);
        prev_p[i] = &prev[i];
    }
    m.previous_sequence = prev_p;
    m.n_previous_sequence = topics->n_topics;
    m.sequence = seq;
    m.kind = (Passerelle__V1__MatchKind)c->kind;
    m.side = (Passerelle__V1__ListSide)c->side;
    m.vacancy_id = (char *)c->v->id;
    m.employer_id = (char *)c->v->employer;
    m.graduate_id = anonymous ? "" : (char *)c->g->id;
    m.school_id = anonymous ? "" : (char *)c->g->school;
    m.rank = c->rank;
    m.score = c->micro / 1e6;
    m.left_reason = (Passerelle__V1__LeftReason)(c->kind == FEED_LEFT ? c->left_reason : 0);
    m.at_ms = now_ms;
    m.region_code = (char *)region;
    m.sector = (Passerelle__V1__Sector)c->v->sector;
    if (s_explained(c)) {
        explain_fill(self->ref, c->res, c->sv, &e, &ebuf, labels);
        m.explanation = &e;
    }
    size_t len = feed_pack_size(&m);
    s_pending_t *p = s_pending_add(self, len, topics);
    if (!p)
        return NULL;
    if (feed_pack(&m, self->buf + p->off, len) != len)
        fatalx("%s: MatchUpdate packed to an unexpected size", __func__);
    p->kind = c->kind;
    return p;
}

/* Append the strings of parts (NULL-terminated) to out (cap bytes with
 * its NUL), truncated as snprintf would. */
static void s_cat(char *out, size_t cap, const char *const *parts)
{
    size_t n = 0;
    for (; *parts; parts++) {
        size_t len = strlen(*parts);
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(out + n, *parts, len);
        n += len;
    }
    out[n] = '\0';
}

static void s_topics(const feed_change_t *c, const char *region, s_topics_t *p)
{
    if (c->side == FEED_SIDE_VACANCY) {
        const char *employer[] = {"employer/", c->v->employer, NULL};
        const char *reg[] = {"region/", region[0] ? region : "00", "/",
                             feed_sector_name(c->v->sector), NULL};
        s_cat(p->topics[0], sizeof p->topics[0], employer);
        s_cat(p->topics[1], sizeof p->topics[1], reg);
        p->n_topics = 2;
    } else {
        const char *school[] = {"school/", c->g->school, NULL};
        s_cat(p->topics[0], sizeof p->topics[0], school);
        p->n_topics = 1;
    }
}

/* The message published and the one stored differ in two cases, and c
 * is then packed twice, the stored copy last, dropped from the outbox
 * once appended:
 * - an erased graduate's retractions are published with their ids, so
 *   that live subscribers drop the right entries, but stored without
 *   them: the match log keeps no trace of an erased graduate, only that a
 *   list lost an entry;
 * - an explanation is stored without the labels of its codes, which the
 *   reference data gives back whenever the log is read (s_send_stored,
 *   the query socket's replay). */
int feed_record(feed_t *self, store_txn_t *txn, const feed_change_t *c, int64_t now_ms)
{
    const char *region = s_region(self, &c->v->site);
    /* the batch's first record asks the store; the next ones count on */
    uint64_t seq = self->next_seq ? self->next_seq : store_match_last(txn) + 1;
    s_topics_t topics;
    s_topics(c, region, &topics);
    s_topic_t *tp[STORE_TOPICS_MAX];
    for (size_t i = 0; i < topics.n_topics; i++) {
        if (!(tp[i] = s_topic(self, topics.topics[i]))) {
            log_errorx("feed: out of memory for the topics");
            return STORE_ENOMEM;
        }
    }
    s_pending_t *pub = s_pack(self, c, seq, now_ms, region, 0, 1, &topics, tp);
    s_pending_t *p = pub;
    if (pub && (c->anonymous || s_explained(c))) {
        p = s_pack(self, c, seq, now_ms, region, c->anonymous, 0, &topics, tp);
        pub = &self->pending[self->n_pending - (p ? 2 : 1)]; /* the array may have moved */
    }
    if (!p || !pub) {
        log_errorx("feed: out of memory for the outbox");
        return STORE_ENOMEM;
    }
    for (size_t i = 0; i < topics.n_topics; i++)
        if (s_stage(self, tp[i], seq) != 0)
            return STORE_ENOMEM;
    store_match_t m = {
        .seq = seq,
        .at_ms = now_ms,
        .graduate_id = c->anonymous ? "" : c->g->id,
        .n_topics = p->n_topics,
        .payload = self->buf + p->off,
        .payload_len = p->len,
    };
    for (size_t i = 0; i < p->n_topics; i++)
        m.topics[i] = s_topic_of(self, p, i);
    int rc = store_match_append(txn, &m); /* checks seq against the store's last */
    self->next_seq = rc == 0 ? seq + 1 : 0;
    if (p != pub) { /* the stored copy, in the log now: pub ends the outbox again */
        self->buf_len = p->off;
        self->n_pending--;
    }
    if (rc == 0 && !c->anonymous && self->buf_len > self->buf_max) {
        self->buf_len = pub->off; /* pub is the last entry: its bytes end the buffer */
        pub->len = 0;
        pub->seq = seq;
        pub->spilled = 1;
        self->n_spilled++;
    }
    return rc;
}

/* Drops happen in bursts (a slow subscriber past its high-water mark):
 * one warning a minute at most, with the count since the last one. */
static void s_log_drops(feed_t *self)
{
    uint64_t dropped = self->counters->feed_dropped;
    if (dropped == self->drops_seen)
        return;
    uint64_t n = log_limit(&self->drop_log, dropped - self->drops_seen, clock_now_ms(), 60000);
    self->drops_seen = dropped;
    if (n > 0)
        log_warnx("feed: %llu messages dropped at the high-water mark since the last such line "
                  "(subscribers repair gaps by replay)",
                  (unsigned long long)n);
}

/* Send one message under each of its topics. */
static void s_send(feed_t *self, const char *const *topics, size_t n_topics, const void *payload,
                   size_t len)
{
    for (size_t t = 0; t < n_topics; t++) {
        /* XPUB never blocks: a full subscriber queue drops silently in
         * libzmq; the subscriber sees the gap in sequence numbers. */
        if (zmq_send(self->sock, topics[t], strlen(topics[t]), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
            zmq_send(self->sock, payload, len, ZMQ_DONTWAIT) == -1) {
            self->counters->feed_dropped++;
            continue;
        }
        self->counters->feed_published++;
    }
}

/* Send m, a row of the match log, as it was published: with the labels
 * of its explanation, which the log does not keep. As stored if it does
 * not decode or memory runs short. */
static void s_send_stored(feed_t *self, const store_match_t *m)
{
    Passerelle__V1__MatchUpdate *u =
        passerelle__v1__match_update__unpack(NULL, m->payload_len, m->payload);
    const void *payload = m->payload;
    size_t len = m->payload_len;
    if (u != NULL && u->explanation != NULL && self->ref != NULL &&
        explain_label(self->ref, u->explanation) == 0) {
        size_t n = feed_pack_size(u);
        uint8_t *b = n <= self->sbuf_cap ? self->sbuf : realloc(self->sbuf, n);
        if (b != NULL) {
            self->sbuf = b;
            self->sbuf_cap = n > self->sbuf_cap ? n : self->sbuf_cap;
            payload = b;
            len = feed_pack(u, b, n);
        }
    }
    s_send(self, m->topics, m->n_topics, payload, len);
    if (u != NULL)
        passerelle__v1__match_update__free_unpacked(u, NULL);
}

/* Publish the outbox from entry *i on, in order: an entry in memory as it
 * comes, a spilled one against m, the next row of the match log (NULL:
 * there is none). Stops at a spilled entry whose row comes after m. A
 * spilled entry whose row is not there (its graduate erased later in the
 * same batch) is not published: only what is on disk goes out. */
static void s_send_from(feed_t *self, size_t *i, const store_match_t *m)
{
    for (; *i < self->n_pending; ++*i) {
        const s_pending_t *p = &self->pending[*i];
        if (p->spilled && m != NULL && p->seq > m->seq)
            return; /* its row is further on */
        if (p->kind < sizeof self->counters->matches_by_kind / sizeof(uint64_t))
            self->counters->matches_by_kind[p->kind]++;
        if (!p->spilled) {
            const char *topics[STORE_TOPICS_MAX];
            for (size_t t = 0; t < p->n_topics; t++)
                topics[t] = s_topic_of(self, p, t);
            s_send(self, topics, p->n_topics, self->buf + p->off, p->len);
        } else if (m != NULL && p->seq == m->seq) {
            s_send_stored(self, m);
            ++*i;
            return; /* on to the next row */
        }
    }
}

typedef struct {
    feed_t *self;
    size_t i; /* the next entry of the outbox to publish */
} s_walk_t;

/* store_match_fn: one row of the match log, from the batch's first
 * spilled entry on. */
static int s_walk_cb(const store_match_t *m, void *arg)
{
    s_walk_t *w = arg;
    s_send_from(w->self, &w->i, m);
    return w->i == w->self->n_pending; /* all published: stop */
}

/* store_txn_fn: publish the outbox up to its last spilled entry in one
 * walk of the match log from the first (the batch's rows are the last
 * ones written, in the page cache, one after the other). */
static int s_walk_fn(store_txn_t *txn, void *arg)
{
    s_walk_t *w = arg;
    feed_t *self = w->self;
    uint64_t first = 0;
    for (size_t i = 0; i < self->n_pending && first == 0; i++)
        if (self->pending[i].spilled)
            first = self->pending[i].seq;
    int rc = first ? store_match_each(txn, first - 1, s_walk_cb, w) : 0;
    return rc < 0 ? rc : 0;
}

void feed_publish(feed_t *self, store_t *store)
{
    s_walk_t w = {self, 0};
    int rc = self->n_spilled > 0 ? store_read(store, s_walk_fn, &w) : 0;
    s_send_from(self, &w.i, NULL); /* the rest: in memory, or not read back */
    if (rc != 0)                   /* subscribers repair gaps by replay */
        log_warnx("feed: %zu MatchUpdates could not be read back to be published: %s",
                  self->n_spilled, store_strerror(rc));
    s_log_drops(self);
    for (size_t i = 0; i < self->n_touched; i++) { /* the batch is on disk */
        self->touched[i]->committed = self->touched[i]->staged;
        if (s_unsaved(self, self->touched[i]) != 0 && !self->unsaved_lost) {
            self->unsaved_lost = 1;
            log_warnx("feed: out of memory queuing the topics to save: the next start will "
                      "read the match log from match %llu",
                      (unsigned long long)self->saved_upto);
        }
    }
    if (self->next_seq)
        self->known_upto = self->next_seq - 1;
    feed_reset(self);
}
