/* test_policy.c - what each trigger mode registers and when it calls epoll_ctl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/epoll.h>

#include "policy.h"

static const struct policy_reg unregistered = {false, false, 0};

static void test_level(void **state)
{
    (void)state;
    const struct policy *p = policy_get(EPT_MODE_LEVEL);
    assert_false(p->drain);
    assert_false(p->remember);
    assert_int_equal(policy_events(p, true, false), EPOLLIN | EPOLLRDHUP);
    assert_int_equal(policy_events(p, false, true), EPOLLOUT);
    assert_int_equal(policy_events(p, true, true), EPOLLIN | EPOLLRDHUP | EPOLLOUT);
    assert_int_equal(policy_events(p, false, false), 0);
    assert_int_equal(policy_sync(p, &unregistered, EPOLLIN, false), POLICY_ADD);
    struct policy_reg r = {true, true, EPOLLIN | EPOLLRDHUP};
    assert_int_equal(policy_sync(p, &r, EPOLLIN | EPOLLRDHUP, false), POLICY_KEEP);
    /* a write becomes pending: add EPOLLOUT; it drains: remove it */
    assert_int_equal(policy_sync(p, &r, EPOLLIN | EPOLLRDHUP | EPOLLOUT, false), POLICY_MOD);
    /* backpressure: stop asking for EPOLLIN */
    assert_int_equal(policy_sync(p, &r, 0, false), POLICY_MOD);
    /* EPOLLHUP cannot be masked: a socket that waits for nothing leaves the set */
    assert_int_equal(policy_sync(p, &r, 0, true), POLICY_DEL);
}

static void test_edge(void **state)
{
    (void)state;
    const struct policy *p = policy_get(EPT_MODE_EDGE);
    assert_true(p->drain);
    assert_true(p->remember);
    uint32_t all = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    assert_int_equal(policy_events(p, true, false), all);
    assert_int_equal(policy_events(p, false, false), all);
    assert_int_equal(policy_sync(p, &unregistered, all, false), POLICY_ADD);
    struct policy_reg r = {true, true, all};
    /* registered once: never a MOD in steady state, whatever it waits for */
    assert_int_equal(policy_sync(p, &r, all, false), POLICY_KEEP);
    assert_int_equal(policy_sync(p, &r, all, true), POLICY_KEEP);
}

static void test_oneshot(void **state)
{
    (void)state;
    const struct policy *p = policy_get(EPT_MODE_ONESHOT);
    assert_true(p->drain);
    assert_true(p->oneshot);
    uint32_t in = EPOLLIN | EPOLLRDHUP | EPOLLET | EPOLLONESHOT;
    uint32_t out = EPOLLOUT | EPOLLET | EPOLLONESHOT;
    assert_int_equal(policy_events(p, true, false), in);
    assert_int_equal(policy_events(p, false, true), out);
    struct policy_reg r = {true, true, in};
    assert_int_equal(policy_sync(p, &r, in, false), POLICY_KEEP);  /* still armed */
    r.armed = false;                                                /* it fired */
    assert_int_equal(policy_sync(p, &r, in, false), POLICY_MOD);   /* re-arm, same events */
    assert_int_equal(policy_sync(p, &r, out, false), POLICY_MOD);  /* arm for the write */
    assert_int_equal(policy_sync(p, &r, 0, false), POLICY_KEEP);   /* waits for nothing */
}

static void test_faults(void **state)
{
    (void)state;
    struct policy sticky = *policy_get(EPT_MODE_LEVEL);
    sticky.sticky_out = true;
    assert_true(policy_events(&sticky, true, false) & EPOLLOUT);
    struct policy norearm = *policy_get(EPT_MODE_ONESHOT);
    norearm.never_rearm = true;
    struct policy_reg fired = {true, false, EPOLLIN | EPOLLET | EPOLLONESHOT};
    assert_int_equal(policy_sync(&norearm, &fired, EPOLLIN | EPOLLET | EPOLLONESHOT, false),
                     POLICY_KEEP);
}

static void test_table(void **state)
{
    (void)state;
    assert_string_equal(policy_get(EPT_MODE_LEVEL)->name, "level");
    assert_string_equal(policy_get(EPT_MODE_EDGE)->name, "edge");
    assert_string_equal(policy_get(EPT_MODE_ONESHOT)->name, "edge-oneshot");
    assert_null(policy_get(7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level),  cmocka_unit_test(test_edge),
        cmocka_unit_test(test_oneshot), cmocka_unit_test(test_faults),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
