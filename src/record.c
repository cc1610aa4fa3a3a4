/* record.c - `epscope record -- CMD`: runs any dynamically linked program with the recorder
 * library preloaded (src/preload.c), so that its epoll and socket calls land in .ept traces
 * that dump, check, view, compare and --chrome read like the proxy's. CMD keeps its own
 * stdin, stdout, stderr, signals and exit status; record says at the end which traces
 * were written and how to look at them. */
#include "cli.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "reader.h"
#include "ring.h"

#ifndef EPSCOPE_LIBDIR
#define EPSCOPE_LIBDIR "/usr/local/lib/epscope"
#endif

static const char usage[] =
    "usage: epscope record [-o FILE] [--force] [--ring SIZE] [--no-data] [--preview N]\n"
    "                      [--quiet] -- CMD [ARGS...]\n"
    "\n"
    "Run CMD with epscope's recorder preloaded (LD_PRELOAD): every epoll call of the\n"
    "program (epoll_create, epoll_ctl, epoll_wait and each event it returns) and every call\n"
    "on its sockets (socket, listen, accept, connect, read/recv, write/send, sendfile,\n"
    "shutdown, close, dup) goes into a trace that `epscope check`, `view`, `dump` and\n"
    "`compare` read. Works on any dynamically linked program: a student's server, nginx,\n"
    "redis, python's asyncio, node.\n"
    "\n"
    "  -o, --output FILE  the trace of CMD's process (default: CMDNAME.PID.ept here); any\n"
    "                     other process of its tree that makes such calls (a forked\n"
    "                     worker, an exec'ed child) writes FILE with its pid before the\n"
    "                     extension (run.ept -> run.4242.ept)\n"
    "  -f, --force        replace FILE if it exists (never through a symbolic link)\n"
    "      --ring SIZE    bytes of ring per thread of CMD (default 1m; a power of two from\n"
    "                     4k to 1g): a bigger ring loses fewer records under heavy load\n"
    "      --no-data      keep no payload bytes, only sizes (default: the first 64 bytes\n"
    "                     of each read and write, for dump and the viewer)\n"
    "      --preview N    payload bytes kept per read or write, 0 to 1024 (default 64)\n"
    "  -q, --quiet        do not list the traces written at the end\n"
    "  -h, --help         this text\n"
    "\n"
    "Signals sent to record (INT, TERM, HUP, QUIT, USR1, USR2) reach CMD. Traces are\n"
    "written as CMD runs (a few milliseconds behind), so a CMD killed without running its\n"
    "exit handlers still leaves a readable trace. A statically linked program, or one\n"
    "that makes raw system calls (Go), gives nothing to record: strace sees those.\n"
    "\n"
    "A process whose trace cannot be opened or written (a full disk, a file size limit)\n"
    "is reported at the end with the error and what it lost. If CMD exits while processes\n"
    "it started still run (a daemon), record says which; their traces go on being written.\n"
    "\n"
    "Exit status: CMD's (128+N when a signal N ended it), 127 when CMD cannot be found,\n"
    "126 when it cannot be run, 2 for bad options, 1 when record cannot start it or when\n"
    "CMD exited 0 but a trace could not be written whole.\n";

/* --- finding things ----------------------------------------------------------------------- */

/* buf = a "/" b c: 0, or -ENAMETOOLONG (then buf is left empty). */
static int path_join(char *buf, size_t len, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (la + 1 + lb + lc + 1 > len) {
        buf[0] = 0;
        return -ENAMETOOLONG;
    }
    memcpy(buf, a, la);
    buf[la] = '/';
    memcpy(buf + la + 1, b, lb);
    memcpy(buf + la + 1 + lb, c, lc + 1);
    return 0;
}

/* The recorder library: next to this binary (the build tree), in ../lib/epscope beside it
 * (an install, wherever its prefix), else where this build was told it would be installed.
 * Returns 0 with its path in buf, or -ENOENT with where it looked in `where`. */
static int find_library(char *buf, size_t len, char *where, size_t wlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    where[0] = 0;
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            if (path_join(buf, len, self, PRELOAD_LIB, "") == 0 && access(buf, R_OK) == 0)
                return 0;
            snprintf(where, wlen, "%s", buf);
            if (path_join(buf, len, self, "../lib/epscope/", PRELOAD_LIB) == 0 &&
                access(buf, R_OK) == 0)
                return 0;
            size_t w = strlen(where);
            snprintf(where + w, wlen - w, ", %s", buf);
        }
    }
    snprintf(buf, len, "%s/%s", EPSCOPE_LIBDIR, PRELOAD_LIB);
    if (access(buf, R_OK) == 0)
        return 0;
    size_t w = strlen(where);
    snprintf(where + w, wlen - w, "%s%s", w ? " and " : "", buf);
    return -ENOENT;
}

/* CMD as execvp would find it, into buf: 0, -ENOENT, or -EACCES. */
static int find_command(const char *cmd, char *buf, size_t len)
{
    if (strchr(cmd, '/')) {
        snprintf(buf, len, "%s", cmd);
        if (access(buf, F_OK) < 0)
            return -ENOENT;
        return access(buf, X_OK) < 0 ? -EACCES : 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int denied = 0;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(buf, len, "%.*s%s%s", (int)dl, p, dl ? "/" : "", cmd);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0)
                return 0;
            denied = 1;
        }
        p += dl + (colon ? 1 : 0);
        if (!colon)
            break;
    }
    return denied ? -EACCES : -ENOENT;
}

/* Whether the ELF file at path is statically linked (no program interpreter): 1, 0, or -1
 * when it is no ELF file (a script, whose interpreter is usually dynamic). */
static int is_static(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    Elf64_Ehdr eh;
    int rc = -1;
    if (read(fd, &eh, sizeof(eh)) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
        goto done;
    rc = 1;
    for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
            break;
        if (ph.p_type == PT_INTERP) {
            rc = 0;
            break;
        }
    }
done:
    close(fd);
    return rc;
}

/* Longest a forked process's trace name is beyond FILE's: ".PID" (pid_max is at most
 * 4194304) and "-N" when the name was taken (N up to 100). */
#define CHILD_SUFFIX_MAX 12

/* Whether the trace can be made at path, and the traces of CMD's other processes beside it:
 * a file made and removed in its folder (by another name: one of an earlier run may hold
 * this one, and the library steps around a taken name). Returns 0 or -errno
 * (-ENAMETOOLONG: the name leaves no room for a forked process's suffix). */
static int probe_trace(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (strlen(slash ? slash + 1 : path) + CHILD_SUFFIX_MAX > NAME_MAX)
        return -ENAMETOOLONG;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%.*s.epscope-probe-XXXXXX",
                     slash ? (int)(slash - path + 1) : 0, path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    unlink(tmp);
    return 0;
}

/* --- signals ------------------------------------------------------------------------------ */

static volatile sig_atomic_t child_pid;

/* Pass a signal on to CMD, unless it came from the terminal (which sent it to CMD too). */
static void forward(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (si && si->si_code == SI_KERNEL)
        return;
    if (child_pid > 0)
        kill(child_pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* --- the traces written ----------------------------------------------------------------- */

struct written {
    char path[PATH_MAX];
    uint64_t records, lost;
    bool ended; /* the end record is there: the process finished its trace */
    char program[64];
    long pid;
};

static int count_rec(const struct ept_rec *r, void *arg)
{
    struct written *w = arg;
    if (r->type == EPT_LOST) {
        struct ept_lost l;
        ept_rec_get(r, &l, sizeof(l));
        w->lost += l.count;
    }
    if (r->type == EPT_END) { /* the total, with what threads dropped and never said */
        struct ept_end e;
        ept_rec_get(r, &e, sizeof(e));
        if (e.lost > w->lost)
            w->lost = e.lost;
        w->ended = true;
    }
    w->records++; /* the end record too: the count check and dump give */
    return 0;
}

/* Read one trace's figures; 0, or -1 when it is no readable trace. */
static int look(struct written *w)
{
    struct reader rd;
    char err[256], buf[64];
    if (reader_open(&rd, w->path, err, sizeof(err)) < 0)
        return -1;
    reader_each(&rd, count_rec, w);
    if (reader_config(&rd, "program", w->program, sizeof(w->program)) < 0)
        snprintf(w->program, sizeof(w->program), "?");
    w->pid = reader_config(&rd, "pid", buf, sizeof(buf)) > 0 ? atol(buf) : (long)rd.hdr.pid;
    reader_close(&rd);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct written *x = a, *y = b;
    size_t lx = strlen(x->path), ly = strlen(y->path); /* shorter pids first */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->path, y->path);
}

/* The traces of this run: out itself, and in its directory every "BASE.PID.ept" (or with
 * "-N" before the extension) made since start. Traces with no record are removed (a process
 * that opened one before giving up its privileges, then made no call). */
static int list_traces(const char *out, time_t start, struct written *ws, int max)
{
    char dir[PATH_MAX], base[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", out);
    char *slash = strrchr(dir, '/');
    snprintf(base, sizeof(base), "%s", slash ? slash + 1 : out);
    if (slash)
        *slash = 0;
    size_t bl = strlen(base);
    if (bl > 4 && !strcmp(base + bl - 4, ".ept"))
        base[bl -= 4] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        const char *name = e->d_name;
        size_t nl = strlen(name);
        if (strncmp(name, base, bl) || (name[bl] != '.' && name[bl] != '-') || nl < 4 ||
            strcmp(name + nl - 4, ".ept"))
            continue;
        /* BASE.ept itself, BASE-N.ept, BASE.PID.ept, BASE.PID-N.ept */
        const char *p = name + bl;
        if (*p == '.' && p[1] >= '0' && p[1] <= '9')
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
        if (*p == '-' && p[1] >= '0' && p[1] <= '9')
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
        if (strcmp(p, ".ept"))
            continue;
        struct written *w = &ws[n];
        memset(w, 0, sizeof(*w));
        struct stat st;
        if (path_join(w->path, sizeof(w->path), dir, name, "") < 0)
            continue;
        if (lstat(w->path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_mtime < start)
            continue;
        if (look(w) < 0)
            continue;
        if (!w->records) {
            /* a process still running (a daemon) may just have opened it */
            if (w->pid > 0 && (kill((pid_t)w->pid, 0) == 0 || errno == EPERM))
                continue;
            unlink(w->path);
            continue;
        }
        n++;
    }
    closedir(d);
    qsort(ws, (size_t)n, sizeof(*ws), by_name);
    for (int i = 1; i < n; i++) /* the trace of the process record started comes first */
        if (!strcmp(ws[i].path, out)) {
            struct written top = ws[i];
            memmove(&ws[1], &ws[0], (size_t)i * sizeof(*ws));
            ws[0] = top;
        }
    return n;
}

/* --- what the processes said, and which still run ------------------------------------------ */

/* The abstract unix socket the recorder library reports failures to (preload.h), bound
 * under a name of this run, and the run's token; "NAME:TOKEN" goes into env. Returns the
 * fd, or -errno. */
static int report_socket(char *env, size_t len, char token[PRELOAD_TOKEN_LEN + 1])
{
    unsigned char rnd[PRELOAD_TOKEN_LEN / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EIO;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    char name[64];
    snprintf(name, sizeof(name), "epscope-record.%d.%02x%02x%02x%02x", (int)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3]);
    snprintf(env, len, "%s:%s", name, token);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc;
    if (fd < 0)
        return -errno;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(a.sun_path + 1, name, n);
    if (bind(fd, (const struct sockaddr *)&a,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

struct failure {
    long pid;
    int open_err, write_err; /* errno values, 0: none */
    bool ended;              /* the END report came: lost is the total */
    uint64_t lost;
    char path[sizeof(((struct preload_report *)0)->path)];
};

struct failures {
    struct failure f[256];
    int n;
    uint64_t more; /* reports with no room left in f */
};

/* Read the reports waiting on fd into fs, one entry per trace (pid and path: a process that
 * execs writes a second trace). Datagrams without this run's token are not the library's
 * (anyone may send to an abstract name) and are dropped. */
static void read_reports(int fd, const char *token, struct failures *fs)
{
    struct preload_report r;
    ssize_t got;
    while (fd >= 0 && (got = recv(fd, &r, sizeof(r), 0)) >= 0) {
        if (got != (ssize_t)sizeof(r) || r.magic != PRELOAD_REPORT_MAGIC ||
            memcmp(r.token, token, PRELOAD_TOKEN_LEN))
            continue;
        r.path[sizeof(r.path) - 1] = 0;
        for (char *c = r.path; *c; c++) /* a path is the program's to choose: no escapes */
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        int i = 0;
        while (i < fs->n && (fs->f[i].pid != r.pid || strcmp(fs->f[i].path, r.path)))
            i++;
        if (i == fs->n) {
            if (fs->n == (int)(sizeof(fs->f) / sizeof(*fs->f))) {
                fs->more++;
                continue;
            }
            memset(&fs->f[fs->n++], 0, sizeof(*fs->f));
            fs->f[i].pid = r.pid;
            snprintf(fs->f[i].path, sizeof(fs->f[i].path), "%s", r.path);
        }
        struct failure *f = &fs->f[i];
        if (r.kind == PRELOAD_REPORT_OPEN)
            f->open_err = r.err;
        else if (r.kind == PRELOAD_REPORT_WRITE && !f->write_err)
            f->write_err = r.err;
        else if (r.kind == PRELOAD_REPORT_END) {
            f->write_err = r.err;
            f->ended = true;
            f->lost = r.lost;
        }
    }
}

/* The pids of record's children still running (record is the subreaper of CMD's tree, so a
 * daemon that left it is one), into pids; returns how many there are (maybe more than max). */
static int still_running(long *pids, int max)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[got] = 0;
        char *p = strrchr(buf, ')'); /* after "pid (comm)": " state ppid" */
        char state;
        long ppid;
        if (!p || sscanf(p + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)getpid() ||
            state == 'Z')
            continue;
        if (n < max)
            pids[n] = atol(e->d_name);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

static int chld_pipe[2] = {-1, -1};

/* SIGCHLD: wake the wait loop (a byte on a pipe, which poll watches with the reports). */
static void on_chld(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(chld_pipe[1], "", 1) < 0) { /* full: a wake-up is already waiting */
    }
    errno = saved;
}

/* Wait for CMD (pid), reading the reports as they come (the socket's queue is short) and
 * reaping the orphans of its tree that end meanwhile. Returns CMD's wait status. */
static int wait_cmd(pid_t pid, int rfd, const char *token, struct failures *fs)
{
    for (;;) {
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == pid)
                return st;
        if (w < 0 && errno == ECHILD)
            return 0; /* not ours to wait for any more: cannot happen */
        struct pollfd p[2] = {{chld_pipe[0], POLLIN, 0}, {rfd, POLLIN, 0}};
        if (poll(p, rfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            return 0;
        char b[64];
        while (read(chld_pipe[0], b, sizeof(b)) > 0)
            ;
        read_reports(rfd, token, fs);
    }
}

/* Why the trace of process tpid has no end record, as the summary's tail: still running
 * (one of live), CMD (cmd) killed by a signal, or not known. */
static void unended_why(long tpid, pid_t cmd, int status, const long *live, int nlive, char *buf,
                        size_t len)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == tpid) {
            snprintf(buf, len, "; no end record yet: the process still runs (above)");
            return;
        }
    if (tpid == cmd && WIFSIGNALED(status)) {
        const char *name = sigabbrev_np(WTERMSIG(status));
        snprintf(buf, len,
                 "; no end record: it was killed by SIG%s, which ends a process without its "
                 "exit handlers (the recorder's among them), so its last calls may be missing "
                 "and the lost count is not known",
                 name ? name : "?");
        return;
    }
    snprintf(buf, len,
             "; no end record: the process ended before it could finish its trace "
             "(killed?), or still runs, so its last calls may be missing and the lost "
             "count is not known");
}

/* --- running CMD -------------------------------------------------------------------------- */

struct record_opts {
    const char *output;
    int force, quiet;
    uint64_t ring;
    long preview;
};

static int parse(int argc, char **argv, struct record_opts *o)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"ring", required_argument, NULL, 'r'},
        {"no-data", no_argument, NULL, 'n'},
        {"preview", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    optind = 1;
    /* '+': options end at CMD, whose own options are its business */
    while ((c = cli_getopt("record", argc, argv, "+o:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'f': o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'n': o->preview = 0; break;
        case 'r':
            if (cli_parse_size(optarg, RING_MIN_SIZE, RING_MAX_SIZE, &o->ring) < 0 || (o->ring & (o->ring - 1)))
                return cli_usage_error("record", "--ring %s: a power of two from 4k to 1g", optarg);
            break;
        case 'p':
            if (cli_parse_int(optarg, 0, 1024, &o->preview) < 0)
                return cli_usage_error("record", "--preview %s: a number of bytes from 0 to 1024",
                                       optarg);
            break;
        case 'h': fputs(usage, stdout); return -1;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("record", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("record", "which program? (epscope record -- CMD [ARGS...])");
    return 0;
}

int record_main(int argc, char **argv)
{
    struct record_opts o = {NULL, 0, 0, PRELOAD_RING_DEFAULT, PRELOAD_PREVIEW_DEFAULT};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char **cmd = argv + optind;
    char lib[PATH_MAX], where[2 * PATH_MAX + 8], exe[PATH_MAX];
    if (find_library(lib, sizeof(lib), where, sizeof(where)) < 0) {
        fprintf(stderr, "epscope record: cannot find %s (looked for %s); 'make' builds it, "
                "'make install' installs it\n", PRELOAD_LIB, where);
        return 1;
    }
    rc = find_command(cmd[0], exe, sizeof(exe));
    if (rc < 0) {
        fprintf(stderr, "epscope record: %s: %s\n", cmd[0],
                rc == -EACCES ? "permission denied" : "command not found");
        return rc == -EACCES ? 126 : 127;
    }
    if (is_static(exe) == 1)
        fprintf(stderr, "epscope record: %s is statically linked: it calls the kernel without "
                "the library calls the recorder interposes, so its trace will be empty (strace "
                "-f sees it)\n", exe);

    /* the trace path, absolute before CMD starts (a program may chdir) */
    char cwd[PATH_MAX], out[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) {
        fprintf(stderr, "epscope record: cannot read the current directory: %s\n",
                strerror(errno));
        return 1;
    }
    if (o.output && !*o.output)
        return cli_usage_error("record", "-o: an empty file name");
    if (o.output) {
        int n = o.output[0] == '/' ? snprintf(out, sizeof(out), "%s", o.output)
                                   : snprintf(out, sizeof(out), "%s/%s", cwd, o.output);
        if (n < 0 || (size_t)n >= sizeof(out) - 32)
            return cli_usage_error("record", "-o: the path is too long");
        struct stat st;
        if (lstat(out, &st) == 0) {
            if (!o.force && S_ISREG(st.st_mode)) {
                fprintf(stderr, "epscope record: %s exists (use --force to replace it)\n", out);
                return 1;
            }
            if (!S_ISREG(st.st_mode)) {
                fprintf(stderr, "epscope record: %s is not a regular file; refusing to replace "
                        "it\n", out);
                return 1;
            }
            if (unlink(out) < 0) {
                fprintf(stderr, "epscope record: cannot replace %s: %s\n", out, strerror(errno));
                return 1;
            }
        }
    }
    /* make a file where the traces go, here, so that a place they cannot go fails now
     * rather than leave CMD unrecorded (the default name is measured with the longest pid) */
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    char probe[PATH_MAX];
    if (o.output)
        snprintf(probe, sizeof(probe), "%s", out);
    else {
        char tail[32];
        snprintf(tail, sizeof(tail), ".%d.ept", 4194304);
        if (path_join(probe, sizeof(probe), cwd, base, tail) < 0) {
            fprintf(stderr, "epscope record: the trace's path in %s is too long (use -o)\n", cwd);
            return 1;
        }
    }
    rc = probe_trace(probe);
    if (rc == -ENAMETOOLONG && !o.output)
        return cli_usage_error("record", "the trace's name for %s is too long: use -o", base);
    if (rc == -ENAMETOOLONG)
        return cli_usage_error("record",
                               "%s: the file name is too long: a forked process's "
                               "trace adds up to %d characters to it, and a name has at most %d",
                               probe, CHILD_SUFFIX_MAX, NAME_MAX);
    if (rc < 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", probe);
        *strrchr(dir, '/') = 0;
        fprintf(stderr, "epscope record: cannot make a trace in %s: %s%s\n", *dir ? dir : "/",
                strerror(-rc), o.output ? "" : " (use -o)");
        return 1;
    }
    char renv[160], token[PRELOAD_TOKEN_LEN + 1];
    int rfd = report_socket(renv, sizeof(renv), token);
    if (rfd < 0)
        fprintf(stderr,
                "epscope record: no report socket (%s): a trace that cannot be written "
                "will not be named at the end\n",
                strerror(-rfd));
    static struct failures fs;
    int pfd[2]; /* CMD's exec failure, if any: its errno; closed unread when exec works */
    if (pipe2(pfd, O_CLOEXEC) < 0 || pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "epscope record: pipe: %s\n", strerror(errno));
        goto fail;
    }
    /* orphans of CMD's tree (a daemon) become record's children: it can say they still run */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    time_t start = time(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(*forwarded); i++)
        sigaddset(&block, forwarded[i]);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old); /* none is lost between fork and the handlers */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "epscope record: fork: %s\n", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        goto fail;
    }
    if (!o.output) {
        char tail[32];
        snprintf(tail, sizeof(tail), ".%d.ept", (int)(pid ? pid : getpid()));
        if (path_join(out, sizeof(out), cwd, base, tail) < 0) {
            if (pid == 0)
                _exit(126);
            fprintf(stderr, "epscope record: the trace's path in %s is too long (use -o)\n", cwd);
        }
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        const char *prev = getenv("LD_PRELOAD");
        char pre[2 * PATH_MAX + 2], num[32];
        snprintf(pre, sizeof(pre), "%s%s%s", lib, prev && *prev ? ":" : "", prev ? prev : "");
        setenv("LD_PRELOAD", pre, 1);
        setenv(PRELOAD_ENV_OUT, out, 1);
        snprintf(num, sizeof(num), "%d", (int)getpid());
        setenv(PRELOAD_ENV_PID, num, 1);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)o.ring);
        setenv(PRELOAD_ENV_RING, num, 1);
        snprintf(num, sizeof(num), "%ld", o.preview);
        setenv(PRELOAD_ENV_PREVIEW, num, 1);
        if (rfd >= 0)
            setenv(PRELOAD_ENV_REPORT, renv, 1);
        execv(exe, cmd);
        int err = errno;
        if (write(pfd[1], &err, sizeof(err)) < 0)
            _exit(126);
        _exit(err == ENOENT ? 127 : 126);
    }
    close(pfd[1]);
    int exec_err = 0;
    ssize_t got;
    while ((got = read(pfd[0], &exec_err, sizeof(exec_err))) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (got == (ssize_t)sizeof(exec_err)) { /* nothing ran, so nothing was recorded */
        fprintf(stderr, "epscope record: cannot run %s: %s%s\n", exe, strerror(exec_err),
                exec_err == ENOENT && access(exe, F_OK) == 0 ? " (the interpreter on its #! line?)"
                                                             : "");
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (rfd >= 0)
            close(rfd);
        return exec_err == ENOENT ? 127 : 126;
    }
    child_pid = pid;
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(*forwarded); i++)
        sigaction(forwarded[i], &sa, NULL);
    struct sigaction ca;
    memset(&ca, 0, sizeof(ca));
    ca.sa_handler = on_chld;
    ca.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&ca.sa_mask);
    sigaction(SIGCHLD, &ca, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int status = wait_cmd(pid, rfd, token, &fs);
    int exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
                    : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

    static struct written ws[256];
    long live[16];
    int nlive = still_running(live, 16);
    read_reports(rfd, token, &fs);
    if (rfd >= 0)
        close(rfd);
    int n = list_traces(out, start, ws, 256), nf = fs.n;
    bool failed = fs.more > 0;
    for (int i = 0; i < nf; i++) {
        struct failure *f = &fs.f[i];
        if (f->open_err) {
            fprintf(stderr,
                    "epscope record: pid %ld could not open its trace %s: %s; nothing "
                    "of that process is recorded\n",
                    f->pid, f->path, strerror(f->open_err));
            failed = true;
        } else if (f->write_err) {
            char lost[64] = "how many is not known (it did not end its trace)";
            if (f->ended)
                snprintf(lost, sizeof(lost), "%llu lost", (unsigned long long)f->lost);
            fprintf(stderr,
                    "epscope record: pid %ld could not write its trace %s: %s; the "
                    "records after that are lost: %s\n",
                    f->pid, f->path, strerror(f->write_err), lost);
            failed = true;
        }
    }
    if (fs.more)
        fprintf(stderr, "epscope record: and %llu more failures of other traces\n",
                (unsigned long long)fs.more);
    if (failed && exit_code == 0)
        exit_code = 1;
    if (nlive) {
        char list[200] = "";
        for (int i = 0, w = 0; i < nlive && i < 16 && w < (int)sizeof(list) - 24; i++)
            w += snprintf(list + w, sizeof(list) - (size_t)w, "%s%ld", i ? ", " : "", live[i]);
        fprintf(stderr,
                "epscope record: %s exited, but %s it started still run%s (pid %s%s); "
                "the traces of its processes go on being written beside %s, one per pid: check "
                "them once they stop\n",
                base, nlive == 1 ? "a process" : "processes", nlive == 1 ? "s" : "", list,
                nlive > 16 ? ", ..." : "", out);
    }
    if (o.quiet)
        return exit_code;
    if (!n && (failed || nlive))
        return exit_code;
    if (!n) {
        fprintf(stderr, "epscope record: no trace written: %s made no epoll or socket call "
                "through the C library (a statically linked program, or one that makes raw "
                "system calls like Go's, gives the recorder nothing; strace -f -e "
                "trace=%%network,epoll_ctl,epoll_wait %s shows those)\n", base, base);
        return exit_code;
    }
    for (int i = 0; i < n; i++) {
        const struct failure *f = NULL;
        for (int j = 0; j < nf && !f; j++)
            if (fs.f[j].write_err && !strcmp(fs.f[j].path, ws[i].path))
                f = &fs.f[j];
        uint64_t lost = ws[i].lost + (f && f->ended ? f->lost : 0);
        char why[200] = "";
        if (f)
            snprintf(why, sizeof(why), "; cut short where a write failed (above)");
        else if (!ws[i].ended)
            unended_why(ws[i].pid, pid, status, live, nlive < 16 ? nlive : 16, why, sizeof(why));
        fprintf(stderr, "epscope record: %s: %s, pid %ld: %llu records, %llu lost%s\n", ws[i].path,
                ws[i].program, ws[i].pid, (unsigned long long)ws[i].records,
                (unsigned long long)lost, why);
    }
    fprintf(stderr, "epscope record: look at %s with: %s check %s%s; %s view %s\n",
            n == 1 ? "it" : "them", cli_self(), ws[0].path, n > 1 ? " ..." : "", cli_self(),
            ws[0].path);
    return exit_code;
fail:
    if (rfd >= 0)
        close(rfd);
    return 1;
}
