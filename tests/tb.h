/* tb.h - a trace builder for tests: writes the records a recorded program's calls would
 * make, system calls only, with the thread and the time of each set by the test.
 *
 * It keeps an fd table as the recorder does, so every record carries the identity (sid) of
 * the file its fd names: socket, accept and epoll_create make new ones, dup shares one,
 * close forgets the number. Time only moves when the test says (tb_sleep), so rules judged
 * by time are tested exactly. Blocks are written directly; tb_end() seals the file.
 *
 *   struct tb b;  tb_open(&b, path);
 *   int ep = tb_epoll_create(&b, 3), l = tb_listener(&b, 4);
 *   tb_ctl(&b, ep, EPOLL_CTL_ADD, l, EPOLLIN);
 *   tb_wait(&b, ep, 1);  tb_ready(&b, l, EPOLLIN);
 *   int c = tb_accept(&b, l, 5);  ...  tb_end(&b);
 */
#ifndef EPSCOPE_TESTS_TB_H
#define EPSCOPE_TESTS_TB_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ept.h"

#define TB_FDS 1024
#define TB_BLOCK (32u << 10)

struct tb {
    FILE *f;
    uint8_t buf[TB_BLOCK];
    size_t len;
    uint32_t nrec;
    uint64_t seq, ns;
    uint32_t tid;
    uint64_t lost;           /* records said lost so far (the end record's total) */
    uint32_t next_sid;
    uint32_t sid[TB_FDS];    /* fd -> sid, 0 for a closed number */
};

static inline void tb_flush(struct tb *b)
{
    if (!b->nrec)
        return;
    struct ept_block h;
    uint32_t trailer[2];
    ept_block_seal(&h, trailer, b->buf, b->len, b->nrec);
    fwrite(&h, sizeof(h), 1, b->f);
    fwrite(b->buf, 1, b->len, b->f);
    fwrite(trailer, sizeof(trailer), 1, b->f);
    b->len = 0;
    b->nrec = 0;
}

/* Append record rec (a struct of sz bytes whose header is filled here) and tail bytes. */
static inline void tb_put(struct tb *b, uint16_t type, void *rec, size_t sz, const void *tail,
                          size_t tlen)
{
    size_t total = ept_pad8(sz + tlen);
    if (b->len + total > TB_BLOCK)
        tb_flush(b);
    struct ept_rec *h = rec;
    h->type = type;
    h->size = (uint16_t)total;
    h->tid = b->tid;
    h->seq = ++b->seq;
    h->ns = b->ns += 1000; /* a microsecond per call unless the test sleeps */
    memcpy(b->buf + b->len, rec, sz);
    if (tlen)
        memcpy(b->buf + b->len + sz, tail, tlen);
    memset(b->buf + b->len + sz + tlen, 0, total - sz - tlen);
    b->len += total;
    b->nrec++;
}

static inline int tb_open(struct tb *b, const char *path)
{
    memset(b, 0, sizeof(*b));
    b->f = fopen(path, "wb");
    if (!b->f)
        return -errno;
    b->next_sid = 1;
    b->tid = 100;
    struct ept_header h;
    ept_header_init(&h, EPT_MODE_NONE, EPT_MODE_NONE, 64, 1u << 20);
    h.mono_start_ns = 1000000000ull;
    b->ns = h.mono_start_ns;
    uint8_t hb[EPT_HDR_FIXED];
    ept_header_encode(&h, "", 0, hb);
    fwrite(hb, 1, sizeof(hb), b->f);
    return 0;
}

/* The thread that makes the next calls, and time passing. */
static inline void tb_thread(struct tb *b, uint32_t tid) { b->tid = tid; }
static inline void tb_sleep(struct tb *b, uint64_t ns) { b->ns += ns; }

static inline struct ept_sock tb_sock(const struct tb *b, int fd)
{
    struct ept_sock k;
    memset(&k, 0, sizeof(k));
    k.fd = fd;
    k.sid = fd >= 0 && fd < TB_FDS ? b->sid[fd] : 0;
    return k;
}

static inline int tb_new(struct tb *b, int fd)
{
    b->sid[fd] = b->next_sid++;
    return fd;
}

static inline int tb_epoll_create(struct tb *b, int fd)
{
    struct ept_epoll_create r;
    memset(&r, 0, sizeof(r));
    r.result = tb_new(b, fd);
    r.flags = EPOLL_CLOEXEC;
    r.sid = b->sid[fd];
    tb_put(b, EPT_EPOLL_CREATE, &r, sizeof(r), NULL, 0);
    return fd;
}

static inline int tb_socket(struct tb *b, int fd)
{
    struct ept_socket r;
    memset(&r, 0, sizeof(r));
    tb_new(b, fd);
    r.s = tb_sock(b, fd);
    r.domain = AF_INET;
    r.type = SOCK_STREAM | SOCK_NONBLOCK;
    r.result = fd;
    tb_put(b, EPT_SOCKET, &r, sizeof(r), NULL, 0);
    return fd;
}

/* socket() + listen(). */
static inline int tb_listener(struct tb *b, int fd)
{
    tb_socket(b, fd);
    struct ept_listen r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.addr.family = AF_INET;
    r.addr.port = 8080;
    r.backlog = 511;
    tb_put(b, EPT_LISTEN, &r, sizeof(r), NULL, 0);
    return fd;
}

/* accept4 on listener l: the new fd, or result < 0 (e.g. -EAGAIN). */
static inline int tb_accept(struct tb *b, int l, int result)
{
    struct ept_accept r;
    memset(&r, 0, sizeof(r));
    r.listener = tb_sock(b, l);
    r.result = result;
    if (result >= 0) {
        tb_new(b, result);
        r.s = tb_sock(b, result);
        r.peer.family = AF_INET;
        r.peer.port = (uint16_t)(40000 + result);
    } else {
        r.s.fd = -1;
    }
    tb_put(b, EPT_ACCEPT, &r, sizeof(r), NULL, 0);
    return result;
}

/* socket() + connect() = result (0 or -EINPROGRESS). */
static inline int tb_connect(struct tb *b, int fd, int result)
{
    tb_socket(b, fd);
    struct ept_connect r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.backend = 0xffff;
    r.result = result;
    r.addr.family = AF_INET;
    r.addr.port = 9001;
    tb_put(b, EPT_CONNECT, &r, sizeof(r), NULL, 0);
    return fd;
}

static inline void tb_ctl(struct tb *b, int ep, int op, int fd, uint32_t events)
{
    struct ept_epoll_ctl r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.epfd = ep;
    r.op = op;
    r.events = events;
    tb_put(b, EPT_EPOLL_CTL, &r, sizeof(r), NULL, 0);
}

/* epoll_wait returning n events (n tb_ready calls follow), after blocking ns. */
static inline void tb_wait_blocked(struct tb *b, int ep, int n, uint64_t ns)
{
    struct ept_epoll_wait r;
    memset(&r, 0, sizeof(r));
    r.epfd = ep;
    r.timeout = -1;
    r.maxevents = 64;
    r.result = n;
    r.blocked_ns = ns;
    tb_put(b, EPT_EPOLL_WAIT, &r, sizeof(r), NULL, 0);
}

/* epoll_wait returning n events (n tb_ready calls follow), after blocking a while. */
static inline void tb_wait(struct tb *b, int ep, int n)
{
    tb_wait_blocked(b, ep, n, 1000);
}

/* One event of the last wait; sid: the file registered under fd (0: what fd names now). */
static inline void tb_ready_sid(struct tb *b, int fd, uint32_t sid, uint32_t events,
                                uint32_t index)
{
    struct ept_ready r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    if (sid)
        r.s.sid = sid;
    r.events = events;
    r.index = index;
    tb_put(b, EPT_READY, &r, sizeof(r), NULL, 0);
}

static inline void tb_ready(struct tb *b, int fd, uint32_t events)
{
    tb_ready_sid(b, fd, 0, events, 0);
}

/* A wait that returns exactly one event. */
static inline void tb_wait1(struct tb *b, int ep, int fd, uint32_t events)
{
    tb_wait(b, ep, 1);
    tb_ready(b, fd, events);
}

static inline void tb_io(struct tb *b, uint16_t type, int fd, uint32_t asked, int32_t result,
                         const char *data)
{
    struct ept_io r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.asked = asked;
    r.result = result;
    size_t n = result > 0 && data ? strlen(data) : 0;
    if (n > (size_t)result)
        n = (size_t)result;
    r.preview_len = (uint16_t)n;
    tb_put(b, type, &r, sizeof(r), data, n);
}

static inline void tb_read(struct tb *b, int fd, uint32_t asked, int32_t result)
{
    tb_io(b, EPT_READ, fd, asked, result, result > 0 ? "GET / HTTP/1.1\r\n\r\n" : NULL);
}

static inline void tb_write(struct tb *b, int fd, uint32_t asked, int32_t result)
{
    tb_io(b, EPT_WRITE, fd, asked, result, result > 0 ? "HTTP/1.1 200 OK\r\n" : NULL);
}

static inline void tb_shutdown(struct tb *b, int fd, int how)
{
    struct ept_shutdown r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.how = how;
    tb_put(b, EPT_SHUTDOWN, &r, sizeof(r), NULL, 0);
}

/* close(fd), with flags/unread as the recorders note what the kernel still held (0: not
 * known); on a number that names nothing it fails with EBADF, as the kernel says. */
static inline void tb_close_noting(struct tb *b, int fd, uint32_t flags, uint32_t unread)
{
    struct ept_close r;
    memset(&r, 0, sizeof(r));
    r.s = tb_sock(b, fd);
    r.result = r.s.sid ? 0 : -EBADF;
    r.reason = EPT_CLOSE_CALL;
    r.flags = flags;
    r.unread = unread;
    tb_put(b, EPT_CLOSE, &r, sizeof(r), NULL, 0);
    if (fd >= 0 && fd < TB_FDS)
        b->sid[fd] = 0;
}

static inline void tb_close(struct tb *b, int fd)
{
    tb_close_noting(b, fd, 0, 0);
}

/* close(fd) with the bytes the kernel still held for reading. */
static inline void tb_close_unread(struct tb *b, int fd, uint32_t unread)
{
    tb_close_noting(b, fd, EPT_CLOSEF_UNREAD, unread);
}

/* The proxy's note of what the kernel held on fd when a handler left it (EPT_QUEUE_*). */
static inline void tb_queue(struct tb *b, int fd, uint32_t kind, uint32_t count, uint32_t max)
{
    struct ept_queue q;
    memset(&q, 0, sizeof(q));
    q.s = tb_sock(b, fd);
    q.kind = kind;
    q.count = count;
    q.max = max;
    tb_put(b, EPT_QUEUE, &q, sizeof(q), NULL, 0);
}

/* dup2(oldfd, newfd): newfd names oldfd's file (what it named before is closed). */
static inline void tb_dup2(struct tb *b, int oldfd, int newfd)
{
    struct ept_dup r;
    memset(&r, 0, sizeof(r));
    b->sid[newfd] = b->sid[oldfd];
    r.s = tb_sock(b, newfd);
    r.oldfd = oldfd;
    r.result = newfd;
    r.call = EPT_CALL_DUP2;
    tb_put(b, EPT_DUP, &r, sizeof(r), NULL, 0);
}

static inline void tb_lost(struct tb *b, uint64_t n)
{
    struct ept_lost r;
    memset(&r, 0, sizeof(r));
    r.count = n;
    r.first_seq = b->seq + 1;
    r.last_seq = b->seq + n;
    r.first_ns = b->ns;
    r.last_ns = b->ns;
    b->seq += n;
    tb_put(b, EPT_LOST, &r, sizeof(r), NULL, 0);
    b->lost += n;
}

/* Write the END record and the last block, close the file. Returns 0 or -EIO. */
static inline int tb_end(struct tb *b)
{
    struct ept_end e;
    memset(&e, 0, sizeof(e));
    e.records = b->seq + 1;
    e.lost = b->lost;
    tb_put(b, EPT_END, &e, sizeof(e), NULL, 0);
    tb_flush(b);
    int bad = ferror(b->f);
    return fclose(b->f) || bad ? -EIO : 0;
}

#endif
