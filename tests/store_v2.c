/* store_v2.c - see store_v2.h. */
#include "store_v2.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

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
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}
