/* load.c - see load.h.
 *
 * Three steps, each in its own write transactions:
 *
 *   1. begin: refuse unless the store holds no entity (or holds an
 *      unfinished load to resume); record the reference version; reserve
 *      one match sequence number as the marker and purge up to it; set
 *      meta "bulk_load" to "loading".
 *   2. events: batches of S_TXN_EVENTS events (or S_TXN_BYTES bytes) are
 *      decoded, validated, enriched and applied by apply_batch without
 *      engine or feed, each batch one durable commit. The batch is large on
 *      purpose: its index inserts land all over the B-trees, and a commit
 *      writes every page it dirtied, so the pages written per event fall as
 *      the batch grows (at 1.2M entities, batches of 10,000 wrote about
 *      0.5 MB per event). Decoded events take ~19 KB each, so a batch is
 *      applied in chunks of S_CHUNK within its one transaction; its raw
 *      messages stay in memory, and are decoded again if store_write runs
 *      it twice (after the map grew).
 *   3. lists: every vacancy's then every graduate's list is built from
 *      scratch, S_TXN_LISTS entities per commit, computed in several
 *      threads (s_compute) while the chunk before is stored; then
 *      "bulk_load" becomes "done".
 *
 * Regular files are scanned for their framing first (varints, lengths,
 * truncation), so that a damaged file is refused before anything is
 * stored. stdin cannot be read twice: a framing error there stops the load
 * in step 2 and leaves it unfinished (see load.h).
 */
#include "load.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "clock.h"
#include "daemon.h"
#include "engine.h"
#include "enrich.h"
#include "log.h"
#include "notify.h"
#include "reference.h"
#include "score.h"
#include "validate.h"
#include "passerelle/v1/ingest.pb-c.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

#define S_TXN_EVENTS   100000       /* events per write transaction... */
#define S_TXN_BYTES    (128u << 20) /* ...or bytes of messages */
#define S_CHUNK        4096         /* events decoded at a time within one */
#define S_TXN_LISTS    500
#define S_PROGRESS_US  10000000u
#define S_SHOW_REJECTS 10
#define S_MARKER_TOPIC "bulk-load"

/* ---- counters and progress ------------------------------------------- */

typedef struct {
    uint64_t events, accepted, duplicate, rejected;
    uint64_t entities, lists;
    uint64_t t0, t_events, t_lists; /* clock_mono_us at start, end of step 2, end of step 3 */
    uint64_t next_progress;
} s_tally_t;

static int s_progress_due(s_tally_t *t)
{
    uint64_t now = clock_mono_us();
    if (now < t->next_progress)
        return 0;
    t->next_progress = now + S_PROGRESS_US;
    return 1;
}

/* ---- reading delimited files ----------------------------------------- */

typedef struct {
    const char *name; /* as given; "-" is stdin */
    FILE *f;
    uint64_t off;   /* bytes read so far */
    uint64_t index; /* messages read so far */
} s_input_t;

/* Read one varint length. 1 and *len, 0 at a clean end of file, -1 (why
 * set) on a bad or truncated varint. */
static int s_varint(s_input_t *in, uint64_t *len, char *why, size_t why_len)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        int c = getc(in->f);
        if (c == EOF) {
            if (ferror(in->f))
                (void)snprintf(why, why_len, "read error: %s", strerror(errno));
            else if (i == 0)
                return 0;
            else
                (void)snprintf(why, why_len, "file truncated inside a length prefix");
            return -1;
        }
        in->off++;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *len = v;
            return 1;
        }
    }
    (void)snprintf(why, why_len, "bad length prefix (a varint longer than 10 bytes)");
    return -1;
}

/* The next message's length, checked against the largest message the
 * ingest socket takes. Same returns as s_varint. */
static int s_frame(const config_t *cfg, s_input_t *in, uint64_t *len, char *why, size_t why_len)
{
    uint64_t at = in->off;
    int rc = s_varint(in, len, why, why_len);
    if (rc <= 0)
        return rc;
    if (*len > cfg->max_message_bytes) {
        (void)snprintf(why, why_len,
                       "length prefix at offset %" PRIu64 " says %" PRIu64
                       " bytes, more than the largest message (ingest.max_message_mb): "
                       "not a delimited file of Events?",
                       at, *len);
        return -1;
    }
    return 1;
}

static int s_open(s_input_t *in, const char *name)
{
    memset(in, 0, sizeof *in);
    in->name = name;
    in->f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
    if (!in->f) {
        log_errorx("load: cannot open %s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

static void s_close(s_input_t *in)
{
    if (in->f && in->f != stdin)
        (void)fclose(in->f);
    in->f = NULL;
}

/* Check the framing of a regular file from end to end without storing
 * anything. 0 if sound (or not a regular file: not checked), -1 (logged)
 * if not. */
static int s_prescan(const config_t *cfg, const char *name, uint64_t *n_events)
{
    struct stat st;
    s_input_t in;
    char why[256];
    uint64_t len;
    int rc;
    if (strcmp(name, "-") == 0)
        return 0;
    if (stat(name, &st) != 0) {
        log_errorx("load: cannot open %s: %s; nothing was loaded", name, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* a pipe: read once, checked as it is read */
    if (s_open(&in, name) != 0)
        return -1;
    while ((rc = s_frame(cfg, &in, &len, why, sizeof why)) == 1) {
        if ((uint64_t)st.st_size - in.off < len) {
            (void)snprintf(why, sizeof why,
                           "file truncated: message %" PRIu64 " at offset %" PRIu64
                           " needs %" PRIu64 " bytes, %" PRIu64 " left",
                           in.index + 1, in.off, len, (uint64_t)st.st_size - in.off);
            rc = -1;
            break;
        }
        if (fseeko(in.f, (off_t)len, SEEK_CUR) != 0) {
            (void)snprintf(why, sizeof why, "seek: %s", strerror(errno));
            rc = -1;
            break;
        }
        in.off += len;
        in.index++;
    }
    s_close(&in);
    if (rc < 0) {
        log_errorx("load: %s: %s (after %" PRIu64 " messages); nothing was loaded", name, why,
                   in.index);
        return -1;
    }
    *n_events += in.index;
    return 0;
}

/* ---- step 1: begin --------------------------------------------------- */

typedef struct {
    const char *ref_version;
    int64_t now_ms;
    int resuming; /* out: an unfinished load is being finished */
    int refused;  /* out: not an empty store */
    uint64_t entities, marker;
    char stored_ref[256];
} s_begin_t;

static int s_begin_fn(store_txn_t *txn, void *arg)
{
    s_begin_t *b = arg;
    char state[32], buf[32];
    store_stats_t ss;
    b->resuming = b->refused = 0;
    b->marker = 0;
    int rc = store_stats(txn, &ss);
    if (rc != 0)
        return rc;
    b->entities = ss.graduates + ss.vacancies;
    rc = store_meta_get_str(txn, "bulk_load", state, sizeof state);
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc;
    b->resuming = rc == 0 && strcmp(state, "loading") == 0;
    if (!b->resuming && b->entities > 0) {
        b->refused = 1;
        return 0;
    }
    rc = store_meta_get_str(txn, "reference_version", b->stored_ref, sizeof b->stored_ref);
    if (rc == STORE_ENOTFOUND)
        b->stored_ref[0] = '\0';
    else if (rc != 0)
        return rc;
    if (b->stored_ref[0] && strcmp(b->stored_ref, b->ref_version) != 0) {
        b->refused = 2;
        return 0;
    }
    if (b->resuming)
        return 0;
    if ((rc = store_meta_put_str(txn, "reference_version", b->ref_version)) != 0)
        return rc;
    /* The marker: lists will appear without their MatchUpdates, so no
     * replay may start before this point. */
    store_match_t m = {.seq = store_match_last(txn) + 1,
                       .at_ms = b->now_ms,
                       .graduate_id = "",
                       .topics = {S_MARKER_TOPIC},
                       .n_topics = 1};
    size_t removed;
    if ((rc = store_match_append(txn, &m)) != 0 ||
        (rc = store_match_purge(txn, m.seq, 0, SIZE_MAX, &removed)) != 0)
        return rc;
    b->marker = m.seq;
    (void)snprintf(buf, sizeof buf, "%" PRIu64, m.seq);
    if ((rc = store_meta_put_str(txn, "match_purged_upto", buf)) != 0)
        return rc;
    return store_meta_put_str(txn, "bulk_load", "loading");
}

/* ---- step 2: events -------------------------------------------------- */

typedef struct {
    const config_t *cfg;
    const reference_t *ref;
    store_t *store;
    apply_item_t *items; /* S_CHUNK of them: the chunk being applied */
    uint64_t *offs;      /* per event of the transaction: file offset of its length prefix */
    uint64_t *idx;       /* per event: its index in the file (1-based) */
    const char **src;    /* per event: its file */
    size_t *pos;         /* per event: where its bytes start in buf */
    size_t *len;         /* per event: its length */
    size_t n;            /* events read for the transaction */
    uint8_t *buf;
    size_t used, cap;
    s_tally_t *t;
    unsigned shown;
    uint64_t total_hint; /* events in the pre-scanned files, 0 if unknown */
    /* the transaction's outcome, reset on (re)entry of s_apply_fn */
    uint64_t accepted, duplicate, rejected;
    unsigned n_lines;
    char lines[S_SHOW_REJECTS][640]; /* its first rejections, logged once committed */
} s_events_t;

/* A rejected event of the transaction: counted; the first ones of the
 * whole load described for the log. */
static void s_note_reject(s_events_t *e, const apply_item_t *it, size_t i)
{
    e->rejected++;
    if (e->shown + e->n_lines >= S_SHOW_REJECTS) {
        log_debug("load: %s: event %" PRIu64 " rejected: %s", e->src[i], e->idx[i],
                  it->verdict.message);
        return;
    }
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &passerelle__v1__error_code__descriptor, it->verdict.code);
    (void)snprintf(e->lines[e->n_lines++], sizeof e->lines[0],
                   "load: %s: event %" PRIu64 " at offset %" PRIu64
                   " (id '%s') rejected: %s%s%s: %s",
                   e->src[i], e->idx[i], e->offs[i], it->ev.event_id, ev ? ev->name : "?",
                   it->verdict.field[0] ? " at " : "", it->verdict.field, it->verdict.message);
}

/* Decode and validate the message of (pos, len) in e->buf. */
static void s_judge(s_events_t *e, apply_item_t *it, size_t pos, size_t len)
{
    apply_judge(it, e->buf + pos, len, e->cfg->max_event_bytes, e->ref);
}

/* store_txn_fn: every event read for the transaction, chunk by chunk
 * (decoded again on a re-run after the map grew), through apply_batch. */
static int s_apply_fn(store_txn_t *txn, void *arg)
{
    s_events_t *e = arg;
    int64_t now_ms = clock_now_ms();
    e->accepted = e->duplicate = e->rejected = 0;
    e->n_lines = 0;
    for (size_t c0 = 0; c0 < e->n; c0 += S_CHUNK) {
        size_t n = e->n - c0 < S_CHUNK ? e->n - c0 : S_CHUNK;
        for (size_t i = 0; i < n; i++)
            s_judge(e, &e->items[i], e->pos[c0 + i], e->len[c0 + i]);
        apply_batch_t batch = {
            .items = e->items, .n = n, .now_ms = now_ms, .engine = NULL, .feed = NULL};
        int rc = apply_batch(txn, &batch);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            switch (e->items[i].status) {
            case APPLY_ACCEPTED: e->accepted++; break;
            case APPLY_DUPLICATE: e->duplicate++; break;
            default:
                s_note_reject(e, &e->items[i], c0 + i);
                break; /* or RETRY: unreadable record */
            }
        }
        if (s_progress_due(e->t)) {
            double sec = (double)(clock_mono_us() - e->t->t0) / 1e6;
            uint64_t done = e->t->events + c0 + n;
            log_info("load: events %" PRIu64 "%s%.0" PRIu64 " applied (%.0f/s), %" PRIu64
                     " committed",
                     done, e->total_hint ? "/" : "", e->total_hint,
                     sec > 0 ? (double)done / sec : 0.0, e->t->events);
        }
    }
    return 0;
}

/* Apply the batch read so far in one durable commit. */
static int s_flush(s_events_t *e)
{
    if (e->n == 0)
        return 0;
    /* a batch may need the map doubled more than once (store_write grows it
     * once a call): again while it grows */
    int rc = store_write(e->store, s_apply_fn, e);
    for (int tries = 0; rc == STORE_EFULL && tries < 16; tries++) {
        log_info("load: the map is growing again for a batch of %zu events", e->n);
        rc = store_write(e->store, s_apply_fn, e);
    }
    if (rc != 0) {
        log_errorx("load: commit of %zu events failed: %s", e->n, store_strerror(rc));
        return -1;
    }
    e->t->accepted += e->accepted;
    e->t->duplicate += e->duplicate;
    e->t->rejected += e->rejected;
    for (unsigned i = 0; i < e->n_lines; i++)
        log_warnx("%s", e->lines[i]);
    e->shown += e->n_lines;
    e->t->events += e->n;
    e->n = 0;
    e->used = 0;
    if (s_progress_due(e->t)) {
        double s = (double)(clock_mono_us() - e->t->t0) / 1e6;
        double rate = s > 0 ? (double)e->t->events / s : 0;
        if (e->total_hint > e->t->events && rate > 0)
            log_info("load: events %" PRIu64 "/%" PRIu64 " (%.0f/s, %" PRIu64
                     " rejected), ETA %.0f s",
                     e->t->events, e->total_hint, rate, e->t->rejected,
                     (double)(e->total_hint - e->t->events) / rate);
        else
            log_info("load: events %" PRIu64 " (%.0f/s, %" PRIu64 " rejected)", e->t->events, rate,
                     e->t->rejected);
    }
    return 0;
}

static int s_read_file(s_events_t *e, const char *name)
{
    s_input_t in;
    char why[256];
    uint64_t len;
    int rc;
    if (s_open(&in, name) != 0)
        return -1;
    for (;;) {
        uint64_t at = in.off;
        rc = s_frame(e->cfg, &in, &len, why, sizeof why);
        if (rc <= 0)
            break;
        if (e->used + len > e->cap) {
            size_t cap = e->cap ? e->cap : (1u << 20);
            while (cap < e->used + len)
                cap *= 2;
            uint8_t *p = realloc(e->buf, cap);
            if (!p) {
                (void)snprintf(why, sizeof why, "out of memory");
                rc = -1;
                break;
            }
            e->buf = p;
            e->cap = cap;
        }
        if (len > 0 && fread(e->buf + e->used, 1, len, in.f) != len) {
            (void)snprintf(why, sizeof why,
                           "file truncated: message %" PRIu64 " at offset %" PRIu64
                           " needs %" PRIu64 " bytes",
                           in.index + 1, at, len);
            rc = -1;
            break;
        }
        in.off += len;
        in.index++;
        e->pos[e->n] = e->used;
        e->len[e->n] = len;
        e->offs[e->n] = at;
        e->idx[e->n] = in.index;
        e->src[e->n] = name;
        e->used += len;
        e->n++;
        if ((e->n == S_TXN_EVENTS || e->used >= S_TXN_BYTES) && s_flush(e) != 0) {
            s_close(&in);
            return -1;
        }
    }
    s_close(&in);
    if (rc < 0) {
        /* what was read before the damage is stored; the load stays unfinished */
        if (s_flush(e) == 0)
            log_errorx("load: %s: %s (after %" PRIu64 " messages); the %" PRIu64
                       " events read before it are stored, the lists are not built: run "
                       "matcherd --load again with the repaired input to finish",
                       name, why, in.index, e->t->events);
        return -1;
    }
    return 0;
}

/* ---- step 3: lists --------------------------------------------------- */

/* Lists are built a chunk of S_TXN_LISTS entities at a time, in a
 * pipeline: while one thread stores the lists of a chunk in one write
 * transaction, the workers compute those of the next (one engine and one
 * read transaction of its own each, in threads when there are several).
 * The computation reads only entities and the in-memory posting lists,
 * which the writes of lists leave alone (store_lists_beside_readers), so
 * the workers need not wait while a chunk is stored (at 1M x 200k the
 * build was no faster for it: docs/PERFORMANCE-ENGINE.md, "The sixth
 * round"). Each worker
 * takes every n-th entity of a chunk, so that dense and sparse regions
 * are shared. */

typedef struct s_build s_build_t;

/* The ids of one chunk and their lists: two of them, one being computed
 * while the other is stored. */
typedef struct {
    char (*ids)[STORE_ID_MAX + 1];
    store_list_t *lists; /* the computed list of ids[i] */
    int *rcs;            /* what computing it returned */
    size_t n;
    size_t lists_written; /* out: non-empty lists stored */
} s_chunk_t;

typedef struct {
    s_build_t *b;
    engine_t *engine;
    unsigned no; /* this worker's number: entities no, no + n, ... */
    pthread_t th;
    int rc;
} s_worker_t;

struct s_build {
    store_t *store;
    store_entity_kind_t kind;
    char after[STORE_ID_MAX + 1];
    s_chunk_t chunk[2];
    s_chunk_t *computed; /* the chunk the workers compute */
    s_chunk_t *stored;   /* the chunk the writer stores */
    engine_t *writer;    /* the writer's engine */
    pthread_t writer_th;
    int writer_rc;
    s_worker_t *w;
    unsigned n_w;
};

static int s_ids_cb(const char *id, size_t len, void *arg)
{
    s_chunk_t *c = arg;
    if (len > STORE_ID_MAX)
        return 0;
    memcpy(c->ids[c->n], id, len);
    c->ids[c->n][len] = '\0';
    c->n++;
    return 0;
}

/* The ids of the next chunk, after b->after, into b->computed. */
static int s_ids_fn(store_txn_t *txn, void *arg)
{
    s_build_t *b = arg;
    b->computed->n = 0;
    int rc = store_entity_ids(txn, b->kind, b->after, S_TXN_LISTS, s_ids_cb, b->computed);
    return rc < 0 ? rc : 0;
}

static int s_compute_fn(store_txn_t *txn, void *arg)
{
    s_worker_t *w = arg;
    s_build_t *b = w->b;
    s_chunk_t *c = b->computed;
    for (size_t i = w->no; i < c->n; i += b->n_w) {
        int rc = engine_list_for_load(w->engine, txn, b->kind, c->ids[i], &c->lists[i]);
        c->rcs[i] = rc;
        if (rc != 0 && rc != STORE_ENOTFOUND && rc != STORE_ECORRUPT)
            return rc;
    }
    return 0;
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    w->rc = store_read_shared(w->b->store, s_compute_fn, w);
    return NULL;
}

/* The lists of b->computed, computed by every worker. */
static int s_compute(s_build_t *b)
{
    unsigned started = 0;
    int rc = 0;
    for (unsigned i = 1; i < b->n_w; i++, started++) {
        if ((errno = pthread_create(&b->w[i].th, NULL, s_worker_main, &b->w[i])) != 0) {
            log_errorx("load: cannot start a thread: %s", strerror(errno));
            rc = STORE_ENOMEM;
            break;
        }
    }
    if (rc == 0) /* this thread is worker 0 */
        s_worker_main(&b->w[0]);
    for (unsigned i = 1; i <= started; i++)
        (void)pthread_join(b->w[i].th, NULL);
    for (unsigned i = 0; i < b->n_w && rc == 0; i++)
        rc = b->w[i].rc;
    return rc;
}

static int s_store_fn(store_txn_t *txn, void *arg)
{
    s_build_t *b = arg;
    s_chunk_t *c = b->stored;
    c->lists_written = 0;
    for (size_t i = 0; i < c->n; i++) {
        int written;
        if (c->rcs[i] != 0)
            continue; /* gone or damaged: nothing to list */
        int rc = engine_list_store(b->writer, txn, b->kind, c->ids[i], &c->lists[i], &written);
        if (rc != 0)
            return rc;
        c->lists_written += written != 0;
    }
    return 0;
}

static void *s_writer_main(void *arg)
{
    s_build_t *b = arg;
    b->writer_rc = store_write(b->store, s_store_fn, b);
    return NULL;
}

static int s_done_fn(store_txn_t *txn, void *arg)
{
    (void)arg;
    return store_meta_put_str(txn, "bulk_load", "done");
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* The chunks of one kind: ids read and lists computed for the next while
 * the last is stored. */
static int s_build_kind(s_build_t *b, s_tally_t *t, uint64_t total, uint64_t t0, uint64_t *done)
{
    int rc;
    b->after[0] = '\0';
    b->computed = &b->chunk[0];
    if ((rc = store_read_shared(b->store, s_ids_fn, b)) != 0 ||
        (b->computed->n > 0 && (rc = s_compute(b)) != 0))
        return rc;
    while (b->computed->n > 0) {
        b->stored = b->computed;
        b->computed = b->stored == &b->chunk[0] ? &b->chunk[1] : &b->chunk[0];
        memcpy(b->after, b->stored->ids[b->stored->n - 1], sizeof b->after);
        if ((errno = pthread_create(&b->writer_th, NULL, s_writer_main, b)) != 0) {
            log_errorx("load: cannot start a thread: %s", strerror(errno));
            return STORE_ENOMEM;
        }
        b->computed->n = 0;
        if (b->stored->n == S_TXN_LISTS) {
            rc = store_read_shared(b->store, s_ids_fn, b);
            if (rc == 0 && b->computed->n > 0)
                rc = s_compute(b);
        }
        (void)pthread_join(b->writer_th, NULL);
        if (rc != 0 || (rc = b->writer_rc) != 0)
            return rc;
        *done += b->stored->n;
        t->lists += b->stored->lists_written;
        if (s_progress_due(t)) {
            char status[160];
            double s = (double)(clock_mono_us() - t0) / 1e6;
            double rate = s > 0 ? (double)*done / s : 0;
            (void)snprintf(status, sizeof status,
                           "ranked lists: %" PRIu64 "/%" PRIu64 " entities (%.0f/s), ETA %.0f s",
                           *done, total, rate,
                           rate > 0 && total > *done ? (double)(total - *done) / rate : 0.0);
            log_info("load: %s", status);
            notify_starting(status); /* a rebuild at start-up: more time to start */
        }
    }
    return 0;
}

static int s_chunk_alloc(s_chunk_t *c)
{
    c->ids = calloc(S_TXN_LISTS, sizeof *c->ids);
    c->lists = calloc(S_TXN_LISTS, sizeof *c->lists);
    c->rcs = calloc(S_TXN_LISTS, sizeof *c->rcs);
    return c->ids && c->lists && c->rcs ? 0 : STORE_ENOMEM;
}

static void s_chunk_free(s_chunk_t *c)
{
    free(c->ids);
    free(c->lists);
    free(c->rcs);
}

static int s_build_all(store_t *store, const reference_t *ref, const score_weights_t *w, unsigned k,
                       unsigned threads, s_tally_t *t)
{
    store_stats_t ss;
    s_build_t b = {.store = store, .n_w = threads};
    uint64_t done = 0, t0 = clock_mono_us();
    int rc = store_read(store, s_stats_fn, &ss);
    if (rc != 0)
        return rc;
    b.w = calloc(threads, sizeof *b.w);
    rc = b.w != NULL ? 0 : STORE_ENOMEM;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = s_chunk_alloc(&b.chunk[i]);
    if (rc == 0 && !(b.writer = engine_new(ref, w, k, NULL)))
        rc = STORE_ENOMEM;
    for (unsigned i = 0; i < threads && rc == 0; i++) {
        b.w[i] = (s_worker_t){.b = &b, .no = i};
        if (!(b.w[i].engine = engine_new(ref, w, k, NULL)))
            rc = STORE_ENOMEM;
    }
    if (rc == 0) {
        log_info("load: building the ranked lists of %" PRIu64 " vacancies and %" PRIu64
                 " graduates in %u thread%s, stored as they are computed",
                 ss.vacancies, ss.graduates, threads, threads > 1 ? "s" : "");
        store_lists_beside_readers(store, 1);
        b.kind = STORE_ENTITY_VACANCY;
        rc = s_build_kind(&b, t, ss.graduates + ss.vacancies, t0, &done);
        b.kind = STORE_ENTITY_GRADUATE;
        if (rc == 0)
            rc = s_build_kind(&b, t, ss.graduates + ss.vacancies, t0, &done);
        store_lists_beside_readers(store, 0);
    }
    t->entities = done;
    for (unsigned i = 0; b.w && i < threads; i++)
        engine_destroy(&b.w[i].engine);
    engine_destroy(&b.writer);
    for (int i = 0; i < 2; i++)
        s_chunk_free(&b.chunk[i]);
    free(b.w);
    return rc;
}

static unsigned s_threads(unsigned threads)
{
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus < 1 ? 1 : cpus > LOAD_THREADS_MAX ? LOAD_THREADS_MAX : (unsigned)cpus;
    }
    return threads;
}

int load_build_lists(store_t *store, const reference_t *ref, const score_weights_t *w, unsigned k,
                     unsigned threads, uint64_t *entities)
{
    s_tally_t t = {.t0 = clock_mono_us()};
    int rc = s_build_all(store, ref, w, k, s_threads(threads), &t);
    if (rc == 0)
        rc = store_lists_rebuilt(store);
    if (entities != NULL)
        *entities = t.entities;
    return rc;
}

/* ---- the whole ------------------------------------------------------- */

int load_run(const config_t *cfg, const char *const *files, size_t n_files, unsigned threads)
{
    s_tally_t t;
    s_events_t ev;
    char err[512];
    int status = LOAD_FAILED, serr = 0, rc;
    uint64_t hint = 0;
    reference_t *ref = NULL;
    store_t *store = NULL;
    score_weights_t w = {cfg->w_skills, cfg->w_certification,   cfg->w_distance,
                         cfg->w_start,  cfg->distance_scale_km, cfg->start_window_days};
    memset(&t, 0, sizeof t);
    memset(&ev, 0, sizeof ev);
    t.t0 = clock_mono_us();
    t.next_progress = t.t0 + S_PROGRESS_US;

    for (size_t i = 0; i < n_files; i++)
        if (s_prescan(cfg, files[i], &hint) != 0)
            return LOAD_FAILED;
    if (!(ref = reference_load(cfg->reference_dir, err, sizeof err))) {
        log_errorx("load: cannot load the reference data: %s", err);
        return LOAD_FAILED;
    }
    if (score_weights_normalise(&w) != 0) {
        log_errorx("load: the matching weights are not usable");
        goto done;
    }
    store_set_logger(daemon_store_log);
    store_options_t sopts = {.map_bytes = cfg->map_initial_bytes,
                             .map_max_bytes = cfg->map_max_bytes,
                             .writemap = cfg->writemap,
                             .txn_writes = cfg->txn_max_writes,
                             .lists_dir = cfg->lists_dir,
                             .vacancy_skills = score_vacancy_head,
                             .vacancy_skills_arg = ref};
    if (!(store = store_new(cfg->data_dir, &sopts, &serr))) {
        log_errorx("load: cannot open the store in %s: %s%s", cfg->data_dir, store_strerror(serr),
                   serr == STORE_EBUSY ? " (a matcherd is running on it: stop it first)" : "");
        goto done;
    }
    s_begin_t b = {.ref_version = reference_version(ref), .now_ms = clock_now_ms()};
    if ((rc = store_write(store, s_begin_fn, &b)) != 0) {
        log_errorx("load: cannot prepare the store: %s", store_strerror(rc));
        goto done;
    }
    if (b.refused == 1) {
        log_errorx("load: the store in %s already holds %" PRIu64
                   " graduates and vacancies; --load is for the initial load of an empty "
                   "store only (send further events to the running daemon, e.g. with "
                   "matchctl import)",
                   cfg->data_dir, b.entities);
        goto done;
    }
    if (b.refused == 2) {
        log_errorx("load: the unfinished load in %s used reference %s, not %s", cfg->data_dir,
                   b.stored_ref, reference_version(ref));
        goto done;
    }
    if (b.resuming)
        log_warnx("load: finishing the unfinished load in %s (%" PRIu64
                  " entities stored; events already stored count as duplicates)",
                  cfg->data_dir, b.entities);
    else
        log_info("load: into the empty store %s; match sequence %" PRIu64
                 " reserved as the load's marker (replays from before it: REPLAY_PURGED)",
                 cfg->data_dir, b.marker);

    ev.cfg = cfg;
    ev.ref = ref;
    ev.store = store;
    ev.t = &t;
    ev.total_hint = hint;
    ev.items = calloc(S_CHUNK, sizeof *ev.items);
    ev.len = calloc(S_TXN_EVENTS, sizeof *ev.len);
    ev.offs = calloc(S_TXN_EVENTS, sizeof *ev.offs);
    ev.idx = calloc(S_TXN_EVENTS, sizeof *ev.idx);
    ev.src = calloc(S_TXN_EVENTS, sizeof *ev.src);
    ev.pos = calloc(S_TXN_EVENTS, sizeof *ev.pos);
    if (!ev.items || !ev.len || !ev.offs || !ev.idx || !ev.src || !ev.pos) {
        log_errorx("load: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_files; i++)
        if (s_read_file(&ev, files[i]) != 0)
            goto done;
    if (s_flush(&ev) != 0)
        goto done;
    t.t_events = clock_mono_us();
    double es = (double)(t.t_events - t.t0) / 1e6;
    log_info("load: %" PRIu64 " events in %.1f s (%.0f/s): %" PRIu64 " accepted, %" PRIu64
             " duplicate, %" PRIu64 " rejected",
             t.events, es, es > 0 ? (double)t.events / es : 0.0, t.accepted, t.duplicate,
             t.rejected);

    threads = s_threads(threads);
    /* entities numbered by place, not in the order they came */
    if ((rc = store_near_rebuild(store)) != 0 ||
        (rc = s_build_all(store, ref, &w, (unsigned)cfg->k, threads, &t)) != 0 ||
        (rc = store_lists_rebuilt(store)) != 0) {
        log_errorx("load: building the ranked lists failed: %s; run matcherd --load again to "
                   "finish",
                   store_strerror(rc));
        goto done;
    }
    if ((rc = store_write(store, s_done_fn, NULL)) != 0) {
        log_errorx("load: cannot mark the load finished: %s", store_strerror(rc));
        goto done;
    }
    t.t_lists = clock_mono_us();
    double ls = (double)(t.t_lists - t.t_events) / 1e6, all = (double)(t.t_lists - t.t0) / 1e6;
    log_info("load summary: %" PRIu64 " events (%" PRIu64 " accepted, %" PRIu64
             " duplicate, %" PRIu64 " rejected) in %.2f s, %.1f events/s; %" PRIu64
             " lists for %" PRIu64 " entities in %.2f s, %.1f lists/s; total %.2f s",
             t.events, t.accepted, t.duplicate, t.rejected, es,
             es > 0 ? (double)t.events / es : 0.0, t.lists, t.entities, ls,
             ls > 0 ? (double)t.entities / ls : 0.0, all);
    status = t.rejected ? LOAD_REJECTED : LOAD_OK;
done:
    store_destroy(&store);
    reference_destroy(&ref);
    free(ev.items);
    free(ev.offs);
    free(ev.idx);
    free(ev.src);
    free(ev.pos);
    free(ev.len);
    free(ev.buf);
    return status;
}

static int s_state_fn(store_txn_t *txn, void *arg)
{
    int rc = store_meta_get_str(txn, "bulk_load", arg, 32);
    if (rc == STORE_ENOTFOUND) {
        ((char *)arg)[0] = '\0';
        return 0;
    }
    return rc;
}

int load_check_finished(store_t *store)
{
    char state[32];
    int rc = store_read(store, s_state_fn, state);
    if (rc != 0) {
        log_errorx("cannot read the store's meta: %s", store_strerror(rc));
        return -1;
    }
    if (strcmp(state, "loading") != 0)
        return 0;
    log_errorx("a bulk load (matcherd --load) did not finish on this store: its ranked lists "
               "are not built. Run matcherd --load again with the same files to finish it "
               "(what is stored counts as duplicates), or start again from an empty store");
    return -1;
}
