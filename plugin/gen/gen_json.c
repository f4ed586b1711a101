// JSON and text format in generated code: a description per message
// (cpay/reflect.h: JSON names and the descriptions of submessage and enum
// fields, parallel to the binary table's fields), the typed wrappers
// (_to_json/_from_json, _to_text/_from_text/_debug_text) and the
// registration of the file's types for google.protobuf.Any and extensions.
// The wrappers are static inline in the header: a program links the JSON
// or text code only when it calls one. The descriptions are data, and
// <file>_register_types calls only the registry.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

typedef void json_fn(cpg_gen *g, const cps_message *m, cps_buf *out);

static void each(cpg_gen *g, const cps_message *msgs, size_t count, json_fn *fn, cps_buf *out) {
  for (size_t i = 0; i < count; i++) {
    fn(g, &msgs[i], out);
    each(g, msgs[i].nested, msgs[i].nested_count, fn, out);
  }
}

static const char *wkt_kind(const cps_message *m) {
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

void cpg_gen_json_message_decls(cpg_gen *g, const cps_message *m, cps_buf *out) {
  cpg_print(g, out,
            "// JSON and text format (cpay/json.h, cpay/text.h). Inline: a program\n"
            "// links their code only when it calls one.\n"
            "$api$extern const cpay_msg_desc $msg$_desc;\n"
            "// $full_name$ as proto3 JSON text on `arena` (NUL-terminated);\n"
            "// `opts` may be NULL.\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_to_json(\n"
            "    const $msg$ *msg, cpay_arena *arena, const cpay_json_encode_opts *opts,\n"
            "    cpay_str *out, cpay_status *st) {\n"
            "  return cpay_json_encode(msg, &$msg$_desc, arena, opts, out, st);\n"
            "}\n"
            "// Parses proto3 JSON into a new $full_name$ on `arena` (*out set on success).\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_from_json(\n"
            "    const char *json, size_t len, cpay_arena *arena, const cpay_json_decode_opts *opts,\n"
            "    $msg$ **out, cpay_status *st) {\n"
            "  $msg$ *msg = $msg$_new(arena);\n"
            "  *out = NULL;\n"
            "  if (msg == NULL) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, \"out of memory\");\n"
            "  cpay_code code = cpay_json_decode(json, len, msg, &$msg$_desc, arena, opts, st);\n"
            "  if (code == CPAY_OK) *out = msg;\n"
            "  return code;\n"
            "}\n"
            "// $full_name$ as protobuf text format on `arena` (NUL-terminated);\n"
            "// `opts` may be NULL.\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_to_text(\n"
            "    const $msg$ *msg, cpay_arena *arena, const cpay_text_encode_opts *opts,\n"
            "    cpay_str *out, cpay_status *st) {\n"
            "  return cpay_text_encode(msg, &$msg$_desc, arena, opts, out, st);\n"
            "}\n"
            "// Parses text format into a new $full_name$ on `arena` (*out set on success).\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_from_text(\n"
            "    const char *text, size_t len, cpay_arena *arena, const cpay_text_decode_opts *opts,\n"
            "    $msg$ **out, cpay_status *st) {\n"
            "  $msg$ *msg = $msg$_new(arena);\n"
            "  *out = NULL;\n"
            "  if (msg == NULL) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, \"out of memory\");\n"
            "  cpay_code code = cpay_text_decode(text, len, msg, &$msg$_desc, arena, opts, st);\n"
            "  if (code == CPAY_OK) *out = msg;\n"
            "  return code;\n"
            "}\n"
            "// One line of text format for logs; never fails (see cpay_text_debug).\n"
            "static inline const char *$msg$_debug_text(const $msg$ *msg, cpay_arena *arena) {\n"
            "  return cpay_text_debug(msg, &$msg$_desc, arena);\n"
            "}\n"
            "\n",
            "api", g->api, "full_name", m->full_name, "msg", cpg_name_message(g->names, m),
            CPG_END);
}

void cpg_gen_json_map_entry_decl(cpg_gen *g, const cps_message *m, cps_buf *out) {
  cpg_print(g, out, "extern const cpay_msg_desc $msg$_desc;\n", "msg",
            cpg_name_message(g->names, m), CPG_END);
}

void cpg_gen_register_types_decl(cpg_gen *g, cps_buf *out) {
  // Imports that only supply options are left out (cpg_dep_has_code).
  const char *imports = "its imports";
  for (size_t i = 0; i < g->file->dep_count; i++) {
    if (!cpg_dep_has_code(g->file, i)) imports = "the imports its types use";
  }
  cpg_print(g, out,
            "// Adds the messages of $source$ and of $imports$ to `r`, so that\n"
            "// google.protobuf.Any values holding them can be written and read as JSON.\n"
            "$api$CPAY_NODISCARD cpay_code $prefix$_register_types(cpay_registry *r);\n"
            "\n",
            "source", g->file->name, "imports", imports, "api", g->api, "prefix",
            cpg_name_file_prefix(g->names, g->file), CPG_END);
}

// ---- source ------------------------------------------------------------------------

static int cmp_field_number(const void *a, const void *b) {
  const cps_field *x = *(const cps_field *const *)a, *y = *(const cps_field *const *)b;
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
static void name_index(cpg_gen *g, const cps_field **sorted, size_t n, bool json,
                       const char *name, cps_buf *out) {
  named_index *idx = cps_pool_alloc(g->pool, (n + 1) * sizeof(*idx));
  for (size_t i = 0; i < n; i++) {
    idx[i].name = json ? sorted[i]->json_name : sorted[i]->name;
    idx[i].index = (uint16_t)i;
  }
  qsort(idx, n, sizeof(*idx), cmp_named);
  cpg_print(g, out, "static const uint16_t $array$[] = {\n", "array", name, CPG_END);
  for (size_t i = 0; i < n; i++) {
    cpg_print(g, out, "    $index$,\n", "index", cpg_str(g, "%u", (unsigned)idx[i].index), CPG_END);
  }
  cpg_print(g, out, "};\n", CPG_END);
}

// A static array of `n` rows, printed by `row` for each sorted field.
static void field_array(cpg_gen *g, const char *type, const char *name, const cps_field **sorted,
                        size_t n, const char *(*row)(cpg_gen *, const cps_field *),
                        cps_buf *out) {
  cpg_print(g, out, "static const $type$ $array$[] = {\n", "type", type, "array", name, CPG_END);
  for (size_t i = 0; i < n; i++) {
    cpg_print(g, out, "    $row$,\n", "row", row(g, sorted[i]), CPG_END);
  }
  cpg_print(g, out, "};\n", CPG_END);
}

static const char *json_name_row(cpg_gen *g, const cps_field *f) {
  return cpg_c_string(g, f->json_name, strlen(f->json_name));
}

static const char *msg_desc_row(cpg_gen *g, const cps_field *f) {
  if (!cpg_is_message(f)) return "NULL";
  return cpg_str(g, "&%s_desc", cpg_name_message(g->names, f->message_type));
}

static const char *enum_desc_row(cpg_gen *g, const cps_field *f) {
  if (f->type != CPS_TYPE_ENUM || f->enum_type == NULL) return "NULL";
  return cpg_str(g, "&%s_desc", cpg_name_enum(g->names, f->enum_type));
}

static void msg_table(cpg_gen *g, const cps_message *m, cps_buf *out) {
  const char *msg = cpg_name_message(g->names, m);
  size_t n = m->field_count;
  const cps_field **sorted = cps_pool_alloc(g->pool, (n + 1) * sizeof(*sorted));
  for (size_t i = 0; i < n; i++) sorted[i] = &m->fields[i];
  qsort(sorted, n, sizeof(*sorted), cmp_field_number);
  const char *names = "NULL", *msgs = "NULL", *enums = "NULL";
  const char *by_json_name = "NULL", *by_name = "NULL";
  if (n > 0) {
    names = cpg_str(g, "%s__json_names", msg);
    msgs = cpg_str(g, "%s__json_msgs", msg);
    enums = cpg_str(g, "%s__json_enums", msg);
    by_json_name = cpg_str(g, "%s__json_by_json_name", msg);
    by_name = cpg_str(g, "%s__json_by_name", msg);
    field_array(g, "char *const", names, sorted, n, json_name_row, out);
    field_array(g, "cpay_msg_desc *const", msgs, sorted, n, msg_desc_row, out);
    field_array(g, "cpay_enum_desc *const", enums, sorted, n, enum_desc_row, out);
    name_index(g, sorted, n, true, by_json_name, out);
    name_index(g, sorted, n, false, by_name, out);
  }
  // Reserved names, which text format input may still use: only messages
  // with some have the row.
  const char *reserved = "";
  if (m->reserved_name_count > 0) {
    const char *array = cpg_str(g, "%s__reserved_names", msg);
    cpg_print(g, out, "static const char *const $array$[] = {\n", "array", array, CPG_END);
    for (size_t i = 0; i < m->reserved_name_count; i++) {
      const char *name = m->reserved_names[i];
      cpg_print(g, out, "    $name$,\n", "name", cpg_c_string(g, name, strlen(name)), CPG_END);
    }
    cpg_print(g, out, "    NULL,\n};\n", CPG_END);
    reserved = cpg_str(g, "    .reserved_names = %s,\n", array);
  }
  cpg_print(g, out,
            "const cpay_msg_desc $msg$_desc = {\n"
            "    .table = &$msg$_table,\n"
            "    .json_names = $names$,\n"
            "    .msgs = $msgs$,\n"
            "    .enums = $enums$,\n"
            "    .wkt = $wkt$,\n"
            "    .by_json_name = $by_json_name$,\n"
            "    .by_name = $by_name$,\n"
            "$reserved$"
            "};\n"
            "\n",
            "msg", msg, "names", names, "msgs", msgs, "enums", enums, "wkt", wkt_kind(m),
            "by_json_name", by_json_name, "by_name", by_name, "reserved", reserved, CPG_END);
}

// The messages of the file (map entries left out) in pre-order; `out` NULL
// only counts them.
static void collect_msgs(const cps_message *msgs, size_t count, const cps_message **out,
                         size_t *n) {
  for (size_t i = 0; i < count; i++) {
    if (!msgs[i].map_entry) {
      if (out) out[*n] = &msgs[i];
      (*n)++;
    }
    collect_msgs(msgs[i].nested, msgs[i].nested_count, out, n);
  }
}

// <file>_register_types: the file's messages and extensions, after those of
// its imports.
static void register_types(cpg_gen *g, cps_buf *out) {
  const cps_file *f = g->file;
  const char *prefix = cpg_name_file_prefix(g->names, f);
  size_t ext_count, msg_count = 0;
  const cps_field **exts = cpg_file_extensions(g, &ext_count);
  collect_msgs(f->messages, f->message_count, NULL, &msg_count);
  const cps_message **msgs = cps_pool_alloc(g->pool, (msg_count + 1) * sizeof(*msgs));
  msg_count = 0;
  collect_msgs(f->messages, f->message_count, msgs, &msg_count);

  const char *ext_array = cpg_str(g, "%s__json_exts", prefix);
  const char *msg_array = cpg_str(g, "%s__json_msgs", prefix);
  if (ext_count > 0) {
    for (size_t i = 0; i < ext_count; i++) {
      const cps_field *x = exts[i];
      cpg_print(g, out, "static const cpay_ext_desc $ext$__desc = {&$ext$, $msg$, $enum$};\n",
                "ext", cpg_name_extension(g->names, x), "msg", msg_desc_row(g, x), "enum",
                enum_desc_row(g, x), CPG_END);
    }
    cpg_print(g, out, "static const cpay_ext_desc *const $array$[] = {\n", "array", ext_array,
              CPG_END);
    for (size_t i = 0; i < ext_count; i++) {
      cpg_print(g, out, "    &$ext$__desc,\n", "ext", cpg_name_extension(g->names, exts[i]),
                CPG_END);
    }
    cpg_print(g, out, "};\n\n", CPG_END);
  }
  if (msg_count > 0) {
    cpg_print(g, out, "static const cpay_msg_desc *const $array$[] = {\n", "array", msg_array,
              CPG_END);
    for (size_t i = 0; i < msg_count; i++) {
      cpg_print(g, out, "    &$msg$_desc,\n", "msg", cpg_name_message(g->names, msgs[i]), CPG_END);
    }
    cpg_print(g, out, "};\n\n", CPG_END);
  }
  cpg_print(g, out, "cpay_code $prefix$_register_types(cpay_registry *r) {\n", "prefix", prefix,
            CPG_END);
  size_t code_deps = 0;
  for (size_t i = 0; i < f->dep_count; i++) {
    if (!cpg_dep_has_code(f, i)) continue;
    code_deps++;
    cpg_print(g, out,
              "  if ($dep$_register_types(r) != CPAY_OK) return CPAY_ERR_NO_MEMORY;\n",
              "dep", cpg_name_file_prefix(g->names, f->deps[i]), CPG_END);
  }
  if (ext_count > 0) {
    cpg_print(g, out,
              "  if (cpay_registry_add_exts(r, $array$, $count$) != CPAY_OK) return "
              "CPAY_ERR_NO_MEMORY;\n",
              "array", ext_array, "count", cpg_str(g, "%zu", ext_count), CPG_END);
  }
  if (msg_count > 0) {
    cpg_print(g, out,
              "  return cpay_registry_add_all(r, $array$, $count$);\n"
              "}\n",
              "array", msg_array, "count", cpg_str(g, "%zu", msg_count), CPG_END);
  } else if (code_deps > 0 || ext_count > 0) {
    cpg_print(g, out, "  return CPAY_OK;\n}\n", CPG_END);
  } else {
    cpg_print(g, out, "  return ((void)r, CPAY_OK);\n}\n", CPG_END);
  }
}

void cpg_gen_json_source(cpg_gen *g, cps_buf *out) {
  const cps_file *f = g->file;
  cpg_print(g, out, "// ---- descriptions, for JSON and text\n\n", CPG_END);
  each(g, f->messages, f->message_count, msg_table, out);
  register_types(g, out);
}
