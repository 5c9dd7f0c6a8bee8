/* oracle.c - brute-force recomputation of ranked lists and replay of the
 * match log, shared by the engine, crash and soak tests (see oracle.h).
 */
#include "oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passerelle/v1/feed.pb-c.h"
#include "strmap.h"

#define S_SHOW 5 /* problems printed per check */

/* ---- loading every entity --------------------------------------------- */

typedef struct {
    char (*ids)[STORE_ID_MAX + 1];
    size_t n, cap;
} s_ids_t;

static int s_collect_id(const char *id, size_t len, void *arg)
{
    s_ids_t *a = arg;
    if (len > STORE_ID_MAX)
        return STORE_ECORRUPT;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        void *p = realloc(a->ids, cap * sizeof *a->ids);
        if (p == NULL)
            return STORE_ENOMEM;
        a->ids = p;
        a->cap = cap;
    }
    memcpy(a->ids[a->n], id, len);
    a->ids[a->n][len] = '\0';
    a->n++;
    return 0;
}

typedef struct {
    const reference_t *ref;
    const score_weights_t *w;
    unsigned k;
    size_t stride;
    oracle_report_t *out;
    s_ids_t gid, vid;
    store_graduate_t *g; /* open ones only, prepared in pg */
    score_graduate_t *pg;
    size_t ng;
    store_vacancy_t *v;
    score_vacancy_t *pv;
    size_t nv;
    strmap_t *open; /* "g:<id>" / "v:<id>" of open entities */
    store_rank_t *all;
} s_lists_t;

static int s_load(s_lists_t *s, store_txn_t *txn)
{
    int rc;
    if ((rc = store_entity_ids(txn, STORE_ENTITY_GRADUATE, "", 0, s_collect_id, &s->gid)) != 0 ||
        (rc = store_entity_ids(txn, STORE_ENTITY_VACANCY, "", 0, s_collect_id, &s->vid)) != 0)
        return rc;
    s->g = calloc(s->gid.n + 1, sizeof *s->g);
    s->pg = calloc(s->gid.n + 1, sizeof *s->pg);
    s->v = calloc(s->vid.n + 1, sizeof *s->v);
    s->pv = calloc(s->vid.n + 1, sizeof *s->pv);
    s->all = calloc((s->gid.n > s->vid.n ? s->gid.n : s->vid.n) + 1, sizeof *s->all);
    s->open = strmap_new();
    if (!s->g || !s->pg || !s->v || !s->pv || !s->all || !s->open)
        return STORE_ENOMEM;
    char key[STORE_ID_MAX + 3];
    for (size_t i = 0; i < s->gid.n; i++) {
        if ((rc = store_graduate_get(txn, s->gid.ids[i], &s->g[s->ng])) != 0)
            return rc;
        if (s->g[s->ng].state != STORE_STATE_OPEN)
            continue;
        snprintf(key, sizeof key, "g:%s", s->gid.ids[i]);
        if (strmap_put(s->open, key, (void *)1) != 0)
            return STORE_ENOMEM;
        s->ng++;
    }
    for (size_t i = 0; i < s->vid.n; i++) {
        if ((rc = store_vacancy_get(txn, s->vid.ids[i], &s->v[s->nv])) != 0)
            return rc;
        if (s->v[s->nv].state != STORE_STATE_OPEN)
            continue;
        snprintf(key, sizeof key, "v:%s", s->vid.ids[i]);
        if (strmap_put(s->open, key, (void *)1) != 0)
            return STORE_ENOMEM;
        s->nv++;
    }
    /* prepared structs point into the records: prepare after the arrays
     * stopped moving */
    for (size_t i = 0; i < s->ng; i++)
        score_prepare_graduate(s->ref, &s->g[i], &s->pg[i]);
    for (size_t i = 0; i < s->nv; i++)
        score_prepare_vacancy(s->ref, &s->v[i], &s->pv[i]);
    s->out->graduates_open = s->ng;
    s->out->vacancies_open = s->nv;
    return 0;
}

static int s_rank_cmp(const void *a, const void *b)
{
    const store_rank_t *x = a, *y = b;
    if (x->micro != y->micro)
        return x->micro > y->micro ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The stored head of (kind, id) against the brute force all[0..n). */
static int s_compare(s_lists_t *s, store_txn_t *txn, store_entity_kind_t kind, const char *id,
                     size_t n)
{
    store_list_t got;
    store_rank_t *all = s->all;
    if (n > 0)
        qsort(all, n, sizeof *all, s_rank_cmp);
    size_t want = n < s->k ? n : s->k;
    int rc = store_list_get(txn, kind, id, &got);
    if (rc != 0)
        return rc;
    s->out->lists++;
    int bad = got.n < want || got.n > 2 * s->k || got.n > n || (got.exhaustive && got.n != n);
    for (size_t i = 0; !bad && i < got.n; i++)
        bad = strcmp(got.e[i].id, all[i].id) != 0 || got.e[i].micro != all[i].micro;
    if (bad && s->out->mismatches++ < S_SHOW) {
        fprintf(stderr,
                "oracle: list of %c %s: stored %u entries (exhaustive %d), brute force %zu\n", kind,
                id, got.n, got.exhaustive, n);
        for (size_t i = 0; (i < n || i < got.n) && i < 2 * (size_t)s->k; i++)
            fprintf(stderr, "  %zu: stored %s %u | brute force %s %u\n", i,
                    i < got.n ? got.e[i].id : "-", i < got.n ? got.e[i].micro : 0,
                    i < n ? all[i].id : "-", i < n ? all[i].micro : 0);
    }
    return 0;
}

static int s_brute_force(s_lists_t *s, store_txn_t *txn)
{
    score_result_t res;
    int rc;
    for (size_t v = 0; v < s->nv; v += s->stride) {
        size_t n = 0;
        for (size_t g = 0; g < s->ng; g++)
            if (score_pair(s->ref, s->w, &s->pg[g], &s->pv[v], &res, 0)) {
                snprintf(s->all[n].id, sizeof s->all[n].id, "%s", s->g[g].id);
                s->all[n++].micro = res.micro;
            }
        s->out->pairs += n;
        if ((rc = s_compare(s, txn, STORE_ENTITY_VACANCY, s->v[v].id, n)) != 0)
            return rc;
    }
    for (size_t g = 0; g < s->ng; g += s->stride) {
        size_t n = 0;
        for (size_t v = 0; v < s->nv; v++)
            if (score_pair(s->ref, s->w, &s->pg[g], &s->pv[v], &res, 0)) {
                snprintf(s->all[n].id, sizeof s->all[n].id, "%s", s->v[v].id);
                s->all[n++].micro = res.micro;
            }
        if ((rc = s_compare(s, txn, STORE_ENTITY_GRADUATE, s->g[g].id, n)) != 0)
            return rc;
    }
    return 0;
}

/* A stored list whose owner is not open is a leftover: count it. */
static int s_stray(const char *id, const store_list_t *l, void *arg, char side)
{
    s_lists_t *s = arg;
    char key[STORE_ID_MAX + 3];
    snprintf(key, sizeof key, "%c:%s", side, id);
    if (l->n > 0 && strmap_get(s->open, key) == NULL && s->out->stray++ < S_SHOW)
        fprintf(stderr, "oracle: %s is not open but has a list of %u\n", key, l->n);
    return 0;
}

static int s_stray_v(const char *id, const store_list_t *l, void *arg)
{
    return s_stray(id, l, arg, 'v');
}

static int s_stray_g(const char *id, const store_list_t *l, void *arg)
{
    return s_stray(id, l, arg, 'g');
}

static int s_lists_fn(store_txn_t *txn, void *arg)
{
    s_lists_t *s = arg;
    int rc = s_load(s, txn);
    if (rc == 0)
        rc = s_brute_force(s, txn);
    if (rc == 0)
        rc = store_list_each(txn, STORE_ENTITY_VACANCY, s_stray_v, s);
    if (rc == 0)
        rc = store_list_each(txn, STORE_ENTITY_GRADUATE, s_stray_g, s);
    return rc;
}

int oracle_check_lists(store_t *store, const reference_t *ref, const score_weights_t *w, unsigned k,
                       oracle_report_t *out)
{
    return oracle_check_lists_sampled(store, ref, w, k, 1, out);
}

int oracle_check_lists_sampled(store_t *store, const reference_t *ref, const score_weights_t *w,
                               unsigned k, size_t stride, oracle_report_t *out)
{
    s_lists_t s = {.ref = ref, .w = w, .k = k, .stride = stride ? stride : 1, .out = out};
    out->graduates_open = out->vacancies_open = 0;
    out->lists = out->pairs = out->mismatches = out->stray = 0;
    int rc = store_read(store, s_lists_fn, &s);
    free(s.gid.ids);
    free(s.vid.ids);
    free(s.g);
    free(s.pg);
    free(s.v);
    free(s.pv);
    free(s.all);
    strmap_destroy(&s.open);
    return rc;
}

/* ---- replaying the match log ------------------------------------------ */

/* A replayed list entry: "<v|g>:<owner>|<member>" -> entry. */
typedef struct {
    uint32_t micro;
    int live;
} s_entry_t;

typedef struct {
    unsigned k;
    oracle_report_t *out;
    strmap_t *map;
    s_entry_t **all;
    size_t n, cap;
    uint64_t last_seq;
    strmap_t *last_on_topic; /* topic -> last sequence seen in the log */
} s_replay_t;

static s_entry_t *s_find(s_replay_t *r, const char *owner, const char *member, int create)
{
    char key[2 * STORE_ID_MAX + 8];
    snprintf(key, sizeof key, "%s|%s", owner, member);
    s_entry_t *e = strmap_get(r->map, key);
    if (e || !create)
        return e;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        void *p = realloc(r->all, cap * sizeof *r->all);
        if (p == NULL)
            return NULL;
        r->all = p;
        r->cap = cap;
    }
    if ((e = calloc(1, sizeof *e)) == NULL)
        return NULL;
    if (strmap_put(r->map, key, e) != 0) {
        free(e);
        return NULL;
    }
    r->all[r->n++] = e;
    return e;
}

/* Sequence numbers: strictly increasing, each the message's own, holes
 * counted. */
static void s_check_seq(s_replay_t *r, const store_match_t *m, uint64_t inner)
{
    oracle_report_t *o = r->out;
    if (inner != m->seq || (r->last_seq != 0 && m->seq <= r->last_seq)) {
        if (o->out_of_order++ < S_SHOW)
            fprintf(stderr, "oracle: match log entry %llu (message says %llu) after %llu\n",
                    (unsigned long long)m->seq, (unsigned long long)inner,
                    (unsigned long long)r->last_seq);
    } else if (r->last_seq != 0 && m->seq != r->last_seq + 1) {
        if (o->holes < S_SHOW)
            fprintf(stderr, "oracle: match log jumps from %llu to %llu\n",
                    (unsigned long long)r->last_seq, (unsigned long long)m->seq);
        o->holes += (size_t)(m->seq - r->last_seq - 1);
    }
    if (r->last_seq == 0)
        o->first_seq = m->seq;
    r->last_seq = m->seq;
    o->updates++;
}

/* previous_sequence names, for each topic, the last update under it: the
 * last one in the log, or a later one that an erasure deleted. */
static int s_check_prev(s_replay_t *r, const store_match_t *m, const Passerelle__V1__MatchUpdate *u)
{
    oracle_report_t *o = r->out;
    if (u->n_previous_sequence != m->n_topics) {
        o->prev_bad++;
        return 0;
    }
    for (size_t i = 0; i < u->n_previous_sequence; i++) {
        const char *t = u->previous_sequence[i]->key;
        uint64_t prev = u->previous_sequence[i]->value;
        uint64_t seen = (uint64_t)(uintptr_t)strmap_get(r->last_on_topic, t);
        o->prev_checked++;
        if (prev < seen || prev >= m->seq || strcmp(t, m->topics[i]) != 0)
            o->prev_bad++;
        if (strmap_put(r->last_on_topic, t, (void *)(uintptr_t)m->seq) != 0)
            return STORE_ENOMEM;
    }
    return 0;
}

static int s_replay_cb(const store_match_t *m, void *arg)
{
    s_replay_t *r = arg;
    Passerelle__V1__MatchUpdate *u =
        passerelle__v1__match_update__unpack(NULL, m->payload_len, m->payload);
    if (u == NULL) {
        r->out->undecodable++;
        return 0;
    }
    s_check_seq(r, m, u->sequence);
    int rc = s_check_prev(r, m, u);
    char owner[STORE_ID_MAX + 3];
    int vside = u->side == PASSERELLE__V1__LIST_SIDE__LIST_SIDE_VACANCY;
    snprintf(owner, sizeof owner, "%c:%s", vside ? 'v' : 'g',
             vside ? u->vacancy_id : u->graduate_id);
    const char *member = vside ? u->graduate_id : u->vacancy_id;
    if (rc != 0 || !*u->graduate_id) {
        /* an erased graduate's retraction names nobody */
    } else if (u->kind == PASSERELLE__V1__MATCH_KIND__MATCH_KIND_LEFT) {
        s_entry_t *e = s_find(r, owner, member, 0);
        if (e)
            e->live = 0;
    } else {
        s_entry_t *e = s_find(r, owner, member, 1);
        if (e == NULL) {
            rc = STORE_ENOMEM;
        } else {
            e->live = 1;
            e->micro = (uint32_t)lround(u->score * 1e6);
        }
    }
    passerelle__v1__match_update__free_unpacked(u, NULL);
    return rc;
}

/* The visible part of each list (its first K) must be what the replayed
 * feed says: the same members with the same scores. */
static int s_check_list(const char *id, const store_list_t *l, void *arg, char side)
{
    s_replay_t *r = arg;
    char owner[STORE_ID_MAX + 3];
    snprintf(owner, sizeof owner, "%c:%s", side, id);
    for (size_t i = 0; i < l->n && i < r->k; i++) {
        s_entry_t *e = s_find(r, owner, l->e[i].id, 0);
        r->out->entries++;
        if ((!e || !e->live || e->micro != l->e[i].micro) && r->out->replay_mismatches++ < S_SHOW)
            fprintf(stderr, "oracle: %s entry %zu %s %u: replay has %s\n", owner, i, l->e[i].id,
                    l->e[i].micro,
                    !e         ? "nothing"
                    : !e->live ? "it left"
                               : "another score");
    }
    return 0;
}

static int s_check_v(const char *id, const store_list_t *l, void *arg)
{
    return s_check_list(id, l, arg, 'v');
}

static int s_check_g(const char *id, const store_list_t *l, void *arg)
{
    return s_check_list(id, l, arg, 'g');
}

static int s_replay_fn(store_txn_t *txn, void *arg)
{
    s_replay_t *r = arg;
    uint64_t last = store_match_last(txn);
    int rc = store_match_each(txn, 0, s_replay_cb, r);
    if (rc != 0)
        return rc;
    /* numbers given out after the last stored entry (purged or erased
     * newest ones) are holes too */
    if (r->last_seq < last)
        r->out->holes += (size_t)(last - r->last_seq);
    r->out->last_seq = last;
    if ((rc = store_list_each(txn, STORE_ENTITY_VACANCY, s_check_v, r)) != 0)
        return rc;
    return store_list_each(txn, STORE_ENTITY_GRADUATE, s_check_g, r);
}

int oracle_check_replay(store_t *store, unsigned k, oracle_report_t *out)
{
    s_replay_t r = {.k = k, .out = out, .map = strmap_new(), .last_on_topic = strmap_new()};
    out->first_seq = out->last_seq = 0;
    out->updates = out->holes = out->out_of_order = out->undecodable = 0;
    out->prev_checked = out->prev_bad = out->entries = out->replay_mismatches = out->live = 0;
    int rc = r.map && r.last_on_topic ? store_read(store, s_replay_fn, &r) : STORE_ENOMEM;
    for (size_t i = 0; i < r.n; i++) {
        out->live += r.all[i]->live != 0;
        free(r.all[i]);
    }
    free(r.all);
    strmap_destroy(&r.map);
    strmap_destroy(&r.last_on_topic);
    return rc;
}

size_t oracle_problems(const oracle_report_t *r)
{
    /* nothing extra may survive the replay: live entries are exactly the
     * visible ones */
    size_t extra = r->live > r->entries ? r->live - r->entries : r->entries - r->live;
    return r->mismatches + r->stray + r->out_of_order + r->undecodable + r->prev_bad +
           r->replay_mismatches + extra;
}

void oracle_print(const char *title, const oracle_report_t *r)
{
    fprintf(stderr,
            "%s: open %zu graduates x %zu vacancies, %zu lists, %zu eligible pairs, %zu "
            "mismatches, %zu stray; match log %llu..%llu: %zu updates, %zu holes, %zu out of "
            "order, %zu undecodable, %zu/%zu previous_sequence links wrong; replay: %zu "
            "entries checked, %zu mismatches, %zu live\n",
            title, r->graduates_open, r->vacancies_open, r->lists, r->pairs, r->mismatches,
            r->stray, (unsigned long long)r->first_seq, (unsigned long long)r->last_seq, r->updates,
            r->holes, r->out_of_order, r->undecodable, r->prev_bad, r->prev_checked, r->entries,
            r->replay_mismatches, r->live);
}
