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
/* The value of key into *val; 1 if present, 0 if not. */
int idmap_get(const struct idmap *m, uint32_t key, uint32_t *val);
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
