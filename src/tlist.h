/* tlist.h - timers as FIFO lists. When every timer on one list lasts the same time, a timer
 * started later is due later, so appending at the tail keeps the list in deadline order:
 * start, stop and "which is due next" are O(1), with no heap. The node lives inside the
 * object that owns the timer (one node per list the object can be on); tlist_entry gets the
 * object back from its node.
 *
 *   struct tlist           struct tlist_node, inside each object
 *   +------------+         +------+------+-----+----+      +------+-- ...
 *   | head, tail |-------> | prev | next | due | on | <--> | prev | next ...  <-- tail
 *   +------------+         +------+------+-----+----+      +------+-- ...
 */
#ifndef EPSCOPE_TLIST_H
#define EPSCOPE_TLIST_H

#include <stddef.h>
#include <stdint.h>

struct tlist;

struct tlist_node {
    struct tlist_node *prev, *next;
    uint64_t due;     /* deadline, ns on clock_now_ns()'s clock */
    struct tlist *on; /* the list the timer runs on, NULL when stopped */
};

struct tlist {
    struct tlist_node *head, *tail; /* head: the next to expire */
};

/* The object of type that holds node n as its member. */
#define tlist_entry(n, type, member) ((type *)(void *)(((char *)(n)) - offsetof(type, member)))

/* Start n's timer on l, due at due (no earlier than every timer already on l); a timer
 * that runs is stopped first. */
void tlist_start(struct tlist *l, struct tlist_node *n, uint64_t due);
/* Stop n's timer; nothing happens when it does not run. */
void tlist_stop(struct tlist_node *n);
/* The timer on l that expires first if it is due at now, else NULL. */
struct tlist_node *tlist_expired(const struct tlist *l, uint64_t now);
/* The earliest deadline on l, UINT64_MAX when l is empty. */
uint64_t tlist_next_due(const struct tlist *l);

#endif
