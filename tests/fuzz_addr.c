/* fuzz_addr.c - libFuzzer target: what users type on the command line: addresses
 * (--listen, --backend: net_parse), URLs (`epscope load URL`: http_parse_url) and sizes and
 * numbers (cli_parse_size, cli_parse_int). Names are never looked up: getaddrinfo is
 * wrapped here to resolve numeric hosts only, so a fuzzed host costs no DNS query. */
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"
#include "http.h"
#include "net.h"

/* getaddrinfo, numeric hosts only (AI_NUMERICHOST added to the caller's hints). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    struct addrinfo h;
    memset(&h, 0, sizeof(h));
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0; /* a C string, as argv gives: NULs inside just end it early */
    struct net_addr a;
    struct http_url *u = malloc(sizeof(*u));
    char err[256];
    uint64_t sz;
    long n;
    net_parse(s, &a, err, sizeof(err));
    if (u)
        http_parse_url(s, u, err, sizeof(err));
    cli_parse_size(s, 0, UINT64_MAX, &sz);
    cli_parse_int(s, -1000000, 1000000, &n);
    free(u);
    free(s);
    return 0;
}
