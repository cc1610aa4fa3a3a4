/* policy.h - the three trigger modes side by side: what each registers with epoll, when it
 * re-arms, whether its handlers drain, and what it must remember between events.
 *
 *                     level                edge                  edge-oneshot
 *   registers         what it waits for    IN|OUT|RDHUP, once    what it waits for next
 *   flags             -                    EPOLLET               EPOLLET|EPOLLONESHOT
 *   EPOLL_CTL_MOD     when the wish        never                 after every event
 *                     changes                                    (the kernel disarmed it)
 *   reads per event   one (the kernel      until EAGAIN, a       until EAGAIN, a short
 *                     will say it again)   short read, or a      read, or a full buffer
 *                                          full buffer
 *   readiness         forgotten after      remembered until      remembered until
 *                     each event           EAGAIN                EAGAIN
 *   backpressure      drop EPOLLIN (MOD)   stop reading,         do not re-arm EPOLLIN
 *                                          remember readable
 *   reads per socket  one                  16 buffers, then the other ready sockets
 *   per turn                               get a turn and it is served again after the
 *                                          batch, without a new event (fairness)
 *   accepts per       16 (the kernel       until EAGAIN          (listeners are level
 *   listener event    will say again)                            or edge)
 */
#ifndef EPSCOPE_POLICY_H
#define EPSCOPE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "ept.h"

struct policy {
    const char *name;
    uint8_t mode;      /* EPT_MODE_* */
    uint32_t flags;    /* added to every registration */
    bool register_all; /* register IN|OUT|RDHUP once and never change it */
    bool oneshot;      /* the kernel disarms after each event: re-arm with MOD */
    bool drain;        /* read until EAGAIN / short read / full buffer (else: one read) */
    bool remember;     /* keep readiness between events until EAGAIN */
    unsigned reads;    /* draining: reads of one socket per turn, 0: no limit */
    unsigned accepts;  /* listener: accepts per event, 0: until EAGAIN */
    /* the faults' deviations (fault.c), all off in the table below */
    bool sticky_out;   /* sticky-epollout: EPOLLOUT never removed */
    bool never_rearm;  /* no-rearm: a fired one-shot socket is never re-armed */
    bool reread_eof;   /* ignore-eof: a socket at end-of-file stays registered and read */
};

/* What a socket's registration is now. */
struct policy_reg {
    bool in_set;       /* added to the epoll set */
    bool armed;        /* one-shot: not yet fired since the last ADD/MOD */
    uint32_t events;   /* as last passed to epoll_ctl */
};

enum policy_op { POLICY_KEEP = 0, POLICY_ADD, POLICY_MOD, POLICY_DEL };

/* The policy of a mode (EPT_MODE_LEVEL, _EDGE or _ONESHOT). */
const struct policy *policy_get(unsigned mode);

/* The events a socket should be registered with, given what it waits for now. */
uint32_t policy_events(const struct policy *p, bool want_in, bool want_out);

/* Which epoll_ctl brings reg to want (the result of policy_events). hup: the socket has
 * reported EPOLLHUP, which level mode cannot mask, so level DELs it while it waits for
 * nothing rather than be woken again and again. */
enum policy_op policy_sync(const struct policy *p, const struct policy_reg *reg, uint32_t want,
                           bool hup);

#endif
