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
 * - sequence numbers are global, so a topic's updates are not contiguous
 *   and a jump past cursor + 1 may be a real loss (the publisher's
 *   high-water mark, a reconnection) or just other topics' updates; the
 *   numbers cannot tell, so every jump costs one replay of what lies
 *   between, printed before the live update;
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
#define S_SETTLE_MS       1000 /* quiet time before the re-check of the log */
#define S_TICK_MS         1000 /* longest wait without looking at the stop flag */
#define S_HELP            (-1) /* s_parse_args: --help was printed */
#define S_PURGED          (-2) /* s_catch_up: the log no longer holds what was asked */

typedef struct {
    const char *topic;
    const char *feed;
    const char *query;
    unsigned long from;
    bool live;
    unsigned long count; /* 0: no limit */
    unsigned long timeout_ms;
} s_opts_t;

typedef struct {
    s_opts_t opt;
    matchctl_sub_t *sub;
    matchctl_conn_t *query;
    uint64_t cursor;  /* every update of the topic up to here is printed */
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
            "\n"
            "Follow the match feed for TOPIC, a prefix of the topics matcherd publishes\n"
            "under: employer/<SIRET>, school/<school id>, region/<INSEE region>/<sector>.\n"
            "First the stored updates after sequence SEQ are replayed from the query\n"
            "socket, then the live ones follow, with no gap and no duplicate: a jump in\n"
            "sequence numbers is filled from the store before the live update is shown.\n"
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
        {"feed", required_argument, NULL, 'f'},
        {"query", required_argument, NULL, 'q'},
        {"from", required_argument, NULL, 's'},
        {"live", no_argument, NULL, 'l'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
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

/* Print update as one JSON line and move the cursor to it.
 * Returns 0, or MATCHCTL_EXIT_FAILED when stdout fails (printed). */
static int s_print(s_sub_t *self, const char *topic, Passerelle__V1__MatchUpdate *update)
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
            self->opt.topic, self->cursor, resp->message, head);
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
    rr.after_sequence = self->cursor;
    rr.limit = S_PAGE;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
    req.replay = &rr;
    return matchctl_rpc(self->query, S_CMD, &req, self->opt.timeout_ms, resp_p);
}

/* Print the updates of page after the cursor and below `below`, then move
 * the cursor to the last sequence the page covers (below excluded).
 * Returns 0 or an exit code. */
static int s_print_page(s_sub_t *self, const Passerelle__V1__ReplayPage *page, uint64_t below)
{
    uint64_t covered;
    size_t i;

    for (i = 0; i < page->n_updates && !self->done; i++) {
        const Passerelle__V1__Topical *t = page->updates[i];
        int rc;
        if (t->update == NULL || t->update->sequence <= self->cursor ||
            t->update->sequence >= below)
            continue;
        rc = s_print(self, t->topic, t->update);
        if (rc != 0)
            return rc;
    }
    covered = page->last_sequence < below ? page->last_sequence : below - 1;
    if (!self->done && covered > self->cursor)
        self->cursor = covered; /* nothing of ours lies between: the log was scanned */
    return 0;
}

/* Replay and print the stored updates of the topic after the cursor and
 * below `below` (UINT64_MAX: every one), page by page. Returns 0, S_PURGED
 * (warned; self->purged_head set; cursor unchanged) or an exit code. */
static int s_catch_up(s_sub_t *self, uint64_t below)
{
    while (!self->done && !s_stop && self->cursor + 1 < below) {
        Passerelle__V1__Response *resp = NULL;
        uint64_t after = self->cursor;
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

/* One live message: drop it if already printed, repair the gap before it
 * if there may be one, print it. Returns 0 or an exit code. */
static int s_on_live(s_sub_t *self, const char *topic, const uint8_t *data, size_t len)
{
    Passerelle__V1__MatchUpdate *u = passerelle__v1__match_update__unpack(NULL, len, data);
    int rc = 0;

    if (u == NULL) {
        fprintf(stderr, "matchctl subscribe: dropped an undecodable update on topic '%s'\n", topic);
        return 0;
    }
    if (!self->have_cursor || u->sequence == self->cursor + 1) {
        rc = s_print(self, topic, u);
    } else if (u->sequence > self->cursor) {
        uint64_t before = self->lines, from = self->cursor;
        rc = s_catch_up(self, u->sequence);
        if (rc == S_PURGED)
            rc = 0;               /* warned; what the log lost stays lost: go on from here */
        if (self->lines > before) /* not just other topics' numbers: a real loss */
            fprintf(stderr,
                    "matchctl subscribe: recovered %" PRIu64 " missed updates between "
                    "sequences %" PRIu64 " and %" PRIu64 " from the store\n",
                    self->lines - before, from, u->sequence);
        if (rc == 0 && !self->done && u->sequence > self->cursor)
            rc = s_print(self, topic, u);
    } /* else a duplicate */
    passerelle__v1__match_update__free_unpacked(u, NULL);
    self->settled = false;
    self->quiet_since = matchctl_now_ms();
    return rc;
}

/* The feed has been quiet: ask the log once for what we may have missed. */
static int s_settle(s_sub_t *self)
{
    int rc = s_catch_up(self, UINT64_MAX);

    if (rc == S_PURGED) {
        if (self->purged_head > self->cursor)
            self->cursor = self->purged_head;
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
    self->cursor = self->opt.from;
    self->have_cursor = true;
    rc = s_catch_up(self, UINT64_MAX);
    if (rc == S_PURGED) {
        self->cursor = self->purged_head;
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
    return rc;
}
