// The one memory regime of protoc-gen-cpay, cpay-breaking and their tests:
// everything that lives for a run (the schema model, parameters and
// options, names, the generator's temporaries, diagnostics, the checker's
// snapshots and findings, output files) is allocated from a cps_pool and
// freed with it at once; nothing is freed on its own. Work whose results
// outlive its temporaries uses a second pool for them and frees it when
// done (the checker's models once snapshotted, the lock check, the
// generator's per-run values, the names of one file). Growable buffers
// (cps_buf) are the one exception: they own their bytes until
// cps_pool_take() hands them to a pool. Out of memory is fatal (a message
// and exit 1): a code generator has nothing sensible to fall back to.
#ifndef CPAY_PLUGIN_SCHEMA_POOL_H_
#define CPAY_PLUGIN_SCHEMA_POOL_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "schema/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cps_pool cps_pool;

cps_pool *cps_pool_new(void);
// Frees every allocation of `p`, then `p` (NULL is a no-op).
void cps_pool_free(cps_pool *p);

// `size` bytes aligned for any type, zeroed, freed with the pool.
void *cps_pool_alloc(cps_pool *p, size_t size);
// A copy of `s` (NULL gives NULL).
char *cps_pool_strdup(cps_pool *p, const char *s);
// A copy of the `size` bytes at `s` with a NUL after them.
char *cps_pool_strndup(cps_pool *p, const char *s, size_t size);
// A printf'd string.
char *cps_pool_printf(cps_pool *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
char *cps_pool_vprintf(cps_pool *p, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
// The bytes of `b` as a C string ("" when it is empty), now freed with the
// pool; `b` is left empty.
char *cps_pool_take(cps_pool *p, cps_buf *b);
// Room for element `count` of a growing array of `size`-byte elements that
// has room for *cap: `array` itself while count < *cap, else a copy with
// twice the room (at least 8; zeroed beyond `count`) and *cap updated. The
// old copy stays in the pool, so the waste is at most the final size.
void *cps_pool_grow(cps_pool *p, void *array, size_t count, size_t *cap, size_t size);
// Everything left in `f`, with a NUL after it, and *size its length; NULL
// when reading fails (ferror). `f` stays open.
const char *cps_pool_read(cps_pool *p, FILE *f, size_t *size);

#ifdef __cplusplus
}
#endif

#endif  // CPAY_PLUGIN_SCHEMA_POOL_H_
