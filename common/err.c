/* err.c - the error catalogue's tables, generated from err.def. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    const char *desc;
    cdc_errclass_t cls;
} err_tab[] = {
#define X(n, c, d) {#n, d, CDC_ERRCLASS_##c},
#include "err.def"
#undef X
};

const char *cdc_err_str(cdc_err_t err) {
    if ((unsigned)err >= CDC_ERR__COUNT)
        return "unknown error";
    return err_tab[err].desc;
}

const char *cdc_err_name(cdc_err_t err) {
    if ((unsigned)err >= CDC_ERR__COUNT)
        return "UNKNOWN";
    return err_tab[err].name;
}

cdc_errclass_t cdc_err_class(cdc_err_t err) {
    if ((unsigned)err >= CDC_ERR__COUNT)
        return CDC_ERRCLASS_FATAL;
    return err_tab[err].cls;
}

const char *cdc_errclass_str(cdc_errclass_t cls) {
    switch (cls) {
    case CDC_ERRCLASS_OK: return "ok";
    case CDC_ERRCLASS_RETRIABLE: return "retriable";
    case CDC_ERRCLASS_PERMANENT: return "permanent";
    case CDC_ERRCLASS_FATAL: return "fatal";
    }
    return "fatal";
}

int cdc_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...) {
    va_list ap;
    int n;
    if (!errstr || errstr_size == 0)
        return 0;
    va_start(ap, fmt);
    n = vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= errstr_size) ? -1 : 0;
}
