/* test_decode_decoder.c - the decoder against every captured record (both
 * converter modes), checked field by field against tests/unit/data/captures.golden,
 * whole, in every split into two chunks and in one-byte chunks, with a
 * counting allocator that proves nothing leaks; plus the fast path and the
 * schema caches. Type edge values and errors: test_decode_types.c.
 * Run from the repo root (tests/run.sh does). CDC_GOLDEN_WRITE=1
 * rewrites the golden file (review the diff before committing it). */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "consumer/cli/config.h"
#include "consumer/cli/cmd_decode.h"
#include "consumer/decode/decoder.h"

/* the decoder limits cdcsink's settings default to */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

#define CAPDIR "tests/unit/captures"
#define GOLDEN "tests/unit/data/captures.golden"

/* ---- counting allocator ---- */

typedef struct {
    long allocs, frees;
} count_t;

static void *c_malloc(void *ctx, size_t n) {
    ((count_t *)ctx)->allocs++;
    return malloc(n);
}
static void *c_realloc(void *ctx, void *p, size_t n) {
    if (!p)
        ((count_t *)ctx)->allocs++;
    return realloc(p, n);
}
static void c_free(void *ctx, void *p) {
    if (p)
        ((count_t *)ctx)->frees++;
    free(p);
}

/* ---- captures ---- */

typedef struct {
    char file[64];
    cdc_record_t rec;
    char *topic, *key, *value;
    size_t klen, vlen;
    cdc_header_t hdr[16];
    char *hs[32];
} cap_t;

static cap_t caps[128];
static int ncaps;

static const char *const files[] = {
    "dbserver1.public.customers.jsonl", "dbserver1.public.order_lines.jsonl",
    "dbserver1.public.audit_full.jsonl", "dbserver1.public.Mixed_Case.jsonl",
    "dbserver1.public.scratch.jsonl", "dbserver1.message.jsonl",
    "__debezium-heartbeat.dbserver1.jsonl", "dbs2.public.customers.jsonl",
    "dbs2.public.order_lines.jsonl", "dbs2.public.audit_full.jsonl",
    "dbs2.public.Mixed_Case.jsonl", "dbs2.public.scratch.jsonl",
    "dbs2.message.jsonl", "dbs2.transaction.jsonl",
    "__debezium-heartbeat.dbs2.jsonl"};

static char *str_of(yajl_val v, size_t *len) {
    if (!v || !YAJL_IS_STRING(v))
        return NULL;
    *len = strlen(v->u.string);
    return strdup(v->u.string);
}

static void load_all(void) {
    static char line[1 << 17];
    if (ncaps)
        return;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256], err[128];
        snprintf(path, sizeof path, CAPDIR "/%s", files[f]);
        FILE *in = fopen(path, "r");
        if (!in) {
            th_fail(__FILE__, __LINE__, "cannot read %s (run from the repo root)", path);
            continue;
        }
        while (ncaps < 128 && fgets(line, sizeof line, in)) {
            yajl_val root = yajl_tree_parse(line, err, sizeof err);
            const char *pt[] = {"topic", NULL}, *pk[] = {"key", NULL},
                       *pv[] = {"payload", NULL}, *po[] = {"offset", NULL},
                       *pp[] = {"partition", NULL}, *ph[] = {"headers", NULL};
            cap_t *c = &caps[ncaps++];
            size_t tl;
            snprintf(c->file, sizeof c->file, "%s", files[f]);
            c->topic = str_of(yajl_tree_get(root, pt, yajl_t_any), &tl);
            c->key = str_of(yajl_tree_get(root, pk, yajl_t_any), &c->klen);
            c->value = str_of(yajl_tree_get(root, pv, yajl_t_any), &c->vlen);
            c->rec.topic = c->topic;
            c->rec.partition = (int32_t)YAJL_GET_INTEGER(yajl_tree_get(root, pp, yajl_t_number));
            c->rec.offset = YAJL_GET_INTEGER(yajl_tree_get(root, po, yajl_t_number));
            c->rec.timestamp_ms = -1;
            c->rec.key = c->key;
            c->rec.key_len = c->klen;
            c->rec.value = c->value;
            c->rec.value_len = c->vlen;
            yajl_val h = yajl_tree_get(root, ph, yajl_t_array);
            size_t nh = 0;
            for (size_t i = 0; h && i + 1 < h->u.array.len && nh < 16; i += 2) {
                size_t l;
                c->hs[2 * nh] = str_of(h->u.array.values[i], &l);
                c->hs[2 * nh + 1] = str_of(h->u.array.values[i + 1], &l);
                c->hdr[nh].name = c->hs[2 * nh];
                c->hdr[nh].value = c->hs[2 * nh + 1];
                c->hdr[nh].value_len = c->hs[2 * nh + 1] ? l : 0;
                nh++;
            }
            c->rec.headers = c->hdr;
            c->rec.nheaders = nh;
            yajl_tree_free(root);
        }
        fclose(in);
    }
}

/* ---- the decoded form, one field per line ---- */

static void esc(FILE *o, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') fputs("\\n", o);
        else if (c == '\t') fputs("\\t", o);
        else if (c == '\\') fputs("\\\\", o);
        else if (c < 0x20) fprintf(o, "\\x%02x", c);
        else fputc(c, o);
    }
}

static const char *const tnames[] = {
    "unknown", "bool", "int2", "int4", "int8", "float4", "float8", "numeric",
    "text", "bytea", "date", "time", "timetz", "timestamp", "timestamptz",
    "interval", "jsonb", "uuid", "xml", "bit", "point"};

static void dump_vals(FILE *o, const char *role, const cdc_rowdef_t *rd,
                      const cdc_value_t *v, bool types) {
    for (uint32_t i = 0; rd && v && i < rd->ncols; i++) {
        const cdc_column_t *c = &rd->cols[i];
        fprintf(o, "  %s.", role);
        esc(o, c->name);
        if (types && rd->typed)
            fprintf(o, " [%s%s %d,%d]", tnames[c->type], c->array ? "[]" : "",
                    c->precision, c->scale);
        switch (v[i].state) {
        case CDC_V_SET:
            fputs(" = ", o);
            esc(o, v[i].text);
            if (strlen(v[i].text) != v[i].len)
                fputs(" (BAD LENGTH)", o);
            break;
        case CDC_V_NULL: fputs(" NULL", o); break;
        case CDC_V_UNCHANGED: fputs(" UNCHANGED", o); break;
        default: fputs(" ABSENT", o); break;
        }
        fputc('\n', o);
    }
}

static const char *const knames[] = {"change", "tombstone", "heartbeat",
                                     "message", "txmeta"};

static void dump(FILE *o, const cap_t *c, cdc_err_t err, const char *why,
                 const cdc_event_t *ev) {
    fprintf(o, "%s@%lld\n", c->file, (long long)c->rec.offset);
    if (err) {
        fprintf(o, "  error %s: %s\n", cdc_err_name(err), why);
        return;
    }
    fprintf(o, "  kind %s\n", knames[ev->kind]);
    if (ev->kind == CDC_EV_TXMETA) {
        fprintf(o, "  txmeta %s id %s xid %lld count %lld", ev->txn_end ?
                "END" : "BEGIN", ev->txn_id, (long long)ev->tx_id,
                (long long)ev->txn_event_count);
        for (size_t i = 0; i < ev->txn_ncollections; i++)
            fprintf(o, " %s=%lld", ev->txn_collections[i].name,
                    (long long)ev->txn_collections[i].event_count);
        fprintf(o, "\n");
    }
    if (ev->kind != CDC_EV_CHANGE)
        return;
    fprintf(o, "  op %c\n  table %s.%s\n  source %s/%s/%s\n", ev->op, ev->schema,
            ev->table, ev->connector, ev->source_name, ev->db);
    fprintf(o, "  position %d", ev->pos.kind);
    for (int i = 0; i < ev->pos.nparts; i++)
        fprintf(o, " %llu", (unsigned long long)ev->pos.part[i]);
    fprintf(o, "\n  snapshot %d incremental %d txid %lld ts_us %lld\n",
            ev->snapshot, ev->incremental, (long long)ev->tx_id,
            (long long)ev->source_ts_us);
    if (ev->txn_id[0])
        fprintf(o, "  txn %s %lld %lld\n", ev->txn_id,
                (long long)ev->txn_total_order, (long long)ev->txn_collection_order);
    if (ev->keydef)
        fprintf(o, "  keydef typed %d ncols %u\n", ev->keydef->typed,
                ev->keydef->ncols);
    dump_vals(o, "key", ev->keydef, ev->key, true);
    if (ev->rowdef)
        fprintf(o, "  rowdef typed %d ncols %u\n", ev->rowdef->typed,
                ev->rowdef->ncols);
    dump_vals(o, "after", ev->rowdef, ev->after, true);
    dump_vals(o, "before", ev->rowdef, ev->before, false);
    dump_vals(o, "old_key", ev->keydef, ev->old_key, false);
}

/* decodes capture i in chunks (0 = whole via cdc_decoder_decode; n = pieces of
 * n bytes; split > 0 = two pieces at split) and returns the dump */
static char *decode_dump(cdc_decoder_t *d, cdc_arena_t *a, const cap_t *c,
                         size_t chunk, size_t split) {
    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    cdc_event_t ev;
    cdc_err_t err;
    if (!chunk && !split) {
        err = cdc_decoder_decode(d, &c->rec, a, &ev);
    } else {
        err = cdc_decoder_begin(d, &c->rec, a);
        const char *v = c->value;
        size_t n = c->vlen;
        if (split) {
            if (!err)
                err = cdc_decoder_feed(d, v, split);
            if (!err)
                err = cdc_decoder_feed(d, v + split, n - split);
        } else {
            for (size_t i = 0; !err && i < n; i += chunk)
                err = cdc_decoder_feed(d, v + i, n - i < chunk ? n - i : chunk);
        }
        cdc_err_t e2 = cdc_decoder_end(d, &ev);
        if (!err)
            err = e2;
    }
    dump(o, c, err, cdc_decoder_errstr(d), &ev);
    fclose(o);
    cdc_arena_reset(a);
    return out;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *s = NULL;
    size_t n = 0;
    if (!f)
        return NULL;
    FILE *o = open_memstream(&s, &n);
    int ch;
    while ((ch = fgetc(f)) != EOF)
        fputc(ch, o);
    fclose(o);
    fclose(f);
    return s;
}

/* compares dumps line by line and names the first differing field */
static void compare(const char *what, const char *got, const char *want) {
    const char *g = got, *w = want;
    while (*g && *w) {
        size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
        if (gl != wl || memcmp(g, w, gl)) {
            th_fail(__FILE__, __LINE__, "%s: got [%.*s], want [%.*s]", what,
                    (int)gl, g, (int)wl, w);
            return;
        }
        g += gl + (g[gl] ? 1 : 0);
        w += wl + (w[wl] ? 1 : 0);
    }
    if (*g || *w)
        th_fail(__FILE__, __LINE__, "%s: length differs at [%.60s] / [%.60s]",
                what, g, w);
}

TEST(captures_match_golden) {
    count_t cnt = {0, 0};
    cdc_decoder_mem_t mem = {c_malloc, c_realloc, c_free, &cnt};
    cdc_decoder_t *d = cdc_decoder_new_mem(&dec_conf, &mem);
    cdc_arena_t *a = cdc_arena_new(0);
    char *all = NULL;
    size_t alllen = 0;
    FILE *o = open_memstream(&all, &alllen);
    load_all();
    CHECK(ncaps == 88);
    for (int i = 0; i < ncaps; i++) {
        char *s = decode_dump(d, a, &caps[i], 0, 0);
        fputs(s, o);
        free(s);
    }
    fclose(o);
    if (getenv("CDC_GOLDEN_WRITE")) {
        FILE *g = fopen(GOLDEN, "w");
        CHECK(g != NULL);
        if (g) {
            fputs(all, g);
            fclose(g);
        }
    }
    char *want = slurp(GOLDEN);
    CHECK_CTX(want != NULL, "cannot read " GOLDEN);
    if (want)
        compare("golden", all, want);
    free(want);
    free(all);
    CHECK(!strstr(all ? "" : "", "BAD LENGTH"));
    cdc_decoder_free(d);
    cdc_arena_free(a);
    CHECK_INT(cnt.allocs, cnt.frees);
    CHECK(cnt.allocs > 0);
}

TEST(every_chunking_decodes_the_same) {
    count_t cnt = {0, 0};
    cdc_decoder_mem_t mem = {c_malloc, c_realloc, c_free, &cnt};
    cdc_decoder_t *d = cdc_decoder_new_mem(&dec_conf, &mem);
    /* a second, cold decoder: chunked parses must also fill its cache */
    cdc_arena_t *a = cdc_arena_new(0);
    load_all();
    for (int i = 0; i < ncaps; i++) {
        const cap_t *c = &caps[i];
        if (!c->value)
            continue;
        char *whole = decode_dump(d, a, c, 0, 0), ctx[160];
        char *ones = decode_dump(d, a, c, 1, 0);
        snprintf(ctx, sizeof ctx, "%.60s@%lld one-byte chunks", c->file,
                 (long long)c->rec.offset);
        compare(ctx, ones, whole);
        free(ones);
        /* every split point (a stride keeps the big TOAST record quick) */
        size_t stride = c->vlen > 8000 ? 7 : 1;
        for (size_t s = 1; s < c->vlen; s += stride) {
            char *two = decode_dump(d, a, c, 0, s);
            if (strcmp(two, whole)) {
                snprintf(ctx, sizeof ctx, "%.60s@%lld split at %zu", c->file,
                         (long long)c->rec.offset, s);
                compare(ctx, two, whole);
                free(two);
                break;
            }
            free(two);
        }
        free(whole);
    }
    cdc_decoder_free(d);
    cdc_arena_free(a);
    CHECK_INT(cnt.allocs, cnt.frees);
}

TEST(fast_path_and_caches) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    load_all();
    /* customers: 7 records with values, two table versions (a column was
     * added), one key schema */
    const cdc_rowdef_t *first = NULL;
    size_t schemas_after_first = 0;
    for (int i = 0; i < ncaps; i++) {
        if (strcmp(caps[i].file, "dbserver1.public.customers.jsonl"))
            continue;
        CHECK_INT(cdc_decoder_decode(d, &caps[i].rec, a, &ev), CDC_OK);
        if (ev.kind != CDC_EV_CHANGE)
            continue;
        if (!first) {
            first = ev.rowdef;
            schemas_after_first = cdc_decoder_cached_schemas(d);
            CHECK_INT(schemas_after_first, 2); /* key + value */
        } else if (ev.rowdef->ncols == first->ncols) {
            CHECK(ev.rowdef == first); /* same version, same rowdef */
        }
    }
    CHECK_INT(cdc_decoder_cached_schemas(d), 3); /* + the evolved value */
    /* decoding the same file again adds nothing */
    size_t rowdefs = cdc_decoder_cached_rowdefs(d);
    for (int i = 0; i < ncaps; i++)
        if (!strcmp(caps[i].file, "dbserver1.public.customers.jsonl"))
            CHECK_INT(cdc_decoder_decode(d, &caps[i].rec, a, &ev), CDC_OK);
    CHECK_INT(cdc_decoder_cached_schemas(d), 3);
    CHECK_INT(cdc_decoder_cached_rowdefs(d), rowdefs);
    /* schemaless: one rowdef per field-name sequence */
    for (int i = 0; i < ncaps; i++)
        if (!strcmp(caps[i].file, "dbs2.public.order_lines.jsonl"))
            CHECK_INT(cdc_decoder_decode(d, &caps[i].rec, a, &ev), CDC_OK);
    size_t r2 = cdc_decoder_cached_rowdefs(d);
    for (int i = 0; i < ncaps; i++)
        if (!strcmp(caps[i].file, "dbs2.public.order_lines.jsonl"))
            CHECK_INT(cdc_decoder_decode(d, &caps[i].rec, a, &ev), CDC_OK);
    CHECK_INT(cdc_decoder_cached_rowdefs(d), r2);
    CHECK_INT(r2 - rowdefs, 2); /* the key and the row */
    /* a schema that differs in one byte is not taken from the cache */
    cap_t *c = &caps[0];
    char *v = strdup(c->value);
    static const char from[] = "\"optional\":false,\"field\":\"id\"",
                      to[] = "\"optional\":true, \"field\":\"id\"";
    int replaced = 0;
    for (char *p = strstr(v, from); p; p = strstr(p, from), replaced++)
        memcpy(p, to, sizeof to - 1); /* same length: the record stays valid */
    CHECK_INT(replaced, 3); /* before, after, transaction */
    cdc_record_t r = c->rec;
    r.value = v;
    size_t before = cdc_decoder_cached_schemas(d);
    CHECK_INT(cdc_decoder_decode(d, &r, a, &ev), CDC_OK);
    CHECK_INT(cdc_decoder_cached_schemas(d), before + 1);
    CHECK(ev.rowdef && ev.rowdef->cols[0].optional);
    if (ev.after)
        CHECK_STR(ev.after[0].text, "1");
    free(v);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* documents of c that carry a schema (the fast path's candidates; a
 * tombstone's key is not decoded) */
static size_t schema_docs(const cap_t *c) {
    static const char head[] = "{\"schema\":{";
    if (!c->value)
        return 0;
    return (c->key && !strncmp(c->key, head, sizeof head - 1)) +
           (c->value && !strncmp(c->value, head, sizeof head - 1));
}

/* The fast paths against the reference parse, over every capture (the
 * files of shared/reference/captures, copied here byte for byte) and the
 * golden file's inputs: a reference decoder (cdc_decoder_reference: yajl
 * parses schema and payload) and a warm one (the record decoded once
 * before, so its schema bytes are cached and only the payloads are parsed,
 * by scan.c) must give the same dump, and the warm decode must have taken
 * the schema fast path for each document with a schema. */
TEST(fast_path_equals_full_parse) {
    count_t cnt = {0, 0};
    cdc_decoder_mem_t mem = {c_malloc, c_realloc, c_free, &cnt};
    cdc_decoder_t *warm = cdc_decoder_new_mem(&dec_conf, &mem);
    cdc_arena_t *a = cdc_arena_new(0);
    size_t fast = 0;
    load_all();
    for (int i = 0; i < ncaps; i++) {
        const cap_t *c = &caps[i];
        char ctx[160];
        snprintf(ctx, sizeof ctx, "%.60s@%lld fast path", c->file,
                 (long long)c->rec.offset);
        cdc_decoder_t *cold = cdc_decoder_new(&dec_conf);
        cdc_decoder_reference(cold);
        char *full = decode_dump(cold, a, c, 0, 0);
        CHECK_CTX(cdc_decoder_fast_docs(cold) == 0, "%s: cold decoder", ctx);
        cdc_decoder_free(cold);
        free(decode_dump(warm, a, c, 0, 0)); /* caches the schemas */
        size_t before = cdc_decoder_fast_docs(warm);
        char *got = decode_dump(warm, a, c, 0, 0);
        size_t took = cdc_decoder_fast_docs(warm) - before;
        CHECK_CTX(took == schema_docs(c), "%s: %zu documents, want %zu", ctx,
                  took, schema_docs(c));
        fast += took;
        if (getenv("CDC_FAST_VERBOSE"))
            fprintf(stderr, "%s: %zu\n", ctx, took);
        compare(ctx, got, full);
        free(got);
        free(full);
    }
    CHECK(fast >= 50); /* the schemas-on half: 53 keys and values */
    cdc_decoder_free(warm);
    cdc_arena_free(a);
    CHECK_INT(cnt.allocs, cnt.frees);
}

TEST(pk_change_and_skipped_kinds) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    load_all();
    int seen = 0;
    for (int i = 0; i < ncaps; i++) {
        const cap_t *c = &caps[i];
        CHECK_INT(cdc_decoder_decode(d, &c->rec, a, &ev), CDC_OK);
        if (strstr(c->file, "scratch") && c->rec.offset == 4) {
            CHECK_INT(ev.op, 'c');
            CHECK(ev.old_key != NULL);
            if (ev.old_key) {
                CHECK_STR(ev.old_key[0].text, "2");
                CHECK_STR(ev.key[0].text, "20");
            }
            seen++;
        }
        if (strstr(c->file, "transaction"))
            CHECK_INT(ev.kind, CDC_EV_TXMETA);
        if (strstr(c->file, "heartbeat"))
            CHECK_INT(ev.kind, CDC_EV_HEARTBEAT);
        if (strstr(c->file, "message"))
            CHECK_INT(ev.kind, CDC_EV_MESSAGE);
        cdc_arena_reset(a);
    }
    CHECK_INT(seen, 2);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* A value yajl accepts with the start of a string after it (scan.c gives
 * up on the unterminated string): each decode of it says the same, and the
 * document after it decodes as it would alone, so nothing of one
 * document's bytes is left for the next (fuzz_decoder found the second
 * decode reading the first's "suc as the start of a string). */
TEST(a_document_leaves_nothing_for_the_next) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    static const char odd[] = "{\"\":0}\"suc";
    cdc_record_t r = {0};
    r.topic = "t.public.x";
    r.value = odd;
    r.value_len = sizeof odd - 1;
    char first[512] = "";
    for (int i = 0; i < 3; i++) {
        cdc_err_t err = cdc_decoder_decode(d, &r, a, &ev);
        CHECK_INT(err, CDC_ERR_OP);
        if (i == 0)
            snprintf(first, sizeof first, "%s", cdc_decoder_errstr(d));
        else
            CHECK_STR(cdc_decoder_errstr(d), first);
        cdc_arena_reset(a);
    }
    load_all();
    CHECK_INT(cdc_decoder_decode(d, &caps[0].rec, a, &ev), CDC_OK);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* the schema fast path parses only the payload part: `{}"ab` there is a
 * value and the start of a string yajl's complete parse accepts, while in
 * the whole key the string runs on into a newline (fuzz_decoder: the
 * second decode of such a key, its schema cached by the first, passed) */
TEST(a_cached_schema_does_not_pass_a_bad_payload) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    static const char key[] = "{\"schema\":{\"type\":\"struct\"},"
                              "\"payload\":{}\"ab}\n";
    static const char val[] = "{\"op\":\"c\",\"after\":{\"id\":1},"
                              "\"source\":{\"schema\":\"public\","
                              "\"table\":\"x\"}}";
    cdc_record_t r = {0};
    r.topic = "t.public.x";
    r.key = key;
    r.key_len = sizeof key - 1;
    r.value = val;
    r.value_len = sizeof val - 1;
    char first[512] = "";
    for (int i = 0; i < 3; i++) {
        cdc_err_t err = cdc_decoder_decode(d, &r, a, &ev);
        CHECK_INT(err, CDC_ERR_KEY);
        if (i == 0)
            snprintf(first, sizeof first, "%s", cdc_decoder_errstr(d));
        else
            CHECK_STR(cdc_decoder_errstr(d), first);
        cdc_arena_reset(a);
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(truncations_of_every_capture_fail_cleanly) {
    count_t cnt = {0, 0};
    cdc_decoder_mem_t mem = {c_malloc, c_realloc, c_free, &cnt};
    cdc_decoder_t *d = cdc_decoder_new_mem(&dec_conf, &mem);
    cdc_arena_t *a = cdc_arena_new(0);
    load_all();
    unsigned seed = 12345;
    for (int i = 0; i < ncaps; i++) {
        const cap_t *c = &caps[i];
        if (!c->value)
            continue;
        for (int k = 0; k < 40; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t cut = (seed >> 8) % c->vlen; /* 0 .. vlen-1 */
            cdc_record_t r = c->rec;
            cdc_event_t ev;
            r.value_len = cut;
            cdc_err_t e = cdc_decoder_decode(d, &r, a, &ev);
            CHECK_CTX(e != CDC_OK, "%s@%lld cut at %zu decoded", c->file,
                      (long long)c->rec.offset, cut);
            CHECK_CTX(cdc_err_class(e) == CDC_ERRCLASS_PERMANENT,
                      "%s cut %zu: %s", c->file, cut, cdc_err_name(e));
            cdc_arena_reset(a);
        }
    }
    cdc_decoder_free(d);
    cdc_arena_free(a);
    CHECK_INT(cnt.allocs, cnt.frees);
}

/* ---- cdcsink decode: every header of a record counts ---- */

/* runs `cdcsink decode FILE` with stdout captured into out */
static int decode_cmd_file(char *file, char *out, size_t outsz) {
    char cap[] = "/tmp/cdc-test-decode-XXXXXX", cmd[] = "decode";
    int fd = mkstemp(cap), saved = dup(1), rc;
    cdc_conf_t *conf = cdc_conf_new();
    char *argv[] = {cmd, file, NULL};
    fflush(stdout);
    dup2(fd, 1);
    rc = cdc_decode_cmd_main(2, argv, conf);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ssize_t n = pread(fd, out, outsz - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(cap);
    cdc_conf_free(conf);
    return rc;
}

TEST(decode_cmd_reads_every_header) {
    /* the primary-key change of the scratch capture, its old-key header
     * moved behind 200 others (the command once kept only 64 headers and
     * lost the old key without a word) */
    const char *key = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":"
                      "\"int32\",\"optional\":false,\"field\":\"id\"}],\"optional\":"
                      "false,\"name\":\"k.Key\"},\"payload\":{\"id\":20}}";
    char file[] = "/tmp/cdc-test-kcat-XXXXXX", out[8192];
    int fd = mkstemp(file);
    FILE *f = fdopen(fd, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "{\"topic\":\"t\",\"partition\":0,\"offset\":4,\"headers\":[");
    for (int i = 0; i < 200; i++)
        fprintf(f, "\"h%d\",\"v\",", i);
    fprintf(f, "\"__debezium.oldkey\",\"{\\\"id\\\":2}\"],\"key\":");
    for (const char *c = key; *c; c++) /* as a JSON string */
        fprintf(f, c == key ? "\"%s%c" : "%s%c", *c == '"' ? "\\" : "", *c);
    fprintf(f, "\",\"payload\":\"{\\\"before\\\":null,\\\"after\\\":{\\\"id\\\":20},"
               "\\\"source\\\":{\\\"connector\\\":\\\"postgresql\\\",\\\"schema\\\":"
               "\\\"public\\\",\\\"table\\\":\\\"scratch\\\",\\\"lsn\\\":7},"
               "\\\"op\\\":\\\"c\\\"}\"}\n");
    fclose(f);
    int rc = decode_cmd_file(file, out, sizeof out);
    unlink(file);
    CHECK_INT(rc, 0);
    CHECK_CTX(strstr(out, "\"old_key\":{\"id\":\"2\"}") != NULL, "%s", out);
}

/* ---- the schema cache is bounded ---- */

TEST(schema_cache_is_bounded) {
    count_t cnt = {0, 0};
    cdc_decoder_mem_t mem = {c_malloc, c_realloc, c_free, &cnt};
    cdc_decoder_conf_t conf = {64u << 20, 64, 16};
    cdc_decoder_t *d = cdc_decoder_new_mem(&conf, &mem);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    load_all();
    const cap_t *c = NULL;
    for (int i = 0; i < ncaps && !c; i++)
        if (!strcmp(caps[i].file, "dbserver1.public.order_lines.jsonl") &&
            caps[i].value)
            c = &caps[i];
    CHECK(c != NULL);
    if (!c || !d || !a)
        return;
    /* the reference: the record as captured */
    CHECK_INT(cdc_decoder_decode(d, &c->rec, a, &ev), CDC_OK);
    const cdc_rowdef_t *rd = ev.rowdef;
    uint32_t ncols = rd ? rd->ncols : 0;
    char want[16][64];
    for (uint32_t i = 0; i < ncols && i < 16; i++)
        snprintf(want[i], sizeof want[i], "%s",
                 ev.after[i].state == CDC_V_SET ? ev.after[i].text : "(null)");
    /* 400 distinct value schemas (the envelope's name differs): each one is
     * a new cache entry; the cache never holds more than its bound plus the
     * two one record can add, live allocations stop growing, every record
     * decodes to the same row, and the rowdef is shared by them all */
    static const char from[] = "order_lines.Envelope\"";
    const char *at = strstr(c->value, from);
    CHECK(at != NULL);
    if (!at)
        return;
    size_t head = (size_t)(at - c->value) + sizeof from - 2;
    long peak_early = 0, peak_late = 0;
    for (int n = 0; n < 400; n++) {
        char *v = malloc(c->vlen + 16);
        int l = snprintf(v, c->vlen + 16, "%.*s%04d%s", (int)head, c->value, n,
                         c->value + head);
        cdc_record_t r = c->rec;
        r.value = v;
        r.value_len = (size_t)l;
        CHECK_INT(cdc_decoder_decode(d, &r, a, &ev), CDC_OK);
        CHECK(ev.rowdef == rd);
        for (uint32_t i = 0; ev.after && i < ncols && i < 16; i++)
            CHECK_STR(ev.after[i].state == CDC_V_SET ? ev.after[i].text : "(null)",
                      want[i]);
        CHECK(cdc_decoder_cached_schemas(d) <= 16 + 2);
        long live = cnt.allocs - cnt.frees;
        if (n < 100)
            peak_early = live > peak_early ? live : peak_early;
        else
            peak_late = live > peak_late ? live : peak_late;
        cdc_arena_reset(a);
        free(v);
    }
    CHECK(cdc_decoder_schema_resets(d) >= 20);
    CHECK_CTX(peak_late <= peak_early, "live allocations %ld after %ld", peak_late,
              peak_early);
    CHECK_INT(cdc_decoder_cached_rowdefs(d), 2); /* key + row */
    /* after a reset the cached form is found again */
    CHECK_INT(cdc_decoder_decode(d, &c->rec, a, &ev), CDC_OK);
    CHECK(ev.rowdef == rd);
    cdc_arena_free(a);
    cdc_decoder_free(d);
    CHECK_INT(cnt.allocs, cnt.frees);
}
