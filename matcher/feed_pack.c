/* feed_pack.c - see feed_pack.h.
 *
 * Wire format (protobuf encoding): each field is a tag (field number << 3
 * | wire type) then a varint (0), 8 little-endian bytes (1) or a length
 * and that many bytes (2). Enums are int32: a negative one takes 10 bytes,
 * as protobuf-c writes it.
 */
#include "feed_pack.h"

#include <string.h>

enum { S_VARINT = 0, S_FIXED64 = 1, S_LEN = 2 };

static size_t s_vsize(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint64_t s_enum(int v)
{
    return (uint64_t)(int64_t)(int32_t)v;
}

static size_t s_tag_size(unsigned field)
{
    return s_vsize((uint64_t)field << 3);
}

/* ---- sizes ----------------------------------------------------------------- */

static size_t s_varint_field_size(unsigned field, uint64_t v)
{
    return v ? s_tag_size(field) + s_vsize(v) : 0;
}

static size_t s_double_field_size(unsigned field, double v)
{
    return v != 0 ? s_tag_size(field) + 8 : 0;
}

static size_t s_string_field_size(unsigned field, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n ? s_tag_size(field) + s_vsize(n) + n : 0;
}

/* A sub-message of body size n, with its tag and length. */
static size_t s_sub_size(unsigned field, size_t n)
{
    return s_tag_size(field) + s_vsize(n) + n;
}

static size_t s_skill_size(const Passerelle__V1__SkillRef *s)
{
    return s_string_field_size(1, s->code) + s_string_field_size(2, s->label) +
           s_double_field_size(3, s->weight);
}

static size_t s_explanation_size(const Passerelle__V1__Explanation *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_matched_skills; i++)
        n += s_sub_size(1, s_skill_size(e->matched_skills[i]));
    for (size_t i = 0; i < e->n_missing_required_skills; i++)
        n += s_sub_size(2, s_skill_size(e->missing_required_skills[i]));
    return n + s_double_field_size(3, e->distance_km) +
           s_varint_field_size(4, s_enum(e->certification_fit)) +
           s_string_field_size(5, e->certification_rncp) +
           s_string_field_size(6, e->certification_label) +
           s_double_field_size(7, e->skills_share) +
           s_double_field_size(8, e->certification_share) +
           s_double_field_size(9, e->distance_share) + s_double_field_size(10, e->start_date_share);
}

static size_t s_entry_size(const Passerelle__V1__MatchUpdate__PreviousSequenceEntry *e)
{
    return s_string_field_size(1, e->key) + s_varint_field_size(2, e->value);
}

size_t feed_pack_size(const Passerelle__V1__MatchUpdate *m)
{
    size_t n = s_varint_field_size(1, m->sequence) + s_varint_field_size(2, s_enum(m->kind)) +
               s_varint_field_size(3, s_enum(m->side)) + s_string_field_size(4, m->vacancy_id) +
               s_string_field_size(5, m->employer_id) + s_string_field_size(6, m->graduate_id) +
               s_string_field_size(7, m->school_id) + s_varint_field_size(8, m->rank) +
               s_double_field_size(9, m->score);
    if (m->explanation)
        n += s_sub_size(10, s_explanation_size(m->explanation));
    n += s_varint_field_size(11, s_enum(m->left_reason)) +
         s_varint_field_size(12, (uint64_t)m->at_ms) + s_string_field_size(13, m->region_code) +
         s_varint_field_size(14, s_enum(m->sector));
    for (size_t i = 0; i < m->n_previous_sequence; i++)
        n += s_sub_size(15, s_entry_size(m->previous_sequence[i]));
    return n;
}

/* ---- packing --------------------------------------------------------------- */

/* The message is written backwards, from the end of its buffer: a
 * sub-message's body is written before its length is needed, so no size
 * is computed twice. p is where the bytes written so far begin. */

static uint8_t *s_rvarint(uint8_t *p, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    p -= n;
    memcpy(p, tmp, n);
    return p;
}

static uint8_t *s_rtag(uint8_t *p, unsigned field, unsigned wire)
{
    return s_rvarint(p, (uint64_t)(field << 3 | wire));
}

static uint8_t *s_rvarint_field(uint8_t *p, unsigned field, uint64_t v)
{
    return v ? s_rtag(s_rvarint(p, v), field, S_VARINT) : p;
}

static uint8_t *s_rdouble_field(uint8_t *p, unsigned field, double v)
{
    uint64_t bits;
    if (v == 0)
        return p;
    memcpy(&bits, &v, sizeof bits);
    p -= 8;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(bits >> (8 * i));
    return s_rtag(p, field, S_FIXED64);
}

static uint8_t *s_rstring_field(uint8_t *p, unsigned field, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return p;
    p -= n;
    memcpy(p, s, n);
    return s_rtag(s_rvarint(p, n), field, S_LEN);
}

/* The length and tag in front of a sub-message whose body is [p, end). */
static uint8_t *s_rsub_head(uint8_t *p, const uint8_t *end, unsigned field)
{
    return s_rtag(s_rvarint(p, (uint64_t)(end - p)), field, S_LEN);
}

static uint8_t *s_rskill(uint8_t *p, unsigned field, const Passerelle__V1__SkillRef *s)
{
    uint8_t *end = p;
    p = s_rdouble_field(p, 3, s->weight);
    p = s_rstring_field(p, 2, s->label);
    p = s_rstring_field(p, 1, s->code);
    return s_rsub_head(p, end, field);
}

static uint8_t *s_rexplanation(uint8_t *p, const Passerelle__V1__Explanation *e)
{
    uint8_t *end = p;
    p = s_rdouble_field(p, 10, e->start_date_share);
    p = s_rdouble_field(p, 9, e->distance_share);
    p = s_rdouble_field(p, 8, e->certification_share);
    p = s_rdouble_field(p, 7, e->skills_share);
    p = s_rstring_field(p, 6, e->certification_label);
    p = s_rstring_field(p, 5, e->certification_rncp);
    p = s_rvarint_field(p, 4, s_enum(e->certification_fit));
    p = s_rdouble_field(p, 3, e->distance_km);
    for (size_t i = e->n_missing_required_skills; i-- > 0;)
        p = s_rskill(p, 2, e->missing_required_skills[i]);
    for (size_t i = e->n_matched_skills; i-- > 0;)
        p = s_rskill(p, 1, e->matched_skills[i]);
    return s_rsub_head(p, end, 10);
}

size_t feed_pack(const Passerelle__V1__MatchUpdate *m, uint8_t *out, size_t len)
{
    uint8_t *p = out + len;
    for (size_t i = m->n_previous_sequence; i-- > 0;) {
        const Passerelle__V1__MatchUpdate__PreviousSequenceEntry *e = m->previous_sequence[i];
        uint8_t *end = p;
        p = s_rvarint_field(p, 2, e->value);
        p = s_rstring_field(p, 1, e->key);
        p = s_rsub_head(p, end, 15);
    }
    p = s_rvarint_field(p, 14, s_enum(m->sector));
    p = s_rstring_field(p, 13, m->region_code);
    p = s_rvarint_field(p, 12, (uint64_t)m->at_ms);
    p = s_rvarint_field(p, 11, s_enum(m->left_reason));
    if (m->explanation)
        p = s_rexplanation(p, m->explanation);
    p = s_rdouble_field(p, 9, m->score);
    p = s_rvarint_field(p, 8, m->rank);
    p = s_rstring_field(p, 7, m->school_id);
    p = s_rstring_field(p, 6, m->graduate_id);
    p = s_rstring_field(p, 5, m->employer_id);
    p = s_rstring_field(p, 4, m->vacancy_id);
    p = s_rvarint_field(p, 3, s_enum(m->side));
    p = s_rvarint_field(p, 2, s_enum(m->kind));
    p = s_rvarint_field(p, 1, m->sequence);
    return (size_t)(out + len - p);
}
