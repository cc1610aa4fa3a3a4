/* test_crc32c.c - CRC-32C: published vectors, hardware and software agreeing on every length
 * and alignment, and incremental computation matching one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* A bit-at-a-time reference straight from the definition (reflected polynomial 0x82F63B78),
 * so the table-driven and SSE4.2 versions are checked against something independent. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

static void test_crc32c_known_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint32_t crc;
    } v[] = {
        {"", 0x00000000u},
        {"a", 0xC1D04330u},
        {"abc", 0x364B3FB7u},
        {"123456789", 0xE3069283u},
        {"The quick brown fox jumps over the lazy dog", 0x22620404u},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = strlen(v[i].s);
        assert_int_equal(crc32c(0, v[i].s, n), v[i].crc);
        assert_int_equal(crc32c_sw(0, v[i].s, n), v[i].crc);
        assert_int_equal(crc32c_ref(0, (const uint8_t *)v[i].s, n), v[i].crc);
    }
}

/* RFC 3720 (iSCSI) appendix B.4 test patterns. */
static void test_crc32c_rfc3720_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
    assert_int_equal(crc32c_sw(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
    assert_int_equal(crc32c_sw(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(crc32c_sw(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(crc32c_sw(0, buf, 32), 0x113FDB5Cu);
}

/* Every length 0..300 at every start alignment 0..15: the dispatching crc32c (hardware when
 * the CPU has SSE4.2), the software one and the bit-wise reference all agree. */
static void test_crc32c_hw_sw_agree(void **state)
{
    (void)state;
    uint8_t *buf = malloc(300 + 16);
    assert_non_null(buf);
    for (int round = 0; round < 4; round++) {
        fill_random(buf, 300 + 16);
        for (size_t align = 0; align < 16; align++) {
            for (size_t n = 0; n <= 300; n++) {
                uint32_t seed = round & 1 ? (uint32_t)rng() : 0;
                uint32_t want = crc32c_ref(seed, buf + align, n);
                assert_int_equal(crc32c_sw(seed, buf + align, n), want);
                assert_int_equal(crc32c(seed, buf + align, n), want);
            }
        }
    }
    free(buf);
}

/* Splitting a buffer at any point and chaining the CRC gives the one-shot value. */
static void test_crc32c_incremental(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint8_t *buf = malloc(N);
    assert_non_null(buf);
    fill_random(buf, N);
    uint32_t whole = crc32c(0, buf, N);
    assert_int_equal(crc32c_sw(0, buf, N), whole);
    for (size_t cut = 0; cut <= N; cut += 7) {
        assert_int_equal(crc32c(crc32c(0, buf, cut), buf + cut, N - cut), whole);
        assert_int_equal(crc32c_sw(crc32c_sw(0, buf, cut), buf + cut, N - cut), whole);
        /* mixed: software for the first part, dispatching for the rest */
        assert_int_equal(crc32c(crc32c_sw(0, buf, cut), buf + cut, N - cut), whole);
    }
    /* byte by byte */
    uint32_t c = 0;
    for (size_t i = 0; i < N; i++)
        c = crc32c(c, buf + i, 1);
    assert_int_equal(c, whole);
    free(buf);
}

/* A single flipped bit anywhere changes the CRC (what the trace reader relies on). */
static void test_crc32c_detects_bit_flips(void **state)
{
    (void)state;
    uint8_t buf[256];
    fill_random(buf, sizeof(buf));
    uint32_t good = crc32c(0, buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(crc32c(0, buf, sizeof(buf)), good);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_rfc3720_vectors),
        cmocka_unit_test(test_crc32c_hw_sw_agree),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_crc32c_detects_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
