/* vindex.h - the viewer's small per-trace index, built once at open (and extended as a
 * followed trace grows): where the epoll_waits and the connection starts are, each socket's
 * and connection's first and last record, and the diagnoses sorted by position. Every
 * "next/previous X" the viewer asks is a binary search here, never a scan.
 *
 * Records are read through the replay's block index (replay_rec: no CRC again, at most 31
 * records walked). It never holds socket state: that is the replay model's job.
 */
#ifndef EPSCOPE_VINDEX_H
#define EPSCOPE_VINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "idmap.h"
#include "replay.h"

struct vi_range {
    uint64_t first, last;    /* positions; first == UINT64_MAX when never seen */
};

struct vi_diag {
    uint64_t first, last;
    uint64_t maxlast;        /* max of last over this and every earlier entry */
    uint32_t finding;        /* index into replay_findings */
};

/* Ids (of sockets or connections) -> an index: writers number them 1, 2, 3..., so an
 * array holds those up to a few times as many as seen, in order; the map the others (ids
 * are a trace's: untrusted, any value). A trace of millions of sockets would otherwise
 * cost a cache miss in a large map for every record. */
struct vi_ids {
    uint32_t *dense; /* index + 1 by id, 0: none */
    size_t ndense;
    size_t n; /* ids held, both kinds */
    struct idmap map;
};

struct vindex {
    struct replay *r;        /* the trace it indexes */
    uint64_t count;          /* records indexed (== replay_count after vindex_update) */
    uint64_t *waits;         /* positions of epoll_wait records */
    size_t nwaits, wcap;
    uint64_t *conns;         /* positions of connection starts (successful accepts) */
    uint32_t *conn_ids;      /* their connection ids */
    size_t nconns, ccap;
    struct vi_range *ranges; /* first and last record of each socket and connection */
    size_t nranges, rcap;
    struct vi_ids by_sid;    /* socket id -> index in ranges */
    struct vi_ids by_conn;   /* connection id -> index in ranges */
    struct vi_diag *diags;   /* sorted by first */
    size_t ndiags;
    uint64_t t0_ns;          /* ns of the first record */
};

/* Index what replay r has. */
void vindex_open(struct vindex *ix, struct replay *r);
/* Index what was appended since (after replay_refresh); returns records added. */
int64_t vindex_update(struct vindex *ix);
void vindex_close(struct vindex *ix);

/* The record at pos, NULL out of range. */
const struct ept_rec *vindex_rec(const struct vindex *ix, uint64_t pos);
/* The records of socket id (conn: of connection id), NULL when it never appears. */
const struct vi_range *vindex_range(const struct vindex *ix, int conn, uint32_t id);

/* Index of the last entry <= pos in a sorted array, or -1 (binary search). */
ptrdiff_t vindex_floor(const uint64_t *a, size_t n, uint64_t pos);

/* Which socket and connection a record is about (0 when none). For an accept, the new
 * socket; *lsid is the listener's sid for accepts (0 otherwise). */
void vindex_rec_sock(const struct ept_rec *rec, uint32_t *sid, uint32_t *conn, uint32_t *lsid);

/* The diagnosed finding that marks record pos (in range and about its socket or
 * connection), as an index into replay_findings, or -1. Prefers errors over warnings. */
long vindex_diag_mark(const struct vindex *ix, struct replay *r, uint64_t pos);

#endif
