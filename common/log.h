/* log.h - leveled logging to stderr, as text or one JSON object per line.
 *
 * Messages are lowercase, without a trailing period; a fix for the reader
 * goes after "HINT: ". Formatting happens only when the level is enabled
 * (the macros test the level before evaluating their arguments).
 * The record-scoped variant prefixes "topic[partition]@offset".
 * Thread-safe: one write(2) per line. Does not: rotate, buffer or filter by
 * module. Configure once from main before any thread starts. */
#ifndef CDC_COMMON_LOG_H
#define CDC_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef enum {
    CDC_LOG_ERROR = 0,
    CDC_LOG_WARN,
    CDC_LOG_INFO,
    CDC_LOG_DEBUG
} cdc_loglevel_t;

extern cdc_loglevel_t cdc_log_level_cur;

/* Sets level and format. Returns -1 (and changes nothing) on an unknown name. */
int cdc_log_setup(const char *level, const char *format);
/* Parses a level name ("error", "warn", "info", "debug"); -1 if unknown. */
int cdc_log_level_parse(const char *name);

#define cdc_log_on(lvl) ((lvl) <= cdc_log_level_cur)

#define cdc_log(lvl, ...)                                                     \
    do {                                                                      \
        if (cdc_log_on(lvl))                                                  \
            cdc_log_write((lvl), NULL, -1, -1, __VA_ARGS__);                  \
    } while (0)

/* topic may be NULL; partition/offset < 0 are left out. */
#define cdc_log_rec(lvl, topic, partition, offset, ...)                       \
    do {                                                                      \
        if (cdc_log_on(lvl))                                                  \
            cdc_log_write((lvl), (topic), (partition), (offset), __VA_ARGS__);\
    } while (0)

void cdc_log_write(cdc_loglevel_t lvl, const char *topic, int32_t partition,
                   int64_t offset, const char *fmt, ...) CDC_PRINTF(5, 6);

#endif
