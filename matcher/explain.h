/* explain.h - a score result as a passerelle.v1.Explanation, for the feed
 * and the query socket alike. */
#ifndef MATCHER_EXPLAIN_H
#define MATCHER_EXPLAIN_H

#include "passerelle/v1/feed.pb-c.h"
#include "reference.h"
#include "score.h"

/* Room for the skill references of one explanation. */
typedef struct {
    Passerelle__V1__SkillRef refs[2 * SCORE_SKILLS_MAX];
    Passerelle__V1__SkillRef *ptrs[2 * SCORE_SKILLS_MAX];
} explain_buf_t;

/* Fill e from r (the vacancy's prepared skills in sv). e points into buf,
 * r, sv and the reference data: keep them alive while e is used. labels
 * = 0 leaves the labels of skills and certification empty: the match log
 * stores an explanation so, and explain_label restores them from the
 * codes when it is read back (two-fifths of a stored MatchUpdate were
 * labels). */
void explain_fill(const reference_t *ref, const score_result_t *r, const score_vacancy_t *sv,
                  Passerelle__V1__Explanation *e, explain_buf_t *buf, int labels);

/* Give the empty labels of e, an explanation unpacked by protobuf-c
 * with its default allocator, the labels of their codes in the reference
 * data, as explain_fill would (copies, freed with the message). A label
 * present stays as it is. 0, or -1 out of memory (e then still frees
 * whole). */
int explain_label(const reference_t *ref, Passerelle__V1__Explanation *e);

#endif
