/* sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for
 * columns.hash: a keyed hash of a value, so the clear value never lands in
 * the warehouse while equal values still hash equal.
 *
 * Pure, no allocation, no state outside the caller's context. Not constant
 * time with respect to the key length (irrelevant for its use here), and
 * not meant for anything but hashing column values. Threads: a context is
 * used by one thread at a time. */
#ifndef CDC_COMMON_SHA256_H
#define CDC_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CDC_SHA256_LEN 32
#define CDC_SHA256_BLOCK 64

typedef struct cdc_sha256_s {
    uint32_t h[8];
    uint64_t nbytes;              /* message length so far */
    uint8_t buf[CDC_SHA256_BLOCK];
    size_t nbuf;
} cdc_sha256_t;

void cdc_sha256_init(cdc_sha256_t *c);
void cdc_sha256_update(cdc_sha256_t *c, const void *data, size_t len);
void cdc_sha256_final(cdc_sha256_t *c, uint8_t out[CDC_SHA256_LEN]);
void cdc_sha256(const void *data, size_t len, uint8_t out[CDC_SHA256_LEN]);

/* HMAC-SHA-256 with a key prepared once: the inner and outer states after
 * their padded key block, so each value costs two finishing passes. */
typedef struct cdc_hmac_key_s {
    cdc_sha256_t inner, outer;
} cdc_hmac_key_t;

void cdc_hmac_key_init(cdc_hmac_key_t *k, const void *key, size_t keylen);
void cdc_hmac_sha256(const cdc_hmac_key_t *k, const void *msg, size_t len,
                     uint8_t out[CDC_SHA256_LEN]);
/* The same as 64 lower-case hex digits and a NUL. */
void cdc_hmac_sha256_hex(const cdc_hmac_key_t *k, const void *msg,
                         size_t len, char out[2 * CDC_SHA256_LEN + 1]);

#endif
