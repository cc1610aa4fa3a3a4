/* cli.c - helpers shared by the subcommands' option parsing. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Flush stdout at the end of a command: its status, or 2 (said once on stderr) when the
 * output could not be written; a reader that left early (dump | head) is not an error. */
int cli_output_done(const char *cmd, int status)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return status;
    int err = errno;
    struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};
    if (err == EPIPE || (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)))
        return 2; /* the reader left (dump | head): it has what it wanted */
    errno = err;
    fprintf(stderr, "epscope%s%s: the output could not be written%s%s\n", cmd ? " " : "",
            cmd ? cmd : "", errno ? ": " : "", errno ? strerror(errno) : "");
    return 2;
}

static const char *self = "epscope";

/* An argv[0] with a slash is a path the shell did not find on PATH. */
void cli_set_self(const char *argv0)
{
    if (argv0 && strchr(argv0, '/'))
        self = argv0;
}

const char *cli_self(void)
{
    return self;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "epscope %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see '%s %s --help')\n", self, cmd);
    return EXIT_USAGE;
}

int cli_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -ERANGE;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'b' || *end == 'B')
        end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
    if (*end)
        return -EINVAL;
    if (shift && v > (~0ULL >> shift))
        return -ERANGE;
    v <<= shift;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return errno ? -ERANGE : -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/* Whether name is one of the space-separated words of list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && !strncmp(p, name, n))
            return 1;
        p += w;
        p += strspn(p, " ");
    }
    return 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *repeatable)
{
    static uint64_t seen; /* value options given so far, bit = index in longopts */
    char so[64];
    int idx = -1;
    if (optind <= 1)
        seen = 0;
    /* ':' after any '+' or '-': a missing value returns ':' rather than getopt printing */
    size_t pre = strspn(shortopts, "+-");
    snprintf(so, sizeof(so), "%.*s:%s", (int)pre, shortopts, shortopts + pre);
    opterr = 0;
    int o = getopt_long(argc, argv, so, longopts, &idx);
    const char *word = optind > 1 && optind - 1 < argc ? argv[optind - 1] : "?";
    if (o == ':') {
        cli_usage_error(cmd, "%s needs a value", word);
        return CLI_BADOPT;
    }
    if (o == '?') {
        if (optopt && optopt < 256 && strncmp(word, "--", 2))
            cli_usage_error(cmd, "unknown option '-%c'", optopt);
        else
            cli_usage_error(cmd, "unknown option '%s'", word);
        return CLI_BADOPT;
    }
    if (o == -1 || o == 1 || !optarg)
        return o;
    int typed_long = idx >= 0;
    if (idx < 0) /* a short option: find its long form */
        for (int i = 0; longopts[i].name; i++)
            if (longopts[i].val == o && !longopts[i].flag) {
                idx = i;
                break;
            }
    const char *name = idx >= 0 ? longopts[idx].name : "?";
    /* the value came as the next word and looks like an option: the value is missing */
    if (optarg == argv[optind - 1] && optarg[0] == '-' && optarg[1]) {
        if (typed_long)
            cli_usage_error(cmd, "--%s needs a value ('%s' is an option; for a value that "
                            "starts with '-', write --%s=%s)", name, optarg, name, optarg);
        else
            cli_usage_error(cmd, "-%c needs a value ('%s' is an option; for a value that "
                            "starts with '-', write --%s=%s)", o, optarg, name, optarg);
        return CLI_BADOPT;
    }
    if (idx >= 0 && idx < 64 && !listed(repeatable, name)) {
        if (seen & (1ull << idx)) {
            cli_usage_error(cmd, "--%s given twice (it takes one value)", name);
            return CLI_BADOPT;
        }
        seen |= 1ull << idx;
    }
    return o;
}
