/* pg.c - the libpq plumbing schemas/ and apply/ share: run a statement and
 * classify its failure (RETRIABLE or the caller's class), with PostgreSQL's
 * message, trimmed, in the caller's errstr.
 *
 * Does not: retry, log, or keep state. Threads: none of its own; a PGconn is
 * used by one thread at a time. */
#include "schemas/schemas.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cdc_schema_pg_retriable(PGconn *conn, const PGresult *res) {
    if (!res || PQstatus(conn) != CONNECTION_OK)
        return true;
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!st)
        return PQresultStatus(res) == PGRES_FATAL_ERROR &&
               PQstatus(conn) != CONNECTION_OK;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 ||
        strncmp(st, "53", 2) == 0 || strcmp(st, "57P01") == 0 ||
        strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0 ||
        strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0)
        return true;
    return false;
}

int cdc_schema_pg_msglen(const char *msg) {
    size_t n = msg ? strlen(msg) : 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return n > 65535 ? 65535 : (int)n;
}

/* The body of cdc_schema_pg_fail with the label already formatted. */
static cdc_err_t fail_v(PGconn *conn, PGresult *r, cdc_err_t fail,
                        char *errstr, size_t errstr_size, const char *what,
                        va_list ap) CDC_PRINTF(6, 0);

static cdc_err_t fail_v(PGconn *conn, PGresult *r, cdc_err_t fail,
                        char *errstr, size_t errstr_size, const char *what,
                        va_list ap) {
    char label[320];
    bool down = cdc_schema_pg_retriable(conn, r);
    /* a result without a message (an unexpected status): the connection's */
    const char *msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                                    : PQerrorMessage(conn);
    if (vsnprintf(label, sizeof label, what, ap) >= (int)sizeof label)
        strcpy(label + sizeof label - 4, "...");
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    cdc_errstr_set(errstr, errstr_size, "%s: %s%.*s", label,
                   st && !strcmp(st, "53200") ? CDC_SCHEMA_PG_OOM : "",
                   cdc_schema_pg_msglen(msg), msg);
    PQclear(r);
    return down ? CDC_ERR_PG_DOWN : fail;
}

cdc_err_t cdc_schema_pg_fail(PGconn *conn, PGresult *r, cdc_err_t fail,
                             char *errstr, size_t errstr_size,
                             const char *what, ...) {
    va_list ap;
    va_start(ap, what);
    cdc_err_t err = fail_v(conn, r, fail, errstr, errstr_size, what, ap);
    va_end(ap);
    return err;
}

cdc_err_t cdc_schema_pg_exec(PGconn *conn, const char *sql, int nparams,
                             const char *const *params, PGresult **out,
                             cdc_err_t fail, char *errstr, size_t errstr_size,
                             const char *what, ...) {
    /* no parameters: simple protocol, which allows several statements */
    PGresult *r = nparams ? PQexecParams(conn, sql, nparams, NULL, params,
                                         NULL, NULL, 0)
                          : PQexec(conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (out)
        *out = NULL;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return CDC_OK;
    }
    va_list ap;
    va_start(ap, what);
    cdc_err_t err = fail_v(conn, r, fail, errstr, errstr_size, what, ap);
    va_end(ap);
    return err;
}
