/* ring.c - the lock-free SPSC record ring (layout in ring.h). */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ring_init(struct ring *r, size_t size)
{
    memset(r, 0, sizeof(*r));
    if (size < RING_MIN_SIZE || size > RING_MAX_SIZE || (size & (size - 1)))
        return -EINVAL;
    /* mmap rather than malloc: page-aligned, zeroed lazily, returned to the OS on free. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    r->buf = p;
    r->size = size;
    r->mask = size - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void ring_free(struct ring *r)
{
    if (r->buf)
        munmap(r->buf, r->size);
    r->buf = NULL;
}

void *ring_reserve(struct ring *r, uint32_t len)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off = head & r->mask;
    uint64_t pad = off + len > r->size ? r->size - off : 0;
    uint64_t need = pad + len;

    if (need > r->size - (head - r->tail_cache)) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (need > r->size - (head - r->tail_cache))
            return NULL;
    }
    if (pad) {
        uint16_t hdr[2] = {0, (uint16_t)pad}; /* pad < len, so it fits in a u16 */
        memcpy(r->buf + off, hdr, sizeof(hdr));
        off = 0;
    }
    r->pending = need;
    return r->buf + off;
}

void ring_commit(struct ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + r->pending, memory_order_release);
    r->pending = 0;
}

size_t ring_peek(struct ring *r, const uint8_t **p)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* >=, not ==: a consumer may release records it knew of without peeking them, which
     * leaves the cached head behind the tail. */
    if (tail >= r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail == r->head_cache)
            return 0;
    }
    uint64_t off = tail & r->mask;
    uint64_t avail = r->head_cache - tail;
    uint64_t contig = r->size - off;
    *p = r->buf + off;
    return avail < contig ? avail : contig;
}

void ring_release(struct ring *r, size_t n)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
}

size_t ring_used(struct ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return head - tail;
}
