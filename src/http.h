/* http.h - the HTTP/1.1 pieces backend and load share: request and response head parsing,
 * URL parsing and the deterministic body pattern both ends agree on. */
#ifndef EPSCOPE_HTTP_H
#define EPSCOPE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest request or response head either end accepts (status line + headers). */
#define HTTP_HEAD_MAX 16384
/* Room for the X-Backend value kept from a response (longer values are truncated). */
#define HTTP_NAME_MAX 64

enum http_body_kind {
    HTTP_BODY_UNKNOWN = 0, /* no X-Body header */
    HTTP_BODY_PATTERN,     /* "X-Body: pattern": byte i is http_pattern_byte(i) */
    HTTP_BODY_TEXT,        /* "X-Body: text": a fixed text */
};

/* What load needs to know about one response head. */
struct http_resp {
    int minor;              /* HTTP/1.minor */
    int status;             /* 100..999 */
    int64_t content_length; /* -1 when absent */
    bool close;             /* the server closes after this response */
    bool chunked;           /* Transfer-Encoding present (load does not decode it) */
    enum http_body_kind body;
    char backend[HTTP_NAME_MAX]; /* X-Backend value, "" when absent */
};

/* What backend needs to know about one request head. */
struct http_req {
    int minor;              /* HTTP/1.minor */
    int64_t content_length; /* 0 when absent */
    bool keep_alive;        /* the connection stays open after the response */
    bool head;              /* method HEAD: the response has no body */
};

/* A parsed http://HOST[:PORT][/PATH] URL. */
struct http_url {
    char hostport[300]; /* "HOST:PORT" or "[V6]:PORT", ready for net_parse */
    char host[280];     /* the Host header value, as written in the URL */
    char path[2048];    /* "/" when absent */
};

/* Byte i of a pattern body: printable ASCII, a pure function of i, with no short period. */
uint8_t http_pattern_byte(uint64_t i);
/* Fill buf with pattern bytes [off, off + len). */
void http_pattern_fill(uint8_t *buf, uint64_t off, size_t len);
/* Compare buf against pattern bytes [off, off + len); returns the index of the first
 * mismatch, or len when every byte matches. */
size_t http_pattern_check(const uint8_t *buf, uint64_t off, size_t len);

/* Parse the response head at the start of buf[0, len): returns the head's length when it
 * is complete, 0 when more bytes are needed, -EBADMSG when malformed, -E2BIG when it grows
 * past HTTP_HEAD_MAX without ending. */
int http_parse_response(const char *buf, size_t len, struct http_resp *r);
/* Parse the request head at the start of buf[0, len); returns as http_parse_response, and
 * -ENOTSUP for a request body framing it cannot skip (Transfer-Encoding). */
int http_parse_request(const char *buf, size_t len, struct http_req *r);
/* Parse "http://HOST[:PORT][/PATH]" (HOST may be [IPV6]); returns 0 or -EINVAL with a
 * reason in err. */
int http_parse_url(const char *s, struct http_url *u, char *err, size_t errlen);

#endif
