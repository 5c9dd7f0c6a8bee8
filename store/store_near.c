/* store_near.c - the places index, in memory: posting lists of entity
 * numbers.
 *
 * Candidate retrieval walks the posting lists of a neighbourhood (every
 * relevance code of an entity times every coarse cell in its reach) and
 * looks at the head of every entity found. Each key (store_near_key) maps
 * to a vector of entity numbers, an entity number being the index of the
 * entity's entry in the store's cache of heads (store_entity.c), which
 * holds the head of every open entity while these lists exist. A walk
 * reads uint32s and heads from arrays, and drops repeats with an epoch
 * stamp per entity.
 *
 * The records are the durable source; the index has no copy on disk
 * (formats 1 to 4 kept one, written by every put and read by nothing
 * else: a fifth of an event's B-tree writes, each on a page of its own).
 * The lists are built when a writable store opens, from the open records,
 * and follow every put and erase inside the write transaction (the engine
 * reads its own writes). Deletion is eager (a list is scanned for the
 * entity, its last entry moved into the hole), so a list never holds a
 * stale posting. Every change of a write transaction is logged, room for
 * its log entry taken before the change is made; when the transaction
 * does not commit, the log is replayed backwards (store.c), which puts
 * every list back as it was, entry for entry. So memory that runs short
 * fails the put, and its transaction, and leaves the lists exact.
 */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_codec.h"

#define S_SIDE(kind) ((kind) == STORE_ENTITY_GRADUATE ? 0 : 1)

/* The postings of l: in the list itself while there are few. */
static inline uint32_t *s_v(store__plist_t *l)
{
    return l->cap > STORE__PLIST_INLINE ? l->u.v : l->u.inl;
}

static inline const uint32_t *s_cv(const store__plist_t *l)
{
    return l->cap > STORE__PLIST_INLINE ? l->u.v : l->u.inl;
}

/* Growth of the arrays that get large: doubling while small, then by a
 * quarter (a 1.2-million entry array doubled would hold 0.8 million
 * entries of nothing). */
static size_t s_grown(size_t cap, size_t first)
{
    if (cap == 0)
        return first;
    return cap < ((size_t)1 << 20) ? cap * 2 : cap + cap / 4;
}

static uint32_t s_key_hash(const uint8_t *k, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot of key k: its list, or the empty slot where it would go. */
static uint32_t *s_slot(const store__near_side_t *sd, uint32_t h, const uint8_t *k, size_t len)
{
    size_t mask = sd->n_slots - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        uint32_t *slot = &sd->slots[j];
        if (*slot == 0)
            return slot;
        const store__plist_t *l = &sd->l[*slot - 1];
        if (l->hash == h && l->key_len == len && memcmp(sd->keys + l->key_off, k, len) == 0)
            return slot;
    }
}

/* The list of key k, NULL if there is none. */
static store__plist_t *s_find(const store__near_side_t *sd, const uint8_t *k, size_t len)
{
    if (sd->n_slots == 0 || len == 0 || len > STORE_NEAR_KEY_MAX)
        return NULL;
    uint32_t *slot = s_slot(sd, s_key_hash(k, len), k, len);
    return *slot ? &sd->l[*slot - 1] : NULL;
}

/* Room for one more list of a key of len bytes. -1 if memory is short. */
static int s_room(store__near_side_t *sd, size_t len)
{
    if ((sd->n + 1) * 10 > sd->n_slots * 7) {
        size_t ns = sd->n_slots ? sd->n_slots * 2 : 4096;
        uint32_t *slots = calloc(ns, sizeof *slots);
        if (slots == NULL)
            return -1;
        for (size_t i = 0; i < sd->n; i++) {
            size_t j = sd->l[i].hash & (ns - 1);
            while (slots[j])
                j = (j + 1) & (ns - 1);
            slots[j] = (uint32_t)i + 1;
        }
        free(sd->slots);
        sd->slots = slots;
        sd->n_slots = ns;
    }
    if (sd->n == sd->cap) {
        size_t cap = s_grown(sd->cap, 4096);
        void *p = realloc(sd->l, cap * sizeof *sd->l);
        if (p == NULL)
            return -1;
        sd->l = p;
        sd->cap = cap;
    }
    if (sd->keys_len + len > sd->keys_cap) {
        size_t cap = s_grown(sd->keys_cap, 65536);
        void *p = realloc(sd->keys, cap);
        if (p == NULL)
            return -1;
        sd->keys = p;
        sd->keys_cap = cap;
    }
    return 0;
}

/* The index of key k's list, made empty (room for cap entries) if need
 * be. -1 if memory is short or the key is not one of ours. */
static long s_intern(store__near_side_t *sd, const uint8_t *k, size_t len, size_t cap)
{
    store__plist_t *l = s_find(sd, k, len);
    if (l != NULL)
        return l - sd->l;
    if (len == 0 || len > STORE_NEAR_KEY_MAX || sd->keys_len + len > UINT32_MAX ||
        s_room(sd, len) != 0)
        return -1;
    uint32_t h = s_key_hash(k, len);
    uint32_t *slot = s_slot(sd, h, k, len);
    l = &sd->l[sd->n];
    memset(l, 0, sizeof *l);
    if (cap > STORE__PLIST_INLINE && (l->u.v = malloc(cap * sizeof *l->u.v)) == NULL)
        return -1;
    l->cap = cap > STORE__PLIST_INLINE ? (uint32_t)cap : STORE__PLIST_INLINE;
    l->hash = h;
    l->key_len = (uint8_t)len;
    l->key_off = (uint32_t)sd->keys_len;
    memcpy(sd->keys + sd->keys_len, k, len);
    sd->keys_len += len;
    *slot = (uint32_t)++sd->n;
    return l - sd->l;
}

static int s_append(store__plist_t *l, uint32_t num)
{
    if (l->n == l->cap) {
        /* Lists are built to their exact size, so the first posting a
         * write adds to a list grows it: by a half while it is short, by
         * an eighth once it is long, or the first transactions after a
         * start would add half the size of every long list they touch
         * (95 MB at 1M x 200k, by heaptrack) for a few postings each. */
        uint32_t cap = l->cap < 4 ? 4 : l->cap + (l->cap < 64 ? l->cap / 2 : l->cap / 8);
        uint32_t *p;
        if (l->cap > STORE__PLIST_INLINE) {
            p = realloc(l->u.v, (size_t)cap * sizeof *p);
        } else if ((p = malloc((size_t)cap * sizeof *p)) != NULL) {
            memcpy(p, l->u.inl, l->n * sizeof *p); /* out of the list itself */
        }
        if (p == NULL)
            return -1;
        l->u.v = p;
        l->cap = cap;
    }
    s_v(l)[l->n++] = num;
    return 0;
}

/* Take num out of l: its last entry moves into the hole. Its position,
 * -1 if it was not there. */
static long s_remove(store__plist_t *l, uint32_t num)
{
    uint32_t *v = s_v(l);
    for (uint32_t i = 0; i < l->n; i++) {
        if (v[i] == num) {
            v[i] = v[--l->n];
            return i;
        }
    }
    return -1;
}

/* ---- life cycle -------------------------------------------------------- */

static void s_side_free(store__near_side_t *sd)
{
    for (size_t i = 0; i < sd->n; i++)
        if (sd->l[i].cap > STORE__PLIST_INLINE)
            free(sd->l[i].u.v);
    free(sd->l);
    free(sd->slots);
    free(sd->keys);
    memset(sd, 0, sizeof *sd);
}

void store__near_free(store_t *self)
{
    store__near_t *x = &self->near;
    s_side_free(&x->side[0]);
    s_side_free(&x->side[1]);
    store_near_seen_free(&x->seen);
    free(x->undo);
    free(x->geo);
    free(x->gundo);
    x->undo = NULL;
    x->geo = NULL;
    x->gundo = NULL;
    x->n_undo = x->cap_undo = x->geo_cap = x->n_gundo = x->cap_gundo = 0;
    x->ready = 0;
    x->logging = 0;
}

/* ---- the running write transaction -------------------------------------- */

void store__near_begin(store_t *self)
{
    self->near.logging = self->near.ready;
    self->near.n_undo = self->near.n_gundo = 0;
}

void store__near_commit(store_t *self)
{
    self->near.logging = 0;
    self->near.n_undo = self->near.n_gundo = 0;
}

void store__near_rollback(store_t *self)
{
    store__near_t *x = &self->near;
    for (size_t i = x->n_undo; x->ready && i-- > 0;) {
        const store__nundo_t *u = &x->undo[i];
        store__plist_t *l = &x->side[u->side].l[u->list];
        if (u->add) { /* the newest change first: it is the last entry */
            l->n--;
            x->side[u->side].postings--;
        } else {                  /* the entry moved into the hole goes back to the end */
            uint32_t *v = s_v(l); /* capacity never shrinks: room at the end */
            v[l->n] = v[u->pos];
            v[u->pos] = u->num;
            l->n++;
            x->side[u->side].postings++;
        }
    }
    for (size_t i = x->n_gundo; x->ready && i-- > 0;)
        x->geo[x->gundo[i].num] = x->gundo[i].old;
    x->n_undo = x->n_gundo = 0;
    x->logging = 0;
}

void *store__log_room(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 1024;
    void *p = realloc(v, c * size);
    if (p != NULL)
        *cap = c;
    return p;
}

/* Room in the log for one more change, taken before the change is made:
 * a change that could not be logged could not be undone. -1 if memory is
 * short. */
static int s_log_room(store__near_t *x)
{
    if (!x->logging)
        return 0;
    store__nundo_t *u = store__log_room(x->undo, &x->cap_undo, x->n_undo, sizeof *x->undo);
    if (u == NULL)
        return -1;
    x->undo = u;
    return 0;
}

/* Log a change made, in the room s_log_room took. */
static void s_log(store__near_t *x, int add, int side, uint32_t list, uint32_t pos, uint32_t num)
{
    if (x->logging)
        x->undo[x->n_undo++] = (store__nundo_t){(uint8_t)add, (uint8_t)side, list, pos, num};
}

/* ---- where entities lie ------------------------------------------------- */

_Static_assert(sizeof(store__ngeo_t) == 16, "four places to a cache line");

/* A distance limit of km as a walk keeps it: none beyond what 16 bits
 * hold (the walk then skips nothing by it, which is safe); 0 below 0 (the
 * engine refuses every partner beyond such a limit anyway). */
static uint16_t s_limit_km(double km)
{
    if (!(km < STORE__NGEO_NO_LIMIT))
        return STORE__NGEO_NO_LIMIT;
    return (uint16_t)(km < 0 ? 0 : km);
}

/* The contract types of an entity as a walk compares them: a graduate's
 * wanted types (wanted; every bit if it accepts any), a vacancy's own
 * type's bit (every bit for a type beyond 31, which no wish can name). Two
 * entities pass the engine's contract filter exactly when their sets
 * meet. */
static uint32_t s_contracts(char kind, uint32_t wanted, uint8_t type)
{
    if (kind == STORE_ENTITY_GRADUATE)
        return wanted ? wanted : UINT32_MAX;
    return type < 32 ? 1u << type : UINT32_MAX;
}

static uint32_t s_contracts_of(char kind, const void *rec)
{
    if (kind == STORE_ENTITY_GRADUATE)
        return s_contracts(kind, ((const store_graduate_t *)rec)->contracts, 0);
    return s_contracts(kind, 0, ((const store_vacancy_t *)rec)->contract);
}

/* A graduate holds a licence, a vacancy requires one. */
static uint8_t s_licence_of(char kind, const void *rec)
{
    if (kind == STORE_ENTITY_GRADUATE)
        return ((const store_graduate_t *)rec)->licence;
    return ((const store_vacancy_t *)rec)->licence_required;
}

/* Where rec (a graduate or a vacancy) lies, and its own distance limit in
 * km (HUGE_VAL: none): a graduate's radius, a vacancy's maximum distance
 * if not 0. */
static const store_place_t *s_place_of(char kind, const void *rec, double *km)
{
    if (kind == STORE_ENTITY_GRADUATE) {
        const store_graduate_t *g = rec;
        *km = g->radius_km;
        return &g->home;
    }
    const store_vacancy_t *v = rec;
    *km = v->max_distance_km ? (double)v->max_distance_km : HUGE_VAL;
    return &v->site;
}

/* The place of rec (a graduate or a vacancy with a point) for walks. */
static store__ngeo_t s_geo_of(char kind, const void *rec)
{
    double km;
    const store_place_t *p = s_place_of(kind, rec, &km);
    return (store__ngeo_t){(float)p->lat,
                           (float)p->lon,
                           (float)cos(p->lat * (M_PI / 180.0)),
                           s_limit_km(km),
                           store__ngeo_contracts(s_contracts_of(kind, rec)),
                           (uint8_t)(s_licence_of(kind, rec) != 0)};
}

void store_near_from(store_near_from_t *from, store_entity_kind_t kind, const void *rec)
{
    double km;
    const store_place_t *p = s_place_of((char)kind, rec, &km);
    uint8_t licence = s_licence_of((char)kind, rec);
    from->lat = p->lat;
    from->lon = p->lon;
    from->max_km = km;
    from->contracts = s_contracts_of((char)kind, rec);
    from->licence = 0;
    if (kind == STORE_ENTITY_GRADUATE && !licence)
        from->licence = STORE_NEAR_LICENCE_HELD;
    else if (kind == STORE_ENTITY_VACANCY && licence)
        from->licence = STORE_NEAR_LICENCE_REQUIRED;
}

/* Entity num lies where rec says (logged, to be undone). -1 if memory is
 * short. Numbers never given a place read as nowhere in particular: a
 * NaN point, which no walk skips. */
static int s_geo_set(store__near_t *x, uint32_t num, char kind, const void *rec)
{
    if (num >= x->geo_cap) {
        size_t cap = x->geo_cap;
        while (cap <= num)
            cap = s_grown(cap, 4096);
        store__ngeo_t *p = realloc(x->geo, cap * sizeof *p);
        if (p == NULL)
            return -1;
        for (size_t i = x->geo_cap; i < cap; i++)
            p[i] = (store__ngeo_t){NAN, NAN, 0, STORE__NGEO_NO_LIMIT, 0xff, 0};
        x->geo = p;
        x->geo_cap = cap;
    }
    if (x->logging) {
        store__ngundo_t *u = store__log_room(x->gundo, &x->cap_gundo, x->n_gundo, sizeof *x->gundo);
        if (u == NULL)
            return -1;
        x->gundo = u;
        x->gundo[x->n_gundo++] = (store__ngundo_t){num, x->geo[num]};
    }
    x->geo[num] = s_geo_of(kind, rec);
    return 0;
}

/* ---- following puts and erasures ----------------------------------------- */

static int s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The list indexes of rec's keys into out, sorted, without repeats;
 * create: make the missing lists, else leave their keys out. Their
 * number, or -1 if memory is short. */
static long s_list_ids(store_t *st, store__near_side_t *sd, char kind, const void *rec,
                       uint32_t *out, int create)
{
    size_t n = kind == STORE_ENTITY_GRADUATE
                   ? store__near_keys_graduate(rec, st->near_kbuf, st->near_klens)
                   : store__near_keys_vacancy(rec, st->near_kbuf, st->near_klens);
    size_t m = 0;
    for (size_t i = 0, off = 0; i < n; off += st->near_klens[i++]) {
        const uint8_t *k = st->near_kbuf + off;
        long li;
        if (create) {
            if ((li = s_intern(sd, k, st->near_klens[i], 0)) < 0)
                return -1;
        } else {
            store__plist_t *l = s_find(sd, k, st->near_klens[i]);
            if (l == NULL)
                continue;
            li = l - sd->l;
        }
        out[m++] = (uint32_t)li;
    }
    if (m > 1)
        qsort(out, m, sizeof *out, s_u32_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || out[u - 1] != out[i])
            out[u++] = out[i];
    return (long)u;
}

/* num into list li: 0, or -1 if memory is short (nothing changed). */
static int s_add(store__near_t *x, int side, uint32_t li, uint32_t num)
{
    store__plist_t *l = &x->side[side].l[li];
    if (s_log_room(x) != 0 || s_append(l, num) != 0)
        return -1;
    x->side[side].postings++;
    s_log(x, 1, side, li, l->n - 1, num);
    return 0;
}

/* num out of list li: 1 if it was there, 0 if not, -1 if memory is short
 * (nothing changed). */
static int s_del(store__near_t *x, int side, uint32_t li, uint32_t num)
{
    if (s_log_room(x) != 0)
        return -1;
    long pos = s_remove(&x->side[side].l[li], num);
    if (pos < 0)
        return 0; /* not there: nothing to undo */
    x->side[side].postings--;
    s_log(x, 0, side, li, (uint32_t)pos, num);
    return 1;
}

/* A write found no memory for the lists (or no cache entry for an open
 * entity, which also means memory ran short): logged, STORE_ENOMEM. */
static int s_short(const char *what)
{
    store__log(STORE_LOG_ERROR,
               "store: out of memory for the places index (%s); the write transaction is "
               "given up",
               what);
    return STORE_ENOMEM;
}

/* What a put or an erasure does while the lists are not kept: nothing
 * before they are first built (the build reads what it wrote); once they
 * were, fail (lost for want of memory, s_mem_rollback: store_write builds
 * them again before the next write). */
static int s_not_kept(const store__near_t *x)
{
    return x->wanted ? s_short("no lists") : 0;
}

int store__near_put(store_txn_t *txn, char kind, long num, const void *old, const void *new)
{
    store_t *st = txn->store;
    store__near_t *x = &st->near;
    int side = S_SIDE(kind), rc = 0;
    if (!x->ready)
        return s_not_kept(x);
    if (old == NULL && new == NULL)
        return 0;
    if (num < 0 || num >= (long)UINT32_MAX)
        return s_short("an open entity has no place in the cache of heads");
    store__near_side_t *sd = &x->side[side];
    long n_old = old != NULL ? s_list_ids(st, sd, kind, old, x->olds, 0) : 0;
    long n_new = new != NULL ? s_list_ids(st, sd, kind, new, x->news, 1) : 0;
    if (n_new < 0 || (n_new > 0 && s_geo_set(x, (uint32_t)num, kind, new) != 0))
        return s_short("a new list or a place");
    /* a merge of the two sorted sets: only the keys that changed are touched */
    long i = 0, j = 0;
    while (rc >= 0 && (i < n_old || j < n_new)) {
        if (j == n_new || (i < n_old && x->olds[i] < x->news[j]))
            rc = s_del(x, side, x->olds[i++], (uint32_t)num);
        else if (i == n_old || x->news[j] < x->olds[i])
            rc = s_add(x, side, x->news[j++], (uint32_t)num);
        else
            i++, j++;
    }
    return rc < 0 ? s_short("a posting") : 0;
}

int store__near_forget(store_txn_t *txn, char kind, long num, size_t *removed)
{
    store__near_t *x = &txn->store->near;
    int side = S_SIDE(kind), rc;
    *removed = 0;
    if (!x->ready)
        return s_not_kept(x);
    if (num < 0)
        return 0; /* no cache entry: no postings */
    for (size_t li = 0; li < x->side[side].n; li++) {
        if ((rc = s_del(x, side, (uint32_t)li, (uint32_t)num)) < 0)
            return s_short("a posting");
        *removed += (size_t)rc;
    }
    return 0;
}

/* ---- walks ------------------------------------------------------------- */

void store_near_seen_free(store_near_seen_t *seen)
{
    if (seen == NULL)
        return;
    free(seen->stamp);
    memset(seen, 0, sizeof *seen);
}

/* An epoch no stamp of seen holds: a new one, or after the wrap (every 4
 * billion walks) a really empty stamp array. Room for every entity number. */
static int s_epoch(store_near_seen_t *seen, size_t n_entities)
{
    if (seen->cap < n_entities) {
        size_t cap = seen->cap ? seen->cap : 4096;
        while (cap < n_entities)
            cap = s_grown(cap, 4096);
        uint32_t *p = realloc(seen->stamp, cap * sizeof *p);
        if (p == NULL)
            return -1;
        memset(p + seen->cap, 0, (cap - seen->cap) * sizeof *p);
        seen->stamp = p;
        seen->cap = cap;
    }
    if (++seen->epoch == 0) {
        memset(seen->stamp, 0, seen->cap * sizeof *seen->stamp);
        seen->epoch = 1;
    }
    return 0;
}

/* The earth's radius of score_distance_km, times the margin (2 %) below
 * which the plane approximation never falls, squared: s_far compares
 * squared distances in radians with it. */
#define S_FAR_K (6371.0088 * 0.98 * 6371.0088 * 0.98)
#define S_DEG   (M_PI / 180.0)

/* 1 if g is certainly farther from f (cos_f: cosine of f's latitude) than
 * the smaller of both limits plus 1 km by score_distance_km's haversine
 * distance. For angles dphi, dlambda of at most 0.5 radian, that distance
 * is at least R * sqrt(dphi^2 + cos1 * cos2 * dlambda^2) * 0.9895 (sin y
 * >= y (1 - y^2 / 6) for y <= 0.25, asin z >= z); farther apart, or with
 * no finite limit, or a point that is not one (NaN), nothing is skipped. */
static inline int s_far(const store_near_from_t *f, double cos_f, const store__ngeo_t *g)
{
    double lim = g->limit_km == STORE__NGEO_NO_LIMIT ? HUGE_VAL : (double)g->limit_km;
    if (f->max_km < lim)
        lim = f->max_km;
    if (!(lim < 1e9))
        return 0;
    double dphi = ((double)g->lat - f->lat) * S_DEG, dl = (double)g->lon - f->lon;
    if (dl > 180.0)
        dl -= 360.0;
    else if (dl < -180.0)
        dl += 360.0;
    double dlam = dl * S_DEG;
    if (!(fabs(dphi) <= 0.5 && fabs(dlam) <= 0.5))
        return 0;
    double a = dphi * dphi + cos_f * (double)g->coslat * dlam * dlam;
    return a * S_FAR_K > (lim + 1.0) * (lim + 1.0);
}

/* 1 if g fails f's contract or licence test (store_near_from_t), f's
 * contracts folded to fc (store__ngeo_contracts; 0: no test). */
static inline int s_filtered(const store_near_from_t *f, uint8_t fc, const store__ngeo_t *g)
{
    if (fc && !(fc & g->contracts))
        return 1;
    return (f->licence == STORE_NEAR_LICENCE_HELD && g->licence) ||
           (f->licence == STORE_NEAR_LICENCE_REQUIRED && !g->licence);
}

/* The walk is bound by memory latency at national scale: the places,
 * stamps and heads of a million entities are far larger than the caches,
 * and each first touch of an entity's is a miss. So it asks for the place
 * and stamp of the posting S_AHEAD entries on, and for the head of each
 * entity that passes, whose callback then waits in a queue of S_QUEUE:
 * the misses overlap instead of following one another. Callbacks keep the
 * order of the postings. */
#define S_AHEAD 16
#define S_QUEUE 8

static inline void s_prefetch_head(const store__heads_t *c, uint32_t num)
{
    const char *e = (const char *)&c->e[num];
    __builtin_prefetch(e);
    __builtin_prefetch(e + sizeof(store__hent_t) - 1);
}

static inline int s_call(const store__heads_t *c, uint32_t num, store_near_fn fn, void *arg)
{
    const store__hent_t *e = &c->e[num];
    return fn(c->ids + e->id_off, e->id_len, &e->head, e->list_known ? &e->list : NULL, arg);
}

/* The lists of kind in txn's store, NULL if kind is not one or the store
 * keeps none. */
static const store__near_side_t *s_side_of(store_txn_t *txn, store_entity_kind_t kind)
{
    if (txn == NULL || !txn->store->near.ready ||
        (kind != STORE_ENTITY_GRADUATE && kind != STORE_ENTITY_VACANCY))
        return NULL;
    return &txn->store->near.side[S_SIDE(kind)];
}

size_t store_near_count(store_txn_t *txn, store_entity_kind_t kind, const void *key, size_t len)
{
    const store__near_side_t *sd = s_side_of(txn, kind);
    const store__plist_t *l = sd != NULL && key != NULL ? s_find(sd, key, len) : NULL;
    return l != NULL ? l->n : 0;
}

int store_near_each(store_txn_t *txn, store_entity_kind_t kind, const uint8_t *keys,
                    const size_t *lens, size_t n, const store_near_from_t *from,
                    store_near_seen_t *seen, store_near_fn fn, void *arg)
{
    const store__near_side_t *sd = s_side_of(txn, kind);
    if (sd == NULL || fn == NULL || (n > 0 && (keys == NULL || lens == NULL)))
        return STORE_EINVAL;
    store__near_t *x = &txn->store->near;
    const store__heads_t *c = &txn->store->heads;
    if (seen == NULL)
        seen = &x->seen;
    if (s_epoch(seen, c->n) != 0)
        return STORE_ENOMEM;
    const uint32_t epoch = seen->epoch;
    uint32_t *stamp = seen->stamp;
    const store__ngeo_t *geo = x->geo;
    double cos_f = from != NULL ? cos(from->lat * S_DEG) : 0;
    uint8_t fc = from != NULL && from->contracts ? store__ngeo_contracts(from->contracts) : 0;
    uint32_t queue[S_QUEUE];
    unsigned head = 0, queued = 0;
    int rc;
    for (size_t i = 0, off = 0; i < n; off += lens[i++]) {
        const store__plist_t *l = s_find(sd, keys + off, lens[i]);
        if (l == NULL)
            continue;
        const uint32_t *v = s_cv(l);
        for (uint32_t p = 0; p < l->n; p++) {
            if (p + S_AHEAD < l->n) {
                uint32_t ahead = v[p + S_AHEAD];
                if (from != NULL)
                    __builtin_prefetch(&geo[ahead]);
                __builtin_prefetch(&stamp[ahead]);
            }
            uint32_t num = v[p];
            if (from != NULL && (s_filtered(from, fc, &geo[num]) || s_far(from, cos_f, &geo[num])))
                continue; /* not seen: it is skipped under every key */
            if (stamp[num] == epoch)
                continue;
            stamp[num] = epoch;
            s_prefetch_head(c, num);
            if (queued < S_QUEUE) {
                queue[(head + queued++) % S_QUEUE] = num;
                continue;
            }
            uint32_t first = queue[head];
            queue[head] = num; /* the newest takes the oldest's place */
            head = (head + 1) % S_QUEUE;
            if ((rc = s_call(c, first, fn, arg)) != 0)
                return rc;
        }
    }
    for (; queued > 0; queued--, head = (head + 1) % S_QUEUE)
        if ((rc = s_call(c, queue[head], fn, arg)) != 0)
            return rc;
    return 0;
}

/* ---- building ---------------------------------------------------------- */

typedef struct {
    size_t open[2];
} s_build_t;

/* A pass over the open records of one kind. */
typedef int (*s_rec_fn)(store_t *st, char kind, const void *rec, void *arg);

/* Call fn for every open record of kind that decodes and is filed under
 * its own id (what store__heads_fill_open caches; the others have no
 * head, so no postings either). */
static int s_each_open(store_txn_t *txn, char kind, s_rec_fn fn, void *arg)
{
    store_t *st = txn->store;
    int grad = kind == STORE_ENTITY_GRADUATE, out = 0;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = mdb_cursor_open(txn->txn, st->dbi[grad ? S_DBI_GRADUATES : S_DBI_VACANCIES], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open");
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0 && out == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        store_head_t h;
        if ((grad ? store_codec_graduate_head(val.mv_data, val.mv_size, &h)
                  : store_codec_vacancy_head(val.mv_data, val.mv_size, &h)) != 0 ||
            h.state != STORE_STATE_OPEN)
            continue;
        if ((grad ? store_codec_graduate_decode(val.mv_data, val.mv_size, &st->head_g)
                  : store_codec_vacancy_decode(val.mv_data, val.mv_size, &st->head_v)) != 0)
            continue;
        const char *id = grad ? st->head_g.id : st->head_v.id;
        if (strlen(id) != key.mv_size || memcmp(id, key.mv_data, key.mv_size) != 0)
            continue;
        out = fn(st, kind, grad ? (const void *)&st->head_g : (const void *)&st->head_v, arg);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_get");
    return out;
}

/* First pass: make the lists of rec's keys and count its postings in
 * their n (a record naming a code twice counts once). */
static int s_count_fn(store_t *st, char kind, const void *rec, void *arg)
{
    store__near_t *x = &st->near;
    store__near_side_t *sd = &x->side[S_SIDE(kind)];
    (void)arg;
    long n = s_list_ids(st, sd, kind, rec, x->news, 1);
    if (n < 0)
        return STORE_ENOMEM;
    for (long i = 0; i < n; i++)
        sd->l[x->news[i]].n++;
    return 0;
}

/* Between the passes: every list gets room for exactly what it counted. */
static int s_size_lists(store__near_side_t *sd)
{
    for (size_t i = 0; i < sd->n; i++) {
        store__plist_t *l = &sd->l[i];
        if (l->n > STORE__PLIST_INLINE) {
            if ((l->u.v = malloc((size_t)l->n * sizeof *l->u.v)) == NULL)
                return STORE_ENOMEM;
            l->cap = l->n;
        }
        l->n = 0;
    }
    return 0;
}

/* Second pass: rec's entity number into the lists of its keys. */
static int s_fill_fn(store_t *st, char kind, const void *rec, void *arg)
{
    store__near_t *x = &st->near;
    store__near_side_t *sd = &x->side[S_SIDE(kind)];
    const char *id = kind == STORE_ENTITY_GRADUATE ? ((const store_graduate_t *)rec)->id
                                                   : ((const store_vacancy_t *)rec)->id;
    long num = store__heads_num(st, kind, id, strlen(id));
    long n = s_list_ids(st, sd, kind, rec, x->news, 0);
    (void)arg;
    if (num < 0 || num >= (long)UINT32_MAX)
        return STORE_ENOMEM; /* the cache of heads could not take it */
    if (n > 0 && s_geo_set(x, (uint32_t)num, kind, rec) != 0)
        return STORE_ENOMEM;
    for (long i = 0; i < n; i++) {
        if (s_append(&sd->l[x->news[i]], (uint32_t)num) != 0)
            return STORE_ENOMEM;
        sd->postings++;
    }
    return 0;
}

/* Every list in the order of entity numbers, which is the order of places
 * (store__heads_fill_open): a walk then reads the places and heads of a
 * cell's entities forwards through memory. (Lists are filled in the order
 * of the records' ids.) Later appends go to the end, removals move the
 * last entry: the order decays with changes, until the next open. */
static void s_sort_lists(store__near_side_t *sd)
{
    for (size_t i = 0; i < sd->n; i++)
        if (sd->l[i].n > 1)
            qsort(s_v(&sd->l[i]), sd->l[i].n, sizeof(uint32_t), s_u32_cmp);
}

/* The heads of the open entities, then their postings, from the records:
 * the keys come from the same function the puts use, and each entity's
 * number is looked up once. Lists are counted first and allocated at
 * their size. The result is what the puts since the store was created
 * would have made (test_store_near checks it). */
static int s_build_fn(store_txn_t *txn, void *arg)
{
    s_build_t *b = arg;
    uint64_t n_g = 0, n_v = 0;
    int rc = store__meta_get(txn, STORE_META_GRADUATES_OPEN, &n_g);
    if (rc == 0 && (rc = store__meta_get(txn, STORE_META_VACANCIES_OPEN, &n_v)) == 0)
        store__heads_reserve(txn->store, (size_t)(n_g + n_v) + (size_t)(n_g + n_v) / 64 + 1024);
    if (rc == 0)
        rc = store__heads_fill_open(txn, STORE_ENTITY_GRADUATE, &b->open[0]);
    if (rc == 0)
        rc = store__heads_fill_open(txn, STORE_ENTITY_VACANCY, &b->open[1]);
    if (rc == 0)
        rc = store__heads_lists_fill(txn);
    for (int s = 0; s < 2 && rc == 0; s++) {
        char kind = s == 0 ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
        rc = s_each_open(txn, kind, s_count_fn, NULL);
        if (rc == 0)
            rc = s_size_lists(&txn->store->near.side[s]);
        if (rc == 0)
            rc = s_each_open(txn, kind, s_fill_fn, NULL);
        if (rc == 0)
            s_sort_lists(&txn->store->near.side[s]);
    }
    return rc;
}

static double s_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int store__near_build(store_t *self)
{
    struct timespec t0, t1;
    s_build_t b = {{0, 0}};
    store__near_free(self);
    if (self->read_only)
        return 0;                              /* tools walk nothing */
    self->near.wanted = 1;                     /* from now on, no write without them */
    (void)clock_gettime(CLOCK_MONOTONIC, &t0); /* cannot fail with this clock */
    int rc = store_read(self, s_build_fn, &b);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        double held = (double)store__mem_bytes(self) / 1048576.0;
        store__near_free(self);
        store__log(STORE_LOG_ERROR,
                   "store %s: in-memory posting lists not built (%s, after %.0f ms, %.1f MiB "
                   "held); no write can match without them",
                   self->dir, store_strerror(rc), s_ms(&t0, &t1), held);
        return rc;
    }
    self->near.ready = 1;
    size_t open = b.open[0] + b.open[1], bytes = store__mem_bytes(self);
    uint64_t postings = self->near.side[0].postings + self->near.side[1].postings;
    store__log(STORE_LOG_INFO,
               "store: in-memory posting lists built in %.0f ms: %zu open graduates, %zu open "
               "vacancies, %llu postings under %zu keys, %.1f MiB with the heads (%zu bytes per "
               "open entity)",
               s_ms(&t0, &t1), b.open[0], b.open[1], (unsigned long long)postings,
               self->near.side[0].n + self->near.side[1].n, (double)bytes / 1048576.0,
               open ? bytes / open : 0);
    return 0;
}

/* ---- accounting and checks ----------------------------------------------- */

size_t store__mem_bytes(const store_t *self)
{
    const store__heads_t *c = &self->heads;
    const store__near_t *x = &self->near;
    size_t bytes = c->cap * sizeof *c->e + c->n_slots * sizeof *c->slots + c->ids_cap +
                   c->cap_undo * sizeof *c->undo;
    bytes += x->seen.cap * sizeof *x->seen.stamp + x->cap_undo * sizeof *x->undo +
             x->geo_cap * sizeof *x->geo + x->cap_gundo * sizeof *x->gundo;
    for (int s = 0; s < 2; s++) {
        const store__near_side_t *sd = &x->side[s];
        bytes += sd->cap * sizeof *sd->l + sd->n_slots * sizeof *sd->slots + sd->keys_cap;
        for (size_t i = 0; i < sd->n; i++)
            if (sd->l[i].cap > STORE__PLIST_INLINE)
                bytes += (size_t)sd->l[i].cap * sizeof(uint32_t);
    }
    return bytes;
}

/* A posting as verification compares them: list index, entity number. */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} s_pairs_t;

static int s_pair_add(s_pairs_t *p, uint32_t li, uint32_t num)
{
    if (p->n == p->cap) {
        size_t cap = s_grown(p->cap, 4096);
        uint64_t *v = realloc(p->v, cap * sizeof *v);
        if (v == NULL)
            return STORE_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (uint64_t)li << 32 | num;
    return 0;
}

static int s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every posting of side s names an open entity of its kind, lies where
 * its head says, and goes into p. */
static int s_verify_memory(store_t *st, int s, s_pairs_t *p)
{
    const store__near_t *x = &st->near;
    const store__near_side_t *sd = &x->side[s];
    char kind = s == 0 ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
    for (size_t li = 0; li < sd->n; li++) {
        const store__plist_t *l = &sd->l[li];
        for (uint32_t i = 0; i < l->n; i++) {
            uint32_t num = s_cv(l)[i];
            const store__hent_t *e = num < st->heads.n ? &st->heads.e[num] : NULL;
            if (e == NULL || e->kind != (uint8_t)kind || e->head_state != STORE__HEAD_PRESENT ||
                e->head.state != STORE_STATE_OPEN) {
                store__log(STORE_LOG_ERROR, "store: %s: list %zu: entity %u is not open", __func__,
                           li, num);
                return STORE_ECORRUPT;
            }
            const store__ngeo_t *g = num < x->geo_cap ? &x->geo[num] : NULL;
            double lim = kind == STORE_ENTITY_GRADUATE || e->head.distance_km
                             ? (double)e->head.distance_km
                             : HUGE_VAL;
            if (g == NULL || g->lat != (float)e->head.lat || g->lon != (float)e->head.lon ||
                g->limit_km != s_limit_km(lim) ||
                g->contracts !=
                    store__ngeo_contracts(s_contracts(kind, e->head.contracts, e->head.contract)) ||
                g->licence != (e->head.licence != 0)) {
                store__log(STORE_LOG_ERROR,
                           "store: %s: list %zu: entity %u is not where its head says", __func__,
                           li, num);
                return STORE_ECORRUPT;
            }
            if (s_pair_add(p, (uint32_t)li, num) != 0)
                return STORE_ENOMEM;
        }
    }
    return 0;
}

/* s_each_open's callback: the postings rec's keys call for, into arg (an
 * s_pairs_t); a key without a list is a difference. */
static int s_expect_fn(store_t *st, char kind, const void *rec, void *arg)
{
    s_pairs_t *p = arg;
    store__near_t *x = &st->near;
    store__near_side_t *sd = &x->side[S_SIDE(kind)];
    const char *id = kind == STORE_ENTITY_GRADUATE ? ((const store_graduate_t *)rec)->id
                                                   : ((const store_vacancy_t *)rec)->id;
    size_t n = kind == STORE_ENTITY_GRADUATE
                   ? store__near_keys_graduate(rec, st->near_kbuf, st->near_klens)
                   : store__near_keys_vacancy(rec, st->near_kbuf, st->near_klens);
    long num = store__heads_num(st, kind, id, strlen(id));
    if (n > 0 && num < 0) {
        store__log(STORE_LOG_ERROR, "store: %s: open '%s' has no entity number", __func__, id);
        return STORE_ECORRUPT;
    }
    for (size_t i = 0, off = 0; i < n; off += st->near_klens[i++]) {
        if (s_find(sd, st->near_kbuf + off, st->near_klens[i]) == NULL) {
            store__log(STORE_LOG_ERROR, "store: %s: '%s' has a key with no list", __func__, id);
            return STORE_ECORRUPT;
        }
    }
    long m = s_list_ids(st, sd, kind, rec, x->news, 0); /* sorted, without repeats */
    for (long i = 0; i < m; i++)
        if (s_pair_add(p, x->news[i], (uint32_t)num) != 0)
            return STORE_ENOMEM;
    return 0;
}

int store_near_verify(store_txn_t *txn, uint64_t *postings)
{
    if (txn == NULL || !txn->store->near.ready)
        return STORE_EINVAL;
    store_t *st = txn->store;
    uint64_t total = 0;
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        s_pairs_t have = {NULL, 0, 0}, want = {NULL, 0, 0};
        char kind = s == 0 ? STORE_ENTITY_GRADUATE : STORE_ENTITY_VACANCY;
        rc = s_verify_memory(st, s, &have);
        if (rc == 0)
            rc = s_each_open(txn, kind, s_expect_fn, &want);
        if (rc == 0) {
            if (have.n > 1)
                qsort(have.v, have.n, sizeof *have.v, s_u64_cmp);
            if (want.n > 1)
                qsort(want.v, want.n, sizeof *want.v, s_u64_cmp);
            size_t i = 0;
            while (i < have.n && i < want.n && have.v[i] == want.v[i])
                i++;
            if (i < have.n || i < want.n || st->near.side[s].postings != have.n) {
                uint64_t d = i < have.n ? have.v[i] : i < want.n ? want.v[i] : 0;
                store__log(STORE_LOG_ERROR,
                           "store: %s: %s: %zu postings in memory (counted %llu), %zu from the "
                           "records; first difference: list %u, entity %u",
                           __func__, s == 0 ? "graduates" : "vacancies", have.n,
                           (unsigned long long)st->near.side[s].postings, want.n,
                           (unsigned)(d >> 32), (unsigned)d);
                rc = STORE_ECORRUPT;
            }
        }
        total += have.n;
        free(have.v);
        free(want.v);
    }
    if (postings != NULL)
        *postings = total;
    return rc;
}
