// The C generator: turns one .proto file of the model into foo.cpay.h and
// foo.cpay.c. Every line of them is printed by cpg_print (render.h), whose
// text sits in gen_*.c beside the logic that chooses it. Shared state and
// helpers of gen_*.c.
#ifndef CPAY_PLUGIN_GEN_GEN_H_
#define CPAY_PLUGIN_GEN_GEN_H_

#include <stdbool.h>
#include <stddef.h>

#include "schema/buf.h"
#include "schema/diag.h"
#include "schema/request.h"
#include "schema/pool.h"
#include "schema/model.h"
#include "gen/names.h"
#include "gen/render.h"

// Options from the plugin parameter.
typedef struct cpg_options {
  const char *api_macro;  // NULL: none
  bool binary_only;       // formats=binary: no JSON and text (wrappers, descriptions)
  bool openapi;           // openapi: also <file>.<Service>.openapi.json
} cpg_options;

typedef struct cpg_gen {
  const cps_file *file;
  cpg_names *names;
  cps_diag *diag;
  const cpg_options *opts;
  cps_pool *pool;     // the generator's temporaries and names, freed after the run
  const char *api;    // "" or "API_MACRO "
  const char *bug;    // first internal (printer) error, in pool
  cps_buf h;          // the header
  cps_buf c;          // the source
  bool needs_math;    // a default uses INFINITY or NAN
} cpg_gen;

// A printf'd string on g->pool: a value for a hole (a number, a name), not code.
const char *cpg_str(cpg_gen *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Appends `text` with its `$name$` holes filled to `out`; the variables
// follow as name, value pairs ended by CPG_END (see render.h). A mistake in
// them becomes g->bug, reported as an internal error.
void cpg_print(cpg_gen *g, cps_buf *out, const char *text, ...)
#if defined(__GNUC__)
    __attribute__((sentinel))
#endif
    ;

// After a header's includes: the check that the runtime matches the
// generator (CPAY_GENCODE_VERSION) and the opening of C linkage for C++.
void cpg_print_header_open(cpg_gen *g);

// Field helpers.
bool cpg_is_message(const cps_field *f);  // message or group
bool cpg_in_real_oneof(const cps_field *f);
const char *cpg_scalar_ctype(cps_type t);  // C storage type of one value
const char *cpg_type_const(cps_type t);    // "CPAY_TYPE_INT32"
const char *cpg_value_member(cps_type t);  // member of cpay_value
// The C initializer for a field's (or extension's) default, NULL when it is
// zero: an expression for scalars, `{"abc", 3}` for strings and bytes.
const char *cpg_default_literal(cpg_gen *g, const cps_field *f);
// A C string literal (with quotes) for `size` arbitrary bytes.
const char *cpg_c_string(cpg_gen *g, const char *data, size_t size);
const char *cpg_int32_literal(cpg_gen *g, int32_t v);
const char *cpg_mode(cpg_gen *g, const cps_field *f);
// The leading comments of an element as `//` lines indented by `indent`
// ("" when none).
const char *cpg_doc(cpg_gen *g, const cps_loc *loc, const char *indent);

// Whether import `i` of `f` is one its generated code needs: a public
// import, or a file declaring (or re-exporting) a type that a field,
// extension or method of `f` names. An import that only supplies options
// (google/api/annotations.proto for google.api.http) is not: its header is
// not included and its _register_types not called, so a program need not
// compile it (as edition 2024's `import option` says outright).
bool cpg_dep_has_code(const cps_file *f, size_t i);

// The leading comments of an element (else its trailing ones) as plain
// text: one space of indentation and trailing blanks dropped from each
// line, invalid UTF-8 as U+FFFD and control bytes as spaces, lines joined
// by '\n'. NULL when there are none.
const char *cpg_comment_text(cpg_gen *g, const cps_loc *loc);

// Every extension declared in g->file, file-level ones first, then nested
// ones in message order (an array on g->pool).
const cps_field **cpg_file_extensions(cpg_gen *g, size_t *count);

// The two files for g->file.
void cpg_gen_enum(cpg_gen *g, const cps_enum *e, cps_buf *hdr, cps_buf *src);
// A message's section of the header: its struct, then its functions and
// helpers, then those of JSON and text (nothing for map entries).
void cpg_gen_message_decls(cpg_gen *g, const cps_message *m, cps_buf *out);
// A map entry's struct and declarations, for the source (nothing for other messages).
void cpg_gen_map_entry(cpg_gen *g, const cps_message *m, cps_buf *out);
void cpg_gen_message_table(cpg_gen *g, const cps_message *m, cps_buf *out);
void cpg_gen_file(cpg_gen *g);
// JSON and text (gen_json.c): a message's declarations, a map entry's,
// <file>_register_types, and the descriptions and _register_types for the source.
void cpg_gen_json_message_decls(cpg_gen *g, const cps_message *m, cps_buf *out);
void cpg_gen_json_map_entry_decl(cpg_gen *g, const cps_message *m, cps_buf *out);
void cpg_gen_register_types_decl(cpg_gen *g, cps_buf *out);
void cpg_gen_json_source(cpg_gen *g, cps_buf *out);
// foo.cpay_grpc.h and .c for a file with services (gen_grpc.c).
void cpg_gen_grpc(cpg_gen *g);

// google.api.http (gen_http.c). Reports every bad option of g->file's
// methods to g->diag, as file:line:col of the option.
void cpg_http_check(cpg_gen *g);
// The HTTP bindings of `m` in *out (an array on g->pool): its option's rule,
// then each of the rule's additional_bindings in source order; without the
// option, the default POST /package.Service/Method with body "*".
size_t cpg_http_bindings(cpg_gen *g, const cps_method *m, const cps_http_rule ***out);
// The field of `m` that the dotted field path `path` (`len` bytes, as in a
// path template: proto names) names, when it can be set from a path
// variable: every step but the last a singular message field, the last a
// singular scalar, enum, string, bytes or a cpg_http_wkt_leaf message.
// Otherwise NULL and *err says why (on g->pool).
const cps_field *cpg_http_field_path(cpg_gen *g, const cps_message *m, const char *path,
                                     size_t len, const char **err);
// The well-known types whose JSON form is one string or number: the
// wrappers, Timestamp, Duration and FieldMask.
bool cpg_http_wkt_leaf(const cps_message *m);

// <file>.<Service>.openapi.json for each service of g->file, added to
// `out` (gen_openapi.c).
void cpg_gen_openapi(cpg_gen *g, cps_output *out);

// Generates every file of schema->to_generate into `out` (generate.c); errors
// go to `diag`.
void cpg_generate(const cps_schema *schema, const cpg_options *opts, cps_output *out,
                  cps_diag *diag);

#endif  // CPAY_PLUGIN_GEN_GEN_H_
