// The path template parser (grammar in template.h): recursive descent over
// the text, segments and variables appended to growing arrays.
#include "http/template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *text;
  const char *p;
  cpay__tpl *t;
  cpay__tpl_error *err;
  size_t seg_cap, var_cap;
  int in_var;  // the variable being parsed, or -1
} parser;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static bool fail_at(parser *ps, const char *at, const char *fmt, ...) {
  ps->err->offset = (size_t)(at - ps->text);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
  va_end(ap);
  return false;
}

static bool grow(parser *ps, void **items, size_t *cap, size_t count, size_t size) {
  if (count < *cap) return true;
  size_t n = *cap ? *cap * 2 : 4;
  void *grown = realloc(*items, n * size);
  if (!grown) return fail_at(ps, ps->p, "out of memory");
  *items = grown;
  *cap = n;
  return true;
}

static bool add_seg(parser *ps, cpay__tpl_kind kind, const char *text, size_t len) {
  cpay__tpl *t = ps->t;
  if (!grow(ps, (void **)&t->segs, &ps->seg_cap, t->seg_count, sizeof *t->segs)) return false;
  t->segs[t->seg_count++] = (cpay__tpl_seg){kind, ps->in_var, text, len};
  return true;
}

// RFC 3986 pchar without ':' (it starts the verb): unreserved, sub-delims
// other than '*' and '=' (template syntax), '@', and %XX.
static size_t literal_len(const char *p) {
  const char *q = p;
  for (;;) {
    char c = *q;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        (c != 0 && strchr("-._~!$&'()+,;@", c))) {
      q++;
    } else if (c == '%' && strchr("0123456789abcdefABCDEF", q[1]) && q[1] &&
               strchr("0123456789abcdefABCDEF", q[2]) && q[2]) {
      q += 3;
    } else {
      return (size_t)(q - p);
    }
  }
}

static bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

static bool parse_segments(parser *ps);

// Variable = "{" FieldPath [ "=" Segments ] "}" ; at '{'.
static bool parse_variable(parser *ps) {
  const char *open = ps->p++;
  if (ps->in_var >= 0) return fail_at(ps, open, "variables cannot be nested");
  const char *field = ps->p;
  for (;;) {
    if (!is_ident_start(*ps->p)) {
      return fail_at(ps, ps->p, "expected a field name in '{...}'");
    }
    while (is_ident_char(*ps->p)) ps->p++;
    if (*ps->p != '.') break;
    ps->p++;
  }
  cpay__tpl *t = ps->t;
  size_t len = (size_t)(ps->p - field);
  for (size_t i = 0; i < t->var_count; i++) {
    if (t->vars[i].len == len && memcmp(t->vars[i].field, field, len) == 0) {
      return fail_at(ps, field, "field '%.*s' is bound twice", (int)len, field);
    }
  }
  if (!grow(ps, (void **)&t->vars, &ps->var_cap, t->var_count, sizeof *t->vars)) return false;
  ps->in_var = (int)t->var_count;
  t->vars[t->var_count++] = (cpay__tpl_var){field, len, t->seg_count, 0};
  if (*ps->p == '=') {
    ps->p++;
    if (!parse_segments(ps)) return false;
  } else if (!add_seg(ps, CPAY__TPL_STAR, NULL, 0)) {
    return false;
  }
  if (*ps->p != '}') return fail_at(ps, ps->p, "expected '}' to close the '{' at %zu",
                                    (size_t)(open - ps->text));
  ps->p++;
  cpay__tpl_var *v = &t->vars[ps->in_var];
  v->count = t->seg_count - v->first;
  ps->in_var = -1;
  return true;
}

// Segment = "*" | "**" | LITERAL | Variable ;
static bool parse_segment(parser *ps) {
  const char *at = ps->p;
  if (*at == '{') return parse_variable(ps);
  if (at[0] == '*' && at[1] == '*') {
    ps->p += 2;
    return add_seg(ps, CPAY__TPL_STARSTAR, at, 2);
  }
  if (*at == '*') {
    ps->p++;
    return add_seg(ps, CPAY__TPL_STAR, at, 1);
  }
  size_t n = literal_len(at);
  if (n == 0) {
    if (*at == '/' || *at == 0 || *at == '}' || *at == ':') {
      return fail_at(ps, at, "empty path segment");
    }
    return fail_at(ps, at, "'%c' is not allowed in a path segment", *at);
  }
  // A request path never has these (the HTTP router refuses them), so a
  // template with one could never match.
  if ((n == 1 && at[0] == '.') || (n == 2 && at[0] == '.' && at[1] == '.')) {
    return fail_at(ps, at, "'%.*s' is not allowed as a path segment", (int)n, at);
  }
  ps->p += n;
  return add_seg(ps, CPAY__TPL_LITERAL, at, n);
}

// Segments = Segment { "/" Segment } ;
static bool parse_segments(parser *ps) {
  for (;;) {
    if (!parse_segment(ps)) return false;
    if (*ps->p != '/') return true;
    ps->p++;
  }
}

bool cpay__tpl_parse(const char *text, cpay__tpl *out, cpay__tpl_error *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  parser ps = {.text = text, .p = text, .t = out, .err = err, .in_var = -1};
  bool ok;
  if (*text != '/') {
    ok = fail_at(&ps, text, "a path template starts with '/'");
  } else {
    ps.p++;
    ok = parse_segments(&ps);
  }
  if (ok && *ps.p == ':') {
    const char *verb = ++ps.p;
    size_t n = literal_len(verb);
    if (n == 0) {
      ok = fail_at(&ps, verb, "expected a verb after ':'");
    } else {
      out->verb = verb;
      out->verb_len = n;
      ps.p += n;
    }
  }
  if (ok && *ps.p != 0) {
    ok = *ps.p == '}' ? fail_at(&ps, ps.p, "'}' without '{'")
                      : fail_at(&ps, ps.p, "unexpected '%c'", *ps.p);
  }
  for (size_t i = 0; ok && i + 1 < out->seg_count; i++) {
    if (out->segs[i].kind == CPAY__TPL_STARSTAR) {
      ok = fail_at(&ps, out->segs[i].text, "'**' must be the last segment");
    }
  }
  if (!ok) cpay__tpl_free(out);
  return ok;
}

void cpay__tpl_free(cpay__tpl *t) {
  free(t->segs);
  free(t->vars);
  memset(t, 0, sizeof *t);
}
