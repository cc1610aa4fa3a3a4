/* replay.h - the replay model: turns a trace into the state of every socket at any record,
 * and finds the diagnoses. The one place that turns records into state: check, dump
 * --story, compare and the viewer all read it.
 *
 * Opening a trace runs one forward pass over every record that (a) indexes its blocks,
 * (b) finds every diagnosis and (c) saves a checkpoint of the model every K records. Seeking
 * to a position restores the nearest checkpoint at or before it and replays at most K
 * records, so stepping back costs the same as stepping forward.
 *
 * Positions are record ordinals, 0 .. count-1 (not seq numbers, which have gaps where
 * records were lost). "The state at position p" is the state after record p was applied.
 */
#ifndef EPSCOPE_REPLAY_H
#define EPSCOPE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept.h"
#include "reader.h"

/* What the program last learned from a socket. */
enum rp_learned {
    RP_NOTHING = 0,
    RP_DATA,      /* a read returned bytes */
    RP_EAGAIN,    /* a read returned EAGAIN */
    RP_EOF,       /* a read returned 0 */
    RP_ERROR,     /* a read or write failed otherwise */
};

/* One live socket (registered or not), keyed by its sid. */
struct rp_sock {
    uint32_t sid;
    int32_t fd;
    uint32_t conn;
    uint8_t role;             /* EPT_ROLE_* */
    uint8_t in_set;           /* in the epoll interest list */
    uint8_t armed;            /* one-shot: may still fire (1 for non-one-shot in the set) */
    uint8_t learned;          /* enum rp_learned */
    uint8_t eof;              /* read returned 0 */
    uint8_t wr_shut;          /* shutdown(SHUT_WR) done */
    uint8_t connecting;       /* backend: connect in progress */
    uint8_t uncertain;        /* records were lost since it appeared: state may be wrong */
    uint32_t interest;        /* events as last registered (EPOLLIN, EPOLLET, ...) */
    uint32_t last_ready;      /* revents of the last event reported for it */
    uint32_t peer_sid;        /* the other socket of its connection, 0 if none yet */
    uint16_t backend;         /* backend index (backend sockets) */
    uint16_t pad;
    int32_t last_read;        /* result of the last read (bytes or -errno) */
    int32_t last_write;
    uint64_t bytes_in;        /* read from this socket */
    uint64_t bytes_out;       /* written to this socket */
    uint64_t changed;         /* position of the last record that changed it */
    uint64_t opened;          /* position where it appeared */
    struct ept_addr addr;     /* client: its address; backend: the backend's; listener: own */
};

/* What the handler did with one event of the current ready list. */
struct rp_event {
    uint32_t sid;
    int32_t fd;
    uint32_t events;
    uint8_t role;
    uint8_t handled;          /* a handle record came for it */
    uint8_t stale;            /* its socket was closed before it was handled */
    uint8_t closed;           /* the handler closed its socket */
    uint32_t reads, writes, accepts;
    uint32_t eagains;
    uint64_t bytes_read, bytes_written;
    int32_t first_read;       /* result of the handler's first read of this fd, or 0 */
    uint8_t has_read;
    uint8_t eof;
};

/* The epoll_wait the position is in (its ready list and which event is being handled). */
struct rp_wait {
    uint64_t pos;             /* of the epoll_wait record; UINT64_MAX before the first */
    int32_t result;
    int32_t timeout;
    uint64_t blocked_ns;
    uint32_t n;               /* events in ev[] */
    int32_t current;          /* index being handled, -1 before the first handle */
    struct rp_event *ev;
};

/* Diagnosis ids: stable, also their order in reports. */
enum rp_diag {
    RP_MISTRIGGER = 0,
    RP_EDGE_STARVATION,
    RP_ONESHOT_NOT_REARMED,
    RP_BUSY_EPOLLOUT,
    RP_EOF_SPIN,
    RP_ACCEPT_STARVATION,
    RP_STALE_EVENT,
    RP_SPURIOUS_WAKEUP,
    RP_LOST_RECORDS,
    RP_DIAG_COUNT
};

struct rp_finding {
    unsigned diag;            /* enum rp_diag */
    uint64_t first, last;     /* positions of the records that show it */
    uint64_t first_seq, last_seq;
    uint32_t sid;             /* the socket, 0 if none */
    int32_t fd;
    uint32_t conn;
    uint64_t count;           /* occurrences folded into this finding (events, records) */
    char what[200];           /* what happened here, in one sentence */
};

struct rp_counts {            /* totals over the whole trace */
    uint64_t records, waits, empty_waits, events, ctl[4], reads, writes, eagains;
    uint64_t accepts, connects, closes, conns, bytes_read, bytes_written, lost;
    uint64_t wasted;          /* events handled with nothing done */
    uint64_t blocked_ns, duration_ns;
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
 * records (diagnoses and counts include them). */
int64_t replay_refresh(struct replay *r);

/* The record at position pos (pointer into the mapping), NULL when out of range. */
const struct ept_rec *replay_rec(struct replay *r, uint64_t pos);
/* Move the model to the state after record pos. Returns 0 or -ERANGE. */
int replay_seek(struct replay *r, uint64_t pos);
uint64_t replay_pos(const struct replay *r);

/* State at the current position. */
size_t replay_socks(struct replay *r, const struct rp_sock ***socks); /* sorted by fd */
size_t replay_nsocks(const struct replay *r);                         /* without sorting */
const struct rp_sock *replay_sock(struct replay *r, uint32_t sid);
const struct rp_wait *replay_wait(const struct replay *r);
/* Bytes read from sid's peer and not yet written to sid (the proxy's buffer toward it). */
uint64_t replay_pending(struct replay *r, const struct rp_sock *s);

/* Diagnoses, in the order found; and totals. */
size_t replay_findings(const struct replay *r, const struct rp_finding **out);
const struct rp_counts *replay_counts(const struct replay *r);
/* Findings whose [first, last] contains pos, as indexes into replay_findings (up to max). */
size_t replay_findings_at(const struct replay *r, uint64_t pos, size_t *idx, size_t max);

/* The trace's trigger mode as the header says (EPT_MODE_*). */
unsigned replay_mode(const struct replay *r);

/* Stable id ("mis-trigger"), severity ("error" / "warning"), a one-paragraph explanation
 * for students, and the fix. */
const char *rp_diag_id(unsigned diag);
const char *rp_diag_severity(unsigned diag);
int rp_diag_is_error(unsigned diag);
const char *rp_diag_explain(unsigned diag);
const char *rp_diag_fix(unsigned diag);


#endif
