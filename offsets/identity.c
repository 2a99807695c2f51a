/* identity.c - the 128-bit identity of a change event (DESIGN.md step 4):
 * a pure function of the event's source fields, never of its Kafka origin.
 * Marks in Redis outlive the process that made them, so the encoding and
 * the hash are pinned by a golden value in tests/unit/test_offsets_dedup.c. */
#include "offsets/dedup.h"

#include <string.h>

/* A 128-bit, two-lane hash of our own: every 64-bit input word is passed
 * through an avalanche step into both lanes with different constants and
 * rotations, and each lane feeds the other, so one flipped input bit spreads
 * over both halves. Not cryptographic: identities come from the source
 * database, and a collision needs two changes of the same table to agree on
 * 128 bits. The encoding fed to it is length-prefixed, so field boundaries
 * can never shift into each other. */
/* The encoding is gathered in buf and hashed a word at a time once buf is
 * full and at the end: the same words, in the same order, as hashing it byte
 * by byte would make, in far fewer steps (one event's encoding is ~150 bytes:
 * one pass). */
#define IDH_BUF 256 /* a multiple of 8 */

typedef struct {
    uint64_t a, b;
    uint64_t len;  /* bytes hashed so far, buf included */
    size_t n;      /* bytes in buf */
    unsigned char buf[IDH_BUF];
} idhash_t;

static uint64_t avalanche(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

static uint64_t rotl64(uint64_t x, unsigned r) {
    return (x << r) | (x >> (64 - r));
}

static void idh_word(idhash_t *h, uint64_t w) {
    h->a = rotl64(h->a ^ avalanche(w + 0x9e3779b97f4a7c15ULL), 29) *
               0xd6e8feb86659fd93ULL +
           h->b;
    h->b = rotl64(h->b ^ avalanche(w ^ 0xa0761d6478bd642fULL), 37) *
               0xe7037ed1a0b428dbULL +
           h->a;
}

static void idh_init(idhash_t *h) {
    h->a = 0x243f6a8885a308d3ULL; /* digits of pi: nothing up the sleeve */
    h->b = 0x13198a2e03707344ULL;
    h->len = 0;
    h->n = 0;
}

static uint64_t le64(const unsigned char *s) {
    uint64_t w = 0;
    for (unsigned i = 0; i < 8; i++) /* little-endian on any host; one load */
        w |= (uint64_t)s[i] << (8 * i);
    return w;
}

/* hashes the whole words of buf; the bytes of a partial one move to the
 * front */
static void idh_drain(idhash_t *h) {
    size_t whole = h->n & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8)
        idh_word(h, le64(h->buf + i));
    memmove(h->buf, h->buf + whole, h->n - whole);
    h->n -= whole;
}

static void idh_bytes(idhash_t *h, const void *p, size_t n) {
    const unsigned char *s = p;
    h->len += n;
    while (n) {
        size_t take = IDH_BUF - h->n < n ? IDH_BUF - h->n : n;
        memcpy(h->buf + h->n, s, take);
        h->n += take;
        s += take;
        n -= take;
        if (h->n == IDH_BUF)
            idh_drain(h);
    }
}

static void idh_u64(idhash_t *h, uint64_t v) {
    if (IDH_BUF - h->n < 8)
        idh_drain(h); /* leaves at most 7 bytes: room for 8 */
    for (unsigned i = 0; i < 8; i++)
        h->buf[h->n + i] = (unsigned char)(v >> (8 * i));
    h->n += 8;
    h->len += 8;
}

static void idh_u8(idhash_t *h, uint8_t v) {
    if (h->n == IDH_BUF)
        idh_drain(h);
    h->buf[h->n++] = v;
    h->len++;
}

/* length-prefixed string; NULL is the same as "" (event.h: "" when absent) */
static void idh_str(idhash_t *h, const char *s) {
    size_t n = s ? strlen(s) : 0;
    idh_u64(h, n);
    if (n)
        idh_bytes(h, s, n);
}

static void idh_final(idhash_t *h, uint8_t out[16]) {
    idh_drain(h); /* at most 7 bytes left: the tail */
    unsigned char b[8] = {0};
    memcpy(b, h->buf, h->n);
    idh_word(h, le64(b) ^ ((uint64_t)h->n << 59));
    idh_word(h, h->len);
    uint64_t a = avalanche(h->a ^ rotl64(h->b, 32));
    uint64_t b2 = avalanche(h->b + a);
    for (unsigned i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[8 + i] = (uint8_t)(b2 >> (8 * i));
    }
}

bool cdc_dedup_identity(const cdc_event_t *ev, uint8_t out[16]) {
    idhash_t h;

    /* DESIGN.md step 4: no source position = no stable identity; an
     * incremental-snapshot read carries the position of whatever was
     * streaming when the chunk was read, not of the row, so it has none */
    if (!ev || ev->kind != CDC_EV_CHANGE || !ev->op ||
        ev->pos.kind == CDC_POS_NONE || ev->incremental)
        return false;

    idh_init(&h);
    idh_u8(&h, 1); /* encoding version: bump if the fields below change */
    idh_str(&h, ev->source_name);
    idh_str(&h, ev->db);
    idh_str(&h, ev->schema);
    idh_str(&h, ev->table);
    uint32_t ncols = ev->keydef && ev->key ? ev->keydef->ncols : 0;
    idh_u64(&h, ncols);
    for (uint32_t i = 0; i < ncols; i++) {
        const cdc_value_t *v = &ev->key[i];
        idh_str(&h, ev->keydef->cols[i].name);
        idh_u8(&h, v->state);
        if (v->state == CDC_V_SET)
            idh_str(&h, v->text);
    }
    idh_u8(&h, ev->pos.kind);
    unsigned np = ev->pos.nparts <= 3 ? ev->pos.nparts : 3;
    idh_u8(&h, (uint8_t)np);
    for (unsigned i = 0; i < np; i++)
        idh_u64(&h, ev->pos.part[i]);
    idh_u8(&h, (uint8_t)ev->op);
    idh_final(&h, out);
    return true;
}

void cdc_dedup_identities(cdc_event_t *const *events, size_t n,
                          cdc_dedup_id_t *ids) {
    for (size_t i = 0; i < n; i++)
        ids[i].ok = cdc_dedup_identity(events[i], ids[i].bytes);
}

unsigned cdc_dedup_shard(const uint8_t id[16]) {
    return id[0] % CDC_DEDUP_SHARDS;
}
