// Error collection for schema problems: each error is one line
// `file.proto:line:col: message` (or `file.proto: message` without source
// positions), the form protoc prints for its own errors. Also the first
// error of a reader of text (a lock file, a YAML configuration).
#ifndef CPAY_PLUGIN_SCHEMA_DIAG_H_
#define CPAY_PLUGIN_SCHEMA_DIAG_H_

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "schema/model.h"
#include "schema/pool.h"

// Set `mem` before the first error; the errors live there.
typedef struct cps_diag {
  cps_pool *mem;
  const char **lines;  // every error, in the order reported
  size_t count;
  size_t cap;          // room in lines
} cps_diag;

void cps_diag_error(cps_diag *d, const cps_loc *loc, const char *file_name, const char *fmt,
                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
// An error without a position (e.g. a bad plugin parameter); `msg` is copied.
void cps_diag_plain(cps_diag *d, const char *msg);
bool cps_diag_ok(const cps_diag *d);
// Every error, one per line, without a final newline ("" when none), in d->mem.
const char *cps_diag_text(const cps_diag *d);

// The first error of a reader of text: sets *err to "PATH:LINE: message"
// in `mem` unless it is already set (the first error wins). Returns false,
// for `return cps_error_at(...)` in the reader's own printf-checked wrapper.
bool cps_error_at(cps_pool *mem, char **err, const char *path, int line, const char *fmt,
                  va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 0)))
#endif
    ;

#endif  // CPAY_PLUGIN_SCHEMA_DIAG_H_
