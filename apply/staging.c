/* staging.c - the merge's rows through a staging table: for tables whose
 * positions are numeric[] (format 1: an array parameter cannot carry
 * them) and the A/B (a->stg_copy, bench/apply's STAGING=1); every other
 * table's merge reads its rows from array parameters (onetrip.c).
 *
 * The rows are COPYed into a temporary staging table with columns
 * c0..cN: of the target's types, by COPY binary (copybin.c), when every
 * column has a binary form there, else text columns by COPY text, cast by
 * the merge (created once per session and table entry; every statement
 * reads only its attempt's rows, by tag, and the table is truncated once
 * it holds APPLY_STG_TRUNCATE_ROWS rows, not at every commit); then the
 * shapes' statements (merge.c's cdc_apply_shape_sql over
 * "pg_temp.stg s WHERE s._cdc_tag = $1"), the savepoint's release and,
 * when the batch may end there, COMMIT follow the COPY in its query
 * string: two round trips an attempt. */
#include "apply/apply_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

/* The staging table keeps the rows of earlier attempts (each statement
 * skips them by tag, at the cost of scanning them: ~0.3 us a row) until it
 * holds this many: then the next attempt truncates it first (~0.6 ms, a
 * new file set). Small batches truncate every few dozen commits; batches
 * that merge this many rows or more truncate at every one, as ON COMMIT
 * DELETE ROWS did (in place: ~0.45 ms cheaper), but no longer truncate
 * the session's other staging tables, which ON COMMIT did at every
 * commit (~0.2 ms each). */
#define APPLY_STG_TRUNCATE_ROWS 512

/* The staging table of t: column i of the table is staging column c<i>, so
 * no source column name (say "_cdc_tag") can collide with the staging
 * table's own columns. Errors: STATE (PostgreSQL refused a temporary table:
 * nothing a record did, so the batch fails whole), PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_stg_ensure(cdc_apply_t *a, const cdc_schema_table_t *t,
                               apply_tbl_t *p) {
    if (p->stg_ready)
        return CDC_OK;
    if (cdc_apply_bin_plan(t, p) != CDC_OK)
        return CDC_ERR_NOMEM;
    /* typed when every column has a binary form: COPY binary stores each
     * value once, parsed by its receive function (cheap but for jsonb),
     * and the merge's casts to the same types do nothing; else text
     * columns: COPY text only stores the bytes and each value is parsed
     * once, by the cast in the merge (a typed staging table filled by
     * COPY text parses every value twice: measured 0.30 vs 0.5+ of raw
     * COPY for inserts) */
    p->stg_typed = p->bin_ok && !a->copy_text && !a->stg_text;
    if (p->stg_typed) { /* its own name: the types are part of it */
        uint64_t h = cdc_hash(CDC_HASH_INIT, &t->id, sizeof t->id);
        for (uint32_t i = 0; i < t->ncols; i++)
            h = cdc_hash(h, t->cols[i].sqltype, strlen(t->cols[i].sqltype) + 1);
        snprintf(p->stg, sizeof p->stg, "\"_cdc_stb_%016" PRIx64 "\"", h);
    }
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_err_t err;
    cdc_buf_printf(&q, "CREATE TEMP TABLE IF NOT EXISTS %s (", p->stg);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&q, "c%u %s, ", i,
                       p->stg_typed ? t->cols[i].sqltype : "text");
    cdc_buf_printf(&q, "_cdc_position %s, _cdc_op char(1), "
                   "_cdc_source_ts timestamptz, _cdc_tag int8",
                   t->pos_numeric ? "numeric[]" : "bytea");
    for (uint32_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(&q, ", _cdc_ok_%u %s", j,
                       p->stg_typed ? t->cols[t->key_cols[j]].sqltype
                                    : "text");
    for (uint32_t i = 0; i < t->ncols; i++) /* carried values' positions */
        cdc_buf_printf(&q, ", p%u %s", i, t->pos_numeric ? "numeric[]" : "bytea");
    /* rows are kept at commit: ON COMMIT DELETE ROWS truncates the table
     * (and rebuilds its TOAST index) at every commit, a fifth of the
     * server's CPU for batches of 20 events (measured); attempt_run
     * truncates it now and then instead */
    cdc_buf_adds(&q, ")");
    char **sqls[4] = {&p->copy_sql, &p->copy_carry_sql, &p->copy_text_sql,
                      &p->copy_carry_text_sql};
    for (int k = 0; k < 4; k++) {
        free(*sqls[k]);
        *sqls[k] = NULL;
    }
    if (q.oom) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    err = cdc_apply_pg_exec(a, q.data, 0, NULL, NULL, CDC_ERR_STATE,
                            "create staging");
    if (err != CDC_OK)
        goto out;
    /* copy_sql, copy_carry_sql: binary when typed; then the text forms */
    for (int k = 0; k < (p->stg_typed ? 4 : 2); k++) {
        bool carry = k % 2, bin = p->stg_typed && k < 2;
        cdc_buf_reset(&q);
        /* the attempt's savepoint in the same round trip */
        cdc_buf_printf(&q, "SAVEPOINT cdc_g; COPY pg_temp.%s (", p->stg);
        for (uint32_t i = 0; i < t->ncols; i++)
            cdc_buf_printf(&q, "c%u, ", i);
        cdc_buf_adds(&q, "_cdc_position, _cdc_op, _cdc_source_ts, _cdc_tag");
        for (uint32_t j = 0; j < t->nkey; j++)
            cdc_buf_printf(&q, ", _cdc_ok_%u", j);
        for (uint32_t i = 0; carry && i < t->ncols; i++)
            cdc_buf_printf(&q, ", p%u", i);
        cdc_buf_printf(&q, ") FROM STDIN%s%s", bin ? " (FORMAT binary)" : "",
                       cdc_apply_copy_where(a));
        if (q.oom) {
            err = CDC_ERR_NOMEM;
            goto out;
        }
        *sqls[k] = q.data;
        q = (cdc_buf_t)CDC_BUF_INIT;
    }
    p->stg_ready = true;
out:
    cdc_buf_free(&q);
    return err;
}

/* What one statement after the COPY in an attempt's query string is: its
 * result, in order, says what happened to it (read_tail). */
typedef struct tail_st_s {
    enum { T_COPY, T_PREPARE, T_EXEC, T_DEALLOC, T_RELEASE, T_COMMIT } kind;
    size_t shape;  /* T_PREPARE of a kept shape, T_EXEC: its shape; else
                      SIZE_MAX */
    char name[24]; /* T_PREPARE, T_DEALLOC: the statement's name */
} tail_st_t;

/* Appends to q (and sts, *n) the statements that run shape s for its rows
 * of tag, after the COPY in the same query string. A shape without a join
 * (the plain upsert, soft delete, snapshot reset) is prepared once per
 * session, so PostgreSQL does not parse and plan it again every batch
 * (about 4% of the server's CPU on the mixed streams, measured); a shape
 * that joins the target table (carried values, primary-key change, hard
 * delete) is prepared, run and deallocated in the attempt: planned for the
 * staging table's size then (a plan kept from a large batch could scan the
 * whole table for a small one). */
static void add_shape(cdc_apply_t *a, apply_tbl_t *p, size_t s, int64_t tag,
                      cdc_buf_t *q, tail_st_t *sts, size_t *n) {
    apply_shape_t *sh = &p->shapes[s];
    bool keep = !(sh->flags & (APPLY_SH_CARRY | APPLY_SH_OLDKEY |
                               APPLY_SH_HARD));
    char name[24];
    if (keep && sh->stmt[0]) {
        snprintf(name, sizeof name, "%s", sh->stmt);
    } else { /* named once the prepare succeeds */
        snprintf(name, sizeof name, "cdc_%c%" PRIu64, keep ? 'm' : 'j',
                 ++a->stmt_serial);
        tail_st_t *t = &sts[(*n)++];
        *t = (tail_st_t){T_PREPARE, keep ? s : SIZE_MAX, ""};
        memcpy(t->name, name, sizeof name);
        cdc_buf_printf(q, "; PREPARE %s (int8) AS %s", name, sh->sql);
    }
    sts[(*n)++] = (tail_st_t){T_EXEC, s, ""};
    cdc_buf_printf(q, "; EXECUTE %s (%" PRId64 ")", name, tag);
    if (!keep) {
        tail_st_t *t = &sts[(*n)++];
        *t = (tail_st_t){T_DEALLOC, SIZE_MAX, ""};
        memcpy(t->name, name, sizeof name);
        cdc_buf_printf(q, "; DEALLOCATE %s", name);
    }
}

/* Appends to q, after the COPY, the used shapes (primary-key changes
 * first: they read the old key's row as it was before this group's other
 * statements change or delete it), the release of the attempt's savepoint
 * and, when the batch may end here (a->commit_tail), COMMIT: PostgreSQL
 * runs them when the COPY's data ends, so the attempt costs two round
 * trips and the batch's last one ends it. sts gets their kinds, from the
 * COPY on; *n their count. */
static void add_tail(cdc_apply_t *a, apply_tbl_t *p, const bool *used,
                     int64_t tag_base, cdc_buf_t *q, tail_st_t *sts,
                     size_t *n) {
    *n = 0;
    sts[(*n)++] = (tail_st_t){T_COPY, SIZE_MAX, ""};
    for (size_t k = 0; k < 2 * p->nshapes; k++) {
        size_t s = k % p->nshapes;
        bool first = (p->shapes[s].flags & APPLY_SH_OLDKEY) != 0;
        if (used[s] && first == (k < p->nshapes))
            add_shape(a, p, s, tag_base | (int64_t)s, q, sts, n);
    }
    sts[(*n)++] = (tail_st_t){T_RELEASE, SIZE_MAX, ""};
    cdc_buf_adds(q, "; RELEASE SAVEPOINT cdc_g");
    if (a->commit_tail) {
        sts[(*n)++] = (tail_st_t){T_COMMIT, SIZE_MAX, ""};
        cdc_buf_adds(q, "; COMMIT");
    }
}

/* Reads the results of the COPY and the statements after it (sts[0..n)):
 * rows the shapes changed into *affected, the names of shapes prepared,
 * a->committed. The first refusal: REJECTED (the COPY, a shape; the
 * transaction is then aborted and the rest did not run), PG_DOWN (the
 * release), STATE (COMMIT: a deferred constraint refused the
 * transaction, which is gone), reason in a->errstr, unless ignore (the
 * COPY was ended on purpose). *leak: a one-shot statement left prepared by
 * the refusal ("" none). */
static cdc_err_t read_tail(cdc_apply_t *a, apply_tbl_t *p,
                           const tail_st_t *sts, size_t n, bool ignore,
                           size_t *affected, char *leak) {
    cdc_err_t err = CDC_OK;
    PGresult *r;
    size_t k = 0;
    leak[0] = '\0';
    for (; (r = PQgetResult(a->conn)) != NULL; k++) {
        const tail_st_t *t = k < n ? &sts[k] : NULL;
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (ok && t && t->kind == T_COMMIT &&
            strcmp(PQcmdStatus(r), "COMMIT") != 0) {
            PQclear(r); /* said ROLLBACK: cannot happen after no error */
            cdc_errstr_set(a->errstr, sizeof a->errstr, "commit: the "
                           "server rolled the transaction back");
            err = CDC_ERR_STATE;
            continue;
        }
        if (!ok && err == CDC_OK && !ignore && t) {
            err = cdc_apply_pg_fail(a, r,
                                    t->kind == T_COMMIT    ? CDC_ERR_STATE
                                    : t->kind == T_RELEASE ? CDC_ERR_PG_DOWN
                                                           : CDC_ERR_REJECTED,
                                    t->kind == T_COMMIT    ? "commit"
                                    : t->kind == T_RELEASE ? "release"
                                    : t->kind == T_COPY    ? "copy"
                                                           : "merge");
            continue; /* pg_fail cleared r */
        }
        if (ok && t && t->kind == T_PREPARE) {
            if (t->shape != SIZE_MAX)
                memcpy(p->shapes[t->shape].stmt, t->name, sizeof t->name);
            else
                memcpy(leak, t->name, sizeof t->name);
        } else if (ok && t && t->kind == T_DEALLOC) {
            leak[0] = '\0';
        } else if (ok && t && t->kind == T_EXEC) {
            *affected += strtoul(PQcmdTuples(r), NULL, 10);
        } else if (ok && t && t->kind == T_COMMIT) {
            a->committed = true;
            a->in_txn = false;
        }
        PQclear(r);
    }
    if (PQstatus(a->conn) != CONNECTION_OK) {
        a->committed = false; /* not known: the batch is tried again */
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy");
    }
    return err;
}

/* ---- one attempt: COPY rows[0..n) and run their shapes ---- */

/* A staging line of r: values, metadata, tag, old key; with carry, the
 * position of the event behind each carried value (\\N elsewhere). */
static void copy_row(cdc_buf_t *b, const apply_groups_t *gs,
                     const cdc_schema_table_t *t, const apply_shape_t *sh,
                     const apply_row_t *r, int64_t tag, bool carry) {
    cdc_apply_copy_row_head(b, t, r);
    cdc_buf_printf(b, "\t%" PRId64, tag);
    for (uint32_t j = 0; j < t->nkey; j++) {
        cdc_buf_addc(b, '\t');
        if (r->old_key)
            cdc_apply_copy_value(b, &r->old_key[j]);
        else
            cdc_buf_add(b, "\\N", 2);
    }
    for (uint32_t i = 0; carry && i < t->ncols; i++) {
        cdc_buf_addc(b, '\t');
        if (sh->col[i] >= APPLY_COL_CARRY)
            cdc_apply_copy_pos(b, &gs->events[r->setter[i]]->pos,
                               CDC_POS_COPY |
                                   (t->pos_numeric ? CDC_POS_NUMERIC : 0));
        else
            cdc_buf_add(b, "\\N", 2);
    }
    cdc_buf_addc(b, '\n');
}

/* The COPY data of rows[0..n) into b, sent every APPLY_COPY_FLUSH: text
 * lines, or with bin binary tuples (*refused, and nothing more sent, when
 * the encoder refuses a value). used[s]: shape s has rows. */
static cdc_err_t copy_data(cdc_apply_t *a, const apply_groups_t *gs,
                           const cdc_schema_table_t *t, const apply_tbl_t *p,
                           apply_row_t **rows, size_t n, int64_t tag_base,
                           bool carry, bool bin, bool *used, bool *refused) {
    cdc_buf_t *b = &a->copybuf;
    cdc_err_t err = CDC_OK;
    const cdc_position_t **cpos = NULL;
    cdc_buf_reset(b);
    if (bin) {
        cdc_apply_bin_header(b);
        if (carry &&
            !(cpos = calloc(t->ncols ? t->ncols : 1, sizeof *cpos)))
            return CDC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && err == CDC_OK && !*refused; i++) {
        const apply_shape_t *sh = &p->shapes[rows[i]->shape];
        int64_t tag = tag_base | rows[i]->shape;
        used[rows[i]->shape] = true;
        if (!bin) {
            copy_row(b, gs, t, sh, rows[i], tag, carry);
        } else {
            for (uint32_t c = 0; cpos && c < t->ncols; c++)
                cpos[c] = sh->col[c] >= APPLY_COL_CARRY
                              ? &gs->events[rows[i]->setter[c]]->pos
                              : NULL;
            *refused = !cdc_apply_bin_stg_row(b, t, p->bin_kinds, rows[i],
                                              tag, cpos);
        }
        if (b->len >= APPLY_COPY_FLUSH && !*refused)
            err = cdc_apply_pg_copy_send(a, b);
    }
    err = cdc_apply_pg_copy_last(a, b, bin, *refused, err);
    free(cpos);
    return err;
}

/* After the binary encoder refused a staging value: attempts of the table
 * go as COPY text for this many */
#define APPLY_STG_BIN_SKIP 16

/* Reads the results of the query string up to its COPY: REJECTED (the
 * reason in a->errstr) when a statement before it failed. */
static cdc_err_t copy_started(cdc_apply_t *a) {
    PGresult *r;
    cdc_err_t err = CDC_OK;
    while ((r = PQgetResult(a->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN) {
            PQclear(r);
            return CDC_OK;
        }
        if (st != PGRES_COMMAND_OK && err == CDC_OK) {
            err = cdc_apply_pg_fail(a, r, CDC_ERR_REJECTED, "copy");
            continue;
        }
        PQclear(r);
    }
    if (err == CDC_OK || PQstatus(a->conn) != CONNECTION_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy");
    return err;
}

/* Makes the staging statement of each used shape that has none yet (made
 * once the staging table is; kept in the shape). false when out of
 * memory: a half-made statement is freed, never kept for the next try. */
static bool shapes_sql(const cdc_apply_t *a, const cdc_schema_table_t *t,
                       apply_tbl_t *p, const bool *used) {
    char from[64];
    snprintf(from, sizeof from, "pg_temp.%s s", p->stg);
    for (size_t s = 0; s < p->nshapes; s++) {
        if (!used[s] || p->shapes[s].sql)
            continue;
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_apply_shape_sql(a, &b, t, from, "s._cdc_tag = $1", &p->shapes[s]);
        if (b.oom) {
            cdc_buf_free(&b);
            return false;
        }
        p->shapes[s].sql = b.data;
    }
    return true;
}

/* One query string: the savepoint and the COPY of rows (carrying the
 * batch's opening statements in front when they are still held: see
 * apply.c), then, run by PostgreSQL when the COPY's data ends, the
 * shapes, the release and, when the batch may end here, COMMIT
 * (add_tail): two round trips in all. On a server error leaves the reason
 * in a->errstr and returns REJECTED (the caller rolls back to the
 * savepoint; *leak names a one-shot statement to deallocate then). A
 * typed staging table is filled by COPY binary; a value the encoder
 * refuses aborts that COPY and the attempt runs again as COPY text.
 * *affected counts rows the merge changed. */
cdc_err_t cdc_apply_stg_attempt(cdc_apply_t *a, const apply_groups_t *gs,
                                cdc_schema_table_t *t, apply_tbl_t *p,
                                apply_row_t **rows, size_t n,
                                size_t *affected, char *leak) {
    bool carry = false; /* the wider COPY only when a row needs it */
    for (size_t i = 0; i < n && !carry; i++)
        carry = (p->shapes[rows[i]->shape].flags & APPLY_SH_CARRY) != 0;
    bool bin = p->stg_typed && !p->stg_bin_skip, refused = false;
    if (p->stg_typed && p->stg_bin_skip)
        p->stg_bin_skip--;
    const char *copy = carry ? (bin || !p->stg_typed ? p->copy_carry_sql
                                                     : p->copy_carry_text_sql)
                             : (bin || !p->stg_typed ? p->copy_sql
                                                     : p->copy_text_sql);
    int64_t tag_base = (int64_t)(++a->tag_serial << 16);
    bool *used = calloc(p->nshapes ? p->nshapes : 1, sizeof *used);
    tail_st_t *sts = calloc(3 * p->nshapes + 3, sizeof *sts);
    size_t nst = 0;
    cdc_buf_t q = CDC_BUF_INIT;
    *affected = 0;
    leak[0] = '\0';
    if (!used || !sts) {
        free(used);
        free(sts);
        return CDC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        used[rows[i]->shape] = true;
    q.oom |= !shapes_sql(a, t, p, used);
    if (p->stg_rows >= APPLY_STG_TRUNCATE_ROWS) { /* before the savepoint */
        cdc_buf_printf(&q, "TRUNCATE pg_temp.%s; ", p->stg);
        p->stg_rows = 0;
    }
    p->stg_rows += n;
    cdc_buf_adds(&q, copy);
    add_tail(a, p, used, tag_base, &q, sts, &nst);
    cdc_err_t err = q.oom ? CDC_ERR_NOMEM : cdc_apply_pre_send(a, q.data);
    cdc_buf_free(&q);
    if (err == CDC_OK)
        err = copy_started(a);
    if (err != CDC_OK) {
        free(used);
        free(sts);
        return err;
    }
    err = copy_data(a, gs, t, p, rows, n, tag_base, carry, bin, used,
                    &refused);
    bool ok = err == CDC_OK && !refused;
    if (PQputCopyEnd(a->conn, ok ? NULL : "aborted") != 1 && err == CDC_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy end");
    cdc_err_t terr = read_tail(a, p, sts, nst, !ok, affected, leak);
    if (err == CDC_OK)
        err = terr;
    free(used);
    free(sts);
    if (err == CDC_OK && refused) { /* again, as text */
        p->stg_bin_skip = APPLY_STG_BIN_SKIP;
        *affected = 0;
        err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_g; RELEASE "
                                "SAVEPOINT cdc_g", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "rollback to savepoint");
        return err == CDC_OK ? cdc_apply_stg_attempt(a, gs, t, p, rows, n,
                                                     affected, leak)
                             : err;
    }
    return err;
}
