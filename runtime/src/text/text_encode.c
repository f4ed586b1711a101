// The text format printer: walks the fields of a message that are set with
// the iteration of message/field.h, naming them from the binary table (proto
// field names) and, when known, the message's description (enum value
// names, the descriptions of submessages). Without a description (an
// extension missing from the registry) enums print as numbers. Unknown
// fields are decoded from their wire bytes and printed by number.
#include "cpay/text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/outbuf.h"
#include "message/field.h"
#include "reflect/reflect.h"
#include "text/text_url.h"

typedef struct writer {
  cpay__outbuf out;  // buffer, arena and status
  uint32_t flags;
  int depth;
  int max_depth;
  const cpay_registry *reg;
} writer;

// A message type as the printer sees it: the binary table always, the JSON
// table when known.
typedef struct view {
  const cpay_msg_table *t;
  const cpay_msg_desc *j;
} view;

static cpay_code oom(writer *w) {
  return cpay_status_set(w->out.st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(w->out.a));
}

static cpay_code reserve(writer *w, size_t n) { return cpay__outbuf_reserve(&w->out, n); }

static cpay_code put(writer *w, const char *s, size_t n) {
  return cpay__outbuf_put(&w->out, s, n);
}

static cpay_code puts_(writer *w, const char *s) { return put(w, s, strlen(s)); }

static bool single_line(const writer *w) { return w->flags & CPAY_TEXT_SINGLE_LINE; }

// Starts a field: indentation, or a space between fields on one line.
static cpay_code begin_field(writer *w) {
  if (single_line(w)) return w->out.len ? put(w, " ", 1) : CPAY_OK;
  size_t n = 2 * (size_t)w->depth;
  if (n == 0) return CPAY_OK;
  cpay_code c = reserve(w, n);
  if (c) return c;
  memset(w->out.buf + w->out.len, ' ', n);
  w->out.len += n;
  return CPAY_OK;
}

static cpay_code end_field(writer *w) { return single_line(w) ? CPAY_OK : put(w, "\n", 1); }

// A quoted string with C escapes; bytes outside printable ASCII in octal so
// that the output is ASCII and reads back byte for byte.
static cpay_code put_quoted(writer *w, const char *s, size_t n) {
  cpay_code c = reserve(w, n * 4 + 2);
  if (c) return c;
  char *o = w->out.buf + w->out.len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
      case '"': *o++ = '\\'; *o++ = '"'; break;
      case '\'': *o++ = '\\'; *o++ = '\''; break;
      case '\\': *o++ = '\\'; *o++ = '\\'; break;
      case '\n': *o++ = '\\'; *o++ = 'n'; break;
      case '\r': *o++ = '\\'; *o++ = 'r'; break;
      case '\t': *o++ = '\\'; *o++ = 't'; break;
      default:
        if (ch < 0x20 || ch >= 0x7F) {
          *o++ = '\\';
          *o++ = (char)('0' + (ch >> 6));
          *o++ = (char)('0' + ((ch >> 3) & 7));
          *o++ = (char)('0' + (ch & 7));
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
  if (isnan(d)) return puts_(w, "nan");
  if (isinf(d)) return puts_(w, d > 0 ? "inf" : "-inf");
  char buf[32];
  size_t n = is_float ? cpay__fmt_float((float)d, buf) : cpay__fmt_double(d, buf);
  return put(w, buf, n);
}

static cpay_code put_message(writer *w, const void *msg, view v);

static view sub_view(view v, uint32_t i) {
  const cpay_field *f = &v.t->fields[i];
  view s = {v.t->subs[f->sub].msg, v.j ? v.j->msgs[i] : NULL};
  return s;
}

// One value of a field's type stored at `p`; messages get "{ ... }".
static cpay_code put_value(writer *w, uint8_t type, const void *p, view sub,
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
      n = snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
      return put(w, buf, (size_t)n);
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
      n = snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
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
    case CPAY_TYPE_ENUM: {
      int32_t v = *(const int32_t *)p;
      const char *name = je ? cpay_enum_name(je, v) : NULL;
      if (name) return puts_(w, name);
      n = snprintf(buf, sizeof buf, "%" PRId32, v);
      return put(w, buf, (size_t)n);
    }
    case CPAY_TYPE_STRING:
    case CPAY_TYPE_BYTES: {
      const cpay_str *s = p;
      return put_quoted(w, s->data, s->size);
    }
    default: {
      const void *m = *(void *const *)p;
      cpay_code c = puts_(w, single_line(w) ? "{" : "{\n");
      if (c) return c;
      w->depth++;
      if (m && (c = put_message(w, m, sub))) return c;
      w->depth--;
      if (single_line(w)) return puts_(w, " }");
      if ((c = begin_field(w))) return c;
      return puts_(w, "}");
    }
  }
}

// A field's name: groups go by their type's name ("Data"), as protoc does,
// except editions' delimited fields that are not group-like.
static cpay_code put_name(writer *w, const cpay_field *f, const char *name, view sub) {
  if (f->type == CPAY_TYPE_GROUP && !(f->mode & CPAY_MODE_TEXT_FIELD_NAME) && sub.t) {
    const char *dot = strrchr(sub.t->full_name, '.');
    return puts_(w, dot ? dot + 1 : sub.t->full_name);
  }
  return puts_(w, name);
}

// "name: value" or "name { ... }", then the end of the line.
static cpay_code put_entry(writer *w, const cpay_field *f, const char *name, bool ext,
                           const void *p, view sub, const cpay_enum_desc *je) {
  cpay_code c = begin_field(w);
  if (c) return c;
  if (ext) {
    if ((c = puts_(w, "[")) || (c = puts_(w, name)) || (c = puts_(w, "]"))) return c;
  } else if ((c = put_name(w, f, name, sub))) {
    return c;
  }
  if ((c = puts_(w, cpay__type_is_msg(f->type) ? " " : ": "))) return c;
  if ((c = put_value(w, f->type, p, sub, je))) return c;
  return end_field(w);
}

typedef struct map_item {
  cpay_value k, v;
} map_item;

static int cmp_str(const void *a, const void *b) {
  cpay_str x = ((const map_item *)a)->k.str, y = ((const map_item *)b)->k.str;
  size_t n = x.size < y.size ? x.size : y.size;
  int c = n ? memcmp(x.data, y.data, n) : 0;  // an empty key may have NULL data
  return c ? c : (x.size > y.size) - (x.size < y.size);
}
static int cmp_i32(const void *a, const void *b) {
  int32_t x = ((const map_item *)a)->k.i32, y = ((const map_item *)b)->k.i32;
  return (x > y) - (x < y);
}
static int cmp_u32(const void *a, const void *b) {
  uint32_t x = ((const map_item *)a)->k.u32, y = ((const map_item *)b)->k.u32;
  return (x > y) - (x < y);
}
static int cmp_i64(const void *a, const void *b) {
  int64_t x = ((const map_item *)a)->k.i64, y = ((const map_item *)b)->k.i64;
  return (x > y) - (x < y);
}
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = ((const map_item *)a)->k.u64, y = ((const map_item *)b)->k.u64;
  return (x > y) - (x < y);
}
static int cmp_bool(const void *a, const void *b) {
  return (int)((const map_item *)a)->k.b - (int)((const map_item *)b)->k.b;
}

typedef int (*key_cmp)(const void *, const void *);

static key_cmp key_order(uint8_t type) {
  switch (type) {
    case CPAY_TYPE_STRING: return cmp_str;
    case CPAY_TYPE_BOOL: return cmp_bool;
    case CPAY_TYPE_INT64: case CPAY_TYPE_SINT64: case CPAY_TYPE_SFIXED64: return cmp_i64;
    case CPAY_TYPE_UINT64: case CPAY_TYPE_FIXED64: return cmp_u64;
    case CPAY_TYPE_UINT32: case CPAY_TYPE_FIXED32: return cmp_u32;
    default: return cmp_i32;
  }
}

// Entries sorted by key, as protoc prints them, so that the output does not
// depend on the map's hash order.
static cpay_code put_map(writer *w, const char *name, const cpay_map *m, view entry) {
  const cpay_field *kf = cpay__map_key_field(entry.t), *vf = cpay__map_value_field(entry.t);
  view vsub = {NULL, NULL};
  if (cpay__type_is_msg(vf->type)) vsub = sub_view(entry, 1);
  const cpay_enum_desc *je = entry.j ? entry.j->enums[1] : NULL;
  size_t n = cpay_map_size(m), it = 0, i = 0;
  map_item *items = cpay_arena_malloc(w->out.a, n * sizeof *items);
  if (!items) return oom(w);
  while (i < n && cpay_map_next(m, &it, &items[i].k, &items[i].v)) i++;
  qsort(items, i, sizeof *items, key_order(kf->type));
  cpay_code c;
  for (size_t k = 0; k < i; k++) {
    if ((c = begin_field(w)) || (c = puts_(w, name)) || (c = puts_(w, " {"))) return c;
    if ((c = end_field(w))) return c;
    w->depth++;
    if ((c = put_entry(w, kf, "key", false, &items[k].k, vsub, NULL))) return c;
    if (cpay__type_is_msg(vf->type) && !items[k].v.msg) {
      // An absent message value is the empty message.
      items[k].v.msg = cpay_msg_new(vsub.t, w->out.a);
      if (!items[k].v.msg) return oom(w);
    }
    if ((c = put_entry(w, vf, "value", false, &items[k].v, vsub, je))) return c;
    w->depth--;
    if ((c = begin_field(w)) || (c = puts_(w, "}")) || (c = end_field(w))) return c;
  }
  return CPAY_OK;
}

// How one field or extension prints: its name and what its values need.
typedef struct field_out {
  const cpay_field *f;
  const char *name;
  bool ext;                  // printed as "[full.name]"
  view sub;                  // message, group or map entry
  const cpay_enum_desc *je;  // NULL: enum values print as numbers
  cpay_field ext_field;      // an extension's field, groups made messages
} field_out;

// Names field `r` of a message of type `v` by its proto name.
static void describe_field(view v, const cpay__field_ref *r, field_out *o) {
  const cpay_field *f = r->f;
  o->f = f;
  o->name = v.t->field_names[r->index];
  o->ext = false;
  o->sub = (view){NULL, NULL};
  if (cpay__type_is_msg(f->type) || (f->mode & CPAY_MODE_MASK) == CPAY_MODE_MAP) {
    o->sub = sub_view(v, r->index);
  }
  o->je = v.j ? v.j->enums[r->index] : NULL;
}

// Names extension `r` by its full name, with its description from the
// registry when there is one.
static void describe_ext(const writer *w, const cpay__field_ref *r, field_out *o) {
  const cpay_ext_desc *x = cpay__registry_ext_of(w->reg, r->ext);
  o->name = r->ext->full_name;
  o->ext = true;
  o->sub = (view){NULL, NULL};
  if (cpay__type_is_msg(r->f->type)) {
    o->sub.t = r->ext->sub.msg;
    o->sub.j = x ? x->msg : NULL;
  }
  o->je = x ? x->enm : NULL;
  // Groups in extensions go by their field name, like other extensions.
  o->ext_field = *r->f;
  if (o->ext_field.type == CPAY_TYPE_GROUP) o->ext_field.type = CPAY_TYPE_MESSAGE;
  o->f = &o->ext_field;
}

// Every value of the field stored at `p`: an entry per element, the map's
// entries, or one entry.
static cpay_code put_field(writer *w, const field_out *o, const void *p) {
  const cpay_field *f = o->f;
  cpay_code c;
  switch (f->mode & CPAY_MODE_MASK) {
    case CPAY_MODE_ARRAY:
      for (size_t k = 0; k < ((const cpay_array *)p)->size; k++) {
        c = put_entry(w, f, o->name, o->ext, cpay__array_at(p, f->type, k), o->sub, o->je);
        if (c) return c;
      }
      return CPAY_OK;
    case CPAY_MODE_MAP:
      return put_map(w, o->name, *(cpay_map *const *)p, o->sub);
    default:
      return put_entry(w, f, o->name, o->ext, p, o->sub, o->je);
  }
}

// The fields of `msg` that are set, then its extensions as "[full.name]";
// with `only_exts` (an Any printed expanded) the extensions alone.
static cpay_code put_fields(writer *w, const void *msg, view v, bool only_exts) {
  cpay__msg_iter it;
  cpay__msg_iter_init(&it, msg, v.t, 0);
  cpay__field_ref r;
  while (cpay__msg_next(&it, &r)) {
    if (only_exts && !r.ext) continue;
    field_out o;
    if (r.ext) {
      describe_ext(w, &r, &o);
    } else {
      describe_field(v, &r, &o);
    }
    cpay_code c = put_field(w, &o, r.p);
    if (c) return c;
  }
  return CPAY_OK;
}

// ---- unknown fields ----------------------------------------------------------------

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Whether [p, end) is a well-formed sequence of fields (groups closed),
// ending at `end` or, inside group `group`, at its end tag (*p after it).
static bool wire_ok(const uint8_t **p, const uint8_t *end, uint32_t group, int depth) {
  if (depth <= 0) return false;
  while (*p < end) {
    uint64_t tag, v;
    if (!read_varint(p, end, &tag)) return false;
    uint32_t num = (uint32_t)(tag >> 3);
    if (num == 0 || tag >> 32) return false;
    switch (tag & 7) {
      case 0:
        if (!read_varint(p, end, &v)) return false;
        break;
      case 1:
        if ((size_t)(end - *p) < 8) return false;
        *p += 8;
        break;
      case 5:
        if ((size_t)(end - *p) < 4) return false;
        *p += 4;
        break;
      case 2:
        if (!read_varint(p, end, &v) || v > (uint64_t)(end - *p)) return false;
        *p += v;
        break;
      case 3:
        if (!wire_ok(p, end, num, depth - 1)) return false;
        break;
      case 4:
        return group == num;
      default:
        return false;
    }
  }
  return group == 0;
}

// Prints the fields of [p, end) (checked by wire_ok) up to `end` or the end
// tag of the group that holds them.
static cpay_code put_unknown(writer *w, const uint8_t **p, const uint8_t *end) {
  char buf[48];
  cpay_code c;
  while (*p < end) {
    uint64_t tag = 0, v = 0;
    read_varint(p, end, &tag);
    uint32_t num = (uint32_t)(tag >> 3);
    if ((tag & 7) == 4) return CPAY_OK;
    if ((c = begin_field(w))) return c;
    int n = snprintf(buf, sizeof buf, "%" PRIu32, num);
    if ((c = put(w, buf, (size_t)n))) return c;
    switch (tag & 7) {
      case 0:
        read_varint(p, end, &v);
        n = snprintf(buf, sizeof buf, ": %" PRIu64, v);
        c = put(w, buf, (size_t)n);
        break;
      case 1:
        v = 0;
        for (int k = 7; k >= 0; k--) v = v << 8 | (*p)[k];
        *p += 8;
        n = snprintf(buf, sizeof buf, ": 0x%016" PRIx64, v);
        c = put(w, buf, (size_t)n);
        break;
      case 5:
        v = (uint64_t)(*p)[0] | (uint64_t)(*p)[1] << 8 | (uint64_t)(*p)[2] << 16 |
            (uint64_t)(*p)[3] << 24;
        *p += 4;
        n = snprintf(buf, sizeof buf, ": 0x%08" PRIx32, (uint32_t)v);
        c = put(w, buf, (size_t)n);
        break;
      case 2: {
        read_varint(p, end, &v);
        const uint8_t *body = *p, *body_end = *p + v, *q = body;
        *p = body_end;
        // Bytes that parse as fields print as a message, as protoc does.
        if (v > 0 && w->depth < w->max_depth && wire_ok(&q, body_end, 0, w->max_depth - w->depth)) {
          if ((c = puts_(w, " {")) || (c = end_field(w))) return c;
          w->depth++;
          q = body;
          if ((c = put_unknown(w, &q, body_end))) return c;
          w->depth--;
          if ((c = begin_field(w))) return c;
          c = puts_(w, "}");
        } else {
          if ((c = puts_(w, ": "))) return c;
          c = put_quoted(w, (const char *)body, (size_t)v);
        }
        break;
      }
      default:  // 3: a group
        if ((c = puts_(w, " {")) || (c = end_field(w))) return c;
        w->depth++;
        if ((c = put_unknown(w, p, end))) return c;
        w->depth--;
        if ((c = begin_field(w))) return c;
        c = puts_(w, "}");
        break;
    }
    if (c || (c = end_field(w))) return c;
  }
  return CPAY_OK;
}

static cpay_code put_unknown_fields(writer *w, const void *msg) {
  cpay_bytes u = cpay_msg_unknown(msg);
  if (u.size == 0) return CPAY_OK;
  const uint8_t *p = u.data, *q = u.data;
  // The decoder stores only whole fields; anything else is left out rather
  // than printed in a form that would not read back.
  if (!wire_ok(&q, p + u.size, 0, w->max_depth - w->depth)) return CPAY_OK;
  return put_unknown(w, &p, p + u.size);
}

// ---- Any -----------------------------------------------------------------------

// Prints an Any whose type is registered as "[url] { ... }"; *done false
// when it is not (the caller prints type_url and value).
static cpay_code put_any(writer *w, const void *msg, view v, bool *done) {
  *done = false;
  const cpay_field *uf = cpay__field_find(v.t, 1), *vf = cpay__field_find(v.t, 2);
  if (!uf || !vf) return CPAY_OK;
  const cpay_str *url = cpay__field_cptr(msg, uf);
  const cpay_bytes *value = cpay__field_cptr(msg, vf);
  if (url->size == 0 || !w->reg) return CPAY_OK;
  // Only a URL the parser reads back between brackets is printed there: one
  // of the form "host/full.Name" (without a '/', "[a.b.C]" would read as an
  // extension) and no byte outside the URL alphabet.
  if (!cpay__text_url_ok(url->data, url->size)) return CPAY_OK;
  cpay_str name;
  if (!cpay_any_type_name(*url, &name)) return CPAY_OK;
  const cpay_msg_desc *inner = cpay_registry_find(w->reg, name.data, name.size);
  if (!inner) return CPAY_OK;
  void *sub = cpay_msg_new(inner->table, w->out.a);
  if (!sub) return oom(w);
  cpay_decode_opts dopts = {0};
  dopts.flags = CPAY_DECODE_ALLOW_PARTIAL;
  dopts.max_depth = w->max_depth - w->depth;
  if (dopts.max_depth <= 0) return CPAY_OK;
  cpay_status ignored;
  cpay_status_clear(&ignored);
  cpay_code dc = cpay_decode(value->data, value->size, sub, inner->table, w->out.a, &dopts,
                             &ignored);
  // Running out of memory is an error; only a value that is not a valid
  // message is printed as raw fields.
  if (dc == CPAY_ERR_NO_MEMORY) return oom(w);
  if (dc != CPAY_OK) return CPAY_OK;
  *done = true;
  cpay_code c;
  if ((c = begin_field(w)) || (c = puts_(w, "[")) || (c = put(w, url->data, url->size)) ||
      (c = puts_(w, "] "))) {
    return c;
  }
  view iv = {inner->table, inner};
  if ((c = put_value(w, CPAY_TYPE_MESSAGE, &sub, iv, NULL))) return c;
  return end_field(w);
}

// The fields of `msg` at the current depth (no braces).
static cpay_code put_message(writer *w, const void *msg, view v) {
  if (w->depth > w->max_depth) {
    return cpay_status_set(w->out.st, CPAY_ERR_DEPTH, "message nesting deeper than %d",
                           w->max_depth);
  }
  cpay_code c;
  bool done = false;
  if (v.j && v.j->wkt == CPAY_WKT_ANY && (c = put_any(w, msg, v, &done))) return c;
  if ((c = put_fields(w, msg, v, done))) return c;
  if ((w->flags & CPAY_TEXT_PRINT_UNKNOWN) && (c = put_unknown_fields(w, msg))) return c;
  return CPAY_OK;
}

static cpay_code encode(writer *w, const void *msg, view v, cpay_str *out) {
  cpay_code c;
  if ((c = put_message(w, msg, v)) || (c = put(w, "", 1))) return c;
  *out = (cpay_str){w->out.buf, w->out.len - 1};
  return CPAY_OK;
}

cpay_code cpay_text_encode(const void *msg, const cpay_msg_desc *t, cpay_arena *a,
                           const cpay_text_encode_opts *opts, cpay_str *out, cpay_status *st) {
  if (!msg || !t || !a || !out) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "cpay_text_encode: NULL argument");
  }
  writer w = {0};
  w.out.a = a;
  w.out.st = st;
  if (opts) {
    w.flags = opts->flags;
    w.reg = opts->registry;
    w.max_depth = opts->max_depth;
  }
  if (w.max_depth <= 0) w.max_depth = CPAY_DEFAULT_MAX_DEPTH;
  view v = {t->table, t};
  return encode(&w, msg, v, out);
}

const char *cpay_text_debug(const void *msg, const cpay_msg_desc *t, cpay_arena *a) {
  if (!msg || !t || !a) return "<null>";
  writer w = {0};
  w.out.a = a;
  w.flags = CPAY_TEXT_SINGLE_LINE | CPAY_TEXT_PRINT_UNKNOWN;
  w.max_depth = CPAY_DEFAULT_MAX_DEPTH;
  view v = {t->table, t};
  cpay_str out;
  cpay_code c = encode(&w, msg, v, &out);
  if (c == CPAY_ERR_NO_MEMORY) return "<out of memory>";
  if (c) return "<message nested too deeply>";
  return out.data;
}
