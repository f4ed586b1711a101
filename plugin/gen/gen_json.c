// Proto3 JSON support in generated code: a JSON table per message (field
// JSON names and the JSON tables of submessages and enums, parallel to the
// binary table's fields) and per enum (value names), the typed
// _to_json/_from_json wrappers, the text format wrappers that share the
// same tables (_to_text/_from_text/_debug_text), and the registration of
// the file's messages for google.protobuf.Any. Only JSON and text code
// refers to these tables, so programs that use neither need not link them.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

typedef void json_fn(cpg_gen *g, const cpm_message *m, cpf_buf *out);

static void each(cpg_gen *g, const cpm_message *msgs, size_t count, json_fn *fn, cpf_buf *out) {
  for (size_t i = 0; i < count; i++) {
    fn(g, &msgs[i], out);
    each(g, msgs[i].nested, msgs[i].nested_count, fn, out);
  }
}

static void each_enum(cpg_gen *g, const cpm_message *msgs, size_t count,
                      void (*fn)(cpg_gen *, const cpm_enum *, cpf_buf *), cpf_buf *out) {
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < msgs[i].enum_count; k++) fn(g, &msgs[i].enums[k], out);
    each_enum(g, msgs[i].nested, msgs[i].nested_count, fn, out);
  }
}

static const char *wkt_kind(const cpm_message *m) {
  static const struct {
    const char *name;
    const char *kind;
  } kinds[] = {
      {"google.protobuf.Any", "CPAY_WKT_ANY"},
      {"google.protobuf.Timestamp", "CPAY_WKT_TIMESTAMP"},
      {"google.protobuf.Duration", "CPAY_WKT_DURATION"},
      {"google.protobuf.FieldMask", "CPAY_WKT_FIELD_MASK"},
      {"google.protobuf.Struct", "CPAY_WKT_STRUCT"},
      {"google.protobuf.Value", "CPAY_WKT_VALUE"},
      {"google.protobuf.ListValue", "CPAY_WKT_LIST_VALUE"},
      {"google.protobuf.Empty", "CPAY_WKT_EMPTY"},
      {"google.protobuf.DoubleValue", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.FloatValue", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.Int64Value", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.UInt64Value", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.Int32Value", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.UInt32Value", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.BoolValue", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.StringValue", "CPAY_WKT_WRAPPER"},
      {"google.protobuf.BytesValue", "CPAY_WKT_WRAPPER"},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (strcmp(m->full_name, kinds[i].name) == 0) return kinds[i].kind;
  }
  return "CPAY_WKT_NONE";
}

// ---- header ------------------------------------------------------------------------

static void msg_decl(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  CPG_RENDER(g, out, "json_decls", {"api", g->api}, {"kind", "msg"},
             {"name", cpn_message(g->names, m)});
}

static void enum_decl(cpg_gen *g, const cpm_enum *e, cpf_buf *out) {
  CPG_RENDER(g, out, "json_decls", {"api", g->api}, {"kind", "enum"},
             {"name", cpn_enum(g->names, e)});
}

static void msg_api(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  if (m->map_entry) return;
  CPG_RENDER(g, out, "json_msg_decls", {"api", g->api}, {"full_name", m->full_name},
             {"msg", cpn_message(g->names, m)});
  // Text format shares the JSON tables (cpay/text.h).
  CPG_RENDER(g, out, "text_msg_decls", {"api", g->api}, {"full_name", m->full_name},
             {"msg", cpn_message(g->names, m)});
}

void cpg_gen_json_header(cpg_gen *g, cpf_buf *out) {
  const cpm_file *f = g->file;
  cpf_buf decls = {0};
  for (size_t i = 0; i < f->enum_count; i++) enum_decl(g, &f->enums[i], &decls);
  each_enum(g, f->messages, f->message_count, enum_decl, &decls);
  each(g, f->messages, f->message_count, msg_decl, &decls);
  if (decls.size) {
    cpf_buf_puts(out, "// JSON tables (see cpay/json.h).\n");
    cpf_buf_append(out, decls.data, decls.size);
    cpf_buf_puts(out, "\n");
  }
  cpf_buf_free(&decls);
  each(g, f->messages, f->message_count, msg_api, out);
  CPG_RENDER(g, out, "json_register_decl", {"source", f->name}, {"api", g->api},
             {"prefix", cpn_file_prefix(g->names, f)});
}

// ---- source ------------------------------------------------------------------------

static int cmp_field_number(const void *a, const void *b) {
  const cpm_field *x = *(const cpm_field *const *)a, *y = *(const cpm_field *const *)b;
  return (x->number > y->number) - (x->number < y->number);
}

// A field index keyed by one of its names.
typedef struct named_index {
  const char *name;
  uint16_t index;
} named_index;

// Bytewise, as the runtime's binary search compares; ties by index.
static int cmp_named(const void *a, const void *b) {
  const named_index *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

// The static array `name` of field indexes sorted by JSON or proto name.
static const char *name_index(cpg_gen *g, const cpm_field **sorted, size_t n, bool json,
                              const char *name, cpf_buf *arrays) {
  named_index *idx = cpf_xmalloc((n + 1) * sizeof(*idx));
  for (size_t i = 0; i < n; i++) {
    idx[i].name = json ? sorted[i]->json_name : sorted[i]->name;
    idx[i].index = (uint16_t)i;
  }
  qsort(idx, n, sizeof(*idx), cmp_named);
  cpf_buf rows = {0};
  for (size_t i = 0; i < n; i++) {
    CPG_RENDER(g, &rows, "array_row", {"value", cpg_str(g, "%u", (unsigned)idx[i].index)});
  }
  CPG_RENDER(g, arrays, "static_array", {"type", "uint16_t"}, {"name", name},
             {"rows", cpf_buf_str(&rows)});
  cpf_buf_free(&rows);
  free(idx);
  return name;
}

static void msg_table(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  const char *msg = cpn_message(g->names, m);
  size_t n = m->field_count;
  const cpm_field **sorted = cpf_xmalloc((n + 1) * sizeof(*sorted));
  for (size_t i = 0; i < n; i++) sorted[i] = &m->fields[i];
  qsort(sorted, n, sizeof(*sorted), cmp_field_number);
  cpf_buf names = {0}, msgs = {0}, enums = {0}, arrays = {0};
  for (size_t i = 0; i < n; i++) {
    const cpm_field *f = sorted[i];
    CPG_RENDER(g, &names, "array_row", {"value", cpg_c_string(g, f->json_name, strlen(f->json_name))});
    const char *sub = "NULL";
    if (cpg_is_message(f)) sub = cpg_str(g, "&%s_desc", cpn_message(g->names, f->message_type));
    CPG_RENDER(g, &msgs, "array_row", {"value", sub});
    const char *en = "NULL";
    if (f->type == CPM_TYPE_ENUM && f->enum_type) {
      en = cpg_str(g, "&%s_desc", cpn_enum(g->names, f->enum_type));
    }
    CPG_RENDER(g, &enums, "array_row", {"value", en});
  }
  const char *names_ref = "NULL", *msgs_ref = "NULL", *enums_ref = "NULL";
  const char *by_json_ref = "NULL", *by_name_ref = "NULL";
  if (n > 0) {
    names_ref = cpg_str(g, "%s__json_names", msg);
    msgs_ref = cpg_str(g, "%s__json_msgs", msg);
    enums_ref = cpg_str(g, "%s__json_enums", msg);
    CPG_RENDER(g, &arrays, "static_array", {"type", "char *const"}, {"name", names_ref},
               {"rows", cpf_buf_str(&names)});
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_msg_desc *const"}, {"name", msgs_ref},
               {"rows", cpf_buf_str(&msgs)});
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_enum_desc *const"},
               {"name", enums_ref}, {"rows", cpf_buf_str(&enums)});
    by_json_ref = name_index(g, sorted, n, true, cpg_str(g, "%s__json_by_json_name", msg), &arrays);
    by_name_ref = name_index(g, sorted, n, false, cpg_str(g, "%s__json_by_name", msg), &arrays);
  }
  CPG_RENDER(g, out, "json_msg_table", {"arrays", cpf_buf_str(&arrays)}, {"msg", msg},
             {"names", names_ref}, {"msgs", msgs_ref}, {"enums", enums_ref},
             {"wkt", wkt_kind(m)}, {"by_json_name", by_json_ref}, {"by_name", by_name_ref});
  if (!m->map_entry) {
    CPG_RENDER(g, out, "json_msg_funcs", {"msg", msg});
    CPG_RENDER(g, out, "text_msg_funcs", {"msg", msg});
  }
  cpf_buf_free(&names);
  cpf_buf_free(&msgs);
  cpf_buf_free(&enums);
  cpf_buf_free(&arrays);
  free(sorted);
}

static void enum_table(cpg_gen *g, const cpm_enum *e, cpf_buf *out) {
  const char *name = cpn_enum(g->names, e);
  cpf_buf names = {0}, numbers = {0}, arrays = {0};
  for (size_t i = 0; i < e->value_count; i++) {
    const cpm_enum_value *v = &e->values[i];
    CPG_RENDER(g, &names, "array_row", {"value", cpg_c_string(g, v->name, strlen(v->name))});
    CPG_RENDER(g, &numbers, "array_row", {"value", cpg_int32_literal(g, v->number)});
  }
  const char *names_ref = "NULL", *numbers_ref = "NULL";
  if (e->value_count > 0) {
    names_ref = cpg_str(g, "%s__json_names", name);
    numbers_ref = cpg_str(g, "%s__json_numbers", name);
    CPG_RENDER(g, &arrays, "static_array", {"type", "char *const"}, {"name", names_ref},
               {"rows", cpf_buf_str(&names)});
    CPG_RENDER(g, &arrays, "static_array", {"type", "int32_t"}, {"name", numbers_ref},
               {"rows", cpf_buf_str(&numbers)});
  }
  CPG_RENDER(g, out, "json_enum_table", {"arrays", cpf_buf_str(&arrays)}, {"enum", name},
             {"full_name", e->full_name}, {"names", names_ref}, {"numbers", numbers_ref},
             {"count", cpg_str(g, "%zu", e->value_count)},
             {"closed", e->closed ? "true" : "false"});
  cpf_buf_free(&names);
  cpf_buf_free(&numbers);
  cpf_buf_free(&arrays);
}

static void register_row(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  if (m->map_entry) return;
  CPG_RENDER(g, out, "array_row", {"value", cpg_str(g, "&%s_desc", cpn_message(g->names, m))});
}

static void ext_rows(cpg_gen *g, const cpm_field *xs, size_t count, cpf_buf *defs,
                     cpf_buf *rows) {
  for (size_t i = 0; i < count; i++) {
    const cpm_field *x = &xs[i];
    const char *name = cpn_extension(g->names, x);
    const char *msg = "NULL", *en = "NULL";
    if (cpg_is_message(x)) msg = cpg_str(g, "&%s_desc", cpn_message(g->names, x->message_type));
    if (x->type == CPM_TYPE_ENUM && x->enum_type) {
      en = cpg_str(g, "&%s_desc", cpn_enum(g->names, x->enum_type));
    }
    CPG_RENDER(g, defs, "json_ext", {"ext", name}, {"msg", msg}, {"enum", en});
    CPG_RENDER(g, rows, "array_row", {"value", cpg_str(g, "&%s__desc", name)});
  }
}

static void nested_ext_rows(cpg_gen *g, const cpm_message *msgs, size_t count, cpf_buf *defs,
                            cpf_buf *rows) {
  for (size_t i = 0; i < count; i++) {
    ext_rows(g, msgs[i].extensions, msgs[i].extension_count, defs, rows);
    nested_ext_rows(g, msgs[i].nested, msgs[i].nested_count, defs, rows);
  }
}

void cpg_gen_json_source(cpg_gen *g, cpf_buf *out) {
  const cpm_file *f = g->file;
  cpf_buf_puts(out, "// ---- JSON\n\n");
  for (size_t i = 0; i < f->enum_count; i++) enum_table(g, &f->enums[i], out);
  each_enum(g, f->messages, f->message_count, enum_table, out);
  each(g, f->messages, f->message_count, msg_table, out);

  const char *prefix = cpn_file_prefix(g->names, f);
  cpf_buf rows = {0}, deps = {0}, arrays = {0};
  each(g, f->messages, f->message_count, register_row, &rows);
  size_t msg_count = 0;
  for (const char *q = cpf_buf_str(&rows); (q = strchr(q, '\n')) != NULL; q++) msg_count++;
  for (size_t i = 0; i < f->dep_count; i++) {
    CPG_RENDER(g, &deps, "json_register_dep", {"prefix", cpn_file_prefix(g->names, f->deps[i])});
  }
  cpf_buf xdefs = {0}, xrows = {0};
  ext_rows(g, f->extensions, f->extension_count, &xdefs, &xrows);
  nested_ext_rows(g, f->messages, f->message_count, &xdefs, &xrows);
  if (xrows.size) {
    const char *arr = cpg_str(g, "%s__json_exts", prefix);
    cpf_buf_append(&arrays, xdefs.data, xdefs.size);
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_ext_desc *const"}, {"name", arr},
               {"rows", cpf_buf_str(&xrows)});
    cpf_buf_puts(&arrays, "\n");
    size_t count = 0;
    for (const char *q = cpf_buf_str(&xrows); (q = strchr(q, '\n')) != NULL; q++) count++;
    CPG_RENDER(g, &deps, "json_register_exts", {"arr", arr}, {"count", cpg_str(g, "%zu", count)});
  }
  cpf_buf_free(&xdefs);
  cpf_buf_free(&xrows);
  const char *last = "((void)r, CPAY_OK)";
  if (rows.size) {
    const char *arr = cpg_str(g, "%s__json_msgs", prefix);
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_msg_desc *const"}, {"name", arr},
               {"rows", cpf_buf_str(&rows)});
    cpf_buf_puts(&arrays, "\n");
    last = cpg_str(g, "cpay_registry_add_all(r, %s, %zu)", arr, msg_count);
  } else if (deps.size) {
    last = "CPAY_OK";
  }
  CPG_RENDER(g, out, "json_register_def", {"arrays", cpf_buf_str(&arrays)}, {"prefix", prefix},
             {"deps", cpf_buf_str(&deps)}, {"last", last});
  cpf_buf_free(&rows);
  cpf_buf_free(&deps);
  cpf_buf_free(&arrays);
}
