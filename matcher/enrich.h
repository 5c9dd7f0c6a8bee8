/* enrich.h - completing a validated event from the reference data, before
 * it is applied: commune codes become coordinates, a graduate's
 * certifications give the ROME codes they lead to and, when the school sent
 * no skills, the skills of those occupations (core skills first); a vacancy
 * posted without skills gets the core skills of its ROME codes.
 *
 * Deterministic for a given reference version, so that the stored record
 * (and every score computed from it) does not depend on when it was
 * enriched.
 */
#ifndef MATCHER_ENRICH_H
#define MATCHER_ENRICH_H

#include "reference.h"
#include "validate.h"

/* Enrich ev in place. Returns 0, or -1 with *v set (UNKNOWN_REFERENCE for a
 * commune code the reference does not know). */
int enrich_event(const reference_t *ref, matcher_event_t *ev, matcher_verdict_t *v);

#endif
