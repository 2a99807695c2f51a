/* test_consumer_batch.c - the record buffer's states, changes, identities and
 * offsets (consumer/batch.c), with a real decoder and no server. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/batch.h"

/* the decoder limits cdcsink's settings default to */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

/* A schemaless Debezium change for key id at source position lsn; bad
 * makes it undecodable, tomb a Kafka null value. */
typedef struct {
    char key[64];
    char value[512];
    cdc_record_t rec;
} rec_t;

static void mk(rec_t *r, const char *topic, int32_t part, int64_t off,
               int id, unsigned lsn, int kind /* 0 change, 1 tomb, 2 bad */) {
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "{\"id\":%d}", id);
    snprintf(r->value, sizeof r->value,
             "{\"before\":null,\"after\":{\"id\":%d,\"v\":\"x\"},"
             "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
             "\"db\":\"d\",\"schema\":\"public\",\"table\":\"t\","
             "\"snapshot\":\"false\",\"lsn\":%u,"
             "\"sequence\":\"[null,\\\"%u\\\"]\"},"
             "\"op\":\"c\",\"ts_ms\":1}",
             id, lsn, lsn);
    if (kind == 2)
        snprintf(r->value, sizeof r->value, "{\"op\":");
    r->rec.topic = topic;
    r->rec.partition = part;
    r->rec.offset = off;
    r->rec.timestamp_ms = -1;
    r->rec.key = r->key;
    r->rec.key_len = strlen(r->key);
    r->rec.value = kind == 1 ? NULL : r->value;
    r->rec.value_len = kind == 1 ? 0 : strlen(r->value);
}

static cdc_decoder_t *dec;

static void add(cdc_batch_t *b, const char *topic, int32_t part, int64_t off,
                int id, unsigned lsn, int kind) {
    rec_t r;
    mk(&r, topic, part, off, id, lsn, kind);
    /* the batch keeps rec, which borrows key and value: copy them in */
    r.rec.key = cdc_arena_strdup(b->arena, r.key);
    if (r.rec.value)
        r.rec.value = cdc_arena_strdup(b->arena, r.value);
    CHECK_INT(cdc_batch_add(b, NULL, &r.rec, dec, 1000 + off), CDC_OK);
}

TEST(states_go_one_way) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    CHECK_INT(cdc_batch_state(&b), CDC_BATCH_OPEN);
    /* nothing but close is allowed while OPEN */
    CHECK_INT(cdc_batch_select(&b), CDC_ERR_STATE);
    CHECK_INT(cdc_batch_committed(&b, NULL, 0), CDC_ERR_STATE);
    add(&b, "t", 0, 10, 1, 100, 0);
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK_INT(cdc_batch_state(&b), CDC_BATCH_CHECKED);
    /* closed: no more records, no second close */
    rec_t r;
    mk(&r, "t", 0, 11, 2, 101, 0);
    CHECK_INT(cdc_batch_add(&b, NULL, &r.rec, dec, 0), CDC_ERR_STATE);
    CHECK_INT(cdc_batch_close(&b, true), CDC_ERR_STATE);
    CHECK_INT(cdc_batch_committed(&b, NULL, 0), CDC_ERR_STATE);
    CHECK_INT(cdc_batch_select(&b), CDC_OK);
    CHECK_INT(cdc_batch_state(&b), CDC_BATCH_HANDED);
    CHECK_INT(cdc_batch_select(&b), CDC_ERR_STATE);
    CHECK_INT(cdc_batch_committed(&b, NULL, 0), CDC_OK);
    CHECK_INT(cdc_batch_state(&b), CDC_BATCH_COMMITTED);
    CHECK_INT(cdc_batch_committed(&b, NULL, 0), CDC_ERR_STATE);
    cdc_batch_reset(&b);
    CHECK_INT(cdc_batch_state(&b), CDC_BATCH_OPEN);
    CHECK_INT(b.n, 0);
    CHECK_INT(b.offs.n, 0);
    CHECK_INT(b.nchanges, 0);
    CHECK_INT(b.bytes, 0);
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

TEST(changes_identities_and_offsets) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 10, 1, 100, 0);
    add(&b, "t", 1, 5, 2, 101, 0);
    add(&b, "t", 0, 11, 3, 0, 1); /* tombstone: no change */
    add(&b, "u", 0, 7, 4, 0, 2);  /* undecodable: kept for the DLQ */
    add(&b, "t", 0, 12, 5, 102, 0);
    CHECK_INT(b.n, 5);
    CHECK_INT(b.first_ms, 1010);
    CHECK(!cdc_batch_full(&b));
    CHECK_INT(b.derr[2], CDC_OK);
    CHECK(b.derr[3] != CDC_OK);
    CHECK(b.dwhy[3] != NULL);
    /* next offset per partition, in order of first record */
    CHECK_INT(b.offs.n, 3);
    CHECK_STR(b.offs.v[0].topic, "t");
    CHECK_INT(b.offs.v[0].partition, 0);
    CHECK_INT(b.offs.v[0].next_offset, 13);
    CHECK_INT(b.offs.v[1].partition, 1);
    CHECK_INT(b.offs.v[1].next_offset, 6);
    CHECK_STR(b.offs.v[2].topic, "u");
    CHECK_INT(b.offs.v[2].next_offset, 8);

    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK_INT(b.nchanges, 3);
    CHECK_INT(b.change_rec[0], 0);
    CHECK_INT(b.change_rec[1], 1);
    CHECK_INT(b.change_rec[2], 4);
    for (size_t c = 0; c < 3; c++) {
        uint8_t id[16];
        CHECK(b.changes[c] == &b.events[b.change_rec[c]]);
        CHECK(cdc_dedup_identity(b.changes[c], id));
        CHECK(b.ids[c].ok);
        CHECK(memcmp(b.ids[c].bytes, id, 16) == 0);
    }
    /* Redis knew change 1: the selection drops it */
    b.seen[1] = true;
    b.seen_valid = true;
    CHECK_INT(cdc_batch_select(&b), CDC_OK);
    CHECK_INT(b.hits, 1);
    CHECK_INT(b.nsel, 2);
    CHECK_INT(b.sel_rec[0], 0);
    CHECK_INT(b.sel_rec[1], 4);
    /* apply rejected selection entry 1 (record 4): marks = change 0 only */
    cdc_reject_t rej = {1, CDC_ERR_VALUE, "bad"};
    CHECK_INT(cdc_batch_committed(&b, &rej, 1), CDC_OK);
    CHECK(b.mark[0]);
    CHECK(!b.mark[1]); /* a hit: already marked */
    CHECK(!b.mark[2]); /* rejected */
    cdc_batch_reset(&b);
    /* the buffer is reusable; Redis silent = every change selected */
    add(&b, "t", 0, 13, 6, 103, 0);
    CHECK_INT(b.offs.n, 1);
    CHECK_INT(b.offs.v[0].next_offset, 14);
    CHECK_INT(cdc_batch_close(&b, false), CDC_OK);
    CHECK(!b.has_ids);
    b.seen[0] = true; /* without seen_valid it means nothing */
    CHECK_INT(cdc_batch_select(&b), CDC_OK);
    CHECK_INT(b.nsel, 1);
    CHECK_INT(b.hits, 0);
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

/* the same change read twice in one batch (a producer retry, a replay):
 * when apply rejects one copy, neither is marked in Redis (the change was
 * not applied), while other changes are */
TEST(rejected_change_is_not_marked_through_its_copy) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 10, 1, 100, 0);
    add(&b, "t", 0, 11, 2, 101, 0);
    add(&b, "t", 0, 12, 1, 100, 0); /* the first one again */
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK(memcmp(b.ids[0].bytes, b.ids[2].bytes, 16) == 0);
    CHECK_INT(cdc_batch_select(&b), CDC_OK);
    CHECK_INT(b.nsel, 3);
    /* apply keeps the last copy of a key and rejects it */
    cdc_reject_t rej = {2, CDC_ERR_VALUE, "bad"};
    CHECK_INT(cdc_batch_committed(&b, &rej, 1), CDC_OK);
    CHECK(!b.mark[2]); /* rejected */
    CHECK(!b.mark[0]); /* its copy: not applied either */
    CHECK(b.mark[1]);  /* another change: applied */
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

TEST(full_batch_refuses_records) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 2), CDC_OK);
    add(&b, "t", 0, 1, 1, 100, 0);
    add(&b, "t", 0, 2, 2, 101, 0);
    CHECK(cdc_batch_full(&b));
    rec_t r;
    mk(&r, "t", 0, 3, 3, 102, 0);
    CHECK_INT(cdc_batch_add(&b, NULL, &r.rec, dec, 0), CDC_ERR_STATE);
    CHECK_INT(b.n, 2);
    CHECK_INT(b.offs.v[0].next_offset, 3);
    cdc_batch_free(&b);
    cdc_batch_free(&b); /* a freed batch is zeroed: freeing again is safe */
    cdc_decoder_free(dec);
}

/* a range the warehouse lost (restored from a backup): Redis's answers
 * below the trusted offset are ignored, so those changes are applied */
TEST(distrust_redis_below_an_offset) {
    cdc_batch_t b;
    cdc_offsets_map_t from = CDC_OFFSETS_MAP_INIT;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 10, 1, 100, 0);
    add(&b, "t", 0, 11, 2, 101, 0);
    add(&b, "t", 1, 3, 3, 102, 0);
    CHECK_INT(cdc_batch_first_offset(&b, "t", 0), 10);
    CHECK_INT(cdc_batch_first_offset(&b, "t", 1), 3);
    CHECK_INT(cdc_batch_first_offset(&b, "t", 2), -1);
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    for (size_t c = 0; c < 3; c++)
        b.seen[c] = true;
    b.seen_valid = true;
    CHECK_INT(cdc_offsets_map_set(&from, "t", 0, 11), CDC_OK);
    cdc_batch_distrust(&b, &from);
    CHECK(!b.seen[0]); /* t[0]@10 < 11: applied again */
    CHECK(b.seen[1]);  /* t[0]@11: Redis trusted */
    CHECK(b.seen[2]);  /* t[1]: no lost range */
    CHECK_INT(cdc_batch_select(&b), CDC_OK);
    CHECK_INT(b.nsel, 1);
    CHECK_INT(b.sel_rec[0], 0);
    cdc_offsets_map_free(&from);
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

/* The hand-over rule: an idle applier gets the batch as soon as a poll
 * finds nothing more (batch.linger.ms 0, the default), or 20 ms after its
 * first record if records keep coming; a busy one lets it fill (and grow)
 * until it is idle, unless it is full. */
TEST(hand_over_when_idle_and_drained) {
    cdc_batch_t b;
    const cdc_batch_limits_t lim = {100, 1 << 20, 0};
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    /* nothing open: never due, the poll waits its longest */
    CHECK(!cdc_batch_due(&b, &lim, 5000, true, true));
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 5000, true, false), 100);
    add(&b, "t", 0, 0, 1, 100, 0); /* first record at 1000 */
    /* 1 ms old, the applier idle: handed over once the poll comes back
     * empty; while polls return records, they do not wait */
    CHECK(cdc_batch_due(&b, &lim, 1001, true, true));
    CHECK(!cdc_batch_due(&b, &lim, 1001, true, false));
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 1001, true, true), 0);
    /* the applier busy: the batch keeps filling, drained or not; the poll
     * waits (the applier's end wakes it) */
    CHECK(!cdc_batch_due(&b, &lim, 1001, false, true));
    CHECK(!cdc_batch_due(&b, &lim, 1001, false, false));
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 1001, false, true), 19);
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 1001, false, false), 19);
    /* idle after an empty poll, yet not handed (a transaction-consistent
     * batch waiting for the end of a transaction): no busy polling */
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 1001, true, false), 19);
    /* never drained: due on an idle applier at 20 ms */
    CHECK(!cdc_batch_due(&b, &lim, 1019, true, false));
    CHECK(cdc_batch_due(&b, &lim, 1020, true, false));
    CHECK(!cdc_batch_due(&b, &lim, 1020, false, false));
    CHECK_INT(cdc_batch_wait_ms(&b, 0, 1020, false, false), 5);
    /* full, by records or bytes: due even while the applier is busy (the
     * loop then waits for its turn) */
    const cdc_batch_limits_t one = {1, 1 << 20, 0};
    const cdc_batch_limits_t tiny = {100, 16, 0};
    CHECK(cdc_batch_due(&b, &one, 1001, false, false));
    CHECK(cdc_batch_due(&b, &tiny, 1001, false, false));
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

/* batch.max.bytes bounds a batch's memory: its records' keys and values
 * plus what was decoded from them (its arena), not the records alone (a
 * 100-column row decodes into over twice its JSON). */
TEST(full_by_records_and_decoded_bytes) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 0, 1, 100, 0);
    size_t mem = b.bytes + cdc_arena_used(b.arena);
    CHECK(cdc_arena_used(b.arena) > 0);
    const cdc_batch_limits_t records = {100, b.bytes + 1, 0};
    const cdc_batch_limits_t at = {100, mem, 0};
    const cdc_batch_limits_t above = {100, mem + 1, 0};
    /* the applier busy: only a full batch is due */
    CHECK(cdc_batch_due(&b, &records, 1000, false, false));
    CHECK(cdc_batch_due(&b, &at, 1000, false, false));
    CHECK(!cdc_batch_due(&b, &above, 1000, false, false));
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

/* A linger set holds the batch that long even when drained (fewer, larger
 * transactions); from 20 ms on it is the wait of earlier versions: due at
 * that age on an idle applier, drained or not. */
TEST(linger_holds_a_drained_batch) {
    cdc_batch_t b;
    const cdc_batch_limits_t l5 = {100, 1 << 20, 5};
    const cdc_batch_limits_t l50 = {100, 1 << 20, 50};
    const cdc_batch_limits_t l10m = {100, 1 << 20, 600000};
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 0, 1, 100, 0); /* first record at 1000 */
    CHECK(!cdc_batch_due(&b, &l5, 1004, true, true));
    CHECK_INT(cdc_batch_wait_ms(&b, 5, 1001, true, true), 4);
    CHECK(cdc_batch_due(&b, &l5, 1005, true, true));
    CHECK(!cdc_batch_due(&b, &l5, 1005, true, false)); /* still coming */
    CHECK_INT(cdc_batch_wait_ms(&b, 5, 1005, true, true), 0);
    CHECK(cdc_batch_due(&b, &l5, 1020, true, false));
    CHECK(!cdc_batch_due(&b, &l50, 1049, true, true));
    CHECK(cdc_batch_due(&b, &l50, 1050, true, false));
    CHECK(!cdc_batch_due(&b, &l50, 1050, false, true));
    CHECK_INT(cdc_batch_wait_ms(&b, 50, 1001, true, false), 49);
    CHECK_INT(cdc_batch_wait_ms(&b, 50, 1050, false, false), 5);
    CHECK(!cdc_batch_due(&b, &l10m, 500000, true, true));
    CHECK_INT(cdc_batch_wait_ms(&b, 600000, 1001, true, true), 100);
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}
