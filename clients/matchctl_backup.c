/* matchctl_backup.c - `matchctl backup DIR`: ask matcherd for a consistent
 * hot copy of its store in DIR (on the daemon's host) and wait for it.
 *
 * A relative DIR is made absolute against matchctl's working directory,
 * which is right when matchctl runs on the daemon's host (the usual case);
 * the daemon itself accepts absolute paths only.
 */
#include "matchctl.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_TIMEOUT_DEFAULT 3600000 /* one hour: a large store takes a while to copy */

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: matchctl backup DIR [--query ENDPOINT] [--timeout MS]\n\n"
            "Make matcherd write a consistent, compacted copy of its store into DIR\n"
            "(a directory on the daemon's host; created if missing; refused if it already\n"
            "holds a store) while it keeps ingesting, and wait until the copy is on disk.\n"
            "Every event acknowledged before the request is in the copy. To restore: stop\n"
            "matcherd, put DIR in place of its data directory, start it.\n\n"
            "Options:\n"
            "  --query ENDPOINT  query socket (default $%s, else %s)\n"
            "  --timeout MS      longest wait for the copy (default %d)\n"
            "  --help            this text\n\n"
            "Exit status: 0 written, 1 refused or failed, 2 usage error, 3 no answer.\n\n"
            "Example:\n  matchctl backup /var/lib/passerelle/backups/$(date +%%F)\n",
            MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY, S_TIMEOUT_DEFAULT);
}

/* dir made absolute into buf. Returns 0, or -1 (too long, no cwd). */
static int s_absolute(const char *dir, char *buf, size_t size)
{
    char cwd[PATH_MAX];
    if (dir[0] == '/')
        return snprintf(buf, size, "%s", dir) < (int)size ? 0 : -1;
    if (getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    return snprintf(buf, size, "%s/%s", cwd, dir) < (int)size ? 0 : -1;
}

static int s_request(const char *endpoint, const char *path, unsigned long timeout_ms)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__BackupRequest br = PASSERELLE__V1__BACKUP_REQUEST__INIT;
    Passerelle__V1__Response *resp = NULL;
    matchctl_conn_t *conn = NULL;
    br.path = (char *)path;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_BACKUP;
    req.backup = &br;
    int rc = matchctl_conn_new(&conn, endpoint, 16);
    if (rc != MATCHCTL_NET_OK)
        return rc == MATCHCTL_NET_EENDPOINT ? MATCHCTL_EXIT_USAGE : MATCHCTL_EXIT_UNREACHABLE;
    rc = matchctl_rpc(conn, "backup", &req, timeout_ms, &resp);
    if (rc == 0 && resp->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NONE) {
        matchctl_print_error("backup", endpoint, resp);
        rc = MATCHCTL_EXIT_FAILED;
    } else if (rc == 0 && (resp->result_case != PASSERELLE__V1__RESPONSE__RESULT_BACKUP ||
                           resp->backup == NULL)) {
        fprintf(stderr, "matchctl backup: the answer holds no backup result\n");
        rc = MATCHCTL_EXIT_FAILED;
    } else if (rc == 0) {
        const Passerelle__V1__BackupResult *b = resp->backup;
        printf("backup written to %s: %llu bytes in %llu ms; events up to %llu, matches up to "
               "%llu\n",
               b->path, (unsigned long long)b->bytes, (unsigned long long)b->duration_ms,
               (unsigned long long)b->events, (unsigned long long)b->match_sequence);
    }
    if (resp != NULL)
        passerelle__v1__response__free_unpacked(resp, NULL);
    matchctl_conn_destroy(&conn);
    return rc;
}

int matchctl_backup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"query", required_argument, NULL, 'q'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *query = NULL;
    unsigned long timeout_ms = S_TIMEOUT_DEFAULT;
    char path[PATH_MAX];
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': query = optarg; break;
        case 'h': s_usage(stdout); return MATCHCTL_EXIT_OK;
        default:
            if (matchctl_shared_option("backup", c, argv, &timeout_ms, NULL) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    if (matchctl_positionals("backup", argc, argv, 1, "which directory? (matchctl backup DIR)") !=
        0)
        return MATCHCTL_EXIT_USAGE;
    if (argv[optind][0] == '\0' || s_absolute(argv[optind], path, sizeof path) != 0)
        return matchctl_usage_error("backup", "cannot use '%s' as a directory", argv[optind]);
    return s_request(matchctl_endpoint(query, MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY), path,
                     timeout_ms);
}
