/* conn.c - the two connections: session settings that fix the text form of
 * values, queries run on both sides at once, and key comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_int.h"

/* Settings that make each type's text output the canonical one on both
 * sides, whatever the servers' defaults; every transaction read only. */
static const char *const session_sql =
    "SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO postgres; "
    "SET TimeZone TO 'UTC'; SET extra_float_digits TO 1; "
    "SET bytea_output TO hex; SET default_transaction_read_only TO on; "
    "SET statement_timeout TO 0; SET application_name TO 'cdcsink verify'; "
    /* many short range queries: compiling each costs more than it saves */
    "SET jit TO off; "
    /* The planner guesses a group per row for the bucket sums (scan.c):
     * it would sort the whole range (to disk) to count a few dozen groups,
     * and find no gain in aggregating in parallel workers, since it prices
     * the row hash (md5 of the row) like an addition. No sorts (the
     * ordered reads walk the primary key's index), and expressions priced
     * 40 times higher: the bucket sums are then hashed and summed in the
     * workers, as the plain sum of the floor is. */
    "SET enable_sort TO off; SET cpu_operator_cost TO 0.1";

PGconn *cdc_verify_connect(const char *conninfo, const char *what,
                           char *errstr, size_t errstr_size) {
    PGconn *c = PQconnectdb(conninfo);
    PGresult *res;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        cdc_errstr_set(errstr, errstr_size, "%s: %s", what,
                       c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    res = PQexec(c, session_sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_errstr_set(errstr, errstr_size, "%s: %s", what,
                       PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
        return NULL;
    }
    PQclear(res);
    return c;
}

static cdc_err_t fail(vrun_t *r, int side, PGresult *res) {
    PGconn *c = r->conn[side];
    cdc_errstr_set(r->errstr, r->errstr_size, "%s: %s",
                   side == SIDE_SRC ? "source" : "replica",
                   res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    return PQstatus(c) != CONNECTION_OK ? CDC_ERR_PG_DOWN : CDC_ERR_CONFIG;
}

/* Collects the one result of the query sent on side; NULL on failure
 * (the error already in r->errstr). */
static PGresult *collect(vrun_t *r, int side, cdc_err_t *err) {
    PGresult *res, *keep = NULL;
    while ((res = PQgetResult(r->conn[side])) != NULL) {
        if (keep || (PQresultStatus(res) != PGRES_TUPLES_OK &&
                     PQresultStatus(res) != PGRES_COMMAND_OK)) {
            if (!*err && !keep)
                *err = fail(r, side, res);
            PQclear(res);
            continue;
        }
        keep = res;
    }
    if (!keep && !*err)
        *err = fail(r, side, NULL);
    if (*err) {
        PQclear(keep);
        return NULL;
    }
    return keep;
}

cdc_err_t cdc_verify_query2(vrun_t *r, const char *sql[2], int nparams,
                            const char *const *params[2], PGresult *res[2]) {
    cdc_err_t err = CDC_OK;
    bool sent[2] = {false, false};
    res[0] = res[1] = NULL;
    for (int s = 0; s < 2 && !err; s++) {
        if (!PQsendQueryParams(r->conn[s], sql[s], nparams, NULL, params[s],
                               NULL, NULL, 0))
            err = fail(r, s, NULL);
        else
            sent[s] = true;
    }
    for (int s = 0; s < 2; s++) {
        if (sent[s]) /* always drain what was sent: the connection is reused */
            res[s] = collect(r, s, &err);
    }
    if (err) {
        PQclear(res[0]);
        PQclear(res[1]);
        res[0] = res[1] = NULL;
    }
    return err;
}

cdc_err_t cdc_verify_query1(vrun_t *r, int side, const char *sql, int nparams,
                            const char *const *params, PGresult **res) {
    cdc_err_t err = CDC_OK;
    *res = NULL;
    if (!PQsendQueryParams(r->conn[side], sql, nparams, NULL, params, NULL,
                           NULL, 0))
        return fail(r, side, NULL);
    *res = collect(r, side, &err);
    return err;
}

/* Key order is the replica's own (its primary key's types and collations):
 * the client never compares values itself. Rare: only where the two sides'
 * chunk edges or rows disagree. */
cdc_err_t cdc_verify_key_lt(vrun_t *r, char *const *a, char *const *b,
                            bool *lt) {
    const vtable_t *t = r->t;
    cdc_buf_t q = CDC_BUF_INIT;
    const char **params = malloc(2 * t->nkey * sizeof *params);
    PGresult *res = NULL;
    cdc_err_t err = CDC_ERR_NOMEM;
    if (!params)
        goto out;
    cdc_buf_adds(&q, "SELECT ROW(");
    for (int part = 0; part < 2; part++) {
        for (size_t j = 0; j < t->nkey; j++) {
            const vcol_t *c = &t->cols[t->keyi[j]];
            size_t p = (size_t)part * t->nkey + j;
            params[p] = part ? b[j] : a[j];
            cdc_buf_printf(&q, "%s$%zu::%s", j ? ", " : "", p + 1,
                           c->type[SIDE_REP]);
        }
        cdc_buf_adds(&q, part ? ")" : ") < ROW(");
    }
    if (q.oom)
        goto out;
    err = cdc_verify_query1(r, SIDE_REP, q.data, (int)(2 * t->nkey), params,
                            &res);
    if (!err)
        *lt = PQgetvalue(res, 0, 0)[0] == 't';
out:
    PQclear(res);
    free(params);
    cdc_buf_free(&q);
    return err;
}
