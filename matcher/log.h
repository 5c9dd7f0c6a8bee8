/* log.h - matcherd's logging: levels, stderr or syslog, printf-checked.
 *
 * log_warn appends strerror(errno); log_warnx does not. fatal/fatalx log and
 * exit(1). The level is checked before formatting, so disabled debug lines
 * cost one comparison. Messages are single lines; no trailing newline.
 */
#ifndef MATCHER_LOG_H
#define MATCHER_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

extern int log_level;

/* Start logging as progname, to syslog (daemon facility) if use_syslog,
 * else to stderr. level is a LOG_LEVEL_* value. */
void log_init(const char *progname, int level, int use_syslog);

/* Parse "error", "warn", "info" or "debug"; -1 if none of those. */
int log_level_parse(const char *name);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A rate limit for one kind of log line: at most one line a period, the
 * events in between counted for the next line. Zero it to start. */
typedef struct {
    int64_t last_ms;   /* when the last line was written; 0: never */
    uint64_t unlogged; /* events since that line */
} log_limit_t;

/* Count n events at now_ms. Returns how many events the line to write now
 * covers (these n included), or 0 when the line is to be skipped. The
 * first line is always written. */
uint64_t log_limit(log_limit_t *l, uint64_t n, int64_t now_ms, int64_t period_ms);

#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_level >= LOG_LEVEL_INFO)                                                           \
            log_info_(__VA_ARGS__);                                                                \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_level >= LOG_LEVEL_DEBUG)                                                          \
            log_debug_(__VA_ARGS__);                                                               \
    } while (0)

#endif
