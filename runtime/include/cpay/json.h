// Proto3 JSON (https://protobuf.dev/programming-guides/proto3/#json): an
// encoder and a parser driven by the binary tables of cpay/gencode.h and the
// descriptions of cpay/reflect.h (JSON names, enum value names).
//
// Generated headers wrap these functions in typed static inline ones
// (payments_v1_ChargeRequest_to_json / _from_json), so only programs that
// call them link the JSON code; generated files also register their
// messages into a cpay_registry so that google.protobuf.Any can be
// printed and parsed. The well-known types have their special JSON forms.
//
// Thread safety: encoding and parsing touch only their arguments; a
// registry may be read from many threads once it is no longer added to.
// Numbers go through snprintf/strtod: LC_NUMERIC must be "C" (the default).
#ifndef CPAY_JSON_H_
#define CPAY_JSON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/reflect.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// ---- encoding ------------------------------------------------------------------

enum {
  // Also write fields that hold their default value: proto3 scalars without
  // presence, empty repeated fields ([]) and empty maps ({}).
  CPAY_JSON_EMIT_DEFAULTS = 1u << 0,
  // Use the .proto field names ("amount_cents") instead of the JSON names
  // ("amountCents").
  CPAY_JSON_PROTO_NAMES = 1u << 1,
  // Write enum values as numbers instead of names.
  CPAY_JSON_ENUMS_AS_INTS = 1u << 2,
};

typedef struct cpay_json_encode_opts {
  uint32_t flags;                       // CPAY_JSON_*
  int indent;                           // spaces per level; 0: one compact line
  const cpay_registry *registry;   // types for Any; NULL: none
  int max_depth;                        // 0: CPAY_DEFAULT_MAX_DEPTH
} cpay_json_encode_opts;

// Writes `msg` (described by `t`) as proto3 JSON into text allocated on `a`,
// NUL-terminated (the NUL is not counted in out->size). `opts` may be NULL.
// Fails with CPAY_ERR_INVALID_ARGUMENT for values that have no JSON form: a
// Timestamp or Duration out of range, a FieldMask path that does not
// round-trip, a Value holding NaN or infinity, an Any whose type is not in the
// registry; with CPAY_ERR_UTF8 for a string that is not UTF-8.
CPAY_API CPAY_NODISCARD cpay_code cpay_json_encode(const void *msg, const cpay_msg_desc *t,
                                                   cpay_arena *a,
                                                   const cpay_json_encode_opts *opts,
                                                   cpay_str *out, cpay_status *st);

// ---- parsing -------------------------------------------------------------------

enum {
  // Skip object keys that name no field, and enum names that name no value
  // (the field, element or map entry is then left out).
  CPAY_JSON_IGNORE_UNKNOWN = 1u << 0,
};

typedef struct cpay_json_decode_opts {
  uint32_t flags;                       // CPAY_JSON_IGNORE_UNKNOWN
  const cpay_registry *registry;   // types for Any; NULL: none
  int max_depth;                        // 0: CPAY_DEFAULT_MAX_DEPTH
} cpay_json_decode_opts;

// Parses `len` bytes of JSON (UTF-8) and merges the object into `msg`, a
// message of type `t` on `a`. Strings are copied onto `a`. `opts` may be
// NULL. Strict: RFC 8259 syntax only (no comments, trailing commas, single
// quotes, NaN literals), no duplicate keys, values of the field's type and
// range, valid UTF-8 and escapes. On error `st` names the JSON path and the
// byte offset, e.g.
// "$.optionalNestedMessage.a: expected a number, got string at offset 37",
// and `msg` may hold part of the input.
CPAY_API CPAY_NODISCARD cpay_code cpay_json_decode(const char *json, size_t len, void *msg,
                                                   const cpay_msg_desc *t, cpay_arena *a,
                                                   const cpay_json_decode_opts *opts,
                                                   cpay_status *st);

CPAY_EXTERN_C_END

#endif  // CPAY_JSON_H_
