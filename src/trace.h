/* trace.h - the recorder: the event loop's records go into a ring, a flusher thread writes
 * them to a .ept file in CRC-checked blocks. Every trace_* emitter is safe to call with a
 * NULL trace (then it does nothing), never blocks and never allocates. */
#ifndef EPSCOPE_TRACE_H
#define EPSCOPE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "ept.h"

#define TRACE_RING_DEFAULT (4u << 20)
#define TRACE_PREVIEW_DEFAULT 64

struct trace;

struct trace_opts {
    const char *path;
    int force;            /* overwrite an existing regular file */
    size_t ring_size;     /* power of two; 0 for TRACE_RING_DEFAULT */
    uint16_t preview;     /* bytes of payload kept per read/write */
    uint8_t mode;         /* EPT_MODE_* */
    uint8_t listener_mode;
    const char *config;   /* "key=value\n" lines for the header, may be NULL */
};

struct trace_stats {
    uint64_t records;     /* produced, END included */
    uint64_t lost;        /* not in the file: dropped (ring full) or not written */
    uint64_t unwritten;   /* of lost: could not be written (ENOSPC, EFBIG...) */
    uint64_t written;     /* records in the file */
    uint64_t blocks;      /* written to the file */
    uint64_t bytes;       /* written to the file, header included */
    int write_error;      /* -errno of the first failed write, 0 if none */
};

/* Create the file (mode 0600, never through a symlink, never over an existing file unless
 * force), write its header and start the flusher. Returns 0 or -errno; on failure err holds
 * one line for the user. */
int trace_open(struct trace **out, const struct trace_opts *o, char *err, size_t errlen);
/* Write an END record, flush everything, stop the flusher, close the file; fills st if not
 * NULL. Returns 0, or the -errno of the first write error. Frees t. */
int trace_finish(struct trace *t, struct trace_stats *st);
/* Flush barrier, from the producer's thread: wait (at most timeout_ms) until every record
 * emitted so far is in the file. Returns 0, the -errno of a write error (the records were
 * counted as lost instead), or -ETIMEDOUT. */
int trace_sync(struct trace *t, unsigned timeout_ms);
/* Payload bytes kept per read/write record. */
unsigned trace_preview(const struct trace *t);

/* Emitters: one record each, timestamped now. */
void trace_epoll_create(struct trace *t, int result, int flags);
void trace_epoll_ctl(struct trace *t, int epfd, int op, const struct ept_sock *s,
                     uint32_t events, int result);
void trace_epoll_wait(struct trace *t, int epfd, int timeout, int maxevents, int result,
                      uint64_t blocked_ns);
/* type is EPT_READY or EPT_HANDLE. */
void trace_event(struct trace *t, uint16_t type, const struct ept_sock *s, uint32_t events,
                 uint32_t index);
void trace_listen(struct trace *t, const struct ept_sock *s, const struct ept_addr *addr,
                  int result, int backlog);
void trace_accept(struct trace *t, const struct ept_sock *listener, const struct ept_sock *s,
                  int result, const struct ept_addr *peer);
void trace_connect(struct trace *t, const struct ept_sock *s, unsigned backend, unsigned phase,
                   int result, const struct ept_addr *addr);
/* type is EPT_READ or EPT_WRITE; data holds the bytes moved (result > 0) or NULL. */
void trace_io(struct trace *t, uint16_t type, const struct ept_sock *s, size_t asked,
              long result, const void *data);
void trace_shutdown(struct trace *t, const struct ept_sock *s, int how, int result);
/* unread: bytes the kernel still held for reading just before the close, -1 not known. */
void trace_sock_close(struct trace *t, const struct ept_sock *s, int result, unsigned reason,
                      long unread);
/* dup/dup2/dup3/fcntl(F_DUPFD): s is the new number (s->sid the original's), call EPT_CALL_*. */
void trace_dup(struct trace *t, const struct ept_sock *s, int oldfd, int result, unsigned call);
void trace_pick(struct trace *t, const struct ept_sock *client, unsigned backend,
                unsigned algo, unsigned attempt, unsigned active);
void trace_timeout(struct trace *t, const struct ept_sock *s, unsigned kind, unsigned ms);
void trace_pause(struct trace *t, const struct ept_sock *listener, int paused, unsigned reason);
/* What the kernel still held when a handler stopped short (EPT_QUEUE_*). */
void trace_queue(struct trace *t, const struct ept_sock *s, unsigned kind, uint32_t count,
                 uint32_t max);
void trace_health(struct trace *t, unsigned backend, int up, int reason, unsigned down_ms);
/* A free-text note (formats: keep it off hot paths). */
void trace_note(struct trace *t, unsigned kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in ns. */
uint64_t trace_now(void);

#endif
