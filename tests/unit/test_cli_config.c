/* test_cli_config.c - the settings table (consumer/cli/config.c): loading,
 * validation, documentation. */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <unistd.h>

#include "apply/apply.h"
#include "common/log.h"
#include "consumer/cli/config.h"

static char errbuf[1024];

TEST(defaults_are_valid_values) {
    /* every default must pass its own validation */
    cdc_conf_t *c = cdc_conf_new();
    for (cdc_set_t i = 0; i < CDC_SET__COUNT; i++) {
        const char *k = cdc_conf_key(i);
        cdc_err_t e = cdc_conf_set(c, k, cdc_conf_text(c, i), "t", errbuf,
                                   sizeof errbuf);
        CHECK_CTX(e == CDC_OK, "%s: %s", k, errbuf);
    }
    CHECK_INT(cdc_conf_int(c, CDC_SET_BATCH_MAX_EVENTS), 8000);
    CHECK_STR(cdc_conf_text(c, CDC_SET_DELETE_MODE), "soft");
    CHECK_STR(cdc_conf_key(CDC_SET_BATCH_MAX_EVENTS), "batch.max.events");
    CHECK(cdc_conf_key(CDC_SET__COUNT) == NULL);
    cdc_conf_free(c);
}

TEST(enum_settings_give_the_tables_values) {
    /* the table, not the caller, maps a choice to the module's enum value */
    static const struct {
        const char *key, *value;
        cdc_set_t id;
        int want;
    } cases[] = {
        {"truncate.mode", "soft", CDC_SET_TRUNCATE_MODE, CDC_TRUNCATE_SOFT},
        {"truncate.mode", "hard", CDC_SET_TRUNCATE_MODE, CDC_TRUNCATE_HARD},
        {"truncate.mode", "ignore", CDC_SET_TRUNCATE_MODE, CDC_TRUNCATE_IGNORE},
        {"delete.mode", "hard", CDC_SET_DELETE_MODE, 1},
        {"errors.policy", "fail", CDC_SET_ERRORS_POLICY, 1},
        {"log.level", "debug", CDC_SET_LOG_LEVEL, CDC_LOG_DEBUG},
        {"log.level", "error", CDC_SET_LOG_LEVEL, CDC_LOG_ERROR},
        {"log.format", "json", CDC_SET_LOG_FORMAT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_conf_t *c = cdc_conf_new();
        CHECK_INT(cdc_conf_set(c, cases[i].key, cases[i].value, "t", errbuf,
                               sizeof errbuf), CDC_OK);
        CHECK_CTX(cdc_conf_enum_(c, cases[i].id) == cases[i].want,
                  "%s=%s: got %d", cases[i].key, cases[i].value,
                  cdc_conf_enum_(c, cases[i].id));
        cdc_conf_free(c);
    }
    cdc_conf_t *c = cdc_conf_new();
    CHECK_INT(cdc_conf_enum(c, CDC_SET_TRUNCATE_MODE), CDC_TRUNCATE_SOFT);
    CHECK_INT(cdc_conf_enum(c, CDC_SET_ERRORS_POLICY), 0);
    cdc_conf_free(c);
}

static const struct {
    const char *key, *value;
    cdc_err_t want;
    const char *msg_has; /* the message must name this */
} set_cases[] = {
    {"batch.max.events", "100", CDC_OK, NULL},
    {"batch.max.events", "abc", CDC_ERR_CONFIG, "batch.max.events"},
    {"batch.max.events", "0", CDC_ERR_CONFIG, "out of range"},
    {"batch.max.events", "12x", CDC_ERR_CONFIG, "integer"},
    {"batch.max.events", "", CDC_ERR_CONFIG, "integer"},
    {"batch.max.events", "99999999999999999999", CDC_ERR_CONFIG, "integer"},
    {"delete.mode", "hard", CDC_OK, NULL},
    {"delete.mode", "purge", CDC_ERR_CONFIG, "soft|hard"},
    {"truncate.mode", "ignore", CDC_OK, NULL},
    {"log.format", "xml", CDC_ERR_CONFIG, "log.format"},
    {"bogus.key", "1", CDC_ERR_CONFIG, "unknown setting \"bogus.key\""},
    {"batch.max.event", "1", CDC_ERR_CONFIG, "did you mean \"batch.max.events\""},
    {"kafka.fetch.min.bytes", "65536", CDC_OK, NULL},
    {"kafka.", "x", CDC_ERR_CONFIG, "unknown setting"},
    {"kafka.enable.auto.commit", "true", CDC_ERR_CONFIG,
     "\"kafka.enable.auto.commit\" cannot be changed"},
    {"kafka.enable.auto.offset.store", "true", CDC_ERR_CONFIG,
     "\"kafka.enable.auto.offset.store\" cannot be changed"},
};

TEST(set_validates_and_names_the_key) {
    for (size_t i = 0; i < sizeof set_cases / sizeof set_cases[0]; i++) {
        cdc_conf_t *c = cdc_conf_new();
        errbuf[0] = '\0';
        cdc_err_t e = cdc_conf_set(c, set_cases[i].key, set_cases[i].value,
                                   "--set", errbuf, sizeof errbuf);
        CHECK_CTX(e == set_cases[i].want, "case %zu (%s=%s): got %d %s", i,
                  set_cases[i].key, set_cases[i].value, e, errbuf);
        if (set_cases[i].msg_has)
            CHECK_CTX(strstr(errbuf, set_cases[i].msg_has) != NULL,
                      "case %zu: message \"%s\" lacks \"%s\"", i, errbuf,
                      set_cases[i].msg_has);
        cdc_conf_free(c);
    }
}

static void collect(const char *k, const char *v, void *op) {
    char *out = op;
    strcat(out, k);
    strcat(out, "=");
    strcat(out, v);
    strcat(out, ";");
}

TEST(file_env_set_precedence) {
    char path[] = "/tmp/cdcsink-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "# comment\n! also comment\n\n"
                       "  batch.max.events = 10\n"
                       "topics: a,b\n"
                       "kafka.fetch.min.bytes=1000\n"
                       "pg.conninfo=postgresql://x@h/db?a=b\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);

    cdc_conf_t *c = cdc_conf_new();
    CHECK_INT(cdc_conf_load_file(c, path, errbuf, sizeof errbuf), CDC_OK);
    CHECK_INT(cdc_conf_int(c, CDC_SET_BATCH_MAX_EVENTS), 10);
    CHECK_STR(cdc_conf_str(c, CDC_SET_TOPICS), "a,b");
    CHECK_STR(cdc_conf_str(c, CDC_SET_PG_CONNINFO), "postgresql://x@h/db?a=b");

    char e1[] = "PATH=/bin", e2[] = "CDCSINK_BATCH_MAX_EVENTS=20",
         e3[] = "CDCSINK_KAFKA_QUEUED_MIN_MESSAGES=5";
    char *const envp[] = {e1, e2, e3, NULL};
    CHECK_INT(cdc_conf_load_env(c, envp, errbuf, sizeof errbuf), CDC_OK);
    CHECK_INT(cdc_conf_int(c, CDC_SET_BATCH_MAX_EVENTS), 20);
    CHECK_INT(cdc_conf_set(c, "batch.max.events", "30", "--set", errbuf,
                           sizeof errbuf), CDC_OK);
    CHECK_INT(cdc_conf_int(c, CDC_SET_BATCH_MAX_EVENTS), 30);

    char got[256] = "";
    cdc_conf_each_passthrough(c, "kafka.", collect, got);
    CHECK_STR(got, "fetch.min.bytes=1000;queued.min.messages=5;");
    cdc_conf_free(c);
    unlink(path);
}

TEST(file_errors_name_file_and_line) {
    char path[] = "/tmp/cdcsink-test-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "topics=a\nbatch.linger.ms=soon\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    cdc_conf_t *c = cdc_conf_new();
    CHECK_INT(cdc_conf_load_file(c, path, errbuf, sizeof errbuf),
              CDC_ERR_CONFIG);
    CHECK(strstr(errbuf, ":2:") != NULL);
    CHECK(strstr(errbuf, "batch.linger.ms") != NULL);
    cdc_conf_free(c);
    unlink(path);

    c = cdc_conf_new();
    CHECK_INT(cdc_conf_load_file(c, "/nonexistent/x.properties", errbuf,
                                 sizeof errbuf), CDC_ERR_IO);
    CHECK(strstr(errbuf, "/nonexistent/x.properties") != NULL);
    cdc_conf_free(c);
}

TEST(env_unknown_key_fails) {
    cdc_conf_t *c = cdc_conf_new();
    char e1[] = "CDCSINK_BATCH_MAX_EVENTZ=1";
    char *const envp[] = {e1, NULL};
    CHECK_INT(cdc_conf_load_env(c, envp, errbuf, sizeof errbuf), CDC_ERR_CONFIG);
    CHECK(strstr(errbuf, "CDCSINK_BATCH_MAX_EVENTZ") != NULL);
    cdc_conf_free(c);
}

TEST(validate_requires_keys) {
    cdc_conf_t *c = cdc_conf_new();
    CHECK_INT(cdc_conf_validate(c, errbuf, sizeof errbuf), CDC_ERR_CONFIG);
    CHECK(strstr(errbuf, "\"topics\" is required") != NULL);
    CHECK(strstr(errbuf, "CDCSINK_TOPICS") != NULL);
    CHECK_INT(cdc_conf_set(c, "topics", "^x.*", "t", errbuf, sizeof errbuf), 0);
    CHECK_INT(cdc_conf_validate(c, errbuf, sizeof errbuf), CDC_ERR_CONFIG);
    CHECK(strstr(errbuf, "pg.conninfo") != NULL);
    CHECK_INT(cdc_conf_set(c, "pg.conninfo", "dbname=x", "t", errbuf,
                           sizeof errbuf), 0);
    CHECK_INT(cdc_conf_validate(c, errbuf, sizeof errbuf), CDC_OK);
    cdc_conf_free(c);
}

TEST(every_key_documented) {
    /* --help and the markdown must list every key with its help text */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cdc_conf_print_help(f);
    cdc_conf_print_markdown(f);
    cdc_conf_print_sample(f);
    fclose(f);
    for (cdc_set_t i = 0; i < CDC_SET__COUNT; i++) {
        const char *k = cdc_conf_key(i);
        char needle[128];
        snprintf(needle, sizeof needle, "| `%s` |", k);
        CHECK_CTX(strstr(buf, needle) != NULL, "markdown lacks %s", k);
        snprintf(needle, sizeof needle, "  %s ", k);
        CHECK_CTX(strstr(buf, needle) != NULL, "--help lacks %s", k);
    }
    free(buf);
}
