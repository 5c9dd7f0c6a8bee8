/* test_proto_json.c - tests of proto/proto_json.c, the proto3 JSON mapping.
 *
 * Round trips of whole Events (JSON -> message -> JSON, and through the
 * protobuf wire format), every scalar form the mapping accepts, and the
 * error messages with their field paths. Types the contract lacks (bytes,
 * float, proto3 optional, integer map keys) are tested on a small message
 * whose descriptor is written by hand below, exactly as protoc-c would.
 * Every message is freed with protobuf_c_message_free_unpacked(): run under
 * ASan or valgrind, this checks the memory layout of parsed messages.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "passerelle/v1/ingest.pb-c.h"
#include "passerelle/v1/query.pb-c.h"
#include "proto_json.h"

/* ------------------------------------------------------------ fixtures */

/* Every field of an Event carrying a graduate, in canonical output form. */
static const char s_graduate_json[] =
    "{\"eventId\":\"ev-1\",\"source\":\"ep-tarbes-sis\",\"occurredAtMs\":\"1700000000000\","
    "\"graduateUpsert\":{\"graduate\":{\"graduateId\":\"0650043X:g-17\",\"schoolId\":\"0650043X\","
    "\"certifications\":[{\"kind\":\"CERTIFICATION_KIND_CAP\",\"rncpCode\":\"RNCP27470\","
    "\"level\":3,\"obtainedOn\":\"2023-06-30\"},{\"kind\":\"CERTIFICATION_KIND_BAC_PRO\","
    "\"rncpCode\":\"RNCP12345\",\"level\":4,\"obtainedOn\":\"2024-07-01\"}],"
    "\"skills\":[\"486590\",\"soudage TIG\",\"usinage \\\"5 axes\\\" / é\"],"
    "\"home\":{\"point\":{\"latitude\":43.2328,\"longitude\":-0.0781}},"
    "\"mobilityRadiusKm\":50,"
    "\"contractTypes\":[\"CONTRACT_TYPE_CDI\",\"CONTRACT_TYPE_APPRENTICESHIP\"],"
    "\"availableFrom\":\"2024-09-01\",\"drivingLicence\":true}}}";

/* Every field of an Event carrying a vacancy, in canonical output form. */
static const char s_vacancy_json[] =
    "{\"eventId\":\"ev-2\",\"source\":\"uimm-occitanie\",\"occurredAtMs\":\"1700000000001\","
    "\"vacancyUpsert\":{\"vacancy\":{\"vacancyId\":\"v-9\",\"employerId\":\"12345678900012\","
    "\"sector\":\"SECTOR_AERONAUTICS\",\"romeCodes\":[\"H2913\",\"H2911\"],"
    "\"site\":{\"communeCode\":\"65440\"},\"maxDistanceKm\":80,"
    "\"requiredRncp\":[\"RNCP27470\"],\"minLevel\":3,"
    "\"requiredSkills\":[{\"skill\":\"486590\",\"weight\":2.5}],"
    "\"desirableSkills\":[{\"skill\":\"soudage "
    "TIG\",\"weight\":1},{\"skill\":\"x\",\"weight\":0.1}],"
    "\"contractType\":\"CONTRACT_TYPE_CDD\",\"positions\":2,\"startDate\":\"2024-10-01\","
    "\"expiresOn\":\"2024-12-31\",\"licenceRequired\":true}}}";

/* --------------------------------------------- a hand-made test message */

/* message Scalars {
 *   float f = 1; bytes b = 2; repeated bytes rb = 3; optional int32 oi = 4;
 *   map<int32, string> im = 5; fixed32 u32 = 6; sint64 s64 = 7; fixed64 f64 = 8;
 * } in package "test", laid out as protoc-c 1.4 generates it. */
typedef struct {
    ProtobufCMessage base;
    int32_t key;
    char *value;
} t_im_entry_t;

typedef struct {
    ProtobufCMessage base;
    float f;
    ProtobufCBinaryData b;
    size_t n_rb;
    ProtobufCBinaryData *rb;
    protobuf_c_boolean has_oi;
    int32_t oi;
    size_t n_im;
    t_im_entry_t **im;
    uint32_t u32;
    int64_t s64;
    uint64_t f64;
} t_scalars_t;

static const ProtobufCMessageDescriptor s_im_entry_desc;
static const ProtobufCMessageDescriptor s_scalars_desc;

static void s_im_entry_init(ProtobufCMessage *m)
{
    static const t_im_entry_t init = {PROTOBUF_C_MESSAGE_INIT(&s_im_entry_desc), 0,
                                      (char *)protobuf_c_empty_string};
    memcpy(m, &init, sizeof init);
}

static void s_scalars_init(ProtobufCMessage *m)
{
    static const t_scalars_t init = {
        PROTOBUF_C_MESSAGE_INIT(&s_scalars_desc), 0, {0, NULL}, 0, NULL, 0, 0, 0, NULL, 0, 0, 0};
    memcpy(m, &init, sizeof init);
}

#define S_FIELD(name, id, label, type, q, off, desc, def)                                          \
    {                                                                                              \
        name, id, label, type, q, off, desc, def, 0, 0, NULL, NULL                                 \
    }
#define S_NONE PROTOBUF_C_LABEL_NONE
#define S_REP  PROTOBUF_C_LABEL_REPEATED

static const ProtobufCFieldDescriptor s_im_entry_fields[2] = {
    S_FIELD("key", 1, S_NONE, PROTOBUF_C_TYPE_INT32, 0, offsetof(t_im_entry_t, key), NULL, NULL),
    S_FIELD("value", 2, S_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(t_im_entry_t, value), NULL,
            &protobuf_c_empty_string),
};
static const unsigned s_im_entry_by_name[] = {0, 1};
static const ProtobufCIntRange s_im_entry_ranges[] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor s_im_entry_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "test.Scalars.ImEntry",
    .short_name = "ImEntry",
    .c_name = "Test__Scalars__ImEntry",
    .package_name = "test",
    .sizeof_message = sizeof(t_im_entry_t),
    .n_fields = 2,
    .fields = s_im_entry_fields,
    .fields_sorted_by_name = s_im_entry_by_name,
    .n_field_ranges = 1,
    .field_ranges = s_im_entry_ranges,
    .message_init = s_im_entry_init,
};

static const ProtobufCFieldDescriptor s_scalars_fields[8] = {
    S_FIELD("f", 1, S_NONE, PROTOBUF_C_TYPE_FLOAT, 0, offsetof(t_scalars_t, f), NULL, NULL),
    S_FIELD("b", 2, S_NONE, PROTOBUF_C_TYPE_BYTES, 0, offsetof(t_scalars_t, b), NULL, NULL),
    S_FIELD("rb", 3, S_REP, PROTOBUF_C_TYPE_BYTES, offsetof(t_scalars_t, n_rb),
            offsetof(t_scalars_t, rb), NULL, NULL),
    S_FIELD("oi", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
            offsetof(t_scalars_t, has_oi), offsetof(t_scalars_t, oi), NULL, NULL),
    S_FIELD("im", 5, S_REP, PROTOBUF_C_TYPE_MESSAGE, offsetof(t_scalars_t, n_im),
            offsetof(t_scalars_t, im), &s_im_entry_desc, NULL),
    S_FIELD("u32", 6, S_NONE, PROTOBUF_C_TYPE_FIXED32, 0, offsetof(t_scalars_t, u32), NULL, NULL),
    S_FIELD("s64", 7, S_NONE, PROTOBUF_C_TYPE_SINT64, 0, offsetof(t_scalars_t, s64), NULL, NULL),
    S_FIELD("f64", 8, S_NONE, PROTOBUF_C_TYPE_FIXED64, 0, offsetof(t_scalars_t, f64), NULL, NULL),
};
static const unsigned s_scalars_by_name[] = {1, 0, 7, 4, 3, 2, 6, 5};
static const ProtobufCIntRange s_scalars_ranges[] = {{1, 0}, {0, 8}};
static const ProtobufCMessageDescriptor s_scalars_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "test.Scalars",
    .short_name = "Scalars",
    .c_name = "Test__Scalars",
    .package_name = "test",
    .sizeof_message = sizeof(t_scalars_t),
    .n_fields = 8,
    .fields = s_scalars_fields,
    .fields_sorted_by_name = s_scalars_by_name,
    .n_field_ranges = 1,
    .field_ranges = s_scalars_ranges,
    .message_init = s_scalars_init,
};

/* ------------------------------------------------------------- helpers */

/* Parse json (NUL-terminated) into desc; fail the test with the error. */
static ProtobufCMessage *s_parse_ok(const ProtobufCMessageDescriptor *desc, const char *json)
{
    char err[512];
    ProtobufCMessage *msg = proto_json_parse(desc, json, strlen(json), err, sizeof err);

    if (msg == NULL)
        fail_msg("parse of %s failed: %s", json, err);
    return msg;
}

/* Parse json, expect failure, and compare the error message to want. */
static void s_parse_err(const ProtobufCMessageDescriptor *desc, const char *json, const char *want)
{
    char err[512];
    ProtobufCMessage *msg = proto_json_parse(desc, json, strlen(json), err, sizeof err);

    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
        fail_msg("parse of %s succeeded, expected \"%s\"", json, want);
    }
    assert_string_equal(err, want);
}

/* Parse json, expect failure with an error that starts with want. */
static void s_parse_err_prefix(const ProtobufCMessageDescriptor *desc, const char *json,
                               const char *want)
{
    char err[512];
    ProtobufCMessage *msg = proto_json_parse(desc, json, strlen(json), err, sizeof err);

    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
        fail_msg("parse of %s succeeded, expected \"%s...\"", json, want);
    }
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, want);
}

/* Render msg with flags and compare to want. */
static void s_render_is(const ProtobufCMessage *msg, int flags, const char *want)
{
    char *text = proto_json_render(msg, flags);

    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

/* Pack msg into a malloc'd buffer; *len gets its size. */
static uint8_t *s_pack(const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(msg);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
    return buf;
}

/* The full round trip of canonical JSON: render(parse(json)) == json, and
 * the wire form survives pack -> unpack -> render. */
static void s_roundtrip(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *msg = s_parse_ok(desc, json);
    ProtobufCMessage *back;
    size_t len, len2;
    uint8_t *buf, *buf2;

    assert_true(protobuf_c_message_check(msg));
    s_render_is(msg, 0, json);
    buf = s_pack(msg, &len);
    back = protobuf_c_message_unpack(desc, NULL, len, buf);
    assert_non_null(back);
    s_render_is(back, 0, json);
    buf2 = s_pack(back, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(msg, NULL);
}

#define EVENT (&passerelle__v1__event__descriptor)

/* --------------------------------------------------------------- tests */

static void test_graduate_roundtrip(void **state)
{
    Passerelle__V1__Event *ev;
    Passerelle__V1__Graduate *g;

    (void)state;
    s_roundtrip(EVENT, s_graduate_json);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, s_graduate_json);
    assert_string_equal(ev->event_id, "ev-1");
    assert_int_equal(ev->occurred_at_ms, 1700000000000LL);
    assert_int_equal(ev->body_case, PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT);
    g = ev->graduate_upsert->graduate;
    assert_string_equal(g->graduate_id, "0650043X:g-17");
    assert_int_equal(g->n_certifications, 2);
    assert_int_equal(g->certifications[1]->kind,
                     PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO);
    assert_string_equal(g->certifications[1]->rncp_code, "RNCP12345");
    assert_int_equal(g->certifications[0]->level, 3);
    assert_int_equal(g->n_skills, 3);
    assert_string_equal(g->skills[2], "usinage \"5 axes\" / \xc3\xa9");
    assert_int_equal(g->home->place_case, PASSERELLE__V1__LOCATION__PLACE_POINT);
    assert_true(g->home->point->latitude == 43.2328);
    assert_true(g->home->point->longitude == -0.0781);
    assert_int_equal(g->mobility_radius_km, 50);
    assert_int_equal(g->n_contract_types, 2);
    assert_int_equal(g->contract_types[1],
                     PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_APPRENTICESHIP);
    assert_string_equal(g->available_from, "2024-09-01");
    assert_true(g->driving_licence);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void test_vacancy_roundtrip(void **state)
{
    Passerelle__V1__Event *ev;
    Passerelle__V1__Vacancy *v;

    (void)state;
    s_roundtrip(EVENT, s_vacancy_json);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, s_vacancy_json);
    assert_int_equal(ev->body_case, PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT);
    v = ev->vacancy_upsert->vacancy;
    assert_int_equal(v->sector, PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS);
    assert_int_equal(v->n_rome_codes, 2);
    assert_string_equal(v->rome_codes[1], "H2911");
    assert_int_equal(v->site->place_case, PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE);
    assert_string_equal(v->site->commune_code, "65440");
    assert_int_equal(v->n_required_skills, 1);
    assert_true(v->required_skills[0]->weight == 2.5);
    assert_int_equal(v->n_desirable_skills, 2);
    assert_true(v->desirable_skills[1]->weight == 0.1);
    assert_int_equal(v->contract_type, PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDD);
    assert_int_equal(v->positions, 2);
    assert_string_equal(v->expires_on, "2024-12-31");
    assert_true(v->licence_required);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* The .proto field names are accepted too, and mean the same message. */
static void test_proto_names_accepted(void **state)
{
    ProtobufCMessage *msg;

    (void)state;
    msg = s_parse_ok(EVENT, "{\"event_id\":\"e\",\"source\":\"s\",\"occurred_at_ms\":5,"
                            "\"vacancy_closed\":{\"vacancy_id\":\"v\",\"employer_id\":\"1\","
                            "\"reason\":\"CLOSURE_REASON_FILLED\"}}");
    s_render_is(msg, 0,
                "{\"eventId\":\"e\",\"source\":\"s\",\"occurredAtMs\":\"5\","
                "\"vacancyClosed\":{\"vacancyId\":\"v\",\"employerId\":\"1\",\"reason\":\"CLOSURE_"
                "REASON_FILLED\"}}");
    protobuf_c_message_free_unpacked(msg, NULL);
    s_parse_err(EVENT, "{\"eventId\":\"a\",\"event_id\":\"b\"}",
                "event_id: field event_id given more than once");
}

static void test_enum_name_and_number(void **state)
{
    Passerelle__V1__GraduateWithdrawn *w;
    ProtobufCMessage *msg;

    (void)state;
    w = (Passerelle__V1__GraduateWithdrawn *)s_parse_ok(
        &passerelle__v1__graduate_withdrawn__descriptor,
        "{\"reason\":\"WITHDRAWAL_REASON_HIRED\"}");
    assert_int_equal(w->reason, PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED);
    protobuf_c_message_free_unpacked(&w->base, NULL);
    w = (Passerelle__V1__GraduateWithdrawn *)s_parse_ok(
        &passerelle__v1__graduate_withdrawn__descriptor, "{\"reason\":2}");
    assert_int_equal(w->reason, PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_LEFT);
    s_render_is(&w->base, 0, "{\"reason\":\"WITHDRAWAL_REASON_LEFT\"}");
    protobuf_c_message_free_unpacked(&w->base, NULL);
    /* an unknown number is kept, for the daemon to refuse, and shown as a number */
    msg = s_parse_ok(&passerelle__v1__graduate_withdrawn__descriptor, "{\"reason\":99}");
    assert_int_equal(((Passerelle__V1__GraduateWithdrawn *)msg)->reason, 99);
    s_render_is(msg, 0, "{\"reason\":99}");
    protobuf_c_message_free_unpacked(msg, NULL);
    /* an unknown name is an error */
    s_parse_err(EVENT,
                "{\"vacancyUpsert\":{\"vacancy\":{\"contractType\":\"CONTRACT_TYPE_FREELANCE\"}}}",
                "vacancyUpsert.vacancy.contractType: unknown value \"CONTRACT_TYPE_FREELANCE\" "
                "of enum passerelle.v1.ContractType");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"contractTypes\":[1,\"CDI\"]}}}",
                "graduateUpsert.graduate.contractTypes[1]: unknown value \"CDI\" "
                "of enum passerelle.v1.ContractType");
    s_parse_err(EVENT, "{\"vacancyUpsert\":{\"vacancy\":{\"sector\":1.5}}}",
                "vacancyUpsert.vacancy.sector: expected an integer, got 1.5");
    s_parse_err(EVENT, "{\"vacancyUpsert\":{\"vacancy\":{\"sector\":true}}}",
                "vacancyUpsert.vacancy.sector: expected an enum name or number, got a boolean");
}

static void test_int64_forms(void **state)
{
    Passerelle__V1__Event *ev;
    Passerelle__V1__Stats *st;

    (void)state;
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, "{\"occurredAtMs\":\"4102444800000\"}");
    assert_int_equal(ev->occurred_at_ms, 4102444800000LL);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, "{\"occurredAtMs\":4102444800000}");
    assert_int_equal(ev->occurred_at_ms, 4102444800000LL);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, "{\"occurredAtMs\":\"-5\"}");
    assert_int_equal(ev->occurred_at_ms, -5);
    s_render_is(&ev->base, 0, "{\"occurredAtMs\":\"-5\"}");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, "{\"occurredAtMs\":1e3}");
    assert_int_equal(ev->occurred_at_ms, 1000);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    ev = (Passerelle__V1__Event *)s_parse_ok(EVENT, "{\"occurredAtMs\":\"-9223372036854775808\"}");
    assert_true(ev->occurred_at_ms == INT64_MIN);
    s_render_is(&ev->base, 0, "{\"occurredAtMs\":\"-9223372036854775808\"}");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    st = (Passerelle__V1__Stats *)s_parse_ok(
        &passerelle__v1__stats__descriptor,
        "{\"events\":\"18446744073709551615\",\"uptimeS\":9223372036854775808}");
    assert_true(st->events == UINT64_MAX);
    assert_true(st->uptime_s == 9223372036854775808ULL);
    s_render_is(&st->base, 0,
                "{\"uptimeS\":\"9223372036854775808\",\"events\":\"18446744073709551615\"}");
    protobuf_c_message_free_unpacked(&st->base, NULL);

    s_parse_err(EVENT, "{\"occurredAtMs\":\"9223372036854775808\"}",
                "occurredAtMs: 9223372036854775808 out of range for int64");
    s_parse_err(EVENT, "{\"occurredAtMs\":9223372036854775808}",
                "occurredAtMs: 9223372036854775808 out of range for int64");
    s_parse_err(EVENT, "{\"occurredAtMs\":1.5}", "occurredAtMs: expected an integer, got 1.5");
    s_parse_err(EVENT, "{\"occurredAtMs\":\"1.5\"}",
                "occurredAtMs: expected an integer, got the string \"1.5\"");
    s_parse_err(EVENT, "{\"occurredAtMs\":\"\"}",
                "occurredAtMs: expected an integer, got the string \"\"");
    s_parse_err(EVENT, "{\"occurredAtMs\":\" 12\"}",
                "occurredAtMs: expected an integer, got the string \" 12\"");
    s_parse_err(EVENT, "{\"occurredAtMs\":true}",
                "occurredAtMs: expected an integer, got a boolean");
    s_parse_err(EVENT, "{\"occurredAtMs\":\"99999999999999999999999\"}",
                "occurredAtMs: integer 99999999999999999999999 out of range");
    /* json-c clamps bare overflows: the limits are refused as bare numbers */
    s_parse_err_prefix(EVENT, "{\"occurredAtMs\":-99999999999999999999999}",
                       "occurredAtMs: integer out of range, or at the 64-bit limit");
    s_parse_err_prefix(&passerelle__v1__stats__descriptor, "{\"events\":99999999999999999999999}",
                       "events: integer out of range, or at the 64-bit limit");
    s_parse_err(&passerelle__v1__stats__descriptor, "{\"events\":-1}",
                "events: -1 out of range for uint64");
}

static void test_int32_forms(void **state)
{
    Passerelle__V1__Certification *c;
    Passerelle__V1__TopMatchesRequest *t;

    (void)state;
    c = (Passerelle__V1__Certification *)s_parse_ok(&passerelle__v1__certification__descriptor,
                                                    "{\"level\":\"-42\"}");
    assert_int_equal(c->level, -42);
    s_render_is(&c->base, 0, "{\"level\":-42}");
    protobuf_c_message_free_unpacked(&c->base, NULL);
    c = (Passerelle__V1__Certification *)s_parse_ok(&passerelle__v1__certification__descriptor,
                                                    "{\"level\":-2147483648}");
    assert_int_equal(c->level, INT32_MIN);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    c = (Passerelle__V1__Certification *)s_parse_ok(&passerelle__v1__certification__descriptor,
                                                    "{\"level\":5.0}");
    assert_int_equal(c->level, 5);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    t = (Passerelle__V1__TopMatchesRequest *)s_parse_ok(
        &passerelle__v1__top_matches_request__descriptor, "{\"limit\":4294967295}");
    assert_true(t->limit == UINT32_MAX);
    s_render_is(&t->base, 0, "{\"limit\":4294967295}");
    protobuf_c_message_free_unpacked(&t->base, NULL);

    s_parse_err(&passerelle__v1__certification__descriptor, "{\"level\":2147483648}",
                "level: 2147483648 out of range for int32");
    s_parse_err(&passerelle__v1__certification__descriptor, "{\"level\":-2147483649}",
                "level: -2147483649 out of range for int32");
    s_parse_err(&passerelle__v1__certification__descriptor, "{\"level\":3.25}",
                "level: expected an integer, got 3.25");
    s_parse_err(&passerelle__v1__top_matches_request__descriptor, "{\"limit\":-1}",
                "limit: -1 out of range for uint32");
    s_parse_err(&passerelle__v1__top_matches_request__descriptor, "{\"limit\":4294967296}",
                "limit: 4294967296 out of range for uint32");
    s_parse_err(&passerelle__v1__certification__descriptor, "{\"level\":1e300}",
                "level: integer 1e+300 out of range");
}

static void test_oneof(void **state)
{
    Passerelle__V1__Location *loc;

    (void)state;
    s_parse_err(
        EVENT, "{\"graduateUpsert\":{},\"vacancyUpsert\":{}}",
        "vacancyUpsert: only one field of a oneof may be set, and graduateUpsert is already set");
    s_parse_err(
        EVENT,
        "{\"vacancyUpsert\":{\"vacancy\":{\"site\":{\"communeCode\":\"65440\",\"point\":{}}}}}",
        "vacancyUpsert.vacancy.site.point: only one field of a oneof may be set, "
        "and communeCode is already set");
    /* a null member does not count */
    loc = (Passerelle__V1__Location *)s_parse_ok(&passerelle__v1__location__descriptor,
                                                 "{\"point\":null,\"communeCode\":\"2A004\"}");
    assert_int_equal(loc->place_case, PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE);
    assert_string_equal(loc->commune_code, "2A004");
    protobuf_c_message_free_unpacked(&loc->base, NULL);
    /* a set member is rendered even when empty or at its default value */
    loc = (Passerelle__V1__Location *)s_parse_ok(&passerelle__v1__location__descriptor,
                                                 "{\"communeCode\":\"\"}");
    assert_int_equal(loc->place_case, PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE);
    s_render_is(&loc->base, 0, "{\"communeCode\":\"\"}");
    protobuf_c_message_free_unpacked(&loc->base, NULL);
    loc = (Passerelle__V1__Location *)s_parse_ok(&passerelle__v1__location__descriptor,
                                                 "{\"point\":{}}");
    s_render_is(&loc->base, 0, "{\"point\":{}}");
    s_render_is(&loc->base, PROTO_JSON_DEFAULTS, "{\"point\":{\"latitude\":0,\"longitude\":0}}");
    protobuf_c_message_free_unpacked(&loc->base, NULL);
    /* failing inside a oneof member frees the half-built member */
    s_parse_err(EVENT,
                "{\"graduateUpsert\":{\"graduate\":{\"home\":{\"point\":{\"latitude\":[]}}}}}",
                "graduateUpsert.graduate.home.point.latitude: expected a number, got an array");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    s_parse_err(EVENT, "{\"eventID\":\"x\"}", "eventID: unknown field of passerelle.v1.Event");
    s_parse_err(
        EVENT,
        "{\"graduateUpsert\":{\"graduate\":{\"home\":{\"point\":{\"latitude\":1,\"altitude\":2}}}}"
        "}",
        "graduateUpsert.graduate.home.point.altitude: unknown field of passerelle.v1.GeoPoint");
    s_parse_err(EVENT,
                "{\"graduateUpsert\":{\"graduate\":{\"certifications\":[{},{\"name\":\"x\"}]}}}",
                "graduateUpsert.graduate.certifications[1].name: unknown field of "
                "passerelle.v1.Certification");
    s_parse_err(
        EVENT,
        "{\"vacancyUpsert\":{\"vacancy\":{\"requiredSkills\":[{\"skill\":\"a\",\"Weight\":1}]}}}",
        "vacancyUpsert.vacancy.requiredSkills[0].Weight: unknown field of "
        "passerelle.v1.WeightedSkill");
}

static void test_type_errors(void **state)
{
    (void)state;
    s_parse_err(
        EVENT,
        "{\"graduateUpsert\":{\"graduate\":{\"home\":{\"point\":{\"latitude\":\"north\"}}}}}",
        "graduateUpsert.graduate.home.point.latitude: expected a number, got the string \"north\"");
    s_parse_err(EVENT,
                "{\"graduate_upsert\":{\"graduate\":{\"home\":{\"point\":{\"latitude\":{}}}}}}",
                "graduate_upsert.graduate.home.point.latitude: expected a number, got an object");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"skills\":[\"a\",7]}}}",
                "graduateUpsert.graduate.skills[1]: expected a string, got a number");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"skills\":[\"a\",null]}}}",
                "graduateUpsert.graduate.skills[1]: null is not allowed in a list");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"skills\":\"a\"}}}",
                "graduateUpsert.graduate.skills: expected an array, got a string");
    s_parse_err(EVENT,
                "{\"graduateUpsert\":{\"graduate\":{\"certifications\":[{\"level\":\"x\"}]}}}",
                "graduateUpsert.graduate.certifications[0].level: expected an integer, got the "
                "string \"x\"");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"drivingLicence\":\"yes\"}}}",
                "graduateUpsert.graduate.drivingLicence: expected true or false, got a string");
    s_parse_err(EVENT, "{\"graduateUpsert\":{\"graduate\":{\"drivingLicence\":1}}}",
                "graduateUpsert.graduate.drivingLicence: expected true or false, got a number");
    s_parse_err(EVENT, "{\"graduateUpsert\":[]}",
                "graduateUpsert: expected an object, got an array");
    s_parse_err(EVENT, "{\"eventId\":12}", "eventId: expected a string, got a number");
    s_parse_err(EVENT, "{\"eventId\":\"a\\u0000b\"}", "eventId: string contains a NUL character");
    /* the JSON text itself */
    s_parse_err(EVENT, "[]", "expected an object, got an array");
    s_parse_err(EVENT, "null", "expected an object, got null");
    s_parse_err(EVENT, "", "invalid JSON: unexpected end of input");
    s_parse_err(EVENT, "{\"eventId\":", "invalid JSON: unexpected end of input");
    s_parse_err_prefix(EVENT, "{\"eventId\":\"a\"} x", "invalid JSON at byte 16");
    s_parse_err_prefix(EVENT, "{\"eventId\":\"a\",}", "invalid JSON at byte");
    s_parse_err_prefix(EVENT, "{'eventId':'a'}x", "invalid JSON at byte");
}

static void test_nulls_and_whitespace(void **state)
{
    Passerelle__V1__Event *ev;
    const char text[] = "  {\"eventId\":null,\"source\":\"s\",\"graduateUpsert\":null}\n\0garbage";

    (void)state;
    ev = (Passerelle__V1__Event *)proto_json_parse(EVENT, text, strlen(text), NULL, 0);
    assert_non_null(ev);
    assert_string_equal(ev->event_id, "");
    assert_int_equal(ev->body_case, PASSERELLE__V1__EVENT__BODY__NOT_SET);
    s_render_is(&ev->base, 0, "{\"source\":\"s\"}");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    /* the length is what counts, not a NUL */
    assert_null(proto_json_parse(EVENT, text, sizeof text - 1, NULL, 0));
    /* a tiny error buffer is never overrun */
    {
        char err[8];
        assert_null(proto_json_parse(EVENT, "[]", 2, err, sizeof err));
        assert_string_equal(err, "expecte");
    }
}

static void test_nan_infinity(void **state)
{
    Passerelle__V1__GeoPoint *pt;

    (void)state;
    pt =
        (Passerelle__V1__GeoPoint *)s_parse_ok(&passerelle__v1__geo_point__descriptor,
                                               "{\"latitude\":\"NaN\",\"longitude\":\"Infinity\"}");
    assert_true(isnan(pt->latitude));
    assert_true(isinf(pt->longitude) && pt->longitude > 0);
    s_render_is(&pt->base, 0, "{\"latitude\":\"NaN\",\"longitude\":\"Infinity\"}");
    protobuf_c_message_free_unpacked(&pt->base, NULL);
    pt = (Passerelle__V1__GeoPoint *)s_parse_ok(
        &passerelle__v1__geo_point__descriptor,
        "{\"latitude\":\"-Infinity\",\"longitude\":\"-1.25e2\"}");
    assert_true(isinf(pt->latitude) && pt->latitude < 0);
    assert_true(pt->longitude == -125.0);
    s_render_is(&pt->base, 0, "{\"latitude\":\"-Infinity\",\"longitude\":-125}");
    protobuf_c_message_free_unpacked(&pt->base, NULL);
    pt = (Passerelle__V1__GeoPoint *)s_parse_ok(&passerelle__v1__geo_point__descriptor,
                                                "{\"latitude\":200,\"longitude\":-0.0}");
    assert_true(pt->latitude == 200.0);
    assert_true(signbit(pt->longitude));
    s_render_is(&pt->base, 0, "{\"latitude\":200,\"longitude\":-0}");
    protobuf_c_message_free_unpacked(&pt->base, NULL);
    /* doubles are written in their shortest exact form */
    pt = (Passerelle__V1__GeoPoint *)s_parse_ok(&passerelle__v1__geo_point__descriptor,
                                                "{\"latitude\":43.23,\"longitude\":1e-300}");
    s_render_is(&pt->base, 0, "{\"latitude\":43.23,\"longitude\":1e-300}");
    protobuf_c_message_free_unpacked(&pt->base, NULL);

    s_parse_err_prefix(&passerelle__v1__geo_point__descriptor, "{\"latitude\":NaN}",
                       "latitude: number out of range (write NaN and infinities as the strings");
    s_parse_err_prefix(&passerelle__v1__geo_point__descriptor, "{\"latitude\":1e400}",
                       "latitude: number out of range");
    s_parse_err(&passerelle__v1__geo_point__descriptor, "{\"latitude\":\"nan\"}",
                "latitude: expected a number, got the string \"nan\"");
    s_parse_err(&passerelle__v1__geo_point__descriptor, "{\"latitude\":\"0x10\"}",
                "latitude: expected a number, got the string \"0x10\"");
    s_parse_err(&passerelle__v1__geo_point__descriptor, "{\"latitude\":\"1e999\"}",
                "latitude: number 1e999 out of range");
    s_parse_err(&passerelle__v1__geo_point__descriptor, "{\"latitude\":true}",
                "latitude: expected a number, got a boolean");
}

static void test_map_field(void **state)
{
    Passerelle__V1__Stats *st;

    (void)state;
    st = (Passerelle__V1__Stats *)s_parse_ok(
        &passerelle__v1__stats__descriptor,
        "{\"version\":\"0.1.0\",\"rejectedByError\":{\"ERROR_CODE_TOO_LARGE\":\"3\","
        "\"ERROR_CODE_BAD_FORMAT\":7}}");
    assert_int_equal(st->n_rejected_by_error, 2);
    assert_string_equal(st->rejected_by_error[0]->key, "ERROR_CODE_TOO_LARGE");
    assert_int_equal(st->rejected_by_error[0]->value, 3);
    assert_string_equal(st->rejected_by_error[1]->key, "ERROR_CODE_BAD_FORMAT");
    assert_int_equal(st->rejected_by_error[1]->value, 7);
    s_render_is(&st->base, 0,
                "{\"version\":\"0.1.0\",\"rejectedByError\":{\"ERROR_CODE_TOO_LARGE\":\"3\","
                "\"ERROR_CODE_BAD_FORMAT\":\"7\"}}");
    protobuf_c_message_free_unpacked(&st->base, NULL);
    s_roundtrip(&passerelle__v1__stats__descriptor,
                "{\"version\":\"0.1.0\",\"events\":\"12\",\"rejectedByError\":{\"ERROR_CODE_NONE\":"
                "\"0\",\"x\":\"1\"}}");

    s_parse_err(&passerelle__v1__stats__descriptor, "{\"rejected_by_error\":{\"A\":\"x\"}}",
                "rejected_by_error[\"A\"]: expected an integer, got the string \"x\"");
    s_parse_err(&passerelle__v1__stats__descriptor, "{\"rejectedByError\":{\"A\":1,\"B\":null}}",
                "rejectedByError[\"B\"]: null is not allowed as a map value");
    s_parse_err(&passerelle__v1__stats__descriptor, "{\"rejectedByError\":[]}",
                "rejectedByError: expected an object (a map), got an array");
}

static void test_render_defaults(void **state)
{
    Passerelle__V1__Health health = PASSERELLE__V1__HEALTH__INIT;
    Passerelle__V1__Stats stats = PASSERELLE__V1__STATS__INIT;
    Passerelle__V1__Event ev = PASSERELLE__V1__EVENT__INIT;
    Passerelle__V1__Graduate g = PASSERELLE__V1__GRADUATE__INIT;
    Passerelle__V1__GraduateUpsert up = PASSERELLE__V1__GRADUATE_UPSERT__INIT;
    char *text;

    (void)state;
    s_render_is(&health.base, 0, "{}");
    s_render_is(&health.base, PROTO_JSON_DEFAULTS,
                "{\"live\":false,\"ready\":false,\"detail\":\"\"}");
    text = proto_json_render(&stats.base, PROTO_JSON_DEFAULTS);
    assert_non_null(text);
    assert_non_null(strstr(text, "{\"version\":\"\",\"uptimeS\":\"0\",\"graduates\":\"0\","));
    assert_non_null(strstr(text, ",\"commitUsLast\":\"0\",\"rejectedByError\":{}"));
    free(text);
    /* fields with presence (messages, oneof members) are not invented */
    s_render_is(&ev.base, PROTO_JSON_DEFAULTS,
                "{\"eventId\":\"\",\"source\":\"\",\"occurredAtMs\":\"0\"}");
    ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT;
    ev.graduate_upsert = &up;
    up.graduate = &g;
    s_render_is(&ev.base, 0, "{\"graduateUpsert\":{\"graduate\":{}}}");
    s_render_is(&g.base, PROTO_JSON_DEFAULTS,
                "{\"graduateId\":\"\",\"schoolId\":\"\",\"certifications\":[],\"skills\":[],"
                "\"mobilityRadiusKm\":0,\"contractTypes\":[],\"availableFrom\":\"\","
                "\"drivingLicence\":false}");
    /* pretty output: one field a line, same content */
    health.live = 1;
    s_render_is(&health.base, PROTO_JSON_PRETTY, "{\n  \"live\": true\n}");
    assert_null(proto_json_render(NULL, 0));
}

/* bytes, float, proto3 optional, integer map keys and the other integer
 * types, on the hand-made descriptor. */
static void test_scalars_message(void **state)
{
    static const char in[] =
        "{\"f\":0.1,\"b\":\"aGVsbG8=\",\"rb\":[\"\",\"Zm9v\",\"Zm9vYg\",\"_-8=\"],\"oi\":0,"
        "\"im\":{\"1\":\"one\",\"-2\":\"minus two\"},\"u32\":\"4294967295\","
        "\"s64\":\"-9223372036854775808\",\"f64\":\"18446744073709551615\"}";
    static const char out[] =
        "{\"f\":0.1,\"b\":\"aGVsbG8=\",\"rb\":[\"\",\"Zm9v\",\"Zm9vYg==\",\"/+8=\"],\"oi\":0,"
        "\"im\":{\"1\":\"one\",\"-2\":\"minus two\"},\"u32\":4294967295,"
        "\"s64\":\"-9223372036854775808\",\"f64\":\"18446744073709551615\"}";
    t_scalars_t *m;

    (void)state;
    m = (t_scalars_t *)s_parse_ok(&s_scalars_desc, in);
    assert_true(m->f == 0.1f);
    assert_int_equal(m->b.len, 5);
    assert_memory_equal(m->b.data, "hello", 5);
    assert_int_equal(m->n_rb, 4);
    assert_int_equal(m->rb[0].len, 0);
    assert_int_equal(m->rb[2].len, 4);
    assert_memory_equal(m->rb[2].data, "foob", 4);
    assert_int_equal(m->rb[3].len, 2);
    assert_memory_equal(m->rb[3].data, "\xff\xef", 2);
    assert_true(m->has_oi);
    assert_int_equal(m->oi, 0);
    assert_int_equal(m->n_im, 2);
    assert_int_equal(m->im[1]->key, -2);
    assert_string_equal(m->im[1]->value, "minus two");
    assert_true(m->u32 == UINT32_MAX);
    assert_true(m->s64 == INT64_MIN);
    assert_true(m->f64 == UINT64_MAX);
    s_render_is(&m->base, 0, out);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    s_roundtrip(&s_scalars_desc, out);
    /* without "oi", has_oi stays false and nothing is rendered */
    m = (t_scalars_t *)s_parse_ok(&s_scalars_desc, "{\"f\":\"-Infinity\"}");
    assert_false(m->has_oi);
    s_render_is(&m->base, 0, "{\"f\":\"-Infinity\"}");
    s_render_is(&m->base, PROTO_JSON_DEFAULTS,
                "{\"f\":\"-Infinity\",\"b\":\"\",\"rb\":[],\"im\":{},\"u32\":0,\"s64\":\"0\","
                "\"f64\":\"0\"}");
    protobuf_c_message_free_unpacked(&m->base, NULL);

    s_parse_err(&s_scalars_desc, "{\"b\":\"a\"}", "b: invalid base64");
    s_parse_err(&s_scalars_desc, "{\"b\":\"a$==\"}", "b: invalid base64");
    s_parse_err(&s_scalars_desc, "{\"rb\":[\"Zm9v\",3]}",
                "rb[1]: expected a base64 string, got a number");
    s_parse_err(&s_scalars_desc, "{\"f\":1e39}", "f: 1e+39 out of range for float");
    s_parse_err(&s_scalars_desc, "{\"im\":{\"x\":\"y\"}}",
                "im[\"x\"]: expected an integer, got the string \"x\"");
    s_parse_err(&s_scalars_desc, "{\"im\":{\"3000000000\":\"y\"}}",
                "im[\"3000000000\"]: 3000000000 out of range for int32");
    s_parse_err(&s_scalars_desc, "{\"im\":{\"1\":2}}",
                "im[\"1\"]: expected a string, got a number");
    s_parse_err(&s_scalars_desc, "{\"u32\":-1}", "u32: -1 out of range for fixed32");
    s_parse_err(&s_scalars_desc, "{\"f64\":\"-1\"}", "f64: -1 out of range for fixed64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graduate_roundtrip),
        cmocka_unit_test(test_vacancy_roundtrip),
        cmocka_unit_test(test_proto_names_accepted),
        cmocka_unit_test(test_enum_name_and_number),
        cmocka_unit_test(test_int64_forms),
        cmocka_unit_test(test_int32_forms),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_nulls_and_whitespace),
        cmocka_unit_test(test_nan_infinity),
        cmocka_unit_test(test_map_field),
        cmocka_unit_test(test_render_defaults),
        cmocka_unit_test(test_scalars_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
