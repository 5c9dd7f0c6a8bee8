/* matchctl_matches.c - `matchctl matches`: the current ranked list of one
 * vacancy or graduate, with each match explained.
 *
 * One TopMatchesRequest on the query socket. The human output is a table
 * whose columns are sized to their contents; only the last column (the
 * matched skills, whose labels come from the French reference data and so
 * hold UTF-8) is cut, at a character boundary, so that a row stays readable
 * on a terminal. --json prints the TopMatches message in the proto3 JSON
 * mapping instead, for scripts.
 */
#include "matchctl.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passerelle/v1/query.pb-c.h"
#include "proto_json.h"

#define S_CMD             "matches"
#define S_TIMEOUT_DEFAULT 5000
#define S_LIMIT_MAX       100000
#define S_SKILLS_WIDTH    40 /* characters of the skills column, "..." included */
#define S_HWM             16
#define S_HELP            (-1) /* s_parse_args: --help was printed */

typedef struct {
    const char *endpoint;
    bool vacancy; /* the list of a vacancy (else of a graduate) */
    const char *id;
    unsigned long limit;
    unsigned long timeout_ms;
    bool json;
} s_opts_t;

/* The cells of one row; each points into the answer or into buf. */
enum { S_RANK, S_OTHER, S_OWNER, S_SCORE, S_KM, S_CERT, S_SKILLS, S_COLS };

typedef struct {
    const char *cell[S_COLS];
    char rank[16], score[32], km[32], cert[96], skills[S_SKILLS_WIDTH * 4 + 8];
} s_row_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: matchctl matches vacancy|graduate ID [--query ENDPOINT] [--limit N]\n"
            "                        [--json] [--timeout MS]\n"
            "\n"
            "Print the current ranked list of a vacancy (its best graduates) or of a\n"
            "graduate (their best vacancies), one row per match: rank, the other side's\n"
            "id, its school or employer, score (0..1), distance in km, how the\n"
            "certification requirement was met (exact, occupation, related, level or\n"
            "none, with the RNCP code that met it) and the skills matched.\n"
            "\n"
            "Options:\n"
            "  --query ENDPOINT  query socket (default $%s, else %s)\n"
            "  --limit N         at most N matches (default 0: the whole list)\n"
            "  --json            print the passerelle.v1.TopMatches message as JSON\n"
            "  --timeout MS      longest wait for the answer (default %d)\n"
            "  --help            this text\n"
            "\n"
            "Exit status: 0 listed (possibly empty), 1 no such vacancy or graduate or\n"
            "another error answer, 2 usage error, 3 no answer.\n"
            "\n"
            "Example:\n"
            "  matchctl matches vacancy v-aero-tarbes-1 --limit 10\n",
            MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY, S_TIMEOUT_DEFAULT);
}

/* Take the positional KIND and ID. Returns 0 or MATCHCTL_EXIT_USAGE. */
static int s_positionals(int argc, char **argv, s_opts_t *opt)
{
    if (matchctl_positionals(S_CMD, argc, argv, 2, "want 'vacancy ID' or 'graduate ID'") != 0)
        return MATCHCTL_EXIT_USAGE;
    if (strcmp(argv[optind], "vacancy") == 0)
        opt->vacancy = true;
    else if (strcmp(argv[optind], "graduate") != 0)
        return matchctl_usage_error(S_CMD, "want 'vacancy' or 'graduate', not '%s'", argv[optind]);
    opt->id = argv[optind + 1];
    if (opt->id[0] == '\0')
        return matchctl_usage_error(S_CMD, "the %s id is empty", argv[optind]);
    return 0;
}

/* Fill opt from the command line. Returns 0, S_HELP or MATCHCTL_EXIT_USAGE. */
static int s_parse_args(int argc, char **argv, s_opts_t *opt)
{
    static const struct option opts[] = {
        {"query", required_argument, NULL, 'q'}, {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *query = NULL;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': query = optarg; break;
        case 'n':
            if (matchctl_parse_ulong(optarg, 0, S_LIMIT_MAX, &opt->limit) != 0)
                return matchctl_usage_error(S_CMD, "--limit wants a number from 0 to %d, not '%s'",
                                            S_LIMIT_MAX, optarg);
            break;
        case 'j': opt->json = true; break;
        case 'h': s_usage(stdout); return S_HELP;
        default:
            if (matchctl_shared_option(S_CMD, c, argv, &opt->timeout_ms, NULL) != 0)
                return MATCHCTL_EXIT_USAGE;
            break;
        }
    }
    opt->endpoint = matchctl_endpoint(query, MATCHCTL_ENV_QUERY, MATCHCTL_DEFAULT_QUERY);
    return s_positionals(argc, argv, opt);
}

/* Characters (not bytes) of the UTF-8 text s. */
static size_t s_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Append text to buf (size bytes, holding *width characters) if the
 * result fits in max characters; otherwise append as much of text as
 * leaves room for "...", cut at a character boundary, then "...".
 * Returns false once cut. */
static bool s_append(char *buf, size_t size, size_t *width, const char *text, size_t max)
{
    size_t len = strlen(buf), tlen = strlen(text), i = 0;

    if (*width + s_width(text) <= max && len + tlen < size) {
        memcpy(buf + len, text, tlen + 1);
        *width += s_width(text);
        return true;
    }
    while (text[i] != '\0' && *width + 1 + 3 <= max) {
        size_t n = 1;
        while (text[i + n] != '\0' && ((unsigned char)text[i + n] & 0xC0) == 0x80)
            n++;
        if (len + n + 4 > size)
            break;
        memcpy(buf + len, text + i, n);
        len += n;
        i += n;
        (*width)++;
    }
    buf[len] = '\0';
    if (len + 4 <= size) {
        memcpy(buf + len, "...", 4);
        *width += 3;
    }
    return false;
}

/* The matched skills of e as "label, label, ..." in at most
 * S_SKILLS_WIDTH characters, or "-". */
static void s_skills_cell(const Passerelle__V1__Explanation *e, char *buf, size_t size)
{
    size_t width = 0, i;

    buf[0] = '\0';
    for (i = 0; e != NULL && i < e->n_matched_skills; i++) {
        const Passerelle__V1__SkillRef *sk = e->matched_skills[i];
        const char *name = sk->label[0] != '\0' ? sk->label : sk->code;
        if (i > 0 && !s_append(buf, size, &width, ", ", S_SKILLS_WIDTH))
            return;
        if (!s_append(buf, size, &width, name, S_SKILLS_WIDTH))
            return;
    }
    if (buf[0] == '\0')
        (void)snprintf(buf, size, "-");
}

/* A short word for how the certification requirement was met. */
static const char *s_fit_word(Passerelle__V1__CertificationFit fit)
{
    switch (fit) {
    case PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_EXACT_RNCP: return "exact";
    case PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_SAME_OCCUPATION: return "occupation";
    case PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_RELATED_OCCUPATION: return "related";
    case PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_LEVEL_ONLY: return "level";
    case PASSERELLE__V1__CERTIFICATION_FIT__CERTIFICATION_FIT_NONE_REQUIRED: return "none";
    default: return "-";
    }
}

/* Fill row from match m of a vacancy's list (or of a graduate's). */
static void s_row_fill(s_row_t *row, const Passerelle__V1__RankedMatch *m, bool vacancy)
{
    const Passerelle__V1__Explanation *e = m->explanation;

    (void)snprintf(row->rank, sizeof row->rank, "%u", (unsigned)m->rank);
    (void)snprintf(row->score, sizeof row->score, "%.3f", m->score);
    if (e != NULL) {
        (void)snprintf(row->km, sizeof row->km, "%.1f", e->distance_km);
        (void)snprintf(row->cert, sizeof row->cert, "%s%s%s", s_fit_word(e->certification_fit),
                       e->certification_rncp[0] != '\0' ? " " : "", e->certification_rncp);
    } else {
        (void)snprintf(row->km, sizeof row->km, "-");
        (void)snprintf(row->cert, sizeof row->cert, "-");
    }
    s_skills_cell(e, row->skills, sizeof row->skills);
    row->cell[S_RANK] = row->rank;
    row->cell[S_OTHER] = vacancy ? m->graduate_id : m->vacancy_id;
    row->cell[S_OWNER] = vacancy ? m->school_id : m->employer_id;
    row->cell[S_SCORE] = row->score;
    row->cell[S_KM] = row->km;
    row->cell[S_CERT] = row->cert;
    row->cell[S_SKILLS] = row->skills;
}

/* Print one row: numbers right-aligned, text left-aligned, the last column
 * unpadded. */
static void s_row_print(const char *const cell[S_COLS], const size_t width[S_COLS])
{
    static const bool right[S_COLS] = {true, false, false, true, true, false, false};
    int c;

    for (c = 0; c < S_COLS; c++) {
        size_t pad = width[c] - s_width(cell[c]);
        if (c == S_COLS - 1) {
            printf("%s\n", cell[c]);
            break;
        }
        printf("%*s%s%*s  ", right[c] ? (int)pad : 0, "", cell[c], right[c] ? 0 : (int)pad, "");
    }
}

/* The table of the ranked list top. Returns 0, or an exit code. */
static int s_print_table(const s_opts_t *opt, const Passerelle__V1__TopMatches *top)
{
    const char *header[S_COLS] = {"RANK", NULL, NULL, "SCORE", "KM", "CERTIFICATION", "SKILLS"};
    size_t width[S_COLS], i;
    s_row_t *rows = calloc(top->n_matches + 1, sizeof *rows);
    int c;

    if (rows == NULL) {
        fprintf(stderr, "matchctl matches: out of memory\n");
        return MATCHCTL_EXIT_FAILED;
    }
    header[S_OTHER] = opt->vacancy ? "GRADUATE" : "VACANCY";
    header[S_OWNER] = opt->vacancy ? "SCHOOL" : "EMPLOYER";
    for (c = 0; c < S_COLS; c++)
        width[c] = s_width(header[c]);
    for (i = 0; i < top->n_matches; i++) {
        s_row_fill(&rows[i], top->matches[i], opt->vacancy);
        for (c = 0; c < S_COLS; c++)
            if (s_width(rows[i].cell[c]) > width[c])
                width[c] = s_width(rows[i].cell[c]);
    }
    s_row_print(header, width);
    for (i = 0; i < top->n_matches; i++)
        s_row_print(rows[i].cell, width);
    if (top->n_matches == 0)
        printf("(no matches for %s %s)\n", opt->vacancy ? "vacancy" : "graduate", opt->id);
    free(rows);
    return 0;
}

/* Print the answer resp to the request of opt. Returns an exit code. */
static int s_print(const s_opts_t *opt, const Passerelle__V1__Response *resp)
{
    char *text;

    if (resp->error == PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND) {
        fprintf(stderr, "matchctl matches: no %s '%s' (query endpoint %s)\n",
                opt->vacancy ? "vacancy" : "graduate", opt->id, opt->endpoint);
        return MATCHCTL_EXIT_FAILED;
    }
    if (resp->error != PASSERELLE__V1__ERROR_CODE__ERROR_CODE_NONE) {
        matchctl_print_error(S_CMD, opt->endpoint, resp);
        return MATCHCTL_EXIT_FAILED;
    }
    if (resp->result_case != PASSERELLE__V1__RESPONSE__RESULT_TOP_MATCHES ||
        resp->top_matches == NULL) {
        fprintf(stderr, "matchctl matches: the answer holds no matches\n");
        return MATCHCTL_EXIT_FAILED;
    }
    if (!opt->json)
        return s_print_table(opt, resp->top_matches);
    text = proto_json_render(&resp->top_matches->base, PROTO_JSON_PRETTY);
    if (text == NULL) {
        fprintf(stderr, "matchctl matches: out of memory\n");
        return MATCHCTL_EXIT_FAILED;
    }
    printf("%s\n", text);
    free(text);
    return MATCHCTL_EXIT_OK;
}

int matchctl_matches(int argc, char **argv)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__TopMatchesRequest tm = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
    Passerelle__V1__Response *resp = NULL;
    matchctl_conn_t *conn = NULL;
    s_opts_t opt;
    int rc;

    memset(&opt, 0, sizeof opt);
    opt.timeout_ms = S_TIMEOUT_DEFAULT;
    rc = s_parse_args(argc, argv, &opt);
    if (rc != 0)
        return rc == S_HELP ? MATCHCTL_EXIT_OK : rc;
    tm.entity_case = opt.vacancy ? PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID
                                 : PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_GRADUATE_ID;
    if (opt.vacancy)
        tm.vacancy_id = (char *)opt.id;
    else
        tm.graduate_id = (char *)opt.id;
    tm.limit = (uint32_t)opt.limit;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
    req.top_matches = &tm;
    rc = matchctl_conn_new(&conn, opt.endpoint, S_HWM);
    if (rc != MATCHCTL_NET_OK)
        return rc == MATCHCTL_NET_EENDPOINT ? MATCHCTL_EXIT_USAGE : MATCHCTL_EXIT_UNREACHABLE;
    rc = matchctl_rpc(conn, S_CMD, &req, opt.timeout_ms, &resp);
    if (rc == 0) {
        rc = s_print(&opt, resp);
        passerelle__v1__response__free_unpacked(resp, NULL);
    }
    matchctl_conn_destroy(&conn);
    return rc;
}
