/* xmem.c - allocation that dies loudly (see xmem.h). */
#include "xmem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(size_t n)
{
    fprintf(stderr, "epscope: out of memory (%zu bytes)\n", n);
    abort();
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die(n);
    return q;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        die(SIZE_MAX);
    return xrealloc(p, n * size);
}

void *xmalloc(size_t n)
{
    return xrealloc(NULL, n);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

void *xcalloc(size_t n, size_t size)
{
    void *q = calloc(n ? n : 1, size ? size : 1);
    if (!q)
        die(size && n > SIZE_MAX / size ? SIZE_MAX : n * size);
    return q;
}
