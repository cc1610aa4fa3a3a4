/* test_backend.c - `epscope backend`'s connection handling (src/backend.c), driven through its
 * real loop, backend_run, against the fake kernel of fakesys.h: each test is the
 * conversation of system calls it expects. The backend is level-triggered, reads once an
 * event, and answers every request with the same response.
 *
 * The listener is fd 4 (socket() in the script); the signalfd 5, the epoll set 6 and the
 * spare descriptor (/dev/null) 7 are made outside the script; the client is fd 8. The body
 * is "hi" and the name "b1", so a response is RESPONSE (95 bytes), or CLOSING (114) when the
 * connection ends with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#include "fakesys.h" /* the fake kernel: struct fk, FK_SAY, fk_done, the __wrap_ calls */

#define RESPONSE                                                                                  \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Backend: b1\r\n"       \
    "X-Body: text\r\n\r\nhi"
#define CLOSING                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Backend: b1\r\n"       \
    "X-Body: text\r\nConnection: close\r\n\r\nhi"

/* A fake kernel whose script starts with the backend setting up and accepting fd 8. */
static int setup(void **state)
{
    struct fk *k = calloc(1, sizeof(*k));
    if (!k)
        return -1;
    fk_start(k);
    *state = k;
    const char *script[] = {
        "socket() = 4",   "epoll_ctl(ADD, 4, IN)", "epoll_ctl(ADD, 5, IN)", "epoll_wait = 4 IN",
        "accept4(4) = 8", "epoll_ctl(ADD, 8, IN)", "accept4(4) = EAGAIN",
    };
    FK_SAY(k, script);
    return 0;
}

static int teardown(void **state)
{
    fk_stop();
    free(*state);
    return 0;
}

/* Run the backend through the script; then every descriptor must be closed, each exactly
 * once. */
static void run(struct fk *k)
{
    const struct backend_opts o = {.listen = "127.0.0.1:0",
                                   .name = "b1",
                                   .text = "hi",
                                   .text_len = 2};
    assert_int_equal(backend_run(&o), 0);
    fk_done(k);
}

/* A short write of a response: the rest is sent on EPOLLOUT, which is asked for while it
 * waits and dropped after. */
static void test_short_write(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",        "read(8, 16384) = 18 \"GET / HTTP/1.1\\r\\n\\r\\n\"",
        "send(8, <95 bytes>) = 40", "epoll_ctl(MOD, 8, IN|OUT)",
        "epoll_wait = 8 OUT",       "send(8, <55 bytes>) = 55",
        "epoll_ctl(MOD, 8, IN)",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, RESPONSE);
}

/* Two pipelined requests, their responses in one send, cut short in the middle of the
 * first: both are sent whole, in order. */
static void test_short_write_pipelined(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",
        "read(8, 16384) = 36 \"GET / HTTP/1.1\\r\\n\\r\\nGET / HTTP/1.1\\r\\n\\r\\n\"",
        "send(8, <190 bytes>) = 50",
        "epoll_ctl(MOD, 8, IN|OUT)",
        "epoll_wait = 8 OUT",
        "send(8, <140 bytes>) = EAGAIN",
        "epoll_wait = 8 OUT",
        "send(8, <140 bytes>) = 140",
        "epoll_ctl(MOD, 8, IN)",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, RESPONSE RESPONSE);
}

/* A request cut in two by EAGAIN: nothing is answered until its end comes, and a spurious
 * wakeup (EAGAIN) changes nothing. */
static void test_eagain_mid_request(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",        "read(8, 16384) = 8 \"GET / HT\"",
        "epoll_wait = 8 IN",        "read(8, 16376) = EAGAIN",
        "epoll_wait = 8 IN",        "read(8, 16376) = 10 \"TP/1.1\\r\\n\\r\\n\"",
        "send(8, <95 bytes>) = 95",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, RESPONSE);
}

/* The client's FIN while a response waits for room: the rest is still sent, then the
 * connection is closed, once. */
static void test_eof_while_sending(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",        "read(8, 16384) = 18 \"GET / HTTP/1.1\\r\\n\\r\\n\"",
        "send(8, <95 bytes>) = 40", "epoll_ctl(MOD, 8, IN|OUT)",
        "epoll_wait = 8 IN|OUT",    "read(8, 16384) = 0",
        "send(8, <55 bytes>) = 55", "close(8)",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, RESPONSE);
}

/* Connection: close: the response, then our FIN (shutdown), then the client's input is read
 * and dropped until its FIN, so that unread input does not turn the close into an RST. */
static void test_close_lingers(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",
        "read(8, 16384) = 37 \"GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n\"",
        "send(8, <114 bytes>) = 114",
        "shutdown(8, SHUT_WR)",
        "epoll_wait = 8 IN",
        "read(8, 65536) = 5 \"extra\"",
        "epoll_wait = 8 IN",
        "read(8, 65536) = 0",
        "close(8)",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, CLOSING);
}

/* A client that never sends its FIN after a closing response: the lingering ends after 2 s
 * (the backend's wait says so), and the connection is closed. */
static void test_linger_times_out(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",
        "read(8, 16384) = 37 \"GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n\"",
        "send(8, <114 bytes>) = 114",
        "shutdown(8, SHUT_WR)",
        "epoll_wait(2000) = timeout",
        "close(8)",
    };
    FK_SAY(k, script);
    run(k);
    fk_assert_sent(k, 8, CLOSING);
}

/* The peer resets: a read that says ECONNRESET, or a send that says EPIPE, closes the
 * connection, once, and the backend goes on. */
static void test_peer_reset_on_read(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN|ERR|HUP",
        "read(8, 16384) = ECONNRESET",
        "close(8)",
    };
    FK_SAY(k, script);
    run(k);
}

static void test_peer_reset_on_send(void **state)
{
    struct fk *k = *state;
    const char *script[] = {
        "epoll_wait = 8 IN",           "read(8, 16384) = 18 \"GET / HTTP/1.1\\r\\n\\r\\n\"",
        "send(8, <95 bytes>) = EPIPE", "close(8)",
        "epoll_wait = 4 IN",           "accept4(4) = 8",
        "epoll_ctl(ADD, 8, IN)",       "accept4(4) = EAGAIN",
    };
    FK_SAY(k, script);
    run(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eagain_mid_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_while_sending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_lingers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linger_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_reset_on_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_reset_on_send, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
