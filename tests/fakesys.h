/* fakesys.h - a fake kernel for the event loops' unit tests (test_proxy.c, test_backend.c,
 * test_load.c), header-only: the system calls a loop makes on its sockets and its epoll set,
 * linked to the fakes below with -Wl,--wrap=NAME (FAKESYS_LDFLAGS in the Makefile). The code
 * under test is linked as separate objects, so its calls are unresolved and the wraps reach
 * them; a call on a descriptor the fake kernel did not make goes to the real function.
 *
 * A test writes the conversation it expects between the loop and the kernel, one call a line,
 * each with its result:
 *
 *     epoll_wait = 6 IN|RDHUP             what the kernel has to say: fd, events
 *     epoll_wait(5000) = timeout          the loop waits 5000 ms, nothing comes: the fake
 *                                         clock (CLOCK_MONOTONIC) moves on by as much
 *     read(6, 16) = 3 "bye"               the loop reads 16; the kernel gives these bytes
 *     write(7, "bye") = EAGAIN            the loop writes these bytes; the kernel takes none
 *     send(7, <87 bytes>) = 40            more than 40 bytes are shown as their count
 *     epoll_ctl(MOD, 7, IN|OUT|RDHUP)     calls without a result succeed
 *     getsockopt(7, SO_ERROR) = 0         the socket's pending error (0, or its errno name)
 *     accept4(5) = 6, socket() = 7        the new descriptor (the lowest free, as the kernel)
 *     close(6) RST                        an RST: SO_LINGER 0 was set just before
 *
 * and each fake checks that the loop's next call is the script's next line, and answers with
 * the line's result. One ordered script rather than a will_return queue per function: the
 * order across calls is what a state machine gets right or wrong (data before the FIN,
 * EPOLLOUT asked after the short write). epoll_wait delivers an event as the kernel would
 * (only what the socket is registered for, a one-shot socket only while armed); an event the
 * kernel would not deliver fails the test.
 *
 * Unscripted: the epoll set, a signalfd and /dev/null (the lowest free numbers), setsockopt
 * (SO_LINGER 0 marks the close as an RST), bind, listen, getsockname. The monotonic clock is
 * the fake kernel's: it stands still but for the timeouts the script lets pass, so timers
 * fire where the script says. When the script is done, the wait brings the stop signal
 * (epoll_pwait lets SIGTERM in through its mask, epoll_wait reports the signalfd) and the
 * loop closes what is open (unscripted); fk_done then checks that every descriptor was
 * closed exactly once.
 */
#ifndef EPSCOPE_TESTS_FAKESYS_H
#define EPSCOPE_TESTS_FAKESYS_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FK_FIRST 4 /* the fake descriptors: 4 .. 15 (0-3: the test's own, and real) */
#define FK_NFD 16
#define FK_MAXLINES 128

/* A descriptor of the fake kernel. */
struct fk_sock {
    bool fake; /* ours: the fakes answer for it, else the real call is made */
    bool open;
    bool epoll, sigfd; /* an epoll set, a signalfd */
    unsigned closes;
    bool linger0;       /* SO_LINGER 0: its close sends an RST */
    bool in_set, armed; /* in the epoll set; one-shot: not fired since the last ADD/MOD */
    uint32_t events;
    epoll_data_t data;
    char sent[1024]; /* every byte written to it */
    size_t nsent;
};

struct fk {
    const char *line[FK_MAXLINES];
    unsigned nlines, next;
    struct fk_sock fd[FK_NFD];
    bool stopping;   /* the script is done: the loop closes what is left */
    sigset_t mask;   /* the test's signal mask, given back however the run ended */
    uint64_t now_ns; /* CLOCK_MONOTONIC */
    char pool[2048]; /* the text of the lines fk_line made */
    size_t pooled;
};

static struct fk *fk; /* the fake kernel the wraps answer for (NULL: every call is real) */

/* Append lines to the script ("" lines are skipped: a mode's "no such call"). */
static inline void fk_talk(struct fk *k, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!*lines[i])
            continue;
        assert_true(k->nlines < FK_MAXLINES);
        k->line[k->nlines++] = lines[i];
    }
}

#define FK_SAY(k, lines) fk_talk(k, lines, sizeof(lines) / sizeof(*(lines)))

/* A line made with printf's format, kept in k (for counts the test computes). */
__attribute__((format(printf, 2, 3))) static inline const char *fk_line(struct fk *k,
                                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *l = k->pool + k->pooled;
    int n = vsnprintf(l, sizeof(k->pool) - k->pooled, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(k->pool) - k->pooled);
    k->pooled += (size_t)n + 1;
    return l;
}

/* A descriptor that exists before the program runs (a listener handed to it). */
static inline void fk_given(struct fk *k, int fd)
{
    k->fd[fd].fake = k->fd[fd].open = true;
}

/* The fake kernel k answers from now on (a fixture's setup). */
static inline void fk_start(struct fk *k)
{
    sigprocmask(SIG_SETMASK, NULL, &k->mask);
    k->now_ns = 1000000000000ull; /* 1000 s after boot: any time will do */
    fk = k;
}

/* Every call is real again, and the signal mask is the test's: a loop that failed half-way
 * leaves SIGINT and SIGTERM blocked (a fixture's teardown). */
static inline void fk_stop(void)
{
    if (fk)
        sigprocmask(SIG_SETMASK, &fk->mask, NULL);
    fk = NULL;
}

static const struct {
    const char *name;
    int err;
} fk_errnos[] = {{"EAGAIN", EAGAIN},
                 {"EPIPE", EPIPE},
                 {"ECONNRESET", ECONNRESET},
                 {"EINPROGRESS", EINPROGRESS},
                 {"ECONNREFUSED", ECONNREFUSED},
                 {"ETIMEDOUT", ETIMEDOUT},
                 {"EMFILE", EMFILE}};

static const struct {
    uint32_t bit;
    const char *name;
} fk_evnames[] = {{EPOLLIN, "IN"},   {EPOLLOUT, "OUT"},         {EPOLLRDHUP, "RDHUP"},
                  {EPOLLPRI, "PRI"}, {EPOLLERR, "ERR"},         {EPOLLHUP, "HUP"},
                  {EPOLLET, "ET"},   {EPOLLONESHOT, "ONESHOT"}, {EPOLLEXCLUSIVE, "EXCLUSIVE"}};

static inline void fk_mask_str(uint32_t m, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(fk_evnames) / sizeof(*fk_evnames); i++)
        if (m & fk_evnames[i].bit)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "|" : "", fk_evnames[i].name);
    if (!n)
        snprintf(out, len, "0");
}

static inline uint32_t fk_mask_parse(const char *s, size_t len)
{
    uint32_t m = 0;
    while (len) {
        size_t w = 0;
        while (w < len && s[w] != '|')
            w++;
        size_t i = 0;
        while (i < sizeof(fk_evnames) / sizeof(*fk_evnames) &&
               (strlen(fk_evnames[i].name) != w || strncmp(s, fk_evnames[i].name, w)))
            i++;
        if (i == sizeof(fk_evnames) / sizeof(*fk_evnames))
            fail_msg("script: unknown event '%.*s'", (int)w, s);
        m |= fk_evnames[i].bit;
        s += w;
        len -= w;
        if (len) {
            s++;
            len--;
        }
    }
    return m;
}

/* A result: a number, or an errno's name as -errno. */
static inline long fk_result(const char *r)
{
    if (isdigit((unsigned char)*r))
        return strtol(r, NULL, 10);
    for (size_t i = 0; i < sizeof(fk_errnos) / sizeof(*fk_errnos); i++)
        if (!strncmp(r, fk_errnos[i].name, strlen(fk_errnos[i].name)))
            return -fk_errnos[i].err;
    fail_msg("script: bad result '%s'", r);
    return 0;
}

/* Bytes as a script line shows them: printable ASCII as it is, \r and \n, anything else as
 * \xNN, in double quotes. */
static inline void fk_quote(const void *buf, size_t n, char *out, size_t len)
{
    const unsigned char *b = buf;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 6 < len; i++) {
        if (b[i] == '\r' || b[i] == '\n')
            o += (size_t)snprintf(out + o, len - o, "\\%c", b[i] == '\r' ? 'r' : 'n');
        else if (isprint(b[i]) && b[i] != '"' && b[i] != '\\')
            o += (size_t)snprintf(out + o, len - o, "%c", b[i]);
        else
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", b[i]);
    }
    snprintf(out + o, len - o, "\"");
}

/* The bytes of a quoted string in a script line (as fk_quote writes them); returns the
 * count. */
static inline size_t fk_unquote(const char *q, char *out, size_t len)
{
    size_t n = 0;
    if (!q || *q != '"')
        fail_msg("script: expected \"bytes\" in '%s'", q ? q : "");
    for (q++; *q && *q != '"' && n < len; n++) {
        if (q[0] == '\\' && q[1] == 'x') {
            out[n] = (char)strtol((char[]){q[2], q[3], 0}, NULL, 16);
            q += 4;
        } else if (q[0] == '\\' && (q[1] == 'r' || q[1] == 'n')) {
            out[n] = q[1] == 'r' ? '\r' : '\n';
            q += 2;
        } else {
            out[n] = *q++;
        }
    }
    return n;
}

/* The script's next line must be the call the loop just made: returns its result (what
 * follows " = "), or "" for a line without one. */
static inline const char *fk_expect(const char *call)
{
    if (fk->next >= fk->nlines)
        fail_msg("the loop called %s after the end of the script", call);
    const char *l = fk->line[fk->next];
    size_t n = strlen(call);
    if (strncmp(l, call, n) || (l[n] && strncmp(l + n, " = ", 3)))
        fail_msg("script line %u: the loop called\n    %s\nwhere the script says\n    %s",
                 fk->next + 1, call, l);
    fk->next++;
    return l[n] ? l + n + 3 : "";
}

static inline struct fk_sock *fk_sock_of(int fd)
{
    return fk && fd >= 0 && fd < FK_NFD && fk->fd[fd].fake ? &fk->fd[fd] : NULL;
}

/* A socket the script names as a new descriptor (accept4 or socket returned it). */
static inline struct fk_sock *fk_sock_new(int fd)
{
    if (fd < FK_FIRST || fd >= FK_NFD || fk->fd[fd].open)
        fail_msg("script: fd %d is not free (the kernel gives the lowest free number)", fd);
    for (int i = FK_FIRST; i < fd; i++)
        if (!fk->fd[i].open)
            fail_msg("script: fd %d, but %d is free (the kernel gives the lowest)", fd, i);
    memset(&fk->fd[fd], 0, sizeof(fk->fd[fd]));
    fk->fd[fd].fake = fk->fd[fd].open = true;
    return &fk->fd[fd];
}

/* A descriptor the program makes outside the script (its epoll set, its signalfd): the
 * lowest free number, as the kernel gives. */
static inline int fk_fd_new(void)
{
    int fd = FK_FIRST;
    while (fd < FK_NFD && fk->fd[fd].open)
        fd++;
    fk_sock_new(fd);
    return fd;
}

static inline void fk_must_be_open(const struct fk_sock *s, const char *call)
{
    if (!s->open)
        fail_msg("%s: the descriptor is closed (EBADF)", call);
}

ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __real_write(int fd, const void *buf, size_t count);
ssize_t __real_send(int fd, const void *buf, size_t count, int flags);
int __real_close(int fd);
int __real_shutdown(int fd, int how);
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __real_epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask);
int __real_epoll_wait(int ep, struct epoll_event *ev, int max, int timeout);
int __real_signalfd(int fd, const sigset_t *mask, int flags);
int __real_bind(int fd, const struct sockaddr *sa, socklen_t len);
int __real_open(const char *path, int flags, ...);
int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __real_listen(int fd, int backlog);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __real_socket(int domain, int type, int proto);
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int __real_getsockname(int fd, struct sockaddr *sa, socklen_t *len);

ssize_t __wrap_read(int fd, void *buf, size_t count)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_read(fd, buf, count);
    char call[64];
    snprintf(call, sizeof(call), "read(%d, %zu)", fd, count);
    fk_must_be_open(s, call);
    const char *r = fk_expect(call);
    long n = fk_result(r);
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    if (n > 0) {
        char data[256];
        size_t got = fk_unquote(strchr(r, '"'), data, sizeof(data));
        if ((size_t)n != got || (size_t)n > count)
            fail_msg("script: '%s' gives %zu bytes to a read of %zu", r, got, count);
        memcpy(buf, data, got);
    }
    return n;
}

/* write or send: the bytes quoted in the call (or their count, past 40), the script's
 * result is how many the socket takes. */
static inline ssize_t fk_output(const char *name, int fd, const void *buf, size_t count)
{
    struct fk_sock *s = fk_sock_of(fd);
    char call[600];
    int len = snprintf(call, sizeof(call), "%s(%d, ", name, fd);
    if (count > 40)
        len += snprintf(call + len, sizeof(call) - (size_t)len, "<%zu bytes>", count);
    else
        fk_quote(buf, count, call + len, sizeof(call) - (size_t)len - 1);
    strcat(call, ")");
    fk_must_be_open(s, call);
    long n = fk_result(fk_expect(call));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    if ((size_t)n > count || s->nsent + (size_t)n >= sizeof(s->sent))
        fail_msg("script: %s takes %ld bytes", call, n);
    memcpy(s->sent + s->nsent, buf, (size_t)n);
    s->nsent += (size_t)n;
    return n;
}

ssize_t __wrap_write(int fd, const void *buf, size_t count)
{
    if (!fk_sock_of(fd))
        return __real_write(fd, buf, count);
    return fk_output("write", fd, buf, count);
}

ssize_t __wrap_send(int fd, const void *buf, size_t count, int flags)
{
    if (!fk_sock_of(fd))
        return __real_send(fd, buf, count, flags);
    return fk_output("send", fd, buf, count);
}

int __wrap_shutdown(int fd, int how)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_shutdown(fd, how);
    char call[64];
    snprintf(call, sizeof(call), "shutdown(%d, %s)", fd,
             how == SHUT_WR   ? "SHUT_WR"
             : how == SHUT_RD ? "SHUT_RD"
                              : "SHUT_RDWR");
    fk_must_be_open(s, call);
    fk_expect(call);
    return 0;
}

/* Scripted while the script lasts; after it, the loop's own closing is only counted. */
int __wrap_close(int fd)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_close(fd);
    char call[64];
    snprintf(call, sizeof(call), "close(%d)%s", fd, s->linger0 ? " RST" : "");
    if (!s->open)
        fail_msg("%s: closed twice", call);
    if (!fk->stopping)
        fk_expect(call);
    s->open = false;
    s->in_set = false; /* its last number is gone: the kernel drops the registration */
    s->closes++;
    return 0;
}

int __wrap_epoll_create1(int flags)
{
    if (!fk)
        return __real_epoll_create1(flags);
    int fd = fk_fd_new();
    fk->fd[fd].epoll = true;
    return fd;
}

/* Blocked signals, read from a descriptor: its readiness is the stop request at the end. */
int __wrap_signalfd(int fd, const sigset_t *mask, int flags)
{
    if (!fk || fd != -1)
        return __real_signalfd(fd, mask, flags);
    fd = fk_fd_new();
    fk->fd[fd].sigfd = true;
    return fd;
}

int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s || !fk_sock_of(ep))
        return __real_epoll_ctl(ep, op, fd, ev);
    char call[96], m[64];
    fk_mask_str(ev ? ev->events : 0, m, sizeof(m));
    snprintf(call, sizeof(call), "epoll_ctl(%s, %d, %s)",
             op == EPOLL_CTL_ADD   ? "ADD"
             : op == EPOLL_CTL_MOD ? "MOD"
                                   : "DEL",
             fd, m);
    fk_must_be_open(s, call);
    fk_expect(call);
    if (op == EPOLL_CTL_ADD && s->in_set)
        fail_msg("%s: already in the set (EEXIST)", call);
    if (op != EPOLL_CTL_ADD && !s->in_set)
        fail_msg("%s: not in the set (ENOENT)", call);
    s->in_set = op != EPOLL_CTL_DEL;
    s->events = op == EPOLL_CTL_DEL ? 0 : ev->events;
    s->armed = s->in_set;
    if (s->in_set)
        s->data = ev->data;
    return 0;
}

/* "epoll_wait = 6 IN|RDHUP, 7 OUT": each socket's readiness, delivered as the kernel would:
 * only what it is registered for (EPOLLERR and EPOLLHUP always), a one-shot socket only while
 * armed. */
static inline int fk_wait(struct epoll_event *evs, int max, int timeout)
{
    if (!strncmp(fk->line[fk->next], "epoll_wait(", 11)) {
        char call[40];
        snprintf(call, sizeof(call), "epoll_wait(%d)", timeout);
        if (strcmp(fk_expect(call), "timeout"))
            fail_msg("script: %s: the result of a wait with a timeout is 'timeout'", call);
        fk->now_ns += (uint64_t)timeout * 1000000u;
        return 0;
    }
    const char *r = fk_expect("epoll_wait");
    int n = 0;
    while (*r) {
        char *end;
        int fd = (int)strtol(r, &end, 10);
        struct fk_sock *s = fk_sock_of(fd);
        size_t len = strcspn(end + 1, ",");
        uint32_t ready = fk_mask_parse(end + 1, len);
        r = end + 1 + len;
        r += strspn(r, ", ");
        if (!s || !s->open || !s->in_set)
            fail_msg("epoll_wait: fd %d is not in the epoll set: no event", fd);
        uint32_t got = ready & (s->events | EPOLLERR | EPOLLHUP);
        char m[64];
        fk_mask_str(s->events, m, sizeof(m));
        if (!got || ((s->events & EPOLLONESHOT) && !s->armed))
            fail_msg("epoll_wait: the kernel would not report fd %d: registered %s%s", fd, m,
                     (s->events & EPOLLONESHOT) && !s->armed ? ", disarmed" : "");
        if (n == max)
            fail_msg("epoll_wait: more than %d events", max);
        evs[n].events = got;
        evs[n].data = s->data;
        n++;
        if (s->events & EPOLLONESHOT)
            s->armed = false;
    }
    return n;
}

/* Past the script's end, SIGTERM comes in through the wait's mask, as it would. */
int __wrap_epoll_pwait(int ep, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
    if (!fk_sock_of(ep))
        return __real_epoll_pwait(ep, evs, max, timeout, mask);
    if (fk->next < fk->nlines)
        return fk_wait(evs, max, timeout);
    sigset_t old;
    fk->stopping = true;
    sigprocmask(SIG_SETMASK, mask, &old);
    raise(SIGTERM);
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = EINTR;
    return -1;
}

/* Past the script's end, the signalfd says a stop signal is waiting. */
int __wrap_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout)
{
    if (!fk_sock_of(ep))
        return __real_epoll_wait(ep, evs, max, timeout);
    if (fk->next < fk->nlines)
        return fk_wait(evs, max, timeout);
    fk->stopping = true;
    for (int fd = 0; fd < FK_NFD; fd++) {
        if (fk->fd[fd].sigfd && fk->fd[fd].in_set) {
            evs[0].events = EPOLLIN;
            evs[0].data = fk->fd[fd].data;
            return 1;
        }
    }
    fail_msg("epoll_wait after the end of the script, and no signalfd to stop the program");
    return -1;
}

int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_accept4(fd, sa, len, flags);
    char call[64];
    snprintf(call, sizeof(call), "accept4(%d)", fd);
    long n = fk_result(fk_expect(call));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    fk_sock_new((int)n);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(40000 + (int)n),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sa) {
        memcpy(sa, &in, sizeof(in));
        *len = sizeof(in);
    }
    return (int)n;
}

int __wrap_socket(int domain, int type, int proto)
{
    if (!fk)
        return __real_socket(domain, type, proto);
    long n = fk_result(fk_expect("socket()"));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    fk_sock_new((int)n);
    return (int)n;
}

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_connect(fd, sa, len);
    char call[64];
    snprintf(call, sizeof(call), "connect(%d)", fd);
    long n = fk_result(fk_expect(call));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    return 0;
}

int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_getsockopt(fd, level, name, val, len);
    char call[64];
    snprintf(call, sizeof(call), "getsockopt(%d, SO_ERROR)", fd);
    if (level != SOL_SOCKET || name != SO_ERROR)
        fail_msg("getsockopt(%d, %d, %d): not scripted", fd, level, name);
    *(int *)val = (int)-fk_result(fk_expect(call));
    return 0;
}

/* Not in the script (TCP_NODELAY and the like), except that SO_LINGER 0 marks the close. */
int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct fk_sock *s = fk_sock_of(fd);
    if (!s)
        return __real_setsockopt(fd, level, name, val, len);
    if (level == SOL_SOCKET && name == SO_LINGER) {
        const struct linger *lg = val;
        s->linger0 = lg->l_onoff && !lg->l_linger;
    }
    return 0;
}

int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    if (!fk || id != CLOCK_MONOTONIC)
        return __real_clock_gettime(id, ts);
    ts->tv_sec = (time_t)(fk->now_ns / 1000000000u);
    ts->tv_nsec = (long)(fk->now_ns % 1000000000u);
    return 0;
}

/* /dev/null (a descriptor kept spare for when they run out): a fake one, so that a test that
 * failed half-way leaks no real descriptor into the fake numbers. */
int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (!fk || strcmp(path, "/dev/null"))
        return __real_open(path, flags, mode);
    return fk_fd_new();
}

int __wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    return fk_sock_of(fd) ? 0 : __real_bind(fd, sa, len);
}

int __wrap_listen(int fd, int backlog)
{
    return fk_sock_of(fd) ? 0 : __real_listen(fd, backlog);
}

/* A listener's address (127.0.0.1:8080). */
int __wrap_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (!fk_sock_of(fd))
        return __real_getsockname(fd, sa, len);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(8080),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    memcpy(sa, &in, sizeof(in));
    *len = sizeof(in);
    return 0;
}


/* After the run: the whole script was played, and every descriptor closed exactly once. */
static inline void fk_done(const struct fk *k)
{
    if (k->next < k->nlines)
        fail_msg("script line %u never came: %s", k->next + 1, k->line[k->next]);
    for (int fd = 0; fd < FK_NFD; fd++)
        if (k->fd[fd].fake && k->fd[fd].closes != 1)
            fail_msg("fd %d closed %u times", fd, k->fd[fd].closes);
}

/* What was written to fd, all of it. */
static inline void fk_assert_sent(const struct fk *k, int fd, const char *bytes)
{
    assert_int_equal(k->fd[fd].nsent, strlen(bytes));
    assert_memory_equal(k->fd[fd].sent, bytes, strlen(bytes));
}

#endif
