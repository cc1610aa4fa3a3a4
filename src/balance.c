/* balance.c - the load-balancing algorithms and passive health. */
#include "balance.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int balance_algo_parse(const char *s)
{
    static const char *names[] = {"roundrobin", "leastconn", "hash", "random2"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    if (!strcmp(s, "rr") || !strcmp(s, "round-robin"))
        return EPT_ALGO_ROUNDROBIN;
    return -EINVAL;
}

void balance_init(struct balance *bl, unsigned algo, uint64_t seed)
{
    memset(bl, 0, sizeof(*bl));
    bl->algo = algo;
    bl->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    bl->max_fails = 1;
    bl->down_ns = 5000000000ull;
}

void balance_health(struct balance *bl, unsigned max_fails, uint64_t window_ns,
                    uint64_t down_ns)
{
    bl->max_fails = max_fails ? max_fails : 1;
    bl->fail_window_ns = window_ns;
    bl->down_ns = down_ns;
}

int balance_add(struct balance *bl, const char *spec, char *err, size_t errlen)
{
    char addr[300];
    unsigned weight = 1;
    const char *comma = strchr(spec, ',');
    size_t alen = comma ? (size_t)(comma - spec) : strlen(spec);
    if (bl->n >= BALANCE_MAX) {
        snprintf(err, errlen, "at most %d backends", BALANCE_MAX);
        return -ENOSPC;
    }
    if (alen >= sizeof(addr)) {
        snprintf(err, errlen, "backend address too long");
        return -EINVAL;
    }
    memcpy(addr, spec, alen);
    addr[alen] = 0;
    if (comma) {
        char *end;
        if (strncmp(comma + 1, "weight=", 7) != 0) {
            snprintf(err, errlen, "'%s': expected ADDR:PORT[,weight=N]", spec);
            return -EINVAL;
        }
        long w = strtol(comma + 8, &end, 10);
        if (*end || w < 1 || w > 1000) {
            snprintf(err, errlen, "'%s': weight must be 1 to 1000", spec);
            return -EINVAL;
        }
        weight = (unsigned)w;
    }
    struct backend *b = &bl->b[bl->n];
    memset(b, 0, sizeof(*b));
    if (net_parse(addr, &b->addr, err, errlen) < 0)
        return -EINVAL;
    if (net_port(&b->addr) == 0) { /* fine for a listener (any free port), not for a peer */
        snprintf(err, errlen, "'%s': port 0 cannot be connected to; a backend needs its port",
                 addr);
        return -EINVAL;
    }
    snprintf(b->name, sizeof(b->name), "%.63s", addr);
    b->weight = weight;
    bl->n++;
    return 0;
}

static uint64_t rnd(struct balance *bl)
{
    uint64_t x = bl->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return bl->rng = x;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The client's address (not its port): the same client always hashes the same way. */
static uint64_t client_key(const struct sockaddr *peer)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = NULL;
    size_t n = 0;
    if (peer && peer->sa_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
        n = 4;
    } else if (peer && peer->sa_family == AF_INET6) {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* a carries less load per weight than b */
static int lighter(const struct backend *a, const struct backend *b)
{
    return (uint64_t)a->active * b->weight < (uint64_t)b->active * a->weight;
}

/* One of the nc candidates drawn with probability proportional to its weight, never
 * except (-1: none excluded; at least one other candidate must exist). */
static int weighted_draw(struct balance *bl, const int *cand, int nc, int except)
{
    uint64_t total = 0;
    for (int k = 0; k < nc; k++)
        if (cand[k] != except)
            total += bl->b[cand[k]].weight;
    uint64_t r = rnd(bl) % total;
    for (int k = 0; k < nc; k++) {
        if (cand[k] == except)
            continue;
        if (r < bl->b[cand[k]].weight)
            return cand[k];
        r -= bl->b[cand[k]].weight;
    }
    return cand[nc - 1] != except ? cand[nc - 1] : cand[0]; /* not reached */
}

int balance_pick(struct balance *bl, const struct sockaddr *peer, uint64_t tried, uint64_t now,
                 int *revived)
{
    int cand[BALANCE_MAX], nc = 0, best = -1;
    *revived = -1;
    for (unsigned i = 0; i < bl->n; i++) {
        struct backend *b = &bl->b[i];
        if (tried & (1ull << i))
            continue;
        if (b->down_until) {
            if (b->down_until > now)
                continue;
            b->down_until = 0; /* its time out is over: try it again */
            b->fails = 0;
            *revived = (int)i;
        }
        cand[nc++] = (int)i;
    }
    /* Every untried backend is down: try them anyway, as nginx does. A backend marked down
     * may only have been slow; refusing every client would turn that into an outage. */
    if (nc == 0)
        for (unsigned i = 0; i < bl->n; i++)
            if (!(tried & (1ull << i)))
                cand[nc++] = (int)i;
    if (nc == 0)
        return -1;

    switch (bl->algo) {
    case EPT_ALGO_ROUNDROBIN: { /* smooth weighted round robin: spreads weights evenly */
        int64_t total = 0;
        for (int k = 0; k < nc; k++) {
            struct backend *b = &bl->b[cand[k]];
            b->current += b->weight;
            total += b->weight;
            if (best < 0 || b->current > bl->b[best].current)
                best = cand[k];
        }
        bl->b[best].current -= total;
        break;
    }
    case EPT_ALGO_LEASTCONN: { /* fewest active per weight; ties by weight, as nginx */
        int tied[BALANCE_MAX], nt = 0;
        for (int k = 0; k < nc; k++) {
            int i = cand[k];
            if (best < 0 || lighter(&bl->b[i], &bl->b[best])) {
                best = i;
                nt = 0;
            }
            if (!lighter(&bl->b[best], &bl->b[i]))
                tied[nt++] = i; /* as light as the best so far */
        }
        /* Among the equally loaded, smooth weighted round robin: with one request at a time
         * (every active count 0) weights 3:1 give 3:1, not 1:1. */
        int64_t total = 0;
        best = -1;
        for (int k = 0; k < nt; k++) {
            struct backend *b = &bl->b[tied[k]];
            b->current += b->weight;
            total += b->weight;
            if (best < 0 || b->current > bl->b[best].current)
                best = tied[k];
        }
        bl->b[best].current -= total;
        break;
    }
    case EPT_ALGO_HASH: { /* weighted rendezvous hashing: stable, moves few on change */
        uint64_t key = client_key(peer);
        double top = -1;
        for (int k = 0; k < nc; k++) {
            uint64_t h = mix(key ^ mix((uint64_t)cand[k] + 1));
            double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
            double score = -(double)bl->b[cand[k]].weight / log(u);
            if (score > top) {
                top = score;
                best = cand[k];
            }
        }
        break;
    }
    default: { /* random2: two choices drawn by weight, keep the one lighter per weight */
        best = weighted_draw(bl, cand, nc, -1);
        if (nc > 1) {
            int b = weighted_draw(bl, cand, nc, best);
            if (lighter(&bl->b[b], &bl->b[best]))
                best = b;
        }
        break;
    }
    }
    bl->b[best].active++;
    bl->b[best].picks++;
    return best;
}

void balance_release(struct balance *bl, int i)
{
    if (i >= 0 && (unsigned)i < bl->n && bl->b[i].active > 0)
        bl->b[i].active--;
}

void balance_mark_down(struct balance *bl, int i, uint64_t now, uint64_t down_ns)
{
    if (i >= 0 && (unsigned)i < bl->n)
        bl->b[i].down_until = now + down_ns;
}

int balance_fail(struct balance *bl, int i, uint64_t now)
{
    if (i < 0 || (unsigned)i >= bl->n)
        return 0;
    struct backend *b = &bl->b[i];
    if (!bl->down_ns)
        return 0; /* --down-time 0: never taken out */
    if (b->down_until) { /* already out (tried anyway as the last resort): keep it out */
        b->down_until = now + bl->down_ns;
        return 0;
    }
    if (!b->fails || now - b->fail_since > bl->fail_window_ns) {
        b->fails = 0; /* the window has passed: old failures are forgotten */
        b->fail_since = now;
    }
    if (++b->fails < bl->max_fails)
        return 0;
    b->fails = 0;
    b->down_until = now + bl->down_ns;
    return 1;
}

int balance_ok(struct balance *bl, int i)
{
    if (i < 0 || (unsigned)i >= bl->n)
        return 0;
    struct backend *b = &bl->b[i];
    int was_down = b->down_until != 0;
    b->fails = 0;
    b->down_until = 0;
    return was_down;
}
