/* backend.h - `epscope backend`: a small single-threaded epoll HTTP/1.1 origin server. */
#ifndef EPSCOPE_BACKEND_H
#define EPSCOPE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* What one backend serves. */
struct backend_opts {
    const char *listen; /* "HOST:PORT" for net_parse; port 0 picks a free port */
    const char *name;   /* X-Backend value; NULL means the bound address */
    const char *text;   /* the body when !pattern */
    size_t text_len;
    bool pattern;      /* send size bytes of http_pattern_byte() instead of text */
    uint64_t size;     /* body length when pattern */
    uint64_t delay_ms; /* wait this long before answering each request */
    bool close;        /* close every connection after its response */
};

/* Serve until SIGINT or SIGTERM, after printing "listening on HOST:PORT" to stdout;
 * returns 0, or -errno when the server could not start (a message is on stderr). */
int backend_run(const struct backend_opts *o);

#endif
