/* harness.c - runs the registered tests; see harness.h. */
#include "tests/unit/harness.h"

#include <stdarg.h>
#include <stdlib.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    th_fn fn;
} tests[MAX_TESTS];
static int ntests;
int th_failures;
static const char *cur;

void th_register(const char *name, th_fn fn) {
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void th_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (th_failures < 10) { /* keep a failing loop readable */
        fprintf(stdout, "  %s:%d: %s: ", file, line, cur);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
    th_failures++;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    for (int i = 0; i < ntests; i++) {
        if (argc > 1) {
            int want = 0;
            for (int k = 1; k < argc; k++)
                want |= strcmp(argv[k], tests[i].name) == 0;
            if (!want)
                continue;
        }
        cur = tests[i].name;
        th_failures = 0;
        tests[i].fn();
        if (th_failures) {
            printf("FAIL %s/%s (%d failed checks)\n", prog, cur, th_failures);
            failed++;
        } else {
            printf("ok   %s/%s\n", prog, cur);
            passed++;
        }
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed\n", prog, passed, failed);
    return failed ? 1 : 0;
}
