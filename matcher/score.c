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

static double s_start_fit(const store_graduate_t *g, const store_vacancy_t *v, double window)
{
    if (!g->available_from || !v->start_date || g->available_from <= v->start_date)
        return 1.0;
    double late = (double)(g->available_from - v->start_date);
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
    out->start_share = w->start * s_start_fit(gr, v, w->start_window_days);
    double total =
        out->skills_share + out->certification_share + out->distance_share + out->start_share;
    long micro = lround(total * 1e6);
    out->micro = (uint32_t)(micro < 0 ? 0 : micro > 1000000 ? 1000000 : micro);
    return 1;
}
