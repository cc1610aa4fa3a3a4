/* main.c - the epscope binary: dispatches to its subcommands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command {
    const char *name;
    int (*main)(int, char **);
    const char *what;
} commands[] = {
    {"proxy", proxy_main, "the epoll reverse proxy (level, edge or edge-oneshot), traced"},
    {"backend", backend_main, "a small epoll HTTP/1.1 origin server for demos and tests"},
    {"load", load_main, "an HTTP load client that checks every response byte for byte"},
    {"demo", demo_main, "the lab in one command: three proxies, one workload, three traces"},
    {"check", check_main, "find the epoll mistakes in a trace, explained (exit 1 if any)"},
    {"compare", compare_main, "two or three traces of one workload side by side: the costs"},
    {"dump", dump_main, "print a trace as text (one line per record) or JSON Lines"},
    {"view", view_main, "the curses viewer: replay traces (one, or two or three side by side)"},
    {"record", record_main, "run any program with its epoll and socket calls traced"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: epscope COMMAND [OPTIONS] [ARGS]\n\n"
               "epscope shows how epoll trigger modes (level, edge, edge-oneshot) work: a real\n"
               "epoll reverse proxy that records every epoll event into a trace, and tools that\n"
               "replay and explain those traces.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "  %-10s %s\n", "help", "this text, or 'help COMMAND' for a command's options");
    fprintf(f, "\n'epscope COMMAND --help' describes each command. Version %s.\n",
            EPSCOPE_VERSION);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    cli_set_self(argv[0]);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && find(argv[2])) {
            char *av[] = {argv[2], "--help", NULL};
            return cli_output_done(argv[2], find(argv[2])->main(2, av));
        }
        if (argc > 2 && strcmp(argv[2], "help")) {
            /* help for a command that does not exist is as wrong as running it */
            fprintf(stderr, "epscope: unknown command '%s'\n\n", argv[2]);
            usage(stderr);
            return EXIT_USAGE;
        }
        usage(stdout);
        return cli_output_done(NULL, 0);
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("epscope %s\n", EPSCOPE_VERSION);
        return cli_output_done(NULL, 0);
    }
    const struct command *c = find(cmd);
    if (!c) {
        fprintf(stderr, "epscope: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN); /* a closed socket or pipe is an error return, not a death */
    /* every command's output is checked once, here: a report that did not reach its reader
     * must not exit 0 */
    return cli_output_done(c->name, c->main(argc - 1, argv + 1));
}
