/* compare.c - `epscope compare`: two or three traces of the same workload side by side, one
 * column per trace, one row per cost figure, and a closing line saying what differs most.
 *
 * Every figure is one a user can find again in `epscope dump` output of the same file (a
 * count of lines, or a sum over them); the usage text says which. The totals come from the
 * replay model's counters; the syscall count is taken here by walking the records. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "fmt.h"
#include "reader.h"
#include "replay.h"

#define MAXCOLS 3
#define CELL 40

static const char usage[] =
    "usage: epscope compare [--json] A.ept B.ept [C.ept]\n"
    "\n"
    "Show two or three traces of the same workload (typically one per trigger mode) side\n"
    "by side: one column per trace, one row per figure, then one line saying which of\n"
    "these differs most between them: epoll_ctl calls per connection, epoll_wait calls\n"
    "per connection, events per wait, wasted events, EAGAINs per connection.\n"
    "\n"
    "Each figure agrees with what 'epscope dump' prints for the same file:\n"
    "  mode                the proxy's; a recorded program's: the trigger modes of its\n"
    "                      epoll_ctl(ADD / epoll_ctl(MOD lines that returned 0 (EPOLLET:\n"
    "                      edge, EPOLLONESHOT: -oneshot), 'level, edge' when it mixed them\n"
    "  client connections  accept4() lines that returned a descriptor\n"
    "  listener wake-ups   'ready' lines for a listening socket; per accepted connection:\n"
    "                      1.0 when each wake-up accepted one, more when loops woke for\n"
    "                      connections another loop took (the thundering herd)\n"
    "  accept EAGAIN       accept4() lines that returned -1 EAGAIN\n"
    "  bytes read/written  the sum of the results of read() / write() lines\n"
    "  epoll_wait calls    epoll_wait( lines; events returned: 'ready' lines;\n"
    "                      empty waits: epoll_wait lines that returned 0\n"
    "  epoll_ctl ADD/MOD/DEL  epoll_ctl(ADD / epoll_ctl(MOD / epoll_ctl(DEL lines\n"
    "  read/write calls    read( / write( lines; EAGAIN results: lines '= -1 EAGAIN'\n"
    "  wasted events       handled events whose handler moved no byte, accepted nothing,\n"
    "                      saw no end of file and closed nothing\n"
    "  syscalls            lines of system calls: epoll_create1, epoll_ctl, epoll_wait,\n"
    "                      listen, accept4, connect, getsockopt, read, write, shutdown,\n"
    "                      close (not ready, handle, pick, notes, timers)\n"
    "  blocked in epoll_wait  the sum of the <seconds> that end each epoll_wait line\n"
    "  duration            from the first record's time to the last one's\n"
    "  diagnoses           findings per id, as 'epscope check' lists them\n"
    "\n"
    "  --json        one JSON object with every figure of every trace\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit status: 0 compared, 2 a file is not a usable trace or is damaged (a corrupt\n"
    "block: the figures are printed without its records), bad options, or the output\n"
    "could not be written.\n";

/* One trace: its model and the figures the model does not keep. */
struct col {
    const char *path;
    char label[CELL];
    struct replay *r;
    const struct replay_counts *c;
    uint64_t syscalls;
    uint64_t wakeups;          /* ready events of a listening socket */
    uint64_t accept_eagain;
    unsigned trig; /* a recorded program's registrations: bit 1 << TRIG_* */
    uint64_t diags[RULE_COUNT];
    uint64_t nfindings;
};

/* A system call the program made (the record table says which types are). */
static int is_syscall(const struct ept_rec *rec)
{
    const struct ept_type_info *t = ept_type(rec->type);
    return t && (t->flags & EPT_T_SYSCALL);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

#define MAXLISTENERS 64 /* a program with more: the ones after are not counted */

/* A registration's trigger mode, by EPOLLET and EPOLLONESHOT (names: trig_names). */
enum { TRIG_LEVEL, TRIG_EDGE, TRIG_LEVEL_ONESHOT, TRIG_EDGE_ONESHOT, TRIG_COUNT };
static const char *const trig_names[TRIG_COUNT] = {"level", "edge", "level-oneshot",
                                                   "edge-oneshot"};

/* The figures of one record the model does not keep: system calls, listener wake-ups
 * (listeners are known from listen() or, in a recorded trace, from first sight) and
 * accepts that found nothing. */
static void count_rec(struct col *k, const struct ept_rec *rec, uint32_t *lsid, int *nl)
{
    if (is_syscall(rec))
        k->syscalls++;
    if (rec->type == EPT_LISTEN || rec->type == EPT_FDINFO) {
        struct ept_sock s;
        int listening = rec->type == EPT_LISTEN;
        if (rec->type == EPT_FDINFO) {
            EPT_VIEW(struct ept_fdinfo, fi, rec);
            listening = (fi->flags & EPT_FDINFO_LISTENING) != 0;
        }
        if (listening && ept_rec_sock(rec, &s) && s.sid && *nl < MAXLISTENERS)
            lsid[(*nl)++] = s.sid;
    } else if (rec->type == EPT_READY) {
        EPT_VIEW(struct ept_ready, e, rec);
        for (int i = 0; i < *nl; i++)
            if (e->s.sid == lsid[i]) {
                k->wakeups++;
                break;
            }
    } else if (rec->type == EPT_ACCEPT) {
        EPT_VIEW(struct ept_accept, a, rec);
        k->accept_eagain += a->result == -EAGAIN;
    } else if (rec->type == EPT_EPOLL_CTL) {
        EPT_VIEW(struct ept_epoll_ctl, c, rec);
        if (c->result == 0 && (c->op == EPOLL_CTL_ADD || c->op == EPOLL_CTL_MOD))
            k->trig |= 1u << (!!(c->events & EPOLLET) + 2 * !!(c->events & EPOLLONESHOT));
    }
}

/* Open one trace and take its figures; 0, or -errno after one line on stderr. */
static int col_open(struct col *k, const char *path)
{
    char err[300];
    int rc = replay_open(&k->r, path, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "epscope compare: %s\n", err);
        return rc;
    }
    k->path = path;
    k->c = replay_counts(k->r);
    uint64_t n = replay_count(k->r);
    if (n == 0) {
        fprintf(stderr, "epscope compare: %s: no complete records to compare\n", path);
        return -ENODATA;
    }
    uint32_t lsid[MAXLISTENERS];
    int nl = 0;
    for (uint64_t pos = 0; pos < n; pos++) {
        const struct ept_rec *rec = replay_rec(k->r, pos);
        if (rec)
            count_rec(k, rec, lsid, &nl);
    }
    const struct finding *fs;
    size_t nf = replay_findings(k->r, &fs);
    for (size_t i = 0; i < nf; i++)
        if (fs[i].rule < RULE_COUNT)
            k->diags[fs[i].rule]++;
    k->nfindings = nf;
    const struct reader *rd = replay_reader(k->r);
    if (rd->ndamaged)
        fprintf(stderr, "epscope compare: %s: damaged trace: %llu damaged region%s skipped "
                "(%llu bytes; the first at offset %llu: %s); its figures leave them out\n",
                path, (unsigned long long)rd->ndamaged, rd->ndamaged == 1 ? "" : "s",
                (unsigned long long)rd->damage_bytes, (unsigned long long)rd->damage_off,
                rd->damage_why);
    if (rd->stop == READER_CORRUPT)
        fprintf(stderr, "epscope compare: %s: damaged trace: unreadable from offset %llu to "
                "the end (%s); compared the %llu records before it\n", path,
                (unsigned long long)rd->stop_off, rd->why, (unsigned long long)n);
    else if (rd->stop != READER_OK)
        fprintf(stderr, "epscope compare: %s: the trace ends early at offset %llu (%s); "
                "compared the %llu records before it\n", path,
                (unsigned long long)rd->stop_off, rd->why, (unsigned long long)n);
    return 0;
}

/* Each column is named by its mode, or by its file when two columns share a mode or it is a
 * recorded program's (which has none). */
static void name_columns(struct col *k, int n)
{
    for (int i = 0; i < n; i++) {
        int dup = replay_mode(k[i].r) == EPT_MODE_NONE;
        for (int j = 0; j < n; j++)
            dup |= j != i && replay_mode(k[j].r) == replay_mode(k[i].r);
        const char *name = dup ? base_name(k[i].path) : ept_mode_name(replay_mode(k[i].r));
        snprintf(k[i].label, sizeof(k[i].label), "%s", name);
    }
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static uint64_t ctl_total(const struct replay_counts *c)
{
    return c->ctl[1] + c->ctl[2] + c->ctl[3];
}

/* --- the closing line ------------------------------------------------------------------- */

/* A figure the closing line may name: its value for a column, the words around it, and
 * a floor below which a difference is noise (so 1 wasted event against 0 does not win
 * over 2.0 epoll_ctl calls per connection against 0.1). */
struct contrast {
    const char *key;          /* JSON name */
    const char *verb;         /* "made %s epoll_ctl calls per connection" */
    int per_conn;             /* undefined without connections */
    int integer;
    double floor;
    double (*value)(const struct col *k);
};

static double v_ctl(const struct col *k)
{
    return ratio(ctl_total(k->c), k->c->conns);
}

static double v_waits(const struct col *k)
{
    return ratio(k->c->waits, k->c->conns);
}

static double v_epw(const struct col *k)
{
    return ratio(k->c->events, k->c->waits);
}

static double v_wasted(const struct col *k)
{
    return (double)k->c->wasted;
}

static double v_eagain(const struct col *k)
{
    return ratio(k->c->eagains, k->c->conns);
}

static const struct contrast contrasts[] = {
    {"epoll_ctl_per_connection", "made %s epoll_ctl calls per connection", 1, 0, 0.5, v_ctl},
    {"epoll_wait_per_connection", "called epoll_wait %s times per connection", 1, 0, 0.5,
     v_waits},
    {"events_per_wait", "got %s events per epoll_wait", 0, 0, 0.5, v_epw},
    {"wasted_events", "handled %s events with nothing to do", 0, 1, 5, v_wasted},
    {"eagain_per_connection", "hit %s EAGAINs per connection", 1, 0, 0.5, v_eagain},
};

#define NCONTRASTS (sizeof(contrasts) / sizeof(contrasts[0]))

static void fmt_value(char *buf, size_t len, double v, int integer)
{
    if (integer)
        snprintf(buf, len, "%.0f", v);
    else if (v != 0 && v < 0.95)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "%.1f", v);
}

/* The contrast with the largest relative spread, (max - min) / (max + floor); -1 when no
 * figure differs by 10% or more. */
static int most_different(const struct col *k, int n)
{
    int best = -1;
    double best_spread = 0.10;
    for (size_t i = 0; i < NCONTRASTS; i++) {
        const struct contrast *x = &contrasts[i];
        double lo = 0, hi = 0;
        int ok = 1;
        for (int j = 0; j < n; j++) {
            if (x->per_conn && !k[j].c->conns)
                ok = 0;
            double v = x->value(&k[j]);
            if (j == 0 || v < lo)
                lo = v;
            if (j == 0 || v > hi)
                hi = v;
        }
        double spread = hi > 0 ? (hi - lo) / (hi + x->floor) : 0;
        if (ok && spread >= best_spread) {
            best = (int)i;
            best_spread = spread;
        }
    }
    return best;
}

/* "edge-oneshot made 2.0 epoll_ctl calls per connection, edge 1.0, level 0.1": the columns
 * from the highest value to the lowest. */
static void closing_line(struct sbuf *b, const struct col *k, int n)
{
    int best = most_different(k, n);
    if (best < 0) {
        sb_puts(b, "no figure differs by 10% or more between these traces");
        return;
    }
    const struct contrast *x = &contrasts[best];
    int order[MAXCOLS];
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort, highest first */
        for (int j = i; j > 0 && x->value(&k[order[j]]) > x->value(&k[order[j - 1]]); j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    char v[32];
    fmt_value(v, sizeof(v), x->value(&k[order[0]]), x->integer);
    sb_printf(b, "%s ", k[order[0]].label);
    sb_printf(b, x->verb, v);
    for (int i = 1; i < n; i++) {
        fmt_value(v, sizeof(v), x->value(&k[order[i]]), x->integer);
        sb_printf(b, ", %s %s", k[order[i]].label, v);
    }
}

/* --- the table -------------------------------------------------------------------------- */

enum { NUM_U64, NUM_RATIO, NUM_SECONDS, NUM_TEXT };

struct row {
    const char *label;
    int kind;
    void (*cell)(const struct col *k, char *out, size_t len);
};

#define U64(name, expr)                                                                  \
    static void name(const struct col *k, char *out, size_t len)                         \
    {                                                                                    \
        snprintf(out, len, "%llu", (unsigned long long)(expr));                          \
    }
#define DBL(name, fmt, expr)                                                             \
    static void name(const struct col *k, char *out, size_t len)                         \
    {                                                                                    \
        snprintf(out, len, fmt, (double)(expr));                                         \
    }

/* The proxy's mode; of a recorded program, the one its registrations used ("level, edge"
 * when they mixed them, as nginx does: its listener level, its connections edge). */
static void c_mode(const struct col *k, char *out, size_t len)
{
    if (replay_mode(k->r) != EPT_MODE_NONE || !k->trig) {
        snprintf(out, len, "%s", ept_mode_name(replay_mode(k->r)));
        return;
    }
    struct sbuf b;
    sb_init(&b, out, len);
    for (int t = 0; t < TRIG_COUNT; t++)
        if (k->trig & (1u << t))
            sb_printf(&b, "%s%s", b.len ? ", " : "", trig_names[t]);
}

DBL(c_duration, "%.3f", (double)k->c->duration_ns / 1e9)
U64(c_conns, k->c->conns)
U64(c_wakeups, k->wakeups)
DBL(c_wake_conn, "%.2f", ratio(k->wakeups, k->c->conns))
U64(c_acc_eagain, k->accept_eagain)
U64(c_bytes_read, k->c->bytes_read)
U64(c_bytes_written, k->c->bytes_written)
U64(c_waits, k->c->waits)
U64(c_events, k->c->events)
DBL(c_epw, "%.2f", ratio(k->c->events, k->c->waits))
U64(c_empty, k->c->empty_waits)
U64(c_add, k->c->ctl[1])
U64(c_del, k->c->ctl[2])
U64(c_mod, k->c->ctl[3])
DBL(c_ctl_conn, "%.2f", ratio(ctl_total(k->c), k->c->conns))
U64(c_reads, k->c->reads)
U64(c_writes, k->c->writes)
U64(c_eagains, k->c->eagains)
U64(c_wasted, k->c->wasted)
U64(c_syscalls, k->syscalls)
DBL(c_sys_conn, "%.1f", ratio(k->syscalls, k->c->conns))
DBL(c_blocked, "%.3f", (double)k->c->blocked_ns / 1e9)
U64(c_nfindings, k->nfindings)

static const struct row rows[] = {
    {"mode", NUM_TEXT, c_mode},
    {"duration (s)", NUM_SECONDS, c_duration},
    {"client connections", NUM_U64, c_conns},
    {"listener wake-ups", NUM_U64, c_wakeups},
    {"wake-ups per accepted conn", NUM_RATIO, c_wake_conn},
    {"accept EAGAIN", NUM_U64, c_acc_eagain},
    {"bytes read", NUM_U64, c_bytes_read},
    {"bytes written", NUM_U64, c_bytes_written},
    {"epoll_wait calls", NUM_U64, c_waits},
    {"events returned", NUM_U64, c_events},
    {"events per wait", NUM_RATIO, c_epw},
    {"empty waits (0 events)", NUM_U64, c_empty},
    {"epoll_ctl ADD", NUM_U64, c_add},
    {"epoll_ctl MOD", NUM_U64, c_mod},
    {"epoll_ctl DEL", NUM_U64, c_del},
    {"epoll_ctl per connection", NUM_RATIO, c_ctl_conn},
    {"read calls", NUM_U64, c_reads},
    {"write calls", NUM_U64, c_writes},
    {"EAGAIN results", NUM_U64, c_eagains},
    {"wasted events (nothing done)", NUM_U64, c_wasted},
    {"syscalls", NUM_U64, c_syscalls},
    {"syscalls per connection", NUM_RATIO, c_sys_conn},
    {"blocked in epoll_wait (s)", NUM_SECONDS, c_blocked},
    {"diagnoses", NUM_U64, c_nfindings},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void print_row(const char *label, int lw, char cells[][CELL], const int *w, int n)
{
    printf("%-*s", lw, label);
    for (int i = 0; i < n; i++)
        printf("  %*s", w[i], cells[i]);
    printf("\n");
}

static void print_table(const struct col *k, int n)
{
    char cells[NROWS + RULE_COUNT + 2][MAXCOLS][CELL];
    const char *labels[NROWS + RULE_COUNT + 2];
    char diaglabel[RULE_COUNT][CELL];
    size_t nr = 0;

    labels[nr] = "trace";
    for (int i = 0; i < n; i++)
        snprintf(cells[nr][i], CELL, "%s", base_name(k[i].path));
    nr++;
    for (size_t r = 0; r < NROWS; r++, nr++) {
        labels[nr] = rows[r].label;
        for (int i = 0; i < n; i++)
            rows[r].cell(&k[i], cells[nr][i], CELL);
    }
    /* one row per diagnosis id that any trace has */
    for (unsigned d = 0; d < RULE_COUNT; d++) {
        uint64_t any = 0;
        for (int i = 0; i < n; i++)
            any += k[i].diags[d];
        if (!any)
            continue;
        snprintf(diaglabel[d], CELL, "  %s", rule_name(d));
        labels[nr] = diaglabel[d];
        for (int i = 0; i < n; i++)
            snprintf(cells[nr][i], CELL, "%llu", (unsigned long long)k[i].diags[d]);
        nr++;
    }
    int lw = 0, w[MAXCOLS] = {0};
    for (size_t r = 0; r < nr; r++) {
        if ((int)strlen(labels[r]) > lw)
            lw = (int)strlen(labels[r]);
        for (int i = 0; i < n; i++)
            if ((int)strlen(cells[r][i]) > w[i])
                w[i] = (int)strlen(cells[r][i]);
    }
    for (int i = 0; i < n; i++)
        w[i] = w[i] < 12 ? 12 : w[i];
    for (size_t r = 0; r < nr; r++)
        print_row(labels[r], lw, cells[r], w, n);
}

/* --- JSON ------------------------------------------------------------------------------- */

static void json_str(const char *s)
{
    char buf[4200];
    struct sbuf b;
    sb_init(&b, buf, sizeof(buf));
    sb_puts(&b, "\"");
    sb_escape(&b, (const uint8_t *)s, strlen(s), 1);
    sb_puts(&b, "\"");
    fputs(buf, stdout);
}

static void print_json(const struct col *k, int n, const char *closing)
{
    printf("{\"traces\":[");
    for (int i = 0; i < n; i++) {
        const struct replay_counts *c = k[i].c;
        printf("%s{\"file\":", i ? "," : "");
        json_str(k[i].path);
        printf(",\"label\":");
        json_str(k[i].label);
        printf(",\"mode\":\"%s\",\"records\":%llu,\"complete\":%s,\"duration_ns\":%llu,"
               "\"connections\":%llu,\"listener_wakeups\":%llu,"
               "\"wakeups_per_connection\":%.4f,\"accept_eagain\":%llu,"
               "\"bytes_read\":%llu,\"bytes_written\":%llu,"
               "\"epoll_wait\":%llu,\"events\":%llu,\"events_per_wait\":%.4f,"
               "\"empty_waits\":%llu,\"epoll_ctl\":{\"ADD\":%llu,\"MOD\":%llu,\"DEL\":%llu},"
               "\"epoll_ctl_per_connection\":%.4f,\"reads\":%llu,\"writes\":%llu,"
               "\"eagain\":%llu,\"wasted\":%llu,\"syscalls\":%llu,"
               "\"syscalls_per_connection\":%.4f,\"blocked_ns\":%llu,\"lost\":%llu,"
               "\"diagnoses\":{",
               ept_mode_name(replay_mode(k[i].r)), (unsigned long long)replay_count(k[i].r),
               replay_reader(k[i].r)->stop == READER_OK && !replay_reader(k[i].r)->ndamaged
                   ? "true" : "false",
               (unsigned long long)c->duration_ns, (unsigned long long)c->conns,
               (unsigned long long)k[i].wakeups, ratio(k[i].wakeups, c->conns),
               (unsigned long long)k[i].accept_eagain,
               (unsigned long long)c->bytes_read, (unsigned long long)c->bytes_written,
               (unsigned long long)c->waits, (unsigned long long)c->events,
               ratio(c->events, c->waits), (unsigned long long)c->empty_waits,
               (unsigned long long)c->ctl[1], (unsigned long long)c->ctl[3],
               (unsigned long long)c->ctl[2], ratio(ctl_total(c), c->conns),
               (unsigned long long)c->reads, (unsigned long long)c->writes,
               (unsigned long long)c->eagains, (unsigned long long)c->wasted,
               (unsigned long long)k[i].syscalls, ratio(k[i].syscalls, c->conns),
               (unsigned long long)c->blocked_ns, (unsigned long long)c->lost);
        int first = 1;
        for (unsigned d = 0; d < RULE_COUNT; d++) {
            if (!k[i].diags[d])
                continue;
            printf("%s\"%s\":%llu", first ? "" : ",", rule_name(d),
                   (unsigned long long)k[i].diags[d]);
            first = 0;
        }
        printf("}}");
    }
    int best = most_different(k, n);
    printf("],\"differs_most\":");
    if (best >= 0)
        printf("\"%s\"", contrasts[best].key);
    else
        printf("null");
    printf(",\"summary\":");
    json_str(closing);
    printf("}\n");
}

int compare_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int o, json = 0;
    optind = 1;
    while ((o = cli_getopt("compare", argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("compare", "unknown option");
        }
    }
    int n = argc - optind;
    if (n < 2 || n > MAXCOLS)
        return cli_usage_error("compare", n < 2 ? "two or three trace files, please"
                                                : "at most three trace files");
    struct col k[MAXCOLS];
    memset(k, 0, sizeof(k));
    int status = 0;
    for (int i = 0; i < n && !status; i++)
        if (col_open(&k[i], argv[optind + i]) < 0)
            status = 2;
    if (!status) {
        name_columns(k, n);
        char closing[512];
        struct sbuf b;
        sb_init(&b, closing, sizeof(closing));
        closing_line(&b, k, n);
        if (json) {
            print_json(k, n, closing);
        } else {
            print_table(k, n);
            printf("\n%s.\n", closing);
        }
        for (int i = 0; i < n; i++)
            if (reader_damaged(replay_reader(k[i].r)))
                status = 2; /* figures of a damaged trace are not the run's */
    }
    for (int i = 0; i < n; i++)
        replay_close(k[i].r);
    return status;
}
