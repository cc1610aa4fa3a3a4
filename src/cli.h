/* cli.h - what the subcommands share: entry points, usage errors, number parsing. */
#ifndef EPSCOPE_CLI_H
#define EPSCOPE_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses every subcommand uses. */
#define EXIT_USAGE 2

/* Subcommand entry points: argv[0] is the subcommand name. */
int dump_main(int argc, char **argv);
int backend_main(int argc, char **argv);
int load_main(int argc, char **argv);
int proxy_main(int argc, char **argv);
int check_main(int argc, char **argv);
int view_main(int argc, char **argv);
int demo_main(int argc, char **argv);
int compare_main(int argc, char **argv);
int record_main(int argc, char **argv);

/* What cli_getopt returns after it has reported a bad option (the caller exits with
 * EXIT_USAGE, printing nothing more). */
#define CLI_BADOPT (-2)

struct option;
/* getopt_long for the subcommands, with one clear message per mistake: an unknown option,
 * a missing value, a value that is the next option ("--listen --backend X": refused; write
 * --opt=-VALUE for a value starting with '-'), or a value option given twice (unless its
 * name is in repeatable, space-separated) each print one usage error and return
 * CLI_BADOPT. Otherwise as getopt_long (shortopts may start with '+' or '-'). The caller
 * sets optind = 1 before the first call. */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *repeatable);
/* Flush stdout at the end of command cmd: its exit status, or 2 after one line on stderr
 * when any of its output could not be written (a full disk, /dev/full, a closed pipe). */
int cli_output_done(const char *cmd, int status);
/* Remember how epscope was run (main's argv[0]), for cli_self. */
void cli_set_self(const char *argv0);
/* How the user can run epscope again in a hint: "epscope" when it was found on PATH,
 * else the path it was run by ("./epscope" after `make demo` in the source folder). */
const char *cli_self(void);
/* Print "epscope CMD: message" and a hint to use --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse an unsigned integer with an optional k/m/g suffix (x1024) within [min, max];
 * returns 0 or -EINVAL / -ERANGE. */
int cli_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a plain integer within [min, max]. */
int cli_parse_int(const char *s, long min, long max, long *out);

#endif
