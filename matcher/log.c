/* log.c - see log.h. Modelled on OpenSMTPD's log.c. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

int log_level = LOG_LEVEL_INFO;
static const char *s_progname = "matcherd";
static int s_syslog;

void log_init(const char *progname, int level, int use_syslog)
{
    s_progname = progname;
    log_level = level;
    s_syslog = use_syslog;
    if (use_syslog)
        openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level_parse(const char *name)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

static void s_vlog(int level, const char *errstr, const char *fmt, va_list ap)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    static const char *tag[] = {"error", "warn", "info", "debug"};
    char msg[1024];

    (void)vsnprintf(msg, sizeof msg, fmt, ap); /* truncation is acceptable in a log line */
    if (s_syslog) {
        if (errstr)
            syslog(prio[level], "%s: %s", msg, errstr);
        else
            syslog(prio[level], "%s", msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if (errstr)
        fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", when, ts.tv_nsec / 1000000, s_progname,
                tag[level], msg, errstr);
    else
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000, s_progname, tag[level],
                msg);
}

#define S_LOG_BODY(level, errstr)                                                                  \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    s_vlog(level, errstr, fmt, ap);                                                                \
    va_end(ap)

void log_warn(const char *fmt, ...)
{
    const char *errstr = strerror(errno);
    if (log_level < LOG_LEVEL_WARN)
        return;
    S_LOG_BODY(LOG_LEVEL_WARN, errstr);
}

void log_warnx(const char *fmt, ...)
{
    if (log_level < LOG_LEVEL_WARN)
        return;
    S_LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void log_errorx(const char *fmt, ...)
{
    S_LOG_BODY(LOG_LEVEL_ERROR, NULL);
}

void log_info_(const char *fmt, ...)
{
    S_LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void log_debug_(const char *fmt, ...)
{
    S_LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void fatal(const char *fmt, ...)
{
    const char *errstr = strerror(errno);
    S_LOG_BODY(LOG_LEVEL_ERROR, errstr);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    S_LOG_BODY(LOG_LEVEL_ERROR, NULL);
    exit(1);
}

uint64_t log_limit(log_limit_t *l, uint64_t n, int64_t now_ms, int64_t period_ms)
{
    l->unlogged += n;
    if (l->last_ms != 0 && now_ms - l->last_ms < period_ms)
        return 0;
    n = l->unlogged;
    l->last_ms = now_ms;
    l->unlogged = 0;
    return n;
}
