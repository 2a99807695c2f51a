/* test_cli_cmd_check_connector.c - `check --connect-url`'s rules: a connector
 * configuration (the JSON Kafka Connect answers) in, the report's exact
 * lines and counts out. One good configuration, then one change at a time;
 * the connector configurations the stack and the compose file register
 * must have no error. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/cli/cmd_check_connector.h"

#define PG "io.debezium.connector.postgresql.PostgresConnector"
#define JC "org.apache.kafka.connect.json.JsonConverter"

static char errbuf[512];

/* A configuration with nothing to report. */
static const cdc_check_setting_t good[] = {
    {"connector.class", PG},
    {"key.converter", JC},
    {"value.converter", JC},
    {"key.converter.replace.null.with.default", "false"},
    {"value.converter.replace.null.with.default", "false"},
    {"skipped.operations", "none"},
    {"snapshot.mode", "initial"},
    {"heartbeat.interval.ms", "10000"},
    {"provide.transaction.metadata", "true"},
    {"signal.data.collection", "public.debezium_signal"},
    {"notification.enabled.channels", "sink"},
    {"notification.sink.topic.name", "shop.notifications"},
    {"datatype.propagate.source.type", ".+"},
    {"interval.handling.mode", "string"},
    {"tombstones.on.delete", "false"},
};
#define NGOOD (sizeof good / sizeof *good)

static void json_str(cdc_buf_t *b, const char *s) {
    cdc_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            cdc_buf_addc(b, '\\');
        cdc_buf_addc(b, *s);
    }
    cdc_buf_addc(b, '"');
}

/* good's settings changed by edits "k=v|k2=v2|-k3" (-k: not set), as
 * Connect's JSON object */
static void config_json(cdc_buf_t *b, const char *edits) {
    char *copy = strdup(edits), *save = NULL, *e;
    const char *keys[64], *vals[64];
    size_t n = 0;
    for (size_t i = 0; i < NGOOD; i++, n++)
        keys[n] = good[i].key, vals[n] = good[i].value;
    for (e = strtok_r(copy, "|", &save); e; e = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(e, '=');
        const char *k = *e == '-' ? e + 1 : e;
        size_t i;
        if (eq)
            *eq = '\0';
        for (i = 0; i < n && strcmp(keys[i], k); i++)
            ;
        if (i == n && n < 64)
            n++;
        keys[i] = k;
        vals[i] = *e == '-' ? NULL : eq ? eq + 1 : "";
    }
    cdc_buf_reset(b);
    cdc_buf_addc(b, '{');
    for (size_t i = 0, first = 1; i < n; i++) {
        if (!vals[i])
            continue;
        if (!first)
            cdc_buf_addc(b, ',');
        first = 0;
        json_str(b, keys[i]);
        cdc_buf_addc(b, ':');
        json_str(b, vals[i]);
    }
    cdc_buf_addc(b, '}');
    free(copy);
}

typedef struct {
    const char *edits;
    const char *sink; /* cdcsink's own modes "k=v|k2=v2", or NULL */
    const char *want; /* the whole report */
    int errors, warnings, infos;
} case_t;

static const case_t cases[] = {
    {"", NULL, "", 0, 0, 0},
    {"tombstones.on.delete=true", NULL, "", 0, 0, 0},
    /* converters */
    {"value.converter.replace.null.with.default=true", NULL,
     "error  value.converter.replace.null.with.default=true: a NULL in the "
     "source is written as the column's DEFAULT; set it to false\n", 1, 0, 0},
    {"-value.converter.replace.null.with.default", NULL,
     "error  value.converter.replace.null.with.default=true (default): a NULL "
     "in the source is written as the column's DEFAULT; set it to false\n",
     1, 0, 0},
    {"value.converter.replace.null.with.default=TRUE", NULL,
     "error  value.converter.replace.null.with.default=TRUE: a NULL in the "
     "source is written as the column's DEFAULT; set it to false\n", 1, 0, 0},
    {"value.converter=io.confluent.connect.avro.AvroConverter|-value.converter"
     ".replace.null.with.default", NULL,
     "error  value.converter=io.confluent.connect.avro.AvroConverter: cdcsink "
     "reads JsonConverter JSON only; set it to " JC "\n", 1, 0, 0},
    {"-value.converter", NULL,
     "warn   value.converter=" JC " (default): the worker's converter and its "
     "settings apply, unseen by check; set value.converter=" JC " and its "
     "settings on the connector\n", 0, 1, 0},
    {"key.converter=org.apache.kafka.connect.storage.StringConverter", NULL,
     "error  key.converter=org.apache.kafka.connect.storage.StringConverter: "
     "cdcsink reads JsonConverter JSON only; set it to " JC "\n", 1, 0, 0},
    {"-key.converter.replace.null.with.default", NULL,
     "info   key.converter.replace.null.with.default=true (default): harmless "
     "while keys are primary keys (never NULL); set it to false to be safe\n",
     0, 0, 1},
    {"-key.converter.replace.null.with.default|message.key.columns=public.t:"
     "a", NULL,
     "error  key.converter.replace.null.with.default=true (default): a NULL "
     "in a message.key.columns column is written as its DEFAULT; set it to "
     "false\n", 1, 0, 0},
    /* skipped operations */
    {"-skipped.operations", NULL,
     "warn   skipped.operations=t (default): truncates are not replicated; "
     "set it to none\n", 0, 1, 0},
    {"skipped.operations=c, d", NULL,
     "error  skipped.operations=c, d: inserts, deletes are dropped and the "
     "replica drifts from the source; set it to none\n", 1, 0, 0},
    {"skipped.operations=t,u", NULL,
     "error  skipped.operations=t,u: updates are dropped and the replica "
     "drifts from the source; set it to none\n"
     "warn   skipped.operations=t,u: truncates are not replicated; set it to "
     "none\n", 1, 1, 0},
    /* the envelope */
    {"transforms=route,unwrap|transforms.route.type=io.debezium.transforms."
     "ByLogicalTableRouter|transforms.unwrap.type=io.debezium.transforms."
     "ExtractNewRecordState", NULL,
     "error  transforms=route,unwrap: transforms.unwrap.type=io.debezium."
     "transforms.ExtractNewRecordState unwraps the change envelope cdcsink "
     "needs (op, before, source); remove that transform\n", 1, 0, 0},
    {"transforms=route|transforms.route.type=io.debezium.transforms."
     "ByLogicalTableRouter", NULL, "", 0, 0, 0},
    /* values lost or changed before Kafka */
    {"unavailable.value.placeholder=__unchanged__", NULL,
     "error  unavailable.value.placeholder=__unchanged__: cdcsink recognises "
     "only the default placeholder of unchanged TOAST values: this one is "
     "written into the column as data; leave it unset\n", 1, 0, 0},
    {"unavailable.value.placeholder=__debezium_unavailable_value", NULL, "",
     0, 0, 0},
    {"decimal.handling.mode=double", NULL,
     "error  decimal.handling.mode=double: numeric values are rounded to a "
     "double before Kafka; set it to precise\n", 1, 0, 0},
    {"decimal.handling.mode=precise", NULL, "", 0, 0, 0},
    {"time.precision.mode=connect", NULL,
     "error  time.precision.mode=connect: times and timestamps lose their "
     "microseconds before Kafka; set it to adaptive\n", 1, 0, 0},
    {"time.precision.mode=adaptive_time_microseconds", NULL, "", 0, 0, 0},
    {"binary.handling.mode=hex", NULL,
     "warn   binary.handling.mode=hex: bytea arrives as encoded text: created "
     "tables get text columns, existing bytea columns the encoded text; set "
     "it to bytes\n", 0, 1, 0},
    {"-interval.handling.mode", NULL,
     "warn   interval.handling.mode=numeric (default): an interval arrives as "
     "microseconds with a month taken as 30.4375 days (1 mon is written as "
     "30 days 10:30:00); set it to string\n", 0, 1, 0},
    {"event.processing.failure.handling.mode=skip", NULL,
     "warn   event.processing.failure.handling.mode=skip: Debezium drops an "
     "event it cannot process, with a log line only; set it to fail\n",
     0, 1, 0},
    {"errors.tolerance=all", NULL,
     "warn   errors.tolerance=all: Connect drops the records it cannot "
     "convert or produce; set it to none\n", 0, 1, 0},
    {"slot.drop.on.stop=true", NULL,
     "warn   slot.drop.on.stop=true: the slot goes when the connector stops: "
     "changes committed meanwhile are never read; set it to false\n",
     0, 1, 0},
    {"slot.drop.on.stop=false|errors.tolerance=none", NULL, "", 0, 0, 0},
    /* snapshot */
    {"snapshot.mode=NO_DATA", NULL,
     "warn   snapshot.mode=NO_DATA: rows that exist before the connector "
     "starts are never copied; set it to initial\n", 0, 1, 0},
    {"snapshot.mode=never", NULL,
     "warn   snapshot.mode=never: rows that exist before the connector "
     "starts are never copied; set it to initial\n", 0, 1, 0},
    {"snapshot.mode=initial_only", NULL,
     "warn   snapshot.mode=initial_only: changes after the snapshot are not "
     "streamed; set it to initial\n", 0, 1, 0},
    {"snapshot.mode=when_needed", NULL, "", 0, 0, 0},
    /* features */
    {"-heartbeat.interval.ms", NULL,
     "warn   heartbeat.interval.ms=0 (default): the freshness watermark "
     "freezes while the source database is idle; set it to 10000\n", 0, 1, 0},
    {"heartbeat.interval.ms=-5", NULL,
     "warn   heartbeat.interval.ms=-5: the freshness watermark freezes while "
     "the source database is idle; set it to 10000\n", 0, 1, 0},
    {"provide.transaction.metadata=false", NULL,
     "warn   provide.transaction.metadata=false: apply.consistency="
     "transaction is unavailable; set it to true\n", 0, 1, 0},
    /* resync: each setting it needs, missing, named with its fix */
#define RESYNC "cdcsink resync is unavailable: "
#define SIG_TABLE_FIX "set it to a signal table (e.g. public.debezium_signal) " \
    "that exists in the captured database and in the publication\n"
    {"-signal.data.collection", NULL,
     "warn   signal.data.collection (not set): " RESYNC "PostgreSQL's "
     "incremental snapshot writes its watermarks into the signal table; "
     SIG_TABLE_FIX, 0, 1, 0},
    {"signal.data.collection=", NULL,
     "warn   signal.data.collection=: " RESYNC "PostgreSQL's incremental "
     "snapshot writes its watermarks into the signal table; " SIG_TABLE_FIX,
     0, 1, 0},
    {"signal.enabled.channels=jmx", NULL,
     "warn   signal.enabled.channels=jmx: " RESYNC "the incremental snapshot "
     "reads its watermarks back through the source channel; add source (the "
     "default) to it\n", 0, 1, 0},
    {"signal.enabled.channels=source, kafka", NULL,
     "warn   signal.kafka.bootstrap.servers (not set): the kafka signal "
     "channel has no broker to read signals from (resync --signal-topic is "
     "unavailable); set it to the Kafka brokers\n"
     "info   signal.kafka.topic (not set): the kafka signal channel reads "
     "TOPIC.PREFIX-signal; give that name to resync --signal-topic, or set "
     "it\n", 0, 1, 1},
    {"signal.enabled.channels=source,KAFKA|signal.kafka.bootstrap.servers=k:9"
     "092|signal.kafka.topic=shop-signal", NULL, "", 0, 0, 0},
    {"read.only=true|-signal.data.collection", NULL,
     "warn   signal.enabled.channels=source (default): " RESYNC "a read.only "
     "connector takes signals from Kafka only; add kafka to it, set "
     "signal.kafka.bootstrap.servers and run resync --signal-topic\n",
     0, 1, 0},
    {"-notification.enabled.channels", NULL,
     "warn   notification.enabled.channels (not set): cdcsink resync cannot "
     "see the incremental snapshot start, progress and complete (it follows "
     "the sink channel's topic); add sink to it and set "
     "notification.sink.topic.name\n", 0, 1, 0},
    {"notification.enabled.channels=log,jmx", NULL,
     "warn   notification.enabled.channels=log,jmx: cdcsink resync cannot "
     "see the incremental snapshot start, progress and complete (it follows "
     "the sink channel's topic); add sink to it and set "
     "notification.sink.topic.name\n", 0, 1, 0},
    {"-notification.sink.topic.name", NULL,
     "warn   notification.sink.topic.name (not set): the sink notification "
     "channel has no topic to write to; set it (e.g. "
     "TOPIC.PREFIX.notifications) and give that name to resync "
     "--notification-topic\n", 0, 1, 0},
    {"-datatype.propagate.source.type", NULL,
     "info   datatype.propagate.source.type (not set): tables are created "
     "with generic types (numeric, text); set it to .+ to keep the source's "
     "column types\n", 0, 0, 1},
    {"-datatype.propagate.source.type|column.propagate.source.type=.*", NULL,
     "", 0, 0, 0},
    /* value modes: only schemaless values depend on them */
    {"decimal.handling.mode=string", NULL, "", 0, 0, 0},
    {"value.converter.schemas.enable=false|decimal.handling.mode=string",
     "interval.handling.mode=string",
     "error  decimal.handling.mode=string: cdcsink decodes with precise, so "
     "schemaless values are mis-decoded; give cdcsink (check "
     "--decimal.handling.mode) and the connector the same value\n", 1, 0, 0},
    {"value.converter.schemas.enable=false|decimal.handling.mode=string",
     "decimal.handling.mode=string|interval.handling.mode=string", "", 0, 0,
     0},
    {"value.converter.schemas.enable=false|binary.handling.mode=BYTES",
     "interval.handling.mode=string", "", 0, 0, 0},
    {"value.converter.schemas.enable=false",
     "time.precision.mode=connect|interval.handling.mode=string",
     "error  time.precision.mode=adaptive (default): cdcsink decodes with "
     "connect, so schemaless values are mis-decoded; give cdcsink (check "
     "--time.precision.mode) and the connector the same value\n", 1, 0, 0},
    {"value.converter.schemas.enable=false|hstore.handling.mode=map", NULL,
     "error  interval.handling.mode=string: cdcsink decodes with numeric, so "
     "schemaless values are mis-decoded; give cdcsink (check "
     "--interval.handling.mode) and the connector the same value\n"
     "error  hstore.handling.mode=map: cdcsink decodes with json, so "
     "schemaless values are mis-decoded; give cdcsink (check "
     "--hstore.handling.mode) and the connector the same value\n", 2, 0, 0},
    /* another connector */
    {"connector.class=io.debezium.connector.mysql.MySqlConnector", NULL,
     "warn   connector.class=io.debezium.connector.mysql.MySqlConnector: these "
     "rules are for the Debezium PostgreSQL connector; check a connector of "
     "class " PG "\n", 0, 1, 0},
};

TEST(rules_one_change_at_a_time) {
    cdc_buf_t json = CDC_BUF_INIT, report = CDC_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const case_t *c = &cases[i];
        cdc_check_setting_t sink[4];
        char sinkbuf[256], *save = NULL, *e;
        size_t nsink = 0;
        cdc_check_counts_t n;
        cdc_err_t err;
        snprintf(sinkbuf, sizeof sinkbuf, "%s", c->sink ? c->sink : "");
        for (e = strtok_r(sinkbuf, "|", &save); e && nsink < 4;
             e = strtok_r(NULL, "|", &save)) {
            *strchr(e, '=') = '\0';
            sink[nsink].key = e;
            sink[nsink++].value = e + strlen(e) + 1;
        }
        config_json(&json, c->edits);
        cdc_buf_reset(&report);
        err = cdc_check_connector_config(json.data, sink, nsink, &report, &n,
                                         errbuf, sizeof errbuf);
        CHECK_CTX(err == CDC_OK, "[%s]: %s", c->edits, errbuf);
        CHECK_CTX(strcmp(report.data ? report.data : "", c->want) == 0,
                  "[%s]:\n got: %s\nwant: %s", c->edits,
                  report.data ? report.data : "", c->want);
        CHECK_CTX(n.errors == c->errors && n.warnings == c->warnings &&
                      n.infos == c->infos,
                  "[%s]: counts %d/%d/%d", c->edits, n.errors, n.warnings,
                  n.infos);
    }
    cdc_buf_free(&json);
    cdc_buf_free(&report);
}

/* A connector with nothing but its class: every default judged, in order. */
TEST(rules_all_defaults) {
    cdc_buf_t report = CDC_BUF_INIT;
    cdc_check_counts_t n;
    CHECK_INT(cdc_check_connector_config("{\"connector.class\":\"" PG "\"}",
                                         NULL, 0, &report, &n, errbuf,
                                         sizeof errbuf), CDC_OK);
    CHECK_STR(report.data,
              "warn   value.converter=" JC " (default): the worker's converter "
              "and its settings apply, unseen by check; set value.converter="
              JC " and its settings on the connector\n"
              "error  value.converter.replace.null.with.default=true (default): "
              "a NULL in the source is written as the column's DEFAULT; set it "
              "to false\n"
              "warn   key.converter=" JC " (default): the worker's converter "
              "and its settings apply, unseen by check; set key.converter=" JC
              " and its settings on the connector\n"
              "info   key.converter.replace.null.with.default=true (default): "
              "harmless while keys are primary keys (never NULL); set it to "
              "false to be safe\n"
              "warn   skipped.operations=t (default): truncates are not "
              "replicated; set it to none\n"
              "warn   interval.handling.mode=numeric (default): an interval "
              "arrives as microseconds with a month taken as 30.4375 days (1 "
              "mon is written as 30 days 10:30:00); set it to string\n"
              "warn   heartbeat.interval.ms=0 (default): the freshness "
              "watermark freezes while the source database is idle; set it to "
              "10000\n"
              "warn   provide.transaction.metadata=false (default): "
              "apply.consistency=transaction is unavailable; set it to true\n"
              "warn   signal.data.collection (not set): " RESYNC
              "PostgreSQL's incremental snapshot writes its watermarks into "
              "the signal table; " SIG_TABLE_FIX
              "warn   notification.enabled.channels (not set): cdcsink resync "
              "cannot see the incremental snapshot start, progress and "
              "complete (it follows the sink channel's topic); add sink to it "
              "and set notification.sink.topic.name\n"
              "info   datatype.propagate.source.type (not set): tables are "
              "created with generic types (numeric, text); set it to .+ to "
              "keep the source's column types\n");
    CHECK_INT(n.errors, 1);
    CHECK_INT(n.warnings, 8);
    CHECK_INT(n.infos, 2);
    cdc_buf_free(&report);
}

TEST(rules_json_values_and_bad_json) {
    cdc_buf_t report = CDC_BUF_INIT;
    cdc_check_counts_t n;
    /* numbers and booleans count as their text */
    CHECK_INT(cdc_check_connector_config(
                  "{\"connector.class\":\"" PG "\",\"key.converter\":\"" JC
                  "\",\"value.converter\":\"" JC "\",\"value.converter."
                  "replace.null.with.default\":false,\"key.converter.replace."
                  "null.with.default\":false,\"skipped.operations\":\"none\","
                  "\"heartbeat.interval.ms\":5000,\"provide.transaction."
                  "metadata\":true,\"signal.data.collection\":\"s.t\","
                  "\"notification.enabled.channels\":\"sink\","
                  "\"notification.sink.topic.name\":\"n\","
                  "\"column.propagate.source.type\":\".*\","
                  "\"interval.handling.mode\":\"string\"}",
                  NULL, 0, &report, &n, errbuf, sizeof errbuf), CDC_OK);
    CHECK_STR(report.data ? report.data : "", "");
    static const char *const bad[] = {"", "[1]", "{", "\"x\"", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cdc_err_t err = cdc_check_connector_config(bad[i], NULL, 0, &report,
                                                   &n, errbuf, sizeof errbuf);
        CHECK_CTX(err == CDC_ERR_JSON, "[%s]: %s", bad[i], cdc_err_name(err));
        CHECK_CTX(strstr(errbuf, "not a JSON object") != NULL, "%s", errbuf);
    }
    cdc_buf_free(&report);
}

static bool slurp(const char *path, cdc_buf_t *b) {
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cdc_buf_add(b, chunk, n);
    fclose(f);
    return b->data != NULL;
}

/* The configurations this project registers pass (no error). */
TEST(project_connectors_pass) {
    cdc_buf_t file = CDC_BUF_INIT, json = CDC_BUF_INIT, report = CDC_BUF_INIT;
    cdc_check_counts_t n;
    CHECK(slurp("docker/compose/shop-source.json", &file));
    CHECK_INT(cdc_check_connector_config(file.data, NULL, 0, &report, &n,
                                         errbuf, sizeof errbuf), CDC_OK);
    CHECK_CTX(n.errors == 0, "shop-source.json:\n%s", report.data);
    /* the stack's properties, placeholders filled, as JSON */
    cdc_buf_reset(&file);
    CHECK(slurp("docker/connect/postgres-source.properties", &file));
    cdc_buf_addc(&json, '{');
    for (char *save = NULL, *line = strtok_r(file.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (*line == '#' || !eq)
            continue;
        *eq = '\0';
        if (json.len > 1)
            cdc_buf_addc(&json, ',');
        json_str(&json, line);
        cdc_buf_addc(&json, ':');
        json_str(&json, strcmp(eq + 1, "@SCHEMAS@") ? eq + 1 : "true");
    }
    cdc_buf_addc(&json, '}');
    cdc_buf_reset(&report);
    CHECK_INT(cdc_check_connector_config(json.data, NULL, 0, &report, &n,
                                         errbuf, sizeof errbuf), CDC_OK);
    CHECK_CTX(n.errors == 0, "postgres-source.properties:\n%s", report.data);
    CHECK(strstr(json.data, "\"value.converter.replace.null.with.default\":"
                            "\"false\"") != NULL);
    cdc_buf_free(&file);
    cdc_buf_free(&json);
    cdc_buf_free(&report);
}

TEST(flags) {
    char w0[] = "cdcsink", w1[] = "--set", w2[] = "a=b", w3[] = "check",
         w4[] = "--connect-url", w5[] = "x", w6[] = "--connector";
    char *with[] = {w0, w1, w2, w3, w4, w5};
    char *without[] = {w0, w3, w6, w5};
    CHECK(cdc_check_connector_flag("--connect-url"));
    CHECK(cdc_check_connector_flag("--connector"));
    CHECK(cdc_check_connector_flag("--hstore.handling.mode"));
    CHECK(!cdc_check_connector_flag("--set"));
    CHECK(!cdc_check_connector_flag("--hstore.handling"));
    CHECK(cdc_check_connector_wanted(6, with));
    CHECK(!cdc_check_connector_wanted(4, without));
}
