/* matchctl.h - what the matchctl subcommands share.
 *
 * matchctl is split by concern: matchctl.c (main, option helpers),
 * matchctl_net.c (the ZeroMQ transport, the only file that sees zmq.h),
 * matchctl_post.c (post: events in, acks back), matchctl_query.c
 * (stats, health, and the Request/Response exchange the others reuse),
 * matchctl_matches.c (matches: one entity's ranked list) and
 * matchctl_feed.c (subscribe: replay, then the live feed, with no gap and
 * no duplicate), matchctl_change.c (withdraw, close, erase),
 * matchctl_import.c (import: graduates or vacancies from a spreadsheet's
 * CSV, through the post pipeline) and matchctl_reference.c (reference:
 * look up the shipped ROME, RNCP, skill and commune tables). Clients depend on the contract
 * (proto/) and libzmq only, never on matcher code.
 */
#ifndef MATCHCTL_H
#define MATCHCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "passerelle/v1/query.pb-c.h"

/* Exit codes of every subcommand (documented in matchctl --help). */
enum {
    MATCHCTL_EXIT_OK = 0,          /* all accepted or duplicate; ready */
    MATCHCTL_EXIT_FAILED = 1,      /* some rejected or to retry; not ready; error answer */
    MATCHCTL_EXIT_USAGE = 2,       /* bad command line, endpoint or input file */
    MATCHCTL_EXIT_UNREACHABLE = 3, /* no answer within the timeout */
};

#define MATCHCTL_DEFAULT_INGEST "tcp://127.0.0.1:7401"
#define MATCHCTL_DEFAULT_FEED   "tcp://127.0.0.1:7402"
#define MATCHCTL_DEFAULT_QUERY  "tcp://127.0.0.1:7403"
#define MATCHCTL_ENV_INGEST     "PASSERELLE_INGEST"
#define MATCHCTL_ENV_FEED       "PASSERELLE_FEED"
#define MATCHCTL_ENV_QUERY      "PASSERELLE_QUERY"
/* CurveZMQ: the client's certificate (its NAME_secret file) and the
 * server's public certificate. Both set: every socket uses CURVE. The
 * global options --client-cert and --server-cert set them. */
#define MATCHCTL_ENV_CLIENT_CERT "PASSERELLE_CLIENT_CERT"
#define MATCHCTL_ENV_SERVER_CERT "PASSERELLE_SERVER_CERT"

/* Largest frame matchctl accepts from the daemon; bigger ones are dropped
 * by libzmq (ZMQ_MAXMSGSIZE) and so look like no answer. */
#define MATCHCTL_MAX_FRAME (64u * 1024 * 1024)

/* ------------------------------------------------ subcommands (argv[0] is
 * the subcommand's name). Each returns one of the exit codes above. */

int matchctl_post(int argc, char **argv);
int matchctl_stats(int argc, char **argv);
int matchctl_health(int argc, char **argv);
int matchctl_matches(int argc, char **argv);
int matchctl_subscribe(int argc, char **argv);
int matchctl_withdraw(int argc, char **argv);
int matchctl_close(int argc, char **argv);
int matchctl_erase(int argc, char **argv);
int matchctl_import(int argc, char **argv);
int matchctl_reference(int argc, char **argv);

/* ------------------------------------- the post pipeline, matchctl_post.c */

#define MATCHCTL_POST_WINDOW_DEFAULT  256
#define MATCHCTL_POST_WINDOW_MAX      100000
#define MATCHCTL_POST_TIMEOUT_DEFAULT 10000

/* One run of the pipeline: events from a source, pipelined to the ingest
 * socket, every ack counted, a report at the end. */
typedef struct matchctl_post matchctl_post_t;

/* The source of events. Returns 1 with *ev (borrowed: it must stay valid
 * until the next call) and *line (the input line it comes from, for the
 * report), 0 at the end of the input, or -1 on a fatal input error
 * (printed; the run then stops with MATCHCTL_EXIT_USAGE). A record that
 * cannot become an event is reported with matchctl_post_reject() and
 * skipped, and the source goes on to the next one. */
typedef int (*matchctl_next_fn)(void *ctx, matchctl_post_t *post, const Passerelle__V1__Event **ev,
                                size_t *line);

typedef struct {
    const char *cmd;          /* subcommand, for messages (default "post") */
    const char *endpoint;     /* ingest endpoint */
    const char *input;        /* the input's name */
    bool file_lines;          /* report lines as "INPUT:LINE: " instead of "line LINE: " */
    unsigned long window;     /* events in flight; 0: the default */
    unsigned long timeout_ms; /* longest wait for the next ack; 0: the default */
    bool json;                /* print each ack as a JSON line; summary on stderr */
    bool dry_run;             /* print the events as JSON lines instead of sending them */
    const char *out_path;     /* with dry_run: write them length-delimited (protobuf
                                 varint + Event) to this file ("-": stdout) instead,
                                 for matcherd --load */
    matchctl_next_fn next;
    void *ctx; /* for next and column_of */
    /* Optional: the input column that the field path of a rejection names
     * ("graduate_upsert.graduate.home.commune_code" -> "commune"), or NULL;
     * the report then starts with "column 'NAME': ". */
    const char *(*column_of)(void *ctx, const char *field);
} matchctl_post_opts_t;

/* Send every event of the source, wait for every ack, print the summary
 * ("accepted N, duplicate N, rejected N") and one line per rejected event,
 * in input order. With dry_run, nothing is sent: each event is printed as
 * a JSON line on stdout and the summary, on stderr, is "valid N, rejected
 * N". Returns MATCHCTL_EXIT_OK (all accepted or duplicate),
 * FAILED (some rejected, by the source or the daemon, or to retry), USAGE
 * (the source failed, or a malformed endpoint) or UNREACHABLE (no answer
 * within the timeout: printed, naming the endpoint). */
int matchctl_post_run(const matchctl_post_opts_t *opts);

/* For a source: the record at line could not be sent; count it as
 * rejected and report "fmt..." at that line. Returns 0, or -1 when out of
 * memory (printed). */
int matchctl_post_reject(matchctl_post_t *post, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int matchctl_backup(int argc, char **argv);

/* Print st in the Prometheus text exposition format (matchctl_prom.c). */
void matchctl_prometheus_print(FILE *out, const Passerelle__V1__Stats *st);

/* Post the JSON lines of jsonl to the ingest endpoint and report the acks
 * as `matchctl post` does, naming the input `what`. timeout_ms 0 means the
 * default; json prints the acks as JSON. Returns an exit code. */
int matchctl_post_text(const char *what, const char *endpoint, unsigned long timeout_ms, bool json,
                       const char *jsonl);

/* Parse the value of --window (1..MATCHCTL_POST_WINDOW_MAX) into *out.
 * Returns 0, or MATCHCTL_EXIT_USAGE after saying why on stderr. */
int matchctl_parse_window(const char *cmd, const char *text, unsigned long *out);

/* ----------------------------------------------------- helpers, matchctl.c */

/* The endpoint to use: flag if given, else the environment variable env if
 * set and not empty, else fallback. Never NULL; borrowed, not copied. */
const char *matchctl_endpoint(const char *flag, const char *env, const char *fallback);

/* Parse text as a decimal integer in [min, max] into *out (whole string,
 * no sign, no spaces). Returns 0, or -1 with *out untouched. */
int matchctl_parse_ulong(const char *text, unsigned long min, unsigned long max,
                         unsigned long *out);

/* Longest --timeout any subcommand accepts, milliseconds (one day). */
#define MATCHCTL_TIMEOUT_MAX 86400000

/* Parse the value of --timeout (milliseconds, 1..MATCHCTL_TIMEOUT_MAX) into
 * *out. Returns 0, or MATCHCTL_EXIT_USAGE after saying why on stderr. */
int matchctl_parse_timeout(const char *cmd, const char *text, unsigned long *out);

/* Print "matchctl[ cmd]: <message>" and a hint to --help on stderr.
 * Returns MATCHCTL_EXIT_USAGE. cmd may be NULL. */
int matchctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The cases a subcommand's getopt_long() switch shares, for its default:
 * c is 't' (--timeout, into *timeout_ms), 'w' (--window, into *window; NULL
 * for a subcommand without one), ':' (an option without its value) or an
 * unknown option. Returns 0 after a valid --timeout or --window, else
 * MATCHCTL_EXIT_USAGE after saying why on stderr. */
int matchctl_shared_option(const char *cmd, int c, char **argv, unsigned long *timeout_ms,
                           unsigned long *window);

/* Require exactly n positional arguments from optind on: fewer is the
 * usage error missing, more names the first extra one. Returns 0 or
 * MATCHCTL_EXIT_USAGE. */
int matchctl_positionals(const char *cmd, int argc, char **argv, int n, const char *missing);

/* Fold the UTF-8 text in for comparisons into out (size bytes, always
 * NUL-terminated, cut if too long): ASCII letters to upper case (upper) or
 * lower case, and the accented Latin letters of French (é, È, ç, œ...) to
 * their base letter, in the same case. Other bytes are copied. Defined in
 * matchctl_reference.c. */
void matchctl_fold(const char *in, char *out, size_t size, bool upper);

/* Milliseconds of a monotonic clock. */
uint64_t matchctl_now_ms(void);

/* ------------------------------------------ transport, matchctl_net.c */

/* One DEALER socket connected to one endpoint, with its own context. */
typedef struct matchctl_conn matchctl_conn_t;

/* Error codes of the transport. */
enum {
    MATCHCTL_NET_OK = 0,
    MATCHCTL_NET_EENDPOINT = -1, /* the endpoint is malformed or its transport unknown */
    MATCHCTL_NET_ESYS = -2,      /* a libzmq or memory failure (detail on stderr) */
    MATCHCTL_NET_ETIMEOUT = -3,  /* nothing arrived, or no room to send, in time */
    MATCHCTL_NET_EFRAMES = -4,   /* a message of an unexpected frame count (all read, dropped) */
    MATCHCTL_NET_EINTR = -5,     /* a signal interrupted the wait (subscriber only) */
};

/* Create a DEALER socket with high-water marks of hwm messages each way and
 * a short linger, and connect it to endpoint (copied). Connecting does not
 * wait for the peer: absence shows later as ETIMEOUT.
 * Returns MATCHCTL_NET_OK and *self_p, or EENDPOINT / ESYS (detail printed
 * on stderr) with *self_p NULL. */
int matchctl_conn_new(matchctl_conn_t **self_p, const char *endpoint, int hwm);

/* Close the socket and context; NULL or *self_p NULL is a no-op. */
void matchctl_conn_destroy(matchctl_conn_t **self_p);

/* The endpoint the connection was made to. */
const char *matchctl_conn_endpoint(const matchctl_conn_t *self);

/* Queue one single-frame message, waiting at most timeout_ms for room.
 * Returns OK, ETIMEOUT or ESYS (printed). */
int matchctl_conn_send(matchctl_conn_t *self, const void *data, size_t len, int timeout_ms);

/* Wait at most timeout_ms (0: do not wait) for one message and return its
 * single frame in *data (malloc'd, caller frees; never NULL on success) and
 * *len. Returns OK, ETIMEOUT, EFRAMES (message dropped, *data NULL) or
 * ESYS (printed). */
int matchctl_conn_recv(matchctl_conn_t *self, int timeout_ms, uint8_t **data, size_t *len);

/* Write a new CurveZMQ key pair as czmq certificates dir/name (public)
 * and dir/name_secret (mode 0600), with metadata name = name. Refuses to
 * overwrite. Returns 0, or -1 with the reason on stderr. */
int matchctl_net_keygen(const char *dir, const char *name);

/* matchctl keygen NAME [--dir DIR] */
int matchctl_keygen(int argc, char **argv);

/* Human text for a MATCHCTL_NET_ code. */
const char *matchctl_net_strerror(int rc);

/* One SUB socket connected to the feed, with its own context. */
typedef struct matchctl_sub matchctl_sub_t;

/* Create a SUB socket with a receive high-water mark of hwm messages and a
 * short linger, subscribe it to topic (a prefix; "" means every topic) and
 * connect it to endpoint. The subscription is set before connecting, so it
 * is the first thing the publisher hears from us. Connecting does not wait
 * for the publisher. Returns MATCHCTL_NET_OK and *self_p, or EENDPOINT /
 * ESYS (detail printed on stderr) with *self_p NULL. */
int matchctl_sub_new(matchctl_sub_t **self_p, const char *endpoint, const char *topic, int hwm);

/* Close the socket and context; NULL or *self_p NULL is a no-op. */
void matchctl_sub_destroy(matchctl_sub_t **self_p);

/* Wait at most timeout_ms for one [topic][payload] message. On success
 * *topic (NUL-terminated) and *data (*len bytes) are malloc'd and owned by
 * the caller. Unlike the DEALER's wait, a signal ends the wait: the caller
 * decides whether to stop. Returns OK, ETIMEOUT, EINTR, EFRAMES (a message
 * of another frame count, read and dropped) or ESYS (printed); on any
 * error *topic and *data are NULL. */
int matchctl_sub_recv(matchctl_sub_t *self, int timeout_ms, char **topic, uint8_t **data,
                      size_t *len);

/* ------------------------------------ query exchange, matchctl_query.c */

/* Send req on conn (its request_id is set here, then reset to NULL) and
 * wait until timeout_ms for the Response with that id; answers to other
 * ids are skipped. Returns 0 with *resp_p, which the caller frees with
 * passerelle__v1__response__free_unpacked() and whose error field the
 * caller checks; or MATCHCTL_EXIT_UNREACHABLE (no answer in time: printed,
 * naming the endpoint) or MATCHCTL_EXIT_FAILED (undecodable answer or out
 * of memory: printed) with *resp_p NULL. cmd names the subcommand in
 * messages. */
int matchctl_rpc(matchctl_conn_t *conn, const char *cmd, Passerelle__V1__Request *req,
                 unsigned long timeout_ms, Passerelle__V1__Response **resp_p);

/* Print "matchctl CMD: query endpoint EP answered ERROR_CODE_X: message"
 * on stderr for an error answer. */
void matchctl_print_error(const char *cmd, const char *endpoint,
                          const Passerelle__V1__Response *resp);

#endif /* MATCHCTL_H */
