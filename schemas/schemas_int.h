/* schemas_int.h - shared inside schemas/ only: the DDL step the cache calls
 * on a miss. */
#ifndef CDC_SCHEMAS_SCHEMAS_INT_H
#define CDC_SCHEMAS_SCHEMAS_INT_H

#include "schemas/schemas.h"

/* Reads the catalog for t->qname (t->schema, t->table, t->rowdef, t->keydef
 * set), creates/evolves the table when needed and fills t->cols, t->ncols,
 * t->key_cols, t->nkey (malloc'ed, owned by t). Runs inside conn's open
 * transaction under a savepoint of its own.
 * Errors: DDL, KEY, PG_DOWN, NOMEM; reason in errstr. */
cdc_err_t cdc_schema_ddl_load(PGconn *conn, int fillfactor,
                              cdc_schema_table_t *t, char *errstr,
                              size_t errstr_size) CDC_MUSTCHECK;

#endif
