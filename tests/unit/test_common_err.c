/* test_common_err.c - the error catalogue (common/err.def), the errstr
 * helper and the stable hash (common/hash.h). */
#include "tests/unit/harness.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/hash.h"

TEST(every_error_has_a_name_a_text_and_a_class) {
    CHECK_INT(cdc_err_class(CDC_OK), CDC_ERRCLASS_OK);
    for (int e = 1; e < CDC_ERR__COUNT; e++) {
        cdc_errclass_t c = cdc_err_class((cdc_err_t)e);
        CHECK(c == CDC_ERRCLASS_RETRIABLE || c == CDC_ERRCLASS_PERMANENT ||
              c == CDC_ERRCLASS_FATAL);
        CHECK(*cdc_err_name((cdc_err_t)e) && *cdc_err_str((cdc_err_t)e));
        CHECK(strcmp(cdc_errclass_str(c), "ok") != 0);
    }
}

TEST(no_retriable_error_is_one_that_cannot_heal_by_waiting) {
    /* DESIGN "No error loops for ever in silence": these never heal */
    static const cdc_err_t never_heal[] = {CDC_ERR_CONFIG, CDC_ERR_STATE,
                                           CDC_ERR_OFFSETS_LOST};
    for (size_t i = 0; i < sizeof never_heal / sizeof never_heal[0]; i++)
        CHECK_INT(cdc_err_class(never_heal[i]), CDC_ERRCLASS_FATAL);
    CHECK_INT(cdc_err_class(CDC_ERR_PG_DOWN), CDC_ERRCLASS_RETRIABLE);
    CHECK_INT(cdc_err_class(CDC_ERR_JSON), CDC_ERRCLASS_PERMANENT);
}

TEST(errstr_set_reports_truncation) {
    char buf[8];
    CHECK_INT(cdc_errstr_set(buf, sizeof buf, "%s", "short"), 0);
    CHECK_STR(buf, "short");
    CHECK_INT(cdc_errstr_set(buf, sizeof buf, "%s", "much too long"), -1);
    CHECK_STR(buf, "much to");
    CHECK_INT(cdc_errstr_set(NULL, 0, "x"), 0);
}

TEST(hash_is_fnv1a_64_and_chains) {
    /* published FNV-1a 64 test vectors: lock ids shared between instances
     * depend on these never changing */
    CHECK(cdc_hash(CDC_HASH_INIT, "", 0) == 0xcbf29ce484222325ULL);
    CHECK(cdc_hash(CDC_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(cdc_hash(CDC_HASH_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    CHECK(cdc_hash(cdc_hash(CDC_HASH_INIT, "foo", 3), "bar", 3) ==
          cdc_hash(CDC_HASH_INIT, "foobar", 6));
}

TEST(clock_is_monotonic) {
    int64_t a = cdc_mono_ms(), b = cdc_mono_ms();
    CHECK(a > 0 && b >= a);
}
