/* cmd_resync.h - `cdcsink resync`: repairs one table online through the
 * Debezium connector's own incremental snapshot, while the pipeline (a
 * `cdcsink run` with the same configuration) keeps applying.
 *
 *  1. records the start in the warehouse (_cdc.resync, verify/resync.h);
 *  2. signals `execute-snapshot` (type incremental) for the table, through
 *     the connector's signal table at the source (--source) or its Kafka
 *     signal channel (--signal-topic);
 *  3. follows the connector's notifications (notification.enabled.channels
 *     = sink, --notification-topic) until the snapshot is COMPLETED; the
 *     reads meanwhile reach the warehouse through the running pipeline, in
 *     Kafka order with the streaming changes;
 *  4. takes the table topic's end offsets and waits until the pipeline's
 *     _cdc.offsets reach them;
 *  5. sweeps: live rows of the table neither read by the snapshot nor
 *     changed since the start are soft-deleted (gone at the source).
 * Progress goes to stderr; the _cdc.resync row is the exported state.
 * Does not: stop the stream, change the connector's configuration, sweep
 * when the snapshot was aborted or did not scan the table. */
#ifndef CDC_CONSUMER_CLI_CMD_RESYNC_H
#define CDC_CONSUMER_CLI_CMD_RESYNC_H

#include <signal.h>

#include "consumer/cli/config.h"

#define CDC_CLI_RESYNC_USAGE                                                 \
    "resync --table SCHEMA.TABLE --notification-topic T (--source CONNINFO " \
    "| --signal-topic T) [--signal-table S.T] [--topic T] [--timeout S]"

/* argv[0] is "resync"; --set and --config pairs are skipped (main applies
 * them). stop is set by SIGTERM/SIGINT. Returns the exit code: 0 resynced,
 * 1 failed (snapshot aborted, timeout, interrupted, a server down), 2 bad
 * usage or configuration. */
int cdc_cli_resync(int argc, char **argv, const cdc_conf_t *conf,
                   volatile sig_atomic_t *stop);

#endif
