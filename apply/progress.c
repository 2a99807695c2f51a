/* progress.c - reading _cdc.progress for `cdcsink wait` (see apply.h):
 * a connection of its own that creates nothing, so a reader with SELECT
 * rights only can wait. The rows are written by apply.c inside each
 * batch's transaction; their meaning is the README's "Freshness". */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

struct cdc_progress_reader_s {
    char *conninfo;
    PGconn *conn;
};

cdc_progress_reader_t *cdc_progress_reader_new(const char *conninfo) {
    cdc_progress_reader_t *r = calloc(1, sizeof *r);
    if (r && !(r->conninfo = strdup(conninfo ? conninfo : ""))) {
        free(r);
        r = NULL;
    }
    return r;
}

static void reader_disconnect(cdc_progress_reader_t *r) {
    if (r->conn)
        PQfinish(r->conn);
    r->conn = NULL;
}

void cdc_progress_reader_free(cdc_progress_reader_t *r) {
    if (!r)
        return;
    reader_disconnect(r);
    free(r->conninfo);
    free(r);
}

static cdc_err_t reader_connect(cdc_progress_reader_t *r, char *errstr,
                                size_t errstr_size) {
    if (r->conn && PQstatus(r->conn) == CONNECTION_OK)
        return CDC_OK;
    reader_disconnect(r);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(r->conninfo, &perr);
    if (!opts) {
        cdc_errstr_set(errstr, errstr_size, "pg.conninfo: %s",
                       perr ? perr : "out of memory");
        PQfreemem(perr);
        return CDC_ERR_CONFIG;
    }
    PQconninfoFree(opts);
    if (!(r->conn = PQconnectdb(r->conninfo)))
        return CDC_ERR_NOMEM;
    if (PQstatus(r->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(r->conn);
        cdc_errstr_set(errstr, errstr_size, "connect: %.*s",
                       cdc_schema_pg_msglen(m), m);
        reader_disconnect(r);
        return CDC_ERR_PG_DOWN;
    }
    return CDC_OK;
}

static const char *field(PGresult *res, int row, int col, cdc_arena_t *arena) {
    if (PQgetisnull(res, row, col))
        return NULL;
    return cdc_arena_strdup(arena, PQgetvalue(res, row, col));
}

/* Fills one row from the result's row i; false on OOM. */
static bool row_fill(cdc_progress_row_t *o, PGresult *res, int i,
                     cdc_arena_t *arena) {
    memset(o, 0, sizeof *o);
    o->p.source = field(res, i, 0, arena);
    o->instance = field(res, i, 1, arena);
    o->p.has_lsn = !PQgetisnull(res, i, 2) &&
                   cdc_offsets_lsn_parse(PQgetvalue(res, i, 2), &o->p.lsn);
    if (!PQgetisnull(res, i, 3))
        o->p.source_ts_us = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    o->p.partitions = field(res, i, 4, arena);
    o->p.behind = field(res, i, 5, arena);
    o->updated_at_us = strtoll(PQgetvalue(res, i, 6), NULL, 10);
    return o->p.source && o->instance && o->p.partitions &&
           (o->p.behind || PQgetisnull(res, i, 5));
}

cdc_err_t cdc_progress_read(cdc_progress_reader_t *r, const char *group,
                            const char *source, cdc_arena_t *arena,
                            cdc_progress_row_t **rows, size_t *n,
                            char *errstr, size_t errstr_size) {
    const char *params[2] = {group ? group : "", source ? source : ""};
    PGresult *res = NULL;
    *rows = NULL;
    *n = 0;
    cdc_err_t err = reader_connect(r, errstr, errstr_size);
    if (err)
        return err;
    err = cdc_schema_pg_exec(r->conn, cdc_offsets_sql_progress_read, 2,
                             params, &res, CDC_ERR_STATE, errstr,
                             errstr_size, "read _cdc.progress");
    if (err) {
        if (PQstatus(r->conn) != CONNECTION_OK)
            reader_disconnect(r);
        return err;
    }
    int nt = PQntuples(res);
    cdc_progress_row_t *v = nt ? cdc_arena_calloc(arena, (size_t)nt,
                                                  sizeof *v)
                               : NULL;
    for (int i = 0; i < nt && v; i++)
        if (!row_fill(&v[i], res, i, arena))
            v = NULL;
    PQclear(res);
    if (nt && !v) {
        cdc_errstr_set(errstr, errstr_size, "out of memory");
        return CDC_ERR_NOMEM;
    }
    *rows = v;
    *n = (size_t)nt;
    return CDC_OK;
}
