/* scan.c - one whole JSON document, held in one buffer, to the parser's
 * callbacks (parse.c's cdc_dec_callbacks) without yajl: what
 * cdc_decoder_decode runs first for every key, value and payload.
 *
 * It reads only JSON whose every token it is sure yajl (the decoder's
 * settings: strict, UTF-8 checked, several top-level values allowed) hands
 * the callbacks the same way: an object at the top, whitespace of space,
 * tab, CR and LF, strings of printable ASCII and valid UTF-8 with the
 * escapes \" \\ \b \f \n \r \t, numbers of JSON's grammar passed as their
 * text, true, false, null. On anything else (another escape, a control
 * character, invalid UTF-8, a syntax error, a callback that fails, text
 * after the value) it gives up and returns false, maybe after some
 * callbacks: the caller then resets the document and parses it with yajl,
 * which is the reference and words every error. So a record it takes decodes
 * exactly as yajl would decode it, and one it gives up on costs one more
 * parse.
 *
 * Memory: strings with escapes are unescaped into d->scanbuf (valid during
 * the callback, as yajl's buffer is); the container stack is d->scanstk
 * (conf.max_depth + 4 bytes: the callbacks refuse nesting past max_depth
 * before it fills). */
#include "consumer/decode/decoder_int.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* bytes a string holds as they are: printable ASCII but '"' and '\\' */
static const unsigned char plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

typedef const unsigned char *ptr_t;

static ptr_t skip_ws(ptr_t p, ptr_t e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static bool is_digit(ptr_t p, ptr_t e) {
    return p < e && *p >= '0' && *p <= '9';
}

/* one UTF-8 sequence at p as yajl checks it (lead byte 110xxxxx, 1110xxxx
 * or 11110xxx and that many continuation bytes 10xxxxxx): past it, or NULL */
static ptr_t utf8_seq(ptr_t p, ptr_t e) {
    unsigned c = *p;
    long k = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3
                                                                         : -1;
    if (k < 0 || e - p <= k)
        return NULL;
    for (long i = 1; i <= k; i++)
        if ((p[i] >> 6) != 0x2)
            return NULL;
    return p + k + 1;
}

/* the escape at p (after the backslash) as its byte; 0: give up (\u and
 * \/ are yajl's to decode) */
static char unescape(unsigned char c) {
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

/* past the bytes at p a string holds as they are (plain[]): sixteen at a
 * time with SSE2 (x86-64 always has it) while sixteen are left, the stop
 * found by its bit in the mask; then eight at a time: a word has none to
 * stop at when none of its bytes is '"', '\\', below 0x20 or from 0x80 */
static ptr_t skip_plain(ptr_t p, ptr_t e) {
#ifdef __SSE2__
    /* signed bytes: from 0x80 they are negative, so "below 0x20" holds
     * for the control bytes and the non-ASCII ones alike */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i stop = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
            _mm_cmplt_epi8(w, space));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t stop = ((q - ones) & ~q) | ((b - ones) & ~b) |
                        (w - ones * 0x20) | w;
        if (stop & highs)
            break;
        p += 8;
    }
    while (p < e && plain[*p])
        p++;
    return p;
}

/* the string whose body starts at p (after its quote): its bytes in
 * s and n (the input itself, or d->scanbuf when it has escapes); returns the
 * byte after the closing quote, or NULL to give up. A string with escapes
 * is checked first, then unescaped in one pass into room reserved once. */
static ptr_t scan_string(cdc_decoder_t *d, ptr_t p, ptr_t e, const char **s,
                         size_t *n) {
    ptr_t b = p;
    bool escapes = false;
    for (;;) {
        p = skip_plain(p, e);
        if (p >= e)
            return NULL;
        if (*p == '"')
            break;
        if (*p == '\\') {
            if (p + 1 >= e || !unescape(p[1]))
                return NULL;
            escapes = true;
            p += 2;
        } else if (*p < 0x80 || !(p = utf8_seq(p, e))) { /* a control byte */
            return NULL;
        }
    }
    *s = (const char *)b;
    *n = (size_t)(p - b);
    if (escapes) {
        dec_sbuf_t *o = &d->scanbuf;
        o->len = 0;
        if (!cdc_dec_sbuf_reserve(d, o, *n))
            return NULL;
        char *w = o->p;
        for (ptr_t q = b; q < p;) {
            ptr_t bs = memchr(q, '\\', (size_t)(p - q));
            size_t run = (size_t)((bs ? bs : p) - q);
            memcpy(w, q, run);
            w += run;
            if (!bs)
                break;
            *w++ = unescape(bs[1]);
            q = bs + 2;
        }
        *w = '\0';
        o->len = (size_t)(w - o->p);
        *s = o->p;
        *n = o->len;
    }
    return p + 1;
}

/* a number of JSON's grammar from p: past it, or NULL */
static ptr_t scan_number(ptr_t p, ptr_t e) {
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (is_digit(p, e))
            p++;
    else
        return NULL;
    if (p < e && *p == '.') {
        if (!is_digit(++p, e))
            return NULL;
        while (is_digit(p, e))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, e))
            return NULL;
        while (is_digit(p, e))
            p++;
    }
    return p;
}

/* true, false or null at p: past it after its callback, or NULL */
static ptr_t scan_literal(cdc_decoder_t *d, ptr_t p, ptr_t e) {
    size_t left = (size_t)(e - p);
    if (left >= 4 && !memcmp(p, "true", 4))
        return cdc_dec_callbacks.yajl_boolean(d, 1) ? p + 4 : NULL;
    if (left >= 5 && !memcmp(p, "false", 5))
        return cdc_dec_callbacks.yajl_boolean(d, 0) ? p + 5 : NULL;
    if (left >= 4 && !memcmp(p, "null", 4))
        return cdc_dec_callbacks.yajl_null(d) ? p + 4 : NULL;
    return NULL;
}

/* a scalar at p: past it after its callback, or NULL */
static ptr_t scan_scalar(cdc_decoder_t *d, ptr_t p, ptr_t e) {
    const yajl_callbacks *cb = &cdc_dec_callbacks;
    if (*p == '"') {
        const char *s;
        size_t n;
        p = scan_string(d, p + 1, e, &s, &n);
        return p && cb->yajl_string(d, (const unsigned char *)s, n) ? p : NULL;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        ptr_t q = scan_number(p, e);
        return q && cb->yajl_number(d, (const char *)p, (size_t)(q - p)) ? q
                                                                        : NULL;
    }
    return scan_literal(d, p, e);
}

/* a member name at p (its quote) and the colon after it: at its value */
static ptr_t scan_key(cdc_decoder_t *d, ptr_t p, ptr_t e) {
    const char *s;
    size_t n;
    if (p >= e || *p != '"')
        return NULL;
    if (!(p = scan_string(d, p + 1, e, &s, &n)) ||
        !cdc_dec_callbacks.yajl_map_key(d, (const unsigned char *)s, n))
        return NULL;
    p = skip_ws(p, e);
    if (p >= e || *p != ':')
        return NULL;
    return skip_ws(p + 1, e);
}

bool cdc_dec_scan(cdc_decoder_t *d, const char *text, size_t len) {
    const yajl_callbacks *cb = &cdc_dec_callbacks;
    ptr_t p = (ptr_t)text, e = p + len;
    uint8_t *stk = d->scanstk;
    int depth = 0, room = d->conf.max_depth + 4;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return false;
    for (;;) {
        /* p is at a value */
        if (p >= e)
            return false;
        if (*p == '{' || *p == '[') {
            bool map = *p == '{';
            if (depth == room ||
                !(map ? cb->yajl_start_map(d) : cb->yajl_start_array(d)))
                return false;
            stk[depth++] = map;
            p = skip_ws(p + 1, e);
            if (p < e && *p == (map ? '}' : ']')) {
                depth--;
                if (!(map ? cb->yajl_end_map(d) : cb->yajl_end_array(d)))
                    return false;
                p++;
            } else {
                if (map && !(p = scan_key(d, p, e)))
                    return false;
                continue;
            }
        } else if (!(p = scan_scalar(d, p, e))) {
            return false;
        }
        /* after a value: a comma, or the ends of containers */
        for (;;) {
            p = skip_ws(p, e);
            if (!depth)
                return p == e;
            if (p >= e)
                return false;
            bool map = stk[depth - 1];
            if (*p == ',') {
                p = skip_ws(p + 1, e);
                if (map && !(p = scan_key(d, p, e)))
                    return false;
                break;
            }
            if (*p != (map ? '}' : ']'))
                return false;
            depth--;
            if (!(map ? cb->yajl_end_map(d) : cb->yajl_end_array(d)))
                return false;
            p++;
        }
    }
}
