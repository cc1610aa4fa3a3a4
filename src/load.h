/* load.h - `epscope load`: a single-threaded epoll HTTP load client that checks every
 * response byte for byte and reports latency percentiles. */
#ifndef EPSCOPE_LOAD_H
#define EPSCOPE_LOAD_H

#include <stddef.h>
#include <stdint.h>

/* The latency at percentile p (0 < p <= 100) of n sorted values, by nearest rank:
 * the smallest value with at least p% of the values at or below it; 0 when n is 0. */
uint32_t load_percentile(const uint32_t *sorted, size_t n, double p);

#endif
