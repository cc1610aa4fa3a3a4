/* fmt.c - formatting records as strace-like text and as JSON objects. */
#include "fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

void sb_init(struct sbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    if (cap)
        p[0] = 0;
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

void sb_puts(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + 1 >= b->cap)
        return;
    if (n > b->cap - 1 - b->len)
        n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sb_escape(struct sbuf *b, const uint8_t *p, size_t n, int json)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        switch (c) {
        case '\r': sb_puts(b, "\\r"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                char s[2] = {(char)c, 0};
                sb_puts(b, s);
            } else if (json) {
                sb_printf(b, "\\u%04x", c);
            } else {
                sb_printf(b, "\\x%02x", c);
            }
        }
    }
}

void fmt_events(struct sbuf *b, uint32_t ev)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {EPOLLIN, "EPOLLIN"},         {EPOLLOUT, "EPOLLOUT"},   {EPOLLRDHUP, "EPOLLRDHUP"},
        {EPOLLPRI, "EPOLLPRI"},       {EPOLLERR, "EPOLLERR"},   {EPOLLHUP, "EPOLLHUP"},
        {EPOLLET, "EPOLLET"},         {EPOLLONESHOT, "EPOLLONESHOT"},
        {EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"}, {EPOLLWAKEUP, "EPOLLWAKEUP"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (ev & names[i].bit) {
            sb_printf(b, "%s%s", any ? "|" : "", names[i].name);
            ev &= ~names[i].bit;
            any = 1;
        }
    }
    if (ev)
        sb_printf(b, "%s0x%x", any ? "|" : "", ev);
    else if (!any)
        sb_puts(b, "0");
}

const char *fmt_errno(long e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNABORTED: return "ECONNABORTED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINPROGRESS: return "EINPROGRESS";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOTCONN: return "ENOTCONN";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENOBUFS: return "ENOBUFS";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSPC: return "ENOSPC";
    case EIO: return "EIO";
    default: {
        static _Thread_local char buf[24];
        snprintf(buf, sizeof(buf), "E%ld", e);
        return buf;
    }
    }
}

void fmt_addr(struct sbuf *b, const struct ept_addr *a)
{
    char ip[INET6_ADDRSTRLEN];
    if (a->family == AF_INET && inet_ntop(AF_INET, a->ip, ip, sizeof(ip)))
        sb_printf(b, "%s:%u", ip, a->port);
    else if (a->family == AF_INET6 && inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)))
        sb_printf(b, "[%s]:%u", ip, a->port);
    else
        sb_puts(b, "-");
}

const char *fmt_ctl_op(int op)
{
    switch (op) {
    case EPOLL_CTL_ADD: return "ADD";
    case EPOLL_CTL_MOD: return "MOD";
    case EPOLL_CTL_DEL: return "DEL";
    default: return "?";
    }
}

static void result(struct sbuf *b, long r)
{
    if (r < 0)
        sb_printf(b, " = -1 %s", fmt_errno(-r));
    else
        sb_printf(b, " = %ld", r);
}

static void tag(struct sbuf *b, const struct ept_sock *s)
{
    if (!s->sid)
        return;
    if (s->role) /* the proxy names its sockets' roles; a recorder leaves them to readers */
        sb_printf(b, "  [%s s%u", ept_role_name(s->role), s->sid);
    else
        sb_printf(b, "  [s%u", s->sid);
    if (s->conn)
        sb_printf(b, " c%u", s->conn);
    sb_puts(b, "]");
}

static const char *domain_name(int d)
{
    return d == AF_INET ? "AF_INET" : d == AF_INET6 ? "AF_INET6" : d == AF_UNIX ? "AF_UNIX"
                                                                                : "AF_?";
}

static void socktype(struct sbuf *b, int type)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    sb_puts(b, base == SOCK_STREAM ? "SOCK_STREAM" : base == SOCK_DGRAM ? "SOCK_DGRAM"
                                                                        : "SOCK_?");
    if (type & SOCK_NONBLOCK)
        sb_puts(b, "|SOCK_NONBLOCK");
    if (type & SOCK_CLOEXEC)
        sb_puts(b, "|SOCK_CLOEXEC");
}

static const char *how_name(int how)
{
    return how == SHUT_RD ? "SHUT_RD" : how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR";
}

#define GET(T, v) T v; ept_rec_get(r, &v, sizeof(v))

void fmt_rec(struct sbuf *b, const struct ept_rec *r)
{
    switch (r->type) {
    case EPT_EPOLL_CREATE: {
        GET(struct ept_epoll_create, e);
        if (e.call == EPT_CALL_CREATE)
            sb_printf(b, "epoll_create(%d)", e.flags);
        else
            sb_printf(b, "epoll_create1(%s)", e.flags ? "EPOLL_CLOEXEC" : "0");
        result(b, e.result);
        if (e.sid)
            sb_printf(b, "  [s%u]", e.sid);
        break;
    }
    case EPT_EPOLL_CTL: {
        GET(struct ept_epoll_ctl, e);
        sb_printf(b, "epoll_ctl(%s, %d", fmt_ctl_op(e.op), e.s.fd);
        if (e.op != EPOLL_CTL_DEL) { /* DEL's event is ignored (and often left unset) */
            sb_puts(b, ", ");
            fmt_events(b, e.events);
        }
        sb_puts(b, ")");
        result(b, e.result);
        tag(b, &e.s);
        break;
    }
    case EPT_EPOLL_WAIT: {
        GET(struct ept_epoll_wait, e);
        sb_printf(b, "%s(timeout=%d, max=%d)", ept_call_name(r), e.timeout, e.maxevents);
        result(b, e.result);
        sb_printf(b, " <%llu.%06llu>", (unsigned long long)(e.blocked_ns / 1000000000u),
                  (unsigned long long)(e.blocked_ns % 1000000000u / 1000u));
        break;
    }
    case EPT_READY:
    case EPT_HANDLE: {
        GET(struct ept_ready, e);
        sb_printf(b, "  %s fd=%d ", r->type == EPT_READY ? "ready" : "handle", e.s.fd);
        fmt_events(b, e.events);
        if (r->type == EPT_HANDLE)
            sb_printf(b, " (#%u)", e.index);
        tag(b, &e.s);
        break;
    }
    case EPT_LISTEN: {
        GET(struct ept_listen, e);
        sb_printf(b, "listen(%d, ", e.s.fd);
        fmt_addr(b, &e.addr);
        sb_printf(b, ", backlog=%d)", e.backlog);
        result(b, e.result);
        tag(b, &e.s);
        break;
    }
    case EPT_ACCEPT: {
        GET(struct ept_accept, e);
        sb_printf(b, "%s(%d)", ept_call_name(r), e.listener.fd);
        result(b, e.result);
        if (e.result >= 0) {
            sb_puts(b, " ");
            fmt_addr(b, &e.peer);
        }
        tag(b, &e.s);
        break;
    }
    case EPT_CONNECT: {
        GET(struct ept_connect, e);
        if (e.phase == 0) {
            sb_printf(b, "connect(%d, ", e.s.fd);
            fmt_addr(b, &e.addr);
            sb_puts(b, ")");
            result(b, e.result);
        } else {
            sb_printf(b, "getsockopt(%d, SO_ERROR) = %s", e.s.fd,
                      e.result ? fmt_errno(-(long)e.result) : "0");
            sb_puts(b, e.result ? " (connect failed)" : " (connected)");
        }
        if (e.backend != 0xffff)
            sb_printf(b, " backend=%u", e.backend);
        tag(b, &e.s);
        break;
    }
    case EPT_READ:
    case EPT_WRITE: {
        GET(struct ept_io, e);
        sb_printf(b, "%s(%d, %u)", ept_call_name(r), e.s.fd, e.asked);
        result(b, e.result);
        size_t n;
        const uint8_t *p = ept_rec_tail(r, sizeof(e), e.preview_len, &n);
        if (n) {
            sb_puts(b, " \"");
            sb_escape(b, p, n, 0);
            sb_puts(b, e.result > (long)n ? "\"..." : "\"");
        }
        tag(b, &e.s);
        break;
    }
    case EPT_SHUTDOWN: {
        GET(struct ept_shutdown, e);
        sb_printf(b, "shutdown(%d, %s)", e.s.fd, how_name(e.how));
        result(b, e.result);
        tag(b, &e.s);
        break;
    }
    case EPT_CLOSE: {
        GET(struct ept_close, e);
        sb_printf(b, "close(%d)", e.s.fd);
        result(b, e.result);
        if (e.reason != EPT_CLOSE_CALL)
            sb_printf(b, " (%s)", ept_close_reason_name(e.reason));
        if ((e.flags & EPT_CLOSEF_UNREAD) && e.unread)
            sb_printf(b, " %u bytes unread", e.unread);
        tag(b, &e.s);
        break;
    }
    case EPT_PICK: {
        GET(struct ept_pick, e);
        if (e.backend == 0xffff)
            sb_printf(b, "pick conn=%u -> none: no backend left to try (%s, attempt %u)",
                      e.client.conn, ept_algo_name(e.algo), e.attempt);
        else
            sb_printf(b, "pick conn=%u -> backend %u (%s, attempt %u, active %u)",
                      e.client.conn, e.backend, ept_algo_name(e.algo), e.attempt, e.active);
        tag(b, &e.client);
        break;
    }
    case EPT_LOST: {
        GET(struct ept_lost, e);
        double full = (double)(e.last_ns - e.first_ns) / 1e9;
        if (!e.first_seq && !e.last_seq) /* an older recorder's: its drops took no numbers */
            sb_printf(b,
                      "lost %llu records (dropped before this record, seq not recorded, "
                      "ring full for %.6fs)",
                      (unsigned long long)e.count, full);
        else
            sb_printf(b, "lost %llu records (seq %llu-%llu, ring full for %.6fs)",
                      (unsigned long long)e.count, (unsigned long long)e.first_seq,
                      (unsigned long long)e.last_seq, full);
        break;
    }
    case EPT_NOTE: {
        GET(struct ept_note, e);
        static const char *kinds[] = {"note", "warning", "fault", "story"};
        size_t n;
        const uint8_t *p = ept_rec_tail(r, sizeof(e), e.len, &n);
        sb_printf(b, "%s: ", e.kind < 4 ? kinds[e.kind] : "note");
        sb_escape(b, p, n, 0);
        break;
    }
    case EPT_TIMEOUT: {
        GET(struct ept_timeout, e);
        sb_printf(b, "timeout %s conn=%u after %u ms",
                  e.kind == EPT_TIMER_CONNECT ? "connect" : "idle", e.s.conn, e.ms);
        tag(b, &e.s);
        break;
    }
    case EPT_HEALTH: {
        GET(struct ept_health, e);
        if (e.up)
            sb_printf(b, "backend %u up", e.backend);
        else
            sb_printf(b, "backend %u down for %u ms: %s", e.backend, e.down_ms,
                      e.reason ? fmt_errno(-(long)e.reason) : "timeout");
        break;
    }
    case EPT_PAUSE: {
        GET(struct ept_pause, e);
        sb_printf(b, "listener %s%s", e.paused ? "paused" : "resumed",
                  !e.paused ? "" : e.reason == EPT_PAUSE_MAXCONNS ? ": --max-conns reached"
                                                                 : ": out of file descriptors");
        tag(b, &e.s);
        break;
    }
    case EPT_END: {
        GET(struct ept_end, e);
        sb_printf(b, "end of trace (%llu records, %llu lost)", (unsigned long long)e.records,
                  (unsigned long long)e.lost);
        break;
    }
    case EPT_SOCKET: {
        GET(struct ept_socket, e);
        sb_printf(b, "socket(%s, ", domain_name(e.domain));
        socktype(b, e.type);
        sb_printf(b, ", %d)", e.protocol);
        result(b, e.result);
        tag(b, &e.s);
        break;
    }
    case EPT_DUP: {
        GET(struct ept_dup, e);
        if (e.call == EPT_CALL_FCNTL)
            sb_printf(b, "fcntl(%d, F_DUPFD)", e.oldfd);
        else if (e.call == EPT_CALL_DUP2 || e.call == EPT_CALL_DUP3)
            sb_printf(b, "%s(%d, %d)", ept_call_name(r), e.oldfd, e.s.fd);
        else
            sb_printf(b, "dup(%d)", e.oldfd);
        result(b, e.result);
        tag(b, &e.s);
        break;
    }
    case EPT_FORK: {
        GET(struct ept_fork, e);
        sb_printf(b, "%s()", ept_call_name(r));
        result(b, e.result);
        break;
    }
    case EPT_FDINFO: {
        GET(struct ept_fdinfo, e);
        sb_printf(b, "  fd %d: %s", e.s.fd, ept_fd_kind_name(e.kind));
        if (e.flags & EPT_FDINFO_LISTENING)
            sb_puts(b, ", listening");
        if (e.local.family) {
            sb_puts(b, " on ");
            fmt_addr(b, &e.local);
        }
        if (e.peer.family) {
            sb_puts(b, " to ");
            fmt_addr(b, &e.peer);
        }
        sb_puts(b, " (first seen)");
        tag(b, &e.s);
        break;
    }
    case EPT_QUEUE: {
        GET(struct ept_queue, e);
        if (e.kind == EPT_QUEUE_BACKLOG)
            sb_printf(b, "backlog fd=%d: %u connection%s waiting to be accepted (of %u)",
                      e.s.fd, e.count, e.count == 1 ? "" : "s", e.max);
        else
            sb_printf(b, "unread fd=%d: %u bytes still in the kernel", e.s.fd, e.count);
        tag(b, &e.s);
        break;
    }
    default:
        sb_printf(b, "unknown record type %u (%u bytes)", r->type, r->size);
    }
}

static void jsock(struct sbuf *b, const char *pfx, const struct ept_sock *s)
{
    sb_printf(b, ",\"%sfd\":%d,\"%ssid\":%u,\"%sconn\":%u,\"%srole\":\"%s\"", pfx, s->fd, pfx,
              s->sid, pfx, s->conn, pfx, ept_role_name(s->role));
}

static void jevents(struct sbuf *b, const char *key, uint32_t ev)
{
    sb_printf(b, ",\"%s\":\"", key);
    fmt_events(b, ev);
    sb_puts(b, "\"");
}

static void jresult(struct sbuf *b, long r)
{
    sb_printf(b, ",\"result\":%ld", r < 0 ? -1L : r);
    if (r < 0)
        sb_printf(b, ",\"errno\":\"%s\"", fmt_errno(-r));
}

static void jaddr(struct sbuf *b, const char *key, const struct ept_addr *a)
{
    sb_printf(b, ",\"%s\":\"", key);
    fmt_addr(b, a);
    sb_puts(b, "\"");
}

void fmt_rec_json(struct sbuf *b, const struct ept_rec *r, uint64_t t0_ns)
{
    const char *name = ept_type_name(r->type);
    double t = r->ns >= t0_ns ? (double)(r->ns - t0_ns) / 1e9 : 0.0;
    sb_printf(b, "{\"seq\":%llu,\"t\":%.9f,\"type\":\"%s\"", (unsigned long long)r->seq, t,
              name ? name : "unknown");
    if (r->tid)
        sb_printf(b, ",\"tid\":%u", r->tid);
    const char *call = ept_call_name(r);
    if (call && strcmp(call, name ? name : ""))
        sb_printf(b, ",\"call\":\"%s\"", call);
    switch (r->type) {
    case EPT_EPOLL_CREATE: {
        GET(struct ept_epoll_create, e);
        sb_printf(b, ",\"flags\":%d", e.flags);
        jresult(b, e.result);
        break;
    }
    case EPT_EPOLL_CTL: {
        GET(struct ept_epoll_ctl, e);
        sb_printf(b, ",\"epfd\":%d,\"op\":\"%s\"", e.epfd, fmt_ctl_op(e.op));
        jsock(b, "", &e.s);
        jevents(b, "events", e.events);
        jresult(b, e.result);
        break;
    }
    case EPT_EPOLL_WAIT: {
        GET(struct ept_epoll_wait, e);
        sb_printf(b, ",\"epfd\":%d,\"timeout\":%d,\"maxevents\":%d,\"blocked_ns\":%llu",
                  e.epfd, e.timeout, e.maxevents, (unsigned long long)e.blocked_ns);
        jresult(b, e.result);
        break;
    }
    case EPT_READY:
    case EPT_HANDLE: {
        GET(struct ept_ready, e);
        jsock(b, "", &e.s);
        jevents(b, "events", e.events);
        sb_printf(b, ",\"index\":%u", e.index);
        break;
    }
    case EPT_LISTEN: {
        GET(struct ept_listen, e);
        jsock(b, "", &e.s);
        jaddr(b, "addr", &e.addr);
        sb_printf(b, ",\"backlog\":%d", e.backlog);
        jresult(b, e.result);
        break;
    }
    case EPT_ACCEPT: {
        GET(struct ept_accept, e);
        jsock(b, "listener_", &e.listener);
        jsock(b, "", &e.s);
        jaddr(b, "peer", &e.peer);
        jresult(b, e.result);
        break;
    }
    case EPT_CONNECT: {
        GET(struct ept_connect, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"backend\":%u,\"phase\":\"%s\"", e.backend,
                  e.phase ? "complete" : "call");
        jaddr(b, "addr", &e.addr);
        jresult(b, e.result);
        break;
    }
    case EPT_READ:
    case EPT_WRITE: {
        GET(struct ept_io, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"asked\":%u", e.asked);
        jresult(b, e.result);
        size_t n;
        const uint8_t *p = ept_rec_tail(r, sizeof(e), e.preview_len, &n);
        sb_puts(b, ",\"preview\":\"");
        sb_escape(b, p, n, 1);
        sb_puts(b, "\"");
        break;
    }
    case EPT_SHUTDOWN: {
        GET(struct ept_shutdown, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"how\":\"%s\"", how_name(e.how));
        jresult(b, e.result);
        break;
    }
    case EPT_CLOSE: {
        GET(struct ept_close, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"reason\":\"%s\"", ept_close_reason_name(e.reason));
        if (e.flags & EPT_CLOSEF_UNREAD)
            sb_printf(b, ",\"unread\":%u", e.unread);
        jresult(b, e.result);
        break;
    }
    case EPT_PICK: {
        GET(struct ept_pick, e);
        jsock(b, "", &e.client);
        if (e.backend == 0xffff)
            sb_puts(b, ",\"backend\":null");
        else
            sb_printf(b, ",\"backend\":%u", e.backend);
        sb_printf(b, ",\"algo\":\"%s\",\"attempt\":%u,\"active\":%u", ept_algo_name(e.algo),
                  e.attempt, e.active);
        break;
    }
    case EPT_LOST: {
        GET(struct ept_lost, e);
        sb_printf(b, ",\"count\":%llu,\"first_seq\":%llu,\"last_seq\":%llu",
                  (unsigned long long)e.count, (unsigned long long)e.first_seq,
                  (unsigned long long)e.last_seq);
        break;
    }
    case EPT_NOTE: {
        GET(struct ept_note, e);
        size_t n;
        const uint8_t *p = ept_rec_tail(r, sizeof(e), e.len, &n);
        sb_printf(b, ",\"kind\":%u,\"text\":\"", e.kind);
        sb_escape(b, p, n, 1);
        sb_puts(b, "\"");
        break;
    }
    case EPT_TIMEOUT: {
        GET(struct ept_timeout, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"kind\":\"%s\",\"ms\":%u",
                  e.kind == EPT_TIMER_CONNECT ? "connect" : "idle", e.ms);
        break;
    }
    case EPT_HEALTH: {
        GET(struct ept_health, e);
        sb_printf(b, ",\"backend\":%u,\"up\":%s,\"down_ms\":%u", e.backend,
                  e.up ? "true" : "false", e.down_ms);
        if (e.reason)
            sb_printf(b, ",\"errno\":\"%s\"", fmt_errno(-(long)e.reason));
        break;
    }
    case EPT_PAUSE: {
        GET(struct ept_pause, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"paused\":%s,\"reason\":\"%s\"", e.paused ? "true" : "false",
                  e.reason == EPT_PAUSE_MAXCONNS ? "max-conns" : "fd-limit");
        break;
    }
    case EPT_END: {
        GET(struct ept_end, e);
        sb_printf(b, ",\"records\":%llu,\"lost\":%llu", (unsigned long long)e.records,
                  (unsigned long long)e.lost);
        break;
    }
    case EPT_SOCKET: {
        GET(struct ept_socket, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"domain\":%d,\"socktype\":%d,\"protocol\":%d", e.domain, e.type,
                  e.protocol);
        jresult(b, e.result);
        break;
    }
    case EPT_DUP: {
        GET(struct ept_dup, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"oldfd\":%d", e.oldfd);
        jresult(b, e.result);
        break;
    }
    case EPT_FORK: {
        GET(struct ept_fork, e);
        jresult(b, e.result);
        break;
    }
    case EPT_FDINFO: {
        GET(struct ept_fdinfo, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"kind\":\"%s\",\"listening\":%s", ept_fd_kind_name(e.kind),
                  e.flags & EPT_FDINFO_LISTENING ? "true" : "false");
        jaddr(b, "local", &e.local);
        jaddr(b, "peer", &e.peer);
        break;
    }
    case EPT_QUEUE: {
        GET(struct ept_queue, e);
        jsock(b, "", &e.s);
        sb_printf(b, ",\"kind\":\"%s\",\"count\":%u,\"max\":%u",
                  e.kind == EPT_QUEUE_BACKLOG ? "backlog" : "unread", e.count, e.max);
        break;
    }
    default:
        sb_printf(b, ",\"type_id\":%u,\"size\":%u", r->type, r->size);
    }
    sb_puts(b, "}");
}
