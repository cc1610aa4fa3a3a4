/* reader.h - reads .ept trace files: validates the header, walks CRC-checked blocks and
 * their records from a read-only mapping; skips a corrupt block to the next good one (counted
 * as damage) and stops cleanly at a torn block. */
#ifndef EPSCOPE_READER_H
#define EPSCOPE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ept.h"

/* Why reading stopped (reader.stop). */
enum reader_stop {
    READER_OK = 0,        /* not stopped yet / reached the end of complete blocks */
    READER_TORN = 1,      /* the file ends inside a block (writer killed, or still writing) */
    READER_CORRUPT = 2,   /* a block failed its checks (CRC, length, magic, records) */
};

/* Where each record of a checked block starts (the room grows to the largest block). */
struct reader_offs {
    uint32_t *v;
    size_t cap;
};

struct reader_ahead;

struct reader {
    int fd;
    const uint8_t *map;
    size_t len;               /* bytes mapped (the file size when mapped) */
    struct ept_header hdr;
    const char *config;       /* config text (not NUL-terminated), hdr.config_len bytes */
    uint64_t data_off;        /* first block */
    int stop;                 /* READER_*, set by reader_block */
    uint64_t stop_off;        /* where the bad or torn block starts */
    char why[128];            /* what was wrong with it */
    /* damage skipped: corrupt blocks with a good block after them (reader_skip) */
    uint64_t ndamaged;        /* damaged regions skipped */
    uint64_t damage_off;      /* where the first starts */
    uint64_t damage_bytes;    /* bytes skipped in all */
    char damage_why[128];     /* what was wrong with the first */
    uint64_t budget;          /* CRC bytes the search for good blocks may still spend */
    uint64_t skip_from, skip_to; /* the last search: from offset + 1 (0: none), result */
    int skip_rc;
    struct reader_offs offs;    /* the last block checked here: where each record starts */
    struct reader_ahead *ahead; /* the checker thread (reader_ahead), NULL: none */
};

struct reader_block {
    uint64_t off;             /* of the block in the file */
    uint32_t length;
    uint64_t first_seq;
    uint32_t nrec;
    uint64_t first_ns, last_ns;
    const uint8_t *recs;      /* records */
    size_t recs_len;
    const uint32_t *offs; /* the offset in recs of each of its nrec records (PAD records
                                 left out), found while checking it: valid until the next
                                 reader_block() or reader_refresh() */
};

/* Open and map path, check its header. Returns 0, or -errno with one line in err (not a
 * trace, unsupported version, unreadable...). */
int reader_open(struct reader *r, const char *path, char *err, size_t errlen);
/* Map again if the file grew (a trace still being written). Returns 1 if it grew, 0 if
 * not, -errno on failure. */
int reader_refresh(struct reader *r);
void reader_close(struct reader *r);

/* On a big file, check the blocks from the start in a second thread, ahead of the calls to
 * reader_block() that then take them checked: the CRC pass and the first touch of the
 * mapping's pages leave the caller's thread, which is left with the records. Only for a
 * reader walking its blocks in order from r->data_off; anything else (damage, a block out of
 * order, the end) makes reader_block() stop the thread and go on by itself, with the same
 * results. A no-op on a small file or when a thread cannot be made. */
void reader_ahead(struct reader *r);

/* Read the block at file offset off. Returns 1 with b filled, 0 at the clean end (off is the
 * end of the mapped file), or -1 when the block is torn or corrupt (r->stop, r->stop_off
 * and r->why then say so). The next block is at off + b->length. */
int reader_block(struct reader *r, uint64_t off, struct reader_block *b);

/* After reader_block() found the block at off corrupt, find the next good block: returns 1
 * with its offset in *next (the damage is counted in r->ndamaged, r->damage_bytes; r->stop is
 * READER_OK again), or 0 when no good block follows (r->stop stays READER_CORRUPT). The
 * search costs O(file size) over the life of the reader, whatever the damage. */
int reader_skip(struct reader *r, uint64_t off, uint64_t *next);

/* Whether the trace could not be read whole because of damage (a corrupt block skipped, or
 * one that ends the reading): a torn end is not damage. */
static inline int reader_damaged(const struct reader *r)
{
    return r->ndamaged || r->stop == READER_CORRUPT;
}

/* The record at *pos within b and advance *pos, or NULL after the last one. Records of
 * unknown type are returned too (callers skip them by type); PAD records are skipped.
 * Inline: it is the loop every reader runs over every record. reader_block() checked that
 * the records tile the block exactly, so this trusts their sizes. */
static inline const struct ept_rec *reader_next_rec(const struct reader_block *b, size_t *pos)
{
    while (*pos < b->recs_len) {
        const struct ept_rec *rec = (const void *)(b->recs + *pos);
        if (rec->size < 8) { /* the mapping changed under us (a file cut short): stop */
            *pos = b->recs_len;
            return NULL;
        }
        *pos += rec->size;
        if (rec->type != EPT_PAD)
            return rec;
    }
    return NULL;
}

/* A value from the header's config text ("key=value" lines) into buf; returns its length,
 * or -1 when absent. */
int reader_config(const struct reader *r, const char *key, char *buf, size_t buflen);

/* Walk every complete record from the start, calling fn(rec, arg) until it returns
 * non-zero (then that value is returned). Returns 0 after the last complete record. A
 * corrupt block with a good one after it is skipped (see reader_skip). */
int reader_each(struct reader *r, int (*fn)(const struct ept_rec *, void *), void *arg);
/* reader_each, and damage(r, off, next, arg) for each damaged region skipped: from off to
 * next, r->why saying what was wrong (NULL: skip silently). A non-zero return stops the
 * walk and is returned. */
int reader_walk(struct reader *r, int (*fn)(const struct ept_rec *, void *),
                int (*damage)(const struct reader *, uint64_t, uint64_t, void *), void *arg);

#endif
