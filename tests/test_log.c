/* test_log.c - the log line rate limit (log_limit) that every bursty log
 * line of the daemon goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void test_first_line_then_one_a_period(void **state)
{
    (void)state;
    log_limit_t l = {0, 0};
    const int64_t t0 = 1767225600000LL;
    assert_int_equal(log_limit(&l, 1, t0, 1000), 1); /* the first is written */
    assert_int_equal(log_limit(&l, 1, t0 + 10, 1000), 0);
    assert_int_equal(log_limit(&l, 3, t0 + 999, 1000), 0);
    /* a period later the line covers everything counted meanwhile */
    assert_int_equal(log_limit(&l, 1, t0 + 1000, 1000), 5);
    assert_int_equal(log_limit(&l, 1, t0 + 1500, 1000), 0);
    assert_int_equal(log_limit(&l, 2, t0 + 2000, 1000), 3);
}

static void test_first_line_even_at_time_zero_distance(void **state)
{
    (void)state;
    log_limit_t l = {0, 0};
    /* a clock close to its origin must not swallow the first line */
    assert_int_equal(log_limit(&l, 7, 5, 60000), 7);
    assert_int_equal(log_limit(&l, 1, 6, 60000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_then_one_a_period),
        cmocka_unit_test(test_first_line_even_at_time_zero_distance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
