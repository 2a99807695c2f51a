/* cmd_decode.h - `cdcsink decode`: shows what cdcsink makes of records.
 *
 * Reads kcat -J lines (topic, partition, offset, key, payload, headers)
 * from a file or stdin, or reads a topic from the beginning to its end
 * (--topic), and prints one JSON line per record with the values in the
 * exact PostgreSQL text form the applier writes. Does not: join a consumer
 * group or commit anything. */
#ifndef CDC_CLI_CMD_DECODE_H
#define CDC_CLI_CMD_DECODE_H

#include "consumer/cli/config.h"

/* argv[0] is "decode". Returns the process exit code: 0, 1 (a record did not
 * decode), 2 (usage or I/O). */
int cdc_decode_cmd_main(int argc, char **argv, const cdc_conf_t *conf);

#endif
