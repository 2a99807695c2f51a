/* fuzz_decoder.c - libFuzzer target: the decoder on arbitrary bytes.
 *
 * The input is split into key and value at the first NUL (no NUL: value
 * only). Odd-sized inputs go through the chunked API (begin/feed/end, the
 * value cut in three). The decoder must return an error or an event and
 * never crash, leak or read out of bounds (ASan/UBSan catch those). The
 * decoder is renewed every 4096 inputs: its schema cache grows with every
 * distinct schema, which random inputs produce without end. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consumer/decode/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cdc_decoder_t *dec;
    static cdc_arena_t *arena;
    static unsigned runs;
    const uint8_t *nul = memchr(data, 0, size);
    cdc_record_t rec;
    cdc_event_t ev;
    cdc_header_t hdr;

    if (dec && ++runs % 4096 == 0) {
        cdc_decoder_free(dec);
        dec = NULL;
    }
    if (!dec) {
        cdc_decoder_conf_t conf = {1 << 20, 32, 1024};
        dec = cdc_decoder_new(&conf);
        if (!arena)
            arena = cdc_arena_new(0);
    }
    memset(&rec, 0, sizeof rec);
    rec.topic = "fuzz.public.t";
    if (nul) {
        rec.key = (const char *)data;
        rec.key_len = (size_t)(nul - data);
        rec.value = (const char *)nul + 1;
        rec.value_len = size - rec.key_len - 1;
        /* the key doubles as a PK-change header */
        hdr.name = "__debezium.oldkey";
        hdr.value = rec.key;
        hdr.value_len = rec.key_len;
        rec.headers = &hdr;
        rec.nheaders = 1;
    } else {
        rec.value = (const char *)data;
        rec.value_len = size;
    }
    cdc_err_t err;
    if (size % 2 && rec.value_len > 2) {
        size_t a = rec.value_len / 3, b = rec.value_len - a;
        err = cdc_decoder_begin(dec, &rec, arena);
        if (!err)
            err = cdc_decoder_feed(dec, rec.value, a);
        if (!err)
            err = cdc_decoder_feed(dec, rec.value + a, b - a);
        if (!err)
            err = cdc_decoder_feed(dec, rec.value + b, rec.value_len - b);
        cdc_err_t e2 = cdc_decoder_end(dec, &ev);
        err = err ? err : e2;
    } else {
        err = cdc_decoder_decode(dec, &rec, arena, &ev);
    }
    if (err == CDC_OK &&
        ev.kind == CDC_EV_CHANGE && ev.rowdef) {
        /* touch every value so a bad pointer shows */
        const cdc_value_t *vals = ev.after ? ev.after : ev.before;
        for (uint32_t i = 0; vals && i < ev.rowdef->ncols; i++)
            if (vals[i].state == CDC_V_SET && vals[i].len != strlen(vals[i].text))
                __builtin_trap();
    }
    cdc_arena_reset(arena);
    return 0;
}
