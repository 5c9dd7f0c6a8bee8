/* popgen.c - see popgen.h. */
#define _GNU_SOURCE
#include "popgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passerelle/v1/entities.pb-c.h"
#include "passerelle/v1/ingest.pb-c.h"

#define S_MAX_CERT_ROMES 8 /* in-scope ROME codes kept per certification */
#define S_MAX_G_CERTS    3
#define S_MAX_G_SKILLS   24
#define S_MAX_V_SKILLS   8
#define S_MAX_V_RNCP     3
#define S_MAX_V_ROMES    2

/* Version marker of the identity stream of an entity. */
#define S_IDENTITY 0xFFFFFFFFu

enum { S_KIND_GRADUATE = 1, S_KIND_VACANCY = 2, S_KIND_EMPLOYER = 3 };

/* 2026-03-01T00:00:00Z: first upserts happen then; each version is one
 * second later (4.3 billion versions reach 2162, past the year 2100 that
 * matcherd accepts: a run must stay below 2.33 billion). */
#define S_T0_MS      1772323200000LL
#define S_VERSION_MS 1000LL

/* Days since 1970-01-01 of a few anchors. */
#define S_DAY_2026_06_01 20605
#define S_DAY_2026_06_15 20619

typedef struct {
    char insee[6];
    char region[4];
    double lat, lon;
    uint64_t cum; /* cumulative population, inclusive */
} s_commune_t;

typedef struct {
    char code[6];
    uint32_t *core, *other; /* OGR codes */
    size_t n_core, n_other;
    uint32_t *certs; /* indices into certs[] (CAP/BAC PRO/TP 3-4) */
    size_t n_certs;
    uint32_t *rncp_any; /* indices into rncp_codes[] (any certification) */
    size_t n_rncp_any;
} s_rome_t;

typedef struct {
    char code[16];
    int kind; /* Passerelle__V1__CertificationKind */
    int level;
    uint16_t romes[S_MAX_CERT_ROMES]; /* indices into romes[] */
    uint8_t n_romes;
} s_cert_t;

/* The occupations vacancies favour, with their weights. */
typedef struct {
    const char *code;
    unsigned weight;
    int sector;
} s_target_t;

static const s_target_t s_targets[] = {
    {"H2913", 16, PASSERELLE__V1__SECTOR__SECTOR_METALWORKING}, /* welder */
    {"H2902", 12, PASSERELLE__V1__SECTOR__SECTOR_METALWORKING}, /* boilermaker */
    {"H2914", 5, PASSERELLE__V1__SECTOR__SECTOR_METALWORKING},  /* pipefitter */
    {"H2903", 12, PASSERELLE__V1__SECTOR__SECTOR_MACHINING},    /* turner-miller */
    {"H2912", 4, PASSERELLE__V1__SECTOR__SECTOR_MACHINING},     /* setter */
    {"H2909", 8, PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS},   /* assembler (aero) */
    {"H2901", 4, PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS},   /* fitter */
    {"I1602", 6, PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS},   /* aircraft mechanic */
    {"I1604", 7, PASSERELLE__V1__SECTOR__SECTOR_MECHANICS},     /* car mechanic */
    {"H2803", 3, PASSERELLE__V1__SECTOR__SECTOR_TECHNICAL_CERAMICS},
    {"B1201", 2, PASSERELLE__V1__SECTOR__SECTOR_TECHNICAL_CERAMICS},
    {"I1304", 4, PASSERELLE__V1__SECTOR__SECTOR_INDUSTRIAL_MAINTENANCE},
};
#define S_N_TARGETS   (sizeof s_targets / sizeof s_targets[0])
#define S_TAIL_WEIGHT 17 /* the other in-scope occupations, together */

static const char *const s_free_labels[] = {
    "soudage TIG",
    "soudage MIG-MAG",
    "lecture de plans",
    "CACES R489",
    "habilitation electrique B1V",
    "programmation CN Fanuc",
    "controle par ressuage",
};

struct popgen {
    uint64_t seed;
    size_t n_schools, n_employers;
    /* reference */
    s_commune_t *communes;
    size_t n_communes;
    s_rome_t *romes;
    size_t n_romes;
    s_cert_t *certs;
    size_t n_certs;
    char (*rncp_codes)[16];
    size_t n_rncp_codes;
    size_t n_links;
    uint32_t *all_ogr;            /* storage of every romes[].core/other */
    int target_rome[S_N_TARGETS]; /* index in romes[] or -1 */
    unsigned target_total;
    uint32_t *tail; /* in-scope ROME codes with certifications, not targets */
    size_t n_tail;
    /* scratch */
    uint32_t *pick;
    size_t pick_cap;
    Passerelle__V1__Event ev;
    Passerelle__V1__GraduateUpsert gu;
    Passerelle__V1__GraduateWithdrawn gw;
    Passerelle__V1__VacancyUpsert vu;
    Passerelle__V1__VacancyClosed vc;
    Passerelle__V1__Graduate g;
    Passerelle__V1__Vacancy v;
    Passerelle__V1__Location loc;
    Passerelle__V1__GeoPoint pt;
    Passerelle__V1__Certification cert[S_MAX_G_CERTS];
    Passerelle__V1__Certification *cert_p[S_MAX_G_CERTS];
    char cert_date[S_MAX_G_CERTS][40];
    char *skills[S_MAX_G_SKILLS];
    char skill_buf[S_MAX_G_SKILLS][40];
    Passerelle__V1__WeightedSkill req[S_MAX_V_SKILLS], des[S_MAX_V_SKILLS];
    Passerelle__V1__WeightedSkill *req_p[S_MAX_V_SKILLS], *des_p[S_MAX_V_SKILLS];
    char req_buf[S_MAX_V_SKILLS][16], des_buf[S_MAX_V_SKILLS][16];
    char *rome_p[S_MAX_V_ROMES];
    char *rncp_p[S_MAX_V_RNCP];
    Passerelle__V1__ContractType contracts[5];
    char event_id[64], source[100], id[80], owner[80], commune[8];
    char date1[40], date2[40];
    uint8_t *buf;
    size_t buf_cap;
    char err[256];
};

/* ------------------------------------------------------------------ */
/* Random numbers. */

static uint64_t s_splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void popgen_rng_seed(popgen_rng_t *r, uint64_t seed)
{
    r->s = s_splitmix(seed);
    if (r->s == 0)
        r->s = 0x2545F4914F6CDD1DULL;
}

uint64_t popgen_rng_next(popgen_rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint32_t popgen_rng_below(popgen_rng_t *r, uint32_t n)
{
    return (uint32_t)(((popgen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double popgen_rng_unit(popgen_rng_t *r)
{
    return (double)(popgen_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* The stream of (kind, i, version) under the generator's seed. */
static void s_stream(const popgen_t *self, popgen_rng_t *r, int kind, uint64_t i, uint32_t version)
{
    uint64_t h = s_splitmix(self->seed);
    h = s_splitmix(h ^ (uint64_t)kind);
    h = s_splitmix(h ^ i);
    h = s_splitmix(h ^ version);
    popgen_rng_seed(r, h);
}

static int s_chance(popgen_rng_t *r, double p)
{
    return popgen_rng_unit(r) < p;
}

/* ------------------------------------------------------------------ */
/* Errors, files. */

static void s_fail(popgen_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_fail(popgen_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->err, sizeof self->err, fmt, ap);
    va_end(ap);
}

const char *popgen_error(const popgen_t *self)
{
    return self->err;
}

/* The whole file, NUL-terminated. */
static char *s_slurp(popgen_t *self, const char *dir, const char *name)
{
    char path[4096];
    FILE *f;
    char *text = NULL;
    long size;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        s_fail(self, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        s_fail(self, "cannot size %s", path);
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
        s_fail(self, "cannot read %s", path);
        free(text);
        fclose(f);
        return NULL;
    }
    text[size] = '\0';
    fclose(f);
    return text;
}

/* Next line of *cursor (modified in place), NULL at the end. Header and
 * blank lines are skipped. */
static char *s_line(char **cursor)
{
    for (;;) {
        char *line = *cursor, *nl;
        if (line == NULL || *line == '\0')
            return NULL;
        nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
            *cursor = nl + 1;
        } else {
            *cursor = line + strlen(line);
        }
        if (*line != '#' && *line != '\0')
            return line;
    }
}

/* Split line on TABs into at most max fields. Returns the count. */
static int s_fields(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Reference data. */

static int s_load_communes(popgen_t *self, const char *dir)
{
    char *text = s_slurp(self, dir, "communes.tsv"), *cur = text, *line;
    size_t cap = 0;
    uint64_t cum = 0;

    if (text == NULL)
        return -1;
    while ((line = s_line(&cur)) != NULL) {
        char *f[8];
        s_commune_t *c;
        unsigned long long pop;
        if (s_fields(line, f, 8) < 8 || strlen(f[0]) != 5)
            continue;
        /* one row per (insee, postal): keep the first (rows sorted by insee) */
        if (self->n_communes > 0 && strcmp(self->communes[self->n_communes - 1].insee, f[0]) == 0)
            continue;
        pop = strtoull(f[7], NULL, 10);
        if (pop == 0)
            continue;
        if (self->n_communes == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            void *p = realloc(self->communes, ncap * sizeof *self->communes);
            if (p == NULL) {
                free(text);
                s_fail(self, "out of memory");
                return -1;
            }
            self->communes = p;
            cap = ncap;
        }
        c = &self->communes[self->n_communes++];
        memcpy(c->insee, f[0], 6);
        snprintf(c->region, sizeof c->region, "%s", f[6]);
        c->lat = strtod(f[3], NULL);
        c->lon = strtod(f[4], NULL);
        cum += pop;
        c->cum = cum;
    }
    free(text);
    if (self->n_communes == 0) {
        s_fail(self, "%s/communes.tsv: no commune with a population", dir);
        return -1;
    }
    return 0;
}

static int s_rome_find(const popgen_t *self, const char *code)
{
    size_t lo = 0, hi = self->n_romes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(self->romes[mid].code, code);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int s_push_u32(uint32_t **v, size_t *n, uint32_t x)
{
    /* grow at powers of two */
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 4;
        void *p = realloc(*v, cap * sizeof **v);
        if (p == NULL)
            return -1;
        *v = p;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* rome_skills.tsv: rome ogr core, sorted by rome then core descending. */
static int s_load_rome_skills(popgen_t *self, const char *dir)
{
    char *text = s_slurp(self, dir, "rome_skills.tsv"), *cur, *line;
    size_t rows = 0, cap = 0, used = 0;

    if (text == NULL)
        return -1;
    /* pass 1: count rows and distinct codes */
    cur = text;
    for (char *p = text; *p; p++)
        if (*p == '\n')
            rows++;
    self->all_ogr = calloc(rows + 1, sizeof *self->all_ogr);
    if (self->all_ogr == NULL)
        goto oom;
    /* pass 2: rows are grouped by code; core first within a code */
    while ((line = s_line(&cur)) != NULL) {
        char *f[3];
        s_rome_t *r;
        if (s_fields(line, f, 3) < 3 || strlen(f[0]) != 5)
            continue;
        if (self->n_romes == 0 || strcmp(self->romes[self->n_romes - 1].code, f[0]) != 0) {
            if (self->n_romes > 0 && strcmp(self->romes[self->n_romes - 1].code, f[0]) > 0) {
                s_fail(self, "%s/rome_skills.tsv: not sorted by rome at %s", dir, f[0]);
                free(text);
                return -1;
            }
            if (self->n_romes == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                void *p = realloc(self->romes, ncap * sizeof *self->romes);
                if (p == NULL)
                    goto oom;
                self->romes = p;
                cap = ncap;
            }
            r = &self->romes[self->n_romes++];
            memset(r, 0, sizeof *r);
            memcpy(r->code, f[0], 6);
            r->core = r->other = self->all_ogr + used;
        }
        r = &self->romes[self->n_romes - 1];
        self->all_ogr[used++] = (uint32_t)strtoul(f[1], NULL, 10);
        if (strcmp(f[2], "1") == 0) {
            r->n_core++;
            r->other = r->core + r->n_core;
        } else {
            r->n_other++;
        }
        self->n_links++;
    }
    free(text);
    if (self->n_romes == 0) {
        s_fail(self, "%s/rome_skills.tsv: no rows", dir);
        return -1;
    }
    return 0;
oom:
    free(text);
    s_fail(self, "out of memory");
    return -1;
}

/* Is a ROME code in the industry scope (H*, I13*, I16*, B1201)? */
static int s_in_scope(const char *code)
{
    return code[0] == 'H' || strncmp(code, "I13", 3) == 0 || strncmp(code, "I16", 3) == 0 ||
           strcmp(code, "B1201") == 0;
}

/* rncp.tsv: code title abbrev level romes replaced_by active. */
static int s_load_rncp(popgen_t *self, const char *dir)
{
    char *text = s_slurp(self, dir, "rncp.tsv"), *cur = text, *line;
    size_t cap = 0, ccap = 0;

    if (text == NULL)
        return -1;
    while ((line = s_line(&cur)) != NULL) {
        char *f[7], *save = NULL, *tok;
        int kind = 0, level;
        uint32_t code_ix;
        s_cert_t cert;
        if (s_fields(line, f, 7) < 5 || strlen(f[0]) >= sizeof cert.code)
            continue;
        if (self->n_rncp_codes == ccap) {
            size_t ncap = ccap ? ccap * 2 : 1024;
            void *p = realloc(self->rncp_codes, ncap * sizeof *self->rncp_codes);
            if (p == NULL)
                goto oom;
            self->rncp_codes = p;
            ccap = ncap;
        }
        code_ix = (uint32_t)self->n_rncp_codes;
        snprintf(self->rncp_codes[self->n_rncp_codes++], 16, "%s", f[0]);
        level = atoi(f[3]);
        if (strcmp(f[2], "CAP") == 0)
            kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_CAP;
        else if (strcmp(f[2], "BAC PRO") == 0)
            kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO;
        else if (strcmp(f[2], "TP") == 0)
            kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_TITRE_PROFESSIONNEL;
        memset(&cert, 0, sizeof cert);
        snprintf(cert.code, sizeof cert.code, "%s", f[0]);
        cert.kind = kind;
        cert.level = level;
        for (tok = strtok_r(f[4], "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
            int r;
            if (!s_in_scope(tok) || (r = s_rome_find(self, tok)) < 0)
                continue;
            if (s_push_u32(&self->romes[r].rncp_any, &self->romes[r].n_rncp_any, code_ix) != 0)
                goto oom;
            if (cert.n_romes < S_MAX_CERT_ROMES)
                cert.romes[cert.n_romes++] = (uint16_t)r;
        }
        if (kind == 0 || (level != 3 && level != 4) || cert.n_romes == 0)
            continue;
        if (self->n_certs == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            void *p = realloc(self->certs, ncap * sizeof *self->certs);
            if (p == NULL)
                goto oom;
            self->certs = p;
            cap = ncap;
        }
        for (int k = 0; k < cert.n_romes; k++) {
            s_rome_t *r = &self->romes[cert.romes[k]];
            if (s_push_u32(&r->certs, &r->n_certs, (uint32_t)self->n_certs) != 0)
                goto oom;
        }
        self->certs[self->n_certs++] = cert;
    }
    free(text);
    if (self->n_certs == 0) {
        s_fail(self, "%s/rncp.tsv: no CAP / BAC PRO / TP of level 3-4 in scope", dir);
        return -1;
    }
    return 0;
oom:
    free(text);
    s_fail(self, "out of memory");
    return -1;
}

static int s_prepare_targets(popgen_t *self)
{
    self->target_total = 0;
    for (size_t t = 0; t < S_N_TARGETS; t++) {
        self->target_rome[t] = s_rome_find(self, s_targets[t].code);
        if (self->target_rome[t] >= 0)
            self->target_total += s_targets[t].weight;
    }
    self->tail = calloc(self->n_romes, sizeof *self->tail);
    if (self->tail == NULL) {
        s_fail(self, "out of memory");
        return -1;
    }
    for (size_t r = 0; r < self->n_romes; r++) {
        int is_target = 0;
        for (size_t t = 0; t < S_N_TARGETS; t++)
            if (self->target_rome[t] == (int)r)
                is_target = 1;
        if (!is_target && self->romes[r].n_certs > 0 && self->romes[r].n_core > 0)
            self->tail[self->n_tail++] = (uint32_t)r;
    }
    return 0;
}

popgen_t *popgen_new(const popgen_opts_t *opts, char *err, size_t errlen)
{
    popgen_t *self = calloc(1, sizeof *self);
    size_t most = 0;

    if (self == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (opts == NULL || opts->reference_dir == NULL) {
        snprintf(err, errlen, "popgen: no reference directory");
        free(self);
        return NULL;
    }
    self->seed = opts->seed;
    self->n_schools = opts->n_schools ? opts->n_schools : 800;
    self->n_employers = opts->n_employers ? opts->n_employers : 5000;
    if (s_load_communes(self, opts->reference_dir) != 0 ||
        s_load_rome_skills(self, opts->reference_dir) != 0 ||
        s_load_rncp(self, opts->reference_dir) != 0 || s_prepare_targets(self) != 0) {
        snprintf(err, errlen, "popgen: %s", self->err);
        popgen_destroy(&self);
        return NULL;
    }
    for (size_t r = 0; r < self->n_romes; r++)
        if (self->romes[r].n_core + self->romes[r].n_other > most)
            most = self->romes[r].n_core + self->romes[r].n_other;
    self->pick_cap = most * S_MAX_CERT_ROMES * S_MAX_G_CERTS + 16;
    self->pick = calloc(self->pick_cap, sizeof *self->pick);
    if (self->pick == NULL) {
        snprintf(err, errlen, "popgen: out of memory");
        popgen_destroy(&self);
        return NULL;
    }
    return self;
}

void popgen_destroy(popgen_t **self_p)
{
    popgen_t *self;
    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    for (size_t r = 0; r < self->n_romes; r++) {
        free(self->romes[r].certs);
        free(self->romes[r].rncp_any);
    }
    free(self->romes);
    free(self->communes);
    free(self->certs);
    free(self->rncp_codes);
    free(self->all_ogr);
    free(self->tail);
    free(self->pick);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

void popgen_get_info(const popgen_t *self, popgen_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->communes = self->n_communes;
    out->population = self->n_communes ? self->communes[self->n_communes - 1].cum : 0;
    out->certifications = self->n_certs;
    out->rome_codes = self->n_romes;
    out->rome_skill_links = self->n_links;
}

const char *popgen_event_id(const popgen_t *self)
{
    return self->event_id;
}

const char *popgen_source(const popgen_t *self)
{
    return self->source;
}

/* ------------------------------------------------------------------ */
/* Drawing. */

static const s_commune_t *s_commune(const popgen_t *self, popgen_rng_t *r)
{
    uint64_t total = self->communes[self->n_communes - 1].cum;
    uint64_t x = popgen_rng_next(r) % total; /* bias negligible: total << 2^64 */
    size_t lo = 0, hi = self->n_communes - 1;
    while (lo < hi) { /* first commune with cum > x */
        size_t mid = (lo + hi) / 2;
        if (self->communes[mid].cum > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &self->communes[lo];
}

/* A ROME index drawn with the vacancy weights; tail = 0 leaves the tail
 * out (for graduates' certifications). */
static int s_rome_weighted(const popgen_t *self, popgen_rng_t *r, int with_tail, int *sector)
{
    unsigned total = self->target_total + (with_tail && self->n_tail ? S_TAIL_WEIGHT : 0);
    unsigned x;
    if (total == 0) {
        *sector = PASSERELLE__V1__SECTOR__SECTOR_OTHER_INDUSTRY;
        return self->n_tail ? (int)self->tail[popgen_rng_below(r, (uint32_t)self->n_tail)]
                            : (int)popgen_rng_below(r, (uint32_t)self->n_romes);
    }
    x = popgen_rng_below(r, total);
    for (size_t t = 0; t < S_N_TARGETS; t++) {
        if (self->target_rome[t] < 0)
            continue;
        if (x < s_targets[t].weight) {
            *sector = s_targets[t].sector;
            return self->target_rome[t];
        }
        x -= s_targets[t].weight;
    }
    {
        int ix = (int)self->tail[popgen_rng_below(r, (uint32_t)self->n_tail)];
        const char *c = self->romes[ix].code;
        if (strncmp(c, "I13", 3) == 0)
            *sector = PASSERELLE__V1__SECTOR__SECTOR_INDUSTRIAL_MAINTENANCE;
        else if (strncmp(c, "H29", 3) == 0)
            *sector = PASSERELLE__V1__SECTOR__SECTOR_MECHANICS;
        else
            *sector = PASSERELLE__V1__SECTOR__SECTOR_OTHER_INDUSTRY;
        return ix;
    }
}

/* days since the epoch -> "YYYY-MM-DD" (H. Hinnant's civil_from_days). */
static void s_date(int32_t days, char *out)
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    snprintf(out, 40, "%04d-%02u-%02u", (int)y, m, d);
}

static void s_shuffle(uint32_t *v, size_t n, popgen_rng_t *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = popgen_rng_below(r, (uint32_t)i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static int s_has_str(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Up to want distinct OGR codes from pick[0..n) (shuffled first), appended
 * to out (already holding *count). */
static void s_take_skills(popgen_t *self, size_t n, size_t want, popgen_rng_t *r, char **out,
                          char (*bufs)[40], size_t *count, size_t max)
{
    s_shuffle(self->pick, n, r);
    for (size_t i = 0; i < n && want > 0 && *count < max; i++) {
        char code[16];
        snprintf(code, sizeof code, "%" PRIu32, self->pick[i]);
        if (s_has_str(out, *count, code))
            continue;
        snprintf(bufs[*count], 40, "%s", code);
        out[*count] = bufs[*count];
        (*count)++;
        want--;
    }
}

/* ------------------------------------------------------------------ */
/* Events. */

static void s_event(popgen_t *self, int64_t at_ms)
{
    self->ev = (Passerelle__V1__Event)PASSERELLE__V1__EVENT__INIT;
    self->ev.event_id = self->event_id;
    self->ev.source = self->source;
    self->ev.occurred_at_ms = at_ms;
}

static int s_pack(popgen_t *self, uint8_t **buf, size_t *len)
{
    size_t size = passerelle__v1__event__get_packed_size(&self->ev);
    if (size > self->buf_cap) {
        size_t cap = self->buf_cap ? self->buf_cap : 1024;
        void *p;
        while (cap < size)
            cap *= 2;
        p = realloc(self->buf, cap);
        if (p == NULL) {
            s_fail(self, "out of memory");
            return -1;
        }
        self->buf = p;
        self->buf_cap = cap;
    }
    if (passerelle__v1__event__pack(&self->ev, self->buf) != size) {
        s_fail(self, "packed size mismatch for %s", self->event_id);
        return -1;
    }
    *buf = self->buf;
    *len = size;
    return 0;
}

/* Home or site: the commune as its INSEE code, or a point near its centre
 * (within about 2 km). */
static void s_location(popgen_t *self, const s_commune_t *c, popgen_rng_t *r, double p_code)
{
    self->loc = (Passerelle__V1__Location)PASSERELLE__V1__LOCATION__INIT;
    if (s_chance(r, p_code)) {
        snprintf(self->commune, sizeof self->commune, "%s", c->insee);
        self->loc.place_case = PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE;
        self->loc.commune_code = self->commune;
    } else {
        self->pt = (Passerelle__V1__GeoPoint)PASSERELLE__V1__GEO_POINT__INIT;
        self->pt.latitude = c->lat + (popgen_rng_unit(r) - 0.5) * 0.036;
        self->pt.longitude = c->lon + (popgen_rng_unit(r) - 0.5) * 0.05;
        if (self->pt.latitude > 90)
            self->pt.latitude = 90;
        if (self->pt.latitude < -90)
            self->pt.latitude = -90;
        self->loc.place_case = PASSERELLE__V1__LOCATION__PLACE_POINT;
        self->loc.point = &self->pt;
    }
}

void popgen_graduate_id(const popgen_t *self, int i, char *id, char *school)
{
    popgen_rng_t r;
    uint32_t s;
    s_stream(self, &r, S_KIND_GRADUATE, (uint64_t)i, S_IDENTITY);
    s = popgen_rng_below(&r, (uint32_t)self->n_schools);
    /* a UAI-like code: department, 4 digits, a letter */
    snprintf(school, 65, "0%02u%04u%c", s % 95 + 1, (s * 37u) % 10000u, 'A' + (char)(s % 26));
    snprintf(id, 65, "%s-g%d", school, i);
}

void popgen_vacancy_id(const popgen_t *self, int i, char *id, char *employer)
{
    popgen_rng_t r;
    uint32_t e;
    s_stream(self, &r, S_KIND_VACANCY, (uint64_t)i, S_IDENTITY);
    e = popgen_rng_below(&r, (uint32_t)self->n_employers);
    /* SIREN (9 digits) + NIC (5 digits) */
    snprintf(employer, 65, "%09" PRIu64 "%05u",
             (uint64_t)(300000000ULL + (uint64_t)e * 104729ULL % 600000000ULL), 10u + e % 90000u);
    snprintf(id, 65, "v%s-%d", employer, i);
}

static const s_commune_t *s_employer_site(const popgen_t *self, int i)
{
    popgen_rng_t r;
    uint32_t e;
    s_stream(self, &r, S_KIND_VACANCY, (uint64_t)i, S_IDENTITY);
    e = popgen_rng_below(&r, (uint32_t)self->n_employers);
    s_stream(self, &r, S_KIND_EMPLOYER, e, S_IDENTITY);
    return s_commune(self, &r);
}

static int s_contract_weighted(popgen_rng_t *r)
{
    uint32_t x = popgen_rng_below(r, 100);
    if (x < 40)
        return PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI;
    if (x < 60)
        return PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDD;
    if (x < 75)
        return PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_INTERIM;
    if (x < 90)
        return PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_APPRENTICESHIP;
    return PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_PROFESSIONALISATION;
}

int popgen_next_graduate(popgen_t *self, int i, uint8_t **buf, size_t *len)
{
    return popgen_graduate_upsert(self, i, 0, buf, len);
}

int popgen_next_vacancy(popgen_t *self, int i, uint8_t **buf, size_t *len)
{
    return popgen_vacancy_upsert(self, i, 0, buf, len);
}

int popgen_graduate_upsert(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len)
{
    popgen_rng_t id_r, v_r;
    Passerelle__V1__Graduate *g = &self->g;
    const s_commune_t *home;
    size_t n_certs = 1, n_skills = 0;
    uint32_t chosen[S_MAX_G_CERTS];

    if (i < 0) {
        s_fail(self, "negative index");
        return -1;
    }
    popgen_graduate_id(self, i, self->id, self->owner);
    snprintf(self->source, sizeof self->source, "sis-%s", self->owner);
    snprintf(self->event_id, sizeof self->event_id, "g%d.u%u", i, version);
    s_event(self, S_T0_MS + (int64_t)version * S_VERSION_MS);
    s_stream(self, &id_r, S_KIND_GRADUATE, (uint64_t)i, S_IDENTITY);
    (void)popgen_rng_below(&id_r, (uint32_t)self->n_schools); /* the school, as in _id */
    s_stream(self, &v_r, S_KIND_GRADUATE, (uint64_t)i, version);

    *g = (Passerelle__V1__Graduate)PASSERELLE__V1__GRADUATE__INIT;
    g->graduate_id = self->id;
    g->school_id = self->owner;

    /* certifications (identity): 1 (70 %), 2 (25 %) or 3 (5 %) */
    {
        uint32_t x = popgen_rng_below(&id_r, 100);
        n_certs = x < 70 ? 1 : x < 95 ? 2 : 3;
    }
    for (size_t k = 0; k < n_certs; k++) {
        uint32_t c = 0;
        for (int tries = 0; tries < 8; tries++) {
            int dup = 0;
            if (s_chance(&id_r, 0.7)) {
                int sector;
                const s_rome_t *ro = &self->romes[s_rome_weighted(self, &id_r, 0, &sector)];
                c = ro->n_certs ? ro->certs[popgen_rng_below(&id_r, (uint32_t)ro->n_certs)]
                                : popgen_rng_below(&id_r, (uint32_t)self->n_certs);
            } else {
                c = popgen_rng_below(&id_r, (uint32_t)self->n_certs);
            }
            for (size_t j = 0; j < k; j++)
                if (chosen[j] == c)
                    dup = 1;
            if (!dup)
                break;
            c = UINT32_MAX;
        }
        if (c == UINT32_MAX) {
            n_certs = k;
            break;
        }
        chosen[k] = c;
    }
    for (size_t k = 0; k < n_certs; k++) {
        const s_cert_t *ct = &self->certs[chosen[k]];
        Passerelle__V1__Certification *pc = &self->cert[k];
        int year = 2024 + (int)popgen_rng_below(&id_r, 3);
        *pc = (Passerelle__V1__Certification)PASSERELLE__V1__CERTIFICATION__INIT;
        pc->kind = (Passerelle__V1__CertificationKind)ct->kind;
        pc->rncp_code = (char *)ct->code;
        /* CAP and Bac Pro: level 0 means the kind's own, usually sent as is */
        pc->level =
            ct->kind == PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_TITRE_PROFESSIONNEL ||
                    s_chance(&id_r, 0.5)
                ? ct->level
                : 0;
        snprintf(self->cert_date[k], sizeof self->cert_date[k], "%04d-%02u-%02u", year,
                 6u + popgen_rng_below(&id_r, 2), 1u + popgen_rng_below(&id_r, 28));
        pc->obtained_on = self->cert_date[k];
        self->cert_p[k] = pc;
    }
    g->n_certifications = n_certs;
    g->certifications = self->cert_p;

    /* home (identity; one update in ten moves) */
    home = s_commune(self, &id_r);
    if (version > 0 && s_chance(&v_r, 0.1))
        home = s_commune(self, &v_r);
    s_location(self, home, &v_r, 0.5);
    g->home = &self->loc;
    g->mobility_radius_km = 10 + (int32_t)popgen_rng_below(&v_r, 71);

    /* skills: 55 % explicit (core skills of the certifications' occupations
     * first, then others, sometimes a free label), 45 % none (inferred) */
    if (s_chance(&v_r, 0.55)) {
        size_t want = 4 + popgen_rng_below(&v_r, 13), n = 0;
        for (size_t k = 0; k < n_certs; k++) {
            const s_cert_t *ct = &self->certs[chosen[k]];
            for (int j = 0; j < ct->n_romes; j++) {
                const s_rome_t *ro = &self->romes[ct->romes[j]];
                for (size_t s = 0; s < ro->n_core && n < self->pick_cap; s++)
                    self->pick[n++] = ro->core[s];
            }
        }
        s_take_skills(self, n, want, &v_r, self->skills, self->skill_buf, &n_skills,
                      S_MAX_G_SKILLS - 1);
        if (n_skills < want) {
            n = 0;
            for (size_t k = 0; k < n_certs; k++) {
                const s_cert_t *ct = &self->certs[chosen[k]];
                for (int j = 0; j < ct->n_romes; j++) {
                    const s_rome_t *ro = &self->romes[ct->romes[j]];
                    for (size_t s = 0; s < ro->n_other && n < self->pick_cap; s++)
                        self->pick[n++] = ro->other[s];
                }
            }
            s_take_skills(self, n, want - n_skills, &v_r, self->skills, self->skill_buf, &n_skills,
                          S_MAX_G_SKILLS - 1);
        }
        if (s_chance(&v_r, 0.1)) {
            const char *label = s_free_labels[popgen_rng_below(
                &v_r, (uint32_t)(sizeof s_free_labels / sizeof s_free_labels[0]))];
            snprintf(self->skill_buf[n_skills], 40, "%s", label);
            self->skills[n_skills] = self->skill_buf[n_skills];
            n_skills++;
        }
    }
    g->n_skills = n_skills;
    g->skills = self->skills;

    /* contract types: 30 % any, else 1-3 distinct */
    if (!s_chance(&v_r, 0.3)) {
        size_t want = 1 + popgen_rng_below(&v_r, 3), n = 0;
        for (int tries = 0; tries < 20 && n < want; tries++) {
            int c = s_contract_weighted(&v_r), dup = 0;
            for (size_t j = 0; j < n; j++)
                if ((int)self->contracts[j] == c)
                    dup = 1;
            if (!dup)
                self->contracts[n++] = (Passerelle__V1__ContractType)c;
        }
        g->n_contract_types = n;
        g->contract_types = self->contracts;
    }
    if (s_chance(&v_r, 0.8)) {
        s_date(S_DAY_2026_06_15 + (int32_t)popgen_rng_below(&v_r, 121), self->date1);
        g->available_from = self->date1;
    }
    g->driving_licence = s_chance(&v_r, 0.75);

    self->gu = (Passerelle__V1__GraduateUpsert)PASSERELLE__V1__GRADUATE_UPSERT__INIT;
    self->gu.graduate = g;
    self->ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT;
    self->ev.graduate_upsert = &self->gu;
    return s_pack(self, buf, len);
}

/* Up to want skills of a ROME code, core (core = 1) or not, as weighted
 * skills into ws / ws_p / names. Returns how many. */
static size_t s_weighted_skills(popgen_t *self, const s_rome_t *ro, int core, size_t want,
                                popgen_rng_t *r, Passerelle__V1__WeightedSkill *ws,
                                Passerelle__V1__WeightedSkill **ws_p, char (*names)[16],
                                int weighted)
{
    size_t n = core ? ro->n_core : ro->n_other;
    const uint32_t *src = core ? ro->core : ro->other;
    size_t out = 0;
    if (n > self->pick_cap)
        n = self->pick_cap;
    memcpy(self->pick, src, n * sizeof *src);
    s_shuffle(self->pick, n, r);
    for (size_t i = 0; i < n && out < want && out < S_MAX_V_SKILLS; i++) {
        ws[out] = (Passerelle__V1__WeightedSkill)PASSERELLE__V1__WEIGHTED_SKILL__INIT;
        snprintf(names[out], 16, "%" PRIu32, self->pick[i]);
        ws[out].skill = names[out];
        ws[out].weight = weighted ? 1.0 + (double)popgen_rng_below(r, 5) * 0.5 : 0.0;
        ws_p[out] = &ws[out];
        out++;
    }
    return out;
}

int popgen_vacancy_upsert(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len)
{
    popgen_rng_t id_r, v_r;
    Passerelle__V1__Vacancy *v = &self->v;
    const s_commune_t *site;
    int sector = PASSERELLE__V1__SECTOR__SECTOR_OTHER_INDUSTRY, rome, rome2 = -1;
    const s_rome_t *ro;

    if (i < 0) {
        s_fail(self, "negative index");
        return -1;
    }
    popgen_vacancy_id(self, i, self->id, self->owner);
    site = s_employer_site(self, i);
    snprintf(self->source, sizeof self->source, "uimm-r%s", site->region);
    snprintf(self->event_id, sizeof self->event_id, "v%d.u%u", i, version);
    s_event(self, S_T0_MS + (int64_t)version * S_VERSION_MS);
    s_stream(self, &id_r, S_KIND_VACANCY, (uint64_t)i, S_IDENTITY);
    (void)popgen_rng_below(&id_r, (uint32_t)self->n_employers); /* the employer */
    s_stream(self, &v_r, S_KIND_VACANCY, (uint64_t)i, version);

    *v = (Passerelle__V1__Vacancy)PASSERELLE__V1__VACANCY__INIT;
    v->vacancy_id = self->id;
    v->employer_id = self->owner;

    /* occupation (identity): one code, sometimes a second one */
    rome = s_rome_weighted(self, &id_r, 1, &sector);
    ro = &self->romes[rome];
    self->rome_p[0] = (char *)ro->code;
    v->n_rome_codes = 1;
    if (s_chance(&id_r, 0.15)) {
        int sector2;
        rome2 = s_rome_weighted(self, &id_r, 1, &sector2);
        if (rome2 != rome) {
            self->rome_p[1] = self->romes[rome2].code;
            v->n_rome_codes = 2;
        }
    }
    v->rome_codes = self->rome_p;
    v->sector = (Passerelle__V1__Sector)sector;

    /* site: the employer's commune; as a code or a point */
    s_location(self, site, &id_r, 0.4);
    v->site = &self->loc;
    v->max_distance_km = 20 + (int32_t)popgen_rng_below(&v_r, 81);

    /* certification requirement: 40 % any of 1-3 RNCP codes of the
     * occupation (CAP / Bac Pro / TP first), 25 % a minimum level */
    if (s_chance(&v_r, 0.4)) {
        size_t want = 1 + popgen_rng_below(&v_r, 3), n = 0;
        for (int tries = 0; tries < 12 && n < want; tries++) {
            const char *code;
            int dup = 0;
            if (ro->n_certs > 0 && (tries < 8 || ro->n_rncp_any == 0))
                code = self->certs[ro->certs[popgen_rng_below(&v_r, (uint32_t)ro->n_certs)]].code;
            else if (ro->n_rncp_any > 0)
                code = self->rncp_codes[ro->rncp_any[popgen_rng_below(&v_r,
                                                                      (uint32_t)ro->n_rncp_any)]];
            else
                break;
            for (size_t j = 0; j < n; j++)
                if (strcmp(self->rncp_p[j], code) == 0)
                    dup = 1;
            if (!dup)
                self->rncp_p[n++] = (char *)code;
        }
        v->n_required_rncp = n;
        v->required_rncp = self->rncp_p;
    }
    if (s_chance(&v_r, 0.25))
        v->min_level = s_chance(&v_r, 0.6) ? 3 : 4;

    /* skills: 45 % required (core) and maybe desirable, 20 % desirable
     * only, 35 % none (the daemon takes the occupation's core skills) */
    {
        uint32_t x = popgen_rng_below(&v_r, 100);
        if (x < 45) {
            v->n_required_skills =
                s_weighted_skills(self, ro, 1, 2 + popgen_rng_below(&v_r, 5), &v_r, self->req,
                                  self->req_p, self->req_buf, 1);
            v->required_skills = self->req_p;
            v->n_desirable_skills = s_weighted_skills(self, ro, 0, popgen_rng_below(&v_r, 5), &v_r,
                                                      self->des, self->des_p, self->des_buf, 0);
            v->desirable_skills = self->des_p;
        } else if (x < 65) {
            v->n_desirable_skills =
                s_weighted_skills(self, ro, 1, 2 + popgen_rng_below(&v_r, 6), &v_r, self->des,
                                  self->des_p, self->des_buf, 1);
            v->desirable_skills = self->des_p;
        }
    }

    v->contract_type = (Passerelle__V1__ContractType)s_contract_weighted(&v_r);
    {
        uint32_t x = popgen_rng_below(&v_r, 100);
        v->positions = x < 70 ? 1 : x < 90 ? 2 : 3 + (int32_t)popgen_rng_below(&v_r, 3);
    }
    if (s_chance(&v_r, 0.7)) {
        int32_t start = S_DAY_2026_06_01 + (int32_t)popgen_rng_below(&v_r, 151);
        s_date(start, self->date1);
        v->start_date = self->date1;
        if (s_chance(&v_r, 0.4)) {
            s_date(start + 60 + (int32_t)popgen_rng_below(&v_r, 121), self->date2);
            v->expires_on = self->date2;
        }
    }
    v->licence_required = s_chance(&v_r, 0.2);

    self->vu = (Passerelle__V1__VacancyUpsert)PASSERELLE__V1__VACANCY_UPSERT__INIT;
    self->vu.vacancy = v;
    self->ev.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT;
    self->ev.vacancy_upsert = &self->vu;
    return s_pack(self, buf, len);
}

int popgen_graduate_withdrawn(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len)
{
    popgen_rng_t v_r;
    if (i < 0) {
        s_fail(self, "negative index");
        return -1;
    }
    popgen_graduate_id(self, i, self->id, self->owner);
    snprintf(self->source, sizeof self->source, "sis-%s", self->owner);
    snprintf(self->event_id, sizeof self->event_id, "g%d.w%u", i, version);
    s_event(self, S_T0_MS + (int64_t)version * S_VERSION_MS);
    s_stream(self, &v_r, S_KIND_GRADUATE, (uint64_t)i, version);
    self->gw = (Passerelle__V1__GraduateWithdrawn)PASSERELLE__V1__GRADUATE_WITHDRAWN__INIT;
    self->gw.graduate_id = self->id;
    self->gw.school_id = self->owner;
    self->gw.reason = s_chance(&v_r, 0.8)
                          ? PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED
                          : PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_LEFT;
    self->ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_WITHDRAWN;
    self->ev.graduate_withdrawn = &self->gw;
    return s_pack(self, buf, len);
}

int popgen_vacancy_closed(popgen_t *self, int i, unsigned version, uint8_t **buf, size_t *len)
{
    popgen_rng_t v_r;
    uint32_t x;
    const s_commune_t *site;
    if (i < 0) {
        s_fail(self, "negative index");
        return -1;
    }
    popgen_vacancy_id(self, i, self->id, self->owner);
    site = s_employer_site(self, i);
    snprintf(self->source, sizeof self->source, "uimm-r%s", site->region);
    snprintf(self->event_id, sizeof self->event_id, "v%d.c%u", i, version);
    s_event(self, S_T0_MS + (int64_t)version * S_VERSION_MS);
    s_stream(self, &v_r, S_KIND_VACANCY, (uint64_t)i, version);
    self->vc = (Passerelle__V1__VacancyClosed)PASSERELLE__V1__VACANCY_CLOSED__INIT;
    self->vc.vacancy_id = self->id;
    self->vc.employer_id = self->owner;
    x = popgen_rng_below(&v_r, 100);
    self->vc.reason = x < 70   ? PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_FILLED
                      : x < 85 ? PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_CANCELLED
                               : PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_EXPIRED;
    self->ev.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_CLOSED;
    self->ev.vacancy_closed = &self->vc;
    return s_pack(self, buf, len);
}
