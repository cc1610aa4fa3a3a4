/* demo.c - `epscope demo`: the lab in one command. Built-in backends, one proxy per trigger
 * mode, the same paced workload through all three, three traces in a new folder (under
 * $TMPDIR unless --dir names one), and the side-by-side viewer following them live (or,
 * with no terminal, the compare table and the check results). Every part is this same
 * binary started as a child process. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ept.h"
#include "proxy.h"

static const char usage[] =
    "usage: epscope demo [--dir DIR] [--fault NAME] [--no-tui] [--pace MS]\n"
    "       epscope demo --workers N [--accept shared|exclusive|reuseport] [--dir DIR]\n"
    "                    [--no-tui]\n"
    "\n"
    "The epoll lab in one command: starts two built-in backends (a 13-byte \"Hello,\n"
    "world!\" and a 256 KiB body), one proxy per trigger mode (level, edge, edge-oneshot)\n"
    "each recording a trace, and sends the same paced workload through all three: a small\n"
    "request, a large response read by a slow client (several reads and an EPOLLOUT wait),\n"
    "a half-close, and keep-alive requests. On a terminal it opens the three traces side\n"
    "by side in the viewer as they are written, at the first record and paused (n steps,\n"
    "Space plays, G follows the end); quitting the viewer stops everything. A proxy whose\n"
    "trace passes 32 MiB (a --fault that loops) is stopped there, and the demo says so.\n"
    "With no terminal, or --no-tui, it runs the workload to the end and prints the compare\n"
    "table and each trace's check result.\n"
    "\n"
    "  --dir DIR      where the traces go (default: a new $TMPDIR/epscope-demo-DATE-TIME/,\n"
    "                 /tmp when TMPDIR is not set)\n"
    "  --fault NAME   run the mode that shows this mistake with it ('proxy --fault help')\n"
    "  --no-tui       no viewer: run to the end, print the comparison\n"
    "  --pace MS      pause between workload steps (default 800 with the viewer, 0 without)\n"
    "  --workers N    the thundering-herd lesson instead: one level proxy with N (2 or 3)\n"
    "                 workers, each its own process, epoll set and trace, and connections\n"
    "                 arriving one at a time, so idle workers wait on the listener; the N\n"
    "                 traces side by side (or compared and checked)\n"
    "  --accept MODE  with --workers: how they share the port: shared (one listener in\n"
    "                 every epoll set: the herd; the default), exclusive (EPOLLEXCLUSIVE)\n"
    "                 or reuseport (one SO_REUSEPORT listener per worker)\n"
    "  -h, --help     this text\n"
    "\n"
    "Exit status: 0 when the demo ran (diagnoses from a --fault are the point, not an\n"
    "error), 1 when a part of it failed to start or the workload failed unexpectedly.\n";

#define MAXKIDS 16
#define DEMO_TRACE_MAX (32u << 20) /* a mistake that loops stops its proxy here */

static pid_t kids[MAXKIDS];
static int nkids;
static char self[PATH_MAX];

static void kill_all(void)
{
    for (int i = nkids - 1; i >= 0; i--)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    for (int i = nkids - 1; i >= 0; i--)
        if (kids[i] > 0) {
            /* bounded: a child that ignores SIGTERM for 3 s gets SIGKILL */
            for (int t = 0; t < 300; t++) {
                if (waitpid(kids[i], NULL, WNOHANG) == kids[i])
                    goto done;
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
            }
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
        done:
            kids[i] = 0;
        }
    nkids = 0;
}

#define KEEP_OUT 1   /* the child's stdout is ours (else /dev/null, or the addr pipe) */
#define QUIET_ERR 2  /* the child's stderr goes to /dev/null */

/* Start this binary with args; its stdout's first line "listening on ADDR" is read into
 * addr when addr is not NULL. */
static pid_t spawn(char *const args[], char *addr, size_t addrlen, int flags)
{
    int pfd[2] = {-1, -1};
    if (addr && pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (addr)
            dup2(pfd[1], 1);
        else if (!(flags & KEEP_OUT))
            dup2(null, 1);
        if (flags & QUIET_ERR)
            dup2(null, 2);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv(self, args);
        _exit(127);
    }
    if (nkids < MAXKIDS)
        kids[nkids++] = pid;
    if (!addr)
        return pid;
    close(pfd[1]);
    /* wait (at most 5 s) for the "listening on" line */
    char buf[256];
    size_t n = 0;
    struct pollfd p = {pfd[0], POLLIN, 0};
    while (n < sizeof(buf) - 1 && poll(&p, 1, 5000) > 0) {
        ssize_t r = read(pfd[0], buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        if (strchr(buf, '\n'))
            break;
    }
    close(pfd[0]);
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (!nl || strncmp(buf, "listening on ", 13) != 0)
        return -1;
    *nl = 0;
    snprintf(addr, addrlen, "%.*s", (int)(addrlen - 1), buf + 13);
    return pid;
}

static int run(char *const args[])
{
    pid_t pid = spawn(args, NULL, 0, KEEP_OUT);
    if (pid < 0)
        return -1;
    int st;
    waitpid(pid, &st, 0);
    for (int i = 0; i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void pace(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A child that stops any proxy whose trace grows past DEMO_TRACE_MAX (SIGTERM: the proxy
 * closes its trace cleanly), so that a mistake that loops (sticky-epollout writes tens of
 * megabytes a second) cannot fill a lab's disks. It ends when every proxy has. */
static void watchdog(const pid_t pids[3], char traces[3][PATH_MAX])
{
    pid_t w = fork();
    if (w != 0) {
        if (w > 0 && nkids < MAXKIDS)
            kids[nkids++] = w;
        return;
    }
    pid_t p[3] = {pids[0], pids[1], pids[2]};
    for (;;) {
        int alive = 0;
        for (int m = 0; m < 3; m++) {
            struct stat st;
            if (p[m] <= 0 || kill(p[m], 0) < 0) {
                p[m] = 0;
                continue;
            }
            alive++;
            if (stat(traces[m], &st) == 0 && st.st_size > (off_t)DEMO_TRACE_MAX) {
                kill(p[m], SIGTERM);
                p[m] = 0;
            }
        }
        if (!alive)
            _exit(0);
        pace(100);
    }
}

/* After the run: say which traces the watchdog cut short. */
static void report_cut(char traces[3][PATH_MAX])
{
    static const char *const modes[] = {"level", "edge", "edge-oneshot"};
    for (int m = 0; m < 3; m++) {
        struct stat st;
        if (stat(traces[m], &st) == 0 && st.st_size > (off_t)DEMO_TRACE_MAX)
            printf("epscope demo: the %s proxy was stopped when its trace passed %u MiB "
                   "(a mistake that loops)\n", modes[m], DEMO_TRACE_MAX >> 20);
    }
}

/* Run the viewer in the foreground until the user quits it, then stop everything. */
static void view_then_stop(char *const view[])
{
    pid_t v = fork();
    if (v == 0) {
        execv(self, view);
        _exit(127);
    }
    int st;
    signal(SIGINT, SIG_IGN); /* the viewer handles the keyboard; we wait for it */
    if (v > 0)
        waitpid(v, &st, 0);
    kill_all();
}

/* The workload, step by step, sent to every proxy at once so the columns move together. */
static int workload(char urls[3][128], long pace_ms, const char *fault)
{
    static char *steps[][8] = {
        {"-n", "1", NULL},                                  /* a small request, 13 bytes */
        {"-n", "1", "--slow-read", "256k", NULL},           /* 256 KiB to a slow reader */
        {"-n", "1", "--half-close", NULL},                  /* request, then SHUT_WR */
        {"-n", "1", "--slow-read", "256k", "--half-close", NULL},
        {"-n", "4", "--keepalive", NULL},                   /* keep-alive: one connection */
    };
    int failed = 0;
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        pid_t pids[3];
        for (int m = 0; m < 3; m++) {
            char *args[16] = {"epscope", "load", urls[m], "-q", "--timeout", "3000"};
            int k = 6;
            for (int j = 0; steps[s][j]; j++)
                args[k++] = steps[s][j];
            args[k] = NULL;
            pids[m] = spawn(args, NULL, 0, QUIET_ERR);
        }
        for (int m = 0; m < 3; m++) {
            int st;
            if (pids[m] < 0 || waitpid(pids[m], &st, 0) < 0 || !WIFEXITED(st) ||
                WEXITSTATUS(st) != 0)
                failed++;
            for (int i = 0; i < nkids; i++)
                if (kids[i] == pids[m])
                    kids[i] = 0;
        }
        pace(pace_ms);
    }
    /* with a fault, failed requests are what the class came to see */
    return fault ? 0 : failed;
}

/* What the command line asked for. */
struct demo_opts {
    const char *dir;   /* where the traces go */
    const char *fault; /* a --fault name, NULL for none */
    int fault_id;      /* its FAULT_* */
    int tui;           /* open the viewer (a terminal, and no --no-tui) */
    long pace_ms;      /* pause between workload steps */
    long workers;      /* the herd lesson: this many workers (0: the modes lab) */
    const char *accept; /* and how they share the listener */
};

/* Fill o from the command line. Returns -1 to go on, or the exit status (usage, help). */
static int demo_parse(int argc, char **argv, struct demo_opts *o, char *dirbuf, size_t dirlen)
{
    enum { O_DIR = 256, O_FAULT, O_NOTUI, O_PACE, O_WORKERS, O_ACCEPT };
    static const struct option opts[] = {
        {"dir", required_argument, NULL, O_DIR},
        {"fault", required_argument, NULL, O_FAULT},
        {"no-tui", no_argument, NULL, O_NOTUI},
        {"pace", required_argument, NULL, O_PACE},
        {"workers", required_argument, NULL, O_WORKERS},
        {"accept", required_argument, NULL, O_ACCEPT},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int notui = 0, c;
    *o = (struct demo_opts){.pace_ms = -1};
    optind = 1;
    while ((c = cli_getopt("demo", argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DIR: o->dir = optarg; break;
        case O_FAULT:
            if ((o->fault_id = fault_parse(optarg)) <= 0)
                return cli_usage_error("demo", "--fault '%s': unknown ('epscope proxy --fault "
                                       "help' lists them)", optarg);
            if (o->fault_id == FAULT_EDGE_HOG) /* its bodies are kilobytes: nothing to hog */
                return cli_usage_error("demo", "--fault edge-hog needs downloads of "
                                       "megabytes, which the demo does not make: see "
                                       "traces/fault-edge-hog.ept");
            o->fault = optarg;
            break;
        case O_NOTUI: notui = 1; break;
        case O_PACE:
            if (cli_parse_int(optarg, 0, 60000, &o->pace_ms) < 0)
                return cli_usage_error("demo", "--pace '%s': 0 to 60000 ms", optarg);
            break;
        case O_WORKERS:
            if (cli_parse_int(optarg, 2, 3, &o->workers) < 0)
                return cli_usage_error("demo", "--workers '%s': 2 or 3 (side by side)", optarg);
            break;
        case O_ACCEPT:
            if (strcmp(optarg, "shared") && strcmp(optarg, "exclusive") &&
                strcmp(optarg, "reuseport"))
                return cli_usage_error("demo", "--accept '%s': shared, exclusive or "
                                       "reuseport", optarg);
            o->accept = optarg;
            break;
        case 'h': fputs(usage, stdout); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("demo", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (o->accept && !o->workers)
        return cli_usage_error("demo", "--accept goes with --workers");
    if (o->workers && o->fault)
        return cli_usage_error("demo", "--workers and --fault: one lesson at a time");
    if (o->workers && !o->accept)
        o->accept = "shared";
    o->tui = !notui && isatty(0) && isatty(1) && getenv("TERM") &&
             strcmp(getenv("TERM"), "dumb") != 0;
    if (o->pace_ms < 0)
        o->pace_ms = o->tui ? 800 : 0;
    if (!o->dir) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        /* never in the current directory: that is often the source tree */
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        char stamp[64];
        strftime(stamp, sizeof(stamp), "epscope-demo-%Y%m%d-%H%M%S", &tm);
        snprintf(dirbuf, dirlen, "%.*s/%s", PATH_MAX - 80, tmp, stamp);
        o->dir = dirbuf;
    }
    return -1;
}

/* Run the demo o describes: start everything, run the workload, report. Returns the exit
 * status. */
static int demo_run(const struct demo_opts *o)
{
    const char *dir = o->dir, *fault = o->fault;
    int fault_id = o->fault_id, tui = o->tui;
    long pace_ms = o->pace_ms;

    static const char *modes[3] = {"level", "edge", "edge-oneshot"};
    char be[2][128], px[3][128], urls[3][128], traces[3][PATH_MAX];
    pid_t ppid[3] = {0, 0, 0};
    int status = 1;
    char *b1[] = {"epscope", "backend", "--listen", "127.0.0.1:0", "--name", "hello", NULL};
    char *b2[] = {"epscope", "backend", "--listen", "127.0.0.1:0", "--name", "big", "--size",
                  "256k", NULL};
    signal(SIGPIPE, SIG_IGN);
    if (spawn(b1, be[0], sizeof(be[0]), QUIET_ERR) < 0 || spawn(b2, be[1], sizeof(be[1]), QUIET_ERR) < 0) {
        fprintf(stderr, "epscope demo: the built-in backends did not start\n");
        goto out;
    }
    for (int m = 0; m < 3; m++) {
        snprintf(traces[m], sizeof(traces[m]), "%.*s/%s.ept", PATH_MAX - 32, dir, modes[m]);
        char *args[32] = {"epscope", "proxy", "--listen", "127.0.0.1:0", "--mode",
                          (char *)modes[m], "--backend", be[0], "--backend", be[1],
                          "--trace", traces[m], "--force", "--preview", "128",
                          "--idle-timeout", "2000", "--sndbuf", "16k"};
        int k = 19; /* a small send buffer: the slow client fills it, EPOLLOUT shows */
        unsigned need = fault_id ? fault_mode((unsigned)fault_id) : EPT_MODE_NONE;
        if (fault_id && ept_mode_parse(modes[m]) == (int)need) {
            args[k++] = "--fault";
            args[k++] = (char *)fault;
            if (fault_id == FAULT_ACCEPT_ONCE) {
                args[k++] = "--listener-mode";
                args[k++] = "edge";
            }
        }
        args[k] = NULL;
        if ((ppid[m] = spawn(args, px[m], sizeof(px[m]), QUIET_ERR)) < 0) {
            fprintf(stderr, "epscope demo: the %s proxy did not start\n", modes[m]);
            goto out;
        }
        snprintf(urls[m], sizeof(urls[m]), "http://%s/", px[m]);
    }
    watchdog(ppid, traces);
    if (!tui)
        printf("epscope demo: backends %s and %s; proxies: level %s, edge %s, edge-oneshot "
               "%s; traces in %s/\n", be[0], be[1], px[0], px[1], px[2], dir);
    fflush(stdout);

    if (tui) {
        /* the workload in a child, the viewer in the foreground */
        pid_t w = fork();
        if (w == 0) {
            pace(500);
            _exit(workload(urls, pace_ms, fault) ? 1 : 0);
        }
        if (w > 0 && nkids < MAXKIDS)
            kids[nkids++] = w;
        /* from the first record, paused: the teacher steps through (G follows the end) */
        char *view[] = {"epscope", "view", "--follow", "--from-start", traces[0], traces[1],
                        traces[2], NULL};
        view_then_stop(view);
        report_cut(traces);
        printf("epscope demo: traces kept in %s/ (try '%s check %s')\n", dir, cli_self(),
               traces[0]);
        status = 0;
        goto out;
    }

    if (workload(urls, pace_ms, fault)) {
        fprintf(stderr, "epscope demo: requests failed without a fault\n");
        goto out;
    }
    kill_all(); /* SIGTERM: the proxies close their traces cleanly */
    report_cut(traces);
    printf("\n");
    fflush(stdout);
    char *cmp[] = {"epscope", "compare", traces[0], traces[1], traces[2], NULL};
    run(cmp);
    printf("\n");
    fflush(stdout);
    for (int m = 0; m < 3; m++) {
        char *chk[] = {"epscope", "check", "--quiet", traces[m], NULL};
        if (fault_id && ept_mode_parse(modes[m]) ==
                            (int)fault_mode((unsigned)fault_id))
            chk[2] = traces[m], chk[3] = NULL; /* the faulty one in full */
        run(chk);
        fflush(stdout);
    }
    printf("\nNext: '%s view %s %s %s' to step through them side by side.\n", cli_self(),
           traces[0], traces[1], traces[2]);
    status = 0;
out:
    kill_all();
    return status;
}

/* What both lessons need first: this binary's path (every part is it, started as a
 * child) and the traces' folder. Returns 0, or the exit status after one line on stderr
 * (EXIT_USAGE when --dir names something that is not a directory). */
static int demo_prepare(const struct demo_opts *o)
{
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        fprintf(stderr, "epscope demo: cannot find my own binary: %s\n", strerror(errno));
        return 1;
    }
    self[sl] = 0;
    if (strlen(o->dir) > PATH_MAX - 64) {
        fprintf(stderr, "epscope demo: --dir path too long\n");
        return 1;
    }
    if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "epscope demo: cannot create %s: %s\n", o->dir, strerror(errno));
        return 1;
    }
    /* an existing file passes mkdir's EEXIST; without this the proxies could not open their
     * traces in it and the demo failed later, saying only that a proxy did not start */
    struct stat st;
    if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "epscope demo: %s is not a directory\n", o->dir);
        return EXIT_USAGE;
    }
    return 0;
}

/* The thundering-herd lesson: one level proxy with o->workers workers sharing the port as
 * o->accept says, connections one at a time (paced, so the workers wait idle on the
 * listener between them), and the workers' traces side by side, or compared and checked.
 * Returns the exit status. */
static int demo_workers(const struct demo_opts *o)
{
    int n = (int)o->workers, status = 1;
    char be[128], px[128], url[160], base[PATH_MAX], traces[3][PATH_MAX], nw[8];
    char *b1[] = {"epscope", "backend", "--listen", "127.0.0.1:0", "--name", "hello", NULL};
    signal(SIGPIPE, SIG_IGN);
    if (spawn(b1, be, sizeof(be), QUIET_ERR) < 0) {
        fprintf(stderr, "epscope demo: the built-in backend did not start\n");
        goto out;
    }
    snprintf(base, sizeof(base), "%.*s/herd-%s.ept", PATH_MAX - 64, o->dir, o->accept);
    snprintf(nw, sizeof(nw), "%d", n);
    char *args[] = {"epscope", "proxy", "--listen", "127.0.0.1:0", "--backend", be,
                    "--workers", nw, "--accept", (char *)o->accept, "--trace", base,
                    "--force", "--preview", "64", NULL};
    if (spawn(args, px, sizeof(px), QUIET_ERR) < 0) {
        fprintf(stderr, "epscope demo: the proxy did not start\n");
        goto out;
    }
    snprintf(url, sizeof(url), "http://%s/", px);
    for (int w = 0; w < n; w++) { /* the workers' traces: run.ept -> run.w0.ept ... */
        snprintf(traces[w], sizeof(traces[w]), "%.*s/herd-%s.w%d.ept", PATH_MAX - 64, o->dir,
                 o->accept, w);
        struct stat st;
        for (int tries = 0; tries < 50 && stat(traces[w], &st) < 0; tries++)
            pace(20);
    }
    /* One connection at a time, 2.5 ms apart: the workers are idle in epoll_wait when each
     * arrives. How many losers a trace shows depends on the scheduler (a loser must look at
     * the listener before the winner's accept): measured at 5 a second, a worker showed
     * about one in 20 connections, too few for check; at 400 a second, 200 connections
     * made every shared worker's trace warn. The viewer opens paused at the first record,
     * so the pace is not seen. */
    char *load[] = {"epscope", "load", url, "-q", "-n", "200", "-c", "1", "--rate", "400", NULL};
    if (!o->tui)
        printf("epscope demo: %d workers, --accept %s, on %s; traces in %s/\n", n, o->accept,
               px, o->dir);
    fflush(stdout);
    if (o->tui) {
        spawn(load, NULL, 0, QUIET_ERR); /* in the background: kill_all() ends it */
        char *view[] = {"epscope", "view", "--follow", "--from-start", "--align", "time",
                        traces[0], traces[1], n > 2 ? traces[2] : NULL, NULL};
        view_then_stop(view);
        printf("epscope demo: traces kept in %s/ (try '%s check %s/herd-%s.w*.ept')\n", o->dir,
               cli_self(), o->dir, o->accept);
        status = 0;
        goto out;
    }
    if (run(load)) {
        fprintf(stderr, "epscope demo: requests failed\n");
        goto out;
    }
    kill_all(); /* SIGTERM to the master: every worker closes its trace */
    printf("\n");
    fflush(stdout);
    char *cmp[] = {"epscope", "compare", traces[0], traces[1], n > 2 ? traces[2] : NULL, NULL};
    run(cmp);
    printf("\n");
    fflush(stdout);
    char *chk[] = {"epscope", "check", traces[0], traces[1], n > 2 ? traces[2] : NULL, NULL};
    run(chk);
    printf("\nNext: '%s view %s %s%s%s' to see the workers side by side.\n", cli_self(), traces[0],
           traces[1], n > 2 ? " " : "", n > 2 ? traces[2] : "");
    status = 0;
out:
    kill_all();
    return status;
}

int demo_main(int argc, char **argv)
{
    struct demo_opts o;
    char dirbuf[PATH_MAX];
    int rc = demo_parse(argc, argv, &o, dirbuf, sizeof(dirbuf));
    if (rc >= 0)
        return rc;
    rc = demo_prepare(&o);
    if (rc)
        return rc;
    return o.workers ? demo_workers(&o) : demo_run(&o);
}
