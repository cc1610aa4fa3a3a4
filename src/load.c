/* load.c - `epscope load`: N requests over C connections, paced or flat out, every response
 * checked byte for byte, latency percentiles and a grep-able summary.
 *
 * One epoll loop, level-triggered. Each of the C slots runs one connection at a time:
 * connect, write a batch (1 request, or K pipelined), read the batch's responses, then
 * reuse the connection (--keepalive) or close it, and start the next batch. Every request
 * ends as ok or as failed with one reason. The request timeout and the slow-read pause have
 * fixed lengths, so their deadlines come in order: a FIFO list per kind (tlist.h) is a
 * complete timer.
 */
#include "load.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "fdlimit.h"
#include "http.h"
#include "net.h"
#include "tlist.h"
#include "xmem.h"

#define READ_CHUNK (256 * 1024) /* bytes per read */
#define MAX_EVENTS 256
#define MAX_BACKENDS 256          /* distinct X-Backend values counted by name */
#define MAX_DETAILS 5             /* failures described one by one on stderr */
#define SLOW_PAUSE_NS 10000000ull /* --slow-read reads at most once per 10 ms */

enum reason {
    R_CONNECT, /* connect failed */
    R_RESET,   /* read or write error (RST) */
    R_CLOSED,  /* EOF before the response was complete */
    R_TIMEOUT, /* no complete response within --timeout */
    R_HEAD,    /* malformed or oversized response head */
    R_STATUS,  /* status other than 200 */
    R_LENGTH,  /* a Transfer-Encoding: bodies are read by Content-Length or to close */
    R_SIZE,    /* Content-Length differs from --expect-size / --expect-body */
    R_BODY,    /* a body byte differs from the expected one */
    R_EXTRA,   /* bytes after the last response the server owed */
    R_COUNT
};

static const char *const reason_names[R_COUNT] = {
    "connect", "reset",     "closed", "timeout", "bad-head",
    "status",  "no-length", "size",   "body",    "extra-bytes",
};

struct conn {
    int fd; /* -1 when the slot has no connection */
    uint32_t events;
    bool registered; /* the fd is in the epoll set */
    bool connecting;
    unsigned outstanding;  /* requests of the current batch not yet answered */
    size_t wr_off, wr_len; /* progress writing the batch */
    uint64_t t_start;      /* when the batch was issued (connect or write) */
    /* the response being read */
    bool in_body;
    bool to_close; /* the body has no length: it ends when the server closes (RFC 9112 6.3) */
    struct http_resp resp;
    uint64_t body_off, body_len;
    uint64_t bad_at; /* body offset of the first wrong byte */
    int verdict;     /* -1 ok so far, or the reason it failed */
    char *left;      /* a partial head carried to the next read */
    size_t left_len;
    bool saw_close; /* a response of this connection announced Connection: close */
    bool last_ok;   /* the last response of this connection counted as ok */
    size_t lat_idx; /* ... and where its latency is in lat[] */
    /* --slow-read */
    double tokens;
    uint64_t tok_t;
    bool paused;
    /* timers and the rate queue */
    bool in_rq, in_sq;
    struct tlist_node timeout, pause; /* on tq, on pq */
    struct conn *rnext;  /* rate queue (singly linked) */
    struct conn *snext;  /* start queue (singly linked) */
};

struct backend_count {
    char name[HTTP_NAME_MAX];
    uint64_t n;
};

struct load {
    /* options */
    uint64_t n_req, conc, pipeline, slow_bps, expect_size;
    double rate;
    uint64_t timeout_ns, wait_ns;
    bool keepalive, half_close, quiet, have_expect_size;
    const char *expect_body;
    size_t expect_body_len;
    struct net_addr addr;
    char where[128];
    /* the request, pipeline copies back to back */
    char *req;
    size_t req_len;
    /* state */
    int ep;
    struct conn *conns;
    uint64_t now, t0, issued, done, ok, failed, fail_by[R_COUNT], body_bytes, details;
    uint32_t *lat;
    size_t nlat;
    struct tlist tq, pq;            /* request timeouts, slow-read pauses */
    struct conn *rq_head, *rq_tail; /* slots waiting for the rate limiter */
    struct conn *sq_head, *sq_tail; /* slots ready to start their next batch */
    uint64_t rate_issued;
    struct backend_count backends[MAX_BACKENDS];
    size_t nbackends;
    uint64_t other_backends, unnamed;
    uint64_t pause_ns, slow_slice, slow_cap;
    int slow_rcvbuf;
    uint8_t *buf;
    bool stop;
};

uint32_t load_percentile(const uint32_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* (Re)start the request timeout of c: now + --timeout. */
static void timeout_arm(struct load *l, struct conn *c)
{
    tlist_start(&l->tq, &c->timeout, l->now + l->timeout_ns);
}

static void timeout_stop(struct conn *c)
{
    tlist_stop(&c->timeout);
}

static void pause_stop(struct conn *c)
{
    tlist_stop(&c->pause);
    c->paused = false;
}

static void record_failure(struct load *l, enum reason r, unsigned count, const char *detail)
{
    if (!count)
        return;
    l->failed += count;
    l->done += count;
    l->fail_by[r] += count;
    if (!l->quiet && l->details++ < MAX_DETAILS)
        fprintf(stderr, "epscope load: %u request%s failed (%s)%s%s\n", count,
                count == 1 ? "" : "s", reason_names[r], detail ? ": " : "", detail ? detail : "");
}

static void count_backend(struct load *l, const char *name)
{
    if (!*name) {
        l->unnamed++;
        return;
    }
    for (size_t k = 0; k < l->nbackends; k++) {
        if (!strcmp(l->backends[k].name, name)) {
            l->backends[k].n++;
            return;
        }
    }
    if (l->nbackends == MAX_BACKENDS) {
        l->other_backends++;
        return;
    }
    struct backend_count *b = &l->backends[l->nbackends++];
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->n = 1;
}

/* Take back one count_backend(name) (a response found bad after it was counted). */
static void uncount_backend(struct load *l, const char *name)
{
    if (!*name) {
        l->unnamed--;
        return;
    }
    for (size_t k = 0; k < l->nbackends; k++) {
        if (!strcmp(l->backends[k].name, name)) {
            l->backends[k].n--;
            return;
        }
    }
    l->other_backends--;
}

static void conn_update(struct load *l, struct conn *c)
{
    if (c->fd < 0)
        return;
    uint32_t want;
    if (c->connecting)
        want = EPOLLOUT;
    else
        want = (c->wr_off < c->wr_len ? EPOLLOUT : 0) | (c->paused ? 0 : EPOLLIN);
    if (want == c->events && c->registered)
        return;
    /* Nothing wanted (a paused reader): leave epoll entirely, or a hung-up socket would
     * report EPOLLHUP on every turn until the pause ends. */
    struct epoll_event ev = {.events = want, .data.ptr = c};
    int op = !want ? EPOLL_CTL_DEL : c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->ep, op, c->fd, &ev) == 0) {
        c->events = want;
        c->registered = want != 0;
    }
}

/* Close the slot's connection (if any) and reset its per-connection state. */
static void conn_drop(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->events = 0;
    c->registered = false;
    c->connecting = false;
    c->in_body = false;
    c->left_len = 0;
    c->saw_close = false;
    c->last_ok = false;
    c->wr_off = c->wr_len = 0;
    timeout_stop(c);
    pause_stop(c);
}

static void slot_next(struct load *l, struct conn *c);

/* The connection broke: every outstanding request of it fails with reason r. */
static void conn_fail(struct load *l, struct conn *c, enum reason r, const char *detail)
{
    record_failure(l, r, c->outstanding, detail);
    c->outstanding = 0;
    conn_drop(c);
    slot_next(l, c);
}

static int conn_open(struct load *l, struct conn *c)
{
    int fd = net_socket(&l->addr);
    if (fd < 0)
        return fd;
    if (l->slow_bps) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &l->slow_rcvbuf, sizeof(l->slow_rcvbuf));
    }
    c->fd = fd;
    c->tokens = (double)l->slow_slice;
    c->tok_t = l->now;
    int rc;
    do
        rc = connect(fd, (const struct sockaddr *)&l->addr.ss, l->addr.len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        c->fd = -1;
        return rc;
    }
    c->connecting = rc < 0;
    c->events = c->connecting ? EPOLLOUT : EPOLLIN | EPOLLOUT;
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        rc = -errno;
        close(fd);
        c->fd = -1;
        return rc;
    }
    c->registered = true;
    return 0;
}

static void conn_write(struct load *l, struct conn *c)
{
    while (c->wr_off < c->wr_len) {
        ssize_t w = send(c->fd, l->req + c->wr_off, c->wr_len - c->wr_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_fail(l, c, R_RESET, strerror(errno));
            return;
        }
        c->wr_off += (size_t)w;
    }
    if (c->wr_off == c->wr_len && l->half_close)
        shutdown(c->fd, SHUT_WR);
    conn_update(l, c);
}

/* Start the next batch on slot c: connect if needed, then write. */
static void issue(struct load *l, struct conn *c)
{
    uint64_t k = l->n_req - l->issued < l->pipeline ? l->n_req - l->issued : l->pipeline;
    l->issued += k;
    c->outstanding = (unsigned)k;
    c->t_start = l->now;
    c->in_body = false;
    c->left_len = 0;
    timeout_arm(l, c);
    if (c->fd < 0) {
        int rc = conn_open(l, c);
        if (rc < 0) {
            char d[192];
            snprintf(d, sizeof(d), "%s: %s", l->where, strerror(-rc));
            conn_fail(l, c, R_CONNECT, d);
            return;
        }
    }
    c->wr_off = 0;
    c->wr_len = (size_t)k * l->req_len;
    if (!c->connecting)
        conn_write(l, c);
}

static uint64_t rate_due(const struct load *l)
{
    return l->t0 + (uint64_t)((double)l->rate_issued * 1e9 / l->rate);
}

/* Slot c is free: queue it to start its next batch from the loop (not from here, so a run
 * of immediate failures iterates instead of recursing). */
static void slot_next(struct load *l, struct conn *c)
{
    if (c->in_sq || c->in_rq)
        return;
    c->snext = NULL;
    if (l->sq_tail)
        l->sq_tail->snext = c;
    else
        l->sq_head = c;
    l->sq_tail = c;
    c->in_sq = true;
}

/* Start the next batch on slot c now, or queue it behind the rate limiter, or close its
 * connection when every request has been issued. */
static void slot_start(struct load *l, struct conn *c)
{
    if (l->stop || l->issued >= l->n_req) {
        conn_drop(c);
        return;
    }
    if (l->rate > 0) {
        if (l->rq_head || l->now < rate_due(l)) {
            c->rnext = NULL;
            if (l->rq_tail)
                l->rq_tail->rnext = c;
            else
                l->rq_head = c;
            l->rq_tail = c;
            c->in_rq = true;
            return;
        }
        l->rate_issued += l->n_req - l->issued < l->pipeline ? l->n_req - l->issued : l->pipeline;
    }
    issue(l, c);
}

static void start_run(struct load *l)
{
    /* Only the slots queued so far: one that fails at once is queued again, and waits for
     * the next loop turn, so signals and events still get their turn. */
    struct conn *last = l->sq_tail;
    while (l->sq_head) {
        struct conn *c = l->sq_head;
        bool was_last = c == last;
        l->sq_head = c->snext;
        if (!l->sq_head)
            l->sq_tail = NULL;
        c->in_sq = false;
        slot_start(l, c);
        if (was_last)
            break;
    }
}

static void rate_run(struct load *l)
{
    while (l->rq_head && l->now >= rate_due(l)) {
        struct conn *c = l->rq_head;
        l->rq_head = c->rnext;
        if (!l->rq_head)
            l->rq_tail = NULL;
        c->in_rq = false;
        if (l->issued >= l->n_req) {
            conn_drop(c);
            continue;
        }
        l->rate_issued += l->n_req - l->issued < l->pipeline ? l->n_req - l->issued : l->pipeline;
        issue(l, c);
    }
}

/* The current response is complete: count it. */
static void response_done(struct load *l, struct conn *c)
{
    c->in_body = false;
    c->outstanding--;
    if (c->resp.close)
        c->saw_close = true;
    if (c->verdict >= 0) {
        char d[128];
        if (c->verdict == R_STATUS)
            snprintf(d, sizeof(d), "status %d", c->resp.status);
        else if (c->verdict == R_SIZE && c->resp.content_length < 0)
            snprintf(d, sizeof(d), "%llu body bytes before the server closed",
                     (unsigned long long)c->body_len);
        else if (c->verdict == R_SIZE)
            snprintf(d, sizeof(d), "Content-Length %lld", (long long)c->resp.content_length);
        else
            snprintf(d, sizeof(d), "first wrong byte at body offset %llu",
                     (unsigned long long)c->bad_at);
        record_failure(l, (enum reason)c->verdict, 1, d);
        c->last_ok = false;
    } else {
        uint64_t us = (l->now - c->t_start + 500) / 1000;
        c->lat_idx = l->nlat;
        l->lat[l->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        l->ok++;
        l->done++;
        l->body_bytes += c->body_len;
        count_backend(l, c->resp.backend);
        c->last_ok = true;
    }
    if (c->outstanding)
        timeout_arm(l, c);
    else
        timeout_stop(c);
}

/* Check body bytes [body_off, body_off + n) of the current response. */
static void check_body(struct load *l, struct conn *c, const uint8_t *p, size_t n)
{
    size_t good;
    if (l->expect_body) {
        good = 0;
        while (good < n && p[good] == (uint8_t)l->expect_body[c->body_off + good])
            good++;
    } else if (c->resp.body == HTTP_BODY_PATTERN) {
        good = http_pattern_check(p, c->body_off, n);
    } else {
        good = n;
    }
    if (good < n) {
        c->verdict = R_BODY;
        c->bad_at = c->body_off + good;
    }
}

/* Whether a body of len bytes is not what --expect-size or --expect-body asked for. */
static bool size_unexpected(const struct load *l, uint64_t len)
{
    return (l->have_expect_size && len != l->expect_size) ||
           (l->expect_body && len != l->expect_body_len);
}

/* Consume response bytes; returns false when the connection was failed or dropped. */
static bool process(struct load *l, struct conn *c, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        if (!c->outstanding) {
            /* Bytes nobody asked for: the last response was not what it claimed. */
            if (c->last_ok) {
                uncount_backend(l, c->resp.backend);
                l->lat[c->lat_idx] = l->lat[--l->nlat]; /* unsorted yet: order is free */
                l->ok--;
                l->done--;
                l->body_bytes -= c->body_len;
                record_failure(l, R_EXTRA, 1, "bytes after the response");
            }
            conn_drop(c);
            slot_next(l, c);
            return false;
        }
        if (!c->in_body) {
            int rc = http_parse_response((const char *)p + pos, len - pos, &c->resp);
            if (rc == 0) {
                if (!c->left)
                    c->left = xmalloc(HTTP_HEAD_MAX);
                memmove(c->left, p + pos, len - pos);
                c->left_len = len - pos;
                return true;
            }
            if (rc < 0) {
                conn_fail(l, c, R_HEAD, rc == -E2BIG ? "head over 16 KiB" : "malformed head");
                return false;
            }
            pos += (size_t)rc;
            if (c->resp.status >= 100 && c->resp.status < 200 && c->resp.status != 101)
                continue; /* an interim response (100 Continue, 103 Early Hints): a head with
                             no body, and the final response follows (RFC 9110 15.2) */
            if (c->resp.chunked) {
                conn_fail(l, c, R_LENGTH, "Transfer-Encoding (chunked bodies are not read)");
                return false;
            }
            c->in_body = true;
            c->body_off = 0;
            c->to_close = c->resp.content_length < 0;
            c->body_len = c->to_close ? UINT64_MAX : (uint64_t)c->resp.content_length;
            if (c->to_close)
                c->resp.close = true;
            c->verdict = -1;
            if (c->resp.status != 200)
                c->verdict = R_STATUS;
            else if (!c->to_close && size_unexpected(l, c->body_len))
                c->verdict = R_SIZE;
        }
        size_t n = len - pos;
        if (n > c->body_len - c->body_off)
            n = (size_t)(c->body_len - c->body_off);
        if (c->verdict < 0)
            check_body(l, c, p + pos, n);
        c->body_off += n;
        pos += n;
        if (c->body_off == c->body_len) {
            l->now = clock_now_ns();
            response_done(l, c);
        }
    }
    c->left_len = 0;
    return true;
}

/* The batch on c is answered: reuse the connection or close it, then start the next. */
static void batch_done(struct load *l, struct conn *c)
{
    if (!l->keepalive || l->half_close || c->saw_close)
        conn_drop(c);
    slot_next(l, c);
}

/* The server closed c while a body without a length was being read: that close is its end. */
static void body_closed(struct load *l, struct conn *c)
{
    c->to_close = false;
    c->body_len = c->body_off;
    if (c->verdict < 0 && size_unexpected(l, c->body_len))
        c->verdict = R_SIZE;
    l->now = clock_now_ns();
    response_done(l, c);
    if (c->outstanding) {
        conn_fail(l, c, R_CLOSED, "connection closed before a response");
        return;
    }
    batch_done(l, c);
}

/* Refill c's token bucket; returns how many bytes it may read now. */
static size_t slow_allow(struct load *l, struct conn *c)
{
    c->tokens += (double)(l->now - c->tok_t) * (double)l->slow_bps / 1e9;
    c->tok_t = l->now;
    if (c->tokens > (double)l->slow_cap)
        c->tokens = (double)l->slow_cap;
    return c->tokens < 1 ? 0 : (size_t)c->tokens;
}

/* Stop reading c for the fixed pause (fixed, so the pause queue stays in deadline order). */
static void pause_start(struct load *l, struct conn *c)
{
    if (c->fd < 0 || c->pause.on)
        return;
    c->paused = true;
    tlist_start(&l->pq, &c->pause, l->now + l->pause_ns);
    conn_update(l, c);
}

static void conn_read(struct load *l, struct conn *c)
{
    size_t max = READ_CHUNK;
    if (l->slow_bps) {
        max = slow_allow(l, c);
        if (max == 0) {
            pause_start(l, c);
            return;
        }
        if (max > READ_CHUNK)
            max = READ_CHUNK;
    }
    if (c->left_len)
        memcpy(l->buf, c->left, c->left_len);
    ssize_t n;
    do
        n = read(c->fd, l->buf + c->left_len, max);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        conn_fail(l, c, R_RESET, strerror(errno));
        return;
    }
    if (n == 0) {
        if (c->in_body && c->to_close) {
            body_closed(l, c);
        } else if (c->outstanding) {
            conn_fail(l, c, R_CLOSED,
                      c->in_body ? "connection closed in the body"
                                 : "connection closed before a response");
        } else {
            conn_drop(c); /* the server closed an idle connection: fine */
        }
        return;
    }
    if (l->slow_bps)
        c->tokens -= (double)n;
    if (!process(l, c, l->buf, c->left_len + (size_t)n))
        return;
    if (!c->outstanding)
        batch_done(l, c);
    /* Pause once the tokens are spent or the socket is drained: reading each small
     * segment as it trickles in would cost a syscall per segment and not be slower. */
    if (l->slow_bps && (c->tokens < 1 || (size_t)n < max))
        pause_start(l, c);
}

static void on_event(struct load *l, struct conn *c, uint32_t ev)
{
    if (c->fd < 0)
        return;
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (!err && (ev & (EPOLLERR | EPOLLHUP)))
            err = ECONNREFUSED;
        if (err) {
            char d[192];
            snprintf(d, sizeof(d), "%s: %s", l->where, strerror(err));
            conn_fail(l, c, R_CONNECT, d);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        c->connecting = false;
        conn_write(l, c);
        return;
    }
    if (ev & EPOLLOUT && c->wr_off < c->wr_len) {
        conn_write(l, c);
        if (c->fd < 0)
            return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->paused)
        conn_read(l, c);
}

static void on_timers(struct load *l)
{
    struct tlist_node *n;
    while ((n = tlist_expired(&l->pq, l->now))) {
        struct conn *c = tlist_entry(n, struct conn, pause);
        pause_stop(c);
        conn_update(l, c);
    }
    while ((n = tlist_expired(&l->tq, l->now))) {
        struct conn *c = tlist_entry(n, struct conn, timeout);
        char d[64];
        snprintf(d, sizeof(d), "no complete response in %llu ms",
                 (unsigned long long)(l->timeout_ns / 1000000));
        conn_fail(l, c, R_TIMEOUT, d);
    }
    if (l->rate > 0)
        rate_run(l);
    start_run(l);
}

static int next_timeout_ms(const struct load *l)
{
    uint64_t d = tlist_next_due(&l->tq), p = tlist_next_due(&l->pq);
    if (p < d)
        d = p;
    if (l->rq_head && rate_due(l) < d)
        d = rate_due(l);
    if (l->sq_head)
        d = l->now;
    if (d == UINT64_MAX)
        return 1000;
    if (d <= l->now)
        return 0;
    uint64_t ms = (d - l->now + 999999) / 1000000; /* round up: never wake before due */
    return ms > 1000 ? 1000 : (int)ms;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_backend(const void *a, const void *b)
{
    return strcmp(((const struct backend_count *)a)->name,
                  ((const struct backend_count *)b)->name);
}

static void print_ms(const char *label, uint32_t us)
{
    printf(" %s %u.%03ums", label, us / 1000, us % 1000);
}

static void summary(struct load *l, double secs)
{
    if (l->quiet)
        return;
    /* a rate and latencies of requests that never got an answer would be figures of
     * nothing: with no request ok there are none */
    printf("requests: %llu ok, %llu failed in %.3fs", (unsigned long long)l->ok,
           (unsigned long long)l->failed, secs);
    if (l->ok && secs > 0)
        printf(" (%.0f req/s)", (double)l->ok / secs);
    printf("\n");
    if (l->nlat) {
        qsort(l->lat, l->nlat, sizeof(l->lat[0]), cmp_u32);
        printf("latency:");
        print_ms("p50", load_percentile(l->lat, l->nlat, 50));
        print_ms("p90", load_percentile(l->lat, l->nlat, 90));
        print_ms("p99", load_percentile(l->lat, l->nlat, 99));
        print_ms("max", l->lat[l->nlat - 1]);
        printf("\n");
    }
    printf("bytes: %llu body bytes verified\n", (unsigned long long)l->body_bytes);
    qsort(l->backends, l->nbackends, sizeof(l->backends[0]), cmp_backend);
    for (size_t k = 0; k < l->nbackends; k++)
        if (l->backends[k].n)
            printf("backend %s: %llu\n", l->backends[k].name,
                   (unsigned long long)l->backends[k].n);
    if (l->other_backends)
        printf("backend (others): %llu\n", (unsigned long long)l->other_backends);
    if (l->unnamed)
        printf("backend -: %llu\n", (unsigned long long)l->unnamed);
    for (int r = 0; r < R_COUNT; r++)
        if (l->fail_by[r])
            printf("failures: %s %llu\n", reason_names[r], (unsigned long long)l->fail_by[r]);
    fflush(stdout);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1; /* the loop checks it each turn; a sleeping epoll_wait gets EINTR */
}

/* One connect to the server within ms milliseconds: 0 when it was accepted, else -errno
 * (-ETIMEDOUT when no answer came in time). */
static int probe(const struct load *l, int ms)
{
    int fd = net_socket(&l->addr);
    if (fd < 0)
        return fd;
    int rc = connect(fd, (const struct sockaddr *)&l->addr.ss, l->addr.len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof(err);
        rc = poll(&p, 1, ms);
        if (rc == 0)
            err = ETIMEDOUT;
        else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        errno = err;
        rc = err ? -1 : 0;
    }
    rc = rc < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* --wait: until the server accepts a connection (closed at once, without a request), or
 * the wait is over. A refused connect is retried every 50 ms, so a server started in the
 * background just before is found listening; any other error ends the wait at once.
 * Returns 0 to go on, or -errno (said on stderr). */
static int wait_listening(const struct load *l)
{
    uint64_t t0 = clock_now_ns(), deadline = t0 + l->wait_ns;
    bool said = false;
    for (;;) {
        uint64_t now = clock_now_ns();
        int left_ms = now < deadline ? (int)((deadline - now + 999999) / 1000000) : 0;
        int rc = probe(l, left_ms ? left_ms : 1);
        if (rc == 0)
            return 0;
        now = clock_now_ns();
        if (interrupted)
            rc = -EINTR; /* Ctrl-C: the wait is over */
        if (rc != -ECONNREFUSED || now >= deadline) {
            if (!l->quiet && rc == -EINTR)
                fprintf(stderr, "epscope load: interrupted after waiting %.3gs for %s to listen\n",
                        (double)(now - t0) / 1e9, l->where);
            else if (!l->quiet)
                fprintf(stderr, "epscope load: %s: %s (after waiting %.3gs for it to listen)\n",
                        l->where, strerror(-rc), (double)(now - t0) / 1e9);
            return rc;
        }
        if (!said && !l->quiet)
            fprintf(stderr, "epscope load: %s refused the connection; trying again for %.3gs\n",
                    l->where, (double)l->wait_ns / 1e9);
        said = true;
        uint64_t nap = deadline - now < 50000000 ? deadline - now : 50000000;
        struct timespec ts = {0, (long)nap}; /* the last probe at the deadline */
        nanosleep(&ts, NULL);
    }
}

static int load_run(struct load *l)
{
    int rc = 0;
    l->conns = xcalloc(l->conc, sizeof(*l->conns));
    l->lat = xreallocarray(NULL, l->n_req, sizeof(*l->lat));
    l->buf = xmalloc(READ_CHUNK + HTTP_HEAD_MAX);
    for (uint64_t k = 0; k < l->conc; k++)
        l->conns[k].fd = -1; /* before any goto fail: it closes what is >= 0 */
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        rc = -errno;
        fprintf(stderr, "epscope load: cannot start: epoll_create1: %s\n", strerror(-rc));
        goto fail;
    }
    fdlimit_raise();
    /* A Ctrl-C or SIGTERM ends the run with a summary of what was done so far (during
     * --wait: with one line, as a wait that ran out). */
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (l->wait_ns && (rc = wait_listening(l)) < 0) {
        l->failed = l->n_req; /* none was sent: the exit status says the run failed */
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        goto fail;
    }
    l->now = l->t0 = clock_now_ns();
    for (uint64_t k = 0; k < l->conc; k++)
        slot_next(l, &l->conns[k]);
    start_run(l);
    struct epoll_event evs[MAX_EVENTS];
    while (l->done < l->n_req && !interrupted) {
        int n = epoll_wait(l->ep, evs, MAX_EVENTS, next_timeout_ms(l));
        l->now = clock_now_ns();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            fprintf(stderr, "epscope load: epoll_wait: %s\n", strerror(-rc));
            break;
        }
        for (int k = 0; k < n; k++)
            on_event(l, evs[k].data.ptr, evs[k].events);
        on_timers(l);
    }
    double secs = (double)(clock_now_ns() - l->t0) / 1e9;
    l->stop = interrupted;
    if (l->stop)
        fprintf(stderr, "epscope load: interrupted after %llu of %llu requests\n",
                (unsigned long long)l->done, (unsigned long long)l->n_req);
    summary(l, secs);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
fail:
    if (l->conns) {
        for (uint64_t k = 0; k < l->conc; k++) {
            if (l->conns[k].fd >= 0)
                close(l->conns[k].fd);
            free(l->conns[k].left);
        }
    }
    free(l->conns);
    free(l->lat);
    free(l->buf);
    if (l->ep >= 0)
        close(l->ep);
    return rc;
}

static const char usage[] =
    "usage: epscope load URL [--requests N] [--concurrency C] [--rate R] [--keepalive]\n"
    "                    [--pipeline K] [--half-close] [--slow-read BYTES] [--timeout MS]\n"
    "                    [--expect-size N] [--expect-body TEXT] [--wait SECS] [--quiet]\n"
    "\n"
    "Send N GET requests for URL (http://HOST:PORT/PATH; HOST a name, IPv4 or [IPv6]) over\n"
    "C connections from one epoll loop, and check every response byte for byte: status 200,\n"
    "a Content-Length matched by the bytes received, and a body equal to the pattern when\n"
    "the response says 'X-Body: pattern' (as 'epscope backend --size' sends), or to\n"
    "--expect-body / of length --expect-size when given. A connection closed or reset before\n"
    "a complete response, a timeout, a failed connect or a wrong byte fails the request.\n"
    "\n"
    "  -n, --requests N      requests in total (default 100)\n"
    "  -c, --concurrency C   connections at once (default 1, at most 100000; the open-files\n"
    "                        limit is raised to its hard limit when needed)\n"
    "  --rate R              at most R requests per second in total (default: flat out)\n"
    "  -k, --keepalive       reuse connections (HTTP/1.1 keep-alive); without it every\n"
    "                        request has its own connection and says 'Connection: close'\n"
    "  --pipeline K          write K requests at once per connection, then read the K\n"
    "                        responses (implies --keepalive; default 1, at most 1000)\n"
    "  --half-close          after writing, shutdown(SHUT_WR) the connection; the full\n"
    "                        response must still arrive (one batch per connection)\n"
    "  --slow-read BYTES     read each connection at most BYTES per second (k, m suffixes),\n"
    "                        with a small receive buffer so the server feels it\n"
    "  --timeout MS          fail a request with no complete response MS ms after it was\n"
    "                        sent (or after the response before it, when pipelined);\n"
    "                        default 10000: raise it for big bodies with --slow-read\n"
    "  --expect-size N       every body must be exactly N bytes (k, m, g suffixes)\n"
    "  --expect-body TEXT    every body must be exactly TEXT\n"
    "  --wait SECS           first wait up to SECS seconds (at most 600) for the server to\n"
    "                        accept a connection, trying again while it is refused: for a\n"
    "                        server just started in the background (the test connection is\n"
    "                        closed without a request); default: no wait\n"
    "  -q, --quiet           print nothing; the exit status tells\n"
    "  -h, --help            this text\n"
    "\n"
    "Summary on stdout, one fact per line:\n"
    "  requests: 300 ok, 0 failed in 0.512s (586 req/s)\n"
    "  latency: p50 0.410ms p90 0.900ms p99 2.100ms max 3.000ms    (of the ok requests)\n"
    "  bytes: 3900 body bytes verified\n"
    "  backend NAME: 100        one per X-Backend value, sorted by name ('-': none sent)\n"
    "  failures: REASON COUNT   one per reason, only when some failed; reasons: connect,\n"
    "                           reset, closed, timeout, bad-head, status, no-length (a\n"
    "                           chunked body), size, body, extra-bytes\n"
    "A body is read by its Content-Length or, without one, until the server closes.\n"
    "The first few failures are also described on stderr.\n"
    "\n"
    "Exit status: 0 every request succeeded, 1 some failed (or interrupted), 2 bad options.\n";

/* Fill l's options from the command line (the URL into *url). Returns -1 to go on, or the
 * exit status (a usage error, --help). */
static int load_parse(int argc, char **argv, struct load *l, const char **url)
{
    enum { O_RATE = 256, O_PIPE, O_HALF, O_SLOW, O_TIMEOUT, O_ESIZE, O_EBODY, O_WAIT };
    static const struct option opts[] = {
        {"requests", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"rate", required_argument, NULL, O_RATE},
        {"keepalive", no_argument, NULL, 'k'},
        {"pipeline", required_argument, NULL, O_PIPE},
        {"half-close", no_argument, NULL, O_HALF},
        {"slow-read", required_argument, NULL, O_SLOW},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"expect-size", required_argument, NULL, O_ESIZE},
        {"expect-body", required_argument, NULL, O_EBODY},
        {"wait", required_argument, NULL, O_WAIT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    l->n_req = 100;
    l->conc = 1;
    l->pipeline = 1;
    l->timeout_ns = 10000ull * 1000000;
    int o;
    long v;
    uint64_t u;
    char *end;
    optind = 1;
    /* "-" first: the URL may come before or after the options. */
    while ((o = cli_getopt("load", argc, argv, "-n:c:kqh", opts, NULL)) != -1) {
        switch (o) {
        case 1:
            if (*url) {
                cli_usage_error("load", "one URL only ('%s'?)", optarg);
                return EXIT_USAGE;
            }
            *url = optarg;
            break;
        case 'n':
            if (cli_parse_size(optarg, 1, 100000000, &l->n_req) < 0) {
                cli_usage_error("load", "--requests '%s': expected 1 to 100m", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'c':
            if (cli_parse_size(optarg, 1, 100000, &l->conc) < 0) {
                cli_usage_error("load", "--concurrency '%s': expected 1 to 100000", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_RATE:
            errno = 0;
            l->rate = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(l->rate > 0) || l->rate > 1e9) {
                cli_usage_error("load", "--rate '%s': expected requests per second > 0", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'k':
            l->keepalive = true;
            break;
        case O_PIPE:
            if (cli_parse_int(optarg, 1, 1000, &v) < 0) {
                cli_usage_error("load", "--pipeline '%s': expected 1 to 1000", optarg);
                return EXIT_USAGE;
            }
            l->pipeline = (uint64_t)v;
            l->keepalive = true;
            break;
        case O_HALF:
            l->half_close = true;
            break;
        case O_SLOW:
            if (cli_parse_size(optarg, 1, 1ull << 40, &l->slow_bps) < 0) {
                cli_usage_error("load", "--slow-read '%s': expected bytes per second >= 1",
                                optarg);
                return EXIT_USAGE;
            }
            break;
        case O_TIMEOUT:
            if (cli_parse_int(optarg, 1, 86400000, &v) < 0) {
                cli_usage_error("load", "--timeout '%s': expected 1 to 86400000 ms", optarg);
                return EXIT_USAGE;
            }
            l->timeout_ns = (uint64_t)v * 1000000;
            break;
        case O_ESIZE:
            if (cli_parse_size(optarg, 0, 1ull << 50, &u) < 0) {
                cli_usage_error("load", "--expect-size '%s': expected a byte count", optarg);
                return EXIT_USAGE;
            }
            l->expect_size = u;
            l->have_expect_size = true;
            break;
        case O_EBODY:
            l->expect_body = optarg;
            l->expect_body_len = strlen(optarg);
            break;
        case O_WAIT: {
            errno = 0;
            double w = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(w > 0) || w > 600) {
                cli_usage_error("load", "--wait '%s': expected 0 < seconds <= 600", optarg);
                return EXIT_USAGE;
            }
            l->wait_ns = (uint64_t)(w * 1e9);
            break;
        }
        case 'q':
            l->quiet = true;
            break;
        case 'h': fputs(usage, stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default:
            cli_usage_error("load", "unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (!*url) {
        cli_usage_error("load", "which URL? (e.g. http://127.0.0.1:8080/)");
        return EXIT_USAGE;
    }
    return -1;
}

/* Check what the options say together and derive the run's settings from them: the
 * address, the slow-read pacing, the request. Returns -1 to go on, or EXIT_USAGE. */
static int load_prepare(struct load *l, const char *url)
{
    struct http_url pu;
    char err[512];
    if (http_parse_url(url, &pu, err, sizeof(err)) < 0) {
        cli_usage_error("load", "%s", err);
        return EXIT_USAGE;
    }
    if (net_parse(pu.hostport, &l->addr, err, sizeof(err)) < 0) {
        cli_usage_error("load", "%s", err);
        return EXIT_USAGE;
    }
    if (l->expect_body && l->have_expect_size && l->expect_size != l->expect_body_len) {
        cli_usage_error("load", "--expect-size %llu disagrees with --expect-body (%zu bytes)",
                        (unsigned long long)l->expect_size, l->expect_body_len);
        return EXIT_USAGE;
    }
    net_format(&l->addr, l->where, sizeof(l->where));
    if (l->conc > l->n_req)
        l->conc = l->n_req;
    if (l->slow_bps) {
        /* One read per pause of 10 ms (longer below 100 B/s, so each earns a byte), of
         * the tokens earned meanwhile; a receive buffer of two such slices, so the server
         * (or proxy) feels the slowness within a few pauses. */
        l->pause_ns = SLOW_PAUSE_NS;
        if (1000000000ull / l->slow_bps > l->pause_ns)
            l->pause_ns = 1000000000ull / l->slow_bps;
        l->slow_slice = l->slow_bps * l->pause_ns / 1000000000ull;
        if (l->slow_slice < 1)
            l->slow_slice = 1;
        l->slow_cap = 2 * l->slow_slice;
        uint64_t rb = 2 * l->slow_slice;
        l->slow_rcvbuf = rb < 4096 ? 4096 : rb > (4u << 20) ? (4 << 20) : (int)rb;
    }

    char one[2600];
    int len =
        snprintf(one, sizeof(one),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: epscope-load/%s\r\n"
                 "Accept: */*\r\n%s\r\n",
                 pu.path, pu.host, EPSCOPE_VERSION, l->keepalive ? "" : "Connection: close\r\n");
    l->req_len = (size_t)len;
    l->req = xreallocarray(NULL, l->pipeline, l->req_len);
    for (uint64_t k = 0; k < l->pipeline; k++)
        memcpy(l->req + k * l->req_len, one, l->req_len);
    return -1;
}

int load_main(int argc, char **argv)
{
    struct load *l = xcalloc(1, sizeof(*l));
    l->ep = -1;
    const char *url = NULL;
    int ret = load_parse(argc, argv, l, &url);
    if (ret < 0)
        ret = load_prepare(l, url);
    if (ret < 0)
        ret = load_run(l) < 0 || l->failed || l->ok < l->n_req ? 1 : 0;
    free(l->req);
    free(l);
    return ret;
}
