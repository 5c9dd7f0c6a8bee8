/* test_store_backup.c - store/store_backup.c: hot backups of a real LMDB
 * store while the owner keeps writing, the map growing meanwhile, and the
 * refusals (relative path, a directory holding a store, a second backup).
 * Also the ranked lists' entry counters that the operations metrics read
 * (store_list.c): kept per transaction, and counted again at open on a
 * store that lacks them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store.h"

typedef struct {
    char dir[64];
    char data[96];
    char copy[96];
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    (void)snprintf(fx->dir, sizeof fx->dir, "/tmp/passerelle-backup.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    (void)snprintf(fx->data, sizeof fx->data, "%s/data", fx->dir);
    (void)snprintf(fx->copy, sizeof fx->copy, "%s/copies/one", fx->dir);
    *state = fx;
    return 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    int rc = nftw(fx->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return rc;
}

/* Append n events of len-byte payloads (byte value = their number) in one
 * write transaction. */
typedef struct {
    int n;
    size_t len;
    int first;
    uint8_t *payload;
} s_batch_t;

static int s_batch_fn(store_txn_t *txn, void *arg)
{
    s_batch_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        char evid[32];
        uint64_t seq;
        (void)snprintf(evid, sizeof evid, "ev-%d", b->first + i);
        store_event_t ev = {
            0, STORE_EV_GRADUATE_UPSERT, 'g', 1, 2, "src", evid, "g-1", b->payload, b->len};
        memset(b->payload, (b->first + i) & 0xff, b->len);
        int rc = store_log_append(txn, &ev, &seq);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void s_write(store_t *st, int first, int n, size_t len)
{
    static uint8_t payload[50000];
    s_batch_t b = {n, len, first, payload};
    assert_true(len <= sizeof payload);
    assert_int_equal(store_write(st, s_batch_fn, &b), 0);
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* Every event 1..n of st holds its payload. */
typedef struct {
    uint64_t n;
    size_t len;
} s_check_t;

static int s_check_fn(store_txn_t *txn, void *arg)
{
    s_check_t *c = arg;
    for (uint64_t seq = 1; seq <= c->n; seq++) {
        store_event_t ev;
        int rc = store_log_get(txn, seq, &ev);
        if (rc != 0)
            return rc;
        if (ev.payload_len != c->len ||
            ((const uint8_t *)ev.payload)[c->len - 1] != (uint8_t)((seq - 1) & 0xff))
            return STORE_ECORRUPT;
    }
    return 0;
}

static void test_backup_while_writing_and_growing(void **state)
{
    fx_t *fx = *state;
    int err = 0;
    /* a 4 MiB map, 3 MiB in it: the writes below must grow it */
    store_options_t o = {.map_bytes = 4u << 20};
    store_t *st = store_new(fx->data, &o, &err);
    assert_non_null(st);
    s_write(st, 0, 60, 50000);
    store_stats_t before;
    assert_int_equal(store_read(st, s_stats_fn, &before), 0);
    assert_int_equal(before.events, 60);

    char why[512];
    store_backup_t *b = store_backup_start(st, fx->copy, why, sizeof why, &err);
    if (b == NULL)
        fail_msg("store_backup_start: %s", why);
    assert_true(store_backup_fd(b) >= 0);
    /* A second one while it runs is refused. */
    char other[128];
    (void)snprintf(other, sizeof other, "%s/copies/two", fx->dir);
    assert_null(store_backup_start(st, other, why, sizeof why, &err));
    assert_int_equal(err, STORE_EBUSY);
    /* The owner keeps writing; 6 MiB more make the map grow (waiting for
     * the copy if it still runs). */
    for (int i = 0; i < 6; i++)
        s_write(st, 60 + i * 20, 20, 50000);
    struct pollfd pfd = {store_backup_fd(b), POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 60000), 1);
    store_backup_result_t r;
    int rc = store_backup_finish(&b, &r);
    if (rc != 0)
        fail_msg("backup: %s", r.why);
    assert_null(b);
    assert_true(r.bytes > 0);
    assert_true(r.events >= 60 && r.events <= 180);
    assert_int_equal(r.events % 20, 0); /* whole batches only */

    store_stats_t after;
    assert_int_equal(store_read(st, s_stats_fn, &after), 0);
    assert_int_equal(after.events, 180);
    assert_true(after.map_bytes > o.map_bytes);
    s_check_t all = {180, 50000};
    assert_int_equal(store_read(st, s_check_fn, &all), 0);
    store_destroy(&st);

    /* The copy is a store directory as it stands: open it for writing. */
    store_t *copy = store_new(fx->copy, NULL, &err);
    assert_non_null(copy);
    store_stats_t cs;
    assert_int_equal(store_read(copy, s_stats_fn, &cs), 0);
    assert_int_equal(cs.events, r.events);
    s_check_t some = {r.events, 50000};
    assert_int_equal(store_read(copy, s_check_fn, &some), 0);
    s_write(copy, (int)r.events, 1, 100); /* and it takes writes */
    store_destroy(&copy);
}

static void test_backup_refusals(void **state)
{
    fx_t *fx = *state;
    int err = 0;
    char why[512];
    store_t *st = store_new(fx->data, NULL, &err);
    assert_non_null(st);
    s_write(st, 0, 1, 10);

    assert_null(store_backup_start(st, "relative/dir", why, sizeof why, &err));
    assert_int_equal(err, STORE_EINVAL);
    assert_non_null(strstr(why, "absolute"));

    assert_null(store_backup_start(st, fx->data, why, sizeof why, &err));
    assert_int_equal(err, STORE_EINVAL);
    assert_non_null(strstr(why, "already holds a store"));

    char file[128];
    (void)snprintf(file, sizeof file, "%s/a-file", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_null(store_backup_start(st, file, why, sizeof why, &err));
    assert_int_not_equal(err, 0);

    /* An existing empty directory is fine, and a finished backup lets the
     * next one start. */
    char parent[128];
    (void)snprintf(parent, sizeof parent, "%s/copies", fx->dir);
    assert_int_equal(mkdir(parent, 0700), 0);
    assert_int_equal(mkdir(fx->copy, 0700), 0);
    store_backup_t *b = store_backup_start(st, fx->copy, why, sizeof why, &err);
    if (b == NULL)
        fail_msg("backup into %s: %s", fx->copy, why);
    store_backup_result_t r;
    assert_int_equal(store_backup_finish(&b, &r), 0);
    assert_int_equal(r.events, 1);
    (void)snprintf(file, sizeof file, "%s/copies/two", fx->dir);
    b = store_backup_start(st, file, why, sizeof why, &err);
    assert_non_null(b);
    assert_int_equal(store_backup_finish(&b, NULL), 0);
    store_destroy(&st);
}

/* ---- the ranked lists' entry counters -------------------------------- */

typedef struct {
    const char *id;
    int n;
} s_list_arg_t;

static int s_list_fn(store_txn_t *txn, void *arg)
{
    const s_list_arg_t *a = arg;
    store_list_t l;
    memset(&l, 0, sizeof l);
    l.n = (uint16_t)a->n;
    for (int i = 0; i < a->n; i++) {
        (void)snprintf(l.e[i].id, sizeof l.e[i].id, "g-%d", i);
        l.e[i].micro = 1000000u - (uint32_t)i;
    }
    return store_list_put(txn, STORE_ENTITY_VACANCY, a->id, &l);
}

static uint64_t s_entries(store_t *st)
{
    store_stats_t ss;
    assert_int_equal(store_read(st, s_stats_fn, &ss), 0);
    return ss.vacancy_list_entries + ss.graduate_list_entries;
}

/* Delete the entry counters from meta, as in a store written before they
 * existed. */
static void s_forget_counters(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    static const char *const keys[] = {"list_entries_counted", "vacancy_list_entries",
                                       "graduate_list_entries"};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        MDB_val key = {strlen(keys[i]), (void *)keys[i]};
        assert_int_equal(mdb_del(txn, dbi, &key, NULL), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_list_entries_counted_and_recounted(void **state)
{
    fx_t *fx = *state;
    int err = 0;
    store_t *st = store_new(fx->data, NULL, &err);
    assert_non_null(st);
    s_list_arg_t a = {"v-1", 5}, b = {"v-2", 3};
    assert_int_equal(store_write(st, s_list_fn, &a), 0);
    assert_int_equal(store_write(st, s_list_fn, &b), 0);
    assert_int_equal(s_entries(st), 8);
    a.n = 2; /* shrink */
    assert_int_equal(store_write(st, s_list_fn, &a), 0);
    assert_int_equal(s_entries(st), 5);
    b.n = 0; /* delete */
    assert_int_equal(store_write(st, s_list_fn, &b), 0);
    assert_int_equal(s_entries(st), 2);
    store_destroy(&st);

    s_forget_counters(fx->data);
    st = store_new(fx->data, NULL, &err); /* counts them again */
    assert_non_null(st);
    assert_int_equal(s_entries(st), 2);
    a.n = 4;
    assert_int_equal(store_write(st, s_list_fn, &a), 0);
    assert_int_equal(s_entries(st), 4);
    store_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_while_writing_and_growing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_backup_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_entries_counted_and_recounted, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
