/* cli_run.c - run the real matchctl binary from a cmocka test (cli_run.h). */
#include "cli_run.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static char s_matchctl[1024];

void cli_find_matchctl(void)
{
    const char *env = getenv("PASSERELLE_MATCHCTL");
    char self[900];
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        (void)snprintf(s_matchctl, sizeof s_matchctl, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        (void)snprintf(s_matchctl, sizeof s_matchctl, "matchctl");
        return;
    }
    self[n] = '\0';
    if (strrchr(self, '/') != NULL)
        *strrchr(self, '/') = '\0';
    (void)snprintf(s_matchctl, sizeof s_matchctl, "%s/../matchctl", self);
}

/* Our environment without the endpoint variables, plus extra. Built before
 * fork: the child may only make async-signal-safe calls. */
static char **s_child_env(const char *const *extra)
{
    size_t n = 0, k = 0, i;
    char **env;

    while (environ[n] != NULL)
        n++;
    for (i = 0; extra != NULL && extra[i] != NULL; i++)
        n++;
    env = calloc(n + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    for (i = 0; environ[i] != NULL; i++)
        if (strncmp(environ[i], "PASSERELLE_INGEST=", 18) != 0 &&
            strncmp(environ[i], "PASSERELLE_FEED=", 16) != 0 &&
            strncmp(environ[i], "PASSERELLE_QUERY=", 17) != 0)
            env[k++] = environ[i];
    for (i = 0; extra != NULL && extra[i] != NULL; i++)
        env[k++] = (char *)extra[i];
    return env;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *cli_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    do {
        if (cap - len < 4096) {
            size_t grown_cap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, grown_cap);
            assert_non_null(grown);
            buf = grown;
            cap = grown_cap;
        }
        n = f != NULL ? fread(buf + len, 1, cap - len - 1, f) : 0;
        len += n;
    } while (n > 0);
    buf[len] = '\0';
    if (f != NULL)
        fclose(f);
    return buf;
}

const char *cli_matchctl(void)
{
    return s_matchctl;
}

pid_t cli_spawn_argv(char *const *argv, const char *out_path, const char *const *extra_env)
{
    char err_path[600];
    char **env = s_child_env(extra_env);
    pid_t parent = getpid(), pid;
    int out = -1, err = -1, in = -1;

    if (env == NULL)
        return -1;
    (void)snprintf(err_path, sizeof err_path, "%s.err", out_path);
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || in < 0) {
        pid = -1;
        goto done;
    }
    pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
done:
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    if (in >= 0)
        close(in);
    free(env);
    return pid;
}

pid_t cli_spawn(const char *const *args, const char *out_path, const char *const *extra_env)
{
    char *argv[40];
    size_t i;

    argv[0] = s_matchctl;
    for (i = 0; i < 38 && args[i] != NULL; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    return cli_spawn_argv(argv, out_path, extra_env);
}

int cli_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = s_now_ms() + timeout_ms;
    int st = 0;

    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (w < 0 && errno != EINTR)
            return -1;
        if (s_now_ms() > deadline) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            return -1;
        }
        usleep(2000);
    }
}

cli_result_t cli_run_argv(const char *dir, char *const *argv, const char *const *extra_env,
                          int timeout_ms)
{
    char out_path[600], err_path[620];
    cli_result_t r;
    pid_t pid;

    (void)snprintf(out_path, sizeof out_path, "%s/cli.out", dir);
    (void)snprintf(err_path, sizeof err_path, "%s.err", out_path);
    pid = cli_spawn_argv(argv, out_path, extra_env);
    assert_true(pid > 0);
    r.code = cli_wait(pid, timeout_ms);
    if (r.code == -1)
        fail_msg("%s %s did not finish within %d ms", argv[0], argv[1] != NULL ? argv[1] : "",
                 timeout_ms);
    r.out = cli_slurp(out_path);
    r.err = cli_slurp(err_path);
    return r;
}

cli_result_t cli_run_ms(const char *dir, const char *const *args, const char *const *extra_env,
                        int timeout_ms)
{
    char *argv[40];
    size_t i;

    argv[0] = s_matchctl;
    for (i = 0; i < 38 && args[i] != NULL; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    return cli_run_argv(dir, argv, extra_env, timeout_ms);
}

cli_result_t cli_run(const char *dir, const char *const *args, const char *const *extra_env)
{
    return cli_run_ms(dir, args, extra_env, CLI_RUN_MS);
}

void cli_result_free(cli_result_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

void cli_expect_code(const cli_result_t *r, int code, const char *what)
{
    if (r->code != code)
        fail_msg("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", what, r->code, code, r->out,
                 r->err);
}

void cli_expect_in(const char *text, const char *needle, const char *what)
{
    if (strstr(text, needle) == NULL)
        fail_msg("%s: expected to find \"%s\" in:\n%s", what, needle, text);
}

void cli_write_file(const char *dir, const char *name, const char *text, char *path, size_t size)
{
    FILE *f;

    (void)snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

size_t cli_count_in_file(const char *path, const char *needle)
{
    size_t found = 0, n = strlen(needle), len, i;
    struct stat st;
    uint8_t *buf;
    FILE *f;

    assert_int_equal(stat(path, &st), 0);
    f = fopen(path, "rb");
    assert_non_null(f);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    len = fread(buf, 1, (size_t)st.st_size, f);
    (void)fclose(f);
    for (i = 0; i + n <= len; i++)
        found += memcmp(buf + i, needle, n) == 0;
    free(buf);
    return found;
}

FILE *cli_open_file(const char *dir, const char *name, char *path, size_t size)
{
    FILE *f;

    (void)snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

#define S_SCHOOL "0650043X"

void cli_json_graduate(FILE *f, const char *event_id, const char *graduate_id, const char *commune,
                       int64_t at_ms)
{
    fprintf(f,
            "{\"eventId\":\"%s\",\"source\":\"ep-tarbes\",\"occurredAtMs\":\"%" PRId64 "\","
            "\"graduateUpsert\":{\"graduate\":{\"graduateId\":\"%s\",\"schoolId\":\"" S_SCHOOL "\","
            "\"certifications\":[{\"kind\":\"CERTIFICATION_KIND_CAP\",\"rncpCode\":\"RNCP27470\","
            "\"level\":3}],\"skills\":[\"486590\"],\"home\":{\"communeCode\":\"%s\"},"
            "\"mobilityRadiusKm\":150,\"contractTypes\":[\"CONTRACT_TYPE_CDI\"]}}}\n",
            event_id, at_ms, graduate_id, commune);
}

void cli_json_vacancy(FILE *f, const char *source, const char *event_id, const char *vacancy_id,
                      const char *employer, const char *commune, int64_t at_ms)
{
    fprintf(f,
            "{\"eventId\":\"%s\",\"source\":\"%s\",\"occurredAtMs\":\"%" PRId64 "\","
            "\"vacancyUpsert\":{\"vacancy\":{\"vacancyId\":\"%s\",\"employerId\":\"%s\","
            "\"sector\":\"SECTOR_METALWORKING\",\"romeCodes\":[\"H2913\"],"
            "\"site\":{\"communeCode\":\"%s\"},\"maxDistanceKm\":200,"
            "\"requiredRncp\":[\"RNCP27470\"],\"requiredSkills\":[{\"skill\":\"486590\","
            "\"weight\":2}],\"contractType\":\"CONTRACT_TYPE_CDI\",\"positions\":1}}}\n",
            event_id, source, at_ms, vacancy_id, employer, commune);
}

void cli_json_withdraw(FILE *f, const char *event_id, const char *graduate_id, int64_t at_ms)
{
    fprintf(f,
            "{\"eventId\":\"%s\",\"source\":\"ep-tarbes\",\"occurredAtMs\":\"%" PRId64 "\","
            "\"graduateWithdrawn\":{\"graduateId\":\"%s\",\"schoolId\":\"" S_SCHOOL "\","
            "\"reason\":\"WITHDRAWAL_REASON_HIRED\"}}\n",
            event_id, at_ms, graduate_id);
}
