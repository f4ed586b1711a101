// Collects protoc-style error lines.
#include "schema/diag.h"

#include <stdarg.h>

static void add(cps_diag *d, const char *line) {
  d->lines = cps_pool_grow(d->mem, d->lines, d->count, &d->cap, sizeof *d->lines);
  d->lines[d->count++] = line;
}

void cps_diag_error(cps_diag *d, const cps_loc *loc, const char *file_name, const char *fmt,
                    ...) {
  cps_buf b = {0};
  const char *name = (loc && loc->file) ? loc->file->name : file_name;
  if (loc && loc->line > 0) {
    cps_buf_printf(&b, "%s:%d:%d: ", name, loc->line, loc->col);
  } else {
    cps_buf_printf(&b, "%s: ", name ? name : "<unknown>");
  }
  va_list ap;
  va_start(ap, fmt);
  cps_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  add(d, cps_pool_take(d->mem, &b));
}

void cps_diag_plain(cps_diag *d, const char *msg) { add(d, cps_pool_strdup(d->mem, msg)); }

bool cps_diag_ok(const cps_diag *d) { return d->count == 0; }

const char *cps_diag_text(const cps_diag *d) {
  cps_buf b = {0};
  for (size_t i = 0; i < d->count; i++) cps_buf_printf(&b, "%s%s", i ? "\n" : "", d->lines[i]);
  return cps_pool_take(d->mem, &b);
}

bool cps_error_at(cps_pool *mem, char **err, const char *path, int line, const char *fmt,
                  va_list ap) {
  if (*err) return false;
  cps_buf b = {0};
  cps_buf_printf(&b, "%s:%d: ", path, line);
  cps_buf_vprintf(&b, fmt, ap);
  *err = cps_pool_take(mem, &b);
  return false;
}
