/* preload.c - the recorder library, libepscope-record.so: `epscope record` preloads it into
 * any dynamically linked program, and it writes that program's epoll and socket calls into
 * a .ept trace, one per process, in the format the proxy writes (src/ept.h).
 *
 * How it stays out of the program's way:
 *
 *   - Each libc function is interposed: the real one (found once with dlsym(RTLD_NEXT)) is
 *     called first, then the call is recorded from its arguments and result, and errno is
 *     put back. Nothing on that path blocks, takes a lock or allocates (except a thread's
 *     first record, which maps its ring): a record is written into the calling thread's own
 *     lock-free ring (src/ring.c), stamped with a sequence number from one atomic counter
 *     so the records of all threads have one order.
 *   - Only calls on sockets, epoll fds and fds registered in an epoll set are recorded: a
 *     table per fd number (two levels, mapped on demand) says what each number is; a number
 *     first seen is looked at once (fstat) and, if it matters, announced with an fdinfo
 *     record. A file keeps one identity (sid) across dup; a closed number loses it.
 *   - epoll_wait returns the program's data, not fds: epoll_ctl records (set, data) ->
 *     (fd, sid) in a lock-free map, so each ready event is recorded with its registration.
 *   - One flusher thread per process, started with the trace, merges the rings in sequence
 *     order into CRC-checked blocks and writes them every few milliseconds: a program that
 *     dies to SIGTERM without running exit handlers still leaves a trace readable to its
 *     last block. The trace file is opened O_CLOEXEC on a high fd number, and the library
 *     pretends to close it if the program closes every fd.
 *   - A thread guard (in_hook) keeps the library's own calls, and calls made by a signal
 *     handler that interrupted a hook, from being recorded. The flusher blocks signals.
 *   - fork: the child forgets the parent's rings and file and starts its own trace at its
 *     first call. exec: the trace is flushed and closed first. setuid: the trace is opened
 *     before privileges drop (nginx's workers become nobody before their first epoll call).
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "ept.h"
#include "ring.h"

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* --- the real functions ---------------------------------------------------------------- */

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *from, socklen_t *fromlen);

#define REALS(X)                                                                            \
    X(ssize_t, read, (int, void *, size_t))                                                \
    X(ssize_t, readv, (int, const struct iovec *, int))                                    \
    X(ssize_t, recv, (int, void *, size_t, int))                                           \
    X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))       \
    X(ssize_t, recvmsg, (int, struct msghdr *, int))                                       \
    X(ssize_t, write, (int, const void *, size_t))                                         \
    X(ssize_t, writev, (int, const struct iovec *, int))                                   \
    X(ssize_t, send, (int, const void *, size_t, int))                                     \
    X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
    X(ssize_t, sendmsg, (int, const struct msghdr *, int))                                 \
    X(ssize_t, sendfile, (int, int, off_t *, size_t))                                      \
    X(ssize_t, sendfile64, (int, int, off64_t *, size_t))                                  \
    X(ssize_t, splice, (int, loff_t *, int, loff_t *, size_t, unsigned))                   \
    X(ssize_t, __read_chk, (int, void *, size_t, size_t))                                  \
    X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int))                             \
    X(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int, struct sockaddr *,       \
                                socklen_t *))                                              \
    X(int, socket, (int, int, int))                                                        \
    X(int, listen, (int, int))                                                             \
    X(int, accept, (int, struct sockaddr *, socklen_t *))                                  \
    X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                            \
    X(int, connect, (int, const struct sockaddr *, socklen_t))                             \
    X(int, shutdown, (int, int))                                                           \
    X(int, close, (int))                                                                   \
    X(int, close_range, (unsigned, unsigned, int))                                         \
    X(int, dup, (int))                                                                     \
    X(int, dup2, (int, int))                                                               \
    X(int, dup3, (int, int, int))                                                          \
    X(int, fcntl, (int, int, ...))                                                         \
    X(int, fcntl64, (int, int, ...))                                                       \
    X(int, epoll_create, (int))                                                            \
    X(int, epoll_create1, (int))                                                           \
    X(int, epoll_ctl, (int, int, int, struct epoll_event *))                               \
    X(int, epoll_wait, (int, struct epoll_event *, int, int))                              \
    X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *))           \
    X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *,         \
                          const sigset_t *))                                               \
    X(pid_t, fork, (void))                                                                 \
    X(long, syscall, (long, ...))                                                          \
    X(int, execve, (const char *, char *const[], char *const[]))                           \
    X(int, execveat, (int, const char *, char *const[], char *const[], int))               \
    X(int, fexecve, (int, char *const[], char *const[]))                                   \
    X(int, execv, (const char *, char *const[]))                                           \
    X(int, execvp, (const char *, char *const[]))                                          \
    X(int, execvpe, (const char *, char *const[], char *const[]))                          \
    X(int, setuid, (uid_t))                                                                \
    X(int, seteuid, (uid_t))                                                               \
    X(int, setreuid, (uid_t, uid_t))                                                       \
    X(int, setresuid, (uid_t, uid_t, uid_t))                                               \
    X(int, setgid, (gid_t))                                                                \
    X(int, setegid, (gid_t))                                                               \
    X(int, setregid, (gid_t, gid_t))                                                       \
    X(int, setresgid, (gid_t, gid_t, gid_t))                                               \
    X(void, _exit, (int))

#define DECLARE(ret, name, args) static ret(*real_##name) args;
REALS(DECLARE)
#undef DECLARE

static _Atomic int resolved;

/* Find every real function once (dlsym only; no recorded call can happen in here). */
static void resolve(void)
{
    if (atomic_load_explicit(&resolved, memory_order_acquire))
        return;
#define RESOLVE(ret, name, args) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name);
    REALS(RESOLVE)
#undef RESOLVE
    atomic_store_explicit(&resolved, 1, memory_order_release);
}

#define REAL(name) (resolve(), real_##name)

/* --- the process's settings and trace ------------------------------------------------- */

#define FDS_PAGE_BITS 12
#define FDS_PAGES 256            /* fd numbers up to 2^20 are followed */
#define DMAP_BITS 17             /* (set, data) map: 128 Ki registrations */
#define FLUSH_NAP_MIN_US 1000    /* the flusher's nap between rounds with records */
#define FLUSH_NAP_MAX_US 8000    /* the flusher writes at least this often */
#define FLUSH_IDLE_ROUNDS 4      /* empty rounds at the longest nap: then it sleeps */
#define FLUSH_IDLE_MAX_MS 1000   /* ...until a record wakes it, or this long at most */
#define GAP_WAIT_NS 500000000ull /* a sequence number not committed by then is lost */
#define BLOCK_MAX (64u << 10)

enum fd_kind { K_UNKNOWN = 0, K_SOCKET, K_EPOLL, K_OTHER, K_IGNORED };
/* F_RDHUP: an event said EPOLLRDHUP and no read of the fd followed yet: only then can a
 * close lose what came with the peer's FIN, so only then is FIONREAD asked before it. */
enum fd_flag { F_REGISTERED = 1, F_ANNOUNCED = 2, F_LISTENER = 4, F_RDHUP = 8 };

/* What the library knows of one fd number. */
struct fdent {
    _Atomic uint64_t v;        /* sid << 32 | fdinfo kind << 16 | kind << 8 | flags */
    _Atomic uint64_t data;     /* the epoll data of its (last) registration */
    _Atomic int32_t epfd;      /* the set of that registration, -1 none */
    int32_t pad;
};

/* One (epoll fd, data) -> (fd, sid) mapping: a seqlock'd slot of a lock-free map. */
struct dment {
    _Atomic uint32_t state;    /* 0 empty, 1 being written, 2 full, 3 deleted */
    _Atomic uint32_t ver;      /* odd while being written */
    int32_t epfd;
    int32_t fd;
    uint64_t data;
    uint32_t sid;
    uint32_t pad;
};

/* One thread's ring, in a list the flusher walks. */
struct tring {
    struct ring ring;          /* first: its cache lines are the hot ones */
    _Atomic(struct tring *) next;
    _Atomic int dead;          /* its thread exited: a new thread may take it over */
    uint64_t lost_n;           /* records dropped since the last lost record (producer) */
    uint64_t lost_first_ns, lost_last_ns;
    _Atomic uint64_t lost_total;
};

static struct {
    int active;                /* the settings were read: record */
    char out[PATH_MAX];        /* PRELOAD_ENV_OUT */
    pid_t top;                 /* PRELOAD_ENV_PID */
    size_t ring_size;
    uint16_t preview;
    /* this process's trace */
    _Atomic int state;         /* 0 not open, 1 opening, 2 open, 3 finished or failed */
    int fd;
    pthread_t flusher;
    _Atomic int stop;
    _Atomic uint32_t next_sid;
    _Atomic(struct tring *) rings;
    _Atomic(struct fdent *) fds[FDS_PAGES];
    _Atomic(struct dment *) dmap;
    pthread_key_t key;         /* marks a thread's ring dead when the thread exits */
    int werr;                  /* the first write error (then records are counted lost) */
    uint64_t written, blocks, dropped;
    off_t good;               /* the trace's bytes up to its last whole block */
    char path[PATH_MAX + 32]; /* this process's trace, once opened */
    char report[108];         /* the report socket's name, "" when record gave none */
    char token[PRELOAD_TOKEN_LEN + 1]; /* proves a report comes from CMD's tree */
} g = {.fd = -1};

/* The next sequence number: every record of every thread takes one. On a cache line of its
 * own, and read by the flusher once per round, so that taking one stays cheap. */
static struct {
    _Alignas(64) _Atomic uint64_t seq;
    char pad[64 - sizeof(uint64_t)];
} gs;

/* Set while the flusher sleeps for want of records (an idle program): the thread that
 * commits the next record wakes it. On a line of its own, as every record reads it. */
static struct {
    _Alignas(64) _Atomic uint32_t idle;
    char pad[64 - sizeof(uint32_t)];
} fw;
#define G_SEQ gs.seq

static TLS int in_hook;               /* the library is at work on this thread */
static TLS struct tring *my_ring;
static TLS uint32_t my_tid;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t tid(void)
{
    if (!my_tid)
        my_tid = (uint32_t)syscall(SYS_gettid);
    return my_tid;
}

/* --- the fd table ----------------------------------------------------------------------- */

static struct fdent *fd_ent(int fd, int make)
{
    if (fd < 0 || fd >= FDS_PAGES << FDS_PAGE_BITS)
        return NULL;
    _Atomic(struct fdent *) *slot = &g.fds[fd >> FDS_PAGE_BITS];
    struct fdent *page = atomic_load_explicit(slot, memory_order_acquire);
    if (!page) {
        if (!make)
            return NULL;
        size_t len = sizeof(struct fdent) << FDS_PAGE_BITS;
        struct fdent *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        for (int i = 0; i < 1 << FDS_PAGE_BITS; i++)
            atomic_init(&p[i].epfd, -1);
        struct fdent *none = NULL;
        if (!atomic_compare_exchange_strong(slot, &none, p)) {
            munmap(p, len); /* another thread made it first */
            page = none;
        } else {
            page = p;
        }
    }
    return &page[fd & ((1 << FDS_PAGE_BITS) - 1)];
}

#define V(sid, fkind, kind, flags)                                                         \
    ((uint64_t)(sid) << 32 | (uint64_t)(fkind) << 16 | (uint64_t)(kind) << 8 | (flags))
#define V_SID(v) ((uint32_t)((v) >> 32))
#define V_FKIND(v) ((unsigned)(((v) >> 16) & 0xff))
#define V_KIND(v) ((unsigned)(((v) >> 8) & 0xff))
#define V_FLAGS(v) ((unsigned)((v) & 0xff))

static uint32_t new_sid(void)
{
    return atomic_fetch_add(&g.next_sid, 1);
}

/* What kind of file fd is (EPT_FD_*), looked at once, and whether it listens. */
static unsigned look_at(int fd, unsigned *listening)
{
    struct stat st;
    char link[64], path[32];
    *listening = 0;
    if (fstat(fd, &st) < 0)
        return EPT_FD_UNKNOWN;
    if (S_ISSOCK(st.st_mode)) {
        int v = 0, type = 0, dom = 0;
        socklen_t l = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) == 0 && v)
            *listening = 1;
        l = sizeof(type);
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
        l = sizeof(dom);
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
        if (dom == AF_UNIX)
            return EPT_FD_UNIX;
        if (dom == AF_INET || dom == AF_INET6)
            return type == SOCK_STREAM ? EPT_FD_TCP : type == SOCK_DGRAM ? EPT_FD_UDP
                                                                           : EPT_FD_SOCKET;
        return EPT_FD_SOCKET;
    }
    if (S_ISFIFO(st.st_mode))
        return EPT_FD_PIPE;
    if (S_ISREG(st.st_mode))
        return EPT_FD_FILE;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) {
        link[n] = 0;
        if (strstr(link, "eventpoll"))
            return EPT_FD_EPOLL;
        if (strstr(link, "eventfd"))
            return EPT_FD_EVENTFD;
        if (strstr(link, "timerfd"))
            return EPT_FD_TIMERFD;
        if (strstr(link, "signalfd"))
            return EPT_FD_SIGNALFD;
    }
    return EPT_FD_OTHER;
}

static unsigned kind_of(unsigned fkind)
{
    if (fkind >= EPT_FD_TCP && fkind <= EPT_FD_SOCKET)
        return K_SOCKET;
    if (fkind == EPT_FD_EPOLL)
        return K_EPOLL;
    return fkind == EPT_FD_UNKNOWN ? K_IGNORED : K_OTHER;
}

/* The entry of fd, looked at if the library has not seen the number yet. */
static uint64_t fd_get(int fd, struct fdent **out)
{
    struct fdent *e = fd_ent(fd, 1);
    *out = e;
    if (!e)
        return 0;
    uint64_t v = atomic_load_explicit(&e->v, memory_order_relaxed);
    if (V_KIND(v) != K_UNKNOWN)
        return v;
    unsigned listening, fk = look_at(fd, &listening);
    unsigned k = kind_of(fk);
    v = V(k == K_SOCKET || k == K_EPOLL ? new_sid() : 0, fk, k, listening ? F_LISTENER : 0);
    uint64_t old = 0;
    if (!atomic_compare_exchange_strong(&e->v, &old, v))
        return old; /* another thread looked first */
    return v;
}

/* Whether calls on this fd are recorded: sockets, epoll fds, anything registered. */
static int wanted(uint64_t v)
{
    unsigned k = V_KIND(v);
    return k == K_SOCKET || k == K_EPOLL || (V_FLAGS(v) & F_REGISTERED);
}

/* A number the library now knows as a new file (socket, accept, epoll_create). */
static uint32_t fd_new(int fd, unsigned fkind, unsigned flags)
{
    struct fdent *e = fd_ent(fd, 1);
    uint32_t sid = new_sid();
    if (e) {
        atomic_store(&e->v, V(sid, fkind, kind_of(fkind), flags | F_ANNOUNCED));
        atomic_store(&e->epfd, -1);
    }
    return sid;
}

/* --- the (set, data) map ------------------------------------------------------------------ */

static struct dment *dmap(int make)
{
    struct dment *m = atomic_load_explicit(&g.dmap, memory_order_acquire);
    if (m || !make)
        return m;
    size_t len = sizeof(struct dment) << DMAP_BITS;
    struct dment *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (!atomic_compare_exchange_strong(&g.dmap, &m, p)) {
        munmap(p, len);
        return m;
    }
    return p;
}

static uint32_t dm_hash(int epfd, uint64_t data)
{
    uint64_t h = (data ^ ((uint64_t)(uint32_t)epfd << 40)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> (64 - DMAP_BITS));
}

/* A consistent read of slot s: 1 with *out filled when it is full. */
static int dm_read(struct dment *s, struct dment *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t v1 = atomic_load_explicit(&s->ver, memory_order_acquire);
        if (v1 & 1)
            continue;
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        out->epfd = s->epfd;
        out->fd = s->fd;
        out->data = s->data;
        out->sid = s->sid;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->ver, memory_order_relaxed) == v1)
            return st == 2;
    }
    return 0;
}

/* The registration (fd, sid) of data in set epfd; 0 when unknown. */
static int dm_get(int epfd, uint64_t data, int32_t *fd, uint32_t *sid)
{
    struct dment *m = dmap(0);
    if (!m)
        return 0;
    uint32_t mask = (1u << DMAP_BITS) - 1;
    for (uint32_t i = dm_hash(epfd, data), n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint32_t st = atomic_load_explicit(&m[i].state, memory_order_acquire);
        if (st == 0)
            return 0;
        struct dment e;
        if (dm_read(&m[i], &e) && e.epfd == epfd && e.data == data) {
            *fd = e.fd;
            *sid = e.sid;
            return 1;
        }
    }
    return 0;
}

/* Write slot s (claimed by this thread: state 1, or already full and ours to update). */
static void dm_fill(struct dment *s, int epfd, uint64_t data, int fd, uint32_t sid,
                    uint32_t state)
{
    atomic_fetch_add_explicit(&s->ver, 1, memory_order_acq_rel); /* odd: being written */
    s->epfd = epfd;
    s->data = data;
    s->fd = fd;
    s->sid = sid;
    atomic_store_explicit(&s->state, state, memory_order_release);
    atomic_fetch_add_explicit(&s->ver, 1, memory_order_release);
}

static void dm_put(int epfd, uint64_t data, int fd, uint32_t sid)
{
    struct dment *m = dmap(1);
    if (!m)
        return;
    uint32_t mask = (1u << DMAP_BITS) - 1;
    struct dment *free_slot = NULL;
    for (uint32_t i = dm_hash(epfd, data), n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint32_t st = atomic_load_explicit(&m[i].state, memory_order_acquire);
        struct dment e;
        if (st == 2 && dm_read(&m[i], &e) && e.epfd == epfd && e.data == data) {
            dm_fill(&m[i], epfd, data, fd, sid, 2);
            return;
        }
        if (st == 3 && !free_slot)
            free_slot = &m[i];
        if (st == 0) {
            if (!free_slot)
                free_slot = &m[i];
            break;
        }
    }
    for (int tries = 0; free_slot && tries < 2; tries++) {
        uint32_t want = atomic_load(&free_slot->state);
        if ((want == 0 || want == 3) &&
            atomic_compare_exchange_strong(&free_slot->state, &want, 1)) {
            dm_fill(free_slot, epfd, data, fd, sid, 2);
            return;
        }
    }
    /* full, or lost a race for the slot: the events of this registration go unnamed */
}

static void dm_del(int epfd, uint64_t data)
{
    struct dment *m = dmap(0);
    if (!m)
        return;
    uint32_t mask = (1u << DMAP_BITS) - 1;
    for (uint32_t i = dm_hash(epfd, data), n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint32_t st = atomic_load_explicit(&m[i].state, memory_order_acquire);
        if (st == 0)
            return;
        struct dment e;
        if (st == 2 && dm_read(&m[i], &e) && e.epfd == epfd && e.data == data) {
            uint32_t full = 2;
            atomic_compare_exchange_strong(&m[i].state, &full, 3);
            return;
        }
    }
}

/* --- rings and records ------------------------------------------------------------------ */

static void ring_gone(void *arg)
{
    struct tring *t = arg;
    atomic_store_explicit(&t->dead, 1, memory_order_release);
}

/* This thread's ring: a dead thread's taken over, or a new one mapped. */
static struct tring *ring_mine(void)
{
    if (my_ring)
        return my_ring;
    struct tring *t;
    for (t = atomic_load(&g.rings); t; t = atomic_load(&t->next)) {
        int dead = 1;
        if (atomic_compare_exchange_strong(&t->dead, &dead, 0))
            break;
    }
    if (!t) {
        size_t len = (sizeof(*t) + 4095) & ~(size_t)4095;
        t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED)
            return NULL;
        if (ring_init(&t->ring, g.ring_size) < 0) {
            munmap(t, len);
            return NULL;
        }
        struct tring *head = atomic_load(&g.rings);
        do
            atomic_store(&t->next, head);
        while (!atomic_compare_exchange_weak(&g.rings, &head, t));
    }
    t->lost_n = 0;
    my_ring = t;
    pthread_setspecific(g.key, t);
    return t;
}

static int trace_open(void);

/* seq_cst, as flusher_sleep's store of fw.idle: of the two, one sees the other (on x86 the
 * locked add costs the same either way). */
static uint64_t take_seq(void)
{
    return atomic_fetch_add(&G_SEQ, 1);
}

/* Wake the flusher if it sleeps (flusher_sleep). One load per record otherwise (seq_cst, a
 * plain load on x86: see take_seq). */
static void flusher_wake(void)
{
    if (atomic_load(&fw.idle) && atomic_exchange_explicit(&fw.idle, 0, memory_order_acq_rel)) {
        int err = errno; /* the program's errno is the call's, not this wake-up's */
        REAL(syscall)(SYS_futex, &fw.idle, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = err;
    }
}

/* Room for a record of size bytes in this thread's ring, its header filled (type, size,
 * thread, sequence number, time), or NULL when it cannot be recorded (then it is counted
 * lost). A pending lost record goes first. */
static void *rec_begin(uint16_t type, size_t size)
{
    if (atomic_load_explicit(&g.state, memory_order_acquire) != 2 && trace_open() < 0)
        return NULL;
    struct tring *t = ring_mine();
    if (!t)
        return NULL;
    uint64_t now = now_ns();
    if (t->lost_n) {
        struct ept_lost *l = ring_reserve(&t->ring, sizeof(*l));
        if (!l)
            goto drop;
        /* the dropped records' numbers and this record's, taken at once so that they are
         * one run no other thread has: the flusher skips the run when it meets this record
         * (trace.c's layout: first_seq..last_seq, then the lost record's own seq) */
        uint64_t base = atomic_fetch_add(&G_SEQ, t->lost_n + 1); /* seq_cst: take_seq */
        l->h = (struct ept_rec){EPT_LOST, sizeof(*l), tid(), base + t->lost_n, now};
        l->count = t->lost_n;
        l->first_seq = base;
        l->last_seq = base + t->lost_n - 1;
        l->first_ns = t->lost_first_ns;
        l->last_ns = t->lost_last_ns;
        ring_commit(&t->ring);
        t->lost_n = 0;
    }
    struct ept_rec *r = ring_reserve(&t->ring, (uint32_t)size);
    if (!r)
        goto drop;
    /* the number is taken only once the room is: every number taken gets committed */
    *r = (struct ept_rec){type, (uint16_t)size, tid(), take_seq(), now};
    return r;
drop:
    if (!t->lost_n)
        t->lost_first_ns = now;
    t->lost_n++;
    t->lost_last_ns = now;
    atomic_fetch_add_explicit(&t->lost_total, 1, memory_order_relaxed);
    flusher_wake(); /* a full ring: the flusher must be awake to empty it */
    return NULL;
}

static void rec_end(void)
{
    ring_commit(&my_ring->ring);
    flusher_wake();
}

static void sock_of(struct ept_sock *k, int fd, uint64_t v)
{
    memset(k, 0, sizeof(*k));
    k->fd = fd;
    k->sid = V_SID(v);
}

static void addr_of(struct ept_addr *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof(*a));
    if (!sa)
        return;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        a->family = AF_INET;
        a->port = ntohs(in->sin_port);
        memcpy(a->ip, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        a->family = AF_INET6;
        a->port = ntohs(in6->sin6_port);
        a->scope = in6->sin6_scope_id;
        memcpy(a->ip, &in6->sin6_addr, 16);
    }
}

/* Announce fd (an fdinfo record) if this trace has not said what it is yet. */
static void announce(int fd, struct fdent *e, uint64_t v)
{
    if (!e || (V_FLAGS(v) & F_ANNOUNCED))
        return;
    uint64_t nv = v | F_ANNOUNCED;
    if (!atomic_compare_exchange_strong(&e->v, &v, nv))
        return;
    struct ept_fdinfo *r = rec_begin(EPT_FDINFO, sizeof(*r));
    if (!r)
        return;
    sock_of(&r->s, fd, v);
    r->kind = V_FKIND(v);
    r->flags = V_FLAGS(v) & F_LISTENER ? EPT_FDINFO_LISTENING : 0;
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    memset(&r->local, 0, sizeof(r->local));
    memset(&r->peer, 0, sizeof(r->peer));
    if (V_KIND(v) == K_SOCKET && getsockname(fd, (struct sockaddr *)&ss, &l) == 0)
        addr_of(&r->local, (struct sockaddr *)&ss, l);
    l = sizeof(ss);
    if (V_KIND(v) == K_SOCKET && getpeername(fd, (struct sockaddr *)&ss, &l) == 0)
        addr_of(&r->peer, (struct sockaddr *)&ss, l);
    rec_end();
}

/* The entry of fd if its calls are recorded (announced first), else 0. */
static uint64_t watch(int fd, struct fdent **e)
{
    uint64_t v = fd_get(fd, e);
    if (!wanted(v))
        return 0;
    announce(fd, *e, v);
    return atomic_load_explicit(&(*e)->v, memory_order_relaxed);
}

/* A read or write family call on fd: asked, the result (or -errno), and the bytes moved,
 * gathered from iov for the preview. */
static void rec_io(uint16_t type, uint16_t call, int fd, size_t asked, long result,
                   const struct iovec *iov, int iovcnt)
{
    struct fdent *e;
    /* a call on a number that names nothing (EBADF) is recorded too, with no identity: a
     * program reading an fd it closed is a mistake the analyzer looks for */
    int ebadf = result == -EBADF && atomic_load(&g.state) == 2; /* never opens a trace */
    uint64_t v = result == -EBADF ? 0 : watch(fd, &e);
    if (!v && !ebadf)
        return;
    if (type == EPT_READ && (V_FLAGS(v) & F_RDHUP))
        atomic_fetch_and(&e->v, ~(uint64_t)F_RDHUP); /* read since its EPOLLRDHUP */
    size_t keep = result > 0 && iov ? (size_t)result : 0;
    if (keep > g.preview)
        keep = g.preview;
    struct ept_io *r = rec_begin(type, sizeof(*r) + ept_pad8(keep));
    if (!r)
        return;
    sock_of(&r->s, fd, v);
    r->asked = asked > UINT32_MAX ? UINT32_MAX : (uint32_t)asked;
    r->result = result > INT32_MAX ? INT32_MAX : (int32_t)result;
    r->preview_len = (uint16_t)keep;
    r->call = call;
    r->pad[0] = r->pad[1] = 0;
    uint8_t *p = (uint8_t *)(r + 1);
    size_t got = 0;
    for (int i = 0; i < iovcnt && got < keep; i++) {
        size_t n = iov[i].iov_len < keep - got ? iov[i].iov_len : keep - got;
        memcpy(p + got, iov[i].iov_base, n);
        got += n;
    }
    memset(p + keep, 0, ept_pad8(keep) - keep);
    rec_end();
}

static void rec_io1(uint16_t type, uint16_t call, int fd, const void *buf, size_t asked,
                    long result)
{
    struct iovec iov = {(void *)buf, asked};
    rec_io(type, call, fd, asked, result, buf ? &iov : NULL, 1);
}

/* --- the flusher ------------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = REAL(write)(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Tell record that this process's trace failed (see preload.h): one datagram to the
 * abstract socket record reads, never to the program's stderr, which may be anything by
 * now. Best effort: a record that has already exited is not told. */
static void report(enum preload_report_kind kind, int err, uint64_t lost, const char *path)
{
    /* a process under a seccomp filter might be killed for the socket() */
    if (!g.report[0] || prctl(PR_GET_SECCOMP) != 0)
        return;
    struct preload_report r =
        {PRELOAD_REPORT_MAGIC, (uint32_t)kind, (int32_t)getpid(), err, lost, {0}, {0}};
    memcpy(r.token, g.token, sizeof(r.token));
    size_t pl = strlen(path);
    memcpy(r.path, path, pl < sizeof(r.path) - 1 ? pl : sizeof(r.path) - 1); /* cut if long */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(g.report);
    memcpy(a.sun_path + 1, g.report, n); /* sun_path[0] = 0: the abstract namespace */
    int saved = errno;
    int fd = REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        /* record reads as reports come, but its queue is short (net.unix.max_dgram_qlen):
         * wait a little for room rather than drop it; a record that is gone refuses at once */
        struct timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
        (void)REAL(sendto)(fd, &r, sizeof(r), 0, (const struct sockaddr *)&a, alen);
        REAL(close)(fd);
    }
    errno = saved;
}

static struct {
    uint8_t buf[EPT_BLOCK_HDR + BLOCK_MAX + EPT_BLOCK_TRAILER];
    size_t len;                /* bytes of records */
    uint32_t nrec;
    uint64_t weight;           /* the program records they stand for */
    uint64_t next;             /* the next sequence number to write */
    uint64_t gap_since;        /* when the flusher began waiting for `next` */
} fl;

static void block_flush(void)
{
    if (!fl.nrec)
        return;
    struct ept_block h;
    uint32_t trailer[2];
    ept_block_seal(&h, trailer, fl.buf + EPT_BLOCK_HDR, fl.len, fl.nrec);
    memcpy(fl.buf, &h, sizeof(h));
    memcpy(fl.buf + EPT_BLOCK_HDR + fl.len, trailer, sizeof(trailer));
    if (!g.werr) {
        int rc = write_all(g.fd, fl.buf, h.length);
        if (rc < 0) {
            g.werr = rc; /* the disk is full, or the file too big: records are lost now */
            if (ftruncate(g.fd, g.good) < 0) { /* else the readers see a block cut short */
            }
            report(PRELOAD_REPORT_WRITE, -rc, 0, g.path);
        } else {
            g.blocks++;
            g.good += (off_t)h.length;
        }
    }
    if (g.werr)
        g.dropped += fl.weight;
    else
        g.written += fl.nrec;
    fl.len = 0;
    fl.nrec = 0;
    fl.weight = 0;
}

static void block_add(const struct ept_rec *r)
{
    if (fl.len + r->size > BLOCK_MAX)
        block_flush();
    memcpy(fl.buf + EPT_BLOCK_HDR + fl.len, r, r->size);
    fl.len += r->size;
    fl.nrec++;
    if (r->type == EPT_LOST) {
        struct ept_lost l;
        ept_rec_get(r, &l, sizeof(l));
        fl.weight += l.count;
    } else if (r->type != EPT_END) {
        fl.weight++;
    }
}

/* The next record of ring t (its PAD records skipped), or NULL. */
static const struct ept_rec *ring_head(struct tring *t)
{
    const uint8_t *p;
    size_t n;
    while ((n = ring_peek(&t->ring, &p)) > 0) {
        const struct ept_rec *r = (const void *)p;
        if (r->type != EPT_PAD)
            return r;
        ring_release(&t->ring, r->size);
    }
    return NULL;
}

/* Whether h is a lost record whose dropped records' numbers begin at seq: the numbers
 * from seq to h's own are then accounted for, none of them in a ring. */
static int lost_run_at(const struct ept_rec *h, uint64_t seq)
{
    if (h->type != EPT_LOST || h->seq <= seq)
        return 0;
    struct ept_lost l;
    memcpy(&l, h, sizeof(l));
    return l.first_seq == seq && l.last_seq + 1 == h->seq;
}

/* Move every record whose turn has come into blocks, in sequence order. A number taken but
 * not committed yet holds the others back; one held back longer than GAP_WAIT_NS (its
 * thread was stopped, or a signal handler jumped out of a hook) is given up as lost.
 * Returns the records moved. */
static uint64_t merge(void)
{
    uint64_t moved = 0;
    /* numbers taken before this load are committed, or about to be: the round stops at it */
    uint64_t taken = atomic_load_explicit(&G_SEQ, memory_order_acquire);
    for (;;) {
        if (fl.next >= taken)
            break;
        struct tring *found = NULL;
        const struct ept_rec *r = NULL;
        for (struct tring *t = atomic_load(&g.rings); t; t = atomic_load(&t->next)) {
            const struct ept_rec *h = ring_head(t);
            if (h && (h->seq == fl.next || lost_run_at(h, fl.next))) {
                found = t;
                r = h;
                break;
            }
        }
        if (!found) {
            uint64_t now = now_ns();
            if (!fl.gap_since)
                fl.gap_since = now;
            if (now - fl.gap_since < GAP_WAIT_NS)
                break;
            struct ept_lost l = {{EPT_LOST, sizeof(l), 0, 0, now}, 1, 0, 0, now, now};
            l.h.seq = fl.next++;
            block_add(&l.h);
            fl.gap_since = 0;
            continue;
        }
        fl.gap_since = 0;
        fl.next = r->seq; /* past the dropped records' numbers, when r is a lost record */
        block_add(r);
        ring_release(&found->ring, r->size);
        fl.next++;
        moved++;
    }
    block_flush();
    return moved;
}

/* No record came for FLUSH_IDLE_ROUNDS naps: sleep until a record's thread wakes this one
 * (flusher_wake) or trace_finish does, FLUSH_IDLE_MAX_MS at most, instead of waking every
 * few milliseconds in an idle program. The store of idle and the load of G_SEQ here, the
 * fetch_add of G_SEQ and the load of idle there, are all seq_cst: either this sees the
 * number taken and does not sleep, or that thread sees idle set and wakes it. */
static void flusher_sleep(void)
{
    atomic_store(&fw.idle, 1);
    if (atomic_load(&G_SEQ) == fl.next && !atomic_load(&g.stop)) {
        struct timespec ts = {FLUSH_IDLE_MAX_MS / 1000, (FLUSH_IDLE_MAX_MS % 1000) * 1000000L};
        REAL(syscall)(SYS_futex, &fw.idle, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
    }
    atomic_store(&fw.idle, 0);
}

/* Whether some thread's ring is more than half full (the flusher must not nap then). */
static int rings_half_full(void)
{
    for (struct tring *t = atomic_load(&g.rings); t; t = atomic_load(&t->next))
        if (ring_used(&t->ring) > t->ring.size / 2)
            return 1;
    return 0;
}

static void *flusher(void *arg)
{
    (void)arg;
    in_hook = 1; /* this thread's own calls are never recorded */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* SIGXFSZ too: a full disk is EFBIG here */
    pthread_setname_np(pthread_self(), "epscope-flush"); /* for top, ps -L, and tests */
    long nap = FLUSH_NAP_MIN_US;
    int empty = 0, patience = FLUSH_IDLE_ROUNDS, woke = 0;
    for (;;) {
        int stop = atomic_load_explicit(&g.stop, memory_order_acquire);
        if (merge()) {
            if (woke) {
                /* the records that woke it, written at once; a program with a timer (redis
                 * records an epoll_wait ten times a second) sends no more for a while:
                 * one nap of the longest, and with nothing new, asleep again */
                nap = FLUSH_NAP_MAX_US;
                patience = 1;
            } else {
                /* records came: take them in batches (a ring holds many milliseconds of
                 * them), at once only when one is half full */
                nap = FLUSH_NAP_MIN_US;
                patience = FLUSH_IDLE_ROUNDS;
            }
            empty = woke = 0;
            if (stop || rings_half_full())
                continue;
        } else if (stop && fl.next >= atomic_load(&G_SEQ)) {
            break;
        } else if (nap < FLUSH_NAP_MAX_US) {
            nap *= 2;
        } else if (++empty >= patience && fl.next >= atomic_load(&G_SEQ)) {
            flusher_sleep(); /* a record wakes it; a timeout finds nothing and sleeps again */
            woke = 1;
            empty = 0;
            patience = 1;
            continue;
        }
        struct timespec ts = {0, nap * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* --- opening and finishing the trace ---------------------------------------------------- */

/* This process's trace path: the one record named, or it with ".PID" before ".ept". */
static void trace_path(char *buf, size_t len, int attempt)
{
    const char *out = g.out;
    size_t n = strlen(out);
    int ext = n > 4 && !strcmp(out + n - 4, ".ept");
    pid_t pid = getpid();
    char suffix[32] = "";
    if (attempt)
        snprintf(suffix, sizeof(suffix), "-%d", attempt + 1);
    if (pid == g.top)
        snprintf(buf, len, "%.*s%s%s", (int)(ext ? n - 4 : n), out, suffix, ext ? ".ept" : "");
    else
        snprintf(buf, len, "%.*s.%d%s%s", (int)(ext ? n - 4 : n), out, (int)pid, suffix,
                 ext ? ".ept" : "");
}

/* "key=value" lines about the program for the header: its name, command line, pids. */
static size_t program_config(char *buf, size_t len)
{
    char cmd[2048];
    size_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r;
        while (n < sizeof(cmd) - 1 && (r = REAL(read)(fd, cmd + n, sizeof(cmd) - 1 - n)) > 0)
            n += (size_t)r;
        REAL(close)(fd);
    }
    cmd[n] = 0;
    /* the program's name: its first word's last path part (nginx's workers rewrite their
     * command line into "nginx: worker process") */
    char name[256];
    size_t w0 = strcspn(cmd, " ");
    snprintf(name, sizeof(name), "%.*s", (int)w0, cmd);
    char *slash = strrchr(name, '/');
    if (slash)
        memmove(name, slash + 1, strlen(slash));
    if (*name && name[strlen(name) - 1] == ':')
        name[strlen(name) - 1] = 0;
    for (size_t i = 0; n && i < n - 1; i++)
        if (!cmd[i] || cmd[i] == '\n')
            cmd[i] = ' ';
    int w = snprintf(buf, len,
                     "program=%s\nargv=%s\npid=%d\nppid=%d\nrecorder=epscope record %s\n", name,
                     cmd, (int)getpid(), (int)getppid(), EPSCOPE_VERSION);
    return w < 0 ? 0 : (size_t)w < len ? (size_t)w : len - 1;
}

/* Open this process's trace and start its flusher, once. Returns 0, or -1 when it cannot
 * (then nothing of this process is recorded). */
static int trace_open(void)
{
    int st = 0;
    if (!g.active)
        return -1;
    if (!atomic_compare_exchange_strong(&g.state, &st, 1))
        return st == 2 ? 0 : -1; /* open, failed, or another thread is opening it */
    char *path = g.path;
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        trace_path(path, sizeof(g.path), attempt);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    /* out of the program's way: a high number, as far from its own as the limit allows */
    struct rlimit rl;
    int high = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64 && rl.rlim_cur < 65536
                   ? (int)rl.rlim_cur - 16 : 1000;
    int hfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, high);
    if (hfd >= 0) {
        REAL(close)(fd);
        fd = hfd;
    }
    char config[4096];
    size_t clen = program_config(config, sizeof(config));
    struct ept_header h;
    ept_header_init(&h, EPT_MODE_NONE, EPT_MODE_NONE, g.preview, (uint32_t)g.ring_size);
    uint8_t hb[EPT_HDR_FIXED + sizeof(config) + 8];
    ept_header_encode(&h, config, clen, hb);
    if ((err = -write_all(fd, hb, ept_header_size(clen))) > 0) {
        REAL(close)(fd);
        unlink(path); /* a header cut short is no trace */
        goto fail;
    }
    g.fd = fd;
    g.good = (off_t)ept_header_size(clen);
    fl.next = atomic_load(&G_SEQ);
    fl.len = fl.nrec = 0;
    fl.weight = 0;
    fl.gap_since = 0;
    atomic_store(&g.stop, 0);
    atomic_store(&fw.idle, 0); /* a child's copy of its parent's flag is not its own */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the flusher starts with every signal blocked */
    int rc = pthread_create(&g.flusher, NULL, flusher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        REAL(close)(fd);
        g.fd = -1;
        err = rc;
        goto fail;
    }
    atomic_store_explicit(&g.state, 2, memory_order_release);
    return 0;
fail:
    atomic_store_explicit(&g.state, 3, memory_order_release);
    report(PRELOAD_REPORT_OPEN, err, 0, path);
    return -1;
}

/* Write the END record, let the flusher write everything, close the trace. Later calls are
 * not recorded (the process is exiting or about to exec). */
static void trace_finish(void)
{
    if (atomic_load(&g.state) != 2)
        return;
    /* a full ring (a small one, under load) makes room as the flusher drains it: wait a
     * little for it rather than end the trace without its end record */
    struct ept_end *e = NULL;
    for (int i = 0; i < 200; i++) {
        uint64_t before = my_ring ? atomic_load(&my_ring->lost_total) : 0;
        if ((e = rec_begin(EPT_END, sizeof(*e))))
            break;
        if (my_ring && atomic_load(&my_ring->lost_total) > before) {
            my_ring->lost_n--; /* that attempt was ours, not a record of the program's */
            atomic_fetch_sub(&my_ring->lost_total, 1);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (e) {
        uint64_t lost = g.dropped;
        for (struct tring *t = atomic_load(&g.rings); t; t = atomic_load(&t->next))
            lost += atomic_load(&t->lost_total);
        e->records = e->h.seq;
        e->lost = lost;
        rec_end();
    }
    atomic_store(&g.state, 3); /* nothing more is recorded */
    atomic_store_explicit(&g.stop, 1, memory_order_release);
    atomic_store(&fw.idle, 1); /* a sleeping flusher is woken: idle or not, it sees stop */
    flusher_wake();
    pthread_join(g.flusher, NULL);
    REAL(close)(g.fd);
    g.fd = -1;
    if (g.werr) /* the flusher is done: what it could not write is counted */
        report(PRELOAD_REPORT_END, -g.werr, g.dropped, g.path);
}

/* After fork, in the child: the parent's rings, file and flusher are not this process's.
 * Its trace starts at its first recorded call, and announces the files it inherited. */
static void forget_parent(void)
{
    if (!g.active)
        return;
    if (g.fd >= 0)
        REAL(close)(g.fd);
    g.fd = -1;
    atomic_store(&g.state, 0);
    atomic_store(&g.rings, NULL); /* the copies of the parent's rings are left unused */
    my_ring = NULL;
    my_tid = 0;
    atomic_store(&G_SEQ, 1);
    g.werr = 0;
    g.written = g.blocks = g.dropped = 0;
    for (int p = 0; p < FDS_PAGES; p++) {
        struct fdent *page = atomic_load(&g.fds[p]);
        for (int i = 0; page && i < 1 << FDS_PAGE_BITS; i++) {
            uint64_t v = atomic_load(&page[i].v);
            if (V_FLAGS(v) & F_ANNOUNCED)
                atomic_store(&page[i].v, v & ~(uint64_t)F_ANNOUNCED);
        }
    }
}

__attribute__((constructor)) static void preload_init(void)
{
    resolve();
    const char *out = getenv(PRELOAD_ENV_OUT);
    if (!out || out[0] != '/' || strlen(out) >= sizeof(g.out))
        return;
    snprintf(g.out, sizeof(g.out), "%s", out);
    /* "NAME:TOKEN" */
    const char *rep = getenv(PRELOAD_ENV_REPORT), *colon = rep ? strrchr(rep, ':') : NULL;
    if (colon && (size_t)(colon - rep) < sizeof(g.report) - 1 &&
        strlen(colon + 1) == PRELOAD_TOKEN_LEN) {
        memcpy(g.report, rep, (size_t)(colon - rep));
        memcpy(g.token, colon + 1, PRELOAD_TOKEN_LEN);
    }
    const char *pid = getenv(PRELOAD_ENV_PID);
    g.top = pid ? (pid_t)atoi(pid) : 0;
    const char *ring = getenv(PRELOAD_ENV_RING);
    g.ring_size = PRELOAD_RING_DEFAULT;
    if (ring) {
        unsigned long long n = strtoull(ring, NULL, 10);
        if (n >= RING_MIN_SIZE && n <= RING_MAX_SIZE && !(n & (n - 1)))
            g.ring_size = (size_t)n;
    }
    const char *pv = getenv(PRELOAD_ENV_PREVIEW);
    g.preview = PRELOAD_PREVIEW_DEFAULT;
    if (pv) {
        long n = atol(pv);
        g.preview = (uint16_t)(n < 0 ? 0 : n > EPT_PREVIEW_MAX ? EPT_PREVIEW_MAX : n);
    }
    atomic_init(&G_SEQ, 1);
    atomic_init(&g.next_sid, 1);
    if (pthread_key_create(&g.key, ring_gone) != 0)
        return;
    pthread_atfork(NULL, NULL, forget_parent);
    g.active = 1;
}

__attribute__((destructor)) static void preload_fini(void)
{
    in_hook = 1;
    trace_finish();
}

/* --- recording each call ------------------------------------------------------------------ */

/* Runs the body (which records) with the guard up and errno kept, unless the library is
 * off, or already at work on this thread (its own calls, a signal handler inside a hook). */
#define RECORD(...)                                                                         \
    do {                                                                                    \
        if (g.active && !in_hook &&                                                         \
            atomic_load_explicit(&g.state, memory_order_relaxed) != 3) {                    \
            int saved_errno_ = errno;                                                      \
            in_hook = 1;                                                                   \
            __VA_ARGS__;                                                                   \
            in_hook = 0;                                                                   \
            errno = saved_errno_;                                                          \
        }                                                                                  \
    } while (0)

static long res(long r)
{
    return r < 0 ? -errno : r;
}

static void after_socket(int domain, int type, int protocol, int r, int err)
{
    unsigned fk = domain == AF_UNIX ? EPT_FD_UNIX
                  : domain == AF_INET || domain == AF_INET6
                      ? ((type & 0xf) == SOCK_STREAM ? EPT_FD_TCP
                         : (type & 0xf) == SOCK_DGRAM ? EPT_FD_UDP : EPT_FD_SOCKET)
                      : EPT_FD_SOCKET;
    uint32_t sid = r >= 0 ? fd_new(r, fk, 0) : 0;
    struct ept_socket *s = rec_begin(EPT_SOCKET, sizeof(*s));
    if (!s)
        return;
    memset(&s->s, 0, sizeof(s->s));
    s->s.fd = r >= 0 ? r : -1;
    s->s.sid = sid;
    s->domain = domain;
    s->type = type;
    s->protocol = protocol;
    s->result = r >= 0 ? r : -err;
    rec_end();
}

static void after_listen(int fd, int backlog, int r, int err)
{
    struct fdent *e;
    uint64_t v = watch(fd, &e);
    if (!v)
        return;
    if (r == 0)
        atomic_fetch_or(&e->v, F_LISTENER);
    struct ept_listen *l = rec_begin(EPT_LISTEN, sizeof(*l));
    if (!l)
        return;
    sock_of(&l->s, fd, v);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        addr_of(&l->addr, (struct sockaddr *)&ss, len);
    else
        memset(&l->addr, 0, sizeof(l->addr));
    l->result = r == 0 ? 0 : -err;
    l->backlog = backlog;
    rec_end();
}

static void after_accept(int lfd, struct sockaddr *addr, socklen_t *alen, int r, int err,
                         uint32_t call)
{
    struct fdent *e;
    uint64_t v = watch(lfd, &e);
    if (!v)
        return;
    uint32_t sid = 0;
    if (r >= 0) {
        unsigned fk = V_FKIND(v) ? V_FKIND(v) : EPT_FD_TCP;
        sid = fd_new(r, fk, 0);
    }
    struct ept_accept *a = rec_begin(EPT_ACCEPT, sizeof(*a));
    if (!a)
        return;
    sock_of(&a->listener, lfd, v);
    memset(&a->s, 0, sizeof(a->s));
    a->s.fd = r >= 0 ? r : -1;
    a->s.sid = sid;
    a->result = r >= 0 ? r : -err;
    a->call = call;
    addr_of(&a->peer, r >= 0 && addr && alen ? addr : NULL, alen ? *alen : 0);
    rec_end();
}

static void after_connect(int fd, const struct sockaddr *addr, socklen_t len, int r, int err)
{
    struct fdent *e;
    uint64_t v = watch(fd, &e);
    if (!v || V_KIND(v) != K_SOCKET)
        return;
    struct ept_connect *c = rec_begin(EPT_CONNECT, sizeof(*c));
    if (!c)
        return;
    sock_of(&c->s, fd, v);
    c->backend = 0xffff;
    c->phase = 0;
    c->pad = 0;
    c->result = r == 0 ? 0 : -err;
    addr_of(&c->addr, addr, len);
    rec_end();
}

static void after_shutdown(int fd, int how, int r, int err)
{
    struct fdent *e;
    uint64_t v = watch(fd, &e);
    if (!v)
        return;
    struct ept_shutdown *s = rec_begin(EPT_SHUTDOWN, sizeof(*s));
    if (!s)
        return;
    sock_of(&s->s, fd, v);
    s->how = how;
    s->result = r == 0 ? 0 : -err;
    rec_end();
}

/* Before close(fd): what the number was (the entry is cleared before the real close, so
 * a number another thread gets at once is looked at afresh), and with unread not NULL the
 * bytes a recorded TCP socket still holds for reading, asked only when an EPOLLRDHUP came
 * with no read since (-1: not known). */
static uint64_t before_close(int fd, struct fdent **out, int *unread)
{
    struct fdent *e = fd_ent(fd, 0);
    *out = e;
    if (unread)
        *unread = -1;
    if (!e)
        return 0;
    uint64_t v = atomic_load(&e->v);
    unsigned need = F_ANNOUNCED | F_RDHUP;
    if (unread && wanted(v) && (V_FLAGS(v) & need) == need && V_FKIND(v) == EPT_FD_TCP) {
        int saved = errno; /* what the kernel still holds is lost with the last number */
        if (ioctl(fd, FIONREAD, unread) < 0)
            *unread = -1;
        errno = saved;
    }
    v = atomic_exchange(&e->v, 0);
    int32_t ep = atomic_exchange(&e->epfd, -1);
    if (ep >= 0)
        dm_del(ep, atomic_load(&e->data));
    return v;
}

static void after_close(int fd, uint64_t v, int r, int err, int unread)
{
    int ebadf = r < 0 && err == EBADF && atomic_load(&g.state) == 2; /* a second close */
    if (!ebadf && (!wanted(v) || !(V_FLAGS(v) & F_ANNOUNCED)))
        return; /* never recorded: its close would name a file the trace never saw */
    if (ebadf)
        v = 0;
    struct ept_close *c = rec_begin(EPT_CLOSE, sizeof(*c));
    if (!c)
        return;
    sock_of(&c->s, fd, v);
    c->result = r == 0 ? 0 : -err;
    c->reason = EPT_CLOSE_CALL;
    c->flags = unread >= 0 && r == 0 ? EPT_CLOSEF_UNREAD : 0;
    c->unread = unread >= 0 && r == 0 ? (uint32_t)unread : 0;
    rec_end();
}

static void after_dup(int oldfd, int r, int err, uint32_t call)
{
    struct fdent *e;
    uint64_t v = watch(oldfd, &e);
    if (r >= 0 && r != oldfd) {
        struct fdent *ne = fd_ent(r, 1);
        if (ne) {
            int32_t ep = atomic_exchange(&ne->epfd, -1);
            if (ep >= 0)
                dm_del(ep, atomic_load(&ne->data));
            /* the same file: same identity; announced by this record */
            atomic_store(&ne->v, v ? (v & ~(uint64_t)F_REGISTERED) : 0);
        }
    }
    if (!v)
        return;
    struct ept_dup *d = rec_begin(EPT_DUP, sizeof(*d));
    if (!d)
        return;
    sock_of(&d->s, r >= 0 ? r : -1, v);
    d->oldfd = oldfd;
    d->result = r >= 0 ? r : -err;
    d->call = call;
    d->pad = 0;
    rec_end();
}

static void after_epoll_create(int flags, int r, int err, uint32_t call)
{
    uint32_t sid = r >= 0 ? fd_new(r, EPT_FD_EPOLL, 0) : 0;
    struct ept_epoll_create *c = rec_begin(EPT_EPOLL_CREATE, sizeof(*c));
    if (!c)
        return;
    c->result = r >= 0 ? r : -err;
    c->flags = flags;
    c->sid = sid;
    c->call = call;
    rec_end();
}

static void after_epoll_ctl(int epfd, int op, int fd, const struct epoll_event *ev, int r,
                            int err)
{
    struct fdent *epe, *e;
    uint64_t epv = watch(epfd, &epe);
    (void)epv;
    uint64_t v = fd_get(fd, &e);
    if (r == 0 && e) {
        if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) {
            uint64_t nv;
            do { /* registered; a pipe or an eventfd matters from now on: name it */
                v = atomic_load(&e->v);
                nv = v | F_REGISTERED;
                if (!V_SID(nv))
                    nv |= (uint64_t)new_sid() << 32;
            } while (nv != v && !atomic_compare_exchange_weak(&e->v, &v, nv));
            v = nv;
            if (ev) {
                dm_put(epfd, ev->data.u64, fd, V_SID(v));
                atomic_store(&e->data, ev->data.u64);
                atomic_store(&e->epfd, epfd);
            }
        } else if (op == EPOLL_CTL_DEL) {
            if (atomic_load(&e->epfd) == epfd) {
                dm_del(epfd, atomic_load(&e->data));
                atomic_store(&e->epfd, -1);
            }
        }
    }
    if (!wanted(v) && !(r == 0 && op != EPOLL_CTL_DEL))
        return;
    announce(fd, e, atomic_load(&e->v));
    v = atomic_load(&e->v);
    struct ept_epoll_ctl *c = rec_begin(EPT_EPOLL_CTL, sizeof(*c));
    if (!c)
        return;
    sock_of(&c->s, fd, v);
    c->epfd = epfd;
    c->op = op;
    c->events = ev ? ev->events : 0;
    c->result = r == 0 ? 0 : -err;
    rec_end();
}

static void after_epoll_wait(int epfd, const struct epoll_event *ev, int max, int timeout,
                             int r, int err, uint64_t t0, uint32_t call)
{
    struct fdent *epe;
    watch(epfd, &epe);
    struct ept_epoll_wait *w = rec_begin(EPT_EPOLL_WAIT, sizeof(*w));
    if (!w)
        return;
    w->epfd = epfd;
    w->timeout = timeout;
    w->maxevents = max;
    w->result = r >= 0 ? r : -err;
    w->blocked_ns = w->h.ns > t0 ? w->h.ns - t0 : 0;
    w->call = call;
    w->pad = 0;
    rec_end();
    for (int i = 0; i < r; i++) {
        struct ept_ready *e = rec_begin(EPT_READY, sizeof(*e));
        if (!e)
            continue;
        memset(&e->s, 0, sizeof(e->s));
        int32_t fd = -1;
        uint32_t sid = 0;
        if (dm_get(epfd, ev[i].data.u64, &fd, &sid)) {
            e->s.fd = fd;
            e->s.sid = sid;
            struct fdent *fe;
            if ((ev[i].events & EPOLLRDHUP) && (fe = fd_ent(fd, 0))) {
                uint64_t v = atomic_load_explicit(&fe->v, memory_order_relaxed);
                if (V_SID(v) == sid && !(V_FLAGS(v) & F_RDHUP))
                    atomic_fetch_or(&fe->v, (uint64_t)F_RDHUP);
            }
        } else {
            e->s.fd = -1;
        }
        e->events = ev[i].events;
        e->index = (uint32_t)i;
        rec_end();
    }
}

/* --- the interposed functions ------------------------------------------------------------- */

static size_t iov_len(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; iov && i < n; i++)
        t += iov[i].iov_len;
    return t;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    ssize_t r = REAL(read)(fd, buf, n);
    RECORD(rec_io1(EPT_READ, EPT_CALL_DEFAULT, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    ssize_t r = REAL(__read_chk)(fd, buf, n, buflen);
    RECORD(rec_io1(EPT_READ, EPT_CALL_DEFAULT, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r = REAL(readv)(fd, iov, cnt);
    RECORD(rec_io(EPT_READ, EPT_CALL_READV, fd, iov_len(iov, cnt), res(r), iov, cnt));
    return r;
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    ssize_t r = REAL(recv)(fd, buf, n, flags);
    RECORD(if (!(flags & MSG_PEEK)) rec_io1(EPT_READ, EPT_CALL_RECV, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    ssize_t r = REAL(__recv_chk)(fd, buf, n, buflen, flags);
    RECORD(if (!(flags & MSG_PEEK)) rec_io1(EPT_READ, EPT_CALL_RECV, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                        socklen_t *len)
{
    ssize_t r = REAL(recvfrom)(fd, buf, n, flags, from, len);
    RECORD(if (!(flags & MSG_PEEK)) rec_io1(EPT_READ, EPT_CALL_RECVFROM, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                              struct sockaddr *from, socklen_t *len)
{
    ssize_t r = REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, from, len);
    RECORD(if (!(flags & MSG_PEEK)) rec_io1(EPT_READ, EPT_CALL_RECVFROM, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t r = REAL(recvmsg)(fd, msg, flags);
    RECORD(if (!(flags & MSG_PEEK) && msg)
               rec_io(EPT_READ, EPT_CALL_RECVMSG, fd, iov_len(msg->msg_iov,
                                                              (int)msg->msg_iovlen),
                      res(r), msg->msg_iov, (int)msg->msg_iovlen));
    return r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    ssize_t r = REAL(write)(fd, buf, n);
    RECORD(rec_io1(EPT_WRITE, EPT_CALL_DEFAULT, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r = REAL(writev)(fd, iov, cnt);
    RECORD(rec_io(EPT_WRITE, EPT_CALL_WRITEV, fd, iov_len(iov, cnt), res(r), iov, cnt));
    return r;
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    ssize_t r = REAL(send)(fd, buf, n, flags);
    RECORD(rec_io1(EPT_WRITE, EPT_CALL_SEND, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                      socklen_t len)
{
    ssize_t r = REAL(sendto)(fd, buf, n, flags, to, len);
    RECORD(rec_io1(EPT_WRITE, EPT_CALL_SENDTO, fd, buf, n, res(r)));
    return r;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t r = REAL(sendmsg)(fd, msg, flags);
    RECORD(if (msg) rec_io(EPT_WRITE, EPT_CALL_SENDMSG, fd,
                           iov_len(msg->msg_iov, (int)msg->msg_iovlen), res(r), msg->msg_iov,
                           (int)msg->msg_iovlen));
    return r;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    ssize_t r = REAL(sendfile)(out, in, off, n);
    RECORD(rec_io(EPT_WRITE, EPT_CALL_SENDFILE, out, n, res(r), NULL, 0));
    return r;
}

EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    ssize_t r = REAL(sendfile64)(out, in, off, n);
    RECORD(rec_io(EPT_WRITE, EPT_CALL_SENDFILE, out, n, res(r), NULL, 0));
    return r;
}

EXPORT ssize_t splice(int in, loff_t *inoff, int out, loff_t *outoff, size_t n, unsigned flags)
{
    ssize_t r = REAL(splice)(in, inoff, out, outoff, n, flags);
    RECORD({
        struct fdent *e;
        if (wanted(fd_get(in, &e)))
            rec_io(EPT_READ, EPT_CALL_SPLICE, in, n, res(r), NULL, 0);
        else
            rec_io(EPT_WRITE, EPT_CALL_SPLICE, out, n, res(r), NULL, 0);
    });
    return r;
}

EXPORT int socket(int domain, int type, int protocol)
{
    int r = REAL(socket)(domain, type, protocol);
    RECORD(after_socket(domain, type, protocol, r, errno));
    return r;
}

EXPORT int listen(int fd, int backlog)
{
    int r = REAL(listen)(fd, backlog);
    RECORD(after_listen(fd, backlog, r, errno));
    return r;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    int r = REAL(accept)(fd, addr, len);
    RECORD(after_accept(fd, addr, len, r, errno, EPT_CALL_ACCEPT));
    return r;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int r = REAL(accept4)(fd, addr, len, flags);
    RECORD(after_accept(fd, addr, len, r, errno, EPT_CALL_DEFAULT));
    return r;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int r = REAL(connect)(fd, addr, len);
    RECORD(after_connect(fd, addr, len, r, errno));
    return r;
}

EXPORT int shutdown(int fd, int how)
{
    int r = REAL(shutdown)(fd, how);
    RECORD(after_shutdown(fd, how, r, errno));
    return r;
}

EXPORT int close(int fd)
{
    if (fd >= 0 && fd == g.fd && !in_hook)
        return 0; /* the trace's own fd: the program closes every fd; keep ours open */
    struct fdent *e = NULL;
    uint64_t v = 0;
    int unread = -1;
    if (g.active && !in_hook)
        v = before_close(fd, &e, &unread);
    int r = REAL(close)(fd);
    RECORD(after_close(fd, v, r, errno, unread));
    return r;
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    /* close every number in range but the trace's: in two ranges around it */
    if (g.fd >= 0 && !in_hook && !(flags & 4 /* CLOSE_RANGE_CLOEXEC: ours is already */) &&
        (unsigned)g.fd >= first && (unsigned)g.fd <= last) {
        int r = 0;
        if ((unsigned)g.fd > first)
            r = close_range(first, (unsigned)g.fd - 1, flags);
        if (r == 0 && (unsigned)g.fd < last)
            r = close_range((unsigned)g.fd + 1, last, flags);
        return r;
    }
    if (!real_close_range && (resolve(), !real_close_range)) {
        errno = ENOSYS;
        return -1;
    }
    int r = real_close_range(first, last, flags);
    RECORD(if (r == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */)) {
        /* the numbers the library knows of in range, page by page */
        for (unsigned p = first >> FDS_PAGE_BITS; p < FDS_PAGES && p <= last >> FDS_PAGE_BITS;
             p++) {
            if (!atomic_load(&g.fds[p]))
                continue;
            unsigned lo = p << FDS_PAGE_BITS, hi = lo + (1u << FDS_PAGE_BITS) - 1;
            for (unsigned fd = lo < first ? first : lo; fd <= hi && fd <= last; fd++) {
                struct fdent *e;
                uint64_t v = before_close((int)fd, &e, NULL); /* closed: unread unknown */
                if (v)
                    after_close((int)fd, v, 0, 0, -1);
            }
        }
    });
    return r;
}

/* dup2/dup3 onto the trace's own fd: move the trace out of the way first. */
static void dodge(int newfd)
{
    if (newfd < 0 || newfd != g.fd)
        return;
    int moved = REAL(fcntl)(g.fd, F_DUPFD_CLOEXEC, g.fd + 1);
    if (moved >= 0)
        g.fd = moved; /* the flusher writes to g.fd; the old number is the program's now */
}

EXPORT int dup(int fd)
{
    int r = REAL(dup)(fd);
    RECORD(after_dup(fd, r, errno, EPT_CALL_DEFAULT));
    return r;
}

EXPORT int dup2(int fd, int newfd)
{
    dodge(newfd);
    int r = REAL(dup2)(fd, newfd);
    RECORD(after_dup(fd, r, errno, EPT_CALL_DUP2));
    return r;
}

EXPORT int dup3(int fd, int newfd, int flags)
{
    dodge(newfd);
    int r = REAL(dup3)(fd, newfd, flags);
    RECORD(after_dup(fd, r, errno, EPT_CALL_DUP3));
    return r;
}

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, va_list ap)
{
    void *arg = va_arg(ap, void *); /* every fcntl argument fits a pointer's register */
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int r = real(fd, cmd, arg);
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        RECORD(after_dup(fd, r, errno, EPT_CALL_FCNTL));
    return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    int r = do_fcntl(REAL(fcntl), fd, cmd, ap);
    va_end(ap);
    return r;
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    int r = do_fcntl(REAL(fcntl64) ? real_fcntl64 : real_fcntl, fd, cmd, ap);
    va_end(ap);
    return r;
}

EXPORT int epoll_create(int size)
{
    int r = REAL(epoll_create)(size);
    RECORD(after_epoll_create(size, r, errno, EPT_CALL_CREATE));
    return r;
}

EXPORT int epoll_create1(int flags)
{
    int r = REAL(epoll_create1)(flags);
    RECORD(after_epoll_create(flags, r, errno, EPT_CALL_DEFAULT));
    return r;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int r = REAL(epoll_ctl)(epfd, op, fd, ev);
    RECORD(after_epoll_ctl(epfd, op, fd, ev, r, errno));
    return r;
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    uint64_t t0 = g.active ? now_ns() : 0;
    int r = REAL(epoll_wait)(epfd, ev, max, timeout);
    RECORD(after_epoll_wait(epfd, ev, max, timeout, r, errno, t0, EPT_CALL_DEFAULT));
    return r;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                       const sigset_t *mask)
{
    uint64_t t0 = g.active ? now_ns() : 0;
    int r = REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
    RECORD(after_epoll_wait(epfd, ev, max, timeout, r, errno, t0, EPT_CALL_PWAIT));
    return r;
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *to,
                        const sigset_t *mask)
{
    if (!REAL(epoll_pwait2)) {
        errno = ENOSYS;
        return -1;
    }
    uint64_t t0 = g.active ? now_ns() : 0;
    int r = real_epoll_pwait2(epfd, ev, max, to, mask);
    int ms = !to ? -1 : (int)(to->tv_sec * 1000 + (to->tv_nsec + 999999) / 1000000);
    RECORD(after_epoll_wait(epfd, ev, max, ms, r, errno, t0, EPT_CALL_PWAIT2));
    return r;
}

EXPORT pid_t fork(void)
{
    pid_t r = REAL(fork)();
    int err = errno;
    /* in the parent (the child forgot everything in forget_parent), and only in a trace
     * already open: forking alone (a shell) is no reason to write a trace */
    if (r != 0 && atomic_load(&g.state) == 2)
        RECORD({
            struct ept_fork *f = rec_begin(EPT_FORK, sizeof(*f));
            if (f) {
                f->result = r > 0 ? r : -err;
                f->call = EPT_CALL_DEFAULT;
                rec_end();
            }
        });
    return r;
}

/* syscall(): the numbers that libuv and others call directly, recorded like their libc
 * functions; everything else passes through untouched. */
EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    struct fdent *e = NULL;
    uint64_t v = 0;
    int unread = -1;
    if (nr == SYS_close && g.active && !in_hook) {
        if ((int)a[0] == g.fd && g.fd >= 0)
            return 0;
        v = before_close((int)a[0], &e, &unread);
    }
    uint64_t t0 = (nr == SYS_epoll_wait || nr == SYS_epoll_pwait) && g.active ? now_ns() : 0;
    long r = REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    int err = errno;
    switch (nr) {
    case SYS_close:
        RECORD(after_close((int)a[0], v, (int)r, err, unread));
        break;
    case SYS_epoll_ctl:
        RECORD(after_epoll_ctl((int)a[0], (int)a[1], (int)a[2], (struct epoll_event *)a[3],
                               (int)r, err));
        break;
    case SYS_epoll_wait:
        RECORD(after_epoll_wait((int)a[0], (struct epoll_event *)a[1], (int)a[2], (int)a[3],
                                (int)r, err, t0, EPT_CALL_DEFAULT));
        break;
    case SYS_epoll_pwait:
        RECORD(after_epoll_wait((int)a[0], (struct epoll_event *)a[1], (int)a[2], (int)a[3],
                                (int)r, err, t0, EPT_CALL_PWAIT));
        break;
    case SYS_read:
        RECORD(rec_io1(EPT_READ, EPT_CALL_DEFAULT, (int)a[0], (void *)a[1], (size_t)a[2],
                       r < 0 ? -err : r));
        break;
    case SYS_write:
        RECORD(rec_io1(EPT_WRITE, EPT_CALL_DEFAULT, (int)a[0], (void *)a[1], (size_t)a[2],
                       r < 0 ? -err : r));
        break;
    case SYS_accept4:
        RECORD(after_accept((int)a[0], (struct sockaddr *)a[1], (socklen_t *)a[2], (int)r, err,
                            EPT_CALL_DEFAULT));
        break;
    default:
        break;
    }
    errno = err;
    return r;
}

/* Before the process image is replaced: write what it recorded. */
static void before_exec(void)
{
    if (g.active && !in_hook) {
        in_hook = 1;
        trace_finish();
        in_hook = 0;
    }
}

/* A failed exec leaves the process running: its trace starts again (a new file). */
static void after_failed_exec(void)
{
    if (g.active && atomic_load(&g.state) == 3)
        atomic_store(&g.state, 0);
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    before_exec();
    int r = REAL(execve)(path, argv, envp);
    after_failed_exec();
    return r;
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                    int flags)
{
    before_exec();
    int r = REAL(execveat)(dirfd, path, argv, envp, flags);
    after_failed_exec();
    return r;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    before_exec();
    int r = REAL(fexecve)(fd, argv, envp);
    after_failed_exec();
    return r;
}

EXPORT int execv(const char *path, char *const argv[])
{
    before_exec();
    int r = REAL(execv)(path, argv);
    after_failed_exec();
    return r;
}

EXPORT int execvp(const char *file, char *const argv[])
{
    before_exec();
    int r = REAL(execvp)(file, argv);
    after_failed_exec();
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    before_exec();
    int r = REAL(execvpe)(file, argv, envp);
    after_failed_exec();
    return r;
}

/* Before the process gives up its privileges, open its trace while it still may create
 * files where record was asked to write (nginx's workers become nobody, then epoll). */
static void before_privileges_drop(void)
{
    if (g.active && !in_hook && atomic_load(&g.state) == 0) {
        in_hook = 1;
        trace_open();
        in_hook = 0;
    }
}

#define SETID(name, params, args)                                                          \
    EXPORT int name params                                                                 \
    {                                                                                      \
        before_privileges_drop();                                                          \
        return REAL(name) args;                                                            \
    }
SETID(setuid, (uid_t u), (u))
SETID(seteuid, (uid_t u), (u))
SETID(setreuid, (uid_t r, uid_t e), (r, e))
SETID(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
SETID(setgid, (gid_t g_), (g_))
SETID(setegid, (gid_t g_), (g_))
SETID(setregid, (gid_t r, gid_t e), (r, e))
SETID(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))

EXPORT void _exit(int status)
{
    before_exec(); /* no exit handlers will run: write the trace now */
    if (REAL(_exit))
        real__exit(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}
