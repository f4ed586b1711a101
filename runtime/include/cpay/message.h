// Messages in general: strings, the binary codec entry points, maps, unknown
// fields and extensions. Generated code wraps these in typed functions
// (payments_v1_ChargeRequest_parse and friends); use these directly when
// writing code that works on any message through its table.
#ifndef CPAY_MESSAGE_H_
#define CPAY_MESSAGE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/port.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// A view of string bytes (not NUL-terminated). Memory is owned by an arena,
// by the caller, or (with CPAY_DECODE_ALIAS) by the parsed input buffer.
typedef struct cpay_str {
  const char *data;
  size_t size;
} cpay_str;

// A view of bytes; same layout as cpay_str.
typedef struct cpay_bytes {
  const uint8_t *data;
  size_t size;
} cpay_bytes;

#ifdef __cplusplus
#define CPAY_STR(lit) (cpay_str{(lit), sizeof(lit) - 1})
#else
#define CPAY_STR(lit) ((cpay_str){(lit), sizeof(lit) - 1})
#endif

// A view of a NUL-terminated C string (NULL gives the empty string).
CPAY_API cpay_str cpay_str_from_c(const char *s);
// Copies `s` onto the arena, NUL-terminated (the NUL not counted); {NULL, 0}
// only when out of memory (or s empty).
CPAY_API cpay_str cpay_str_dup(cpay_arena *a, cpay_str s);
CPAY_API bool cpay_str_eq(cpay_str a, cpay_str b);
// Sets *name to the full type name a google.protobuf.Any type URL ends in,
// after its last '/' ("type.googleapis.com/pkg.Msg" gives "pkg.Msg"). False
// when the URL is not of the form "host/full.Name": no '/', or nothing
// before or after it (upb and C++ protobuf refuse those too).
CPAY_API bool cpay_any_type_name(cpay_str url, cpay_str *name);

typedef struct cpay_msg_table cpay_msg_table;  // see cpay/gencode.h
typedef struct cpay_ext cpay_ext;              // an extension, see cpay/gencode.h
typedef struct cpay_extreg cpay_extreg;        // a registry of extensions

// ---- decoding ------------------------------------------------------------

enum {
  // Strings and bytes point into the input buffer instead of being copied;
  // the buffer must then outlive the arena.
  CPAY_DECODE_ALIAS = 1u << 0,
  // Drop unknown fields instead of keeping them for re-encoding.
  CPAY_DECODE_DISCARD_UNKNOWN = 1u << 1,
  // Do not fail when proto2 required fields are missing.
  CPAY_DECODE_ALLOW_PARTIAL = 1u << 2,
};

#define CPAY_DEFAULT_MAX_DEPTH 100

typedef struct cpay_decode_opts {
  uint32_t flags;             // CPAY_DECODE_*
  int max_depth;              // 0: CPAY_DEFAULT_MAX_DEPTH
  const cpay_extreg *extreg;  // extensions to recognise; NULL: none (they stay unknown)
} cpay_decode_opts;

// Parses `len` bytes of binary protobuf and merges them into `msg`, a
// message of type `t` allocated on `a` (or zeroed/new'd by the caller with
// cpay_msg_new). `opts` may be NULL. On error `msg` holds the fields parsed
// so far and `st` names the field and byte offset, e.g.
// "field 4 (idempotency_key): length 70000 exceeds remaining 12 bytes at offset 31".
CPAY_API CPAY_NODISCARD cpay_code cpay_decode(const uint8_t *buf, size_t len,
                                              void *msg, const cpay_msg_table *t,
                                              cpay_arena *a,
                                              const cpay_decode_opts *opts,
                                              cpay_status *st);

// ---- encoding ------------------------------------------------------------

enum {
  // Write map entries sorted by key, so equal messages give equal bytes.
  CPAY_ENCODE_DETERMINISTIC = 1u << 0,
  // Leave out unknown fields.
  CPAY_ENCODE_SKIP_UNKNOWN = 1u << 1,
  // Do not fail when proto2 required fields are missing.
  CPAY_ENCODE_ALLOW_PARTIAL = 1u << 2,
};

typedef struct cpay_encode_opts {
  uint32_t flags;  // CPAY_ENCODE_*
  int max_depth;   // 0: CPAY_DEFAULT_MAX_DEPTH
} cpay_encode_opts;

// Serializes `msg` into bytes allocated on `a`; `out` is valid while `a` is
// (out->data is never NULL on success, even for an empty message). Fields
// are written in field-number order, then extensions, then unknown fields.
// `opts` may be NULL.
CPAY_API CPAY_NODISCARD cpay_code cpay_encode(const void *msg,
                                              const cpay_msg_table *t,
                                              cpay_arena *a,
                                              const cpay_encode_opts *opts,
                                              cpay_bytes *out, cpay_status *st);

// ---- messages --------------------------------------------------------------

// A new message of type `t` on `a`, zeroed and with proto2 defaults set.
// NULL only when out of memory.
CPAY_API void *cpay_msg_new(const cpay_msg_table *t, cpay_arena *a);

// Resets every field to its default and drops unknown fields and extensions.
CPAY_API void cpay_msg_clear(void *msg, const cpay_msg_table *t);

// The unknown fields kept by the decoder, as wire-format bytes ({NULL,0} if none).
CPAY_API cpay_bytes cpay_msg_unknown(const void *msg);

// Appends wire-format bytes to the unknown fields (they are written back
// on encode). The bytes are copied onto `a`.
CPAY_API CPAY_NODISCARD cpay_code cpay_msg_add_unknown(void *msg, const uint8_t *data,
                                                      size_t size, cpay_arena *a);

// True when every proto2 required field in `msg` and its submessages is set.
CPAY_API bool cpay_msg_is_initialized(const void *msg, const cpay_msg_table *t);

// ---- maps ----------------------------------------------------------------

// One key or value of a map: the member matching the field's type is used
// (enums use i32, bytes use str, messages use msg).
typedef union cpay_value {
  bool b;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f;
  double d;
  cpay_str str;
  void *msg;
} cpay_value;

// A hash map from scalar or string keys to values, owned by an arena.
// Iteration order is insertion order (deletion moves the last entry into the
// hole). Keys and string values are stored as given (views are not copied).
typedef struct cpay_map cpay_map;

// A new empty map; key_type and val_type are CPAY_TYPE_* values.
CPAY_API cpay_map *cpay_map_new(cpay_arena *a, uint8_t key_type, uint8_t val_type);
// Number of entries; 0 for NULL.
CPAY_API size_t cpay_map_size(const cpay_map *m);
// Looks up `key`; on success stores the value in *val (if val non-NULL).
CPAY_API bool cpay_map_get(const cpay_map *m, cpay_value key, cpay_value *val);
// Inserts or replaces.
CPAY_API CPAY_NODISCARD cpay_code cpay_map_set(cpay_map *m, cpay_value key,
                                              cpay_value val, cpay_arena *a);
// Removes `key`; false if it was not there.
CPAY_API bool cpay_map_delete(cpay_map *m, cpay_value key);
// Iterates: start with *iter = 0; false when done. Entries must not be
// added or deleted during iteration (values may be changed).
CPAY_API bool cpay_map_next(const cpay_map *m, size_t *iter, cpay_value *key,
                            cpay_value *val);
// Removes every entry.
CPAY_API void cpay_map_clear(cpay_map *m);

// ---- extensions ----------------------------------------------------------

// A registry of extensions for the decoder, keyed by (extendee, number).
CPAY_API cpay_extreg *cpay_extreg_new(cpay_arena *a);
CPAY_API CPAY_NODISCARD cpay_code cpay_extreg_add(cpay_extreg *r, const cpay_ext *ext);
CPAY_API const cpay_ext *cpay_extreg_find(const cpay_extreg *r,
                                          const cpay_msg_table *extendee,
                                          uint32_t number);

// The value of extension `ext` in `msg`, or NULL when it is not set. The
// pointer points at the value's storage: a scalar, cpay_str, message
// pointer, or for repeated extensions a cpay_array (see gencode.h).
CPAY_API const void *cpay_msg_get_ext(const void *msg, const cpay_ext *ext);
// The value's storage, created (zeroed, default applied) if absent; NULL when
// out of memory.
CPAY_API void *cpay_msg_mutable_ext(void *msg, const cpay_ext *ext, cpay_arena *a);
CPAY_API void cpay_msg_clear_ext(void *msg, const cpay_ext *ext);

CPAY_EXTERN_C_END

#endif  // CPAY_MESSAGE_H_
