/* config.c - see config.h. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    (void)snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", "./passerelle-data");
    cfg->map_initial_bytes = 64u << 20;
    cfg->map_max_bytes = (size_t)1 << 40;
    cfg->writemap = 1;
    cfg->txn_max_writes = STORE_TXN_WRITES;
    (void)snprintf(cfg->ingest, sizeof cfg->ingest, "%s", "tcp://127.0.0.1:7401");
    (void)snprintf(cfg->feed, sizeof cfg->feed, "%s", "tcp://127.0.0.1:7402");
    (void)snprintf(cfg->query, sizeof cfg->query, "%s", "tcp://127.0.0.1:7403");
    cfg->batch_max = 1024;
    cfg->batch_max_bytes = 32u << 20;
    cfg->batch_max_ms = 0;
    cfg->max_event_bytes = 1u << 20;
    cfg->max_message_bytes = 16u << 20;
    cfg->sndhwm = 10000;
    cfg->rcvhwm = 10000;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->log_syslog = 0;
    (void)snprintf(cfg->reference_dir, sizeof cfg->reference_dir, "%s", PASSERELLE_REFERENCE_DIR);
    cfg->k = 20;
    cfg->w_skills = 0.5;
    cfg->w_certification = 0.25;
    cfg->w_distance = 0.15;
    cfg->w_start = 0.10;
    cfg->distance_scale_km = 30;
    cfg->start_window_days = 90;
    cfg->retention_days = 90;
    cfg->retention_max_updates = 0;
    cfg->outbox_max_bytes = 16u << 20;
    cfg->security_mode = CONFIG_SECURITY_NONE;
    cfg->max_subscriptions = 256;
    cfg->scrub_after_erase_s = 60;
    cfg->graduate_retention_days = 0;
    cfg->closed_retention_days = 0;
    cfg->slow_commit_ms = 1000;
}

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

/* A whole number in lo..hi, decimal, nothing after it. */
static int s_number(const char *v, unsigned long long lo, unsigned long long hi,
                    unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*v == '-' || *v == '\0')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end != '\0' || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static int s_string(char *dst, size_t size, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= size)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

typedef struct {
    const char *section;
    const char *key;
    unsigned long long lo, hi, scale; /* numbers: range before scaling */
    size_t offset;
    int kind;    /* 0 string, 1 size_t, 2 int, 3 level, 4 bool, 5 double, 6 security mode */
    size_t size; /* strings: buffer size */
} s_option_t;

#define S_STR(sec, k, field)                                                                       \
    {                                                                                              \
        sec, k, 0, 0, 0, offsetof(config_t, field), 0, sizeof(((config_t *)0)->field)              \
    }
#define S_SIZE(sec, k, field, lo, hi, scale)                                                       \
    {                                                                                              \
        sec, k, lo, hi, scale, offsetof(config_t, field), 1, 0                                     \
    }
#define S_INT(sec, k, field, lo, hi)                                                               \
    {                                                                                              \
        sec, k, lo, hi, 1, offsetof(config_t, field), 2, 0                                         \
    }
#define S_DBL(sec, k, field, lo, hi)                                                               \
    {                                                                                              \
        sec, k, lo, hi, 1, offsetof(config_t, field), 5, 0                                         \
    }

static const s_option_t s_options[] = {
    S_STR("store", "data", data_dir),
    S_SIZE("store", "map_initial_mb", map_initial_bytes, 1, 1u << 20, 1u << 20),
    S_SIZE("store", "map_max_mb", map_max_bytes, 1, 1u << 24, 1u << 20),
    {"store", "writemap", 0, 0, 0, offsetof(config_t, writemap), 4, 0},
    S_SIZE("store", "txn_max_writes", txn_max_writes, 1, 100000000, 1),
    S_INT("store", "lists_writeback_ms", lists_writeback_ms, 0, 3600000),
    S_STR("store", "lists_dir", lists_dir),
    S_STR("endpoints", "ingest", ingest),
    S_STR("endpoints", "feed", feed),
    S_STR("endpoints", "query", query),
    S_SIZE("ingest", "batch_max", batch_max, 1, 65536, 1),
    S_SIZE("ingest", "batch_max_kb", batch_max_bytes, 64, 1u << 20, 1024),
    S_INT("ingest", "batch_max_ms", batch_max_ms, 0, 3600000),
    S_SIZE("ingest", "max_event_kb", max_event_bytes, 1, 16384, 1024),
    S_SIZE("ingest", "max_message_mb", max_message_bytes, 1, 1024, 1u << 20),
    S_INT("sockets", "sndhwm", sndhwm, 1, 10000000),
    S_INT("sockets", "rcvhwm", rcvhwm, 1, 10000000),
    {"log", "level", 0, 0, 0, offsetof(config_t, log_level), 3, 0},
    {"log", "syslog", 0, 0, 0, offsetof(config_t, log_syslog), 4, 0},
    S_INT("log", "slow_commit_ms", slow_commit_ms, 0, 3600000),
    S_STR("reference", "dir", reference_dir),
    S_INT("matching", "k", k, 1, 100),
    S_DBL("matching", "weight_skills", w_skills, 0, 1000),
    S_DBL("matching", "weight_certification", w_certification, 0, 1000),
    S_DBL("matching", "weight_distance", w_distance, 0, 1000),
    S_DBL("matching", "weight_start", w_start, 0, 1000),
    S_DBL("matching", "distance_scale_km", distance_scale_km, 1, 1000),
    S_DBL("matching", "start_window_days", start_window_days, 1, 3650),
    S_INT("feed", "retention_days", retention_days, 0, 36500),
    S_SIZE("feed", "retention_max_updates", retention_max_updates, 0, 1ull << 40, 1),
    S_SIZE("feed", "outbox_max_mb", outbox_max_bytes, 0, 1u << 20, 1u << 20),
    {"security", "mode", 0, 0, 0, offsetof(config_t, security_mode), 6, 0},
    S_STR("security", "server_cert", server_cert),
    S_STR("security", "clients_dir", clients_dir),
    S_STR("security", "roles", roles_file),
    S_INT("security", "max_subscriptions", max_subscriptions, 1, 100000),
    S_INT("privacy", "scrub_after_erase_s", scrub_after_erase_s, 0, 86400 * 7),
    S_INT("privacy", "graduate_retention_days", graduate_retention_days, 0, 36500),
    S_INT("privacy", "closed_vacancy_retention_days", closed_retention_days, 0, 36500),
};

static int s_set_option(config_t *cfg, const s_option_t *o, const char *value, char *err,
                        size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    unsigned long long n;
    switch (o->kind) {
    case 0:
        if (s_string(field, o->size, value))
            return s_err(err, errlen, "%s.%s: must be 1..%zu bytes", o->section, o->key,
                         o->size - 1);
        return 0;
    case 1:
    case 2:
        if (s_number(value, o->lo, o->hi, &n))
            return s_err(err, errlen, "%s.%s: \"%s\" is not a whole number in %llu..%llu",
                         o->section, o->key, value, o->lo, o->hi);
        if (o->kind == 1)
            *(size_t *)field = (size_t)(n * o->scale);
        else
            *(int *)field = (int)n;
        return 0;
    case 3:
        if ((n = (unsigned long long)log_level_parse(value)) > LOG_LEVEL_DEBUG)
            return s_err(err, errlen, "log.level: \"%s\" is not error, warn, info or debug", value);
        *(int *)field = (int)n;
        return 0;
    case 6:
        if (strcmp(value, "none") == 0)
            *(int *)field = CONFIG_SECURITY_NONE;
        else if (strcmp(value, "curve") == 0)
            *(int *)field = CONFIG_SECURITY_CURVE;
        else
            return s_err(err, errlen, "security.mode: \"%s\" is not none or curve", value);
        return 0;
    case 5: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !(d >= (double)o->lo && d <= (double)o->hi))
            return s_err(err, errlen, "%s.%s: \"%s\" is not a number in %llu..%llu", o->section,
                         o->key, value, o->lo, o->hi);
        *(double *)field = d;
        return 0;
    }
    default:
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
            *(int *)field = 1;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
            *(int *)field = 0;
        else
            return s_err(err, errlen, "%s.%s: \"%s\" is not yes or no", o->section, o->key, value);
        return 0;
    }
}

int config_set(config_t *cfg, const char *section, const char *key, const char *value, char *err,
               size_t errlen)
{
    for (size_t i = 0; i < sizeof s_options / sizeof s_options[0]; i++) {
        const s_option_t *o = &s_options[i];
        if (strcmp(o->section, section) == 0 && strcmp(o->key, key) == 0)
            return s_set_option(cfg, o, value, err, errlen);
    }
    return s_err(err, errlen, "unknown option %s.%s", section, key);
}

typedef struct {
    config_t *cfg;
    char err[256];
} s_load_t;

static int s_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    s_load_t *l = user;
    if (l->err[0])
        return 0;
    return config_set(l->cfg, section, name, value, l->err, sizeof l->err) == 0;
}

int config_load(config_t *cfg, const char *path, char *err, size_t errlen)
{
    s_load_t l = {.cfg = cfg, .err = ""};
    int rc = ini_parse(path, s_ini_handler, &l);
    if (rc == -1)
        return s_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    if (rc == -2)
        return s_err(err, errlen, "%s: out of memory", path);
    if (rc > 0)
        return s_err(err, errlen, "%s:%d: %s", path, rc, l.err[0] ? l.err : "syntax error");
    return 0;
}

/* Loopback-only check for a tcp:// endpoint; ipc:// and inproc:// are local. */
static int s_endpoint_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *host = ep + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

static int s_endpoint_check(const char *name, const char *ep, int curve, char *err, size_t errlen)
{
    if (strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0 &&
        strncmp(ep, "inproc://", 9) != 0)
        return s_err(err, errlen, "endpoints.%s: \"%s\" is not tcp://HOST:PORT or ipc://PATH", name,
                     ep);
    if (!curve && !s_endpoint_local(ep))
        return s_err(err, errlen,
                     "endpoints.%s: refusing to bind \"%s\": without CurveZMQ security only "
                     "loopback (127.0.0.0/8, [::1], localhost) or ipc:// endpoints are allowed; "
                     "set [security] mode = curve (see docs/SECURITY.md) to bind other addresses",
                     name, ep);
    return 0;
}

int config_check(const config_t *cfg, char *err, size_t errlen)
{
    int curve = cfg->security_mode == CONFIG_SECURITY_CURVE;
    if (s_endpoint_check("ingest", cfg->ingest, curve, err, errlen) ||
        s_endpoint_check("feed", cfg->feed, curve, err, errlen) ||
        s_endpoint_check("query", cfg->query, curve, err, errlen))
        return -1;
    if (curve && (!cfg->server_cert[0] || !cfg->clients_dir[0] || !cfg->roles_file[0]))
        return s_err(err, errlen,
                     "security.mode = curve needs security.server_cert, security.clients_dir "
                     "and security.roles");
    if (cfg->map_initial_bytes > cfg->map_max_bytes)
        return s_err(err, errlen, "store.map_initial_mb is larger than store.map_max_mb");
    if (cfg->max_event_bytes > cfg->max_message_bytes)
        return s_err(err, errlen, "ingest.max_event_kb is larger than ingest.max_message_mb");
    if (cfg->w_skills + cfg->w_certification + cfg->w_distance + cfg->w_start <= 0)
        return s_err(err, errlen, "matching: the four weights add up to 0");
    return 0;
}
