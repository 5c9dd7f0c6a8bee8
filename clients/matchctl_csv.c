/* matchctl_csv.c - CSV files as spreadsheets export them (see
 * matchctl_csv.h), parsed by libcsv.
 *
 * The file is read whole (exports of schools and federations are a few
 * megabytes at most) and cut into physical lines here, on CRLF, LF or a
 * lone CR (old Mac exports), so that each row's first line is known
 * exactly: libcsv counts no lines. Each line is handed to libcsv with a LF
 * after it; a quoted field that spans lines thus gets LF line breaks. A
 * row is complete when libcsv calls the end-of-row callback; a row still
 * open at the end of a line is inside a quoted field.
 */
#include "matchctl_csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#define S_MAX_BYTES (1024u * 1024 * 1024) /* refuse files over 1 GiB */

struct matchctl_csv {
    char *data; /* the file, NUL-terminated */
    size_t len;
    size_t pos;    /* start of the next line */
    size_t lineno; /* number of the last line handed to the parser */
    char delim;
    struct csv_parser parser;
    bool parser_ok;
    /* the row being read */
    char **fields;
    size_t n_fields, cap_fields;
    bool row_done; /* the end-of-row callback ran */
    bool in_row;   /* a line of the row was fed and the row is not done */
    bool oom;      /* a callback ran out of memory */
    bool nul;      /* a field holds a NUL byte */
    size_t row_line;
};

/* Read all of f into *data (NUL-terminated) and *len. Returns 0 or errno. */
static int s_slurp(FILE *f, char **data, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return ENOMEM;
    for (;;) {
        size_t got;
        if (cap - n < 2) {
            char *grown;
            if (cap >= S_MAX_BYTES) {
                free(buf);
                return EFBIG;
            }
            grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return ENOMEM;
            }
            buf = grown;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        return e;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* The delimiter most used outside quotes in the first line. */
static char s_guess_delimiter(const char *p, size_t len)
{
    size_t comma = 0, semi = 0, tab = 0, i;
    bool quoted = false;

    for (i = 0; i < len; i++) {
        char c = p[i];
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == '\n' || c == '\r'))
            break;
        else if (!quoted && c == ',')
            comma++;
        else if (!quoted && c == ';')
            semi++;
        else if (!quoted && c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

/* Only the space is trimmed around unquoted fields (a tab may be the
 * delimiter). */
static int s_is_space(unsigned char c)
{
    return c == ' ';
}

static int s_parser_init(matchctl_csv_t *self)
{
    if (csv_init(&self->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return -1;
    csv_set_delim(&self->parser, (unsigned char)self->delim);
    csv_set_space_func(&self->parser, s_is_space);
    self->parser_ok = true;
    return 0;
}

matchctl_csv_t *matchctl_csv_open(const char *path, char delim, char *err, size_t errlen)
{
    matchctl_csv_t *self = calloc(1, sizeof *self);
    FILE *f;
    int rc;

    if (self == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        (void)snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = s_slurp(f, &self->data, &self->len);
    if (f != stdin)
        (void)fclose(f); /* read-only: nothing to lose */
    if (rc != 0) {
        (void)snprintf(err, errlen, "read %s: %s", path,
                       rc == EFBIG ? "larger than 1 GiB" : strerror(rc));
        goto fail;
    }
    if (self->len >= 3 && memcmp(self->data, "\xEF\xBB\xBF", 3) == 0)
        self->pos = 3; /* the UTF-8 byte order mark that spreadsheets write */
    self->delim =
        delim != 0 ? delim : s_guess_delimiter(self->data + self->pos, self->len - self->pos);
    if (s_parser_init(self) != 0) {
        (void)snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return self;
fail:
    matchctl_csv_destroy(&self);
    return NULL;
}

static void s_clear_row(matchctl_csv_t *self)
{
    size_t i;

    for (i = 0; i < self->n_fields; i++)
        free(self->fields[i]);
    self->n_fields = 0;
    self->row_done = false;
    self->in_row = false;
    self->nul = false;
    self->oom = false;
}

void matchctl_csv_destroy(matchctl_csv_t **self_p)
{
    matchctl_csv_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    s_clear_row(self);
    free(self->fields);
    if (self->parser_ok)
        csv_free(&self->parser);
    free(self->data);
    free(self);
    *self_p = NULL;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. Overlong
 * forms, surrogates and code points past U+10FFFF are invalid. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2, cp = p[0] & 0x1Fu;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3, cp = p[0] & 0x0Fu;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t matchctl_csv_bad_utf8(const matchctl_csv_t *self, unsigned char *byte)
{
    const unsigned char *p = (const unsigned char *)self->data;
    size_t i = 0, line = 1;

    while (i < self->len) {
        size_t len = s_utf8_len(p + i, self->len - i);
        if (len == 0) {
            *byte = p[i];
            return line;
        }
        if (p[i] == '\n' || (p[i] == '\r' && (i + 1 == self->len || p[i + 1] != '\n')))
            line++;
        i += len;
    }
    return 0;
}

char matchctl_csv_delimiter(const matchctl_csv_t *self)
{
    return self->delim;
}

/* libcsv: a field ended. */
static void s_on_field(void *data, size_t len, void *ctx)
{
    matchctl_csv_t *self = ctx;
    char *copy;

    if (self->oom)
        return;
    if (self->n_fields == self->cap_fields) {
        size_t cap = self->cap_fields ? self->cap_fields * 2 : 32;
        char **grown = realloc(self->fields, cap * sizeof *grown);
        if (grown == NULL) {
            self->oom = true;
            return;
        }
        self->fields = grown;
        self->cap_fields = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        self->oom = true;
        return;
    }
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    if (len > 0 && memchr(copy, '\0', len) != NULL)
        self->nul = true;
    self->fields[self->n_fields++] = copy;
}

/* libcsv: a row ended. */
static void s_on_row(int c, void *ctx)
{
    matchctl_csv_t *self = ctx;

    (void)c;
    self->row_done = true;
}

/* The next physical line: [*start, *start + *len). Returns false at the end. */
static bool s_next_line(matchctl_csv_t *self, const char **start, size_t *len)
{
    size_t i = self->pos;

    if (self->pos >= self->len)
        return false;
    while (i < self->len && self->data[i] != '\n' && self->data[i] != '\r')
        i++;
    *start = self->data + self->pos;
    *len = i - self->pos;
    if (i < self->len && self->data[i] == '\r' && i + 1 < self->len && self->data[i + 1] == '\n')
        i++;
    self->pos = i < self->len ? i + 1 : i;
    self->lineno++;
    return true;
}

/* True if every field of the row is empty. */
static bool s_row_blank(const matchctl_csv_t *self)
{
    size_t i;

    for (i = 0; i < self->n_fields; i++)
        if (self->fields[i][strspn(self->fields[i], " \t")] != '\0')
            return false;
    return true;
}

/* Forget the broken row and start a fresh parser. Returns -1 (for the
 * caller to return), with err filled. */
static int s_parse_error(matchctl_csv_t *self, const char *why, char *err, size_t errlen)
{
    (void)snprintf(err, errlen, "%s", why);
    s_clear_row(self);
    csv_free(&self->parser);
    self->parser_ok = false;
    if (s_parser_init(self) != 0) {
        (void)snprintf(err, errlen, "out of memory");
        return -2;
    }
    return -1;
}

/* What a completed row gives: 1, -1 (bad row) or 0 (blank: skip it). */
static int s_row_result(matchctl_csv_t *self, char ***fields, size_t *n, char *err, size_t errlen)
{
    if (self->oom) {
        (void)snprintf(err, errlen, "out of memory");
        return -2;
    }
    if (self->nul)
        return s_parse_error(self, "a cell holds a NUL byte", err, errlen);
    if (s_row_blank(self)) {
        s_clear_row(self);
        return 0;
    }
    *fields = self->fields;
    *n = self->n_fields;
    self->row_done = false;
    self->in_row = false;
    return 1;
}

int matchctl_csv_next(matchctl_csv_t *self, char ***fields, size_t *n, size_t *line, char *err,
                      size_t errlen)
{
    const char *start;
    size_t len;

    s_clear_row(self); /* the previous row's cells */
    while (s_next_line(self, &start, &len)) {
        int rc;
        if (!self->in_row) {
            if (len == 0)
                continue; /* a blank line between rows */
            self->in_row = true;
            self->row_line = self->lineno;
        }
        *line = self->row_line;
        if (csv_parse(&self->parser, start, len, s_on_field, s_on_row, self) != len ||
            csv_parse(&self->parser, "\n", 1, s_on_field, s_on_row, self) != 1) {
            if (csv_error(&self->parser) == CSV_ENOMEM) {
                (void)snprintf(err, errlen, "out of memory");
                return -2;
            }
            return s_parse_error(self,
                                 "not valid CSV: a quote inside an unquoted cell, or text "
                                 "after the closing quote of a cell (write a quote in a "
                                 "cell as two quotes, inside a quoted cell)",
                                 err, errlen);
        }
        if (!self->row_done)
            continue; /* inside a quoted cell that spans lines */
        rc = s_row_result(self, fields, n, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (!self->in_row)
        return 0;
    *line = self->row_line;
    if (csv_fini(&self->parser, s_on_field, s_on_row, self) != 0)
        return s_parse_error(self, "not valid CSV: a quoted cell is never closed", err, errlen);
    if (!self->row_done)
        return 0;
    return s_row_result(self, fields, n, err, errlen);
}
