/* fuzz_decoder.c - libFuzzer target: the decoder on arbitrary bytes.
 *
 * The input is split into key and value at the first NUL (no NUL: value
 * only). Odd-sized inputs go through the chunked API (begin/feed/end, the
 * value cut in three). The decoder must return an error or an event and
 * never crash, leak or read out of bounds (ASan/UBSan catch those). The
 * result (error and reason, or every field of the event) must be the one a
 * reference decoder gives (cdc_decoder_reference: yajl parses it all), and
 * so must two more whole decodes through the first decoder: by scan.c, and
 * with the schemas cached by then a schemas-on record takes the schema fast
 * path (only the payload parsed). The
 * decoder is renewed every 4096 inputs: its schema cache grows with every
 * distinct schema, which random inputs produce without end. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/decode/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void vals_text(FILE *o, const char *role, const cdc_rowdef_t *rd,
                      const cdc_value_t *v) {
    if (!rd || !v)
        return;
    fprintf(o, "%s %d %u\n", role, rd->typed, rd->ncols);
    for (uint32_t i = 0; i < rd->ncols; i++) {
        const cdc_column_t *c = &rd->cols[i];
        fprintf(o, " %s %d %d %d %d %d %d [", c->name, c->type, c->array,
                c->precision, c->scale, v[i].state, v[i].kind);
        if (v[i].state == CDC_V_SET)
            fwrite(v[i].text, 1, v[i].len, o);
        fputs("]\n", o);
    }
}

/* one decode's outcome as text: the error and its reason (of a JSON error
 * only the code when bare: the chunked parse may place a syntax error a
 * byte later, where a chunk ends inside a number), or the event */
static char *outcome(const cdc_decoder_t *dec, cdc_err_t err,
                     const cdc_event_t *ev, bool bare) {
    char *s = NULL;
    size_t n = 0;
    FILE *o = open_memstream(&s, &n);
    if (!o)
        abort();
    fprintf(o, "%s %s\n", cdc_err_name(err),
            !err || (bare && err == CDC_ERR_JSON) ? "" : cdc_decoder_errstr(dec));
    if (!err) {
        fprintf(o, "%d %c %s %s %s %s %s %d %d %lld %lld %d", ev->kind, ev->op,
                ev->schema ? ev->schema : "-", ev->table ? ev->table : "-",
                ev->connector ? ev->connector : "-",
                ev->source_name ? ev->source_name : "-", ev->db ? ev->db : "-",
                ev->snapshot, ev->incremental, (long long)ev->tx_id,
                (long long)ev->source_ts_us, ev->pos.kind);
        for (int i = 0; i < ev->pos.nparts; i++)
            fprintf(o, " %llu", (unsigned long long)ev->pos.part[i]);
        fputc('\n', o);
        vals_text(o, "key", ev->keydef, ev->key);
        vals_text(o, "after", ev->rowdef, ev->after);
        vals_text(o, "before", ev->rowdef, ev->before);
        vals_text(o, "old_key", ev->keydef, ev->old_key);
    }
    fclose(o);
    return s;
}

/* traps when got (freed here) is not want */
static void check_same(const char *want, char *got, const char *what) {
    if (strcmp(want, got)) {
        fprintf(stderr, "fuzz_decoder: %s differs from the reference\n"
                "reference:\n%s\ngot:\n%s\n", what, want, got);
        __builtin_trap();
    }
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cdc_decoder_t *dec, *ref;
    static cdc_arena_t *arena;
    static unsigned runs;
    const uint8_t *nul = memchr(data, 0, size);
    cdc_record_t rec;
    cdc_event_t ev;
    cdc_header_t hdr;

    if (dec && ++runs % 4096 == 0) {
        cdc_decoder_free(dec);
        cdc_decoder_free(ref);
        dec = NULL;
    }
    if (!dec) {
        cdc_decoder_conf_t conf = {1 << 20, 32, 1024};
        dec = cdc_decoder_new(&conf);
        ref = cdc_decoder_new(&conf);
        cdc_decoder_reference(ref);
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
    bool chunked = size % 2 && rec.value_len > 2;
    if (chunked) {
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
    /* the reference (yajl, no fast path) against the chunked decode and
     * against two whole decodes (scan.c; the second from the cached
     * schemas: the schema fast path) */
    char *first = outcome(dec, err, &ev, chunked);
    cdc_event_t rev;
    char *want = outcome(ref, cdc_decoder_decode(ref, &rec, arena, &rev), &rev,
                         chunked);
    check_same(want, first, "the first decode");
    for (int k = 0; k < 2; k++) {
        err = cdc_decoder_decode(dec, &rec, arena, &ev);
        check_same(want, outcome(dec, err, &ev, chunked),
                   k ? "the third decode" : "the second decode");
    }
    free(want);
    cdc_arena_reset(arena);
    return 0;
}
