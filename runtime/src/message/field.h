// The reflection layer: how any code that works on messages through their
// tables (cpay/gencode.h) finds a field, reaches its storage, tests and sets
// its presence and walks the fields that are set, so that the layout
// contract of gencode.h is read in one place. The binary decoder and
// encoder, JSON, text format and the message functions all go through
// these helpers. Lookups by name, which need the descriptions of
// cpay/reflect.h, are in reflect/reflect.h.
//
// Everything is inline but cpay__field_find, cpay__field_with_bit and the
// iteration (field.c), which only the formats, error messages and the
// required-field check use.
#ifndef CPAY_MESSAGE_FIELD_H_
#define CPAY_MESSAGE_FIELD_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpay/gencode.h"
#include "port_internal.h"

// ---- types -----------------------------------------------------------------------

// Bytes one value of `type` occupies in a message struct, an array or an
// extension's storage (0 for a number that is no CPAY_TYPE_*).
static inline size_t cpay__type_size(uint8_t type) {
  static const uint8_t sizes[19] = {
      0,
      8,                   // double
      4,                   // float
      8,                   // int64
      8,                   // uint64
      4,                   // int32
      8,                   // fixed64
      4,                   // fixed32
      sizeof(bool),        // bool
      sizeof(cpay_str),    // string
      sizeof(void *),      // group
      sizeof(void *),      // message
      sizeof(cpay_bytes),  // bytes
      4,                   // uint32
      4,                   // enum
      4,                   // sfixed32
      8,                   // sfixed64
      4,                   // sint32
      8,                   // sint64
  };
  return type < 19 ? sizes[type] : 0;
}

// Whether values of `type` are submessages (stored as pointers).
static inline bool cpay__type_is_msg(uint8_t type) {
  return type == CPAY_TYPE_MESSAGE || type == CPAY_TYPE_GROUP;
}

// Whether the value of `type` at `p` is its type's zero: bitwise zero for
// scalars (so -0.0 is not), empty for strings and bytes, NULL for messages.
// A message's pointer is tested as the bits of its size, as the runtime
// takes NULL to be all bits zero (a zeroed message holds NULL pointers):
// no test of the type for it, which clang keeps in the encoder's loop
// (1.6% more instructions on the txpage workload).
static inline bool cpay__value_is_zero(uint8_t type, const void *p) {
  if (type == CPAY_TYPE_STRING || type == CPAY_TYPE_BYTES) {
    return ((const cpay_str *)p)->size == 0;
  }
  switch (cpay__type_size(type)) {
    case 1:
      return *(const uint8_t *)p == 0;
    case 4: {
      uint32_t v;
      memcpy(&v, p, 4);
      return v == 0;
    }
    default: {
      uint64_t v;
      memcpy(&v, p, 8);
      return v == 0;
    }
  }
}

// The value of `type` at `p` as a cpay_value (maps keep keys and values so).
static inline cpay_value cpay__value_load(uint8_t type, const void *p) {
  cpay_value v;
  memset(&v, 0, sizeof v);
  memcpy(&v, p, cpay__type_size(type));
  return v;
}

// Stores `x` at `p` as a value of `type` (CPAY_TYPE_DOUBLE or CPAY_TYPE_FLOAT,
// rounded to the nearest float), the way the text and JSON parsers write them.
static inline void cpay__value_store_real(uint8_t type, double x, void *p) {
  if (type == CPAY_TYPE_FLOAT) {
    float f = (float)x;
    memcpy(p, &f, sizeof f);
  } else {
    memcpy(p, &x, sizeof x);
  }
}

// ---- storage and presence ----------------------------------------------------------

// The storage of field `f` in `msg`. For an extension, `msg` is the
// extension's storage (its field has offset 0 and presence 0).
static inline void *cpay__field_ptr(void *msg, const cpay_field *f) {
  return (char *)msg + f->offset;
}

// The same for reading.
static inline const void *cpay__field_cptr(const void *msg, const cpay_field *f) {
  return (const char *)msg + f->offset;
}

// The case of the oneof whose members have presence `presence` (< 0): the
// number of the member that is set, or 0. For loops that hold the presence
// in a register already; always inlined, as without that gcc's encoder
// loop takes up to 1.2% more instructions (the fds workload).
static CPAY_HOT_INLINE uint32_t cpay__oneof_case(const void *msg, int32_t presence) {
  return *(const uint32_t *)((const char *)msg - presence);
}

// The case of the oneof that `f` (presence < 0) belongs to: the number of
// the member that is set, or 0.
static inline uint32_t cpay__field_case(const void *msg, const cpay_field *f) {
  return cpay__oneof_case(msg, f->presence);
}

// Sets the case of the oneof that `f` (presence < 0) belongs to.
static inline void cpay__field_set_case(void *msg, const cpay_field *f, uint32_t number) {
  *(uint32_t *)((char *)msg - f->presence) = number;
}

// Whether `a` and `b` are members of one oneof (they share its case).
static inline bool cpay__field_same_oneof(const cpay_field *a, const cpay_field *b) {
  return a->presence < 0 && a->presence == b->presence;
}

// Whether singular field `f` of `msg` is set: its oneof case, a message's
// pointer, its presence bit; with implicit presence, whether it differs
// from zero (-0.0 counts as set).
static inline bool cpay__field_has(const void *msg, const cpay_field *f) {
  if (f->presence < 0) return cpay__field_case(msg, f) == f->number;
  const void *p = cpay__field_cptr(msg, f);
  if (cpay__type_is_msg(f->type)) return *(void *const *)p != NULL;
  if (f->presence > 0) return cpay__has(msg, (uint32_t)f->presence - 1);
  return !cpay__value_is_zero(f->type, p);
}

// Marks singular field `f` present: its presence bit or its oneof's case.
static inline void cpay__field_mark(void *msg, const cpay_field *f) {
  if (f->presence > 0) {
    cpay__set_has(msg, (uint32_t)f->presence - 1);
  } else if (f->presence < 0) {
    cpay__field_set_case(msg, f, f->number);
  }
}

// Before a value is stored in oneof member `f`: when another member is set,
// zeroes the storage the members share, so that no byte of the other
// member's value is read as this one's (a message pointer above all).
static inline void cpay__field_prepare(void *msg, const cpay_field *f) {
  if (f->presence < 0 && cpay__field_case(msg, f) != f->number) {
    memset(cpay__field_ptr(msg, f), 0, cpay__type_size(f->type));
  }
}

// Stores the value of f's type at `value` in singular field `f` and marks
// it present.
static inline void cpay__field_set(void *msg, const cpay_field *f, const void *value) {
  memcpy(cpay__field_ptr(msg, f), value, cpay__type_size(f->type));
  cpay__field_mark(msg, f);
}

// Resets singular field `f` of `msg` (of type `t`) to its default and
// clears its presence; a oneof member that is not the one set is left alone.
static inline void cpay__field_clear(void *msg, const cpay_msg_table *t, const cpay_field *f) {
  if (f->presence < 0) {
    if (cpay__field_case(msg, f) != f->number) return;
    cpay__field_set_case(msg, f, 0);
  } else if (f->presence > 0) {
    cpay__clear_has(msg, (uint32_t)f->presence - 1);
  }
  void *p = cpay__field_ptr(msg, f);
  size_t n = cpay__type_size(f->type);
  if (t->defaults && f->presence >= 0) {
    memcpy(p, (const char *)t->defaults + f->offset, n);
  } else {
    memset(p, 0, n);
  }
}

// ---- lookup by number --------------------------------------------------------------

// The field numbered `num` in `t`, or NULL. Numbers 1..dense_below index
// the table directly; otherwise the field after *hint (the index after the
// one found last: fields usually come in order) is tried, then a binary
// search. *hint is updated.
//
// Always inlined: the decoder's general path calls it for every field the
// fast path declines, and without that gcc's decoder takes up to 1.8% more
// instructions (the fds workload).
static CPAY_HOT_INLINE const cpay_field *cpay__field_find_near(const cpay_msg_table *t,
                                                               uint32_t num, uint32_t *hint) {
  if (num - 1 < t->dense_below) {
    *hint = num;
    return &t->fields[num - 1];
  }
  uint32_t h = *hint;
  if (h < t->field_count && t->fields[h].number == num) {
    *hint = h + 1;
    return &t->fields[h];
  }
  uint32_t lo = t->dense_below, hi = t->field_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t n = t->fields[mid].number;
    if (n == num) {
      *hint = mid + 1;
      return &t->fields[mid];
    }
    if (n < num) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return NULL;
}

// The field numbered `num` in `t`, or NULL (not inline: for the formats).
const cpay_field *cpay__field_find(const cpay_msg_table *t, uint32_t num);

// The field of `t` whose presence bit is `bit`, or NULL (not inline: for
// the errors that name a missing required field, whose bits are
// 0..required_count-1).
const cpay_field *cpay__field_with_bit(const cpay_msg_table *t, uint32_t bit);

// ---- arrays and maps --------------------------------------------------------------

// Appends a copy of the value of `type` at `value` to `arr`; false when out
// of memory.
static inline bool cpay__array_push(void *arr, uint8_t type, const void *value, cpay_arena *a) {
  size_t es = cpay__type_size(type);
  void *slot = cpay__array_add(arr, es, a);
  if (!slot) return false;
  memcpy(slot, value, es);
  return true;
}

// Element `i` of an array of values of `type`.
static inline const void *cpay__array_at(const void *arr, uint8_t type, size_t i) {
  return (const char *)((const cpay_array *)arr)->data + i * cpay__type_size(type);
}

// The key field of a map-entry table (gencode.h: fields[0], number 1).
static inline const cpay_field *cpay__map_key_field(const cpay_msg_table *entry) {
  return &entry->fields[0];
}

// The value field of a map-entry table (fields[1], number 2).
static inline const cpay_field *cpay__map_value_field(const cpay_msg_table *entry) {
  return &entry->fields[1];
}

// ---- iteration ---------------------------------------------------------------------

// One field that cpay__msg_next() found set.
typedef struct cpay__field_ref {
  const cpay_field *f;   // the field, or the extension's field
  const void *p;         // its storage (for a map: the cpay_map * slot)
  uint32_t index;        // f's index in the table and the description's
                         // arrays; not meaningful for extensions
  const cpay_ext *ext;   // the extension, or NULL for a field of the table
} cpay__field_ref;

enum {
  // Also yield fields that hold their default and cannot tell it from
  // absence: empty repeated fields and maps, and non-message scalars with
  // implicit presence (what JSON writes with CPAY_JSON_EMIT_DEFAULTS).
  CPAY__ITER_DEFAULTS = 1u << 0,
};

// Where an iteration over a message stands.
typedef struct cpay__msg_iter {
  const void *msg;
  const cpay_msg_table *t;
  uint32_t next;   // a field index; from t->field_count on, extensions
  uint32_t flags;  // CPAY__ITER_*
} cpay__msg_iter;

// Starts an iteration over `msg` of type `t`.
static inline void cpay__msg_iter_init(cpay__msg_iter *it, const void *msg,
                                       const cpay_msg_table *t, uint32_t flags) {
  it->msg = msg;
  it->t = t;
  it->next = 0;
  it->flags = flags;
}

// The next field of the message that is set, into *out; false at the end.
// Fields come in number order, then the extensions in number order (every
// extension the message holds an entry for, also an empty repeated one),
// as every format writes them. The message must not change meanwhile.
bool cpay__msg_next(cpay__msg_iter *it, cpay__field_ref *out);

#endif  // CPAY_MESSAGE_FIELD_H_
