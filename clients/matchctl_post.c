/* matchctl_post.c - `matchctl post`: events from JSON lines to the ingest
 * socket, with the acks reported; and that pipeline (matchctl_post_run) for
 * the other subcommands that send events (import, withdraw, close, erase),
 * which only supply their own source of events.
 *
 * Events are pipelined: up to --window of them are in flight, unanswered,
 * at any time. matcherd answers every message on a connection with exactly
 * one Ack, in order, so the acks are matched to the events by position
 * (their event_id is checked too). The ring of in-flight events keeps the
 * line number and event id of each, for the report. An input record that
 * is not a valid Event (a line that does not parse, a CSV row with a bad
 * cell) is reported by its source and never sent.
 */
#include "matchctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "passerelle/v1/ingest.pb-c.h"
#include "proto_json.h"

#define S_CMD         "post"
#define S_PROGRESS_MS 1000
#define S_HELP        (-1) /* s_parse_args: --help was printed */

/* Options of `matchctl post` itself. */
typedef struct {
    const char *endpoint;
    const char *path;
    unsigned long window;
    unsigned long timeout_ms;
    bool json;
} s_opts_t;

/* The JSON-lines source of `matchctl post`. */
typedef struct {
    const char *path;
    FILE *in;
    char *buf;
    size_t cap;
    size_t lineno;
    Passerelle__V1__Event *ev; /* the last event handed out */
} s_jsonl_t;

/* An event sent and not yet answered. */
typedef struct {
    size_t line;
    char *event_id;
} s_pending_t;

/* One line of the final report (rejected, retry, not sent). */
typedef struct {
    size_t line;
    char *text;
} s_report_t;

struct matchctl_post {
    matchctl_post_opts_t opt;
    bool eof;
    matchctl_conn_t *conn;
    s_pending_t *ring; /* opt.window slots; count of them from head */
    size_t head, count;
    size_t sent, answered, accepted, duplicate, rejected, retry;
    s_report_t *reports;
    size_t n_reports, cap_reports;
    bool tty, progress_shown;
    uint64_t progress_at;
};

typedef matchctl_post_t s_post_t;

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: matchctl post [--ingest ENDPOINT] [--window N] [--timeout MS] [--json] FILE|-\n"
        "\n"
        "Send events to matcherd's ingest socket and report how each was answered.\n"
        "FILE (or standard input for -) holds one passerelle.v1.Event per line in\n"
        "the proto3 JSON mapping; blank lines and lines starting with # are skipped.\n"
        "A line that is not a valid Event is reported and not sent.\n"
        "\n"
        "Options:\n"
        "  --ingest ENDPOINT  ingest socket (default $%s, else %s)\n"
        "  --window N         events in flight without an ack, 1..%d (default %d)\n"
        "  --timeout MS       longest wait for the next ack (default %d)\n"
        "  --json             print each ack as a JSON line instead of the report\n"
        "  --help             this text\n"
        "\n"
        "Prints \"accepted N, duplicate N, rejected N\", then one line per rejected\n"
        "event: \"line L: EVENT_ID: ERROR_CODE: message (field F)\".\n"
        "Exit status: 0 all accepted or duplicate, 1 some rejected or to retry,\n"
        "2 usage error, 3 no answer within the timeout.\n"
        "\n"
        "Example: with events.jsonl holding the line\n"
        "  {\"eventId\":\"ev-1\",\"source\":\"ep-tarbes-sis\",\"occurredAtMs\":\"1700000000000\","
        "\"graduateErased\":{\"graduateId\":\"0650043X:g-17\",\"schoolId\":\"0650043X\"}}\n"
        "run\n"
        "  matchctl post --ingest tcp://127.0.0.1:7401 events.jsonl\n",
        MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST, MATCHCTL_POST_WINDOW_MAX,
        MATCHCTL_POST_WINDOW_DEFAULT, MATCHCTL_POST_TIMEOUT_DEFAULT);
}

/* Fill opt from the command line. Returns 0, S_HELP or MATCHCTL_EXIT_USAGE. */
static int s_parse_args(int argc, char **argv, s_opts_t *opt)
{
    static const struct option opts[] = {
        {"ingest", required_argument, NULL, 'i'},  {"window", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *ingest = NULL;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': ingest = optarg; break;
        case 'j': opt->json = true; break;
        case 'h': s_usage(stdout); return S_HELP;
        default:
            if (matchctl_shared_option(S_CMD, c, argv, &opt->timeout_ms, &opt->window) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    if (matchctl_positionals(S_CMD, argc, argv, 1, "missing FILE (use - for standard input)") != 0)
        return MATCHCTL_EXIT_USAGE;
    opt->path = argv[optind];
    opt->endpoint = matchctl_endpoint(ingest, MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST);
    return 0;
}

int matchctl_parse_window(const char *cmd, const char *text, unsigned long *out)
{
    if (matchctl_parse_ulong(text, 1, MATCHCTL_POST_WINDOW_MAX, out) == 0)
        return 0;
    return matchctl_usage_error(cmd, "--window wants a number from 1 to %d, not '%s'",
                                MATCHCTL_POST_WINDOW_MAX, text);
}

/* Add a report line; control characters (from the daemon's text or the
 * input) become '?' so the terminal stays sane. Returns 0, or -1 when out
 * of memory (printed). */
static int s_report_vadd(s_post_t *self, size_t line, const char *fmt, va_list ap)
{
    va_list ap2;
    char *text, *c;
    int n;

    if (self->n_reports == self->cap_reports) {
        size_t cap = self->cap_reports ? self->cap_reports * 2 : 64;
        s_report_t *grown = realloc(self->reports, cap * sizeof *grown);
        if (grown == NULL)
            goto oom;
        self->reports = grown;
        self->cap_reports = cap;
    }
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    text = n < 0 ? NULL : malloc((size_t)n + 1);
    if (text != NULL)
        (void)vsnprintf(text, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (text == NULL)
        goto oom;
    for (c = text; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    self->reports[self->n_reports].line = line;
    self->reports[self->n_reports++].text = text;
    return 0;
oom:
    fprintf(stderr, "matchctl %s: out of memory\n", self->opt.cmd);
    return -1;
}

__attribute__((format(printf, 3, 4))) static int s_report_add(s_post_t *self, size_t line,
                                                              const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = s_report_vadd(self, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* Print "INPUT:LINE: " or "line LINE: " on out. */
static void s_print_where(const s_post_t *self, FILE *out, size_t line)
{
    if (self->opt.file_lines)
        fprintf(out, "%s:%zu: ", self->opt.input, line);
    else
        fprintf(out, "line %zu: ", line);
}

int matchctl_post_reject(matchctl_post_t *self, size_t line, const char *fmt, ...)
{
    va_list ap;
    int rc;

    self->rejected++;
    if (self->opt.json) {
        /* stdout is for acks: say it on stderr now */
        s_print_where(self, stderr, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    va_start(ap, fmt);
    rc = s_report_vadd(self, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* Overwrite the progress line on stderr at most once a second, and only on
 * a terminal. With final, erase it. */
static void s_progress(s_post_t *self, bool final)
{
    uint64_t now;

    if (!self->tty)
        return;
    if (final) {
        if (self->progress_shown)
            fputs("\r\033[K", stderr);
        return;
    }
    now = matchctl_now_ms();
    if (now - self->progress_at < S_PROGRESS_MS)
        return;
    self->progress_at = now;
    self->progress_shown = true;
    fprintf(stderr, "\rsent %zu, answered %zu: accepted %zu, duplicate %zu, rejected %zu\033[K",
            self->sent, self->answered, self->accepted, self->duplicate, self->rejected);
}

/* True for a line to skip: blank, or a comment starting with '#'. */
static bool s_skip_line(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i == len || line[i] == '#';
}

/* matchctl_next_fn of the JSON-lines source: read lines up to the next
 * valid event. Lines that do not parse are reported as not sent. */
static int s_jsonl_next(void *ctx, matchctl_post_t *post, const Passerelle__V1__Event **out,
                        size_t *line)
{
    s_jsonl_t *self = ctx;
    char err[512];

    if (self->ev != NULL)
        passerelle__v1__event__free_unpacked(self->ev, NULL);
    self->ev = NULL;
    for (;;) {
        ProtobufCMessage *msg;
        ssize_t n;
        size_t len;

        errno = 0;
        n = getline(&self->buf, &self->cap, self->in);
        if (n < 0) {
            if (!ferror(self->in))
                return 0;
            fprintf(stderr, "matchctl %s: read %s: %s\n", post->opt.cmd, self->path,
                    strerror(errno));
            return -1;
        }
        self->lineno++;
        len = (size_t)n;
        while (len > 0 && (self->buf[len - 1] == '\n' || self->buf[len - 1] == '\r'))
            len--;
        if (s_skip_line(self->buf, len))
            continue;
        msg = proto_json_parse(&passerelle__v1__event__descriptor, self->buf, len, err, sizeof err);
        if (msg != NULL) {
            self->ev = (Passerelle__V1__Event *)msg;
            *out = self->ev;
            *line = self->lineno;
            return 1;
        }
        if (matchctl_post_reject(post, self->lineno, "not sent: %s", err) != 0)
            return -1;
    }
}

static void s_jsonl_close(s_jsonl_t *self, const char *cmd)
{
    if (self->ev != NULL)
        passerelle__v1__event__free_unpacked(self->ev, NULL);
    self->ev = NULL;
    if (self->in != NULL && self->in != stdin && fclose(self->in) != 0)
        fprintf(stderr, "matchctl %s: close %s: %s\n", cmd, self->path, strerror(errno));
    self->in = NULL;
    free(self->buf);
    self->buf = NULL;
}

/* Pack ev, queue it, and remember it (from input line) in the ring.
 * Returns 0 or an exit code. */
static int s_send_event(s_post_t *self, const Passerelle__V1__Event *ev, size_t line)
{
    s_pending_t *slot = &self->ring[(self->head + self->count) % self->opt.window];
    size_t len = passerelle__v1__event__get_packed_size(ev);
    uint8_t *buf = malloc(len + 1);
    int rc;

    slot->event_id = strdup(ev->event_id);
    if (buf == NULL || slot->event_id == NULL) {
        fprintf(stderr, "matchctl %s: out of memory\n", self->opt.cmd);
        free(slot->event_id);
        slot->event_id = NULL;
        free(buf);
        return MATCHCTL_EXIT_FAILED;
    }
    if (passerelle__v1__event__pack(ev, buf) != len) {
        fprintf(stderr, "matchctl %s: line %zu: packed size mismatch\n", self->opt.cmd, line);
        abort(); /* protobuf-c broke its own contract */
    }
    slot->line = line;
    rc = matchctl_conn_send(self->conn, buf, len, (int)self->opt.timeout_ms);
    free(buf);
    if (rc != MATCHCTL_NET_OK) {
        free(slot->event_id);
        slot->event_id = NULL;
        if (rc == MATCHCTL_NET_ETIMEOUT)
            fprintf(stderr,
                    "matchctl: ingest endpoint %s takes no events (queue full for %lu ms)\n",
                    self->opt.endpoint, self->opt.timeout_ms);
        return MATCHCTL_EXIT_UNREACHABLE;
    }
    self->count++;
    self->sent++;
    return 0;
}

/* Take and send events until the window is full or the input ends.
 * Returns 0 or an exit code. */
static int s_fill(s_post_t *self)
{
    while (!self->eof && self->count < self->opt.window) {
        const Passerelle__V1__Event *ev = NULL;
        size_t line = 0;
        int rc = self->opt.next(self->opt.ctx, self, &ev, &line);
        if (rc < 0)
            return MATCHCTL_EXIT_USAGE;
        if (rc == 0) {
            self->eof = true;
            break;
        }
        rc = s_send_event(self, ev, line);
        if (rc != 0)
            return rc;
        s_progress(self, false);
    }
    return 0;
}
/* Report a REJECTED or RETRY ack of the event in p. */
static int s_report_ack(s_post_t *self, const s_pending_t *p, const Passerelle__V1__Ack *ack)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &passerelle__v1__error_code__descriptor, (int)ack->error);
    const char *id = ack->event_id[0] != '\0' ? ack->event_id
                     : p->event_id[0] != '\0' ? p->event_id
                                              : "-";
    const char *retry =
        ack->status == PASSERELLE__V1__ACK_STATUS__ACK_STATUS_RETRY ? " [retry later]" : "";
    char code[32];

    const char *column = NULL;
    char where[96] = "";

    if (ev == NULL)
        (void)snprintf(code, sizeof code, "ERROR_CODE_%d", (int)ack->error);
    if (ack->status != PASSERELLE__V1__ACK_STATUS__ACK_STATUS_REJECTED &&
        ack->status != PASSERELLE__V1__ACK_STATUS__ACK_STATUS_RETRY)
        return s_report_add(self, p->line, "%s: unexpected ack status %d", id, (int)ack->status);
    if (self->opt.column_of != NULL && ack->field[0] != '\0')
        column = self->opt.column_of(self->opt.ctx, ack->field);
    if (column != NULL)
        (void)snprintf(where, sizeof where, "column '%s': ", column);
    if (ack->field[0] != '\0')
        return s_report_add(self, p->line, "%s%s: %s: %s (field %s)%s", where, id,
                            ev ? ev->name : code, ack->message, ack->field, retry);
    return s_report_add(self, p->line, "%s: %s: %s%s", id, ev ? ev->name : code, ack->message,
                        retry);
}

/* Count one decoded ack against the event p it answers. */
static int s_count_ack(s_post_t *self, const s_pending_t *p, const Passerelle__V1__Ack *ack)
{
    if (ack->event_id[0] != '\0' && strcmp(ack->event_id, p->event_id) != 0)
        fprintf(stderr, "matchctl %s: line %zu: ack names event '%s', expected '%s'\n",
                self->opt.cmd, p->line, ack->event_id, p->event_id);
    if (self->opt.json) {
        char *text = proto_json_render(&ack->base, 0);
        if (text == NULL) {
            fprintf(stderr, "matchctl %s: out of memory\n", self->opt.cmd);
            return -1;
        }
        printf("%s\n", text);
        free(text);
    }
    switch (ack->status) {
    case PASSERELLE__V1__ACK_STATUS__ACK_STATUS_ACCEPTED: self->accepted++; return 0;
    case PASSERELLE__V1__ACK_STATUS__ACK_STATUS_DUPLICATE: self->duplicate++; return 0;
    case PASSERELLE__V1__ACK_STATUS__ACK_STATUS_RETRY:
        self->retry++;
        return s_report_ack(self, p, ack);
    default: self->rejected++; return s_report_ack(self, p, ack);
    }
}

/* Take the answer (rc, data, len from matchctl_conn_recv) to the oldest
 * event in flight. Returns 0, or -1 when out of memory. */
static int s_take_answer(s_post_t *self, int rc, const uint8_t *data, size_t len)
{
    s_pending_t *p = &self->ring[self->head];
    Passerelle__V1__Ack *ack = NULL;
    int out;

    if (rc == MATCHCTL_NET_OK)
        ack = passerelle__v1__ack__unpack(NULL, len, data);
    if (ack != NULL) {
        out = s_count_ack(self, p, ack);
        passerelle__v1__ack__free_unpacked(ack, NULL);
    } else {
        self->rejected++;
        out = s_report_add(self, p->line, "%s: bad answer from the daemon: %s", p->event_id,
                           rc == MATCHCTL_NET_OK ? "not an Ack" : matchctl_net_strerror(rc));
    }
    free(p->event_id);
    p->event_id = NULL;
    self->head = (self->head + 1) % self->opt.window;
    self->count--;
    self->answered++;
    return out;
}

/* Wait up to --timeout for the next ack, then take every ack already
 * there. Returns 0 or an exit code. */
static int s_wait_acks(s_post_t *self)
{
    uint64_t start = matchctl_now_ms();
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    for (;;) {
        uint64_t waited = matchctl_now_ms() - start;
        uint64_t slice = self->opt.timeout_ms - waited;
        if (waited >= self->opt.timeout_ms) {
            fprintf(stderr,
                    "matchctl: no answer from ingest endpoint %s after %lu ms "
                    "(%zu of %zu events answered)\n",
                    self->opt.endpoint, self->opt.timeout_ms, self->answered, self->sent);
            return MATCHCTL_EXIT_UNREACHABLE;
        }
        rc = matchctl_conn_recv(self->conn, (int)(slice < S_PROGRESS_MS ? slice : S_PROGRESS_MS),
                                &data, &len);
        if (rc != MATCHCTL_NET_ETIMEOUT)
            break;
        s_progress(self, false);
    }
    while (rc == MATCHCTL_NET_OK || rc == MATCHCTL_NET_EFRAMES) {
        int taken = s_take_answer(self, rc, data, len);
        free(data);
        data = NULL;
        if (taken != 0)
            return MATCHCTL_EXIT_FAILED;
        if (self->count == 0)
            return 0;
        rc = matchctl_conn_recv(self->conn, 0, &data, &len);
    }
    return rc == MATCHCTL_NET_ETIMEOUT ? 0 : MATCHCTL_EXIT_UNREACHABLE;
}

static int s_report_cmp(const void *a, const void *b)
{
    const s_report_t *x = a, *y = b;

    return (x->line > y->line) - (x->line < y->line);
}

/* The summary, and the report lines in input order (unless --json, where
 * the acks were printed already and the summary goes to stderr). */
static void s_summary(s_post_t *self)
{
    FILE *out = self->opt.json ? stderr : stdout;
    size_t i;

    s_progress(self, true);
    fprintf(out, "accepted %zu, duplicate %zu, rejected %zu", self->accepted, self->duplicate,
            self->rejected);
    if (self->retry > 0)
        fprintf(out, ", retry %zu", self->retry);
    if (self->answered < self->sent)
        fprintf(out, ", unanswered %zu", self->sent - self->answered);
    fputc('\n', out);
    if (self->opt.json)
        return;
    if (self->n_reports > 0)
        qsort(self->reports, self->n_reports, sizeof *self->reports, s_report_cmp);
    for (i = 0; i < self->n_reports; i++) {
        s_print_where(self, stdout, self->reports[i].line);
        printf("%s\n", self->reports[i].text);
    }
}

/* Make the ring and open the connection. Returns 0 or an exit code. */
static int s_open(s_post_t *self)
{
    int rc;

    self->tty = isatty(STDERR_FILENO) == 1;
    self->progress_at = matchctl_now_ms();
    self->ring = calloc(self->opt.window, sizeof *self->ring);
    if (self->ring == NULL) {
        fprintf(stderr, "matchctl %s: out of memory\n", self->opt.cmd);
        return MATCHCTL_EXIT_FAILED;
    }
    rc = matchctl_conn_new(&self->conn, self->opt.endpoint, (int)self->opt.window + 16);
    if (rc == MATCHCTL_NET_EENDPOINT)
        return MATCHCTL_EXIT_USAGE;
    return rc == MATCHCTL_NET_OK ? 0 : MATCHCTL_EXIT_UNREACHABLE;
}

static void s_close(s_post_t *self)
{
    size_t i;

    matchctl_conn_destroy(&self->conn);
    for (i = 0; self->ring != NULL && i < self->opt.window; i++)
        free(self->ring[i].event_id);
    free(self->ring);
    for (i = 0; i < self->n_reports; i++)
        free(self->reports[i].text);
    free(self->reports);
}

/* One event, length-delimited (a protobuf varint, then the Event). */
static int s_write_delimited(FILE *out, const Passerelle__V1__Event *ev)
{
    uint8_t head[10], *buf;
    size_t len = passerelle__v1__event__get_packed_size(ev), n = 0, v = len;
    while (v >= 0x80) {
        head[n++] = (uint8_t)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    head[n++] = (uint8_t)v;
    if ((buf = malloc(len ? len : 1)) == NULL)
        return -1;
    (void)passerelle__v1__event__pack(ev, buf);
    int rc = fwrite(head, 1, n, out) == n && fwrite(buf, 1, len, out) == len ? 0 : -1;
    free(buf);
    return rc;
}

/* --dry-run: every event of the source as a JSON line, nothing sent; with
 * out_path, length-delimited into that file. */
static int s_dry_run(s_post_t *self)
{
    size_t valid = 0, i;
    int rc;
    FILE *out = NULL;
    const char *path = self->opt.out_path;

    if (path != NULL) {
        out = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
        if (out == NULL) {
            fprintf(stderr, "matchctl %s: cannot write %s: %s\n", self->opt.cmd, path,
                    strerror(errno));
            s_close(self);
            return MATCHCTL_EXIT_USAGE;
        }
    }
    for (;;) {
        const Passerelle__V1__Event *ev = NULL;
        size_t line = 0;
        char *text;
        rc = self->opt.next(self->opt.ctx, self, &ev, &line);
        if (rc <= 0)
            break;
        if (out != NULL) {
            if (s_write_delimited(out, ev) != 0) {
                fprintf(stderr, "matchctl %s: cannot write %s: %s\n", self->opt.cmd, path,
                        strerror(errno));
                rc = -1;
                break;
            }
            valid++;
            continue;
        }
        text = proto_json_render(&ev->base, 0);
        if (text == NULL) {
            fprintf(stderr, "matchctl %s: out of memory\n", self->opt.cmd);
            rc = -1;
            break;
        }
        printf("%s\n", text);
        free(text);
        valid++;
    }
    if (out != NULL) {
        int bad = out == stdout ? fflush(out) != 0 : fclose(out) != 0;
        if (bad && rc == 0) {
            fprintf(stderr, "matchctl %s: cannot write %s: %s\n", self->opt.cmd, path,
                    strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0) {
        if (out != NULL)
            fprintf(stderr, "written %zu to %s, rejected %zu\n", valid, path, self->rejected);
        else
            fprintf(stderr, "valid %zu, rejected %zu\n", valid, self->rejected);
        if (self->n_reports > 0)
            qsort(self->reports, self->n_reports, sizeof *self->reports, s_report_cmp);
        for (i = 0; i < self->n_reports && !self->opt.json; i++) {
            s_print_where(self, stderr, self->reports[i].line);
            fprintf(stderr, "%s\n", self->reports[i].text);
        }
    }
    s_close(self);
    if (rc < 0)
        return MATCHCTL_EXIT_USAGE;
    return self->rejected > 0 ? MATCHCTL_EXIT_FAILED : MATCHCTL_EXIT_OK;
}

int matchctl_post_run(const matchctl_post_opts_t *opts)
{
    s_post_t self;
    int rc;

    memset(&self, 0, sizeof self);
    self.opt = *opts;
    if (self.opt.window == 0)
        self.opt.window = MATCHCTL_POST_WINDOW_DEFAULT;
    if (self.opt.timeout_ms == 0)
        self.opt.timeout_ms = MATCHCTL_POST_TIMEOUT_DEFAULT;
    if (self.opt.cmd == NULL)
        self.opt.cmd = S_CMD;
    if (self.opt.input == NULL)
        self.opt.input = "-";
    if (self.opt.dry_run)
        return s_dry_run(&self);
    rc = s_open(&self);
    while (rc == 0) {
        rc = s_fill(&self);
        if (rc != 0 || self.count == 0)
            break;
        rc = s_wait_acks(&self);
    }
    if (rc == 0 || (rc == MATCHCTL_EXIT_UNREACHABLE && self.sent > 0))
        s_summary(&self);
    if (rc == 0 && (self.rejected > 0 || self.retry > 0))
        rc = MATCHCTL_EXIT_FAILED;
    s_close(&self);
    return rc;
}

/* Post what src->in holds as JSON lines. */
static int s_post_jsonl(s_jsonl_t *src, const matchctl_post_opts_t *base)
{
    matchctl_post_opts_t opts = *base;
    int rc;

    opts.next = s_jsonl_next;
    opts.ctx = src;
    rc = matchctl_post_run(&opts);
    s_jsonl_close(src, opts.cmd != NULL ? opts.cmd : S_CMD);
    return rc;
}

int matchctl_post_text(const char *what, const char *endpoint, unsigned long timeout_ms, bool json,
                       const char *jsonl)
{
    matchctl_post_opts_t opts = {.cmd = what,
                                 .endpoint = endpoint,
                                 .input = what,
                                 .window = 1,
                                 .timeout_ms = timeout_ms,
                                 .json = json};
    s_jsonl_t src = {.path = what};

    src.in = fmemopen((void *)jsonl, strlen(jsonl), "r");
    if (src.in == NULL) {
        fprintf(stderr, "matchctl %s: fmemopen: %s\n", what, strerror(errno));
        return MATCHCTL_EXIT_FAILED;
    }
    return s_post_jsonl(&src, &opts);
}

int matchctl_post(int argc, char **argv)
{
    s_opts_t opt = {.window = MATCHCTL_POST_WINDOW_DEFAULT,
                    .timeout_ms = MATCHCTL_POST_TIMEOUT_DEFAULT};
    matchctl_post_opts_t opts;
    s_jsonl_t src;
    int rc;

    rc = s_parse_args(argc, argv, &opt);
    if (rc != 0)
        return rc == S_HELP ? MATCHCTL_EXIT_OK : rc;
    memset(&src, 0, sizeof src);
    src.path = opt.path;
    if (strcmp(opt.path, "-") == 0) {
        src.in = stdin;
    } else if ((src.in = fopen(opt.path, "r")) == NULL) {
        fprintf(stderr, "matchctl post: open %s: %s\n", opt.path, strerror(errno));
        return MATCHCTL_EXIT_USAGE;
    }
    memset(&opts, 0, sizeof opts);
    opts.cmd = S_CMD;
    opts.endpoint = opt.endpoint;
    opts.input = opt.path;
    opts.window = opt.window;
    opts.timeout_ms = opt.timeout_ms;
    opts.json = opt.json;
    return s_post_jsonl(&src, &opts);
}
