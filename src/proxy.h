/* proxy.h - the epoll reverse proxy: one event loop, level / edge / edge-oneshot, every
 * epoll event recorded through the trace recorder; with --workers N, N such loops in N
 * processes under a master (workers.c). */
#ifndef EPSCOPE_PROXY_H
#define EPSCOPE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "balance.h"
#include "fault.h"
#include "net.h"

/* How the workers share the listening address (--accept). */
enum proxy_accept {
    PROXY_ACCEPT_SHARED = 0, /* one socket in every worker's set: all wake (the herd) */
    PROXY_ACCEPT_EXCLUSIVE,  /* the same, registered with EPOLLEXCLUSIVE: one wakes */
    PROXY_ACCEPT_REUSEPORT,  /* a socket per worker (SO_REUSEPORT): the kernel spreads */
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
    unsigned connect_tries;   /* connect attempts per client, over backends, before giving up */
    unsigned max_fails;       /* failed connects within fail_window_ms that take a backend out */
    unsigned fail_window_ms;
    unsigned down_ms;         /* how long a backend taken out is skipped */
    size_t buffer;            /* bytes per direction per connection */
    unsigned max_events;
    int backlog;
    int sndbuf;               /* SO_SNDBUF of client sockets, 0: the kernel's auto-tuning */
    unsigned fault;           /* enum fault_id (fault.h) */
    const char *config_text;  /* for the trace header */
    unsigned workers;         /* event loops (processes); 1: this process is the loop */
    unsigned accept;          /* enum proxy_accept */
    int worker;               /* this loop's number under a master, -1: no master */
    int listen_fd;            /* a listening socket made by the master, -1: make one */
    const char *name;         /* for messages: "epscope proxy" or "... worker N" */
};

/* Run until SIGINT/SIGTERM. Prints "listening on ADDR" on stdout once listening. Returns
 * the process exit status (0 after a clean stop). */
int proxy_run(struct proxy_config *cfg);

/* The accept mode's name ("shared", "exclusive", "reuseport"), or NULL. */
const char *proxy_accept_name(unsigned accept);
/* The accept mode named s, or -1. */
int proxy_accept_parse(const char *s);

#endif
