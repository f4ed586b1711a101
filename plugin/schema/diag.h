// Error collection for schema problems: each error is one line
// `file.proto:line:col: message` (or `file.proto: message` without source
// positions), the form protoc prints for its own errors.
#ifndef CPAY_PLUGIN_SCHEMA_DIAG_H_
#define CPAY_PLUGIN_SCHEMA_DIAG_H_

#include <stdbool.h>
#include <stddef.h>

#include "schema/buf.h"
#include "schema/model.h"

typedef struct cps_diag {
  cps_buf text;  // every error, one per line, without the final newline
  size_t count;
} cps_diag;

void cps_diag_error(cps_diag *d, const cps_loc *loc, const char *file_name, const char *fmt,
                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
// An error without a position (e.g. a bad plugin parameter).
void cps_diag_plain(cps_diag *d, const char *msg);
bool cps_diag_ok(const cps_diag *d);
void cps_diag_free(cps_diag *d);

#endif  // CPAY_PLUGIN_SCHEMA_DIAG_H_
