/* matchctl_change.c - matchctl withdraw, close and erase: one event each,
 * built as a passerelle.v1.Event, posted like `matchctl post` would, and
 * reported the same way. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchctl.h"
#include "passerelle/v1/ingest.pb-c.h"
#include "proto_json.h"

typedef struct {
    const char *cmd;
    const char *id;
    const char *owner;  /* --school or --employer */
    const char *reason; /* --reason, lower case */
    const char *source; /* --source */
    const char *ingest;
    unsigned long timeout_ms;
    bool json; /* --json: print the ack as JSON */
} s_opts_t;

typedef struct {
    const char *name; /* as typed */
    int value;        /* WithdrawalReason or ClosureReason */
} s_reason_t;

static const s_reason_t s_withdraw_reasons[] = {
    {"hired", PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED},
    {"left", PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_LEFT},
    {NULL, 0},
};

static const s_reason_t s_close_reasons[] = {
    {"filled", PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_FILLED},
    {"cancelled", PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_CANCELLED},
    {"expired", PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_EXPIRED},
    {NULL, 0},
};

static void s_usage(FILE *out, const char *cmd)
{
    if (strcmp(cmd, "withdraw") == 0)
        fprintf(out,
                "Usage: matchctl withdraw GRADUATE_ID --school SCHOOL_ID --reason hired|left\n"
                "                [--source NAME] [--ingest ENDPOINT] [--timeout MS] [--json]\n\n"
                "The graduate is no longer available: every list retracts them and is\n"
                "refilled.\n\n"
                "Example: matchctl withdraw ep-tarbes-2026-001 --school 0650043X --reason hired\n");
    else if (strcmp(cmd, "close") == 0)
        fprintf(out,
                "Usage: matchctl close VACANCY_ID --employer SIRET --reason "
                "filled|cancelled|expired\n"
                "                [--source NAME] [--ingest ENDPOINT] [--timeout MS] [--json]\n\n"
                "The vacancy is closed: its list is emptied and the graduates' lists refilled.\n\n"
                "Example: matchctl close v-aero-tarbes-soudeur --employer 31234567800011 "
                "--reason filled\n");
    else
        fprintf(out,
                "Usage: matchctl erase GRADUATE_ID --school SCHOOL_ID\n"
                "                [--source NAME] [--ingest ENDPOINT] [--timeout MS] [--json]\n\n"
                "Erase every trace of the graduate (right to erasure): the record, index\n"
                "entries, ranked lists and the stored feed updates that name them.\n\n"
                "Example: matchctl erase ep-tarbes-2026-001 --school 0650043X\n");
    fprintf(out,
            "\nThe event is sent from source NAME (default \"matchctl\") with a new event\n"
            "id; the ingest endpoint defaults to $%s or %s. --json prints the\n"
            "daemon's Ack as a JSON line (passerelle.v1.Ack) instead of the report.\n"
            "Exit status: 0 accepted, 1 rejected, 2 usage error, 3 no answer.\n",
            MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST);
}

/* Returns 0, -1 after --help, or MATCHCTL_EXIT_USAGE. */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"school", required_argument, NULL, 's'},
        {"employer", required_argument, NULL, 'e'},
        {"reason", required_argument, NULL, 'r'},
        {"source", required_argument, NULL, 'S'},
        {"ingest", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
        case 'e': o->owner = optarg; break;
        case 'r': o->reason = optarg; break;
        case 'S': o->source = optarg; break;
        case 'i': o->ingest = optarg; break;
        case 't':
            if (matchctl_parse_timeout(o->cmd, optarg, &o->timeout_ms) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        case 'j': o->json = true; break;
        case 'h': s_usage(stdout, o->cmd); return -1;
        default: return matchctl_usage_error(o->cmd, "bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return matchctl_usage_error(o->cmd, "wants exactly one id");
    o->id = argv[optind];
    if (o->owner == NULL)
        return matchctl_usage_error(o->cmd, "wants --%s",
                                    strcmp(o->cmd, "close") == 0 ? "employer" : "school");
    return 0;
}

static int s_reason(const s_opts_t *o, const s_reason_t *list, int *value)
{
    for (size_t i = 0; o->reason != NULL && list[i].name != NULL; i++) {
        if (strcmp(list[i].name, o->reason) == 0) {
            *value = list[i].value;
            return 0;
        }
    }
    return matchctl_usage_error(o->cmd, "--reason wants one of the reasons in --help, not '%s'",
                                o->reason ? o->reason : "(none)");
}

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Render ev as one JSON line and post it. */
static int s_send(const s_opts_t *o, Passerelle__V1__Event *ev)
{
    char event_id[160];
    ev->occurred_at_ms = s_wall_ms();
    (void)snprintf(event_id, sizeof event_id, "matchctl-%s-%.64s-%" PRId64, o->cmd, o->id,
                   ev->occurred_at_ms); /* truncation only shortens a unique id */
    ev->event_id = event_id;
    ev->source = (char *)(o->source ? o->source : "matchctl");
    char *json = proto_json_render(&ev->base, 0);
    if (json == NULL) {
        fprintf(stderr, "matchctl %s: out of memory\n", o->cmd);
        return MATCHCTL_EXIT_FAILED;
    }
    const char *ep = matchctl_endpoint(o->ingest, MATCHCTL_ENV_INGEST, MATCHCTL_DEFAULT_INGEST);
    int rc = matchctl_post_text(o->cmd, ep, o->timeout_ms, o->json, json);
    free(json);
    return rc;
}

static int s_change(int argc, char **argv, const char *cmd)
{
    s_opts_t o = {.cmd = cmd};
    int rc = s_parse(argc, argv, &o), reason = 0;
    if (rc != 0)
        return rc < 0 ? MATCHCTL_EXIT_OK : rc;
    Passerelle__V1__Event ev = PASSERELLE__V1__EVENT__INIT;
    Passerelle__V1__GraduateWithdrawn w = PASSERELLE__V1__GRADUATE_WITHDRAWN__INIT;
    Passerelle__V1__VacancyClosed cl = PASSERELLE__V1__VACANCY_CLOSED__INIT;
    Passerelle__V1__GraduateErased er = PASSERELLE__V1__GRADUATE_ERASED__INIT;
    if (strcmp(cmd, "withdraw") == 0) {
        if ((rc = s_reason(&o, s_withdraw_reasons, &reason)) != 0)
            return rc;
        w.graduate_id = (char *)o.id;
        w.school_id = (char *)o.owner;
        w.reason = (Passerelle__V1__WithdrawalReason)reason;
        ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_WITHDRAWN;
        ev.graduate_withdrawn = &w;
    } else if (strcmp(cmd, "close") == 0) {
        if ((rc = s_reason(&o, s_close_reasons, &reason)) != 0)
            return rc;
        cl.vacancy_id = (char *)o.id;
        cl.employer_id = (char *)o.owner;
        cl.reason = (Passerelle__V1__ClosureReason)reason;
        ev.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_CLOSED;
        ev.vacancy_closed = &cl;
    } else {
        er.graduate_id = (char *)o.id;
        er.school_id = (char *)o.owner;
        ev.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_ERASED;
        ev.graduate_erased = &er;
    }
    return s_send(&o, &ev);
}

int matchctl_withdraw(int argc, char **argv)
{
    return s_change(argc, argv, "withdraw");
}

int matchctl_close(int argc, char **argv)
{
    return s_change(argc, argv, "close");
}

int matchctl_erase(int argc, char **argv)
{
    return s_change(argc, argv, "erase");
}
