/* cli.h - shared inside consumer/cli/: the commands main dispatches to, the
 * builders that turn settings into modules, and the one way a command
 * reports a failure.
 *
 * Commands (one file each): run and replay (cmd_run.c), check
 * (cmd_check.c), decode (cmd_decode.c). main.c parses the global options
 * (--config, --set, --help), loads the configuration, and calls the
 * command's function with the command's own arguments.
 *
 * Errors: modules fill errstr and return a cdc_err_t; the command that
 * decides to stop logs it once, through cdc_cli_fail, which formats it by
 * the error's class and gives the exit code.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
 * Threads: everything here runs on main's thread, before and after the
 * pipeline's threads. */
#ifndef CDC_CLI_CLI_H
#define CDC_CLI_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "apply/apply.h"
#include "common/err.h"
#include "consumer/cli/config.h"
#include "consumer/decode/decoder.h"
#include "consumer/kafka.h"
#include "offsets/dedup.h"

#define CDC_CLI_VERSION "0.1.0"

/* The one home of replay's usage: --help and replay's errors print it. */
#define CDC_CLI_REPLAY_USAGE                                                 \
    "replay --topic T [--partition P] (--from-offset N | --from-time T) "    \
    "[--to-offset N] [--dedup]"
#define CDC_CLI_DECODE_USAGE                                                 \
    "decode [FILE|-] | decode --topic T [--from-offset N] [--limit N]"

/* What a command gets. argv[0] is the command's name; the global options
 * (--config F, --set k=v) are already applied to conf and removed. */
typedef struct cdc_cli_s {
    cdc_conf_t *conf;
    int argc;
    char **argv;
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT */
} cdc_cli_t;

int cdc_cmd_run(cdc_cli_t *cli);
int cdc_cmd_replay(cdc_cli_t *cli);
int cdc_cmd_check(cdc_cli_t *cli);
int cdc_cmd_decode(cdc_cli_t *cli);

/* Logs, once, that `what` ("postgresql", "kafka", "replay") failed with err
 * and the module's errstr, formatted by err's class: a configuration error
 * names setting (may be NULL) as the fix unless errstr has its own HINT.
 * Returns the exit code: 2 for CONFIG and USAGE, else 1. */
int cdc_cli_fail(cdc_err_t err, const char *what, const char *setting,
                 const char *errstr);

/* cdc_conf_validate, reported on stderr; 0 or the exit code 2. */
int cdc_cli_conf_ready(const cdc_conf_t *conf);

/* ---- modules from settings (wire.c) ---- */

typedef enum {
    CDC_CLI_KAFKA_RUN,    /* the group: subscribe to topics; DLQ producer */
    CDC_CLI_KAFKA_REPLAY, /* assigned range; DLQ producer; commits nothing */
    CDC_CLI_KAFKA_CHECK,  /* as run, never polled: for ping */
    CDC_CLI_KAFKA_DECODE  /* assigned range; no producer */
} cdc_cli_kafka_mode_t;

/* Every kafka.* setting reaches the handle, whatever the mode. */
cdc_kafka_t *cdc_cli_kafka_new(const cdc_conf_t *conf,
                               cdc_cli_kafka_mode_t mode,
                               cdc_kafka_callbacks_t cb, char *errstr,
                               size_t errstr_size);
cdc_apply_t *cdc_cli_apply_new(const cdc_conf_t *conf, bool replay,
                               char *errstr, size_t errstr_size);
cdc_decoder_t *cdc_cli_decoder_new(const cdc_conf_t *conf);
/* NULL with errstr empty when redis.url is empty (dedup off). */
cdc_dedup_t *cdc_cli_dedup_new(const cdc_conf_t *conf, char *errstr,
                               size_t errstr_size);

#endif
