/* test_ingest.c - integration tests of the ingest socket of the real daemon.
 *
 * Each test gets a fresh matcherd on a fresh store and fresh loopback ports
 * (harness.h) and checks one of DESIGN.md's promises from the outside:
 *   1. durable acks: an ACCEPTED ack survives a restart (re-sending gives
 *      DUPLICATE with the same sequence), also when SIGTERM arrives while a
 *      producer is sending;
 *   2. idempotent ingest: duplicates, and older updates marked superseded;
 *   3. bad input is refused, never fatal: one REJECTED ack with a precise
 *      error code, message and field per validation class, garbage frames,
 *      wrong frame counts and oversize frames, after which the daemon still
 *      runs and what it stored is intact.
 * Plus throughput and fairness shapes: 10,000 pipelined events on one
 * DEALER, 50 concurrent DEALERs with their acks in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"

#define SRC_SCHOOL        "ep-tarbes-sis"
#define SRC_FED           "uimm-occitanie"
#define STORE_TOPIC_BYTES 161 /* a topic and its NUL */

/* ------------------------------------------------------------------ */
/* Fixtures and checks. */

/* Fail the test unless ack has this status and error code. */
static void s_expect_ack(const Passerelle__V1__Ack *ack, const hclient_t *c, int status, int code,
                         const char *where, int line)
{
    char abuf[1024];

    if (ack == NULL)
        fail_msg("%s:%d: no ack: %s", where, line, c ? c->err : "?");
    if ((int)ack->status != status || (int)ack->error != code)
        fail_msg("%s:%d: expected %s/%s, got %s", where, line, h_status_name(status),
                 h_error_name(code), h_ack_str(ack, abuf, sizeof abuf));
}

#define EXPECT_ACK(ack, c, status, code)                                                           \
    s_expect_ack((ack), (c), (status), (code), __FILE__, __LINE__)

static void s_get_stats(harness_t *h, hstats_t *st)
{
    if (harness_stats(h, st) != 0)
        fail_msg("cannot get stats from %s", h->query_ep);
}

static void s_expect_alive(harness_t *h)
{
    int status = 0;
    bool live = false, ready = false;
    char sbuf[128];

    if (harness_exited(h, &status))
        fail_msg("matcherd died: %s", harness_status_str(status, sbuf, sizeof sbuf));
    if (harness_health(h, HARNESS_QUERY_TIMEOUT_MS, &live, &ready) != 0)
        fail_msg("matcherd does not answer Health on %s", h->query_ep);
    if (!live || !ready)
        fail_msg("matcherd health: live %d ready %d", live, ready);
}

/* ------------------------------------------------------------------ */
/* 1. Accepted, then duplicate with the same sequence, across a restart. */

static void test_accept_then_duplicate(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    Passerelle__V1__Ack *ack;
    uint64_t seq_g, seq_v, seq_other;
    hstats_t st;

    assert_non_null(c);
    assert_non_null(e);

    hev_graduate(e, SRC_SCHOOL, "evt-1", HARNESS_T0_MS, "g-1");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_string_equal(ack->event_id, "evt-1");
    assert_true(ack->sequence > 0);
    assert_false(ack->superseded);
    seq_g = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* The same bytes again: nothing changes, same sequence. */
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_string_equal(ack->event_id, "evt-1");
    assert_int_equal(ack->sequence, seq_g);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* A different event with the same id from the same source is still a
     * duplicate: identity is (source, event_id), not the content. */
    hev_graduate(e, SRC_SCHOOL, "evt-1", HARNESS_T0_MS + 5, "g-1-other");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq_g);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hev_vacancy(e, SRC_FED, "evt-2", HARNESS_T0_MS, "v-1");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_true(ack->sequence > seq_g);
    seq_v = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* The same event id from another source is another event. */
    hev_vacancy(e, SRC_FED, "evt-1", HARNESS_T0_MS, "v-2");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_true(ack->sequence > seq_v);
    seq_other = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);

    s_get_stats(h, &st);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.events_accepted, 3);
    assert_int_equal(st.events_duplicate, 2);
    assert_int_equal(st.graduates, 1);
    assert_int_equal(st.vacancies, 2);

    /* Durable: after a clean restart, still duplicates with the same
     * sequences. */
    hclient_destroy(&c);
    assert_int_equal(harness_restart(h), 0);
    c = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(c);
    hev_graduate(e, SRC_SCHOOL, "evt-1", HARNESS_T0_MS, "g-1");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq_g);
    passerelle__v1__ack__free_unpacked(ack, NULL);
    hev_vacancy(e, SRC_FED, "evt-1", HARNESS_T0_MS, "v-2");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq_other);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    s_get_stats(h, &st);
    assert_int_equal(st.events, 3);

    hclient_destroy(&c);
    free(e);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* 2. An upsert older than the stored one is recorded but superseded. */

static void test_older_update_superseded(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    Passerelle__V1__Ack *ack;
    uint64_t seq;

    assert_non_null(c);
    assert_non_null(e);

    hev_graduate(e, SRC_SCHOOL, "sup-1", HARNESS_T0_MS + 2000, "g-1");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_false(ack->superseded);
    seq = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* Happened earlier than the stored version: accepted, changes nothing. */
    hev_graduate(e, SRC_SCHOOL, "sup-2", HARNESS_T0_MS + 1000, "g-1");
    e->graduate.mobility_radius_km = 10;
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    if (!ack->superseded) {
        char abuf[1024];
        fail_msg("older update not marked superseded: %s", h_ack_str(ack, abuf, sizeof abuf));
    }
    assert_true(ack->sequence > seq);
    seq = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* Newer: applies. */
    hev_graduate(e, SRC_SCHOOL, "sup-3", HARNESS_T0_MS + 3000, "g-1");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_false(ack->superseded);
    assert_true(ack->sequence > seq);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    /* The superseded event is still a recorded event: re-sending it is a
     * duplicate. */
    hev_graduate(e, SRC_SCHOOL, "sup-2", HARNESS_T0_MS + 1000, "g-1");
    e->graduate.mobility_radius_km = 10;
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq);
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hclient_destroy(&c);
    free(e);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* 3. One REJECTED ack per validation class. */

enum { BASE_GRADUATE, BASE_VACANCY, BASE_WITHDRAW, BASE_CLOSE };

typedef struct reject_case {
    const char *name;
    int base;
    void (*mutate)(hev_t *e);
    int code;
    const char *field_leaf; /* expected in Ack.field; NULL: any non-empty */
    bool echo_id;           /* Ack.event_id must equal the event's */
} reject_case_t;

static char s_long_id[66]; /* 65 bytes */
static char s_id_64[65];   /* 64 bytes */

static void s_no_event_id(hev_t *e)
{
    e->event.event_id = (char *)"";
}
static void s_no_source(hev_t *e)
{
    e->event.source = (char *)"";
}
static void s_time_zero(hev_t *e)
{
    e->event.occurred_at_ms = 0;
}
static void s_time_negative(hev_t *e)
{
    e->event.occurred_at_ms = -1000;
}
static void s_no_body(hev_t *e)
{
    e->event.body_case = PASSERELLE__V1__EVENT__BODY__NOT_SET;
}
static void s_no_graduate_id(hev_t *e)
{
    e->graduate.graduate_id = (char *)"";
}
static void s_no_school_id(hev_t *e)
{
    e->graduate.school_id = (char *)"";
}
static void s_no_home(hev_t *e)
{
    e->graduate.home = NULL;
}
static void s_utf8_skill(hev_t *e)
{
    e->skills[0] = (char *)"soudage \xc3\x28 TIG";
}
static void s_utf8_school(hev_t *e)
{
    e->graduate.school_id = (char *)"0650\xff\xfe";
}
static void s_utf8_source(hev_t *e)
{
    e->event.source = (char *)"ep-\xe9"
                              "cole";
}
static void s_lat_200(hev_t *e)
{
    e->point.latitude = 200.0;
}
static void s_lon_m181(hev_t *e)
{
    e->point.longitude = -181.0;
}
static void s_radius_m5(hev_t *e)
{
    e->graduate.mobility_radius_km = -5;
}
static void s_level_12(hev_t *e)
{
    e->certs[0].level = 12;
}
static void s_lat_nan(hev_t *e)
{
    e->point.latitude = NAN;
}
static void s_lon_inf(hev_t *e)
{
    e->point.longitude = INFINITY;
}
static void s_contract_99(hev_t *e)
{
    e->vacancy.contract_type = 99;
}
static void s_sector_99(hev_t *e)
{
    e->vacancy.sector = 99;
}
static void s_cert_kind_99(hev_t *e)
{
    e->certs[0].kind = 99;
}
static void s_17_certs(hev_t *e)
{
    hev_graduate_certs(e, 17);
}
static void s_65_skills(hev_t *e)
{
    hev_graduate_skills(e, 65);
}
static void s_long_graduate_id(hev_t *e)
{
    e->graduate.graduate_id = s_long_id;
}
static void s_long_vacancy_id(hev_t *e)
{
    e->vacancy.vacancy_id = s_long_id;
}
static void s_bad_available(hev_t *e)
{
    e->graduate.available_from = (char *)"2026-13-45";
}
static void s_bad_obtained(hev_t *e)
{
    e->certs[0].obtained_on = (char *)"2026-13-45";
}
static void s_siret_short(hev_t *e)
{
    e->vacancy.employer_id = (char *)"1234567890001";
}
static void s_siret_letter(hev_t *e)
{
    e->vacancy.employer_id = (char *)"1234567890001X";
}
static void s_nothing(hev_t *e)
{
    (void)e;
}

static const reject_case_t s_reject_cases[] = {
    {"missing event_id", BASE_GRADUATE, s_no_event_id, H_ERR(MISSING_FIELD), "event_id", false},
    {"missing source", BASE_GRADUATE, s_no_source, H_ERR(MISSING_FIELD), "source", true},
    {"occurred_at_ms 0", BASE_GRADUATE, s_time_zero, H_ERR(MISSING_FIELD), "occurred_at_ms", true},
    {"occurred_at_ms -1000", BASE_VACANCY, s_time_negative, H_ERR(OUT_OF_RANGE), "occurred_at_ms",
     true},
    {"no body", BASE_GRADUATE, s_no_body, H_ERR(MISSING_FIELD), "body", true},
    {"missing graduate_id", BASE_GRADUATE, s_no_graduate_id, H_ERR(MISSING_FIELD), "graduate_id",
     true},
    {"missing school_id", BASE_GRADUATE, s_no_school_id, H_ERR(MISSING_FIELD), "school_id", true},
    {"missing home", BASE_GRADUATE, s_no_home, H_ERR(MISSING_FIELD), "home", true},
    {"invalid UTF-8 in a skill", BASE_GRADUATE, s_utf8_skill, H_ERR(INVALID_UTF8), "skills", true},
    {"invalid UTF-8 in school_id", BASE_GRADUATE, s_utf8_school, H_ERR(INVALID_UTF8), "school_id",
     true},
    {"invalid UTF-8 in source", BASE_VACANCY, s_utf8_source, H_ERR(INVALID_UTF8), "source", true},
    {"latitude 200", BASE_GRADUATE, s_lat_200, H_ERR(OUT_OF_RANGE), "latitude", true},
    {"longitude -181", BASE_VACANCY, s_lon_m181, H_ERR(OUT_OF_RANGE), "longitude", true},
    {"mobility radius -5", BASE_GRADUATE, s_radius_m5, H_ERR(OUT_OF_RANGE), "mobility_radius_km",
     true},
    {"certification level 12", BASE_GRADUATE, s_level_12, H_ERR(OUT_OF_RANGE), "level", true},
    {"latitude NaN", BASE_GRADUATE, s_lat_nan, H_ERR(NOT_FINITE), "latitude", true},
    {"longitude +inf", BASE_VACANCY, s_lon_inf, H_ERR(NOT_FINITE), "longitude", true},
    {"contract type 99", BASE_VACANCY, s_contract_99, H_ERR(UNKNOWN_ENUM), "contract_type", true},
    {"sector 99", BASE_VACANCY, s_sector_99, H_ERR(UNKNOWN_ENUM), "sector", true},
    {"certification kind 99", BASE_GRADUATE, s_cert_kind_99, H_ERR(UNKNOWN_ENUM), "kind", true},
    {"17 certifications", BASE_GRADUATE, s_17_certs, H_ERR(TOO_MANY), "certifications", true},
    {"65 skills", BASE_GRADUATE, s_65_skills, H_ERR(TOO_MANY), "skills", true},
    {"graduate_id of 65 bytes", BASE_GRADUATE, s_long_graduate_id, H_ERR(TOO_LONG), "graduate_id",
     true},
    {"vacancy_id of 65 bytes", BASE_VACANCY, s_long_vacancy_id, H_ERR(TOO_LONG), "vacancy_id",
     true},
    {"available_from 2026-13-45", BASE_GRADUATE, s_bad_available, H_ERR(BAD_FORMAT),
     "available_from", true},
    {"obtained_on 2026-13-45", BASE_GRADUATE, s_bad_obtained, H_ERR(BAD_FORMAT), "obtained_on",
     true},
    {"employer_id of 13 digits", BASE_VACANCY, s_siret_short, H_ERR(BAD_FORMAT), "employer_id",
     true},
    {"employer_id with a letter", BASE_VACANCY, s_siret_letter, H_ERR(BAD_FORMAT), "employer_id",
     true},
    {"withdraw of a never-posted graduate", BASE_WITHDRAW, s_nothing, H_ERR(UNKNOWN_ENTITY),
     "graduate_id", true},
    {"close of a never-posted vacancy", BASE_CLOSE, s_nothing, H_ERR(UNKNOWN_ENTITY), "vacancy_id",
     true},
};

static void s_build_base(hev_t *e, int base, const char *event_id)
{
    switch (base) {
    case BASE_GRADUATE: hev_graduate(e, SRC_SCHOOL, event_id, HARNESS_T0_MS, "g-rej"); break;
    case BASE_VACANCY: hev_vacancy(e, SRC_FED, event_id, HARNESS_T0_MS, "v-rej"); break;
    case BASE_WITHDRAW:
        hev_withdraw(e, SRC_SCHOOL, event_id, HARNESS_T0_MS, "g-never", "0650043X");
        break;
    default: hev_close(e, SRC_FED, event_id, HARNESS_T0_MS, "v-never", "12345678900012"); break;
    }
}

/* Check one rejected ack; describe the mismatch in why (empty if none). */
static void s_check_reject(const reject_case_t *rc, const hev_t *e, const Passerelle__V1__Ack *ack,
                           const hclient_t *c, char *why, size_t size)
{
    char abuf[1024];

    why[0] = '\0';
    if (ack == NULL) {
        snprintf(why, size, "no ack (%s)", c->err);
        return;
    }
    h_ack_str(ack, abuf, sizeof abuf);
    if (ack->status != H_REJECTED || (int)ack->error != rc->code)
        snprintf(why, size, "expected REJECTED/%s, got %s", h_error_name(rc->code), abuf);
    else if (ack->message == NULL || ack->message[0] == '\0')
        snprintf(why, size, "empty message: %s", abuf);
    else if (ack->field == NULL || ack->field[0] == '\0')
        snprintf(why, size, "empty field: %s", abuf);
    else if (rc->field_leaf != NULL && strstr(ack->field, rc->field_leaf) == NULL)
        snprintf(why, size, "field does not name \"%s\": %s", rc->field_leaf, abuf);
    else if (rc->echo_id && strcmp(ack->event_id, e->event.event_id) != 0)
        snprintf(why, size, "event_id not echoed (sent \"%s\"): %s", e->event.event_id, abuf);
    else if (ack->sequence != 0)
        snprintf(why, size, "rejected ack carries a sequence: %s", abuf);
}

static void test_rejects_each_validation_class(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    const size_t ncases = sizeof s_reject_cases / sizeof s_reject_cases[0];
    Passerelle__V1__Ack *ack;
    hstats_t before, after;
    size_t failures = 0;
    char why[1400];

    assert_non_null(c);
    assert_non_null(e);
    memset(s_long_id, 'a', sizeof s_long_id - 1);

    /* The unmodified bases are valid: what follows fails for its mutation. */
    for (int base = BASE_GRADUATE; base <= BASE_VACANCY; base++) {
        s_build_base(e, base, base == BASE_GRADUATE ? "base-g" : "base-v");
        ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }
    s_get_stats(h, &before);

    for (size_t i = 0; i < ncases; i++) {
        const reject_case_t *rc = &s_reject_cases[i];
        char id[32];

        snprintf(id, sizeof id, "rej-%02zu", i);
        s_build_base(e, rc->base, id);
        rc->mutate(e);
        ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        s_check_reject(rc, e, ack, c, why, sizeof why);
        if (why[0] != '\0') {
            fprintf(stderr, "MISMATCH [%s]: %s\n", rc->name, why);
            failures++;
        } else {
            fprintf(stderr, "ok       [%s]: %s \"%s\" (%s)\n", rc->name, h_error_name(ack->error),
                    ack->field, ack->message);
        }
        if (ack != NULL)
            passerelle__v1__ack__free_unpacked(ack, NULL);
        else if (c->err[0] != '\0' && strstr(c->err, "no ack") != NULL)
            break; /* the daemon stopped answering: the rest would time out */
    }

    /* Nothing rejected was stored; the daemon still runs. */
    s_expect_alive(h);
    s_get_stats(h, &after);
    if (after.events != before.events || after.graduates != before.graduates ||
        after.vacancies != before.vacancies) {
        fprintf(stderr,
                "MISMATCH: rejected events changed the store: events %" PRIu64 " -> %" PRIu64
                ", graduates %" PRIu64 " -> %" PRIu64 ", vacancies %" PRIu64 " -> %" PRIu64 "\n",
                before.events, after.events, before.graduates, after.graduates, before.vacancies,
                after.vacancies);
        failures++;
    }
    if (after.events_rejected - before.events_rejected != ncases) {
        fprintf(stderr, "MISMATCH: stats.events_rejected grew by %" PRIu64 ", expected %zu\n",
                after.events_rejected - before.events_rejected, ncases);
        failures++;
    }
    hclient_destroy(&c);
    free(e);
    if (failures > 0)
        fail_msg("%zu validation mismatches (see MISMATCH lines above)", failures);
    harness_pass(h);
}

/* The limits themselves are valid: 64-byte ids, 16 certifications, 64
 * skills. */
static void test_limits_are_accepted(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    Passerelle__V1__Ack *ack;

    assert_non_null(c);
    assert_non_null(e);
    memset(s_id_64, 'b', sizeof s_id_64 - 1);

    hev_graduate(e, SRC_SCHOOL, "lim-1", HARNESS_T0_MS, "g-lim");
    e->graduate.graduate_id = s_id_64;
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hev_graduate(e, SRC_SCHOOL, "lim-2", HARNESS_T0_MS, "g-lim-2");
    hev_graduate_certs(e, 16);
    hev_graduate_skills(e, 64);
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hev_vacancy(e, SRC_FED, "lim-3", HARNESS_T0_MS, "v-lim");
    e->vacancy.vacancy_id = s_id_64;
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hclient_destroy(&c);
    free(e);
    harness_pass(h);
}

/* A REQ producer works too (libzmq adds and strips the empty delimiter). */
static void test_req_producer(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_REQ, NULL);
    hev_t *e = calloc(1, sizeof *e);
    Passerelle__V1__Ack *ack;
    uint64_t seq;

    assert_non_null(c);
    assert_non_null(e);
    hev_vacancy(e, SRC_FED, "req-1", HARNESS_T0_MS, "v-req");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_string_equal(ack->event_id, "req-1");
    seq = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq);
    passerelle__v1__ack__free_unpacked(ack, NULL);
    hclient_destroy(&c);
    free(e);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* 4. 10,000 events pipelined on one DEALER. */

typedef struct seq_ctx {
    const char *prefix;
    uint64_t last_seq;
    uint64_t *seqs; /* per message, or NULL */
    size_t base;    /* offset of this pipe in seqs */
    size_t accepted;
    size_t retried;
    bool allow_retry;
    int64_t *marks; /* time of every 1000th ack, or NULL */
} seq_ctx_t;

static size_t s_hash(const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

/* Event i of a series: a graduate (two in three) or a vacancy, ids
 * "<prefix>-<i>", entities "<prefix>-e<i>", spread over France. */
static void s_build_entity(hev_t *e, const char *prefix, size_t i)
{
    char eid[64], ent[64];

    snprintf(eid, sizeof eid, "%s-%zu", prefix, i);
    snprintf(ent, sizeof ent, "%s-e%zu", prefix, i);
    if (i % 3 == 2)
        hev_vacancy(e, SRC_FED, eid, HARNESS_T0_MS + (int64_t)i, ent);
    else
        hev_graduate(e, SRC_SCHOOL, eid, HARNESS_T0_MS + (int64_t)i, ent);
    hev_spread(e, s_hash(prefix) * 1000003u + i);
}

static int s_pack_entity(const char *prefix, size_t i, hbuf_t *out, char *id)
{
    hev_t e;

    s_build_entity(&e, prefix, i);
    snprintf(id, HEV_ID_MAX, "%s", e.event_id);
    return hev_pack(&e, out);
}

static int s_make_entity(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    const seq_ctx_t *ctx = p->ctx;
    return s_pack_entity(ctx->prefix, i, out, id);
}

/* Every ack ACCEPTED, sequences strictly increasing along the pipe. */
static int s_on_ack_increasing(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    seq_ctx_t *ctx = p->ctx;
    char abuf[1024];

    if (ack->status == H_RETRY && ctx->allow_retry) {
        ctx->retried++;
        return 0;
    }
    if (ack->status != H_ACCEPTED) {
        snprintf(p->err, sizeof p->err, "message %zu: %s", i, h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    if (ack->sequence <= ctx->last_seq) {
        snprintf(p->err, sizeof p->err,
                 "message %zu: sequence %" PRIu64 " not above the previous %" PRIu64, i,
                 ack->sequence, ctx->last_seq);
        return -1;
    }
    ctx->last_seq = ack->sequence;
    if (ctx->seqs != NULL)
        ctx->seqs[ctx->base + i] = ack->sequence;
    ctx->accepted++;
    if (ctx->marks != NULL && ctx->accepted % 1000 == 0)
        ctx->marks[ctx->accepted / 1000] = harness_now_us();
    return 0;
}

/* Pipeline n new entities (window 1,000 in flight), each to be ACCEPTED
 * with increasing sequences; then every one must be stored. */
static void s_pipeline(harness_t *h, seq_ctx_t *ctx, size_t n, hstats_t *st)
{
    hpipe_t pipe = {0};
    pipe.client = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = n;
    pipe.window = 1000;
    pipe.make = s_make_entity;
    pipe.on_ack = s_on_ack_increasing;
    pipe.ctx = ctx;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("pipeline: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    assert_int_equal(pipe.acked, n);
    assert_int_equal(ctx->accepted, n);
    s_get_stats(h, st);
    assert_int_equal(st->events_accepted, n);
    assert_int_equal(st->graduates + st->vacancies, n);
    fprintf(stderr,
            "pipeline: %" PRIu64 " transactions (%" PRIu64 " ended full), largest %" PRIu64 "\n",
            st->batches, st->txns_full, st->batch_max);
    hclient_destroy(&pipe.client);
}

static void test_pipeline_10k(void **state)
{
    harness_t *h = *state;
    seq_ctx_t ctx = {.prefix = "pl"};
    hstats_t st;
    int64_t marks[11] = {0};

    ctx.marks = marks;
    int64_t t0 = marks[0] = harness_now_us();
    s_pipeline(h, &ctx, 10000, &st);
    double secs = (double)(harness_now_us() - t0) / 1e6;
    fprintf(stderr, "pipeline: 10000 events acked in %.2f s (%.0f events/s); per 1000:", secs,
            10000.0 / (secs > 0 ? secs : 1e-6));
    for (int k = 1; k <= 10; k++)
        fprintf(stderr, " %.2f", (double)(marks[k] - marks[k - 1]) / 1e6);
    fprintf(stderr, " s\n");
    assert_int_equal(st.events, 10000);
    harness_pass(h);
}

/* The same pipeline with [ingest] batch_max_ms = 1: every batch the
 * daemon receives is cut into transactions of what it matched within a
 * millisecond; each event is still answered once, in order, ACCEPTED with
 * increasing sequences, and stored. Without the cut, the largest
 * transaction takes about as many events as are waiting (hundreds with
 * 1,000 in flight). */
static void test_pipeline_cut_by_time(void **state)
{
    harness_t *h = *state;
    seq_ctx_t ctx = {.prefix = "cut"};
    hstats_t st;

    s_pipeline(h, &ctx, 3000, &st);
    assert_true(st.batch_max < 200);
    assert_true(st.batches > 15);
    /* (not a count of transactions ended full: on a new store, some end
     * at the room lists.mdb's map has, which grows as the lists do) */
    harness_pass(h);
}

static int s_setup_cut(void **state)
{
    return harness_setup_config(state, "[ingest]\nbatch_max_ms = 1\n");
}

/* The same pipeline with [store] txn_max_writes = 50: besides its log
 * record (an append, counted by the page it fills) an event makes at
 * least four B-tree writes (dedupe row, entity-log row, record, index
 * rows), so a transaction takes thirteen events at most and the rest of
 * each batch follows in the next ones; each event is still answered once,
 * in order, and stored. */
static void test_pipeline_cut_by_writes(void **state)
{
    harness_t *h = *state;
    seq_ctx_t ctx = {.prefix = "wcut"};
    hstats_t st;

    s_pipeline(h, &ctx, 3000, &st);
    assert_true(st.batch_max <= 13);
    assert_true(st.batches >= 3000 / 13);
    /* counted: every transaction but the last of each batch ended full */
    assert_true(st.txns_full > 0 && st.txns_full < st.batches);
    harness_pass(h);
}

static int s_setup_cut_writes(void **state)
{
    return harness_setup_config(state, "[store]\ntxn_max_writes = 50\n");
}

/* ------------------------------------------------------------------ */
/* 5. Garbage flood: refused one by one; the store is unharmed. */

typedef struct garbage_ctx {
    unsigned rng;
    size_t rejected;
    size_t undecodable;
} garbage_ctx_t;

static int s_make_random(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    garbage_ctx_t *ctx = p->ctx;
    size_t len = i == 0 ? 0 : 1 + (size_t)(rand_r(&ctx->rng) % 512u);

    if (hbuf_resize(out, len) != 0)
        return -1;
    for (size_t k = 0; k < len; k++)
        out->data[k] = (uint8_t)(rand_r(&ctx->rng) & 0xff);
    id[0] = '\0'; /* whatever they decode to, do not match ids */
    return 0;
}

static int s_on_ack_rejected(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    garbage_ctx_t *ctx = p->ctx;
    char abuf[1024];

    if (ack->status != H_REJECTED) {
        snprintf(p->err, sizeof p->err, "garbage frame %zu: %s", i,
                 h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    if (ack->error == H_ERR(UNDECODABLE)) {
        ctx->undecodable++;
        if (ack->event_id[0] != '\0') {
            snprintf(p->err, sizeof p->err, "undecodable frame %zu has an event_id: %s", i,
                     h_ack_str(ack, abuf, sizeof abuf));
            return -1;
        }
    }
    ctx->rejected++;
    return 0;
}

/* Send data as one frame (or as `frames` copies in one message) and
 * expect REJECTED with code (or any code when code < 0). */
static void s_send_bad(hclient_t *c, const uint8_t *data, size_t len, int frames, int code,
                       const char *what, size_t *rejected)
{
    Passerelle__V1__Ack *ack;
    char abuf[1024];

    for (int f = 0; f < frames; f++)
        if (hclient_send(c, data, len, f + 1 < frames ? ZMQ_SNDMORE : 0) != 0)
            fail_msg("%s: send: %s", what, c->err);
    ack = hclient_recv_ack(c, 30000);
    if (ack == NULL)
        fail_msg("%s: no ack: %s", what, c->err);
    if (ack->status != H_REJECTED || (code >= 0 && (int)ack->error != code))
        fail_msg("%s: expected REJECTED/%s, got %s", what, code >= 0 ? h_error_name(code) : "any",
                 h_ack_str(ack, abuf, sizeof abuf));
    if (ack->message[0] == '\0')
        fail_msg("%s: rejected without a message: %s", what, h_ack_str(ack, abuf, sizeof abuf));
    fprintf(stderr, "garbage: %s -> %s\n", what, h_ack_str(ack, abuf, sizeof abuf));
    passerelle__v1__ack__free_unpacked(ack, NULL);
    (*rejected)++;
}

/* A logical dump of every table of the stopped daemon's store (mdb_dump
 * -a: each named table's keys and values in key order), into out. The raw
 * data.mdb may differ between two dumps that are equal: LMDB rewrites meta
 * pages and moves pages at every commit, so only the logical content is
 * compared. */
static void s_dump_store(const harness_t *h, hbuf_t *out)
{
    char cmd[512];
    size_t got;
    FILE *p;
    snprintf(cmd, sizeof cmd, "mdb_dump -a '%s'", h->data_dir);
    p = popen(cmd, "r");
    if (p == NULL)
        fail_msg("popen %s: %s", cmd, strerror(errno));
    out->len = 0;
    do {
        if (out->cap - out->len < 65536) {
            size_t len = out->len;
            assert_int_equal(hbuf_resize(out, out->cap * 2 + 65536), 0);
            out->len = len;
        }
        got = fread(out->data + out->len, 1, out->cap - out->len, p);
        out->len += got;
    } while (got > 0);
    if (pclose(p) != 0)
        fail_msg("%s failed (is lmdb-utils installed?)", cmd);
    if (out->len == 0)
        fail_msg("%s printed nothing", cmd);
}

/* Promise 3, "nothing already stored is harmed", checked byte for byte:
 * a store with content is dumped (logically, see s_dump_store); the
 * daemon is restarted and sent only bad input, one of each class (every
 * validation case above, undecodable and truncated bytes, an empty frame,
 * wrong frame counts, oversize frames, events naming unknown entities or
 * another school's graduate); each gets its REJECTED ack; after a clean
 * stop the dump must be identical. */
static void test_rejected_leave_store_unchanged(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    hbuf_t before = {0}, after = {0}, buf = {0}, big = {0};
    const size_t ncases = sizeof s_reject_cases / sizeof s_reject_cases[0];
    Passerelle__V1__Ack *ack;
    size_t rejected = 0, failures = 0;
    char why[1400], id[32];

    assert_non_null(c);
    assert_non_null(e);
    memset(s_long_id, 'a', sizeof s_long_id - 1);
    /* content: the bases of the cases, and a few neighbours that match */
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "keep-%d", i);
        if (i % 3 == 2)
            hev_vacancy(e, SRC_FED, id, HARNESS_T0_MS, i == 2 ? "v-rej" : id);
        else
            hev_graduate(e, SRC_SCHOOL, id, HARNESS_T0_MS, i == 0 ? "g-rej" : id);
        ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }
    hclient_destroy(&c);
    assert_int_equal(harness_stop_clean(h), 0);
    s_dump_store(h, &before);
    assert_int_equal(harness_start(h), 0);
    c = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(c);

    for (size_t i = 0; i < ncases; i++) {
        const reject_case_t *rc = &s_reject_cases[i];
        snprintf(id, sizeof id, "bad-%02zu", i);
        s_build_base(e, rc->base, id);
        rc->mutate(e);
        ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        s_check_reject(rc, e, ack, c, why, sizeof why);
        if (why[0] != '\0' && failures++ < 10)
            fprintf(stderr, "MISMATCH [%s]: %s\n", rc->name, why);
        if (ack != NULL)
            passerelle__v1__ack__free_unpacked(ack, NULL);
        rejected++;
    }
    /* an update of a stored graduate by another school */
    hev_graduate(e, SRC_SCHOOL, "bad-owner", HARNESS_T0_MS + 5, "g-rej");
    e->graduate.school_id = (char *)"0310001A";
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    assert_non_null(ack);
    if (ack->status != H_REJECTED && failures++ < 10)
        fprintf(stderr, "MISMATCH [other school's graduate]: %s\n",
                h_ack_str(ack, why, sizeof why));
    passerelle__v1__ack__free_unpacked(ack, NULL);

    hev_graduate(e, SRC_SCHOOL, "bad-bytes", HARNESS_T0_MS, "g-bytes");
    assert_int_equal(hev_pack(e, &buf), 0);
    s_send_bad(c, buf.data, buf.len - 1, 1, H_ERR(UNDECODABLE), "truncated event", &rejected);
    s_send_bad(c, (const uint8_t *)"\x0a\xff\xff\xff\xff\x0f", 6, 1, H_ERR(UNDECODABLE),
               "undecodable bytes", &rejected);
    s_send_bad(c, buf.data, 0, 1, -1, "empty frame", &rejected);
    s_send_bad(c, buf.data, buf.len, 2, H_ERR(BAD_FRAMES), "2 frames", &rejected);
    s_send_bad(c, buf.data, buf.len, 5, H_ERR(BAD_FRAMES), "5 frames", &rejected);
    assert_int_equal(hbuf_resize(&big, 2 * 1024 * 1024), 0);
    memset(big.data, 0x5a, big.len);
    s_send_bad(c, big.data, big.len, 1, H_ERR(TOO_LARGE), "frame of 2 MiB", &rejected);
    s_expect_alive(h);
    hclient_destroy(&c);
    assert_int_equal(harness_stop_clean(h), 0);
    s_dump_store(h, &after);
    fprintf(stderr, "%zu bad inputs rejected; logical dump %zu bytes before, %zu after\n", rejected,
            before.len, after.len);
    if (failures > 0)
        fail_msg("%zu bad inputs not refused as expected (MISMATCH lines above)", failures);
    if (before.len != after.len || memcmp(before.data, after.data, before.len) != 0)
        fail_msg("rejected events changed the store's content");
    hbuf_free(&before);
    hbuf_free(&after);
    hbuf_free(&buf);
    hbuf_free(&big);
    free(e);
    harness_pass(h);
}

static void test_garbage_flood(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    seq_ctx_t base_ctx = {.prefix = "gb"};
    garbage_ctx_t gctx = {0};
    hpipe_t pipe = {0};
    hstats_t before, after;
    hev_t *e = calloc(1, sizeof *e);
    hbuf_t buf = {0}, big = {0};
    uint64_t *seqs = calloc(70, sizeof *seqs);
    size_t rejected = 0;
    Passerelle__V1__Ack *ack;
    unsigned seed = (unsigned)harness_env_long("PASSERELLE_GARBAGE_SEED",
                                               (long)(harness_now_us() & 0x7fffffff));

    assert_non_null(c);
    assert_non_null(e);
    assert_non_null(seqs);

    /* Something stored first: 70 entities. */
    base_ctx.seqs = seqs;
    pipe.client = c;
    pipe.n = 70;
    pipe.window = 70;
    pipe.make = s_make_entity;
    pipe.on_ack = s_on_ack_increasing;
    pipe.ctx = &base_ctx;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("storing the base events: %s", pipe.err);
    s_get_stats(h, &before);

    /* 1000 frames of random bytes (the first one empty), pipelined. */
    fprintf(stderr, "garbage: seed %u (PASSERELLE_GARBAGE_SEED)\n", seed);
    gctx.rng = seed;
    memset(&pipe, 0, sizeof pipe);
    pipe.client = c;
    pipe.n = 1000;
    pipe.window = 200;
    pipe.make = s_make_random;
    pipe.on_ack = s_on_ack_rejected;
    pipe.ctx = &gctx;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("random frames: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    fprintf(stderr, "garbage: 1000 random frames rejected, %zu as UNDECODABLE\n", gctx.undecodable);
    rejected += gctx.rejected;
    s_expect_alive(h);

    /* Truncated valid protobuf. */
    hev_graduate(e, SRC_SCHOOL, "trunc-1", HARNESS_T0_MS, "g-trunc");
    assert_int_equal(hev_pack(e, &buf), 0);
    s_send_bad(c, buf.data, buf.len - 1, 1, H_ERR(UNDECODABLE), "valid event minus its last byte",
               &rejected);
    s_send_bad(c, buf.data, buf.len / 2, 1, H_ERR(UNDECODABLE), "first half of a valid event",
               &rejected);

    /* Wrong frame counts. */
    s_send_bad(c, buf.data, buf.len, 2, H_ERR(BAD_FRAMES), "2-frame message [Event][Event]",
               &rejected);
    s_send_bad(c, buf.data, buf.len, 3, H_ERR(BAD_FRAMES), "3-frame message", &rejected);

    /* Oversize: just over 1 MiB, then 10 MB. */
    assert_int_equal(hbuf_resize(&big, 10 * 1000 * 1000), 0);
    memset(big.data, 0x5a, big.len);
    s_send_bad(c, big.data, 1024 * 1024 + 1, 1, H_ERR(TOO_LARGE), "frame of 1 MiB + 1 byte",
               &rejected);
    s_send_bad(c, big.data, big.len, 1, H_ERR(TOO_LARGE), "frame of 10 MB", &rejected);
    s_expect_alive(h);

    /* Over 16 MiB libzmq drops the connection (ZMQ_MAXMSGSIZE): no ack is
     * expected (if one comes it must say TOO_LARGE); the daemon carries on
     * and other producers do not notice. */
    {
        hclient_t *bc = hclient_new(h, ZMQ_DEALER, NULL);
        char abuf[1024];

        assert_non_null(bc);
        assert_int_equal(hbuf_resize(&big, 17 * 1024 * 1024), 0);
        memset(big.data, 0x5a, big.len);
        if (hclient_send(bc, big.data, big.len, 0) != 0)
            fail_msg("17 MiB frame: send: %s", bc->err);
        ack = hclient_recv_ack(bc, 2000);
        if (ack != NULL) {
            if (ack->status != H_REJECTED || ack->error != H_ERR(TOO_LARGE))
                fail_msg("17 MiB frame: %s", h_ack_str(ack, abuf, sizeof abuf));
            rejected++;
            passerelle__v1__ack__free_unpacked(ack, NULL);
        }
        fprintf(stderr, "garbage: frame of 17 MiB -> %s\n",
                ack != NULL ? "TOO_LARGE" : "no ack (connection dropped)");
        hclient_destroy(&bc);
    }
    s_expect_alive(h);

    /* A valid event still goes through. */
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    assert_true(ack->sequence > base_ctx.last_seq);
    passerelle__v1__ack__free_unpacked(ack, NULL);
    s_expect_alive(h);

    /* Everything stored before is intact. */
    s_get_stats(h, &after);
    assert_int_equal(after.events, before.events + 1);
    assert_int_equal(after.events_accepted, before.events_accepted + 1);
    assert_int_equal(after.graduates, before.graduates + 1);
    assert_int_equal(after.vacancies, before.vacancies);
    if (after.events_rejected - before.events_rejected != rejected)
        fail_msg("stats.events_rejected grew by %" PRIu64 ", expected %zu",
                 after.events_rejected - before.events_rejected, rejected);
    for (size_t i = 0; i < 70; i++) {
        s_build_entity(e, "gb", i);
        ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
        assert_int_equal(ack->sequence, seqs[i]);
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }

    hbuf_free(&buf);
    hbuf_free(&big);
    free(seqs);
    free(e);
    hclient_destroy(&c);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* 6. 50 concurrent DEALERs, 200 events each, acks in order per DEALER. */

#define CONC_CLIENTS 50
#define CONC_EVENTS  200

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_dealers(void **state)
{
    harness_t *h = *state;
    hpipe_t pipes[CONC_CLIENTS];
    hpipe_t *pp[CONC_CLIENTS];
    seq_ctx_t ctx[CONC_CLIENTS];
    char prefix[CONC_CLIENTS][16];
    uint64_t *seqs = calloc(CONC_CLIENTS * CONC_EVENTS, sizeof *seqs);
    hstats_t st;
    int rc;

    assert_non_null(seqs);
    memset(pipes, 0, sizeof pipes);
    memset(ctx, 0, sizeof ctx);
    for (size_t k = 0; k < CONC_CLIENTS; k++) {
        snprintf(prefix[k], sizeof prefix[k], "c%02zu", k);
        ctx[k].prefix = prefix[k];
        ctx[k].seqs = seqs;
        ctx[k].base = k * CONC_EVENTS;
        pipes[k].client = hclient_new(h, ZMQ_DEALER, NULL);
        assert_non_null(pipes[k].client);
        pipes[k].n = CONC_EVENTS;
        pipes[k].window = 50;
        pipes[k].make = s_make_entity;
        pipes[k].on_ack = s_on_ack_increasing;
        pipes[k].ctx = &ctx[k];
        pp[k] = &pipes[k];
    }
    rc = hpipe_run_many(pp, CONC_CLIENTS, NULL, NULL);
    for (size_t k = 0; k < CONC_CLIENTS; k++)
        if (pipes[k].failed)
            fprintf(stderr, "client %zu: sent %zu, acked %zu: %s\n", k, pipes[k].sent,
                    pipes[k].acked, pipes[k].err);
    assert_int_equal(rc, 0);
    for (size_t k = 0; k < CONC_CLIENTS; k++) {
        assert_int_equal(pipes[k].acked, CONC_EVENTS);
        assert_int_equal(ctx[k].accepted, CONC_EVENTS);
        hclient_destroy(&pipes[k].client);
    }
    qsort(seqs, CONC_CLIENTS * CONC_EVENTS, sizeof *seqs, s_cmp_u64);
    for (size_t i = 1; i < CONC_CLIENTS * CONC_EVENTS; i++)
        if (seqs[i] == seqs[i - 1])
            fail_msg("sequence %" PRIu64 " given to two events", seqs[i]);
    s_get_stats(h, &st);
    assert_int_equal(st.events, CONC_CLIENTS * CONC_EVENTS);
    free(seqs);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* 7. SIGTERM while a producer is sending: clean exit, every ack durable. */

#define TERM_MAX 200000

typedef struct term_ctx {
    harness_t *h;
    uint64_t *seqs; /* per message; 0 = no ACCEPTED ack */
    size_t accepted;
    size_t retried;
    int phase; /* 0 sending, 1 SIGTERM sent, 2 daemon gone */
    int64_t term_at_us;
    int64_t exit_at_us;
    int status;
    size_t acked_at_term;
} term_ctx_t;

static int s_make_term(hpipe_t *p, size_t i, hbuf_t *out, char *id)
{
    (void)p;
    if (i >= TERM_MAX)
        return 1;
    return s_pack_entity("st", i, out, id);
}

static int s_on_ack_term(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    term_ctx_t *ctx = p->ctx;
    char abuf[1024];

    if (ack->status == H_ACCEPTED && !ack->superseded && ack->sequence > 0) {
        ctx->seqs[i] = ack->sequence;
        ctx->accepted++;
        return 0;
    }
    if (ack->status == H_RETRY) {
        ctx->retried++;
        return 0;
    }
    snprintf(p->err, sizeof p->err, "message %zu: %s", i, h_ack_str(ack, abuf, sizeof abuf));
    return -1;
}

typedef struct term_tick {
    term_ctx_t *ctx;
    hpipe_t *pipe;
} term_tick_t;

static int s_tick_term(void *arg)
{
    term_tick_t *t = arg;
    term_ctx_t *ctx = t->ctx;

    if (ctx->phase == 0 && (t->pipe->acked >= 3000 || t->pipe->sent >= TERM_MAX / 2)) {
        if (harness_signal(ctx->h, SIGTERM) != 0)
            return HPIPE_FAIL;
        ctx->acked_at_term = t->pipe->acked;
        ctx->term_at_us = harness_now_us();
        ctx->phase = 1;
    }
    if (ctx->phase == 1) {
        if (harness_exited(ctx->h, &ctx->status)) {
            ctx->exit_at_us = harness_now_us();
            ctx->phase = 2;
            return HPIPE_DRAIN;
        }
        if (harness_now_us() - ctx->term_at_us > (int64_t)HARNESS_STOP_TIMEOUT_MS * 1000) {
            snprintf(t->pipe->err, sizeof t->pipe->err, "daemon still running %d ms after SIGTERM",
                     HARNESS_STOP_TIMEOUT_MS);
            return HPIPE_FAIL;
        }
    }
    return HPIPE_GO;
}

/* Re-send messages [0, n) and check against the recorded sequences. */
typedef struct verify_ctx {
    uint64_t *seqs;
    size_t lost;
    size_t now_accepted;
    size_t now_duplicate;
} verify_ctx_t;

static int s_on_ack_verify(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack)
{
    verify_ctx_t *ctx = p->ctx;
    char abuf[1024];

    if (ctx->seqs[i] != 0) {
        if (ack->status != H_DUPLICATE || ack->sequence != ctx->seqs[i]) {
            if (ctx->lost < 10)
                fprintf(stderr, "LOST: message %zu was acked with sequence %" PRIu64 ", now %s\n",
                        i, ctx->seqs[i], h_ack_str(ack, abuf, sizeof abuf));
            ctx->lost++;
        }
        return 0;
    }
    if (ack->status == H_ACCEPTED)
        ctx->now_accepted++;
    else if (ack->status == H_DUPLICATE)
        ctx->now_duplicate++;
    else {
        snprintf(p->err, sizeof p->err, "message %zu: %s", i, h_ack_str(ack, abuf, sizeof abuf));
        return -1;
    }
    ctx->seqs[i] = ack->sequence;
    return 0;
}

static void test_sigterm_while_sending(void **state)
{
    harness_t *h = *state;
    term_ctx_t ctx = {.h = h};
    verify_ctx_t vctx = {0};
    term_tick_t tick;
    hpipe_t pipe = {0};
    hstats_t st;
    char sbuf[128];
    size_t sent;

    ctx.seqs = calloc(TERM_MAX, sizeof *ctx.seqs);
    assert_non_null(ctx.seqs);
    pipe.client = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    pipe.n = TERM_MAX;
    pipe.window = 1000;
    pipe.make = s_make_term;
    pipe.on_ack = s_on_ack_term;
    pipe.ctx = &ctx;
    pipe.drain_ms = 1000;
    tick.ctx = &ctx;
    tick.pipe = &pipe;
    if (hpipe_run(&pipe, s_tick_term, &tick) != 0)
        fail_msg("producer: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    sent = pipe.sent;
    hclient_destroy(&pipe.client);
    if (ctx.phase != 2)
        fail_msg("the producer finished before the daemon exited (phase %d)", ctx.phase);
    fprintf(stderr,
            "sigterm: sent %zu, %zu acks before SIGTERM, %zu ACCEPTED and %zu RETRY "
            "in all; daemon %s %.0f ms after SIGTERM\n",
            sent, ctx.acked_at_term, ctx.accepted, ctx.retried,
            harness_status_str(ctx.status, sbuf, sizeof sbuf),
            (double)(ctx.exit_at_us - ctx.term_at_us) / 1000.0);
    if (!WIFEXITED(ctx.status) || WEXITSTATUS(ctx.status) != 0) {
        harness_dump_log(h, "unclean exit on SIGTERM");
        fail_msg("matcherd did not exit 0 on SIGTERM: %s",
                 harness_status_str(ctx.status, sbuf, sizeof sbuf));
    }

    /* Restart; every ACCEPTED ack must be durable. */
    assert_int_equal(harness_start(h), 0);
    memset(&pipe, 0, sizeof pipe);
    pipe.client = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(pipe.client);
    vctx.seqs = ctx.seqs;
    pipe.n = sent;
    pipe.window = 1000;
    pipe.make = s_make_term;
    pipe.on_ack = s_on_ack_verify;
    pipe.ctx = &vctx;
    if (hpipe_run(&pipe, NULL, NULL) != 0)
        fail_msg("re-sending: sent %zu, acked %zu: %s", pipe.sent, pipe.acked, pipe.err);
    hclient_destroy(&pipe.client);
    fprintf(stderr,
            "sigterm: after restart, %zu acked events lost; of the %zu unacked, "
            "%zu were stored already and %zu accepted now\n",
            vctx.lost, sent - ctx.accepted, vctx.now_duplicate, vctx.now_accepted);
    if (vctx.lost != 0)
        fail_msg("%zu acknowledged events lost or changed after SIGTERM and restart", vctx.lost);
    s_get_stats(h, &st);
    assert_int_equal(st.events, sent);
    free(ctx.seqs);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

/* SIGINT stops the daemon as cleanly as SIGTERM. */
static void test_sigint_clean_exit(void **state)
{
    harness_t *h = *state;
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = calloc(1, sizeof *e);
    Passerelle__V1__Ack *ack;
    uint64_t seq;
    int status = 0;
    char sbuf[128];
    int64_t deadline;

    assert_non_null(c);
    assert_non_null(e);
    hev_graduate(e, SRC_SCHOOL, "int-1", HARNESS_T0_MS, "g-int");
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
    seq = ack->sequence;
    passerelle__v1__ack__free_unpacked(ack, NULL);
    hclient_destroy(&c);

    assert_int_equal(harness_signal(h, SIGINT), 0);
    deadline = harness_now_us() + (int64_t)HARNESS_STOP_TIMEOUT_MS * 1000;
    while (!harness_exited(h, &status)) {
        if (harness_now_us() > deadline) {
            (void)harness_kill(h);
            fail_msg("matcherd still running %d ms after SIGINT", HARNESS_STOP_TIMEOUT_MS);
        }
        usleep(5000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("matcherd did not exit 0 on SIGINT: %s",
                 harness_status_str(status, sbuf, sizeof sbuf));

    assert_int_equal(harness_start(h), 0);
    c = hclient_new(h, ZMQ_DEALER, NULL);
    assert_non_null(c);
    ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
    EXPECT_ACK(ack, c, H_DUPLICATE, H_ERR(NONE));
    assert_int_equal(ack->sequence, seq);
    passerelle__v1__ack__free_unpacked(ack, NULL);
    hclient_destroy(&c);
    free(e);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */
/* The feed's topics across restarts. */

/* The last update received under each topic. */
typedef struct {
    struct {
        char topic[STORE_TOPIC_BYTES];
        uint64_t last;
    } t[32];
    size_t n;
    uint64_t seq;   /* the last update received */
    size_t updates; /* distinct updates received */
    size_t links;   /* previous_sequence entries checked */
} s_links_t;

static uint64_t *s_last_under(s_links_t *l, const char *topic)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->t[i].topic, topic) == 0)
            return &l->t[i].last;
    assert_true(l->n < sizeof l->t / sizeof l->t[0]);
    snprintf(l->t[l->n].topic, sizeof l->t[l->n].topic, "%s", topic);
    l->t[l->n].last = 0;
    return &l->t[l->n++].last;
}

/* Receive the feed until it is quiet for 700 ms; every update's
 * previous_sequence must name, under each of its topics, the last update
 * received under that topic (0 for the first one). */
static void s_drain_links(hclient_t *sub, s_links_t *l)
{
    Passerelle__V1__MatchUpdate *u;
    while ((u = hclient_recv_update(sub, 700)) != NULL) {
        if (u->sequence > l->seq) { /* its first topic: the others follow */
            for (size_t i = 0; i < u->n_previous_sequence; i++) {
                uint64_t *last = s_last_under(l, u->previous_sequence[i]->key);
                if (u->previous_sequence[i]->value != *last)
                    fail_msg("update %" PRIu64 ": previous under %s is %" PRIu64
                             ", the last received there was %" PRIu64,
                             u->sequence, u->previous_sequence[i]->key,
                             u->previous_sequence[i]->value, *last);
                l->links++;
            }
            for (size_t i = 0; i < u->n_previous_sequence; i++)
                *s_last_under(l, u->previous_sequence[i]->key) = u->sequence;
            l->seq = u->sequence;
            l->updates++;
        } else {
            assert_int_equal(u->sequence, l->seq);
        }
        passerelle__v1__match_update__free_unpacked(u, NULL);
    }
}

/* The daemon's last "feed: N topics: S saved up to match U, then R match
 * updates read" line. */
static void s_topics_line(const harness_t *h, unsigned long long *saved, unsigned long long *upto,
                          unsigned long long *read)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen(h->log_path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        const char *p = strstr(line, "feed: ");
        unsigned long n;
        if (p && sscanf(p, "feed: %lu topics: %llu saved up to match %llu, then %llu match", &n,
                        saved, upto, read) == 4)
            found = 1;
    }
    fclose(f);
    if (!found)
        fail_msg("no \"feed: ... topics\" line in %s", h->log_path);
}

/* Wait (5 s at most) for the daemon to log its n-th subscription: a
 * subscriber reconnects to a restarted daemon on its own, a little later,
 * and sends its subscriptions again when its socket is next used (here
 * ZMQ_EVENTS, which takes no message). */
static void s_wait_subscribed(const harness_t *h, hclient_t *sub, int n)
{
    char line[1024];
    for (int tries = 0; tries < 500; tries++) {
        int events;
        size_t len = sizeof events;
        assert_int_equal(zmq_getsockopt(sub->sock, ZMQ_EVENTS, &events, &len), 0);
        int seen = 0;
        FILE *f = fopen(h->log_path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f) != NULL)
            seen += strstr(line, "feed: subscribe \"\"") != NULL;
        fclose(f);
        if (seen >= n)
            return;
        usleep(10000);
    }
    fail_msg("the subscriber did not come back (subscription %d)", n);
}

/* Post graduates and vacancies in Tarbes (everything matches), the
 * vacancies in turns of sector: one region topic per sector. */
static void s_post_tarbes(harness_t *h, const char *tag, int graduates, int vacancies)
{
    static const int sectors[] = {PASSERELLE__V1__SECTOR__SECTOR_METALWORKING,
                                  PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS,
                                  PASSERELLE__V1__SECTOR__SECTOR_MACHINING};
    hclient_t *c = hclient_new(h, ZMQ_DEALER, NULL);
    hev_t *e = malloc(sizeof *e);
    char id[64], evid[64];
    assert_non_null(c);
    assert_non_null(e);
    for (int i = 0; i < graduates + vacancies; i++) {
        snprintf(evid, sizeof evid, "ev-%s-%d", tag, i);
        if (i < graduates) {
            snprintf(id, sizeof id, "g-%s-%d", tag, i);
            hev_graduate(e, SRC_SCHOOL, evid, HARNESS_T0_MS, id);
        } else {
            snprintf(id, sizeof id, "v-%s-%d", tag, i);
            hev_vacancy(e, SRC_FED, evid, HARNESS_T0_MS, id);
            e->vacancy.sector = sectors[i % 3];
        }
        Passerelle__V1__Ack *ack = hclient_call(c, e, HARNESS_ACK_TIMEOUT_MS);
        EXPECT_ACK(ack, c, H_ACCEPTED, H_ERR(NONE));
        passerelle__v1__ack__free_unpacked(ack, NULL);
    }
    free(e);
    hclient_destroy(&c);
}

/* A start learns the last update of each topic (previous_sequence) from
 * the values the daemon saved and the match log after them, not from the
 * whole log: after a clean stop it reads no match; after a kill, the
 * matches since its last save. Either way the first update after the
 * restart names, under each topic, the last one published there before. */
static void test_restart_learns_saved_topics(void **state)
{
    harness_t *h = *state;
    s_links_t l;
    hstats_t st;
    unsigned long long saved, upto, read;
    memset(&l, 0, sizeof l);
    hclient_t *sub = hclient_new(h, ZMQ_SUB, h->feed_ep);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "", 0), 0);
    s_wait_subscribed(h, sub, 1);

    s_post_tarbes(h, "a", 8, 4);
    s_drain_links(sub, &l);
    assert_true(l.updates > 20);
    size_t topics_a = l.n;
    assert_true(topics_a >= 5); /* employer, school, three regions x sectors */
    s_get_stats(h, &st);
    assert_int_equal(st.match_sequence, l.seq);

    /* clean stop: every topic saved with the whole log */
    assert_int_equal(harness_restart(h), 0);
    s_topics_line(h, &saved, &upto, &read);
    print_message("after a clean stop: %llu topics saved up to match %llu, %llu read\n", saved,
                  upto, read);
    assert_int_equal(saved, topics_a);
    assert_int_equal(upto, l.seq);
    assert_int_equal(read, 0);
    s_wait_subscribed(h, sub, 2);
    size_t before = l.updates;
    int64_t t0 = harness_now_us();
    s_post_tarbes(h, "b", 3, 3);
    s_drain_links(sub, &l);
    assert_true(l.updates > before);
    uint64_t upto_a = upto, last_b = l.seq;

    /* killed: the matches since the last save are read at the next start */
    assert_int_equal(harness_kill(h), 0);
    int quick = harness_now_us() - t0 < 8000000; /* no housekeeping save meanwhile */
    assert_int_equal(harness_start(h), 0);
    s_topics_line(h, &saved, &upto, &read);
    print_message("after a kill: %llu topics saved up to match %llu, then %llu read\n", saved, upto,
                  read);
    assert_int_equal(upto + read, last_b);
    if (quick) {
        assert_int_equal(upto, upto_a);
        assert_int_equal(read, l.updates - before);
    }
    s_wait_subscribed(h, sub, 3);
    before = l.updates;
    s_post_tarbes(h, "c", 2, 2);
    s_drain_links(sub, &l);
    assert_true(l.updates > before);
    print_message("%zu updates under %zu topics, %zu previous_sequence links checked\n", l.updates,
                  l.n, l.links);

    /* a damaged saved row: the start reads the whole log and saves anew */
    assert_int_equal(harness_stop_clean(h), 0);
    harness_raw_put(h->data_dir, "meta", "t:employer/x", 12, "abc", 3); /* not a u64 */
    assert_int_equal(harness_start(h), 0);
    s_topics_line(h, &saved, &upto, &read);
    print_message("after a damaged row: %llu saved up to match %llu, then %llu read\n", saved, upto,
                  read);
    assert_int_equal(upto, 0);
    assert_int_equal(read, l.updates);
    s_wait_subscribed(h, sub, 4);
    before = l.updates;
    s_post_tarbes(h, "d", 1, 1);
    s_drain_links(sub, &l);
    assert_true(l.updates > before);
    assert_int_equal(harness_restart(h), 0);
    s_topics_line(h, &saved, &upto, &read);
    assert_int_equal(upto, l.seq);
    assert_int_equal(read, 0);
    hclient_destroy(&sub);
    assert_int_equal(harness_stop_clean(h), 0);
    harness_pass(h);
}

/* The match log keeps explanations without their labels; what the query
 * socket replays must still be, field for field, what went out live: the
 * labels come back from the reference data, before and after a restart. */
#define S_LIVE_MAX 4096

typedef struct {
    uint64_t seq;
    uint8_t *bytes; /* repacked, so that both sides pack alike */
    size_t len;
} s_live_t;

static size_t s_repack(const Passerelle__V1__MatchUpdate *u, uint8_t **out)
{
    size_t len = passerelle__v1__match_update__get_packed_size(u);
    *out = malloc(len ? len : 1);
    assert_non_null(*out);
    assert_int_equal(passerelle__v1__match_update__pack(u, *out), len);
    return len;
}

static size_t s_label_count(const Passerelle__V1__MatchUpdate *u)
{
    const Passerelle__V1__Explanation *e = u->explanation;
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_matched_skills; i++)
        n += e->matched_skills[i]->label[0] != '\0';
    for (size_t i = 0; e && i < e->n_missing_required_skills; i++)
        n += e->missing_required_skills[i]->label[0] != '\0';
    return n + (e && e->certification_label[0] != '\0');
}

typedef struct {
    const s_live_t *live;
    size_t n_live, found;
} s_against_t;

/* A replayed update against the one received live with its sequence. */
static void s_against_live(const Passerelle__V1__Topical *t, void *arg)
{
    s_against_t *a = arg;
    const Passerelle__V1__MatchUpdate *u = t->update;
    for (size_t j = 0; j < a->n_live; j++) {
        if (a->live[j].seq != u->sequence)
            continue;
        uint8_t *b;
        size_t len = s_repack(u, &b);
        if (len != a->live[j].len || memcmp(b, a->live[j].bytes, len) != 0)
            fail_msg("update %" PRIu64 ": replayed as %zu bytes, published as %zu", u->sequence,
                     len, a->live[j].len);
        free(b);
        a->found++;
        break;
    }
}

/* Replay everything and check each update received live against it.
 * Returns how many live ones were found. */
static size_t s_replay_matches_live(harness_t *h, const s_live_t *live, size_t n_live)
{
    s_against_t a = {live, n_live, 0};
    (void)harness_replay_each(h, NULL, 0, 1000, s_against_live, &a);
    return a.found;
}

static void test_replay_as_published(void **state)
{
    harness_t *h = *state;
    static s_live_t live[S_LIVE_MAX];
    size_t n = 0, labels = 0;
    hclient_t *sub = hclient_new(h, ZMQ_SUB, h->feed_ep);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "", 0), 0);
    s_wait_subscribed(h, sub, 1);

    s_post_tarbes(h, "r", 8, 4);
    Passerelle__V1__MatchUpdate *u;
    while ((u = hclient_recv_update(sub, 700)) != NULL) {
        if (n == 0 || u->sequence > live[n - 1].seq) { /* once, under its first topic */
            assert_true(n < S_LIVE_MAX);
            live[n].seq = u->sequence;
            live[n].len = s_repack(u, &live[n].bytes);
            labels += s_label_count(u);
            n++;
        }
        passerelle__v1__match_update__free_unpacked(u, NULL);
    }
    print_message("%zu updates received live, %zu labels in their explanations\n", n, labels);
    assert_true(n > 20);
    assert_true(labels > n); /* skills and certifications named */
    assert_int_equal(s_replay_matches_live(h, live, n), n);
    assert_int_equal(harness_restart(h), 0);
    assert_int_equal(s_replay_matches_live(h, live, n), n);
    for (size_t i = 0; i < n; i++)
        free(live[i].bytes);
    hclient_destroy(&sub);
    harness_pass(h);
}

/* [store] lists_dir (on /dev/shm when there is one): the daemon keeps its
 * ranked lists there, not beside data.mdb; a restart trusts them, and a
 * file gone as a tmpfs's after a reboot is rebuilt before serving: the
 * same answers each time. */
static char s_lists_dir[256];

static int s_setup_lists_dir(void **state)
{
    struct stat st;
    char text[400];
    const char *root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(s_lists_dir, sizeof s_lists_dir, "%s/passerelle-test-lists.%d", root, (int)getpid());
    snprintf(text, sizeof text, "[store]\nlists_dir = %s\n", s_lists_dir);
    return harness_setup_config(state, text);
}

static int s_teardown_lists_dir(void **state)
{
    char cmd[300];
    int rc = harness_teardown(state);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_lists_dir);
    return system(cmd) == 0 ? rc : -1;
}

/* Whether the daemon's log, from offset from on, holds needle. */
static bool s_log_has(const harness_t *h, long from, const char *needle)
{
    static char log[1 << 16];
    FILE *f = fopen(h->log_path, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, from, SEEK_SET), 0);
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    return strstr(log, needle) != NULL;
}

static long s_log_size(const harness_t *h)
{
    struct stat st;
    return stat(h->log_path, &st) == 0 ? (long)st.st_size : 0;
}

static void s_restart_with_config(harness_t *h)
{
    char args[400];
    snprintf(args, sizeof args, "--config %s/test.conf", h->root);
    setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    assert_int_equal(harness_restart(h), 0);
    unsetenv("PASSERELLE_MATCHERD_ARGS");
}

static void test_lists_dir_restart(void **state)
{
    harness_t *h = *state;
    char path[400], before[2][4096], now[4096];
    static const char *const ids[2] = {"v-ld-9", "g-ld-2"};
    s_post_tarbes(h, "ld", 8, 4);
    snprintf(path, sizeof path, "%s/lists.mdb", s_lists_dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(now, sizeof now, "%s/lists.mdb", h->data_dir);
    assert_int_equal(access(now, F_OK), -1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(harness_top_ids(h, i == 1, ids[i], before[i], sizeof before[i]), 0);
        assert_true(before[i][0] != '\0');
    }
    print_message("top of %s: %s\n", ids[0], before[0]);

    /* a restart: trusted */
    long from = s_log_size(h);
    s_restart_with_config(h);
    assert_false(s_log_has(h, from, "ranked lists rebuilt for"));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(harness_top_ids(h, i == 1, ids[i], now, sizeof now), 0);
        assert_string_equal(now, before[i]);
    }

    /* the file gone, as from a tmpfs after a reboot: rebuilt, same lists */
    assert_int_equal(harness_stop_clean(h), 0);
    assert_int_equal(unlink(path), 0);
    from = s_log_size(h);
    s_restart_with_config(h);
    assert_true(s_log_has(h, from, "ranked lists rebuilt for"));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(harness_top_ids(h, i == 1, ids[i], now, sizeof now), 0);
        assert_string_equal(now, before[i]);
    }
    assert_int_equal(access(path, F_OK), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_then_duplicate, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_older_update_superseded, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_rejects_each_validation_class, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_limits_are_accepted, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_req_producer, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_10k, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_cut_by_time, s_setup_cut, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_cut_by_writes, s_setup_cut_writes,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_flood, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_leave_store_unchanged, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_dealers, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_while_sending, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_sigint_clean_exit, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_replay_as_published, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_lists_dir_restart, s_setup_lists_dir,
                                        s_teardown_lists_dir),
        cmocka_unit_test_setup_teardown(test_restart_learns_saved_topics, harness_setup,
                                        harness_teardown),
    };

    harness_cmocka_filter();
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
