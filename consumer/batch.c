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
    b->raw = calloc(cap, sizeof *b->raw);
    b->events = calloc(cap, sizeof *b->events);
    b->derr = calloc(cap, sizeof *b->derr);
    b->dwhy = calloc(cap, sizeof *b->dwhy);
    b->txn = calloc(cap, sizeof *b->txn);
    b->changes = calloc(cap, sizeof *b->changes);
    b->change_rec = calloc(cap, sizeof *b->change_rec);
    b->ids = calloc(cap, sizeof *b->ids);
    b->seen = calloc(cap, sizeof *b->seen);
    b->sel = calloc(cap, sizeof *b->sel);
    b->sel_rec = calloc(cap, sizeof *b->sel_rec);
    b->sel_change = calloc(cap, sizeof *b->sel_change);
    b->mark = calloc(cap, sizeof *b->mark);
    bool ok = b->arena && b->msgs && b->recs && b->raw && b->events &&
              b->derr &&
              b->dwhy && b->txn && b->changes && b->change_rec && b->ids &&
              b->seen && b->sel && b->sel_rec && b->sel_change && b->mark;
    return ok ? CDC_OK : CDC_ERR_NOMEM;
}

void cdc_batch_free(cdc_batch_t *b) {
    if (b->msgs)
        cdc_batch_reset(b);
    cdc_arena_free(b->arena);
    cdc_offsets_free(&b->offs);
    free(b->msgs);
    free(b->recs);
    free(b->raw);
    free(b->events);
    free(b->derr);
    free(b->dwhy);
    free(b->txn);
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

size_t cdc_batch_mem(const cdc_batch_t *b) {
    return b->bytes + (b->arena ? cdc_arena_used(b->arena) : 0);
}

/* the age at which an idle applier takes b whether drained or not */
static int64_t drain_max(int linger_ms) {
    return linger_ms > CDC_BATCH_DRAIN_MAX_MS ? linger_ms
                                              : CDC_BATCH_DRAIN_MAX_MS;
}

bool cdc_batch_due(const cdc_batch_t *b, const cdc_batch_limits_t *lim,
                   int64_t now, bool idle, bool drained) {
    if (!b->n)
        return false;
    /* memory: the raw records held and what was decoded (the arena) */
    if (b->n >= lim->max_events || cdc_batch_mem(b) >= lim->max_bytes)
        return true; /* a full batch waits for the applier, if need be */
    int64_t age = now - b->first_ms;
    return idle && age >= lim->linger_ms &&
           (drained || age >= drain_max(lim->linger_ms));
}

/* ms until b is `at` old, in [min_ms, 100] */
static int wait_until_age(const cdc_batch_t *b, int64_t at, int64_t now,
                          int min_ms) {
    int64_t left = b->first_ms + at - now;
    return left > 100 ? 100 : left > min_ms ? (int)left : min_ms;
}

int cdc_batch_wait_ms(const cdc_batch_t *b, int linger_ms, int64_t now,
                      bool idle, bool got) {
    if (!b->n)
        return 100;
    if (now - b->first_ms < linger_ms) /* a record ends the wait at once */
        return wait_until_age(b, linger_ms, now, 1);
    if (idle && got)
        return 0;
    return wait_until_age(b, drain_max(linger_ms), now, 5);
}

/* b's copy of topic: the one its offsets made (cdc_offsets_note copies a
 * partition's topic into the arena), so a record's topic outlives its
 * message and the records of one topic share one string */
static const char *topic_copy(const cdc_batch_t *b, const char *topic) {
    for (size_t j = b->offs.n; j-- > 0;)
        if (!strcmp(b->offs.v[j].topic, topic))
            return b->offs.v[j].topic;
    return topic; /* cannot happen: noted before */
}

/* takes slot b->n for msg and rec (b OPEN, not full): notes its offset;
 * the event is the caller's to fill */
static cdc_err_t place(cdc_batch_t *b, cdc_kafka_msg_t *msg,
                       const cdc_record_t *rec, int64_t now_ms) {
    size_t i = b->n++;
    if (i == 0)
        b->first_ms = now_ms;
    b->msgs[i] = msg;
    b->recs[i] = *rec;
    b->raw[i] = true;
    b->bytes += rec->key_len + rec->value_len;
    b->dwhy[i] = NULL;
    b->txn[i] = NULL;
    b->ids_given = 0;
    b->derr[i] = CDC_OK;
    if (cdc_offsets_note(&b->offs, b->arena, rec->topic, rec->partition,
                         rec->offset)) {
        b->derr[i] = CDC_ERR_NOMEM;
        return CDC_ERR_NOMEM;
    }
    b->recs[i].topic = topic_copy(b, rec->topic);
    return CDC_OK;
}

/* Record i decoded: nothing reads its raw key, value or headers any more
 * (a dead letter of its change reads the record again from Kafka), so its
 * message goes now and b's bytes count it out. */
static void release(cdc_batch_t *b, size_t i) {
    cdc_record_t *r = &b->recs[i];
    cdc_kafka_msg_free(b->msgs[i]);
    b->msgs[i] = NULL;
    b->raw[i] = false;
    b->bytes -= r->key_len + r->value_len;
    cdc_record_forget_raw(r);
}

cdc_err_t cdc_batch_add(cdc_batch_t *b, cdc_kafka_msg_t *msg,
                        const cdc_record_t *rec, cdc_decoder_t *dec,
                        int64_t now_ms) {
    if (b->state != CDC_BATCH_OPEN || b->n >= b->cap)
        return CDC_ERR_STATE;
    size_t i = b->n;
    cdc_err_t err = place(b, msg, rec, now_ms);
    if (err)
        return err;
    err = cdc_decoder_decode(dec, rec, b->arena, &b->events[i]);
    b->derr[i] = err;
    if (err == CDC_OK) {
        release(b, i);
        return CDC_OK;
    }
    if (err == CDC_ERR_NOMEM)
        return err;
    b->dwhy[i] = cdc_arena_strdup(b->arena, cdc_decoder_errstr(dec));
    cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                "cannot decode: %s: %s", cdc_err_str(err),
                b->dwhy[i] ? b->dwhy[i] : "");
    return CDC_OK;
}

#define GROW(field)                                                           \
    do {                                                                      \
        void *np = realloc(b->field, cap * sizeof *b->field);                 \
        if (!np)                                                              \
            return CDC_ERR_NOMEM;                                             \
        b->field = np;                                                        \
    } while (0)

/* every per-record and per-change array to cap entries; an array already
 * grown stays grown when a later one fails (b->cap moves only at the end) */
cdc_err_t cdc_batch_grow(cdc_batch_t *b, size_t cap) {
    if (b->state != CDC_BATCH_OPEN)
        return CDC_ERR_STATE;
    if (cap <= b->cap)
        return CDC_OK;
    GROW(msgs);
    GROW(recs);
    GROW(raw);
    GROW(events);
    GROW(derr);
    GROW(dwhy);
    GROW(txn);
    GROW(changes);
    GROW(change_rec);
    GROW(ids);
    GROW(seen);
    GROW(sel);
    GROW(sel_rec);
    GROW(sel_change);
    GROW(mark);
    b->cap = cap;
    return CDC_OK;
}

#undef GROW

/* moves record i of b into dst: its message if held, a copy of its
 * record (its topic and header array live in b's arena: place copies the
 * topic) and of its decoded event, or of its decode error (the event of a
 * failed decode means nothing: zeroed) */
static cdc_err_t move_one(cdc_batch_t *b, size_t i, cdc_batch_t *dst,
                          int64_t now_ms) {
    cdc_record_t r = b->recs[i];
    cdc_err_t err;
    if (dst->n >= dst->cap &&
        (err = cdc_batch_grow(dst, dst->cap ? dst->cap * 2 : 64)))
        return err;
    if (r.nheaders) {
        cdc_header_t *h = cdc_arena_alloc(dst->arena,
                                          r.nheaders * sizeof *h);
        if (!h)
            return CDC_ERR_NOMEM;
        memcpy(h, r.headers, r.nheaders * sizeof *h);
        r.headers = h;
    }
    size_t j = dst->n;
    cdc_kafka_msg_t *m = b->msgs[i];
    b->msgs[i] = NULL;
    if ((err = place(dst, m, &r, now_ms)))
        return err;
    if (!b->raw[i]) { /* released: what place counted is not held */
        dst->raw[j] = false;
        dst->bytes -= r.key_len + r.value_len;
    }
    dst->txn[j] = b->txn[i];
    if ((dst->derr[j] = b->derr[i])) {
        memset(&dst->events[j], 0, sizeof dst->events[j]);
        if (b->dwhy[i] && !(dst->dwhy[j] = cdc_arena_strdup(dst->arena,
                                                             b->dwhy[i])))
            return dst->derr[j] = CDC_ERR_NOMEM;
        return CDC_OK;
    }
    if ((err = cdc_event_copy(&b->events[i], dst->arena, &dst->events[j])))
        dst->derr[j] = err;
    return err;
}

cdc_err_t cdc_batch_hold(cdc_batch_t *b, const bool *keep, cdc_batch_t *dst,
                         int64_t now_ms) {
    cdc_err_t err = CDC_OK;
    size_t k = 0;
    if (b->state != CDC_BATCH_OPEN ||
        (dst && cdc_batch_state(dst) != CDC_BATCH_OPEN))
        return CDC_ERR_STATE;
    cdc_offsets_reset(&b->offs);
    b->bytes = 0;
    b->ids_given = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!keep[i]) {
            if (!dst) {
                cdc_kafka_msg_free(b->msgs[i]);
                b->msgs[i] = NULL;
            } else if (!err) {
                err = move_one(b, i, dst, now_ms);
            } else { /* stopping on NOMEM: release the rest */
                cdc_kafka_msg_free(b->msgs[i]);
                b->msgs[i] = NULL;
            }
            continue;
        }
        if (k != i) {
            b->msgs[k] = b->msgs[i];
            b->recs[k] = b->recs[i];
            b->raw[k] = b->raw[i];
            b->events[k] = b->events[i];
            b->derr[k] = b->derr[i];
            b->dwhy[k] = b->dwhy[i];
            b->txn[k] = b->txn[i];
        }
        if (b->raw[k])
            b->bytes += b->recs[k].key_len + b->recs[k].value_len;
        if (!err && cdc_offsets_note(&b->offs, b->arena, b->recs[k].topic,
                                     b->recs[k].partition, b->recs[k].offset))
            err = CDC_ERR_NOMEM;
        k++;
    }
    b->n = k;
    return err;
}

void cdc_batch_give_ids(cdc_batch_t *b, const cdc_dedup_id_t *ids,
                        size_t n) {
    if (b->state != CDC_BATCH_OPEN || n > b->cap)
        return;
    memcpy(b->ids, ids, n * sizeof *ids);
    b->ids_given = n;
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
    if (with_ids && b->ids_given != n)
        cdc_dedup_identities(b->changes, n, b->ids);
    b->ids_given = 0;
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
    b->ids_given = 0;
    b->check_ms = b->apply_ms = 0;
    b->txns_whole = b->txns_parts = 0;
    cdc_offsets_reset(&b->offs);
    if (b->arena)
        cdc_arena_reset(b->arena);
    b->state = CDC_BATCH_OPEN;
}
