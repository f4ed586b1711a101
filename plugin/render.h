// Template rendering: fills `$name$` holes in the templates embedded from
// templates/*.tmpl (by tools/embed.c). `$$` is a literal dollar sign.
// Rendering fails on an unknown template, an unknown variable, a variable
// passed but not used, or an unterminated hole: all are plugin bugs, which
// the generator reports as an internal error rather than emitting bad code.
#ifndef CPAY_PLUGIN_RENDER_H_
#define CPAY_PLUGIN_RENDER_H_

#include <stdbool.h>
#include <stddef.h>

#include "framework/buf.h"

typedef struct cpr_var {
  const char *name;
  const char *value;
} cpr_var;

// Appends template `tmpl` filled with `vars` to `out`. On failure returns
// false, leaves `out` unchanged and (if `err` is non-NULL and *err is NULL)
// sets *err to a malloc'd message naming the template and the variable.
bool cpr_render(cpf_buf *out, const char *tmpl, const cpr_var *vars, size_t count, char **err);

// The same for a template text given directly (used by unit tests).
bool cpr_render_text(cpf_buf *out, const char *name, const char *text, size_t size,
                     const cpr_var *vars, size_t count, char **err);

#endif  // CPAY_PLUGIN_RENDER_H_
