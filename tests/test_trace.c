/* test_trace.c - the recorder and the reader together: every record type round trip, ring
 * overflow and lost records, file creation rules, truncation at every byte, a flipped byte
 * anywhere, a file from a newer minor version, garbage input, following a growing file,
 * checking ahead in a second thread.
 *
 * Also a helper for tests/it_dump.sh: with EPSCOPE_WRITE_SAMPLE=PATH in the environment this
 * program writes a sample trace holding every record type to PATH (never over an existing
 * file) and exits 0 instead of running the tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "ept.h"
#include "reader.h"
#include "ring.h"
#include "trace.h"

#include "fixture.h" /* struct fx, fx_setup, fx_teardown, fx_path */

/* --- helpers --------------------------------------------------------------------------- */

static struct trace *open_trace(const char *path, size_t ring, uint16_t preview,
                                const char *config)
{
    struct trace_opts o = {.path = path, .ring_size = ring, .preview = preview,
                           .mode = EPT_MODE_EDGE, .listener_mode = EPT_MODE_LEVEL,
                           .config = config};
    struct trace *t = NULL;
    char err[256] = "";
    int rc = trace_open(&t, &o, err, sizeof(err));
    if (rc < 0)
        fail_msg("trace_open %s: %d %s", path, rc, err);
    return t;
}

static size_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    *len = file_size(path);
    uint8_t *p = malloc(*len ? *len : 1);
    assert_non_null(p);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, p, *len), (ssize_t)*len);
    close(fd);
    return p;
}

static void write_whole(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

/* Copies of records read back. */
struct recs {
    size_t n, cap;
    struct ept_rec **v;
};

static int collect(const struct ept_rec *r, void *arg)
{
    struct recs *rs = arg;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
        assert_non_null(rs->v);
    }
    rs->v[rs->n] = malloc(r->size);
    assert_non_null(rs->v[rs->n]);
    memcpy(rs->v[rs->n++], r, r->size);
    return 0;
}

static void recs_free(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

/* Read every complete record of path; returns the reader's stop reason. */
static int read_recs(const char *path, struct recs *rs)
{
    struct reader r;
    char err[256];
    int rc = reader_open(&r, path, err, sizeof(err));
    if (rc < 0)
        fail_msg("reader_open %s: %s", path, err);
    assert_int_equal(reader_each(&r, collect, rs), 0);
    int stop = r.stop;
    reader_close(&r);
    return stop;
}

/* Block boundaries of a file: offsets of each block and the end. */
struct blocks {
    size_t n;
    uint64_t off[64], end[64];
    uint32_t nrec[64];
    uint64_t data_off;
};

static void get_blocks(const char *path, struct blocks *bl)
{
    struct reader r;
    char err[256];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    memset(bl, 0, sizeof(*bl));
    bl->data_off = r.data_off;
    uint64_t off = r.data_off;
    struct reader_block b;
    while (reader_block(&r, off, &b) > 0) {
        assert_true(bl->n < 64);
        bl->off[bl->n] = off;
        bl->end[bl->n] = off + b.length;
        bl->nrec[bl->n++] = b.nrec;
        off += b.length;
    }
    assert_int_equal(r.stop, READER_OK);
    assert_int_equal(off, r.len);
    reader_close(&r);
}

/* --- the expected records -------------------------------------------------------------- */

struct want {
    uint16_t type;
    size_t size;
    uint8_t body[EPT_PREVIEW_MAX + 128]; /* the record after its 24-byte header */
};

struct wants {
    size_t n;
    struct want v[64];
};

/* Expect a record of type whose fixed part is st (stsize bytes, header ignored) followed by
 * tail (taillen bytes, zero-padded to 8). */
static void expect(struct wants *w, uint16_t type, const void *st, size_t stsize,
                   const void *tail, size_t taillen)
{
    if (!w)
        return;
    struct want *e = &w->v[w->n++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->size = stsize + ept_pad8(taillen);
    memcpy(e->body, (const uint8_t *)st + sizeof(struct ept_rec), stsize - sizeof(struct ept_rec));
    if (taillen)
        memcpy(e->body + stsize - sizeof(struct ept_rec), tail, taillen);
}

static struct ept_addr addr4(const char *ip4, uint16_t port)
{
    struct ept_addr a = {.family = AF_INET, .port = port};
    sscanf(ip4, "%hhu.%hhu.%hhu.%hhu", &a.ip[0], &a.ip[1], &a.ip[2], &a.ip[3]);
    return a;
}

static const char request[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

/* Emit one record of every type (several of some), recording what each should read back as.
 * preview is the trace's preview setting. */
static void emit_all(struct trace *t, struct wants *w, unsigned preview)
{
    struct ept_sock lsn = {.fd = 4, .sid = 1, .role = EPT_ROLE_LISTENER};
    struct ept_sock cli = {.fd = 8, .sid = 2, .conn = 1, .role = EPT_ROLE_CLIENT};
    struct ept_sock be = {.fd = 9, .sid = 3, .conn = 1, .role = EPT_ROLE_BACKEND};
    struct ept_addr laddr = addr4("127.0.0.1", 8080), baddr = addr4("127.0.0.1", 9001);
    struct ept_addr peer6 = {.family = AF_INET6, .port = 54321, .scope = 2};
    peer6.ip[15] = 1; /* ::1 */

    trace_epoll_create(t, 3, EPOLL_CLOEXEC);
    expect(w, EPT_EPOLL_CREATE, &(struct ept_epoll_create){.result = 3, .flags = EPOLL_CLOEXEC},
           sizeof(struct ept_epoll_create), NULL, 0);

    trace_listen(t, &lsn, &laddr, 0, 128);
    expect(w, EPT_LISTEN, &(struct ept_listen){.s = lsn, .addr = laddr, .backlog = 128},
           sizeof(struct ept_listen), NULL, 0);

    trace_epoll_ctl(t, 3, EPOLL_CTL_ADD, &lsn, EPOLLIN, 0);
    expect(w, EPT_EPOLL_CTL,
           &(struct ept_epoll_ctl){.s = lsn, .epfd = 3, .op = EPOLL_CTL_ADD, .events = EPOLLIN},
           sizeof(struct ept_epoll_ctl), NULL, 0);

    trace_epoll_wait(t, 3, 1000, 64, 2, 120000);
    expect(w, EPT_EPOLL_WAIT,
           &(struct ept_epoll_wait){.epfd = 3, .timeout = 1000, .maxevents = 64, .result = 2,
                                    .blocked_ns = 120000},
           sizeof(struct ept_epoll_wait), NULL, 0);

    trace_event(t, EPT_READY, &lsn, EPOLLIN | EPOLLRDHUP, 0);
    expect(w, EPT_READY, &(struct ept_ready){.s = lsn, .events = EPOLLIN | EPOLLRDHUP},
           sizeof(struct ept_ready), NULL, 0);
    trace_event(t, EPT_HANDLE, &lsn, EPOLLIN, 1);
    expect(w, EPT_HANDLE, &(struct ept_ready){.s = lsn, .events = EPOLLIN, .index = 1},
           sizeof(struct ept_ready), NULL, 0);

    trace_accept(t, &lsn, &cli, 8, &peer6);
    expect(w, EPT_ACCEPT,
           &(struct ept_accept){.listener = lsn, .s = cli, .result = 8, .peer = peer6},
           sizeof(struct ept_accept), NULL, 0);
    struct ept_sock none = {.fd = -1};
    trace_accept(t, &lsn, &none, -EAGAIN, NULL);
    expect(w, EPT_ACCEPT, &(struct ept_accept){.listener = lsn, .s = none, .result = -EAGAIN},
           sizeof(struct ept_accept), NULL, 0);

    trace_pick(t, &cli, 1, EPT_ALGO_LEASTCONN, 1, 3);
    expect(w, EPT_PICK,
           &(struct ept_pick){.client = cli, .backend = 1, .algo = EPT_ALGO_LEASTCONN,
                              .attempt = 1, .active = 3},
           sizeof(struct ept_pick), NULL, 0);
    trace_pick(t, &cli, 0xffff, EPT_ALGO_RANDOM2, 300, 0); /* attempt saturates at 255 */
    expect(w, EPT_PICK,
           &(struct ept_pick){.client = cli, .backend = 0xffff, .algo = EPT_ALGO_RANDOM2,
                              .attempt = 255},
           sizeof(struct ept_pick), NULL, 0);

    trace_connect(t, &be, 1, 0, -EINPROGRESS, &baddr);
    expect(w, EPT_CONNECT,
           &(struct ept_connect){.s = be, .backend = 1, .result = -EINPROGRESS, .addr = baddr},
           sizeof(struct ept_connect), NULL, 0);
    trace_connect(t, &be, 1, 1, 0, &baddr);
    expect(w, EPT_CONNECT, &(struct ept_connect){.s = be, .backend = 1, .phase = 1, .addr = baddr},
           sizeof(struct ept_connect), NULL, 0);

    size_t rlen = strlen(request);
    size_t keep = rlen < preview ? rlen : preview;
    trace_io(t, EPT_READ, &cli, 16384, (long)rlen, request);
    expect(w, EPT_READ,
           &(struct ept_io){.s = cli, .asked = 16384, .result = (int32_t)rlen,
                            .preview_len = (uint16_t)keep},
           sizeof(struct ept_io), request, keep);
    trace_io(t, EPT_READ, &cli, 16384, -EAGAIN, NULL); /* an error: no preview */
    expect(w, EPT_READ, &(struct ept_io){.s = cli, .asked = 16384, .result = -EAGAIN},
           sizeof(struct ept_io), NULL, 0);
    trace_io(t, EPT_WRITE, &be, rlen, (long)rlen, request);
    expect(w, EPT_WRITE,
           &(struct ept_io){.s = be, .asked = (uint32_t)rlen, .result = (int32_t)rlen,
                            .preview_len = (uint16_t)keep},
           sizeof(struct ept_io), request, keep);
    size_t five = preview < 5 ? preview : 5; /* a preview that needs padding */
    trace_io(t, EPT_WRITE, &cli, 5, 5, "hello");
    expect(w, EPT_WRITE,
           &(struct ept_io){.s = cli, .asked = 5, .result = 5, .preview_len = (uint16_t)five},
           sizeof(struct ept_io), "hello", five);
    trace_io(t, EPT_READ, &be, 16384, 0, request); /* EOF: nothing moved, nothing kept */
    expect(w, EPT_READ, &(struct ept_io){.s = be, .asked = 16384}, sizeof(struct ept_io), NULL,
           0);
    if (preview >= 256) { /* binary bytes, every value once (for the JSON/dump tests) */
        uint8_t bin[256];
        for (int i = 0; i < 256; i++)
            bin[i] = (uint8_t)i;
        trace_io(t, EPT_WRITE, &cli, 65536, 256, bin);
        expect(w, EPT_WRITE,
               &(struct ept_io){.s = cli, .asked = 65536, .result = 256, .preview_len = 256},
               sizeof(struct ept_io), bin, 256);
    }

    trace_shutdown(t, &be, SHUT_WR, 0);
    expect(w, EPT_SHUTDOWN, &(struct ept_shutdown){.s = be, .how = SHUT_WR},
           sizeof(struct ept_shutdown), NULL, 0);
    trace_sock_close(t, &be, 0, EPT_CLOSE_DONE, 17);
    expect(w, EPT_CLOSE,
           &(struct ept_close){.s = be, .reason = EPT_CLOSE_DONE, .flags = EPT_CLOSEF_UNREAD,
                               .unread = 17},
           sizeof(struct ept_close), NULL, 0);
    trace_sock_close(t, &cli, -EBADF, EPT_CLOSE_RESET, -1);
    expect(w, EPT_CLOSE,
           &(struct ept_close){.s = cli, .result = -EBADF, .reason = EPT_CLOSE_RESET},
           sizeof(struct ept_close), NULL, 0);

    trace_timeout(t, &cli, EPT_TIMER_IDLE, 30000);
    expect(w, EPT_TIMEOUT, &(struct ept_timeout){.s = cli, .kind = EPT_TIMER_IDLE, .ms = 30000},
           sizeof(struct ept_timeout), NULL, 0);

    trace_pause(t, &lsn, 1, EPT_PAUSE_MAXCONNS);
    expect(w, EPT_PAUSE, &(struct ept_pause){.s = lsn, .paused = 1, .reason = EPT_PAUSE_MAXCONNS},
           sizeof(struct ept_pause), NULL, 0);
    trace_pause(t, &lsn, 0, 0);
    expect(w, EPT_PAUSE, &(struct ept_pause){.s = lsn}, sizeof(struct ept_pause), NULL, 0);

    trace_health(t, 2, 0, -ECONNREFUSED, 5000);
    expect(w, EPT_HEALTH,
           &(struct ept_health){.backend = 2, .reason = -ECONNREFUSED, .down_ms = 5000},
           sizeof(struct ept_health), NULL, 0);
    trace_health(t, 2, 7, 0, 0); /* any non-zero up is stored as 1 */
    expect(w, EPT_HEALTH, &(struct ept_health){.backend = 2, .up = 1}, sizeof(struct ept_health),
           NULL, 0);

    trace_note(t, EPT_NOTE_STORY, "conn %d: \"%s\" went\tto backend %u", 1, "GET /", 1u);
    const char *text = "conn 1: \"GET /\" went\tto backend 1";
    expect(w, EPT_NOTE, &(struct ept_note){.kind = EPT_NOTE_STORY, .len = (uint16_t)strlen(text)},
           sizeof(struct ept_note), text, strlen(text));
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    trace_note(t, EPT_NOTE_WARN, "%s", big); /* cut to EPT_NOTE_MAX - 1 bytes */
    expect(w, EPT_NOTE, &(struct ept_note){.kind = EPT_NOTE_WARN, .len = EPT_NOTE_MAX - 1},
           sizeof(struct ept_note), big, EPT_NOTE_MAX - 1);
    trace_note(t, EPT_NOTE_INFO, "%s", ""); /* empty text */
    expect(w, EPT_NOTE, &(struct ept_note){.kind = EPT_NOTE_INFO}, sizeof(struct ept_note), NULL,
           0);
}

static const char config[] = "listen=127.0.0.1:8080\nbackend.0=127.0.0.1:9001\n"
                             "backend.1=127.0.0.1:9002\nmode=edge\nempty=\nlast=1";

/* --- round trip ------------------------------------------------------------------------ */

static void check_round_trip(struct fx *f, unsigned preview)
{
    const char *path = fx_path(f, "rt.ept");
    uint64_t before = trace_now();
    struct trace *t = open_trace(path, 0, (uint16_t)preview, config);
    assert_int_equal(trace_preview(t), preview);
    struct wants *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    emit_all(t, w, preview);
    struct trace_stats st;
    assert_int_equal(trace_finish(t, &st), 0);
    uint64_t after = trace_now();

    assert_int_equal(st.records, w->n + 1);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.write_error, 0);
    assert_true(st.blocks >= 1);
    assert_int_equal(st.bytes, file_size(path));

    struct reader r;
    char err[256];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    const struct ept_header *h = &r.hdr;
    assert_memory_equal(h->magic, EPT_MAGIC, 8);
    assert_int_equal(h->version_major, EPT_VERSION_MAJOR);
    assert_int_equal(h->version_minor, EPT_VERSION_MINOR);
    assert_int_equal(h->byte_order, EPT_BYTE_ORDER);
    assert_int_equal(h->clock, EPT_CLOCK_MONOTONIC);
    assert_int_equal(h->header_size, ept_pad8(EPT_HDR_FIXED + strlen(config)));
    assert_int_equal(h->config_len, strlen(config));
    assert_int_equal(h->mode, EPT_MODE_EDGE);
    assert_int_equal(h->listener_mode, EPT_MODE_LEVEL);
    assert_int_equal(h->preview, preview);
    assert_int_equal(h->ring_size, TRACE_RING_DEFAULT);
    assert_int_equal(h->pid, (uint32_t)getpid());
    assert_int_equal(h->flags, 0);
    assert_string_equal(h->producer, "epscope " EPSCOPE_VERSION);
    assert_true(h->mono_start_ns >= before && h->mono_start_ns <= after);
    assert_true(h->wall_start_ns > 1600000000ull * 1000000000ull); /* after 2020 */
    assert_memory_equal(r.config, config, strlen(config));
    assert_int_equal(r.data_off, h->header_size);
    reader_close(&r);

    struct recs rs = {0};
    assert_int_equal(read_recs(path, &rs), READER_OK);
    assert_int_equal(rs.n, w->n + 1);
    uint64_t last_ns = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const struct ept_rec *rec = rs.v[i];
        assert_int_equal(rec->seq, i + 1);
        assert_int_equal(rec->tid, (uint32_t)gettid()); /* the writing thread */
        assert_true(rec->ns >= h->mono_start_ns && rec->ns <= after);
        assert_true(rec->ns >= last_ns);
        last_ns = rec->ns;
        if (i == w->n)
            break;
        const struct want *e = &w->v[i];
        if (rec->type != e->type)
            fail_msg("record %zu: type %s, want %s", i + 1, ept_type_name(rec->type),
                     ept_type_name(e->type));
        assert_int_equal(rec->size, e->size);
        assert_memory_equal((const uint8_t *)rec + sizeof(*rec), e->body,
                            e->size - sizeof(*rec));
    }
    struct ept_end end;
    assert_int_equal(rs.v[w->n]->type, EPT_END);
    assert_int_equal(rs.v[w->n]->size, sizeof(end));
    ept_rec_get(rs.v[w->n], &end, sizeof(end));
    assert_int_equal(end.records, w->n + 1);
    assert_int_equal(end.lost, 0);
    recs_free(&rs);
    free(w);
}

static void test_trace_round_trip_every_type(void **state)
{
    check_round_trip(*state, TRACE_PREVIEW_DEFAULT);
}

static void test_trace_round_trip_preview_sizes(void **state)
{
    struct fx *f = *state;
    unsigned sizes[] = {0, 1, 5, 8, 1024};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_round_trip(f, sizes[i]);
        unlink(fx_path(f, "rt.ept"));
    }
}

/* Every emitter accepts a NULL trace and does nothing. */
static void test_trace_null_is_noop(void **state)
{
    (void)state;
    emit_all(NULL, NULL, 64);
    assert_int_equal(trace_preview(NULL), 0);
    assert_int_equal(trace_finish(NULL, NULL), 0);
}

/* A trace with nothing but its END record. */
static void test_trace_empty(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "empty.ept");
    struct trace *t = open_trace(path, RING_MIN_SIZE, 0, NULL);
    struct trace_stats st;
    assert_int_equal(trace_finish(t, &st), 0);
    assert_int_equal(st.records, 1);
    struct recs rs = {0};
    assert_int_equal(read_recs(path, &rs), READER_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.v[0]->type, EPT_END);
    assert_int_equal(rs.v[0]->seq, 1);
    recs_free(&rs);
    struct reader r;
    char err[256], buf[8];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    assert_int_equal(r.hdr.config_len, 0);
    assert_int_equal(r.hdr.header_size, EPT_HDR_FIXED);
    assert_int_equal(reader_config(&r, "mode", buf, sizeof(buf)), -1);
    reader_close(&r);
}

/* --- overflow -------------------------------------------------------------------------- */

/* A producer far faster than the flusher, into the smallest ring: records get dropped, and
 * every dropped seq is accounted for by the lost record that follows the gap. */
static void test_trace_overflow_lost_records(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "lost.ept");
    struct trace *t = open_trace(path, RING_MIN_SIZE, EPT_PREVIEW_MAX, NULL);
    struct ept_sock s = {.fd = 5, .sid = 1, .conn = 1, .role = EPT_ROLE_CLIENT};
    enum { N = 50000 };
    uint8_t data[EPT_PREVIEW_MAX];
    for (uint32_t i = 0; i < N; i++) {
        memset(data, (int)(i & 0xff), sizeof(data));
        memcpy(data, &i, sizeof(i));
        trace_io(t, EPT_WRITE, &s, i, sizeof(data), data);
        if (i % 97 == 0)
            trace_event(t, EPT_READY, &s, EPOLLOUT, i);
        if (i % 5000 == 4999) { /* let the flusher catch up now and then: more gaps */
            struct timespec ts = {0, 3000000};
            nanosleep(&ts, NULL);
        }
    }
    struct trace_stats st;
    assert_int_equal(trace_finish(t, &st), 0);
    assert_true(st.lost > 0); /* the test must really overflow */

    struct recs rs = {0};
    assert_int_equal(read_recs(path, &rs), READER_OK);
    uint64_t next = 1, lost = 0, present = 0, lost_recs = 0;
    int64_t last_i = -1;
    for (size_t k = 0; k < rs.n; k++) {
        const struct ept_rec *rec = rs.v[k];
        if (rec->type == EPT_LOST) {
            struct ept_lost l;
            ept_rec_get(rec, &l, sizeof(l));
            /* the gap just before this record, exactly */
            assert_int_equal(l.first_seq, next);
            assert_int_equal(l.last_seq, rec->seq - 1);
            assert_int_equal(l.count, l.last_seq - l.first_seq + 1);
            assert_true(l.first_ns <= l.last_ns && l.last_ns <= rec->ns);
            lost += l.count;
            lost_recs++;
        } else if (rec->seq != next) {
            fail_msg("seq %llu after %llu with no lost record for the gap",
                     (unsigned long long)rec->seq, (unsigned long long)next - 1);
        }
        if (rec->type == EPT_WRITE) { /* surviving records are intact and in order */
            struct ept_io io;
            ept_rec_get(rec, &io, sizeof(io));
            assert_int_equal(io.preview_len, EPT_PREVIEW_MAX);
            assert_int_equal(io.result, EPT_PREVIEW_MAX);
            const uint8_t *p = (const uint8_t *)rec + sizeof(io);
            uint32_t i;
            memcpy(&i, p, sizeof(i));
            assert_int_equal(i, io.asked);
            assert_true((int64_t)i > last_i);
            last_i = i;
            for (size_t b = sizeof(i); b < EPT_PREVIEW_MAX; b++)
                assert_int_equal(p[b], i & 0xff);
        }
        present++;
        next = rec->seq + 1;
    }
    const struct ept_rec *last = rs.v[rs.n - 1];
    assert_int_equal(last->type, EPT_END);
    struct ept_end end;
    ept_rec_get(last, &end, sizeof(end));
    assert_int_equal(end.records, last->seq);
    assert_int_equal(end.lost, lost);
    assert_int_equal(present + lost, last->seq); /* every seq present or covered */
    assert_int_equal(st.lost, lost);
    assert_int_equal(st.records, last->seq);
    assert_int_equal(st.records, N + (N + 96) / 97 + lost_recs + 1);
    print_message("      %llu of %llu records lost in %llu gaps\n", (unsigned long long)lost,
                  (unsigned long long)st.records, (unsigned long long)lost_recs);
    recs_free(&rs);
}

/* --- file creation --------------------------------------------------------------------- */

static void test_trace_file_mode_0600(void **state)
{
    struct fx *f = *state;
    mode_t old = umask(0); /* even with a permissive umask */
    struct trace *t = open_trace(fx_path(f, "m.ept"), RING_MIN_SIZE, 0, NULL);
    umask(old);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(trace_finish(t, NULL), 0);
}

static int try_open(const char *path, int force, char *err, size_t errlen)
{
    struct trace_opts o = {.path = path, .force = force, .ring_size = RING_MIN_SIZE};
    struct trace *t = NULL;
    err[0] = 0;
    int rc = trace_open(&t, &o, err, errlen);
    if (rc == 0)
        assert_int_equal(trace_finish(t, NULL), 0);
    else
        assert_null(t);
    return rc;
}

static void assert_one_line(const char *err)
{
    assert_true(strlen(err) > 10);
    assert_null(strchr(err, '\n'));
}

static void test_trace_refuses_overwrite(void **state)
{
    struct fx *f = *state;
    char err[256], path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "exists.ept"));
    write_whole(path, "keep me\n", 8);
    assert_int_equal(try_open(path, 0, err, sizeof(err)), -EEXIST);
    assert_one_line(err);
    assert_non_null(strstr(err, "exists"));
    assert_non_null(strstr(err, "--force"));
    size_t n;
    uint8_t *p = read_whole(path, &n);
    assert_int_equal(n, 8);
    assert_memory_equal(p, "keep me\n", 8);
    free(p);
}

static void test_trace_force_overwrites(void **state)
{
    struct fx *f = *state;
    char err[256], path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "old.ept"));
    char junk[10000];
    memset(junk, 'j', sizeof(junk));
    write_whole(path, junk, sizeof(junk));
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(try_open(path, 1, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600); /* the old mode does not survive */
    struct recs rs = {0};
    assert_int_equal(read_recs(path, &rs), READER_OK); /* no junk left at the end */
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.v[0]->type, EPT_END);
    recs_free(&rs);
}

static void test_trace_refuses_symlink(void **state)
{
    struct fx *f = *state;
    char err[256], link[PATH_MAX], target[PATH_MAX];
    snprintf(target, sizeof(target), "%s", fx_path(f, "target"));
    snprintf(link, sizeof(link), "%s", fx_path(f, "link.ept"));
    assert_int_equal(symlink(target, link), 0);

    /* dangling: nothing may be created at the target, with or without force */
    assert_true(try_open(link, 0, err, sizeof(err)) < 0);
    assert_one_line(err);
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(try_open(link, 1, err, sizeof(err)), -ELOOP);
    assert_one_line(err);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(access(target, F_OK), -1);

    /* pointing at a file: it stays untouched */
    write_whole(target, "precious", 8);
    assert_true(try_open(link, 0, err, sizeof(err)) < 0);
    assert_int_equal(try_open(link, 1, err, sizeof(err)), -ELOOP);
    size_t n;
    uint8_t *p = read_whole(target, &n);
    assert_int_equal(n, 8);
    assert_memory_equal(p, "precious", 8);
    free(p);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_trace_open_errors(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct trace *t = (struct trace *)&err; /* must come back NULL */
    struct trace_opts o = {.path = fx_path(f, "x.ept"), .ring_size = 5000};
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), -EINVAL);
    assert_null(t);
    assert_one_line(err);
    assert_non_null(strstr(err, "power of two"));
    o.ring_size = RING_MIN_SIZE / 2;
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), -EINVAL);
    o.ring_size = 0;
    o.preview = EPT_PREVIEW_MAX + 1;
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), -EINVAL);
    assert_one_line(err);
    o.preview = 0;
    o.path = fx_path(f, "no/such/dir.ept");
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), -ENOENT);
    assert_one_line(err);
    assert_non_null(strstr(err, "cannot create"));
    o.path = f->dir; /* a directory */
    assert_true(trace_open(&t, &o, err, sizeof(err)) < 0);
    assert_one_line(err);
    o.force = 1;
    assert_true(trace_open(&t, &o, err, sizeof(err)) < 0);
    assert_one_line(err);
    assert_null(t);
    /* nothing was left behind by the failures */
    assert_int_equal(access(fx_path(f, "x.ept"), F_OK), -1);
}

/* --- a small multi-block file for the damage tests ------------------------------------- */

/* Write a trace of several blocks (each group of records flushed before the next). */
static void make_blocks_file(const char *path, int groups)
{
    struct trace *t = open_trace(path, 0, 16, "mode=edge\n");
    struct ept_sock s = {.fd = 7, .sid = 1, .conn = 1, .role = EPT_ROLE_CLIENT};
    for (int g = 0; g < groups; g++) {
        trace_epoll_wait(t, 3, 100, 8, 1, (uint64_t)g * 1000);
        trace_event(t, EPT_READY, &s, EPOLLIN, 0);
        trace_io(t, EPT_READ, &s, 4096, 12 + g, "hello, world, again");
        trace_note(t, EPT_NOTE_INFO, "group %d", g);
        assert_int_equal(trace_sync(t, 10000), 0); /* the group is written: a block of its own */
    }
    assert_int_equal(trace_finish(t, NULL), 0);
}

/* Records of the intact file, for comparing prefixes. */
static void check_prefix(const struct recs *got, const struct recs *all, size_t n)
{
    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got->v[i]->size, all->v[i]->size);
        assert_memory_equal(got->v[i], all->v[i], all->v[i]->size);
    }
}

/* Records in blocks [0, nblocks). */
static size_t recs_in(const struct blocks *bl, size_t nblocks)
{
    size_t n = 0;
    for (size_t i = 0; i < nblocks; i++)
        n += bl->nrec[i];
    return n;
}

/* Cut the file at every length from its size down to 0: the reader opens it when the header is
 * whole, returns exactly the records of the complete blocks, and says where it was torn. */
static void test_trace_truncated_everywhere(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], cut[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "full.ept"));
    snprintf(cut, sizeof(cut), "%s", fx_path(f, "cut.ept"));
    make_blocks_file(path, 3);
    struct blocks bl;
    get_blocks(path, &bl);
    /* three groups and the END, each written before the next begins (trace_sync); the
     * flusher may still cut a group in two if it wakes while the group is being made */
    assert_true(bl.n >= 4);
    struct recs all = {0};
    assert_int_equal(read_recs(path, &all), READER_OK);
    size_t size;
    uint8_t *p = read_whole(path, &size);
    write_whole(cut, p, size);
    int fd = open(cut, O_WRONLY);
    assert_true(fd >= 0);
    print_message("      %zu bytes, %zu blocks, cut at every length\n", size, bl.n);

    for (size_t k = size; k-- > 0;) {
        assert_int_equal(ftruncate(fd, (off_t)k), 0);
        struct reader r;
        char err[256] = "";
        int rc = reader_open(&r, cut, err, sizeof(err));
        if (k < bl.data_off) {
            if (rc != -EPROTO)
                fail_msg("cut at %zu: reader_open returned %d", k, rc);
            assert_one_line(err);
            if (k == 0)
                assert_non_null(strstr(err, "empty"));
            else if (!strstr(err, "too short"))
                fail_msg("cut at %zu: unclear message: %s", k, err);
            continue;
        }
        assert_int_equal(rc, 0);
        struct recs got = {0};
        assert_int_equal(reader_each(&r, collect, &got), 0);
        size_t whole = 0; /* complete blocks */
        while (whole < bl.n && bl.end[whole] <= k)
            whole++;
        check_prefix(&got, &all, recs_in(&bl, whole));
        if (whole < bl.n && bl.off[whole] < k) { /* cut inside block #whole */
            if (r.stop != READER_TORN)
                fail_msg("cut at %zu: stop %d (%s), want torn", k, r.stop, r.why);
            assert_int_equal(r.stop_off, bl.off[whole]);
            assert_true(strlen(r.why) > 0);
        } else {
            assert_int_equal(r.stop, READER_OK);
        }
        recs_free(&got);
        reader_close(&r);
    }
    close(fd);
    free(p);
    recs_free(&all);
}

/* Flip one byte anywhere (with several masks): a header byte makes reader_open fail, a block
 * byte makes that block corrupt: it is skipped as damage and every other block still reads
 * intact (the last one, with no good block after it, ends the reading as READER_CORRUPT). */
static void test_trace_flipped_byte_everywhere(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], bad[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "full.ept"));
    snprintf(bad, sizeof(bad), "%s", fx_path(f, "bad.ept"));
    make_blocks_file(path, 3);
    struct blocks bl;
    get_blocks(path, &bl);
    struct recs all = {0};
    assert_int_equal(read_recs(path, &all), READER_OK);
    size_t size;
    uint8_t *p = read_whole(path, &size);
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    int fd = open(bad, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, size, 0), (ssize_t)size);

    for (size_t i = 0; i < size; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            uint8_t c = p[i] ^ masks[m];
            assert_int_equal(pwrite(fd, &c, 1, (off_t)i), 1);
            struct reader r;
            char err[256] = "";
            int rc = reader_open(&r, bad, err, sizeof(err));
            if (i < bl.data_off) {
                if (rc != -EPROTO)
                    fail_msg("header byte %zu ^ 0x%02x not detected", i, masks[m]);
                assert_one_line(err);
            } else {
                assert_int_equal(rc, 0);
                size_t blk = 0;
                while (bl.end[blk] <= i)
                    blk++;
                struct recs got = {0};
                assert_int_equal(reader_each(&r, collect, &got), 0);
                int last = blk == bl.n - 1;
                if (last ? r.stop != READER_CORRUPT || r.stop_off != bl.off[blk] || r.ndamaged
                         : r.stop != READER_OK || r.ndamaged != 1 ||
                               r.damage_off != bl.off[blk] ||
                               r.damage_bytes != bl.end[blk] - bl.off[blk])
                    fail_msg("byte %zu ^ 0x%02x (block %zu at %llu): stop %d at %llu (%s), "
                             "%llu damaged at %llu", i, masks[m], blk,
                             (unsigned long long)bl.off[blk], r.stop,
                             (unsigned long long)r.stop_off, r.why,
                             (unsigned long long)r.ndamaged, (unsigned long long)r.damage_off);
                assert_true(reader_damaged(&r));
                /* every record but the damaged block's, in order */
                size_t before = recs_in(&bl, blk), in = bl.nrec[blk];
                assert_int_equal(got.n, all.n - in);
                for (size_t k = 0; k < got.n; k++) {
                    const struct ept_rec *want = all.v[k < before ? k : k + in];
                    assert_memory_equal(got.v[k], want, want->size);
                }
                recs_free(&got);
                reader_close(&r);
            }
            assert_int_equal(pwrite(fd, &p[i], 1, (off_t)i), 1);
        }
    }
    close(fd);
    free(p);
    recs_free(&all);
}

/* --- hand-made files ------------------------------------------------------------------- */

/* A block built the way docs/trace-format.md describes, independently of trace.c. */
static size_t build_block(uint8_t *out, const uint8_t *recs, size_t len, uint32_t nrec)
{
    const struct ept_rec *first = (const void *)recs, *last = first;
    for (size_t off = 0; off < len; off += last->size)
        last = (const void *)(recs + off);
    struct ept_block b = {EPT_BLOCK_MAGIC, (uint32_t)(len + 48), first->seq, nrec, 0,
                          first->ns, last->ns};
    memcpy(out, &b, sizeof(b));
    memcpy(out + 40, recs, len);
    uint32_t trailer[2] = {b.length, EPT_BLOCK_TAIL};
    memcpy(out + 40 + len, trailer, 8);
    b.crc = crc32c(0, out, b.length);
    memcpy(out + offsetof(struct ept_block, crc), &b.crc, 4);
    return b.length;
}

/* Append a record of type and size with body (size - 24 bytes) to a record buffer. */
static size_t put_rec(uint8_t *buf, size_t off, uint16_t type, uint16_t size, uint64_t seq,
                      const void *body)
{
    struct ept_rec h = {type, size, 0, seq, 1000 + seq};
    memcpy(buf + off, &h, sizeof(h));
    memcpy(buf + off + sizeof(h), body, size - sizeof(h));
    return off + size;
}

/* A file from a newer minor version: unknown record types come back with their type so the
 * caller can skip them, known records longer (or shorter) than their struct still decode. */
static void test_trace_newer_minor_version(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "v1.7.ept");
    static uint8_t file[8192];
    const char *cfg = "mode=edge\nfuture.key=yes\n";
    struct ept_header h;
    ept_header_init(&h, EPT_MODE_EDGE, EPT_MODE_LEVEL, 16, 4096);
    h.version_minor = 7;
    size_t off = ept_header_size(strlen(cfg));
    ept_header_encode(&h, cfg, strlen(cfg), file);

    uint8_t recs[1024], body[512];
    size_t len = 0;
    memset(body, 0xab, sizeof(body));
    /* epoll_wait with 16 bytes of fields this reader does not know */
    struct ept_epoll_wait ew = {.epfd = 3, .timeout = -1, .maxevents = 32, .result = 1,
                                .blocked_ns = 777};
    memcpy(body, (uint8_t *)&ew + 24, sizeof(ew) - 24);
    len = put_rec(recs, len, EPT_EPOLL_WAIT, sizeof(ew) + 16, 1, body);
    /* an unknown type */
    memset(body, 0xcd, sizeof(body));
    len = put_rec(recs, len, 200, 40, 2, body);
    /* a read with its preview, then a new field after the padded preview */
    struct ept_io io = {.s = {.fd = 8, .sid = 2, .conn = 1, .role = EPT_ROLE_CLIENT},
                        .asked = 100, .result = 3, .preview_len = 3};
    memset(body, 0xee, sizeof(body));
    memcpy(body, (uint8_t *)&io + 24, sizeof(io) - 24);
    memcpy(body + sizeof(io) - 24, "abc\0\0\0\0\0", 8);
    len = put_rec(recs, len, EPT_READ, sizeof(io) + 8 + 8, 3, body);
    /* an epoll_wait from an older writer, without blocked_ns */
    memcpy(body, (uint8_t *)&ew + 24, 16);
    len = put_rec(recs, len, EPT_EPOLL_WAIT, 40, 4, body);
    /* a PAD inside a block is skipped */
    memset(body, 0, sizeof(body));
    len = put_rec(recs, len, EPT_PAD, 32, 0, body);
    struct ept_end end = {.records = 5};
    len = put_rec(recs, len, EPT_END, sizeof(end), 5, (uint8_t *)&end + 24);
    off += build_block(file + off, recs, len, 5);
    write_whole(path, file, off);

    struct reader r;
    char err[256], val[16];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    assert_int_equal(r.hdr.version_minor, 7);
    assert_int_equal(reader_config(&r, "future.key", val, sizeof(val)), 3);
    assert_string_equal(val, "yes");
    struct recs got = {0};
    assert_int_equal(reader_each(&r, collect, &got), 0);
    assert_int_equal(r.stop, READER_OK);
    reader_close(&r);
    assert_int_equal(got.n, 5);

    struct ept_epoll_wait w;
    assert_int_equal(got.v[0]->type, EPT_EPOLL_WAIT);
    assert_int_equal(got.v[0]->size, sizeof(w) + 16);
    ept_rec_get(got.v[0], &w, sizeof(w));
    assert_int_equal(w.epfd, 3);
    assert_int_equal(w.timeout, -1);
    assert_int_equal(w.maxevents, 32);
    assert_int_equal(w.result, 1);
    assert_int_equal(w.blocked_ns, 777);

    assert_int_equal(got.v[1]->type, 200);
    assert_int_equal(got.v[1]->size, 40);
    assert_int_equal(got.v[1]->seq, 2);
    assert_null(ept_type_name(200));

    struct ept_io rio;
    assert_int_equal(got.v[2]->type, EPT_READ);
    ept_rec_get(got.v[2], &rio, sizeof(rio));
    assert_int_equal(rio.s.fd, 8);
    assert_int_equal(rio.result, 3);
    size_t n;
    const uint8_t *pv = ept_rec_tail(got.v[2], sizeof(rio), rio.preview_len, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(pv, "abc", 3);

    ept_rec_get(got.v[3], &w, sizeof(w)); /* shorter: the missing field reads as 0 */
    assert_int_equal(w.epfd, 3);
    assert_int_equal(w.result, 1);
    assert_int_equal(w.blocked_ns, 0);

    assert_int_equal(got.v[4]->type, EPT_END);
    recs_free(&got);

    /* a newer major version is refused */
    h.version_major = 2;
    ept_header_encode(&h, cfg, strlen(cfg), file);
    write_whole(path, file, ept_header_size(strlen(cfg)));
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), -EPROTO);
    assert_one_line(err);
    assert_non_null(strstr(err, "version 2.7"));
}

static uint64_t rng_state = 0xD1B54A32D192ED03ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void expect_eproto(const char *path, const char *why)
{
    struct reader r;
    char err[256] = "";
    int rc = reader_open(&r, path, err, sizeof(err));
    if (rc != -EPROTO)
        fail_msg("%s: reader_open returned %d (%s)", why, rc, err);
    assert_one_line(err);
    assert_non_null(strstr(err, path)); /* says which file */
}

/* Random bytes, an empty file, a text file, a trace mangled by a text-mode or 7-bit transfer:
 * -EPROTO with one line, no crash. Random bytes after a valid header: READER_CORRUPT. */
static void test_trace_garbage_input(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], good[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "garbage"));
    snprintf(good, sizeof(good), "%s", fx_path(f, "good.ept"));
    static uint8_t buf[70000];
    char err[256];
    struct reader r;

    write_whole(path, "", 0);
    expect_eproto(path, "empty file");
    for (size_t sizes[] = {1, 7, 8, 95, 96, 97, 4096, 70000}, i = 0; i < 8; i++) {
        for (int round = 0; round < 20; round++) {
            for (size_t k = 0; k < sizes[i]; k++)
                buf[k] = (uint8_t)rng();
            write_whole(path, buf, sizes[i]);
            expect_eproto(path, "random bytes");
        }
    }
    const char *text = "GET / HTTP/1.1\r\nHost: example\r\n\r\nThis is not a trace.\n";
    for (size_t k = 0; k < sizeof(buf); k++)
        buf[k] = (uint8_t)text[k % strlen(text)];
    write_whole(path, buf, sizeof(buf));
    expect_eproto(path, "text file");
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not an epscope trace"));

    /* a real trace through a text-mode transfer: every CR LF became LF */
    make_blocks_file(good, 2);
    size_t size;
    uint8_t *p = read_whole(good, &size);
    size_t m = 0;
    for (size_t k = 0; k < size; k++)
        if (!(p[k] == '\r' && k + 1 < size && p[k + 1] == '\n'))
            buf[m++] = p[k];
    assert_true(m < size);
    write_whole(path, buf, m);
    expect_eproto(path, "CRLF to LF");
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "text-mode"));
    /* ... and the other way, LF to CRLF */
    m = 0;
    for (size_t k = 0; k < size; k++) {
        if (p[k] == '\n')
            buf[m++] = '\r';
        buf[m++] = p[k];
    }
    write_whole(path, buf, m);
    expect_eproto(path, "LF to CRLF");
    /* through a 7-bit channel */
    for (size_t k = 0; k < size; k++)
        buf[k] = p[k] & 0x7f;
    write_whole(path, buf, size);
    expect_eproto(path, "7-bit");

    /* a valid header followed by random bytes, or by random mutations of real blocks */
    struct blocks bl;
    get_blocks(good, &bl);
    for (int round = 0; round < 300; round++) {
        memcpy(buf, p, size);
        if (round < 100) {
            for (size_t k = bl.data_off; k < size; k++)
                buf[k] = (uint8_t)rng();
        } else {
            int flips = 1 + (int)(rng() % 8);
            for (int k = 0; k < flips; k++)
                buf[bl.data_off + rng() % (size - bl.data_off)] ^= (uint8_t)(1 + rng() % 255);
        }
        size_t len = round % 3 ? size : bl.data_off + rng() % (size - bl.data_off);
        write_whole(path, buf, len);
        assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
        struct recs got = {0};
        assert_int_equal(reader_each(&r, collect, &got), 0);
        assert_true(r.stop == READER_OK || r.stop == READER_CORRUPT || r.stop == READER_TORN);
        recs_free(&got);
        reader_close(&r);
    }
    free(p);

    /* not a file at all */
    assert_int_equal(reader_open(&r, f->dir, err, sizeof(err)), -EINVAL);
    assert_one_line(err);
    assert_int_equal(reader_open(&r, fx_path(f, "missing.ept"), err, sizeof(err)), -ENOENT);
    assert_one_line(err);
}

/* --- following a growing file ---------------------------------------------------------- */

/* Count the records from block offset *off onwards, advancing *off past complete blocks. */
static size_t read_from(struct reader *r, uint64_t *off)
{
    struct reader_block b;
    size_t n = 0;
    while (reader_block(r, *off, &b) > 0) {
        size_t pos = 0;
        while (reader_next_rec(&b, &pos))
            n++;
        *off += b.length;
    }
    return n;
}

/* While the recorder is still writing, a reader sees the blocks so far; after reader_refresh
 * it sees the new ones. */
static void test_trace_refresh_live(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "live.ept"));
    struct trace *t = open_trace(path, 0, 16, config);
    struct ept_sock s = {.fd = 7, .sid = 1};
    for (int i = 0; i < 10; i++)
        trace_event(t, EPT_READY, &s, EPOLLIN, (uint32_t)i);
    assert_int_equal(trace_sync(t, 10000), 0);

    struct reader r;
    char err[256], val[64];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    assert_int_equal(reader_config(&r, "mode", val, sizeof(val)), 4);
    assert_string_equal(val, "edge");
    uint64_t off = r.data_off;
    size_t seen = read_from(&r, &off);
    assert_int_equal(seen, 10); /* trace_sync: every record emitted so far, no more */
    assert_int_equal(reader_refresh(&r), 0);

    for (int i = 0; i < 25; i++)
        trace_event(t, EPT_HANDLE, &s, EPOLLIN, (uint32_t)i);
    assert_int_equal(trace_finish(t, NULL), 0);
    assert_int_equal(reader_refresh(&r), 1);
    seen += read_from(&r, &off);
    assert_int_equal(r.stop, READER_OK);
    assert_int_equal(seen, 10 + 25 + 1);
    assert_int_equal(off, file_size(path));
    /* the config text is still reachable after the remap */
    assert_int_equal(reader_config(&r, "backend.1", val, sizeof(val)), 14);
    assert_string_equal(val, "127.0.0.1:9002");
    reader_close(&r);
}

/* A torn block becomes readable once the rest of it arrives. */
static void test_trace_refresh_torn_block(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], grow[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "full.ept"));
    snprintf(grow, sizeof(grow), "%s", fx_path(f, "grow.ept"));
    make_blocks_file(path, 2);
    struct blocks bl;
    get_blocks(path, &bl);
    size_t size;
    uint8_t *p = read_whole(path, &size);
    size_t cut = (size_t)(bl.off[1] + 13); /* inside the second block */
    write_whole(grow, p, cut);

    struct reader r;
    char err[256];
    assert_int_equal(reader_open(&r, grow, err, sizeof(err)), 0);
    uint64_t off = r.data_off;
    assert_int_equal(read_from(&r, &off), bl.nrec[0]);
    assert_int_equal(r.stop, READER_TORN);
    assert_int_equal(r.stop_off, bl.off[1]);
    assert_int_equal(off, bl.off[1]);

    int fd = open(grow, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p + cut, size - cut), (ssize_t)(size - cut));
    close(fd);
    assert_int_equal(reader_refresh(&r), 1);
    assert_int_equal(r.stop, READER_OK);
    assert_int_equal(read_from(&r, &off), recs_in(&bl, bl.n) - bl.nrec[0]);
    assert_int_equal(r.stop, READER_OK);
    assert_int_equal(off, size);
    reader_close(&r);
    free(p);
}

static void test_trace_reader_config(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "cfg.ept");
    struct trace *t = open_trace(path, RING_MIN_SIZE, 0, config);
    assert_int_equal(trace_finish(t, NULL), 0);
    struct reader r;
    char err[256], val[64];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    assert_int_equal(reader_config(&r, "listen", val, sizeof(val)), 14);
    assert_string_equal(val, "127.0.0.1:8080");
    assert_int_equal(reader_config(&r, "backend.0", val, sizeof(val)), 14);
    assert_string_equal(val, "127.0.0.1:9001");
    assert_int_equal(reader_config(&r, "mode", val, sizeof(val)), 4);
    assert_string_equal(val, "edge");
    assert_int_equal(reader_config(&r, "empty", val, sizeof(val)), 0);
    assert_string_equal(val, "");
    assert_int_equal(reader_config(&r, "last", val, sizeof(val)), 1); /* no final newline */
    assert_string_equal(val, "1");
    assert_int_equal(reader_config(&r, "back", val, sizeof(val)), -1); /* a prefix only */
    assert_int_equal(reader_config(&r, "backend", val, sizeof(val)), -1);
    assert_int_equal(reader_config(&r, "127.0.0.1:8080", val, sizeof(val)), -1);
    assert_int_equal(reader_config(&r, "missing", val, sizeof(val)), -1);
    /* a short buffer gets a truncated, terminated value and the full length */
    assert_int_equal(reader_config(&r, "listen", val, 4), 14);
    assert_string_equal(val, "127");
    assert_int_equal(reader_config(&r, "listen", NULL, 0), 14);
    reader_close(&r);
}

/* --- sample mode for it_dump.sh -------------------------------------------------------- */


/* --- checking ahead ------------------------------------------------------------------ */

/* What a whole walk over a file saw: every record's bytes in order (hashed) and how the
 * reader ended. */
struct walked {
    size_t n;
    uint64_t hash;
    int stop;
    uint64_t stop_off, ndamaged, damage_bytes;
};

static int hash_rec(const struct ept_rec *r, void *arg)
{
    struct walked *w = arg;
    const uint8_t *p = (const void *)r;
    for (size_t i = 0; i < r->size; i++)
        w->hash = (w->hash ^ p[i]) * 0x100000001b3ull;
    w->n++;
    return 0;
}

/* Walk path with the checker thread (reader_walk starts it) or by reader_block alone. */
static struct walked walk(const char *path, int ahead)
{
    struct reader r;
    char err[256];
    struct walked w = {.hash = 0xcbf29ce484222325ull};
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    if (ahead) {
        reader_ahead(&r);
        assert_non_null(r.ahead); /* else this test would compare a walk with itself */
        assert_int_equal(reader_walk(&r, hash_rec, NULL, &w), 0);
        assert_null(r.ahead); /* stopped at the end, or at the damage */
    } else {
        uint64_t off = r.data_off, next;
        struct reader_block b;
        int rc;
        while ((rc = reader_block(&r, off, &b)) != 0) {
            assert_null(r.ahead);
            if (rc < 0) {
                if (!reader_skip(&r, off, &next))
                    break;
                off = next;
                continue;
            }
            size_t pos = 0;
            const struct ept_rec *rec;
            while ((rec = reader_next_rec(&b, &pos)))
                hash_rec(rec, &w);
            off += b.length;
        }
    }
    w.stop = r.stop;
    w.stop_off = r.stop_off;
    w.ndamaged = r.ndamaged;
    w.damage_bytes = r.damage_bytes;
    reader_close(&r);
    return w;
}

static void assert_same_walk(const char *path, const char *what)
{
    struct walked a = walk(path, 1), s = walk(path, 0);
    print_message("      %s: %zu records, stop %d, %llu damaged\n", what, a.n, a.stop,
                  (unsigned long long)a.ndamaged);
    assert_int_equal(a.n, s.n);
    assert_true(a.hash == s.hash);
    assert_int_equal(a.stop, s.stop);
    assert_int_equal(a.stop_off, s.stop_off);
    assert_int_equal(a.ndamaged, s.ndamaged);
    assert_int_equal(a.damage_bytes, s.damage_bytes);
}

/* Write count ready+read pairs into t, letting the flusher keep up: 2 * count records. */
static size_t write_reads(struct trace *t, uint32_t count)
{
    struct ept_sock s = {.fd = 7, .sid = 1, .conn = 1, .role = EPT_ROLE_CLIENT};
    static char data[1000]; /* a read keeps the first 64 of its bytes */
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    for (uint32_t i = 0; i < count; i++) {
        trace_event(t, EPT_READY, &s, EPOLLIN, i);
        trace_io(t, EPT_READ, &s, 4096, (int32_t)(i % 1000), data);
        if (i % 20000 == 0)
            assert_int_equal(trace_sync(t, 10000), 0);
    }
    return 2 * (size_t)count;
}

/* A trace big enough for the checker thread (about 12 MiB), written without loss. */
static size_t make_big_file(const char *path)
{
    struct trace *t = open_trace(path, 8u << 20, 64, "mode=edge\n");
    size_t n = write_reads(t, 120000);
    struct trace_stats st;
    assert_int_equal(trace_finish(t, &st), 0);
    assert_int_equal(st.lost, 0);
    return n + 1; /* and the END */
}

static int stop_after_ten(const struct ept_rec *r, void *arg)
{
    (void)r;
    return ++((struct walked *)arg)->n == 10;
}

/* The checker thread changes nothing but the speed: over a big file whole, with a flipped
 * byte in a middle block and in the last block, and cut inside a block, a walk with it sees
 * the very records, damage and end that reader_block alone sees; stopped early, it quits. */
static void test_trace_ahead_same_as_alone(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX], bad[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "big.ept"));
    snprintf(bad, sizeof(bad), "%s", fx_path(f, "bad.ept"));
    size_t want = make_big_file(path);
    struct walked w = walk(path, 1);
    assert_int_equal(w.n, want);
    assert_same_walk(path, "whole");

    size_t size;
    uint8_t *p = read_whole(path, &size);
    p[size / 2] ^= 0x40; /* a record in a middle block */
    write_whole(bad, p, size);
    assert_same_walk(bad, "a middle block damaged");
    w = walk(bad, 1);
    assert_int_equal(w.ndamaged, 1);
    assert_true(w.n < want);

    p[size - 40] ^= 0x01; /* and the last block: nothing good after it */
    write_whole(bad, p, size);
    assert_same_walk(bad, "and the last");
    assert_int_equal(walk(bad, 1).stop, READER_CORRUPT);
    p[size - 40] ^= 0x01;
    p[size / 2] ^= 0x40;

    write_whole(bad, p, size - size / 3 - 20); /* cut inside a block */
    assert_same_walk(bad, "cut short");
    assert_int_equal(walk(bad, 1).stop, READER_TORN);
    free(p);

    /* stopped after a few records, the ring full: closing stops the checker */
    struct reader r;
    char err[256];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    reader_ahead(&r);
    assert_non_null(r.ahead);
    struct walked few = {0};
    assert_int_equal(reader_walk(&r, stop_after_ten, NULL, &few), 1);
    assert_non_null(r.ahead);
    reader_close(&r);
    assert_null(r.ahead);
}

/* A big trace still being written (view --follow): the checker runs ahead while the
 * reader is in the middle of it, the file grows, reader_refresh stops the checker before it
 * maps the file again, and the reader goes on to the last record. */
static void test_trace_ahead_then_refresh(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", fx_path(f, "growing.ept"));
    struct trace *t = open_trace(path, 8u << 20, 64, "mode=edge\n");
    size_t want = write_reads(t, 120000);
    assert_int_equal(trace_sync(t, 10000), 0);

    struct reader r;
    char err[256];
    assert_int_equal(reader_open(&r, path, err, sizeof(err)), 0);
    reader_ahead(&r);
    assert_non_null(r.ahead);
    uint64_t off = r.data_off;
    size_t seen = 0;
    struct reader_block b;
    for (int k = 0; k < 5 && reader_block(&r, off, &b) > 0; k++) {
        size_t pos = 0;
        while (reader_next_rec(&b, &pos))
            seen++;
        off += b.length;
    }
    assert_non_null(r.ahead); /* in the middle: still ahead */

    want += write_reads(t, 30000);
    struct trace_stats st;
    assert_int_equal(trace_finish(t, &st), 0);
    assert_int_equal(st.lost, 0);
    want++; /* the END */
    assert_int_equal(reader_refresh(&r), 1);
    assert_null(r.ahead);
    seen += read_from(&r, &off);
    assert_int_equal(r.stop, READER_OK);
    assert_int_equal(seen, want);
    assert_int_equal(off, file_size(path));
    reader_close(&r);
}

static int write_sample(const char *path)
{
    struct trace_opts o = {.path = path, .preview = EPT_PREVIEW_MAX, .mode = EPT_MODE_EDGE,
                           .listener_mode = EPT_MODE_LEVEL, .config = config};
    struct trace *t;
    char err[256];
    if (trace_open(&t, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "test_trace: %s\n", err);
        return 1;
    }
    emit_all(t, NULL, EPT_PREVIEW_MAX);
    uint8_t big[EPT_PREVIEW_MAX]; /* the widest line dump can print: all bytes escaped */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 37 + 1) | 0x80;
    struct ept_sock s = {.fd = 8, .sid = 2, .conn = 1, .role = EPT_ROLE_CLIENT};
    trace_io(t, EPT_READ, &s, 65536, sizeof(big), big);
    char text[EPT_NOTE_MAX];
    for (size_t i = 0; i < sizeof(text) - 1; i++)
        text[i] = (char)(1 + i % 31); /* control bytes only */
    text[sizeof(text) - 1] = 0;
    trace_note(t, EPT_NOTE_FAULT, "%s", text);
    struct trace_stats st;
    if (trace_finish(t, &st) < 0) {
        fprintf(stderr, "test_trace: writing %s failed\n", path);
        return 1;
    }
    printf("%llu\n", (unsigned long long)st.records);
    return 0;
}

int main(void)
{
    const char *sample = getenv("EPSCOPE_WRITE_SAMPLE");
    if (sample && *sample)
        return write_sample(sample);

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_trace_round_trip_every_type),
        T(test_trace_round_trip_preview_sizes),
        cmocka_unit_test(test_trace_null_is_noop),
        T(test_trace_empty),
        T(test_trace_overflow_lost_records),
        T(test_trace_file_mode_0600),
        T(test_trace_refuses_overwrite),
        T(test_trace_force_overwrites),
        T(test_trace_refuses_symlink),
        T(test_trace_open_errors),
        T(test_trace_truncated_everywhere),
        T(test_trace_flipped_byte_everywhere),
        T(test_trace_newer_minor_version),
        T(test_trace_garbage_input),
        T(test_trace_refresh_live),
        T(test_trace_refresh_torn_block),
        T(test_trace_reader_config),
        T(test_trace_ahead_same_as_alone),
        T(test_trace_ahead_then_refresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
