/* workers.c - `epscope proxy --workers N`: a master and N worker processes, as nginx runs.
 *
 * Each worker is the single event loop of proxy.c, unchanged: its own epoll set, trace
 * ring, flusher thread and trace file. Processes rather than threads because that loop
 * keeps its state in one struct and a few statics, the recorder writes one trace per
 * process (as `epscope record` does for a program's processes), and a worker that dies
 * takes only its own connections with it: the master sees it and starts another.
 *
 * The master makes the listening socket(s) before forking, and keeps them: with
 * --accept shared or exclusive every worker listens on the one socket; with reuseport
 * there is one per worker, all bound to the same port with SO_REUSEPORT. A restarted
 * worker gets the same socket back, so connections the kernel queued on it while it was
 * gone are served, not reset. The master then only waits for signals: SIGCHLD (a worker
 * died: say so on stderr and start another in its place) and SIGINT/SIGTERM (pass SIGTERM
 * on to every worker and wait for them all; each closes its trace with its end record; a
 * second signal kills them).
 */
#include "workers.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "trace.h"

#define QUICK_DEATH_NS 1000000000ull /* a worker dead this soon after its start... */
#define QUICK_DEATHS_MAX 5           /* ...this many times in a row is not restarted */

struct worker {
    pid_t pid;            /* 0: not running */
    unsigned gen;         /* how many times it was started, minus one */
    unsigned quick;       /* deaths in a row within QUICK_DEATH_NS of the start */
    uint64_t started;
};

struct master {
    struct proxy_config *cfg;
    int fds[WORKERS_MAX]; /* listening sockets: fds[0] only, or one per worker */
    unsigned nfds;
    struct worker w[WORKERS_MAX];
    sigset_t orig;        /* the signal mask before the master blocked its signals */
    pid_t self;
    int status;           /* the exit status so far */
};

int workers_trace_path(const char *base, unsigned k, unsigned gen, char *out, size_t len)
{
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(slash ? slash + 1 : base, '.');
    if (!dot || dot == (slash ? slash + 1 : base)) /* no extension (".ept" alone is a name) */
        dot = base + strlen(base);
    char num[32];
    if (gen)
        snprintf(num, sizeof(num), ".w%u-%u", k, gen);
    else
        snprintf(num, sizeof(num), ".w%u", k);
    int n = snprintf(out, len, "%.*s%s%s", (int)(dot - base), base, num, dot);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* In the child: become worker k and run its loop; never returns. */
static void worker_main(struct master *m, unsigned k, const char *trace)
{
    struct proxy_config wc = *m->cfg;
    char name[64];
    /* the worker must not outlive a master killed with SIGKILL (nobody would stop it) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != m->self)
        _exit(1); /* the master died before the line above */
    /* SIGINT/SIGTERM stay blocked until proxy_run has its handler (it waits with them
     * unblocked): a stop sent right after the fork waits for the loop instead of killing
     * the worker before its trace is closed */
    sigset_t mask = m->orig;
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    int fd = m->fds[m->nfds > 1 ? k : 0];
    for (unsigned i = 0; i < m->nfds; i++) /* the other workers' sockets are not ours */
        if (m->fds[i] != fd)
            close(m->fds[i]);
    snprintf(name, sizeof(name), "epscope proxy worker %u", k);
    wc.name = name;
    wc.worker = (int)k;
    wc.listen_fd = fd;
    wc.trace_path = trace;
    /* the header says which worker wrote the trace, so a reader of the set can tell */
    size_t cl = strlen(m->cfg->config_text) + 64;
    char *config = malloc(cl);
    if (!config) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", name, cl);
        _exit(1);
    }
    snprintf(config, cl, "%sworker=%u\ngeneration=%u\n", m->cfg->config_text, k,
             m->w[k].gen);
    wc.config_text = config;
    int status = proxy_run(&wc);
    fflush(NULL);
    _exit(status);
}

/* Start worker k (again). Returns 0 or -errno. */
static int worker_start(struct master *m, unsigned k)
{
    struct worker *w = &m->w[k];
    char trace[PATH_MAX];
    if (m->cfg->trace_path) {
        /* a restarted worker writes the next generation's file: the dead one's trace is
         * the evidence of what it did, and is kept */
        for (;;) {
            struct stat st;
            if (workers_trace_path(m->cfg->trace_path, k, w->gen, trace, sizeof(trace)) < 0)
                return -ENAMETOOLONG;
            if (w->gen == 0 || m->cfg->force || lstat(trace, &st) < 0 || w->gen > 10000)
                break;
            w->gen++;
        }
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        worker_main(m, k, m->cfg->trace_path ? trace : NULL);
    w->pid = pid;
    w->started = trace_now();
    fprintf(stderr, "epscope proxy: worker %u started, pid %d%s%s\n", k, (int)pid,
            m->cfg->trace_path ? ", trace " : "", m->cfg->trace_path ? trace : "");
    return 0;
}

/* Reap the workers that exited; restart those that died of a signal unless stopping.
 * Returns how many are still running. */
static unsigned reap(struct master *m, int stopping)
{
    pid_t pid;
    int st;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        unsigned k;
        for (k = 0; k < m->cfg->workers && m->w[k].pid != pid; k++)
            ;
        if (k == m->cfg->workers)
            continue;
        struct worker *w = &m->w[k];
        w->pid = 0;
        if (stopping) {
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "epscope proxy: worker %u (pid %d) stopped with %s %d\n", k,
                        (int)pid, WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                m->status = 1;
            }
            continue;
        }
        if (WIFEXITED(st)) {
            /* it gave up on its own (it could not open its trace, say): it would again */
            fprintf(stderr, "epscope proxy: worker %u (pid %d) exited with status %d; "
                    "stopping\n", k, (int)pid, WEXITSTATUS(st));
            m->status = 1;
            continue;
        }
        w->quick = trace_now() - w->started < QUICK_DEATH_NS ? w->quick + 1 : 0;
        if (w->quick >= QUICK_DEATHS_MAX) {
            fprintf(stderr, "epscope proxy: worker %u (pid %d) killed by signal %d, %u times "
                    "within a second of its start; stopping\n", k, (int)pid, WTERMSIG(st),
                    w->quick);
            m->status = 1;
            continue;
        }
        fprintf(stderr, "epscope proxy: worker %u (pid %d) killed by signal %d; starting "
                "another\n", k, (int)pid, WTERMSIG(st));
        w->gen++;
        int rc = worker_start(m, k);
        if (rc < 0) {
            fprintf(stderr, "epscope proxy: cannot start worker %u: %s\n", k, strerror(-rc));
            m->status = 1;
        }
    }
    unsigned live = 0;
    for (unsigned k = 0; k < m->cfg->workers; k++)
        live += m->w[k].pid != 0;
    return live;
}

/* Send sig to every running worker. */
static void signal_all(struct master *m, int sig)
{
    for (unsigned k = 0; k < m->cfg->workers; k++)
        if (m->w[k].pid > 0)
            kill(m->w[k].pid, sig);
}

/* The listening socket(s): one, or one per worker in reuseport mode, all on the address
 * the first one got (port 0 picks it). Returns 0 or -errno with err filled. */
static int open_listeners(struct master *m, char *err, size_t errlen)
{
    struct proxy_config *cfg = m->cfg;
    unsigned n = cfg->accept == PROXY_ACCEPT_REUSEPORT ? cfg->workers : 1;
    struct net_addr at = cfg->listen;
    char a[80];
    for (m->nfds = 0; m->nfds < n; m->nfds++) {
        enum net_share share = NET_ALONE;
        if (cfg->accept == PROXY_ACCEPT_REUSEPORT)
            share = m->nfds == 0 ? NET_GROUP_NEW : NET_GROUP_JOIN;
        int fd = net_listen_shared(&at, cfg->backlog, share);
        if (fd < 0) {
            net_format(&at, a, sizeof(a));
            snprintf(err, errlen, "cannot listen on %s: %s", a, strerror(-fd));
            return fd;
        }
        m->fds[m->nfds] = fd;
        if (m->nfds == 0)
            net_local(fd, &at);
    }
    net_format(&at, a, sizeof(a));
    printf("listening on %s\n", a);
    fflush(stdout);
    return 0;
}

int workers_run(struct proxy_config *cfg)
{
    static struct master m; /* the cfg copy in each child is large: keep it off the stack */
    char err[300];
    sigset_t block;
    int rc;

    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.self = getpid();
    if (cfg->trace_path && !cfg->force) { /* before listening: fail the way one loop does */
        for (unsigned k = 0; k < cfg->workers; k++) {
            char path[PATH_MAX];
            struct stat st;
            if (workers_trace_path(cfg->trace_path, k, 0, path, sizeof(path)) < 0) {
                fprintf(stderr, "epscope proxy: %s: name too long\n", cfg->trace_path);
                return 1;
            }
            if (lstat(path, &st) == 0) {
                fprintf(stderr, "epscope proxy: %s exists (--force overwrites it)\n", path);
                return 1;
            }
        }
    }
    /* SIGCHLD, SIGINT and SIGTERM are taken with sigwaitinfo: blocked from now on, so none
     * is lost between two waits; a worker puts back the mask it had before this. */
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &m.orig);
    signal(SIGXFSZ, SIG_IGN);
    if ((rc = open_listeners(&m, err, sizeof(err))) < 0) {
        fprintf(stderr, "epscope proxy: %s\n", err);
        m.status = 1;
        goto out;
    }
    for (unsigned k = 0; k < cfg->workers; k++) {
        if ((rc = worker_start(&m, k)) < 0) {
            fprintf(stderr, "epscope proxy: cannot start worker %u: %s\n", k, strerror(-rc));
            m.status = 1;
            break;
        }
    }
    int stopping = m.status != 0, killed = 0;
    unsigned live = reap(&m, stopping);
    if (stopping)
        signal_all(&m, SIGTERM);
    while (live) {
        siginfo_t si;
        int sig = sigwaitinfo(&block, &si);
        if (sig < 0)
            continue; /* EINTR: a signal outside the set (SIGSTOP/SIGCONT) */
        if (sig == SIGINT || sig == SIGTERM) {
            if (!stopping) {
                stopping = 1;
                signal_all(&m, SIGTERM);
            } else if (!killed) { /* asked twice: do not wait for the workers' goodbyes */
                killed = 1;
                signal_all(&m, SIGKILL);
            }
        }
        int was = stopping;
        live = reap(&m, stopping);
        if (!was && m.status) { /* a worker gave up: the rest stop too */
            stopping = 1;
            signal_all(&m, SIGTERM);
        }
    }
out:
    for (unsigned i = 0; i < m.nfds; i++)
        close(m.fds[i]);
    sigprocmask(SIG_SETMASK, &m.orig, NULL);
    if (m.status == 0)
        fprintf(stderr, "epscope proxy: %u workers stopped\n", cfg->workers);
    return m.status;
}
