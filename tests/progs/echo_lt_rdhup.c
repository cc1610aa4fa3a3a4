/*
 * echo_lt_rdhup.c - echo_lt.c, plus EPOLLRDHUP, taken for "the client is gone".
 *
 * BUG (rdhup-data-loss): a client reported with EPOLLRDHUP is closed at once, before its
 * socket is read. EPOLLRDHUP says the client's FIN arrived - it will send nothing more -
 * not that there is nothing left to read: a last line and the FIN often arrive together,
 * in one event, and that line is never read or echoed. Closing a TCP socket with unread
 * bytes also makes Linux send a reset (RST) instead of a FIN.
 * Show it: `drive.py rdhup 127.0.0.1:PORT --pid PID` (the line and the FIN sent while the
 * server is frozen, so they come in one event): "the line sent with the end-of-file was
 * lost". epscope check: rdhup-data-loss (the close record says how many bytes were unread).
 * Fix: on EPOLLRDHUP, read as usual - until read() returns 0 - and close only then.
 *
 * Trigger mode: level-triggered, the listener and every client (no EPOLLET).
 *
 * Level-triggered means: epoll_wait reports a socket every time it is called, for as long
 * as the condition holds (unread bytes for EPOLLIN, room in the send buffer for EPOLLOUT).
 * So a handler may do a little work per event - one accept(), one read() - and count on
 * being called again if there is more. The one rule: never stay registered for a condition
 * you will not act on, or epoll_wait returns at once, forever (echo_lt_eofspin.c and
 * echo_lt_busyout.c break it in the two classic ways).
 *
 * A client is always in one of two phases and registered for exactly one event:
 *   reading  EPOLLIN   one read() per event; the bytes are written straight back;
 *   writing  EPOLLOUT  the echo did not fit in the send buffer: the rest waits in
 *                      c->pending until the kernel has room, then we read again.
 * Not reading while an echo is pending is backpressure: a client that sends and never
 * reads cannot make us buffer without bound.
 *
 * Usage: echo_lt --listen 127.0.0.1:PORT
 * (PORT 0: any free port; the line "listening on 127.0.0.1:PORT" then gives the real one)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 1024  /* clients are found by fd in a table this big */
#define MAX_EVENTS 64 /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 4096 /* bytes read per event */

/* One client connection. */
struct conn {
    int fd;
    uint32_t events; /* what fd is registered for now: EPOLLIN or EPOLLOUT */
    size_t off, len; /* the unsent rest of an echo: pending[off .. len) */
    char pending[BUF_SIZE];
};

static volatile sig_atomic_t stop;  /* set by SIGTERM or SIGINT: leave the loop */
static struct conn *conns[MAX_FDS]; /* the connection on each fd, NULL if none */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Make SIGTERM and SIGINT set `stop`. No SA_RESTART: a blocked epoll_wait then fails with
 * EINTR and the loop sees the flag. Ignore SIGPIPE: a write to a vanished client should
 * fail with EPIPE, not kill the server. */
static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Parse "A.B.C.D:PORT" into *sa. Returns 0, or -1 when s is not an IPv4 address:port. */
static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[INET_ADDRSTRLEN], *end;
    long port;

    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* Put fd in non-blocking mode: accept/read/write then say EAGAIN instead of waiting. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Open a non-blocking listening socket on *sa. Returns the fd, or -1 (message printed). */
static int listen_on(const struct sockaddr_in *sa)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        perror("socket");
        return -1;
    }
    /* a fixed port can be reused at once, even while old connections sit in TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
        set_nonblocking(fd) < 0) {
        perror("bind/listen");
        close(fd);
        return -1;
    }
    return fd;
}

/* Print "listening on HOST:PORT" with the port the kernel chose; the tests wait for it. */
static void announce(int lfd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    char host[INET_ADDRSTRLEN];

    getsockname(lfd, (struct sockaddr *)&sa, &len);
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
}

/* An epoll_event for fd. The data union is zeroed first: data.fd fills only 4 of its 8
 * bytes, and whoever looks at data.u64 (a tracer) should see exactly the fd. */
static struct epoll_event event_for(int fd, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    return ev;
}

/* The one event c waits for: room to write while an echo is pending, else data. */
static uint32_t wanted(const struct conn *c)
{
    return c->off < c->len ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
}

/* Tell the kernel if what c waits for has changed. Returns 0, or -1 on error. */
static int update_interest(int ep, struct conn *c)
{
    struct epoll_event ev = event_for(c->fd, wanted(c));

    if (ev.events == c->events)
        return 0;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->events = ev.events;
    return 0;
}

/* Forget and close c. close() also takes the fd out of the epoll set. */
static void close_conn(struct conn *c)
{
    conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}

/* Accept one connection and register it for EPOLLIN. One per event is enough with a
 * level-triggered listener: if more are waiting, the next epoll_wait reports it again. */
static void on_accept(int ep, int lfd)
{
    struct epoll_event ev;
    struct conn *c;
    int fd = accept(lfd, NULL, NULL);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
            perror("accept");
        return;
    }
    if (fd >= MAX_FDS || set_nonblocking(fd) < 0) {
        fprintf(stderr, "refusing a client on fd %d\n", fd);
        close(fd);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", sizeof *c);
        exit(1);
    }
    c->fd = fd;
    c->events = wanted(c);
    ev = event_for(fd, c->events);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("epoll_ctl ADD");
        close(fd);
        free(c);
        return;
    }
    conns[fd] = c;
}

/* Write the pending rest of an echo. Returns 0 (all written, or the send buffer is full
 * again: keep waiting for EPOLLOUT), or -1 when the client is gone. */
static int flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

/* Handle one event of client c: finish a pending echo, or read once and echo it. */
static void on_client(int ep, struct conn *c, uint32_t events)
{
    char buf[BUF_SIZE];
    ssize_t n, w;

    if (events & EPOLLRDHUP) {
        /* BUG: EPOLLRDHUP taken for "nothing more to do": the bytes that came with the
         * FIN are still unread in the socket, and are lost with it */
        close_conn(c);
        return;
    }
    if (c->off < c->len) {
        /* writing phase: EPOLLOUT (an error or hang-up makes write() fail, and we close) */
        if (flush(c) < 0) {
            close_conn(c);
            return;
        }
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN)
            return; /* nothing after all: harmless */
        if (n < 0) {
            close_conn(c); /* ECONNRESET and friends: the client is gone */
            return;
        }
        if (n == 0) {
            /* end-of-file: the client has sent everything, and all of it was echoed
             * (we only read when nothing is pending), so we are done with it */
            close_conn(c);
            return;
        }
        w = write(c->fd, buf, (size_t)n);
        if (w < 0 && errno != EAGAIN) {
            close_conn(c);
            return;
        }
        if (w < 0)
            w = 0;
        /* keep what did not fit; wanted() now says EPOLLOUT */
        c->off = 0;
        c->len = (size_t)(n - w);
        memcpy(c->pending, buf + w, c->len);
    }
    if (update_interest(ep, c) < 0) {
        perror("epoll_ctl MOD");
        close_conn(c);
    }
}

int main(int argc, char **argv)
{
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sockaddr_in addr;
    int ep, lfd, rc = 0;

    if (argc != 3 || strcmp(argv[1], "--listen") != 0 || parse_addr(argv[2], &addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    setup_signals();
    lfd = listen_on(&addr);
    if (lfd < 0)
        return 1;
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev = event_for(lfd, EPOLLIN); /* level-triggered listener */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll");
        return 1;
    }
    announce(lfd);

    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the loop test looks at `stop` */
            perror("epoll_wait");
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                on_accept(ep, lfd);
            else if (conns[fd] != NULL) /* NULL: no client (any more) on this fd */
                on_client(ep, conns[fd], evs[i].events);
        }
    }

    for (int fd = 0; fd < MAX_FDS; fd++)
        if (conns[fd] != NULL)
            close_conn(conns[fd]);
    close(lfd);
    close(ep);
    return rc;
}
