/* matchctl_query.c - `matchctl stats` and `matchctl health`: one Request on
 * the query socket, one Response back; and that exchange (matchctl_rpc) for
 * the other subcommands that query.
 *
 * Each request carries a fresh request_id and the client waits for the
 * Response carrying that id (answers to other ids, left over from an
 * earlier request that timed out on the same connection, are skipped). The stats table is drawn by
 * walking the Stats descriptor, so counters added to the contract show up without a change here.
 */
#include "matchctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passerelle/v1/query.pb-c.h"
#include "proto_json.h"

#define S_TIMEOUT_DEFAULT 5000
#define S_HWM             16
#define S_HELP            (-1) /* s_parse_args: --help was printed */

typedef struct {
    const char *cmd;
    const char *endpoint;
    unsigned long timeout_ms;
    bool json;
    bool prometheus;
} s_opts_t;

static void s_usage(const char *cmd, FILE *out)
{
    bool stats = strcmp(cmd, "stats") == 0;

    fprintf(out, "Usage: matchctl %s [--query ENDPOINT] %s [--timeout MS]\n\n", cmd,
            stats ? "[--json | --prometheus]" : "[--json]");
    if (stats)
        fprintf(out, "Print matcherd's counters as a \"name  value\" table, or with --json as\n"
                     "the JSON mapping of passerelle.v1.Stats (every field, zeros included),\n"
                     "or with --prometheus in the Prometheus text format (passerelle_* metrics,\n"
                     "for node_exporter's textfile collector).\n\n");
    else
        fprintf(out, "Ask matcherd whether it is live (its loop runs) and ready (its store is\n"
                     "open and writable). Prints \"live ready\", or what is wrong.\n\n");
    fprintf(out,
            "Options:\n"
            "  --query ENDPOINT  query socket (default $%s, else %s)\n"
            "%s"
            "  --timeout MS      longest wait for the answer (default %d)\n"
            "  --help            this text\n\n",
            MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY,
            stats ? "  --json            print the Stats message as JSON\n"
                    "  --prometheus      print the Prometheus text exposition format\n"
                  : "  --json            print the Health message as JSON\n",
            S_TIMEOUT_DEFAULT);
    if (stats)
        fprintf(out, "Exit status: 0 answered, 1 error answer, 2 usage error, 3 no answer.\n\n"
                     "Example:\n  matchctl stats --query tcp://127.0.0.1:7403 --json\n");
    else
        fprintf(out,
                "Exit status: 0 ready, 1 live but not ready, 2 usage error, 3 no answer.\n\n"
                "Example:\n  matchctl health --timeout 2000 || echo 'matcherd is not ready'\n");
}

/* Fill opt from the command line. Returns 0, S_HELP or MATCHCTL_EXIT_USAGE. */
static int s_parse_args(int argc, char **argv, s_opts_t *opt)
{
    static const struct option opts[] = {
        {"query", required_argument, NULL, 'q'}, {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},        {"prometheus", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *query = NULL;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': query = optarg; break;
        case 'j': opt->json = true; break;
        case 'p':
            if (strcmp(opt->cmd, "stats") != 0)
                return matchctl_usage_error(opt->cmd, "unknown option '--prometheus'");
            opt->prometheus = true;
            break;
        case 'h': s_usage(opt->cmd, stdout); return S_HELP;
        default:
            if (matchctl_shared_option(opt->cmd, c, argv, &opt->timeout_ms, NULL) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    if (optind < argc)
        return matchctl_usage_error(opt->cmd, "unexpected argument '%s'", argv[optind]);
    if (opt->json && opt->prometheus)
        return matchctl_usage_error(opt->cmd, "--json and --prometheus exclude each other");
    opt->endpoint = matchctl_endpoint(query, MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY);
    return 0;
}

/* Wait for the Response to request id on conn until deadline.
 * Returns 0 with *resp_p (caller frees), or an exit code (printed). */
static int s_await(matchctl_conn_t *conn, const char *cmd, const char *id, uint64_t deadline,
                   unsigned long timeout_ms, Passerelle__V1__Response **resp_p)
{
    for (;;) {
        uint64_t now = matchctl_now_ms();
        Passerelle__V1__Response *resp;
        uint8_t *data;
        size_t len;
        int rc = MATCHCTL_NET_ETIMEOUT;

        if (now < deadline)
            rc = matchctl_conn_recv(conn, (int)(deadline - now), &data, &len);
        if (rc == MATCHCTL_NET_ETIMEOUT) {
            fprintf(stderr, "matchctl: no answer from query endpoint %s after %lu ms\n",
                    matchctl_conn_endpoint(conn), timeout_ms);
            return MATCHCTL_EXIT_UNREACHABLE;
        }
        if (rc == MATCHCTL_NET_EFRAMES) {
            fprintf(stderr, "matchctl %s: dropped an answer of more than one frame\n", cmd);
            continue;
        }
        if (rc != MATCHCTL_NET_OK)
            return MATCHCTL_EXIT_UNREACHABLE;
        resp = passerelle__v1__response__unpack(NULL, len, data);
        free(data);
        if (resp == NULL) {
            fprintf(stderr, "matchctl %s: undecodable answer from query endpoint %s\n", cmd,
                    matchctl_conn_endpoint(conn));
            return MATCHCTL_EXIT_FAILED;
        }
        if (strcmp(resp->request_id, id) == 0) {
            *resp_p = resp;
            return 0;
        }
        passerelle__v1__response__free_unpacked(resp, NULL); /* an old answer: not ours */
    }
}

int matchctl_rpc(matchctl_conn_t *conn, const char *cmd, Passerelle__V1__Request *req,
                 unsigned long timeout_ms, Passerelle__V1__Response **resp_p)
{
    static unsigned long serial;
    uint64_t start = matchctl_now_ms();
    char id[64];
    uint8_t *buf;
    size_t len;
    int rc;

    *resp_p = NULL;
    /* A fresh id per request: a late answer to an earlier request that
     * timed out on the same connection is then recognised and skipped. */
    (void)snprintf(id, sizeof id, "matchctl-%ld-%" PRIu64 "-%lu", (long)getpid(), start, ++serial);
    req->request_id = id;
    len = passerelle__v1__request__get_packed_size(req);
    buf = malloc(len + 1);
    if (buf == NULL) {
        fprintf(stderr, "matchctl %s: out of memory\n", cmd);
        req->request_id = NULL;
        return MATCHCTL_EXIT_FAILED;
    }
    if (passerelle__v1__request__pack(req, buf) != len)
        abort(); /* protobuf-c broke its own contract */
    rc = matchctl_conn_send(conn, buf, len, (int)timeout_ms);
    if (rc == MATCHCTL_NET_ETIMEOUT) {
        fprintf(stderr, "matchctl: no answer from query endpoint %s after %lu ms\n",
                matchctl_conn_endpoint(conn), timeout_ms);
        rc = MATCHCTL_EXIT_UNREACHABLE;
    } else if (rc != MATCHCTL_NET_OK) {
        rc = MATCHCTL_EXIT_UNREACHABLE;
    } else {
        rc = s_await(conn, cmd, id, start + timeout_ms, timeout_ms, resp_p);
    }
    req->request_id = NULL; /* points at our stack */
    free(buf);
    return rc;
}

void matchctl_print_error(const char *cmd, const char *endpoint,
                          const Passerelle__V1__Response *resp)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &passerelle__v1__error_code__descriptor, (int)resp->error);

    fprintf(stderr, "matchctl %s: query endpoint %s answered %s: %s\n", cmd, endpoint,
            ev ? ev->name : "an unknown error", resp->message);
}

/* Send req (its request_id is set here) and return the matching Response
 * in *resp_p, which the caller frees. An answer with an error is printed
 * and freed. Returns 0 or an exit code. */
static int s_query(const s_opts_t *opt, Passerelle__V1__Request *req,
                   Passerelle__V1__Response **resp_p)
{
    matchctl_conn_t *conn = NULL;
    int rc;

    *resp_p = NULL;
    rc = matchctl_conn_new(&conn, opt->endpoint, S_HWM);
    if (rc != MATCHCTL_NET_OK)
        return rc == MATCHCTL_NET_EENDPOINT ? MATCHCTL_EXIT_USAGE : MATCHCTL_EXIT_UNREACHABLE;
    rc = matchctl_rpc(conn, opt->cmd, req, opt->timeout_ms, resp_p);
    if (rc == 0 && (*resp_p)->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NONE) {
        matchctl_print_error(opt->cmd, opt->endpoint, *resp_p);
        passerelle__v1__response__free_unpacked(*resp_p, NULL);
        *resp_p = NULL;
        rc = MATCHCTL_EXIT_FAILED;
    }
    matchctl_conn_destroy(&conn);
    return rc;
}

/* Text of the scalar field f stored at p, for the table: "-" for an empty
 * string, "?" for what is not a scalar. */
static const char *s_scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *buf,
                                 size_t size)
{
    const char *t = proto_json_scalar_text(f, p, buf, size);
    return t == NULL ? "?" : t[0] == '\0' && f->type == PROTOBUF_C_TYPE_STRING ? "-" : t;
}

/* Print the rows of map field f of msg as "name.key  value", or
 * "name  none" when empty. */
static void s_print_map(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, int width)
{
    const ProtobufCMessageDescriptor *e = f->descriptor;
    ProtobufCMessage *const *entries;
    char kbuf[32], vbuf[32];
    size_t n, i;

    memcpy(&n, (const char *)msg + f->quantifier_offset, sizeof n);
    memcpy(&entries, (const char *)msg + f->offset, sizeof entries);
    if (n == 0)
        printf("%-*s  none\n", width, f->name);
    for (i = 0; i < n; i++) {
        const char *key = s_scalar_text(
            &e->fields[0], (const char *)entries[i] + e->fields[0].offset, kbuf, sizeof kbuf);
        int pad = width - (int)strlen(f->name) - 1;
        printf("%s.%-*s  %s\n", f->name, pad > 0 ? pad : 0, key,
               s_scalar_text(&e->fields[1], (const char *)entries[i] + e->fields[1].offset, vbuf,
                             sizeof vbuf));
    }
}

/* Width of the name column: the longest field name or "map.key". */
static int s_name_width(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    size_t w = 0, i, j;

    for (i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        size_t len = strlen(f->name);
        if (len > w)
            w = len;
        if (proto_json_is_map(desc, f) && f->descriptor != NULL) {
            const ProtobufCMessageDescriptor *e = f->descriptor;
            ProtobufCMessage *const *entries;
            char kbuf[32];
            size_t n;
            memcpy(&n, (const char *)msg + f->quantifier_offset, sizeof n);
            memcpy(&entries, (const char *)msg + f->offset, sizeof entries);
            for (j = 0; j < n; j++) {
                size_t klen = strlen(s_scalar_text(&e->fields[0],
                                                   (const char *)entries[j] + e->fields[0].offset,
                                                   kbuf, sizeof kbuf));
                if (len + 1 + klen > w)
                    w = len + 1 + klen;
            }
        }
    }
    return w > 80 ? 80 : (int)w;
}

/* The "name  value" table of every field of msg. */
static void s_print_table(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    int width = s_name_width(msg);
    char buf[32];
    unsigned i;

    for (i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (proto_json_is_map(desc, f))
            s_print_map(msg, f, width);
        else if (f->label != PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE)
            printf("%-*s  %s\n", width, f->name,
                   s_scalar_text(f, (const char *)msg + f->offset, buf, sizeof buf));
    }
}

/* Parse the options shared by stats and health. Returns 0, or the exit code
 * to return (0 after --help). */
static int s_setup(int argc, char **argv, s_opts_t *opt)
{
    int rc;

    memset(opt, 0, sizeof *opt);
    opt->cmd = argv[0];
    opt->timeout_ms = S_TIMEOUT_DEFAULT;
    rc = s_parse_args(argc, argv, opt);
    return rc == S_HELP ? -1 : rc;
}

int matchctl_stats(int argc, char **argv)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    Passerelle__V1__Response *resp = NULL;
    s_opts_t opt;
    int rc = s_setup(argc, argv, &opt);

    if (rc != 0)
        return rc < 0 ? MATCHCTL_EXIT_OK : rc;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    req.stats = &sr;
    rc = s_query(&opt, &req, &resp);
    if (rc != 0)
        return rc;
    if (resp->result_case != PASSERELLE__V1__RESPONSE__RESULT_STATS || resp->stats == NULL) {
        fprintf(stderr, "matchctl stats: the answer holds no stats\n");
        rc = MATCHCTL_EXIT_FAILED;
    } else if (opt.prometheus) {
        matchctl_prometheus_print(stdout, resp->stats);
    } else if (opt.json) {
        char *text = proto_json_render(&resp->stats->base, PROTO_JSON_PRETTY | PROTO_JSON_DEFAULTS);
        if (text == NULL) {
            fprintf(stderr, "matchctl stats: out of memory\n");
            rc = MATCHCTL_EXIT_FAILED;
        } else {
            printf("%s\n", text);
            free(text);
        }
    } else {
        s_print_table(&resp->stats->base);
    }
    passerelle__v1__response__free_unpacked(resp, NULL);
    return rc;
}

int matchctl_health(int argc, char **argv)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__HealthRequest hr = PASSERELLE__V1__HEALTH_REQUEST__INIT;
    Passerelle__V1__Response *resp = NULL;
    const Passerelle__V1__Health *h;
    s_opts_t opt;
    int rc = s_setup(argc, argv, &opt);

    if (rc != 0)
        return rc < 0 ? MATCHCTL_EXIT_OK : rc;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_HEALTH;
    req.health = &hr;
    rc = s_query(&opt, &req, &resp);
    if (rc != 0)
        return rc;
    h = resp->result_case == PASSERELLE__V1__RESPONSE__RESULT_HEALTH ? resp->health : NULL;
    if (h == NULL) {
        fprintf(stderr, "matchctl health: the answer holds no health\n");
        rc = MATCHCTL_EXIT_FAILED;
    } else if (opt.json) {
        char *text = proto_json_render(&h->base, PROTO_JSON_DEFAULTS);
        if (text == NULL) {
            fprintf(stderr, "matchctl health: out of memory\n");
            rc = MATCHCTL_EXIT_FAILED;
        } else {
            printf("%s\n", text);
            free(text);
            rc = h->live && h->ready ? MATCHCTL_EXIT_OK : MATCHCTL_EXIT_FAILED;
        }
    } else if (h->live && h->ready) {
        printf("live ready\n");
    } else {
        printf("%s%s%s\n", h->live ? "live, not ready" : "not live",
               h->detail[0] != '\0' ? ": " : "", h->detail);
        rc = MATCHCTL_EXIT_FAILED;
    }
    passerelle__v1__response__free_unpacked(resp, NULL);
    return rc;
}
