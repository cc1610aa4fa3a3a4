/* fault.h - the proxy's deliberate mistakes (--fault): each a small, named deviation from
 * the correct event loop of proxy.c, made through the hooks below, so that the loop reads
 * correct and each mistake reads on its own. */
#ifndef EPSCOPE_FAULT_H
#define EPSCOPE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* Mistakes the proxy can commit on purpose, each in the mode that shows it. */
enum fault_id {
    FAULT_NONE = 0,
    FAULT_MISTRIGGER,      /* edge-oneshot: the origin's wrong flags on the backend socket */
    FAULT_NO_DRAIN,        /* edge: one read per event */
    FAULT_NO_REARM,        /* edge-oneshot: never re-arms a socket after it fired */
    FAULT_STICKY_EPOLLOUT, /* level: EPOLLOUT never removed */
    FAULT_IGNORE_EOF,      /* level: keeps reading a socket after EOF */
    FAULT_ACCEPT_ONCE,     /* edge listener: one accept per event */
    FAULT_STALE_EVENT,     /* level: closes at the first EOF, handles events of closed fds */
    FAULT_DOUBLE_REGISTER, /* level: each client socket registered twice (a dup'd fd) */
    FAULT_CLOSED_FD,       /* level: a dup'd client socket closed without EPOLL_CTL_DEL */
    FAULT_RDHUP_LOSS,      /* level: closes on EPOLLRDHUP before reading what came with it */
    FAULT_LOST_OUT_EDGE,   /* edge: if (EPOLLIN) ... else if (EPOLLOUT): the OUT edge lost */
    FAULT_EDGE_HOG,        /* edge: one socket read until EAGAIN while the others wait */
    FAULT_COUNT
};

struct proxy;
struct conn;
struct psock;

/* A fault: its name, the mode it shows in, and the hooks where it leaves the correct loop
 * (NULL: the loop does the right thing there). */
struct fault {
    const char *name;
    unsigned mode;          /* EPT_MODE_*; for accept-once the listener's mode */
    const char *help;       /* one line for --fault help and the trace's note */
    /* change the policies the proxy runs with (connection sockets, listener) */
    void (*policy)(struct policy *conn, struct policy *listener);
    /* a client connection was accepted and set up */
    void (*accepted)(struct proxy *p, struct conn *k);
    /* s was just registered / modified / removed with epoll_ctl(op) */
    void (*ctl)(struct proxy *p, struct psock *s, int op, uint32_t events);
    /* the events to register s with, given what it waits for (reg: what the policy will
     * believe the registration is) */
    uint32_t (*interest)(struct proxy *p, struct conn *k, struct psock *s, bool in, bool out,
                         struct policy_reg *reg);
    /* the events of an event for an open connection socket that its handler looks at */
    uint32_t (*filter)(struct proxy *p, struct conn *k, struct psock *s, uint32_t ev);
    /* an event for an open connection socket, after the socket noted what it says; true:
     * the fault handled it, the loop does nothing more */
    bool (*event)(struct proxy *p, struct conn *k, struct psock *s, uint32_t ev);
    /* after the loop moved the connection's bytes */
    void (*pumped)(struct proxy *p, struct conn *k);
    /* an event for a socket already closed (earlier in the batch, or a zombie's) */
    void (*stale)(struct proxy *p, struct psock *s, uint32_t ev, uint32_t index);
    /* s (which has a second number, dup_fd) is being closed */
    void (*closing)(struct proxy *p, struct psock *s, unsigned reason);
    /* the proxy stops: let go of what the fault kept */
    void (*teardown)(struct proxy *p);
};

/* The fault with this id (FAULT_NONE: no hooks at all). */
const struct fault *fault_get(unsigned id);
const char *fault_name(unsigned id);
const char *fault_help(unsigned id);
unsigned fault_mode(unsigned id);
/* The id of a fault name, or -EINVAL. */
int fault_parse(const char *name);

#endif
