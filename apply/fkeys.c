/* fkeys.c - foreign keys declared between the warehouse tables cdcsink
 * writes (see apply.h, cdc_apply_fkeys_check). Such a key can hold only
 * when each batch's transaction holds whole source transactions
 * (apply.consistency=transaction) and is checked at COMMIT: inside a batch
 * the changes are grouped per table (apply/collapse.c), so a child's insert
 * can run before its parent's, and a parent's hard delete before its
 * child's; a key checked at each statement then fails although the source
 * transaction, whole, satisfies it.
 * Does not: change any constraint, or look at keys to or from a table
 * cdcsink does not write (one without _cdc_position). */
#include "apply/apply_int.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* keys between two tables with _cdc_position, and whether each is checked
 * at COMMIT (DEFERRABLE INITIALLY DEFERRED) */
#define FKEYS_SQL                                                             \
    "SELECT c.conrelid::regclass::text, c.conname, "                          \
    "       c.confrelid::regclass::text, c.condeferrable AND c.condeferred "  \
    "FROM pg_constraint c "                                                   \
    "WHERE c.contype = 'f' AND EXISTS (SELECT 1 FROM pg_attribute t "         \
    "  WHERE t.attrelid = c.conrelid AND t.attname = '_cdc_position' "        \
    "  AND NOT t.attisdropped) AND EXISTS (SELECT 1 FROM pg_attribute t "     \
    "  WHERE t.attrelid = c.confrelid AND t.attname = '_cdc_position' "       \
    "  AND NOT t.attisdropped) "                                              \
    "ORDER BY 4, 1, 2"

cdc_err_t cdc_apply_fkeys_check(cdc_apply_t *a, bool txn_mode, char *errstr,
                                size_t errstr_size) {
    PGresult *r = NULL;
    cdc_err_t err = cdc_apply_pg_exec(a, FKEYS_SQL, 0, NULL, &r,
                                      CDC_ERR_PG_DOWN, "foreign keys");
    if (err) {
        cdc_errstr_set(errstr, errstr_size, "%s", a->errstr);
        return err;
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return CDC_OK;
    }
    /* sorted: keys checked at each statement first */
    bool immediate = strcmp(PQgetvalue(r, 0, 3), "t") != 0;
    const char *tbl = PQgetvalue(r, 0, 0), *name = PQgetvalue(r, 0, 1),
               *ref = PQgetvalue(r, 0, 2);
    if (immediate && txn_mode) {
        cdc_errstr_set(errstr, errstr_size,
                       "foreign key %s of %s (to %s) is checked at each "
                       "statement: cdcsink writes a batch table by table, "
                       "so a child can come before its parent even when the "
                       "source transaction is whole. HINT: ALTER TABLE %s "
                       "ALTER CONSTRAINT %s DEFERRABLE INITIALLY DEFERRED, "
                       "and set apply.consistency=transaction",
                       name, tbl, ref, tbl, name);
        err = CDC_ERR_CONFIG;
    } else if (!txn_mode) { /* batch mode cannot keep them: say so */
        cdc_log(CDC_LOG_WARN, "foreign key %s of %s (to %s) and %d other(s) "
                "between replicated tables: with apply.consistency=batch a "
                "batch can hold part of a source transaction and fail a key, "
                "which stops the stream. HINT: set apply.consistency="
                "transaction and declare them DEFERRABLE INITIALLY DEFERRED",
                name, tbl, ref, n - 1);
    }
    PQclear(r);
    return err;
}
