/* tlist.c - timers as FIFO lists (see tlist.h). */
#include "tlist.h"

#include <assert.h>

void tlist_start(struct tlist *l, struct tlist_node *n, uint64_t due)
{
    tlist_stop(n);
    assert(!l->tail || l->tail->due <= due); /* one duration per list keeps it in order */
    n->due = due;
    n->on = l;
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

void tlist_stop(struct tlist_node *n)
{
    struct tlist *l = n->on;
    if (!l)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    n->on = NULL;
}

struct tlist_node *tlist_expired(const struct tlist *l, uint64_t now)
{
    return l->head && l->head->due <= now ? l->head : NULL;
}

uint64_t tlist_next_due(const struct tlist *l)
{
    return l->head ? l->head->due : UINT64_MAX;
}
