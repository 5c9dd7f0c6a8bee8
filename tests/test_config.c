/* test_config.c - matcher/config.c: defaults, the INI file, refusals with
 * file and line, the loopback rule; and the real matcherd's --check-config
 * on the shipped example file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static char s_path[64];

static const char *s_write(const char *text)
{
    snprintf(s_path, sizeof s_path, "/tmp/test_config.XXXXXX");
    int fd = mkstemp(s_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return s_path;
}

static void test_defaults_are_loopback_and_valid(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    config_defaults(&c);
    assert_string_equal(c.ingest, "tcp://127.0.0.1:7401");
    assert_string_equal(c.feed, "tcp://127.0.0.1:7402");
    assert_string_equal(c.query, "tcp://127.0.0.1:7403");
    assert_string_equal(c.data_dir, "./passerelle-data");
    assert_int_equal(c.k, 20);
    assert_int_equal(c.writemap, 1);
    assert_int_equal(c.lists_writeback_ms, 0);
    assert_string_equal(c.lists_dir, "");
    assert_int_equal(config_check(&c, err, sizeof err), 0);
}

static void test_file_overrides_defaults(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    config_defaults(&c);
    const char *p = s_write("; comment\n[store]\ndata = /var/lib/passerelle\n"
                            "map_initial_mb = 128\nwritemap = no\nlists_writeback_ms = 5000\n"
                            "lists_dir = /run/passerelle-lists\n"
                            "[matching]\nk = 7\nweight_distance = 0.4\n"
                            "[log]\nlevel = debug\nsyslog = yes\n");
    assert_int_equal(config_load(&c, p, err, sizeof err), 0);
    unlink(p);
    assert_string_equal(c.data_dir, "/var/lib/passerelle");
    assert_int_equal(c.map_initial_bytes, 128u << 20);
    assert_int_equal(c.writemap, 0);
    assert_int_equal(c.lists_writeback_ms, 5000);
    assert_string_equal(c.lists_dir, "/run/passerelle-lists");
    assert_int_equal(c.k, 7);
    assert_true(c.w_distance > 0.39 && c.w_distance < 0.41);
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c.log_syslog, 1);
}

static void s_refused(const char *text, const char *want)
{
    config_t c;
    char err[256];
    config_defaults(&c);
    const char *p = s_write(text);
    assert_int_equal(config_load(&c, p, err, sizeof err), -1);
    unlink(p);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    assert_non_null(strstr(err, p)); /* names the file */
}

static void test_bad_files_are_refused_with_line(void **state)
{
    (void)state;
    s_refused("[store]\nbogus = 1\n", ":2: unknown option store.bogus");
    s_refused("[store]\n\n\nmap_initial_mb = -3\n", ":4: store.map_initial_mb");
    s_refused("[matching]\nk = 1000\n", ":2: matching.k");
    s_refused("[matching]\nweight_skills = lots\n", ":2: matching.weight_skills");
    s_refused("[log]\nlevel = loud\n", ":2: log.level");
    s_refused("[log]\nsyslog = maybe\n", ":2: log.syslog");
    s_refused("[store]\nwritemap = perhaps\n", ":2: store.writemap");
    s_refused("[nowhere]\nx = 1\n", ":2: unknown option nowhere.x");
    s_refused("this is not ini\n", ":1:");
    config_t c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_load(&c, "/nonexistent/matcherd.conf", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void test_non_loopback_refused_without_security(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_set(&c, "endpoints", "ingest", "tcp://0.0.0.0:7401", err, sizeof err),
                     0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "loopback"));
    config_defaults(&c);
    assert_int_equal(config_set(&c, "endpoints", "feed", "tcp://192.0.2.10:7402", err, sizeof err),
                     0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    config_defaults(&c);
    assert_int_equal(config_set(&c, "endpoints", "query", "ipc:///tmp/q.sock", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "endpoints", "query", "tcp://[::1]:7403", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "endpoints", "query", "udp://x", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
}

/* Run matcherd with args; return its exit status, output in out. */
static int s_matcherd(char *const args[], char *out, size_t outlen)
{
    const char *bin = getenv("PASSERELLE_MATCHERD");
    int fds[2];
    if (!bin)
        skip();
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(bin, args);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outlen && (r = read(fds[0], out + n, outlen - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_check_config_on_shipped_example(void **state)
{
    (void)state;
    char out[2048], example[1024];
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    snprintf(example, sizeof example, "%s/deploy/matcherd.conf.example", src ? src : "..");
    char *ok[] = {"matcherd", "--config", example, "--check-config", NULL};
    assert_int_equal(s_matcherd(ok, out, sizeof out), 0);
    assert_non_null(strstr(out, "configuration OK"));
    char *bad[] = {"matcherd", "--ingest", "tcp://0.0.0.0:1", "--check-config", NULL};
    assert_int_equal(s_matcherd(bad, out, sizeof out), 2);
    assert_non_null(strstr(out, "loopback"));
    char *usage[] = {"matcherd", "--no-such-flag", NULL};
    assert_int_equal(s_matcherd(usage, out, sizeof out), 2);
    char *version[] = {"matcherd", "--version", NULL};
    assert_int_equal(s_matcherd(version, out, sizeof out), 0);
    assert_non_null(strstr(out, "matcherd "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_loopback_and_valid),
        cmocka_unit_test(test_file_overrides_defaults),
        cmocka_unit_test(test_bad_files_are_refused_with_line),
        cmocka_unit_test(test_non_loopback_refused_without_security),
        cmocka_unit_test(test_check_config_on_shipped_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
