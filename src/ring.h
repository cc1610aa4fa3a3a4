/* ring.h - a lock-free single-producer single-consumer ring of variable-length records.
 *
 * Layout: a power-of-two byte array and two positions that only grow.
 *
 *   head (producer's line)   tail (consumer's line)   buf (size bytes, mask = size - 1)
 *   +--------------------+   +--------------------+   +--------------------------------+
 *   | head | tail_cache  |   | tail | head_cache  |   | rec | rec | rec |..free..| PAD |
 *   +--------------------+   +--------------------+   +--------------------------------+
 *
 * head and tail are byte counts since creation; (pos & mask) is the offset in buf. Bytes in
 * [tail, head) are committed and unread. Each record begins with a u16 type and a u16 size
 * (the ept_rec header); records are multiples of 8 and never wrap: when one does not fit
 * before the end of buf, the producer fills the rest with a PAD record (type 0, size =
 * bytes to the end) and starts the record at offset 0. Head and tail sit on separate cache
 * lines, each side keeps a cached copy of the other's position, and publication is one
 * release store matched by one acquire load. The producer never blocks and never allocates.
 */
#ifndef EPSCOPE_RING_H
#define EPSCOPE_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_MIN_SIZE 4096u
#define RING_MAX_SIZE (1u << 30)

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer only */
    uint64_t tail_cache;
    uint64_t pending;                   /* bytes reserved, not yet committed */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer only */
    uint64_t head_cache;
    _Alignas(64) uint8_t *buf;
    uint64_t size;
    uint64_t mask;
};

/* Allocate a ring of size bytes (a power of two in [RING_MIN_SIZE, RING_MAX_SIZE]). */
int ring_init(struct ring *r, size_t size);
void ring_free(struct ring *r);

/* Producer: room for a record of len bytes (a multiple of 8, at most 65528), or NULL when
 * the ring is too full. The caller fills it and calls ring_commit. */
void *ring_reserve(struct ring *r, uint32_t len);
/* Producer: publish the record reserved last. */
void ring_commit(struct ring *r);

/* Consumer: the committed bytes that are contiguous from the tail (may start with a PAD);
 * sets *p and returns their count, 0 when empty. */
size_t ring_peek(struct ring *r, const uint8_t **p);
/* Consumer: give back n bytes from the tail (whole records). */
void ring_release(struct ring *r, size_t n);
/* Bytes committed and not yet released (either side may ask; approximate). */
size_t ring_used(struct ring *r);

#endif
