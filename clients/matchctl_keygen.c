/* matchctl_keygen.c - matchctl keygen: a CurveZMQ key pair for a client
 * (or the server), in czmq's certificate format. The transport file
 * (matchctl_net.c) does the writing. */
#include "matchctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void s_help(void)
{
    printf("Usage: matchctl keygen NAME [--dir DIR]\n"
           "\n"
           "Write a new CurveZMQ key pair as two czmq certificate files: DIR/NAME (the\n"
           "public certificate: give it to the server's operator, who puts it in the\n"
           "allowed clients directory and names NAME in the roles file) and\n"
           "DIR/NAME_secret (the key pair: keep it, mode 0600; pass it to --client-cert).\n"
           "NAME is 1..64 letters, digits, '-', '_' or '.', and is the client's name in\n"
           "the roles file. Existing files are never overwritten. DIR defaults to '.'.\n"
           "\n"
           "Example:\n"
           "  matchctl keygen ep-tarbes --dir ~/.passerelle\n");
}

static int s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int matchctl_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'h': s_help(); return MATCHCTL_EXIT_OK;
        default: return matchctl_usage_error("keygen", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return matchctl_usage_error("keygen", "expected one NAME");
    if (!s_name_ok(argv[optind]))
        return matchctl_usage_error(
            "keygen", "NAME is 1..64 letters, digits, '-', '_' or '.', not '%s'", argv[optind]);
    return matchctl_net_keygen(dir, argv[optind]) == 0 ? MATCHCTL_EXIT_OK : MATCHCTL_EXIT_FAILED;
}
