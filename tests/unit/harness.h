/* harness.h - a tiny table-friendly unit-test harness.
 *
 *   TEST(name) { CHECK(cond); CHECK_INT(got, want); CHECK_STR(got, want); }
 *
 * Every TEST registers itself; harness.c's main runs them all (or the ones
 * named on the command line), prints "ok"/"FAIL" per test and ends with
 * "<file>: N passed, N failed". A test fails on its first failed check
 * inside a loop too (checks count failures; the test is failed if any). */
#ifndef CDC_TESTS_HARNESS_H
#define CDC_TESTS_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*th_fn)(void);
void th_register(const char *name, th_fn fn);
void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern int th_failures; /* failed checks in the current test */

#define TEST(name)                                                            \
    static void name(void);                                                   \
    __attribute__((constructor)) static void th_reg_##name(void) {            \
        th_register(#name, name);                                             \
    }                                                                         \
    static void name(void)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
    } while (0)

#define CHECK_INT(got, want)                                                  \
    do {                                                                      \
        long long g_ = (long long)(got), w_ = (long long)(want);              \
        if (g_ != w_)                                                         \
            th_fail(__FILE__, __LINE__, "%s = %lld, want %lld", #got, g_, w_);\
    } while (0)

#define CHECK_STR(got, want)                                                  \
    do {                                                                      \
        const char *g_ = (got), *w_ = (want);                                 \
        if (!g_ || !w_ || strcmp(g_, w_) != 0)                                \
            th_fail(__FILE__, __LINE__, "%s = \"%s\", want \"%s\"", #got,     \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                  \
    } while (0)

/* Context for messages inside table-driven loops. */
#define CHECK_CTX(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond))                                                          \
            th_fail(__FILE__, __LINE__, "CHECK(" #cond "): " __VA_ARGS__);    \
    } while (0)

#endif
