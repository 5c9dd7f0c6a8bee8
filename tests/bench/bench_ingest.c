/* bench_ingest.c - time per event of the real matcherd at several
 * population sizes.
 *
 * For each size N (--sizes, default 10000,100000):
 *   1. start a fresh matcherd on a temporary store (tests/harness.c);
 *   2. load N graduates and N vacancies (interleaved, pipelined with at
 *      most --window unacknowledged events): load events/s;
 *   3. steady phase, repeated --reps times: --steady mixed events (updates
 *      of existing graduates and vacancies, new graduates and vacancies,
 *      withdrawals, closures), pipelined the same way: events/s, mean
 *      microseconds per event (wall time / events), p50 / p99 of each
 *      event's send -> ack time; medians over the repetitions;
 *   4. the daemon's own stats (batches, batch_max, match_sequence, store
 *      size) and the RSS of matcherd (/proc/PID/status).
 * Then the ratio of the per-event cost at the largest and the smallest size.
 *
 * --time-limit S bounds each size: when it expires the phase stops, the
 * events acked so far are reported as a PARTIAL row, and the next size
 * starts. --progress prints the ack rate as the population grows. --perf DIR
 * profiles one extra (uncounted) steady repetition with perf record.
 *
 * Every event is generated before its phase starts (tests/bench/popgen.c),
 * so the client's generation cost is not in the timings. Every event must
 * be ACCEPTED; anything else fails the run.
 *
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"
#include "popgen.h"

#ifndef PASSERELLE_REFERENCE_DIR
#define PASSERELLE_REFERENCE_DIR "deploy/reference"
#endif

#define S_MAX_SIZES 16

typedef struct {
    const char *sizes;
    size_t steady;
    int reps;
    size_t window;
    uint64_t seed;
    const char *csv;
    const char *reference;
    const char *matcherd;
    int ack_timeout_ms;
    const char *perf_dir;       /* profile one extra steady rep per size */
    const char *perf_callgraph; /* perf record --call-graph mode */
    const char *perf_freq;      /* perf record -F */
    int progress_s;             /* progress line every that many seconds (0: none) */
    int time_limit_s;           /* per size; 0: none */
} s_opts_t;

/* Pre-generated events of one phase, in one arena. */
typedef struct {
    uint8_t *arena;
    size_t arena_len, arena_cap;
    size_t *off, *len;
    char (*ids)[HEV_ID_MAX];
    size_t n, cap;
} s_batch_t;

/* One pipelined run. */
typedef struct {
    const s_batch_t *b;
    int64_t *sent_us;
    int64_t *lat_us;
    size_t accepted, superseded, bad;
    int64_t last_ack_us;
    char first_bad[1024];
} s_run_t;

/* The numbers of Stats this benchmark reports. */
typedef hstats_t s_stats_t;

typedef struct {
    long rss_kb, anon_kb, file_kb, shmem_kb, hwm_kb;
} s_mem_t;

typedef struct {
    double wall_s, eps, mean_us, p50_us, p99_us;
    uint64_t batches, events, matches;
} s_rep_t;

typedef struct {
    size_t n;
    double load_s, load_eps, load_p50_us, load_p99_us;
    size_t load_acked; /* < 2n when the time limit stopped the load */
    int complete;      /* load and every repetition done */
    uint64_t load_batches, load_matches;
    s_rep_t reps[64];
    int n_reps;
    double eps, mean_us, p50_us, p99_us; /* medians */
    double steady_batch_mean, steady_updates_per_event;
    size_t ops[6];
    s_stats_t st;
    s_mem_t mem;
    char perf_file[512];
} s_result_t;

enum { OP_G_UPDATE, OP_V_UPDATE, OP_G_NEW, OP_V_NEW, OP_G_WITHDRAW, OP_V_CLOSE };
static const char *const s_op_names[] = {"graduate updates", "vacancy updates", "new graduates",
                                         "new vacancies",    "withdrawals",     "closures"};

/* ------------------------------------------------------------------ */

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench_ingest [--sizes N,N,...] [--steady M] [--reps R] [--window W]\n"
            "                    [--seed S] [--csv FILE] [--reference DIR] [--matcherd PATH]\n"
            "                    [--ack-timeout MS] [--perf DIR [--perf-callgraph MODE] "
            "[--perf-freq HZ]]\n"
            "                    [--progress S] [--time-limit S]\n"
            "  --sizes      entities per side, comma-separated (10000,100000)\n"
            "  --steady     mixed events per steady repetition (5000)\n"
            "  --reps       steady repetitions; medians are reported (3)\n"
            "  --window     max unacknowledged events in flight (2000)\n"
            "  --seed       population seed (1)\n"
            "  --csv        write the table as CSV to FILE\n"
            "  --reference  reference data directory (%s)\n"
            "  --matcherd   daemon executable (PASSERELLE_MATCHERD, else ../matcherd)\n"
            "  --ack-timeout  fail when no ack came for MS milliseconds (120000)\n"
            "  --perf       after the measured repetitions, run one more steady\n"
            "               repetition under `perf record -p <matcherd>` into\n"
            "               DIR/perf-N.data (not counted in the table)\n"
            "  --perf-callgraph  perf's --call-graph mode (dwarf,8192; or fp)\n"
            "  --perf-freq  perf's sampling frequency, Hz (99)\n"
            "  --progress   print the ack rate every S seconds on stderr (10; 0: never)\n"
            "  --time-limit stop a size after S seconds (0: never): the events acked so\n"
            "               far are reported as a partial row and the next size starts\n",
            PASSERELLE_REFERENCE_DIR);
}

static int s_parse_opts(int argc, char **argv, s_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->sizes = "10000,100000";
    o->steady = 5000;
    o->reps = 3;
    o->window = 2000;
    o->seed = 1;
    o->reference = PASSERELLE_REFERENCE_DIR;
    o->ack_timeout_ms = 120000;
    o->perf_callgraph = "dwarf,8192";
    o->perf_freq = "99";
    o->progress_s = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            exit(0);
        }
        if (val == NULL) {
            fprintf(stderr, "bench_ingest: %s needs a value\n", a);
            return -1;
        }
        if (strcmp(a, "--sizes") == 0)
            o->sizes = val;
        else if (strcmp(a, "--steady") == 0)
            o->steady = strtoul(val, NULL, 10);
        else if (strcmp(a, "--reps") == 0)
            o->reps = atoi(val);
        else if (strcmp(a, "--window") == 0)
            o->window = strtoul(val, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            o->seed = strtoull(val, NULL, 10);
        else if (strcmp(a, "--csv") == 0)
            o->csv = val;
        else if (strcmp(a, "--reference") == 0)
            o->reference = val;
        else if (strcmp(a, "--matcherd") == 0)
            o->matcherd = val;
        else if (strcmp(a, "--ack-timeout") == 0)
            o->ack_timeout_ms = atoi(val);
        else if (strcmp(a, "--perf") == 0)
            o->perf_dir = val;
        else if (strcmp(a, "--perf-callgraph") == 0)
            o->perf_callgraph = val;
        else if (strcmp(a, "--perf-freq") == 0)
            o->perf_freq = val;
        else if (strcmp(a, "--progress") == 0)
            o->progress_s = atoi(val);
        else if (strcmp(a, "--time-limit") == 0)
            o->time_limit_s = atoi(val);
        else {
            fprintf(stderr, "bench_ingest: unknown option %s\n", a);
            return -1;
        }
        i++;
    }
    if (o->steady == 0 || o->reps < 1 || o->reps > 64 || o->window == 0 || o->ack_timeout_ms <= 0) {
        fprintf(stderr, "bench_ingest: --steady, --reps (1..64), --window and --ack-timeout "
                        "must be positive\n");
        return -1;
    }
    return 0;
}

static int s_parse_sizes(const char *s, size_t *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || v > 10000000ULL || n == max)
            return -1;
        out[n++] = (size_t)v;
        p = end;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return -1;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Batches of events. */

static int s_batch_add(s_batch_t *b, const uint8_t *data, size_t len, const char *id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        size_t *off = realloc(b->off, cap * sizeof *off);
        if (off == NULL)
            return -1;
        b->off = off;
        size_t *ln = realloc(b->len, cap * sizeof *ln);
        if (ln == NULL)
            return -1;
        b->len = ln;
        void *ids = realloc(b->ids, cap * sizeof *b->ids);
        if (ids == NULL)
            return -1;
        b->ids = ids;
        b->cap = cap;
    }
    if (b->arena_len + len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 1 << 20;
        uint8_t *p;
        while (cap < b->arena_len + len)
            cap *= 2;
        p = realloc(b->arena, cap);
        if (p == NULL)
            return -1;
        b->arena = p;
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->arena_len, data, len);
    b->off[b->n] = b->arena_len;
    b->len[b->n] = len;
    snprintf(b->ids[b->n], HEV_ID_MAX, "%s", id);
    b->arena_len += len;
    b->n++;
    return 0;
}

static void s_batch_clear(s_batch_t *b)
{
    b->n = 0;
    b->arena_len = 0;
}

static void s_batch_free(s_batch_t *b)
{
    free(b->arena);
    free(b->off);
    free(b->len);
    free(b->ids);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ */
/* The pipelined run (tests/harness.c's hpipe). */

static int s_make(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    s_run_t *run = p->ctx;
    const s_batch_t *b = run->b;
    if (i >= b->n)
        return 1;
    if (hbuf_resize(out, b->len[i]) != 0)
        return -1;
    memcpy(out->data, b->arena + b->off[i], b->len[i]);
    memcpy(id, b->ids[i], HEV_ID_MAX);
    /* hpipe sends right after make (the socket's HWM is far above the
     * window), so this is the send time to within a memcpy */
    run->sent_us[i] = harness_now_us();
    return 0;
}

static int s_on_ack(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    s_run_t *run = p->ctx;
    run->last_ack_us = harness_now_us();
    run->lat_us[i] = run->last_ack_us - run->sent_us[i];
    if (ack->status == H_ACCEPTED) {
        run->accepted++;
        if (ack->superseded)
            run->superseded++;
    } else {
        if (run->bad++ == 0)
            h_ack_str(ack, run->first_bad, sizeof run->first_bad);
    }
    return 0;
}

/* Progress lines and the time limit, on every turn of hpipe's loop. */
typedef struct {
    hpipe_t *pipe;
    const char *what;
    int64_t t0_us, last_us, deadline_us;
    size_t last_acked;
    int progress_s;
    int expired;
} s_tick_t;

static int s_tick(void *ctx)
{
    s_tick_t *t = ctx;
    int64_t now = harness_now_us();

    if (t->deadline_us > 0 && now >= t->deadline_us) {
        if (!t->expired) {
            t->expired = 1;
            fprintf(stderr, "[%s] time limit reached after %zu of %zu events acked\n", t->what,
                    t->pipe->acked, t->pipe->n);
        }
        return HPIPE_DRAIN;
    }
    if (t->progress_s > 0 && now - t->last_us >= (int64_t)t->progress_s * 1000000) {
        double dt = (double)(now - t->last_us) / 1e6, all = (double)(now - t->t0_us) / 1e6;
        fprintf(stderr,
                "[%s] %.0f s: %zu/%zu acked, %.1f events/s in the last %.0f s, %.1f overall\n",
                t->what, all, t->pipe->acked, t->pipe->n,
                (double)(t->pipe->acked - t->last_acked) / dt, dt, (double)t->pipe->acked / all);
        t->last_us = now;
        t->last_acked = t->pipe->acked;
    }
    return HPIPE_GO;
}

/* Send every event of b; set the wall time (first send to last ack), the
 * latencies of the acked events and *acked. Returns 0 when every event was
 * accepted, 1 when the deadline (harness_now_us() time, 0: none) stopped
 * the run first (every ack received was ACCEPTED), -1 on failure. */
static int s_send_all(harness_t *h, const s_opts_t *o, const s_batch_t *b, double *wall_s,
                      int64_t *lat_us, const char *what, int64_t deadline_us, size_t *acked)
{
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    s_run_t run;
    hpipe_t pipe;
    s_tick_t tick;
    int64_t t0;
    int rc;

    *acked = 0;
    *wall_s = 0;
    if (c == NULL)
        return -1;
    memset(&run, 0, sizeof run);
    run.b = b;
    run.lat_us = lat_us;
    run.sent_us = calloc(b->n ? b->n : 1, sizeof *run.sent_us);
    if (run.sent_us == NULL) {
        hclient_destroy(&c);
        return -1;
    }
    memset(&pipe, 0, sizeof pipe);
    pipe.client = c;
    pipe.n = b->n;
    pipe.window = o->window;
    pipe.idle_timeout_ms = o->ack_timeout_ms;
    pipe.drain_ms = 1; /* at the time limit, stop at once */
    pipe.make = s_make;
    pipe.on_ack = s_on_ack;
    pipe.ctx = &run;
    t0 = harness_now_us();
    memset(&tick, 0, sizeof tick);
    tick.pipe = &pipe;
    tick.what = what;
    tick.t0_us = tick.last_us = t0;
    tick.deadline_us = deadline_us;
    tick.progress_s = o->progress_s;
    rc = hpipe_run(&pipe, s_tick, &tick);
    *wall_s = run.last_ack_us > t0 ? (double)(run.last_ack_us - t0) / 1e6 : 0;
    *acked = pipe.acked;
    hclient_destroy(&c);
    free(run.sent_us);
    if (rc != 0) {
        fprintf(stderr, "bench_ingest: %s: pipeline failed after %zu sent, %zu acked: %s\n", what,
                pipe.sent, pipe.acked, pipe.err);
        return -1;
    }
    if (run.bad > 0) {
        fprintf(stderr, "bench_ingest: %s: %zu of %zu events not accepted; first: %s\n", what,
                run.bad, b->n, run.first_bad);
        return -1;
    }
    if (tick.expired && pipe.acked < b->n)
        return 1;
    if (run.accepted != b->n) {
        fprintf(stderr, "bench_ingest: %s: %zu of %zu events accepted\n", what, run.accepted, b->n);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Daemon stats and memory. */

static int s_query_timeout_ms = 30000;

static int s_stats(harness_t *h, s_stats_t *out)
{
    return harness_stats_wait(h, out, s_query_timeout_ms);
}

static void s_memory(pid_t pid, s_mem_t *m)
{
    char path[64], line[256];
    FILE *f;

    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        long v;
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            m->rss_kb = v;
        else if (sscanf(line, "RssAnon: %ld", &v) == 1)
            m->anon_kb = v;
        else if (sscanf(line, "RssFile: %ld", &v) == 1)
            m->file_kb = v;
        else if (sscanf(line, "RssShmem: %ld", &v) == 1)
            m->shmem_kb = v;
        else if (sscanf(line, "VmHWM: %ld", &v) == 1)
            m->hwm_kb = v;
    }
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* Statistics. */

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n) (sorted in place). */
static double s_percentile(int64_t *v, size_t n, double q)
{
    size_t k;
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp_i64);
    k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1];
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_median(const double *v, int n)
{
    double t[64];
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, s_cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* ------------------------------------------------------------------ */
/* Population and events. */

typedef struct {
    popgen_t *pg;
    unsigned *ver_g, *ver_v; /* last version sent per entity */
    size_t n_g, n_v, cap;
} s_pop_t;

static int s_pop_init(s_pop_t *p, popgen_t *pg, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->pg = pg;
    p->cap = cap;
    p->ver_g = calloc(cap, sizeof *p->ver_g);
    p->ver_v = calloc(cap, sizeof *p->ver_v);
    return p->ver_g && p->ver_v ? 0 : -1;
}

static void s_pop_free(s_pop_t *p)
{
    free(p->ver_g);
    free(p->ver_v);
    memset(p, 0, sizeof *p);
}

static int s_add_event(s_pop_t *p, s_batch_t *b, int op, popgen_rng_t *r)
{
    uint8_t *data;
    size_t len;
    int rc;
    size_t i;

    switch (op) {
    case OP_G_NEW:
        if (p->n_g >= p->cap)
            return -1;
        i = p->n_g++;
        rc = popgen_graduate_upsert(p->pg, (int)i, 0, &data, &len);
        break;
    case OP_V_NEW:
        if (p->n_v >= p->cap)
            return -1;
        i = p->n_v++;
        rc = popgen_vacancy_upsert(p->pg, (int)i, 0, &data, &len);
        break;
    case OP_G_UPDATE:
        i = popgen_rng_below(r, (uint32_t)p->n_g);
        rc = popgen_graduate_upsert(p->pg, (int)i, ++p->ver_g[i], &data, &len);
        break;
    case OP_V_UPDATE:
        i = popgen_rng_below(r, (uint32_t)p->n_v);
        rc = popgen_vacancy_upsert(p->pg, (int)i, ++p->ver_v[i], &data, &len);
        break;
    case OP_G_WITHDRAW:
        i = popgen_rng_below(r, (uint32_t)p->n_g);
        rc = popgen_graduate_withdrawn(p->pg, (int)i, ++p->ver_g[i], &data, &len);
        break;
    default:
        i = popgen_rng_below(r, (uint32_t)p->n_v);
        rc = popgen_vacancy_closed(p->pg, (int)i, ++p->ver_v[i], &data, &len);
        break;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_ingest: popgen: %s\n", popgen_error(p->pg));
        return -1;
    }
    return s_batch_add(b, data, len, popgen_event_id(p->pg));
}

/* The steady mix: 35 % graduate updates, 35 % vacancy updates, 10 % new
 * graduates, 10 % new vacancies, 5 % withdrawals, 5 % closures. */
static int s_steady_op(popgen_rng_t *r)
{
    uint32_t x = popgen_rng_below(r, 100);
    return x < 35   ? OP_G_UPDATE
           : x < 70 ? OP_V_UPDATE
           : x < 80 ? OP_G_NEW
           : x < 90 ? OP_V_NEW
           : x < 95 ? OP_G_WITHDRAW
                    : OP_V_CLOSE;
}

/* ------------------------------------------------------------------ */
/* perf. */

static pid_t s_perf_start(const s_opts_t *o, pid_t target, size_t n, char *file, size_t fsize)
{
    char pidbuf[32];
    pid_t pid;

    if (mkdir(o->perf_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_ingest: mkdir %s: %s\n", o->perf_dir, strerror(errno));
        return -1;
    }
    snprintf(file, fsize, "%s/perf-%zu.data", o->perf_dir, n);
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)target);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *argv[] = {"perf",
                        "record",
                        "-q",
                        "-F",
                        (char *)o->perf_freq,
                        "--call-graph",
                        (char *)o->perf_callgraph,
                        "-p",
                        pidbuf,
                        "-o",
                        file,
                        NULL};
        execvp("perf", argv);
        _exit(127);
    }
    /* let perf attach */
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    return pid;
}

static void s_perf_stop(pid_t pid)
{
    int st;
    if (pid <= 0)
        return;
    kill(pid, SIGINT);
    for (int i = 0; i < 600; i++) { /* perf writes its buildids: up to 60 s */
        if (waitpid(pid, &st, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    (void)waitpid(pid, &st, 0);
}

/* ------------------------------------------------------------------ */
/* One size. */

static int s_steady_rep(harness_t *h, const s_opts_t *o, s_pop_t *pop, s_batch_t *b, int64_t *lat,
                        size_t n, int rep, s_rep_t *out, size_t *ops, const char *label,
                        int64_t deadline_us)
{
    popgen_rng_t r;
    s_stats_t before, after;
    size_t acked;
    char what[96];
    int rc;

    popgen_rng_seed(&r, o->seed * 1000003ULL + n * 7919ULL + (uint64_t)rep);
    s_batch_clear(b);
    for (size_t k = 0; k < o->steady; k++) {
        int op = s_steady_op(&r);
        if (ops)
            ops[op]++;
        if (s_add_event(pop, b, op, &r) != 0)
            return -1;
    }
    if (s_stats(h, &before) != 0)
        return -1;
    snprintf(what, sizeof what, "N=%zu %s", n, label);
    rc = s_send_all(h, o, b, &out->wall_s, lat, what, deadline_us, &acked);
    if (rc != 0)
        return rc; /* a partial repetition is not reported */
    if (s_stats(h, &after) != 0)
        return -1;
    out->eps = (double)b->n / out->wall_s;
    out->mean_us = out->wall_s * 1e6 / (double)b->n;
    out->p50_us = s_percentile(lat, b->n, 0.50);
    out->p99_us = s_percentile(lat, b->n, 0.99);
    out->batches = after.batches - before.batches;
    out->events = after.events - before.events;
    out->matches = after.match_sequence - before.match_sequence;
    return 0;
}

static int s_run_size(const s_opts_t *o, popgen_t *pg, size_t n, s_result_t *res)
{
    harness_t *h = NULL;
    s_pop_t pop;
    s_batch_t b;
    int64_t *lat = NULL;
    s_stats_t st0, st1;
    size_t total_steady = o->steady * (size_t)(o->reps + (o->perf_dir ? 1 : 0));
    int rc = -1, src;
    double eps[64], mean[64], p50[64], p99[64];
    uint64_t sb = 0, se = 0, sm = 0;
    int64_t deadline = 0;
    char what[64];

    memset(&b, 0, sizeof b);
    memset(res, 0, sizeof *res);
    res->n = n;
    if (s_pop_init(&pop, pg, n + total_steady) != 0)
        goto out;
    lat = calloc(2 * n > o->steady ? 2 * n : o->steady, sizeof *lat);
    if (lat == NULL)
        goto out;

    /* load: graduate 0, vacancy 0, graduate 1, ... */
    fprintf(stderr, "[N=%zu] generating %zu load events\n", n, 2 * n);
    for (size_t i = 0; i < n; i++)
        if (s_add_event(&pop, &b, OP_G_NEW, NULL) != 0 ||
            s_add_event(&pop, &b, OP_V_NEW, NULL) != 0)
            goto out;

    h = harness_new();
    if (h == NULL)
        goto out;
    if (harness_start(h) != 0)
        goto out;
    if (o->time_limit_s > 0)
        deadline = harness_now_us() + (int64_t)o->time_limit_s * 1000000;
    fprintf(stderr, "[N=%zu] matcherd pid %d, store %s\n", n, (int)h->pid, h->data_dir);
    if (s_stats(h, &st0) != 0)
        goto out;
    fprintf(stderr, "[N=%zu] loading %zu events (window %zu)\n", n, b.n, o->window);
    snprintf(what, sizeof what, "N=%zu load", n);
    src = s_send_all(h, o, &b, &res->load_s, lat, what, deadline, &res->load_acked);
    if (src < 0)
        goto out;
    if (s_stats(h, &st1) != 0)
        goto out;
    res->load_eps = res->load_s > 0 ? (double)res->load_acked / res->load_s : 0;
    res->load_p50_us = s_percentile(lat, res->load_acked, 0.50);
    res->load_p99_us = s_percentile(lat, res->load_acked, 0.99);
    res->load_batches = st1.batches - st0.batches;
    res->load_matches = st1.match_sequence - st0.match_sequence;
    fprintf(stderr,
            "[N=%zu] load%s: %zu events acked in %.1f s, %.0f events/s, %" PRIu64
            " feed updates; graduates %" PRIu64 " (available %" PRIu64 "), vacancies %" PRIu64
            " (open %" PRIu64 ")\n",
            n, src ? " (PARTIAL: time limit)" : "", res->load_acked, res->load_s, res->load_eps,
            res->load_matches, st1.graduates, st1.graduates_available, st1.vacancies,
            st1.vacancies_open);

    for (int rep = 0; src == 0 && rep < o->reps; rep++) {
        s_rep_t *rp = &res->reps[rep];
        char label[32];
        snprintf(label, sizeof label, "steady %d/%d", rep + 1, o->reps);
        fprintf(stderr, "[N=%zu] %s: %zu events (matcherd pid %d)\n", n, label, o->steady,
                (int)h->pid);
        src = s_steady_rep(h, o, &pop, &b, lat, n, rep, rp, res->ops, label, deadline);
        if (src < 0)
            goto out;
        if (src > 0)
            break;
        fprintf(stderr,
                "[N=%zu] %s: %.2f s, %.0f events/s, %.1f us/event, p50 %.0f us, "
                "p99 %.0f us, %" PRIu64 " batches, %" PRIu64 " feed updates\n",
                n, label, rp->wall_s, rp->eps, rp->mean_us, rp->p50_us, rp->p99_us, rp->batches,
                rp->matches);
        eps[res->n_reps] = rp->eps;
        mean[res->n_reps] = rp->mean_us;
        p50[res->n_reps] = rp->p50_us;
        p99[res->n_reps] = rp->p99_us;
        sb += rp->batches;
        se += rp->events;
        sm += rp->matches;
        res->n_reps++;
    }
    res->complete = src == 0;
    if (res->n_reps > 0) {
        res->eps = s_median(eps, res->n_reps);
        res->mean_us = s_median(mean, res->n_reps);
        res->p50_us = s_median(p50, res->n_reps);
        res->p99_us = s_median(p99, res->n_reps);
        res->steady_batch_mean = sb ? (double)se / (double)sb : 0;
        res->steady_updates_per_event = se ? (double)sm / (double)se : 0;
    }
    if (s_stats(h, &res->st) != 0)
        goto out;
    s_memory(h->pid, &res->mem);

    if (o->perf_dir && res->complete) {
        s_rep_t extra;
        pid_t perf = s_perf_start(o, h->pid, n, res->perf_file, sizeof res->perf_file);
        fprintf(stderr, "[N=%zu] profiled steady repetition under perf (%s)\n", n, res->perf_file);
        int prc = s_steady_rep(h, o, &pop, &b, lat, n, o->reps, &extra, NULL, "profiled", 0);
        s_perf_stop(perf);
        if (prc != 0)
            goto out;
        fprintf(stderr, "[N=%zu] profiled: %.0f events/s, %.1f us/event (not in the table)\n", n,
                extra.eps, extra.mean_us);
    }

    if (res->complete) {
        if (harness_stop_clean(h) != 0)
            goto out;
    } else {
        /* events are still queued in the daemon: it answers them RETRY, but
         * the batch in hand may take long at this size */
        int status = 0;
        fprintf(stderr, "[N=%zu] stopping matcherd (finishing the batch in hand)\n", n);
        if (harness_stop(h, o->ack_timeout_ms, &status) != 0)
            fprintf(stderr, "[N=%zu] matcherd did not stop within %d ms: killed\n", n,
                    o->ack_timeout_ms);
    }
    harness_pass(h);
    rc = 0;
out:
    if (rc != 0 && h != NULL && h->pid > 0)
        harness_dump_log(h, "benchmark failed");
    harness_destroy(&h);
    s_batch_free(&b);
    s_pop_free(&pop);
    free(lat);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Report. */

static void s_print_table(FILE *f, const s_result_t *r, int n)
{
    fprintf(f, "\n%9s %10s %10s %10s %9s %9s %9s %8s %9s %8s %10s %8s %8s %9s  %s\n", "N/side",
            "load ev/s", "steady/s", "us/event", "p50 us", "p99 us", "batches", "ev/batch",
            "batch_max", "upd/ev", "match_seq", "RSS MiB", "anonMiB", "storeMiB", "status");
    for (int i = 0; i < n; i++) {
        const s_result_t *x = &r[i];
        char status[96];
        if (x->complete)
            snprintf(status, sizeof status, "complete");
        else if (x->load_acked < 2 * x->n)
            snprintf(status, sizeof status, "PARTIAL: load stopped at %zu/%zu events",
                     x->load_acked, 2 * x->n);
        else
            snprintf(status, sizeof status, "PARTIAL: %d steady repetitions done", x->n_reps);
        if (x->n_reps > 0)
            fprintf(f,
                    "%9zu %10.0f %10.1f %10.1f %9.0f %9.0f %9" PRIu64 " %8.1f %9" PRIu64
                    " %8.1f %10" PRIu64 " %8.1f %8.1f %9.1f  %s\n",
                    x->n, x->load_eps, x->eps, x->mean_us, x->p50_us, x->p99_us, x->reps[0].batches,
                    x->steady_batch_mean, x->st.batch_max, x->steady_updates_per_event,
                    x->st.match_sequence, (double)x->mem.rss_kb / 1024,
                    (double)x->mem.anon_kb / 1024, (double)x->st.store_used_bytes / 1048576.0,
                    status);
        else
            fprintf(f,
                    "%9zu %10.0f %10s %10s %9s %9s %9s %8s %9" PRIu64 " %8s %10" PRIu64
                    " %8.1f %8.1f %9.1f  %s\n",
                    x->n, x->load_eps, "-", "-", "-", "-", "-", "-", x->st.batch_max, "-",
                    x->st.match_sequence, (double)x->mem.rss_kb / 1024,
                    (double)x->mem.anon_kb / 1024, (double)x->st.store_used_bytes / 1048576.0,
                    status);
    }
}

static int s_write_csv(const char *path, const s_result_t *r, int n, const s_opts_t *o)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench_ingest: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "n_per_side,complete,load_events,load_acked,load_s,load_events_per_s,load_p50_us,"
               "load_p99_us,"
               "load_batches,load_feed_updates,steady_events,reps,window,"
               "steady_events_per_s_median,mean_us_per_event_median,p50_ack_us_median,"
               "p99_ack_us_median,steady_batches_total,steady_events_per_batch,batch_max,"
               "steady_feed_updates_per_event,match_sequence,events_committed,graduates,"
               "graduates_available,vacancies,vacancies_open,rss_kb,rss_anon_kb,rss_file_kb,"
               "rss_shmem_kb,vm_hwm_kb,store_bytes,store_map_bytes,store_used_bytes,seed\n");
    for (int i = 0; i < n; i++) {
        const s_result_t *x = &r[i];
        uint64_t sb = 0;
        for (int k = 0; k < x->n_reps; k++)
            sb += x->reps[k].batches;
        fprintf(f,
                "%zu,%d,%zu,%zu,%.3f,%.1f,%.0f,%.0f,%" PRIu64 ",%" PRIu64
                ",%zu,%d,%zu,%.1f,%.2f,%.0f,%.0f,"
                "%" PRIu64 ",%.2f,%" PRIu64 ",%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%ld,%ld,%ld,%ld,%ld,%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 "\n",
                x->n, x->complete, 2 * x->n, x->load_acked, x->load_s, x->load_eps, x->load_p50_us,
                x->load_p99_us, x->load_batches, x->load_matches, o->steady, x->n_reps, o->window,
                x->eps, x->mean_us, x->p50_us, x->p99_us, sb, x->steady_batch_mean, x->st.batch_max,
                x->steady_updates_per_event, x->st.match_sequence, x->st.events, x->st.graduates,
                x->st.graduates_available, x->st.vacancies, x->st.vacancies_open, x->mem.rss_kb,
                x->mem.anon_kb, x->mem.file_kb, x->mem.shmem_kb, x->mem.hwm_kb, x->st.store_bytes,
                x->st.store_map_bytes, x->st.store_used_bytes, o->seed);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_ingest: write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    size_t sizes[S_MAX_SIZES];
    int n_sizes;
    static s_result_t results[S_MAX_SIZES];
    popgen_t *pg;
    popgen_opts_t po;
    popgen_info_t info;
    char err[512];
    int done = 0, rc = 0;

    if (s_parse_opts(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    n_sizes = s_parse_sizes(o.sizes, sizes, S_MAX_SIZES);
    if (n_sizes <= 0) {
        fprintf(stderr, "bench_ingest: bad --sizes \"%s\"\n", o.sizes);
        return 2;
    }
    s_query_timeout_ms = o.ack_timeout_ms;
    if (o.matcherd != NULL && setenv("PASSERELLE_MATCHERD", o.matcherd, 1) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);

    memset(&po, 0, sizeof po);
    po.reference_dir = o.reference;
    po.seed = o.seed;
    pg = popgen_new(&po, err, sizeof err);
    if (pg == NULL) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        return 1;
    }
    popgen_get_info(pg, &info);
    fprintf(
        stderr,
        "bench_ingest: reference %s: %zu communes (population %" PRIu64 "), %zu CAP/BAC PRO/TP "
        "certifications of levels 3-4 in scope, %zu ROME codes with %zu skill links; seed %" PRIu64
        "\n",
        o.reference, info.communes, info.population, info.certifications, info.rome_codes,
        info.rome_skill_links, o.seed);

    for (int i = 0; i < n_sizes; i++) {
        if (s_run_size(&o, pg, sizes[i], &results[i]) != 0) {
            fprintf(stderr, "bench_ingest: size %zu failed\n", sizes[i]);
            rc = 1;
            break;
        }
        done++;
    }
    popgen_destroy(&pg);
    if (done == 0)
        return 1;

    printf("\nPasserelle matcherd ingest benchmark (real daemon, loopback ZeroMQ, durable LMDB "
           "commits)\n");
    printf("What was measured, per size N (N graduates and N vacancies, fresh store):\n"
           "  load ev/s  2N upserts (graduate, vacancy alternately) pipelined, window %zu: 2N / "
           "wall time\n"
           "  steady/s   %zu mixed events per repetition, same window, median of %d repetitions;\n"
           "             mix: 35 %% graduate updates, 35 %% vacancy updates, 10 %% new graduates,\n"
           "             10 %% new vacancies, 5 %% withdrawals, 5 %% closures",
           o.window, o.steady, o.reps);
    for (int i = 0; i < done; i++) {
        if (results[i].n_reps == 0)
            continue;
        printf("; drawn at N=%zu over %d repetitions: ", results[i].n, results[i].n_reps);
        for (int k = 0; k < 6; k++)
            printf("%zu %s%s", results[i].ops[k], s_op_names[k], k < 5 ? ", " : "");
        break;
    }
    printf("\n"
           "  us/event   steady wall time / events (median): the daemon's cost per event under a "
           "full pipeline\n"
           "  p50/p99 us send -> ack time of each steady event (median over repetitions); with "
           "%zu in\n"
           "             flight it is mostly queueing (about window x us/event), not service time\n"
           "  batches    write transactions in the first steady repetition; ev/batch: steady "
           "events per batch\n"
           "  batch_max  largest batch since the daemon started (Stats.batch_max)\n"
           "  upd/ev     MatchUpdates recorded per steady event (delta Stats.match_sequence / "
           "events)\n"
           "  match_seq  Stats.match_sequence at the end (load + steady)\n"
           "  RSS        VmRSS of matcherd at the end of the steady phase, nothing excluded: it "
           "counts the\n"
           "             LMDB map pages the process touched (file-backed, RssFile) as well as "
           "its heap (anon)\n"
           "  store      Stats.store_used_bytes (pages of the LMDB data file in use)\n"
           "  status     complete, or PARTIAL when --time-limit stopped the size\n",
           o.window);
    s_print_table(stdout, results, done);
    {
        const s_result_t *a = NULL, *z = NULL;
        for (int i = 0; i < done; i++) {
            if (results[i].n_reps == 0)
                continue;
            if (a == NULL)
                a = &results[i];
            z = &results[i];
        }
        if (a != NULL && z != a) {
            printf("\nper-event cost, N=%zu vs N=%zu (x%.0f population): us/event x%.2f, "
                   "steady events/s x%.3f, feed updates per event x%.2f, load events/s x%.3f\n",
                   z->n, a->n, (double)z->n / (double)a->n, z->mean_us / a->mean_us,
                   z->eps / a->eps,
                   a->steady_updates_per_event > 0
                       ? z->steady_updates_per_event / a->steady_updates_per_event
                       : 0.0,
                   z->load_eps / a->load_eps);
        }
        for (int i = 0; i < done; i++)
            if (!results[i].complete)
                printf("\nN=%zu is PARTIAL (--time-limit %d s): its load ev/s covers the %zu "
                       "events acked, with the population growing from 0 to about %zu per "
                       "side;%s see the progress lines on stderr for the rate as it grew\n",
                       results[i].n, o.time_limit_s, results[i].load_acked,
                       results[i].load_acked / 2, results[i].n_reps ? "" : " no steady figures;");
    }
    printf("\nmemory detail (kB): ");
    for (int i = 0; i < done; i++)
        printf("N=%zu: VmRSS %ld = RssAnon %ld + RssFile %ld + RssShmem %ld, VmHWM %ld%s",
               results[i].n, results[i].mem.rss_kb, results[i].mem.anon_kb, results[i].mem.file_kb,
               results[i].mem.shmem_kb, results[i].mem.hwm_kb, i + 1 < done ? "; " : "\n");
    for (int i = 0; i < done; i++)
        if (results[i].perf_file[0])
            printf("profile of one extra steady repetition at N=%zu: %s\n", results[i].n,
                   results[i].perf_file);
    printf("\nreproduce:\n  cmake -S <repo> -B <repo>/build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo"
           " && cmake --build <repo>/build-bench -j2 --target bench_ingest matcherd\n  ");
    {
        char cwd[1024];
        if (getcwd(cwd, sizeof cwd) != NULL)
            printf("cd %s && ", cwd);
    }
    for (int i = 0; i < argc; i++)
        printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
    if (o.csv != NULL) {
        if (s_write_csv(o.csv, results, done, &o) != 0)
            rc = 1;
        else
            printf("CSV: %s\n", o.csv);
    }
    fflush(stdout);
    return rc;
}
