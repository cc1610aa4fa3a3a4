/* test_replay.c - the replay model and every diagnosis on small synthetic traces: each rule
 * fires on its mistake and stays silent on the correct program next to it; fd reuse, lost
 * records and batches of several events; seeking gives the same state however it gets there. */
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
    const struct rp_finding *fs;
    size_t n = replay_findings(f->r, &fs), k = 0;
    for (size_t i = 0; i < n; i++)
        k += fs[i].diag == diag;
    if (total)
        *total = n;
    return k;
}

static void test_mistrigger(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* the origin: EPOLLIN after the response was read, nothing read, empty buffer forwarded */
    struct trace *t = begin(f, EPT_MODE_ONESHOT, IN_OS, EPOLLIN);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 60);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &C, EPOLLOUT | EPOLLET | EPOLLONESHOT, 0);
    wait1(t, &B, EPOLLIN | EPOLLRDHUP);
    rd(t, &B, 16384, 0);
    wait1(t, &C, EPOLLOUT);
    wr(t, &C, 0, 0);
    assert_int_equal(finish(f, RP_MISTRIGGER, &all), 1);
    const struct rp_finding *fs;
    replay_findings(f->r, &fs);
    assert_int_equal(fs[0].fd, 9);
    assert_int_equal(fs[0].conn, 1);
    /* healthy: the same EOF is passed on with shutdown, not forwarded as data */
    t = begin(f, EPT_MODE_ONESHOT, IN_OS, IN_OS);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 60);
    wr(t, &C, 60, 60);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &B, IN_OS, 0);
    wait1(t, &B, EPOLLIN | EPOLLRDHUP);
    rd(t, &B, 16384, 0);
    trace_shutdown(t, &C, SHUT_WR, 0);
    assert_int_equal(finish(f, RP_MISTRIGGER, &all), 0);
    assert_int_equal(all, 0);
}

static void test_edge_starvation(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* one read filled the buffer, it was all forwarded, and the handler went back to wait */
    struct trace *t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 16384);
    wr(t, &C, 16384, 16384);
    assert_int_equal(finish(f, RP_EDGE_STARVATION, &all), 1);
    /* correct: read on to EAGAIN */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 16384);
    wr(t, &C, 16384, 16384);
    rd(t, &B, 16384, -EAGAIN);
    assert_int_equal(finish(f, RP_EDGE_STARVATION, &all), 0);
    /* correct: a short read means the socket was emptied */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 700);
    wr(t, &C, 700, 700);
    assert_int_equal(finish(f, RP_EDGE_STARVATION, &all), 0);
    /* correct: stopped because the buffer toward a slow client is full (backpressure) */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 16384);
    wr(t, &C, 16384, 1000);
    assert_int_equal(finish(f, RP_EDGE_STARVATION, &all), 0);
    assert_int_equal(all, 0);
    /* level-triggered: one read per event is right */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 16384);
    wr(t, &C, 16384, 16384);
    assert_int_equal(finish(f, RP_EDGE_STARVATION, &all), 0);
    assert_int_equal(all, 0);
}

static void test_oneshot_not_rearmed(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* fired, never re-armed, the idle timeout ends the stalled connection */
    struct trace *t = begin(f, EPT_MODE_ONESHOT, IN_OS, IN_OS);
    wait1(t, &C, EPOLLIN);
    rd(t, &C, 16384, 40);
    wr(t, &B, 40, 40);
    trace_timeout(t, &C, EPT_TIMER_IDLE, 1000);
    trace_sock_close(t, &C, 0, EPT_CLOSE_TIMEOUT);
    trace_sock_close(t, &B, 0, EPT_CLOSE_TIMEOUT);
    assert_int_equal(finish(f, RP_ONESHOT_NOT_REARMED, &all), 1);
    /* correct: re-armed after the event */
    t = begin(f, EPT_MODE_ONESHOT, IN_OS, IN_OS);
    wait1(t, &C, EPOLLIN);
    rd(t, &C, 16384, 40);
    wr(t, &B, 40, 40);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &C, IN_OS, 0);
    trace_sock_close(t, &C, 0, EPT_CLOSE_TIMEOUT);
    trace_sock_close(t, &B, 0, EPT_CLOSE_TIMEOUT);
    assert_int_equal(finish(f, RP_ONESHOT_NOT_REARMED, &all), 0);
    /* correct: left disarmed because it reached EOF and waits for nothing */
    t = begin(f, EPT_MODE_ONESHOT, IN_OS, IN_OS);
    wait1(t, &C, EPOLLIN | EPOLLRDHUP);
    rd(t, &C, 16384, 0);
    trace_shutdown(t, &B, SHUT_WR, 0);
    trace_sock_close(t, &C, 0, EPT_CLOSE_SHUTDOWN);
    trace_sock_close(t, &B, 0, EPT_CLOSE_SHUTDOWN);
    assert_int_equal(finish(f, RP_ONESHOT_NOT_REARMED, &all), 0);
    assert_int_equal(all, 0);
}

static void test_busy_epollout(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct trace *t = begin(f, EPT_MODE_LEVEL, IN_LT | EPOLLOUT, IN_LT);
    for (int i = 0; i < 3; i++)
        wait1(t, &C, EPOLLOUT);
    assert_int_equal(finish(f, RP_BUSY_EPOLLOUT, &all), 1);
    /* twice is not a pattern (an event already queued when EPOLLOUT was removed) */
    t = begin(f, EPT_MODE_LEVEL, IN_LT | EPOLLOUT, IN_LT);
    for (int i = 0; i < 2; i++)
        wait1(t, &C, EPOLLOUT);
    assert_int_equal(finish(f, RP_BUSY_EPOLLOUT, &all), 0);
    /* correct: every EPOLLOUT writes what is pending (a slow client, many partial writes) */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 16384);
    wr(t, &C, 16384, 4000);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &C, IN_LT | EPOLLOUT, 0);
    for (int i = 0; i < 4; i++) {
        wait1(t, &C, EPOLLOUT);
        wr(t, &C, 12384 - 3000 * (size_t)i, 3000);
    }
    assert_int_equal(finish(f, RP_BUSY_EPOLLOUT, &all), 0);
    assert_int_equal(all, 0);
}

static void test_eof_spin(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct trace *t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &C, EPOLLIN);
    rd(t, &C, 16384, 0);
    for (int i = 0; i < 3; i++) {
        wait1(t, &C, EPOLLIN | EPOLLRDHUP);
        rd(t, &C, 16384, 0);
    }
    assert_int_equal(finish(f, RP_EOF_SPIN, &all), 1);
    /* correct: EPOLLIN removed at EOF */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &C, EPOLLIN);
    rd(t, &C, 16384, 0);
    trace_shutdown(t, &B, SHUT_WR, 0);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &C, 0, 0);
    wait1(t, &B, EPOLLIN);
    rd(t, &B, 16384, 10);
    assert_int_equal(finish(f, RP_EOF_SPIN, &all), 0);
    assert_int_equal(all, 0);
}

static void test_accept_starvation(void **state)
{
    struct rfx *f = *state;
    size_t all;
    struct ept_sock n1 = {10, 4, 2, EPT_ROLE_CLIENT, {0}};
    /* edge listener, one accept per event */
    struct trace *t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &L, EPOLLIN | EPOLLET, 0);
    wait1(t, &L, EPOLLIN);
    trace_accept(t, &L, &n1, 10, &A);
    assert_int_equal(finish(f, RP_ACCEPT_STARVATION, &all), 1);
    /* correct: accept until EAGAIN */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &L, EPOLLIN | EPOLLET, 0);
    wait1(t, &L, EPOLLIN);
    trace_accept(t, &L, &n1, 10, &A);
    struct ept_sock none = {-1, 0, 0, EPT_ROLE_CLIENT, {0}};
    trace_accept(t, &L, &none, -EAGAIN, NULL);
    assert_int_equal(finish(f, RP_ACCEPT_STARVATION, &all), 0);
    /* correct: stopped at --max-conns, said so */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &L, EPOLLIN | EPOLLET, 0);
    wait1(t, &L, EPOLLIN);
    trace_accept(t, &L, &n1, 10, &A);
    trace_pause(t, &L, 1, EPT_PAUSE_MAXCONNS);
    assert_int_equal(finish(f, RP_ACCEPT_STARVATION, &all), 0);
    /* a level listener may accept one per event: the kernel reports it again */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &L, EPOLLIN);
    trace_accept(t, &L, &n1, 10, &A);
    assert_int_equal(finish(f, RP_ACCEPT_STARVATION, &all), 0);
    assert_int_equal(all, 0);
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
    trace_sock_close(t, &C, 0, EPT_CLOSE_RESET);
    trace_sock_close(t, &B, 0, EPT_CLOSE_RESET);
    trace_event(t, EPT_HANDLE, &B, EPOLLIN, 1);
    rd(t, &B, 16384, -EBADF);
    assert_int_equal(finish(f, RP_STALE_EVENT, &all), 1);
    /* correct: the second event is skipped */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    trace_epoll_wait(t, 4, 1000, 64, 2, 10);
    trace_event(t, EPT_READY, &C, EPOLLIN, 0);
    trace_event(t, EPT_READY, &B, EPOLLIN, 1);
    trace_event(t, EPT_HANDLE, &C, EPOLLIN, 0);
    rd(t, &C, 16384, -ECONNRESET);
    trace_sock_close(t, &C, 0, EPT_CLOSE_RESET);
    trace_sock_close(t, &B, 0, EPT_CLOSE_RESET);
    assert_int_equal(finish(f, RP_STALE_EVENT, &all), 0);
    assert_int_equal(all, 0);
    /* the ready list of that wait, as the model sees it after the first handle */
    assert_int_equal(replay_seek(f->r, 12), 0);
    const struct rp_wait *w = replay_wait(f->r);
    assert_int_equal(w->n, 2);
    assert_int_equal(w->ev[0].fd, 8);
    assert_int_equal(w->ev[1].fd, 9);
}

static void test_fd_reuse(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* fd 8 reaches EOF and is closed; a new socket gets fd 8 and is readable again and
     * again while it has data: it must not inherit the old socket's EOF */
    struct trace *t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    wait1(t, &C, EPOLLIN);
    rd(t, &C, 16384, 0);
    trace_sock_close(t, &C, 0, EPT_CLOSE_DONE);
    trace_sock_close(t, &B, 0, EPT_CLOSE_DONE);
    struct ept_sock c2 = {8, 7, 2, EPT_ROLE_CLIENT, {0}};
    trace_accept(t, &L, &c2, 8, &A);
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &c2, IN_LT, 0);
    for (int i = 0; i < 4; i++) {
        wait1(t, &c2, EPOLLIN);
        rd(t, &c2, 16384, 100);
    }
    assert_int_equal(finish(f, RP_EOF_SPIN, &all), 0);
    assert_int_equal(all, 0);
    assert_int_equal(replay_seek(f->r, replay_count(f->r) - 1), 0);
    const struct rp_sock **socks;
    size_t n = replay_socks(f->r, &socks);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (socks[i]->fd == 8) {
            assert_int_equal(socks[i]->sid, 7);
            assert_int_equal(socks[i]->eof, 0);
            assert_int_equal(socks[i]->bytes_in, 400);
            found++;
        }
    assert_int_equal(found, 1);
}

static void test_lost_gap(void **state)
{
    struct rfx *f = *state;
    char err[200];
    /* a tiny ring and a burst far bigger than it: records are lost; two busy EPOLLOUT
     * events on each side of the gap must not add up to a finding */
    snprintf(f->path, sizeof(f->path), "%s/gap.ept", f->tmp->dir);
    unlink(f->path);
    struct trace_opts o = {f->path, 1, 4096, 0, EPT_MODE_LEVEL, EPT_MODE_LEVEL, ""};
    assert_int_equal(trace_open(&f->t, &o, err, sizeof(err)), 0);
    struct trace *t = f->t;
    trace_accept(t, &L, &C, 8, &A);
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &C, IN_LT | EPOLLOUT, 0);
    wait1(t, &C, EPOLLOUT);
    wait1(t, &C, EPOLLOUT);
    for (int i = 0; i < 20000; i++)
        trace_note(t, EPT_NOTE_INFO, "filler %d", i);
    usleep(200000); /* let the flusher drain the ring so the lost record gets in */
    wait1(t, &C, EPOLLOUT);
    wait1(t, &C, EPOLLOUT);
    size_t all;
    assert_true(finish(f, RP_LOST_RECORDS, &all) >= 1);
    size_t busy = finish(f, RP_BUSY_EPOLLOUT, &all); /* re-open: same answer */
    (void)busy;
    const struct rp_finding *fs;
    size_t n = replay_findings(f->r, &fs);
    uint64_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(fs[i].diag, RP_BUSY_EPOLLOUT);
        if (fs[i].diag == RP_LOST_RECORDS)
            lost += fs[i].count;
    }
    assert_true(lost > 0);
    assert_int_equal(replay_counts(f->r)->lost, lost);
}

static void test_spurious(void **state)
{
    struct rfx *f = *state;
    size_t all;
    /* nothing to read, again and again */
    struct trace *t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    for (int i = 0; i < 3; i++) {
        wait1(t, &C, EPOLLIN);
        rd(t, &C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RP_SPURIOUS_WAKEUP, &all), 1);
    const struct rp_finding *fs;
    replay_findings(f->r, &fs);
    assert_false(rp_diag_is_error(fs[0].diag));
    /* every readiness reported twice (one socket registered under two fds): data, then
     * nothing, data, then nothing... half the wake-ups are wasted */
    t = begin(f, EPT_MODE_LEVEL, IN_LT, IN_LT);
    for (int i = 0; i < 8; i++) {
        wait1(t, &C, EPOLLIN);
        rd(t, &C, 16384, i % 2 ? -EAGAIN : 10);
    }
    assert_int_equal(finish(f, RP_SPURIOUS_WAKEUP, &all), 1);
    /* once in a while is the price of edge mode under load, not a finding */
    t = begin(f, EPT_MODE_EDGE, IN_ET, IN_ET);
    for (int i = 0; i < 40; i++) {
        wait1(t, &C, EPOLLIN);
        rd(t, &C, 16384, i % 10 == 9 ? -EAGAIN : 10);
        if (i % 10 != 9)
            rd(t, &C, 16384, -EAGAIN);
    }
    assert_int_equal(finish(f, RP_SPURIOUS_WAKEUP, &all), 0);
    assert_int_equal(all, 0);
}

/* Serialise the model's state so two ways of reaching a position can be compared. */
static size_t snapshot(struct replay *r, char *buf, size_t len)
{
    const struct rp_sock **s;
    size_t n = replay_socks(r, &s), off = 0;
    const struct rp_wait *w = replay_wait(r);
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
            trace_sock_close(t, &oc, 0, EPT_CLOSE_DONE);
            trace_sock_close(t, &ob, 0, EPT_CLOSE_DONE);
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
        cmocka_unit_test_setup_teardown(test_mistrigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_starvation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_not_rearmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_epollout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_spin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_starvation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_event_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_trace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
