/* convert_json.c - the structured half of the schemaless converter: JSON
 * arrays to array literals, VariableScaleDecimal, Point, the geometry
 * structs (PostGIS WKB and, since Debezium 3.7, box/lseg/path/polygon as
 * WKB, circle and line as structs) and hstore (json and map modes). */
#include "schemas/convert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

yajl_val cv_parse(const cv_t *c, const char *s, size_t n) {
    char err[128] = "";
    char *z = malloc(n + 1);
    if (!z) {
        cdc_errstr_set(c->errstr, c->errsz, "out of memory");
        return NULL;
    }
    memcpy(z, s, n);
    z[n] = '\0';
    yajl_val v = yajl_tree_parse(z, err, sizeof err);
    free(z);
    if (!v) {
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        cv_bad(c, s, n, NULL, "is not valid JSON (%s)", err);
    }
    return v;
}

/* the string of v, "" when v is no string */
static const char *sget(yajl_val v) {
    return v && YAJL_IS_STRING(v) && v->u.string ? v->u.string : "";
}

static yajl_val field(yajl_val o, const char *k) {
    if (!YAJL_IS_OBJECT(o))
        return NULL;
    for (size_t i = 0; i < o->u.object.len; i++)
        if (!strcmp(o->u.object.keys[i], k))
            return o->u.object.values[i];
    return NULL;
}

/* ---- JSON text of a parsed value (a json element nested in an array) ---- */

static void json_str(const char *s, cdc_buf_t *o) {
    static const char hx[] = "0123456789abcdef";
    cdc_buf_addc(o, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            cdc_buf_addc(o, '\\');
            cdc_buf_addc(o, (char)ch);
        } else if (ch < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hx[ch >> 4], hx[ch & 15]};
            cdc_buf_add(o, u, 6);
        } else {
            cdc_buf_addc(o, (char)ch);
        }
    }
    cdc_buf_addc(o, '"');
}

static void json_out(yajl_val v, cdc_buf_t *o) {
    if (YAJL_IS_STRING(v)) {
        json_str(sget(v), o);
    } else if (YAJL_IS_NUMBER(v)) {
        cdc_buf_adds(o, YAJL_GET_NUMBER(v));
    } else if (YAJL_IS_OBJECT(v)) {
        cdc_buf_addc(o, '{');
        for (size_t i = 0; i < v->u.object.len; i++) {
            if (i)
                cdc_buf_addc(o, ',');
            json_str(v->u.object.keys[i], o);
            cdc_buf_addc(o, ':');
            json_out(v->u.object.values[i], o);
        }
        cdc_buf_addc(o, '}');
    } else if (YAJL_IS_ARRAY(v)) {
        cdc_buf_addc(o, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i)
                cdc_buf_addc(o, ',');
            json_out(v->u.array.values[i], o);
        }
        cdc_buf_addc(o, ']');
    } else {
        cdc_buf_adds(o, YAJL_IS_TRUE(v) ? "true" : YAJL_IS_FALSE(v) ? "false"
                                                                   : "null");
    }
}

/* ---- literals ---- */

/* s as a quoted array element or hstore key/value: "a\"b" */
static void add_quoted(const char *s, size_t n, cdc_buf_t *o) {
    size_t run = 0;
    cdc_buf_addc(o, '"');
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"' || s[i] == '\\') {
            cdc_buf_add(o, s + run, i - run);
            cdc_buf_addc(o, '\\');
            run = i;
        }
    cdc_buf_add(o, s + run, n - run);
    cdc_buf_addc(o, '"');
}

/* the shortest text that reads back as d ("NaN", "Infinity" as PostgreSQL
 * spells them) */
static void add_double(double d, cdc_buf_t *o) {
    char b[40];
    if (isnan(d)) {
        cdc_buf_adds(o, "NaN");
        return;
    }
    if (isinf(d)) {
        cdc_buf_adds(o, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int p = 15; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, d);
        if (strtod(b, NULL) == d)
            break;
    }
    cdc_buf_adds(o, b);
}

/* a JSON number, or the strings Jackson writes for NaN/Infinity */
static bool add_coord(yajl_val v, cdc_buf_t *o) {
    if (YAJL_IS_NUMBER(v)) {
        cdc_buf_adds(o, YAJL_GET_NUMBER(v));
        return true;
    }
    const char *s = YAJL_IS_STRING(v) ? sget(v) : "";
    if (strcmp(s, "NaN") && strcmp(s, "Infinity") && strcmp(s, "-Infinity"))
        return false;
    cdc_buf_adds(o, s);
    return true;
}

static cdc_err_t obj_bad(const cv_t *c, yajl_val v, const char *why) {
    cdc_buf_t j = CDC_BUF_INIT;
    json_out(v, &j);
    cdc_err_t e = cv_bad(c, j.data ? j.data : "", j.len, NULL, "%s", why);
    cdc_buf_free(&j);
    return e;
}

/* ---- structs ---- */

static cdc_err_t vsd(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    yajl_val sc = field(v, "scale"), val = field(v, "value");
    int64_t scale;
    if (!YAJL_IS_NUMBER(sc) || !YAJL_IS_STRING(val) ||
        cdc_codec_parse_i64(YAJL_GET_NUMBER(sc), strlen(YAJL_GET_NUMBER(sc)),
                            &scale) || scale < -100000 || scale > 100000)
        return obj_bad(c, v, "is not a VariableScaleDecimal "
                       "{\"scale\":int,\"value\":base64}");
    cdc_buf_t raw = CDC_BUF_INIT;
    const char *b = sget(val);
    int rc = cdc_codec_b64_decode(b, strlen(b), &raw);
    if (rc == 0)
        rc = cdc_codec_decimal((const unsigned char *)(raw.data ? raw.data : ""),
                               raw.len, (int32_t)scale, out);
    cdc_buf_free(&raw);
    if (out->oom)
        return CDC_ERR_NOMEM;
    return rc ? obj_bad(c, v, "has a value that is not base64") : CDC_OK;
}

/* "(x,y)" of a Point struct {"x":..,"y":..} */
static bool point_xy(yajl_val v, cdc_buf_t *out) {
    cdc_buf_addc(out, '(');
    if (!add_coord(field(v, "x"), out))
        return false;
    cdc_buf_addc(out, ',');
    if (!add_coord(field(v, "y"), out))
        return false;
    cdc_buf_addc(out, ')');
    return true;
}

/* well-known binary, 2D only */
typedef struct wkb_s {
    const unsigned char *p;
    size_t n, i;
    bool le;
} wkb_t;

static bool wkb_u32(wkb_t *w, uint32_t *v) {
    if (w->n - w->i < 4)
        return false;
    const unsigned char *b = w->p + w->i;
    *v = w->le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24
               : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 |
                     (uint32_t)b[0] << 24;
    w->i += 4;
    return true;
}

static bool wkb_f64(wkb_t *w, double *d) {
    uint64_t u = 0;
    if (w->n - w->i < 8)
        return false;
    for (int k = 0; k < 8; k++)
        u |= (uint64_t)w->p[w->i + (size_t)k] << (w->le ? 8 * k : 8 * (7 - k));
    w->i += 8;
    memcpy(d, &u, sizeof *d);
    return true;
}

/* byte order, geometry type (EWKB SRID flag skipped); false for 3D/4D */
static bool wkb_head(wkb_t *w, uint32_t *type) {
    uint32_t srid;
    if (w->i >= w->n || w->p[w->i] > 1)
        return false;
    w->le = w->p[w->i++] == 1;
    if (!wkb_u32(w, type))
        return false;
    if (*type & 0x20000000u && !wkb_u32(w, &srid))
        return false;
    if (*type & 0xc0000000u || (*type & 0xffff) > 1000)
        return false;
    *type &= 0xff;
    return true;
}

/* n points "(x,y),(x,y)"; keep[] of them (all when keep < 0) */
static bool wkb_points(wkb_t *w, uint32_t n, int64_t keep, cdc_buf_t *out) {
    for (uint32_t k = 0; k < n; k++) {
        double x, y;
        if (!wkb_f64(w, &x) || !wkb_f64(w, &y))
            return false;
        if (keep >= 0 && k >= keep)
            continue;
        if (k)
            cdc_buf_addc(out, ',');
        cdc_buf_addc(out, '(');
        add_double(x, out);
        cdc_buf_addc(out, ',');
        add_double(y, out);
        cdc_buf_addc(out, ')');
    }
    return true;
}

/* the first and last point of a ring are the same when it is closed */
static bool ring_closed(const wkb_t *w, uint32_t n) {
    return n > 1 && w->n - w->i >= (size_t)n * 16 &&
           !memcmp(w->p + w->i, w->p + w->i + (size_t)(n - 1) * 16, 16);
}

static cdc_err_t wkb_geometric(const cv_t *c, yajl_val v, const unsigned char *b,
                               size_t n, cdc_buf_t *out) {
    wkb_t w = {b, n, 0, false};
    uint32_t type, cnt = 0, rings = 0;
    cdc_conv_kind_t k = c->t->kind;
    bool ok = wkb_head(&w, &type);
    if (ok && type == 3) /* polygon: the exterior ring */
        ok = wkb_u32(&w, &rings) && rings >= 1;
    ok = ok && wkb_u32(&w, &cnt);
    if (!ok || (k == CDC_CONV_BOX ? type != 3 || cnt < 3
                : k == CDC_CONV_POLYGON ? type != 3 || cnt < 1
                : k == CDC_CONV_LSEG ? type != 2 || cnt != 2
                : type != 2 || cnt < 1))
        return obj_bad(c, v, "has no WKB geometry of this type (2D polygon "
                       "for box and polygon, line string for lseg and path)");
    if (k == CDC_CONV_BOX) { /* Debezium's ring: x1y1 x1y2 x2y2 x2y1 x1y1 */
        double x1, y1, x2, y2, skip;
        ok = wkb_f64(&w, &x1) && wkb_f64(&w, &y1) && wkb_f64(&w, &skip) &&
             wkb_f64(&w, &skip) && wkb_f64(&w, &x2) && wkb_f64(&w, &y2);
        if (!ok)
            return obj_bad(c, v, "has a truncated WKB polygon");
        cdc_buf_addc(out, '(');
        add_double(x1, out);
        cdc_buf_addc(out, ',');
        add_double(y1, out);
        cdc_buf_add(out, "),(", 3);
        add_double(x2, out);
        cdc_buf_addc(out, ',');
        add_double(y2, out);
        cdc_buf_addc(out, ')');
        return CDC_OK;
    }
    bool closed = k == CDC_CONV_POLYGON;
    if (k == CDC_CONV_PATH) {
        yajl_val ext = field(field(v, "extensions"), "closed");
        closed = ext && YAJL_IS_STRING(ext) && !strcmp(sget(ext), "true");
    }
    /* polygon: Debezium closes the ring; PostgreSQL's polygon is implicit */
    int64_t keep = k == CDC_CONV_POLYGON && ring_closed(&w, cnt) ? (int64_t)cnt - 1 : -1;
    cdc_buf_addc(out, closed ? '(' : '[');
    ok = wkb_points(&w, cnt, keep, out);
    cdc_buf_addc(out, closed ? ')' : ']');
    return ok ? CDC_OK : obj_bad(c, v, "has a truncated WKB geometry");
}

static cdc_err_t geometry(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    yajl_val wkb = field(v, "wkb"), srid = field(v, "srid");
    cdc_buf_t raw = CDC_BUF_INIT;
    const char *s = YAJL_IS_STRING(wkb) ? sget(wkb) : NULL;
    if (!s || cdc_codec_b64_decode(s, strlen(s), &raw)) {
        cdc_buf_free(&raw);
        return obj_bad(c, v, "is not a geometry struct {\"wkb\":base64,...}");
    }
    cdc_err_t err = CDC_OK;
    const unsigned char *b = (const unsigned char *)(raw.data ? raw.data : "");
    if (c->t->kind == CDC_CONV_GEOMETRY) { /* PostGIS reads hex (E)WKB */
        static const char hx[] = "0123456789ABCDEF";
        if (YAJL_IS_NUMBER(srid))
            cdc_buf_printf(out, "SRID=%s;", YAJL_GET_NUMBER(srid));
        for (size_t i = 0; i < raw.len; i++) {
            char h[2] = {hx[b[i] >> 4], hx[b[i] & 15]};
            cdc_buf_add(out, h, 2);
        }
    } else {
        err = wkb_geometric(c, v, b, raw.len, out);
    }
    cdc_buf_free(&raw);
    return err;
}

/* "<(x,y),r>" of a Circle struct, "{a,b,c}" of a Line struct */
static cdc_err_t circle_or_line(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    bool ok;
    if (c->t->kind == CDC_CONV_CIRCLE) {
        cdc_buf_addc(out, '<');
        ok = point_xy(field(v, "center"), out);
        cdc_buf_addc(out, ',');
        ok = ok && add_coord(field(v, "radius"), out);
        cdc_buf_addc(out, '>');
    } else {
        cdc_buf_addc(out, '{');
        ok = add_coord(field(v, "a"), out);
        cdc_buf_addc(out, ',');
        ok = ok && add_coord(field(v, "b"), out);
        cdc_buf_addc(out, ',');
        ok = ok && add_coord(field(v, "c"), out);
        cdc_buf_addc(out, '}');
    }
    return ok ? CDC_OK : obj_bad(c, v, c->t->kind == CDC_CONV_CIRCLE
                                 ? "is not a Circle {\"center\":{x,y},\"radius\"}"
                                 : "is not a Line {\"a\",\"b\",\"c\"}");
}

/* "k"=>"v", "k2"=>NULL */
static cdc_err_t hstore_obj(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    if (!YAJL_IS_OBJECT(v))
        return obj_bad(c, v, "is not a JSON object of hstore pairs");
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        yajl_val x = v->u.object.values[i];
        if (i)
            cdc_buf_add(out, ", ", 2);
        add_quoted(k, strlen(k), out);
        cdc_buf_add(out, "=>", 2);
        if (YAJL_IS_NULL(x)) {
            cdc_buf_adds(out, "NULL");
        } else if (YAJL_IS_STRING(x)) {
            add_quoted(sget(x), strlen(sget(x)), out);
        } else {
            cdc_buf_t j = CDC_BUF_INIT;
            json_out(x, &j);
            add_quoted(j.data ? j.data : "", j.len, out);
            cdc_buf_free(&j);
        }
    }
    return out->oom ? CDC_ERR_NOMEM : CDC_OK;
}

cdc_err_t cv_hstore_text(const cv_t *c, const char *s, size_t n,
                         cdc_buf_t *out) {
    yajl_val v = cv_parse(c, s, n);
    if (!v)
        return CDC_ERR_VALUE;
    cdc_err_t err = YAJL_IS_OBJECT(v) ? hstore_obj(c, v, out)
                  : cv_bad(c, s, n, NULL, "is not a JSON object of hstore pairs");
    yajl_tree_free(v);
    return err;
}

cdc_err_t cv_object(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    switch (c->t->kind) {
    case CDC_CONV_PASS: case CDC_CONV_JSON:
        json_out(v, out);
        return out->oom ? CDC_ERR_NOMEM : CDC_OK;
    case CDC_CONV_NUMERIC: case CDC_CONV_MONEY:
        return vsd(c, v, out);
    case CDC_CONV_POINT:
        return point_xy(v, out) ? CDC_OK
             : obj_bad(c, v, "is not a Point {\"x\":double,\"y\":double}");
    case CDC_CONV_GEOMETRY: case CDC_CONV_BOX: case CDC_CONV_LSEG:
    case CDC_CONV_PATH: case CDC_CONV_POLYGON:
        return geometry(c, v, out);
    case CDC_CONV_CIRCLE: case CDC_CONV_LINE:
        return circle_or_line(c, v, out);
    case CDC_CONV_HSTORE: /* hstore.handling.mode=map */
        return hstore_obj(c, v, out);
    default:
        return obj_bad(c, v, "is an object, which no Debezium mode sends for "
                       "this type");
    }
}

/* one element (not null, not a nested array) of an array */
static cdc_err_t element(const cv_t *c, yajl_val e, cdc_buf_t *out) {
    if (YAJL_IS_STRING(e))
        return cv_scalar(c, CDC_JK_STRING, sget(e),
                         strlen(sget(e)), out);
    if (YAJL_IS_NUMBER(e))
        return cv_scalar(c, CDC_JK_NUMBER, YAJL_GET_NUMBER(e),
                         strlen(YAJL_GET_NUMBER(e)), out);
    if (YAJL_IS_TRUE(e) || YAJL_IS_FALSE(e))
        return cv_scalar(c, CDC_JK_BOOL, YAJL_IS_TRUE(e) ? "true" : "false",
                         YAJL_IS_TRUE(e) ? 4 : 5, out);
    return cv_object(c, e, out);
}

cdc_err_t cv_array(const cv_t *c, yajl_val v, cdc_buf_t *out) {
    cdc_schema_conv_type_t et = *c->t;
    cv_t ec = *c;
    cdc_buf_t tmp = CDC_BUF_INIT;
    cdc_err_t err = CDC_OK;
    et.array = false;
    ec.t = &et;
    if (!YAJL_IS_ARRAY(v))
        return obj_bad(c, v, "is not a JSON array");
    cdc_buf_addc(out, '{');
    for (size_t i = 0; i < v->u.array.len && !err; i++) {
        yajl_val e = v->u.array.values[i];
        if (i)
            cdc_buf_addc(out, ',');
        if (YAJL_IS_NULL(e)) {
            cdc_buf_adds(out, "NULL");
        } else if (YAJL_IS_ARRAY(e) && et.kind != CDC_CONV_VECTOR &&
                   et.kind != CDC_CONV_JSON) {
            err = cv_array(c, e, out); /* a nested array: a nested literal */
        } else if (YAJL_IS_ARRAY(e)) {
            cdc_buf_reset(&tmp);
            json_out(e, &tmp);
            add_quoted(tmp.data ? tmp.data : "", tmp.len, out);
        } else {
            cdc_buf_reset(&tmp);
            cdc_buf_adds(&tmp, "");
            err = element(&ec, e, &tmp);
            if (!err)
                add_quoted(tmp.data, tmp.len, out);
        }
    }
    cdc_buf_addc(out, '}');
    if (!err && (tmp.oom || out->oom))
        err = CDC_ERR_NOMEM;
    cdc_buf_free(&tmp);
    return err;
}
