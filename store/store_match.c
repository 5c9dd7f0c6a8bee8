/* store_match.c - the match log: the feed messages the matcher published.
 *
 * A subscriber that was away catches up from here ("everything after seq
 * N"), so each message is kept under its sequence number until purged by
 * count or age. As in the event log, the last number ever issued lives in
 * meta ("match_last"), not in the last key: erasing a graduate may delete
 * the newest matches, and a number once handed out must never name another
 * message (subscribers remember where they stopped).
 *
 * Erasure (the privacy promise) must find the messages that name a
 * graduate without scanning the whole log, and without a random B-tree
 * write per message: an index keyed by graduate would cost one on a page
 * of its own for nearly every message, since the messages of one event name
 * many graduates. "match_blocks" indexes the log by blocks of
 * STORE_MATCH_BLOCK_ROWS sequence numbers instead: when the last number of
 * a block is appended, the block's rows are read back and one row per
 * distinct graduate-id hash is appended, key block (u64 BE) + hash (u32 BE),
 * value the offsets in the block (u16 LE, ascending) of the messages whose
 * graduate id has that hash. Keys grow with the block, so these are appends
 * too. Erasure seeks (block, hash) in each indexed block, checks each row
 * it points to (hashes collide), and scans the rows of the block not yet
 * complete. A purge drops the index rows of the blocks it emptied. The
 * record repeats the graduate id, which is what both read.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <stdlib.h>
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

/* ---- the block index ------------------------------------------------------- */

#define S_B    STORE_MATCH_BLOCK_ROWS
#define S_BKEY 12 /* block number (u64 BE) + graduate-id hash (u32 BE) */

_Static_assert(S_B > 0 && S_B <= 65536, "a block's offsets are u16");

/* FNV-1a of a graduate id. Part of the on-disk format: changing it would
 * make erasure miss the messages indexed with the old one. */
static uint32_t s_gid_hash(const char *id, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)id[i];
        h *= 16777619u;
    }
    return h;
}

static void s_bkey(uint8_t k[S_BKEY], uint64_t block, uint32_t hash)
{
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(block >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        k[8 + i] = (uint8_t)(hash >> (24 - 8 * i));
}

/* The block and hash of an index key; -1 if it is not one. */
static int s_bkey_get(const MDB_val *k, uint64_t *block, uint32_t *hash)
{
    const uint8_t *p = k->mv_data;
    if (k->mv_size != S_BKEY)
        return -1;
    *block = 0;
    *hash = 0;
    for (int i = 0; i < 8; i++)
        *block = *block << 8 | p[i];
    for (int i = 8; i < 12; i++)
        *hash = *hash << 8 | p[i];
    return 0;
}

static int s_bcorrupt(const char *func, const MDB_val *key, const MDB_val *val)
{
    store__log(STORE_LOG_ERROR,
               "store: %s: match_blocks row (key %zu bytes, value %zu bytes) does not "
               "decode; the store is damaged",
               func, key->mv_size, val->mv_size);
    return STORE_ECORRUPT;
}

typedef struct {
    uint32_t hash;
    uint16_t off;
} s_bent_t;

static int s_bent_cmp(const void *a, const void *b)
{
    const s_bent_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

/* Index block b (sequence numbers b * S_B + 1 .. (b + 1) * S_B) as its rows
 * stand: the ones erased or purged already are not indexed. Appends: b
 * must be above every block indexed before. *rows (may be NULL) counts the
 * messages indexed. */
static int s_block_index(store_txn_t *txn, uint64_t b, size_t *rows)
{
    uint64_t from = b * S_B + 1, to = from + S_B - 1;
    MDB_val key = {sizeof from, &from}, val;
    MDB_cursor *cur = NULL;
    store_match_t m;
    size_t n = 0;
    s_bent_t *v = malloc(S_B * sizeof *v);
    uint8_t *offs = malloc(2 * S_B);
    if (v == NULL || offs == NULL) {
        free(v);
        free(offs);
        return STORE_ENOMEM;
    }
    int rc = 0, mrc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCHES], &cur);
    if (mrc != 0) {
        rc = store__txn_fail(txn, mrc, __func__, "mdb_cursor_open matches");
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if ((rc = s_decode(__func__, &key, &val, &m)) != 0 || m.seq > to)
            break;
        size_t len = strlen(m.graduate_id);
        if (len > 0)
            v[n++] = (s_bent_t){s_gid_hash(m.graduate_id, len), (uint16_t)(m.seq - from)};
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__txn_fail(txn, mrc, __func__, "walk matches of block %" PRIu64, b);
    if (rc != 0)
        goto out;
    qsort(v, n, sizeof *v, s_bent_cmp);
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        uint8_t k[S_BKEY];
        for (j = i; j < n && v[j].hash == v[i].hash; j++) {
            offs[2 * (j - i)] = (uint8_t)(v[j].off & 0xff);
            offs[2 * (j - i) + 1] = (uint8_t)(v[j].off >> 8);
        }
        s_bkey(k, b, v[i].hash);
        MDB_val bk = {sizeof k, k}, bv = {2 * (j - i), offs};
        rc = store__put(txn, txn->store->dbi[S_DBI_MATCH_BLOCKS], &bk, &bv, MDB_APPEND);
        if (rc == MDB_KEYEXIST) {
            store__log(STORE_LOG_ERROR,
                       "store: %s: block %" PRIu64 " of the match log is not above the "
                       "blocks indexed before",
                       __func__, b);
            txn->err = txn->err != 0 ? txn->err : STORE_ECORRUPT;
            rc = STORE_ECORRUPT;
        } else if (rc != 0) {
            rc = store__txn_fail(txn, rc, __func__, "mdb_put match_blocks %" PRIu64, b);
        }
    }
    if (rc == 0 && rows != NULL)
        *rows += n;
out:
    free(v);
    free(offs);
    return rc;
}

int store__match_blocks_build(store_txn_t *txn, uint64_t *blocks, size_t *rows)
{
    uint64_t first = 0, last = 0;
    *blocks = 0;
    *rows = 0;
    int rc = store__match_first(txn, &first);
    if (rc == 0)
        rc = store__match_last_get(txn, &last);
    if (rc != 0 || first == 0)
        return rc;
    uint64_t from = (first - 1) / S_B, to = last / S_B;
    int64_t told = 0;
    for (uint64_t b = from; rc == 0 && b < to; b++, (*blocks)++) {
        store__progress(txn->store, &told, b == from,
                        "upgrading the store: %" PRIu64 " of %" PRIu64
                        " blocks of the match log indexed",
                        b - from, to - from);
        rc = s_block_index(txn, b, rows);
    }
    if (rc == 0 && *blocks > 0)
        store__progress(txn->store, &told, 1,
                        "upgrading the store: %" PRIu64 " of %" PRIu64
                        " blocks of the match log indexed",
                        *blocks, to - from);
    return rc;
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
    if ((rc = s_match_put(txn, m, len)) != 0)
        return rc;
    txn->match_last = m->seq; /* meta written once, before commit */
    txn->match_last_dirty = 1;
    if (m->seq % S_B == 0) /* the last of its block: index the block */
        rc = s_block_index(txn, m->seq / S_B - 1, NULL);
    return rc;
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

/* The match seq, if it is still stored: delete it if it names the
 * graduate id (n bytes). *kept is 1 if the row stays (it names another
 * graduate), 0 if it is gone, now or before. */
static int s_erase_if(store_txn_t *txn, uint64_t seq, const char *id, size_t n, int *kept,
                      size_t *removed)
{
    MDB_val key = {sizeof seq, &seq}, val;
    store_match_t m;
    MDB_dbi dbi = txn->store->dbi[S_DBI_MATCHES];
    *kept = 0;
    int rc = mdb_get(txn->txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get matches %" PRIu64, seq);
    if ((rc = s_decode(__func__, &key, &val, &m)) != 0)
        return rc;
    if (strlen(m.graduate_id) != n || memcmp(m.graduate_id, id, n) != 0) {
        *kept = 1; /* another graduate whose id has the same hash */
        return 0;
    }
    key = (MDB_val){sizeof seq, &seq}; /* mdb_get pointed it into the map */
    rc = store__del(txn, dbi, &key, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del matches %" PRIu64, seq);
    (*removed)++;
    return 0;
}

/* Erase the graduate id (n bytes, hash h) from block b's index row (key k,
 * offsets in val): delete the messages it names, then the row if no other
 * message it lists remains, or rewrite it without them. */
static int s_block_erase(store_txn_t *txn, uint64_t b, const uint8_t k[S_BKEY], MDB_val val,
                         const char *id, size_t n, size_t *removed)
{
    size_t nkeep = 0, noff = val.mv_size / 2;
    MDB_dbi dbi = txn->store->dbi[S_DBI_MATCH_BLOCKS];
    MDB_val key = {S_BKEY, (void *)k};
    if (val.mv_size == 0 || val.mv_size % 2 != 0 || noff > S_B)
        return s_bcorrupt(__func__, &key, &val);
    uint8_t *offs = malloc(2 * val.mv_size), *keep = offs + val.mv_size;
    if (offs == NULL)
        return STORE_ENOMEM;
    memcpy(offs, val.mv_data, val.mv_size); /* the deletes below move the page */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < noff; i++) {
        uint16_t off = (uint16_t)(offs[2 * i] | offs[2 * i + 1] << 8);
        int kept = 0;
        rc = s_erase_if(txn, b * S_B + 1 + off, id, n, &kept, removed);
        if (rc == 0 && kept) {
            memcpy(keep + 2 * nkeep, offs + 2 * i, 2);
            nkeep++;
        }
    }
    if (rc == 0 && nkeep < noff) {
        MDB_val kv = {2 * nkeep, keep};
        rc = nkeep == 0 ? store__del(txn, dbi, &key, NULL) : store__put(txn, dbi, &key, &kv, 0);
        if (rc != 0)
            rc = store__txn_fail(txn, rc, __func__, "%s match_blocks %" PRIu64,
                                 nkeep == 0 ? "mdb_del" : "mdb_put", b);
    }
    free(offs);
    return rc;
}

/* Erase id (n bytes) from the indexed blocks 0 .. complete - 1: one seek
 * of (block, hash) per block that has an index row at all. */
static int s_blocks_erase(store_txn_t *txn, uint64_t complete, const char *id, size_t n,
                          size_t *removed)
{
    uint32_t h = s_gid_hash(id, n);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCH_BLOCKS], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open match_blocks");
    for (uint64_t b = 0; rc == 0 && b < complete;) {
        uint8_t k[S_BKEY];
        uint64_t kb;
        uint32_t kh;
        s_bkey(k, b, h);
        MDB_val key = {sizeof k, k}, val;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = store__txn_fail(txn, rc, __func__, "seek match_blocks");
            break;
        }
        if (s_bkey_get(&key, &kb, &kh) != 0 || kb < b) {
            rc = s_bcorrupt(__func__, &key, &val);
            break;
        }
        if (kb > b) { /* no row for the hash in b, nor any row in the blocks before kb */
            b = kb;
            continue;
        }
        if (kh == h)
            rc = s_block_erase(txn, b, k, val, id, n, removed);
        b++;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Erase id (n bytes) from the messages after the last complete block: they
 * are not indexed yet, and are at most S_B - 1. */
static int s_tail_erase(store_txn_t *txn, uint64_t after, const char *id, size_t n, size_t *removed)
{
    uint64_t from = after + 1, *seqs = malloc(S_B * sizeof *seqs);
    size_t k = 0;
    MDB_val key = {sizeof from, &from}, val;
    MDB_cursor *cur = NULL;
    store_match_t m;
    if (seqs == NULL)
        return STORE_ENOMEM;
    int rc = 0, mrc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCHES], &cur);
    if (mrc != 0) {
        free(seqs);
        return store__txn_fail(txn, mrc, __func__, "mdb_cursor_open matches");
    }
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if ((rc = s_decode(__func__, &key, &val, &m)) != 0)
            break;
        if (k == S_B) { /* more rows than a block can have after it: meta is behind */
            rc = s_corrupt(__func__, &key, &val);
            break;
        }
        if (strlen(m.graduate_id) == n && memcmp(m.graduate_id, id, n) == 0)
            seqs[k++] = m.seq;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__txn_fail(txn, mrc, __func__, "walk matches after %" PRIu64, after);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        MDB_val skey = {sizeof seqs[i], &seqs[i]};
        rc = store__del(txn, txn->store->dbi[S_DBI_MATCHES], &skey, NULL);
        if (rc != 0)
            rc = store__txn_fail(txn, rc, __func__, "mdb_del matches %" PRIu64, seqs[i]);
        else
            (*removed)++;
    }
    free(seqs);
    return rc;
}

int store_match_erase_graduate(store_txn_t *txn, const char *id, size_t *removed)
{
    size_t count = 0;
    uint64_t last = 0;
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
    if ((rc = store__match_last_get(txn, &last)) != 0)
        return rc;
    rc = s_blocks_erase(txn, last / S_B, id, n, &count);
    if (rc == 0)
        rc = s_tail_erase(txn, last / S_B * S_B, id, n, &count);
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
    uint64_t seq = m.seq; /* a copy: the record lives in the page the delete changes */
    MDB_val skey = {sizeof seq, &seq};
    rc = store__del(txn, txn->store->dbi[S_DBI_MATCHES], &skey, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del matches %" PRIu64, seq);
    *gone = 1;
    return 0;
}

/* Drop the index rows of the blocks that hold no stored message any more:
 * those before the block of the oldest one (or of the next to come). */
static int s_blocks_purge(store_txn_t *txn)
{
    uint64_t first = 0, last = 0;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = store__match_first(txn, &first);
    if (rc == 0)
        rc = store__match_last_get(txn, &last);
    if (rc != 0)
        return rc;
    uint64_t limit = ((first != 0 ? first : last + 1) - 1) / S_B;
    int mrc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_MATCH_BLOCKS], &cur);
    if (mrc != 0)
        return store__txn_fail(txn, mrc, __func__, "mdb_cursor_open match_blocks");
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST)) { /* again after each delete */
        uint64_t b;
        uint32_t h;
        if (s_bkey_get(&key, &b, &h) != 0) {
            rc = s_bcorrupt(__func__, &key, &val);
            break;
        }
        if (b >= limit)
            break;
        txn->writes++; /* a delete, counted as store__del counts its own */
        if ((mrc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__txn_fail(txn, mrc, __func__, "purge match_blocks");
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
    if (rc == 0 && count > 0)
        rc = s_blocks_purge(txn);
    if (rc == 0 && removed != NULL)
        *removed = count;
    return rc;
}

/* ---- the feed's topics, saved ----------------------------------------------
 *
 * Rows of meta: "t:" + topic -> u64 LE, and "topics_upto" -> u64 LE. Meta
 * keeps them (no table of their own, no new format): a matcherd that does
 * not know them never reads them, and one that finds them older than the
 * match log reads the matches after them, which is all it needs. */

int store_topic_put(store_txn_t *txn, const char *topic, uint64_t seq)
{
    char buf[sizeof STORE_META_TOPIC + STORE_TOPIC_MAX];
    uint8_t v[8];
    MDB_val key, val = {sizeof v, v};
    int rc = store__need_write(txn, __func__);
    if (rc == 0 && (rc = store__meta_key(STORE_META_TOPIC, topic, STORE_TOPIC_MAX, buf, &key)) != 0)
        store__log(STORE_LOG_ERROR, "store: %s: a topic has 1..%d bytes", __func__,
                   STORE_TOPIC_MAX);
    if (rc != 0)
        return rc;
    store_codec_put_u64(v, seq);
    rc = store__put(txn, txn->store->dbi[S_DBI_META], &key, &val, 0);
    return rc != 0 ? store__txn_fail(txn, rc, __func__, "mdb_put topic") : 0;
}

int store_topics_upto_put(store_txn_t *txn, uint64_t upto)
{
    int rc = store__need_write(txn, __func__);
    return rc != 0 ? rc : store__meta_put(txn, STORE_META_TOPICS_UPTO, upto);
}

uint64_t store_topics_upto(store_txn_t *txn)
{
    uint64_t upto = 0;
    return store__meta_get(txn, STORE_META_TOPICS_UPTO, &upto) == 0 ? upto : 0;
}

int store_topics_each(store_txn_t *txn, store_topic_fn fn, void *arg)
{
    const size_t plen = sizeof STORE_META_TOPIC - 1;
    char topic[STORE_TOPIC_MAX + 1];
    MDB_cursor *cur;
    MDB_val key = {plen, STORE_META_TOPIC}, val;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_META], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open meta");
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    for (; mrc == 0 && rc == 0; mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size < plen || memcmp(key.mv_data, STORE_META_TOPIC, plen) != 0)
            break; /* past the topics */
        size_t n = key.mv_size - plen;
        if (n == 0 || n > STORE_TOPIC_MAX || val.mv_size != 8) {
            store__log(STORE_LOG_ERROR,
                       "store: %s: a saved topic (key %zu bytes, value %zu bytes) does not "
                       "decode; the store is damaged",
                       __func__, key.mv_size, val.mv_size);
            rc = STORE_ECORRUPT;
            break;
        }
        memcpy(topic, (const char *)key.mv_data + plen, n);
        topic[n] = '\0';
        rc = fn(topic, store_codec_get_u64(val.mv_data), arg);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__txn_fail(txn, mrc, __func__, "mdb_cursor_get meta");
    return rc;
}

int store_topics_clear(store_txn_t *txn)
{
    const size_t plen = sizeof STORE_META_TOPIC - 1;
    MDB_cursor *cur;
    MDB_val key = {plen, STORE_META_TOPIC}, val;
    int rc = store__need_write(txn, __func__);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_META], &cur)) != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open meta");
    int mrc;
    /* the first row of the prefix again after each delete (as the purge) */
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         mrc == 0 && key.mv_size >= plen && memcmp(key.mv_data, STORE_META_TOPIC, plen) == 0;
         key = (MDB_val){plen, STORE_META_TOPIC},
        mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)) {
        txn->writes++; /* a delete, counted as store__del counts its own */
        if ((mrc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return store__txn_fail(txn, mrc, __func__, "deleting the saved topics");
    return store__meta_put(txn, STORE_META_TOPICS_UPTO, 0);
}
