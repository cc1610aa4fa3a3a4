/* strip.h - rewrites a trace as a recorded program's would be: the system calls only.
 *
 * Every record that only epscope's proxy writes (handle, pick, note, timeout, health,
 * pause) becomes a record of a type no reader knows (readers skip those); every socket
 * loses its connection id and role; closes lose their reason; connects their backend
 * index; the header loses its mode and configuration. Socket ids stay: a recorder gives
 * each file an identity too. Every block is re-sealed with a fresh CRC, so the result is a
 * valid trace that tells the analyzer nothing but the calls.
 */
#ifndef EPSCOPE_STRIP_H
#define EPSCOPE_STRIP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ept.h"
#include "reader.h"

#define STRIP_UNKNOWN_TYPE 999 /* a type no version of the format will give a meaning */

/* Blank the proxy's annotations in one ept_sock at offset off of record r. */
static inline void strip_sock(struct ept_rec *r, size_t off)
{
    if (!off || off + sizeof(struct ept_sock) > r->size)
        return;
    struct ept_sock *s = (struct ept_sock *)((uint8_t *)r + off);
    s->conn = 0;
    s->role = 0;
}

/* Rewrite one record in place. */
static inline void strip_rec(struct ept_rec *r)
{
    const struct ept_type_info *t = ept_type(r->type);
    if (!t)
        return;
    if (t->flags & EPT_T_ANNOTATION) {
        r->type = STRIP_UNKNOWN_TYPE;
        memset((uint8_t *)r + sizeof(*r), 0, r->size - sizeof(*r));
        return;
    }
    strip_sock(r, t->sock);
    strip_sock(r, t->sock2);
    if (r->type == EPT_CLOSE && r->size >= sizeof(struct ept_close))
        ((struct ept_close *)r)->reason = EPT_CLOSE_CALL;
    if (r->type == EPT_CONNECT && r->size >= sizeof(struct ept_connect))
        ((struct ept_connect *)r)->backend = 0xffff;
}

/* Write the syscall-only version of trace in to out. Returns 0 or -errno. */
static inline int strip_trace(const char *in, const char *out)
{
    struct reader rd;
    char err[256];
    int rc = reader_open(&rd, in, err, sizeof(err));
    if (rc < 0)
        return rc;
    FILE *f = fopen(out, "wb");
    if (!f) {
        rc = -errno;
        reader_close(&rd);
        return rc;
    }
    struct ept_header h = rd.hdr;
    h.mode = EPT_MODE_NONE;
    h.listener_mode = EPT_MODE_NONE;
    uint8_t hb[EPT_HDR_FIXED];
    ept_header_encode(&h, "", 0, hb);
    fwrite(hb, 1, sizeof(hb), f);
    struct reader_block b;
    uint64_t off = rd.data_off;
    uint8_t *buf = NULL;
    while (reader_block(&rd, off, &b) > 0) {
        buf = realloc(buf, b.length);
        if (!buf) {
            rc = -ENOMEM;
            break;
        }
        memcpy(buf, rd.map + b.off, b.length);
        for (size_t p = 0; p < b.recs_len;) {
            struct ept_rec *r = (struct ept_rec *)(buf + EPT_BLOCK_HDR + p);
            p += r->size;
            if (r->type != EPT_PAD)
                strip_rec(r);
        }
        struct ept_block *bh = (struct ept_block *)buf;
        bh->crc = 0;
        bh->crc = crc32c(0, buf, b.length);
        fwrite(buf, 1, b.length, f);
        off += b.length;
    }
    free(buf);
    reader_close(&rd);
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    return rc;
}

#endif
