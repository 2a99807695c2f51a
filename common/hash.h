/* hash.h - the one non-cryptographic hash: FNV-1a 64, for cache buckets,
 * collapse row keys and advisory-lock ids. Start with CDC_HASH_INIT and
 * chain calls to hash several parts. Stable across runs and builds (lock
 * ids are shared between instances): never change the constants.
 * Pure; thread-safe. Not for identities that outlive a process boundary in
 * Redis (offsets/ has its own golden-tested identity hash). */
#ifndef CDC_COMMON_HASH_H
#define CDC_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CDC_HASH_INIT 0xcbf29ce484222325ULL

static inline uint64_t cdc_hash(uint64_t h, const void *p, size_t len) {
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
