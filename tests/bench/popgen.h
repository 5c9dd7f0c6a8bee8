/* popgen.h - a deterministic population of graduates and vacancies for
 * benchmarks, built on the reference data that ships with Passerelle
 * (the TSV files of deploy/reference/, read directly: this is test code, not the daemon).
 *
 * Graduates hold real CAP, Bac Pro and titre professionnel certifications of
 * levels 3-4 from rncp.tsv whose ROME codes are in the industry scope (H*,
 * I13*, I16*, B1201); most of them lead to the occupations vacancies ask
 * for. They live in real communes drawn by population (communes.tsv `pop`),
 * half given as an INSEE code the daemon resolves and half as a point near
 * the commune's centre, with a mobility radius of 10-80 km. About half send
 * explicit skills from rome_skills.tsv (core skills first), the others none
 * (the daemon infers them from the certifications).
 *
 * Vacancies have real ROME codes, skewed towards welding (H2913),
 * boilermaking (H2902, H2914), machining (H2903, H2912), aircraft assembly
 * and mechanics (H2909, H2901, I1602), car mechanics (I1604) and ceramics
 * (H2803, B1201), with a tail over the other in-scope occupations. Each
 * belongs to an employer (a SIRET) whose site is a real commune drawn by
 * population; max_distance 20-100 km; some require any of 1-3 RNCP codes of
 * their occupation, some a minimum level; contract types, positions, start
 * and expiry dates, licence; required and desirable skills of the ROME code,
 * or none (the daemon then uses the occupation's core skills).
 *
 * Determinism: every entity is a pure function of (seed, kind, index) for
 * its identity (owner, certifications, home or site, occupation) and of
 * (seed, kind, index, version) for what an update may change. The same seed
 * gives byte-identical events in any order of generation; no global state.
 *
 * Events: version 0 is the first upsert; an update, withdrawal or closure
 * of entity i carries a version v > 0 chosen by the caller, which must
 * increase for each new event on that entity (it orders occurred_at_ms and
 * makes the event id unique: "g<i>.u<v>", "g<i>.w<v>", "v<i>.u<v>",
 * "v<i>.c<v>"). The source is the school's system ("sis-<UAI>") for
 * graduates and the regional federation ("uimm-r<region>") for vacancies.
 *
 * Buffers: *buf points to storage owned by the generator, valid until the
 * next popgen_* call on it. A generator is used by one thread at a time.
 */
#ifndef PASSERELLE_TESTS_BENCH_POPGEN_H
#define PASSERELLE_TESTS_BENCH_POPGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct popgen popgen_t;

/* Sizes of the pools of owners, derived from the expected population. */
typedef struct popgen_opts {
    const char *reference_dir; /* directory of the .tsv files (required) */
    uint64_t seed;             /* any value; 0 is fine */
    size_t n_schools;          /* 0: 800 */
    size_t n_employers;        /* 0: 5000 */
} popgen_opts_t;

/* Load the reference data and prepare the pools. Returns NULL with the
 * reason in err (errlen bytes) on failure. */
popgen_t *popgen_new(const popgen_opts_t *opts, char *err, size_t errlen);

/* Free. NULL or *self_p == NULL is a no-op. */
void popgen_destroy(popgen_t **self_p);

/* Graduate i's first upsert (version 0) / vacancy i's first upsert: packed
 * passerelle.v1.Event bytes in *buf, *len. Returns 0, or -1 (out of memory
 * or a bug: reason from popgen_error). */
int popgen_next_graduate(popgen_t *self, int i, uint8_t **buf, size_t *len);
int popgen_next_vacancy(popgen_t *self, int i, uint8_t **buf, size_t *len);

/* Upsert of version `version` (0 = the first one): same owner,
 * certifications, home (except that about one update in ten moves it to
 * another commune) and occupations; radius, skills, contract types, dates,
 * requirements and so on drawn anew. */
int popgen_graduate_upsert(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len);
int popgen_vacancy_upsert(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len);

/* Graduate i withdrawn (hired, or left), vacancy i closed (filled,
 * cancelled or expired), as the event of version `version` (> 0). */
int popgen_graduate_withdrawn(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len);
int popgen_vacancy_closed(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len);

/* The event id and source of the last event generated ("" before any). */
const char *popgen_event_id(const popgen_t *self);
const char *popgen_source(const popgen_t *self);

/* Ids and owners of entity i (stable across versions), into buf (>= 65
 * bytes each). */
void popgen_graduate_id(const popgen_t *self, int i, char *id, char *school);
void popgen_vacancy_id(const popgen_t *self, int i, char *id, char *employer);

/* What was loaded, for the benchmark's report. */
typedef struct popgen_info {
    size_t communes;         /* distinct INSEE codes with a population */
    uint64_t population;     /* their total population */
    size_t certifications;   /* CAP / BAC PRO / TP, level 3-4, in scope */
    size_t rome_codes;       /* in-scope ROME codes with skills */
    size_t rome_skill_links; /* rows of rome_skills.tsv */
} popgen_info_t;
void popgen_get_info(const popgen_t *self, popgen_info_t *out);

/* Reason of the last failure. */
const char *popgen_error(const popgen_t *self);

/* A small deterministic generator the caller may use for its own choices
 * (xorshift64*, seeded through splitmix64). */
typedef struct popgen_rng {
    uint64_t s;
} popgen_rng_t;
void popgen_rng_seed(popgen_rng_t *r, uint64_t seed);
uint64_t popgen_rng_next(popgen_rng_t *r);
/* Uniform in [0, n), n > 0. */
uint32_t popgen_rng_below(popgen_rng_t *r, uint32_t n);
/* Uniform in [0, 1). */
double popgen_rng_unit(popgen_rng_t *r);

#endif
