/* dates.h - calendar dates as days since 1970-01-01, and UTF-8 checks.
 * Small, pure helpers for validation; no allocation, no locale. */
#ifndef MATCHER_DATES_H
#define MATCHER_DATES_H

#include <stddef.h>
#include <stdint.h>

/* Parse exactly "YYYY-MM-DD" (years 1970..2199, a real day of that month)
 * into days since 1970-01-01 (>= 0). Returns 0 on success, -1 otherwise. */
int dates_parse(const char *s, int32_t *days);

/* Format days since the epoch as "YYYY-MM-DD" into buf (at least 11 bytes). */
void dates_format(int32_t days, char *buf, size_t len);

/* Today (UTC) in days since the epoch. */
int32_t dates_today(void);

/* 1 if s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int utf8_valid(const char *s, size_t len);

#endif
