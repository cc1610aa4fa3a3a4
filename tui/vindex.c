/* vindex.c - the viewer's per-trace index (see vindex.h). */
#include "vindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

static void *vi_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = xreallocarray(p, n, elem);
    *cap = n;
    return q;
}

/* The index of id into *i: 1, or 0 when it has none. */
static inline int ids_get(const struct vi_ids *m, uint32_t id, uint32_t *i)
{
    if (id < m->ndense && m->dense[id]) {
        *i = m->dense[id] - 1;
        return 1;
    }
    /* the map holds ids the array did not reach when they came (it may since) */
    return idmap_get(&m->map, id, i);
}

/* Give id (which has none) the index i. */
static void ids_put(struct vi_ids *m, uint32_t id, uint32_t i)
{
    m->n++;
    if (id >= m->ndense && (uint64_t)id < 4 * (uint64_t)m->n + 1024) { /* dense enough */
        size_t n = m->ndense ? m->ndense : 1024;
        while (n <= id)
            n *= 2;
        m->dense = xreallocarray(m->dense, n, sizeof(*m->dense));
        memset(m->dense + m->ndense, 0, (n - m->ndense) * sizeof(*m->dense));
        m->ndense = n;
    }
    if (id < m->ndense)
        m->dense[id] = i + 1;
    else
        idmap_put(&m->map, id, i);
}

/* A new range for id in m, starting at pos (range_note's slow path: once per id). */
static __attribute__((noinline)) void range_new(struct vindex *ix, struct vi_ids *m, uint32_t id,
                                                uint64_t pos)
{
    ix->ranges = vi_grow(ix->ranges, &ix->rcap, ix->nranges + 1, sizeof(*ix->ranges));
    uint32_t i = (uint32_t)ix->nranges++;
    ix->ranges[i] = (struct vi_range){pos, pos};
    ids_put(m, id, i);
}

/* Note that record pos is about id in m (its first and last record). Inline: up to three
 * times a record. */
static inline void range_note(struct vindex *ix, struct vi_ids *m, uint32_t id, uint64_t pos)
{
    uint32_t i;
    if (ids_get(m, id, &i))
        ix->ranges[i].last = pos;
    else
        range_new(ix, m, id, pos);
}

const struct vi_range *vindex_range(const struct vindex *ix, int conn, uint32_t id)
{
    uint32_t i;
    return ids_get(conn ? &ix->by_conn : &ix->by_sid, id, &i) ? &ix->ranges[i] : NULL;
}

/* n bytes at offset off of rec into dst, zeros where an older, shorter record ends. */
static inline void rec_field(const struct ept_rec *rec, size_t off, void *dst, size_t n)
{
    if (off + n <= rec->size)
        memcpy(dst, (const uint8_t *)rec + off, n);
    else
        memset(dst, 0, n);
}

/* ept_rec_sock and ept_rec_sock2 in one: the index asks for every record. */
void vindex_rec_sock(const struct ept_rec *rec, uint32_t *sid, uint32_t *conn, uint32_t *lsid)
{
    struct ept_sock s;
    *lsid = 0;
    if (rec->type == EPT_ACCEPT) { /* the new socket, or its listener if it failed */
        int32_t res;
        rec_field(rec, offsetof(struct ept_accept, listener), &s, sizeof(s));
        *lsid = s.sid;
        rec_field(rec, offsetof(struct ept_accept, result), &res, sizeof(res));
        if (res >= 0)
            rec_field(rec, offsetof(struct ept_accept, s), &s, sizeof(s));
        *sid = s.sid;
        *conn = s.conn;
        return;
    }
    const struct ept_type_info *t = ept_type(rec->type);
    *sid = *conn = 0;
    if (!t || !t->sock)
        return;
    rec_field(rec, t->sock, &s, sizeof(s));
    *sid = s.sid;
    *conn = s.conn;
}

static int diag_cmp(const void *a, const void *b)
{
    const struct vi_diag *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->finding < y->finding ? -1 : x->finding > y->finding;
}

static void index_diags(struct vindex *ix, struct replay *r)
{
    const struct finding *f;
    size_t n = replay_findings(r, &f);
    free(ix->diags);
    ix->diags = NULL;
    ix->ndiags = 0;
    if (!n)
        return;
    ix->diags = xreallocarray(NULL, n, sizeof(*ix->diags));
    for (size_t i = 0; i < n; i++)
        ix->diags[i] = (struct vi_diag){f[i].first, f[i].last, 0, (uint32_t)i};
    qsort(ix->diags, n, sizeof(*ix->diags), diag_cmp);
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (ix->diags[i].last > m)
            m = ix->diags[i].last;
        ix->diags[i].maxlast = m;
    }
    ix->ndiags = n;
}

/* Index one record (a replay_walk callback). */
static int index_rec(const struct ept_rec *rec, uint64_t pos, void *arg)
{
    struct vindex *ix = arg;
    ix->count = pos + 1;
    if (pos == 0)
        ix->t0_ns = rec->ns;
    if (rec->type == EPT_EPOLL_WAIT) {
        ix->waits = vi_grow(ix->waits, &ix->wcap, ix->nwaits + 1, sizeof(*ix->waits));
        ix->waits[ix->nwaits++] = pos;
        return 0;
    }
    uint32_t sid, conn, lsid;
    vindex_rec_sock(rec, &sid, &conn, &lsid);
    if (rec->type == EPT_ACCEPT && conn) {
        size_t cap = ix->ccap;
        ix->conns = vi_grow(ix->conns, &ix->ccap, ix->nconns + 1, sizeof(*ix->conns));
        ix->conn_ids = vi_grow(ix->conn_ids, &cap, ix->nconns + 1, sizeof(*ix->conn_ids));
        ix->conns[ix->nconns] = pos;
        ix->conn_ids[ix->nconns++] = conn;
    }
    if (sid)
        range_note(ix, &ix->by_sid, sid, pos);
    if (lsid)
        range_note(ix, &ix->by_sid, lsid, pos);
    if (conn)
        range_note(ix, &ix->by_conn, conn, pos);
    return 0;
}

int64_t vindex_update(struct vindex *ix)
{
    uint64_t before = ix->count;
    replay_walk(ix->r, ix->count, index_rec, ix);
    index_diags(ix, ix->r);
    return (int64_t)(ix->count - before);
}

void vindex_open(struct vindex *ix, struct replay *r)
{
    memset(ix, 0, sizeof(*ix));
    ix->r = r;
    idmap_init(&ix->by_sid.map);
    idmap_init(&ix->by_conn.map);
    vindex_update(ix);
}

void vindex_close(struct vindex *ix)
{
    free(ix->waits);
    free(ix->conns);
    free(ix->conn_ids);
    free(ix->ranges);
    idmap_free(&ix->by_sid.map);
    idmap_free(&ix->by_conn.map);
    free(ix->by_sid.dense);
    free(ix->by_conn.dense);
    free(ix->diags);
    memset(ix, 0, sizeof(*ix));
}

const struct ept_rec *vindex_rec(const struct vindex *ix, uint64_t pos)
{
    return pos < ix->count ? replay_rec(ix->r, pos) : NULL;
}

ptrdiff_t vindex_floor(const uint64_t *a, size_t n, uint64_t pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

long vindex_diag_mark(const struct vindex *ix, struct replay *r, uint64_t pos)
{
    if (!ix->ndiags)
        return -1;
    /* the last diagnosis starting at or before pos, then back while any may still cover it */
    size_t lo = 0, hi = ix->ndiags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->diags[mid].first <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct ept_rec *rec = NULL;
    uint32_t sid = 0, conn = 0, lsid = 0;
    const struct finding *f;
    replay_findings(r, &f);
    long best = -1;
    for (size_t i = lo; i-- > 0 && ix->diags[i].maxlast >= pos;) {
        const struct vi_diag *d = &ix->diags[i];
        if (d->last < pos)
            continue;
        const struct finding *fi = &f[d->finding];
        if (fi->sid) {
            if (!rec) {
                rec = vindex_rec(ix, pos);
                if (!rec)
                    return -1;
                vindex_rec_sock(rec, &sid, &conn, &lsid);
            }
            if (sid != fi->sid && lsid != fi->sid && !(fi->conn && conn == fi->conn))
                continue;
        }
        if (best < 0 || (rule_is_error(fi->rule) && !rule_is_error(f[best].rule)))
            best = (long)d->finding;
    }
    return best;
}
