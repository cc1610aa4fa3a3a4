/* net.h - socket addresses and small socket helpers shared by proxy, backend and load. */
#ifndef EPSCOPE_NET_H
#define EPSCOPE_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "ept.h"

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Parse "HOST:PORT", "[IPV6]:PORT" or ":PORT"/"PORT" (127.0.0.1). HOST may be a name
 * (resolved once, now). Returns 0 or -EINVAL with a reason in err. */
int net_parse(const char *s, struct net_addr *a, char *err, size_t errlen);
/* "127.0.0.1:8080" / "[::1]:8080". */
void net_format(const struct net_addr *a, char *buf, size_t len);
/* Fixed-size copy for trace records. */
void net_to_ept(const struct sockaddr *sa, struct ept_addr *out);
/* The port of a net_addr, host order. */
unsigned net_port(const struct net_addr *a);

/* A non-blocking, close-on-exec listening TCP socket (SO_REUSEADDR). Returns fd or -errno. */
int net_listen(const struct net_addr *a, int backlog);
/* How a listening socket holds its port (net_listen_shared). */
enum net_share {
    NET_ALONE,      /* the port is this socket's alone */
    NET_GROUP_NEW,  /* the first of an SO_REUSEPORT group: fails if anyone listens there */
    NET_GROUP_JOIN, /* one more member of the group the caller just made */
};
/* net_listen, and in a group set SO_REUSEPORT first, so that several sockets (one per
 * worker) can listen on the same address. */
int net_listen_shared(const struct net_addr *a, int backlog, enum net_share share);
/* The address a socket is bound to (to learn the port after binding port 0). */
int net_local(int fd, struct net_addr *a);
/* A non-blocking, close-on-exec TCP socket for a's family; -errno on failure. */
int net_socket(const struct net_addr *a);
/* Close with an RST instead of a FIN (SO_LINGER 0); returns close()'s result. */
int net_close_reset(int fd);

#endif
