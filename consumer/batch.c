/* batch.c - the record buffer and its states; see batch.h. */
#include "consumer/batch.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

cdc_err_t cdc_batch_init(cdc_batch_t *b, size_t cap) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->arena = cdc_arena_new(1 << 20);
    b->msgs = calloc(cap, sizeof *b->msgs);
    b->recs = calloc(cap, sizeof *b->recs);
    b->events = calloc(cap, sizeof *b->events);
    b->derr = calloc(cap, sizeof *b->derr);
    b->dwhy = calloc(cap, sizeof *b->dwhy);
    b->changes = calloc(cap, sizeof *b->changes);
    b->change_rec = calloc(cap, sizeof *b->change_rec);
    b->ids = calloc(cap, sizeof *b->ids);
    b->seen = calloc(cap, sizeof *b->seen);
    b->sel = calloc(cap, sizeof *b->sel);
    b->sel_rec = calloc(cap, sizeof *b->sel_rec);
    b->sel_change = calloc(cap, sizeof *b->sel_change);
    b->mark = calloc(cap, sizeof *b->mark);
    bool ok = b->arena && b->msgs && b->recs && b->events && b->derr &&
              b->dwhy && b->changes && b->change_rec && b->ids && b->seen &&
              b->sel && b->sel_rec && b->sel_change && b->mark;
    return ok ? CDC_OK : CDC_ERR_NOMEM;
}

void cdc_batch_free(cdc_batch_t *b) {
    if (b->msgs)
        cdc_batch_reset(b);
    cdc_arena_free(b->arena);
    cdc_offsets_free(&b->offs);
    free(b->msgs);
    free(b->recs);
    free(b->events);
    free(b->derr);
    free(b->dwhy);
    free(b->changes);
    free(b->change_rec);
    free(b->ids);
    free(b->seen);
    free(b->sel);
    free(b->sel_rec);
    free(b->sel_change);
    free(b->mark);
    memset(b, 0, sizeof *b);
}

cdc_batch_state_t cdc_batch_state(const cdc_batch_t *b) { return b->state; }

bool cdc_batch_full(const cdc_batch_t *b) { return b->n >= b->cap; }

cdc_err_t cdc_batch_add(cdc_batch_t *b, cdc_kafka_msg_t *msg,
                        const cdc_record_t *rec, cdc_decoder_t *dec,
                        int64_t now_ms) {
    if (b->state != CDC_BATCH_OPEN || b->n >= b->cap)
        return CDC_ERR_STATE;
    size_t i = b->n++;
    if (i == 0)
        b->first_ms = now_ms;
    b->msgs[i] = msg;
    b->recs[i] = *rec;
    b->bytes += rec->key_len + rec->value_len;
    b->dwhy[i] = NULL;
    if (cdc_offsets_note(&b->offs, b->arena, rec->topic, rec->partition,
                         rec->offset)) {
        b->derr[i] = CDC_ERR_NOMEM;
        return CDC_ERR_NOMEM;
    }
    cdc_err_t err = cdc_decoder_decode(dec, rec, b->arena, &b->events[i]);
    b->derr[i] = err;
    if (err == CDC_ERR_NOMEM)
        return err;
    if (err) {
        b->dwhy[i] = cdc_arena_strdup(b->arena, cdc_decoder_errstr(dec));
        cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                    "cannot decode: %s: %s", cdc_err_str(err),
                    b->dwhy[i] ? b->dwhy[i] : "");
    }
    return CDC_OK;
}

cdc_err_t cdc_batch_close(cdc_batch_t *b, bool with_ids) {
    if (b->state != CDC_BATCH_OPEN)
        return CDC_ERR_STATE;
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->derr[i] == CDC_OK && b->events[i].kind == CDC_EV_CHANGE) {
            b->change_rec[n] = i;
            b->changes[n++] = &b->events[i];
        }
    b->nchanges = n;
    b->has_ids = with_ids;
    if (with_ids)
        cdc_dedup_identities(b->changes, n, b->ids);
    memset(b->seen, 0, n * sizeof *b->seen);
    b->seen_valid = false;
    b->state = CDC_BATCH_CHECKED;
    return CDC_OK;
}

void cdc_batch_distrust(cdc_batch_t *b, const cdc_offsets_map_t *from) {
    if (!b->seen_valid || !from->n)
        return;
    for (size_t c = 0; c < b->nchanges; c++) {
        const cdc_record_t *r = &b->recs[b->change_rec[c]];
        int64_t at;
        if (cdc_offsets_map_get(from, r->topic, r->partition, &at) &&
            r->offset < at)
            b->seen[c] = false;
    }
}

int64_t cdc_batch_first_offset(const cdc_batch_t *b, const char *topic,
                               int32_t partition) {
    for (size_t i = 0; i < b->n; i++) /* a partition's records are in order */
        if (b->recs[i].partition == partition &&
            !strcmp(b->recs[i].topic, topic))
            return b->recs[i].offset;
    return -1;
}

cdc_err_t cdc_batch_select(cdc_batch_t *b) {
    if (b->state != CDC_BATCH_CHECKED)
        return CDC_ERR_STATE;
    size_t k = 0;
    for (size_t c = 0; c < b->nchanges; c++) {
        if (b->seen_valid && b->seen[c])
            continue;
        b->sel[k] = b->changes[c];
        b->sel_rec[k] = b->change_rec[c];
        b->sel_change[k++] = c;
    }
    b->nsel = k;
    b->hits = b->nchanges - k;
    b->state = CDC_BATCH_HANDED;
    return CDC_OK;
}

/* Unmarks every change with the identity of change c: a copy of a
 * rejected change (the same record read twice in one batch) was not
 * applied either, whatever the collapse made of it. */
static void unmark_identity(cdc_batch_t *b, size_t c) {
    if (!b->has_ids || !b->ids[c].ok)
        return;
    for (size_t k = 0; k < b->nchanges; k++)
        if (b->ids[k].ok &&
            memcmp(b->ids[k].bytes, b->ids[c].bytes, sizeof b->ids[c].bytes) == 0)
            b->mark[k] = false;
}

cdc_err_t cdc_batch_committed(cdc_batch_t *b, const cdc_reject_t *rejects,
                              size_t nrejects) {
    if (b->state != CDC_BATCH_HANDED)
        return CDC_ERR_STATE;
    memset(b->mark, 0, b->nchanges * sizeof *b->mark);
    for (size_t k = 0; k < b->nsel; k++)
        b->mark[b->sel_change[k]] = true;
    for (size_t r = 0; r < nrejects; r++)
        if (rejects[r].index < b->nsel) {
            b->mark[b->sel_change[rejects[r].index]] = false;
            unmark_identity(b, b->sel_change[rejects[r].index]);
        }
    b->state = CDC_BATCH_COMMITTED;
    return CDC_OK;
}

void cdc_batch_reset(cdc_batch_t *b) {
    for (size_t i = 0; i < b->n; i++)
        cdc_kafka_msg_free(b->msgs[i]);
    b->n = 0;
    b->bytes = 0;
    b->nchanges = b->nsel = b->hits = 0;
    b->has_ids = b->seen_valid = false;
    b->check_ms = b->apply_ms = 0;
    cdc_offsets_reset(&b->offs);
    if (b->arena)
        cdc_arena_reset(b->arena);
    b->state = CDC_BATCH_OPEN;
}
