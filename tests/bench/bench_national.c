/* bench_national.c - one population size of the national-scale benchmark
 * against the real matcherd (tests/bench/run.sh drives it over every size,
 * with the machine's ceilings and PostgreSQL + PostGIS).
 *
 * For --graduates G and --vacancies V, on a fresh store:
 *   1. load: the population's first upserts, graduates and vacancies
 *      interleaved in the ratio G:V, pipelined; when --load-budget seconds
 *      have passed no more events are sent, so the store holds an exact
 *      prefix of the population (g graduates 0..g-1, v vacancies 0..v-1);
 *   2. export (--export DIR): that prefix as the daemon stores it (the
 *      events validated and enriched by the daemon's own code, the vacancy
 *      skill weights prepared by the daemon's own scorer) in TSV files for
 *      PostgreSQL, and the sample of vacancies queried;
 *   3. queries: --queries TopMatchesRequest (limit 20) for a deterministic
 *      sample of open vacancies, one at a time on one query socket:
 *      latency p50/p99 and queries/s; the answers go to DIR/ours_top20.tsv;
 *   4. throughput: --reps repetitions of mixed events (graduate and vacancy
 *      updates, new graduates and vacancies) sent by --producers pipelining
 *      DEALER producers (--window events in flight in all), each repetition
 *      bounded by --events and --phase-budget seconds: durable events/s;
 *   5. paced latency: at 25 %, 50 % and 75 % of the median throughput,
 *      events sent open-loop on a fixed schedule for --paced-seconds each
 *      (repeated --reps times): ack latency p50/p99 measured from each
 *      event's scheduled send time (no coordinated omission);
 *   6. event-to-feed: --feed-samples new vacancies sent one at a time,
 *      with a subscriber on the employer's topic: time from the send to the
 *      first MatchUpdate naming the vacancy (samples that produce no match
 *      within --feed-wait-ms after the ack are counted, not timed);
 *   7. RSS of matcherd (RssAnon: its own memory; VmRSS: with the LMDB map's
 *      resident file pages) and store bytes per stored entity.
 * Every repeated figure is the median over the repetitions. One CSV row
 * (header + values) goes to --csv; progress and a summary to stderr.
 *
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

#include "enrich.h"
#include "harness.h"
#include "popgen.h"
#include "reference.h"
#include "score.h"
#include "validate.h"

#ifndef PASSERELLE_REFERENCE_DIR
#define PASSERELLE_REFERENCE_DIR "deploy/reference"
#endif

#define S_MAX_REPS 16
#define S_TOPK     20

/* Updates and new entities of a run on a reused store (--store) start
 * this far beyond those of the run before. */
#define S_REUSE_GAP 1000000u
/* Versions were one minute apart when a store's counter file held only the
 * count of runs: their next run starts this many (one-second) versions
 * further per run. */
#define S_LEGACY_MINUTE 60u

typedef struct {
    size_t graduates, vacancies;
    uint64_t seed;
    int reps;
    size_t producers, window, events;
    double load_budget_s, phase_budget_s, paced_s;
    size_t queries, feed_samples;
    int feed_wait_ms;
    const char *csv, *export_dir, *reference, *matcherd;
    const char *store; /* serve this loaded store instead of loading one */
    int bulk;          /* load with matcherd --load (default) instead of through the socket */
} s_opts_t;

static s_opts_t o;
static popgen_t *s_pg;

/* ------------------------------------------------------------------ */

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench_national --graduates G --vacancies V [--seed S] [--reps R]\n"
            "         [--producers P] [--window W] [--events E] [--load-budget S]\n"
            "         [--phase-budget S] [--paced-seconds S] [--queries Q] [--feed-samples F]\n"
            "         [--feed-wait-ms MS] [--csv FILE] [--export DIR] [--reference DIR]\n"
            "         [--matcherd PATH] [--load-mode bulk|socket] [--store DIR]\n"
            "  --graduates/--vacancies  population (10000 each)\n"
            "  --seed           population seed (1)\n"
            "  --reps           repetitions of the throughput and paced phases (3)\n"
            "  --producers      pipelining producers in the throughput phase (4)\n"
            "  --window         events in flight, all producers together (2000)\n"
            "  --events         events per throughput repetition (20000)\n"
            "  --load-budget    stop sending load events after S seconds (600)\n"
            "  --phase-budget   stop a throughput repetition after S seconds (30)\n"
            "  --paced-seconds  duration of each paced load level (8)\n"
            "  --queries        top-20 queries (500)\n"
            "  --feed-samples   event-to-feed samples (100)\n"
            "  --feed-wait-ms   wait for a MatchUpdate after the ack (300)\n"
            "  --csv            write the figures as CSV (header and one row)\n"
            "  --export         write the loaded population and our top-20 answers\n"
            "  --reference      reference data directory (%s)\n"
            "  --matcherd       daemon executable (PASSERELLE_MATCHERD, else ../matcherd)\n"
            "  --load-mode      bulk (default): the population written as a delimited file\n"
            "                   and loaded offline with matcherd --load (timed: events/s,\n"
            "                   list build, lists/s), then the daemon started on that store;\n"
            "                   socket: sent through the ingest socket, bounded by\n"
            "                   --load-budget\n"
            "  --store          skip the load: serve DIR, a store that a bulk load of the\n"
            "                   same sizes and seed made (kept by PASSERELLE_KEEP_TMP=1);\n"
            "                   the run changes it, so give it a copy (a store that\n"
            "                   earlier runs served will do: this run's updates and new\n"
            "                   entities come after theirs, counted in\n"
            "                   DIR/bench_national.runs)\n",
            PASSERELLE_REFERENCE_DIR);
}

static int s_parse(int argc, char **argv)
{
    o.graduates = o.vacancies = 10000;
    o.seed = 1;
    o.reps = 3;
    o.producers = 4;
    o.window = 2000;
    o.events = 20000;
    o.load_budget_s = 600;
    o.phase_budget_s = 30;
    o.paced_s = 8;
    o.queries = 500;
    o.feed_samples = 100;
    o.feed_wait_ms = 300;
    o.reference = PASSERELLE_REFERENCE_DIR;
    o.bulk = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "bench_national: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--graduates"))
            o.graduates = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--vacancies"))
            o.vacancies = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            o.reps = atoi(v);
        else if (!strcmp(a, "--producers"))
            o.producers = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--window"))
            o.window = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--events"))
            o.events = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--load-budget"))
            o.load_budget_s = atof(v);
        else if (!strcmp(a, "--phase-budget"))
            o.phase_budget_s = atof(v);
        else if (!strcmp(a, "--paced-seconds"))
            o.paced_s = atof(v);
        else if (!strcmp(a, "--queries"))
            o.queries = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--feed-samples"))
            o.feed_samples = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--feed-wait-ms"))
            o.feed_wait_ms = atoi(v);
        else if (!strcmp(a, "--csv"))
            o.csv = v;
        else if (!strcmp(a, "--export"))
            o.export_dir = v;
        else if (!strcmp(a, "--reference"))
            o.reference = v;
        else if (!strcmp(a, "--matcherd"))
            o.matcherd = v;
        else if (!strcmp(a, "--store"))
            o.store = v;
        else if (!strcmp(a, "--load-mode") && (!strcmp(v, "bulk") || !strcmp(v, "socket")))
            o.bulk = !strcmp(v, "bulk");
        else {
            fprintf(stderr, "bench_national: unknown option %s\n", a);
            return -1;
        }
    }
    if (o.graduates == 0 || o.vacancies == 0 || o.graduates > 5000000 || o.vacancies > 5000000 ||
        o.reps < 1 || o.reps > S_MAX_REPS || o.producers < 1 || o.producers > 64 ||
        o.window < o.producers || o.events < o.producers || o.paced_s <= 0 ||
        o.load_budget_s <= 0 || o.phase_budget_s <= 0) {
        fprintf(stderr, "bench_national: a size, count or budget is out of range\n");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers. */

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile q of v[0..n) (sorted in place), in the unit of v. */
static double s_pct(int64_t *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, s_cmp_i64);
    size_t k = (size_t)ceil(q * (double)n);
    return (double)v[k ? k - 1 : 0];
}

static double s_median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, s_cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A "Field:   N kB" line of /proc/PID/status (VmRSS: everything resident,
 * the LMDB map's file pages included; RssAnon: the process's own memory). */
/* The daemon's last word on its matching work per entity change (its
 * "engine:" log line at stop), repeated here: the profile behind the
 * throughput figures. */
static void s_engine_line(const harness_t *h)
{
    char line[1024], last[1024] = "";
    FILE *f = fopen(h->log_path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "engine: "))
            memcpy(last, line, sizeof line);
    fclose(f);
    if (last[0])
        fprintf(stderr, "[%zux%zu] daemon %s", o.graduates, o.vacancies, strstr(last, "engine: "));
}

static long s_rss_kb(pid_t pid, const char *field)
{
    size_t flen = strlen(field);
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            kb = strtol(line + flen + 1, NULL, 10);
    fclose(f);
    return kb;
}

/* The load order: event j of the interleaved stream is a vacancy when the
 * share of vacancies among the first j+1 events grows past an integer. */
static int s_load_is_vacancy(size_t j)
{
    size_t tot = o.graduates + o.vacancies;
    return (j + 1) * o.vacancies / tot > j * o.vacancies / tot;
}

/* ------------------------------------------------------------------ */
/* Pipelined sending through hpipe: events made on demand. */

typedef int (*s_gen_fn)(size_t i, uint8_t **buf, size_t *len);

typedef struct {
    s_gen_fn gen;
    size_t first, stride; /* this producer sends events first, first+stride, ... */
    size_t limit;         /* of the whole stream */
    int64_t deadline_us;  /* stop making new events after it */
    size_t accepted, bad;
    char first_bad[512];
} s_feeder_t;

static int s_make(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    s_feeder_t *f = p->ctx;
    size_t k = f->first + i * f->stride;
    uint8_t *buf;
    size_t len;
    if (k >= f->limit || harness_now_us() >= f->deadline_us)
        return 1;
    if (f->gen(k, &buf, &len) != 0 || hbuf_resize(out, len) != 0)
        return -1;
    memcpy(out->data, buf, len);
    snprintf(id, HEV_ID_MAX, "%s", popgen_event_id(s_pg));
    return 0;
}

static int s_on_ack(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    s_feeder_t *f = p->ctx;
    (void)i;
    if (ack->status == H_ACCEPTED) {
        f->accepted++;
    } else if (f->bad++ == 0) {
        h_ack_str(ack, f->first_bad, sizeof f->first_bad);
    }
    return 0;
}

/* A progress line on stderr every 30 s of a long phase. */
typedef struct {
    hpipe_t *pipes;
    size_t n;
    int64_t t0, last;
} s_progress_t;

static int s_progress(void *ctx)
{
    s_progress_t *p = ctx;
    int64_t now = harness_now_us();
    if (now - p->last >= 30000000) {
        size_t acked = 0;
        for (size_t k = 0; k < p->n; k++)
            acked += p->pipes[k].acked;
        fprintf(stderr, "  ... %.0f s: %zu events acked (%.0f/s)\n", (double)(now - p->t0) / 1e6,
                acked, (double)acked / ((double)(now - p->t0) / 1e6));
        p->last = now;
    }
    return HPIPE_GO;
}

/* Send events [0, limit) of gen over n_prod producers until the deadline.
 * Returns the number of events acked ACCEPTED (-1 on failure or when any
 * event was not accepted), *wall_s from start to the last ack. */
static long s_pump(harness_t *h, s_gen_fn gen, size_t limit, size_t n_prod, double budget_s,
                   double *wall_s)
{
    hclient_t *c[64] = {0};
    hpipe_t pipes[64], *pp[64];
    s_feeder_t fd[64];
    long total = 0;
    int64_t t0 = harness_now_us();
    int rc;

    for (size_t k = 0; k < n_prod; k++) {
        c[k] = hclient_new(h, ZMQ_DEALER, NULL);
        if (c[k] == NULL)
            goto fail;
        memset(&fd[k], 0, sizeof fd[k]);
        fd[k].gen = gen;
        fd[k].first = k;
        fd[k].stride = n_prod;
        fd[k].limit = limit;
        fd[k].deadline_us = t0 + (int64_t)(budget_s * 1e6);
        memset(&pipes[k], 0, sizeof pipes[k]);
        pipes[k].client = c[k];
        pipes[k].n = SIZE_MAX;
        pipes[k].window = o.window / n_prod;
        pipes[k].idle_timeout_ms = 300000;
        pipes[k].make = s_make;
        pipes[k].on_ack = s_on_ack;
        pipes[k].ctx = &fd[k];
        pp[k] = &pipes[k];
    }
    s_progress_t prog = {pipes, n_prod, t0, t0};
    rc = hpipe_run_many(pp, n_prod, s_progress, &prog);
    *wall_s = (double)(harness_now_us() - t0) / 1e6;
    for (size_t k = 0; k < n_prod; k++) {
        if (rc != 0 && pipes[k].failed)
            fprintf(stderr, "bench_national: producer %zu: %s\n", k, pipes[k].err);
        if (fd[k].bad) {
            fprintf(stderr, "bench_national: producer %zu: %zu events not accepted, first: %s\n", k,
                    fd[k].bad, fd[k].first_bad);
            rc = -1;
        }
        total += (long)fd[k].accepted;
    }
    for (size_t k = 0; k < n_prod; k++)
        hclient_destroy(&c[k]);
    return rc == 0 ? total : -1;
fail:
    for (size_t k = 0; k < n_prod; k++)
        hclient_destroy(&c[k]);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Event streams. */

static size_t s_next_g, s_next_v; /* first unused graduate / vacancy index */
static size_t s_loaded_g, s_loaded_v;
static unsigned s_version = 1; /* of the next update; see s_mix_done */

static int s_gen_load(size_t j, uint8_t **buf, size_t *len)
{
    /* the number of graduates / vacancies before event j */
    size_t tot = o.graduates + o.vacancies;
    size_t v_before = j * o.vacancies / tot, g_before = j - v_before;
    if (s_load_is_vacancy(j))
        return popgen_next_vacancy(s_pg, (int)v_before, buf, len);
    return popgen_next_graduate(s_pg, (int)g_before, buf, len);
}

/* Mixed stream: 40 % graduate updates, 40 % vacancy updates, 10 % new
 * graduates, 10 % new vacancies. Entity indices are drawn from (seed,
 * stream version, i); new entities take the next unused indices, in the
 * order of i (each producer's events are made in order, so indices are
 * handed out as they are sent: s_mix_new maps (stream, i) to them). */
static size_t *s_mix_new_idx; /* per i: the new entity's index */
static uint8_t *s_mix_kind;   /* per i: 0..3 */
static size_t *s_mix_target;  /* per i: the updated entity */

static int s_mix_prepare(size_t n, size_t *n_new_g, size_t *n_new_v)
{
    popgen_rng_t r;
    free(s_mix_new_idx);
    free(s_mix_kind);
    free(s_mix_target);
    s_mix_new_idx = calloc(n, sizeof *s_mix_new_idx);
    s_mix_kind = calloc(n, 1);
    s_mix_target = calloc(n, sizeof *s_mix_target);
    if (!s_mix_new_idx || !s_mix_kind || !s_mix_target)
        return -1;
    popgen_rng_seed(&r, o.seed * 1000003u + s_version);
    *n_new_g = *n_new_v = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = popgen_rng_below(&r, 100);
        s_mix_kind[i] = x < 40 ? 0 : x < 80 ? 1 : x < 90 ? 2 : 3;
        if (s_mix_kind[i] == 0)
            s_mix_target[i] = popgen_rng_below(&r, (uint32_t)s_loaded_g);
        else if (s_mix_kind[i] == 1)
            s_mix_target[i] = popgen_rng_below(&r, (uint32_t)s_loaded_v);
        else if (s_mix_kind[i] == 2)
            s_mix_new_idx[i] = s_next_g + (*n_new_g)++;
        else
            s_mix_new_idx[i] = s_next_v + (*n_new_v)++;
    }
    return 0;
}

static int s_gen_mix(size_t i, uint8_t **buf, size_t *len)
{
    switch (s_mix_kind[i]) {
    case 0:
        return popgen_graduate_upsert(s_pg, (int)s_mix_target[i], s_version + (unsigned)i, buf,
                                      len);
    case 1:
        return popgen_vacancy_upsert(s_pg, (int)s_mix_target[i], s_version + (unsigned)i, buf, len);
    case 2: return popgen_next_graduate(s_pg, (int)s_mix_new_idx[i], buf, len);
    default: return popgen_next_vacancy(s_pg, (int)s_mix_new_idx[i], buf, len);
    }
}

/* After a mixed stream of n events: new entities not sent are skipped for
 * good (their indices stay unused); update i of a stream carries version
 * s_version + i (one second each after the first upsert: unique event ids,
 * and later than every earlier update), so the next stream starts after. */
static void s_mix_done(size_t n, size_t n_new_g, size_t n_new_v)
{
    s_next_g += n_new_g;
    s_next_v += n_new_v;
    s_version += (unsigned)n;
}

/* ------------------------------------------------------------------ */
/* Export for PostgreSQL. */

static reference_t *s_ref;

static void s_tsv_array(FILE *f, const char *const *v, size_t n)
{
    fputc('{', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "," : "", v[i]);
    fputc('}', f);
}

static int s_decode(const uint8_t *buf, size_t len, matcher_event_t *ev)
{
    matcher_verdict_t vd;
    Passerelle__V1__Event *msg = passerelle__v1__event__unpack(NULL, len, buf);
    int rc;
    if (msg == NULL)
        return -1;
    rc = validate_event(msg, ev, &vd);
    passerelle__v1__event__free_unpacked(msg, NULL);
    if (rc == 0)
        rc = enrich_event(s_ref, ev, &vd);
    if (rc != 0)
        fprintf(stderr, "bench_national: export: event refused: %s: %s\n", vd.field, vd.message);
    return rc;
}

/* graduates.tsv: id, lat, lon, radius_km, contracts, licence,
 * available_from (days), max_level, certs{}, romes{}, skills{}.
 * vacancies.tsv: id, open, lat, lon, max_distance_km, contract, licence,
 * min_level, start_date, rncps{}, romes{}, adjacent romes{}, skills{},
 * weights{} (importance x rarity as the daemon's scorer prepares them),
 * total weight. Only open entities with a point are scored; the flags say
 * which. */
static int s_export(const char *dir, int32_t today, size_t *n_open_v)
{
    char path[1024];
    FILE *fg = NULL, *fv = NULL;
    matcher_event_t *ev = malloc(sizeof *ev);
    score_vacancy_t *sv = malloc(sizeof *sv);
    int rc = -1;
    if (ev == NULL || sv == NULL)
        goto out;
    snprintf(path, sizeof path, "%s/graduates.tsv", dir);
    if ((fg = fopen(path, "w")) == NULL)
        goto out;
    snprintf(path, sizeof path, "%s/vacancies.tsv", dir);
    if ((fv = fopen(path, "w")) == NULL)
        goto out;
    for (size_t i = 0; i < s_loaded_g; i++) {
        uint8_t *buf;
        size_t len;
        const char *a[STORE_SKILLS_MAX + STORE_CERTS_MAX];
        if (popgen_next_graduate(s_pg, (int)i, &buf, &len) != 0 || s_decode(buf, len, ev) != 0)
            goto out;
        const store_graduate_t *g = &ev->u.grad;
        uint8_t lvl = 0;
        for (size_t k = 0; k < g->n_certs; k++)
            lvl = g->certs[k].level > lvl ? g->certs[k].level : lvl;
        fprintf(fg, "%s\t%d\t%.17g\t%.17g\t%d\t%u\t%d\t%d\t%d\t", g->id, g->home.has_point,
                g->home.lat, g->home.lon, (int)g->radius_km, (unsigned)g->contracts,
                (int)g->licence, (int)g->available_from, (int)lvl);
        for (size_t k = 0; k < g->n_certs; k++)
            a[k] = g->certs[k].rncp;
        s_tsv_array(fg, a, g->n_certs);
        fputc('\t', fg);
        for (size_t k = 0; k < g->n_romes; k++)
            a[k] = g->romes[k];
        s_tsv_array(fg, a, g->n_romes);
        fputc('\t', fg);
        for (size_t k = 0; k < g->n_skills; k++)
            a[k] = g->skills[k].code;
        s_tsv_array(fg, a, g->n_skills);
        fputc('\n', fg);
    }
    *n_open_v = 0;
    for (size_t i = 0; i < s_loaded_v; i++) {
        uint8_t *buf;
        size_t len;
        const char *a[256];
        size_t na = 0;
        if (popgen_next_vacancy(s_pg, (int)i, &buf, &len) != 0 || s_decode(buf, len, ev) != 0)
            goto out;
        const store_vacancy_t *v = &ev->u.vac;
        /* the daemon's timer closes a vacancy whose expiry day is past */
        int open = v->expires_on == 0 || v->expires_on >= today;
        *n_open_v += (size_t)open;
        fprintf(fv, "%s\t%d\t%d\t%.17g\t%.17g\t%d\t%d\t%d\t%d\t%d\t", v->id, open,
                v->site.has_point, v->site.lat, v->site.lon, (int)v->max_distance_km,
                (int)v->contract, (int)v->licence_required, (int)v->min_level, (int)v->start_date);
        for (size_t k = 0; k < v->n_rncps; k++)
            a[k] = v->rncps[k];
        s_tsv_array(fv, a, v->n_rncps);
        fputc('\t', fv);
        for (size_t k = 0; k < v->n_romes; k++)
            a[k] = v->romes[k];
        s_tsv_array(fv, a, v->n_romes);
        fputc('\t', fv);
        /* graduate ROME a is a career move away from vacancy ROME b when
         * b is among a's moves or a's moves_in (reference_rome_adjacent):
         * collect every a of the reference data for which that holds */
        for (size_t k = 0; k < v->n_romes; k++) {
            const ref_rome_t *rb = reference_rome(s_ref, v->romes[k]);
            for (size_t m = 0; rb && m < rb->n_moves + rb->n_moves_in; m++) {
                const char *cand = m < rb->n_moves ? rb->moves[m] : rb->moves_in[m - rb->n_moves];
                int dup = 0;
                if (!reference_rome_adjacent(s_ref, cand, v->romes[k]))
                    continue; /* not adjacent in the direction scored */
                for (size_t q = 0; q < na; q++)
                    dup |= !strcmp(a[q], cand);
                if (!dup && na < 256)
                    a[na++] = cand;
            }
        }
        s_tsv_array(fv, a, na);
        fputc('\t', fv);
        score_prepare_vacancy(s_ref, v, sv);
        for (size_t k = 0; k < sv->n_skills; k++)
            a[k] = sv->skills[k].code;
        s_tsv_array(fv, a, sv->n_skills);
        fputs("\t{", fv);
        for (size_t k = 0; k < sv->n_skills; k++)
            fprintf(fv, "%s%.17g", k ? "," : "", (double)sv->skills[k].weight);
        fprintf(fv, "}\t%.17g\n", sv->total_weight);
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench_national: export to %s failed (%s)\n", dir, strerror(errno));
    if (fg && fclose(fg) != 0)
        rc = -1;
    if (fv && fclose(fv) != 0)
        rc = -1;
    free(ev);
    free(sv);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Queries. */

static void *s_dealer(harness_t *h, const char *ep)
{
    void *s = zmq_socket(h->zctx, ZMQ_DEALER);
    int zero = 0;
    if (s == NULL)
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, ep) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Receive one message within timeout_ms into a malloc'ed buffer. */
static int s_recv(void *s, int timeout_ms, zmq_msg_t *m)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return -1;
    zmq_msg_init(m);
    if (zmq_msg_recv(m, s, 0) < 0) {
        zmq_msg_close(m);
        return -1;
    }
    return 0;
}

/* The sample of vacancies queried: distinct open ones, deterministic. */
static size_t *s_sample;
static size_t s_n_sample;

static int s_pick_sample(const uint8_t *open)
{
    popgen_rng_t r;
    size_t tries = 0;
    s_sample = calloc(o.queries ? o.queries : 1, sizeof *s_sample);
    if (s_sample == NULL)
        return -1;
    popgen_rng_seed(&r, o.seed * 7919u + 17);
    while (s_n_sample < o.queries && tries++ < o.queries * 50) {
        size_t i = popgen_rng_below(&r, (uint32_t)s_loaded_v);
        int dup = 0;
        if (!open[i])
            continue;
        for (size_t k = 0; k < s_n_sample && !dup; k++)
            dup = s_sample[k] == i;
        if (!dup)
            s_sample[s_n_sample++] = i;
    }
    return 0;
}

static int s_queries(harness_t *h, FILE *out, double *qps, double *p50, double *p99,
                     size_t *answered, double *mean_len)
{
    void *s = s_dealer(h, h->query_ep);
    int64_t *lat = calloc(s_n_sample ? s_n_sample : 1, sizeof *lat);
    int64_t t0;
    size_t total_len = 0;
    int rc = -1;
    if (s == NULL || lat == NULL)
        goto out;
    t0 = harness_now_us();
    for (size_t k = 0; k < s_n_sample; k++) {
        char vid[80], emp[80], rid[32];
        Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
        Passerelle__V1__TopMatchesRequest tm = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
        uint8_t buf[512];
        zmq_msg_t m;
        popgen_vacancy_id(s_pg, (int)s_sample[k], vid, emp);
        snprintf(rid, sizeof rid, "q%zu", k);
        req.request_id = rid;
        tm.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
        tm.vacancy_id = vid;
        tm.limit = S_TOPK;
        req.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
        req.top_matches = &tm;
        size_t n = passerelle__v1__request__pack(&req, buf);
        int64_t ts = harness_now_us();
        if (zmq_send(s, buf, n, 0) != (int)n || s_recv(s, 60000, &m) != 0) {
            fprintf(stderr, "bench_national: query %zu: no answer\n", k);
            goto out;
        }
        lat[k] = harness_now_us() - ts;
        Passerelle__V1__Response *r =
            passerelle__v1__response__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (r == NULL || r->result_case != PASSERELLE__V1__RESPONSE__RESULT_TOP_MATCHES ||
            strcmp(r->request_id, rid) != 0) {
            fprintf(stderr, "bench_national: query %zu (%s): bad answer (%s)\n", k, vid,
                    r && r->message ? r->message : "undecodable");
            if (r)
                passerelle__v1__response__free_unpacked(r, NULL);
            goto out;
        }
        total_len += r->top_matches->n_matches;
        for (size_t i = 0; out && i < r->top_matches->n_matches; i++) {
            const Passerelle__V1__RankedMatch *x = r->top_matches->matches[i];
            fprintf(out, "%s\t%u\t%s\t%.9f\n", vid, x->rank, x->graduate_id, x->score);
        }
        if (out && r->top_matches->n_matches == 0)
            fprintf(out, "%s\t0\t\t0\n", vid);
        passerelle__v1__response__free_unpacked(r, NULL);
    }
    {
        double wall = (double)(harness_now_us() - t0) / 1e6;
        *qps = wall > 0 ? (double)s_n_sample / wall : 0;
    }
    *answered = s_n_sample;
    *mean_len = s_n_sample ? (double)total_len / (double)s_n_sample : 0;
    *p50 = s_pct(lat, s_n_sample, 0.50);
    *p99 = s_pct(lat, s_n_sample, 0.99);
    rc = 0;
out:
    if (s)
        zmq_close(s);
    free(lat);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Open-loop paced sending on one DEALER: event i is due at t0 + i / rate
 * and sent then (or as soon after as the loop gets to it); its latency is
 * ack time - due time, so a stalled daemon is charged for the whole wait. */

static int s_paced(harness_t *h, double rate, double seconds, double *p50, double *p99,
                   double *achieved)
{
    size_t n = rate * seconds >= 1 ? (size_t)(rate * seconds) : 1, n_new_g = 0, n_new_v = 0,
           sent = 0, acked = 0;
    int64_t *due = calloc(n ? n : 1, sizeof *due), *lat = calloc(n ? n : 1, sizeof *lat);
    void *s = s_dealer(h, h->ingest_ep);
    int64_t t0, last_progress;
    int rc = -1;
    if (n == 0 || due == NULL || lat == NULL || s == NULL || s_mix_prepare(n, &n_new_g, &n_new_v))
        goto out;
    t0 = harness_now_us() + 10000;
    for (size_t i = 0; i < n; i++)
        due[i] = t0 + (int64_t)((double)i * 1e6 / rate);
    last_progress = t0;
    while (acked < n) {
        int64_t now = harness_now_us();
        while (sent < n && due[sent] <= now) {
            uint8_t *buf;
            size_t len;
            if (s_gen_mix(sent, &buf, &len) != 0 || zmq_send(s, buf, len, 0) != (int)len)
                goto out;
            sent++;
        }
        long wait_ms = 0;
        if (sent < n) {
            int64_t d = due[sent] - harness_now_us();
            wait_ms = d > 0 ? (long)(d / 1000) : 0;
        } else {
            wait_ms = 100;
        }
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, wait_ms) < 0 && errno != EINTR)
            goto out;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            Passerelle__V1__Ack *a =
                passerelle__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            zmq_msg_close(&m);
            if (a == NULL || a->status != H_ACCEPTED) {
                char d[512];
                fprintf(stderr, "bench_national: paced: event not accepted: %s\n",
                        a ? h_ack_str(a, d, sizeof d) : "undecodable ack");
                if (a)
                    passerelle__v1__ack__free_unpacked(a, NULL);
                goto out;
            }
            passerelle__v1__ack__free_unpacked(a, NULL);
            lat[acked] = harness_now_us() - due[acked]; /* acks come in order */
            acked++;
            last_progress = harness_now_us();
        }
        if (harness_now_us() - last_progress > 120000000) {
            fprintf(stderr, "bench_national: paced: no ack for 120 s\n");
            goto out;
        }
    }
    *achieved = (double)n / ((double)(harness_now_us() - t0) / 1e6);
    *p50 = s_pct(lat, n, 0.50);
    *p99 = s_pct(lat, n, 0.99);
    rc = 0;
out:
    s_mix_done(n, n_new_g, n_new_v);
    if (s)
        zmq_close(s);
    free(due);
    free(lat);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Event-to-feed: a new vacancy, sent alone; time to the first MatchUpdate
 * naming it on its employer's topic. */

static int s_feed_latency(harness_t *h, double *p50, double *p99, size_t *timed, size_t *no_match)
{
    void *sub = zmq_socket(h->zctx, ZMQ_SUB), *s = s_dealer(h, h->ingest_ep);
    int64_t *lat = calloc(o.feed_samples ? o.feed_samples : 1, sizeof *lat);
    int zero = 0, rc = -1;
    *timed = *no_match = 0;
    if (sub == NULL || s == NULL || lat == NULL)
        goto out;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(sub, h->feed_ep) != 0)
        goto out;
    for (size_t k = 0; k < o.feed_samples; k++) {
        char vid[80], emp[80], topic[100];
        popgen_vacancy_id(s_pg, (int)(s_next_v + k), vid, emp);
        snprintf(topic, sizeof topic, "employer/%s", emp);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    }
    usleep(300000); /* let the subscriptions reach the daemon's XPUB */
    for (size_t k = 0; k < o.feed_samples; k++) {
        char vid[80], emp[80];
        uint8_t *buf;
        size_t len;
        int acked = 0, got = 0;
        int64_t ts, ack_at = 0;
        zmq_msg_t m;
        popgen_vacancy_id(s_pg, (int)(s_next_v + k), vid, emp);
        if (popgen_next_vacancy(s_pg, (int)(s_next_v + k), &buf, &len) != 0)
            goto out;
        while (s_recv(sub, 0, &m) == 0) /* drop what earlier samples left */
            zmq_msg_close(&m);
        ts = harness_now_us();
        if (zmq_send(s, buf, len, 0) != (int)len)
            goto out;
        while (!got) {
            zmq_pollitem_t it[2] = {{s, 0, ZMQ_POLLIN, 0}, {sub, 0, ZMQ_POLLIN, 0}};
            int64_t now = harness_now_us();
            if (acked && now - ack_at > (int64_t)o.feed_wait_ms * 1000)
                break;
            if (!acked && now - ts > 120000000) {
                fprintf(stderr, "bench_national: feed: no ack for 120 s\n");
                goto out;
            }
            if (zmq_poll(it, 2, 20) < 0 && errno != EINTR)
                goto out;
            if ((it[0].revents & ZMQ_POLLIN) && s_recv(s, 0, &m) == 0) {
                Passerelle__V1__Ack *a =
                    passerelle__v1__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
                zmq_msg_close(&m);
                if (a == NULL || a->status != H_ACCEPTED) {
                    fprintf(stderr, "bench_national: feed: vacancy %s not accepted\n", vid);
                    if (a)
                        passerelle__v1__ack__free_unpacked(a, NULL);
                    goto out;
                }
                passerelle__v1__ack__free_unpacked(a, NULL);
                acked = 1;
                ack_at = harness_now_us();
            }
            while (!got && s_recv(sub, 0, &m) == 0) {
                int more = zmq_msg_more(&m);
                zmq_msg_close(&m); /* the topic frame */
                if (!more || s_recv(sub, 0, &m) != 0)
                    continue;
                int64_t at = harness_now_us();
                Passerelle__V1__MatchUpdate *u =
                    passerelle__v1__match_update__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
                zmq_msg_close(&m);
                if (u && strcmp(u->vacancy_id, vid) == 0) {
                    lat[(*timed)++] = at - ts;
                    got = 1;
                }
                if (u)
                    passerelle__v1__match_update__free_unpacked(u, NULL);
            }
        }
        if (!got)
            (*no_match)++;
    }
    *p50 = s_pct(lat, *timed, 0.50);
    *p99 = s_pct(lat, *timed, 0.99);
    s_next_v += o.feed_samples;
    rc = 0;
out:
    if (sub)
        zmq_close(sub);
    if (s)
        zmq_close(s);
    free(lat);
    return rc;
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Bulk load: the population as a delimited file, matcherd --load. */

typedef struct {
    double write_s;  /* generating and writing the file */
    double events_s; /* matcherd --load: events stored */
    double events_per_s;
    double lists_s; /* list build */
    double lists_per_s;
    double total_s; /* the whole matcherd --load run */
    uint64_t accepted, rejected, lists, entities;
} s_bulk_t;

static void s_varint(FILE *f, uint64_t v)
{
    while (v >= 0x80) {
        fputc((int)(v & 0x7f) | 0x80, f);
        v >>= 7;
    }
    fputc((int)v, f);
}

static int s_bulk_load(harness_t *h, s_bulk_t *b)
{
    char path[512], log[512], line[1024];
    size_t tot = o.graduates + o.vacancies;
    memset(b, 0, sizeof *b);
    snprintf(path, sizeof path, "%s/population.pb", h->root);
    snprintf(log, sizeof log, "%s/load.log", h->root);
    int64_t t0 = harness_now_us();
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    for (size_t j = 0; j < tot; j++) {
        uint8_t *buf;
        size_t len;
        if (s_gen_load(j, &buf, &len) != 0) {
            fclose(f);
            return -1;
        }
        s_varint(f, len);
        if (fwrite(buf, 1, len, f) != len) {
            fclose(f);
            return -1;
        }
    }
    if (fclose(f) != 0)
        return -1;
    b->write_s = (double)(harness_now_us() - t0) / 1e6;
    fprintf(stderr, "[%zux%zu] bulk: %zu events written to %s in %.1f s\n", o.graduates,
            o.vacancies, tot, path, b->write_s);
    t0 = harness_now_us();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(h->matcherd, h->matcherd, "--data", h->data_dir, "--load", path, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    b->total_s = (double)(harness_now_us() - t0) / 1e6;
    f = fopen(log, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
        const char *p = strstr(line, "load summary: ");
        unsigned long long ev, acc, dup, rej, lists, ents;
        if (p && sscanf(p,
                        "load summary: %llu events (%llu accepted, %llu duplicate, %llu "
                        "rejected) in %lf s, %lf events/s; %llu lists for %llu entities in %lf "
                        "s, %lf lists/s",
                        &ev, &acc, &dup, &rej, &b->events_s, &b->events_per_s, &lists, &ents,
                        &b->lists_s, &b->lists_per_s) == 10) {
            b->accepted = acc;
            b->rejected = rej;
            b->lists = lists;
            b->entities = ents;
        }
    }
    if (f)
        fclose(f);
    (void)unlink(path);
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3) ||
        b->entities == 0) {
        fprintf(stderr, "bench_national: matcherd --load failed (status %d)\n", status);
        return -1;
    }
    fprintf(stderr,
            "[%zux%zu] bulk load: %" PRIu64 " events in %.1f s (%.0f/s, %" PRIu64
            " rejected); lists: %" PRIu64 " for %" PRIu64 " entities in %.1f s (%.0f/s); "
            "matcherd --load total %.1f s\n",
            o.graduates, o.vacancies, b->accepted + b->rejected, b->events_s, b->events_per_s,
            b->rejected, b->lists, b->entities, b->lists_s, b->lists_per_s, b->total_s);
    return 0;
}

int main(int argc, char **argv)
{
    popgen_opts_t po;
    char err[512];
    harness_t *h = NULL;
    hstats_t st0, st1;
    int rc = 1;
    uint8_t *open_v = NULL;
    FILE *ours = NULL;
    double load_s = 0, load_eps = 0;
    size_t n_open_v = 0;
    double q_qps = NAN, q_p50 = NAN, q_p99 = NAN, q_len = 0;
    size_t q_n = 0;
    double tp[S_MAX_REPS], tp_med = NAN;
    double pl_p50[3] = {NAN, NAN, NAN}, pl_p99[3] = {NAN, NAN, NAN}, pl_rate[3] = {0, 0, 0};
    double f_p50 = NAN, f_p99 = NAN;
    size_t f_timed = 0, f_none = 0;
    long rss_kb = -1, anon_kb = -1;
    int32_t today = (int32_t)(time(NULL) / 86400);
    int load_complete = 0;
    s_bulk_t bulk;
    memset(&bulk, 0, sizeof bulk);

    if (s_parse(argc, argv) != 0) {
        s_usage(stderr);
        return 2;
    }
    /* At the design population the daemon builds its in-memory index of
     * 1.2 million entities before it binds its sockets (20-40 s here): the
     * harness's default wait for readiness (15 s) is for tests. */
    if (setenv("PASSERELLE_START_TIMEOUT_MS", "900000", 0) != 0) {
        perror("bench_national: setenv");
        return 1;
    }
    if (o.matcherd != NULL && setenv("PASSERELLE_MATCHERD", o.matcherd, 1) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    memset(&po, 0, sizeof po);
    po.reference_dir = o.reference;
    po.seed = o.seed;
    if ((s_pg = popgen_new(&po, err, sizeof err)) == NULL ||
        (s_ref = reference_load(o.reference, err, sizeof err)) == NULL) {
        fprintf(stderr, "bench_national: %s\n", err);
        return 1;
    }
    if ((h = harness_new()) == NULL)
        goto out;
    if (o.store != NULL) {
        /* 1. no load: the store of an earlier bulk load, in place of the
         * harness's empty data directory */
        char *abs = realpath(o.store, NULL);
        if (abs == NULL || rmdir(h->data_dir) != 0 || symlink(abs, h->data_dir) != 0) {
            fprintf(stderr, "bench_national: --store %s: %s\n", o.store, strerror(errno));
            free(abs);
            goto out;
        }
        /* the store may have served earlier runs of this benchmark (each
         * sends far fewer than S_REUSE_GAP events), counted in a file
         * beside it: this one's updates come after theirs and its new
         * entities take unused indices */
        unsigned runs = 0, stored = 0;
        uint64_t version;
        char counter[PATH_MAX + 32];
        (void)snprintf(counter, sizeof counter, "%s/bench_national.runs", abs);
        FILE *f = fopen(counter, "r");
        int got = f != NULL ? fscanf(f, "%u %u", &runs, &stored) : 0;
        if (got < 1)
            runs = 0;
        version = stored;
        if (got < 2) /* no version yet: every run's updates were a minute apart */
            version = (uint64_t)(runs + 1) * S_REUSE_GAP * S_LEGACY_MINUTE;
        if (f != NULL)
            fclose(f);
        if (version > UINT_MAX - 2 * S_REUSE_GAP) {
            fprintf(stderr, "bench_national: --store: %s has served too many runs\n", abs);
            free(abs);
            goto out;
        }
        /* the counter file: runs so far, first version of the next run */
        if ((f = fopen(counter, "w")) == NULL ||
            fprintf(f, "%u %" PRIu64 "\n", runs + 1, version + S_REUSE_GAP) < 0 || fclose(f) != 0) {
            fprintf(stderr, "bench_national: --store: cannot write %s\n", counter);
            free(abs);
            goto out;
        }
        fprintf(stderr, "[%zux%zu] no load: serving the store in %s (run %u on it)\n", o.graduates,
                o.vacancies, abs, runs + 1);
        free(abs);
        s_loaded_g = o.graduates;
        s_loaded_v = o.vacancies;
        s_next_g = o.graduates + (size_t)(runs + 1) * S_REUSE_GAP;
        s_next_v = o.vacancies + (size_t)(runs + 1) * S_REUSE_GAP;
        s_version = (unsigned)version;
        load_complete = 1;
    } else if (o.bulk) {
        /* 1. load, offline */
        if (s_bulk_load(h, &bulk) != 0)
            goto out;
        s_loaded_g = s_next_g = o.graduates;
        s_loaded_v = s_next_v = o.vacancies;
        load_s = bulk.total_s;
        load_eps = bulk.events_per_s;
        load_complete = bulk.accepted == o.graduates + o.vacancies;
    }
    if (harness_start(h) != 0)
        goto out;
    fprintf(stderr, "[%zux%zu] matcherd pid %d, store %s\n", o.graduates, o.vacancies, (int)h->pid,
            h->data_dir);

    /* 1. load, through the socket */
    if (!o.bulk && o.store == NULL) {
        double wall;
        long n = s_pump(h, s_gen_load, o.graduates + o.vacancies, 1, o.load_budget_s, &wall);
        if (n < 0)
            goto out;
        size_t tot = o.graduates + o.vacancies;
        s_loaded_v = (size_t)n * o.vacancies / tot;
        s_loaded_g = (size_t)n - s_loaded_v;
        s_next_g = s_loaded_g;
        s_next_v = s_loaded_v;
        load_s = wall;
        load_eps = wall > 0 ? (double)n / wall : 0;
        load_complete = (size_t)n == tot;
        fprintf(stderr,
                "[%zux%zu] load: %ld events in %.1f s (%.0f/s): %zu graduates, %zu "
                "vacancies%s\n",
                o.graduates, o.vacancies, n, wall, load_eps, s_loaded_g, s_loaded_v,
                load_complete ? "" : " (PARTIAL: load budget reached)");
    }
    if (s_loaded_v == 0 || s_loaded_g == 0) {
        fprintf(stderr, "bench_national: nothing loaded within the budget\n");
        goto out;
    }
    usleep(1500000); /* the daemon's timer closes expired vacancies */
    if (harness_stats(h, &st0) != 0)
        goto out;

    /* 2. export */
    if ((open_v = calloc(s_loaded_v, 1)) == NULL)
        goto out;
    {
        matcher_event_t *ev = malloc(sizeof *ev);
        if (ev == NULL)
            goto out;
        for (size_t i = 0; i < s_loaded_v; i++) {
            uint8_t *buf;
            size_t len;
            if (popgen_next_vacancy(s_pg, (int)i, &buf, &len) != 0 || s_decode(buf, len, ev)) {
                free(ev);
                goto out;
            }
            open_v[i] = ev->u.vac.expires_on == 0 || ev->u.vac.expires_on >= today;
            n_open_v += open_v[i];
        }
        free(ev);
    }
    fprintf(stderr,
            "[%zux%zu] open vacancies: %zu by the expiry dates, %" PRIu64
            " by the daemon's stats\n",
            o.graduates, o.vacancies, n_open_v, st0.vacancies_open);
    if (o.export_dir != NULL) {
        char path[1024];
        size_t n2;
        if (s_export(o.export_dir, today, &n2) != 0)
            goto out;
        snprintf(path, sizeof path, "%s/ours_top20.tsv", o.export_dir);
        if ((ours = fopen(path, "w")) == NULL)
            goto out;
    }

    /* 3. queries, on the population as loaded */
    if (s_pick_sample(open_v) != 0)
        goto out;
    if (s_queries(h, ours, &q_qps, &q_p50, &q_p99, &q_n, &q_len) != 0)
        goto out;
    if (ours && fclose(ours) != 0)
        goto out;
    ours = NULL;
    fprintf(stderr,
            "[%zux%zu] top-20 queries: %zu, %.0f/s, p50 %.0f us, p99 %.0f us, %.1f matches "
            "each\n",
            o.graduates, o.vacancies, q_n, q_qps, q_p50, q_p99, q_len);

    /* 4. throughput */
    for (int r = 0; r < o.reps; r++) {
        size_t ng, nv;
        double wall;
        if (s_mix_prepare(o.events, &ng, &nv) != 0)
            goto out;
        long n = s_pump(h, s_gen_mix, o.events, o.producers, o.phase_budget_s, &wall);
        s_mix_done(o.events, ng, nv);
        if (n < 0)
            goto out;
        tp[r] = (double)n / wall;
        fprintf(stderr, "[%zux%zu] throughput %d/%d: %ld events in %.1f s, %.0f/s\n", o.graduates,
                o.vacancies, r + 1, o.reps, n, wall, tp[r]);
    }
    tp_med = s_median(tp, o.reps);

    /* 5. paced */
    for (int l = 0; l < 3; l++) {
        double a50[S_MAX_REPS], a99[S_MAX_REPS], ach[S_MAX_REPS];
        double rate = tp_med * 0.25 * (l + 1);
        for (int r = 0; r < o.reps; r++) {
            if (s_paced(h, rate, o.paced_s, &a50[r], &a99[r], &ach[r]) != 0)
                goto out;
            fprintf(stderr,
                    "[%zux%zu] paced %d%% (%.0f/s) %d/%d: p50 %.0f us, p99 %.0f us, "
                    "achieved %.0f/s\n",
                    o.graduates, o.vacancies, 25 * (l + 1), rate, r + 1, o.reps, a50[r], a99[r],
                    ach[r]);
        }
        pl_p50[l] = s_median(a50, o.reps);
        pl_p99[l] = s_median(a99, o.reps);
        pl_rate[l] = rate;
    }

    /* 6. event to feed */
    if (o.feed_samples > 0) {
        if (s_feed_latency(h, &f_p50, &f_p99, &f_timed, &f_none) != 0)
            goto out;
        fprintf(stderr,
                "[%zux%zu] event-to-feed: %zu timed (%zu produced no match), p50 %.0f us, "
                "p99 %.0f us\n",
                o.graduates, o.vacancies, f_timed, f_none, f_p50, f_p99);
    }

    /* 7. memory and store */
    rss_kb = s_rss_kb(h->pid, "VmRSS");
    anon_kb = s_rss_kb(h->pid, "RssAnon");
    if (harness_stats(h, &st1) != 0)
        goto out;
    if (harness_stop_clean(h) != 0)
        goto out;
    s_engine_line(h);
    harness_pass(h);

    {
        uint64_t ents = st1.graduates + st1.vacancies;
        double bpe = ents ? (double)st1.store_used_bytes / (double)ents : 0;
        FILE *f = o.csv ? fopen(o.csv, "w") : stdout;
        if (f == NULL)
            goto out;
        fprintf(f, "graduates_target,vacancies_target,load_complete,graduates_loaded,"
                   "vacancies_loaded,vacancies_open,load_s,load_events_per_s,"
                   "ingest_events_per_s,producers,window,reps,"
                   "paced25_rate,paced25_p50_us,paced25_p99_us,paced50_rate,paced50_p50_us,"
                   "paced50_p99_us,paced75_rate,paced75_p50_us,paced75_p99_us,"
                   "feed_p50_us,feed_p99_us,feed_timed,feed_no_match,"
                   "query_n,query_per_s,query_p50_us,query_p99_us,query_mean_matches,"
                   "rss_kb,rss_anon_kb,store_bytes,stored_entities,store_bytes_per_entity,seed,"
                   "load_mode,load_events_s,load_lists_s,load_lists,load_lists_per_s,"
                   "load_write_s\n");
        fprintf(f,
                "%zu,%zu,%d,%zu,%zu,%zu,%.2f,%.1f,%.1f,%zu,%zu,%d,"
                "%.1f,%.0f,%.0f,%.1f,%.0f,%.0f,%.1f,%.0f,%.0f,"
                "%.0f,%.0f,%zu,%zu,%zu,%.1f,%.0f,%.0f,%.2f,%ld,%ld,%" PRIu64 ",%" PRIu64
                ",%.0f,%" PRIu64 ",%s,%.2f,%.2f,%" PRIu64 ",%.1f,%.2f\n",
                o.graduates, o.vacancies, load_complete, s_loaded_g, s_loaded_v, n_open_v, load_s,
                load_eps, tp_med, o.producers, o.window, o.reps, pl_rate[0], pl_p50[0], pl_p99[0],
                pl_rate[1], pl_p50[1], pl_p99[1], pl_rate[2], pl_p50[2], pl_p99[2], f_p50, f_p99,
                f_timed, f_none, q_n, q_qps, q_p50, q_p99, q_len, rss_kb, anon_kb,
                st1.store_used_bytes, ents, bpe, o.seed, o.bulk ? "bulk" : "socket", bulk.events_s,
                bulk.lists_s, bulk.lists, bulk.lists_per_s, bulk.write_s);
        if (f != stdout && fclose(f) != 0)
            goto out;
    }
    rc = 0;
out:
    if (ours)
        fclose(ours);
    if (rc != 0 && h != NULL && h->pid > 0)
        harness_dump_log(h, "benchmark failed");
    harness_destroy(&h);
    free(open_v);
    free(s_sample);
    free(s_mix_new_idx);
    free(s_mix_kind);
    free(s_mix_target);
    reference_destroy(&s_ref);
    popgen_destroy(&s_pg);
    return rc;
}
