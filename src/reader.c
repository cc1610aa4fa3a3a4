/* reader.c - validating reader for .ept files over a read-only mmap. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "xmem.h"

/* CRC bytes the search for a good block after damage may spend beyond twice the file */
#define READER_BUDGET_EXTRA (2ull * EPT_BLOCK_MAX)

/* Checking ahead (reader_ahead): only for files at least this big, in a ring of this many
 * checked blocks; a waiting checker is woken when the ring is down to half full. */
#define AHEAD_MIN_BYTES (8u << 20)
#define AHEAD_SLOTS 8

/* One block the checker found whole and good, with its record offsets. */
struct ahead_slot {
    struct reader_block b;
    struct reader_offs offs;
};

/* The checker thread and the ring it fills: slots [taken, done) are checked and waiting,
 * the slot before `taken` is the block the reader returned last (its offsets still in use). */
struct reader_ahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const uint8_t *map;
    size_t len;
    uint64_t next;        /* checker: the next block's offset */
    uint64_t done, taken; /* blocks checked, blocks handed out (under mu) */
    int ended;            /* the checker met the end, or a block it leaves to reader_block */
    int quit;             /* the reader asks it to stop */
    int checker_waits, reader_waits;
    struct ahead_slot slot[AHEAD_SLOTS];
};

static void ahead_stop(struct reader *r);

static int map_file(struct reader *r, size_t len)
{
    if (r->map && r->len)
        munmap((void *)r->map, r->len);
    r->map = NULL;
    r->len = 0;
    if (len == 0)
        return 0;
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    r->map = p;
    r->len = len;
    return 0;
}

static int check_header(struct reader *r, char *err, size_t errlen)
{
    if (r->len == 0) {
        snprintf(err, errlen, "empty file, not an epscope trace");
        return -EPROTO;
    }
    /* A start of the magic, then the end of the file: a cut-off trace, however short. */
    if (r->len < EPT_HDR_FIXED && !memcmp(r->map, EPT_MAGIC, r->len < 8 ? r->len : 8)) {
        snprintf(err, errlen, "trace file too short: %zu bytes, its header is cut off", r->len);
        return -EPROTO;
    }
    if (r->len < EPT_HDR_FIXED || memcmp(r->map, EPT_MAGIC, 8) != 0) {
        /* Say why when it is recognisably a mangled trace. */
        if (r->len >= 4 && memcmp(r->map + 1, "EPT", 3) == 0)
            snprintf(err, errlen, "damaged trace header: the file went through a text-mode "
                                  "or 7-bit transfer (its CR/LF or high-bit bytes changed)");
        else
            snprintf(err, errlen, "not an epscope trace (no .ept magic at the start)");
        return -EPROTO;
    }
    memcpy(&r->hdr, r->map, sizeof(r->hdr));
    const struct ept_header *h = &r->hdr;
    if (h->byte_order != EPT_BYTE_ORDER) {
        snprintf(err, errlen, "trace written with another byte order (0x%08x)", h->byte_order);
        return -EPROTO;
    }
    if (h->version_major != EPT_VERSION_MAJOR) {
        snprintf(err, errlen, "trace format version %u.%u is not supported (this epscope "
                 "reads %u.x)", h->version_major, h->version_minor, EPT_VERSION_MAJOR);
        return -EPROTO;
    }
    if (h->header_size < EPT_HDR_FIXED || h->header_size % 8 ||
        h->config_len > h->header_size - EPT_HDR_FIXED || h->config_len > EPT_CONFIG_MAX) {
        snprintf(err, errlen, "corrupt trace header (header size %u, config %u bytes)",
                 h->header_size, h->config_len);
        return -EPROTO;
    }
    if (h->header_size > r->len) {
        snprintf(err, errlen, "trace file too short: %zu bytes, its header needs %u", r->len,
                 h->header_size);
        return -EPROTO;
    }
    uint32_t zero = 0, crc;
    crc = crc32c(0, r->map, offsetof(struct ept_header, crc));
    crc = crc32c(crc, &zero, 4);
    crc = crc32c(crc, r->map + EPT_HDR_FIXED, h->header_size - EPT_HDR_FIXED);
    if (crc != h->crc) {
        snprintf(err, errlen, "corrupt trace header (CRC mismatch)");
        return -EPROTO;
    }
    r->config = (const char *)r->map + EPT_HDR_FIXED;
    r->data_off = h->header_size;
    return 0;
}

int reader_open(struct reader *r, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int rc;

    memset(r, 0, sizeof(*r));
    /* O_NONBLOCK: a FIFO given as a trace would block open() until a writer came; this way
     * it opens at once and the check below refuses it. */
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (r->fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(r->fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(-rc));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(err, errlen, "%s is not a regular file (%s); a trace is a file", path,
                 S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                 : S_ISSOCK(st.st_mode) ? "a socket" : "a device");
        goto fail;
    }
    rc = map_file(r, (size_t)st.st_size);
    if (rc < 0) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(-rc));
        goto fail;
    }
    r->budget = 2 * (uint64_t)r->len + READER_BUDGET_EXTRA;
    rc = check_header(r, err, errlen);
    if (rc < 0) {
        char tmp[200];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
        goto fail;
    }
    return 0;
fail:
    reader_close(r);
    return rc;
}

int reader_refresh(struct reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) < 0)
        return -errno;
    if ((size_t)st.st_size <= r->len)
        return 0;
    ahead_stop(r); /* the mapping is about to move */
    r->budget += 2 * ((uint64_t)st.st_size - r->len);
    r->skip_from = 0; /* a good block may have come since */
    int rc = map_file(r, (size_t)st.st_size);
    if (rc < 0)
        return rc;
    r->config = (const char *)r->map + EPT_HDR_FIXED;
    if (r->stop == READER_TORN)
        r->stop = READER_OK; /* the torn block may be whole now */
    return 1;
}

void reader_close(struct reader *r)
{
    ahead_stop(r);
    if (r->map)
        munmap((void *)r->map, r->len);
    if (r->fd >= 0)
        close(r->fd);
    r->map = NULL;
    r->len = 0;
    r->fd = -1;
    free(r->offs.v);
    r->offs = (struct reader_offs){0};
}

static int bad(struct reader *r, uint64_t off, int kind, const char *why)
{
    r->stop = kind;
    r->stop_off = off;
    snprintf(r->why, sizeof(r->why), "%s", why);
    return -1;
}

/* Whether a block length field holds a length a block can have (not yet: fits the file). */
static inline int length_possible(uint32_t len)
{
    return len >= EPT_BLOCK_HDR + EPT_BLOCK_TRAILER && len % 8 == 0 && len <= EPT_BLOCK_MAX;
}

/* What is wrong with the block at off in map, whose length fits in the file, or NULL when it
 * is whole and good (then b is filled, its record offsets in o). Reads nothing else of the
 * reader: the checker thread runs it too. */
static const char *block_fault(const uint8_t *map, uint64_t off, struct reader_offs *o,
                               struct reader_block *b)
{
    const uint8_t *p = map + off;
    struct ept_block h;
    memcpy(&h, p, sizeof(h));
    uint32_t trailer[2];
    memcpy(trailer, p + h.length - EPT_BLOCK_TRAILER, sizeof(trailer));
    if (trailer[0] != h.length || trailer[1] != EPT_BLOCK_TAIL)
        return "block trailer does not match its header";
    uint32_t zero = 0;
    uint32_t crc = crc32c(0, p, offsetof(struct ept_block, crc));
    crc = crc32c(crc, &zero, 4);
    crc = crc32c(crc, p + offsetof(struct ept_block, first_ns),
                 h.length - offsetof(struct ept_block, first_ns));
    if (crc != h.crc)
        return "block CRC mismatch";
    /* Records must tile the block exactly; checked once here so iteration can trust it,
     * and where each starts kept, so that iteration need not walk them again. */
    const uint8_t *recs = p + EPT_BLOCK_HDR;
    size_t len = h.length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER, pos = 0;
    uint32_t n = 0;
    if (len / sizeof(struct ept_rec) + 1 > o->cap) { /* records other than PAD: >= 24 */
        o->cap = len / sizeof(struct ept_rec) + 1;
        free(o->v);
        o->v = xreallocarray(NULL, o->cap, sizeof(*o->v));
    }
    uint32_t *offs = o->v;
    while (pos < len) { /* len and pos are multiples of 8: 8 bytes are always there */
        uint16_t type, size;
        memcpy(&type, recs + pos, 2);
        memcpy(&size, recs + pos + 2, 2);
        /* 8 <= size <= len - pos in one unsigned compare (size < 8 wraps), as this loop runs
         * for every record of every block */
        if ((size_t)size - 8 > len - pos - 8 || size % 8 ||
            (size < sizeof(struct ept_rec) && type != EPT_PAD))
            return "a record has an impossible size";
        offs[n] = (uint32_t)pos; /* kept only when not PAD: the count moves on */
        n += type != EPT_PAD;
        pos += size;
    }
    if (n != h.nrec)
        return "block record count does not match";
    b->off = off;
    b->length = h.length;
    b->first_seq = h.first_seq;
    b->nrec = h.nrec;
    b->first_ns = h.first_ns;
    b->last_ns = h.last_ns;
    b->recs = recs;
    b->recs_len = len;
    b->offs = offs;
    return NULL;
}

/* A block whose length field says it runs past the end of the file is usually torn, but it
 * may be a whole block with a damaged length. Look for a trailer {L, "BTPE"} within the file
 * such that the block with length L passes the CRC the header holds: only a damaged length
 * field explains that. Each candidate's CRC is paid from r->budget, so a file crafted with a
 * trailer in every slot costs O(file size), not its square. */
static int length_damaged(struct reader *r, uint64_t off, size_t left, const struct ept_block *h)
{
    const uint8_t *p = r->map + off;
    size_t max = left < EPT_BLOCK_MAX ? left : EPT_BLOCK_MAX;
    for (size_t len = EPT_BLOCK_HDR + EPT_BLOCK_TRAILER; len <= max; len += 8) {
        uint32_t trailer[2];
        memcpy(trailer, p + len - EPT_BLOCK_TRAILER, sizeof(trailer));
        if (trailer[0] != len || trailer[1] != EPT_BLOCK_TAIL)
            continue;
        if (r->budget < len)
            return 0;
        r->budget -= len;
        struct ept_block fixed = *h;
        fixed.length = (uint32_t)len;
        fixed.crc = 0;
        uint32_t crc = crc32c(0, &fixed, sizeof(fixed));
        crc = crc32c(crc, p + EPT_BLOCK_HDR, len - EPT_BLOCK_HDR);
        if (crc == h->crc)
            return 1;
    }
    return 0;
}

/* The offset of the first good block after off into *next: 1, 0 when there is none, -1 when
 * the search ran out of budget. Only a block whose magic, length and trailer agree costs a
 * CRC, and those CRCs are paid from r->budget (a few times the file size in all), so damage
 * crafted to offer many candidates cannot make a reader quadratic. */
static int find_good(struct reader *r, uint64_t off, uint64_t *next)
{
    if (r->skip_from == off + 1) { /* asked again (reader_block, then reader_skip) */
        *next = r->skip_to;
        return r->skip_rc;
    }
    int rc = 0;
    for (uint64_t c = off + 8; c + EPT_BLOCK_HDR + EPT_BLOCK_TRAILER <= r->len; c += 8) {
        uint32_t w[2];
        memcpy(w, r->map + c, sizeof(w));
        if (w[0] != EPT_BLOCK_MAGIC || !length_possible(w[1]) || w[1] > r->len - c)
            continue;
        uint32_t t[2];
        memcpy(t, r->map + c + w[1] - EPT_BLOCK_TRAILER, sizeof(t));
        if (t[0] != w[1] || t[1] != EPT_BLOCK_TAIL)
            continue;
        if (r->budget < w[1]) {
            rc = -1;
            break;
        }
        r->budget -= w[1];
        struct reader_block b;
        if (!block_fault(r->map, c, &r->offs, &b)) {
            *next = c;
            rc = 1;
            break;
        }
    }
    r->skip_from = off + 1;
    r->skip_to = rc == 1 ? *next : 0;
    r->skip_rc = rc;
    return rc;
}

/* --- checking ahead --------------------------------------------------------------------- */

/* The checker: each block from a->next on that is whole and good goes into the ring, with
 * its record offsets; it stops at the end of the file, at the first block it cannot vouch
 * for (reader_block then judges that one itself), or when asked. */
static void *checker(void *arg)
{
    struct reader_ahead *a = arg;
    uint64_t off = a->next;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->quit && a->done - a->taken >= AHEAD_SLOTS - 1) {
            a->checker_waits = 1;
            pthread_cond_wait(&a->cv, &a->mu);
        }
        a->checker_waits = 0;
        if (a->quit)
            break;
        struct ahead_slot *sl = &a->slot[a->done % AHEAD_SLOTS];
        pthread_mutex_unlock(&a->mu);
        /* unlocked: the reader never touches a slot between taken and done, or this one */
        int good = 0;
        if (off < a->len && a->len - off >= EPT_BLOCK_HDR) {
            struct ept_block h;
            memcpy(&h, a->map + off, sizeof(h));
            good = h.magic == EPT_BLOCK_MAGIC && length_possible(h.length) &&
                   h.length <= a->len - off && !block_fault(a->map, off, &sl->offs, &sl->b);
        }
        pthread_mutex_lock(&a->mu);
        if (!good) {
            a->ended = 1;
            break;
        }
        off += sl->b.length;
        a->done++;
        if (a->reader_waits)
            pthread_cond_signal(&a->cv);
    }
    if (a->reader_waits)
        pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

void reader_ahead(struct reader *r)
{
    if (r->ahead || r->len < AHEAD_MIN_BYTES || r->stop != READER_OK)
        return;
    struct reader_ahead *a = calloc(1, sizeof(*a));
    if (!a)
        return;
    a->map = r->map;
    a->len = r->len;
    a->next = r->data_off;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    /* signals stay with the caller's thread (the viewer's SIGWINCH, ^C) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, checker, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return;
    }
    r->ahead = a;
}

/* Stop the checker and free its ring (the blocks it checked are simply checked again). */
static void ahead_stop(struct reader *r)
{
    struct reader_ahead *a = r->ahead;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    for (int i = 0; i < AHEAD_SLOTS; i++)
        free(a->slot[i].offs.v);
    free(a);
    r->ahead = NULL;
}

/* The block at off from the checker's ring into b: 1, or 0 when the checker has none for
 * off (it ended before it, or off is not the block it checked next): then it is stopped. */
static int ahead_take(struct reader *r, uint64_t off, struct reader_block *b)
{
    struct reader_ahead *a = r->ahead;
    pthread_mutex_lock(&a->mu);
    while (a->taken == a->done && !a->ended) {
        a->reader_waits = 1;
        pthread_cond_wait(&a->cv, &a->mu);
    }
    a->reader_waits = 0;
    int ok = a->taken < a->done && a->slot[a->taken % AHEAD_SLOTS].b.off == off;
    if (ok) {
        *b = a->slot[a->taken % AHEAD_SLOTS].b;
        a->taken++;
        if (a->checker_waits && a->done - a->taken <= AHEAD_SLOTS / 2)
            pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        ahead_stop(r);
    return ok;
}

int reader_block(struct reader *r, uint64_t off, struct reader_block *b)
{
    if (r->ahead && ahead_take(r, off, b))
        return 1;
    if (off >= r->len)
        return 0;
    size_t left = r->len - off;
    if (left < EPT_BLOCK_HDR)
        return bad(r, off, READER_TORN, "the file ends inside a block header");
    struct ept_block h;
    memcpy(&h, r->map + off, sizeof(h));
    if (h.magic != EPT_BLOCK_MAGIC)
        return bad(r, off, READER_CORRUPT, "no block magic");
    if (!length_possible(h.length))
        return bad(r, off, READER_CORRUPT, "impossible block length");
    if (h.length > left) {
        /* Usually torn (the writer was killed or is still writing); but when a good block
         * follows, this one's length field is damaged and the rest of the file is not lost. */
        uint64_t next;
        if (length_damaged(r, off, left, &h) || find_good(r, off, &next) == 1)
            return bad(r, off, READER_CORRUPT, "block length field damaged");
        return bad(r, off, READER_TORN, "the file ends inside a block");
    }
    const char *why = block_fault(r->map, off, &r->offs, b);
    if (why)
        return bad(r, off, READER_CORRUPT, why);
    return 1;
}

int reader_skip(struct reader *r, uint64_t off, uint64_t *next)
{
    if (r->stop != READER_CORRUPT || r->stop_off != off)
        return 0;
    int rc = find_good(r, off, next);
    if (rc < 0)
        snprintf(r->why, sizeof(r->why), "too much damage: gave up looking for a good block");
    if (rc <= 0)
        return 0;
    if (!r->ndamaged++) {
        r->damage_off = off;
        snprintf(r->damage_why, sizeof(r->damage_why), "%s", r->why);
    }
    r->damage_bytes += *next - off;
    r->stop = READER_OK;
    return 1;
}

int reader_config(const struct reader *r, const char *key, char *buf, size_t buflen)
{
    const char *p = r->config, *end = r->config + r->hdr.config_len;
    size_t klen = strlen(key);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) > klen && !memcmp(p, key, klen) && p[klen] == '=') {
            size_t n = (size_t)(eol - p) - klen - 1;
            if (buflen) {
                size_t c = n < buflen - 1 ? n : buflen - 1;
                memcpy(buf, p + klen + 1, c);
                buf[c] = 0;
            }
            return (int)n;
        }
        p = eol + 1;
    }
    return -1;
}

int reader_walk(struct reader *r, int (*fn)(const struct ept_rec *, void *),
                int (*damage)(const struct reader *, uint64_t, uint64_t, void *), void *arg)
{
    struct reader_block b;
    uint64_t off = r->data_off, next;
    int rc;
    reader_ahead(r);
    while ((rc = reader_block(r, off, &b)) != 0) {
        if (rc < 0) {
            if (!reader_skip(r, off, &next))
                break;
            int v = damage ? damage(r, off, next, arg) : 0; /* r->why still says what */
            if (v)
                return v;
            off = next;
            continue;
        }
        size_t pos = 0;
        const struct ept_rec *rec;
        while ((rec = reader_next_rec(&b, &pos))) {
            int v = fn(rec, arg);
            if (v)
                return v;
        }
        off += b.length;
    }
    return 0;
}

int reader_each(struct reader *r, int (*fn)(const struct ept_rec *, void *), void *arg)
{
    return reader_walk(r, fn, NULL, arg);
}
