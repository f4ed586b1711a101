// A growable NUL-terminated byte buffer used to build generated files and
// messages: the one thing of a run that is not allocated from a pool. A
// buffer owns its bytes until cps_pool_take() (pool.h) hands them to a pool
// or cps_buf_free() frees them. Out of memory is fatal (a message and exit
// 1): a code generator has nothing sensible to fall back to.
#ifndef CPAY_PLUGIN_SCHEMA_BUF_H_
#define CPAY_PLUGIN_SCHEMA_BUF_H_

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cps_buf {
  char *data;  // NUL-terminated; NULL until something is written
  size_t size;
  size_t cap;
} cps_buf;

void cps_buf_append(cps_buf *b, const char *data, size_t size);
void cps_buf_puts(cps_buf *b, const char *s);
void cps_buf_printf(cps_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void cps_buf_vprintf(cps_buf *b, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
// The contents as a C string ("" when empty); valid until the next write.
const char *cps_buf_str(const cps_buf *b);
// Frees the bytes and empties the buffer, which can be used again.
void cps_buf_free(cps_buf *b);

// malloc and realloc that exit(1) with a message when out of memory: what
// buffers and pools are made of, and nothing else calls.
void *cps_xmalloc(size_t size);
void *cps_xrealloc(void *p, size_t size);

#ifdef __cplusplus
}
#endif

#endif  // CPAY_PLUGIN_SCHEMA_BUF_H_
