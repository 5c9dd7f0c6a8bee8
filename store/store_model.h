/* store_model.h - the plain structs that the store persists and indexes.
 *
 * These are Passerelle's own records, independent of the wire format: the
 * matcher converts validated protobuf events into them, and the store
 * serialises them with its own versioned codec (store_codec.c). Every string
 * is NUL-terminated and bounded by the sizes below; the validator enforces
 * the same bounds on input, so a record that reaches the store always fits.
 */
#ifndef STORE_MODEL_H
#define STORE_MODEL_H

#include <stdint.h>

#define STORE_ID_MAX     64  /* bytes of an id, without the NUL */
#define STORE_SKILL_MAX  128 /* bytes of a skill code or label */
#define STORE_CODE_MAX   15  /* RNCP "RNCP123456", ROME "H2913", commune "2A004" */
#define STORE_CERTS_MAX  16
#define STORE_SKILLS_MAX 64
#define STORE_ROMES_MAX  16
#define STORE_RNCPS_MAX  32

typedef enum {
    STORE_CERT_UNSPECIFIED = 0,
    STORE_CERT_CAP = 1,
    STORE_CERT_BAC_PRO = 2,
    STORE_CERT_TITRE_PRO = 3,
    STORE_CERT_OTHER_RNCP = 4
} store_cert_kind_t;

/* Bits of store_graduate_t.contracts and values of store_vacancy_t.contract. */
typedef enum {
    STORE_CONTRACT_CDI = 1,
    STORE_CONTRACT_CDD = 2,
    STORE_CONTRACT_INTERIM = 3,
    STORE_CONTRACT_APPRENTICESHIP = 4,
    STORE_CONTRACT_PROFESSIONALISATION = 5
} store_contract_t;

/* Lifecycle of an entity. Withdrawn graduates and closed vacancies are kept
 * (without index entries) so that a late, older upsert cannot resurrect them. */
typedef enum {
    STORE_STATE_OPEN = 0,      /* graduate available / vacancy open */
    STORE_STATE_HIRED = 1,     /* graduate withdrawn: hired */
    STORE_STATE_LEFT = 2,      /* graduate withdrawn: left */
    STORE_STATE_FILLED = 3,    /* vacancy closed: filled */
    STORE_STATE_CANCELLED = 4, /* vacancy closed: cancelled */
    STORE_STATE_EXPIRED = 5    /* vacancy closed: expired */
} store_state_t;

typedef struct {
    double lat;                       /* degrees */
    double lon;                       /* degrees */
    char commune[STORE_CODE_MAX + 1]; /* INSEE code when given as such, else "" */
    uint8_t has_point;                /* lat/lon are known (given or resolved) */
} store_place_t;

typedef struct {
    uint8_t kind;                  /* store_cert_kind_t */
    uint8_t level;                 /* European level 3..8 */
    char rncp[STORE_CODE_MAX + 1]; /* "RNCP27470" */
    int32_t obtained;              /* days since 1970-01-01; 0 if unknown */
} store_cert_t;

typedef struct {
    char code[STORE_SKILL_MAX + 1];
    float weight; /* 1.0 for graduates' skills */
} store_skill_t;

typedef struct {
    char id[STORE_ID_MAX + 1];
    char school[STORE_ID_MAX + 1];
    int64_t version;         /* occurred_at_ms of the event that wrote it */
    uint8_t state;           /* store_state_t */
    uint8_t licence;         /* holds a driving licence */
    uint8_t skills_inferred; /* skills were inferred from certifications */
    uint32_t contracts;      /* bit (1 << store_contract_t); 0 = any */
    int32_t radius_km;
    int32_t available_from; /* days since epoch; 0 = now */
    store_place_t home;
    uint16_t n_certs;
    uint16_t n_skills;
    uint16_t n_romes;
    store_cert_t certs[STORE_CERTS_MAX];
    store_skill_t skills[STORE_SKILLS_MAX];
    /* ROME codes the certifications lead to (from the reference data),
     * indexed so that vacancies find graduates of their occupation. */
    char romes[STORE_ROMES_MAX][STORE_CODE_MAX + 1];
} store_graduate_t;

typedef struct {
    char id[STORE_ID_MAX + 1];
    char employer[STORE_ID_MAX + 1]; /* SIRET */
    int64_t version;
    uint8_t state;    /* store_state_t */
    uint8_t sector;   /* passerelle.v1.Sector value */
    uint8_t contract; /* store_contract_t */
    uint8_t licence_required;
    uint8_t min_level;       /* 0 = none */
    int32_t max_distance_km; /* 0 = no limit of its own */
    int32_t positions;
    int32_t start_date; /* days since epoch; 0 = asap */
    int32_t expires_on; /* days since epoch; 0 = never */
    store_place_t site;
    uint16_t n_romes;
    uint16_t n_rncps;
    uint16_t n_required;
    uint16_t n_desirable;
    char romes[STORE_ROMES_MAX][STORE_CODE_MAX + 1];
    char rncps[STORE_RNCPS_MAX][STORE_CODE_MAX + 1];
    store_skill_t required[STORE_SKILLS_MAX];
    store_skill_t desirable[STORE_SKILLS_MAX];
} store_vacancy_t;

#endif
