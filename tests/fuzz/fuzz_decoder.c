/* fuzz_decoder.c - libFuzzer target: the decoder on arbitrary bytes.
 *
 * The input is split into key and value at the first NUL (no NUL: value
 * only); a trailing byte selects a small nesting limit now and then. The
 * decoder must return an error or an event and never crash, leak or read
 * out of bounds (ASan/UBSan catch those). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../consumer/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cdc_decoder_t *dec;
    static cdc_arena_t *arena;
    const uint8_t *nul = memchr(data, 0, size);
    cdc_record_t rec;
    cdc_event_t ev;
    cdc_header_t hdr;

    if (!dec) {
        cdc_decoder_conf_t conf = {1 << 20, 32};
        dec = cdc_decoder_new(&conf);
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
    if (cdc_decoder_decode(dec, &rec, arena, &ev) == CDC_OK &&
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
