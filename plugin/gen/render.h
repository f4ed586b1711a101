// The code printer: the one way the generator emits code. The text of a
// construct sits in the generator's C code, next to the logic that decides
// it, with `$name$` holes; the variables follow the text as name, value
// pairs of strings ended by CPG_END, as upb's generator passes arguments
// after its output() text:
//
//   cpg_render(mem, out, &err,
//              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
//              "  return msg->$field$ != NULL;\n"
//              "}\n",
//              "msg", msg, "field", field, CPG_END);
//
// `$$` is a literal dollar sign. Printing fails on a hole that names no
// variable, a variable the text does not use, a name given twice, a NULL
// value (or a list one short of its end) and an unterminated hole: all are
// plugin bugs, which the generator reports as an internal error rather than
// emitting bad code.
#ifndef CPAY_PLUGIN_GEN_RENDER_H_
#define CPAY_PLUGIN_GEN_RENDER_H_

#include <stdarg.h>
#include <stdbool.h>

#include "schema/buf.h"
#include "schema/pool.h"

// The end of a variable list: a null pointer of the type the printer reads
// (a bare NULL may be an int 0, which va_arg must not read as a pointer).
#define CPG_END ((const char *)0)

// Appends `text` with its holes filled to `out`. On failure returns false,
// leaves `out` unchanged and (if `err` is non-NULL and *err is NULL) sets
// *err to a message in `mem` naming the text's first line and the variable.
// gcc and clang check that the list ends with CPG_END (a null pointer).
bool cpg_render(cps_pool *mem, cps_buf *out, const char **err, const char *text, ...)
#if defined(__GNUC__)
    __attribute__((sentinel))
#endif
    ;
// The same with the variables in `vars`.
bool cpg_vrender(cps_pool *mem, cps_buf *out, const char **err, const char *text,
                 va_list vars);

// Breaks the lines of the C source `text` that are longer than `width`
// columns, as the generator's last step: names from a .proto make lines of
// any length. A code line breaks after the open parenthesis of a call when
// the rest then fits, otherwise at the last ", " that fits (then a call's
// parenthesis, then " = ", then any space), never inside a string literal;
// its continuation is indented 4 more columns, unless the line itself
// continues a list (the line before it ended with "(" or continued one and
// ended with ","). A trailing `// comment` that does not fit moves onto
// its own lines above the code. Comment lines break at spaces and continue
// with the same `//` prefix. Preprocessor lines are left alone. A line that
// stays longer than `width` has no break point within it: one name, string
// or word longer than the space left, which then has a line of its own.
// Scratch space comes from `mem`.
void cpg_wrap(cps_pool *mem, cps_buf *text, size_t width);

#endif  // CPAY_PLUGIN_GEN_RENDER_H_
