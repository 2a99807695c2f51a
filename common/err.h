/* err.h - the error catalogue: one enum, its text and its class.
 *
 * Every fallible function in cdcsink returns cdc_err_t (CDC_OK = 0) and puts
 * the detailed reason in a caller buffer or on its object. The class of an
 * error (cdc_err_class) decides retry, dead-letter or stop; see err.def.
 * Does not: log, allocate, or decide anything itself. Thread-safe. */
#ifndef CDC_COMMON_ERR_H
#define CDC_COMMON_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define CDC_MUSTCHECK __attribute__((warn_unused_result))
#define CDC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CDC_MUSTCHECK
#define CDC_PRINTF(f, a)
#endif

typedef enum {
#define X(name, cls, desc) CDC_ERR_##name,
#include "err.def"
#undef X
    CDC_ERR__COUNT
} cdc_err_t;

#define CDC_OK CDC_ERR_OK

typedef enum {
    CDC_ERRCLASS_OK = 0,
    CDC_ERRCLASS_RETRIABLE,
    CDC_ERRCLASS_PERMANENT,
    CDC_ERRCLASS_FATAL
} cdc_errclass_t;

/* Short description of err ("invalid json"); static storage. */
const char *cdc_err_str(cdc_err_t err);
/* Symbolic name of err ("JSON"); static storage. Used in dead-letter headers. */
const char *cdc_err_name(cdc_err_t err);
cdc_errclass_t cdc_err_class(cdc_err_t err);
/* "retriable", "permanent", "fatal" or "ok"; static storage. */
const char *cdc_errclass_str(cdc_errclass_t cls);

/* snprintf into errstr that reports truncation: returns 0 on success, -1 when
 * the text did not fit (the buffer then holds a truncated, terminated text).
 * errstr may be NULL (size 0): then nothing is written. */
int cdc_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
    CDC_PRINTF(3, 4);

#endif
