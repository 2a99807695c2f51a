/* schemas_int.h - shared inside schemas/ only: the DDL step the cache calls
 * on a miss, the catalog read, type evolution. */
#ifndef CDC_SCHEMAS_SCHEMAS_INT_H
#define CDC_SCHEMAS_SCHEMAS_INT_H

#include "schemas/schemas.h"

/* Reads the catalog for t->qname (t->schema, t->table, t->rowdef, t->keydef
 * set), creates/evolves the table when needed and fills t->cols, t->ncols,
 * t->key_cols, t->nkey (malloc'ed, owned by t). Runs inside conn's open
 * transaction under a savepoint of its own.
 * Errors: DDL, KEY, PG_DOWN, NOMEM; reason in errstr. */
cdc_err_t cdc_schema_ddl_load(PGconn *conn, const cdc_schema_conf_t *conf,
                              cdc_schema_table_t *t, char *errstr,
                              size_t errstr_size) CDC_MUSTCHECK;

/* The columns of the table qname (quoted): name, format_type, is_pk, and
 * the type again with a domain replaced by its base type (and the domain's
 * typmod); no rows when there is no such table. DDL when the catalog query
 * fails. */
cdc_err_t cdc_schema_catalog_read(PGconn *conn, const char *qname,
                                  PGresult **cat, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;
/* Row index of column name in a catalog result, or -1. */
int cdc_schema_cat_find(const PGresult *cat, const char *name);

/* evolve.c: changes the types of t's existing columns as the mode allows
 * (schemas.h, schema.evolution) under the table's advisory lock, after
 * re-reading the catalog under it; *cat is replaced by the catalog as it
 * ends. DDL when a change is refused (add mode and a rewrite: errstr names
 * the ALTER to run) or PostgreSQL refuses the ALTER; PG_DOWN, NOMEM. */
cdc_err_t cdc_schema_evolve_types(PGconn *conn, cdc_schema_evolution_t mode,
                                  const cdc_schema_table_t *t,
                                  PGresult **cat, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;

#endif
