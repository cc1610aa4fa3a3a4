/* test_balance.c - the load-balancing algorithms and passive health. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "balance.h"

static void setup_n(struct balance *bl, unsigned algo, const char **specs, unsigned n)
{
    char err[200];
    balance_init(bl, algo, 42);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(balance_add(bl, specs[i], err, sizeof(err)), 0);
}

static struct sockaddr_in client(unsigned last)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)(40000 + last));
    a.sin_addr.s_addr = htonl(0x0a000000u | last);
    return a;
}

static void test_roundrobin_even(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};
    setup_n(&bl, EPT_ALGO_ROUNDROBIN, s, 3);
    unsigned count[3] = {0};
    int rev, last = -1;
    for (int i = 0; i < 300; i++) {
        int k = balance_pick(&bl, NULL, 0, 1, &rev);
        assert_true(k >= 0 && k < 3);
        assert_int_not_equal(k, last); /* strict rotation with equal weights */
        last = k;
        count[k]++;
        balance_release(&bl, k);
    }
    assert_int_equal(count[0], 100);
    assert_int_equal(count[1], 100);
    assert_int_equal(count[2], 100);
}

static void test_roundrobin_weights(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1,weight=3", "127.0.0.1:2", "127.0.0.1:3,weight=2"};
    setup_n(&bl, EPT_ALGO_ROUNDROBIN, s, 3);
    unsigned count[3] = {0};
    int rev;
    for (int i = 0; i < 600; i++)
        count[balance_pick(&bl, NULL, 0, 1, &rev)]++;
    assert_int_equal(count[0], 300);
    assert_int_equal(count[1], 100);
    assert_int_equal(count[2], 200);
}

static void test_leastconn(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2,weight=2"};
    setup_n(&bl, EPT_ALGO_LEASTCONN, s, 2);
    int rev;
    /* With nothing released, active per weight stays balanced: backend 1 gets twice as many. */
    unsigned count[2] = {0};
    for (int i = 0; i < 30; i++)
        count[balance_pick(&bl, NULL, 0, 1, &rev)]++;
    assert_int_equal(count[0], 10);
    assert_int_equal(count[1], 20);
    /* Backend 1's connections end: the next picks all go to it until it catches up. */
    for (int i = 0; i < 20; i++)
        balance_release(&bl, 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(balance_pick(&bl, NULL, 0, 1, &rev), 1);
}

/* n picks over backends weighted 3:1, each released at once (one request at a time) or
 * never (every connection stays): how many each got. */
static void picks_3_to_1(unsigned algo, int release, unsigned n, unsigned count[2])
{
    struct balance bl;
    const char *s[] = {"127.0.0.1:1,weight=3", "127.0.0.1:2"};
    setup_n(&bl, algo, s, 2);
    int rev;
    count[0] = count[1] = 0;
    for (unsigned i = 0; i < n; i++) {
        struct sockaddr_in a = client(i); /* hash: many clients */
        int k = balance_pick(&bl, (struct sockaddr *)&a, 0, 1, &rev);
        assert_true(k == 0 || k == 1);
        count[k]++;
        if (release)
            balance_release(&bl, k);
    }
}

static void test_weights_every_algorithm(void **state)
{
    (void)state;
    unsigned c[2];
    /* roundrobin and leastconn are exact; hash and random2 within 5% of 3000 in 4000 */
    picks_3_to_1(EPT_ALGO_ROUNDROBIN, 1, 4000, c);
    assert_int_equal(c[0], 3000);
    picks_3_to_1(EPT_ALGO_LEASTCONN, 1, 4000, c); /* all ties: broken by weight */
    assert_int_equal(c[0], 3000);
    picks_3_to_1(EPT_ALGO_LEASTCONN, 0, 4000, c); /* active per weight kept level */
    assert_int_equal(c[0], 3000);
    picks_3_to_1(EPT_ALGO_HASH, 1, 4000, c);
    print_message("hash %u/%u\n", c[0], c[1]);
    assert_in_range(c[0], 2850, 3150);
    picks_3_to_1(EPT_ALGO_RANDOM2, 1, 4000, c); /* all ties: the first draw, by weight */
    print_message("random2 one at a time %u/%u\n", c[0], c[1]);
    assert_in_range(c[0], 2850, 3150);
    picks_3_to_1(EPT_ALGO_RANDOM2, 0, 4000, c); /* the lighter per weight of two */
    print_message("random2 all held %u/%u\n", c[0], c[1]);
    assert_in_range(c[0], 2850, 3150);
}

static void test_hash_stable(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"};
    setup_n(&bl, EPT_ALGO_HASH, s, 4);
    int rev, first[64];
    unsigned used[4] = {0};
    for (unsigned c = 0; c < 64; c++) {
        struct sockaddr_in a = client(c);
        first[c] = balance_pick(&bl, (struct sockaddr *)&a, 0, 1, &rev);
        used[first[c]]++;
    }
    for (int round = 0; round < 5; round++)
        for (unsigned c = 0; c < 64; c++) {
            struct sockaddr_in a = client(c);
            a.sin_port = htons((uint16_t)(1000 + round)); /* the port does not matter */
            assert_int_equal(balance_pick(&bl, (struct sockaddr *)&a, 0, 1, &rev), first[c]);
        }
    for (int i = 0; i < 4; i++)
        assert_true(used[i] >= 4); /* 64 clients spread over all four */
    /* A backend down moves only its own clients. */
    balance_mark_down(&bl, 2, 1, 1000000000);
    for (unsigned c = 0; c < 64; c++) {
        struct sockaddr_in a = client(c);
        int k = balance_pick(&bl, (struct sockaddr *)&a, 0, 2, &rev);
        if (first[c] != 2)
            assert_int_equal(k, first[c]);
        else
            assert_int_not_equal(k, 2);
    }
}

static void test_random2_prefers_lighter(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2"};
    setup_n(&bl, EPT_ALGO_RANDOM2, s, 2);
    int rev;
    bl.b[0].active = 50; /* with two backends, both are always the two choices */
    for (int i = 0; i < 40; i++)
        assert_int_equal(balance_pick(&bl, NULL, 0, 1, &rev), 1);
}

static void test_down_and_revive(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2"};
    setup_n(&bl, EPT_ALGO_ROUNDROBIN, s, 2);
    int rev;
    balance_mark_down(&bl, 0, 1000, 5000);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(balance_pick(&bl, NULL, 0, 2000, &rev), 1);
        assert_int_equal(rev, -1);
    }
    /* one tried, the other down: the one down is tried anyway (never none standing) */
    assert_int_equal(balance_pick(&bl, NULL, 1ull << 1, 2000, &rev), 0);
    assert_int_equal(rev, -1);
    assert_true(bl.b[0].down_until != 0); /* still marked down: not revived by that */
    balance_release(&bl, 0);
    /* after the down time, backend 0 is back, and the caller is told */
    int k = balance_pick(&bl, NULL, 1ull << 1, 6000, &rev);
    assert_int_equal(k, 0);
    assert_int_equal(rev, 0);
}

static void test_all_down_still_picked(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};
    for (unsigned algo = 0; algo < 4; algo++) {
        setup_n(&bl, algo, s, 3);
        int rev, seen[3] = {0};
        for (int i = 0; i < 3; i++)
            balance_mark_down(&bl, i, 1000, 5000);
        for (int i = 0; i < 30; i++) {
            int k = balance_pick(&bl, NULL, 0, 2000, &rev);
            assert_true(k >= 0 && k < 3);
            seen[k]++;
            balance_release(&bl, k);
        }
        if (algo != EPT_ALGO_HASH) /* hash keeps one client on one backend */
            assert_true(seen[0] && seen[1] && seen[2]);
        /* down ones that were tried are not chosen again: the caller decides to retry */
        assert_int_equal(balance_pick(&bl, NULL, 0x3, 2000, &rev), 2);
        assert_int_equal(balance_pick(&bl, NULL, 0x7, 2000, &rev), -1);
    }
}

static void test_max_fails_window(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2"};
    setup_n(&bl, EPT_ALGO_ROUNDROBIN, s, 2);
    balance_health(&bl, 3, 10000, 50000);
    /* failures further apart than the window never add up */
    for (uint64_t t = 1; t < 200000; t += 10001)
        assert_int_equal(balance_fail(&bl, 0, t), 0);
    assert_int_equal(bl.b[0].down_until, 0);
    /* the third within the window takes it out, for the down time */
    assert_int_equal(balance_fail(&bl, 1, 300000), 0);
    assert_int_equal(balance_fail(&bl, 1, 305000), 0);
    assert_int_equal(bl.b[1].down_until, 0);
    assert_int_equal(balance_fail(&bl, 1, 309000), 1);
    assert_int_equal(bl.b[1].down_until, 359000);
    int rev;
    assert_int_equal(balance_pick(&bl, NULL, 0, 310000, &rev), 0);
    balance_release(&bl, 0);
    /* a success forgives: two more failures do not take it out */
    assert_int_equal(balance_ok(&bl, 1), 1);
    assert_int_equal(bl.b[1].down_until, 0);
    assert_int_equal(balance_fail(&bl, 1, 320000), 0);
    assert_int_equal(balance_fail(&bl, 1, 321000), 0);
    assert_int_equal(balance_ok(&bl, 1), 0);
    assert_int_equal(balance_fail(&bl, 1, 322000), 0);
    /* the default is one failure, as before */
    setup_n(&bl, EPT_ALGO_ROUNDROBIN, s, 2);
    assert_int_equal(balance_fail(&bl, 0, 1), 1);
}

static void test_tried_mask(void **state)
{
    (void)state;
    struct balance bl;
    const char *s[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};
    for (unsigned algo = 0; algo < 4; algo++) {
        setup_n(&bl, algo, s, 3);
        int rev;
        assert_int_equal(balance_pick(&bl, NULL, 0x3, 1, &rev), 2);
        assert_int_equal(balance_pick(&bl, NULL, 0x7, 1, &rev), -1);
    }
}

static void test_parse(void **state)
{
    (void)state;
    struct balance bl;
    char err[200];
    balance_init(&bl, 0, 1);
    assert_int_equal(balance_add(&bl, "127.0.0.1:80,weight=5", err, sizeof(err)), 0);
    assert_int_equal(bl.b[0].weight, 5);
    assert_int_equal(balance_add(&bl, "[::1]:81", err, sizeof(err)), 0);
    assert_int_equal(balance_add(&bl, "127.0.0.1:80,weight=0", err, sizeof(err)), -EINVAL);
    assert_int_equal(balance_add(&bl, "127.0.0.1:80,wait=3", err, sizeof(err)), -EINVAL);
    assert_int_equal(balance_add(&bl, "127.0.0.1:99999", err, sizeof(err)), -EINVAL);
    assert_int_equal(balance_algo_parse("leastconn"), EPT_ALGO_LEASTCONN);
    assert_int_equal(balance_algo_parse("random2"), EPT_ALGO_RANDOM2);
    assert_int_equal(balance_algo_parse("fastest"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundrobin_even),
        cmocka_unit_test(test_roundrobin_weights),
        cmocka_unit_test(test_leastconn),
        cmocka_unit_test(test_weights_every_algorithm),
        cmocka_unit_test(test_hash_stable),
        cmocka_unit_test(test_random2_prefers_lighter),
        cmocka_unit_test(test_down_and_revive),
        cmocka_unit_test(test_all_down_still_picked),
        cmocka_unit_test(test_max_fails_window),
        cmocka_unit_test(test_tried_mask),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
