// The C generator: turns one .proto file of the model into foo.cpay.h and
// foo.cpay.c by filling templates. Shared state and helpers of gen_*.c.
#ifndef CPAY_PLUGIN_GEN_GEN_H_
#define CPAY_PLUGIN_GEN_GEN_H_

#include <stdbool.h>
#include <stddef.h>

#include "framework/buf.h"
#include "framework/diag.h"
#include "framework/plugin.h"
#include "model.h"
#include "names.h"
#include "render.h"

// Options from the plugin parameter.
typedef struct cpg_options {
  char *api_macro;  // NULL: none
} cpg_options;

typedef struct cpg_gen {
  const cpm_file *file;
  cpn_names *names;
  cpf_diag *diag;
  const cpg_options *opts;
  const char *api;    // "" or "API_MACRO "
  char *bug;          // first internal (template) error
  cpf_buf h;          // the header
  cpf_buf c;          // the source
  bool needs_math;    // a default uses INFINITY or NAN
  char **tmps;        // strings freed with the generator
  size_t tmp_count;
  size_t tmp_cap;
} cpg_gen;

// A printf'd string owned by `g`.
const char *cpg_str(cpg_gen *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// Takes ownership of a malloc'd string.
const char *cpg_own(cpg_gen *g, char *s);

void cpg_render(cpg_gen *g, cpf_buf *out, const char *tmpl, const cpr_var *vars, size_t count);
#define CPG_RENDER(g, out, tmpl, ...)                                 \
  cpg_render((g), (out), (tmpl), (const cpr_var[]){__VA_ARGS__},      \
             sizeof((const cpr_var[]){__VA_ARGS__}) / sizeof(cpr_var))

// Field helpers.
bool cpg_is_message(const cpm_field *f);  // message or group
bool cpg_in_real_oneof(const cpm_field *f);
const char *cpg_scalar_ctype(cpm_type t);  // C storage type of one value
const char *cpg_type_const(cpm_type t);    // "CPAY_TYPE_INT32"
const char *cpg_value_member(cpm_type t);  // member of cpay_value
// The C initializer for a field's (or extension's) default, NULL when it is
// zero: an expression for scalars, `{"abc", 3}` for strings and bytes.
const char *cpg_default_literal(cpg_gen *g, const cpm_field *f);
// A C string literal (with quotes) for `size` arbitrary bytes.
const char *cpg_c_string(cpg_gen *g, const char *data, size_t size);
const char *cpg_int32_literal(cpg_gen *g, int32_t v);
const char *cpg_mode(cpg_gen *g, const cpm_field *f);
// The leading comments of an element as `//` lines indented by `indent`
// ("" when none).
const char *cpg_doc(cpg_gen *g, const cpm_loc *loc, const char *indent);

// The two files for g->file.
void cpg_gen_enum(cpg_gen *g, const cpm_enum *e, cpf_buf *hdr, cpf_buf *src);
void cpg_gen_message_struct(cpg_gen *g, const cpm_message *m, cpf_buf *out);
void cpg_gen_message_api(cpg_gen *g, const cpm_message *m, cpf_buf *out);
void cpg_gen_message_table(cpg_gen *g, const cpm_message *m, cpf_buf *out);
void cpg_gen_file(cpg_gen *g);
// JSON (gen_json.c): declarations for the header, tables and functions for the source.
void cpg_gen_json_header(cpg_gen *g, cpf_buf *out);
void cpg_gen_json_source(cpg_gen *g, cpf_buf *out);
// foo.cpay_grpc.h and .c for a file with services (gen_grpc.c).
void cpg_gen_grpc(cpg_gen *g);

// Generates every file of pool->to_generate into `out` (generate.c); errors
// go to `diag`.
void cpg_generate(const cpm_pool *pool, const cpg_options *opts, cpf_output *out, cpf_diag *diag);

#endif  // CPAY_PLUGIN_GEN_GEN_H_
