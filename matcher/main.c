/* main.c - matcherd: read the configuration, set up logging, run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "load.h"
#include "log.h"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: matcherd [options]\n"
        "\n"
        "Passerelle matching daemon: ingests graduates and vacancies over ZeroMQ,\n"
        "stores them durably in LMDB and acknowledges each event once committed.\n"
        "With no options it runs on embedded defaults: store in ./passerelle-data,\n"
        "endpoints on 127.0.0.1 ports 7401 (ingest), 7402 (feed), 7403 (query).\n"
        "\n"
        "  -d, --data DIR         store directory (created if missing)\n"
        "  -i, --ingest ENDPOINT  ingest ROUTER endpoint\n"
        "  -f, --feed ENDPOINT    feed XPUB endpoint\n"
        "  -q, --query ENDPOINT   query ROUTER endpoint\n"
        "  -c, --config FILE      INI configuration file (flags override it)\n"
        "  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
        "      --syslog           log to syslog instead of stderr\n"
        "      --check-config     validate the configuration and exit\n"
        "      --load FILE        initial bulk load of an EMPTY store, offline: FILE holds\n"
        "                         length-delimited passerelle.v1.Event messages ('-' is\n"
        "                         stdin; repeat for several files); then every ranked list\n"
        "                         is built, and matcherd exits (0: done, 3: done but some\n"
        "                         events were rejected, 1: refused or failed). See\n"
        "                         docs/BULK-LOAD.md\n"
        "      --load-threads N   threads computing the lists of --load (default: one\n"
        "                         per CPU online)\n"
        "  -h, --help             this help\n"
        "  -V, --version          print the version\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the client keys and\n"
        "roles ([security] mode = curve; see docs/SECURITY.md).\n"
        "\n"
        "Example: matcherd --data /var/lib/passerelle --config /etc/passerelle/matcherd.conf\n");
}

typedef struct {
    const char *section, *key, *value;
} s_flag_t;

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"ingest", required_argument, NULL, 'i'},
        {"feed", required_argument, NULL, 'f'},
        {"query", required_argument, NULL, 'q'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 'S'},
        {"check-config", no_argument, NULL, 'C'},
        {"load", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"load-threads", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    s_flag_t flags[16];
    size_t n_flags = 0;
    const char *config_path = NULL;
    int check_only = 0, ch;
    const char *loads[64];
    size_t n_loads = 0;
    unsigned load_threads = 0;
    char err[512];
    config_t cfg;

    while ((ch = getopt_long(argc, argv, "d:i:f:q:c:l:hV", opts, NULL)) != -1) {
        s_flag_t f = {NULL, NULL, optarg};
        switch (ch) {
        case 'd': f.section = "store", f.key = "data"; break;
        case 'i': f.section = "endpoints", f.key = "ingest"; break;
        case 'f': f.section = "endpoints", f.key = "feed"; break;
        case 'q': f.section = "endpoints", f.key = "query"; break;
        case 'l': f.section = "log", f.key = "level"; break;
        case 'S': f.section = "log", f.key = "syslog", f.value = "yes"; break;
        case 'c': config_path = optarg; continue;
        case 'C': check_only = 1; continue;
        case 'L':
            if (n_loads == sizeof loads / sizeof loads[0]) {
                fprintf(stderr, "matcherd: at most %zu --load files\n", n_loads);
                return 2;
            }
            loads[n_loads++] = optarg;
            continue;
        case 'T': {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || n < 1 || n > LOAD_THREADS_MAX) {
                fprintf(stderr, "matcherd: --load-threads: a number from 1 to %d\n",
                        LOAD_THREADS_MAX);
                return 2;
            }
            load_threads = (unsigned)n;
            continue;
        }
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("matcherd %s\n", PASSERELLE_VERSION); return 0;
        default: s_usage(stderr); return 2;
        }
        if (n_flags < sizeof flags / sizeof flags[0])
            flags[n_flags++] = f;
    }
    if (optind < argc) {
        fprintf(stderr, "matcherd: unexpected argument \"%s\"\n", argv[optind]);
        s_usage(stderr);
        return 2;
    }
    config_defaults(&cfg);
    if (config_path && config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "matcherd: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < n_flags; i++) {
        if (config_set(&cfg, flags[i].section, flags[i].key, flags[i].value, err, sizeof err)) {
            fprintf(stderr, "matcherd: --%s: %s\n", flags[i].key, err);
            return 2;
        }
    }
    if (config_check(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "matcherd: %s\n", err);
        return 2;
    }
    if (check_only) {
        printf("matcherd: configuration OK\n");
        return 0;
    }
    log_init("matcherd", cfg.log_level, cfg.log_syslog);
    if (n_loads > 0)
        return load_run(&cfg, loads, n_loads, load_threads);
    return daemon_run(&cfg);
}
