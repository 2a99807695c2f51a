/* clock.h - the clocks: the monotonic one (since an arbitrary start, for
 * deadlines, linger, backoff and stage times) and the wall clock (Unix
 * time, only to compare with timestamps from elsewhere: Kafka's, the
 * source's). Thread-safe; no state. */
#ifndef CDC_COMMON_CLOCK_H
#define CDC_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t cdc_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t cdc_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* microseconds since the Unix epoch */
static inline int64_t cdc_wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
