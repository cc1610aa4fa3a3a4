/* bench_ring.c - what recording costs: producer ns per record with the flusher writing a real
 * file, records per second end to end, and records lost with the default 4 MiB ring. Built by
 * `make bench`, not run by `make test`. Each figure is the median of ROUNDS rounds.
 * usage: bench_ring [RECORDS_PER_ROUND]   (files go to $TMPDIR, default /tmp, and are removed) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ept.h"
#include "trace.h"

#define ROUNDS 5

static double now_s(void)
{
    return (double)trace_now() / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct trace *start(const char *path)
{
    struct trace_opts o = {.path = path, .force = 1, .preview = TRACE_PREVIEW_DEFAULT,
                           .mode = EPT_MODE_EDGE, .listener_mode = EPT_MODE_LEVEL,
                           .config = "bench=1\n"};
    struct trace *t;
    char err[256];
    if (trace_open(&t, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_ring: %s\n", err);
        exit(1);
    }
    return t;
}

static const struct ept_sock sock = {.fd = 8, .sid = 5, .conn = 2, .role = EPT_ROLE_CLIENT};
static uint8_t payload[64];

/* The records a busy proxy writes most: a read with a 64-byte preview and a ready event. */
static void one(struct trace *t, uint64_t i)
{
    if (i & 1)
        trace_io(t, EPT_READ, &sock, 16384, 64, payload);
    else
        trace_event(t, EPT_READY, &sock, EPOLLIN, (uint32_t)(i & 63));
}

struct round {
    double ns_per_rec;   /* producer side */
    double written_per_s; /* records that reached the file, per second, until all were on disk */
    double lost;
    double bytes_per_s;  /* file bytes per second, header included */
};

/* Flat out: n records as fast as the producer can go. */
static struct round flat_out(const char *path, uint64_t n)
{
    struct trace *t = start(path);
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        one(t, i);
    double t1 = now_s();
    struct trace_stats st;
    if (trace_finish(t, &st) < 0) {
        fprintf(stderr, "bench_ring: write error %d\n", st.write_error);
        exit(1);
    }
    double t2 = now_s();
    struct round r = {
        .ns_per_rec = (t1 - t0) * 1e9 / (double)n,
        .written_per_s = (double)(st.records - st.lost) / (t2 - t0),
        .lost = (double)st.lost,
        .bytes_per_s = (double)st.bytes / (t2 - t0),
    };
    return r;
}

/* Paced: rate records per second for secs seconds (in bursts every 100 us); returns lost. */
static double paced(const char *path, double rate, double secs, double *produced)
{
    struct trace *t = start(path);
    double t0 = now_s(), end = t0 + secs;
    uint64_t i = 0;
    for (double now = t0; now < end; now = now_s()) {
        uint64_t due = (uint64_t)((now - t0) * rate);
        while (i < due)
            one(t, i++);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    struct trace_stats st;
    trace_finish(t, &st);
    *produced = (double)i;
    return (double)st.lost;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    if (n < 1000)
        n = 1000;
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/epscope-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_ring: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.ept", dir);
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)("GET / HTTP/1.1\r\nHost: x\r\n"[i % 26]);

    double ns[ROUNDS], rate[ROUNDS], lost[ROUNDS], bytes[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        struct round r = flat_out(path, n);
        ns[k] = r.ns_per_rec;
        rate[k] = r.written_per_s;
        lost[k] = r.lost;
        bytes[k] = r.bytes_per_s;
    }
    double mrate = median(rate, ROUNDS);
    printf("ring producer: %.1f ns/record (trace_io 64-byte preview + trace_event, flusher "
           "writing; median of %d x %llu)\n", median(ns, ROUNDS), ROUNDS, (unsigned long long)n);
    printf("ring end to end: %.2f M records/s reach the file (%.0f MB/s, 4 MiB ring, until "
           "trace_finish returns)\n", mrate / 1e6, median(bytes, ROUNDS) / 1e6);
    printf("ring lost flat out: %.0f of %llu records (%.1f%%, 4 MiB ring, producer never "
           "pauses)\n", median(lost, ROUNDS), (unsigned long long)n,
           100.0 * median(lost, ROUNDS) / (double)n);
    /* Paced: at a busy proxy's rates and near the file side's limit, does the 4 MiB ring
     * absorb the flusher's naps and write stalls? */
    double rates[] = {1e6, 5e6, mrate * 0.9};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        double plost[3], produced = 0;
        for (int k = 0; k < 3; k++)
            plost[k] = paced(path, rates[i], 0.5, &produced);
        printf("ring lost paced: %.0f of %.0f records at %.2f M records/s (0.5 s, 4 MiB ring, "
               "median of 3)\n", median(plost, 3), produced, rates[i] / 1e6);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}
