/* bench_ceiling.c - what this machine can do at best, for the national
 * benchmark to compare matcherd with:
 *
 *   lmdb  durable LMDB group commits: batches of --batch puts (random
 *         16-byte keys, --value bytes) per write transaction, each committed
 *         with LMDB's default durable commit (fsync of data and meta page),
 *         for --seconds: puts/s and commits/s; and the same with one put
 *         per transaction (the fsync ceiling: commits/s).
 *   zmq   ZeroMQ pipelined DEALER/ROUTER round trips on loopback TCP: a
 *         ROUTER thread echoes every message, a DEALER keeps --window
 *         messages of --msg bytes in flight for --seconds: round trips/s.
 *
 * Prints one CSV row (header first) on stdout: lmdb_puts_per_s,
 * lmdb_commits_per_s, lmdb_batch, lmdb_single_commits_per_s,
 * zmq_round_trips_per_s, zmq_window, zmq_msg_bytes.
 *
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#define S_CHECK(call)                                                                              \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "bench_ceiling: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,           \
                    mdb_strerror(rc_));                                                            \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* Puts per second with `batch` puts per durable commit. */
static int s_lmdb(const char *dir, size_t batch, size_t value, double seconds, double *puts_s,
                  double *commits_s)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint64_t k = 0, commits = 0;
    char *val = malloc(value);
    double t0, t;
    if (val == NULL)
        return -1;
    memset(val, 'x', value);
    S_CHECK(mdb_env_create(&env));
    S_CHECK(mdb_env_set_mapsize(env, (size_t)8 << 30));
    S_CHECK(mdb_env_open(env, dir, 0, 0600));
    S_CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    S_CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
    S_CHECK(mdb_txn_commit(txn));
    txn = NULL;
    t0 = s_now();
    do {
        S_CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (size_t i = 0; i < batch; i++, k++) {
            uint64_t key[2] = {s_mix(k), s_mix(k + 0x5555)};
            MDB_val mk = {sizeof key, key}, mv = {value, val};
            S_CHECK(mdb_put(txn, dbi, &mk, &mv, 0));
        }
        S_CHECK(mdb_txn_commit(txn)); /* durable: fsync */
        txn = NULL;
        commits++;
        t = s_now();
    } while (t - t0 < seconds);
    *puts_s = (double)k / (t - t0);
    *commits_s = (double)commits / (t - t0);
    mdb_env_close(env);
    free(val);
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    free(val);
    return -1;
}

static void *s_echo(void *arg)
{
    void *router = arg;
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, router, 0) < 0 || zmq_msg_recv(&body, router, 0) < 0 ||
            zmq_msg_send(&id, router, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, router, 0) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            /* context terminated: this thread owns the socket, so it closes
             * it (a socket is never touched by two threads) */
            zmq_close(router);
            return NULL;
        }
    }
}

static int s_zmq(size_t window, size_t msg, double seconds, double *rt_s)
{
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER),
         *dealer = zmq_socket(ctx, ZMQ_DEALER);
    char ep[256];
    size_t eplen = sizeof ep;
    int zero = 0, hwm = 100000;
    char *buf = calloc(1, msg);
    pthread_t th;
    uint64_t sent = 0, recvd = 0;
    double t0, t;
    if (!ctx || !router || !dealer || !buf)
        return -1;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0 ||
        zmq_connect(dealer, ep) != 0) {
        fprintf(stderr, "bench_ceiling: zmq: %s\n", zmq_strerror(errno));
        return -1;
    }
    if (pthread_create(&th, NULL, s_echo, router) != 0)
        return -1;
    t0 = s_now();
    do {
        while (sent - recvd < window) {
            if (zmq_send(dealer, buf, msg, 0) < 0)
                return -1;
            sent++;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, dealer, 0) < 0)
            return -1;
        zmq_msg_close(&m);
        recvd++;
        t = s_now();
    } while (t - t0 < seconds);
    *rt_s = (double)recvd / (t - t0);
    zmq_close(dealer);
    zmq_ctx_term(ctx); /* ends the echo thread's receive with ETERM; it closes the router */
    pthread_join(th, NULL);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    size_t batch = 1024, value = 512, window = 2000, msg = 400;
    double seconds = 5, puts_s = 0, commits_s = 0, single_puts, single_commits = 0, rt_s = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], dir1[600];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            printf("usage: bench_ceiling [--seconds S] [--batch N] [--value BYTES] [--window W] "
                   "[--msg BYTES]\n  defaults: 5 s, batch 1024 (matcherd's ingest.batch_max), "
                   "512-byte values, window 2000, 400-byte messages\n");
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "bench_ceiling: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--batch"))
            batch = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--value"))
            value = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--window"))
            window = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--msg"))
            msg = strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "bench_ceiling: unknown option %s\n", a);
            return 2;
        }
    }
    if (seconds <= 0 || batch == 0 || value == 0 || window == 0 || msg == 0)
        return 2;
    snprintf(dir, sizeof dir, "%s/bench-ceiling-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror("bench_ceiling: mkdtemp");
        return 1;
    }
    snprintf(dir1, sizeof dir1, "%s/one", dir);
    int rc = s_lmdb(dir, batch, value, seconds, &puts_s, &commits_s);
    if (rc == 0 && mkdir(dir1, 0700) == 0)
        rc = s_lmdb(dir1, 1, value, seconds, &single_puts, &single_commits);
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_ceiling: could not remove %s\n", dir);
    }
    if (rc != 0 || s_zmq(window, msg, seconds, &rt_s) != 0) {
        fprintf(stderr, "bench_ceiling: failed\n");
        return 1;
    }
    printf("lmdb_puts_per_s,lmdb_commits_per_s,lmdb_batch,lmdb_value_bytes,"
           "lmdb_single_commits_per_s,zmq_round_trips_per_s,zmq_window,zmq_msg_bytes\n");
    printf("%.0f,%.1f,%zu,%zu,%.1f,%.0f,%zu,%zu\n", puts_s, commits_s, batch, value, single_commits,
           rt_s, window, msg);
    return 0;
}
