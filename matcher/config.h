/* config.h - matcherd's settings: embedded defaults, an INI file (read with
 * libinih), then command-line flags, each overriding the one before.
 *
 * Unknown sections or keys and bad values are refused with the file, line
 * and reason. Every key is documented in deploy/matcherd.conf.example.
 */
#ifndef MATCHER_CONFIG_H
#define MATCHER_CONFIG_H

#include <limits.h>
#include <stddef.h>

#define CONFIG_ENDPOINT_MAX 256

typedef struct {
    char data_dir[PATH_MAX];          /* [store] data */
    size_t map_initial_bytes;         /* [store] map_initial_mb */
    size_t map_max_bytes;             /* [store] map_max_mb */
    int writemap;                     /* [store] writemap: yes / no */
    size_t txn_max_writes;            /* [store] txn_max_writes: B-tree writes per transaction */
    int lists_writeback_ms;           /* [store] lists_writeback_ms: 0, the kernel writes back */
    char lists_dir[PATH_MAX];         /* [store] lists_dir: "" = the data directory */
    char ingest[CONFIG_ENDPOINT_MAX]; /* [endpoints] ingest */
    char feed[CONFIG_ENDPOINT_MAX];   /* [endpoints] feed */
    char query[CONFIG_ENDPOINT_MAX];  /* [endpoints] query */
    size_t batch_max;                 /* [ingest] batch_max: events per transaction */
    size_t batch_max_bytes;           /* [ingest] batch_max_kb */
    int batch_max_ms;                 /* [ingest] batch_max_ms: matching time per transaction */
    size_t max_event_bytes;           /* [ingest] max_event_kb: larger frames are TOO_LARGE */
    size_t max_message_bytes;         /* [ingest] max_message_mb: larger ones drop the peer */
    int sndhwm;                       /* [sockets] sndhwm */
    int rcvhwm;                       /* [sockets] rcvhwm */
    int log_level;                    /* [log] level: error, warn, info, debug */
    int log_syslog;                   /* [log] syslog: yes / no */
    char reference_dir[PATH_MAX];     /* [reference] dir */
    int k;                            /* [matching] k: ranked list length */
    double w_skills;                  /* [matching] weight_skills */
    double w_certification;           /* [matching] weight_certification */
    double w_distance;                /* [matching] weight_distance */
    double w_start;                   /* [matching] weight_start */
    double distance_scale_km;         /* [matching] distance_scale_km */
    double start_window_days;         /* [matching] start_window_days */
    int retention_days;               /* [feed] retention_days: 0 = forever */
    size_t retention_max_updates;     /* [feed] retention_max_updates: 0 = no limit */
    size_t outbox_max_bytes;          /* [feed] outbox_max_mb: MatchUpdates kept for publishing */
    int security_mode;                /* [security] mode: CONFIG_SECURITY_NONE / _CURVE */
    char server_cert[PATH_MAX];       /* [security] server_cert: the server's _secret cert file */
    char clients_dir[PATH_MAX];       /* [security] clients_dir: allowed client public certs */
    char roles_file[PATH_MAX];        /* [security] roles: client name -> role and scope */
    int max_subscriptions;            /* [security] max_subscriptions: per client key */
    int scrub_after_erase_s;          /* [privacy] scrub_after_erase_s: 0 = never scrub */
    int graduate_retention_days;      /* [privacy] graduate_retention_days: 0 = keep */
    int closed_retention_days;        /* [privacy] closed_vacancy_retention_days: 0 = keep */
    int slow_commit_ms;               /* [log] slow_commit_ms: warn above; 0 = never */
} config_t;

enum { CONFIG_SECURITY_NONE = 0, CONFIG_SECURITY_CURVE = 1 };

/* Fill *cfg with the embedded defaults: data in ./passerelle-data,
 * loopback endpoints on ports 7401 (ingest), 7402 (feed), 7403 (query),
 * the reference data installed with matcherd (PASSERELLE_REFERENCE_DIR),
 * ranked lists of 20. */
void config_defaults(config_t *cfg);

/* Read the INI file at path over *cfg. Returns 0, or -1 with a message
 * "FILE:LINE: reason" in err (errlen bytes). */
int config_load(config_t *cfg, const char *path, char *err, size_t errlen);

/* Set one option by its "section.key" name (used for files and flags).
 * Returns 0, or -1 with the reason in err. */
int config_set(config_t *cfg, const char *section, const char *key, const char *value, char *err,
               size_t errlen);

/* Check the settings as a whole: endpoints well-formed and, as long as no
 * security is configured, loopback only; with mode = curve, the server
 * certificate, clients directory and roles file are set. Returns 0 or -1 with err set. */
int config_check(const config_t *cfg, char *err, size_t errlen);

#endif
