/* proxycmd.c - `epscope proxy`: options, validation, and the trace header's config text. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdlimit.h"
#include "fmt.h"
#include "policy.h"
#include "proxy.h"
#include "trace.h"
#include "workers.h"

static const char usage[] =
    "usage: epscope proxy --backend ADDR:PORT[,weight=N] [--backend ...] [OPTIONS]\n"
    "\n"
    "A TCP (layer 4) reverse proxy with load balancing whose epoll loop runs in one of\n"
    "three trigger modes and can record every epoll event into a trace file.\n"
    "Prints 'listening on ADDR:PORT' on stdout once ready; SIGINT/SIGTERM stop it cleanly.\n"
    "\n"
    "  --listen ADDR:PORT       where to listen (default 127.0.0.1:8080; port 0 picks one;\n"
    "                           IPv6 as [::1]:8080)\n"
    "  --backend ADDR:PORT[,weight=N]\n"
    "                           a backend (repeatable, at least one; weight 1-1000)\n"
    "  --mode MODE              level | edge | edge-oneshot (alias oneshot); default level\n"
    "  --listener-mode MODE     level | edge: the listening socket's trigger (default level)\n"
    "  --balance ALGO           roundrobin (default) | leastconn | hash (client address) |\n"
    "                           random2 (power of two random choices); all weighted\n"
    "  --trace FILE             record every epoll event into FILE (.ept, mode 0600)\n"
    "  --force                  let --trace overwrite an existing file\n"
    "  --ring-size BYTES        trace ring size, a power of two (default 4m)\n"
    "  --preview N              payload bytes kept per read/write record (default 64, 0-1024)\n"
    "  --story                  narrate on stderr, in the words of the origin project\n"
    "  --max-conns N            client connections at once (default 10000, or what the\n"
    "                           descriptor limit holds at 2 a connection); beyond, the\n"
    "                           listener pauses and clients wait in its backlog\n"
    "  --connect-timeout MS     backend connect timeout (default 5000: outlasts the SYN\n"
    "                           retransmits at 1 s and 3 s of a backend whose backlog is full)\n"
    "  --connect-tries N        connect attempts per client, on the next backend or the same\n"
    "                           one, before the client is closed (default 3, 1-64)\n"
    "  --max-fails N            failed connects within --fail-window that take a backend\n"
    "                           out (default 3, 1-1000)\n"
    "  --fail-window MS         the window for --max-fails (default 10000)\n"
    "  --down-time MS           how long a backend taken out is skipped (default 5000, 0 never\n"
    "                           taken out); when every backend is out, they are tried anyway\n"
    "  --idle-timeout MS        close a connection idle this long (default 60000, 0 never)\n"
    "  --buffer BYTES           buffer per direction per connection (default 16k)\n"
    "  --max-events N           epoll_wait batch size (default 256)\n"
    "  --backlog N              listen backlog (default 4096)\n"
    "  --sndbuf BYTES           SO_SNDBUF of each client socket (default: the kernel's\n"
    "                           auto-tuning, up to 4 MiB on loopback): a small one makes\n"
    "                           a slow client fill it, so short writes and EPOLLOUT show\n"
    "  --workers N              event loops, each a process with its own epoll set and\n"
    "                           trace, under a master that restarts a worker that dies\n"
    "                           (default 1: no master; at most 64)\n"
    "  --accept MODE            how the workers share the listening address:\n"
    "                           shared (one socket in every set: all wake for a connection,\n"
    "                           the thundering herd) | exclusive (the same with\n"
    "                           EPOLLEXCLUSIVE: one wakes) | reuseport (a socket per\n"
    "                           worker, SO_REUSEPORT: the kernel spreads connections);\n"
    "                           default reuseport with --workers 2 or more, else shared\n"
    "                           With --trace FILE and N > 1, worker K writes FILE with .wK\n"
    "                           before the extension (run.ept -> run.w0.ept, run.w1.ept...);\n"
    "                           a restarted worker writes run.w1-1.ept, run.w1-2.ept...\n"
    "  --fault NAME             commit one epoll mistake on purpose ('--fault help' lists them)\n"
    "  -h, --help               this text\n";

/* --fault help: every fault and the mode it shows in. */
static int list_faults(void)
{
    printf("faults (--fault NAME), each shown in one trigger mode:\n");
    for (unsigned f = 1; f < FAULT_COUNT; f++) {
        /* the name, then its line wrapped to 80 columns under a 29-column margin */
        const char *h = fault_help(f);
        int col = printf("  %-27s", fault_name(f));
        while (*h) {
            size_t n = strcspn(h, " ");
            if (col + 1 + (int)n > 80 && col > 29) {
                printf("\n%29s", "");
                col = 29;
            }
            col += printf(" %.*s", (int)n, h);
            h += n;
            h += strspn(h, " ");
        }
        putchar('\n');
    }
    return 0;
}

static int bad(const char *opt, const char *arg, const char *what)
{
    return cli_usage_error("proxy", "%s '%s': %s", opt, arg, what);
}

/* What the command line names that is not yet part of the configuration. */
struct proxy_args {
    int max_conns_set; /* --max-conns was given: say so when the limit cuts it */
    const char *listen;
    const char *backends[BALANCE_MAX];
    unsigned nb;
    int algo;
    int accept; /* PROXY_ACCEPT_*, -1: not given */
};

/* The defaults: a level-triggered proxy on 127.0.0.1:8080 (see --help for each). */
static void proxy_defaults(struct proxy_config *c, struct proxy_args *a)
{
    memset(c, 0, sizeof(*c));
    c->mode = EPT_MODE_LEVEL;
    c->listener_mode = EPT_MODE_LEVEL;
    c->preview = TRACE_PREVIEW_DEFAULT;
    c->max_conns = 10000;
    /* 5 s, not 1: a backend whose accept queue is full drops the SYN and the kernel sends
     * it again after 1 s, then 3 s; a shorter timeout races the retransmit and calls a busy
     * backend dead (HAProxy setups use 3-5 s; nginx's default is 60 s). */
    c->connect_timeout_ms = 5000;
    c->connect_tries = 3;
    c->max_fails = 3;
    c->fail_window_ms = 10000;
    c->idle_timeout_ms = 60000;
    c->down_ms = 5000;
    c->buffer = 16384;
    c->max_events = 256;
    c->backlog = 4096;
    c->workers = 1;
    c->worker = -1;
    c->listen_fd = -1;
    c->name = "epscope proxy";
    memset(a, 0, sizeof(*a));
    a->listen = "127.0.0.1:8080";
    a->algo = EPT_ALGO_ROUNDROBIN;
    a->accept = -1;
}

/* Read the options into c and a. Returns -1 to go on, or the exit status (help, usage). */
static int proxy_parse(int argc, char **argv, struct proxy_config *c, struct proxy_args *a)
{
    enum { O_LISTEN = 256, O_BACKEND, O_MODE, O_LMODE, O_BALANCE, O_TRACE, O_FORCE, O_RING,
           O_PREVIEW, O_STORY, O_MAXCONNS, O_CTIMEOUT, O_ITIMEOUT, O_DOWN, O_BUFFER,
           O_MAXEV, O_BACKLOG, O_FAULT, O_SNDBUF, O_CTRIES, O_MAXFAILS, O_FWINDOW, O_WORKERS,
           O_ACCEPT };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"backend", required_argument, NULL, O_BACKEND},
        {"mode", required_argument, NULL, O_MODE},
        {"listener-mode", required_argument, NULL, O_LMODE},
        {"balance", required_argument, NULL, O_BALANCE},
        {"trace", required_argument, NULL, O_TRACE},
        {"force", no_argument, NULL, O_FORCE},
        {"ring-size", required_argument, NULL, O_RING},
        {"preview", required_argument, NULL, O_PREVIEW},
        {"story", no_argument, NULL, O_STORY},
        {"max-conns", required_argument, NULL, O_MAXCONNS},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"idle-timeout", required_argument, NULL, O_ITIMEOUT},
        {"down-time", required_argument, NULL, O_DOWN},
        {"connect-tries", required_argument, NULL, O_CTRIES},
        {"max-fails", required_argument, NULL, O_MAXFAILS},
        {"fail-window", required_argument, NULL, O_FWINDOW},
        {"buffer", required_argument, NULL, O_BUFFER},
        {"max-events", required_argument, NULL, O_MAXEV},
        {"backlog", required_argument, NULL, O_BACKLOG},
        {"sndbuf", required_argument, NULL, O_SNDBUF},
        {"fault", required_argument, NULL, O_FAULT},
        {"workers", required_argument, NULL, O_WORKERS},
        {"accept", required_argument, NULL, O_ACCEPT},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int o, rc;
    uint64_t v;
    long l;
    optind = 1;
    while ((o = cli_getopt("proxy", argc, argv, "h", opts, "backend")) != -1) {
        switch (o) {
        case O_LISTEN: a->listen = optarg; break;
        case O_BACKEND:
            if (a->nb >= BALANCE_MAX)
                return bad("--backend", optarg, "too many backends (at most 64)");
            a->backends[a->nb++] = optarg;
            break;
        case O_MODE:
            if ((rc = ept_mode_parse(optarg)) < 0)
                return bad("--mode", optarg, "expected level, edge or edge-oneshot");
            c->mode = (unsigned)rc;
            break;
        case O_LMODE:
            if ((rc = ept_mode_parse(optarg)) < 0 || rc == EPT_MODE_ONESHOT)
                return bad("--listener-mode", optarg, "expected level or edge");
            c->listener_mode = (unsigned)rc;
            break;
        case O_BALANCE:
            if ((a->algo = balance_algo_parse(optarg)) < 0)
                return bad("--balance", optarg,
                           "expected roundrobin, leastconn, hash or random2");
            break;
        case O_TRACE: c->trace_path = optarg; break;
        case O_FORCE: c->force = 1; break;
        case O_RING:
            if (cli_parse_size(optarg, 4096, 1u << 30, &v) < 0 || (v & (v - 1)))
                return bad("--ring-size", optarg, "a power of two from 4k to 1g");
            c->ring_size = v;
            break;
        case O_PREVIEW:
            if (cli_parse_int(optarg, 0, EPT_PREVIEW_MAX, &l) < 0)
                return bad("--preview", optarg, "0 to 1024 bytes");
            c->preview = (unsigned)l;
            break;
        case O_STORY: c->story = 1; break;
        case O_MAXCONNS:
            if (cli_parse_int(optarg, 1, 1000000, &l) < 0)
                return bad("--max-conns", optarg, "1 to 1000000");
            c->max_conns = (unsigned)l;
            a->max_conns_set = 1;
            break;
        case O_CTIMEOUT:
            if (cli_parse_int(optarg, 1, 3600000, &l) < 0)
                return bad("--connect-timeout", optarg, "1 to 3600000 ms");
            c->connect_timeout_ms = (unsigned)l;
            break;
        case O_ITIMEOUT:
            if (cli_parse_int(optarg, 0, 86400000, &l) < 0)
                return bad("--idle-timeout", optarg, "0 to 86400000 ms");
            c->idle_timeout_ms = (unsigned)l;
            break;
        case O_DOWN:
            if (cli_parse_int(optarg, 0, 3600000, &l) < 0)
                return bad("--down-time", optarg, "0 to 3600000 ms");
            c->down_ms = (unsigned)l;
            break;
        case O_CTRIES:
            if (cli_parse_int(optarg, 1, 64, &l) < 0)
                return bad("--connect-tries", optarg, "1 to 64");
            c->connect_tries = (unsigned)l;
            break;
        case O_MAXFAILS:
            if (cli_parse_int(optarg, 1, 1000, &l) < 0)
                return bad("--max-fails", optarg, "1 to 1000");
            c->max_fails = (unsigned)l;
            break;
        case O_FWINDOW:
            if (cli_parse_int(optarg, 0, 3600000, &l) < 0)
                return bad("--fail-window", optarg, "0 to 3600000 ms");
            c->fail_window_ms = (unsigned)l;
            break;
        case O_BUFFER:
            if (cli_parse_size(optarg, 512, 64u << 20, &v) < 0)
                return bad("--buffer", optarg, "512 bytes to 64m");
            c->buffer = v;
            break;
        case O_MAXEV:
            if (cli_parse_int(optarg, 1, 65536, &l) < 0)
                return bad("--max-events", optarg, "1 to 65536");
            c->max_events = (unsigned)l;
            break;
        case O_SNDBUF:
            if (cli_parse_size(optarg, 2048, 64u << 20, &v) < 0)
                return bad("--sndbuf", optarg, "2k to 64m bytes");
            c->sndbuf = (int)v;
            break;
        case O_BACKLOG:
            if (cli_parse_int(optarg, 1, 65535, &l) < 0)
                return bad("--backlog", optarg, "1 to 65535");
            c->backlog = (int)l;
            break;
        case O_FAULT:
            if (!strcmp(optarg, "help"))
                return list_faults();
            if ((rc = fault_parse(optarg)) < 0)
                return bad("--fault", optarg, "unknown fault ('--fault help' lists them)");
            c->fault = (unsigned)rc;
            break;
        case O_WORKERS:
            if (cli_parse_int(optarg, 1, WORKERS_MAX, &l) < 0)
                return bad("--workers", optarg, "1 to 64");
            c->workers = (unsigned)l;
            break;
        case O_ACCEPT:
            if ((a->accept = proxy_accept_parse(optarg)) < 0)
                return bad("--accept", optarg, "expected shared, exclusive or reuseport");
            break;
        case 'h': fputs(usage, stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("proxy", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("proxy", "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* Descriptors a loop holds besides its connections: stdio, the epoll set, listeners, the
 * trace, the master's pipes, and room to spare. */
#define FD_RESERVE 32

/* Each connection holds two descriptors (client and backend): more connections than the
 * limit (ulimit -n, raised to its hard limit) can hold would fail with EMFILE after their
 * request was read, and be reset. Cap max_conns so the clients beyond wait in the backlog
 * instead, and say so when --max-conns was given (the default is cut silently). */
static void fit_fd_limit(struct proxy_config *c, int given)
{
    long lim = fdlimit_raise();
    if (lim <= 0)
        return;
    long fit = lim > FD_RESERVE + 2 ? (lim - FD_RESERVE) / 2 : 1;
    if ((long)c->max_conns <= fit)
        return;
    if (given)
        fprintf(stderr,
                "epscope proxy: --max-conns %u needs 2 descriptors a connection, and the "
                "limit is %ld (ulimit -n): at most %ld connections at once\n",
                c->max_conns, lim, fit);
    c->max_conns = (unsigned)fit;
}

/* Check what the options say together and complete c (addresses, backends, defaults that
 * depend on other options). Returns -1 to go on, or the exit status after one message. */
static int proxy_prepare(struct proxy_config *c, const struct proxy_args *a)
{
    char err[300];
    if (a->nb == 0)
        return cli_usage_error("proxy", "at least one --backend ADDR:PORT is needed");
    if (net_parse(a->listen, &c->listen, err, sizeof(err)) < 0)
        return cli_usage_error("proxy", "--listen: %s", err);
    balance_init(&c->bal, (unsigned)a->algo, (uint64_t)getpid() * 0x9E3779B97F4A7C15ull);
    balance_health(&c->bal, c->max_fails, (uint64_t)c->fail_window_ms * 1000000u,
                   (uint64_t)c->down_ms * 1000000u);
    for (unsigned i = 0; i < a->nb; i++)
        if (balance_add(&c->bal, a->backends[i], err, sizeof(err)) < 0)
            return cli_usage_error("proxy", "--backend: %s", err);
    if (c->fault) {
        unsigned need = fault_mode(c->fault);
        unsigned have = c->fault == FAULT_ACCEPT_ONCE ? c->listener_mode : c->mode;
        if (need != have)
            return cli_usage_error("proxy", "--fault %s shows only with %s%s (this run uses %s)",
                                   fault_name(c->fault),
                                   c->fault == FAULT_ACCEPT_ONCE ? "--listener-mode " : "--mode ",
                                   ept_mode_name(need), ept_mode_name(have));
    }
    c->accept = (unsigned)(a->accept >= 0   ? a->accept
                           : c->workers > 1 ? PROXY_ACCEPT_REUSEPORT
                                            : PROXY_ACCEPT_SHARED);
    fit_fd_limit(c, a->max_conns_set);
    return -1;
}

/* The configuration as text, for the trace header: readers learn the backends' names and
 * what the run was, without a second file. */
static const char *proxy_config_text(const struct proxy_config *c, int algo)
{
    static char config[16384];
    struct sbuf b;
    char a[80];
    sb_init(&b, config, sizeof(config));
    net_format(&c->listen, a, sizeof(a));
    sb_printf(&b, "program=epscope proxy %s\nmode=%s\nlistener_mode=%s\nbalance=%s\nlisten=%s\n",
              EPSCOPE_VERSION, ept_mode_name(c->mode), ept_mode_name(c->listener_mode),
              ept_algo_name((unsigned)algo), a);
    sb_printf(&b,
              "buffer=%zu\npreview=%u\nmax_conns=%u\nconnect_timeout_ms=%u\n"
              "idle_timeout_ms=%u\ndown_ms=%u\nmax_events=%u\nfault=%s\nbackends=%u\n",
              c->buffer, c->preview, c->max_conns, c->connect_timeout_ms, c->idle_timeout_ms,
              c->down_ms, c->max_events, fault_name(c->fault), c->bal.n);
    sb_printf(&b, "connect_tries=%u\nmax_fails=%u\nfail_window_ms=%u\n", c->connect_tries,
              c->max_fails, c->fail_window_ms);
    if (c->sndbuf)
        sb_printf(&b, "sndbuf=%d\n", c->sndbuf);
    sb_printf(&b, "workers=%u\naccept=%s\n", c->workers, proxy_accept_name(c->accept));
    for (unsigned i = 0; i < c->bal.n; i++) {
        net_format(&c->bal.b[i].addr, a, sizeof(a));
        sb_printf(&b, "backend.%u=%s,weight=%u\n", i, a, c->bal.b[i].weight);
    }
    return config;
}

int proxy_main(int argc, char **argv)
{
    static struct proxy_config cfg; /* large (the backend table): not on the stack */
    struct proxy_args a;
    int rc;
    proxy_defaults(&cfg, &a);
    if ((rc = proxy_parse(argc, argv, &cfg, &a)) >= 0 || (rc = proxy_prepare(&cfg, &a)) >= 0)
        return rc;
    cfg.config_text = proxy_config_text(&cfg, a.algo);
    return cfg.workers > 1 ? workers_run(&cfg) : proxy_run(&cfg);
}
