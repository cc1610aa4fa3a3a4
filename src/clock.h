/* clock.h - the one monotonic clock the commands measure time with. */
#ifndef EPSCOPE_CLOCK_H
#define EPSCOPE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: for deadlines and durations, never for dates. */
uint64_t clock_now_ns(void);

#endif
