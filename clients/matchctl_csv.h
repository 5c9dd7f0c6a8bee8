/* matchctl_csv.h - CSV files as spreadsheets export them, row by row, with
 * the line each row starts on.
 *
 * The parsing itself is libcsv's (strict RFC 4180: fields may be quoted,
 * a quote inside a quoted field is doubled, a quoted field may hold the
 * delimiter and line breaks). Around it this module handles what
 * spreadsheets add: a UTF-8 byte order mark, the delimiter (comma,
 * semicolon as French spreadsheets write it, or tab) found from the header
 * line, CRLF, LF or lone CR line ends, and rows whose trailing empty cells
 * were dropped. Rows whose cells are all empty are skipped.
 */
#ifndef MATCHCTL_CSV_H
#define MATCHCTL_CSV_H

#include <stddef.h>

typedef struct matchctl_csv matchctl_csv_t;

/* Read the whole of path ("-": standard input) and pick the delimiter:
 * delim if not 0, else whichever of ',', ';' and tab occurs most often
 * outside quotes in the first line (',' when none does). Returns the
 * reader, or NULL with the reason (naming path) in err. */
matchctl_csv_t *matchctl_csv_open(const char *path, char delim, char *err, size_t errlen);

/* The first line holding bytes that are not UTF-8 (a spreadsheet that
 * saved in Windows-1252 or Latin-1), with the offending byte in *byte;
 * 0 when the whole file is valid UTF-8. */
size_t matchctl_csv_bad_utf8(const matchctl_csv_t *self, unsigned char *byte);

/* Free everything; NULL or *self_p NULL is a no-op. */
void matchctl_csv_destroy(matchctl_csv_t **self_p);

/* The delimiter in use. */
char matchctl_csv_delimiter(const matchctl_csv_t *self);

/* The next row that is not blank. Returns 1 with *fields (n of them,
 * NUL-terminated, borrowed until the next call) and *line (1-based line on
 * which the row starts); 0 at the end of the file; -1 when the row is not
 * valid CSV (an unescaped quote, text after a closing quote, a quoted field
 * never closed), with *line set and the reason in err: that row is
 * skipped, and the next call goes on with the following line; -2 when out
 * of memory (err says so). */
int matchctl_csv_next(matchctl_csv_t *self, char ***fields, size_t *n, size_t *line, char *err,
                      size_t errlen);

#endif /* MATCHCTL_CSV_H */
