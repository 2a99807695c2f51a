/* cmd_check_connector.c - see cmd_check_connector.h.
 *
 * The rules are one table: for each, the connector setting, when it is bad
 * (a test on its effective value), when the rule applies at all (a test on
 * another setting), the level, what goes wrong and the value to set. The
 * effective value of a setting is the connector's, else its documented
 * default from the defaults table. The same rules, in words, are in
 * docs/operations.md; keep the two together. */
#include "consumer/cli/cmd_check_connector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "common/http.h"

#define PG_CONNECTOR "io.debezium.connector.postgresql.PostgresConnector"
#define JSON_CONVERTER "org.apache.kafka.connect.json.JsonConverter"
#define CONNECT_TIMEOUT_MS 10000
/* the one placeholder of unchanged TOAST values the decoder recognises */
#define PLACEHOLDER "__debezium_unavailable_value"

/* ------------------------------------------------------------------ */
/* the connector's configuration                                        */
/* ------------------------------------------------------------------ */

/* Documented defaults (Debezium 3.x PostgreSQL connector, Kafka Connect's
 * JsonConverter) of the settings the rules read. The converters default to
 * the worker's, assumed to be JsonConverter with its defaults. */
static const cdc_check_setting_t defaults[] = {
    {"key.converter", JSON_CONVERTER},
    {"value.converter", JSON_CONVERTER},
    {"key.converter.schemas.enable", "true"},
    {"value.converter.schemas.enable", "true"},
    {"key.converter.replace.null.with.default", "true"},
    {"value.converter.replace.null.with.default", "true"},
    {"skipped.operations", "t"},
    {"snapshot.mode", "initial"},
    {"heartbeat.interval.ms", "0"},
    {"provide.transaction.metadata", "false"},
    {"signal.enabled.channels", "source"},
    {"decimal.handling.mode", "precise"},
    {"time.precision.mode", "adaptive"},
    {"binary.handling.mode", "bytes"},
    {"interval.handling.mode", "numeric"},
    {"hstore.handling.mode", "json"},
    {"unavailable.value.placeholder", PLACEHOLDER},
    {"event.processing.failure.handling.mode", "fail"},
    {"errors.tolerance", "none"},
    {"slot.drop.on.stop", "false"},
};

typedef struct ctx_s {
    yajl_val conf;                   /* the connector's config object */
    const cdc_check_setting_t *sink; /* cdcsink's own modes */
    size_t nsink;
    char detail[512]; /* set by a test: said before the rule's text */
} ctx_t;

/* The connector's own value of key, or NULL when it does not set it.
 * Connect answers strings; numbers and booleans are taken as their text. */
static const char *conf_get(const ctx_t *c, const char *key) {
    for (size_t i = 0; i < c->conf->u.object.len; i++) {
        yajl_val v = c->conf->u.object.values[i];
        if (strcmp(c->conf->u.object.keys[i], key) != 0)
            continue;
        if (YAJL_IS_STRING(v))
            return YAJL_GET_STRING(v);
        if (YAJL_IS_NUMBER(v))
            return v->u.number.r;
        if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
            return YAJL_IS_TRUE(v) ? "true" : "false";
        return NULL;
    }
    return NULL;
}

static const char *lookup(const cdc_check_setting_t *s, size_t n,
                          const char *key) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].key, key))
            return s[i].value;
    return NULL;
}

/* The effective value: the connector's, else the default (NULL: none). */
static const char *conf_eff(const ctx_t *c, const char *key) {
    const char *v = conf_get(c, key);
    return v ? v : lookup(defaults, sizeof defaults / sizeof *defaults, key);
}

/* ------------------------------------------------------------------ */
/* tests: true when the value (NULL: not set, no default) is bad         */
/* ------------------------------------------------------------------ */

typedef bool (*test_fn)(ctx_t *c, const char *v, const char *arg);

/* Whether the comma-separated list holds item (blanks ignored, any case). */
static bool list_has(const char *list, const char *item) {
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t sl = len;
        while (sl && (*s == ' ' || *s == '\t'))
            s++, sl--;
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t'))
            sl--;
        if (sl == n && strncasecmp(s, item, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static bool is_true(ctx_t *c, const char *v, const char *arg) {
    (void)c, (void)arg;
    return v && strcasecmp(v, "true") == 0;
}

static bool not_true(ctx_t *c, const char *v, const char *arg) {
    return !is_true(c, v, arg);
}

static bool is_set(ctx_t *c, const char *v, const char *arg) {
    (void)c, (void)arg;
    return v && *v;
}

static bool not_set(ctx_t *c, const char *v, const char *arg) {
    return !is_set(c, v, arg);
}

/* the connector itself does not set arg (whatever its default) */
static bool not_on_connector(ctx_t *c, const char *v, const char *arg) {
    (void)v;
    return conf_get(c, arg) == NULL;
}

/* arg: a comma-separated list of values */
static bool one_of(ctx_t *c, const char *v, const char *arg) {
    (void)c;
    return v && list_has(arg, v);
}

static bool not_one_of(ctx_t *c, const char *v, const char *arg) {
    return !one_of(c, v, arg);
}

/* anything but exactly arg (case and blanks count) */
static bool not_exactly(ctx_t *c, const char *v, const char *arg) {
    (void)c;
    return v && strcmp(v, arg) != 0;
}

static bool not_positive(ctx_t *c, const char *v, const char *arg) {
    char *end;
    (void)c, (void)arg;
    return !v || strtoll(v, &end, 10) <= 0 || *end != '\0';
}

/* skipped.operations: arg lists the operations that are bad to skip
 * ("c,u,d"); the detail names those skipped */
static bool skips_op(ctx_t *c, const char *v, const char *arg) {
    static const struct { const char *op, *name; } ops[] = {
        {"c", "inserts"}, {"u", "updates"}, {"d", "deletes"},
        {"t", "truncates"}};
    size_t used = 0;
    if (!v || list_has(v, "none"))
        return false;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (!list_has(arg, ops[i].op) || !list_has(v, ops[i].op))
            continue;
        int n = snprintf(c->detail + used, sizeof c->detail - used, "%s%s",
                         used ? ", " : "", ops[i].name);
        if (n > 0 && (size_t)n < sizeof c->detail - used)
            used += (size_t)n;
    }
    return used > 0;
}

/* a transform in the chain whose type is one of arg (simple class names) */
static bool has_transform(ctx_t *c, const char *v, const char *arg) {
    char key[256], name[128];
    for (const char *p = v; p && *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *type, *simple;
        size_t sl = len;
        p += len + (p[len] == ',');
        while (sl && *s == ' ')
            s++, sl--;
        while (sl && s[sl - 1] == ' ')
            sl--;
        if (sl == 0 || sl >= sizeof name)
            continue;
        memcpy(name, s, sl);
        name[sl] = '\0';
        /* name is under 128 bytes: the key fits */
        (void)snprintf(key, sizeof key, "transforms.%s.type", name);
        if (!(type = conf_get(c, key)))
            continue;
        simple = strrchr(type, '.') ? strrchr(type, '.') + 1 : type;
        if (list_has(arg, simple)) {
            /* display text: a very long class name may be cut */
            (void)snprintf(c->detail, sizeof c->detail, "%s=%s", key, type);
            return true;
        }
    }
    return false;
}

/* the comma-separated list (v) lacks the item arg */
static bool lacks(ctx_t *c, const char *v, const char *arg) {
    (void)c;
    return !list_has(v, arg);
}

/* the comma-separated list (v) holds the item arg */
static bool holds(ctx_t *c, const char *v, const char *arg) {
    return !lacks(c, v, arg);
}

/* the value mode arg: cdcsink's own (by default Debezium's) differs */
static bool mode_differs(ctx_t *c, const char *v, const char *arg) {
    const char *mine = lookup(c->sink, c->nsink, arg);
    if (!mine)
        mine = lookup(defaults, sizeof defaults / sizeof *defaults, arg);
    if (!v || !mine || strcasecmp(v, mine) == 0)
        return false;
    (void)snprintf(c->detail, sizeof c->detail, "cdcsink decodes with %s, "
                   "so", mine); /* display text: a long value may be cut */
    return true;
}

/* neither datatype.propagate.source.type (v) nor arg is set */
static bool no_type_propagation(ctx_t *c, const char *v, const char *arg) {
    return !(v && *v) && !conf_get(c, arg);
}

/* ------------------------------------------------------------------ */
/* the rules                                                           */
/* ------------------------------------------------------------------ */

typedef enum { LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR } level_t;

typedef struct rule_s {
    level_t level;
    const char *key;  /* the connector setting judged */
    test_fn bad;      /* on the setting's effective value */
    const char *arg;  /* the test's parameter */
    const char *when_key; /* the rule applies when when(effective value of */
    test_fn when;         /* when_key, when_arg) holds; when NULL: always */
    const char *when_arg;
    const char *what; /* what goes wrong (after the test's detail) */
    const char *fix;  /* the value to set */
} rule_t;

#define ALWAYS NULL, NULL, NULL
#define SCHEMALESS "value.converter.schemas.enable", not_true, NULL
#define MODE_RULE(k)                                                         \
    {LEVEL_ERROR, k, mode_differs, k, SCHEMALESS,                            \
     "schemaless values are mis-decoded",                                    \
     "give cdcsink (check --" k ") and the connector the same value"}

static const rule_t rules[] = {
    {LEVEL_WARN, "connector.class", not_one_of, PG_CONNECTOR, ALWAYS,
     "these rules are for the Debezium PostgreSQL connector",
     "check a connector of class " PG_CONNECTOR},
    {LEVEL_ERROR, "value.converter", not_one_of, JSON_CONVERTER, ALWAYS,
     "cdcsink reads JsonConverter JSON only",
     "set it to " JSON_CONVERTER},
    {LEVEL_WARN, "value.converter", not_on_connector, "value.converter",
     ALWAYS,
     "the worker's converter and its settings apply, unseen by check",
     "set value.converter=" JSON_CONVERTER " and its settings on the "
     "connector"},
    {LEVEL_ERROR, "value.converter.replace.null.with.default", is_true, NULL,
     "value.converter", one_of, JSON_CONVERTER,
     "a NULL in the source is written as the column's DEFAULT",
     "set it to false"},
    {LEVEL_ERROR, "key.converter", not_one_of, JSON_CONVERTER, ALWAYS,
     "cdcsink reads JsonConverter JSON only",
     "set it to " JSON_CONVERTER},
    {LEVEL_WARN, "key.converter", not_on_connector, "key.converter", ALWAYS,
     "the worker's converter and its settings apply, unseen by check",
     "set key.converter=" JSON_CONVERTER " and its settings on the "
     "connector"},
    {LEVEL_ERROR, "key.converter.replace.null.with.default", is_true, NULL,
     "message.key.columns", is_set, NULL,
     "a NULL in a message.key.columns column is written as its DEFAULT",
     "set it to false"},
    {LEVEL_INFO, "key.converter.replace.null.with.default", is_true, NULL,
     "message.key.columns", not_set, NULL,
     "harmless while keys are primary keys (never NULL)",
     "set it to false to be safe"},
    {LEVEL_ERROR, "skipped.operations", skips_op, "c,u,d", ALWAYS,
     "are dropped and the replica drifts from the source", "set it to none"},
    {LEVEL_WARN, "skipped.operations", skips_op, "t", ALWAYS,
     "are not replicated", "set it to none"},
    {LEVEL_ERROR, "transforms", has_transform,
     "ExtractNewRecordState,ExtractNewDocumentState,UnwrapFromEnvelope",
     ALWAYS, "unwraps the change envelope cdcsink needs (op, before, source)",
     "remove that transform"},
    /* values lost or changed before Kafka */
    {LEVEL_ERROR, "unavailable.value.placeholder", not_exactly, PLACEHOLDER,
     ALWAYS,
     "cdcsink recognises only the default placeholder of unchanged TOAST "
     "values: this one is written into the column as data",
     "leave it unset"},
    {LEVEL_ERROR, "decimal.handling.mode", one_of, "double", ALWAYS,
     "numeric values are rounded to a double before Kafka",
     "set it to precise"},
    {LEVEL_ERROR, "time.precision.mode", one_of, "connect", ALWAYS,
     "times and timestamps lose their microseconds before Kafka",
     "set it to adaptive"},
    {LEVEL_WARN, "binary.handling.mode", one_of, "base64,base64-url-safe,hex",
     ALWAYS,
     "bytea arrives as encoded text: created tables get text columns, "
     "existing bytea columns the encoded text",
     "set it to bytes"},
    {LEVEL_WARN, "interval.handling.mode", one_of, "numeric", ALWAYS,
     "an interval arrives as microseconds with a month taken as 30.4375 "
     "days (1 mon is written as 30 days 10:30:00)",
     "set it to string"},
    {LEVEL_WARN, "event.processing.failure.handling.mode", one_of,
     "warn,skip", ALWAYS,
     "Debezium drops an event it cannot process, with a log line only",
     "set it to fail"},
    {LEVEL_WARN, "errors.tolerance", one_of, "all", ALWAYS,
     "Connect drops the records it cannot convert or produce",
     "set it to none"},
    {LEVEL_WARN, "slot.drop.on.stop", is_true, NULL, ALWAYS,
     "the slot goes when the connector stops: changes committed meanwhile "
     "are never read",
     "set it to false"},
    {LEVEL_WARN, "snapshot.mode", one_of, "never,no_data", ALWAYS,
     "rows that exist before the connector starts are never copied",
     "set it to initial"},
    {LEVEL_WARN, "snapshot.mode", one_of, "initial_only", ALWAYS,
     "changes after the snapshot are not streamed", "set it to initial"},
    {LEVEL_WARN, "heartbeat.interval.ms", not_positive, NULL, ALWAYS,
     "the freshness watermark freezes while the source database is idle",
     "set it to 10000"},
    {LEVEL_WARN, "provide.transaction.metadata", not_true, NULL, ALWAYS,
     "apply.consistency=transaction is unavailable", "set it to true"},
    /* cdcsink resync: the signal, the snapshot's watermarks, and the
     * notifications it follows to see the snapshot complete */
    {LEVEL_WARN, "signal.data.collection", not_set, NULL, "read.only",
     not_true, NULL,
     "cdcsink resync is unavailable: PostgreSQL's incremental snapshot "
     "writes its watermarks into the signal table",
     "set it to a signal table (e.g. public.debezium_signal) that exists in "
     "the captured database and in the publication"},
    {LEVEL_WARN, "signal.enabled.channels", lacks, "source", "read.only",
     not_true, NULL,
     "cdcsink resync is unavailable: the incremental snapshot reads its "
     "watermarks back through the source channel",
     "add source (the default) to it"},
    {LEVEL_WARN, "signal.enabled.channels", lacks, "kafka", "read.only",
     is_true, NULL,
     "cdcsink resync is unavailable: a read.only connector takes signals "
     "from Kafka only",
     "add kafka to it, set signal.kafka.bootstrap.servers and run resync "
     "--signal-topic"},
    {LEVEL_WARN, "signal.kafka.bootstrap.servers", not_set, NULL,
     "signal.enabled.channels", holds, "kafka",
     "the kafka signal channel has no broker to read signals from (resync "
     "--signal-topic is unavailable)",
     "set it to the Kafka brokers"},
    {LEVEL_INFO, "signal.kafka.topic", not_set, NULL,
     "signal.enabled.channels", holds, "kafka",
     "the kafka signal channel reads TOPIC.PREFIX-signal",
     "give that name to resync --signal-topic, or set it"},
    {LEVEL_WARN, "notification.enabled.channels", lacks, "sink", ALWAYS,
     "cdcsink resync cannot see the incremental snapshot start, progress and "
     "complete (it follows the sink channel's topic)",
     "add sink to it and set notification.sink.topic.name"},
    {LEVEL_WARN, "notification.sink.topic.name", not_set, NULL,
     "notification.enabled.channels", holds, "sink",
     "the sink notification channel has no topic to write to",
     "set it (e.g. TOPIC.PREFIX.notifications) and give that name to resync "
     "--notification-topic"},
    MODE_RULE("decimal.handling.mode"),
    MODE_RULE("time.precision.mode"),
    MODE_RULE("binary.handling.mode"),
    MODE_RULE("interval.handling.mode"),
    MODE_RULE("hstore.handling.mode"),
    {LEVEL_INFO, "datatype.propagate.source.type", no_type_propagation,
     "column.propagate.source.type", ALWAYS,
     "tables are created with generic types (numeric, text)",
     "set it to .+ to keep the source's column types"},
};

static const char *const level_names[] = {"info", "warn", "error"};

/* One line: "error  key=value (default): detail what; fix" */
static void report_line(cdc_buf_t *out, const ctx_t *c, const rule_t *r,
                        const char *value) {
    cdc_buf_printf(out, "%-6s %s", level_names[r->level], r->key);
    if (!value)
        cdc_buf_adds(out, " (not set)");
    else
        cdc_buf_printf(out, "=%s%s", value,
                       conf_get(c, r->key) ? "" : " (default)");
    cdc_buf_printf(out, ": %s%s%s; %s\n", c->detail, *c->detail ? " " : "",
                   r->what, r->fix);
}

cdc_err_t cdc_check_connector_config(const char *json,
                                     const cdc_check_setting_t *sink,
                                     size_t nsink, cdc_buf_t *report,
                                     cdc_check_counts_t *counts, char *errstr,
                                     size_t errstr_size) {
    char why[256] = "";
    ctx_t c;
    memset(counts, 0, sizeof *counts);
    memset(&c, 0, sizeof c);
    c.conf = yajl_tree_parse(json, why, sizeof why);
    if (!c.conf || !YAJL_IS_OBJECT(c.conf)) {
        (void)cdc_errstr_set(errstr, errstr_size, "the connector's config is "
                             "not a JSON object%s%s", *why ? ": " : "", why);
        yajl_tree_free(c.conf);
        return CDC_ERR_JSON;
    }
    c.sink = sink;
    c.nsink = nsink;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        const rule_t *r = &rules[i];
        const char *value = conf_eff(&c, r->key);
        *c.detail = '\0';
        if (r->when && !r->when(&c, conf_eff(&c, r->when_key), r->when_arg))
            continue;
        if (!r->bad(&c, value, r->arg))
            continue;
        report_line(report, &c, r, value);
        counts->errors += r->level == LEVEL_ERROR;
        counts->warnings += r->level == LEVEL_WARN;
        counts->infos += r->level == LEVEL_INFO;
    }
    yajl_tree_free(c.conf);
    return report->oom ? CDC_ERR_NOMEM : CDC_OK;
}

/* ------------------------------------------------------------------ */
/* the command                                                         */
/* ------------------------------------------------------------------ */

static const char *const mode_flags[] = {
    "--decimal.handling.mode", "--time.precision.mode",
    "--binary.handling.mode", "--interval.handling.mode",
    "--hstore.handling.mode"};
#define NMODES (sizeof mode_flags / sizeof *mode_flags)

typedef struct args_s {
    const char *url;
    const char *connector; /* NULL: every PostgreSQL connector */
    cdc_check_setting_t modes[NMODES];
    size_t nmodes;
} args_t;

bool cdc_check_connector_flag(const char *arg) {
    if (!strcmp(arg, "--connect-url") || !strcmp(arg, "--connector"))
        return true;
    for (size_t i = 0; i < NMODES; i++)
        if (!strcmp(arg, mode_flags[i]))
            return true;
    return false;
}

bool cdc_check_connector_wanted(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--connect-url"))
            return true;
    return false;
}

static int parse_args(int argc, char **argv, args_t *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (f[0] != '-')
            continue; /* the command's name */
        if (!v || (!cdc_check_connector_flag(f) && strcmp(f, "--set") != 0 &&
                   strcmp(f, "--config") != 0)) {
            fprintf(stderr, "cdcsink check: %s %s. HINT: check --connect-url "
                    "http://HOST:8083 [--connector NAME] "
                    "[--decimal.handling.mode M ...]\n", f,
                    v ? "is not a flag of check" : "needs a value");
            return 2;
        }
        i++;
        if (!strcmp(f, "--connect-url"))
            a->url = v;
        else if (!strcmp(f, "--connector"))
            a->connector = v;
        for (size_t m = 0; m < NMODES; m++)
            if (!strcmp(f, mode_flags[m]) && a->nmodes < NMODES)
                a->modes[a->nmodes++] = (cdc_check_setting_t){f + 2, v};
    }
    if (!a->url || !*a->url) {
        fprintf(stderr, "cdcsink check: --connect-url needs Kafka Connect's "
                "URL, e.g. http://127.0.0.1:8083\n");
        return 2;
    }
    return 0;
}

/* base + "/connectors[/NAME[/config]]", NAME percent-encoded */
static void connect_path(cdc_buf_t *url, const char *base, const char *name,
                         bool config) {
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    cdc_buf_reset(url);
    cdc_buf_add(url, base, bl);
    cdc_buf_adds(url, "/connectors");
    if (!name)
        return;
    cdc_buf_addc(url, '/');
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            cdc_buf_addc(url, (char)*p);
        else
            cdc_buf_printf(url, "%%%02X", *p);
    }
    if (config)
        cdc_buf_adds(url, "/config");
}

/* GET url; 0 with a 200 answer in resp, else 2 after saying why */
static int get_ok(const char *url, const char *base, cdc_http_response_t *resp) {
    char errstr[1024];
    cdc_err_t err = cdc_http_get(url, CONNECT_TIMEOUT_MS, resp, errstr,
                                 sizeof errstr);
    if (err == CDC_ERR_USAGE) {
        fprintf(stderr, "cdcsink check: --connect-url %s\n", errstr);
        return 2;
    }
    if (err != CDC_OK) {
        fprintf(stderr, "cdcsink check: cannot reach Kafka Connect at %s: "
                "%s\n", base, errstr);
        return 2;
    }
    if (resp->status != 200) {
        fprintf(stderr, "cdcsink check: Kafka Connect at %s answered %d to "
                "GET %s: %.300s\n", base, resp->status, url, resp->body.data);
        return 2;
    }
    return 0;
}

/* Checks one connector; returns 2 (Connect), 1 (an error) or 0. */
static int check_one(const args_t *a, const char *name, const char *config) {
    cdc_buf_t report = CDC_BUF_INIT;
    cdc_check_counts_t n;
    char errstr[512];
    if (cdc_check_connector_config(config, a->modes, a->nmodes, &report, &n,
                                   errstr, sizeof errstr) != CDC_OK) {
        fprintf(stderr, "cdcsink check: connector %s at %s: %s\n", name,
                a->url, errstr);
        cdc_buf_free(&report);
        return 2;
    }
    printf("connector %s: %d error%s, %d warning%s, %d info\n", name,
           n.errors, n.errors == 1 ? "" : "s", n.warnings,
           n.warnings == 1 ? "" : "s", n.infos);
    fputs(report.data ? report.data : "", stdout);
    cdc_buf_free(&report);
    return n.errors ? 1 : 0;
}

/* Whether a config's connector.class is the PostgreSQL connector. */
static bool is_pg_connector(const char *config) {
    yajl_val v = yajl_tree_parse(config, NULL, 0);
    const char *path[] = {"connector.class", NULL};
    yajl_val cls = v ? yajl_tree_get(v, path, yajl_t_string) : NULL;
    const char *name = cls ? YAJL_GET_STRING(cls) : NULL;
    bool pg = name && !strcmp(name, PG_CONNECTOR);
    yajl_tree_free(v);
    return pg;
}

/* Every registered connector, the PostgreSQL ones checked. */
static int check_all(const args_t *a, cdc_buf_t *url, cdc_http_response_t *resp) {
    yajl_val list;
    int rc = 0, checked = 0;
    connect_path(url, a->url, NULL, false);
    if ((rc = get_ok(url->data, a->url, resp)) != 0)
        return rc;
    list = yajl_tree_parse(resp->body.data, NULL, 0);
    if (!list || !YAJL_IS_ARRAY(list)) {
        fprintf(stderr, "cdcsink check: GET %s did not answer a JSON array: "
                "%.300s\n", url->data, resp->body.data);
        yajl_tree_free(list);
        return 2;
    }
    for (size_t i = 0; i < list->u.array.len && rc < 2; i++) {
        const char *name = YAJL_GET_STRING(list->u.array.values[i]);
        int one;
        if (!name)
            continue;
        connect_path(url, a->url, name, true);
        if ((one = get_ok(url->data, a->url, resp)) != 0) {
            rc = one;
        } else if (is_pg_connector(resp->body.data)) {
            checked++;
            one = check_one(a, name, resp->body.data);
            rc = one > rc ? one : rc;
        }
    }
    if (rc < 2 && !checked) {
        fprintf(stderr, "cdcsink check: no Debezium PostgreSQL connector "
                "(%s) is registered at %s (%zu connectors)\n", PG_CONNECTOR,
                a->url, list->u.array.len);
        rc = 2;
    }
    yajl_tree_free(list);
    return rc;
}

int cdc_check_connector_main(int argc, char **argv) {
    cdc_http_response_t resp = CDC_HTTP_RESPONSE_INIT;
    cdc_buf_t url = CDC_BUF_INIT;
    args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.connector) {
        connect_path(&url, a.url, a.connector, true);
        rc = get_ok(url.data, a.url, &resp);
        if (rc == 0)
            rc = check_one(&a, a.connector, resp.body.data);
    } else {
        rc = check_all(&a, &url, &resp);
    }
    cdc_http_response_free(&resp);
    cdc_buf_free(&url);
    return rc;
}
