/* test_proxy.c - the proxy's connection state machine (src/proxy.c), driven through its real
 * event loop, proxy_run, in each trigger mode, against a fake kernel.
 *
 * Every system call the loop makes on a socket is linked to a fake here (-Wl,--wrap=NAME, see
 * test_proxy_LDFLAGS in the Makefile). A test writes the conversation it expects between the
 * loop and the kernel, one call a line, each with its result:
 *
 *     epoll_wait = 6 IN|RDHUP             what the kernel has to say: fd, events
 *     read(6, 16) = 3 "bye"               the loop reads 16; the kernel gives these bytes
 *     write(7, "bye") = EAGAIN            the loop writes these bytes; the kernel takes none
 *     epoll_ctl(MOD, 7, IN|OUT|RDHUP)     calls without a result succeed
 *     getsockopt(7, SO_ERROR) = 0         the socket's pending error (0, or its errno name)
 *     close(6) RST                        an RST: SO_LINGER 0 was set just before
 *
 * and each fake checks that the loop's next call is the script's next line, and answers with
 * the line's result. One ordered script rather than a will_return queue per function: the
 * order across calls is what the state machine gets right or wrong (data before the FIN,
 * EPOLLOUT asked after the short write). epoll_wait delivers an event as the kernel would:
 * only what the socket is registered for (EPOLLERR and EPOLLHUP always), and a one-shot
 * socket only while armed; an event the kernel would not deliver fails the test. When the
 * script is done, epoll_wait delivers SIGTERM; the loop stops and closes what is open
 * (unscripted), and every socket must have been closed exactly once.
 *
 * Every test runs in each mode (a cmocka group a mode). Where the modes differ, a line says
 * what each does, side by side as in policy.h's table: M3(f, level, edge, oneshot), or
 * only_level / only_edges / only_oneshot ("": that mode makes no such call).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "balance.h"
#include "ept.h"
#include "policy.h"
#include "proxy.h"

#define NFD 16 /* fake descriptors are 4 (the epoll set) .. 15 */
#define EPFD 4
#define LFD 5 /* the listener */
#define MAXLINES 128
#define BUFSZ 16 /* --buffer: small, so that a buffer fills in one read */

/* A socket of the fake kernel. */
struct sock {
    bool fake; /* ours: the fakes answer for it, else the real call is made */
    bool open;
    unsigned closes;
    bool linger0;       /* SO_LINGER 0: its close sends an RST */
    bool in_set, armed; /* in the epoll set; one-shot: not fired since the last ADD/MOD */
    uint32_t events;
    epoll_data_t data;
    char sent[256]; /* every byte written to it */
    size_t nsent;
};

struct fx {
    unsigned mode; /* EPT_MODE_* */
    const char *line[MAXLINES];
    unsigned nlines, next;
    struct sock fd[NFD];
    bool stopping; /* the script is done: the loop closes what is left */
};

static struct fx *fx;

/* --- the script ------------------------------------------------------------------------- */

/* The line for this test's mode: what level, edge and edge-oneshot each do ("": nothing). */
static const char *M3(const struct fx *f, const char *level, const char *edge, const char *oneshot)
{
    return f->mode == EPT_MODE_LEVEL ? level : f->mode == EPT_MODE_EDGE ? edge : oneshot;
}

/* A line for level mode only, for both edge modes, or for edge-oneshot only. */
static const char *only_level(const struct fx *f, const char *line)
{
    return M3(f, line, "", "");
}

static const char *only_edges(const struct fx *f, const char *line)
{
    return M3(f, "", line, line);
}

static const char *only_oneshot(const struct fx *f, const char *line)
{
    return M3(f, "", "", line);
}

static void talk(struct fx *f, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!*lines[i])
            continue;
        assert_true(f->nlines < MAXLINES);
        f->line[f->nlines++] = lines[i];
    }
}

/* Append an array of lines to the script. */
#define SAY(f, lines) talk(f, lines, sizeof(lines) / sizeof(*(lines)))

/* --- the fake kernel -------------------------------------------------------------------- */

static const struct {
    const char *name;
    int err;
} errnos[] = {{"EAGAIN", EAGAIN},
              {"EPIPE", EPIPE},
              {"ECONNRESET", ECONNRESET},
              {"EINPROGRESS", EINPROGRESS},
              {"ECONNREFUSED", ECONNREFUSED},
              {"ETIMEDOUT", ETIMEDOUT}};

static const struct {
    uint32_t bit;
    const char *name;
} evnames[] = {{EPOLLIN, "IN"},   {EPOLLOUT, "OUT"},        {EPOLLRDHUP, "RDHUP"},
               {EPOLLPRI, "PRI"}, {EPOLLERR, "ERR"},        {EPOLLHUP, "HUP"},
               {EPOLLET, "ET"},   {EPOLLONESHOT, "ONESHOT"}};

static void mask_str(uint32_t m, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(evnames) / sizeof(*evnames); i++)
        if (m & evnames[i].bit)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "|" : "", evnames[i].name);
    if (!n)
        snprintf(out, len, "0");
}

static uint32_t mask_parse(const char *s, size_t len)
{
    uint32_t m = 0;
    while (len) {
        size_t w = 0;
        while (w < len && s[w] != '|')
            w++;
        size_t i = 0;
        while (i < sizeof(evnames) / sizeof(*evnames) &&
               (strlen(evnames[i].name) != w || strncmp(s, evnames[i].name, w)))
            i++;
        if (i == sizeof(evnames) / sizeof(*evnames))
            fail_msg("script: unknown event '%.*s'", (int)w, s);
        m |= evnames[i].bit;
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
static long result_parse(const char *r)
{
    if (isdigit((unsigned char)*r))
        return strtol(r, NULL, 10);
    for (size_t i = 0; i < sizeof(errnos) / sizeof(*errnos); i++)
        if (!strncmp(r, errnos[i].name, strlen(errnos[i].name)))
            return -errnos[i].err;
    fail_msg("script: bad result '%s'", r);
    return 0;
}

/* "bytes" for a call line: printable ASCII as it is, anything else as \xNN. */
static void quote(const void *buf, size_t n, char *out, size_t len)
{
    const unsigned char *b = buf;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 6 < len; i++)
        o += (size_t)(isprint(b[i]) && b[i] != '"' && b[i] != '\\'
                          ? snprintf(out + o, len - o, "%c", b[i])
                          : snprintf(out + o, len - o, "\\x%02x", b[i]));
    snprintf(out + o, len - o, "\"");
}

/* The bytes of a quoted string in a result ("hello" or \xNN escapes); returns the count. */
static size_t unquote(const char *q, char *out, size_t len)
{
    size_t n = 0;
    if (!q || *q != '"')
        fail_msg("script: expected \"bytes\" in '%s'", q ? q : "");
    for (q++; *q && *q != '"' && n < len; n++) {
        if (q[0] == '\\' && q[1] == 'x') {
            out[n] = (char)strtol((char[]){q[2], q[3], 0}, NULL, 16);
            q += 4;
        } else {
            out[n] = *q++;
        }
    }
    return n;
}

/* The script's next line must be the call the loop just made: returns its result (what
 * follows " = "), or "" for a line without one. */
static const char *expect_call(const char *call)
{
    if (fx->next >= fx->nlines)
        fail_msg("the loop called %s after the end of the script", call);
    const char *l = fx->line[fx->next];
    size_t n = strlen(call);
    if (strncmp(l, call, n) || (l[n] && strncmp(l + n, " = ", 3)))
        fail_msg("script line %u: the loop called\n    %s\nwhere the script says\n    %s",
                 fx->next + 1, call, l);
    fx->next++;
    return l[n] ? l + n + 3 : "";
}

static struct sock *sock_of(int fd)
{
    return fx && fd >= 0 && fd < NFD && fx->fd[fd].fake ? &fx->fd[fd] : NULL;
}

/* A socket the script names as a new descriptor (accept4 or socket returned it). */
static void sock_new(int fd)
{
    if (fd < EPFD || fd >= NFD || fx->fd[fd].open)
        fail_msg("script: fd %d is not free (the kernel gives the lowest free number)", fd);
    memset(&fx->fd[fd], 0, sizeof(fx->fd[fd]));
    fx->fd[fd].fake = fx->fd[fd].open = true;
}

static void must_be_open(const struct sock *s, const char *call)
{
    if (!s->open)
        fail_msg("%s: the descriptor is closed (EBADF)", call);
}

ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __real_write(int fd, const void *buf, size_t count);
int __real_close(int fd);
int __real_shutdown(int fd, int how);
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __real_epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __real_socket(int domain, int type, int proto);
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int __real_getsockname(int fd, struct sockaddr *sa, socklen_t *len);

ssize_t __wrap_read(int fd, void *buf, size_t count)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_read(fd, buf, count);
    char call[64];
    snprintf(call, sizeof(call), "read(%d, %zu)", fd, count);
    must_be_open(s, call);
    const char *r = expect_call(call);
    long n = result_parse(r);
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    if (n > 0) {
        char data[256];
        size_t got = unquote(strchr(r, '"'), data, sizeof(data));
        if ((size_t)n != got || (size_t)n > count)
            fail_msg("script: '%s' gives %zu bytes to a read of %zu", r, got, count);
        memcpy(buf, data, got);
    }
    return n;
}

ssize_t __wrap_write(int fd, const void *buf, size_t count)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_write(fd, buf, count);
    char call[600];
    int len = snprintf(call, sizeof(call), "write(%d, ", fd);
    quote(buf, count, call + len, sizeof(call) - (size_t)len - 1);
    strcat(call, ")");
    must_be_open(s, call);
    long n = result_parse(expect_call(call));
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

int __wrap_shutdown(int fd, int how)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_shutdown(fd, how);
    char call[64];
    snprintf(call, sizeof(call), "shutdown(%d, %s)", fd,
             how == SHUT_WR   ? "SHUT_WR"
             : how == SHUT_RD ? "SHUT_RD"
                              : "SHUT_RDWR");
    must_be_open(s, call);
    expect_call(call);
    return 0;
}

/* Scripted while the script lasts; after it, the loop's own closing is only counted. */
int __wrap_close(int fd)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_close(fd);
    char call[64];
    snprintf(call, sizeof(call), "close(%d)%s", fd, s->linger0 ? " RST" : "");
    if (!s->open)
        fail_msg("%s: closed twice", call);
    if (!fx->stopping)
        expect_call(call);
    s->open = false;
    s->in_set = false; /* its last number is gone: the kernel drops the registration */
    s->closes++;
    return 0;
}

int __wrap_epoll_create1(int flags)
{
    if (!fx)
        return __real_epoll_create1(flags);
    sock_new(EPFD);
    return EPFD;
}

int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    struct sock *s = sock_of(fd);
    if (!s || ep != EPFD)
        return __real_epoll_ctl(ep, op, fd, ev);
    char call[96], m[64];
    mask_str(ev ? ev->events : 0, m, sizeof(m));
    snprintf(call, sizeof(call), "epoll_ctl(%s, %d, %s)",
             op == EPOLL_CTL_ADD   ? "ADD"
             : op == EPOLL_CTL_MOD ? "MOD"
                                   : "DEL",
             fd, m);
    must_be_open(s, call);
    expect_call(call);
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

/* "epoll_wait = 6 IN|RDHUP, 7 OUT": each socket's readiness, delivered as the kernel would;
 * past the script's end, the stop signal. */
int __wrap_epoll_pwait(int ep, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
    if (!fx || ep != EPFD)
        return __real_epoll_pwait(ep, evs, max, timeout, mask);
    if (fx->next == fx->nlines) {
        sigset_t old;
        fx->stopping = true;
        sigprocmask(SIG_SETMASK, mask, &old); /* as epoll_pwait does: the signal comes in */
        raise(SIGTERM);
        sigprocmask(SIG_SETMASK, &old, NULL);
        errno = EINTR;
        return -1;
    }
    const char *r = expect_call("epoll_wait");
    int n = 0;
    while (*r) {
        char *end;
        int fd = (int)strtol(r, &end, 10);
        struct sock *s = sock_of(fd);
        size_t len = strcspn(end + 1, ",");
        uint32_t ready = mask_parse(end + 1, len);
        r = end + 1 + len;
        r += strspn(r, ", ");
        if (!s || !s->open || !s->in_set)
            fail_msg("epoll_wait: fd %d is not in the epoll set: no event", fd);
        uint32_t got = ready & (s->events | EPOLLERR | EPOLLHUP);
        char m[64];
        mask_str(s->events, m, sizeof(m));
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

int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_accept4(fd, sa, len, flags);
    char call[64];
    snprintf(call, sizeof(call), "accept4(%d)", fd);
    long n = result_parse(expect_call(call));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    sock_new((int)n);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(40000 + (int)n),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    memcpy(sa, &in, sizeof(in));
    *len = sizeof(in);
    return (int)n;
}

int __wrap_socket(int domain, int type, int proto)
{
    if (!fx)
        return __real_socket(domain, type, proto);
    long n = result_parse(expect_call("socket()"));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    sock_new((int)n);
    return (int)n;
}

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_connect(fd, sa, len);
    char call[64];
    snprintf(call, sizeof(call), "connect(%d)", fd);
    long n = result_parse(expect_call(call));
    if (n < 0) {
        errno = (int)-n;
        return -1;
    }
    return 0;
}

int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_getsockopt(fd, level, name, val, len);
    char call[64];
    snprintf(call, sizeof(call), "getsockopt(%d, SO_ERROR)", fd);
    if (level != SOL_SOCKET || name != SO_ERROR)
        fail_msg("getsockopt(%d, %d, %d): not scripted", fd, level, name);
    *(int *)val = (int)-result_parse(expect_call(call));
    return 0;
}

/* Not in the script (TCP_NODELAY and the like), except that SO_LINGER 0 marks the close. */
int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct sock *s = sock_of(fd);
    if (!s)
        return __real_setsockopt(fd, level, name, val, len);
    if (level == SOL_SOCKET && name == SO_LINGER) {
        const struct linger *lg = val;
        s->linger0 = lg->l_onoff && !lg->l_linger;
    }
    return 0;
}

/* The listener's address, for the loop's trace header: 127.0.0.1:8080. */
int __wrap_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (!sock_of(fd))
        return __real_getsockname(fd, sa, len);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(8080),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    memcpy(sa, &in, sizeof(in));
    *len = sizeof(in);
    return 0;
}

/* --- fixture ---------------------------------------------------------------------------- */

static unsigned run_mode; /* EPT_MODE_*: the group being run */

/* A fake kernel with the listener (fd 5) open, for the mode of the group. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->mode = run_mode;
    f->fd[LFD].fake = f->fd[LFD].open = true;
    fx = f;
    *state = f;
    /* the level-triggered listener goes into the set as the loop starts */
    f->line[f->nlines++] = "epoll_ctl(ADD, 5, IN)";
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    fx = NULL;
    return 0;
}

/* Run the loop through the script; then every socket must be closed, each exactly once. */
static void run(struct fx *f)
{
    static struct proxy_config cfg;
    char err[200];
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = f->mode;
    cfg.listener_mode = EPT_MODE_LEVEL;
    cfg.max_conns = 100;
    cfg.connect_timeout_ms = 5000;
    cfg.connect_tries = 3;
    cfg.buffer = BUFSZ;
    cfg.max_events = 8;
    cfg.backlog = 16;
    cfg.worker = 0; /* as under a master: no "listening on" line among the test's output */
    cfg.listen_fd = LFD;
    cfg.name = "test_proxy";
    assert_int_equal(net_parse("127.0.0.1:8080", &cfg.listen, err, sizeof(err)), 0);
    balance_init(&cfg.bal, EPT_ALGO_ROUNDROBIN, 1);
    balance_health(&cfg.bal, 3, 10000000000ull, 5000000000ull);
    assert_int_equal(balance_add(&cfg.bal, "127.0.0.1:9301", err, sizeof(err)), 0);

    assert_int_equal(proxy_run(&cfg), 0);
    if (f->next < f->nlines)
        fail_msg("script line %u never came: %s", f->next + 1, f->line[f->next]);
    for (int fd = 0; fd < NFD; fd++)
        if (f->fd[fd].fake && f->fd[fd].closes != 1)
            fail_msg("fd %d closed %u times", fd, f->fd[fd].closes);
}

/* What the backend (fd 7) or the client (fd 6) received. */
static void assert_sent(const struct fx *f, int fd, const char *bytes)
{
    assert_int_equal(f->fd[fd].nsent, strlen(bytes));
    assert_memory_equal(f->fd[fd].sent, bytes, strlen(bytes));
}

/* A client (fd 6) is accepted and its backend (fd 7) connecting. */
static void accept_pair(struct fx *f)
{
    const char *script[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
        "accept4(5) = EAGAIN",
    };
    SAY(f, script);
}

/* The backend's connect completes: it now waits to read. */
static void connected(struct fx *f)
{
    const char *script[] = {
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    SAY(f, script);
}

/* A client and its backend, connected. */
static void open_pair(struct fx *f)
{
    accept_pair(f);
    connected(f);
}

/* --- tests ------------------------------------------------------------------------------ */

/* Accept, connect, and stop: each socket registered as its mode says, and closed once. */
static void test_open_and_stop(void **state)
{
    struct fx *f = *state;
    open_pair(f);
    run(f);
}

/* A full buffer meets a full backend: the write says EAGAIN in the middle of the flow. The
 * bytes stay buffered and the loop stops reading the client (level drops EPOLLIN, edge stops
 * and remembers the socket readable, edge-oneshot does not re-arm it) and asks for EPOLLOUT.
 * When it comes the bytes go out and reading resumes: level re-registers EPOLLIN, edge and
 * edge-oneshot read what they remembered at once, without a new event, until EAGAIN. */
static void test_eagain_mid_flow(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 16 \"0123456789abcdef\"",
        "write(7, \"0123456789abcdef\") = EAGAIN",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        M3(f, "epoll_ctl(MOD, 7, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 7, IN|OUT|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "write(7, \"0123456789abcdef\") = 16",
        only_edges(f, "read(6, 16) = EAGAIN"),
        M3(f, "epoll_ctl(MOD, 6, IN|RDHUP)", "", "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 6 IN",
        "read(6, 16) = 4 \"tail\"",
        "write(7, \"tail\") = 4",
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "0123456789abcdeftail");
}

/* A short write to the client: the rest stays buffered and EPOLLOUT is asked for (level: MOD,
 * edge: it always is, edge-oneshot: re-armed with it), then dropped once the rest is out. */
static void test_short_write(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN",
        "read(7, 16) = 15 \"HTTP/1.1 200 OK\"",
        "write(6, \"HTTP/1.1 200 OK\") = 9",
        M3(f, "epoll_ctl(MOD, 6, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 6, IN|OUT|RDHUP|ET|ONESHOT)"),
        only_oneshot(f, "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 6 OUT",
        "write(6, \"200 OK\") = 6",
        M3(f, "epoll_ctl(MOD, 6, IN|RDHUP)", "", "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 6, "HTTP/1.1 200 OK");
}

/* The client's last bytes and its FIN arrive together while the backend is full: the EOF is
 * known at once (EPOLLRDHUP, then a short read), but the shutdown that passes it on waits
 * until the bytes before it are written. The response then still flows back, and the
 * backend's EOF closes both sockets (no shutdown: the close says it). */
static void test_eof_with_data(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 3 \"bye\"",
        "write(7, \"bye\") = EAGAIN",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        M3(f, "epoll_ctl(MOD, 7, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 7, IN|OUT|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "write(7, \"bye\") = 3",
        "shutdown(7, SHUT_WR)",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 IN|RDHUP",
        "read(7, 16) = 2 \"ok\"",
        "write(6, \"ok\") = 2",
        "close(6)",
        "close(7)",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "bye");
    assert_sent(f, 6, "ok");
}

/* EPOLLRDHUP with a short read: the peer's FIN came after all its bytes, so the short read
 * took the last of them and is the end of file, in every mode, without a read returning 0
 * (in edge modes no new edge would come for that FIN; level would have to wait for the
 * next event). The half-close is passed on at once after the bytes; the other direction
 * keeps flowing, and nothing is lost. */
static void test_rdhup_short_read(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 5 \"GET /\"",
        "write(7, \"GET /\") = 5",
        "shutdown(7, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        "epoll_wait = 7 IN",
        "read(7, 16) = 16 \"response, part 1\"",
        "write(6, \"response, part 1\") = 16",
        only_level(f, "epoll_wait = 7 IN"),
        "read(7, 16) = 4 \" & 2\"",
        "write(6, \" & 2\") = 4",
        only_oneshot(f, "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 IN|RDHUP",
        "read(7, 16) = 0",
        "close(6)",
        "close(7)",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "GET /");
    assert_sent(f, 6, "response, part 1 & 2");
}

/* A write fails with EPIPE: the connection is reset (both sockets closed with an RST, each
 * once), and the batch's later event for the backend, now closed, is skipped unread. */
static void test_write_epipe(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN, 7 IN",
        "read(6, 16) = 5 \"hello\"",
        "write(7, \"hello\") = EPIPE",
        "close(6) RST",
        "close(7) RST",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* A read fails with ECONNRESET: the reset is passed on to the client. */
static void test_read_econnreset(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN",
        "read(7, 16) = ECONNRESET",
        "close(6) RST",
        "close(7) RST",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* Edge modes read until EAGAIN (the kernel will not say again what is already there);
 * level reads once an event and the kernel says it again. */
static void test_edge_reads_until_eagain(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 16 \"aaaaaaaaaaaaaaaa\"",
        "write(7, \"aaaaaaaaaaaaaaaa\") = 16",
        only_level(f, "epoll_wait = 6 IN"),
        "read(6, 16) = 16 \"bbbbbbbbbbbbbbbb\"",
        "write(7, \"bbbbbbbbbbbbbbbb\") = 16",
        only_edges(f, "read(6, 16) = EAGAIN"),
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb");
}

/* Bytes that come before the backend is connected wait in the buffer, and go out when the
 * connect completes. */
static void test_data_before_connect(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 2 \"hi\"",
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        "write(7, \"hi\") = 2",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "hi");
}

/* The client's FIN before the backend is connected: it is passed on (shutdown) only once
 * the connect completes, not to a socket still connecting. */
static void test_eof_before_connect(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 0",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        "shutdown(7, SHUT_WR)",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
}

/* The event that says the connect completed may also say the backend spoke and hung up
 * already (a server that speaks first, or accepts and closes). Level and edge-oneshot are
 * told again once they register EPOLLIN (the kernel masks it while they wait for EPOLLOUT
 * only); edge registered everything at once, and that event is the only one it gets for
 * those bytes and that FIN: it must read them now. */
static void test_backend_speaks_first(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN|OUT|RDHUP",
        "getsockopt(7, SO_ERROR) = 0",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        M3(f, "epoll_wait = 7 IN|RDHUP", "", "epoll_wait = 7 IN|RDHUP"),
        "read(7, 16) = 9 \"220 ready\"",
        "write(6, \"220 ready\") = 9",
        "shutdown(6, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 7, 0)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 6, "220 ready");
}

/* A refused connect is retried (one backend: the same one again) on a new socket, which gets
 * the lowest free number, 7 again; the old one is closed once, the client sees nothing. */
static void test_connect_refused_retries(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 OUT|ERR|HUP",
        "getsockopt(7, SO_ERROR) = ECONNREFUSED",
        "close(7)",
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    connected(f);
    run(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eagain_mid_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_with_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdhup_short_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_epipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_econnreset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_reads_until_eagain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_before_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_before_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_speaks_first, setup, teardown),
    };
    int failed = 0;
    /* every test in each mode, a group a mode */
    for (run_mode = EPT_MODE_LEVEL; run_mode <= EPT_MODE_ONESHOT; run_mode++) {
        const char *name = policy_get(run_mode)->name;
        print_message("[----------] --mode %s\n", name);
        failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);
    }
    return failed;
}
