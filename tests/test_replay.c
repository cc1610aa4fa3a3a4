/* test_replay.c - a trace opened for reading: the analysis pass over the recorder's own
 * output (a batch of several events, records lost from a full ring), seeking, which gives
 * the same state however it gets there, and walking the records from any position. The rules themselves are tested from system
 * calls in test_rules.c, the model in test_state.c. */
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
#include "trace.h"

#define IN_ET (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define IN_OS (EPOLLIN | EPOLLRDHUP | EPOLLET | EPOLLONESHOT)
#define IN_LT (EPOLLIN | EPOLLRDHUP)

/* The test's state: a fixture directory (emptied and removed after each test) and the
 * trace being written and read in it. */
struct rfx {
    struct fx *tmp;
    char path[PATH_MAX + 64];
    struct trace *t;
    struct replay *r;
    unsigned n;
};

static const struct ept_sock L = {5, 1, 0, EPT_ROLE_LISTENER, {0}};
static const struct ept_sock C = {8, 2, 1, EPT_ROLE_CLIENT, {0}};
static const struct ept_sock B = {9, 3, 1, EPT_ROLE_BACKEND, {0}};
static const struct ept_addr A = {2, 9001, 0, {127, 0, 0, 1}};

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
    return fx_teardown(&tmp); /* fails the test if anything was left behind */
}

/* Start a trace in mode m with a listener, a client and its backend connected. */
static struct trace *begin(struct rfx *f, unsigned mode, uint32_t cev, uint32_t bev)
{
    char err[200];
    snprintf(f->path, sizeof(f->path), "%s/t%u.ept", f->tmp->dir, f->n++);
    unlink(f->path);
    struct trace_opts o = {f->path, 1, 1 << 16, 16, (uint8_t)mode, EPT_MODE_LEVEL, "x=1\n"};
    assert_int_equal(trace_open(&f->t, &o, err, sizeof(err)), 0);
    struct trace *t = f->t;
    trace_listen(t, &L, &A, 0, 128);
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &L, EPOLLIN, 0);
    trace_accept(t, &L, &C, 8, &A);
    if (cev)
        trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &C, cev, 0);
    trace_connect(t, &B, 0, 0, -EINPROGRESS, &A);
    trace_connect(t, &B, 0, 1, 0, &A);
    if (bev)
        trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &B, bev, 0);
    return t;
}

/* One epoll_wait returning the given sockets, then a handle record for the first. */
static void wait1(struct trace *t, const struct ept_sock *s, uint32_t ev)
{
    trace_epoll_wait(t, 4, 1000, 64, 1, 10);
    trace_event(t, EPT_READY, s, ev, 0);
    trace_event(t, EPT_HANDLE, s, ev, 0);
}

static void rd(struct trace *t, const struct ept_sock *s, size_t asked, long res)
{
    trace_io(t, EPT_READ, s, asked, res, res > 0 ? "xxxxxxxxxxxxxxxx" : NULL);
}

static void wr(struct trace *t, const struct ept_sock *s, size_t asked, long res)
{
    trace_io(t, EPT_WRITE, s, asked, res, res > 0 ? "xxxxxxxxxxxxxxxx" : NULL);
}

/* Finish the trace, open it, and count findings of one id. */
static size_t finish(struct rfx *f, unsigned diag, size_t *total)
{
    char err[200];
    trace_epoll_wait(f->t, 4, 1000, 64, 0, 10);
    assert_int_equal(trace_finish(f->t, NULL), 0);
    f->t = NULL;
    replay_close(f->r);
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
    const struct finding *fs;
    size_t n = replay_findings(f->r, &fs), k = 0;
    for (size_t i = 0; i < n; i++)
        k += fs[i].rule == diag;
    if (total)
        *total = n;
    return k;
}

static void test_stale_event_batch(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* a batch of two: handling the first closes both sockets, then the second is handled */
    struct trace *t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    trace_epoll_wait(t, 4, 1000, 64, 2, 10);
    trace_event(t, EPT_READY, &C, EPOLLIN, 0);
    trace_event(t, EPT_READY, &B, EPOLLIN, 1);
    trace_event(t, EPT_HANDLE, &C, EPOLLIN, 0);
    rd(t, &C, 16384, -ECONNRESET);
    trace_sock_close(t, &C, 0, EPT_CLOSE_RESET, -1);
    trace_sock_close(t, &B, 0, EPT_CLOSE_RESET, -1);
    trace_event(t, EPT_HANDLE, &B, EPOLLIN, 1);
    rd(t, &B, 16384, -EBADF);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 1);
    /* correct: the second event is skipped */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    trace_epoll_wait(t, 4, 1000, 64, 2, 10);
    trace_event(t, EPT_READY, &C, EPOLLIN, 0);
    trace_event(t, EPT_READY, &B, EPOLLIN, 1);
    trace_event(t, EPT_HANDLE, &C, EPOLLIN, 0);
    rd(t, &C, 16384, -ECONNRESET);
    trace_sock_close(t, &C, 0, EPT_CLOSE_RESET, -1);
    trace_sock_close(t, &B, 0, EPT_CLOSE_RESET, -1);
    assert_int_equal(finish(f, RULE_STALE_EVENT, &all), 0);
    assert_int_equal(all, 0);
    /* the ready list of that wait, as the model sees it after the first handle */
    assert_int_equal(replay_seek(f->r, 12), 0);
    const struct state_wait *w = replay_wait(f->r);
    assert_int_equal(w->n, 2);
    assert_int_equal(w->ev[0].fd, 8);
    assert_int_equal(w->ev[1].fd, 9);
}

static void test_lost_gap(void **state)
{
    struct rfx *f = *state;
    char err[200];
    /* a tiny ring and a burst far bigger than it: records are lost, and the trace says
     * exactly how many (the END record gets in only after the pending lost record) */
    snprintf(f->path, sizeof(f->path), "%s/gap.ept", f->tmp->dir);
    unlink(f->path);
    struct trace_opts o = {f->path, 1, 4096, 0, EPT_MODE_LEVEL, EPT_MODE_LEVEL, ""};
    assert_int_equal(trace_open(&f->t, &o, err, sizeof(err)), 0);
    struct trace *t = f->t;
    trace_accept(t, &L, &C, 8, &A);
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &C, IN_LT | EPOLLOUT, 0);
    for (int i = 0; i < 20000; i++)
        trace_note(t, EPT_NOTE_INFO, "filler %d", i);
    wait1(t, &C, EPOLLOUT);
    struct trace_stats ts;
    assert_int_equal(trace_finish(f->t, &ts), 0);
    f->t = NULL;
    assert_true(ts.lost > 0);
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
    const struct finding *fs;
    size_t n = replay_findings(f->r, &fs);
    uint64_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fs[i].rule, RULE_LOST_RECORDS);
        lost += fs[i].count;
    }
    assert_int_equal(lost, ts.lost);
    assert_int_equal(replay_counts(f->r)->lost, ts.lost);
    assert_int_equal(replay_counts(f->r)->records + ts.lost, ts.records);
}

/* Serialise the model's state so two ways of reaching a position can be compared. */
static size_t snapshot(struct replay *r, char *buf, size_t len)
{
    const struct state_sock **s;
    size_t n = replay_socks(r, &s), off = 0;
    const struct state_wait *w = replay_wait(r);
    off += (size_t)snprintf(buf + off, len - off, "pos %llu wait %llu n %u cur %d\n",
                            (unsigned long long)replay_pos(r), (unsigned long long)w->pos,
                            w->n, w->current);
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%u %d %u %x %u %llu %llu %d %llu\n",
                                s[i]->sid, s[i]->fd, s[i]->conn, s[i]->interest, s[i]->armed,
                                (unsigned long long)s[i]->bytes_in,
                                (unsigned long long)s[i]->bytes_out, s[i]->last_read,
                                (unsigned long long)s[i]->changed);
    for (uint32_t i = 0; i < w->n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "ev %u %x %u %u\n", w->ev[i].sid,
                                w->ev[i].events, w->ev[i].reads, w->ev[i].writes);
    return off;
}

static void test_seek_consistent(void **state)
{
    struct rfx *f = *state;
    char err[200];
    /* 60k records, so several checkpoints; connections come and go */
    snprintf(f->path, sizeof(f->path), "%s/big.ept", f->tmp->dir);
    unlink(f->path);
    struct trace_opts o = {f->path, 1, 1 << 22, 8, EPT_MODE_EDGE, EPT_MODE_LEVEL, ""};
    assert_int_equal(trace_open(&f->t, &o, err, sizeof(err)), 0);
    struct trace *t = f->t;
    uint32_t sid = 10;
    for (int k = 0; k < 2000; k++) {
        struct ept_sock c = {8 + k % 50, sid++, (uint32_t)k + 1, EPT_ROLE_CLIENT, {0}};
        struct ept_sock b = {100 + k % 50, sid++, (uint32_t)k + 1, EPT_ROLE_BACKEND, {0}};
        trace_accept(t, &L, &c, c.fd, &A);
        trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &c, IN_ET, 0);
        trace_connect(t, &b, 0, 0, -EINPROGRESS, &A);
        trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &b, IN_ET, 0);
        for (int j = 0; j < 5; j++) {
            trace_epoll_wait(t, 4, 1000, 64, 2, 5);
            trace_event(t, EPT_READY, &c, EPOLLIN, 0);
            trace_event(t, EPT_READY, &b, EPOLLIN, 1);
            trace_event(t, EPT_HANDLE, &c, EPOLLIN, 0);
            rd(t, &c, 100, 50);
            wr(t, &b, 50, 50);
            trace_event(t, EPT_HANDLE, &b, EPOLLIN, 1);
            rd(t, &b, 100, 70);
        }
        if (k >= 20) { /* keep about 20 connections open */
            struct ept_sock oc = {8 + (k - 20) % 50, (uint32_t)(10 + 2 * (k - 20)),
                                  (uint32_t)k - 19, EPT_ROLE_CLIENT, {0}};
            struct ept_sock ob = {100 + (k - 20) % 50, (uint32_t)(11 + 2 * (k - 20)),
                                  (uint32_t)k - 19, EPT_ROLE_BACKEND, {0}};
            trace_sock_close(t, &oc, 0, EPT_CLOSE_DONE, -1);
            trace_sock_close(t, &ob, 0, EPT_CLOSE_DONE, -1);
        }
    }
    assert_int_equal(trace_finish(f->t, NULL), 0);
    f->t = NULL;
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
    uint64_t n = replay_count(f->r);
    assert_true(n > 60000);
    static char a[1 << 16], b[1 << 16];
    srand(7);
    for (int i = 0; i < 200; i++) {
        uint64_t p = (uint64_t)rand() % n;
        /* far jump (checkpoint) vs. a step from the record before */
        assert_int_equal(replay_seek(f->r, p), 0);
        size_t la = snapshot(f->r, a, sizeof(a));
        if (p > 0) {
            assert_int_equal(replay_seek(f->r, n - 1), 0);
            assert_int_equal(replay_seek(f->r, p - 1), 0);
            assert_int_equal(replay_seek(f->r, p), 0);
            size_t lb = snapshot(f->r, b, sizeof(b));
            assert_int_equal(la, lb);
            assert_memory_equal(a, b, la);
        }
    }
    assert_int_equal(replay_seek(f->r, n), -ERANGE);
    /* the record at a position is the one the reader finds walking from the start */
    const struct ept_rec *r0 = replay_rec(f->r, 0), *rl = replay_rec(f->r, n - 1);
    assert_int_equal(r0->seq, 1);
    assert_int_equal(rl->type, EPT_END);
    assert_null(replay_rec(f->r, n));
}

/* replay_walk's callback: each record must be the one replay_rec finds at its position,
 * in order; the walk stops where asked. */
struct walk {
    struct replay *r;
    uint64_t next, stop;
    unsigned calls;
};

static int walk_check(const struct ept_rec *rec, uint64_t pos, void *arg)
{
    struct walk *w = arg;
    assert_int_equal(pos, w->next);
    assert_ptr_equal(rec, replay_rec(w->r, pos));
    w->next = pos + 1;
    w->calls++;
    return pos == w->stop ? 7 : 0;
}

static void test_walk(void **state)
{
    struct rfx *f = *state;
    char err[200];
    snprintf(f->path, sizeof(f->path), "%s/walk.ept", f->tmp->dir);
    unlink(f->path);
    struct trace_opts o = {f->path, 1, 1 << 20, 8, EPT_MODE_EDGE, EPT_MODE_LEVEL, ""};
    assert_int_equal(trace_open(&f->t, &o, err, sizeof(err)), 0);
    struct trace *t = f->t;
    for (int k = 0; k < 600; k++) { /* blocks of a few hundred records each */
        uint32_t id = (uint32_t)k + 1;
        struct ept_sock c = {8 + k % 20, 9 + id, id, EPT_ROLE_CLIENT, {0}};
        trace_accept(t, &L, &c, c.fd, &A);
        trace_epoll_wait(t, 4, 1000, 64, 1, 5);
        trace_event(t, EPT_READY, &c, EPOLLIN, 0);
        rd(t, &c, 100, 50);
        trace_sock_close(t, &c, 0, EPT_CLOSE_DONE, -1);
        if (k % 50 == 49)
            trace_sync(t, 10000);
    }
    assert_int_equal(trace_finish(f->t, NULL), 0);
    f->t = NULL;
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
    uint64_t n = replay_count(f->r);
    assert_true(replay_nblocks(f->r) > 3);
    /* from the start, from inside blocks and from block starts, to the end */
    uint64_t b2 = replay_block(f->r, 2)->first;
    uint64_t from[] = {0, 1, 31, 32, 33, b2, b2 + 37, n - 1};
    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        struct walk w = {f->r, from[i], UINT64_MAX, 0};
        assert_int_equal(replay_walk(f->r, from[i], walk_check, &w), 0);
        assert_int_equal(w.next, n);
        assert_int_equal(w.calls, n - from[i]);
    }
    /* a non-zero return stops the walk and is returned; past the end there is nothing */
    struct walk w = {f->r, 5, 900, 0};
    assert_int_equal(replay_walk(f->r, 5, walk_check, &w), 7);
    assert_int_equal(w.calls, 896);
    w = (struct walk){f->r, n, UINT64_MAX, 0};
    assert_int_equal(replay_walk(f->r, n, walk_check, &w), 0);
    assert_int_equal(w.calls, 0);
}

static void test_not_a_trace(void **state)
{
    struct rfx *f = *state;
    char err[200];
    snprintf(f->path, sizeof(f->path), "%s/text", f->tmp->dir);
    FILE *fp = fopen(f->path, "w");
    fputs("hello, this is not a trace\n", fp);
    fclose(fp);
    struct replay *r;
    assert_true(replay_open(&r, f->path, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "not an epscope trace"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_event_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_trace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
