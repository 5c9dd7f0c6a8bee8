/* matchctl_reference.c - `matchctl reference`: look up the reference data
 * that matcherd ships (the .tsv files of deploy/reference): a ROME occupation with its
 * skills, career moves and the certifications leading to it; an RNCP
 * certification; a skill; a commune by INSEE code, postal code or name.
 *
 * The tables are read here, from the installed files, rather than asked of
 * the daemon: whoever fills in an import file needs codes before any
 * daemon runs (or without access to its query socket), the files are the
 * very ones the daemon loads, and the contract does not have to grow a
 * request that only serves people. The reader is small because the tables
 * are plain tab-separated lines with a '#' header, and each lookup reads
 * only the files it needs, once. The reference version (the VERSION file)
 * is printed with every answer, to compare with the daemon's.
 */
#include "matchctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <json-c/json.h>

#define S_CMD        "reference"
#define S_ENV_DIR    "PASSERELLE_REFERENCE_DIR"
#define S_MAX_FIELDS 16
#define S_MAX_SHOWN  20 /* communes listed for a name */
#define S_HELP       (-1)
#define S_NOT_FOUND  (-3)

#ifndef PASSERELLE_REFERENCE_DIR
#define PASSERELLE_REFERENCE_DIR "/usr/share/passerelle/reference"
#endif

typedef struct {
    const char *dir;
    const char *what; /* rome, rncp, skill, commune */
    const char *key;
    bool json;
} s_opts_t;

/* Rows kept from a table: each an array of copied fields. */
typedef struct {
    char ***rows;
    size_t *widths; /* fields per row */
    size_t n, cap;
} s_rows_t;

/* ------------------------------------------------------------ folding */

void matchctl_fold(const char *in, char *out, size_t size, bool upper)
{
    /* U+00C0..U+00FF, upper case then lower case */
    static const char base[] = "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;

    if (size == 0)
        return;
    while (*p != '\0' && n + 2 < size) {
        char c;
        if (p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF) {
            c = base[p[1] - 0x80];
            p += 2;
        } else if (p[0] == 0xC5 && (p[1] == 0x92 || p[1] == 0x93)) {
            out[n++] = p[1] == 0x92 ? 'O' : 'o'; /* the ligature: "oe" */
            c = p[1] == 0x92 ? 'E' : 'e';
            p += 2;
        } else {
            c = (char)*p++;
        }
        if (c >= 'a' && c <= 'z' && upper)
            c = (char)(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z' && !upper)
            c = (char)(c - 'A' + 'a');
        out[n++] = c;
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------ tables */

static void s_rows_free(s_rows_t *r)
{
    size_t i, j;

    for (i = 0; i < r->n; i++) {
        for (j = 0; j < r->widths[i]; j++)
            free(r->rows[i][j]);
        free(r->rows[i]);
    }
    free(r->rows);
    free(r->widths);
    memset(r, 0, sizeof *r);
}

/* Keep a copy of the n fields f. Returns 0 or -1 (out of memory). */
static int s_rows_add(s_rows_t *r, char **f, size_t n)
{
    char **copy;
    size_t i;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        char ***rows = realloc(r->rows, cap * sizeof *rows);
        size_t *widths;
        if (rows == NULL)
            return -1;
        r->rows = rows;
        widths = realloc(r->widths, cap * sizeof *widths);
        if (widths == NULL)
            return -1;
        r->widths = widths;
        r->cap = cap;
    }
    copy = calloc(n + 1, sizeof *copy);
    if (copy == NULL)
        return -1;
    for (i = 0; i < n; i++)
        if ((copy[i] = strdup(f[i])) == NULL) {
            while (i-- > 0)
                free(copy[i]);
            free(copy);
            return -1;
        }
    r->rows[r->n] = copy;
    r->widths[r->n++] = n;
    return 0;
}

/* Field i of row k, "" when the row is shorter. */
static const char *s_field(const s_rows_t *r, size_t k, size_t i)
{
    return i < r->widths[k] ? r->rows[k][i] : "";
}

/* Called for each data line of a table with its fields (borrowed for the
 * call). Returns 0 to go on, -1 to fail (out of memory). */
typedef int (*s_row_fn)(void *ctx, char **f, size_t n);

/* Read table name of dir, calling fn for each line that is not a '#'
 * comment. Returns 0, or MATCHCTL_EXIT_USAGE / FAILED (printed). */
static int s_read_table(const char *dir, const char *name, s_row_fn fn, void *ctx)
{
    char path[4096], *line = NULL, *f[S_MAX_FIELDS];
    size_t cap = 0;
    ssize_t len;
    FILE *in;
    int rc = 0;

    (void)snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((in = fopen(path, "r")) == NULL) {
        fprintf(stderr,
                "matchctl reference: open %s: %s (give the reference directory with "
                "--reference or $%s)\n",
                path, strerror(errno), S_ENV_DIR);
        return MATCHCTL_EXIT_USAGE;
    }
    while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
        size_t n = 0;
        char *p = line;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        while (n < S_MAX_FIELDS) {
            f[n++] = p;
            p = strchr(p, '\t');
            if (p == NULL)
                break;
            *p++ = '\0';
        }
        if (fn(ctx, f, n) != 0) {
            fprintf(stderr, "matchctl reference: out of memory\n");
            rc = MATCHCTL_EXIT_FAILED;
        }
    }
    if (rc == 0 && ferror(in)) {
        fprintf(stderr, "matchctl reference: read %s: %s\n", path, strerror(errno));
        rc = MATCHCTL_EXIT_USAGE;
    }
    free(line);
    (void)fclose(in); /* read-only */
    return rc;
}

/* s_row_fn keeping every row. */
static int s_keep_all(void *ctx, char **f, size_t n)
{
    return s_rows_add(ctx, f, n);
}

/* A table filtered on one column. */
typedef struct {
    s_rows_t *rows;
    size_t col;
    const char *value;
    bool list; /* the column is a '|'-separated list holding value */
} s_filter_t;

static bool s_list_has(const char *list, const char *value)
{
    size_t len = strlen(value);

    while (*list != '\0') {
        size_t n = strcspn(list, "|");
        if (n == len && strncmp(list, value, len) == 0)
            return true;
        list += n;
        list += *list == '|';
    }
    return false;
}

static int s_keep_matching(void *ctx, char **f, size_t n)
{
    s_filter_t *flt = ctx;

    if (flt->col >= n)
        return 0;
    if (flt->list ? !s_list_has(f[flt->col], flt->value) : strcmp(f[flt->col], flt->value) != 0)
        return 0;
    return s_rows_add(flt->rows, f, n);
}

static int s_read_matching(const s_opts_t *o, const char *name, size_t col, const char *value,
                           bool list, s_rows_t *rows)
{
    s_filter_t flt = {rows, col, value, list};

    return s_read_table(o->dir, name, s_keep_matching, &flt);
}

/* Row of rows whose column col is value, or -1. */
static long s_find(const s_rows_t *rows, size_t col, const char *value)
{
    size_t k;

    for (k = 0; k < rows->n; k++)
        if (strcmp(s_field(rows, k, col), value) == 0)
            return (long)k;
    return -1;
}

/* The reference version, "" if unknown. */
static void s_version(const s_opts_t *o, char *buf, size_t size)
{
    char path[4096];
    FILE *f;

    buf[0] = '\0';
    (void)snprintf(path, sizeof path, "%s/VERSION", o->dir);
    if ((f = fopen(path, "r")) == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    (void)fclose(f);
}

/* The decimal number of a table field (0 if it is not one). */
static long s_long(const char *text)
{
    return strtol(text, NULL, 10);
}

/* ------------------------------------------------------------ output */

/* Print obj (owned, released here) as pretty JSON. */
static void s_print_json(json_object *obj)
{
    printf("%s\n",
           json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(obj);
}

static void s_add_str(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* A JSON array of the '|'-separated values of list. */
static json_object *s_json_list(const char *list)
{
    json_object *a = json_object_new_array();

    while (*list != '\0') {
        size_t n = strcspn(list, "|");
        json_object_array_add(a, json_object_new_string_len(list, (int)n));
        list += n;
        list += *list == '|';
    }
    return a;
}

static void s_footer(const s_opts_t *o, const char *version)
{
    printf("reference  %s (%s)\n", version[0] ? version : "unknown version", o->dir);
}

/* ------------------------------------------------------------ rome */

/* rome.tsv: code label parent; rome_skills.tsv: rome ogr core;
 * skills.tsv: ogr label kind occupations; mobility.tsv: from to order;
 * rncp.tsv: code title abbrev level romes replaced_by active */
static int s_rome(const s_opts_t *o, const char *version)
{
    s_rows_t romes = {0}, skills = {0}, labels = {0}, moves = {0}, rncps = {0};
    char code[16];
    long k;
    size_t i;
    int rc;

    matchctl_fold(o->key, code, sizeof code, true);
    rc = s_read_table(o->dir, "rome.tsv", s_keep_all, &romes);
    if (rc == 0 && (k = s_find(&romes, 0, code)) < 0)
        rc = S_NOT_FOUND;
    if (rc == 0)
        rc = s_read_matching(o, "rome_skills.tsv", 0, code, false, &skills);
    if (rc == 0)
        rc = s_read_table(o->dir, "skills.tsv", s_keep_all, &labels);
    if (rc == 0)
        rc = s_read_matching(o, "mobility.tsv", 0, code, false, &moves);
    if (rc == 0)
        rc = s_read_matching(o, "rncp.tsv", 4, code, true, &rncps);
    if (rc != 0)
        goto done;
    if (o->json) {
        json_object *obj = json_object_new_object(), *a;
        s_add_str(obj, "code", code);
        s_add_str(obj, "label", s_field(&romes, (size_t)k, 1));
        s_add_str(obj, "parent", s_field(&romes, (size_t)k, 2));
        a = json_object_new_array();
        for (i = 0; i < skills.n; i++) {
            json_object *s = json_object_new_object();
            long l = s_find(&labels, 0, s_field(&skills, i, 1));
            s_add_str(s, "code", s_field(&skills, i, 1));
            s_add_str(s, "label", l >= 0 ? s_field(&labels, (size_t)l, 1) : "");
            json_object_object_add(
                s, "core", json_object_new_boolean(strcmp(s_field(&skills, i, 2), "1") == 0));
            json_object_array_add(a, s);
        }
        json_object_object_add(obj, "skills", a);
        a = json_object_new_array();
        for (i = 0; i < moves.n; i++) {
            json_object *m = json_object_new_object();
            long l = s_find(&romes, 0, s_field(&moves, i, 1));
            s_add_str(m, "code", s_field(&moves, i, 1));
            s_add_str(m, "label", l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
            json_object_array_add(a, m);
        }
        json_object_object_add(obj, "careerMoves", a);
        a = json_object_new_array();
        for (i = 0; i < rncps.n; i++) {
            json_object *c;
            if (strcmp(s_field(&rncps, i, 6), "1") != 0)
                continue;
            c = json_object_new_object();
            s_add_str(c, "code", s_field(&rncps, i, 0));
            s_add_str(c, "title", s_field(&rncps, i, 1));
            s_add_str(c, "abbrev", s_field(&rncps, i, 2));
            json_object_object_add(c, "level",
                                   json_object_new_int((int)s_long(s_field(&rncps, i, 3))));
            json_object_array_add(a, c);
        }
        json_object_object_add(obj, "certifications", a);
        s_add_str(obj, "reference", version);
        s_print_json(obj);
        goto done;
    }
    printf("%s  %s\n", code, s_field(&romes, (size_t)k, 1));
    if (strcmp(s_field(&romes, (size_t)k, 2), code) != 0)
        printf("parent     %s\n", s_field(&romes, (size_t)k, 2));
    printf("skills     %zu (core skills marked *)\n", skills.n);
    for (i = 0; i < skills.n; i++) {
        long l = s_find(&labels, 0, s_field(&skills, i, 1));
        printf("  %-8s %s %s\n", s_field(&skills, i, 1),
               strcmp(s_field(&skills, i, 2), "1") == 0 ? "*" : " ",
               l >= 0 ? s_field(&labels, (size_t)l, 1) : "");
    }
    printf("career moves %zu\n", moves.n);
    for (i = 0; i < moves.n; i++) {
        long l = s_find(&romes, 0, s_field(&moves, i, 1));
        printf("  %-8s   %s\n", s_field(&moves, i, 1), l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
    }
    printf("certifications leading to it (active)\n");
    for (i = 0; i < rncps.n; i++)
        if (strcmp(s_field(&rncps, i, 6), "1") == 0)
            printf("  %-11s %-7s %s  %s\n", s_field(&rncps, i, 0), s_field(&rncps, i, 2),
                   s_field(&rncps, i, 3), s_field(&rncps, i, 1));
    s_footer(o, version);
done:
    s_rows_free(&romes);
    s_rows_free(&skills);
    s_rows_free(&labels);
    s_rows_free(&moves);
    s_rows_free(&rncps);
    return rc;
}

/* ------------------------------------------------------------ rncp */

static int s_rncp(const s_opts_t *o, const char *version)
{
    s_rows_t rncp = {0}, romes = {0};
    char code[32];
    const char *list, *p;
    int rc;

    matchctl_fold(o->key, code, sizeof code, true);
    rc = s_read_matching(o, "rncp.tsv", 0, code, false, &rncp);
    if (rc == 0 && rncp.n == 0)
        rc = S_NOT_FOUND;
    if (rc == 0)
        rc = s_read_table(o->dir, "rome.tsv", s_keep_all, &romes);
    if (rc != 0)
        goto done;
    list = s_field(&rncp, 0, 4);
    if (o->json) {
        json_object *obj = json_object_new_object(), *a = json_object_new_array();
        s_add_str(obj, "code", code);
        s_add_str(obj, "title", s_field(&rncp, 0, 1));
        s_add_str(obj, "abbrev", s_field(&rncp, 0, 2));
        json_object_object_add(obj, "level",
                               json_object_new_int((int)s_long(s_field(&rncp, 0, 3))));
        json_object_object_add(obj, "active",
                               json_object_new_boolean(strcmp(s_field(&rncp, 0, 6), "1") == 0));
        json_object_object_add(obj, "replacedBy", s_json_list(s_field(&rncp, 0, 5)));
        for (p = list; *p != '\0';) {
            size_t n = strcspn(p, "|");
            json_object *r = json_object_new_object();
            char rome[16];
            long l;
            (void)snprintf(rome, sizeof rome, "%.*s", (int)n, p);
            l = s_find(&romes, 0, rome);
            s_add_str(r, "code", rome);
            s_add_str(r, "label", l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
            json_object_array_add(a, r);
            p += n;
            p += *p == '|';
        }
        json_object_object_add(obj, "romes", a);
        s_add_str(obj, "reference", version);
        s_print_json(obj);
        goto done;
    }
    printf("%s  %s\n", code, s_field(&rncp, 0, 1)[0] ? s_field(&rncp, 0, 1) : "(no title)");
    printf("kind       %s\n", s_field(&rncp, 0, 2)[0] ? s_field(&rncp, 0, 2) : "-");
    printf("level      %s\n", strcmp(s_field(&rncp, 0, 3), "0") ? s_field(&rncp, 0, 3) : "unknown");
    printf("active     %s\n", strcmp(s_field(&rncp, 0, 6), "1") == 0 ? "yes" : "no");
    if (s_field(&rncp, 0, 5)[0] != '\0')
        printf("replaced by %s\n", s_field(&rncp, 0, 5));
    printf("occupations (ROME)\n");
    for (p = list; *p != '\0';) {
        size_t n = strcspn(p, "|");
        char rome[16];
        long l;
        (void)snprintf(rome, sizeof rome, "%.*s", (int)n, p);
        l = s_find(&romes, 0, rome);
        printf("  %-8s %s\n", rome, l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
        p += n;
        p += *p == '|';
    }
    s_footer(o, version);
done:
    s_rows_free(&rncp);
    s_rows_free(&romes);
    return rc;
}

/* ------------------------------------------------------------ skill */

static int s_skill(const s_opts_t *o, const char *version)
{
    s_rows_t skill = {0}, uses = {0}, romes = {0};
    size_t i;
    int rc = s_read_matching(o, "skills.tsv", 0, o->key, false, &skill);

    if (rc == 0 && skill.n == 0)
        rc = S_NOT_FOUND;
    if (rc == 0)
        rc = s_read_matching(o, "rome_skills.tsv", 1, o->key, false, &uses);
    if (rc == 0)
        rc = s_read_table(o->dir, "rome.tsv", s_keep_all, &romes);
    if (rc != 0)
        goto done;
    if (o->json) {
        json_object *obj = json_object_new_object(), *a = json_object_new_array();
        s_add_str(obj, "code", o->key);
        s_add_str(obj, "label", s_field(&skill, 0, 1));
        s_add_str(obj, "kind", s_field(&skill, 0, 2));
        json_object_object_add(obj, "occupations",
                               json_object_new_int((int)s_long(s_field(&skill, 0, 3))));
        for (i = 0; i < uses.n; i++) {
            json_object *r = json_object_new_object();
            long l = s_find(&romes, 0, s_field(&uses, i, 0));
            s_add_str(r, "code", s_field(&uses, i, 0));
            s_add_str(r, "label", l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
            json_object_object_add(r, "core",
                                   json_object_new_boolean(strcmp(s_field(&uses, i, 2), "1") == 0));
            json_object_array_add(a, r);
        }
        json_object_object_add(obj, "romes", a);
        s_add_str(obj, "reference", version);
        s_print_json(obj);
        goto done;
    }
    printf("%s  %s\n", o->key, s_field(&skill, 0, 1));
    printf("listed by %s ROME occupations (rarer skills weigh more in scores)\n",
           s_field(&skill, 0, 3));
    for (i = 0; i < uses.n; i++) {
        long l = s_find(&romes, 0, s_field(&uses, i, 0));
        printf("  %-8s %s %s\n", s_field(&uses, i, 0),
               strcmp(s_field(&uses, i, 2), "1") == 0 ? "*" : " ",
               l >= 0 ? s_field(&romes, (size_t)l, 1) : "");
    }
    s_footer(o, version);
done:
    s_rows_free(&skill);
    s_rows_free(&uses);
    s_rows_free(&romes);
    return rc;
}

/* ------------------------------------------------------------ commune */

/* communes.tsv: insee postal name lat lon dept region pop; one line per
 * (commune, postal code). */
typedef struct {
    const char *key; /* as given */
    char folded[256];
    bool code;       /* the key looks like a code: match insee, then postal */
    s_rows_t exact;  /* insee code, or name equal once folded */
    s_rows_t postal; /* postal code */
    s_rows_t prefix; /* name starting with the key once folded */
} s_commune_search_t;

/* Fold a commune name: lower case, no accents, '-' and apostrophes as spaces. */
static void s_fold_name(const char *name, char *out, size_t size)
{
    size_t i, j;

    matchctl_fold(name, out, size, false);
    for (i = j = 0; out[i] != '\0'; i++) {
        if ((unsigned char)out[i] == 0xE2 && (unsigned char)out[i + 1] == 0x80 &&
            (unsigned char)out[i + 2] == 0x99) {
            out[j++] = ' '; /* the typographic apostrophe */
            i += 2;
        } else {
            out[j++] = out[i] == '-' || out[i] == '\'' ? ' ' : out[i];
        }
    }
    out[j] = '\0';
}

static int s_commune_row(void *ctx, char **f, size_t n)
{
    s_commune_search_t *s = ctx;
    char name[256];
    size_t len;

    if (n < 8)
        return 0;
    if (s->code) {
        if (strcasecmp(f[0], s->key) == 0)
            return s_rows_add(&s->exact, f, n);
        if (strcmp(f[1], s->key) == 0)
            return s_rows_add(&s->postal, f, n);
        return 0;
    }
    s_fold_name(f[2], name, sizeof name);
    if (strcmp(name, s->folded) == 0)
        return s_rows_add(&s->exact, f, n);
    len = strlen(s->folded);
    if (strncmp(name, s->folded, len) == 0 && name[len] == ' ')
        return s_rows_add(&s->prefix, f, n);
    return 0;
}

/* Merge the lines of one commune (one per postal code) in place: row k
 * keeps the first line, its postal field the codes joined with '|'.
 * Returns the number of communes. */
static size_t s_merge_communes(s_rows_t *r)
{
    size_t out = 0, k, j;

    for (k = 0; k < r->n; k++) {
        for (j = 0; j < out && strcmp(r->rows[j][0], r->rows[k][0]) != 0; j++)
            ;
        if (j < out) {
            size_t a = strlen(r->rows[j][1]), b = strlen(r->rows[k][1]);
            char *joined = realloc(r->rows[j][1], a + b + 2);
            if (joined != NULL) {
                joined[a] = '|';
                memcpy(joined + a + 1, r->rows[k][1], b + 1);
                r->rows[j][1] = joined;
            }
            continue;
        }
        if (out != k) {
            char **tmp = r->rows[out];
            size_t w = r->widths[out];
            r->rows[out] = r->rows[k];
            r->widths[out] = r->widths[k];
            r->rows[k] = tmp;
            r->widths[k] = w;
        }
        out++;
    }
    return out;
}

static int s_by_population(const void *a, const void *b)
{
    long x = s_long((*(char *const *const *)a)[7]), y = s_long((*(char *const *const *)b)[7]);

    return (x < y) - (x > y);
}

/* Spaces to add after the UTF-8 text s to fill width characters. */
static int s_pad(const char *s, int width)
{
    int n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n < width ? width - n : 0;
}

static void s_print_communes(const s_opts_t *o, const s_rows_t *r, size_t n, const char *version)
{
    size_t k;

    if (o->json) {
        json_object *obj = json_object_new_object(), *a = json_object_new_array();
        for (k = 0; k < n; k++) {
            json_object *c = json_object_new_object();
            s_add_str(c, "insee", r->rows[k][0]);
            s_add_str(c, "name", r->rows[k][2]);
            json_object_object_add(c, "postalCodes", s_json_list(r->rows[k][1]));
            s_add_str(c, "department", r->rows[k][5]);
            s_add_str(c, "region", r->rows[k][6]);
            json_object_object_add(
                c, "latitude",
                json_object_new_double_s(strtod(r->rows[k][3], NULL), r->rows[k][3]));
            json_object_object_add(
                c, "longitude",
                json_object_new_double_s(strtod(r->rows[k][4], NULL), r->rows[k][4]));
            json_object_object_add(c, "population", json_object_new_int64(s_long(r->rows[k][7])));
            json_object_array_add(a, c);
        }
        json_object_object_add(obj, "communes", a);
        s_add_str(obj, "reference", version);
        s_print_json(obj);
        return;
    }
    printf("%-6s %-32s %-5s %-6s %-9s %-9s %8s  %s\n", "INSEE", "NAME", "DEPT", "REGION",
           "LATITUDE", "LONGITUDE", "PEOPLE", "POSTAL CODES");
    for (k = 0; k < n && k < S_MAX_SHOWN; k++) {
        char postal[128];
        size_t i;
        (void)snprintf(postal, sizeof postal, "%s", r->rows[k][1]);
        for (i = 0; postal[i] != '\0'; i++)
            if (postal[i] == '|')
                postal[i] = ' ';
        printf("%-6s %s%*s %-5s %-6s %-9s %-9s %8s  %s\n", r->rows[k][0], r->rows[k][2],
               s_pad(r->rows[k][2], 32), "", r->rows[k][5], r->rows[k][6], r->rows[k][3],
               r->rows[k][4], r->rows[k][7], postal);
    }
    if (n > S_MAX_SHOWN)
        printf("(%zu more: be more precise, or use --json)\n", n - S_MAX_SHOWN);
    s_footer(o, version);
}

static int s_commune(const s_opts_t *o, const char *version)
{
    s_commune_search_t s;
    s_rows_t *found;
    size_t n;
    int rc;

    memset(&s, 0, sizeof s);
    s.key = o->key;
    s.code = strlen(o->key) == 5 && strspn(o->key + 2, "0123456789") == 3 &&
             (strspn(o->key, "0123456789") >= 2 || strncasecmp(o->key, "2A", 2) == 0 ||
              strncasecmp(o->key, "2B", 2) == 0);
    s_fold_name(o->key, s.folded, sizeof s.folded);
    rc = s_read_table(o->dir, "communes.tsv", s_commune_row, &s);
    found = s.exact.n > 0 ? &s.exact : s.postal.n > 0 ? &s.postal : &s.prefix;
    if (rc == 0 && found->n == 0)
        rc = S_NOT_FOUND;
    if (rc == 0) {
        n = s_merge_communes(found);
        if (!s.code)
            qsort(found->rows, n, sizeof *found->rows, s_by_population);
        s_print_communes(o, found, n, version);
    }
    s_rows_free(&s.exact);
    s_rows_free(&s.postal);
    s_rows_free(&s.prefix);
    return rc;
}

/* ------------------------------------------------------------ command */

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: matchctl reference rome CODE | rncp CODE | skill CODE | commune CODE|NAME\n"
            "                          [--reference DIR] [--json]\n"
            "\n"
            "Look up the reference data matcherd uses (ROME 4.0 occupations and skills,\n"
            "RNCP certifications, INSEE communes), to fill in events and import files:\n"
            "  rome CODE     an occupation (\"H2913\"): its skills (core ones marked *),\n"
            "                career moves and the active certifications leading to it\n"
            "  rncp CODE     a certification (\"RNCP27470\"): title, kind, level, whether\n"
            "                active, what replaces it, the occupations it leads to\n"
            "  skill CODE    a skill (\"486590\"): its label and the occupations listing it\n"
            "  commune KEY   a commune by INSEE code (\"65440\"; what events carry), by\n"
            "                postal code (\"65000\"), or by name (\"Tarbes\", \"saint etienne\":\n"
            "                case, accents and hyphens do not matter)\n"
            "\n"
            "The tables are read from the reference directory, not asked of the daemon,\n"
            "so this works with no daemon running. The reference version is printed\n"
            "last: it should be the one matcherd logs at start-up.\n"
            "\n"
            "Options:\n"
            "  --reference DIR  the directory of the .tsv files (default $%s,\n"
            "                   else %s)\n"
            "  --json           print the answer as JSON\n"
            "  --help           this text\n"
            "\n"
            "Exit status: 0 found, 1 not found, 2 usage error or unreadable reference.\n"
            "\n"
            "Example:\n"
            "  matchctl reference commune Tarbes\n",
            S_ENV_DIR, PASSERELLE_REFERENCE_DIR);
}

static int s_parse_args(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"reference", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': dir = optarg; break;
        case 'j': o->json = true; break;
        case 'h': s_usage(stdout); return S_HELP;
        case ':': return matchctl_usage_error(S_CMD, "option '%s' needs a value", argv[optind - 1]);
        default: return matchctl_usage_error(S_CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 2 != argc)
        return matchctl_usage_error(S_CMD, "want one of rome, rncp, skill, commune and a key");
    o->what = argv[optind];
    o->key = argv[optind + 1];
    if (strcmp(o->what, "rome") != 0 && strcmp(o->what, "rncp") != 0 &&
        strcmp(o->what, "skill") != 0 && strcmp(o->what, "commune") != 0)
        return matchctl_usage_error(S_CMD, "want rome, rncp, skill or commune, not '%s'", o->what);
    if (o->key[0] == '\0')
        return matchctl_usage_error(S_CMD, "the %s to look up is empty", o->what);
    o->dir = matchctl_endpoint(dir, S_ENV_DIR, PASSERELLE_REFERENCE_DIR);
    return 0;
}

int matchctl_reference(int argc, char **argv)
{
    s_opts_t o;
    char version[128];
    int rc;

    memset(&o, 0, sizeof o);
    rc = s_parse_args(argc, argv, &o);
    if (rc != 0)
        return rc == S_HELP ? MATCHCTL_EXIT_OK : rc;
    s_version(&o, version, sizeof version);
    if (strcmp(o.what, "rome") == 0)
        rc = s_rome(&o, version);
    else if (strcmp(o.what, "rncp") == 0)
        rc = s_rncp(&o, version);
    else if (strcmp(o.what, "skill") == 0)
        rc = s_skill(&o, version);
    else
        rc = s_commune(&o, version);
    if (rc == S_NOT_FOUND) {
        fprintf(stderr, "matchctl reference: no %s '%s' in the reference data (%s%s%s)\n", o.what,
                o.key, o.dir, version[0] ? ", " : "", version);
        return MATCHCTL_EXIT_FAILED;
    }
    return rc;
}
