/* reference.h - the reference data matcherd ships with (deploy/reference/):
 * ROME occupations with their skills and career moves, RNCP certifications
 * with their level and ROME codes, skills with their rarity, and French
 * communes with coordinates.
 *
 * Loaded once at start-up into memory (read-only afterwards). Its version
 * string (the VERSION file) is recorded in the store: skill rarity, hence
 * every score, is fixed for a given reference version.
 */
#ifndef MATCHER_REFERENCE_H
#define MATCHER_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *code; /* ROME OGR code, e.g. "486590" */
    const char *label;
    uint32_t occupations; /* in how many ROME occupations it appears */
    float rarity;         /* weight in skill coverage: ln(1 + N / occupations) */
} ref_skill_t;

typedef struct {
    const char *ogr;
    uint8_t core; /* a core skill ("Principale") of the occupation */
} ref_rome_skill_t;

typedef struct {
    const char *code; /* "H2913" */
    const char *label;
    const char *parent;       /* ROME 4.0 parent code, or the code itself */
    ref_rome_skill_t *skills; /* core skills first */
    size_t n_skills;
    const char **moves; /* career moves: target ROME codes */
    size_t n_moves;
    const char **moves_in; /* codes that list this one as a career move */
    size_t n_moves_in;
} ref_rome_t;

typedef struct {
    const char *code;   /* "RNCP27470" */
    const char *title;  /* may be "" */
    const char *abbrev; /* "CAP", "BAC PRO", "TP"... may be "" */
    uint8_t level;      /* European level, 0 if unknown */
    const char **romes;
    size_t n_romes;
} ref_rncp_t;

typedef struct {
    const char *insee;
    const char *postal;
    const char *name;
    double lat, lon;
    const char *dept;
    const char *region; /* INSEE region code, e.g. "76" */
    uint32_t population;
} ref_commune_t;

typedef struct reference reference_t;

/* Load the reference files of directory dir. Returns NULL with a reason in
 * err (errlen bytes) if a file is missing or malformed. */
reference_t *reference_load(const char *dir, char *err, size_t errlen);

void reference_destroy(reference_t **self_p);

/* The version string, e.g. "rome-v460+rncp-2026-02-01+geo-2024-08-19+1". */
const char *reference_version(const reference_t *self);

/* Lookups; NULL when unknown. */
const ref_skill_t *reference_skill(const reference_t *self, const char *code);
const ref_rome_t *reference_rome(const reference_t *self, const char *code);
const ref_rncp_t *reference_rncp(const reference_t *self, const char *code);
const ref_commune_t *reference_commune(const reference_t *self, const char *insee);

/* The commune nearest to a point (within about 30 km), or NULL. */
const ref_commune_t *reference_commune_near(const reference_t *self, double lat, double lon);

/* Rarity weight of a skill code; a code the reference does not know (a free
 * label) counts as appearing in one occupation. */
float reference_rarity(const reference_t *self, const char *code);

/* 1 if ROME code a lists b among its career moves, or b lists a. */
int reference_rome_adjacent(const reference_t *self, const char *a, const char *b);

/* Counts, for the start-up log. */
void reference_counts(const reference_t *self, size_t *communes, size_t *romes, size_t *rncps,
                      size_t *skills);

#endif
