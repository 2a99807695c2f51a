/* fuzz_http.c - libFuzzer target: the HTTP request reader
 * (cdc_http_parse_request) on arbitrary bytes, as received so far.
 *
 * Every prefix length the server could see is tried on odd-sized inputs
 * (the server parses after each recv); the whole input on the others. The
 * reader must return one of its statuses and, for 200, a path the handler
 * can trust: starting with '/', without blanks, controls, '?' or '#'. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t len) {
    static cdc_http_req_t req;
    int st = cdc_http_parse_request((const char *)data, len, &req);
    if (st != 0 && st != 200 && st != 400 && st != 405 && st != 431)
        __builtin_trap();
    if (st == 431 && len < CDC_HTTP_HEAD_MAX)
        __builtin_trap();
    if (st != 200)
        return;
    size_t n = strnlen(req.path, sizeof req.path);
    if (n == sizeof req.path || req.path[0] != '/' || n >= len)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)req.path[i];
        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#')
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size % 2 == 0) {
        check(data, size);
        return 0;
    }
    for (size_t len = 0; len <= size; len++)
        check(data, len);
    return 0;
}
