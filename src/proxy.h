/* proxy.h - the epoll reverse proxy: one event loop, level / edge / edge-oneshot, every
 * epoll event recorded through the trace recorder. */
#ifndef EPSCOPE_PROXY_H
#define EPSCOPE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "balance.h"
#include "net.h"

/* Mistakes the proxy can commit on purpose (--fault), each in the mode that shows it. */
enum proxy_fault {
    FAULT_NONE = 0,
    FAULT_MISTRIGGER,      /* edge-oneshot: the origin's wrong flags on the backend socket */
    FAULT_NO_DRAIN,        /* edge: one read per event */
    FAULT_NO_REARM,        /* edge-oneshot: never re-arms a socket after it fired */
    FAULT_STICKY_EPOLLOUT, /* level: EPOLLOUT never removed */
    FAULT_IGNORE_EOF,      /* level: keeps reading a socket after EOF */
    FAULT_ACCEPT_ONCE,     /* edge listener: one accept per event */
    FAULT_STALE_EVENT,     /* level: closes at the first EOF, handles events of closed fds */
    FAULT_DOUBLE_REGISTER, /* level: each client socket registered twice (a dup'd fd) */
    FAULT_COUNT
};

struct proxy_config {
    struct net_addr listen;
    struct balance bal;
    unsigned mode;            /* EPT_MODE_LEVEL, _EDGE, _ONESHOT */
    unsigned listener_mode;   /* EPT_MODE_LEVEL or _EDGE */
    const char *trace_path;   /* NULL: no trace */
    int force;
    size_t ring_size;
    unsigned preview;
    int story;                /* narrate to stderr */
    unsigned max_conns;
    unsigned connect_timeout_ms;
    unsigned idle_timeout_ms; /* 0: none */
    unsigned down_ms;         /* how long a failed backend is skipped */
    size_t buffer;            /* bytes per direction per connection */
    unsigned max_events;
    int backlog;
    int sndbuf;               /* SO_SNDBUF of client sockets, 0: the kernel's auto-tuning */
    unsigned fault;           /* enum proxy_fault */
    const char *config_text;  /* for the trace header */
};

/* Run until SIGINT/SIGTERM. Prints "listening on ADDR" on stdout once listening. Returns
 * the process exit status (0 after a clean stop). */
int proxy_run(struct proxy_config *cfg);

/* Fault names and the one-line descriptions `--fault help` prints. */
const char *proxy_fault_name(unsigned fault);
const char *proxy_fault_help(unsigned fault);
/* The mode a fault needs (EPT_MODE_*); for accept-once that is the listener's mode. */
unsigned proxy_fault_mode(unsigned fault);
int proxy_fault_parse(const char *s);

#endif
