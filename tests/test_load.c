/* test_load.c - `epscope load`'s connection handling (src/load.c), driven through load_main
 * with one request on one connection, against the fake kernel of fakesys.h: each test is the
 * conversation of system calls it expects, and then what the summary says.
 *
 * The epoll set is fd 4 (made outside the script), the connection fd 5. The request asks
 * for http://127.0.0.1:9000/ with Connection: close, so the connection closes after it, and
 * --timeout is 1 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "fakesys.h" /* the fake kernel: struct fk, FK_SAY, fk_done, the __wrap_ calls */

#define REQUEST                                                                                   \
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUser-Agent: epscope-load/" EPSCOPE_VERSION         \
    "\r\nAccept: */*\r\nConnection: close\r\n\r\n"

struct lx {
    struct fk k;
    char out[1024]; /* what load printed on stdout */
};

static int setup(void **state)
{
    struct lx *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    fk_start(&x->k);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fk_stop();
    free(*state);
    return 0;
}

/* The connect, up to the request's first send. */
static void connecting(struct lx *x)
{
    const char *script[] = {
        "socket() = 5",       "connect(5) = EINPROGRESS",    "epoll_ctl(ADD, 5, OUT)",
        "epoll_wait = 5 OUT", "getsockopt(5, SO_ERROR) = 0",
    };
    FK_SAY(&x->k, script);
}

/* The whole request in one send, then waiting for the response. */
static void request_sent(struct lx *x)
{
    const char *script[] = {
        fk_line(&x->k, "send(5, <%zu bytes>) = %zu", strlen(REQUEST), strlen(REQUEST)),
        "epoll_ctl(MOD, 5, IN)",
    };
    connecting(x);
    FK_SAY(&x->k, script);
}

/* Run one request through the script; returns load's exit status, with its summary in
 * x->out. */
static int run(struct lx *x)
{
    char *argv[] = {"load", "http://127.0.0.1:9000/", "--requests", "1", "--timeout", "1000",
                    NULL};
    fflush(stdout);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    int rc = load_main(6, argv);
    fflush(stdout);
    dup2(saved, 1);
    __real_close(saved); /* a real descriptor, whatever number the fakes gave out meanwhile */
    rewind(tmp);
    size_t n = fread(x->out, 1, sizeof(x->out) - 1, tmp);
    x->out[n] = 0;
    fclose(tmp);
    fk_done(&x->k);
    return rc;
}

static void assert_says(const struct lx *x, const char *text)
{
    if (!strstr(x->out, text))
        fail_msg("load's summary does not say '%s':\n%s", text, x->out);
}

/* The response in one read: ok, and the connection closed. */
static void test_ok(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "epoll_wait = 5 IN",
        "read(5, 262144) = 40 \"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi\"",
        "close(5)",
        "close(4)",
    };
    request_sent(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 0);
    assert_says(x, "requests: 1 ok, 0 failed");
    assert_says(x, "bytes: 2 body bytes verified");
}

/* A short send of the request: the rest waits for EPOLLOUT, asked for until it is out. */
static void test_short_write(void **state)
{
    struct lx *x = *state;
    size_t n = strlen(REQUEST);
    const char *script[] = {
        fk_line(&x->k, "send(5, <%zu bytes>) = 20", n),
        fk_line(&x->k, "send(5, <%zu bytes>) = EAGAIN", n - 20),
        "epoll_ctl(MOD, 5, IN|OUT)",
        "epoll_wait = 5 OUT",
        fk_line(&x->k, "send(5, <%zu bytes>) = %zu", n - 20, n - 20),
        "epoll_ctl(MOD, 5, IN)",
        "epoll_wait = 5 IN",
        "read(5, 262144) = 40 \"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi\"",
        "close(5)",
        "close(4)",
    };
    connecting(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 0);
    assert_says(x, "requests: 1 ok, 0 failed");
    fk_assert_sent(&x->k, 5, REQUEST);
}

/* The response in pieces, the head cut in the middle, EAGAIN between them: the partial head
 * is kept for the next read, and the response checked whole. */
static void test_response_in_pieces(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "epoll_wait = 5 IN", "read(5, 262144) = 22 \"HTTP/1.1 200 OK\\r\\nConte\"",
        "epoll_wait = 5 IN", "read(5, 262144) = EAGAIN",
        "epoll_wait = 5 IN", "read(5, 262144) = 17 \"nt-Length: 2\\r\\n\\r\\nh\"",
        "epoll_wait = 5 IN", "read(5, 262144) = 1 \"i\"",
        "close(5)",          "close(4)",
    };
    request_sent(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 0);
    assert_says(x, "requests: 1 ok, 0 failed");
    assert_says(x, "bytes: 2 body bytes verified");
}

/* The server resets the connection: the request fails as "reset". */
static void test_peer_reset(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "epoll_wait = 5 IN|ERR|HUP",
        "read(5, 262144) = ECONNRESET",
        "close(5)",
        "close(4)",
    };
    request_sent(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 1);
    assert_says(x, "requests: 0 ok, 1 failed");
    assert_says(x, "failures: reset 1");
}

/* The server closes in the middle of the body: "closed", not ok. */
static void test_closed_in_body(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "epoll_wait = 5 IN",
        "read(5, 262144) = 39 \"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nh\"",
        "epoll_wait = 5 IN",
        "read(5, 262144) = 0",
        "close(5)",
        "close(4)",
    };
    request_sent(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 1);
    assert_says(x, "failures: closed 1");
}

/* A send that says EPIPE: the request fails as "reset", and nothing is read. */
static void test_send_epipe(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        fk_line(&x->k, "send(5, <%zu bytes>) = EPIPE", strlen(REQUEST)),
        "close(5)",
        "close(4)",
    };
    connecting(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 1);
    assert_says(x, "failures: reset 1");
}

/* No response within --timeout: the request fails as "timeout", the connection closed. */
static void test_timeout(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "epoll_wait(1000) = timeout",
        "close(5)",
        "close(4)",
    };
    request_sent(x);
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 1);
    assert_says(x, "failures: timeout 1");
}

/* A refused connect: the request fails as "connect". */
static void test_connect_refused(void **state)
{
    struct lx *x = *state;
    const char *script[] = {
        "socket() = 5",
        "connect(5) = EINPROGRESS",
        "epoll_ctl(ADD, 5, OUT)",
        "epoll_wait = 5 OUT|ERR|HUP",
        "getsockopt(5, SO_ERROR) = ECONNREFUSED",
        "close(5)",
        "close(4)",
    };
    FK_SAY(&x->k, script);
    assert_int_equal(run(x), 1);
    assert_says(x, "failures: connect 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_in_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_epipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
