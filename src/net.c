/* net.c - address parsing and socket helpers. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int net_parse(const char *s, struct net_addr *a, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    memset(a, 0, sizeof(*a));
    if (!s || !*s) {
        snprintf(err, errlen, "empty address");
        return -EINVAL;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host)) {
            snprintf(err, errlen, "'%s': expected [IPV6]:PORT", s);
            return -EINVAL;
        }
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) {
            snprintf(host, sizeof(host), "127.0.0.1");
            port = s;
        } else {
            if ((size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon) {
                snprintf(err, errlen, "'%s': expected HOST:PORT (IPv6 as [ADDR]:PORT)", s);
                return -EINVAL;
            }
            memcpy(host, s, (size_t)(colon - s));
            host[colon - s] = 0;
            if (!host[0])
                snprintf(host, sizeof(host), "127.0.0.1");
            port = colon + 1;
        }
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "'%s': bad port '%s' (0-65535)", s, port);
        return -EINVAL;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "'%s': cannot resolve '%s': %s", s, host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    /* [::ffff:A.B.C.D] is an IPv4 address in IPv6 clothes: an IPv6-only socket cannot bind
     * it (EINVAL), so use it as the IPv4 address it is */
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&a->ss;
    if (a->ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        struct sockaddr_in in = {0};
        in.sin_family = AF_INET;
        in.sin_port = in6->sin6_port;
        memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
        memset(&a->ss, 0, sizeof(a->ss));
        memcpy(&a->ss, &in, sizeof(in));
        a->len = sizeof(in);
    }
    return 0;
}

void net_format(const struct net_addr *a, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&a->ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
    } else if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&a->ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, len, "-");
    }
}

void net_to_ept(const struct sockaddr *sa, struct ept_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        out->family = AF_INET;
        out->port = ntohs(in->sin_port);
        memcpy(out->ip, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        out->family = AF_INET6;
        out->port = ntohs(in6->sin6_port);
        out->scope = in6->sin6_scope_id;
        memcpy(out->ip, &in6->sin6_addr, 16);
    }
}

unsigned net_port(const struct net_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_port);
    return 0;
}

int net_socket(const struct net_addr *a)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int net_listen(const struct net_addr *a, int backlog)
{
    return net_listen_shared(a, backlog, NET_ALONE);
}

/* A socket bound to a, with SO_REUSEADDR (past connections in TIME_WAIT) and, in a group,
 * SO_REUSEPORT: set before bind, since the kernel lets a socket join a port's group only if
 * every member asked for it, and spreads new connections over the group by a hash.
 * Returns fd or -errno. */
static int bound_socket(const struct net_addr *a, bool reuseport)
{
    int fd = net_socket(a), one = 1, rc;
    if (fd < 0)
        return fd;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        goto fail;
    return fd;
fail:
    rc = -errno;
    close(fd);
    return rc;
}

int net_listen_shared(const struct net_addr *a, int backlog, enum net_share share)
{
    int fd, rc;
    /* A new group first looks whether anyone listens on the port: a socket without
     * SO_REUSEPORT binds only if nobody does. Linux lets any socket of the same user that
     * sets SO_REUSEPORT join a port's group, so without this look a second proxy started
     * on a busy port would quietly take a share of the first one's connections. Port 0:
     * the kernel picks a free port, which only this group then joins. */
    if (share == NET_GROUP_NEW && net_port(a) != 0) {
        if ((fd = bound_socket(a, false)) < 0)
            return fd;
        close(fd);
    }
    if ((fd = bound_socket(a, share != NET_ALONE)) < 0)
        return fd;
    if (listen(fd, backlog) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int net_local(int fd, struct net_addr *a)
{
    a->len = sizeof(a->ss);
    return getsockname(fd, (struct sockaddr *)&a->ss, &a->len) < 0 ? -errno : 0;
}

int net_close_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    return close(fd);
}
