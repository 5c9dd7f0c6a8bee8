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
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "counters.h"
#include "ingest.h"
#include "log.h"
#include "query.h"
#include "store.h"

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_store_log(int level, const char *msg)
{
    if (level == STORE_LOG_ERROR)
        log_errorx("store: %s", msg);
    else if (level == STORE_LOG_WARN)
        log_warnx("store: %s", msg);
    else
        log_info("store: %s", msg);
}

static int s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: zmq_poll must return EINTR */
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* The feed socket: an XPUB that nothing is published on until the matching
 * engine runs; subscriptions are read so that its queue never fills. */
static void *s_feed_new(void *zctx, const config_t *cfg)
{
    void *sock = zmq_socket(zctx, ZMQ_XPUB);
    int linger = 100;
    if (!sock)
        return NULL;
    if (zmq_setsockopt(sock, ZMQ_SNDHWM, &cfg->sndhwm, sizeof cfg->sndhwm) ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &cfg->rcvhwm, sizeof cfg->rcvhwm) ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) || zmq_bind(sock, cfg->feed)) {
        log_warnx("feed: bind %s: %s", cfg->feed, zmq_strerror(errno));
        (void)zmq_close(sock); /* fails only on a bad handle */
        return NULL;
    }
    return sock;
}

static void s_feed_drain(void *sock)
{
    char buf[512];
    while (zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ; /* subscriptions are not acted upon yet */
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The loop. Returns 0 after a stop request, -1 on a socket failure. */
static int s_loop(ingest_t *ingest, query_t *query, void *feed)
{
    zmq_pollitem_t items[3] = {
        { ingest_socket(ingest), 0, ZMQ_POLLIN, 0 },
        { query_socket(query), 0, ZMQ_POLLIN, 0 },
        { feed, 0, ZMQ_POLLIN, 0 },
    };
    while (!s_stop) {
        int rc = zmq_poll(items, 3, 1000);
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
            s_feed_drain(feed);
    }
    /* Stopping: tell producers whose events are queued to resend them. */
    while (ingest_process(ingest, 1) > 0)
        ;
    return 0;
}

int daemon_run(const config_t *cfg)
{
    counters_t counters;
    memset(&counters, 0, sizeof counters);
    counters.started_ms = s_now_ms();
    counters.store_ok = 1;
    int status = 1, err = 0;
    void *zctx = NULL, *feed = NULL;
    ingest_t *ingest = NULL;
    query_t *query = NULL;

    store_set_logger(s_store_log);
    store_options_t sopts = { .map_bytes = cfg->map_initial_bytes,
                              .map_max_bytes = cfg->map_max_bytes };
    store_t *store = store_new(cfg->data_dir, &sopts, &err);
    if (!store) {
        log_errorx("cannot open the store in %s: %s", cfg->data_dir, store_strerror(err));
        return 1;
    }
    if (s_signals() != 0) {
        log_warn("sigaction");
        goto done;
    }
    zctx = zmq_ctx_new();
    if (!zctx || !(ingest = ingest_new(zctx, cfg, store, &counters)) ||
        !(query = query_new(zctx, cfg, store, &counters)) || !(feed = s_feed_new(zctx, cfg)))
        goto done;
    log_info("matcherd %s ready: store %s, ingest %s, feed %s, query %s, security none "
             "(loopback only)",
             PASSERELLE_VERSION, cfg->data_dir, cfg->ingest, cfg->feed, cfg->query);
    if (s_loop(ingest, query, feed) == 0) {
        status = 0;
        log_info("stopping: %llu accepted, %llu duplicate, %llu rejected, %llu retry since start",
                 (unsigned long long)counters.accepted, (unsigned long long)counters.duplicate,
                 (unsigned long long)counters.rejected, (unsigned long long)counters.retry);
    }
done:
    if (feed)
        (void)zmq_close(feed); /* fails only on a bad handle */
    query_destroy(&query);
    ingest_destroy(&ingest);
    if (zctx)
        (void)zmq_ctx_term(zctx); /* sockets closed with a short linger: cannot hang */
    store_destroy(&store);
    return status;
}
