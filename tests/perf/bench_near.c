/* bench_near.c - the in-memory posting lists at national scale: how long
 * the store takes to build them when it opens, and how much memory they
 * and the heads hold, for a population of the size the daemon is designed
 * for (1,000,000 graduates and 200,000 vacancies).
 *
 * The population is tests/bench/popgen.c's (seed 1), validated and enriched
 * as matcherd does (validate_event, enrich_event) and written with
 * apply_batch WITHOUT the engine (no ranked lists: their cost is not what
 * is measured here), in write transactions of --batch events. Then the
 * store is closed and opened again, and the line the store logs when it
 * has built the lists is printed, with the process's RssAnon before and
 * after the open (the lists and heads as malloc really holds them).
 *
 *   build/tests/bench_near --graduates 1000000 --vacancies 200000
 *
 * With --lists N it then computes the ranked lists (K 20, default weights)
 * of N vacancies and N graduates taken evenly through each table, as
 * matcherd --load does (engine_list_for_load, one thread, nothing stored),
 * and prints lists/s for each side: the retrieval and scoring of the list
 * build, without its writes.
 *
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "engine.h"
#include "enrich.h"
#include "passerelle/v1/ingest.pb-c.h"
#include "popgen.h"
#include "reference.h"
#include "store.h"
#include "validate.h"

#ifndef PASSERELLE_REFERENCE_DIR
#define PASSERELLE_REFERENCE_DIR "deploy/reference"
#endif

static void s_logger(int level, const char *msg)
{
    if (level <= STORE_LOG_WARN || strstr(msg, "posting lists"))
        fprintf(stderr, "store: %s\n", msg);
}

static long s_rss_anon_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static double s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Decode, validate and enrich one packed event into it. */
static int s_judge(const reference_t *ref, const uint8_t *buf, size_t len, apply_item_t *it)
{
    memset(it, 0, sizeof *it);
    Passerelle__V1__Event *msg = passerelle__v1__event__unpack(NULL, len, buf);
    if (!msg)
        return -1;
    int ok = validate_event(msg, &it->ev, &it->verdict) == 0 &&
             enrich_event(ref, &it->ev, &it->verdict) == 0;
    passerelle__v1__event__free_unpacked(msg, NULL);
    it->valid = ok;
    return ok ? 0 : -1;
}

static int s_load(store_t *st, popgen_t *pg, const reference_t *ref, long n_g, long n_v,
                  size_t batch)
{
    apply_item_t *items = calloc(batch, sizeof *items);
    uint8_t **bufs = calloc(batch, sizeof *bufs);
    if (!items || !bufs)
        return -1;
    long total = n_g + n_v, done = 0;
    int rc = 0;
    while (done < total && rc == 0) {
        size_t n = 0;
        for (; n < batch && done < total; n++, done++) {
            uint8_t *buf;
            size_t len;
            /* graduates and vacancies interleaved, as vacancies run out first */
            long i = done;
            int grad = i < 2 * n_v ? i % 2 == 0 : 1;
            long idx = i < 2 * n_v ? i / 2 : i - n_v;
            rc = grad ? popgen_next_graduate(pg, (int)idx, &buf, &len)
                      : popgen_next_vacancy(pg, (int)idx, &buf, &len);
            if (rc != 0 || s_judge(ref, buf, len, &items[n]) != 0) {
                fprintf(stderr, "bench_near: event %ld does not validate: %s\n", i,
                        items[n].verdict.message);
                rc = -1;
                break;
            }
            bufs[n] = malloc(len);
            memcpy(bufs[n], buf, len);
            items[n].payload = bufs[n];
            items[n].payload_len = len;
        }
        apply_batch_t b = {.items = items, .n = n, .now_ms = 1764000000000, .engine = NULL};
        if (rc == 0 && (rc = store_write(st, apply_batch, &b)) != 0)
            fprintf(stderr, "bench_near: store_write: %s\n", store_strerror(rc));
        for (size_t k = 0; k < n; k++)
            free(bufs[k]);
        if ((size_t)(done % 100000) < batch)
            fprintf(stderr, "bench_near: %ld / %ld events\n", done, total);
    }
    free(items);
    free(bufs);
    return rc;
}

/* Every step-th id of a table, up to max of them. */
typedef struct {
    char (*ids)[STORE_ID_MAX + 1];
    size_t n, max;
    unsigned long long seen, step;
} s_pick_t;

static int s_pick_cb(const char *id, size_t len, void *arg)
{
    s_pick_t *p = arg;
    if (p->seen++ % p->step == 0 && p->n < p->max && len <= STORE_ID_MAX) {
        memcpy(p->ids[p->n], id, len);
        p->ids[p->n++][len] = '\0';
    }
    return 0;
}

typedef struct {
    engine_t *engine;
    store_entity_kind_t kind;
    s_pick_t pick;
    store_list_t list;
    size_t computed, entries;
} s_lists_t;

static int s_pick_fn(store_txn_t *txn, void *arg)
{
    s_lists_t *l = arg;
    return store_entity_ids(txn, l->kind, "", 0, s_pick_cb, &l->pick);
}

static int s_lists_fn(store_txn_t *txn, void *arg)
{
    s_lists_t *l = arg;
    for (size_t i = 0; i < l->pick.n; i++) {
        int rc = engine_list_for_load(l->engine, txn, l->kind, l->pick.ids[i], &l->list);
        if (rc != 0 && rc != STORE_ENOTFOUND)
            return rc;
        l->computed += rc == 0;
        l->entries += rc == 0 ? l->list.n : 0;
    }
    return 0;
}

/* The lists of n entities of each side, computed and timed. */
static int s_lists(store_t *st, const reference_t *ref, const store_stats_t *ss, size_t n)
{
    score_weights_t w;
    score_weights_default(&w);
    s_lists_t l = {.engine = engine_new(ref, &w, 20, NULL)};
    l.pick.ids = calloc(n, sizeof *l.pick.ids);
    int rc = l.engine && l.pick.ids ? 0 : -1;
    static const store_entity_kind_t kinds[2] = {STORE_ENTITY_VACANCY, STORE_ENTITY_GRADUATE};
    for (int k = 0; k < 2 && rc == 0; k++) {
        unsigned long long total = k == 0 ? ss->vacancies : ss->graduates;
        l.kind = kinds[k];
        l.pick = (s_pick_t){.ids = l.pick.ids, .max = n, .step = total > n ? total / n : 1};
        l.computed = l.entries = 0;
        if ((rc = store_read(st, s_pick_fn, &l)) != 0)
            break;
        double t0 = s_now();
        if ((rc = store_read(st, s_lists_fn, &l)) != 0)
            break;
        double s = s_now() - t0;
        printf("bench_near: %s lists: %zu in %.2f s, %.0f lists/s, %.0f us each, %.1f entries "
               "each\n",
               k == 0 ? "vacancy" : "graduate", l.computed, s, s > 0 ? (double)l.computed / s : 0,
               l.computed ? s * 1e6 / (double)l.computed : 0,
               l.computed ? (double)l.entries / (double)l.computed : 0);
    }
    if (rc != 0)
        fprintf(stderr, "bench_near: lists: %s\n", store_strerror(rc));
    free(l.pick.ids);
    engine_destroy(&l.engine);
    return rc;
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

int main(int argc, char **argv)
{
    long n_g = 1000000, n_v = 200000;
    size_t batch = 2000, lists = 0;
    const char *refdir = PASSERELLE_REFERENCE_DIR, *reuse = NULL;
    char dir[256] = "/tmp/passerelle-near-bench-XXXXXX", err[256];
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--graduates") == 0)
            n_g = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--vacancies") == 0)
            n_v = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0)
            batch = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reference") == 0)
            refdir = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            reuse = argv[i + 1];
        else if (strcmp(argv[i], "--lists") == 0)
            lists = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_near [--graduates N] [--vacancies M] [--batch B] "
                            "[--reference DIR] [--dir STORE] [--lists N]\n"
                            "  --dir: open this store (loaded if new; kept afterwards)\n"
                            "  --lists: then time the lists of N entities of each side\n");
            return 2;
        }
    }
    if (n_g < n_v || batch == 0) {
        fprintf(stderr, "bench_near: needs graduates >= vacancies and a batch\n");
        return 2;
    }
    store_set_logger(s_logger);
    popgen_opts_t po = {.reference_dir = refdir, .seed = 1};
    popgen_t *pg = popgen_new(&po, err, sizeof err);
    reference_t *ref = pg ? reference_load(refdir, err, sizeof err) : NULL;
    if (reuse && snprintf(dir, sizeof dir, "%s", reuse) >= (int)sizeof dir) {
        fprintf(stderr, "bench_near: --dir: at most %zu bytes\n", sizeof dir - 1);
        return 2;
    }
    if (!ref || (!reuse && !mkdtemp(dir))) {
        fprintf(stderr, "bench_near: %s\n", err);
        return 1;
    }
    store_options_t so = {.map_bytes = (size_t)1 << 30};
    int e = 0, rc = -1, status = 0;
    double t0 = s_now();
    /* loaded by a child process, so that the open below starts from a heap
     * that never held the population: RssAnon then shows the lists */
    int exists = reuse != NULL && access(reuse, F_OK) == 0; /* nothing to load */
    pid_t pid = exists ? -2 : fork();
    if (pid == 0) {
        store_t *ls = store_new(dir, &so, &e);
        rc = ls ? s_load(ls, pg, ref, n_g, n_v, batch) : -1;
        store_destroy(&ls);
        _exit(rc == 0 ? 0 : 1);
    }
    if (pid == -2 || (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                      WEXITSTATUS(status) == 0))
        rc = 0;
    double t1 = s_now();
    store_t *st = NULL;
    if (rc == 0) {
        long before = s_rss_anon_kb();
        double t2 = s_now();
        st = store_new(dir, &so, &e);
        double t3 = s_now();
        long after = s_rss_anon_kb();
        store_stats_t ss;
        if (st && store_read(st, s_stats_fn, &ss) == 0) {
            unsigned long long open = ss.graduates_open + ss.vacancies_open;
            if (!exists)
                printf("bench_near: %ld graduates + %ld vacancies loaded in %.1f s (no engine)\n",
                       n_g, n_v, t1 - t0);
            printf("bench_near: store_new %.2f s; %llu open entities, %llu postings (%.1f per "
                   "entity); memory_bytes %.1f MiB (%.0f per entity); RssAnon %.1f -> %.1f MiB "
                   "(+%.1f MiB, %.0f bytes per entity); store file %.0f MiB\n",
                   t3 - t2, open, (unsigned long long)ss.near_postings,
                   open ? (double)ss.near_postings / (double)open : 0,
                   (double)ss.memory_bytes / 1048576.0,
                   open ? (double)ss.memory_bytes / (double)open : 0, before / 1024.0,
                   after / 1024.0, (after - before) / 1024.0,
                   open ? (after - before) * 1024.0 / (double)open : 0,
                   (double)ss.file_bytes / 1048576.0);
            if (lists > 0 && s_lists(st, ref, &ss, lists) != 0)
                rc = -1;
        } else {
            rc = -1;
        }
        store_destroy(&st);
    }
    if (!reuse)
        nftw(dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    reference_destroy(&ref);
    popgen_destroy(&pg);
    return rc == 0 ? 0 : 1;
}
