/* test_diskfull.c - the store on a disk that fills (DESIGN.md promises 1
 * and 3: nothing acknowledged is lost, the daemon keeps running).
 *
 * Two ways to fill a disk:
 *  - a process file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: every write
 *    past it fails with EFBIG), always available. The daemon must answer
 *    RETRY / STORE_FULL and stay alive (Health says not ready after a
 *    failed commit, until one succeeds); after a restart
 *    with no limit, every acknowledged event is there under its sequence,
 *    every RETRY one is accepted when sent again, and the store passes the
 *    oracle's checks (oracle.h);
 *  - a small tmpfs mounted on the store directory, when this process may
 *    mount (root); skipped with a message otherwise. A filler file takes
 *    most of it; once the store hits ENOSPC, the filler is deleted and the
 *    SAME daemon, not restarted, must accept the events it refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "config.h"
#include "harness.h"
#include "oracle.h"
#include "reference.h"
#include "score.h"
#include "store.h"

#define SRC        "ep-tarbes-sis"
#define SRC_FED    "uimm-occitanie"
#define MAX_EVENTS 40000
#define RETRY_STOP 300 /* RETRY acks to collect before stopping */

typedef struct {
    char id[32];
    uint8_t *bytes;
    size_t len;
    uint64_t seq; /* sequence of its ACCEPTED / DUPLICATE ack, 0 if none */
    int status;   /* last ack status */
} fevent_t;

typedef struct {
    harness_t *h;
    fevent_t ev[MAX_EVENTS];
    size_t n;
    size_t accepted, retry, retry_full, other;
    size_t lost, changed;
    int pass; /* 0: first sending; 1: re-sending */
    size_t *order;
    size_t norder;
    char mnt[320]; /* tmpfs mount point, "" if none */
} fill_t;

/* First sending: graduates with many skills, until enough RETRY. */
static int s_make(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    fill_t *f = p->ctx;
    hev_t *e;
    if (i >= MAX_EVENTS || f->retry >= RETRY_STOP)
        return 1;
    if ((e = calloc(1, sizeof *e)) == NULL)
        return -1;
    fevent_t *fe = &f->ev[i];
    char eid[32];
    snprintf(fe->id, sizeof fe->id, "fill-%zu", i);
    if (i % 4 == 3) { /* vacancies too, so that lists and matches are written */
        snprintf(eid, sizeof eid, "v-fill-%zu", i);
        hev_vacancy(e, SRC_FED, fe->id, HARNESS_T0_MS + (int64_t)i, eid);
    } else {
        snprintf(eid, sizeof eid, "g-fill-%zu", i);
        hev_graduate(e, SRC, fe->id, HARNESS_T0_MS + (int64_t)i, eid);
        hev_graduate_skills(e, 40);
    }
    hev_spread(e, i);
    int rc = hev_pack(e, out);
    free(e);
    if (rc != 0 || (fe->bytes = malloc(out->len)) == NULL)
        return -1;
    memcpy(fe->bytes, out->data, out->len);
    fe->len = out->len;
    f->n = i + 1;
    snprintf(id, HEV_ID_MAX, "%s", fe->id);
    return 0;
}

static int s_on_ack(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    fill_t *f = p->ctx;
    fevent_t *fe = &f->ev[i];
    char abuf[1024];
    fe->status = ack->status;
    if (ack->status == H_ACCEPTED && ack->sequence != 0) {
        fe->seq = ack->sequence;
        f->accepted++;
    } else if (ack->status == H_RETRY) {
        f->retry++;
        if (ack->error == H_ERR(STORE_FULL))
            f->retry_full++;
    } else {
        snprintf(p->err, sizeof p->err, "event %s: %s", fe->id, h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    return 0;
}

/* Re-sending: acknowledged events must come back DUPLICATE with their
 * sequence; the others ACCEPTED (or DUPLICATE: stored though refused,
 * which must not happen and is counted as changed). */
static int s_make_again(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    fill_t *f = p->ctx;
    const fevent_t *fe = &f->ev[f->order[i]];
    return hpipe_copy(out, id, fe->bytes, fe->len, fe->id);
}

static int s_on_ack_again(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    fill_t *f = p->ctx;
    fevent_t *fe = &f->ev[f->order[i]];
    char abuf[1024];
    if (fe->seq != 0) {
        if (ack->status != H_DUPLICATE || ack->sequence != fe->seq) {
            if (f->lost++ < 5)
                fprintf(stderr, "LOST: %s had sequence %" PRIu64 ", now %s\n", fe->id, fe->seq,
                        h_ack_str(ack, abuf, sizeof abuf));
        }
        return 0;
    }
    if (ack->status == H_ACCEPTED && ack->sequence != 0) {
        fe->seq = ack->sequence;
        f->accepted++;
        return 0;
    }
    if (f->changed++ < 5)
        fprintf(stderr, "refused event %s on re-send: %s\n", fe->id,
                h_ack_str(ack, abuf, sizeof abuf));
    return 0;
}

static void s_fill(fill_t *f)
{
    hpipe_t pipe;
    memset(&pipe, 0, sizeof pipe);
    pipe.client = hclient_new(f->h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = SIZE_MAX;
    pipe.window = 64;
    pipe.make = s_make;
    pipe.on_ack = s_on_ack;
    pipe.ctx = f;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("filling: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    hclient_destroy(&pipe.client);
    fprintf(stderr, "filling: %zu events sent, %zu accepted, %zu RETRY (%zu STORE_FULL)\n", f->n,
            f->accepted, f->retry, f->retry_full);
    if (f->accepted == 0 || f->retry < RETRY_STOP)
        fail_msg("the store did not fill: %zu accepted, %zu RETRY", f->accepted, f->retry);
    if (f->retry_full != f->retry)
        fail_msg("%zu RETRY acks without STORE_FULL", f->retry - f->retry_full);
}

/* The daemon is alive and live. Ready must be want_ready when given
 * (1/0); -1: only printed, because while the disk is full a small batch
 * may still fit and make the daemon ready again until the next failure. */
static void s_check_alive(fill_t *f, int want_ready)
{
    bool live = false, ready = false;
    int st;
    if (harness_exited(f->h, &st)) {
        char buf[64];
        fail_msg("the daemon died: %s", harness_status_str(st, buf, sizeof buf));
    }
    assert_int_equal(harness_health(f->h, 5000, &live, &ready), 0);
    assert_true(live);
    fprintf(stderr, "health: live %d, ready %d\n", live, ready);
    if (want_ready >= 0 && ready != (want_ready != 0))
        fail_msg("health says ready=%d, expected %d", ready, want_ready);
}

static void s_resend(fill_t *f)
{
    hpipe_t pipe;
    size_t acked_before = f->accepted;
    f->order = calloc(f->n, sizeof *f->order);
    assert_non_null(f->order);
    f->norder = f->n;
    for (size_t i = 0; i < f->n; i++)
        f->order[i] = i;
    memset(&pipe, 0, sizeof pipe);
    pipe.client = hclient_new(f->h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = f->norder;
    pipe.window = 256;
    pipe.make = s_make_again;
    pipe.on_ack = s_on_ack_again;
    pipe.ctx = f;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("re-sending: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    hclient_destroy(&pipe.client);
    fprintf(stderr,
            "re-sending %zu events: %zu acknowledged ones lost, %zu accepted now, %zu refused "
            "again\n",
            f->n, f->lost, f->accepted - acked_before, f->changed);
    assert_int_equal(f->lost, 0);
    assert_int_equal(f->changed, 0);
}

/* The stopped daemon's store opens and passes the oracle. */
static void s_check_store(fill_t *f)
{
    config_t cfg;
    char err[256], refdir[1024];
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    config_defaults(&cfg);
    snprintf(refdir, sizeof refdir, "%s/deploy/reference", src ? src : "..");
    reference_t *ref = reference_load(src ? refdir : cfg.reference_dir, err, sizeof err);
    if (ref == NULL)
        fail_msg("reference: %s", err);
    score_weights_t w = {cfg.w_skills, cfg.w_certification,   cfg.w_distance,
                         cfg.w_start,  cfg.distance_scale_km, cfg.start_window_days};
    assert_int_equal(score_weights_normalise(&w), 0);
    store_options_t opts = {.read_only = 1};
    int e = 0;
    store_t *st = store_new(f->h->data_dir, &opts, &e);
    if (st == NULL)
        fail_msg("the store does not open: %s", store_strerror(e));
    oracle_report_t rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(oracle_check_lists(st, ref, &w, (unsigned)cfg.k, &rep), 0);
    assert_int_equal(oracle_check_replay(st, (unsigned)cfg.k, &rep), 0);
    store_destroy(&st);
    reference_destroy(&ref);
    oracle_print("store after the disk filled", &rep);
    assert_int_equal(oracle_problems(&rep), 0);
    assert_int_equal(rep.holes, 0);
    assert_int_equal(rep.graduates_open + rep.vacancies_open, f->accepted);
    assert_true(rep.pairs > 0);
}

/* Whether the daemon's log holds text. */
static int s_log_has(const harness_t *h, const char *text)
{
    FILE *fp = fopen(h->log_path, "r");
    char line[1024];
    int found = 0;
    if (fp == NULL)
        return 0;
    while (!found && fgets(line, sizeof line, fp) != NULL)
        found = strstr(line, text) != NULL;
    fclose(fp);
    return found;
}

static void test_file_size_limit(void **state)
{
    fill_t *f = *state;
    f->h->fsize_limit = (long long)harness_env_long("PASSERELLE_DISKFULL_BYTES", 2 << 20);
    fprintf(stderr, "file-size limit: %lld bytes\n", f->h->fsize_limit);
    assert_int_equal(harness_start(f->h), 0);
    s_fill(f);
    s_check_alive(f, -1);
    /* a 64 MiB map cannot be reserved under the limit: ordinary writes */
    assert_true(s_log_has(f->h, "writing through ordinary writes"));
    /* still refusing, still alive: nothing was half-written */
    assert_int_equal(harness_stop_clean(f->h), 0);
    f->h->fsize_limit = 0;
    assert_int_equal(harness_start(f->h), 0);
    s_resend(f);
    s_check_alive(f, 1);
    assert_int_equal(harness_stop_clean(f->h), 0);
    s_check_store(f);
    harness_pass(f->h);
}

/* Make a file of size bytes in dir. */
static int s_filler(const char *path, size_t size)
{
    FILE *fp = fopen(path, "wb");
    static char block[65536];
    int rc = 0;
    if (fp == NULL)
        return -1;
    memset(block, 0x5a, sizeof block);
    for (size_t done = 0; done < size && rc == 0; done += sizeof block)
        rc = fwrite(block, 1, sizeof block, fp) == sizeof block ? 0 : -1;
    if (fclose(fp) != 0)
        rc = -1;
    return rc;
}

/* A tmpfs of PASSERELLE_DISKFULL_TMPFS_MB on the store, a filler leaving
 * ~2 MiB, the daemon started with configuration conf: it fills, refuses,
 * then accepts what it refused once the filler is gone. */
static void s_tmpfs(fill_t *f, const char *conf)
{
    char filler[400], path[400];
    size_t tmpfs_mb = (size_t)harness_env_long("PASSERELLE_DISKFULL_TMPFS_MB", 32);
    char opts[64];
    snprintf(f->mnt, sizeof f->mnt, "%s", f->h->data_dir);
    snprintf(opts, sizeof opts, "size=%zum,mode=0700", tmpfs_mb);
    if (mkdir(f->mnt, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", f->mnt, strerror(errno));
    if (mount("passerelle-test", f->mnt, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "tmpfs test skipped: cannot mount a tmpfs on %s: %s\n", f->mnt,
                strerror(errno));
        f->mnt[0] = '\0';
        harness_pass(f->h);
        skip();
    }
    /* the filler leaves ~2 MiB to the store */
    snprintf(filler, sizeof filler, "%s/filler", f->mnt);
    assert_int_equal(s_filler(filler, (tmpfs_mb - 2) << 20), 0);
    fprintf(stderr, "tmpfs of %zu MiB on %s, filler of %zu MiB\n", tmpfs_mb, f->mnt, tmpfs_mb - 2);
    snprintf(path, sizeof path, "%s/test.conf", f->h->root); /* not on the tmpfs */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(conf, fp);
    assert_int_equal(fclose(fp), 0);
    char args[500];
    snprintf(args, sizeof args, "--config %s", path);
    setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    int rc = harness_start(f->h);
    assert_int_equal(rc, 0);
    s_fill(f);
    s_check_alive(f, -1);
    /* room comes back: the same daemon accepts what it refused */
    assert_int_equal(unlink(filler), 0);
    s_resend(f);
    s_check_alive(f, 1);
    assert_int_equal(harness_stop_clean(f->h), 0);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
    s_check_store(f);
}

/* Ordinary writes: the file grows page by page until a write fails. */
static void test_tmpfs_fills_then_frees(void **state)
{
    fill_t *f = *state;
    s_tmpfs(f, "[store]\nwritemap = no\n");
    harness_pass(f->h);
}

/* A writable map: the file is preallocated to the map's size, so the disk
 * fills at a growth of the map, which is refused (never a fault on a
 * write to a page the disk has not given). */
static void test_tmpfs_writemap(void **state)
{
    fill_t *f = *state;
    s_tmpfs(f, "[store]\nwritemap = yes\nmap_initial_mb = 1\n");
    assert_false(s_log_has(f->h, "writing through ordinary writes"));
    assert_true(s_log_has(f->h, "cannot grow the map"));
    harness_pass(f->h);
}

static int s_setup(void **state)
{
    fill_t *f = calloc(1, sizeof *f);
    if (f == NULL || (f->h = harness_new()) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fill_t *f = *state;
    if (f->h->pid > 0)
        (void)harness_kill(f->h); /* a failed test: the mount must be free */
    if (f->mnt[0] != '\0' && umount2(f->mnt, MNT_DETACH) != 0)
        fprintf(stderr, "umount %s: %s\n", f->mnt, strerror(errno));
    harness_destroy(&f->h);
    for (size_t i = 0; i < f->n; i++)
        free(f->ev[i].bytes);
    free(f->order);
    free(f);
    *state = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_size_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tmpfs_fills_then_frees, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tmpfs_writemap, s_setup, s_teardown),
    };
    harness_cmocka_filter();
    return cmocka_run_group_tests_name("diskfull", tests, NULL, NULL);
}
