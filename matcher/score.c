/* score.c - see score.h. */
#include "score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_EARTH_KM 6371.0088

/* Component values of the certification fit. */
static const double s_fit_value[] = {
    [SCORE_FIT_NONE] = 0.0,
    [SCORE_FIT_EXACT_RNCP] = 1.0,
    [SCORE_FIT_SAME_OCCUPATION] = 0.8,
    [SCORE_FIT_RELATED_OCCUPATION] = 0.5,
    [SCORE_FIT_LEVEL_ONLY] = 0.3,
    [SCORE_FIT_NONE_REQUIRED] = 0.3,
};

void score_weights_default(score_weights_t *w)
{
    w->skills = 0.5;
    w->certification = 0.25;
    w->distance = 0.15;
    w->start = 0.10;
    w->distance_scale_km = 30.0;
    w->start_window_days = 90.0;
}

int score_weights_normalise(score_weights_t *w)
{
    double sum = w->skills + w->certification + w->distance + w->start;
    if (w->skills < 0 || w->certification < 0 || w->distance < 0 || w->start < 0 || sum <= 0)
        return -1;
    w->skills /= sum;
    w->certification /= sum;
    w->distance /= sum;
    w->start /= sum;
    return 0;
}

double score_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = M_PI / 180.0;
    double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * S_EARTH_KM * asin(sqrt(a < 1 ? a : 1));
}

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void score_prepare_graduate(const reference_t *ref, const store_graduate_t *g,
                            score_graduate_t *out)
{
    (void)ref;
    out->g = g;
    int sorted = 1;
    out->n_skills = g->n_skills;
    for (size_t i = 0; i < g->n_skills; i++) {
        out->skills[i] = g->skills[i].code;
        if (i > 0 && strcmp(out->skills[i - 1], out->skills[i]) > 0)
            sorted = 0;
    }
    if (!sorted) /* enrich_event() stores them sorted: this is the rare case */
        qsort(out->skills, out->n_skills, sizeof out->skills[0], s_strcmp_p);
    out->n_romes = g->n_romes;
    for (size_t i = 0; i < g->n_romes; i++)
        out->romes[i] = g->romes[i];
    out->max_level = 0;
    for (size_t i = 0; i < g->n_certs; i++)
        if (g->certs[i].level > out->max_level)
            out->max_level = g->certs[i].level;
}

static void s_add_skill(const reference_t *ref, score_vacancy_t *out, const char *code, float w,
                        int required)
{
    if (out->n_skills >= SCORE_SKILLS_MAX)
        return;
    for (size_t i = 0; i < out->n_skills; i++)
        if (strcmp(out->skills[i].code, code) == 0)
            return; /* listed as required and desirable: the first wins */
    score_skill_t *s = &out->skills[out->n_skills++];
    s->code = code;
    s->weight = w * reference_rarity(ref, code);
    s->required = (uint8_t)required;
    out->total_weight += s->weight;
}

void score_prepare_vacancy(const reference_t *ref, const store_vacancy_t *v, score_vacancy_t *out)
{
    out->v = v;
    out->n_skills = 0;
    out->total_weight = 0;
    for (size_t i = 0; i < v->n_required; i++)
        s_add_skill(ref, out, v->required[i].code, v->required[i].weight, 1);
    for (size_t i = 0; i < v->n_desirable; i++)
        s_add_skill(ref, out, v->desirable[i].code, 0.5f * v->desirable[i].weight, 0);
}

static int s_graduate_has(const score_graduate_t *g, const char *code)
{
    const char *key = code;
    return bsearch(&key, g->skills, g->n_skills, sizeof g->skills[0], s_strcmp_p) != NULL;
}

/* The first certification of the graduate that leads to ROME code rome. */
static void s_cert_for_rome(const reference_t *ref, const store_graduate_t *g, const char *rome,
                            char *rncp)
{
    for (size_t i = 0; i < g->n_certs; i++) {
        const ref_rncp_t *r = reference_rncp(ref, g->certs[i].rncp);
        for (size_t k = 0; r && k < r->n_romes; k++) {
            if (strcmp(r->romes[k], rome) == 0) {
                memcpy(rncp, g->certs[i].rncp, STORE_CODE_MAX + 1);
                return;
            }
        }
    }
}

/* The best way the graduate's certifications meet the vacancy's: one of
 * the required RNCP codes, else an occupation of the vacancy, else an
 * occupation a career move away. */
static uint8_t s_fit(const reference_t *ref, const score_graduate_t *g, const store_vacancy_t *v,
                     char *rncp)
{
    const store_graduate_t *gr = g->g;
    for (size_t i = 0; i < gr->n_certs; i++) {
        for (size_t k = 0; k < v->n_rncps; k++) {
            if (strcmp(gr->certs[i].rncp, v->rncps[k]) == 0) {
                memcpy(rncp, gr->certs[i].rncp, STORE_CODE_MAX + 1);
                return SCORE_FIT_EXACT_RNCP;
            }
        }
    }
    const char *related = NULL;
    for (size_t i = 0; i < g->n_romes; i++) {
        for (size_t j = 0; j < v->n_romes; j++) {
            if (strcmp(g->romes[i], v->romes[j]) == 0) {
                s_cert_for_rome(ref, gr, g->romes[i], rncp);
                return SCORE_FIT_SAME_OCCUPATION;
            }
            if (!related && reference_rome_adjacent(ref, g->romes[i], v->romes[j]))
                related = g->romes[i];
        }
    }
    if (!related)
        return SCORE_FIT_NONE;
    s_cert_for_rome(ref, gr, related, rncp);
    return SCORE_FIT_RELATED_OCCUPATION;
}

/* Hard filters other than distance and certification. */
static int s_terms_ok(const store_graduate_t *g, const store_vacancy_t *v)
{
    if (g->state != STORE_STATE_OPEN || v->state != STORE_STATE_OPEN)
        return 0;
    if (!g->home.has_point || !v->site.has_point)
        return 0;
    if (g->contracts && !(g->contracts & (1u << v->contract)))
        return 0;
    if (v->licence_required && !g->licence)
        return 0;
    return 1;
}

/* The certification requirement. Sets *fit to what the explanation says. */
static int s_cert_ok(const score_graduate_t *g, const store_vacancy_t *v, uint8_t *fit)
{
    if (v->min_level && g->max_level < v->min_level)
        return 0;
    if (*fit != SCORE_FIT_NONE)
        return 1;
    if (v->n_rncps > 0)
        return 0; /* a certification is required and none relates */
    *fit = v->min_level ? SCORE_FIT_LEVEL_ONLY : SCORE_FIT_NONE_REQUIRED;
    return 1;
}

static double s_start_fit(int32_t available_from, int32_t start_date, double window)
{
    if (!available_from || !start_date || available_from <= start_date)
        return 1.0;
    double late = (double)(available_from - start_date);
    return late >= window ? 0.0 : 1.0 - late / window;
}

int score_pair(const reference_t *ref, const score_weights_t *w, const score_graduate_t *g,
               const score_vacancy_t *sv, score_result_t *out, int explain)
{
    const store_graduate_t *gr = g->g;
    const store_vacancy_t *v = sv->v;
    if (!s_terms_ok(gr, v))
        return 0;
    double d = score_distance_km(gr->home.lat, gr->home.lon, v->site.lat, v->site.lon);
    if (d > gr->radius_km || (v->max_distance_km && d > v->max_distance_km))
        return 0;
    out->fit_rncp[0] = '\0';
    out->fit = s_fit(ref, g, v, out->fit_rncp);
    int relevant = out->fit != SCORE_FIT_NONE;
    if (!s_cert_ok(g, v, &out->fit))
        return 0;
    double covered = 0;
    out->n_matched = out->n_missing = 0;
    for (size_t i = 0; i < sv->n_skills; i++) {
        if (s_graduate_has(g, sv->skills[i].code)) {
            covered += sv->skills[i].weight;
            relevant = 1;
            if (explain)
                out->matched[out->n_matched++] = (uint8_t)i;
        } else if (explain && sv->skills[i].required) {
            out->missing[out->n_missing++] = (uint8_t)i;
        }
    }
    if (!relevant)
        return 0;
    double coverage = sv->total_weight > 0 ? covered / sv->total_weight : 0.0;
    out->distance_km = d;
    out->skills_share = w->skills * coverage;
    out->certification_share = w->certification * s_fit_value[out->fit];
    out->distance_share = w->distance * exp(-d / w->distance_scale_km);
    out->start_share =
        w->start * s_start_fit(gr->available_from, v->start_date, w->start_window_days);
    double total =
        out->skills_share + out->certification_share + out->distance_share + out->start_share;
    long micro = lround(total * 1e6);
    out->micro = (uint32_t)(micro < 0 ? 0 : micro > 1000000 ? 1000000 : micro);
    return 1;
}

/* ---- upper bounds ------------------------------------------------------ */

/* Each bound follows score_pair()'s arithmetic, term by term and in the
 * same order, with every unknown replaced by its largest possible value:
 * rounding is monotonic, so the bound is never below the real score. */

static int s_sig_has(const uint64_t *sig, unsigned bit)
{
    return (sig[bit / 64] >> (bit % 64)) & 1;
}

static uint64_t s_code_sig(const char *code)
{
    return 1ull << store_sig_bit(code, 0);
}

/* Signature of the ROME codes a career move away from rome, in either
 * direction; all bits if rome is unknown (its moves cannot be listed). */
static uint64_t s_adjacent_sig(const reference_t *ref, const char *rome)
{
    const ref_rome_t *r = reference_rome(ref, rome);
    uint64_t sig = 0;
    if (r == NULL)
        return ~0ull;
    for (size_t i = 0; i < r->n_moves; i++)
        sig |= s_code_sig(r->moves[i]);
    for (size_t i = 0; i < r->n_moves_in; i++)
        sig |= s_code_sig(r->moves_in[i]);
    return sig;
}

void score_bound_prepare_vacancy(const reference_t *ref, const score_vacancy_t *v,
                                 score_bound_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < v->n_skills; i++)
        out->skill_bits[i] = store_sig_bit(v->skills[i].code, 1);
    for (size_t i = 0; i < v->v->n_rncps; i++)
        out->rncp_sig |= s_code_sig(v->v->rncps[i]);
    for (size_t i = 0; i < v->v->n_romes; i++) {
        out->rome_sig |= s_code_sig(v->v->romes[i]);
        /* a graduate's code is adjacent to ours when ours is among its
         * moves or moves in, that is when it is among ours */
        out->adjacent_sig |= s_adjacent_sig(ref, v->v->romes[i]);
    }
}

void score_bound_prepare_graduate(const reference_t *ref, const score_graduate_t *g,
                                  score_bound_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < g->n_skills; i++) {
        unsigned b = store_sig_bit(g->skills[i], 1);
        out->skill_sig[b / 64] |= 1ull << (b % 64);
    }
    for (size_t i = 0; i < g->g->n_certs; i++)
        out->rncp_sig |= s_code_sig(g->g->certs[i].rncp);
    for (size_t i = 0; i < g->n_romes; i++) {
        const ref_rome_t *r = reference_rome(ref, g->romes[i]);
        out->rome_sig |= s_code_sig(g->romes[i]);
        for (size_t k = 0; r && k < r->n_moves; k++)
            out->adjacent_sig |= s_code_sig(r->moves[k]);
        for (size_t k = 0; r && k < r->n_moves_in; k++)
            out->adjacent_sig |= s_code_sig(r->moves_in[k]);
    }
}

/* The best certification fit the signatures allow; SCORE_FIT_NONE when
 * none relates for sure. */
static uint8_t s_fit_bound(uint64_t rncp_hit, uint64_t rome_hit, uint64_t adjacent_hit)
{
    if (rncp_hit)
        return SCORE_FIT_EXACT_RNCP;
    if (rome_hit)
        return SCORE_FIT_SAME_OCCUPATION;
    if (adjacent_hit)
        return SCORE_FIT_RELATED_OCCUPATION;
    return SCORE_FIT_NONE;
}

/* score_pair()'s total, from bounds of its parts. -1 if not eligible. */
static int64_t s_bound_total(const score_weights_t *w, uint8_t fit, int relevant, int has_rncps,
                             uint8_t min_level, double coverage, double d, int32_t available_from,
                             int32_t start_date)
{
    if (fit == SCORE_FIT_NONE) {
        if (has_rncps)
            return -1;
        fit = min_level ? SCORE_FIT_LEVEL_ONLY : SCORE_FIT_NONE_REQUIRED;
    } else {
        relevant = 1;
    }
    if (!relevant)
        return -1;
    double skills = w->skills * coverage;
    double cert = w->certification * s_fit_value[fit];
    double dist = w->distance * exp(-d / w->distance_scale_km);
    double start = w->start * s_start_fit(available_from, start_date, w->start_window_days);
    long micro = lround((skills + cert + dist + start) * 1e6);
    return micro < 0 ? 0 : micro > 1000000 ? 1000000 : micro;
}

int64_t score_bound_graduate(const score_weights_t *w, const score_vacancy_t *v,
                             const score_bound_t *b, const store_head_t *h, double d)
{
    const store_vacancy_t *vr = v->v;
    if (vr->min_level && h->level < vr->min_level)
        return -1;
    double covered = 0;
    int relevant = 0;
    for (size_t i = 0; i < v->n_skills; i++) {
        if (s_sig_has(h->sig_skills, b->skill_bits[i])) {
            covered += v->skills[i].weight;
            relevant = 1;
        }
    }
    double coverage = v->total_weight > 0 ? covered / v->total_weight : 0.0;
    uint8_t fit = s_fit_bound(b->rncp_sig & h->sig_rncps, b->rome_sig & h->sig_romes,
                              b->adjacent_sig & h->sig_romes);
    return s_bound_total(w, fit, relevant, vr->n_rncps > 0, vr->min_level, coverage, d,
                         h->start_day, vr->start_date);
}

/* A share of a total (0..1) in 255ths, rounded up, at most 255. */
static uint8_t s_255ths(double share)
{
    double q = ceil(255.0 * share);
    return (uint8_t)(q > 0 ? (q < 255 ? q : 255) : 0);
}

void score_vacancy_head(const store_vacancy_t *v, store_head_t *h, void *ref)
{
    enum { NBITS = 64 * STORE_SIG_SKILL_WORDS };
    score_vacancy_t sv;
    double wb[NBITS]; /* weight of the skills of each bit */
    uint8_t seen[NBITS] = {0};
    unsigned bits[SCORE_SKILLS_MAX];
    size_t nb = 0;
    score_prepare_vacancy(ref, v, &sv);
    for (size_t i = 0; i < sv.n_skills; i++) {
        unsigned b = store_sig_bit(sv.skills[i].code, 1);
        if (!seen[b]) {
            seen[b] = 1;
            wb[b] = 0;
            bits[nb++] = b;
        }
        wb[b] += sv.skills[i].weight;
    }
    for (size_t i = 1; i < nb; i++) { /* heaviest first */
        unsigned b = bits[i];
        size_t j = i;
        for (; j > 0 && wb[bits[j - 1]] < wb[b]; j--)
            bits[j] = bits[j - 1];
        bits[j] = b;
    }
    double total = sv.total_weight, rest = 0;
    h->skills_table = 1;
    h->n_table = (uint8_t)(nb < STORE_HEAD_TABLE ? nb : STORE_HEAD_TABLE);
    for (size_t i = 0; i < nb; i++) {
        double share = total > 0 ? wb[bits[i]] / total : 0;
        if (i < STORE_HEAD_TABLE) {
            h->table.bit[i] = (uint8_t)bits[i];
            h->table.share[i] = s_255ths(share);
        } else {
            rest += share;
        }
    }
    if (nb > STORE_HEAD_TABLE) { /* at least 1: skills there may make a pair relevant */
        uint8_t q = s_255ths(rest);
        h->table_rest = q > 0 ? q : 1;
    }
}

int64_t score_bound_vacancy(const score_weights_t *w, const score_graduate_t *g,
                            const score_bound_t *b, const store_head_t *h, double d)
{
    if (h->level && g->max_level < h->level)
        return -1;
    int relevant = 0;
    double coverage;
    if (h->skills_table) {
        /* the vacancy's skills whose bits the graduate's signature has, by
         * weight; those beyond the table count whole */
        unsigned q = h->table_rest;
        relevant = h->table_rest > 0;
        for (size_t i = 0; i < h->n_table; i++) {
            if (s_sig_has(b->skill_sig, h->table.bit[i])) {
                q += h->table.share[i];
                relevant = 1;
            }
        }
        /* one 255th more for the rounding of score_pair's sums */
        coverage = relevant ? (q + 1 < 255 ? (q + 1) / 255.0 : 1.0) : 0.0;
    } else {
        for (size_t i = 0; i < STORE_SIG_SKILL_WORDS; i++)
            relevant |= (b->skill_sig[i] & h->sig_skills[i]) != 0;
        coverage = relevant ? 1.0 : 0.0; /* the vacancy's weights are unknown here */
    }
    uint8_t fit = s_fit_bound(b->rncp_sig & h->sig_rncps, b->rome_sig & h->sig_romes,
                              b->adjacent_sig & h->sig_romes);
    return s_bound_total(w, fit, relevant, h->sig_rncps != 0, h->level, coverage, d,
                         g->g->available_from, h->start_day);
}
