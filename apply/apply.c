/* apply.c - the applier object: connection, bookkeeping schema, offsets,
 * and the batch transaction (see apply.h): BEGIN with the offsets and the
 * freshness rows (one round trip, the fence read there), collect
 * (collect.c) and collapse (collapse.c) the events, then run each group
 * (truncate.c, direct.c, merge.c), all in one transaction; a small batch
 * goes whole in one query string instead (onetrip.c). */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "offsets/offsets.h"

/* the warehouse layout version _cdc.meta records (offsets/offsets.h) */
#define FORMAT_VERSION CDC_OFFSETS_FORMAT_VERSION

/* Batches of at most this many rows go in one query string (onetrip.c).
 * bench/apply's mixed stream, backend CPU per event, one query against
 * staging, three interleaved rounds: batches of 50 13.7-15.2 / 14.3-16.5
 * us (wall per batch 0.86-1.01 / 0.93-1.20 ms), 64 13.3 / 12.7-13.8
 * (1.09-1.18 / 1.06-1.18), 100 11.8-12.0 / 11.3-12.0, 200 11.2-11.8 /
 * 9.2-9.7 (4.1-7.4 / 2.5-6.9 ms), 2000 10.6-11.1 / 6.7: from 32 plain
 * inserts on, staging takes them by the fast path's COPY binary, here
 * every row takes the upsert */
#define APPLY_ONETRIP_MAX 64

/* Batches of at least this many events send BEGIN, the offsets and the
 * freshness rows at once, on their own, and plan (collect, collapse, the
 * SQL) while PostgreSQL runs them; smaller ones carry them in front of
 * their first query (one round trip less, and their planning is too short
 * to hide anything). */
#define APPLY_EARLY_MIN 1000

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

cdc_apply_t *cdc_apply_new(const cdc_apply_conf_t *conf, char *errstr,
                           size_t errstr_size) {
    if (!conf || !conf->conninfo || !*conf->conninfo) {
        cdc_errstr_set(errstr, errstr_size, "pg.conninfo is empty");
        return NULL;
    }
    if (conf->fillfactor < 10 || conf->fillfactor > 100) {
        cdc_errstr_set(errstr, errstr_size,
                       "pg.fillfactor %d is out of range 10..100",
                       conf->fillfactor);
        return NULL;
    }
    cdc_apply_t *a = calloc(1, sizeof *a);
    if (!a)
        goto nomem;
    a->conninfo = strdup(conf->conninfo);
    a->target_schema = dup_or_empty(conf->target_schema);
    a->group_id = dup_or_empty(conf->group_id);
    a->hard_delete = conf->hard_delete;
    a->replay = conf->replay;
    a->truncate_mode = conf->truncate_mode;
    a->onetrip_max = APPLY_ONETRIP_MAX;
    a->early_min = APPLY_EARLY_MIN;
    a->array_part_bytes = APPLY_ARRAYS_PART;
    if (conf->conv)
        a->conv = *conf->conv;
    else
        cdc_schema_conv_modes_default(&a->conv);
    cdc_schema_conf_t sc = {conf->fillfactor, conf->evolution};
    a->schemas = cdc_schema_cache_new(&sc);
    if (!a->conninfo || !a->target_schema || !a->group_id || !a->schemas)
        goto nomem;
    if (cdc_apply_colrules_new(&conf->shape, &a->colrules, errstr,
                               errstr_size) != CDC_OK ||
        cdc_apply_routes_new(conf->target_table, conf->target_map,
                             &a->routes, errstr, errstr_size) != CDC_OK) {
        cdc_apply_free(a);
        return NULL;
    }
    return a;
nomem:
    cdc_apply_free(a);
    cdc_errstr_set(errstr, errstr_size, "out of memory");
    return NULL;
}

static void disconnect(cdc_apply_t *a) {
    if (a->conn)
        PQfinish(a->conn);
    a->conn = NULL;
    a->in_txn = false;
    cdc_apply_pre_reset(a);
    cdc_schema_cache_clear(a->schemas); /* staging tables died with it */
}

void cdc_apply_free(cdc_apply_t *a) {
    if (!a)
        return;
    disconnect(a);
    cdc_schema_cache_free(a->schemas);
    cdc_apply_colrules_free(a->colrules);
    cdc_apply_routes_free(a->routes);
    cdc_buf_free(&a->copybuf);
    cdc_buf_free(&a->pre);
    free(a->conninfo);
    free(a->target_schema);
    free(a->group_id);
    free(a->instance);
    free(a);
}

const char *cdc_apply_errstr(const cdc_apply_t *a) { return a->errstr; }

const char *cdc_apply_warehouse_id(const cdc_apply_t *a) {
    return a->warehouse_id;
}

/* The statements of the _cdc schema run through this (a STATE failure). */
static cdc_err_t q(cdc_apply_t *a, const char *sql, int np,
                   const char *const *params, PGresult **out,
                   const char *what) {
    return cdc_apply_pg_exec(a, sql, np, params, out, CDC_ERR_STATE, what);
}

/* After a failure inside a transaction: roll back, forget DDL made in it
 * (and the prepared merges of the table entries forgotten with it: a
 * prepared statement outlives the transaction). */
static void rollback(cdc_apply_t *a) {
    /* a pipeline left open (cdc_apply_pg_pipeline on a broken connection)
     * takes no more statements: start over */
    if (a->conn && PQpipelineStatus(a->conn) != PQ_PIPELINE_OFF)
        disconnect(a);
    if (a->conn && PQstatus(a->conn) == CONNECTION_OK) {
        PGresult *r = PQexec(a->conn, "ROLLBACK; DEALLOCATE ALL");
        PQclear(r);
    }
    if (a->conn && PQstatus(a->conn) != CONNECTION_OK)
        disconnect(a);
    a->in_txn = false;
    a->commit_tail = a->committed = false;
    cdc_apply_pre_reset(a); /* held statements never sent: nothing to undo */
    cdc_schema_cache_clear(a->schemas);
}

/* The bookkeeping schema: _cdc.offsets and _cdc.meta (their statements
 * are offsets/'s), _cdc.position and _cdc.table_sources, in one
 * transaction under a lock. */
static cdc_err_t bootstrap(cdc_apply_t *a) {
    static const char begin[] =
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(7306086971135223296);" /* "_cdc" */
        "CREATE SCHEMA IF NOT EXISTS _cdc";
    static const char position[] =
        /* _cdc_position as numbers: {lsn_commit,lsn} (PostgreSQL) */
        "CREATE OR REPLACE FUNCTION _cdc.position(p bytea) RETURNS numeric[]"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$"
        " SELECT array_agg(CASE WHEN v < 0 THEN v + 18446744073709551616"
        " ELSE v END ORDER BY i) FROM (SELECT i, ('x' || encode(substr(p, i,"
        " 8), 'hex'))::bit(64)::bigint::numeric AS v"
        " FROM generate_series(1, length(p), 8) i) s $f$;"
        "CREATE OR REPLACE FUNCTION _cdc.position(p numeric[]) RETURNS"
        " numeric[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS"
        " $f$ SELECT p $f$;" /* a format-1 table's */
        /* with target.schema: the source schema whose rows each target
         * table holds (cdc_apply_claim) */
        "CREATE TABLE IF NOT EXISTS _cdc.table_sources ("
        " table_schema text NOT NULL, table_name text NOT NULL,"
        " source_schema text NOT NULL, PRIMARY KEY (table_schema, table_name));"
        "COMMIT";
    PGresult *r = NULL;
    cdc_err_t err = q(a, begin, 0, NULL, NULL, "create _cdc schema");
    if (err == CDC_OK)
        err = q(a, cdc_offsets_sql_create, 0, NULL, NULL,
                "create _cdc schema");
    if (err == CDC_OK)
        err = q(a, position, 0, NULL, NULL, "create _cdc schema");
    if (err != CDC_OK) {
        rollback(a);
        return err;
    }
    err = q(a, cdc_offsets_sql_meta_read, 0, NULL, &r, "read _cdc.meta");
    if (err != CDC_OK)
        return err;
    if (PQntuples(r) != 1) {
        cdc_errstr_set(a->errstr, sizeof a->errstr,
                       "_cdc.meta holds %d rows, want 1", PQntuples(r));
        err = CDC_ERR_STATE;
    } else if (atoi(PQgetvalue(r, 0, 1)) > FORMAT_VERSION) {
        cdc_errstr_set(a->errstr, sizeof a->errstr,
                       "warehouse format version %s is newer than this "
                       "cdcsink's (%d); HINT: upgrade cdcsink",
                       PQgetvalue(r, 0, 1), FORMAT_VERSION);
        err = CDC_ERR_STATE;
    } else {
        snprintf(a->warehouse_id, sizeof a->warehouse_id, "%s",
                 PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return err;
}

/* Server notices ("relation already exists, skipping") are debug noise. */
static void on_notice(void *arg, const char *msg) {
    (void)arg;
    cdc_log(CDC_LOG_DEBUG, "postgresql: %.*s", cdc_schema_pg_msglen(msg), msg);
}

cdc_err_t cdc_apply_connect(cdc_apply_t *a) {
    if (a->conn && PQstatus(a->conn) == CONNECTION_OK && !a->in_txn &&
        a->warehouse_id[0])
        return CDC_OK;
    disconnect(a);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(a->conninfo, &perr);
    if (!opts) {
        cdc_errstr_set(a->errstr, sizeof a->errstr, "pg.conninfo: %s",
                       perr ? perr : "out of memory");
        PQfreemem(perr);
        return CDC_ERR_CONFIG;
    }
    PQconninfoFree(opts);
    a->conn = PQconnectdb(a->conninfo);
    if (!a->conn) {
        cdc_errstr_set(a->errstr, sizeof a->errstr, "out of memory");
        return CDC_ERR_NOMEM;
    }
    if (PQstatus(a->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(a->conn);
        bool config = PQconnectionNeedsPassword(a->conn) ||
                      strstr(m, "authentication failed") ||
                      strstr(m, "does not exist");
        cdc_errstr_set(a->errstr, sizeof a->errstr, "connect: %.*s",
                       cdc_schema_pg_msglen(m), m);
        disconnect(a);
        return config ? CDC_ERR_CONFIG : CDC_ERR_PG_DOWN;
    }
    PQsetNoticeProcessor(a->conn, on_notice, NULL);
    if (PQsetClientEncoding(a->conn, "UTF8") != 0) {
        const char *m = PQerrorMessage(a->conn);
        cdc_errstr_set(a->errstr, sizeof a->errstr,
                       "set client_encoding: %.*s", cdc_schema_pg_msglen(m), m);
        disconnect(a);
        return CDC_ERR_PG_DOWN;
    }
    cdc_err_t err = bootstrap(a);
    if (err == CDC_OK)
        err = cdc_apply_fence_bootstrap(a);
    if (err == CDC_OK)
        err = cdc_apply_keyless_bootstrap(a);
    if (err != CDC_OK)
        disconnect(a);
    return err;
}

cdc_err_t cdc_apply_ping(cdc_apply_t *a) {
    cdc_err_t err = cdc_apply_connect(a);
    if (err != CDC_OK)
        return err;
    err = q(a, "SELECT 1", 0, NULL, NULL, "ping");
    if (err != CDC_OK && PQstatus(a->conn) != CONNECTION_OK)
        disconnect(a);
    return err;
}

cdc_err_t cdc_apply_offsets_load(cdc_apply_t *a, const char *topic,
                                 int32_t partition, int64_t *next_offset) {
    cdc_offsets_params_t p;
    PGresult *r = NULL;
    *next_offset = -1;
    if (!a->conn) {
        cdc_errstr_set(a->errstr, sizeof a->errstr, "not connected");
        return CDC_ERR_PG_DOWN;
    }
    cdc_offsets_params_load(&p, a->group_id, topic, partition);
    cdc_err_t err = q(a, cdc_offsets_sql_load, p.n, p.v, &r, "load offsets");
    if (err != CDC_OK) {
        if (err == CDC_ERR_PG_DOWN && PQstatus(a->conn) != CONNECTION_OK)
            disconnect(a);
        return err;
    }
    if (PQntuples(r) == 1)
        *next_offset = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return CDC_OK;
}

cdc_err_t cdc_apply_claim(cdc_apply_t *a, const char *table,
                          const char *source_schema, const char **owner) {
    static const char sql[] =
        "WITH ins AS (INSERT INTO _cdc.table_sources VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING source_schema)"
        " SELECT source_schema FROM ins UNION ALL"
        " SELECT source_schema FROM _cdc.table_sources"
        " WHERE table_schema = $1 AND table_name = $2";
    const char *params[3] = {a->target_schema, table, source_schema};
    PGresult *r = NULL;
    cdc_err_t err = q(a, sql, 3, params, &r, "claim a target table");
    if (err != CDC_OK)
        return err;
    *owner = PQntuples(r) > 0
                 ? cdc_arena_strdup(a->arena, PQgetvalue(r, 0, 0))
                 : source_schema;
    PQclear(r);
    return *owner ? CDC_OK : CDC_ERR_NOMEM;
}

/* The statements that open a batch: BEGIN, its offsets, then the freshness
 * rows given to cdc_apply_progress_set (in the batch's transaction, so
 * they never run ahead of the data; each prunes the rows it supersedes,
 * and they are forgotten then). They go first, not last, and are not sent
 * on their own: the batch's first query carries them in front of it
 * (cdc_apply_pre_send), one round trip for both, and a fenced batch stops
 * before its work (a batch of early_min events or more sends them alone
 * before its planning instead, and reads them before its first query). A fenced offset write that touches no row means
 * another instance moved the partition's row (DESIGN.md "Fencing"):
 * CDC_ERR_FENCED, and the caller rolls the batch back. Its result is read
 * before anything else of that query can apply: the query's COPY (each
 * query that carries them has one, and any COMMIT comes after it) gets
 * its data only after, and ends with an error instead. A savepoint rolled
 * back later (a group's isolation) is opened after them and keeps them. */
static cdc_err_t begin_held(cdc_apply_t *a, const cdc_offset_t *offsets,
                            size_t n) {
    size_t np = a->instance ? a->nprogress : 0;
    cdc_err_t err = CDC_OK;
    cdc_apply_pre_reset(a);
    if (1 + n + 2 * np > APPLY_PRE_MAX)
        return CDC_ERR_NOMEM; /* too many: a pipeline of their own */
    err = cdc_apply_pre_add(a, "BEGIN", 0, NULL, CDC_ERR_PG_DOWN, "begin");
    for (size_t i = 0; i < n && err == CDC_OK; i++) {
        cdc_offsets_params_t op;
        char fenced[512];
        const char *w = cdc_offsets_sql_write(&offsets[i]);
        /* a fenced write that touches no row fails on the server, so that
         * nothing after it in the query string runs (COMMIT included):
         * a division by zero, which pre_send reads as the fence lost */
        if (offsets[i].fenced) {
            if (snprintf(fenced, sizeof fenced, "WITH w AS (%s RETURNING 1) "
                         "SELECT 1 / count(*) FROM w", w) >=
                (int)sizeof fenced)
                err = CDC_ERR_NOMEM; /* cannot happen: offsets.c's text is
                                      * far shorter */
            w = fenced;
        }
        if (err != CDC_OK)
            break;
        cdc_offsets_params_store(&op, a->group_id, &offsets[i]);
        err = cdc_apply_pre_add(a, w, op.n, op.v, CDC_ERR_STATE,
                                "write offsets");
    }
    for (size_t i = 0; i < np && err == CDC_OK; i++) {
        cdc_offsets_progress_params_t p;
        cdc_offsets_params_progress(&p, a->group_id, a->instance,
                                    &a->progress[i]);
        const char *pr[4] = {p.v[0], p.v[1], p.v[2], p.v[6]};
        err = cdc_apply_pre_add(a, cdc_offsets_sql_progress_write, p.n, p.v,
                                CDC_ERR_STATE, "write _cdc.progress");
        if (err == CDC_OK)
            err = cdc_apply_pre_add(a, cdc_offsets_sql_progress_prune, 4, pr,
                                    CDC_ERR_STATE, "write _cdc.progress");
    }
    if (err != CDC_OK) {
        cdc_apply_pre_reset(a);
        return err;
    }
    a->pre_offs = offsets;
    a->pre_noffs = n;
    a->in_txn = true; /* from here a failure rolls back */
    return CDC_OK;
}

/* The same statements run at once, in one round trip of their own (a
 * pipeline): for batches with more of them than a query carries. */
static cdc_err_t begin_with_offsets(cdc_apply_t *a,
                                    const cdc_offset_t *offsets, size_t n) {
    if (begin_held(a, offsets, n) == CDC_OK)
        return CDC_OK;
    size_t np = a->instance ? a->nprogress : 0, nq = 1 + n + 2 * np, failed;
    const cdc_progress_t *progress = a->progress;
    /* the parameters point into these: made in place, never copied */
    cdc_offsets_params_t *op = cdc_arena_alloc(a->arena, (n ? n : 1) * sizeof *op);
    cdc_offsets_progress_params_t *pp =
        cdc_arena_alloc(a->arena, (np ? np : 1) * sizeof *pp);
    const char **prune = cdc_arena_alloc(a->arena, (np ? np : 1) * 4 * sizeof *prune);
    apply_pq_t *qs = cdc_arena_alloc(a->arena, nq * sizeof *qs);
    if (!op || !pp || !prune || !qs)
        return CDC_ERR_NOMEM;
    qs[0] = (apply_pq_t){APPLY_PQ_PARAMS, "BEGIN", NULL, 0, NULL,
                         CDC_ERR_PG_DOWN, "begin", NULL, NULL, NULL};
    apply_pq_t *oq = qs + 1, *pq = qs + 1 + n;
    for (size_t i = 0; i < n; i++) {
        cdc_offsets_params_store(&op[i], a->group_id, &offsets[i]);
        oq[i] = (apply_pq_t){APPLY_PQ_PARAMS, cdc_offsets_sql_write(&offsets[i]),
                             NULL, op[i].n, op[i].v, CDC_ERR_STATE,
                             "write offsets", NULL, NULL, NULL};
    }
    for (size_t i = 0; i < np; i++) {
        cdc_offsets_progress_params_t *p = &pp[i];
        const char **pr = prune + 4 * i;
        cdc_offsets_params_progress(p, a->group_id, a->instance,
                                    &progress[i]);
        pr[0] = p->v[0], pr[1] = p->v[1], pr[2] = p->v[2], pr[3] = p->v[6];
        pq[2 * i] = (apply_pq_t){APPLY_PQ_PARAMS,
                                 cdc_offsets_sql_progress_write, NULL,
                                 p->n, p->v, CDC_ERR_STATE,
                                 "write _cdc.progress", NULL, NULL,
                                 NULL};
        pq[2 * i + 1] = (apply_pq_t){APPLY_PQ_PARAMS,
                                     cdc_offsets_sql_progress_prune, NULL,
                                     4, pr, CDC_ERR_STATE,
                                     "write _cdc.progress", NULL, NULL,
                                     NULL};
    }
    a->in_txn = true; /* from here a failure rolls back */
    cdc_err_t err = cdc_apply_pg_pipeline(a, qs, nq, &failed);
    for (size_t i = 0; i < n && err == CDC_OK; i++) {
        if (cdc_apply_fence_lost(a, &offsets[i], oq[i].res))
            err = CDC_ERR_FENCED;
    }
    cdc_apply_pg_pipeline_clear(qs, nq);
    if (err == CDC_OK || (err != CDC_ERR_FENCED && failed >= 1 + n)) {
        a->progress = NULL; /* written, or refused themselves: forgotten */
        a->nprogress = 0;
    }
    return err;
}

void cdc_apply_progress_set(cdc_apply_t *a, const char *instance,
                            const cdc_progress_t *rows, size_t n) {
    a->progress = rows;
    a->nprogress = n;
    if (instance && (!a->instance || strcmp(a->instance, instance))) {
        free(a->instance);
        a->instance = strdup(instance); /* NULL on OOM: rows not written */
    }
}

/* Groups with fewer plain inserts than this take the merge whole: the fast
 * path's savepoint, COPY and release cost four round trips more. */
#define APPLY_DIRECT_MIN 32

/* One group: a truncate, else its plain inserts by the fast COPY and the
 * rest by the guarded merge. The merge runs first: a primary-key change
 * reads its old key's stored row as it was before the batch, and a
 * fast-path insert of that key must not land before it. The inserts the
 * fast path misses (a key already there) take the merge after it. */
static cdc_err_t run_group(cdc_apply_t *a, apply_groups_t *gs,
                           apply_group_t *g) {
    if (!g->tbl)
        return cdc_apply_truncate_group(a, gs, g);
    if (g->keyless)
        return cdc_apply_keyless_group(a, gs, g);
    size_t nd = cdc_apply_direct_pick(g, false);
    if (nd && nd < g->nrows && nd < APPLY_DIRECT_MIN) {
        for (apply_row_t *r = g->rows_head; r; r = r->gnext)
            r->path = APPLY_PATH_MERGE;
        nd = 0;
    }
    bool done = false;
    /* the batch's last statements may end it with COMMIT (last: the
     * batch's last group, nothing rejected so far) */
    bool last = a->commit_inline && !g->next && a->res->nrejects == 0;
    a->commit_tail = last && !nd;
    cdc_err_t err = nd < g->nrows ? cdc_apply_merge_group(a, gs, g) : CDC_OK;
    a->commit_tail = last && a->res->nrejects == 0;
    if (err == CDC_OK && nd)
        err = cdc_apply_direct_group(a, g, &done);
    a->commit_tail = false;
    if (err != CDC_OK || done || !nd)
        return err;
    a->commit_tail = last && a->res->nrejects == 0;
    err = cdc_apply_merge_group(a, gs, g);
    a->commit_tail = false;
    return err;
}

/* Out of (shared) memory, SQLSTATE 53200, mostly "out of shared memory"
 * when the lock table is full: a batch takes a lock on every table, index
 * and partition it writes, plus its staging tables. It heals when other
 * sessions let go of their locks, so it is RETRIABLE (PG_DOWN); a batch
 * that alone needs more than the server has room for (max_locks_per_
 * transaction x connections) never heals, so after this many failures in a
 * row (about a minute of the pipeline's backoff) it becomes FATAL (STATE),
 * naming the fix. Any successful batch starts the count again. */
#define APPLY_OOM_TRIES 10

static cdc_err_t oom_cap(cdc_apply_t *a, cdc_err_t err) {
    if (err != CDC_ERR_PG_DOWN || !strstr(a->errstr, CDC_SCHEMA_PG_OOM))
        return err;
    if (++a->oom_streak < APPLY_OOM_TRIES)
        return err;
    char why[sizeof a->errstr];
    memcpy(why, a->errstr, sizeof why);
    cdc_errstr_set(a->errstr, sizeof a->errstr,
                   "%u batch attempts in a row failed for lack of server memory or "
                   "lock table space: %s; HINT: a batch locks every table, "
                   "index and partition it writes: raise "
                   "max_locks_per_transaction on the server (a restart), or "
                   "lower batch.max.events", a->oom_streak, why);
    a->oom_streak = 0;
    return CDC_ERR_STATE;
}

static int reject_cmp(const void *x, const void *y) {
    size_t i = ((const cdc_reject_t *)x)->index;
    size_t j = ((const cdc_reject_t *)y)->index;
    return i < j ? -1 : i > j;
}

cdc_err_t cdc_apply_batch_begin(cdc_apply_t *a, cdc_event_t *const *events,
                                size_t n, const cdc_offset_t *offsets,
                                size_t noffsets, cdc_arena_t *arena,
                                cdc_apply_result_t *res) {
    apply_groups_t gs;
    cdc_err_t err;

    memset(res, 0, sizeof *res);
    a->res = res;
    a->arena = arena;
    a->caprejects = 0;
    a->committed = a->commit_tail = false;
    if (a->in_txn) {
        cdc_errstr_set(a->errstr, sizeof a->errstr,
                       "a batch is still open: commit or abort it first");
        return CDC_ERR_STATE;
    }
    if (!a->conn || PQstatus(a->conn) != CONNECTION_OK) {
        cdc_errstr_set(a->errstr, sizeof a->errstr, "not connected");
        disconnect(a);
        return CDC_ERR_PG_DOWN;
    }
    err = begin_with_offsets(a, offsets, noffsets);
    if (err == CDC_OK && a->early_min && n >= a->early_min)
        err = cdc_apply_pre_early(a); /* run while this plans */
    if (err == CDC_OK)
        err = cdc_apply_collapse_init(&gs, arena, events, n);
    if (err == CDC_OK)
        err = cdc_apply_collect(a, &gs, events, n);
    res->replays += gs.replays;
    res->collapsed += gs.collapsed;
    apply_group_t *from = err == CDC_OK ? gs.groups_head : NULL;
    if (err == CDC_OK && cdc_apply_onetrip_fits(a, &gs))
        err = cdc_apply_onetrip(a, &gs, &from); /* from: a refused group */
    for (apply_group_t *g = from; g && err == CDC_OK; g = g->next)
        err = run_group(a, &gs, g);
    if (err == CDC_OK) /* no query carried them: BEGIN and the offsets */
        err = cdc_apply_pre_flush(a);
    if (err != CDC_OK)
        goto fail;
    /* isolation finds rejects in bisection order; report in Kafka order */
    if (res->nrejects > 1)
        qsort(res->rejects, res->nrejects, sizeof *res->rejects, reject_cmp);
    a->oom_streak = 0;
    return CDC_OK;
fail:
    if (err == CDC_ERR_NOMEM)
        cdc_errstr_set(a->errstr, sizeof a->errstr, "out of memory");
    err = oom_cap(a, err);
    rollback(a);
    /* nothing is applied: the result must not claim otherwise */
    memset(res, 0, sizeof *res);
    return err; /* its class decides: retry, or stop (nothing to dead-letter) */
}

void cdc_apply_commit_inline(cdc_apply_t *a, bool on) {
    a->commit_inline = on;
}

cdc_err_t cdc_apply_batch_commit(cdc_apply_t *a) {
    if (a->committed) { /* by the batch's last query */
        a->committed = false;
        return CDC_OK;
    }
    if (!a->in_txn) {
        cdc_errstr_set(a->errstr, sizeof a->errstr, "no open batch");
        return CDC_ERR_STATE;
    }
    PGresult *r = PQexec(a->conn, "COMMIT");
    a->in_txn = false;
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK &&
        strcmp(PQcmdStatus(r), "COMMIT") == 0) {
        PQclear(r);
        return CDC_OK;
    }
    /* not retriable: a deferred constraint (or trigger) refused the
     * transaction at COMMIT; retrying would fail the same way, and no single
     * record can be named to dead-letter: stop with PostgreSQL's reason */
    cdc_err_t err;
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK) { /* said ROLLBACK */
        PQclear(r);
        cdc_errstr_set(a->errstr, sizeof a->errstr, "commit: the server "
                       "rolled the transaction back");
        err = CDC_ERR_STATE;
    } else {
        err = cdc_apply_pg_fail(a, r, CDC_ERR_STATE, "commit");
    }
    rollback(a);
    return err;
}

void cdc_apply_batch_abort(cdc_apply_t *a) {
    if (a->in_txn)
        rollback(a);
}
