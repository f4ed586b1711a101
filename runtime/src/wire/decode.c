// The table-driven binary decoder: one loop serves every message.
//
// A field numbered 1 to 15 whose tag is the one byte its entry in the
// message's fast table (cpay_fast_field, written by the generator) takes
// goes the way the entry's kind says: a jump on the kind, the value stored
// at the entry's offset, its presence bit set. Every other field, and every
// field the fast path declines (an error, an unusual encoding), takes the
// general path, which finds it through the reflection layer
// (message/field.h) that JSON and text format use too and handles every
// case. All memory comes from the arena. Errors stop decoding at once and
// name the field and the byte offset.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpay/gencode.h"
#include "cpay/message.h"
#include "message/array.h"
#include "message/field.h"
#include "message/internal.h"
#include "port_internal.h"
#include "wire/wire.h"

typedef struct dec {
  const uint8_t *buf;  // start of the input, for offsets
  cpay_arena *arena;
  const cpay_extreg *extreg;
  cpay_status *st;
  uint32_t flags;
  int max_depth;
  cpay_code code;
  // The first message that ended without all its required fields, and
  // where; the tree is checked again once the whole input is parsed (a
  // later occurrence may merge them in).
  const cpay_msg_table *missing_table;
  size_t missing_offset;
} dec;

static const uint8_t empty_buf[1];

CPAY_PRINTF(6, 7)
static const uint8_t *fail(dec *d, cpay_code code, uint32_t number, const char *name,
                           const uint8_t *at, const char *fmt, ...) {
  char text[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  size_t off = (size_t)(at - d->buf);
  if (name) {
    cpay_status_set(d->st, code, "field %u (%s): %s at offset %zu", (unsigned)number, name,
                    text, off);
  } else {
    cpay_status_set(d->st, code, "field %u: %s at offset %zu", (unsigned)number, text, off);
  }
  d->code = code;
  return NULL;
}

static const uint8_t *fail_varint(dec *d, uint32_t number, const char *name,
                                  const uint8_t *at, const uint8_t *end, const char *what) {
  if (cpay__varint_truncated(at, end)) {
    return fail(d, CPAY_ERR_MALFORMED, number, name, at, "truncated %s", what);
  }
  return fail(d, CPAY_ERR_MALFORMED, number, name, at, "%s longer than 10 bytes", what);
}

static const uint8_t *fail_oom(dec *d, uint32_t number, const char *name, const uint8_t *at) {
  return fail(d, CPAY_ERR_NO_MEMORY, number, name, at, "%s", cpay_arena_error(d->arena));
}

static inline const char *field_name(const cpay_msg_table *t, const cpay_field *f) {
  return t->field_names ? t->field_names[f - t->fields] : NULL;
}

enum { MATCH_NONE = 0, MATCH_NORMAL = 1, MATCH_PACKED = 2 };

// Whether wire type `wt` is acceptable for `f`: its own wire type, or, for
// repeated scalars, length-delimited (packed) as well.
static inline int wire_match(const cpay_field *f, int wt) {
  int mode = f->mode & CPAY_MODE_MASK;
  if (mode == CPAY_MODE_MAP) return wt == CPAY_WT_LEN ? MATCH_NORMAL : MATCH_NONE;
  int want = cpay__type_wire_type(f->type);
  if (wt == want) return MATCH_NORMAL;
  if (mode == CPAY_MODE_ARRAY && wt == CPAY_WT_LEN && want != CPAY_WT_LEN &&
      want != CPAY_WT_SGROUP)
    return MATCH_PACKED;
  return MATCH_NONE;
}

// Stores the raw wire value `raw` of a scalar of `type` at `dst`.
static inline void store_scalar(void *dst, uint8_t type, uint64_t raw) {
  switch (type) {
    case CPAY_TYPE_BOOL: {
      bool b = raw != 0;
      memcpy(dst, &b, 1);
      return;
    }
    case CPAY_TYPE_SINT32: {
      int32_t v = cpay__zigzag_dec32((uint32_t)raw);
      memcpy(dst, &v, 4);
      return;
    }
    case CPAY_TYPE_SINT64: {
      int64_t v = cpay__zigzag_dec64(raw);
      memcpy(dst, &v, 8);
      return;
    }
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_DOUBLE:
      memcpy(dst, &raw, 8);
      return;
    default: {
      uint32_t v = (uint32_t)raw;
      memcpy(dst, &v, 4);
      return;
    }
  }
}

static inline bool closed_enum_rejects(const cpay_field *f, const cpay_sub *subs,
                                       uint64_t raw) {
  return (f->mode & CPAY_MODE_CLOSED_ENUM) && f->type == CPAY_TYPE_ENUM &&
         !cpay_enum_table_has(subs[f->sub].enm, (int32_t)raw);
}

static bool add_unknown(dec *d, void *msg, const uint8_t *p, size_t n) {
  if (d->flags & CPAY_DECODE_DISCARD_UNKNOWN) return true;
  return cpay__msg_add_unknown(msg, p, n, d->arena);
}

// Reads a length prefix and checks it against the remaining input.
static inline const uint8_t *read_len(dec *d, const uint8_t *p, const uint8_t *end,
                                      uint32_t num, const char *name, size_t *len) {
  uint64_t v;
  const uint8_t *q = cpay__varint_get(p, end, &v);
  if (CPAY_UNLIKELY(!q)) return fail_varint(d, num, name, p, end, "length");
  if (CPAY_UNLIKELY(v > (uint64_t)(end - q))) {
    return fail(d, CPAY_ERR_MALFORMED, num, name, p, "length %llu exceeds remaining %zu bytes",
                (unsigned long long)v, (size_t)(end - q));
  }
  *len = (size_t)v;
  return q;
}

static const uint8_t *read_str(dec *d, const uint8_t *p, const uint8_t *end,
                               const cpay_field *f, const char *name, cpay_str *out) {
  size_t len = 0;
  const uint8_t *q = read_len(d, p, end, f->number, name, &len);
  if (!q) return NULL;
  if ((f->mode & CPAY_MODE_UTF8) && !cpay__utf8_valid((const char *)q, len)) {
    return fail(d, CPAY_ERR_UTF8, f->number, name, q, "invalid utf-8 in string");
  }
  if (len == 0) {
    out->data = "";
    out->size = 0;
  } else if (d->flags & CPAY_DECODE_ALIAS) {
    out->data = (const char *)q;
    out->size = len;
  } else {
    char *c = cpay_arena_malloc(d->arena, len);
    if (!c) return fail_oom(d, f->number, name, p);
    memcpy(c, q, len);
    out->data = c;
    out->size = len;
  }
  return q + len;
}

// A tag is a varint of at most 5 bytes holding a 32-bit value, as every
// protobuf parser reads it: a longer encoding is refused even when its value
// is small. `q` is the position after the tag at tag_p.
static inline bool tag_ok(uint64_t tag, const uint8_t *tag_p, const uint8_t *q) {
  return tag <= UINT32_MAX && q - tag_p <= 5;
}

// The error for a tag that is not tag_ok(), about field `num`.
static const uint8_t *fail_tag(dec *d, uint32_t num, uint64_t tag, const uint8_t *tag_p,
                               const uint8_t *q) {
  if (tag > UINT32_MAX) {
    return fail(d, CPAY_ERR_MALFORMED, num, NULL, tag_p, "field number out of range");
  }
  return fail(d, CPAY_ERR_MALFORMED, num, NULL, tag_p, "tag longer than 5 bytes (%zu)",
              (size_t)(q - tag_p));
}

static const uint8_t *decode_msg(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                 const cpay_msg_table *t, int depth);
static const uint8_t *decode_group(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                   const cpay_msg_table *t, int depth, uint32_t group);

// Decodes a submessage (length-delimited, or a group ending with the end-group
// tag of `num`) into *slot, creating it when NULL and merging otherwise.
static const uint8_t *decode_sub(dec *d, const uint8_t *p, const uint8_t *end, void **slot,
                                 const cpay_msg_table *st, uint32_t num, const char *name,
                                 int depth, bool group) {
  if (CPAY_UNLIKELY(depth >= d->max_depth)) {
    return fail(d, CPAY_ERR_DEPTH, num, name, p, "nesting deeper than %d", d->max_depth);
  }
  size_t len = 0;
  if (!group) {
    p = read_len(d, p, end, num, name, &len);
    if (!p) return NULL;
  }
  void *sub = *slot;
  if (!sub) {
    sub = cpay_msg_new(st, d->arena);
    if (!sub) return fail_oom(d, num, name, p);
    *slot = sub;
  }
  if (group) return decode_group(d, p, end, sub, st, depth + 1, num);
  return decode_msg(d, p, p + len, sub, st, depth + 1);
}

// Skips the value of an unknown field (after its tag) and returns the end.
static const uint8_t *skip_field(dec *d, const uint8_t *p, const uint8_t *end, uint32_t num,
                                 int wt, int depth) {
  switch (wt) {
    case CPAY_WT_VARINT: {
      uint64_t v;
      const uint8_t *q = cpay__varint_get_slow(p, end, &v);
      return q ? q : fail_varint(d, num, NULL, p, end, "varint");
    }
    case CPAY_WT_FIXED64:
      if (end - p < 8) return fail(d, CPAY_ERR_MALFORMED, num, NULL, p, "truncated fixed64");
      return p + 8;
    case CPAY_WT_FIXED32:
      if (end - p < 4) return fail(d, CPAY_ERR_MALFORMED, num, NULL, p, "truncated fixed32");
      return p + 4;
    case CPAY_WT_LEN: {
      size_t len = 0;
      const uint8_t *q = read_len(d, p, end, num, NULL, &len);
      return q ? q + len : NULL;
    }
    case CPAY_WT_SGROUP: {
      if (depth >= d->max_depth) {
        return fail(d, CPAY_ERR_DEPTH, num, NULL, p, "nesting deeper than %d", d->max_depth);
      }
      while (p < end) {
        const uint8_t *tag_p = p;
        uint64_t tag;
        p = cpay__varint_get_slow(p, end, &tag);
        if (!p) return fail_varint(d, num, NULL, tag_p, end, "tag");
        if (!tag_ok(tag, tag_p, p)) return fail_tag(d, num, tag, tag_p, p);
        uint32_t inner = (uint32_t)tag >> 3;
        int iwt = (int)(tag & 7);
        if (inner == 0) {
          return fail(d, CPAY_ERR_MALFORMED, 0, NULL, tag_p, "invalid field number 0");
        }
        if (iwt == CPAY_WT_EGROUP) {
          if (inner == num) return p;
          return fail(d, CPAY_ERR_MALFORMED, inner, NULL, tag_p,
                      "end group does not match start group %u", (unsigned)num);
        }
        if (iwt > CPAY_WT_FIXED32) {
          return fail(d, CPAY_ERR_MALFORMED, inner, NULL, tag_p, "invalid wire type %d", iwt);
        }
        p = skip_field(d, p, end, inner, iwt, depth + 1);
        if (!p) return NULL;
      }
      return fail(d, CPAY_ERR_MALFORMED, num, NULL, p, "group without end group");
    }
    default:
      return fail(d, CPAY_ERR_MALFORMED, num, NULL, p, "invalid wire type %d", wt);
  }
}

// A closed-enum value not in its enum: kept as an unknown varint field.
static bool unknown_enum(dec *d, void *msg, uint32_t num, const uint8_t *v, size_t n) {
  uint8_t tmp[20];
  size_t k = cpay__varint_put(tmp, (uint64_t)num << 3);
  memcpy(tmp + k, v, n);
  return add_unknown(d, msg, tmp, k + n);
}

static const uint8_t *decode_packed(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                    cpay_array *arr, const cpay_field *f,
                                    const cpay_sub *subs, const char *name) {
  size_t len = 0;
  const uint8_t *start = p;
  p = read_len(d, p, end, f->number, name, &len);
  if (!p) return NULL;
  const uint8_t *pe = p + len;
  if (len == 0) return pe;  // an empty packed run adds nothing (and arr may have no storage yet)
  size_t esz = cpay__type_size(f->type);
  int wt = cpay__type_wire_type(f->type);
  if (wt != CPAY_WT_VARINT) {
    size_t w = wt == CPAY_WT_FIXED32 ? 4 : 8;
    if (len % w) {
      return fail(d, CPAY_ERR_MALFORMED, f->number, name, start,
                  "packed length %zu is not a multiple of %zu", len, w);
    }
    size_t n = len / w;
    if (!cpay__array_reserve(arr, esz, n, d->arena)) return fail_oom(d, f->number, name, start);
    char *dst = (char *)arr->data + arr->size * esz;
    // Fixed-width values are stored as they come: only their byte order can differ.
    if (w == 4) {
      for (size_t i = 0; i < n; i++) {
        uint32_t v = cpay__load32(p + 4 * i);
        memcpy(dst + 4 * i, &v, 4);
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        uint64_t v = cpay__load64(p + 8 * i);
        memcpy(dst + 8 * i, &v, 8);
      }
    }
    arr->size += n;
    return pe;
  }
  // Varints: one element per byte without the continuation bit.
  size_t n = 0;
  for (const uint8_t *q = p; q < pe; q++) n += *q < 0x80;
  if (!cpay__array_reserve(arr, esz, n, d->arena)) return fail_oom(d, f->number, name, start);
  bool closed = (f->mode & CPAY_MODE_CLOSED_ENUM) && f->type == CPAY_TYPE_ENUM;
  char *data = arr->data;
  size_t size = arr->size;
  while (p < pe) {
    uint64_t v;
    const uint8_t *q = cpay__varint_get(p, pe, &v);
    if (!q) {
      arr->size = size;
      return fail_varint(d, f->number, name, p, pe, "packed varint");
    }
    if (closed && !cpay_enum_table_has(subs[f->sub].enm, (int32_t)v)) {
      if (!unknown_enum(d, msg, f->number, p, (size_t)(q - p))) {
        arr->size = size;
        return fail_oom(d, f->number, name, p);
      }
    } else {
      store_scalar(data + size * esz, f->type, v);
      size++;
    }
    p = q;
  }
  arr->size = size;
  return pe;
}

static const uint8_t *decode_map_entry(dec *d, const uint8_t *p, const uint8_t *end,
                                       void *msg, void *base, const cpay_field *f,
                                       const cpay_msg_table *et, const char *name,
                                       const uint8_t *tag_p, int depth) {
  if (depth >= d->max_depth) {
    return fail(d, CPAY_ERR_DEPTH, f->number, name, p, "nesting deeper than %d", d->max_depth);
  }
  size_t len = 0;
  p = read_len(d, p, end, f->number, name, &len);
  if (!p) return NULL;
  uint64_t local[16];
  void *entry = local;
  if (et->size > sizeof(local)) {
    entry = cpay_arena_malloc(d->arena, et->size);
    if (!entry) return fail_oom(d, f->number, name, p);
  }
  cpay_msg_clear(entry, et);
  const cpay_field *kf = cpay__map_key_field(et);
  const cpay_field *vf = cpay__map_value_field(et);
  // An unknown closed-enum value lands in the entry's unknown fields, which
  // tells us to keep the whole entry as unknown; so keep them even when
  // discarding.
  uint32_t flags = d->flags;
  if (vf->mode & CPAY_MODE_CLOSED_ENUM) d->flags &= ~(uint32_t)CPAY_DECODE_DISCARD_UNKNOWN;
  const uint8_t *q = decode_msg(d, p, p + len, entry, et, depth + 1);
  d->flags = flags;
  if (!q) return NULL;
  cpay_value key = cpay__value_load(kf->type, cpay__field_cptr(entry, kf));
  cpay_value val = cpay__value_load(vf->type, cpay__field_cptr(entry, vf));
  cpay_msg_internal *ein = cpay__msg_internal(entry);
  if ((vf->mode & CPAY_MODE_CLOSED_ENUM) && ein && ein->unknown_size) {
    // The value was an unknown closed-enum value: the whole entry is unknown.
    if (!add_unknown(d, msg, tag_p, (size_t)(q - tag_p))) return fail_oom(d, f->number, name, p);
    return q;
  }
  if (cpay__type_is_msg(vf->type) && !val.msg) {
    val.msg = cpay_msg_new(et->subs[vf->sub].msg, d->arena);
    if (!val.msg) return fail_oom(d, f->number, name, p);
  }
  cpay_map **slot = cpay__field_ptr(base, f);
  if (!*slot) {
    *slot = cpay_map_new(d->arena, kf->type, vf->type);
    if (!*slot) return fail_oom(d, f->number, name, p);
  }
  if (cpay_map_set(*slot, key, val, d->arena) != CPAY_OK) return fail_oom(d, f->number, name, p);
  return q;
}

// One varint or fixed-width value (wire type wt) of scalar field `f`:
// stored at dst, or appended to the array at dst when `repeated`. A
// closed-enum value outside the enum goes to msg's unknown fields instead.
// Returns the position after it, or NULL on error.
static inline const uint8_t *decode_scalar(dec *d, const uint8_t *p, const uint8_t *end,
                                           void *msg, void *dst, const cpay_field *f,
                                           const cpay_sub *subs, const char *name,
                                           const uint8_t *tag_p, int wt, bool repeated) {
  uint64_t v;
  const uint8_t *q;
  if (wt == CPAY_WT_VARINT) {
    q = cpay__varint_get(p, end, &v);
    if (!q) return fail_varint(d, f->number, name, p, end, "varint");
    if (closed_enum_rejects(f, subs, v)) {
      if (!add_unknown(d, msg, tag_p, (size_t)(q - tag_p))) return fail_oom(d, f->number, name, p);
      return q;
    }
  } else {
    size_t w = wt == CPAY_WT_FIXED32 ? 4 : 8;
    if ((size_t)(end - p) < w) {
      return fail(d, CPAY_ERR_MALFORMED, f->number, name, p, "truncated fixed%zu", w * 8);
    }
    v = w == 4 ? cpay__load32(p) : cpay__load64(p);
    q = p + w;
  }
  if (repeated) {
    dst = cpay__array_add(dst, cpay__type_size(f->type), d->arena);
    if (!dst) return fail_oom(d, f->number, name, p);
  }
  store_scalar(dst, f->type, v);
  if (!repeated) cpay__field_mark(msg, f);
  return q;
}

// Decodes one occurrence of a known field whose wire type matched. `msg`
// receives oneof cases and unknown values; `base` holds the storage.
static const uint8_t *decode_field(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                   void *base, const cpay_field *f, const cpay_sub *subs,
                                   const char *name, const uint8_t *tag_p, int wt, int match,
                                   int depth) {
  void *dst = cpay__field_ptr(base, f);
  int mode = f->mode & CPAY_MODE_MASK;
  bool scalar = wt == CPAY_WT_VARINT || wt == CPAY_WT_FIXED32 || wt == CPAY_WT_FIXED64;
  if (mode == CPAY_MODE_ARRAY) {
    cpay_array *arr = dst;
    if (match == MATCH_PACKED) return decode_packed(d, p, end, msg, arr, f, subs, name);
    if (scalar) return decode_scalar(d, p, end, msg, arr, f, subs, name, tag_p, wt, true);
    size_t esz = cpay__type_size(f->type);
    const uint8_t *q;
    if (wt == CPAY_WT_LEN && f->type != CPAY_TYPE_MESSAGE) {
      cpay_str s;
      q = read_str(d, p, end, f, name, &s);
      if (!q) return NULL;
      cpay_str *slot = cpay__array_add(arr, esz, d->arena);
      if (!slot) return fail_oom(d, f->number, name, p);
      *slot = s;
      return q;
    }
    // A message or group.
    void **slot = cpay__array_add(arr, esz, d->arena);
    if (!slot) return fail_oom(d, f->number, name, p);
    q = decode_sub(d, p, end, slot, subs[f->sub].msg, f->number, name, depth,
                   wt == CPAY_WT_SGROUP);
    if (!q) arr->size -= *slot == NULL;
    return q;
  }
  if (mode == CPAY_MODE_MAP) {
    return decode_map_entry(d, p, end, msg, base, f, subs[f->sub].msg, name, tag_p, depth);
  }
  if (scalar) return decode_scalar(d, p, end, msg, dst, f, subs, name, tag_p, wt, false);
  if (wt == CPAY_WT_LEN && f->type != CPAY_TYPE_MESSAGE) {
    const uint8_t *q = read_str(d, p, end, f, name, dst);
    if (q) cpay__field_mark(msg, f);
    return q;
  }
  // A message or group.
  void **slot = dst;
  // Another oneof member was set: start a fresh message. (Only the pointer
  // needs zeroing; cpay__field_prepare's memset of the type's size costs the
  // decoder registers.)
  if (f->presence < 0 && cpay__field_case(msg, f) != f->number) *slot = NULL;
  cpay__field_mark(msg, f);
  return decode_sub(d, p, end, slot, subs[f->sub].msg, f->number, name, depth,
                    wt == CPAY_WT_SGROUP);
}

// One message-set item (group 1 holding type_id = 2 and message = 3).
static const uint8_t *decode_msgset_item(dec *d, const uint8_t *tag_p, const uint8_t *p,
                                         const uint8_t *end, void *msg,
                                         const cpay_msg_table *t, int depth) {
  if (depth >= d->max_depth) {
    return fail(d, CPAY_ERR_DEPTH, 1, NULL, p, "nesting deeper than %d", d->max_depth);
  }
  uint64_t type_id = 0;
  const uint8_t *body = NULL;
  size_t body_len = 0;
  for (;;) {
    if (p >= end) return fail(d, CPAY_ERR_MALFORMED, 1, NULL, p, "group without end group");
    const uint8_t *ftag = p;
    uint64_t tag;
    p = cpay__varint_get_slow(p, end, &tag);
    if (!p) return fail_varint(d, 1, NULL, ftag, end, "tag");
    if (!tag_ok(tag, ftag, p)) return fail_tag(d, 1, tag, ftag, p);
    if (tag == ((1u << 3) | CPAY_WT_EGROUP)) break;
    uint32_t num = (uint32_t)tag >> 3;
    int wt = (int)(tag & 7);
    if (num == 0) return fail(d, CPAY_ERR_MALFORMED, 0, NULL, ftag, "invalid field number 0");
    if (wt == CPAY_WT_EGROUP) {
      return fail(d, CPAY_ERR_MALFORMED, num, NULL, ftag, "end group does not match start group 1");
    }
    if (num == 2 && wt == CPAY_WT_VARINT) {
      p = cpay__varint_get_slow(p, end, &type_id);
      if (!p) return fail_varint(d, 2, "type_id", ftag, end, "varint");
    } else if (num == 3 && wt == CPAY_WT_LEN) {
      p = read_len(d, p, end, 3, "message", &body_len);
      if (!p) return NULL;
      body = p;
      p += body_len;
    } else {
      p = skip_field(d, p, end, num, wt, depth + 1);
      if (!p) return NULL;
    }
  }
  const cpay_ext *ext = NULL;
  if (d->extreg && type_id > 0 && type_id <= CPAY_MAX_FIELD_NUMBER) {
    ext = cpay_extreg_find(d->extreg, t, (uint32_t)type_id);
  }
  if (!ext || !body || ext->field.type != CPAY_TYPE_MESSAGE ||
      (ext->field.mode & CPAY_MODE_MASK) != CPAY_MODE_SCALAR) {
    if (!add_unknown(d, msg, tag_p, (size_t)(p - tag_p))) return fail_oom(d, 1, NULL, tag_p);
    return p;
  }
  bool created;
  cpay__ext_entry *e = cpay__msg_ext_entry(msg, ext, d->arena, &created);
  if (!e) return fail_oom(d, ext->field.number, ext->full_name, tag_p);
  void **slot = &e->val.value.msg;
  if (!*slot) {
    *slot = cpay_msg_new(ext->sub.msg, d->arena);
    if (!*slot) return fail_oom(d, ext->field.number, ext->full_name, tag_p);
  }
  if (!decode_msg(d, body, body + body_len, *slot, ext->sub.msg, depth + 1)) return NULL;
  return p;
}

// ---- the general path -------------------------------------------------------
//
// decode_msg() takes a field through these steps when the fast path declines
// it. They handle every case and word every error.

// Reads the tag at p into *num and *wt. Returns the position after it, or
// NULL (error set) when it is truncated, too long, or names field 0.
static CPAY_HOT_INLINE const uint8_t *read_tag(dec *d, const uint8_t *p, const uint8_t *end,
                                               uint32_t *num, int *wt) {
  uint64_t tag;
  const uint8_t *q = cpay__varint_get(p, end, &tag);
  // (fail() returns NULL; saying so here lets the compiler see it.)
  if (CPAY_UNLIKELY(!q)) {
    fail_varint(d, 0, NULL, p, end, "tag");
    return NULL;
  }
  if (CPAY_UNLIKELY(tag > UINT32_MAX) || CPAY_UNLIKELY(q - p > 5)) {
    fail_tag(d, 0, tag, p, q);
    return NULL;
  }
  *num = (uint32_t)tag >> 3;
  *wt = (int)(tag & 7);
  if (CPAY_UNLIKELY(*num == 0)) {
    fail(d, CPAY_ERR_MALFORMED, 0, NULL, p, "invalid field number 0");
    return NULL;
  }
  return q;
}

// The error for an end-group tag that does not close this message's group
// `group` (0: not a group), or for wire type 6 or 7. Returns NULL.
static const uint8_t *fail_end_group(dec *d, const cpay_msg_table *t, const cpay_field *f,
                                     uint32_t num, int wt, uint32_t group,
                                     const uint8_t *tag_p) {
  const char *name = f ? field_name(t, f) : NULL;
  if (wt != CPAY_WT_EGROUP) {
    return fail(d, CPAY_ERR_MALFORMED, num, name, tag_p, "invalid wire type %d", wt);
  }
  if (group) {
    return fail(d, CPAY_ERR_MALFORMED, num, name, tag_p,
                "end group does not match start group %u", (unsigned)group);
  }
  return fail(d, CPAY_ERR_MALFORMED, num, name, tag_p, "end group without start group");
}

// Known field `f` of wire type `wt`, tag at tag_p, value at *pp. Returns
// false when the wire type does not fit the field (the caller keeps it as
// unknown); else moves *pp past it (NULL on error) and returns true.
static CPAY_HOT_INLINE bool decode_known(dec *d, const uint8_t *tag_p, const uint8_t **pp,
                                         const uint8_t *end, void *msg,
                                         const cpay_msg_table *t, const cpay_field *f, int wt,
                                         int depth) {
  const uint8_t *p = *pp;
  // Singular varint scalars, the most common field.
  if (wt == CPAY_WT_VARINT && f->mode == CPAY_MODE_SCALAR &&
      cpay__type_wire_type(f->type) == CPAY_WT_VARINT) {
    uint64_t v;
    const uint8_t *q = cpay__varint_get(p, end, &v);
    if (CPAY_UNLIKELY(!q)) {
      *pp = fail_varint(d, f->number, field_name(t, f), p, end, "varint");
      return true;
    }
    store_scalar(cpay__field_ptr(msg, f), f->type, v);
    cpay__field_mark(msg, f);
    *pp = q;
    return true;
  }
  // Singular strings and bytes.
  if (wt == CPAY_WT_LEN && (f->mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR &&
      (f->type == CPAY_TYPE_STRING || f->type == CPAY_TYPE_BYTES)) {
    *pp = read_str(d, p, end, f, field_name(t, f), cpay__field_ptr(msg, f));
    if (CPAY_LIKELY(*pp != NULL)) cpay__field_mark(msg, f);
    return true;
  }
  int match = wire_match(f, wt);
  if (CPAY_UNLIKELY(match == MATCH_NONE)) return false;
  *pp = decode_field(d, p, end, msg, msg, f, t->subs, field_name(t, f), tag_p, wt, match,
                     depth);
  return true;
}

// An unknown field, or a known one with an unexpected wire type (tag at
// tag_p, value at p): skips the value and keeps the field's bytes as unknown.
// Returns the position after it, or NULL on error.
static const uint8_t *keep_unknown(dec *d, const uint8_t *tag_p, const uint8_t *p,
                                   const uint8_t *end, void *msg, uint32_t num, int wt,
                                   int depth) {
  p = skip_field(d, p, end, num, wt, depth);
  if (!p) return NULL;
  if (!add_unknown(d, msg, tag_p, (size_t)(p - tag_p))) return fail_oom(d, num, NULL, tag_p);
  return p;
}

// Field `num` of an extendable message (tag at tag_p, value at p), as the
// extension the registry has for it, or as a message-set item; a field no
// extension takes is kept as unknown. Returns the position after it, or
// NULL on error.
static const uint8_t *decode_extension(dec *d, const uint8_t *tag_p, const uint8_t *p,
                                       const uint8_t *end, void *msg, const cpay_msg_table *t,
                                       uint32_t num, int wt, int depth) {
  if ((t->flags & CPAY_MSG_MESSAGE_SET) && num == 1 && wt == CPAY_WT_SGROUP) {
    return decode_msgset_item(d, tag_p, p, end, msg, t, depth);
  }
  const cpay_ext *ext = cpay_extreg_find(d->extreg, t, num);
  int match = ext ? wire_match(&ext->field, wt) : MATCH_NONE;
  if (match == MATCH_NONE) return keep_unknown(d, tag_p, p, end, msg, num, wt, depth);
  cpay_field ef = ext->field;
  ef.offset = 0;
  ef.presence = 0;
  ef.sub = 0;
  // A closed enum's value outside the enum is an unknown field, and the
  // extension stays absent.
  uint64_t v;
  if (wt == CPAY_WT_VARINT && cpay__varint_get_slow(p, end, &v) &&
      closed_enum_rejects(&ef, &ext->sub, v)) {
    return keep_unknown(d, tag_p, p, end, msg, num, wt, depth);
  }
  bool created;
  cpay__ext_entry *e = cpay__msg_ext_entry(msg, ext, d->arena, &created);
  if (!e) return fail_oom(d, num, ext->full_name, tag_p);
  const uint8_t *q = decode_field(d, p, end, msg, &e->val, &ef, &ext->sub, ext->full_name,
                                  tag_p, wt, match, depth);
  if (!q) return NULL;
  // A packed run of rejected values leaves a new repeated entry empty.
  if (created && (ef.mode & CPAY_MODE_MASK) == CPAY_MODE_ARRAY && e->val.array.size == 0) {
    cpay_msg_clear_ext(msg, ext);
  }
  return q;
}

// At the end of a message (p): remembers the first one without all its
// required fields, to report once the whole input is parsed (a later
// occurrence may merge them in). Returns p.
static CPAY_HOT_INLINE const uint8_t *check_required(dec *d, const uint8_t *p, void *msg,
                                                     const cpay_msg_table *t) {
  if (CPAY_UNLIKELY(t->required_count) && !d->missing_table &&
      !(d->flags & CPAY_DECODE_ALLOW_PARTIAL)) {
    if (cpay__msg_missing_required(msg, t) >= 0) {
      d->missing_table = t;
      d->missing_offset = (size_t)(p - d->buf);
    }
  }
  return p;
}

// ---- the fast path ----------------------------------------------------------
//
// Each entry of a message's fast table (cpay_fast_field, made by the
// generator) says what its one tag byte holds and where it goes;
// decode_msg() takes the field the way the entry's kind says, with the
// helpers below. The fast path declines what it does not handle, consuming
// nothing: truncated or overlong values, lengths past the end, invalid
// UTF-8, closed-enum values outside 0..63 or not in the enum, depth limits,
// out of memory. The general path then takes the field, with its error
// messages. Helpers that return a position return the one they were given
// to decline, and NULL only for an error a nested message reported.

// Reads a varint of at most 10 bytes when 10 bytes are available (else the
// checked reader). Each continuation bit is cancelled by subtracting one from
// the next byte before shifting it in.
static CPAY_HOT_INLINE const uint8_t *fast_varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
  uint64_t res = p[0];
  if (CPAY_LIKELY(res < 0x80)) {
    *out = res;
    return p + 1;
  }
  if (CPAY_LIKELY(end - p >= CPAY_MAX_VARINT_LEN)) {
    for (int i = 1; i < CPAY_MAX_VARINT_LEN; i++) {
      uint64_t b = p[i];
      res += (b - 1) << (7 * i);
      if (b < 0x80) {
        *out = res;
        return p + i + 1;
      }
    }
    return NULL;
  }
  return cpay__varint_get(p, end, out);
}

// True when [s, s + n) is ASCII, for short strings without a call.
static CPAY_HOT_INLINE bool short_ascii(const uint8_t *s, size_t n) {
  uint64_t a, b;
  if (n >= 8 && n <= 16) {
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    return !((a | b) & UINT64_C(0x8080808080808080));
  }
  if (n > 16 && n <= 32) {
    uint64_t c, e;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + n - 16, 8);
    memcpy(&e, s + n - 8, 8);
    return !((a | b | c | e) & UINT64_C(0x8080808080808080));
  }
  if (n < 8) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= s[i];
    return acc < 0x80;
  }
  return false;
}

// Copies n bytes; short strings (the common case) without a call.
static CPAY_HOT_INLINE void copy_bytes(void *dst, const uint8_t *s, size_t n) {
  uint8_t *d = dst;
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n > 16 && n <= 32) {
    uint64_t a, b, c, e;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + n - 16, 8);
    memcpy(&e, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + 8, &b, 8);
    memcpy(d + n - 16, &c, 8);
    memcpy(d + n - 8, &e, 8);
  } else {
    memcpy(d, s, n);
  }
}

// Reads the length prefix at p (< end) and checks it against the rest of the
// input: returns the position after it, the length in *len, or NULL.
static CPAY_HOT_INLINE const uint8_t *fast_len(const uint8_t *p, const uint8_t *end,
                                               size_t *len) {
  size_t n = p[0];
  if (CPAY_UNLIKELY(n >= 0x80)) {
    uint64_t v;
    p = cpay__varint_get(p, end, &v);
    if (!p || v > (uint64_t)(end - p)) return NULL;
    *len = (size_t)v;
    return p;
  }
  p++;
  if (CPAY_UNLIKELY(n > (size_t)(end - p))) return NULL;
  *len = n;
  return p;
}

// Reads a string or bytes value (length prefix at p) into *out. NULL means
// "take the general path" (which reports the error), never a failure by
// itself.
static CPAY_HOT_INLINE const uint8_t *fast_str(dec *d, const uint8_t *p, const uint8_t *end,
                                      bool utf8, cpay_str *out) {
  size_t len;
  p = fast_len(p, end, &len);
  if (CPAY_UNLIKELY(!p)) return NULL;
  if (utf8 && !short_ascii(p, len) &&
      !cpay__utf8_valid((const char *)p, len)) {
    return NULL;
  }
  if (CPAY_UNLIKELY(len == 0)) {
    out->data = "";
    out->size = 0;
  } else if (d->flags & CPAY_DECODE_ALIAS) {
    out->data = (const char *)p;
    out->size = len;
  } else {
    char *c = cpay_arena_malloc(d->arena, len);
    if (!c) return NULL;
    copy_bytes(c, p, len);
    out->data = c;
    out->size = len;
  }
  return p + len;
}

// A new message of table `st` on the arena (cpay_msg_new without the calls).
static CPAY_HOT_INLINE void *fast_new(dec *d, const cpay_msg_table *st) {
  void *m = cpay_arena_malloc(d->arena, st->size);
  if (CPAY_UNLIKELY(!m)) return NULL;
  if (st->defaults) {
    memcpy(m, st->defaults, st->size);
    ((cpay_msg_header *)m)->internal = NULL;
  } else {
    memset(m, 0, st->size);
  }
  return m;
}

// Makes room for one more element of `esz` bytes in `arr`, which is full;
// false when out of memory. An empty array gets room for 8, as
// cpay__array_reserve() would give it, without the call.
static CPAY_HOT_INLINE bool fast_grow(dec *d, cpay_array *arr, size_t esz) {
  if (arr->cap == 0) {
    arr->data = cpay_arena_malloc(d->arena, 8 * esz);
    if (CPAY_UNLIKELY(!arr->data)) return false;
    arr->cap = 8;
    return true;
  }
  return cpay__array_reserve(arr, esz, 1, d->arena);
}

// Singular varint scalars: the value after the tag at p.
static CPAY_HOT_INLINE const uint8_t *fast_varint_value(const uint8_t *p, const uint8_t *end,
                                                        uint64_t *v) {
  const uint8_t *q = p + 1;
  if (CPAY_UNLIKELY(q >= end)) return NULL;
  return fast_varint(q, end, v);
}

// A run of elements of a repeated string or bytes field: its tag (at p)
// again and again. Returns the position after the last element taken (p:
// none). Out of line: the loop over the elements keeps its state in
// registers, which inlined into decode_msg() it does not.
static CPAY_NOINLINE const uint8_t *fast_string_run(dec *d, const uint8_t *p, const uint8_t *end,
                                                    cpay_array *arr, bool utf8) {
  const uint8_t tag = p[0];
  const uint8_t *done = p;
  const uint8_t *q = p + 1;
  size_t size = arr->size;
  while (q < end) {
    cpay_str s;
    const uint8_t *r = fast_str(d, q, end, utf8, &s);
    if (CPAY_UNLIKELY(!r)) break;
    if (CPAY_UNLIKELY(size == arr->cap) && !fast_grow(d, arr, sizeof(cpay_str))) break;
    ((cpay_str *)arr->data)[size++] = s;
    arr->size = size;
    done = r;
    if (r >= end || r[0] != tag) break;
    q = r + 1;
  }
  return done;
}

// A run of elements of a repeated message field of table st: its tag (at
// p) again and again. Returns the position after the last element taken (p:
// none), or NULL on error. Out of line, as fast_string_run().
static CPAY_NOINLINE const uint8_t *fast_message_run(dec *d, const uint8_t *p, const uint8_t *end,
                                                     cpay_array *arr, const cpay_msg_table *st,
                                                     int depth) {
  const uint8_t tag = p[0];
  const uint8_t *done = p;
  const uint8_t *q = p + 1;
  size_t size = arr->size;
  while (q < end) {
    size_t len;
    q = fast_len(q, end, &len);
    if (CPAY_UNLIKELY(!q)) break;
    if (CPAY_UNLIKELY(size == arr->cap) && !fast_grow(d, arr, sizeof(void *))) break;
    void *sub = fast_new(d, st);
    if (CPAY_UNLIKELY(!sub)) break;
    ((void **)arr->data)[size++] = sub;
    arr->size = size;
    done = decode_msg(d, q, q + len, sub, st, depth + 1);
    if (CPAY_UNLIKELY(!done) || done >= end || done[0] != tag) break;
    q = done + 1;
  }
  return done;
}

// A singular submessage (tag at p), its pointer at slot. Returns as
// fast_message_run().
static CPAY_HOT_INLINE const uint8_t *fast_message(dec *d, const uint8_t *p, const uint8_t *end,
                                                   void **slot, const cpay_msg_table *st,
                                                   int depth) {
  const uint8_t *q = p + 1;
  if (q >= end || depth + 1 >= d->max_depth) return p;
  size_t len;
  q = fast_len(q, end, &len);
  if (CPAY_UNLIKELY(!q)) return p;
  if (!*slot) {
    *slot = fast_new(d, st);
    if (CPAY_UNLIKELY(!*slot)) return p;
  }
  return decode_msg(d, q, q + len, *slot, st, depth + 1);
}

// ---- the loop ---------------------------------------------------------------

const cpay_fast_field cpay__fast_none[16];

// The entry of `fast` for the one-byte tag `tag`: entries are 8 bytes, so
// the number's bits of the tag (tag & 0x78) are the entry's byte offset. A
// first byte of a longer tag (0x80 set) finds an entry whose tag differs.
_Static_assert(sizeof(cpay_fast_field) == 8, "fast_entry() relies on 8-byte entries");
static CPAY_HOT_INLINE const cpay_fast_field *fast_entry(const cpay_fast_field *fast,
                                                         uint32_t tag) {
  return (const cpay_fast_field *)((const char *)fast + (tag & 0x78));
}

// The general path: one field of `msg` (tag at p), whatever it is. `group`
// points to the number of the group `msg` is, NULL when it is not one; the
// end-group tag that closes it sets it to 0. Returns the position after the
// field, or NULL on error. Out of line, so that the fast loop keeps its
// state in registers.
static CPAY_NOINLINE const uint8_t *decode_general(dec *d, const uint8_t *p, const uint8_t *end,
                                                   void *msg, const cpay_msg_table *t,
                                                   int depth, uint32_t *group, uint32_t *hint) {
  const uint8_t *tag_p = p;
  uint32_t num;
  int wt;
  p = read_tag(d, p, end, &num, &wt);
  if (CPAY_UNLIKELY(!p)) return NULL;
  const cpay_field *f = cpay__field_find_near(t, num, hint);
  if (CPAY_UNLIKELY(wt >= CPAY_WT_EGROUP) && wt != CPAY_WT_FIXED32) {
    if (wt != CPAY_WT_EGROUP || !group || num != *group) {
      return fail_end_group(d, t, f, num, wt, group ? *group : 0, tag_p);
    }
    *group = 0;  // closed
    return p;
  }
  if (CPAY_LIKELY(f != NULL)) {
    if (decode_known(d, tag_p, &p, end, msg, t, f, wt, depth)) return p;
    return keep_unknown(d, tag_p, p, end, msg, num, wt, depth);
  }
  if ((t->flags & CPAY_MSG_EXTENDABLE) && d->extreg) {
    return decode_extension(d, tag_p, p, end, msg, t, num, wt, depth);
  }
  return keep_unknown(d, tag_p, p, end, msg, num, wt, depth);
}

// Decodes the fields of group `group` into `msg` up to its end-group tag.
// Returns the position after that tag, or NULL on error. Groups, long
// deprecated, take the general path only.
static const uint8_t *decode_group(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                   const cpay_msg_table *t, int depth, uint32_t group) {
  const uint32_t num = group;
  uint32_t hint = 0;
  while (p < end) {
    p = decode_general(d, p, end, msg, t, depth, &group, &hint);
    if (CPAY_UNLIKELY(!p)) return NULL;
    if (group == 0) return check_required(d, p, msg, t);
  }
  return fail(d, CPAY_ERR_MALFORMED, num, NULL, p, "group without end group");
}

// The storage of the field of entry e in msg.
static CPAY_HOT_INLINE char *fast_dst(void *msg, const cpay_fast_field *e) {
  return (char *)msg + e->offset;
}

// Stores the n bytes at v as the value of the field of entry e (through
// memcpy, as the field's own type may be a double or an enum).
static CPAY_HOT_INLINE void fast_store(void *msg, const cpay_fast_field *e, const void *v,
                                       size_t n) {
  memcpy(fast_dst(msg, e), v, n);
}

// The jump on a fast entry's kind: through a table of label addresses where
// the compiler has them (GNU C's computed goto: one indirect jump, where a
// switch in position-independent code takes three more instructions and a
// range check), else a switch that jumps to the same labels. Defining
// CPAY_DECODE_SWITCH builds the switch with any compiler. Kinds come from
// generated tables, whose format CPAY_GENCODE_VERSION guards; the table
// jump does not check their range.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(CPAY_DECODE_SWITCH)
#define FAST_JUMP_TABLE 1
// Labels as values are GNU C, which -Wpedantic points out.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#else
#define FAST_JUMP_TABLE 0
#endif

// Decodes fields into `msg` up to `end`. Returns the position after the
// message, or NULL on error.
//
// Each field whose tag byte is the one its fast entry takes goes the way the
// entry's kind says, right here; a field the fast path declines (see
// above) goes to decode_general() with nothing consumed.
static const uint8_t *decode_msg(dec *d, const uint8_t *p, const uint8_t *end, void *msg,
                                 const cpay_msg_table *t, int depth) {
#if FAST_JUMP_TABLE
  static const void *const kinds[] = {
      [CPAY_FAST_NONE] = &&general,
      [CPAY_FAST_BOOL] = &&k_bool,
      [CPAY_FAST_V32] = &&k_v32,
      [CPAY_FAST_V64] = &&k_v64,
      [CPAY_FAST_Z32] = &&k_z32,
      [CPAY_FAST_Z64] = &&k_z64,
      [CPAY_FAST_CLOSED_ENUM] = &&k_closed_enum,
      [CPAY_FAST_F32] = &&k_f32,
      [CPAY_FAST_F64] = &&k_f64,
      [CPAY_FAST_STRING] = &&k_string,
      [CPAY_FAST_BYTES] = &&k_bytes,
      [CPAY_FAST_MESSAGE] = &&k_message,
      [CPAY_FAST_REP_STRING] = &&k_rep_string,
      [CPAY_FAST_REP_BYTES] = &&k_rep_bytes,
      [CPAY_FAST_REP_MESSAGE] = &&k_rep_message,
      [CPAY_FAST_REP_SCALAR] = &&k_rep_scalar,
      [CPAY_FAST_PACKED] = &&k_packed,
  };
#define FAST_JUMP(kind) goto *kinds[kind]
#else
#define FAST_JUMP(kind)                                  \
  switch (kind) {                                        \
    case CPAY_FAST_BOOL: goto k_bool;                    \
    case CPAY_FAST_V32: goto k_v32;                      \
    case CPAY_FAST_V64: goto k_v64;                      \
    case CPAY_FAST_Z32: goto k_z32;                      \
    case CPAY_FAST_Z64: goto k_z64;                      \
    case CPAY_FAST_CLOSED_ENUM: goto k_closed_enum;      \
    case CPAY_FAST_F32: goto k_f32;                      \
    case CPAY_FAST_F64: goto k_f64;                      \
    case CPAY_FAST_STRING: goto k_string;                \
    case CPAY_FAST_BYTES: goto k_bytes;                  \
    case CPAY_FAST_MESSAGE: goto k_message;              \
    case CPAY_FAST_REP_STRING: goto k_rep_string;        \
    case CPAY_FAST_REP_BYTES: goto k_rep_bytes;          \
    case CPAY_FAST_REP_MESSAGE: goto k_rep_message;      \
    case CPAY_FAST_REP_SCALAR: goto k_rep_scalar;        \
    case CPAY_FAST_PACKED: goto k_packed;                \
    default: goto general;                               \
  }
#endif
  uint32_t hint = 0;
  while (p < end) {
    uint32_t tag = p[0];
    const cpay_fast_field *e = fast_entry(t->fast, tag);
    if (CPAY_UNLIKELY(e->tag != tag)) goto general;
    const uint8_t *q;
    uint64_t v;
    FAST_JUMP(e->kind);
  k_bool:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    fast_store(msg, e, &(bool){v != 0}, sizeof(bool));
    goto taken;
  k_v32:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    fast_store(msg, e, &(uint32_t){(uint32_t)v}, 4);
    goto taken;
  k_v64:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    fast_store(msg, e, &v, 8);
    goto taken;
  k_z32:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    fast_store(msg, e, &(int32_t){cpay__zigzag_dec32((uint32_t)v)}, 4);
    goto taken;
  k_z64:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    fast_store(msg, e, &(int64_t){cpay__zigzag_dec64(v)}, 8);
    goto taken;
  k_closed_enum:
    if (CPAY_UNLIKELY(!(q = fast_varint_value(p, end, &v)))) goto general;
    if (v >= 64 || !((t->subs[e->sub].enm->low_mask >> v) & 1)) goto general;
    fast_store(msg, e, &(uint32_t){(uint32_t)v}, 4);
    goto taken;
  k_f32:
    if (CPAY_UNLIKELY(end - p < 5)) goto general;
    fast_store(msg, e, &(uint32_t){cpay__load32(p + 1)}, 4);
    q = p + 5;
    goto taken;
  k_f64:
    if (CPAY_UNLIKELY(end - p < 9)) goto general;
    fast_store(msg, e, &(uint64_t){cpay__load64(p + 1)}, 8);
    q = p + 9;
    goto taken;
  k_string:
    if (CPAY_UNLIKELY(p + 1 >= end)) goto general;
    q = fast_str(d, p + 1, end, true, (cpay_str *)fast_dst(msg, e));
    if (CPAY_UNLIKELY(!q)) goto general;
    goto taken;
  k_bytes:
    if (CPAY_UNLIKELY(p + 1 >= end)) goto general;
    q = fast_str(d, p + 1, end, false, (cpay_str *)fast_dst(msg, e));
    if (CPAY_UNLIKELY(!q)) goto general;
    goto taken;
  k_message:
    q = fast_message(d, p, end, (void **)fast_dst(msg, e), t->subs[e->sub].msg, depth);
    if (CPAY_UNLIKELY(q == p)) goto general;
    if (CPAY_UNLIKELY(!q)) return NULL;
    goto taken;
  k_rep_string:
    q = fast_string_run(d, p, end, (cpay_array *)fast_dst(msg, e), true);
    goto run;
  k_rep_bytes:
    q = fast_string_run(d, p, end, (cpay_array *)fast_dst(msg, e), false);
    goto run;
  k_rep_message:
    if (CPAY_UNLIKELY(depth + 1 >= d->max_depth)) goto general;
    q = fast_message_run(d, p, end, (cpay_array *)fast_dst(msg, e), t->subs[e->sub].msg,
                         depth);
    if (CPAY_UNLIKELY(!q)) return NULL;
    goto run;
  k_rep_scalar: {
    const cpay_field *f = &t->fields[e->sub];
    p = decode_scalar(d, p + 1, end, msg, fast_dst(msg, e), f, t->subs, field_name(t, f), p,
                      tag & 7, true);
    if (CPAY_UNLIKELY(!p)) return NULL;
    continue;
  }
  k_packed: {
    const cpay_field *f = &t->fields[e->sub];
    p = decode_packed(d, p + 1, end, msg, (cpay_array *)fast_dst(msg, e), f, t->subs,
                      field_name(t, f));
    if (CPAY_UNLIKELY(!p)) return NULL;
    continue;
  }
  taken:
    ((uint8_t *)msg)[e->has_byte] |= e->has_mask;
    p = q;
    continue;
  run:
    // A run of repeated elements: none taken (q == p) leaves the first to
    // the general path.
    if (CPAY_UNLIKELY(q == p)) goto general;
    p = q;
    continue;
  general:
    p = decode_general(d, p, end, msg, t, depth, NULL, &hint);
    if (CPAY_UNLIKELY(!p)) return NULL;
  }
  return check_required(d, p, msg, t);
#undef FAST_JUMP
}
#if FAST_JUMP_TABLE
#pragma GCC diagnostic pop
#endif

// The error for a tree that decoded without all its required fields: names
// the first one missing, `bit` of a message of type `mt`, and the offset
// where the first message decoding saw without all its fields ended. Out of
// line, as rare.
static CPAY_NOINLINE cpay_code fail_required(const dec *d, const cpay_msg_table *mt,
                                             uint32_t bit) {
  const cpay_field *f = cpay__field_with_bit(mt, bit);
  uint32_t num = f ? f->number : 0;
  const char *name = f && mt->field_names ? mt->field_names[f - mt->fields] : "?";
  return cpay_status_set(d->st, CPAY_ERR_REQUIRED,
                         "field %u (%s): missing required field of %s at offset %zu",
                         (unsigned)num, name, mt->full_name ? mt->full_name : "?",
                         d->missing_offset);
}

cpay_code cpay_decode(const uint8_t *buf, size_t len, void *msg, const cpay_msg_table *t,
                      cpay_arena *a, const cpay_decode_opts *opts, cpay_status *st) {
  if (!msg || !t || !a || (!buf && len)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "cpay_decode: NULL argument");
  }
  if (!buf) buf = empty_buf;
  dec d = {
      .buf = buf,
      .arena = a,
      .extreg = opts ? opts->extreg : NULL,
      .st = st,
      .flags = opts ? opts->flags : 0,
      .max_depth = opts && opts->max_depth > 0 ? opts->max_depth : CPAY_DEFAULT_MAX_DEPTH,
      .code = CPAY_OK,
      .missing_table = NULL,
      .missing_offset = 0,
  };
  if (!decode_msg(&d, buf, buf + len, msg, t, 0)) return d.code;
  if (d.missing_table) {
    // A later occurrence may have merged the missing fields in: look again.
    uint32_t bit;
    const cpay_msg_table *mt = cpay__msg_find_missing(msg, t, &bit);
    if (mt) return fail_required(&d, mt, bit);
  }
  return CPAY_OK;
}
