/* test_validate.c - unit tests of matcher/validate.c: one case per rule of
 * the contract, each checking the error code and the field path. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dates.h"
#include "store.h"
#include "validate.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

/* A valid graduate event, rebuilt for every test; tests break one field. */
typedef struct {
    Passerelle__V1__Event ev;
    Passerelle__V1__GraduateUpsert up;
    Passerelle__V1__Graduate g;
    Passerelle__V1__Certification cert;
    Passerelle__V1__Certification *certs[20];
    Passerelle__V1__Location home;
    Passerelle__V1__GeoPoint point;
    char *skills[70];
    Passerelle__V1__ContractType contracts[8];
} s_grad_t;

typedef struct {
    Passerelle__V1__Event ev;
    Passerelle__V1__VacancyUpsert up;
    Passerelle__V1__Vacancy v;
    Passerelle__V1__Location site;
    Passerelle__V1__GeoPoint point;
    char *romes[20];
    char *rncps[40];
    Passerelle__V1__WeightedSkill ws[70];
    Passerelle__V1__WeightedSkill *req[70];
} s_vac_t;

static matcher_event_t s_out;
static matcher_verdict_t s_verdict;

static void s_grad_init(s_grad_t *t)
{
    passerelle__v1__event__init(&t->ev);
    passerelle__v1__graduate_upsert__init(&t->up);
    passerelle__v1__graduate__init(&t->g);
    passerelle__v1__certification__init(&t->cert);
    passerelle__v1__location__init(&t->home);
    passerelle__v1__geo_point__init(&t->point);
    t->ev.event_id = "ev-1";
    t->ev.source = "ep-tarbes";
    t->ev.occurred_at_ms = 1764000000000LL;
    t->ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT;
    t->ev.graduate_upsert = &t->up;
    t->up.graduate = &t->g;
    t->g.graduate_id = "ept-2026-001";
    t->g.school_id = "0650043X";
    t->cert.kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_CAP;
    t->cert.rncp_code = "RNCP27470";
    t->cert.level = 3;
    t->cert.obtained_on = "2026-06-30";
    t->certs[0] = &t->cert;
    t->g.n_certifications = 1;
    t->g.certifications = t->certs;
    t->skills[0] = "486590";
    t->skills[1] = "soudage TIG";
    t->g.n_skills = 2;
    t->g.skills = t->skills;
    t->point.latitude = 43.2328;
    t->point.longitude = 0.0781;
    t->home.place_case = PASSERELLE__V1__LOCATION__PLACE_POINT;
    t->home.point = &t->point;
    t->g.home = &t->home;
    t->g.mobility_radius_km = 50;
    t->contracts[0] = PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI;
    t->g.n_contract_types = 1;
    t->g.contract_types = t->contracts;
    t->g.available_from = "2026-09-01";
    t->g.driving_licence = 1;
}

static void s_vac_init(s_vac_t *t)
{
    passerelle__v1__event__init(&t->ev);
    passerelle__v1__vacancy_upsert__init(&t->up);
    passerelle__v1__vacancy__init(&t->v);
    passerelle__v1__location__init(&t->site);
    passerelle__v1__geo_point__init(&t->point);
    t->ev.event_id = "ev-v1";
    t->ev.source = "uimm-occitanie";
    t->ev.occurred_at_ms = 1764000000000LL;
    t->ev.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT;
    t->ev.vacancy_upsert = &t->up;
    t->up.vacancy = &t->v;
    t->v.vacancy_id = "v-tarbes-1";
    t->v.employer_id = "12345678900012";
    t->v.sector = PASSERELLE__V1__SECTOR__SECTOR_METALWORKING;
    t->romes[0] = "H2913";
    t->v.n_rome_codes = 1;
    t->v.rome_codes = t->romes;
    t->point.latitude = 43.2328;
    t->point.longitude = 0.0781;
    t->site.place_case = PASSERELLE__V1__LOCATION__PLACE_POINT;
    t->site.point = &t->point;
    t->v.site = &t->site;
    t->rncps[0] = "RNCP27470";
    t->v.n_required_rncp = 1;
    t->v.required_rncp = t->rncps;
    for (int i = 0; i < 70; i++) {
        passerelle__v1__weighted_skill__init(&t->ws[i]);
        t->req[i] = &t->ws[i];
    }
    t->ws[0].skill = "486590";
    t->ws[0].weight = 2;
    t->v.n_required_skills = 1;
    t->v.required_skills = t->req;
    t->v.contract_type = PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI;
    t->v.positions = 2;
    t->v.start_date = "2026-09-01";
    t->v.expires_on = "2026-12-31";
}

static void s_expect(const Passerelle__V1__Event *ev, int code, const char *field)
{
    int rc = validate_event(ev, &s_out, &s_verdict);
    if (code == 0) {
        if (rc != 0)
            fail_msg("unexpected refusal: %d %s: %s", s_verdict.code, s_verdict.field,
                     s_verdict.message);
        return;
    }
    assert_int_equal(rc, -1);
    if (s_verdict.code != code)
        fail_msg("expected code %d, got %d (%s: %s)", code, s_verdict.code, s_verdict.field,
                 s_verdict.message);
    assert_string_equal(s_verdict.field, field);
    assert_true(strlen(s_verdict.message) > 0);
}

static void test_valid_graduate_is_converted(void **state)
{
    (void)state;
    s_grad_t t;
    s_grad_init(&t);
    s_expect(&t.ev, 0, NULL);
    const store_graduate_t *g = &s_out.u.grad;
    assert_int_equal(s_out.type, STORE_EV_GRADUATE_UPSERT);
    assert_string_equal(s_out.event_id, "ev-1");
    assert_string_equal(s_out.source, "ep-tarbes");
    assert_string_equal(g->id, "ept-2026-001");
    assert_string_equal(g->school, "0650043X");
    assert_int_equal(g->version, 1764000000000LL);
    assert_int_equal(g->n_certs, 1);
    assert_string_equal(g->certs[0].rncp, "RNCP27470");
    assert_int_equal(g->certs[0].level, 3);
    int32_t d;
    assert_int_equal(dates_parse("2026-06-30", &d), 0);
    assert_int_equal(g->certs[0].obtained, d);
    assert_int_equal(g->n_skills, 2);
    assert_string_equal(g->skills[1].code, "soudage TIG");
    assert_true(g->home.has_point);
    assert_true(fabs(g->home.lat - 43.2328) < 1e-9);
    assert_int_equal(g->radius_km, 50);
    assert_int_equal(g->contracts, 1u << STORE_CONTRACT_CDI);
    assert_int_equal(g->licence, 1);
    assert_int_equal(g->state, STORE_STATE_OPEN);
}

static void test_valid_vacancy_is_converted(void **state)
{
    (void)state;
    s_vac_t t;
    s_vac_init(&t);
    s_expect(&t.ev, 0, NULL);
    const store_vacancy_t *v = &s_out.u.vac;
    assert_int_equal(s_out.type, STORE_EV_VACANCY_UPSERT);
    assert_string_equal(v->id, "v-tarbes-1");
    assert_string_equal(v->employer, "12345678900012");
    assert_int_equal(v->n_romes, 1);
    assert_string_equal(v->romes[0], "H2913");
    assert_int_equal(v->n_rncps, 1);
    assert_int_equal(v->n_required, 1);
    assert_true(fabs(v->required[0].weight - 2.0) < 1e-6);
    assert_int_equal(v->positions, 2);
    assert_int_equal(v->contract, STORE_CONTRACT_CDI);
}

static void test_envelope_rules(void **state)
{
    (void)state;
    s_grad_t t;
    s_grad_init(&t);
    t.ev.event_id = "";
    s_expect(&t.ev, E(MISSING_FIELD), "event_id");
    s_grad_init(&t);
    t.ev.event_id = "bad\tid";
    s_expect(&t.ev, E(BAD_FORMAT), "event_id");
    s_grad_init(&t);
    t.ev.source = "";
    s_expect(&t.ev, E(MISSING_FIELD), "source");
    s_grad_init(&t);
    t.ev.source = "has space";
    s_expect(&t.ev, E(BAD_FORMAT), "source");
    s_grad_init(&t);
    t.ev.occurred_at_ms = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "occurred_at_ms");
    s_grad_init(&t);
    t.ev.occurred_at_ms = -5;
    s_expect(&t.ev, E(OUT_OF_RANGE), "occurred_at_ms");
    s_grad_init(&t);
    t.ev.body_case = PASSERELLE__V1__EVENT__BODY__NOT_SET;
    s_expect(&t.ev, E(MISSING_FIELD), "body");
}

static void test_utf8_and_lengths(void **state)
{
    (void)state;
    s_grad_t t;
    char long_id[80];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    s_grad_init(&t);
    t.g.graduate_id = "\xc3\x28";
    s_expect(&t.ev, E(INVALID_UTF8), "graduate_upsert.graduate.graduate_id");
    s_grad_init(&t);
    t.g.graduate_id = long_id;
    s_expect(&t.ev, E(TOO_LONG), "graduate_upsert.graduate.graduate_id");
    s_grad_init(&t);
    t.g.graduate_id = "jean.dupont@mail.fr";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.graduate_id");
    s_grad_init(&t);
    t.skills[1] = "\xed\xa0\x80"; /* a UTF-16 surrogate encoded in UTF-8 */
    s_expect(&t.ev, E(INVALID_UTF8), "graduate_upsert.graduate.skills[1]");
    s_grad_init(&t);
    t.skills[1] = "\xe2\x82"; /* truncated sequence */
    s_expect(&t.ev, E(INVALID_UTF8), "graduate_upsert.graduate.skills[1]");
    s_grad_init(&t);
    t.skills[1] = "soud\x01age";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.skills[1]");
    s_grad_init(&t);
    t.skills[1] = "soudage \xc3\xa0 l'arc"; /* valid UTF-8 accents are fine */
    s_expect(&t.ev, 0, NULL);
}

static void test_numbers(void **state)
{
    (void)state;
    s_grad_t t;
    s_grad_init(&t);
    t.point.latitude = 200;
    s_expect(&t.ev, E(OUT_OF_RANGE), "graduate_upsert.graduate.home.point.latitude");
    s_grad_init(&t);
    t.point.longitude = NAN;
    s_expect(&t.ev, E(NOT_FINITE), "graduate_upsert.graduate.home.point.longitude");
    s_grad_init(&t);
    t.point.latitude = INFINITY;
    s_expect(&t.ev, E(NOT_FINITE), "graduate_upsert.graduate.home.point.latitude");
    s_grad_init(&t);
    t.g.mobility_radius_km = -5;
    s_expect(&t.ev, E(OUT_OF_RANGE), "graduate_upsert.graduate.mobility_radius_km");
    s_grad_init(&t);
    t.g.mobility_radius_km = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.mobility_radius_km");
    s_grad_init(&t);
    t.cert.level = 12;
    s_expect(&t.ev, E(OUT_OF_RANGE), "graduate_upsert.graduate.certifications[0].level");
    s_grad_init(&t);
    t.cert.level = 0; /* CAP: level 3 implied */
    s_expect(&t.ev, 0, NULL);
    assert_int_equal(s_out.u.grad.certs[0].level, 3);
    s_grad_init(&t);
    t.cert.level = 0;
    t.cert.kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_TITRE_PROFESSIONNEL;
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.certifications[0].level");
}

static void test_enums(void **state)
{
    (void)state;
    s_grad_t t;
    s_grad_init(&t);
    t.contracts[0] = (Passerelle__V1__ContractType)99;
    s_expect(&t.ev, E(UNKNOWN_ENUM), "graduate_upsert.graduate.contract_types[0]");
    s_grad_init(&t);
    t.cert.kind = (Passerelle__V1__CertificationKind)7;
    s_expect(&t.ev, E(UNKNOWN_ENUM), "graduate_upsert.graduate.certifications[0].kind");
    s_grad_init(&t);
    t.cert.kind = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.certifications[0].kind");
    s_grad_init(&t);
    t.contracts[1] = PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI;
    t.g.n_contract_types = 2;
    s_expect(&t.ev, E(DUPLICATE_VALUE), "graduate_upsert.graduate.contract_types[1]");
}

static void test_list_sizes(void **state)
{
    (void)state;
    s_grad_t t;
    static char names[70][8];
    s_grad_init(&t);
    for (int i = 0; i < 17; i++)
        t.certs[i] = &t.cert;
    t.g.n_certifications = 17;
    s_expect(&t.ev, E(TOO_MANY), "graduate_upsert.graduate.certifications");
    s_grad_init(&t);
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        t.skills[i] = names[i];
    }
    t.g.n_skills = 65;
    s_expect(&t.ev, E(TOO_MANY), "graduate_upsert.graduate.skills");
    t.g.n_skills = 64;
    s_expect(&t.ev, 0, NULL);
    s_grad_init(&t);
    t.skills[1] = "486590";
    s_expect(&t.ev, E(DUPLICATE_VALUE), "graduate_upsert.graduate.skills[1]");
    s_grad_init(&t);
    t.certs[1] = &t.cert;
    t.g.n_certifications = 2;
    s_expect(&t.ev, E(DUPLICATE_VALUE), "graduate_upsert.graduate.certifications[1]");
}

static void test_formats(void **state)
{
    (void)state;
    s_grad_t t;
    s_grad_init(&t);
    t.cert.rncp_code = "RNC27470";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.certifications[0].rncp_code");
    s_grad_init(&t);
    t.cert.rncp_code = "";
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.certifications[0].rncp_code");
    s_grad_init(&t);
    t.cert.obtained_on = "2026-02-30";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.certifications[0].obtained_on");
    s_grad_init(&t);
    t.g.available_from = "2026-13-45";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.available_from");
    s_grad_init(&t);
    t.g.available_from = "2024-02-29"; /* leap day */
    s_expect(&t.ev, 0, NULL);
    s_grad_init(&t);
    t.home.place_case = PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE;
    t.home.commune_code = "65440";
    s_expect(&t.ev, 0, NULL);
    assert_string_equal(s_out.u.grad.home.commune, "65440");
    assert_false(s_out.u.grad.home.has_point);
    t.home.commune_code = "2A004";
    s_expect(&t.ev, 0, NULL);
    t.home.commune_code = "6544";
    s_expect(&t.ev, E(BAD_FORMAT), "graduate_upsert.graduate.home.commune_code");
    s_grad_init(&t);
    t.g.home = NULL;
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.home");
    s_grad_init(&t);
    t.home.place_case = PASSERELLE__V1__LOCATION__PLACE__NOT_SET;
    s_expect(&t.ev, E(MISSING_FIELD), "graduate_upsert.graduate.home");
}

static void test_vacancy_rules(void **state)
{
    (void)state;
    s_vac_t t;
    s_vac_init(&t);
    t.v.employer_id = "1234";
    s_expect(&t.ev, E(BAD_FORMAT), "vacancy_upsert.vacancy.employer_id");
    s_vac_init(&t);
    t.v.sector = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "vacancy_upsert.vacancy.sector");
    s_vac_init(&t);
    t.v.sector = 42;
    s_expect(&t.ev, E(UNKNOWN_ENUM), "vacancy_upsert.vacancy.sector");
    s_vac_init(&t);
    t.v.n_rome_codes = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "vacancy_upsert.vacancy.rome_codes");
    s_vac_init(&t);
    t.romes[0] = "Z9999";
    s_expect(&t.ev, E(BAD_FORMAT), "vacancy_upsert.vacancy.rome_codes[0]");
    s_vac_init(&t);
    t.ws[0].weight = -1;
    s_expect(&t.ev, E(OUT_OF_RANGE), "vacancy_upsert.vacancy.required_skills[0].weight");
    s_vac_init(&t);
    t.ws[0].weight = NAN;
    s_expect(&t.ev, E(NOT_FINITE), "vacancy_upsert.vacancy.required_skills[0].weight");
    s_vac_init(&t);
    t.ws[0].skill = "";
    s_expect(&t.ev, E(MISSING_FIELD), "vacancy_upsert.vacancy.required_skills[0].skill");
    s_vac_init(&t);
    t.v.min_level = 12;
    s_expect(&t.ev, E(OUT_OF_RANGE), "vacancy_upsert.vacancy.min_level");
    s_vac_init(&t);
    t.v.positions = 0;
    s_expect(&t.ev, 0, NULL);
    assert_int_equal(s_out.u.vac.positions, 1);
    t.v.positions = 5000;
    s_expect(&t.ev, E(OUT_OF_RANGE), "vacancy_upsert.vacancy.positions");
    s_vac_init(&t);
    t.v.contract_type = 0;
    s_expect(&t.ev, E(MISSING_FIELD), "vacancy_upsert.vacancy.contract_type");
    s_vac_init(&t);
    t.v.expires_on = "2026-08-01";
    s_expect(&t.ev, E(INCONSISTENT), "vacancy_upsert.vacancy.expires_on");
    s_vac_init(&t);
    t.v.max_distance_km = -1;
    s_expect(&t.ev, E(OUT_OF_RANGE), "vacancy_upsert.vacancy.max_distance_km");
    s_vac_init(&t);
    t.rncps[1] = "RNCP27470";
    t.v.n_required_rncp = 2;
    s_expect(&t.ev, E(DUPLICATE_VALUE), "vacancy_upsert.vacancy.required_rncp[1]");
    s_vac_init(&t);
    t.v.n_required_skills = 65;
    s_expect(&t.ev, E(TOO_MANY), "vacancy_upsert.vacancy.required_skills");
    s_vac_init(&t);
    t.up.vacancy = NULL;
    s_expect(&t.ev, E(MISSING_FIELD), "vacancy_upsert.vacancy");
}

static void test_withdraw_close_erase(void **state)
{
    (void)state;
    Passerelle__V1__Event ev = PASSERELLE__V1__EVENT__INIT;
    Passerelle__V1__GraduateWithdrawn w = PASSERELLE__V1__GRADUATE_WITHDRAWN__INIT;
    Passerelle__V1__VacancyClosed cl = PASSERELLE__V1__VACANCY_CLOSED__INIT;
    Passerelle__V1__GraduateErased er = PASSERELLE__V1__GRADUATE_ERASED__INIT;
    ev.event_id = "e";
    ev.source = "s";
    ev.occurred_at_ms = 1;
    ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_WITHDRAWN;
    ev.graduate_withdrawn = &w;
    w.graduate_id = "g1";
    w.school_id = "sch";
    s_expect(&ev, E(MISSING_FIELD), "graduate_withdrawn.reason");
    w.reason = 9;
    s_expect(&ev, E(UNKNOWN_ENUM), "graduate_withdrawn.reason");
    w.reason = PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED;
    s_expect(&ev, 0, NULL);
    assert_int_equal(s_out.u.ref.state, STORE_STATE_HIRED);
    w.school_id = "";
    s_expect(&ev, E(MISSING_FIELD), "graduate_withdrawn.school_id");

    ev.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_CLOSED;
    ev.vacancy_closed = &cl;
    cl.vacancy_id = "v1";
    cl.employer_id = "12345678900012";
    cl.reason = PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_FILLED;
    s_expect(&ev, 0, NULL);
    assert_int_equal(s_out.u.ref.state, STORE_STATE_FILLED);
    cl.employer_id = "x";
    s_expect(&ev, E(BAD_FORMAT), "vacancy_closed.employer_id");

    ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_ERASED;
    ev.graduate_erased = &er;
    er.graduate_id = "g1";
    er.school_id = "sch";
    s_expect(&ev, 0, NULL);
    assert_int_equal(s_out.type, STORE_EV_GRADUATE_ERASED);
}

static void test_dates_and_utf8_helpers(void **state)
{
    (void)state;
    int32_t d;
    char buf[16];
    assert_int_equal(dates_parse("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(dates_parse("2000-03-01", &d), 0);
    assert_int_equal(d, 11017);
    dates_format(d, buf, sizeof buf);
    assert_string_equal(buf, "2000-03-01");
    assert_int_equal(dates_parse("1900-02-29", &d), -1);
    assert_int_equal(dates_parse("2026-1-01", &d), -1);
    assert_int_equal(dates_parse("2026-01-011", &d), -1);
    assert_true(utf8_valid("Pyr\xc3\xa9n\xc3\xa9"
                           "es",
                           11));
    assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(utf8_valid("\xff", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_graduate_is_converted),
        cmocka_unit_test(test_valid_vacancy_is_converted),
        cmocka_unit_test(test_envelope_rules),
        cmocka_unit_test(test_utf8_and_lengths),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_list_sizes),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_vacancy_rules),
        cmocka_unit_test(test_withdraw_close_erase),
        cmocka_unit_test(test_dates_and_utf8_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
