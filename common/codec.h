/* codec.h - pure codecs for Debezium's value encodings: bytes and the
 * PostgreSQL text input forms they turn into.
 *
 *   decode   standard base64 (with '=' padding), url-safe base64 (padding
 *            optional), hex
 *   format   unscaled two's-complement big-endian integer + scale -> numeric
 *            text; epoch days -> date; ms/us/ns since the epoch -> timestamp;
 *            ms/us/ns since midnight -> time; us -> interval; bytes ->
 *            bytea hex input ("\x0a0b"); Debezium Bits -> bit string
 *
 * Integer math only: no value passes through a double. Dates use the
 * proleptic Gregorian calendar with floor division, so values before 1970,
 * year 0001 and BC dates (PostgreSQL's "0044-03-15 BC", year 0 = 1 BC) come
 * out right. Debezium's infinity sentinels for date and timestamp columns
 * (debezium-wire-format.md §1.7) become "infinity" / "-infinity". Text is
 * written at full precision; the column's typmod rounds where PostgreSQL
 * would (numeric(p,s), timestamp(p)).
 *
 * Does not: know about column types, connector settings or JSON (that is
 * schemas/convert.h); allocate except through the caller's cdc_buf_t (and a
 * short-lived scratch for long decimals). Thread-safe: no state. One copy:
 * the decoder's schemas-on path and schemas/convert use these functions.
 * Every formatter appends to out; on failure out is left as it was. */
#ifndef CDC_COMMON_CODEC_H
#define CDC_COMMON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/event.h" /* cdc_json_kind_t */

/* Units of an integer time value. */
typedef enum {
    CDC_CODEC_MS = 1000,
    CDC_CODEC_US = 1000000,
    CDC_CODEC_NS = 1000000000
} cdc_codec_unit_t;

/* Debezium's infinity sentinels (PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY
 * as they reach a timestamp column) */
#define CDC_CODEC_TS_POS_INF 9223372036825200000LL
#define CDC_CODEC_TS_NEG_INF (-9223372036832400000LL)

/* ---- bytes ---- */

/* Appends the bytes of standard base64 s[0..n) (alphabet +/, '=' padding
 * required, no whitespace). Returns 0, or -1 when s is not such base64 (out
 * unchanged) or out ran out of memory (out->oom set). */
int cdc_codec_b64_decode(const char *s, size_t n, cdc_buf_t *out);
/* The same for the url-safe alphabet (-_); '=' padding optional. */
int cdc_codec_b64url_decode(const char *s, size_t n, cdc_buf_t *out);
/* Decodes base64 (url: the url-safe alphabet, padding optional) into dst
 * of cap bytes without allocating; the byte count, or -1 when s is not
 * such base64 or cap is short (n / 4 * 3 + 2 bytes always suffice). */
ptrdiff_t cdc_codec_b64_decode_mem(const char *s, size_t n, bool url,
                                   unsigned char *dst, size_t cap);
/* Appends the bytes of hex s[0..n) (even length, either case). 0 or -1. */
int cdc_codec_hex_decode(const char *s, size_t n, cdc_buf_t *out);
/* Appends b[0..n) as PostgreSQL's bytea hex input: \x then lowercase hex. */
void cdc_codec_bytea_hex(const unsigned char *b, size_t n, cdc_buf_t *out);

/* ---- numbers ---- */

/* Parses a decimal int64 ("-12"); 0, -1 when not an integer, -2 when out of
 * range. No leading '+', no spaces. */
int cdc_codec_parse_i64(const char *s, size_t n, int64_t *out);
/* Appends the decimal text of the unscaled big-endian two's-complement
 * integer b[0..n) (Java BigInteger.toByteArray(); n == 0 is zero) times
 * 10^-scale: "19.99", "-0.05", "0.00"; a negative scale appends zeros.
 * Returns 0, or -1 on out of memory or |scale| > 100000. */
int cdc_codec_decimal(const unsigned char *b, size_t n, int32_t scale,
                      cdc_buf_t *out);
/* The same text written into dst of cap bytes (NUL-terminated) without
 * growing anything, for a caller with its own allocator (the decoder); the
 * text's length, or -1 when cap is short, on out of memory or |scale| >
 * 100000. cdc_codec_decimal_max(n, scale) bytes always suffice. */
ptrdiff_t cdc_codec_decimal_mem(const unsigned char *b, size_t n,
                                int32_t scale, char *dst, size_t cap);
size_t cdc_codec_decimal_max(size_t n, int32_t scale);
/* Appends the bit string of Debezium Bits bytes b[0..n): bit i is
 * (b[i/8] >> (i%8)) & 1, bit 0 the rightmost character. nbits >= 0: exactly
 * that many characters (missing bytes are zero); nbits < 0: the minimal
 * string (no leading zeros, "0" for no bit set). */
void cdc_codec_bits(const unsigned char *b, size_t n, int64_t nbits,
                    cdc_buf_t *out);

/* ---- dates and times ---- */

/* Appends the date days after 1970-01-01 ("1815-12-10", "0001-01-01",
 * "0044-03-15 BC"), or "infinity"/"-infinity" for Debezium's sentinels. */
void cdc_codec_date(int64_t days, cdc_buf_t *out);
/* Appends the timestamp v units after 1970-01-01 00:00 ("2024-05-01
 * 10:15:30.123456"; six fraction digits, only when non-zero, nine when
 * ns are not whole us: PostgreSQL rounds them to its us itself), or "infinity"/"-infinity" for the sentinels. */
void cdc_codec_timestamp(int64_t v, cdc_codec_unit_t unit, cdc_buf_t *out);
/* +1 / -1 when s[0..n) is how time.precision.mode=isostring renders
 * PostgreSQL's infinity / -infinity (an IsoDate or IsoTimestamp far out of
 * range: "+294247-01-10T04:00:25.2Z", "-5877611-06-22Z", as captured from
 * Debezium 3.6), else 0. */
int cdc_codec_iso_infinity(const char *s, size_t n);
/* Appends the time of day v units after midnight ("07:30:15.500000", the
 * fraction as in cdc_codec_timestamp); 24:00:00 is valid. -1 (out unchanged) when v is
 * outside [0, 24h]. */
int cdc_codec_time(int64_t v, cdc_codec_unit_t unit, cdc_buf_t *out);
/* Appends us as an interval, all of it in the time part ("10303:05:06.78"
 * is written "10303:05:06.780000", "-00:00:01"): exactly what
 * us * interval '1 microsecond' gives. Debezium's MicroDuration already
 * turned months into 30.4375 days, so this is as exact as the input. */
void cdc_codec_interval_us(int64_t us, cdc_buf_t *out);

/* floor(a / b) for b > 0 (C's division truncates toward zero). */
int64_t cdc_codec_floor_div(int64_t a, int64_t b);
/* Days since 1970-01-01 -> proleptic Gregorian year (0 = 1 BC), month 1-12
 * and day 1-31. Shared by this file and the decoder's schemas-on path. */
void cdc_codec_civil(int64_t days, int64_t *y, unsigned *m, unsigned *dd);

#endif
