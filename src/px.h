/* px.h - the proxy's insides, shared by its event loop (proxy.c) and its deliberate
 * mistakes (fault.c) and by nothing else: a connection, its two sockets, the loop's state,
 * and the recorded system-call wrappers a fault uses to deviate from the correct loop.
 */
#ifndef EPSCOPE_PX_H
#define EPSCOPE_PX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "policy.h"
#include "proxy.h"
#include "tlist.h"

enum conn_state { CONN_CONNECTING = 1, CONN_OPEN, CONN_CLOSED };

struct buf {
    uint8_t *p;     /* NULL while empty: idle connections hold no buffer memory */
    uint32_t off;   /* first unsent byte */
    uint32_t len;   /* bytes waiting */
};

struct psock {
    struct ept_sock id;     /* fd, sid, conn, role: what the trace calls this socket */
    struct policy_reg reg;  /* what epoll has for it */
    bool open;
    bool can_read;          /* the kernel said readable and no EAGAIN since */
    bool can_write;         /* not known to be full */
    bool eof;               /* read returned 0 */
    bool wr_shut;           /* we sent our FIN (shutdown SHUT_WR) */
    bool hup;               /* EPOLLHUP seen */
    bool rdhup;             /* EPOLLRDHUP seen: the peer's FIN is queued behind the data */
    int dup_fd;             /* a fault's second number for this socket, -1: none */
};

struct conn {
    struct psock c, b;      /* client, backend */
    struct buf up, down;    /* client -> backend, backend -> client */
    uint8_t state;
    uint8_t attempt;
    bool zombie;            /* a fault keeps it after its close (see free_closed) */
    int backend;            /* index, -1 when none */
    uint64_t tried;         /* backends tried, bit per index */
    struct tlist_node timer;  /* on connect_q or idle_q (every open conn is on one) */
    struct conn *next;      /* free list / closed-in-this-batch list / zombies */
    struct conn *pprev, *pnext; /* the pending list: served again after the batch */
    bool pending;
    struct sockaddr_storage peer;
    uint32_t fault_state;   /* whatever the fault keeps per connection */
};


struct fault;

struct proxy {
    struct proxy_config *cfg;
    const struct fault *fault;  /* the deliberate mistake's hooks (fault.c) */
    struct policy lpol;         /* the listener's policy */
    struct policy cpol;         /* the connection sockets', with a fault's changes */
    int ep;
    struct psock lsock;
    bool lpaused_full;          /* at --max-conns */
    uint64_t lresume_at;        /* after EMFILE: when to try again (0: not paused) */
    struct trace *tr;
    FILE *story;
    uint32_t next_sid, next_conn;
    unsigned nconns;
    struct conn *free_conns, *closed, *zombies;
    struct conn *pending;       /* readable sockets left for after the batch (fairness) */
    uint8_t **pool;             /* idle buffers, at most BUF_POOL_BYTES of them (proxy.c) */
    unsigned npool;
    uint64_t trim_at;           /* when to give the pool back if no connection is left */
    struct tlist connect_q, idle_q;
    uint64_t now;
    uint64_t conns_total, bytes_up, bytes_down;
    struct epoll_event *events;
};

/* The recorded system calls (each one traced as it returns). */
void px_ctl(struct proxy *p, struct psock *s, int op, uint32_t events);
long px_read(struct proxy *p, struct psock *s, uint8_t *buf, size_t n);
long px_write(struct proxy *p, struct psock *s, const uint8_t *buf, size_t n);
void px_close(struct proxy *p, struct psock *s, unsigned reason, bool reset);

/* A buffer from the pool (NULL when out of memory). */
uint8_t *px_buf_get(struct proxy *p);
/* The connection that socket s belongs to. */
struct conn *px_conn_of(struct psock *s);
/* Close both sockets of k and free it once the batch is done. */
void px_finish(struct proxy *p, struct conn *k, unsigned reason);
/* Bring s's registration to what the policy wants for it now. */
void px_sync(struct proxy *p, struct conn *k, struct psock *s);
/* A zombie connection is done with: free it. */
void px_release(struct proxy *p, struct conn *k);

#endif
