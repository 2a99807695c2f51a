/* test_common_sha256.c - SHA-256 (FIPS 180-2 examples) and HMAC-SHA-256
 * (RFC 4231 test cases 1-4, 6, 7), fed whole and in uneven pieces. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "common/sha256.h"

static void hex(const uint8_t *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *sha_hex(const void *data, size_t len, size_t piece) {
    static char out[65];
    uint8_t md[32];
    cdc_sha256_t c;
    cdc_sha256_init(&c);
    for (size_t off = 0; off < len; off += piece)
        cdc_sha256_update(&c, (const uint8_t *)data + off,
                          len - off < piece ? len - off : piece);
    cdc_sha256_final(&c, md);
    hex(md, 32, out);
    return out;
}

TEST(sha256_vectors) {
    static const char *abc448 =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const size_t pieces[] = {1, 3, 63, 64, 65, 1000000};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        CHECK_STR(sha_hex("", 0, pieces[p]),
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        CHECK_STR(sha_hex("abc", 3, pieces[p]),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        CHECK_STR(sha_hex(abc448, strlen(abc448), pieces[p]),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    char *million = malloc(1000000);
    CHECK(million != NULL);
    if (!million)
        return;
    memset(million, 'a', 1000000);
    CHECK_STR(sha_hex(million, 1000000, 1000000),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK_STR(sha_hex(million, 1000000, 97),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* a byte repeated n times, into a static buffer */
static const uint8_t *rep(uint8_t b, size_t n) {
    static uint8_t buf[8][256];
    static int next;
    uint8_t *p = buf[next++ & 7];
    memset(p, b, n);
    return p;
}

TEST(hmac_rfc4231) {
    static uint8_t k4[25];
    for (int i = 0; i < 25; i++)
        k4[i] = (uint8_t)(i + 1);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    const char *d7 = "This is a test using a larger than block-size key and a "
                     "larger than block-size data. The key needs to be hashed "
                     "before being used by the HMAC algorithm.";
    const struct {
        const uint8_t *key;
        size_t klen;
        const void *data;
        size_t dlen;
        const char *want;
    } cases[] = {
        {rep(0x0b, 20), 20, "Hi There", 8,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {(const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {rep(0xaa, 20), 20, rep(0xdd, 50), 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {k4, 25, rep(0xcd, 50), 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {rep(0xaa, 131), 131, d6, strlen(d6),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {rep(0xaa, 131), 131, d7, strlen(d7),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cdc_hmac_key_t k;
        char out[65];
        cdc_hmac_key_init(&k, cases[i].key, cases[i].klen);
        cdc_hmac_sha256_hex(&k, cases[i].data, cases[i].dlen, out);
        CHECK_CTX(strcmp(out, cases[i].want) == 0, "case %zu: %s", i, out);
        /* the prepared key is reusable */
        cdc_hmac_sha256_hex(&k, cases[i].data, cases[i].dlen, out);
        CHECK_CTX(strcmp(out, cases[i].want) == 0, "case %zu again", i);
    }
}
