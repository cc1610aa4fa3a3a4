/* replay.h - a trace opened for reading: its block index, one analysis pass (the model of
 * src/state.h and the rules of src/rules.h over every record, in order), and the model at
 * any position on demand. check, compare, dump --story and the viewer all read traces
 * through it; none re-derives state on its own.
 *
 * Opening a trace runs the pass once: it indexes the blocks, finds every diagnosis, counts,
 * and saves a copy of the model every K records. Seeking restores the nearest copy at or
 * before the position and applies at most K records, so stepping back costs the same as
 * stepping forward.
 *
 * Positions are record ordinals, 0 .. count-1 (not seq numbers, which have gaps where
 * records were lost). "The state at position p" is the state after record p was applied.
 */
#ifndef EPSCOPE_REPLAY_H
#define EPSCOPE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "ept.h"
#include "reader.h"
#include "rules.h"
#include "state.h"

/* Totals over the whole trace. */
struct replay_counts {
    uint64_t records, waits, empty_waits, events, ctl[4], reads, writes, eagains;
    uint64_t accepts, connects, closes, conns, bytes_read, bytes_written, lost;
    uint64_t wasted;           /* events whose handling did nothing */
    uint64_t blocked_ns, duration_ns;
    uint64_t threads, sets;    /* threads that made a call, epoll sets created or used */
    /* end records: 0 when the writer was killed or is still writing */
    uint64_t ends;
};

/* A complete block of the file, verified once when indexed. */
struct replay_block {
    uint64_t off;              /* in the file */
    uint64_t first;            /* position of its first record */
    uint64_t first_seq;
    uint32_t nrec;
    uint32_t length;
    uint32_t mark;             /* its first entry in the marks (see replay.c) */
    uint32_t pad;
};

struct replay;

/* Open path and analyse it. Returns 0, or -errno with one line in err (unreadable, not a
 * trace). A torn or corrupt block ends the trace early; replay_reader() says where. */
int replay_open(struct replay **out, const char *path, char *err, size_t errlen);
void replay_close(struct replay *r);
/* Records in the trace (complete blocks only). */
uint64_t replay_count(const struct replay *r);
const struct reader *replay_reader(const struct replay *r);
/* Read what was appended to a trace still being written; returns the number of new
 * records (diagnoses and counts include them), or -errno. */
int64_t replay_refresh(struct replay *r);
/* The block index. */
size_t replay_nblocks(const struct replay *r);
const struct replay_block *replay_block(const struct replay *r, size_t i);
/* Position of the record with sequence number seq, or of the first one after it (the last
 * position when none is). */
uint64_t replay_pos_of_seq(struct replay *r, uint64_t seq);

/* The record at position pos (pointer into the mapping), NULL when out of range. Any
 * position costs a binary search over the blocks and a walk over at most 31 records. */
const struct ept_rec *replay_rec(struct replay *r, uint64_t pos);
/* Call fn(rec, pos, arg) for every record from position from on, in order, until fn
 * returns non-zero (then that value is returned; 0 after the last record). A walk costs
 * a step a record where replay_rec(r, pos) for each pos searches for each. */
int replay_walk(struct replay *r, uint64_t from,
                int (*fn)(const struct ept_rec *rec, uint64_t pos, void *arg), void *arg);
/* Move the model to the state after record pos. Returns 0 or -ERANGE. */
int replay_seek(struct replay *r, uint64_t pos);
uint64_t replay_pos(const struct replay *r);

/* The model at the current position. */
const struct state *replay_state(const struct replay *r);
size_t replay_socks(struct replay *r, const struct state_sock ***socks); /* sorted by fd */
size_t replay_nsocks(const struct replay *r);                              /* no sorting */
const struct state_sock *replay_sock(struct replay *r, uint32_t sid);
/* The batch of the thread that made the current record (of the last thread that waited,
 * for records no thread made). */
const struct state_wait *replay_wait(const struct replay *r);
/* The epoll sets of the whole trace, in the order their first epoll_wait came: the epoll
 * fd's identity, its number, and the thread that waited on it first. */
struct replay_set {
    uint32_t sid;
    int32_t fd;
    uint32_t tid;
};
size_t replay_nsets(const struct replay *r);
const struct replay_set *replay_set(const struct replay *r, size_t i);
/* The batch of the last epoll_wait on set sid at the current position (of any thread), or
 * replay_wait's when sid is 0 or no thread waited on it yet. */
const struct state_wait *replay_wait_on(const struct replay *r, uint32_t sid);

/* Bytes read from s's peer and not yet written to s; REPLAY_UNKNOWN when s has no known
 * peer (a recorded program's socket whose data went nowhere we saw). */
#define REPLAY_UNKNOWN UINT64_MAX
uint64_t replay_pending(struct replay *r, const struct state_sock *s);

/* Diagnoses, in the order found; and totals. */
size_t replay_findings(const struct replay *r, const struct finding **out);
/* The seq numbers finding f names: for records lost, the missing ones when known (last 0
 * while the end of a damaged region is not), else those of the records that show it. */
void replay_finding_seqs(struct replay *r, const struct finding *f, uint64_t *first,
                         uint64_t *last);
const struct replay_counts *replay_counts(const struct replay *r);
/* Findings whose [first, last] contains pos, as indexes into replay_findings (up to max). */
size_t replay_findings_at(const struct replay *r, uint64_t pos, size_t *idx, size_t max);

/* The trace's trigger mode as the header says (EPT_MODE_*; EPT_MODE_NONE: a recording). */
unsigned replay_mode(const struct replay *r);
/* Whether the trace was written by `epscope proxy` (its roles are client and backend). */
int replay_is_proxy(const struct replay *r);
/* A role's name as this trace's readers expect it: client/backend for the proxy,
 * accepted/connected for a recorded program. */
const char *replay_role_name(const struct replay *r, unsigned role);

#endif
