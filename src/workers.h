/* workers.h - `epscope proxy --workers N`: a master process supervising N event loops. */
#ifndef EPSCOPE_WORKERS_H
#define EPSCOPE_WORKERS_H

#include <stddef.h>

#include "proxy.h"

#define WORKERS_MAX 64

/* Open the listening socket(s), fork cfg->workers workers that each run proxy_run on
 * them with a trace of their own, restart a worker that dies of a signal, and stop them
 * all on SIGINT/SIGTERM. Prints "listening on ADDR" once. Returns the exit status (0
 * after a clean stop). */
int workers_run(struct proxy_config *cfg);

/* The trace path of worker k, generation gen (0 the first; a restarted worker is the
 * next): run.ept -> run.w2.ept, run.w2-1.ept...; the number goes before the extension,
 * or at the end when the name has none. Returns 0, or -ENAMETOOLONG. */
int workers_trace_path(const char *base, unsigned k, unsigned gen, char *out, size_t len);

#endif
