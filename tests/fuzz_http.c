/* fuzz_http.c - libFuzzer target: the HTTP/1.1 request and response head parsers that the
 * backend and `epscope load` run on bytes from the network, fed the input whole and cut at
 * every length up to 64 bytes (a head arriving in pieces). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct http_req q;
    struct http_resp r;
    http_parse_request(buf, size, &q);
    http_parse_response(buf, size, &r);
    for (size_t n = 0; n < size && n < 64; n++) {
        http_parse_request(buf, n, &q);
        http_parse_response(buf, n, &r);
    }
    free(buf);
    return 0;
}
