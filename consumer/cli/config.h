/* config.h - the configuration built from the one table of settings.
 *
 * Every key cdcsink understands is declared once in settings.def (name,
 * type, default, range, choices with their enum values, help), which gives
 * each key an id (CDC_SET_BATCH_MAX_EVENTS, ...). Code reads settings by id
 * through typed getters, so a misspelled key or a getter of the wrong type
 * does not compile. From the same table come validation, `cdcsink --help`,
 * the README's configuration section (`cdcsink config-doc`) and the sample
 * configuration file (`cdcsink config-sample`).
 *
 * Sources, later wins: defaults < properties file < environment (CDCSINK_ +
 * key upper-cased, dots as underscores) < --set key=value.
 * Keys under "kafka." that are not in the table pass through to librdkafka
 * (validated by rd_kafka_conf_set when the consumer starts).
 *
 * Does not: call any other module (the table only names their enum
 * constants); the commands hand each module's _new() the values it needs.
 * Not thread-safe; build it in main before threads start. */
#ifndef CDC_CLI_CONFIG_H
#define CDC_CLI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef struct cdc_conf_s cdc_conf_t;

/* The settings' ids, in table order. */
typedef enum {
#define CDC_SETTING(type, id, ...) CDC_SET_##id,
#include "consumer/cli/settings.def"
#undef CDC_SETTING
    CDC_SET__COUNT
} cdc_set_t;

/* CDC_SET_<ID>_IS_<TYPE>: declared for the setting's own type only; the
 * getter macros below name it, so a type mismatch is a compile error. */
enum {
#define CDC_SETTING(type, id, ...) CDC_SET_##id##_IS_##type = 1,
#include "consumer/cli/settings.def"
#undef CDC_SETTING
};

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

/* Typed getters by id: cdc_conf_str(conf, CDC_SET_DLQ_TOPIC),
 * cdc_conf_int(conf, CDC_SET_BATCH_MAX_EVENTS), cdc_conf_enum(conf,
 * CDC_SET_TRUNCATE_MODE) (the value the table maps the choice to). Strings
 * are borrowed, valid until the next set or free. cdc_conf_text gives any
 * setting's text (for messages and loops over the table). */
#define cdc_conf_str(c, id) cdc_conf_text((c), (cdc_set_t)((id) + 0 * id##_IS_STR))
#define cdc_conf_int(c, id) cdc_conf_int_((c), (cdc_set_t)((id) + 0 * id##_IS_INT))
#define cdc_conf_enum(c, id) cdc_conf_enum_((c), (cdc_set_t)((id) + 0 * id##_IS_ENUM))
const char *cdc_conf_text(const cdc_conf_t *conf, cdc_set_t id);
int64_t cdc_conf_int_(const cdc_conf_t *conf, cdc_set_t id);
int cdc_conf_enum_(const cdc_conf_t *conf, cdc_set_t id);

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

/* The key of a setting ("batch.max.events"); NULL past CDC_SET__COUNT. */
const char *cdc_conf_key(cdc_set_t id);

#endif
