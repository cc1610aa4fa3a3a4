/* rules.c - the diagnoses (see rules.h). Each rule is a handful of small functions, hooked
 * where the model says something happened, and its explanation sits in the table at the
 * end of its section. What a rule remembers about a socket lives in that socket's note;
 * what it remembers about a thread, in the thread's note. The records the rules look at
 * reach them through one hook per record type (rules_hooks, near the end: on_read calls
 * the read parts of every rule that has one), so a record no rule needs costs a look in
 * that table, and the hot types do only what their rules need.
 *
 * Stalls are judged by time: a socket the program left waiting (an undrained edge-
 * triggered read, a one-shot never re-armed) is watched, and judged when RULE_STALL_NS pass
 * with nothing done on it, when it is closed after that long, or at the end of the trace.
 */
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fmt.h"
#include "xmem.h"


/* What the rules remember about one live file. */
struct note {
    uint32_t sid;
    uint32_t next_free;        /* free list link (index + 1) */
    uint32_t reported;         /* bit per rule already reported for it */
    uint32_t finding[RULE_COUNT]; /* index + 1 of its finding per rule */
    /* mis-trigger: its last write, to see the same bytes written again; and an EPOLLIN
     * of this batch whose read found nothing (pos + 1, 0: none), by thread mt_tid */
    uint32_t w_len, w_hash, w_src;
    uint64_t w_src_bytes;
    uint64_t mt_pos;
    uint32_t mt_tid;
    int32_t mt_fd, mt_result;
    /* edge-starvation */
    uint64_t full_read;        /* pos + 1 of a read that returned all it asked for */
    uint32_t full_tid;
    uint32_t full_asked;
    uint64_t stall_ns;         /* since when it waits undrained (0: it does not) */
    uint64_t due[3];           /* when its watch is due: [0] edge, [1] one-shot, [2] lost
                                  EPOLLOUT (0: none) */
    /* oneshot-not-rearmed */
    uint64_t fired;            /* pos + 1 of its one-shot event, 0 once re-armed */
    uint64_t idle_ns;          /* since when nothing was done on it (0: not watched) */
    uint8_t suspect;           /* left disarmed that long: reported if never re-armed */
    uint8_t os_full;           /* its last read returned all it asked for: more may have
                                  waited when it was left (a proxy holding back for a slow
                                  peer), so a later read finding data proves nothing */
    uint8_t fin_drained;       /* after an EPOLLRDHUP, a short read emptied it */
    uint8_t fin_known;         /* ...and its handler passed the end on (shutdown): it knew
                                  the end of file without a read returning 0 */
    /* busy-epollout */
    uint32_t out_streak, out_max; /* this run of EPOLLOUT reports; the longest reported */
    uint8_t out_seen, wrote;
    uint64_t out_pos;
    /* eof-spin */
    uint32_t eof_events;
    uint64_t eof_pos;
    /* accept-starvation */
    uint8_t acc_ok;            /* its last accept succeeded */
    uint32_t acc_tid;
    uint64_t acc_batch;        /* pos + 1 of the wait whose batch stopped short of EAGAIN */
    uint64_t acc_first;
    uint8_t peer_blocked;      /* its peer was closed while a write to it waited */
    /* spurious-wakeup */
    uint32_t spur, in_reads;
    uint64_t spur_pos;
    /* rdhup-data-loss: pos + 1 of its last event with EPOLLRDHUP, and a read since */
    uint64_t rdhup_pos;
    uint8_t rdhup_read;
    /* lost-out-edge: pos + 1 of an EPOLLOUT report while a write waited, not acted on */
    uint64_t oe_pos;
    uint64_t oe_ns;            /* since when (0: its batch has not ended yet) */
    uint32_t oe_tid;
    uint8_t oe_in;             /* EPOLLIN came with it */
    /* edge-hog: full reads in the handling of one event */
    uint64_t hog_wait;         /* that event's wait (pos) and index */
    uint32_t hog_index, hog_reads, hog_max;
    uint8_t hog_done;          /* this run was reported */
    uint64_t hog_bytes;
    /* thundering-herd: a listener's wake-ups, and those of an idle loop that found nothing */
    uint32_t herd_wakes, herd_lost;
    uint64_t herd_first;       /* the wait of the first wasted wake-up (pos) */
};

/* What the rules remember about one thread's current batch. */
struct tnote {
    /* mis-trigger: the sockets this batch read nothing from after an EPOLLIN, and the
     * last of them (for a write to a socket whose peer is not known) */
    uint32_t *mt, nmt, capmt;
    uint32_t mt_sid;           /* 0: none */
    /* sockets this batch read full, that got an EPOLLOUT while a write waited, and
     * listeners it left short of EAGAIN */
    uint32_t *full, nfull, capfull;
    uint32_t *oe, noe, capoe;
    uint32_t *acc, nacc, capacc;
    /* events of this batch already reported stale */
    uint32_t *stale, nstale, capstale;
};

/* A socket whose stall is judged by time. Entries wait in a queue in the order they were
 * made; every one is due RULE_STALL_NS after "now", so the queue is in time order (a few
 * made for a moment already past are judged when the entry before them is). An entry whose
 * socket is gone, or whose note was re-scheduled to another time, is dropped when it comes
 * up: re-scheduling is a push, and nothing is ever searched for. */
struct watch {
    uint64_t due_ns;
    uint32_t sid;
    uint32_t rule;
};

struct rules {
    struct state *st;
    struct finding *f;
    size_t nf, fcap;
    struct note *notes;
    uint32_t nnotes, ncap, free_head;
    struct tnote *tn;
    uint32_t ntn;
    struct watch *w;           /* the queue: a ring of wcap (a power of two) entries */
    size_t whead, nw, wcap;
    uint64_t due;              /* the head's due_ns, UINT64_MAX when the queue is empty: one
                                  compare a record to know whether a watch is due */
    uint64_t lost;             /* records the LOST records said were dropped */
    size_t damage_open;        /* 1 + the damage finding whose range has no end yet, or 0 */
    uint64_t damage_off, damage_bytes;
    char damage_why[128];
};

/* --- notes, findings, watches ------------------------------------------------------------ */

/* A new note for s (note_of's slow path, once per file). */
static __attribute__((noinline)) struct note *note_new(struct rules *R, struct state_sock *s)
{
    uint32_t i;
    if (R->free_head) {
        i = R->free_head - 1;
        R->free_head = R->notes[i].next_free;
    } else {
        if (R->nnotes == R->ncap) {
            R->ncap = R->ncap ? R->ncap * 2 : 256;
            R->notes = xreallocarray(R->notes, R->ncap, sizeof(*R->notes));
        }
        i = R->nnotes++;
    }
    struct note *n = &R->notes[i];
    memset(n, 0, sizeof(*n));
    n->sid = s->sid;
    s->note = i + 1;
    return n;
}

/* The note of s, made on first use. Inline: asked several times a record. s->note is 0 or
 * names s's note: only note_new sets it, a new file starts at 0, and rules_drop clears it
 * before the model drops the file (the state's drop hook), so no check of the note's sid. */
static inline struct note *note_of(struct rules *R, struct state_sock *s)
{
    if (__builtin_expect(s->note != 0, 1))
        return &R->notes[s->note - 1];
    return note_new(R, s);
}

/* The note of s if it has one, NULL otherwise (never makes one). */
static inline struct note *note_if(struct rules *R, const struct state_sock *s)
{
    return s && s->note ? &R->notes[s->note - 1] : NULL;
}

/* Room for the notes of threads up to index i (a new thread, rarely). */
static __attribute__((noinline)) void tnote_grow(struct rules *R, uint32_t i)
{
    uint32_t n = i + 4;
    R->tn = xreallocarray(R->tn, n, sizeof(*R->tn));
    memset(R->tn + R->ntn, 0, (n - R->ntn) * sizeof(*R->tn));
    R->ntn = n;
}

/* Inline: called for every record, and a call cost more than the look-up. */
static inline struct tnote *tnote_of(struct rules *R, const struct state_thread *t)
{
    uint32_t i = (uint32_t)(t - R->st->threads);
    if (__builtin_expect(i >= R->ntn, 0))
        tnote_grow(R, i);
    return &R->tn[i];
}

static void push(uint32_t **a, uint32_t *n, uint32_t *cap, uint32_t v)
{
    for (uint32_t i = 0; i < *n; i++)
        if ((*a)[i] == v)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *a = xreallocarray(*a, *cap, sizeof(**a));
    }
    (*a)[(*n)++] = v;
}

static struct finding *new_finding(struct rules *R, unsigned rule, uint64_t first,
                                   uint64_t last, const struct state_sock *s)
{
    if (R->nf == R->fcap) {
        R->fcap = R->fcap ? R->fcap * 2 : 16;
        R->f = xreallocarray(R->f, R->fcap, sizeof(*R->f));
    }
    struct finding *f = &R->f[R->nf++];
    memset(f, 0, sizeof(*f));
    f->rule = rule;
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

/* Report rule for socket s once: later occurrences widen that finding and count. Returns
 * the new finding for its words, or NULL when folded into an earlier one. */
static struct finding *report(struct rules *R, struct state_sock *s, unsigned rule,
                              uint64_t first, uint64_t last)
{
    struct note *n = s ? note_of(R, s) : NULL;
    if (n && (n->reported & (1u << rule))) {
        struct finding *f = &R->f[n->finding[rule] - 1];
        f->count++;
        if (last > f->last)
            f->last = last;
        return NULL;
    }
    struct finding *f = new_finding(R, rule, first, last, s);
    if (n) {
        n->reported |= 1u << rule;
        n->finding[rule] = (uint32_t)R->nf;
    }
    return f;
}

static int wslot(unsigned rule)
{
    return rule == RULE_EDGE_STARVATION ? 0 : rule == RULE_ONESHOT_NOT_REARMED ? 1 : 2;
}

/* Judge s for rule at time due (a later call re-schedules it). */
static void watch(struct rules *R, struct state_sock *s, unsigned rule, uint64_t due)
{
    note_of(R, s)->due[wslot(rule)] = due;
    if (R->nw == R->wcap) { /* grow the ring, unrolling it to start at 0 */
        size_t cap = R->wcap ? R->wcap * 2 : 64;
        struct watch *w = xreallocarray(NULL, cap, sizeof(*w));
        for (size_t i = 0; i < R->nw; i++)
            w[i] = R->w[(R->whead + i) & (R->wcap - 1)];
        free(R->w);
        R->w = w;
        R->wcap = cap;
        R->whead = 0;
    }
    R->w[(R->whead + R->nw++) & (R->wcap - 1)] = (struct watch){due, s->sid, rule};
    if (R->nw == 1)
        R->due = due;
}

/* The oldest entry, or NULL when the queue is empty. */
static const struct watch *watch_head(const struct rules *R)
{
    return R->nw ? &R->w[R->whead] : NULL;
}

static struct watch watch_pop(struct rules *R)
{
    struct watch w = R->w[R->whead];
    R->whead = (R->whead + 1) & (R->wcap - 1);
    R->nw--;
    R->due = R->nw ? R->w[R->whead].due_ns : UINT64_MAX;
    return w;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* The other socket of s's connection, when it is known. */
static struct state_sock *peer_of(struct rules *R, const struct state_sock *s)
{
    return s->peer ? state_sock(R->st, s->peer) : NULL;
}

/* The program holds bytes that a send buffer would not take, for s's peer (a proxy) or for
 * s itself (a server answering on the socket it reads, an echo): it stopped reading s on
 * purpose (backpressure), not by mistake. */
static int backpressure(struct rules *R, const struct state_sock *s)
{
    struct state_sock *p = peer_of(R, s);
    const struct note *n = note_if(R, s);
    return s->out_pending || (p && p->out_pending) || (n && n->peer_blocked);
}

/* --- mis-trigger -------------------------------------------------------------------------- */
/* An EPOLLIN whose read found nothing (0 or EAGAIN), and before the thread's next wait a
 * write elsewhere as if there had been data: 0 bytes, or the same bytes as last time. */

/* A cheap fingerprint of a write's preview: its first and last 8 bytes. With the same
 * length and no new bytes from the source since, that is the same buffer again. */
static uint32_t fingerprint(const uint8_t *p, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 16) { /* the usual preview: two fixed-size loads */
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
    } else {
        memcpy(&a, p, n < 8 ? n : 8);
        if (n > 8)
            memcpy(&b, p + 8, n - 8);
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32) ^ (uint32_t)n;
}

static void mistrigger_read(struct rules *R, struct state_thread *t, struct state_sock *s,
                            const struct ept_io *io, uint64_t pos)
{
    struct state_event *e = R->st->touched_ev;
    if (s && (io->result == 0 || io->result == -EAGAIN) && e && (e->events & EPOLLIN)) {
        struct tnote *tn = tnote_of(R, t);
        struct note *n = note_of(R, s);
        if (!n->mt_pos) { /* listed once per batch: an edge handler's every drain ends so */
            if (tn->nmt == tn->capmt) {
                tn->capmt = tn->capmt ? tn->capmt * 2 : 8;
                tn->mt = xreallocarray(tn->mt, tn->capmt, sizeof(*tn->mt));
            }
            tn->mt[tn->nmt++] = s->sid;
        }
        n->mt_pos = pos + 1;
        n->mt_tid = t->tid;
        n->mt_fd = io->s.fd;
        n->mt_result = io->result;
        tn->mt_sid = s->sid;
    }
}

/* The batch is over: its empty reads can no longer explain a write. */
static void mistrigger_batch_end(struct rules *R, struct tnote *tn)
{
    for (uint32_t i = 0; i < tn->nmt; i++) {
        struct state_sock *s = state_sock(R->st, tn->mt[i]);
        struct note *n = s ? note_if(R, s) : NULL;
        if (n)
            n->mt_pos = 0;
    }
    tn->nmt = 0;
    tn->mt_sid = 0;
}

/* A write to s (whose note is n). */
static void mistrigger_write(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                             const struct ept_io *io, struct state_sock *s, struct note *n,
                             uint64_t pos)
{
    size_t plen;
    const uint8_t *p = ept_rec_tail(rec, sizeof(*io), io->preview_len, &plen);
    uint32_t h = fingerprint(p, plen);
    struct tnote *tn = tnote_of(R, t);
    /* whose empty read this write would follow: s's peer when the connection is known (a
     * proxy writes to a client what its backend sent), else the batch's last one */
    struct state_sock *src = tn->nmt ? peer_of(R, s) : NULL;
    if (!src && tn->mt_sid)
        src = state_sock(R->st, tn->mt_sid);
    struct note *sn = src && src != s ? note_if(R, src) : NULL;
    if (sn && sn->mt_pos && sn->mt_tid == t->tid) {
        int empty = io->asked == 0;
        int again = !empty && io->result > 0 && plen && n->w_len == io->asked &&
                    n->w_hash == h && n->w_src == src->sid && src->bytes_in == n->w_src_bytes;
        if ((empty || again) && !src->uncertain && !s->uncertain) {
            uint64_t first = sn->mt_pos - 1;
            int fd = sn->mt_fd, result = sn->mt_result;
            sn->mt_pos = 0;
            struct finding *f = report(R, src, RULE_MISTRIGGER, first, pos);
            if (f)
                snprintf(f->what, sizeof(f->what),
                         "fd %d: EPOLLIN came, read() returned %s, and the program then wrote "
                         "%s to fd %d as if it had data", fd,
                         result == 0 ? "0 (end of file)" : "EAGAIN (nothing to read)",
                         empty ? "0 bytes" : "the same bytes as last time (a stale buffer)",
                         io->s.fd);
            n = note_of(R, s); /* report() may have made src's note and moved the notes */
        }
    }
    /* remember this write, to know the same bytes if they are written again */
    struct state_sock *from = t->last_read_sid
                                  ? state_sock_hint(R->st, t->last_read_sid, t->last_read_slot)
                                  : NULL;
    n->w_len = io->asked;
    n->w_hash = h;
    n->w_src = from ? from->sid : 0;
    n->w_src_bytes = from ? from->bytes_in : 0;
}

/* --- edge-starvation ---------------------------------------------------------------------- */
/* An edge-triggered (not one-shot) socket's read returned all it asked for, and its thread
 * went back to epoll_wait without reading it again, re-arming it, or closing it; judged a
 * stall when nothing was read from it for RULE_STALL_NS, unless the program was holding
 * bytes its peer could not take (backpressure). */

static int has_edge_reg(const struct state_sock *s)
{
    for (uint32_t i = 0; i < s->nregs; i++)
        if (state_reg_is_edge(&s->reg[i]))
            return 1;
    return 0;
}

static void edge_read(struct rules *R, struct state_thread *t, struct state_sock *s,
                      const struct ept_io *io, uint64_t pos)
{
    int full = io->result > 0 && io->asked && (uint32_t)io->result == io->asked;
    struct note *n = full ? note_of(R, s) : note_if(R, s);
    if (!n)
        return;
    if (full && s->role != EPT_ROLE_LISTENER && has_edge_reg(s)) {
        n->full_read = pos + 1;
        n->full_tid = t->tid;
        n->full_asked = io->asked;
        n->stall_ns = 0;
        struct tnote *tn = tnote_of(R, t);
        push(&tn->full, &tn->nfull, &tn->capfull, s->sid);
    } else {
        n->full_read = 0;
        n->stall_ns = 0;
    }
}

static void edge_batch_end(struct rules *R, struct state_thread *t, struct tnote *tn)
{
    for (uint32_t i = 0; i < tn->nfull; i++) {
        struct state_sock *s = state_sock(R->st, tn->full[i]);
        struct note *n = note_if(R, s);
        if (n && n->full_read && n->full_tid == t->tid && !n->stall_ns) {
            n->stall_ns = t->last_ns;
            watch(R, s, RULE_EDGE_STARVATION, t->last_ns + RULE_STALL_NS);
        }
    }
    tn->nfull = 0;
}

static void edge_report(struct rules *R, struct state_sock *s, struct note *n, uint64_t pos,
                        uint64_t ns, const char *how)
{
    struct finding *f = report(R, s, RULE_EDGE_STARVATION, n->full_read - 1, pos);
    char held[96] = "";
    if (s->queue_kind == EPT_QUEUE_UNREAD && s->queued) /* the proxy's note: detail only */
        snprintf(held, sizeof(held), " (%u bytes still waited in the kernel)",
                 s->queued);
    if (f)
        snprintf(f->what, sizeof(f->what),
                 "fd %d: read() returned all %u bytes it asked for, and the program went back "
                 "to epoll_wait without reading it again%s; nothing more was read from it in "
                 "%.3f s, %s", s->fd, n->full_asked, held, secs(ns - n->stall_ns), how);
    n->full_read = 0;
    n->stall_ns = 0;
}

/* A watched socket's time is up (or it is being closed, or the trace ends): judge it. */
static int edge_judge(struct rules *R, struct state_sock *s, uint64_t pos, uint64_t ns,
                      const char *how)
{
    struct note *n = note_if(R, s);
    if (!n || !n->full_read || !n->stall_ns)
        return 1; /* resolved: read again, re-armed */
    if (ns < n->stall_ns + RULE_STALL_NS)
        return 0;
    if (s->uncertain)
        return 1;
    if (backpressure(R, s)) {
        watch(R, s, RULE_EDGE_STARVATION, ns + RULE_STALL_NS);
        return 0;
    }
    edge_report(R, s, n, pos, ns, how);
    return 1;
}

/* --- oneshot-not-rearmed ------------------------------------------------------------------- */
/* A one-shot registration fired and the thread's batch ended with no EPOLL_CTL_MOD (or DEL)
 * for it. Left so, not at end of file, with no call on it for RULE_STALL_NS, it becomes a
 * suspect; a later MOD clears it (a slow backend, a worker thread taking its time). It is
 * reported when it is closed, or the trace ends, still never re-armed; or as soon as a read
 * of it (non-blocking: it said EAGAIN before, so the read did not wait) finds data or end
 * of file waiting, which no event could report; unless the read before it filled its
 * buffer, so the data may have waited since (a proxy that stops reading a backend while its
 * client is slow, and reads it again when the client has room). */

static void oneshot_fired(struct rules *R, struct state_sock *s, uint64_t pos)
{
    struct note *n = note_of(R, s);
    n->fired = pos + 1;
    n->idle_ns = 0;
    n->suspect = 0;
}

/* Event e of t's batch, about s (NULL: gone), at the batch's end. */
static void oneshot_event(struct rules *R, const struct state_thread *t,
                          const struct state_event *e, struct state_sock *s)
{
    struct note *n = note_if(R, s);
    if (!n || !n->fired || n->idle_ns)
        return;
    struct state_reg *g = state_reg(s, t->wait.set, e->fd);
    if (!g || !(g->interest & EPOLLONESHOT) || g->armed)
        return;
    n->idle_ns = t->last_ns;
    watch(R, s, RULE_ONESHOT_NOT_REARMED, t->last_ns + RULE_STALL_NS);
}

static void oneshot_report(struct rules *R, struct state_sock *s, struct note *n,
                           uint64_t pos, const char *what)
{
    struct finding *f = report(R, s, RULE_ONESHOT_NOT_REARMED, n->fired - 1, pos);
    if (f)
        snprintf(f->what, sizeof(f->what),
                 "fd %d fired (EPOLLONESHOT) and was never re-armed with EPOLL_CTL_MOD; %s",
                 s->fd, what);
    n->fired = 0;
    n->idle_ns = 0;
    n->suspect = 0;
}

/* The suspect mark when its time is up (how NULL), or the verdict at its close or at the
 * trace's end (how says which). */
static int oneshot_judge(struct rules *R, struct state_sock *s, uint64_t pos, uint64_t ns,
                         const char *how)
{
    struct note *n = note_if(R, s);
    if (!n || !n->fired || !n->idle_ns || s->eof || n->fin_known || s->uncertain)
        return 1;
    if (ns < n->idle_ns + RULE_STALL_NS) {
        if (!how) /* not yet: judged again when it is due */
            watch(R, s, RULE_ONESHOT_NOT_REARMED, n->idle_ns + RULE_STALL_NS);
        return 0;
    }
    if (!how) { /* due: a suspect until re-armed, closed, read, or the trace ends */
        n->suspect = 1;
        return 1;
    }
    char what[160];
    snprintf(what, sizeof(what), "nothing was done on it for %.3f s, %s",
             secs(ns - n->idle_ns), how);
    oneshot_report(R, s, n, pos, what);
    return 1;
}

/* A call on a watched one-shot socket (type EPT_READ, EPT_WRITE or EPT_SHUTDOWN, with its
 * result). A read that finds data or end of file waiting in a disarmed non-blocking suspect
 * is the proof. Bytes written to it mean the program came back to it of its own accord (a
 * worker thread answering late): no longer a suspect. Any call before the time is up is
 * activity: the program is busy with it. */
static __attribute__((noinline)) void oneshot_watched(struct rules *R, struct state_sock *s,
                                                      struct note *n, unsigned type,
                                                      long result, uint64_t pos, uint64_t ns)
{
    if (type == EPT_WRITE && result > 0) {
        n->idle_ns = ns;
        n->suspect = 0;
        return;
    }
    if (n->suspect || ns >= n->idle_ns + RULE_STALL_NS) {
        if (type == EPT_READ && result >= 0 && s->nonblock && !s->uncertain && !n->os_full) {
            char what[160];
            snprintf(what, sizeof(what), "%.3f s later a read found %s waiting in it, which "
                     "no event had reported", secs(ns - n->idle_ns),
                     result ? "data" : "the end of file");
            oneshot_report(R, s, n, pos, what);
        }
        return; /* still a suspect: only a re-arm, or the program's own output, clears it */
    }
    n->idle_ns = ns;
}

/* A call on s: oneshot_watched's work when s is a fired one-shot being watched. Inline: a
 * call on a socket not watched, the common case, costs a test. */
static inline void oneshot_call(struct rules *R, struct state_sock *s, unsigned type,
                                long result, uint64_t pos, uint64_t ns)
{
    struct note *n = note_if(R, s);
    if (n && n->fired && n->idle_ns)
        oneshot_watched(R, s, n, type, result, pos, ns);
}

/* A read of s: a short one after its peer's FIN was reported (EPOLLRDHUP) emptied it for
 * good, since the FIN comes after every byte the peer sent. */
static void oneshot_read(struct rules *R, struct state_sock *s, const struct ept_io *io)
{
    struct note *n = note_if(R, s);
    if (n && n->rdhup_pos && io->result > 0 && (uint32_t)io->result < io->asked)
        n->fin_drained = 1;
}

/* A shutdown(SHUT_WR) of the other socket of the connection of a socket so emptied (the
 * pair the model knows from the data flow or the proxy's annotation; whichever event's
 * handling does it: a proxy passes the end on once its backend has connected, or once a
 * slow client has taken the bytes before it) passes its end of file on: the program knows
 * it, with no read returning 0 (it read the last bytes and the EOF from one report). Such
 * a socket has nothing left to report; leaving it disarmed is right. */
static void oneshot_shutdown(struct rules *R, struct state_sock *s, const struct ept_shutdown *sh)
{
    struct state_sock *src;
    struct note *n;
    if (sh->result != 0 || sh->how == SHUT_RD || !s->peer || !(src = state_sock(R->st, s->peer)) ||
        src == s)
        return;
    if ((n = note_if(R, src)) && n->fin_drained)
        n->fin_known = 1;
}

/* --- busy-epollout ------------------------------------------------------------------------ */
/* A level-triggered registration with EPOLLOUT reported RULE_BUSY_OUT_EVENTS times in a row with no
 * write on the socket in between (not counting the event that completes a connect). */

static void busy_ready(struct rules *R, struct state_sock *s, const struct state_reg *g,
                       const struct state_event *e, uint64_t pos)
{
    if (!g || !state_reg_is_level(g) || !(e->events & EPOLLOUT) ||
        (e->events & (EPOLLERR | EPOLLHUP)) || s->role == EPT_ROLE_LISTENER ||
        s->connecting == 2)
        return;
    struct note *n = note_of(R, s);
    if (n->out_seen && !n->wrote) {
        n->out_streak++;
    } else {
        n->out_streak = 1;
        n->out_pos = pos;
    }
    n->out_seen = 1;
    n->wrote = 0;
    if (n->out_streak >= RULE_BUSY_OUT_EVENTS && !s->uncertain) {
        struct finding *f = report(R, s, RULE_BUSY_EPOLLOUT, n->out_pos, pos);
        if (!f && n->out_streak > n->out_max) /* a longer run: the words follow it */
            f = &R->f[n->finding[RULE_BUSY_EPOLLOUT] - 1];
        if (f) {
            n->out_max = n->out_streak;
            snprintf(f->what, sizeof(f->what),
                     "fd %d: level-triggered EPOLLOUT returned by epoll_wait %u times in a row "
                     "with no write on it in between", s->fd, n->out_streak);
        }
    }
}

/* --- eof-spin ----------------------------------------------------------------------------- */
/* read() returned 0, yet a level-triggered registration with EPOLLIN or EPOLLRDHUP stayed,
 * and the socket was reported readable RULE_EOF_EVENTS times after. */

static void eof_ready(struct rules *R, struct state_sock *s, const struct state_reg *g,
                      const struct state_event *e, uint64_t pos)
{
    if (!s->eof || !g || !state_reg_is_level(g) || !(e->events & (EPOLLIN | EPOLLRDHUP)))
        return;
    struct note *n = note_of(R, s);
    if (!n->eof_events++)
        n->eof_pos = pos;
    if (n->eof_events >= RULE_EOF_EVENTS && !s->uncertain) {
        struct finding *f = report(R, s, RULE_EOF_SPIN, n->eof_pos, pos);
        if (f)
            snprintf(f->what, sizeof(f->what),
                     "fd %d: read() returned 0 (end of file), yet epoll_wait kept reporting it "
                     "readable", s->fd);
    }
}

/* --- thundering-herd ---------------------------------------------------------------------- */
/* A loop blocked in epoll_wait was woken for a listener alone, and every accept of that
 * event said EAGAIN: another loop (process or thread) had taken the connection. Reported
 * once it happened RULE_HERD_MIN times and in 1 of RULE_HERD_SHARE of the listener's
 * wake-ups or more. A busy loop that finds a stale readiness (it returns at once, often
 * with other events) is not counted: that is contention, not a herd. */

/* Count listener event e of batch w for the herd, and report once it is one. */
static void herd_event(struct rules *R, const struct state_wait *w,
                       const struct state_event *e, struct state_sock *l, uint64_t pos)
{
    if (l->uncertain)
        return;
    struct note *n = note_of(R, l);
    n->herd_wakes++;
    if (e->accepts != e->eagains || w->n != 1 || w->blocked_ns < RULE_HERD_IDLE_NS)
        return;
    const struct state_reg *g = state_reg(l, w->set, e->fd);
    if (g && (g->interest & EPOLLEXCLUSIVE))
        return; /* the cure is in place: it wakes "one or more" waiters, not all of them */
    if (!n->herd_lost++)
        n->herd_first = w->pos;
    if (n->herd_lost < RULE_HERD_MIN || (uint64_t)n->herd_lost * RULE_HERD_SHARE < n->herd_wakes)
        return;
    /* from the first wasted wake-up: the finding spans them all, as its count does */
    struct finding *f = report(R, l, RULE_THUNDERING_HERD, n->herd_first, pos);
    if (!f)
        return;
    f->count = n->herd_lost; /* the ones before this one count too */
    snprintf(f->what, sizeof(f->what),
             "listener fd %d: this loop, idle in epoll_wait, was woken for the listener alone "
             "and its accept() found nothing (EAGAIN): another loop had taken the connection",
             l->fd);
}

/* --- accept-starvation -------------------------------------------------------------------- */
/* An edge-triggered listener's event was handled with accepts whose last one succeeded (no
 * EAGAIN), and the thread's next batch did not report the listener (it came only later or
 * never): connections left in the backlog made no new edge. */

static void accept_batch_end(struct rules *R, struct state_thread *t, struct tnote *tn,
                             uint64_t pos, int at_end)
{
    struct state_wait *w = &t->wait;
    /* candidates of an earlier batch that this batch did not report (at the end: all) */
    for (uint32_t i = 0; i < tn->nacc; i++) {
        struct state_sock *l = state_sock(R->st, tn->acc[i]);
        struct note *n = note_if(R, l);
        if (!n || !n->acc_batch || l->uncertain || l->paused)
            continue;
        if (!at_end && n->acc_batch - 1 >= w->pos)
            continue;
        struct finding *f = report(R, l, RULE_ACCEPT_STARVATION, n->acc_first, pos);
        char held[96] = "";
        if (l->queue_kind == EPT_QUEUE_BACKLOG && l->queued) /* the proxy's note: detail */
            snprintf(held, sizeof(held), " (%u connection%s still waited in its accept queue)",
                     l->queued, l->queued == 1 ? "" : "s");
        if (f)
            snprintf(f->what, sizeof(f->what),
                     "edge-triggered listener fd %d: the handler's last accept() succeeded, "
                     "it went back to epoll_wait without seeing EAGAIN%s, and %s", l->fd, held,
                     at_end ? "the trace ended before the listener was reported again"
                            : "the next wait did not report the listener");
        n->acc_batch = 0;
    }
    tn->nacc = 0;
    if (at_end || !w->accepts) /* no listener's event was handled with an accept */
        return;
    /* this batch's listener events: each counts for the herd; the edge ones that stopped
     * short of EAGAIN are candidates for accept-starvation */
    for (uint32_t i = 0; i < w->n; i++) {
        struct state_event *e = &w->ev[i];
        struct state_sock *l = state_event_sock(R->st, e);
        if (!l || l->role != EPT_ROLE_LISTENER || !e->accepts)
            continue;
        herd_event(R, w, e, l, pos);
        if (l->paused)
            continue;
        struct state_reg *g = state_reg(l, w->set, e->fd);
        struct note *n = note_if(R, l);
        if (!g || !(g->interest & EPOLLET) || !n || !n->acc_ok || n->acc_tid != t->tid)
            continue;
        n->acc_batch = w->pos + 1;
        n->acc_first = w->pos;
        push(&tn->acc, &tn->nacc, &tn->capacc, l->sid);
    }
}

/* --- stale-event -------------------------------------------------------------------------- */
/* Within one batch, an event acted on after an earlier event's handler closed its socket:
 * a handle record for it (the proxy says so), or a call on its number that failed with
 * EBADF. (A call on a new socket that reused the number is not judged without the handle
 * record: a correct program may use its new socket then.) */

static int stale_seen(struct tnote *tn, uint32_t index)
{
    for (uint32_t i = 0; i < tn->nstale; i++)
        if (tn->stale[i] == index)
            return 1;
    push(&tn->stale, &tn->nstale, &tn->capstale, index);
    return 0;
}

static void stale_report(struct rules *R, struct state_thread *t, uint32_t index,
                         uint64_t pos, const char *did)
{
    struct tnote *tn = tnote_of(R, t);
    if (stale_seen(tn, index))
        return;
    const struct state_event *e = &t->wait.ev[index];
    struct finding *f = new_finding(R, RULE_STALE_EVENT, t->wait.pos, pos, NULL);
    f->sid = e->sid;
    f->fd = e->fd;
    snprintf(f->what, sizeof(f->what),
             "event #%u of this epoll_wait named fd %d, whose socket an earlier event's handler "
             "had closed; %s", index, e->fd, did);
}

static void stale_ebadf(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                        uint64_t pos)
{
    struct ept_sock k;
    long res;
    if (!ept_rec_result(rec, &res) || res != -EBADF || !ept_rec_sock(rec, &k) ||
        t->wait.lost) /* after lost records, which batch is being handled is not known */
        return;
    if (rec->type == EPT_ACCEPT)
        ept_rec_sock2(rec, &k);
    struct state_wait *w = &t->wait;
    for (uint32_t i = 0; i < w->n; i++) {
        const struct state_event *e = &w->ev[i];
        if (e->fd == k.fd && (e->closed || !state_event_sock(R->st, e))) {
            char did[96];
            snprintf(did, sizeof(did), "the program then called %s(%d): EBADF",
                     ept_call_name(rec), k.fd);
            stale_report(R, t, i, pos, did);
            return;
        }
    }
}

/* --- spurious-wakeup ---------------------------------------------------------------------- */
/* For one socket, at least half of its EPOLLIN events (and at least RULE_SPURIOUS_MIN)
 * were handled with a first read that said EAGAIN and nothing else done. Events without
 * EPOLLIN, and listeners (accept), do not count. */

/* Event e of batch w, about s (NULL: gone), at the batch's end (the next wait at pos). */
static void spurious_event(struct rules *R, const struct state_wait *w,
                           const struct state_event *e, struct state_sock *s, uint64_t pos)
{
    if (!(e->events & EPOLLIN) || !e->has_read || !s || s->role == EPT_ROLE_LISTENER)
        return;
    struct note *n = note_of(R, s);
    int spurious = e->first_read == -EAGAIN && !e->bytes_read && !e->bytes_written && !e->closed;
    n->in_reads++;
    if (!spurious)
        return;
    if (!n->spur++)
        n->spur_pos = w->pos;
    if (n->spur >= RULE_SPURIOUS_MIN && n->spur * 2 >= n->in_reads && !s->uncertain) {
        struct finding *f = report(R, s, RULE_SPURIOUS_WAKEUP, n->spur_pos, pos - 1);
        if (!f) /* folded: keep its words up to date */
            f = &R->f[n->finding[RULE_SPURIOUS_WAKEUP] - 1];
        snprintf(f->what, sizeof(f->what),
                 "fd %d: reported readable again and again with nothing to read: the "
                 "first read said EAGAIN on %u of %u EPOLLIN wake-ups",
                 s->fd, n->spur, n->in_reads);
    }
}

/* --- closed-fd-still-registered --------------------------------------------------------- */
/* An event came for a registration whose fd number the program had closed: another number
 * (a dup, a forked child's copy) kept the file open, so the registration stayed. */

static void closed_fd_ready(struct rules *R, struct state_sock *s, const struct state_reg *g,
                            const struct state_event *e, uint64_t pos)
{
    if (s->uncertain)
        return;
    struct finding *f = report(R, s, RULE_CLOSED_FD, pos, pos);
    if (f) {
        f->fd = g->fd;
        char ev[96];
        struct sbuf b;
        sb_init(&b, ev, sizeof(ev));
        fmt_events(&b, e->events);
        snprintf(f->what, sizeof(f->what),
                 "epoll_wait reported %s for fd %d, a number the program had closed: the "
                 "socket lives on under fd %d, so its registration under fd %d stayed in the "
                 "set", ev, g->fd, s->fd, g->fd);
    }
}

/* --- rdhup-data-loss ---------------------------------------------------------------------- */
/* A socket reported with EPOLLRDHUP was closed (its last number) with no read of it since
 * that event, while the kernel still held bytes for reading (the recorder asks with
 * FIONREAD just before such a close): what came with the peer's FIN was never read. (A
 * program that read, then closed because writing back failed, let go of a dead peer's
 * bytes on purpose: not this.) */

static void rdhup_ready(struct rules *R, struct state_sock *s, const struct state_event *e,
                        uint64_t pos)
{
    if (!(e->events & EPOLLRDHUP) || s->role == EPT_ROLE_LISTENER)
        return;
    struct note *n = note_of(R, s);
    n->rdhup_pos = pos + 1;
    n->rdhup_read = 0;
}

static void rdhup_drop(struct rules *R, struct state_sock *s, struct note *n, uint64_t pos)
{
    if (!n->rdhup_pos || n->rdhup_read || s->unread <= 0 || s->eof || s->uncertain)
        return;
    struct finding *f = report(R, s, RULE_RDHUP_LOSS, n->rdhup_pos - 1, pos);
    if (f)
        snprintf(f->what, sizeof(f->what),
                 "fd %d was reported with EPOLLRDHUP and closed with %d bytes still unread: "
                 "what came with the peer's FIN was never read", s->fd, s->unread);
}

/* --- lost-out-edge ------------------------------------------------------------------------ */
/* An edge-triggered (not one-shot) registration with EPOLLOUT was reported writable while a
 * write to the socket waited (its last write was short or EAGAIN), and the thread's batch
 * ended with no write to it; judged a stall when nothing was written to it for
 * RULE_STALL_NS (or until its close, or the trace's end). */

static void lost_out_ready(struct rules *R, struct state_thread *t, struct state_sock *s,
                           const struct state_reg *g, const struct state_event *e,
                           uint64_t pos)
{
    if (!(e->events & EPOLLOUT) || !g || !state_reg_is_edge(g) || !(g->interest & EPOLLOUT) ||
        !s->out_pending || s->role == EPT_ROLE_LISTENER || s->connecting)
        return;
    struct note *n = note_of(R, s);
    if (n->oe_pos)
        return; /* the first one not acted on is the one that was lost */
    n->oe_pos = pos + 1;
    n->oe_ns = 0;
    n->oe_tid = t->tid;
    n->oe_in = (e->events & EPOLLIN) != 0;
    struct tnote *tn = tnote_of(R, t);
    push(&tn->oe, &tn->noe, &tn->capoe, s->sid);
}

static void lost_out_batch_end(struct rules *R, struct state_thread *t, struct tnote *tn)
{
    for (uint32_t i = 0; i < tn->noe; i++) {
        struct state_sock *s = state_sock(R->st, tn->oe[i]);
        struct note *n = note_if(R, s);
        if (n && n->oe_pos && n->oe_tid == t->tid && !n->oe_ns) {
            n->oe_ns = t->last_ns;
            watch(R, s, RULE_LOST_OUT_EDGE, t->last_ns + RULE_STALL_NS);
        }
    }
    tn->noe = 0;
}

static int lost_out_judge(struct rules *R, struct state_sock *s, uint64_t pos, uint64_t ns,
                          const char *how)
{
    struct note *n = note_if(R, s);
    if (!n || !n->oe_pos || !n->oe_ns)
        return 1; /* written to: resolved */
    if (ns < n->oe_ns + RULE_STALL_NS)
        return 0;
    if (s->uncertain)
        return 1;
    struct finding *f = report(R, s, RULE_LOST_OUT_EDGE, n->oe_pos - 1, pos);
    if (f)
        snprintf(f->what, sizeof(f->what),
                 "fd %d (edge-triggered) had a write waiting and was reported writable%s, "
                 "and the handler wrote nothing; nothing was written to it in %.3f s, %s",
                 s->fd, n->oe_in ? " together with EPOLLIN" : "", secs(ns - n->oe_ns), how);
    n->oe_pos = 0;
    n->oe_ns = 0;
    return 1;
}

/* --- edge-hog ------------------------------------------------------------------------------ */
/* In the handling of one event of an edge-triggered socket, RULE_HOG_READS reads in a row
 * each returned all they asked for, RULE_HOG_BYTES in all, while later events of the same
 * batch waited: one busy peer delays every other one (a fairness cost, not a bug). Draining
 * what an event brought, in small reads, is not that: it takes a megabyte. */

static void hog_read(struct rules *R, struct state_thread *t, struct state_sock *s,
                     const struct ept_io *io, uint64_t pos)
{
    const struct state_event *e = R->st->touched_ev;
    struct state_wait *w = &t->wait;
    if (!e || e->sid != s->sid || !has_edge_reg(s) || io->result <= 0 || !io->asked ||
        (uint32_t)io->result != io->asked)
        return;
    struct note *n = note_of(R, s);
    uint32_t index = (uint32_t)(e - w->ev);
    if (n->hog_wait != w->pos + 1 || n->hog_index != index) {
        n->hog_wait = w->pos + 1;
        n->hog_index = index;
        n->hog_reads = 0;
        n->hog_bytes = 0;
        n->hog_done = 0;
    }
    n->hog_reads++;
    n->hog_bytes += (uint64_t)io->result;
    if (n->hog_reads < RULE_HOG_READS || n->hog_bytes < RULE_HOG_BYTES || s->uncertain)
        return;
    uint32_t waiting = 0; /* later events of other sockets nothing has been read for yet (a
                             write to one of them, as the hog forwards, handles nothing) */
    for (uint32_t i = index + 1; i < w->n; i++) {
        const struct state_event *o = &w->ev[i];
        waiting += o->sid != s->sid && (o->events & EPOLLIN) && !o->reads && !o->accepts &&
                   !o->closed;
    }
    if (!waiting)
        return;
    struct finding *f;
    if (!n->hog_done) { /* once per event handled so */
        n->hog_done = 1;
        report(R, s, RULE_EDGE_HOG, w->pos, pos);
    }
    if (!(n->reported & (1u << RULE_EDGE_HOG)))
        return;
    f = &R->f[n->finding[RULE_EDGE_HOG] - 1];
    if (pos > f->last)
        f->last = pos;
    if (n->hog_reads > n->hog_max) { /* its words tell the longest run */
        n->hog_max = n->hog_reads;
        snprintf(f->what, sizeof(f->what),
                 "fd %d (edge-triggered): %u reads in a row in one event's handling, each "
                 "as large as asked (%llu bytes), while %u later event%s of the same "
                 "epoll_wait waited", s->fd, n->hog_reads, (unsigned long long)n->hog_bytes,
                 waiting, waiting == 1 ? "" : "s");
    }
}

/* --- lost-records ------------------------------------------------------------------------- */

/* Forget every half-seen pattern: none may be completed across a gap. */
static void forget(struct rules *R)
{
    for (uint32_t i = 0; i < R->nnotes; i++) {
        struct note *n = &R->notes[i];
        uint32_t keep_sid = n->sid, next = n->next_free, rep = n->reported;
        uint32_t fi[RULE_COUNT];
        memcpy(fi, n->finding, sizeof(fi));
        memset(n, 0, sizeof(*n));
        n->sid = keep_sid;
        n->next_free = next;
        n->reported = rep;
        memcpy(n->finding, fi, sizeof(fi));
    }
    for (uint32_t i = 0; i < R->ntn; i++) {
        R->tn[i].nmt = R->tn[i].mt_sid = 0;
        R->tn[i].nfull = R->tn[i].nacc = R->tn[i].noe = 0;
    }
    R->nw = R->whead = 0;
    R->due = UINT64_MAX;
}

static void lost(struct rules *R, const struct ept_rec *rec, uint64_t pos)
{
    EPT_VIEW(struct ept_lost, l, rec);
    R->lost += l->count;
    struct finding *f = new_finding(R, RULE_LOST_RECORDS, pos, pos, NULL);
    f->count = l->count;
    f->first_seq = l->first_seq;
    f->last_seq = l->last_seq;
    char seqs[96]; /* an older recorder's dropped records took no sequence numbers */
    if (l->first_seq || l->last_seq)
        snprintf(seqs, sizeof(seqs), " (seq %llu-%llu)", (unsigned long long)l->first_seq,
                 (unsigned long long)l->last_seq);
    else
        snprintf(seqs, sizeof(seqs), " before seq %llu (their own seq numbers not recorded)",
                 (unsigned long long)rec->seq);
    snprintf(f->what, sizeof(f->what),
             "%llu record%s dropped%s: the ring was full; no diagnosis reasons across this gap",
             (unsigned long long)l->count, l->count == 1 ? "" : "s", seqs);
    forget(R);
}

/* Words for damage finding f: what was skipped, and which records, when known. */
static void damage_words(struct rules *R, struct finding *f)
{
    char recs[96];
    if (f->count)
        snprintf(recs, sizeof(recs), "%llu record%s (seq %llu-%llu) missing",
                 (unsigned long long)f->count, f->count == 1 ? "" : "s",
                 (unsigned long long)f->first_seq, (unsigned long long)f->last_seq);
    else
        snprintf(recs, sizeof(recs), "the records from seq %llu on unknown",
                 (unsigned long long)f->first_seq);
    char all[sizeof(f->what) + sizeof(recs) + sizeof(R->damage_why)];
    snprintf(all, sizeof(all),
             "%llu damaged bytes skipped at file offset %llu (%s): %s; no diagnosis reasons "
             "across this gap",
             (unsigned long long)R->damage_bytes, (unsigned long long)R->damage_off, R->damage_why,
             recs);
    size_t n = strlen(all); /* a long reason is cut, as every finding's words are */
    n = n < sizeof(f->what) ? n : sizeof(f->what) - 1;
    memcpy(f->what, all, n);
    f->what[n] = 0;
}

void rules_damage(struct rules *R, uint64_t pos, uint64_t off, uint64_t bytes, const char *why,
                  uint64_t first_seq)
{
    if (R->damage_open) { /* no record between: the same records are missing */
        R->damage_bytes += off + bytes - (R->damage_off + R->damage_bytes);
        damage_words(R, &R->f[R->damage_open - 1]);
        return;
    }
    struct finding *f = new_finding(R, RULE_LOST_RECORDS, pos, pos, NULL);
    f->damaged = 1;
    f->count = 0; /* not known until a record after the damage is read */
    f->first_seq = first_seq;
    R->damage_open = R->nf;
    R->damage_off = off;
    R->damage_bytes = bytes;
    snprintf(R->damage_why, sizeof(R->damage_why), "%s", why);
    damage_words(R, f);
    forget(R);
}

void rules_damage_end(struct rules *R, uint64_t seq)
{
    if (!R->damage_open)
        return;
    struct finding *f = &R->f[R->damage_open - 1];
    R->damage_open = 0;
    if (seq <= f->first_seq) /* no number missing: the file's numbers cannot be trusted */
        return;
    f->last_seq = seq - 1;
    f->count = f->last_seq - f->first_seq + 1;
    damage_words(R, f);
}

/* --- the rules' words -------------------------------------------------------------------- */

static const struct {
    const char *name;
    int error;
    const char *explain;
    const char *fix;
} rules[RULE_COUNT] = {
    [RULE_MISTRIGGER] = {"mis-trigger", 1,
        "EPOLLIN was reported for a socket the program had already read everything from "
        "(here the peer's end of file), the handler's read() returned 0 or EAGAIN, and the "
        "handler went on as if it had data: it forwarded an empty (or old) buffer. Why the "
        "event came: a level-triggered registration reports a socket for as long as it is "
        "readable, and end of file stays readable, so EPOLLIN repeats until the program "
        "removes it. EPOLLET alone does not repeat a condition already reported, but a FIN "
        "or data arriving after the last read is a new edge and is reported again. Only "
        "EPOLLONESHOT (one event, then nothing until EPOLL_CTL_MOD re-arms it) or removing "
        "EPOLLIN with EPOLL_CTL_MOD keeps a socket quiet while the program waits for the "
        "other phase. EPOLLONESHOT is independent of EPOLLET: EPOLLIN|EPOLLONESHOT without "
        "EPOLLET is valid, and common with threads.",
        "Treat read() returning 0 (end of file) or EAGAIN as 'no data', never as a message to "
        "forward. While a socket waits for the other phase, keep it quiet: register it with "
        "EPOLLONESHOT and re-arm it with EPOLL_CTL_MOD for exactly what comes next, or remove "
        "EPOLLIN with EPOLL_CTL_MOD."},
    [RULE_EDGE_STARVATION] = {"edge-starvation", 1,
        "With EPOLLET the kernel reports a socket when something arrives (every arriving "
        "segment, even with data already queued), not while data waits. The handler's "
        "read() returned all the bytes it asked for, so more may have been queued, and the "
        "program went back to epoll_wait without reading again until EAGAIN (or a short "
        "read, which on a stream socket shows the buffer was emptied). Data left in the "
        "socket makes no new event: the connection stalls until the peer happens to send "
        "more, or for ever if the peer waits for an answer.",
        "With EPOLLET, read until read() returns EAGAIN, a short read, or 0. If you must stop "
        "early (your buffer is full, or to be fair to other sockets), remember that the "
        "socket is still readable and read it again without waiting for an event."},
    [RULE_ONESHOT_NOT_REARMED] = {"oneshot-not-rearmed", 1,
        "With EPOLLONESHOT the kernel reports one event for a registration and then disables "
        "it: nothing more is reported for it, not even EPOLLHUP or EPOLLERR, until the "
        "program re-arms it with EPOLL_CTL_MOD. This socket fired, was never re-armed, and "
        "stayed open with nothing done on it: whatever came next (data, end of file, room "
        "to write) was never reported.",
        "After handling each event of a one-shot socket, call epoll_ctl(EPOLL_CTL_MOD) with "
        "exactly the events it waits for next (EPOLLIN, EPOLLOUT or both, with "
        "EPOLLONESHOT again), or close it."},
    [RULE_BUSY_EPOLLOUT] = {"busy-epollout", 1,
        "Level-triggered EPOLLOUT means 'there is room in the send buffer', which is true "
        "almost always. The socket stayed registered for EPOLLOUT with nothing to write, so "
        "every epoll_wait returned it at once: a busy loop that burns CPU and wakes the "
        "program for nothing.",
        "Register EPOLLOUT only while a write is pending (after write() returned EAGAIN or "
        "wrote less than asked) and remove it with EPOLL_CTL_MOD as soon as the buffer "
        "drains; or use EPOLLET for it."},
    [RULE_EOF_SPIN] = {"eof-spin", 1,
        "read() returned 0: the peer shut down its side (its FIN arrived) and no more data "
        "will come. A level-triggered registration keeps reporting end of file as readable "
        "(EPOLLIN, with EPOLLRDHUP when asked for), so while the socket stayed registered for "
        "EPOLLIN or EPOLLRDHUP, epoll_wait returned it again at once and each read returned "
        "0 again.",
        "On read() == 0, stop asking for EPOLLIN and EPOLLRDHUP on that socket (EPOLL_CTL_MOD "
        "without them, or EPOLL_CTL_DEL), pass the end of file on (shutdown(SHUT_WR) toward "
        "the peer), and close the socket once the other direction is done too."},
    [RULE_ACCEPT_STARVATION] = {"accept-starvation", 1,
        "An edge-triggered listener is reported when a new connection arrives, not while "
        "connections wait in its backlog. The handler accepted, but its last accept() "
        "succeeded (it never saw EAGAIN), and it went back to epoll_wait: connections still "
        "in the backlog make no new edge, so they wait for an unrelated arrival to be "
        "accepted, or for ever.",
        "With EPOLLET on a listener, call accept() in a loop until it fails with EAGAIN "
        "(stopping early only when you must, and then remembering the listener is still "
        "ready); or register the listener level-triggered, as most servers do."},
    [RULE_STALE_EVENT] = {"stale-event", 1,
        "One epoll_wait returns a batch of events, each describing a socket as it was when "
        "the wait returned. Handling an earlier event of the batch closed a socket, and then "
        "the program acted on the batch's later event for that socket anyway: on a number "
        "that was now closed, or on a new socket that had reused the same number.",
        "Defer freeing connections until the whole batch is handled, and skip events whose "
        "socket was closed earlier in the batch (mark it closed and check before handling; "
        "nginx keeps a generation bit in each event's data for this)."},
    [RULE_SPURIOUS_WAKEUP] = {"spurious-wakeup", 0,
        "The kernel reported the socket readable, but the handler's first read() said "
        "EAGAIN and nothing else was done. Once in a while that is harmless; here it was at "
        "least half of the socket's EPOLLIN wake-ups, each a trip through epoll_wait and a "
        "system call for nothing. Common causes: one file registered twice (under a dup'ed "
        "number, or in two sets), so every readiness is reported twice; several threads "
        "waiting on one level-triggered set; or reading ahead of the events.",
        "Register each file once, ask only for the events you act on, and in edge-triggered "
        "mode read until EAGAIN so that one arrival does not cost two wake-ups."},
    [RULE_CLOSED_FD] = {"closed-fd-still-registered", 1,
        "The interest list is keyed by the pair (open file, fd number), and a registration "
        "goes away only with EPOLL_CTL_DEL or when the last descriptor of the file is "
        "closed. This file had another descriptor (a dup, or a copy a fork made), so "
        "closing the registered number removed nothing: epoll_wait kept reporting the file "
        "under a number the program had closed (or that a new socket had taken by then). "
        "EPOLL_CTL_DEL on that number cannot reach it: it fails with EBADF, or, once a new "
        "socket has the number, finds that socket's registration instead (or ENOENT).",
        "Call epoll_ctl(EPOLL_CTL_DEL) while the number still names the socket, before "
        "close(); and avoid stray descriptors of a registered socket (SOCK_CLOEXEC, "
        "O_CLOEXEC, no dup you do not close)."},
    [RULE_RDHUP_LOSS] = {"rdhup-data-loss", 1,
        "EPOLLRDHUP means the peer's FIN arrived: it will send nothing more. It does not "
        "mean there is nothing to read: the bytes sent before the FIN are still queued, "
        "and a request and its FIN (or a response and the server's close) often arrive "
        "together, in one event. The program closed the socket on EPOLLRDHUP without "
        "reading them; and closing a TCP socket with unread data makes Linux send a reset "
        "(RST) instead of a FIN, so the peer may lose what it was still receiving too.",
        "On EPOLLRDHUP, keep reading until read() returns 0 (or EAGAIN), handle what was "
        "read, then pass the end of file on; close only once both directions are done."},
    [RULE_LOST_OUT_EDGE] = {"lost-out-edge", 1,
        "With EPOLLET a socket is reported when something happens to it (data arrives, room "
        "frees up), and each report carries its whole current state: once there is room, "
        "every report says EPOLLOUT, and while the peer keeps sending it says "
        "EPOLLIN|EPOLLOUT. A handler written as `if (events & EPOLLIN) ... else if (events "
        "& EPOLLOUT) ...` takes each of those for EPOLLIN alone and never writes. When the "
        "peer stops sending, nothing happens to the socket any more: it stays writable, no "
        "report comes, and the data waiting to be written waits for ever.",
        "Test each event bit on its own (`if (ev & EPOLLIN) ...; if (ev & EPOLLOUT) ...`), "
        "or simply try the pending write after handling any event of the socket."},
    [RULE_EDGE_HOG] = {"edge-hog", 0,
        "Draining an edge-triggered socket until EAGAIN is right, but not all at once when "
        "its peer keeps sending as fast as it is read: every read returned all it asked "
        "for, the handler went on, and the other sockets epoll_wait had reported in the "
        "same batch waited behind it. One busy connection delays all the others.",
        "Read at most a budget per event (say 16 buffers), remember that the socket is "
        "still readable, handle the rest of the batch, and come back to it before the next "
        "epoll_wait blocks (a list of sockets still ready, served with timeout 0)."},
    [RULE_THUNDERING_HERD] = {"thundering-herd", 0,
        "Several event loops wait on one listening socket. When a connection arrives, the "
        "kernel wakes every loop blocked in epoll_wait on it (without EPOLLEXCLUSIVE, each "
        "epoll set is told); one accept() wins, the others get EAGAIN and go back to "
        "sleep: wasted wake-ups, one per idle loop per connection. EPOLLEXCLUSIVE (Linux "
        "4.5, on EPOLL_CTL_ADD only) wakes one or more blocked loops instead of all of them, "
        "yet a loop busy when the connection arrives still finds the listener on its ready "
        "list and may race for it. SO_REUSEPORT gives each loop its own listening socket and "
        "accept queue: the kernel spreads connections among them, so no loop wakes for "
        "another's, but a loop that stalls leaves its own queue waiting.",
        "Register the shared listener with EPOLLEXCLUSIVE, or give each loop its own "
        "listener with SO_REUSEPORT (nginx: `listen ... reuseport`)."},
    [RULE_LOST_RECORDS] = {"lost-records", 0,
        "The trace ring was full and records were dropped here: the recorder never blocks "
        "the program, so when the flusher cannot keep up it counts what it drops. The state "
        "after this gap may be wrong, and no diagnosis reasons across it.",
        "Use a larger ring (--ring-size for the proxy, --ring for record), a smaller "
        "preview, or a lighter load while tracing."},
};

const char *rule_name(unsigned id)
{
    return id < RULE_COUNT ? rules[id].name : "?";
}

const char *rule_severity(unsigned id)
{
    return id < RULE_COUNT && rules[id].error ? "error" : "warning";
}

int rule_is_error(unsigned id)
{
    return id < RULE_COUNT && rules[id].error;
}

const char *rule_explain(unsigned id)
{
    return id < RULE_COUNT ? rules[id].explain : "";
}

const char *rule_fix(unsigned id)
{
    return id < RULE_COUNT ? rules[id].fix : "";
}

const char *finding_explain(const struct finding *f)
{
    if (f->rule == RULE_LOST_RECORDS && f->damaged) /* not the ring's doing */
        return "A block of the file failed its checks (CRC, length, trailer): the file "
               "changed after it was written (a disk, a copy, an edit). Its records are "
               "unknown; the blocks after it were read.";
    return rule_explain(f->rule);
}

const char *finding_fix(const struct finding *f)
{
    if (f->rule == RULE_LOST_RECORDS && f->damaged)
        return "Get the trace again from where it was written.";
    return rule_fix(f->rule);
}

/* --- the pass ------------------------------------------------------------------------------ */

struct rules *rules_new(struct state *st)
{
    struct rules *R = xcalloc(1, sizeof(*R));
    R->st = st;
    R->due = UINT64_MAX;
    return R;
}

void rules_free(struct rules *R)
{
    if (!R)
        return;
    for (uint32_t i = 0; i < R->ntn; i++) {
        free(R->tn[i].mt);
        free(R->tn[i].full);
        free(R->tn[i].oe);
        free(R->tn[i].acc);
        free(R->tn[i].stale);
    }
    free(R->tn);
    free(R->notes);
    free(R->w);
    free(R->f);
    free(R);
}

size_t rules_findings(const struct rules *R, const struct finding **out)
{
    *out = R->f;
    return R->nf;
}

void rules_batch_end(struct rules *R, struct state_thread *t, uint64_t pos, uint64_t ns)
{
    struct tnote *tn = tnote_of(R, t);
    (void)ns;
    struct state_wait *w = &t->wait;
    edge_batch_end(R, t, tn);
    lost_out_batch_end(R, t, tn);
    /* each event of the batch, for the rules that judge events: spurious-wakeup (its
     * findings), then oneshot-not-rearmed (watches, after those of the two above, as
     * always); neither reads what another of these writes, so one walk does for all */
    for (uint32_t i = 0; i < w->n; i++) {
        struct state_sock *s = state_event_sock(R->st, &w->ev[i]);
        spurious_event(R, w, &w->ev[i], s, pos);
        oneshot_event(R, t, &w->ev[i], s);
    }
    accept_batch_end(R, t, tn, pos, 0); /* the herd's counts too */
    mistrigger_batch_end(R, tn);
    tn->nstale = 0;
}

void rules_drop(struct rules *R, struct state_sock *s, uint64_t pos, uint64_t ns)
{
    struct state_sock *p;
    if (s->out_pending && (p = peer_of(R, s))) /* the peer stopped reading because of s */
        note_of(R, p)->peer_blocked = 1;
    struct note *n = note_if(R, s);
    if (!n)
        return;
    /* each judge only when its rule watches s (what each tests first) */
    if (n->full_read && n->stall_ns)
        edge_judge(R, s, pos, ns, "until it was closed");
    if (n->fired && n->idle_ns)
        oneshot_judge(R, s, pos, ns, "until it was closed");
    if (n->oe_pos && n->oe_ns)
        lost_out_judge(R, s, pos, ns, "until it was closed");
    rdhup_drop(R, s, n, pos);
    /* the note goes with the file */
    n->sid = 0;
    n->next_free = R->free_head;
    R->free_head = s->note;
    s->note = 0;
}

/* Judge one watch entry that came up at time ns (record pos). */
static void judge_watch(struct rules *R, struct watch w, uint64_t pos, uint64_t ns, int at_end)
{
    struct state_sock *s = state_sock(R->st, w.sid);
    struct note *n = note_if(R, s);
    if (!n || n->due[wslot(w.rule)] != w.due_ns)
        return; /* gone, or re-scheduled: a later entry stands for it */
    n->due[wslot(w.rule)] = 0;
    if (w.rule == RULE_EDGE_STARVATION)
        edge_judge(R, s, pos, ns, at_end ? "when the trace ended" : "while it stayed open");
    else if (w.rule == RULE_LOST_OUT_EDGE)
        lost_out_judge(R, s, pos, ns, at_end ? "when the trace ended" : "while it stayed open");
    else
        oneshot_judge(R, s, pos, ns, at_end ? "and the trace ended" : NULL);
}

/* Judge every watched socket whose time has come (ns: now). A judge may watch a socket
 * again, always for a later time. */
static void run_watches(struct rules *R, uint64_t pos, uint64_t ns)
{
    const struct watch *h;
    while ((h = watch_head(R)) && h->due_ns <= ns)
        judge_watch(R, watch_pop(R), pos, ns, 0);
}

/* What each record type hooks, after the model applied it (t: its thread; s: the file it
 * was about, when the model knows it). Types no rule looks at have no hook. */

static void on_end(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                   uint64_t pos)
{
    EPT_VIEW(struct ept_end, e, rec);
    (void)t;
    if (e->lost > R->lost) { /* dropped by threads that recorded nothing after */
        struct finding *f = new_finding(R, RULE_LOST_RECORDS, pos, pos, NULL);
        f->count = e->lost - R->lost;
        snprintf(f->what, sizeof(f->what),
                 "%llu records dropped near the end, by threads that recorded nothing "
                 "after: the ring was full; no diagnosis reasons across this gap",
                 (unsigned long long)f->count);
        R->lost = e->lost;
    }
}

static void on_ready(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                     uint64_t pos)
{
    struct state_sock *s = state_touched(R->st);
    struct state_event *e = R->st->touched_ev;
    struct note *n;
    (void)rec;
    if (!s || !e)
        return;
    struct state_reg *g = R->st->touched_reg; /* the model found it for this event */
    if (g && (g->interest & EPOLLONESHOT))
        oneshot_fired(R, s, pos);
    if (g && g->fd_closed) { /* the program cannot change it: that is the mistake */
        closed_fd_ready(R, s, g, e, pos);
        return;
    }
    busy_ready(R, s, g, e, pos);
    eof_ready(R, s, g, e, pos);
    lost_out_ready(R, t, s, g, e, pos);
    rdhup_ready(R, s, e, pos);
    if ((n = note_if(R, s)) && n->acc_batch && n->acc_batch - 1 < t->wait.pos)
        n->acc_batch = 0; /* the listener came again at once */
}

static void on_read(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                    uint64_t pos)
{
    EPT_VIEW(struct ept_io, io, rec);
    struct state_sock *s = state_touched(R->st);
    struct note *n;
    if (s) {
        if ((n = note_if(R, s)))
            n->rdhup_read = 1;
        edge_read(R, t, s, io, pos);
        hog_read(R, t, s, io, pos);
        oneshot_read(R, s, io);
        oneshot_call(R, s, EPT_READ, io->result, pos, rec->ns);
        if ((n = note_if(R, s)))
            n->os_full = io->result > 0 && io->asked && (uint32_t)io->result == io->asked;
    }
    mistrigger_read(R, t, s, io, pos);
    if (io->result == -EBADF)
        stale_ebadf(R, t, rec, pos);
}

static void on_write(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                     uint64_t pos)
{
    EPT_VIEW(struct ept_io, io, rec);
    struct state_sock *s = state_touched(R->st);
    if (s) {
        struct note *n = note_of(R, s);
        n->wrote = 1;
        n->oe_pos = n->oe_ns = 0; /* it acted on its EPOLLOUT */
        oneshot_call(R, s, EPT_WRITE, io->result, pos, rec->ns);
        mistrigger_write(R, t, rec, io, s, n, pos);
    }
    if (io->result == -EBADF)
        stale_ebadf(R, t, rec, pos);
}

static void on_ctl(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                   uint64_t pos)
{
    EPT_VIEW(struct ept_epoll_ctl, c, rec);
    struct note *n;
    (void)t;
    (void)pos;
    if (c->result != 0 || !(n = note_if(R, state_touched(R->st))))
        return;
    n->full_read = 0; /* ADD or MOD polls the file again: a ready one is reported */
    n->stall_ns = 0;
    n->fired = 0; /* re-armed (or removed on purpose) */
    n->idle_ns = 0;
    n->suspect = 0;
    n->acc_batch = 0;
    n->oe_pos = n->oe_ns = 0; /* polled again: a writable socket is reported anew */
    if (c->op == EPOLL_CTL_DEL || !(c->events & EPOLLOUT))
        n->out_seen = n->out_streak = 0;
    if (c->op == EPOLL_CTL_DEL || !(c->events & (EPOLLIN | EPOLLRDHUP)))
        n->eof_events = 0;
}

static void on_accept(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                      uint64_t pos)
{
    EPT_VIEW(struct ept_accept, a, rec);
    struct state_sock *s = state_touched(R->st);
    if (s) {
        struct note *n = note_of(R, s);
        n->acc_ok = a->result >= 0;
        n->acc_tid = t->tid;
    }
    if (a->result == -EBADF)
        stale_ebadf(R, t, rec, pos);
}

static void on_handle(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                      uint64_t pos)
{
    EPT_VIEW(struct ept_ready, h, rec);
    if (h->index < t->wait.n && t->wait.ev[h->index].stale)
        stale_report(R, t, h->index, pos, "the program handled it anyway");
}

static void on_shutdown(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                        uint64_t pos)
{
    EPT_VIEW(struct ept_shutdown, sh, rec);
    struct state_sock *s = state_touched(R->st);
    if (s) {
        oneshot_shutdown(R, s, sh);
        oneshot_call(R, s, EPT_SHUTDOWN, 0, pos, rec->ns);
    }
    if (sh->result == -EBADF)
        stale_ebadf(R, t, rec, pos);
}

static void on_close(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                     uint64_t pos)
{
    EPT_VIEW(struct ept_close, c, rec);
    if (c->result == -EBADF)
        stale_ebadf(R, t, rec, pos);
}

static void on_pause(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                     uint64_t pos)
{
    struct note *n = note_if(R, state_touched(R->st));
    (void)t;
    (void)rec;
    (void)pos;
    if (n)
        n->acc_batch = 0;
}

static void on_lost(struct rules *R, struct state_thread *t, const struct ept_rec *rec,
                    uint64_t pos)
{
    (void)t;
    lost(R, rec, pos);
}

/* The record types the rules look at, each with its hook (the rules' parts in their own
 * sections above); the others cost a look in this table. */
rules_hook_fn *const rules_hooks[EPT_TYPE_COUNT] = {
    [EPT_EPOLL_CTL] = on_ctl,     /* what a re-arm ends: every watch, streak and count */
    [EPT_READY] = on_ready,       /* oneshot, closed-fd, busy-out, eof-spin, lost-out, rdhup */
    [EPT_HANDLE] = on_handle,     /* stale-event */
    [EPT_ACCEPT] = on_accept,     /* accept-starvation, stale-event */
    [EPT_READ] = on_read,         /* edge-starvation, edge-hog, oneshot, rdhup, mis-trigger */
    [EPT_WRITE] = on_write,       /* busy-out, lost-out-edge, oneshot, mis-trigger */
    [EPT_SHUTDOWN] = on_shutdown, /* oneshot, stale-event */
    [EPT_CLOSE] = on_close,       /* stale-event */
    [EPT_LOST] = on_lost,         /* lost-records */
    [EPT_END] = on_end,           /* lost-records */
    [EPT_PAUSE] = on_pause,       /* accept-starvation */
};

const uint64_t *rules_due(const struct rules *R)
{
    return &R->due;
}

void rules_watches(struct rules *R, uint64_t pos, uint64_t ns)
{
    run_watches(R, pos, ns);
}

void rules_end(struct rules *R, uint64_t pos, uint64_t ns)
{
    for (uint32_t i = 0; i < R->st->nthreads; i++) {
        struct state_thread *t = &R->st->threads[i];
        if (t->wait.pos == UINT64_MAX)
            continue;
        rules_batch_end(R, t, pos, ns);
        /* listeners left short of EAGAIN by the last batch: the next event never came */
        struct tnote *tn = tnote_of(R, t);
        accept_batch_end(R, t, tn, pos, 1);
    }
    /* every socket still watched is judged now, once: what it would wait for next has no
     * trace left to happen in */
    size_t n = R->nw, head = R->whead, cap = R->wcap;
    struct watch *w = R->w;
    R->w = NULL;
    R->nw = R->wcap = R->whead = 0;
    for (size_t i = 0; i < n; i++)
        judge_watch(R, w[(head + i) & (cap - 1)], pos, ns, 1);
    free(w);
    R->nw = R->whead = 0;
    R->due = UINT64_MAX;
}
