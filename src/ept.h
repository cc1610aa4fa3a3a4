/* ept.h - the .ept trace file format: file header, blocks and records, byte for byte.
 *
 * Every integer is little-endian; every structure is a multiple of 8 bytes, so every
 * record starts 8-aligned. docs/trace-format.md says the same in prose.
 *
 * File header: EPT_HDR_FIXED (96) bytes, then the config text, then zero padding up to
 * header_size (a multiple of 8). The first block starts at header_size.
 *
 *   off len field
 *     0   8 magic          89 45 50 54 0D 0A 1A 0A  ("\x89EPT\r\n\x1a\n": a text-mode
 *                          transfer changes the CR/LF bytes, a 7-bit one the 0x89)
 *     8   2 version_major  1; a reader refuses any other major version
 *    10   2 version_minor  1; a newer minor only adds record types and trailing fields
 *                          (1.0 traces have tid 0 and none of the types from 20 on)
 *    12   4 header_size    bytes from offset 0 to the first block
 *    16   4 byte_order     0x0A0B0C0D
 *    20   4 clock          1 = CLOCK_MONOTONIC (every record's ns field)
 *    24   8 mono_start_ns  CLOCK_MONOTONIC when the trace began
 *    32   8 wall_start_ns  CLOCK_REALTIME read at the same moment (the wall-clock anchor)
 *    40   4 pid            of the writer
 *    44   1 mode           EPT_MODE_*: the proxy's trigger mode (EPT_MODE_NONE: recorded)
 *    45   1 listener_mode  EPT_MODE_LEVEL or EPT_MODE_EDGE
 *    46   2 preview        payload bytes kept per read/write record
 *    48   4 ring_size      bytes of the writer's ring
 *    52   4 config_len     bytes of config text at offset 96 ("key=value\n" lines)
 *    56  32 producer       NUL-padded writer name and version, e.g. "epscope 0.1.0"
 *    88   4 flags          0
 *    92   4 crc            CRC32C of bytes [0, header_size) with this field zero
 *
 * Block: a self-delimiting, CRC-checked run of whole records.
 *
 *   off len field
 *     0   4 magic          "EPTB"
 *     4   4 length         L: the whole block, header and trailer included (multiple of 8)
 *     8   8 first_seq      seq of the first record
 *    16   4 nrec           records in the block
 *    20   4 crc            CRC32C of all L bytes with this field zero
 *    24   8 first_ns       ns of the first record   (first/last times double as a seek
 *    32   8 last_ns        ns of the last record     index for readers)
 *    40   - records
 *   L-8   4 length         L again, so a reader can walk backwards
 *   L-4   4 magic          "BTPE"
 *
 * Record: a 24-byte header, then a body whose layout depends on type.
 *
 *   off len field
 *     0   2 type           EPT_* below; readers skip types they do not know
 *     2   2 size           the whole record in bytes (multiple of 8, >= 24)
 *     4   4 tid            the thread that made the call (Linux thread id; 0: unknown,
 *                          as in every 1.0 trace)
 *     8   8 seq            1, 2, 3...: one order over every thread of the process; a gap
 *                          is always explained by a lost record
 *    16   8 ns             CLOCK_MONOTONIC
 *
 * A record may be longer than the struct a reader knows (a newer minor version added
 * fields at its end) or shorter (an older one): readers copy with ept_rec_get(), which
 * zero-fills what the record does not have.
 */
#ifndef EPSCOPE_EPT_H
#define EPSCOPE_EPT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "epscope writes its traces in host byte order and supports little-endian hosts only"
#endif

#define EPT_MAGIC "\x89" "EPT\r\n\x1a\n"
#define EPT_VERSION_MAJOR 1
#define EPT_VERSION_MINOR 3
#define EPT_BYTE_ORDER 0x0A0B0C0Du
#define EPT_CLOCK_MONOTONIC 1
#define EPT_HDR_FIXED 96
#define EPT_CONFIG_MAX (64 * 1024)
#define EPT_BLOCK_MAGIC 0x42545045u   /* "EPTB" read as a little-endian u32 */
#define EPT_BLOCK_TAIL 0x45505442u    /* "BTPE" */
#define EPT_BLOCK_HDR 40
#define EPT_BLOCK_TRAILER 8
#define EPT_BLOCK_MAX (16u << 20)    /* readers refuse longer blocks as corrupt */
#define EPT_PREVIEW_MAX 1024
#define EPT_NOTE_MAX 1024

/* Trigger modes, as stored in the header. */
enum ept_mode {
    EPT_MODE_LEVEL = 0,
    EPT_MODE_EDGE = 1,
    EPT_MODE_ONESHOT = 2,  /* edge-oneshot */
    EPT_MODE_NONE = 255,   /* not written by the proxy (a recorded program has no mode) */
};

/* Record types. Numbers are stable: new types get new numbers, old ones never change. */
enum ept_type {
    EPT_PAD = 0,           /* ring filler; never in a file, skipped if found */
    EPT_EPOLL_CREATE = 1,
    EPT_EPOLL_CTL = 2,
    EPT_EPOLL_WAIT = 3,
    EPT_READY = 4,         /* one per event returned, right after its epoll_wait */
    EPT_HANDLE = 5,        /* the loop starts handling event #index of the last wait */
    EPT_LISTEN = 6,
    EPT_ACCEPT = 7,
    EPT_CONNECT = 8,
    EPT_READ = 9,
    EPT_WRITE = 10,
    EPT_SHUTDOWN = 11,
    EPT_CLOSE = 12,
    EPT_PICK = 13,
    EPT_LOST = 14,
    EPT_NOTE = 15,
    EPT_TIMEOUT = 16,
    EPT_HEALTH = 17,
    EPT_END = 18,
    EPT_PAUSE = 19,        /* the listener stops or resumes accepting, and why */
    /* 1.1: what `epscope record` sees a program do */
    EPT_SOCKET = 20,       /* socket() */
    EPT_DUP = 21,          /* dup, dup2, dup3, fcntl(F_DUPFD): a second number, same file */
    EPT_FORK = 22,         /* fork() returned in the parent */
    EPT_FDINFO = 23,       /* an fd first seen in a call that did not create it */
    /* 1.3 */
    EPT_QUEUE = 24,        /* what the kernel still held when a handler stopped short */
    EPT_TYPE_COUNT
};

/* Socket roles, as the writer saw them. The proxy writes client and backend; readers infer
 * roles from the calls themselves (listen, accept, connect), never from this field alone. */
enum ept_role {
    EPT_ROLE_NONE = 0,
    EPT_ROLE_LISTENER = 1,
    EPT_ROLE_CLIENT = 2,    /* returned by accept(): "accepted" in a recorded trace */
    EPT_ROLE_BACKEND = 3,   /* connect() was called on it: "connected" */
    EPT_ROLE_OTHER = 4,     /* a pipe, eventfd, timerfd, file, or a socket neither of these */
    EPT_ROLE_EPOLL = 5,     /* an epoll instance */
};

/* Why a socket was closed (ept_close.reason). */
enum ept_close_reason {
    EPT_CLOSE_DONE = 0,     /* both directions finished */
    EPT_CLOSE_RESET = 1,    /* the peer reset, or we reset because its peer did */
    EPT_CLOSE_ERROR = 2,    /* an I/O error */
    EPT_CLOSE_TIMEOUT = 3,  /* connect or idle timeout */
    EPT_CLOSE_NOBACKEND = 4,/* every backend down */
    EPT_CLOSE_SHUTDOWN = 5, /* the proxy is stopping */
    EPT_CLOSE_RETRY = 6,    /* a failed backend connect, retried elsewhere */
    EPT_CLOSE_LIMIT = 7,    /* over --max-conns or out of memory */
    EPT_CLOSE_CALL = 8,     /* closed by a recorded program: no reason known */
};

/* Which call of a family a record stands for (ept_io.call, ept_epoll_wait.call, ...). */
enum ept_call {
    EPT_CALL_DEFAULT = 0,   /* read / write / epoll_wait / epoll_create1 / accept4 / dup */
    EPT_CALL_READV = 1, EPT_CALL_RECV = 2, EPT_CALL_RECVFROM = 3, EPT_CALL_RECVMSG = 4,
    EPT_CALL_WRITEV = 5, EPT_CALL_SEND = 6, EPT_CALL_SENDTO = 7, EPT_CALL_SENDMSG = 8,
    EPT_CALL_SENDFILE = 9, EPT_CALL_SPLICE = 10,
    EPT_CALL_PWAIT = 11, EPT_CALL_PWAIT2 = 12,  /* epoll_pwait, epoll_pwait2 */
    EPT_CALL_CREATE = 13,                       /* epoll_create(size) */
    EPT_CALL_ACCEPT = 14,                       /* accept (not accept4) */
    EPT_CALL_DUP2 = 15, EPT_CALL_DUP3 = 16, EPT_CALL_FCNTL = 17,
    EPT_CALL_VFORK = 18, EPT_CALL_CLONE = 19,
    EPT_CALL_COUNT
};

/* What kind of file an fd is (ept_fdinfo.kind). */
enum ept_fd_kind {
    EPT_FD_UNKNOWN = 0,
    EPT_FD_TCP = 1,         /* SOCK_STREAM, AF_INET or AF_INET6 */
    EPT_FD_UDP = 2,         /* SOCK_DGRAM, AF_INET or AF_INET6 */
    EPT_FD_UNIX = 3,        /* AF_UNIX, any type */
    EPT_FD_SOCKET = 4,      /* another socket */
    EPT_FD_EPOLL = 5,
    EPT_FD_EVENTFD = 6,
    EPT_FD_TIMERFD = 7,
    EPT_FD_SIGNALFD = 8,
    EPT_FD_PIPE = 9,
    EPT_FD_FILE = 10,       /* a regular file */
    EPT_FD_OTHER = 11,      /* a tty, a device... */
    EPT_FD_KIND_COUNT
};
#define EPT_FDINFO_LISTENING 1u /* ept_fdinfo.flags: SO_ACCEPTCONN */

/* What an ept_queue counts. */
enum ept_queue_kind {
    EPT_QUEUE_UNREAD = 1,   /* a socket: bytes received and not yet read (FIONREAD) */
    EPT_QUEUE_BACKLOG = 2,  /* a listener: connections waiting to be accepted (TCP_INFO) */
};

/* Why the listener paused (ept_pause.reason). */
enum ept_pause_reason { EPT_PAUSE_MAXCONNS = 1, EPT_PAUSE_FDLIMIT = 2 };

/* Timer kinds (ept_timeout.kind). */
enum ept_timer { EPT_TIMER_CONNECT = 1, EPT_TIMER_IDLE = 2 };

/* Balance algorithms (ept_pick.algo). */
enum ept_algo { EPT_ALGO_ROUNDROBIN = 0, EPT_ALGO_LEASTCONN, EPT_ALGO_HASH, EPT_ALGO_RANDOM2 };

/* Note kinds (ept_note.kind). */
enum ept_note_kind { EPT_NOTE_INFO = 0, EPT_NOTE_WARN = 1, EPT_NOTE_FAULT = 2, EPT_NOTE_STORY = 3 };

struct ept_header {
    uint8_t magic[8];
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_size;
    uint32_t byte_order;
    uint32_t clock;
    uint64_t mono_start_ns;
    uint64_t wall_start_ns;
    uint32_t pid;
    uint8_t mode;
    uint8_t listener_mode;
    uint16_t preview;
    uint32_t ring_size;
    uint32_t config_len;
    char producer[32];
    uint32_t flags;
    uint32_t crc;
};

struct ept_block {
    uint32_t magic;
    uint32_t length;
    uint64_t first_seq;
    uint32_t nrec;
    uint32_t crc;
    uint64_t first_ns;
    uint64_t last_ns;
};

struct ept_rec {
    uint16_t type;
    uint16_t size;
    uint32_t tid;
    uint64_t seq;
    uint64_t ns;
};

/* Which socket a record is about: fd numbers are reused, sid never is. A sid names an open
 * file (what dup shares), not a number: a dup'ed fd carries its original's sid. */
struct ept_sock {
    int32_t fd;
    uint32_t sid;   /* socket id: unique within the trace, 1, 2, 3... (0: none) */
    uint32_t conn;  /* connection id: a client and its backend socket share it (0: none) */
    uint8_t role;   /* EPT_ROLE_* */
    uint8_t pad[3];
};

/* An IPv4 or IPv6 address and port, as in sockaddr but fixed-size. */
struct ept_addr {
    uint16_t family; /* AF_INET or AF_INET6, 0 for none */
    uint16_t port;   /* host byte order */
    uint32_t scope;
    uint8_t ip[16];  /* IPv4 in the first 4 bytes */
};

struct ept_epoll_create {
    struct ept_rec h;
    int32_t result;
    int32_t flags;
    uint32_t sid;      /* 1.1: the identity of the new epoll fd (0: readers make one up) */
    uint32_t call;     /* 1.1: EPT_CALL_DEFAULT (epoll_create1) or EPT_CALL_CREATE */
};

struct ept_epoll_ctl {
    struct ept_rec h;
    struct ept_sock s;
    int32_t epfd;
    int32_t op;       /* EPOLL_CTL_ADD, _MOD, _DEL */
    uint32_t events;  /* as passed, EPOLLET and EPOLLONESHOT included */
    int32_t result;   /* 0 or -errno */
};

struct ept_epoll_wait {
    struct ept_rec h;  /* ns: when the wait returned */
    int32_t epfd;
    int32_t timeout;   /* ms, -1 forever */
    int32_t maxevents;
    int32_t result;    /* events returned, or -errno */
    uint64_t blocked_ns;
    uint32_t call;     /* 1.1: EPT_CALL_DEFAULT (epoll_wait), _PWAIT or _PWAIT2 */
    uint32_t pad;
};

/* EPT_READY and EPT_HANDLE share this layout. */
struct ept_ready {
    struct ept_rec h;
    struct ept_sock s;
    uint32_t events;  /* revents */
    uint32_t index;   /* position in the wait's ready list, from 0 */
};

struct ept_listen {
    struct ept_rec h;
    struct ept_sock s;
    struct ept_addr addr;
    int32_t result;
    int32_t backlog;
};

struct ept_accept {
    struct ept_rec h;
    struct ept_sock listener;
    struct ept_sock s;      /* the new socket; s.fd is -1 when result < 0 */
    int32_t result;         /* the new fd, or -errno */
    uint32_t call;          /* EPT_CALL_DEFAULT (accept4) or EPT_CALL_ACCEPT; 0 in 1.0 */
    struct ept_addr peer;
};

struct ept_connect {
    struct ept_rec h;
    struct ept_sock s;
    uint16_t backend;  /* index into the backend list of the config text, 0xffff: none */
    uint8_t phase;     /* 0: connect() called, 1: completion (SO_ERROR) */
    uint8_t pad;
    int32_t result;    /* 0, -EINPROGRESS, or -errno */
    struct ept_addr addr;
};

/* EPT_READ and EPT_WRITE share this layout; preview bytes follow, padded to 8. */
struct ept_io {
    struct ept_rec h;
    struct ept_sock s;
    uint32_t asked;
    int32_t result;   /* bytes moved, 0 for EOF on read, or -errno */
    uint16_t preview_len;
    uint16_t call;    /* EPT_CALL_*: read, readv, recv... (0 in 1.0: read or write) */
    uint16_t pad[2];
    /* uint8_t preview[preview_len]; */
};

struct ept_shutdown { struct ept_rec h; struct ept_sock s; int32_t how; int32_t result; };

struct ept_close {
    struct ept_rec h;
    struct ept_sock s;
    int32_t result;
    uint32_t reason;  /* EPT_CLOSE_* */
    /* since 1.2 (a 1.0/1.1 record ends above: both read as 0, "not known") */
    uint32_t flags;   /* EPT_CLOSEF_* */
    uint32_t unread;  /* with EPT_CLOSEF_UNREAD: bytes the kernel still held for reading */
};

/* ept_close.flags */
#define EPT_CLOSEF_UNREAD 1u /* unread is known (FIONREAD just before the close) */

struct ept_pick {
    struct ept_rec h;
    struct ept_sock client;
    uint16_t backend;   /* index chosen, 0xffff when none is up */
    uint8_t algo;       /* EPT_ALGO_* */
    uint8_t attempt;    /* 1 for the first pick of a connection, 2... for retries */
    uint32_t active;    /* the chosen backend's connections, this one included */
};

struct ept_lost {
    struct ept_rec h;
    uint64_t count;     /* records dropped because the ring was full */
    uint64_t first_seq; /* seq numbers they would have had */
    uint64_t last_seq;
    uint64_t first_ns;
    uint64_t last_ns;
};

struct ept_note {
    struct ept_rec h;
    uint16_t kind;     /* EPT_NOTE_* */
    uint16_t len;      /* text bytes that follow, padded to 8 */
    uint32_t pad;
    /* char text[len]; */
};

struct ept_timeout {
    struct ept_rec h;
    struct ept_sock s;  /* the client socket of the connection */
    uint32_t kind;      /* EPT_TIMER_* */
    uint32_t ms;        /* the limit that ran out */
};

struct ept_health {
    struct ept_rec h;
    uint16_t backend;
    uint8_t up;         /* 1 up again, 0 marked down */
    uint8_t pad;
    int32_t reason;     /* -errno of the failure that marked it down */
    uint32_t down_ms;   /* how long it stays down */
    uint32_t pad2;
};

struct ept_pause {
    struct ept_rec h;
    struct ept_sock s;  /* the listener */
    uint32_t paused;    /* 1 stops accepting, 0 resumes */
    uint32_t reason;    /* EPT_PAUSE_* */
};

struct ept_socket {
    struct ept_rec h;
    struct ept_sock s;  /* s.fd is the result when it succeeded, else -1 */
    int32_t domain;
    int32_t type;       /* as passed: SOCK_NONBLOCK and SOCK_CLOEXEC included */
    int32_t protocol;
    int32_t result;     /* the new fd, or -errno */
};

struct ept_dup {
    struct ept_rec h;
    struct ept_sock s;  /* the new number; s.sid is the original's: the same open file */
    int32_t oldfd;
    int32_t result;     /* the new fd, or -errno */
    uint32_t call;      /* EPT_CALL_DEFAULT (dup), _DUP2, _DUP3, _FCNTL */
    uint32_t pad;
};

struct ept_fork {
    struct ept_rec h;
    int32_t result;     /* the child's pid, or -errno */
    uint32_t call;      /* EPT_CALL_DEFAULT (fork), _VFORK, _CLONE */
};

struct ept_fdinfo {
    struct ept_rec h;
    struct ept_sock s;  /* the fd and the identity given to it */
    uint32_t kind;      /* EPT_FD_* */
    uint32_t flags;     /* EPT_FDINFO_* */
    struct ept_addr local;
    struct ept_addr peer;
};

/* The proxy's annotation (when tracing) after a handler stopped before the kernel said
 * "nothing more": an edge-triggered socket left after a full read (its read budget, its
 * buffer, or a fault), or a listener left after its accept budget. What the program does
 * not know, the kernel does: how much still waits there, for the viewer to show. */
struct ept_queue {
    struct ept_rec h;
    struct ept_sock s;
    uint32_t kind;      /* EPT_QUEUE_* */
    uint32_t count;     /* bytes unread, or connections waiting */
    uint32_t max;       /* EPT_QUEUE_BACKLOG: the listen() backlog the kernel applies; else 0 */
    uint32_t pad;
};

struct ept_end {
    struct ept_rec h;
    uint64_t records;   /* records produced, this one included */
    uint64_t lost;      /* records dropped in all */
};

/* What a record type is: the one table that knows every type. dump, JSON, chrome, compare,
 * the replay model and the viewer's index ask it which socket a record is about, whether it
 * is a system call, and what the call is named. */
enum ept_type_flags {
    EPT_T_SYSCALL = 1u,     /* a system call the program made (what strace would show) */
    EPT_T_EPOLL = 2u,       /* epoll_create, epoll_ctl, epoll_wait, ready */
    EPT_T_ANNOTATION = 4u,  /* the proxy's own commentary: no recorded program writes it */
    EPT_T_META = 8u,        /* about the trace itself: lost, end */
};

struct ept_type_info {
    const char *name;       /* "epoll_ctl": the record's name in dump --json and the docs */
    uint16_t size;          /* of the struct this version writes */
    uint16_t sock;          /* offset of the ept_sock the record is about, 0: none */
    uint16_t sock2;         /* offset of a second one (accept: the listener), 0: none */
    uint16_t result;        /* offset of its int32 result, 0: none */
    uint32_t flags;         /* EPT_T_* */
};

/* The description of a record type, or NULL when this version does not know it. */
const struct ept_type_info *ept_type(unsigned type);
/* Name of a record type ("epoll_wait", "read", ...), or NULL if unknown. */
const char *ept_type_name(unsigned type);
/* The system call a record stands for, as strace names it ("recvfrom", "epoll_pwait",
 * "accept4"), or NULL when the record is not a call. */
const char *ept_call_name(const struct ept_rec *r);
/* The socket the record is about (accept: the new socket when it succeeded, else the
 * listener); returns 1, or 0 with *s zeroed when the record names none. */
int ept_rec_sock(const struct ept_rec *r, struct ept_sock *s);
/* The listener of an accept record, the second socket of others; 1, or 0 with *s zeroed. */
int ept_rec_sock2(const struct ept_rec *r, struct ept_sock *s);
/* The record's result (a count, fd, 0, or -errno) into *res; 1, or 0 when it has none. */
int ept_rec_result(const struct ept_rec *r, long *res);
const char *ept_fd_kind_name(unsigned kind);
const char *ept_mode_name(unsigned mode);
/* Parse "level", "edge", "edge-oneshot" (or "oneshot"); -EINVAL when unknown. */
int ept_mode_parse(const char *s);
/* "client", "backend"... as the proxy names them; ept_role_name_recorded: "accepted",
 * "connected"... for a trace of another program. */
const char *ept_role_name(unsigned role);
const char *ept_role_name_recorded(unsigned role);
const char *ept_close_reason_name(unsigned reason);
const char *ept_algo_name(unsigned algo);

/* Copy a record into dst (a struct of dstsize bytes), zero-filling what it lacks. Inline:
 * the analysis pass calls it for nearly every record, and a fixed-size copy compiles to a
 * few moves. */
static inline void ept_rec_get(const struct ept_rec *r, void *dst, size_t dstsize)
{
    if (__builtin_expect(r->size >= dstsize, 1)) {
        __builtin_memcpy(dst, r, dstsize);
        return;
    }
    __builtin_memcpy(dst, r, r->size);
    __builtin_memset((uint8_t *)dst + r->size, 0, dstsize - r->size);
}
/* A record's body as struct T, read in place when the record is at least that long (records
 * are 8-aligned in blocks, and so in the mapping), else copied into *buf with what it
 * lacks zeroed (a record from an older, shorter version). For the hot loops. */
static inline const void *ept_rec_view(const struct ept_rec *r, void *buf, size_t size)
{
    if (__builtin_expect(r->size >= size, 1))
        return r;
    __builtin_memcpy(buf, r, r->size);
    __builtin_memset((uint8_t *)buf + r->size, 0, size - r->size);
    return buf;
}
#define EPT_VIEW(T, v, rec) T v##_short; const T *v = ept_rec_view(rec, &v##_short, sizeof(T))

/* The payload bytes following a fixed struct of known size in r (preview, note text).
 * Inline: the analysis asks it for every write. */
static inline const uint8_t *ept_rec_tail(const struct ept_rec *r, size_t fixed, size_t want,
                                          size_t *len)
{
    size_t have = r->size > fixed ? r->size - fixed : 0;
    *len = want < have ? want : have;
    return (const uint8_t *)r + fixed;
}

/* Round n up to a multiple of 8. */
static inline size_t ept_pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The header and trailer of a block holding the len bytes of nrec whole records at recs
 * (CRC included): what a writer puts before and after them. */
void ept_block_seal(struct ept_block *hdr, uint32_t trailer[2], const uint8_t *recs, size_t len,
                    uint32_t nrec);

/* Fill a header; crc and header_size are set by ept_header_encode. */
void ept_header_init(struct ept_header *h, uint8_t mode, uint8_t listener_mode,
                     uint16_t preview, uint32_t ring_size);
/* Encode header + config text into buf (ept_header_size(config_len) bytes). */
size_t ept_header_size(size_t config_len);
void ept_header_encode(struct ept_header *h, const char *config, size_t config_len,
                       uint8_t *buf);

#endif
