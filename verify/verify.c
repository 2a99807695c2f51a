/* verify.c - cdc_verify_run: the tables, and per table the walk, the
 * recheck and the verdict. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "verify/verify_int.h"

#define DEFAULT_MAX_DIFFS 100000

const char *cdc_verify_kind_str(cdc_verify_kind_t kind) {
    return kind == CDC_VERIFY_MISSING ? "missing"
           : kind == CDC_VERIFY_EXTRA ? "extra"
                                      : "different";
}

const char *cdc_verify_rule_str(cdc_verify_rule_t rule) {
    static const char *const names[] = {"none", "watermark", "stable",
                                        "stable-idle", "stable-timeout"};
    return (unsigned)rule < sizeof names / sizeof *names ? names[rule]
                                                         : "none";
}

static void free_cands(vrun_t *r) {
    for (size_t i = 0; i < r->ncands; i++) {
        for (size_t j = 0; r->cands[i].key && j < r->t->nkey; j++)
            free(r->cands[i].key[j]);
        free(r->cands[i].key);
    }
    free(r->cands);
    r->cands = NULL;
    r->ncands = r->capcands = 0;
}

static void report(vrun_t *r, const vdiffs_t *d, const size_t counts[2],
                   cdc_verify_cb cb, void *opaque) {
    cdc_verify_result_t res;
    memset(&res, 0, sizeof res);
    res.schema = r->t->rschema;
    res.table = r->t->rtable;
    res.source = r->t->qname[SIDE_SRC];
    res.nkey = r->t->nkey;
    res.key_names = (const char *const *)r->t->key_names;
    res.source_rows = r->rows[SIDE_SRC];
    res.replica_rows = r->rows[SIDE_REP];
    res.ndiffs = d->n;
    res.diffs = d->d;
    res.truncated = r->truncated;
    res.rechecked = r->ncands;
    res.settled = counts[0];
    res.in_flight = counts[1];
    res.rule = r->rule;
    res.skipped_columns = (const char *const *)r->t->skipped;
    res.nskipped = r->t->nskipped;
    res.seconds = (double)(cdc_mono_ms() - r->started_ms) / 1000.0;
    cb(&res, opaque);
}

/* one table: describe, walk, recheck, report */
static cdc_err_t one_table(const cdc_verify_conf_t *conf, PGconn *conn[2],
                           const char *name, cdc_verify_cb cb, void *opaque,
                           size_t *differing, char *errstr,
                           size_t errstr_size) {
    cdc_arena_t *a = cdc_arena_new(0);
    vtable_t t;
    vrun_t r;
    vdiffs_t d = {NULL, 0, 0};
    size_t counts[2] = {0, 0}; /* settled, in flight */
    cdc_err_t err = CDC_ERR_NOMEM;
    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    if (!a)
        return err;
    r.conf = conf;
    r.conn[0] = conn[0];
    r.conn[1] = conn[1];
    r.t = &t;
    r.errstr = errstr;
    r.errstr_size = errstr_size;
    r.started_ms = r.last_progress_ms = cdc_mono_ms();
    err = cdc_verify_describe(conn, name, conf->source_schema, a, &t, errstr,
                              errstr_size);
    if (!err)
        err = cdc_verify_scan(&r);
    if (!err)
        err = cdc_verify_recheck(&r, &d, &counts[0], &counts[1]);
    if (!err) {
        report(&r, &d, counts, cb, opaque);
        *differing += d.n > 0 || r.truncated;
    }
    cdc_verify_diffs_free(&d, t.nkey);
    free_cands(&r);
    cdc_arena_free(a);
    return err;
}

cdc_err_t cdc_verify_run(const cdc_verify_conf_t *conf_in, cdc_verify_cb cb,
                         void *opaque, size_t *differing, char *errstr,
                         size_t errstr_size) {
    cdc_verify_conf_t conf = *conf_in;
    PGconn *conn[2] = {NULL, NULL};
    cdc_arena_t *a = cdc_arena_new(0);
    char **listed = NULL;
    const char *const *names = conf.tables;
    size_t n = conf.ntables;
    cdc_err_t err = CDC_ERR_PG_DOWN;
    *differing = 0;
    if (!conf.max_diffs)
        conf.max_diffs = DEFAULT_MAX_DIFFS;
    if (!a)
        return CDC_ERR_NOMEM;
    if (!(conn[SIDE_SRC] = cdc_verify_connect(conf.source_conninfo, "source",
                                              errstr, errstr_size)) ||
        !(conn[SIDE_REP] = cdc_verify_connect(conf.replica_conninfo,
                                              "replica", errstr,
                                              errstr_size)))
        goto out;
    if (!conf.ntables) {
        if ((err = cdc_verify_list_tables(conn[SIDE_REP], a, &listed, &n,
                                          errstr, errstr_size)))
            goto out;
        names = (const char *const *)listed;
    }
    err = CDC_OK;
    for (size_t i = 0; i < n && !err; i++)
        err = one_table(&conf, conn, names[i], cb, opaque, differing, errstr,
                        errstr_size);
out:
    free(listed);
    PQfinish(conn[0]);
    PQfinish(conn[1]);
    cdc_arena_free(a);
    return err;
}
