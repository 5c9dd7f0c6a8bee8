/* validate.c - see validate.h.
 *
 * A small path stack (s_ctx_t) names the field being checked, so that every
 * refusal says exactly where the problem is. Each s_check_* returns 0 or -1
 * with the verdict filled; callers stop at the first violation.
 */
#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dates.h"
#include "store.h"

typedef Passerelle__V1__ErrorCode err_t;
#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

typedef struct {
    matcher_verdict_t *v;
    char path[160];
    size_t len;
} s_ctx_t;

int validate_refuse(matcher_verdict_t *v, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    v->code = code;
    (void)snprintf(v->field, sizeof v->field, "%s",
                   field); /* paths are short; truncation harmless */
    va_start(ap, fmt);
    (void)vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Push ".name", ".name[index]" (index >= 0) or "[index]" (name NULL) on
 * the path; returns the old length for s_pop. */
static size_t s_push(s_ctx_t *c, const char *name, int index)
{
    size_t old = c->len;
    size_t room = sizeof c->path - c->len;
    int n;
    if (name && index >= 0)
        n = snprintf(c->path + c->len, room, "%s%s[%d]", c->len ? "." : "", name, index);
    else if (name)
        n = snprintf(c->path + c->len, room, "%s%s", c->len ? "." : "", name);
    else
        n = snprintf(c->path + c->len, room, "[%d]", index);
    if (n > 0 && (size_t)n < sizeof c->path - c->len)
        c->len += (size_t)n;
    return old;
}

static void s_pop(s_ctx_t *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

#define S_REFUSE(c, code, ...) validate_refuse((c)->v, E(code), (c)->path, __VA_ARGS__)

int validate_id_syntax(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

/* A string field: present (if required), UTF-8, at most max bytes. */
static int s_check_str(s_ctx_t *c, const char *name, const char *s, size_t max, int required)
{
    size_t old = name ? s_push(c, name, -1) : c->len;
    size_t n = s ? strlen(s) : 0;
    int rc = -1;
    if (n == 0) {
        if (required)
            goto refuse_missing;
        rc = 0;
        goto out;
    }
    if (!utf8_valid(s, n)) {
        S_REFUSE(c, INVALID_UTF8, "%s is not valid UTF-8", c->path);
        goto out;
    }
    if (n > max) {
        S_REFUSE(c, TOO_LONG, "%s is %zu bytes long; the limit is %zu", c->path, n, max);
        goto out;
    }
    rc = 0;
    goto out;
refuse_missing:
    S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
out:
    s_pop(c, old);
    return rc;
}

/* An id: required string of [A-Za-z0-9._:-], 1..64 bytes; copied to dst. */
static int s_check_id(s_ctx_t *c, const char *name, const char *s, char *dst)
{
    if (s_check_str(c, name, s, STORE_ID_MAX, 1))
        return -1;
    if (!validate_id_syntax(s, STORE_ID_MAX)) {
        size_t old = s_push(c, name, -1);
        S_REFUSE(c, BAD_FORMAT, "%s \"%s\" may hold only letters, digits and . _ : -", c->path, s);
        s_pop(c, old);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/* "RNCP" and 1..6 digits. */
static int s_rncp_syntax(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || n > 10 || strncmp(s, "RNCP", 4) != 0)
        return 0;
    for (size_t i = 4; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A letter A..N and 4 digits. */
static int s_rome_syntax(const char *s)
{
    if (strlen(s) != 5 || s[0] < 'A' || s[0] > 'N')
        return 0;
    for (int i = 1; i < 5; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* 5 digits, or 2A/2B and 3 digits (Corsica). */
static int s_commune_syntax(const char *s)
{
    if (strlen(s) != 5)
        return 0;
    int corsica = s[0] == '2' && (s[1] == 'A' || s[1] == 'B');
    for (int i = 0; i < 5; i++) {
        if (corsica && i == 1)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* A coded string (RNCP, ROME) copied into a STORE_CODE_MAX buffer. */
static int s_check_code(s_ctx_t *c, const char *name, int index, const char *s,
                        int (*syntax)(const char *), const char *what, char *dst)
{
    size_t old = s_push(c, name, index);
    int rc = -1;
    if (!s || !*s) {
        S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
    } else if (!utf8_valid(s, strlen(s))) {
        S_REFUSE(c, INVALID_UTF8, "%s is not valid UTF-8", c->path);
    } else if (!syntax(s)) {
        S_REFUSE(c, BAD_FORMAT, "%s \"%.40s\" is not %s", c->path, s, what);
    } else {
        memcpy(dst, s, strlen(s) + 1);
        rc = 0;
    }
    s_pop(c, old);
    return rc;
}

static int s_check_int(s_ctx_t *c, const char *name, long long val, long long lo, long long hi,
                       const char *unit)
{
    if (val >= lo && val <= hi)
        return 0;
    size_t old = s_push(c, name, -1);
    S_REFUSE(c, OUT_OF_RANGE, "%s is %lld; allowed %lld..%lld%s", c->path, val, lo, hi, unit);
    s_pop(c, old);
    return -1;
}

static int s_check_double(s_ctx_t *c, const char *name, double val, double lo, double hi)
{
    size_t old = s_push(c, name, -1);
    int rc = -1;
    if (!isfinite(val))
        S_REFUSE(c, NOT_FINITE, "%s must be a finite number", c->path);
    else if (val < lo || val > hi)
        S_REFUSE(c, OUT_OF_RANGE, "%s is %g; allowed %g..%g", c->path, val, lo, hi);
    else
        rc = 0;
    s_pop(c, old);
    return rc;
}

/* A required-or-optional enum value: known to this version and not 0. */
static int s_check_enum(s_ctx_t *c, const char *name, const ProtobufCEnumDescriptor *d, int val,
                        int required)
{
    size_t old = s_push(c, name, -1);
    int rc = -1;
    if (val == 0 && required)
        S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
    else if (val != 0 && protobuf_c_enum_descriptor_get_value(d, val) == NULL)
        S_REFUSE(c, UNKNOWN_ENUM, "%s: %d is not a known %s value", c->path, val, d->short_name);
    else
        rc = 0;
    s_pop(c, old);
    return rc;
}

/* An optional date; *days = 0 when empty. */
static int s_check_date(s_ctx_t *c, const char *name, const char *s, int32_t *days)
{
    *days = 0;
    if (s_check_str(c, name, s, 10, 0))
        return -1;
    if (!s || !*s)
        return 0;
    if (dates_parse(s, days) == 0)
        return 0;
    size_t old = s_push(c, name, -1);
    S_REFUSE(c, BAD_FORMAT, "%s \"%s\" is not a date YYYY-MM-DD between 1970 and 2199", c->path, s);
    s_pop(c, old);
    return -1;
}

static int s_check_count(s_ctx_t *c, const char *name, size_t n, size_t max)
{
    if (n <= max)
        return 0;
    size_t old = s_push(c, name, -1);
    S_REFUSE(c, TOO_MANY, "%s has %zu entries; the limit is %zu", c->path, n, max);
    s_pop(c, old);
    return -1;
}

static int s_duplicate(s_ctx_t *c, const char *name, int index, const char *value)
{
    size_t old = s_push(c, name, index);
    S_REFUSE(c, DUPLICATE_VALUE, "%s repeats \"%.60s\"", c->path, value);
    s_pop(c, old);
    return -1;
}

static int s_check_location(s_ctx_t *c, const char *name, const Passerelle__V1__Location *loc,
                            store_place_t *out)
{
    size_t old = s_push(c, name, -1);
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!loc || loc->place_case == PASSERELLE__V1__LOCATION__PLACE__NOT_SET) {
        S_REFUSE(c, MISSING_FIELD, "%s is required (point or commune_code)", c->path);
    } else if (loc->place_case == PASSERELLE__V1__LOCATION__PLACE_POINT) {
        size_t o2 = s_push(c, "point", -1);
        if (!loc->point) {
            S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
        } else if (s_check_double(c, "latitude", loc->point->latitude, -90, 90) == 0 &&
                   s_check_double(c, "longitude", loc->point->longitude, -180, 180) == 0) {
            out->lat = loc->point->latitude;
            out->lon = loc->point->longitude;
            out->has_point = 1;
            rc = 0;
        }
        s_pop(c, o2);
    } else {
        rc = s_check_code(c, "commune_code", -1, loc->commune_code, s_commune_syntax,
                          "an INSEE commune code (5 characters)", out->commune);
    }
    s_pop(c, old);
    return rc;
}

/* One skill: 1..128 bytes, UTF-8, no control characters; weight 1. */
static int s_check_skill(s_ctx_t *c, const char *name, const char *s, store_skill_t *dst)
{
    if (s_check_str(c, name, s, STORE_SKILL_MAX, 1))
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            size_t old = name ? s_push(c, name, -1) : c->len;
            S_REFUSE(c, BAD_FORMAT, "%s contains a control character", c->path);
            s_pop(c, old);
            return -1;
        }
    }
    memcpy(dst->code, s, strlen(s) + 1);
    dst->weight = 1.0f;
    return 0;
}

static int s_skills_distinct(s_ctx_t *c, const char *name, const store_skill_t *sk, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(sk[i].code, sk[j].code) == 0)
                return s_duplicate(c, name, (int)i, sk[i].code);
    return 0;
}

static int s_check_graduate_skills(s_ctx_t *c, const Passerelle__V1__Graduate *g,
                                   store_graduate_t *out)
{
    if (s_check_count(c, "skills", g->n_skills, STORE_SKILLS_MAX))
        return -1;
    for (size_t i = 0; i < g->n_skills; i++) {
        char name[48];
        (void)snprintf(name, sizeof name, "skills[%zu]", i);
        if (s_check_skill(c, name, g->skills[i], &out->skills[i]))
            return -1;
    }
    out->n_skills = (uint16_t)g->n_skills;
    return s_skills_distinct(c, "skills", out->skills, out->n_skills);
}

static int s_check_cert(s_ctx_t *c, const Passerelle__V1__Certification *ct, store_cert_t *out)
{
    if (s_check_enum(c, "kind", &passerelle__v1__certification_kind__descriptor, ct->kind, 1))
        return -1;
    if (s_check_code(c, "rncp_code", -1, ct->rncp_code, s_rncp_syntax,
                     "an RNCP code (\"RNCP\" and 1 to 6 digits)", out->rncp))
        return -1;
    int level = ct->level;
    if (level == 0 && ct->kind == PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_CAP)
        level = 3;
    else if (level == 0 &&
             ct->kind == PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO)
        level = 4;
    if (level == 0) {
        size_t old = s_push(c, "level", -1);
        S_REFUSE(c, MISSING_FIELD, "%s is required for this kind of certification", c->path);
        s_pop(c, old);
        return -1;
    }
    if (s_check_int(c, "level", level, 3, 8, " (European levels)"))
        return -1;
    int32_t days;
    if (s_check_date(c, "obtained_on", ct->obtained_on, &days))
        return -1;
    out->kind = (uint8_t)ct->kind;
    out->level = (uint8_t)level;
    out->obtained = days;
    return 0;
}

static int s_check_certs(s_ctx_t *c, const Passerelle__V1__Graduate *g, store_graduate_t *out)
{
    if (s_check_count(c, "certifications", g->n_certifications, STORE_CERTS_MAX))
        return -1;
    for (size_t i = 0; i < g->n_certifications; i++) {
        char name[48];
        (void)snprintf(name, sizeof name, "certifications[%zu]", i);
        size_t old = s_push(c, name, -1);
        int rc = -1;
        if (!g->certifications[i])
            S_REFUSE(c, MISSING_FIELD, "%s is empty", c->path);
        else
            rc = s_check_cert(c, g->certifications[i], &out->certs[i]);
        s_pop(c, old);
        if (rc)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->certs[i].rncp, out->certs[j].rncp) == 0)
                return s_duplicate(c, "certifications", (int)i, out->certs[i].rncp);
    }
    out->n_certs = (uint16_t)g->n_certifications;
    return 0;
}

static int s_check_contracts(s_ctx_t *c, const Passerelle__V1__Graduate *g, store_graduate_t *out)
{
    if (s_check_count(c, "contract_types", g->n_contract_types, 5))
        return -1;
    out->contracts = 0;
    for (size_t i = 0; i < g->n_contract_types; i++) {
        char name[48];
        int val = (int)g->contract_types[i];
        (void)snprintf(name, sizeof name, "contract_types[%zu]", i);
        if (s_check_enum(c, name, &passerelle__v1__contract_type__descriptor, val, 1))
            return -1;
        if (out->contracts & (1u << val))
            return s_duplicate(c, "contract_types", (int)i,
                               protobuf_c_enum_descriptor_get_value(
                                   &passerelle__v1__contract_type__descriptor, val)
                                   ->name);
        out->contracts |= 1u << val;
    }
    return 0;
}

static int s_check_graduate(s_ctx_t *c, const Passerelle__V1__Graduate *g, store_graduate_t *out)
{
    size_t old = s_push(c, "graduate", -1);
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!g) {
        S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
        goto out;
    }
    if (s_check_id(c, "graduate_id", g->graduate_id, out->id) ||
        s_check_id(c, "school_id", g->school_id, out->school) || s_check_certs(c, g, out) ||
        s_check_graduate_skills(c, g, out) || s_check_location(c, "home", g->home, &out->home))
        goto out;
    if (g->mobility_radius_km == 0) {
        size_t o2 = s_push(c, "mobility_radius_km", -1);
        S_REFUSE(c, MISSING_FIELD, "%s is required (1..1000 km)", c->path);
        s_pop(c, o2);
        goto out;
    }
    if (s_check_int(c, "mobility_radius_km", g->mobility_radius_km, 1, 1000, " km") ||
        s_check_contracts(c, g, out) ||
        s_check_date(c, "available_from", g->available_from, &out->available_from))
        goto out;
    out->radius_km = g->mobility_radius_km;
    out->licence = g->driving_licence ? 1 : 0;
    out->state = STORE_STATE_OPEN;
    rc = 0;
out:
    s_pop(c, old);
    return rc;
}

/* "14 digits" (SIRET). The Luhn key is not checked: some valid SIRETs
 * (La Poste's establishments) do not satisfy it. */
static int s_siret_syntax(const char *s)
{
    if (strlen(s) != 14)
        return 0;
    for (int i = 0; i < 14; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int s_check_weighted(s_ctx_t *c, const char *list, Passerelle__V1__WeightedSkill **in,
                            size_t n, store_skill_t *out, uint16_t *n_out)
{
    if (s_check_count(c, list, n, STORE_SKILLS_MAX))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        (void)snprintf(name, sizeof name, "%s[%zu]", list, i);
        size_t old = s_push(c, name, -1);
        int rc = -1;
        if (!in[i])
            S_REFUSE(c, MISSING_FIELD, "%s is empty", c->path);
        else if (s_check_skill(c, "skill", in[i]->skill, &out[i]) == 0) {
            double w = in[i]->weight == 0 ? 1.0 : in[i]->weight;
            if (!isfinite(in[i]->weight) || in[i]->weight < 0 || in[i]->weight > 10)
                rc = s_check_double(c, "weight", isfinite(in[i]->weight) ? in[i]->weight : NAN,
                                    0.001, 10);
            else {
                out[i].weight = (float)w;
                rc = 0;
            }
        }
        s_pop(c, old);
        if (rc)
            return -1;
    }
    *n_out = (uint16_t)n;
    return s_skills_distinct(c, list, out, n);
}

static int s_check_codes(s_ctx_t *c, const char *list, char **in, size_t n, size_t max,
                         int (*syntax)(const char *), const char *what,
                         char (*out)[STORE_CODE_MAX + 1], uint16_t *n_out)
{
    if (s_check_count(c, list, n, max))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s_check_code(c, list, (int)i, in[i], syntax, what, out[i]))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out[i], out[j]) == 0)
                return s_duplicate(c, list, (int)i, out[i]);
    }
    *n_out = (uint16_t)n;
    return 0;
}

static int s_check_vacancy_terms(s_ctx_t *c, const Passerelle__V1__Vacancy *v, store_vacancy_t *out)
{
    if (s_check_int(c, "max_distance_km", v->max_distance_km, 0, 1000, " km") ||
        (v->min_level != 0 &&
         s_check_int(c, "min_level", v->min_level, 3, 8, " (European levels)")) ||
        s_check_enum(c, "contract_type", &passerelle__v1__contract_type__descriptor,
                     v->contract_type, 1) ||
        s_check_int(c, "positions", v->positions, 0, 1000, "") ||
        s_check_date(c, "start_date", v->start_date, &out->start_date) ||
        s_check_date(c, "expires_on", v->expires_on, &out->expires_on))
        return -1;
    if (out->expires_on && out->start_date && out->expires_on < out->start_date) {
        size_t old = s_push(c, "expires_on", -1);
        S_REFUSE(c, INCONSISTENT, "%s (%s) is before start_date (%s)", c->path, v->expires_on,
                 v->start_date);
        s_pop(c, old);
        return -1;
    }
    out->max_distance_km = v->max_distance_km;
    out->min_level = (uint8_t)v->min_level;
    out->contract = (uint8_t)v->contract_type;
    out->positions = v->positions ? v->positions : 1;
    out->licence_required = v->licence_required ? 1 : 0;
    return 0;
}

static int s_check_vacancy(s_ctx_t *c, const Passerelle__V1__Vacancy *v, store_vacancy_t *out)
{
    size_t old = s_push(c, "vacancy", -1);
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!v) {
        S_REFUSE(c, MISSING_FIELD, "%s is required", c->path);
        goto out;
    }
    if (s_check_id(c, "vacancy_id", v->vacancy_id, out->id) ||
        s_check_code(c, "employer_id", -1, v->employer_id, s_siret_syntax, "a SIRET (14 digits)",
                     out->employer))
        goto out;
    if (s_check_enum(c, "sector", &passerelle__v1__sector__descriptor, v->sector, 1))
        goto out;
    if (v->n_rome_codes == 0) {
        size_t o2 = s_push(c, "rome_codes", -1);
        S_REFUSE(c, MISSING_FIELD, "%s needs at least one ROME code", c->path);
        s_pop(c, o2);
        goto out;
    }
    if (s_check_codes(c, "rome_codes", v->rome_codes, v->n_rome_codes, STORE_ROMES_MAX,
                      s_rome_syntax, "a ROME code (a letter A-N and 4 digits)", out->romes,
                      &out->n_romes) ||
        s_check_location(c, "site", v->site, &out->site) ||
        s_check_codes(c, "required_rncp", v->required_rncp, v->n_required_rncp, STORE_RNCPS_MAX,
                      s_rncp_syntax, "an RNCP code", out->rncps, &out->n_rncps) ||
        s_check_weighted(c, "required_skills", v->required_skills, v->n_required_skills,
                         out->required, &out->n_required) ||
        s_check_weighted(c, "desirable_skills", v->desirable_skills, v->n_desirable_skills,
                         out->desirable, &out->n_desirable) ||
        s_check_vacancy_terms(c, v, out))
        goto out;
    out->sector = (uint8_t)v->sector;
    out->state = STORE_STATE_OPEN;
    rc = 0;
out:
    s_pop(c, old);
    return rc;
}

/* Withdrawal, erasure or closure: two ids and, except for erasure, a reason. */
static int s_check_ref(s_ctx_t *c, const char *body, const char *id_name, const char *id,
                       const char *owner_name, const char *owner, const ProtobufCEnumDescriptor *rd,
                       int reason, matcher_ref_t *out)
{
    size_t old = s_push(c, body, -1);
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (s_check_id(c, id_name, id, out->id))
        goto out;
    if (strcmp(owner_name, "employer_id") == 0) {
        if (s_check_code(c, owner_name, -1, owner, s_siret_syntax, "a SIRET (14 digits)",
                         out->owner))
            goto out;
    } else if (s_check_id(c, owner_name, owner, out->owner)) {
        goto out;
    }
    if (rd && s_check_enum(c, "reason", rd, reason, 1))
        goto out;
    rc = 0;
out:
    s_pop(c, old);
    return rc;
}

static int s_check_body(s_ctx_t *c, const Passerelle__V1__Event *m, matcher_event_t *out)
{
    switch (m->body_case) {
    case PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT: {
        out->type = STORE_EV_GRADUATE_UPSERT;
        size_t old = s_push(c, "graduate_upsert", -1);
        int rc = s_check_graduate(c, m->graduate_upsert ? m->graduate_upsert->graduate : NULL,
                                  &out->u.grad);
        s_pop(c, old);
        out->u.grad.version = out->occurred_ms;
        return rc;
    }
    case PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT: {
        out->type = STORE_EV_VACANCY_UPSERT;
        size_t old = s_push(c, "vacancy_upsert", -1);
        int rc =
            s_check_vacancy(c, m->vacancy_upsert ? m->vacancy_upsert->vacancy : NULL, &out->u.vac);
        s_pop(c, old);
        out->u.vac.version = out->occurred_ms;
        return rc;
    }
    case PASSERELLE__V1__EVENT__BODY_GRADUATE_WITHDRAWN: {
        const Passerelle__V1__GraduateWithdrawn *w = m->graduate_withdrawn;
        out->type = STORE_EV_GRADUATE_WITHDRAWN;
        if (s_check_ref(c, "graduate_withdrawn", "graduate_id", w->graduate_id, "school_id",
                        w->school_id, &passerelle__v1__withdrawal_reason__descriptor, w->reason,
                        &out->u.ref))
            return -1;
        out->u.ref.state = w->reason == PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED
                               ? STORE_STATE_HIRED
                               : STORE_STATE_LEFT;
        return 0;
    }
    case PASSERELLE__V1__EVENT__BODY_GRADUATE_ERASED:
        out->type = STORE_EV_GRADUATE_ERASED;
        return s_check_ref(c, "graduate_erased", "graduate_id", m->graduate_erased->graduate_id,
                           "school_id", m->graduate_erased->school_id, NULL, 0, &out->u.ref);
    case PASSERELLE__V1__EVENT__BODY_VACANCY_CLOSED: {
        const Passerelle__V1__VacancyClosed *cl = m->vacancy_closed;
        out->type = STORE_EV_VACANCY_CLOSED;
        if (s_check_ref(c, "vacancy_closed", "vacancy_id", cl->vacancy_id, "employer_id",
                        cl->employer_id, &passerelle__v1__closure_reason__descriptor, cl->reason,
                        &out->u.ref))
            return -1;
        out->u.ref.state = cl->reason == PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_FILLED
                               ? STORE_STATE_FILLED
                           : cl->reason == PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_CANCELLED
                               ? STORE_STATE_CANCELLED
                               : STORE_STATE_EXPIRED;
        return 0;
    }
    default:
        (void)s_push(c, "body", -1);
        return S_REFUSE(c, MISSING_FIELD,
                        "the event has no body: set one of graduate_upsert, graduate_withdrawn, "
                        "graduate_erased, vacancy_upsert, vacancy_closed");
    }
}

/* Printable ASCII, 1..128 bytes. */
static int s_check_event_id(s_ctx_t *c, const char *s, char *dst)
{
    if (s_check_str(c, "event_id", s, MATCHER_EVENT_ID_MAX, 1))
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            size_t old = s_push(c, "event_id", -1);
            S_REFUSE(c, BAD_FORMAT, "%s may hold only printable ASCII characters", c->path);
            s_pop(c, old);
            return -1;
        }
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int validate_event(const Passerelle__V1__Event *m, matcher_event_t *out, matcher_verdict_t *v)
{
    s_ctx_t c = {.v = v, .path = "", .len = 0};
    memset(v, 0, sizeof *v);
    out->event_id[0] = '\0';
    if (s_check_event_id(&c, m->event_id, out->event_id))
        return -1;
    if (s_check_str(&c, "source", m->source, MATCHER_SOURCE_MAX, 1))
        return -1;
    if (!validate_id_syntax(m->source, MATCHER_SOURCE_MAX))
        return validate_refuse(v, E(BAD_FORMAT), "source",
                               "source may hold only letters, digits and . _ : -");
    memcpy(out->source, m->source, strlen(m->source) + 1);
    if (m->occurred_at_ms == 0)
        return validate_refuse(v, E(MISSING_FIELD), "occurred_at_ms",
                               "occurred_at_ms is required (milliseconds since the epoch)");
    if (s_check_int(&c, "occurred_at_ms", m->occurred_at_ms, 1, 4102444800000LL, " ms"))
        return -1;
    out->occurred_ms = m->occurred_at_ms;
    return s_check_body(&c, m, out);
}
