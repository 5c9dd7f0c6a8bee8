/* test_feed_pack.c - the feed's own MatchUpdate packer (feed_pack.h) must
 * write exactly the bytes protobuf-c writes, whatever the fields hold:
 * empty and NULL strings, zero, negative zero and negative numbers, enum
 * values out of range, explanations with and without skills, map entries
 * with empty keys or zero values. Random messages, compared byte for byte
 * with passerelle__v1__match_update__pack(), and decoded back.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feed_pack.h"

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_next(s_rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static unsigned s_pick(s_rng_t *r, unsigned n)
{
    return (unsigned)(s_next(r) % n);
}

/* Room for one random message and everything it points to. */
typedef struct {
    char strings[64][300];
    size_t n_strings;
    Passerelle__V1__SkillRef skills[40];
    Passerelle__V1__SkillRef *matched[20], *missing[20];
    Passerelle__V1__Explanation e;
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry prev[6];
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry *prev_p[6];
    Passerelle__V1__MatchUpdate m;
} s_msg_t;

/* NULL, empty, short, or long enough for a 2-byte length. */
static char *s_string(s_rng_t *r, s_msg_t *b)
{
    unsigned what = s_pick(r, 8);
    if (what == 0)
        return NULL;
    char *s = b->strings[b->n_strings++ % 64];
    size_t n = what == 1 ? 0 : what == 2 ? 130 + s_pick(r, 160) : 1 + s_pick(r, 20);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(' ' + s_pick(r, 95));
    s[n] = '\0';
    return s;
}

static double s_double(s_rng_t *r)
{
    switch (s_pick(r, 6)) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return (double)s_pick(r, 1000000) / 1e6;
    case 3: return -1234.5;
    case 4: return 1e300;
    default: return (double)(s_next(r) % 100000) / 7.0;
    }
}

static uint64_t s_u64(s_rng_t *r)
{
    switch (s_pick(r, 5)) {
    case 0: return 0;
    case 1: return s_pick(r, 128);
    case 2: return s_pick(r, 1u << 20);
    case 3: return UINT64_MAX - s_pick(r, 10);
    default: return s_next(r);
    }
}

static int s_enum_value(s_rng_t *r)
{
    switch (s_pick(r, 5)) {
    case 0: return 0;
    case 1: return -1 - (int)s_pick(r, 1000); /* out of range: 10 bytes */
    case 2: return 200 + (int)s_pick(r, 100000);
    default: return 1 + (int)s_pick(r, 8);
    }
}

static void s_skill(s_rng_t *r, s_msg_t *b, Passerelle__V1__SkillRef *s)
{
    passerelle__v1__skill_ref__init(s);
    s->code = s_string(r, b);
    s->label = s_string(r, b);
    s->weight = s_double(r);
    /* protobuf-c reads NULL strings of a proto3 message as absent */
}

static void s_random(s_rng_t *r, s_msg_t *b)
{
    Passerelle__V1__MatchUpdate init = PASSERELLE__V1__MATCH_UPDATE__INIT;
    b->n_strings = 0;
    b->m = init;
    Passerelle__V1__MatchUpdate *m = &b->m;
    m->sequence = s_u64(r);
    m->kind = (Passerelle__V1__MatchKind)s_enum_value(r);
    m->side = (Passerelle__V1__ListSide)s_enum_value(r);
    m->vacancy_id = s_string(r, b);
    m->employer_id = s_string(r, b);
    m->graduate_id = s_string(r, b);
    m->school_id = s_string(r, b);
    m->rank = (uint32_t)s_u64(r);
    m->score = s_double(r);
    m->left_reason = (Passerelle__V1__LeftReason)s_enum_value(r);
    m->at_ms = (int64_t)s_u64(r);
    m->region_code = s_string(r, b);
    m->sector = (Passerelle__V1__Sector)s_enum_value(r);
    if (s_pick(r, 4) != 0) {
        Passerelle__V1__Explanation *e = &b->e;
        size_t k = 0;
        passerelle__v1__explanation__init(e);
        e->n_matched_skills = s_pick(r, 20);
        for (size_t i = 0; i < e->n_matched_skills; i++, k++) {
            s_skill(r, b, &b->skills[k]);
            b->matched[i] = &b->skills[k];
        }
        e->matched_skills = b->matched;
        e->n_missing_required_skills = s_pick(r, 20);
        for (size_t i = 0; i < e->n_missing_required_skills; i++, k++) {
            s_skill(r, b, &b->skills[k]);
            b->missing[i] = &b->skills[k];
        }
        e->missing_required_skills = b->missing;
        e->distance_km = s_double(r);
        e->certification_fit = (Passerelle__V1__CertificationFit)s_enum_value(r);
        e->certification_rncp = s_string(r, b);
        e->certification_label = s_string(r, b);
        e->skills_share = s_double(r);
        e->certification_share = s_double(r);
        e->distance_share = s_double(r);
        e->start_date_share = s_double(r);
        m->explanation = e;
    }
    m->n_previous_sequence = s_pick(r, 6);
    for (size_t i = 0; i < m->n_previous_sequence; i++) {
        passerelle__v1__match_update__previous_sequence_entry__init(&b->prev[i]);
        b->prev[i].key = s_string(r, b);
        b->prev[i].value = s_u64(r);
        b->prev_p[i] = &b->prev[i];
    }
    m->previous_sequence = b->prev_p;
}

/* The same bytes as protobuf-c, for 20,000 random messages; and they
 * decode to the fields that were set. */
static void test_same_bytes_as_protobuf_c(void **state)
{
    (void)state;
    static s_msg_t b;
    static uint8_t ours[(1 << 16) + 2], theirs[1 << 16];
    s_rng_t r = {0x9e3779b97f4a7c15ull};
    size_t with_explanation = 0, long_strings = 0;
    for (int it = 0; it < 20000; it++) {
        s_random(&r, &b);
        size_t n = passerelle__v1__match_update__get_packed_size(&b.m);
        assert_true(n <= sizeof theirs);
        assert_int_equal(feed_pack_size(&b.m), n);
        assert_int_equal(passerelle__v1__match_update__pack(&b.m, theirs), n);
        memset(ours, 0xa5, n + 2);
        assert_int_equal(feed_pack(&b.m, ours + 1, n), n);
        assert_memory_equal(ours + 1, theirs, n);
        assert_int_equal(ours[0], 0xa5); /* nothing written outside the n bytes */
        assert_int_equal(ours[n + 1], 0xa5);
        Passerelle__V1__MatchUpdate *d = passerelle__v1__match_update__unpack(NULL, n, ours + 1);
        assert_non_null(d);
        assert_true(d->sequence == b.m.sequence);
        assert_int_equal(d->rank, b.m.rank);
        assert_true(d->at_ms == b.m.at_ms);
        assert_int_equal(d->n_previous_sequence, b.m.n_previous_sequence);
        assert_int_equal(d->explanation != NULL, b.m.explanation != NULL);
        if (d->explanation) {
            with_explanation++;
            assert_int_equal(d->explanation->n_matched_skills, b.m.explanation->n_matched_skills);
            assert_int_equal(d->explanation->n_missing_required_skills,
                             b.m.explanation->n_missing_required_skills);
        }
        long_strings += b.m.vacancy_id && strlen(b.m.vacancy_id) >= 128;
        passerelle__v1__match_update__free_unpacked(d, NULL);
    }
    /* the draws covered what they should */
    assert_true(with_explanation > 10000);
    assert_true(long_strings > 1000);
}

/* A message as the feed writes it (every field set, a full explanation),
 * and the empty message. */
static void test_typical_and_empty(void **state)
{
    (void)state;
    uint8_t ours[4096], theirs[4096];
    Passerelle__V1__MatchUpdate m = PASSERELLE__V1__MATCH_UPDATE__INIT;
    assert_int_equal(feed_pack_size(&m), 0);
    assert_int_equal(feed_pack(&m, ours, 0), 0);
    Passerelle__V1__SkillRef s1 = PASSERELLE__V1__SKILL_REF__INIT;
    Passerelle__V1__SkillRef *sp[1] = {&s1};
    s1.code = "126415";
    s1.label = "Souder à l'arc";
    s1.weight = 0.75;
    Passerelle__V1__Explanation e = PASSERELLE__V1__EXPLANATION__INIT;
    e.matched_skills = sp;
    e.n_matched_skills = 1;
    e.distance_km = 12.5;
    e.certification_fit = PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_EXACT_RNCP;
    e.certification_rncp = "RNCP27470";
    e.certification_label = "CAP Réalisations industrielles en chaudronnerie";
    e.skills_share = 0.4;
    e.certification_share = 0.25;
    e.distance_share = 0.1;
    e.start_date_share = 0.1;
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry p1 =
        PASSERELLE__V1__MATCH_UPDATE__PREVIOUS_SEQUENCE_ENTRY__INIT;
    Passerelle__V1__MatchUpdate__PreviousSequenceEntry *pp[1] = {&p1};
    p1.key = "employer/12345678900011";
    p1.value = 41;
    m.sequence = 42;
    m.kind = PASSERELLE__V1__MATCH_KIND__MATCH_KIND_ENTERED;
    m.side = PASSERELLE__V1__LIST_SIDE__LIST_SIDE_VACANCY;
    m.vacancy_id = "v-1";
    m.employer_id = "12345678900011";
    m.graduate_id = "g-1";
    m.school_id = "0750001A";
    m.rank = 1;
    m.score = 0.85;
    m.explanation = &e;
    m.at_ms = 1764000000000;
    m.region_code = "76";
    m.sector = PASSERELLE__V1__SECTOR__SECTOR_METALWORKING;
    m.previous_sequence = pp;
    m.n_previous_sequence = 1;
    size_t n = passerelle__v1__match_update__pack(&m, theirs);
    assert_int_equal(feed_pack_size(&m), n);
    assert_int_equal(feed_pack(&m, ours, n), n);
    assert_memory_equal(ours, theirs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_protobuf_c),
        cmocka_unit_test(test_typical_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
