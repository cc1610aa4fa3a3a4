/* synth.h - writes deterministic synthetic traces for the viewer's tests and benchmark.
 *
 * The records imitate an edge-oneshot (or level / edge) proxy serving one request per
 * connection: every time, fd, port and byte count is a function of the record's position,
 * so the same call always writes the same file, byte for byte. With SYNTH_MISTRIGGER one
 * connection in `every` commits the origin's mis-trigger (an EPOLLIN after the response
 * was read, an empty read, an empty buffer forwarded). Blocks are written directly (no
 * ring, no thread), so ten million records take about a second.
 */
#ifndef EPSCOPE_SYNTH_H
#define EPSCOPE_SYNTH_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ept.h"

#define SYNTH_MISTRIGGER 1u /* every `every`-th connection mis-triggers */
#define SYNTH_TIMEOUTS 2u   /* an empty epoll_wait (timeout) between connections */
#define SYNTH_BLOCK (64u << 10)

struct synth {
    FILE *f;
    uint8_t buf[SYNTH_BLOCK];
    size_t len;
    uint32_t nrec;
    uint64_t seq, ns;
    uint64_t first_ns;
    uint32_t next_sid, next_conn;
    unsigned mode;
    unsigned flags;
    unsigned every;
    uint64_t records;
};

static inline void synth_flush(struct synth *s)
{
    if (!s->nrec)
        return;
    struct ept_block b;
    uint32_t trailer[2];
    ept_block_seal(&b, trailer, s->buf, s->len, s->nrec);
    fwrite(&b, sizeof(b), 1, s->f);
    fwrite(s->buf, 1, s->len, s->f);
    fwrite(trailer, sizeof(trailer), 1, s->f);
    s->len = 0;
    s->nrec = 0;
}

/* Append a record of struct size sz (whose header is filled here) plus tail bytes. */
static inline void synth_put(struct synth *s, uint16_t type, void *rec, size_t sz,
                             const void *tail, size_t tlen)
{
    size_t total = ept_pad8(sz + tlen);
    if (s->len + total > SYNTH_BLOCK)
        synth_flush(s);
    struct ept_rec *h = rec;
    h->type = type;
    h->size = (uint16_t)total;
    h->tid = 0;
    h->seq = ++s->seq;
    s->ns += 1000 + (s->seq % 7) * 100; /* a fixed, irregular clock */
    h->ns = s->ns;
    memcpy(s->buf + s->len, rec, sz);
    if (tlen)
        memcpy(s->buf + s->len + sz, tail, tlen);
    memset(s->buf + s->len + sz + tlen, 0, total - sz - tlen);
    s->len += total;
    s->nrec++;
    s->records++;
}

static inline struct ept_addr synth_addr(uint16_t port)
{
    struct ept_addr a;
    memset(&a, 0, sizeof(a));
    a.family = AF_INET;
    a.port = port;
    a.ip[0] = 127;
    a.ip[3] = 1;
    return a;
}

static inline struct ept_sock synth_sock(int fd, uint32_t sid, uint32_t conn, unsigned role)
{
    struct ept_sock k;
    memset(&k, 0, sizeof(k));
    k.fd = fd;
    k.sid = sid;
    k.conn = conn;
    k.role = (uint8_t)role;
    return k;
}

static inline void synth_ctl(struct synth *s, struct ept_sock k, int op, uint32_t ev)
{
    struct ept_epoll_ctl c;
    memset(&c, 0, sizeof(c));
    c.s = k;
    c.epfd = 4;
    c.op = op;
    c.events = ev;
    synth_put(s, EPT_EPOLL_CTL, &c, sizeof(c), NULL, 0);
}

static inline void synth_wait(struct synth *s, int timeout, int result)
{
    struct ept_epoll_wait w;
    memset(&w, 0, sizeof(w));
    w.epfd = 4;
    w.timeout = timeout;
    w.maxevents = 256;
    w.result = result;
    w.blocked_ns = result ? 5000 : (uint64_t)timeout * 1000000;
    synth_put(s, EPT_EPOLL_WAIT, &w, sizeof(w), NULL, 0);
}

static inline void synth_ev(struct synth *s, uint16_t type, struct ept_sock k, uint32_t ev,
                            uint32_t index)
{
    struct ept_ready r;
    memset(&r, 0, sizeof(r));
    r.s = k;
    r.events = ev;
    r.index = index;
    synth_put(s, type, &r, sizeof(r), NULL, 0);
}

static inline void synth_io(struct synth *s, uint16_t type, struct ept_sock k, uint32_t asked,
                            int32_t result, const char *text)
{
    struct ept_io io;
    memset(&io, 0, sizeof(io));
    io.s = k;
    io.asked = asked;
    io.result = result;
    size_t n = result > 0 && text ? strlen(text) : 0;
    if (n > 64)
        n = 64;
    io.preview_len = (uint16_t)n;
    synth_put(s, type, &io, sizeof(io), text, n);
}

static inline void synth_close(struct synth *s, struct ept_sock k)
{
    struct ept_close c;
    memset(&c, 0, sizeof(c));
    c.s = k;
    c.reason = EPT_CLOSE_DONE;
    synth_put(s, EPT_CLOSE, &c, sizeof(c), NULL, 0);
}

/* Open path and write the header and the proxy's start (epoll_create, listen, ADD). */
static inline int synth_open(struct synth *s, const char *path, unsigned mode, unsigned flags,
                             unsigned every)
{
    memset(s, 0, sizeof(*s));
    s->f = fopen(path, "wb");
    if (!s->f)
        return -errno;
    s->mode = mode;
    s->flags = flags;
    s->every = every ? every : 1;
    s->next_sid = 2;
    s->next_conn = 1;
    struct ept_header h;
    static const char config[] = "listen=127.0.0.1:8080\nbackend=127.0.0.1:9001\n";
    ept_header_init(&h, (uint8_t)mode, EPT_MODE_LEVEL, 64, 1u << 22);
    h.mono_start_ns = 1000000000ull;
    h.wall_start_ns = 1700000000ull * 1000000000ull;
    h.pid = 4242;
    s->ns = h.mono_start_ns;
    size_t hs = ept_header_size(sizeof(config) - 1);
    uint8_t *hb = calloc(1, hs);
    if (!hb) {
        fclose(s->f);
        return -ENOMEM;
    }
    ept_header_encode(&h, config, sizeof(config) - 1, hb);
    fwrite(hb, 1, hs, s->f);
    free(hb);

    struct ept_epoll_create ec;
    memset(&ec, 0, sizeof(ec));
    ec.result = 4;
    ec.flags = 1;
    synth_put(s, EPT_EPOLL_CREATE, &ec, sizeof(ec), NULL, 0);
    struct ept_listen l;
    memset(&l, 0, sizeof(l));
    l.s = synth_sock(5, 1, 0, EPT_ROLE_LISTENER);
    l.addr = synth_addr(8080);
    l.backlog = 4096;
    synth_put(s, EPT_LISTEN, &l, sizeof(l), NULL, 0);
    synth_ctl(s, l.s, EPOLL_CTL_ADD, EPOLLIN);
    return 0;
}

/* One connection: accept, pick, connect, request, response, close (about 30 records). */
static inline void synth_conn(struct synth *s)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
    static const char resp[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";
    uint32_t conn = s->next_conn++;
    int bad = (s->flags & SYNTH_MISTRIGGER) && conn % s->every == 0;
    struct ept_sock lis = synth_sock(5, 1, 0, EPT_ROLE_LISTENER);
    struct ept_sock cl = synth_sock(6, s->next_sid++, conn, EPT_ROLE_CLIENT);
    struct ept_sock be = synth_sock(7, s->next_sid++, conn, EPT_ROLE_BACKEND);
    int oneshot = s->mode == EPT_MODE_ONESHOT, edge = s->mode == EPT_MODE_EDGE;
    uint32_t cin = EPOLLIN | EPOLLRDHUP | (oneshot ? EPOLLET | EPOLLONESHOT : 0) |
                   (edge ? EPOLLOUT | EPOLLET : 0);
    uint32_t bin = bad ? EPOLLIN | EPOLLRDHUP : cin;
    uint32_t bout = oneshot ? EPOLLOUT | EPOLLET | EPOLLONESHOT : edge ? cin : EPOLLOUT;
    uint32_t cout = oneshot ? EPOLLOUT | EPOLLET | EPOLLONESHOT : EPOLLOUT;

    if (s->flags & SYNTH_TIMEOUTS && conn % 4 == 0)
        synth_wait(s, 1000, 0);
    synth_wait(s, -1, 1);
    synth_ev(s, EPT_READY, lis, EPOLLIN, 0);
    synth_ev(s, EPT_HANDLE, lis, EPOLLIN, 0);
    struct ept_accept a;
    memset(&a, 0, sizeof(a));
    a.listener = lis;
    a.s = cl;
    a.result = 6;
    a.peer = synth_addr((uint16_t)(40000 + conn % 20000));
    synth_put(s, EPT_ACCEPT, &a, sizeof(a), NULL, 0);
    synth_ctl(s, cl, EPOLL_CTL_ADD, cin);
    struct ept_pick p;
    memset(&p, 0, sizeof(p));
    p.client = cl;
    p.attempt = 1;
    p.active = 1;
    synth_put(s, EPT_PICK, &p, sizeof(p), NULL, 0);
    struct ept_connect c;
    memset(&c, 0, sizeof(c));
    c.s = be;
    c.result = -EINPROGRESS;
    c.addr = synth_addr(9001);
    synth_put(s, EPT_CONNECT, &c, sizeof(c), NULL, 0);
    synth_ctl(s, be, EPOLL_CTL_ADD, bad ? EPOLLOUT : bout);
    a.s = synth_sock(-1, 0, 0, 0);
    a.result = -EAGAIN;
    memset(&a.peer, 0, sizeof(a.peer));
    synth_put(s, EPT_ACCEPT, &a, sizeof(a), NULL, 0);

    synth_wait(s, 1000, 2);
    synth_ev(s, EPT_READY, cl, EPOLLIN, 0);
    synth_ev(s, EPT_READY, be, EPOLLOUT, 1);
    synth_ev(s, EPT_HANDLE, cl, EPOLLIN, 0);
    synth_io(s, EPT_READ, cl, 16384, (int32_t)strlen(req), req);
    synth_io(s, EPT_READ, cl, 16384, -EAGAIN, NULL);
    synth_ev(s, EPT_HANDLE, be, EPOLLOUT, 1);
    c.phase = 1;
    c.result = 0;
    synth_put(s, EPT_CONNECT, &c, sizeof(c), NULL, 0);
    synth_io(s, EPT_WRITE, be, (uint32_t)strlen(req), (int32_t)strlen(req), req);
    if (oneshot || bad)
        synth_ctl(s, be, EPOLL_CTL_MOD, bin);

    synth_wait(s, 60000, 1);
    synth_ev(s, EPT_READY, be, EPOLLIN, 0);
    synth_ev(s, EPT_HANDLE, be, EPOLLIN, 0);
    synth_io(s, EPT_READ, be, 16384, (int32_t)strlen(resp), resp);
    if (oneshot)
        synth_ctl(s, cl, EPOLL_CTL_MOD, cout);
    if (bad) {
        /* the origin's bug: EPOLLIN again on the backend (its EOF), trusted as data */
        synth_wait(s, 60000, 2);
        synth_ev(s, EPT_READY, be, EPOLLIN | EPOLLRDHUP | EPOLLHUP, 0);
        synth_ev(s, EPT_READY, cl, EPOLLOUT, 1);
        synth_ev(s, EPT_HANDLE, be, EPOLLIN | EPOLLRDHUP | EPOLLHUP, 0);
        synth_io(s, EPT_READ, be, 16384, 0, NULL);
        synth_ev(s, EPT_HANDLE, cl, EPOLLOUT, 1);
        synth_io(s, EPT_WRITE, cl, 0, 0, NULL);
    } else {
        synth_wait(s, 60000, 1);
        synth_ev(s, EPT_READY, cl, EPOLLOUT, 0);
        synth_ev(s, EPT_HANDLE, cl, EPOLLOUT, 0);
        synth_io(s, EPT_WRITE, cl, (uint32_t)strlen(resp), (int32_t)strlen(resp), resp);
    }
    synth_close(s, cl);
    synth_close(s, be);
}

/* Write the END record and the last block, close the file. Returns 0 or -EIO. */
static inline int synth_finish(struct synth *s)
{
    struct ept_end e;
    memset(&e, 0, sizeof(e));
    e.records = s->seq + 1;
    synth_put(s, EPT_END, &e, sizeof(e), NULL, 0);
    synth_flush(s);
    int bad = ferror(s->f);
    return fclose(s->f) || bad ? -EIO : 0;
}

/* A whole trace of at least `records` records (plus the END). */
static inline int synth_trace(const char *path, unsigned mode, unsigned flags, unsigned every,
                              uint64_t records)
{
    struct synth *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    int rc = synth_open(s, path, mode, flags, every);
    if (rc == 0) {
        while (s->records < records)
            synth_conn(s);
        rc = synth_finish(s);
    }
    free(s);
    return rc;
}

#endif
