/* config.h - the one table of settings, and the configuration built from it.
 *
 * Every key cdcsink understands is declared once in config.c's table (name,
 * type, default, help). From that table come validation, `cdcsink --help`,
 * the README's configuration section (`cdcsink config-doc`) and the sample
 * configuration file (`cdcsink config-sample`).
 *
 * Sources, later wins: defaults < properties file < environment (CDCSINK_ +
 * key upper-cased, dots as underscores) < --set key=value.
 * Keys under "kafka." that are not in the table pass through to librdkafka
 * (validated by rd_kafka_conf_set when the consumer starts).
 *
 * Does not: know any other module; main hands each module's _new() the
 * values it needs. Not thread-safe; build it in main before threads start. */
#ifndef CDC_CONSUMER_CONFIG_H
#define CDC_CONSUMER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef struct cdc_conf_s cdc_conf_t;

/* A configuration holding every default. NULL when out of memory.
 * Free with cdc_conf_free. */
cdc_conf_t *cdc_conf_new(void);
void cdc_conf_free(cdc_conf_t *conf); /* accepts NULL */

/* Sets key to value after validating it. origin names where the value came
 * from ("--set", "file.properties:12", "CDCSINK_BATCH_MAX_EVENTS") and is
 * used in the error text. Errors: CDC_ERR_CONFIG with a message naming the key
 * and the fix (unknown key, malformed number, value out of range, unknown
 * choice). */
cdc_err_t cdc_conf_set(cdc_conf_t *conf, const char *key, const char *value,
                       const char *origin, char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;

/* Parses a whole decimal number (no blanks, no overflow): the settings'
 * integer syntax, also used for command-line flags. */
bool cdc_conf_parse_int(const char *s, int64_t *out);

/* Loads a Java-style properties file: key=value or key: value lines, '#' and
 * '!' comments, surrounding blanks trimmed. Errors: CDC_ERR_IO (cannot read),
 * CDC_ERR_CONFIG (a bad line or value; the message names file:line). */
cdc_err_t cdc_conf_load_file(cdc_conf_t *conf, const char *path, char *errstr,
                             size_t errstr_size) CDC_MUSTCHECK;

/* Applies CDCSINK_* variables from envp (NULL-terminated, like environ).
 * CDCSINK_KAFKA_X_Y that is not a table key becomes kafka.x.y. */
cdc_err_t cdc_conf_load_env(cdc_conf_t *conf, char *const *envp,
                            char *errstr, size_t errstr_size) CDC_MUSTCHECK;

/* Checks what single keys cannot: required keys present, cross-key rules. */
cdc_err_t cdc_conf_validate(const cdc_conf_t *conf, char *errstr,
                            size_t errstr_size) CDC_MUSTCHECK;

/* Accessors. key must be a table key (a typo is a programming error and
 * returns "" / 0). Strings are borrowed, valid until the next set or free. */
const char *cdc_conf_get(const cdc_conf_t *conf, const char *key);
int64_t cdc_conf_get_int(const cdc_conf_t *conf, const char *key);
bool cdc_conf_get_bool(const cdc_conf_t *conf, const char *key);

/* Calls cb for each pass-through key under prefix (e.g. "kafka."), with the
 * prefix stripped, in the order they were set. */
void cdc_conf_each_passthrough(const cdc_conf_t *conf, const char *prefix,
                               void (*cb)(const char *key, const char *value,
                                          void *opaque),
                               void *opaque);

/* Generated documentation. */
void cdc_conf_print_help(FILE *out);      /* for --help */
void cdc_conf_print_markdown(FILE *out);  /* the README section */
void cdc_conf_print_sample(FILE *out);    /* a commented properties file */

/* For tests: number of table keys and the i-th key's name. */
size_t cdc_conf_count(void);
const char *cdc_conf_key(size_t i);

#endif
