// The plain C model of a set of .proto files: what the shim lowers
// libprotoc's descriptors into, and what the generator and the
// schema-evolution checker read. No C++ type appears here.
//
// A model is allocated from the caller's cpf_pool (framework/pool.h) and dies
// with it; no part of it is freed on its own. Pointers between elements (a
// field's message type, a method's input) stay within the model. Arrays keep
// declaration order. Names are NUL-terminated UTF-8.
#ifndef CPAY_PLUGIN_MODEL_H_
#define CPAY_PLUGIN_MODEL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpm_file cpm_file;
typedef struct cpm_message cpm_message;
typedef struct cpm_field cpm_field;
typedef struct cpm_oneof cpm_oneof;
typedef struct cpm_enum cpm_enum;
typedef struct cpm_enum_value cpm_enum_value;
typedef struct cpm_service cpm_service;
typedef struct cpm_method cpm_method;

// Where an element is declared, and its comments. line and col are 1-based;
// 0 when the source information is not available (e.g. a FileDescriptorSet
// written without --include_source_info, and always for map-entry messages,
// their fields and synthetic oneofs, which protoc makes up). file is always set.
typedef struct cpm_loc {
  const cpm_file *file;
  int line;
  int col;
  const char *leading_comments;   // NULL when none; as protoc reports them
  const char *trailing_comments;  // NULL when none
} cpm_loc;

// An inclusive range of numbers [start, end]. (Descriptors store message
// reserved and extension ranges with an exclusive end; the shim converts.)
typedef struct cpm_range {
  int32_t start;
  int32_t end;
} cpm_range;

typedef enum cpm_syntax { CPM_SYNTAX_PROTO2 = 2, CPM_SYNTAX_PROTO3 = 3 } cpm_syntax;

typedef enum cpm_label {
  CPM_LABEL_OPTIONAL = 1,
  CPM_LABEL_REQUIRED = 2,
  CPM_LABEL_REPEATED = 3,
} cpm_label;

// Field types use descriptor.proto's numbers (1 = double ... 18 = sint64),
// the same as CPAY_TYPE_* in cpay/gencode.h.
typedef enum cpm_type {
  CPM_TYPE_DOUBLE = 1, CPM_TYPE_FLOAT = 2, CPM_TYPE_INT64 = 3, CPM_TYPE_UINT64 = 4,
  CPM_TYPE_INT32 = 5, CPM_TYPE_FIXED64 = 6, CPM_TYPE_FIXED32 = 7, CPM_TYPE_BOOL = 8,
  CPM_TYPE_STRING = 9, CPM_TYPE_GROUP = 10, CPM_TYPE_MESSAGE = 11, CPM_TYPE_BYTES = 12,
  CPM_TYPE_UINT32 = 13, CPM_TYPE_ENUM = 14, CPM_TYPE_SFIXED32 = 15,
  CPM_TYPE_SFIXED64 = 16, CPM_TYPE_SINT32 = 17, CPM_TYPE_SINT64 = 18,
} cpm_type;

// A field's explicit default (proto2 `[default = ...]`), already parsed by
// libprotoc. Only the member matching the field's type is meaningful.
typedef struct cpm_default {
  bool present;
  int64_t i64;                    // int32/int64/sint*/sfixed* types
  uint64_t u64;                   // uint32/uint64/fixed* types
  double f64;                     // double and float
  bool b;                         // bool
  const char *bytes;              // string/bytes: raw bytes (may contain NUL;
                                  // a NUL follows the last byte)
  size_t bytes_size;
  const cpm_enum_value *enum_value;  // enum
  const char *text;               // the default as descriptor.proto writes it
} cpm_default;

struct cpm_enum_value {
  const char *name;       // "CHARGE_STATUS_SUCCESS"
  const char *full_name;  // "payments.v1.CHARGE_STATUS_SUCCESS" (enum values are siblings of their enum)
  int32_t number;
  int index;              // position within the enum
  const cpm_enum *parent;
  bool deprecated;
  cpm_loc loc;
};

struct cpm_enum {
  const char *name;       // "ChargeStatus"
  const char *full_name;  // "payments.v1.ChargeStatus"
  const cpm_file *file;
  const cpm_message *parent;  // NULL at file level
  cpm_enum_value *values;
  size_t value_count;
  bool closed;                // proto2 enum: unknown values are not stored
  bool allow_alias;
  bool deprecated;
  cpm_range *reserved_ranges;  // inclusive
  size_t reserved_range_count;
  const char **reserved_names;
  size_t reserved_name_count;
  cpm_loc loc;
};

struct cpm_oneof {
  const char *name;
  const char *full_name;
  const cpm_message *parent;
  const cpm_field **fields;
  size_t field_count;
  int index;
  bool synthetic;  // the oneof protoc makes for a proto3 `optional` field
  cpm_loc loc;
};

struct cpm_field {
  const char *name;       // "amount_cents"
  const char *full_name;  // "payments.v1.ChargeRequest.amount_cents"
  const char *json_name;  // "amountCents", or the json_name option
  // A json_name option that differs from the derived name. (protoc writes a
  // json_name into every field of a request or descriptor set, so an option
  // equal to the derived name cannot be told apart; every loader answers alike.)
  bool has_json_name_option;
  int32_t number;
  cpm_label label;
  cpm_type type;
  const cpm_message *message_type;  // message, group and map fields
  const cpm_enum *enum_type;        // enum fields
  const cpm_message *parent;        // containing message; for extensions the
                                    // scope they are declared in (NULL: file level)
  const cpm_file *file;
  const cpm_oneof *oneof;           // containing oneof, real or synthetic; NULL otherwise
  int index;                        // position in the parent's fields (or extensions)
  bool proto3_optional;
  bool has_presence;                // has_x() makes sense: proto2 singular, proto3
                                    // optional, messages, oneof members
  bool packed;                      // a repeated field written packed
  bool is_map;                      // repeated map-entry field
  bool is_extension;
  const cpm_message *extendee;      // extensions only
  bool deprecated;
  cpm_default default_value;
  cpm_loc loc;
};

struct cpm_message {
  const char *name;       // "ChargeRequest"
  const char *full_name;  // "payments.v1.ChargeRequest"
  const cpm_file *file;
  const cpm_message *parent;  // NULL at file level
  cpm_field *fields;          // declaration order
  size_t field_count;
  cpm_oneof *oneofs;          // declaration order; synthetic ones last
  size_t oneof_count;
  size_t real_oneof_count;    // oneofs[0 .. real_oneof_count) are not synthetic
  cpm_message *nested;
  size_t nested_count;
  cpm_enum *enums;
  size_t enum_count;
  cpm_field *extensions;      // extensions declared inside this message
  size_t extension_count;
  cpm_range *extension_ranges;  // inclusive
  size_t extension_range_count;
  cpm_range *reserved_ranges;   // inclusive
  size_t reserved_range_count;
  const char **reserved_names;
  size_t reserved_name_count;
  bool map_entry;
  bool message_set_wire_format;
  bool deprecated;
  cpm_loc loc;
};

struct cpm_method {
  const char *name;       // "ChargeCard"
  const char *full_name;  // "payments.v1.PaymentService.ChargeCard"
  const cpm_service *parent;
  const cpm_message *input;
  const cpm_message *output;
  bool client_streaming;
  bool server_streaming;
  bool deprecated;
  int idempotency_level;  // MethodOptions.IdempotencyLevel: 0 unknown, 1 no side effects, 2 idempotent
  cpm_loc loc;
};

struct cpm_service {
  const char *name;
  const char *full_name;
  const cpm_file *file;
  cpm_method *methods;
  size_t method_count;
  bool deprecated;
  cpm_loc loc;
};

struct cpm_file {
  const char *name;     // path as imported, e.g. "payments/v1/payments.proto"
  const char *package;  // "" when none
  cpm_syntax syntax;
  cpm_loc package_loc;  // the `package` statement (line 0: none, or no source info)
  cpm_loc syntax_loc;   // the `syntax` statement (line 0: none, or no source info)
  const cpm_file **deps;
  size_t dep_count;
  const int *public_deps;  // indices into deps
  size_t public_dep_count;
  cpm_message *messages;
  size_t message_count;
  cpm_enum *enums;
  size_t enum_count;
  cpm_service *services;
  size_t service_count;
  cpm_field *extensions;  // file-level extensions
  size_t extension_count;
  bool deprecated;
  // The file's FileDescriptorProto, serialized without source code info
  // (for embedding, e.g. for server reflection).
  const uint8_t *descriptor;
  size_t descriptor_size;
};

typedef struct cpm_pool {
  const cpm_file **files;  // every file loaded, dependencies before dependents
  size_t file_count;
  const cpm_file **to_generate;  // files named on the command line / in the request
  size_t to_generate_count;
  const char *parameter;   // plugin parameter string ("" when none)
  int compiler_version[3]; // protoc's major, minor, patch (0s when unknown)
} cpm_pool;

// The loaders build the model in `mem`. On failure they return NULL with *err
// (when err is not NULL) set to a message in `mem`; what the failed load had
// allocated stays there too until `mem` is freed.

// Loads a serialized CodeGeneratorRequest.
cpm_pool *cpm_load_request(cpf_pool *mem, const void *data, size_t size, char **err);

// Loads .proto files through libprotoc's importer. `files` are paths relative
// to one of `include_dirs` (or paths on disk, absolute or relative to the
// working directory, under one). No include dir means ".". google/protobuf/
// imports that no include dir provides come from protobuf's installed copies
// (/usr/include on Debian). to_generate is `files`, as virtual paths. On
// failure returns NULL and *err holds every error, one per line, as
// `file.proto:line:col: message` (`file.proto: message` when libprotoc gives
// no position, e.g. a file not found).
cpm_pool *cpm_load_protos(cpf_pool *mem, const char *const *include_dirs, size_t include_count,
                          const char *const *files, size_t file_count, char **err);

// Loads a serialized FileDescriptorSet (protoc --descriptor_set_out), its
// files in any order. Every file in it is in to_generate. A google/protobuf/
// import missing from the set is taken from libprotobuf's built-in copy (and
// is not in to_generate).
cpm_pool *cpm_load_descriptor_set(cpf_pool *mem, const void *data, size_t size, char **err);

// One generated file for the CodeGeneratorResponse.
typedef struct cpm_out_file {
  const char *name;
  const char *content;
  size_t size;
} cpm_out_file;

// Serializes a CodeGeneratorResponse (error may be NULL) into a buffer in
// `mem`. Declares proto3 `optional` support. Returns false when libprotobuf
// cannot encode it.
bool cpm_encode_response(cpf_pool *mem, const char *error, const cpm_out_file *files,
                         size_t count, uint8_t **out, size_t *out_size);

#ifdef __cplusplus
}
#endif

#endif  // CPAY_PLUGIN_MODEL_H_
