/* cmd_decode.c - `cdcsink decode`; see cmd_decode.h. */
#include "consumer/cli/cmd_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "common/arena.h"
#include "consumer/cli/cli.h"
#include "consumer/decode/decoder.h"
#include "consumer/kafka.h"

static const char *const kinds[] = {"change", "tombstone", "heartbeat",
                                    "message", "txmeta"};

/* {"col": text|null, ...}; unchanged columns are listed in *unch */
static void values(cdc_buf_t *b, const cdc_rowdef_t *rd, const cdc_value_t *v,
                   cdc_buf_t *unch) {
    cdc_buf_addc(b, '{');
    int first = 1;
    for (uint32_t i = 0; rd && v && i < rd->ncols; i++) {
        if (v[i].state == CDC_V_ABSENT)
            continue;
        if (v[i].state == CDC_V_UNCHANGED && unch) {
            cdc_buf_adds(unch, unch->len > 1 ? "," : "");
            cdc_buf_add_json(unch, rd->cols[i].name);
            continue;
        }
        if (!first)
            cdc_buf_addc(b, ',');
        first = 0;
        cdc_buf_add_json(b, rd->cols[i].name);
        cdc_buf_addc(b, ':');
        if (v[i].state == CDC_V_SET)
            cdc_buf_add_json(b, v[i].text);
        else
            cdc_buf_adds(b, "null");
    }
    cdc_buf_addc(b, '}');
}

/* a transaction-topic record: its status and id; END adds the event
 * count, in total and per table (what transaction mode waits for) */
static void txmeta(cdc_buf_t *b, const cdc_event_t *ev) {
    cdc_buf_adds(b, ev->txn_end ? ",\"status\":\"END\"" :
                                  ",\"status\":\"BEGIN\"");
    cdc_buf_adds(b, ",\"id\":");
    cdc_buf_add_json(b, ev->txn_id ? ev->txn_id : "");
    if (!ev->txn_end)
        return;
    cdc_buf_printf(b, ",\"event_count\":%lld,\"data_collections\":[",
                   (long long)ev->txn_event_count);
    for (size_t i = 0; i < ev->txn_ncollections; i++) {
        cdc_buf_adds(b, i ? ",{\"data_collection\":" :
                            "{\"data_collection\":");
        cdc_buf_add_json(b, ev->txn_collections[i].name);
        cdc_buf_printf(b, ",\"event_count\":%lld}",
                       (long long)ev->txn_collections[i].event_count);
    }
    cdc_buf_addc(b, ']');
}

static int print_one(cdc_decoder_t *d, cdc_arena_t *a, const cdc_record_t *r) {
    cdc_event_t ev;
    cdc_buf_t b = CDC_BUF_INIT, unch = CDC_BUF_INIT;
    cdc_err_t err = cdc_decoder_decode(d, r, a, &ev);
    cdc_buf_adds(&b, "{\"topic\":");
    cdc_buf_add_json(&b, r->topic ? r->topic : "");
    cdc_buf_printf(&b, ",\"partition\":%d,\"offset\":%lld,\"kind\":",
                   (int)r->partition, (long long)r->offset);
    if (err) {
        cdc_buf_adds(&b, "\"error\",\"error_code\":");
        cdc_buf_add_json(&b, cdc_err_name(err));
        cdc_buf_adds(&b, ",\"error\":");
        cdc_buf_add_json(&b, cdc_decoder_errstr(d));
    } else {
        cdc_buf_add_json(&b, kinds[ev.kind]);
    }
    if (!err && ev.kind == CDC_EV_TXMETA)
        txmeta(&b, &ev);
    if (!err && ev.kind == CDC_EV_CHANGE) {
        cdc_buf_printf(&b, ",\"op\":\"%c\",\"table\":", ev.op);
        cdc_buf_t t = CDC_BUF_INIT;
        cdc_buf_printf(&t, "%s.%s", ev.schema, ev.table);
        cdc_buf_add_json(&b, t.data ? t.data : "");
        cdc_buf_free(&t);
        cdc_buf_adds(&b, ",\"position\":");
        if (ev.pos.kind == CDC_POS_NONE) {
            cdc_buf_adds(&b, "null");
        } else {
            cdc_buf_addc(&b, '[');
            for (int i = 0; i < ev.pos.nparts; i++)
                cdc_buf_printf(&b, "%s\"%llu\"", i ? "," : "",
                               (unsigned long long)ev.pos.part[i]);
            cdc_buf_addc(&b, ']');
        }
        cdc_buf_printf(&b, ",\"snapshot\":%s,\"key\":",
                       ev.snapshot ? "true" : "false");
        values(&b, ev.keydef, ev.key, NULL);
        cdc_buf_addc(&unch, '[');
        if (ev.after || ev.before) {
            cdc_buf_adds(&b, ev.after ? ",\"after\":" : ",\"before\":");
            values(&b, ev.rowdef, ev.after ? ev.after : ev.before, &unch);
        }
        cdc_buf_addc(&unch, ']');
        cdc_buf_adds(&b, ",\"unchanged\":");
        cdc_buf_add(&b, unch.data, unch.len);
        if (ev.old_key) {
            cdc_buf_adds(&b, ",\"old_key\":");
            values(&b, ev.keydef, ev.old_key, NULL);
        }
    }
    cdc_buf_adds(&b, "}\n");
    if (!b.oom)
        fwrite(b.data, 1, b.len, stdout);
    cdc_buf_free(&b);
    cdc_buf_free(&unch);
    cdc_arena_reset(a);
    return err ? 1 : 0;
}

static const char *tree_str(yajl_val root, const char *key) {
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_any);
    return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int from_lines(FILE *in, cdc_decoder_t *d, cdc_arena_t *a) {
    char *line = NULL, err[256];
    size_t cap = 0;
    int bad = 0;
    while (getline(&line, &cap, in) > 0) {
        yajl_val root = yajl_tree_parse(line, err, sizeof err);
        const char *pp[] = {"partition", NULL}, *po[] = {"offset", NULL},
                   *ph[] = {"headers", NULL};
        cdc_record_t r;
        if (!root) {
            fprintf(stderr, "cdcsink decode: not a kcat -J line: %s\n", err);
            bad = 1;
            continue;
        }
        memset(&r, 0, sizeof r);
        yajl_val v;
        r.topic = tree_str(root, "topic");
        if ((v = yajl_tree_get(root, pp, yajl_t_number)))
            r.partition = (int32_t)YAJL_GET_INTEGER(v);
        if ((v = yajl_tree_get(root, po, yajl_t_number)))
            r.offset = YAJL_GET_INTEGER(v);
        r.key = tree_str(root, "key");
        r.key_len = r.key ? strlen(r.key) : 0;
        r.value = tree_str(root, "payload");
        r.value_len = r.value ? strlen(r.value) : 0;
        if ((v = yajl_tree_get(root, ph, yajl_t_array))) {
            /* as many headers as the record has (the arena is reset after
             * each record) */
            cdc_header_t *hdr = cdc_arena_alloc(a, (v->u.array.len / 2 + 1) *
                                                       sizeof *hdr);
            if (!hdr) {
                fprintf(stderr, "cdcsink decode: out of memory\n");
                yajl_tree_free(root);
                bad = 2;
                break;
            }
            for (size_t i = 0; i + 1 < v->u.array.len; i += 2) {
                const char *n = YAJL_GET_STRING(v->u.array.values[i]);
                const char *s = YAJL_GET_STRING(v->u.array.values[i + 1]);
                if (!n)
                    continue;
                hdr[r.nheaders].name = n;
                hdr[r.nheaders].value = s;
                hdr[r.nheaders].value_len = s ? strlen(s) : 0;
                r.nheaders++;
            }
            r.headers = hdr;
        }
        bad |= print_one(d, a, &r);
        yajl_tree_free(root);
    }
    free(line);
    return bad;
}

/* No record for this long before the end of the range: give up (the
 * consumer's own errors are in the log). */
#define DECODE_STALL_MS 30000

/* Reads every partition of topic from from_offset (or the beginning) to the
 * high watermark seen at start, through consumer/kafka.h like replay (an
 * assigned range, no group joined, nothing committed), so every kafka.*
 * setting (SASL, TLS) applies. */
static int from_topic(const cdc_conf_t *conf, const char *topic,
                      int64_t from, long limit, cdc_decoder_t *d,
                      cdc_arena_t *a) {
    char errstr[1024];
    cdc_kafka_callbacks_t nocb = {NULL, NULL, NULL};
    cdc_kafka_range_t range = {.topic = topic, .partition = -1,
                               .from_offset = from >= 0 ? from : 0,
                               .from_time_ms = -1, .to_offset = -1};
    cdc_kafka_t *k = cdc_cli_kafka_new(conf, CDC_CLI_KAFKA_DECODE, nocb,
                                       errstr, sizeof errstr);
    cdc_err_t err;
    long printed = 0;
    int bad = 0, idle_ms = 0;

    if (!k)
        return cdc_cli_fail(CDC_ERR_CONFIG, "decode: kafka", NULL, errstr);
    if ((err = cdc_kafka_assign_range(k, &range, errstr, sizeof errstr))) {
        cdc_kafka_close(k);
        cdc_cli_fail(err, "decode", NULL, errstr);
        return 2;
    }
    while (!cdc_kafka_range_done(k) && (limit <= 0 || printed < limit)) {
        cdc_record_t r;
        cdc_kafka_msg_t *m;
        if (cdc_kafka_poll(k, 500, &r, &m, &err) != 1) {
            if ((idle_ms += 500) < DECODE_STALL_MS)
                continue;
            cdc_cli_fail(err ? err : CDC_ERR_TIMEOUT, "decode", NULL,
                         "no record for 30 s before the end of the topic");
            bad = 2;
            break;
        }
        idle_ms = 0;
        bad |= print_one(d, a, &r);
        printed++;
        cdc_kafka_msg_free(m);
    }
    cdc_kafka_close(k);
    return bad;
}

int cdc_decode_cmd_main(int argc, char **argv, const cdc_conf_t *conf) {
    const char *topic = NULL, *file = NULL;
    int64_t from = -1;
    long limit = 0;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            topic = argv[++i];
        else if (!strcmp(argv[i], "--from-offset") && i + 1 < argc)
            from = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = atol(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc)
            i++; /* applied by main */
        else if (argv[i][0] != '-' || !strcmp(argv[i], "-"))
            file = argv[i];
        else {
            fprintf(stderr, "usage: cdcsink " CDC_CLI_DECODE_USAGE "\n");
            return 2;
        }
    }
    cdc_decoder_t *d = cdc_cli_decoder_new(conf);
    cdc_arena_t *a = cdc_arena_new(0);
    if (!d || !a) {
        cdc_decoder_free(d);
        cdc_arena_free(a);
        return 2;
    }
    if (topic) {
        rc = from_topic(conf, topic, from, limit, d, a);
    } else {
        FILE *in = (!file || !strcmp(file, "-")) ? stdin : fopen(file, "r");
        if (!in) {
            fprintf(stderr, "cdcsink decode: cannot read \"%s\"\n", file);
            rc = 2;
        } else {
            rc = from_lines(in, d, a);
            if (in != stdin)
                fclose(in);
        }
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
    return rc;
}

int cdc_cmd_decode(cdc_cli_t *cli) {
    return cdc_decode_cmd_main(cli->argc, cli->argv, cli->conf);
}
