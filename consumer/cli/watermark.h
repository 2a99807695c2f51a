/* watermark.h - the freshness watermark of a consumer group as the CLI
 * reads it from _cdc.progress (README "Freshness"): `cdcsink wait` and the
 * fence of `cdcsink verify` decide with it whether the warehouse holds every
 * source commit before a time or an LSN.
 *
 * Several instances of one group each write their own row; a partition's
 * newest row speaks for it, so a source's watermark is the minimum over the
 * rows that are the newest for at least one of their partitions (rows
 * another instance has since taken every partition of are ignored). Every
 * source among the rows must pass.
 *
 * Does not: read the database (the caller reads the rows with
 * cdc_progress_read). Threads: pure functions. */
#ifndef CDC_CONSUMER_CLI_WATERMARK_H
#define CDC_CONSUMER_CLI_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply/apply.h"

/* What must have been applied: source commits before ts_us (has_ts) and
 * commits ending at or before lsn (has_lsn). */
typedef struct cdc_wm_target_s {
    bool has_ts, has_lsn;
    int64_t ts_us;
    uint64_t lsn;
} cdc_wm_target_t;

/* One look at rows (cdc_progress_read's: newest first per source) of group
 * (source: the one asked for, or NULL): 1 when every source passed t, else
 * 0. msg says the source that is behind (or, on 1, the last one looked at:
 * its watermark and instance), or that there is no row. */
int cdc_wm_look(const cdc_wm_target_t *t, const cdc_progress_row_t *rows,
                size_t n, const char *group, const char *source, char *msg,
                size_t size);

#endif
