/* enrich.c - see enrich.h. */
#include "enrich.h"

#include <stdlib.h>
#include <string.h>

#include "passerelle/v1/ingest.pb-c.h"
#include "store.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

static int s_place(const reference_t *ref, store_place_t *p, const char *field,
                   matcher_verdict_t *v)
{
    if (p->has_point || !p->commune[0])
        return 0;
    const ref_commune_t *c = reference_commune(ref, p->commune);
    if (!c)
        return validate_refuse(v, E(UNKNOWN_REFERENCE), field,
                               "%s: commune %s is not in the reference data", field, p->commune);
    p->lat = c->lat;
    p->lon = c->lon;
    p->has_point = 1;
    return 0;
}

static int s_has_rome(const store_graduate_t *g, const char *code)
{
    for (size_t i = 0; i < g->n_romes; i++)
        if (strcmp(g->romes[i], code) == 0)
            return 1;
    return 0;
}

static void s_romes(const reference_t *ref, store_graduate_t *g)
{
    g->n_romes = 0;
    for (size_t i = 0; i < g->n_certs; i++) {
        const ref_rncp_t *r = reference_rncp(ref, g->certs[i].rncp);
        for (size_t k = 0; r && k < r->n_romes && g->n_romes < STORE_ROMES_MAX; k++) {
            if (!reference_rome(ref, r->romes[k]) || s_has_rome(g, r->romes[k]) ||
                strlen(r->romes[k]) > STORE_CODE_MAX)
                continue;
            memcpy(g->romes[g->n_romes++], r->romes[k], strlen(r->romes[k]) + 1);
        }
    }
}

static int s_has_skill(const store_skill_t *s, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].code, code) == 0)
            return 1;
    return 0;
}

/* Skills of ROME codes romes into out (up to STORE_SKILLS_MAX): core ones
 * of every code first, then, if all is set, the others. */
static uint16_t s_rome_skills(const reference_t *ref, const char (*romes)[STORE_CODE_MAX + 1],
                              size_t n_romes, int all, store_skill_t *out)
{
    uint16_t n = 0;
    for (int pass = 0; pass < (all ? 2 : 1); pass++) {
        for (size_t i = 0; i < n_romes; i++) {
            const ref_rome_t *r = reference_rome(ref, romes[i]);
            for (size_t k = 0; r && k < r->n_skills && n < STORE_SKILLS_MAX; k++) {
                const char *code = r->skills[k].ogr;
                if ((r->skills[k].core != 0) != (pass == 0) || strlen(code) > STORE_SKILL_MAX ||
                    s_has_skill(out, n, code))
                    continue;
                memcpy(out[n].code, code, strlen(code) + 1);
                out[n].weight = 1.0f;
                n++;
            }
        }
    }
    return n;
}

static int s_skill_cmp(const void *a, const void *b)
{
    return strcmp(((const store_skill_t *)a)->code, ((const store_skill_t *)b)->code);
}

int enrich_event(const reference_t *ref, matcher_event_t *ev, matcher_verdict_t *v)
{
    if (ev->type == STORE_EV_GRADUATE_UPSERT) {
        store_graduate_t *g = &ev->u.grad;
        if (s_place(ref, &g->home, "graduate_upsert.graduate.home.commune_code", v))
            return -1;
        s_romes(ref, g);
        if (g->n_skills == 0 && g->n_romes > 0) {
            g->n_skills = s_rome_skills(ref, g->romes, g->n_romes, 1, g->skills);
            g->skills_inferred = g->n_skills > 0;
        }
        /* stored sorted, so that scoring can search them without sorting */
        if (g->n_skills > 1)
            qsort(g->skills, g->n_skills, sizeof g->skills[0], s_skill_cmp);
    } else if (ev->type == STORE_EV_VACANCY_UPSERT) {
        store_vacancy_t *vac = &ev->u.vac;
        if (s_place(ref, &vac->site, "vacancy_upsert.vacancy.site.commune_code", v))
            return -1;
        if (vac->n_required == 0 && vac->n_desirable == 0)
            vac->n_desirable = s_rome_skills(ref, vac->romes, vac->n_romes, 0, vac->desirable);
    }
    return 0;
}
