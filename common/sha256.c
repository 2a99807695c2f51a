/* sha256.c - SHA-256 and HMAC-SHA-256 (see sha256.h), written from
 * FIPS 180-4 section 6.2 and RFC 2104. */
#include "common/sha256.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

/* One 64-byte block into the state. */
static void compress(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void cdc_sha256_init(cdc_sha256_t *c) {
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->nbytes = 0;
    c->nbuf = 0;
}

void cdc_sha256_update(cdc_sha256_t *c, const void *data, size_t len) {
    const uint8_t *p = data;
    c->nbytes += len;
    if (c->nbuf) {
        size_t take = CDC_SHA256_BLOCK - c->nbuf;
        if (take > len)
            take = len;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        len -= take;
        if (c->nbuf < CDC_SHA256_BLOCK)
            return;
        compress(c->h, c->buf);
        c->nbuf = 0;
    }
    for (; len >= CDC_SHA256_BLOCK; p += CDC_SHA256_BLOCK,
                                    len -= CDC_SHA256_BLOCK)
        compress(c->h, p);
    memcpy(c->buf, p, len);
    c->nbuf = len;
}

void cdc_sha256_final(cdc_sha256_t *c, uint8_t out[CDC_SHA256_LEN]) {
    uint64_t bits = c->nbytes * 8;
    uint8_t pad[CDC_SHA256_BLOCK + 8] = {0x80};
    /* 0x80, zeros to 56 mod 64, then the length in bits, big-endian */
    size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
    for (int i = 0; i < 8; i++)
        pad[npad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    cdc_sha256_update(c, pad, npad + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void cdc_sha256(const void *data, size_t len, uint8_t out[CDC_SHA256_LEN]) {
    cdc_sha256_t c;
    cdc_sha256_init(&c);
    cdc_sha256_update(&c, data, len);
    cdc_sha256_final(&c, out);
}

void cdc_hmac_key_init(cdc_hmac_key_t *k, const void *key, size_t keylen) {
    uint8_t block[CDC_SHA256_BLOCK] = {0}, ipad[CDC_SHA256_BLOCK],
            opad[CDC_SHA256_BLOCK];
    if (keylen > CDC_SHA256_BLOCK)
        cdc_sha256(key, keylen, block); /* a long key is hashed first */
    else if (keylen)
        memcpy(block, key, keylen);
    for (size_t i = 0; i < CDC_SHA256_BLOCK; i++) {
        ipad[i] = block[i] ^ 0x36;
        opad[i] = block[i] ^ 0x5c;
    }
    cdc_sha256_init(&k->inner);
    cdc_sha256_update(&k->inner, ipad, sizeof ipad);
    cdc_sha256_init(&k->outer);
    cdc_sha256_update(&k->outer, opad, sizeof opad);
}

void cdc_hmac_sha256(const cdc_hmac_key_t *k, const void *msg, size_t len,
                     uint8_t out[CDC_SHA256_LEN]) {
    cdc_sha256_t c = k->inner;
    uint8_t ih[CDC_SHA256_LEN];
    cdc_sha256_update(&c, msg, len);
    cdc_sha256_final(&c, ih);
    c = k->outer;
    cdc_sha256_update(&c, ih, sizeof ih);
    cdc_sha256_final(&c, out);
}

void cdc_hmac_sha256_hex(const cdc_hmac_key_t *k, const void *msg,
                         size_t len, char out[2 * CDC_SHA256_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[CDC_SHA256_LEN];
    cdc_hmac_sha256(k, msg, len, mac);
    for (size_t i = 0; i < CDC_SHA256_LEN; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * CDC_SHA256_LEN] = '\0';
}
