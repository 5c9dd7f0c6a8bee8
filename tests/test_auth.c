/* test_auth.c - matcher/auth.c's pure parts: the roles file and the topic
 * scope rule; and config.c's security settings. The ZAP handler and the
 * enforcement run against the real daemon in test_security.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"

static char s_path[64];

static const char *s_write(const char *text)
{
    (void)snprintf(s_path, sizeof s_path, "/tmp/test_auth.XXXXXX");
    int fd = mkstemp(s_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return s_path;
}

static void test_roles_file(void **state)
{
    (void)state;
    auth_client_t *c = NULL;
    size_t n = 0;
    char err[256];
    const char *p =
        s_write("# clients\n\n ep-tarbes  school 0650043X   # a school\n"
                "uimm-occ federation 76\nrh-aero recruiter 12345678900012,98765432100019\n"
                "obs observer 76\nops operator\n");
    assert_int_equal(auth_roles_parse(p, &c, &n, err, sizeof err), 0);
    unlink(p);
    assert_int_equal(n, 5);
    assert_string_equal(c[0].name, "ep-tarbes");
    assert_int_equal(c[0].role, AUTH_ROLE_SCHOOL);
    assert_string_equal(c[0].scopes[0], "0650043X");
    assert_int_equal(c[2].role, AUTH_ROLE_RECRUITER);
    assert_int_equal(c[2].n_scopes, 2);
    assert_true(auth_has_scope(&c[2], "98765432100019"));
    assert_false(auth_has_scope(&c[2], "9876543210001"));
    assert_int_equal(c[4].role, AUTH_ROLE_OPERATOR);
    assert_int_equal(c[4].n_scopes, 0);
    free(c);
}

static void test_roles_file_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"a school\n", ":1: this role needs a scope"},
        {"a operator x\n", ":1: operator takes no scope"},
        {"a school X,Y\n", ":1: only recruiter takes several scopes"},
        {"a admin\n", ":1: role is school"},
        {"ok operator\nok operator\n", ":2: this name is already given a role"},
        {"lonely\n", ":1: expected NAME ROLE"},
        {"bad/name operator\n", ":1: a name is"},
        {"a recruiter 1 2\n", ":1: too many fields"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        auth_client_t *c = (auth_client_t *)1;
        size_t n = 7;
        char err[256];
        const char *p = s_write(bad[i].text);
        assert_int_equal(auth_roles_parse(p, &c, &n, err, sizeof err), -1);
        unlink(p);
        assert_null(c);
        assert_int_equal(n, 0);
        if (!strstr(err, bad[i].why))
            fail_msg("\"%s\": got \"%s\", expected \"%s\"", bad[i].text, err, bad[i].why);
    }
}

static void test_topic_scopes(void **state)
{
    (void)state;
    auth_client_t rec = {"r", AUTH_ROLE_RECRUITER, 2, {"12345678900012", "98765432100019"}};
    auth_client_t school = {"s", AUTH_ROLE_SCHOOL, 1, {"EP1"}};
    auth_client_t obs = {"o", AUTH_ROLE_OBSERVER, 1, {"76"}};
    auth_client_t ops = {"x", AUTH_ROLE_OPERATOR, 0, {""}};
    assert_true(auth_topic_allowed(&rec, "employer/12345678900012"));
    assert_true(auth_topic_allowed(&rec, "employer/98765432100019"));
    assert_false(auth_topic_allowed(&rec, "employer/1234567890001")); /* a prefix of others */
    assert_false(auth_topic_allowed(&rec, "employer/"));
    assert_false(auth_topic_allowed(&rec, ""));
    assert_false(auth_topic_allowed(&rec, "school/EP1"));
    assert_true(auth_topic_allowed(&school, "school/EP1"));
    assert_false(auth_topic_allowed(&school, "school/EP12"));
    assert_false(auth_topic_allowed(&school, "school/EP"));
    assert_true(auth_topic_allowed(&obs, "region/76/"));
    assert_true(auth_topic_allowed(&obs, "region/76/aeronautics"));
    assert_false(auth_topic_allowed(&obs, "region/76")); /* would also match region/760.. */
    assert_false(auth_topic_allowed(&obs, "region/75/aeronautics"));
    assert_true(auth_topic_allowed(&ops, ""));
}

static void test_config_security(void **state)
{
    (void)state;
    config_t c;
    char err[512];
    config_defaults(&c);
    assert_int_equal(c.security_mode, CONFIG_SECURITY_NONE);
    assert_int_equal(config_set(&c, "endpoints", "ingest", "tcp://0.0.0.0:7401", err, sizeof err),
                     0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode = curve"));
    assert_int_equal(config_set(&c, "security", "mode", "curve", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "security.server_cert"));
    assert_int_equal(config_set(&c, "security", "server_cert", "/k/server_secret", err, sizeof err),
                     0);
    assert_int_equal(config_set(&c, "security", "clients_dir", "/k/clients", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "security", "roles", "/k/roles", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), 0); /* any address, with curve */
    assert_int_equal(config_set(&c, "security", "mode", "tls", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "privacy", "graduate_retention_days", "365", err, sizeof err),
                     0);
    assert_int_equal(c.graduate_retention_days, 365);
    assert_int_equal(config_set(&c, "privacy", "scrub_after_erase_s", "-1", err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_file),
        cmocka_unit_test(test_roles_file_refusals),
        cmocka_unit_test(test_topic_scopes),
        cmocka_unit_test(test_config_security),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
