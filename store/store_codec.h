/* store_codec.h - the store's own binary records (internal to store/).
 *
 * Compact little-endian records for graduates, vacancies, event-log
 * entries, ranked lists and stored matches. Each record starts with a
 * record-format byte so that the layout can evolve record by record. Only
 * the used entries of arrays are written; strings are a u16 length and the
 * bytes (log- and match-record strings also carry a trailing NUL so that
 * decoded pointers into the map are C strings).
 *
 * Encoding is two steps so that records can be written straight into LMDB
 * with MDB_RESERVE: *_size() checks the struct against the model bounds and
 * computes the length, *_encode() fills exactly that many bytes.
 *
 * Decoders never read outside [buf, buf + len): every length is checked
 * against the bytes left and against the struct bounds, trailing bytes are
 * refused, and any inconsistency returns STORE_ECORRUPT.
 */
#ifndef STORE_CODEC_H
#define STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Record-format bytes (first byte of each record). */
#define STORE_CODEC_GRADUATE_V1 0x47 /* 'G' */
#define STORE_CODEC_VACANCY_V1  0x56 /* 'V' */
#define STORE_CODEC_EVENT_V1    0x45 /* 'E' */
#define STORE_CODEC_LIST_V1     0x4c /* 'L' */
#define STORE_CODEC_MATCH_V1    0x4d /* 'M' */

/* Length of g's record in *len. STORE_EINVAL if a count exceeds its
 * STORE_*_MAX or a string is not NUL-terminated inside its array. */
int store_codec_graduate_size(const store_graduate_t *g, size_t *len) STORE_WUR;

/* Write g's record into buf; len must be what store_codec_graduate_size
 * returned for the same g. */
void store_codec_graduate_encode(const store_graduate_t *g, void *buf, size_t len);

/* Decode a record into *out: every scalar and string, and the entries of
 * each array up to its count (entries past the count, and the bytes after
 * a string's NUL, are left as they were). 0, or STORE_ECORRUPT (*out is
 * then unspecified). */
int store_codec_graduate_decode(const void *buf, size_t len, store_graduate_t *out) STORE_WUR;

/* The same for vacancies. */
int store_codec_vacancy_size(const store_vacancy_t *v, size_t *len) STORE_WUR;
void store_codec_vacancy_encode(const store_vacancy_t *v, void *buf, size_t len);
int store_codec_vacancy_decode(const void *buf, size_t len, store_vacancy_t *out) STORE_WUR;

/* Read only the leading fields of a record (see store_head_t): what the
 * hard filters check first. STORE_ECORRUPT if they do not decode. */
int store_codec_graduate_head(const void *buf, size_t len, store_head_t *out) STORE_WUR;
int store_codec_vacancy_head(const void *buf, size_t len, store_head_t *out) STORE_WUR;

/* The same for log records. ev->seq is not encoded (it is the key). The
 * size check refuses NULL strings, source + event_id over 400 bytes, an
 * entity id that is empty or over STORE_ID_MAX, a payload over 4 GiB - 1
 * or NULL with a non-zero length. Decoded strings and payload point into
 * buf (borrowed); out->seq is set to 0. */
int store_codec_event_size(const store_event_t *ev, size_t *len) STORE_WUR;
void store_codec_event_encode(const store_event_t *ev, void *buf, size_t len);
int store_codec_event_decode(const void *buf, size_t len, store_event_t *out) STORE_WUR;

/* Ranked lists: u16 n, then per entry u32 micro, u8 id length and the id
 * bytes (no NUL). The size check refuses n > STORE_LIST_MAX and ids that
 * are empty or not NUL-terminated within their array. Decoding copies into
 * *out (every byte set) and refuses the same. */
int store_codec_list_size(const store_list_t *l, size_t *len) STORE_WUR;
void store_codec_list_encode(const store_list_t *l, void *buf, size_t len);
int store_codec_list_decode(const void *buf, size_t len, store_list_t *out) STORE_WUR;

/* Stored matches: i64 at_ms, graduate id (may be empty), u8 n_topics and
 * the topics, u32 payload length and the payload. m->seq is not encoded
 * (it is the key). The size check refuses a NULL graduate id or one over
 * STORE_ID_MAX, 0 or more than STORE_TOPICS_MAX topics, a NULL, empty or
 * over STORE_TOPIC_MAX topic, a payload over 4 GiB - 1 or NULL with a
 * non-zero length. Decoded strings and payload point into buf (borrowed);
 * out->seq is set to 0. */
int store_codec_match_size(const store_match_t *m, size_t *len) STORE_WUR;
void store_codec_match_encode(const store_match_t *m, void *buf, size_t len);
int store_codec_match_decode(const void *buf, size_t len, store_match_t *out) STORE_WUR;

/* Fixed-width little-endian integers (meta values, dedupe values). */
void store_codec_put_u32(void *p, uint32_t v);
uint32_t store_codec_get_u32(const void *p);
void store_codec_put_u64(void *p, uint64_t v);
uint64_t store_codec_get_u64(const void *p);

#endif
