/* sql.c - the queries each side runs. Values travel as parameters (the
 * canonical texts, cast back to each side's own column type); identifiers
 * are quoted. Internal aliases start with _cdcv_. */
#include <string.h>

#include "verify/verify_int.h"

/* (k1, ..., kn) OP ($p::t1, ...) for the first b->n key columns */
static void bound(cdc_buf_t *q, const vtable_t *t, int side, const char *op,
                  const vbound_t *b, const char **params, int *np) {
    cdc_buf_adds(q, " AND (");
    for (size_t j = 0; j < b->n; j++)
        cdc_buf_printf(q, "%s%s", j ? ", " : "", t->cols[t->keyi[j]].qname);
    cdc_buf_printf(q, ") %s (", op);
    for (size_t j = 0; j < b->n; j++) {
        params[(*np)++] = b->v[j];
        cdc_buf_printf(q, "%s$%d::%s", j ? ", " : "", *np,
                       t->cols[t->keyi[j]].type[side]);
    }
    cdc_buf_addc(q, ')');
}

static void key_part(cdc_buf_t *b, const vtable_t *t, int side);

void cdc_verify_sql_range(cdc_buf_t *b, const vtable_t *t, int side,
                          const vbound_t *lo, const vbound_t *hi,
                          const char *parts, const char **params, int *np) {
    cdc_buf_printf(b, " FROM %s WHERE true", t->qname[side]);
    if (lo && lo->n)
        bound(b, t, side, ">=", lo, params, np);
    if (hi && hi->n)
        bound(b, t, side, "<", hi, params, np);
    if (parts) {
        params[(*np)++] = parts;
        cdc_buf_adds(b, " AND ");
        key_part(b, t, side);
        cdc_buf_printf(b, " = ANY($%d::int[])", *np);
    }
    if (side == SIDE_REP) /* the replica's live rows */
        cdc_buf_adds(b, " AND NOT \"_cdc_deleted\"");
}

/* the key columns, their canonical texts and the hash of each row of the
 * range, not inlined (OFFSET 0) so each row is hashed once */
static void rows_src(cdc_buf_t *b, const vtable_t *t, int side,
                     const vbound_t *lo, const vbound_t *hi, const char *parts,
                     const char **params, int *np) {
    cdc_buf_printf(b, "(SELECT %s", t->keylist);
    for (size_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(b, ", %s AS _cdcv_k%zu",
                       t->cols[t->keyi[j]].canon[side], j);
    cdc_buf_printf(b, ", %s AS _cdcv_h", t->hash[side]);
    cdc_verify_sql_range(b, t, side, lo, hi, parts, params, np);
    cdc_buf_adds(b, " OFFSET 0) _cdcv_r");
}

/* A chunk ends before each row whose hash has its `bits` low bits zero:
 * the edges depend on the rows only, so both sides cut equal data at the
 * same keys. Chunk 0 starts at the range's start (no first key). */
void cdc_verify_sql_chunks(cdc_buf_t *b, const vtable_t *t, int side,
                           const vbound_t *lo, const vbound_t *hi,
                           unsigned bits, const char **params, int *np) {
    unsigned long long mask = (1ULL << bits) - 1;
    cdc_buf_adds(b, "SELECT _cdcv_g, count(*), sum(_cdcv_h)::text");
    for (size_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(b, ", max(_cdcv_k%zu) FILTER (WHERE _cdcv_h & %llu "
                       "= 0)", j, mask);
    cdc_buf_printf(b, " FROM (SELECT *, count(*) FILTER (WHERE _cdcv_h & %llu"
                   " = 0) OVER (ORDER BY %s ROWS UNBOUNDED PRECEDING) AS "
                   "_cdcv_g FROM ", mask, t->keylist);
    rows_src(b, t, side, lo, hi, NULL, params, np);
    cdc_buf_adds(b, ") _cdcv_c GROUP BY 1 ORDER BY 1");
}

/* A row's part (0..CDC_VERIFY_PARTS-1) depends on its key only, the same
 * number on both sides: the low bits of an integer first key column
 * (cheap; consecutive keys spread over all parts), else 6 bits of the md5
 * of the key's canonical texts. */
static void key_part(cdc_buf_t *b, const vtable_t *t, int side) {
    const vcol_t *k = &t->cols[t->keyi[0]];
    bool intkey = true;
    for (int s = 0; s < 2; s++)
        intkey &= !strcmp(k->type[s], "bigint") ||
                  !strcmp(k->type[s], "integer") ||
                  !strcmp(k->type[s], "smallint");
    if (intkey) {
        cdc_buf_printf(b, "(%s & %d)", k->qname, CDC_VERIFY_PARTS - 1);
        return;
    }
    cdc_buf_adds(b, "(('x' || left(md5(ROW(");
    cdc_buf_adds(b, t->keycanon[side]);
    cdc_buf_printf(b, ")::text), 2))::bit(8)::int & %d)",
                   CDC_VERIFY_PARTS - 1);
}

void cdc_verify_sql_rows(cdc_buf_t *b, const vtable_t *t, int side,
                         const vbound_t *lo, const vbound_t *hi,
                         const char *parts, const char **params, int *np) {
    cdc_buf_adds(b, "SELECT ");
    for (size_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(b, "_cdcv_k%zu, ", j);
    cdc_buf_adds(b, "_cdcv_h::text FROM ");
    rows_src(b, t, side, lo, hi, parts, params, np);
    cdc_buf_printf(b, " ORDER BY %s", t->keylist);
}

/* Rows are hashed where they lie (no OFFSET 0 fence) so PostgreSQL can
 * aggregate with parallel workers; width_bucket() numbers the buckets
 * between the thresholds in the side's own key order. */
void cdc_verify_sql_groups(cdc_buf_t *b, const vtable_t *t, int side,
                           const vbound_t *lo, const vbound_t *hi,
                           const char *thresholds, const char **params,
                           int *np) {
    cdc_buf_adds(b, "SELECT ");
    if (thresholds) {
        params[(*np)++] = thresholds;
        cdc_buf_printf(b, "width_bucket(%s, $%d::%s[]) * %d + ",
                       t->cols[t->keyi[0]].qname, *np,
                       t->cols[t->keyi[0]].type[side], CDC_VERIFY_PARTS);
    }
    key_part(b, t, side);
    cdc_buf_printf(b, ", count(*), sum(%s)::text", t->hash[side]);
    cdc_verify_sql_range(b, t, side, lo, hi, NULL, params, np);
    cdc_buf_adds(b, " GROUP BY 1");
}

void cdc_verify_array_lit(cdc_buf_t *b, char *const *v, size_t n) {
    cdc_buf_addc(b, '{');
    for (size_t i = 0; i < n; i++) {
        cdc_buf_adds(b, i ? ",\"" : "\"");
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                cdc_buf_addc(b, '\\');
            cdc_buf_addc(b, *s);
        }
        cdc_buf_addc(b, '"');
    }
    cdc_buf_addc(b, '}');
}

void cdc_verify_sql_fetch(cdc_buf_t *b, const vtable_t *t, int side) {
    cdc_buf_printf(b, "SELECT %s", t->keycanon[side]);
    for (size_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(b, ", md5(%s)", t->cols[i].canon[side]);
    cdc_verify_sql_range(b, t, side, NULL, NULL, NULL, NULL, NULL);
    cdc_buf_printf(b, " AND (%s) IN (SELECT * FROM unnest(", t->keylist);
    for (size_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(b, "%s$%zu::%s[]", j ? ", " : "", j + 1,
                       t->cols[t->keyi[j]].type[side]);
    cdc_buf_adds(b, "))");
}
