/* crc32c.c - CRC-32C: slicing-by-8 in software, the SSE4.2 instruction where present. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u /* Castagnoli, reflected */

static uint32_t table[8][256];
static int have_hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static void init_hw_tables(void);
#endif

static void init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
    have_hw = __builtin_cpu_supports("sse4.2");
    if (have_hw)
        init_hw_tables();
#endif
}

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    pthread_once(&once, init_table);
    crc = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        b += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *b++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* The crc32 instruction takes 3 cycles but can start one every cycle: three independent
 * streams over three consecutive chunks keep it busy, and the three results are joined
 * with "shift by L zero bytes", a linear map on 32-bit values applied by table lookups:
 *
 *   crc(r, A|B|C) = Z2L(crc(r, A)) ^ ZL(crc(0, B)) ^ crc(0, C)      (|A| = |B| = |C| = L)
 *
 * (on the raw register, before the final inversion). The tables are built at start-up by
 * running zero bytes through the instruction once per bit. */
#define LONG 8192
#define SHORT 256

static uint32_t zlong[2][4][256], zshort[2][4][256]; /* [0]: Z_L, [1]: Z_2L */

__attribute__((target("sse4.2"))) static uint32_t zeros_hw(uint32_t c, size_t n)
{
    uint64_t r = c;
    for (size_t i = 0; i < n; i += 8)
        r = _mm_crc32_u64(r, 0);
    return (uint32_t)r;
}

/* Tables applying x -> (x run through n zero bytes) a byte at a time. */
static void zeros_table(uint32_t t[4][256], size_t n)
{
    uint32_t col[32];
    for (int i = 0; i < 32; i++)
        col[i] = zeros_hw(1u << i, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t byte = 0; byte < 256; byte++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (byte & (1u << j))
                    v ^= col[8 * k + j];
            t[k][byte] = v;
        }
}

static void init_hw_tables(void)
{
    zeros_table(zlong[0], LONG);
    zeros_table(zlong[1], 2 * LONG);
    zeros_table(zshort[0], SHORT);
    zeros_table(zshort[1], 2 * SHORT);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t x)
{
    return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
}

/* Three streams over chunks of len bytes at b, as long as 3 * len remain. */
__attribute__((target("sse4.2"))) static uint64_t three_way(uint64_t c, const uint8_t **pb,
                                                            size_t *pn, size_t len,
                                                            uint32_t z[2][4][256])
{
    const uint8_t *b = *pb;
    size_t n = *pn;
    while (n >= 3 * len) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < len; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, b + i, 8);
            memcpy(&w1, b + len + i, 8);
            memcpy(&w2, b + 2 * len + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = shift(z[1], (uint32_t)c) ^ shift(z[0], (uint32_t)c1) ^ (uint32_t)c2;
        b += 3 * len;
        n -= 3 * len;
    }
    *pb = b;
    *pn = n;
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p,
                                                             size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    c = three_way(c, &b, &n, LONG, zlong);
    c = three_way(c, &b, &n, SHORT, zshort);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c = _mm_crc32_u64(c, w);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *b++);
    return ~c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
#if defined(__x86_64__)
    pthread_once(&once, init_table);
    if (have_hw)
        return crc32c_hw(crc, p, n);
#endif
    return crc32c_sw(crc, p, n);
}
