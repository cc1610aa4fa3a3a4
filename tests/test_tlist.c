/* test_tlist.c - timers as FIFO lists: the head is always the next to expire, a restarted
 * timer moves to the tail, stopping is idempotent, and the node gives back its object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tlist.h"

struct obj {
    int id;
    struct tlist_node a, b; /* one node per list it can be on */
};

static int first_id(const struct tlist *l, uint64_t now, int member_b)
{
    struct tlist_node *n = tlist_expired(l, now);
    if (!n)
        return -1;
    return member_b ? tlist_entry(n, struct obj, b)->id : tlist_entry(n, struct obj, a)->id;
}

static void test_tlist_order_and_expiry(void **state)
{
    (void)state;
    struct tlist l = {0};
    struct obj o[3] = {{.id = 0}, {.id = 1}, {.id = 2}};
    assert_int_equal(tlist_next_due(&l), UINT64_MAX);
    assert_null(tlist_expired(&l, UINT64_MAX));
    for (int i = 0; i < 3; i++)
        tlist_start(&l, &o[i].a, 100 + 10 * (uint64_t)i);
    assert_int_equal(tlist_next_due(&l), 100);
    assert_int_equal(first_id(&l, 99, 0), -1); /* not yet due */
    assert_int_equal(first_id(&l, 100, 0), 0);
    /* restarting the first moves it behind the others */
    tlist_start(&l, &o[0].a, 130);
    assert_int_equal(first_id(&l, 200, 0), 1);
    tlist_stop(&o[1].a);
    tlist_stop(&o[1].a); /* twice: nothing happens */
    assert_null(o[1].a.on);
    assert_int_equal(first_id(&l, 200, 0), 2);
    tlist_stop(&o[2].a);
    assert_int_equal(first_id(&l, 200, 0), 0);
    tlist_stop(&o[0].a);
    assert_null(l.head);
    assert_null(l.tail);
}

static void test_tlist_two_lists_one_object(void **state)
{
    (void)state;
    struct tlist ta = {0}, tb = {0};
    struct obj o = {.id = 7};
    tlist_start(&ta, &o.a, 5);
    tlist_start(&tb, &o.b, 50);
    assert_ptr_equal(o.a.on, &ta);
    assert_ptr_equal(o.b.on, &tb);
    assert_int_equal(first_id(&tb, 50, 1), 7);
    tlist_stop(&o.a);
    assert_null(ta.head);
    assert_int_equal(tlist_next_due(&tb), 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlist_order_and_expiry),
        cmocka_unit_test(test_tlist_two_lists_one_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
