// A growable NUL-terminated byte buffer used to build generated files and
// messages. Out of memory is fatal for the plugin (it prints a message and
// exits 1): a code generator has nothing sensible to fall back to.
#ifndef CPAY_PLUGIN_SCHEMA_BUF_H_
#define CPAY_PLUGIN_SCHEMA_BUF_H_

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

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
// The first error of a reader of text: sets *err to a malloc'd
// "PATH:LINE: message" unless it is already set (the first error wins).
// Returns false, for `return cps_error_at(...)` in the reader's own
// printf-checked wrapper.
bool cps_error_at(char **err, const char *path, int line, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 0)))
#endif
    ;
// The contents as a C string ("" when empty); valid until the next write.
const char *cps_buf_str(const cps_buf *b);
// Hands the malloc'd contents to the caller and resets the buffer.
char *cps_buf_take(cps_buf *b);
void cps_buf_free(cps_buf *b);

// malloc/strdup that exit(1) with a message when out of memory.
void *cps_xmalloc(size_t size);
void *cps_xrealloc(void *p, size_t size);
char *cps_xstrdup(const char *s);
// A malloc'd printf result.
char *cps_xasprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif  // CPAY_PLUGIN_SCHEMA_BUF_H_
