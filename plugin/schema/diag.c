// Collects protoc-style error lines.
#include "schema/diag.h"

#include <stdarg.h>

void cps_diag_error(cps_diag *d, const cps_loc *loc, const char *file_name, const char *fmt,
                    ...) {
  if (d->count) cps_buf_puts(&d->text, "\n");
  const char *name = (loc && loc->file) ? loc->file->name : file_name;
  if (loc && loc->line > 0) {
    cps_buf_printf(&d->text, "%s:%d:%d: ", name, loc->line, loc->col);
  } else {
    cps_buf_printf(&d->text, "%s: ", name ? name : "<unknown>");
  }
  va_list ap;
  va_start(ap, fmt);
  cps_buf_vprintf(&d->text, fmt, ap);
  va_end(ap);
  d->count++;
}

void cps_diag_plain(cps_diag *d, const char *msg) {
  if (d->count) cps_buf_puts(&d->text, "\n");
  cps_buf_puts(&d->text, msg);
  d->count++;
}

bool cps_diag_ok(const cps_diag *d) { return d->count == 0; }

void cps_diag_free(cps_diag *d) {
  cps_buf_free(&d->text);
  d->count = 0;
}
