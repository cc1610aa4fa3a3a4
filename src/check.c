/* check.c - `epscope check`: every diagnosis in a trace, with its records, what happened,
 * why it is wrong and the fix; the exit status says whether any error was found. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "replay.h"

/* The usage, in two parts around the list of diagnoses, which print_usage() makes from
 * the rules table (src/rules.c): a rule added there is listed here with nothing to copy. */
static const char usage_head[] =
    "usage: epscope check [--json] [--quiet] FILE...\n"
    "\n"
    "Analyse a trace and list every diagnosis: the classic epoll trigger-mode mistakes\n"
    "(errors) and costs (warnings) below. Each finding names its records (seq range),\n"
    "socket and connection, says what happened, explains it and gives the fix.\n"
    "docs/diagnoses.md has them all. Several files (the traces `epscope record` wrote for\n"
    "a program's processes) are checked one after the other.\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "  --json        one JSON object per file (one line each): the file, counts, and\n"
    "                every finding\n"
    "  -q, --quiet   only the summary line\n"
    "  -h, --help    this text\n"
    "\n"
    "Exit status: 0 no error found (warnings allowed), 1 errors found, 2 a file is not a\n"
    "usable trace, is damaged (a corrupt block: its records are unknown, so no verdict is\n"
    "clean), or the report could not be written.\n";

/* Print the usage to f, with every rule's name under its severity, wrapped at 86 columns. */
static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (int errors = 1; errors >= 0; errors--) {
        int col = fprintf(f, "  %-10s", errors ? "errors" : "warnings"), first = 1;
        for (unsigned id = 0; id < RULE_COUNT; id++) {
            if (!rule_is_error(id) != !errors)
                continue;
            int n = (int)strlen(rule_name(id));
            if (!first && col + 2 + n > 86) {
                col = fprintf(f, ",\n  %-10s", "") - 2;
            } else if (!first) {
                col += fprintf(f, ", ");
            }
            col += fprintf(f, "%s", rule_name(id));
            first = 0;
        }
        fputc('\n', f);
    }
    fputs(usage_tail, f);
}

static void wrap(FILE *f, const char *label, const char *text)
{
    /* indent and wrap at 78 columns so a finding reads like a paragraph */
    int col = fprintf(f, "    %s", label);
    const char *p = text;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (col + 1 + (int)n > 78) {
            fprintf(f, "\n    %*s", (int)strlen(label), "");
            col = 4 + (int)strlen(label);
        } else if (p != text) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, n, f);
        col += (int)n;
        p += n;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

/* Check one trace and print its report; returns 0 (no error), 1 (errors) or 2 (no trace). */
static int check_one(const char *path, int json, int quiet)
{
    struct replay *r;
    char err[300];
    if (replay_open(&r, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "epscope check: %s\n", err);
        return 2;
    }
    const struct finding *fs;
    size_t n = replay_findings(r, &fs);
    unsigned errors = 0, warnings = 0, shown = 0;
    for (size_t i = 0; i < n; i++)
        rule_is_error(fs[i].rule) ? errors++ : warnings++;
    const struct reader *rd = replay_reader(r);
    const char *mode = ept_mode_name(replay_mode(r));
    /* all of it: read to the end record, nothing skipped */
    int complete = rd->stop == READER_OK && !rd->ndamaged && replay_counts(r)->ends;
    if (json) {
        char line[2048];
        struct sbuf b;
        printf("{\"file\":\"");
        sb_init(&b, line, sizeof(line));
        sb_escape(&b, (const uint8_t *)path, strlen(path), 1);
        fputs(line, stdout);
        printf("\",\"mode\":\"%s\",\"records\":%llu,\"complete\":%s,\"damaged\":%s,"
               "\"errors\":%u,\"warnings\":%u,\"findings\":[",
               mode, (unsigned long long)replay_count(r), complete ? "true" : "false",
               reader_damaged(rd) ? "true" : "false", errors, warnings);
        for (size_t i = 0; i < n; i++) {
            const struct finding *f = &fs[i];
            uint64_t a, z;
            replay_finding_seqs(r, f, &a, &z);
            sb_init(&b, line, sizeof(line));
            sb_printf(&b, "%s{\"id\":\"%s\",\"severity\":\"%s\",\"first_seq\":%llu,", i ? "," : "",
                      rule_name(f->rule), rule_severity(f->rule), (unsigned long long)a);
            if (f->damaged && !f->count) /* damage to the end: how many is not known */
                sb_puts(&b, "\"last_seq\":null,");
            else
                sb_printf(&b, "\"last_seq\":%llu,", (unsigned long long)z);
            sb_printf(&b, "\"fd\":%d,\"sid\":%u,\"conn\":%u,", f->fd, f->sid, f->conn);
            if (f->damaged && !f->count)
                sb_puts(&b, "\"count\":null,");
            else
                sb_printf(&b, "\"count\":%llu,", (unsigned long long)f->count);
            sb_printf(&b, "\"damaged\":%s,\"what\":\"", f->damaged ? "true" : "false");
            sb_escape(&b, (const uint8_t *)f->what, strlen(f->what), 1);
            sb_puts(&b, "\",\"fix\":\"");
            sb_escape(&b, (const uint8_t *)finding_fix(f), strlen(finding_fix(f)), 1);
            sb_puts(&b, "\"}");
            fputs(line, stdout);
        }
        printf("]}\n");
    } else {
        unsigned seen = 0; /* bit per id explained already */
        for (size_t i = 0; i < n && !quiet; i++) {
            const struct finding *f = &fs[i];
            uint64_t a, z;
            replay_finding_seqs(r, f, &a, &z);
            if (f->damaged && !f->count)
                printf("%s %s: seq %llu on", rule_severity(f->rule), rule_name(f->rule),
                       (unsigned long long)a);
            else
                printf("%s %s: seq %llu-%llu", rule_severity(f->rule), rule_name(f->rule),
                       (unsigned long long)a, (unsigned long long)z);
            if (f->sid)
                printf(", fd %d (s%u", f->fd, f->sid);
            if (f->sid && f->conn)
                printf(" c%u", f->conn);
            if (f->sid)
                printf(")");
            if (f->damaged && !f->count) /* a damaged block's, up to the end */
                printf(", records lost to damage");
            else if (f->damaged)
                printf(", %llu record%s lost to damage", (unsigned long long)f->count,
                       f->count == 1 ? "" : "s");
            else if (f->rule == RULE_LOST_RECORDS) /* its count is of records, not of times */
                printf(", %llu record%s lost", (unsigned long long)f->count,
                       f->count == 1 ? "" : "s");
            else if (f->count > 1)
                printf(", %llu times", (unsigned long long)f->count);
            printf("\n");
            wrap(stdout, "", f->what);
            if (f->damaged) { /* not the ring's doing */
                wrap(stdout, "why: ", finding_explain(f));
                wrap(stdout, "fix: ", finding_fix(f));
            } else if (!(seen & (1u << f->rule))) {
                wrap(stdout, "why: ", rule_explain(f->rule));
                wrap(stdout, "fix: ", rule_fix(f->rule));
                seen |= 1u << f->rule;
            } else {
                printf("    (why and fix: as above)\n");
            }
            if (++shown == 50 && n > 50) {
                printf("... and %zu more findings\n", n - 50);
                break;
            }
        }
        char what[160];
        const struct replay_counts *c = replay_counts(r);
        if (replay_is_proxy(r))
            snprintf(what, sizeof(what), "%s mode", mode);
        else { /* a recorded program has no mode: each registration has its own flags */
            char prog[40] = "?", pid[16] = "?";
            reader_config(rd, "program", prog, sizeof(prog));
            reader_config(rd, "pid", pid, sizeof(pid));
            snprintf(what, sizeof(what), "recorded from %s, pid %s: %llu thread%s, %llu epoll set%s",
                     prog, pid, (unsigned long long)c->threads, c->threads == 1 ? "" : "s",
                     (unsigned long long)c->sets, c->sets == 1 ? "" : "s");
        }
        printf("%s: %u error%s, %u warning%s in %llu records (%s)\n", path, errors,
               errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
               (unsigned long long)replay_count(r), what);
    }
    int damaged = reader_damaged(rd);
    if (rd->ndamaged)
        fprintf(stderr, "epscope check: %s: damaged trace: %llu damaged region%s skipped "
                "(%llu bytes; the first at offset %llu: %s); its records are unknown, so "
                "this verdict is incomplete\n", path, (unsigned long long)rd->ndamaged,
                rd->ndamaged == 1 ? "" : "s", (unsigned long long)rd->damage_bytes,
                (unsigned long long)rd->damage_off, rd->damage_why);
    if (rd->stop == READER_CORRUPT)
        fprintf(stderr, "epscope check: %s: damaged trace: unreadable from offset %llu to the "
                "end (%s); analysed the %llu records before it, so this verdict is "
                "incomplete\n", path, (unsigned long long)rd->stop_off, rd->why,
                (unsigned long long)replay_count(r));
    else if (rd->stop != READER_OK)
        fprintf(stderr, "epscope check: %s: the trace ends early at offset %llu (%s); "
                "analysed the %llu records before it\n", path,
                (unsigned long long)rd->stop_off, rd->why,
                (unsigned long long)replay_count(r));
    else if (!rd->ndamaged && !replay_counts(r)->ends)
        fprintf(stderr,
                "epscope check: %s: no end record (the writer was killed, or is still "
                "writing); analysed the %llu records written so far\n",
                path, (unsigned long long)replay_count(r));
    replay_close(r);
    return damaged ? 2 : errors ? 1 : 0;
}

int check_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int o, json = 0, quiet = 0;
    optind = 1;
    while ((o = cli_getopt("check", argc, argv, "qh", opts, NULL)) != -1) {
        switch (o) {
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': print_usage(stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("check", "unknown option");
        }
    }
    if (optind == argc)
        return cli_usage_error("check", "which trace file?");
    int status = 0;
    for (int i = optind; i < argc; i++) {
        int rc = check_one(argv[i], json, quiet);
        if (rc > status)
            status = rc;
    }
    return status; /* main() checks that the report was written (cli_output_done) */
}
