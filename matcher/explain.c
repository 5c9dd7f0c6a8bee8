/* explain.c - see explain.h. */
#include "explain.h"

static size_t s_skills(const reference_t *ref, const score_vacancy_t *sv, const uint8_t *idx,
                       size_t n, explain_buf_t *buf, size_t k)
{
    for (size_t i = 0; i < n; i++, k++) {
        const score_skill_t *s = &sv->skills[idx[i]];
        const ref_skill_t *rs = reference_skill(ref, s->code);
        passerelle__v1__skill_ref__init(&buf->refs[k]);
        buf->refs[k].code = (char *)s->code;
        buf->refs[k].label = rs ? (char *)rs->label : "";
        buf->refs[k].weight = s->weight;
        buf->ptrs[k] = &buf->refs[k];
    }
    return k;
}

void explain_fill(const reference_t *ref, const score_result_t *r, const score_vacancy_t *sv,
                  Passerelle__V1__Explanation *e, explain_buf_t *buf)
{
    passerelle__v1__explanation__init(e);
    size_t k = s_skills(ref, sv, r->matched, r->n_matched, buf, 0);
    e->matched_skills = buf->ptrs;
    e->n_matched_skills = r->n_matched;
    s_skills(ref, sv, r->missing, r->n_missing, buf, k);
    e->missing_required_skills = buf->ptrs + k;
    e->n_missing_required_skills = r->n_missing;
    e->distance_km = r->distance_km;
    e->certification_fit = (Passerelle__V1__CertificationFit)r->fit;
    e->certification_rncp = (char *)r->fit_rncp;
    const ref_rncp_t *rn = r->fit_rncp[0] ? reference_rncp(ref, r->fit_rncp) : NULL;
    e->certification_label = rn ? (char *)rn->title : "";
    e->skills_share = r->skills_share;
    e->certification_share = r->certification_share;
    e->distance_share = r->distance_share;
    e->start_date_share = r->start_share;
}
