// Error collection for schema problems: each error is one line
// `file.proto:line:col: message` (or `file.proto: message` without source
// positions), the form protoc prints for its own errors.
#ifndef CPAY_PLUGIN_FRAMEWORK_DIAG_H_
#define CPAY_PLUGIN_FRAMEWORK_DIAG_H_

#include <stdbool.h>
#include <stddef.h>

#include "framework/buf.h"
#include "model.h"

typedef struct cpf_diag {
  cpf_buf text;  // every error, one per line, without the final newline
  size_t count;
} cpf_diag;

void cpf_diag_error(cpf_diag *d, const cpm_loc *loc, const char *file_name, const char *fmt,
                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
// An error without a position (e.g. a bad plugin parameter).
void cpf_diag_plain(cpf_diag *d, const char *msg);
bool cpf_diag_ok(const cpf_diag *d);
void cpf_diag_free(cpf_diag *d);

#endif  // CPAY_PLUGIN_FRAMEWORK_DIAG_H_
