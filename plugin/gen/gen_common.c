// Helpers shared by the generator files: the printer, temporaries, C types
// and literals.
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/port.h"
#include "gen/gen.h"

const char *cpg_str(cpg_gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *s = cps_pool_vprintf(g->pool, fmt, ap);
  va_end(ap);
  return s;
}

static void collect_exts(cpg_gen *g, const cps_field *xs, size_t count, const cps_message *msgs,
                         size_t msg_count, const cps_field ***out, size_t *n, size_t *cap) {
  for (size_t i = 0; i < count; i++) {
    *out = cps_pool_grow(g->pool, *out, *n, cap, sizeof(**out));
    (*out)[(*n)++] = &xs[i];
  }
  for (size_t i = 0; i < msg_count; i++) {
    collect_exts(g, msgs[i].extensions, msgs[i].extension_count, msgs[i].nested,
                 msgs[i].nested_count, out, n, cap);
  }
}

const cps_field **cpg_file_extensions(cpg_gen *g, size_t *count) {
  const cps_file *f = g->file;
  const cps_field **exts = NULL;
  size_t cap = 0;
  *count = 0;
  collect_exts(g, f->extensions, f->extension_count, f->messages, f->message_count, &exts, count,
               &cap);
  return exts;
}

void cpg_print(cpg_gen *g, cps_buf *out, const char *text, ...) {
  va_list ap;
  va_start(ap, text);
  cpg_vrender(g->pool, out, &g->bug, text, ap);
  va_end(ap);
}

void cpg_print_header_open(cpg_gen *g) {
  cpg_print(g, &g->h,
            "\n"
            "#if CPAY_GENCODE_VERSION != $gencode_version$\n"
            "#error \"regenerate with a matching protoc-gen-cpay\"\n"
            "#endif\n"
            "\n"
            "CPAY_EXTERN_C_BEGIN\n"
            "\n",
            "gencode_version", cpg_str(g, "%d", CPAY_GENCODE_VERSION), CPG_END);
}

bool cpg_is_message(const cps_field *f) {
  return f->type == CPS_TYPE_MESSAGE || f->type == CPS_TYPE_GROUP;
}

bool cpg_in_real_oneof(const cps_field *f) { return f->oneof != NULL && !f->oneof->synthetic; }

const char *cpg_scalar_ctype(cps_type t) {
  switch (t) {
    case CPS_TYPE_DOUBLE: return "double";
    case CPS_TYPE_FLOAT: return "float";
    case CPS_TYPE_INT64:
    case CPS_TYPE_SINT64:
    case CPS_TYPE_SFIXED64: return "int64_t";
    case CPS_TYPE_UINT64:
    case CPS_TYPE_FIXED64: return "uint64_t";
    case CPS_TYPE_INT32:
    case CPS_TYPE_SINT32:
    case CPS_TYPE_SFIXED32:
    case CPS_TYPE_ENUM: return "int32_t";
    case CPS_TYPE_UINT32:
    case CPS_TYPE_FIXED32: return "uint32_t";
    case CPS_TYPE_BOOL: return "bool";
    case CPS_TYPE_STRING: return "cpay_str";
    case CPS_TYPE_BYTES: return "cpay_bytes";
    case CPS_TYPE_GROUP:
    case CPS_TYPE_MESSAGE: return "void *";
  }
  return "void *";
}

const char *cpg_type_const(cps_type t) {
  switch (t) {
    case CPS_TYPE_DOUBLE: return "CPAY_TYPE_DOUBLE";
    case CPS_TYPE_FLOAT: return "CPAY_TYPE_FLOAT";
    case CPS_TYPE_INT64: return "CPAY_TYPE_INT64";
    case CPS_TYPE_UINT64: return "CPAY_TYPE_UINT64";
    case CPS_TYPE_INT32: return "CPAY_TYPE_INT32";
    case CPS_TYPE_FIXED64: return "CPAY_TYPE_FIXED64";
    case CPS_TYPE_FIXED32: return "CPAY_TYPE_FIXED32";
    case CPS_TYPE_BOOL: return "CPAY_TYPE_BOOL";
    case CPS_TYPE_STRING: return "CPAY_TYPE_STRING";
    case CPS_TYPE_GROUP: return "CPAY_TYPE_GROUP";
    case CPS_TYPE_MESSAGE: return "CPAY_TYPE_MESSAGE";
    case CPS_TYPE_BYTES: return "CPAY_TYPE_BYTES";
    case CPS_TYPE_UINT32: return "CPAY_TYPE_UINT32";
    case CPS_TYPE_ENUM: return "CPAY_TYPE_ENUM";
    case CPS_TYPE_SFIXED32: return "CPAY_TYPE_SFIXED32";
    case CPS_TYPE_SFIXED64: return "CPAY_TYPE_SFIXED64";
    case CPS_TYPE_SINT32: return "CPAY_TYPE_SINT32";
    case CPS_TYPE_SINT64: return "CPAY_TYPE_SINT64";
  }
  return "0";
}

const char *cpg_value_member(cps_type t) {
  switch (t) {
    case CPS_TYPE_DOUBLE: return "d";
    case CPS_TYPE_FLOAT: return "f";
    case CPS_TYPE_INT64:
    case CPS_TYPE_SINT64:
    case CPS_TYPE_SFIXED64: return "i64";
    case CPS_TYPE_UINT64:
    case CPS_TYPE_FIXED64: return "u64";
    case CPS_TYPE_INT32:
    case CPS_TYPE_SINT32:
    case CPS_TYPE_SFIXED32:
    case CPS_TYPE_ENUM: return "i32";
    case CPS_TYPE_UINT32:
    case CPS_TYPE_FIXED32: return "u32";
    case CPS_TYPE_BOOL: return "b";
    case CPS_TYPE_STRING:
    case CPS_TYPE_BYTES: return "str";
    case CPS_TYPE_GROUP:
    case CPS_TYPE_MESSAGE: return "msg";
  }
  return "msg";
}

const char *cpg_c_string(cpg_gen *g, const char *data, size_t size) {
  cps_buf b = {0};
  cps_buf_puts(&b, "\"");
  for (size_t i = 0; i < size; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      cps_buf_append(&b, esc, 2);
    } else if (c == '\n') {
      cps_buf_puts(&b, "\\n");
    } else if (c == '\t') {
      cps_buf_puts(&b, "\\t");
    } else if (c == '\r') {
      cps_buf_puts(&b, "\\r");
    } else if (c == '?') {
      // Avoid trigraphs.
      cps_buf_puts(&b, "\\?");
    } else if (c >= 0x20 && c < 0x7f) {
      char ch = (char)c;
      cps_buf_append(&b, &ch, 1);
    } else {
      // Always three octal digits, so a following digit cannot join.
      cps_buf_printf(&b, "\\%03o", c);
    }
  }
  cps_buf_puts(&b, "\"");
  return cps_pool_take(g->pool, &b);
}

const char *cpg_int32_literal(cpg_gen *g, int32_t v) {
  if (v == INT32_MIN) return "INT32_MIN";
  return cpg_str(g, "%" PRId32, v);
}

// The shortest decimal that reads back as the same value.
static const char *float_literal(cpg_gen *g, double v, bool is_float) {
  if (isnan(v)) {
    g->needs_math = true;
    return signbit(v) ? "-NAN" : "NAN";
  }
  if (isinf(v)) {
    g->needs_math = true;
    return v < 0 ? "-INFINITY" : "INFINITY";
  }
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (is_float ? (strtof(buf, NULL) == (float)v) : (strtod(buf, NULL) == v)) break;
  }
  if (strpbrk(buf, ".eEn") == NULL) strcat(buf, ".0");
  return cpg_str(g, "%s%s", buf, is_float ? "f" : "");
}

static bool default_is_zero(const cps_field *f, const cps_enum_value **ev) {
  const cps_default *d = &f->default_value;
  *ev = NULL;
  if (f->type == CPS_TYPE_ENUM) {
    if (d->present && d->enum_value) {
      *ev = d->enum_value;
    } else if (f->enum_type && f->enum_type->value_count > 0 && !d->present) {
      *ev = &f->enum_type->values[0];
    }
    return *ev == NULL || (*ev)->number == 0;
  }
  if (!d->present) return true;
  switch (f->type) {
    case CPS_TYPE_DOUBLE:
    case CPS_TYPE_FLOAT: return d->f64 == 0 && !signbit(d->f64);
    case CPS_TYPE_BOOL: return !d->b;
    case CPS_TYPE_STRING:
    case CPS_TYPE_BYTES: return d->bytes_size == 0;
    case CPS_TYPE_UINT32:
    case CPS_TYPE_FIXED32:
    case CPS_TYPE_UINT64:
    case CPS_TYPE_FIXED64: return d->u64 == 0;
    case CPS_TYPE_MESSAGE:
    case CPS_TYPE_GROUP: return true;
    default: return d->i64 == 0;
  }
}

const char *cpg_default_literal(cpg_gen *g, const cps_field *f) {
  if (f->label == CPS_LABEL_REPEATED || cpg_is_message(f)) return NULL;
  const cps_enum_value *ev;
  if (default_is_zero(f, &ev)) return NULL;
  const cps_default *d = &f->default_value;
  switch (f->type) {
    case CPS_TYPE_ENUM: return cpg_name_enum_value(g->names, ev);
    case CPS_TYPE_DOUBLE: return float_literal(g, d->f64, false);
    case CPS_TYPE_FLOAT: return float_literal(g, d->f64, true);
    case CPS_TYPE_BOOL: return "true";
    case CPS_TYPE_STRING:
      return cpg_str(g, "{%s, %zu}", cpg_c_string(g, d->bytes, d->bytes_size), d->bytes_size);
    case CPS_TYPE_BYTES:
      return cpg_str(g, "{(const uint8_t *)%s, %zu}", cpg_c_string(g, d->bytes, d->bytes_size),
                     d->bytes_size);
    case CPS_TYPE_UINT32:
    case CPS_TYPE_FIXED32: return cpg_str(g, "%" PRIu32 "u", (uint32_t)d->u64);
    case CPS_TYPE_UINT64:
    case CPS_TYPE_FIXED64: return cpg_str(g, "UINT64_C(%" PRIu64 ")", d->u64);
    case CPS_TYPE_INT64:
    case CPS_TYPE_SINT64:
    case CPS_TYPE_SFIXED64:
      if (d->i64 == INT64_MIN) return "INT64_MIN";
      return cpg_str(g, "INT64_C(%" PRId64 ")", d->i64);
    default: return cpg_int32_literal(g, (int32_t)d->i64);
  }
}

// Whether a group (proto2 `group`, editions DELIMITED) field is "group-like"
// (descriptor.cc's IsGroupLike): its type is declared in the same file and
// scope and its name is the type's name in lower case. The text format
// names such a field by its type's name, other delimited fields by their
// own name (CPAY_MODE_TEXT_FIELD_NAME). proto2 groups always are.
static bool group_like(const cps_field *f) {
  if (f->type != CPS_TYPE_GROUP || f->message_type == NULL) return false;
  const char *a = f->name, *b = f->message_type->name;
  for (; *a && *b; a++, b++) {
    char lower = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
    if (*a != lower) return false;
  }
  if (*a || *b) return false;
  return f->message_type->file == f->file && f->message_type->parent == f->parent;
}

const char *cpg_mode(cpg_gen *g, const cps_field *f) {
  cps_buf b = {0};
  if (f->is_map) {
    cps_buf_puts(&b, "CPAY_MODE_MAP");
  } else if (f->label == CPS_LABEL_REPEATED) {
    cps_buf_puts(&b, "CPAY_MODE_ARRAY");
  } else {
    cps_buf_puts(&b, "CPAY_MODE_SCALAR");
  }
  if (f->packed && f->label == CPS_LABEL_REPEATED) cps_buf_puts(&b, " | CPAY_MODE_PACKED");
  if (f->utf8_validate) cps_buf_puts(&b, " | CPAY_MODE_UTF8");
  if (f->type == CPS_TYPE_ENUM && f->enum_type && f->enum_type->closed) {
    cps_buf_puts(&b, " | CPAY_MODE_CLOSED_ENUM");
  }
  if (f->type == CPS_TYPE_GROUP && !group_like(f)) {
    cps_buf_puts(&b, " | CPAY_MODE_TEXT_FIELD_NAME");
  }
  return cps_pool_take(g->pool, &b);
}

// The length of the valid UTF-8 sequence at p (of at most n bytes), 0 if
// there is none.
static size_t utf8_seq(const unsigned char *p, size_t n) {
  if (p[0] < 0x80) return 1;
  size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
  if (len == 0 || len > n || p[0] > 0xf4) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
  }
  uint32_t cp = p[0] & (0xff >> (len + 1));
  for (size_t i = 1; i < len; i++) cp = (cp << 6) | (p[i] & 0x3f);
  bool shortest = len == 2 || (len == 3 && cp >= 0x800) || (len == 4 && cp >= 0x10000);
  if (!shortest || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
  return len;
}

// Appends comment text: control bytes become spaces and bytes that are not
// UTF-8 become U+FFFD, so that generated files are valid UTF-8 (protoc
// requires it of a response) whatever the .proto's encoding.
static void put_comment_text(cps_buf *b, const char *text, size_t len) {
  const unsigned char *p = (const unsigned char *)text;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_seq(p + i, len - i);
    if (n == 0) {
      cps_buf_puts(b, "\xef\xbf\xbd");
      i++;
    } else if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\t') {
      cps_buf_puts(b, " ");
      i++;
    } else {
      cps_buf_append(b, text + i, n);
      i += n;
    }
  }
}

const char *cpg_doc(cpg_gen *g, const cps_loc *loc, const char *indent) {
  const char *text = loc->leading_comments;
  if (text == NULL || *text == '\0') return "";
  cps_buf b = {0};
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    // Trailing spaces, and backslashes (or the ??/ trigraph) that would
    // continue a // comment onto the next line, are dropped.
    for (;;) {
      while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r')) len--;
      if (len > 0 && p[len - 1] == '\\') {
        len--;
      } else if (len >= 3 && memcmp(p + len - 3, "?\?/", 3) == 0) {
        len -= 3;
      } else {
        break;
      }
    }
    cps_buf_printf(&b, "%s//%s", indent, (len > 0 && p[0] != ' ') ? " " : "");
    put_comment_text(&b, p, len);
    cps_buf_puts(&b, "\n");
    p += nl ? (size_t)(nl - p) + 1 : strlen(p);
  }
  return cps_pool_take(g->pool, &b);
}

// Whether `decl` is `dep` or a file `dep` re-exports (import public),
// transitively.
static bool exports(const cps_file *dep, const cps_file *decl) {
  if (dep == decl) return true;
  for (size_t i = 0; i < dep->public_dep_count; i++) {
    if (exports(dep->deps[dep->public_deps[i]], decl)) return true;
  }
  return false;
}

static bool field_uses(const cps_field *x, const cps_file *dep) {
  if (x->message_type && exports(dep, x->message_type->file)) return true;
  if (x->enum_type && exports(dep, x->enum_type->file)) return true;
  return x->extendee && exports(dep, x->extendee->file);
}

static bool messages_use(const cps_message *msgs, size_t count, const cps_file *dep) {
  for (size_t i = 0; i < count; i++) {
    const cps_message *m = &msgs[i];
    for (size_t k = 0; k < m->field_count; k++) {
      if (field_uses(&m->fields[k], dep)) return true;
    }
    for (size_t k = 0; k < m->extension_count; k++) {
      if (field_uses(&m->extensions[k], dep)) return true;
    }
    if (messages_use(m->nested, m->nested_count, dep)) return true;
  }
  return false;
}

bool cpg_dep_has_code(const cps_file *f, size_t i) {
  for (size_t k = 0; k < f->public_dep_count; k++) {
    if ((size_t)f->public_deps[k] == i) return true;
  }
  const cps_file *dep = f->deps[i];
  if (messages_use(f->messages, f->message_count, dep)) return true;
  for (size_t k = 0; k < f->extension_count; k++) {
    if (field_uses(&f->extensions[k], dep)) return true;
  }
  for (size_t s = 0; s < f->service_count; s++) {
    const cps_service *svc = &f->services[s];
    for (size_t k = 0; k < svc->method_count; k++) {
      if (exports(dep, svc->methods[k].input->file) || exports(dep, svc->methods[k].output->file))
        return true;
    }
  }
  return false;
}

const char *cpg_comment_text(cpg_gen *g, const cps_loc *loc) {
  const char *text = loc->leading_comments ? loc->leading_comments : loc->trailing_comments;
  if (text == NULL) return NULL;
  cps_buf b = {0};
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    const char *line = p;
    p += len + (p[len] == '\n');
    if (len > 0 && line[0] == ' ') line++, len--;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
    if (b.size > 0) cps_buf_puts(&b, "\n");
    put_comment_text(&b, line, len);
  }
  while (b.size > 0 && b.data[b.size - 1] == '\n') b.data[--b.size] = '\0';
  if (b.size == 0) {
    cps_buf_free(&b);
    return NULL;
  }
  return cps_pool_take(g->pool, &b);
}
