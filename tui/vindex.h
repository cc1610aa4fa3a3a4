/* vindex.h - the viewer's small per-trace index, built once at open (and extended as a
 * followed trace grows): where the blocks, the epoll_waits and the connection starts are,
 * each socket's and connection's first and last record, and the diagnoses sorted by
 * position. Every "next/previous X" the viewer asks is a binary search here, never a scan.
 *
 * It reads the trace through its own read-only mapping, block by block, so walking many
 * records (search, filter) costs no CRC per record. It never holds socket state: that is
 * the replay model's job.
 */
#ifndef EPSCOPE_VINDEX_H
#define EPSCOPE_VINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"
#include "replay.h"

struct vi_block {
    uint64_t off;            /* in the file */
    uint64_t first;          /* position of its first record */
    uint64_t first_seq;
    uint32_t nrec;
};

struct vi_range {
    uint64_t first, last;    /* positions; first == UINT64_MAX when never seen */
};

struct vi_diag {
    uint64_t first, last;
    uint64_t maxlast;        /* max of last over this and every earlier entry */
    uint32_t finding;        /* index into replay_findings */
};

struct vindex {
    struct reader rd;
    struct vi_block *blocks;
    size_t nblocks, bcap;
    uint64_t count;          /* records indexed (== replay_count after vindex_update) */
    uint64_t next_off;
    uint64_t *waits;         /* positions of epoll_wait records */
    size_t nwaits, wcap;
    uint64_t *conns;         /* positions of connection starts (successful accepts) */
    uint32_t *conn_ids;      /* their connection ids */
    size_t nconns, ccap;
    struct vi_range *by_conn; /* indexed by connection id */
    size_t nby_conn;
    struct vi_range *by_sid;  /* indexed by socket id */
    size_t nby_sid;
    struct vi_diag *diags;   /* sorted by first */
    size_t ndiags;
    uint64_t t0_ns;          /* ns of the first record */
    /* sequential-access cache for vindex_rec */
    size_t cb;
    uint64_t cpos;
    size_t cbyte;
};

/* Open path with its own mapping and index what replay r has. Returns 0 or -errno. */
int vindex_open(struct vindex *ix, const char *path, struct replay *r, char *err, size_t errlen);
/* Index what was appended since (after replay_refresh); returns records added or -errno. */
int64_t vindex_update(struct vindex *ix, struct replay *r);
void vindex_close(struct vindex *ix);

/* The record at pos, NULL out of range (no CRC check: its block was checked when indexed). */
const struct ept_rec *vindex_rec(struct vindex *ix, uint64_t pos);
/* Position of the record with sequence number seq, or of the first one after it. */
uint64_t vindex_pos_of_seq(const struct vindex *ix, uint64_t seq);

/* Index of the last entry <= pos in a sorted array, or -1 (binary search). */
ptrdiff_t vindex_floor(const uint64_t *a, size_t n, uint64_t pos);

/* Which socket and connection a record is about (0 when none). For an accept, the new
 * socket; *lsid is the listener's sid for accepts (0 otherwise). */
void vindex_rec_sock(const struct ept_rec *rec, uint32_t *sid, uint32_t *conn, uint32_t *lsid);

/* The diagnosed finding that marks record pos (in range and about its socket or
 * connection), as an index into replay_findings, or -1. Prefers errors over warnings. */
long vindex_diag_mark(struct vindex *ix, struct replay *r, uint64_t pos);

#endif
