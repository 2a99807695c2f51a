/* source.c - the source and transaction blocks, the position of DESIGN.md
 * "Ordering", the event kind, and the assembly of cdc_event_t from what the
 * documents yielded (decoder.c parses the old-key header; old_key here only
 * places its columns). */
#include "consumer/decode/decoder_int.h"
#include "common/codec.h"

#include <string.h>

static const char *adup(cdc_decoder_t *d, const dec_tok_t *t) {
    return cdc_arena_strndup(d->arena, t->s, t->len);
}

static int num(const dec_tok_t *t, int64_t *v, bool *has) {
    if (t->kind == DEC_TOK_NUM &&
        cdc_codec_parse_i64(t->s, t->len, v) == 0)
        *has = true;
    return 1;
}

#define IS(lit) (n == sizeof lit - 1 && !memcmp(s, lit, sizeof lit - 1))

uint8_t cdc_dec_source_member(const char *s, size_t n) {
    if (!n)
        return SRC_OTHER;
    switch (s[0]) {
    case 'c': return IS("connector") ? SRC_CONNECTOR : SRC_OTHER;
    case 'n': return IS("name") ? SRC_NAME : SRC_OTHER;
    case 'd': return IS("db") ? SRC_DB : SRC_OTHER;
    case 's':
        return IS("schema") ? SRC_SCHEMA
             : IS("snapshot") ? SRC_SNAPSHOT : IS("sequence") ? SRC_SEQUENCE
                                                              : SRC_OTHER;
    case 't':
        return IS("table") ? SRC_TABLE : IS("ts_us") ? SRC_TS_US
             : IS("ts_ms") ? SRC_TS_MS : IS("txId") ? SRC_TXID : SRC_OTHER;
    case 'f': return IS("file") ? SRC_FILE : SRC_OTHER;
    case 'l': return IS("lsn") ? SRC_LSN : SRC_OTHER;
    case 'p': return IS("pos") ? SRC_POS : SRC_OTHER;
    case 'r': return IS("row") ? SRC_ROW : SRC_OTHER;
    default: return SRC_OTHER;
    }
}

uint8_t cdc_dec_txn_member(const char *s, size_t n) {
    return IS("id") ? TXN_ID : IS("total_order") ? TXN_TOTAL
         : IS("data_collection_order") ? TXN_DC : SRC_OTHER;
}

#undef IS

int cdc_dec_source_scalar(cdc_decoder_t *d, uint8_t k, const dec_tok_t *t) {
    dec_result_t *r = &d->res;
    const char **dst;
    switch (k) {
    case SRC_TS_US: return num(t, &r->ts_us, &r->has_ts_us);
    case SRC_TS_MS: return num(t, &r->ts_ms, &r->has_ts_ms_src);
    case SRC_TXID: return num(t, &r->txid, &r->has_txid);
    case SRC_LSN: return num(t, &r->lsn, &r->has_lsn);
    case SRC_POS: return num(t, &r->pos, &r->has_pos);
    case SRC_ROW: return num(t, &r->row, &r->has_row);
    case SRC_CONNECTOR: dst = &r->connector; break;
    case SRC_NAME: dst = &r->name; break;
    case SRC_DB: dst = &r->db; break;
    case SRC_SCHEMA: dst = &r->schema; break;
    case SRC_TABLE: dst = &r->table; break;
    case SRC_SNAPSHOT: dst = &r->snapshot; break;
    case SRC_SEQUENCE: dst = &r->sequence; break;
    case SRC_FILE: dst = &r->file; break;
    default: return 1;
    }
    if (t->kind == DEC_TOK_STR) {
        if (!(*dst = adup(d, t)))
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    } else if (t->kind == DEC_TOK_BOOL && k == SRC_SNAPSHOT) {
        r->snapshot_is_bool = true; /* very old connectors */
        r->snapshot_bool = t->b;
    }
    return 1;
}

int cdc_dec_txn_scalar(cdc_decoder_t *d, uint8_t k, const dec_tok_t *t) {
    dec_result_t *r = &d->res;
    bool has = false;
    if (k == TXN_ID && t->kind == DEC_TOK_STR) {
        if (!(r->txn_id = adup(d, t)))
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    } else if (k == TXN_TOTAL) {
        num(t, &r->txn_total, &has);
    } else if (k == TXN_DC) {
        num(t, &r->txn_dc, &has);
    }
    return 1;
}

/* ---- transaction records (BEGIN / END on <prefix>.transaction) ---- */

int cdc_dec_txm_scalar(cdc_decoder_t *d, bool count, const dec_tok_t *t) {
    dec_result_t *r = &d->res;
    if (count)
        return num(t, &r->txm_count, &r->has_txm_count);
    if (t->kind == DEC_TOK_STR && !(r->txm_id = adup(d, t)))
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    return 1;
}

/* a new {data_collection, event_count} at the end of the list */
int cdc_dec_txm_item_begin(cdc_decoder_t *d) {
    dec_result_t *r = &d->res;
    if (r->txm_ncolls == r->txm_cap) {
        size_t cap = r->txm_cap ? r->txm_cap * 2 : 8;
        cdc_txn_collection_t *v =
            cdc_arena_alloc(d->arena, cap * sizeof *v);
        if (!v)
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        if (r->txm_ncolls)
            memcpy(v, r->txm_colls, r->txm_ncolls * sizeof *v);
        r->txm_colls = v;
        r->txm_cap = cap;
    }
    r->txm_colls[r->txm_ncolls++] = (cdc_txn_collection_t){"", -1};
    return 1;
}

uint8_t cdc_dec_txm_item_member(const char *s, size_t n) {
    if (n == 15 && !memcmp(s, "data_collection", 15))
        return 1;
    return n == 11 && !memcmp(s, "event_count", 11) ? 2 : 0;
}

int cdc_dec_txm_item_scalar(cdc_decoder_t *d, uint8_t k, const dec_tok_t *t) {
    dec_result_t *r = &d->res;
    cdc_txn_collection_t *c = &r->txm_colls[r->txm_ncolls - 1];
    bool has = false;
    if (k == 2)
        return num(t, &c->event_count, &has);
    if (k == 1 && t->kind == DEC_TOK_STR && !(c->name = adup(d, t)))
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    return 1;
}

/* the xid of PostgreSQL's "<xid>:<lsn>" id; -1 for any other form */
static int64_t txm_xid(const char *id) {
    int64_t x = 0;
    const char *p = id;
    for (; *p >= '0' && *p <= '9' && x < INT64_MAX / 10 - 9; p++)
        x = x * 10 + (*p - '0');
    if (p == id || *p != ':' || !p[1])
        return -1;
    for (const char *q = p + 1; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    return x;
}

static void txm_fill(const dec_result_t *r, cdc_event_t *ev) {
    ev->kind = CDC_EV_TXMETA;
    ev->txn_id = r->txm_id ? r->txm_id : "";
    ev->tx_id = txm_xid(ev->txn_id);
    ev->txn_end = r->status == 2;
    ev->txn_event_count = ev->txn_end && r->has_txm_count ? r->txm_count : -1;
    ev->txn_collections = r->txm_colls;
    ev->txn_ncollections = r->txm_ncolls;
}

/* one element of the sequence array: "digits" or null; -1 on bad syntax */
static int seq_elem(const char **p, const char *e, uint64_t *v, bool *null) {
    const char *s = *p;
    while (s < e && *s == ' ')
        s++;
    if (e - s >= 4 && !memcmp(s, "null", 4)) {
        *null = true;
        *p = s + 4;
        return 0;
    }
    if (s >= e || *s != '"')
        return -1;
    s++;
    uint64_t x = 0;
    const char *start = s;
    for (; s < e && *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (s == start || s >= e || *s != '"')
        return -1;
    *null = false;
    *v = x;
    *p = s + 1;
    return 0;
}

/* "[\"<lsn_commit>\",\"<lsn>\"]" (a JSON array inside a JSON string) */
static int parse_sequence(const char *s, uint64_t v[2], bool null[2]) {
    const char *e = s + strlen(s), *p = s;
    while (p < e && *p == ' ')
        p++;
    if (p >= e || *p++ != '[')
        return -1;
    for (int i = 0; i < 2; i++) {
        if (seq_elem(&p, e, &v[i], &null[i]))
            return -1;
        while (p < e && *p == ' ')
            p++;
        if (p >= e || *p++ != (i ? ']' : ','))
            return -1;
    }
    while (p < e && *p == ' ')
        p++;
    return p == e ? 0 : -1;
}

static int position(cdc_decoder_t *d, cdc_event_t *ev) {
    dec_result_t *r = &d->res;
    if (r->connector && !strcmp(r->connector, "mysql")) {
        if (!r->file || !r->has_pos)
            return 1;
        const char *dot = strrchr(r->file, '.');
        uint64_t idx = 0;
        for (const char *c = dot ? dot + 1 : r->file; *c; c++) {
            if (*c < '0' || *c > '9' || idx > UINT64_MAX / 10 - 1)
                return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "value: source.file: "
                                    "no binlog index in \"%.60s\"", r->file);
            idx = idx * 10 + (uint64_t)(*c - '0');
        }
        ev->pos.kind = CDC_POS_MYSQL;
        ev->pos.nparts = 3;
        ev->pos.part[0] = idx;
        ev->pos.part[1] = (uint64_t)r->pos;
        ev->pos.part[2] = r->has_row ? (uint64_t)r->row : 0;
        return 1;
    }
    uint64_t v[2] = {0, 0};
    bool null[2] = {true, true};
    if (r->sequence && parse_sequence(r->sequence, v, null))
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "value: source.sequence: "
                            "not a [\"lsn_commit\",\"lsn\"] pair: %.80s",
                            r->sequence);
    if (null[1] && r->has_lsn) {
        v[1] = (uint64_t)r->lsn;
        null[1] = false;
    }
    if (null[1] || (r->connector && strcmp(r->connector, "postgresql") &&
                    !r->sequence))
        return 1; /* incremental snapshot or another connector: Kafka order */
    ev->pos.kind = CDC_POS_PG;
    ev->pos.nparts = 2;
    ev->pos.part[0] = null[0] ? v[1] : v[0];
    ev->pos.part[1] = v[1];
    return 1;
}

/* values of `from` (rowdef fr) placed in rowdef to's order; returns NULL on
 * a missing/extra column when strict (old key), else drops/ABSENTs them */
static cdc_value_t *remap(cdc_decoder_t *d, const cdc_rowdef_t *fr,
                          const cdc_value_t *from, const cdc_rowdef_t *to,
                          bool strict) {
    cdc_value_t *v = cdc_arena_alloc(d->arena, (to->ncols ? to->ncols : 1) * sizeof *v);
    if (!v) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < to->ncols; i++)
        v[i] = (cdc_value_t){NULL, 0, CDC_V_ABSENT, 0};
    for (uint32_t i = 0; i < fr->ncols; i++) {
        uint32_t j = i < to->ncols && !strcmp(fr->cols[i].name, to->cols[i].name) ? i : 0;
        if (j != i || i >= to->ncols)
            for (j = 0; j < to->ncols && strcmp(fr->cols[i].name, to->cols[j].name); j++)
                ;
        if (j < to->ncols)
            v[j] = from[i];
        else if (strict) {
            cdc_dec_fail(d, CDC_ERR_KEY, "header __debezium.oldkey: column "
                         "\"%.60s\" is not in the key", fr->cols[i].name);
            return NULL;
        }
    }
    for (uint32_t i = 0; strict && i < to->ncols; i++)
        if (v[i].state == CDC_V_ABSENT || v[i].state == CDC_V_UNCHANGED) {
            cdc_dec_fail(d, CDC_ERR_KEY, "header __debezium.oldkey: key column "
                         "\"%.60s\" is missing", to->cols[i].name);
            return NULL;
        }
    return v;
}

int cdc_dec_event_old_key(cdc_decoder_t *d, cdc_event_t *ev) {
    dec_row_t *r = &d->rows[ROLE_OLDKEY];
    if (!r->present || r->is_null)
        return 1; /* a null old key: no key change to apply */
    ev->old_key = remap(d, r->rowdef, r->vals, ev->keydef, true);
    return ev->old_key != NULL;
}

static bool is_snapshot_value(const char *s) {
    static const char *const v[] = {"true", "first", "first_in_data_collection",
                                    "last_in_data_collection", "last"};
    if (s && !strcmp(s, "false")) /* streaming: one compare, not five */
        return false;
    for (size_t i = 0; s && i < sizeof v / sizeof v[0]; i++)
        if (!strcmp(s, v[i]))
            return true;
    return false;
}

static cdc_err_t fill_common(cdc_decoder_t *d, const cdc_record_t *rec,
                             cdc_event_t *ev) {
    dec_result_t *r = &d->res;
    memset(ev, 0, sizeof *ev);
    ev->topic = cdc_arena_strdup(d->arena, rec->topic ? rec->topic : "");
    ev->partition = rec->partition;
    ev->offset = rec->offset;
    ev->tx_id = r->has_txid ? r->txid : -1;
    ev->txn_id = r->txn_id ? r->txn_id : "";
    ev->txn_total_order = r->txn_id ? r->txn_total : -1;
    ev->txn_collection_order = r->txn_id ? r->txn_dc : -1;
    ev->connector = r->connector ? r->connector : "";
    ev->source_name = r->name ? r->name : "";
    ev->db = r->db ? r->db : "";
    ev->schema = r->schema ? r->schema : "";
    ev->table = r->table ? r->table : "";
    ev->snapshot = r->snapshot_is_bool ? r->snapshot_bool
                                       : is_snapshot_value(r->snapshot);
    ev->incremental = r->snapshot && !strcmp(r->snapshot, "incremental");
    if (r->has_ts_us)
        ev->source_ts_us = r->ts_us;
    else if (r->has_ts_ms_src && r->ts_ms < INT64_MAX / 1000 &&
             r->ts_ms > INT64_MIN / 1000)
        ev->source_ts_us = r->ts_ms * 1000;
    if (!ev->topic) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return d->err;
    }
    return CDC_OK;
}

cdc_err_t cdc_dec_event_build(cdc_decoder_t *d, const cdc_record_t *rec,
                              cdc_event_t *ev) {
    dec_result_t *r = &d->res;
    dec_row_t *b = &d->rows[ROLE_BEFORE], *a = &d->rows[ROLE_AFTER];
    d->doc = DOC_VALUE;
    if (fill_common(d, rec, ev))
        return d->err;
    if (r->payload_null) {
        ev->kind = CDC_EV_TOMBSTONE;
        return CDC_OK;
    }
    if (r->has_op) {
        if (r->op_bad || !r->op) {
            cdc_dec_fail(d, CDC_ERR_OP, "value: op: unknown op \"%s\"",
                         r->opbuf);
            return d->err;
        }
        if (r->op == 'm') {
            ev->kind = CDC_EV_MESSAGE;
            return CDC_OK;
        }
    } else if (r->status) {
        txm_fill(r, ev);
        return CDC_OK;
    } else if ((r->env && r->env->root->name &&
                !strcmp(r->env->root->name, "io.debezium.connector.common.Heartbeat")) ||
               (r->has_ts_ms && !r->has_source && !r->has_other && !b->present &&
                !a->present)) {
        ev->kind = CDC_EV_HEARTBEAT;
        /* Debezium's clock when it sent the heartbeat (the freshness
         * watermark's time on an idle source) */
        if (r->has_env_ts_ms && r->env_ts_ms < INT64_MAX / 1000 &&
            r->env_ts_ms > 0)
            ev->source_ts_us = r->env_ts_ms * 1000;
        return CDC_OK;
    } else {
        cdc_dec_fail(d, CDC_ERR_OP, "value: missing op (not a change, heartbeat "
                     "or transaction record)");
        return d->err;
    }
    ev->kind = CDC_EV_CHANGE;
    ev->op = r->op;
    if (!r->has_source) {
        cdc_dec_fail(d, CDC_ERR_ENVELOPE, "value: source: missing for op '%c'",
                     r->op);
        return d->err;
    }
    if (!ev->table[0]) {
        cdc_dec_fail(d, CDC_ERR_ENVELOPE,
                     "value: source.table: missing for op '%c'", r->op);
        return d->err;
    }
    if (!position(d, ev))
        return d->err;
    bool has_a = a->present && !a->is_null, has_b = b->present && !b->is_null;
    if (strchr("cur", r->op) && !has_a) {
        cdc_dec_fail(d, CDC_ERR_ENVELOPE, "value: after: missing for op '%c'",
                     r->op);
        return d->err;
    }
    if (rec->key && d->rows[ROLE_KEY].present && !d->rows[ROLE_KEY].is_null) {
        ev->keydef = d->keydef;
        ev->key = d->rows[ROLE_KEY].vals;
    }
    if (r->op == 'd' && !has_b && !ev->key) {
        cdc_dec_fail(d, CDC_ERR_ENVELOPE, "value: before: missing for op 'd' "
                     "of a record without a key");
        return d->err;
    }
    if (r->op != 't') {
        ev->rowdef = has_a ? a->rowdef : has_b ? b->rowdef : NULL;
        if (has_a)
            ev->after = a->vals;
        if (has_b)
            ev->before = b->vals;
        if (has_a && has_b && b->rowdef != a->rowdef &&
            !(ev->before = remap(d, b->rowdef, b->vals, a->rowdef, false)))
            return d->err;
    }
    return CDC_OK;
}
