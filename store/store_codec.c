/* store_codec.c - encode and decode the store's binary records.
 *
 * One writer serves both steps of encoding: with a NULL buffer it only
 * counts bytes, so the size and the bytes can never disagree. The reader
 * latches the first error (a length past the end, a string or count over
 * its bound) and returns zeros from then on, so that decoders stay
 * straight-line code and check once at the end. See store_codec.h.
 */
#include "store_codec.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "store_internal.h"

typedef struct {
    uint8_t *buf; /* NULL: count only */
    size_t cap;
    size_t off;
} s_writer_t;

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t off;
    int bad; /* an inconsistency was seen */
} s_reader_t;

/* ---- fixed-width little-endian integers ------------------------------ */

void store_codec_put_u32(void *p, uint32_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

uint32_t store_codec_get_u32(const void *p)
{
    const uint8_t *b = p;
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

void store_codec_put_u64(void *p, uint64_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

uint64_t store_codec_get_u64(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* ---- writer ---------------------------------------------------------- */

static void s_put_bytes(s_writer_t *w, const void *p, size_t n)
{
    if (w->buf != NULL) {
        assert(n <= w->cap - w->off);
        if (n > 0)
            memcpy(w->buf + w->off, p, n);
    }
    w->off += n;
}

static void s_put_u8(s_writer_t *w, uint8_t v)
{
    s_put_bytes(w, &v, 1);
}

static void s_put_u16(s_writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    s_put_bytes(w, b, 2);
}

static void s_put_u32(s_writer_t *w, uint32_t v)
{
    uint8_t b[4];
    store_codec_put_u32(b, v);
    s_put_bytes(w, b, 4);
}

static void s_put_u64(s_writer_t *w, uint64_t v)
{
    uint8_t b[8];
    store_codec_put_u64(b, v);
    s_put_bytes(w, b, 8);
}

static void s_put_f32(s_writer_t *w, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    s_put_u32(w, v);
}

static void s_put_f64(s_writer_t *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    s_put_u64(w, v);
}

/* u16 length + bytes; the length was bounded by the caller's check. */
static void s_put_str(s_writer_t *w, const char *s)
{
    size_t n = strlen(s);
    s_put_u16(w, (uint16_t)n);
    s_put_bytes(w, s, n);
}

/* u16 length + bytes + NUL: decoders can hand out pointers into the map. */
static void s_put_cstr(s_writer_t *w, const char *s)
{
    s_put_str(w, s);
    s_put_u8(w, 0);
}

/* ---- reader ---------------------------------------------------------- */

static const uint8_t *s_take(s_reader_t *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->buf + r->off;
    r->off += n;
    return p;
}

static uint8_t s_get_u8(s_reader_t *r)
{
    const uint8_t *p = s_take(r, 1);
    return p != NULL ? p[0] : 0;
}

static uint16_t s_get_u16(s_reader_t *r)
{
    const uint8_t *p = s_take(r, 2);
    return p != NULL ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

static uint32_t s_get_u32(s_reader_t *r)
{
    const uint8_t *p = s_take(r, 4);
    return p != NULL ? store_codec_get_u32(p) : 0;
}

static uint64_t s_get_u64(s_reader_t *r)
{
    const uint8_t *p = s_take(r, 8);
    return p != NULL ? store_codec_get_u64(p) : 0;
}

static float s_get_f32(s_reader_t *r)
{
    uint32_t v = s_get_u32(r);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static double s_get_f64(s_reader_t *r)
{
    uint64_t v = s_get_u64(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* A count that must not exceed max. */
static uint16_t s_get_count(s_reader_t *r, size_t max)
{
    uint16_t n = s_get_u16(r);
    if (n > max)
        r->bad = 1;
    return r->bad ? 0 : n;
}

/* A string into dst[cap] (cap includes the NUL). dst stays "" on error. */
static void s_get_str(s_reader_t *r, char *dst, size_t cap)
{
    size_t n = s_get_u16(r);
    if (n >= cap) {
        r->bad = 1;
        return;
    }
    const uint8_t *p = s_take(r, n);
    if (p == NULL)
        return;
    if (memchr(p, 0, n) != NULL) {
        r->bad = 1;
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* A NUL-terminated string of at most max bytes, borrowed from the buffer. */
static const char *s_get_cstr(s_reader_t *r, size_t max, size_t *n_out)
{
    size_t n = s_get_u16(r);
    *n_out = 0;
    if (n > max) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = s_take(r, n + 1);
    if (p == NULL)
        return NULL;
    if (p[n] != 0 || memchr(p, 0, n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    *n_out = n;
    return (const char *)p;
}

/* Every byte consumed and nothing inconsistent. */
static int s_reader_end(const s_reader_t *r)
{
    return (r->bad || r->off != r->len) ? STORE_ECORRUPT : 0;
}

/* ---- shared pieces ----------------------------------------------------- */

/* s is NUL-terminated within its array of cap bytes. */
static int s_str_fits(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

static int s_place_ok(const store_place_t *p)
{
    return s_str_fits(p->commune, sizeof p->commune);
}

static void s_put_place(s_writer_t *w, const store_place_t *p)
{
    s_put_f64(w, p->lat);
    s_put_f64(w, p->lon);
    s_put_str(w, p->commune);
    s_put_u8(w, p->has_point);
}

static void s_get_place(s_reader_t *r, store_place_t *p)
{
    p->lat = s_get_f64(r);
    p->lon = s_get_f64(r);
    s_get_str(r, p->commune, sizeof p->commune);
    p->has_point = s_get_u8(r);
}

static int s_skills_ok(const store_skill_t *s, size_t n)
{
    if (n > STORE_SKILLS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!s_str_fits(s[i].code, sizeof s[i].code))
            return 0;
    return 1;
}

static void s_put_skills(s_writer_t *w, const store_skill_t *s, size_t n)
{
    s_put_u16(w, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        s_put_str(w, s[i].code);
        s_put_f32(w, s[i].weight);
    }
}

static uint16_t s_get_skills(s_reader_t *r, store_skill_t *s)
{
    uint16_t n = s_get_count(r, STORE_SKILLS_MAX);
    for (size_t i = 0; i < n && !r->bad; i++) {
        s_get_str(r, s[i].code, sizeof s[i].code);
        s[i].weight = s_get_f32(r);
    }
    return n;
}

static int s_codes_ok(const char (*c)[STORE_CODE_MAX + 1], size_t n, size_t max)
{
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!s_str_fits(c[i], sizeof c[i]))
            return 0;
    return 1;
}

static void s_put_codes(s_writer_t *w, const char (*c)[STORE_CODE_MAX + 1], size_t n)
{
    s_put_u16(w, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        s_put_str(w, c[i]);
}

static uint16_t s_get_codes(s_reader_t *r, char (*c)[STORE_CODE_MAX + 1], size_t max)
{
    uint16_t n = s_get_count(r, max);
    for (size_t i = 0; i < n && !r->bad; i++)
        s_get_str(r, c[i], sizeof c[i]);
    return n;
}

/* ---- graduates --------------------------------------------------------- */

static int s_graduate_ok(const store_graduate_t *g)
{
    if (!s_str_fits(g->id, sizeof g->id) || !s_str_fits(g->school, sizeof g->school))
        return 0;
    if (!s_place_ok(&g->home) || g->n_certs > STORE_CERTS_MAX)
        return 0;
    for (size_t i = 0; i < g->n_certs; i++)
        if (!s_str_fits(g->certs[i].rncp, sizeof g->certs[i].rncp))
            return 0;
    return s_skills_ok(g->skills, g->n_skills) && s_codes_ok(g->romes, g->n_romes, STORE_ROMES_MAX);
}

static void s_put_graduate(s_writer_t *w, const store_graduate_t *g)
{
    s_put_u8(w, STORE_CODEC_GRADUATE_V1);
    s_put_str(w, g->id);
    s_put_str(w, g->school);
    s_put_u64(w, (uint64_t)g->version);
    s_put_u8(w, g->state);
    s_put_u8(w, g->licence);
    s_put_u8(w, g->skills_inferred);
    s_put_u32(w, g->contracts);
    s_put_u32(w, (uint32_t)g->radius_km);
    s_put_u32(w, (uint32_t)g->available_from);
    s_put_place(w, &g->home);
    s_put_u16(w, g->n_certs);
    for (size_t i = 0; i < g->n_certs; i++) {
        const store_cert_t *c = &g->certs[i];
        s_put_u8(w, c->kind);
        s_put_u8(w, c->level);
        s_put_str(w, c->rncp);
        s_put_u32(w, (uint32_t)c->obtained);
    }
    s_put_skills(w, g->skills, g->n_skills);
    s_put_codes(w, g->romes, g->n_romes);
}

int store_codec_graduate_size(const store_graduate_t *g, size_t *len)
{
    if (g == NULL || len == NULL || !s_graduate_ok(g))
        return STORE_EINVAL;
    s_writer_t w = {NULL, 0, 0};
    s_put_graduate(&w, g);
    *len = w.off;
    return 0;
}

void store_codec_graduate_encode(const store_graduate_t *g, void *buf, size_t len)
{
    s_writer_t w = {buf, len, 0};
    s_put_graduate(&w, g);
    assert(w.off == len);
}

int store_codec_graduate_decode(const void *buf, size_t len, store_graduate_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    /* the arrays (10 KB) are filled up to their counts only: zeroing them
     * whole was the largest cost of reading records */
    memset(out, 0, offsetof(store_graduate_t, certs));
    if (s_get_u8(&r) != STORE_CODEC_GRADUATE_V1)
        return STORE_ECORRUPT;
    s_get_str(&r, out->id, sizeof out->id);
    s_get_str(&r, out->school, sizeof out->school);
    out->version = (int64_t)s_get_u64(&r);
    out->state = s_get_u8(&r);
    out->licence = s_get_u8(&r);
    out->skills_inferred = s_get_u8(&r);
    out->contracts = s_get_u32(&r);
    out->radius_km = (int32_t)s_get_u32(&r);
    out->available_from = (int32_t)s_get_u32(&r);
    s_get_place(&r, &out->home);
    out->n_certs = s_get_count(&r, STORE_CERTS_MAX);
    for (size_t i = 0; i < out->n_certs && !r.bad; i++) {
        store_cert_t *c = &out->certs[i];
        c->kind = s_get_u8(&r);
        c->level = s_get_u8(&r);
        s_get_str(&r, c->rncp, sizeof c->rncp);
        c->obtained = (int32_t)s_get_u32(&r);
    }
    out->n_skills = s_get_skills(&r, out->skills);
    out->n_romes = s_get_codes(&r, out->romes, STORE_ROMES_MAX);
    return s_reader_end(&r);
}

int store_codec_graduate_head(const void *buf, size_t len, store_head_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    char skip[STORE_ID_MAX + 1], commune[STORE_CODE_MAX + 1];
    if (s_get_u8(&r) != STORE_CODEC_GRADUATE_V1)
        return STORE_ECORRUPT;
    s_get_str(&r, skip, sizeof skip); /* id */
    s_get_str(&r, skip, sizeof skip); /* school */
    (void)s_get_u64(&r);              /* version */
    out->state = s_get_u8(&r);
    out->licence = s_get_u8(&r);
    (void)s_get_u8(&r); /* skills_inferred */
    out->contracts = s_get_u32(&r);
    out->contract = 0;
    out->distance_km = (int32_t)s_get_u32(&r);
    (void)s_get_u32(&r); /* available_from */
    out->lat = s_get_f64(&r);
    out->lon = s_get_f64(&r);
    s_get_str(&r, commune, sizeof commune);
    out->has_point = s_get_u8(&r);
    return r.bad ? STORE_ECORRUPT : 0;
}

/* ---- vacancies --------------------------------------------------------- */

static int s_vacancy_ok(const store_vacancy_t *v)
{
    if (!s_str_fits(v->id, sizeof v->id) || !s_str_fits(v->employer, sizeof v->employer))
        return 0;
    if (!s_place_ok(&v->site))
        return 0;
    if (!s_codes_ok(v->romes, v->n_romes, STORE_ROMES_MAX) ||
        !s_codes_ok(v->rncps, v->n_rncps, STORE_RNCPS_MAX))
        return 0;
    return s_skills_ok(v->required, v->n_required) && s_skills_ok(v->desirable, v->n_desirable);
}

static void s_put_vacancy(s_writer_t *w, const store_vacancy_t *v)
{
    s_put_u8(w, STORE_CODEC_VACANCY_V1);
    s_put_str(w, v->id);
    s_put_str(w, v->employer);
    s_put_u64(w, (uint64_t)v->version);
    s_put_u8(w, v->state);
    s_put_u8(w, v->sector);
    s_put_u8(w, v->contract);
    s_put_u8(w, v->licence_required);
    s_put_u8(w, v->min_level);
    s_put_u32(w, (uint32_t)v->max_distance_km);
    s_put_u32(w, (uint32_t)v->positions);
    s_put_u32(w, (uint32_t)v->start_date);
    s_put_u32(w, (uint32_t)v->expires_on);
    s_put_place(w, &v->site);
    s_put_codes(w, v->romes, v->n_romes);
    s_put_codes(w, v->rncps, v->n_rncps);
    s_put_skills(w, v->required, v->n_required);
    s_put_skills(w, v->desirable, v->n_desirable);
}

int store_codec_vacancy_size(const store_vacancy_t *v, size_t *len)
{
    if (v == NULL || len == NULL || !s_vacancy_ok(v))
        return STORE_EINVAL;
    s_writer_t w = {NULL, 0, 0};
    s_put_vacancy(&w, v);
    *len = w.off;
    return 0;
}

void store_codec_vacancy_encode(const store_vacancy_t *v, void *buf, size_t len)
{
    s_writer_t w = {buf, len, 0};
    s_put_vacancy(&w, v);
    assert(w.off == len);
}

int store_codec_vacancy_head(const void *buf, size_t len, store_head_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    char skip[STORE_ID_MAX + 1], commune[STORE_CODE_MAX + 1];
    if (s_get_u8(&r) != STORE_CODEC_VACANCY_V1)
        return STORE_ECORRUPT;
    s_get_str(&r, skip, sizeof skip); /* id */
    s_get_str(&r, skip, sizeof skip); /* employer */
    (void)s_get_u64(&r);              /* version */
    out->state = s_get_u8(&r);
    (void)s_get_u8(&r); /* sector */
    out->contract = s_get_u8(&r);
    out->licence = s_get_u8(&r);
    (void)s_get_u8(&r); /* min_level */
    out->contracts = 0;
    out->distance_km = (int32_t)s_get_u32(&r);
    (void)s_get_u32(&r); /* positions */
    (void)s_get_u32(&r); /* start_date */
    (void)s_get_u32(&r); /* expires_on */
    out->lat = s_get_f64(&r);
    out->lon = s_get_f64(&r);
    s_get_str(&r, commune, sizeof commune);
    out->has_point = s_get_u8(&r);
    return r.bad ? STORE_ECORRUPT : 0;
}

int store_codec_vacancy_decode(const void *buf, size_t len, store_vacancy_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    memset(out, 0, offsetof(store_vacancy_t, romes)); /* the arrays: up to their counts */
    if (s_get_u8(&r) != STORE_CODEC_VACANCY_V1)
        return STORE_ECORRUPT;
    s_get_str(&r, out->id, sizeof out->id);
    s_get_str(&r, out->employer, sizeof out->employer);
    out->version = (int64_t)s_get_u64(&r);
    out->state = s_get_u8(&r);
    out->sector = s_get_u8(&r);
    out->contract = s_get_u8(&r);
    out->licence_required = s_get_u8(&r);
    out->min_level = s_get_u8(&r);
    out->max_distance_km = (int32_t)s_get_u32(&r);
    out->positions = (int32_t)s_get_u32(&r);
    out->start_date = (int32_t)s_get_u32(&r);
    out->expires_on = (int32_t)s_get_u32(&r);
    s_get_place(&r, &out->site);
    out->n_romes = s_get_codes(&r, out->romes, STORE_ROMES_MAX);
    out->n_rncps = s_get_codes(&r, out->rncps, STORE_RNCPS_MAX);
    out->n_required = s_get_skills(&r, out->required);
    out->n_desirable = s_get_skills(&r, out->desirable);
    return s_reader_end(&r);
}

/* ---- log records ------------------------------------------------------- */

#define S_DEDUPE_TEXT_MAX (STORE_DEDUPE_KEY_MAX - 1) /* source + event_id */

static void s_put_event(s_writer_t *w, const store_event_t *ev)
{
    s_put_u8(w, STORE_CODEC_EVENT_V1);
    s_put_u8(w, ev->type);
    s_put_u8(w, ev->entity_kind);
    s_put_u64(w, (uint64_t)ev->occurred_ms);
    s_put_u64(w, (uint64_t)ev->received_ms);
    s_put_cstr(w, ev->source);
    s_put_cstr(w, ev->event_id);
    s_put_cstr(w, ev->entity_id);
    s_put_u32(w, (uint32_t)ev->payload_len);
    s_put_bytes(w, ev->payload, ev->payload_len);
}

int store_codec_event_size(const store_event_t *ev, size_t *len)
{
    if (ev == NULL || len == NULL || ev->source == NULL || ev->event_id == NULL ||
        ev->entity_id == NULL)
        return STORE_EINVAL;
    size_t n_src = strnlen(ev->source, S_DEDUPE_TEXT_MAX + 1);
    size_t n_evid = strnlen(ev->event_id, S_DEDUPE_TEXT_MAX + 1);
    size_t n_ent = strnlen(ev->entity_id, STORE_ID_MAX + 1);
    if (n_src + n_evid > S_DEDUPE_TEXT_MAX || n_ent > STORE_ID_MAX)
        return STORE_EINVAL; /* an empty entity id is an event filed under nobody */
    if (ev->payload_len > UINT32_MAX || (ev->payload == NULL && ev->payload_len > 0))
        return STORE_EINVAL;
    s_writer_t w = {NULL, 0, 0};
    s_put_event(&w, ev);
    *len = w.off;
    return 0;
}

void store_codec_event_encode(const store_event_t *ev, void *buf, size_t len)
{
    s_writer_t w = {buf, len, 0};
    s_put_event(&w, ev);
    assert(w.off == len);
}

int store_codec_event_decode(const void *buf, size_t len, store_event_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    size_t n_src, n_evid, n_ent;
    memset(out, 0, sizeof *out);
    if (s_get_u8(&r) != STORE_CODEC_EVENT_V1)
        return STORE_ECORRUPT;
    out->type = s_get_u8(&r);
    out->entity_kind = s_get_u8(&r);
    out->occurred_ms = (int64_t)s_get_u64(&r);
    out->received_ms = (int64_t)s_get_u64(&r);
    out->source = s_get_cstr(&r, S_DEDUPE_TEXT_MAX, &n_src);
    out->event_id = s_get_cstr(&r, S_DEDUPE_TEXT_MAX - n_src, &n_evid);
    out->entity_id = s_get_cstr(&r, STORE_ID_MAX, &n_ent);
    out->payload_len = s_get_u32(&r);
    out->payload = s_take(&r, out->payload_len);
    if (s_reader_end(&r) != 0) {
        memset(out, 0, sizeof *out);
        return STORE_ECORRUPT;
    }
    return 0;
}

/* ---- ranked lists ------------------------------------------------------ */

/* Entries are small and a list is rewritten on every change of its
 * ranking, so ids take a one-byte length (STORE_ID_MAX < 256) and no NUL:
 * decoding copies them into the struct anyway. */
_Static_assert(STORE_ID_MAX <= UINT8_MAX, "list entry ids need a u8 length");

static void s_put_list(s_writer_t *w, const store_list_t *l)
{
    s_put_u8(w, STORE_CODEC_LIST_V1);
    s_put_u8(w, l->exhaustive ? 1 : 0);
    s_put_u16(w, l->n);
    for (size_t i = 0; i < l->n; i++) {
        size_t n = strlen(l->e[i].id);
        s_put_u32(w, l->e[i].micro);
        s_put_u8(w, (uint8_t)n);
        s_put_bytes(w, l->e[i].id, n);
    }
}

int store_codec_list_size(const store_list_t *l, size_t *len)
{
    if (l == NULL || len == NULL || l->n > STORE_LIST_MAX)
        return STORE_EINVAL;
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].id[0] == '\0' || !s_str_fits(l->e[i].id, sizeof l->e[i].id))
            return STORE_EINVAL;
    s_writer_t w = {NULL, 0, 0};
    s_put_list(&w, l);
    *len = w.off;
    return 0;
}

void store_codec_list_encode(const store_list_t *l, void *buf, size_t len)
{
    s_writer_t w = {buf, len, 0};
    s_put_list(&w, l);
    assert(w.off == len);
}

/* One entry id: u8 length 1..STORE_ID_MAX, bytes without NUL. */
static void s_get_id8(s_reader_t *r, char dst[STORE_ID_MAX + 1])
{
    size_t n = s_get_u8(r);
    if (n == 0 || n > STORE_ID_MAX) {
        r->bad = 1;
        return;
    }
    const uint8_t *p = s_take(r, n);
    if (p == NULL)
        return;
    if (memchr(p, 0, n) != NULL) {
        r->bad = 1;
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

int store_codec_list_decode(const void *buf, size_t len, store_list_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    memset(out, 0, sizeof *out);
    if (s_get_u8(&r) != STORE_CODEC_LIST_V1)
        return STORE_ECORRUPT;
    uint8_t flags = s_get_u8(&r);
    if (flags > 1)
        r.bad = 1;
    out->exhaustive = flags;
    out->n = s_get_count(&r, STORE_LIST_MAX);
    for (size_t i = 0; i < out->n && !r.bad; i++) {
        out->e[i].micro = s_get_u32(&r);
        s_get_id8(&r, out->e[i].id);
    }
    if (s_reader_end(&r) != 0) {
        memset(out, 0, sizeof *out);
        return STORE_ECORRUPT;
    }
    return 0;
}

/* ---- match records ------------------------------------------------------ */

static void s_put_match(s_writer_t *w, const store_match_t *m)
{
    s_put_u8(w, STORE_CODEC_MATCH_V1);
    s_put_u64(w, (uint64_t)m->at_ms);
    s_put_cstr(w, m->graduate_id);
    s_put_u8(w, m->n_topics);
    for (size_t i = 0; i < m->n_topics; i++)
        s_put_cstr(w, m->topics[i]);
    s_put_u32(w, (uint32_t)m->payload_len);
    s_put_bytes(w, m->payload, m->payload_len);
}

/* The match record's bounds (see store_codec.h). */
static int s_match_ok(const store_match_t *m)
{
    if (m->graduate_id == NULL || strnlen(m->graduate_id, STORE_ID_MAX + 1) > STORE_ID_MAX)
        return 0;
    if (m->n_topics < 1 || m->n_topics > STORE_TOPICS_MAX)
        return 0;
    for (size_t i = 0; i < m->n_topics; i++) {
        size_t n = m->topics[i] != NULL ? strnlen(m->topics[i], STORE_TOPIC_MAX + 1) : 0;
        if (n == 0 || n > STORE_TOPIC_MAX)
            return 0;
    }
    return m->payload_len <= UINT32_MAX && (m->payload != NULL || m->payload_len == 0);
}

int store_codec_match_size(const store_match_t *m, size_t *len)
{
    if (m == NULL || len == NULL || !s_match_ok(m))
        return STORE_EINVAL;
    s_writer_t w = {NULL, 0, 0};
    s_put_match(&w, m);
    *len = w.off;
    return 0;
}

void store_codec_match_encode(const store_match_t *m, void *buf, size_t len)
{
    s_writer_t w = {buf, len, 0};
    s_put_match(&w, m);
    assert(w.off == len);
}

int store_codec_match_decode(const void *buf, size_t len, store_match_t *out)
{
    s_reader_t r = {buf, len, 0, buf == NULL};
    size_t n;
    memset(out, 0, sizeof *out);
    if (s_get_u8(&r) != STORE_CODEC_MATCH_V1)
        return STORE_ECORRUPT;
    out->at_ms = (int64_t)s_get_u64(&r);
    out->graduate_id = s_get_cstr(&r, STORE_ID_MAX, &n);
    out->n_topics = s_get_u8(&r);
    if (out->n_topics < 1 || out->n_topics > STORE_TOPICS_MAX)
        r.bad = 1;
    for (size_t i = 0; i < out->n_topics && !r.bad; i++) {
        out->topics[i] = s_get_cstr(&r, STORE_TOPIC_MAX, &n);
        if (n == 0)
            r.bad = 1;
    }
    out->payload_len = s_get_u32(&r);
    out->payload = s_take(&r, out->payload_len);
    if (s_reader_end(&r) != 0) {
        memset(out, 0, sizeof *out);
        return STORE_ECORRUPT;
    }
    return 0;
}
