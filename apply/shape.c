/* shape.c - column selection and masking: columns.include / columns.exclude
 * keep columns out of the warehouse, columns.hash stores HMAC-SHA-256 (hex)
 * of a value in place of the value.
 *
 * Patterns are "schema.table.column" with '*' matching any run of
 * characters, against the source schema and table. A table named by some
 * columns.include pattern keeps only the columns those patterns name (and
 * its key columns); a table no include pattern names keeps all. Then
 * columns.exclude drops columns; excluding a key column is refused (the
 * record is rejected: hash it instead). A hashed column becomes text.
 *
 * The hash is over the text the value would land as. Typed values already
 * are that text (the decoder converted them); a schemaless value (it has a
 * JSON kind) is Debezium's encoding, and a hashed column's warehouse type
 * (text) cannot say how to turn it back, so a columns.hash pattern may end
 * in ":TYPE" (the source type) and such values are converted by it here
 * (schemas/convert.h, with the applier's connector modes) before hashing;
 * a value that fits no form of TYPE rejects its record (VALUE).
 *
 * How: before collection, each change event whose (source table, rowdef,
 * keydef) has any rule is replaced, in the transaction's arena, by a copy
 * whose rowdef/keydef are shaped ones (cached here, so the schema cache
 * sees stable definitions with their own fingerprints) and whose value
 * arrays hold only the kept columns, hashed where asked. Everything after
 * (DDL, staging, COPY, merge, the guard) sees only the shaped event: an
 * excluded column is never created, written or named in a statement, and a
 * clear value of a hashed column never leaves the process towards
 * PostgreSQL. Dead letters are the original Kafka records (clear values).
 *
 * Does not: read the catalog, touch the original events. Memory: shaped
 * definitions are malloc'ed and live as long as the applier; events and
 * values come from the transaction's arena. Threads: the applier's. */
#include "apply/apply_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/sha256.h"

typedef struct pat_s {
    char *schema, *table, *column;
    cdc_schema_conv_type_t *type; /* columns.hash's ":TYPE", or NULL */
} pat_t;

typedef struct pats_s {
    pat_t *v;
    size_t n;
} pats_t;

/* The shaping of one (source table, rowdef, keydef). */
typedef struct sdef_s {
    uint64_t hash;
    const cdc_rowdef_t *src_row, *src_key;
    uint64_t src_row_fp, src_key_fp;
    char *schema, *table;
    bool identity;       /* no rule applies: events pass unchanged */
    char *refusal;       /* records are rejected with this reason */
    cdc_rowdef_t row, key;
    uint32_t *row_from;  /* shaped column i <- source column row_from[i] */
    uint8_t *row_hash, *key_hash;
    /* the type a hashed column's schemaless values convert by, or NULL */
    const cdc_schema_conv_type_t **row_htype, **key_htype;
    struct sdef_s *next;
} sdef_t;

#define SDEF_BUCKETS 256

struct apply_colrules_s {
    pats_t include, exclude, hash;
    cdc_hmac_key_t key;
    sdef_t *buckets[SDEF_BUCKETS];
};

/* ---- patterns ---- */

static bool glob(const char *p, const char *s) {
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool pat_table(const pat_t *p, const char *schema, const char *table) {
    return glob(p->schema, schema) && glob(p->table, table);
}

/* the first pattern that names the column, or NULL */
static const pat_t *pats_find(const pats_t *ps, const char *schema,
                              const char *table, const char *column) {
    for (size_t i = 0; i < ps->n; i++)
        if (pat_table(&ps->v[i], schema, table) &&
            glob(ps->v[i].column, column))
            return &ps->v[i];
    return NULL;
}

static bool pats_match(const pats_t *ps, const char *schema,
                       const char *table, const char *column) {
    return pats_find(ps, schema, table, column) != NULL;
}

static bool pats_name_table(const pats_t *ps, const char *schema,
                            const char *table) {
    for (size_t i = 0; i < ps->n; i++)
        if (pat_table(&ps->v[i], schema, table))
            return true;
    return false;
}

static void pats_free(pats_t *ps) {
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].schema); /* one allocation per pattern */
        free(ps->v[i].type);
    }
    free(ps->v);
}

/* the length of the next list item: up to a comma outside parentheses
 * ("numeric(10,2)" stays whole) */
static size_t item_len(const char *p) {
    size_t n = 0;
    for (int depth = 0; p[n] && (p[n] != ',' || depth > 0); n++)
        depth += p[n] == '(' ? 1 : p[n] == ')' ? -1 : 0;
    return n;
}

/* columns.hash's ":TYPE" t of pattern v into v->type. CONFIG when t is
 * empty or its parentheses do not pair. */
static cdc_err_t pat_type(const char *setting, const char *t, pat_t *v,
                          char *errstr, size_t errstr_size) {
    int depth = 0;
    for (const char *c = t; *c && depth >= 0; c++)
        depth += *c == '(' ? 1 : *c == ')' ? -1 : 0;
    if (!*t || depth != 0) {
        cdc_errstr_set(errstr, errstr_size,
                       "%s: \"%s.%s.%s:%s\": want schema.table.column:TYPE, "
                       "TYPE as format_type() writes it (numeric(10,2), date)",
                       setting, v->schema, v->table, v->column, t);
        return CDC_ERR_CONFIG;
    }
    if (!(v->type = malloc(sizeof *v->type)))
        return CDC_ERR_NOMEM;
    cdc_schema_conv_type_parse(t, v->type);
    return CDC_OK;
}

/* "a.b.c, d.*.e" -> patterns; with typed (columns.hash) a pattern may end
 * in ":TYPE". CONFIG when one is not schema.table.column[:TYPE]. */
static cdc_err_t pats_parse(const char *setting, const char *list, pats_t *ps,
                            bool typed, char *errstr, size_t errstr_size) {
    const char *p = list ? list : "";
    while (*p) {
        size_t n = item_len(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m) {
            char *s = strndup(p, m);
            pat_t *v = realloc(ps->v, (ps->n + 1) * sizeof *v);
            if (!s || !v) {
                free(s);
                if (v)
                    ps->v = v;
                return CDC_ERR_NOMEM;
            }
            ps->v = v;
            char *colon = typed ? strrchr(s, ':') : NULL; /* ":TYPE" */
            if (colon)
                *colon = '\0';
            char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
            if (!d1 || !d2 || strchr(d2 + 1, '.') || d1 == s ||
                d2 == d1 + 1 || !d2[1]) {
                cdc_errstr_set(errstr, errstr_size,
                               "%s: \"%s\" is not schema.table.column "
                               "(each part a name or a pattern with *)",
                               setting, s);
                free(s);
                return CDC_ERR_CONFIG;
            }
            *d1 = *d2 = '\0';
            ps->v[ps->n++] = (pat_t){s, d1 + 1, d2 + 1, NULL};
            cdc_err_t err = colon ? pat_type(setting, colon + 1,
                                             &ps->v[ps->n - 1], errstr,
                                             errstr_size)
                                  : CDC_OK;
            if (err != CDC_OK)
                return err;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return CDC_OK;
}

/* ---- the secret ---- */

static cdc_err_t secret_load(const cdc_apply_shape_conf_t *c, char **out,
                             size_t *len, char *errstr, size_t errstr_size) {
    bool inline_set = c->secret && *c->secret;
    bool file_set = c->secret_file && *c->secret_file;
    *out = NULL;
    if (inline_set == file_set) {
        cdc_errstr_set(errstr, errstr_size,
                       "columns.hash needs exactly one of columns.hash.secret "
                       "and columns.hash.secret.file");
        return CDC_ERR_CONFIG;
    }
    if (inline_set) {
        *out = strdup(c->secret);
        *len = *out ? strlen(*out) : 0;
        return *out ? CDC_OK : CDC_ERR_NOMEM;
    }
    FILE *f = fopen(c->secret_file, "rb");
    char *buf = malloc(4097);
    size_t n = f && buf ? fread(buf, 1, 4097, f) : 0;
    int ferr = f ? ferror(f) : errno;
    if (f)
        fclose(f);
    if (!buf)
        return CDC_ERR_NOMEM;
    if (!f || ferr || n > 4096) {
        cdc_errstr_set(errstr, errstr_size, "columns.hash.secret.file %s: %s",
                       c->secret_file,
                       n > 4096 ? "longer than 4096 bytes"
                                : strerror(ferr ? ferr : EIO));
        free(buf);
        return CDC_ERR_CONFIG;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--; /* the newline an editor ends the file with is no part of it */
    if (!n) {
        cdc_errstr_set(errstr, errstr_size,
                       "columns.hash.secret.file %s is empty", c->secret_file);
        free(buf);
        return CDC_ERR_CONFIG;
    }
    *out = buf;
    *len = n;
    return CDC_OK;
}

cdc_err_t cdc_apply_colrules_new(const cdc_apply_shape_conf_t *c,
                                 apply_colrules_t **out, char *errstr,
                                 size_t errstr_size) {
    *out = NULL;
    if (!c || ((!c->include || !*c->include) && (!c->exclude || !*c->exclude) &&
               (!c->hash || !*c->hash)))
        return CDC_OK; /* no rules: no shaping at all */
    apply_colrules_t *r = calloc(1, sizeof *r);
    if (!r)
        return CDC_ERR_NOMEM;
    cdc_err_t err = pats_parse("columns.include", c->include, &r->include,
                               false, errstr, errstr_size);
    if (err == CDC_OK)
        err = pats_parse("columns.exclude", c->exclude, &r->exclude, false,
                         errstr, errstr_size);
    if (err == CDC_OK)
        err = pats_parse("columns.hash", c->hash, &r->hash, true, errstr,
                         errstr_size);
    if (err == CDC_OK && r->hash.n) {
        char *secret;
        size_t len;
        err = secret_load(c, &secret, &len, errstr, errstr_size);
        if (err == CDC_OK) {
            cdc_hmac_key_init(&r->key, secret, len);
            memset(secret, 0, len);
            free(secret);
        }
    }
    if (err != CDC_OK) {
        if (err == CDC_ERR_NOMEM)
            cdc_errstr_set(errstr, errstr_size, "out of memory");
        cdc_apply_colrules_free(r);
        return err;
    }
    *out = r;
    return CDC_OK;
}

static void sdef_free(sdef_t *d) {
    free(d->schema);
    free(d->table);
    free(d->refusal);
    free(d->row.cols);
    free(d->key.cols);
    free(d->row_from);
    free(d->row_hash);
    free(d->key_hash);
    free(d->row_htype);
    free(d->key_htype);
    free(d);
}

void cdc_apply_colrules_free(apply_colrules_t *r) {
    if (!r)
        return;
    for (size_t b = 0; b < SDEF_BUCKETS; b++)
        for (sdef_t *d = r->buckets[b], *next; d; d = next) {
            next = d->next;
            sdef_free(d);
        }
    pats_free(&r->include);
    pats_free(&r->exclude);
    pats_free(&r->hash);
    memset(&r->key, 0, sizeof r->key);
    free(r);
}

/* ---- shaped definitions ---- */

static bool in_def(const cdc_rowdef_t *d, const char *name) {
    for (uint32_t i = 0; d && i < d->ncols; i++)
        if (strcmp(d->cols[i].name, name) == 0)
            return true;
    return false;
}

static void as_text(cdc_column_t *c, bool typed) {
    c->type = typed ? CDC_T_TEXT : CDC_T_UNKNOWN;
    c->array = false;
    c->precision = c->scale = -1;
}

/* Builds d's shaped rowdef and keydef. NOMEM only. */
static cdc_err_t sdef_build(const apply_colrules_t *r, sdef_t *d) {
    const cdc_rowdef_t *sr = d->src_row, *sk = d->src_key;
    bool incl = pats_name_table(&r->include, d->schema, d->table);
    uint64_t fp = cdc_hash(CDC_HASH_INIT, &sr->fingerprint,
                           sizeof sr->fingerprint);
    d->row.cols = calloc(sr->ncols ? sr->ncols : 1, sizeof *d->row.cols);
    d->row_from = calloc(sr->ncols ? sr->ncols : 1, sizeof *d->row_from);
    d->row_hash = calloc(sr->ncols ? sr->ncols : 1, 1);
    d->key.cols = calloc(sk->ncols ? sk->ncols : 1, sizeof *d->key.cols);
    d->key_hash = calloc(sk->ncols ? sk->ncols : 1, 1);
    d->row_htype = calloc(sr->ncols ? sr->ncols : 1, sizeof *d->row_htype);
    d->key_htype = calloc(sk->ncols ? sk->ncols : 1, sizeof *d->key_htype);
    if (!d->row.cols || !d->row_from || !d->row_hash || !d->key.cols ||
        !d->key_hash || !d->row_htype || !d->key_htype)
        return CDC_ERR_NOMEM;
    d->identity = true;
    for (uint32_t i = 0; i < sr->ncols; i++) {
        const char *n = sr->cols[i].name;
        bool key = in_def(sk, n);
        bool out = !key && ((incl && !pats_match(&r->include, d->schema,
                                                 d->table, n)) ||
                            pats_match(&r->exclude, d->schema, d->table, n));
        if (key && pats_match(&r->exclude, d->schema, d->table, n) &&
            !d->refusal) {
            char msg[512];
            snprintf(msg, sizeof msg, "columns.exclude names key column "
                     "\"%s\" of %s.%s: a key column cannot be left out; "
                     "HINT: list it in columns.hash instead", n, d->schema,
                     d->table);
            if (!(d->refusal = strdup(msg)))
                return CDC_ERR_NOMEM;
        }
        const pat_t *hp = pats_find(&r->hash, d->schema, d->table, n);
        uint8_t h = hp != NULL;
        fp = cdc_hash(fp, &(uint8_t){(uint8_t)(out ? 2 : h)}, 1);
        d->identity &= !out && !h;
        if (out)
            continue;
        uint32_t j = d->row.ncols++;
        d->row.cols[j] = sr->cols[i];
        d->row_from[j] = i;
        d->row_hash[j] = h;
        d->row_htype[j] = hp ? hp->type : NULL;
        if (h)
            as_text(&d->row.cols[j], sr->typed);
    }
    for (uint32_t j = 0; j < sk->ncols; j++) {
        d->key.cols[j] = sk->cols[j];
        const pat_t *hp = pats_find(&r->hash, d->schema, d->table,
                                    sk->cols[j].name);
        d->key_hash[j] = hp != NULL;
        d->key_htype[j] = hp ? hp->type : NULL;
        fp = cdc_hash(fp, &d->key_hash[j], 1);
        d->identity &= !d->key_hash[j];
        if (d->key_hash[j])
            as_text(&d->key.cols[j], sk->typed);
    }
    d->key.ncols = sk->ncols;
    d->row.typed = sr->typed;
    d->key.typed = sk->typed;
    d->row.kinds = sr->kinds; /* schemaless values still to convert */
    d->key.kinds = sk->kinds;
    d->row.fingerprint = fp;
    d->key.fingerprint = cdc_hash(fp, &sk->fingerprint, sizeof sk->fingerprint);
    d->identity &= !d->refusal;
    return CDC_OK;
}

static uint64_t sdef_hash(const cdc_event_t *ev) {
    uint64_t h = CDC_HASH_INIT;
    h = cdc_hash(h, &ev->rowdef, sizeof ev->rowdef);
    h = cdc_hash(h, &ev->keydef, sizeof ev->keydef);
    h = cdc_hash(h, ev->schema, strlen(ev->schema) + 1);
    return cdc_hash(h, ev->table, strlen(ev->table));
}

/* The shaping of ev's table and definitions, made on first use. NULL on
 * NOMEM. */
static const sdef_t *sdef_get(apply_colrules_t *r, const cdc_event_t *ev) {
    uint64_t h = sdef_hash(ev);
    sdef_t **slot = &r->buckets[h % SDEF_BUCKETS];
    for (sdef_t *d = *slot; d; d = d->next)
        /* the fingerprints too: the decoder may reuse a freed rowdef's
         * address for another one */
        if (d->hash == h && d->src_row == ev->rowdef &&
            d->src_key == ev->keydef &&
            d->src_row_fp == ev->rowdef->fingerprint &&
            d->src_key_fp == ev->keydef->fingerprint &&
            !strcmp(d->table, ev->table) && !strcmp(d->schema, ev->schema))
            return d;
    sdef_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = (sdef_t){.hash = h, .src_row = ev->rowdef, .src_key = ev->keydef,
                  .src_row_fp = ev->rowdef->fingerprint,
                  .src_key_fp = ev->keydef->fingerprint,
                  .schema = strdup(ev->schema), .table = strdup(ev->table)};
    if (!d->schema || !d->table || sdef_build(r, d) != CDC_OK) {
        sdef_free(d);
        return NULL;
    }
    d->next = *slot;
    *slot = d;
    return d;
}

/* ---- events ---- */

/* What one event's values are shaped with. */
typedef struct vshape_s {
    apply_colrules_t *r;
    cdc_arena_t *ar;
    const cdc_schema_conv_modes_t *modes; /* schemaless conversion */
    cdc_buf_t tmp;
    const char *why; /* a value that fits no form of its hashed type */
} vshape_t;

/* v of hashed column name replaced by the hex HMAC of its text. A
 * schemaless value (a JSON kind) of a column with a ":TYPE" is first turned
 * into the text it would land as (schemas/convert.h: a base64 Decimal into
 * "19.99", a day count into "1815-12-10"), so the hash equals the one of
 * the same value with schemas on and pgcrypto's hmac() of the landed value.
 * VALUE with vs->why set when it fits no form of TYPE; NOMEM. */
static cdc_err_t hash_value(vshape_t *vs, cdc_value_t *v, const char *name,
                            const cdc_schema_conv_type_t *type) {
    const char *text = v->text;
    size_t len = v->len;
    cdc_json_kind_t kind = (cdc_json_kind_t)v->kind;
    if (type && kind != CDC_JK_UNKNOWN &&
        !cdc_schema_conv_passes(type, vs->modes, kind)) {
        char msg[512], full[640];
        cdc_buf_reset(&vs->tmp);
        cdc_err_t err = cdc_schema_conv_value(type, vs->modes, kind, text, len,
                                              &vs->tmp, msg, sizeof msg);
        if (err == CDC_ERR_VALUE) {
            snprintf(full, sizeof full, "columns.hash column \"%s\": %s",
                     name, msg);
            vs->why = cdc_arena_strdup(vs->ar, full);
            return vs->why ? CDC_ERR_VALUE : CDC_ERR_NOMEM;
        }
        if (err != CDC_OK || vs->tmp.oom)
            return CDC_ERR_NOMEM;
        text = vs->tmp.data ? vs->tmp.data : "";
        len = vs->tmp.len;
    }
    char *hex = cdc_arena_alloc(vs->ar, 2 * CDC_SHA256_LEN + 1);
    if (!hex)
        return CDC_ERR_NOMEM;
    cdc_hmac_sha256_hex(&vs->r->key, text, len, hex);
    v->text = hex;
    v->len = 2 * CDC_SHA256_LEN;
    v->kind = CDC_JK_UNKNOWN; /* text now, whatever it was */
    return CDC_OK;
}

/* *out = the n values of def picked by from (NULL: identity) from src,
 * hashed where hash[i] (by htype[i]). VALUE (vs->why) or NOMEM. */
static cdc_err_t vals_shape(vshape_t *vs, cdc_value_t **out,
                            const cdc_value_t *src, const cdc_rowdef_t *def,
                            const uint32_t *from, const uint8_t *hash,
                            const cdc_schema_conv_type_t *const *htype) {
    uint32_t n = def->ncols;
    cdc_value_t *o = cdc_arena_alloc(vs->ar, (n ? n : 1) * sizeof *o);
    if (!o)
        return CDC_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        o[i] = src[from ? from[i] : i];
        if (!hash[i] || o[i].state != CDC_V_SET)
            continue;
        cdc_err_t err = hash_value(vs, &o[i], def->cols[i].name, htype[i]);
        if (err != CDC_OK)
            return err;
    }
    *out = o;
    return CDC_OK;
}

/* *out = the shaped copy of ev (arena), ev itself when nothing applies.
 * *refusal (with *rej, its class) is set when the record must be
 * rejected. NOMEM only. */
static cdc_err_t event_shape(vshape_t *vs, cdc_event_t *ev, cdc_event_t **out,
                             const char **refusal, cdc_err_t *rej) {
    *refusal = NULL;
    *out = ev;
    if (ev->kind != CDC_EV_CHANGE || ev->op == 't' || !ev->rowdef ||
        !ev->keydef || !ev->schema || !ev->table)
        return CDC_OK; /* the checks in collect.c judge what is malformed */
    const sdef_t *d = sdef_get(vs->r, ev);
    if (!d)
        return CDC_ERR_NOMEM;
    if (d->identity)
        return CDC_OK;
    if (d->refusal) {
        *refusal = d->refusal;
        *rej = CDC_ERR_DDL;
        return CDC_OK;
    }
    cdc_event_t *c = cdc_arena_alloc(vs->ar, sizeof *c);
    if (!c)
        return CDC_ERR_NOMEM;
    *c = *ev;
    c->rowdef = &d->row;
    c->keydef = &d->key;
    cdc_err_t err = CDC_OK;
    if (ev->after)
        err = vals_shape(vs, &c->after, ev->after, &d->row, d->row_from,
                         d->row_hash, d->row_htype);
    if (err == CDC_OK && ev->before)
        err = vals_shape(vs, &c->before, ev->before, &d->row, d->row_from,
                         d->row_hash, d->row_htype);
    if (err == CDC_OK && ev->key)
        err = vals_shape(vs, &c->key, ev->key, &d->key, NULL, d->key_hash,
                         d->key_htype);
    if (err == CDC_OK && ev->old_key)
        err = vals_shape(vs, &c->old_key, ev->old_key, &d->key, NULL,
                         d->key_hash, d->key_htype);
    if (err == CDC_ERR_VALUE) {
        *refusal = vs->why;
        *rej = CDC_ERR_VALUE;
        return CDC_OK;
    }
    if (err == CDC_OK)
        *out = c;
    return err;
}

cdc_err_t cdc_apply_shape(cdc_apply_t *a, apply_groups_t *gs) {
    if (!a->colrules || !gs->n)
        return CDC_OK;
    cdc_event_t **evs = cdc_arena_alloc(a->arena, gs->n * sizeof *evs);
    if (!evs)
        return CDC_ERR_NOMEM;
    vshape_t vs = {a->colrules, a->arena, &a->conv, CDC_BUF_INIT, NULL};
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < gs->n && err == CDC_OK; i++) {
        const char *refusal;
        cdc_err_t rej;
        evs[i] = gs->events[i];
        if (!evs[i])
            continue;
        err = event_shape(&vs, gs->events[i], &evs[i], &refusal, &rej);
        if (err == CDC_OK && refusal) {
            err = cdc_apply_reject(a, i, rej, refusal);
            evs[i] = NULL; /* rejected: collection skips it */
        }
    }
    cdc_buf_free(&vs.tmp);
    if (err == CDC_OK)
        gs->events = evs;
    return err;
}
