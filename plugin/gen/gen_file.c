// One .proto file: walks its elements in a fixed order and assembles
// foo.cpay.h and foo.cpay.c; also the extensions and their registration.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/port.h"
#include "gen/gen.h"

typedef void msg_fn(cpg_gen *g, const cpm_message *m, cpf_buf *out);

// Pre-order walk: a message, then its nested messages.
static void each_message(cpg_gen *g, const cpm_message *msgs, size_t count, msg_fn *fn,
                         cpf_buf *out) {
  for (size_t i = 0; i < count; i++) {
    fn(g, &msgs[i], out);
    each_message(g, msgs[i].nested, msgs[i].nested_count, fn, out);
  }
}

static void forward(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  CPG_RENDER(g, out, "msg_forward", {"msg", cpn_message(g->names, m)});
}

static void table_decl(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  CPG_RENDER(g, out, "msg_table_decl", {"msg", cpn_message(g->names, m)}, {"api", g->api});
}

static void enums_of(cpg_gen *g, const cpm_message *msgs, size_t count) {
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < msgs[i].enum_count; k++) cpg_gen_enum(g, &msgs[i].enums[k], &g->h, &g->c);
    enums_of(g, msgs[i].nested, msgs[i].nested_count);
  }
}

// Every extension, file-level first, then nested ones in message order.
typedef struct ext_list {
  const cpm_field **items;
  size_t count;
  size_t cap;
} ext_list;

static void ext_push(ext_list *l, const cpm_field *x) {
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->items = cpf_xrealloc(l->items, l->cap * sizeof(*l->items));
  }
  l->items[l->count++] = x;
}

static void collect_nested_exts(const cpm_message *msgs, size_t count, ext_list *l) {
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < msgs[i].extension_count; k++) ext_push(l, &msgs[i].extensions[k]);
    collect_nested_exts(msgs[i].nested, msgs[i].nested_count, l);
  }
}

static void gen_extension(cpg_gen *g, const cpm_field *x) {
  const char *name = cpn_extension(g->names, x);
  const char *extendee = cpn_message(g->names, x->extendee);
  const char *what;
  if (cpg_is_message(x)) {
    what = cpg_str(g, "%s%s", x->label == CPM_LABEL_REPEATED ? "repeated " : "",
                   cpn_message(g->names, x->message_type));
  } else if (x->type == CPM_TYPE_ENUM) {
    what = cpg_str(g, "%s%s", x->label == CPM_LABEL_REPEATED ? "repeated " : "",
                   cpn_enum(g->names, x->enum_type));
  } else {
    what = cpg_str(g, "%s%s", x->label == CPM_LABEL_REPEATED ? "repeated " : "",
                   cpg_scalar_ctype(x->type));
  }
  CPG_RENDER(g, &g->h, "ext_decl", {"full_name", x->full_name}, {"extendee", x->extendee->full_name},
             {"comment", cpg_str(g, "field %d, %s", (int)x->number, what)}, {"api", g->api},
             {"ext", name});
  const char *sub = ".msg = NULL";
  if (cpg_is_message(x)) {
    sub = cpg_str(g, ".msg = &%s_table", cpn_message(g->names, x->message_type));
  } else if (x->type == CPM_TYPE_ENUM && x->enum_type->closed) {
    sub = cpg_str(g, ".enm = &%s_table", cpn_enum(g->names, x->enum_type));
  }
  const char *lit = cpg_default_literal(g, x);
  cpf_buf def = {0};
  const char *default_ref = "NULL";
  if (lit) {
    CPG_RENDER(g, &def, "ext_default", {"ctype", cpg_scalar_ctype(x->type)}, {"ext", name},
               {"value", lit});
    default_ref = cpg_str(g, "&%s__default", name);
  }
  CPG_RENDER(g, &g->c, "ext_def", {"default_def", cpf_buf_str(&def)}, {"ext", name},
             {"number", cpg_str(g, "%d", (int)x->number)}, {"type", cpg_type_const(x->type)},
             {"mode", cpg_mode(g, x)}, {"extendee", extendee}, {"sub", sub},
             {"full_name", x->full_name}, {"default_ref", default_ref});
  cpf_buf_free(&def);
  if (x->extendee->message_set_wire_format && !(cpg_is_message(x) && x->label != CPM_LABEL_REPEATED)) {
    cpf_diag_error(g->diag, &x->loc, g->file->name,
                   "extension %s of message set %s must be a singular message", x->full_name,
                   x->extendee->full_name);
  }
}

static const char *replace_suffix(cpg_gen *g, const char *path, const char *suffix) {
  size_t len = strlen(path);
  if (len > 6 && strcmp(path + len - 6, ".proto") == 0) len -= 6;
  return cpg_str(g, "%.*s%s", (int)len, path, suffix);
}

static const char *guard_of(cpg_gen *g, const char *header) {
  cpf_buf b = {0};
  for (const char *p = header; *p; p++) {
    char c = (char)toupper((unsigned char)*p);
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
    cpf_buf_append(&b, &c, 1);
  }
  cpf_buf_puts(&b, "_");
  return cpg_own(g, cpf_buf_take(&b));
}

static void walk_tables(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  cpg_gen_message_table(g, m, out);
}

void cpg_gen_file(cpg_gen *g) {
  const cpm_file *f = g->file;
  const char *header = replace_suffix(g, f->name, ".cpay.h");
  const char *guard = guard_of(g, header);

  // The body first: it tells whether <math.h> is needed.
  cpf_buf body = {0};
  cpf_buf fwd = {0};
  each_message(g, f->messages, f->message_count, forward, &fwd);
  if (fwd.size) {
    cpf_buf_append(&body, fwd.data, fwd.size);
    cpf_buf_puts(&body, "\n");
  }
  cpf_buf_free(&fwd);
  cpf_buf saved_h = g->h;
  g->h = body;
  for (size_t i = 0; i < f->enum_count; i++) cpg_gen_enum(g, &f->enums[i], &g->h, &g->c);
  enums_of(g, f->messages, f->message_count);
  cpf_buf decls = {0};
  each_message(g, f->messages, f->message_count, table_decl, &decls);
  if (decls.size) {
    cpf_buf_append(&g->h, decls.data, decls.size);
    cpf_buf_puts(&g->h, "\n");
  }
  cpf_buf_free(&decls);
  each_message(g, f->messages, f->message_count, cpg_gen_message_struct, &g->h);
  each_message(g, f->messages, f->message_count, cpg_gen_message_api, &g->h);
  each_message(g, f->messages, f->message_count, walk_tables, &g->c);
  ext_list exts = {0};
  for (size_t i = 0; i < f->extension_count; i++) ext_push(&exts, &f->extensions[i]);
  collect_nested_exts(f->messages, f->message_count, &exts);
  for (size_t i = 0; i < exts.count; i++) gen_extension(g, exts.items[i]);
  if (exts.count) cpf_buf_puts(&g->h, "\n");
  const char *prefix = cpn_file_prefix(g->names, f);
  CPG_RENDER(g, &g->h, "register_decl", {"source", f->name}, {"api", g->api}, {"prefix", prefix});
  if (exts.count) {
    cpf_buf rows = {0};
    for (size_t i = 0; i < exts.count; i++) {
      CPG_RENDER(g, &rows, "array_row",
                 {"value", cpg_str(g, "&%s", cpn_extension(g->names, exts.items[i]))});
    }
    CPG_RENDER(g, &g->c, "register_def", {"prefix", prefix}, {"rows", cpf_buf_str(&rows)},
               {"count", cpg_str(g, "%zu", exts.count)});
    cpf_buf_free(&rows);
  } else {
    CPG_RENDER(g, &g->c, "register_def_empty", {"prefix", prefix});
  }
  free(exts.items);
  cpg_gen_json_header(g, &g->h);
  cpg_gen_json_source(g, &g->c);
  body = g->h;
  g->h = saved_h;

  cpf_buf includes = {0};
  if (g->needs_math) CPG_RENDER(g, &includes, "include", {"path", "<math.h>"});
  CPG_RENDER(g, &includes, "include", {"path", "\"cpay/json.h\""});
  CPG_RENDER(g, &includes, "include", {"path", "\"cpay/text.h\""});
  for (size_t i = 0; i < f->dep_count; i++) {
    CPG_RENDER(g, &includes, "include",
               {"path", cpg_str(g, "\"%s\"", replace_suffix(g, f->deps[i]->name, ".cpay.h"))});
  }
  // Both versions come from the runtime headers the plugin is built with.
  CPG_RENDER(g, &g->h, "header_begin", {"version", CPAY_VERSION_STRING}, {"source", f->name},
             {"guard", guard}, {"includes", cpf_buf_str(&includes)},
             {"gencode_version", cpg_str(g, "%d", CPAY_GENCODE_VERSION)});
  cpf_buf_append(&g->h, cpf_buf_str(&body), body.size);
  CPG_RENDER(g, &g->h, "header_end", {"guard", guard});
  cpf_buf_free(&body);
  cpf_buf_free(&includes);

  cpf_buf src = {0};
  // The source includes its header by file name: it sits beside it.
  const char *slash = strrchr(header, '/');
  CPG_RENDER(g, &src, "source_begin", {"version", CPAY_VERSION_STRING}, {"source", f->name},
             {"header", slash ? slash + 1 : header});
  cpf_buf_append(&src, cpf_buf_str(&g->c), g->c.size);
  cpf_buf_free(&g->c);
  g->c = src;
}
