/* pipeline_fresh.c - the freshness watermark's bookkeeping and rule; see
 * pipeline_fresh.h. */
#include "consumer/pipeline_fresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HB_PREFIX "__debezium-heartbeat."
#define NBUCKETS 16
#define BUCKET_MS 250

/* What some applied or consumed changes tell: each part may be unknown. */
typedef struct fbound_s {
    bool has_lsn, has_ts;
    uint64_t lsn;
    int64_t ts_us;
} fbound_t;

typedef struct fpart_s {
    char *topic;
    int32_t partition;
    int src;          /* index in f->srcs, -1: not known yet */
    bool hb;          /* a heartbeat topic: holds no changes */
    int64_t applied;  /* next offset applied (-1: unknown) */
    int64_t end;      /* end offset seen (-1: unknown) */
    bool end_fresh;   /* end came from asking the broker at end_at */
    int64_t end_at;
    fbound_t last;    /* the last applied streaming change */
    bool has_last;
    /* staged by cdc_fresh_rows for the batch being applied */
    int64_t p_applied;
    fbound_t p_last;
    bool p_has_last;
} fpart_t;

typedef struct fbucket_s {
    int64_t start_ms; /* its first record: a bucket spans BUCKET_MS */
    int64_t at_ms;    /* its latest record: it settles after this */
    fbound_t chg;
    int64_t hb_us; /* 0: none */
} fbucket_t;

typedef struct fsrc_s {
    char *name;
    fbucket_t b[NBUCKETS]; /* consumed, not settled yet; oldest first */
    int nb;
    fbound_t settled;      /* newest settled change */
    int64_t settled_hb_us; /* newest settled heartbeat, 0: none */
    bool pub;              /* published (committed) watermark */
    int64_t pub_ts_us;
} fsrc_t;

struct cdc_fresh_s {
    int settle_ms;
    fpart_t *parts;
    size_t nparts, capparts;
    fsrc_t *srcs;
    size_t nsrcs, capsrcs;
    char instance[300];
};

cdc_fresh_t *cdc_fresh_new(int settle_ms) {
    cdc_fresh_t *f = calloc(1, sizeof *f);
    char host[256];
    if (!f)
        return NULL;
    f->settle_ms = settle_ms;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(f->instance, sizeof f->instance, "%s:%ld", host, (long)getpid());
    return f;
}

void cdc_fresh_free(cdc_fresh_t *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->nparts; i++)
        free(f->parts[i].topic);
    for (size_t i = 0; i < f->nsrcs; i++)
        free(f->srcs[i].name);
    free(f->parts);
    free(f->srcs);
    free(f);
}

const char *cdc_fresh_instance(const cdc_fresh_t *f) { return f->instance; }

/* ---- bounds ---- */

static void bound_max(fbound_t *into, const fbound_t *x) {
    if (x->has_lsn && (!into->has_lsn || x->lsn > into->lsn))
        into->lsn = x->lsn, into->has_lsn = true;
    if (x->has_ts && (!into->has_ts || x->ts_us > into->ts_us))
        into->ts_us = x->ts_us, into->has_ts = true;
}

/* What applying change e tells, if anything (a streaming change). */
static bool bound_of(const cdc_event_t *e, fbound_t *b) {
    memset(b, 0, sizeof *b);
    if (e->kind != CDC_EV_CHANGE || e->snapshot || e->incremental)
        return false;
    if (e->pos.kind == CDC_POS_PG && e->pos.nparts >= 1) {
        b->lsn = e->pos.part[0];
        if (e->pos.nparts >= 2 && e->pos.part[1] > b->lsn)
            b->lsn = e->pos.part[1];
        b->has_lsn = true;
    }
    if (e->source_ts_us > 0)
        b->ts_us = e->source_ts_us, b->has_ts = true;
    return b->has_lsn || b->has_ts;
}

/* ---- partitions and sources ---- */

static fpart_t *part_find(cdc_fresh_t *f, const char *topic, int32_t part) {
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i].partition == part && !strcmp(f->parts[i].topic, topic))
            return &f->parts[i];
    return NULL;
}

static int src_find(const cdc_fresh_t *f, const char *name) {
    for (size_t i = 0; i < f->nsrcs; i++)
        if (!strcmp(f->srcs[i].name, name))
            return (int)i;
    return -1;
}

/* The source named name, added if new; -1 on OOM or an empty name. */
static int src_get(cdc_fresh_t *f, const char *name) {
    int i = src_find(f, name);
    if (i >= 0 || !name[0])
        return i;
    if (f->nsrcs == f->capsrcs) {
        size_t cap = f->capsrcs ? f->capsrcs * 2 : 4;
        fsrc_t *v = realloc(f->srcs, cap * sizeof *v);
        if (!v)
            return -1;
        f->srcs = v;
        f->capsrcs = cap;
    }
    fsrc_t *s = &f->srcs[f->nsrcs];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name)))
        return -1;
    return (int)f->nsrcs++;
}

cdc_err_t cdc_fresh_assign(cdc_fresh_t *f, const char *topic,
                           int32_t partition, int64_t applied) {
    fpart_t *p = part_find(f, topic, partition);
    if (!p) {
        if (f->nparts == f->capparts) {
            size_t cap = f->capparts ? f->capparts * 2 : 8;
            fpart_t *v = realloc(f->parts, cap * sizeof *v);
            if (!v)
                return CDC_ERR_NOMEM;
            f->parts = v;
            f->capparts = cap;
        }
        p = &f->parts[f->nparts];
        memset(p, 0, sizeof *p);
        if (!(p->topic = strdup(topic)))
            return CDC_ERR_NOMEM;
        p->partition = partition;
        p->src = -1;
        f->nparts++;
    }
    p->applied = p->p_applied = applied;
    p->end = -1;
    p->end_fresh = false;
    p->has_last = p->p_has_last = false; /* nothing applied by us yet */
    return CDC_OK;
}

void cdc_fresh_forget(cdc_fresh_t *f, const char *topic, int32_t partition) {
    fpart_t *p = part_find(f, topic, partition);
    if (!p)
        return;
    free(p->topic);
    *p = f->parts[--f->nparts];
}

void cdc_fresh_end_cached(cdc_fresh_t *f, const char *topic,
                          int32_t partition, int64_t end) {
    fpart_t *p = part_find(f, topic, partition);
    if (p && end > p->end) { /* more than we knew: behind, for sure */
        p->end = end;
        p->end_fresh = false;
    }
}

void cdc_fresh_end_asked(cdc_fresh_t *f, const char *topic,
                         int32_t partition, int64_t end, int64_t at_ms) {
    fpart_t *p = part_find(f, topic, partition);
    if (p && end >= 0) {
        p->end = end;
        p->end_fresh = true;
        p->end_at = at_ms;
    }
}

void cdc_fresh_each_to_ask(const cdc_fresh_t *f,
                           void (*cb)(const char *topic, int32_t partition,
                                      void *opaque),
                           void *opaque) {
    for (size_t i = 0; i < f->nparts; i++) {
        const fpart_t *p = &f->parts[i];
        if (p->end < 0 || p->applied >= p->end) /* may be caught up */
            cb(p->topic, p->partition, opaque);
    }
}

/* The source a heartbeat topic names: what follows HB_PREFIX. */
static const char *hb_source(const char *topic) {
    size_t n = sizeof HB_PREFIX - 1;
    return strncmp(topic, HB_PREFIX, n) ? NULL : topic + n;
}

/* Which source partition p belongs to, from its topic's name when no
 * record said it yet: "<source>." or HB_PREFIX "<source>". */
static void part_guess(cdc_fresh_t *f, fpart_t *p) {
    const char *hs = hb_source(p->topic);
    if (p->src >= 0)
        return;
    if (hs) {
        p->src = src_find(f, hs);
        p->hb = true;
        return;
    }
    for (size_t i = 0; i < f->nsrcs; i++) {
        size_t n = strlen(f->srcs[i].name);
        if (!strncmp(p->topic, f->srcs[i].name, n) && p->topic[n] == '.')
            p->src = (int)i;
    }
}

/* Counts one consumed record of source s at now_ms in its newest bucket,
 * or a new one every BUCKET_MS (so a steady stream still settles); a
 * bucket settles after its newest record (late is safe), and when all are
 * taken the newest one takes the record. */
static void src_note(fsrc_t *s, const fbound_t *chg, int64_t hb_us,
                     int64_t now_ms) {
    fbucket_t *b = s->nb ? &s->b[s->nb - 1] : NULL;
    if (!b || (now_ms - b->start_ms >= BUCKET_MS && s->nb < NBUCKETS)) {
        b = &s->b[s->nb++];
        memset(b, 0, sizeof *b);
        b->start_ms = now_ms;
    }
    b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
    if (chg)
        bound_max(&b->chg, chg);
    if (hb_us > b->hb_us)
        b->hb_us = hb_us;
}

cdc_err_t cdc_fresh_seen(cdc_fresh_t *f, const cdc_event_t *events,
                         const cdc_err_t *derr, size_t n, int64_t now_ms) {
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < n; i++) {
        const cdc_event_t *e = &events[i];
        fbound_t b;
        if (derr[i] != CDC_OK)
            continue;
        bool hb = e->kind == CDC_EV_HEARTBEAT;
        const char *name = hb ? hb_source(e->topic) : e->source_name;
        if (!name || (!hb && e->kind != CDC_EV_CHANGE))
            continue;
        int si = src_get(f, name);
        if (si < 0) {
            err = name[0] ? CDC_ERR_NOMEM : err;
            continue;
        }
        fpart_t *p = part_find(f, e->topic, e->partition);
        if (p && p->src < 0) {
            p->src = si;
            p->hb = hb;
        }
        if (hb && e->source_ts_us > 0)
            src_note(&f->srcs[si], NULL, e->source_ts_us, now_ms);
        else if (!hb && bound_of(e, &b))
            src_note(&f->srcs[si], &b, 0, now_ms);
    }
    return err;
}

/* Folds the buckets consumed by upto_ms into settled, for good: upto_ms
 * is older than every answer about a partition's end now held, and later
 * answers are later still. */
static void src_settle(fsrc_t *s, int64_t upto_ms) {
    int k = 0;
    while (k < s->nb && s->b[k].at_ms <= upto_ms) {
        bound_max(&s->settled, &s->b[k].chg);
        if (s->b[k].hb_us > s->settled_hb_us)
            s->settled_hb_us = s->b[k].hb_us;
        k++;
    }
    memmove(s->b, s->b + k, (size_t)(s->nb - k) * sizeof s->b[0]);
    s->nb -= k;
}

/* ---- the rule ---- */

/* Stages the batch's effect on each partition: next offsets, last
 * streaming change. */
static void stage(cdc_fresh_t *f, const cdc_offsets_t *offs,
                  const cdc_event_t *events, const cdc_err_t *derr,
                  size_t n) {
    fpart_t *p = NULL;
    for (size_t i = 0; i < f->nparts; i++) {
        f->parts[i].p_applied = f->parts[i].applied;
        f->parts[i].p_last = f->parts[i].last;
        f->parts[i].p_has_last = f->parts[i].has_last;
    }
    for (size_t i = 0; i < offs->n; i++)
        if ((p = part_find(f, offs->v[i].topic, offs->v[i].partition)))
            p->p_applied = offs->v[i].next_offset;
    p = NULL;
    for (size_t i = 0; i < n; i++) {
        fbound_t b;
        if (derr[i] != CDC_OK || !bound_of(&events[i], &b))
            continue;
        if (!p || p->partition != events[i].partition ||
            strcmp(p->topic, events[i].topic))
            p = part_find(f, events[i].topic, events[i].partition);
        if (p) { /* a partition's changes come in order: the last wins */
            p->p_last = b;
            p->p_has_last = true;
        }
    }
}

typedef struct fcalc_s {
    bool blocked, behind_any, data_behind;
    fbound_t min;         /* over partitions behind */
    int64_t upto;         /* S: consumed by then (the oldest answer about
                             a caught-up partition's end, less settle) */
    bool any_caught_up;
    bool min_lsn_unknown, min_ts_unknown;
    cdc_buf_t parts;      /* the text[] literal */
    char behind[256];
} fcalc_t;

/* One owned partition's part in source si's watermark. */
static void calc_part(const cdc_fresh_t *f, const fpart_t *p, fcalc_t *c) {
    /* caught up only against an end the broker gave at a known time */
    bool behind = !p->end_fresh || p->p_applied < p->end;
    if (!behind && !p->hb) {
        c->any_caught_up = true;
        if (p->end_at - f->settle_ms < c->upto)
            c->upto = p->end_at - f->settle_ms;
    }
    if (!behind || p->hb) /* a heartbeat partition holds no changes */
        return;
    if (!c->behind_any)
        snprintf(c->behind, sizeof c->behind, p->end < 0 ?
                 "%s[%d] end not known yet" : "%s[%d] applied %lld of %lld+",
                 p->topic, (int)p->partition, (long long)p->p_applied,
                 (long long)p->end);
    c->behind_any = c->data_behind = true;
    if (!p->p_has_last) { /* nothing to bound it by */
        c->blocked = true;
        return;
    }
    const fbound_t *b = &p->p_last;
    if (!b->has_lsn)
        c->min_lsn_unknown = true;
    else if (!c->min.has_lsn || b->lsn < c->min.lsn)
        c->min.lsn = b->lsn, c->min.has_lsn = true;
    if (!b->has_ts)
        c->min_ts_unknown = true;
    else if (!c->min.has_ts || b->ts_us < c->min.ts_us)
        c->min.ts_us = b->ts_us, c->min.has_ts = true;
}

/* S: the newest change and heartbeat consumed by upto_ms. */
static void src_upto(const fsrc_t *s, int64_t upto_ms, fbound_t *chg,
                     int64_t *hb_us) {
    *chg = s->settled;
    *hb_us = s->settled_hb_us;
    for (int k = 0; k < s->nb && s->b[k].at_ms <= upto_ms; k++) {
        bound_max(chg, &s->b[k].chg);
        if (s->b[k].hb_us > *hb_us)
            *hb_us = s->b[k].hb_us;
    }
}

/* Source si's row into *r, false when it has none to write. */
static bool calc_src(cdc_fresh_t *f, int si, cdc_arena_t *arena,
                     cdc_progress_t *r) {
    fsrc_t *s = &f->srcs[si];
    fcalc_t c;
    fbound_t w;
    int64_t hb_us;
    memset(&c, 0, sizeof c);
    c.upto = INT64_MAX;
    cdc_buf_adds(&c.parts, "{");
    for (size_t i = 0; i < f->nparts; i++) {
        fpart_t *p = &f->parts[i];
        if (p->src < 0 && p->end_fresh && p->p_applied >= p->end)
            continue; /* an unknown partition caught up: no matter */
        if (p->src >= 0 && p->src != si)
            continue;
        if (p->src < 0) { /* behind, and may be anyone's */
            c.blocked = true;
            continue;
        }
        cdc_buf_printf(&c.parts, "%s\"%s[%d]\"", c.parts.len > 1 ? "," : "",
                       p->topic, (int)p->partition);
        calc_part(f, p, &c);
    }
    cdc_buf_adds(&c.parts, "}");
    src_upto(s, c.upto, &w, &hb_us);
    if (!c.data_behind && hb_us > w.ts_us)
        w.ts_us = hb_us, w.has_ts = true;
    if (c.data_behind && !c.any_caught_up) { /* no S needed: all behind */
        w = c.min;
        w.has_lsn = w.has_lsn && !c.min_lsn_unknown;
        w.has_ts = w.has_ts && !c.min_ts_unknown;
    } else if (c.data_behind) {
        w.has_lsn = w.has_lsn && !c.min_lsn_unknown && c.min.has_lsn;
        if (w.has_lsn && c.min.lsn < w.lsn)
            w.lsn = c.min.lsn;
        w.has_ts = w.has_ts && !c.min_ts_unknown && c.min.has_ts;
        if (w.has_ts && c.min.ts_us < w.ts_us)
            w.ts_us = c.min.ts_us;
    }
    bool ok = !c.blocked && (w.has_lsn || w.has_ts) && c.parts.len > 2 &&
              !c.parts.oom;
    if (ok) {
        memset(r, 0, sizeof *r);
        r->source = s->name;
        r->has_lsn = w.has_lsn;
        r->lsn = w.lsn;
        r->source_ts_us = w.has_ts ? w.ts_us : 0;
        r->partitions = cdc_arena_strdup(arena, c.parts.data);
        r->behind = c.behind_any ? cdc_arena_strdup(arena, c.behind) : NULL;
        ok = r->partitions && (!c.behind_any || r->behind);
    }
    cdc_buf_free(&c.parts);
    return ok;
}

cdc_err_t cdc_fresh_rows(cdc_fresh_t *f, const cdc_offsets_t *offs,
                         const cdc_event_t *events, const cdc_err_t *derr,
                         size_t n, cdc_arena_t *arena, cdc_progress_t **rows,
                         size_t *nrows) {
    *rows = NULL;
    *nrows = 0;
    stage(f, offs, events, derr, n);
    if (!f->nsrcs)
        return CDC_OK;
    int64_t fold = INT64_MAX; /* the oldest answer about an end held */
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i].end_fresh && !f->parts[i].hb &&
            f->parts[i].end_at - f->settle_ms < fold)
            fold = f->parts[i].end_at - f->settle_ms;
    for (size_t i = 0; i < f->nparts; i++)
        part_guess(f, &f->parts[i]);
    cdc_progress_t *v = cdc_arena_calloc(arena, f->nsrcs, sizeof *v);
    if (!v)
        return CDC_ERR_NOMEM;
    for (size_t i = 0; i < f->nsrcs; i++) {
        if (fold != INT64_MAX)
            src_settle(&f->srcs[i], fold);
        if (calc_src(f, (int)i, arena, &v[*nrows]))
            (*nrows)++;
    }
    *rows = v;
    return CDC_OK;
}

void cdc_fresh_applied(cdc_fresh_t *f, const cdc_progress_t *rows,
                       size_t nrows) {
    for (size_t i = 0; i < f->nparts; i++) {
        f->parts[i].applied = f->parts[i].p_applied;
        f->parts[i].last = f->parts[i].p_last;
        f->parts[i].has_last = f->parts[i].p_has_last;
    }
    for (size_t i = 0; i < nrows; i++) {
        int si = src_find(f, rows[i].source);
        if (si >= 0 && rows[i].source_ts_us) {
            f->srcs[si].pub = true;
            f->srcs[si].pub_ts_us = rows[i].source_ts_us;
        }
    }
}

void cdc_fresh_each(const cdc_fresh_t *f,
                    void (*cb)(const char *source, int64_t source_ts_us,
                               void *opaque),
                    void *opaque) {
    for (size_t i = 0; i < f->nsrcs; i++)
        if (f->srcs[i].pub)
            cb(f->srcs[i].name, f->srcs[i].pub_ts_us, opaque);
}
