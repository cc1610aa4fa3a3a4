/* fuzz.h - what the fuzz targets (tests/fuzz_*.c) share: the libFuzzer entry points, and a
 * fixer that gives a mutated trace valid block and header CRCs, so that mutations reach the
 * record decoders and the analysis instead of stopping at the first checksum. */
#ifndef EPSCOPE_FUZZ_H
#define EPSCOPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "ept.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);

/* Recompute the header CRC and, for every block whose magic and length hold, its trailer,
 * record count and CRC, as the writer would have. Bytes that make no sense stay as they are:
 * the reader must still cope with them. */
static inline void fuzz_fix_crcs(uint8_t *p, size_t size)
{
    if (size < EPT_HDR_FIXED)
        return;
    struct ept_header h;
    memcpy(&h, p, sizeof(h));
    if (h.header_size < EPT_HDR_FIXED || h.header_size > size)
        return;
    uint32_t zero = 0;
    uint32_t crc = crc32c(0, p, offsetof(struct ept_header, crc));
    crc = crc32c(crc, &zero, 4);
    crc = crc32c(crc, p + EPT_HDR_FIXED, h.header_size - EPT_HDR_FIXED);
    memcpy(p + offsetof(struct ept_header, crc), &crc, 4);
    for (size_t off = h.header_size; off + EPT_BLOCK_HDR + EPT_BLOCK_TRAILER <= size;) {
        struct ept_block b;
        memcpy(&b, p + off, sizeof(b));
        if (b.magic != EPT_BLOCK_MAGIC || b.length % 8 ||
            b.length < EPT_BLOCK_HDR + EPT_BLOCK_TRAILER || b.length > size - off)
            return;
        uint8_t *recs = p + off + EPT_BLOCK_HDR;
        size_t len = b.length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER, pos = 0;
        uint32_t n = 0;
        while (pos + 8 <= len) {
            uint16_t type, sz;
            memcpy(&type, recs + pos, 2);
            memcpy(&sz, recs + pos + 2, 2);
            if (sz < 8 || sz % 8 || sz > len - pos)
                break;
            n += type != EPT_PAD;
            pos += sz;
        }
        b.nrec = n;
        uint32_t trailer[2] = {b.length, EPT_BLOCK_TAIL};
        memcpy(recs + len, trailer, sizeof(trailer));
        b.crc = 0;
        memcpy(p + off, &b, sizeof(b));
        crc = crc32c(0, p + off, offsetof(struct ept_block, crc));
        crc = crc32c(crc, &zero, 4);
        crc = crc32c(crc, p + off + offsetof(struct ept_block, first_ns),
                     b.length - offsetof(struct ept_block, first_ns));
        memcpy(p + off + offsetof(struct ept_block, crc), &crc, 4);
        off += b.length;
    }
}

#endif
