/* cli_run.c - run the real matchctl binary from a cmocka test (cli_run.h). */
#include "cli_run.h"

#include <errno.h>
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

/* The whole file at path, NUL-terminated (malloc'd; "" if missing). */
static char *s_slurp(const char *path)
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

cli_result_t cli_run(const char *dir, const char *const *args, const char *const *extra_env)
{
    char out_path[600], err_path[620], *argv[40];
    char **env = s_child_env(extra_env);
    pid_t parent = getpid(), pid;
    int out, err, in, st = 0;
    int64_t deadline = s_now_ms() + CLI_RUN_MS;
    cli_result_t r;
    size_t i;

    assert_non_null(env);
    argv[0] = s_matchctl;
    for (i = 0; i < 38 && args[i] != NULL; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    (void)snprintf(out_path, sizeof out_path, "%s/cli.out", dir);
    (void)snprintf(err_path, sizeof err_path, "%s/cli.err", dir);
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(out >= 0 && err >= 0 && in >= 0);
    pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(out);
    close(err);
    close(in);
    free(env);
    assert_true(pid > 0);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if ((w < 0 && errno != EINTR) || s_now_ms() > deadline) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            fail_msg("matchctl %s did not finish within %d ms", args[0], CLI_RUN_MS);
        }
        usleep(2000);
    }
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = s_slurp(out_path);
    r.err = s_slurp(err_path);
    return r;
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
