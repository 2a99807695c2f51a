/* conv_modes.h - the converter's modes from one spec, "key=value;..." with
 * the settings' keys (e.g. "decimal.handling.mode=string"; "" for the
 * defaults), for the unit and integration tests of schemas/convert. */
#ifndef CDC_TESTS_UNIT_CONV_MODES_H
#define CDC_TESTS_UNIT_CONV_MODES_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "schemas/convert.h"

/* false when spec has a pair without '=' or one the converter refuses */
static inline bool set_modes(cdc_schema_conv_modes_t *m, const char *spec) {
    char buf[256], err[256];
    cdc_schema_conv_modes_default(m);
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *kv = strtok(buf, ";"); kv; kv = strtok(NULL, ";")) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return false;
        *eq = '\0';
        if (cdc_schema_conv_mode_set(m, kv, eq + 1, err, sizeof err) != CDC_OK)
            return false;
    }
    return true;
}

#endif
