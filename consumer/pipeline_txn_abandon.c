/* pipeline_txn_abandon.c - apply.consistency=transaction: which tracked
 * transaction's END can no longer come (pipeline_txn.h, "Abandoned"): the
 * open transactions (BEGIN seen, END not), the commit LSN before each
 * (its events' lsn_commit) and the highest commit LSN ended on its
 * transaction topic since its BEGIN. The release itself is the cut's
 * (pipeline_txn.c). Polling thread; t->open points at tracker entries and
 * is emptied with them (cdc_txn_unlist, cdc_txn_reset). */
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"
#include "consumer/pipeline_txn_int.h"

/* the lsn of PostgreSQL's "<xid>:<lsn>"; false for any other form */
static bool id_lsn(const char *id, uint64_t *lsn) {
    const char *p = id;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == id || *p != ':' || !p[1])
        return false;
    for (p++; *p >= '0' && *p <= '9' && v < UINT64_MAX / 10 - 9; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *lsn = v;
    return !*p;
}

/* LSNs order one source's transactions only: its transaction topic's */
static uint64_t topic_of(const cdc_record_t *r) {
    return cdc_hash(CDC_HASH_INIT, r->topic, strlen(r->topic));
}

void cdc_txn_unlist(cdc_txn_state_t *t, txn_t *x) {
    for (size_t i = 0; x->open && i < t->nopen; i++)
        if (t->open[i] == x) {
            t->open[i] = t->open[--t->nopen];
            break;
        }
    x->open = false;
}

cdc_err_t cdc_txn_abandon_begin(cdc_txn_state_t *t, txn_t *x,
                                const cdc_record_t *r) {
    x->later_commit = 0; /* an END before this BEGIN says nothing */
    x->txtopic = topic_of(r);
    if (x->open || x->end_seen || x->released)
        return CDC_OK;
    if (t->nopen == t->open_cap) {
        size_t cap = t->open_cap ? t->open_cap * 2 : 8;
        txn_t **v = realloc(t->open, cap * sizeof *v);
        if (!v)
            return CDC_ERR_NOMEM;
        t->open = v;
        t->open_cap = cap;
    }
    t->open[t->nopen++] = x;
    x->open = true;
    return CDC_OK;
}

void cdc_txn_abandon_end(cdc_txn_state_t *t, txn_t *x, const cdc_event_t *ev,
                         const cdc_record_t *r) {
    uint64_t c, topic;
    cdc_txn_unlist(t, x);
    if (!t->nopen || !id_lsn(ev->txn_id, &c))
        return;
    topic = topic_of(r);
    for (size_t i = 0; i < t->nopen; i++) {
        txn_t *o = t->open[i];
        if (o->txtopic != topic || c <= o->later_commit)
            continue;
        o->later_commit = c;
        o->later_xid = x->xid;
        if (o->head && cdc_txn_abandoned(o))
            t->stuck = false; /* the cut that applied nothing may move */
    }
}

bool cdc_txn_abandon_event(txn_t *x, const cdc_event_t *ev) {
    /* sequence[0] differs from the lsn: lsn_commit was not null (the
     * decoder puts the lsn in its place) */
    if (ev->pos.kind != CDC_POS_PG || ev->pos.part[0] == ev->pos.part[1] ||
        (x->prev_known && ev->pos.part[0] <= x->prev_commit))
        return false;
    x->prev_known = true;
    x->prev_commit = ev->pos.part[0];
    return true;
}

void cdc_txn_abandon_log(const txn_t *x, const char *colls) {
    cdc_log(CDC_LOG_WARN, "source transaction %lld abandoned: its END never "
            "came, and the transaction topic has since delivered the END of "
            "transaction %lld, which committed after it (commit LSN %llu > "
            "%llu, the commit before it; Kafka Connect restarted without "
            "its source offsets and Debezium re-snapshotted?): its %llu "
            "events seen (tables seen: %s) are applied as they came",
            (long long)x->xid, (long long)x->later_xid,
            (unsigned long long)x->later_commit,
            (unsigned long long)x->prev_commit,
            (unsigned long long)x->ndistinct, colls[0] ? colls : "none");
}
