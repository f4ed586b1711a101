// The plain C model of a set of .proto files: what the shim lowers
// libprotoc's descriptors into, and what the generator and the
// schema-evolution checker read. No C++ type appears here.
//
// A model is allocated from the caller's cps_pool (schema/pool.h) and dies
// with it; no part of it is freed on its own. Pointers between elements (a
// field's message type, a method's input) stay within the model. Arrays keep
// declaration order. Names are NUL-terminated UTF-8.
#ifndef CPAY_PLUGIN_SCHEMA_MODEL_H_
#define CPAY_PLUGIN_SCHEMA_MODEL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cps_file cps_file;
typedef struct cps_message cps_message;
typedef struct cps_field cps_field;
typedef struct cps_oneof cps_oneof;
typedef struct cps_enum cps_enum;
typedef struct cps_enum_value cps_enum_value;
typedef struct cps_service cps_service;
typedef struct cps_method cps_method;
typedef struct cps_http_rule cps_http_rule;

// Where an element is declared, and its comments. line and col are 1-based;
// 0 when the source information is not available (e.g. a FileDescriptorSet
// written without --include_source_info, and always for map-entry messages,
// their fields and synthetic oneofs, which protoc makes up). file is always set.
typedef struct cps_loc {
  const cps_file *file;
  int line;
  int col;
  const char *leading_comments;   // NULL when none; as protoc reports them
  const char *trailing_comments;  // NULL when none
} cps_loc;

// An inclusive range of numbers [start, end]. (Descriptors store message
// reserved and extension ranges with an exclusive end; the shim converts.)
typedef struct cps_range {
  int32_t start;
  int32_t end;
} cps_range;

// CPS_SYNTAX_EDITIONS: `edition = "2023";` and later (cps_file.edition).
typedef enum cps_syntax {
  CPS_SYNTAX_PROTO2 = 2,
  CPS_SYNTAX_PROTO3 = 3,
  CPS_SYNTAX_EDITIONS = 4,
} cps_syntax;

// Editions features (google.protobuf.FeatureSet), resolved: the value
// protobuf's feature resolution gives an element (the edition's defaults,
// then what the file, the enclosing messages, the oneof or enum and the
// element itself set), for proto2 and proto3 files too (they resolve as
// editions "legacy" and "proto3"). The values are FeatureSet's enum
// numbers, never 0 once resolved. Derived flags elsewhere in the model
// (cps_field.has_presence, packed, utf8_validate, a DELIMITED field's
// CPS_TYPE_GROUP, cps_enum.closed) follow from these; the checker compares
// these.
typedef enum cps_field_presence {
  CPS_PRESENCE_EXPLICIT = 1,
  CPS_PRESENCE_IMPLICIT = 2,
  CPS_PRESENCE_LEGACY_REQUIRED = 3,
} cps_field_presence;
typedef enum cps_enum_type { CPS_ENUM_OPEN = 1, CPS_ENUM_CLOSED = 2 } cps_enum_type;
typedef enum cps_repeated_encoding {
  CPS_REPEATED_PACKED = 1,
  CPS_REPEATED_EXPANDED = 2,
} cps_repeated_encoding;
typedef enum cps_utf8_validation { CPS_UTF8_VERIFY = 2, CPS_UTF8_NONE = 3 } cps_utf8_validation;
typedef enum cps_message_encoding {
  CPS_MESSAGE_LENGTH_PREFIXED = 1,
  CPS_MESSAGE_DELIMITED = 2,
} cps_message_encoding;
typedef enum cps_json_format { CPS_JSON_ALLOW = 1, CPS_JSON_LEGACY_BEST_EFFORT = 2 } cps_json_format;

typedef struct cps_features {
  uint8_t field_presence;           // cps_field_presence
  uint8_t enum_type;                // cps_enum_type
  uint8_t repeated_field_encoding;  // cps_repeated_encoding
  uint8_t utf8_validation;          // cps_utf8_validation
  uint8_t message_encoding;         // cps_message_encoding
  uint8_t json_format;              // cps_json_format
  uint8_t enforce_naming_style;     // 1 STYLE2024, 2 STYLE_LEGACY
  uint8_t default_symbol_visibility;  // FeatureSet.VisibilityFeature.DefaultSymbolVisibility
} cps_features;

typedef enum cps_label {
  CPS_LABEL_OPTIONAL = 1,
  CPS_LABEL_REQUIRED = 2,
  CPS_LABEL_REPEATED = 3,
} cps_label;

// Field types use descriptor.proto's numbers (1 = double ... 18 = sint64),
// the same as CPAY_TYPE_* in cpay/gencode.h.
typedef enum cps_type {
  CPS_TYPE_DOUBLE = 1, CPS_TYPE_FLOAT = 2, CPS_TYPE_INT64 = 3, CPS_TYPE_UINT64 = 4,
  CPS_TYPE_INT32 = 5, CPS_TYPE_FIXED64 = 6, CPS_TYPE_FIXED32 = 7, CPS_TYPE_BOOL = 8,
  CPS_TYPE_STRING = 9, CPS_TYPE_GROUP = 10, CPS_TYPE_MESSAGE = 11, CPS_TYPE_BYTES = 12,
  CPS_TYPE_UINT32 = 13, CPS_TYPE_ENUM = 14, CPS_TYPE_SFIXED32 = 15,
  CPS_TYPE_SFIXED64 = 16, CPS_TYPE_SINT32 = 17, CPS_TYPE_SINT64 = 18,
} cps_type;

// A field's explicit default (proto2 `[default = ...]`), already parsed by
// libprotoc. Only the member matching the field's type is meaningful.
typedef struct cps_default {
  bool present;
  int64_t i64;                    // int32/int64/sint*/sfixed* types
  uint64_t u64;                   // uint32/uint64/fixed* types
  double f64;                     // double and float
  bool b;                         // bool
  const char *bytes;              // string/bytes: raw bytes (may contain NUL;
                                  // a NUL follows the last byte)
  size_t bytes_size;
  const cps_enum_value *enum_value;  // enum
  const char *text;               // the default as descriptor.proto writes it
} cps_default;

struct cps_enum_value {
  const char *name;       // "CHARGE_STATUS_SUCCESS"
  const char *full_name;  // "payments.v1.CHARGE_STATUS_SUCCESS" (enum values are siblings of their enum)
  int32_t number;
  int index;              // position within the enum
  const cps_enum *parent;
  bool deprecated;
  cps_features features;  // resolved
  cps_loc loc;
};

struct cps_enum {
  const char *name;       // "ChargeStatus"
  const char *full_name;  // "payments.v1.ChargeStatus"
  const cps_file *file;
  const cps_message *parent;  // NULL at file level
  cps_enum_value *values;
  size_t value_count;
  bool closed;                // enum_type CLOSED: unknown values are not stored
  bool allow_alias;
  cps_features features;      // resolved
  bool deprecated;
  cps_range *reserved_ranges;  // inclusive
  size_t reserved_range_count;
  const char **reserved_names;
  size_t reserved_name_count;
  cps_loc loc;
};

struct cps_oneof {
  const char *name;
  const char *full_name;
  const cps_message *parent;
  const cps_field **fields;
  size_t field_count;
  int index;
  bool synthetic;  // the oneof protoc makes for a proto3 `optional` field
  cps_features features;  // resolved
  cps_loc loc;
};

struct cps_field {
  const char *name;       // "amount_cents"
  const char *full_name;  // "payments.v1.ChargeRequest.amount_cents"
  const char *json_name;  // "amountCents", or the json_name option
  // A json_name option that differs from the derived name. (protoc writes a
  // json_name into every field of a request or descriptor set, so an option
  // equal to the derived name cannot be told apart; every loader answers alike.)
  bool has_json_name_option;
  int32_t number;
  cps_label label;
  cps_type type;
  const cps_message *message_type;  // message, group and map fields
  const cps_enum *enum_type;        // enum fields
  const cps_message *parent;        // containing message; for extensions the
                                    // scope they are declared in (NULL: file level)
  const cps_file *file;
  const cps_oneof *oneof;           // containing oneof, real or synthetic; NULL otherwise
  int index;                        // position in the parent's fields (or extensions)
  bool proto3_optional;
  bool has_presence;                // has_x() makes sense: proto2 singular, proto3
                                    // optional, messages, oneof members
  bool packed;                      // a repeated field written packed
  bool utf8_validate;               // a string field whose UTF-8 is checked
  cps_features features;            // resolved
  bool is_map;                      // repeated map-entry field
  bool is_extension;
  const cps_message *extendee;      // extensions only
  bool deprecated;
  cps_default default_value;
  cps_loc loc;
};

struct cps_message {
  const char *name;       // "ChargeRequest"
  const char *full_name;  // "payments.v1.ChargeRequest"
  const cps_file *file;
  const cps_message *parent;  // NULL at file level
  cps_field *fields;          // declaration order
  size_t field_count;
  cps_oneof *oneofs;          // declaration order; synthetic ones last
  size_t oneof_count;
  size_t real_oneof_count;    // oneofs[0 .. real_oneof_count) are not synthetic
  cps_message *nested;
  size_t nested_count;
  cps_enum *enums;
  size_t enum_count;
  cps_field *extensions;      // extensions declared inside this message
  size_t extension_count;
  cps_range *extension_ranges;  // inclusive
  size_t extension_range_count;
  cps_range *reserved_ranges;   // inclusive
  size_t reserved_range_count;
  const char **reserved_names;
  size_t reserved_name_count;
  bool map_entry;
  bool message_set_wire_format;
  bool deprecated;
  cps_features features;  // resolved
  cps_loc loc;
};

// A google.api.http option (google/api/http.proto's HttpRule) as written;
// the generator checks it. Strings are NULL where the option leaves them
// empty.
struct cps_http_rule {
  // "GET", "PUT", "POST", "DELETE", "PATCH" for the get...patch patterns,
  // custom.kind as written for a custom one ("" when it has none); NULL
  // when the rule sets no pattern.
  const char *verb;
  bool custom;               // the pattern is `custom`
  const char *path;          // the pattern's path template
  const char *body;          // "*" or a request field name
  const char *response_body; // a response field name
  cps_http_rule *additional;  // additional_bindings, in source order
  size_t additional_count;
  // The option statement (every rule of one option shares it: protoc
  // records no position inside an option's value).
  cps_loc loc;
};

struct cps_method {
  const char *name;       // "ChargeCard"
  const char *full_name;  // "payments.v1.PaymentService.ChargeCard"
  const cps_service *parent;
  const cps_message *input;
  const cps_message *output;
  bool client_streaming;
  bool server_streaming;
  bool deprecated;
  int idempotency_level;  // MethodOptions.IdempotencyLevel: 0 unknown, 1 no side effects, 2 idempotent
  // The google.api.http option (extension 72295728 of MethodOptions); NULL
  // without one, or when google/api/annotations.proto is not among the
  // loaded files (the option cannot be set then).
  const cps_http_rule *http;
  cps_loc loc;
};

struct cps_service {
  const char *name;
  const char *full_name;
  const cps_file *file;
  cps_method *methods;
  size_t method_count;
  bool deprecated;
  cps_loc loc;
};

struct cps_file {
  const char *name;     // path as imported, e.g. "payments/v1/payments.proto"
  const char *package;  // "" when none
  cps_syntax syntax;
  int edition;          // 2023, 2024 with CPS_SYNTAX_EDITIONS; 0 otherwise
  cps_features features;  // resolved for the file: the edition's defaults and its own
  cps_loc package_loc;  // the `package` statement (line 0: none, or no source info)
  cps_loc syntax_loc;   // the `syntax` statement (line 0: none, or no source info)
  const cps_file **deps;
  size_t dep_count;
  const int *public_deps;  // indices into deps
  size_t public_dep_count;
  cps_message *messages;
  size_t message_count;
  cps_enum *enums;
  size_t enum_count;
  cps_service *services;
  size_t service_count;
  cps_field *extensions;  // file-level extensions
  size_t extension_count;
  bool deprecated;
  // The file's FileDescriptorProto, serialized without source code info
  // (for embedding, e.g. for server reflection).
  const uint8_t *descriptor;
  size_t descriptor_size;
};

typedef struct cps_schema {
  const cps_file **files;  // every file loaded, dependencies before dependents
  size_t file_count;
  const cps_file **to_generate;  // files named on the command line / in the request
  size_t to_generate_count;
  const char *parameter;   // plugin parameter string ("" when none)
  int compiler_version[3]; // protoc's major, minor, patch (0s when unknown)
} cps_schema;

// The loaders build the model in `mem`. On failure they return NULL with *err
// (when err is not NULL) set to a message in `mem`; what the failed load had
// allocated stays there too until `mem` is freed.

// Loads a serialized CodeGeneratorRequest. Files of editions 2023 and 2024
// are resolved and lowered for libprotobuf 3.21 (schema/editions.h); other
// editions fail with an error naming the file and edition.
cps_schema *cps_load_request(cps_pool *mem, const void *data, size_t size, char **err);

// Loads .proto files through libprotoc's importer. `files` are paths relative
// to one of `include_dirs` (or paths on disk, absolute or relative to the
// working directory, under one). No include dir means ".". google/protobuf/
// imports that no include dir provides come from protobuf's installed copies
// (/usr/include on Debian). to_generate is `files`, as virtual paths. On
// failure returns NULL and *err holds every error, one per line, as
// `file.proto:line:col: message` (`file.proto: message` when libprotoc gives
// no position, e.g. a file not found). libprotoc 3.21 cannot parse editions
// files: one error says so for each.
cps_schema *cps_load_protos(cps_pool *mem, const char *const *include_dirs, size_t include_count,
                            const char *const *files, size_t file_count, char **err);

// Loads a serialized FileDescriptorSet (protoc --descriptor_set_out, buf
// build -o), its files in any order, editions files as cps_load_request. Every file in it is in to_generate. A google/protobuf/
// import missing from the set is taken from libprotobuf's built-in copy (and
// is not in to_generate).
cps_schema *cps_load_descriptor_set(cps_pool *mem, const void *data, size_t size, char **err);

// One generated file for the CodeGeneratorResponse.
typedef struct cps_out_file {
  const char *name;
  const char *content;
  size_t size;
} cps_out_file;

// Serializes a CodeGeneratorResponse (error may be NULL) into a buffer in
// `mem`. Declares proto3 `optional` and editions support, editions 2023 to
// 2024 (minimum_edition, maximum_edition). Returns false when libprotobuf
// cannot encode it.
bool cps_encode_response(cps_pool *mem, const char *error, const cps_out_file *files,
                         size_t count, uint8_t **out, size_t *out_size);

#ifdef __cplusplus
}
#endif

#endif  // CPAY_PLUGIN_SCHEMA_MODEL_H_
