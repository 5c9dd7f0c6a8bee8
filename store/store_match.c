/* store_match.c - the match log: the feed messages the matcher published.
 *
 * A subscriber that was away catches up from here ("everything after seq
 * N"), so each message is kept under its sequence number until purged by
 * count or age. As in the event log, the last number ever issued lives in
 * meta ("match_last"), not in the last key: erasing a graduate may delete
 * the newest matches, and a number once handed out must never name another
 * message (subscribers remember where they stopped).
 *
 * "match_by_graduate" files each seq under the graduate the message names,
 * so that erasure (the privacy promise) finds them without scanning the
 * log. The record repeats the graduate id so that a purge, which walks the
 * log from its oldest end, can delete that row as well.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <string.h>

#include "store_codec.h"

static int s_corrupt(const char *func, const MDB_val *key, const MDB_val *val)
{
    uint64_t seq = 0;
    if (key->mv_size == sizeof seq)
        memcpy(&seq, key->mv_data, sizeof seq);
    store__log(STORE_LOG_ERROR,
               "store: %s: match %" PRIu64 " (key %zu bytes, record %zu bytes) does not "
               "decode; the store is damaged",
               func, seq, key->mv_size, val->mv_size);
    return STORE_ECORRUPT;
}

/* Decode the row (key, val) of "matches" into *m (borrowed pointers). */
static int s_decode(const char *func, const MDB_val *key, const MDB_val *val, store_match_t *m)
{
    uint64_t seq;
    if (key->mv_size != sizeof seq || store_codec_match_decode(val->mv_data, val->mv_size, m) != 0)
        return s_corrupt(func, key, val);
    memcpy(&seq, key->mv_data, sizeof seq);
    m->seq = seq;
    return 0;
}

/* Insert (op > 0) or delete (op < 0) the row graduate_id -> seq. An empty
 * graduate id files the match under nobody: no row. */
static int s_by_graduate_op(store_txn_t *txn, const char *graduate_id, uint64_t seq, int op)
{
    MDB_val key = {strlen(graduate_id), (void *)graduate_id}, val = {sizeof seq, &seq};
    if (key.mv_size == 0)
        return 0;
    MDB_dbi dbi = txn->store->dbi[S_DBI_MATCH_BY_GRADUATE];
    int rc = op > 0 ? store__put(txn, dbi, &key, &val, 0) : store__del(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND && op < 0)
        return 0; /* already gone: nothing to undo */
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "%s match_by_graduate '%s' %" PRIu64,
                               op > 0 ? "mdb_put" : "mdb_del", graduate_id, seq);
    return 0;
}

/* ---- sequence numbers ------------------------------------------------------ */

int store__match_last_get(store_txn_t *txn, uint64_t *last)
{
    if (!txn->match_last_known) {
        int rc = store__meta_get(txn, STORE_META_MATCH_LAST, &txn->match_last);
        if (rc != 0)
            return rc;
        txn->match_last_known = 1;
    }
    *last = txn->match_last;
    return 0;
}

int store__match_last_flush(store_txn_t *txn)
{
    if (!txn->match_last_dirty)
        return 0;
    txn->match_last_dirty = 0;
    return store__meta_put(txn, STORE_META_MATCH_LAST, txn->match_last);
}

uint64_t store_match_last(store_txn_t *txn)
{
    uint64_t last = 0;
    if (txn == NULL || store__match_last_get(txn, &last) != 0)
        return 0; /* logged by store__meta_get */
    return last;
}

int store__match_first(store_txn_t *txn, uint64_t *seq)
{
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    *seq = 0;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCHES], &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        mdb_cursor_close(cur); /* key stays valid: it points into the map */
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "first key of matches");
    if (key.mv_size != sizeof *seq)
        return s_corrupt(__func__, &key, &val);
    memcpy(seq, key.mv_data, sizeof *seq);
    return 0;
}

uint64_t store_match_first(store_txn_t *txn)
{
    uint64_t first = 0;
    if (txn == NULL || store__match_first(txn, &first) != 0)
        return 0; /* logged */
    return first;
}

/* ---- append ------------------------------------------------------------------ */

/* The record itself, written in place (MDB_RESERVE) under m->seq. */
static int s_match_put(store_txn_t *txn, const store_match_t *m, size_t len)
{
    uint64_t seq = m->seq;
    MDB_val key = {sizeof seq, &seq}, val = {len, NULL};
    int rc = store__put(txn, txn->store->dbi[S_DBI_MATCHES], &key, &val, MDB_RESERVE | MDB_APPEND);
    if (rc == MDB_KEYEXIST) {
        /* MDB_APPEND found a key >= seq: meta "match_last" is behind the log */
        store__log(STORE_LOG_ERROR,
                   "store: %s: match %" PRIu64 " is not above the last stored "
                   "match: meta match_last disagrees with the log",
                   __func__, seq);
        txn->err = txn->err != 0 ? txn->err : STORE_ECORRUPT;
        return STORE_ECORRUPT;
    }
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put matches %" PRIu64, seq);
    store_codec_match_encode(m, val.mv_data, len);
    return 0;
}

int store_match_append(store_txn_t *txn, const store_match_t *m)
{
    size_t len;
    uint64_t last = 0;
    int rc = store__need_write(txn, __func__);
    if (rc != 0)
        return rc;
    if (store_codec_match_size(m, &len) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: %s: match missing, or with a bad graduate id, topic "
                   "count, topic or payload",
                   __func__);
        return STORE_EINVAL;
    }
    if ((rc = store__match_last_get(txn, &last)) != 0)
        return rc;
    if (m->seq != last + 1) {
        store__log(STORE_LOG_ERROR, "store: %s: seq %" PRIu64 " given, the next is %" PRIu64,
                   __func__, m->seq, last + 1);
        return STORE_EINVAL;
    }
    if ((rc = s_match_put(txn, m, len)) != 0 ||
        (rc = s_by_graduate_op(txn, m->graduate_id, m->seq, 1)) != 0)
        return rc;
    txn->match_last = m->seq; /* meta written once, before commit */
    txn->match_last_dirty = 1;
    return 0;
}

/* ---- reading ------------------------------------------------------------------- */

/* fn must not write matches: the cursor walks that table, and the record
 * it was handed would move. */
int store_match_each(store_txn_t *txn, uint64_t after, store_match_fn fn, void *arg)
{
    MDB_cursor *cur = NULL;
    uint64_t from = after + 1;
    MDB_val key = {sizeof from, &from}, val;
    store_match_t m;
    if (txn == NULL || fn == NULL)
        return STORE_EINVAL;
    if (after == UINT64_MAX)
        return 0; /* nothing can follow; after + 1 would wrap to the start */
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCHES], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open matches");
    int result = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        result = s_decode(__func__, &key, &val, &m);
        if (result == 0)
            result = fn(&m, arg);
        if (result != 0)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        result = store__txn_fail(txn, rc, __func__, "walk matches after %" PRIu64, after);
    mdb_cursor_close(cur);
    return result;
}

/* ---- deleting ------------------------------------------------------------------- */

/* Delete the matches listed under graduate key gkey (the list stays).
 * *listed counts the rows of the list, *removed the matches deleted. */
static int s_graduate_matches_del(store_txn_t *txn, MDB_val gkey, size_t *listed, size_t *removed)
{
    MDB_cursor *cur = NULL;
    MDB_val val;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCH_BY_GRADUATE], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open match_by_graduate");
    rc = mdb_cursor_get(cur, &gkey, &val, MDB_SET_KEY);
    while (rc == 0 && val.mv_size == sizeof(uint64_t)) {
        uint64_t seq;
        memcpy(&seq, val.mv_data, sizeof seq);
        MDB_val skey = {sizeof seq, &seq};
        (*listed)++;
        rc = store__del(txn, txn->store->dbi[S_DBI_MATCHES], &skey, NULL);
        if (rc == 0)
            (*removed)++;
        if (rc == 0 || rc == MDB_NOTFOUND) /* NOTFOUND: a row whose match went */
            rc = mdb_cursor_get(cur, &gkey, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == 0) {
        store__log(STORE_LOG_ERROR, "store: %s: match_by_graduate value of %zu bytes", __func__,
                   val.mv_size);
        return STORE_ECORRUPT;
    }
    if (rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "erase matches");
    return 0;
}

int store_match_erase_graduate(store_txn_t *txn, const char *id, size_t *removed)
{
    size_t listed = 0, count = 0;
    if (removed != NULL)
        *removed = 0;
    int rc = store__need_write(txn, __func__);
    if (rc != 0)
        return rc;
    size_t n = id != NULL ? strnlen(id, STORE_ID_MAX + 1) : 0;
    if (n == 0 || n > STORE_ID_MAX) {
        store__log(STORE_LOG_ERROR, "store: %s: id empty or over %d bytes", __func__, STORE_ID_MAX);
        return STORE_EINVAL;
    }
    MDB_val gkey = {n, (void *)id}; /* passed by value: the cursor moves its copy */
    rc = s_graduate_matches_del(txn, gkey, &listed, &count);
    if (rc == 0 && listed > 0) {
        rc = store__del(txn, txn->store->dbi[S_DBI_MATCH_BY_GRADUATE], &gkey, NULL);
        if (rc != 0)
            return store__txn_fail(txn, rc, __func__, "mdb_del match_by_graduate '%s'", id);
    }
    if (rc == 0 && removed != NULL)
        *removed = count;
    return rc;
}

/* Delete the oldest stored match if it is due: seq <= upto, or written
 * before before_ms (when not 0). *gone tells whether it was. */
static int s_purge_first(store_txn_t *txn, uint64_t upto, int64_t before_ms, int *gone)
{
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    store_match_t m;
    char gid[STORE_ID_MAX + 1];
    *gone = 0;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCHES], &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        mdb_cursor_close(cur);
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "first key of matches");
    if ((rc = s_decode(__func__, &key, &val, &m)) != 0)
        return rc;
    if (m.seq > upto && (before_ms == 0 || m.at_ms >= before_ms))
        return 0;
    /* copies: the record lives in a page that the deletes below change */
    uint64_t seq = m.seq;
    memcpy(gid, m.graduate_id, strlen(m.graduate_id) + 1); /* decoded: <= STORE_ID_MAX */
    MDB_val skey = {sizeof seq, &seq};
    rc = store__del(txn, txn->store->dbi[S_DBI_MATCHES], &skey, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del matches %" PRIu64, seq);
    rc = s_by_graduate_op(txn, gid, seq, -1);
    *gone = rc == 0;
    return rc;
}

/* Always deleting the first entry and looking up the new first one keeps
 * the loop free of cursor-after-delete subtleties at O(log n) a step. It
 * stops at the first match that is not due, so a call costs what it
 * removes: at_ms is the writer's clock at append time and grows with seq,
 * and should the clock step back, a purge by age merely comes later. */
int store_match_purge(store_txn_t *txn, uint64_t upto, int64_t before_ms, size_t max,
                      size_t *removed)
{
    size_t count = 0;
    int gone = 1;
    if (removed != NULL)
        *removed = 0;
    int rc = store__need_write(txn, __func__);
    while (rc == 0 && gone && count < max) {
        rc = s_purge_first(txn, upto, before_ms, &gone);
        if (rc == 0 && gone)
            count++;
    }
    if (rc == 0 && removed != NULL)
        *removed = count;
    return rc;
}
