/* balance.h - choosing a backend: round robin, least connections, client-address hash and
 * power-of-two random choices, all weighted, with passive health (down for a while after a
 * failed connect). */
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
    int64_t current;      /* smooth weighted round robin state */
    uint64_t picks;       /* times chosen */
};

struct balance {
    struct backend b[BALANCE_MAX];
    unsigned n;
    unsigned algo;        /* EPT_ALGO_* */
    uint64_t rng;         /* xorshift state */
    unsigned next;        /* leastconn tie-break rotation */
};

/* Parse "roundrobin", "leastconn", "hash", "random2"; -EINVAL when unknown. */
int balance_algo_parse(const char *s);
void balance_init(struct balance *bl, unsigned algo, uint64_t seed);
/* Add "ADDR:PORT[,weight=N]"; returns 0 or -EINVAL / -ENOSPC with a reason in err. */
int balance_add(struct balance *bl, const char *spec, char *err, size_t errlen);
/* Choose a backend for a client at address peer, skipping those in tried (bit i = index i)
 * and those marked down until after now. Returns the index, or -1 when none is left. The
 * chosen backend's active count is incremented. *revived is set to the index of a backend
 * whose down time had run out and that is considered up again (or -1). */
int balance_pick(struct balance *bl, const struct sockaddr *peer, uint64_t tried, uint64_t now,
                 int *revived);
/* A connection using backend i ended. */
void balance_release(struct balance *bl, int i);
/* Backend i failed to connect: down until now + down_ns. */
void balance_mark_down(struct balance *bl, int i, uint64_t now, uint64_t down_ns);

#endif
