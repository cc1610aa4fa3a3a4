/* idmap.c - a 32-bit id -> 32-bit value map (see idmap.h). */
#include "idmap.h"

#include <string.h>

#include <stdlib.h>

#include "xmem.h"

static uint32_t home(const struct idmap *m, uint32_t key)
{
    return idmap_home(m, key);
}

void idmap_init(struct idmap *m)
{
    memset(m, 0, sizeof(*m));
}

void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->used);
    idmap_init(m);
}

void idmap_clear(struct idmap *m)
{
    if (m->cap)
        memset(m->used, 0, m->cap);
    m->n = 0;
}

/* Double the table (or make the first one) and put every entry back. */
static void grow(struct idmap *m)
{
    struct idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = xreallocarray(NULL, m->cap, sizeof(*m->keys));
    m->vals = xreallocarray(NULL, m->cap, sizeof(*m->vals));
    m->used = xcalloc(m->cap, 1);
    m->n = 0;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.used[i])
            idmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.used);
}

void idmap_put(struct idmap *m, uint32_t key, uint32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3) /* keep the load under 3/4 */
        grow(m);
    uint32_t i = home(m, key);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
}

int idmap_del(struct idmap *m, uint32_t key)
{
    if (!m->n)
        return 0;
    uint32_t mask = m->cap - 1, i = home(m, key);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->used[i])
        return 0;
    /* backward shift: pull later entries of the run into the hole when their home allows */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        uint32_t h = home(m, m->keys[j]);
        /* j may move to hole unless its home lies cyclically in (hole, j] */
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!stays) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->used[hole] = 0;
    m->n--;
    return 1;
}

void idmap_copy(struct idmap *dst, const struct idmap *src)
{
    if (dst->cap != src->cap) {
        free(dst->keys);
        free(dst->vals);
        free(dst->used);
        dst->cap = src->cap;
        dst->keys = src->cap ? xreallocarray(NULL, src->cap, sizeof(*dst->keys)) : NULL;
        dst->vals = src->cap ? xreallocarray(NULL, src->cap, sizeof(*dst->vals)) : NULL;
        dst->used = src->cap ? xcalloc(src->cap, 1) : NULL;
    }
    if (src->cap) {
        memcpy(dst->keys, src->keys, src->cap * sizeof(*dst->keys));
        memcpy(dst->vals, src->vals, src->cap * sizeof(*dst->vals));
        memcpy(dst->used, src->used, src->cap);
    }
    dst->n = src->n;
}

size_t idmap_bytes(const struct idmap *m)
{
    return (size_t)m->cap * (2 * sizeof(uint32_t) + 1);
}
