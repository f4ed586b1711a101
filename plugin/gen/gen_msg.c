// Messages: the struct (following the layout contract of cpay/gencode.h),
// the declarations and inline helpers in the header, and the table, the
// defaults instance and the parse/serialize wrappers in the source.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

// ---- layout ------------------------------------------------------------------

// Whether `f` gets a presence bit (see the layout contract).
static bool needs_hasbit(const cpm_field *f) {
  if (f->label == CPM_LABEL_REPEATED || cpg_in_real_oneof(f)) return false;
  if (f->label == CPM_LABEL_REQUIRED) return true;
  return f->has_presence && !cpg_is_message(f);
}

typedef struct layout {
  int *bit;  // per field index: presence bit or -1
  size_t required;
  size_t total;
} layout;

static layout compute_layout(const cpm_message *m) {
  layout l = {cpf_xmalloc((m->field_count + 1) * sizeof(int)), 0, 0};
  for (size_t i = 0; i < m->field_count; i++) {
    l.bit[i] = -1;
    if (m->fields[i].label == CPM_LABEL_REQUIRED && needs_hasbit(&m->fields[i])) {
      l.bit[i] = (int)l.total++;
      l.required++;
    }
  }
  for (size_t i = 0; i < m->field_count; i++) {
    if (m->fields[i].label != CPM_LABEL_REQUIRED && needs_hasbit(&m->fields[i])) {
      l.bit[i] = (int)l.total++;
    }
  }
  return l;
}

static const cpm_field *entry_field(const cpm_message *entry, int32_t number) {
  for (size_t i = 0; i < entry->field_count; i++) {
    if (entry->fields[i].number == number) return &entry->fields[i];
  }
  return NULL;
}

// The C type of one value of `f` (submessages as pointers).
static const char *value_ctype(cpg_gen *g, const cpm_field *f) {
  if (cpg_is_message(f)) return cpg_str(g, "%s *", cpn_message(g->names, f->message_type));
  return cpg_scalar_ctype(f->type);
}

static const char *member_decl(cpg_gen *g, const cpm_field *f) {
  const char *name = cpn_field(g->names, f);
  if (f->is_map) return cpg_str(g, "cpay_map *%s", name);
  const char *t = value_ctype(g, f);
  const char *sep = t[strlen(t) - 1] == '*' ? "" : " ";
  if (f->label == CPM_LABEL_REPEATED) {
    return cpg_str(g, "struct {\n    %s%s*data;\n    size_t size;\n    size_t cap;\n  } %s", t,
                   sep, name);
  }
  return cpg_str(g, "%s%s%s", t, sep, name);
}

static const char *member_comment(cpg_gen *g, const cpm_field *f, int bit) {
  cpf_buf b = {0};
  cpf_buf_printf(&b, "%d", (int)f->number);
  if (f->is_map) {
    const cpm_field *k = entry_field(f->message_type, 1);
    const cpm_field *v = entry_field(f->message_type, 2);
    const char *vt = "";
    if (v && v->type == CPM_TYPE_ENUM) vt = cpn_enum(g->names, v->enum_type);
    if (v && cpg_is_message(v)) vt = cpn_message(g->names, v->message_type);
    if (vt[0]) cpf_buf_printf(&b, ", map of %s to %s", k ? cpg_scalar_ctype(k->type) : "?", vt);
  } else if (f->type == CPM_TYPE_ENUM && f->enum_type) {
    cpf_buf_printf(&b, ", %s", cpn_enum(g->names, f->enum_type));
  }
  if (f->deprecated) cpf_buf_puts(&b, ", deprecated");
  if (f->label == CPM_LABEL_REQUIRED) {
    cpf_buf_puts(&b, ", required");
  } else if (bit >= 0) {
    cpf_buf_printf(&b, ", optional: see _has_%s()", cpn_field(g->names, f));
  }
  return cpg_own(g, cpf_buf_take(&b));
}

// ---- struct ------------------------------------------------------------------

void cpg_gen_message_struct(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  const char *msg = cpn_message(g->names, m);
  layout l = compute_layout(m);
  cpf_buf members = {0};
  if (l.total > 0) {
    CPG_RENDER(g, &members, "member", {"doc", ""}, {"indent", "  "},
               {"decl", cpg_str(g, "uint32_t hasbits_[%zu]", (l.total + 31) / 32)},
               {"comment", "presence bits"});
  }
  for (size_t i = 0; i < m->field_count; i++) {
    const cpm_field *f = &m->fields[i];
    if (cpg_in_real_oneof(f)) {
      if (f->oneof->fields[0] != f) continue;
      const cpm_oneof *o = f->oneof;
      cpf_buf um = {0};
      for (size_t k = 0; k < o->field_count; k++) {
        const cpm_field *of = o->fields[k];
        CPG_RENDER(g, &um, "member", {"doc", cpg_doc(g, &of->loc, "    ")}, {"indent", "    "},
                   {"decl", member_decl(g, of)},
                   {"comment", member_comment(g, of, -1)});
      }
      CPG_RENDER(g, &members, "member_oneof", {"doc", cpg_doc(g, &o->loc, "  ")},
                 {"oneof", cpn_oneof(g->names, o)},
                 {"name", o->name}, {"members", cpf_buf_str(&um)});
      cpf_buf_free(&um);
      continue;
    }
    CPG_RENDER(g, &members, "member", {"doc", cpg_doc(g, &f->loc, "  ")}, {"indent", "  "},
               {"decl", member_decl(g, f)},
               {"comment", member_comment(g, f, l.bit[i])});
  }
  CPG_RENDER(g, out, "msg_struct", {"doc", cpg_doc(g, &m->loc, "")}, {"full_name", m->full_name}, {"msg", msg},
             {"members", cpf_buf_str(&members)});
  cpf_buf_free(&members);
  free(l.bit);
}

// ---- header API ----------------------------------------------------------------

// A statement that resets a singular field to its default (zero when
// `with_default` is false).
static const char *reset_stmt(cpg_gen *g, const cpm_field *f, bool with_default) {
  const char *name = cpn_field(g->names, f);
  const cpm_default *d = &f->default_value;
  bool str = f->type == CPM_TYPE_STRING || f->type == CPM_TYPE_BYTES;
  const char *lit = with_default ? cpg_default_literal(g, f) : NULL;
  if (str) {
    if (lit == NULL) return cpg_str(g, "memset(&msg->%s, 0, sizeof(msg->%s));", name, name);
    return cpg_str(g, "msg->%s.data = %s%s;\n  msg->%s.size = %zu;", name,
                   f->type == CPM_TYPE_BYTES ? "(const uint8_t *)" : "",
                   cpg_c_string(g, d->bytes, d->bytes_size), name, d->bytes_size);
  }
  return cpg_str(g, "msg->%s = %s;", name, lit ? lit : (f->type == CPM_TYPE_BOOL ? "false" : "0"));
}

static void map_helpers(cpg_gen *g, const cpm_field *f, const char *msg, cpf_buf *out) {
  const char *name = cpn_field(g->names, f);
  const cpm_field *k = entry_field(f->message_type, 1);
  const cpm_field *v = entry_field(f->message_type, 2);
  if (k == NULL || v == NULL) {
    cpf_diag_error(g->diag, &f->loc, g->file->name, "map field %s: malformed map entry",
                   f->full_name);
    return;
  }
  const char *km = cpg_value_member(k->type);
  const char *vm = cpg_value_member(v->type);
  const char *vtype = value_ctype(g, v);
  const char *v_to_val, *val_to_v;
  if (v->type == CPM_TYPE_BYTES) {
    v_to_val = "{\n    val->data = (const uint8_t *)v.str.data;\n    val->size = v.str.size;\n  }";
    val_to_v = "v.str.data = (const char *)val.data;\n  v.str.size = val.size;";
  } else if (cpg_is_message(v)) {
    v_to_val = cpg_str(g, "*val = (%s)v.msg;", vtype);
    val_to_v = "v.msg = val;";
  } else {
    v_to_val = cpg_str(g, "*val = v.%s;", vm);
    val_to_v = cpg_str(g, "v.%s = val;", vm);
  }
  CPG_RENDER(g, out, "field_map", {"msg", msg}, {"field", name},
             {"ktype", cpg_scalar_ctype(k->type)}, {"vtype", vtype},
             {"vtype_ptr", cpg_str(g, "%s%s*", vtype, cpg_is_message(v) ? "" : " ")},
             {"key_to_k", cpg_str(g, "k.%s = key;", km)},
             {"k_to_key", cpg_str(g, "*key = k.%s;", km)}, {"v_to_val", v_to_val},
             {"val_to_v", val_to_v}, {"key_type", cpg_type_const(k->type)},
             {"val_type", cpg_type_const(v->type)});
}

static void field_helpers(cpg_gen *g, const cpm_message *m, const cpm_field *f, int bit,
                          cpf_buf *out) {
  const char *msg = cpn_message(g->names, m);
  const char *name = cpn_field(g->names, f);
  const char *number = cpg_str(g, "%d", (int)f->number);
  if (f->is_map) {
    map_helpers(g, f, msg, out);
  } else if (f->label == CPM_LABEL_REPEATED && cpg_is_message(f)) {
    CPG_RENDER(g, out, "field_repeated_msg", {"msg", msg}, {"field", name},
               {"sub", cpn_message(g->names, f->message_type)});
  } else if (f->label == CPM_LABEL_REPEATED) {
    CPG_RENDER(g, out, "field_repeated", {"msg", msg}, {"field", name},
               {"ctype", cpg_scalar_ctype(f->type)});
  } else if (cpg_is_message(f) && cpg_in_real_oneof(f)) {
    CPG_RENDER(g, out, "field_oneof_msg", {"msg", msg}, {"field", name},
               {"sub", cpn_message(g->names, f->message_type)},
               {"oneof", cpn_oneof(g->names, f->oneof)}, {"number", number});
  } else if (cpg_is_message(f) && bit >= 0) {
    CPG_RENDER(g, out, "field_msg_required", {"msg", msg}, {"field", name},
               {"sub", cpn_message(g->names, f->message_type)},
               {"bit", cpg_str(g, "%d", bit)});
  } else if (cpg_is_message(f)) {
    CPG_RENDER(g, out, "field_msg", {"msg", msg}, {"field", name},
               {"sub", cpn_message(g->names, f->message_type)});
  } else if (cpg_in_real_oneof(f)) {
    CPG_RENDER(g, out, "field_oneof", {"msg", msg}, {"field", name},
               {"oneof", cpn_oneof(g->names, f->oneof)}, {"number", number},
               {"ctype", cpg_scalar_ctype(f->type)},
               {"reset", reset_stmt(g, f, false)});
  } else if (bit >= 0) {
    CPG_RENDER(g, out, "field_presence", {"msg", msg}, {"field", name},
               {"bit", cpg_str(g, "%d", bit)}, {"ctype", cpg_scalar_ctype(f->type)},
               {"reset", reset_stmt(g, f, true)});
  } else {
    CPG_RENDER(g, out, "field_implicit", {"msg", msg}, {"field", name},
               {"ctype", cpg_scalar_ctype(f->type)}, {"reset", reset_stmt(g, f, false)});
  }
}

void cpg_gen_message_api(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  const char *msg = cpn_message(g->names, m);
  if (m->map_entry) return;  // the runtime uses its table; no API
  CPG_RENDER(g, out, "msg_decls", {"full_name", m->full_name}, {"msg", msg}, {"api", g->api});
  for (size_t i = 0; i < m->real_oneof_count; i++) {
    const cpm_oneof *o = &m->oneofs[i];
    const char *oname = cpn_oneof(g->names, o);
    cpf_buf cases = {0};
    for (size_t k = 0; k < o->field_count; k++) {
      CPG_RENDER(g, &cases, "oneof_case", {"msg", msg}, {"oneof", oname},
                 {"field", cpn_field(g->names, o->fields[k])},
                 {"number", cpg_str(g, "%d", (int)o->fields[k]->number)});
    }
    CPG_RENDER(g, out, "oneof", {"msg", msg}, {"oneof", oname}, {"cases", cpf_buf_str(&cases)});
    cpf_buf_free(&cases);
  }
  layout l = compute_layout(m);
  for (size_t i = 0; i < m->field_count; i++) field_helpers(g, m, &m->fields[i], l.bit[i], out);
  free(l.bit);
  cpf_buf_puts(out, "\n");
}

// ---- source: table ---------------------------------------------------------------

static int cmp_field_number(const void *a, const void *b) {
  const cpm_field *x = *(const cpm_field *const *)a, *y = *(const cpm_field *const *)b;
  return (x->number > y->number) - (x->number < y->number);
}

void cpg_gen_message_table(cpg_gen *g, const cpm_message *m, cpf_buf *out) {
  const char *msg = cpn_message(g->names, m);
  layout l = compute_layout(m);
  size_t n = m->field_count;
  const cpm_field **sorted = cpf_xmalloc((n + 1) * sizeof(*sorted));
  for (size_t i = 0; i < n; i++) sorted[i] = &m->fields[i];
  qsort(sorted, n, sizeof(*sorted), cmp_field_number);

  if (n > 65535 || l.total > 65535) {
    cpf_diag_error(g->diag, &m->loc, g->file->name,
                   "message %s: too many fields for protoc-gen-cpay (%zu, at most 65535)",
                   m->full_name, n);
  }
  cpf_buf rows = {0}, subs = {0}, names = {0}, defs = {0}, arrays = {0};
  size_t sub_count = 0;
  for (size_t i = 0; i < n; i++) {
    const cpm_field *f = sorted[i];
    const char *member = cpn_field(g->names, f);
    const char *presence = "0";
    int bit = l.bit[f->index];
    if (bit >= 0) {
      presence = cpg_str(g, "%d", bit + 1);
    } else if (cpg_in_real_oneof(f)) {
      presence = cpg_str(g, "-(int32_t)offsetof(%s, %s_case)", msg,
                         cpn_oneof(g->names, f->oneof));
    }
    const char *sub = "0";
    if (cpg_is_message(f)) {
      sub = cpg_str(g, "%zu", sub_count++);
      CPG_RENDER(g, &subs, "array_row",
                 {"value", cpg_str(g, "{.msg = &%s_table}", cpn_message(g->names, f->message_type))});
    } else if (f->type == CPM_TYPE_ENUM && f->enum_type && f->enum_type->closed) {
      sub = cpg_str(g, "%zu", sub_count++);
      CPG_RENDER(g, &subs, "array_row",
                 {"value", cpg_str(g, "{.enm = &%s_table}", cpn_enum(g->names, f->enum_type))});
    }
    CPG_RENDER(g, &rows, "table_field", {"number", cpg_str(g, "%d", (int)f->number)},
               {"msg", msg}, {"member", member}, {"presence", presence}, {"sub", sub},
               {"type", cpg_type_const(f->type)}, {"mode", cpg_mode(g, f)}, {"name", f->name});
    CPG_RENDER(g, &names, "array_row", {"value", cpg_str(g, "\"%s\"", f->name)});
    const char *lit = cpg_in_real_oneof(f) ? NULL : cpg_default_literal(g, f);
    if (lit) CPG_RENDER(g, &defs, "default_row", {"member", member}, {"value", lit});
  }
  size_t dense = 0;
  while (dense < n && sorted[dense]->number == (int32_t)dense + 1) dense++;

  const char *fields_ref = "NULL", *subs_ref = "NULL", *names_ref = "NULL", *defs_ref = "NULL";
  if (n > 0) {
    fields_ref = cpg_str(g, "%s__fields", msg);
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_field"}, {"name", fields_ref},
               {"rows", cpf_buf_str(&rows)});
    names_ref = cpg_str(g, "%s__names", msg);
    CPG_RENDER(g, &arrays, "static_array", {"type", "char *const"}, {"name", names_ref},
               {"rows", cpf_buf_str(&names)});
  }
  if (sub_count > 0) {
    subs_ref = cpg_str(g, "%s__subs", msg);
    CPG_RENDER(g, &arrays, "static_array", {"type", "cpay_sub"}, {"name", subs_ref},
               {"rows", cpf_buf_str(&subs)});
  }
  if (defs.size > 0) {
    defs_ref = cpg_str(g, "&%s__defaults", msg);
    CPG_RENDER(g, &arrays, "defaults", {"msg", msg}, {"rows", cpf_buf_str(&defs)});
  }
  cpf_buf flags = {0};
  if (m->extension_range_count > 0) cpf_buf_puts(&flags, " | CPAY_MSG_EXTENDABLE");
  if (m->map_entry) cpf_buf_puts(&flags, " | CPAY_MSG_MAP_ENTRY");
  if (m->message_set_wire_format) cpf_buf_puts(&flags, " | CPAY_MSG_MESSAGE_SET");
  const char *flags_s = flags.size ? cpg_str(g, "%s", cpf_buf_str(&flags) + 3) : "0";
  CPG_RENDER(g, out, "msg_table", {"full_name", m->full_name}, {"arrays", cpf_buf_str(&arrays)},
             {"msg", msg}, {"fields", fields_ref}, {"subs", subs_ref}, {"defaults", defs_ref},
             {"names", names_ref}, {"field_count", cpg_str(g, "%zu", n)},
             {"dense_below", cpg_str(g, "%zu", dense)},
             {"required_count", cpg_str(g, "%zu", l.required)},
             {"hasbit_count", cpg_str(g, "%zu", l.total)}, {"flags", flags_s});
  if (!m->map_entry) CPG_RENDER(g, out, "msg_funcs", {"msg", msg});
  cpf_buf_free(&rows);
  cpf_buf_free(&subs);
  cpf_buf_free(&names);
  cpf_buf_free(&defs);
  cpf_buf_free(&arrays);
  cpf_buf_free(&flags);
  free(sorted);
  free(l.bit);
}
