/* state.c - the model of a traced process, one record at a time (see state.h): lookups,
 * files and numbers, registrations, batches, then one function per record type, gathered
 * in state_appliers at the end. */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "xmem.h"

#define MADE_UP_SID 0xC0000000u   /* identities the model gives files no record named */
#define FD_DIRECT 65536           /* fd numbers below this are looked up in an array */
#define ARMING (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI)

/* A record body copied out (zero-filled where an older, shorter record lacks fields). */

void state_init(struct state *st)
{
    memset(st, 0, sizeof(*st));
    idmap_init(&st->slot);
    idmap_init(&st->fds);
    idmap_init(&st->conns);
    idmap_init(&st->tids);
    idmap_init(&st->dead);
    st->pos = UINT64_MAX;
    st->next_sid = MADE_UP_SID;
}

void state_free(struct state *st)
{
    free(st->socks);
    free(st->fdslot);
    free(st->free);
    for (uint32_t i = 0; i < st->nthreads; i++)
        free(st->threads[i].wait.ev);
    free(st->threads);
    idmap_free(&st->slot);
    idmap_free(&st->fds);
    idmap_free(&st->conns);
    idmap_free(&st->tids);
    idmap_free(&st->dead);
    memset(st, 0, sizeof(*st));
}

void state_copy(struct state *dst, const struct state *src)
{
    if (dst->cap < src->nslots) {
        dst->cap = src->nslots;
        dst->socks = xreallocarray(dst->socks, dst->cap, sizeof(*dst->socks));
    }
    if (src->nslots)
        memcpy(dst->socks, src->socks, src->nslots * sizeof(*dst->socks));
    dst->nslots = src->nslots;
    dst->nsocks = src->nsocks;
    if (dst->freecap < src->nfree) {
        dst->freecap = src->nfree;
        dst->free = xreallocarray(dst->free, dst->freecap, sizeof(*dst->free));
    }
    if (src->nfree)
        memcpy(dst->free, src->free, src->nfree * sizeof(*dst->free));
    dst->nfree = src->nfree;
    idmap_copy(&dst->slot, &src->slot);
    idmap_copy(&dst->fds, &src->fds);
    if (dst->nfdslot != src->nfdslot) {
        free(dst->fdslot);
        dst->fdslot = src->nfdslot ? xreallocarray(NULL, src->nfdslot, sizeof(uint32_t)) : NULL;
        dst->nfdslot = src->nfdslot;
    }
    if (src->nfdslot)
        memcpy(dst->fdslot, src->fdslot, src->nfdslot * sizeof(uint32_t));
    idmap_copy(&dst->conns, &src->conns);
    idmap_copy(&dst->tids, &src->tids);
    idmap_copy(&dst->dead, &src->dead);
    if (dst->tcap < src->nthreads) {
        dst->threads = xreallocarray(dst->threads, src->nthreads, sizeof(*dst->threads));
        for (uint32_t i = dst->tcap; i < src->nthreads; i++)
            memset(&dst->threads[i], 0, sizeof(dst->threads[i]));
        dst->tcap = src->nthreads;
    }
    for (uint32_t i = 0; i < src->nthreads; i++) {
        struct state_thread *d = &dst->threads[i];
        const struct state_thread *s = &src->threads[i];
        struct state_event *ev = d->wait.ev;
        uint32_t cap = d->wait.cap;
        *d = *s;
        if (cap < s->wait.n) {
            cap = s->wait.n;
            ev = xreallocarray(ev, cap, sizeof(*ev));
        }
        if (s->wait.n)
            memcpy(ev, s->wait.ev, s->wait.n * sizeof(*ev));
        d->wait.ev = ev;
        d->wait.cap = cap;
    }
    for (uint32_t i = src->nthreads; i < dst->nthreads; i++)
        dst->threads[i].wait.n = 0;
    dst->nthreads = src->nthreads;
    dst->cur = src->cur;
    dst->next_sid = src->next_sid;
    dst->max_sid = src->max_sid;
    dst->regs_dropped = src->regs_dropped;
    dst->gap = src->gap;
    dst->pos = src->pos;
}

size_t state_bytes(const struct state *st)
{
    size_t n = st->nslots * sizeof(struct state_sock) + st->nfree * sizeof(uint32_t) +
               st->nfdslot * sizeof(uint32_t) +
               idmap_bytes(&st->slot) +
               idmap_bytes(&st->fds) + idmap_bytes(&st->conns) + idmap_bytes(&st->tids) +
               idmap_bytes(&st->dead) +
               st->nthreads * sizeof(struct state_thread);
    for (uint32_t i = 0; i < st->nthreads; i++)
        n += st->threads[i].wait.n * sizeof(struct state_event);
    return n;
}

/* --- lookups --------------------------------------------------------------------------- */


/* The slot fd names into *slot; 1, or 0 when it names nothing. */
static inline int fd_get(const struct state *st, int32_t fd, uint32_t *slot)
{
    if (fd < 0)
        return 0;
    if (fd < FD_DIRECT) {
        if ((uint32_t)fd >= st->nfdslot || !st->fdslot[fd])
            return 0;
        *slot = st->fdslot[fd] - 1;
        return 1;
    }
    return idmap_get(&st->fds, (uint32_t)fd, slot);
}

static void fd_put(struct state *st, int32_t fd, uint32_t slot)
{
    if (fd >= FD_DIRECT) {
        idmap_put(&st->fds, (uint32_t)fd, slot);
        return;
    }
    if ((uint32_t)fd >= st->nfdslot) {
        uint32_t n = st->nfdslot ? st->nfdslot : 64;
        while (n <= (uint32_t)fd)
            n *= 2;
        st->fdslot = xreallocarray(st->fdslot, n, sizeof(*st->fdslot));
        memset(st->fdslot + st->nfdslot, 0, (n - st->nfdslot) * sizeof(*st->fdslot));
        st->nfdslot = n;
    }
    st->fdslot[fd] = slot + 1;
}

static void fd_del(struct state *st, int32_t fd)
{
    if (fd >= FD_DIRECT)
        idmap_del(&st->fds, (uint32_t)fd);
    else if ((uint32_t)fd < st->nfdslot)
        st->fdslot[fd] = 0;
}

/* fd_sock is state_fd inlined: the model asks several times a record. */
static inline struct state_sock *fd_sock(const struct state *st, int32_t fd)
{
    uint32_t i;
    return fd_get(st, fd, &i) ? &st->socks[i] : NULL;
}

struct state_sock *state_fd(const struct state *st, int32_t fd)
{
    return fd_sock(st, fd);
}

struct state_thread *state_thread(const struct state *st, uint32_t tid)
{
    uint32_t i;
    return idmap_get(&st->tids, tid, &i) ? &st->threads[i] : NULL;
}

/* state_event_of inlined: every call on a socket asks it. */
static inline struct state_event *event_of(const struct state_thread *t,
                                           const struct state_sock *s, int32_t fd)
{
    const struct state_wait *w = &t->wait;
    if (!s || s->ev_wait != w->pos || s->ev_tid != t->tid || s->ev_index >= w->n)
        return NULL;
    struct state_event *first = &w->ev[s->ev_index];
    if (fd < 0 || first->fd == fd)
        return first;
    for (int32_t i = first->next_same; i >= 0 && (uint32_t)i < w->n; i = w->ev[i].next_same)
        if (w->ev[i].fd == fd)
            return &w->ev[i];
    return first;
}

struct state_event *state_event_of(const struct state_thread *t, const struct state_sock *s,
                                   int32_t fd)
{
    return event_of(t, s, fd);
}

/* The thread tid's state, made on its first record. */
struct state_thread *state_thread_find(struct state *st, uint32_t tid)
{
    uint32_t i;
    if (idmap_get(&st->tids, tid, &i)) {
        st->cur = i;
        return &st->threads[i];
    }
    if (st->nthreads == st->tcap) {
        st->tcap = st->tcap ? st->tcap * 2 : 4;
        st->threads = xreallocarray(st->threads, st->tcap, sizeof(*st->threads));
    }
    struct state_thread *t = &st->threads[st->nthreads];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->wait.pos = UINT64_MAX;
    t->wait.current = -1;
    idmap_put(&st->tids, tid, st->nthreads);
    st->cur = st->nthreads++;
    return t;
}

/* --- files and numbers ------------------------------------------------------------------ */

/* Keep the first registration visible in the socket's own fields (panes show one). */
static void mirror(struct state_sock *s)
{
    s->in_set = s->nregs > 0;
    s->interest = s->nregs ? s->reg[0].interest : 0;
    s->armed = s->nregs ? s->reg[0].armed : 0;
    s->last_ready = s->nregs ? s->reg[0].last_ready : 0;
}

static struct state_sock *new_sock(struct state *st, uint32_t sid, int32_t fd, uint8_t role,
                                   uint64_t pos)
{
    if (!sid || state_sock(st, sid))
        sid = st->next_sid++;
    else if (sid > st->max_sid && sid < MADE_UP_SID)
        st->max_sid = sid;
    uint32_t i;
    if (st->nfree) {
        i = st->free[--st->nfree];
    } else {
        if (st->nslots == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 64;
            st->socks = xreallocarray(st->socks, st->cap, sizeof(*st->socks));
        }
        i = st->nslots++;
    }
    struct state_sock *s = &st->socks[i];
    memset(s, 0, sizeof(*s));
    s->sid = sid;
    s->slot = i;
    s->fd = fd;
    s->role = role;
    s->opened = pos;
    s->changed = pos;
    s->ev_wait = UINT64_MAX;
    s->unread = -1;
    idmap_put(&st->slot, sid, i);
    st->nsocks++;
    return s;
}

/* Forget s: the last number naming it was closed (or a gap hid its end). */
static void drop(struct state *st, struct state_sock *s, uint64_t pos, uint64_t ns)
{
    if (st->hooks && st->hooks->drop)
        st->hooks->drop(st->hooks->arg, st, s, pos, ns);
    uint32_t v;
    if (s->conn && idmap_get(&st->conns, s->conn, &v) && v == s->sid)
        idmap_del(&st->conns, s->conn);
    struct state_sock *p = state_sock(st, s->peer);
    if (p && p->peer == s->sid)
        p->peer = 0;
    idmap_del(&st->slot, s->sid);
    if (st->gap) /* after a gap a sid not alive may be new: remember the ones that died */
        idmap_put(&st->dead, s->sid, 1);
    if (st->nfree == st->freecap) {
        st->freecap = st->freecap ? st->freecap * 2 : 64;
        st->free = xreallocarray(st->free, st->freecap, sizeof(*st->free));
    }
    st->free[st->nfree++] = s->slot;
    s->sid = 0;
    st->nsocks--;
}

/* fd no longer names its file; the file goes when no number names it. */
static void unbind_fd(struct state *st, int32_t fd, uint64_t pos, uint64_t ns)
{
    uint32_t i;
    if (!fd_get(st, fd, &i))
        return;
    fd_del(st, fd);
    struct state_sock *s = &st->socks[i];
    if (!s->sid)
        return;
    for (uint32_t r = 0; r < s->nregs; r++)
        if (s->reg[r].fd == fd)
            s->reg[r].fd_closed = 1;
    if (s->nfds)
        s->nfds--;
    if (s->nfds && s->fd == fd) { /* a dup lives on: name the file by it (rare: scanned) */
        s->fd = -1;
        for (uint32_t n = 0; n < st->nfdslot && s->fd < 0; n++)
            if (st->fdslot[n] == i + 1)
                s->fd = (int32_t)n;
    }
    if (!s->nfds)
        drop(st, s, pos, ns);
}

/* Number fd names s from now on (what it named before loses it). */
static void bind_fd(struct state *st, int32_t fd, struct state_sock *s, uint64_t pos,
                    uint64_t ns)
{
    if (fd < 0)
        return;
    uint32_t i;
    if (fd_get(st, fd, &i)) {
        if (&st->socks[i] == s)
            return;
        unbind_fd(st, fd, pos, ns);
    }
    fd_put(st, fd, s->slot);
    if (s->nfds < UINT8_MAX)
        s->nfds++;
    s->fd = fd;
}

/* A file a call just made (socket, accept, epoll_create) under number fd: the number's old
 * file, if the trace missed its close, is let go first. */
static struct state_sock *new_file(struct state *st, int32_t fd, uint32_t sid, uint8_t role,
                                   uint8_t kind, uint64_t pos, uint64_t ns)
{
    unbind_fd(st, fd, pos, ns);
    struct state_sock *s = new_sock(st, sid, fd, role, pos);
    s->kind = kind;
    bind_fd(st, fd, s, pos, ns);
    return s;
}

void state_gap(struct state *st)
{
    for (uint32_t i = 0; i < st->nslots; i++)
        st->socks[i].uncertain = 1;
    for (uint32_t i = 0; i < st->nthreads; i++)
        st->threads[i].wait.lost = 1; /* its next epoll_wait may be among the lost */
    st->gap = 1;
}

/* Whether sid, which a record carries and no live file has, names a file the model never
 * saw: one made after every sid seen so far, or, after a gap, any sid not seen to die (its
 * creation may have been lost, however early it was made). Otherwise a record's sid that
 * the fd table contradicts is the writer's stale claim about a closed file. */
static int new_identity(const struct state *st, uint32_t sid)
{
    uint32_t v;
    if (!sid || sid >= MADE_UP_SID || state_sock(st, sid))
        return 0;
    return sid > st->max_sid || (st->gap && !idmap_get(&st->dead, sid, &v));
}

/* The file a record's socket means. The fd table says what a number names; a record's sid
 * is trusted for a number the table does not know, or when it is a new identity (the table
 * missed the call that made it, e.g. in a gap). A known-dead sid is the writer's stale
 * claim (the stale-event fault does that) and the table wins. create: make the file when
 * nothing names it. */
static __attribute__((noinline)) struct state_sock *
resolve_slow(struct state *st, const struct ept_sock *k, uint64_t pos, uint64_t ns, int create)
{
    struct state_sock *s = fd_sock(st, k->fd);
    if (s) {
        if (k->sid != s->sid && new_identity(st, k->sid)) {
            s = new_sock(st, k->sid, k->fd, k->role, pos);
            s->conn = k->conn;
            s->uncertain = st->gap;
            bind_fd(st, k->fd, s, pos, ns);
        }
        return s;
    }
    s = state_sock(st, k->sid);
    if (!s) {
        if (!create)
            return NULL;
        s = new_sock(st, k->sid, k->fd, k->role, pos);
        s->conn = k->conn;
        s->uncertain = st->gap; /* after a gap, a file first seen has an unknown past */
    }
    bind_fd(st, k->fd, s, pos, ns); /* slots do not move: s stays valid */
    return s;
}

/* resolve, its common case inline: the number names the file the record says. */
static inline struct state_sock *resolve(struct state *st, const struct ept_sock *k,
                                         uint64_t pos, uint64_t ns, int create)
{
    struct state_sock *s = fd_sock(st, k->fd);
    if (__builtin_expect(s && k->sid == s->sid, 1))
        return s;
    return resolve_slow(st, k, pos, ns, create);
}

/* Pair a and b as the two sockets of one connection. */
static void pair(struct state_sock *a, struct state_sock *b)
{
    a->peer = b->sid;
    b->peer = a->sid;
}

/* The proxy's connection id: pair s with the other socket of its connection. */
static void link_conn(struct state *st, struct state_sock *s)
{
    uint32_t other;
    if (!s->conn)
        return;
    if (!idmap_get(&st->conns, s->conn, &other)) {
        idmap_put(&st->conns, s->conn, s->sid);
        return;
    }
    struct state_sock *o = state_sock(st, other);
    if (o && o != s && o->role != s->role)
        pair(s, o);
}

/* --- registrations ---------------------------------------------------------------------- */

static void ctl(struct state *st, const struct ept_epoll_ctl *c, uint64_t pos, uint64_t ns)
{
    struct state_sock *ep = fd_sock(st, c->epfd);
    if (!ep) {
        struct ept_sock k = {c->epfd, 0, 0, EPT_ROLE_EPOLL, {0}};
        ep = resolve(st, &k, pos, ns, 1);
        ep->kind = EPT_FD_EPOLL;
    }
    uint32_t set = ep->sid;
    struct state_sock *s = resolve(st, &c->s, pos, ns, 1);
    if (!s)
        return;
    st->touched = s->sid;
    st->touched_slot = s->slot;
    struct state_reg *g = state_reg(s, set, c->s.fd);
    s->changed = pos;
    if (c->op == EPOLL_CTL_DEL) {
        if (g) {
            *g = s->reg[--s->nregs];
            mirror(s);
        }
        return;
    }
    if (!g) {
        if (s->nregs == STATE_REGS) {
            st->regs_dropped++;
            return;
        }
        g = &s->reg[s->nregs++];
        memset(g, 0, sizeof(*g));
        g->set = set;
        g->fd = c->s.fd;
    }
    g->interest = c->events;
    g->armed = (c->events & ARMING) != 0;
    g->changed = pos;
    mirror(s);
}

/* --- the batch of a wait ------------------------------------------------------------------ */

static void wait_begin(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                       uint64_t pos)
{
    EPT_VIEW(struct ept_epoll_wait, w, rec);
    if (t->wait.pos != UINT64_MAX && st->hooks && st->hooks->batch_end)
        st->hooks->batch_end(st->hooks->arg, st, t, pos, rec->ns);
    t->last_ns = rec->ns;
    struct state_sock *ep = fd_sock(st, w->epfd);
    if (!ep && w->epfd >= 0) {
        struct ept_sock k = {w->epfd, 0, 0, EPT_ROLE_EPOLL, {0}};
        ep = resolve(st, &k, pos, rec->ns, 1);
        ep->kind = EPT_FD_EPOLL;
    }
    struct state_wait *b = &t->wait;
    b->pos = pos;
    b->ns = rec->ns;
    b->blocked_ns = w->blocked_ns;
    b->tid = t->tid;
    b->set = ep ? ep->sid : 0;
    b->epfd = w->epfd;
    b->result = w->result;
    b->timeout = w->timeout;
    b->current = -1;
    b->n = 0;
    b->handles = 0;
    b->lost = 0;
    b->accepts = 0;
    t->last_read_sid = 0;
}

static void ready(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                  uint64_t pos)
{
    EPT_VIEW(struct ept_ready, r, rec);
    struct state_wait *w = &t->wait;
    if (w->pos == UINT64_MAX)
        return;
    /* the registration's file: the record's sid when it is alive (a closed number can
     * still be reported through a dup), else what the number names */
    struct state_sock *s = fd_sock(st, r->s.fd);
    if (s && r->s.sid && s->sid != r->s.sid) {
        struct state_sock *o = state_sock(st, r->s.sid);
        if (o)
            s = o;
        else if (new_identity(st, r->s.sid)) /* the number was reused where we did not see */
            s = resolve(st, &r->s, pos, rec->ns, 1);
    }
    if (!s)
        s = state_sock(st, r->s.sid);
    if (!s)
        s = resolve(st, &r->s, pos, rec->ns, 1);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->ev = xreallocarray(w->ev, w->cap, sizeof(*w->ev));
    }
    uint32_t i = w->n++;
    struct state_event *e = &w->ev[i];
    memset(e, 0, sizeof(*e));
    e->sid = s ? s->sid : r->s.sid;
    e->fd = r->s.fd;
    e->events = r->events;
    e->role = s ? s->role : r->s.role;
    e->next_same = -1;
    e->slot = s ? s->slot : UINT32_MAX;
    st->touched = s ? s->sid : 0;
    st->touched_slot = s ? s->slot : 0;
    st->touched_ev = e;
    if (!s)
        return;
    if (s->ev_wait == w->pos && s->ev_tid == t->tid && s->ev_index < i) {
        uint32_t j = s->ev_index;
        while (w->ev[j].next_same >= 0)
            j = (uint32_t)w->ev[j].next_same;
        w->ev[j].next_same = (int32_t)i;
    } else {
        s->ev_wait = w->pos;
        s->ev_tid = t->tid;
        s->ev_index = i;
    }
    struct state_reg *g = state_reg(s, w->set, r->s.fd);
    if (!g)
        g = state_reg(s, w->set, -1);
    st->touched_reg = g;
    if (g) {
        g->last_ready = r->events;
        g->changed = pos;
        if (g->interest & EPOLLONESHOT)
            g->armed = 0;
    }
    if (s->connecting == 2)
        s->connecting = 0;
    else if (s->connecting && (r->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        s->connecting = 2; /* this event reports the connect's completion */
    s->changed = pos;
    mirror(s);
}

/* The event of thread t's batch that a call on s (through number fd) belongs to, or NULL.
 * Handle records say which event is being handled; without them, the first call on an
 * event's fd begins its handling. When one file was reported twice (a dup, or two sets),
 * a read after its first event was read to the end (EAGAIN or 0), or after one read of a
 * level-triggered registration, belongs to its next event. */
static inline __attribute__((always_inline)) struct state_event *attribute(struct state *st,
                                                                           struct state_thread *t,
                                                                           struct state_sock *s,
                                                                           int32_t fd, int is_read)
{
    struct state_wait *w = &t->wait;
    struct state_event *e = event_of(t, s, fd);
    st->touched_slot = s->slot;
    if (e && w->handles) {
        if (w->current >= 0 && (uint32_t)w->current < w->n && w->ev[w->current].sid == s->sid)
            e = &w->ev[w->current];
    } else if (e && is_read && e->has_read) {
        struct state_reg *g = state_reg(s, w->set, e->fd);
        int level = g && state_reg_is_level(g);
        for (int32_t i = e->next_same; i >= 0 && (uint32_t)i < w->n; i = w->ev[i].next_same)
            if (!w->ev[i].begun && (e->last_read <= 0 || level)) {
                e = &w->ev[i];
                break;
            }
    }
    st->touched = s->sid;
    st->touched_ev = e;
    if (!e)
        return NULL;
    if (!w->handles && !e->begun) { /* its index only then: a division by the size */
        int32_t i = (int32_t)(e - w->ev);
        if (i > w->current) {
            e->begun = 1;
            w->current = i;
        }
    }
    return e;
}

/* --- apply ------------------------------------------------------------------------------ */

static void io(struct state *st, struct state_thread *t, const struct ept_rec *rec, uint64_t pos)
{
    EPT_VIEW(struct ept_io, r, rec);
    if (r->result == -EBADF && !fd_sock(st, r->s.fd))
        return; /* the number names nothing: a call on a closed fd */
    struct state_sock *s = resolve(st, &r->s, pos, rec->ns, 1);
    if (!s)
        return;
    struct state_event *e = attribute(st, t, s, r->s.fd, rec->type == EPT_READ);
    s->changed = pos;
    if (s->conn && !s->peer)
        link_conn(st, s);
    if (rec->type == EPT_READ) {
        s->last_read = r->result;
        s->queue_kind = 0; /* the read changes what waits there */
        if (r->result > 0) {
            s->learned = STATE_DATA;
            s->bytes_in += (uint64_t)r->result;
            if (s->connecting)
                s->connecting = 0;
            t->last_read_sid = s->sid;
            t->last_read_slot = s->slot;
            t->reads_ok++;
        } else if (r->result == 0) {
            s->learned = STATE_EOF;
            if (s->kind != EPT_FD_UDP)
                s->eof = 1;
        } else {
            s->learned = r->result == -EAGAIN ? STATE_EAGAIN : STATE_ERROR;
            s->nonblock |= r->result == -EAGAIN;
        }
        if (e) {
            if (!e->has_read) {
                e->has_read = 1;
                e->first_read = r->result;
            }
            e->last_read = r->result;
            e->reads++;
            if (r->result > 0)
                e->bytes_read += (uint64_t)r->result;
            else if (r->result == 0)
                e->eof = 1;
            else if (r->result == -EAGAIN)
                e->eagains++;
        }
        return;
    }
    s->last_write = r->result;
    if (r->result > 0) {
        s->bytes_out += (uint64_t)r->result;
        s->connecting = 0;
    } else if (r->result < 0 && r->result != -EAGAIN) {
        s->learned = STATE_ERROR;
    }
    s->nonblock |= r->result == -EAGAIN;
    if (r->result == -EAGAIN || (r->result >= 0 && (uint32_t)r->result < r->asked))
        s->out_pending = 1;
    else if (r->result >= 0)
        s->out_pending = 0;
    if (e) {
        e->writes++;
        if (r->result > 0)
            e->bytes_written += (uint64_t)r->result;
        else if (r->result == -EAGAIN)
            e->eagains++;
    }
    /* data flow: bytes this thread read from another socket since its wait, now written
     * here: the two are one connection's sockets */
    if (r->asked && t->last_read_sid && t->last_read_sid != s->sid && !s->peer) {
        struct state_sock *a = state_sock_hint(st, t->last_read_sid, t->last_read_slot);
        if (a && !a->peer)
            pair(a, s);
    }
}

static void accept_rec(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                       uint64_t pos)
{
    EPT_VIEW(struct ept_accept, a, rec);
    struct state_sock *l = resolve(st, &a->listener, pos, rec->ns, 1);
    if (l) {
        if (l->role == EPT_ROLE_NONE || l->role == EPT_ROLE_OTHER)
            l->role = EPT_ROLE_LISTENER;
        l->queue_kind = 0;
        struct state_event *e = attribute(st, t, l, a->listener.fd, 0);
        if (e) {
            e->accepts++;
            t->wait.accepts++;
            if (a->result == -EAGAIN)
                e->eagains++;
        }
    }
    if (a->result < 0)
        return;
    uint8_t kind = l && l->kind ? l->kind : EPT_FD_TCP;
    struct state_sock *s = new_file(st, a->result, a->s.sid, EPT_ROLE_CLIENT, kind, pos, rec->ns);
    s->conn = a->s.conn;
    s->addr = a->peer;
    if (s->conn)
        link_conn(st, s);
}

static void close_rec(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                      uint64_t pos)
{
    EPT_VIEW(struct ept_close, c, rec);
    if (c->result == -EBADF)
        return;
    struct state_sock *s = fd_sock(st, c->s.fd);
    if (!s) {
        s = state_sock(st, c->s.sid);
        if (!s)
            return;
        bind_fd(st, c->s.fd, s, pos, rec->ns); /* a number the table had not seen */
    }
    struct state_event *e = attribute(st, t, s, c->s.fd, 0);
    if (s->nfds <= 1) {
        s->unread = c->flags & EPT_CLOSEF_UNREAD ? (int32_t)c->unread : -1;
        if (e)
            e->closed = 1;
        /* every batch that reported it: its events are for a file that is gone */
        for (uint32_t i = 0; i < st->nthreads; i++) {
            struct state_event *o = event_of(&st->threads[i], s, -1);
            for (; o; o = o->next_same >= 0 ? &st->threads[i].wait.ev[o->next_same] : NULL)
                o->closed = 1;
        }
    }
    unbind_fd(st, c->s.fd, pos, rec->ns);
}

static uint8_t socket_kind(int domain, int type)
{
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain == AF_UNIX)
        return EPT_FD_UNIX;
    if (domain == AF_INET || domain == AF_INET6)
        return type == SOCK_STREAM ? EPT_FD_TCP : type == SOCK_DGRAM ? EPT_FD_UDP : EPT_FD_SOCKET;
    return EPT_FD_SOCKET;
}

/* What each record type does to the model: one function per type, in the table below.
 * Each takes the thread that made the record (t) and its position. */

static void apply_epoll_create(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                               uint64_t pos)
{
    EPT_VIEW(struct ept_epoll_create, c, rec);
    (void)t;
    if (c->result < 0)
        return;
    new_file(st, c->result, c->sid, EPT_ROLE_EPOLL, EPT_FD_EPOLL, pos, rec->ns);
}

static void apply_ctl(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                      uint64_t pos)
{
    EPT_VIEW(struct ept_epoll_ctl, c, rec);
    (void)t;
    if (c->result == 0)
        ctl(st, c, pos, rec->ns);
}

static void apply_handle(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                         uint64_t pos)
{
    EPT_VIEW(struct ept_ready, h, rec);
    struct state_wait *w = &t->wait;
    (void)pos;
    if (w->pos == UINT64_MAX || h->index >= w->n)
        return;
    struct state_event *e = &w->ev[h->index];
    if (w->lost && h->s.sid && e->sid && h->s.sid != e->sid)
        return; /* the event of a batch whose epoll_wait was lost, not of this one */
    w->handles = 1;
    w->current = (int32_t)h->index;
    e->begun = 1;
    /* closed by an earlier handler of this batch (seen, not lost); its slot says at once
     * that it is alive, the sid map only when the slot has changed hands */
    if (!w->lost && (e->closed || (!state_event_sock(st, e) && !state_sock(st, e->sid))))
        e->stale = 1;
}

static void apply_listen(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                         uint64_t pos)
{
    EPT_VIEW(struct ept_listen, l, rec);
    (void)t;
    struct state_sock *s = resolve(st, &l->s, pos, rec->ns, 1);
    if (s && l->result == 0) {
        s->role = EPT_ROLE_LISTENER;
        s->addr = l->addr;
        s->changed = pos;
    }
}

static void apply_connect(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                          uint64_t pos)
{
    EPT_VIEW(struct ept_connect, c, rec);
    struct state_sock *s = resolve(st, &c->s, pos, rec->ns, 1);
    if (!s)
        return;
    if (s->role != EPT_ROLE_LISTENER)
        s->role = EPT_ROLE_BACKEND;
    s->changed = pos;
    s->backend = c->backend;
    s->addr = c->addr;
    if (!s->kind)
        s->kind = EPT_FD_TCP;
    s->connecting = c->phase == 0 && c->result == -EINPROGRESS;
    attribute(st, t, s, c->s.fd, 0);
    link_conn(st, s);
}

static void apply_shutdown(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                           uint64_t pos)
{
    EPT_VIEW(struct ept_shutdown, sh, rec);
    struct state_sock *s = resolve(st, &sh->s, pos, rec->ns, 0);
    if (!s)
        return;
    attribute(st, t, s, sh->s.fd, 0);
    if (sh->result == 0 && sh->how != SHUT_RD) {
        s->wr_shut = 1;
        s->changed = pos;
    }
}

static void apply_pause(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                        uint64_t pos)
{
    EPT_VIEW(struct ept_pause, p, rec);
    (void)t;
    (void)pos;
    struct state_sock *s = state_sock(st, p->s.sid);
    if (s)
        s->paused = p->paused != 0;
}

static void apply_queue(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                        uint64_t pos)
{
    EPT_VIEW(struct ept_queue, q, rec);
    (void)t;
    struct state_sock *s = state_sock(st, q->s.sid);
    if (s && (q->kind == EPT_QUEUE_UNREAD || q->kind == EPT_QUEUE_BACKLOG)) {
        s->queue_kind = (uint8_t)q->kind;
        s->queued = q->count;
        s->queue_max = q->max;
        s->changed = pos;
    }
}

static void apply_lost(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                       uint64_t pos)
{
    (void)t;
    (void)rec;
    (void)pos;
    state_gap(st);
}

static void apply_socket(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                         uint64_t pos)
{
    EPT_VIEW(struct ept_socket, so, rec);
    (void)t;
    if (so->result < 0)
        return;
    new_file(st, so->result, so->s.sid, EPT_ROLE_NONE, socket_kind(so->domain, so->type), pos,
             rec->ns);
}

static void apply_dup(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                      uint64_t pos)
{
    EPT_VIEW(struct ept_dup, d, rec);
    (void)t;
    if (d->result < 0 || d->result == d->oldfd)
        return;
    struct state_sock *s = fd_sock(st, d->oldfd);
    if (!s) {
        struct ept_sock k = d->s;
        k.fd = d->oldfd;
        s = resolve(st, &k, pos, rec->ns, 1);
    }
    if (s)
        bind_fd(st, d->result, s, pos, rec->ns);
}

static void apply_fdinfo(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                         uint64_t pos)
{
    EPT_VIEW(struct ept_fdinfo, fi, rec);
    (void)t;
    struct state_sock *s = resolve(st, &fi->s, pos, rec->ns, 1);
    if (!s)
        return;
    s->kind = (uint8_t)(fi->kind < EPT_FD_KIND_COUNT ? fi->kind : EPT_FD_UNKNOWN);
    s->uncertain = 0;
    if (fi->flags & EPT_FDINFO_LISTENING) {
        s->role = EPT_ROLE_LISTENER;
        s->addr = fi->local;
    } else if (s->kind == EPT_FD_EPOLL) {
        s->role = EPT_ROLE_EPOLL;
    } else if (s->kind >= EPT_FD_EVENTFD) {
        s->role = EPT_ROLE_OTHER;
    } else if (fi->peer.family) {
        s->addr = fi->peer;
    }
}

/* Record types the model learns nothing from (pick, note, timeout, health, end, fork) have
 * no entry. */
state_apply_fn *const state_appliers[EPT_TYPE_COUNT] = {
    [EPT_EPOLL_CREATE] = apply_epoll_create,
    [EPT_EPOLL_CTL] = apply_ctl,
    [EPT_EPOLL_WAIT] = wait_begin,
    [EPT_READY] = ready,
    [EPT_HANDLE] = apply_handle,
    [EPT_LISTEN] = apply_listen,
    [EPT_ACCEPT] = accept_rec,
    [EPT_CONNECT] = apply_connect,
    [EPT_READ] = io,
    [EPT_WRITE] = io,
    [EPT_SHUTDOWN] = apply_shutdown,
    [EPT_CLOSE] = close_rec,
    [EPT_PAUSE] = apply_pause,
    [EPT_LOST] = apply_lost,
    [EPT_SOCKET] = apply_socket,
    [EPT_DUP] = apply_dup,
    [EPT_FDINFO] = apply_fdinfo,
    [EPT_QUEUE] = apply_queue,
};
