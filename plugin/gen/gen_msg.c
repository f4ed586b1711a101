// Messages: the struct (following the layout contract of cpay/gencode.h),
// the declarations and inline helpers in the header, and the table, the
// defaults instance and the parse/serialize wrappers in the source.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/gencode.h"
#include "gen/gen.h"

// ---- layout ------------------------------------------------------------------

// Whether `f` gets a presence bit (see the layout contract).
static bool needs_hasbit(const cps_field *f) {
  if (f->label == CPS_LABEL_REPEATED || cpg_in_real_oneof(f)) return false;
  if (f->label == CPS_LABEL_REQUIRED) return true;
  return f->has_presence && !cpg_is_message(f);
}

typedef struct layout {
  int *bit;  // per field index: presence bit or -1
  size_t required;
  size_t total;
} layout;

static layout compute_layout(cpg_gen *g, const cps_message *m) {
  layout l = {cps_pool_alloc(g->pool, (m->field_count + 1) * sizeof(int)), 0, 0};
  for (size_t i = 0; i < m->field_count; i++) {
    l.bit[i] = -1;
    if (m->fields[i].label == CPS_LABEL_REQUIRED && needs_hasbit(&m->fields[i])) {
      l.bit[i] = (int)l.total++;
      l.required++;
    }
  }
  for (size_t i = 0; i < m->field_count; i++) {
    if (m->fields[i].label != CPS_LABEL_REQUIRED && needs_hasbit(&m->fields[i])) {
      l.bit[i] = (int)l.total++;
    }
  }
  return l;
}

static const cps_field *entry_field(const cps_message *entry, int32_t number) {
  for (size_t i = 0; i < entry->field_count; i++) {
    if (entry->fields[i].number == number) return &entry->fields[i];
  }
  return NULL;
}

// The C type of one value of `f` (submessages as pointers).
static const char *value_ctype(cpg_gen *g, const cps_field *f) {
  if (cpg_is_message(f)) return cpg_str(g, "%s *", cpg_name_message(g->names, f->message_type));
  return cpg_scalar_ctype(f->type);
}

// The trailing comment of a member: its number and what the C type leaves unsaid.
static const char *member_comment(cpg_gen *g, const cps_field *f, int bit) {
  cps_buf b = {0};
  cps_buf_printf(&b, "%d", (int)f->number);
  if (f->is_map) {
    const cps_field *k = entry_field(f->message_type, 1);
    const cps_field *v = entry_field(f->message_type, 2);
    const char *vt = "";
    if (v && v->type == CPS_TYPE_ENUM) vt = cpg_name_enum(g->names, v->enum_type);
    if (v && cpg_is_message(v)) vt = cpg_name_message(g->names, v->message_type);
    if (vt[0]) cps_buf_printf(&b, ", map of %s to %s", k ? cpg_scalar_ctype(k->type) : "?", vt);
  } else if (f->type == CPS_TYPE_ENUM && f->enum_type) {
    cps_buf_printf(&b, ", %s", cpg_name_enum(g->names, f->enum_type));
  }
  if (f->deprecated) cps_buf_puts(&b, ", deprecated");
  if (f->label == CPS_LABEL_REQUIRED) {
    cps_buf_puts(&b, ", required");
  } else if (bit >= 0) {
    cps_buf_printf(&b, ", optional: see _has_%s()", cpg_name_field(g->names, f));
  }
  return cps_pool_take(g->pool, &b);
}

// ---- struct ------------------------------------------------------------------

// One member of the struct, indented by `in`, with the field's comments.
static void print_member(cpg_gen *g, const cps_field *f, int bit, const char *in, cps_buf *out) {
  const char *name = cpg_name_field(g->names, f);
  const char *type = value_ctype(g, f);
  // "T *name" for pointers, "T name" otherwise.
  const char *sep = type[strlen(type) - 1] == '*' ? "" : " ";
  const char *doc = cpg_doc(g, &f->loc, in);
  const char *comment = member_comment(g, f, bit);
  if (f->is_map) {
    cpg_print(g, out, "$doc$$in$cpay_map *$name$;  // $comment$\n", "doc", doc, "in", in,
              "name", name, "comment", comment, CPG_END);
  } else if (f->label == CPS_LABEL_REPEATED) {
    cpg_print(g, out,
              "$doc$$in$struct {\n"
              "    $type$$sep$*data;\n"
              "    size_t size;\n"
              "    size_t cap;\n"
              "  } $name$;  // $comment$\n",
              "doc", doc, "in", in, "type", type, "sep", sep, "name", name, "comment", comment,
              CPG_END);
  } else {
    cpg_print(g, out, "$doc$$in$$type$$sep$$name$;  // $comment$\n", "doc", doc, "in", in,
              "type", type, "sep", sep, "name", name, "comment", comment, CPG_END);
  }
}

static void print_oneof_members(cpg_gen *g, const cps_oneof *o, cps_buf *out) {
  cpg_print(g, out,
            "$doc$  uint32_t $oneof$_case;  // field number of the member set in oneof $name$, "
            "0: none\n"
            "  union {\n",
            "doc", cpg_doc(g, &o->loc, "  "), "oneof", cpg_name_oneof(g->names, o), "name", o->name,
            CPG_END);
  for (size_t k = 0; k < o->field_count; k++) print_member(g, o->fields[k], -1, "    ", out);
  cpg_print(g, out, "  };\n", CPG_END);
}

static void message_struct(cpg_gen *g, const cps_message *m, cps_buf *out) {
  layout l = compute_layout(g, m);
  cpg_print(g, out,
            "$doc$struct $msg$ {\n"
            "  cpay_msg_header hdr;  // unknown fields and extensions\n",
            "doc", cpg_doc(g, &m->loc, ""), "msg", cpg_name_message(g->names, m), CPG_END);
  if (l.total > 0) {
    cpg_print(g, out, "  uint32_t hasbits_[$words$];  // presence bits\n", "words",
              cpg_str(g, "%zu", (l.total + 31) / 32), CPG_END);
  }
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    if (!cpg_in_real_oneof(f)) {
      print_member(g, f, l.bit[i], "  ", out);
    } else if (f->oneof->fields[0] == f) {
      print_oneof_members(g, f->oneof, out);
    }
  }
  cpg_print(g, out, "};\n", CPG_END);
}

// ---- header API ----------------------------------------------------------------

// The statements (indented by `in`) that reset a singular field to its
// default, or to zero when `with_default` is false.
static void print_reset(cpg_gen *g, const cps_field *f, bool with_default, const char *in,
                        cps_buf *out) {
  const char *name = cpg_name_field(g->names, f);
  const cps_default *d = &f->default_value;
  const char *lit = with_default ? cpg_default_literal(g, f) : NULL;
  if (f->type != CPS_TYPE_STRING && f->type != CPS_TYPE_BYTES) {
    cpg_print(g, out, "$in$msg->$field$ = $value$;\n", "in", in, "field", name, "value",
              lit ? lit : (f->type == CPS_TYPE_BOOL ? "false" : "0"), CPG_END);
  } else if (lit == NULL) {
    cpg_print(g, out, "$in$memset(&msg->$field$, 0, sizeof(msg->$field$));\n", "in", in,
              "field", name, CPG_END);
  } else {
    cpg_print(g, out,
              "$in$msg->$field$.data = $cast$$literal$;\n"
              "$in$msg->$field$.size = $size$;\n",
              "in", in, "field", name, "cast",
              f->type == CPS_TYPE_BYTES ? "(const uint8_t *)" : "", "literal",
              cpg_c_string(g, d->bytes, d->bytes_size), "size",
              cpg_str(g, "%zu", d->bytes_size), CPG_END);
  }
}

static void map_helpers(cpg_gen *g, const cps_field *f, const char *msg, cps_buf *out) {
  const cps_field *k = entry_field(f->message_type, 1);
  const cps_field *v = entry_field(f->message_type, 2);
  if (k == NULL || v == NULL) {
    cps_diag_error(g->diag, &f->loc, g->file->name, "map field %s: malformed map entry",
                   f->full_name);
    return;
  }
  // Keys and values go through cpay_value: its member for each type.
  const char *km = cpg_value_member(k->type);
  const char *vm = cpg_value_member(v->type);
  const char *vtype = value_ctype(g, v);
  const char *v_to_val, *val_to_v;
  if (v->type == CPS_TYPE_BYTES) {
    v_to_val = "{\n    val->data = (const uint8_t *)v.str.data;\n    val->size = v.str.size;\n  }";
    val_to_v = "v.str.data = (const char *)val.data;\n  v.str.size = val.size;";
  } else if (cpg_is_message(v)) {
    v_to_val = cpg_str(g, "*val = (%s)v.msg;", vtype);
    val_to_v = "v.msg = val;";
  } else {
    v_to_val = cpg_str(g, "*val = v.%s;", vm);
    val_to_v = cpg_str(g, "v.%s = val;", vm);
  }
  cpg_print(g, out,
            "static inline size_t $msg$_$field$_size(const $msg$ *msg) {\n"
            "  return cpay_map_size(msg->$field$);\n"
            "}\n"
            "// Looks `key` up; when found stores the value in *val (if non-NULL).\n"
            "static inline bool $msg$_$field$_get(const $msg$ *msg, $ktype$ key, $vtype_ptr$val) {\n"
            "  cpay_value k, v;\n"
            "  if (msg->$field$ == NULL) return false;\n"
            "  memset(&k, 0, sizeof k);\n"
            "  k.$km$ = key;\n"
            "  if (!cpay_map_get(msg->$field$, k, &v)) return false;\n"
            "  if (val != NULL) $v_to_val$\n"
            "  return true;\n"
            "}\n"
            "// Inserts or replaces (the map keeps `key` and `val` as given: views are not\n"
            "// copied); CPAY_ERR_NO_MEMORY when the arena is exhausted.\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_$field$_set(\n"
            "    $msg$ *msg, $ktype$ key, $vtype$ val, cpay_arena *arena) {\n"
            "  cpay_value k, v;\n"
            "  if (msg->$field$ == NULL) {\n"
            "    msg->$field$ = cpay_map_new(arena, $key_type$, $val_type$);\n"
            "    if (msg->$field$ == NULL) return CPAY_ERR_NO_MEMORY;\n"
            "  }\n"
            "  memset(&k, 0, sizeof k);\n"
            "  memset(&v, 0, sizeof v);\n"
            "  k.$km$ = key;\n"
            "  $val_to_v$\n"
            "  return cpay_map_set(msg->$field$, k, v, arena);\n"
            "}\n"
            "// Removes `key`; false when it was not there.\n"
            "static inline bool $msg$_$field$_delete($msg$ *msg, $ktype$ key) {\n"
            "  cpay_value k;\n"
            "  if (msg->$field$ == NULL) return false;\n"
            "  memset(&k, 0, sizeof k);\n"
            "  k.$km$ = key;\n"
            "  return cpay_map_delete(msg->$field$, k);\n"
            "}\n"
            "// Iterates: start with *iter = 0; false when done. key and val may be NULL.\n"
            "static inline bool $msg$_$field$_next(\n"
            "    const $msg$ *msg, size_t *iter, $ktype$ *key, $vtype_ptr$val) {\n"
            "  cpay_value k, v;\n"
            "  if (msg->$field$ == NULL || !cpay_map_next(msg->$field$, iter, &k, &v)) return false;\n"
            "  if (key != NULL) *key = k.$km$;\n"
            "  if (val != NULL) $v_to_val$\n"
            "  return true;\n"
            "}\n"
            "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
            "  if (msg->$field$ != NULL) cpay_map_clear(msg->$field$);\n"
            "}\n",
            "msg", msg, "field", cpg_name_field(g->names, f), "ktype", cpg_scalar_ctype(k->type),
            "vtype", vtype, "vtype_ptr", cpg_str(g, "%s%s*", vtype, cpg_is_message(v) ? "" : " "),
            "km", km, "v_to_val", v_to_val, "val_to_v", val_to_v, "key_type",
            cpg_type_const(k->type), "val_type", cpg_type_const(v->type), CPG_END);
}

static void repeated_helpers(cpg_gen *g, const cps_field *f, const char *msg, cps_buf *out) {
  const char *name = cpg_name_field(g->names, f);
  if (cpg_is_message(f)) {
    cpg_print(g, out,
              "static inline size_t $msg$_$field$_size(const $msg$ *msg) {\n"
              "  return msg->$field$.size;\n"
              "}\n"
              "static inline const $sub$ *$msg$_$field$_get(const $msg$ *msg, size_t i) {\n"
              "  return msg->$field$.data[i];\n"
              "}\n"
              "// Appends a new submessage; NULL only when out of memory.\n"
              "static inline $sub$ *$msg$_add_$field$($msg$ *msg, cpay_arena *arena) {\n"
              "  $sub$ *sub = ($sub$ *)cpay_msg_new(&$sub$_table, arena);\n"
              "  if (sub == NULL) return NULL;\n"
              "  $sub$ **slot = ($sub$ **)cpay__array_add(&msg->$field$, sizeof(*slot), arena);\n"
              "  if (slot == NULL) return NULL;\n"
              "  *slot = sub;\n"
              "  return sub;\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
              "  msg->$field$.size = 0;\n"
              "}\n",
              "msg", msg, "field", name, "sub", cpg_name_message(g->names, f->message_type),
              CPG_END);
    return;
  }
  cpg_print(g, out,
            "static inline size_t $msg$_$field$_size(const $msg$ *msg) {\n"
            "  return msg->$field$.size;\n"
            "}\n"
            "static inline $ctype$ $msg$_$field$_get(const $msg$ *msg, size_t i) {\n"
            "  return msg->$field$.data[i];\n"
            "}\n"
            "// Appends `value`; CPAY_ERR_NO_MEMORY when the arena cannot grow the array.\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_add_$field$(\n"
            "    $msg$ *msg, $ctype$ value, cpay_arena *arena) {\n"
            "  $ctype$ *slot = ($ctype$ *)cpay__array_add(&msg->$field$, sizeof(*slot), arena);\n"
            "  if (slot == NULL) return CPAY_ERR_NO_MEMORY;\n"
            "  *slot = value;\n"
            "  return CPAY_OK;\n"
            "}\n"
            "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
            "  msg->$field$.size = 0;\n"
            "}\n",
            "msg", msg, "field", name, "ctype", cpg_scalar_ctype(f->type), CPG_END);
}

// A singular message field: presence is a non-NULL pointer, or (required
// fields) a presence bit too, or (oneof members) the case.
static void message_helpers(cpg_gen *g, const cps_field *f, int bit, const char *msg,
                            cps_buf *out) {
  const char *name = cpg_name_field(g->names, f);
  const char *sub = cpg_name_message(g->names, f->message_type);
  if (cpg_in_real_oneof(f)) {
    cpg_print(g, out,
              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
              "  return msg->$oneof$_case == $number$ && msg->$field$ != NULL;\n"
              "}\n"
              "// The submessage (selecting it in the oneof), created on `arena` on first\n"
              "// use; NULL only when out of memory.\n"
              "static inline $sub$ *$msg$_mutable_$field$($msg$ *msg, cpay_arena *arena) {\n"
              "  if (msg->$oneof$_case != $number$ || msg->$field$ == NULL) {\n"
              "    $sub$ *sub = ($sub$ *)cpay_msg_new(&$sub$_table, arena);\n"
              "    if (sub == NULL) return NULL;\n"
              "    msg->$field$ = sub;\n"
              "    msg->$oneof$_case = $number$;\n"
              "  }\n"
              "  return msg->$field$;\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
              "  if (msg->$oneof$_case == $number$) {\n"
              "    msg->$field$ = NULL;\n"
              "    msg->$oneof$_case = 0;\n"
              "  }\n"
              "}\n",
              "msg", msg, "field", name, "sub", sub, "oneof", cpg_name_oneof(g->names, f->oneof),
              "number", cpg_str(g, "%d", (int)f->number), CPG_END);
  } else if (bit >= 0) {
    cpg_print(g, out,
              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
              "  return cpay__has(msg, $bit$);\n"
              "}\n"
              "// The submessage, created on `arena` on first use; NULL only when out of memory.\n"
              "static inline $sub$ *$msg$_mutable_$field$($msg$ *msg, cpay_arena *arena) {\n"
              "  if (msg->$field$ == NULL) {\n"
              "    msg->$field$ = ($sub$ *)cpay_msg_new(&$sub$_table, arena);\n"
              "    if (msg->$field$ == NULL) return NULL;\n"
              "  }\n"
              "  cpay__set_has(msg, $bit$);\n"
              "  return msg->$field$;\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
              "  msg->$field$ = NULL;\n"
              "  cpay__clear_has(msg, $bit$);\n"
              "}\n",
              "msg", msg, "field", name, "sub", sub, "bit", cpg_str(g, "%d", bit), CPG_END);
  } else {
    cpg_print(g, out,
              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
              "  return msg->$field$ != NULL;\n"
              "}\n"
              "// The submessage, created on `arena` on first use; NULL only when out of memory.\n"
              "static inline $sub$ *$msg$_mutable_$field$($msg$ *msg, cpay_arena *arena) {\n"
              "  if (msg->$field$ == NULL) msg->$field$ = ($sub$ *)cpay_msg_new(&$sub$_table, arena);\n"
              "  return msg->$field$;\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
              "  msg->$field$ = NULL;\n"
              "}\n",
              "msg", msg, "field", name, "sub", sub, CPG_END);
  }
}

// A singular scalar, string or bytes field with presence: a oneof member
// or a field with a presence bit. A field without presence has no helpers:
// assign the member.
static void scalar_helpers(cpg_gen *g, const cps_field *f, int bit, const char *msg,
                           cps_buf *out) {
  const char *name = cpg_name_field(g->names, f);
  const char *ctype = cpg_scalar_ctype(f->type);
  if (cpg_in_real_oneof(f)) {
    const char *oneof = cpg_name_oneof(g->names, f->oneof);
    const char *number = cpg_str(g, "%d", (int)f->number);
    cpg_print(g, out,
              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
              "  return msg->$oneof$_case == $number$;\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n"
              "  if (msg->$oneof$_case == $number$) {\n",
              "msg", msg, "field", name, "oneof", oneof, "number", number, CPG_END);
    print_reset(g, f, false, "    ", out);
    cpg_print(g, out,
              "    msg->$oneof$_case = 0;\n"
              "  }\n"
              "}\n"
              "static inline void $msg$_set_$field$($msg$ *msg, $ctype$ value) {\n"
              "  msg->$field$ = value;\n"
              "  msg->$oneof$_case = $number$;\n"
              "}\n",
              "msg", msg, "field", name, "oneof", oneof, "number", number, "ctype", ctype, CPG_END);
  } else if (bit >= 0) {
    const char *b = cpg_str(g, "%d", bit);
    cpg_print(g, out,
              "static inline bool $msg$_has_$field$(const $msg$ *msg) {\n"
              "  return cpay__has(msg, $bit$);\n"
              "}\n"
              "static inline void $msg$_clear_$field$($msg$ *msg) {\n",
              "msg", msg, "field", name, "bit", b, CPG_END);
    print_reset(g, f, true, "  ", out);
    cpg_print(g, out,
              "  cpay__clear_has(msg, $bit$);\n"
              "}\n"
              "static inline void $msg$_set_$field$($msg$ *msg, $ctype$ value) {\n"
              "  msg->$field$ = value;\n"
              "  cpay__set_has(msg, $bit$);\n"
              "}\n",
              "msg", msg, "field", name, "bit", b, "ctype", ctype, CPG_END);
  }
}

static void field_helpers(cpg_gen *g, const cps_message *m, const cps_field *f, int bit,
                          cps_buf *out) {
  const char *msg = cpg_name_message(g->names, m);
  if (f->is_map) {
    map_helpers(g, f, msg, out);
  } else if (f->label == CPS_LABEL_REPEATED) {
    repeated_helpers(g, f, msg, out);
  } else if (cpg_is_message(f)) {
    message_helpers(g, f, bit, msg, out);
  } else {
    scalar_helpers(g, f, bit, msg, out);
  }
}

static void oneof_api(cpg_gen *g, const char *msg, const cps_oneof *o, cps_buf *out) {
  const char *oneof = cpg_name_oneof(g->names, o);
  cpg_print(g, out,
            "typedef enum $msg$_$oneof$_case {\n"
            "  $msg$_$oneof$_NOT_SET = 0,\n",
            "msg", msg, "oneof", oneof, CPG_END);
  for (size_t k = 0; k < o->field_count; k++) {
    cpg_print(g, out, "  $msg$_$oneof$_$field$ = $number$,\n", "msg", msg, "oneof", oneof,
              "field", cpg_name_field(g->names, o->fields[k]), "number",
              cpg_str(g, "%d", (int)o->fields[k]->number), CPG_END);
  }
  cpg_print(g, out,
            "} $msg$_$oneof$_case;\n"
            "static inline $msg$_$oneof$_case $msg$_which_$oneof$(const $msg$ *msg) {\n"
            "  return ($msg$_$oneof$_case)msg->$oneof$_case;\n"
            "}\n"
            "static inline void $msg$_clear_$oneof$($msg$ *msg) {\n"
            "  msg->$oneof$_case = 0;\n"
            "}\n",
            "msg", msg, "oneof", oneof, CPG_END);
}

// The functions every message has: new, parse, serialize. Inline: each is
// a call of the runtime with the message's table.
static void message_functions(cpg_gen *g, const char *msg, cps_buf *out) {
  cpg_print(g, out,
            "// A new message on `arena`, with defaults set; NULL only when out of memory.\n"
            "static inline $msg$ *$msg$_new(cpay_arena *arena) {\n"
            "  return ($msg$ *)cpay_msg_new(&$msg$_table, arena);\n"
            "}\n"
            "// Parses binary protobuf into a new message on `arena` (*out set on success).\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_parse_ex(\n"
            "    const uint8_t *buf, size_t len, cpay_arena *arena, const cpay_decode_opts *opts,\n"
            "    $msg$ **out, cpay_status *st) {\n"
            "  $msg$ *msg = $msg$_new(arena);\n"
            "  *out = NULL;\n"
            "  if (msg == NULL) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, \"out of memory\");\n"
            "  cpay_code code = cpay_decode(buf, len, msg, &$msg$_table, arena, opts, st);\n"
            "  if (code == CPAY_OK) *out = msg;\n"
            "  return code;\n"
            "}\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_parse(\n"
            "    const uint8_t *buf, size_t len, cpay_arena *arena, $msg$ **out, cpay_status *st) {\n"
            "  return $msg$_parse_ex(buf, len, arena, NULL, out, st);\n"
            "}\n"
            "// Serializes `msg` into bytes on `arena`.\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_serialize_ex(\n"
            "    const $msg$ *msg, cpay_arena *arena, const cpay_encode_opts *opts,\n"
            "    cpay_bytes *out, cpay_status *st) {\n"
            "  return cpay_encode(msg, &$msg$_table, arena, opts, out, st);\n"
            "}\n"
            "CPAY_NODISCARD static inline cpay_code $msg$_serialize(\n"
            "    const $msg$ *msg, cpay_arena *arena, cpay_bytes *out, cpay_status *st) {\n"
            "  return cpay_encode(msg, &$msg$_table, arena, NULL, out, st);\n"
            "}\n"
            "\n",
            "msg", msg, CPG_END);
}

void cpg_gen_message_decls(cpg_gen *g, const cps_message *m, cps_buf *out) {
  if (m->map_entry) return;  // in the source: only the runtime uses it
  const char *msg = cpg_name_message(g->names, m);
  cpg_print(g, out, "// ---- $full_name$\n\n", "full_name", m->full_name, CPG_END);
  message_struct(g, m, out);
  cpg_print(g, out, "\n", CPG_END);
  message_functions(g, msg, out);
  for (size_t i = 0; i < m->real_oneof_count; i++) oneof_api(g, msg, &m->oneofs[i], out);
  layout l = compute_layout(g, m);
  for (size_t i = 0; i < m->field_count; i++) field_helpers(g, m, &m->fields[i], l.bit[i], out);
  cpg_print(g, out, "\n", CPG_END);
  if (!g->opts->binary_only) cpg_gen_json_message_decls(g, m, out);
}

void cpg_gen_map_entry(cpg_gen *g, const cps_message *m, cps_buf *out) {
  if (!m->map_entry) return;
  const char *msg = cpg_name_message(g->names, m);
  cpg_print(g, out,
            "// $full_name$, a map entry (its table serves the runtime; no API).\n"
            "typedef struct $msg$ $msg$;\n",
            "full_name", m->full_name, "msg", msg, CPG_END);
  message_struct(g, m, out);
  cpg_print(g, out, "extern const cpay_msg_table $msg$_table;\n", "msg", msg, CPG_END);
  if (!g->opts->binary_only) cpg_gen_json_map_entry_decl(g, m, out);
  cpg_print(g, out, "\n", CPG_END);
}

// ---- source: table ---------------------------------------------------------------

static int cmp_field_number(const void *a, const void *b) {
  const cps_field *x = *(const cps_field *const *)a, *y = *(const cps_field *const *)b;
  return (x->number > y->number) - (x->number < y->number);
}

// The sub-table of a field (message or closed enum), NULL when it has none.
static const char *sub_table(cpg_gen *g, const cps_field *f) {
  if (cpg_is_message(f)) {
    return cpg_str(g, "{.msg = &%s_table}", cpg_name_message(g->names, f->message_type));
  }
  if (f->type == CPS_TYPE_ENUM && f->enum_type && f->enum_type->closed) {
    return cpg_str(g, "{.enm = &%s_table}", cpg_name_enum(g->names, f->enum_type));
  }
  return NULL;
}

// The presence of a field as the table encodes it: bit + 1, minus the
// offset of its oneof case, or 0.
static const char *table_presence(cpg_gen *g, const char *msg, const cps_field *f, int bit) {
  if (bit >= 0) return cpg_str(g, "%d", bit + 1);
  if (cpg_in_real_oneof(f)) {
    return cpg_str(g, "-(int32_t)offsetof(%s, %s_case)", msg, cpg_name_oneof(g->names, f->oneof));
  }
  return "0";
}

// The decoder's fast-path kind of field f, a CPAY_FAST_* name (gencode.h
// says what each takes), and in *wt the wire type of the tag it takes; NULL
// leaves the field to the general path.
static const char *fast_kind(const cps_field *f, int *wt) {
  if (f->number < 1 || f->number > 15 || f->is_map || f->type == CPS_TYPE_GROUP ||
      cpg_in_real_oneof(f)) {
    return NULL;
  }
  *wt = cpay__type_wire_type((uint8_t)f->type);
  bool utf8 = f->utf8_validate;
  if (f->label == CPS_LABEL_REPEATED) {
    switch (f->type) {
      case CPS_TYPE_STRING:
        return utf8 ? "CPAY_FAST_REP_STRING" : "CPAY_FAST_REP_BYTES";
      case CPS_TYPE_BYTES:
        return "CPAY_FAST_REP_BYTES";
      case CPS_TYPE_MESSAGE:
        return "CPAY_FAST_REP_MESSAGE";
      default:
        if (!f->packed) return "CPAY_FAST_REP_SCALAR";
        *wt = CPAY_WT_LEN;
        return "CPAY_FAST_PACKED";
    }
  }
  switch (f->type) {
    case CPS_TYPE_BOOL:
      return "CPAY_FAST_BOOL";
    case CPS_TYPE_INT32:
    case CPS_TYPE_UINT32:
      return "CPAY_FAST_V32";
    case CPS_TYPE_ENUM:
      return f->enum_type && f->enum_type->closed ? "CPAY_FAST_CLOSED_ENUM" : "CPAY_FAST_V32";
    case CPS_TYPE_INT64:
    case CPS_TYPE_UINT64:
      return "CPAY_FAST_V64";
    case CPS_TYPE_SINT32:
      return "CPAY_FAST_Z32";
    case CPS_TYPE_SINT64:
      return "CPAY_FAST_Z64";
    case CPS_TYPE_FIXED32:
    case CPS_TYPE_SFIXED32:
    case CPS_TYPE_FLOAT:
      return "CPAY_FAST_F32";
    case CPS_TYPE_FIXED64:
    case CPS_TYPE_SFIXED64:
    case CPS_TYPE_DOUBLE:
      return "CPAY_FAST_F64";
    case CPS_TYPE_STRING:
      return utf8 ? "CPAY_FAST_STRING" : "CPAY_FAST_BYTES";
    case CPS_TYPE_BYTES:
      return "CPAY_FAST_BYTES";
    case CPS_TYPE_MESSAGE:
      return "CPAY_FAST_MESSAGE";
    default:
      return NULL;
  }
}

// The fast table of the fields numbered 1 to 15 (`sorted` by number, `subs`
// their indexes into the table's subs) if any of them can take the fast
// path; sets *ref to it or leaves it as it is.
static void fast_table(cpg_gen *g, const char *msg, const cps_field **sorted, size_t n,
                       const size_t *subs, const layout *l, const char **ref, cps_buf *out) {
  bool any = false;
  for (size_t i = 0; i < n && sorted[i]->number <= 15; i++) {
    const cps_field *f = sorted[i];
    int wt = 0;
    const char *kind = fast_kind(f, &wt);
    if (kind == NULL) continue;
    if (!any) {
      *ref = cpg_str(g, "%s__fast", msg);
      cpg_print(g, out, "static const cpay_fast_field $array$[16] = {\n", "array", *ref, CPG_END);
      any = true;
    }
    // Repeated scalars name their field by its index (gencode.h).
    bool by_index =
        strcmp(kind, "CPAY_FAST_REP_SCALAR") == 0 || strcmp(kind, "CPAY_FAST_PACKED") == 0;
    cpg_print(g, out,
              "    [$number$] = CPAY_FAST($tag$, $kind$, $bit$, $sub$, "
              "offsetof($msg$, $member$)),\n",
              "number", cpg_str(g, "%d", (int)f->number), "tag",
              cpg_str(g, "0x%02x", (unsigned)(f->number << 3 | wt)), "kind", kind, "bit",
              cpg_str(g, "%d", l->bit[f->index]), "sub", cpg_str(g, "%zu", by_index ? i : subs[i]),
              "msg", msg, "member", cpg_name_field(g->names, f), CPG_END);
  }
  if (any) cpg_print(g, out, "};\n", CPG_END);
}

// The static arrays the table points to; sets the references in `refs`
// (fields, names, subs, defaults, fast), "NULL" for those not needed.
static void table_arrays(cpg_gen *g, const cps_message *m, const cps_field **sorted,
                         const layout *l, const char *refs[5], cps_buf *out) {
  const char *msg = cpg_name_message(g->names, m);
  size_t n = m->field_count;
  for (size_t i = 0; i < 4; i++) refs[i] = "NULL";
  refs[4] = "cpay__fast_none";
  if (n == 0) return;
  refs[0] = cpg_str(g, "%s__fields", msg);
  cpg_print(g, out, "static const cpay_field $array$[] = {\n", "array", refs[0], CPG_END);
  size_t sub_count = 0;
  size_t *subs = cps_pool_alloc(g->pool, n * sizeof(*subs));
  for (size_t i = 0; i < n; i++) {
    const cps_field *f = sorted[i];
    const char *sub = "0";
    subs[i] = 0;
    if (sub_table(g, f) != NULL) {
      subs[i] = sub_count;
      sub = cpg_str(g, "%zu", sub_count++);
    }
    cpg_print(g, out,
              "    {$number$, offsetof($msg$, $member$), $presence$, $sub$, $type$, $mode$},"
              "  // $name$\n",
              "number", cpg_str(g, "%d", (int)f->number), "msg", msg, "member",
              cpg_name_field(g->names, f), "presence", table_presence(g, msg, f, l->bit[f->index]),
              "sub", sub, "type", cpg_type_const(f->type), "mode", cpg_mode(g, f), "name",
              f->name, CPG_END);
  }
  cpg_print(g, out, "};\n", CPG_END);
  refs[1] = cpg_str(g, "%s__names", msg);
  cpg_print(g, out, "static const char *const $array$[] = {\n", "array", refs[1], CPG_END);
  for (size_t i = 0; i < n; i++) {
    cpg_print(g, out, "    \"$name$\",\n", "name", sorted[i]->name, CPG_END);
  }
  cpg_print(g, out, "};\n", CPG_END);
  if (sub_count > 0) {
    refs[2] = cpg_str(g, "%s__subs", msg);
    cpg_print(g, out, "static const cpay_sub $array$[] = {\n", "array", refs[2], CPG_END);
    for (size_t i = 0; i < n; i++) {
      const char *sub = sub_table(g, sorted[i]);
      if (sub != NULL) cpg_print(g, out, "    $sub$,\n", "sub", sub, CPG_END);
    }
    cpg_print(g, out, "};\n", CPG_END);
  }
  // Proto2 defaults: a const instance that _new() copies.
  bool any_default = false;
  for (size_t i = 0; i < n; i++) {
    const cps_field *f = sorted[i];
    const char *lit = cpg_in_real_oneof(f) ? NULL : cpg_default_literal(g, f);
    if (lit == NULL) continue;
    if (!any_default) {
      refs[3] = cpg_str(g, "&%s__defaults", msg);
      cpg_print(g, out, "static const $msg$ $msg$__defaults = {\n", "msg", msg, CPG_END);
      any_default = true;
    }
    cpg_print(g, out, "    .$member$ = $value$,\n", "member", cpg_name_field(g->names, f), "value",
              lit, CPG_END);
  }
  if (any_default) cpg_print(g, out, "};\n", CPG_END);
  fast_table(g, msg, sorted, n, subs, l, &refs[4], out);
}

void cpg_gen_message_table(cpg_gen *g, const cps_message *m, cps_buf *out) {
  const char *msg = cpg_name_message(g->names, m);
  layout l = compute_layout(g, m);
  size_t n = m->field_count;
  const cps_field **sorted = cps_pool_alloc(g->pool, (n + 1) * sizeof(*sorted));
  for (size_t i = 0; i < n; i++) sorted[i] = &m->fields[i];
  qsort(sorted, n, sizeof(*sorted), cmp_field_number);

  if (n > 65535 || l.total > 65535) {
    cps_diag_error(g->diag, &m->loc, g->file->name,
                   "message %s: too many fields for protoc-gen-cpay (%zu, at most 65535)",
                   m->full_name, n);
  }
  size_t dense = 0;
  while (dense < n && sorted[dense]->number == (int32_t)dense + 1) dense++;
  cps_buf flags = {0};
  if (m->extension_range_count > 0) cps_buf_puts(&flags, " | CPAY_MSG_EXTENDABLE");
  if (m->map_entry) cps_buf_puts(&flags, " | CPAY_MSG_MAP_ENTRY");
  if (m->message_set_wire_format) cps_buf_puts(&flags, " | CPAY_MSG_MESSAGE_SET");
  const char *flags_s = flags.size ? cpg_str(g, "%s", cps_buf_str(&flags) + 3) : "0";
  cps_buf_free(&flags);

  cpg_print(g, out, "// ---- $full_name$\n\n", "full_name", m->full_name, CPG_END);
  const char *refs[5];
  table_arrays(g, m, sorted, &l, refs, out);
  cpg_print(g, out,
            "const cpay_msg_table $msg$_table = {\n"
            "    .fields = $fields$,\n"
            "    .subs = $subs$,\n"
            "    .defaults = $defaults$,\n"
            "    .full_name = \"$full_name$\",\n"
            "    .field_names = $names$,\n"
            "    .fast = $fast$,\n"
            "    .size = sizeof($msg$),\n"
            "    .field_count = $field_count$,\n"
            "    .dense_below = $dense_below$,\n"
            "    .required_count = $required_count$,\n"
            "    .hasbit_count = $hasbit_count$,\n"
            "    .flags = $flags$,\n"
            "};\n"
            "\n",
            "msg", msg, "full_name", m->full_name, "fields", refs[0], "names", refs[1], "fast",
            refs[4], "subs", refs[2], "defaults", refs[3], "field_count", cpg_str(g, "%zu", n), "dense_below",
            cpg_str(g, "%zu", dense), "required_count", cpg_str(g, "%zu", l.required),
            "hasbit_count", cpg_str(g, "%zu", l.total), "flags", flags_s, CPG_END);
}
