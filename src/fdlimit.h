/* fdlimit.h - the descriptor limit, for the commands that hold many connections. */
#ifndef EPSCOPE_FDLIMIT_H
#define EPSCOPE_FDLIMIT_H

/* Raise the soft RLIMIT_NOFILE to the hard limit (connections need descriptors; the hard
 * limit is what the administrator allows). Returns the soft limit now in force, or -errno
 * when it cannot be read. */
long fdlimit_raise(void);

#endif
