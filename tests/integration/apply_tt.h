/* apply_tt.h - the one test table "t" (id int8 key, v text, n int4) the
 * applier's ordering tests share (test_apply, test_apply_order,
 * test_apply_incremental): its row and key definitions, one event
 * builder, its rows as a string (ROWS) and a batch in one line (APPLY).
 * Include after apply_fixture.h. */
#ifndef CDC_TESTS_INTEGRATION_APPLY_TT_H
#define CDC_TESTS_INTEGRATION_APPLY_TT_H

#include "tests/integration/apply_fixture.h"

static const char *const T_NAMES[] = {"id", "v", "n"};
static const cdc_type_t T_TYPES[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_INT4};

typedef struct {
    fx_t f;
    cdc_rowdef_t *rd, *kd;
} tt_t;

static inline int tt_open(tt_t *t, const char *name,
                          const cdc_apply_conf_t *conf) {
    if (!fx_open(&t->f, name, conf))
        return 0;
    t->rd = fx_rowdef(&t->f, 11, 1, 3, T_NAMES, T_TYPES);
    t->kd = fx_rowdef(&t->f, 12, 1, 1, T_NAMES, T_TYPES);
    return 1;
}

/* a change of t: key id, values v/n (NULL = SQL NULL, FX_U = TOAST
 * placeholder) at position (p0, p1); a delete carries only the key, as
 * under REPLICA IDENTITY DEFAULT */
static inline cdc_event_t *tt_ev(tt_t *t, char op, const char *id,
                                 const char *v, const char *n, uint64_t p0,
                                 uint64_t p1, int snap) {
    const char *key[1] = {id};
    const char *vals[3] = {id, v, n};
    const char *dvals[3] = {id, NULL, NULL};
    return fx_ev(&t->f, op, "t", t->kd, t->rd, key, op == 'd' ? dvals : vals,
                 p0, p1, snap);
}

/* t's rows with their bookkeeping columns, as one string (fx_qs) */
#define ROWS(t)                                                               \
    fx_qs(&(t)->f, "SELECT id, v, n, _cdc_deleted, _cdc_op, "                \
                   "_cdc.position(_cdc_position) FROM @S.t ORDER BY id")

/* one batch of the events listed, applied and committed (fx_apply) */
#define APPLY(t, res, ...)                                                    \
    do {                                                                      \
        cdc_event_t *evs_[] = {__VA_ARGS__};                                  \
        fx_apply(&(t)->f, evs_, sizeof evs_ / sizeof evs_[0], (res));         \
    } while (0)

#endif
