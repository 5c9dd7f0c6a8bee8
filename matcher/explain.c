/* explain.c - see explain.h. */
#include "explain.h"

#include <stdlib.h>
#include <string.h>

/* The label of skill code, or "" (unknown code). */
static const char *s_skill_label(const reference_t *ref, const char *code)
{
    const ref_skill_t *rs = reference_skill(ref, code);
    return rs ? rs->label : "";
}

/* The title of certification rncp, or "" (none, or an unknown code). */
static const char *s_rncp_title(const reference_t *ref, const char *rncp)
{
    const ref_rncp_t *rn = rncp[0] ? reference_rncp(ref, rncp) : NULL;
    return rn ? rn->title : "";
}

static size_t s_skills(const reference_t *ref, const score_vacancy_t *sv, const uint8_t *idx,
                       size_t n, explain_buf_t *buf, size_t k, int labels)
{
    for (size_t i = 0; i < n; i++, k++) {
        const score_skill_t *s = &sv->skills[idx[i]];
        passerelle__v1__skill_ref__init(&buf->refs[k]);
        buf->refs[k].code = (char *)s->code;
        buf->refs[k].label = labels ? (char *)s_skill_label(ref, s->code) : "";
        buf->refs[k].weight = s->weight;
        buf->ptrs[k] = &buf->refs[k];
    }
    return k;
}

void explain_fill(const reference_t *ref, const score_result_t *r, const score_vacancy_t *sv,
                  Passerelle__V1__Explanation *e, explain_buf_t *buf, int labels)
{
    passerelle__v1__explanation__init(e);
    size_t k = s_skills(ref, sv, r->matched, r->n_matched, buf, 0, labels);
    e->matched_skills = buf->ptrs;
    e->n_matched_skills = r->n_matched;
    s_skills(ref, sv, r->missing, r->n_missing, buf, k, labels);
    e->missing_required_skills = buf->ptrs + k;
    e->n_missing_required_skills = r->n_missing;
    e->distance_km = r->distance_km;
    e->certification_fit = (Passerelle__V1__CertificationFit)r->fit;
    e->certification_rncp = (char *)r->fit_rncp;
    e->certification_label = labels ? (char *)s_rncp_title(ref, r->fit_rncp) : "";
    e->skills_share = r->skills_share;
    e->certification_share = r->certification_share;
    e->distance_share = r->distance_share;
    e->start_date_share = r->start_share;
}

/* Set *field, an empty string of an unpacked message, to a copy of label
 * when that is not empty. */
static int s_set(char **field, const char *label)
{
    if (label[0] == '\0' || (*field != NULL && (*field)[0] != '\0'))
        return 0;
    char *copy = strdup(label);
    if (copy == NULL)
        return -1;
    if (*field != NULL && *field != protobuf_c_empty_string)
        free(*field); /* an empty string sent as such: the allocator's */
    *field = copy;    /* freed with the message, unlike the shared default */
    return 0;
}

static int s_label_skills(const reference_t *ref, Passerelle__V1__SkillRef **refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i] != NULL && refs[i]->code != NULL &&
            s_set(&refs[i]->label, s_skill_label(ref, refs[i]->code)) != 0)
            return -1;
    return 0;
}

int explain_label(const reference_t *ref, Passerelle__V1__Explanation *e)
{
    if (s_label_skills(ref, e->matched_skills, e->n_matched_skills) != 0 ||
        s_label_skills(ref, e->missing_required_skills, e->n_missing_required_skills) != 0)
        return -1;
    return e->certification_rncp != NULL
               ? s_set(&e->certification_label, s_rncp_title(ref, e->certification_rncp))
               : 0;
}
