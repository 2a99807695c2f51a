/* resync.c - the warehouse side of `cdcsink resync`; see resync.h. */
#include "verify/resync.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

struct cdc_verify_resync_s {
    PGconn *conn;
    char *qtable; /* "schema"."table" */
    bool hard_delete;
    char id[24];
    char started[64];
};

static const char sql_create[] =
    "CREATE SCHEMA IF NOT EXISTS _cdc;"
    "CREATE TABLE IF NOT EXISTS _cdc.resync ("
    " id bigserial PRIMARY KEY, schema_name text NOT NULL,"
    " table_name text NOT NULL, source_table text NOT NULL,"
    " started_at timestamptz NOT NULL DEFAULT now(),"
    " state text NOT NULL DEFAULT 'running',"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " finished_at timestamptz, rows_read bigint, rows_synced bigint,"
    " rows_swept bigint, detail text)";

/* the replica table exists and carries the columns the sweep needs */
static const char sql_columns[] =
    "SELECT count(*) FROM pg_attribute WHERE attrelid = "
    "to_regclass($1) AND attname IN ('_cdc_synced_at', '_cdc_deleted', "
    "'_cdc_deleted_at') AND NOT attisdropped";

static const char sql_insert[] =
    "INSERT INTO _cdc.resync (schema_name, table_name, source_table) "
    "VALUES ($1, $2, $3) RETURNING id, started_at";

/* the error of a result (or of the connection) into errstr */
static cdc_err_t pg_fail(PGconn *c, PGresult *res, const char *what,
                         char *errstr, size_t errstr_size) {
    cdc_errstr_set(errstr, errstr_size, "warehouse: %s: %s", what,
                   res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    PQclear(res);
    return PQstatus(c) != CONNECTION_OK ? CDC_ERR_PG_DOWN : CDC_ERR_CONFIG;
}

/* runs sql; *out (may be NULL) keeps a TUPLES_OK result */
static cdc_err_t run(PGconn *c, const char *sql, int n,
                     const char *const *params, PGresult **out,
                     const char *what, char *errstr, size_t errstr_size) {
    PGresult *res = n || out ? PQexecParams(c, sql, n, NULL, params, NULL,
                                            NULL, 0)
                             : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_fail(c, res, what, errstr, errstr_size);
    if (out)
        *out = res;
    else
        PQclear(res);
    return CDC_OK;
}

static char *qualify(PGconn *c, const char *schema, const char *table) {
    char *s = PQescapeIdentifier(c, schema, strlen(schema));
    char *t = PQescapeIdentifier(c, table, strlen(table));
    char *q = NULL;
    if (s && t && (q = malloc(strlen(s) + strlen(t) + 2)))
        sprintf(q, "%s.%s", s, t);
    PQfreemem(s);
    PQfreemem(t);
    return q;
}

static cdc_err_t check_table(cdc_verify_resync_t *r, const char *name,
                             char *errstr, size_t errstr_size) {
    const char *p[1] = {r->qtable};
    PGresult *res = NULL;
    cdc_err_t err = run(r->conn, sql_columns, 1, p, &res, "table lookup",
                        errstr, errstr_size);
    if (err)
        return err;
    if (strcmp(PQgetvalue(res, 0, 0), "3") != 0) {
        cdc_errstr_set(errstr, errstr_size, "warehouse table %s does not "
                       "exist or has no _cdc_synced_at / _cdc_deleted "
                       "columns (not a table cdcsink writes). HINT: --table "
                       "names the source table; target.schema maps it", name);
        err = CDC_ERR_CONFIG;
    }
    PQclear(res);
    return err;
}

cdc_err_t cdc_verify_resync_begin(const cdc_verify_resync_conf_t *conf,
                                  cdc_verify_resync_t **out, char *errstr,
                                  size_t errstr_size) {
    cdc_verify_resync_t *r = calloc(1, sizeof *r);
    const char *p[3] = {conf->schema, conf->table, conf->source_table};
    char name[300];
    PGresult *res = NULL;
    cdc_err_t err;
    *out = NULL;
    if (!r)
        return CDC_ERR_NOMEM;
    r->hard_delete = conf->hard_delete;
    r->conn = PQconnectdb(conf->conninfo);
    if (PQstatus(r->conn) != CONNECTION_OK) {
        cdc_errstr_set(errstr, errstr_size, "warehouse: %s",
                       PQerrorMessage(r->conn));
        err = CDC_ERR_PG_DOWN;
        goto fail;
    }
    PQclear(PQexec(r->conn, "SET client_min_messages TO warning; "
                            "SET application_name TO 'cdcsink resync'"));
    if (!(r->qtable = qualify(r->conn, conf->schema, conf->table))) {
        err = CDC_ERR_NOMEM;
        goto fail;
    }
    snprintf(name, sizeof name, "%s.%s", conf->schema, conf->table);
    if ((err = check_table(r, name, errstr, errstr_size)) ||
        (err = run(r->conn, sql_create, 0, NULL, NULL, "create _cdc.resync",
                   errstr, errstr_size)) ||
        (err = run(r->conn, sql_insert, 3, p, &res, "insert into _cdc.resync",
                   errstr, errstr_size)))
        goto fail;
    snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(r->started, sizeof r->started, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    *out = r;
    return CDC_OK;
fail:
    cdc_verify_resync_free(r);
    return err;
}

void cdc_verify_resync_free(cdc_verify_resync_t *r) {
    if (!r)
        return;
    PQfinish(r->conn);
    free(r->qtable);
    free(r);
}

int64_t cdc_verify_resync_id(const cdc_verify_resync_t *r) {
    return strtoll(r->id, NULL, 10);
}

const char *cdc_verify_resync_started(const cdc_verify_resync_t *r) {
    return r->started;
}

/* "-1" -> NULL for a bigint parameter */
static const char *num_or_null(int64_t v, char *buf, size_t size) {
    if (v < 0)
        return NULL;
    snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

cdc_err_t cdc_verify_resync_progress(cdc_verify_resync_t *r,
                                     const char *state, int64_t rows_read,
                                     int64_t *synced, char *errstr,
                                     size_t errstr_size) {
    char q[512], nread[24];
    const char *p[3] = {r->id, state,
                        num_or_null(rows_read, nread, sizeof nread)};
    PGresult *res = NULL;
    cdc_err_t err;
    snprintf(q, sizeof q,
             "UPDATE _cdc.resync SET state = $2, updated_at = now(), "
             "rows_read = coalesce($3::bigint, rows_read), rows_synced = "
             "(SELECT count(*) FROM %s WHERE _cdc_synced_at >= started_at) "
             "WHERE id = $1 RETURNING rows_synced", r->qtable);
    if ((err = run(r->conn, q, 3, p, &res, "resync progress", errstr,
                   errstr_size)))
        return err;
    *synced = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return CDC_OK;
}

cdc_err_t cdc_verify_resync_caught_up(cdc_verify_resync_t *r,
                                      const char *group, const char *topic,
                                      size_t n, const int64_t *ends,
                                      bool *caught_up, char *errstr,
                                      size_t errstr_size) {
    static const char sql[] =
        "SELECT count(*) FROM unnest($3::int[], $4::bigint[]) AS e(p, hi) "
        "LEFT JOIN _cdc.offsets o ON o.\"group\" = $1 AND o.topic = $2 AND "
        "o.\"partition\" = e.p WHERE e.hi > 0 AND "
        "coalesce(o.next_offset, 0) < e.hi";
    cdc_buf_t parts = CDC_BUF_INIT, his = CDC_BUF_INIT;
    PGresult *res = NULL;
    cdc_err_t err = CDC_ERR_NOMEM;
    cdc_buf_addc(&parts, '{');
    cdc_buf_addc(&his, '{');
    for (size_t i = 0; i < n; i++) {
        cdc_buf_printf(&parts, "%s%zu", i ? "," : "", i);
        cdc_buf_printf(&his, "%s%lld", i ? "," : "", (long long)ends[i]);
    }
    cdc_buf_addc(&parts, '}');
    cdc_buf_addc(&his, '}');
    if (!parts.oom && !his.oom) {
        const char *p[4] = {group, topic, parts.data, his.data};
        err = run(r->conn, sql, 4, p, &res, "offsets", errstr, errstr_size);
        if (!err)
            *caught_up = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
        PQclear(res);
    }
    cdc_buf_free(&parts);
    cdc_buf_free(&his);
    return err;
}

cdc_err_t cdc_verify_resync_sweep(cdc_verify_resync_t *r, int64_t rows_read,
                                  int64_t *swept, char *errstr,
                                  size_t errstr_size) {
    char q[768], nread[24];
    const char *p[3] = {r->id, r->started,
                        num_or_null(rows_read, nread, sizeof nread)};
    PGresult *res = NULL;
    cdc_err_t err;
    /* not read by the snapshot, not changed since the start: gone at the
     * source. The pipeline keeps applying meanwhile: a row it touches
     * after this statement's snapshot is re-checked by the UPDATE (READ
     * COMMITTED) and left alone. */
    if (r->hard_delete)
        snprintf(q, sizeof q,
                 "WITH s AS (DELETE FROM %s WHERE NOT _cdc_deleted AND "
                 "(_cdc_synced_at IS NULL OR _cdc_synced_at < $2) "
                 "RETURNING 1) ", r->qtable);
    else
        snprintf(q, sizeof q,
                 "WITH s AS (UPDATE %s SET _cdc_deleted = true, "
                 "_cdc_deleted_at = now(), _cdc_synced_at = now() WHERE NOT "
                 "_cdc_deleted AND (_cdc_synced_at IS NULL OR "
                 "_cdc_synced_at < $2) RETURNING 1) ", r->qtable);
    snprintf(q + strlen(q), sizeof q - strlen(q),
             "UPDATE _cdc.resync SET state = 'done', updated_at = now(), "
             "finished_at = now(), rows_swept = (SELECT count(*) FROM s), "
             "rows_read = coalesce($3::bigint, rows_read), rows_synced = "
             "(SELECT count(*) FROM %s WHERE _cdc_synced_at >= $2) "
             "WHERE id = $1 RETURNING rows_swept", r->qtable);
    if ((err = run(r->conn, q, 3, p, &res, "sweep", errstr, errstr_size)))
        return err;
    *swept = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return CDC_OK;
}

void cdc_verify_resync_fail(cdc_verify_resync_t *r, const char *why) {
    const char *p[2] = {r->id, why};
    if (!r->conn || PQstatus(r->conn) != CONNECTION_OK)
        PQreset(r->conn);
    PQclear(PQexecParams(r->conn,
                         "UPDATE _cdc.resync SET state = 'failed', "
                         "updated_at = now(), finished_at = now(), detail = "
                         "$2 WHERE id = $1",
                         2, NULL, p, NULL, NULL, 0));
}

cdc_err_t cdc_verify_resync_topic(cdc_verify_resync_t *r, const char *group,
                                  const char *source_table, char *out,
                                  size_t out_size, char *errstr,
                                  size_t errstr_size) {
    static const char sql[] =
        "SELECT DISTINCT topic FROM _cdc.offsets WHERE \"group\" = $1 AND "
        "right(topic, length($2) + 1) = '.' || $2 ORDER BY 1";
    const char *p[2] = {group, source_table};
    PGresult *res = NULL;
    cdc_err_t err = run(r->conn, sql, 2, p, &res, "offsets", errstr,
                        errstr_size);
    if (err)
        return err;
    if (PQntuples(res) == 1) {
        snprintf(out, out_size, "%s", PQgetvalue(res, 0, 0));
    } else {
        cdc_errstr_set(errstr, errstr_size, "%s topic ending in \".%s\" "
                       "in _cdc.offsets for group %s%s%s. HINT: name the "
                       "table's topic with --topic",
                       PQntuples(res) ? "more than one" : "no", source_table,
                       group, PQntuples(res) ? ": " : "",
                       PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
        err = CDC_ERR_CONFIG;
    }
    PQclear(res);
    return err;
}

cdc_err_t cdc_verify_resync_signal_table(const char *source_conninfo,
                                         const char *signal_table,
                                         const char *id, const char *type,
                                         const char *data, char *errstr,
                                         size_t errstr_size) {
    const char *p[4] = {signal_table, id, type, data};
    PGconn *c = PQconnectdb(source_conninfo);
    cdc_err_t err = CDC_OK;
    if (PQstatus(c) != CONNECTION_OK) {
        cdc_errstr_set(errstr, errstr_size, "source: %s", PQerrorMessage(c));
        PQfinish(c);
        return CDC_ERR_PG_DOWN;
    }
    /* the table's name is checked by to_regclass, then used as a regclass,
     * so no text is ever spliced into the statement */
    PGresult *res = PQexecParams(
        c, "SELECT to_regclass($1)::oid::regclass::text", 1, NULL, p, NULL,
        NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetisnull(res, 0, 0)) {
        cdc_errstr_set(errstr, errstr_size, "source: signal table %s: %s",
                       signal_table, PQresultStatus(res) == PGRES_TUPLES_OK
                           ? "no such table. HINT: --signal-table names the "
                             "connector's signal.data.collection"
                           : PQresultErrorMessage(res));
        err = PQstatus(c) == CONNECTION_OK ? CDC_ERR_CONFIG : CDC_ERR_PG_DOWN;
    } else {
        char q[600];
        snprintf(q, sizeof q, "INSERT INTO %s VALUES ($1, $2, $3)",
                 PQgetvalue(res, 0, 0));
        PQclear(res);
        res = PQexecParams(c, q, 3, NULL, p + 1, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            cdc_errstr_set(errstr, errstr_size, "source: signal: %s",
                           PQresultErrorMessage(res));
            err = PQstatus(c) == CONNECTION_OK ? CDC_ERR_CONFIG
                                               : CDC_ERR_PG_DOWN;
        }
    }
    PQclear(res);
    PQfinish(c);
    return err;
}
