/*
 * proxy_mistrigger.c - a TCP proxy in the style of the course project that started
 * epscope, with that project's bug. Diagnosis: mis-trigger (and, as a consequence,
 * eof-spin on the backend socket).
 *
 * Trigger mode: level-triggered, EPOLLIN|EPOLLRDHUP on the client and backend sockets
 * (and EPOLLIN on the listener).
 *
 * The design, as in the original: one backend connection per client, made with a plain
 * blocking connect() when the client is accepted; one shared buffer per connection; the
 * sockets stay blocking (a read() only ever follows an EPOLLIN event, so it never waits,
 * and a write() waits until the kernel has taken every byte, which keeps forwarding
 * simple). An event on one socket means "read it and forward what came to the other".
 *
 * The bug (marked BUG below), in two halves:
 *  1. The handler forwards "the buffer" without looking at what read() returned: a read
 *     of 0 (end-of-file) or -1 (EAGAIN, an error) becomes n = 0, and write(other, buf, 0)
 *     is called - an empty message, forwarded. End-of-file is never passed on.
 *  2. Only the CLIENT's end-of-file closes the connection. After the backend has sent its
 *     answer and closed, its socket stays registered for EPOLLIN, and a level-triggered
 *     socket at end-of-file is reported by every epoll_wait: read() = 0, write(client,
 *     buf, 0), again and again, until the client gives up and closes (SIGTERM still stops
 *     the loop at any time).
 * The client receives the whole answer but never its end: it waits for ever.
 *
 * How to make it show: run it in front of `drive.py backend` (answers one request, waits
 * 100 ms, closes) and send one request (drive.py proxy): the answer arrives, its end never
 * does; meanwhile the backend socket is reported again and again, each time read() = 0
 * followed by write(client, buf, 0).
 *
 * The fix (proxy_oneshot.c does it all): on read() == 0, pass the end-of-file on with
 * shutdown(other, SHUT_WR) and stop asking for EPOLLIN on that socket; on EAGAIN do
 * nothing; close the pair when both sides have finished.
 *
 * Usage: proxy_mistrigger --listen 127.0.0.1:PORT --backend HOST:PORT
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

#define MAX_FDS 1024   /* connections are found by fd in a table this big */
#define MAX_EVENTS 64  /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 16384 /* the shared buffer of a connection */

/* A client and its backend connection. */
struct pair {
    int client, backend;
    char buf[BUF_SIZE]; /* shared by both directions, as in the original */
};

static volatile sig_atomic_t stop; /* set by SIGTERM or SIGINT: leave the loop */
static struct sockaddr_in backend_addr;
static struct pair *pairs[MAX_FDS];      /* both fds of a pair lead to it; NULL if none */
static unsigned long batch;              /* number of the current epoll_wait */
static unsigned long closed_in[MAX_FDS]; /* the batch in which each fd was last closed */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Make SIGTERM and SIGINT set `stop`, without SA_RESTART (epoll_wait fails with EINTR);
 * ignore SIGPIPE: a write to a closed socket should fail with EPIPE. */
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

/* Register fd, level-triggered, for EPOLLIN|EPOLLRDHUP (data.fd = fd, data zeroed). */
static int watch(int ep, int fd)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Close both sockets of p. A later event of this batch for one of them is skipped (see
 * main): its fd number may already belong to a connection accepted since. */
static void close_pair(struct pair *p)
{
    pairs[p->client] = pairs[p->backend] = NULL;
    closed_in[p->client] = closed_in[p->backend] = batch;
    close(p->client);
    close(p->backend);
    free(p);
}

/* Accept one client (level-triggered listener: one per event), connect to the backend,
 * register both. */
static void on_accept(int ep, int lfd)
{
    struct pair *p;
    int fd = accept(lfd, NULL, NULL), bfd;

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
            perror("accept");
        return;
    }
    bfd = socket(AF_INET, SOCK_STREAM, 0);
    if (bfd < 0 || connect(bfd, (struct sockaddr *)&backend_addr, sizeof backend_addr) < 0) {
        perror("backend connect");
        close(fd);
        if (bfd >= 0)
            close(bfd);
        return;
    }
    if (fd >= MAX_FDS || bfd >= MAX_FDS) {
        fprintf(stderr, "refusing a client on fd %d\n", fd);
        close(fd);
        close(bfd);
        return;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", sizeof *p);
        exit(1);
    }
    p->client = fd;
    p->backend = bfd;
    pairs[fd] = pairs[bfd] = p;
    if (watch(ep, fd) < 0 || watch(ep, bfd) < 0) {
        perror("epoll_ctl ADD");
        close_pair(p);
    }
}

/* Socket fd of pair p is readable: read it and forward to the other socket. */
static void on_data(struct pair *p, int fd)
{
    int other = fd == p->client ? p->backend : p->client;
    ssize_t n = read(fd, p->buf, sizeof p->buf);

    /* BUG: (first half) what read() returned is not checked. 0 (end-of-file) and -1
     * (EAGAIN, an error) both become "0 bytes", and the empty buffer is forwarded below:
     * write(other, buf, 0). The fix: n > 0 forwards; n == 0 passes the end-of-file on
     * with shutdown(other, SHUT_WR) and stops reading fd; EAGAIN does nothing. */
    if (n < 0)
        n = 0;
    if (write(other, p->buf, (size_t)n) < 0) {
        close_pair(p); /* EPIPE, ECONNRESET: a side is gone */
        return;
    }
    /* BUG: (second half) only the client's end-of-file ends the connection. The backend's
     * is ignored, and its socket, still registered level-triggered for EPOLLIN, is
     * reported readable by every epoll_wait from now on. */
    if (n == 0 && fd == p->client)
        close_pair(p);
}

int main(int argc, char **argv)
{
    struct epoll_event evs[MAX_EVENTS];
    struct sockaddr_in addr, real;
    socklen_t len = sizeof real;
    char host[INET_ADDRSTRLEN];
    const char *listen_arg = NULL, *backend_arg = NULL;
    int one = 1, ep, lfd, flags, rc = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen_arg = argv[i + 1];
        else if (strcmp(argv[i], "--backend") == 0)
            backend_arg = argv[i + 1];
    }
    if (argc != 5 || listen_arg == NULL || backend_arg == NULL ||
        parse_addr(listen_arg, &addr) < 0 || parse_addr(backend_arg, &backend_addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT --backend HOST:PORT\n", argv[0]);
        return 2;
    }
    setup_signals();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* the listener alone is non-blocking: a client that gives up between the event and
     * accept() must not leave accept() waiting for the next one */
    flags = fcntl(lfd, F_GETFL);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        getsockname(lfd, (struct sockaddr *)&real, &len) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(0);
    if (ep < 0 || lfd >= MAX_FDS || watch(ep, lfd) < 0) {
        perror("epoll");
        return 1;
    }
    inet_ntop(AF_INET, &real.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(real.sin_port));
    fflush(stdout);

    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
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
            if (fd == lfd)
                on_accept(ep, lfd);
            else if (closed_in[fd] != batch && pairs[fd] != NULL) /* not closed meanwhile */
                on_data(pairs[fd], fd);
        }
    }

    for (int fd = 0; fd < MAX_FDS; fd++)
        if (pairs[fd] != NULL)
            close_pair(pairs[fd]);
    close(lfd);
    close(ep);
    return rc;
}
