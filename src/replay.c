/* replay.c - the replay model (see replay.h): block index, socket state, checkpoints, and
 * the analysis pass that finds the diagnoses.
 *
 * State is the set of live sockets (a dense array, with a sid -> slot map) plus the
 * current epoll_wait's ready list. apply() moves it forward by one record; the analysis
 * pass calls apply() on every record and, around it, the rules of each diagnosis. A
 * checkpoint is a copy of the live sockets and the ready list; there is one every
 * `every` records, and when they grow past CKPT_BUDGET bytes every other one is dropped
 * and the interval doubles, so memory stays bounded on any trace.
 */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define CKPT_EVERY 16384u         /* records between checkpoints, at first */
#define CKPT_BUDGET (32u << 20)   /* bytes of checkpoints before they are thinned */
#define BUSY_OUT_STREAK 3         /* EPOLLOUT with nothing to write, waits in a row */
#define EOF_SPIN_EVENTS 3         /* EPOLLIN/RDHUP events after read() returned 0 */
#define SPURIOUS_MIN 3            /* EPOLLIN wake-ups with nothing to read, at least... */

/* A live socket with the analysis pass's private notes. */
struct xsock {
    struct rp_sock s;
    uint64_t full_read;       /* pos+1 of a read that filled its buffer, 0 if none since */
    uint64_t fired;           /* pos+1 of its last event while disarmed (one-shot) */
    uint64_t empty_read;      /* pos+1 of a read that found nothing after an EPOLLIN */
    uint64_t out_streak_pos;  /* first pos of the current busy-EPOLLOUT streak */
    uint32_t out_streak;
    uint32_t eof_events;
    uint64_t eof_pos;
    uint32_t spur;            /* EPOLLIN events whose first read said EAGAIN, nothing done */
    uint32_t in_reads;        /* EPOLLIN events whose handler read this socket */
    uint64_t spur_pos;
    uint32_t reported;        /* bit per diagnosis already reported for this socket */
    uint32_t finding[RP_DIAG_COUNT > 9 ? RP_DIAG_COUNT : 9]; /* index+1 of its finding */
    uint8_t wrote_in_event;   /* a write to it happened in the current handling */
};

struct block {
    uint64_t off;             /* in the file; verified once by scan(), trusted after */
    uint64_t first;           /* position of its first record */
    uint32_t nrec;
    uint32_t length;
};

struct ckpt {
    uint64_t pos;             /* state after this record */
    struct xsock *socks;
    uint32_t nsocks;
    struct rp_wait wait;
    struct rp_event *ev;
};

struct state {
    struct xsock *socks;
    uint32_t nsocks, cap;
    struct rp_wait wait;
    uint32_t evcap;           /* room in wait.ev */
    uint64_t pos;             /* last applied; UINT64_MAX before the first */
};

/* Accept-starvation is judged per listener event: an edge-triggered listener whose handler
 * stopped after a successful accept, without EAGAIN, without a pause, and did not accept
 * again before the next epoll_wait. Tracked here across records. */
struct accept_watch {
    int active;               /* handling an edge listener event */
    uint32_t sid;
    uint64_t first;
    int last_ok;              /* the last accept succeeded */
    int paused;
};

struct replay {
    struct reader rd;
    struct block *blocks;
    size_t nblocks, bcap;
    uint64_t count;
    uint64_t next_off;        /* where the next unread block starts */
    /* the model */
    struct state st;
    int32_t *slot;            /* sid -> index in st.socks, -1 when not live */
    size_t nslot;
    const struct rp_sock **sorted;
    size_t sorted_cap;
    /* analysis: runs once over every record, in order, on its own state */
    struct state an;
    int32_t *an_slot;
    size_t an_nslot;
    uint64_t an_pos;          /* records analysed */
    unsigned mode;
    struct rp_finding *findings;
    size_t nfindings, fcap;
    struct rp_counts counts;
    int handling;             /* analysis: index of the event being handled, -1 none */
    struct accept_watch aw;
    uint64_t first_ns, last_ns;
    /* checkpoints */
    struct ckpt *ck;
    size_t nck, ckcap;
    uint64_t ck_every, ck_bytes;
    /* cache for sequential replay_rec */
    size_t cache_block;
    uint64_t cache_pos;
    size_t cache_byte;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "epscope: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

/* --- diagnoses: names and words ------------------------------------------------------- */

static const struct {
    const char *id;
    int error;
    const char *explain;
    const char *fix;
} diags[RP_DIAG_COUNT] = {
    [RP_MISTRIGGER] = {"mis-trigger", 1,
        "An event arrived for the phase the socket was not in: the program had read the "
        "response and was waiting to write it, yet EPOLLIN fired again on the same socket "
        "(it was registered without EPOLLONESHOT, so the kernel kept reporting it, here for "
        "the peer's EOF). The handler trusted the event, its read found nothing, and it went "
        "on as if it had data: it forwarded an empty buffer in place of the response.",
        "Register the socket with EPOLLONESHOT (or remove EPOLLIN with EPOLL_CTL_MOD) while "
        "it waits for the other phase, and treat read() returning 0 or EAGAIN as 'no data', "
        "never as a message to forward."},
    [RP_EDGE_STARVATION] = {"edge-starvation", 1,
        "Edge-triggered: the kernel reports a socket only when new data arrives. The handler "
        "stopped reading while its buffer still had room and before read() said EAGAIN, so "
        "data stayed queued in the socket. No new event will come for data that is already "
        "there: the connection stalls until the peer happens to send more.",
        "With EPOLLET, read until read() returns EAGAIN (or a short read, or 0), or, when "
        "you must stop because your buffer is full, remember that the socket is still "
        "readable and read again as soon as there is room."},
    [RP_ONESHOT_NOT_REARMED] = {"oneshot-not-rearmed", 1,
        "EPOLLONESHOT: after reporting one event the kernel disarms the socket and reports "
        "nothing more until the program re-arms it with EPOLL_CTL_MOD. This socket fired, "
        "was never re-armed, and its connection stalled: whatever came next (data, EOF, "
        "room to write) was never reported.",
        "After handling every event of a one-shot socket, call epoll_ctl(EPOLL_CTL_MOD) "
        "with exactly the events it waits for next (EPOLLIN, EPOLLOUT or both)."},
    [RP_BUSY_EPOLLOUT] = {"busy-epollout", 1,
        "Level-triggered EPOLLOUT means 'there is room to write', which is true almost "
        "always. The socket stayed registered for EPOLLOUT with nothing to write, so "
        "epoll_wait returned it again and again: a busy loop that burns CPU and wakes the "
        "program for nothing.",
        "Register EPOLLOUT only while a write is pending (after write() returned EAGAIN or "
        "wrote less than asked) and remove it with EPOLL_CTL_MOD as soon as the buffer "
        "drains; or use edge-triggered mode for EPOLLOUT."},
    [RP_EOF_SPIN] = {"eof-spin", 1,
        "read() returned 0: the peer closed its side and no more data will ever come. Yet "
        "the socket stayed registered for EPOLLIN/EPOLLRDHUP, and level-triggered mode "
        "reports end-of-file as 'readable' forever, so epoll_wait kept returning it and each "
        "read returned 0 again.",
        "On read() == 0, stop asking for EPOLLIN on that socket (EPOLL_CTL_MOD without "
        "EPOLLIN, or EPOLL_CTL_DEL), pass the EOF on (shutdown(SHUT_WR) toward the peer), "
        "and close the socket once the other direction is done too."},
    [RP_ACCEPT_STARVATION] = {"accept-starvation", 1,
        "Edge-triggered listener: the kernel reports it when a new connection arrives, not "
        "while connections wait. The handler accepted one connection per event and returned "
        "to epoll_wait, so connections already in the backlog waited for an unrelated "
        "arrival to be accepted, or forever.",
        "On an edge-triggered listener, call accept() in a loop until it returns EAGAIN "
        "(or use a level-triggered listener, which is reported as long as the backlog is "
        "not empty)."},
    [RP_STALE_EVENT] = {"stale-event", 1,
        "One epoll_wait returns a batch of events. Handling an earlier event of this batch "
        "closed a socket, and then the program handled the later event for that socket "
        "anyway: it acted on a closed file descriptor, or on a new socket that reused the "
        "same number.",
        "Defer freeing connections until the whole batch is handled, and skip events whose "
        "socket was closed earlier in the batch (mark it closed, check before handling)."},
    [RP_SPURIOUS_WAKEUP] = {"spurious-wakeup", 0,
        "The kernel reported this socket readable, but the handler found nothing to do: its "
        "read returned EAGAIN. Once in a while this is harmless (data already consumed by "
        "an earlier read); here it was a large share of the socket's wake-ups, each costing "
        "a trip through epoll_wait and a system call. A common cause is one socket "
        "registered twice (under a dup'd descriptor), so every readiness is reported twice.",
        "Register each socket once; ask only for the events you will act on; in "
        "edge-triggered mode read until EAGAIN so that one arrival does not cause two "
        "wake-ups."},
    [RP_LOST_RECORDS] = {"lost-records", 0,
        "The trace ring was full and records were dropped here: the recorder never blocks "
        "the event loop, so when the flusher cannot keep up it counts what it drops. The "
        "state after this gap may be wrong, and no diagnosis reasons across it.",
        "Use a larger --ring-size, a smaller --preview, or a lighter load while tracing."},
};

const char *rp_diag_id(unsigned d)
{
    return d < RP_DIAG_COUNT ? diags[d].id : "?";
}

const char *rp_diag_severity(unsigned d)
{
    return d < RP_DIAG_COUNT && diags[d].error ? "error" : "warning";
}

int rp_diag_is_error(unsigned d)
{
    return d < RP_DIAG_COUNT && diags[d].error;
}

const char *rp_diag_explain(unsigned d)
{
    return d < RP_DIAG_COUNT ? diags[d].explain : "";
}

const char *rp_diag_fix(unsigned d)
{
    return d < RP_DIAG_COUNT ? diags[d].fix : "";
}

/* --- live sockets ----------------------------------------------------------------------- */

static struct xsock *find(struct state *st, int32_t *slot, size_t nslot, uint32_t sid)
{
    if (!sid || sid >= nslot || slot[sid] < 0)
        return NULL;
    return &st->socks[slot[sid]];
}

static void grow_slots(int32_t **slot, size_t *nslot, uint32_t sid)
{
    if (sid < *nslot)
        return;
    size_t n = *nslot ? *nslot : 1024;
    while (n <= sid)
        n *= 2;
    *slot = xrealloc(*slot, n * sizeof(**slot));
    for (size_t i = *nslot; i < n; i++)
        (*slot)[i] = -1;
    *nslot = n;
}

static struct xsock *add_sock(struct state *st, int32_t **slot, size_t *nslot,
                              const struct ept_sock *id, uint64_t pos)
{
    if (!id->sid)
        return NULL;
    struct xsock *x = find(st, *slot, *nslot, id->sid);
    if (x)
        return x;
    grow_slots(slot, nslot, id->sid);
    if (st->nsocks == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        st->socks = xrealloc(st->socks, st->cap * sizeof(*st->socks));
    }
    x = &st->socks[st->nsocks];
    memset(x, 0, sizeof(*x));
    x->s.sid = id->sid;
    x->s.fd = id->fd;
    x->s.conn = id->conn;
    x->s.role = id->role;
    x->s.opened = pos;
    x->s.changed = pos;
    (*slot)[id->sid] = (int32_t)st->nsocks++;
    return x;
}

static void remove_sock(struct state *st, int32_t *slot, uint32_t sid)
{
    int32_t i = slot[sid];
    uint32_t last = st->nsocks - 1;
    if ((uint32_t)i != last) {
        st->socks[i] = st->socks[last];
        slot[st->socks[i].s.sid] = i;
    }
    slot[sid] = -1;
    st->nsocks--;
}

/* The socket a record is about: found, or created when it first shows up. */
static struct xsock *sock_of(struct state *st, int32_t **slot, size_t *nslot,
                             const struct ept_sock *id, uint64_t pos)
{
    struct xsock *x = find(st, *slot, *nslot, id->sid);
    return x ? x : add_sock(st, slot, nslot, id, pos);
}

static void link_peers(struct state *st, int32_t *slot, size_t nslot, struct xsock *x)
{
    /* the other socket of the same connection: client <-> backend */
    if (!x->s.conn)
        return;
    for (uint32_t i = 0; i < st->nsocks; i++) {
        struct xsock *y = &st->socks[i];
        if (y != x && y->s.conn == x->s.conn && y->s.role != x->s.role) {
            x->s.peer_sid = y->s.sid;
            y->s.peer_sid = x->s.sid;
        }
    }
    (void)slot;
    (void)nslot;
}

/* --- apply: one record forward --------------------------------------------------------- */

#define GET(T, v) T v; ept_rec_get(rec, &v, sizeof(v))

static struct rp_event *current_event(struct state *st)
{
    struct rp_wait *w = &st->wait;
    return w->current >= 0 && (uint32_t)w->current < w->n ? &w->ev[w->current] : NULL;
}

/* The event being handled, if the record is about its socket or that socket's peer. */
static struct rp_event *event_for(struct state *st, int32_t *slot, size_t nslot, uint32_t sid)
{
    struct rp_event *e = current_event(st);
    if (!e)
        return NULL;
    if (e->sid == sid)
        return e;
    struct xsock *x = find(st, slot, nslot, e->sid);
    return x && x->s.peer_sid == sid ? e : NULL;
}

static void apply(struct state *st, int32_t **slot, size_t *nslot, const struct ept_rec *rec,
                  uint64_t pos)
{
    struct xsock *x = NULL;
    struct rp_event *e;
    st->pos = pos;
    switch (rec->type) {
    case EPT_EPOLL_WAIT: {
        GET(struct ept_epoll_wait, w);
        st->wait.pos = pos;
        st->wait.result = w.result;
        st->wait.timeout = w.timeout;
        st->wait.blocked_ns = w.blocked_ns;
        st->wait.n = 0;
        st->wait.current = -1;
        break;
    }
    case EPT_READY: {
        GET(struct ept_ready, r);
        struct rp_wait *w = &st->wait;
        if (w->n == st->evcap) {
            st->evcap = st->evcap ? st->evcap * 2 : 64;
            w->ev = xrealloc(w->ev, st->evcap * sizeof(*w->ev));
        }
        struct rp_event *ev = &w->ev[w->n++];
        memset(ev, 0, sizeof(*ev));
        ev->sid = r.s.sid;
        ev->fd = r.s.fd;
        ev->events = r.events;
        ev->role = r.s.role;
        x = find(st, *slot, *nslot, r.s.sid);
        if (x) {
            x->s.last_ready = r.events;
            x->s.changed = pos;
            if (x->s.interest & EPOLLONESHOT)
                x->s.armed = 0;
        }
        break;
    }
    case EPT_HANDLE: {
        GET(struct ept_ready, r);
        struct rp_wait *w = &st->wait;
        if (r.index < w->n) {
            w->current = (int32_t)r.index;
            w->ev[r.index].handled = 1;
            if (!find(st, *slot, *nslot, r.s.sid))
                w->ev[r.index].stale = 1;
        }
        break;
    }
    case EPT_EPOLL_CTL: {
        GET(struct ept_epoll_ctl, c);
        if (c.result < 0)
            break;
        x = sock_of(st, slot, nslot, &c.s, pos);
        if (!x)
            break;
        x->s.changed = pos;
        if (c.op == EPOLL_CTL_DEL) {
            x->s.in_set = 0;
            x->s.interest = 0;
            x->s.armed = 0;
        } else {
            x->s.in_set = 1;
            x->s.interest = c.events;
            x->s.armed = (c.events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP)) != 0;
        }
        break;
    }
    case EPT_LISTEN: {
        GET(struct ept_listen, l);
        if (l.result < 0)
            break;
        x = sock_of(st, slot, nslot, &l.s, pos);
        if (x)
            x->s.addr = l.addr;
        break;
    }
    case EPT_ACCEPT: {
        GET(struct ept_accept, a);
        if ((e = event_for(st, *slot, *nslot, a.listener.sid)))
            e->accepts++;
        if (a.result < 0) {
            if (e && a.result == -EAGAIN)
                e->eagains++;
            break;
        }
        x = add_sock(st, slot, nslot, &a.s, pos);
        if (x)
            x->s.addr = a.peer;
        break;
    }
    case EPT_CONNECT: {
        GET(struct ept_connect, c);
        x = sock_of(st, slot, nslot, &c.s, pos);
        if (!x)
            break;
        x->s.changed = pos;
        x->s.backend = c.backend;
        x->s.addr = c.addr;
        x->s.connecting = c.phase == 0 && c.result == -EINPROGRESS;
        link_peers(st, *slot, *nslot, x);
        break;
    }
    case EPT_READ:
    case EPT_WRITE: {
        GET(struct ept_io, io);
        x = sock_of(st, slot, nslot, &io.s, pos);
        if (!x)
            break;
        x->s.changed = pos;
        e = event_for(st, *slot, *nslot, io.s.sid);
        if (rec->type == EPT_READ) {
            x->s.last_read = io.result;
            if (io.result > 0) {
                x->s.learned = RP_DATA;
                x->s.bytes_in += (uint64_t)io.result;
            } else if (io.result == 0) {
                x->s.learned = RP_EOF;
                x->s.eof = 1;
            } else {
                x->s.learned = io.result == -EAGAIN ? RP_EAGAIN : RP_ERROR;
            }
            if (e) {
                if (e->sid == io.s.sid && !e->has_read) {
                    e->has_read = 1;
                    e->first_read = io.result;
                }
                e->reads++;
                if (io.result > 0)
                    e->bytes_read += (uint64_t)io.result;
                if (io.result == 0)
                    e->eof = 1;
                if (io.result == -EAGAIN)
                    e->eagains++;
            }
        } else {
            x->s.last_write = io.result;
            if (io.result > 0)
                x->s.bytes_out += (uint64_t)io.result;
            else if (io.result < 0 && io.result != -EAGAIN)
                x->s.learned = RP_ERROR;
            if (e) {
                e->writes++;
                if (io.result > 0)
                    e->bytes_written += (uint64_t)io.result;
                if (io.result == -EAGAIN)
                    e->eagains++;
            }
        }
        break;
    }
    case EPT_SHUTDOWN: {
        GET(struct ept_shutdown, s);
        x = find(st, *slot, *nslot, s.s.sid);
        if (x && s.result == 0) {
            x->s.wr_shut = 1;
            x->s.changed = pos;
        }
        break;
    }
    case EPT_CLOSE: {
        GET(struct ept_close, c);
        if ((e = event_for(st, *slot, *nslot, c.s.sid)))
            e->closed = 1;
        x = find(st, *slot, *nslot, c.s.sid);
        if (x) {
            struct xsock *peer = find(st, *slot, *nslot, x->s.peer_sid);
            if (peer)
                peer->s.peer_sid = x->s.peer_sid == peer->s.sid ? peer->s.peer_sid : 0;
            remove_sock(st, *slot, c.s.sid);
        }
        break;
    }
    case EPT_LOST: {
        for (uint32_t i = 0; i < st->nsocks; i++)
            st->socks[i].s.uncertain = 1;
        break;
    }
    default:
        break;
    }
}

/* --- analysis ---------------------------------------------------------------------------- */

static struct rp_finding *new_finding(struct replay *r, unsigned diag, uint64_t first,
                                      uint64_t last, const struct rp_sock *s)
{
    if (r->nfindings == r->fcap) {
        r->fcap = r->fcap ? r->fcap * 2 : 16;
        r->findings = xrealloc(r->findings, r->fcap * sizeof(*r->findings));
    }
    struct rp_finding *f = &r->findings[r->nfindings++];
    memset(f, 0, sizeof(*f));
    f->diag = diag;
    f->first = first;
    f->last = last;
    f->count = 1;
    if (s) {
        f->sid = s->sid;
        f->fd = s->fd;
        f->conn = s->conn;
    }
    return f;
}

/* Report diag for socket x once; later occurrences widen the finding and count. */
static struct rp_finding *report(struct replay *r, struct xsock *x, unsigned diag,
                                 uint64_t first, uint64_t last)
{
    if (x && (x->reported & (1u << diag))) {
        struct rp_finding *f = &r->findings[x->finding[diag] - 1];
        f->count++;
        if (last > f->last)
            f->last = last;
        return NULL;
    }
    struct rp_finding *f = new_finding(r, diag, first, last, x ? &x->s : NULL);
    if (x) {
        x->reported |= 1u << diag;
        x->finding[diag] = (uint32_t)r->nfindings;
    }
    return f;
}

static uint64_t an_pending(struct replay *r, struct xsock *x)
{
    /* bytes read from x's peer and not yet written to x */
    struct xsock *p = find(&r->an, r->an_slot, r->an_nslot, x->s.peer_sid);
    if (!p || p->s.bytes_in < x->s.bytes_out)
        return 0;
    return p->s.bytes_in - x->s.bytes_out;
}

static int is_edge(const struct rp_sock *s)
{
    return (s->interest & EPOLLET) && !(s->interest & EPOLLONESHOT);
}

static int is_level(const struct rp_sock *s)
{
    return s->in_set && !(s->interest & EPOLLET);
}

/* The handler of event e (of the current wait) is done: judge what it did. */
static void end_event(struct replay *r, struct rp_event *e, uint64_t pos)
{
    struct xsock *x = find(&r->an, r->an_slot, r->an_nslot, e->sid);
    int did = e->bytes_read || e->bytes_written || e->accepts > e->eagains || e->closed ||
              e->eof;
    if (!did)
        r->counts.wasted++;
    if (!x || x->s.uncertain || e->stale)
        return;
    /* edge-starvation: stopped reading with room left, before EAGAIN */
    struct xsock *pair[2] = {x, find(&r->an, r->an_slot, r->an_nslot, x->s.peer_sid)};
    for (int k = 0; k < 2; k++) {
        struct xsock *y = pair[k];
        if (!y || !y->full_read || !is_edge(&y->s) || y->s.role == EPT_ROLE_LISTENER)
            continue;
        struct xsock *peer = find(&r->an, r->an_slot, r->an_nslot, y->s.peer_sid);
        if (peer && !peer->s.uncertain && an_pending(r, peer) == 0) {
            struct rp_finding *f = report(r, y, RP_EDGE_STARVATION, y->full_read - 1, pos);
            if (f)
                snprintf(f->what, sizeof(f->what),
                         "fd %d: read() filled the whole buffer, then the handler went back "
                         "to epoll_wait with room left and without reading to EAGAIN",
                         y->s.fd);
        }
        y->full_read = 0; /* judged */
    }
    /* busy-epollout: level EPOLLOUT returned with nothing to write */
    if (is_level(&x->s) && (e->events & EPOLLOUT) && !(e->events & (EPOLLERR | EPOLLHUP))) {
        if (!x->wrote_in_event && an_pending(r, x) == 0 && x->s.role != EPT_ROLE_LISTENER &&
            !x->s.connecting) {
            if (!x->out_streak++)
                x->out_streak_pos = pos;
            if (x->out_streak >= BUSY_OUT_STREAK) {
                struct rp_finding *f = report(r, x, RP_BUSY_EPOLLOUT, x->out_streak_pos, pos);
                if (f)
                    snprintf(f->what, sizeof(f->what),
                             "fd %d: EPOLLOUT returned by epoll_wait again and again with "
                             "nothing to write", x->s.fd);
            }
        } else {
            x->out_streak = 0;
        }
    }
    /* spurious-wakeup: EPOLLIN, the first read said EAGAIN, nothing else done. Now and then
     * it is the price of edge mode under load; a quarter of a socket's wake-ups is a pattern */
    if ((e->events & EPOLLIN) && e->has_read) {
        int spurious = e->first_read == -EAGAIN && !did;
        x->in_reads++;
        if (spurious && !x->spur++)
            x->spur_pos = pos;
        if (spurious && x->spur >= SPURIOUS_MIN && x->spur * 4 >= x->in_reads) {
            struct rp_finding *f = report(r, x, RP_SPURIOUS_WAKEUP, x->spur_pos, pos);
            if (f)
                snprintf(f->what, sizeof(f->what),
                         "fd %d: EPOLLIN again and again with nothing to read: the first read "
                         "said EAGAIN on %u of %u wake-ups", x->s.fd, x->spur, x->in_reads);
        }
    }
    x->wrote_in_event = 0;
}

static void end_handling(struct replay *r, uint64_t pos)
{
    struct rp_wait *w = &r->an.wait;
    if (r->handling >= 0 && (uint32_t)r->handling < w->n)
        end_event(r, &w->ev[r->handling], pos);
    r->handling = -1;
}

/* The connection of x ends (or the trace does) with x in this state: what stalled? */
static void judge_stall(struct replay *r, struct xsock *x, uint64_t pos, const char *how)
{
    if (x->s.uncertain || x->s.role == EPT_ROLE_LISTENER)
        return;
    /* oneshot-not-rearmed: fired, never re-armed, not at EOF, nothing of its own held back
     * by backpressure, and the connection stalled (timed out or never finished) */
    if ((x->s.interest & EPOLLONESHOT) && !x->s.armed && x->fired && !x->s.eof) {
        struct xsock *peer = find(&r->an, r->an_slot, r->an_nslot, x->s.peer_sid);
        if (!peer || an_pending(r, peer) == 0) {
            struct rp_finding *f = report(r, x, RP_ONESHOT_NOT_REARMED, x->fired - 1, pos);
            if (f)
                snprintf(f->what, sizeof(f->what),
                         "fd %d fired and was never re-armed with EPOLL_CTL_MOD; its "
                         "connection %s", x->s.fd, how);
        }
    }
}

static void analyse(struct replay *r, const struct ept_rec *rec, uint64_t pos)
{
    struct state *st = &r->an;
    struct rp_counts *c = &r->counts;
    struct xsock *x;
    c->records++;
    if (!r->first_ns)
        r->first_ns = rec->ns;
    r->last_ns = rec->ns;

    /* before the record changes the state */
    switch (rec->type) {
    case EPT_EPOLL_WAIT:
    case EPT_HANDLE:
    case EPT_END:
        end_handling(r, pos ? pos - 1 : 0);
        break;
    case EPT_CLOSE: {
        GET(struct ept_close, cl);
        x = find(st, r->an_slot, r->an_nslot, cl.s.sid);
        if (x && (cl.reason == EPT_CLOSE_TIMEOUT || cl.reason == EPT_CLOSE_SHUTDOWN))
            judge_stall(r, x, pos, cl.reason == EPT_CLOSE_TIMEOUT
                                       ? "stalled until the idle timeout closed it"
                                       : "was still stalled when the proxy stopped");
        break;
    }
    default:
        break;
    }

    apply(st, &r->an_slot, &r->an_nslot, rec, pos);

    /* after */
    switch (rec->type) {
    case EPT_EPOLL_WAIT: {
        GET(struct ept_epoll_wait, w);
        c->waits++;
        if (w.result == 0)
            c->empty_waits++;
        c->blocked_ns += w.blocked_ns;
        break;
    }
    case EPT_READY: {
        GET(struct ept_ready, ev);
        c->events++;
        x = find(st, r->an_slot, r->an_nslot, ev.s.sid);
        if (!x)
            break;
        if ((x->s.interest & EPOLLONESHOT) && !x->s.armed)
            x->fired = pos + 1;
        /* eof-spin: reported readable again and again after read() returned 0 */
        if (x->s.eof && is_level(&x->s) && (ev.events & (EPOLLIN | EPOLLRDHUP))) {
            if (!x->eof_events++)
                x->eof_pos = pos;
            if (x->eof_events >= EOF_SPIN_EVENTS && !x->s.uncertain) {
                struct rp_finding *f = report(r, x, RP_EOF_SPIN, x->eof_pos, pos);
                if (f)
                    snprintf(f->what, sizeof(f->what),
                             "fd %d: read() returned 0, yet epoll_wait kept reporting it "
                             "readable", x->s.fd);
            }
        }
        break;
    }
    case EPT_HANDLE: {
        GET(struct ept_ready, h);
        r->handling = (int32_t)h.index;
        struct rp_wait *w = &st->wait;
        if (h.index < w->n && w->ev[h.index].stale) {
            x = NULL;
            struct rp_finding *f = report(r, NULL, RP_STALE_EVENT, w->pos, pos);
            f->sid = h.s.sid;
            f->fd = h.s.fd;
            f->conn = h.s.conn;
            snprintf(f->what, sizeof(f->what),
                     "event #%u of this epoll_wait was handled for fd %d after that socket "
                     "had been closed earlier in the same batch", h.index, h.s.fd);
        }
        /* an edge listener event: judge the previous one by what it did */
        break;
    }
    case EPT_EPOLL_CTL: {
        GET(struct ept_epoll_ctl, ctl);
        if (ctl.op >= 1 && ctl.op <= 3)
            c->ctl[ctl.op]++;
        x = find(st, r->an_slot, r->an_nslot, ctl.s.sid);
        if (x && ctl.result == 0) {
            x->fired = 0;
            if (!(ctl.events & EPOLLOUT))
                x->out_streak = 0;
            if (!(ctl.events & (EPOLLIN | EPOLLRDHUP)))
                x->eof_events = 0;
        }
        break;
    }
    case EPT_ACCEPT: {
        GET(struct ept_accept, a);
        if (a.result >= 0) {
            c->accepts++;
            c->conns++;
        }
        if (a.result == -EAGAIN)
            c->eagains++;
        break;
    }
    case EPT_CONNECT: {
        GET(struct ept_connect, cn);
        if (cn.phase == 0)
            c->connects++;
        break;
    }
    case EPT_READ:
    case EPT_WRITE: {
        GET(struct ept_io, io);
        x = find(st, r->an_slot, r->an_nslot, io.s.sid);
        if (rec->type == EPT_READ) {
            c->reads++;
            if (io.result > 0)
                c->bytes_read += (uint64_t)io.result;
        } else {
            c->writes++;
            if (io.result > 0)
                c->bytes_written += (uint64_t)io.result;
        }
        if (io.result == -EAGAIN)
            c->eagains++;
        if (!x)
            break;
        if (rec->type == EPT_READ) {
            x->full_read = io.result > 0 && (uint32_t)io.result == io.asked ? pos + 1 : 0;
            struct rp_event *e = current_event(st);
            if (io.result <= 0 && e && e->sid == io.s.sid && (e->events & EPOLLIN))
                x->empty_read = pos + 1;
            else if (io.result > 0)
                x->empty_read = 0;
        } else {
            x->wrote_in_event = 1;
            x->out_streak = 0;
            /* mis-trigger: after an empty read on the peer, the handler forwards anyway */
            struct xsock *src = find(st, r->an_slot, r->an_nslot, x->s.peer_sid);
            if (src && src->empty_read && io.asked == 0 && !src->s.uncertain) {
                struct rp_finding *f = report(r, src, RP_MISTRIGGER, src->empty_read - 1, pos);
                if (f)
                    snprintf(f->what, sizeof(f->what),
                             "fd %d: EPOLLIN while the response waited to be written; read() "
                             "found nothing and an empty buffer was forwarded to fd %d",
                             src->s.fd, x->s.fd);
                src->empty_read = 0;
            }
        }
        break;
    }
    case EPT_CLOSE:
        c->closes++;
        break;
    case EPT_LOST: {
        GET(struct ept_lost, l);
        c->lost += l.count;
        struct rp_finding *f = new_finding(r, RP_LOST_RECORDS, pos, pos, NULL);
        f->count = l.count;
        f->first_seq = l.first_seq;
        f->last_seq = l.last_seq;
        snprintf(f->what, sizeof(f->what), "%llu records dropped (seq %llu-%llu): the ring "
                 "was full", (unsigned long long)l.count, (unsigned long long)l.first_seq,
                 (unsigned long long)l.last_seq);
        /* no diagnosis reasons across the gap */
        for (uint32_t i = 0; i < st->nsocks; i++) {
            struct xsock *y = &st->socks[i];
            y->full_read = y->fired = y->empty_read = 0;
            y->out_streak = y->eof_events = y->spur = y->in_reads = 0;
        }
        r->handling = -1;
        break;
    }
    default:
        break;
    }
}

static void watch_accepts(struct replay *r, struct accept_watch *aw, const struct ept_rec *rec,
                          uint64_t pos)
{
    switch (rec->type) {
    case EPT_HANDLE:
    case EPT_EPOLL_WAIT:
    case EPT_END: {
        if (aw->active && aw->last_ok && !aw->paused) {
            struct xsock *x = find(&r->an, r->an_slot, r->an_nslot, aw->sid);
            if (x && !x->s.uncertain) {
                struct rp_finding *f = report(r, x, RP_ACCEPT_STARVATION, aw->first, pos);
                if (f)
                    snprintf(f->what, sizeof(f->what),
                             "edge-triggered listener fd %d: the handler accepted and went "
                             "back to epoll_wait without accept() saying EAGAIN", x->s.fd);
            }
        }
        aw->active = 0;
        if (rec->type == EPT_HANDLE) {
            GET(struct ept_ready, h);
            struct xsock *x = find(&r->an, r->an_slot, r->an_nslot, h.s.sid);
            if (x && x->s.role == EPT_ROLE_LISTENER && (x->s.interest & EPOLLET)) {
                aw->active = 1;
                aw->sid = h.s.sid;
                aw->first = pos;
                aw->last_ok = 0;
                aw->paused = 0;
            }
        }
        break;
    }
    case EPT_ACCEPT: {
        GET(struct ept_accept, a);
        if (aw->active && a.listener.sid == aw->sid)
            aw->last_ok = a.result >= 0;
        break;
    }
    case EPT_PAUSE: {
        GET(struct ept_pause, p);
        if (aw->active && p.paused)
            aw->paused = 1;
        break;
    }
    default:
        break;
    }
}

/* --- blocks, checkpoints, open ---------------------------------------------------------- */

static void save_ckpt(struct replay *r, struct state *st)
{
    if (r->nck == r->ckcap) {
        r->ckcap = r->ckcap ? r->ckcap * 2 : 64;
        r->ck = xrealloc(r->ck, r->ckcap * sizeof(*r->ck));
    }
    struct ckpt *c = &r->ck[r->nck++];
    c->pos = st->pos;
    c->nsocks = st->nsocks;
    c->socks = xrealloc(NULL, st->nsocks * sizeof(*c->socks));
    memcpy(c->socks, st->socks, st->nsocks * sizeof(*c->socks));
    c->wait = st->wait;
    c->ev = xrealloc(NULL, st->wait.n * sizeof(*c->ev));
    memcpy(c->ev, st->wait.ev, st->wait.n * sizeof(*c->ev));
    r->ck_bytes += st->nsocks * sizeof(*c->socks) + st->wait.n * sizeof(*c->ev);
    if (r->ck_bytes > CKPT_BUDGET && r->nck > 2) {
        /* thin: keep every other checkpoint, twice the interval from now on */
        size_t j = 0;
        r->ck_bytes = 0;
        for (size_t i = 0; i < r->nck; i++) {
            if (i % 2 == 0 || i == r->nck - 1) {
                r->ck[j++] = r->ck[i];
                r->ck_bytes += r->ck[i].nsocks * sizeof(struct xsock) +
                               r->ck[i].wait.n * sizeof(struct rp_event);
            } else {
                free(r->ck[i].socks);
                free(r->ck[i].ev);
            }
        }
        r->nck = j;
        r->ck_every *= 2;
    }
}

/* Index the complete blocks from r->next_off on and analyse their records. */
static int64_t scan(struct replay *r)
{
    struct reader_block b;
    int64_t added = 0;
    while (reader_block(&r->rd, r->next_off, &b) > 0) {
        if (r->nblocks == r->bcap) {
            r->bcap = r->bcap ? r->bcap * 2 : 256;
            r->blocks = xrealloc(r->blocks, r->bcap * sizeof(*r->blocks));
        }
        uint32_t n = 0;
        size_t p = 0;
        const struct ept_rec *rec;
        while ((rec = reader_next_rec(&b, &p))) {
            uint64_t pos = r->count + n;
            watch_accepts(r, &r->aw, rec, pos);
            analyse(r, rec, pos);
            if ((pos + 1) % r->ck_every == 0)
                save_ckpt(r, &r->an);
            n++;
        }
        r->blocks[r->nblocks++] = (struct block){b.off, r->count, n, b.length};
        r->count += n;
        added += n;
        r->next_off = b.off + b.length;
    }
    if (r->count)
        r->counts.duration_ns = r->last_ns - r->first_ns;
    return added;
}

static void state_init(struct state *st)
{
    memset(st, 0, sizeof(*st));
    st->pos = UINT64_MAX;
    st->wait.pos = UINT64_MAX;
    st->wait.current = -1;
}

static void state_free(struct state *st)
{
    free(st->socks);
    free(st->wait.ev);
}

int replay_open(struct replay **out, const char *path, char *err, size_t errlen)
{
    struct replay *r = calloc(1, sizeof(*r));
    int rc;
    *out = NULL;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = reader_open(&r->rd, path, err, errlen);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->mode = r->rd.hdr.mode;
    state_init(&r->st);
    state_init(&r->an);
    r->handling = -1;
    r->ck_every = CKPT_EVERY;
    r->next_off = r->rd.data_off;
    r->cache_block = SIZE_MAX;
    scan(r);
    *out = r;
    return 0;
}

void replay_close(struct replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nck; i++) {
        free(r->ck[i].socks);
        free(r->ck[i].ev);
    }
    free(r->ck);
    state_free(&r->st);
    state_free(&r->an);
    free(r->slot);
    free(r->an_slot);
    free(r->sorted);
    free(r->findings);
    free(r->blocks);
    reader_close(&r->rd);
    free(r);
}

uint64_t replay_count(const struct replay *r)
{
    return r->count;
}

const struct reader *replay_reader(const struct replay *r)
{
    return &r->rd;
}

unsigned replay_mode(const struct replay *r)
{
    return r->mode;
}

int64_t replay_refresh(struct replay *r)
{
    int rc = reader_refresh(&r->rd);
    if (rc < 0)
        return rc;
    r->cache_block = SIZE_MAX;
    return scan(r);
}

/* The block holding position pos (binary search). */
static size_t block_of(const struct replay *r, uint64_t pos)
{
    size_t lo = 0, hi = r->nblocks;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (r->blocks[mid].first <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

const struct ept_rec *replay_rec(struct replay *r, uint64_t pos)
{
    if (pos >= r->count)
        return NULL;
    struct reader_block b;
    size_t bi;
    /* sequential access is the common case: continue from the last record found */
    if (r->cache_block < r->nblocks && r->cache_pos <= pos &&
        pos < r->blocks[r->cache_block].first + r->blocks[r->cache_block].nrec)
        bi = r->cache_block;
    else {
        bi = block_of(r, pos);
        r->cache_block = bi;
        r->cache_pos = r->blocks[bi].first;
        r->cache_byte = 0;
    }
    /* verified when it was indexed: no CRC again on every look-up */
    b.recs = r->rd.map + r->blocks[bi].off + EPT_BLOCK_HDR;
    b.recs_len = r->blocks[bi].length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER;
    const struct ept_rec *rec = NULL;
    size_t p = r->cache_byte;
    uint64_t at = r->cache_pos;
    while ((rec = reader_next_rec(&b, &p))) {
        if (at == pos) {
            r->cache_pos = at;
            r->cache_byte = (size_t)((const uint8_t *)rec - b.recs);
            return rec;
        }
        at++;
    }
    return NULL;
}

static void restore(struct replay *r, const struct ckpt *c)
{
    struct state *st = &r->st;
    for (uint32_t i = 0; i < st->nsocks; i++)
        r->slot[st->socks[i].s.sid] = -1;
    if (c->nsocks > st->cap) {
        st->cap = c->nsocks;
        st->socks = xrealloc(st->socks, st->cap * sizeof(*st->socks));
    }
    memcpy(st->socks, c->socks, c->nsocks * sizeof(*st->socks));
    st->nsocks = c->nsocks;
    for (uint32_t i = 0; i < st->nsocks; i++) {
        grow_slots(&r->slot, &r->nslot, st->socks[i].s.sid);
        r->slot[st->socks[i].s.sid] = (int32_t)i;
    }
    if (c->wait.n > st->evcap) {
        st->evcap = c->wait.n;
        st->wait.ev = xrealloc(st->wait.ev, st->evcap * sizeof(*st->wait.ev));
    }
    struct rp_event *ev = st->wait.ev;
    st->wait = c->wait;
    st->wait.ev = ev;
    memcpy(ev, c->ev, c->wait.n * sizeof(*ev));
    st->pos = c->pos;
}

static void reset_state(struct replay *r)
{
    struct state *st = &r->st;
    for (uint32_t i = 0; i < st->nsocks; i++)
        r->slot[st->socks[i].s.sid] = -1;
    st->nsocks = 0;
    st->wait.n = 0;
    st->wait.pos = UINT64_MAX;
    st->wait.current = -1;
    st->pos = UINT64_MAX;
}

int replay_seek(struct replay *r, uint64_t pos)
{
    if (pos >= r->count)
        return -ERANGE;
    struct state *st = &r->st;
    if (st->pos == pos)
        return 0;
    int near = st->pos != UINT64_MAX && st->pos < pos && pos - st->pos <= r->ck_every;
    if (!near) {
        /* the last checkpoint at or before pos */
        size_t lo = 0, hi = r->nck;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->ck[mid].pos <= pos)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            reset_state(r);
        else
            restore(r, &r->ck[lo - 1]);
    }
    uint64_t at = st->pos == UINT64_MAX ? 0 : st->pos + 1;
    for (; at <= pos; at++) {
        const struct ept_rec *rec = replay_rec(r, at);
        if (!rec)
            return -ERANGE;
        apply(st, &r->slot, &r->nslot, rec, at);
    }
    return 0;
}

uint64_t replay_pos(const struct replay *r)
{
    return r->st.pos;
}

static int by_fd(const void *a, const void *b)
{
    const struct rp_sock *x = *(const struct rp_sock *const *)a;
    const struct rp_sock *y = *(const struct rp_sock *const *)b;
    return x->fd != y->fd ? (x->fd < y->fd ? -1 : 1) : (x->sid < y->sid ? -1 : 1);
}

size_t replay_socks(struct replay *r, const struct rp_sock ***socks)
{
    struct state *st = &r->st;
    if (st->nsocks > r->sorted_cap) {
        r->sorted_cap = st->nsocks * 2;
        r->sorted = xrealloc(r->sorted, r->sorted_cap * sizeof(*r->sorted));
    }
    for (uint32_t i = 0; i < st->nsocks; i++)
        r->sorted[i] = &st->socks[i].s;
    if (st->nsocks > 1)
        qsort(r->sorted, st->nsocks, sizeof(*r->sorted), by_fd);
    *socks = r->sorted;
    return st->nsocks;
}

const struct rp_sock *replay_sock(struct replay *r, uint32_t sid)
{
    struct xsock *x = find(&r->st, r->slot, r->nslot, sid);
    return x ? &x->s : NULL;
}

const struct rp_wait *replay_wait(const struct replay *r)
{
    return &r->st.wait;
}

uint64_t replay_pending(struct replay *r, const struct rp_sock *s)
{
    const struct rp_sock *p = replay_sock(r, s->peer_sid);
    if (!p || p->bytes_in < s->bytes_out)
        return 0;
    return p->bytes_in - s->bytes_out;
}

size_t replay_findings(const struct replay *r, const struct rp_finding **out)
{
    *out = r->findings;
    return r->nfindings;
}

const struct rp_counts *replay_counts(const struct replay *r)
{
    return &r->counts;
}

size_t replay_findings_at(const struct replay *r, uint64_t pos, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nfindings && n < max; i++)
        if (r->findings[i].first <= pos && pos <= r->findings[i].last)
            idx[n++] = i;
    return n;
}

size_t replay_nsocks(const struct replay *r)
{
    return r->st.nsocks;
}
