// The text format parser: a tokenizer that tracks line and column, and a
// recursive descent over messages that finds fields by name through the
// message's description (reflect/reflect.h) and stores values through the
// field helpers of message/field.h. Any in expanded form is parsed into
// its type, then serialized into `value`.
#include "cpay/text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message/field.h"
#include "reflect/reflect.h"
#include "text/text_url.h"
#include "wire/wire.h"

typedef enum tkind {
  T_EOF,
  T_IDENT,   // [A-Za-z_][A-Za-z0-9_]*
  T_NUMBER,  // starts with a digit or '.' and a digit
  T_STRING,  // one quoted string, escapes still in (unescape() undoes them)
  T_PUNCT,   // one character: { } < > [ ] : , ; - / . (and in a type URL
             // the other characters a URL path may hold: ~ ! $ & ( ) * + = %)
} tkind;

typedef struct token {
  tkind kind;
  const char *p;  // where it starts in the input
  size_t n;       // its length in the input
  uint32_t line, col;
} token;

typedef struct dec {
  const char *s;
  size_t len, pos;
  uint32_t line;
  size_t line_start;
  token tok;  // the current (lookahead) token
  cpay_arena *a;
  cpay_status *st;
  const cpay_registry *reg;
  int depth, max_depth;
  bool in_url;  // between the brackets of "[host/path/type]"
} dec;

static cpay_code fail_at(dec *d, uint32_t line, uint32_t col, const char *fmt, ...)
    CPAY_PRINTF(4, 5);

static cpay_code fail_at(dec *d, uint32_t line, uint32_t col, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cpay_status_set(d->st, CPAY_ERR_MALFORMED, "%" PRIu32 ":%" PRIu32 ": %s", line, col,
                         msg);
}

// Nesting past max_depth, at the current token: CPAY_ERR_DEPTH, as in the
// binary and JSON parsers.
static cpay_code fail_depth(dec *d) {
  return cpay_status_set(d->st, CPAY_ERR_DEPTH, "%" PRIu32 ":%" PRIu32 ": nesting deeper than %d",
                         d->tok.line, d->tok.col, d->max_depth);
}

static int clip(size_t n) { return n > 64 ? 64 : (int)n; }

static cpay_code oom(dec *d) {
  return cpay_status_set(d->st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(d->a));
}

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips whitespace and '#' comments, counting lines.
static void skip_blank(dec *d) {
  while (d->pos < d->len) {
    char c = d->s[d->pos];
    if (c == '\n') {
      d->pos++;
      d->line++;
      d->line_start = d->pos;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      d->pos++;
    } else if (c == '#') {
      while (d->pos < d->len && d->s[d->pos] != '\n') d->pos++;
    } else {
      return;
    }
  }
}

// Past an identifier's letters, digits and '_'.
static void scan_ident(dec *d) {
  while (d->pos < d->len && (is_alpha(d->s[d->pos]) || is_digit(d->s[d->pos]))) d->pos++;
}

// Whether a number starts at d->pos: a digit, or '.' and a digit.
static bool at_number(const dec *d) {
  char c = d->s[d->pos];
  return is_digit(c) || (c == '.' && d->pos + 1 < d->len && is_digit(d->s[d->pos + 1]));
}

// Past a number that starts at `start`: digits, letters (hex, exponent,
// suffix), dots and an exponent's sign; the value's parser decides what is
// well formed.
static void scan_number(dec *d, size_t start) {
  while (d->pos < d->len) {
    char x = d->s[d->pos];
    if (is_digit(x) || is_alpha(x) || x == '.') {
      d->pos++;
    } else if ((x == '+' || x == '-') && (d->s[d->pos - 1] == 'e' || d->s[d->pos - 1] == 'E') &&
               !(d->pos - start > 1 && (d->s[start + 1] == 'x' || d->s[start + 1] == 'X'))) {
      d->pos++;
    } else {
      break;
    }
  }
}

// Past a string quoted with `q`, which must close on its line; escapes are
// skipped here and undone by unescape().
static cpay_code scan_string(dec *d, char q) {
  d->pos++;
  while (d->pos < d->len && d->s[d->pos] != q) {
    if (d->s[d->pos] == '\n') break;
    if (d->s[d->pos] == '\\' && d->pos + 1 < d->len) d->pos++;
    d->pos++;
  }
  if (d->pos >= d->len || d->s[d->pos] != q) {
    return fail_at(d, d->tok.line, d->tok.col, "unterminated string");
  }
  d->pos++;
  return CPAY_OK;
}

// Past the token at d->pos, by the class its first character gives.
static cpay_code scan(dec *d, tkind *kind) {
  if (d->pos >= d->len) {
    *kind = T_EOF;
    return CPAY_OK;
  }
  char c = d->s[d->pos];
  if (is_alpha(c)) {
    *kind = T_IDENT;
    scan_ident(d);
  } else if (at_number(d)) {
    *kind = T_NUMBER;
    scan_number(d, d->pos);
  } else if (c == '"' || c == '\'') {
    *kind = T_STRING;
    return scan_string(d, c);
  } else if (c != '\0' &&
             (strchr("{}<>[]:,;-/.", c) || (d->in_url && strchr(CPAY__TEXT_URL_PUNCT, c)))) {
    *kind = T_PUNCT;
    d->pos++;
  } else {
    return fail_at(d, d->tok.line, d->tok.col, "unexpected character '%c'",
                   c >= 0x20 && c < 0x7F ? c : '?');
  }
  return CPAY_OK;
}

// Reads the next token into d->tok, skipping whitespace and comments.
static cpay_code next(dec *d) {
  skip_blank(d);
  token *t = &d->tok;
  t->p = d->s + d->pos;
  t->line = d->line;
  t->col = (uint32_t)(d->pos - d->line_start) + 1;
  cpay_code c = scan(d, &t->kind);
  t->n = (size_t)(d->s + d->pos - t->p);
  return c;
}

static bool at(const dec *d, char c) {
  return d->tok.kind == T_PUNCT && d->tok.p[0] == c;
}

static cpay_code unexpected(dec *d, const char *what) {
  const token *t = &d->tok;
  if (t->kind == T_EOF) return fail_at(d, t->line, t->col, "expected %s, got end of input", what);
  return fail_at(d, t->line, t->col, "expected %s, got \"%.*s\"", what, clip(t->n), t->p);
}

static cpay_code expect(dec *d, char c) {
  if (!at(d, c)) {
    char what[8] = {'\'', c, '\'', 0};
    return unexpected(d, what);
  }
  return next(d);
}

static bool tok_is(const token *t, const char *s) {
  return t->kind == T_IDENT && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

// ---- strings -------------------------------------------------------------------

static int hexval(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads `n` hex digits of a \u or \U escape at s[*i]; -1 when malformed.
static int64_t read_hex(const char *s, size_t end, size_t *i, int n) {
  int64_t v = 0;
  for (int k = 0; k < n; k++) {
    if (*i >= end || hexval(s[*i]) < 0) return -1;
    v = v * 16 + hexval(s[(*i)++]);
  }
  return v;
}

// Where unescape() stands in the string token d->tok.
typedef struct esc {
  const char *s;  // the token, quotes included
  size_t end;     // the closing quote
  size_t i;       // the next byte to read
  char *o;        // the output
  size_t k;       // bytes written
  uint32_t col;   // the column of the escape being read
} esc;

// The byte a one-character escape such as \n stands for, or -1.
static int simple_escape(char e) {
  switch (e) {
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    case '\\': case '\'': case '"': case '?': return e;
    default: return -1;
  }
}

// \x and one or two hex digits: one byte.
static cpay_code hex_escape(dec *d, esc *e) {
  int v = 0, digits = 0;
  while (digits < 2 && e->i < e->end && hexval(e->s[e->i]) >= 0) {
    v = v * 16 + hexval(e->s[e->i++]);
    digits++;
  }
  if (!digits) return fail_at(d, d->tok.line, e->col, "\\x must be followed by a hex digit");
  e->o[e->k++] = (char)v;
  return CPAY_OK;
}

// \u and four or \U and eight hex digits: a code point, written as UTF-8.
static cpay_code unicode_escape(dec *d, esc *e, char u) {
  int64_t cp = read_hex(e->s, e->end, &e->i, u == 'u' ? 4 : 8);
  if (cp < 0) {
    return fail_at(d, d->tok.line, e->col, "\\%c must be followed by %d hex digits", u,
                   u == 'u' ? 4 : 8);
  }
  // Escapes name code points, and surrogates are none: a pair of \u
  // escapes is rejected too, as the conformance suite (v21.12) requires of
  // every implementation.
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    return fail_at(d, d->tok.line, e->col, "surrogate code point in \\%c escape", u);
  } else if (cp > 0x10FFFF) {
    return fail_at(d, d->tok.line, e->col, "code point out of range in \\U escape");
  }
  e->k += cpay__utf8_put(e->o + e->k, (uint32_t)cp);
  return CPAY_OK;
}

// One to three octal digits, the first one `first`: one byte.
static cpay_code octal_escape(dec *d, esc *e, char first) {
  int v = first - '0', digits = 1;
  while (digits < 3 && e->i < e->end && e->s[e->i] >= '0' && e->s[e->i] <= '7') {
    v = v * 8 + (e->s[e->i++] - '0');
    digits++;
  }
  if (v > 255) return fail_at(d, d->tok.line, e->col, "octal escape out of range");
  e->o[e->k++] = (char)v;
  return CPAY_OK;
}

// The escape whose letter or first digit `x` follows the backslash.
static cpay_code escape(dec *d, esc *e, char x) {
  int simple = simple_escape(x);
  if (simple >= 0) {
    e->o[e->k++] = (char)simple;
    return CPAY_OK;
  }
  if (x == 'x' || x == 'X') return hex_escape(d, e);
  if (x == 'u' || x == 'U') return unicode_escape(d, e, x);
  if (x >= '0' && x <= '7') return octal_escape(d, e, x);
  return fail_at(d, d->tok.line, e->col, "invalid escape \\%c", x >= 0x20 && x < 0x7F ? x : '?');
}

// Undoes the escapes of the string token d->tok into `o` (room for its
// length); returns the number of bytes written through *n.
static cpay_code unescape(dec *d, char *o, size_t *n) {
  const token *t = &d->tok;
  esc e = {t->p, t->n - 1, 1, o, 0, 0};
  while (e.i < e.end) {
    if (e.s[e.i] != '\\') {
      o[e.k++] = e.s[e.i++];
      continue;
    }
    e.col = t->col + (uint32_t)e.i;
    e.i++;
    cpay_code c = escape(d, &e, e.s[e.i++]);
    if (c) return c;
  }
  *n = e.k;
  return CPAY_OK;
}

// One or more adjacent string tokens, concatenated, on the arena and
// NUL-terminated (the NUL not counted).
static cpay_code read_string(dec *d, bool utf8, const char *field, cpay_str *out) {
  if (d->tok.kind != T_STRING) return unexpected(d, "a string");
  uint32_t line = d->tok.line, col = d->tok.col;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  cpay_code c;
  while (d->tok.kind == T_STRING) {
    // Room for the token's bytes (escapes only shrink) and a NUL.
    if (cap - len < d->tok.n + 1) {
      size_t ncap = cap * 2 + d->tok.n + 1;
      char *p = cpay_arena_realloc(d->a, buf, cap, ncap);
      if (!p) return oom(d);
      buf = p;
      cap = ncap;
    }
    size_t n = 0;
    if ((c = unescape(d, buf + len, &n))) return c;
    len += n;
    if ((c = next(d))) return c;
  }
  buf[len] = '\0';
  if (utf8 && !cpay__utf8_valid(buf, len)) {
    return fail_at(d, line, col, "field %s: string is not valid UTF-8", field);
  }
  *out = (cpay_str){buf, len};
  return CPAY_OK;
}

// ---- numbers -------------------------------------------------------------------

// An optional '-' then a number token. `neg` set; d->tok is the number.
static cpay_code read_sign(dec *d, bool *neg) {
  *neg = false;
  if (at(d, '-')) {
    *neg = true;
    return next(d);
  }
  return CPAY_OK;
}

// The magnitude of an integer token (decimal, 0x hex, 0 octal); false when
// it is not an integer or exceeds UINT64_MAX (*overflow then).
static bool parse_uint(const token *t, uint64_t *out, bool *overflow) {
  const char *s = t->p;
  size_t n = t->n, i = 0;
  unsigned base = 10;
  *overflow = false;
  if (t->kind != T_NUMBER) return false;
  if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    i = 2;
  } else if (n > 1 && s[0] == '0') {
    base = 8;
    i = 1;
  }
  uint64_t v = 0;
  for (; i < n; i++) {
    int x = hexval(s[i]);
    if (x < 0 || (unsigned)x >= base) return false;
    if (v > (UINT64_MAX - (uint64_t)x) / base) {
      *overflow = true;
      for (i++; i < n; i++) {
        x = hexval(s[i]);
        if (x < 0 || (unsigned)x >= base) *overflow = false;
      }
      return false;
    }
    v = v * base + (uint64_t)x;
  }
  *out = v;
  return true;
}

static cpay_code read_int(dec *d, const char *field, const char *tname, bool is_signed,
                          int64_t min, uint64_t max, uint64_t *out) {
  bool neg;
  cpay_code c = read_sign(d, &neg);
  if (c) return c;
  const token t = d->tok;
  uint64_t v;
  bool overflow;
  if (!parse_uint(&t, &v, &overflow)) {
    if (overflow) {
      return fail_at(d, t.line, t.col, "integer out of range for field %s (%s)", field, tname);
    }
    return unexpected(d, "an integer");
  }
  if (neg) {
    if (!is_signed || v > (uint64_t)0 - (uint64_t)min) {
      return fail_at(d, t.line, t.col, "integer out of range for field %s (%s)", field, tname);
    }
    v = (uint64_t)0 - v;
  } else if (v > max) {
    return fail_at(d, t.line, t.col, "integer out of range for field %s (%s)", field, tname);
  }
  *out = v;
  return next(d);
}

static bool ident_ci(const token *t, const char *s) {
  if (t->kind != T_IDENT || t->n != strlen(s)) return false;
  for (size_t i = 0; i < t->n; i++) {
    char c = t->p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != s[i]) return false;
  }
  return true;
}

static cpay_code read_float(dec *d, double *out) {
  bool neg;
  cpay_code c = read_sign(d, &neg);
  if (c) return c;
  const token t = d->tok;
  double v;
  if (ident_ci(&t, "inf") || ident_ci(&t, "infinity")) {
    v = INFINITY;
  } else if (ident_ci(&t, "nan")) {
    v = NAN;
  } else if (t.kind == T_NUMBER) {
    char buf[128];
    size_t n = t.n;
    if (n > 1 && (t.p[n - 1] == 'f' || t.p[n - 1] == 'F') &&
        !(t.p[0] == '0' && n > 1 && (t.p[1] == 'x' || t.p[1] == 'X'))) {
      n--;  // the 1.5f suffix
    }
    if (n >= sizeof buf) return fail_at(d, t.line, t.col, "number too long");
    memcpy(buf, t.p, n);
    buf[n] = '\0';
    // Decimal only: no hex or octal (strtod would read hex), no leading
    // zeros before other digits.
    bool ok = n > 0;
    for (size_t i = 0; i < n && ok; i++) {
      char x = buf[i];
      bool prev_e = i > 0 && (buf[i - 1] == 'e' || buf[i - 1] == 'E');
      ok = is_digit(x) || x == '.' || x == 'e' || x == 'E' || ((x == '+' || x == '-') && prev_e);
    }
    if (ok && n > 1 && buf[0] == '0' && is_digit(buf[1])) ok = false;
    char *endp;
    errno = 0;
    v = ok ? strtod(buf, &endp) : 0;
    if (!ok || endp != buf + n) return unexpected(d, "a number");
  } else {
    return unexpected(d, "a number");
  }
  *out = neg ? -v : v;
  return next(d);
}

// ---- values ----------------------------------------------------------------------

typedef struct view {
  const cpay_msg_table *t;
  const cpay_msg_desc *j;
} view;

static cpay_code parse_message(dec *d, void *msg, view v, char close);

// Parses one message value ("{ ... }" or "< ... >") into *slot (created
// when NULL).
static cpay_code parse_sub(dec *d, void **slot, view v) {
  char close;
  if (at(d, '{')) close = '}';
  else if (at(d, '<')) close = '>';
  else return unexpected(d, "'{' or '<'");
  cpay_code c = next(d);
  if (c) return c;
  if (!*slot) {
    *slot = cpay_msg_new(v.t, d->a);
    if (!*slot) return oom(d);
  }
  if (++d->depth > d->max_depth) {
    return fail_depth(d);
  }
  if ((c = parse_message(d, *slot, v, close))) return c;
  d->depth--;
  return next(d);  // past the closing brace
}

static const char *type_name(uint8_t type) {
  static const char *const names[] = {"",       "double",   "float",    "int64",  "uint64",
                                      "int32",  "fixed64",  "fixed32",  "bool",   "string",
                                      "group",  "message",  "bytes",    "uint32", "enum",
                                      "sfixed32", "sfixed64", "sint32", "sint64"};
  return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

// Where a field's values go and what they are.
typedef struct target {
  const char *name;
  const cpay_field *f;  // type and mode
  view sub;             // message, group or map entry
  const cpay_enum_desc *je;
  const cpay_enum_table *closed;
  void *base;           // the message holding the field, or an extension's
                        // storage (whose field has offset 0, no presence)
  int index;            // the field's index in its table (not for extensions)
  const cpay_ext *ext;  // the extension, or NULL for a field of the table
} target;

// A double or a float into `p`.
static cpay_code parse_float_value(dec *d, uint8_t type, void *p) {
  double x = 0;
  cpay_code c = read_float(d, &x);
  if (c) return c;
  cpay__value_store_real(type, x, p);
  return CPAY_OK;
}

// An integer of one of the ten integer types into `p`, range checked.
static cpay_code parse_int_value(dec *d, const char *field, uint8_t type, void *p) {
  const char *tn = type_name(type);
  uint64_t u;
  cpay_code c;
  switch (type) {
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
      if ((c = read_int(d, field, tn, true, INT64_MIN, INT64_MAX, &u))) return c;
      *(int64_t *)p = (int64_t)u;
      return CPAY_OK;
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
      if ((c = read_int(d, field, tn, false, 0, UINT64_MAX, &u))) return c;
      *(uint64_t *)p = u;
      return CPAY_OK;
    case CPAY_TYPE_UINT32:
    case CPAY_TYPE_FIXED32:
      if ((c = read_int(d, field, tn, false, 0, UINT32_MAX, &u))) return c;
      *(uint32_t *)p = (uint32_t)u;
      return CPAY_OK;
    default:  // int32, sfixed32, sint32
      if ((c = read_int(d, field, tn, true, INT32_MIN, INT32_MAX, &u))) return c;
      *(int32_t *)p = (int32_t)u;
      return CPAY_OK;
  }
}

// true, True, t or 1; false, False, f or 0.
static cpay_code parse_bool(dec *d, bool *p) {
  const token *t = &d->tok;
  if (tok_is(t, "true") || tok_is(t, "True") || tok_is(t, "t") ||
      (t->kind == T_NUMBER && t->n == 1 && t->p[0] == '1')) {
    *p = true;
  } else if (tok_is(t, "false") || tok_is(t, "False") || tok_is(t, "f") ||
             (t->kind == T_NUMBER && t->n == 1 && t->p[0] == '0')) {
    *p = false;
  } else {
    return unexpected(d, "true or false");
  }
  return next(d);
}

// An enum value by name (through `je`) or number; `closed`: the enum's
// known values when unknown numbers must be rejected.
static cpay_code parse_enum(dec *d, const char *field, const cpay_enum_desc *je,
                            const cpay_enum_table *closed, int32_t *p) {
  const token t = d->tok;
  if (t.kind == T_IDENT) {
    if (je && cpay_enum_value(je, t.p, t.n, p)) return next(d);
    return fail_at(d, t.line, t.col, "unknown value \"%.*s\" for enum field %s", clip(t.n), t.p,
                   field);
  }
  uint64_t u;
  cpay_code c = read_int(d, field, type_name(CPAY_TYPE_ENUM), true, INT32_MIN, INT32_MAX, &u);
  if (c) return c;
  if (closed && !cpay_enum_table_has(closed, (int32_t)u)) {
    return fail_at(d, t.line, t.col, "unknown value %" PRId32 " for enum field %s", (int32_t)u,
                   field);
  }
  *p = (int32_t)u;
  return CPAY_OK;
}

// One value of the target's type into `p` (storage as in gencode.h), by
// type family. Strings of fields with CPAY_MODE_UTF8 must be UTF-8 (as the
// binary decoder checks them), so that whatever the parser accepts prints
// and reads back.
static cpay_code parse_value(dec *d, const target *tg, void *p) {
  const cpay_field *f = tg->f;
  switch (f->type) {
    case CPAY_TYPE_DOUBLE:
    case CPAY_TYPE_FLOAT:
      return parse_float_value(d, f->type, p);
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
    case CPAY_TYPE_INT32:
    case CPAY_TYPE_SFIXED32:
    case CPAY_TYPE_SINT32:
    case CPAY_TYPE_UINT32:
    case CPAY_TYPE_FIXED32:
      return parse_int_value(d, tg->name, f->type, p);
    case CPAY_TYPE_BOOL:
      return parse_bool(d, p);
    case CPAY_TYPE_ENUM:
      return parse_enum(d, tg->name, tg->je, tg->closed, p);
    case CPAY_TYPE_STRING:
      return read_string(d, (f->mode & CPAY_MODE_UTF8) != 0, tg->name, p);
    case CPAY_TYPE_BYTES:
      return read_string(d, false, tg->name, p);
    default:
      return parse_sub(d, p, tg->sub);
  }
}

// ---- fields ------------------------------------------------------------------
//
// parse_message() reads a message's fields one at a time through these
// steps: read the key (a field or group name, "[extension]" or an Any's
// "[host/type]"), find the field it names, reject what may not be given
// (a singular field twice, two members of a oneof, fields beside an Any's
// expanded form), find the storage, then parse the value: a single value,
// a "[...]" list, map entries or a message.

// One "{ key: ... value: ... }" entry of a map field into the map at `mp`.
static cpay_code parse_map_entry(dec *d, const target *tg, cpay_map **mp) {
  void *entry = NULL;
  cpay_code c = parse_sub(d, &entry, tg->sub);
  if (c) return c;
  const cpay_field *kf = cpay__map_key_field(tg->sub.t), *vf = cpay__map_value_field(tg->sub.t);
  if (!*mp) {
    *mp = cpay_map_new(d->a, kf->type, vf->type);
    if (!*mp) return oom(d);
  }
  cpay_value k = cpay__value_load(kf->type, cpay__field_cptr(entry, kf));
  cpay_value v = cpay__value_load(vf->type, cpay__field_cptr(entry, vf));
  if (cpay_map_set(*mp, k, v, d->a) != CPAY_OK) return oom(d);
  return CPAY_OK;
}

// One element of `tg` (after ':' or within a list): a map entry, an
// element appended, a message merged in place, or a value set.
static cpay_code parse_element(dec *d, const target *tg) {
  const cpay_field *f = tg->f;
  uint8_t mode = f->mode & CPAY_MODE_MASK;
  void *p = cpay__field_ptr(tg->base, f);
  if (mode == CPAY_MODE_MAP) return parse_map_entry(d, tg, p);
  union {
    cpay_value v;
    void *msg;
  } tmp;
  memset(&tmp, 0, sizeof tmp);
  cpay_code c;
  if (mode == CPAY_MODE_ARRAY) {
    if ((c = parse_value(d, tg, &tmp))) return c;
    if (!cpay__array_push(p, f->type, &tmp, d->a)) return oom(d);
    return CPAY_OK;
  }
  if (cpay__type_is_msg(f->type)) {
    cpay__field_prepare(tg->base, f);  // another oneof member may be stored there
    if ((c = parse_value(d, tg, p))) return c;
    cpay__field_mark(tg->base, f);
    return CPAY_OK;
  }
  if ((c = parse_value(d, tg, &tmp))) return c;
  cpay__field_set(tg->base, f, &tmp);
  return CPAY_OK;
}

// "[ element, ... ]" of a repeated or map field, at its '['.
static cpay_code parse_list(dec *d, const target *tg) {
  cpay_code c = next(d);
  if (c) return c;
  if (at(d, ']')) return next(d);
  for (;;) {
    if ((c = parse_element(d, tg))) return c;
    if (at(d, ']')) return next(d);
    if ((c = expect(d, ','))) return c;
  }
}

// After the field name: [':'] element, or ':' '[' elements ']' (the colon
// optional before messages and map entries).
static cpay_code parse_field_value(dec *d, const target *tg) {
  const cpay_field *f = tg->f;
  uint8_t mode = f->mode & CPAY_MODE_MASK;
  bool msgish = cpay__type_is_msg(f->type) || mode == CPAY_MODE_MAP;
  cpay_code c;
  if (at(d, ':')) {
    if ((c = next(d))) return c;
  } else if (!msgish) {
    return unexpected(d, "':'");
  }
  if (at(d, '[') && mode != CPAY_MODE_SCALAR) return parse_list(d, tg);
  if (msgish && !at(d, '{') && !at(d, '<')) return unexpected(d, "'{' or '<'");
  return parse_element(d, tg);
}

// "[a.b.c]" or "[host/path/a.b.c]": the name inside the brackets, on the
// arena, its tokens joined (whitespace and comments between them dropped). A
// type URL's path may hold the characters RFC 3986 allows in one, '%' only
// starting an escape.
static cpay_code read_bracketed(dec *d, cpay_str *out, bool *has_slash) {
  uint32_t line = d->tok.line, col = d->tok.col;
  d->in_url = true;
  cpay_code c = next(d);  // past '['
  char *buf = NULL;
  size_t len = 0, cap = 0;
  *has_slash = false;
  while (!c && !at(d, ']')) {
    if (d->tok.kind != T_IDENT && d->tok.kind != T_NUMBER &&
        !(d->tok.kind == T_PUNCT && strchr(CPAY__TEXT_URL_PUNCT, d->tok.p[0]))) {
      c = unexpected(d, "a name");
      break;
    }
    if (at(d, '/')) *has_slash = true;
    if (cap - len < d->tok.n + 1) {
      size_t ncap = cap * 2 + d->tok.n + 16;
      char *p = cpay_arena_realloc(d->a, buf, cap, ncap);
      if (!p) {
        c = oom(d);
        break;
      }
      buf = p;
      cap = ncap;
    }
    memcpy(buf + len, d->tok.p, d->tok.n);
    len += d->tok.n;
    c = next(d);
  }
  d->in_url = false;
  if (c) return c;
  if (len == 0) return unexpected(d, "a name");
  buf[len] = '\0';
  *out = (cpay_str){buf, len};
  if (!cpay__text_url_ok(buf, len)) {
    return fail_at(d, line, col, "\"[%.*s]\": '%%' must start an escape of two hex digits",
                   clip(len), buf);
  }
  return next(d);
}

// "[prefix/pkg.Type] { ... }" inside an Any: parses the message and stores
// it serialized.
static cpay_code parse_any_expanded(dec *d, void *msg, view v, cpay_str url, uint32_t line,
                                    uint32_t col) {
  cpay_str name;
  if (!cpay_any_type_name(url, &name)) {
    return fail_at(d, line, col, "type URL \"%.*s\" is not of the form \"host/full.Name\"",
                   clip(url.size), url.data);
  }
  const cpay_msg_desc *inner = cpay_registry_find(d->reg, name.data, name.size);
  if (!inner) {
    return fail_at(d, line, col, "type \"%.*s\" is not in the registry", clip(url.size),
                   url.data);
  }
  cpay_code c;
  if (at(d, ':') && (c = next(d))) return c;
  void *sub = NULL;
  view iv = {inner->table, inner};
  if ((c = parse_sub(d, &sub, iv))) return c;
  cpay_bytes bytes;
  cpay_encode_opts eopts = {0};
  eopts.flags = CPAY_ENCODE_ALLOW_PARTIAL;
  if ((c = cpay_encode(sub, inner->table, d->a, &eopts, &bytes, d->st))) return c;
  *(cpay_str *)cpay__field_ptr(msg, cpay__field_find(v.t, 1)) = url;
  *(cpay_bytes *)cpay__field_ptr(msg, cpay__field_find(v.t, 2)) = bytes;
  return CPAY_OK;
}

// The index of the field that `s` names, or -1: a field by its proto name,
// a group also by its type's name (as protoc prints it; a delimited field
// that is not group-like, CPAY_MODE_TEXT_FIELD_NAME, only by its own name),
// the first in number order when a group's type name is also another
// field's name.
static bool named_by_type(const cpay_field *f) {
  return f->type == CPAY_TYPE_GROUP && !(f->mode & CPAY_MODE_TEXT_FIELD_NAME);
}

static int find_name(view v, const char *s, size_t n) {
  const cpay_msg_table *t = v.t;
  int i = v.j ? cpay__field_by_name(v.j, s, n) : -1;
  uint32_t end = i < 0 ? t->field_count : (uint32_t)i;  // groups before the field
  for (uint32_t g = 0; g < end; g++) {
    const cpay_field *f = &t->fields[g];
    if (!named_by_type(f)) continue;
    const char *full = t->subs[f->sub].msg->full_name, *dot = strrchr(full, '.');
    const char *name = dot ? dot + 1 : full;
    if (strlen(name) == n && memcmp(name, s, n) == 0) return (int)g;
  }
  return i;
}

// A field's key as written.
typedef enum key_kind {
  KEY_NAME,       // a field's name, or a group's type name
  KEY_EXTENSION,  // "[full.name]"
  KEY_TYPE_URL,   // "[host/full.Name]": the type of an Any's expanded form
} key_kind;

typedef struct key {
  key_kind kind;
  cpay_str name;  // KEY_NAME: the current token's text (not read past yet)
  uint32_t line, col;
} key;

// The message parse_message() fills, and what it was given so far.
typedef struct msg_state {
  void *msg;
  view v;
  uint8_t *seen;      // per field index: 1 once a singular field was given
  bool is_any;
  bool any_expanded;  // an Any given "[host/type] { ... }"
  bool any_fields;    // an Any given fields by name
} msg_state;

// Starts `ms` on `msg`; `seen` is `small` (`n` bytes) when the message has
// no more fields, else on the arena.
static cpay_code begin_message(dec *d, msg_state *ms, void *msg, view v, uint8_t *small,
                               size_t n) {
  memset(ms, 0, sizeof *ms);
  ms->msg = msg;
  ms->v = v;
  ms->seen = small;
  if (v.t->field_count > n) {
    ms->seen = cpay_arena_malloc(d->a, v.t->field_count);
    if (!ms->seen) return oom(d);
  }
  memset(ms->seen, 0, v.t->field_count);
  ms->is_any = v.j && v.j->wkt == CPAY_WKT_ANY;
  return CPAY_OK;
}

// Whether d->tok ends the message: `close`, or at the top level (close 0)
// the end of input.
static bool at_close(const dec *d, char close) {
  return close ? at(d, close) : d->tok.kind == T_EOF;
}

// The key of the next field: a name (left as the current token) or a
// bracketed name (read past its ']').
static cpay_code read_key(dec *d, char close, key *k) {
  *k = (key){KEY_NAME, {NULL, 0}, d->tok.line, d->tok.col};
  if (at(d, '[')) {
    bool slash = false;
    cpay_code c = read_bracketed(d, &k->name, &slash);
    k->kind = slash ? KEY_TYPE_URL : KEY_EXTENSION;
    return c;
  }
  if (d->tok.kind == T_IDENT) {
    k->name = (cpay_str){d->tok.p, d->tok.n};
    return CPAY_OK;
  }
  if (d->tok.kind == T_EOF) return unexpected(d, close == '}' ? "'}'" : "'>'");
  return unexpected(d, close == '}'   ? "a field name or '}'"
                       : close == '>' ? "a field name or '>'"
                                      : "a field name");
}

// ---- reserved names ----------------------------------------------------------
//
// A name the message reserves may still be given: its value is read for
// form only (any scalar, list or message, whatever fields the message has)
// and dropped.

static bool is_reserved(const cpay_msg_desc *j, cpay_str name) {
  for (const char *const *r = j ? j->reserved_names : NULL; r && *r; r++) {
    if (cpay_str_eq(name, cpay_str_from_c(*r))) return true;
  }
  return false;
}

static cpay_code skip_message(dec *d);

// A number (or identifier, e.g. an enum value or "inf"), possibly negative,
// or adjacent strings.
static cpay_code skip_scalar(dec *d) {
  cpay_code c;
  if (at(d, '-') && (c = next(d))) return c;
  if (d->tok.kind == T_IDENT || d->tok.kind == T_NUMBER) return next(d);
  if (d->tok.kind != T_STRING) return unexpected(d, "a value");
  while (d->tok.kind == T_STRING) {
    if ((c = next(d))) return c;
  }
  return CPAY_OK;
}

static cpay_code skip_element(dec *d) {
  return at(d, '{') || at(d, '<') ? skip_message(d) : skip_scalar(d);
}

// After the name: [':'] message, ':' scalar, or ':' '[' elements ']'.
static cpay_code skip_field_value(dec *d) {
  cpay_code c;
  bool colon = at(d, ':');
  if (colon && (c = next(d))) return c;
  if (at(d, '{') || at(d, '<')) return skip_message(d);
  if (!colon) return unexpected(d, "':'");
  if (!at(d, '[')) return skip_scalar(d);
  if ((c = next(d))) return c;
  if (at(d, ']')) return next(d);
  for (;;) {
    if ((c = skip_element(d))) return c;
    if (at(d, ']')) return next(d);
    if ((c = expect(d, ','))) return c;
  }
}

// "{ ... }" or "< ... >" of any fields, at its opening brace.
static cpay_code skip_message(dec *d) {
  char close = at(d, '{') ? '}' : '>';
  cpay_code c = next(d);
  if (c) return c;
  if (++d->depth > d->max_depth) return fail_depth(d);
  while (!at(d, close)) {
    key k;
    if ((c = read_key(d, close, &k))) return c;
    if (k.kind == KEY_NAME && (c = next(d))) return c;
    if ((c = skip_field_value(d))) return c;
    if ((at(d, ';') || at(d, ',')) && (c = next(d))) return c;
  }
  d->depth--;
  return next(d);
}

// The field of the message that key `k` names.
static cpay_code find_field(dec *d, const msg_state *ms, const key *k, target *tg) {
  const cpay_msg_table *t = ms->v.t;
  int i = find_name(ms->v, k->name.data, k->name.size);
  if (i < 0) {
    return fail_at(d, k->line, k->col, "message %s has no field named \"%.*s\"", t->full_name,
                   clip(k->name.size), k->name.data);
  }
  const cpay_field *f = &t->fields[i];
  tg->name = t->field_names[i];
  tg->f = f;
  if (cpay__type_is_msg(f->type) || (f->mode & CPAY_MODE_MASK) == CPAY_MODE_MAP) {
    tg->sub.t = t->subs[f->sub].msg;
    tg->sub.j = ms->v.j ? ms->v.j->msgs[i] : NULL;
  }
  tg->je = ms->v.j ? ms->v.j->enums[i] : NULL;
  tg->closed = (f->mode & CPAY_MODE_CLOSED_ENUM) ? t->subs[f->sub].enm : NULL;
  tg->base = ms->msg;
  tg->index = i;
  return CPAY_OK;
}

// The extension of the message that key `k` names, from the registry.
static cpay_code find_extension(dec *d, const msg_state *ms, const key *k, target *tg) {
  const cpay_ext_desc *x = cpay_registry_find_ext(d->reg, k->name.data, k->name.size);
  if (!x || x->ext->extendee != ms->v.t) {
    return fail_at(d, k->line, k->col, "unknown extension \"%.*s\" of %s", clip(k->name.size),
                   k->name.data, ms->v.t->full_name);
  }
  tg->name = x->ext->full_name;
  tg->f = &x->ext->field;
  tg->sub.t = cpay__type_is_msg(tg->f->type) ? x->ext->sub.msg : NULL;
  tg->sub.j = x->msg;
  tg->je = x->enm;
  tg->closed = (tg->f->mode & CPAY_MODE_CLOSED_ENUM) ? x->ext->sub.enm : NULL;
  tg->index = -1;
  tg->ext = x->ext;
  return CPAY_OK;
}

// A singular extension given once.
static cpay_code check_extension(dec *d, const msg_state *ms, const key *k, const target *tg) {
  bool repeated = (tg->f->mode & CPAY_MODE_MASK) == CPAY_MODE_ARRAY;
  if (!repeated && cpay_msg_get_ext(ms->msg, tg->ext)) {
    return fail_at(d, k->line, k->col, "extension %s given more than once", tg->name);
  }
  return CPAY_OK;
}

// The index of a member of f's oneof that was given already, or -1.
static int oneof_given(const msg_state *ms, const cpay_field *f) {
  for (uint32_t o = 0; f->presence < 0 && o < ms->v.t->field_count; o++) {
    if (ms->seen[o] && cpay__field_same_oneof(&ms->v.t->fields[o], f)) return (int)o;
  }
  return -1;
}

// A singular field given once and no other member of its oneof; in an Any,
// no field beside the expanded form.
static cpay_code check_field(dec *d, msg_state *ms, const key *k, const target *tg) {
  const cpay_msg_table *t = ms->v.t;
  int i = tg->index;
  if ((tg->f->mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR) {
    if (ms->seen[i]) {
      return fail_at(d, k->line, k->col, "field %s given more than once", t->field_names[i]);
    }
    int o = oneof_given(ms, tg->f);
    if (o >= 0) {
      return fail_at(d, k->line, k->col, "fields %s and %s belong to the same oneof",
                     t->field_names[o], t->field_names[i]);
    }
    ms->seen[i] = 1;
  }
  if (ms->is_any) {
    if (ms->any_expanded) {
      return fail_at(d, k->line, k->col, "an Any holds one expanded message and no other fields");
    }
    ms->any_fields = true;
  }
  return CPAY_OK;
}

// Where an extension's values go: its storage in the message, created.
static cpay_code extension_storage(dec *d, const msg_state *ms, target *tg) {
  tg->base = cpay_msg_mutable_ext(ms->msg, tg->ext, d->a);
  return tg->base ? CPAY_OK : oom(d);
}

// A field or extension after its key: found, checked, its value stored.
static cpay_code parse_field(dec *d, msg_state *ms, const key *k) {
  target tg;
  memset(&tg, 0, sizeof tg);  // what a step does not set stays NULL
  cpay_code c;
  if (k->kind == KEY_EXTENSION) {
    if ((c = find_extension(d, ms, k, &tg)) || (c = check_extension(d, ms, k, &tg)) ||
        (c = extension_storage(d, ms, &tg))) {
      return c;
    }
  } else if (is_reserved(ms->v.j, k->name)) {  // never a field's name too
    if ((c = next(d))) return c;
    return skip_field_value(d);
  } else {
    if ((c = find_field(d, ms, k, &tg)) || (c = check_field(d, ms, k, &tg))) return c;
    if ((c = next(d))) return c;  // past the name
  }
  return parse_field_value(d, &tg);
}

// "[host/full.Name] { ... }": an Any's one expanded message.
static cpay_code parse_any_field(dec *d, msg_state *ms, const key *k) {
  if (!ms->is_any) {
    return fail_at(d, k->line, k->col, "\"[%.*s]\" names a type, but %s is not an Any",
                   clip(k->name.size), k->name.data, ms->v.t->full_name);
  }
  if (ms->any_expanded || ms->any_fields) {
    return fail_at(d, k->line, k->col, "an Any holds one expanded message and no other fields");
  }
  ms->any_expanded = true;
  return parse_any_expanded(d, ms->msg, ms->v, k->name, k->line, k->col);
}

// Fields until `close` (or the end of input when close is 0), each
// optionally followed by ';' or ','; leaves d->tok at `close`.
static cpay_code parse_message(dec *d, void *msg, view v, char close) {
  uint8_t seen_small[64];
  msg_state ms;
  cpay_code c = begin_message(d, &ms, msg, v, seen_small, sizeof seen_small);
  if (c) return c;
  while (!at_close(d, close)) {
    key k;
    if ((c = read_key(d, close, &k))) return c;
    if (k.kind == KEY_TYPE_URL) {
      c = parse_any_field(d, &ms, &k);
    } else {
      c = parse_field(d, &ms, &k);
    }
    if (c) return c;
    if ((at(d, ';') || at(d, ',')) && (c = next(d))) return c;
  }
  return CPAY_OK;
}

cpay_code cpay_text_decode(const char *text, size_t len, void *msg, const cpay_msg_desc *t,
                           cpay_arena *a, const cpay_text_decode_opts *opts, cpay_status *st) {
  if (!msg || !t || !a || (!text && len)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "cpay_text_decode: NULL argument");
  }
  dec d = {0};
  d.s = text ? text : "";
  d.len = len;
  d.line = 1;
  d.a = a;
  d.st = st;
  if (opts) {
    // Reserved for options to come, which must not be mistaken for ones
    // this version ignores.
    if (opts->flags != 0) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "cpay_text_decode: unknown flags 0x%" PRIx32, opts->flags);
    }
    d.reg = opts->registry;
    d.max_depth = opts->max_depth;
  }
  if (d.max_depth <= 0) d.max_depth = CPAY_DEFAULT_MAX_DEPTH;
  cpay_code c = next(&d);
  if (c) return c;
  view v = {t->table, t};
  return parse_message(&d, msg, v, 0);
}
