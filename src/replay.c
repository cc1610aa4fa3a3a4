/* replay.c - a trace opened for reading (see replay.h): block index, the analysis pass,
 * checkpoints, seek.
 *
 * The pass applies every record to its own model (an) with the rules watching; a second
 * model (st) is what seeking moves. A checkpoint is a copy of the pass's model every
 * `every` records; when they grow past CKPT_BUDGET bytes every other one is dropped and
 * the interval doubles, so memory stays bounded on any trace.
 */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define CKPT_EVERY 16384u         /* records between checkpoints, at first */
#define CKPT_BUDGET (32u << 20)   /* bytes of checkpoints before they are thinned */
#define MARK_EVERY 32             /* a block's record offsets kept: one in MARK_EVERY */

struct ckpt {
    uint64_t pos;             /* state after this record */
    size_t bytes;
    struct state st;
};

struct replay {
    struct reader rd;
    struct replay_block *blocks;
    size_t nblocks, bcap;
    uint32_t *marks;          /* per block, the offset in it of record 0, 32, 64... */
    size_t nmarks, mcap;
    uint64_t count;
    uint64_t next_off;        /* where the next unread block starts */
    uint64_t last_seq; /* the seq of the last record read, 0 before the first */
    unsigned mode;
    /* the pass: its own model, the rules watching it, the totals */
    struct state an;
    struct state_hooks hooks;
    struct rules *rules;
    const uint64_t *due; /* the rules' next watch (rules_due) */
    struct replay_counts counts;
    uint64_t first_ns, last_ns;
    uint64_t *gaps;           /* positions right after a damaged region, ascending */
    size_t ngaps, gapcap;
    struct replay_set *sets;  /* every epoll set waited on, in order of first wait */
    size_t nsets, setcap;
    /* the model that seeking moves */
    struct state st;
    const struct state_sock **sorted;
    size_t sorted_cap;
    /* checkpoints */
    struct ckpt *ck;
    size_t nck, ckcap;
    uint64_t ck_every, ck_bytes;
    uint64_t ck_left;         /* records until the next checkpoint */
    /* cache for sequential replay_rec */
    size_t cache_block;
    uint64_t cache_pos;
    size_t cache_byte;
};

/* --- the analysis pass ------------------------------------------------------------------- */

/* A thread's batch ends: count the events whose handling did nothing, then let the rules
 * judge it. */
static void an_batch_end(void *arg, struct state *st, struct state_thread *t, uint64_t pos,
                         uint64_t ns)
{
    struct replay *r = arg;
    (void)st;
    for (uint32_t i = 0; i < t->wait.n; i++) {
        const struct state_event *e = &t->wait.ev[i];
        int did = e->bytes_read || e->bytes_written || e->accepts > e->eagains || e->closed ||
                  e->eof;
        if (!did)
            r->counts.wasted++;
    }
    rules_batch_end(r->rules, t, pos, ns);
}

static void an_drop(void *arg, struct state *st, struct state_sock *s, uint64_t pos,
                    uint64_t ns)
{
    struct replay *r = arg;
    (void)st;
    rules_drop(r->rules, s, pos, ns);
}


/* The totals a record adds; returns its type. */
static unsigned count(struct replay_counts *c, const struct ept_rec *rec)
{
    c->records++;
    switch (rec->type) {
    case EPT_EPOLL_CREATE:
        c->sets++;
        break;
    case EPT_EPOLL_WAIT: {
        EPT_VIEW(struct ept_epoll_wait, w, rec);
        c->waits++;
        if (w->result == 0)
            c->empty_waits++;
        c->blocked_ns += w->blocked_ns;
        break;
    }
    case EPT_READY:
        c->events++;
        break;
    case EPT_EPOLL_CTL: {
        EPT_VIEW(struct ept_epoll_ctl, ctl, rec);
        if (ctl->op >= 1 && ctl->op <= 3)
            c->ctl[ctl->op]++;
        break;
    }
    case EPT_ACCEPT: {
        EPT_VIEW(struct ept_accept, a, rec);
        if (a->result >= 0) {
            c->accepts++;
            c->conns++;
        } else if (a->result == -EAGAIN) {
            c->eagains++;
        }
        break;
    }
    case EPT_CONNECT: {
        EPT_VIEW(struct ept_connect, cn, rec);
        if (cn->phase == 0)
            c->connects++;
        break;
    }
    case EPT_READ:
    case EPT_WRITE: {
        EPT_VIEW(struct ept_io, io, rec);
        if (rec->type == EPT_READ) {
            c->reads++;
            if (io->result > 0)
                c->bytes_read += (uint64_t)io->result;
        } else {
            c->writes++;
            if (io->result > 0)
                c->bytes_written += (uint64_t)io->result;
        }
        if (io->result == -EAGAIN)
            c->eagains++;
        break;
    }
    case EPT_CLOSE:
        c->closes++;
        break;
    case EPT_LOST: {
        EPT_VIEW(struct ept_lost, l, rec);
        c->lost += l->count;
        break;
    }
    default:
        break;
    }
    return rec->type;
}

/* Remember the set the last epoll_wait waited on, the first time one does. */
static void note_set(struct replay *r)
{
    const struct state_thread *t = state_current(&r->an);
    if (!t || !t->wait.set)
        return;
    for (size_t i = 0; i < r->nsets; i++)
        if (r->sets[i].sid == t->wait.set)
            return;
    if (r->nsets == r->setcap) {
        r->setcap = r->setcap ? r->setcap * 2 : 4;
        r->sets = xreallocarray(r->sets, r->setcap, sizeof(*r->sets));
    }
    r->sets[r->nsets++] = (struct replay_set){t->wait.set, t->wait.epfd, t->tid};
}

static void analyse(struct replay *r, const struct ept_rec *rec, uint64_t pos)
{
    struct state_thread *t = state_apply(&r->an, rec, pos);
    rules_record(r->rules, t, rec, pos);
    if (rec->ns >= *r->due) /* nothing watched: UINT64_MAX, never reached */
        rules_watches(r->rules, pos, rec->ns);
    /* the totals after the model (nothing there reads them): the waits and the end are
     * found by count's switch on the type, not by two more tests of every record */
    if (count(&r->counts, rec) == EPT_EPOLL_WAIT)
        note_set(r);
    else if (rec->type == EPT_END) {
        r->counts.ends++;
        rules_end(r->rules, pos, rec->ns);
    }
}

/* --- blocks, checkpoints, open ---------------------------------------------------------- */

static void save_ckpt(struct replay *r)
{
    if (r->nck == r->ckcap) {
        r->ckcap = r->ckcap ? r->ckcap * 2 : 64;
        r->ck = xreallocarray(r->ck, r->ckcap, sizeof(*r->ck));
    }
    struct ckpt *c = &r->ck[r->nck++];
    c->pos = r->an.pos;
    state_init(&c->st);
    state_copy(&c->st, &r->an);
    c->bytes = state_bytes(&c->st);
    r->ck_bytes += c->bytes;
    if (r->ck_bytes > CKPT_BUDGET && r->nck > 2) {
        /* thin: keep every other checkpoint, twice the interval from now on */
        size_t j = 0;
        r->ck_bytes = 0;
        for (size_t i = 0; i < r->nck; i++) {
            if (i % 2 == 0 || i == r->nck - 1) {
                r->ck[j++] = r->ck[i];
                r->ck_bytes += r->ck[i].bytes;
            } else {
                state_free(&r->ck[i].st);
            }
        }
        r->nck = j;
        r->ck_every *= 2;
    }
}

/* Index the complete blocks from r->next_off on and analyse their records. */
static int64_t scan(struct replay *r)
{
    struct reader_block b;
    int64_t added = 0;
    int rc;
    while ((rc = reader_block(&r->rd, r->next_off, &b)) != 0) {
        if (rc < 0) {
            uint64_t next;
            if (!reader_skip(&r->rd, r->next_off, &next))
                break;
            /* records are missing here: the model and the rules take it as a gap */
            state_gap(&r->an);
            rules_damage(r->rules, r->count, r->next_off, next - r->next_off, r->rd.why,
                         r->last_seq + 1); /* a trace's first record is seq 1 */
            if (r->ngaps == r->gapcap) {
                r->gapcap = r->gapcap ? r->gapcap * 2 : 8;
                r->gaps = xreallocarray(r->gaps, r->gapcap, sizeof(*r->gaps));
            }
            r->gaps[r->ngaps++] = r->count;
            r->next_off = next;
            continue;
        }
        if (r->nblocks == r->bcap) {
            r->bcap = r->bcap ? r->bcap * 2 : 256;
            r->blocks = xreallocarray(r->blocks, r->bcap, sizeof(*r->blocks));
        }
        uint32_t n = b.nrec, mark = (uint32_t)r->nmarks;
        /* the records as reader_block found them: one in MARK_EVERY marked for replay_rec */
        size_t need = r->nmarks + (n + MARK_EVERY - 1) / MARK_EVERY;
        if (need > r->mcap) {
            r->mcap = need > 2 * r->mcap ? need : 2 * r->mcap;
            r->marks = xreallocarray(r->marks, r->mcap, sizeof(*r->marks));
        }
        for (uint32_t i = 0; i < n; i += MARK_EVERY)
            r->marks[r->nmarks++] = b.offs[i];
        /* the trace's first time (the first record's that is not 0) and its last */
        for (uint32_t i = 0; i < n && !r->first_ns; i++)
            r->first_ns = ((const struct ept_rec *)(b.recs + b.offs[i]))->ns;
        if (n) {
            const struct ept_rec *last = (const void *)(b.recs + b.offs[n - 1]);
            /* the records a damaged region took end before this block's first */
            rules_damage_end(r->rules, ((const struct ept_rec *)(b.recs + b.offs[0]))->seq);
            r->last_ns = last->ns;
            r->last_seq = last->seq;
        }
        /* the records, in runs that end where a checkpoint is due */
        uint64_t pos = r->count, ck_left = r->ck_left;
        for (uint32_t i = 0; i < n;) {
            uint32_t run = n - i < ck_left ? n - i : (uint32_t)ck_left;
            for (uint32_t end = i + run; i < end; i++, pos++)
                analyse(r, (const struct ept_rec *)(b.recs + b.offs[i]), pos);
            ck_left -= run;
            if (!ck_left) {
                save_ckpt(r);
                ck_left = r->ck_every;
            }
        }
        r->ck_left = ck_left;
        r->blocks[r->nblocks++] = (struct replay_block){b.off, r->count, b.first_seq, n,
                                                        b.length, mark, 0};
        r->count += n;
        added += n;
        r->next_off = b.off + b.length;
    }
    if (r->count)
        r->counts.duration_ns = r->last_ns - r->first_ns;
    r->counts.threads = r->an.nthreads;
    return added;
}

int replay_open(struct replay **out, const char *path, char *err, size_t errlen)
{
    struct replay *r = calloc(1, sizeof(*r));
    int rc;
    *out = NULL;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = reader_open(&r->rd, path, err, errlen);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->mode = r->rd.hdr.mode;
    state_init(&r->st);
    state_init(&r->an);
    r->rules = rules_new(&r->an);
    r->due = rules_due(r->rules);
    r->hooks = (struct state_hooks){r, an_batch_end, an_drop};
    r->an.hooks = &r->hooks;
    r->ck_every = r->ck_left = CKPT_EVERY;
    r->next_off = r->rd.data_off;
    r->cache_block = SIZE_MAX;
    reader_ahead(&r->rd);
    scan(r);
    *out = r;
    return 0;
}

void replay_close(struct replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nck; i++)
        state_free(&r->ck[i].st);
    free(r->ck);
    state_free(&r->st);
    state_free(&r->an);
    rules_free(r->rules);
    free(r->sorted);
    free(r->blocks);
    free(r->marks);
    free(r->sets);
    free(r->gaps);
    reader_close(&r->rd);
    free(r);
}

uint64_t replay_count(const struct replay *r)
{
    return r->count;
}

const struct reader *replay_reader(const struct replay *r)
{
    return &r->rd;
}

size_t replay_nblocks(const struct replay *r)
{
    return r->nblocks;
}

const struct replay_block *replay_block(const struct replay *r, size_t i)
{
    return i < r->nblocks ? &r->blocks[i] : NULL;
}

unsigned replay_mode(const struct replay *r)
{
    return r->mode;
}

int replay_is_proxy(const struct replay *r)
{
    return r->mode != EPT_MODE_NONE;
}

const char *replay_role_name(const struct replay *r, unsigned role)
{
    return replay_is_proxy(r) ? ept_role_name(role) : ept_role_name_recorded(role);
}

int64_t replay_refresh(struct replay *r)
{
    int rc = reader_refresh(&r->rd);
    if (rc < 0)
        return rc;
    r->cache_block = SIZE_MAX;
    return scan(r);
}

/* The block holding position pos (binary search). */
static size_t block_of(const struct replay *r, uint64_t pos)
{
    size_t lo = 0, hi = r->nblocks;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (r->blocks[mid].first <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

const struct ept_rec *replay_rec(struct replay *r, uint64_t pos)
{
    if (pos >= r->count)
        return NULL;
    struct reader_block b;
    size_t bi;
    size_t p;
    uint64_t at;
    /* sequential access is the common case: continue from the last record found */
    if (r->cache_block < r->nblocks && r->cache_pos <= pos &&
        pos < r->blocks[r->cache_block].first + r->blocks[r->cache_block].nrec &&
        pos - r->cache_pos < MARK_EVERY) {
        bi = r->cache_block;
        p = r->cache_byte;
        at = r->cache_pos;
    } else {
        bi = r->cache_block < r->nblocks && r->blocks[r->cache_block].first <= pos &&
                     pos < r->blocks[r->cache_block].first + r->blocks[r->cache_block].nrec
                 ? r->cache_block
                 : block_of(r, pos);
        uint64_t k = (pos - r->blocks[bi].first) / MARK_EVERY;
        p = r->marks[r->blocks[bi].mark + k];
        at = r->blocks[bi].first + k * MARK_EVERY;
    }
    /* verified when it was indexed: no CRC again on every look-up */
    b.recs = r->rd.map + r->blocks[bi].off + EPT_BLOCK_HDR;
    b.recs_len = r->blocks[bi].length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER;
    const struct ept_rec *rec;
    while ((rec = reader_next_rec(&b, &p))) {
        if (at == pos) {
            r->cache_block = bi;
            r->cache_pos = at;
            r->cache_byte = (size_t)((const uint8_t *)rec - b.recs);
            return rec;
        }
        at++;
    }
    return NULL;
}

int replay_walk(struct replay *r, uint64_t from,
                int (*fn)(const struct ept_rec *rec, uint64_t pos, void *arg), void *arg)
{
    if (from >= r->count)
        return 0;
    for (size_t bi = block_of(r, from); bi < r->nblocks; bi++) {
        const struct replay_block *rb = &r->blocks[bi];
        struct reader_block b; /* verified when it was indexed: no CRC again */
        b.recs = r->rd.map + rb->off + EPT_BLOCK_HDR;
        b.recs_len = rb->length - EPT_BLOCK_HDR - EPT_BLOCK_TRAILER;
        uint64_t pos = rb->first;
        size_t p = 0;
        if (pos < from) { /* the walk starts inside this block: from its nearest mark */
            uint64_t k = (from - pos) / MARK_EVERY;
            p = r->marks[rb->mark + k];
            pos += k * MARK_EVERY;
        }
        const struct ept_rec *rec;
        for (; (rec = reader_next_rec(&b, &p)); pos++) {
            int v = pos >= from ? fn(rec, pos, arg) : 0;
            if (v)
                return v;
        }
    }
    return 0;
}

uint64_t replay_pos_of_seq(struct replay *r, uint64_t seq)
{
    if (!r->nblocks)
        return 0;
    size_t lo = 0, hi = r->nblocks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->blocks[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t end = r->blocks[lo].first + r->blocks[lo].nrec;
    for (uint64_t p = r->blocks[lo].first; p < end; p++) {
        const struct ept_rec *rec = replay_rec(r, p);
        if (rec && rec->seq >= seq)
            return p;
    }
    return end < r->count ? end : r->count - 1;
}

int replay_seek(struct replay *r, uint64_t pos)
{
    if (pos >= r->count)
        return -ERANGE;
    struct state *st = &r->st;
    if (st->pos == pos)
        return 0;
    int near = st->pos != UINT64_MAX && st->pos < pos && pos - st->pos <= r->ck_every;
    if (!near) {
        /* the last checkpoint at or before pos */
        size_t lo = 0, hi = r->nck;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->ck[mid].pos <= pos)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0) {
            state_free(st);
            state_init(st);
        } else {
            state_copy(st, &r->ck[lo - 1].st);
        }
    }
    uint64_t at = st->pos == UINT64_MAX ? 0 : st->pos + 1;
    size_t g = 0, hi = r->ngaps; /* the first damaged region at or after at */
    while (g < hi) {
        size_t mid = g + (hi - g) / 2;
        if (r->gaps[mid] < at)
            g = mid + 1;
        else
            hi = mid;
    }
    for (; at <= pos; at++) {
        const struct ept_rec *rec = replay_rec(r, at);
        if (!rec)
            return -ERANGE;
        for (; g < r->ngaps && r->gaps[g] == at; g++)
            state_gap(st); /* as the analysis pass did */
        state_apply(st, rec, at);
    }
    return 0;
}

uint64_t replay_pos(const struct replay *r)
{
    return r->st.pos;
}

const struct state *replay_state(const struct replay *r)
{
    return &r->st;
}

static int by_fd(const void *a, const void *b)
{
    const struct state_sock *x = *(const struct state_sock *const *)a;
    const struct state_sock *y = *(const struct state_sock *const *)b;
    return x->fd != y->fd ? (x->fd < y->fd ? -1 : 1) : (x->sid < y->sid ? -1 : 1);
}

size_t replay_socks(struct replay *r, const struct state_sock ***socks)
{
    struct state *st = &r->st;
    if (st->nsocks > r->sorted_cap) {
        r->sorted_cap = st->nsocks * 2;
        r->sorted = xreallocarray(r->sorted, r->sorted_cap, sizeof(*r->sorted));
    }
    size_t n = 0;
    for (uint32_t i = 0; i < st->nslots; i++)
        if (st->socks[i].sid && st->socks[i].role != EPT_ROLE_EPOLL)
            r->sorted[n++] = &st->socks[i];
    if (n > 1)
        qsort(r->sorted, n, sizeof(*r->sorted), by_fd);
    *socks = r->sorted;
    return n;
}

size_t replay_nsocks(const struct replay *r)
{
    return r->st.nsocks;
}

const struct state_sock *replay_sock(struct replay *r, uint32_t sid)
{
    return state_sock(&r->st, sid);
}

const struct state_wait *replay_wait(const struct replay *r)
{
    static const struct state_wait none = {.pos = UINT64_MAX, .current = -1};
    const struct state_thread *t = state_current(&r->st);
    if (t && t->wait.pos == UINT64_MAX) {
        /* a thread that never waited (the main thread of a threaded server): show the
         * latest batch of any thread */
        const struct state_thread *best = NULL;
        for (uint32_t i = 0; i < r->st.nthreads; i++) {
            const struct state_thread *o = &r->st.threads[i];
            if (o->wait.pos != UINT64_MAX && (!best || o->wait.pos > best->wait.pos))
                best = o;
        }
        t = best;
    }
    return t ? &t->wait : &none;
}

size_t replay_nsets(const struct replay *r)
{
    return r->nsets;
}

const struct replay_set *replay_set(const struct replay *r, size_t i)
{
    return i < r->nsets ? &r->sets[i] : NULL;
}

const struct state_wait *replay_wait_on(const struct replay *r, uint32_t sid)
{
    const struct state_wait *best = NULL;
    for (uint32_t i = 0; sid && i < r->st.nthreads; i++) {
        const struct state_wait *w = &r->st.threads[i].wait;
        if (w->pos != UINT64_MAX && w->set == sid && (!best || w->pos > best->pos))
            best = w;
    }
    return best ? best : replay_wait(r);
}

uint64_t replay_pending(struct replay *r, const struct state_sock *s)
{
    const struct state_sock *p = s->peer ? replay_sock(r, s->peer) : NULL;
    if (!p)
        return REPLAY_UNKNOWN;
    return p->bytes_in > s->bytes_out ? p->bytes_in - s->bytes_out : 0;
}

size_t replay_findings(const struct replay *r, const struct finding **out)
{
    return rules_findings(r->rules, out);
}

void replay_finding_seqs(struct replay *r, const struct finding *f, uint64_t *first,
                         uint64_t *last)
{
    if (f->rule == RULE_LOST_RECORDS && f->first_seq) {
        *first = f->first_seq;
        *last = f->last_seq;
        return;
    }
    const struct ept_rec *a = replay_rec(r, f->first), *z = replay_rec(r, f->last);
    *first = a ? a->seq : 0;
    *last = z ? z->seq : 0;
}

const struct replay_counts *replay_counts(const struct replay *r)
{
    return &r->counts;
}

size_t replay_findings_at(const struct replay *r, uint64_t pos, size_t *idx, size_t max)
{
    const struct finding *f;
    size_t nf = rules_findings(r->rules, &f), n = 0;
    for (size_t i = 0; i < nf && n < max; i++)
        if (f[i].first <= pos && pos <= f[i].last)
            idx[n++] = i;
    return n;
}
