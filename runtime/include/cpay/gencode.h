// Support for generated code: the table format that describes a message to
// the one table-driven decoder and encoder, and small inline helpers that
// generated accessors call. Not a user API: it may change between versions
// (generated files check CPAY_GENCODE_VERSION).
//
// The layout contract between protoc-gen-cpay and the runtime:
//
// - A message is a C struct whose first member is `cpay_msg_header hdr`.
//   When the message has presence bits, `uint32_t hasbits_[N]` follows it
//   directly (at offset CPAY_HASBITS_OFFSET); bit i lives in word i / 32.
//   Presence bits go, in order, to proto2 required fields (bits
//   0 .. required_count-1), then to every other singular non-message field
//   with explicit presence that is not in a oneof (proto2 optional, proto3
//   `optional`). A required message field has a presence bit too (for the
//   required check; the decoder sets it, setters must set it), but encoding
//   and is_initialized treat the non-NULL pointer as its presence.
// - Storage of a field, by mode and type:
//   CPAY_MODE_SCALAR: int32/sint32/sfixed32/enum -> int32_t;
//     uint32/fixed32 -> uint32_t; int64/sint64/sfixed64 -> int64_t;
//     uint64/fixed64 -> uint64_t; float; double; bool -> bool (1 byte);
//     string -> cpay_str; bytes -> cpay_bytes; message/group -> pointer to
//     the submessage struct, NULL when absent (presence is non-NULL).
//   CPAY_MODE_ARRAY: a cpay_array-compatible struct {T *data; size_t size;
//     size_t cap;} with elements stored as above (messages as pointers).
//   CPAY_MODE_MAP: a `cpay_map *`, NULL when empty; `sub` is the table of
//     the synthetic map-entry message (key = field 1, value = field 2).
//     The entry struct is {hdr, key, value} (no presence bits), its table
//     has fields[0] = key and fields[1] = value, both with presence 0; the
//     map's key_type/val_type are those fields' types. A missing key or
//     value takes the entry table's defaults (zero, empty message).
// - A oneof is a `uint32_t <name>_case` member holding the field number of
//   the member that is set (0: none) followed by a union of its members; each
//   member's presence is -(offset of the case member).
// - Proto3 fields with implicit presence (presence == 0, scalar mode) are
//   written when they differ from zero (strings and bytes: non-empty).
#ifndef CPAY_GENCODE_H_
#define CPAY_GENCODE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// Field types: the numbers of descriptor.proto's FieldDescriptorProto.Type.
enum {
  CPAY_TYPE_DOUBLE = 1,
  CPAY_TYPE_FLOAT = 2,
  CPAY_TYPE_INT64 = 3,
  CPAY_TYPE_UINT64 = 4,
  CPAY_TYPE_INT32 = 5,
  CPAY_TYPE_FIXED64 = 6,
  CPAY_TYPE_FIXED32 = 7,
  CPAY_TYPE_BOOL = 8,
  CPAY_TYPE_STRING = 9,
  CPAY_TYPE_GROUP = 10,
  CPAY_TYPE_MESSAGE = 11,
  CPAY_TYPE_BYTES = 12,
  CPAY_TYPE_UINT32 = 13,
  CPAY_TYPE_ENUM = 14,
  CPAY_TYPE_SFIXED32 = 15,
  CPAY_TYPE_SFIXED64 = 16,
  CPAY_TYPE_SINT32 = 17,
  CPAY_TYPE_SINT64 = 18,
};

// Wire types, and the one a field of each type is written with (unpacked):
// the fast tables' tags (below) hold it.
enum {
  CPAY_WT_VARINT = 0,
  CPAY_WT_FIXED64 = 1,
  CPAY_WT_LEN = 2,
  CPAY_WT_SGROUP = 3,
  CPAY_WT_EGROUP = 4,
  CPAY_WT_FIXED32 = 5,
};

// The wire type a field of `type` uses when not packed.
static inline int cpay__type_wire_type(uint8_t type) {
  static const int8_t wt[19] = {
      -1,
      CPAY_WT_FIXED64,  // double
      CPAY_WT_FIXED32,  // float
      CPAY_WT_VARINT,   // int64
      CPAY_WT_VARINT,   // uint64
      CPAY_WT_VARINT,   // int32
      CPAY_WT_FIXED64,  // fixed64
      CPAY_WT_FIXED32,  // fixed32
      CPAY_WT_VARINT,   // bool
      CPAY_WT_LEN,      // string
      CPAY_WT_SGROUP,   // group
      CPAY_WT_LEN,      // message
      CPAY_WT_LEN,      // bytes
      CPAY_WT_VARINT,   // uint32
      CPAY_WT_VARINT,   // enum
      CPAY_WT_FIXED32,  // sfixed32
      CPAY_WT_FIXED64,  // sfixed64
      CPAY_WT_VARINT,   // sint32
      CPAY_WT_VARINT,   // sint64
  };
  return type < 19 ? wt[type] : -1;
}

// cpay_field.mode: the cardinality in the low two bits, then flags.
enum {
  CPAY_MODE_SCALAR = 0,
  CPAY_MODE_ARRAY = 1,
  CPAY_MODE_MAP = 2,
  CPAY_MODE_MASK = 3,
  CPAY_MODE_PACKED = 1 << 2,       // repeated scalar written packed
  CPAY_MODE_UTF8 = 1 << 3,         // string validated as UTF-8 on parse (proto3, VERIFY)
  CPAY_MODE_CLOSED_ENUM = 1 << 4,  // enum: sub is its cpay_enum_table; unknown
                                   // values go to the unknown fields
  // A group (an editions DELIMITED message field) that is not "group-like":
  // the text format names it by its field name, not by its type's name.
  CPAY_MODE_TEXT_FIELD_NAME = 1 << 5,
};

typedef struct cpay_enum_table cpay_enum_table;

// The table of a submessage (message, group, map entry) or closed enum.
typedef union cpay_sub {
  const cpay_msg_table *msg;
  const cpay_enum_table *enm;
} cpay_sub;

// One field. 16 bytes, so a table scan stays within few cache lines.
typedef struct cpay_field {
  uint32_t number;
  uint32_t offset;   // of the storage within the message struct
  int32_t presence;  // 0: none/implicit; >0: presence bit + 1;
                     // <0: -(offset of the oneof's uint32_t case member)
  uint16_t sub;      // index into the table's subs (message, group, map, closed enum)
  uint8_t type;      // CPAY_TYPE_*
  uint8_t mode;      // CPAY_MODE_*
} cpay_field;

// How the decoder's fast path takes the field of one number from 1 to 15
// (whose tag is one byte): a message table's `fast` array holds one entry
// per number, indexed by it. An entry takes only the tag byte `tag`; any
// other tag of that number, and every entry of kind CPAY_FAST_NONE, goes
// the general way. The generator leaves oneof members, maps and groups to
// the general path.
typedef struct cpay_fast_field {
  uint8_t tag;       // number << 3 | wire type: the one tag byte taken
  uint8_t kind;      // CPAY_FAST_*
  uint8_t has_byte;  // presence: byte has_byte of the message gets the bits
  uint8_t has_mask;  // has_mask when a value is taken (0 and 0: no presence)
  uint16_t offset;   // of the storage; an entry whose storage lies beyond
                     // 64 KiB has tag 0, see CPAY_FAST()
  uint16_t sub;      // as cpay_field's sub; for CPAY_FAST_REP_SCALAR and
                     // CPAY_FAST_PACKED, the index of the field in fields
} cpay_fast_field;

// Kinds of fast entries: the wire value each takes and what it stores.
enum {
  CPAY_FAST_NONE = 0,       // the general path takes the field
  CPAY_FAST_BOOL,           // varint -> bool
  CPAY_FAST_V32,            // varint -> its low 32 bits (int32, uint32, open enum)
  CPAY_FAST_V64,            // varint -> 64 bits (int64, uint64)
  CPAY_FAST_Z32,            // zigzag varint -> int32 (sint32)
  CPAY_FAST_Z64,            // zigzag varint -> int64 (sint64)
  CPAY_FAST_CLOSED_ENUM,    // varint -> int32, values 0..63 of enum `sub` only
  CPAY_FAST_F32,            // 4 bytes (fixed32, sfixed32, float)
  CPAY_FAST_F64,            // 8 bytes (fixed64, sfixed64, double)
  CPAY_FAST_STRING,         // length-delimited, valid UTF-8 -> cpay_str
  CPAY_FAST_BYTES,          // length-delimited -> cpay_str (bytes, unchecked string)
  CPAY_FAST_MESSAGE,        // length-delimited -> message of table `sub`
  CPAY_FAST_REP_STRING,     // run of CPAY_FAST_STRING elements of an array
  CPAY_FAST_REP_BYTES,      // run of CPAY_FAST_BYTES elements
  CPAY_FAST_REP_MESSAGE,    // run of CPAY_FAST_MESSAGE elements
  CPAY_FAST_REP_SCALAR,     // one element of a repeated scalar, unpacked
  CPAY_FAST_PACKED,         // a packed run of a repeated scalar
};

// A fast entry as the generator writes it, for a field with presence bit
// `bit` (-1: none) and storage at offset `off`. Storage beyond 64 KiB, or a
// bit beyond the reach of has_byte, leaves the field to the general path.
#define CPAY_FAST(tag, kind, bit, sub, off)                                             \
  {(off) <= 0xffff && (bit) < (int)(8 * (256 - CPAY_HASBITS_OFFSET)) ? (tag) : 0, (kind), \
   (bit) < 0 ? 0 : (uint8_t)(CPAY_HASBITS_OFFSET + CPAY__HAS_BYTE(CPAY__BIT(bit))),     \
   (bit) < 0 ? 0 : (uint8_t)(1u << CPAY__BIT(bit) % 8), (uint16_t)(off), (sub)}
#define CPAY__BIT(bit) ((bit) < 0 ? 0 : (bit))
// The byte of the presence words holding bit `bit` (words are uint32_t).
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CPAY__HAS_BYTE(bit) ((bit) / 32 * 4 + 3 - (bit) % 32 / 8)
#else
#define CPAY__HAS_BYTE(bit) ((bit) / 8)
#endif

// The fast table of a message whose fields all take the general path.
CPAY_API extern const cpay_fast_field cpay__fast_none[16];

// Message table flags.
enum {
  CPAY_MSG_EXTENDABLE = 1 << 0,   // declares extension ranges
  CPAY_MSG_MAP_ENTRY = 1 << 1,    // synthetic map entry message
  CPAY_MSG_MESSAGE_SET = 1 << 2,  // option message_set_wire_format
};

struct cpay_msg_table {
  const cpay_field *fields;        // sorted by number
  const cpay_sub *subs;
  const void *defaults;            // instance copied into new messages; NULL: zeroes
  const char *full_name;           // e.g. "payments.v1.ChargeRequest"
  const char *const *field_names;  // proto names, parallel to fields
  const cpay_fast_field *fast;     // 16 entries, by number (cpay__fast_none: all
                                   // fields go the general way); never NULL
  uint32_t size;                   // sizeof the message struct
  uint16_t field_count;
  uint16_t dense_below;            // fields[i].number == i + 1 for all i < dense_below
  uint16_t required_count;         // presence bits [0, required_count) are required fields
  uint16_t hasbit_count;           // presence bits in total
  uint8_t flags;                   // CPAY_MSG_*
};

// The values a closed enum defines (for proto2 enums, whose unknown values
// the decoder must not store in the field).
struct cpay_enum_table {
  uint64_t low_mask;      // bit v set when value v (0 <= v < 64) is defined
  uint32_t value_count;   // number of defined values outside [0, 64)
  const int32_t *values;  // those values, ascending
};

CPAY_API bool cpay_enum_table_has(const cpay_enum_table *e, int32_t v);

// An extension field. Its value lives in storage held by the extended
// message's header: a scalar, cpay_str, message pointer, or cpay_array, as
// described for fields above (offset 0 of that storage).
struct cpay_ext {
  cpay_field field;                 // number, type and mode; offset/presence 0, sub 0
  const cpay_msg_table *extendee;
  cpay_sub sub;                     // message or closed-enum table of the value
  const char *full_name;            // e.g. "pkg.my_ext"
  const void *default_value;        // proto2 default's storage, or NULL for zero
};

// The storage of one extension value (large enough for every kind).
typedef union cpay_ext_storage {
  cpay_value value;
  struct {
    void *data;
    size_t size;
    size_t cap;
  } array;
} cpay_ext_storage;

typedef struct cpay_msg_internal cpay_msg_internal;

// First member of every generated message.
typedef struct cpay_msg_header {
  cpay_msg_internal *internal;  // unknown fields and extensions; NULL when none
} cpay_msg_header;

#define CPAY_HASBITS_OFFSET sizeof(cpay_msg_header)

// The storage every repeated field's anonymous struct shares.
typedef struct cpay_array {
  void *data;
  size_t size;
  size_t cap;
} cpay_array;

// Internal: grows `arr` and returns the new last slot (zeroed), or NULL when
// out of memory.
CPAY_API void *cpay__array_grow(cpay_array *arr, size_t elem_size, cpay_arena *a);

static inline void *cpay__array_add(void *arr, size_t elem_size, cpay_arena *a) {
  cpay_array *r = (cpay_array *)arr;
  if (CPAY_LIKELY(r->size < r->cap)) {
    void *slot = (char *)r->data + r->size * elem_size;
    memset(slot, 0, elem_size);
    r->size++;
    return slot;
  }
  return cpay__array_grow(r, elem_size, a);
}

static inline bool cpay__has(const void *msg, uint32_t bit) {
  const uint32_t *w = (const uint32_t *)((const char *)msg + CPAY_HASBITS_OFFSET);
  return (w[bit / 32] >> (bit % 32)) & 1u;
}

static inline void cpay__set_has(void *msg, uint32_t bit) {
  uint32_t *w = (uint32_t *)((char *)msg + CPAY_HASBITS_OFFSET);
  w[bit / 32] |= 1u << (bit % 32);
}

static inline void cpay__clear_has(void *msg, uint32_t bit) {
  uint32_t *w = (uint32_t *)((char *)msg + CPAY_HASBITS_OFFSET);
  w[bit / 32] &= ~(1u << (bit % 32));
}

// Registers every extension in `exts` (generated files pass their list).
CPAY_API CPAY_NODISCARD cpay_code cpay__extreg_add_all(cpay_extreg *r,
                                                      const cpay_ext *const *exts,
                                                      size_t count);

CPAY_EXTERN_C_END

#endif  // CPAY_GENCODE_H_
