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
/* identities computed ahead (transaction mode's check before the
 * hand-off) are taken by close when they are as many as its changes; a
 * record added since, or another count, and close computes them */
TEST(close_takes_identities_given_for_its_changes) {
    cdc_batch_t b;
    cdc_dedup_id_t given[3], want[3];
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    memset(given, 0xab, sizeof given);
    add(&b, "t", 0, 0, 1, 100, 0);
    add(&b, "t", 0, 1, 2, 101, 1); /* a tombstone: not a change */
    add(&b, "t", 0, 2, 3, 102, 0);
    cdc_batch_give_ids(&b, given, 2);
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK_INT(b.nchanges, 2);
    CHECK(!memcmp(b.ids, given, 2 * sizeof *given)); /* taken */
    cdc_dedup_identities(b.changes, 2, want);
    cdc_batch_reset(&b);
    add(&b, "t", 0, 0, 1, 100, 0);
    add(&b, "t", 0, 1, 2, 101, 1);
    add(&b, "t", 0, 2, 3, 102, 0);
    cdc_batch_give_ids(&b, given, 3); /* not its count: computed */
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK(!memcmp(b.ids, want, 2 * sizeof *want));
    cdc_batch_reset(&b);
    add(&b, "t", 0, 0, 1, 100, 0);
    cdc_batch_give_ids(&b, given, 2);
    add(&b, "t", 0, 2, 3, 102, 0); /* added since: computed */
    CHECK_INT(cdc_batch_close(&b, true), CDC_OK);
    CHECK(!memcmp(b.ids, want, 2 * sizeof *want));
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

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

/* batch.max.bytes bounds a batch's memory: the raw records it still holds
 * plus what was decoded from them (its arena), not the records alone (a
 * 100-column row decodes into over twice its JSON). */
TEST(full_by_records_and_decoded_bytes) {
    cdc_batch_t b;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    add(&b, "t", 0, 0, 1, 100, 0);
    size_t mem = b.bytes + cdc_arena_used(b.arena);
    CHECK(cdc_arena_used(b.arena) > 0);
    const cdc_batch_limits_t at = {100, mem, 0};
    const cdc_batch_limits_t above = {100, mem + 1, 0};
    /* the applier busy: only a full batch is due */
    CHECK(cdc_batch_due(&b, &at, 1000, false, false));
    CHECK(!cdc_batch_due(&b, &above, 1000, false, false));
    cdc_batch_free(&b);
    cdc_decoder_free(dec);
}

/* A record that decoded gives its raw record back at once (its message is
 * released: kafka.h, cdc_kafka_dlq_produce_reread reads it again for a
 * dead letter), so the batch's bytes count only what it still holds: the
 * raw record of one that did not decode (kept for its dead letter). A
 * schemas-on stream's batch then fills to batch.max.events instead of
 * closing at half of it on its raw JSON. Holding moves the count with
 * the records. */
TEST(released_records_are_counted_out_of_bytes) {
    cdc_batch_t b, d;
    rec_t bad;
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&b, 8), CDC_OK);
    CHECK_INT(cdc_batch_init(&d, 8), CDC_OK);
    add(&b, "t", 0, 0, 1, 100, 0);
    add(&b, "t", 0, 1, 2, 101, 1); /* a tombstone decodes too */
    CHECK_INT(b.bytes, 0);
    for (size_t i = 0; i < 2; i++) {
        CHECK(!b.raw[i]);
        CHECK(b.msgs[i] == NULL);
        CHECK(b.recs[i].key == NULL && b.recs[i].value == NULL);
        CHECK(b.recs[i].headers_of == NULL && b.recs[i].nheaders == 0);
        CHECK_STR(b.recs[i].topic, "t"); /* the arena's copy */
    }
    CHECK(b.recs[0].key_len > 0 && b.recs[0].value_len > 0); /* as read */
    CHECK(b.recs[0].topic == b.recs[1].topic); /* one copy per topic */
    mk(&bad, "t", 0, 2, 3, 102, 2);
    add(&b, "t", 0, 2, 3, 102, 2);
    size_t held = bad.rec.key_len + bad.rec.value_len;
    CHECK_INT(b.bytes, held);
    CHECK(b.raw[2]);
    CHECK(b.recs[2].value && !memcmp(b.recs[2].value, "{\"op\":", 6));
    /* due at what it holds: the raw record kept plus the arena */
    size_t mem = held + cdc_arena_used(b.arena);
    const cdc_batch_limits_t at = {100, mem, 0};
    const cdc_batch_limits_t above = {100, mem + 1, 0};
    CHECK(cdc_batch_due(&b, &at, 1000, false, false));
    CHECK(!cdc_batch_due(&b, &above, 1000, false, false));
    /* the undecodable record and one released move: each batch counts
     * the raw records it holds */
    bool keep[3] = {true, false, false};
    CHECK_INT(cdc_batch_hold(&b, keep, &d, 2000), CDC_OK);
    CHECK_INT(b.bytes, 0);
    CHECK_INT(d.bytes, held);
    CHECK(!d.raw[0] && d.raw[1]);
    CHECK_STR(d.recs[0].topic, "t");
    CHECK(d.recs[0].topic != b.recs[0].topic); /* d's own copy */
    cdc_batch_reset(&d);
    CHECK_INT(d.bytes, 0);
    cdc_batch_free(&b);
    cdc_batch_free(&d);
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

/* ---- a held record moves with its decoded event (cdc_batch_hold) ---- */

/* what a moved record keeps of its Kafka message: key, value and header
 * texts outlive the batches here, as the message's buffers do */
static char *msg_texts[64];
static size_t nmsg_texts;

static const char *msg_text(const char *s) {
    return s ? (msg_texts[nmsg_texts++] = strdup(s)) : NULL;
}

#define SRC(tbl, lsn)                                                         \
    "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\",\"db\":\"d\","   \
    "\"schema\":\"public\",\"table\":\"" tbl "\",\"snapshot\":\"false\","    \
    "\"txId\":571,\"lsn\":" lsn ",\"sequence\":\"[null,\\\"" lsn "\\\"]\"}"
#define TXN(ord) "\"transaction\":{\"id\":\"571:1001\",\"total_order\":" ord \
                 ",\"data_collection_order\":" ord "}"

/* one of each kind a transaction stream holds back: changes c/u/d with a
 * transaction block (the c with a primary-key change: an old-key header),
 * an END record, a tombstone, a record that cannot be decoded */
static const struct {
    const char *topic, *key, *value, *oldkey;
} held[] = {
    {"t", "{\"id\":1}",
     "{\"before\":null,\"after\":{\"id\":1,\"v\":\"x\",\"n\":1.5,"
     "\"j\":{\"a\":[1,2]},\"z\":null}," SRC("t", "1001") "," TXN("1")
     ",\"op\":\"c\",\"ts_ms\":1}", "{\"id\":9}"},
    {"t", "{\"id\":2}",
     "{\"before\":{\"id\":2,\"v\":\"old\"},\"after\":{\"id\":2,\"v\":\"new\"},"
     SRC("t", "1002") "," TXN("2") ",\"op\":\"u\",\"ts_ms\":1}", NULL},
    {"u", "{\"id\":3}",
     "{\"before\":{\"id\":3,\"w\":\"gone\"},\"after\":null," SRC("u", "1003")
     "," TXN("3") ",\"op\":\"d\",\"ts_ms\":1}", NULL},
    {"s.transaction", "{\"id\":\"571:1004\"}",
     "{\"status\":\"END\",\"id\":\"571:1004\",\"event_count\":3,"
     "\"data_collections\":[{\"data_collection\":\"public.t\","
     "\"event_count\":2},{\"data_collection\":\"public.u\","
     "\"event_count\":1}],\"ts_ms\":1}", NULL},
    {"u", "{\"id\":3}", NULL, NULL},
    {"t", "{\"id\":4}", "{\"op\":", NULL},
};
#define NHELD (sizeof held / sizeof held[0])

/* record i of held[] at offset 100 + i; its header array in arena (as
 * kafka.c makes it, in the batch's arena) */
static void held_rec(size_t i, cdc_arena_t *arena, cdc_record_t *r) {
    memset(r, 0, sizeof *r);
    r->topic = held[i].topic;
    r->offset = 100 + (int64_t)i;
    r->timestamp_ms = -1;
    r->key = msg_text(held[i].key);
    r->key_len = strlen(held[i].key);
    r->value = msg_text(held[i].value);
    r->value_len = held[i].value ? strlen(held[i].value) : 0;
    if (held[i].oldkey) {
        cdc_header_t *h = cdc_arena_alloc(arena, sizeof *h);
        h->name = "__debezium.oldkey";
        h->value = msg_text(held[i].oldkey);
        h->value_len = strlen(held[i].oldkey);
        r->headers = h;
        r->nheaders = 1;
    }
}

static void same_vals(const cdc_value_t *a, const cdc_value_t *b, uint32_t n,
                      size_t i, const char *what) {
    CHECK_CTX((a == NULL) == (b == NULL), "record %zu: %s", i, what);
    for (uint32_t c = 0; a && b && c < n; c++) {
        CHECK_CTX(a[c].state == b[c].state && a[c].kind == b[c].kind &&
                  a[c].len == b[c].len, "record %zu: %s[%u]", i, what, c);
        CHECK_CTX((a[c].text == NULL) == (b[c].text == NULL) &&
                  (!a[c].text || !memcmp(a[c].text, b[c].text, a[c].len + 1)),
                  "record %zu: %s[%u]", i, what, c);
    }
}

#define SAME(field) CHECK_CTX(a->field == b->field, "record %zu: " #field, i)
#define SAME_STR(field)                                                      \
    CHECK_CTX(a->field && b->field && !strcmp(a->field, b->field),           \
              "record %zu: " #field, i)

/* event a (moved) equals b (a fresh decode of the same record) */
static void same_event(const cdc_event_t *a, const cdc_event_t *b, size_t i) {
    SAME(kind); SAME(op); SAME(snapshot); SAME(incremental);
    SAME(source_ts_us); SAME(tx_id); SAME(partition); SAME(offset);
    SAME(txn_total_order); SAME(txn_collection_order); SAME(txn_end);
    SAME(txn_event_count); SAME(txn_ncollections);
    SAME(keydef); SAME(rowdef); /* the decoder's: shared, not copied */
    CHECK_CTX(!memcmp(&a->pos, &b->pos, sizeof a->pos), "record %zu: pos", i);
    SAME_STR(connector); SAME_STR(source_name); SAME_STR(db);
    SAME_STR(schema); SAME_STR(table); SAME_STR(topic); SAME_STR(txn_id);
    uint32_t nk = a->keydef ? a->keydef->ncols : 0;
    uint32_t nr = a->rowdef ? a->rowdef->ncols : 0;
    same_vals(a->key, b->key, nk, i, "key");
    same_vals(a->after, b->after, nr, i, "after");
    same_vals(a->before, b->before, nr, i, "before");
    same_vals(a->old_key, b->old_key, nk, i, "old_key");
    for (size_t c = 0; c < a->txn_ncollections && c < b->txn_ncollections;
         c++)
        CHECK_CTX(!strcmp(a->txn_collections[c].name,
                          b->txn_collections[c].name) &&
                      a->txn_collections[c].event_count ==
                          b->txn_collections[c].event_count,
                  "record %zu: collection %zu", i, c);
}

#undef SAME
#undef SAME_STR

/* held[] into b, at offsets 100..; each record's topic is gone (written
 * over, freed) once added, as a released message takes librdkafka's
 * topic name with it: the batch keeps copies */
static void fill_held(cdc_batch_t *b) {
    for (size_t i = 0; i < NHELD; i++) {
        cdc_record_t r;
        char *topic = strdup(held[i].topic);
        held_rec(i, b->arena, &r);
        r.topic = topic;
        CHECK_INT(cdc_batch_add(b, NULL, &r, dec, 1000), CDC_OK);
        memset(topic, 'x', strlen(topic));
        free(topic);
    }
}

/* refills b (reset) with other records: its arena's kept block is written
 * over, so an event still pointing there reads something else */
static void scribble(cdc_batch_t *b) {
    cdc_batch_reset(b);
    for (int64_t k = 0; k < 200; k++)
        add(b, "w", 0, k, 1000 + (int)k, 5000 + (unsigned)k, 0);
}

/* Held records move with their decoded events (no second decode): after
 * two hand-offs, the source batch of the first refilled and the one of
 * the second freed, each moved event equals a fresh decode of its record
 * (under asan, a pointer left in a source arena is a use after free) */
TEST(held_records_move_with_their_decoded_events) {
    cdc_batch_t a, b, c;
    bool keep[NHELD] = {false};
    keep[2] = true; /* one record stays: the others close up around it */
    dec = cdc_decoder_new(&dec_conf);
    CHECK_INT(cdc_batch_init(&a, 256), CDC_OK);
    CHECK_INT(cdc_batch_init(&b, 2), CDC_OK); /* grown by the moves */
    CHECK_INT(cdc_batch_init(&c, 8), CDC_OK);
    fill_held(&a);
    /* each record's transaction entry (opaque here) moves with it */
    struct txn_s *tag[NHELD];
    for (size_t i = 0; i < a.n; i++) {
        CHECK(a.txn[i] == NULL); /* none when added */
        a.txn[i] = tag[i] = (struct txn_s *)&tag[i];
    }
    CHECK_INT(cdc_batch_hold(&a, keep, &b, 2000), CDC_OK);
    CHECK_INT(a.n, 1);
    CHECK_INT(a.recs[0].offset, 102);
    CHECK(a.txn[0] == tag[2]);
    for (size_t j = 0, i = 0; j < b.n; j++, i += i + 1 == 2 ? 2 : 1)
        CHECK(b.txn[j] == tag[i]);
    CHECK_INT(b.n, NHELD - 1);
    CHECK_INT(b.first_ms, 2000);
    scribble(&a);
    bool none[NHELD] = {false};
    CHECK_INT(cdc_batch_hold(&b, none, &c, 3000), CDC_OK);
    CHECK_INT(b.n, 0);
    cdc_batch_free(&b);
    CHECK_INT(c.n, NHELD - 1);
    cdc_arena_t *fresh = cdc_arena_new(0);
    for (size_t j = 0, i = 0; j < c.n; j++, i += i + 1 == 2 ? 2 : 1) {
        cdc_record_t r;
        cdc_event_t want;
        held_rec(i, fresh, &r);
        CHECK_INT(c.recs[j].offset, r.offset);
        CHECK_STR(c.recs[j].topic, r.topic);
        cdc_err_t err = cdc_decoder_decode(dec, &r, fresh, &want);
        CHECK_INT(c.derr[j], err);
        /* only a record that did not decode holds its raw record */
        CHECK_INT(c.raw[j], err != CDC_OK);
        if (err) { /* the reason and the record move, for the DLQ */
            CHECK_STR(c.dwhy[j], cdc_decoder_errstr(dec));
            CHECK_INT(c.recs[j].value_len, r.value_len);
            CHECK(c.recs[j].value &&
                  !memcmp(c.recs[j].value, r.value, r.value_len));
            continue;
        }
        CHECK_INT(c.recs[j].nheaders, 0); /* released with the message */
        CHECK(c.recs[j].value == NULL);
        CHECK(c.dwhy[j] == NULL);
        same_event(&c.events[j], &want, i);
    }
    /* the moved records are whole: the later batch closes on them */
    CHECK_INT(cdc_batch_close(&c, true), CDC_OK);
    CHECK_INT(c.nchanges, 2); /* the c and the u; the d stayed in a */
    CHECK(c.events[0].old_key != NULL);
    CHECK_STR(c.events[0].old_key[0].text, "9");
    CHECK_INT(c.offs.n, 3);
    cdc_arena_free(fresh);
    cdc_batch_free(&a);
    cdc_batch_free(&c);
    cdc_decoder_free(dec);
    for (size_t i = 0; i < nmsg_texts; i++)
        free(msg_texts[i]);
    nmsg_texts = 0;
}
