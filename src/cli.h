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

/* Print "epscope CMD: message" and a hint to use --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse an unsigned integer with an optional k/m/g suffix (x1024) within [min, max];
 * returns 0 or -EINVAL / -ERANGE. */
int cli_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a plain integer within [min, max]. */
int cli_parse_int(const char *s, long min, long max, long *out);

#endif
