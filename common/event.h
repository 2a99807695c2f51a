/* event.h - the plain structs that travel between modules, and the few
 * functions on them: a record's headers, a record's borrowed fields
 * forgotten, an event's deep copy into another arena.
 *
 *   cdc_record_t   one Kafka record as consumed (what the decoder reads)
 *   cdc_event_t    one decoded Debezium event (what the applier writes)
 *   cdc_rowdef_t   the columns of a key or row: names and warehouse types
 *
 * Ownership: a record borrows librdkafka's buffers (valid until the message
 * is destroyed). An event and its values live in the batch arena (valid until
 * the arena is reset after the batch is committed). A rowdef belongs to the
 * decoder's schema cache and lives as long as the decoder: the applier may key
 * its table cache on the rowdef's fingerprint and keep the pointer while the
 * decoder lives.
 *
 * Values are in the PostgreSQL text input form of their column type (what
 * the type's input function accepts, e.g. "\\x0a0b" for bytea, "{1,2}" for an
 * array, "2024-05-01 10:15:30.123456" for timestamp), NUL-terminated, not yet
 * escaped for COPY: escaping belongs to the applier. */
#ifndef CDC_COMMON_EVENT_H
#define CDC_COMMON_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"

/* ---- input: one Kafka record ---- */

typedef struct cdc_header_s {
    const char *name; /* NUL-terminated */
    const char *value; /* may be NULL (null header value); not NUL-terminated */
    size_t value_len;
} cdc_header_t;

typedef struct cdc_record_s {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* Kafka record timestamp, -1 if none */
    const char *key;      /* NULL = Kafka null key */
    size_t key_len;
    const char *value;    /* NULL = Kafka null value (tombstone) */
    size_t value_len;
    const cdc_header_t *headers;
    size_t nheaders;
    /* headers parsed only when asked for (consumer/kafka.c: librdkafka's
     * parse of four headers was ~13% of the consuming thread, and only a
     * 'c' event's old key and a dead letter read them): when set, headers
     * and nheaders are empty and cdc_record_headers gives them */
    cdc_err_t (*headers_of)(const struct cdc_record_s *rec, cdc_arena_t *arena,
                            const cdc_header_t **h, size_t *n);
    const void *headers_src; /* what headers_of reads (a Kafka message) */
} cdc_record_t;

/* rec's headers: its array, or, when they were left unparsed, made by
 * headers_of (the array from arena, the names and values borrowed as the
 * record's key and value are); CDC_ERR_NOMEM when arena is out */
static inline cdc_err_t cdc_record_headers(const cdc_record_t *rec,
                                           cdc_arena_t *arena,
                                           const cdc_header_t **h,
                                           size_t *n) {
    if (rec->headers_of)
        return rec->headers_of(rec, arena, h, n);
    *h = rec->headers;
    *n = rec->nheaders;
    return CDC_OK;
}

/* Forgets what rec borrows from its Kafka message (key, value, headers and
 * the way to parse them), for when that message is released or a record is
 * to travel without them; key_len and value_len stay, as what it weighed. */
static inline void cdc_record_forget_raw(cdc_record_t *rec) {
    rec->key = rec->value = NULL;
    rec->headers = NULL;
    rec->nheaders = 0;
    rec->headers_of = NULL;
    rec->headers_src = NULL;
}

/* One consumed position: the next offset to read of a topic partition
 * (written to _cdc.offsets by the applier, then committed to Kafka).
 * fenced: the write is a compare and set (offsets/offsets.h, DESIGN.md
 * "Fencing"): _cdc.offsets must hold expect (-1: no row yet) before it
 * moves to next_offset; zero-initialised = an unconditional write. */
typedef struct cdc_offset_s {
    const char *topic;
    int32_t partition;
    int64_t next_offset;
    bool fenced;
    int64_t expect;
} cdc_offset_t;

/* ---- column types, as the warehouse sees them ---- */

typedef enum {
    CDC_T_UNKNOWN = 0, /* schemaless record: the applier takes the catalog's */
    CDC_T_BOOL,
    CDC_T_INT2,
    CDC_T_INT4,
    CDC_T_INT8,
    CDC_T_FLOAT4,
    CDC_T_FLOAT8,
    CDC_T_NUMERIC,     /* precision/scale in the column; -1 = unconstrained */
    CDC_T_TEXT,
    CDC_T_BYTEA,
    CDC_T_DATE,
    CDC_T_TIME,
    CDC_T_TIMETZ,
    CDC_T_TIMESTAMP,
    CDC_T_TIMESTAMPTZ,
    CDC_T_INTERVAL,
    CDC_T_JSONB,
    CDC_T_UUID,
    CDC_T_XML,
    CDC_T_BIT,         /* varbit; length in precision when known */
    CDC_T_POINT,
    CDC_T__COUNT
} cdc_type_t;

typedef struct cdc_column_s {
    const char *name;  /* the source column name, unquoted, NUL-terminated */
    cdc_type_t type;   /* scalar type, or element type when array */
    bool array;        /* one-dimensional array of type */
    bool optional;     /* nullable in the source */
    int16_t precision; /* numeric precision / bit length; -1 unknown */
    int16_t scale;     /* numeric scale; -1 variable or unknown */
    const char *sqltype; /* the source's exact type (of the element when
                            array), spelled as format_type() prints it
                            ("numeric(14,2)", "character varying(80)"),
                            when the connector propagates it; NULL: from
                            type/precision/scale */
} cdc_column_t;

typedef struct cdc_rowdef_s {
    uint64_t fingerprint; /* identity of this column list (names + types) */
    bool typed;           /* false: schemaless, every type is CDC_T_UNKNOWN */
    uint32_t ncols;
    cdc_column_t *cols;
    bool kinds;           /* values may carry a JSON kind (cdc_value_t):
                             always when schemaless; typed, when a column's
                             text needs the connector's value modes */
} cdc_rowdef_t;

/* ---- values ---- */

typedef enum {
    CDC_V_NULL = 0,  /* SQL NULL */
    CDC_V_SET,       /* text holds the value */
    CDC_V_UNCHANGED, /* TOAST placeholder: keep whatever the row has */
    CDC_V_ABSENT     /* field not present in this record (schemaless) */
} cdc_vstate_t;

/* The JSON kind of a schemaless value as the decoder saw it: the only thing
 * besides the catalog type and the connector settings that tells two
 * encodings apart (an interval as ISO string or as a number of us). 0 =
 * not recorded (typed values, older producers): converters pass the text. */
typedef enum {
    CDC_JK_UNKNOWN = 0,
    CDC_JK_STRING,
    CDC_JK_NUMBER,
    CDC_JK_BOOL,   /* text "true" / "false" */
    CDC_JK_OBJECT, /* text is the object's compact JSON */
    CDC_JK_ARRAY   /* text is the array's compact JSON */
} cdc_json_kind_t;

typedef struct cdc_value_s {
    const char *text; /* NUL-terminated text form when state == CDC_V_SET */
    uint32_t len;
    uint8_t state;    /* cdc_vstate_t */
    uint8_t kind;     /* cdc_json_kind_t: set for a value whose text is
                         still Debezium's JSON encoding (schemaless rows);
                         the applier turns it into its column's input text
                         (schemas/convert.h) and resets it to 0; 0 = the
                         text is PostgreSQL input already */
} cdc_value_t;

/* ---- source position (DESIGN.md "Ordering") ---- */

typedef enum {
    CDC_POS_NONE = 0, /* no stable position: Kafka order only, never deduped */
    CDC_POS_PG,       /* part[0] = lsn_commit (or lsn if null), part[1] = lsn */
    CDC_POS_MYSQL     /* binlog file index, pos, row */
} cdc_poskind_t;

typedef struct cdc_position_s {
    uint8_t kind; /* cdc_poskind_t */
    uint8_t nparts;
    uint64_t part[3];
} cdc_position_t;

/* ---- the decoded event ---- */

/* One data_collection of a transaction END record: how many of the
 * transaction's events belong to that table. */
typedef struct cdc_txn_collection_s {
    const char *name;    /* "schema.table" (Debezium's data_collection) */
    int64_t event_count;
} cdc_txn_collection_t;

typedef enum {
    CDC_EV_CHANGE = 0, /* op c u d r t: goes to the applier */
    CDC_EV_TOMBSTONE,  /* Kafka null value: skipped, offset advances */
    CDC_EV_HEARTBEAT,  /* skipped */
    CDC_EV_MESSAGE,    /* op m (logical decoding message): skipped */
    CDC_EV_TXMETA      /* transaction BEGIN/END record: skipped */
} cdc_evkind_t;

typedef struct cdc_event_s {
    cdc_evkind_t kind;
    char op; /* 'c','u','d','r','t'; 0 when kind != CHANGE */

    /* from the source block; strings NUL-terminated, "" when absent */
    const char *connector;   /* "postgresql", "mysql", ... */
    const char *source_name; /* source.name, the connector's topic.prefix */
    const char *db;
    const char *schema;      /* target schema = source.schema (never topic) */
    const char *table;       /* target table  = source.table */
    cdc_position_t pos;
    bool snapshot;           /* source.snapshot is a snapshot value (not
                                "false"/null/"incremental") */
    bool incremental;        /* source.snapshot == "incremental" */
    int64_t source_ts_us;    /* source ts_us (or ts_ms*1000); 0 if absent;
                                a heartbeat: its ts_ms * 1000 */
    int64_t tx_id;           /* source.txId; -1 if absent */

    /* key (from the Kafka key); NULL/0 for truncate and keyless tables */
    const cdc_rowdef_t *keydef;
    cdc_value_t *key;        /* keydef->ncols values */

    /* the row: `after` for c/u/r, `before` for d (key-only under REPLICA
     * IDENTITY DEFAULT: non-key values there are not data). */
    const cdc_rowdef_t *rowdef;
    cdc_value_t *after;      /* rowdef->ncols values, or NULL */
    cdc_value_t *before;     /* rowdef->ncols values, or NULL */

    /* primary-key change: the old key from the __debezium.oldkey header of a
     * 'c' (same column list as keydef); NULL otherwise */
    cdc_value_t *old_key;

    /* Kafka origin, copied from the record */
    const char *topic;
    int32_t partition;
    int64_t offset;

    /* the `transaction` block (provide.transaction.metadata=true):
     * "<xid>:<lsn>" and 1-based orders; "" / -1 when absent */
    const char *txn_id;
    int64_t txn_total_order;
    int64_t txn_collection_order;

    /* kind TXMETA only (a BEGIN or END record of <prefix>.transaction):
     * txn_id is the record's "id"; tx_id its xid (the number before ':' of
     * PostgreSQL's "<xid>:<lsn>", which differs between BEGIN, events and
     * END: correlate on tx_id = the events' source.txId), -1 when the id
     * has another form (then the whole id names the transaction). END
     * gives the transaction's event count, in total and per table; -1 /
     * none on BEGIN. */
    bool txn_end;
    int64_t txn_event_count;
    const cdc_txn_collection_t *txn_collections; /* arena */
    size_t txn_ncollections;
} cdc_event_t;

/* Copies *src into *dst with everything it points to that an arena holds
 * (its strings, key/row/old-key values and their texts, the transaction's
 * collections) taken into arena: *dst stays valid after src's arena is
 * reset. The rowdefs are shared (the decoder's, see above). The arrays
 * have the lengths the fields above give (keydef/rowdef->ncols): src must
 * be a decoded event, not one whose decode failed. Costs a memcpy of the
 * event's texts, no parse. Errors: CDC_ERR_NOMEM (*dst then points partly
 * into src's arena: do not use it). */
cdc_err_t cdc_event_copy(const cdc_event_t *src, cdc_arena_t *arena,
                         cdc_event_t *dst) CDC_MUSTCHECK;

#endif
