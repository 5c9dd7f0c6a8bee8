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
 * r, sv and the reference data: keep them alive while e is used. */
void explain_fill(const reference_t *ref, const score_result_t *r, const score_vacancy_t *sv,
                  Passerelle__V1__Explanation *e, explain_buf_t *buf);

#endif
