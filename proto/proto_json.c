/* proto_json.c - the proto3 JSON mapping over protobuf-c descriptors.
 *
 * One generic walker per direction, driven by ProtobufCMessageDescriptor and
 * ProtobufCFieldDescriptor, so that a new field or message in the contract
 * needs no code here. json-c does the JSON text; this file only maps JSON
 * values to protobuf-c fields and back. See proto_json.h for the rules.
 *
 * Parsed messages are built in the exact memory layout that
 * protobuf_c_message_unpack() produces (every string, array and submessage
 * its own malloc block), so protobuf_c_message_free_unpacked(msg, NULL)
 * frees them. The trap to mind: free_unpacked() walks only what the message
 * claims to hold (n_ counts, oneof case), so those are set *before* the
 * values are parsed and a half-built message is always safe to free.
 */
#include "proto_json.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define S_PATH_MAX 512 /* longer paths are cut in error messages */
#define S_NAME_MAX 128 /* longer field names are emitted as written in .proto */
#define S_SHOW_MAX 64  /* at most this much of a bad value is quoted back */

/* Parser state: where we are (for error messages) and where errors go. */
typedef struct {
    char *err;
    size_t errlen;
    size_t path_len;
    char path[S_PATH_MAX];
} s_parser_t;

/* An integer read from JSON, before it is checked against its field type. */
typedef struct {
    bool neg;
    uint64_t mag;
} s_int_t;

static const char s_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---------------------------------------------------------------- helpers */

static void *s_member(void *msg, unsigned offset)
{
    return (char *)msg + offset;
}

static const void *s_cmember(const void *msg, unsigned offset)
{
    return (const char *)msg + offset;
}

/* ASCII upper case, independent of the locale (as protoc does it). */
static char s_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* True if key is the JSON name of the field called name: protoc drops each
 * '_' and upper-cases the character after it ("event_id" -> "eventId"). */
static bool s_json_name_eq(const char *name, const char *key)
{
    bool upper = false;

    for (; *name != '\0'; name++) {
        if (*name == '_') {
            upper = true;
            continue;
        }
        if (*key++ != (upper ? s_upper(*name) : *name))
            return false;
        upper = false;
    }
    return *key == '\0';
}

/* The JSON name of field name, written to buf. Returns buf, or name itself
 * when buf is too small (absurdly long names are emitted as written). */
static const char *s_json_name(const char *name, char *buf, size_t size)
{
    bool upper = false;
    size_t n = 0;

    if (strlen(name) >= size)
        return name;
    for (; *name != '\0'; name++) {
        if (*name == '_') {
            upper = true;
            continue;
        }
        buf[n++] = upper ? s_upper(*name) : *name;
        upper = false;
    }
    buf[n] = '\0';
    return buf;
}

/* True if entry is protoc's name for the entry type of map field field:
 * "rejected_by_error" -> "RejectedByErrorEntry". */
static bool s_entry_name_eq(const char *field, const char *entry)
{
    bool upper = true;

    for (; *field != '\0'; field++) {
        if (*field == '_') {
            upper = true;
            continue;
        }
        if (*entry++ != (upper ? s_upper(*field) : *field))
            return false;
        upper = false;
    }
    return strcmp(entry, "Entry") == 0;
}

/* True if field f of message type parent is a map. protobuf-c keeps no map
 * flag, so recognise protoc's synthesized entry type by its name and shape. */
static bool s_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *e = f->descriptor;
    size_t plen = strlen(parent->name);

    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2)
        return false;
    if (strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0)
        return false;
    if (strncmp(e->name, parent->name, plen) != 0 || e->name[plen] != '.')
        return false;
    return s_entry_name_eq(f->name, e->name + plen + 1);
}

/* Size of one element of a repeated field of type t, as protobuf-c lays
 * the array out. */
static size_t s_elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* Name of an integer type, for error messages. */
static const char *s_int_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    default: return "integer";
    }
}

/* True for the integer types (what a map key may be besides string, bool). */
static bool s_is_int_type(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_FLOAT && t != PROTOBUF_C_TYPE_DOUBLE && t != PROTOBUF_C_TYPE_BOOL &&
           t != PROTOBUF_C_TYPE_ENUM && t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
           t != PROTOBUF_C_TYPE_MESSAGE;
}

/* True for the singular types whose presence protobuf-c keeps in a has_
 * flag; strings and messages use a NULL pointer instead. */
static bool s_has_flag(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_MESSAGE;
}

/* A new message of type desc with its default values, or NULL. */
static ProtobufCMessage *s_message_new(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *msg = malloc(desc->sizeof_message);

    if (msg != NULL)
        protobuf_c_message_init(desc, msg);
    return msg;
}

/* ----------------------------------------------------------------- base64 */

/* Encode len bytes as standard base64 with padding. Returns a malloc'd
 * NUL-terminated string, or NULL when out of memory. */
static char *s_base64_encode(const uint8_t *data, size_t len)
{
    size_t i, n = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[n++] = s_b64_alphabet[v >> 18 & 63];
        out[n++] = s_b64_alphabet[v >> 12 & 63];
        out[n++] = s_b64_alphabet[v >> 6 & 63];
        out[n++] = s_b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        out[n++] = s_b64_alphabet[v >> 18 & 63];
        out[n++] = s_b64_alphabet[v >> 12 & 63];
        out[n++] = i + 1 < len ? s_b64_alphabet[v >> 6 & 63] : '=';
        out[n++] = '=';
    }
    out[n] = '\0';
    return out;
}

/* Value of a base64 digit in either the standard or the URL-safe alphabet,
 * or -1. */
static int s_base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 text s[0..len), standard or URL-safe, padded or not, into
 * out (malloc'd, NULL when empty) and out_len.
 * Returns 0, -1 on bad input, -2 when out of memory. */
static int s_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    size_t i, n = 0;
    uint32_t acc = 0;
    uint8_t *buf;

    *out = NULL;
    *out_len = 0;
    if (len % 4 == 0 && len > 0 && s[len - 1] == '=')
        len -= (s[len - 2] == '=') ? 2 : 1;
    if (len % 4 == 1)
        return -1;
    if (len == 0)
        return 0;
    buf = malloc(len / 4 * 3 + 2);
    if (buf == NULL)
        return -2;
    for (i = 0; i < len; i++) {
        int d = s_base64_digit(s[i]);
        if (d < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)d;
        if (i % 4 == 3) {
            buf[n++] = (uint8_t)(acc >> 16);
            buf[n++] = (uint8_t)(acc >> 8);
            buf[n++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (len % 4 == 2) {
        buf[n++] = (uint8_t)(acc >> 4);
    } else if (len % 4 == 3) {
        buf[n++] = (uint8_t)(acc >> 10);
        buf[n++] = (uint8_t)(acc >> 2);
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* The shortest "%g" text that reads back as d (as a float if is_float),
 * written to buf (at least 32 bytes). Values from 1 to 1e17 are written
 * without an exponent ("200", not "2e+02"). */
static void s_format_double(double d, bool is_float, char *buf, size_t size)
{
    double m = d < 0 ? -d : d;
    const char *e;
    int prec;

    for (prec = 1; prec <= 17; prec++) {
        double back;
        (void)snprintf(buf, size, "%.*g", prec, d);
        back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)d : back == d)
            break;
    }
    e = strchr(buf, 'e');
    if (e != NULL && m >= 1 && m < 1e17) {
        long exp10 = strtol(e + 1, NULL, 10);
        (void)snprintf(buf, size, "%.*g", (int)exp10 + 1, d);
    }
}

/* ------------------------------------------------------ parse: bookkeeping */

/* Record an error "path: message" in the caller's buffer. Returns -1 so that
 * callers can write `return s_fail(...)`. */
__attribute__((format(printf, 2, 3))) static int s_fail(s_parser_t *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap); /* truncation is fine */
    va_end(ap);
    if (p->err == NULL || p->errlen == 0)
        return -1;
    if (p->path_len > 0)
        (void)snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
    else
        (void)snprintf(p->err, p->errlen, "%s", msg);
    return -1;
}

/* Append a formatted step to the current path. Returns the previous length,
 * to be given back to s_path_pop(). A path too long is cut, never overrun. */
__attribute__((format(printf, 2, 3))) static size_t s_path_push(s_parser_t *p, const char *fmt, ...)
{
    size_t old = p->path_len;
    size_t room = sizeof p->path - old;
    va_list ap;
    int n;

    if (room <= 1)
        return old;
    va_start(ap, fmt);
    n = vsnprintf(p->path + old, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        p->path[old] = '\0';
        return old;
    }
    p->path_len = (size_t)n < room ? old + (size_t)n : sizeof p->path - 1;
    return old;
}

static void s_path_pop(s_parser_t *p, size_t old)
{
    p->path_len = old;
    p->path[old] = '\0';
}

/* How a JSON value looks, for "expected X, got Y" messages. */
static const char *s_json_kind(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "an unknown JSON value";
}

/* ------------------------------------------------------ parse: scalars */

/* Read a JSON integer. json-c clamps integers beyond 64 bits to INT64_MIN
 * or UINT64_MAX without telling, so those two values are refused as bare
 * numbers: they could be anything beyond. */
static int s_int_from_json_int(s_parser_t *p, json_object *v, s_int_t *out)
{
    int64_t i = json_object_get_int64(v);

    if (i == INT64_MIN)
        return s_fail(p, "integer out of range, or at the 64-bit limit "
                         "(write such values as strings)");
    if (i < 0) {
        out->neg = true;
        out->mag = (uint64_t)(-i);
        return 0;
    }
    out->neg = false;
    out->mag = json_object_get_uint64(v);
    if (out->mag == UINT64_MAX)
        return s_fail(p, "integer out of range, or at the 64-bit limit "
                         "(write such values as strings)");
    return 0;
}

/* Read an integer written as a JSON double ("1e3", "5.0"): it must be
 * finite, integral and within 64 bits. Uses no libm. */
static int s_int_from_double(s_parser_t *p, double d, s_int_t *out)
{
    double m = d < 0 ? -d : d;
    char text[40];

    if (!isfinite(d))
        return s_fail(p, "expected an integer, got a non-finite number");
    s_format_double(d, false, text, sizeof text);
    if (m >= 18446744073709551616.0)
        return s_fail(p, "integer %s out of range", text);
    out->neg = d < 0;
    out->mag = (uint64_t)m;
    if ((double)out->mag != m)
        return s_fail(p, "expected an integer, got %s", text);
    return 0;
}

/* Read an integer written as a string: an optional '-' and decimal digits. */
static int s_int_from_string(s_parser_t *p, const char *s, size_t len, s_int_t *out)
{
    size_t i = 0;
    uint64_t m = 0;

    out->neg = len > 0 && s[0] == '-';
    if (out->neg)
        i = 1;
    if (i == len)
        return s_fail(p, "expected an integer, got the string \"%.*s\"", S_SHOW_MAX, s);
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9')
            return s_fail(p, "expected an integer, got the string \"%.*s\"", S_SHOW_MAX, s);
        if (m > (UINT64_MAX - d) / 10)
            return s_fail(p, "integer %.*s out of range", S_SHOW_MAX, s);
        m = m * 10 + d;
    }
    out->mag = m;
    return 0;
}

/* Read an integer from any of its JSON forms. */
static int s_int_from_json(s_parser_t *p, json_object *v, bool allow_string, s_int_t *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: return s_int_from_json_int(p, v, out);
    case json_type_double: return s_int_from_double(p, json_object_get_double(v), out);
    case json_type_string:
        if (allow_string)
            return s_int_from_string(p, json_object_get_string(v),
                                     (size_t)json_object_get_string_len(v), out);
        break;
    default: break;
    }
    return s_fail(p, "expected an integer, got %s", s_json_kind(v));
}

/* Check v against the range of integer type t and store it at dst. */
static int s_int_store(s_parser_t *p, ProtobufCType t, const s_int_t *v, void *dst)
{
    uint64_t lim;

    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t x;
        lim = v->neg ? (uint64_t)INT32_MAX + 1 : INT32_MAX;
        if (v->mag > lim)
            break;
        x = v->neg ? (int32_t)(-(int64_t)v->mag) : (int32_t)v->mag;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t x = (uint32_t)v->mag;
        if ((v->neg && v->mag != 0) || v->mag > UINT32_MAX)
            break;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x;
        lim = v->neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
        if (v->mag > lim)
            break;
        x = !v->neg ? (int64_t)v->mag : v->mag == lim ? INT64_MIN : -(int64_t)v->mag;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (v->neg && v->mag != 0)
            break;
        memcpy(dst, &v->mag, sizeof v->mag);
        return 0;
    default: return s_fail(p, "internal error: %d is not an integer type", (int)t);
    }
    return s_fail(p, "%s%" PRIu64 " out of range for %s", v->neg ? "-" : "", v->mag,
                  s_int_type_name(t));
}

/* Read a double written as a string: "NaN", "Infinity", "-Infinity" or a
 * decimal number (strtod's hex and "inf" spellings are not JSON). */
static int s_double_from_string(s_parser_t *p, const char *s, size_t len, double *out)
{
    char *end = NULL;

    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (len == 0 || len > S_SHOW_MAX || strspn(s, "0123456789+-.eE") != len)
        return s_fail(p, "expected a number, got the string \"%.*s\"", S_SHOW_MAX, s);
    *out = strtod(s, &end);
    if (end != s + len)
        return s_fail(p, "expected a number, got the string \"%s\"", s);
    if (!isfinite(*out))
        return s_fail(p, "number %s out of range", s);
    return 0;
}

/* Read a double from any of its JSON forms. Bare non-finite numbers (json-c
 * reads NaN and 1e999 leniently) are refused: the mapping wants strings. */
static int s_double_from_json(s_parser_t *p, json_object *v, double *out)
{
    s_int_t iv;

    switch (json_object_get_type(v)) {
    case json_type_int:
        if (s_int_from_json_int(p, v, &iv) != 0)
            return -1;
        *out = iv.neg ? -(double)iv.mag : (double)iv.mag;
        return 0;
    case json_type_double:
        *out = json_object_get_double(v);
        if (!isfinite(*out))
            return s_fail(p, "number out of range (write NaN and infinities as the "
                             "strings \"NaN\", \"Infinity\", \"-Infinity\")");
        return 0;
    case json_type_string:
        return s_double_from_string(p, json_object_get_string(v),
                                    (size_t)json_object_get_string_len(v), out);
    default: return s_fail(p, "expected a number, got %s", s_json_kind(v));
    }
}

static int s_parse_float(s_parser_t *p, ProtobufCType t, json_object *v, void *dst)
{
    double d = 0;
    float f;

    if (s_double_from_json(p, v, &d) != 0)
        return -1;
    if (t == PROTOBUF_C_TYPE_DOUBLE) {
        memcpy(dst, &d, sizeof d);
        return 0;
    }
    if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX)) {
        char text[40];
        s_format_double(d, false, text, sizeof text);
        return s_fail(p, "%s out of range for float", text);
    }
    f = (float)d;
    memcpy(dst, &f, sizeof f);
    return 0;
}

static int s_parse_bool(s_parser_t *p, json_object *v, void *dst)
{
    protobuf_c_boolean b;

    if (!json_object_is_type(v, json_type_boolean))
        return s_fail(p, "expected true or false, got %s", s_json_kind(v));
    b = json_object_get_boolean(v) ? 1 : 0;
    memcpy(dst, &b, sizeof b);
    return 0;
}

/* Copy a JSON string into a malloc'd C string at dst (a char *). */
static int s_parse_string(s_parser_t *p, json_object *v, void *dst)
{
    const char *s;
    size_t len;
    char *copy;

    if (!json_object_is_type(v, json_type_string))
        return s_fail(p, "expected a string, got %s", s_json_kind(v));
    s = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
    if (memchr(s, '\0', len) != NULL)
        return s_fail(p, "string contains a NUL character");
    copy = malloc(len + 1);
    if (copy == NULL)
        return s_fail(p, "out of memory");
    memcpy(copy, s, len + 1);
    *(char **)dst = copy; /* the member or element is a char * */
    return 0;
}

/* Decode a base64 JSON string into the ProtobufCBinaryData at dst. */
static int s_parse_bytes(s_parser_t *p, json_object *v, void *dst)
{
    ProtobufCBinaryData bd = {0, NULL};
    int rc;

    if (!json_object_is_type(v, json_type_string))
        return s_fail(p, "expected a base64 string, got %s", s_json_kind(v));
    rc = s_base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &bd.data,
                         &bd.len);
    if (rc == -2)
        return s_fail(p, "out of memory");
    if (rc != 0)
        return s_fail(p, "invalid base64");
    memcpy(dst, &bd, sizeof bd);
    return 0;
}

/* An enum by name, or by number (kept even when unknown: the receiver judges). */
static int s_parse_enum(s_parser_t *p, const ProtobufCEnumDescriptor *ed, json_object *v, void *dst)
{
    const ProtobufCEnumValue *ev;
    s_int_t iv;
    int x;

    if (json_object_is_type(v, json_type_string)) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_object_get_string(v));
        if (ev == NULL)
            return s_fail(p, "unknown value \"%.*s\" of enum %s", S_SHOW_MAX,
                          json_object_get_string(v), ed->name);
        x = ev->value;
    } else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        if (s_int_from_json(p, v, false, &iv) != 0)
            return -1;
        if (iv.mag > (iv.neg ? (uint64_t)INT32_MAX + 1 : INT32_MAX))
            return s_fail(p, "enum value out of range");
        x = iv.neg ? (int)(-(int64_t)iv.mag) : (int)iv.mag;
    } else {
        return s_fail(p, "expected an enum name or number, got %s", s_json_kind(v));
    }
    memcpy(dst, &x, sizeof x);
    return 0;
}

/* ------------------------------------------------------ parse: structure */

static int s_parse_object(s_parser_t *p, ProtobufCMessage *msg, json_object *obj);

/* Allocate a submessage, hang it at dst (a ProtobufCMessage *) at once so
 * that the root's free_unpacked() finds it on error, then fill it. */
static int s_parse_submessage(s_parser_t *p, const ProtobufCMessageDescriptor *desc, json_object *v,
                              void *dst)
{
    ProtobufCMessage *sub;

    if (!json_object_is_type(v, json_type_object))
        return s_fail(p, "expected an object, got %s", s_json_kind(v));
    sub = s_message_new(desc);
    if (sub == NULL)
        return s_fail(p, "out of memory");
    memcpy(dst, &sub, sizeof sub);
    return s_parse_object(p, sub, v);
}

/* Parse the non-null JSON value v as one value of field f into dst, which
 * points at storage of f's C type (the member, or an array element). */
static int s_parse_value(s_parser_t *p, const ProtobufCFieldDescriptor *f, json_object *v,
                         void *dst)
{
    s_int_t iv;

    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: return s_parse_float(p, f->type, v, dst);
    case PROTOBUF_C_TYPE_BOOL: return s_parse_bool(p, v, dst);
    case PROTOBUF_C_TYPE_STRING: return s_parse_string(p, v, dst);
    case PROTOBUF_C_TYPE_BYTES: return s_parse_bytes(p, v, dst);
    case PROTOBUF_C_TYPE_ENUM: return s_parse_enum(p, f->descriptor, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE: return s_parse_submessage(p, f->descriptor, v, dst);
    default:
        if (s_int_from_json(p, v, true, &iv) != 0)
            return -1;
        return s_int_store(p, f->type, &iv, dst);
    }
}

/* Parse a singular field: mark it present (oneof case or has_ flag) and
 * read its value. The case is set before the value so that a half-built
 * oneof submessage is still freed. */
static int s_parse_singular(s_parser_t *p, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                            json_object *v)
{
    char name[S_NAME_MAX];

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *kase = s_member(msg, f->quantifier_offset);
        if (*kase != 0 && *kase != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(msg->descriptor, *kase);
            return s_fail(p, "only one field of a oneof may be set, and %s is already set",
                          other ? s_json_name(other->name, name, sizeof name) : "another");
        }
        *kase = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && s_has_flag(f->type)) {
        protobuf_c_boolean yes = 1;
        memcpy(s_member(msg, f->quantifier_offset), &yes, sizeof yes);
    }
    return s_parse_value(p, f, v, s_member(msg, f->offset));
}

/* Parse a JSON array into repeated field f. The count is raised before each
 * element is parsed, so a failure leaves a message that frees cleanly. */
static int s_parse_list(s_parser_t *p, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                        json_object *v)
{
    size_t *np = s_member(msg, f->quantifier_offset);
    size_t esz = s_elt_size(f->type);
    size_t i, n, mark;
    char *arr;

    if (!json_object_is_type(v, json_type_array))
        return s_fail(p, "expected an array, got %s", s_json_kind(v));
    n = json_object_array_length(v);
    if (n == 0)
        return 0;
    arr = calloc(n, esz);
    if (arr == NULL)
        return s_fail(p, "out of memory");
    memcpy(s_member(msg, f->offset), &arr, sizeof arr);
    *np = 0;
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        mark = s_path_push(p, "[%zu]", i);
        *np = i + 1;
        if (e == NULL)
            return s_fail(p, "null is not allowed in a list");
        if (s_parse_value(p, f, e, arr + i * esz) != 0)
            return -1;
        s_path_pop(p, mark);
    }
    return 0;
}

/* Set the key of map entry e from the JSON object key text. */
static int s_parse_map_key(s_parser_t *p, ProtobufCMessage *e, const ProtobufCFieldDescriptor *kf,
                           const char *key)
{
    void *dst = s_member(e, kf->offset);
    protobuf_c_boolean b;
    s_int_t iv;
    int rc;

    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        char *copy = strdup(key);
        if (copy == NULL)
            return s_fail(p, "out of memory");
        *(char **)dst = copy; /* the member or element is a char * */
        rc = 0;
    } else if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return s_fail(p, "map key must be \"true\" or \"false\"");
        b = key[0] == 't';
        memcpy(dst, &b, sizeof b);
        rc = 0;
    } else if (s_is_int_type(kf->type)) {
        rc = s_int_from_string(p, key, strlen(key), &iv);
        if (rc == 0)
            rc = s_int_store(p, kf->type, &iv, dst);
    } else {
        return s_fail(p, "unsupported map key type");
    }
    if (rc == 0 && kf->label == PROTOBUF_C_LABEL_OPTIONAL && s_has_flag(kf->type)) {
        b = 1;
        memcpy(s_member(e, kf->quantifier_offset), &b, sizeof b);
    }
    return rc;
}

/* Parse a JSON object into map field f (a repeated field of entries). */
static int s_parse_map(s_parser_t *p, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                       json_object *v)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t *np = s_member(msg, f->quantifier_offset);
    struct json_object_iterator it, end;
    ProtobufCMessage **arr;
    size_t n, i = 0, mark;

    if (!json_object_is_type(v, json_type_object))
        return s_fail(p, "expected an object (a map), got %s", s_json_kind(v));
    n = (size_t)json_object_object_length(v);
    if (n == 0)
        return 0;
    arr = calloc(n, sizeof *arr);
    if (arr == NULL)
        return s_fail(p, "out of memory");
    memcpy(s_member(msg, f->offset), &arr, sizeof arr);
    *np = 0;
    it = json_object_iter_begin(v);
    end = json_object_iter_end(v);
    for (; !json_object_iter_equal(&it, &end) && i < n; json_object_iter_next(&it), i++) {
        json_object *val = json_object_iter_peek_value(&it);
        const char *key = json_object_iter_peek_name(&it);
        mark = s_path_push(p, "[\"%s\"]", key);
        arr[i] = s_message_new(ed);
        if (arr[i] == NULL)
            return s_fail(p, "out of memory");
        *np = i + 1;
        if (s_parse_map_key(p, arr[i], &ed->fields[0], key) != 0)
            return -1;
        if (val == NULL)
            return s_fail(p, "null is not allowed as a map value");
        if (s_parse_singular(p, arr[i], &ed->fields[1], val) != 0)
            return -1;
        s_path_pop(p, mark);
    }
    return 0;
}

/* Find the field a JSON key names: its .proto name or its JSON name. */
static const ProtobufCFieldDescriptor *s_field_by_key(const ProtobufCMessageDescriptor *desc,
                                                      const char *key)
{
    const ProtobufCFieldDescriptor *f;
    unsigned i;

    f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    if (f != NULL)
        return f;
    for (i = 0; i < desc->n_fields; i++)
        if (s_json_name_eq(desc->fields[i].name, key))
            return &desc->fields[i];
    return NULL;
}

/* Parse one key/value pair of a JSON object into msg. seen[] flags the
 * fields already given, to refuse "eventId" and "event_id" together. */
static int s_parse_member(s_parser_t *p, ProtobufCMessage *msg, const char *key, json_object *v,
                          unsigned char *seen)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const ProtobufCFieldDescriptor *f = s_field_by_key(desc, key);

    if (f == NULL)
        return s_fail(p, "unknown field of %s", desc->name);
    if (seen[f - desc->fields])
        return s_fail(p, "field %s given more than once", f->name);
    seen[f - desc->fields] = 1;
    if (v == NULL)
        return 0; /* null: the field keeps its default */
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return s_is_map(desc, f) ? s_parse_map(p, msg, f, v) : s_parse_list(p, msg, f, v);
    return s_parse_singular(p, msg, f, v);
}

/* Fill msg (freshly initialised) from the JSON object obj. */
static int s_parse_object(s_parser_t *p, ProtobufCMessage *msg, json_object *obj)
{
    struct json_object_iterator it, end;
    unsigned char *seen;
    size_t mark;
    int rc = 0;

    if (!json_object_is_type(obj, json_type_object))
        return s_fail(p, "expected an object, got %s", s_json_kind(obj));
    seen = calloc(msg->descriptor->n_fields + 1, 1);
    if (seen == NULL)
        return s_fail(p, "out of memory");
    it = json_object_iter_begin(obj);
    end = json_object_iter_end(obj);
    for (; rc == 0 && !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        mark = s_path_push(p, p->path_len > 0 ? ".%s" : "%s", key);
        rc = s_parse_member(p, msg, key, json_object_iter_peek_value(&it), seen);
        if (rc == 0)
            s_path_pop(p, mark);
    }
    free(seen);
    return rc;
}

/* Run json-c over json[0..len): exactly one JSON value, then only
 * whitespace. On success *out holds the value (NULL for JSON null). */
static int s_tokenize(s_parser_t *p, const char *json, size_t len, json_object **out)
{
    json_tokener *tok;
    enum json_tokener_error jerr;
    size_t end;

    *out = NULL;
    if (len > INT_MAX)
        return s_fail(p, "JSON text too large (%zu bytes)", len);
    tok = json_tokener_new();
    if (tok == NULL)
        return s_fail(p, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    *out = json_tokener_parse_ex(tok, len > 0 ? json : "", (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* a top-level number or literal is complete only at a terminator */
        *out = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok) == json_tokener_success ? json_tokener_success
                                                                   : json_tokener_continue;
        end = len;
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_continue)
        return s_fail(p, "invalid JSON: unexpected end of input");
    if (jerr != json_tokener_success)
        return s_fail(p, "invalid JSON at byte %zu: %s", end, json_tokener_error_desc(jerr));
    while (end < len && strchr(" \t\r\n", json[end]) != NULL && json[end] != '\0')
        end++;
    if (end < len) {
        json_object_put(*out);
        *out = NULL;
        return s_fail(p, "invalid JSON at byte %zu: unexpected data after the value", end);
    }
    return 0;
}

ProtobufCMessage *proto_json_parse(const ProtobufCMessageDescriptor *desc, const char *json,
                                   size_t len, char *err, size_t errlen)
{
    s_parser_t p = {.err = err, .errlen = errlen, .path_len = 0};
    json_object *root = NULL;
    ProtobufCMessage *msg = NULL;

    p.path[0] = '\0';
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (desc == NULL || (json == NULL && len > 0)) {
        (void)s_fail(&p, "invalid argument");
        return NULL;
    }
    if (s_tokenize(&p, json, len, &root) != 0)
        return NULL;
    msg = s_message_new(desc);
    if (msg == NULL) {
        (void)s_fail(&p, "out of memory");
        goto fail;
    }
    if (s_parse_object(&p, msg, root) != 0)
        goto fail;
    json_object_put(root);
    return msg;
fail:
    protobuf_c_message_free_unpacked(msg, NULL); /* accepts NULL */
    json_object_put(root);                       /* accepts NULL */
    return NULL;
}

/* --------------------------------------------------------------- render */

static json_object *s_render_message(const ProtobufCMessage *msg, int flags);

static json_object *s_render_double(double d, bool is_float)
{
    char buf[40];

    if (isnan(d))
        return json_object_new_string("NaN");
    if (isinf(d))
        return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
    s_format_double(d, is_float, buf, sizeof buf);
    return json_object_new_double_s(d, buf); /* emitted as buf, verbatim */
}

static json_object *s_render_int64(bool is_signed, const void *p)
{
    char buf[24];
    int64_t i;
    uint64_t u;

    if (is_signed) {
        memcpy(&i, p, sizeof i);
        (void)snprintf(buf, sizeof buf, "%" PRId64, i);
    } else {
        memcpy(&u, p, sizeof u);
        (void)snprintf(buf, sizeof buf, "%" PRIu64, u);
    }
    return json_object_new_string(buf);
}

static json_object *s_render_enum(const ProtobufCEnumDescriptor *ed, const void *p)
{
    const ProtobufCEnumValue *ev;
    int x;

    memcpy(&x, p, sizeof x);
    ev = protobuf_c_enum_descriptor_get_value(ed, x);
    return ev != NULL ? json_object_new_string(ev->name) : json_object_new_int(x);
}

static json_object *s_render_bytes(const void *p)
{
    ProtobufCBinaryData bd;
    json_object *v;
    char *text;

    memcpy(&bd, p, sizeof bd);
    text = s_base64_encode(bd.data, bd.data != NULL ? bd.len : 0);
    if (text == NULL)
        return NULL;
    v = json_object_new_string(text);
    free(text);
    return v;
}

/* JSON for one value of field f stored at p (member or array element).
 * NULL when out of memory. */
static json_object *s_render_value(const ProtobufCFieldDescriptor *f, const void *p, int flags)
{
    int32_t i32;
    uint32_t u32;
    float fl;
    double d;
    protobuf_c_boolean b;
    const char *s;
    const ProtobufCMessage *m;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: memcpy(&i32, p, sizeof i32); return json_object_new_int(i32);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: memcpy(&u32, p, sizeof u32); return json_object_new_int64(u32);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return s_render_int64(true, p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return s_render_int64(false, p);
    case PROTOBUF_C_TYPE_FLOAT: memcpy(&fl, p, sizeof fl); return s_render_double(fl, true);
    case PROTOBUF_C_TYPE_DOUBLE: memcpy(&d, p, sizeof d); return s_render_double(d, false);
    case PROTOBUF_C_TYPE_BOOL: memcpy(&b, p, sizeof b); return json_object_new_boolean(b != 0);
    case PROTOBUF_C_TYPE_ENUM: return s_render_enum(f->descriptor, p);
    case PROTOBUF_C_TYPE_STRING:
        memcpy(&s, p, sizeof s);
        return json_object_new_string(s != NULL ? s : "");
    case PROTOBUF_C_TYPE_BYTES: return s_render_bytes(p);
    case PROTOBUF_C_TYPE_MESSAGE:
        memcpy(&m, p, sizeof m);
        return m != NULL ? s_render_message(m, flags) : json_object_new_object();
    }
    return NULL;
}

/* True if the value of field f at p is its type's zero (proto3 default). */
static bool s_is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
    float fl;
    double d;
    const char *s;
    ProtobufCBinaryData bd;

    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT: memcpy(&fl, p, sizeof fl); return fl == 0 && !signbit(fl);
    case PROTOBUF_C_TYPE_DOUBLE: memcpy(&d, p, sizeof d); return d == 0 && !signbit(d);
    case PROTOBUF_C_TYPE_STRING: memcpy(&s, p, sizeof s); return s == NULL || s[0] == '\0';
    case PROTOBUF_C_TYPE_BYTES: memcpy(&bd, p, sizeof bd); return bd.len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)p == NULL;
    default: {
        static const uint8_t zero[8];
        return memcmp(p, zero, s_elt_size(f->type)) == 0;
    }
    }
}

/* Whether field f of msg is emitted: set oneof members, present optional
 * fields and messages always; other fields when not default, or always
 * with PROTO_JSON_DEFAULTS. */
static bool s_render_wanted(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                            int flags)
{
    const void *p = s_cmember(msg, f->offset);
    const void *q = s_cmember(msg, f->quantifier_offset);
    bool defaults = (flags & PROTO_JSON_DEFAULTS) != 0;
    protobuf_c_boolean has;
    uint32_t kase;
    size_t n;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        memcpy(&kase, q, sizeof kase);
        return kase == f->id;
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        memcpy(&n, q, sizeof n);
        return n > 0 || defaults;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)p != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING)
            return *(void *const *)p != NULL && *(void *const *)p != f->default_value;
        memcpy(&has, q, sizeof has);
        return has != 0;
    }
    return f->label == PROTOBUF_C_LABEL_REQUIRED || defaults || !s_is_zero(f, p);
}

static json_object *s_render_list(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                  int flags)
{
    size_t n, i, esz = s_elt_size(f->type);
    const char *arr;
    json_object *list = json_object_new_array();

    if (list == NULL)
        return NULL;
    memcpy(&n, s_cmember(msg, f->quantifier_offset), sizeof n);
    memcpy(&arr, s_cmember(msg, f->offset), sizeof arr);
    for (i = 0; arr != NULL && i < n; i++) {
        json_object *v = s_render_value(f, arr + i * esz, flags);
        if (v == NULL || json_object_array_add(list, v) != 0) {
            json_object_put(v);
            json_object_put(list);
            return NULL;
        }
    }
    return list;
}

/* The JSON object key of map entry e: strings as they are, integers in
 * decimal, bools as "true"/"false". */
static const char *s_map_key(const ProtobufCMessage *e, const ProtobufCFieldDescriptor *kf,
                             char *buf, size_t size)
{
    const char *t = proto_json_scalar_text(kf, s_cmember(e, kf->offset), buf, size);
    return t != NULL ? t : "";
}

const char *proto_json_scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *buf,
                                   size_t size)
{
    protobuf_c_boolean b;
    const char *s;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    double d;
    float fl;

    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: memcpy(&s, p, sizeof s); return s != NULL ? s : "";
    case PROTOBUF_C_TYPE_BOOL: memcpy(&b, p, sizeof b); return b ? "true" : "false";
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        memcpy(&i32, p, sizeof i32);
        (void)snprintf(buf, size, "%" PRId32, i32);
        return buf;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        memcpy(&u32, p, sizeof u32);
        (void)snprintf(buf, size, "%" PRIu32, u32);
        return buf;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        memcpy(&i64, p, sizeof i64);
        (void)snprintf(buf, size, "%" PRId64, i64);
        return buf;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        memcpy(&u64, p, sizeof u64);
        (void)snprintf(buf, size, "%" PRIu64, u64);
        return buf;
    case PROTOBUF_C_TYPE_DOUBLE:
        memcpy(&d, p, sizeof d);
        (void)snprintf(buf, size, "%g", d);
        return buf;
    case PROTOBUF_C_TYPE_FLOAT:
        memcpy(&fl, p, sizeof fl);
        (void)snprintf(buf, size, "%g", (double)fl);
        return buf;
    default: return NULL; /* bytes and messages are not scalars */
    }
}

bool proto_json_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
    return s_is_map(parent, f);
}

static json_object *s_render_map(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                 int flags)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    ProtobufCMessage *const *arr;
    json_object *obj = json_object_new_object();
    char buf[24];
    size_t n, i;

    if (obj == NULL)
        return NULL;
    memcpy(&n, s_cmember(msg, f->quantifier_offset), sizeof n);
    memcpy(&arr, s_cmember(msg, f->offset), sizeof arr);
    for (i = 0; arr != NULL && i < n; i++) {
        json_object *v;
        if (arr[i] == NULL)
            continue;
        v = s_render_value(&ed->fields[1], s_cmember(arr[i], ed->fields[1].offset), flags);
        if (v == NULL || json_object_object_add(
                             obj, s_map_key(arr[i], &ed->fields[0], buf, sizeof buf), v) != 0) {
            json_object_put(v);
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

static json_object *s_render_message(const ProtobufCMessage *msg, int flags)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_object *obj = json_object_new_object();
    char name[S_NAME_MAX];
    unsigned i;

    for (i = 0; obj != NULL && i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        json_object *v;
        if (!s_render_wanted(msg, f, flags))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            v = s_is_map(desc, f) ? s_render_map(msg, f, flags) : s_render_list(msg, f, flags);
        else
            v = s_render_value(f, s_cmember(msg, f->offset), flags);
        if (v == NULL ||
            json_object_object_add(obj, s_json_name(f->name, name, sizeof name), v) != 0) {
            json_object_put(v);
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

char *proto_json_render(const ProtobufCMessage *msg, int flags)
{
    int jflags = JSON_C_TO_STRING_NOSLASHESCAPE;
    json_object *root;
    const char *text;
    char *out = NULL;

    if (msg == NULL)
        return NULL;
    jflags |= (flags & PROTO_JSON_PRETTY) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                          : JSON_C_TO_STRING_PLAIN;
    root = s_render_message(msg, flags);
    if (root == NULL)
        return NULL;
    text = json_object_to_json_string_ext(root, jflags);
    if (text != NULL)
        out = strdup(text);
    json_object_put(root);
    return out;
}
