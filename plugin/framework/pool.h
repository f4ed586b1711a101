// The one memory regime of the plugin and the checker: everything that lives
// for a run (the schema model's strings, the generator's temporaries, the
// checker's snapshots and findings) is allocated from a cpf_pool and freed
// with it at once. Growable buffers (cpf_buf) are the one exception: they
// own their bytes until cpf_buf_take() hands them to a pool with
// cpf_pool_own(). Out of memory is fatal (a message and exit 1), as for
// cpf_xmalloc: a code generator has nothing sensible to fall back to.
#ifndef CPAY_PLUGIN_FRAMEWORK_POOL_H_
#define CPAY_PLUGIN_FRAMEWORK_POOL_H_

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpf_pool cpf_pool;

cpf_pool *cpf_pool_new(void);
// Frees every allocation of `p`, then `p` (NULL is a no-op).
void cpf_pool_free(cpf_pool *p);

// `size` bytes aligned for any type, zeroed, freed with the pool.
void *cpf_pool_alloc(cpf_pool *p, size_t size);
// A copy of `s` (NULL gives NULL).
char *cpf_pool_strdup(cpf_pool *p, const char *s);
// A copy of the `size` bytes at `s` with a NUL after them.
char *cpf_pool_strndup(cpf_pool *p, const char *s, size_t size);
// A printf'd string.
char *cpf_pool_printf(cpf_pool *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
char *cpf_pool_vprintf(cpf_pool *p, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
// Takes a malloc'd block (NULL is a no-op) to be freed with the pool; returns it.
void *cpf_pool_own(cpf_pool *p, void *block);
// Room for element `count` of a growing array of `size`-byte elements that
// has room for *cap: `array` itself while count < *cap, else a copy with
// twice the room (at least 8; zeroed beyond `count`) and *cap updated. The
// old copy stays in the pool, so the waste is at most the final size.
void *cpf_pool_grow(cpf_pool *p, void *array, size_t count, size_t *cap, size_t size);

#ifdef __cplusplus
}
#endif

#endif  // CPAY_PLUGIN_FRAMEWORK_POOL_H_
