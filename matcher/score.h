/* score.h - hard filters and the score of one (graduate, vacancy) pair.
 *
 * Pure functions of the two records, the reference data and the weights:
 * the same inputs always give the same score, to the micro-unit, which is
 * what lets ranked lists maintained incrementally equal a recomputation
 * from scratch.
 *
 * A pair is eligible when: both are open; the distance is within the
 * graduate's mobility radius and the vacancy's own limit; the vacancy's
 * contract type is one the graduate wants (or they want any); the
 * certification requirement is met (any of the required RNCP codes, or a
 * certification of the same or an adjacent occupation, and the minimum
 * level); the driving licence when required; and the pair is relevant: at
 * least one skill in common or a certification of the vacancy's occupation
 * or a career move away from it.
 *
 * The score, in [0, 1], is a weighted sum of four components: skill
 * coverage weighted by rarity, certification fit, distance decay and
 * start-date fit.
 */
#ifndef MATCHER_SCORE_H
#define MATCHER_SCORE_H

#include <stdint.h>

#include "reference.h"
#include "store.h"
#include "store_model.h"

#define SCORE_SKILLS_MAX (2 * STORE_SKILLS_MAX)

/* passerelle.v1.CertificationFit values */
enum {
    SCORE_FIT_NONE = 0,
    SCORE_FIT_EXACT_RNCP = 1,
    SCORE_FIT_SAME_OCCUPATION = 2,
    SCORE_FIT_RELATED_OCCUPATION = 3,
    SCORE_FIT_LEVEL_ONLY = 4,
    SCORE_FIT_NONE_REQUIRED = 5
};

typedef struct {
    double skills;            /* weight of skill coverage */
    double certification;     /* weight of certification fit */
    double distance;          /* weight of distance decay */
    double start;             /* weight of start-date fit */
    double distance_scale_km; /* distance component = exp(-d / scale) */
    double start_window_days; /* start component falls from 1 to 0 over this delay */
} score_weights_t;

/* Default weights: 0.5 skills, 0.25 certification, 0.15 distance, 0.10
 * start; distance scale 30 km; start window 90 days. */
void score_weights_default(score_weights_t *w);

/* Scale the four weights so that they add up to 1. -1 if they are all 0 or
 * any is negative. */
int score_weights_normalise(score_weights_t *w);

typedef struct {
    const char *code;
    float weight; /* importance x rarity */
    uint8_t required;
} score_skill_t;

/* A graduate, ready to score: skills sorted by code, the ROME codes of its
 * certifications, its best level. Points into the record: keep it alive. */
typedef struct {
    const store_graduate_t *g;
    const char *skills[STORE_SKILLS_MAX]; /* sorted */
    uint16_t n_skills;
    const char *romes[STORE_ROMES_MAX]; /* of its certifications (g->romes) */
    uint16_t n_romes;
    uint8_t max_level;
} score_graduate_t;

/* A vacancy, ready to score: its skills with rarity-adjusted weights
 * (required, then desirable at half weight), and the total weight. A
 * vacancy posted without skills was given the core skills of its ROME codes
 * as desirable ones at ingest (enrich.h). */
typedef struct {
    const store_vacancy_t *v;
    score_skill_t skills[SCORE_SKILLS_MAX];
    uint16_t n_skills;
    double total_weight;
} score_vacancy_t;

void score_prepare_graduate(const reference_t *ref, const store_graduate_t *g,
                            score_graduate_t *out);
void score_prepare_vacancy(const reference_t *ref, const store_vacancy_t *v, score_vacancy_t *out);

typedef struct {
    uint32_t micro; /* score in millionths: the ranking key */
    double distance_km;
    uint8_t fit; /* SCORE_FIT_* */
    char fit_rncp[STORE_CODE_MAX + 1];
    double skills_share, certification_share, distance_share, start_share;
    uint16_t n_matched, n_missing;
    uint8_t matched[SCORE_SKILLS_MAX]; /* indices into score_vacancy_t.skills */
    uint8_t missing[SCORE_SKILLS_MAX]; /* required skills the graduate lacks */
} score_result_t;

/* Score the pair. Returns 1 and fills *out if it is eligible, else 0
 * (*out then unspecified). explain = 0 skips the lists of matched and
 * missing skills. */
int score_pair(const reference_t *ref, const score_weights_t *w, const score_graduate_t *g,
               const score_vacancy_t *v, score_result_t *out, int explain);

/* What bounds the score of a prepared entity with partners known only by
 * their heads (store_head_t): signatures of its own codes, computed once
 * per entity by score_bound_prepare_*. */
typedef struct {
    unsigned skill_bits[SCORE_SKILLS_MAX];     /* vacancy: bit of each prepared skill */
    uint64_t skill_sig[STORE_SIG_SKILL_WORDS]; /* graduate: signature of its skills */
    uint64_t rncp_sig;                         /* its RNCP codes (certifications or required) */
    uint64_t rome_sig;                         /* its ROME codes */
    uint64_t adjacent_sig; /* ROME codes a career move away (all bits when unknown) */
} score_bound_t;

void score_bound_prepare_vacancy(const reference_t *ref, const score_vacancy_t *v,
                                 score_bound_t *out);
void score_bound_prepare_graduate(const reference_t *ref, const score_graduate_t *g,
                                  score_bound_t *out);

/* An upper bound of the micro score score_pair() gives a vacancy v (with
 * b from score_bound_prepare_vacancy) and the graduate whose head is h, d
 * km away (score_distance_km of the graduate's home and the site, in that
 * order): never below the real score. -1 when the pair is certainly not
 * eligible (level, required certification, relevance). Hard filters of
 * the head itself (state, distance, contract, licence) are not checked. */
int64_t score_bound_graduate(const score_weights_t *w, const score_vacancy_t *v,
                             const score_bound_t *b, const store_head_t *h, double d);

/* The same for a graduate g and the vacancy whose head is h. */
int64_t score_bound_vacancy(const score_weights_t *w, const score_graduate_t *g,
                            const score_bound_t *b, const store_head_t *h, double d);

/* The skill table of vacancy v's head (store_head_t.skills_table and the
 * fields it governs) with the weights score_prepare_vacancy gives them
 * (ref: the reference_t): for store_options_t.vacancy_skills, so that
 * score_bound_vacancy bounds the skill coverage by the weights of the
 * vacancy's skills that the graduate may have, instead of taking it as
 * whole. */
void score_vacancy_head(const store_vacancy_t *v, store_head_t *h, void *ref);

/* Great-circle distance in km. */
double score_distance_km(double lat1, double lon1, double lat2, double lon2);

#endif
