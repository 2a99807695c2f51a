/* fuzz_http_client.c - libFuzzer target: the HTTP client's response parser
 * (cdc_http_response_parse) on arbitrary bytes, as if they were all a
 * server sent, once with the connection still open and once ended.
 *
 * Besides crashes, leaks and out-of-bounds reads (ASan/UBSan), it traps
 * when a promise of http.h breaks: a complete response has a status in
 * 200..599 and a NUL after its body; "need more bytes" is never the answer
 * at the end of the connection; a response complete while the connection
 * is open is the same response when it has ended. Seeds:
 * tests/fuzz/corpus/http_client/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cdc_http_response_t open_r = CDC_HTTP_RESPONSE_INIT;
    cdc_http_response_t eof_r = CDC_HTTP_RESPONSE_INIT;
    char errstr[256];
    const char *raw = (const char *)data;
    cdc_err_t open_err, eof_err;

    open_err = cdc_http_response_parse(raw, size, false, &open_r, errstr,
                                       sizeof errstr);
    eof_err = cdc_http_response_parse(raw, size, true, &eof_r, errstr,
                                      sizeof errstr);
    if (eof_err == CDC_ERR_TRUNCATED)
        __builtin_trap();
    if (eof_err == CDC_OK &&
        (eof_r.status < 200 || eof_r.status > 599 ||
         (eof_r.body.data && eof_r.body.data[eof_r.body.len] != '\0')))
        __builtin_trap();
    if (open_err == CDC_OK &&
        (eof_err != CDC_OK || open_r.status != eof_r.status ||
         open_r.body.len != eof_r.body.len ||
         (open_r.body.len &&
          memcmp(open_r.body.data, eof_r.body.data, open_r.body.len) != 0)))
        __builtin_trap();
    cdc_http_response_free(&open_r);
    cdc_http_response_free(&eof_r);
    return 0;
}
