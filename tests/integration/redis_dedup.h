/* redis_dedup.h - what the pipeline's integration tests against the test
 * stack's Redis (CDC_TEST_REDIS_URL) share: a dedup client in a namespace
 * of the test's own, and ids that no earlier run has marked (marks are
 * never flushed). */
#ifndef CDC_TESTS_INTEGRATION_REDIS_DEDUP_H
#define CDC_TESTS_INTEGRATION_REDIS_DEDUP_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "offsets/dedup.h"

/* A client of the test stack's Redis in namespace ns; NULL when
 * CDC_TEST_REDIS_URL is unset (said on stderr) or the client cannot be
 * made. Free with cdc_dedup_free. */
static inline cdc_dedup_t *redis_dedup(const char *ns) {
    static char errbuf[512];
    const char *u = getenv("CDC_TEST_REDIS_URL");
    if (!u || !*u) {
        fprintf(stderr, "CDC_TEST_REDIS_URL is not set\n");
        return NULL;
    }
    cdc_dedup_t *d = cdc_dedup_new(u, 3600, errbuf, sizeof errbuf);
    if (d && cdc_dedup_set_namespace(d, ns)) {
        cdc_dedup_free(d);
        return NULL;
    }
    return d;
}

/* the first of this run's ids: positions never marked by an earlier run */
static inline int base_id(void) {
    return (int)((time(NULL) % 20000) * 50 + getpid() % 50) * 1000;
}

#endif
