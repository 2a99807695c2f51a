/* direct.c - the fast path for inserts: the rows of a group that are plain
 * inserts (op c or r, every column given, no primary-key change) are
 * COPYed straight into their table under a savepoint, as raw COPY would;
 * the group's other rows take the guarded merge (merge.c) first, so a
 * primary-key change reads its old key's row before a fast-path insert of
 * that key could land (apply.c runs the two).
 *
 * A key the table already holds makes that COPY fail (unique violation); it
 * is rolled back and those rows take the guarded merge too, which then
 * decides. After such a miss the table skips the fast path for a while (a
 * replay after a restart is made of such keys).
 * A table's truncate fence (truncate.c) is read in the same round trip as
 * the savepoint, after taking the table's ROW EXCLUSIVE lock (as the COPY
 * would): rows with one at or below it take the merge, which lands
 * such rows as the truncate left the table.
 * The savepoint, the fence read and the COPY go in one query string, and
 * the release after the COPY in it: two round trips a group.
 * The COPY is binary (copybin.c) when every column's type has a binary
 * form there and the encoder takes every value; a value it refuses sends
 * the group as text (the table then stays on text for a few groups).
 * Does not: guard positions (fresh inserts have nothing to guard against) or
 * reject records (a miss is no error). */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

#define DIRECT_SKIP_AFTER_MISS 16

static bool eligible(const cdc_schema_table_t *t, const apply_row_t *r) {
    if ((r->op != 'c' && r->op != 'r') || r->deleted || r->old_key)
        return false;
    for (uint32_t c = 0; c < t->ncols; c++)
        if (r->vals[c].state != CDC_V_SET && r->vals[c].state != CDC_V_NULL)
            return false;
    return true;
}

size_t cdc_apply_direct_pick(apply_group_t *g, bool all) {
    apply_tbl_t *p = g->tbl->priv;
    size_t n = 0;
    if (p->direct_skip) {
        p->direct_skip--;
        return 0;
    }
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        bool take = eligible(g->tbl, r);
        if (!take && all)
            break;
        n += take;
        r->path = take ? APPLY_PATH_DIRECT : APPLY_PATH_MERGE;
    }
    if (all && n != g->nrows) { /* not every row: none */
        for (apply_row_t *r = g->rows_head; r; r = r->gnext)
            r->path = APPLY_PATH_MERGE;
        n = 0;
    }
    return n;
}

/* Sets the path of g's rows on path from to to; returns their count. */
static size_t repath(apply_group_t *g, uint8_t from, uint8_t to) {
    size_t n = 0;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext)
        if (r->path == from) {
            r->path = to;
            n++;
        }
    return n;
}

/* "COPY tbl (cols, _cdc_position, _cdc_op, _cdc_source_ts, _cdc_synced_at)
 * FROM STDIN", and its FORMAT binary twin with the columns' binary kinds,
 * each ending in cdc_apply_copy_where's clause, made once per table entry.
 * NOMEM only. */
static cdc_err_t direct_sql(const cdc_apply_t *a, const cdc_schema_table_t *t,
                            apply_tbl_t *p) {
    if (p->direct_sql)
        return CDC_OK;
    const char *where = cdc_apply_copy_where(a);
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_buf_printf(&q, "COPY %s (", t->qname);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&q, "%s, ", t->cols[i].qname);
    for (int m = CDC_META_POSITION; m <= CDC_META_SYNCED_AT; m++)
        cdc_buf_printf(&q, "%s%s", cdc_schema_meta_names[m],
                       m < CDC_META_SYNCED_AT ? ", " : ") FROM STDIN");
    cdc_buf_t bin = CDC_BUF_INIT;
    if (!q.oom)
        cdc_buf_printf(&bin, "%s (FORMAT binary)%s", q.data, where);
    cdc_buf_adds(&q, where);
    if (q.oom || bin.oom || cdc_apply_bin_plan(t, p) != CDC_OK) {
        cdc_buf_free(&q);
        cdc_buf_free(&bin);
        return CDC_ERR_NOMEM;
    }
    p->direct_sql = q.data;
    p->direct_bin_sql = bin.data;
    return CDC_OK;
}

/* the transaction's start (now(), as 'now' in a COPY text line) in
 * microseconds since 1970: exact (numeric since PostgreSQL 14; before, a
 * double within 0.25 us of it, rounded) */
#define DIRECT_NOW_US "(extract(epoch FROM now()) * 1000000)::int8"

/* The statement that opens the savepoint: with streaming rows, it also
 * locks the table and counts the fences at or above their lowest position
 * (the result's first column); with bin, the transaction's start in
 * microseconds (its second). NOMEM only. */
static cdc_err_t open_sql(cdc_apply_t *a, const apply_group_t *g, bool bin,
                          cdc_buf_t *q) {
    const cdc_position_t *low = NULL;
    for (const apply_row_t *r = g->rows_head; r; r = r->gnext)
        if (r->path == APPLY_PATH_DIRECT && !r->reset && r->pos.kind != CDC_POS_NONE && r->pos.nparts &&
            (!low || cdc_apply_pos_cmp(&r->pos, low) < 0))
            low = &r->pos;
    cdc_buf_adds(q, "SAVEPOINT cdc_d");
    if (!low || a->truncate_mode == CDC_TRUNCATE_IGNORE) {
        if (bin)
            cdc_buf_adds(q, "; SELECT 0, " DIRECT_NOW_US);
        return q->oom ? CDC_ERR_NOMEM : CDC_OK;
    }
    cdc_buf_t pos = CDC_BUF_INIT;
    cdc_apply_copy_pos(&pos, low, 0);
    char *lit = pos.oom ? NULL : PQescapeLiteral(a->conn, pos.data, pos.len);
    cdc_buf_printf(q, "; LOCK TABLE %s IN ROW EXCLUSIVE MODE; SELECT (SELECT "
                      "count(*) FROM (SELECT ", g->tbl->qname);
    cdc_apply_fence_value(a, q, g->tbl, "position");
    cdc_buf_printf(q, " AS f) x WHERE f >= %s::bytea)%s", lit ? lit : "NULL",
                   bin ? ", " DIRECT_NOW_US : "");
    cdc_buf_free(&pos);
    if (!lit)
        return CDC_ERR_NOMEM;
    PQfreemem(lit);
    return q->oom ? CDC_ERR_NOMEM : CDC_OK;
}

/* Sends sql (the open statement, the COPY and the release, one query
 * string) and reads the results up to the COPY: *started when the
 * connection is in COPY IN; *fenced when the fence count is not 0 or
 * PostgreSQL refused a statement before the COPY (the merge then decides:
 * say, no right to lock); *now_us (0 when unreadable) from the open
 * statement's second column. Errors: PG_DOWN. */
static cdc_err_t open_copy(cdc_apply_t *a, const char *sql, bool *started,
                           bool *fenced, int64_t *now_us) {
    PGresult *r;
    *started = *fenced = false;
    *now_us = 0;
    /* the batch's opening statements in front, when still held */
    cdc_err_t err = cdc_apply_pre_send(a, sql);
    if (err != CDC_OK)
        return err;
    while ((r = PQgetResult(a->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN) { /* no more results before its data */
            PQclear(r);
            *started = true;
            break;
        }
        if (st == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            *fenced |= strcmp(PQgetvalue(r, 0, 0), "0") != 0;
            if (PQnfields(r) == 2 &&
                cdc_codec_parse_i64(PQgetvalue(r, 0, 1),
                                    (size_t)PQgetlength(r, 0, 1),
                                    now_us) != 0)
                *now_us = 0;
        } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            *fenced = true;
        }
        PQclear(r);
    }
    if (PQstatus(a->conn) != CONNECTION_OK)
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "savepoint");
    return CDC_OK;
}

/* Ends a started COPY (with an error when !ok) and reads its results and
 * the release's; *failed unless all succeeded. The third result is the
 * COMMIT's that may follow them (a->commit_tail): it sets a->committed;
 * its refusal (a deferred constraint: the transaction is gone) is STATE,
 * its reason in a->errstr. */
static cdc_err_t copy_end(cdc_apply_t *a, bool ok, bool *failed) {
    PGresult *r;
    cdc_err_t err = CDC_OK;
    if (PQputCopyEnd(a->conn, ok ? NULL : "aborted") != 1 || !ok)
        *failed = true;
    for (int k = 0; (r = PQgetResult(a->conn)) != NULL; k++) {
        bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (k < 2 || !a->commit_tail) {
            *failed |= !good;
        } else if (good && strcmp(PQcmdStatus(r), "COMMIT") == 0) {
            a->committed = true;
            a->in_txn = false;
        } else if (err == CDC_OK) {
            err = good ? CDC_ERR_STATE
                       : cdc_apply_pg_fail(a, r, CDC_ERR_STATE, "commit");
            if (good)
                cdc_errstr_set(a->errstr, sizeof a->errstr, "commit: the "
                               "server rolled the transaction back");
            else
                continue; /* pg_fail cleared r */
        }
        PQclear(r);
    }
    return err;
}

/* Appends row to b in the COPY's format: false when the binary encoder
 * refused a value. */
static bool copy_line(cdc_buf_t *b, const apply_group_t *g,
                      const apply_tbl_t *p, const apply_row_t *row, bool bin,
                      int64_t now_us) {
    if (bin)
        return cdc_apply_bin_row(b, g->tbl, p->bin_kinds, row, now_us);
    cdc_apply_copy_row_head(b, g->tbl, row);
    /* 'now' is the transaction's start, as now() in the merge */
    cdc_buf_adds(b, "\tnow\n");
    return true;
}

/* Sends the rows into the started COPY (text, or binary with the
 * transaction's start now_us) and ends it; *failed when PostgreSQL
 * refused them or the binary encoder refused a value (*refused too): the
 * savepoint must be rolled back. Errors: PG_DOWN (connection lost),
 * NOMEM. */
static cdc_err_t copy_rows(cdc_apply_t *a, const apply_group_t *g,
                           const apply_tbl_t *p, bool bin, int64_t now_us,
                           bool *failed, bool *refused) {
    cdc_buf_t *b = &a->copybuf;
    cdc_err_t err = CDC_OK;
    *failed = *refused = false;
    cdc_buf_reset(b);
    if (bin)
        cdc_apply_bin_header(b);
    for (const apply_row_t *row = g->rows_head;
         row && !*refused && err == CDC_OK; row = row->gnext) {
        if (row->path != APPLY_PATH_DIRECT)
            continue;
        *refused = !copy_line(b, g, p, row, bin, now_us);
        if (b->len >= APPLY_COPY_FLUSH && !*refused)
            err = cdc_apply_pg_copy_send(a, b);
    }
    err = cdc_apply_pg_copy_last(a, b, bin, *refused, err);
    cdc_err_t cerr = copy_end(a, err == CDC_OK && !*refused, failed);
    if (cerr != CDC_OK)
        return cerr;
    if (err == CDC_ERR_NOMEM) {
        *failed = true;
        return CDC_OK;
    }
    if (err != CDC_OK || PQstatus(a->conn) != CONNECTION_OK)
        return CDC_ERR_PG_DOWN;
    return CDC_OK;
}

/* After a binary encoder refusal: the table sends text for this many
 * groups before trying binary again */
#define DIRECT_BIN_SKIP_AFTER_REFUSAL 16

/* Whether g's rows go as COPY binary (counts a skipped group down). */
static bool use_binary(const cdc_apply_t *a, apply_tbl_t *p) {
    if (a->copy_text || !p->bin_ok)
        return false;
    if (p->bin_skip) {
        p->bin_skip--;
        return false;
    }
    return true;
}

/* The open statement, then the COPY (bin: binary) and the release, as
 * one query string in q. NOMEM only. */
static cdc_err_t open_copy_sql(cdc_apply_t *a, const apply_group_t *g,
                               const apply_tbl_t *p, bool bin, cdc_buf_t *q) {
    cdc_err_t err = open_sql(a, g, bin, q);
    cdc_buf_printf(q, "; %s; RELEASE SAVEPOINT cdc_d%s",
                   bin ? p->direct_bin_sql : p->direct_sql,
                   a->commit_tail ? "; COMMIT" : "");
    return err == CDC_OK && q->oom ? CDC_ERR_NOMEM : err;
}

/* One try of the group's rows: one round trip opens the savepoint, reads
 * the fences (and, for COPY binary, the transaction's start) and starts
 * the COPY; the second sends the rows, and the release runs after the
 * COPY in the same query string. *fenced: the merge decides (the COPY was
 * aborted before any row went); *failed: PostgreSQL refused the rows;
 * *refused: the binary encoder refused a value. Each leaves the savepoint
 * to be rolled back. Errors: PG_DOWN, NOMEM. */
static cdc_err_t direct_try(cdc_apply_t *a, const apply_group_t *g,
                            const apply_tbl_t *p, bool bin, bool *fenced,
                            bool *failed, bool *refused) {
    bool started = false;
    int64_t now_us = 0;
    cdc_buf_t q = CDC_BUF_INIT;
    *fenced = *failed = *refused = false;
    cdc_err_t err = open_copy_sql(a, g, p, bin, &q);
    if (err == CDC_OK)
        err = open_copy(a, q.data, &started, fenced, &now_us);
    cdc_buf_free(&q);
    if (err != CDC_OK)
        return err;
    if (!started) {
        *fenced = true; /* refused before the COPY: the merge says */
    } else if (*fenced || (bin && !now_us)) {
        err = copy_end(a, false, failed); /* nothing sent */
        *refused = !*fenced;        /* no start time: as text */
    } else {
        err = copy_rows(a, g, p, bin, now_us, failed, refused);
    }
    return err;
}

cdc_err_t cdc_apply_direct_group(cdc_apply_t *a, apply_group_t *g,
                                 bool *done) {
    apply_tbl_t *p = g->tbl->priv;
    bool failed = false, refused = false, fenced = false, bin = false;
    *done = false;
    char keep[sizeof a->errstr]; /* a miss is no error: keep the reason */
    memcpy(keep, a->errstr, sizeof keep);
    cdc_err_t err = direct_sql(a, g->tbl, p);
    if (err == CDC_OK) {
        bin = use_binary(a, p);
        err = direct_try(a, g, p, bin, &fenced, &failed, &refused);
    }
    if (err == CDC_OK && refused) { /* undone; again as text, fences too */
        p->bin_skip = DIRECT_BIN_SKIP_AFTER_REFUSAL;
        bin = false;
        err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_d; RELEASE "
                                "SAVEPOINT cdc_d", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "rollback to savepoint");
        if (err == CDC_OK)
            err = direct_try(a, g, p, false, &fenced, &failed, &refused);
    }
    if (err != CDC_OK)
        return err;
    if (fenced || failed) {
        if (!fenced)
            p->direct_skip = DIRECT_SKIP_AFTER_MISS;
        repath(g, APPLY_PATH_DIRECT, APPLY_PATH_MERGE);
        err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_d; RELEASE "
                                "SAVEPOINT cdc_d", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "rollback to savepoint");
        if (err == CDC_OK)
            memcpy(a->errstr, keep, sizeof keep);
        return err;
    }
    size_t n = repath(g, APPLY_PATH_DIRECT, APPLY_PATH_DONE);
    a->res->applied += n;
    a->bin_rows += bin ? n : 0;
    *done = true;
    return CDC_OK;
}
