/* engine.c - see engine.h.
 *
 * Both sides are handled by one algorithm over an "entity" (a graduate or a
 * vacancy, its record and its prepared form). When entity X changes:
 *
 *   1. E = X's eligible partners with their scores (through the indexes).
 *   2. X's own list becomes the top K of E.
 *   3. Each partner list that holds X, or that X may now enter (the
 *      partners in E), is updated: an entry whose score rose is moved up; a
 *      newcomer that beats the K-th entry (or fills a short list) goes in
 *      and the last one drops out; an entry whose score fell or that is no
 *      longer eligible forces a recomputation of that list, which refills
 *      it with the next best. Other lists cannot change: only pairs with X
 *      changed.
 *   4. Every difference between a list's old and new content is recorded
 *      as a MatchUpdate.
 *
 * Step 1 does not decode every candidate. From its head (store_entity_head:
 * place, limits, level, start day, code signatures, kept in memory by the
 * store) each candidate gets an upper bound of its score (score_bound_*);
 * candidates are scored from the highest bound down, and one whose bound is
 * below the 2K-th score found so far is skipped when it also cannot enter
 * its own list (store_list_meta: full, not exhaustive, lowest score above
 * the bound, not holding X). Step 3 skips, the same way and without reading
 * it, a partner list that X is not in and cannot enter.
 *
 * The candidates of step 1 come from the posting lists of the coarse cells
 * around e (a box covering its reach, without the cells wholly out of
 * reach), one lookup per (cell, distinct code). Each retrieval keeps its
 * 2K best candidates decoded and scored with explanation (s_pool_t): the
 * MatchUpdates of step 4 name and explain those pairs from there.
 */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define S_REACH_MAX_KM 1000.0 /* the largest mobility radius a graduate may have */

typedef struct {
    char (*v)[STORE_ID_MAX + 1];
    size_t n, cap;
} s_ids_t;

typedef struct {
    store_rank_t *v;
    size_t n, cap;
    int pruned; /* some partners were skipped as unable to enter the top: n undercounts */
} s_ranks_t;

/* A candidate that passed the head filters, with its score bound: its id
 * (id_len bytes, not NUL-terminated) borrowed from the store's cache of
 * heads (a walk of the in-memory lists; nothing enters that cache while
 * the candidates are scored) or from engine.ids (a walk of the tables). */
typedef struct {
    const char *id;
    uint32_t bound;
    uint32_t idx; /* collection order */
    uint8_t id_len;
    uint8_t take; /* S_TAKE_*: may the candidate's own list take the changed entity? */
} s_cand_t;

/* What a candidate's own list, as the walk saw its meta, says of the
 * changed entity (S_PRUNE_BOTH; see s_list_refuses). */
enum {
    S_TAKE_NO,     /* full, lowest entry above the bound: cannot (or must drop it) */
    S_TAKE_MAYBE,  /* it may: the candidate is scored */
    S_TAKE_UNKNOWN /* meta not in memory: s_list_refuses reads it if it matters */
};

/* How much of the scoring may be skipped (see s_eligible). */
typedef enum {
    S_PRUNE_NONE, /* score every candidate: a from-scratch reference */
    S_PRUNE_TOP,  /* only the entity's own top counts */
    S_PRUNE_BOTH  /* its own top and the partners' lists it may enter */
} s_prune_t;

/* The keys of the relevance path of an entity: (index, key) pairs. Never
 * truncated: a missing key would miss eligible partners. */
typedef struct {
    char kind; /* STORE_NEAR_SKILL, _RNCP or _ROME */
    const char *key;
} s_key_t;

typedef struct {
    s_key_t *v;
    size_t n, cap;
    int oom;
} s_keys_t;

/* A graduate or a vacancy with its prepared form. */
typedef struct {
    store_entity_kind_t kind;
    union {
        store_graduate_t g;
        store_vacancy_t v;
    } rec;
    union {
        score_graduate_t g;
        score_vacancy_t v;
    } prep;
} s_ent_t;

/* A candidate decoded and scored, kept while it is among the best found. */
typedef struct {
    s_ent_t ent;
    score_result_t res; /* its score with the pool's entity, with explanation */
    uint64_t id_hash;   /* s_hash of ent's id: s_pool_find compares it first */
} s_slot_t;

/* One heap entry: a score and the slot holding its candidate. */
typedef struct {
    uint32_t micro;
    uint32_t slot;
} s_best_t;

/* The candidates of one retrieval (s_eligible) with the kk best scores,
 * decoded and scored with explanation, in a min-heap by score: the feed
 * records of the list changes that follow name them and explain them
 * without decoding and scoring them again. kk + 1 slots: the heap's and
 * the one the next candidate is decoded into. Valid for the entity (kind,
 * id) until the next change is applied (records do not change meanwhile:
 * only lists and the match log are written). */
typedef struct {
    s_slot_t *slots;
    s_best_t *heap;
    size_t n_heap;
    uint32_t scratch; /* the slot the next candidate is decoded into */
    uint32_t unused;  /* slots from here on were never handed out */
    store_entity_kind_t kind;
    char id[STORE_ID_MAX + 1]; /* "" when the pool holds nothing usable */
} s_pool_t;

/* What the change being applied is, for the reasons of LEFT updates. */
typedef struct {
    store_entity_kind_t kind;
    const char *id;
    int erased;
    int64_t now_ms;
} s_cause_t;

struct engine {
    const reference_t *ref;
    score_weights_t w;
    unsigned k;  /* entries shown and published */
    unsigned kk; /* entries kept: a margin, so departures seldom force a recomputation */
    feed_t *feed;
    s_keys_t keys;          /* relevance keys of the entity being retrieved for */
    store_near_seen_t seen; /* what the walk of the in-memory posting lists has seen */
    uint32_t *keyset;       /* hash set over keys: index + 1, 0 = empty */
    size_t keyset_cap;
    s_ids_t affected; /* partner lists to revisit */
    s_ids_t owners;   /* partners whose lists hold the changed entity, sorted */
    uint32_t *oset;   /* hash set over owners: index + 1, 0 = empty */
    size_t oset_cap;
    uint8_t *keybuf; /* index keys of a retrieval, end to end */
    size_t n_keybuf, cap_keybuf;
    size_t *keylens; /* their lengths */
    size_t n_keylens, cap_keylens;
    s_ranks_t elig_self; /* eligible partners of the changed entity, by id */
    s_ranks_t elig_tmp;  /* eligible partners during a recomputation */
    s_ent_t self_ent;    /* the changed entity */
    s_ent_t owner_ent;   /* the partner whose list is being revisited */
    s_ent_t emit_ent;    /* the member of a list change being recorded */
    score_bound_t bound; /* signatures of the entity being retrieved for */
    s_cand_t *cands;     /* candidates passing the head filters */
    size_t n_cands, cap_cands;
    s_pool_t self_pool; /* the best candidates of the changed entity */
    s_pool_t tmp_pool;  /* those of a list being recomputed */
    store_list_t old_list, new_list;
    score_result_t res;
    engine_stats_t stats;
};

/* ---- small containers ------------------------------------------------ */

static int s_ids_push(s_ids_t *ids, const char *id, size_t len)
{
    if (len == 0 || len > STORE_ID_MAX)
        return 0; /* not one of ours: ignore */
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 1024;
        void *p = realloc(ids->v, cap * sizeof *ids->v);
        if (!p)
            return STORE_ENOMEM;
        ids->v = p;
        ids->cap = cap;
    }
    memcpy(ids->v[ids->n], id, len);
    ids->v[ids->n][len] = '\0';
    ids->n++;
    return 0;
}

static int s_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void s_ids_unique(s_ids_t *ids)
{
    size_t out = 0;
    if (ids->n == 0)
        return;
    qsort(ids->v, ids->n, sizeof *ids->v, s_id_cmp);
    for (size_t i = 0; i < ids->n; i++)
        if (out == 0 || strcmp(ids->v[out - 1], ids->v[i]) != 0)
            memmove(ids->v[out++], ids->v[i], sizeof *ids->v);
    ids->n = out;
}

static int s_ranks_push(s_ranks_t *r, const char *id, uint32_t micro)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        void *p = realloc(r->v, cap * sizeof *r->v);
        if (!p)
            return STORE_ENOMEM;
        r->v = p;
        r->cap = cap;
    }
    memcpy(r->v[r->n].id, id, strlen(id) + 1);
    r->v[r->n].micro = micro;
    r->n++;
    return 0;
}

/* Rank order: higher score first, then smaller id. */
static int s_rank_cmp(const void *a, const void *b)
{
    const store_rank_t *x = a, *y = b;
    if (x->micro != y->micro)
        return x->micro > y->micro ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int s_rank_id_cmp(const void *a, const void *b)
{
    return strcmp(((const store_rank_t *)a)->id, ((const store_rank_t *)b)->id);
}

static const store_rank_t *s_ranks_find(const s_ranks_t *r, const char *id)
{
    store_rank_t key;
    if (r->n == 0)
        return NULL;
    memcpy(key.id, id, strlen(id) + 1);
    return bsearch(&key, r->v, r->n, sizeof *r->v, s_rank_id_cmp);
}

/* ---- entities -------------------------------------------------------- */

static store_entity_kind_t s_other(store_entity_kind_t kind)
{
    return kind == STORE_ENTITY_GRADUATE ? STORE_ENTITY_VACANCY : STORE_ENTITY_GRADUATE;
}

/* Load (kind, id) into e and prepare it. STORE_ENOTFOUND if absent. */
static int s_load(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                  s_ent_t *e)
{
    int rc;
    e->kind = kind;
    if (kind == STORE_ENTITY_GRADUATE) {
        if ((rc = store_graduate_get(txn, id, &e->rec.g)) != 0)
            return rc;
        score_prepare_graduate(self->ref, &e->rec.g, &e->prep.g);
    } else {
        if ((rc = store_vacancy_get(txn, id, &e->rec.v)) != 0)
            return rc;
        score_prepare_vacancy(self->ref, &e->rec.v, &e->prep.v);
    }
    return 0;
}

static const char *s_id(const s_ent_t *e)
{
    return e->kind == STORE_ENTITY_GRADUATE ? e->rec.g.id : e->rec.v.id;
}

static uint8_t s_state(const s_ent_t *e)
{
    return e->kind == STORE_ENTITY_GRADUATE ? e->rec.g.state : e->rec.v.state;
}

/* Score the pair of a and b (one graduate, one vacancy). */
static int s_score(engine_t *self, const s_ent_t *a, const s_ent_t *b, score_result_t *res,
                   int explain)
{
    const s_ent_t *g = a->kind == STORE_ENTITY_GRADUATE ? a : b;
    const s_ent_t *v = a->kind == STORE_ENTITY_GRADUATE ? b : a;
    self->stats.candidates++;
    return score_pair(self->ref, &self->w, &g->prep.g, &v->prep.v, res, explain);
}

/* ---- retrieval ------------------------------------------------------- */

/* The coarse cells (store_near_cell) of a box covering a circle of
 * radius_km around a point: rows r0..r1, columns c0..c1. */
static void s_near_box(double lat, double lon, double radius_km, int *r0, int *r1, int *c0, int *c1)
{
    double dlat = radius_km / 110.574;
    double c = cos((fabs(lat) + dlat) * M_PI / 180.0);
    double dlon = radius_km / (111.320 * (c < 0.01 ? 0.01 : c));
    if (dlon > 180)
        dlon = 180;
    store_near_cell(lat - dlat, lon - dlon, r0, c0);
    store_near_cell(lat + dlat, lon + dlon, r1, c1);
}

/* 1 if every point of coarse cell (row, col) is certainly farther than
 * reach_km from (lat, lon) by score_distance_km(): the cell's posting
 * lists cannot hold a partner within reach. The haversine term
 * a = sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2) is bounded below
 * term by term over the cell (the smallest latitude and longitude gaps,
 * the smallest cosine of its latitudes), so the distance it gives is a
 * lower bound; a margin covers rounding. Cells 180 degrees of longitude
 * away or more are never skipped (the gap is not monotonic there). */
static int s_cell_beyond(double lat, double lon, int row, int col, double reach_km)
{
    const double rad = M_PI / 180.0;
    double la0 = row * STORE_NEAR_DEG, la1 = (row + 1) * STORE_NEAR_DEG;
    double lo0 = col * STORE_NEAR_DEG, lo1 = (col + 1) * STORE_NEAR_DEG;
    double dlat = lat < la0 ? la0 - lat : lat > la1 ? lat - la1 : 0;
    double dlon = lon < lo0 ? lo0 - lon : lon > lo1 ? lon - lo1 : 0;
    if (!(dlon < 180) || !(dlat >= 0))
        return 0; /* also NaN: do not skip */
    double far = fabs(la0) > fabs(la1) ? fabs(la0) : fabs(la1);
    double cos_min = far >= 90 ? 0 : cos(far * rad);
    double sdlat = sin(dlat * rad / 2), sdlon = sin(dlon * rad / 2);
    double a = sdlat * sdlat + cos(lat * rad) * cos_min * sdlon * sdlon;
    double d = 2 * 6371.0088 * asin(sqrt(a < 1 ? a : 1));
    return d > reach_km * (1 + 1e-9) + 1e-6;
}

static void s_key_add(s_keys_t *k, char kind, const char *key)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 512;
        void *p = realloc(k->v, cap * sizeof *k->v);
        if (!p) {
            k->oom = 1;
            return;
        }
        k->v = p;
        k->cap = cap;
    }
    k->v[k->n].kind = kind;
    k->v[k->n++].key = key;
}

/* A ROME code, its career moves and the codes that move to it. */
static void s_rome_keys(const reference_t *ref, s_keys_t *k, const char *rome)
{
    const ref_rome_t *r = reference_rome(ref, rome);
    s_key_add(k, STORE_NEAR_ROME, rome);
    for (size_t i = 0; r && i < r->n_moves; i++)
        s_key_add(k, STORE_NEAR_ROME, r->moves[i]);
    for (size_t i = 0; r && i < r->n_moves_in; i++)
        s_key_add(k, STORE_NEAR_ROME, r->moves_in[i]);
}

static uint64_t s_hash(const char *s, size_t len);

/* Make *t an empty open-addressing table (slot = index + 1, 0 = empty) of
 * at least 2n slots, a power of two of at least min; *cap its size. */
static int s_table_clear(uint32_t **t, size_t *cap, size_t n, size_t min)
{
    size_t c = *cap;
    if (n * 2 > c) {
        while (n * 2 > c)
            c = c ? c * 2 : min;
        uint32_t *p = realloc(*t, c * sizeof *p);
        if (!p)
            return STORE_ENOMEM;
        *t = p;
        *cap = c;
    }
    if (c > 0)
        memset(*t, 0, c * sizeof **t);
    return 0;
}

/* Drop repeated keys (a ROME code may be a career move of several of e's
 * codes, or one of them): each posting list is walked once. A hash set of
 * indexes into k; the order of first appearance is kept. */
static int s_keys_unique(engine_t *self, s_keys_t *k)
{
    size_t out = 0;
    if (k->n < 2)
        return 0;
    if (s_table_clear(&self->keyset, &self->keyset_cap, k->n, 1024) != 0)
        return STORE_ENOMEM;
    size_t cap = self->keyset_cap;
    for (size_t i = 0; i < k->n; i++) {
        size_t len = strnlen(k->v[i].key, STORE_SKILL_MAX);
        size_t j =
            (size_t)(s_hash(k->v[i].key, len) ^ (uint64_t)(unsigned char)k->v[i].kind) & (cap - 1);
        int seen = 0;
        for (; self->keyset[j] && !seen; j = (j + 1) & (cap - 1)) {
            const s_key_t *have = &k->v[self->keyset[j] - 1];
            seen =
                have->kind == k->v[i].kind && strncmp(have->key, k->v[i].key, STORE_SKILL_MAX) == 0;
        }
        if (seen)
            continue;
        k->v[out] = k->v[i];
        self->keyset[j] = (uint32_t)++out;
    }
    k->n = out;
    return 0;
}

/* Every code through which e can relate to a partner: a skill in common, a
 * required RNCP code, an occupation or one a career move away. */
static void s_relevance_keys(const engine_t *self, const s_ent_t *e, s_keys_t *k)
{
    k->n = 0;
    k->oom = 0;
    if (e->kind == STORE_ENTITY_GRADUATE) {
        const store_graduate_t *g = &e->rec.g;
        for (size_t i = 0; i < g->n_skills; i++)
            s_key_add(k, STORE_NEAR_SKILL, g->skills[i].code);
        for (size_t i = 0; i < g->n_certs; i++)
            s_key_add(k, STORE_NEAR_RNCP, g->certs[i].rncp);
        for (size_t i = 0; i < g->n_romes; i++)
            s_rome_keys(self->ref, k, g->romes[i]);
    } else {
        const score_vacancy_t *sv = &e->prep.v;
        for (size_t i = 0; i < sv->n_skills; i++)
            s_key_add(k, STORE_NEAR_SKILL, sv->skills[i].code);
        for (size_t i = 0; i < e->rec.v.n_rncps; i++)
            s_key_add(k, STORE_NEAR_RNCP, e->rec.v.rncps[i]);
        for (size_t i = 0; i < e->rec.v.n_romes; i++)
            s_rome_keys(self->ref, k, e->rec.v.romes[i]);
    }
}

/* ---- candidate ids without repeats -------------------------------------- */

static uint64_t s_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Append one index key to self->keybuf (keys end to end) and its length
 * to self->keylens. */
static int s_keybuf_add(engine_t *self, const uint8_t *key, size_t len)
{
    if (self->n_keylens == self->cap_keylens) {
        size_t cap = self->cap_keylens ? self->cap_keylens * 2 : 1024;
        void *p = realloc(self->keylens, cap * sizeof *self->keylens);
        if (!p)
            return STORE_ENOMEM;
        self->keylens = p;
        self->cap_keylens = cap;
    }
    if (self->n_keybuf + len > self->cap_keybuf) {
        size_t cap = self->cap_keybuf ? self->cap_keybuf * 2 : 16384;
        while (cap < self->n_keybuf + len)
            cap *= 2;
        void *p = realloc(self->keybuf, cap);
        if (!p)
            return STORE_ENOMEM;
        self->keybuf = p;
        self->cap_keybuf = cap;
    }
    memcpy(self->keybuf + self->n_keybuf, key, len);
    self->n_keybuf += len;
    self->keylens[self->n_keylens++] = len;
    return 0;
}

/* The farthest any graduate may live from a vacancy that sets no limit. */
static double s_graduate_reach(store_txn_t *txn)
{
    char buf[16];
    if (store_meta_get_str(txn, "graduate_radius_max", buf, sizeof buf) != 0)
        return S_REACH_MAX_KM;
    double r = strtod(buf, NULL);
    return r > 0 && r < S_REACH_MAX_KM ? r : S_REACH_MAX_KM;
}

/* The keys of the posting lists that hold e's candidate partners into
 * self->keybuf / self->keylens (self->n_keylens of them; none if e has no
 * point). Every eligible pair relates through a code (skill, RNCP, ROME
 * or a career move) and lies within reach, so the candidates are the
 * postings of the places index under those codes in the coarse cells
 * around e: posting lists of a neighbourhood. */
static int s_near_keys(engine_t *self, store_txn_t *txn, const s_ent_t *e)
{
    s_keys_t *keys = &self->keys;
    uint8_t key[STORE_NEAR_KEY_MAX];
    int grad = e->kind == STORE_ENTITY_GRADUATE, r0, r1, c0, c1, rc;
    const store_place_t *p = grad ? &e->rec.g.home : &e->rec.v.site;
    self->n_keybuf = self->n_keylens = 0;
    if (!p->has_point)
        return 0;
    double reach = grad ? e->rec.g.radius_km : s_graduate_reach(txn);
    if (!grad && e->rec.v.max_distance_km && e->rec.v.max_distance_km < reach)
        reach = e->rec.v.max_distance_km;
    s_relevance_keys(self, e, keys);
    if (keys->oom)
        return STORE_ENOMEM;
    if ((rc = s_keys_unique(self, keys)) != 0)
        return rc;
    s_near_box(p->lat, p->lon, reach, &r0, &r1, &c0, &c1);
    for (int r = r0; r <= r1; r++) {
        for (int c = c0; c <= c1; c++) {
            if (s_cell_beyond(p->lat, p->lon, r, c, reach)) {
                self->stats.cells_skipped++;
                continue; /* a corner of the box, out of reach */
            }
            for (size_t i = 0; i < keys->n; i++) {
                size_t len = store_near_key(r, c, keys->v[i].kind, keys->v[i].key, key);
                if ((rc = s_keybuf_add(self, key, len)) != 0)
                    return rc;
            }
        }
    }
    return 0;
}

/* The hard filters that a candidate's head alone can fail: state, place,
 * distance, contract type, licence. The same tests, in the same arithmetic,
 * as score_pair(), so that the head never refuses an eligible pair; it only
 * spares decoding whole records of candidates that are too far away. */
static int s_head_ok(const s_ent_t *e, const store_head_t *h, double *dp)
{
    if (h->state != STORE_STATE_OPEN || !h->has_point)
        return 0;
    /* the contract and the licence first: they cost no trigonometry */
    if (e->kind == STORE_ENTITY_VACANCY) {
        const store_vacancy_t *v = &e->rec.v;
        if ((h->contracts && !(h->contracts & (1u << v->contract))) ||
            (v->licence_required && !h->licence))
            return 0;
        double d = *dp = score_distance_km(h->lat, h->lon, v->site.lat, v->site.lon);
        return d <= h->distance_km && (!v->max_distance_km || d <= v->max_distance_km);
    }
    const store_graduate_t *g = &e->rec.g;
    if ((g->contracts && !(g->contracts & (1u << h->contract))) || (h->licence && !g->licence))
        return 0;
    double d = *dp = score_distance_km(g->home.lat, g->home.lon, h->lat, h->lon);
    return d <= g->radius_km && (!h->distance_km || d <= h->distance_km);
}

/* The score bound of e with the candidate whose head h passed s_head_ok,
 * d km away (as s_head_ok computed it: the graduate's home, then the
 * site, as score_pair() does); -1 if the pair is certainly not eligible. */
static int64_t s_bound(const engine_t *self, const s_ent_t *e, const store_head_t *h, double d)
{
    if (e->kind == STORE_ENTITY_VACANCY)
        return score_bound_graduate(&self->w, &e->prep.v, &self->bound, h, d);
    return score_bound_vacancy(&self->w, &e->prep.g, &self->bound, h, d);
}

static int s_cands_push(engine_t *self, const char *id, size_t len, uint32_t bound, uint8_t take)
{
    if (self->n_cands == self->cap_cands) {
        size_t cap = self->cap_cands ? self->cap_cands * 2 : 1024;
        void *p = realloc(self->cands, cap * sizeof *self->cands);
        if (!p)
            return STORE_ENOMEM;
        self->cands = p;
        self->cap_cands = cap;
    }
    self->cands[self->n_cands] = (s_cand_t){id, bound, (uint32_t)self->n_cands, (uint8_t)len, take};
    self->n_cands++;
    return 0;
}

/* Highest bound first; candidates in collection order among equals. */
static inline int s_cand_before(const s_cand_t *x, const s_cand_t *y)
{
    return x->bound != y->bound ? x->bound > y->bound : x->idx < y->idx;
}

static void s_cand_sift(s_cand_t *h, size_t n, size_t i)
{
    s_cand_t x = h[i];
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= n)
            break;
        if (l + 1 < n && s_cand_before(&h[l + 1], &h[l]))
            m = l + 1;
        if (!s_cand_before(&h[m], &x))
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

/* The candidates as a heap, the first in s_cand_before's order on top:
 * the scoring takes them in that order and usually stops after a few, so
 * sorting them all would be wasted. */
static void s_cands_heapify(s_cand_t *h, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        s_cand_sift(h, n, i);
}

/* Take the top of the heap of n candidates (n >= 1): it moves to h[n - 1]. */
static void s_cands_pop(s_cand_t *h, size_t n)
{
    s_cand_t top = h[0];
    h[0] = h[n - 1];
    s_cand_sift(h, n - 1, 0);
    h[n - 1] = top;
}

/* The candidate just scored (in pool->scratch, score micro) joins the kk
 * best in the pool's min-heap if it beats the lowest of them (or the heap
 * is not full); pool->scratch becomes the slot free for the next one: a
 * never used one, the one of the entry pushed out, or the same one. */
static void s_pool_add(const engine_t *self, s_pool_t *pool, uint32_t micro)
{
    s_best_t *h = pool->heap, x = {micro, pool->scratch};
    size_t n = pool->n_heap, i;
    if (n == self->kk) {
        if (micro <= h[0].micro)
            return;
        pool->scratch = h[0].slot;
        i = 0; /* replace the minimum, sift down */
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < n && h[l].micro < (m == i ? micro : h[m].micro))
                m = l;
            if (r < n && h[r].micro < (m == i ? micro : h[m].micro))
                m = r;
            if (m == i)
                break;
            h[i] = h[m];
            i = m;
        }
        h[i] = x;
        return;
    }
    pool->scratch = pool->unused++;
    for (i = pool->n_heap++; i > 0 && h[(i - 1) / 2].micro > micro; i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = x;
}

/* The slot of candidate want in a pool of the candidates of (kind, id),
 * NULL if no pool holds it. */
static s_slot_t *s_pool_find(engine_t *self, store_entity_kind_t kind, const char *id,
                             const char *want)
{
    s_pool_t *pools[2] = {&self->self_pool, &self->tmp_pool};
    uint64_t h = 0;
    for (int p = 0; p < 2; p++) {
        s_pool_t *pool = pools[p];
        if (!pool->id[0] || pool->kind != kind || strcmp(pool->id, id) != 0)
            continue;
        if (h == 0)
            h = s_hash(want, strlen(want));
        for (size_t i = 0; i < pool->n_heap; i++) {
            s_slot_t *slot = &pool->slots[pool->heap[i].slot];
            if (slot->id_hash == h && strcmp(s_id(&slot->ent), want) == 0)
                return slot;
        }
    }
    return NULL;
}

/* A list of meta m cannot take a newcomer of score micro that it does not
 * hold: full (at least K entries), not exhaustive, its lowest entry
 * strictly above micro. */
static int s_list_full_above(const engine_t *self, const store_list_meta_t *m, uint32_t micro)
{
    return !m->exhaustive && m->n >= self->k && micro < m->last_micro;
}

static int s_is_owner(const engine_t *self, const char *id, size_t len);

/* The list of partner (kind, id) is full (at least K entries, not
 * exhaustive) with its lowest entry strictly above micro: changed entity
 * x, of score micro with that partner, cannot be in it. Read from the
 * store's in-memory list meta, not the list itself. 1 if so, 0 if not, <0
 * on a store error.
 * Whether to score the pair needs no more: if x is in that list (the
 * partner is one of x's owners), s_revisit drops it from there, scored or
 * not (x ranks below the lowest entry either way, where partners the list
 * does not hold may rank above it), and goes on to a recomputation if the
 * list falls below K. */
static int s_list_refuses(engine_t *self, store_txn_t *txn, store_entity_kind_t kind,
                          const char *id, uint32_t micro)
{
    store_list_meta_t m;
    int rc = store_list_meta(txn, kind, id, &m);
    if (rc == STORE_ECORRUPT)
        return 0;
    if (rc != 0)
        return rc;
    return s_list_full_above(self, &m, micro);
}

/* Changed entity x's score micro cannot change the list of partner
 * (kind, id): x is not in it (x's owners: self->owners, hashed by
 * s_owners_index) and the list refuses it (s_list_refuses), so x could
 * neither enter it nor force its recomputation: s_revisit would change
 * nothing. 1 if so, 0 if not, <0 on a store error. */
static int s_cannot_enter(engine_t *self, store_txn_t *txn, store_entity_kind_t kind,
                          const char *id, uint32_t micro)
{
    if (s_is_owner(self, id, strlen(id)))
        return 0;
    return s_list_refuses(self, txn, kind, id, micro);
}

/* self->oset: a hash set over self->owners, for s_cannot_enter. */
static int s_owners_index(engine_t *self)
{
    if (s_table_clear(&self->oset, &self->oset_cap, self->owners.n, 256) != 0)
        return STORE_ENOMEM;
    size_t cap = self->oset_cap;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < self->owners.n; i++) {
        size_t j = (size_t)s_hash(self->owners.v[i], strlen(self->owners.v[i])) & (cap - 1);
        while (self->oset[j])
            j = (j + 1) & (cap - 1);
        self->oset[j] = (uint32_t)i + 1;
    }
    return 0;
}

/* 1 if id (len bytes) is one of self->owners (indexed by s_owners_index). */
static int s_is_owner(const engine_t *self, const char *id, size_t len)
{
    if (self->owners.n == 0)
        return 0;
    size_t cap = self->oset_cap;
    for (size_t j = (size_t)s_hash(id, len) & (cap - 1); self->oset[j]; j = (j + 1) & (cap - 1)) {
        const char *o = self->owners.v[self->oset[j] - 1];
        if (memcmp(o, id, len) == 0 && o[len] == '\0')
            return 1;
    }
    return 0;
}

/* The candidate at hand of a walk of the in-memory posting lists. */
typedef struct {
    engine_t *self;
    const s_ent_t *e;
    int both; /* S_PRUNE_BOTH: tell the candidates whose lists may take e */
    int rc;
} s_walk_t;

/* One entity of the walk: kept in self->ids and self->cands if its head
 * passes the filters and its bound says it may be eligible. */
static int s_walk_cb(const char *id, size_t len, const store_head_t *head,
                     const store_list_meta_t *list, void *arg)
{
    s_walk_t *w = arg;
    engine_t *self = w->self;
    double d;
    self->stats.heads++;
    if (!s_head_ok(w->e, head, &d))
        return 0;
    int64_t b = s_bound(self, w->e, head, d);
    if (b < 0 || len == 0 || len > STORE_ID_MAX)
        return 0;
    uint8_t take = S_TAKE_UNKNOWN;
    if (w->both && list) /* s_list_refuses' test, on the meta at hand */
        take = s_list_full_above(self, list, (uint32_t)b) ? S_TAKE_NO : S_TAKE_MAYBE;
    w->rc = s_cands_push(self, id, len, (uint32_t)b, take);
    return w->rc != 0;
}

/* Candidates of e that pass the head filters and may be eligible, with
 * their score bounds, into self->cands: a walk of the places index in
 * memory (no table read, no id hashed; only the candidates that pass the
 * filters are copied). */
static int s_bounded(engine_t *self, store_txn_t *txn, const s_ent_t *e, s_prune_t prune)
{
    int grad = e->kind == STORE_ENTITY_GRADUATE;
    store_near_from_t from;
    s_walk_t w = {self, e, prune == S_PRUNE_BOTH, 0};
    self->n_cands = 0;
    if (!grad)
        score_bound_prepare_vacancy(self->ref, &e->prep.v, &self->bound);
    else
        score_bound_prepare_graduate(self->ref, &e->prep.g, &self->bound);
    store_near_from(&from, e->kind, grad ? (const void *)&e->rec.g : (const void *)&e->rec.v);
    int rc = s_near_keys(self, txn, e);
    if (rc != 0)
        return rc;
    rc = store_near_each(txn, s_other(e->kind), self->keybuf, self->keylens, self->n_keylens, &from,
                         &self->seen, s_walk_cb, &w);
    return rc > 0 ? w.rc : rc;
}

/* Score the candidates of e; the eligible ones go to out (sorted by id).
 * With pruning, candidates are scored from the highest bound down, and
 * one whose bound is below the kk-th best score found so far cannot enter
 * e's top: with S_PRUNE_TOP the rest are skipped (out->pruned), with
 * S_PRUNE_BOTH those that could not enter their own list either
 * (s_list_refuses) are skipped. Skipped candidates are not
 * decoded: that is the saving. */
static int s_eligible(engine_t *self, store_txn_t *txn, const s_ent_t *e, s_ranks_t *out,
                      s_prune_t prune, s_pool_t *pool)
{
    pool->id[0] = '\0';
    pool->n_heap = 0;
    pool->scratch = 0;
    pool->unused = 1;
    out->n = 0;
    out->pruned = 0;
    int rc = s_bounded(self, txn, e, prune);
    if (rc != 0)
        return rc;
    size_t must = 0; /* candidates left that their own lists may make count */
    if (prune != S_PRUNE_NONE)
        s_cands_heapify(self->cands, self->n_cands);
    if (prune == S_PRUNE_BOTH)
        for (size_t c = 0; c < self->n_cands; c++)
            must += self->cands[c].take != S_TAKE_NO;
    char id[STORE_ID_MAX + 1];
    int tail = 0; /* below e's top: the rest in heap order, unsorted */
    for (size_t c = 0; c < self->n_cands; c++) {
        const s_cand_t *cand = &self->cands[c];
        if (tail) { /* the heap's array from its end: no pops */
            if (must == 0) {
                self->stats.pruned += self->n_cands - c;
                out->pruned = 1;
                break;
            }
            cand = &self->cands[self->n_cands - c - 1];
            if (cand->take == S_TAKE_NO) {
                self->stats.pruned++;
                out->pruned = 1;
                continue;
            }
            must--;
        } else if (prune != S_PRUNE_NONE) { /* the best left, from the top of the heap */
            s_cands_pop(self->cands, self->n_cands - c);
            cand = &self->cands[self->n_cands - c - 1];
            must -= cand->take != S_TAKE_NO && prune == S_PRUNE_BOTH;
        }
        if (!tail && prune != S_PRUNE_NONE && pool->n_heap == self->kk &&
            cand->bound < pool->heap[0].micro) {
            /* below e's top from here on (the bounds left are no higher
             * and the kk-th best only rises): what is left counts only
             * for lists that may take e, in any order */
            if (prune == S_PRUNE_TOP || (cand->take == S_TAKE_NO && must == 0)) {
                self->stats.pruned += self->n_cands - c;
                out->pruned = 1;
                break;
            }
            tail = 1;
            if (cand->take == S_TAKE_NO) {
                self->stats.pruned++;
                out->pruned = 1;
                continue;
            }
        }
        memcpy(id, cand->id, cand->id_len);
        id[cand->id_len] = '\0';
        if (prune != S_PRUNE_NONE && pool->n_heap == self->kk &&
            cand->bound < pool->heap[0].micro && cand->take == S_TAKE_UNKNOWN) {
            rc = s_list_refuses(self, txn, s_other(e->kind), id, cand->bound);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                self->stats.pruned++;
                out->pruned = 1;
                continue;
            }
        }
        s_slot_t *slot = &pool->slots[pool->scratch];
        rc = s_load(self, txn, s_other(e->kind), id, &slot->ent);
        if (rc == STORE_ENOTFOUND || rc == STORE_ECORRUPT)
            continue; /* an index entry without a readable record: skip it */
        if (rc != 0)
            return rc;
        if (s_score(self, e, &slot->ent, &slot->res, 1)) {
            if ((rc = s_ranks_push(out, id, slot->res.micro)) != 0)
                return rc;
            slot->id_hash = s_hash(id, cand->id_len);
            s_pool_add(self, pool, slot->res.micro);
        }
    }
    pool->kind = e->kind;
    memcpy(pool->id, s_id(e), strlen(s_id(e)) + 1);
    if (prune == S_PRUNE_BOTH && out->n > 1) /* the changed entity's: for s_ranks_find */
        qsort(out->v, out->n, sizeof *out->v, s_rank_id_cmp);
    return 0;
}

/* The stored head of a ranking: the top KK of a set of eligible partners,
 * in rank order; exhaustive when that is all of them. */
static void s_top(const engine_t *self, s_ranks_t *elig, store_list_t *out, int keep_id_order)
{
    out->n = 0;
    out->exhaustive = elig->n <= self->kk && !elig->pruned;
    if (elig->n == 0)
        return;
    qsort(elig->v, elig->n, sizeof *elig->v, s_rank_cmp);
    out->n = (uint16_t)(elig->n < self->kk ? elig->n : self->kk);
    memcpy(out->e, elig->v, out->n * sizeof *out->e);
    if (keep_id_order)
        qsort(elig->v, elig->n, sizeof *elig->v, s_rank_id_cmp); /* back to id order */
}

/* ---- recording changes ----------------------------------------------- */

static uint8_t s_left_reason_of_state(uint8_t state)
{
    switch (state) {
    case STORE_STATE_HIRED: return FEED_LEFT_GRADUATE_HIRED;
    case STORE_STATE_LEFT: return FEED_LEFT_GRADUATE_LEFT;
    case STORE_STATE_FILLED: return FEED_LEFT_VACANCY_FILLED;
    case STORE_STATE_CANCELLED: return FEED_LEFT_VACANCY_CANCELLED;
    case STORE_STATE_EXPIRED: return FEED_LEFT_VACANCY_EXPIRED;
    default: return FEED_LEFT_NO_LONGER_ELIGIBLE;
    }
}

/* Why member m left owner o's list. */
static uint8_t s_left_reason(engine_t *self, const s_ent_t *o, const s_ent_t *m,
                             const s_cause_t *cause)
{
    if (cause->erased && strcmp(s_id(m), cause->id) == 0 && m->kind == cause->kind)
        return FEED_LEFT_GRADUATE_ERASED;
    if (cause->erased && strcmp(s_id(o), cause->id) == 0 && o->kind == cause->kind)
        return FEED_LEFT_GRADUATE_ERASED;
    if (s_state(o) != STORE_STATE_OPEN)
        return s_left_reason_of_state(s_state(o));
    if (s_state(m) != STORE_STATE_OPEN)
        return s_left_reason_of_state(s_state(m));
    return s_score(self, o, m, &self->res, 0) ? FEED_LEFT_OUTRANKED : FEED_LEFT_NO_LONGER_ELIGIBLE;
}

/* Record one change of owner o's list about member id. */
static int s_record(engine_t *self, store_txn_t *txn, const s_ent_t *o, const char *member,
                    uint8_t kind, uint32_t rank, uint32_t micro, int explain,
                    const s_cause_t *cause)
{
    const s_ent_t *m = &self->self_ent;
    /* the pair scored with explanation by a retrieval for o (hit: the
     * member's slot) or for the member (hit: o's slot) */
    const s_slot_t *hit = s_pool_find(self, o->kind, s_id(o), member);
    const s_slot_t *pair = hit ? hit : s_pool_find(self, s_other(o->kind), member, s_id(o));
    if (m->kind != s_other(o->kind) || strcmp(s_id(m), member) != 0) {
        /* not the changed entity, which is loaded already */
        if (hit) {
            m = &hit->ent; /* decoded by the retrieval that ranked it */
        } else {
            int rc = s_load(self, txn, s_other(o->kind), member, &self->emit_ent);
            if (rc != 0)
                return rc == STORE_ENOTFOUND ? 0 : rc; /* nothing to name: skip */
            m = &self->emit_ent;
        }
    }
    feed_change_t c = {.kind = kind, .rank = rank, .micro = micro};
    const s_ent_t *g = o->kind == STORE_ENTITY_GRADUATE ? o : m;
    const s_ent_t *v = o->kind == STORE_ENTITY_GRADUATE ? m : o;
    c.side = o->kind == STORE_ENTITY_GRADUATE ? FEED_SIDE_GRADUATE : FEED_SIDE_VACANCY;
    c.g = &g->rec.g;
    c.v = &v->rec.v;
    c.sv = &v->prep.v;
    c.anonymous = cause->erased && cause->kind == STORE_ENTITY_GRADUATE &&
                  strcmp(cause->id, g->rec.g.id) == 0;
    if (kind == FEED_LEFT)
        c.left_reason = s_left_reason(self, o, m, cause);
    else if (explain && pair)
        c.res = &pair->res; /* scored with explanation by that retrieval */
    else if (explain && s_score(self, o, m, &self->res, 1))
        c.res = &self->res;
    self->stats.changes++;
    return self->feed ? feed_record(self->feed, txn, &c, cause->now_ms) : 0;
}

static unsigned s_visible(const engine_t *self, const store_list_t *l)
{
    return l->n < self->k ? l->n : self->k;
}

/* Find id among the first n entries of l, -1 if absent. */
static int s_find_in(const store_list_t *l, unsigned n, const char *id)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(l->e[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* The same, looking first around position hint: an entry of a list that
 * changed by one entry has moved by at most a place or two. */
static int s_find_near(const store_list_t *l, unsigned n, const char *id, unsigned hint)
{
    for (unsigned d = 0; d < 3; d++) {
        if (hint + d < n && strcmp(l->e[hint + d].id, id) == 0)
            return (int)(hint + d);
        if (d > 0 && d <= hint && hint - d < n && strcmp(l->e[hint - d].id, id) == 0)
            return (int)(hint - d);
    }
    return s_find_in(l, n, id);
}

/* Record what changed in the visible part (the first K entries) of owner
 * o's ranking: LEFT, then ENTERED and UPDATED (score changed) in rank
 * order. An entry whose rank moved only because another one entered or
 * left above it is not an update of its own: subscribers order a list by
 * score. Then store the new head if anything in it changed. */
static int s_commit_list(engine_t *self, store_txn_t *txn, const s_ent_t *o,
                         const store_list_t *old, const store_list_t *new, const s_cause_t *cause)
{
    unsigned vo = s_visible(self, old), vn = s_visible(self, new);
    int rc;
    for (unsigned i = 0; i < vo; i++) {
        if (s_find_near(new, vn, old->e[i].id, i) >= 0)
            continue;
        if ((rc = s_record(self, txn, o, old->e[i].id, FEED_LEFT, 0, old->e[i].micro, 0, cause)))
            return rc;
    }
    for (unsigned i = 0; i < vn; i++) {
        int j = s_find_near(old, vo, new->e[i].id, i);
        if (j >= 0 && old->e[j].micro == new->e[i].micro)
            continue;
        rc = s_record(self, txn, o, new->e[i].id, j < 0 ? FEED_ENTERED : FEED_UPDATED, i + 1,
                      new->e[i].micro, 1, cause);
        if (rc != 0)
            return rc;
    }
    int changed = old->n != new->n || old->exhaustive != new->exhaustive;
    for (unsigned i = 0; !changed && i < new->n; i++)
        changed = strcmp(old->e[i].id, new->e[i].id) != 0 || old->e[i].micro != new->e[i].micro;
    if (!changed)
        return 0;
    self->stats.lists_written++;
    return store_list_replace(txn, o->kind, s_id(o), old, new);
}

/* ---- the algorithm ----------------------------------------------------- */

static int s_owners_cb(const char *id, size_t len, void *arg)
{
    return s_ids_push(arg, id, len);
}

/* Insert e into l (kept in rank order) if the head may hold it: when l
 * is exhaustive, or when e ranks above `bound`, the lowest entry the head
 * held (every partner outside the head ranks below it). Trims l to KK. */
static void s_insert(const engine_t *self, store_list_t *l, const store_rank_t *e,
                     const store_rank_t *bound)
{
    if (!l->exhaustive && (!bound || s_rank_cmp(e, bound) > 0))
        return;
    unsigned i = l->n;
    while (i > 0 && s_rank_cmp(e, &l->e[i - 1]) < 0) {
        if (i < STORE_LIST_MAX)
            l->e[i] = l->e[i - 1];
        i--;
    }
    l->e[i] = *e;
    if (l->n < STORE_LIST_MAX)
        l->n++;
    if (l->n > self->kk) {
        l->n = (uint16_t)self->kk;
        l->exhaustive = 0;
    }
}

/* The new head of partner (kind, pid)'s ranking after x changed, from its
 * old head: x's entry removed, then put back where its new score ranks if
 * the head may hold it. Returns 1 if the head must be recomputed (it fell
 * below K entries without being exhaustive). */
static int s_adjust(const engine_t *self, const store_list_t *old, store_list_t *new,
                    const char *xid, const store_rank_t *s)
{
    store_rank_t bound, x;
    *new = *old;
    if (old->n > 0)
        bound = old->e[old->n - 1];
    int pos = s_find_in(new, new->n, xid);
    if (pos >= 0) {
        memmove(&new->e[pos], &new->e[pos + 1], (size_t)(new->n - pos - 1) * sizeof new->e[0]);
        new->n--;
    }
    if (s) {
        memcpy(x.id, xid, strlen(xid) + 1);
        x.micro = s->micro;
        s_insert(self, new, &x, old->n > 0 ? &bound : NULL);
    }
    return new->n < self->k && !new->exhaustive;
}

/* Revisit partner (kind, pid)'s ranking after the change of x
 * (self->self_ent), whose eligible partners are in self->elig_self. The
 * partner's record is loaded only if its list changes. */
static int s_revisit(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *pid,
                     const s_cause_t *cause)
{
    store_list_t *old = &self->old_list, *new = &self->new_list;
    const char *xid = s_id(&self->self_ent);
    const store_rank_t *s = s_ranks_find(&self->elig_self, pid);
    int rc = s ? s_cannot_enter(self, txn, kind, pid, s->micro) : 0;
    if (rc != 0)
        return rc > 0 ? 0 : rc; /* x is not in that list and cannot enter it */
    if ((rc = store_list_get(txn, kind, pid, old)) != 0)
        return rc;
    int pos = s_find_in(old, old->n, xid);
    if (pos < 0 && !s)
        return 0; /* x was not in it and cannot enter */
    if (pos >= 0 && s && s->micro == old->e[pos].micro)
        return 0; /* same score: same place */
    int recompute = s_adjust(self, old, new, xid, s);
    if (!recompute && new->n == old->n &&new->exhaustive == old->exhaustive &&
        memcmp(new->e, old->e, new->n * sizeof new->e[0]) == 0)
        return 0;
    /* the partner, decoded already if it is among x's best candidates */
    const s_slot_t *hit = s_pool_find(self, s_other(kind), xid, pid);
    const s_ent_t *o = hit ? &hit->ent : &self->owner_ent;
    if (!hit && (rc = s_load(self, txn, kind, pid, &self->owner_ent)) != 0)
        return rc == STORE_ENOTFOUND ? 0 : rc;
    if (recompute) {
        self->stats.recomputations++;
        rc = s_eligible(self, txn, o, &self->elig_tmp, S_PRUNE_TOP, &self->tmp_pool);
        if (rc != 0)
            return rc;
        s_top(self, &self->elig_tmp, new, 0);
    }
    return s_commit_list(self, txn, o, old, new, cause);
}

/* out = the union of a and b, both sorted by id without repeats: a
 * merge, no sort. */
static int s_merge_ids(s_ids_t *out, const s_ids_t *a, const s_ranks_t *b)
{
    size_t i = 0, j = 0;
    int rc = 0;
    out->n = 0;
    while (rc == 0 && (i < a->n || j < b->n)) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j].id);
        const char *id = c <= 0 ? a->v[i] : b->v[j].id;
        rc = s_ids_push(out, id, strlen(id));
        i += c <= 0;
        j += c >= 0;
    }
    return rc;
}

/* The entity (kind, id) changed in the store (or is being erased). */
static int s_changed(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                     const s_cause_t *cause)
{
    s_ent_t *x = &self->self_ent;
    self->stats.changed++;
    self->self_pool.id[0] = self->tmp_pool.id[0] = '\0'; /* records may have changed */
    int rc = s_load(self, txn, kind, id, x);
    if (rc != 0)
        return rc == STORE_ENOTFOUND ? 0 : rc;
    if (cause->erased)
        x->rec.g.state = STORE_STATE_LEFT; /* no longer a candidate anywhere */
    /* partner lists that hold x: sorted for s_merge_ids, hashed for
     * s_cannot_enter */
    self->owners.n = 0;
    rc = store_list_owners(txn, s_other(kind), id, s_owners_cb, &self->owners);
    if (rc != 0)
        return rc > 0 ? STORE_ENOMEM : rc;
    s_ids_unique(&self->owners);
    if ((rc = s_owners_index(self)) != 0)
        return rc;
    if (s_state(x) == STORE_STATE_OPEN) {
        rc = s_eligible(self, txn, x, &self->elig_self, S_PRUNE_BOTH, &self->self_pool);
        if (rc != 0)
            return rc;
    } else {
        self->elig_self.n = 0;
        self->elig_self.pruned = 0;
    }
    /* x's own list */
    if ((rc = store_list_get(txn, kind, id, &self->old_list)) != 0)
        return rc;
    s_top(self, &self->elig_self, &self->new_list, 1);
    if ((rc = s_commit_list(self, txn, x, &self->old_list, &self->new_list, cause)) != 0)
        return rc;
    /* partner lists that hold x or that x may enter */
    if ((rc = s_merge_ids(&self->affected, &self->owners, &self->elig_self)) != 0)
        return rc;
    for (size_t i = 0; i < self->affected.n; i++)
        if ((rc = s_revisit(self, txn, s_other(kind), self->affected.v[i], cause)) != 0)
            return rc;
    return 0;
}

/* ---- public ------------------------------------------------------------ */

engine_t *engine_new(const reference_t *ref, const score_weights_t *w, unsigned k, feed_t *feed)
{
    if (k < 1 || k > STORE_LIST_MAX)
        return NULL;
    engine_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ref = ref;
    self->w = *w;
    self->k = k;
    self->kk = 2 * k < STORE_LIST_MAX ? 2 * k : STORE_LIST_MAX;
    self->feed = feed;
    s_pool_t *pools[2] = {&self->self_pool, &self->tmp_pool};
    for (int p = 0; p < 2; p++) {
        pools[p]->slots = calloc(self->kk + 1, sizeof *pools[p]->slots);
        pools[p]->heap = calloc(self->kk, sizeof *pools[p]->heap);
        if (!pools[p]->slots || !pools[p]->heap) {
            engine_destroy(&self);
            break;
        }
    }
    return self;
}

void engine_destroy(engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    engine_t *self = *self_p;
    store_near_seen_free(&self->seen);
    free(self->keyset);
    free(self->oset);
    free(self->keys.v);
    free(self->affected.v);
    free(self->owners.v);
    free(self->keybuf);
    free(self->keylens);
    free(self->elig_self.v);
    free(self->elig_tmp.v);
    free(self->cands);
    free(self->tmp_pool.heap);
    free(self->tmp_pool.slots);
    free(self->self_pool.heap);
    free(self->self_pool.slots);
    free(self);
    *self_p = NULL;
}

int engine_graduate_changed(engine_t *self, store_txn_t *txn, const char *id, int64_t now_ms)
{
    s_cause_t cause = {STORE_ENTITY_GRADUATE, id, 0, now_ms};
    return s_changed(self, txn, STORE_ENTITY_GRADUATE, id, &cause);
}

int engine_vacancy_changed(engine_t *self, store_txn_t *txn, const char *id, int64_t now_ms)
{
    s_cause_t cause = {STORE_ENTITY_VACANCY, id, 0, now_ms};
    return s_changed(self, txn, STORE_ENTITY_VACANCY, id, &cause);
}

int engine_graduate_erasing(engine_t *self, store_txn_t *txn, const char *id, int64_t now_ms)
{
    s_cause_t cause = {STORE_ENTITY_GRADUATE, id, 1, now_ms};
    return s_changed(self, txn, STORE_ENTITY_GRADUATE, id, &cause);
}

int engine_compute_list(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                        store_list_t *out)
{
    int rc = s_load(self, txn, kind, id, &self->owner_ent);
    out->n = 0;
    if (rc != 0)
        return rc;
    if (s_state(&self->owner_ent) != STORE_STATE_OPEN)
        return 0;
    self->tmp_pool.id[0] = '\0';
    rc = s_eligible(self, txn, &self->owner_ent, &self->elig_tmp, S_PRUNE_NONE, &self->tmp_pool);
    if (rc != 0)
        return rc;
    s_top(self, &self->elig_tmp, out, 0);
    return 0;
}

int engine_list_for_load(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                         store_list_t *out)
{
    int rc = s_load(self, txn, kind, id, &self->owner_ent);
    out->n = 0;
    out->exhaustive = 0;
    if (rc != 0)
        return rc;
    self->tmp_pool.id[0] = '\0';
    if (s_state(&self->owner_ent) == STORE_STATE_OPEN) {
        rc = s_eligible(self, txn, &self->owner_ent, &self->elig_tmp, S_PRUNE_TOP, &self->tmp_pool);
        if (rc != 0)
            return rc;
        s_top(self, &self->elig_tmp, out, 0);
    }
    return 0;
}

int engine_list_store(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                      const store_list_t *list, int *written)
{
    store_list_t *old = &self->old_list;
    int rc = store_list_get(txn, kind, id, old);
    *written = 0;
    if (rc != 0)
        return rc;
    if (old->n == list->n && old->exhaustive == list->exhaustive &&
        memcmp(old->e, list->e, list->n * sizeof list->e[0]) == 0)
        return 0;
    self->stats.lists_written++;
    *written = list->n > 0;
    return store_list_replace(txn, kind, id, old, list);
}

int engine_build_list(engine_t *self, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                      int *written)
{
    int rc = engine_list_for_load(self, txn, kind, id, &self->new_list);
    *written = 0;
    return rc != 0 ? rc : engine_list_store(self, txn, kind, id, &self->new_list, written);
}

int engine_explain(engine_t *self, store_txn_t *txn, const char *vacancy_id,
                   const char *graduate_id, store_vacancy_t *v, store_graduate_t *g,
                   score_vacancy_t *sv, score_result_t *res)
{
    score_graduate_t pg;
    int rc = store_vacancy_get(txn, vacancy_id, v);
    if (rc == 0)
        rc = store_graduate_get(txn, graduate_id, g);
    if (rc == STORE_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    score_prepare_vacancy(self->ref, v, sv);
    score_prepare_graduate(self->ref, g, &pg);
    return score_pair(self->ref, &self->w, &pg, sv, res, 1);
}

void engine_stats(const engine_t *self, engine_stats_t *out)
{
    *out = self->stats;
}

unsigned engine_k(const engine_t *self)
{
    return self->k;
}
