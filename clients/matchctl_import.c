/* matchctl_import.c - `matchctl import graduates|vacancies FILE.csv`: the
 * rows of a spreadsheet's CSV export posted as events.
 *
 * Each row becomes one passerelle.v1.Event (a graduate or vacancy upsert),
 * built here from the cells and then sent through the same pipeline as
 * `matchctl post` (matchctl_post_run), which reports every rejection at
 * the row's line. A cell that cannot be read (a word where a number is
 * due, a date that does not exist, an unknown contract type) rejects its
 * row here, before anything is sent, with the column named; everything
 * else (id syntax, ranges, codes) is the daemon's to judge, and its
 * rejections are reported at the row's line too, with the column that the
 * rejected field comes from.
 *
 * Unless the file has an event_id column, a row's event id is its entity
 * id followed by a hash of the event it makes (with the event id, and the
 * import time when no updated_at column dates the row, left out), so that
 * importing the same file again is answered DUPLICATE row by row, and a
 * row that changed is a new event.
 *
 * The columns are documented in docs/PROTOCOL.md and in the templates of
 * clients/templates/.
 */
#include "matchctl.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchctl_csv.h"
#include "passerelle/v1/ingest.pb-c.h"

#define S_CMD            "import"
#define S_SOURCE_DEFAULT "matchctl-import"
#define S_MAX_VALUES     256 /* values in one multi-valued cell (the daemon's limits are lower) */
#define S_HELP           (-1)

/* ------------------------------------------------------------ columns */

typedef struct {
    const char *name;
    bool required;
    /* field paths of the Event (indexes removed, the entity prefix
     * "graduate_upsert.graduate." or "vacancy_upsert.vacancy." removed)
     * that come from this column, space-separated */
    const char *fields;
} s_column_t;

typedef struct {
    const char *kind;   /* "graduates" or "vacancies" */
    const char *prefix; /* of the field paths of the daemon's rejections */
    const s_column_t *columns;
    size_t n_columns;
} s_entity_t;

enum {
    G_EVENT_ID,
    G_UPDATED_AT,
    G_GRADUATE_ID,
    G_SCHOOL_ID,
    G_RNCP,
    G_KIND,
    G_LEVEL,
    G_OBTAINED_ON,
    G_SKILLS,
    G_COMMUNE,
    G_LATITUDE,
    G_LONGITUDE,
    G_RADIUS,
    G_CONTRACTS,
    G_AVAILABLE,
    G_LICENCE,
    G_N
};

static const s_column_t s_graduate_columns[G_N] = {
    [G_EVENT_ID] = {"event_id", false, "event_id"},
    [G_UPDATED_AT] = {"updated_at", false, "occurred_at_ms"},
    [G_GRADUATE_ID] = {"graduate_id", true, "graduate_id"},
    [G_SCHOOL_ID] = {"school_id", true, "school_id"},
    [G_RNCP] = {"rncp", false, "certifications certifications.rncp_code"},
    [G_KIND] = {"kind", false, "certifications.kind"},
    [G_LEVEL] = {"level", false, "certifications.level"},
    [G_OBTAINED_ON] = {"obtained_on", false, "certifications.obtained_on"},
    [G_SKILLS] = {"skills", false, "skills"},
    [G_COMMUNE] = {"commune", false, "home home.commune_code"},
    [G_LATITUDE] = {"latitude", false, "home.point home.point.latitude"},
    [G_LONGITUDE] = {"longitude", false, "home.point.longitude"},
    [G_RADIUS] = {"mobility_radius_km", true, "mobility_radius_km"},
    [G_CONTRACTS] = {"contract_types", false, "contract_types"},
    [G_AVAILABLE] = {"available_from", false, "available_from"},
    [G_LICENCE] = {"driving_licence", false, "driving_licence"},
};

enum {
    V_EVENT_ID,
    V_UPDATED_AT,
    V_VACANCY_ID,
    V_EMPLOYER_ID,
    V_SECTOR,
    V_ROME,
    V_COMMUNE,
    V_LATITUDE,
    V_LONGITUDE,
    V_MAX_DISTANCE,
    V_REQUIRED_RNCP,
    V_MIN_LEVEL,
    V_REQUIRED_SKILLS,
    V_DESIRABLE_SKILLS,
    V_CONTRACT,
    V_POSITIONS,
    V_START,
    V_EXPIRES,
    V_LICENCE,
    V_N
};

static const s_column_t s_vacancy_columns[V_N] = {
    [V_EVENT_ID] = {"event_id", false, "event_id"},
    [V_UPDATED_AT] = {"updated_at", false, "occurred_at_ms"},
    [V_VACANCY_ID] = {"vacancy_id", true, "vacancy_id"},
    [V_EMPLOYER_ID] = {"employer_id", true, "employer_id"},
    [V_SECTOR] = {"sector", true, "sector"},
    [V_ROME] = {"rome", true, "rome_codes"},
    [V_COMMUNE] = {"commune", false, "site site.commune_code"},
    [V_LATITUDE] = {"latitude", false, "site.point site.point.latitude"},
    [V_LONGITUDE] = {"longitude", false, "site.point.longitude"},
    [V_MAX_DISTANCE] = {"max_distance_km", false, "max_distance_km"},
    [V_REQUIRED_RNCP] = {"required_rncp", false, "required_rncp"},
    [V_MIN_LEVEL] = {"min_level", false, "min_level"},
    [V_REQUIRED_SKILLS] = {"required_skills", false,
                           "required_skills required_skills.skill required_skills.weight"},
    [V_DESIRABLE_SKILLS] = {"desirable_skills", false,
                            "desirable_skills desirable_skills.skill desirable_skills.weight"},
    [V_CONTRACT] = {"contract_type", true, "contract_type"},
    [V_POSITIONS] = {"positions", false, "positions"},
    [V_START] = {"start_date", false, "start_date"},
    [V_EXPIRES] = {"expires_on", false, "expires_on"},
    [V_LICENCE] = {"licence_required", false, "licence_required"},
};

_Static_assert(G_N <= 32 && V_N <= 32, "s_import_t.col holds 32 columns");

static const s_entity_t s_graduates = {"graduates", "graduate_upsert.graduate.", s_graduate_columns,
                                       G_N};
static const s_entity_t s_vacancies = {"vacancies", "vacancy_upsert.vacancy.", s_vacancy_columns,
                                       V_N};

/* ------------------------------------------------------------ state */

typedef struct {
    const char *path;
    const char *source;
    const char *ingest;
    char delim; /* --delimiter, 0: guess */
    unsigned long window;
    unsigned long timeout_ms;
    bool json;
    bool dry_run;
    const char *out; /* --out FILE: delimited events for matcherd --load */
    const s_entity_t *entity;
} s_opts_t;

typedef struct {
    s_opts_t opt;
    matchctl_csv_t *csv;
    int col[32]; /* cell index of each column of the entity, -1 when absent */
    size_t n_header;
    char **cells; /* the current row */
    size_t n_cells;
    void **owned; /* what the current event is made of, freed at the next row */
    size_t n_owned, cap_owned;
    Passerelle__V1__Event *ev;
    bool dated; /* the row has an updated_at */
    char err[512];
} s_import_t;

/* ------------------------------------------------------------ help */

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: matchctl import graduates|vacancies FILE.csv|- [--source NAME]\n"
            "                       [--ingest ENDPOINT] [--delimiter ,|;|tab] [--dry-run]\n"
            "                       [--json] [--window N] [--timeout MS] [--out FILE]\n"
            "\n"
            "Post the graduates (from a school) or vacancies (from a federation) of a\n"
            "spreadsheet's CSV export: one row per graduate or vacancy, a header row\n"
            "naming the columns (in any order), UTF-8 with or without a byte order\n"
            "mark, cells separated by commas or semicolons (found from the header;\n"
            "French spreadsheets write semicolons) and quoted as RFC 4180 says. A cell\n"
            "of several values separates them with ';' or '|' (quote it when ';' is\n"
            "also the delimiter). Columns whose name starts with '#' are ignored.\n"
            "\n"
            "graduates: graduate_id*, school_id*, mobility_radius_km*, commune or\n"
            "  latitude+longitude*, rncp (codes), kind (CAP, BAC_PRO, TP, OTHER_RNCP: one,\n"
            "  or one per code), level, obtained_on, skills, contract_types (CDI, CDD,\n"
            "  INTERIM, APPRENTICESHIP, PROFESSIONALISATION), available_from,\n"
            "  driving_licence (yes/no), updated_at, event_id\n"
            "vacancies: vacancy_id*, employer_id* (SIRET), sector*, rome* (codes),\n"
            "  commune or latitude+longitude*, contract_type*, max_distance_km,\n"
            "  required_rncp, min_level, required_skills and desirable_skills (CODE or\n"
            "  CODE:WEIGHT), positions, start_date, expires_on, licence_required,\n"
            "  updated_at, event_id\n"
            "(* required). Dates are YYYY-MM-DD or DD/MM/YYYY; decimals take '.' or ','.\n"
            "Templates: clients/templates/graduates.csv and vacancies.csv\n"
            "(installed under share/passerelle/templates/); docs/PROTOCOL.md has the\n"
            "details.\n"
            "\n"
            "Each row's event id is its entity id and a hash of its content, so that\n"
            "importing the same file again changes nothing (every row DUPLICATE);\n"
            "an event_id column overrides it.\n"
            "\n"
            "Options:\n"
            "  --source NAME       the producing system (default \"%s\"); keep it\n"
            "                      the same across imports\n"
            "  --ingest ENDPOINT   ingest socket (default $%s, else %s)\n"
            "  --delimiter D       ',', ';' or 'tab' instead of guessing\n"
            "  --dry-run           check the file and print the events as JSON lines\n"
            "                      (what 'matchctl post' reads); send nothing\n"
            "  --out FILE          check the file and write the events, length-delimited\n"
            "                      (protobuf varint + Event), to FILE ('-': stdout); send\n"
            "                      nothing. For the initial load of an empty store:\n"
            "                      matcherd --load FILE (docs/BULK-LOAD.md)\n"
            "  --json              print each ack as a JSON line instead of the report\n"
            "  --window N          events in flight without an ack (default %d)\n"
            "  --timeout MS        longest wait for the next ack (default %d)\n"
            "  --help              this text\n"
            "\n"
            "Prints \"accepted N, duplicate N, rejected N\", then one line per rejected\n"
            "row: \"FILE:LINE: column 'NAME': what is wrong\".\n"
            "Exit status: 0 every row accepted or duplicate, 1 some row (or the\n"
            "header) rejected, 2 usage error or unreadable file, 3 no answer within the\n"
            "timeout.\n"
            "\n"
            "Example:\n"
            "  matchctl import graduates clients/templates/graduates.csv --source ep-tarbes-sis\n",
            S_SOURCE_DEFAULT, MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST,
            MATCHCTL_POST_WINDOW_DEFAULT, MATCHCTL_POST_TIMEOUT_DEFAULT);
}

/* Take the positional arguments. Returns 0 or MATCHCTL_EXIT_USAGE. */
static int s_positionals(int argc, char **argv, s_opts_t *opt)
{
    if (matchctl_positionals(S_CMD, argc, argv, 2, "want 'graduates FILE' or 'vacancies FILE'") !=
        0)
        return MATCHCTL_EXIT_USAGE;
    if (strcmp(argv[optind], "graduates") == 0)
        opt->entity = &s_graduates;
    else if (strcmp(argv[optind], "vacancies") == 0)
        opt->entity = &s_vacancies;
    else
        return matchctl_usage_error(S_CMD, "want 'graduates' or 'vacancies', not '%s'",
                                    argv[optind]);
    opt->path = argv[optind + 1];
    return 0;
}

/* Fill opt from the command line. Returns 0, S_HELP or MATCHCTL_EXIT_USAGE. */
static int s_parse_args(int argc, char **argv, s_opts_t *opt)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'},
        {"ingest", required_argument, NULL, 'i'},
        {"delimiter", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"window", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': opt->source = optarg; break;
        case 'i': opt->ingest = optarg; break;
        case 'd':
            if (strcmp(optarg, ",") == 0 || strcmp(optarg, ";") == 0)
                opt->delim = optarg[0];
            else if (strcmp(optarg, "tab") == 0 || strcmp(optarg, "\t") == 0)
                opt->delim = '\t';
            else
                return matchctl_usage_error(S_CMD, "--delimiter wants ',', ';' or 'tab', not '%s'",
                                            optarg);
            break;
        case 'n': opt->dry_run = true; break;
        case 'o': opt->out = optarg; break;
        case 'j': opt->json = true; break;
        case 'h': s_usage(stdout); return S_HELP;
        default:
            if (matchctl_shared_option(S_CMD, c, argv, &opt->timeout_ms, &opt->window) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    if (opt->source[0] == '\0')
        return matchctl_usage_error(S_CMD, "--source is empty");
    return s_positionals(argc, argv, opt);
}

/* ------------------------------------------------------------ memory */

/* Zeroed memory owned by the current row. NULL when out of memory. */
static void *s_alloc(s_import_t *self, size_t size)
{
    void *p;

    if (self->n_owned == self->cap_owned) {
        size_t cap = self->cap_owned ? self->cap_owned * 2 : 64;
        void **grown = realloc(self->owned, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        self->owned = grown;
        self->cap_owned = cap;
    }
    p = calloc(1, size);
    if (p != NULL)
        self->owned[self->n_owned++] = p;
    return p;
}

static char *s_strndup(s_import_t *self, const char *s, size_t n)
{
    char *p = s_alloc(self, n + 1);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

static void s_release(s_import_t *self)
{
    size_t i;

    for (i = 0; i < self->n_owned; i++)
        free(self->owned[i]);
    self->n_owned = 0;
    self->ev = NULL;
}

/* ------------------------------------------------------------ errors */

/* Return -1 with "column 'NAME': ..." in self->err. */
__attribute__((format(printf, 3, 4))) static int s_bad(s_import_t *self, int col, const char *fmt,
                                                       ...)
{
    va_list ap;
    int n =
        snprintf(self->err, sizeof self->err, "column '%s': ", self->opt.entity->columns[col].name);

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof self->err)
        (void)vsnprintf(self->err + n, sizeof self->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_oom(s_import_t *self)
{
    (void)snprintf(self->err, sizeof self->err, "out of memory");
    return -1;
}

/* ------------------------------------------------------------ cells */

/* The cell of column col, trimmed of spaces, copied into the row's memory;
 * "" when the column is absent or the row shorter. NULL when out of memory. */
static char *s_cell(s_import_t *self, int col)
{
    const char *c;
    size_t n;

    if (self->col[col] < 0 || (size_t)self->col[col] >= self->n_cells)
        c = "";
    else
        c = self->cells[self->col[col]];
    while (*c == ' ' || *c == '\t')
        c++;
    n = strlen(c);
    while (n > 0 && (c[n - 1] == ' ' || c[n - 1] == '\t'))
        n--;
    return s_strndup(self, c, n);
}

/* True when text looks like a long number a spreadsheet rewrote in
 * scientific notation ("1.23457E+13"), losing digits. */
static bool s_scientific(const char *text)
{
    const char *e = strpbrk(text, "eE");

    return e != NULL && (e[1] == '+') && isdigit((unsigned char)text[0]) &&
           strspn(text, "0123456789.,") == (size_t)(e - text);
}

/* A required or optional code or id: *out = the cell (never NULL on 0). */
static int s_text(s_import_t *self, int col, char **out)
{
    char *c = s_cell(self, col);

    if (c == NULL)
        return s_oom(self);
    if (c[0] == '\0' && self->opt.entity->columns[col].required)
        return s_bad(self, col, "empty, and it is required");
    if (s_scientific(c))
        return s_bad(self, col,
                     "'%s' looks like a number a spreadsheet rewrote in scientific "
                     "notation: format the column as text and export again",
                     c);
    *out = c;
    return 0;
}

/* Split the cell of col on ';' and '|' into *values (*n of them; empty
 * values are dropped). */
static int s_list(s_import_t *self, int col, char ***values, size_t *n)
{
    char *c = s_cell(self, col), *p;
    char **v;
    size_t k = 0;

    if (c == NULL || (v = s_alloc(self, S_MAX_VALUES * sizeof *v)) == NULL)
        return s_oom(self);
    for (p = c; *p != '\0';) {
        size_t len = strcspn(p, ";|"), a = 0, b = len;
        bool last = p[len] == '\0';
        while (a < b && (p[a] == ' ' || p[a] == '\t'))
            a++;
        while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
            b--;
        p[b] = '\0'; /* the separator, or a space before it */
        if (b > a) {
            if (k == S_MAX_VALUES)
                return s_bad(self, col, "more than %d values", S_MAX_VALUES);
            if (s_scientific(p + a))
                return s_bad(self, col,
                             "'%s' looks like a number a spreadsheet rewrote in scientific "
                             "notation: format the column as text and export again",
                             p + a);
            v[k++] = p + a;
        }
        p += last ? len : len + 1;
    }
    if (k == 0 && self->opt.entity->columns[col].required)
        return s_bad(self, col, "empty, and it is required");
    *values = v;
    *n = k;
    return 0;
}

/* A whole number of int32 range; "" is 0 (absent) unless required. */
static int s_int_text(s_import_t *self, int col, const char *c, int32_t *out)
{
    char *end = NULL;
    long long v;

    if (c[0] == '\0') {
        if (self->opt.entity->columns[col].required)
            return s_bad(self, col, "empty, and it is required");
        *out = 0;
        return 0;
    }
    errno = 0;
    v = strtoll(c, &end, 10);
    if (end == c || *end != '\0' || errno != 0 || v < INT32_MIN || v > INT32_MAX)
        return s_bad(self, col, "'%s' is not a whole number", c);
    *out = (int32_t)v;
    return 0;
}

static int s_int(s_import_t *self, int col, int32_t *out)
{
    char *c = s_cell(self, col);

    return c == NULL ? s_oom(self) : s_int_text(self, col, c, out);
}

/* A decimal number, '.' or ',' before the decimals. */
static int s_double_text(s_import_t *self, int col, char *c, double *out)
{
    char *end = NULL, *comma = strchr(c, ',');

    if (comma != NULL)
        *comma = '.';
    errno = 0;
    *out = strtod(c, &end);
    if (c[0] == '\0' || end == c || *end != '\0' || errno != 0 || !isfinite(*out))
        return s_bad(self, col, "'%s' is not a number", c);
    return 0;
}

/* yes/no in English or French, 1/0, true/false, x for a ticked box; "" is no. */
static int s_bool(s_import_t *self, int col, protobuf_c_boolean *out)
{
    static const char *const yes[] = {"yes", "y", "oui", "o", "true", "vrai", "1", "x", NULL};
    static const char *const no[] = {"no", "n", "non", "false", "faux", "0", "", NULL};
    char *c = s_cell(self, col);
    size_t i;

    if (c == NULL)
        return s_oom(self);
    for (i = 0; yes[i] != NULL; i++)
        if (strcasecmp(c, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    for (i = 0; no[i] != NULL; i++)
        if (strcasecmp(c, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    return s_bad(self, col, "'%s' is not yes or no", c);
}

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read YYYY-MM-DD or DD/MM/YYYY (also DD.MM.YYYY, DD-MM-YYYY) at the start
 * of c into y/m/d; *rest is what follows. Returns 0 or -1. */
static int s_scan_date(const char *c, int *y, int *m, int *d, const char **rest)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int n = 0, a, b, e;
    char s1, s2;

    if (sscanf(c, "%4d-%2d-%2d%n", &a, &b, &e, &n) == 3 && n == 10) {
        *y = a, *m = b, *d = e;
    } else if (sscanf(c, "%2d%c%2d%c%4d%n", &a, &s1, &b, &s2, &e, &n) == 5 && s1 == s2 &&
               (s1 == '/' || s1 == '.' || s1 == '-') && n >= 8 && e >= 1000) {
        *y = e, *m = b, *d = a;
    } else {
        return -1;
    }
    if (*m < 1 || *m > 12 || *d < 1 || *d > days[*m - 1] + (*m == 2 && s_leap(*y) ? 1 : 0) ||
        *y < 1970 || *y > 2199)
        return -1;
    *rest = c + n;
    return 0;
}

/* A date cell as "YYYY-MM-DD" ("" stays ""). */
static int s_date_text(s_import_t *self, int col, const char *c, char **out)
{
    int y, m, d;
    const char *rest;

    if (c[0] == '\0') {
        *out = "";
        return 0;
    }
    if (s_scan_date(c, &y, &m, &d, &rest) != 0 || *rest != '\0')
        return s_bad(self, col, "'%s' is not a date (YYYY-MM-DD or DD/MM/YYYY)", c);
    if ((*out = s_alloc(self, 11)) == NULL)
        return s_oom(self);
    (void)snprintf(*out, 11, "%04d-%02d-%02d", y, m, d);
    return 0;
}

static int s_date(s_import_t *self, int col, char **out)
{
    char *c = s_cell(self, col);

    return c == NULL ? s_oom(self) : s_date_text(self, col, c, out);
}

/* updated_at: a date (midnight UTC), a date and time "YYYY-MM-DD HH:MM[:SS]"
 * or with 'T' (UTC; a final 'Z' is allowed), or milliseconds since the
 * epoch. *ms = 0 when the cell is empty. */
static int s_updated_at(s_import_t *self, int col, int64_t *ms)
{
    char *c = s_cell(self, col);
    const char *rest;
    int y, m, d, hh = 0, mm = 0, ss = 0, n = 0;
    struct tm tm;

    if (c == NULL)
        return s_oom(self);
    *ms = 0;
    if (c[0] == '\0')
        return 0;
    if (strspn(c, "0123456789") == strlen(c) && strlen(c) >= 10 && strlen(c) <= 15) {
        *ms = strtoll(c, NULL, 10);
        return 0;
    }
    if (s_scan_date(c, &y, &m, &d, &rest) != 0)
        return s_bad(self, col, "'%s' is not a date, a date and time, or milliseconds", c);
    if (*rest == 'T' || *rest == ' ') {
        if (sscanf(rest + 1, "%2d:%2d%n:%2d%n", &hh, &mm, &n, &ss, &n) < 2 || hh > 23 || mm > 59 ||
            ss > 60)
            return s_bad(self, col, "'%s': the time is not HH:MM or HH:MM:SS", c);
        rest += 1 + n;
        if (*rest == 'Z')
            rest++;
    }
    if (*rest != '\0')
        return s_bad(self, col, "'%s' is not a date, a date and time, or milliseconds", c);
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d;
    tm.tm_hour = hh, tm.tm_min = mm, tm.tm_sec = ss;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* ------------------------------------------------------------ enums */

typedef struct {
    const char *name; /* folded: upper case, no accents, '_' for spaces and '-' */
    int value;
} s_alias_t;

static const s_alias_t s_kinds[] = {
    {"CAP", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_CAP},
    {"BAC_PRO", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO},
    {"BACPRO", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO},
    {"BAC_PROFESSIONNEL", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_BAC_PRO},
    {"TP", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_TITRE_PROFESSIONNEL},
    {"TITRE_PROFESSIONNEL",
     PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_TITRE_PROFESSIONNEL},
    {"OTHER_RNCP", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_OTHER_RNCP},
    {"OTHER", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_OTHER_RNCP},
    {"RNCP", PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_OTHER_RNCP},
    {NULL, 0},
};

static const s_alias_t s_contracts[] = {
    {"CDI", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI},
    {"CDD", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDD},
    {"INTERIM", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_INTERIM},
    {"APPRENTICESHIP", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_APPRENTICESHIP},
    {"APPRENTISSAGE", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_APPRENTICESHIP},
    {"PROFESSIONALISATION", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_PROFESSIONALISATION},
    {"PROFESSIONNALISATION", PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_PROFESSIONALISATION},
    {NULL, 0},
};

static const s_alias_t s_sectors[] = {
    {"AERONAUTICS", PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS},
    {"AERONAUTIQUE", PASSERELLE__V1__SECTOR__SECTOR_AERONAUTICS},
    {"MECHANICS", PASSERELLE__V1__SECTOR__SECTOR_MECHANICS},
    {"MECANIQUE", PASSERELLE__V1__SECTOR__SECTOR_MECHANICS},
    {"METALWORKING", PASSERELLE__V1__SECTOR__SECTOR_METALWORKING},
    {"METALLERIE", PASSERELLE__V1__SECTOR__SECTOR_METALWORKING},
    {"MACHINING", PASSERELLE__V1__SECTOR__SECTOR_MACHINING},
    {"USINAGE", PASSERELLE__V1__SECTOR__SECTOR_MACHINING},
    {"TECHNICAL_CERAMICS", PASSERELLE__V1__SECTOR__SECTOR_TECHNICAL_CERAMICS},
    {"CERAMIQUE_TECHNIQUE", PASSERELLE__V1__SECTOR__SECTOR_TECHNICAL_CERAMICS},
    {"INDUSTRIAL_MAINTENANCE", PASSERELLE__V1__SECTOR__SECTOR_INDUSTRIAL_MAINTENANCE},
    {"MAINTENANCE_INDUSTRIELLE", PASSERELLE__V1__SECTOR__SECTOR_INDUSTRIAL_MAINTENANCE},
    {"OTHER_INDUSTRY", PASSERELLE__V1__SECTOR__SECTOR_OTHER_INDUSTRY},
    {"AUTRE_INDUSTRIE", PASSERELLE__V1__SECTOR__SECTOR_OTHER_INDUSTRY},
    {NULL, 0},
};

/* The value of text among aliases, also accepting the full enum name
 * (prefix + alias, e.g. "CONTRACT_TYPE_CDI"). Returns 0 or -1. */
static int s_enum_value(const s_alias_t *aliases, const char *prefix, const char *text, int *out)
{
    char folded[128];
    size_t plen = strlen(prefix), i;
    const char *name = folded;

    matchctl_fold(text, folded, sizeof folded, true);
    for (i = 0; folded[i] != '\0'; i++)
        if (folded[i] == ' ' || folded[i] == '-' || folded[i] == '\'')
            folded[i] = '_';
    if (strncmp(folded, prefix, plen) == 0)
        name = folded + plen;
    for (i = 0; aliases[i].name != NULL; i++)
        if (strcmp(aliases[i].name, name) == 0) {
            *out = aliases[i].value;
            return 0;
        }
    return -1;
}

/* The names accepted, for messages: "CDI, CDD, ..." (first alias of each value). */
static const char *s_enum_names(const s_alias_t *aliases, char *buf, size_t size)
{
    size_t len = 0, i, j;

    buf[0] = '\0';
    for (i = 0; aliases[i].name != NULL; i++) {
        bool seen = false;
        for (j = 0; j < i; j++)
            seen = seen || aliases[j].value == aliases[i].value;
        if (!seen && len < size)
            len +=
                (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", aliases[i].name);
    }
    return buf;
}

static int s_enum(s_import_t *self, int col, const s_alias_t *aliases, const char *prefix,
                  const char *text, int *out)
{
    char names[256];

    if (s_enum_value(aliases, prefix, text, out) == 0)
        return 0;
    return s_bad(self, col, "'%s' is not one of %s", text,
                 s_enum_names(aliases, names, sizeof names));
}

/* ------------------------------------------------------------ locations */

/* A commune code; a 4-digit one lost its leading zero in a spreadsheet. */
static char *s_commune_code(s_import_t *self, char *c)
{
    char *fixed;

    if (strlen(c) != 4 || strspn(c, "0123456789") != 4)
        return c;
    if ((fixed = s_alloc(self, 6)) == NULL)
        return NULL;
    fixed[0] = '0';
    memcpy(fixed + 1, c, 5);
    return fixed;
}

/* The location from the commune, latitude and longitude columns. */
static int s_location(s_import_t *self, int commune, int lat, int lon,
                      Passerelle__V1__Location **out)
{
    Passerelle__V1__Location *loc = s_alloc(self, sizeof *loc);
    char *code = "", *la = s_cell(self, lat), *lo = s_cell(self, lon);

    if (loc == NULL || la == NULL || lo == NULL)
        return s_oom(self);
    if (s_text(self, commune, &code) != 0)
        return -1;
    passerelle__v1__location__init(loc);
    if (code[0] != '\0' && (la[0] != '\0' || lo[0] != '\0'))
        return s_bad(self, commune, "give a commune or latitude and longitude, not both");
    if (code[0] != '\0') {
        loc->place_case = PASSERELLE__V1__LOCATION__PLACE_COMMUNE_CODE;
        if ((loc->commune_code = s_commune_code(self, code)) == NULL)
            return s_oom(self);
    } else if (la[0] != '\0' || lo[0] != '\0') {
        Passerelle__V1__GeoPoint *pt = s_alloc(self, sizeof *pt);
        if (pt == NULL)
            return s_oom(self);
        passerelle__v1__geo_point__init(pt);
        if (la[0] == '\0')
            return s_bad(self, lat, "empty, and longitude is given");
        if (lo[0] == '\0')
            return s_bad(self, lon, "empty, and latitude is given");
        if (s_double_text(self, lat, la, &pt->latitude) != 0 ||
            s_double_text(self, lon, lo, &pt->longitude) != 0)
            return -1;
        loc->place_case = PASSERELLE__V1__LOCATION__PLACE_POINT;
        loc->point = pt;
    } else {
        return s_bad(self, commune, "empty, and so are latitude and longitude: give one place");
    }
    *out = loc;
    return 0;
}

/* ------------------------------------------------------------ graduates */

/* The i-th of n values of an aligned column: its only value, or its i-th.
 * *out = "" when the column is empty. */
static int s_aligned(s_import_t *self, int col, int of, char **values, size_t n_values, size_t i,
                     size_t n, char **out)
{
    if (n_values == 0) {
        *out = "";
        return 0;
    }
    if (n_values != 1 && n_values != n)
        return s_bad(self, col, "%zu values for %zu codes in '%s': give one, or one per code",
                     n_values, n, self->opt.entity->columns[of].name);
    *out = values[n_values == 1 ? 0 : i];
    return 0;
}

static int s_certifications(s_import_t *self, Passerelle__V1__Graduate *g)
{
    char **codes = NULL, **kinds = NULL, **levels = NULL, **dates = NULL;
    size_t n = 0, nk = 0, nl = 0, nd = 0, i;

    if (s_list(self, G_RNCP, &codes, &n) != 0 || s_list(self, G_KIND, &kinds, &nk) != 0 ||
        s_list(self, G_LEVEL, &levels, &nl) != 0 || s_list(self, G_OBTAINED_ON, &dates, &nd) != 0)
        return -1;
    if (n == 0 && (nk > 0 || nl > 0 || nd > 0))
        return s_bad(self, G_RNCP, "empty, but %s is given",
                     nk   ? "kind"
                     : nl ? "level"
                          : "obtained_on");
    if (n > 0 && nk == 0)
        return s_bad(self, G_KIND,
                     "empty: give the kind of each certification (CAP, BAC_PRO, TP, "
                     "OTHER_RNCP)");
    g->certifications = s_alloc(self, (n + 1) * sizeof *g->certifications);
    if (g->certifications == NULL)
        return s_oom(self);
    for (i = 0; i < n; i++) {
        Passerelle__V1__Certification *c = s_alloc(self, sizeof *c);
        char *kind = "", *level = "", *date = "";
        int k = 0;
        if (c == NULL)
            return s_oom(self);
        passerelle__v1__certification__init(c);
        c->rncp_code = codes[i];
        if (s_aligned(self, G_KIND, G_RNCP, kinds, nk, i, n, &kind) != 0 ||
            s_aligned(self, G_LEVEL, G_RNCP, levels, nl, i, n, &level) != 0 ||
            s_aligned(self, G_OBTAINED_ON, G_RNCP, dates, nd, i, n, &date) != 0 ||
            s_enum(self, G_KIND, s_kinds, "CERTIFICATION_KIND_", kind, &k) != 0 ||
            s_int_text(self, G_LEVEL, level, &c->level) != 0 ||
            s_date_text(self, G_OBTAINED_ON, date, &c->obtained_on) != 0)
            return -1;
        c->kind = (Passerelle__V1__CertificationKind)k;
        g->certifications[g->n_certifications++] = c;
    }
    return 0;
}

static int s_contract_types(s_import_t *self, Passerelle__V1__Graduate *g)
{
    char **v = NULL;
    size_t n = 0, i;

    if (s_list(self, G_CONTRACTS, &v, &n) != 0)
        return -1;
    g->contract_types = s_alloc(self, (n + 1) * sizeof *g->contract_types);
    if (g->contract_types == NULL)
        return s_oom(self);
    for (i = 0; i < n; i++) {
        int t;
        if (s_enum(self, G_CONTRACTS, s_contracts, "CONTRACT_TYPE_", v[i], &t) != 0)
            return -1;
        g->contract_types[g->n_contract_types++] = (Passerelle__V1__ContractType)t;
    }
    return 0;
}

/* The graduate upsert of the current row into self->ev. */
static int s_build_graduate(s_import_t *self, Passerelle__V1__Event *ev)
{
    Passerelle__V1__GraduateUpsert *up = s_alloc(self, sizeof *up);
    Passerelle__V1__Graduate *g = s_alloc(self, sizeof *g);

    if (up == NULL || g == NULL)
        return s_oom(self);
    passerelle__v1__graduate_upsert__init(up);
    passerelle__v1__graduate__init(g);
    if (s_text(self, G_GRADUATE_ID, &g->graduate_id) != 0 ||
        s_text(self, G_SCHOOL_ID, &g->school_id) != 0 || s_certifications(self, g) != 0 ||
        s_list(self, G_SKILLS, &g->skills, &g->n_skills) != 0 ||
        s_location(self, G_COMMUNE, G_LATITUDE, G_LONGITUDE, &g->home) != 0 ||
        s_int(self, G_RADIUS, &g->mobility_radius_km) != 0 || s_contract_types(self, g) != 0 ||
        s_date(self, G_AVAILABLE, &g->available_from) != 0 ||
        s_bool(self, G_LICENCE, &g->driving_licence) != 0)
        return -1;
    up->graduate = g;
    ev->body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT;
    ev->graduate_upsert = up;
    return 0;
}

/* ------------------------------------------------------------ vacancies */

/* Skills as "CODE" or "CODE:WEIGHT" (a decimal weight after the last ':'). */
static int s_weighted_skills(s_import_t *self, int col, Passerelle__V1__WeightedSkill ***out,
                             size_t *n_out)
{
    char **v = NULL;
    size_t n = 0, i;

    if (s_list(self, col, &v, &n) != 0)
        return -1;
    *out = s_alloc(self, (n + 1) * sizeof **out);
    if (*out == NULL)
        return s_oom(self);
    for (i = 0; i < n; i++) {
        Passerelle__V1__WeightedSkill *w = s_alloc(self, sizeof *w);
        char *colon = strrchr(v[i], ':');
        if (w == NULL)
            return s_oom(self);
        passerelle__v1__weighted_skill__init(w);
        w->skill = v[i];
        if (colon != NULL && colon[1] != '\0' &&
            strspn(colon + 1, "0123456789.,") == strlen(colon + 1)) {
            *colon = '\0';
            if (s_double_text(self, col, colon + 1, &w->weight) != 0)
                return -1;
        }
        (*out)[i] = w;
    }
    *n_out = n;
    return 0;
}

/* The vacancy upsert of the current row into ev. */
static int s_build_vacancy(s_import_t *self, Passerelle__V1__Event *ev)
{
    Passerelle__V1__VacancyUpsert *up = s_alloc(self, sizeof *up);
    Passerelle__V1__Vacancy *v = s_alloc(self, sizeof *v);
    char *sector = "", *contract = "", *siret = "";
    int e_sector = 0, e_contract = 0;
    size_t i, j;

    if (up == NULL || v == NULL)
        return s_oom(self);
    passerelle__v1__vacancy_upsert__init(up);
    passerelle__v1__vacancy__init(v);
    if (s_text(self, V_VACANCY_ID, &v->vacancy_id) != 0 ||
        s_text(self, V_EMPLOYER_ID, &siret) != 0 || s_text(self, V_SECTOR, &sector) != 0 ||
        s_enum(self, V_SECTOR, s_sectors, "SECTOR_", sector, &e_sector) != 0 ||
        s_list(self, V_ROME, &v->rome_codes, &v->n_rome_codes) != 0 ||
        s_location(self, V_COMMUNE, V_LATITUDE, V_LONGITUDE, &v->site) != 0 ||
        s_int(self, V_MAX_DISTANCE, &v->max_distance_km) != 0 ||
        s_list(self, V_REQUIRED_RNCP, &v->required_rncp, &v->n_required_rncp) != 0 ||
        s_int(self, V_MIN_LEVEL, &v->min_level) != 0 ||
        s_weighted_skills(self, V_REQUIRED_SKILLS, &v->required_skills, &v->n_required_skills) !=
            0 ||
        s_weighted_skills(self, V_DESIRABLE_SKILLS, &v->desirable_skills, &v->n_desirable_skills) !=
            0 ||
        s_text(self, V_CONTRACT, &contract) != 0 ||
        s_enum(self, V_CONTRACT, s_contracts, "CONTRACT_TYPE_", contract, &e_contract) != 0 ||
        s_int(self, V_POSITIONS, &v->positions) != 0 ||
        s_date(self, V_START, &v->start_date) != 0 ||
        s_date(self, V_EXPIRES, &v->expires_on) != 0 ||
        s_bool(self, V_LICENCE, &v->licence_required) != 0)
        return -1;
    /* a SIRET is often written in groups: "123 456 789 00012" */
    for (i = j = 0; siret[i] != '\0'; i++)
        if (siret[i] != ' ')
            siret[j++] = siret[i];
    siret[j] = '\0';
    v->employer_id = siret;
    v->sector = (Passerelle__V1__Sector)e_sector;
    v->contract_type = (Passerelle__V1__ContractType)e_contract;
    up->vacancy = v;
    ev->body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT;
    ev->vacancy_upsert = up;
    return 0;
}

/* ------------------------------------------------------------ events */

static int64_t s_wall_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0; /* cannot fail with CLOCK_REALTIME */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 64-bit FNV-1a. Enough to tell the versions of one entity apart: the id
 * carries the entity id too, so only two versions of the same entity
 * could ever collide. */
static uint64_t s_fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The event id of ev from its content: "<entity id>:<16 hex digits>". */
static int s_derive_event_id(s_import_t *self, Passerelle__V1__Event *ev, const char *entity_id)
{
    int64_t at = ev->occurred_at_ms;
    size_t len;
    uint8_t *buf;
    uint64_t h;

    ev->event_id = "";
    if (!self->dated)
        ev->occurred_at_ms = 0; /* the import time is not content */
    len = passerelle__v1__event__get_packed_size(ev);
    buf = malloc(len + 1);
    if (buf == NULL)
        return s_oom(self);
    if (passerelle__v1__event__pack(ev, buf) != len)
        abort(); /* protobuf-c broke its own contract */
    h = s_fnv1a(buf, len);
    free(buf);
    ev->occurred_at_ms = at;
    if ((ev->event_id = s_alloc(self, strlen(entity_id) + 18)) == NULL)
        return s_oom(self);
    (void)snprintf(ev->event_id, strlen(entity_id) + 18, "%s:%016" PRIx64, entity_id, h);
    return 0;
}

/* The event of the current row into self->ev. Returns 0, or -1 with the
 * reason in self->err. */
static int s_build_event(s_import_t *self)
{
    bool vacancy = self->opt.entity == &s_vacancies;
    int col_event = vacancy ? V_EVENT_ID : G_EVENT_ID;
    Passerelle__V1__Event *ev = s_alloc(self, sizeof *ev);
    char *event_id;
    int64_t at;

    if (ev == NULL)
        return s_oom(self);
    passerelle__v1__event__init(ev);
    ev->source = (char *)self->opt.source;
    if ((vacancy ? s_build_vacancy(self, ev) : s_build_graduate(self, ev)) != 0 ||
        s_updated_at(self, vacancy ? V_UPDATED_AT : G_UPDATED_AT, &at) != 0 ||
        s_text(self, col_event, &event_id) != 0)
        return -1;
    self->dated = at != 0;
    ev->occurred_at_ms = at != 0 ? at : s_wall_ms();
    if (event_id[0] != '\0')
        ev->event_id = event_id;
    else if (s_derive_event_id(self, ev,
                               vacancy ? ev->vacancy_upsert->vacancy->vacancy_id
                                       : ev->graduate_upsert->graduate->graduate_id) != 0)
        return -1;
    self->ev = ev;
    return 0;
}

/* ------------------------------------------------------------ header */

/* The column name as written in the header, folded: lower case, no
 * accents, '_' for spaces and '-'. */
static void s_header_name(const char *cell, char *out, size_t size)
{
    size_t i;

    while (*cell == ' ')
        cell++;
    matchctl_fold(cell, out, size, false);
    for (i = strlen(out); i > 0 && out[i - 1] == ' '; i--)
        out[i - 1] = '\0';
    for (i = 0; out[i] != '\0'; i++)
        if (out[i] == ' ' || out[i] == '-')
            out[i] = '_';
}

/* Map the header's cells to the entity's columns. Returns 0, or -1 with
 * the reason in self->err. */
static int s_header(s_import_t *self, char **cells, size_t n)
{
    const s_entity_t *e = self->opt.entity;
    size_t i, c;

    for (c = 0; c < e->n_columns; c++)
        self->col[c] = -1;
    for (i = 0; i < n; i++) {
        char name[128];
        s_header_name(cells[i], name, sizeof name);
        if (name[0] == '#' || name[0] == '\0')
            continue; /* a column of the user's own: ignored */
        for (c = 0; c < e->n_columns && strcmp(e->columns[c].name, name) != 0; c++)
            ;
        if (c == e->n_columns) {
            int len = snprintf(self->err, sizeof self->err,
                               "unknown column '%s' (start its name with '#' to have it "
                               "ignored); the columns of %s are:",
                               cells[i], e->kind);
            for (c = 0; c < e->n_columns && len > 0 && (size_t)len < sizeof self->err; c++)
                len += snprintf(self->err + len, sizeof self->err - (size_t)len, " %s",
                                e->columns[c].name);
            return -1;
        }
        if (self->col[c] >= 0) {
            (void)snprintf(self->err, sizeof self->err, "column '%s' appears twice", name);
            return -1;
        }
        self->col[c] = (int)i;
    }
    /* latitude and longitude follow commune in both column tables */
    for (c = 0; c < e->n_columns; c++) {
        bool place = strcmp(e->columns[c].name, "commune") == 0;
        if (self->col[c] >= 0 || !(e->columns[c].required || place))
            continue;
        if (place && self->col[c + 1] >= 0 && self->col[c + 2] >= 0)
            continue; /* latitude and longitude instead */
        (void)snprintf(self->err, sizeof self->err, "missing column '%s'%s", e->columns[c].name,
                       place ? " (or 'latitude' and 'longitude')" : "");
        return -1;
    }
    self->n_header = n;
    return 0;
}

/* ------------------------------------------------------------ source */

/* matchctl_next_fn: the event of the next valid row. */
static int s_next(void *ctx, matchctl_post_t *post, const Passerelle__V1__Event **ev, size_t *line)
{
    s_import_t *self = ctx;

    s_release(self);
    for (;;) {
        size_t i;
        int rc = matchctl_csv_next(self->csv, &self->cells, &self->n_cells, line, self->err,
                                   sizeof self->err);
        if (rc == 0)
            return 0;
        if (rc == -2) {
            fprintf(stderr, "matchctl import: %s\n", self->err);
            return -1;
        }
        if (rc == 1 && self->n_cells > self->n_header) {
            for (i = self->n_header; i < self->n_cells && self->cells[i][0] == '\0'; i++)
                ;
            if (i < self->n_cells) {
                (void)snprintf(self->err, sizeof self->err,
                               "%zu cells, more than the %zu columns of the header", self->n_cells,
                               self->n_header);
                rc = -1;
            }
        }
        if (rc == 1 && s_build_event(self) == 0) {
            *ev = self->ev;
            return 1;
        }
        s_release(self);
        if (matchctl_post_reject(post, *line, "%s", self->err) != 0)
            return -1;
    }
}

/* For rejections: the column a field path of the daemon comes from. */
static const char *s_column_of(void *ctx, const char *field)
{
    const s_import_t *self = ctx;
    const s_entity_t *e = self->opt.entity;
    char path[256];
    size_t plen = strlen(e->prefix), i, j;

    if (strncmp(field, e->prefix, plen) == 0)
        field += plen;
    for (i = j = 0; field[i] != '\0' && j + 1 < sizeof path; i++) {
        if (field[i] == '[') {
            while (field[i] != '\0' && field[i] != ']')
                i++;
            if (field[i] == '\0')
                break;
            continue;
        }
        path[j++] = field[i];
    }
    path[j] = '\0';
    while (path[0] != '\0') {
        size_t len = strlen(path);
        for (i = 0; i < e->n_columns; i++) {
            const char *f = e->columns[i].fields;
            while (*f != '\0') {
                size_t n = strcspn(f, " ");
                if (n == len && strncmp(f, path, len) == 0)
                    return e->columns[i].name;
                f += n;
                f += *f == ' ';
            }
        }
        if (strrchr(path, '.') == NULL)
            break;
        *strrchr(path, '.') = '\0'; /* try the enclosing field */
    }
    return NULL;
}

/* The input's name in reports. */
static const char *s_input_name(const s_opts_t *opt)
{
    return strcmp(opt->path, "-") == 0 ? "stdin" : opt->path;
}

int matchctl_import(int argc, char **argv)
{
    s_import_t self;
    matchctl_post_opts_t post;
    char **cells = NULL;
    size_t n = 0, line = 0;
    unsigned char byte = 0;
    int rc;

    memset(&self, 0, sizeof self);
    self.opt.source = S_SOURCE_DEFAULT;
    rc = s_parse_args(argc, argv, &self.opt);
    if (rc != 0)
        return rc == S_HELP ? MATCHCTL_EXIT_OK : rc;
    self.csv = matchctl_csv_open(self.opt.path, self.opt.delim, self.err, sizeof self.err);
    if (self.csv == NULL) {
        fprintf(stderr, "matchctl import: %s\n", self.err);
        return MATCHCTL_EXIT_USAGE;
    }
    if ((line = matchctl_csv_bad_utf8(self.csv, &byte)) != 0) {
        (void)snprintf(self.err, sizeof self.err,
                       "not UTF-8 text (byte 0x%02X): save the spreadsheet as \"CSV UTF-8\" "
                       "and import that file",
                       byte);
        rc = -1;
    } else {
        rc = matchctl_csv_next(self.csv, &cells, &n, &line, self.err, sizeof self.err);
    }
    if (rc == 0)
        (void)snprintf(self.err, sizeof self.err, "no header row: the file is empty");
    if (rc != 1 || s_header(&self, cells, n) != 0) {
        /* reported like a rejected row: on stdout, unless stdout is data */
        fprintf(self.opt.json || self.opt.dry_run || self.opt.out ? stderr : stdout, "%s:%zu: %s\n",
                s_input_name(&self.opt), line ? line : 1, self.err);
        matchctl_csv_destroy(&self.csv);
        return rc == -2 ? MATCHCTL_EXIT_USAGE : MATCHCTL_EXIT_FAILED;
    }
    memset(&post, 0, sizeof post);
    post.cmd = S_CMD;
    post.endpoint =
        matchctl_endpoint(self.opt.ingest, MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST);
    post.input = s_input_name(&self.opt);
    post.file_lines = true;
    post.window = self.opt.window;
    post.timeout_ms = self.opt.timeout_ms;
    post.json = self.opt.json;
    post.dry_run = self.opt.dry_run || self.opt.out != NULL;
    post.out_path = self.opt.out;
    post.next = s_next;
    post.ctx = &self;
    post.column_of = s_column_of;
    rc = matchctl_post_run(&post);
    s_release(&self);
    free(self.owned);
    matchctl_csv_destroy(&self.csv);
    return rc;
}
