/* decoder_int.h - internals shared by the decoder's files (not public).
 *
 * Files, each calling only the ones below it (a DAG, no cycles):
 *   decoder.c   public API: construction, documents (key, value, the
 *               old-key header), the schema-bytes fast path, chunked feeding
 *   scan.c      a whole document to the callbacks without yajl (yajl
 *               parses what it gives up on)
 *   parse.c     the yajl callbacks: the payload state machine
 *   row.c       the rows: typed by schema position, schemaless by prediction
 *   source.c    source and transaction blocks, position, event assembly
 *   schema.c    Connect schema builder (fed by parse.c), the schema cache
 *               and the rowdef cache
 *   types.c     Connect type names; Connect value -> PostgreSQL text
 *   mem.c       allocator, scratch buffers, bump pools, cdc_dec_fail
 *
 * Names: functions shared between these files are cdc_dec_*, internal
 * types dec_*_t (not linker symbols), everything else static.
 *
 * Return values, one rule per kind of function:
 *   cdc_err_t and cdc_codec_parse_i64's int are statuses: 0 (CDC_OK) is
 *   success.
 *   int and bool say "go on": nonzero/true is success, 0/false an error.
 *   The yajl callbacks and every int function here follow yajl (1 continue,
 *   0 cancel) with the reason in d->err/errstr (cdc_dec_fail returns the 0);
 *   the value conversions (types.c) return false with the reason, no field
 *   path, in their `why` buffer. So for an int or bool f, `if (!f(...))`
 *   tests a failure; for a status, `if (f(...))` does.
 *
 * Memory: everything the decoder keeps (schemas, rowdefs, scratch) comes
 * from its allocator (cdc_dec_malloc & co, overridable for leak-counting
 * tests); everything an event points to comes from the caller's arena. */
#ifndef CDC_CONSUMER_DECODE_DECODER_INT_H
#define CDC_CONSUMER_DECODE_DECODER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "consumer/decode/decoder.h"

/* ---- allocator and small containers (decoder-owned memory) ---- */

void *cdc_dec_malloc(cdc_decoder_t *d, size_t n);
void *cdc_dec_realloc(cdc_decoder_t *d, void *p, size_t n);
void cdc_dec_free(cdc_decoder_t *d, void *p);

/* growable byte buffer, NUL-terminated when p != NULL; oom is sticky */
typedef struct dec_sbuf_s {
    char *p;
    size_t len, cap;
    bool oom;
} dec_sbuf_t;

void cdc_dec_sbuf_add(cdc_decoder_t *d, dec_sbuf_t *b, const void *s, size_t n);
void cdc_dec_sbuf_addc(cdc_decoder_t *d, dec_sbuf_t *b, char c);
void cdc_dec_sbuf_adds(cdc_decoder_t *d, dec_sbuf_t *b, const char *s);
void cdc_dec_sbuf_free(cdc_decoder_t *d, dec_sbuf_t *b);
/* room for n more bytes and a NUL; false (oom set) when it cannot grow */
bool cdc_dec_sbuf_reserve(cdc_decoder_t *d, dec_sbuf_t *b, size_t n);
/* appends s as a JSON string literal (quotes and escapes, Jackson style) */
void cdc_dec_sbuf_json_str(cdc_decoder_t *d, dec_sbuf_t *b, const char *s,
                           size_t n);

/* bump pool: blocks from cdc_dec_malloc, freed all at once */
typedef struct dec_pool_blk_s dec_pool_blk_t;
typedef struct dec_pool_s {
    dec_pool_blk_t *head;
} dec_pool_t;

void *cdc_dec_pool_alloc(cdc_decoder_t *d, dec_pool_t *p, size_t n);
char *cdc_dec_pool_strndup(cdc_decoder_t *d, dec_pool_t *p, const char *s,
                           size_t n);
void cdc_dec_pool_free(cdc_decoder_t *d, dec_pool_t *p);

/* ---- Connect schemas ---- */

typedef enum {
    DEC_CT_NONE = 0, DEC_CT_BOOL, DEC_CT_INT8, DEC_CT_INT16, DEC_CT_INT32,
    DEC_CT_INT64, DEC_CT_FLOAT, DEC_CT_DOUBLE, DEC_CT_BYTES, DEC_CT_STRING,
    DEC_CT_ARRAY, DEC_CT_MAP, DEC_CT_STRUCT
} dec_ctype_t;

typedef enum {
    DEC_SEM_NONE = 0, DEC_SEM_DECIMAL, DEC_SEM_VSDECIMAL, DEC_SEM_DATE,
    DEC_SEM_TIME_MS, DEC_SEM_TIME_US, DEC_SEM_TIME_NS, DEC_SEM_TS_MS,
    DEC_SEM_TS_US, DEC_SEM_TS_NS, DEC_SEM_ZONED_TS, DEC_SEM_ZONED_TIME,
    DEC_SEM_DURATION_US, DEC_SEM_INTERVAL, DEC_SEM_JSON, DEC_SEM_UUID,
    DEC_SEM_XML, DEC_SEM_ENUM, DEC_SEM_BITS, DEC_SEM_POINT, DEC_SEM_ISO_DATE,
    DEC_SEM_ISO_TIME, DEC_SEM_ISO_TS, DEC_SEM_TEXTLIKE
} dec_sem_t;

typedef struct dec_sch_s dec_sch_t;
struct dec_sch_s {
    uint8_t ctype;      /* dec_ctype_t */
    uint8_t sem;        /* dec_sem_t, from name */
    bool optional;
    int32_t scale;      /* Decimal scale; -1 unknown */
    int32_t precision;  /* connect.decimal.precision; -1 unknown */
    int32_t length;     /* Bits length; -1 unknown */
    /* the source column's type as the connector propagates it
     * (column.propagate.source.type / datatype.propagate.source.type:
     * parameters __debezium.source.column.type/.length/.scale), e.g.
     * "NUMERIC", 14, 2; NULL / -1 when not sent */
    const char *src_type;
    int32_t src_length, src_scale;
    const char *name;   /* semantic name or NULL */
    const char *field;  /* field name inside a struct, or NULL */
    uint32_t nfields;
    dec_sch_t **fields; /* struct members, in order */
    dec_sch_t *items;   /* array element */
    dec_sch_t *keys, *values; /* map */
    dec_sch_t *next;    /* sibling while building */
};

/* a cached rowdef and its hash-chain link */
typedef struct dec_rdnode_s dec_rdnode_t;
struct dec_rdnode_s {
    dec_rdnode_t *next;
    cdc_rowdef_t rd;
};

/* what a schema gives one kind of document, derived once per kind (the
 * same bytes may come as a value's envelope and as a key's schema) */
typedef struct dec_derived_s {
    bool done;
    const dec_sch_t *row;   /* the row struct: envelope after/before, or the
                               key struct itself */
    const cdc_rowdef_t *rowdef;
} dec_derived_t;

/* one cached schema (key or value), found by its canonical bytes */
typedef struct dec_entry_s dec_entry_t;
struct dec_entry_s {
    dec_entry_t *next;      /* hash chain */
    dec_entry_t *len_next;  /* chain by byte length (fast path) */
    uint64_t hash;
    size_t len;
    char *bytes;            /* canonical compact JSON of the schema */
    dec_sch_t *root;
    dec_pool_t pool;        /* owns bytes and the schema tree */
    dec_derived_t der[2];   /* [0] as a key's schema, [1] as a value's */
};

/* Connect type name <-> DEC_CT_* (types.c); parse gives DEC_CT_NONE for an
 * unknown name */
const char *cdc_dec_ctype_name(uint8_t ctype);
uint8_t cdc_dec_ctype_parse(const char *s, size_t n);
/* rowdef for a typed row struct (shared through the rowdef cache) */
const cdc_rowdef_t *cdc_dec_rowdef_typed(cdc_decoder_t *d,
                                         const dec_sch_t *row);
/* rowdef for a schemaless row: names is n NUL-terminated names back to back */
const cdc_rowdef_t *cdc_dec_rowdef_names(cdc_decoder_t *d, const char *names,
                                         size_t names_len, uint32_t n);
/* fast path: the entry whose canonical bytes equal s[0..len) */
dec_entry_t *cdc_dec_cache_find_bytes(cdc_decoder_t *d, const char *s,
                                      size_t len);
/* derives row / rowdef of e for a value (envelope) or a key document, once;
 * not done when the schema is not a struct or (d->err says why) no rowdef
 * could be made */
const dec_derived_t *cdc_dec_entry_derive(cdc_decoder_t *d, dec_entry_t *e,
                                          bool envelope);
void cdc_dec_cache_free(cdc_decoder_t *d);
/* empties the schema cache (not the rowdefs) */
void cdc_dec_cache_reset(cdc_decoder_t *d);

/* schema builder: fed the callbacks of one schema value */
typedef struct dec_sb_frame_s {
    uint8_t kind;       /* SB_* in schema.c */
    uint8_t pending;    /* member whose value comes next */
    dec_sch_t *sch;
    dec_sch_t *last;    /* last field appended (fields array) */
    uint32_t skip;      /* depth inside a skipped member */
} dec_sb_frame_t;

/* begin starts a schema value; event takes its callbacks one by one (1, or
 * 0 on error with d->err set); the value is complete when d->nsbf is back
 * to 0 after an event; finish then gives its cached entry (NULL on error) */
void cdc_dec_sb_begin(cdc_decoder_t *d);
int cdc_dec_sb_event(cdc_decoder_t *d, int ev, const char *s, size_t n, int b);
dec_entry_t *cdc_dec_sb_finish(cdc_decoder_t *d);

enum { SBE_NULL, SBE_BOOL, SBE_NUM, SBE_STR, SBE_MAP, SBE_KEY, SBE_ENDMAP,
       SBE_ARR, SBE_ENDARR };

/* ---- value conversion ---- */

typedef enum { DEC_TOK_NULL, DEC_TOK_BOOL, DEC_TOK_NUM, DEC_TOK_STR } dec_tok_kind_t;

typedef struct dec_tok_s {
    uint8_t kind;  /* dec_tok_kind_t */
    bool b;
    const char *s; /* number text or string bytes, not NUL-terminated */
    size_t len;
} dec_tok_t;

#define DEC_PLACEHOLDER "__debezium_unavailable_value"
#define DEC_PLACEHOLDER_B64 "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="
/* the placeholder's bytes under binary.handling.mode=hex (either case) */
#define DEC_PLACEHOLDER_HEX \
    "5f5f646562657a69756d5f756e617661696c61626c655f76616c7565"
/* true when s[0..n) is the placeholder in one of its scalar forms (text,
 * base64, hex) */
bool cdc_dec_is_placeholder(const char *s, size_t n);

/* ---- the propagated source type (srctype.c) ---- */

/* The source column's exact type, of an array's element ("numeric(14,2)",
 * "timestamp(3) with time zone": format_type()'s spelling) into out; false
 * when the schema carries none or it is not a built-in type. */
bool cdc_dec_source_sqltype(const dec_sch_t *s, char *out, size_t n);
/* the propagated source type is type (or an array of it: "_BYTEA") */
bool cdc_dec_source_is(const dec_sch_t *s, const char *type);
/* A typed column whose text only the connector's value modes can read: a
 * bytea (or bytea[]) the connector sends as a string (binary.handling.mode
 * base64, base64-url-safe or hex), known from the propagated source type.
 * Its JSON is kept with its kind, as in a schemaless row, and the applier
 * converts it by the catalog (apply/convert.c). */
bool cdc_dec_raw_column(const dec_sch_t *s);

/* Converts a scalar token for schema s into text appended to out; *state is
 * CDC_V_SET, CDC_V_NULL or CDC_V_UNCHANGED (placeholder; only when toast).
 * Returns true, or false with the reason (no field path) in why. */
bool cdc_dec_conv_scalar(cdc_decoder_t *d, const dec_sch_t *s,
                         const dec_tok_t *t, bool toast, dec_sbuf_t *out,
                         uint8_t *state, char *why, size_t whysz);
/* VariableScaleDecimal {scale, value}: base64 value with scale -> text;
 * true, or false with the reason in why */
bool cdc_dec_conv_decimal_b64(cdc_decoder_t *d, const char *b64, size_t n,
                              int64_t scale, dec_sbuf_t *out, char *why,
                              size_t whysz);
/* true when an array literal ({..}) or JSON text ([..], {..}) is one of the
 * placeholder's array or map forms */
bool cdc_dec_is_placeholder_array(const char *lit, size_t n);
/* true when element text must be double-quoted inside an array literal */
bool cdc_dec_array_elem_quoted(const dec_sch_t *items);
void cdc_dec_array_add_quoted(cdc_decoder_t *d, dec_sbuf_t *b, const char *s,
                              size_t n);
/* PostgreSQL type of a Connect schema (element type for arrays) */
void cdc_dec_column_of(const dec_sch_t *s, cdc_column_t *col);

/* ---- the parse of one document ---- */

typedef enum { DOC_VALUE, DOC_KEY, DOC_OLDKEY } dec_doc_t;

typedef enum {
    F_TOP = 1,   /* top-level map, first member not seen yet */
    F_ENV,       /* {"schema":..,"payload":..} */
    F_SCHEMA,    /* inside the schema value: the builder has it */
    F_PAYLOAD,   /* the change envelope payload */
    F_ROW,       /* before / after / key row */
    F_SOURCE,
    F_TXN,
    F_TXDC,      /* transaction record's data_collections array */
    F_TXDC_ITEM, /* one {data_collection, event_count} of it */
    F_ARRAY,     /* typed array column (or element) */
    F_VSD,       /* VariableScaleDecimal struct */
    F_POINT,     /* geometry Point struct */
    F_JSON,      /* nested value kept as compact JSON text */
    F_SKIP       /* ignored nested value */
} dec_ftype_t;

typedef struct dec_frame_s {
    uint8_t type;       /* dec_ftype_t */
    uint8_t pending;    /* member whose value comes next (per type) */
    uint8_t role;       /* F_ROW: ROLE_*; F_ARRAY/F_JSON: buffer slot */
    bool have_x, have_y;
    int32_t col;        /* F_ROW: current column; -1 none */
    uint32_t n;         /* F_ARRAY elements; F_JSON/F_SKIP depth */
    const dec_sch_t *sch; /* F_ROW: row struct; F_ARRAY: the array schema */
    int64_t i64;        /* F_VSD scale */
    size_t mark;        /* F_VSD/F_POINT: scratch offsets */
} dec_frame_t;

enum { ROLE_BEFORE = 0, ROLE_AFTER = 1, ROLE_KEY = 2, ROLE_OLDKEY = 3 };

/* "before", "after", "key", "old_key": a role in messages */
static inline const char *dec_role_name(int role) {
    static const char *const names[] = {"before", "after", "key", "old_key"};
    return names[role];
}

/* one row being collected */
typedef struct dec_row_s {
    bool present;       /* member seen and not null */
    bool is_null;
    const cdc_rowdef_t *rowdef;
    cdc_value_t *vals;  /* typed: rowdef->ncols, in the arena */
    /* schemaless collection */
    dec_sbuf_t names;   /* NUL-separated names */
    cdc_value_t *svals; /* decoder-owned scratch */
    uint32_t n, cap;
    const cdc_rowdef_t *pred; /* predicted rowdef (one of this role's recent
                                 ones); names are collected only once it
                                 fails (pred_ok false) */
    bool pred_ok;
} dec_row_t;

#define DEC_NPRED 4 /* recent schemaless rowdefs remembered per role */

/* what the value document yields, before the event is assembled */
typedef struct dec_result_s {
    dec_entry_t *env;   /* value schema entry, NULL when schemaless */
    bool env_null_schema;
    bool payload_null;
    bool has_source, has_op, has_status, has_ts_ms, has_other;
    unsigned nmembers;
    char op;
    bool op_bad;
    char opbuf[8];
    uint8_t status;     /* 0 none, 1 BEGIN, 2 END */
    /* a transaction record's payload: id, event_count, data_collections */
    const char *txm_id;
    bool has_txm_count;
    int64_t txm_count;
    cdc_txn_collection_t *txm_colls; /* arena; grown by doubling */
    size_t txm_ncolls, txm_cap;
    /* source */
    const char *connector, *name, *db, *schema, *table, *snapshot, *sequence,
        *file, *txn_id;
    bool snapshot_bool, snapshot_is_bool;
    bool has_ts_us, has_ts_ms_src, has_txid, has_lsn, has_pos, has_row;
    int64_t ts_us, ts_ms, txid, lsn, pos, row, txn_total, txn_dc;
    bool has_env_ts_ms; /* the envelope's ts_ms (not source.ts_ms) */
    int64_t env_ts_ms;
} dec_result_t;

struct cdc_decoder_s {
    cdc_decoder_conf_t conf;
    yajl_alloc_funcs yaf;
    cdc_decoder_mem_t mem;
    cdc_err_t err;
    char errstr[512];

    /* current document */
    dec_doc_t doc;
    bool direct;            /* fast path: the payload is the top value */
    bool typed;             /* rows have a schema */
    cdc_arena_t *arena;
    dec_frame_t *fr;        /* frame stack: conf.max_depth + 4 */
    int nfr;
    int depth;
    bool top_done;          /* the document's top-level value is complete */
    yajl_handle yh;         /* yajl's parse under way (NULL: scan.c's) */
    size_t top_end;         /* yh: the bytes its parse had consumed when
                             * the top-level value ended */
    const dec_sch_t *rowsch;  /* row struct of this document, NULL schemaless */
    const cdc_rowdef_t *doc_rowdef; /* of the document's schema */
    dec_row_t rows[4];        /* by ROLE_* */
    const cdc_rowdef_t *pred[4][DEC_NPRED]; /* recent schemaless rowdefs by
                                               role, most recent first */
    const dec_sch_t *keysch;  /* the record key's row struct (typed keys) */
    const cdc_rowdef_t *keydef;
    const char *what;         /* "value", "key", "header __debezium.oldkey" */
    size_t fed;               /* bytes fed before the current chunk */
    uint8_t srckey;           /* F_SOURCE/F_TXN member being read: SRC_* */
    dec_result_t res;
    char colpath[160];        /* "after.balance" for messages */
    int path_role;            /* the column being read, for path() */
    int32_t path_col;         /* -1: none */
    const dec_sch_t *path_sch;

    /* scratch */
    dec_sbuf_t tmp;           /* one converted scalar */
    dec_sbuf_t vsd, pt;       /* VariableScaleDecimal / Point parts */
    dec_sbuf_t json;          /* F_JSON text */
    dec_sbuf_t *arrbuf;       /* one per nesting level */
    int narrbuf;
    dec_sbuf_t canon;         /* canonical schema bytes while building */
    dec_sbuf_t bin;           /* decoded base64 */

    /* schema builder */
    dec_sb_frame_t *sbf;
    int nsbf;
    dec_pool_t sbpool;        /* tree under construction */
    dec_sch_t *sbroot;

    /* caches */
    dec_entry_t **ebuckets;   /* by hash, 256 */
    dec_entry_t **lbuckets;   /* by length, 256 */
    size_t nentries;
    dec_entry_t *last[2];     /* the fast path's last schema of a key [0]
                                 and of a value [1], tried first */
    size_t nresets;           /* times the schema cache hit its bound */
    size_t nfast;             /* documents the fast path decoded */
    bool reference;           /* yajl only: cdc_decoder_reference */
    dec_rdnode_t **rbuckets;  /* rowdefs by fingerprint, 256 */
    dec_pool_t rpool;         /* rowdefs live here until the decoder dies */
    size_t nrowdefs;

    /* scan.c: unescaped strings, the container stack (conf.max_depth + 4) */
    dec_sbuf_t scanbuf;
    uint8_t *scanstk;

    /* chunked feeding */
    yajl_handle feed_h;
    const cdc_record_t *feed_rec;
    cdc_event_t feed_ev;
    bool feeding;
};

/* the yajl callbacks (parse.c); ctx is the decoder */
extern const yajl_callbacks cdc_dec_callbacks;

/* scan.c: the whole document s[0..n) through cdc_dec_callbacks without
 * yajl; false when it gave up (some callbacks may have run, d->err may be
 * set): the caller resets the document and parses it with yajl */
bool cdc_dec_scan(cdc_decoder_t *d, const char *s, size_t n);

/* the top-level value just ended: under yajl, where (d->top_end) */
static inline void cdc_dec_note_top_end(cdc_decoder_t *d) {
    if (d->yh)
        d->top_end = yajl_get_bytes_consumed(d->yh);
}

/* errors (mem.c): sets d->err/errstr unless already set (the first reason
 * is the one that matters; outside the value document every error but
 * NOMEM and TOO_LARGE becomes KEY); returns 0, the yajl "cancel" value */
int cdc_dec_fail(cdc_decoder_t *d, cdc_err_t e, const char *fmt, ...)
    CDC_PRINTF(3, 4);

/* rows (row.c): begin starts role's row in frame f (just pushed); key
 * places member s[0..n) of the row on f (f->col, the path of messages);
 * end finishes the row of f (already popped). 1, or 0 with d->err set */
int cdc_dec_row_begin(cdc_decoder_t *d, dec_frame_t *f, uint8_t role);
int cdc_dec_row_key(cdc_decoder_t *d, dec_frame_t *f, const char *s,
                    size_t n);
int cdc_dec_row_end(cdc_decoder_t *d, const dec_frame_t *f);

/* event assembly (source.c) from what the value and key documents yielded;
 * the old-key header is decoder.c's */
cdc_err_t cdc_dec_event_build(cdc_decoder_t *d, const cdc_record_t *rec,
                              cdc_event_t *ev);
/* after the old-key document: ev->old_key from rows[ROLE_OLDKEY] in
 * ev->keydef's column order (a null old key leaves it NULL); 1, or 0 */
int cdc_dec_event_old_key(cdc_decoder_t *d, cdc_event_t *ev);
/* source / transaction members the decoder reads, classified once by name
 * (cdc_dec_source_member, cdc_dec_txn_member) so each scalar needs no
 * string compare */
enum { SRC_OTHER = 0, SRC_CONNECTOR, SRC_NAME, SRC_DB, SRC_SCHEMA, SRC_TABLE,
       SRC_SNAPSHOT, SRC_SEQUENCE, SRC_FILE, SRC_TS_US, SRC_TS_MS, SRC_TXID,
       SRC_LSN, SRC_POS, SRC_ROW, TXN_ID, TXN_TOTAL, TXN_DC };
uint8_t cdc_dec_source_member(const char *s, size_t n);
uint8_t cdc_dec_txn_member(const char *s, size_t n);
int cdc_dec_source_scalar(cdc_decoder_t *d, uint8_t key, const dec_tok_t *t);
int cdc_dec_txn_scalar(cdc_decoder_t *d, uint8_t key, const dec_tok_t *t);
/* transaction records (source.c): the payload's "id" and "event_count",
 * and the data_collections items (begin one, then its members by name) */
int cdc_dec_txm_scalar(cdc_decoder_t *d, bool count, const dec_tok_t *t);
int cdc_dec_txm_item_begin(cdc_decoder_t *d);
uint8_t cdc_dec_txm_item_member(const char *s, size_t n);
int cdc_dec_txm_item_scalar(cdc_decoder_t *d, uint8_t key, const dec_tok_t *t);

#endif
