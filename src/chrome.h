/* chrome.h - a trace as Chrome trace-event JSON, the format Perfetto (ui.perfetto.dev) and
 * chrome://tracing open: one track per socket, epoll_wait as spans, diagnoses marked. */
#ifndef EPSCOPE_CHROME_H
#define EPSCOPE_CHROME_H

#include <stdio.h>

struct replay;

/* Write the whole of r (every complete record and every diagnosis) to out as one JSON object
 * {"traceEvents":[...],"displayTimeUnit":"ms","otherData":{...}} and a newline; reads
 * records with replay_rec() only, so r's position is unchanged, and neither closes out nor
 * removes a partial file. Returns 0, or -EIO when a write to out failed. */
int chrome_write(FILE *out, struct replay *r);

#endif
