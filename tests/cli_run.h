/* cli_run.h - run the real matchctl binary from a cmocka test.
 *
 * The binary is $PASSERELLE_MATCHCTL (set by CTest) or ../matchctl next to
 * the test executable. Each run gets /dev/null as stdin, its stdout and
 * stderr in files of a directory the test owns, an environment without the
 * PASSERELLE_INGEST/FEED/QUERY variables (plus the ones the test gives),
 * and at most CLI_RUN_MS to finish before it is killed and the test fails.
 */
#ifndef PASSERELLE_TESTS_CLI_RUN_H
#define PASSERELLE_TESTS_CLI_RUN_H

#include <stddef.h>

#define CLI_RUN_MS 20000

typedef struct {
    int code;  /* exit code; 128 + signal when killed by one */
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr, NUL-terminated */
} cli_result_t;

/* Find the matchctl binary; call once from main(). */
void cli_find_matchctl(void);

/* Run matchctl with args (NULL-terminated, without argv[0]) and the extra
 * environment entries ("NAME=value", NULL-terminated; may be NULL), keeping
 * its output in files under dir. Fails the test if it cannot be started or
 * does not finish in time. The caller frees with cli_result_free(). */
cli_result_t cli_run(const char *dir, const char *const *args, const char *const *extra_env);

void cli_result_free(cli_result_t *r);

/* Fail the test, showing both outputs, unless r exited with code. */
void cli_expect_code(const cli_result_t *r, int code, const char *what);

/* Fail the test, showing text, unless needle occurs in text. */
void cli_expect_in(const char *text, const char *needle, const char *what);

/* Write text to dir/name; the path goes to path (size bytes). */
void cli_write_file(const char *dir, const char *name, const char *text, char *path, size_t size);

#endif
