/* ept.c - names, sizes and header encoding for the .ept trace format (see ept.h). */
#include "ept.h"

#include <errno.h>
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
_Static_assert(sizeof(struct ept_epoll_wait) == 48, "epoll_wait layout");
_Static_assert(sizeof(struct ept_ready) == 48, "ready layout");
_Static_assert(sizeof(struct ept_accept) == 88, "accept layout");
_Static_assert(sizeof(struct ept_io) == 56, "io layout");
_Static_assert(sizeof(struct ept_lost) == 64, "lost layout");

static const struct {
    const char *name;
    size_t size;
} types[EPT_TYPE_COUNT] = {
    [EPT_PAD] = {"pad", 8},
    [EPT_EPOLL_CREATE] = {"epoll_create", sizeof(struct ept_epoll_create)},
    [EPT_EPOLL_CTL] = {"epoll_ctl", sizeof(struct ept_epoll_ctl)},
    [EPT_EPOLL_WAIT] = {"epoll_wait", sizeof(struct ept_epoll_wait)},
    [EPT_READY] = {"ready", sizeof(struct ept_ready)},
    [EPT_HANDLE] = {"handle", sizeof(struct ept_ready)},
    [EPT_LISTEN] = {"listen", sizeof(struct ept_listen)},
    [EPT_ACCEPT] = {"accept", sizeof(struct ept_accept)},
    [EPT_CONNECT] = {"connect", sizeof(struct ept_connect)},
    [EPT_READ] = {"read", sizeof(struct ept_io)},
    [EPT_WRITE] = {"write", sizeof(struct ept_io)},
    [EPT_SHUTDOWN] = {"shutdown", sizeof(struct ept_shutdown)},
    [EPT_CLOSE] = {"close", sizeof(struct ept_close)},
    [EPT_PICK] = {"pick", sizeof(struct ept_pick)},
    [EPT_LOST] = {"lost", sizeof(struct ept_lost)},
    [EPT_NOTE] = {"note", sizeof(struct ept_note)},
    [EPT_TIMEOUT] = {"timeout", sizeof(struct ept_timeout)},
    [EPT_HEALTH] = {"health", sizeof(struct ept_health)},
    [EPT_END] = {"end", sizeof(struct ept_end)},
    [EPT_PAUSE] = {"pause", sizeof(struct ept_pause)},
};

const char *ept_type_name(unsigned type)
{
    return type < EPT_TYPE_COUNT ? types[type].name : NULL;
}

size_t ept_type_min_size(unsigned type)
{
    return type < EPT_TYPE_COUNT ? types[type].size : sizeof(struct ept_rec);
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
    static const char *names[] = {"-", "listener", "client", "backend"};
    return role < 4 ? names[role] : "?";
}

const char *ept_close_reason_name(unsigned reason)
{
    static const char *names[] = {"done",    "reset",    "error", "timeout",
                                  "no-backend", "shutdown", "retry", "limit"};
    return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

const char *ept_algo_name(unsigned algo)
{
    static const char *names[] = {"roundrobin", "leastconn", "hash", "random2"};
    return algo < 4 ? names[algo] : "?";
}

void ept_rec_get(const struct ept_rec *r, void *dst, size_t dstsize)
{
    size_t n = r->size < dstsize ? r->size : dstsize;
    memcpy(dst, r, n);
    if (n < dstsize)
        memset((uint8_t *)dst + n, 0, dstsize - n);
}

const uint8_t *ept_rec_tail(const struct ept_rec *r, size_t fixed, size_t want, size_t *len)
{
    size_t have = r->size > fixed ? r->size - fixed : 0;
    *len = want < have ? want : have;
    return (const uint8_t *)r + fixed;
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
