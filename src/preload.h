/* preload.h - what `epscope record` (src/record.c) tells the preloaded recorder library
 * (src/preload.c, built as libepscope-record.so), through the environment of the program
 * it starts. The library reads these once, when it is loaded; programs that clear their
 * environment later (nginx's workers) keep what their parent read. */
#ifndef EPSCOPE_PRELOAD_H
#define EPSCOPE_PRELOAD_H

#include <stdint.h>

/* The trace of the process record starts: an absolute path. Other processes of the tree
 * write PATH with ".PID" before its extension. Unset: the library records nothing. */
#define PRELOAD_ENV_OUT "EPSCOPE_RECORD_OUT"
/* The pid of the process record starts (the one that writes PRELOAD_ENV_OUT itself). */
#define PRELOAD_ENV_PID "EPSCOPE_RECORD_PID"
/* Bytes of each thread's ring, a power of two. */
#define PRELOAD_ENV_RING "EPSCOPE_RECORD_RING"
/* Payload bytes kept per read/write record (0: sizes only, --no-data). */
#define PRELOAD_ENV_PREVIEW "EPSCOPE_RECORD_PREVIEW"

/* "NAME:TOKEN": the abstract unix datagram socket record reads the library's failures on
 * (NAME, without the leading NUL), and a random token of this run. A process whose trace
 * cannot be opened or written sends a struct preload_report with the token there: record is
 * told, whatever became of the program's stderr. Anyone on the host can send to an abstract
 * name (and list it); the token, which only CMD's processes hold in their environment,
 * tells their reports from anyone else's. */
#define PRELOAD_ENV_REPORT "EPSCOPE_RECORD_REPORT"
#define PRELOAD_TOKEN_LEN 32 /* hex digits */

#define PRELOAD_REPORT_MAGIC 0x45505352u /* "EPSR" */
enum preload_report_kind {
    PRELOAD_REPORT_OPEN = 1,  /* the trace could not be opened: nothing of it is recorded */
    PRELOAD_REPORT_WRITE = 2, /* a write failed: the records from then on are lost */
    PRELOAD_REPORT_END = 3,   /* after a failed write: the process ended, lost is the total */
};
struct preload_report {
    uint32_t magic, kind;
    int32_t pid, err; /* err: the errno */
    uint64_t lost;
    char path[1024]; /* the trace's path (cut if longer) */
    char token[PRELOAD_TOKEN_LEN];
};

#define PRELOAD_RING_DEFAULT (1u << 20)  /* per thread */
#define PRELOAD_PREVIEW_DEFAULT 64
#define PRELOAD_LIB "libepscope-record.so"

#endif
