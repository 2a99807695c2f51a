/* dedup_evs.h - check and mark a list of events through dedup, as the
 * batch does: identities computed once per call. Shared by the unit and
 * integration tests of offsets/dedup. */
#ifndef CDC_TESTS_UNIT_DEDUP_EVS_H
#define CDC_TESTS_UNIT_DEDUP_EVS_H

#include <stdlib.h>

#include "offsets/dedup.h"

/* check and mark take identities: computed here once per call, as the
 * batch computes them once per batch */
static inline cdc_err_t check_evs(cdc_dedup_t *d, cdc_event_t *const *events,
                           size_t n, bool *seen) {
    cdc_dedup_id_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return CDC_ERR_NOMEM;
    if (events)
        cdc_dedup_identities(events, n, ids);
    cdc_err_t err = cdc_dedup_check_some(d, events ? ids : NULL, NULL, n,
                                         seen);
    free(ids);
    return err;
}

static inline cdc_err_t mark_evs(cdc_dedup_t *d, cdc_event_t *const *events,
                          const bool *applied, size_t n) {
    cdc_dedup_id_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return CDC_ERR_NOMEM;
    if (events)
        cdc_dedup_identities(events, n, ids);
    cdc_err_t err = cdc_dedup_mark(d, events ? ids : NULL, applied, n);
    free(ids);
    return err;
}

#endif
