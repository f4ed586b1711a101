// Collects protoc-style error lines.
#include "framework/diag.h"

#include <stdarg.h>

void cpf_diag_error(cpf_diag *d, const cpm_loc *loc, const char *file_name, const char *fmt,
                    ...) {
  if (d->count) cpf_buf_puts(&d->text, "\n");
  const char *name = (loc && loc->file) ? loc->file->name : file_name;
  if (loc && loc->line > 0) {
    cpf_buf_printf(&d->text, "%s:%d:%d: ", name, loc->line, loc->col);
  } else {
    cpf_buf_printf(&d->text, "%s: ", name ? name : "<unknown>");
  }
  va_list ap;
  va_start(ap, fmt);
  cpf_buf_vprintf(&d->text, fmt, ap);
  va_end(ap);
  d->count++;
}

void cpf_diag_plain(cpf_diag *d, const char *msg) {
  if (d->count) cpf_buf_puts(&d->text, "\n");
  cpf_buf_puts(&d->text, msg);
  d->count++;
}

bool cpf_diag_ok(const cpf_diag *d) { return d->count == 0; }

void cpf_diag_free(cpf_diag *d) {
  cpf_buf_free(&d->text);
  d->count = 0;
}
