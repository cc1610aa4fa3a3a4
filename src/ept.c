/* ept.c - names, sizes and header encoding for the .ept trace format (see ept.h). */
#include "ept.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"

_Static_assert(sizeof(struct ept_header) == EPT_HDR_FIXED, "header layout");
_Static_assert(sizeof(struct ept_block) == EPT_BLOCK_HDR, "block layout");
_Static_assert(sizeof(struct ept_rec) == 24, "record header layout");
_Static_assert(sizeof(struct ept_sock) == 16, "sock layout");
_Static_assert(sizeof(struct ept_addr) == 24, "addr layout");
_Static_assert(sizeof(struct ept_epoll_ctl) == 56, "epoll_ctl layout");
_Static_assert(sizeof(struct ept_ready) == 48, "ready layout");
_Static_assert(sizeof(struct ept_accept) == 88, "accept layout");
_Static_assert(sizeof(struct ept_io) == 56, "io layout");
_Static_assert(sizeof(struct ept_lost) == 64, "lost layout");

_Static_assert(sizeof(struct ept_epoll_create) == 40, "epoll_create layout");
_Static_assert(sizeof(struct ept_epoll_wait) == 56, "epoll_wait layout 1.1");
_Static_assert(sizeof(struct ept_socket) == 56, "socket layout");
_Static_assert(sizeof(struct ept_dup) == 56, "dup layout");
_Static_assert(sizeof(struct ept_fork) == 32, "fork layout");
_Static_assert(sizeof(struct ept_fdinfo) == 96, "fdinfo layout");

#define OFF(T, f) ((uint16_t)offsetof(T, f))
#define SYS EPT_T_SYSCALL
#define EP EPT_T_EPOLL
#define ANN EPT_T_ANNOTATION

/* Every record type: its name, size, which sockets it names, where its result is. */
static const struct ept_type_info types[EPT_TYPE_COUNT] = {
    [EPT_PAD] = {"pad", 8, 0, 0, 0, EPT_T_META},
    [EPT_EPOLL_CREATE] = {"epoll_create", sizeof(struct ept_epoll_create), 0, 0,
                          OFF(struct ept_epoll_create, result), SYS | EP},
    [EPT_EPOLL_CTL] = {"epoll_ctl", sizeof(struct ept_epoll_ctl), OFF(struct ept_epoll_ctl, s), 0,
                       OFF(struct ept_epoll_ctl, result), SYS | EP},
    [EPT_EPOLL_WAIT] = {"epoll_wait", sizeof(struct ept_epoll_wait), 0, 0,
                        OFF(struct ept_epoll_wait, result), SYS | EP},
    [EPT_READY] = {"ready", sizeof(struct ept_ready), OFF(struct ept_ready, s), 0, 0, EP},
    [EPT_HANDLE] = {"handle", sizeof(struct ept_ready), OFF(struct ept_ready, s), 0, 0, ANN},
    [EPT_LISTEN] = {"listen", sizeof(struct ept_listen), OFF(struct ept_listen, s), 0,
                    OFF(struct ept_listen, result), SYS},
    [EPT_ACCEPT] = {"accept", sizeof(struct ept_accept), OFF(struct ept_accept, s),
                    OFF(struct ept_accept, listener), OFF(struct ept_accept, result), SYS},
    [EPT_CONNECT] = {"connect", sizeof(struct ept_connect), OFF(struct ept_connect, s), 0,
                     OFF(struct ept_connect, result), SYS},
    [EPT_READ] = {"read", sizeof(struct ept_io), OFF(struct ept_io, s), 0,
                  OFF(struct ept_io, result), SYS},
    [EPT_WRITE] = {"write", sizeof(struct ept_io), OFF(struct ept_io, s), 0,
                   OFF(struct ept_io, result), SYS},
    [EPT_SHUTDOWN] = {"shutdown", sizeof(struct ept_shutdown), OFF(struct ept_shutdown, s), 0,
                      OFF(struct ept_shutdown, result), SYS},
    [EPT_CLOSE] = {"close", sizeof(struct ept_close), OFF(struct ept_close, s), 0,
                   OFF(struct ept_close, result), SYS},
    [EPT_PICK] = {"pick", sizeof(struct ept_pick), OFF(struct ept_pick, client), 0, 0, ANN},
    [EPT_LOST] = {"lost", sizeof(struct ept_lost), 0, 0, 0, EPT_T_META},
    [EPT_NOTE] = {"note", sizeof(struct ept_note), 0, 0, 0, ANN},
    [EPT_TIMEOUT] = {"timeout", sizeof(struct ept_timeout), OFF(struct ept_timeout, s), 0, 0,
                     ANN},
    [EPT_HEALTH] = {"health", sizeof(struct ept_health), 0, 0, 0, ANN},
    [EPT_END] = {"end", sizeof(struct ept_end), 0, 0, 0, EPT_T_META},
    [EPT_PAUSE] = {"pause", sizeof(struct ept_pause), OFF(struct ept_pause, s), 0, 0, ANN},
    [EPT_SOCKET] = {"socket", sizeof(struct ept_socket), OFF(struct ept_socket, s), 0,
                    OFF(struct ept_socket, result), SYS},
    [EPT_DUP] = {"dup", sizeof(struct ept_dup), OFF(struct ept_dup, s), 0,
                 OFF(struct ept_dup, result), SYS},
    [EPT_FORK] = {"fork", sizeof(struct ept_fork), 0, 0, OFF(struct ept_fork, result), SYS},
    [EPT_FDINFO] = {"fdinfo", sizeof(struct ept_fdinfo), OFF(struct ept_fdinfo, s), 0, 0, 0},
    [EPT_QUEUE] = {"queue", sizeof(struct ept_queue), OFF(struct ept_queue, s), 0, 0, ANN},
};

const struct ept_type_info *ept_type(unsigned type)
{
    return type < EPT_TYPE_COUNT && types[type].name ? &types[type] : NULL;
}

const char *ept_type_name(unsigned type)
{
    const struct ept_type_info *t = ept_type(type);
    return t ? t->name : NULL;
}

/* Read a field at off of r, zero when the record is too short to have it. */
static void field(const struct ept_rec *r, size_t off, void *dst, size_t n)
{
    if (off + n <= r->size)
        memcpy(dst, (const uint8_t *)r + off, n);
    else
        memset(dst, 0, n);
}

int ept_rec_sock(const struct ept_rec *r, struct ept_sock *s)
{
    const struct ept_type_info *t = ept_type(r->type);
    memset(s, 0, sizeof(*s));
    if (!t || !t->sock)
        return 0;
    if (r->type == EPT_ACCEPT) { /* a failed accept is about its listener */
        int32_t res;
        field(r, t->result, &res, sizeof(res));
        field(r, res >= 0 ? t->sock : t->sock2, s, sizeof(*s));
        return 1;
    }
    field(r, t->sock, s, sizeof(*s));
    return 1;
}

int ept_rec_sock2(const struct ept_rec *r, struct ept_sock *s)
{
    const struct ept_type_info *t = ept_type(r->type);
    memset(s, 0, sizeof(*s));
    if (!t || !t->sock2)
        return 0;
    field(r, t->sock2, s, sizeof(*s));
    return 1;
}

int ept_rec_result(const struct ept_rec *r, long *res)
{
    const struct ept_type_info *t = ept_type(r->type);
    *res = 0;
    if (!t || !t->result)
        return 0;
    int32_t v;
    field(r, t->result, &v, sizeof(v));
    *res = v;
    return 1;
}

const char *ept_call_name(const struct ept_rec *r)
{
    static const char *io_read[] = {
        [EPT_CALL_DEFAULT] = "read", [EPT_CALL_READV] = "readv", [EPT_CALL_RECV] = "recv",
        [EPT_CALL_RECVFROM] = "recvfrom", [EPT_CALL_RECVMSG] = "recvmsg",
        [EPT_CALL_SPLICE] = "splice",
    };
    static const char *io_write[] = {
        [EPT_CALL_DEFAULT] = "write", [EPT_CALL_WRITEV] = "writev", [EPT_CALL_SEND] = "send",
        [EPT_CALL_SENDTO] = "sendto", [EPT_CALL_SENDMSG] = "sendmsg",
        [EPT_CALL_SENDFILE] = "sendfile", [EPT_CALL_SPLICE] = "splice",
    };
    const struct ept_type_info *t = ept_type(r->type);
    if (!t || !(t->flags & EPT_T_SYSCALL))
        return NULL;
    uint32_t call = 0;
    switch (r->type) {
    case EPT_READ:
    case EPT_WRITE: {
        uint16_t c;
        field(r, offsetof(struct ept_io, call), &c, sizeof(c));
        const char **names = r->type == EPT_READ ? io_read : io_write;
        size_t n = r->type == EPT_READ ? sizeof(io_read) / sizeof(*io_read)
                                       : sizeof(io_write) / sizeof(*io_write);
        return c < n && names[c] ? names[c] : t->name;
    }
    case EPT_EPOLL_WAIT:
        field(r, offsetof(struct ept_epoll_wait, call), &call, sizeof(call));
        return call == EPT_CALL_PWAIT ? "epoll_pwait"
               : call == EPT_CALL_PWAIT2 ? "epoll_pwait2" : "epoll_wait";
    case EPT_EPOLL_CREATE:
        field(r, offsetof(struct ept_epoll_create, call), &call, sizeof(call));
        return call == EPT_CALL_CREATE ? "epoll_create" : "epoll_create1";
    case EPT_ACCEPT:
        field(r, offsetof(struct ept_accept, call), &call, sizeof(call));
        return call == EPT_CALL_ACCEPT ? "accept" : "accept4";
    case EPT_CONNECT: {
        uint8_t phase;
        field(r, offsetof(struct ept_connect, phase), &phase, sizeof(phase));
        return phase ? "getsockopt" : "connect";
    }
    case EPT_DUP:
        field(r, offsetof(struct ept_dup, call), &call, sizeof(call));
        return call == EPT_CALL_DUP2 ? "dup2" : call == EPT_CALL_DUP3 ? "dup3"
               : call == EPT_CALL_FCNTL ? "fcntl" : "dup";
    case EPT_FORK:
        field(r, offsetof(struct ept_fork, call), &call, sizeof(call));
        return call == EPT_CALL_VFORK ? "vfork" : call == EPT_CALL_CLONE ? "clone" : "fork";
    default:
        return t->name;
    }
}

const char *ept_fd_kind_name(unsigned kind)
{
    static const char *names[EPT_FD_KIND_COUNT] = {
        "unknown", "tcp", "udp", "unix", "socket", "epoll", "eventfd", "timerfd", "signalfd",
        "pipe", "file", "other",
    };
    return kind < EPT_FD_KIND_COUNT ? names[kind] : "unknown";
}

const char *ept_mode_name(unsigned mode)
{
    switch (mode) {
    case EPT_MODE_LEVEL: return "level";
    case EPT_MODE_EDGE: return "edge";
    case EPT_MODE_ONESHOT: return "edge-oneshot";
    case EPT_MODE_NONE: return "none";
    default: return "unknown";
    }
}

int ept_mode_parse(const char *s)
{
    if (!strcmp(s, "level"))
        return EPT_MODE_LEVEL;
    if (!strcmp(s, "edge"))
        return EPT_MODE_EDGE;
    if (!strcmp(s, "edge-oneshot") || !strcmp(s, "oneshot"))
        return EPT_MODE_ONESHOT;
    return -EINVAL;
}

const char *ept_role_name(unsigned role)
{
    static const char *names[] = {"-", "listener", "client", "backend", "other", "epoll"};
    return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

const char *ept_role_name_recorded(unsigned role)
{
    static const char *names[] = {"-", "listener", "accepted", "connected", "other", "epoll"};
    return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

const char *ept_close_reason_name(unsigned reason)
{
    static const char *names[] = {"done",       "reset",    "error", "timeout",
                                  "no-backend", "shutdown", "retry", "limit", "call"};
    return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

const char *ept_algo_name(unsigned algo)
{
    static const char *names[] = {"roundrobin", "leastconn", "hash", "random2"};
    return algo < 4 ? names[algo] : "?";
}

void ept_block_seal(struct ept_block *hdr, uint32_t trailer[2], const uint8_t *recs, size_t len,
                    uint32_t nrec)
{
    const struct ept_rec *first = (const void *)recs, *last = first;
    for (size_t off = 0; off < len; off += last->size)
        last = (const void *)(recs + off);
    uint32_t total = (uint32_t)(EPT_BLOCK_HDR + len + EPT_BLOCK_TRAILER);
    *hdr = (struct ept_block){EPT_BLOCK_MAGIC, total, first->seq, nrec, 0, first->ns, last->ns};
    trailer[0] = total;
    trailer[1] = EPT_BLOCK_TAIL;
    uint32_t crc = crc32c(0, hdr, sizeof(*hdr));
    crc = crc32c(crc, recs, len);
    hdr->crc = crc32c(crc, trailer, 2 * sizeof(uint32_t));
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ept_header_init(struct ept_header *h, uint8_t mode, uint8_t listener_mode,
                     uint16_t preview, uint32_t ring_size)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, EPT_MAGIC, 8);
    h->version_major = EPT_VERSION_MAJOR;
    h->version_minor = EPT_VERSION_MINOR;
    h->byte_order = EPT_BYTE_ORDER;
    h->clock = EPT_CLOCK_MONOTONIC;
    h->mono_start_ns = clock_ns(CLOCK_MONOTONIC);
    h->wall_start_ns = clock_ns(CLOCK_REALTIME);
    h->pid = (uint32_t)getpid();
    h->mode = mode;
    h->listener_mode = listener_mode;
    h->preview = preview;
    h->ring_size = ring_size;
    snprintf(h->producer, sizeof(h->producer), "epscope %s", EPSCOPE_VERSION);
}

size_t ept_header_size(size_t config_len)
{
    return ept_pad8(EPT_HDR_FIXED + config_len);
}

void ept_header_encode(struct ept_header *h, const char *config, size_t config_len,
                       uint8_t *buf)
{
    size_t size = ept_header_size(config_len);
    h->header_size = (uint32_t)size;
    h->config_len = (uint32_t)config_len;
    h->crc = 0;
    memset(buf, 0, size);
    memcpy(buf, h, sizeof(*h));
    memcpy(buf + EPT_HDR_FIXED, config, config_len);
    h->crc = crc32c(0, buf, size);
    memcpy(buf + offsetof(struct ept_header, crc), &h->crc, 4);
}
