/* test_ring.c - the SPSC record ring: sizes, wrap-around with PAD records, exactly-full,
 * records of every size against a model queue, and a two-thread producer/consumer stress. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "ept.h"
#include "ring.h"

/* The test records: the ept_rec header (type, size, seq) and a payload derived from seq. */
struct trec {
    uint16_t type;
    uint16_t size;
    uint32_t reserved;
    uint64_t seq;
};

static uint8_t pattern(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 131 + i * 7 + (seq >> 8));
}

static void fill(void *p, uint32_t size, uint64_t seq)
{
    struct trec *h = p;
    h->type = 1;
    h->size = (uint16_t)size;
    h->reserved = 0;
    h->seq = seq;
    uint8_t *b = p;
    for (size_t i = sizeof(*h); i < size; i++)
        b[i] = pattern(seq, i);
}

/* 1 when the record at p is exactly what fill(p, size, seq) wrote. */
static int intact(const void *p, uint32_t size, uint64_t seq)
{
    const struct trec *h = p;
    if (h->type != 1 || h->size != size || h->seq != seq)
        return 0;
    const uint8_t *b = p;
    for (size_t i = sizeof(*h); i < size; i++)
        if (b[i] != pattern(seq, i))
            return 0;
    return 1;
}

static int push(struct ring *r, uint32_t size, uint64_t seq)
{
    void *p = ring_reserve(r, size);
    if (!p)
        return 0;
    fill(p, size, seq);
    ring_commit(r);
    return 1;
}

static int ring_setup(void **state)
{
    struct ring *r = aligned_alloc(64, sizeof(struct ring));
    if (!r || ring_init(r, RING_MIN_SIZE) < 0)
        return -1;
    *state = r;
    return 0;
}

static int ring_teardown(void **state)
{
    struct ring *r = *state;
    ring_free(r);
    free(r);
    return 0;
}

static void test_ring_init_sizes(void **state)
{
    (void)state;
    struct ring r;
    assert_int_equal(ring_init(&r, 0), -EINVAL);
    assert_int_equal(ring_init(&r, RING_MIN_SIZE / 2), -EINVAL);
    assert_int_equal(ring_init(&r, RING_MIN_SIZE + 8), -EINVAL);
    assert_int_equal(ring_init(&r, 3 * RING_MIN_SIZE), -EINVAL);
    assert_int_equal(ring_init(&r, (size_t)RING_MAX_SIZE * 2), -EINVAL);
    assert_int_equal(ring_init(&r, RING_MIN_SIZE), 0);
    assert_int_equal(r.size, RING_MIN_SIZE);
    assert_int_equal(ring_used(&r), 0);
    const uint8_t *p;
    assert_int_equal(ring_peek(&r, &p), 0);
    ring_free(&r);
    ring_free(&r); /* a second free is harmless */
    assert_int_equal(ring_init(&r, 1u << 20), 0);
    ring_free(&r);
}

/* A record that does not fit before the end gets a PAD covering the rest of the buffer and
 * starts again at offset 0, intact. */
static void test_ring_wrap_around(void **state)
{
    struct ring *r = *state;
    const uint8_t *p;
    uint64_t seq = 1;

    for (int i = 0; i < 4; i++) /* 4 x 1000 = 4000 bytes: 96 left before the end */
        assert_true(push(r, 1000, seq++));
    assert_int_equal(ring_used(r), 4000);
    /* consume them all, so the ring is empty but the head sits at offset 4000 */
    size_t n = ring_peek(r, &p);
    assert_int_equal(n, 4000);
    for (uint64_t s = 1; s <= 4; s++)
        assert_true(intact(p + (s - 1) * 1000, 1000, s));
    ring_release(r, n);
    assert_int_equal(ring_used(r), 0);

    assert_true(push(r, 1000, seq)); /* crosses the end: PAD of 96, record at 0 */
    assert_int_equal(ring_used(r), 96 + 1000);
    n = ring_peek(r, &p);
    assert_int_equal(n, 96);
    assert_ptr_equal(p, r->buf + 4000);
    uint16_t hdr[2];
    memcpy(hdr, p, sizeof(hdr));
    assert_int_equal(hdr[0], EPT_PAD);
    assert_int_equal(hdr[1], 96);
    ring_release(r, n);
    n = ring_peek(r, &p);
    assert_int_equal(n, 1000);
    assert_ptr_equal(p, r->buf);
    assert_true(intact(p, 1000, seq));
    ring_release(r, n);
    assert_int_equal(ring_used(r), 0);
    assert_int_equal(ring_peek(r, &p), 0);
}

/* A record ending exactly at the end of the buffer needs no PAD. */
static void test_ring_exact_end_no_pad(void **state)
{
    struct ring *r = *state;
    const uint8_t *p;
    assert_true(push(r, 4000, 1));
    ring_release(r, ring_peek(r, &p));
    assert_true(push(r, 96, 2)); /* [4000, 4096) */
    assert_true(push(r, 64, 3)); /* [0, 64) */
    size_t n = ring_peek(r, &p);
    assert_int_equal(n, 96);
    assert_true(intact(p, 96, 2));
    ring_release(r, n);
    n = ring_peek(r, &p);
    assert_int_equal(n, 64);
    assert_true(intact(p, 64, 3));
    ring_release(r, n);
}

/* Filled to the last byte the ring refuses even the smallest record; one release makes
 * exactly that much room again. */
static void test_ring_exactly_full(void **state)
{
    struct ring *r = *state;
    const uint8_t *p;
    for (uint64_t s = 1; s <= 8; s++)
        assert_true(push(r, 512, s));
    assert_int_equal(ring_used(r), RING_MIN_SIZE);
    assert_null(ring_reserve(r, 8));
    assert_null(ring_reserve(r, 512));

    size_t n = ring_peek(r, &p);
    assert_int_equal(n, RING_MIN_SIZE);
    assert_true(intact(p, 512, 1));
    ring_release(r, 512); /* only the first record */
    assert_null(ring_reserve(r, 520)); /* one byte-group more than was freed */
    assert_true(push(r, 512, 9));
    assert_int_equal(ring_used(r), RING_MIN_SIZE);
    assert_null(ring_reserve(r, 8));

    /* the rest come out in order, the new one last, from offset 0 */
    n = ring_peek(r, &p);
    assert_int_equal(n, RING_MIN_SIZE - 512);
    for (uint64_t s = 2; s <= 8; s++)
        assert_true(intact(p + (s - 2) * 512, 512, s));
    ring_release(r, n);
    n = ring_peek(r, &p);
    assert_int_equal(n, 512);
    assert_true(intact(p, 512, 9));
    ring_release(r, n);
    assert_int_equal(ring_used(r), 0);
}

/* Room at the end too small and room at the start too small: the reserve fails without
 * writing a PAD or moving anything, and succeeds once the consumer frees enough. */
static void test_ring_full_with_pad_needed(void **state)
{
    struct ring *r = *state;
    const uint8_t *p;
    assert_true(push(r, 2048, 1));
    assert_true(push(r, 1024, 2));
    assert_true(push(r, 512, 3)); /* head at 3584: 512 left before the end */
    ring_release(r, 2048);        /* tail at 2048: 2560 free, but only 512 + 2048 */
    assert_null(ring_reserve(r, 2056)); /* 512 pad + 2056 > 2560 */
    assert_int_equal(ring_used(r), 1536);
    void *q = ring_reserve(r, 2048); /* 512 pad + 2048 = 2560: exactly fits */
    assert_non_null(q);
    assert_ptr_equal(q, r->buf);
    fill(q, 2048, 4);
    ring_commit(r);
    assert_int_equal(ring_used(r), RING_MIN_SIZE);
    size_t n = ring_peek(r, &p);
    assert_int_equal(n, 2048); /* records 2, 3 and the PAD up to the end */
    assert_true(intact(p, 1024, 2));
    assert_true(intact(p + 1024, 512, 3));
    assert_int_equal(((const uint16_t *)(p + 1536))[0], EPT_PAD);
    assert_int_equal(((const uint16_t *)(p + 1536))[1], 512);
    ring_release(r, n);
    n = ring_peek(r, &p);
    assert_int_equal(n, 2048);
    assert_true(intact(p, 2048, 4));
    ring_release(r, n);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Consume whatever is committed, checking records against the expected sizes; returns the
 * number of records seen. PADs must run exactly to the end of the buffer. */
static uint64_t drain(struct ring *r, uint64_t *next_seq, const uint32_t *sizes, uint64_t max,
                      int partial)
{
    const uint8_t *p;
    size_t n;
    uint64_t got = 0;
    while ((n = ring_peek(r, &p)) > 0) {
        size_t off = 0;
        while (off < n) {
            const struct trec *h = (const void *)(p + off);
            if (h->type == EPT_PAD) {
                assert_ptr_equal(p + off + h->size, r->buf + r->size);
                off += h->size;
                continue;
            }
            assert_true(*next_seq < max);
            if (!intact(h, sizes[*next_seq], *next_seq))
                fail_msg("record %llu: seq %llu size %u, want size %u",
                         (unsigned long long)*next_seq, (unsigned long long)h->seq, h->size,
                         sizes[*next_seq]);
            off += h->size;
            (*next_seq)++;
            got++;
            if (partial && (rng() & 3) == 0)
                break; /* release only part of what is there */
        }
        assert_true(off <= n);
        ring_release(r, off);
        if (partial && off < n)
            return got;
    }
    return got;
}

/* Every record size from 16 (a test header) to 2048 bytes (half the ring), pushed and
 * consumed in random interleavings, comes out in order and intact (a model of expected sizes
 * checks each one). */
static void test_ring_many_sizes(void **state)
{
    struct ring *r = *state;
    enum { N = 200000 };
    uint32_t *sizes = malloc(N * sizeof(*sizes));
    assert_non_null(sizes);
    for (uint64_t i = 0; i < N; i++) {
        /* A record of more than half the ring may never fit (its PAD plus itself can exceed
         * the ring even when empty), so sizes go up to half: 16..2048. */
        if (i < 255)
            sizes[i] = (uint32_t)(i + 2) * 8; /* first every size in turn */
        else
            sizes[i] = (uint32_t)((rng() % ((rng() & 7) ? 32 : 255)) + 2) * 8;
    }
    uint64_t next_push = 0, next_pop = 0;
    while (next_pop < N) {
        int burst = (int)(rng() % 8), full = 0;
        for (int k = 0; k < burst && next_push < N; k++) {
            if (!push(r, sizes[next_push], next_push)) {
                full = 1;
                break;
            }
            next_push++;
        }
        assert_true(ring_used(r) <= r->size);
        if (full || next_push == N)
            drain(r, &next_pop, sizes, next_push, 0); /* make room: consume everything */
        else if (rng() & 1)
            drain(r, &next_pop, sizes, next_push, 1);
    }
    assert_int_equal(next_push, N);
    assert_int_equal(ring_used(r), 0);
    free(sizes);
}

/* The largest record the API allows fits a ring big enough for it. */
static void test_ring_max_record(void **state)
{
    (void)state;
    struct ring *r = aligned_alloc(64, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(ring_init(r, 1u << 17), 0);
    const uint8_t *p;
    for (uint64_t s = 1; s <= 10; s++) {
        assert_true(push(r, 65528, s));
        size_t n;
        while ((n = ring_peek(r, &p)) > 0) {
            if (((const uint16_t *)p)[0] == EPT_PAD) {
                ring_release(r, n);
                continue;
            }
            assert_int_equal(n, 65528);
            assert_true(intact(p, 65528, s));
            ring_release(r, n);
        }
    }
    ring_free(r);
    free(r);
}

/* --- two threads ---------------------------------------------------------------------- */

struct stress {
    struct ring *r;
    uint64_t max;          /* records to push at most */
    double seconds;        /* or until this much time has passed */
    _Atomic uint64_t pushed;
    _Atomic int done;      /* the producer finished; pushed is final */
    uint64_t full_spins;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t stress_size(uint64_t seq)
{
    uint64_t x = seq * 0x9E3779B97F4A7C15ull;
    /* mostly small like real records, sometimes up to 1 KiB */
    return (uint32_t)(((x >> 60) == 0 ? (x >> 20) % 128 : (x >> 20) % 12) + 2) * 8;
}

static void *stress_producer(void *arg)
{
    struct stress *s = arg;
    double end = now_s() + s->seconds;
    uint64_t seq = 0;
    while (seq < s->max) {
        if ((seq & 0xffff) == 0 && now_s() > end)
            break;
        uint32_t size = stress_size(seq);
        void *p = ring_reserve(s->r, size);
        if (!p) {
            s->full_spins++;
            sched_yield();
            continue;
        }
        fill(p, size, seq);
        ring_commit(s->r);
        seq++;
    }
    atomic_store(&s->pushed, seq);
    atomic_store(&s->done, 1);
    return NULL;
}

static void test_ring_two_thread_stress(void **state)
{
    (void)state;
    struct ring *r = aligned_alloc(64, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(ring_init(r, 1u << 16), 0);
    struct stress s = {.r = r, .max = 20u * 1000 * 1000, .seconds = 2.5};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stress_producer, &s), 0);

    uint64_t next = 0, pads = 0;
    for (;;) {
        int done = atomic_load(&s.done);
        const uint8_t *p;
        size_t n = ring_peek(r, &p);
        if (!n) {
            if (done && next == atomic_load(&s.pushed))
                break;
            sched_yield();
            continue;
        }
        size_t off = 0;
        while (off < n) {
            const struct trec *h = (const void *)(p + off);
            if (h->type == EPT_PAD) {
                assert_ptr_equal(p + off + h->size, r->buf + r->size);
                pads++;
            } else if (!intact(h, stress_size(next), next)) {
                fail_msg("record %llu damaged or out of order (seq %llu, size %u)",
                         (unsigned long long)next, (unsigned long long)h->seq, h->size);
            } else {
                next++;
            }
            off += h->size;
        }
        assert_int_equal(off, n);
        ring_release(r, n);
    }
    pthread_join(th, NULL);
    assert_int_equal(next, s.pushed);
    assert_true(s.pushed > 100000); /* it really ran */
    assert_true(pads > 0);          /* and really wrapped */
    print_message("      %llu records through a 64 KiB ring, %llu wraps, %llu full spins\n",
                  (unsigned long long)s.pushed, (unsigned long long)pads,
                  (unsigned long long)s.full_spins);
    ring_free(r);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_init_sizes),
        cmocka_unit_test_setup_teardown(test_ring_wrap_around, ring_setup, ring_teardown),
        cmocka_unit_test_setup_teardown(test_ring_exact_end_no_pad, ring_setup, ring_teardown),
        cmocka_unit_test_setup_teardown(test_ring_exactly_full, ring_setup, ring_teardown),
        cmocka_unit_test_setup_teardown(test_ring_full_with_pad_needed, ring_setup,
                                        ring_teardown),
        cmocka_unit_test_setup_teardown(test_ring_many_sizes, ring_setup, ring_teardown),
        cmocka_unit_test(test_ring_max_record),
        cmocka_unit_test(test_ring_two_thread_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
