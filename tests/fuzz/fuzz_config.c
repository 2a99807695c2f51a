/* fuzz_config.c - libFuzzer target: the configuration loaders
 * (consumer/cli/config.h) on arbitrary text.
 *
 * The input is cut at NUL bytes into up to three parts: a properties file
 * (cdc_conf_load_file, through a memfd), environment lines NAME=VALUE
 * (cdc_conf_load_env) and --set lines key=value (cdc_conf_set, split at the
 * first '=' as main does), applied in that order to one configuration, then
 * cdc_conf_validate. Each must return CDC_OK or an error with a message and
 * never crash, leak or read out of bounds. Only the public API is used. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "consumer/cli/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the part of data up to the next NUL (or the end), as a fresh string */
static char *part(const uint8_t **p, const uint8_t *end) {
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    const uint8_t *stop = nul ? nul : end;
    char *s = strndup((const char *)*p, (size_t)(stop - *p));
    *p = nul ? nul + 1 : end;
    return s;
}

/* an errstr must be set whenever a loader fails */
static void expect(cdc_err_t err, const char *errstr) {
    if (err != CDC_OK && !errstr[0])
        __builtin_trap();
}

static void load_file(cdc_conf_t *conf, const char *text) {
    static int fd = -1;
    char path[64], errstr[512] = "";
    if (fd < 0 && (fd = memfd_create("fuzz.properties", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) || pwrite(fd, text, strlen(text), 0) !=
                                (ssize_t)strlen(text))
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    expect(cdc_conf_load_file(conf, path, errstr, sizeof errstr), errstr);
}

static void load_env(cdc_conf_t *conf, char *text) {
    char *envp[64], *save = NULL, errstr[512] = "";
    size_t n = 0;
    for (char *l = strtok_r(text, "\n", &save); l && n < 63;
         l = strtok_r(NULL, "\n", &save))
        envp[n++] = l;
    envp[n] = NULL;
    expect(cdc_conf_load_env(conf, envp, errstr, sizeof errstr), errstr);
}

static void load_set(cdc_conf_t *conf, char *text) {
    char *save = NULL, errstr[512];
    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        errstr[0] = '\0';
        expect(cdc_conf_set(conf, l, eq + 1, "--set", errstr, sizeof errstr),
               errstr);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    char *file = part(&p, end), *env = part(&p, end), *set = part(&p, end);
    char errstr[512] = "";
    cdc_conf_t *conf = cdc_conf_new();
    if (!conf || !file || !env || !set)
        abort();
    load_file(conf, file);
    load_env(conf, env);
    load_set(conf, set);
    expect(cdc_conf_validate(conf, errstr, sizeof errstr), errstr);
    (void)cdc_conf_str(conf, CDC_SET_TOPICS);
    cdc_conf_free(conf);
    free(file);
    free(env);
    free(set);
    return 0;
}
