/* trace.c - the recorder: emitters fill fixed binary records in the ring; a flusher thread
 * cuts the ring's contents into CRC-checked blocks and writes them to the file. */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define BLOCK_TARGET (64u << 10) /* records per block: big enough to be cheap, small
                                    enough that a torn tail loses little */

struct trace {
    struct ring ring;       /* first: its cache lines are the hot ones */
    /* producer side */
    uint64_t seq;           /* next seq to hand out */
    uint64_t lost_n;        /* dropped since the last lost record was written */
    uint64_t lost_first_seq, lost_last_seq, lost_first_ns, lost_last_ns;
    uint64_t lost_total;
    uint16_t preview;
    /* flusher side */
    int fd;
    pthread_t thread;
    _Atomic int stop;
    uint64_t blocks, bytes;
    uint64_t unwritten;     /* records in blocks that could not be written */
    int werr;
    char *path;             /* for the message when a write fails */
};

/* The calling thread's id, read once per thread (every record carries it). */
static uint32_t my_tid(void)
{
    static _Thread_local uint32_t tid;
    if (!tid)
        tid = (uint32_t)gettid();
    return tid;
}

uint64_t trace_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- producer ------------------------------------------------------------------------- */

static void note_drop(struct trace *t, uint64_t now)
{
    if (!t->lost_n) {
        t->lost_first_seq = t->seq;
        t->lost_first_ns = now;
    }
    t->lost_n++;
    t->lost_total++;
    t->lost_last_seq = t->seq;
    t->lost_last_ns = now;
    t->seq++;
}

static int emit_lost(struct trace *t, uint64_t now)
{
    struct ept_lost *l = ring_reserve(&t->ring, sizeof(*l));
    if (!l)
        return 0;
    l->h = (struct ept_rec){EPT_LOST, sizeof(*l), my_tid(), t->seq++, now};
    l->count = t->lost_n;
    l->first_seq = t->lost_first_seq;
    l->last_seq = t->lost_last_seq;
    l->first_ns = t->lost_first_ns;
    l->last_ns = t->lost_last_ns;
    ring_commit(&t->ring);
    t->lost_n = 0;
    return 1;
}

/* Reserve a record of size bytes with its header filled, or NULL (counted as lost). A
 * pending lost record goes first, so a gap in seq is always explained before it shows. */
static void *emit_begin(struct trace *t, uint16_t type, size_t size)
{
    uint64_t now = trace_now();
    if (t->lost_n && !emit_lost(t, now)) {
        note_drop(t, now);
        return NULL;
    }
    struct ept_rec *r = ring_reserve(&t->ring, (uint32_t)size);
    if (!r) {
        note_drop(t, now);
        return NULL;
    }
    *r = (struct ept_rec){type, (uint16_t)size, my_tid(), t->seq++, now};
    return r;
}

#define EMIT(t, type, T, var)                                                                \
    T *var = emit_begin(t, type, sizeof(T));                                                 \
    if (!var)                                                                                \
    return

void trace_epoll_create(struct trace *t, int result, int flags)
{
    if (!t)
        return;
    EMIT(t, EPT_EPOLL_CREATE, struct ept_epoll_create, r);
    r->result = result;
    r->flags = flags;
    r->sid = 0;
    r->call = EPT_CALL_DEFAULT;
    ring_commit(&t->ring);
}

void trace_epoll_ctl(struct trace *t, int epfd, int op, const struct ept_sock *s,
                     uint32_t events, int result)
{
    if (!t)
        return;
    EMIT(t, EPT_EPOLL_CTL, struct ept_epoll_ctl, r);
    r->s = *s;
    r->epfd = epfd;
    r->op = op;
    r->events = events;
    r->result = result;
    ring_commit(&t->ring);
}

void trace_epoll_wait(struct trace *t, int epfd, int timeout, int maxevents, int result,
                      uint64_t blocked_ns)
{
    if (!t)
        return;
    EMIT(t, EPT_EPOLL_WAIT, struct ept_epoll_wait, r);
    r->epfd = epfd;
    r->timeout = timeout;
    r->maxevents = maxevents;
    r->result = result;
    r->blocked_ns = blocked_ns;
    r->call = EPT_CALL_DEFAULT;
    r->pad = 0;
    ring_commit(&t->ring);
}

void trace_event(struct trace *t, uint16_t type, const struct ept_sock *s, uint32_t events,
                 uint32_t index)
{
    if (!t)
        return;
    EMIT(t, type, struct ept_ready, r);
    r->s = *s;
    r->events = events;
    r->index = index;
    ring_commit(&t->ring);
}

void trace_listen(struct trace *t, const struct ept_sock *s, const struct ept_addr *addr,
                  int result, int backlog)
{
    if (!t)
        return;
    EMIT(t, EPT_LISTEN, struct ept_listen, r);
    r->s = *s;
    r->addr = *addr;
    r->result = result;
    r->backlog = backlog;
    ring_commit(&t->ring);
}

void trace_accept(struct trace *t, const struct ept_sock *listener, const struct ept_sock *s,
                  int result, const struct ept_addr *peer)
{
    if (!t)
        return;
    EMIT(t, EPT_ACCEPT, struct ept_accept, r);
    r->listener = *listener;
    r->s = *s;
    r->result = result;
    r->call = EPT_CALL_DEFAULT;
    if (peer)
        r->peer = *peer;
    else
        memset(&r->peer, 0, sizeof(r->peer));
    ring_commit(&t->ring);
}

void trace_connect(struct trace *t, const struct ept_sock *s, unsigned backend, unsigned phase,
                   int result, const struct ept_addr *addr)
{
    if (!t)
        return;
    EMIT(t, EPT_CONNECT, struct ept_connect, r);
    r->s = *s;
    r->backend = (uint16_t)backend;
    r->phase = (uint8_t)phase;
    r->pad = 0;
    r->result = result;
    r->addr = *addr;
    ring_commit(&t->ring);
}

void trace_io(struct trace *t, uint16_t type, const struct ept_sock *s, size_t asked,
              long result, const void *data)
{
    if (!t)
        return;
    size_t keep = result > 0 && data ? (size_t)result : 0;
    if (keep > t->preview)
        keep = t->preview;
    struct ept_io *r = emit_begin(t, type, sizeof(*r) + ept_pad8(keep));
    if (!r)
        return;
    r->s = *s;
    r->asked = asked > UINT32_MAX ? UINT32_MAX : (uint32_t)asked;
    r->result = (int32_t)result;
    r->preview_len = (uint16_t)keep;
    r->call = EPT_CALL_DEFAULT;
    memset(r->pad, 0, sizeof(r->pad));
    uint8_t *p = (uint8_t *)(r + 1);
    if (keep) /* data may be NULL when nothing moved */
        memcpy(p, data, keep);
    memset(p + keep, 0, ept_pad8(keep) - keep);
    ring_commit(&t->ring);
}

void trace_shutdown(struct trace *t, const struct ept_sock *s, int how, int result)
{
    if (!t)
        return;
    EMIT(t, EPT_SHUTDOWN, struct ept_shutdown, r);
    r->s = *s;
    r->how = how;
    r->result = result;
    ring_commit(&t->ring);
}

void trace_sock_close(struct trace *t, const struct ept_sock *s, int result, unsigned reason,
                      long unread)
{
    if (!t)
        return;
    EMIT(t, EPT_CLOSE, struct ept_close, r);
    r->s = *s;
    r->result = result;
    r->reason = reason;
    r->flags = unread >= 0 ? EPT_CLOSEF_UNREAD : 0;
    r->unread = unread >= 0 ? (uint32_t)unread : 0;
    ring_commit(&t->ring);
}

void trace_dup(struct trace *t, const struct ept_sock *s, int oldfd, int result, unsigned call)
{
    if (!t)
        return;
    EMIT(t, EPT_DUP, struct ept_dup, r);
    r->s = *s;
    r->oldfd = oldfd;
    r->result = result;
    r->call = call;
    r->pad = 0;
    ring_commit(&t->ring);
}

void trace_pick(struct trace *t, const struct ept_sock *client, unsigned backend,
                unsigned algo, unsigned attempt, unsigned active)
{
    if (!t)
        return;
    EMIT(t, EPT_PICK, struct ept_pick, r);
    r->client = *client;
    r->backend = (uint16_t)backend;
    r->algo = (uint8_t)algo;
    r->attempt = (uint8_t)(attempt > 255 ? 255 : attempt);
    r->active = active;
    ring_commit(&t->ring);
}

void trace_timeout(struct trace *t, const struct ept_sock *s, unsigned kind, unsigned ms)
{
    if (!t)
        return;
    EMIT(t, EPT_TIMEOUT, struct ept_timeout, r);
    r->s = *s;
    r->kind = kind;
    r->ms = ms;
    ring_commit(&t->ring);
}

void trace_pause(struct trace *t, const struct ept_sock *listener, int paused, unsigned reason)
{
    if (!t)
        return;
    EMIT(t, EPT_PAUSE, struct ept_pause, r);
    r->s = *listener;
    r->paused = (uint32_t)!!paused;
    r->reason = reason;
    ring_commit(&t->ring);
}

void trace_queue(struct trace *t, const struct ept_sock *s, unsigned kind, uint32_t count,
                 uint32_t max)
{
    if (!t)
        return;
    EMIT(t, EPT_QUEUE, struct ept_queue, r);
    r->s = *s;
    r->kind = kind;
    r->count = count;
    r->max = max;
    r->pad = 0;
    ring_commit(&t->ring);
}

void trace_health(struct trace *t, unsigned backend, int up, int reason, unsigned down_ms)
{
    if (!t)
        return;
    EMIT(t, EPT_HEALTH, struct ept_health, r);
    r->backend = (uint16_t)backend;
    r->up = (uint8_t)!!up;
    r->pad = 0;
    r->reason = reason;
    r->down_ms = down_ms;
    r->pad2 = 0;
    ring_commit(&t->ring);
}

void trace_note(struct trace *t, unsigned kind, const char *fmt, ...)
{
    if (!t)
        return;
    char text[EPT_NOTE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    struct ept_note *r = emit_begin(t, EPT_NOTE, sizeof(*r) + ept_pad8(len));
    if (!r)
        return;
    r->kind = (uint16_t)kind;
    r->len = (uint16_t)len;
    r->pad = 0;
    uint8_t *p = (uint8_t *)(r + 1);
    memcpy(p, text, len);
    memset(p + len, 0, ept_pad8(len) - len);
    ring_commit(&t->ring);
}

unsigned trace_preview(const struct trace *t)
{
    return t ? t->preview : 0;
}

/* --- flusher -------------------------------------------------------------------------- */

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Write len bytes of whole records at p as one block. */
static void write_block(struct trace *t, const uint8_t *p, size_t len, uint32_t nrec)
{
    struct ept_block b;
    uint32_t trailer[2];
    ept_block_seal(&b, trailer, p, len, nrec);
    uint32_t total = b.length;
    if (t->werr) {
        t->unwritten += nrec;
        return;
    }
    struct iovec iov[3] = {{&b, sizeof(b)}, {(void *)p, len}, {trailer, sizeof(trailer)}};
    int rc = write_all(t->fd, iov, 3);
    if (rc < 0) {
        /* A full disk or the file-size limit (EFBIG: SIGXFSZ is the caller's to ignore):
         * the program goes on, recording stops. Cut the torn block off so the file ends
         * on a whole one, and say so now, not only at exit. */
        t->werr = rc;
        t->unwritten += nrec;
        if (ftruncate(t->fd, (off_t)t->bytes) < 0) {
            /* the reader stops at the torn tail anyway */
        }
        fprintf(stderr, "epscope: trace %s: %s after %llu bytes; recording stops, records "
                "from here on are counted as lost\n", t->path, strerror(-rc),
                (unsigned long long)t->bytes);
        return;
    }
    t->blocks++;
    t->bytes += total;
}

/* Write out everything committed so far; returns the bytes consumed. */
static size_t flush_some(struct trace *t)
{
    size_t done = 0;
    const uint8_t *p;
    size_t n;
    while ((n = ring_peek(&t->ring, &p)) > 0) {
        size_t off = 0;
        while (off < n) {
            const struct ept_rec *r = (const void *)(p + off);
            if (r->type == EPT_PAD) { /* the rest of the buffer up to its end */
                off = n;
                break;
            }
            size_t start = off, nrec = 0;
            while (off < n && r->type != EPT_PAD && off - start + r->size <= BLOCK_TARGET) {
                off += r->size;
                nrec++;
                r = (const void *)(p + off);
            }
            write_block(t, p + start, off - start, (uint32_t)nrec);
        }
        ring_release(&t->ring, n);
        done += n;
    }
    return done;
}

static void *flusher(void *arg)
{
    struct trace *t = arg;
    long nap_us = 1000;
    for (;;) {
        int stop = atomic_load_explicit(&t->stop, memory_order_acquire);
        if (flush_some(t)) {
            nap_us = 1000;
            continue; /* more may have come while writing */
        }
        if (stop)
            break;
        /* Back off when idle, but stay well under a tenth of a second so that a viewer
         * following the file sees records promptly. */
        struct timespec ts = {0, nap_us * 1000};
        nanosleep(&ts, NULL);
        if (nap_us < 32000)
            nap_us *= 2;
    }
    return NULL;
}

/* --- open / finish -------------------------------------------------------------------- */

/* What kind of file st is, for a refusal. */
static const char *file_kind(const struct stat *st)
{
    return S_ISFIFO(st->st_mode) ? "a FIFO" : S_ISDIR(st->st_mode) ? "a directory"
           : S_ISSOCK(st->st_mode) ? "a socket" : "a device";
}

/* Create path for writing (mode 0600), or with force reuse it if it is a regular file;
 * returns the fd or -errno with a message in err. Never blocks: a FIFO would hold open()
 * until a reader came, so it is opened O_NONBLOCK, and truncation waits until fstat has
 * shown a regular file. */
static int open_file(const char *path, int force, char *err, size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (force ? 0 : O_EXCL);
    struct stat st;
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST && lstat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISLNK(st.st_mode)) /* --force would not help: say what it is at once */
            snprintf(err, errlen, "%s is not a regular file (%s); a trace must be one", path,
                     file_kind(&st));
        else if (e == EEXIST)
            snprintf(err, errlen, "%s exists (use --force to overwrite it)", path);
        else if (e == ELOOP)
            snprintf(err, errlen, "%s is a symbolic link; refusing to write through it", path);
        else if ((e == ENXIO || e == EISDIR) && lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
            snprintf(err, errlen, "%s is not a regular file (%s); a trace must be one", path,
                     file_kind(&st));
        else
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file (%s); a trace must be one", path,
                 file_kind(&st));
        close(fd);
        return -EINVAL;
    }
    if (force && (ftruncate(fd, 0) < 0 || fchmod(fd, 0600) < 0)) {
        int e = errno; /* an existing file keeps its mode otherwise */
        snprintf(err, errlen, "cannot overwrite %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    /* blocking again: the flusher's writes to a regular file never wait anyway, and a
     * short write should not be mistaken for a full disk */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int trace_open(struct trace **out, const struct trace_opts *o, char *err, size_t errlen)
{
    struct trace *t = NULL;
    uint8_t *hdrbuf = NULL;
    int rc;
    const char *config = o->config ? o->config : "";
    size_t config_len = strlen(config);

    *out = NULL;
    if (config_len > EPT_CONFIG_MAX) {
        snprintf(err, errlen, "trace configuration text too long (%zu bytes)", config_len);
        return -EINVAL;
    }
    if (o->preview > EPT_PREVIEW_MAX) {
        snprintf(err, errlen, "--preview: at most %d bytes", EPT_PREVIEW_MAX);
        return -EINVAL;
    }
    /* aligned_alloc, not calloc: the ring's positions are _Alignas(64) (own cache lines),
     * more than malloc promises. sizeof is a multiple of that alignment. */
    t = aligned_alloc(_Alignof(struct trace), sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    size_t ring_size = o->ring_size ? o->ring_size : TRACE_RING_DEFAULT;
    rc = ring_init(&t->ring, ring_size);
    if (rc < 0) {
        snprintf(err, errlen, "--ring-size %zu: must be a power of two from %u to %u bytes",
                 ring_size, RING_MIN_SIZE, RING_MAX_SIZE);
        goto fail;
    }
    t->path = strdup(o->path);
    if (!t->path) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rc = open_file(o->path, o->force, err, errlen);
    if (rc < 0)
        goto fail;
    t->fd = rc;
    t->seq = 1;
    t->preview = o->preview;

    struct ept_header h;
    ept_header_init(&h, o->mode, o->listener_mode, o->preview, (uint32_t)ring_size);
    size_t hsize = ept_header_size(config_len);
    hdrbuf = malloc(hsize);
    if (!hdrbuf) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ept_header_encode(&h, config, config_len, hdrbuf);
    struct iovec iov = {hdrbuf, hsize};
    rc = write_all(t->fd, &iov, 1);
    if (rc < 0) {
        snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(-rc));
        goto fail;
    }
    t->bytes = hsize;
    free(hdrbuf);
    hdrbuf = NULL;
    atomic_init(&t->stop, 0);
    rc = -pthread_create(&t->thread, NULL, flusher, t);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the trace flusher: %s", strerror(-rc));
        goto fail;
    }
    *out = t;
    return 0;
fail:
    free(hdrbuf);
    if (t->fd >= 0)
        close(t->fd);
    ring_free(&t->ring);
    free(t->path);
    free(t);
    return rc;
}

int trace_finish(struct trace *t, struct trace_stats *st)
{
    if (!t)
        return 0;
    /* END must get in: if the ring is full, wait for the flusher to make room. */
    for (int tries = 0; tries < 2000; tries++) {
        uint64_t now = trace_now();
        if (t->lost_n && !emit_lost(t, now))
            goto wait;
        struct ept_end *e = ring_reserve(&t->ring, sizeof(*e));
        if (e) {
            e->h = (struct ept_rec){EPT_END, sizeof(*e), my_tid(), t->seq++, now};
            e->records = e->h.seq;
            e->lost = t->lost_total;
            ring_commit(&t->ring);
            break;
        }
    wait:;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store_explicit(&t->stop, 1, memory_order_release);
    pthread_join(t->thread, NULL);
    int rc = t->werr;
    if (close(t->fd) < 0 && !rc)
        rc = -errno;
    if (st) {
        st->records = t->seq - 1;
        st->unwritten = t->unwritten;
        st->lost = t->lost_total + t->unwritten;
        st->written = st->records - st->lost;
        st->blocks = t->blocks;
        st->bytes = t->bytes;
        st->write_error = rc;
    }
    ring_free(&t->ring);
    free(t->path);
    free(t);
    return rc;
}

/* --- flush barrier -------------------------------------------------------------------- */

int trace_sync(struct trace *t, unsigned timeout_ms)
{
    if (!t)
        return 0;
    /* Everything committed so far lies below head; the flusher releases a record (moves the
     * tail past it) only after writing it, and its release store pairs with this acquire
     * load, so once the tail reaches the head every write it did is visible here. The
     * flusher naps at most 32 ms when idle: polling every millisecond costs nothing. */
    uint64_t head = atomic_load_explicit(&t->ring.head, memory_order_acquire);
    uint64_t deadline = trace_now() + (uint64_t)timeout_ms * 1000000u;
    while (atomic_load_explicit(&t->ring.tail, memory_order_acquire) < head) {
        if (trace_now() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return t->werr;
}
