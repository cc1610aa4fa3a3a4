/* xmem.h - allocation that dies loudly, with the size it wanted, when memory runs out. For
 * the readers, the model, the viewer and the load generator's setup, where there is nothing
 * better to do than stop; the proxy's and the backend's event loops handle out-of-memory
 * per connection themselves and do not use these. */
#ifndef EPSCOPE_XMEM_H
#define EPSCOPE_XMEM_H

#include <stddef.h>

/* realloc(p, n) (n may be 0), or exit with "out of memory (N bytes)" on stderr. */
void *xrealloc(void *p, size_t n);
/* realloc of an array of n elements of size bytes, checking the multiplication. */
void *xreallocarray(void *p, size_t n, size_t size);
/* calloc(n, size), or die the same way. */
void *xcalloc(size_t n, size_t size);
/* malloc(n), or die the same way. */
void *xmalloc(size_t n);
/* strdup(s), or die the same way. */
char *xstrdup(const char *s);

#endif
