/* test_rules.c - every diagnosis from system calls alone: for each rule, the mistake as a
 * recorded program's calls (no handle records, no connection ids, no roles, no mode) makes
 * exactly its finding, and the correct programs next to it make none, including the
 * patterns of real servers (nginx, HAProxy, redis). Then every lesson trace in traces/,
 * stripped of the proxy's annotations, still yields its ids from traces/lessons.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "replay.h"
#include "strip.h"
#include "tb.h"

#define MS 1000000ull
#define ET_ALL (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define OS_IN (EPOLLIN | EPOLLRDHUP | EPOLLET | EPOLLONESHOT)
#define OS_OUT (EPOLLOUT | EPOLLET | EPOLLONESHOT)
#define LT_IN (EPOLLIN | EPOLLRDHUP)

enum { EP = 3, L = 4, C = 5, K = 6 }; /* epoll fd, listener, a client, its backend */

struct rfx {
    struct fx *tmp;
    char path[PATH_MAX + 64];
    struct tb b;
    struct replay *r;
    unsigned n;
};

static int setup(void **state)
{
    struct rfx *f = calloc(1, sizeof(*f));
    void *tmp;
    if (!f || fx_setup(&tmp) != 0) {
        free(f);
        return -1;
    }
    f->tmp = tmp;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct rfx *f = *state;
    replay_close(f->r);
    void *tmp = f->tmp;
    free(f);
    return fx_teardown(&tmp);
}

/* A new trace: an epoll set, a level-triggered listener, one client accepted and its
 * backend connecting, registered with cev and kev (0: not registered). */
static struct tb *begin(struct rfx *f, uint32_t cev, uint32_t kev)
{
    snprintf(f->path, sizeof(f->path), "%s/t%u.ept", f->tmp->dir, f->n++);
    unlink(f->path);
    assert_int_equal(tb_open(&f->b, f->path), 0);
    struct tb *b = &f->b;
    tb_epoll_create(b, EP);
    tb_listener(b, L);
    tb_ctl(b, EP, EPOLL_CTL_ADD, L, EPOLLIN);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, C);
    tb_accept(b, L, -EAGAIN);
    if (cev)
        tb_ctl(b, EP, EPOLL_CTL_ADD, C, cev);
    tb_connect(b, K, -EINPROGRESS);
    if (kev)
        tb_ctl(b, EP, EPOLL_CTL_ADD, K, kev);
    return b;
}

/* Seal the trace, open it, and count the findings of one rule (all of them in *total). */
static size_t finish(struct rfx *f, unsigned rule, size_t *total)
{
    char err[200];
    assert_int_equal(tb_end(&f->b), 0);
    replay_close(f->r);
    f->r = NULL;
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
    const struct finding *fs;
    size_t n = replay_findings(f->r, &fs), k = 0;
    for (size_t i = 0; i < n; i++) {
        k += fs[i].rule == rule;
        if (fs[i].rule != rule)
            fprintf(stderr, "  (also %s at %llu: %s)\n", rule_name(fs[i].rule),
                    (unsigned long long)fs[i].first, fs[i].what);
    }
    if (total)
        *total = n;
    return k;
}

/* --- mis-trigger ------------------------------------------------------------------------ */

static void test_mistrigger(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* the origin: the backend's EOF reported (level), read() finds nothing, and an empty
     * buffer is forwarded in place of the response */
    struct tb *b = begin(f, OS_IN, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 60);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_OUT);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, K, 0, EPOLLIN | EPOLLRDHUP, 0);
    tb_ready_sid(b, C, 0, EPOLLOUT, 1);
    tb_read(b, K, 16384, 0);
    tb_write(b, C, 0, 0);
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 1);
    assert_int_equal(all, 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].fd, K);
    /* the same with EAGAIN, and the old response written again instead of nothing */
    b = begin(f, OS_IN, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 60);
    tb_write(b, C, 60, 60);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, -EAGAIN);
    tb_write(b, C, 60, 60);
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 1);
    /* correct: the EOF is passed on with shutdown, not forwarded as data */
    b = begin(f, OS_IN, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 60);
    tb_write(b, C, 60, 60);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP);
    tb_read(b, K, 16384, 0);
    tb_shutdown(b, C, SHUT_WR);
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 0);
    assert_int_equal(all, 0);
    /* correct: edge-triggered, read to EAGAIN, then forward what was read */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 80);
    tb_read(b, C, 16384, -EAGAIN);
    tb_write(b, K, 80, 80);
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 0);
    assert_int_equal(all, 0);
    /* correct: keep-alive, the same response to the same client each time, each one read
     * fresh from the backend */
    b = begin(f, LT_IN, LT_IN);
    for (int i = 0; i < 3; i++) {
        tb_wait1(b, EP, C, EPOLLIN);
        tb_read(b, C, 16384, 18);
        tb_write(b, K, 18, 18);
        tb_wait1(b, EP, K, EPOLLIN);
        tb_read(b, K, 16384, 17);
        tb_write(b, C, 17, 17);
        tb_read(b, K, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 0);
    assert_int_equal(all, 0);
}

/* Two connections make the mistake in one batch: each finding pairs a backend's empty read
 * with the write to its own client, never to the other connection's (the batch's last
 * empty read is not the one every write follows). */
static void test_mistrigger_two_connections(void **state)
{
    struct rfx *f = *state;
    size_t all;
    enum { C2 = 7, K2 = 8 };
    struct tb *b = begin(f, OS_IN, LT_IN);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, C2);
    tb_accept(b, L, -EAGAIN);
    tb_ctl(b, EP, EPOLL_CTL_ADD, C2, OS_IN);
    tb_connect(b, K2, -EINPROGRESS);
    tb_ctl(b, EP, EPOLL_CTL_ADD, K2, LT_IN);
    /* the data flow pairs each backend with its client */
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 60);
    tb_write(b, C, 60, 60);
    tb_wait1(b, EP, K2, EPOLLIN);
    tb_read(b, K2, 16384, 60);
    tb_write(b, C2, 60, 60);
    /* both backends' EOFs in one batch, both read as nothing, both forwarded as data */
    tb_wait(b, EP, 2);
    tb_ready_sid(b, K, 0, EPOLLIN | EPOLLRDHUP, 0);
    tb_ready_sid(b, K2, 0, EPOLLIN | EPOLLRDHUP, 1);
    tb_read(b, K, 16384, 0);
    tb_read(b, K2, 16384, 0);
    tb_write(b, C, 0, 0);
    tb_write(b, C2, 0, 0);
    assert_int_equal(finish(f, RULE_MISTRIGGER, &all), 2);
    assert_int_equal(all, 2);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        int from = fs[i].fd, to = from == K ? C : C2;
        char want[40];
        snprintf(want, sizeof(want), "to fd %d as if", to);
        assert_true(from == K || from == K2);
        assert_non_null(strstr(fs[i].what, want));
        assert_true(fs[i].last > fs[i].first);
        seen |= from == K ? 1 : 2;
    }
    assert_int_equal(seen, 3);
}

/* A mis-trigger found on a write is the first word about its read socket, whose note is
 * then made: when that moves every note (their array grows), the writer's note held across
 * it must be looked up again (ASan saw a write to the freed array). Around the array's
 * growth, whatever number of notes the prelude made. */
static void test_mistrigger_note_moves(void **state)
{
    struct rfx *f = *state;
    for (int extra = 0; extra < 16; extra++) {
        struct tb *b = begin(f, OS_IN, LT_IN);
        for (int i = 0; i < 248 + extra; i++) { /* a note each: a write */
            tb_socket(b, 100 + i);
            tb_write(b, 100 + i, 1, 1);
        }
        tb_wait1(b, EP, K, EPOLLIN);
        tb_read(b, K, 16384, 0);
        tb_write(b, C, 0, 0);
        tb_write(b, C, 5, 5); /* the writer's note, after the report */
        assert_int_equal(finish(f, RULE_MISTRIGGER, NULL), 1);
    }
}

/* --- edge-starvation -------------------------------------------------------------------- */

static void test_edge_starvation(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* one read filled the buffer, it was forwarded, the thread went back to wait, and
     * nothing read the rest */
    struct tb *b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 1);
    assert_int_equal(all, 1);
    /* the same, judged when the program closes it after the stall */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_wait(b, EP, 0);
    tb_sleep(b, 500 * MS);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 1);
    /* correct: read on to EAGAIN */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_read(b, K, 16384, -EAGAIN);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: a short read means the socket was emptied */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 700);
    tb_write(b, C, 700, 700);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: stopped because the client would not take more (backpressure), read again
     * once it did */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 1000);
    tb_sleep(b, 800 * MS);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 15384, 15384);
    tb_read(b, K, 16384, -EAGAIN);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: an echo server stops reading when its own answer does not fit (the socket's
     * send buffer is full: EAGAIN), and reads again once EPOLLOUT says there is room */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 1024, 1024);
    tb_write(b, C, 1024, -EAGAIN);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
    tb_write(b, C, 1024, 1024);
    tb_read(b, C, 1024, -EAGAIN);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: remembered as readable, read again without an event */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_read(b, K, 16384, 100);
    tb_write(b, C, 100, 100);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: the program closed it at once (it had what it wanted) */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_close(b, K);
    tb_close(b, C);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* correct: EPOLL_CTL_MOD polls it again, so a readable socket is reported again */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, ET_ALL);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    /* level-triggered: one full read per event is right, the kernel reports it again */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_sleep(b, 300 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_EDGE_STARVATION, &all), 0);
    assert_int_equal(all, 0);
}

/* --- oneshot-not-rearmed --------------------------------------------------------------- */

/* An edge-oneshot proxy's connection up to the response: the backend connected (EPOLLOUT,
 * re-armed for input), the client's request read to EAGAIN and forwarded, the client
 * re-armed. */
static struct tb *begin_request(struct rfx *f)
{
    struct tb *b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, K, 40, 40);
    tb_read(b, C, 16384, -EAGAIN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    return b;
}

static void test_oneshot_not_rearmed(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* both sockets fired and neither was re-armed: the connection stalls */
    struct tb *b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, K, 40, 40);
    tb_sleep(b, 500 * MS);
    tb_wait(b, EP, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 2);
    assert_int_equal(all, 2);
    /* the backend fired, its response was forwarded, and it was left disarmed while the
     * client (armed) waited: its end of file waited unreported until the client gave up
     * and a read of the backend found it there at once (it is non-blocking: EAGAIN) */
    b = begin_request(f);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 24);
    tb_write(b, C, 24, 24);
    tb_read(b, K, 16384, -EAGAIN);
    tb_sleep(b, 1000 * MS);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 0);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 1);
    assert_int_equal(all, 1);
    /* correct: a worker thread takes its time with a request (the socket disarmed, nothing
     * done on it for a second), answers, and closes the connection */
    b = begin(f, OS_IN, 0);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_read(b, C, 16384, -EAGAIN);
    tb_wait(b, EP, 0);
    tb_sleep(b, 1000 * MS);
    tb_thread(b, 200);
    tb_write(b, C, 60, 60);
    tb_close(b, C);
    tb_thread(b, 100);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: a thread-pool server reads a one-shot socket with blocking reads between
     * re-arms (never EAGAIN): a read that returns long after is no evidence */
    b = begin(f, EPOLLIN | EPOLLONESHOT, 0);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, C, 40, 40);
    tb_sleep(b, 1000 * MS);
    tb_read(b, C, 16384, 40);
    tb_write(b, C, 40, 40);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, EPOLLIN | EPOLLONESHOT);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: a proxy holds a backend back while its client is slow: the client's write
     * came back short, the backend is read for exactly the room left (a full read: more
     * waits) and left disarmed; two seconds on, the client drained (EPOLLOUT), the backend
     * is read again, finding what waited all along, and re-armed */
    b = begin_request(f);
    tb_wait1(b, EP, K, EPOLLIN); /* the response's first part, drained (EAGAIN) */
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 16384);
    tb_read(b, K, 16384, -EAGAIN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 14953);
    tb_read(b, K, 14953, 14953);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_OUT);
    tb_sleep(b, 2000 * MS);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 16384, 16384);
    tb_read(b, K, 16384, 16384);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    assert_int_equal(all, 0);
    /* correct: re-armed after every event */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, K, 40, 40);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    tb_sleep(b, 500 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: the client is left disarmed while the program waits for a slow backend
     * (armed), then re-armed for the response */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, K, 40, 40);
    tb_sleep(b, 2000 * MS);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 60);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_OUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 60, 60);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: left disarmed at end of file: it waits for nothing more */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 0);
    tb_sleep(b, 500 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: the request and the client's FIN in one report; a short read took the last
     * bytes, and the handler passed the end on to the backend (shutdown) with no read
     * returning 0: the client has nothing more to report while the backend is slow to
     * close, answering nothing */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 18);
    tb_write(b, K, 18, 18);
    tb_shutdown(b, K, SHUT_WR);
    tb_sleep(b, 600 * MS);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: the same, with the backend's connect completing in the same batch: the
     * bytes and the end go out in the handling of the backend's event */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait(b, EP, 2);
    tb_ready(b, C, EPOLLIN | EPOLLRDHUP);
    tb_ready(b, K, EPOLLOUT);
    tb_read(b, C, 16384, 18);
    tb_write(b, K, 18, 18);
    tb_shutdown(b, K, SHUT_WR);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_sleep(b, 600 * MS);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: the end of a big answer and the backend's FIN in one report, to a slow
     * client: the end is passed on in the handling of the client's EPOLLOUT, a batch
     * later, after another connection's read (the pair is the one the data flow made) */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 40);
    tb_write(b, K, 40, 40);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP);
    tb_read(b, K, 16384, 9000);
    tb_write(b, C, 9000, 4000);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN | EPOLLOUT);
    tb_sleep(b, 600 * MS);
    tb_socket(b, 30);
    tb_ctl(b, EP, EPOLL_CTL_ADD, 30, EPOLLIN);
    tb_wait1(b, EP, 30, EPOLLIN);
    tb_read(b, 30, 16384, 10);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 5000, 5000);
    tb_shutdown(b, C, SHUT_WR);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, OS_IN);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    /* the same short read after EPOLLRDHUP, but the handler passed nothing on: the program
     * waits for a read to return 0, which no event will bring; a short read alone is not
     * knowing the end */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 18);
    tb_write(b, K, 18, 18);
    tb_sleep(b, 600 * MS);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 1);
    assert_int_equal(all, 1);
    /* nor is a shutdown after a full read (more may wait) */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, OS_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 16384);
    tb_write(b, K, 16384, 16384);
    tb_shutdown(b, K, SHUT_WR);
    tb_sleep(b, 600 * MS);
    tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 1);
    /* correct: closed soon after it fired */
    b = begin(f, OS_IN, OS_OUT);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, -ECONNRESET);
    tb_close(b, C);
    tb_close(b, K);
    tb_sleep(b, 500 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ONESHOT_NOT_REARMED, &all), 0);
    assert_int_equal(all, 0);
}

/* --- busy-epollout ---------------------------------------------------------------------- */

static void test_busy_epollout(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct tb *b = begin(f, LT_IN | EPOLLOUT, LT_IN);
    for (int i = 0; i < 3; i++)
        tb_wait1(b, EP, C, EPOLLOUT);
    assert_int_equal(finish(f, RULE_BUSY_EPOLLOUT, &all), 1);
    assert_int_equal(all, 1);
    /* its words tell the longest run, not the 3 that made it a finding: 4, a write, 40 */
    b = begin(f, LT_IN | EPOLLOUT, LT_IN);
    for (int i = 0; i < 4; i++)
        tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 100, 100);
    for (int i = 0; i < 40; i++)
        tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 100, 100);
    for (int i = 0; i < 5; i++)
        tb_wait1(b, EP, C, EPOLLOUT);
    assert_int_equal(finish(f, RULE_BUSY_EPOLLOUT, &all), 1);
    const struct finding *fs;
    assert_int_equal(replay_findings(f->r, &fs), 1);
    assert_non_null(strstr(fs[0].what, " 40 times in a row "));
    assert_int_equal(fs[0].count, 2 + 38 + 3); /* each report from the third of a run on */
    /* twice is not a pattern (an event queued before EPOLLOUT was removed) */
    b = begin(f, LT_IN | EPOLLOUT, LT_IN);
    for (int i = 0; i < 2; i++)
        tb_wait1(b, EP, C, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 10);
    assert_int_equal(finish(f, RULE_BUSY_EPOLLOUT, &all), 0);
    /* correct: a slow client, every EPOLLOUT writes what is pending */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 16384);
    tb_write(b, C, 16384, 4000);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, LT_IN | EPOLLOUT);
    for (int i = 0; i < 4; i++) {
        tb_wait1(b, EP, C, EPOLLOUT);
        tb_write(b, C, 12384 - 3000 * (uint32_t)i, 3000);
    }
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, LT_IN);
    assert_int_equal(finish(f, RULE_BUSY_EPOLLOUT, &all), 0);
    /* correct: EPOLLOUT that completes a connect (HAProxy modifies on every connect) */
    b = begin(f, LT_IN, EPOLLOUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, LT_IN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 5);
    /* edge-triggered EPOLLOUT riding along with every EPOLLIN: not a loop */
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, ET_ALL);
    for (int i = 0; i < 4; i++) {
        tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
        tb_read(b, C, 16384, 10);
        tb_read(b, C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_BUSY_EPOLLOUT, &all), 0);
    assert_int_equal(all, 0);
}

/* --- eof-spin --------------------------------------------------------------------------- */

static void test_eof_spin(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    for (int i = 0; i < 3; i++) {
        tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
        tb_read(b, C, 16384, 0);
    }
    assert_int_equal(finish(f, RULE_EOF_SPIN, &all), 1);
    assert_int_equal(all, 1);
    /* correct: EPOLLIN removed at end of file, the EOF passed on */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    tb_shutdown(b, K, SHUT_WR);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, 0);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 10);
    tb_write(b, C, 10, 10);
    assert_int_equal(finish(f, RULE_EOF_SPIN, &all), 0);
    /* a number reused by a new socket does not inherit the old one's end of file */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    tb_close(b, C);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, C);
    tb_ctl(b, EP, EPOLL_CTL_ADD, C, LT_IN);
    for (int i = 0; i < 4; i++) {
        tb_wait1(b, EP, C, EPOLLIN);
        tb_read(b, C, 16384, 100);
    }
    assert_int_equal(finish(f, RULE_EOF_SPIN, &all), 0);
    assert_int_equal(all, 0);
}

/* --- closed-fd-still-registered ------------------------------------------------------- */

static void test_closed_fd(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* the client has a second number; the registered one is closed with no DEL: the next
     * events name a closed number */
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_dup2(b, C, 9);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    uint32_t sid = tb_sock(b, C).sid;
    tb_close(b, C);
    for (int i = 0; i < 3; i++) {
        tb_wait(b, EP, 1);
        tb_ready_sid(b, C, sid, EPOLLIN | EPOLLRDHUP | EPOLLHUP, 0);
    }
    assert_int_equal(finish(f, RULE_CLOSED_FD, &all), 1);
    assert_int_equal(all, 1); /* and not eof-spin: the program cannot change it any more */
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].fd, C);
    /* correct: DEL before close, or no second number: nothing more comes */
    b = begin(f, LT_IN, LT_IN);
    tb_dup2(b, C, 9);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    tb_ctl(b, EP, EPOLL_CTL_DEL, C, 0);
    tb_close(b, C);
    tb_close(b, 9);
    tb_wait1(b, EP, K, EPOLLIN);
    assert_int_equal(finish(f, RULE_CLOSED_FD, &all), 0);
    assert_int_equal(all, 0);
    /* the number reused by a new socket: its events are its own, not the old file's */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 0);
    tb_close(b, C);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, C);
    tb_ctl(b, EP, EPOLL_CTL_ADD, C, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 10);
    assert_int_equal(finish(f, RULE_CLOSED_FD, &all), 0);
}

/* --- rdhup-data-loss ------------------------------------------------------------------- */

static void test_rdhup_loss(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* the request and the FIN in one event, closed at once with the request unread */
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_close_unread(b, C, 104);
    assert_int_equal(finish(f, RULE_RDHUP_LOSS, &all), 1);
    assert_int_equal(all, 1);
    /* correct: read to the end of file, then close (nothing left unread) */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_read(b, C, 16384, 104);
    tb_read(b, C, 16384, 0);
    tb_close_unread(b, C, 0);
    assert_int_equal(finish(f, RULE_RDHUP_LOSS, &all), 0);
    /* read, then closed because the peer is gone (writing back failed): bytes left on
     * purpose, not lost by mistake */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    tb_read(b, C, 1024, 1024);
    tb_write(b, C, 1024, -EPIPE);
    tb_close_unread(b, C, 4096);
    assert_int_equal(finish(f, RULE_RDHUP_LOSS, &all), 0);
    /* closed with unread bytes but no EPOLLRDHUP ever reported: not this rule */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN);
    tb_close_unread(b, C, 50);
    assert_int_equal(finish(f, RULE_RDHUP_LOSS, &all), 0);
    /* an older trace: no unread figure at all */
    b = begin(f, LT_IN, LT_IN);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLRDHUP);
    tb_close(b, C);
    assert_int_equal(finish(f, RULE_RDHUP_LOSS, &all), 0);
}

/* --- lost-out-edge ------------------------------------------------------------------------ */

static void test_lost_out_edge(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* a write to the client came back short; the EPOLLOUT that says there is room again
     * comes with EPOLLIN, and the handler only reads */
    struct tb *b = begin(f, ET_ALL, ET_ALL);
    tb_write(b, C, 16384, 1000);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
    tb_read(b, C, 16384, 100);
    tb_wait(b, EP, 0);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, K, EPOLLIN);
    assert_int_equal(finish(f, RULE_LOST_OUT_EDGE, &all), 1);
    assert_int_equal(all, 1);
    /* correct: the pending write goes out on that event */
    b = begin(f, ET_ALL, ET_ALL);
    tb_write(b, C, 16384, 1000);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
    tb_read(b, C, 16384, 100);
    tb_write(b, C, 15384, 15384);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, K, EPOLLIN);
    assert_int_equal(finish(f, RULE_LOST_OUT_EDGE, &all), 0);
    assert_int_equal(all, 0);
    /* level-triggered: an EPOLLOUT ignored once comes again; not this rule */
    b = begin(f, LT_IN | EPOLLOUT, LT_IN);
    tb_write(b, C, 16384, 1000);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
    tb_read(b, C, 16384, 100);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, K, EPOLLIN);
    assert_int_equal(finish(f, RULE_LOST_OUT_EDGE, &all), 0);
    /* nothing was waiting to be written: an EPOLLOUT with nothing to do is no loss */
    b = begin(f, ET_ALL, ET_ALL);
    tb_write(b, C, 100, 100);
    tb_wait1(b, EP, C, EPOLLIN | EPOLLOUT);
    tb_read(b, C, 16384, 100);
    tb_sleep(b, 300 * MS);
    tb_wait1(b, EP, K, EPOLLIN);
    assert_int_equal(finish(f, RULE_LOST_OUT_EDGE, &all), 0);
}

/* --- edge-hog ------------------------------------------------------------------------------ */

static void test_edge_hog(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* the backend read full 64 times in one event's handling while the client's event of
     * the same batch waited */
    struct tb *b = begin(f, ET_ALL, ET_ALL);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, K, 0, EPOLLIN, 0);
    tb_ready_sid(b, C, 0, EPOLLIN, 1);
    for (int i = 0; i < RULE_HOG_READS + 10; i++) {
        tb_read(b, K, 16384, 16384);
        tb_write(b, C, 16384, 16384);
    }
    tb_read(b, C, 16384, 10);
    assert_int_equal(finish(f, RULE_EDGE_HOG, &all), 1);
    assert_int_equal(all, 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].count, 1); /* one event handled so, not one per read */
    /* correct: a budget of 16 reads, then the other event, then the backend again */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, K, 0, EPOLLIN, 0);
    tb_ready_sid(b, C, 0, EPOLLIN, 1);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 16; i++) {
            tb_read(b, K, 16384, 16384);
            tb_write(b, C, 16384, 16384);
        }
        tb_read(b, C, 16384, -EAGAIN);
        tb_wait(b, EP, 0);
    }
    assert_int_equal(finish(f, RULE_EDGE_HOG, &all), 0);
    /* draining what one event brought, in small reads, is no hog: 64 KiB is not a lot */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, C, 0, EPOLLIN, 0);
    tb_ready_sid(b, K, 0, EPOLLIN, 1);
    for (int i = 0; i < RULE_HOG_READS + 10; i++) {
        tb_read(b, C, 1024, 1024);
        tb_write(b, C, 1024, 1024);
    }
    tb_read(b, C, 1024, -EAGAIN);
    assert_int_equal(finish(f, RULE_EDGE_HOG, &all), 0);
    /* alone in its batch: nobody waited */
    b = begin(f, ET_ALL, ET_ALL);
    tb_wait1(b, EP, K, EPOLLIN);
    for (int i = 0; i < RULE_HOG_READS + 10; i++) {
        tb_read(b, K, 16384, 16384);
        tb_write(b, C, 16384, 16384);
    }
    assert_int_equal(finish(f, RULE_EDGE_HOG, &all), 0);
}

/* --- accept-starvation ------------------------------------------------------------------ */

static void test_accept_starvation(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* edge-triggered listener, one accept per event, the next wait does not report it */
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, L, EPOLLIN | EPOLLET);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, 7);
    tb_ctl(b, EP, EPOLL_CTL_ADD, 7, LT_IN);
    tb_wait1(b, EP, 7, EPOLLIN);
    tb_read(b, 7, 16384, 18);
    assert_int_equal(finish(f, RULE_ACCEPT_STARVATION, &all), 1);
    assert_int_equal(all, 1);
    /* correct: accept until EAGAIN */
    b = begin(f, LT_IN, LT_IN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, L, EPOLLIN | EPOLLET);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, 7);
    tb_accept(b, L, 8);
    tb_accept(b, L, -EAGAIN);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ACCEPT_STARVATION, &all), 0);
    /* one accept per event, but the very next wait reports the listener again (a new
     * arrival, a new edge) and that handler accepts until EAGAIN: nothing was starved */
    b = begin(f, LT_IN, LT_IN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, L, EPOLLIN | EPOLLET);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, 7);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, 8);
    tb_accept(b, L, -EAGAIN);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ACCEPT_STARVATION, &all), 0);
    /* correct: out of fds, it could not accept (the program must back off, not spin) */
    b = begin(f, LT_IN, LT_IN);
    tb_ctl(b, EP, EPOLL_CTL_MOD, L, EPOLLIN | EPOLLET);
    tb_wait1(b, EP, L, EPOLLIN);
    tb_accept(b, L, 7);
    tb_accept(b, L, -EMFILE);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ACCEPT_STARVATION, &all), 0);
    /* a level-triggered listener may accept one per event: the kernel reports it again
     * (nginx with multi_accept off) */
    b = begin(f, LT_IN, LT_IN);
    for (int i = 0; i < 3; i++) {
        tb_wait1(b, EP, L, EPOLLIN);
        tb_accept(b, L, 7 + i);
    }
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_ACCEPT_STARVATION, &all), 0);
    assert_int_equal(all, 0);
}

/* --- stale-event ------------------------------------------------------------------------ */

static void test_stale_event(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* a batch of two: the first handler closes both sockets, then the second event's
     * handler reads its closed number */
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, C, 0, EPOLLIN, 0);
    tb_ready_sid(b, K, 0, EPOLLIN, 1);
    tb_read(b, C, 16384, -ECONNRESET);
    tb_close(b, C);
    tb_close(b, K);
    tb_io(b, EPT_READ, K, 16384, -EBADF, NULL);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 1);
    assert_int_equal(all, 1);
    /* correct: the second event is skipped */
    b = begin(f, LT_IN, LT_IN);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, C, 0, EPOLLIN, 0);
    tb_ready_sid(b, K, 0, EPOLLIN, 1);
    tb_read(b, C, 16384, -ECONNRESET);
    tb_close(b, C);
    tb_close(b, K);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 0);
    /* correct: a later event of the batch accepts a socket that reuses the closed number,
     * and reads it at once (speculative read of a new connection) */
    b = begin(f, LT_IN, LT_IN);
    tb_wait(b, EP, 3);
    tb_ready_sid(b, C, 0, EPOLLIN, 0);
    tb_ready_sid(b, L, 0, EPOLLIN, 1);
    tb_ready_sid(b, K, 0, EPOLLIN, 2);
    tb_read(b, C, 16384, -ECONNRESET);
    tb_close(b, C);
    tb_close(b, K);
    tb_accept(b, L, K);
    tb_read(b, K, 16384, 18);
    tb_ctl(b, EP, EPOLL_CTL_ADD, K, LT_IN);
    tb_accept(b, L, -EAGAIN);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 0);
    /* not stale: a number closed before the wait whose file a dup keeps registered (the
     * event is current; the mistake is another one) */
    b = begin(f, LT_IN, LT_IN);
    tb_dup2(b, C, 9);
    tb_ctl(b, EP, EPOLL_CTL_ADD, 9, LT_IN);
    tb_ctl(b, EP, EPOLL_CTL_DEL, C, 0);
    tb_close(b, 9);
    tb_wait(b, EP, 1);
    tb_ready_sid(b, 9, b->sid[C], EPOLLIN, 0);
    tb_io(b, EPT_READ, 9, 16384, -EBADF, NULL);
    tb_read(b, C, 16384, 18);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 0);
    assert_int_equal(all, 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].rule, RULE_CLOSED_FD); /* the other mistake */
}

/* --- spurious-wakeup -------------------------------------------------------------------- */

static void test_spurious(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* nothing to read, again and again */
    struct tb *b = begin(f, ET_ALL, ET_ALL);
    for (int i = 0; i < 3; i++) {
        tb_wait1(b, EP, C, EPOLLIN);
        tb_read(b, C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_SPURIOUS_WAKEUP, &all), 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_false(rule_is_error(fs[0].rule));
    /* one file registered twice (a dup'ed number): every readiness comes twice, once
     * with data and once with nothing */
    b = begin(f, LT_IN, LT_IN);
    tb_dup2(b, C, 9);
    tb_ctl(b, EP, EPOLL_CTL_ADD, 9, LT_IN);
    for (int i = 0; i < 4; i++) {
        tb_wait(b, EP, 2);
        tb_ready_sid(b, C, 0, EPOLLIN, 0);
        tb_ready_sid(b, 9, 0, EPOLLIN, 1);
        tb_read(b, C, 16384, 18);
        tb_write(b, K, 18, 18);
        tb_read(b, C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_SPURIOUS_WAKEUP, &all), 1);
    assert_int_equal(all, 1);
    /* once in a while is the price of edge mode under load, not a finding */
    b = begin(f, ET_ALL, ET_ALL);
    for (int i = 0; i < 40; i++) {
        tb_wait1(b, EP, C, EPOLLIN);
        tb_read(b, C, 16384, i % 10 == 9 ? -EAGAIN : 10);
        if (i % 10 != 9)
            tb_read(b, C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_SPURIOUS_WAKEUP, &all), 0);
    /* reads after EPOLLOUT-only events do not count, nor EAGAIN accepts */
    b = begin(f, ET_ALL, ET_ALL);
    for (int i = 0; i < 5; i++) {
        tb_wait1(b, EP, C, EPOLLOUT);
        tb_read(b, C, 16384, -EAGAIN);
        tb_wait1(b, EP, L, EPOLLIN);
        tb_accept(b, L, -EAGAIN);
    }
    assert_int_equal(finish(f, RULE_SPURIOUS_WAKEUP, &all), 0);
    assert_int_equal(all, 0);
}

/* --- thundering-herd ---------------------------------------------------------------------- */

/* One listener event after the loop blocked ns in epoll_wait (n events in all; the others
 * are the client's EPOLLOUT), and its accepts: one that succeeds (fd) or EAGAIN alone. */
static void listener_wake(struct tb *b, uint64_t ns, int n, int fd)
{
    tb_wait_blocked(b, EP, n, ns);
    tb_ready_sid(b, L, 0, EPOLLIN, 0);
    if (n > 1)
        tb_ready_sid(b, C, 0, EPOLLOUT, 1);
    if (fd >= 0) {
        tb_accept(b, L, fd);
        tb_close(b, fd);
    }
    tb_accept(b, L, -EAGAIN);
}

static void test_thundering_herd(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* an idle loop woken for the listener alone finds nothing, again and again: another
     * loop takes the connections (a shared listener without EPOLLEXCLUSIVE) */
    struct tb *b = begin(f, LT_IN, 0);
    uint64_t first_wait = b->seq + 1; /* the first wake-up's epoll_wait, a wasted one */
    for (int i = 0; i < 12; i++)
        listener_wake(b, 3000000, 1, i % 2 ? 20 : -1);
    assert_int_equal(finish(f, RULE_THUNDERING_HERD, &all), 1);
    assert_int_equal(all, 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_false(rule_is_error(fs[0].rule));
    assert_int_equal(fs[0].count, 6); /* every one of the six, those before the report too */
    /* and its range starts at the first of them, where the viewer's d lands */
    assert_int_equal(fs[0].first, replay_pos_of_seq(f->r, first_wait));
    assert_int_equal(replay_rec(f->r, fs[0].first)->type, EPT_EPOLL_WAIT);
    /* fewer than RULE_HERD_MIN: a connection reset in the queue now and then is no herd */
    b = begin(f, LT_IN, 0);
    for (int i = 0; i < RULE_HERD_MIN - 1; i++)
        listener_wake(b, 3000000, 1, -1);
    assert_int_equal(finish(f, RULE_THUNDERING_HERD, NULL), 0);
    /* rare among many wake-ups that accepted: under 1 in RULE_HERD_SHARE */
    b = begin(f, LT_IN, 0);
    for (int i = 0; i < 200; i++)
        listener_wake(b, 3000000, 1, i % 25 ? 20 : -1);
    assert_int_equal(finish(f, RULE_THUNDERING_HERD, NULL), 0);
    /* a busy loop that returns at once, or with other events too, and finds the listener
     * already emptied: contention (EPOLLEXCLUSIVE under load), not a herd */
    b = begin(f, LT_IN, 0);
    for (int i = 0; i < 12; i++)
        listener_wake(b, i % 2 ? 1000 : 3000000, i % 2 ? 1 : 2, -1);
    assert_int_equal(finish(f, RULE_THUNDERING_HERD, &all), 0);
    /* the first case's wake-ups, the listener registered with EPOLLEXCLUSIVE: the cure is
     * in place, and it wakes "one or more" waiters, not all of them */
    b = begin(f, LT_IN, 0);
    tb_ctl(b, EP, EPOLL_CTL_DEL, L, 0);
    tb_ctl(b, EP, EPOLL_CTL_ADD, L, EPOLLIN | EPOLLEXCLUSIVE);
    for (int i = 0; i < 12; i++)
        listener_wake(b, 3000000, 1, i % 2 ? 20 : -1);
    assert_int_equal(finish(f, RULE_THUNDERING_HERD, NULL), 0);
}

/* --- lost records ----------------------------------------------------------------------- */

static void test_lost_gap(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* two busy EPOLLOUT events on each side of a gap do not add up to a finding, and a
     * socket first seen after the gap is unknown, not a closed one acted on */
    struct tb *b = begin(f, LT_IN | EPOLLOUT, LT_IN);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_lost(b, 500);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_wait1(b, EP, C, EPOLLOUT);
    b->sid[20] = 999; /* a socket made during the gap */
    tb_wait(b, EP, 2);
    tb_ready(b, 20, EPOLLIN);
    tb_ready_sid(b, C, 0, EPOLLIN, 1);
    tb_read(b, 20, 16384, 5);
    tb_read(b, C, 16384, 5);
    assert_int_equal(finish(f, RULE_LOST_RECORDS, &all), 1);
    assert_int_equal(all, 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].count, 500);
    assert_int_equal(replay_counts(f->r)->lost, 500);
    /* records lost before the first one kept (no thread known yet): reported all the same */
    snprintf(f->path, sizeof(f->path), "%s/t%u.ept", f->tmp->dir, f->n++);
    unlink(f->path);
    assert_int_equal(tb_open(&f->b, f->path), 0);
    tb_lost(&f->b, 40);
    tb_epoll_create(&f->b, EP);
    assert_int_equal(finish(f, RULE_LOST_RECORDS, &all), 1);
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].count, 40);
    /* the end record counts more than the LOST records said (drops by threads that never
     * recorded again): the rest is reported too, so the findings add up to its total */
    b = begin(f, LT_IN, LT_IN);
    tb_lost(b, 7);
    b->lost += 5;
    assert_int_equal(finish(f, RULE_LOST_RECORDS, &all), 2);
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].count + fs[1].count, 12);
}

/* A lost record from a recorder whose drops took no seq numbers (first_seq = last_seq = 0,
 * traces made before it gave them some): still read, and its words say where the records
 * went missing instead of "seq 0-0". */
static void test_lost_unnumbered(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct tb *b = begin(f, LT_IN, LT_IN);
    struct ept_lost l;
    memset(&l, 0, sizeof(l));
    l.count = 9;
    tb_put(b, EPT_LOST, &l, sizeof(l), NULL, 0);
    uint64_t at = b->seq;
    b->lost += 9;
    assert_int_equal(finish(f, RULE_LOST_RECORDS, &all), 1);
    const struct finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].count, 9);
    char want[64];
    snprintf(want, sizeof(want), "9 records dropped before seq %llu (", (unsigned long long)at);
    assert_non_null(strstr(fs[0].what, want));
    assert_null(strstr(fs[0].what, "seq 0-0"));
}

/* A handle record for event #index of the last wait, as the proxy writes one. */
static void handle(struct tb *b, int fd, uint32_t events, uint32_t index)
{
    struct ept_ready r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.events = events;
    r.index = index;
    tb_put(b, EPT_HANDLE, &r, sizeof(r), NULL, 0);
}

/* The proxy under a small ring (proxy --ring-size 4k, load -k): a connection closed and a
 * new one accepted on the same numbers during a gap; after it, one batch reports both new
 * sockets and the handler of the first reads one and writes the other. The sockets are new,
 * not the closed ones: no stale-event, only the lost-records warning. The new sids may be
 * higher than any seen (made in the gap) or lower (made before, every record of them lost). */
/* The epoll_wait of a batch lost: handle records after the gap name events by their index
 * in a batch the trace does not have; taken for the last batch seen, they named sockets its
 * handlers had closed and read as stale events (48 false errors from a correct proxy). */
static void test_lost_wait_in_gap(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct tb *b = begin(f, LT_IN, LT_IN);
    tb_accept(b, L, 9);
    tb_connect(b, 10, -EINPROGRESS);
    tb_wait(b, EP, 2);
    tb_ready_sid(b, K, 0, EPOLLIN | EPOLLRDHUP, 0);
    tb_ready_sid(b, 10, 0, EPOLLIN | EPOLLRDHUP, 1);
    handle(b, K, EPOLLIN | EPOLLRDHUP, 0);
    tb_read(b, K, 16384, 0);
    tb_close(b, C);
    tb_close(b, K);
    handle(b, 10, EPOLLIN | EPOLLRDHUP, 1);
    tb_read(b, 10, 16384, 0);
    tb_close(b, 9);
    tb_close(b, 10);
    /* lost: the next accept, connect and epoll_wait; after it, its event #1 is handled */
    tb_lost(b, 40);
    tb_new(b, 12);
    tb_new(b, 13);
    handle(b, 13, EPOLLIN, 1);
    tb_read(b, 13, 16384, 0);
    tb_close(b, 12);
    tb_close(b, 13);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 0);
    assert_int_equal(all, 1); /* lost-records alone */
}

static void test_lost_gap_reused_numbers(void **state)
{
    struct rfx *f = *state;
    size_t all;
    for (int lower = 0; lower < 2; lower++) {
        struct tb *b = begin(f, LT_IN, LT_IN);
        uint32_t early = b->next_sid++; /* a socket none of whose records was kept */
        uint32_t early2 = b->next_sid++;
        tb_accept(b, L, 9); /* another connection, seen: its sid is the highest */
        tb_wait1(b, EP, C, EPOLLIN);
        handle(b, C, EPOLLIN, 0);
        tb_read(b, C, 16384, 18);
        tb_write(b, K, 18, 18);
        tb_lost(b, 300); /* C and K closed, a new connection on the same numbers */
        if (lower) {
            b->sid[C] = early;
            b->sid[K] = early2;
        } else {
            tb_new(b, C);
            tb_new(b, K);
        }
        tb_wait(b, EP, 2);
        tb_ready_sid(b, C, 0, EPOLLIN, 0);
        tb_ready_sid(b, K, 0, EPOLLIN, 1);
        handle(b, C, EPOLLIN, 0);
        tb_read(b, C, 16384, 18);
        tb_write(b, K, 18, 18);
        handle(b, K, EPOLLIN, 1);
        tb_read(b, K, 16384, 40);
        tb_write(b, C, 40, 40);
        tb_wait1(b, EP, K, EPOLLIN);
        handle(b, K, EPOLLIN, 0);
        tb_read(b, K, 16384, 0);
        tb_close(b, K);
        tb_close(b, C);
        assert_int_equal(finish(f, RULE_LOST_RECORDS, &all), 1);
        assert_int_equal(all, 1);
    }
}

/* --- correct programs: every pattern real servers use, together, and nothing found ------- */

static void test_correct_patterns(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct tb *b = begin(f, 0, 0);
    /* redis: level-triggered, one read per event, the reply written at once with no
     * EPOLLOUT registered (EPOLLOUT only after a short write) */
    tb_ctl(b, EP, EPOLL_CTL_ADD, C, EPOLLIN);
    for (int i = 0; i < 5; i++) {
        tb_wait1(b, EP, C, EPOLLIN);
        tb_read(b, C, 16384, 30);
        tb_write(b, C, 10, 10);
    }
    /* a short write: EPOLLOUT registered, written when reported, removed again */
    tb_wait1(b, EP, C, EPOLLIN);
    tb_read(b, C, 16384, 30);
    tb_write(b, C, 100000, 60000);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, EPOLLIN | EPOLLOUT);
    tb_wait1(b, EP, C, EPOLLOUT);
    tb_write(b, C, 40000, 40000);
    tb_ctl(b, EP, EPOLL_CTL_MOD, C, EPOLLIN);
    /* nginx: the listener deleted and re-added around accepts (accept mutex), accept until
     * EAGAIN, a new socket read before it is registered (deferred accept), registered
     * edge-triggered once, read until a short read */
    for (int i = 0; i < 3; i++) {
        tb_wait1(b, EP, L, EPOLLIN);
        tb_ctl(b, EP, EPOLL_CTL_DEL, L, 0);
        tb_accept(b, L, 10 + i);
        tb_accept(b, L, -EAGAIN);
        tb_read(b, 10 + i, 1024, 70);
        tb_ctl(b, EP, EPOLL_CTL_ADD, 10 + i, ET_ALL);
        tb_write(b, 10 + i, 200, 200);
        tb_ctl(b, EP, EPOLL_CTL_ADD, L, EPOLLIN);
        tb_wait1(b, EP, 10 + i, EPOLLIN | EPOLLOUT);
        tb_read(b, 10 + i, 1024, 70);
        tb_write(b, 10 + i, 200, 200);
        tb_wait1(b, EP, 10 + i, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
        tb_read(b, 10 + i, 1024, 0);
        tb_close(b, 10 + i);
    }
    /* HAProxy: a connect per request, EPOLL_CTL_MOD on every connect, speculative I/O on
     * sockets no event named, level-triggered */
    tb_ctl(b, EP, EPOLL_CTL_ADD, K, EPOLLOUT);
    tb_wait1(b, EP, K, EPOLLOUT);
    tb_write(b, K, 60, 60);
    tb_ctl(b, EP, EPOLL_CTL_MOD, K, EPOLLIN);
    tb_read(b, K, 16384, -EAGAIN);
    tb_wait1(b, EP, K, EPOLLIN);
    tb_read(b, K, 16384, 200);
    tb_write(b, C, 200, 200);
    tb_read(b, K, 16384, 0);
    tb_ctl(b, EP, EPOLL_CTL_DEL, K, 0);
    tb_close(b, K);
    for (int i = 0; i < 3; i++) {
        tb_connect(b, K, -EINPROGRESS);
        tb_ctl(b, EP, EPOLL_CTL_ADD, K, EPOLLOUT);
        tb_write(b, K, 60, -EAGAIN);
        tb_wait1(b, EP, K, EPOLLOUT);
        tb_ctl(b, EP, EPOLL_CTL_MOD, K, EPOLLIN);
        tb_write(b, K, 60, 60);
        tb_wait1(b, EP, K, EPOLLIN | EPOLLRDHUP);
        tb_read(b, K, 16384, 200);
        tb_read(b, K, 16384, 0);
        tb_close(b, K);
    }
    tb_sleep(b, 1000 * MS);
    tb_wait(b, EP, 0);
    assert_int_equal(finish(f, RULE_COUNT, &all), 0);
    assert_int_equal(all, 0);
}

/* --- the lesson library, system calls only --------------------------------------------- */

static const char *srcdir(void)
{
    const char *d = getenv("SRCDIR");
    return d && *d ? d : ".";
}

static void test_lessons_syscalls_only(void **state)
{
    struct rfx *f = *state;
    char list[PATH_MAX], line[512];
    snprintf(list, sizeof(list), "%s/traces/lessons.txt", srcdir());
    FILE *in = fopen(list, "r");
    assert_non_null(in);
    int checked = 0;
    while (fgets(line, sizeof(line), in)) {
        char name[256], ids[256];
        if (line[0] == '#' || sscanf(line, "%255s %255[^\n]", name, ids) != 2)
            continue;
        char src[PATH_MAX + 256], dst[PATH_MAX + 256], err[256];
        snprintf(src, sizeof(src), "%s/traces/%s", srcdir(), name);
        snprintf(dst, sizeof(dst), "%s/%s", f->tmp->dir, name);
        assert_int_equal(strip_trace(src, dst), 0);
        struct replay *r;
        assert_int_equal(replay_open(&r, dst, err, sizeof(err)), 0);
        /* not one handle record, role, connection id or mode is left to lean on */
        for (uint64_t p = 0; p < replay_count(r); p++) {
            const struct ept_rec *rec = replay_rec(r, p);
            struct ept_sock k;
            assert_int_not_equal(rec->type, EPT_HANDLE);
            if (ept_rec_sock(rec, &k)) {
                assert_int_equal(k.conn, 0);
                assert_int_equal(k.role, 0);
            }
        }
        assert_int_equal(replay_mode(r), EPT_MODE_NONE);
        /* the ids found are exactly the ids listed */
        const struct finding *fs;
        size_t n = replay_findings(r, &fs);
        char got[512] = "";
        for (unsigned id = 0; id < RULE_COUNT; id++)
            for (size_t i = 0; i < n; i++)
                if (fs[i].rule == id) {
                    snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
                             *got ? " " : "", rule_name(id));
                    break;
                }
        if (!*got)
            strcpy(got, "-");
        if (strcmp(got, ids)) {
            fprintf(stderr, "%s, system calls only: found \"%s\", lessons.txt says \"%s\"\n",
                    name, got, ids);
            fail();
        }
        replay_close(r);
        unlink(dst);
        checked++;
    }
    fclose(in);
    assert_true(checked >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mistrigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mistrigger_two_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mistrigger_note_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_starvation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_not_rearmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_epollout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_spin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_starvation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdhup_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_out_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_gap_reused_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_hog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thundering_herd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_unnumbered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_wait_in_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_correct_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lessons_syscalls_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
