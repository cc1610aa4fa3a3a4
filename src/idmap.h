/* idmap.h - a map from a 32-bit id to a 32-bit value, for ids that come from a trace (socket
 * ids, fd numbers, connection ids): untrusted, so never an array index. Open addressing
 * with linear probing and backward-shift deletion; memory is proportional to the entries
 * held, whatever their values. Copyable with idmap_copy (the replay model's checkpoints).
 */
#ifndef EPSCOPE_IDMAP_H
#define EPSCOPE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
    uint32_t *keys;
    uint32_t *vals;
    uint32_t cap;   /* a power of two, or 0 */
    uint32_t n;
    uint8_t *used;
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* The slot where key's probe starts. */
static inline uint32_t idmap_home(const struct idmap *m, uint32_t key)
{
    return (uint32_t)(key * 0x9E3779B1u) & (m->cap - 1); /* Fibonacci hashing */
}
/* The value of key into *val; 1 if present, 0 if not. Inline: the analysis asks several
 * times a record, and the call cost as much as the probe. */
static inline int idmap_get(const struct idmap *m, uint32_t key, uint32_t *val)
{
    if (!m->n)
        return 0;
    for (uint32_t i = idmap_home(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i])
            return 0;
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return 1;
        }
    }
}
/* Set key to val (insert or replace). */
void idmap_put(struct idmap *m, uint32_t key, uint32_t val);
/* Remove key; 1 if it was there. */
int idmap_del(struct idmap *m, uint32_t key);
/* Make dst an independent copy of src (dst initialised, its old entries dropped). */
void idmap_copy(struct idmap *dst, const struct idmap *src);
void idmap_clear(struct idmap *m);
/* Bytes it holds (for checkpoint budgets). */
size_t idmap_bytes(const struct idmap *m);

#endif
