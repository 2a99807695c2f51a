/* pipeline_txn.c - apply.consistency=transaction; see pipeline_txn.h. */
#include "consumer/pipeline_txn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "consumer/pipeline_txn_int.h"

void cdc_txn_stop_reason(cdc_pipeline_t *p, const char *fmt, ...) {
    char e[sizeof p->errstr];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e, sizeof e, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->mu);
    if (!p->errstr[0])
        memcpy(p->errstr, e, sizeof e);
    pthread_mutex_unlock(&p->mu);
}

/* ---- the tracker ---- */

static void txn_free1(txn_t *x) {
    for (size_t i = 0; i < x->ncolls; i++)
        free(x->colls[i].name);
    free(x->colls);
    free(x->bits);
    cdc_offsets_map_free(&x->floor);
    free(x);
}

void cdc_txn_init(cdc_txn_state_t *t, bool on, size_t max_events,
                  size_t batch_events, int linger_ms) {
    memset(t, 0, sizeof *t);
    t->on = on;
    t->max_events = max_events;
    t->batch_events = batch_events;
    t->eval_ms = linger_ms > 10 ? linger_ms : 10;
    t->txtopic_max_ts = -1;
    t->warn_at = batch_events;
    t->ahead_max = batch_events;
}

void cdc_txn_reset(cdc_txn_state_t *t) {
    for (size_t i = 0; i < t->tab_cap; i++)
        while (t->tab[i]) {
            txn_t *x = t->tab[i];
            t->tab[i] = x->next;
            txn_free1(x);
        }
    t->count = 0;
    t->nopen = 0;
    t->dirty = false;
    t->stuck = t->cut_ready = false;
    t->pre_valid = false;
    t->txtopic_max_ts = -1;
    t->carried_b = NULL;
    t->carried_n = 0;
}

void cdc_txn_free(cdc_txn_state_t *t) {
    cdc_txn_reset(t);
    free(t->tab);
    free(t->keep);
    free(t->pidx);
    free(t->first_held);
    free(t->pheld);
    free(t->pre_evs);
    free(t->pre_ids);
    free(t->pre_seen);
    cdc_offsets_map_free(&t->paused);
    free(t->open);
    memset(t, 0, sizeof *t);
}

/* the xid of PostgreSQL's "<xid>:<lsn>"; -1 for any other form */
static int64_t id_xid(const char *id) {
    int64_t x = 0;
    const char *p = id;
    for (; *p >= '0' && *p <= '9' && x < INT64_MAX / 10 - 9; p++)
        x = x * 10 + (*p - '0');
    return p != id && *p == ':' ? x : -1;
}

/* what correlates BEGIN, events and END: the xid, else the whole id (top
 * bit set, so the two never meet) */
static uint64_t txn_key(const cdc_event_t *ev, int64_t *xid) {
    *xid = ev->tx_id >= 0 ? ev->tx_id : id_xid(ev->txn_id);
    if (*xid >= 0)
        return (uint64_t)*xid;
    return cdc_hash(CDC_HASH_INIT, ev->txn_id, strlen(ev->txn_id)) |
           (1ULL << 63);
}

static txn_t **slot(cdc_txn_state_t *t, uint64_t key) {
    txn_t **s = &t->tab[cdc_hash(CDC_HASH_INIT, &key, sizeof key) &
                        (t->tab_cap - 1)];
    while (*s && (*s)->key != key)
        s = &(*s)->next;
    return s;
}

static txn_t *txn_find(cdc_txn_state_t *t, uint64_t key) {
    return t->tab_cap ? *slot(t, key) : NULL;
}

static bool tab_grow(cdc_txn_state_t *t) {
    size_t cap = t->tab_cap ? t->tab_cap * 2 : 256;
    txn_t **old = t->tab, **nt = calloc(cap, sizeof *nt);
    size_t ocap = t->tab_cap;
    if (!nt)
        return false;
    t->tab = nt;
    t->tab_cap = cap;
    for (size_t i = 0; i < ocap; i++)
        while (old[i]) {
            txn_t *x = old[i], **s;
            old[i] = x->next;
            s = slot(t, x->key);
            x->next = NULL;
            *s = x;
        }
    free(old);
    return true;
}

static txn_t *txn_get(cdc_txn_state_t *t, uint64_t key, int64_t xid) {
    txn_t *x = txn_find(t, key);
    if (x)
        return x;
    if (t->count >= t->tab_cap && !tab_grow(t))
        return NULL;
    if (!(x = calloc(1, sizeof *x)))
        return NULL;
    x->key = key;
    x->xid = xid;
    x->expected = -1;
    x->first_ts = INT64_MAX;
    txn_t **s = slot(t, key);
    *s = x;
    t->count++;
    return x;
}

/* the read-ahead bound's stall clock: the blocker gained something */
static void gained(cdc_txn_state_t *t, const txn_t *x) {
    if (t->pace_has && x->key == t->pace_key)
        t->pace_prog++;
}

static void txn_del(cdc_txn_state_t *t, txn_t *x) {
    txn_t **s = slot(t, x->key);
    if (*s != x)
        return;
    cdc_txn_unlist(t, x);
    *s = x->next;
    t->count--;
    gained(t, x); /* the blocker leaves: complete or released */
    txn_free1(x);
}

static txn_coll_t *coll(txn_t *x, const char *name) {
    for (size_t i = 0; i < x->ncolls; i++)
        if (!strcmp(x->colls[i].name, name))
            return &x->colls[i];
    txn_coll_t *v = realloc(x->colls, (x->ncolls + 1) * sizeof *v);
    if (!v)
        return NULL;
    x->colls = v;
    v = &x->colls[x->ncolls];
    if (!(v->name = strdup(name)))
        return NULL;
    v->want = -1;
    v->got = 0;
    x->ncolls++;
    return v;
}

/* ---- noting records ---- */

static void warn_held(cdc_txn_state_t *t, size_t held) {
    if (t->max_events || held < t->warn_at || !t->warn_at)
        return;
    cdc_log(CDC_LOG_WARN, "%zu records held back waiting for the end of "
            "source transactions (apply.transaction.max.events=0: never "
            "split; memory grows with the largest transaction)", held);
    while (t->warn_at <= held)
        t->warn_at *= 2;
}

/* After a cut that applied nothing, the next one can only differ once a
 * transaction holding a partition's first record (a head) completes, goes
 * past max.events, may be an orphan or is abandoned: until then the cut
 * is not worth computing (cdc_txn_due). Every record of the batch is held then, so each
 * partition's first record belongs to a head, every head waits (incomplete,
 * or behind another head), and new records, appended behind, change no
 * head: a transaction that is not a head completing unblocks nothing. A
 * record of a partition new to the batch has no head before it: that cut
 * is computed (a heartbeat, a snapshot read applies at once). */
static void unstick(cdc_txn_state_t *t, const txn_t *x) {
    if (x->head && (txn_complete(x) || cdc_txn_abandoned(x) ||
                    (t->max_events && x->ndistinct > t->max_events)))
        t->stuck = false;
}

/* the cut that applied nothing: its heads, and when to look again */
static void stick(cdc_txn_state_t *t, const cdc_batch_t *b) {
    t->stuck = true;
    t->stuck_b = b;
    t->stuck_n = b->n;
    t->stuck_parts = b->offs.n;
    t->stuck_orphan_ts = INT64_MAX;
    for (size_t j = 0; j < b->offs.n; j++) {
        size_t i = t->first_held[j];
        txn_t *x = i < b->n ? b->txn[i] : NULL;
        if (!x)
            continue;
        x->head = true;
        if (!x->begin_seen && !x->end_seen && x->first_ts < t->stuck_orphan_ts)
            t->stuck_orphan_ts = x->first_ts;
    }
}

static cdc_err_t note_txmeta(cdc_txn_state_t *t, const cdc_event_t *ev,
                             const cdc_record_t *r, txn_t **entry) {
    int64_t xid;
    uint64_t key = txn_key(ev, &xid);
    txn_t *x = *entry = txn_get(t, key, xid);
    if (!x)
        return CDC_ERR_NOMEM;
    if (r->timestamp_ms > t->txtopic_max_ts)
        t->txtopic_max_ts = r->timestamp_ms;
    if (t->txtopic_max_ts > t->stuck_orphan_ts) /* a head may be an orphan */
        t->stuck = false;
    if (!ev->txn_end) {
        if (!x->begin_seen)
            gained(t, x);
        x->begin_seen = true;
        return cdc_txn_abandon_begin(t, x, r);
    }
    if (!x->end_seen)
        gained(t, x);
    x->end_seen = true;
    cdc_txn_abandon_end(t, x, ev, r);
    x->expected = ev->txn_event_count > 0 ? ev->txn_event_count : 0;
    for (size_t i = 0; i < ev->txn_ncollections; i++) {
        txn_coll_t *c = coll(x, ev->txn_collections[i].name);
        if (!c)
            return CDC_ERR_NOMEM;
        c->want = ev->txn_collections[i].event_count;
    }
    if ((uint64_t)x->expected > t->largest)
        t->largest = (uint64_t)x->expected;
    unstick(t, x);
    return CDC_OK;
}

/* counts a change event once per total_order */
static cdc_err_t note_event(cdc_txn_state_t *t, const cdc_event_t *ev,
                            const cdc_record_t *r, txn_t **entry) {
    int64_t xid, ord = ev->txn_total_order;
    uint64_t key = txn_key(ev, &xid);
    txn_t *x = *entry = txn_get(t, key, xid);
    if (!x)
        return CDC_ERR_NOMEM;
    if (r->timestamp_ms >= 0 && r->timestamp_ms < x->first_ts)
        x->first_ts = r->timestamp_ms;
    if (cdc_txn_abandon_event(x, ev))
        unstick(t, x);
    if (x->head && !x->begin_seen && !x->end_seen &&
        x->first_ts < t->stuck_orphan_ts)
        t->stuck_orphan_ts = x->first_ts;
    if (ord < 1)
        ord = (int64_t)x->ndistinct + 1; /* no order: count every one */
    size_t byte = (size_t)(ord - 1) / 8;
    if (byte >= x->bits_cap) {
        size_t cap = x->bits_cap ? x->bits_cap : 16;
        while (cap <= byte)
            cap *= 2;
        uint8_t *nb = realloc(x->bits, cap);
        if (!nb)
            return CDC_ERR_NOMEM;
        memset(nb + x->bits_cap, 0, cap - x->bits_cap);
        x->bits = nb;
        x->bits_cap = cap;
    }
    uint8_t bit = (uint8_t)(1u << ((ord - 1) % 8));
    if (x->bits[byte] & bit)
        return CDC_OK; /* a replay of an event already counted */
    x->bits[byte] |= bit;
    x->ndistinct++;
    gained(t, x);
    char name[512];
    snprintf(name, sizeof name, "%s.%s", ev->schema, ev->table);
    txn_coll_t *c = coll(x, name);
    if (!c)
        return CDC_ERR_NOMEM;
    c->got++;
    if (x->ndistinct > t->largest)
        t->largest = x->ndistinct;
    unstick(t, x);
    return CDC_OK;
}

/* streaming changes must carry the transaction block */
static cdc_err_t note_noblock(cdc_pipeline_t *p, const cdc_record_t *r) {
    cdc_txn_state_t *t = &p->txn;
    if (t->seen_block || ++t->noblock < CDC_TXN_NOBLOCK_MAX)
        return CDC_OK;
    cdc_txn_stop_reason(p,
                "apply.consistency=transaction: %d streaming change "
                "events (the last %s[%d]@%lld) carry no `transaction` "
                "block. HINT: set provide.transaction.metadata=true on "
                "the Debezium connector and add its <prefix>.transaction "
                "topic to `topics`, or set apply.consistency=batch",
                CDC_TXN_NOBLOCK_MAX, r->topic, (int)r->partition,
                (long long)r->offset);
    return CDC_ERR_CONFIG;
}

cdc_err_t cdc_txn_note(cdc_pipeline_t *p, cdc_batch_t *b, size_t i) {
    cdc_txn_state_t *t = &p->txn;
    const cdc_event_t *ev = &b->events[i];
    if (!t->on)
        return CDC_OK;
    t->dirty = true;
    t->cut_ready = false;
    if (t->stuck) { /* no cut until a head moves: every record waits */
        warn_held(t, b->n);
        pthread_mutex_lock(&p->mu);
        t->m_held = b->n;
        pthread_mutex_unlock(&p->mu);
    }
    if (b->derr[i])
        return CDC_OK;
    if (ev->kind == CDC_EV_TXMETA)
        return note_txmeta(t, ev, &b->recs[i], &b->txn[i]);
    if (ev->kind != CDC_EV_CHANGE)
        return CDC_OK;
    if (ev->txn_id[0]) {
        t->seen_block = true;
        if (!t->txtopic && !t->block_wait_ms)
            t->block_wait_ms = cdc_mono_ms();
        return note_event(t, ev, &b->recs[i], &b->txn[i]);
    }
    if (!ev->snapshot && !ev->incremental && ev->op != 'r')
        return note_noblock(p, &b->recs[i]);
    return CDC_OK;
}

/* whether b, due by size because of the records it holds back, keeps
 * filling: few records came since the last hand-off, and the applier is
 * busy or handed that batch less than CDC_BATCH_DRAIN_MAX_MS ago */
static bool filling(cdc_pipeline_t *p, const cdc_batch_t *b, int64_t now) {
    const cdc_txn_state_t *t = &p->txn;
    size_t mem = cdc_batch_mem(b);
    if (b != t->carried_b || !t->carried_n || b->n < t->carried_n ||
        b->n - t->carried_n >= t->batch_events ||
        (mem > t->carried_bytes &&
         mem - t->carried_bytes >= p->conf.max_bytes / 2))
        return false;
    pthread_mutex_lock(&p->hand_mu);
    bool busy = p->handed != NULL;
    pthread_mutex_unlock(&p->hand_mu);
    return busy || now - t->carried_ms < CDC_BATCH_DRAIN_MAX_MS;
}

bool cdc_txn_due(cdc_pipeline_t *p, const cdc_batch_t *b, int64_t now) {
    const cdc_txn_state_t *t = &p->txn;
    if (t->max_events && b->n > t->max_events)
        return true;
    if (t->stuck && b == t->stuck_b && b->n >= t->stuck_n &&
        b->offs.n == t->stuck_parts)
        return false; /* no head moved, no partition came, since the cut */
    return t->dirty && now - t->last_cut_ms >= t->eval_ms &&
           !filling(p, b, now);
}

/* ---- the cut ---- */

static bool scratch(cdc_txn_state_t *t, size_t n, size_t nparts) {
    if (n > t->scratch_cap) {
        size_t cap = n * 2;
        bool *k = realloc(t->keep, cap * sizeof *k);
        if (k)
            t->keep = k;
        uint32_t *pi = realloc(t->pidx, cap * sizeof *pi);
        if (pi)
            t->pidx = pi;
        if (!k || !pi)
            return false;
        t->scratch_cap = cap;
    }
    if (nparts > t->fh_cap) {
        size_t *f = realloc(t->first_held, nparts * 2 * sizeof *f);
        if (!f)
            return false;
        t->first_held = f;
        t->fh_cap = nparts * 2;
    }
    return true;
}

/* per record: its partition (index into b->offs). Records come in runs
 * of one partition: one that names the same topic string and partition
 * as the record before shares its index. (Its transaction was noted on
 * arrival: b->txn, see pipeline_txn.h, "Records and their entries".) */
static void partitions(cdc_txn_state_t *t, const cdc_batch_t *b) {
    const char *topic = NULL;
    int32_t part = -1;
    uint32_t pi = 0;
    for (size_t i = 0; i < b->n; i++) {
        const cdc_record_t *r = &b->recs[i];
        if (r->topic != topic || r->partition != part) {
            pi = 0;
            for (size_t j = 0; j < b->offs.n; j++)
                if (b->offs.v[j].partition == r->partition &&
                    !strcmp(b->offs.v[j].topic, r->topic)) {
                    pi = (uint32_t)j;
                    break;
                }
            topic = r->topic;
            part = r->partition;
        }
        t->pidx[i] = pi;
    }
}

/* a transaction whose BEGIN and END were consumed before this run: the
 * transaction topic delivered a record produced after one of its events */
static bool is_orphan(const cdc_txn_state_t *t, const txn_t *x) {
    return !x->begin_seen && !x->end_seen && x->first_ts != INT64_MAX &&
           t->txtopic_max_ts > x->first_ts;
}

static void release(cdc_txn_state_t *t, txn_t *x, const char *why) {
    char colls[400];
    size_t o = 0;
    colls[0] = '\0';
    for (size_t i = 0; i < x->ncolls && o < sizeof colls - 80; i++)
        o += (size_t)snprintf(colls + o, sizeof colls - o, "%s%s %lld/%lld",
                              i ? ", " : "", x->colls[i].name,
                              (long long)x->colls[i].got,
                              (long long)x->colls[i].want);
    x->released = true;
    cdc_txn_unlist(t, x);
    if (x->abandoned) {
        t->split++;
        cdc_txn_abandon_log(x, colls);
        return;
    }
    if (x->orphan) {
        cdc_log(CDC_LOG_WARN, "source transaction %lld: its BEGIN/END were "
                "consumed before this run (a switch from apply.consistency="
                "batch?): its %llu events are applied as they come",
                (long long)x->xid, (unsigned long long)x->ndistinct);
        return;
    }
    char want[24] = "?";
    if (x->expected >= 0)
        snprintf(want, sizeof want, "%lld", (long long)x->expected);
    t->split++;
    cdc_log(CDC_LOG_WARN, "source transaction %lld applied in parts (%s): "
            "%llu of %s events seen so far (tables seen/announced: %s). "
            "HINT: raise apply.transaction.max.events to keep it whole; a "
            "table that never arrives means `topics` misses one of the "
            "source's tables", (long long)x->xid, why,
            (unsigned long long)x->ndistinct, want, colls[0] ? colls : "none");
}

/* marks the transactions that must wait, then holds, per partition, the
 * records from the first one that waits; a transaction with any record
 * held waits whole. Returns the records kept. */
static size_t cut_once(cdc_txn_state_t *t, const cdc_batch_t *b) {
    size_t nparts = b->offs.n, kept = 0;
    bool changed;
    for (size_t i = 0; i < t->tab_cap; i++)
        for (txn_t *x = t->tab[i]; x; x = x->next) {
            if (!x->released && is_orphan(t, x)) {
                x->orphan = true;
                release(t, x, "orphan");
            }
            if (!x->released && cdc_txn_abandoned(x)) {
                x->abandoned = true;
                release(t, x, "abandoned");
            }
            x->blocked = !x->released && !txn_complete(x);
            x->partly_held = x->head = false;
        }
    do {
        changed = false;
        for (size_t j = 0; j < nparts; j++)
            t->first_held[j] = SIZE_MAX;
        for (size_t i = 0; i < b->n; i++) {
            txn_t *x = b->txn[i];
            size_t *fh = &t->first_held[t->pidx[i]];
            if (*fh != SIZE_MAX) {
                if (x && x->released) {
                    x->partly_held = true;
                } else if (x && !x->blocked) {
                    x->blocked = true; /* part of it waits: all of it */
                    changed = true;
                }
            } else if (x && x->blocked) {
                *fh = i;
            }
        }
    } while (changed);
    for (size_t i = 0; i < b->n; i++) {
        t->keep[i] = i < t->first_held[t->pidx[i]];
        kept += t->keep[i];
    }
    return kept;
}

/* the oldest held transaction that is not released yet: the one the
 * others wait behind */
static txn_t *blocker(const cdc_txn_state_t *t, const cdc_batch_t *b) {
    for (size_t i = 0; i < b->n; i++)
        if (!t->keep[i] && b->txn[i] && !b->txn[i]->released &&
            !txn_complete(b->txn[i]))
            return b->txn[i];
    return NULL;
}

/* apply.transaction.max.events: a transaction past it, then the held set
 * past it, releases the transaction the others wait behind */
static size_t cut_limited(cdc_txn_state_t *t, const cdc_batch_t *b) {
    size_t kept = cut_once(t, b);
    if (!t->max_events)
        return kept;
    for (size_t i = 0; i < b->n; i++) {
        txn_t *x = b->txn[i];
        if (x && !x->released && x->ndistinct > t->max_events) {
            release(t, x, "larger than apply.transaction.max.events");
            kept = cut_once(t, b);
        }
    }
    for (int guard = 0; guard < 64 && b->n - kept > t->max_events; guard++) {
        txn_t *x = blocker(t, b);
        if (!x)
            break;
        release(t, x, "the held-back set passed "
                      "apply.transaction.max.events");
        kept = cut_once(t, b);
    }
    return kept;
}

/* released transactions: where their applied records start, per
 * partition (the floor of the committed offset) */
static cdc_err_t note_floors(cdc_txn_state_t *t, const cdc_batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        txn_t *x = b->txn[i];
        int64_t had;
        if (!x || !x->released || x->orphan || !t->keep[i] ||
            cdc_offsets_map_get(&x->floor, b->recs[i].topic,
                                b->recs[i].partition, &had))
            continue;
        if (cdc_offsets_map_set(&x->floor, b->recs[i].topic,
                                b->recs[i].partition, b->recs[i].offset))
            return CDC_ERR_NOMEM;
    }
    return CDC_OK;
}

/* transactions this batch completes leave the tracker; counted when it
 * commits */
static void settle(cdc_txn_state_t *t, cdc_batch_t *b) {
    for (size_t i = 0; i < t->tab_cap; i++) {
        txn_t *x = t->tab[i];
        while (x) {
            txn_t *next = x->next;
            bool done = !x->blocked && !x->partly_held &&
                        (x->orphan || x->abandoned || txn_complete(x));
            if (done) {
                if (x->released && !x->orphan)
                    b->txns_parts++;
                else if (!x->orphan)
                    b->txns_whole++;
                txn_del(t, x);
            }
            x = next;
        }
    }
}

/* b's offsets: no further than a released transaction's floor */
static void apply_floors(const cdc_txn_state_t *t, cdc_batch_t *b) {
    for (size_t i = 0; i < t->tab_cap; i++)
        for (const txn_t *x = t->tab[i]; x; x = x->next)
            for (size_t j = 0; j < x->floor.n; j++)
                for (size_t k = 0; k < b->offs.n; k++) {
                    cdc_offset_t *o = &b->offs.v[k];
                    if (o->partition == x->floor.v[j].partition &&
                        !strcmp(o->topic, x->floor.v[j].topic) &&
                        x->floor.v[j].next_offset < o->next_offset)
                        o->next_offset = x->floor.v[j].next_offset;
                }
}

static void publish(cdc_pipeline_t *p, const cdc_batch_t *b, size_t kept) {
    cdc_txn_state_t *t = &p->txn;
    int64_t oldest = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!t->keep[i] && b->recs[i].timestamp_ms > 0 &&
            (!oldest || b->recs[i].timestamp_ms < oldest))
            oldest = b->recs[i].timestamp_ms;
    pthread_mutex_lock(&p->mu);
    t->m_held = b->n - kept;
    t->m_held_since_ms = oldest;
    t->m_split = t->split;
    t->m_largest = t->largest;
    pthread_mutex_unlock(&p->mu);
}

cdc_err_t cdc_txn_cut(cdc_pipeline_t *p, cdc_batch_t *b, cdc_batch_t *dst,
                      int64_t now, size_t *napply) {
    cdc_txn_state_t *t = &p->txn;
    cdc_err_t err;
    *napply = b->n;
    t->stuck = false;
    if (!t->on || !b->n)
        return CDC_OK;
    /* the precheck's cut, if nothing came since: nothing is polled while
     * the applier is waited for, and the tracker is the polling thread's */
    bool reuse = t->cut_ready && t->cut_b == b && t->cut_n == b->n;
    bool ids = reuse && t->pre_ids_ok; /* the precheck's, for these */
    t->cut_ready = t->pre_ids_ok = false;
    if (!scratch(t, b->n, b->offs.n))
        return CDC_ERR_NOMEM;
    t->dirty = false;
    size_t kept = reuse ? t->cut_kept : (partitions(t, b), cut_limited(t, b));
    publish(p, b, kept);
    warn_held(t, b->n - kept);
    if (dst)
        cdc_txn_pace(p, b, b->n - kept, now);
    else
        cdc_txn_pace_resume(p); /* released unapplied: read again */
    if (dst && kept == 0) { /* nothing to apply: keep filling b */
        stick(t, b);
        t->last_cut_ms = now;
        *napply = 0;
        return CDC_OK;
    }
    t->last_cut_ms = 0;
    if ((err = note_floors(t, b)))
        return err;
    settle(t, b);
    if (kept < b->n &&
        (err = cdc_batch_hold(b, t->keep, dst, now)))
        return err;
    /* what b keeps is applied: its entries may be gone (settle), and are
     * not looked at again */
    memset(b->txn, 0, b->n * sizeof *b->txn);
    if (ids) /* the changes b keeps, as its close will list them */
        cdc_batch_give_ids(b, t->pre_ids, t->pre_n);
    t->carried_b = dst;
    t->carried_n = dst ? dst->n : 0;
    t->carried_bytes = dst ? cdc_batch_mem(dst) : 0;
    t->carried_ms = now;
    apply_floors(t, b);
    if (!dst && kept < b->n) /* released unapplied: read again later */
        cdc_txn_reset(t);
    *napply = b->n;
    return CDC_OK;
}

/* ---- the Redis check ahead of the hand-off ----
 *
 * In batch mode the polling thread closes the next batch and checks it
 * against Redis while the applier still applies the one before; in
 * transaction mode the cut moves held records into the other buffer,
 * which is the applier's until it is done, so the cut itself must wait.
 * Its decision need not: the tracker changes on the polling thread only,
 * and nothing is polled during the wait, so the cut computed before the
 * wait keeps the same records as the one after it. Asking Redis about
 * those records before the wait is as safe as batch mode's pre-check: the
 * batch in flight is not marked yet, so a replay of one of its changes is
 * answered "not seen" and stopped by the position guard; "seen" is only
 * ever answered for a change committed before (marks follow COMMIT), and
 * cdc_batch_distrust still applies at select time. Whatever the wait
 * changes (a fence drops b), the answer is adopted only for the very
 * same changes, identity by identity, and is otherwise asked again. The
 * identities computed for the question are those of the changes the cut
 * keeps, in order: when the cut is the precheck's (nothing came since),
 * b's close takes them (cdc_batch_give_ids) instead of computing them a
 * second time. */

static bool pre_room(cdc_txn_state_t *t, size_t n) {
    if (n <= t->pre_cap)
        return true;
    size_t cap = n * 2;
    cdc_event_t **e = realloc(t->pre_evs, cap * sizeof *e);
    if (e)
        t->pre_evs = e;
    cdc_dedup_id_t *ids = realloc(t->pre_ids, cap * sizeof *ids);
    if (ids)
        t->pre_ids = ids;
    bool *seen = realloc(t->pre_seen, cap * sizeof *seen);
    if (seen)
        t->pre_seen = seen;
    if (!e || !ids || !seen)
        return false;
    t->pre_cap = cap;
    return true;
}

cdc_err_t cdc_txn_precheck(cdc_pipeline_t *p, const cdc_batch_t *b) {
    cdc_txn_state_t *t = &p->txn;
    size_t n = 0;
    t->pre_valid = t->pre_ids_ok = false;
    if (!t->on || !p->dedup || !b->n ||
        cdc_batch_state(b) != CDC_BATCH_OPEN)
        return CDC_OK;
    if (!scratch(t, b->n, b->offs.n) || !pre_room(t, b->n))
        return CDC_ERR_NOMEM;
    partitions(t, b);
    t->cut_kept = cut_limited(t, b);
    t->cut_ready = true; /* for cdc_txn_cut, unless a record comes */
    t->cut_b = b;
    t->cut_n = b->n;
    if (t->cut_kept == 0)
        return CDC_OK; /* nothing to apply: no hand-off follows */
    for (size_t i = 0; i < b->n; i++) /* as cdc_batch_close lists them */
        if (t->keep[i] && b->derr[i] == CDC_OK &&
            b->events[i].kind == CDC_EV_CHANGE)
            t->pre_evs[n++] = &b->events[i];
    if (!n)
        return CDC_OK;
    int64_t t0 = cdc_mono_ms();
    cdc_dedup_identities(t->pre_evs, n, t->pre_ids);
    t->pre_ids_ok = true;
    cdc_err_t err = cdc_pipeline_dedup_check(p, t->pre_evs, t->pre_ids, n,
                                             t->pre_seen);
    t->pre_ms = cdc_mono_ms() - t0;
    t->pre_n = n;
    t->pre_valid = err == CDC_OK; /* down: checked again after the cut */
    return CDC_OK;
}

void cdc_txn_adopt_check(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_txn_state_t *t = &p->txn;
    bool same = t->pre_valid && b->has_ids && !b->seen_valid &&
                cdc_batch_state(b) == CDC_BATCH_CHECKED &&
                b->nchanges == t->pre_n;
    t->pre_valid = false;
    for (size_t c = 0; same && c < b->nchanges; c++)
        same = b->ids[c].ok == t->pre_ids[c].ok &&
               !memcmp(b->ids[c].bytes, t->pre_ids[c].bytes,
                       sizeof b->ids[c].bytes);
    if (!same)
        return;
    memcpy(b->seen, t->pre_seen, b->nchanges * sizeof *b->seen);
    b->seen_valid = true;
    b->check_ms += t->pre_ms;
}
