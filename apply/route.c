/* route.c - which warehouse table a source table's records go to:
 *
 *   target.map    "regex=schema.table" entries (comma-separated), matched
 *                 whole against "source_schema.source_table": the first
 *                 match wins, and several sources may write its target
 *                 (say, the child partitions of one partitioned table)
 *   target.table  a template over ${db}, ${schema}, ${table}: "schema.table"
 *                 or "table" (then in target.schema, else the source
 *                 schema); empty = the source's own name
 *
 * Two source tables never write one target table unless a map entry names
 * it: the template must hold ${table} (checked at start), and the first
 * record of a second source reaching a template target is refused naming
 * both sources (PERMANENT).
 *
 * Memory: the rules and the routes seen (one per source table) are
 * malloc'ed, owned by the applier; names handed out live as long as it. */
#include "apply/apply_int.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

#define ROUTE_BUCKETS 256

typedef struct map_s {
    regex_t re;
    char *target;
    struct map_s *next;
} map_t;

typedef struct route_s { /* one source table */
    char *source;        /* "schema.table" */
    char *schema, *table;
    bool mapped;
    char *why;           /* refused: the reason */
    uint64_t h;
    struct route_s *next;
} route_t;

typedef struct owner_s { /* one template target: its one source */
    char *target, *source;
    struct owner_s *next;
} owner_t;

struct apply_routes_s {
    map_t *maps;
    char *tmpl;
    route_t *src[ROUTE_BUCKETS];
    owner_t *own[ROUTE_BUCKETS];
};

void cdc_apply_routes_free(apply_routes_t *r) {
    if (!r)
        return;
    for (map_t *m = r->maps, *n; m; m = n) {
        n = m->next;
        regfree(&m->re);
        free(m->target);
        free(m);
    }
    for (int b = 0; b < ROUTE_BUCKETS; b++) {
        for (route_t *x = r->src[b], *n; x; x = n) {
            n = x->next;
            free(x->source), free(x->schema), free(x->table);
            free(x->why), free(x);
        }
        for (owner_t *o = r->own[b], *n; o; o = n) {
            n = o->next;
            free(o->target), free(o->source), free(o);
        }
    }
    free(r->tmpl);
    free(r);
}

/* One "regex=target" entry of target.map. */
static cdc_err_t map_add(apply_routes_t *r, const char *e, size_t len,
                         char *errstr, size_t errstr_size) {
    const char *eq = memchr(e, '=', len);
    if (!eq || eq == e || eq + 1 == e + len) {
        cdc_errstr_set(errstr, errstr_size, "target.map: \"%.*s\" is not "
                       "regex=schema.table", (int)len, e);
        return CDC_ERR_CONFIG;
    }
    map_t *m = calloc(1, sizeof *m);
    char *re = malloc((size_t)(eq - e) + 3);
    if (!m || !re) {
        free(m), free(re);
        return CDC_ERR_NOMEM;
    }
    snprintf(re, (size_t)(eq - e) + 3, "^%.*s$", (int)(eq - e), e);
    int rc = regcomp(&m->re, re, REG_EXTENDED | REG_NOSUB);
    free(re);
    if (rc != 0) {
        cdc_errstr_set(errstr, errstr_size, "target.map: \"%.*s\": not a "
                       "regular expression", (int)(eq - e), e);
        free(m);
        return CDC_ERR_CONFIG;
    }
    m->target = strndup(eq + 1, (size_t)(e + len - eq - 1));
    if (!m->target) {
        regfree(&m->re), free(m);
        return CDC_ERR_NOMEM;
    }
    map_t **tail = &r->maps;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    return CDC_OK;
}

cdc_err_t cdc_apply_routes_new(const char *tmpl, const char *map,
                               apply_routes_t **out, char *errstr,
                               size_t errstr_size) {
    *out = NULL;
    if ((!tmpl || !*tmpl) && (!map || !*map))
        return CDC_OK;
    if (tmpl && *tmpl && !strstr(tmpl, "${table}")) {
        cdc_errstr_set(errstr, errstr_size, "target.table \"%s\" has no "
                       "${table}: every source table would write one target "
                       "table; HINT: name the tables that may share a target "
                       "in target.map (regex=schema.table)", tmpl);
        return CDC_ERR_CONFIG;
    }
    apply_routes_t *r = calloc(1, sizeof *r);
    if (!r || !(r->tmpl = strdup(tmpl ? tmpl : ""))) {
        free(r);
        return CDC_ERR_NOMEM;
    }
    cdc_err_t err = CDC_OK;
    for (const char *p = map ? map : ""; *p && err == CDC_OK;) {
        size_t len = strcspn(p, ",");
        while (len && *p == ' ')
            p++, len--;
        if (len)
            err = map_add(r, p, len, errstr, errstr_size);
        p += len;
        if (*p == ',')
            p++;
    }
    if (err != CDC_OK) {
        cdc_apply_routes_free(r);
        return err;
    }
    *out = r;
    return CDC_OK;
}

/* ${db} ${schema} ${table} of tmpl expanded into b. */
static void expand(cdc_buf_t *b, const char *tmpl, const cdc_event_t *ev) {
    static const char *const vars[] = {"${db}", "${schema}", "${table}"};
    for (const char *p = tmpl; *p;) {
        int v = -1;
        for (int i = 0; i < 3 && v < 0; i++)
            if (!strncmp(p, vars[i], strlen(vars[i])))
                v = i;
        if (v < 0) {
            cdc_buf_addc(b, *p++);
            continue;
        }
        cdc_buf_adds(b, v == 0 ? ev->db : v == 1 ? ev->schema : ev->table);
        p += strlen(vars[v]);
    }
}

/* Splits "schema.table" (or "table": dflt_schema) into x. */
static bool split(route_t *x, const char *name, const char *dflt_schema) {
    const char *dot = strchr(name, '.');
    x->schema = dot ? strndup(name, (size_t)(dot - name)) : strdup(dflt_schema);
    x->table = strdup(dot ? dot + 1 : name);
    return x->schema && x->table;
}

/* The owner check of a template target: the first source keeps it. */
static cdc_err_t own(apply_routes_t *r, route_t *x) {
    cdc_buf_t t = CDC_BUF_INIT;
    cdc_buf_printf(&t, "%s.%s", x->schema, x->table);
    if (t.oom)
        return CDC_ERR_NOMEM;
    uint64_t h = cdc_hash(CDC_HASH_INIT, t.data, t.len);
    owner_t **slot = &r->own[h % ROUTE_BUCKETS];
    for (owner_t *o = *slot; o; o = o->next)
        if (!strcmp(o->target, t.data)) {
            if (strcmp(o->source, x->source)) {
                cdc_buf_t w = CDC_BUF_INIT;
                cdc_buf_printf(&w, "source tables %s and %s would both "
                               "write table %s: target.table is meant for "
                               "one source per table; HINT: add ${schema} "
                               "(or ${db}) to target.table, or name the "
                               "sources that may share it in target.map",
                               o->source, x->source, t.data);
                x->why = w.data;
            }
            cdc_buf_free(&t);
            return x->why || !strcmp(o->source, x->source) ? CDC_OK
                                                           : CDC_ERR_NOMEM;
        }
    owner_t *o = calloc(1, sizeof *o);
    if (!o || !(o->source = strdup(x->source))) {
        free(o), cdc_buf_free(&t);
        return CDC_ERR_NOMEM;
    }
    o->target = t.data;
    o->next = *slot;
    *slot = o;
    return CDC_OK;
}

/* The route of a source table seen for the first time. */
static cdc_err_t route_make(apply_routes_t *r, const cdc_event_t *ev,
                            const char *dflt_schema, route_t *x) {
    const char *target = NULL;
    for (map_t *m = r->maps; m && !target; m = m->next)
        if (regexec(&m->re, x->source, 0, NULL, 0) == 0)
            target = m->target;
    x->mapped = target != NULL;
    cdc_buf_t b = CDC_BUF_INIT;
    if (!target && *r->tmpl)
        expand(&b, r->tmpl, ev);
    else if (!target)
        cdc_buf_adds(&b, ev->table);
    cdc_buf_addc(&b, '\0');
    bool ok = !b.oom && split(x, target ? target : b.data, dflt_schema);
    cdc_buf_free(&b);
    if (!ok)
        return CDC_ERR_NOMEM;
    return x->mapped ? CDC_OK : own(r, x);
}

cdc_err_t cdc_apply_route(apply_routes_t *r, const cdc_event_t *ev,
                          const char *dflt_schema, const char **schema,
                          const char **table, bool *mapped,
                          const char **why) {
    *why = NULL;
    cdc_buf_t s = CDC_BUF_INIT;
    cdc_buf_printf(&s, "%s.%s", ev->schema, ev->table);
    if (s.oom)
        return CDC_ERR_NOMEM;
    uint64_t h = cdc_hash(CDC_HASH_INIT, s.data, s.len);
    route_t **slot = &r->src[h % ROUTE_BUCKETS], *x = *slot;
    while (x && (x->h != h || strcmp(x->source, s.data)))
        x = x->next;
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) {
            cdc_buf_free(&s);
            return CDC_ERR_NOMEM;
        }
        x->source = s.data, s.data = NULL, x->h = h;
        if (route_make(r, ev, dflt_schema, x) != CDC_OK) {
            free(x->source), free(x->schema), free(x->table), free(x);
            return CDC_ERR_NOMEM;
        }
        x->next = *slot;
        *slot = x;
    }
    cdc_buf_free(&s);
    *schema = x->schema;
    *table = x->table;
    *mapped = x->mapped;
    *why = x->why;
    return CDC_OK;
}
