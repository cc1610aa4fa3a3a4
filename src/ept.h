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
 *    10   2 version_minor  0; a newer minor only adds record types and trailing fields
 *    12   4 header_size    bytes from offset 0 to the first block
 *    16   4 byte_order     0x0A0B0C0D
 *    20   4 clock          1 = CLOCK_MONOTONIC (every record's ns field)
 *    24   8 mono_start_ns  CLOCK_MONOTONIC when the trace began
 *    32   8 wall_start_ns  CLOCK_REALTIME read at the same moment (the wall-clock anchor)
 *    40   4 pid            of the writer
 *    44   1 mode           EPT_MODE_*: the proxy's trigger mode
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
 *     4   4 reserved       0
 *     8   8 seq            1, 2, 3...; a gap is always explained by a lost record
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
#define EPT_VERSION_MINOR 0
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
    EPT_MODE_NONE = 255,   /* not written by the proxy */
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
    EPT_TYPE_COUNT
};

/* Socket roles. */
enum ept_role {
    EPT_ROLE_NONE = 0,
    EPT_ROLE_LISTENER = 1,
    EPT_ROLE_CLIENT = 2,
    EPT_ROLE_BACKEND = 3,
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
    uint32_t reserved;
    uint64_t seq;
    uint64_t ns;
};

/* Which socket a record is about: fd numbers are reused, sid never is. */
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

struct ept_epoll_create { struct ept_rec h; int32_t result; int32_t flags; };

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
    uint32_t pad;
    struct ept_addr peer;
};

struct ept_connect {
    struct ept_rec h;
    struct ept_sock s;
    uint16_t backend;  /* index into the backend list of the config text */
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
    uint16_t pad[3];
    /* uint8_t preview[preview_len]; */
};

struct ept_shutdown { struct ept_rec h; struct ept_sock s; int32_t how; int32_t result; };

struct ept_close {
    struct ept_rec h;
    struct ept_sock s;
    int32_t result;
    uint32_t reason;  /* EPT_CLOSE_* */
};

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

struct ept_end {
    struct ept_rec h;
    uint64_t records;   /* records produced, this one included */
    uint64_t lost;      /* records dropped in all */
};

/* Name of a record type ("epoll_wait", "read", ...), or NULL if unknown. */
const char *ept_type_name(unsigned type);
/* Smallest valid size for a record of a known type, 24 for unknown ones. */
size_t ept_type_min_size(unsigned type);
const char *ept_mode_name(unsigned mode);
/* Parse "level", "edge", "edge-oneshot" (or "oneshot"); -EINVAL when unknown. */
int ept_mode_parse(const char *s);
const char *ept_role_name(unsigned role);
const char *ept_close_reason_name(unsigned reason);
const char *ept_algo_name(unsigned algo);

/* Copy a record into dst (a struct of dstsize bytes), zero-filling what it lacks. */
void ept_rec_get(const struct ept_rec *r, void *dst, size_t dstsize);
/* The payload bytes following a fixed struct of known size in r (preview, note text). */
const uint8_t *ept_rec_tail(const struct ept_rec *r, size_t fixed, size_t want, size_t *len);

/* Round n up to a multiple of 8. */
static inline size_t ept_pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Fill a header; crc and header_size are set by ept_header_encode. */
void ept_header_init(struct ept_header *h, uint8_t mode, uint8_t listener_mode,
                     uint16_t preview, uint32_t ring_size);
/* Encode header + config text into buf (ept_header_size(config_len) bytes). */
size_t ept_header_size(size_t config_len);
void ept_header_encode(struct ept_header *h, const char *config, size_t config_len,
                       uint8_t *buf);

#endif
