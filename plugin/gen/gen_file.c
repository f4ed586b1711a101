// One .proto file: walks its elements in a fixed order and assembles
// foo.cpay.h and foo.cpay.c; also the extensions and their registration.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/port.h"
#include "gen/gen.h"

typedef void msg_fn(cpg_gen *g, const cps_message *m, cps_buf *out);

// Pre-order walk: a message, then its nested messages.
static void each_message(cpg_gen *g, const cps_message *msgs, size_t count, msg_fn *fn,
                         cps_buf *out) {
  for (size_t i = 0; i < count; i++) {
    fn(g, &msgs[i], out);
    each_message(g, msgs[i].nested, msgs[i].nested_count, fn, out);
  }
}

static void forward(cpg_gen *g, const cps_message *m, cps_buf *out) {
  if (m->map_entry) return;
  cpg_print(g, out, "typedef struct $msg$ $msg$;\n", "msg", cpg_name_message(g->names, m), CPG_END);
}

static void table_decl(cpg_gen *g, const cps_message *m, cps_buf *out) {
  if (m->map_entry) return;
  cpg_print(g, out, "$api$extern const cpay_msg_table $msg$_table;\n", "api", g->api, "msg",
            cpg_name_message(g->names, m), CPG_END);
}

static void enums_of(cpg_gen *g, const cps_message *msgs, size_t count, cps_buf *out) {
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < msgs[i].enum_count; k++) cpg_gen_enum(g, &msgs[i].enums[k], out, &g->c);
    enums_of(g, msgs[i].nested, msgs[i].nested_count, out);
  }
}

// What an extension holds, for its comment: "repeated int32_t", "pkg_Msg".
static const char *ext_what(cpg_gen *g, const cps_field *x) {
  const char *type = cpg_scalar_ctype(x->type);
  if (cpg_is_message(x)) type = cpg_name_message(g->names, x->message_type);
  if (x->type == CPS_TYPE_ENUM) type = cpg_name_enum(g->names, x->enum_type);
  return cpg_str(g, "%s%s", x->label == CPS_LABEL_REPEATED ? "repeated " : "", type);
}

static void gen_extension(cpg_gen *g, const cps_field *x, cps_buf *hdr) {
  const char *name = cpg_name_extension(g->names, x);
  cpg_print(g, hdr,
            "// Extension $full_name$ of $extendee$ (field $number$, $what$).\n"
            "$api$extern const cpay_ext $ext$;\n",
            "full_name", x->full_name, "extendee", x->extendee->full_name, "number",
            cpg_str(g, "%d", (int)x->number), "what", ext_what(g, x), "api", g->api, "ext", name,
            CPG_END);
  const char *sub = ".msg = NULL";
  if (cpg_is_message(x)) {
    sub = cpg_str(g, ".msg = &%s_table", cpg_name_message(g->names, x->message_type));
  } else if (x->type == CPS_TYPE_ENUM && x->enum_type->closed) {
    sub = cpg_str(g, ".enm = &%s_table", cpg_name_enum(g->names, x->enum_type));
  }
  const char *lit = cpg_default_literal(g, x);
  const char *default_ref = "NULL";
  if (lit) {
    cpg_print(g, &g->c, "static const $ctype$ $ext$__default = $value$;\n", "ctype",
              cpg_scalar_ctype(x->type), "ext", name, "value", lit, CPG_END);
    default_ref = cpg_str(g, "&%s__default", name);
  }
  cpg_print(g, &g->c,
            "const cpay_ext $ext$ = {\n"
            "    {$number$, 0, 0, 0, $type$, $mode$},\n"
            "    &$extendee$_table,\n"
            "    {$sub$},\n"
            "    \"$full_name$\",\n"
            "    $default_ref$,\n"
            "};\n"
            "\n",
            "ext", name, "number", cpg_str(g, "%d", (int)x->number), "type",
            cpg_type_const(x->type), "mode", cpg_mode(g, x), "extendee",
            cpg_name_message(g->names, x->extendee), "sub", sub, "full_name", x->full_name,
            "default_ref", default_ref, CPG_END);
  bool singular_message = cpg_is_message(x) && x->label != CPS_LABEL_REPEATED;
  if (x->extendee->message_set_wire_format && !singular_message) {
    cps_diag_error(g->diag, &x->loc, g->file->name,
                   "extension %s of message set %s must be a singular message", x->full_name,
                   x->extendee->full_name);
  }
}

// <file>_register_extensions: the declaration, and the definition over an
// array of the file's extensions.
static void register_extensions(cpg_gen *g, const cps_field **exts, size_t count,
                                cps_buf *hdr) {
  const char *prefix = cpg_name_file_prefix(g->names, g->file);
  cpg_print(g, hdr,
            "// Adds the extensions declared in $source$ (not those of its imports) to `r`.\n"
            "$api$CPAY_NODISCARD cpay_code $prefix$_register_extensions(cpay_extreg *r);\n"
            "\n",
            "source", g->file->name, "api", g->api, "prefix", prefix, CPG_END);
  if (count == 0) {
    cpg_print(g, &g->c,
              "cpay_code $prefix$_register_extensions(cpay_extreg *r) {\n"
              "  (void)r;\n"
              "  return CPAY_OK;\n"
              "}\n",
              "prefix", prefix, CPG_END);
    return;
  }
  cpg_print(g, &g->c, "static const cpay_ext *const $prefix$__exts[] = {\n", "prefix", prefix,
            CPG_END);
  for (size_t i = 0; i < count; i++) {
    cpg_print(g, &g->c, "    &$ext$,\n", "ext", cpg_name_extension(g->names, exts[i]), CPG_END);
  }
  cpg_print(g, &g->c,
            "};\n"
            "\n"
            "cpay_code $prefix$_register_extensions(cpay_extreg *r) {\n"
            "  return cpay__extreg_add_all(r, $prefix$__exts, $count$);\n"
            "}\n",
            "prefix", prefix, "count", cpg_str(g, "%zu", count), CPG_END);
}

static const char *replace_suffix(cpg_gen *g, const char *path, const char *suffix) {
  size_t len = strlen(path);
  if (len > 6 && strcmp(path + len - 6, ".proto") == 0) len -= 6;
  return cpg_str(g, "%.*s%s", (int)len, path, suffix);
}

static const char *guard_of(cpg_gen *g, const char *header) {
  cps_buf b = {0};
  for (const char *p = header; *p; p++) {
    char c = (char)toupper((unsigned char)*p);
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
    cps_buf_append(&b, &c, 1);
  }
  cps_buf_puts(&b, "_");
  return cps_pool_take(g->pool, &b);
}

static void walk_tables(cpg_gen *g, const cps_message *m, cps_buf *out) {
  cpg_gen_message_table(g, m, out);
}

// The header's body up to the extensions: forward declarations, enums,
// then message by message.
static void header_body(cpg_gen *g, cps_buf *out) {
  const cps_file *f = g->file;
  size_t start = out->size;
  each_message(g, f->messages, f->message_count, forward, out);
  if (out->size > start) cpg_print(g, out, "\n", CPG_END);
  start = out->size;
  each_message(g, f->messages, f->message_count, table_decl, out);
  if (out->size > start) cpg_print(g, out, "\n", CPG_END);
  for (size_t i = 0; i < f->enum_count; i++) cpg_gen_enum(g, &f->enums[i], out, &g->c);
  enums_of(g, f->messages, f->message_count, out);
  each_message(g, f->messages, f->message_count, cpg_gen_message_decls, out);
}

void cpg_gen_file(cpg_gen *g) {
  const cps_file *f = g->file;
  const char *header = replace_suffix(g, f->name, ".cpay.h");
  const char *guard = guard_of(g, header);

  // The body first: it tells whether <math.h> is needed.
  cps_buf body = {0};
  each_message(g, f->messages, f->message_count, cpg_gen_map_entry, &g->c);
  header_body(g, &body);
  each_message(g, f->messages, f->message_count, walk_tables, &g->c);
  size_t ext_count;
  const cps_field **exts = cpg_file_extensions(g, &ext_count);
  if (ext_count) cpg_print(g, &body, "// ---- extensions\n\n", CPG_END);
  for (size_t i = 0; i < ext_count; i++) gen_extension(g, exts[i], &body);
  if (ext_count) cpg_print(g, &body, "\n", CPG_END);
  register_extensions(g, exts, ext_count, &body);
  if (!g->opts->binary_only) {
    cpg_gen_register_types_decl(g, &body);
    cpg_gen_json_source(g, &g->c);
  }
  // Both versions come from the runtime headers the plugin is built with.
  cpg_print(g, &g->h,
            "// Generated by protoc-gen-cpay $version$ from $source$. DO NOT EDIT.\n"
            "#ifndef $guard$\n"
            "#define $guard$\n"
            "\n"
            "#include \"cpay/gencode.h\"\n",
            "version", CPAY_VERSION_STRING, "source", f->name, "guard", guard, CPG_END);
  if (g->needs_math) cpg_print(g, &g->h, "#include <math.h>\n", CPG_END);
  if (g->opts->binary_only) {
    cpg_print(g, &g->h, "#include \"cpay/reflect.h\"\n", CPG_END);
  } else {
    cpg_print(g, &g->h,
              "#include \"cpay/json.h\"\n"
              "#include \"cpay/reflect.h\"\n"
              "#include \"cpay/text.h\"\n",
              CPG_END);
  }
  for (size_t i = 0; i < f->dep_count; i++) {
    if (!cpg_dep_has_code(f, i)) continue;
    cpg_print(g, &g->h, "#include \"$header$\"\n", "header",
              replace_suffix(g, f->deps[i]->name, ".cpay.h"), CPG_END);
  }
  cpg_print_header_open(g);
  cpg_print(g, &g->h,
            "$body$"
            "CPAY_EXTERN_C_END\n"
            "\n"
            "#endif  // $guard$\n",
            "body", cps_pool_take(g->pool, &body), "guard", guard, CPG_END);

  // The source includes its header by file name: it sits beside it.
  cps_buf src = {0};
  const char *slash = strrchr(header, '/');
  cpg_print(g, &src,
            "// Generated by protoc-gen-cpay $version$ from $source$. DO NOT EDIT.\n"
            "#include \"$header$\"\n"
            "\n"
            "#include <stddef.h>\n"
            "\n"
            "$body$",
            "version", CPAY_VERSION_STRING, "source", f->name, "header",
            slash ? slash + 1 : header, "body", cps_pool_take(g->pool, &g->c), CPG_END);
  g->c = src;
}
