/* cli_run.h - run the real matchctl binary from a cmocka test.
 *
 * The binary is $PASSERELLE_MATCHCTL (set by CTest) or ../matchctl next to
 * the test executable. Each run gets /dev/null as stdin, its stdout and
 * stderr in files of a directory the test owns, an environment without the
 * PASSERELLE_INGEST/FEED/QUERY variables (plus the ones the test gives),
 * and at most CLI_RUN_MS (or the time given) to finish before it is killed and the test fails.
 */
#ifndef PASSERELLE_TESTS_CLI_RUN_H
#define PASSERELLE_TESTS_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

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

/* The same with a time limit of timeout_ms instead of CLI_RUN_MS. */
cli_result_t cli_run_ms(const char *dir, const char *const *args, const char *const *extra_env,
                        int timeout_ms);

/* The same for any program: argv[0] is its path. */
cli_result_t cli_run_argv(const char *dir, char *const *argv, const char *const *extra_env,
                          int timeout_ms);

void cli_result_free(cli_result_t *r);

/* The path of the matchctl binary (after cli_find_matchctl()). */
const char *cli_matchctl(void);

/* Start argv (argv[0] a path) in the environment cli_run() gives, stdin
 * /dev/null, stdout to out_path and stderr to out_path ".err", without
 * waiting. Returns the pid, or -1 when it cannot be started. */
pid_t cli_spawn_argv(char *const *argv, const char *out_path, const char *const *extra_env);

/* The same for matchctl with args (NULL-terminated, without argv[0]). */
pid_t cli_spawn(const char *const *args, const char *out_path, const char *const *extra_env);

/* Wait at most timeout_ms for pid; SIGKILL it on timeout. Returns its exit
 * code, 128 + signal when killed by one, or -1 on timeout. */
int cli_wait(pid_t pid, int timeout_ms);

/* The whole file at path, NUL-terminated (malloc'd; "" if missing). */
char *cli_slurp(const char *path);

/* How many times needle occurs in the regular file at path. */
size_t cli_count_in_file(const char *path, const char *needle);

/* Fail the test, showing both outputs, unless r exited with code. */
void cli_expect_code(const cli_result_t *r, int code, const char *what);

/* Fail the test, showing text, unless needle occurs in text. */
void cli_expect_in(const char *text, const char *needle, const char *what);

/* Write text to dir/name; the path goes to path (size bytes). */
void cli_write_file(const char *dir, const char *name, const char *text, char *path, size_t size);

/* Open dir/name for writing (fails the test if it cannot); the path goes to
 * path (size bytes). */
FILE *cli_open_file(const char *dir, const char *name, char *path, size_t size);

/* Events as JSON lines for matchctl post. A graduate of school 0650043X
 * (source "ep-tarbes") with the CAP RNCP27470 and skill 486590 living in
 * commune, wanting a CDI within 150 km. */
void cli_json_graduate(FILE *f, const char *event_id, const char *graduate_id, const char *commune,
                       int64_t at_ms);

/* A welding vacancy from source (ROME H2913, RNCP27470 required, skill
 * 486590 of weight 2, a CDI within 200 km) of employer in commune. */
void cli_json_vacancy(FILE *f, const char *source, const char *event_id, const char *vacancy_id,
                      const char *employer, const char *commune, int64_t at_ms);

/* The graduate withdrawn (hired) by school 0650043X. */
void cli_json_withdraw(FILE *f, const char *event_id, const char *graduate_id, int64_t at_ms);

#endif
