// The JSON parser's second half: the syntax tree (json_dom.c) into a
// message, finding fields by name through the message's description and
// storing through the field helpers of message/field.h. The rules follow
// the proto3 JSON mapping as Python's json_format applies it: both field
// names accepted, one value per field and per oneof, null clears a field
// (except google.protobuf.Value and NullValue), numbers as JSON numbers or
// strings, range checks, special forms for the well-known types.
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_internal.h"

typedef struct dec {
  cpay_arena *a;
  cpay_status *st;
  uint32_t flags;
  const cpay_registry *reg;
  int max_depth;
  int depth;
  char path[192];
  size_t plen;
} dec;

// ---- errors and paths ---------------------------------------------------------------

static cpay_code fail(dec *d, cpay_code code, size_t off, const char *fmt, ...)
    CPAY_PRINTF(4, 5);

static cpay_code fail(dec *d, cpay_code code, size_t off, const char *fmt, ...) {
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return cpay_status_set(d->st, code, "%s: %s at offset %zu", d->path, what, off);
}

static cpay_code oom(dec *d) {
  return cpay_status_set(d->st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(d->a));
}

static size_t push(dec *d, const char *fmt, ...) CPAY_PRINTF(2, 3);

// Appends to the path (truncated with "..." when too long); returns the old length.
static size_t push(dec *d, const char *fmt, ...) {
  size_t old = d->plen;
  if (d->plen + 4 >= sizeof d->path) return old;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(d->path + d->plen, sizeof d->path - d->plen, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof d->path - d->plen) {
    memcpy(d->path + sizeof d->path - 4, "...", 4);
    d->plen = sizeof d->path - 1;
  } else {
    d->plen += (size_t)n;
  }
  return old;
}

static void pop(dec *d, size_t old) {
  d->plen = old;
  d->path[old] = '\0';
}

static int clip(size_t n) { return n > 64 ? 64 : (int)n; }

static cpay_code expected(dec *d, const cpay__jv *v, const char *what) {
  return fail(d, CPAY_ERR_MALFORMED, v->off, "expected %s, got %s", what,
              cpay__jkind_name(v->kind));
}

// ---- numbers --------------------------------------------------------------------------

static bool is_digits(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// The JSON number grammar (for numbers written inside strings).
static bool number_grammar(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i >= n || s[i] < '0' || s[i] > '9') return false;
  if (s[i] == '0') {
    i++;
  } else {
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < n && s[i] == '.') {
    i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return false;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return false;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  return i == n;
}

// strtod on a counted string (copied: the text is not NUL-terminated).
// Long numbers are copied onto the arena.
static cpay_code to_double(dec *d, const char *s, size_t n, double *out) {
  char buf[64];
  char *tmp = buf;
  if (n >= sizeof buf) {
    tmp = cpay_arena_malloc(d->a, n + 1);
    if (!tmp) return oom(d);
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  *out = strtod(tmp, NULL);
  return CPAY_OK;
}

// An integer field's value: a JSON number (integral, exponent allowed), or
// the same written as a string ("12", "1e5"). is_signed selects the output.
static cpay_code parse_integer(dec *d, const cpay__jv *v, bool is_signed, int64_t min,
                               uint64_t max, int64_t *si, uint64_t *ui) {
  const char *s;
  size_t n;
  if (v->kind == CPAY__JNUM || v->kind == CPAY__JSTR) {
    s = v->s.data;
    n = v->s.size;
  } else {
    return expected(d, v, "an integer");
  }
  bool neg = n > 0 && s[0] == '-';
  bool plain = is_digits(s + neg, n - neg);
  if (v->kind == CPAY__JSTR && !plain && !number_grammar(s, n)) {
    return fail(d, CPAY_ERR_MALFORMED, v->off, "invalid integer \"%.*s\"", clip(n), s);
  }
  if (plain) {
    // Exact: never through a double.
    uint64_t mag = 0;
    for (size_t i = neg; i < n; i++) {
      unsigned dg = (unsigned)(s[i] - '0');
      if (mag > (UINT64_MAX - dg) / 10) goto out_range;
      mag = mag * 10 + dg;
    }
    if (neg) {
      if (!is_signed) {
        if (mag != 0) goto out_range;
        *ui = 0;
        return CPAY_OK;
      }
      if (mag > (uint64_t)0 - (uint64_t)min) goto out_range;
      *si = (int64_t)((uint64_t)0 - mag);
      return CPAY_OK;
    }
    if (mag > max) goto out_range;
    if (is_signed) {
      *si = (int64_t)mag;
    } else {
      *ui = mag;
    }
    return CPAY_OK;
  }
  double x;
  cpay_code c = to_double(d, s, n, &x);
  if (c) return c;
  if (!isfinite(x) || x != floor(x)) {
    return fail(d, CPAY_ERR_MALFORMED, v->off, "not an integer: %.*s", clip(n), s);
  }
  if (is_signed) {
    if (x < (double)min || x >= (double)max + 1.0) goto out_range;
    *si = (int64_t)x;
  } else {
    if (x < 0 || x >= (double)max + 1.0) goto out_range;
    *ui = (uint64_t)x;
  }
  return CPAY_OK;
out_range:
  return fail(d, CPAY_ERR_MALFORMED, v->off, "integer out of range: %.*s", clip(n), s);
}

static cpay_code parse_double(dec *d, const cpay__jv *v, bool is_float, double *out) {
  if (v->kind == CPAY__JSTR) {
    if (cpay_str_eq(v->s, CPAY_STR("NaN"))) {
      *out = NAN;
      return CPAY_OK;
    }
    if (cpay_str_eq(v->s, CPAY_STR("Infinity"))) {
      *out = INFINITY;
      return CPAY_OK;
    }
    if (cpay_str_eq(v->s, CPAY_STR("-Infinity"))) {
      *out = -INFINITY;
      return CPAY_OK;
    }
    if (!number_grammar(v->s.data, v->s.size)) {
      return fail(d, CPAY_ERR_MALFORMED, v->off, "invalid number \"%.*s\"", clip(v->s.size),
                  v->s.data);
    }
  } else if (v->kind != CPAY__JNUM) {
    return expected(d, v, "a number");
  }
  double x;
  cpay_code c = to_double(d, v->s.data, v->s.size, &x);
  if (c) return c;
  // A float accepts what rounds to a finite float (FLT_MAX's shortest text
  // 3.4028235e38 is slightly above FLT_MAX as a double).
  if (!isfinite(x) || (is_float && isinf((float)x))) {
    return fail(d, CPAY_ERR_MALFORMED, v->off, "number out of range for %s: %.*s",
                is_float ? "float" : "double", clip(v->s.size), v->s.data);
  }
  *out = x;
  return CPAY_OK;
}

// ---- values ------------------------------------------------------------------------------

static cpay_code parse_message(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt);

// Whether `e` is google.protobuf.NullValue, whose one value JSON writes as
// null.
static bool is_null_value(const cpay_enum_desc *e) {
  return e && strcmp(e->full_name, "google.protobuf.NullValue") == 0;
}

// A double or a float into `p`.
static cpay_code parse_float_single(dec *d, const cpay__jv *v, uint8_t type, void *p) {
  double x = 0;
  cpay_code c = parse_double(d, v, type == CPAY_TYPE_FLOAT, &x);
  if (c) return c;
  cpay__value_store_real(type, x, p);
  return CPAY_OK;
}

// An integer of one of the ten integer types into `p`, range checked
// (inline: the path of every integer value, and of integer map keys).
static inline cpay_code parse_int_single(dec *d, const cpay__jv *v, uint8_t type, void *p) {
  int64_t si;
  uint64_t ui;
  cpay_code c;
  switch (type) {
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
      if ((c = parse_integer(d, v, true, INT64_MIN, INT64_MAX, &si, NULL))) return c;
      *(int64_t *)p = si;
      return CPAY_OK;
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
      if ((c = parse_integer(d, v, false, 0, UINT64_MAX, NULL, &ui))) return c;
      *(uint64_t *)p = ui;
      return CPAY_OK;
    case CPAY_TYPE_UINT32:
    case CPAY_TYPE_FIXED32:
      if ((c = parse_integer(d, v, false, 0, UINT32_MAX, NULL, &ui))) return c;
      *(uint32_t *)p = (uint32_t)ui;
      return CPAY_OK;
    default:  // int32, sfixed32, sint32
      if ((c = parse_integer(d, v, true, INT32_MIN, INT32_MAX, &si, NULL))) return c;
      *(int32_t *)p = (int32_t)si;
      return CPAY_OK;
  }
}

// An enum value by name or number into `p`; null for NullValue. An
// unknown name sets *skip with CPAY_JSON_IGNORE_UNKNOWN, and stores nothing.
static cpay_code parse_enum(dec *d, const cpay__jv *v, const cpay_enum_desc *e, int32_t *p,
                            bool *skip) {
  if (v->kind == CPAY__JNULL && is_null_value(e)) {
    *p = 0;
    return CPAY_OK;
  }
  if (v->kind == CPAY__JSTR) {
    if (e && cpay_enum_value(e, v->s.data, v->s.size, p)) return CPAY_OK;
    bool neg = v->s.size > 0 && v->s.data[0] == '-';
    if (!is_digits(v->s.data + neg, v->s.size - neg)) {
      if (d->flags & CPAY_JSON_IGNORE_UNKNOWN) {
        *skip = true;
        return CPAY_OK;
      }
      return fail(d, CPAY_ERR_MALFORMED, v->off, "unknown value \"%.*s\" of enum %s",
                  clip(v->s.size), v->s.data, e ? e->full_name : "?");
    }
  } else if (v->kind != CPAY__JNUM) {
    return expected(d, v, "an enum name or number");
  }
  int64_t n;
  cpay_code c = parse_integer(d, v, true, INT32_MIN, INT32_MAX, &n, NULL);
  if (c) return c;
  if (e && e->closed) {
    if (!cpay_enum_name(e, (int32_t)n)) {
      return fail(d, CPAY_ERR_MALFORMED, v->off, "unknown value %" PRId64 " of enum %s", n,
                  e->full_name);
    }
  }
  *p = (int32_t)n;
  return CPAY_OK;
}

// Base64 text into bytes on the arena.
static cpay_code parse_bytes(dec *d, const cpay__jv *v, cpay_bytes *p) {
  if (v->kind != CPAY__JSTR) return expected(d, v, "a base64 string");
  uint8_t *out = cpay_arena_malloc(d->a, v->s.size * 3 / 4 + 3);
  size_t n;
  if (!out) return oom(d);
  if (!cpay__base64_decode(v->s.data, v->s.size, out, &n)) {
    return fail(d, CPAY_ERR_MALFORMED, v->off, "invalid base64");
  }
  *p = (cpay_bytes){out, n};
  return CPAY_OK;
}

// A message of type `jt` into the pointer slot `slot`, created when NULL
// and merged into otherwise.
static cpay_code parse_sub(dec *d, const cpay__jv *v, const cpay_msg_desc *jt, void **slot) {
  if (!*slot) {
    *slot = cpay_msg_new(jt->table, d->a);
    if (!*slot) return oom(d);
  }
  return parse_message(d, v, *slot, jt);
}

// One value of type `type` into its storage `p` (for messages: the pointer
// slot, a message is created when NULL), by type family. *skip: an unknown
// enum name was ignored and nothing was stored.
static cpay_code parse_single(dec *d, const cpay__jv *v, uint8_t type, const cpay_msg_desc *jt,
                              const cpay_enum_desc *je, void *p, bool *skip) {
  switch (type) {
    case CPAY_TYPE_DOUBLE:
    case CPAY_TYPE_FLOAT:
      return parse_float_single(d, v, type, p);
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
      return parse_int_single(d, v, type, p);
    case CPAY_TYPE_BOOL:
      if (v->kind != CPAY__JTRUE && v->kind != CPAY__JFALSE) return expected(d, v, "a bool");
      *(bool *)p = v->kind == CPAY__JTRUE;
      return CPAY_OK;
    case CPAY_TYPE_ENUM:
      return parse_enum(d, v, je, p, skip);
    case CPAY_TYPE_STRING:
      if (v->kind != CPAY__JSTR) return expected(d, v, "a string");
      *(cpay_str *)p = v->s;
      return CPAY_OK;
    case CPAY_TYPE_BYTES:
      return parse_bytes(d, v, p);
    default:
      return parse_sub(d, v, jt, p);
  }
}

// Whether null is a value (not "absent") for elements of this type.
static bool null_is_value(uint8_t type, const cpay_msg_desc *jt, const cpay_enum_desc *je) {
  if (cpay__type_is_msg(type)) return jt && jt->wkt == CPAY_WKT_VALUE;
  if (type == CPAY_TYPE_ENUM) return is_null_value(je);
  return false;
}

// A map key (always a JSON string) of key type `type`.
static cpay_code parse_map_key(dec *d, const cpay__jmember *m, uint8_t type, cpay_value *k) {
  memset(k, 0, sizeof(*k));
  if (type == CPAY_TYPE_STRING) {
    k->str = m->key;
    return CPAY_OK;
  }
  if (type == CPAY_TYPE_BOOL) {
    if (cpay_str_eq(m->key, CPAY_STR("true"))) {
      k->b = true;
    } else if (cpay_str_eq(m->key, CPAY_STR("false"))) {
      k->b = false;
    } else {
      return fail(d, CPAY_ERR_MALFORMED, m->key_off, "invalid bool map key \"%.*s\"",
                  clip(m->key.size), m->key.data);
    }
    return CPAY_OK;
  }
  // Integer keys are written in decimal only: "1e1" would be another
  // spelling of the key "10", which the JSON's own check for repeated keys
  // would not see.
  bool neg = m->key.size > 0 && m->key.data[0] == '-';
  if (!is_digits(m->key.data + neg, m->key.size - neg)) {
    return fail(d, CPAY_ERR_MALFORMED, m->key_off, "invalid integer \"%.*s\"", clip(m->key.size),
                m->key.data);
  }
  cpay__jv kv = {0};
  kv.kind = CPAY__JSTR;
  kv.off = m->key_off;
  kv.s = m->key;
  return parse_int_single(d, &kv, type, k);
}

static cpay_code parse_map(dec *d, const cpay__jv *v, cpay_map **mp, const cpay_msg_desc *entry) {
  if (v->kind != CPAY__JOBJ) return expected(d, v, "an object");
  const cpay_field *kf = cpay__map_key_field(entry->table);
  const cpay_field *vf = cpay__map_value_field(entry->table);
  if (!*mp) {
    *mp = cpay_map_new(d->a, kf->type, vf->type);
    if (!*mp) return oom(d);
  }
  for (size_t i = 0; i < v->u.obj.n; i++) {
    const cpay__jmember *m = &v->u.obj.m[i];
    size_t saved = push(d, "[\"%.*s\"]", clip(m->key.size), m->key.data);
    cpay_value k, val;
    cpay_code c = parse_map_key(d, m, kf->type, &k);
    if (c) return c;
    memset(&val, 0, sizeof val);
    if (m->val->kind == CPAY__JNULL && !null_is_value(vf->type, entry->msgs[1], entry->enums[1])) {
      return fail(d, CPAY_ERR_MALFORMED, m->val->off, "null is not allowed as a map value");
    }
    bool skip = false;
    if (cpay__type_is_msg(vf->type)) {
      void *sub = NULL;
      if ((c = parse_single(d, m->val, vf->type, entry->msgs[1], NULL, &sub, &skip))) return c;
      val.msg = sub;
    } else if (vf->type == CPAY_TYPE_BYTES) {
      cpay_bytes b;
      if ((c = parse_single(d, m->val, vf->type, NULL, NULL, &b, &skip))) return c;
      val.str = (cpay_str){(const char *)b.data, b.size};
    } else {
      if ((c = parse_single(d, m->val, vf->type, NULL, entry->enums[1], &val, &skip))) return c;
    }
    pop(d, saved);
    if (skip) continue;
    if (cpay_map_set(*mp, k, val, d->a) != CPAY_OK) return oom(d);
  }
  return CPAY_OK;
}

static cpay_code parse_array(dec *d, const cpay__jv *v, cpay_array *arr, const cpay_field *f,
                             const cpay_msg_desc *jt, const cpay_enum_desc *je) {
  if (v->kind != CPAY__JARR) return expected(d, v, "an array");
  for (size_t i = 0; i < v->u.arr.n; i++) {
    const cpay__jv *item = v->u.arr.items[i];
    size_t saved = push(d, "[%zu]", i);
    if (item->kind == CPAY__JNULL && !null_is_value(f->type, jt, je)) {
      return fail(d, CPAY_ERR_MALFORMED, item->off, "null is not allowed in a repeated field");
    }
    union {
      cpay_value v;
      void *msg;
    } tmp;
    memset(&tmp, 0, sizeof tmp);
    bool skip = false;
    cpay_code c = parse_single(d, item, f->type, jt, je, &tmp, &skip);
    if (c) return c;
    pop(d, saved);
    if (skip) continue;
    if (!cpay__array_push(arr, f->type, &tmp, d->a)) return oom(d);
  }
  return CPAY_OK;
}

// ---- well-known types ----------------------------------------------------------------------

// The storage of field `number`, which the well-known type's table has.
static void *field_ptr(void *msg, const cpay_msg_table *t, uint32_t number) {
  return cpay__field_ptr(msg, cpay__field_find(t, number));
}

static cpay_code parse_value_wkt(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt);

static cpay_code parse_struct(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt) {
  if (v->kind != CPAY__JOBJ) return expected(d, v, "an object");
  const cpay_field *f = cpay__field_find(jt->table, 1);
  return parse_map(d, v, cpay__field_ptr(msg, f), jt->msgs[f - jt->table->fields]);
}

static cpay_code parse_list(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt) {
  if (v->kind != CPAY__JARR) return expected(d, v, "an array");
  const cpay_field *f = cpay__field_find(jt->table, 1);
  return parse_array(d, v, cpay__field_ptr(msg, f), f, jt->msgs[f - jt->table->fields], NULL);
}

static cpay_code parse_value_wkt(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt) {
  const cpay_msg_table *t = jt->table;
  uint32_t number;
  switch (v->kind) {
    case CPAY__JNULL:
      number = 1;
      break;
    case CPAY__JNUM:
      number = 2;
      break;
    case CPAY__JSTR:
      number = 3;
      break;
    case CPAY__JTRUE:
    case CPAY__JFALSE:
      number = 4;
      break;
    case CPAY__JOBJ:
      number = 5;
      break;
    default:
      number = 6;
      break;
  }
  const cpay_field *f = cpay__field_find(t, number);
  if (!f) return fail(d, CPAY_ERR_INTERNAL, v->off, "malformed google.protobuf.Value table");
  const cpay_msg_desc *sub_jt = jt->msgs[f - t->fields];
  void *p = cpay__field_ptr(msg, f);
  cpay__field_prepare(msg, f);  // the members of `kind` share their storage
  cpay_code c;
  switch (number) {
    case 1:
      *(int32_t *)p = 0;
      break;
    case 2: {
      double x;
      if ((c = to_double(d, v->s.data, v->s.size, &x))) return c;
      if (!isfinite(x)) {
        return fail(d, CPAY_ERR_MALFORMED, v->off, "number out of range: %.*s",
                    clip(v->s.size), v->s.data);
      }
      memcpy(p, &x, sizeof x);
      break;
    }
    case 3:
      *(cpay_str *)p = v->s;
      break;
    case 4:
      *(bool *)p = v->kind == CPAY__JTRUE;
      break;
    default: {
      void **slot = p;
      if (!*slot) {
        *slot = cpay_msg_new(sub_jt->table, d->a);
        if (!*slot) return oom(d);
      }
      if (++d->depth > d->max_depth) {
        return fail(d, CPAY_ERR_DEPTH, v->off, "nesting deeper than %d", d->max_depth);
      }
      c = number == 5 ? parse_struct(d, v, *slot, sub_jt) : parse_list(d, v, *slot, sub_jt);
      d->depth--;
      if (c) return c;
      break;
    }
  }
  cpay__field_mark(msg, f);
  return CPAY_OK;
}

static cpay_code parse_field_mask(dec *d, const cpay__jv *v, void *msg, const cpay_msg_table *t) {
  if (v->kind != CPAY__JSTR) return expected(d, v, "a string");
  cpay_array *paths = field_ptr(msg, t, 1);
  const char *s = v->s.data, *end = s + v->s.size;
  if (s == end) return CPAY_OK;
  for (;;) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *stop = comma ? comma : end;
    size_t upper = 0;
    for (const char *q = s; q < stop; q++) {
      if (*q == '_') {
        return fail(d, CPAY_ERR_MALFORMED, v->off,
                    "field mask path \"%.*s\" must be in lowerCamelCase", clip((size_t)(stop - s)),
                    s);
      }
      if (*q >= 'A' && *q <= 'Z') upper++;
    }
    char *out = cpay_arena_malloc(d->a, (size_t)(stop - s) + upper + 1);
    if (!out) return oom(d);
    size_t n = 0;
    for (const char *q = s; q < stop; q++) {
      if (*q >= 'A' && *q <= 'Z') {
        out[n++] = '_';
        out[n++] = (char)(*q - 'A' + 'a');
      } else {
        out[n++] = *q;
      }
    }
    cpay_str *slot = cpay__array_add(paths, sizeof(cpay_str), d->a);
    if (!slot) return oom(d);
    *slot = (cpay_str){out, n};
    if (!comma) break;
    s = comma + 1;
  }
  return CPAY_OK;
}

static cpay_code parse_fields(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt,
                              bool in_any);

static cpay_code parse_ext(dec *d, const cpay__jv *v, void *msg, const cpay_ext_desc *x) {
  const cpay_field *f = &x->ext->field;
  bool repeated = (f->mode & CPAY_MODE_MASK) == CPAY_MODE_ARRAY;
  if (v->kind == CPAY__JNULL && (repeated || !null_is_value(f->type, x->msg, x->enm))) {
    cpay_msg_clear_ext(msg, x->ext);
    return CPAY_OK;
  }
  void *p = cpay_msg_mutable_ext(msg, x->ext, d->a);
  if (!p) return oom(d);
  if (repeated) return parse_array(d, v, p, f, x->msg, x->enm);
  bool skip = false;
  cpay_code c = parse_single(d, v, f->type, x->msg, x->enm, p, &skip);
  if (!c && skip) cpay_msg_clear_ext(msg, x->ext);
  return c;
}

static const cpay__jmember *member(const cpay__jv *obj, const char *key) {
  for (size_t i = 0; i < obj->u.obj.n; i++) {
    if (cpay_str_eq(obj->u.obj.m[i].key, cpay_str_from_c(key))) return &obj->u.obj.m[i];
  }
  return NULL;
}

static cpay_code parse_any(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt) {
  if (v->kind != CPAY__JOBJ) return expected(d, v, "an object");
  if (v->u.obj.n == 0) return CPAY_OK;
  const cpay__jmember *tm = member(v, "@type");
  if (!tm) return fail(d, CPAY_ERR_MALFORMED, v->off, "google.protobuf.Any without \"@type\"");
  if (tm->val->kind != CPAY__JSTR) {
    size_t saved = push(d, ".@type");
    cpay_code c = expected(d, tm->val, "a string");
    pop(d, saved);
    return c;
  }
  cpay_str url = tm->val->s, name;
  if (!cpay_any_type_name(url, &name)) {
    return fail(d, CPAY_ERR_MALFORMED, tm->val->off,
                "type URL \"%.*s\" is not of the form \"host/full.Name\"", clip(url.size),
                url.data);
  }
  const cpay_msg_desc *inner = cpay_registry_find(d->reg, name.data, name.size);
  if (!inner) {
    return fail(d, CPAY_ERR_MALFORMED, tm->val->off, "type \"%.*s\" is not in the registry",
                clip(name.size), name.data);
  }
  void *sub = cpay_msg_new(inner->table, d->a);
  if (!sub) return oom(d);
  cpay_code c;
  if (inner->wkt != CPAY_WKT_NONE && inner->wkt != CPAY_WKT_EMPTY) {
    const cpay__jmember *vm = NULL;
    for (size_t i = 0; i < v->u.obj.n; i++) {
      const cpay__jmember *m = &v->u.obj.m[i];
      if (cpay_str_eq(m->key, CPAY_STR("@type"))) continue;
      if (cpay_str_eq(m->key, CPAY_STR("value"))) {
        vm = m;
        continue;
      }
      return fail(d, CPAY_ERR_MALFORMED, m->key_off,
                  "unexpected key \"%.*s\" in an Any holding %s", clip(m->key.size), m->key.data,
                  inner->table->full_name);
    }
    if (!vm) return fail(d, CPAY_ERR_MALFORMED, v->off, "google.protobuf.Any without \"value\"");
    size_t saved = push(d, ".value");
    c = parse_message(d, vm->val, sub, inner);
    pop(d, saved);
  } else {
    c = parse_fields(d, v, sub, inner, true);
  }
  if (c) return c;
  cpay_bytes bytes;
  cpay_encode_opts eo = {0};
  eo.flags = CPAY_ENCODE_DETERMINISTIC | CPAY_ENCODE_ALLOW_PARTIAL;
  if ((c = cpay_encode(sub, inner->table, d->a, &eo, &bytes, d->st))) return c;
  *(cpay_str *)field_ptr(msg, jt->table, 1) = url;
  *(cpay_bytes *)field_ptr(msg, jt->table, 2) = bytes;
  return CPAY_OK;
}

// The special form of a well-known type; *done false when `jt` has none.
static cpay_code parse_wkt(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt,
                           bool *done) {
  const cpay_msg_table *t = jt->table;
  *done = true;
  switch (jt->wkt) {
    case CPAY_WKT_TIMESTAMP:
    case CPAY_WKT_DURATION: {
      if (v->kind != CPAY__JSTR) return expected(d, v, "a string");
      int64_t s;
      int32_t n;
      bool ok = jt->wkt == CPAY_WKT_TIMESTAMP ? cpay__parse_timestamp(v->s.data, v->s.size, &s, &n)
                                               : cpay__parse_duration(v->s.data, v->s.size, &s, &n);
      if (!ok) {
        return fail(d, CPAY_ERR_MALFORMED, v->off, "invalid %s \"%.*s\"",
                    jt->wkt == CPAY_WKT_TIMESTAMP ? "timestamp" : "duration", clip(v->s.size),
                    v->s.data);
      }
      *(int64_t *)field_ptr(msg, t, 1) = s;
      *(int32_t *)field_ptr(msg, t, 2) = n;
      return CPAY_OK;
    }
    case CPAY_WKT_FIELD_MASK:
      return parse_field_mask(d, v, msg, t);
    case CPAY_WKT_STRUCT:
      return parse_struct(d, v, msg, jt);
    case CPAY_WKT_LIST_VALUE:
      return parse_list(d, v, msg, jt);
    case CPAY_WKT_VALUE:
      return parse_value_wkt(d, v, msg, jt);
    case CPAY_WKT_WRAPPER: {
      const cpay_field *f = cpay__field_find(t, 1);
      if (v->kind == CPAY__JNULL) return expected(d, v, "a value");
      bool skip = false;
      return parse_single(d, v, f->type, NULL, NULL, cpay__field_ptr(msg, f), &skip);
    }
    case CPAY_WKT_ANY:
      return parse_any(d, v, msg, jt);
    default:
      *done = false;
      return CPAY_OK;
  }
}

// ---- messages ----------------------------------------------------------------------------

// The field `key` names: its JSON name first, then its proto name.
static int find_field(const cpay_msg_desc *jt, cpay_str key) {
  int i = cpay__field_by_json_name(jt, key.data, key.size);
  if (i < 0) i = cpay__field_by_name(jt, key.data, key.size);
  return i;
}

// null for field `f`: its default, as Python's ClearField gives it.
static void clear_field(void *msg, const cpay_msg_table *t, const cpay_field *f) {
  void *p = cpay__field_ptr(msg, f);
  switch (f->mode & CPAY_MODE_MASK) {
    case CPAY_MODE_ARRAY:
      ((cpay_array *)p)->size = 0;
      break;
    case CPAY_MODE_MAP:
      cpay_map_clear(*(cpay_map **)p);
      break;
    default:
      cpay__field_clear(msg, t, f);
      break;
  }
}

// Value `v` into field `i` of `msg`: cleared by null (unless null is the
// value), a list, a map, a message merged in place, or a singular value.
static cpay_code parse_field(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt,
                             uint32_t i) {
  const cpay_field *f = &jt->table->fields[i];
  void *p = cpay__field_ptr(msg, f);
  uint8_t mode = f->mode & CPAY_MODE_MASK;
  if (v->kind == CPAY__JNULL && !(mode == CPAY_MODE_SCALAR &&
                                  null_is_value(f->type, jt->msgs[i], jt->enums[i]))) {
    clear_field(msg, jt->table, f);
    return CPAY_OK;
  }
  if (mode == CPAY_MODE_ARRAY) return parse_array(d, v, p, f, jt->msgs[i], jt->enums[i]);
  if (mode == CPAY_MODE_MAP) return parse_map(d, v, p, jt->msgs[i]);
  bool skip = false;
  cpay_code c;
  if (cpay__type_is_msg(f->type)) {
    // Messages merge in place; a different oneof member may be stored in
    // the union: start from NULL.
    cpay__field_prepare(msg, f);
    if ((c = parse_single(d, v, f->type, jt->msgs[i], jt->enums[i], p, &skip))) return c;
    cpay__field_mark(msg, f);
    return CPAY_OK;
  }
  // Scalars go through tmp so that a skipped enum leaves the field, and a
  // oneof's other member, untouched.
  union {
    cpay_value v;
    void *msg;
  } tmp;
  memset(&tmp, 0, sizeof tmp);
  c = parse_single(d, v, f->type, jt->msgs[i], jt->enums[i], &tmp, &skip);
  if (c || skip) return c;
  cpay__field_set(msg, f, &tmp);
  return CPAY_OK;
}

// The extension of `t` that a key "[full.name]" names, or NULL.
static const cpay_ext_desc *find_extension(const dec *d, const cpay_msg_table *t, cpay_str key) {
  if (key.size <= 2 || key.data[0] != '[' || key.data[key.size - 1] != ']') return NULL;
  const cpay_ext_desc *x = cpay_registry_find_ext(d->reg, key.data + 1, key.size - 2);
  return x && x->ext->extendee == t ? x : NULL;
}

// A member whose key names no field: an extension of `t`, or unknown
// (skipped with CPAY_JSON_IGNORE_UNKNOWN, else an error).
static cpay_code parse_other(dec *d, const cpay__jmember *m, void *msg, const cpay_msg_table *t) {
  const cpay_ext_desc *x = find_extension(d, t, m->key);
  if (x) {
    size_t saved = push(d, ".%.*s", clip(m->key.size), m->key.data);
    cpay_code c = parse_ext(d, m->val, msg, x);
    if (c) return c;
    pop(d, saved);
    return CPAY_OK;
  }
  if (d->flags & CPAY_JSON_IGNORE_UNKNOWN) return CPAY_OK;
  return fail(d, CPAY_ERR_MALFORMED, m->key_off, "message %s has no field named \"%.*s\"",
              t->full_name, clip(m->key.size), m->key.data);
}

// The index of a member of f's oneof given a non-null value already, or -1.
static int oneof_given(const cpay_msg_table *t, const uint8_t *seen, uint32_t i) {
  for (uint32_t o = 0; o < t->field_count; o++) {
    if (o != i && seen[o] == 2 && cpay__field_same_oneof(&t->fields[o], &t->fields[i])) {
      return (int)o;
    }
  }
  return -1;
}

// Field `i` given once, and at most one member of a oneof given a value
// (seen: 1 for a field given, 2 for a oneof member given one).
static cpay_code check_field(dec *d, const cpay__jmember *m, const cpay_msg_table *t,
                             uint8_t *seen, uint32_t i) {
  if (seen[i]) {
    return fail(d, CPAY_ERR_MALFORMED, m->key_off, "field \"%s\" given more than once",
                t->field_names[i]);
  }
  seen[i] = 1;
  if (t->fields[i].presence < 0 && m->val->kind != CPAY__JNULL) {
    int o = oneof_given(t, seen, i);
    if (o >= 0) {
      return fail(d, CPAY_ERR_MALFORMED, m->key_off,
                  "fields \"%s\" and \"%s\" belong to the same oneof", t->field_names[o],
                  t->field_names[i]);
    }
    seen[i] = 2;
  }
  return CPAY_OK;
}

// The value of member `m` into field `i`, with the field's JSON name on the
// path.
static cpay_code parse_member(dec *d, const cpay__jmember *m, void *msg, const cpay_msg_desc *jt,
                              uint32_t i) {
  size_t saved = push(d, ".%s", jt->json_names[i]);
  cpay_code c = parse_field(d, m->val, msg, jt, i);
  if (c) return c;
  pop(d, saved);
  return CPAY_OK;
}

// The members of object `v` into the fields of `msg`, one at a time: find
// the field its key names (JSON name, then proto name), reject a field
// given twice and a second member of a oneof, parse the value; keys that
// name no field are extensions or unknown. In an Any (`in_any`), "@type"
// is skipped.
static cpay_code parse_fields(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt,
                              bool in_any) {
  if (v->kind != CPAY__JOBJ) return expected(d, v, "an object");
  const cpay_msg_table *t = jt->table;
  uint8_t seen_small[64];
  uint8_t *seen = seen_small;
  if (t->field_count > sizeof seen_small) {
    seen = cpay_arena_malloc(d->a, t->field_count);
    if (!seen) return oom(d);
  }
  memset(seen, 0, t->field_count);
  for (size_t k = 0; k < v->u.obj.n; k++) {
    const cpay__jmember *m = &v->u.obj.m[k];
    if (in_any && cpay_str_eq(m->key, CPAY_STR("@type"))) continue;
    int i = find_field(jt, m->key);
    cpay_code c;
    if (i < 0) {
      c = parse_other(d, m, msg, t);
    } else {
      c = check_field(d, m, t, seen, (uint32_t)i);
      if (!c) c = parse_member(d, m, msg, jt, (uint32_t)i);
    }
    if (c) return c;
  }
  return CPAY_OK;
}

static cpay_code parse_message(dec *d, const cpay__jv *v, void *msg, const cpay_msg_desc *jt) {
  if (++d->depth > d->max_depth) {
    return fail(d, CPAY_ERR_DEPTH, v->off, "nesting deeper than %d", d->max_depth);
  }
  bool done;
  cpay_code c = parse_wkt(d, v, msg, jt, &done);
  if (!c && !done) c = parse_fields(d, v, msg, jt, false);
  d->depth--;
  return c;
}

cpay_code cpay_json_decode(const char *json, size_t len, void *msg, const cpay_msg_desc *t,
                           cpay_arena *a, const cpay_json_decode_opts *opts, cpay_status *st) {
  if (!msg || !t || !a || (!json && len)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "cpay_json_decode: NULL argument");
  }
  dec d = {0};
  d.a = a;
  d.st = st;
  if (opts) {
    d.flags = opts->flags;
    d.reg = opts->registry;
    d.max_depth = opts->max_depth;
  }
  if (d.max_depth <= 0) d.max_depth = CPAY_DEFAULT_MAX_DEPTH;
  d.path[0] = '$';
  d.path[1] = '\0';
  d.plen = 1;
  cpay__jv *root;
  // Syntax nesting may exceed message nesting by one level per message
  // (a map or array inside it).
  cpay_code c = cpay__json_dom(json ? json : "", len, a, 2 * d.max_depth + 1, &root, st);
  if (c) return c;
  return parse_message(&d, root, msg, t);
}
