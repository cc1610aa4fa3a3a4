/* test_workers.c - the names of the workers' traces and the --accept modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "proxy.h"
#include "workers.h"

static void test_trace_path(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(workers_trace_path("run.ept", 0, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "run.w0.ept");
    assert_int_equal(workers_trace_path("/tmp/lab.d/run.ept", 12, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "/tmp/lab.d/run.w12.ept");
    /* a restarted worker: the next generation, the dead one's trace is kept */
    assert_int_equal(workers_trace_path("run.ept", 1, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "run.w1-2.ept");
    /* no extension: at the end; a dot in a directory or a leading dot is no extension */
    assert_int_equal(workers_trace_path("trace", 3, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "trace.w3");
    assert_int_equal(workers_trace_path("a.d/trace", 3, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "a.d/trace.w3");
    assert_int_equal(workers_trace_path(".ept", 0, 0, out, sizeof(out)), 0);
    assert_string_equal(out, ".ept.w0");
    assert_int_equal(workers_trace_path("a.tar.ept", 0, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "a.tar.w0.ept");
    assert_int_equal(workers_trace_path("run.ept", 0, 0, out, 10), -ENAMETOOLONG);
}

static void test_accept_names(void **state)
{
    (void)state;
    assert_int_equal(proxy_accept_parse("shared"), PROXY_ACCEPT_SHARED);
    assert_int_equal(proxy_accept_parse("exclusive"), PROXY_ACCEPT_EXCLUSIVE);
    assert_int_equal(proxy_accept_parse("reuseport"), PROXY_ACCEPT_REUSEPORT);
    assert_int_equal(proxy_accept_parse("herd"), -1);
    assert_string_equal(proxy_accept_name(PROXY_ACCEPT_REUSEPORT), "reuseport");
    assert_null(proxy_accept_name(3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_path),
        cmocka_unit_test(test_accept_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
