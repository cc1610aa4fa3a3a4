/* test_http.c - the HTTP pieces backend and load share: the body pattern, response and
 * request head parsing (whole, split at every byte, malformed), URL parsing, and load's
 * percentile rule. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "load.h"

/* ---- the pattern ---- */

static void test_pattern_known_values(void **state)
{
    (void)state;
    /* Pinned: backend and load of different builds must agree on these bytes. */
    static const char first[] = "bXK.kSiQkSSJxPL3J39FX9u0OU4WyCFQ";
    static const char at_1g[] = "u1G6yPHp7VK0j6EE";
    for (size_t i = 0; i < sizeof(first) - 1; i++)
        assert_int_equal(http_pattern_byte(i), (uint8_t)first[i]);
    for (size_t i = 0; i < sizeof(at_1g) - 1; i++)
        assert_int_equal(http_pattern_byte((1ull << 30) + i), (uint8_t)at_1g[i]);
}

static void test_pattern_printable_and_spread(void **state)
{
    (void)state;
    int seen[256] = {0};
    for (uint64_t i = 0; i < 100000; i++) {
        uint8_t b = http_pattern_byte(i);
        assert_true(b > 0x20 && b < 0x7f);
        seen[b]++;
    }
    int symbols = 0;
    for (int b = 0; b < 256; b++)
        if (seen[b]) {
            symbols++;
            /* 64 symbols over 100000 bytes: about 1562 each */
            assert_in_range(seen[b], 1200, 1950);
        }
    assert_int_equal(symbols, 64);
}

/* A chunk shifted by any k (a duplicated or dropped run of k bytes) must not look right:
 * bytes k apart agree only by chance (1 in 64). */
static void test_pattern_not_periodic(void **state)
{
    (void)state;
    enum { W = 4096 };
    uint64_t bases[] = {0, 13, 65536, (1ull << 30) - 7, 1ull << 40};
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        for (uint64_t k = 1; k <= 70000; k += k < 300 ? 1 : 997) {
            int same = 0;
            for (uint64_t i = 0; i < W; i++)
                same += http_pattern_byte(bases[b] + i) == http_pattern_byte(bases[b] + i + k);
            assert_in_range(same, 0, W / 64 * 2);
        }
    }
}

static void test_pattern_fill_and_check(void **state)
{
    (void)state;
    uint8_t buf[1000];
    uint64_t off = (1ull << 32) + 5;
    http_pattern_fill(buf, off, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], http_pattern_byte(off + i));
    assert_int_equal(http_pattern_check(buf, off, sizeof(buf)), sizeof(buf));
    assert_int_equal(http_pattern_check(buf, off, 0), 0);
    /* checked at the wrong offset: fails at once or nearly */
    assert_true(http_pattern_check(buf, off + 1, sizeof(buf)) < 8);
    buf[777] ^= 1;
    assert_int_equal(http_pattern_check(buf, off, sizeof(buf)), 777);
}

/* ---- response heads ---- */

static const char resp_ok[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: text/plain\r\n"
                              "content-length: 13\r\n"
                              "X-Backend: b1\r\n"
                              "X-Body:   pattern  \r\n"
                              "\r\n"
                              "Hello, world!";

static void test_response_whole(void **state)
{
    (void)state;
    struct http_resp r;
    int n = http_parse_response(resp_ok, sizeof(resp_ok) - 1, &r);
    assert_int_equal(n, (int)(strstr(resp_ok, "Hello") - resp_ok));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.content_length, 13);
    assert_false(r.close);
    assert_int_equal(r.body, HTTP_BODY_PATTERN);
    assert_string_equal(r.backend, "b1");
}

static void test_response_split_everywhere(void **state)
{
    (void)state;
    struct http_resp r;
    int head = (int)(strstr(resp_ok, "Hello") - resp_ok);
    for (int len = 0; len < head; len++)
        assert_int_equal(http_parse_response(resp_ok, (size_t)len, &r), 0);
    assert_int_equal(http_parse_response(resp_ok, (size_t)head, &r), head);
    assert_int_equal(r.content_length, 13);
}

static void test_response_connection(void **state)
{
    (void)state;
    struct http_resp r;
    const char *a = "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\n\r\n";
    assert_true(http_parse_response(a, strlen(a), &r) > 0);
    assert_true(r.close);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(r.body, HTTP_BODY_UNKNOWN);
    assert_string_equal(r.backend, "");
    assert_false(r.chunked);
    const char *t = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    assert_true(http_parse_response(t, strlen(t), &r) > 0);
    assert_true(r.chunked);
    const char *b = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_true(http_parse_response(b, strlen(b), &r) > 0);
    assert_true(r.close);
    assert_int_equal(r.status, 404);
    const char *c = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n";
    assert_true(http_parse_response(c, strlen(c), &r) > 0);
    assert_false(r.close);
    /* bare LF line ends and a status line without a reason */
    const char *d = "HTTP/1.1 204\nX-Body: text\n\n";
    assert_int_equal(http_parse_response(d, strlen(d), &r), (int)strlen(d));
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body, HTTP_BODY_TEXT);
}

static void test_response_long_backend_truncated(void **state)
{
    (void)state;
    char buf[512];
    char name[200];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nX-Backend: %s\r\n\r\n", name);
    struct http_resp r;
    assert_true(http_parse_response(buf, strlen(buf), &r) > 0);
    assert_int_equal(strlen(r.backend), HTTP_NAME_MAX - 1);
}

static void test_response_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : space before colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
    };
    struct http_resp r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = http_parse_response(bad[i], strlen(bad[i]), &r);
        if (rc != -EBADMSG)
            fail_msg("case %zu '%s': %d, expected -EBADMSG", i, bad[i], rc);
    }
    /* the same length twice is fine */
    const char *dup = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
    assert_true(http_parse_response(dup, strlen(dup), &r) > 0);
    assert_int_equal(r.content_length, 5);
}

static void test_response_too_big(void **state)
{
    (void)state;
    size_t n = HTTP_HEAD_MAX + 100;
    char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(buf + 24, 'a', n - 24);
    assert_int_equal(http_parse_response(buf, HTTP_HEAD_MAX - 1, &(struct http_resp){0}), 0);
    assert_int_equal(http_parse_response(buf, HTTP_HEAD_MAX, &(struct http_resp){0}), -E2BIG);
    assert_int_equal(http_parse_response(buf, n, &(struct http_resp){0}), -E2BIG);
    /* a head that ends only past the limit is too big too */
    memcpy(buf + HTTP_HEAD_MAX + 10, "\r\n\r\n", 4);
    assert_int_equal(http_parse_response(buf, n, &(struct http_resp){0}), -E2BIG);
    free(buf);
}

/* ---- request heads ---- */

static void test_request_basic(void **state)
{
    (void)state;
    struct http_req r;
    const char *a = "GET /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    int n = http_parse_request(a, strlen(a), &r);
    assert_int_equal(n, (int)(strstr(a, "\r\n\r\n") + 4 - a));
    assert_int_equal(r.minor, 1);
    assert_true(r.keep_alive);
    assert_int_equal(r.content_length, 0);
    for (int len = 0; len < n; len++)
        assert_int_equal(http_parse_request(a, (size_t)len, &r), 0);

    const char *b = "POST /p HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    assert_true(http_parse_request(b, strlen(b), &r) > 0);
    assert_int_equal(r.content_length, 5);
    assert_false(r.keep_alive);

    assert_false(r.head);
    const char *h = "HEAD / HTTP/1.1\r\n\r\n";
    assert_true(http_parse_request(h, strlen(h), &r) > 0);
    assert_true(r.head);

    const char *c = "GET / HTTP/1.0\r\n\r\n";
    assert_true(http_parse_request(c, strlen(c), &r) > 0);
    assert_false(r.keep_alive);
    const char *d = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_true(http_parse_request(d, strlen(d), &r) > 0);
    assert_true(r.keep_alive);

    /* a stray CR LF before the request line (after a body) is skipped and counted */
    const char *e = "\r\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(http_parse_request(e, strlen(e), &r), (int)strlen(e));
}

static void test_request_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GET\r\n\r\n",
        "GET / \r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "this is not http\r\n\r\n",
        "GET / HTTP/1.1\r\nBad header\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    };
    struct http_req r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = http_parse_request(bad[i], strlen(bad[i]), &r);
        if (rc != -EBADMSG)
            fail_msg("case %zu '%s': %d, expected -EBADMSG", i, bad[i], rc);
    }
    const char *te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(http_parse_request(te, strlen(te), &r), -ENOTSUP);
}

/* ---- URLs ---- */

static void test_url_good(void **state)
{
    (void)state;
    struct http_url u;
    char err[256];
    assert_int_equal(http_parse_url("http://127.0.0.1:8080/a/b?c", &u, err, sizeof(err)), 0);
    assert_string_equal(u.hostport, "127.0.0.1:8080");
    assert_string_equal(u.host, "127.0.0.1:8080");
    assert_string_equal(u.path, "/a/b?c");
    assert_int_equal(http_parse_url("HTTP://localhost", &u, err, sizeof(err)), 0);
    assert_string_equal(u.hostport, "localhost:80");
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.path, "/");
    assert_int_equal(http_parse_url("http://[::1]:9000/x#frag", &u, err, sizeof(err)), 0);
    assert_string_equal(u.hostport, "[::1]:9000");
    assert_string_equal(u.host, "[::1]:9000");
    assert_string_equal(u.path, "/x");
    assert_int_equal(http_parse_url("http://[::1]", &u, err, sizeof(err)), 0);
    assert_string_equal(u.hostport, "[::1]:80");
    assert_int_equal(http_parse_url("http://h:1?q=2", &u, err, sizeof(err)), 0);
    assert_string_equal(u.hostport, "h:1");
    assert_string_equal(u.path, "/?q=2");
}

static void test_url_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ftp://h/",        "http://",        "http:///x",     "http://:80/",   "http://h:0/",
        "http://h:65536/", "http://h:/",     "http://h:8x/",  "http://a:b:c/", "http://user@h/",
        "http://[::1/",    "http://[::1]x/", "http://[]:80/", "127.0.0.1:80",  "http://h/a b",
    };
    struct http_url u;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        if (http_parse_url(bad[i], &u, err, sizeof(err)) != -EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(err[0] != 0);
    }
}

/* ---- load's percentiles ---- */

static void test_percentile_nearest_rank(void **state)
{
    (void)state;
    uint32_t v[100];
    for (uint32_t i = 0; i < 100; i++)
        v[i] = i + 1;
    assert_int_equal(load_percentile(v, 100, 50), 50);
    assert_int_equal(load_percentile(v, 100, 90), 90);
    assert_int_equal(load_percentile(v, 100, 99), 99);
    assert_int_equal(load_percentile(v, 100, 100), 100);
    assert_int_equal(load_percentile(v, 1, 50), 1);
    assert_int_equal(load_percentile(v, 0, 50), 0);
    uint32_t w[] = {10, 20, 30};
    assert_int_equal(load_percentile(w, 3, 50), 20);
    assert_int_equal(load_percentile(w, 3, 99), 30);
    assert_int_equal(load_percentile(w, 3, 1), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_known_values),
        cmocka_unit_test(test_pattern_printable_and_spread),
        cmocka_unit_test(test_pattern_not_periodic),
        cmocka_unit_test(test_pattern_fill_and_check),
        cmocka_unit_test(test_response_whole),
        cmocka_unit_test(test_response_split_everywhere),
        cmocka_unit_test(test_response_connection),
        cmocka_unit_test(test_response_long_backend_truncated),
        cmocka_unit_test(test_response_bad),
        cmocka_unit_test(test_response_too_big),
        cmocka_unit_test(test_request_basic),
        cmocka_unit_test(test_request_bad),
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_percentile_nearest_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
