/* http.c - HTTP/1.1 head parsing, URL parsing and the body pattern shared by backend and load. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* 64 symbols so one hash gives one symbol with a shift; all of them print plainly and need
 * no escaping in text or JSON previews. */
static const char pattern_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";

uint8_t http_pattern_byte(uint64_t i)
{
    /* splitmix64's finaliser over the offset: every bit of i reaches the top six bits, so a
     * shifted, repeated or swapped chunk of any length differs from the real bytes. */
    uint64_t z = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint8_t)pattern_alphabet[z >> 58];
}

void http_pattern_fill(uint8_t *buf, uint64_t off, size_t len)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = http_pattern_byte(off + k);
}

size_t http_pattern_check(const uint8_t *buf, uint64_t off, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (buf[k] != http_pattern_byte(off + k))
            return k;
    return len;
}

/* Length of the head at buf (through its blank line), 0 when not complete yet. */
static size_t head_end(const char *buf, size_t len)
{
    size_t scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    const char *p = buf, *end = buf + scan;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        if (p < end && *p == '\n')
            return (size_t)(p + 1 - buf);
        if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
            return (size_t)(p + 2 - buf);
    }
    return 0;
}

/* One line of a head: [s, e) without its CR LF. */
struct line {
    const char *s, *e;
};

/* Next line starting at *pos within [.., end); false at the end of the head. */
static bool next_line(const char **pos, const char *end, struct line *l)
{
    const char *p = *pos;
    if (p >= end)
        return false;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return false;
    l->s = p;
    l->e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    *pos = nl + 1;
    return true;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A header split into name and value (value trimmed of spaces and tabs). */
struct header {
    const char *name, *value;
    size_t nlen, vlen;
};

static int split_header(const struct line *l, struct header *h)
{
    const char *p = l->s;
    while (p < l->e && is_tchar(*p))
        p++;
    if (p == l->s || p >= l->e || *p != ':')
        return -EBADMSG; /* no name, space before the colon, or obsolete line folding */
    h->name = l->s;
    h->nlen = (size_t)(p - l->s);
    p++;
    const char *e = l->e;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (const char *q = p; q < e; q++)
        if ((unsigned char)*q < 0x20 && *q != '\t')
            return -EBADMSG;
    h->value = p;
    h->vlen = (size_t)(e - p);
    return 0;
}

static bool name_is(const struct header *h, const char *name)
{
    return strlen(name) == h->nlen && !strncasecmp(h->name, name, h->nlen);
}

/* Content-Length: digits only; a repeated header must agree. */
static int parse_length(const struct header *h, int64_t *out)
{
    if (h->vlen == 0 || h->vlen > 18)
        return -EBADMSG;
    int64_t v = 0;
    for (size_t k = 0; k < h->vlen; k++) {
        if (h->value[k] < '0' || h->value[k] > '9')
            return -EBADMSG;
        v = v * 10 + (h->value[k] - '0');
    }
    if (*out >= 0 && *out != v)
        return -EBADMSG;
    *out = v;
    return 0;
}

/* Connection: a comma-separated token list; sets *close / *keep for those tokens. */
static void parse_connection(const struct header *h, bool *close, bool *keep)
{
    const char *p = h->value, *e = h->value + h->vlen;
    while (p < e) {
        while (p < e && (*p == ',' || *p == ' ' || *p == '\t'))
            p++;
        const char *t = p;
        while (p < e && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - t);
        if (n == 5 && !strncasecmp(t, "close", 5))
            *close = true;
        else if (n == 10 && !strncasecmp(t, "keep-alive", 10))
            *keep = true;
    }
}

/* "HTTP/1.x" at the start of [s, e): the minor version, or -1. */
static int parse_version(const char *s, const char *e)
{
    if (e - s != 8 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1'))
        return -1;
    return s[7] - '0';
}

int http_parse_response(const char *buf, size_t len, struct http_resp *r)
{
    size_t n = head_end(buf, len);
    if (n == 0)
        return len >= HTTP_HEAD_MAX ? -E2BIG : 0;
    memset(r, 0, sizeof(*r));
    r->content_length = -1;

    const char *pos = buf, *end = buf + n;
    struct line l;
    if (!next_line(&pos, end, &l) || l.e - l.s < 12 || l.s[8] != ' ')
        return -EBADMSG;
    r->minor = parse_version(l.s, l.s + 8);
    if (r->minor < 0)
        return -EBADMSG;
    for (int k = 9; k < 12; k++)
        if (l.s[k] < '0' || l.s[k] > '9')
            return -EBADMSG;
    if (l.e - l.s > 12 && l.s[12] != ' ')
        return -EBADMSG;
    r->status = (l.s[9] - '0') * 100 + (l.s[10] - '0') * 10 + (l.s[11] - '0');
    if (r->status < 100)
        return -EBADMSG;

    bool close = false, keep = false;
    while (next_line(&pos, end, &l) && l.e > l.s) {
        struct header h;
        if (split_header(&l, &h) < 0)
            return -EBADMSG;
        if (name_is(&h, "Content-Length")) {
            if (parse_length(&h, &r->content_length) < 0)
                return -EBADMSG;
        } else if (name_is(&h, "Connection")) {
            parse_connection(&h, &close, &keep);
        } else if (name_is(&h, "Transfer-Encoding")) {
            r->chunked = true;
        } else if (name_is(&h, "X-Backend")) {
            size_t m = h.vlen < HTTP_NAME_MAX - 1 ? h.vlen : HTTP_NAME_MAX - 1;
            memcpy(r->backend, h.value, m);
            r->backend[m] = 0;
        } else if (name_is(&h, "X-Body")) {
            if (h.vlen == 7 && !strncasecmp(h.value, "pattern", 7))
                r->body = HTTP_BODY_PATTERN;
            else if (h.vlen == 4 && !strncasecmp(h.value, "text", 4))
                r->body = HTTP_BODY_TEXT;
        }
    }
    r->close = close || (r->minor == 0 && !keep);
    return (int)n;
}

int http_parse_request(const char *buf, size_t len, struct http_req *r)
{
    /* Tolerate the stray CR LF some clients send after a request body (RFC 9112 2.2). */
    size_t skip = 0;
    while (skip < len && skip < 8 && (buf[skip] == '\r' || buf[skip] == '\n'))
        skip++;
    size_t n = head_end(buf + skip, len - skip);
    if (n == 0)
        return len >= HTTP_HEAD_MAX ? -E2BIG : 0;
    memset(r, 0, sizeof(*r));

    const char *pos = buf + skip, *end = buf + skip + n;
    struct line l;
    if (!next_line(&pos, end, &l))
        return -EBADMSG;
    const char *p = l.s;
    while (p < l.e && is_tchar(*p))
        p++;
    if (p == l.s || p >= l.e || *p != ' ')
        return -EBADMSG;
    r->head = p - l.s == 4 && !memcmp(l.s, "HEAD", 4);
    const char *target = ++p;
    while (p < l.e && *p != ' ' && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    if (p == target || p >= l.e || *p != ' ')
        return -EBADMSG;
    r->minor = parse_version(p + 1, l.e);
    if (r->minor < 0)
        return -EBADMSG;

    bool close = false, keep = false;
    int64_t length = -1;
    while (next_line(&pos, end, &l) && l.e > l.s) {
        struct header h;
        if (split_header(&l, &h) < 0)
            return -EBADMSG;
        if (name_is(&h, "Content-Length")) {
            if (parse_length(&h, &length) < 0)
                return -EBADMSG;
        } else if (name_is(&h, "Connection")) {
            parse_connection(&h, &close, &keep);
        } else if (name_is(&h, "Transfer-Encoding")) {
            return -ENOTSUP;
        }
    }
    r->content_length = length < 0 ? 0 : length;
    r->keep_alive = r->minor == 1 ? !close : keep && !close;
    return (int)(skip + n);
}

int http_parse_url(const char *s, struct http_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (strncasecmp(s, "http://", 7) != 0) {
        snprintf(err, errlen, "'%s': expected http://HOST[:PORT][/PATH]", s);
        return -EINVAL;
    }
    const char *a = s + 7;
    size_t alen = strcspn(a, "/?#");
    const char *path = a + alen;
    if (alen == 0 || alen >= sizeof(u->host) || memchr(a, '@', alen)) {
        snprintf(err, errlen, "'%s': bad or missing HOST[:PORT]", s);
        return -EINVAL;
    }
    const char *host = a, *port = NULL;
    size_t hlen;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close || close == a + 1) {
            snprintf(err, errlen, "'%s': expected [IPV6] in brackets", s);
            return -EINVAL;
        }
        hlen = (size_t)(close + 1 - a);
        if (close + 1 < a + alen) {
            if (close[1] != ':') {
                snprintf(err, errlen, "'%s': expected ':' after ']'", s);
                return -EINVAL;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(a, ':', alen);
        hlen = colon ? (size_t)(colon - a) : alen;
        port = colon ? colon + 1 : NULL;
        if (hlen == 0 || (colon && memchr(colon + 1, ':', (size_t)(a + alen - colon - 1)))) {
            snprintf(err, errlen, "'%s': bad host (IPv6 goes in brackets)", s);
            return -EINVAL;
        }
    }
    size_t plen = port ? (size_t)(a + alen - port) : 0;
    if (port) {
        unsigned long v = 0;
        for (size_t k = 0; k < plen; k++) {
            if (port[k] < '0' || port[k] > '9' || k >= 5) {
                v = 99999;
                break;
            }
            v = v * 10 + (unsigned long)(port[k] - '0');
        }
        if (plen == 0 || v == 0 || v > 65535) {
            snprintf(err, errlen, "'%s': bad port (1-65535)", s);
            return -EINVAL;
        }
    }
    memcpy(u->host, a, alen);
    u->host[alen] = 0;
    snprintf(u->hostport, sizeof(u->hostport), "%.*s:%.*s", (int)hlen, host, port ? (int)plen : 2,
             port ? port : "80");
    if (!*path || *path == '#') {
        snprintf(u->path, sizeof(u->path), "/");
    } else {
        size_t n = strcspn(path, "#");
        if (*path == '?')
            n++; /* "http://h?q" asks for "/?q" */
        if (n >= sizeof(u->path)) {
            snprintf(err, errlen, "'%s': path too long", s);
            return -EINVAL;
        }
        snprintf(u->path, sizeof(u->path), "%s%.*s", *path == '?' ? "/" : "",
                 (int)(*path == '?' ? n - 1 : n), path);
    }
    for (const char *q = u->path; *q; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
            snprintf(err, errlen, "'%s': spaces and control characters need %%-encoding", s);
            return -EINVAL;
        }
    }
    return 0;
}
