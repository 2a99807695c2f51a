/* cmd_check_connector.h - `cdcsink check --connect-url URL [--connector
 * NAME]`: the Debezium connector's settings checked against what cdcsink
 * needs.
 *
 * Reads each connector's configuration from Kafka Connect's REST API
 * (GET /connectors, GET /connectors/NAME/config; without --connector every
 * connector whose class is the Debezium PostgreSQL connector) and prints,
 * one line each, the settings that lose or corrupt data (error), disable a
 * cdcsink feature (warn) or are worth knowing (info), with the value to set:
 *
 *   error  value.converter.replace.null.with.default=true (default): a NULL
 *          in the source is written as the column's DEFAULT; set it to false
 *
 * A setting the connector does not set has its documented default (the
 * worker's own settings are not visible through the REST API).
 * Exit codes: 0 no error (warnings allowed), 1 an error, 2 Kafka Connect
 * cannot be reached or answers unexpectedly, no connector to check, or a
 * bad command line.
 *
 * Does not: change the connector, read the worker's configuration, look at
 * the source database (REPLICA IDENTITY and such).
 * Threads: main's thread only. Memory: see each function. */
#ifndef CDC_CLI_CMD_CHECK_CONNECTOR_H
#define CDC_CLI_CMD_CHECK_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct cdc_check_counts_s {
    int errors, warnings, infos;
} cdc_check_counts_t;

/* One of cdcsink's own value modes (decimal.handling.mode, ...) as cdcsink
 * decodes schemaless values with it; a mode not given has Debezium's
 * default, which is also cdcsink's. Borrowed. */
typedef struct cdc_check_setting_s {
    const char *key;
    const char *value;
} cdc_check_setting_t;

/* Checks one connector configuration: json is the object GET
 * /connectors/NAME/config answers (NUL-terminated). Appends one line per
 * finding to report ("error  key=value: what; fix\n"), in the rules' order,
 * and counts them in *counts (zeroed first). sink[0..nsink) are cdcsink's
 * own modes (may be NULL/0). Errors: CDC_ERR_JSON when json is not a JSON
 * object (errstr says why), CDC_ERR_NOMEM. */
cdc_err_t cdc_check_connector_config(const char *json,
                                     const cdc_check_setting_t *sink,
                                     size_t nsink, cdc_buf_t *report,
                                     cdc_check_counts_t *counts, char *errstr,
                                     size_t errstr_size) CDC_MUSTCHECK;

/* For main's option pass: true when arg is one of this command's flags
 * that take a value (--connect-url, --connector, --decimal.handling.mode,
 * ...). */
bool cdc_check_connector_flag(const char *arg);

/* True when argv holds --connect-url: `check` then checks the connector. */
bool cdc_check_connector_wanted(int argc, char **argv);

/* The command: argv is the whole command line (argv[0] the program); words
 * that are not flags (the command's name) and the global --config F and
 * --set k=v are skipped. Prints the report on stdout, failures to reach
 * Connect on stderr. Returns the exit code (see above). */
int cdc_check_connector_main(int argc, char **argv);

#endif
