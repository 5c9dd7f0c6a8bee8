/* test_store_upgrade.c - a store of the oldest on-disk format (1) is
 * upgraded to the current one (STORE_FORMAT_VERSION) by matcherd at start-up, on a real store
 * written by a format-1 matcherd. (test_store's
 * test_upgrade_v2_match_index upgrades a format-2 store with a match log
 * of several blocks.)
 *
 * The fixture, tests/fixtures/store_v1.mdbdump, is the `mdb_dump -a` text
 * of a store that a format-1 matcherd wrote from the events of
 * s_fixture_event() (graduates and vacancies with ranked lists, a match
 * log, a withdrawal and a closure). Each test recreates the store with
 * `mdb_load` (lmdb-utils) in a temporary directory, so the old code is not
 * needed to run them. The integer keys of the dump are native (x86-64,
 * little-endian), as LMDB stores them.
 *
 * To make the fixture again, build a format-1 matcherd (the commit before
 * format 2) and run, from the source tree:
 *   PASSERELLE_MATCHERD=/path/to/format-1/matcherd \
 *   PASSERELLE_MAKE_V1_FIXTURE=$PWD/tests/fixtures/store_v1.mdbdump \
 *   build/tests/test_store_upgrade
 *
 * The tests:
 *  - upgrade: matcherd starts on the format-1 store, logs a warning naming
 *    both versions, and the store is then of the current format without
 *    the ten dropped tables (format 2's eight, format 5's places index)
 *    nor the match log's index by graduate, with the index
 *    by blocks (empty: the fixture's log is shorter than a block), while
 *    every other table is byte for byte what it was
 *    (meta apart from "format" and the expiry job's day); the daemon serves
 *    the ranked lists the format-1 store held, answers a re-sent event of
 *    the fixture with DUPLICATE, accepts new events and matches them with
 *    the old ones. If deploy/reference/ changes, matcherd recomputes every
 *    ranked list at start (a documented behaviour, whatever the format):
 *    the test then says so and compares only what that leaves alone;
 *    remaking the fixture restores the full comparison;
 *  - crash: a process killed in the middle of the upgrade (after the
 *    tables were dropped, before the commit) leaves the whole format-1
 *    store, which the next open upgrades;
 *  - newer: a store of a version this code does not know is refused, both
 *    versions named, and left as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <zmq.h>

#include "harness.h"
#include "store.h"
#include "store_v2.h"

/* ---- the fixture's events ------------------------------------------------ */

#define N_GRADUATES 8
#define N_VACANCIES 6
#define N_EVENTS    (N_GRADUATES + N_VACANCIES + 2)

/* Event i of the fixture into e. Everything sits in Tarbes (the builders'
 * place), so every vacancy ranks every open graduate; the graduates differ
 * by their skills. Ends with a withdrawal and a closure. */
static void s_fixture_event(size_t i, hev_t *e)
{
    char id[32], ev[32];
    int64_t at = HARNESS_T0_MS + (int64_t)i * 1000;
    if (i < N_GRADUATES) {
        (void)snprintf(id, sizeof id, "g-%02zu", i);
        (void)snprintf(ev, sizeof ev, "ev-g-%02zu", i);
        hev_graduate(e, "sis-test", ev, at, id);
        hev_graduate_skills(e, 1 + i % 4);
    } else if (i < N_GRADUATES + N_VACANCIES) {
        (void)snprintf(id, sizeof id, "v-%02zu", i - N_GRADUATES);
        (void)snprintf(ev, sizeof ev, "ev-v-%02zu", i - N_GRADUATES);
        hev_vacancy(e, "ats-test", ev, at, id);
    } else if (i == N_GRADUATES + N_VACANCIES) {
        hev_withdraw(e, "sis-test", "ev-g-wd", at, "g-07", "0650043X");
    } else {
        hev_close(e, "ats-test", "ev-v-close", at, "v-05", "12345678900012");
    }
}

/* ---- tables --------------------------------------------------------------- */

/* The tables the current format keeps, with their flags; ranked: what matcherd
 * recomputes at start when the reference data changed (the ranked lists,
 * the match log and meta with their counters); lists: in lists.mdb since
 * format 4. */
static const struct {
    const char *name;
    unsigned flags;
    int ranked, lists;
} s_kept[] = {
    {"meta", 0, 1, 0},
    {"graduates", 0, 0, 0},
    {"vacancies", 0, 0, 0},
    {"dedupe", 0, 0, 0},
    {"events", MDB_INTEGERKEY, 0, 0},
    {"entity_events", MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP, 0, 0},
    {"lists", 0, 1, 1},
    {"list_members", MDB_DUPSORT, 1, 1},
    {"matches", MDB_INTEGERKEY, 1, 0},
    {"ix_v_expiry", MDB_DUPSORT, 0, 0},
};
#define N_KEPT (sizeof s_kept / sizeof s_kept[0])

/* Formats 1 and 2's index of the match log by graduate, which format 3
 * replaced with match_blocks. */
#define S_BY_GRADUATE       "match_by_graduate"
#define S_BY_GRADUATE_FLAGS (MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP)

/* The tables format 2 dropped, then those format 5 dropped (the places
 * index, kept in memory only), in the order the upgrade drops them. */
static const char *const s_dropped[] = {"ix_g_skill", "ix_g_cert", "ix_g_cell", "ix_g_rome",
                                        "ix_v_skill", "ix_v_cert", "ix_v_rome", "ix_v_cell",
                                        "ix_g_near",  "ix_v_near"};
#define N_DROPPED (sizeof s_dropped / sizeof s_dropped[0])

/* An LMDB environment opened read-only on dir, with one read txn. */
typedef struct {
    MDB_env *env;
    MDB_txn *txn;
} raw_t;

static void s_raw_open_flags(raw_t *r, const char *path, unsigned flags)
{
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 64), 0);
    assert_int_equal(mdb_env_open(r->env, path, MDB_RDONLY | MDB_NOTLS | flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn), 0);
}

static void s_raw_open(raw_t *r, const char *dir)
{
    s_raw_open_flags(r, dir, 0);
}

/* lists.mdb of the store in dir. */
static void s_raw_open_lists(raw_t *r, const char *dir)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/lists.mdb", dir);
    s_raw_open_flags(r, path, MDB_NOSUBDIR);
}

static void s_raw_close(raw_t *r)
{
    mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
}

/* Entries of table name, or -1 if it does not exist. */
static long s_raw_entries(raw_t *r, const char *name, unsigned flags)
{
    MDB_dbi dbi;
    MDB_stat st;
    int rc = mdb_dbi_open(r->txn, name, flags, &dbi);
    if (rc == MDB_NOTFOUND)
        return -1;
    assert_int_equal(rc, 0);
    assert_int_equal(mdb_stat(r->txn, dbi, &st), 0);
    return (long)st.ms_entries;
}

static uint32_t s_raw_format(raw_t *r)
{
    MDB_dbi dbi;
    MDB_val k = {6, "format"}, v;
    assert_int_equal(mdb_dbi_open(r->txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(r->txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    const uint8_t *b = v.mv_data;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* 1 if the daemon whose log is log loaded the reference data version the
 * store at r was ranked with (meta "s:reference_version"). */
static int s_same_reference(raw_t *r, const char *log)
{
    MDB_dbi dbi;
    MDB_val k = {strlen("s:reference_version"), "s:reference_version"}, v;
    char want[320];
    assert_int_equal(mdb_dbi_open(r->txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(r->txn, dbi, &k, &v), 0);
    (void)snprintf(want, sizeof want, "reference %.*s from ", (int)v.mv_size,
                   (const char *)v.mv_data);
    if (strstr(log, want) != NULL)
        return 1;
    fprintf(stderr,
            "NOTE: the reference data changed since the fixture was made (%s): matcherd "
            "recomputed the ranked lists at start, so the lists, the match log and meta are "
            "not compared with the format-1 store; remake the fixture (see the header)\n",
            want);
    return 0;
}

/* Meta keys the daemon may rewrite at any start whatever the format: the
 * day the expiry job last ran, the version (the upgrade's own write), the
 * count of commits (lists.mdb names the last), and the feed's topics saved
 * for the next start ("t:" + topic, and the match they cover). */
static int s_meta_skipped(const MDB_val *k)
{
    static const char *const skip[] = {"format", "s:expiry_checked_day", "commit_no",
                                       "topics_upto"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (k->mv_size == strlen(skip[i]) && memcmp(k->mv_data, skip[i], k->mv_size) == 0)
            return 1;
    return k->mv_size > 2 && memcmp(k->mv_data, "t:", 2) == 0;
}

/* Every (key, value) of table name in a and b is the same, in the same
 * order; in meta, the keys of s_meta_skipped are passed over. Returns the
 * number compared. */
static size_t s_raw_same(raw_t *a, raw_t *b, const char *name, unsigned flags)
{
    MDB_dbi da, db;
    MDB_cursor *ca, *cb;
    MDB_val ka, va, kb, vb;
    size_t n = 0;
    int meta = strcmp(name, "meta") == 0;
    assert_int_equal(mdb_dbi_open(a->txn, name, flags, &da), 0);
    assert_int_equal(mdb_dbi_open(b->txn, name, flags, &db), 0);
    assert_int_equal(mdb_cursor_open(a->txn, da, &ca), 0);
    assert_int_equal(mdb_cursor_open(b->txn, db, &cb), 0);
    int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST), rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
    for (;;) {
        while (meta && ra == 0 && s_meta_skipped(&ka))
            ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        while (meta && rb == 0 && s_meta_skipped(&kb))
            rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
        if (ra != 0 || rb != 0)
            break;
        if (ka.mv_size != kb.mv_size || memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 ||
            va.mv_size != vb.mv_size || memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0)
            fail_msg("table %s differs at entry %zu (key '%.*s')", name, n, (int)ka.mv_size,
                     (const char *)ka.mv_data);
        n++;
        ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
    }
    if (ra != MDB_NOTFOUND || rb != MDB_NOTFOUND)
        fail_msg("table %s: one side has more entries after %zu (%d, %d)", name, n, ra, rb);
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return n;
}

/* ---- helpers -------------------------------------------------------------- */

static char s_logs[16384];

static void s_logger(int level, const char *msg)
{
    (void)level;
    size_t len = strlen(s_logs);
    (void)snprintf(s_logs + len, sizeof s_logs - len, "%s\n", msg);
}

/* Load the fixture into dir (created). */
static void s_load_fixture(const char *dir)
{
    char cmd[2048];
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    assert_non_null(src);
    assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
    /* its stderr kept aside: it warns about every header keyword it skips */
    (void)snprintf(cmd, sizeof cmd,
                   "mdb_load -f '%s/tests/fixtures/store_v1.mdbdump' '%s' 2>'%s.mdb_load.err'", src,
                   dir, dir);
    if (system(cmd) != 0)
        fail_msg("'%s' failed (lmdb-utils installed?)", cmd);
}

static void s_slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f != NULL) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
}

/* Start the daemon with the feed's retention off: the fixture's match log
 * is older than any retention window. */
static void s_start(harness_t *h)
{
    char conf[400], args[500];
    (void)snprintf(conf, sizeof conf, "%s/test.conf", h->root);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs("[feed]\nretention_days = 0\nretention_max_updates = 0\n", f);
    fclose(f);
    (void)snprintf(args, sizeof args, "--config %s", conf);
    setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    int rc = harness_start(h);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
    assert_int_equal(rc, 0);
}

/* The ranked list of (kind, id) as "id:micro,..." read with the store API
 * from a store opened read-only (format 1 or 3). */
typedef struct {
    store_entity_kind_t kind;
    const char *id;
    store_list_t l;
} list_arg_t;

static int s_fn_list(store_txn_t *txn, void *arg)
{
    list_arg_t *a = arg;
    return store_list_get(txn, a->kind, a->id, &a->l);
}

static void s_list_str(store_t *st, store_entity_kind_t kind, const char *id, char *out, size_t cap)
{
    static list_arg_t a;
    a.kind = kind;
    a.id = id;
    assert_int_equal(store_read(st, s_fn_list, &a), 0);
    out[0] = '\0';
    for (size_t i = 0; i < a.l.n; i++) {
        size_t len = strlen(out);
        (void)snprintf(out + len, cap - len, "%s%s", i ? "," : "", a.l.e[i].id);
    }
}

static int s_call_status(hclient_t *c, const hev_t *e)
{
    Passerelle__V1__Ack *ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    assert_non_null(ack);
    int status = ack->status;
    passerelle__v1__ack__free_unpacked(ack, NULL);
    return status;
}

/* ---- making the fixture ---------------------------------------------------- */

/* With PASSERELLE_MAKE_V1_FIXTURE=path: send the fixture's events to the
 * matcherd of PASSERELLE_MATCHERD (a format-1 one), stop it and dump its
 * store into path. Not a test: the way the committed fixture was made. */
static int s_make_fixture(const char *path)
{
    static hev_t e;
    char cmd[2048];
    harness_t *h = harness_new();
    if (h == NULL)
        return 1;
    setenv("PASSERELLE_MATCHERD_ARGS", "", 1);
    if (harness_start(h) != 0)
        return 1;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    for (size_t i = 0; i < N_EVENTS; i++) {
        memset(&e, 0, sizeof e);
        s_fixture_event(i, &e);
        Passerelle__V1__Ack *ack = hclient_call(c, &e, HARNESS_ACK_TIMEOUT_MS);
        if (ack == NULL || ack->status != H_ACCEPTED) {
            fprintf(stderr, "fixture event %zu not accepted\n", i);
            return 1;
        }
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }
    hclient_destroy(&c);
    if (harness_stop_clean(h) != 0)
        return 1;
    (void)snprintf(cmd, sizeof cmd, "mdb_dump -a -f '%s' '%s'", path, h->data_dir);
    int rc = system(cmd);
    harness_pass(h);
    harness_destroy(&h);
    fprintf(stderr, "%s: %s\n", cmd, rc == 0 ? "done" : "FAILED");
    return rc == 0 ? 0 : 1;
}

/* ---- tests ---------------------------------------------------------------- */

static const char *const s_owners[] = {"g-00", "g-03", "g-06", "v-00", "v-04"};

static store_entity_kind_t s_kind_of(const char *id)
{
    return id[0] == 'g' ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
}

static void test_upgrade_at_start(void **state)
{
    (void)state;
    static hev_t e;
    static char before[5][4096], got[4096], log[65536];
    char ref[400];
    long ref_dropped[N_DROPPED];
    harness_t *h = harness_new();
    assert_non_null(h);
    (void)snprintf(ref, sizeof ref, "%s/ref", h->root);
    s_load_fixture(h->data_dir);
    s_load_fixture(ref);

    /* the fixture is a format-1 store whose dropped tables hold entries */
    raw_t r;
    s_raw_open(&r, ref);
    assert_int_equal(s_raw_format(&r), 1);
    for (size_t i = 0; i < N_DROPPED; i++) {
        ref_dropped[i] = s_raw_entries(&r, s_dropped[i], MDB_DUPSORT);
        assert_true(ref_dropped[i] > 0);
    }
    s_raw_close(&r);

    /* before: the lists as the format-1 store holds them (a read-only open
     * reads format 1 as it is, without upgrading) */
    store_options_t ro = {.read_only = 1};
    int err = -99;
    store_t *st = store_new(ref, &ro, &err);
    assert_non_null(st);
    for (size_t i = 0; i < 5; i++) {
        s_list_str(st, s_kind_of(s_owners[i]), s_owners[i], before[i], sizeof before[i]);
        assert_true(before[i][0] != '\0');
    }
    store_destroy(&st);

    /* the daemon upgrades at start and says so */
    s_start(h);
    s_slurp(h->log_path, log, sizeof log);
    char want[128];
    (void)snprintf(want, sizeof want,
                   "on-disk format version 1, this matcherd writes version %d: upgrading the "
                   "store to version %d",
                   STORE_FORMAT_VERSION, STORE_FORMAT_VERSION);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "upgrade: dropped table match_by_graduate"));
    assert_non_null(strstr(log, "upgrade: match_blocks built (0 blocks of 16384, 0 matches)"));
    assert_non_null(strstr(log, "upgrade: dropped table ix_v_cell"));
    assert_non_null(strstr(log, "upgrade: dropped table ix_v_near"));

    /* it serves the format-1 lists (unless new reference data made it
     * rank everything again) */
    s_raw_open(&r, ref);
    int same_ref = s_same_reference(&r, log);
    s_raw_close(&r);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(harness_top_ids(h, s_kind_of(s_owners[i]) == STORE_ENTITY_GRADUATE,
                                         s_owners[i], got, sizeof got),
                         0);
        if (same_ref)
            assert_string_equal(got, before[i]);
        else
            assert_true(got[0] != '\0');
    }
    /* the fixture's dedupe rows hold: its events come back DUPLICATE */
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(c);
    for (size_t i = 0; i < N_EVENTS; i += 5) {
        memset(&e, 0, sizeof e);
        s_fixture_event(i, &e);
        assert_int_equal(s_call_status(c, &e), H_DUPLICATE);
    }
    hclient_destroy(&c);
    assert_int_equal(harness_stop_clean(h), 0);

    /* the current format, the eleven tables gone, match_blocks there, the lists moved
     * to lists.mdb, everything else as it was */
    raw_t a, b, bl;
    s_raw_open(&a, ref);
    s_raw_open(&b, h->data_dir);
    s_raw_open_lists(&bl, h->data_dir);
    assert_int_equal(s_raw_format(&a), 1);
    assert_int_equal(s_raw_format(&b), STORE_FORMAT_VERSION);
    assert_int_equal(s_raw_entries(&b, "lists", 0), -1);
    assert_int_equal(s_raw_entries(&b, "list_members", MDB_DUPSORT), -1);
    for (size_t i = 0; i < N_DROPPED; i++)
        assert_int_equal(s_raw_entries(&b, s_dropped[i], MDB_DUPSORT), -1);
    assert_true(s_raw_entries(&a, S_BY_GRADUATE, S_BY_GRADUATE_FLAGS) > 0);
    assert_int_equal(s_raw_entries(&b, S_BY_GRADUATE, S_BY_GRADUATE_FLAGS), -1);
    assert_int_equal(s_raw_entries(&b, "match_blocks", 0), 0);
    size_t compared = 0;
    for (size_t i = 0; i < N_KEPT; i++)
        if (same_ref || !s_kept[i].ranked)
            compared += s_raw_same(&a, s_kept[i].lists ? &bl : &b, s_kept[i].name, s_kept[i].flags);
    assert_true(compared > 100);
    s_raw_close(&a);
    s_raw_close(&b);
    s_raw_close(&bl);

    /* the upgraded store takes new events, matched against the old ones;
     * a restart does not upgrade again */
    s_start(h);
    c = hclient_new(h, ZMQ_DEALER, NULL);
    memset(&e, 0, sizeof e);
    hev_graduate(&e, "sis-test", "ev-new-g", HARNESS_T0_MS + 100000, "g-new");
    hev_graduate_skills(&e, 4);
    assert_int_equal(s_call_status(c, &e), H_ACCEPTED);
    memset(&e, 0, sizeof e);
    hev_vacancy(&e, "ats-test", "ev-new-v", HARNESS_T0_MS + 101000, "v-new");
    assert_int_equal(s_call_status(c, &e), H_ACCEPTED);
    assert_int_equal(s_call_status(c, &e), H_DUPLICATE);
    hclient_destroy(&c);
    assert_int_equal(harness_top_ids(h, true, "g-new", got, sizeof got), 0);
    assert_non_null(strstr(got, "v-00")); /* an old vacancy found through the places index */
    assert_non_null(strstr(got, "v-new"));
    assert_null(strstr(got, "v-05")); /* closed in the fixture */
    assert_int_equal(harness_top_ids(h, false, "v-new", got, sizeof got), 0);
    assert_non_null(strstr(got, "g-00")); /* an old graduate found through the places index */
    assert_non_null(strstr(got, "g-new"));
    assert_null(strstr(got, "g-07")); /* withdrawn in the fixture */
    hstats_t s;
    assert_int_equal(harness_stats(h, &s), 0);
    assert_int_equal(s.graduates, N_GRADUATES + 1);
    assert_int_equal(s.vacancies, N_VACANCIES + 1);
    assert_int_equal(harness_stop_clean(h), 0);
    s_slurp(h->log_path, log, sizeof log);
    const char *first = strstr(log, "upgrading the store");
    assert_non_null(first);
    assert_null(strstr(first + 1, "upgrading the store"));
    harness_pass(h);
    harness_destroy(&h);
}

/* Logger of the child of test_crash_mid_upgrade: dies once the last table
 * is dropped, inside the upgrade's write transaction, before its commit. */
static void s_die_after_drops(int level, const char *msg)
{
    (void)level;
    if (strstr(msg, "upgrade: dropped table ix_v_near") != NULL)
        (void)raise(SIGKILL);
}

static void test_crash_mid_upgrade(void **state)
{
    (void)state;
    char dir[] = "/tmp/passerelle-upgrade.XXXXXX", data[64], cmd[128];
    long entries[N_DROPPED];
    assert_non_null(mkdtemp(dir));
    (void)snprintf(data, sizeof data, "%s/data", dir);
    s_load_fixture(data);
    raw_t r;
    s_raw_open(&r, data);
    for (size_t i = 0; i < N_DROPPED; i++)
        entries[i] = s_raw_entries(&r, s_dropped[i], MDB_DUPSORT);
    s_raw_close(&r);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store_set_logger(s_die_after_drops);
        int err = 0;
        store_t *st = store_new(data, NULL, &err);
        (void)st;
        _exit(3); /* the upgrade finished: it should have been killed first */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* the whole format-1 store is still there */
    s_raw_open(&r, data);
    assert_int_equal(s_raw_format(&r), 1);
    for (size_t i = 0; i < N_DROPPED; i++)
        assert_int_equal(s_raw_entries(&r, s_dropped[i], MDB_DUPSORT), entries[i]);
    s_raw_close(&r);

    /* and the next open upgrades it */
    s_logs[0] = '\0';
    store_set_logger(s_logger);
    int err = -99;
    store_t *st = store_new(data, NULL, &err);
    assert_non_null(st);
    assert_int_equal(err, 0);
    store_destroy(&st);
    store_set_logger(NULL);
    char want[64];
    (void)snprintf(want, sizeof want, "format version %d written", STORE_FORMAT_VERSION);
    assert_non_null(strstr(s_logs, want));
    s_raw_open(&r, data);
    assert_int_equal(s_raw_format(&r), STORE_FORMAT_VERSION);
    for (size_t i = 0; i < N_DROPPED; i++)
        assert_int_equal(s_raw_entries(&r, s_dropped[i], MDB_DUPSORT), -1);
    s_raw_close(&r);
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_newer_version_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/passerelle-upgrade.XXXXXX", data[64], cmd[128];
    assert_non_null(mkdtemp(dir));
    (void)snprintf(data, sizeof data, "%s/data", dir);
    s_load_fixture(data);
    /* make it a store of the next format */
    const int newer = STORE_FORMAT_VERSION + 1;
    uint8_t ver[4] = {(uint8_t)newer, 0, 0, 0};
    char want[128];
    harness_raw_put(data, "meta", "format", 6, ver, sizeof ver);

    s_logs[0] = '\0';
    store_set_logger(s_logger);
    int err = 0;
    assert_null(store_new(data, NULL, &err));
    assert_int_equal(err, STORE_EVERSION);
    store_options_t ro = {.read_only = 1};
    assert_null(store_new(data, &ro, &err));
    assert_int_equal(err, STORE_EVERSION);
    store_set_logger(NULL);
    (void)snprintf(want, sizeof want,
                   "on-disk format version %d, this matcherd understands version %d (the store "
                   "was written by a newer matcherd); refusing",
                   newer, STORE_FORMAT_VERSION);
    assert_non_null(strstr(s_logs, want));
    if (strstr(s_logs, "upgrading the store") != NULL || strstr(s_logs, "dropped table") != NULL)
        fail_msg("a newer store was not left alone:\n%s", s_logs);

    /* untouched: still of the next format with every table */
    raw_t r;
    s_raw_open(&r, data);
    assert_int_equal(s_raw_format(&r), newer);
    for (size_t i = 0; i < N_DROPPED; i++)
        assert_true(s_raw_entries(&r, s_dropped[i], MDB_DUPSORT) > 0);
    s_raw_close(&r);

    /* and the daemon will not start on it */
    static char log[8192];
    (void)snprintf(cmd, sizeof cmd, "%s/matcherd.log", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(cmd, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(99);
        char ep[3][96];
        const char *exe = getenv("PASSERELLE_MATCHERD");
        for (int i = 0; i < 3; i++)
            (void)snprintf(ep[i], sizeof ep[i], "ipc://%s/%c", dir, "ifq"[i]);
        execl(exe, exe, "--data", data, "--ingest", ep[0], "--feed", ep[1], "--query", ep[2],
              (char *)NULL);
        _exit(98);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    s_slurp(cmd, log, sizeof log);
    (void)snprintf(want, sizeof want,
                   "on-disk format version %d, this matcherd understands version %d", newer,
                   STORE_FORMAT_VERSION);
    assert_non_null(strstr(log, want));
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- a format-2 store with a long match log --------------------------------- */

/* The graduate match seq names in s_fn_matches. */
static const char *s_gid(uint64_t seq)
{
    static char gid[16];
    (void)snprintf(gid, sizeof gid, "g-%02u", (unsigned)(seq % 100));
    return gid;
}

static int s_fn_matches(store_txn_t *txn, void *arg)
{
    uint64_t n = *(uint64_t *)arg;
    for (uint64_t seq = 1; seq <= n; seq++) {
        store_match_t m = {
            .seq = seq, .at_ms = HARNESS_T0_MS, .graduate_id = s_gid(seq), .n_topics = 1};
        m.topics[0] = "vacancy/v-00";
        m.payload = "x";
        m.payload_len = 1;
        int rc = store_match_append(txn, &m);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* In dir: a store whose match log holds n matches, taken back to what a
 * format-2 matcherd left. */
static void s_make_v2_log(const char *dir, uint64_t n)
{
    int err = 0;
    store_t *st = store_new(dir, NULL, &err);
    assert_non_null(st);
    assert_int_equal(store_write(st, s_fn_matches, &n), 0);
    store_destroy(&st);
    store_v2_make(dir, s_gid);
}

/* matcherd started by a service manager (NOTIFY_SOCKET) on a format-2
 * store tells it, while the upgrade reads the match log, to wait longer
 * (EXTEND_TIMEOUT_USEC) and where the upgrade is (STATUS), then READY=1. */
static void test_upgrade_extends_start_timeout(void **state)
{
    (void)state;
    static char all[16384];
    char path[400], buf[2048];
    harness_t *h = harness_new();
    assert_non_null(h);
    s_make_v2_log(h->data_dir, STORE_MATCH_BLOCK_ROWS + 10);
    (void)snprintf(path, sizeof path, "%s/notify", h->root);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    s_start(h);
    unsetenv("NOTIFY_SOCKET");
    all[0] = '\0';
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n < 0)
            break;
        buf[n] = '\0';
        size_t len = strlen(all);
        (void)snprintf(all + len, sizeof all - len, "%s|", buf);
    }
    close(fd);
    const char *first = strstr(all, "EXTEND_TIMEOUT_USEC=300000000\nSTATUS=upgrading the store: 0 "
                                    "of 1 blocks of the match log indexed|");
    const char *last = strstr(all, "EXTEND_TIMEOUT_USEC=300000000\nSTATUS=upgrading the store: 1 "
                                   "of 1 blocks of the match log indexed|");
    const char *ready = strstr(all, "READY=1");
    if (first == NULL || last == NULL || ready == NULL || !(first < last && last < ready))
        fail_msg("notifications: %s", all);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
    harness_destroy(&h);
}

int main(void)
{
    const char *make = getenv("PASSERELLE_MAKE_V1_FIXTURE");
    if (make != NULL && *make != '\0')
        return s_make_fixture(make);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_at_start),
        cmocka_unit_test(test_crash_mid_upgrade),
        cmocka_unit_test(test_newer_version_refused),
        cmocka_unit_test(test_upgrade_extends_start_timeout),
    };
    harness_cmocka_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
