/* preload.h - what `epscope record` (src/record.c) tells the preloaded recorder library
 * (src/preload.c, built as libepscope-record.so), through the environment of the program
 * it starts. The library reads these once, when it is loaded; programs that clear their
 * environment later (nginx's workers) keep what their parent read. */
#ifndef EPSCOPE_PRELOAD_H
#define EPSCOPE_PRELOAD_H

/* The trace of the process record starts: an absolute path. Other processes of the tree
 * write PATH with ".PID" before its extension. Unset: the library records nothing. */
#define PRELOAD_ENV_OUT "EPSCOPE_RECORD_OUT"
/* The pid of the process record starts (the one that writes PRELOAD_ENV_OUT itself). */
#define PRELOAD_ENV_PID "EPSCOPE_RECORD_PID"
/* Bytes of each thread's ring, a power of two. */
#define PRELOAD_ENV_RING "EPSCOPE_RECORD_RING"
/* Payload bytes kept per read/write record (0: sizes only, --no-data). */
#define PRELOAD_ENV_PREVIEW "EPSCOPE_RECORD_PREVIEW"

#define PRELOAD_RING_DEFAULT (1u << 20)  /* per thread */
#define PRELOAD_PREVIEW_DEFAULT 64
#define PRELOAD_LIB "libepscope-record.so"

#endif
