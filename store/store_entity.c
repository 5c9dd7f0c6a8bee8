/* store_entity.c - graduates and vacancies: get, put and erase.
 *
 * A put reads the stored record first: its version decides whether the new
 * one may replace it (promise 2: an older update never overwrites newer
 * data), and its contents say which index entries to delete, so that the
 * indexes always describe exactly the stored, open records. Counters in
 * meta follow every change of existence or openness.
 *
 * Erasure is the privacy promise: the record, its index entries, every log
 * entry filed under the entity, its ranked list and membership rows and,
 * for a graduate, every stored match naming it go. Even a record that no
 * longer decodes is erased, by sweeping its id out of its indexes.
 */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_codec.h"

static long s_heads_set(store_t *st, char kind, const char *id, const store_head_t *h);
static long s_heads_written_graduate(store_txn_t *txn, const store_graduate_t *g);
static long s_heads_written_vacancy(store_txn_t *txn, const store_vacancy_t *v);

/* What differs between the two kinds of entity, apart from the struct. */
typedef struct {
    const char *what; /* for log lines */
    int dbi;
    char kind;             /* entity_events kind byte */
    const char *count_all; /* meta counters */
    const char *count_open;
    const store_index_t *ixs; /* its indexes on disk, for the sweep */
    size_t n_ixs;
    int has_matches; /* stored matches name entities of this kind */
} s_kind_t;

static const store_index_t s_vacancy_ixs[] = {STORE_IX_V_EXPIRY};

static const s_kind_t s_graduates = {
    .what = "graduate",
    .dbi = S_DBI_GRADUATES,
    .kind = STORE_ENTITY_GRADUATE,
    .count_all = STORE_META_GRADUATES,
    .count_open = STORE_META_GRADUATES_OPEN,
    .ixs = NULL, /* only the places index, in memory */
    .n_ixs = 0,
    .has_matches = 1,
};

static const s_kind_t s_vacancies = {
    .what = "vacancy",
    .dbi = S_DBI_VACANCIES,
    .kind = STORE_ENTITY_VACANCY,
    .count_all = STORE_META_VACANCIES,
    .count_open = STORE_META_VACANCIES_OPEN,
    .ixs = s_vacancy_ixs,
    .n_ixs = sizeof s_vacancy_ixs / sizeof s_vacancy_ixs[0],
    .has_matches = 0,
};

/* ---- shared steps -------------------------------------------------------- */

/* key = id's bytes. STORE_EINVAL unless 1..STORE_ID_MAX bytes. */
static int s_id_key(const char *id, MDB_val *key)
{
    size_t n = id != NULL ? strnlen(id, STORE_ID_MAX + 1) : 0;
    if (n == 0 || n > STORE_ID_MAX)
        return STORE_EINVAL;
    key->mv_size = n;
    key->mv_data = (void *)id;
    return 0;
}

/* Common argument checks: txn and p (the record, the output or the id)
 * not NULL, id usable as a key; write: the call needs a write txn. */
static int s_args_ok(store_txn_t *txn, const void *p, const char *id, int write, const char *func)
{
    MDB_val key;
    int rc;
    if (txn == NULL || p == NULL)
        return STORE_EINVAL;
    if (write && (rc = store__need_write(txn, func)) != 0)
        return rc;
    if (s_id_key(id, &key) != 0) {
        store__log(STORE_LOG_ERROR, "store: %s: id empty or over %d bytes", func, STORE_ID_MAX);
        return STORE_EINVAL;
    }
    return 0;
}

/* The stored bytes of id (borrowed). 0, STORE_ENOTFOUND or logged error. */
static int s_raw_get(store_txn_t *txn, const s_kind_t *k, const char *id, MDB_val *val)
{
    MDB_val key;
    if (s_id_key(id, &key) != 0)
        return STORE_EINVAL;
    int rc = mdb_get(txn->txn, txn->store->dbi[k->dbi], &key, val);
    if (rc == MDB_NOTFOUND)
        return STORE_ENOTFOUND;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get %s '%s'", k->what, id);
    return 0;
}

static int s_corrupt(const s_kind_t *k, const char *id, size_t len)
{
    store__log(STORE_LOG_ERROR,
               "store: %s '%s': stored record (%zu bytes) does not decode; "
               "the store is damaged",
               k->what, id, len);
    return STORE_ECORRUPT;
}

static int s_bad_record(const s_kind_t *k, const char *id, const char *func)
{
    store__log(STORE_LOG_ERROR, "store: %s: %s '%s': a count or string exceeds its bound", func,
               k->what, id);
    return STORE_EINVAL;
}

/* Room for id's record of len bytes (MDB_RESERVE); fill *buf at once. */
static int s_reserve(store_txn_t *txn, const s_kind_t *k, const char *id, size_t len, void **buf)
{
    MDB_val key, val = {len, NULL};
    if (s_id_key(id, &key) != 0)
        return STORE_EINVAL;
    int rc = store__put(txn, txn->store->dbi[k->dbi], &key, &val, MDB_RESERVE);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put %s '%s'", k->what, id);
    *buf = val.mv_data;
    return 0;
}

/* Move the counters from (was, was_open) to (is, is_open). */
static int s_counters(store_txn_t *txn, const s_kind_t *k, int was, int was_open, int is,
                      int is_open)
{
    int rc = 0;
    if (is != was)
        rc = store__meta_add(txn, k->count_all, is - was);
    if (rc == 0 && is_open != was_open)
        rc = store__meta_add(txn, k->count_open, is_open - was_open);
    return rc;
}

/* Damaged record: which index keys list it is unknown, so scan them all,
 * on disk and in memory. Only an open entity has index entries, hence
 * *was_open. */
static int s_sweep(store_txn_t *txn, const s_kind_t *k, const char *id, int *was_open)
{
    size_t removed = 0, postings = 0;
    int rc = store__index_sweep(txn, k->ixs, k->n_ixs, id, &removed);
    if (rc == 0)
        rc = store__near_forget(txn, k->kind, store__heads_num(txn->store, k->kind, id, strlen(id)),
                                &postings);
    *was_open = removed + postings > 0;
    store__log(STORE_LOG_WARN,
               "store: erasing damaged %s '%s': swept %zu index entries and %zu postings", k->what,
               id, removed, postings);
    return rc;
}

/* What the entity left outside its record and indexes: log entries, its
 * ranked list and membership rows, stored matches. *found is set to 1 if
 * there was any of them. */
static int s_erase_traces(store_txn_t *txn, const s_kind_t *k, const char *id, int *found)
{
    int logged = 0, listed = 0;
    size_t matched = 0;
    int rc = store__log_erase_entity(txn, k->kind, id, &logged);
    if (rc == 0)
        rc = store__list_erase_entity(txn, k->kind, id, &listed);
    if (rc == 0 && k->has_matches)
        rc = store_match_erase_graduate(txn, id, &matched);
    *found = logged || listed || matched > 0;
    return rc;
}

/* After the index entries are gone: the record, counters and every other
 * trace. STORE_ENOTFOUND if there was neither a record nor any trace. */
static int s_erase_finish(store_txn_t *txn, const s_kind_t *k, const char *id, int had_record,
                          int was_open)
{
    MDB_val key;
    int traces = 0;
    int rc = s_id_key(id, &key);
    if (rc == 0 && had_record) {
        rc = store__del(txn, txn->store->dbi[k->dbi], &key, NULL);
        if (rc != 0)
            return store__txn_fail(txn, rc, __func__, "mdb_del %s '%s'", k->what, id);
        s_heads_set(txn->store, k->kind, id, NULL);
        rc = s_counters(txn, k, 1, was_open, 0, 0);
    }
    if (rc == 0)
        rc = s_erase_traces(txn, k, id, &traces);
    if (rc != 0)
        return rc;
    return (had_record || traces) ? 0 : STORE_ENOTFOUND;
}

/* Open entity (kind, id) is being erased: out of the places index, by
 * its old record's keys. */
static int s_near_erased(store_txn_t *txn, char kind, const char *id, const void *old)
{
    return store__near_put(txn, kind, store__heads_num(txn->store, kind, id, strlen(id)), old,
                           NULL);
}

/* ---- graduates ----------------------------------------------------------- */

static int s_graduate_load(store_txn_t *txn, const char *id, store_graduate_t *out)
{
    MDB_val val;
    int rc = s_raw_get(txn, &s_graduates, id, &val);
    if (rc == 0 && (store_codec_graduate_decode(val.mv_data, val.mv_size, out) != 0 ||
                    strcmp(out->id, id) != 0))
        rc = s_corrupt(&s_graduates, id, val.mv_size);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int store_graduate_get(store_txn_t *txn, const char *id, store_graduate_t *out)
{
    int rc = s_args_ok(txn, out, id, 0, __func__);
    return rc != 0 ? rc : s_graduate_load(txn, id, out);
}

int store_graduate_put(store_txn_t *txn, const store_graduate_t *g)
{
    size_t len;
    void *buf = NULL;
    int rc = s_args_ok(txn, g, g != NULL ? g->id : NULL, 1, __func__);
    if (rc != 0)
        return rc;
    if (store_codec_graduate_size(g, &len) != 0)
        return s_bad_record(&s_graduates, g->id, __func__);
    store_graduate_t *old = &txn->store->old_g;
    rc = s_graduate_load(txn, g->id, old);
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc; /* a damaged old record: its index entries are unknown */
    int was = rc == 0, was_open = was && old->state == STORE_STATE_OPEN;
    if (was && old->version > g->version)
        return STORE_ESTALE;
    if ((rc = s_reserve(txn, &s_graduates, g->id, len, &buf)) != 0)
        return rc;
    store_codec_graduate_encode(g, buf, len);
    long num = s_heads_written_graduate(txn, g);
    rc = store__near_put(txn, STORE_ENTITY_GRADUATE, num, was_open ? old : NULL,
                         g->state == STORE_STATE_OPEN ? g : NULL);
    if (rc != 0)
        return rc;
    return s_counters(txn, &s_graduates, was, was_open, 1, g->state == STORE_STATE_OPEN);
}

int store_graduate_erase(store_txn_t *txn, const char *id)
{
    int rc = s_args_ok(txn, id, id, 1, __func__);
    if (rc != 0)
        return rc;
    store_graduate_t *old = &txn->store->old_g;
    int found = s_graduate_load(txn, id, old);
    int was_open = found == 0 && old->state == STORE_STATE_OPEN;
    if (was_open)
        rc = s_near_erased(txn, STORE_ENTITY_GRADUATE, id, old);
    else if (found == STORE_ECORRUPT)
        rc = s_sweep(txn, &s_graduates, id, &was_open);
    else if (found != 0 && found != STORE_ENOTFOUND)
        rc = found;
    if (rc != 0)
        return rc;
    return s_erase_finish(txn, &s_graduates, id, found != STORE_ENOTFOUND, was_open);
}

/* ---- vacancies ----------------------------------------------------------- */

static int s_vacancy_load(store_txn_t *txn, const char *id, store_vacancy_t *out)
{
    MDB_val val;
    int rc = s_raw_get(txn, &s_vacancies, id, &val);
    if (rc == 0 && (store_codec_vacancy_decode(val.mv_data, val.mv_size, out) != 0 ||
                    strcmp(out->id, id) != 0))
        rc = s_corrupt(&s_vacancies, id, val.mv_size);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int store_vacancy_get(store_txn_t *txn, const char *id, store_vacancy_t *out)
{
    int rc = s_args_ok(txn, out, id, 0, __func__);
    return rc != 0 ? rc : s_vacancy_load(txn, id, out);
}

int store_vacancy_put(store_txn_t *txn, const store_vacancy_t *v)
{
    size_t len;
    void *buf = NULL;
    int rc = s_args_ok(txn, v, v != NULL ? v->id : NULL, 1, __func__);
    if (rc != 0)
        return rc;
    if (store_codec_vacancy_size(v, &len) != 0)
        return s_bad_record(&s_vacancies, v->id, __func__);
    store_vacancy_t *old = &txn->store->old_v;
    rc = s_vacancy_load(txn, v->id, old);
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc; /* a damaged old record: its index entries are unknown */
    int was = rc == 0, was_open = was && old->state == STORE_STATE_OPEN;
    if (was && old->version > v->version)
        return STORE_ESTALE;
    if ((rc = s_reserve(txn, &s_vacancies, v->id, len, &buf)) != 0)
        return rc;
    store_codec_vacancy_encode(v, buf, len);
    long num = s_heads_written_vacancy(txn, v);
    rc = store__vacancy_expiry(txn, was_open ? old : NULL, v->state == STORE_STATE_OPEN ? v : NULL);
    if (rc == 0)
        rc = store__near_put(txn, STORE_ENTITY_VACANCY, num, was_open ? old : NULL,
                             v->state == STORE_STATE_OPEN ? v : NULL);
    if (rc != 0)
        return rc;
    return s_counters(txn, &s_vacancies, was, was_open, 1, v->state == STORE_STATE_OPEN);
}

int store_vacancy_erase(store_txn_t *txn, const char *id)
{
    int rc = s_args_ok(txn, id, id, 1, __func__);
    if (rc != 0)
        return rc;
    store_vacancy_t *old = &txn->store->old_v;
    int found = s_vacancy_load(txn, id, old);
    int was_open = found == 0 && old->state == STORE_STATE_OPEN;
    if (was_open) {
        rc = store__vacancy_expiry(txn, old, NULL);
        if (rc == 0)
            rc = s_near_erased(txn, STORE_ENTITY_VACANCY, id, old);
    } else if (found == STORE_ECORRUPT) {
        rc = s_sweep(txn, &s_vacancies, id, &was_open);
    } else if (found != 0 && found != STORE_ENOTFOUND) {
        rc = found;
    }
    if (rc != 0)
        return rc;
    return s_erase_finish(txn, &s_vacancies, id, found != STORE_ENOTFOUND, was_open);
}

/* ---- iteration ---------------------------------------------------------- */

int store_entity_ids(store_txn_t *txn, store_entity_kind_t kind, const char *after, size_t max,
                     store_id_fn fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val key, val;
    size_t n_after = after ? strlen(after) : 0, seen = 0;
    if (txn == NULL || fn == NULL || n_after > STORE_ID_MAX ||
        (kind != STORE_ENTITY_GRADUATE && kind != STORE_ENTITY_VACANCY))
        return STORE_EINVAL;
    MDB_dbi dbi =
        txn->store->dbi[kind == STORE_ENTITY_GRADUATE ? S_DBI_GRADUATES : S_DBI_VACANCIES];
    int rc = mdb_cursor_open(txn->txn, dbi, &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open");
    key.mv_size = n_after;
    key.mv_data = (void *)after;
    rc = n_after ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)
                 : mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    if (rc == 0 && n_after && key.mv_size == n_after && memcmp(key.mv_data, after, n_after) == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT); /* strictly after */
    int out = 0;
    while (rc == 0 && (max == 0 || seen < max)) {
        seen++;
        if ((out = fn(key.mv_data, key.mv_size, arg)) != 0)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_get");
    return out;
}

/* ---- heads ---------------------------------------------------------------- */

/* Reading a candidate's head from LMDB (a B-tree descent and a decode) was
 * the largest single cost of matching; heads are small and read over and
 * over, so they are cached in memory, with the meta of each entity's ranked
 * list (store_list.c). The cache follows every put and erase of the running
 * transaction, and is emptied when a write transaction does not commit
 * (store.c), so it never holds a state the store does not. At start-up it
 * is empty and fills as heads are read: nothing of it survives a crash. */

#define S_HEADS_MAX ((size_t)1 << 26) /* entries; beyond, heads are read from LMDB */

static uint64_t s_fnv(const char *s, size_t len, uint64_t h)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static uint32_t s_head_hash(char kind, const char *id, size_t len)
{
    uint64_t h = s_fnv(id, len, 1469598103934665603ull ^ (uint8_t)kind);
    return (uint32_t)(h ^ (h >> 29));
}

unsigned store_sig_bit(const char *code, int wide)
{
    uint64_t h = s_fnv(code, strlen(code), 1469598103934665603ull);
    h ^= h >> 32;
    return (unsigned)(h & (wide ? 64u * STORE_SIG_SKILL_WORDS - 1 : 63u));
}

static void s_sig_skills(store_head_t *h, const store_skill_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned b = store_sig_bit(s[i].code, 1);
        h->sig_skills[b / 64] |= 1ull << (b % 64);
    }
}

static uint64_t s_sig_code(const char *code)
{
    return 1ull << store_sig_bit(code, 0);
}

/* The head of a record: the same fields store_codec_*_head reads, and the
 * signatures. */
static void s_head_graduate(const store_graduate_t *g, store_head_t *h)
{
    memset(h, 0, sizeof *h);
    h->state = g->state;
    h->licence = g->licence;
    h->contracts = g->contracts;
    h->distance_km = g->radius_km;
    h->lat = g->home.lat;
    h->lon = g->home.lon;
    h->has_point = g->home.has_point;
    h->start_day = g->available_from;
    s_sig_skills(h, g->skills, g->n_skills);
    for (size_t i = 0; i < g->n_certs; i++) {
        h->sig_rncps |= s_sig_code(g->certs[i].rncp);
        if (g->certs[i].level > h->level)
            h->level = g->certs[i].level;
    }
    for (size_t i = 0; i < g->n_romes; i++)
        h->sig_romes |= s_sig_code(g->romes[i]);
}

static void s_head_vacancy(const store_t *st, const store_vacancy_t *v, store_head_t *h)
{
    memset(h, 0, sizeof *h);
    if (st->vacancy_skills != NULL)
        st->vacancy_skills(v, h, st->vacancy_skills_arg);
    if (!h->skills_table) {
        s_sig_skills(h, v->required, v->n_required);
        s_sig_skills(h, v->desirable, v->n_desirable);
    }
    h->state = v->state;
    h->licence = v->licence_required;
    h->contract = v->contract;
    h->distance_km = v->max_distance_km;
    h->lat = v->site.lat;
    h->lon = v->site.lon;
    h->has_point = v->site.has_point;
    h->level = v->min_level;
    h->start_day = v->start_date;
    for (size_t i = 0; i < v->n_rncps; i++)
        h->sig_rncps |= s_sig_code(v->rncps[i]);
    for (size_t i = 0; i < v->n_romes; i++)
        h->sig_romes |= s_sig_code(v->romes[i]);
}

void store__heads_reset(store_t *self)
{
    store__heads_t *c = &self->heads;
    free(c->e);
    free(c->slots);
    free(c->ids);
    free(c->undo);
    free(c->lundo);
    uint64_t hits = c->hits, misses = c->misses;
    memset(c, 0, sizeof *c);
    c->hits = hits;
    c->misses = misses;
}

/* The slot of (kind, id): its entry, or the empty slot where it would go. */
static uint32_t *s_heads_slot(store__heads_t *c, uint32_t h, char kind, const char *id, size_t len)
{
    size_t mask = c->n_slots - 1;
    for (size_t j = (size_t)h & mask;; j = (j + 1) & mask) {
        uint32_t *slot = &c->slots[j];
        if (*slot == 0)
            return slot;
        const store__hent_t *e = &c->e[*slot - 1];
        if (e->hash == h && e->kind == (uint8_t)kind && e->id_len == len &&
            memcmp(c->ids + e->id_off, id, len) == 0)
            return slot;
    }
}

static store__hent_t *s_heads_find(store__heads_t *c, char kind, const char *id, size_t len)
{
    if (c->n_slots == 0)
        return NULL;
    uint32_t *slot = s_heads_slot(c, s_head_hash(kind, id, len), kind, id, len);
    return *slot ? &c->e[*slot - 1] : NULL;
}

/* Make room for one more entry of len id bytes. -1 if memory is short or
 * the cache is at its bound: the caller then does without. */
static int s_heads_room(store__heads_t *c, size_t len)
{
    if (c->n >= S_HEADS_MAX)
        return -1;
    if ((c->n + 1) * 10 > c->n_slots * 7) {
        size_t ns = c->n_slots ? c->n_slots * 2 : 4096;
        uint32_t *slots = calloc(ns, sizeof *slots);
        if (slots == NULL)
            return -1;
        for (size_t i = 0; i < c->n; i++) {
            size_t j = (size_t)c->e[i].hash & (ns - 1);
            while (slots[j])
                j = (j + 1) & (ns - 1);
            slots[j] = (uint32_t)i + 1;
        }
        free(c->slots);
        c->slots = slots;
        c->n_slots = ns;
    }
    if (c->n == c->cap) {
        /* doubling while small, then a quarter more: at a million entries,
         * doubling would leave a hundred MB unused */
        size_t cap = c->cap == 0                  ? 2048
                     : c->cap < ((size_t)1 << 20) ? c->cap * 2
                                                  : c->cap + c->cap / 4;
        void *p = realloc(c->e, cap * sizeof *c->e);
        if (p == NULL)
            return -1;
        c->e = p;
        c->cap = cap;
    }
    if (c->ids_len + len > c->ids_cap) {
        size_t cap = c->ids_cap == 0                  ? 65536
                     : c->ids_cap < ((size_t)1 << 24) ? c->ids_cap * 2
                                                      : c->ids_cap + c->ids_cap / 4;
        void *p = realloc(c->ids, cap);
        if (p == NULL)
            return -1;
        c->ids = p;
        c->ids_cap = cap;
    }
    return 0;
}

/* The entry of (kind, id), created empty if need be. NULL when the cache
 * cannot take a new entry (the caller then does without). */
static store__hent_t *s_heads_entry(store_t *st, char kind, const char *id)
{
    store__heads_t *c = &st->heads;
    size_t len = strlen(id);
    store__hent_t *e = s_heads_find(c, kind, id, len);
    if (e != NULL)
        return e;
    if (len == 0 || len > STORE_ID_MAX || s_heads_room(c, len) != 0)
        return NULL;
    uint32_t hash = s_head_hash(kind, id, len);
    uint32_t *slot = s_heads_slot(c, hash, kind, id, len);
    e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->kind = (uint8_t)kind;
    e->id_len = (uint8_t)len;
    e->id_off = (uint32_t)c->ids_len;
    memcpy(c->ids + c->ids_len, id, len);
    c->ids_len += len;
    *slot = (uint32_t)++c->n;
    return e;
}

/* Keep e's value for a rollback, unless the running write transaction
 * created e (a rollback drops it) or none is running. Logging an entry
 * twice is harmless: the rollback replays the log backwards. */
static void s_heads_log(store__heads_t *c, store__hent_t *e)
{
    size_t idx = (size_t)(e - c->e);
    if (!c->logging || idx >= c->n0 || e->logged == c->txn_no)
        return; /* not to undo, or its value before the transaction is kept already */
    store__hundo_t *u = store__log_room(c->undo, &c->cap_undo, c->n_undo, sizeof *c->undo);
    if (u == NULL) {
        c->undo_lost = 1; /* the rollback will reset the cache instead */
        return;
    }
    c->undo = u;
    c->undo[c->n_undo].idx = (uint32_t)idx;
    c->undo[c->n_undo++].old = *e;
    e->logged = c->txn_no;
}

/* Keep e's list meta for a rollback (see store__lundo_t). */
static void s_heads_log_list(store__heads_t *c, const store__hent_t *e)
{
    size_t idx = (size_t)(e - c->e);
    if (!c->logging || idx >= c->n0)
        return;
    store__lundo_t *l = store__log_room(c->lundo, &c->cap_lundo, c->n_lundo, sizeof *c->lundo);
    if (l == NULL) {
        c->undo_lost = 1;
        return;
    }
    c->lundo = l;
    store__lundo_t *u = &c->lundo[c->n_lundo++];
    u->idx = (uint32_t)idx;
    u->list_known = e->list_known;
    u->list = e->list;
}

void store__heads_begin(store_t *self)
{
    store__heads_t *c = &self->heads;
    c->logging = 1;
    if (++c->txn_no == 0) { /* the wrap, every 4 billion transactions */
        for (size_t i = 0; i < c->n; i++)
            c->e[i].logged = 0;
        c->txn_no = 1;
    }
    c->n0 = c->n;
    c->ids_len0 = c->ids_len;
    c->n_slots0 = c->n_slots;
    c->n_undo = c->n_lundo = 0;
    c->undo_lost = 0;
}

void store__heads_commit(store_t *self)
{
    self->heads.logging = 0;
    self->heads.n_undo = self->heads.n_lundo = 0;
}

/* Put every entry index in the slot table again (after the entries made
 * since the transaction began were dropped and the table had grown). */
static void s_heads_rehash(store__heads_t *c)
{
    size_t mask = c->n_slots - 1;
    memset(c->slots, 0, c->n_slots * sizeof *c->slots);
    for (size_t i = 0; i < c->n; i++) {
        size_t j = (size_t)c->e[i].hash & mask;
        while (c->slots[j])
            j = (j + 1) & mask;
        c->slots[j] = (uint32_t)i + 1;
    }
}

int store__heads_rollback(store_t *self)
{
    store__heads_t *c = &self->heads;
    c->logging = 0;
    if (c->undo_lost) {
        store__heads_reset(self);
        return 1;
    }
    /* whole entries first: one may hold list meta changed before its head
     * was, which the list log then takes back to what was committed */
    for (size_t i = c->n_undo; i-- > 0;)
        c->e[c->undo[i].idx] = c->undo[i].old;
    for (size_t i = c->n_lundo; i-- > 0;) {
        store__hent_t *e = &c->e[c->lundo[i].idx];
        e->list_known = c->lundo[i].list_known;
        e->list = c->lundo[i].list;
    }
    c->n_undo = c->n_lundo = 0;
    if (c->n > c->n0 && c->n_slots == c->n_slots0) {
        /* linear probing: taking the newest entries out of their slots,
         * newest first, leaves the table as it was before they came */
        for (size_t i = c->n; i-- > c->n0;) {
            const store__hent_t *e = &c->e[i];
            uint32_t *slot = s_heads_slot(c, e->hash, (char)e->kind, c->ids + e->id_off, e->id_len);
            *slot = 0;
        }
        c->n = c->n0;
    } else if (c->n > c->n0) {
        c->n = c->n0;
        s_heads_rehash(c);
    }
    c->ids_len = c->ids_len0;
    return 0;
}

long store__heads_num(store_t *self, char kind, const char *id, size_t len)
{
    store__hent_t *e = s_heads_find(&self->heads, kind, id, len);
    return e != NULL ? (long)(e - self->heads.e) : -1;
}

/* Cache what the store now holds for (kind, id): head h, or absence when
 * h is NULL. Returns its entity number, -1 if the cache could not take it. */
static long s_heads_set(store_t *st, char kind, const char *id, const store_head_t *h)
{
    store__hent_t *e = s_heads_entry(st, kind, id);
    if (e == NULL)
        return -1;
    s_heads_log(&st->heads, e);
    e->head_state = h != NULL ? STORE__HEAD_PRESENT : STORE__HEAD_ABSENT;
    if (h != NULL)
        e->head = *h;
    return (long)(e - st->heads.e);
}

static long s_heads_written_graduate(store_txn_t *txn, const store_graduate_t *g)
{
    store_head_t h;
    s_head_graduate(g, &h);
    return s_heads_set(txn->store, STORE_ENTITY_GRADUATE, g->id, &h);
}

static long s_heads_written_vacancy(store_txn_t *txn, const store_vacancy_t *v)
{
    store_head_t h;
    s_head_vacancy(txn->store, v, &h);
    return s_heads_set(txn->store, STORE_ENTITY_VACANCY, v->id, &h);
}

int store__heads_list_get(store_t *self, char kind, const char *id, store_list_meta_t *out)
{
    store__hent_t *e = s_heads_find(&self->heads, kind, id, strlen(id));
    if (e == NULL || !e->list_known)
        return 0;
    *out = e->list;
    return 1;
}

void store__heads_list_set(store_t *self, char kind, const char *id, const store_list_t *l)
{
    store__hent_t *e = s_heads_entry(self, kind, id);
    if (e == NULL)
        return;
    s_heads_log_list(&self->heads, e);
    e->list_known = 1;
    store__list_meta_of(l, &e->list);
}

void store__heads_lists_forget(store_t *self)
{
    store__heads_t *c = &self->heads;
    for (size_t i = 0; i < c->n; i++)
        c->e[i].list_known = 0;
}

int store__heads_lists_fill(store_txn_t *txn)
{
    store__heads_t *c = &txn->store->heads;
    store_list_t *l = &txn->store->meta_l;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    for (size_t i = 0; i < c->n; i++) { /* no row: an empty list */
        memset(&c->e[i].list, 0, sizeof c->e[i].list);
        c->e[i].list_known = 1;
    }
    if (c->n_slots == 0 || txn->ltxn == NULL)
        return 0; /* nothing cached, or no lists.mdb to read */
    int rc = mdb_cursor_open(txn->ltxn, txn->store->dbi[S_DBI_LISTS], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open lists");
    int out = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size < 2 || key.mv_size > STORE_ENTITY_KEY_MAX)
            continue;
        const char *id = (const char *)key.mv_data + 1;
        store__hent_t *e = s_heads_find(c, *(const char *)key.mv_data, id, key.mv_size - 1);
        if (e == NULL)
            continue; /* not cached: it stays unknown, read when asked */
        if (store_codec_list_decode(val.mv_data, val.mv_size, l) != 0) {
            e->list_known = 0; /* store_list_meta reports the damage when asked */
            continue;
        }
        store__list_meta_of(l, &e->list);
    }
    if (rc != MDB_NOTFOUND)
        out = store__txn_fail(txn, rc, __func__, "mdb_cursor_get lists");
    mdb_cursor_close(cur);
    if (out != 0)
        store__heads_lists_forget(txn->store);
    return out;
}

/* Read and decode the record of (kind, id) and cache its head. */
static int s_head_load(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                       store_head_t *out)
{
    store_t *st = txn->store;
    int rc = kind == STORE_ENTITY_GRADUATE ? s_graduate_load(txn, id, &st->head_g)
                                           : s_vacancy_load(txn, id, &st->head_v);
    if (rc == STORE_ENOTFOUND)
        s_heads_set(st, (char)kind, id, NULL);
    if (rc != 0)
        return rc;
    if (kind == STORE_ENTITY_GRADUATE)
        s_head_graduate(&st->head_g, out);
    else
        s_head_vacancy(st, &st->head_v, out);
    s_heads_set(st, (char)kind, id, out);
    return 0;
}

int store_entity_head(store_txn_t *txn, store_entity_kind_t kind, const char *id, store_head_t *out)
{
    int rc = s_args_ok(txn, out, id, 0, __func__);
    if (rc == 0 && kind != STORE_ENTITY_GRADUATE && kind != STORE_ENTITY_VACANCY)
        rc = STORE_EINVAL;
    if (rc != 0)
        return rc;
    store__hent_t *e = s_heads_find(&txn->store->heads, (char)kind, id, strlen(id));
    if (e != NULL && e->head_state != STORE__HEAD_UNKNOWN) {
        txn->store->heads.hits++;
        if (e->head_state == STORE__HEAD_ABSENT)
            return STORE_ENOTFOUND;
        *out = e->head;
        return 0;
    }
    txn->store->heads.misses++;
    return s_head_load(txn, kind, id, out);
}

/* Cache the head of the record in val if it is open; *n_open counts. A
 * record that does not decode is left out (it is read, and reported, when
 * something asks for it). */
static int s_fill_one(store_t *st, char kind, const MDB_val *key, const MDB_val *val,
                      size_t *n_open)
{
    store_head_t h;
    int grad = kind == STORE_ENTITY_GRADUATE;
    if ((grad ? store_codec_graduate_head(val->mv_data, val->mv_size, &h)
              : store_codec_vacancy_head(val->mv_data, val->mv_size, &h)) != 0 ||
        h.state != STORE_STATE_OPEN)
        return 0;
    if (grad) {
        if (store_codec_graduate_decode(val->mv_data, val->mv_size, &st->head_g) != 0)
            return 0;
        s_head_graduate(&st->head_g, &h);
    } else {
        if (store_codec_vacancy_decode(val->mv_data, val->mv_size, &st->head_v) != 0)
            return 0;
        s_head_vacancy(st, &st->head_v, &h);
    }
    const char *id = grad ? st->head_g.id : st->head_v.id;
    if (strlen(id) != key->mv_size || memcmp(id, key->mv_data, key->mv_size) != 0)
        return 0; /* filed under another id: damaged, left out as above */
    if (s_heads_set(st, kind, id, &h) < 0)
        return STORE_ENOMEM;
    (*n_open)++;
    return 0;
}

void store__heads_reserve(store_t *self, size_t n)
{
    store__heads_t *c = &self->heads;
    if (n <= c->cap || n > S_HEADS_MAX)
        return;
    void *p = realloc(c->e, n * sizeof *c->e);
    if (p == NULL)
        return; /* growth on demand will do */
    c->e = p;
    c->cap = n;
}

/* Where an open entity lies, as a number that orders entities by place:
 * its 1-degree cell (the cells of the places index) first, then, within
 * the cell, a Z-order of its position to 1/256 degree. Entities without
 * a point sort last. */
static uint64_t s_place_order(const store_head_t *h)
{
    if (!h->has_point || !(h->lat >= -90 && h->lat <= 90 && h->lon >= -180 && h->lon <= 180))
        return UINT64_MAX;
    double r = floor(h->lat / STORE_NEAR_DEG), c = floor(h->lon / STORE_NEAR_DEG);
    unsigned fr = (unsigned)((h->lat / STORE_NEAR_DEG - r) * 256.0) & 255;
    unsigned fc = (unsigned)((h->lon / STORE_NEAR_DEG - c) * 256.0) & 255;
    uint32_t z = 0;
    for (int b = 0; b < 8; b++)
        z |= ((fr >> b & 1u) << (2 * b + 1)) | ((fc >> b & 1u) << (2 * b));
    return ((uint64_t)(uint16_t)((int)r + 32768) << 48) |
           ((uint64_t)(uint16_t)((int)c + 32768) << 32) | z;
}

typedef struct {
    uint64_t order;
    uint32_t id_off;
    uint8_t id_len;
} s_placed_t;

static int s_placed_cmp(const void *a, const void *b)
{
    const s_placed_t *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->id_off < y->id_off ? -1 : x->id_off > y->id_off;
}

/* The open records of kind are cached in the order of their places, not
 * of their ids: entity numbers follow that order, so that the postings of
 * one in-memory list (one cell and code), filled in number order, name
 * entities whose heads and places lie close together in memory, and a
 * walk reads them nearly in sequence instead of all over a 100-MB array.
 * A first pass reads the ids and places of the open records, a second
 * caches them, sorted. If memory is short for the sort, the order of the
 * ids is used. */
int store__heads_fill_open(store_txn_t *txn, char kind, size_t *n_open)
{
    const s_kind_t *k = kind == STORE_ENTITY_GRADUATE ? &s_graduates : &s_vacancies;
    int grad = kind == STORE_ENTITY_GRADUATE;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    s_placed_t *v = NULL;
    char *ids = NULL;
    size_t n = 0, cap = 0, ids_len = 0, ids_cap = 0;
    int out = 0, sorted = 1;
    *n_open = 0;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[k->dbi], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open %s", k->what);
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0 && sorted;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        store_head_t h;
        if ((grad ? store_codec_graduate_head(val.mv_data, val.mv_size, &h)
                  : store_codec_vacancy_head(val.mv_data, val.mv_size, &h)) != 0 ||
            h.state != STORE_STATE_OPEN || key.mv_size == 0 || key.mv_size > STORE_ID_MAX)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            void *p = realloc(v, cap * sizeof *v);
            if (p == NULL)
                sorted = 0;
            else
                v = p;
        }
        if (sorted && ids_len + key.mv_size > ids_cap) {
            ids_cap = ids_cap ? ids_cap * 2 : 65536;
            void *p = realloc(ids, ids_cap);
            if (p == NULL)
                sorted = 0;
            else
                ids = p;
        }
        if (!sorted || ids_len + key.mv_size > UINT32_MAX) {
            sorted = 0;
            break;
        }
        v[n++] = (s_placed_t){s_place_order(&h), (uint32_t)ids_len, (uint8_t)key.mv_size};
        memcpy(ids + ids_len, key.mv_data, key.mv_size);
        ids_len += key.mv_size;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        out = store__txn_fail(txn, rc, __func__, "mdb_cursor_get %s", k->what);
    } else if (sorted) {
        if (n > 1)
            qsort(v, n, sizeof *v, s_placed_cmp);
        for (size_t i = 0; i < n && out == 0; i++) {
            key.mv_size = v[i].id_len;
            key.mv_data = ids + v[i].id_off;
            if ((rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY)) != 0) {
                out = store__txn_fail(txn, rc, __func__, "mdb_cursor_get %s", k->what);
                break;
            }
            out = s_fill_one(txn->store, kind, &key, &val, n_open);
        }
    } else { /* memory is short: in the order of the ids */
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0 && out == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
            out = s_fill_one(txn->store, kind, &key, &val, n_open);
        if (rc != 0 && rc != MDB_NOTFOUND)
            out = store__txn_fail(txn, rc, __func__, "mdb_cursor_get %s", k->what);
    }
    mdb_cursor_close(cur);
    free(v);
    free(ids);
    return out;
}
