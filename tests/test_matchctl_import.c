/* test_matchctl_import.c - matchctl import and reference, and the command
 * line conventions of every subcommand, against the real daemon.
 *
 *   - the shipped templates import cleanly and their rows match each other;
 *     importing them again is all duplicates;
 *   - a bad file: every bad row is reported at its line with its column,
 *     whether the client or the daemon refused it, the good rows go in, the
 *     exit code is 1; a missing or unknown column refuses the whole file;
 *   - re-imports: the same rows are duplicates, a changed row is a new
 *     event, an event_id column is used as it is;
 *   - reference lookups: found, not found, JSON, unreadable directory;
 *   - conventions: --version, --help with an example on every subcommand,
 *     bad flags (exit 2), the daemon down (exit 3, naming the endpoint),
 *     endpoints from the environment and flags overriding them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_run.h"
#include "harness.h"

static char s_source_dir[1024];

/* A path under the source tree. */
static const char *s_src(const char *rel, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s/%s", s_source_dir, rel);
    return buf;
}

/* ------------------------------------------------------------------ */

static void test_templates_import_and_match(void **state)
{
    harness_t *h = *state;
    char grads[1200], vacs[1200];
    const char *ig[] = {
        "import",   "graduates",  s_src("clients/templates/graduates.csv", grads, sizeof grads),
        "--ingest", h->ingest_ep, NULL};
    const char *iv[] = {
        "import",   "vacancies",  s_src("clients/templates/vacancies.csv", vacs, sizeof vacs),
        "--ingest", h->ingest_ep, NULL};
    const char *welder[] = {"matches", "vacancy",   "uimm-occ-2026-soudeur-01",
                            "--query", h->query_ep, NULL};
    const char *machinist[] = {"matches", "graduate",  "0311234K-2026-014",
                               "--query", h->query_ep, NULL};
    cli_result_t r;
    hstats_t st;

    r = cli_run(h->root, ig, NULL);
    cli_expect_code(&r, 0, "import graduates template");
    cli_expect_in(r.out, "accepted 2, duplicate 0, rejected 0", "import graduates template");
    cli_result_free(&r);
    r = cli_run(h->root, iv, NULL);
    cli_expect_code(&r, 0, "import vacancies template");
    cli_expect_in(r.out, "accepted 2, duplicate 0, rejected 0", "import vacancies template");
    cli_result_free(&r);

    /* Each template row finds its counterpart: the CAP welder in Tarbes,
     * the machinist (titre professionnel, UAO) near Toulouse. */
    r = cli_run(h->root, welder, NULL);
    cli_expect_code(&r, 0, "matches of the welding vacancy");
    cli_expect_in(r.out, "   1  0650043X-2026-001 ", "the Tarbes welder ranks first");
    cli_expect_in(r.out, "exact RNCP27470", "the CAP meets the requirement exactly");
    cli_result_free(&r);
    r = cli_run(h->root, machinist, NULL);
    cli_expect_code(&r, 0, "matches of the machinist");
    cli_expect_in(r.out, "   1  uimm-occ-2026-usineur-03 ", "the Colomiers vacancy");
    cli_expect_in(r.out, "occupation RNCP34739", "matched through the occupation");
    cli_result_free(&r);

    /* The same files again: nothing changes. */
    r = cli_run(h->root, ig, NULL);
    cli_expect_code(&r, 0, "re-import graduates");
    cli_expect_in(r.out, "accepted 0, duplicate 2, rejected 0", "re-import graduates");
    cli_result_free(&r);
    r = cli_run(h->root, iv, NULL);
    cli_expect_code(&r, 0, "re-import vacancies");
    cli_expect_in(r.out, "accepted 0, duplicate 2, rejected 0", "re-import vacancies");
    cli_result_free(&r);
    assert_int_equal(harness_stats(h, &st), 0);
    assert_int_equal(st.graduates, 2);
    assert_int_equal(st.vacancies, 2);
    harness_pass(h);
}

/* A comma-separated export with a byte order mark, CRLF line ends, quoted
 * cells (one holding a line break, in an ignored column), and bad rows of
 * every kind. */
static const char s_bad_csv[] =
    "\xEF\xBB\xBFgraduate_id,school_id,rncp,kind,commune,mobility_radius_km,skills,#notes\r\n"
    "g-ok-1,0650043X,RNCP27470,CAP,65440,40,\"486590;106256\",\"first line\r\nsecond line\"\r\n"
    "g-forty,0650043X,RNCP27470,CAP,65440,forty,,\r\n"        /* line 4 */
    "\r\n"                                                    /* line 5: blank */
    "g-cape,0650043X,RNCP27470,CAPE,65440,40,,\r\n"           /* line 6 */
    "g-far,0650043X,RNCP27470,CAP,65440,4000,,\r\n"           /* line 7: daemon */
    "g-nowhere,0650043X,RNCP27470,CAP,99999,40,,\r\n"         /* line 8: daemon */
    "g-quote,0650043X,RNCP27470,CAP,65440,40,ab\"c,\r\n"      /* line 9 */
    "g-sci,0650043X,RNCP27470,CAP,6.544E+4,40,,\r\n"          /* line 10 */
    ",0650043X,RNCP27470,CAP,65440,40,,\r\n"                  /* line 11 */
    "g-wide,0650043X,RNCP27470,CAP,65440,40,,,surplus\r\n"    /* line 12 */
    "g-tp,0650043X,RNCP27470|RNCP34502,CAP|TP,65440,40,,\r\n" /* line 13: level */
    "g-ok-3,0650043X,RNCP27470,cap,65440,40,,\r\n";           /* line 14 */

static void test_bad_file(void **state)
{
    harness_t *h = *state;
    char path[400], miss[400], unknown[400];
    const char *args[] = {"import", "graduates", path, "--ingest", h->ingest_ep, NULL};
    const char *args_miss[] = {"import", "graduates", miss, "--ingest", h->ingest_ep, NULL};
    const char *args_unknown[] = {"import", "graduates", unknown, "--ingest", h->ingest_ep, NULL};
    cli_result_t r;
    hstats_t st;

    cli_write_file(h->root, "bad.csv", s_bad_csv, path, sizeof path);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 1, "import of a file with bad rows");
    cli_expect_in(r.out, "accepted 2, duplicate 0, rejected 9", "summary");
    cli_expect_in(r.out, "bad.csv:4: column 'mobility_radius_km': 'forty' is not a whole number",
                  "a word for a number");
    cli_expect_in(r.out, "bad.csv:6: column 'kind': 'CAPE' is not one of", "an unknown kind");
    cli_expect_in(r.out, "bad.csv:7: column 'mobility_radius_km': g-far:", "the daemon's range");
    cli_expect_in(r.out, "ERROR_CODE_OUT_OF_RANGE", "the daemon's code");
    cli_expect_in(r.out, "bad.csv:8: column 'commune': g-nowhere:", "an unknown commune");
    cli_expect_in(r.out, "ERROR_CODE_UNKNOWN_REFERENCE", "the daemon's code for it");
    cli_expect_in(r.out, "bad.csv:9: not valid CSV", "a stray quote");
    cli_expect_in(r.out, "bad.csv:10: column 'commune': '6.544E+4' looks like a number",
                  "a code a spreadsheet mangled");
    cli_expect_in(r.out, "bad.csv:11: column 'graduate_id': empty, and it is required",
                  "a missing id");
    cli_expect_in(r.out, "bad.csv:12: 9 cells, more than the 8 columns", "a row too wide");
    /* a titre professionnel needs its level: refused by the daemon */
    cli_expect_in(r.out, "bad.csv:13: column 'level': g-tp:", "the level of a TP");
    assert_null(strstr(r.out, "bad.csv:2:"));
    assert_null(strstr(r.out, "bad.csv:14:"));
    cli_result_free(&r);
    assert_int_equal(harness_stats(h, &st), 0);
    assert_int_equal(st.graduates, 2); /* g-ok-1 and g-ok-3 */

    /* A missing required column or an unknown one refuses the whole file. */
    cli_write_file(h->root, "miss.csv",
                   "graduate_id;kind;commune;mobility_radius_km\ng-m;CAP;65440;30\n", miss,
                   sizeof miss);
    r = cli_run(h->root, args_miss, NULL);
    cli_expect_code(&r, 1, "import without school_id");
    cli_expect_in(r.out, "miss.csv:1: missing column 'school_id'", "missing column");
    cli_result_free(&r);
    cli_write_file(h->root, "unknown.csv",
                   "graduate_id;school_id;colour;commune;mobility_radius_km\n"
                   "g-u;0650043X;blue;65440;30\n",
                   unknown, sizeof unknown);
    r = cli_run(h->root, args_unknown, NULL);
    cli_expect_code(&r, 1, "import with an unknown column");
    cli_expect_in(r.out, "unknown.csv:1: unknown column 'colour'", "unknown column");
    cli_result_free(&r);
    /* A spreadsheet saved in Windows-1252 instead of UTF-8. */
    cli_write_file(h->root, "latin.csv",
                   "graduate_id;school_id;skills;commune;mobility_radius_km\n"
                   "g-l;0650043X;soudage \xe0 l'arc;65440;30\n",
                   unknown, sizeof unknown);
    r = cli_run(h->root, args_unknown, NULL);
    cli_expect_code(&r, 1, "import of a file that is not UTF-8");
    cli_expect_in(r.out, "latin.csv:2: not UTF-8 text (byte 0xE0)", "not UTF-8");
    cli_result_free(&r);
    assert_int_equal(harness_stats(h, &st), 0);
    assert_int_equal(st.graduates, 2);
    harness_pass(h);
}

static void test_reimport_change_and_event_ids(void **state)
{
    harness_t *h = *state;
    char path[400];
    const char *args[] = {"import", "vacancies", path, "--ingest", h->ingest_ep, NULL};
    const char *json[] = {"import", "vacancies", path, "--ingest", h->ingest_ep, "--json", NULL};
    const char *head = "vacancy_id;employer_id;sector;rome;commune;contract_type;"
                       "required_skills;start_date\n";
    char text[1024], jsonl[400];
    cli_result_t r;

    (void)snprintf(text, sizeof text,
                   "%sv-1;123 456 789 00012;metalworking;H2913;65440;CDI;486590:2;15/09/2026\n"
                   "v-2;12345678900012;Métallerie;H2902;65440;cdi;\"106256|486590\";\n",
                   head);
    cli_write_file(h->root, "v.csv", text, path, sizeof path);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 0, "first import");
    cli_expect_in(r.out, "accepted 2, duplicate 0, rejected 0", "first import");
    cli_result_free(&r);
    r = cli_run(h->root, args, NULL);
    cli_expect_code(&r, 0, "second import");
    cli_expect_in(r.out, "accepted 0, duplicate 2, rejected 0", "second import");
    cli_result_free(&r);

    /* v-2 changes (its start date): a new event; v-1 is still a duplicate. */
    (void)snprintf(text, sizeof text,
                   "%sv-1;123 456 789 00012;metalworking;H2913;65440;CDI;486590:2;15/09/2026\n"
                   "v-2;12345678900012;Métallerie;H2902;65440;cdi;\"106256|486590\";2026-10-01\n",
                   head);
    cli_write_file(h->root, "v.csv", text, path, sizeof path);
    r = cli_run(h->root, json, NULL);
    cli_expect_code(&r, 0, "import of a changed row");
    cli_expect_in(r.err, "accepted 1, duplicate 1, rejected 0", "one row changed");
    cli_expect_in(r.out, "\"eventId\":\"v-1:", "derived ids start with the vacancy id");
    cli_expect_in(r.out, "\"eventId\":\"v-2:", "derived ids start with the vacancy id");
    cli_result_free(&r);

    /* --dry-run prints the very events the import sends, as JSON lines
     * that matchctl post takes: posting them is all duplicates. */
    {
        const char *dry[] = {"import", "vacancies", path, "--dry-run", NULL};
        const char *post[] = {"post", jsonl, "--ingest", h->ingest_ep, NULL};
        FILE *f;
        r = cli_run(h->root, dry, NULL);
        cli_expect_code(&r, 0, "import --dry-run");
        cli_expect_in(r.err, "valid 2, rejected 0", "import --dry-run");
        (void)snprintf(jsonl, sizeof jsonl, "%s/dry.jsonl", h->root);
        f = fopen(jsonl, "w");
        assert_non_null(f);
        assert_int_equal(fputs(r.out, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        cli_result_free(&r);
        r = cli_run(h->root, post, NULL);
        cli_expect_code(&r, 0, "post of the dry run");
        cli_expect_in(r.out, "accepted 0, duplicate 2, rejected 0", "post of the dry run");
        cli_result_free(&r);
    }

    /* An event_id column is used as it is. */
    (void)snprintf(text, sizeof text,
                   "event_id;vacancy_id;employer_id;sector;rome;commune;contract_type\n"
                   "fed-2026-0001;v-3;12345678900012;machining;H2903;31149;CDD\n");
    cli_write_file(h->root, "v.csv", text, path, sizeof path);
    r = cli_run(h->root, json, NULL);
    cli_expect_code(&r, 0, "import with event ids");
    cli_expect_in(r.out, "\"eventId\":\"fed-2026-0001\"", "the given event id");
    cli_expect_in(r.out, "ACK_STATUS_ACCEPTED", "accepted");
    cli_result_free(&r);
    r = cli_run(h->root, json, NULL);
    cli_expect_in(r.out, "ACK_STATUS_DUPLICATE", "the given event id again");
    cli_result_free(&r);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */

static void test_reference_lookups(void **state)
{
    harness_t *h = *state;
    char ref[1100], env_ref[1200];
    const char *rome[] = {"reference", "rome", "H2913", NULL};
    const char *rncp[] = {"reference", "rncp", "RNCP27470", "--reference", ref, NULL};
    const char *skill[] = {"reference", "skill", "486590", NULL};
    const char *by_name[] = {"reference", "commune", "saint etienne", NULL};
    const char *by_postal[] = {"reference", "commune", "65000", "--json", NULL};
    const char *corsica[] = {"reference", "commune", "2a004", NULL};
    const char *none[] = {"reference", "rncp", "RNCP0", NULL};
    const char *no_town[] = {"reference", "commune", "Nulle-Part-sur-Rien", NULL};
    const char *bad_dir[] = {"reference", "rome", "H2913", "--reference", "/nonexistent", NULL};
    const char *bad_kind[] = {"reference", "siret", "123", NULL};
    const char *env[] = {env_ref, NULL};
    cli_result_t r;

    s_src("deploy/reference", ref, sizeof ref);
    (void)snprintf(env_ref, sizeof env_ref, "PASSERELLE_REFERENCE_DIR=%s", ref);
    r = cli_run(h->root, rome, env);
    cli_expect_code(&r, 0, "reference rome");
    cli_expect_in(r.out, "H2913  Soudeur / Soudeuse", "the occupation");
    cli_expect_in(r.out, "486590   * Assembler des éléments métalliques", "a core skill");
    cli_expect_in(r.out, "H2902      Chaudronnier", "a career move");
    cli_expect_in(r.out, "RNCP27470   CAP", "a certification leading to it");
    cli_expect_in(r.out, "reference  rome-v460", "the reference version");
    cli_result_free(&r);
    r = cli_run(h->root, rncp, NULL);
    cli_expect_code(&r, 0, "reference rncp");
    cli_expect_in(r.out, "kind       CAP", "its kind");
    cli_expect_in(r.out, "H2913    Soudeur / Soudeuse", "its occupation");
    cli_result_free(&r);
    r = cli_run(h->root, skill, env);
    cli_expect_code(&r, 0, "reference skill");
    cli_expect_in(r.out, "486590  Assembler des éléments métalliques", "the skill");
    cli_result_free(&r);
    r = cli_run(h->root, by_name, env);
    cli_expect_code(&r, 0, "reference commune by name");
    cli_expect_in(r.out, "42218  Saint-Étienne", "accents and hyphens do not matter");
    cli_result_free(&r);
    r = cli_run(h->root, by_postal, env);
    cli_expect_code(&r, 0, "reference commune by postal code");
    cli_expect_in(r.out, "\"insee\": \"65440\"", "Tarbes by its postal code");
    cli_expect_in(r.out, "\"latitude\": 43.23871", "its coordinates");
    cli_result_free(&r);
    r = cli_run(h->root, corsica, env);
    cli_expect_code(&r, 0, "reference commune in Corsica");
    cli_expect_in(r.out, "Ajaccio", "Ajaccio");
    cli_result_free(&r);

    r = cli_run(h->root, none, env);
    cli_expect_code(&r, 1, "reference of an unknown code");
    cli_expect_in(r.err, "no rncp 'RNCP0'", "not found");
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    r = cli_run(h->root, no_town, env);
    cli_expect_code(&r, 1, "reference of an unknown commune");
    cli_result_free(&r);
    r = cli_run(h->root, bad_dir, NULL);
    cli_expect_code(&r, 2, "reference in a missing directory");
    cli_expect_in(r.err, "/nonexistent/rome.tsv", "the file is named");
    cli_result_free(&r);
    r = cli_run(h->root, bad_kind, NULL);
    cli_expect_code(&r, 2, "reference of an unknown table");
    cli_result_free(&r);
    harness_pass(h);
}

/* ------------------------------------------------------------------ */

static void test_conventions(void **state)
{
    harness_t *h = *state;
    static const char *const commands[] = {"post",     "stats", "health", "matches", "subscribe",
                                           "withdraw", "close", "erase",  "import",  "reference"};
    char grads[1200], env_ingest[128], env_query[128], env_dead[400], dead[340];
    const char *version[] = {"--version", NULL};
    const char *import_env[] = {
        "import", "graduates", s_src("clients/templates/graduates.csv", grads, sizeof grads), NULL};
    const char *health_json[] = {"health", "--json", NULL};
    const char *health_flag[] = {"health", "--query", h->query_ep, NULL};
    const char *envs[] = {env_ingest, env_query, NULL};
    const char *env_down[] = {env_dead, NULL};
    cli_result_t r;
    size_t i;

    r = cli_run(h->root, version, NULL);
    cli_expect_code(&r, 0, "--version");
    cli_expect_in(r.out, "matchctl ", "--version");
    cli_result_free(&r);
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *help[] = {commands[i], "--help", NULL};
        const char *bad[] = {commands[i], "--no-such-flag", NULL};
        r = cli_run(h->root, help, NULL);
        cli_expect_code(&r, 0, commands[i]);
        cli_expect_in(r.out, "Usage: matchctl", commands[i]);
        cli_expect_in(r.out, "Example", commands[i]);
        cli_expect_in(r.out, "Exit status", commands[i]);
        cli_result_free(&r);
        r = cli_run(h->root, bad, NULL);
        cli_expect_code(&r, 2, commands[i]);
        cli_expect_in(r.err, "--help", commands[i]);
        cli_result_free(&r);
    }

    /* Endpoints from the environment; a flag overrides the variable. */
    (void)snprintf(env_ingest, sizeof env_ingest, "PASSERELLE_INGEST=%s", h->ingest_ep);
    (void)snprintf(env_query, sizeof env_query, "PASSERELLE_QUERY=%s", h->query_ep);
    r = cli_run(h->root, import_env, envs);
    cli_expect_code(&r, 0, "import with $PASSERELLE_INGEST");
    cli_expect_in(r.out, "accepted 2", "import with $PASSERELLE_INGEST");
    cli_result_free(&r);
    r = cli_run(h->root, health_json, envs);
    cli_expect_code(&r, 0, "health --json with $PASSERELLE_QUERY");
    cli_expect_in(r.out, "\"live\":true", "health --json");
    cli_expect_in(r.out, "\"ready\":true", "health --json");
    cli_result_free(&r);
    (void)snprintf(dead, sizeof dead, "ipc://%s/nobody-here", h->root);
    (void)snprintf(env_dead, sizeof env_dead, "PASSERELLE_QUERY=%s", dead);
    r = cli_run(h->root, health_flag, env_down);
    cli_expect_code(&r, 0, "--query overrides $PASSERELLE_QUERY");
    cli_result_free(&r);

    /* The daemon down: exit 3, and the message names the endpoint. */
    assert_int_equal(harness_stop_clean(h), 0);
    {
        const char *imp[] = {"import",     "graduates", grads, "--ingest",
                             h->ingest_ep, "--timeout", "500", NULL};
        const char *imp_env[] = {"import", "graduates", grads, "--timeout", "500", NULL};
        const char *hj[] = {"health", "--json", "--timeout", "500", NULL};
        r = cli_run(h->root, imp, NULL);
        cli_expect_code(&r, 3, "import, daemon down");
        cli_expect_in(r.err, h->ingest_ep, "the ingest endpoint is named");
        cli_result_free(&r);
        r = cli_run(h->root, imp_env, envs);
        cli_expect_code(&r, 3, "import from the environment, daemon down");
        cli_expect_in(r.err, h->ingest_ep, "the endpoint from the environment is named");
        cli_result_free(&r);
        r = cli_run(h->root, hj, env_down);
        cli_expect_code(&r, 3, "health, daemon down");
        cli_expect_in(r.err, dead, "the query endpoint from the environment is named");
        cli_result_free(&r);
    }
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_templates_import_and_match, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_bad_file, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_reimport_change_and_event_ids, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_reference_lookups, harness_setup_stopped,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_conventions, harness_setup, harness_teardown),
    };
    const char *src = getenv("PASSERELLE_SOURCE_DIR");

    (void)snprintf(s_source_dir, sizeof s_source_dir, "%s", src != NULL ? src : "..");
    cli_find_matchctl();
    harness_cmocka_filter();
    return cmocka_run_group_tests_name("matchctl_import", tests, NULL, NULL);
}
