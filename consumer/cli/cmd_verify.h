/* cmd_verify.h - `cdcsink verify`: compares source tables with their
 * warehouse replicas (verify/verify.h) and prints a verdict per table, as
 * text or one JSON document per table (--json). The warehouse is
 * pg.conninfo; the source is --source. When _cdc.progress has a row for
 * kafka.group.id (and --source-name), differing keys are judged after the
 * freshness watermark (consumer/cli/watermark.h) has passed their re-read,
 * else by stable re-reads. Progress goes to stderr. Does not: change either
 * database. */
#ifndef CDC_CONSUMER_CLI_CMD_VERIFY_H
#define CDC_CONSUMER_CLI_CMD_VERIFY_H

#include "consumer/cli/config.h"

/* argv[0] is "verify"; --set and --config pairs are skipped (main applies
 * them). Returns the exit code: 0 every table equal, 1 a difference, 2 an
 * error (usage, connection, a table that cannot be compared). */
int cdc_cli_verify(int argc, char **argv, const cdc_conf_t *conf);

#endif
