/* test_state.c - the model of a traced process (src/state.c) from system calls alone: files
 * by identity (dup shares one, a reused number is a new one), registrations per epoll set,
 * each thread's batch and which event its calls handle, roles from the calls, and the
 * pairing of a connection's two sockets from the data flow. */
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
#include <unistd.h>

#include "fixture.h"
#include "replay.h"
#include "tb.h"

struct sfx {
    struct fx *tmp;
    char path[PATH_MAX + 64];
    struct tb b;
    struct replay *r;
};

static int setup(void **state)
{
    struct sfx *f = calloc(1, sizeof(*f));
    void *tmp;
    if (!f || fx_setup(&tmp) != 0) {
        free(f);
        return -1;
    }
    f->tmp = tmp;
    snprintf(f->path, sizeof(f->path), "%s/s.ept", ((struct fx *)tmp)->dir);
    assert_int_equal(tb_open(&f->b, f->path), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct sfx *f = *state;
    replay_close(f->r);
    void *tmp = f->tmp;
    free(f);
    return fx_teardown(&tmp);
}

/* Seal the trace and open it; returns the position of the last record written so far
 * (before END) through *last. */
static void open_trace(struct sfx *f)
{
    char err[200];
    assert_int_equal(tb_end(&f->b), 0);
    assert_int_equal(replay_open(&f->r, f->path, err, sizeof(err)), 0);
}

/* Position of the record with sequence number seq (the builder numbers from 1). */
static void at_seq(struct sfx *f, uint64_t seq)
{
    assert_int_equal(replay_seek(f->r, seq - 1), 0);
}

static const struct state_sock *fd_sock(struct sfx *f, int fd)
{
    return state_fd(replay_state(f->r), fd);
}

static void test_threads_and_sets(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    /* thread 1 accepts on its set; thread 2 registers the new socket in its own set */
    tb_thread(b, 1);
    tb_epoll_create(b, 3);
    tb_listener(b, 4);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    tb_thread(b, 2);
    tb_epoll_create(b, 5);
    tb_thread(b, 1);
    tb_wait1(b, 3, 4, EPOLLIN);
    tb_accept(b, 4, 7);
    uint64_t accepted = b->seq;
    tb_thread(b, 2);
    tb_ctl(b, 5, EPOLL_CTL_ADD, 7, EPOLLIN | EPOLLET);
    tb_wait1(b, 5, 7, EPOLLIN);
    uint64_t t2_wait = b->seq - 1;
    tb_thread(b, 1);
    tb_wait(b, 3, 0);                  /* thread 1 waits again, its batch is empty */
    uint64_t t1_wait = b->seq;
    tb_thread(b, 2);
    tb_read(b, 7, 16384, 30);
    uint64_t t2_read = b->seq;
    open_trace(f);

    at_seq(f, t2_read);
    const struct state *st = replay_state(f->r);
    const struct state_sock *ep1 = fd_sock(f, 3), *ep2 = fd_sock(f, 5), *s = fd_sock(f, 7);
    assert_non_null(ep1);
    assert_non_null(ep2);
    assert_non_null(s);
    assert_int_equal(ep1->role, EPT_ROLE_EPOLL);
    assert_int_not_equal(ep1->sid, ep2->sid);
    /* the socket is registered in thread 2's set, edge-triggered, and not in thread 1's */
    assert_int_equal(s->nregs, 1);
    assert_int_equal(s->reg[0].set, ep2->sid);
    assert_int_equal(s->reg[0].interest, EPOLLIN | EPOLLET);
    assert_null(state_reg((struct state_sock *)s, ep1->sid, -1));
    /* each thread has its own batch; the read belongs to thread 2's */
    const struct state_thread *t1 = state_thread(st, 1), *t2 = state_thread(st, 2);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_int_equal(t1->wait.pos, t1_wait - 1);
    assert_int_equal(t1->wait.n, 0);
    assert_int_equal(t1->wait.set, ep1->sid);
    assert_int_equal(t2->wait.pos, t2_wait - 1);
    assert_int_equal(t2->wait.set, ep2->sid);
    assert_int_equal(t2->wait.n, 1);
    assert_int_equal(t2->wait.ev[0].reads, 1);
    assert_int_equal(t2->wait.ev[0].bytes_read, 30);
    assert_int_equal(t2->wait.current, 0);
    /* the viewer's batch is the current record's thread's */
    assert_int_equal(replay_wait(f->r)->tid, 2);
    at_seq(f, t1_wait);
    assert_int_equal(replay_wait(f->r)->tid, 1);
    /* roles from the calls */
    at_seq(f, accepted);
    assert_int_equal(fd_sock(f, 4)->role, EPT_ROLE_LISTENER);
    assert_int_equal(fd_sock(f, 7)->role, EPT_ROLE_CLIENT);
    assert_string_equal(replay_role_name(f->r, EPT_ROLE_CLIENT), "accepted");
    assert_int_equal(replay_counts(f->r)->threads, 2);
    const struct finding *fs;
    assert_int_equal(replay_findings(f->r, &fs), 0);
}

static void test_dup_and_reuse(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    tb_epoll_create(b, 3);
    tb_listener(b, 4);
    tb_accept(b, 4, 5);
    tb_dup2(b, 5, 9);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 5, EPOLLIN);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 9, EPOLLIN);
    uint64_t both = b->seq;
    tb_close(b, 5);
    uint64_t one = b->seq;
    /* the registration under 9 still reports the file whose number 5 is closed */
    tb_wait(b, 3, 1);
    tb_ready_sid(b, 9, b->sid[9], EPOLLIN, 0);
    uint64_t ready = b->seq;
    tb_close(b, 9);
    uint64_t gone = b->seq;
    /* a new socket gets number 5: a new identity, registered nowhere */
    tb_accept(b, 4, 5);
    uint64_t reused = b->seq;
    open_trace(f);

    at_seq(f, both);
    const struct state_sock *a = fd_sock(f, 5), *d = fd_sock(f, 9);
    assert_ptr_equal(a, d);          /* one file under two numbers */
    assert_int_equal(a->nfds, 2);
    assert_int_equal(a->nregs, 2);   /* registered twice: (set, 5) and (set, 9) */
    uint32_t sid = a->sid;
    at_seq(f, one);
    assert_null(fd_sock(f, 5));
    a = fd_sock(f, 9);
    assert_int_equal(a->sid, sid);
    assert_int_equal(a->nfds, 1);
    assert_int_equal(a->nregs, 2);   /* closing a number does not end the file's registration */
    int closed = 0;
    for (int i = 0; i < a->nregs; i++)
        closed += a->reg[i].fd == 5 && a->reg[i].fd_closed;
    assert_int_equal(closed, 1);
    at_seq(f, ready);
    assert_int_equal(replay_wait(f->r)->ev[0].sid, sid);
    at_seq(f, gone);
    assert_null(replay_sock(f->r, sid));
    at_seq(f, reused);
    a = fd_sock(f, 5);
    assert_non_null(a);
    assert_int_not_equal(a->sid, sid);
    assert_int_equal(a->nregs, 0);
    assert_int_equal(a->eof, 0);
}

static void test_handling_inferred(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    tb_epoll_create(b, 3);
    tb_listener(b, 4);
    tb_accept(b, 4, 5);
    tb_connect(b, 6, -EINPROGRESS);
    tb_accept(b, 4, 7);
    tb_wait(b, 3, 2);
    tb_ready_sid(b, 5, 0, EPOLLIN, 0);
    tb_ready_sid(b, 6, 0, EPOLLOUT, 1);
    uint64_t before = b->seq;
    tb_read(b, 7, 100, 10);           /* speculative: no event named 7 */
    uint64_t spec = b->seq;
    tb_read(b, 5, 100, 40);           /* begins event #0 */
    uint64_t first = b->seq;
    tb_write(b, 6, 40, 40);           /* a call on event #1's fd begins it */
    uint64_t second = b->seq;
    open_trace(f);

    at_seq(f, before);
    const struct state_wait *w = replay_wait(f->r);
    assert_int_equal(w->n, 2);
    assert_int_equal(w->current, -1);
    assert_false(w->ev[0].begun);
    at_seq(f, spec);
    w = replay_wait(f->r);
    assert_int_equal(w->current, -1);
    assert_int_equal(w->ev[0].reads + w->ev[1].reads, 0);
    at_seq(f, first);
    w = replay_wait(f->r);
    assert_int_equal(w->current, 0);
    assert_true(w->ev[0].begun);
    assert_int_equal(w->ev[0].bytes_read, 40);
    at_seq(f, second);
    w = replay_wait(f->r);
    assert_int_equal(w->current, 1);
    assert_int_equal(w->ev[1].bytes_written, 40);
    /* the data flow paired the two sockets: 40 read from 5, all 40 written to 6 */
    const struct state_sock *c = fd_sock(f, 5), *k = fd_sock(f, 6);
    assert_int_equal(c->peer, k->sid);
    assert_int_equal(k->peer, c->sid);
    assert_int_equal(replay_pending(f->r, k), 0);
    assert_int_equal(replay_pending(f->r, fd_sock(f, 7)), REPLAY_UNKNOWN);
    assert_int_equal(k->role, EPT_ROLE_BACKEND);
    assert_int_equal(k->connecting, 0); /* the event reported the connect done; it wrote */
}

static void test_fdinfo_roles(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    /* files the program had before the recorder saw them: announced on first sight */
    struct ept_fdinfo fi;
    memset(&fi, 0, sizeof(fi));
    tb_new(b, 8);
    fi.s = tb_sock(b, 8);
    fi.kind = EPT_FD_EVENTFD;
    tb_put(b, EPT_FDINFO, &fi, sizeof(fi), NULL, 0);
    memset(&fi, 0, sizeof(fi));
    tb_new(b, 4);
    fi.s = tb_sock(b, 4);
    fi.kind = EPT_FD_TCP;
    fi.flags = EPT_FDINFO_LISTENING;
    tb_put(b, EPT_FDINFO, &fi, sizeof(fi), NULL, 0);
    tb_epoll_create(b, 3);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 8, EPOLLIN);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    open_trace(f);
    at_seq(f, 5);
    assert_int_equal(fd_sock(f, 8)->role, EPT_ROLE_OTHER);
    assert_int_equal(fd_sock(f, 8)->kind, EPT_FD_EVENTFD);
    assert_int_equal(fd_sock(f, 4)->role, EPT_ROLE_LISTENER);
    assert_true(fd_sock(f, 8)->in_set);
    /* the epoll fd is a file of the model but not a row of the socket list */
    const struct state_sock **socks;
    size_t n = replay_socks(f->r, &socks);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(socks[i]->role, EPT_ROLE_EPOLL);
}

static void test_queue_notes(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    /* an edge socket left after a full read: the kernel held more; the next read clears it.
     * A listener left after its accept budget: connections waited; the next accept clears */
    tb_epoll_create(b, 3);
    tb_listener(b, 4);
    tb_ctl(b, 3, EPOLL_CTL_ADD, 4, EPOLLIN | EPOLLET);
    tb_wait1(b, 3, 4, EPOLLIN);
    tb_accept(b, 4, 7);
    tb_queue(b, 4, EPT_QUEUE_BACKLOG, 19, 4096);
    uint64_t backlog = b->seq;
    tb_ctl(b, 3, EPOLL_CTL_ADD, 7, EPOLLIN | EPOLLET);
    tb_read(b, 7, 16384, 16384);
    tb_queue(b, 7, EPT_QUEUE_UNREAD, 82040, 0);
    uint64_t unread = b->seq;
    tb_queue(b, 7, 99, 5, 0); /* a kind this version does not know changes nothing */
    uint64_t unknown = b->seq;
    tb_accept(b, 4, 8);
    tb_read(b, 7, 16384, 100);
    uint64_t after = b->seq;
    open_trace(f);

    at_seq(f, backlog);
    assert_int_equal(fd_sock(f, 4)->queue_kind, EPT_QUEUE_BACKLOG);
    assert_int_equal(fd_sock(f, 4)->queued, 19);
    assert_int_equal(fd_sock(f, 4)->queue_max, 4096);
    at_seq(f, unread);
    assert_int_equal(fd_sock(f, 7)->queue_kind, EPT_QUEUE_UNREAD);
    assert_int_equal(fd_sock(f, 7)->queued, 82040);
    at_seq(f, unknown);
    assert_int_equal(fd_sock(f, 7)->queued, 82040);
    at_seq(f, after);
    assert_int_equal(fd_sock(f, 4)->queue_kind, 0);
    assert_int_equal(fd_sock(f, 7)->queue_kind, 0);
}

static void test_untrusted_ids(void **state)
{
    struct sfx *f = *state;
    struct tb *b = &f->b;
    /* huge socket ids, fd numbers and thread ids cost no more than small ones */
    tb_epoll_create(b, 3);
    for (uint32_t i = 0; i < 50; i++) {
        tb_thread(b, 0xFFFFFF00u + i);
        b->sid[10] = 0xFFFFFFF0u - i;
        struct ept_accept a;
        memset(&a, 0, sizeof(a));
        a.listener = tb_sock(b, 4);
        a.s.fd = 0x7FFFFFF0 - (int)i;
        a.s.sid = 0xFFFFFFF0u - i;
        a.result = 0x7FFFFFF0 - (int)i;
        tb_put(b, EPT_ACCEPT, &a, sizeof(a), NULL, 0);
        tb_read(b, 10, 100, 10);
    }
    open_trace(f);
    assert_int_equal(replay_seek(f->r, replay_count(f->r) - 1), 0);
    assert_true(state_bytes(replay_state(f->r)) < (1u << 20));
    assert_int_equal(replay_counts(f->r)->threads, 51);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_and_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dup_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handling_inferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fdinfo_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
