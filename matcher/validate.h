/* validate.h - the ingest edge: a decoded protobuf Event becomes a
 * matcher_event_t of plain store structs, or a precise refusal.
 *
 * Every rule of the contract (the .proto files in proto/) is checked here:
 * required fields, UTF-8, id syntax, numeric ranges, finiteness, enum values,
 * list and string sizes, dates, duplicates, cross-field consistency. Rules
 * that need the store (unknown entity, owner mismatch) are checked in apply.c.
 */
#ifndef MATCHER_VALIDATE_H
#define MATCHER_VALIDATE_H

#include <stdint.h>

#include "passerelle/v1/ingest.pb-c.h"
#include "store_model.h"

#define MATCHER_EVENT_ID_MAX 128
#define MATCHER_SOURCE_MAX   64

/* A withdrawal, erasure or closure: which entity, whose, and the new state. */
typedef struct {
    char id[STORE_ID_MAX + 1];
    char owner[STORE_ID_MAX + 1]; /* school_id or employer_id */
    uint8_t state;                /* store_state_t; unused for erasure */
} matcher_ref_t;

typedef struct {
    uint8_t type; /* store_event_type_t */
    char event_id[MATCHER_EVENT_ID_MAX + 1];
    char source[MATCHER_SOURCE_MAX + 1];
    int64_t occurred_ms;
    union {
        store_graduate_t grad; /* STORE_EV_GRADUATE_UPSERT */
        store_vacancy_t vac;   /* STORE_EV_VACANCY_UPSERT */
        matcher_ref_t ref;     /* the other types */
    } u;
} matcher_event_t;

/* Why an event is refused: a passerelle.v1.ErrorCode, the field path
 * ("graduate_upsert.graduate.skills[3]") and a sentence for humans. */
typedef struct {
    int code;
    char field[160];
    char message[256];
} matcher_verdict_t;

/* Check msg against every rule and fill *out. Returns 0 if the event is
 * valid; otherwise -1 with *v describing the first violation found (*out is
 * then unspecified). Borrows msg; keeps no pointer into it. */
int validate_event(const Passerelle__V1__Event *msg, matcher_event_t *out, matcher_verdict_t *v);

/* Set *v to code/field/message (printf-style). Always returns -1. */
int validate_refuse(matcher_verdict_t *v, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 if s is a valid id (1..max bytes of [A-Za-z0-9._:-]). */
int validate_id_syntax(const char *s, size_t max);

#endif
