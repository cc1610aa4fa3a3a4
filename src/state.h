/* state.h - the model of one traced process at one record: its open files by identity, the
 * fd numbers naming them, the registrations of each epoll set, and each thread's last
 * epoll_wait batch with what was done for each of its events.
 *
 * state_apply() moves the model forward by one record. It is the one place that turns
 * records into state: the replay (src/replay.c) keeps copies of it to seek, the rules
 * (src/rules.c) read it to judge, and the viewer shows it. It relies on system calls only:
 *
 *   - identity: a file (socket, epoll fd, pipe...) gets a sid when a call creates it
 *     (socket, accept, epoll_create) or when a record first names it; dup gives a second
 *     number for the same sid; close of the last number drops the file. The fd table, built
 *     from those calls, decides what a number names; a record's own sid is used only for a
 *     number the table does not know.
 *   - roles come from the calls: listen (or accept on it) makes a listener, accept a
 *     client ("accepted"), connect a backend ("connected"); epoll fds are epoll; anything
 *     else registered is "other".
 *   - registrations are per epoll set, keyed like the kernel's by (set, fd number, file),
 *     with the trigger flags each epoll_ctl passed.
 *   - handling: after a thread's epoll_wait, a call on the fd of event k is part of the
 *     handling of event k, and the first such call begins it (handle records, which only the
 *     proxy writes, say so directly). The thread's next epoll_wait ends the batch.
 *   - pairing: the other socket of a connection comes from the data flow (a thread read
 *     bytes from one socket, then wrote to another) or the proxy's connection ids.
 */
#ifndef EPSCOPE_STATE_H
#define EPSCOPE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "ept.h"
#include "idmap.h"

#define STATE_REGS 4           /* registrations kept per file (beyond: counted, not kept) */

/* What the program last learned from reading a socket. */
enum state_learned {
    STATE_NOTHING = 0,
    STATE_DATA,                /* a read returned bytes */
    STATE_EAGAIN,              /* a read returned EAGAIN */
    STATE_EOF,                 /* a read returned 0 */
    STATE_ERROR,               /* a read or write failed otherwise */
};

/* One registration of a file in an epoll set. */
struct state_reg {
    uint32_t set;              /* the epoll set: sid of its epoll fd */
    int32_t fd;                /* the number it was registered under */
    uint32_t interest;         /* events as last passed to epoll_ctl, EPOLLET... included */
    uint32_t last_ready;       /* revents of its last event */
    uint8_t armed;             /* may fire: not a one-shot that fired since its ADD/MOD */
    uint8_t fd_closed;         /* its number was closed; a dup keeps the file registered */
    uint16_t pad;
    uint32_t pad2;
    uint64_t changed;          /* position of its last ADD/MOD or event */
};

/* One open file the trace has seen (a socket, mostly), by identity. */
struct state_sock {
    uint32_t sid;
    int32_t fd;                /* the number it was created or last named by */
    uint32_t conn;             /* the proxy's connection id, 0: none or not written */
    uint32_t peer;             /* sid of its connection's other socket, 0: unknown */
    uint8_t role;              /* EPT_ROLE_*, from the calls */
    uint8_t kind;              /* EPT_FD_* when known */
    uint8_t nregs;             /* entries in reg[] */
    uint8_t nfds;              /* numbers naming it now */
    uint8_t learned;           /* enum state_learned */
    uint8_t eof;               /* a read returned 0 */
    uint8_t wr_shut;           /* shutdown(SHUT_WR or SHUT_RDWR) done */
    uint8_t connecting;        /* connect() said EINPROGRESS, no completion seen yet */
    uint8_t uncertain;         /* records were lost since it appeared: state may be wrong */
    uint8_t out_pending;       /* its last write moved less than asked (short or EAGAIN) */
    uint8_t paused;            /* listener: the proxy said it stopped accepting */
    uint8_t nonblock;          /* a call on it said EAGAIN: its reads never wait */
    int32_t unread;            /* at the close of its last number: bytes left unread, -1:
                                  not known (set just before it is dropped) */
    uint8_t queue_kind;        /* EPT_QUEUE_* of the proxy's note of what the kernel held
                                  when a handler left it, until its next read or accept;
                                  0: none */
    uint32_t queued;           /* that note: bytes unread, or connections waiting */
    uint32_t queue_max;        /* a listener's backlog limit, from the same note */
    /* the first registration, for panes that show one per file */
    uint8_t in_set, armed;
    uint16_t backend;          /* the proxy's backend index (connected sockets) */
    uint32_t interest, last_ready;
    int32_t last_read, last_write;
    uint32_t note;             /* the rules' notes about it (their index + 1), 0: none */
    /* its index in state.socks (it does not move while it lives) */
    uint32_t slot;
    uint64_t bytes_in;         /* read from it */
    uint64_t bytes_out;        /* written to it */
    uint64_t opened;           /* position where it appeared */
    uint64_t changed;          /* position of the last record that changed it */
    uint64_t ev_wait;          /* position of the last epoll_wait that reported it */
    uint32_t ev_tid;           /* the thread of that wait */
    uint32_t ev_index;         /* its first event in that batch */
    struct ept_addr addr;      /* accepted: the peer; connected: where to; listener: own */
    struct state_reg reg[STATE_REGS];
};

/* One event of a batch, and what the handling did about it so far. */
struct state_event {
    uint32_t sid;
    int32_t fd;
    uint32_t events;           /* revents */
    uint8_t role;
    uint8_t begun;             /* a handle record, or a call on its fd, began its handling */
    uint8_t stale;             /* handled after its file was closed earlier in the batch */
    uint8_t closed;            /* its file was closed while the batch was handled */
    uint32_t reads, writes, accepts, eagains;
    uint64_t bytes_read, bytes_written;
    int32_t first_read;        /* result of the first read of it, valid when has_read */
    int32_t last_read;         /* and of the last */
    uint8_t has_read;
    uint8_t eof;               /* a read of it returned 0 */
    uint16_t pad;
    int32_t next_same;         /* the next event of the same file in the batch, -1 none */
    uint32_t slot;             /* where its file lives in state.socks (check the sid) */
};

/* A thread's last epoll_wait: the batch it returned and which event is being handled. */
struct state_wait {
    uint64_t pos;              /* of the epoll_wait record; UINT64_MAX before the first */
    uint64_t ns;               /* when it returned */
    uint64_t blocked_ns;
    uint32_t tid;
    uint32_t set;              /* sid of the epoll fd waited on */
    int32_t epfd;
    int32_t result;
    int32_t timeout;
    int32_t current;           /* index being handled, -1 before the first */
    uint32_t n;                /* events in ev[] */
    uint32_t cap;
    uint8_t handles;           /* handle records came in this batch: no inference */
    uint8_t lost;              /* records were lost since this wait: what its handlers did
                                  (and which batch a handle record is of) is not known */
    uint8_t pad[2];
    uint32_t accepts; /* accept calls of its events' handling (0: the rules on
                                  listeners have nothing to look at) */
    struct state_event *ev;
};

struct state_thread {
    uint32_t tid;
    uint32_t last_read_sid;    /* the socket its last successful read since its wait was of */
    /* where that socket lived then (a hint: check the sid) */
    uint32_t last_read_slot;
    uint64_t reads_ok;         /* successful reads so far (a clock for "since") */
    /* time of its last record (a LOST record, which says what the recorder dropped, is
     * not the thread's) */
    uint64_t last_ns;
    struct state_wait wait;
};

struct state;

/* Observers of the analysis pass: called by state_apply at moments the rules judge. */
struct state_hooks {
    void *arg;
    /* thread t's batch ends: its next epoll_wait (record pos) is about to replace it */
    void (*batch_end)(void *arg, struct state *st, struct state_thread *t, uint64_t pos,
                      uint64_t ns);
    /* the last number naming s is being closed (record pos): s is about to be dropped */
    void (*drop)(void *arg, struct state *st, struct state_sock *s, uint64_t pos,
                 uint64_t ns);
};

struct state {
    /* live files in slots that do not move while the file lives (free ones have sid 0) */
    struct state_sock *socks;
    uint32_t nslots, cap;      /* slots in use or freed, and room */
    uint32_t nsocks;           /* live files */
    uint32_t *free;            /* freed slots, reused first */
    uint32_t nfree, freecap;
    struct idmap slot;         /* sid -> slot */
    /* fd number -> slot + 1 of the file it names (0: none): an array for the small numbers
     * programs use, a map for the rest (a trace may name any number) */
    uint32_t *fdslot;
    uint32_t nfdslot;
    struct idmap fds;
    struct idmap conns;        /* the proxy's connection id -> sid of its first socket */
    struct state_thread *threads;
    uint32_t nthreads, tcap;
    uint32_t cur;              /* index of the thread of the last record */
    uint32_t next_sid;         /* identities made up for files no record named */
    uint32_t max_sid;          /* the highest sid a record carried */
    uint32_t regs_dropped;     /* registrations beyond STATE_REGS, not kept */
    uint8_t gap;               /* records were lost: files first seen now are uncertain */
    struct idmap dead;         /* after a gap: sids seen to die (a sid not alive and not
                                  here may be a file made where records were lost) */
    struct idmap tids;         /* thread id -> index in threads */
    uint64_t pos;              /* the last record applied; UINT64_MAX before the first */
    /* what the last record applied was about, valid until the next state_apply: the file
     * (an accept's listener), and its event in the thread's batch */
    uint32_t touched;          /* its sid, 0: none */
    uint32_t touched_slot;
    struct state_event *touched_ev;
    struct state_reg *touched_reg; /* after a ready record about a live file: the
                                      registration it came through (NULL: none known) */
    const struct state_hooks *hooks;
};

void state_init(struct state *st);
void state_free(struct state *st);
/* Make dst an independent copy of src (both initialised); hooks are not copied. */
void state_copy(struct state *dst, const struct state *src);
/* Bytes the state holds (for checkpoint budgets). */
size_t state_bytes(const struct state *st);

/* One record type's work on the model: state.c has one function per type (apply_handle,
 * io, wait_begin...) in state_appliers, indexed by type; types the model learns nothing
 * from have none. t is the thread that made the record. */
typedef void state_apply_fn(struct state *st, struct state_thread *t, const struct ept_rec *rec,
                            uint64_t pos);
extern state_apply_fn *const state_appliers[EPT_TYPE_COUNT];
/* The thread with id tid, made on its first record; it becomes the current one. */
struct state_thread *state_thread_find(struct state *st, uint32_t tid);

/* Move the model forward by record rec at position pos; returns the thread that made it.
 * Inline: the analysis runs it for every record, and most records are by the thread of the
 * record before (checked first). */
static inline struct state_thread *state_apply(struct state *st, const struct ept_rec *rec,
                                               uint64_t pos)
{
    struct state_thread *t;
    unsigned type = rec->type;
    if (__builtin_expect(st->cur < st->nthreads && st->threads[st->cur].tid == rec->tid, 1))
        t = &st->threads[st->cur];
    else
        t = state_thread_find(st, rec->tid);
    st->pos = pos;
    st->touched = 0;
    st->touched_slot = 0;
    st->touched_ev = NULL;
    st->touched_reg = NULL;
    /* the thread's time, but not a LOST record's (the recorder's word, not the thread's),
     * and an epoll_wait's only once its batch has ended at the time before (wait_begin) */
    if (type != EPT_EPOLL_WAIT && type != EPT_LOST)
        t->last_ns = rec->ns;
    if (type < EPT_TYPE_COUNT && state_appliers[type]) /* a newer writer's types: skipped */
        state_appliers[type](st, t, rec, pos);
    return t;
}

/* Records are missing here (lost, or in a damaged block): what the model holds may be wrong,
 * and files first seen after it have an unknown past. */
void state_gap(struct state *st);

/* The live file with identity sid, or NULL. */
static inline struct state_sock *state_sock(const struct state *st, uint32_t sid)
{
    uint32_t i; /* inline: the model and the rules ask it several times a record */
    return sid && idmap_get(&st->slot, sid, &i) ? &st->socks[i] : NULL;
}
/* state_sock, trying first the slot where sid lived when last seen: slots do not move
 * while their file lives, and a freed slot's sid is 0. */
static inline struct state_sock *state_sock_hint(const struct state *st, uint32_t sid,
                                                 uint32_t slot)
{
    if (sid && slot < st->nslots && st->socks[slot].sid == sid)
        return &st->socks[slot];
    return state_sock(st, sid);
}
/* The file the number fd names now, or NULL. */
struct state_sock *state_fd(const struct state *st, int32_t fd);
/* The thread with id tid, or NULL if it never made a call. */
struct state_thread *state_thread(const struct state *st, uint32_t tid);
/* The thread of the last record applied (NULL before any). */
static inline struct state_thread *state_current(const struct state *st)
{
    return st->cur < st->nthreads ? &st->threads[st->cur] : NULL;
}
/* The file the last record applied was about (an accept's listener), or NULL. */
static inline struct state_sock *state_touched(const struct state *st)
{
    struct state_sock *s = st->touched && st->touched_slot < st->nslots
                               ? &st->socks[st->touched_slot] : NULL;
    return s && s->sid == st->touched ? s : NULL;
}
/* The live file an event of a batch was about, or NULL once it is gone. */
static inline struct state_sock *state_event_sock(const struct state *st,
                                                  const struct state_event *e)
{
    struct state_sock *s = e->slot < st->nslots ? &st->socks[e->slot] : NULL;
    return s && s->sid && s->sid == e->sid ? s : NULL;
}
/* s's registration in set under number fd (fd < 0: any number), or NULL. Inline, as the
 * two below: the model and the rules ask them for most records. */
static inline struct state_reg *state_reg(struct state_sock *s, uint32_t set, int32_t fd)
{
    for (uint32_t i = 0; i < s->nregs; i++)
        if (s->reg[i].set == set && (fd < 0 || s->reg[i].fd == fd))
            return &s->reg[i];
    return NULL;
}
/* The event of s in t's current batch (preferring the one registered under fd, if fd >= 0),
 * or NULL when that batch did not report s. */
struct state_event *state_event_of(const struct state_thread *t, const struct state_sock *s,
                                   int32_t fd);
/* Whether the registration is edge-triggered without one-shot, and level-triggered. */
static inline int state_reg_is_edge(const struct state_reg *g)
{
    return (g->interest & EPOLLET) && !(g->interest & EPOLLONESHOT);
}
static inline int state_reg_is_level(const struct state_reg *g)
{
    return !(g->interest & EPOLLET);
}

#endif
