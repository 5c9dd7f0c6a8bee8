/* test_store_scrub.c - store/store_scrub.c and the erasure rules of
 * store_log.c: an erased graduate's events stay duplicates (as digests),
 * the erasure is logged without its event id, and after store_scrub no
 * byte of the graduate is left in the store's files (lists.mdb's too)
 * while every live record is still there. */
#include <dirent.h>
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

#include "cli_run.h"
#include "store.h"

#define GONE "zq8gone3erased"
#define KEPT "kept-graduate"

typedef struct {
    const char *id;
    int64_t version;
    const char *event_id;
    const char *entity;
    uint64_t seq;
} s_job_t;

static void s_graduate(store_graduate_t *g, const char *id, int64_t version)
{
    memset(g, 0, sizeof *g);
    (void)snprintf(g->id, sizeof g->id, "%s", id);
    (void)snprintf(g->school, sizeof g->school, "0650043X");
    g->version = version;
    g->state = STORE_STATE_OPEN;
    g->radius_km = 30;
    g->home.has_point = 1;
    g->home.lat = 43.2;
    g->home.lon = 0.07;
    g->n_certs = 1;
    g->certs[0].kind = STORE_CERT_CAP;
    g->certs[0].level = 3;
    (void)snprintf(g->certs[0].rncp, sizeof g->certs[0].rncp, "RNCP27470");
    g->n_skills = 1;
    (void)snprintf(g->skills[0].code, sizeof g->skills[0].code, "486590");
    g->skills[0].weight = 1;
}

/* Post graduate id (version v) with its log entry, or (id NULL) log an
 * erasure of entity under nobody. */
static int s_post_fn(store_txn_t *txn, void *arg)
{
    s_job_t *j = arg;
    static store_graduate_t g;
    int rc;
    if (j->id) {
        s_graduate(&g, j->id, j->version);
        if ((rc = store_graduate_put(txn, &g)) != 0)
            return rc;
    } else if ((rc = store_graduate_erase(txn, j->entity)) != 0) {
        return rc;
    }
    store_event_t ev = {0,           j->id ? STORE_EV_GRADUATE_UPSERT : STORE_EV_GRADUATE_ERASED,
                        'g',         j->version,
                        j->version,  "school-sys",
                        j->event_id, j->id ? j->id : "",
                        "payload",   7};
    return store_log_append(txn, &ev, &j->seq);
}

typedef struct {
    const char *event_id;
    uint64_t seq;
    int rc;
    store_graduate_t g;
    int g_rc;
} s_look_t;

static int s_look_fn(store_txn_t *txn, void *arg)
{
    s_look_t *l = arg;
    l->rc = store_dedupe_get(txn, "school-sys", l->event_id, &l->seq);
    l->g_rc = store_graduate_get(txn, KEPT, &l->g);
    return 0;
}

/* The ranked list of vacancy v-1: KEPT, and GONE too when with_gone (as
 * the matcher leaves it before an erasure: without). */
static int s_list_fn(store_txn_t *txn, void *arg)
{
    static store_list_t l;
    memset(&l, 0, sizeof l);
    l.n = 0;
    (void)snprintf(l.e[l.n].id, sizeof l.e[l.n].id, "%s", KEPT);
    l.e[l.n++].micro = 900000;
    if (*(const int *)arg) {
        (void)snprintf(l.e[l.n].id, sizeof l.e[l.n].id, "%s", GONE);
        l.e[l.n++].micro = 800000;
    }
    return store_list_put(txn, STORE_ENTITY_VACANCY, "v-1", &l);
}

static store_list_t s_got;

static int s_list_get_fn(store_txn_t *txn, void *arg)
{
    (void)arg;
    return store_list_get(txn, STORE_ENTITY_VACANCY, "v-1", &s_got);
}

static size_t s_count_in_dir(const char *dir, const char *needle)
{
    size_t found = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[600];
        struct stat st;
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        found += cli_count_in_file(path, needle);
    }
    closedir(d);
    return found;
}

/* Erase, scrub, check every file; lists.mdb in the store's directory, or
 * (lroot not NULL) in a lists_dir made under lroot. */
static void s_erase_then_scrub(const char *lroot)
{
    char dir[] = "/tmp/test_store_scrub.XXXXXX", ldir[256];
    assert_non_null(mkdtemp(dir));
    (void)snprintf(ldir, sizeof ldir, "%s", dir);
    store_options_t opts = {.lists_dir = NULL};
    if (lroot != NULL) {
        (void)snprintf(ldir, sizeof ldir, "%s/test_store_scrub_lists.XXXXXX", lroot);
        assert_non_null(mkdtemp(ldir));
        opts.lists_dir = ldir;
    }
    int err;
    store_t *st = store_new(dir, &opts, &err);
    assert_non_null(st);
    s_job_t kept = {KEPT, 100, "kept-v1", NULL, 0};
    assert_int_equal(store_write(st, s_post_fn, &kept), 0);
    for (int v = 1; v <= 3; v++) {
        char evid[64];
        (void)snprintf(evid, sizeof evid, GONE "-v%d", v);
        s_job_t j = {GONE, v, evid, NULL, 0};
        assert_int_equal(store_write(st, s_post_fn, &j), 0);
    }
    /* in a ranked list (lists.mdb), then out of it */
    int with_gone = 1;
    assert_int_equal(store_write(st, s_list_fn, &with_gone), 0);
    with_gone = 0;
    assert_int_equal(store_write(st, s_list_fn, &with_gone), 0);
    s_job_t erase = {NULL, 10, "erase-" GONE, GONE, 0};
    assert_int_equal(store_write(st, s_post_fn, &erase), 0);

    /* still duplicates, by digest */
    static s_look_t l;
    l.event_id = GONE "-v2";
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.seq, 3);
    l.event_id = "erase-" GONE;
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.seq, erase.seq);
    l.event_id = GONE "-v9";
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.rc, STORE_ENOTFOUND);

    /* LMDB leaves the bytes behind; the scrub removes them */
    char lists[300], copy[320];
    (void)snprintf(lists, sizeof lists, "%s/lists.mdb", ldir);
    (void)snprintf(copy, sizeof copy, "%s.scrub", lists);
    assert_true(s_count_in_dir(dir, GONE) > 0);
    assert_true(cli_count_in_file(lists, GONE) > 0);
    uint64_t before = 0, after = 0;
    assert_int_equal(store_scrub(st, &before, &after), 0);
    assert_true(store_is_open(st));
    assert_true(before > 0 && after > 0 && after <= before);
    assert_int_equal(s_count_in_dir(dir, GONE), 0);
    assert_int_equal(s_count_in_dir(ldir, GONE), 0);
    assert_int_equal(access(copy, F_OK), -1);   /* the copy was renamed over lists.mdb */
    assert_int_equal(store_lists_stale(st), 0); /* the copies go together */

    /* everything live is still there, and the store still writes */
    assert_int_equal(store_read(st, s_list_get_fn, NULL), 0);
    assert_int_equal(s_got.n, 1);
    assert_string_equal(s_got.e[0].id, KEPT);
    l.event_id = "kept-v1";
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.g_rc, 0);
    assert_string_equal(l.g.id, KEPT);
    l.event_id = GONE "-v1";
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.rc, 0); /* the digest rows were copied too */
    s_job_t more = {"another", 200, "another-v1", NULL, 0};
    assert_int_equal(store_write(st, s_post_fn, &more), 0);
    assert_int_equal(more.seq, erase.seq + 1);
    store_destroy(&st);

    /* and reopens from the files */
    st = store_new(dir, &opts, &err);
    assert_non_null(st);
    assert_int_equal(store_lists_stale(st), 0);
    assert_int_equal(store_read(st, s_look_fn, &l), 0);
    assert_int_equal(l.g_rc, 0);
    assert_int_equal(store_read(st, s_list_get_fn, NULL), 0);
    assert_int_equal(s_got.n, 1);
    store_destroy(&st);
    char cmd[600];
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, ldir);
    assert_int_equal(system(cmd), 0);
}

static void test_erase_then_scrub(void **state)
{
    (void)state;
    s_erase_then_scrub(NULL);
}

/* lists.mdb in a lists_dir, on another file system than the store when
 * /dev/shm is there (a tmpfs): the scrub's copy of lists.mdb is made
 * beside it, not in the store's directory, to be renamed over it. */
static void test_erase_then_scrub_lists_dir(void **state)
{
    (void)state;
    struct stat st;
    const char *root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    fprintf(stderr, "lists_dir under %s\n", root);
    s_erase_then_scrub(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erase_then_scrub),
        cmocka_unit_test(test_erase_then_scrub_lists_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
