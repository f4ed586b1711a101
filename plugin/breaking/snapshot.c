// Snapshots (see breaking.h): built from a loaded schema, parsed from and
// written to the lock file, and merged when a new version is recorded.
#include "breaking/breaking.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A copy of `str` in the snapshot's pool (NULL stays NULL).
static const char *sdup(cpb_snap *s, const char *str) { return cps_pool_strdup(s->mem, str); }

static cpb_snap *snap_new(cps_pool *mem, const char *prefix, bool is_lock) {
  cpb_snap *s = cps_pool_alloc(mem, sizeof *s);
  s->mem = mem;
  s->prefix = sdup(s, prefix ? prefix : "");
  s->is_lock = is_lock;
  return s;
}

// Blocks are appended while building and sorted once at the end, so pointers
// into s->blocks are only taken after cpb_snap_sort; builders use indices.
static size_t add_block(cpb_snap *s, cpb_kind kind, const char *name) {
  s->blocks = cps_pool_grow(s->mem, s->blocks, s->block_count, &s->block_cap, sizeof *s->blocks);
  cpb_block *b = &s->blocks[s->block_count];
  memset(b, 0, sizeof *b);
  b->kind = kind;
  b->name = sdup(s, name);
  return s->block_count++;
}

static cpb_item *add_item(cpb_snap *s, cpb_block *b) {
  b->items = cps_pool_grow(s->mem, b->items, b->item_count, &b->item_cap, sizeof *b->items);
  cpb_item *it = &b->items[b->item_count++];
  memset(it, 0, sizeof *it);
  return it;
}

static size_t find_block_index(const cpb_snap *s, cpb_kind kind, const char *name) {
  for (size_t i = 0; i < s->block_count; i++) {
    if (s->blocks[i].kind == kind && strcmp(s->blocks[i].name, name) == 0) return i;
  }
  return (size_t)-1;
}

static int cmp_block(const void *a, const void *b) {
  const cpb_block *x = a, *y = b;
  if (x->kind != y->kind) return (int)x->kind - (int)y->kind;
  return strcmp(x->name, y->name);
}

static int cmp_item(const void *a, const void *b) {
  const cpb_item *x = a, *y = b;
  if (x->number != y->number) return x->number < y->number ? -1 : 1;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  // Same number and name: deleted meanings before the live one.
  return (int)y->deleted - (int)x->deleted;
}

static int cmp_range(const void *a, const void *b) {
  const cps_range *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void snap_sort(cpb_snap *s) {
  if (s->block_count) qsort(s->blocks, s->block_count, sizeof *s->blocks, cmp_block);
  for (size_t i = 0; i < s->block_count; i++) {
    cpb_block *b = &s->blocks[i];
    if (b->item_count) qsort(b->items, b->item_count, sizeof *b->items, cmp_item);
    if (b->reserved_count) qsort(b->reserved, b->reserved_count, sizeof *b->reserved, cmp_range);
    if (b->ext_range_count) {
      qsort(b->ext_ranges, b->ext_range_count, sizeof *b->ext_ranges, cmp_range);
    }
    if (b->reserved_name_count) {
      qsort(b->reserved_names, b->reserved_name_count, sizeof *b->reserved_names, cmp_str);
    }
  }
}

const cpb_block *cpb_snap_find(const cpb_snap *s, cpb_kind kind, const char *name) {
  if (s->block_count == 0) return NULL;  // bsearch wants a base even for no elements
  cpb_block key;
  memset(&key, 0, sizeof key);
  key.kind = kind;
  key.name = name;
  return bsearch(&key, s->blocks, s->block_count, sizeof *s->blocks, cmp_block);
}

// ---- from a schema ------------------------------------------------------

static const char *const kScalarNames[19] = {
    NULL,     "double", "float",   "int64",    "uint64",   "int32",  "fixed64",
    "fixed32", "bool",  "string",  "group",    "message",  "bytes",  "uint32",
    "enum",   "sfixed32", "sfixed64", "sint32", "sint64",
};

static const char *elem_type(cps_pool *mem, const cps_field *f) {
  switch (f->type) {
    case CPS_TYPE_MESSAGE: return cps_pool_printf(mem, ".%s", f->message_type->full_name);
    case CPS_TYPE_GROUP: return cps_pool_printf(mem, "group:.%s", f->message_type->full_name);
    case CPS_TYPE_ENUM: return cps_pool_printf(mem, "enum:.%s", f->enum_type->full_name);
    default: return kScalarNames[f->type];
  }
}

static const cps_field *entry_field(const cps_message *entry, int32_t number) {
  for (size_t i = 0; i < entry->field_count; i++) {
    if (entry->fields[i].number == number) return &entry->fields[i];
  }
  return NULL;
}

static const char *field_type(cps_pool *mem, const cps_field *f) {
  if (f->is_map && f->message_type) {
    const cps_field *k = entry_field(f->message_type, 1), *v = entry_field(f->message_type, 2);
    if (k && v) return cps_pool_printf(mem, "map<%s,%s>", elem_type(mem, k), elem_type(mem, v));
  }
  return elem_type(mem, f);
}

static const char *field_label(const cps_field *f) {
  if (f->is_map || f->label == CPS_LABEL_REPEATED) return "repeated";
  if (f->label == CPS_LABEL_REQUIRED) return "required";
  return f->has_presence ? "optional" : "implicit";
}

// What proto2, proto3 and the editions resolve utf8_validation and
// json_format to when nothing overrides them; the lock writes only values
// that differ from these (cpb_utf8_default and cpb_json_default below).
static uint8_t syntax_utf8(int syntax) { return syntax == 2 ? CPS_UTF8_NONE : CPS_UTF8_VERIFY; }
static uint8_t syntax_json(int syntax) {
  return syntax == 2 ? CPS_JSON_LEGACY_BEST_EFFORT : CPS_JSON_ALLOW;
}

// Whether a snapshot type string holds a string: "string", or a map with a
// string key or value.
static bool has_string(const char *t) {
  if (strcmp(t, "string") == 0) return true;
  if (strncmp(t, "map<", 4) != 0) return false;
  return strncmp(t + 4, "string,", 7) == 0 || strstr(t, ",string>") != NULL;
}

// A field's resolved utf8_validation: the front end's, or (a model without
// resolved features) what its file's syntax gives.
static uint8_t field_utf8(const cps_field *f) {
  if (f->features.utf8_validation) return f->features.utf8_validation;
  const cps_file *file = f->file ? f->file : f->loc.file;
  return syntax_utf8(file ? (int)file->syntax : 3);
}

static void fill_field(cpb_snap *s, cpb_item *it, const cps_field *f, bool ext) {
  it->number = f->number;
  it->name = sdup(s, ext ? f->full_name : f->name);
  it->type = field_type(s->mem, f);
  it->label = field_label(f);
  it->json = ext ? NULL : sdup(s, f->json_name);
  it->oneof = (f->oneof && !f->oneof->synthetic) ? sdup(s, f->oneof->name) : NULL;
  it->packed = f->packed;
  it->utf8 = has_string(it->type) ? field_utf8(f) : 0;
  it->def = f->default_value.present ? sdup(s, f->default_value.text) : NULL;
  it->file = f->file ? f->file->name : f->loc.file->name;
  it->line = f->loc.line;
  it->col = f->loc.col;
}

static void add_extensions(cpb_snap *s, const cps_field *exts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const cps_field *f = &exts[i];
    size_t bi = find_block_index(s, CPB_EXTEND, f->extendee->full_name);
    if (bi == (size_t)-1) bi = add_block(s, CPB_EXTEND, f->extendee->full_name);
    fill_field(s, add_item(s, &s->blocks[bi]), f, true);
  }
}

static cps_range *copy_ranges(cpb_snap *s, const cps_range *r, size_t n) {
  cps_range *c = cps_pool_alloc(s->mem, n * sizeof *c);
  if (n) memcpy(c, r, n * sizeof *c);
  return c;
}

static const char **copy_names(cpb_snap *s, const char *const *names, size_t n) {
  const char **c = cps_pool_alloc(s->mem, n * sizeof *c);
  for (size_t i = 0; i < n; i++) c[i] = sdup(s, names[i]);
  return c;
}

static void add_enum(cpb_snap *s, const cps_enum *e) {
  size_t bi = add_block(s, CPB_ENUM, e->full_name);
  cpb_block *b = &s->blocks[bi];
  b->file = e->file->name;
  b->line = e->loc.line;
  b->col = e->loc.col;
  b->closed = e->closed;
  b->json_format = e->features.json_format ? e->features.json_format
                                           : syntax_json((int)e->file->syntax);
  b->reserved = copy_ranges(s, e->reserved_ranges, e->reserved_range_count);
  b->reserved_count = e->reserved_range_count;
  b->reserved_names = copy_names(s, e->reserved_names, e->reserved_name_count);
  b->reserved_name_count = e->reserved_name_count;
  for (size_t i = 0; i < e->value_count; i++) {
    const cps_enum_value *v = &e->values[i];
    cpb_item *it = add_item(s, b);
    it->number = v->number;
    it->name = sdup(s, v->name);
    it->file = e->file->name;
    it->line = v->loc.line;
    it->col = v->loc.col;
  }
}

static void add_message(cpb_snap *s, const cps_message *m) {
  if (m->map_entry) return;
  size_t bi = add_block(s, CPB_MESSAGE, m->full_name);
  {
    cpb_block *b = &s->blocks[bi];
    b->file = m->file->name;
    b->line = m->loc.line;
    b->col = m->loc.col;
    b->message_set = m->message_set_wire_format;
    b->json_format = m->features.json_format ? m->features.json_format
                                             : syntax_json((int)m->file->syntax);
    b->reserved = copy_ranges(s, m->reserved_ranges, m->reserved_range_count);
    b->reserved_count = m->reserved_range_count;
    b->reserved_names = copy_names(s, m->reserved_names, m->reserved_name_count);
    b->reserved_name_count = m->reserved_name_count;
    b->ext_ranges = copy_ranges(s, m->extension_ranges, m->extension_range_count);
    b->ext_range_count = m->extension_range_count;
    for (size_t i = 0; i < m->field_count; i++) fill_field(s, add_item(s, b), &m->fields[i], false);
  }
  for (size_t i = 0; i < m->nested_count; i++) add_message(s, &m->nested[i]);
  for (size_t i = 0; i < m->enum_count; i++) add_enum(s, &m->enums[i]);
  add_extensions(s, m->extensions, m->extension_count);
}

// The idempotency levels, interned (NULL stays NULL: unknown); NULL for
// anything else too, so callers check that a non-NULL input was known.
static const char *intern_idem(const char *l) {
  static const char *const levels[] = {"no_side_effects", "idempotent"};
  for (size_t i = 0; l && i < sizeof levels / sizeof levels[0]; i++) {
    if (strcmp(levels[i], l) == 0) return levels[i];
  }
  return NULL;
}

static const char *rpc_mode(const cps_method *m) {
  if (m->client_streaming && m->server_streaming) return "bidi_streaming";
  if (m->client_streaming) return "client_streaming";
  if (m->server_streaming) return "server_streaming";
  return "unary";
}

cpb_snap *cpb_snap_from_schema(cps_pool *mem, const cps_schema *schema, const char *prefix) {
  cpb_snap *s = snap_new(mem, prefix, false);
  for (size_t fi = 0; fi < schema->to_generate_count; fi++) {
    const cps_file *f = schema->to_generate[fi];
    size_t bi = add_block(s, CPB_FILE, f->name);
    s->blocks[bi].file = s->blocks[bi].name;
    s->blocks[bi].package = sdup(s, f->package);
    s->blocks[bi].syntax = (int)f->syntax;
    s->blocks[bi].edition = f->syntax == CPS_SYNTAX_EDITIONS ? f->edition : 0;
    s->blocks[bi].package_line = f->package_loc.line;
    s->blocks[bi].package_col = f->package_loc.col;
    s->blocks[bi].syntax_line = f->syntax_loc.line;
    s->blocks[bi].syntax_col = f->syntax_loc.col;
    for (size_t i = 0; i < f->message_count; i++) add_message(s, &f->messages[i]);
    for (size_t i = 0; i < f->enum_count; i++) add_enum(s, &f->enums[i]);
    add_extensions(s, f->extensions, f->extension_count);
    for (size_t i = 0; i < f->service_count; i++) {
      const cps_service *sv = &f->services[i];
      size_t si = add_block(s, CPB_SERVICE, sv->full_name);
      cpb_block *b = &s->blocks[si];
      b->file = f->name;
      b->line = sv->loc.line;
      b->col = sv->loc.col;
      for (size_t k = 0; k < sv->method_count; k++) {
        const cps_method *m = &sv->methods[k];
        cpb_item *it = add_item(s, b);
        it->name = sdup(s, m->name);
        it->type = cps_pool_printf(mem, ".%s", m->input->full_name);
        it->output = cps_pool_printf(mem, ".%s", m->output->full_name);
        it->label = rpc_mode(m);
        it->idem = intern_idem(m->idempotency_level == 1   ? "no_side_effects"
                               : m->idempotency_level == 2 ? "idempotent"
                                                           : NULL);
        it->file = f->name;
        it->line = m->loc.line;
        it->col = m->loc.col;
      }
    }
  }
  // File names point into the model; copy them so the snapshot outlives it,
  // once per run of entries from the same file.
  const char *from = NULL, *copy = NULL;
  for (size_t i = 0; i < s->block_count; i++) {
    cpb_block *b = &s->blocks[i];
    if (b->kind != CPB_FILE) b->file = sdup(s, b->file);
    for (size_t k = 0; k < b->item_count; k++) {
      if (b->items[k].file != from) {
        from = b->items[k].file;
        copy = sdup(s, from);
      }
      b->items[k].file = copy;
    }
  }
  snap_sort(s);
  return s;
}

// ---- comparing items ----------------------------------------------------

static bool same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

static bool same_item(const cpb_item *a, const cpb_item *b) {
  return a->number == b->number && same_str(a->name, b->name) && same_str(a->type, b->type) &&
         same_str(a->label, b->label) && same_str(a->json, b->json) &&
         same_str(a->oneof, b->oneof) && same_str(a->output, b->output) &&
         same_str(a->def, b->def) && a->idem == b->idem && a->packed == b->packed &&
         a->utf8 == b->utf8;
}

// ---- the lock file ------------------------------------------------------
//
// Version 2 guards its history: every block ends with `check HASH`, the
// FNV-1a 64 hash of the block's lines (each as written, with its '\n';
// comments and blank lines aside), and the file ends with `end N HASH`: the
// number of blocks and the hash of the header line and every block's check
// line. So an edit inside a block names that block, a block added, dropped
// or moved names the end line, and a lock cut anywhere, even between two
// blocks, lacks its end line. Version 1 (no checks) is still read.
//
// Version 3 is version 2 with what editions bring: `edition N` instead of
// `syntax protoN` for an editions file, `json_format X` on messages and
// enums and `utf8=X` on string fields and extensions whose resolved
// feature differs from what their file's syntax gives (proto2: NONE and
// LEGACY_BEST_EFFORT; proto3 and the editions: VERIFY and ALLOW). Presence,
// packing, message encoding and enum openness were already there (the label,
// `packed`, `group:` types, `closed`). A lock that needs none of it is
// written as version 2, so proto2/proto3 locks do not change; a lock read
// without these lines gets them from its files' syntax.

static const char *const kKindNames[] = {"file", "message", "enum", "extend", "service"};

#define LOCK_VERSION 2      // the version a lock without editions is written in
#define LOCK_VERSION_MAX 3  // the newest this reads
#define MAX_FIELD_NUMBER 536870911

static uint64_t fnv_init(void) { return 0xcbf29ce484222325ULL; }

static uint64_t fnv_add(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// h over `line` and its newline.
static uint64_t fnv_line(uint64_t h, const char *line, size_t n) {
  return fnv_add(fnv_add(h, line, n), "\n", 1);
}

// Tokens are separated by spaces. Every string of the schema is written as
// one token, with the bytes that could break that (controls, spaces, '%',
// non-ASCII) as %XX: a descriptor set may hold any bytes in a file path or a
// reserved name, and the lock must give them back unchanged.
static void put_escaped(cps_buf *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f || *p == '%') {
      cps_buf_printf(out, "%%%02X", *p);
    } else {
      cps_buf_append(out, (const char *)p, 1);
    }
  }
}

// " " and `s` as one escaped token.
static void put_tok(cps_buf *out, const char *s) {
  cps_buf_puts(out, " ");
  put_escaped(out, s);
}

static void put_ranges(cps_buf *out, const char *key, const cps_range *r, size_t n) {
  if (n == 0) return;
  cps_buf_printf(out, "  %s", key);
  for (size_t i = 0; i < n; i++) {
    if (r[i].start == r[i].end) {
      cps_buf_printf(out, " %d", (int)r[i].start);
    } else {
      cps_buf_printf(out, " %d-%d", (int)r[i].start, (int)r[i].end);
    }
  }
  cps_buf_puts(out, "\n");
}

static const char *utf8_name(uint8_t v) { return v == CPS_UTF8_NONE ? "none" : "verify"; }
static const char *json_format_name(uint8_t v) {
  return v == CPS_JSON_LEGACY_BEST_EFFORT ? "legacy_best_effort" : "allow";
}

// The syntax a file of the lock has (0 when the lock has no such file).
static int file_syntax(const cpb_snap *s, const char *file) {
  const cpb_block *f = file ? cpb_snap_find(s, CPB_FILE, file) : NULL;
  return f ? f->syntax : 0;
}

// " utf8=V" when the item's utf8_validation is not what its file's syntax
// gives (`syntax` 0: unknown, always written); sets *v3.
static void put_utf8(cps_buf *out, const cpb_item *it, int syntax, bool *v3) {
  if (!it->utf8 || (syntax && it->utf8 == syntax_utf8(syntax))) return;
  cps_buf_printf(out, " utf8=%s", utf8_name(it->utf8));
  *v3 = true;
}

static void put_item(cps_buf *out, cpb_kind kind, const cpb_item *it, const cpb_snap *s,
                     const char *block_file, bool *v3) {
  switch (kind) {
    case CPB_MESSAGE:
      cps_buf_printf(out, "  field %d", (int)it->number);
      put_tok(out, it->name);
      put_tok(out, it->type);
      cps_buf_printf(out, " %s json=", it->label);
      put_escaped(out, it->json ? it->json : "");
      if (it->oneof) {
        cps_buf_puts(out, " oneof=");
        put_escaped(out, it->oneof);
      }
      if (it->packed) cps_buf_puts(out, " packed");
      put_utf8(out, it, file_syntax(s, block_file), v3);
      if (it->def) {
        cps_buf_puts(out, " default=");
        put_escaped(out, it->def);
      }
      break;
    case CPB_ENUM:
      cps_buf_printf(out, "  value %d", (int)it->number);
      put_tok(out, it->name);
      break;
    case CPB_EXTEND:
      cps_buf_printf(out, "  extension %d", (int)it->number);
      put_tok(out, it->name);
      put_tok(out, it->type);
      cps_buf_printf(out, " %s file=", it->label);
      put_escaped(out, it->file);
      if (it->packed) cps_buf_puts(out, " packed");
      put_utf8(out, it, file_syntax(s, it->file), v3);
      break;
    case CPB_SERVICE:
      cps_buf_puts(out, "  rpc");
      put_tok(out, it->name);
      put_tok(out, it->type);
      put_tok(out, it->output);
      cps_buf_printf(out, " %s", it->label);
      if (it->idem) cps_buf_printf(out, " idempotency=%s", it->idem);
      break;
    case CPB_FILE: break;
  }
  cps_buf_puts(out, it->deleted ? " deleted\n" : "\n");
}

// The lines of one block, without its check line. *v3 is set when they
// need version 3 (an edition, a feature that differs from its syntax's).
static void put_block(cps_buf *out, const cpb_block *b, const cpb_snap *s, bool *v3) {
  cps_buf_printf(out, "%s", kKindNames[b->kind]);
  put_tok(out, b->name);
  cps_buf_puts(out, b->deleted ? " deleted\n" : "\n");
  if (b->kind == CPB_FILE) {
    if (b->package && *b->package) {
      cps_buf_puts(out, "  package");
      put_tok(out, b->package);
      cps_buf_puts(out, "\n");
    }
    if (b->syntax == CPS_SYNTAX_EDITIONS) {
      cps_buf_printf(out, "  edition %d\n", b->edition);
      *v3 = true;
    } else {
      cps_buf_printf(out, "  syntax proto%d\n", b->syntax);
    }
    return;
  }
  if (b->file) {
    cps_buf_puts(out, "  file");
    put_tok(out, b->file);
    cps_buf_puts(out, "\n");
  }
  if (b->closed) cps_buf_puts(out, "  closed\n");
  if (b->message_set) cps_buf_puts(out, "  message_set\n");
  int syntax = file_syntax(s, b->file);
  if (b->json_format && (!syntax || b->json_format != syntax_json(syntax))) {
    cps_buf_printf(out, "  json_format %s\n", json_format_name(b->json_format));
    *v3 = true;
  }
  for (size_t k = 0; k < b->item_count; k++) put_item(out, b->kind, &b->items[k], s, b->file, v3);
  put_ranges(out, "reserved", b->reserved, b->reserved_count);
  if (b->reserved_name_count) {
    cps_buf_puts(out, "  reserved_names");
    for (size_t k = 0; k < b->reserved_name_count; k++) put_tok(out, b->reserved_names[k]);
    cps_buf_puts(out, "\n");
  }
  put_ranges(out, "extensions", b->ext_ranges, b->ext_range_count);
}

char *cpb_lock_format(cps_pool *mem, const cpb_snap *s) {
  cps_buf out = {0};
  cps_buf_puts(&out,
               "# cpay-breaking lock file: every number and name each message, enum,\n"
               "# extension and RPC of this schema has used, deleted ones included.\n"
               "# Written by `cpay-breaking --lock FILE --update-lock`; keep it in version\n"
               "# control and review its diffs. Edits by hand fail its check lines.\n"
               "# See docs/breaking.md.\n");
  // The blocks first: whether the lock needs version 3 is known after them.
  // A schema without editions or overridden features keeps version 2, byte
  // for byte what earlier cpay-breaking wrote (and reads).
  cps_buf body = {0};
  bool v3 = false;
  char (*checks)[17] = cps_pool_alloc(mem, (s->block_count + 1) * sizeof *checks);
  for (size_t i = 0; i < s->block_count; i++) {
    cps_buf_puts(&body, "\n");
    size_t start = body.size;
    put_block(&body, &s->blocks[i], s, &v3);
    snprintf(checks[i], sizeof checks[i], "%016llx",
             (unsigned long long)fnv_add(fnv_init(), body.data + start, body.size - start));
    cps_buf_printf(&body, "  check %s\n", checks[i]);
  }
  char header[32];
  snprintf(header, sizeof header, "cpay-lock %d", v3 ? 3 : 2);
  cps_buf_printf(&out, "%s\n", header);
  uint64_t end = fnv_line(fnv_init(), header, strlen(header));
  for (size_t i = 0; i < s->block_count; i++) end = fnv_line(end, checks[i], 16);
  if (body.size) cps_buf_append(&out, body.data, body.size);
  cps_buf_free(&body);
  cps_buf_printf(&out, "\nend %zu %016llx\n", s->block_count, (unsigned long long)end);
  return cps_pool_take(mem, &out);
}

// ---- parsing ------------------------------------------------------------

typedef struct parser {
  cpb_snap *s;
  const char *path;
  bool verify;      // check lines and the end line must match
  int version;      // 0 until the header
  int lineno;
  char *err;        // the first error, in the snapshot's pool
  size_t cur;       // the block being read, or (size_t)-1
  int *block_lines; // the first line of each block, by index
  size_t block_lines_cap;
  int *item_lines;  // the line of each item of the current block
  size_t item_lines_cap;
  char *line;       // the line being read, split in place
  size_t line_cap;
  char **tok;       // its tokens
  size_t tok_cap;
  uint64_t block_hash;
  bool block_checked;
  unsigned attrs;   // the attribute lines the current block has had
  uint64_t end_hash;
  bool ended;
} parser;

static bool fail_at(parser *p, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool fail_at(parser *p, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cps_error_at(p->s->mem, &p->err, p->path, line, fmt, ap);
  va_end(ap);
  return false;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the %XX escapes of a token in place; false (with the error) for
// a '%' without two hex digits, or a byte that should have been escaped.
static bool unescape(parser *p, char *s) {
  char *w = s;
  for (const char *q = s; *q; q++) {
    unsigned char c = (unsigned char)*q;
    if (c == '%') {
      if (hexval(q[1]) < 0 || hexval(q[2]) < 0) {
        return fail_at(p, p->lineno, "bad escape \"%.3s\" (a %% starts %%XX, two hex digits)", q);
      }
      *w++ = (char)(hexval(q[1]) * 16 + hexval(q[2]));
      q += 2;
    } else if (c < 0x20 || c >= 0x7f) {
      return fail_at(p, p->lineno, "byte 0x%02X must be written %%%02X", c, c);
    } else {
      *w++ = *q;
    }
  }
  *w = '\0';
  return true;
}

// Room for `n` elements of `size` bytes in a buffer the parser reuses from
// line to line (its contents are not kept).
static void *room(parser *p, void *buf, size_t n, size_t *cap, size_t size) {
  if (n <= *cap) return buf;
  *cap = n * 2;
  return cps_pool_alloc(p->s->mem, *cap * size);
}

// Copies the `len` bytes at `raw` to p->line and splits them in place at
// single spaces into p->tok, decoding each token. Returns the number of
// tokens (0 with p->err set on a bad escape).
static size_t split(parser *p, const char *raw, size_t len) {
  p->line = room(p, p->line, len + 1, &p->line_cap, 1);
  memcpy(p->line, raw, len);
  p->line[len] = '\0';
  size_t max = 1;
  for (size_t i = 0; i < len; i++) max += raw[i] == ' ';
  p->tok = room(p, p->tok, max, &p->tok_cap, sizeof *p->tok);
  size_t n = 0;
  char *q = p->line;
  while (*q) {
    while (*q == ' ') q++;
    if (!*q) break;
    p->tok[n++] = q;
    while (*q && *q != ' ') q++;
    if (*q) *q++ = '\0';
    if (!unescape(p, p->tok[n - 1])) return 0;
  }
  return n;
}

// A decimal number in [lo, hi], written as the lock writes it (no sign but
// '-', no leading zeros, no spaces).
static bool parse_num(const char *s, int64_t lo, int64_t hi, int32_t *out) {
  const char *d = s[0] == '-' ? s + 1 : s;
  if (!*d || (d[0] == '0' && d[1]) || (s[0] == '-' && d[0] == '0')) return false;
  int64_t v = 0;
  for (const char *q = d; *q; q++) {
    if (*q < '0' || *q > '9' || v > 4294967296LL) return false;
    v = v * 10 + (*q - '0');
  }
  if (s[0] == '-') v = -v;
  if (v < lo || v > hi) return false;
  *out = (int32_t)v;
  return true;
}

// `N` or `N-M` with lo <= N <= M <= hi, each. A block has one line of each
// kind of range (see attr()), so *out is still empty.
static bool parse_ranges(parser *p, char **tok, size_t n, int64_t lo, int64_t hi, cps_range **out,
                         size_t *count, const char *what) {
  if (n == 0) return fail_at(p, p->lineno, "`%s` without ranges", what);
  *out = cps_pool_alloc(p->s->mem, n * sizeof **out);
  for (size_t i = 0; i < n; i++) {
    cps_range r;
    char *dash = strchr(tok[i] + 1, '-');
    bool ok;
    if (dash) {
      *dash = '\0';
      ok = parse_num(tok[i], lo, hi, &r.start) && parse_num(dash + 1, lo, hi, &r.end) &&
           r.start < r.end;
      *dash = '-';
    } else {
      ok = parse_num(tok[i], lo, hi, &r.start);
      r.end = r.start;
    }
    if (!ok) {
      return fail_at(p, p->lineno, "bad %s range \"%s\" (N or N-M, N < M, from %lld to %lld)",
                     what, tok[i], (long long)lo, (long long)hi);
    }
    (*out)[(*count)++] = r;
  }
  return true;
}

static const char *intern_label(const char *l) {
  static const char *const labels[] = {"optional", "implicit", "required", "repeated",
                                       "unary", "client_streaming", "server_streaming",
                                       "bidi_streaming"};
  for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    if (strcmp(labels[i], l) == 0) return labels[i];
  }
  return NULL;
}

static bool is_field_label(const char *l) { return l && l != intern_label("unary") &&
                                                   l != intern_label("client_streaming") &&
                                                   l != intern_label("server_streaming") &&
                                                   l != intern_label("bidi_streaming"); }

// A full name as the lock writes it: ".pkg.Name" (leading) or "pkg.Name".
static bool is_name(const char *s, bool leading_dot) {
  if (leading_dot && *s++ != '.') return false;
  if (!*s || *s == '.') return false;
  for (; *s; s++) {
    if (*s == '.' && (s[1] == '.' || s[1] == '\0')) return false;
  }
  return true;
}

// A field or extension type: a scalar, ".pkg.M", "enum:.pkg.E",
// "group:.pkg.G" or "map<K,V>" of those.
static bool is_type(parser *p, const char *t, bool in_map) {
  static const char *const scalars[] = {"double", "float", "int64", "uint64", "int32", "fixed64",
                                        "fixed32", "bool", "string", "bytes", "uint32",
                                        "sfixed32", "sfixed64", "sint32", "sint64"};
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
    if (strcmp(t, scalars[i]) == 0) return true;
  }
  if (t[0] == '.') return is_name(t, true);
  if (strncmp(t, "enum:", 5) == 0) return is_name(t + 5, true);
  if (strncmp(t, "group:", 6) == 0) return !in_map && is_name(t + 6, true);
  if (!in_map && strncmp(t, "map<", 4) == 0) {
    size_t len = strlen(t);
    const char *comma = strchr(t, ',');
    if (len < 8 || t[len - 1] != '>' || !comma) return false;
    const char *k = cps_pool_strndup(p->s->mem, t + 4, (size_t)(comma - (t + 4)));
    const char *v = cps_pool_strndup(p->s->mem, comma + 1, (size_t)(t + len - 1 - (comma + 1)));
    return is_type(p, k, true) && k[0] != '.' && strncmp(k, "enum:", 5) != 0 &&
           strcmp(k, "double") != 0 && strcmp(k, "float") != 0 && strcmp(k, "bytes") != 0 &&
           is_type(p, v, true);
  }
  return false;
}

// The options after an item's positional tokens, each allowed by `allowed`
// (a space-separated list of keys, "key=" for valued ones) and at most once.
static bool parse_item_opts(parser *p, cpb_item *it, char **tok, size_t n, const char *allowed,
                            const char *usage) {
  unsigned seen = 0;
  for (size_t i = 0; i < n; i++) {
    static const char *const keys[] = {"deleted", "packed", "json=", "oneof=", "default=",
                                       "file=", "idempotency=", "utf8="};
    size_t k = 0, klen = 0;
    for (; k < sizeof keys / sizeof keys[0]; k++) {
      klen = strlen(keys[k]);
      bool valued = keys[k][klen - 1] == '=';
      if (valued ? strncmp(tok[i], keys[k], klen) == 0 : strcmp(tok[i], keys[k]) == 0) break;
    }
    char key[16];
    snprintf(key, sizeof key, " %s", k < sizeof keys / sizeof keys[0] ? keys[k] : "");
    char list[128];
    snprintf(list, sizeof list, " %s", allowed);
    if (k == sizeof keys / sizeof keys[0] || !strstr(list, key)) {
      return fail_at(p, p->lineno, "unexpected \"%s\" (expected %s)", tok[i], usage);
    }
    if (seen & (1u << k)) return fail_at(p, p->lineno, "\"%s\" given twice", keys[k]);
    seen |= 1u << k;
    const char *v = tok[i] + klen;
    cpb_snap *s = p->s;
    switch (k) {
      case 0: it->deleted = true; break;
      case 1: it->packed = true; break;
      case 2: it->json = sdup(s, v); break;
      case 3:
        if (!*v) return fail_at(p, p->lineno, "empty oneof= name");
        it->oneof = sdup(s, v);
        break;
      case 4: it->def = sdup(s, v); break;
      case 5:
        if (!*v) return fail_at(p, p->lineno, "empty file= path");
        it->file = sdup(s, v);
        break;
      case 6:
        if ((it->idem = intern_idem(v)) == NULL) {
          return fail_at(p, p->lineno, "idempotency= must be no_side_effects or idempotent");
        }
        break;
      case 7:
        if (p->version < 3) return fail_at(p, p->lineno, "utf8= needs `cpay-lock 3`");
        if (strcmp(v, "verify") == 0) {
          it->utf8 = CPS_UTF8_VERIFY;
        } else if (strcmp(v, "none") == 0) {
          it->utf8 = CPS_UTF8_NONE;
        } else {
          return fail_at(p, p->lineno, "utf8= must be verify or none");
        }
        if (!has_string(it->type)) {
          return fail_at(p, p->lineno, "utf8= on a %s (only string fields have it)", it->type);
        }
        break;
    }
  }
  if (strstr(allowed, "json=") && !(seen & (1u << 2))) {
    return fail_at(p, p->lineno, "field line without json= (expected %s)", usage);
  }
  if (strstr(allowed, "file=") && !(seen & (1u << 5))) {
    return fail_at(p, p->lineno, "extension line without file= (expected %s)", usage);
  }
  return true;
}

// Whether a new item of block `b` clashes with one before it: two live
// meanings of one number (enum aliases share a number, not a name), two
// live entries of one name, or the same entry twice.
static bool item_clash(parser *p, const cpb_block *b, const cpb_item *it) {
  for (size_t i = 0; i + 1 < b->item_count; i++) {
    const cpb_item *o = &b->items[i];
    bool same_name = strcmp(o->name, it->name) == 0;
    const char *why = NULL;
    if (!o->deleted && !it->deleted) {
      if (b->kind == CPB_ENUM) {
        if (o->number == it->number && same_name) why = "a second live entry for this value";
      } else if (b->kind != CPB_SERVICE && o->number == it->number) {
        why = "a second live entry for this number";
      } else if (same_name) {
        why = "a second live entry for this name";
      }
    } else if (o->deleted && it->deleted && same_item(o, it)) {
      why = "the same deleted entry twice";
    }
    if (why) return fail_at(p, p->lineno, "%s (the first is at line %d)", why, p->item_lines[i]);
  }
  return true;
}

enum {
  ATTR_PACKAGE = 1 << 0,
  ATTR_SYNTAX = 1 << 1,
  ATTR_FILE = 1 << 2,
  ATTR_CLOSED = 1 << 3,
  ATTR_MESSAGE_SET = 1 << 4,
  ATTR_RESERVED = 1 << 5,
  ATTR_RESERVED_NAMES = 1 << 6,
  ATTR_EXTENSIONS = 1 << 7,
  ATTR_JSON_FORMAT = 1 << 8,
};

// An attribute line at most once per block, and only in the kinds it
// belongs to.
static bool attr(parser *p, const cpb_block *b, unsigned bit, unsigned kinds, const char *name) {
  if (!(kinds & (1u << b->kind))) {
    return fail_at(p, p->lineno, "`%s` does not belong in a %s block", name, kKindNames[b->kind]);
  }
  if (p->attrs & bit) return fail_at(p, p->lineno, "a second `%s` line in this block", name);
  p->attrs |= bit;
  return true;
}

#define K(kind) (1u << (kind))

// One indented line of block `b`, split into n tokens.
static bool parse_block_line(parser *p, cpb_block *b, char **tok, size_t n) {
  cpb_snap *s = p->s;
  const char *w = tok[0];
  if (strcmp(w, "package") == 0 && n == 2) {
    if (!attr(p, b, ATTR_PACKAGE, K(CPB_FILE), w)) return false;
    if (!is_name(tok[1], false)) return fail_at(p, p->lineno, "bad package name \"%s\"", tok[1]);
    b->package = sdup(s, tok[1]);
  } else if (strcmp(w, "syntax") == 0 && n == 2) {
    if (!attr(p, b, ATTR_SYNTAX, K(CPB_FILE), "syntax` or `edition")) return false;
    if (strcmp(tok[1], "proto2") != 0 && strcmp(tok[1], "proto3") != 0) {
      return fail_at(p, p->lineno, "bad syntax \"%s\" (proto2 or proto3)", tok[1]);
    }
    b->syntax = tok[1][5] - '0';
  } else if (strcmp(w, "edition") == 0 && n == 2) {
    if (!attr(p, b, ATTR_SYNTAX, K(CPB_FILE), "syntax` or `edition")) return false;
    if (p->version < 3) return fail_at(p, p->lineno, "`edition` needs `cpay-lock 3`");
    int32_t ed;
    if (!parse_num(tok[1], 2023, 9999, &ed)) {
      return fail_at(p, p->lineno, "bad edition \"%s\" (a year: 2023, 2024, ...)", tok[1]);
    }
    b->syntax = CPS_SYNTAX_EDITIONS;
    b->edition = ed;
  } else if (strcmp(w, "json_format") == 0 && n == 2) {
    if (!attr(p, b, ATTR_JSON_FORMAT, K(CPB_MESSAGE) | K(CPB_ENUM), w)) return false;
    if (p->version < 3) return fail_at(p, p->lineno, "`json_format` needs `cpay-lock 3`");
    if (strcmp(tok[1], "allow") == 0) {
      b->json_format = CPS_JSON_ALLOW;
    } else if (strcmp(tok[1], "legacy_best_effort") == 0) {
      b->json_format = CPS_JSON_LEGACY_BEST_EFFORT;
    } else {
      return fail_at(p, p->lineno, "bad json_format \"%s\" (allow or legacy_best_effort)", tok[1]);
    }
  } else if (strcmp(w, "file") == 0 && n == 2) {
    if (!attr(p, b, ATTR_FILE, K(CPB_MESSAGE) | K(CPB_ENUM) | K(CPB_SERVICE), w)) return false;
    b->file = sdup(s, tok[1]);
  } else if (strcmp(w, "closed") == 0 && n == 1) {
    if (!attr(p, b, ATTR_CLOSED, K(CPB_ENUM), w)) return false;
    b->closed = true;
  } else if (strcmp(w, "message_set") == 0 && n == 1) {
    if (!attr(p, b, ATTR_MESSAGE_SET, K(CPB_MESSAGE), w)) return false;
    b->message_set = true;
  } else if (strcmp(w, "reserved") == 0) {
    if (!attr(p, b, ATTR_RESERVED, K(CPB_MESSAGE) | K(CPB_ENUM), w)) return false;
    bool msg = b->kind == CPB_MESSAGE;
    return parse_ranges(p, tok + 1, n - 1, msg ? 1 : INT32_MIN, msg ? MAX_FIELD_NUMBER : INT32_MAX,
                        &b->reserved, &b->reserved_count, "reserved");
  } else if (strcmp(w, "extensions") == 0) {
    if (!attr(p, b, ATTR_EXTENSIONS, K(CPB_MESSAGE), w)) return false;
    // A message set's extensions go up to INT32_MAX - 1 (`extensions 4 to
    // max;` with message_set_wire_format).
    return parse_ranges(p, tok + 1, n - 1, 1, INT32_MAX - 1, &b->ext_ranges,
                        &b->ext_range_count, "extensions");
  } else if (strcmp(w, "reserved_names") == 0) {
    if (!attr(p, b, ATTR_RESERVED_NAMES, K(CPB_MESSAGE) | K(CPB_ENUM), w)) return false;
    if (n < 2) return fail_at(p, p->lineno, "`reserved_names` without names");
    b->reserved_names = cps_pool_alloc(s->mem, (n - 1) * sizeof *b->reserved_names);
    for (size_t i = 1; i < n; i++) {
      for (size_t k = 0; k < b->reserved_name_count; k++) {
        if (strcmp(b->reserved_names[k], tok[i]) == 0) {
          return fail_at(p, p->lineno, "reserved name \"%s\" twice", tok[i]);
        }
      }
      b->reserved_names[b->reserved_name_count++] = sdup(s, tok[i]);
    }
  } else if (strcmp(w, "field") == 0 && b->kind == CPB_MESSAGE) {
    const char *usage = "`field NUMBER NAME TYPE LABEL json=NAME [oneof=NAME] [packed] "
                        "[utf8=verify|none] [default=VALUE] [deleted]`, LABEL one of optional, "
                        "implicit, required, repeated";
    if (n < 5) return fail_at(p, p->lineno, "bad field line (expected %s)", usage);
    cpb_item *it = add_item(s, b);
    it->file = b->file;
    it->name = sdup(s, tok[2]);
    it->type = sdup(s, tok[3]);
    it->label = intern_label(tok[4]);
    if (!parse_num(tok[1], 1, MAX_FIELD_NUMBER, &it->number)) {
      return fail_at(p, p->lineno, "bad field number \"%s\" (1 to %d)", tok[1], MAX_FIELD_NUMBER);
    }
    if (!is_type(p, tok[3], false)) return fail_at(p, p->lineno, "bad field type \"%s\"", tok[3]);
    if (!is_field_label(it->label)) return fail_at(p, p->lineno, "bad label \"%s\" (expected %s)", tok[4], usage);
    if (!parse_item_opts(p, it, tok + 5, n - 5, "json= oneof= packed utf8= default= deleted", usage)) {
      return false;
    }
  } else if (strcmp(w, "value") == 0 && b->kind == CPB_ENUM) {
    if (n < 3) return fail_at(p, p->lineno, "bad value line (expected `value NUMBER NAME [deleted]`)");
    cpb_item *it = add_item(s, b);
    it->file = b->file;
    it->name = sdup(s, tok[2]);
    if (!parse_num(tok[1], INT32_MIN, INT32_MAX, &it->number)) {
      return fail_at(p, p->lineno, "bad enum value number \"%s\"", tok[1]);
    }
    if (!parse_item_opts(p, it, tok + 3, n - 3, "deleted", "`value NUMBER NAME [deleted]`")) return false;
  } else if (strcmp(w, "extension") == 0 && b->kind == CPB_EXTEND) {
    const char *usage = "`extension NUMBER NAME TYPE LABEL file=FILE [packed] [utf8=verify|none] "
                        "[deleted]`";
    if (n < 5) return fail_at(p, p->lineno, "bad extension line (expected %s)", usage);
    cpb_item *it = add_item(s, b);
    it->name = sdup(s, tok[2]);
    it->type = sdup(s, tok[3]);
    it->label = intern_label(tok[4]);
    if (!parse_num(tok[1], 1, MAX_FIELD_NUMBER, &it->number)) {
      return fail_at(p, p->lineno, "bad extension number \"%s\" (1 to %d)", tok[1], MAX_FIELD_NUMBER);
    }
    if (!is_name(tok[2], false)) return fail_at(p, p->lineno, "bad extension name \"%s\"", tok[2]);
    if (!is_type(p, tok[3], false) || strncmp(tok[3], "map<", 4) == 0) {
      return fail_at(p, p->lineno, "bad extension type \"%s\"", tok[3]);
    }
    if (!is_field_label(it->label) || it->label == intern_label("implicit")) {
      return fail_at(p, p->lineno, "bad label \"%s\" (expected %s)", tok[4], usage);
    }
    if (!parse_item_opts(p, it, tok + 5, n - 5, "file= packed utf8= deleted", usage)) return false;
  } else if (strcmp(w, "rpc") == 0 && b->kind == CPB_SERVICE) {
    const char *usage = "`rpc NAME INPUT OUTPUT KIND [idempotency=LEVEL] [deleted]`, KIND one of "
                        "unary, client_streaming, server_streaming, bidi_streaming, LEVEL "
                        "no_side_effects or idempotent";
    if (n < 5) return fail_at(p, p->lineno, "bad rpc line (expected %s)", usage);
    cpb_item *it = add_item(s, b);
    it->file = b->file;
    it->name = sdup(s, tok[1]);
    it->type = sdup(s, tok[2]);
    it->output = sdup(s, tok[3]);
    it->label = intern_label(tok[4]);
    if (!is_name(tok[2], true) || !is_name(tok[3], true)) {
      return fail_at(p, p->lineno, "bad rpc types \"%s\" \"%s\" (.pkg.Message)", tok[2], tok[3]);
    }
    if (!it->label || is_field_label(it->label)) {
      return fail_at(p, p->lineno, "bad rpc kind \"%s\" (expected %s)", tok[4], usage);
    }
    if (!parse_item_opts(p, it, tok + 5, n - 5, "idempotency= deleted", usage)) return false;
  } else {
    return fail_at(p, p->lineno, "unknown line \"%s\" in a %s block", w, kKindNames[b->kind]);
  }
  if (b->item_count && (strcmp(w, "field") == 0 || strcmp(w, "value") == 0 ||
                        strcmp(w, "extension") == 0 || strcmp(w, "rpc") == 0)) {
    p->item_lines = cps_pool_grow(s->mem, p->item_lines, b->item_count - 1, &p->item_lines_cap,
                                  sizeof *p->item_lines);
    p->item_lines[b->item_count - 1] = p->lineno;
    if (!item_clash(p, b, &b->items[b->item_count - 1])) return false;
  }
  return true;
}

#undef K

// Ends the block being read: complete, and (version 2) checked.
static bool end_block(parser *p) {
  if (p->cur == (size_t)-1) return true;
  const cpb_block *b = &p->s->blocks[p->cur];
  int line = p->block_lines[p->cur];
  if (b->kind == CPB_FILE && b->syntax == 0) {
    return fail_at(p, line, "file block without a `syntax` or `edition` line");
  }
  if (p->version >= 2 && !p->block_checked) {
    return fail_at(p, line, "block `%s %s` has no `check` line: the lock was cut short or edited "
                   "outside cpay-breaking", kKindNames[b->kind], b->name);
  }
  p->cur = (size_t)-1;
  return true;
}

// The header line, a block's first line, a check line or the end line.
static bool parse_line(parser *p, const char *raw, size_t len) {
  bool ok = false;
  bool indented = raw[0] == ' ';
  size_t n = split(p, raw, len);
  char **tok = p->tok;
  if (p->err) goto out;
  if (p->version == 0) {
    if (n != 2 || strcmp(tok[0], "cpay-lock") != 0 || indented) {
      fail_at(p, p->lineno, "expected `cpay-lock %d` first", LOCK_VERSION);
    } else if (strcmp(tok[1], "1") != 0 && strcmp(tok[1], "2") != 0 && strcmp(tok[1], "3") != 0) {
      fail_at(p, p->lineno, "unsupported lock file version \"%s\" (this cpay-breaking reads 1 to %d)",
              tok[1], LOCK_VERSION_MAX);
    } else {
      p->version = tok[1][0] - '0';
      p->end_hash = fnv_line(fnv_init(), raw, len);
      ok = true;
    }
    goto out;
  }
  if (p->ended) {
    fail_at(p, p->lineno, "text after the `end` line");
    goto out;
  }
  if (!indented && p->version >= 2 && strcmp(tok[0], "end") == 0) {
    int32_t count;
    if (!end_block(p)) goto out;
    if (n != 3 || !parse_num(tok[1], 0, INT32_MAX, &count) || strlen(tok[2]) != 16) {
      fail_at(p, p->lineno, "bad end line (expected `end BLOCKS HASH`)");
    } else if ((size_t)count != p->s->block_count) {
      fail_at(p, p->lineno, "the end line counts %d blocks, the lock has %zu: blocks were added "
              "or removed outside cpay-breaking", (int)count, p->s->block_count);
    } else {
      char want[17];
      snprintf(want, sizeof want, "%016llx", (unsigned long long)p->end_hash);
      if (p->verify && strcmp(want, tok[2]) != 0) {
        fail_at(p, p->lineno, "the end line's hash does not match the blocks: blocks were "
                "changed, moved or replaced outside cpay-breaking");
      } else {
        p->ended = ok = true;
      }
    }
    goto out;
  }
  if (!indented) {
    int kind = -1;
    for (int k = 0; k < 5; k++) {
      if (strcmp(tok[0], kKindNames[k]) == 0) kind = k;
    }
    if (kind < 0 || n < 2 || n > 3 || (n == 3 && strcmp(tok[2], "deleted") != 0)) {
      fail_at(p, p->lineno, "expected `file|message|enum|extend|service NAME [deleted]`%s",
              p->version >= 2 ? " or `end BLOCKS HASH`" : "");
      goto out;
    }
    if (!end_block(p)) goto out;
    size_t first = find_block_index(p->s, (cpb_kind)kind, tok[1]);
    if (first != (size_t)-1) {
      fail_at(p, p->lineno, "a second `%s %s` block (the first is at line %d)", tok[0], tok[1],
              p->block_lines[first]);
      goto out;
    }
    if (kind != CPB_FILE && !is_name(tok[1], false)) {
      fail_at(p, p->lineno, "bad %s name \"%s\"", tok[0], tok[1]);
      goto out;
    }
    p->cur = add_block(p->s, (cpb_kind)kind, tok[1]);
    p->block_lines = cps_pool_grow(p->s->mem, p->block_lines, p->cur, &p->block_lines_cap,
                                   sizeof *p->block_lines);
    p->block_lines[p->cur] = p->lineno;
    cpb_block *b = &p->s->blocks[p->cur];
    b->deleted = n == 3;
    if (kind == CPB_FILE) b->file = b->name;
    p->block_hash = fnv_line(fnv_init(), raw, len);
    p->block_checked = false;
    p->attrs = 0;
    ok = true;
    goto out;
  }
  if (p->cur == (size_t)-1) {
    fail_at(p, p->lineno, "indented line outside a block");
    goto out;
  }
  cpb_block *b = &p->s->blocks[p->cur];
  if (p->block_checked) {
    fail_at(p, p->lineno, "a line after the block's `check` line");
    goto out;
  }
  if (p->version >= 2 && strcmp(tok[0], "check") == 0) {
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)p->block_hash);
    if (n != 2 || strlen(tok[1]) != 16) {
      fail_at(p, p->lineno, "bad check line (expected `check HASH`)");
    } else if (p->verify && strcmp(want, tok[1]) != 0) {
      fail_at(p, p->block_lines[p->cur], "block `%s %s` (lines %d-%d) does not match its check "
              "line: it was edited outside cpay-breaking; restore it from version control",
              kKindNames[b->kind], b->name, p->block_lines[p->cur], p->lineno);
    } else {
      p->block_checked = ok = true;
      p->end_hash = fnv_line(p->end_hash, tok[1], 16);
    }
    goto out;
  }
  p->block_hash = fnv_line(p->block_hash, raw, len);
  ok = parse_block_line(p, b, tok, n);
out:
  return ok;
}

// The features a lock leaves out, from the syntax of the files (see the
// lock's version 3 above); left 0 (unknown, not compared) for a file the
// lock does not have.
static void resolve_defaults(cpb_snap *s) {
  for (size_t i = 0; i < s->block_count; i++) {
    cpb_block *b = &s->blocks[i];
    int syntax = file_syntax(s, b->file);
    if ((b->kind == CPB_MESSAGE || b->kind == CPB_ENUM) && !b->json_format && syntax) {
      b->json_format = syntax_json(syntax);
    }
    for (size_t k = 0; k < b->item_count; k++) {
      cpb_item *it = &b->items[k];
      if (it->utf8 || !it->type || !has_string(it->type)) continue;
      int sx = b->kind == CPB_EXTEND ? file_syntax(s, it->file) : syntax;
      if (sx) it->utf8 = syntax_utf8(sx);
    }
  }
}

cpb_snap *cpb_lock_parse_opts(cps_pool *mem, const char *text, size_t size, const char *path,
                              bool verify, char **err) {
  parser p;
  memset(&p, 0, sizeof p);
  p.s = snap_new(mem, "", true);
  p.path = path;
  p.verify = verify;
  p.cur = (size_t)-1;
  // A NUL byte would end the text early and drop the history after it.
  const char *nul = memchr(text, '\0', size);
  if (nul) {
    int at_line = 1;
    for (const char *q = text; q < nul; q++) at_line += *q == '\n';
    fail_at(&p, at_line, "NUL byte at offset %zu (a lock file is text)", (size_t)(nul - text));
  }
  const char *q = text, *end = text + size;
  while (!p.err && q < end) {
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    size_t len = nl ? (size_t)(nl - q) : (size_t)(end - q);
    const char *raw = q;
    p.lineno++;
    if (len && raw[len - 1] == '\r') len--;
    bool blank = true;
    for (size_t i = 0; i < len; i++) blank &= raw[i] == ' ' || raw[i] == '\t';
    if (!blank && raw[0] != '#') {
      if (p.version >= 2 && p.ended) {
        fail_at(&p, p.lineno, "text after the `end` line");
      } else if (parse_line(&p, raw, len) && p.ended && !nl) {
        fail_at(&p, p.lineno, "the `end` line has no newline: the lock was cut short");
      }
    }
    q = nl ? nl + 1 : end;
  }
  if (!p.err && p.version == 0) {
    fail_at(&p, 1, "empty lock file (expected `cpay-lock %d`)", LOCK_VERSION);
  }
  if (!p.err) end_block(&p);
  if (!p.err && p.version >= 2 && !p.ended) {
    fail_at(&p, p.lineno, "the lock ends at line %d without its `end` line: it was cut short; "
            "restore it from version control", p.lineno);
  }
  if (p.err) {
    *err = p.err;
    return NULL;
  }
  p.s->version = p.version;
  snap_sort(p.s);
  resolve_defaults(p.s);
  return p.s;
}

cpb_snap *cpb_lock_parse(cps_pool *mem, const char *text, size_t size, const char *path,
                         char **err) {
  return cpb_lock_parse_opts(mem, text, size, path, true, err);
}

// ---- merging ------------------------------------------------------------

static void copy_item(cpb_snap *s, cpb_item *dst, const cpb_item *src, bool deleted) {
  dst->number = src->number;
  dst->name = sdup(s, src->name);
  dst->type = sdup(s, src->type);
  dst->label = src->label ? intern_label(src->label) : NULL;
  dst->json = sdup(s, src->json);
  dst->oneof = sdup(s, src->oneof);
  dst->output = sdup(s, src->output);
  dst->def = sdup(s, src->def);
  dst->idem = intern_idem(src->idem);
  dst->packed = src->packed;
  dst->utf8 = src->utf8;
  dst->deleted = deleted;
  dst->file = sdup(s, src->file);
  dst->line = dst->col = 0;
}

// Copies a block's attributes (not its items) from `src`.
static void copy_attrs(cpb_snap *s, cpb_block *dst, const cpb_block *src) {
  dst->file = sdup(s, src->file);
  dst->package = sdup(s, src->package);
  dst->syntax = src->syntax;
  dst->edition = src->edition;
  dst->closed = src->closed;
  dst->json_format = src->json_format;
  dst->message_set = src->message_set;
  dst->reserved = copy_ranges(s, src->reserved, src->reserved_count);
  dst->reserved_count = src->reserved_count;
  dst->reserved_names = copy_names(s, src->reserved_names, src->reserved_name_count);
  dst->reserved_name_count = src->reserved_name_count;
  dst->ext_ranges = copy_ranges(s, src->ext_ranges, src->ext_range_count);
  dst->ext_range_count = src->ext_range_count;
  dst->line = dst->col = 0;
}

cpb_snap *cpb_lock_merge(cps_pool *mem, const cpb_snap *lock, const cpb_snap *cur) {
  cpb_snap *r = snap_new(mem, "", true);
  if (lock) {
    for (size_t i = 0; i < lock->block_count; i++) {
      const cpb_block *src = &lock->blocks[i];
      size_t bi = add_block(r, src->kind, src->name);
      cpb_block *b = &r->blocks[bi];
      copy_attrs(r, b, src);
      b->deleted = true;
      for (size_t k = 0; k < src->item_count; k++) copy_item(r, add_item(r, b), &src->items[k], true);
    }
  }
  size_t old_count = r->block_count;
  for (size_t i = 0; i < cur->block_count; i++) {
    const cpb_block *src = &cur->blocks[i];
    size_t bi = (size_t)-1;
    for (size_t k = 0; k < old_count; k++) {
      if (r->blocks[k].kind == src->kind && strcmp(r->blocks[k].name, src->name) == 0) bi = k;
    }
    if (bi == (size_t)-1) bi = add_block(r, src->kind, src->name);
    cpb_block *b = &r->blocks[bi];
    copy_attrs(r, b, src);
    b->deleted = false;
    size_t had = b->item_count;
    for (size_t k = 0; k < src->item_count; k++) {
      cpb_item *match = NULL;
      for (size_t j = 0; j < had; j++) {
        if (same_item(&b->items[j], &src->items[k])) match = &b->items[j];
      }
      if (match) {
        match->deleted = false;
      } else {
        copy_item(r, add_item(r, b), &src->items[k], false);
      }
    }
  }
  snap_sort(r);
  return r;
}

cpb_snap *cpb_lock_live(cps_pool *mem, const cpb_snap *lock) {
  cpb_snap *r = snap_new(mem, "", false);
  for (size_t i = 0; i < lock->block_count; i++) {
    const cpb_block *src = &lock->blocks[i];
    if (src->deleted) continue;
    size_t bi = add_block(r, src->kind, src->name);  // before taking a pointer: blocks move
    cpb_block *b = &r->blocks[bi];
    copy_attrs(r, b, src);
    for (size_t k = 0; k < src->item_count; k++) {
      if (!src->items[k].deleted) copy_item(r, add_item(r, b), &src->items[k], false);
    }
  }
  snap_sort(r);
  return r;
}
