/* matchctl_feed.c - `matchctl subscribe`: the match feed of one topic,
 * caught up from the match log, then live, with no gap and no duplicate.
 *
 * This is the zguide's Clone pattern. The SUB socket is subscribed and
 * connected first, so that whatever is published from then on is queued for
 * us; then the stored updates after --from are replayed through the query
 * socket, page by page; then the live updates are read. matcherd stores
 * every update before publishing it, with a global sequence number, so:
 *
 * - the cursor is the sequence up to which every update of the topic has
 *   been printed (or is known not to exist); a live update at or below it
 *   is a duplicate (the overlap between replay and live, or one update
 *   published under two topics that both match a short prefix) and is
 *   dropped;
 * - sequence numbers are global, so a topic's updates are not contiguous:
 *   a jump past cursor + 1 is usually just other topics' updates. Each
 *   update says, in previous_sequence[topic], the previous update published
 *   under the topic it arrived on; if that one was not printed (and lies
 *   above the floor, up to which the log has been replayed), it was lost
 *   (the publisher's high-water mark, a reconnection): the log is replayed
 *   from the floor and what was not printed yet is printed before the live
 *   update. Updates printed live above the floor are remembered (sorted
 *   numbers) so that the replay does not print them twice. With a prefix
 *   that covers several topics, a recovered update may thus come after
 *   later updates of other topics; each topic's updates stay in order;
 * - an update without previous_sequence for its topic (an older matcherd)
 *   falls back to the numbers alone: every jump costs one replay;
 * - an update lost at the end of a burst is followed by no jump to reveal
 *   it, and neither is one published before our subscription reached the
 *   publisher; so once the feed has been quiet for S_SETTLE_MS after a
 *   live update (or after the first catch-up) the log is asked once more.
 *
 * When the log no longer holds what is asked (ERROR_CODE_REPLAY_PURGED), the
 * lost updates cannot be rebuilt: the user is told to fetch the current
 * lists (matchctl matches) and the feed continues from the newest sequence.
 * Each update is printed as one line, the JSON mapping of
 * passerelle.v1.Topical ({"topic": ..., "update": {...}}), and flushed.
 */
#include "matchctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passerelle/v1/feed.pb-c.h"
#include "passerelle/v1/query.pb-c.h"
#include "proto_json.h"

#define S_CMD             "subscribe"
#define S_TIMEOUT_DEFAULT 5000
#define S_PAGE            1000   /* updates per replay page */
#define S_SUB_HWM         100000 /* live updates queued while we replay */
#define S_QUERY_HWM       16
#define S_SETTLE_MS       1000   /* quiet time before the re-check of the log */
#define S_TICK_MS         1000   /* longest wait without looking at the stop flag */
#define S_HELP            (-1)   /* s_parse_args: --help was printed */
#define S_PURGED          (-2)   /* s_catch_up: the log no longer holds what was asked */
#define S_PRINTED_MAX     100000 /* live numbers remembered above the floor before a replay */

typedef struct {
    const char *topic;
    const char *feed;
    const char *query;
    unsigned long from;
    bool live;
    unsigned long count; /* 0: no limit */
    unsigned long timeout_ms;
    bool verbose; /* report each replay request on stderr */
} s_opts_t;

typedef struct {
    s_opts_t opt;
    matchctl_sub_t *sub;
    matchctl_conn_t *query;
    uint64_t cursor; /* the highest sequence printed or covered by a replay */
    uint64_t floor;  /* every update of the topic up to here is printed */
    uint64_t *seen;  /* sequences printed live above the floor, ascending */
    size_t n_seen, cap_seen;
    bool have_cursor; /* false with --live until the first update */
    unsigned long printed;
    uint64_t lines;       /* updates printed in all */
    bool done;            /* --count reached */
    bool settled;         /* the quiet-time re-check is done */
    uint64_t quiet_since; /* ms of the last live update or re-check */
    uint64_t purged_head; /* head sequence after S_PURGED */
} s_sub_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: matchctl subscribe TOPIC [--feed ENDPOINT] [--query ENDPOINT]\n"
            "                          [--from SEQ | --live] [--count N] [--timeout MS]\n"
            "                          [--verbose]\n"
            "\n"
            "Follow the match feed for TOPIC, a prefix of the topics matcherd publishes\n"
            "under: employer/<SIRET>, school/<school id>, region/<INSEE region>/<sector>.\n"
            "First the stored updates after sequence SEQ are replayed from the query\n"
            "socket, then the live ones follow, with no gap and no duplicate: an update\n"
            "missed on the feed (its topic's next update names it in previous_sequence)\n"
            "is fetched from the store before the live update is shown.\n"
            "Each update is printed as one JSON line, passerelle.v1.Topical:\n"
            "  {\"topic\":\"employer/...\",\"update\":{\"sequence\":\"42\",\"kind\":...}}\n"
            "\n"
            "Options:\n"
            "  --feed ENDPOINT   feed socket (default $%s, else %s)\n"
            "  --query ENDPOINT  query socket (default $%s, else %s)\n"
            "  --from SEQ        replay the updates after sequence SEQ (default 0: the\n"
            "                    whole stored log); give the last sequence you printed\n"
            "                    to resume after a stop with no gap and no duplicate\n"
            "  --live            no replay: start with what arrives\n"
            "  --count N         exit after printing N updates (default: run until\n"
            "                    SIGINT or SIGTERM)\n"
            "  --json            accepted for uniformity: the output is always JSON lines\n"
            "  --timeout MS      longest wait for each answer of the query socket\n"
            "                    (default %d)\n"
            "  --verbose         report each replay request, and why, on stderr\n"
            "  --help            this text\n"
            "\n"
            "Updates recovered from the store after a loss on the feed are reported on\n"
            "stderr. If the store no longer holds the updates asked for (they were purged), a\n"
            "warning on stderr says so: fetch the current lists with 'matchctl matches',\n"
            "the feed then continues from the newest update.\n"
            "\n"
            "Exit status: 0 stopped by a signal or --count reached, 1 an error answer,\n"
            "2 usage error, 3 the query socket did not answer.\n"
            "\n"
            "Example:\n"
            "  matchctl subscribe employer/12345678900012 --from 0 | jq .update.kind\n",
            MATCHCTL_ENV_FEED, MATCHCTL_DEFAULT_FEED, MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY,
            S_TIMEOUT_DEFAULT);
}

/* Fill opt from the command line. Returns 0, S_HELP or MATCHCTL_EXIT_USAGE. */
static int s_parse_args(int argc, char **argv, s_opts_t *opt)
{
    static const struct option opts[] = {
        {"feed", required_argument, NULL, 'f'},  {"query", required_argument, NULL, 'q'},
        {"from", required_argument, NULL, 's'},  {"live", no_argument, NULL, 'l'},
        {"count", required_argument, NULL, 'n'}, {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *feed = NULL, *query = NULL;
    bool from = false;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': feed = optarg; break;
        case 'q': query = optarg; break;
        case 's':
            if (matchctl_parse_ulong(optarg, 0, UINT64_MAX - 1, &opt->from) != 0)
                return matchctl_usage_error(S_CMD, "--from wants a sequence number, not '%s'",
                                            optarg);
            from = true;
            break;
        case 'l': opt->live = true; break;
        case 'j': break; /* the output is always JSON lines */
        case 'v': opt->verbose = true; break;
        case 'n':
            if (matchctl_parse_ulong(optarg, 1, UINT32_MAX, &opt->count) != 0)
                return matchctl_usage_error(S_CMD, "--count wants a number from 1 to %u, not '%s'",
                                            (unsigned)UINT32_MAX, optarg);
            break;
        case 'h': s_usage(stdout); return S_HELP;
        default:
            if (matchctl_shared_option(S_CMD, c, argv, &opt->timeout_ms, NULL) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    if (from && opt->live)
        return matchctl_usage_error(S_CMD, "--from and --live exclude each other");
    if (matchctl_positionals(S_CMD, argc, argv, 1,
                             "missing TOPIC (e.g. employer/12345678900012)") != 0)
        return MATCHCTL_EXIT_USAGE;
    opt->topic = argv[optind];
    opt->feed = matchctl_endpoint(feed, MATCHCTL_ENV_FEED, MATCHCTL_DEFAULT_FEED);
    opt->query = matchctl_endpoint(query, MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY);
    return 0;
}

/* Whether the update numbered seq was printed (or lies below --from). */
static bool s_printed(const s_sub_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->n_seen;

    if (seq <= self->floor)
        return true;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->seen[mid] == seq)
            return true;
        if (self->seen[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Raise the floor to at least floor, forget the live numbers it covers,
 * and climb over the ones that follow it without a hole. */
static void s_raise_floor(s_sub_t *self, uint64_t floor)
{
    size_t i = 0;

    if (floor > self->floor)
        self->floor = floor;
    if (self->floor > self->cursor)
        self->cursor = self->floor;
    while (i < self->n_seen && self->seen[i] <= self->floor + 1) {
        if (self->seen[i] == self->floor + 1)
            self->floor++;
        i++;
    }
    if (i == 0)
        return;
    memmove(self->seen, self->seen + i, (self->n_seen - i) * sizeof *self->seen);
    self->n_seen -= i;
}

/* Remember seq, printed live above the floor. Returns 0 or -1 (out of
 * memory, printed). */
static int s_remember(s_sub_t *self, uint64_t seq)
{
    if (seq == self->floor + 1 && self->n_seen == 0) {
        self->floor = seq;
        return 0;
    }
    if (self->n_seen == self->cap_seen) {
        size_t cap = self->cap_seen ? self->cap_seen * 2 : 256;
        uint64_t *seen = realloc(self->seen, cap * sizeof *seen);
        if (seen == NULL) {
            fprintf(stderr, "matchctl subscribe: out of memory\n");
            return -1;
        }
        self->seen = seen;
        self->cap_seen = cap;
    }
    self->seen[self->n_seen++] = seq; /* live numbers come in order */
    return 0;
}

/* Print update as one JSON line and move the cursor to it; live: it came
 * from the feed (else from a replay, which then raises the floor past it).
 * Returns 0, or MATCHCTL_EXIT_FAILED when stdout fails (printed). */
static int s_print(s_sub_t *self, const char *topic, Passerelle__V1__MatchUpdate *update, bool live)
{
    Passerelle__V1__Topical t = PASSERELLE__V1__TOPICAL__INIT;
    char *text;
    int rc = 0;

    t.topic = (char *)topic;
    t.update = update;
    text = proto_json_render(&t.base, 0);
    if (text == NULL) {
        fprintf(stderr, "matchctl subscribe: out of memory\n");
        return MATCHCTL_EXIT_FAILED;
    }
    if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
        perror("matchctl subscribe: write to standard output");
        rc = MATCHCTL_EXIT_FAILED;
    }
    free(text);
    if (live && s_remember(self, update->sequence) != 0)
        rc = MATCHCTL_EXIT_FAILED;
    if (update->sequence > self->cursor)
        self->cursor = update->sequence;
    self->have_cursor = true;
    self->lines++;
    if (self->opt.count != 0 && ++self->printed >= self->opt.count)
        self->done = true;
    return rc;
}

/* Ask the store for one of its numbers: the newest match sequence, in
 * *head. Returns 0 or an exit code (printed). */
static int s_fetch_head(s_sub_t *self, uint64_t *head)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sr = PASSERELLE__V1__STATS_REQUEST__INIT;
    Passerelle__V1__Response *resp = NULL;
    int rc;

    req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    req.stats = &sr;
    rc = matchctl_rpc(self->query, S_CMD, &req, self->opt.timeout_ms, &resp);
    if (rc != 0)
        return rc;
    if (resp->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NONE || resp->stats == NULL) {
        matchctl_print_error(S_CMD, self->opt.query, resp);
        rc = MATCHCTL_EXIT_FAILED;
    } else {
        *head = resp->stats->match_sequence;
    }
    passerelle__v1__response__free_unpacked(resp, NULL);
    return rc;
}

/* The updates after the cursor are gone from the log (resp says so): warn,
 * and find where the log now ends, in self->purged_head: the refusal's
 * head_sequence, or (from a matcherd that does not send it) Stats'
 * match_sequence. Returns S_PURGED or an exit code. */
static int s_purged(s_sub_t *self, const Passerelle__V1__Response *resp)
{
    uint64_t head = 0;
    int rc = 0;

    if (resp->result_case == PASSERELLE__V1__RESPONSE__RESULT_REPLAY && resp->replay != NULL &&
        resp->replay->head_sequence != 0)
        head = resp->replay->head_sequence;
    else
        rc = s_fetch_head(self, &head);
    if (rc != 0)
        return rc;
    fprintf(stderr,
            "matchctl subscribe: warning: the updates of '%s' after sequence %" PRIu64
            " were purged from the match log (%s); some are lost. Fetch the current lists "
            "again with 'matchctl matches vacancy|graduate ID'. Continuing from sequence "
            "%" PRIu64 ".\n",
            self->opt.topic, self->floor, resp->message, head);
    self->purged_head = head;
    return S_PURGED;
}

/* Ask for one page of the topic's updates after the cursor. Returns 0 with
 * *resp_p (caller frees; its error is not checked) or an exit code. */
static int s_replay_page(s_sub_t *self, Passerelle__V1__Response **resp_p)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__ReplayRequest rr = PASSERELLE__V1__REPLAY_REQUEST__INIT;

    rr.topic_prefix = (char *)self->opt.topic;
    rr.after_sequence = self->floor;
    rr.limit = S_PAGE;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
    req.replay = &rr;
    return matchctl_rpc(self->query, S_CMD, &req, self->opt.timeout_ms, resp_p);
}

/* Print the updates of page not printed yet and below `below`, then raise
 * the floor to the last sequence the page covers (below excluded).
 * Returns 0 or an exit code. */
static int s_print_page(s_sub_t *self, const Passerelle__V1__ReplayPage *page, uint64_t below)
{
    uint64_t covered;
    size_t i;

    for (i = 0; i < page->n_updates && !self->done; i++) {
        const Passerelle__V1__Topical *t = page->updates[i];
        int rc;
        if (t->update == NULL || t->update->sequence >= below ||
            s_printed(self, t->update->sequence))
            continue;
        rc = s_print(self, t->topic, t->update, false);
        if (rc != 0)
            return rc;
    }
    covered = page->last_sequence < below ? page->last_sequence : below - 1;
    if (!self->done)
        s_raise_floor(self, covered); /* nothing else of ours lies between: the log was scanned */
    return 0;
}

/* Replay and print the stored updates of the topic after the floor and
 * below `below` (UINT64_MAX: every one) that are not printed yet, page by
 * page; why: for --verbose. Returns 0, S_PURGED (warned; self->purged_head
 * set; floor unchanged) or an exit code. */
static int s_catch_up(s_sub_t *self, uint64_t below, const char *why)
{
    if (self->opt.verbose && !self->done && self->floor + 1 < below)
        fprintf(stderr, "matchctl subscribe: replay after %" PRIu64 " (%s)\n", self->floor, why);
    while (!self->done && !s_stop && self->floor + 1 < below) {
        Passerelle__V1__Response *resp = NULL;
        uint64_t after = self->floor;
        bool more;
        int rc = s_replay_page(self, &resp);

        if (rc != 0)
            return rc;
        if (resp->error == PASSERELLE__V1__ERROR_CODE__ERROR_CODE_REPLAY_PURGED) {
            rc = s_purged(self, resp);
        } else if (resp->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NONE) {
            matchctl_print_error(S_CMD, self->opt.query, resp);
            rc = MATCHCTL_EXIT_FAILED;
        } else if (resp->result_case != PASSERELLE__V1__RESPONSE__RESULT_REPLAY ||
                   resp->replay == NULL) {
            fprintf(stderr, "matchctl subscribe: the replay answer holds no page\n");
            rc = MATCHCTL_EXIT_FAILED;
        } else {
            rc = s_print_page(self, resp->replay, below);
        }
        more = rc == 0 && resp->replay != NULL && resp->replay->more;
        if (more && resp->replay->last_sequence <= after) {
            fprintf(stderr, "matchctl subscribe: the replay from %" PRIu64 " does not advance\n",
                    after);
            rc = MATCHCTL_EXIT_FAILED;
        }
        passerelle__v1__response__free_unpacked(resp, NULL);
        if (rc != 0 || !more)
            return rc;
    }
    return 0;
}

/* Whether an update may have been lost on the feed before u, received
 * under topic; why (for --verbose) says how that was found. */
static bool s_may_have_lost(const s_sub_t *self, const char *topic,
                            const Passerelle__V1__MatchUpdate *u, char *why, size_t why_len)
{
    size_t i;

    for (i = 0; i < u->n_previous_sequence; i++) {
        const Passerelle__V1__MatchUpdate__PreviousSequenceEntry *e = u->previous_sequence[i];
        if (e->key == NULL || strcmp(e->key, topic) != 0)
            continue;
        if (e->value == 0 || s_printed(self, e->value))
            return false;
        (void)snprintf(why, why_len,
                       "gap: update %" PRIu64 " of '%s' names previous update %" PRIu64
                       ", not received",
                       u->sequence, topic, e->value);
        return true;
    }
    /* no previous_sequence for the topic (an older matcherd): any jump */
    if (u->sequence <= self->cursor + 1)
        return false;
    (void)snprintf(why, why_len, "jump from %" PRIu64 " to %" PRIu64, self->cursor, u->sequence);
    return true;
}

/* One live message: drop it if already printed, repair the gap before it
 * if there is one, print it. Returns 0 or an exit code. */
static int s_on_live(s_sub_t *self, const char *topic, const uint8_t *data, size_t len)
{
    Passerelle__V1__MatchUpdate *u = passerelle__v1__match_update__unpack(NULL, len, data);
    char why[400];
    int rc = 0;

    if (u == NULL) {
        fprintf(stderr, "matchctl subscribe: dropped an undecodable update on topic '%s'\n", topic);
        return 0;
    }
    if (!self->have_cursor) { /* --live: start with it */
        rc = s_print(self, topic, u, false);
        s_raise_floor(self, u->sequence);
    } else if (!s_printed(self, u->sequence)) {
        bool lost = s_may_have_lost(self, topic, u, why, sizeof why);
        if (!lost && self->n_seen >= S_PRINTED_MAX)
            (void)snprintf(why, sizeof why, "%zu live updates above %" PRIu64, self->n_seen,
                           self->floor);
        if (lost || self->n_seen >= S_PRINTED_MAX) {
            uint64_t before = self->lines, from = self->floor;
            rc = s_catch_up(self, u->sequence, why);
            if (rc == S_PURGED) { /* warned; what the log lost stays lost: go on from here */
                s_raise_floor(self, u->sequence - 1);
                rc = 0;
            }
            if (self->lines > before) /* a real loss */
                fprintf(stderr,
                        "matchctl subscribe: recovered %" PRIu64 " missed updates between "
                        "sequences %" PRIu64 " and %" PRIu64 " from the store\n",
                        self->lines - before, from, u->sequence);
        }
        if (rc == 0 && !self->done && !s_printed(self, u->sequence))
            rc = s_print(self, topic, u, true);
    } /* else a duplicate */
    passerelle__v1__match_update__free_unpacked(u, NULL);
    self->settled = false;
    self->quiet_since = matchctl_now_ms();
    return rc;
}

/* The feed has been quiet: ask the log once for what we may have missed. */
static int s_settle(s_sub_t *self)
{
    int rc = s_catch_up(self, UINT64_MAX, "check after a quiet feed");

    if (rc == S_PURGED) {
        s_raise_floor(self, self->purged_head);
        rc = 0;
    }
    self->settled = true;
    self->quiet_since = matchctl_now_ms();
    return rc;
}

/* Read the live feed until stopped. Returns an exit code. */
static int s_follow(s_sub_t *self)
{
    while (!self->done && !s_stop) {
        uint64_t now = matchctl_now_ms(), wait = S_TICK_MS;
        char *topic = NULL;
        uint8_t *data = NULL;
        size_t len = 0;
        int rc;

        if (self->have_cursor && !self->settled) {
            uint64_t due = self->quiet_since + S_SETTLE_MS;
            wait = due <= now ? 0 : due - now < S_TICK_MS ? due - now : S_TICK_MS;
        }
        rc = matchctl_sub_recv(self->sub, (int)wait, &topic, &data, &len);
        if (rc == MATCHCTL_NET_OK)
            rc = s_on_live(self, topic, data, len);
        else if (rc == MATCHCTL_NET_ETIMEOUT && self->have_cursor && !self->settled &&
                 matchctl_now_ms() >= self->quiet_since + S_SETTLE_MS)
            rc = s_settle(self);
        else if (rc == MATCHCTL_NET_EFRAMES)
            fprintf(stderr, "matchctl subscribe: dropped a feed message that is not "
                            "[topic][update]\n");
        else if (rc == MATCHCTL_NET_ESYS)
            rc = MATCHCTL_EXIT_FAILED;
        free(topic);
        free(data);
        if (rc > 0)
            return rc;
    }
    return MATCHCTL_EXIT_OK;
}

/* Stop on SIGINT and SIGTERM: the handler only sets a flag, and without
 * SA_RESTART the wait on the feed returns. */
static int s_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("matchctl subscribe: sigaction");
        return -1;
    }
    return 0;
}

/* Subscribe, connect the query socket, catch up. Returns 0 or an exit code. */
static int s_start(s_sub_t *self)
{
    int rc = matchctl_sub_new(&self->sub, self->opt.feed, self->opt.topic, S_SUB_HWM);

    if (rc == MATCHCTL_NET_OK)
        rc = matchctl_conn_new(&self->query, self->opt.query, S_QUERY_HWM);
    if (rc != MATCHCTL_NET_OK)
        return rc == MATCHCTL_NET_EENDPOINT ? MATCHCTL_EXIT_USAGE : MATCHCTL_EXIT_FAILED;
    self->quiet_since = matchctl_now_ms();
    if (self->opt.live)
        return 0; /* the cursor is set by the first update */
    self->cursor = self->floor = self->opt.from;
    self->have_cursor = true;
    rc = s_catch_up(self, UINT64_MAX, "start");
    if (rc == S_PURGED) {
        s_raise_floor(self, self->purged_head);
        rc = 0;
    }
    self->quiet_since = matchctl_now_ms();
    return rc;
}

int matchctl_subscribe(int argc, char **argv)
{
    s_sub_t self;
    int rc;

    memset(&self, 0, sizeof self);
    self.opt.timeout_ms = S_TIMEOUT_DEFAULT;
    rc = s_parse_args(argc, argv, &self.opt);
    if (rc != 0)
        return rc == S_HELP ? MATCHCTL_EXIT_OK : rc;
    if (s_signals() != 0)
        return MATCHCTL_EXIT_FAILED;
    rc = s_start(&self);
    if (rc == 0)
        rc = s_follow(&self);
    matchctl_sub_destroy(&self.sub);
    matchctl_conn_destroy(&self.query);
    free(self.seen);
    return rc;
}
