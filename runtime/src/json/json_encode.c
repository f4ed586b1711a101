// The JSON encoder: walks the fields of a message that are set with the
// iteration of message/field.h, naming them from its description, and
// writes into one growing buffer on the arena. Fields come out in
// field-number order, then extensions; the well-known types take their
// special forms.
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json/json_internal.h"
#include "mem/outbuf.h"
#include "message/field.h"
#include "wire/wire.h"

typedef struct writer {
  cpay__outbuf out;  // buffer, arena and status
  uint32_t flags;
  int indent;
  int depth;  // indentation level
  int nest;   // message nesting, checked against max_depth
  int max_depth;
  const cpay_registry *reg;
} writer;

static cpay_code oom(writer *w) {
  return cpay_status_set(w->out.st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(w->out.a));
}

static cpay_code reserve(writer *w, size_t n) { return cpay__outbuf_reserve(&w->out, n); }

static cpay_code put(writer *w, const char *s, size_t n) {
  return cpay__outbuf_put(&w->out, s, n);
}

static cpay_code puts_(writer *w, const char *s) { return put(w, s, strlen(s)); }

static cpay_code newline(writer *w) {
  if (w->indent <= 0) return CPAY_OK;
  size_t n = 1 + (size_t)w->indent * (size_t)w->depth;
  cpay_code c = reserve(w, n);
  if (c) return c;
  w->out.buf[w->out.len++] = '\n';
  memset(w->out.buf + w->out.len, ' ', n - 1);
  w->out.len += n - 1;
  return CPAY_OK;
}

static cpay_code put_string(writer *w, const char *s, size_t n) {
  if (!cpay__utf8_valid(s, n)) {
    return cpay_status_set(w->out.st, CPAY_ERR_UTF8, "string is not valid UTF-8");
  }
  cpay_code c = reserve(w, n * 6 + 2);
  if (c) return c;
  char *o = w->out.buf + w->out.len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
      case '"':
        *o++ = '\\';
        *o++ = '"';
        break;
      case '\\':
        *o++ = '\\';
        *o++ = '\\';
        break;
      case '\n':
        *o++ = '\\';
        *o++ = 'n';
        break;
      case '\r':
        *o++ = '\\';
        *o++ = 'r';
        break;
      case '\t':
        *o++ = '\\';
        *o++ = 't';
        break;
      case '\b':
        *o++ = '\\';
        *o++ = 'b';
        break;
      case '\f':
        *o++ = '\\';
        *o++ = 'f';
        break;
      default:
        if (ch < 0x20 || ch == 0x7F) {
          o += sprintf(o, "\\u%04x", ch);
        } else {
          *o++ = (char)ch;
        }
    }
  }
  *o++ = '"';
  w->out.len = (size_t)(o - w->out.buf);
  return CPAY_OK;
}

static cpay_code put_double(writer *w, double d, bool is_float) {
  if (isnan(d)) return puts_(w, "\"NaN\"");
  if (isinf(d)) return puts_(w, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  char buf[32];
  size_t n = is_float ? cpay__fmt_float((float)d, buf) : cpay__fmt_double(d, buf);
  return put(w, buf, n);
}

static cpay_code put_bytes(writer *w, const uint8_t *p, size_t n) {
  cpay_code c = reserve(w, 4 * ((n + 2) / 3) + 2);
  if (c) return c;
  w->out.buf[w->out.len++] = '"';
  w->out.len += cpay__base64_encode(p, n, w->out.buf + w->out.len);
  w->out.buf[w->out.len++] = '"';
  return CPAY_OK;
}

static cpay_code put_enum(writer *w, const cpay_enum_desc *e, int32_t v) {
  char buf[16];
  // NullValue's one value is null; other numbers (an open enum may hold
  // them) stay numbers so that they survive a round trip.
  if (v == 0 && e && strcmp(e->full_name, "google.protobuf.NullValue") == 0) {
    return puts_(w, "null");
  }
  const char *name = e && !(w->flags & CPAY_JSON_ENUMS_AS_INTS) ? cpay_enum_name(e, v) : NULL;
  if (name) return put_string(w, name, strlen(name));
  int n = snprintf(buf, sizeof buf, "%" PRId32, v);
  return put(w, buf, (size_t)n);
}

static cpay_code put_message(writer *w, const void *msg, const cpay_msg_desc *jt);

// One value of a field's type stored at `p`. `jt`/`je`: the field's
// message or enum JSON table.
static cpay_code put_value(writer *w, uint8_t type, const void *p, const cpay_msg_desc *jt,
                           const cpay_enum_desc *je) {
  char buf[32];
  int n;
  switch (type) {
    case CPAY_TYPE_DOUBLE: {
      double d;
      memcpy(&d, p, sizeof d);
      return put_double(w, d, false);
    }
    case CPAY_TYPE_FLOAT: {
      float f;
      memcpy(&f, p, sizeof f);
      return put_double(w, f, true);
    }
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
      n = snprintf(buf, sizeof buf, "\"%" PRId64 "\"", *(const int64_t *)p);
      return put(w, buf, (size_t)n);
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
      n = snprintf(buf, sizeof buf, "\"%" PRIu64 "\"", *(const uint64_t *)p);
      return put(w, buf, (size_t)n);
    case CPAY_TYPE_INT32:
    case CPAY_TYPE_SFIXED32:
    case CPAY_TYPE_SINT32:
      n = snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
      return put(w, buf, (size_t)n);
    case CPAY_TYPE_UINT32:
    case CPAY_TYPE_FIXED32:
      n = snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
      return put(w, buf, (size_t)n);
    case CPAY_TYPE_BOOL:
      return puts_(w, *(const bool *)p ? "true" : "false");
    case CPAY_TYPE_ENUM:
      return put_enum(w, je, *(const int32_t *)p);
    case CPAY_TYPE_STRING: {
      const cpay_str *s = p;
      return put_string(w, s->data, s->size);
    }
    case CPAY_TYPE_BYTES: {
      const cpay_bytes *b = p;
      return put_bytes(w, b->data, b->size);
    }
    default: {
      const void *sub = *(void *const *)p;
      if (!sub) return puts_(w, "null");
      return put_message(w, sub, jt);
    }
  }
}

// ---- well-known types -------------------------------------------------------------

static cpay_code invalid(writer *w, const char *type, const char *what) {
  return cpay_status_set(w->out.st, CPAY_ERR_INVALID_ARGUMENT, "%s: %s", type, what);
}

static void seconds_nanos(const void *msg, const cpay_msg_table *t, int64_t *s, int32_t *n) {
  const cpay_field *fs = cpay__field_find(t, 1), *fn = cpay__field_find(t, 2);
  *s = fs ? *(const int64_t *)cpay__field_cptr(msg, fs) : 0;
  *n = fn ? *(const int32_t *)cpay__field_cptr(msg, fn) : 0;
}

static cpay_code put_field_mask(writer *w, const void *msg, const cpay_msg_table *t) {
  const cpay_array *paths = cpay__field_cptr(msg, cpay__field_find(t, 1));
  const cpay_str *items = paths->data;
  size_t total = 0;
  for (size_t i = 0; i < paths->size; i++) total += items[i].size + 1;
  char *out = cpay_arena_malloc(w->out.a, total + 1);
  if (!out) return oom(w);
  size_t n = 0;
  for (size_t i = 0; i < paths->size; i++) {
    if (i) out[n++] = ',';
    bool under = false;
    for (size_t k = 0; k < items[i].size; k++) {
      char c = items[i].data[k];
      if (c >= 'A' && c <= 'Z') {
        return invalid(w, "google.protobuf.FieldMask",
                       "path must not contain upper-case letters");
      }
      if (under) {
        if (!(c >= 'a' && c <= 'z')) {
          return invalid(w, "google.protobuf.FieldMask",
                         "the character after '_' in a path must be a lower-case letter");
        }
        out[n++] = (char)(c - 'a' + 'A');
        under = false;
      } else if (c == '_') {
        under = true;
      } else {
        out[n++] = c;
      }
    }
    if (under) {
      return invalid(w, "google.protobuf.FieldMask", "a path must not end with '_'");
    }
  }
  return put_string(w, out, n);
}

static cpay_code put_wkt_value(writer *w, const void *msg, const cpay_msg_desc *jt);

static cpay_code put_struct(writer *w, const void *msg, const cpay_msg_desc *jt) {
  const cpay_field *f = cpay__field_find(jt->table, 1);
  const cpay_map *m = *(cpay_map *const *)cpay__field_cptr(msg, f);
  const cpay_msg_desc *entry = jt->msgs[f - jt->table->fields];
  const cpay_msg_desc *value_jt = entry->msgs[1];
  cpay_code c = puts_(w, "{");
  if (c) return c;
  w->depth++;
  size_t it = 0;
  cpay_value k, v;
  bool first = true;
  while (cpay_map_next(m, &it, &k, &v)) {
    if (!first && (c = puts_(w, ","))) return c;
    first = false;
    if ((c = newline(w)) || (c = put_string(w, k.str.data, k.str.size)) ||
        (c = puts_(w, w->indent > 0 ? ": " : ":"))) {
      return c;
    }
    c = v.msg ? put_wkt_value(w, v.msg, value_jt) : puts_(w, "null");
    if (c) return c;
  }
  w->depth--;
  if (!first && (c = newline(w))) return c;
  return puts_(w, "}");
}

static cpay_code put_list(writer *w, const void *msg, const cpay_msg_desc *jt) {
  const cpay_field *f = cpay__field_find(jt->table, 1);
  const cpay_msg_desc *item_jt = jt->msgs[f - jt->table->fields];
  const cpay_array *arr = cpay__field_cptr(msg, f);
  void *const *items = arr->data;
  cpay_code c = puts_(w, "[");
  if (c) return c;
  w->depth++;
  for (size_t i = 0; i < arr->size; i++) {
    if (i && (c = puts_(w, ","))) return c;
    if ((c = newline(w))) return c;
    c = items[i] ? put_wkt_value(w, items[i], item_jt) : puts_(w, "null");
    if (c) return c;
  }
  w->depth--;
  if (arr->size && (c = newline(w))) return c;
  return puts_(w, "]");
}

static cpay_code put_wkt_value(writer *w, const void *msg, const cpay_msg_desc *jt) {
  cpay__msg_iter it;
  cpay__msg_iter_init(&it, msg, jt->table, 0);
  cpay__field_ref r;
  while (cpay__msg_next(&it, &r)) {
    const void *p = r.p;
    switch (r.f->number) {
      case 1:
        return puts_(w, "null");
      case 2: {
        double d;
        memcpy(&d, p, sizeof d);
        if (!isfinite(d)) {
          return invalid(w, "google.protobuf.Value", "number_value must be finite");
        }
        return put_double(w, d, false);
      }
      case 3:
        return put_value(w, CPAY_TYPE_STRING, p, NULL, NULL);
      case 4:
        return put_value(w, CPAY_TYPE_BOOL, p, NULL, NULL);
      case 5:
      case 6: {
        if (++w->nest > w->max_depth) {
          return cpay_status_set(w->out.st, CPAY_ERR_DEPTH, "message nesting deeper than %d",
                                 w->max_depth);
        }
        cpay_code c = r.f->number == 5 ? put_struct(w, *(void *const *)p, jt->msgs[r.index])
                                       : put_list(w, *(void *const *)p, jt->msgs[r.index]);
        w->nest--;
        return c;
      }
      default:
        break;
    }
  }
  // A Value with no kind set: python's json_format and C++ print null.
  return puts_(w, "null");
}

static cpay_code put_any(writer *w, const void *msg, const cpay_msg_desc *jt);

// The special form of a well-known type, or a plain object when `jt` has none.
static cpay_code put_wkt(writer *w, const void *msg, const cpay_msg_desc *jt, bool *done) {
  char buf[40];
  const cpay_msg_table *t = jt->table;
  *done = true;
  switch (jt->wkt) {
    case CPAY_WKT_TIMESTAMP: {
      int64_t s;
      int32_t n;
      seconds_nanos(msg, t, &s, &n);
      if (!cpay__fmt_timestamp(s, n, buf)) {
        return invalid(w, "google.protobuf.Timestamp",
                       "out of range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)");
      }
      return put_string(w, buf, strlen(buf));
    }
    case CPAY_WKT_DURATION: {
      int64_t s;
      int32_t n;
      seconds_nanos(msg, t, &s, &n);
      if (!cpay__fmt_duration(s, n, buf)) {
        return invalid(w, "google.protobuf.Duration",
                       "out of range (+-315576000000s) or seconds and nanos differ in sign");
      }
      return put_string(w, buf, strlen(buf));
    }
    case CPAY_WKT_FIELD_MASK:
      return put_field_mask(w, msg, t);
    case CPAY_WKT_STRUCT:
      return put_struct(w, msg, jt);
    case CPAY_WKT_LIST_VALUE:
      return put_list(w, msg, jt);
    case CPAY_WKT_VALUE:
      return put_wkt_value(w, msg, jt);
    case CPAY_WKT_WRAPPER: {
      const cpay_field *f = cpay__field_find(t, 1);
      return put_value(w, f->type, cpay__field_cptr(msg, f), NULL, NULL);
    }
    case CPAY_WKT_ANY:
      return put_any(w, msg, jt);
    default:
      *done = false;
      return CPAY_OK;
  }
}

// The elements of repeated field or extension of `type` stored at `arr`.
static cpay_code put_array(writer *w, uint8_t type, const void *arr, const cpay_msg_desc *jm,
                           const cpay_enum_desc *je) {
  size_t count = ((const cpay_array *)arr)->size;
  cpay_code c = puts_(w, "[");
  if (c) return c;
  w->depth++;
  for (size_t k = 0; k < count; k++) {
    if (k && (c = puts_(w, ","))) return c;
    if ((c = newline(w))) return c;
    if ((c = put_value(w, type, cpay__array_at(arr, type, k), jm, je))) return c;
  }
  w->depth--;
  if (count && (c = newline(w))) return c;
  return puts_(w, "]");
}

// A map key: always a JSON string.
static cpay_code put_map_key(writer *w, uint8_t type, const cpay_value *k) {
  char kb[32];
  int kn;
  switch (type) {
    case CPAY_TYPE_STRING:
      return put_string(w, k->str.data, k->str.size);
    case CPAY_TYPE_BOOL:
      return puts_(w, k->b ? "\"true\"" : "\"false\"");
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_SINT64:
    case CPAY_TYPE_SFIXED64:
      kn = snprintf(kb, sizeof kb, "\"%" PRId64 "\"", k->i64);
      break;
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
      kn = snprintf(kb, sizeof kb, "\"%" PRIu64 "\"", k->u64);
      break;
    case CPAY_TYPE_UINT32:
    case CPAY_TYPE_FIXED32:
      kn = snprintf(kb, sizeof kb, "\"%" PRIu32 "\"", k->u32);
      break;
    default:
      kn = snprintf(kb, sizeof kb, "\"%" PRId32 "\"", k->i32);
      break;
  }
  return put(w, kb, (size_t)kn);
}

// A map field as an object; `entry` describes its entries.
static cpay_code put_map(writer *w, const cpay_map *m, const cpay_msg_desc *entry) {
  const cpay_field *kf = cpay__map_key_field(entry->table);
  const cpay_field *vf = cpay__map_value_field(entry->table);
  cpay_code c = puts_(w, "{");
  if (c) return c;
  w->depth++;
  size_t it = 0;
  cpay_value k, v;
  bool first = true;
  while (cpay_map_next(m, &it, &k, &v)) {
    if (!first && (c = puts_(w, ","))) return c;
    first = false;
    if ((c = newline(w)) || (c = put_map_key(w, kf->type, &k)) ||
        (c = puts_(w, w->indent > 0 ? ": " : ":"))) {
      return c;
    }
    if (cpay__type_is_msg(vf->type)) {
      // An absent message value is the empty message.
      const void *sub = v.msg;
      if (!sub) {
        sub = cpay_msg_new(entry->table->subs[vf->sub].msg, w->out.a);
        if (!sub) return oom(w);
      }
      c = put_message(w, sub, entry->msgs[1]);
    } else {
      c = put_value(w, vf->type, &v, NULL, entry->enums[1]);
    }
    if (c) return c;
  }
  w->depth--;
  if (!first && (c = newline(w))) return c;
  return puts_(w, "}");
}

// The descriptions the values of field `r` print with: its message's and
// enum's, from `jt` or, for an extension, from the registry (which must
// have the extensions of message and enum type).
static cpay_code value_descs(writer *w, const cpay_msg_desc *jt, const cpay__field_ref *r,
                             const cpay_msg_desc **jm, const cpay_enum_desc **je) {
  if (!r->ext) {
    *jm = jt->msgs[r->index];
    *je = jt->enums[r->index];
    return CPAY_OK;
  }
  const cpay_ext_desc *x = cpay__registry_ext_of(w->reg, r->ext);
  if (!x && (cpay__type_is_msg(r->f->type) || r->f->type == CPAY_TYPE_ENUM)) {
    return cpay_status_set(w->out.st, CPAY_ERR_INVALID_ARGUMENT,
                           "extension %s is not in the JSON registry", r->ext->full_name);
  }
  *jm = x ? x->msg : NULL;
  *je = x ? x->enm : NULL;
  return CPAY_OK;
}

// The separator before a member (none before the first), its line, its
// key ("[full.name]" for an extension, else the JSON or proto name) and
// the colon.
static cpay_code begin_member(writer *w, const cpay_msg_desc *jt, const cpay__field_ref *r,
                         bool *first) {
  cpay_code c;
  if (!*first && (c = puts_(w, ","))) return c;
  *first = false;
  if ((c = newline(w))) return c;
  if (r->ext) {
    if ((c = puts_(w, "\"[")) || (c = puts_(w, r->ext->full_name)) || (c = puts_(w, "]\""))) {
      return c;
    }
  } else {
    const char *name = (w->flags & CPAY_JSON_PROTO_NAMES) ? jt->table->field_names[r->index]
                                                          : jt->json_names[r->index];
    if ((c = put_string(w, name, strlen(name)))) return c;
  }
  return puts_(w, w->indent > 0 ? ": " : ":");
}

// The member's value by the field's mode: an array, an object for a map,
// or one value.
static cpay_code put_member_value(writer *w, const cpay__field_ref *r, const cpay_msg_desc *jm,
                                  const cpay_enum_desc *je) {
  switch (r->f->mode & CPAY_MODE_MASK) {
    case CPAY_MODE_ARRAY:
      return put_array(w, r->f->type, r->p, jm, je);
    case CPAY_MODE_MAP:
      return put_map(w, *(cpay_map *const *)r->p, jm);
    default:
      return put_value(w, r->f->type, r->p, jm, je);
  }
}

// Writes the fields of `msg` that are set (with CPAY_JSON_EMIT_DEFAULTS
// also those without presence), then its extensions as "[full.name]", as
// members of an open object; *first tracks the separator.
static cpay_code put_members(writer *w, const void *msg, const cpay_msg_desc *jt, bool *first) {
  cpay__msg_iter it;
  cpay__msg_iter_init(&it, msg, jt->table,
                      (w->flags & CPAY_JSON_EMIT_DEFAULTS) ? CPAY__ITER_DEFAULTS : 0);
  cpay__field_ref r;
  cpay_code c;
  while (cpay__msg_next(&it, &r)) {
    const cpay_msg_desc *jm;
    const cpay_enum_desc *je;
    if ((c = value_descs(w, jt, &r, &jm, &je)) || (c = begin_member(w, jt, &r, first)) ||
        (c = put_member_value(w, &r, jm, je))) {
      return c;
    }
  }
  return CPAY_OK;
}

static cpay_code put_any(writer *w, const void *msg, const cpay_msg_desc *jt) {
  const cpay_msg_table *t = jt->table;
  const cpay_str *url = cpay__field_cptr(msg, cpay__field_find(t, 1));
  const cpay_bytes *value = cpay__field_cptr(msg, cpay__field_find(t, 2));
  if (url->size == 0) {
    if (value->size != 0) return invalid(w, "google.protobuf.Any", "value without type_url");
    return puts_(w, "{}");
  }
  cpay_str name;
  if (!cpay_any_type_name(*url, &name)) {
    return cpay_status_set(w->out.st, CPAY_ERR_INVALID_ARGUMENT,
                           "google.protobuf.Any: type URL \"%.*s\" is not of the form "
                           "\"host/full.Name\"",
                           (int)(url->size > 100 ? 100 : url->size), url->data);
  }
  const cpay_msg_desc *inner = cpay_registry_find(w->reg, name.data, name.size);
  if (!inner) {
    return cpay_status_set(w->out.st, CPAY_ERR_INVALID_ARGUMENT,
                           "google.protobuf.Any: type \"%.*s\" is not in the registry",
                           (int)(name.size > 100 ? 100 : name.size), name.data);
  }
  void *sub = cpay_msg_new(inner->table, w->out.a);
  if (!sub) return oom(w);
  cpay_decode_opts dopts = {0};
  dopts.flags = CPAY_DECODE_ALLOW_PARTIAL;
  dopts.max_depth = w->max_depth - w->nest;
  if (dopts.max_depth <= 0) {
    return cpay_status_set(w->out.st, CPAY_ERR_DEPTH, "message nesting deeper than %d",
                           w->max_depth);
  }
  cpay_code c = cpay_decode(value->data, value->size, sub, inner->table, w->out.a, &dopts, w->out.st);
  if (c) return c;
  if ((c = puts_(w, "{"))) return c;
  w->depth++;
  if ((c = newline(w)) || (c = puts_(w, "\"@type\"")) ||
      (c = puts_(w, w->indent > 0 ? ": " : ":")) || (c = put_string(w, url->data, url->size))) {
    return c;
  }
  bool first = false;
  if (inner->wkt != CPAY_WKT_NONE && inner->wkt != CPAY_WKT_EMPTY) {
    if ((c = puts_(w, ",")) || (c = newline(w)) || (c = puts_(w, "\"value\"")) ||
        (c = puts_(w, w->indent > 0 ? ": " : ":"))) {
      return c;
    }
    bool done;
    if ((c = put_wkt(w, sub, inner, &done))) return c;
  } else if ((c = put_members(w, sub, inner, &first))) {
    return c;
  }
  w->depth--;
  if ((c = newline(w))) return c;
  return puts_(w, "}");
}

static cpay_code put_message(writer *w, const void *msg, const cpay_msg_desc *jt) {
  if (++w->nest > w->max_depth) {
    return cpay_status_set(w->out.st, CPAY_ERR_DEPTH, "message nesting deeper than %d",
                           w->max_depth);
  }
  bool done;
  cpay_code c = put_wkt(w, msg, jt, &done);
  if (c) return c;
  if (!done) {
    if ((c = puts_(w, "{"))) return c;
    w->depth++;
    bool first = true;
    if ((c = put_members(w, msg, jt, &first))) return c;
    w->depth--;
    if (!first && (c = newline(w))) return c;
    if ((c = puts_(w, "}"))) return c;
  }
  w->nest--;
  return CPAY_OK;
}

cpay_code cpay_json_encode(const void *msg, const cpay_msg_desc *t, cpay_arena *a,
                           const cpay_json_encode_opts *opts, cpay_str *out, cpay_status *st) {
  if (!msg || !t || !a || !out) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "cpay_json_encode: NULL argument");
  }
  writer w = {0};
  w.out.a = a;
  w.out.st = st;
  if (opts) {
    w.flags = opts->flags;
    w.indent = opts->indent > 0 ? opts->indent : 0;
    w.reg = opts->registry;
    w.max_depth = opts->max_depth;
  }
  if (w.max_depth <= 0) w.max_depth = CPAY_DEFAULT_MAX_DEPTH;
  cpay_code c = put_message(&w, msg, t);
  if (!c) c = put(&w, "", 1);
  if (c) return c;
  *out = (cpay_str){w.out.buf, w.out.len - 1};
  return CPAY_OK;
}
