/* daemon.c - see daemon.h.
 *
 * One thread, one zmq_poll loop over the ingest, query and feed sockets.
 * Signal handlers only set a flag; the loop sees it when zmq_poll returns
 * (EINTR, or its timeout). On a stop request the loop answers what is
 * already queued on the ingest socket with RETRY / SHUTTING_DOWN, so that
 * producers resend those events to the next run, then closes everything.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "auth.h"
#include "clock.h"
#include "counters.h"
#include "engine.h"
#include "expiry.h"
#include "feed.h"
#include "ingest.h"
#include "load.h"
#include "log.h"
#include "notify.h"
#include "privacy.h"
#include "query.h"
#include "rebuild.h"
#include "reference.h"
#include "retention.h"
#include "store.h"

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_hup;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_on_hup(int sig)
{
    (void)sig;
    s_hup = 1;
}

void daemon_store_log(int level, const char *msg)
{
    /* the store's lines name it already ("store: ...", "store DIR: ...") */
    if (level == STORE_LOG_ERROR)
        log_errorx("%s", msg);
    else if (level == STORE_LOG_WARN)
        log_warnx("%s", msg);
    else
        log_info("%s", msg);
}

static int s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: zmq_poll must return EINTR */
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    sa.sa_handler = s_on_hup; /* reload the keys and roles */
    if (sigaction(SIGHUP, &sa, NULL))
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

#define S_HOUSEKEEPING_MS 10000
/* Topics saved per housekeeping (feed_save_topics): a write transaction
 * of about 15 ms (5,919 topics took 15.9 ms at 1M x 200k), which ingest
 * waits for; a pass of more topics takes several housekeepings. */
#define S_TOPICS_CHUNK  5000
#define S_PURGE_CHUNK   10000
#define S_EXPIRY_CHUNK  200
#define S_PRIVACY_CHUNK 256

/* Scrub state: erasures counted up to the last scrub, and when the first
 * erasure after it was seen (0: none pending). */
typedef struct {
    uint64_t scrubbed_upto;
    int64_t pending_since_ms;
} s_scrub_t;

/* After erasures, once scrub_after_erase_s has passed since the first one
 * not yet scrubbed, rewrite the store so that no freed page still holds
 * their data. Returns -1 if the store could not be reopened. */
static int s_scrub_maybe(store_t *store, const config_t *cfg, counters_t *c, s_scrub_t *sc,
                         int64_t now)
{
    if (cfg->scrub_after_erase_s == 0 || c->erasures == sc->scrubbed_upto)
        return 0;
    if (sc->pending_since_ms == 0)
        sc->pending_since_ms = now;
    if (now - sc->pending_since_ms < (int64_t)cfg->scrub_after_erase_s * 1000)
        return 0;
    uint64_t before = 0, after = 0, t0 = clock_mono_us();
    uint64_t upto = c->erasures;
    int rc = store_scrub(store, &before, &after);
    sc->pending_since_ms = 0;
    if (rc != 0) {
        log_errorx("privacy: store scrub failed: %s", store_strerror(rc));
        return store_is_open(store) ? 0 : -1;
    }
    sc->scrubbed_upto = upto;
    c->scrubs++;
    log_info("privacy: store scrubbed after %llu erasures in %.3f s: data.mdb %llu -> %llu bytes",
             (unsigned long long)(upto), (double)(clock_mono_us() - t0) / 1e6,
             (unsigned long long)before, (unsigned long long)after);
    return 0;
}

/* What the matching cost per entity change since start (docs/PERFORMANCE-ENGINE.md). */
static void s_log_engine(const engine_t *engine)
{
    engine_stats_t st;
    engine_stats(engine, &st);
    if (st.changed == 0)
        return;
    double n = (double)st.changed;
    log_info("engine: %llu changes; per change %.0f candidate heads read, %.1f pairs scored, "
             "%.0f candidates pruned by their bounds, %.1f lists written, %.2f recomputed, "
             "%.1f match updates",
             (unsigned long long)st.changed, (double)st.heads / n, (double)st.candidates / n,
             (double)st.pruned / n, (double)st.lists_written / n, (double)st.recomputations / n,
             (double)st.changes / n);
}

/* Timer work: close expired vacancies, delete graduates and closed
 * vacancies past the privacy retention, purge the match log past its
 * retention. All work in chunks so that no write transaction is long. */
static void s_housekeeping(store_t *store, const config_t *cfg, engine_t *engine, feed_t *feed,
                           counters_t *counters)
{
    int64_t total = 0, n;
    do {
        n = expiry_run(store, engine, feed, (int32_t)(clock_now_ms() / 86400000), S_EXPIRY_CHUNK);
        if (n < 0) {
            log_warnx("expiry: %s", store_strerror((int)n));
            break;
        }
        total += n;
    } while (n == S_EXPIRY_CHUNK);
    if (total > 0)
        log_info("expiry: closed %lld expired vacancies", (long long)total);
    uint64_t erased = 0;
    n = privacy_run(store, cfg, engine, feed, clock_now_ms(), S_PRIVACY_CHUNK, &erased);
    if (n < 0)
        log_warnx("privacy: retention sweep failed: %s", store_strerror((int)n));
    else if (n > 0)
        log_info("privacy: deleted %lld entities past retention (%llu graduates)", (long long)n,
                 (unsigned long long)erased);
    if (counters)
        counters->erasures += erased;
    total = 0;
    do {
        n = retention_run(store, cfg, clock_now_ms(), S_PURGE_CHUNK);
        if (n < 0) {
            log_warnx("retention: purge failed: %s", store_strerror((int)n));
            return;
        }
        total += n;
    } while (n == S_PURGE_CHUNK);
    if (total > 0)
        log_info("retention: purged %lld match updates", (long long)total);
    int done;
    int rc = feed_save_topics(feed, store, S_TOPICS_CHUNK, &done);
    if (rc != 0)
        log_warnx("feed: saving the topics' last sequences failed: %s (the next start reads "
                  "more of the match log)",
                  store_strerror(rc));
}

/* The loop. Returns 0 after a stop request, -1 on a socket failure. */
static int s_loop(ingest_t *ingest, query_t *query, feed_t *feed, store_t *store,
                  const config_t *cfg, engine_t *engine, auth_t *auth, counters_t *counters)
{
    int64_t next_housekeeping = clock_now_ms();
    s_scrub_t scrub = {0, 0};
    zmq_pollitem_t items[5] = {
        {ingest_socket(ingest), 0, ZMQ_POLLIN, 0},
        {query_socket(query), 0, ZMQ_POLLIN, 0},
        {feed_socket(feed), 0, ZMQ_POLLIN, 0},
        {auth ? auth_socket(auth) : NULL, auth ? 0 : -1, ZMQ_POLLIN, 0}, /* fd -1: ignored */
        {NULL, -1, ZMQ_POLLIN, 0}, /* a running backup's end */
    };
    while (!s_stop) {
        items[4].fd = query_backup_fd(query);
        items[4].revents = 0;
        int64_t now = clock_now_ms();
        if (s_hup) {
            s_hup = 0;
            if (auth)
                (void)auth_reload(auth); /* logs; a bad file keeps the old set */
            else
                log_info("SIGHUP: security is off, nothing to reload");
        }
        if (now >= next_housekeeping) {
            s_housekeeping(store, cfg, engine, feed, counters);
            next_housekeeping = now + S_HOUSEKEEPING_MS;
        }
        /* A scrub closes and reopens the store: never while a backup's
         * thread is reading it. */
        if (query_backup_fd(query) < 0 && s_scrub_maybe(store, cfg, counters, &scrub, now) != 0)
            return -1;
        long timeout = (long)(next_housekeeping - now);
        int rc = zmq_poll(items, items[4].fd >= 0 ? 5 : 4, timeout < 1000 ? timeout : 1000);
        if (rc == -1) {
            if (errno == EINTR)
                continue;
            log_warnx("loop: zmq_poll: %s", zmq_strerror(errno));
            return -1;
        }
        if ((items[0].revents & ZMQ_POLLIN) && ingest_process(ingest, 0) < 0)
            return -1;
        if ((items[1].revents & ZMQ_POLLIN) && query_process(query, 64) < 0)
            return -1;
        if (items[2].revents & ZMQ_POLLIN)
            feed_handle_subscriptions(feed);
        if (auth && (items[3].revents & ZMQ_POLLIN))
            auth_handle(auth);
        if (items[4].fd >= 0 && (items[4].revents & ZMQ_POLLIN))
            query_backup_done(query);
    }
    notify_stopping();
    /* Stopping: tell producers whose events are queued to resend them. */
    while (ingest_process(ingest, 1) > 0)
        ;
    /* the topics as they are now: the next start reads no match */
    for (int done = 0, rc = 0; !done && rc == 0;)
        if ((rc = feed_save_topics(feed, store, SIZE_MAX, &done)) != 0)
            log_warnx("feed: saving the topics' last sequences failed: %s", store_strerror(rc));
    return 0;
}

/* Record the reference version in the store; say so when it changed. */
typedef struct {
    const char *version;
    char stored[256];
    int changed;
} s_refver_t;

static int s_refver_fn(store_txn_t *txn, void *arg)
{
    s_refver_t *r = arg;
    int rc = store_meta_get_str(txn, "reference_version", r->stored, sizeof r->stored);
    if (rc == STORE_ENOTFOUND)
        r->stored[0] = '\0';
    else if (rc != 0)
        return rc;
    r->changed = r->stored[0] && strcmp(r->stored, r->version) != 0;
    if (strcmp(r->stored, r->version) == 0)
        return 0;
    return store_meta_put_str(txn, "reference_version", r->version);
}

/* The reference data, loaded before the store opens: the store weighs
 * the vacancies' skills with it as it caches their heads. */
static reference_t *s_reference(const config_t *cfg)
{
    char err[512];
    size_t nc, nr, nn, ns;
    reference_t *ref = reference_load(cfg->reference_dir, err, sizeof err);
    if (!ref) {
        log_errorx("cannot load the reference data: %s", err);
        return NULL;
    }
    reference_counts(ref, &nc, &nr, &nn, &ns);
    log_info("reference %s from %s: %zu communes, %zu ROME codes, %zu RNCP, %zu skills",
             reference_version(ref), cfg->reference_dir, nc, nr, nn, ns);
    return ref;
}

/* Record ref's version in the store; *changed says whether the store's
 * lists were computed with another one. */
static int s_reference_record(store_t *store, const reference_t *ref, int *changed)
{
    s_refver_t rv = {.version = reference_version(ref)};
    int rc = store_write(store, s_refver_fn, &rv);
    if (rc != 0) {
        log_errorx("cannot record the reference version: %s", store_strerror(rc));
        return rc;
    }
    *changed = rv.changed;
    if (rv.changed)
        log_warnx("the store's ranked lists were computed with reference %s; recomputing them "
                  "with %s",
                  rv.stored, rv.version);
    return 0;
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* The store's long work at opening (an upgrade): keep the service
 * manager's start-up timeout from running out while it goes on. */
static void s_store_progress(const char *status, void *arg)
{
    (void)arg;
    notify_starting(status);
}

/* The start-up line, and READY=1 to the service manager. */
static void s_ready(const config_t *cfg, store_t *store, const char *security)
{
    store_stats_t ss;
    char status[CONFIG_ENDPOINT_MAX + 96];
    if (store_read(store, s_stats_fn, &ss) != 0)
        memset(&ss, 0, sizeof ss); /* logged by the store; the sizes show as 0 */
    log_info("matcherd %s ready: store %s (%.1f MiB used, map %.0f MiB %s, lists.mdb %.1f of "
             "%.0f MiB, %llu events, %llu graduates, %llu vacancies), ingest %s, feed %s, "
             "query %s, K %d, security %s",
             PASSERELLE_VERSION, cfg->data_dir, (double)ss.used_bytes / 1048576.0,
             (double)ss.map_bytes / 1048576.0, ss.writemap ? "writable" : "read-only",
             (double)ss.lists_used_bytes / 1048576.0, (double)ss.lists_file_bytes / 1048576.0,
             (unsigned long long)ss.events, (unsigned long long)ss.graduates,
             (unsigned long long)ss.vacancies, cfg->ingest, cfg->feed, cfg->query, cfg->k,
             security);
    (void)snprintf(status, sizeof status, "serving: %llu events stored, query %s",
                   (unsigned long long)ss.events, cfg->query);
    notify_ready(status);
}

int daemon_run(const config_t *cfg)
{
    counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.started_ms = clock_now_ms();
    counters.store_ok = 1;
    int status = 1, err = 0;
    void *zctx = NULL;
    feed_t *feed = NULL;
    ingest_t *ingest = NULL;
    query_t *query = NULL;
    auth_t *auth = NULL;
    reference_t *ref = NULL;
    engine_t *engine = NULL;
    score_weights_t w = {cfg->w_skills, cfg->w_certification,   cfg->w_distance,
                         cfg->w_start,  cfg->distance_scale_km, cfg->start_window_days};

    store_set_logger(daemon_store_log);
    if (!(ref = s_reference(cfg)))
        return 1;
    store_options_t sopts = {.map_bytes = cfg->map_initial_bytes,
                             .map_max_bytes = cfg->map_max_bytes,
                             .writemap = cfg->writemap,
                             .txn_writes = cfg->txn_max_writes,
                             .lists_writeback_ms = (unsigned)cfg->lists_writeback_ms,
                             .lists_dir = cfg->lists_dir,
                             .progress = s_store_progress,
                             .vacancy_skills = score_vacancy_head,
                             .vacancy_skills_arg = ref,
                             /* a test's stand-in for a restart of the machine */
                             .boot_id = getenv("PASSERELLE_BOOT_ID")};
    store_t *store = store_new(cfg->data_dir, &sopts, &err);
    if (!store) {
        log_errorx("cannot open the store in %s: %s", cfg->data_dir, store_strerror(err));
        reference_destroy(&ref);
        return 1;
    }
    if (load_check_finished(store) != 0)
        goto done;
    if (s_signals() != 0) {
        log_warn("sigaction");
        goto done;
    }
    int ref_changed = 0;
    if (s_reference_record(store, ref, &ref_changed) != 0 || score_weights_normalise(&w) != 0)
        goto done;
    zctx = zmq_ctx_new();
    if (zctx && cfg->security_mode == CONFIG_SECURITY_CURVE && !(auth = auth_new(zctx, cfg)))
        goto done;
    if (!zctx || !(feed = feed_new(zctx, cfg, ref, &counters)) ||
        !(engine = engine_new(ref, &w, (unsigned)cfg->k, feed)) ||
        !(ingest = ingest_new(zctx, cfg, store, &counters, ref, engine, feed)) ||
        !(query = query_new(zctx, cfg, store, &counters, ref, engine)))
        goto done;
    int lrc = feed_learn_topics(feed, store);
    if (lrc != 0) {
        log_errorx("reading the match log failed: %s", store_strerror(lrc));
        goto done;
    }
    if (store_lists_stale(store)) {
        uint64_t n = 0;
        uint64_t t0 = clock_mono_us();
        log_warnx("rebuilding the ranked lists from the entities before serving (see the store's "
                  "warning above)");
        if (ref_changed)
            log_warnx("the reference changed too: the lists are rebuilt with %s, and the feed "
                      "does not say how they differ from those computed with %s",
                      reference_version(ref), "the previous one");
        int rc = load_build_lists(store, ref, &w, (unsigned)cfg->k, 0, &n);
        if (rc != 0) {
            log_errorx("rebuilding the ranked lists failed: %s", store_strerror(rc));
            goto done;
        }
        log_info("ranked lists rebuilt for %llu entities in %.1f s", (unsigned long long)n,
                 (double)(clock_mono_us() - t0) / 1e6);
        ref_changed = 0;
    }
    if (ref_changed) {
        uint64_t n = 0;
        int rc = rebuild_all(store, engine, feed, &n);
        if (rc != 0) {
            log_errorx("recomputing the ranked lists failed: %s", store_strerror(rc));
            goto done;
        }
        log_info("ranked lists recomputed for %llu entities", (unsigned long long)n);
    }
    s_ready(cfg, store, auth ? "curve" : "none (loopback only)");
    if (s_loop(ingest, query, feed, store, cfg, engine, auth, &counters) == 0) {
        status = 0;
        log_info("stopping: %llu accepted, %llu duplicate, %llu rejected, %llu retry since start",
                 (unsigned long long)counters.accepted, (unsigned long long)counters.duplicate,
                 (unsigned long long)counters.rejected, (unsigned long long)counters.retry);
        s_log_engine(engine);
    }
done:
    query_destroy(&query);
    ingest_destroy(&ingest);
    engine_destroy(&engine);
    feed_destroy(&feed);
    auth_destroy(&auth);
    if (zctx)
        (void)zmq_ctx_term(zctx); /* sockets closed with a short linger: cannot hang */
    store_destroy(&store);        /* before ref: it weighs the heads it caches */
    reference_destroy(&ref);
    return status;
}
