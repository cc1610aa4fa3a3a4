/* fault.c - the proxy's deliberate mistakes, each written as its deviation from the correct
 * loop of proxy.c (see fault.h for the hooks). Read proxy.c for what is right; read one
 * fault here for the one thing it does wrong. */
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "px.h"
#include "story.h"
#include "trace.h"

/* --- policy changes ----------------------------------------------------------------------- */

/* no-drain: one read per event, and forget that there was more. */
static void no_drain_policy(struct policy *c, struct policy *l)
{
    (void)l;
    c->drain = false;
    c->remember = false;
}

/* sticky-epollout: EPOLLOUT stays in the registration. */
static void sticky_policy(struct policy *c, struct policy *l)
{
    (void)l;
    c->sticky_out = true;
}

/* no-rearm: a one-shot socket that fired is never re-armed. */
static void no_rearm_policy(struct policy *c, struct policy *l)
{
    (void)l;
    c->never_rearm = true;
}

/* ignore-eof: a socket that returned 0 is still registered for EPOLLIN and read again. */
static void ignore_eof_policy(struct policy *c, struct policy *l)
{
    (void)l;
    c->reread_eof = true;
}

/* edge-hog: a socket is read until EAGAIN, however long that takes, while the other
 * sockets of the batch wait their turn. */
static void edge_hog_policy(struct policy *c, struct policy *l)
{
    (void)l;
    c->reads = 0;
}

/* accept-once: an edge-triggered listener accepts one connection per event and forgets
 * that more may wait. */
static void accept_once_policy(struct policy *c, struct policy *l)
{
    (void)c;
    l->accepts = 1;
    l->remember = false;
}

/* --- mistrigger: the origin's handler ----------------------------------------------------- */

/* The backend socket is registered plain level-triggered (the origin's flags); the client
 * is armed for EPOLLOUT whenever the origin's single buffer waits to go out. */
static uint32_t mistrigger_interest(struct proxy *p, struct conn *k, struct psock *s, bool in,
                                    bool out, struct policy_reg *reg)
{
    if (k->fault_state && s == &k->c)
        out = true; /* the origin armed EPOLLOUT after every read, even an empty one */
    uint32_t want = policy_events(&p->cpol, in, out);
    if (s == &k->b && want)
        want &= ~(uint32_t)(EPOLLONESHOT | EPOLLET);
    if (s == &k->b && reg->in_set)
        reg->armed = true; /* without ONESHOT the kernel never disarmed it */
    return want;
}

/* The origin's handler trusts every EPOLLIN of the backend as the response: one read, and
 * whatever it returned, even nothing, becomes the buffer for the client, which is armed for
 * EPOLLOUT to forward it; on EPOLLOUT it writes that buffer and closes both sockets. */
static bool mistrigger_event(struct proxy *p, struct conn *k, struct psock *s, uint32_t ev)
{
    if (k->state != CONN_OPEN)
        return false;
    if (s == &k->b && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        if (!k->down.p && !(k->down.p = px_buf_get(p))) {
            px_finish(p, k, EPT_CLOSE_ERROR);
            return true;
        }
        long n = px_read(p, s, k->down.p, p->cfg->buffer);
        if (n == -EAGAIN)
            n = 0;
        if (n < 0) {
            px_finish(p, k, EPT_CLOSE_RESET);
            return true;
        }
        if (p->story && n == 0)
            story_received(p->story, s->id.fd, k->down.p, 0);
        k->down.off = 0;
        k->down.len = (uint32_t)n; /* the bug: replaces what was waiting to be sent */
        k->fault_state = 1;        /* a buffer waits for the client's EPOLLOUT */
        k->c.can_write = false;
    } else if (s == &k->c && (ev & EPOLLOUT) && k->fault_state) {
        long n = px_write(p, &k->c, k->down.p ? k->down.p : (const uint8_t *)"", k->down.len);
        if (n > 0)
            p->bytes_down += (uint64_t)n;
        px_finish(p, k, n < 0 ? EPT_CLOSE_RESET : EPT_CLOSE_DONE);
        return true;
    } else {
        return false;
    }
    px_sync(p, k, &k->c);
    px_sync(p, k, &k->b);
    return true;
}

/* --- stale-event ------------------------------------------------------------------------- */

/* No half-close: the first end-of-file ends the whole connection, both sockets closed in
 * the middle of a batch that may still hold events for them. */
static void stale_pumped(struct proxy *p, struct conn *k)
{
    if (k->state == CONN_OPEN && (k->c.eof || k->b.eof))
        px_finish(p, k, EPT_CLOSE_DONE);
}

/* Handle an event whose socket an earlier event of the batch closed, the way a loop that
 * looks connections up by fd number does: read the number again. It is closed (EBADF), or
 * already someone else's, whose bytes are then taken and lost. */
static void stale_event(struct proxy *p, struct psock *s, uint32_t ev, uint32_t index)
{
    uint8_t scratch[512];
    trace_event(p->tr, EPT_HANDLE, &s->id, ev, index);
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(s->id.fd, scratch, sizeof(scratch));
        trace_io(p->tr, EPT_READ, &s->id, sizeof(scratch), r < 0 ? -errno : r, scratch);
    }
}

/* --- second numbers (double-register, closed-fd-still-registered) ---------------------- */

/* Give k's client socket a second number, as a dup(), a fork or a library would. */
static void dup_client(struct proxy *p, struct conn *k)
{
    int fd = fcntl(k->c.id.fd, F_DUPFD_CLOEXEC, 0);
    struct ept_sock d = k->c.id;
    d.fd = fd;
    trace_dup(p->tr, &d, k->c.id.fd, fd < 0 ? -errno : fd, EPT_CALL_FCNTL);
    k->c.dup_fd = fd;
}

/* --- double-register --------------------------------------------------------------------- */

/* Each client socket gets a second number (dup), registered alongside the first. */
static void double_accepted(struct proxy *p, struct conn *k)
{
    dup_client(p, k);
}

/* Whatever the loop asks of epoll for the socket, it asks for the dup too. */
static void double_ctl(struct proxy *p, struct psock *s, int op, uint32_t events)
{
    if (s->dup_fd < 0)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = s};
    struct ept_sock d = s->id;
    d.fd = s->dup_fd;
    int rc = epoll_ctl(p->ep, op, s->dup_fd, &ev) < 0 ? -errno : 0;
    trace_epoll_ctl(p->tr, p->ep, op, &d, events, rc);
}

/* Closing the socket closes its dup too (and with the last number the registrations go). */
static void double_closing(struct proxy *p, struct psock *s, unsigned reason)
{
    struct ept_sock d = s->id;
    d.fd = s->dup_fd;
    trace_sock_close(p->tr, &d, close(s->dup_fd) < 0 ? -errno : 0, reason, -1);
    s->dup_fd = -1;
}

/* --- closed-fd-still-registered ---------------------------------------------------------- */

/* How many events a zombie's registration gets before the fault lets the dup go. */
#define ZOMBIE_EVENTS 3

/* Each client socket has a second number nobody registered (as after a fork, or a dup a
 * library made), and is closed without EPOLL_CTL_DEL: the registration is keyed by the
 * file and the closed number, and the file lives on through the dup. */
static void closed_fd_accepted(struct proxy *p, struct conn *k)
{
    dup_client(p, k);
}

/* Closing the client's number leaves the dup open: the connection is kept (a zombie), as
 * events will keep coming with its address as their data. */
static void closed_fd_closing(struct proxy *p, struct psock *s, unsigned reason)
{
    (void)p;
    (void)reason;
    struct conn *k = px_conn_of(s);
    k->zombie = true;
    k->fault_state = 0;
}

/* Whether k waits on the zombie list (not merely closed earlier in this batch). */
static bool on_zombies(const struct proxy *p, const struct conn *k)
{
    for (const struct conn *z = p->zombies; z; z = z->next)
        if (z == k)
            return true;
    return false;
}

/* Let the dup go: the last number closes, and the registration goes with the file. */
static void zombie_free(struct proxy *p, struct conn *k)
{
    struct ept_sock d = k->c.id;
    d.fd = k->c.dup_fd;
    trace_sock_close(p->tr, &d, close(k->c.dup_fd) < 0 ? -errno : 0, EPT_CLOSE_DONE, -1);
    k->c.dup_fd = -1;
    px_release(p, k);
}

/* An event for a number the program closed: it tries to remove the registration the
 * way a program that noticed would, epoll_ctl(DEL) on that number, which fails (EBADF:
 * the number names nothing; only a number the file still has can name the registration).
 * After a few the dup is closed, which ends it. */
static void closed_fd_stale(struct proxy *p, struct psock *s, uint32_t ev, uint32_t index)
{
    if (s->dup_fd < 0 || s->id.role != EPT_ROLE_CLIENT)
        return;
    struct conn *k = px_conn_of(s);
    if (!on_zombies(p, k))
        return; /* closed earlier in this batch: an ordinary stale event, skipped */
    trace_event(p->tr, EPT_HANDLE, &s->id, ev, index);
    if (fcntl(s->id.fd, F_GETFD) < 0) { /* the number is free: not someone else's now */
        int rc = epoll_ctl(p->ep, EPOLL_CTL_DEL, s->id.fd, NULL) < 0 ? -errno : 0;
        trace_epoll_ctl(p->tr, p->ep, EPOLL_CTL_DEL, &s->id, 0, rc);
    }
    if (++k->fault_state >= ZOMBIE_EVENTS)
        zombie_free(p, k);
}

/* The proxy stops: every zombie's dup is closed. */
static void closed_fd_teardown(struct proxy *p)
{
    while (p->zombies)
        zombie_free(p, p->zombies);
}

/* --- rdhup-data-loss ---------------------------------------------------------------------- */

/* EPOLLRDHUP taken for "the peer is gone": the connection is closed at once, without
 * reading what arrived with the FIN (a request and its FIN often come in one event, a
 * response and the backend's close too). */
static bool rdhup_event(struct proxy *p, struct conn *k, struct psock *s, uint32_t ev)
{
    (void)s;
    if (!(ev & EPOLLRDHUP) || k->state != CONN_OPEN)
        return false;
    px_finish(p, k, EPT_CLOSE_DONE);
    return true;
}

/* --- lost-out-edge ------------------------------------------------------------------------ */

/* The handler is `if (events & EPOLLIN) ... else if (events & EPOLLOUT) ...`: an event
 * that says both is taken for EPOLLIN alone. Under EPOLLET each report carries the
 * socket's whole state, so the EPOLLOUT that comes once a full send buffer drains rides
 * along with EPOLLIN whenever unread bytes wait too; dropped, it is never said again. */
static uint32_t lost_out_filter(struct proxy *p, struct conn *k, struct psock *s, uint32_t ev)
{
    (void)p;
    (void)k;
    (void)s;
    return ev & EPOLLIN ? ev & ~(uint32_t)EPOLLOUT : ev;
}

/* --- the table ---------------------------------------------------------------------------- */

static const struct fault faults[FAULT_COUNT] = {
    [FAULT_NONE] = {.name = "none", .mode = EPT_MODE_NONE, .help = "no fault"},
    [FAULT_MISTRIGGER] = {
        .name = "mistrigger", .mode = EPT_MODE_ONESHOT,
        .help = "edge-oneshot: backend socket registered level-triggered (no EPOLLET, no "
                "EPOLLONESHOT), every EPOLLIN trusted as data (the origin's bug)",
        .interest = mistrigger_interest, .event = mistrigger_event},
    [FAULT_NO_DRAIN] = {
        .name = "no-drain", .mode = EPT_MODE_EDGE,
        .help = "edge: one read per event, so data left in the socket never wakes us",
        .policy = no_drain_policy},
    [FAULT_NO_REARM] = {
        .name = "no-rearm", .mode = EPT_MODE_ONESHOT,
        .help = "edge-oneshot: forgets EPOLL_CTL_MOD after a socket fired",
        .policy = no_rearm_policy},
    [FAULT_STICKY_EPOLLOUT] = {
        .name = "sticky-epollout", .mode = EPT_MODE_LEVEL,
        .help = "level: never removes EPOLLOUT, so epoll_wait returns it again and again",
        .policy = sticky_policy},
    [FAULT_IGNORE_EOF] = {
        .name = "ignore-eof", .mode = EPT_MODE_LEVEL,
        .help = "level: keeps reading a socket after read() returned 0",
        .policy = ignore_eof_policy},
    [FAULT_ACCEPT_ONCE] = {
        .name = "accept-once", .mode = EPT_MODE_EDGE,
        .help = "edge listener: one accept per event while more connections wait",
        .policy = accept_once_policy},
    [FAULT_STALE_EVENT] = {
        .name = "stale-event", .mode = EPT_MODE_LEVEL,
        .help = "level: closes both sockets at the first EOF and still handles the batch's "
                "later events for them",
        .pumped = stale_pumped, .stale = stale_event},
    [FAULT_DOUBLE_REGISTER] = {
        .name = "double-register", .mode = EPT_MODE_LEVEL,
        .help = "level: registers each client socket twice (a dup'd fd), so every readiness "
                "wakes the loop twice",
        .accepted = double_accepted, .ctl = double_ctl, .closing = double_closing},
    [FAULT_CLOSED_FD] = {
        .name = "closed-fd-still-registered", .mode = EPT_MODE_LEVEL,
        .help = "level: each client socket has a dup, and is closed without EPOLL_CTL_DEL: "
                "events keep coming for the closed number",
        .accepted = closed_fd_accepted, .closing = closed_fd_closing,
        .stale = closed_fd_stale, .teardown = closed_fd_teardown},
    [FAULT_RDHUP_LOSS] = {
        .name = "rdhup-data-loss", .mode = EPT_MODE_LEVEL,
        .help = "level: closes a connection on EPOLLRDHUP without reading the bytes that "
                "came with the FIN",
        .event = rdhup_event},
    [FAULT_LOST_OUT_EDGE] = {
        .name = "lost-out-edge", .mode = EPT_MODE_EDGE,
        .help = "edge: if (EPOLLIN) ... else if (EPOLLOUT): an EPOLLOUT that comes with "
                "EPOLLIN is dropped, and the write waits for ever",
        .filter = lost_out_filter},
    [FAULT_EDGE_HOG] = {
        .name = "edge-hog", .mode = EPT_MODE_EDGE,
        .help = "edge: each socket read until EAGAIN in one go, while the batch's other "
                "sockets wait",
        .policy = edge_hog_policy},
};

const struct fault *fault_get(unsigned id)
{
    return &faults[id < FAULT_COUNT ? id : FAULT_NONE];
}

const char *fault_name(unsigned id)
{
    return id < FAULT_COUNT ? faults[id].name : "?";
}

const char *fault_help(unsigned id)
{
    return id < FAULT_COUNT ? faults[id].help : "?";
}

unsigned fault_mode(unsigned id)
{
    return id < FAULT_COUNT ? faults[id].mode : EPT_MODE_NONE;
}

int fault_parse(const char *name)
{
    for (unsigned i = 0; i < FAULT_COUNT; i++)
        if (!strcmp(name, faults[i].name))
            return (int)i;
    return -EINVAL;
}
