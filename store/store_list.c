/* store_list.c - ranked lists and their membership index.
 *
 * Each entity may have one ranked list of entities of the other kind: a
 * vacancy's best graduates, a graduate's best vacancies (the matcher's top
 * K, K <= STORE_LIST_MAX). "lists" holds the list itself under kind byte +
 * owner id. "list_members" answers the reverse question the matcher asks
 * when an entity changes or goes, "whose lists hold it?": owner-kind byte +
 * member id -> owner id, one DUPSORT duplicate per owner.
 *
 * The two tables must agree exactly, so store_list_put diffs the stored
 * list against the new one and touches only the rows of members that came
 * or went: a re-ranking of the same members writes no membership row. The
 * number of stored lists of each kind is kept in meta ("vacancy_lists",
 * "graduate_lists") so that counting is O(1), not a scan of "lists".
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store_codec.h"

/* ---- shared steps -------------------------------------------------------- */

static int s_kind_ok(int kind)
{
    return kind == STORE_ENTITY_GRADUATE || kind == STORE_ENTITY_VACANCY;
}

static const char *s_what(char kind)
{
    return kind == STORE_ENTITY_VACANCY ? "vacancy" : "graduate";
}

/* The meta counter of kind's lists. */
static const char *s_counter(char kind)
{
    return kind == STORE_ENTITY_VACANCY ? STORE_META_VACANCY_LISTS : STORE_META_GRADUATE_LISTS;
}

/* The meta counter of the entries of kind's lists, and the marker saying
 * that the counters cover every list (stores written before the counters
 * existed are counted once, at open). */
#define S_META_ENTRIES_V     "vacancy_list_entries"
#define S_META_ENTRIES_G     "graduate_list_entries"
#define S_META_ENTRIES_READY "list_entries_counted"

static const char *s_entries_counter(char kind)
{
    return kind == STORE_ENTITY_VACANCY ? S_META_ENTRIES_V : S_META_ENTRIES_G;
}

/* The kind of the owners whose lists can hold an entity of kind. */
static char s_other(char kind)
{
    return kind == STORE_ENTITY_VACANCY ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
}

/* Common argument checks: txn not NULL, p_ok (the list, the output or the
 * callback is not NULL), a known kind, an id usable in a key; write: the
 * call needs a write txn. */
static int s_args_ok(store_txn_t *txn, int kind, const char *id, int p_ok, int write,
                     const char *func)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_val key;
    int rc;
    if (txn == NULL || !p_ok || !s_kind_ok(kind) ||
        store__entity_key((char)kind, id, kbuf, &key) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: %s: NULL argument, unknown kind or id empty or over %d bytes", func,
                   STORE_ID_MAX);
        return STORE_EINVAL;
    }
    if (write && (rc = store__need_write(txn, func)) != 0)
        return rc;
    return 0;
}

/* What the list of (kind, id) now is, for the cache of lists' meta; not
 * from a shared reader's transaction, nor beside one (the cache is
 * nobody's to change then). */
static void s_cache_meta(store_txn_t *txn, char kind, const char *id, const store_list_t *l)
{
    if (!txn->shared && !txn->store->lists_beside)
        store__heads_list_set(txn->store, kind, id, l);
}

/* Decode the stored list of (kind, id) into *out; an absent one reads as
 * empty. *present tells whether a row exists (also when it does not
 * decode: STORE_ECORRUPT, logged). */
static int s_list_load(store_txn_t *txn, char kind, const char *id, store_list_t *out, int *present)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_val key, val;
    *present = 0;
    memset(out, 0, sizeof *out);
    if (store__entity_key(kind, id, kbuf, &key) != 0)
        return STORE_EINVAL;
    int rc = txn->ltxn == NULL ? MDB_NOTFOUND /* no lists.mdb to read: none */
                               : mdb_get(txn->ltxn, txn->store->dbi[S_DBI_LISTS], &key, &val);
    if (rc == MDB_NOTFOUND) {
        s_cache_meta(txn, kind, id, out);
        return 0;
    }
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get lists %s '%s'", s_what(kind), id);
    *present = 1;
    if (store_codec_list_decode(val.mv_data, val.mv_size, out) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: %s list '%s': stored list (%zu bytes) does not decode; "
                   "the store is damaged",
                   s_what(kind), id, val.mv_size);
        return STORE_ECORRUPT;
    }
    s_cache_meta(txn, kind, id, out);
    return 0;
}

/* Write l (len bytes, from store_codec_list_size) as the list of (kind, id). */
static int s_list_write(store_txn_t *txn, char kind, const char *id, const store_list_t *l,
                        size_t len)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_val key, val = {len, NULL};
    if (store__entity_key(kind, id, kbuf, &key) != 0)
        return STORE_EINVAL;
    int rc = store__lput(txn, txn->store->dbi[S_DBI_LISTS], &key, &val, MDB_RESERVE);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put lists %s '%s'", s_what(kind), id);
    store_codec_list_encode(l, val.mv_data, len);
    return 0;
}

/* Delete the list row of (kind, id), which exists. */
static int s_list_del(store_txn_t *txn, char kind, const char *id)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_val key;
    if (store__entity_key(kind, id, kbuf, &key) != 0)
        return STORE_EINVAL;
    int rc = store__ldel(txn, txn->store->dbi[S_DBI_LISTS], &key, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del lists %s '%s'", s_what(kind), id);
    return 0;
}

/* ---- membership rows ------------------------------------------------------ */

/* Insert (op > 0) or delete (op < 0) the row "owner (kind) lists member". */
static int s_member_op(store_txn_t *txn, char kind, const char *member, const char *owner, int op)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_val key, val = {strlen(owner), (void *)owner};
    if (store__entity_key(kind, member, kbuf, &key) != 0)
        return STORE_EINVAL; /* cannot happen: the codec checked every id */
    MDB_dbi dbi = txn->store->dbi[S_DBI_LIST_MEMBERS];
    int rc = op > 0 ? store__lput(txn, dbi, &key, &val, 0) : store__ldel(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND && op < 0)
        return 0; /* the member was erased while listed: its rows went then */
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "%s list_members %s '%s' member '%s'",
                               op > 0 ? "mdb_put" : "mdb_del", s_what(kind), owner, member);
    return 0;
}

/* id is among the entries of l: looked for first around position hint,
 * since a list that changed by an entry or two has moved the others by a
 * place or two at most, then everywhere. */
static int s_has_near(const store_list_t *l, const char *id, size_t hint)
{
    for (size_t d = 0; d < 3; d++) {
        if (hint + d < l->n && strcmp(l->e[hint + d].id, id) == 0)
            return 1;
        if (d > 0 && d <= hint && hint - d < l->n && strcmp(l->e[hint - d].id, id) == 0)
            return 1;
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].id, id) == 0)
            return 1;
    return 0;
}

/* Move the membership rows of owner (kind, id) from list was to list is:
 * delete the rows of members only in was, insert those only in is. Rows
 * are idempotent (a second delete finds nothing, a second insert of the
 * same pair changes nothing), so a member listed twice (a caller's slip)
 * leaves one row or none, as it should. Usually was and is differ by an
 * entry or two, and each lookup ends near the same position. */
static int s_members_diff(store_txn_t *txn, char kind, const char *id, const store_list_t *was,
                          const store_list_t *is)
{
    int rc = 0;
    for (size_t i = 0; i < was->n && rc == 0; i++)
        if (!s_has_near(is, was->e[i].id, i))
            rc = s_member_op(txn, kind, was->e[i].id, id, -1);
    for (size_t j = 0; j < is->n && rc == 0; j++)
        if (!s_has_near(was, is->e[j].id, j))
            rc = s_member_op(txn, kind, is->e[j].id, id, 1);
    return rc;
}

/* The stored list of (kind, id) does not decode, so which members it held
 * is unknown: sweep id out of every membership row of kind (a scan of
 * those rows) and reset *was to empty. Lists are derived data that the
 * matcher rewrites, so a put repairs the damage rather than refusing. */
static int s_members_sweep(store_txn_t *txn, char kind, const char *id, store_list_t *was)
{
    uint8_t prefix = (uint8_t)kind;
    size_t removed = 0;
    int rc = store__dup_sweep(txn, S_DBI_LIST_MEMBERS, &prefix, 1, id, &removed);
    memset(was, 0, sizeof *was);
    store__log(STORE_LOG_WARN, "store: damaged %s list '%s': swept %zu membership rows",
               s_what(kind), id, removed);
    return rc;
}

/* Delete every row "an owner of kind lists member" (all owners). *count
 * tells how many there were. */
static int s_member_rows_del(store_txn_t *txn, char kind, const char *member, size_t *count)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    *count = 0;
    if (store__entity_key(kind, member, kbuf, &key) != 0)
        return STORE_EINVAL;
    int rc = mdb_cursor_open(txn->ltxn, txn->store->dbi[S_DBI_LIST_MEMBERS], &cur);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count(cur, count);
    if (rc == 0) {
        txn->writes++;
        txn->lwrites++;
        rc = mdb_cursor_del(cur, MDB_NODUPDATA); /* every duplicate of the key */
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0) {
        *count = 0;
        return store__txn_fail(txn, rc, __func__,
                               "mdb_cursor_del list_members %s lists, member '%s'", s_what(kind),
                               member);
    }
    return 0;
}

/* ---- public ----------------------------------------------------------------- */

int store_list_get(store_txn_t *txn, store_entity_kind_t kind, const char *id, store_list_t *out)
{
    int present;
    int rc = s_args_ok(txn, (int)kind, id, out != NULL, 0, __func__);
    return rc != 0 ? rc : s_list_load(txn, (char)kind, id, out, &present);
}

/* Check l and id for a write; its encoded length in *len. */
static int s_put_ok(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                    const store_list_t *l, size_t *len, const char *func)
{
    int rc = s_args_ok(txn, (int)kind, id, l != NULL, 1, func);
    if (rc != 0)
        return rc;
    if (store_codec_list_size(l, len) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: %s: %s list '%s': %u entries (max %d), or an empty or "
                   "unterminated id",
                   func, s_what((char)kind), id, (unsigned)l->n, STORE_LIST_MAX);
        return STORE_EINVAL;
    }
    return 0;
}

/* Replace the list of (kind, id), whose stored content is *was (a row
 * exists when present), by l: membership rows, the row, the counter. */
static int s_replace(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                     const store_list_t *was, int present, const store_list_t *l, size_t len)
{
    int rc = s_members_diff(txn, (char)kind, id, was, l);
    if (rc == 0 && l->n > 0)
        rc = s_list_write(txn, (char)kind, id, l, len);
    else if (rc == 0 && present)
        rc = s_list_del(txn, (char)kind, id);
    if (rc == 0 && present != (l->n > 0))
        rc = store__meta_add(txn, s_counter((char)kind), present ? -1 : 1);
    if (rc == 0) {
        txn->list_entries[kind == STORE_ENTITY_VACANCY ? 0 : 1] += (int64_t)l->n - (int64_t)was->n;
        s_cache_meta(txn, (char)kind, id, l);
    }
    return rc;
}

int store_list_put(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                   const store_list_t *l)
{
    size_t len = 0;
    int present = 0;
    int rc = s_put_ok(txn, kind, id, l, &len, __func__);
    if (rc != 0)
        return rc;
    store_list_t *was = &txn->store->old_l;
    rc = s_list_load(txn, (char)kind, id, was, &present);
    if (rc == STORE_ECORRUPT)
        rc = s_members_sweep(txn, (char)kind, id, was);
    return rc != 0 ? rc : s_replace(txn, kind, id, was, present, l, len);
}

int store_list_replace(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                       const store_list_t *was, const store_list_t *l)
{
    size_t len = 0;
    int rc = s_put_ok(txn, kind, id, l, &len, __func__);
    if (rc == 0 && was == NULL)
        rc = STORE_EINVAL;
    return rc != 0 ? rc : s_replace(txn, kind, id, was, was->n > 0, l, len);
}

int store__list_erase_entity(store_txn_t *txn, char kind, const char *id, int *found)
{
    store_list_t *was = &txn->store->old_l;
    int present = 0;
    size_t stray = 0;
    *found = 0;
    int rc = s_list_load(txn, kind, id, was, &present);
    if (rc == STORE_ECORRUPT)
        rc = s_members_sweep(txn, kind, id, was);
    for (size_t i = 0; i < was->n && rc == 0; i++)
        rc = s_member_op(txn, kind, was->e[i].id, id, -1);
    if (rc == 0 && present && (rc = s_list_del(txn, kind, id)) == 0)
        rc = store__meta_add(txn, s_counter(kind), -1);
    if (rc == 0 && present)
        txn->list_entries[kind == STORE_ENTITY_VACANCY ? 0 : 1] -= (int64_t)was->n;
    if (rc == 0) {
        memset(was, 0, sizeof *was);
        s_cache_meta(txn, kind, id, was); /* gone: reads as empty */
        rc = s_member_rows_del(txn, s_other(kind), id, &stray);
    }
    /* The caller should have taken id out of those lists first. The rows
     * go (they name id); the lists' values keep the entry until their owner's
     * list is next written, as rewriting them here would decide their
     * ranking behind the matcher's back. */
    if (rc == 0 && stray > 0)
        store__log(STORE_LOG_WARN,
                   "store: erasing %s '%s': still listed by %zu %s list(s); "
                   "membership rows deleted, the lists themselves left as they are",
                   s_what(kind), id, stray, s_what(s_other(kind)));
    *found = present || stray > 0;
    return rc;
}

int store_list_meta(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                    store_list_meta_t *out)
{
    int present;
    int rc = s_args_ok(txn, (int)kind, id, out != NULL, 0, __func__);
    if (rc != 0 || store__heads_list_get(txn->store, (char)kind, id, out))
        return rc;
    store_list_t *l = &txn->store->meta_l;
    if ((rc = s_list_load(txn, (char)kind, id, l, &present)) != 0)
        return rc;
    store__list_meta_of(l, out);
    return 0;
}

int store_list_owners(store_txn_t *txn, store_entity_kind_t kind, const char *member,
                      store_id_fn fn, void *arg)
{
    uint8_t kbuf[STORE_ENTITY_KEY_MAX];
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = s_args_ok(txn, (int)kind, member, fn != NULL, 0, __func__);
    if (rc != 0 || (rc = store__entity_key((char)kind, member, kbuf, &key)) != 0)
        return rc;
    if (txn->ltxn == NULL)
        return 0; /* no lists.mdb to read: no lists */
    rc = mdb_cursor_open(txn->ltxn, txn->store->dbi[S_DBI_LIST_MEMBERS], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open list_members");
    int result = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    while (rc == 0) {
        result = fn(val.mv_data, val.mv_size, arg);
        if (result != 0)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        result =
            store__txn_fail(txn, rc, __func__, "mdb_cursor_get list_members %s lists, member '%s'",
                            s_what((char)kind), member);
    mdb_cursor_close(cur);
    return result;
}

uint64_t store_list_count(store_txn_t *txn, store_entity_kind_t kind)
{
    uint64_t n = 0;
    if (txn == NULL || !s_kind_ok((int)kind) ||
        store__meta_get(txn, s_counter((char)kind), &n) != 0)
        return 0; /* failures are logged by store__meta_get */
    return n;
}

/* Hand one row of "lists" to fn: its key's id as a C string, its value
 * decoded into *l. */
static int s_each_one(const MDB_val *key, const MDB_val *val, store_list_t *l, store_list_fn fn,
                      void *arg)
{
    char id[STORE_ID_MAX + 1];
    size_t n = key->mv_size - 1;
    const char *kid = (const char *)key->mv_data + 1;
    if (n == 0 || n > STORE_ID_MAX || memchr(kid, 0, n) != NULL ||
        store_codec_list_decode(val->mv_data, val->mv_size, l) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: store_list_each: list key of %zu bytes, value of %zu "
                   "bytes does not decode; the store is damaged",
                   key->mv_size, val->mv_size);
        return STORE_ECORRUPT;
    }
    memcpy(id, kid, n);
    id[n] = '\0';
    return fn(id, l, arg);
}

/* fn must not write lists: the cursor walks the table it would change. */
int store_list_each(store_txn_t *txn, store_entity_kind_t kind, store_list_fn fn, void *arg)
{
    uint8_t prefix = (uint8_t)kind;
    MDB_cursor *cur = NULL;
    MDB_val key = {1, &prefix}, val;
    if (txn == NULL || fn == NULL || !s_kind_ok((int)kind))
        return STORE_EINVAL;
    if (txn->ltxn == NULL)
        return 0; /* no lists.mdb to read: no lists */
    /* 7 KB, off the stack: fn may need it deeper down */
    store_list_t *l = malloc(sizeof *l);
    if (l == NULL) {
        store__log(STORE_LOG_ERROR, "store: %s: out of memory", __func__);
        return STORE_ENOMEM;
    }
    int result = 0;
    int rc = mdb_cursor_open(txn->ltxn, txn->store->dbi[S_DBI_LISTS], &cur);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size >= 1 && *(const uint8_t *)key.mv_data == prefix) {
        result = s_each_one(&key, &val, l, fn, arg);
        if (result != 0)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        result = store__txn_fail(txn, rc, __func__, "walk lists of %s", s_what((char)kind));
    if (cur != NULL)
        mdb_cursor_close(cur);
    free(l);
    return result;
}

uint64_t store_list_entries(store_txn_t *txn, store_entity_kind_t kind)
{
    uint64_t n = 0;
    if (txn == NULL || !s_kind_ok((int)kind) ||
        store__meta_get(txn, s_entries_counter((char)kind), &n) != 0)
        return 0; /* failures are logged by store__meta_get */
    return n;
}

int store__list_entries_flush(store_txn_t *txn)
{
    int rc = 0;
    if (txn->list_entries[0] != 0)
        rc = store__meta_add(txn, S_META_ENTRIES_V, txn->list_entries[0]);
    if (rc == 0 && txn->list_entries[1] != 0)
        rc = store__meta_add(txn, S_META_ENTRIES_G, txn->list_entries[1]);
    txn->list_entries[0] = txn->list_entries[1] = 0;
    return rc;
}

int store__list_counters_reset(store_txn_t *txn)
{
    static const char *const names[] = {STORE_META_VACANCY_LISTS, STORE_META_GRADUATE_LISTS,
                                        S_META_ENTRIES_V, S_META_ENTRIES_G};
    int rc = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && rc == 0; i++)
        rc = store__meta_put(txn, names[i], 0);
    if (rc == 0)
        rc = store__meta_put(txn, S_META_ENTRIES_READY, 1);
    txn->list_entries[0] = txn->list_entries[1] = 0;
    return rc;
}

static int s_entries_add(const char *id, const store_list_t *l, void *arg)
{
    (void)id;
    *(uint64_t *)arg += l->n;
    return 0;
}

int store__list_entries_init(store_txn_t *txn)
{
    uint64_t ready = 0, nv = 0, ng = 0;
    int rc = store__meta_get(txn, S_META_ENTRIES_READY, &ready);
    if (rc != 0 || ready)
        return rc;
    rc = store_list_each(txn, STORE_ENTITY_VACANCY, s_entries_add, &nv);
    if (rc == 0)
        rc = store_list_each(txn, STORE_ENTITY_GRADUATE, s_entries_add, &ng);
    if (rc == 0)
        rc = store__meta_put(txn, S_META_ENTRIES_V, nv);
    if (rc == 0)
        rc = store__meta_put(txn, S_META_ENTRIES_G, ng);
    if (rc == 0)
        rc = store__meta_put(txn, S_META_ENTRIES_READY, 1);
    return rc;
}
