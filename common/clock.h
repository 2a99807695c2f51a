/* clock.h - the one monotonic clock: milliseconds since an arbitrary start,
 * for deadlines, linger and backoff (never for wall-clock timestamps).
 * Thread-safe; no state. */
#ifndef CDC_COMMON_CLOCK_H
#define CDC_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t cdc_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
