// Descriptions of messages and enums: what the text and JSON formats need
// beyond the binary tables of cpay/gencode.h (JSON names, the descriptions
// of nested messages and enums, enum value names, the well-known type a
// message is), and the registry of types and extensions that both formats
// use for google.protobuf.Any and "[pkg.ext]" fields.
//
// protoc-gen-cpay emits one description per message (`T_desc`) and per enum
// (`E_desc`); they are data that refer only to other data, so a program
// links the code of a format only when it calls it. cpay_enum_name() is how
// generated `E_name()` functions find a value's name.
//
// Thread safety: a registry may be read from many threads once it is no
// longer added to.
#ifndef CPAY_REFLECT_H_
#define CPAY_REFLECT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// ---- descriptions (emitted by protoc-gen-cpay; not a user API) -------------

// The well-known types with a special JSON form (cpay_msg_desc.wkt).
enum {
  CPAY_WKT_NONE = 0,
  CPAY_WKT_ANY,
  CPAY_WKT_TIMESTAMP,
  CPAY_WKT_DURATION,
  CPAY_WKT_FIELD_MASK,
  CPAY_WKT_STRUCT,
  CPAY_WKT_VALUE,
  CPAY_WKT_LIST_VALUE,
  CPAY_WKT_EMPTY,
  CPAY_WKT_WRAPPER,  // google.protobuf.*Value: the JSON of field 1 alone
};

// The names of an enum's values, in declaration order (aliases included).
typedef struct cpay_enum_desc {
  const char *full_name;        // e.g. "payments.v1.ChargeStatus"
  const char *const *names;     // "CHARGE_STATUS_SUCCESS"
  const int32_t *numbers;       // parallel to names
  uint32_t count;
  bool closed;                  // proto2 enum: unknown numbers are rejected
} cpay_enum_desc;

typedef struct cpay_msg_desc cpay_msg_desc;

// The description of a message: arrays parallel to table->fields.
struct cpay_msg_desc {
  const cpay_msg_table *table;
  const char *const *json_names;       // lowerCamelCase or the json_name option
  const cpay_msg_desc *const *msgs;    // message, group and map fields (NULL otherwise)
  const cpay_enum_desc *const *enums;  // enum fields, also map values (NULL otherwise)
  uint8_t wkt;                         // CPAY_WKT_*
  const uint16_t *by_json_name;        // field indexes sorted by JSON name (bytewise)
  const uint16_t *by_name;             // field indexes sorted by proto name
  // The names the message reserves (`reserved "old_name";`), NULL-terminated;
  // NULL when none. Text format input may still name them: the value is
  // parsed and dropped, as protobuf's parsers do.
  const char *const *reserved_names;
};

// The description of an extension (JSON and text write it as "[full.name]").
typedef struct cpay_ext_desc {
  const cpay_ext *ext;
  const cpay_msg_desc *msg;   // message extensions (NULL otherwise)
  const cpay_enum_desc *enm;  // enum extensions (NULL otherwise)
} cpay_ext_desc;

// ---- the registry of types (for google.protobuf.Any) and extensions -------------

// A set of message types found by full name ("payments.v1.ChargeRequest").
// Generated files add theirs with <file prefix>_register_types(r), which also
// registers the types of their imports; cpay_wkt_register_types() (cpay/wkt.h)
// adds every well-known type.
typedef struct cpay_registry cpay_registry;

// A new empty registry on `a` (it lives as long as `a`); NULL when out of memory.
CPAY_API cpay_registry *cpay_registry_new(cpay_arena *a);
// Adds `m` (adding a type twice is a no-op).
CPAY_API CPAY_NODISCARD cpay_code cpay_registry_add(cpay_registry *r,
                                                    const cpay_msg_desc *m);
// Adds every table of `ms`; generated registration functions call this.
CPAY_API CPAY_NODISCARD cpay_code cpay_registry_add_all(cpay_registry *r,
                                                        const cpay_msg_desc *const *ms,
                                                        size_t count);
// The type named `full_name` (not NUL-terminated), or NULL.
CPAY_API const cpay_msg_desc *cpay_registry_find(const cpay_registry *r,
                                                 const char *full_name, size_t len);
// Extensions: registered by the same generated functions; the parser
// accepts "[pkg.ext_name]" keys for those registered, the encoder writes
// every extension set in a message (message and enum extensions must be
// registered).
CPAY_API CPAY_NODISCARD cpay_code cpay_registry_add_exts(cpay_registry *r,
                                                         const cpay_ext_desc *const *xs,
                                                         size_t count);
CPAY_API const cpay_ext_desc *cpay_registry_find_ext(const cpay_registry *r,
                                                     const char *full_name, size_t len);

// ---- enum values ---------------------------------------------------------------

// The name of `value` in `e` (the first one declared, for aliases); NULL when
// `e` defines no such value.
CPAY_API const char *cpay_enum_name(const cpay_enum_desc *e, int32_t value);
// The number of the value named `name` (`len` bytes, not NUL-terminated) in
// `e`; false when `e` has no such name.
CPAY_API bool cpay_enum_value(const cpay_enum_desc *e, const char *name, size_t len,
                              int32_t *value);

CPAY_EXTERN_C_END

#endif  // CPAY_REFLECT_H_
