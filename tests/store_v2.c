/* store_v2.c - see store_v2.h. */
#include "store_v2.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

/* Move table name of lists.mdb (format 4) into data.mdb's transaction
 * txn, where formats 1 to 3 kept it. */
static void s_list_table_back(MDB_env *lenv, MDB_txn *txn, const char *name, unsigned flags)
{
    MDB_txn *lt;
    MDB_dbi from, to;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(lenv, NULL, MDB_RDONLY, &lt), 0);
    assert_int_equal(mdb_dbi_open(lt, name, 0, &from), 0);
    assert_int_equal(mdb_dbi_open(txn, name, MDB_CREATE | flags, &to), 0);
    assert_int_equal(mdb_cursor_open(lt, from, &cur), 0);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        assert_int_equal(mdb_put(txn, to, &k, &v, 0), 0);
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    mdb_txn_abort(lt);
}

void store_v2_make(const char *dir, const char *(*gid_of)(uint64_t seq))
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi blocks, bygrad, matches, meta;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t two[4] = {2, 0, 0, 0};
    MDB_val fk = {6, "format"}, fv = {4, two};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "match_blocks", 0, &blocks), 0);
    assert_int_equal(mdb_drop(txn, blocks, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "match_by_graduate",
                                  MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
                                  &bygrad),
                     0);
    assert_int_equal(mdb_dbi_open(txn, "matches", MDB_INTEGERKEY, &matches), 0);
    assert_int_equal(mdb_cursor_open(txn, matches, &cur), 0);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, sizeof seq);
        const char *g = gid_of(seq);
        MDB_val gk = {strlen(g), (void *)g}, sv = {sizeof seq, &seq};
        if (gk.mv_size > 0)
            assert_int_equal(mdb_put(txn, bygrad, &gk, &sv, 0), 0);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_put(txn, meta, &fk, &fv, 0), 0);
    MDB_val ck = {9, "commit_no"};
    rc = mdb_del(txn, meta, &ck, NULL);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);

    /* the ranked lists back in data.mdb, lists.mdb gone */
    char path[4096];
    MDB_env *lenv;
    (void)snprintf(path, sizeof path, "%s/lists.mdb", dir);
    assert_int_equal(mdb_env_create(&lenv), 0);
    assert_int_equal(mdb_env_set_maxdbs(lenv, 8), 0);
    assert_int_equal(mdb_env_open(lenv, path, MDB_NOSUBDIR | MDB_RDONLY, 0600), 0);
    s_list_table_back(lenv, txn, "lists", 0);
    s_list_table_back(lenv, txn, "list_members", MDB_DUPSORT);
    mdb_env_close(lenv);
    assert_int_equal(unlink(path), 0);
    (void)snprintf(path, sizeof path, "%s/lists.mdb-lock", dir);
    (void)unlink(path);

    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}
