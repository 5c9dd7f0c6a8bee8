/* matchctl.c - command-line client of matcherd: main() and shared helpers.
 *
 * main() only handles the global options (--help, --version) and hands the
 * rest of the command line to a subcommand (matchctl_post.c,
 * matchctl_query.c, matchctl_matches.c, matchctl_feed.c). The helpers
 * here are those every subcommand needs: endpoint resolution, strict number
 * parsing, usage errors, a clock.
 */
#include "matchctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*s_command_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    s_command_fn fn;
    const char *summary;
} s_command_t;

static const s_command_t s_commands[] = {
    {"post", matchctl_post, "send events (JSON lines) to the ingest socket and report the acks"},
    {"stats", matchctl_stats, "print the daemon's counters"},
    {"health", matchctl_health, "check that the daemon is live and ready"},
    {"matches", matchctl_matches, "print the ranked, explained matches of a vacancy or graduate"},
    {"subscribe", matchctl_subscribe,
     "follow the match feed of a topic: replay what is stored, then live"},
    {"withdraw", matchctl_withdraw, "a graduate is no longer available (hired, left)"},
    {"close", matchctl_close, "a vacancy is closed (filled, cancelled, expired)"},
    {"erase", matchctl_erase, "erase every trace of a graduate"},
    {"import", matchctl_import, "post graduates or vacancies from a spreadsheet's CSV export"},
    {"reference", matchctl_reference,
     "look up a ROME occupation, RNCP certification, skill or commune"},
    {"keygen", matchctl_keygen, "write a CurveZMQ key pair (czmq certificates NAME, NAME_secret)"},
    {"backup", matchctl_backup, "make the daemon write a consistent copy of its store"},
};

#define S_N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    size_t i;

    fprintf(out, "Usage: matchctl [--help] [--version] [--client-cert FILE --server-cert FILE]\n"
                 "                SUBCOMMAND [OPTIONS] [ARGS]\n"
                 "\n"
                 "Client of matcherd, the Passerelle matching daemon.\n"
                 "\n"
                 "Subcommands:\n");
    for (i = 0; i < S_N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'matchctl SUBCOMMAND --help' for its options and an example.\n"
            "\n"
            "Endpoints: --ingest overrides $%s, default %s;\n"
            "           --feed overrides $%s, default %s;\n"
            "           --query overrides $%s, default %s.\n"
            "CurveZMQ:  --client-cert FILE (your NAME_secret certificate) overrides $%s;\n"
            "           --server-cert FILE (the server's public certificate) overrides $%s.\n"
            "\n"
            "Exit status:\n"
            "  0  success: every event accepted or duplicate; the daemon is ready\n"
            "  1  some events (or import rows) rejected or to retry; the daemon is not\n"
            "     ready; an error answer or nothing found (no such vacancy, graduate\n"
            "     or reference code)\n"
            "  2  usage error: bad option or endpoint, unreadable input file or\n"
            "     reference directory\n"
            "  3  the daemon did not answer within the timeout\n",
            MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST, MATCHCTL_ENV_FEED, MATCHCTL_DEFAULT_FEED,
            MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY, MATCHCTL_ENV_CLIENT_CERT,
            MATCHCTL_ENV_SERVER_CERT);
}

const char *matchctl_endpoint(const char *flag, const char *env, const char *fallback)
{
    const char *value;

    if (flag != NULL)
        return flag;
    value = getenv(env);
    return (value != NULL && value[0] != '\0') ? value : fallback;
}

int matchctl_parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long v;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1; /* strtoul would take spaces and a sign */
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int matchctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "matchctl%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'matchctl%s%s --help'.\n", cmd != NULL ? " " : "",
            cmd != NULL ? cmd : "");
    return MATCHCTL_EXIT_USAGE;
}

int matchctl_shared_option(const char *cmd, int c, char **argv, unsigned long *timeout_ms,
                           unsigned long *window)
{
    if (c == 't')
        return matchctl_parse_timeout(cmd, optarg, timeout_ms) != 0 ? MATCHCTL_EXIT_USAGE : 0;
    if (c == 'w' && window != NULL)
        return matchctl_parse_window(cmd, optarg, window) != 0 ? MATCHCTL_EXIT_USAGE : 0;
    if (c == ':')
        return matchctl_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    return matchctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int matchctl_positionals(const char *cmd, int argc, char **argv, int n, const char *missing)
{
    if (optind + n > argc)
        return matchctl_usage_error(cmd, "%s", missing);
    if (optind + n < argc)
        return matchctl_usage_error(cmd, "unexpected argument '%s'", argv[optind + n]);
    return 0;
}

uint64_t matchctl_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot fail with CLOCK_MONOTONIC on Linux */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run subcommand name with argv[0] = name. */
static int s_dispatch(const char *name, int argc, char **argv)
{
    size_t i;

    for (i = 0; i < S_N_COMMANDS; i++) {
        if (strcmp(s_commands[i].name, name) == 0) {
            optind = 0; /* glibc: restart getopt for the subcommand */
            return s_commands[i].fn(argc, argv);
        }
    }
    return matchctl_usage_error(NULL, "unknown subcommand '%s'", name);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"client-cert", required_argument, NULL, 'C'},
        {"server-cert", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hVC:S:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': s_usage(stdout); return MATCHCTL_EXIT_OK;
        case 'V': printf("matchctl %s\n", PASSERELLE_VERSION); return MATCHCTL_EXIT_OK;
        case 'C':
        case 'S':
            /* the transport reads them from the environment, for every subcommand */
            if (setenv(c == 'C' ? MATCHCTL_ENV_CLIENT_CERT : MATCHCTL_ENV_SERVER_CERT, optarg, 1))
                return matchctl_usage_error(NULL, "cannot set the certificate path");
            break;
        default: return matchctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return MATCHCTL_EXIT_USAGE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        if (optind + 1 >= argc) {
            s_usage(stdout);
            return MATCHCTL_EXIT_OK;
        }
        {
            char *help_argv[] = {argv[optind + 1], "--help", NULL};
            return s_dispatch(argv[optind + 1], 2, help_argv);
        }
    }
    return s_dispatch(argv[optind], argc - optind, argv + optind);
}

int matchctl_parse_timeout(const char *cmd, const char *text, unsigned long *out)
{
    if (matchctl_parse_ulong(text, 1, MATCHCTL_TIMEOUT_MAX, out) == 0)
        return 0;
    return matchctl_usage_error(cmd, "--timeout wants milliseconds from 1 to %d, not '%s'",
                                MATCHCTL_TIMEOUT_MAX, text);
}
