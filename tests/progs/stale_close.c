/*
 * stale_close.c - a "chat pair" server with one bug: after handling one event of a batch
 * closed a socket, the rest of the batch is handled without checking for that. Diagnosis:
 * stale-event.
 *
 * Trigger mode: level-triggered, the listener and every client (no EPOLLET).
 *
 * The server pairs clients in order of arrival: the 1st with the 2nd, the 3rd with the
 * 4th... What one of a pair sends is written to the other. A client waiting for its
 * partner is not registered yet (what it sends waits in its socket). When either one
 * hangs up, the chat is over: the server closes BOTH sockets. So handling one event can
 * close another client's socket - and epoll_wait returns a batch: the other client may
 * have an event further down the same batch, collected before its socket was closed.
 * Worse, the fd number is free again as soon as it is closed: a client accepted later in
 * the batch gets it, and the stale event then looks like an event for the new client.
 * Before each epoll_wait the server sleeps 50 ms ("simulated work"), so that events
 * which happen close together land in one batch.
 *
 * Per direction, the same backpressure as echo_lt.c: the server reads from a client only
 * while its partner has nothing pending, and registers the partner for EPOLLOUT while it
 * has. Errors other than EAGAIN on read() are not acted on: after ECONNRESET the next
 * read() returns 0, which closes the pair.
 *
 * The bug (marked BUG below): the loop hands every event of the batch to its handler,
 * even when the fd was closed earlier in the same batch. The handler reads the fd:
 *   - still closed: read() fails with EBADF, which it ignores (no harm done, by luck);
 *   - reused by a client accepted in this batch: read() takes that new client's first
 *     message, and as the event was not really about it, the message is dropped: lost.
 *
 * How to make it show (drive.py stale): (1) a pair relays one line, then both hang up at
 * once: one batch, two end-of-file events; the first closes both sockets, the second is
 * stale (read -> EBADF). (2) A pair b, c (b accepted first: the lower fd); c relays a
 * line, then, at once: c hangs up, a new client d connects and sends a line, b sends a
 * line. One batch: c's end-of-file (closes c and b), the listener (d is accepted and gets
 * b's old fd number), b's data (stale: it reads d's line, which is lost). A fourth client
 * pairs with d and never receives d's line.
 *
 * The fix: remember which fds were closed during the batch and skip their events (the
 * check in main is missing), or defer the close() to the end of the batch.
 *
 * Usage: stale_close --listen 127.0.0.1:PORT
 * (PORT 0: any free port; the line "listening on 127.0.0.1:PORT" then gives the real one)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 1024    /* clients are found by fd in a table this big */
#define MAX_EVENTS 64   /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 4096   /* bytes read per event */
#define WORK_USEC 50000 /* "simulated work" before each epoll_wait */

/* One client, found by its fd. */
struct client {
    bool open;
    int peer;        /* the partner's fd, -1 while waiting for one */
    uint32_t events; /* what the fd is registered for now (0: not registered) */
    size_t off, len; /* from the partner, not yet written here: out[off .. len) */
    char out[BUF_SIZE];
};

static volatile sig_atomic_t stop; /* set by SIGTERM or SIGINT: leave the loop */
static struct client clients[MAX_FDS];
static int waiting = -1;                 /* a client with no partner yet, or -1 */
static unsigned long batch;              /* number of the current epoll_wait */
static unsigned long closed_in[MAX_FDS]; /* the batch in which each fd was last closed */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Make SIGTERM and SIGINT set `stop`, without SA_RESTART (epoll_wait and usleep fail with
 * EINTR); ignore SIGPIPE: a write to a vanished client should fail with EPIPE. */
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

/* Put fd in non-blocking mode. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* What fd waits for: EPOLLIN while its partner can take more, EPOLLOUT while bytes for it
 * are pending. (Nothing for a client without a partner.) */
static uint32_t wanted(int fd)
{
    int peer = clients[fd].peer;
    uint32_t want = 0;

    if (peer < 0)
        return 0;
    if (clients[peer].len == 0)
        want |= EPOLLIN;
    if (clients[fd].len > 0)
        want |= EPOLLOUT;
    return want;
}

/* Register (EPOLL_CTL_ADD) or update (EPOLL_CTL_MOD) fd for what it waits for, if that
 * changed. data.fd = fd, the data union zeroed first. Returns 0, or -1 on error. */
static int update_interest(int ep, int fd, int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = wanted(fd);
    ev.data.fd = fd;
    if (op == EPOLL_CTL_MOD && ev.events == clients[fd].events)
        return 0;
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        return -1;
    clients[fd].events = ev.events;
    return 0;
}

/* Close fd and clear its slot, remembering the batch it was closed in. */
static void close_one(int fd)
{
    close(fd);
    memset(&clients[fd], 0, sizeof clients[fd]);
    clients[fd].peer = -1;
    closed_in[fd] = batch;
}

/* The chat of fd is over: close fd and its partner. */
static void close_pair(int fd)
{
    int peer = clients[fd].peer;

    close_one(fd);
    if (peer >= 0)
        close_one(peer);
}

/* Accept one client (level-triggered listener: one per event). The first of two waits,
 * unregistered; the second pairs with it, and both are registered. */
static void on_accept(int ep, int lfd)
{
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
    clients[fd].open = true;
    clients[fd].peer = -1;
    if (waiting < 0) {
        waiting = fd;
        return;
    }
    clients[fd].peer = waiting;
    clients[waiting].peer = fd;
    if (update_interest(ep, waiting, EPOLL_CTL_ADD) < 0 ||
        update_interest(ep, fd, EPOLL_CTL_ADD) < 0) {
        perror("epoll_ctl ADD");
        close_pair(fd);
    }
    waiting = -1;
}

/* Write what is pending for fd. Returns 0 (all written, or the kernel is full again), or
 * -1 when the client is gone. */
static int flush(int fd)
{
    struct client *c = &clients[fd];

    while (c->off < c->len) {
        ssize_t n = write(fd, c->out + c->off, c->len - c->off);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

/* Read once from fd and pass it to its partner. Returns 0, or -1 when the pair was
 * closed. */
static int relay(int fd)
{
    int to = clients[fd].peer;
    char buf[BUF_SIZE];
    ssize_t n;

    if (to >= 0 && clients[to].len > 0)
        return 0; /* the partner has not taken the last message yet: not now */
    n = read(fd, buf, sizeof buf);
    if (n < 0)
        return 0; /* EAGAIN: nothing after all; ECONNRESET: the next read says 0 */
    if (n == 0) {
        close_pair(fd); /* end-of-file: the chat is over, for both */
        return -1;
    }
    if (to < 0)
        return 0; /* no partner: cannot happen, as the unpaired are not registered... */
    memcpy(clients[to].out, buf, (size_t)n);
    clients[to].off = 0;
    clients[to].len = (size_t)n;
    if (flush(to) < 0) {
        close_pair(fd);
        return -1;
    }
    return 0;
}

/* Handle one event of client fd: write what is pending for it, read what it sent. */
static void on_client(int ep, int fd, uint32_t events)
{
    int peer;

    if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && clients[fd].len > 0 && flush(fd) < 0) {
        close_pair(fd);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && relay(fd) < 0)
        return;
    peer = clients[fd].peer;
    if (update_interest(ep, fd, EPOLL_CTL_MOD) < 0 ||
        (peer >= 0 && update_interest(ep, peer, EPOLL_CTL_MOD) < 0)) {
        perror("epoll_ctl MOD");
        close_pair(fd);
    }
}

int main(int argc, char **argv)
{
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sockaddr_in addr, real;
    socklen_t len = sizeof real;
    char host[INET_ADDRSTRLEN];
    int one = 1, ep, lfd, rc = 0;

    if (argc != 3 || strcmp(argv[1], "--listen") != 0 || parse_addr(argv[2], &addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    setup_signals();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        set_nonblocking(lfd) < 0 || getsockname(lfd, (struct sockaddr *)&real, &len) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN; /* level-triggered listener */
    ev.data.fd = lfd;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll");
        return 1;
    }
    inet_ntop(AF_INET, &real.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(real.sin_port));
    fflush(stdout);

    while (!stop) {
        int n;

        usleep(WORK_USEC); /* "simulated work": lets events gather into one batch */
        if (stop)
            break; /* a signal during the sleep: do not go on to block in epoll_wait */
        n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the loop test looks at `stop` */
            perror("epoll_wait");
            rc = 1;
            break;
        }
        batch++;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            /* BUG: missing here: `if (closed_in[fd] == batch) continue;` - this event may
             * be about a socket closed earlier in this batch, and fd may even be a new
             * client's by now. */
            if (fd == lfd)
                on_accept(ep, lfd);
            else
                on_client(ep, fd, evs[i].events);
        }
    }

    for (int fd = 0; fd < MAX_FDS; fd++)
        if (clients[fd].open)
            close(fd);
    close(lfd);
    close(ep);
    return rc;
}
