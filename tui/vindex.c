/* vindex.c - the viewer's per-trace index (see vindex.h). */
#include "vindex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *vi_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (!q) {
        fprintf(stderr, "epscope view: out of memory (%zu bytes)\n", n * elem);
        abort();
    }
    *cap = n;
    return q;
}

/* Grow a range table indexed by id so that id fits; new entries are "never seen". */
static struct vi_range *range_grow(struct vi_range *t, size_t *n, uint32_t id)
{
    if (id < *n)
        return t;
    size_t cap = *n;
    t = vi_grow(t, &cap, (size_t)id + 1, sizeof(*t));
    for (size_t i = *n; i < cap; i++)
        t[i] = (struct vi_range){UINT64_MAX, 0};
    *n = cap;
    return t;
}

static void range_note(struct vi_range *t, uint32_t id, uint64_t pos)
{
    if (t[id].first == UINT64_MAX)
        t[id].first = pos;
    t[id].last = pos;
}

void vindex_rec_sock(const struct ept_rec *rec, uint32_t *sid, uint32_t *conn, uint32_t *lsid)
{
    *sid = *conn = *lsid = 0;
    switch (rec->type) {
    case EPT_EPOLL_CTL:
    case EPT_READY:
    case EPT_HANDLE:
    case EPT_LISTEN:
    case EPT_CONNECT:
    case EPT_READ:
    case EPT_WRITE:
    case EPT_SHUTDOWN:
    case EPT_CLOSE:
    case EPT_PICK:
    case EPT_TIMEOUT:
    case EPT_PAUSE: {
        /* every one of these starts its body with a struct ept_sock */
        struct {
            struct ept_rec h;
            struct ept_sock s;
        } v;
        ept_rec_get(rec, &v, sizeof(v));
        *sid = v.s.sid;
        *conn = v.s.conn;
        break;
    }
    case EPT_ACCEPT: {
        struct ept_accept a;
        ept_rec_get(rec, &a, sizeof(a));
        *lsid = a.listener.sid;
        if (a.result >= 0) {
            *sid = a.s.sid;
            *conn = a.s.conn;
        } else {
            *sid = a.listener.sid;
        }
        break;
    }
    default:
        break;
    }
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
    ix->diags = malloc(n * sizeof(*ix->diags));
    if (!ix->diags) {
        fprintf(stderr, "epscope view: out of memory (%zu bytes)\n", n * sizeof(*ix->diags));
        abort();
    }
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

int64_t vindex_update(struct vindex *ix, struct replay *r)
{
    uint64_t want = replay_count(r);
    int64_t added = 0;
    if (ix->count < want) {
        int rc = reader_refresh(&ix->rd);
        if (rc < 0)
            return rc;
    }
    struct reader_block b;
    while (ix->count < want && reader_block(&ix->rd, ix->next_off, &b) > 0) {
        ix->blocks = vi_grow(ix->blocks, &ix->bcap, ix->nblocks + 1, sizeof(*ix->blocks));
        ix->blocks[ix->nblocks++] = (struct vi_block){b.off, ix->count, b.first_seq, 0};
        size_t p = 0;
        uint32_t n = 0;
        const struct ept_rec *rec;
        while ((rec = reader_next_rec(&b, &p))) {
            uint64_t pos = ix->count + n++;
            if (pos == 0)
                ix->t0_ns = rec->ns;
            uint32_t sid, conn, lsid;
            if (rec->type == EPT_EPOLL_WAIT) {
                ix->waits = vi_grow(ix->waits, &ix->wcap, ix->nwaits + 1, sizeof(*ix->waits));
                ix->waits[ix->nwaits++] = pos;
                continue;
            }
            vindex_rec_sock(rec, &sid, &conn, &lsid);
            if (rec->type == EPT_ACCEPT && conn) {
                size_t cap = ix->ccap;
                ix->conns = vi_grow(ix->conns, &ix->ccap, ix->nconns + 1, sizeof(*ix->conns));
                ix->conn_ids = vi_grow(ix->conn_ids, &cap, ix->nconns + 1,
                                       sizeof(*ix->conn_ids));
                ix->conns[ix->nconns] = pos;
                ix->conn_ids[ix->nconns++] = conn;
            }
            if (sid) {
                ix->by_sid = range_grow(ix->by_sid, &ix->nby_sid, sid);
                range_note(ix->by_sid, sid, pos);
            }
            if (lsid) {
                ix->by_sid = range_grow(ix->by_sid, &ix->nby_sid, lsid);
                range_note(ix->by_sid, lsid, pos);
            }
            if (conn) {
                ix->by_conn = range_grow(ix->by_conn, &ix->nby_conn, conn);
                range_note(ix->by_conn, conn, pos);
            }
        }
        ix->blocks[ix->nblocks - 1].nrec = n;
        ix->count += n;
        added += n;
        ix->next_off = b.off + b.length;
    }
    index_diags(ix, r);
    ix->cb = SIZE_MAX;
    return added;
}

int vindex_open(struct vindex *ix, const char *path, struct replay *r, char *err, size_t errlen)
{
    memset(ix, 0, sizeof(*ix));
    int rc = reader_open(&ix->rd, path, err, errlen);
    if (rc < 0)
        return rc;
    ix->next_off = ix->rd.data_off;
    ix->cb = SIZE_MAX;
    int64_t n = vindex_update(ix, r);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror((int)-n));
        vindex_close(ix);
        return (int)n;
    }
    return 0;
}

void vindex_close(struct vindex *ix)
{
    free(ix->blocks);
    free(ix->waits);
    free(ix->conns);
    free(ix->conn_ids);
    free(ix->by_conn);
    free(ix->by_sid);
    free(ix->diags);
    reader_close(&ix->rd);
    memset(ix, 0, sizeof(*ix));
}

static size_t block_of(const struct vindex *ix, uint64_t pos)
{
    size_t lo = 0, hi = ix->nblocks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->blocks[mid].first <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

const struct ept_rec *vindex_rec(struct vindex *ix, uint64_t pos)
{
    if (pos >= ix->count)
        return NULL;
    size_t bi;
    if (ix->cb < ix->nblocks && ix->cpos <= pos &&
        pos < ix->blocks[ix->cb].first + ix->blocks[ix->cb].nrec) {
        bi = ix->cb;
    } else {
        bi = block_of(ix, pos);
        ix->cb = bi;
        ix->cpos = ix->blocks[bi].first;
        ix->cbyte = 0;
    }
    /* the block passed its checks when it was indexed: walk its records directly */
    const struct vi_block *vb = &ix->blocks[bi];
    struct ept_block h;
    memcpy(&h, ix->rd.map + vb->off, sizeof(h));
    const uint8_t *recs = ix->rd.map + vb->off + EPT_BLOCK_HDR;
    size_t len = h.length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER;
    size_t p = ix->cbyte;
    uint64_t at = ix->cpos;
    while (p < len) {
        const struct ept_rec *rec = (const void *)(recs + p);
        if (rec->type != EPT_PAD) {
            if (at == pos) {
                ix->cpos = at;
                ix->cbyte = p;
                return rec;
            }
            at++;
        }
        p += rec->size;
    }
    return NULL;
}

uint64_t vindex_pos_of_seq(const struct vindex *ix, uint64_t seq)
{
    if (!ix->nblocks)
        return 0;
    size_t lo = 0, hi = ix->nblocks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->blocks[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    struct vindex *mix = (struct vindex *)ix; /* the record cache is not state */
    uint64_t end = ix->blocks[lo].first + ix->blocks[lo].nrec;
    for (uint64_t p = ix->blocks[lo].first; p < end; p++) {
        const struct ept_rec *rec = vindex_rec(mix, p);
        if (rec && rec->seq >= seq)
            return p;
    }
    return end < ix->count ? end : ix->count - 1;
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

long vindex_diag_mark(struct vindex *ix, struct replay *r, uint64_t pos)
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
