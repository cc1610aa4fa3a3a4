/* fmt.h - records as text: the strace-like line that dump and the viewer show, and JSON. */
#ifndef EPSCOPE_FMT_H
#define EPSCOPE_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ept.h"

/* A bounded string builder: appends never overflow, the text is always NUL-terminated. */
struct sbuf {
    char *p;
    size_t cap, len;
};
void sb_init(struct sbuf *b, char *p, size_t cap);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(struct sbuf *b, const char *s);
/* Bytes as a C string literal body: \r \n \t \" \\ and \xNN for the rest. */
void sb_escape(struct sbuf *b, const uint8_t *p, size_t n, int json);

/* "EPOLLIN|EPOLLRDHUP|EPOLLET", or "0". */
void fmt_events(struct sbuf *b, uint32_t events);
/* "EAGAIN" for 11 (positive errno), "E123" when unknown. */
const char *fmt_errno(long e);
/* "127.0.0.1:8080" or "[::1]:8080", "-" when empty. */
void fmt_addr(struct sbuf *b, const struct ept_addr *a);
/* "ADD", "MOD", "DEL". */
const char *fmt_ctl_op(int op);

/* The record's text as dump prints it after its seq and time, e.g.
 * "read(8, 16384) = 78 \"GET / HTTP/1.1\\r\\n\"...  [client s5 c2]" (strace's "..." after
 * the quote: the preview holds fewer bytes than were moved). */
void fmt_rec(struct sbuf *b, const struct ept_rec *r);
/* One JSON object (no newline) with seq, t (seconds since t0_ns), type and the fields. */
void fmt_rec_json(struct sbuf *b, const struct ept_rec *r, uint64_t t0_ns);

#endif
