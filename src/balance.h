/* balance.h - choosing a backend: round robin, least connections, client-address hash and
 * power-of-two random choices, all weighted, with passive health: a backend is taken out for
 * a while after max_fails failed connects within a window (nginx's max_fails/fail_timeout),
 * and when every backend is out they are tried anyway, never leaving clients with none. */
#ifndef EPSCOPE_BALANCE_H
#define EPSCOPE_BALANCE_H

#include <stdint.h>
#include <sys/socket.h>

#include "ept.h"
#include "net.h"

#define BALANCE_MAX 64 /* backends; a connection's tried set is a 64-bit mask */

struct backend {
    struct net_addr addr;
    char name[64];        /* as given on the command line */
    unsigned weight;      /* >= 1 */
    unsigned active;      /* connections using it now */
    uint64_t down_until;  /* ns; 0 when up */
    unsigned fails;       /* failed connects since fail_since */
    uint64_t fail_since;  /* ns: when the current failure window opened */
    int64_t current;      /* smooth weighted round robin state (roundrobin, leastconn ties) */
    uint64_t picks;       /* times chosen */
};

struct balance {
    struct backend b[BALANCE_MAX];
    unsigned n;
    unsigned algo;        /* EPT_ALGO_* */
    uint64_t rng;         /* xorshift state */
    unsigned max_fails;   /* failures within fail_window_ns that take a backend out (>= 1) */
    uint64_t fail_window_ns;
    uint64_t down_ns;     /* how long it stays out */
};

/* Parse "roundrobin", "leastconn", "hash", "random2"; -EINVAL when unknown. */
int balance_algo_parse(const char *s);
void balance_init(struct balance *bl, unsigned algo, uint64_t seed);
/* Add "ADDR:PORT[,weight=N]"; returns 0 or -EINVAL / -ENOSPC with a reason in err. */
int balance_add(struct balance *bl, const char *spec, char *err, size_t errlen);
/* Set passive health: max_fails failures within window_ns mark a backend down for down_ns
 * (balance_init sets 1 failure, no window, 5 s down). */
void balance_health(struct balance *bl, unsigned max_fails, uint64_t window_ns,
                    uint64_t down_ns);
/* Choose a backend for a client at address peer, skipping those in tried (bit i = index i)
 * and those marked down until after now; when every untried backend is down, choose among
 * them anyway (the last one standing is never taken away). Returns the index, or -1 when
 * every backend was tried. The chosen backend's active count is incremented. *revived is
 * set to the index of a backend whose down time had run out and that is considered up
 * again (or -1). */
int balance_pick(struct balance *bl, const struct sockaddr *peer, uint64_t tried, uint64_t now,
                 int *revived);
/* A connection using backend i ended. */
void balance_release(struct balance *bl, int i);
/* Backend i failed to connect: down until now + down_ns. */
void balance_mark_down(struct balance *bl, int i, uint64_t now, uint64_t down_ns);
/* Count a failed connect to backend i; returns 1 when this failure marks it down (its
 * max_fails-th within the window), else 0. */
int balance_fail(struct balance *bl, int i, uint64_t now);
/* A connect to backend i succeeded: its failures are forgiven; returns 1 when it was
 * marked down (it is up again), else 0. */
int balance_ok(struct balance *bl, int i);

#endif
