/* test_apply_errors.c - the applier's errors reach the caller in the class
 * err.def gives their cause, against a real PostgreSQL: a permission the
 * applier lacks is FATAL (retrying cannot fix it), a statement timeout is
 * RETRIABLE with PostgreSQL's reason in the errstr, a deferred constraint
 * failing at COMMIT is FATAL; source columns named like the staging
 * table's own columns apply; a truncate without a table name is rejected
 * instead of failing the batch.
 * Needs CDC_TEST_PG_URI (fails without it). */
#include "tests/integration/apply_fixture.h"

#include "schemas/schemas.h"

static const char *const T_NAMES[] = {"id", "v", "n"};
static const cdc_type_t T_TYPES[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_INT4};

/* fx_uri() as a key=value conninfo with dbname replaced (when db is not
 * NULL) and `options` added; arena string, NULL on a parse error. */
static char *conninfo_with(cdc_arena_t *ar, const char *db,
                           const char *options) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(fx_uri(), &perr);
    if (!opts) {
        th_fail(__FILE__, __LINE__, "conninfo: %s", perr ? perr : "?");
        PQfreemem(perr);
        return NULL;
    }
    cdc_buf_t b = CDC_BUF_INIT;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (!strcmp(o->keyword, "dbname") && db)
            v = db;
        if (!strcmp(o->keyword, "options"))
            v = options;
        if (v && *v)
            cdc_buf_printf(&b, "%s='%s' ", o->keyword, v);
    }
    if (!b.data || !strstr(b.data, "options="))
        cdc_buf_printf(&b, "options='%s'", options);
    PQconninfoFree(opts);
    char *s = cdc_arena_strdup(ar, b.data);
    cdc_buf_free(&b);
    return s;
}

static cdc_event_t *ev_n(fx_t *f, char op, const char *id, const char *v,
                         const char *n, uint64_t pos) {
    cdc_rowdef_t *rd = fx_rowdef(f, 11, 1, 3, T_NAMES, T_TYPES);
    cdc_rowdef_t *kd = fx_rowdef(f, 12, 1, 1, T_NAMES, T_TYPES);
    const char *key[1] = {id}, *vals[3] = {id, v, n};
    return fx_ev(f, op, "t", kd, rd, key, vals, pos, pos, 0);
}

static cdc_event_t *ev(fx_t *f, char op, const char *id, const char *v,
                       uint64_t pos) {
    return ev_n(f, op, id, v, "1", pos);
}

/* The applier runs as a role that owns its warehouse (a database of its
 * own) but may no longer write _cdc.offsets: every batch needs that write,
 * so the batch fails FATAL (STATE, "permission denied"), not PG_DOWN, which
 * the pipeline would retry for ever. */
TEST(permission_denied_on_offsets_is_fatal) {
    fx_t f;
    char db[64], role[64], sql[512];
    cdc_arena_t *ar = cdc_arena_new(0);
    PGconn *su = PQconnectdb(fx_uri() ? fx_uri() : "");
    PGconn *sudb = NULL;
    memset(&f, 0, sizeof f);
    snprintf(db, sizeof db, "cdc_perm_%d", (int)getpid());
    snprintf(role, sizeof role, "cdc_perm_%d", (int)getpid());
    if (PQstatus(su) != CONNECTION_OK) {
        th_fail(__FILE__, __LINE__, "connect: %s", PQerrorMessage(su));
        goto out;
    }
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PQclear(PQexec(su, sql));
    snprintf(sql, sizeof sql,
             "CREATE ROLE %s NOLOGIN; GRANT CREATE ON DATABASE %s TO %s",
             role, db, role);
    PQclear(PQexec(su, sql));
    char opt[96];
    snprintf(opt, sizeof opt, "-c role=%s", role);
    cdc_apply_conf_t conf = {.conninfo = conninfo_with(ar, db, opt)};
    if (!conf.conninfo || !fx_open(&f, "perm", &conf))
        goto out;
    /* the role made _cdc (it owns it) and revokes its own right to write */
    sudb = PQconnectdb(conninfo_with(ar, db, ""));
    snprintf(sql, sizeof sql,
             "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = "
             "'_cdc.offsets'::regclass");
    PGresult *r = PQexec(sudb, sql);
    CHECK_STR(PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?", role);
    PQclear(r);
    snprintf(sql, sizeof sql,
             "REVOKE INSERT, UPDATE ON _cdc.offsets FROM %s", role);
    PQclear(PQexec(sudb, sql));

    cdc_offset_t off = {"topic", 0, 42, false, 0};
    cdc_event_t *e = ev(&f, 'c', "1", "a", 10);
    cdc_apply_result_t res;
    cdc_err_t err =
        cdc_apply_batch_begin(f.a, &e, 1, &off, 1, f.batch, &res);
    CHECK_INT(err, CDC_ERR_STATE);
    CHECK_INT(cdc_err_class(err), CDC_ERRCLASS_FATAL);
    CHECK_CTX(strstr(cdc_apply_errstr(f.a), "write offsets") &&
                  strstr(cdc_apply_errstr(f.a), "permission denied"),
              "errstr: %s", cdc_apply_errstr(f.a));
    CHECK_INT(res.applied, 0);
    /* nothing of the batch stayed: the table died with the rollback */
    snprintf(sql, sizeof sql, "SELECT to_regclass('\"%s\".t') IS NULL",
             f.schema);
    r = PQexec(sudb, sql);
    CHECK_STR(PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?", "t");
    PQclear(r);
    /* the applier stays usable: a batch without offsets goes through */
    err = cdc_apply_connect(f.a);
    CHECK_INT(err, CDC_OK);
    if (err == CDC_OK)
        fx_apply(&f, &e, 1, &res);
    CHECK_INT(res.applied, 1);
out:
    cdc_apply_free(f.a);
    f.a = NULL;
    fx_close(&f);
    PQfinish(sudb);
    if (PQstatus(su) == CONNECTION_OK) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
                 db);
        PQclear(PQexec(su, sql));
        snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
        PQclear(PQexec(su, sql));
    }
    PQfinish(su);
    cdc_arena_free(ar);
}

/* Another session holds the target table: the merge waits past
 * statement_timeout. That is RETRIABLE (PG_DOWN), never a rejected record,
 * and the errstr says why; once the lock is gone the retry applies. */
TEST(statement_timeout_is_retriable_with_cause) {
    fx_t f;
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_apply_result_t res;
    cdc_apply_conf_t conf = {
        .conninfo = conninfo_with(ar, NULL, "-c statement_timeout=300")};
    if (!conf.conninfo || !fx_open(&f, "stmto", &conf))
        goto out;
    cdc_event_t *e = ev(&f, 'c', "1", "a", 10);
    fx_apply(&f, &e, 1, &res);
    CHECK_STR(fx_qs(&f, "BEGIN; LOCK TABLE @S.t IN ACCESS EXCLUSIVE MODE; "
                        "SELECT 1"),
              "1\n");
    cdc_event_t *u = ev(&f, 'u', "1", "b", 20);
    cdc_err_t err = cdc_apply_batch_begin(f.a, &u, 1, NULL, 0, f.batch, &res);
    CHECK_INT(err, CDC_ERR_PG_DOWN);
    CHECK_INT(cdc_err_class(err), CDC_ERRCLASS_RETRIABLE);
    CHECK_INT(res.nrejects, 0);
    CHECK_CTX(strstr(cdc_apply_errstr(f.a), "statement timeout") != NULL,
              "errstr: %s", cdc_apply_errstr(f.a));
    fx_q(&f, "ROLLBACK");
    CHECK_INT(cdc_apply_connect(f.a), CDC_OK);
    fx_apply(&f, &u, 1, &res);
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.t"), "1|b\n");
out:
    fx_close(&f);
    cdc_arena_free(ar);
}

/* A deferred foreign key fails only at COMMIT, when no record can be named
 * any more: FATAL (STATE) with PostgreSQL's reason, not PG_DOWN, which would
 * retry the same failing batch for ever. Nothing of the batch stays. */
TEST(deferred_constraint_at_commit_is_fatal) {
    fx_t f;
    cdc_apply_result_t res;
    if (!fx_open(&f, "defer", NULL))
        goto out;
    cdc_event_t *e = ev(&f, 'c', "1", "a", 10);
    fx_apply(&f, &e, 1, &res);
    fx_qs(&f, "CREATE TABLE @S.parent (id integer PRIMARY KEY); "
              "INSERT INTO @S.parent VALUES (1); "
              "ALTER TABLE @S.t ADD FOREIGN KEY (n) REFERENCES @S.parent "
              "DEFERRABLE INITIALLY DEFERRED");
    cdc_event_t *bad[2] = {ev_n(&f, 'u', "1", "b", "99", 20),
                           ev_n(&f, 'c', "2", "c", "99", 21)};
    cdc_err_t err = cdc_apply_batch_begin(f.a, bad, 2, NULL, 0, f.batch, &res);
    CHECK_INT(err, CDC_OK);
    if (err == CDC_OK) {
        err = cdc_apply_batch_commit(f.a);
        CHECK_INT(err, CDC_ERR_STATE);
        CHECK_INT(cdc_err_class(err), CDC_ERRCLASS_FATAL);
        CHECK_CTX(strstr(cdc_apply_errstr(f.a), "commit") &&
                      strstr(cdc_apply_errstr(f.a), "foreign key"),
                  "errstr: %s", cdc_apply_errstr(f.a));
    }
    CHECK_STR(fx_qs(&f, "SELECT id, v, n FROM @S.t ORDER BY id"), "1|a|1\n");
out:
    fx_close(&f);
}

/* The same with COMMIT inline (cdc_apply_commit_inline): the refusal comes
 * with the batch's last query, so cdc_apply_batch_begin reports it, fatal,
 * with nothing applied; the connection goes on (the next batch applies). */
TEST(deferred_constraint_at_inline_commit_is_fatal) {
    fx_t f;
    cdc_apply_result_t res;
    if (!fx_open(&f, "deferi", NULL))
        goto out;
    cdc_event_t *e = ev(&f, 'c', "1", "a", 10);
    fx_apply(&f, &e, 1, &res);
    fx_qs(&f, "CREATE TABLE @S.parent (id integer PRIMARY KEY); "
              "INSERT INTO @S.parent VALUES (1); "
              "ALTER TABLE @S.t ADD FOREIGN KEY (n) REFERENCES @S.parent "
              "DEFERRABLE INITIALLY DEFERRED");
    cdc_apply_commit_inline(f.a, true);
    cdc_event_t *bad[2] = {ev_n(&f, 'u', "1", "b", "99", 20),
                           ev_n(&f, 'c', "2", "c", "99", 21)};
    cdc_err_t err = cdc_apply_batch_begin(f.a, bad, 2, NULL, 0, f.batch, &res);
    CHECK_INT(err, CDC_ERR_STATE);
    CHECK_CTX(strstr(cdc_apply_errstr(f.a), "commit") &&
                  strstr(cdc_apply_errstr(f.a), "foreign key"),
              "errstr: %s", cdc_apply_errstr(f.a));
    cdc_event_t *ins[2] = {ev_n(&f, 'c', "3", "d", "99", 30),
                           ev_n(&f, 'c', "4", "e", "99", 31)};
    err = cdc_apply_batch_begin(f.a, ins, 2, NULL, 0, f.batch, &res);
    CHECK_INT(err, CDC_ERR_STATE); /* the fast path's COPY, inline too */
    CHECK_STR(fx_qs(&f, "SELECT id, v, n FROM @S.t ORDER BY id"), "1|a|1\n");
    CHECK_INT(cdc_apply_connect(f.a), CDC_OK);
    cdc_event_t *good = ev_n(&f, 'u', "1", "g", "1", 40);
    CHECK_INT(cdc_apply_batch_begin(f.a, &good, 1, NULL, 0, f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(f.a), CDC_OK);
    CHECK_STR(fx_qs(&f, "SELECT id, v, n FROM @S.t ORDER BY id"), "1|g|1\n");
out:
    fx_close(&f);
}

/* Staging columns are positional (c0, c1, ...): source columns named like
 * the staging table's own columns go through inserts, updates, a primary-key
 * change and a delete (before, "_cdc_tag" made CREATE TEMP TABLE fail and
 * abort the transaction: every batch of the table failed for ever). */
TEST(columns_named_like_staging_columns_apply) {
    static const char *const names[] = {"id", "_cdc_tag", "_cdc_ok_0"};
    static const cdc_type_t types[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_TEXT};
    fx_t f;
    cdc_apply_result_t res;
    if (!fx_open(&f, "stgcol", NULL))
        goto out;
    cdc_rowdef_t *rd = fx_rowdef(&f, 21, 1, 3, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 22, 1, 1, names, types);
#define SE(op, id, a, b, p)                                                   \
    fx_ev(&f, op, "s", kd, rd, (const char *[]){id},                          \
          (const char *[]){id, a, b}, p, p, 0)
    cdc_event_t *ins[2] = {SE('c', "1", "t1", "o1", 10),
                           SE('c', "2", "t2", "o2", 11)};
    fx_apply(&f, ins, 2, &res); /* the fast path */
    CHECK_INT(res.applied, 2);
    cdc_event_t *pk = SE('c', "3", "t3", "o3", 21);
    pk->old_key = fx_vals(&f, 1, (const char *[]){"2"});
    cdc_event_t *chg[4] = {SE('u', "1", "t1b", "o1b", 20),
                           SE('d', "2", "t2", "o2", 21), pk,
                           SE('u', "1", "t1c", NULL, 22)};
    fx_apply(&f, chg, 4, &res); /* the guarded path, through staging */
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, _cdc_tag, _cdc_ok_0, _cdc_deleted, "
                        "_cdc.position(_cdc_position) FROM @S.s ORDER BY id"),
              "1|t1c|~|f|{22,22}\n2|t2|o2|t|{21,21}\n3|t3|o3|f|{21,21}\n");
#undef SE
out:
    fx_close(&f);
}

/* A truncate whose record names no table is a bad record, as any other
 * change naming none: rejected (ENVELOPE), the rest of the batch lands
 * (before, no SQL check ran on it: PostgreSQL 15's to_regclass read the
 * empty name as no table and the truncate counted as applied; a server whose
 * to_regclass raises on it failed the batch for ever as PG_DOWN). A name the
 * catalog probe cannot read is DDL, and the caller's transaction stays
 * usable (the probe runs in a savepoint). */
TEST(truncate_without_table_name_is_rejected) {
    fx_t f;
    cdc_apply_result_t res;
    cdc_schema_probe_t pr;
    char why[256];
    if (!fx_open(&f, "trname", NULL))
        goto out;
    cdc_event_t *tr = fx_ev(&f, 't', "", NULL, NULL, NULL, NULL, 30, 30, 0);
    cdc_event_t *evs[2] = {ev(&f, 'c', "1", "a", 10), tr};
    fx_apply(&f, evs, 2, &res);
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects) {
        CHECK_INT(res.rejects[0].index, 1);
        CHECK_INT(res.rejects[0].err, CDC_ERR_ENVELOPE);
    }
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.t"), "1|a\n");
    fx_q(&f, "BEGIN");
    cdc_err_t err = cdc_schema_probe(f.pg, "\"a\".\"b\".\"c\".\"d\"", &pr,
                                     why, sizeof why);
    CHECK_INT(err, CDC_ERR_DDL);
    CHECK_CTX(strstr(why, "improper relation name") != NULL, "why: %s", why);
    CHECK_STR(fx_q(&f, "SELECT 1"), "1\n"); /* still usable */
    fx_q(&f, "COMMIT");
out:
    fx_close(&f);
}

/* Lock table full (SQLSTATE 53200): another session holds every lock the
 * server has room for, so each batch fails. That can heal (the session lets
 * go), so it is retried, but not for ever: a batch that alone needs more
 * locks than max_locks_per_transaction allows never heals, so after
 * APPLY_LOCK_FULL_TRIES failures in a row the error is FATAL and names the
 * settings to change. A success in between starts the count again. */
TEST(lock_table_full_is_retried_with_a_cap_then_fatal) {
    fx_t f;
    cdc_apply_result_t res;
    PGconn *hog = NULL;
    memset(&f, 0, sizeof f);
    if (!fx_open(&f, "lockfull", NULL))
        goto out;
    cdc_event_t *e = ev(&f, 'c', "1", "a", 10);
    fx_apply(&f, &e, 1, &res); /* the table exists */
    hog = PQconnectdb(fx_uri());
    /* session advisory locks survive the statement's failure: the lock
     * table stays full until pg_advisory_unlock_all */
    PGresult *r = PQexec(hog, "SELECT pg_advisory_lock(g) FROM "
                              "generate_series(1, 100000000) g");
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "53200");
    PQclear(r);
    cdc_err_t err = CDC_OK;
    int tries = 0;
    for (; tries < 100; tries++) {
        e = ev(&f, 'u', "1", "b", 20 + (uint64_t)tries);
        err = cdc_apply_batch_begin(f.a, &e, 1, NULL, 0, f.batch, &res);
        if (err == CDC_OK)
            cdc_apply_batch_abort(f.a);
        if (err != CDC_ERR_PG_DOWN)
            break;
    }
    CHECK_INT(err, CDC_ERR_STATE);
    CHECK_INT(tries + 1, 10);
    CHECK_CTX(strstr(cdc_apply_errstr(f.a), "max_locks_per_transaction") &&
                  strstr(cdc_apply_errstr(f.a), "batch.max.events") &&
                  strstr(cdc_apply_errstr(f.a), "53200"),
              "errstr: %s", cdc_apply_errstr(f.a));
    /* the other session lets go: the batch applies, the count restarts */
    PQclear(PQexec(hog, "SELECT pg_advisory_unlock_all()"));
    e = ev(&f, 'u', "1", "c", 100);
    fx_apply(&f, &e, 1, &res);
    CHECK_STR(fx_qs(&f, "SELECT v FROM @S.t"), "c\n");
    r = PQexec(hog, "SELECT pg_advisory_lock(g) FROM "
                    "generate_series(1, 100000000) g");
    PQclear(r);
    e = ev(&f, 'u', "1", "d", 101);
    CHECK_INT(cdc_apply_batch_begin(f.a, &e, 1, NULL, 0, f.batch, &res),
              CDC_ERR_PG_DOWN);
out:
    if (hog)
        PQclear(PQexec(hog, "SELECT pg_advisory_unlock_all()"));
    PQfinish(hog);
    fx_close(&f);
}
