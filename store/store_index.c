/* store_index.c - the keys of the places index, and the index on disk:
 * expiry day -> vacancy ids.
 *
 * The places index (store_near.c) files an open entity under the coarse
 * cell, kind and code of store_near_key() for each of its codes; it lives
 * in memory only, and this file derives its keys from a record.
 *
 * The expiry index is an MDB_DUPSORT table whose duplicates are vacancy
 * ids under the 4 big-endian bytes of store_day_key(), so that a day's
 * vacancies are one lookup. Entries exist only for open vacancies. Only
 * indexes something reads are written: format 1 also kept per-code and
 * 0.25-degree-cell indexes that nothing read, formats 1 to 4 the places
 * index (see STORE_FORMAT_VERSION).
 */
#include "store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- entity index entries ---------------------------------------------- */

/* An index key for a log line: a day in hex. */
static const char *s_key_show(store_index_t ix, const void *k, size_t klen, char *buf, size_t cap)
{
    const uint8_t *b = k;
    if (ix == STORE_IX_V_EXPIRY && klen == 4)
        (void)snprintf(buf, cap, "day %02x%02x%02x%02x", b[0], b[1], b[2], b[3]); /* fits */
    else
        (void)snprintf(buf, cap, "'%.*s'", (int)klen, (const char *)k); /* may truncate */
    return buf;
}

/* Insert (op > 0) or delete (op < 0) the pair (key, id) in index ix. An
 * empty key (an unset code) is skipped. */
static int s_ix_op(store_txn_t *txn, store_index_t ix, const void *k, size_t klen, const char *id,
                   int op)
{
    MDB_val key = {klen, (void *)k}, val = {strlen(id), (void *)id};
    if (klen == 0)
        return 0;
    if (store__key_ok(txn, klen) != 0) {
        store__log(STORE_LOG_ERROR, "store: %s: %s key of %zu bytes for '%s' is too long", __func__,
                   store__table_name(ix), klen, id);
        return STORE_EINVAL;
    }
    MDB_dbi dbi = txn->store->dbi[ix];
    int rc = op > 0 ? store__put(txn, dbi, &key, &val, 0) : store__del(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND && op < 0)
        return 0; /* not there: nothing to delete */
    if (rc != 0) {
        char shown[32];
        return store__txn_fail(txn, rc, __func__, "%s %s key %s id '%s'",
                               op > 0 ? "mdb_put" : "mdb_del", store__table_name(ix),
                               s_key_show(ix, k, klen, shown, sizeof shown), id);
    }
    return 0;
}

void store_near_cell(double lat, double lon, int *row, int *col)
{
    double r = floor(lat / STORE_NEAR_DEG), c = floor(lon / STORE_NEAR_DEG);
    *row = isfinite(r) && r > -1000 && r < 1000 ? (int)r : 0; /* clamp what is not a place */
    *col = isfinite(c) && c > -1000 && c < 1000 ? (int)c : 0;
}

size_t store_near_key(int row, int col, char kind, const char *code, uint8_t *buf)
{
    uint16_t r = (uint16_t)(row + 32768), c = (uint16_t)(col + 32768);
    size_t n = strnlen(code, STORE_SKILL_MAX);
    buf[0] = (uint8_t)(r >> 8);
    buf[1] = (uint8_t)r;
    buf[2] = (uint8_t)(c >> 8);
    buf[3] = (uint8_t)c;
    buf[4] = (uint8_t)kind;
    memcpy(buf + 5, code, n);
    return 5 + n;
}

/* Append code's key under the coarse cell of p to the keys of a record. */
static void s_near_add(const store_place_t *p, char kind, const char *code, uint8_t *buf,
                       size_t *off, uint8_t *lens, size_t *n)
{
    int row, col;
    if (!p->has_point || !code[0])
        return;
    store_near_cell(p->lat, p->lon, &row, &col);
    size_t len = store_near_key(row, col, kind, code, buf + *off);
    *off += len;
    lens[(*n)++] = (uint8_t)len;
}

static void s_near_skills(const store_place_t *p, const store_skill_t *s, size_t n_s, uint8_t *buf,
                          size_t *off, uint8_t *lens, size_t *n)
{
    for (size_t i = 0; i < n_s; i++)
        s_near_add(p, STORE_NEAR_SKILL, s[i].code, buf, off, lens, n);
}

size_t store__near_keys_graduate(const store_graduate_t *g, uint8_t *buf, uint8_t *lens)
{
    size_t off = 0, n = 0;
    s_near_skills(&g->home, g->skills, g->n_skills, buf, &off, lens, &n);
    for (size_t i = 0; i < g->n_certs; i++)
        s_near_add(&g->home, STORE_NEAR_RNCP, g->certs[i].rncp, buf, &off, lens, &n);
    for (size_t i = 0; i < g->n_romes; i++)
        s_near_add(&g->home, STORE_NEAR_ROME, g->romes[i], buf, &off, lens, &n);
    return n;
}

size_t store__near_keys_vacancy(const store_vacancy_t *v, uint8_t *buf, uint8_t *lens)
{
    size_t off = 0, n = 0;
    s_near_skills(&v->site, v->required, v->n_required, buf, &off, lens, &n);
    s_near_skills(&v->site, v->desirable, v->n_desirable, buf, &off, lens, &n);
    for (size_t i = 0; i < v->n_rncps; i++)
        s_near_add(&v->site, STORE_NEAR_RNCP, v->rncps[i], buf, &off, lens, &n);
    for (size_t i = 0; i < v->n_romes; i++)
        s_near_add(&v->site, STORE_NEAR_ROME, v->romes[i], buf, &off, lens, &n);
    return n;
}

int store__vacancy_expiry(store_txn_t *txn, const store_vacancy_t *was, const store_vacancy_t *is)
{
    const char *id = is ? is->id : was ? was->id : "";
    int32_t day_was = was ? was->expires_on : 0, day_is = is ? is->expires_on : 0;
    uint8_t key[4];
    int rc = 0;
    if (day_was != day_is) {
        if (day_was > 0) {
            store_day_key(day_was, key);
            rc = s_ix_op(txn, STORE_IX_V_EXPIRY, key, sizeof key, id, -1);
        }
        if (rc == 0 && day_is > 0) {
            store_day_key(day_is, key);
            rc = s_ix_op(txn, STORE_IX_V_EXPIRY, key, sizeof key, id, 1);
        }
    }
    return rc;
}

void store_day_key(int32_t day, uint8_t key[4])
{
    uint32_t d = day > 0 ? (uint32_t)day : 0;
    key[0] = (uint8_t)(d >> 24);
    key[1] = (uint8_t)(d >> 16);
    key[2] = (uint8_t)(d >> 8);
    key[3] = (uint8_t)d;
}

/* ---- sweeping an id out of whole indexes -------------------------------- */

typedef struct {
    MDB_val *keys; /* copies, malloc'd */
    size_t n, cap;
} s_keylist_t;

static void s_keylist_free(s_keylist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i].mv_data);
    free(l->keys);
    memset(l, 0, sizeof *l);
}

static int s_keylist_add(s_keylist_t *l, const MDB_val *key)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        MDB_val *keys = realloc(l->keys, cap * sizeof *keys);
        if (keys == NULL)
            return STORE_ENOMEM;
        l->keys = keys;
        l->cap = cap;
    }
    void *copy = malloc(key->mv_size);
    if (copy == NULL)
        return STORE_ENOMEM;
    memcpy(copy, key->mv_data, key->mv_size);
    l->keys[l->n].mv_size = key->mv_size;
    l->keys[l->n++].mv_data = copy;
    return 0;
}

/* key starts with the plen bytes of prefix. */
static int s_has_prefix(const MDB_val *key, const void *prefix, size_t plen)
{
    return key->mv_size >= plen && (plen == 0 || memcmp(key->mv_data, prefix, plen) == 0);
}

/* Collect every key of DUPSORT table dbi that starts with prefix and lists
 * id. Scans those keys whole: for damaged records only (see
 * store__dup_sweep). */
static int s_keys_with_id(store_txn_t *txn, int dbi, const void *prefix, size_t plen,
                          const char *id, s_keylist_t *out)
{
    MDB_cursor *all = NULL, *probe = NULL;
    MDB_val key = {plen, (void *)prefix}, val;
    int rc = mdb_cursor_open(store__txn_of(txn, dbi), txn->store->dbi[dbi], &all);
    if (rc == 0)
        rc = mdb_cursor_open(store__txn_of(txn, dbi), txn->store->dbi[dbi], &probe);
    if (rc == 0)
        rc = mdb_cursor_get(all, &key, &val, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && s_has_prefix(&key, prefix, plen)) {
        MDB_val k = key, v = {strlen(id), (void *)id};
        rc = mdb_cursor_get(probe, &k, &v, MDB_GET_BOTH);
        if (rc == 0 && (rc = s_keylist_add(out, &key)) != 0)
            goto done; /* STORE_ENOMEM */
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(all, &key, &val, MDB_NEXT_NODUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        rc = store__txn_fail(txn, rc, __func__, "scan %s", store__table_name(dbi));
    else
        rc = 0; /* end of table, or past the keys with prefix */
done:
    if (probe != NULL)
        mdb_cursor_close(probe);
    if (all != NULL)
        mdb_cursor_close(all);
    return rc;
}

int store__dup_sweep(store_txn_t *txn, int dbi, const void *prefix, size_t plen, const char *id,
                     size_t *removed)
{
    s_keylist_t keys = {NULL, 0, 0};
    *removed = 0;
    /* Collect first, delete after: deleting under a scanning cursor would
     * move it past keys it has not looked at yet. */
    int rc = s_keys_with_id(txn, dbi, prefix, plen, id, &keys);
    for (size_t i = 0; i < keys.n && rc == 0; i++) {
        MDB_val v = {strlen(id), (void *)id};
        rc = store__txn_of(txn, dbi) == txn->txn
                 ? store__del(txn, txn->store->dbi[dbi], &keys.keys[i], &v)
                 : store__ldel(txn, txn->store->dbi[dbi], &keys.keys[i], &v);
        if (rc != 0)
            rc = store__txn_fail(txn, rc, __func__, "mdb_del %s id '%s'", store__table_name(dbi),
                                 id);
    }
    *removed = rc == 0 ? keys.n : 0;
    s_keylist_free(&keys);
    if (rc == STORE_ENOMEM)
        store__log(STORE_LOG_ERROR, "store: %s: out of memory sweeping '%s' out of %s", __func__,
                   id, store__table_name(dbi));
    return rc;
}

int store__index_sweep(store_txn_t *txn, const store_index_t *ixs, size_t n, const char *id,
                       size_t *removed)
{
    int rc = 0;
    *removed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t count = 0;
        rc = store__dup_sweep(txn, (int)ixs[i], NULL, 0, id, &count);
        *removed += count;
    }
    return rc;
}

/* ---- lookups ------------------------------------------------------------- */

static int s_lookup_ok(store_txn_t *txn, store_index_t ix, const void *key, size_t len)
{
    if (txn == NULL || (int)ix < 0 || ix >= STORE_IX_COUNT || key == NULL)
        return STORE_EINVAL;
    return store__key_ok(txn, len);
}

int store_index_each(store_txn_t *txn, store_index_t ix, const void *key, size_t len,
                     store_id_fn fn, void *arg)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {len, (void *)key}, v;
    if (fn == NULL || s_lookup_ok(txn, ix, key, len) != 0)
        return STORE_EINVAL;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[ix], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open %s", store__table_name(ix));
    int result = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        result = fn(v.mv_data, v.mv_size, arg);
        if (result != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        result = store__txn_fail(txn, rc, __func__, "mdb_cursor_get %s", store__table_name(ix));
    mdb_cursor_close(cur);
    return result;
}
