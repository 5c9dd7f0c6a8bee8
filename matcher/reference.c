/* reference.c - see reference.h.
 *
 * Each TSV file is read whole and split in place: fields point into the
 * file's buffer, which lives as long as the reference. Lines starting with
 * '#' are headers or comments.
 */
#include "reference.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

#define S_NROME_TOTAL 1584.0f /* ROME occupations in the whole v460 referential */
#define S_CELL        0.2     /* degrees; cells of the nearest-commune grid */
#define S_MAX_FIELDS  16

typedef struct {
    int key;
    const ref_commune_t *c;
} s_cell_t;

struct reference {
    char *bufs[8];
    size_t n_bufs;
    char version[128];
    strmap_t *skills, *romes, *rncps, *communes;
    ref_skill_t *skill_v;
    ref_rome_t *rome_v;
    ref_rncp_t *rncp_v;
    ref_commune_t *commune_v;
    size_t n_skill, n_rome, n_rncp, n_commune;
    s_cell_t *cells; /* communes sorted by grid cell */
    ref_rome_skill_t *rome_skill_v;
    const char **moves_v;
    const char **moves_in_v;
    const char **rncp_romes_v;
};

static int s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Read dir/name whole, NUL-terminated, owned by self. */
static char *s_slurp(reference_t *self, const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    char *buf = NULL;
    (void)snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        s_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0)
        goto fail;
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)size + 1)))
        goto fail;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        goto fail;
    buf[size] = '\0';
    fclose(f);
    self->bufs[self->n_bufs++] = buf;
    return buf;
fail:
    s_err(err, errlen, "%s: cannot read", path);
    free(buf);
    fclose(f);
    return NULL;
}

/* Split the next data line of *cursor into fields; returns the number of
 * fields, 0 at the end of the buffer. Skips '#' lines. */
static int s_next_line(char **cursor, char **fields)
{
    for (;;) {
        char *line = *cursor;
        if (!*line)
            return 0;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            *cursor = nl + 1;
        } else {
            *cursor = line + strlen(line);
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        int n = 0;
        fields[n++] = line;
        for (char *p = line; *p && n < S_MAX_FIELDS; p++) {
            if (*p == '\t') {
                *p = '\0';
                fields[n++] = p + 1;
            }
        }
        return n;
    }
}

static size_t s_count_lines(const char *buf)
{
    size_t n = 0;
    for (const char *p = buf; *p; p++)
        n += *p == '\n';
    return n + 1;
}

/* Split a '|' list in place into an array slice starting at *next. */
static const char **s_split_list(char *s, const char **pool, size_t *next, size_t *n)
{
    const char **start = pool + *next;
    *n = 0;
    if (!*s)
        return start;
    for (char *p = s;; p++) {
        if (*p == '|' || *p == '\0') {
            int end = *p == '\0';
            *p = '\0';
            pool[(*next)++] = s;
            (*n)++;
            if (end)
                break;
            s = p + 1;
        }
    }
    return start;
}

static int s_load_skills(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "skills.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    if (!buf || !(self->skill_v = calloc(s_count_lines(buf), sizeof *self->skill_v)))
        return buf ? s_err(err, errlen, "skills.tsv: out of memory") : -1;
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 4)
            return s_err(err, errlen, "skills.tsv: a line has %d fields, expected 4", n);
        ref_skill_t *s = &self->skill_v[self->n_skill++];
        s->code = f[0];
        s->label = f[1];
        s->occupations = (uint32_t)strtoul(f[3], NULL, 10);
        s->rarity = logf(1.0f + S_NROME_TOTAL / (float)(s->occupations ? s->occupations : 1));
        if (strmap_put(self->skills, s->code, s) != 0)
            return s_err(err, errlen, "skills.tsv: out of memory");
    }
    return 0;
}

static int s_load_romes(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "rome.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    if (!buf || !(self->rome_v = calloc(s_count_lines(buf), sizeof *self->rome_v)))
        return buf ? s_err(err, errlen, "rome.tsv: out of memory") : -1;
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 3)
            return s_err(err, errlen, "rome.tsv: a line has %d fields, expected 3", n);
        ref_rome_t *r = &self->rome_v[self->n_rome++];
        r->code = f[0];
        r->label = f[1];
        r->parent = f[2][0] ? f[2] : f[0];
        if (strmap_put(self->romes, r->code, r) != 0)
            return s_err(err, errlen, "rome.tsv: out of memory");
    }
    return 0;
}

/* rome_skills.tsv is sorted by ROME code, core skills first: each code's
 * rows are one contiguous slice. */
static int s_load_rome_skills(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "rome_skills.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    size_t k = 0;
    if (!buf || !(self->rome_skill_v = calloc(s_count_lines(buf), sizeof *self->rome_skill_v)))
        return buf ? s_err(err, errlen, "rome_skills.tsv: out of memory") : -1;
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 3)
            return s_err(err, errlen, "rome_skills.tsv: a line has %d fields, expected 3", n);
        ref_rome_t *r = strmap_get(self->romes, f[0]);
        if (!r)
            continue; /* a code outside rome.tsv: ignore */
        if (!r->skills)
            r->skills = &self->rome_skill_v[k];
        else if (r->skills + r->n_skills != &self->rome_skill_v[k])
            return s_err(err, errlen, "rome_skills.tsv: rows of %s are not contiguous", f[0]);
        self->rome_skill_v[k].ogr = f[1];
        self->rome_skill_v[k].core = f[2][0] == '1';
        r->n_skills++;
        k++;
    }
    return 0;
}

/* Fill each code's moves_in from the others' moves: count, slice, fill. */
static int s_invert_moves(reference_t *self, size_t total, char *err, size_t errlen)
{
    size_t next = 0;
    if (!(self->moves_in_v = calloc(total + 1, sizeof *self->moves_in_v)))
        return s_err(err, errlen, "mobility.tsv: out of memory");
    for (size_t i = 0; i < self->n_rome; i++)
        for (size_t k = 0; k < self->rome_v[i].n_moves; k++) {
            ref_rome_t *t = strmap_get(self->romes, self->rome_v[i].moves[k]);
            if (t)
                t->n_moves_in++;
        }
    for (size_t i = 0; i < self->n_rome; i++) {
        self->rome_v[i].moves_in = &self->moves_in_v[next];
        next += self->rome_v[i].n_moves_in;
        self->rome_v[i].n_moves_in = 0;
    }
    for (size_t i = 0; i < self->n_rome; i++)
        for (size_t k = 0; k < self->rome_v[i].n_moves; k++) {
            ref_rome_t *t = strmap_get(self->romes, self->rome_v[i].moves[k]);
            if (t)
                t->moves_in[t->n_moves_in++] = self->rome_v[i].code;
        }
    return 0;
}

static int s_load_moves(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "mobility.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    size_t k = 0;
    if (!buf || !(self->moves_v = calloc(s_count_lines(buf), sizeof *self->moves_v)))
        return buf ? s_err(err, errlen, "mobility.tsv: out of memory") : -1;
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 2)
            return s_err(err, errlen, "mobility.tsv: a line has %d fields, expected 3", n);
        ref_rome_t *r = strmap_get(self->romes, f[0]);
        if (!r)
            continue;
        if (!r->moves)
            r->moves = &self->moves_v[k];
        else if (r->moves + r->n_moves != &self->moves_v[k])
            return s_err(err, errlen, "mobility.tsv: rows of %s are not contiguous", f[0]);
        self->moves_v[k++] = f[1];
        r->n_moves++;
    }
    return s_invert_moves(self, k, err, errlen);
}

static int s_load_rncps(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "rncp.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    size_t next = 0, lines;
    if (!buf)
        return -1;
    lines = s_count_lines(buf);
    self->rncp_v = calloc(lines, sizeof *self->rncp_v);
    self->rncp_romes_v = calloc(strlen(buf) / 2 + 1, sizeof *self->rncp_romes_v);
    if (!self->rncp_v || !self->rncp_romes_v)
        return s_err(err, errlen, "rncp.tsv: out of memory");
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 5)
            return s_err(err, errlen, "rncp.tsv: a line has %d fields, expected 7", n);
        ref_rncp_t *r = &self->rncp_v[self->n_rncp++];
        r->code = f[0];
        r->title = f[1];
        r->abbrev = f[2];
        r->level = (uint8_t)strtoul(f[3], NULL, 10);
        r->romes = s_split_list(f[4], self->rncp_romes_v, &next, &r->n_romes);
        if (strmap_put(self->rncps, r->code, r) != 0)
            return s_err(err, errlen, "rncp.tsv: out of memory");
    }
    return 0;
}

static int s_cell_key(double lat, double lon)
{
    int a = (int)floor(lat / S_CELL) + 1000, o = (int)floor(lon / S_CELL) + 2000;
    return a * 4000 + o;
}

static int s_cell_cmp(const void *a, const void *b)
{
    const s_cell_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return strcmp(x->c->insee, y->c->insee);
}

static int s_load_communes(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "communes.tsv", err, errlen), *cur = buf, *f[S_MAX_FIELDS];
    int n;
    if (!buf)
        return -1;
    size_t lines = s_count_lines(buf);
    self->commune_v = calloc(lines, sizeof *self->commune_v);
    self->cells = calloc(lines, sizeof *self->cells);
    if (!self->commune_v || !self->cells)
        return s_err(err, errlen, "communes.tsv: out of memory");
    while ((n = s_next_line(&cur, f)) > 0) {
        if (n < 8)
            return s_err(err, errlen, "communes.tsv: a line has %d fields, expected 8", n);
        ref_commune_t *c = &self->commune_v[self->n_commune];
        c->insee = f[0];
        c->postal = f[1];
        c->name = f[2];
        c->lat = strtod(f[3], NULL);
        c->lon = strtod(f[4], NULL);
        c->dept = f[5];
        c->region = f[6];
        c->population = (uint32_t)strtoul(f[7], NULL, 10);
        /* one commune may have several postal codes: keep the first row */
        if (strmap_get(self->communes, c->insee))
            continue;
        if (strmap_put(self->communes, c->insee, c) != 0)
            return s_err(err, errlen, "communes.tsv: out of memory");
        self->cells[self->n_commune].key = s_cell_key(c->lat, c->lon);
        self->cells[self->n_commune].c = c;
        self->n_commune++;
    }
    qsort(self->cells, self->n_commune, sizeof *self->cells, s_cell_cmp);
    return 0;
}

static int s_load_version(reference_t *self, const char *dir, char *err, size_t errlen)
{
    char *buf = s_slurp(self, dir, "VERSION", err, errlen);
    if (!buf)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf || strlen(buf) >= sizeof self->version)
        return s_err(err, errlen, "%s/VERSION: empty or too long", dir);
    memcpy(self->version, buf, strlen(buf) + 1);
    return 0;
}

reference_t *reference_load(const char *dir, char *err, size_t errlen)
{
    reference_t *self = calloc(1, sizeof *self);
    if (!self) {
        s_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!(self->skills = strmap_new()) || !(self->romes = strmap_new()) ||
        !(self->rncps = strmap_new()) || !(self->communes = strmap_new())) {
        s_err(err, errlen, "out of memory");
        goto fail;
    }
    if (s_load_version(self, dir, err, errlen) || s_load_skills(self, dir, err, errlen) ||
        s_load_romes(self, dir, err, errlen) || s_load_rome_skills(self, dir, err, errlen) ||
        s_load_moves(self, dir, err, errlen) || s_load_rncps(self, dir, err, errlen) ||
        s_load_communes(self, dir, err, errlen))
        goto fail;
    return self;
fail:
    reference_destroy(&self);
    return NULL;
}

void reference_destroy(reference_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reference_t *self = *self_p;
    strmap_destroy(&self->communes);
    strmap_destroy(&self->rncps);
    strmap_destroy(&self->romes);
    strmap_destroy(&self->skills);
    free(self->cells);
    free(self->commune_v);
    free(self->rncp_romes_v);
    free(self->rncp_v);
    free(self->moves_v);
    free(self->moves_in_v);
    free(self->rome_skill_v);
    free(self->rome_v);
    free(self->skill_v);
    for (size_t i = 0; i < self->n_bufs; i++)
        free(self->bufs[i]);
    free(self);
    *self_p = NULL;
}

const char *reference_version(const reference_t *self)
{
    return self->version;
}

const ref_skill_t *reference_skill(const reference_t *self, const char *code)
{
    return strmap_get(self->skills, code);
}

const ref_rome_t *reference_rome(const reference_t *self, const char *code)
{
    return strmap_get(self->romes, code);
}

const ref_rncp_t *reference_rncp(const reference_t *self, const char *code)
{
    return strmap_get(self->rncps, code);
}

const ref_commune_t *reference_commune(const reference_t *self, const char *insee)
{
    return strmap_get(self->communes, insee);
}

float reference_rarity(const reference_t *self, const char *code)
{
    const ref_skill_t *s = strmap_get(self->skills, code);
    return s ? s->rarity : logf(1.0f + S_NROME_TOTAL);
}

int reference_rome_adjacent(const reference_t *self, const char *a, const char *b)
{
    const ref_rome_t *ra = strmap_get(self->romes, a);
    for (size_t i = 0; ra && i < ra->n_moves; i++)
        if (strcmp(ra->moves[i], b) == 0)
            return 1;
    for (size_t i = 0; ra && i < ra->n_moves_in; i++)
        if (strcmp(ra->moves_in[i], b) == 0)
            return 1;
    return 0;
}

/* First index in cells with key >= key. */
static size_t s_lower_bound(const reference_t *self, int key)
{
    size_t lo = 0, hi = self->n_commune;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->cells[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const ref_commune_t *reference_commune_near(const reference_t *self, double lat, double lon)
{
    const ref_commune_t *best = NULL;
    double best_d = 1e18, coslat = cos(lat * M_PI / 180.0);
    int a0 = (int)floor(lat / S_CELL), o0 = (int)floor(lon / S_CELL);
    for (int da = -1; da <= 1; da++) {
        for (int dl = -1; dl <= 1; dl++) {
            int key = (a0 + da + 1000) * 4000 + (o0 + dl + 2000);
            for (size_t i = s_lower_bound(self, key);
                 i < self->n_commune && self->cells[i].key == key; i++) {
                const ref_commune_t *c = self->cells[i].c;
                double dy = c->lat - lat, dx = (c->lon - lon) * coslat;
                double d = dx * dx + dy * dy;
                if (d < best_d) {
                    best_d = d;
                    best = c;
                }
            }
        }
    }
    return best;
}

void reference_counts(const reference_t *self, size_t *communes, size_t *romes, size_t *rncps,
                      size_t *skills)
{
    *communes = self->n_commune;
    *romes = self->n_rome;
    *rncps = self->n_rncp;
    *skills = self->n_skill;
}
