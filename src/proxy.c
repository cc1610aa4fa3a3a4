/* proxy.c - the proxy's event loop and connection state machine.
 *
 * One thread, one epoll set. A client connection and its backend connection form a conn;
 * bytes flow client -> backend through conn.up and backend -> client through conn.down,
 * each a bounded buffer taken from a pool only while it holds data. Each socket remembers
 * what the kernel told it (can_read, can_write) and what it has seen (eof, hup); after
 * every event the loop asks policy.c what the socket should be registered with and issues
 * the epoll_ctl that gets it there. Every syscall that matters goes through a px_* wrapper
 * that records it in the trace.
 *
 * Closing is deferred: a conn closed while handling one event of a batch stays allocated,
 * marked closed, until the batch is done, so a later event of the same batch for one of
 * its sockets is recognised as stale and skipped instead of touching a reused fd.
 *
 * This is the correct loop. The deliberate mistakes of --fault live in fault.c, each a
 * small deviation made through the hooks called here (p->fault->..., NULL when the loop
 * is right).
 */
#include "proxy.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"
#include "fdlimit.h"
#include "policy.h"
#include "px.h"
#include "story.h"
#include "trace.h"

#define LISTEN_PAUSE_NS 100000000u /* after EMFILE/ENFILE: retry accept in 100 ms */
#define SIGCHECK_NS 50000000u      /* a stop request is looked for at least this often */
#define BUF_POOL_BYTES (4u << 20)  /* idle buffers kept for reuse, at most this many bytes:
                                      counted in buffers, 1024 x --buffer 64m pinned 64 GiB */
#define POOL_TRIM_NS 1000000000u   /* no connection for this long: give the pool back */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* --- recorded syscalls ------------------------------------------------------------------ */

/* epoll_ctl(op) for s, with s itself as the event's data; s->reg follows on success. */
void px_ctl(struct proxy *p, struct psock *s, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = s};
    int rc = epoll_ctl(p->ep, op, s->id.fd, &ev) < 0 ? -errno : 0;
    trace_epoll_ctl(p->tr, p->ep, op, &s->id, events, rc);
    if (p->fault->ctl)
        p->fault->ctl(p, s, op, events);
    if (rc < 0)
        return;
    s->reg.in_set = op != EPOLL_CTL_DEL;
    s->reg.events = op == EPOLL_CTL_DEL ? 0 : events;
    s->reg.armed = op != EPOLL_CTL_DEL && events != 0;
}

/* read() into buf, retried on EINTR: bytes, 0 at end-of-file, or -errno. */
long px_read(struct proxy *p, struct psock *s, uint8_t *buf, size_t n)
{
    ssize_t r;
    do
        r = read(s->id.fd, buf, n);
    while (r < 0 && errno == EINTR);
    long res = r < 0 ? -errno : r;
    trace_io(p->tr, EPT_READ, &s->id, n, res, buf);
    if (p->story && res > 0)
        story_received(p->story, s->id.fd, buf,
                       (size_t)res < p->cfg->preview ? (size_t)res : p->cfg->preview);
    return res;
}

/* write() from buf, retried on EINTR: bytes written or -errno. */
long px_write(struct proxy *p, struct psock *s, const uint8_t *buf, size_t n)
{
    ssize_t r;
    do
        r = write(s->id.fd, buf, n);
    while (r < 0 && errno == EINTR);
    long res = r < 0 ? -errno : r;
    trace_io(p->tr, EPT_WRITE, &s->id, n, res, buf);
    if (p->story && res >= 0)
        story_forward(p->story, s->id.fd);
    return res;
}

/* shutdown(SHUT_WR): our FIN, the half-close passed on. */
static void px_shutdown(struct proxy *p, struct psock *s)
{
    int rc = shutdown(s->id.fd, SHUT_WR) < 0 ? -errno : 0;
    trace_shutdown(p->tr, &s->id, SHUT_WR, rc);
    s->wr_shut = true;
}

/* close() (with an RST when reset) for the reason given; closing removes the registration,
 * as no other number names the socket. */
void px_close(struct proxy *p, struct psock *s, unsigned reason, bool reset)
{
    if (!s->open)
        return;
    int unread = -1; /* traced: what the kernel still holds is lost with the socket (none
                        after the end of file: nothing comes after the FIN) */
    if (p->tr && s->eof)
        unread = 0;
    else if (p->tr && ioctl(s->id.fd, FIONREAD, &unread) < 0)
        unread = -1;
    int rc = (reset ? net_close_reset(s->id.fd) : close(s->id.fd)) < 0 ? -errno : 0;
    trace_sock_close(p->tr, &s->id, rc, reason, unread);
    if (s->dup_fd >= 0 && p->fault->closing)
        p->fault->closing(p, s, reason);
    s->open = false;
    s->reg.in_set = false;
}

/* --- buffers ---------------------------------------------------------------------------- */

/* How many idle buffers the pool keeps: BUF_POOL_BYTES worth, none when one buffer is
 * bigger (malloc maps such a buffer by itself and free unmaps it). */
static unsigned pool_max(const struct proxy *p)
{
    return (unsigned)(BUF_POOL_BYTES / p->cfg->buffer);
}

uint8_t *px_buf_get(struct proxy *p)
{
    if (p->npool)
        return p->pool[--p->npool];
    return malloc(p->cfg->buffer);
}

static void buf_put(struct proxy *p, struct buf *b)
{
    if (!b->p)
        return;
    if (p->npool < pool_max(p))
        p->pool[p->npool++] = b->p;
    else
        free(b->p);
    b->p = NULL;
    b->off = b->len = 0;
}

/* Idle with no connection: free the pooled buffers and hand the freed heap back to the
 * kernel, so a burst of big buffers does not stay in RSS once it is over. */
static void pool_release(struct proxy *p)
{
    while (p->npool)
        free(p->pool[--p->npool]);
    malloc_trim(0);
}

static size_t buf_room(const struct proxy *p, const struct buf *b)
{
    return p->cfg->buffer - b->len;
}

/* --- timers: two FIFO lists (tlist.h); every entry of a list has the same duration, so
 * appending at the tail keeps each list sorted by deadline. Every open conn is on exactly
 * one of them (connecting or not), which is also how teardown finds them all. --- */

/* Stop k's timer, whichever list it is on. */
static void tl_unlink(struct conn *k)
{
    tlist_stop(&k->timer);
}

/* (Re)start k's timer on the connect or the idle list, from now. */
static void tl_append(struct proxy *p, struct conn *k, struct tlist *l)
{
    uint64_t ms = l == &p->connect_q ? p->cfg->connect_timeout_ms : p->cfg->idle_timeout_ms;
    tlist_start(l, &k->timer, p->now + ms * 1000000u);
}

/* --- interest ---------------------------------------------------------------------------- */

struct conn *px_conn_of(struct psock *s)
{
    if (s->id.role == EPT_ROLE_CLIENT)
        return (struct conn *)((char *)s - offsetof(struct conn, c));
    return (struct conn *)((char *)s - offsetof(struct conn, b));
}

/* What a connection socket waits for now, then the epoll_ctl the policy wants for it. */
void px_sync(struct proxy *p, struct conn *k, struct psock *s)
{
    bool in, out;
    if (!s->open || k->state == CONN_CLOSED)
        return;
    if (s == &k->b && k->state == CONN_CONNECTING) {
        in = false;
        out = true;
    } else {
        struct buf *from = s == &k->c ? &k->up : &k->down;
        struct buf *to = s == &k->c ? &k->down : &k->up;
        in = (!s->eof || p->cpol.reread_eof) && buf_room(p, from) > 0;
        out = to->len > 0 && !s->can_write;
    }
    struct policy_reg reg = s->reg;
    uint32_t want = p->fault->interest ? p->fault->interest(p, k, s, in, out, &reg)
                                       : policy_events(&p->cpol, in, out);
    switch (policy_sync(&p->cpol, &reg, want, s->hup)) {
    case POLICY_ADD: px_ctl(p, s, EPOLL_CTL_ADD, want); break;
    case POLICY_MOD: px_ctl(p, s, EPOLL_CTL_MOD, want); break;
    case POLICY_DEL: px_ctl(p, s, EPOLL_CTL_DEL, 0); break;
    default: break;
    }
}

static void sync_listener(struct proxy *p)
{
    bool paused = p->lpaused_full || p->lresume_at || stop_requested;
    uint32_t want = paused ? 0 : EPOLLIN | p->lpol.flags;
    if (!p->lsock.open)
        return;
    if (!p->lsock.reg.in_set) {
        if (want)
            px_ctl(p, &p->lsock, EPOLL_CTL_ADD, want);
    } else if (p->lpol.flags & EPOLLEXCLUSIVE) {
        /* an exclusive registration cannot be changed with EPOLL_CTL_MOD (EINVAL), and a
         * paused worker left in the set could be the one waiter the kernel wakes, while the
         * others sleep: leave the set, and ADD again to resume (in either listener mode) */
        if (!want)
            px_ctl(p, &p->lsock, EPOLL_CTL_DEL, 0);
    } else if (p->lpol.mode == EPT_MODE_LEVEL && want != p->lsock.reg.events) {
        px_ctl(p, &p->lsock, EPOLL_CTL_MOD, want);
    }
    /* edge: stays registered; while paused we just do not accept, and remember readiness */
}

/* --- connections ------------------------------------------------------------------------- */

static void accept_some(struct proxy *p);

/* Put k on the pending list: a socket of it is still readable, left for after the batch. */
static void pending_add(struct proxy *p, struct conn *k)
{
    if (k->pending)
        return;
    k->pending = true;
    k->pprev = NULL;
    k->pnext = p->pending;
    if (p->pending)
        p->pending->pprev = k;
    p->pending = k;
}

static void pending_del(struct proxy *p, struct conn *k)
{
    if (!k->pending)
        return;
    if (k->pprev)
        k->pprev->pnext = k->pnext;
    else
        p->pending = k->pnext;
    if (k->pnext)
        k->pnext->pprev = k->pprev;
    k->pending = false;
    k->pprev = k->pnext = NULL;
}

/* Close both sockets of k; it is freed once the batch is done (see the top). */
void px_finish(struct proxy *p, struct conn *k, unsigned reason)
{
    pending_del(p, k);
    bool reset = reason == EPT_CLOSE_RESET || reason == EPT_CLOSE_ERROR;
    if (k->state == CONN_CLOSED)
        return;
    int cfd = k->c.id.fd, bfd = k->b.open ? k->b.id.fd : -1;
    px_close(p, &k->c, reason, reset);
    px_close(p, &k->b, reason, reset);
    if (p->story)
        story_closing(p->story, cfd, bfd);
    if (k->backend >= 0)
        balance_release(&p->cfg->bal, k->backend);
    k->backend = -1;
    tl_unlink(k);
    buf_put(p, &k->up);
    buf_put(p, &k->down);
    k->state = CONN_CLOSED;
    k->next = p->closed;
    p->closed = k;
    p->nconns--;
    if (!p->nconns)
        p->trim_at = p->now + POOL_TRIM_NS; /* still none then: give memory back */
    if (p->lpaused_full && p->nconns < p->cfg->max_conns) {
        p->lpaused_full = false;
        trace_pause(p->tr, &p->lsock.id, 0, EPT_PAUSE_MAXCONNS);
        sync_listener(p);
        if (p->lpol.remember && p->lsock.can_read)
            accept_some(p); /* edge: no new event will come for what is already waiting */
    }
}

static void conn_connect(struct proxy *p, struct conn *k);

/* Out of descriptors (or memory): stop accepting for a moment rather than spin on a
 * listener that stays readable, or accept clients only to close them at once. */
static void pause_listener(struct proxy *p)
{
    p->lresume_at = p->now + LISTEN_PAUSE_NS;
    trace_pause(p->tr, &p->lsock.id, 1, EPT_PAUSE_FDLIMIT);
    sync_listener(p);
}

/* A connect to k's backend failed (refused, reset, or timed out): count it against the
 * backend and try again, on the next backend or the same one, up to --connect-tries. */
static void connect_failed(struct proxy *p, struct conn *k, int err)
{
    struct balance *bl = &p->cfg->bal;
    if (balance_fail(bl, k->backend, p->now))
        trace_health(p->tr, (unsigned)k->backend, 0, err, p->cfg->down_ms);
    balance_release(bl, k->backend);
    k->backend = -1;
    px_close(p, &k->b, EPT_CLOSE_RETRY, false);
    conn_connect(p, k); /* the next backend, or close the client if no try is left */
}

/* Pick a backend and start a non-blocking connect to it; after --connect-tries attempts
 * the client is closed. */
static void conn_connect(struct proxy *p, struct conn *k)
{
    struct balance *bl = &p->cfg->bal;
    int revived = -1, i = -1;
    if (k->attempt < p->cfg->connect_tries) {
        k->attempt++;
        i = balance_pick(bl, (const struct sockaddr *)&k->peer, k->tried, p->now, &revived);
        if (i < 0) { /* every backend tried once: start again (a lone backend is retried) */
            k->tried = 0;
            i = balance_pick(bl, (const struct sockaddr *)&k->peer, 0, p->now, &revived);
        }
    }
    if (revived >= 0)
        trace_health(p->tr, (unsigned)revived, 1, 0, 0);
    trace_pick(p->tr, &k->c.id, i < 0 ? 0xffff : (unsigned)i, bl->algo, k->attempt,
               i < 0 ? 0 : bl->b[i].active);
    if (i < 0) {
        px_finish(p, k, EPT_CLOSE_NOBACKEND);
        return;
    }
    k->backend = i;
    k->tried |= 1ull << i;
    struct ept_addr ea;
    net_to_ept((const struct sockaddr *)&bl->b[i].addr.ss, &ea);
    memset(&k->b, 0, sizeof(k->b));
    k->b.dup_fd = -1;
    k->b.id = (struct ept_sock){-1, ++p->next_sid, k->c.id.conn, EPT_ROLE_BACKEND, {0}};
    int fd = net_socket(&bl->b[i].addr);
    if (fd < 0) { /* out of fds: not the backend's fault; stop taking more clients a while */
        trace_connect(p->tr, &k->b.id, (unsigned)i, 0, fd, &ea);
        px_finish(p, k, EPT_CLOSE_LIMIT);
        if ((fd == -EMFILE || fd == -ENFILE) && !p->lresume_at)
            pause_listener(p);
        return;
    }
    k->b.id.fd = fd;
    k->b.open = true;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(fd, (const struct sockaddr *)&bl->b[i].addr.ss, bl->b[i].addr.len);
    rc = rc < 0 ? -errno : 0;
    trace_connect(p->tr, &k->b.id, (unsigned)i, 0, rc, &ea);
    if (rc == 0) {
        if (balance_ok(bl, i))
            trace_health(p->tr, (unsigned)i, 1, 0, 0);
        k->state = CONN_OPEN;
        k->b.can_write = true;
        tl_append(p, k, &p->idle_q);
    } else if (rc == -EINPROGRESS) {
        k->state = CONN_CONNECTING;
        tl_append(p, k, &p->connect_q);
    } else {
        connect_failed(p, k, rc);
        return;
    }
    px_sync(p, k, &k->b);
}

static void connect_done(struct proxy *p, struct conn *k)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(k->b.id.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    struct ept_addr ea;
    net_to_ept((const struct sockaddr *)&p->cfg->bal.b[k->backend].addr.ss, &ea);
    trace_connect(p->tr, &k->b.id, (unsigned)k->backend, 1, -err, &ea);
    if (err) {
        connect_failed(p, k, -err);
        return;
    }
    if (balance_ok(&p->cfg->bal, k->backend))
        trace_health(p->tr, (unsigned)k->backend, 1, 0, 0);
    k->state = CONN_OPEN;
    k->b.can_write = true;
    k->b.hup = false;
    tl_append(p, k, &p->idle_q);
}

/* Traced: an edge-triggered socket was left after a full read (its turn, its buffer or a
 * fault ended the reading), and no new event will say what still waits there: note what the
 * kernel holds, for the viewer. Costs one ioctl, only when tracing. */
static void note_unread(struct proxy *p, const struct psock *s)
{
    int n;
    if (p->tr && (p->cpol.flags & EPOLLET) && s->open && !s->eof &&
        ioctl(s->id.fd, FIONREAD, &n) == 0 && n >= 0)
        trace_queue(p->tr, &s->id, EPT_QUEUE_UNREAD, (uint32_t)n, 0);
}

/* Move bytes src -> dst through b as far as the sockets allow, reading src at most the
 * policy's number of times (the rest waits on the pending list: other sockets of the batch
 * get their turn first). Returns -1 when the connection must be reset (a read or write
 * error from either side). */
static int flow(struct proxy *p, struct conn *k, struct psock *src, struct psock *dst,
                struct buf *b, uint64_t *counter)
{
    bool dst_ready = dst->open && (dst != &k->b || k->state == CONN_OPEN);
    unsigned reads = 0;
    bool full = false; /* the last read filled what it asked for: more may wait */
    for (;;) {
        bool progress = false;
        if (b->len && dst_ready && dst->can_write && !dst->wr_shut) {
            long n = px_write(p, dst, b->p + b->off, b->len);
            if (n < 0 && n != -EAGAIN)
                return -1;
            if (n == -EAGAIN || (size_t)n < b->len)
                dst->can_write = false; /* the socket's send buffer is full */
            if (n > 0) {
                b->off += (uint32_t)n;
                b->len -= (uint32_t)n;
                *counter += (uint64_t)n;
                progress = true;
                if (!b->len)
                    buf_put(p, b);
            }
        }
        if (src->can_read && (!src->eof || p->cpol.reread_eof) && src->open &&
            buf_room(p, b) > 0 && (!p->cpol.reads || reads < p->cpol.reads)) {
            reads++;
            if (!b->p && !(b->p = px_buf_get(p)))
                return -1;
            if (b->off && b->off + b->len == p->cfg->buffer) {
                memmove(b->p, b->p + b->off, b->len);
                b->off = 0;
            }
            size_t want = p->cfg->buffer - b->off - b->len;
            long n = px_read(p, src, b->p + b->off + b->len, want);
            if (n < 0 && n != -EAGAIN)
                return -1;
            full = n > 0 && (size_t)n == want;
            if (n > 0) {
                b->len += (uint32_t)n;
                progress = true;
                if ((size_t)n < want) {
                    src->can_read = false; /* a short read emptied the socket */
                    if (src->rdhup)        /* and the peer's FIN, which EPOLLRDHUP reported,
                                              came after all it sent: that was the end, no
                                              read() is needed to hear it return 0 */
                        src->eof = true;
                }
            } else if (n == 0) {
                progress = !src->eof;
                src->eof = true;
                src->can_read = false;
            } else {
                src->can_read = false;
            }
            if (!p->cpol.drain)
                src->can_read = false; /* one read per event; the kernel will say again */
            if (!b->len)
                buf_put(p, b);
        }
        if (!progress)
            break;
    }
    if (src->eof && !b->len && dst_ready && !dst->wr_shut) {
        /* pass the half-close on once everything before it is out; but to a peer whose
         * own FIN already arrived and was passed on, the close() that follows says it:
         * no shutdown() needed (conn_pump closes the connection now) */
        const struct buf *back = dst == &k->b ? &k->down : &k->up;
        if (dst->eof && !back->len && src->wr_shut)
            dst->wr_shut = true;
        else
            px_shutdown(p, dst);
    }
    if (p->cpol.reads && reads >= p->cpol.reads && src->can_read && buf_room(p, b) > 0)
        pending_add(p, k); /* its turn is over; more may wait */
    if (full)
        note_unread(p, src);
    return 0;
}

/* Both directions as far as they go; closes the connection when it is done or broken. */
static void conn_pump(struct proxy *p, struct conn *k)
{
    if (flow(p, k, &k->c, &k->b, &k->up, &p->bytes_up) < 0 ||
        flow(p, k, &k->b, &k->c, &k->down, &p->bytes_down) < 0) {
        px_finish(p, k, EPT_CLOSE_RESET);
        return;
    }
    if (k->state != CONN_OPEN)
        return;
    if (p->fault->pumped) {
        p->fault->pumped(p, k);
        if (k->state != CONN_OPEN)
            return;
    }
    bool up_done = k->c.eof && !k->up.len && k->b.wr_shut;
    bool down_done = k->b.eof && !k->down.len && k->c.wr_shut;
    if (up_done && down_done)
        px_finish(p, k, EPT_CLOSE_DONE);
}

/* After the batch: the connections whose turn ended with a socket still readable get
 * another (no new event will come for what an edge-triggered socket already holds). */
static void run_pending(struct proxy *p)
{
    struct conn *list = p->pending, *k;
    p->pending = NULL; /* a connection that uses up this turn too goes on a new list */
    while ((k = list)) {
        list = k->pnext;
        k->pending = false;
        k->pprev = k->pnext = NULL;
        if (k->state != CONN_OPEN)
            continue;
        conn_pump(p, k);
        if (k->state != CONN_OPEN)
            continue;
        tl_append(p, k, &p->idle_q);
        px_sync(p, k, &k->c);
        px_sync(p, k, &k->b);
    }
}

/* An event for a connection socket: note what it says, move the bytes, and register each
 * socket for what it waits for now. */
static void conn_event(struct proxy *p, struct psock *s, uint32_t ev)
{
    struct conn *k = px_conn_of(s);
    if (p->fault->filter)
        ev = p->fault->filter(p, k, s, ev);
    if (p->cpol.oneshot)
        s->reg.armed = false; /* the kernel disarmed it by reporting it */
    if (ev & EPOLLHUP)
        s->hup = true;
    if (s == &k->b && k->state == CONN_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            connect_done(p, k);
        /* connected, and the backend has already spoken (or hung up): in edge mode, which
         * registered EPOLLIN while connecting, this event is the only one to say so */
        if (k->state == CONN_OPEN && (ev & (EPOLLIN | EPOLLRDHUP)))
            s->can_read = true;
        if (k->state == CONN_OPEN && (ev & EPOLLRDHUP))
            s->rdhup = true;
    } else if (ev & EPOLLERR) {
        px_finish(p, k, EPT_CLOSE_RESET);
        return;
    } else {
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            s->can_read = true;
        if (ev & EPOLLRDHUP)
            s->rdhup = true;
        if (ev & EPOLLOUT)
            s->can_write = true;
    }
    if (k->state == CONN_CLOSED)
        return;
    if (p->fault->event && p->fault->event(p, k, s, ev))
        return;
    conn_pump(p, k);
    if (k->state == CONN_CLOSED)
        return;
    if (!p->cpol.remember)
        s->can_read = false; /* level: the kernel will report it again if it still is */
    if (k->state == CONN_OPEN)
        tl_append(p, k, &p->idle_q);
    px_sync(p, k, &k->c);
    px_sync(p, k, &k->b);
}

static struct conn *conn_alloc(struct proxy *p)
{
    struct conn *k = p->free_conns;
    if (k)
        p->free_conns = k->next;
    else if (!(k = malloc(sizeof(*k))))
        return NULL;
    memset(k, 0, sizeof(*k));
    k->c.dup_fd = k->b.dup_fd = -1;
    k->backend = -1;
    return k;
}

/* Traced: the listener's accept budget ran out with connections perhaps still waiting;
 * note how many the kernel holds in its accept queue (TCP_INFO on a listening socket:
 * tcpi_unacked is the queue, tcpi_sacked its limit). */
static void note_backlog(struct proxy *p)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (p->tr && getsockopt(p->lsock.id.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_sacked) + sizeof(ti.tcpi_sacked))
        trace_queue(p->tr, &p->lsock.id, EPT_QUEUE_BACKLOG, ti.tcpi_unacked, ti.tcpi_sacked);
}

/* Accept what the listener's policy allows this turn. */
static void accept_some(struct proxy *p)
{
    unsigned budget = p->lpol.accepts ? p->lpol.accepts : ~0u;
    while (p->lsock.can_read && budget && !p->lpaused_full && !p->lresume_at &&
           !stop_requested) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(p->lsock.id.fd, (struct sockaddr *)&peer, &plen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        int err = fd < 0 ? errno : 0;
        struct ept_sock nid = {fd, fd < 0 ? 0 : ++p->next_sid, 0, EPT_ROLE_CLIENT, {0}};
        struct ept_addr ea;
        if (fd >= 0) {
            nid.conn = ++p->next_conn;
            net_to_ept((const struct sockaddr *)&peer, &ea);
        }
        trace_accept(p->tr, &p->lsock.id, &nid, fd < 0 ? -err : fd, fd < 0 ? NULL : &ea);
        if (fd < 0) {
            if (err == EAGAIN || err == EWOULDBLOCK) {
                p->lsock.can_read = false;
                break;
            }
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                pause_listener(p);
                break;
            }
            continue; /* ECONNABORTED, EINTR, EPROTO...: that one client is gone */
        }
        budget--;
        struct conn *k = conn_alloc(p);
        if (!k) {
            close(fd);
            continue;
        }
        k->c.id = nid;
        k->c.open = true;
        k->c.can_write = true;
        k->peer = peer;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (p->cfg->sndbuf) /* the kernel doubles it, for its own bookkeeping */
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &p->cfg->sndbuf, sizeof(p->cfg->sndbuf));
        p->nconns++;
        p->conns_total++;
        if (p->fault->accepted)
            p->fault->accepted(p, k);
        px_sync(p, k, &k->c);
        conn_connect(p, k);
        if (p->nconns >= p->cfg->max_conns) {
            p->lpaused_full = true;
            trace_pause(p->tr, &p->lsock.id, 1, EPT_PAUSE_MAXCONNS);
            sync_listener(p);
        }
    }
    if (!budget)
        note_backlog(p);
    if (!p->lpol.remember)
        p->lsock.can_read = false;
}

/* --- timers ------------------------------------------------------------------------------ */

static int next_timeout_ms(struct proxy *p)
{
    if (p->pending)
        return 0; /* sockets wait for their next turn: look for events, do not sleep */
    uint64_t next = UINT64_MAX;
    next = tlist_next_due(&p->connect_q);
    if (p->cfg->idle_timeout_ms) { /* 0: no idle timeout (the list only finds conns) */
        uint64_t d = tlist_next_due(&p->idle_q);
        next = d < next ? d : next;
    }
    if (p->lresume_at && p->lresume_at < next)
        next = p->lresume_at;
    if (p->trim_at && p->trim_at < next)
        next = p->trim_at;
    if (next == UINT64_MAX)
        return -1;
    if (next <= p->now)
        return 0;
    uint64_t ms = (next - p->now + 999999u) / 1000000u;
    return ms > 60000 ? 60000 : (int)ms;
}

static void run_timers(struct proxy *p)
{
    struct tlist_node *n;
    struct conn *k;
    while ((n = tlist_expired(&p->connect_q, p->now))) {
        k = tlist_entry(n, struct conn, timer);
        trace_timeout(p->tr, &k->c.id, EPT_TIMER_CONNECT, p->cfg->connect_timeout_ms);
        tl_unlink(k);
        connect_failed(p, k, -ETIMEDOUT);
    }
    while (p->cfg->idle_timeout_ms && (n = tlist_expired(&p->idle_q, p->now))) {
        k = tlist_entry(n, struct conn, timer);
        trace_timeout(p->tr, &k->c.id, EPT_TIMER_IDLE, p->cfg->idle_timeout_ms);
        px_finish(p, k, EPT_CLOSE_TIMEOUT);
    }
    if (p->trim_at && p->trim_at <= p->now) {
        p->trim_at = 0;
        if (!p->nconns)
            pool_release(p);
    }
    if (p->lresume_at && p->lresume_at <= p->now) {
        p->lresume_at = 0;
        trace_pause(p->tr, &p->lsock.id, 0, EPT_PAUSE_FDLIMIT);
        p->lsock.can_read = true; /* find out: accept until EAGAIN or the limit again */
        sync_listener(p);
        accept_some(p);
    }
}

/* --- the loop ---------------------------------------------------------------------------- */

/* The batch is done: the connections closed during it can be reused (a fault's zombies
 * are kept until it releases them). */
static void free_closed(struct proxy *p)
{
    while (p->closed) {
        struct conn *k = p->closed;
        p->closed = k->next;
        if (k->zombie) {
            k->next = p->zombies;
            p->zombies = k;
        } else {
            k->next = p->free_conns;
            p->free_conns = k;
        }
    }
}

void px_release(struct proxy *p, struct conn *k)
{
    for (struct conn **pp = &p->zombies; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    k->zombie = false;
    k->next = p->free_conns;
    p->free_conns = k;
}

static int setup(struct proxy *p, char *err, size_t errlen)
{
    struct proxy_config *cfg = p->cfg;
    p->fault = fault_get(cfg->fault);
    p->cpol = *policy_get(cfg->mode);
    p->lpol = *policy_get(cfg->listener_mode);
    if (p->fault->policy)
        p->fault->policy(&p->cpol, &p->lpol);
    if (cfg->accept == PROXY_ACCEPT_EXCLUSIVE)
        p->lpol.flags |= EPOLLEXCLUSIVE;
    p->lsock.dup_fd = -1;
    p->pool = calloc(pool_max(p) + 1, sizeof(*p->pool));
    p->events = calloc(cfg->max_events, sizeof(*p->events));
    if (!p->pool || !p->events) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (cfg->trace_path) {
        struct trace_opts to = {cfg->trace_path, cfg->force, cfg->ring_size,
                                (uint16_t)cfg->preview, (uint8_t)cfg->mode,
                                (uint8_t)cfg->listener_mode, cfg->config_text};
        int rc = trace_open(&p->tr, &to, err, errlen);
        if (rc < 0)
            return rc;
    }
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = p->ep < 0 ? -errno : p->ep;
    trace_epoll_create(p->tr, rc, EPOLL_CLOEXEC);
    if (p->ep < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(-rc));
        return rc;
    }
    /* a worker listens on the socket its master made (shared, or its own of the port's
     * SO_REUSEPORT group); a lone loop makes its own */
    enum net_share share = cfg->accept == PROXY_ACCEPT_REUSEPORT ? NET_GROUP_NEW : NET_ALONE;
    int lfd = cfg->listen_fd >= 0 ? cfg->listen_fd
                                  : net_listen_shared(&cfg->listen, cfg->backlog, share);
    struct ept_addr la;
    struct net_addr bound = cfg->listen;
    if (lfd >= 0)
        net_local(lfd, &bound);
    net_to_ept((const struct sockaddr *)&bound.ss, &la);
    p->lsock.id = (struct ept_sock){lfd, ++p->next_sid, 0, EPT_ROLE_LISTENER, {0}};
    trace_listen(p->tr, &p->lsock.id, &la, lfd < 0 ? lfd : 0, cfg->backlog);
    if (lfd < 0) {
        char a[80];
        net_format(&cfg->listen, a, sizeof(a));
        snprintf(err, errlen, "cannot listen on %s: %s", a, strerror(-lfd));
        return lfd;
    }
    p->lsock.open = true;
    sync_listener(p);
    if (cfg->worker < 0) { /* under a master, the master says it once for all */
        char a[80];
        net_format(&bound, a, sizeof(a));
        printf("listening on %s\n", a);
        fflush(stdout);
    }
    return 0;
}

static void teardown(struct proxy *p, int *status)
{
    /* every open connection: walk the timer lists (every conn is on exactly one) */
    struct conn *k;
    struct tlist_node *n;
    while ((n = p->connect_q.head) || (n = p->idle_q.head))
        px_finish(p, tlist_entry(n, struct conn, timer), EPT_CLOSE_SHUTDOWN);
    free_closed(p);
    if (p->fault->teardown)
        p->fault->teardown(p);
    while ((k = p->zombies))
        px_release(p, k);
    px_close(p, &p->lsock, EPT_CLOSE_SHUTDOWN, false);
    if (p->ep >= 0)
        close(p->ep);
    if (p->tr) {
        struct trace_stats st;
        int rc = trace_finish(p->tr, &st);
        /* what the file holds: records lost to a full ring or to a failed write are not
         * in it, and a summary that counted them as written would lie */
        fprintf(stderr, "%s: trace %s: %llu records written, %llu lost, %llu bytes\n",
                p->cfg->name, p->cfg->trace_path, (unsigned long long)st.written,
                (unsigned long long)st.lost, (unsigned long long)st.bytes);
        if (st.unwritten)
            fprintf(stderr, "%s: trace %s: %llu of the lost records could not be "
                    "written (%s)\n", p->cfg->name, p->cfg->trace_path, (unsigned long long)st.unwritten,
                    strerror(-st.write_error));
        if (rc < 0) {
            fprintf(stderr, "%s: writing the trace failed: %s\n", p->cfg->name,
                    strerror(-rc));
            *status = 1;
        }
        p->tr = NULL;
    }
    while (p->free_conns) {
        k = p->free_conns;
        p->free_conns = k->next;
        free(k);
    }
    while (p->npool)
        free(p->pool[--p->npool]);
    free(p->pool);
    free(p->events);
}

int proxy_run(struct proxy_config *cfg)
{
    struct proxy px = {.cfg = cfg, .ep = -1};
    struct proxy *p = &px;
    char err[300];
    int status = 0;
    sigset_t block, orig, saved;

    fdlimit_raise(); /* connections need descriptors: take the hard limit */
    /* SIGINT/SIGTERM are blocked except inside epoll_pwait, so a stop request always
     * interrupts the wait instead of racing with it; the flusher thread inherits the block. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &orig);
    saved = orig;
    /* a worker starts with them blocked (its master's mask): the wait must still take them */
    sigdelset(&orig, SIGINT);
    sigdelset(&orig, SIGTERM);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* The trace reaching the file-size limit (ulimit -f) must not kill the proxy and reset
     * every client: ignored, the write fails with EFBIG and recording stops (trace.c). */
    signal(SIGXFSZ, SIG_IGN);
    stop_requested = 0;

    p->now = trace_now();
    if (setup(p, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", cfg->name, err);
        status = 1;
        goto out;
    }
    if (cfg->story) {
        p->story = stderr;
        setvbuf(stderr, NULL, _IOLBF, 0);
    }
    if (cfg->fault)
        trace_note(p->tr, EPT_NOTE_FAULT, "%s: %s", fault_name(cfg->fault),
                   fault_help(cfg->fault));

    uint64_t sigcheck = p->now;
    while (!stop_requested) {
        /* epoll_pwait delivers SIGTERM only when it waits: a loop that never waits (a
         * mistake that spins, or a flood) would never see it. Look now and then. */
        if (p->now - sigcheck >= SIGCHECK_NS) {
            sigset_t pend;
            sigcheck = p->now;
            if (sigpending(&pend) == 0 &&
                (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT)))
                break;
        }
        int timeout = next_timeout_ms(p);
        uint64_t t0 = trace_now();
        int n = epoll_pwait(p->ep, p->events, (int)cfg->max_events, timeout, &orig);
        int werr = n < 0 ? errno : 0;
        p->now = trace_now();
        trace_epoll_wait(p->tr, p->ep, timeout, (int)cfg->max_events, n < 0 ? -werr : n,
                         p->now - t0);
        if (n < 0) {
            if (werr == EINTR)
                continue;
            fprintf(stderr, "%s: epoll_wait: %s\n", cfg->name, strerror(werr));
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct psock *s = p->events[i].data.ptr;
            trace_event(p->tr, EPT_READY, &s->id, p->events[i].events, (uint32_t)i);
        }
        for (int i = 0; i < n; i++) {
            struct psock *s = p->events[i].data.ptr;
            uint32_t ev = p->events[i].events;
            if (!s->open) {
                if (p->fault->stale)
                    p->fault->stale(p, s, ev, (uint32_t)i);
                continue; /* closed by an earlier event of this batch: stale, skip it */
            }
            trace_event(p->tr, EPT_HANDLE, &s->id, ev, (uint32_t)i);
            if (s == &p->lsock) {
                p->lsock.can_read = true;
                accept_some(p);
            } else {
                conn_event(p, s, ev);
            }
        }
        run_pending(p);
        free_closed(p);
        run_timers(p);
        free_closed(p);
    }
out:
    teardown(p, &status);
    if (p->conns_total || status == 0)
        fprintf(stderr, "%s: stopped after %llu connections, %llu bytes up, "
                "%llu bytes down\n", cfg->name, (unsigned long long)p->conns_total,
                (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    return status;
}

static const char *const accept_names[] = {"shared", "exclusive", "reuseport"};

const char *proxy_accept_name(unsigned accept)
{
    return accept < sizeof(accept_names) / sizeof(*accept_names) ? accept_names[accept] : NULL;
}

int proxy_accept_parse(const char *s)
{
    for (unsigned i = 0; i < sizeof(accept_names) / sizeof(*accept_names); i++)
        if (!strcmp(s, accept_names[i]))
            return (int)i;
    return -1;
}
