/* dump.c - `epscope dump`: a trace as text, one line per record, or as JSON Lines. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "chrome.h"
#include "fmt.h"
#include "reader.h"
#include "replay.h"
#include "story.h"

static const char usage[] =
    "usage: epscope dump [--json | --story | --chrome] FILE...\n"
    "\n"
    "Print a trace one record per line, strace-style: sequence number, seconds since the\n"
    "trace began, then the call, e.g.\n"
    "      12    0.004120  epoll_wait(timeout=1000, max=256) = 1 <0.000118>\n"
    "      13    0.004121    ready fd=8 EPOLLIN  [client s3 c1]\n"
    "      15    0.004125  read(8, 16384) = 78 \"GET / HTTP/1.1\\r\\n\"...  [client s3 c1]\n"
    "A call made by a thread other than the main one starts with [tid N]. Works on a trace\n"
    "that is still being written: it prints the complete blocks. Several files (one per\n"
    "process or proxy worker) are printed one after the other, each after a line\n"
    "'==> FILE <==' (with --json: an object {\"type\":\"file\",\"path\":...}).\n"
    "\n"
    "  --json        one JSON object per record (JSON Lines), each with a \"type\"\n"
    "  --story       the run told in the words of the origin project's log (\"Received\n"
    "                incoming data on socket: 8\"), as `proxy --story` prints it live\n"
    "  --chrome      Chrome trace-event JSON for Perfetto (ui.perfetto.dev) or\n"
    "                chrome://tracing (one file at a time): epoll_wait as spans, one\n"
    "                track per socket, the ready-list length as a counter, diagnoses\n"
    "                marked\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit status: 0 all complete records printed, 1 a file has a corrupt block (it is\n"
    "skipped with a line saying where, and the records of the good blocks around it are\n"
    "printed), 2 a file is not a readable trace (the others are printed), or the output\n"
    "could not be written.\n";

struct dump_ctx {
    FILE *out;
    int json;
    struct story *story;
    uint64_t t0;
    uint32_t pid;             /* the writer's: its main thread's records get no prefix */
    uint64_t n;
    int saw_end;
};

static int dump_one(const struct ept_rec *r, void *arg)
{
    struct dump_ctx *c = arg;
    if (c->story) {
        story_rec(c->story, r);
        c->n++;
        c->saw_end |= r->type == EPT_END;
        return ferror(c->out) ? -1 : 0;
    }
    char line[16384]; /* a 1024-byte preview or note, every byte as JSON \u00XX, is 6 KiB */
    struct sbuf b;
    sb_init(&b, line, sizeof(line));
    if (c->json) {
        fmt_rec_json(&b, r, c->t0);
    } else {
        double t = r->ns >= c->t0 ? (double)(r->ns - c->t0) / 1e9 : 0.0;
        sb_printf(&b, "%8llu %12.6f  ", (unsigned long long)r->seq, t);
        if (r->tid && r->tid != c->pid) /* another thread's call, as strace -f marks it */
            sb_printf(&b, "[tid %u] ", r->tid);
        fmt_rec(&b, r);
    }
    fputs(line, c->out);
    fputc('\n', c->out);
    c->n++;
    if (r->type == EPT_END)
        c->saw_end = 1;
    return ferror(c->out) ? -1 : 0;
}

/* A damaged region skipped: say where, in the output's own form, and go on. */
static int dump_damage(const struct reader *r, uint64_t off, uint64_t next, void *arg)
{
    struct dump_ctx *c = arg;
    if (c->story)
        return 0;
    if (c->json)
        fprintf(c->out, "{\"type\":\"damage\",\"offset\":%llu,\"bytes\":%llu,"
                "\"why\":\"%s\"}\n", (unsigned long long)off,
                (unsigned long long)(next - off), r->why);
    else
        fprintf(c->out, "-- damaged: %llu bytes at offset %llu skipped (%s); their records "
                "are unknown --\n", (unsigned long long)(next - off), (unsigned long long)off,
                r->why);
    return ferror(c->out) ? -1 : 0;
}

/* --chrome: the Chrome trace-event JSON of one trace; the exit status. */
static int dump_chrome(const char *path)
{
    char err[256];
    struct replay *r;
    if (replay_open(&r, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "epscope dump: %s\n", err);
        return 2;
    }
    int rc = chrome_write(stdout, r);
    int damaged = reader_damaged(replay_reader(r));
    if (damaged)
        fprintf(stderr, "epscope dump: %s: the trace is damaged (see `epscope dump %s`): "
                "the records of its corrupt blocks are missing\n", path, path);
    replay_close(r);
    if (rc < 0)
        return 2; /* a write failed: main() says so (cli_output_done) */
    return damaged ? 1 : 0;
}

/* A path as a JSON string's insides: a quote, a backslash or a control byte becomes '?'
 * (a name with those is rare; a broken JSON line would be worse). */
static const char *json_safe(const char *path)
{
    static char out[4096];
    size_t i;
    for (i = 0; path[i] && i < sizeof(out) - 1; i++)
        out[i] = path[i] == '"' || path[i] == '\\' || (unsigned char)path[i] < 0x20
                     ? '?' : path[i];
    out[i] = 0;
    return out;
}

/* One trace, every record; the exit status for it (0, 1 damaged, 2 unreadable), or -1
 * when a write to stdout failed. */
static int dump_file(const char *path, struct dump_ctx *c, struct story *story)
{
    char err[256];
    struct reader r;
    if (reader_open(&r, path, err, sizeof(err)) < 0) {
        fflush(stdout);
        fprintf(stderr, "epscope dump: %s\n", err);
        return 2;
    }
    c->t0 = r.hdr.mono_start_ns;
    c->pid = r.hdr.pid;
    c->n = 0;
    c->saw_end = 0;
    if (story)
        story_init(story, stdout);
    int rc = reader_walk(&r, dump_one, dump_damage, c);
    if (story)
        story_end(story);
    if (fflush(stdout) != 0 || rc < 0) {
        reader_close(&r);
        return -1;
    }
    int status = 0;
    if (r.ndamaged) {
        fprintf(stderr, "epscope dump: %s: %llu damaged region%s skipped (%llu bytes; the "
                "first at offset %llu: %s); the records after each were read\n", path,
                (unsigned long long)r.ndamaged, r.ndamaged == 1 ? "" : "s",
                (unsigned long long)r.damage_bytes, (unsigned long long)r.damage_off,
                r.damage_why);
        status = 1;
    }
    if (r.stop == READER_CORRUPT) {
        fprintf(stderr, "epscope dump: %s: stopped at offset %llu: %s; %llu records before it "
                "were read\n", path, (unsigned long long)r.stop_off, r.why,
                (unsigned long long)c->n);
        status = 1;
    } else if (r.stop == READER_TORN) {
        fprintf(stderr, "epscope dump: %s: the file ends inside a block at offset %llu (the "
                "writer was killed or is still writing); %llu complete records read\n", path,
                (unsigned long long)r.stop_off, (unsigned long long)c->n);
    } else if (!c->saw_end) {
        fprintf(stderr, "epscope dump: %s: no end record (the writer was killed or is still "
                "writing); %llu records read\n", path, (unsigned long long)c->n);
    }
    reader_close(&r);
    return status;
}

int dump_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"story", no_argument, NULL, 's'},
        {"chrome", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct story story;
    int chrome = 0;
    struct dump_ctx c = {stdout, 0, NULL, 0, 0, 0, 0};
    int o;
    optind = 1;
    while ((o = cli_getopt("dump", argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'j': c.json = 1; break;
        case 's': c.story = &story; break;
        case 'c': chrome = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("dump", "unknown option");
        }
    }
    if (optind == argc)
        return cli_usage_error("dump", "which trace file?");
    if (c.json + !!c.story + chrome > 1)
        return cli_usage_error("dump", "--json, --story and --chrome: one at a time");
    if (chrome && optind != argc - 1)
        return cli_usage_error("dump", "--chrome: one file at a time");
    if (chrome)
        return dump_chrome(argv[optind]);
    int status = 0, several = argc - optind > 1;
    for (int i = optind; i < argc; i++) {
        if (several && c.json)
            printf("{\"type\":\"file\",\"path\":\"%s\"}\n", json_safe(argv[i]));
        else if (several)
            printf("%s==> %s <==\n", i > optind ? "\n" : "", argv[i]);
        int rc = dump_file(argv[i], &c, c.story ? &story : NULL);
        if (rc < 0)
            return 2; /* a write failed: main() says so (cli_output_done) */
        status = rc > status ? rc : status;
    }
    return status;
}
