// Snapshots (see breaking.h): built from a loaded schema, parsed from and
// written to the lock file, and merged when a new version is recorded.
#include "breaking/breaking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void own(brk_snap *s, void *p) {
  if (s->owned_count == s->owned_cap) {
    s->owned_cap = s->owned_cap ? s->owned_cap * 2 : 64;
    s->owned = cpf_xrealloc(s->owned, s->owned_cap * sizeof(*s->owned));
  }
  s->owned[s->owned_count++] = p;
}

static const char *sdup(brk_snap *s, const char *str) {
  if (str == NULL) return NULL;
  char *p = cpf_xstrdup(str);
  own(s, p);
  return p;
}

static const char *stake(brk_snap *s, char *str) {
  own(s, str);
  return str;
}

static brk_snap *snap_new(const char *prefix, bool is_lock) {
  brk_snap *s = cpf_xmalloc(sizeof *s);
  memset(s, 0, sizeof *s);
  s->prefix = sdup(s, prefix ? prefix : "");
  s->is_lock = is_lock;
  return s;
}

void brk_snap_free(brk_snap *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->block_count; i++) {
    brk_block *b = &s->blocks[i];
    free(b->items);
    free(b->reserved);
    free(b->reserved_names);
    free(b->ext_ranges);
  }
  free(s->blocks);
  for (size_t i = 0; i < s->owned_count; i++) free(s->owned[i]);
  free(s->owned);
  free(s);
}

// Blocks are appended while building and sorted once at the end, so pointers
// into s->blocks are only taken after brk_snap_sort; builders use indices.
static size_t add_block(brk_snap *s, brk_kind kind, const char *name) {
  s->blocks = cpf_xrealloc(s->blocks, (s->block_count + 1) * sizeof(*s->blocks));
  brk_block *b = &s->blocks[s->block_count];
  memset(b, 0, sizeof *b);
  b->kind = kind;
  b->name = sdup(s, name);
  return s->block_count++;
}

static brk_item *add_item(brk_block *b) {
  b->items = cpf_xrealloc(b->items, (b->item_count + 1) * sizeof(*b->items));
  brk_item *it = &b->items[b->item_count++];
  memset(it, 0, sizeof *it);
  return it;
}

static size_t find_block_index(const brk_snap *s, brk_kind kind, const char *name) {
  for (size_t i = 0; i < s->block_count; i++) {
    if (s->blocks[i].kind == kind && strcmp(s->blocks[i].name, name) == 0) return i;
  }
  return (size_t)-1;
}

static int cmp_block(const void *a, const void *b) {
  const brk_block *x = a, *y = b;
  if (x->kind != y->kind) return (int)x->kind - (int)y->kind;
  return strcmp(x->name, y->name);
}

static int cmp_item(const void *a, const void *b) {
  const brk_item *x = a, *y = b;
  if (x->number != y->number) return x->number < y->number ? -1 : 1;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  // Same number and name: deleted meanings before the live one.
  return (int)y->deleted - (int)x->deleted;
}

static int cmp_range(const void *a, const void *b) {
  const cpm_range *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void snap_sort(brk_snap *s) {
  if (s->block_count) qsort(s->blocks, s->block_count, sizeof *s->blocks, cmp_block);
  for (size_t i = 0; i < s->block_count; i++) {
    brk_block *b = &s->blocks[i];
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

const brk_block *brk_snap_find(const brk_snap *s, brk_kind kind, const char *name) {
  brk_block key;
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

static char *elem_type(const cpm_field *f) {
  switch (f->type) {
    case CPM_TYPE_MESSAGE: return cpf_xasprintf(".%s", f->message_type->full_name);
    case CPM_TYPE_GROUP: return cpf_xasprintf("group:.%s", f->message_type->full_name);
    case CPM_TYPE_ENUM: return cpf_xasprintf("enum:.%s", f->enum_type->full_name);
    default: return cpf_xstrdup(kScalarNames[f->type]);
  }
}

static const cpm_field *entry_field(const cpm_message *entry, int32_t number) {
  for (size_t i = 0; i < entry->field_count; i++) {
    if (entry->fields[i].number == number) return &entry->fields[i];
  }
  return NULL;
}

static char *field_type(const cpm_field *f) {
  if (f->is_map && f->message_type) {
    const cpm_field *k = entry_field(f->message_type, 1), *v = entry_field(f->message_type, 2);
    if (k && v) {
      char *ks = elem_type(k), *vs = elem_type(v);
      char *r = cpf_xasprintf("map<%s,%s>", ks, vs);
      free(ks);
      free(vs);
      return r;
    }
  }
  return elem_type(f);
}

static const char *field_label(const cpm_field *f) {
  if (f->is_map || f->label == CPM_LABEL_REPEATED) return "repeated";
  if (f->label == CPM_LABEL_REQUIRED) return "required";
  return f->has_presence ? "optional" : "implicit";
}

static void fill_field(brk_snap *s, brk_item *it, const cpm_field *f, bool ext) {
  it->number = f->number;
  it->name = sdup(s, ext ? f->full_name : f->name);
  it->type = stake(s, field_type(f));
  it->label = field_label(f);
  it->json = ext ? NULL : sdup(s, f->json_name);
  it->oneof = (f->oneof && !f->oneof->synthetic) ? sdup(s, f->oneof->name) : NULL;
  it->packed = f->packed;
  it->def = f->default_value.present ? sdup(s, f->default_value.text) : NULL;
  it->file = f->file ? f->file->name : f->loc.file->name;
  it->line = f->loc.line;
  it->col = f->loc.col;
}

static void add_extensions(brk_snap *s, const cpm_field *exts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const cpm_field *f = &exts[i];
    size_t bi = find_block_index(s, BRK_EXTEND, f->extendee->full_name);
    if (bi == (size_t)-1) bi = add_block(s, BRK_EXTEND, f->extendee->full_name);
    fill_field(s, add_item(&s->blocks[bi]), f, true);
  }
}

static cpm_range *copy_ranges(const cpm_range *r, size_t n) {
  cpm_range *c = cpf_xmalloc(n * sizeof *c);
  if (n) memcpy(c, r, n * sizeof *c);
  return c;
}

static const char **copy_names(brk_snap *s, const char *const *names, size_t n) {
  const char **c = cpf_xmalloc(n * sizeof *c);
  for (size_t i = 0; i < n; i++) c[i] = sdup(s, names[i]);
  return c;
}

static void add_enum(brk_snap *s, const cpm_enum *e) {
  size_t bi = add_block(s, BRK_ENUM, e->full_name);
  brk_block *b = &s->blocks[bi];
  b->file = e->file->name;
  b->line = e->loc.line;
  b->col = e->loc.col;
  b->closed = e->closed;
  b->reserved = copy_ranges(e->reserved_ranges, e->reserved_range_count);
  b->reserved_count = e->reserved_range_count;
  b->reserved_names = copy_names(s, e->reserved_names, e->reserved_name_count);
  b->reserved_name_count = e->reserved_name_count;
  for (size_t i = 0; i < e->value_count; i++) {
    const cpm_enum_value *v = &e->values[i];
    brk_item *it = add_item(b);
    it->number = v->number;
    it->name = sdup(s, v->name);
    it->file = e->file->name;
    it->line = v->loc.line;
    it->col = v->loc.col;
  }
}

static void add_message(brk_snap *s, const cpm_message *m) {
  if (m->map_entry) return;
  size_t bi = add_block(s, BRK_MESSAGE, m->full_name);
  {
    brk_block *b = &s->blocks[bi];
    b->file = m->file->name;
    b->line = m->loc.line;
    b->col = m->loc.col;
    b->message_set = m->message_set_wire_format;
    b->reserved = copy_ranges(m->reserved_ranges, m->reserved_range_count);
    b->reserved_count = m->reserved_range_count;
    b->reserved_names = copy_names(s, m->reserved_names, m->reserved_name_count);
    b->reserved_name_count = m->reserved_name_count;
    b->ext_ranges = copy_ranges(m->extension_ranges, m->extension_range_count);
    b->ext_range_count = m->extension_range_count;
    for (size_t i = 0; i < m->field_count; i++) fill_field(s, add_item(b), &m->fields[i], false);
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

static const char *rpc_mode(const cpm_method *m) {
  if (m->client_streaming && m->server_streaming) return "bidi_streaming";
  if (m->client_streaming) return "client_streaming";
  if (m->server_streaming) return "server_streaming";
  return "unary";
}

brk_snap *brk_snap_from_pool(const cpm_pool *pool, const char *prefix) {
  brk_snap *s = snap_new(prefix, false);
  for (size_t fi = 0; fi < pool->to_generate_count; fi++) {
    const cpm_file *f = pool->to_generate[fi];
    size_t bi = add_block(s, BRK_FILE, f->name);
    s->blocks[bi].file = s->blocks[bi].name;
    s->blocks[bi].package = sdup(s, f->package);
    s->blocks[bi].syntax = (int)f->syntax;
    for (size_t i = 0; i < f->message_count; i++) add_message(s, &f->messages[i]);
    for (size_t i = 0; i < f->enum_count; i++) add_enum(s, &f->enums[i]);
    add_extensions(s, f->extensions, f->extension_count);
    for (size_t i = 0; i < f->service_count; i++) {
      const cpm_service *sv = &f->services[i];
      size_t si = add_block(s, BRK_SERVICE, sv->full_name);
      brk_block *b = &s->blocks[si];
      b->file = f->name;
      b->line = sv->loc.line;
      b->col = sv->loc.col;
      for (size_t k = 0; k < sv->method_count; k++) {
        const cpm_method *m = &sv->methods[k];
        brk_item *it = add_item(b);
        it->name = sdup(s, m->name);
        it->type = stake(s, cpf_xasprintf(".%s", m->input->full_name));
        it->output = stake(s, cpf_xasprintf(".%s", m->output->full_name));
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
  // File names point into the pool; copy them so the snapshot outlives it.
  for (size_t i = 0; i < s->block_count; i++) {
    brk_block *b = &s->blocks[i];
    if (b->kind != BRK_FILE) b->file = sdup(s, b->file);
    for (size_t k = 0; k < b->item_count; k++) b->items[k].file = sdup(s, b->items[k].file);
  }
  snap_sort(s);
  return s;
}

// ---- the lock file ------------------------------------------------------

static const char *const kKindNames[] = {"file", "message", "enum", "extend", "service"};

// Tokens are separated by spaces. Every string of the schema is written as
// one token, with the bytes that could break that (controls, spaces, '%',
// non-ASCII) as %XX: a descriptor set may hold any bytes in a file path or a
// reserved name, and the lock must give them back unchanged.
static void put_escaped(cpf_buf *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f || *p == '%') {
      cpf_buf_printf(out, "%%%02X", *p);
    } else {
      cpf_buf_append(out, (const char *)p, 1);
    }
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the %XX escapes of a token in place.
static void unescape(char *s) {
  char *w = s;
  for (const char *p = s; *p; p++) {
    if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
      *w++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
      p += 2;
    } else {
      *w++ = *p;
    }
  }
  *w = '\0';
}

// " " and `s` as one escaped token.
static void put_tok(cpf_buf *out, const char *s) {
  cpf_buf_puts(out, " ");
  put_escaped(out, s);
}

static void put_ranges(cpf_buf *out, const char *key, const cpm_range *r, size_t n) {
  if (n == 0) return;
  cpf_buf_printf(out, "  %s", key);
  for (size_t i = 0; i < n; i++) {
    if (r[i].start == r[i].end) {
      cpf_buf_printf(out, " %d", (int)r[i].start);
    } else {
      cpf_buf_printf(out, " %d-%d", (int)r[i].start, (int)r[i].end);
    }
  }
  cpf_buf_puts(out, "\n");
}

char *brk_lock_format(const brk_snap *s) {
  cpf_buf out = {0};
  cpf_buf_puts(&out,
               "# cpay-breaking lock file: every number and name each message, enum,\n"
               "# extension and RPC of this schema has used, deleted ones included.\n"
               "# Written by `cpay-breaking --lock FILE --update-lock`; keep it in version\n"
               "# control and review its diffs. See docs/breaking.md.\n"
               "cpay-lock 1\n");
  for (size_t i = 0; i < s->block_count; i++) {
    const brk_block *b = &s->blocks[i];
    cpf_buf_printf(&out, "\n%s", kKindNames[b->kind]);
    put_tok(&out, b->name);
    cpf_buf_puts(&out, b->deleted ? " deleted\n" : "\n");
    if (b->kind == BRK_FILE) {
      if (b->package && *b->package) {
        cpf_buf_puts(&out, "  package");
        put_tok(&out, b->package);
        cpf_buf_puts(&out, "\n");
      }
      cpf_buf_printf(&out, "  syntax proto%d\n", b->syntax);
      continue;
    }
    if (b->file) {
      cpf_buf_puts(&out, "  file");
      put_tok(&out, b->file);
      cpf_buf_puts(&out, "\n");
    }
    if (b->closed) cpf_buf_puts(&out, "  closed\n");
    if (b->message_set) cpf_buf_puts(&out, "  message_set\n");
    for (size_t k = 0; k < b->item_count; k++) {
      const brk_item *it = &b->items[k];
      switch (b->kind) {
        case BRK_MESSAGE:
          cpf_buf_printf(&out, "  field %d", (int)it->number);
          put_tok(&out, it->name);
          put_tok(&out, it->type);
          cpf_buf_printf(&out, " %s json=", it->label);
          put_escaped(&out, it->json ? it->json : "");
          if (it->oneof) {
            cpf_buf_puts(&out, " oneof=");
            put_escaped(&out, it->oneof);
          }
          if (it->packed) cpf_buf_puts(&out, " packed");
          if (it->def) {
            cpf_buf_puts(&out, " default=");
            put_escaped(&out, it->def);
          }
          break;
        case BRK_ENUM:
          cpf_buf_printf(&out, "  value %d", (int)it->number);
          put_tok(&out, it->name);
          break;
        case BRK_EXTEND:
          cpf_buf_printf(&out, "  extension %d", (int)it->number);
          put_tok(&out, it->name);
          put_tok(&out, it->type);
          cpf_buf_printf(&out, " %s file=", it->label);
          put_escaped(&out, it->file);
          if (it->packed) cpf_buf_puts(&out, " packed");
          break;
        case BRK_SERVICE:
          cpf_buf_puts(&out, "  rpc");
          put_tok(&out, it->name);
          put_tok(&out, it->type);
          put_tok(&out, it->output);
          cpf_buf_printf(&out, " %s", it->label);
          if (it->idem) cpf_buf_printf(&out, " idempotency=%s", it->idem);
          break;
        case BRK_FILE: break;
      }
      cpf_buf_puts(&out, it->deleted ? " deleted\n" : "\n");
    }
    put_ranges(&out, "reserved", b->reserved, b->reserved_count);
    if (b->reserved_name_count) {
      cpf_buf_puts(&out, "  reserved_names");
      for (size_t k = 0; k < b->reserved_name_count; k++) put_tok(&out, b->reserved_names[k]);
      cpf_buf_puts(&out, "\n");
    }
    put_ranges(&out, "extensions", b->ext_ranges, b->ext_range_count);
  }
  return cpf_buf_take(&out);
}

// Splits `line` in place at spaces and decodes each token's escapes. Returns
// the number of tokens; *tok (malloc'd) has room for every one.
static size_t split(char *line, char ***tok) {
  size_t max = 1;
  for (const char *p = line; *p; p++) max += *p == ' ';
  *tok = cpf_xmalloc(max * sizeof(char *));
  size_t n = 0;
  char *p = line;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    (*tok)[n++] = p;
    while (*p && *p != ' ') p++;
    if (*p) *p++ = '\0';
    unescape((*tok)[n - 1]);
  }
  return n;
}

static bool parse_int(const char *s, int32_t *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < -2147483647L - 1 || v > 2147483647L) return false;
  *out = (int32_t)v;
  return true;
}

static bool parse_ranges(char **tok, size_t n, cpm_range **out, size_t *count) {
  for (size_t i = 0; i < n; i++) {
    cpm_range r;
    char *dash = strchr(tok[i] + 1, '-');
    if (dash) {
      *dash = '\0';
      if (!parse_int(tok[i], &r.start) || !parse_int(dash + 1, &r.end)) return false;
    } else {
      if (!parse_int(tok[i], &r.start)) return false;
      r.end = r.start;
    }
    *out = cpf_xrealloc(*out, (*count + 1) * sizeof **out);
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

// Parses `key=value` options and flags after an item's positional tokens.
static bool parse_item_opts(brk_snap *s, brk_item *it, char **tok, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(tok[i], "deleted") == 0) {
      it->deleted = true;
    } else if (strcmp(tok[i], "packed") == 0) {
      it->packed = true;
    } else if (strncmp(tok[i], "json=", 5) == 0) {
      it->json = sdup(s, tok[i] + 5);
    } else if (strncmp(tok[i], "oneof=", 6) == 0) {
      it->oneof = sdup(s, tok[i] + 6);
    } else if (strncmp(tok[i], "default=", 8) == 0) {
      it->def = sdup(s, tok[i] + 8);
    } else if (strncmp(tok[i], "file=", 5) == 0) {
      it->file = sdup(s, tok[i] + 5);
    } else if (strncmp(tok[i], "idempotency=", 12) == 0) {
      if ((it->idem = intern_idem(tok[i] + 12)) == NULL) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Why a block of a lock cannot stand as it is, or NULL.
static const char *block_incomplete(const brk_block *b) {
  if (b->kind == BRK_FILE && b->syntax == 0) return "file block without a `syntax` line";
  return NULL;
}

brk_snap *brk_lock_parse(const char *text, size_t size, const char *path, char **err) {
  brk_snap *s = snap_new("", true);
  // A NUL byte would end the text early and drop the history after it.
  const char *nul = memchr(text, '\0', size);
  if (nul) {
    int at_line = 1;
    for (const char *p = text; p < nul; p++) at_line += *p == '\n';
    *err = cpf_xasprintf("%s:%d: NUL byte at offset %zu (a lock file is text)", path, at_line,
                         (size_t)(nul - text));
    brk_snap_free(s);
    return NULL;
  }
  char *copy = cpf_xmalloc(size + 1);
  memcpy(copy, text, size);
  copy[size] = '\0';
  bool seen_header = false;
  size_t cur = (size_t)-1;
  int lineno = 0;
  char *line = copy;
  const char *why = NULL;
  char **tok = NULL;  // the tokens of the current line
  int block_line = 0;  // where the current block starts
  while (line && *line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    bool indented = line[0] == ' ';
    size_t n = (line[0] == '#') ? 0 : split(line, &tok);
    if (n == 0) goto next;
    if (!seen_header) {
      if (n != 2 || strcmp(tok[0], "cpay-lock") != 0) {
        why = "expected `cpay-lock 1` first";
        goto fail;
      }
      if (strcmp(tok[1], "1") != 0) {
        why = "unsupported lock file version (this cpay-breaking reads version 1)";
        goto fail;
      }
      seen_header = true;
      goto next;
    }
    if (!indented) {
      int kind = -1;
      for (int k = 0; k < 5; k++) {
        if (strcmp(tok[0], kKindNames[k]) == 0) kind = k;
      }
      if (kind < 0 || n < 2 || n > 3 || (n == 3 && strcmp(tok[2], "deleted") != 0)) {
        why = "expected `file|message|enum|extend|service NAME [deleted]`";
        goto fail;
      }
      if (cur != (size_t)-1 && (why = block_incomplete(&s->blocks[cur])) != NULL) {
        lineno = block_line;
        goto fail;
      }
      block_line = lineno;
      cur = add_block(s, (brk_kind)kind, tok[1]);
      s->blocks[cur].deleted = n == 3;
      if (kind == BRK_FILE) s->blocks[cur].file = s->blocks[cur].name;
      goto next;
    }
    if (cur == (size_t)-1) {
      why = "indented line outside a block";
      goto fail;
    }
    brk_block *b = &s->blocks[cur];
    if (strcmp(tok[0], "package") == 0 && n == 2) {
      b->package = sdup(s, tok[1]);
    } else if (strcmp(tok[0], "syntax") == 0 && n == 2 &&
               (strcmp(tok[1], "proto2") == 0 || strcmp(tok[1], "proto3") == 0)) {
      b->syntax = tok[1][5] - '0';
    } else if (strcmp(tok[0], "file") == 0 && n == 2) {
      b->file = sdup(s, tok[1]);
    } else if (strcmp(tok[0], "closed") == 0 && n == 1) {
      b->closed = true;
    } else if (strcmp(tok[0], "message_set") == 0 && n == 1) {
      b->message_set = true;
    } else if (strcmp(tok[0], "reserved") == 0) {
      if (!parse_ranges(tok + 1, n - 1, &b->reserved, &b->reserved_count)) {
        why = "bad number range (expected `reserved N|N-M...`)";
        goto fail;
      }
    } else if (strcmp(tok[0], "extensions") == 0) {
      if (!parse_ranges(tok + 1, n - 1, &b->ext_ranges, &b->ext_range_count)) {
        why = "bad number range (expected `extensions N|N-M...`)";
        goto fail;
      }
    } else if (strcmp(tok[0], "reserved_names") == 0) {
      for (size_t i = 1; i < n; i++) {
        b->reserved_names = cpf_xrealloc(b->reserved_names,
                                         (b->reserved_name_count + 1) * sizeof(char *));
        b->reserved_names[b->reserved_name_count++] = sdup(s, tok[i]);
      }
    } else if (strcmp(tok[0], "field") == 0 && b->kind == BRK_MESSAGE && n >= 5) {
      brk_item *it = add_item(b);
      it->file = b->file;
      it->name = sdup(s, tok[2]);
      it->type = sdup(s, tok[3]);
      it->label = intern_label(tok[4]);
      if (!parse_int(tok[1], &it->number) || !it->label ||
          !parse_item_opts(s, it, tok + 5, n - 5)) {
        why = "bad field line (expected `field NUMBER NAME TYPE LABEL json=NAME [oneof=NAME] "
              "[packed] [default=VALUE] [deleted]`, LABEL one of optional, implicit, required, "
              "repeated)";
        goto fail;
      }
    } else if (strcmp(tok[0], "value") == 0 && b->kind == BRK_ENUM && n >= 3) {
      brk_item *it = add_item(b);
      it->file = b->file;
      it->name = sdup(s, tok[2]);
      if (!parse_int(tok[1], &it->number) || !parse_item_opts(s, it, tok + 3, n - 3)) {
        why = "bad value line (expected `value NUMBER NAME [deleted]`)";
        goto fail;
      }
    } else if (strcmp(tok[0], "extension") == 0 && b->kind == BRK_EXTEND && n >= 5) {
      brk_item *it = add_item(b);
      it->name = sdup(s, tok[2]);
      it->type = sdup(s, tok[3]);
      it->label = intern_label(tok[4]);
      if (!parse_int(tok[1], &it->number) || !it->label ||
          !parse_item_opts(s, it, tok + 5, n - 5) || !it->file) {
        why = "bad extension line (expected `extension NUMBER NAME TYPE LABEL file=FILE [packed] "
              "[deleted]`)";
        goto fail;
      }
    } else if (strcmp(tok[0], "rpc") == 0 && b->kind == BRK_SERVICE && n >= 5) {
      brk_item *it = add_item(b);
      it->file = b->file;
      it->name = sdup(s, tok[1]);
      it->type = sdup(s, tok[2]);
      it->output = sdup(s, tok[3]);
      it->label = intern_label(tok[4]);
      if (!it->label || !parse_item_opts(s, it, tok + 5, n - 5)) {
        why = "bad rpc line (expected `rpc NAME INPUT OUTPUT KIND [idempotency=LEVEL] [deleted]`, "
              "KIND one of unary, client_streaming, server_streaming, bidi_streaming, LEVEL "
              "no_side_effects or idempotent)";
        goto fail;
      }
    } else {
      why = "unknown line";
      goto fail;
    }
  next:
    free(tok);
    tok = NULL;
    line = nl ? nl + 1 : NULL;
  }
  if (!seen_header) {
    why = "empty lock file (expected `cpay-lock 1`)";
    lineno = 1;
    goto fail;
  }
  if (cur != (size_t)-1 && (why = block_incomplete(&s->blocks[cur])) != NULL) {
    lineno = block_line;
    goto fail;
  }
  free(copy);
  snap_sort(s);
  return s;
fail:
  *err = cpf_xasprintf("%s:%d: %s", path, lineno, why);
  free(tok);
  free(copy);
  brk_snap_free(s);
  return NULL;
}

// ---- merging ------------------------------------------------------------

static bool same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

static bool same_item(const brk_item *a, const brk_item *b) {
  return a->number == b->number && same_str(a->name, b->name) && same_str(a->type, b->type) &&
         same_str(a->label, b->label) && same_str(a->json, b->json) &&
         same_str(a->oneof, b->oneof) && same_str(a->output, b->output) &&
         same_str(a->def, b->def) && a->idem == b->idem && a->packed == b->packed;
}

static void copy_item(brk_snap *s, brk_item *dst, const brk_item *src, bool deleted) {
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
  dst->deleted = deleted;
  dst->file = sdup(s, src->file);
  dst->line = dst->col = 0;
}

// Copies a block's attributes (not its items) from `src`.
static void copy_attrs(brk_snap *s, brk_block *dst, const brk_block *src) {
  free(dst->reserved);
  free(dst->reserved_names);
  free(dst->ext_ranges);
  dst->file = sdup(s, src->file);
  dst->package = sdup(s, src->package);
  dst->syntax = src->syntax;
  dst->closed = src->closed;
  dst->message_set = src->message_set;
  dst->reserved = copy_ranges(src->reserved, src->reserved_count);
  dst->reserved_count = src->reserved_count;
  dst->reserved_names = copy_names(s, src->reserved_names, src->reserved_name_count);
  dst->reserved_name_count = src->reserved_name_count;
  dst->ext_ranges = copy_ranges(src->ext_ranges, src->ext_range_count);
  dst->ext_range_count = src->ext_range_count;
  dst->line = dst->col = 0;
}

brk_snap *brk_lock_merge(const brk_snap *lock, const brk_snap *cur) {
  brk_snap *r = snap_new("", true);
  if (lock) {
    for (size_t i = 0; i < lock->block_count; i++) {
      const brk_block *src = &lock->blocks[i];
      size_t bi = add_block(r, src->kind, src->name);
      brk_block *b = &r->blocks[bi];
      copy_attrs(r, b, src);
      b->deleted = true;
      for (size_t k = 0; k < src->item_count; k++) copy_item(r, add_item(b), &src->items[k], true);
    }
  }
  size_t old_count = r->block_count;
  for (size_t i = 0; i < cur->block_count; i++) {
    const brk_block *src = &cur->blocks[i];
    size_t bi = (size_t)-1;
    for (size_t k = 0; k < old_count; k++) {
      if (r->blocks[k].kind == src->kind && strcmp(r->blocks[k].name, src->name) == 0) bi = k;
    }
    if (bi == (size_t)-1) bi = add_block(r, src->kind, src->name);
    brk_block *b = &r->blocks[bi];
    copy_attrs(r, b, src);
    b->deleted = false;
    size_t had = b->item_count;
    for (size_t k = 0; k < src->item_count; k++) {
      brk_item *match = NULL;
      for (size_t j = 0; j < had; j++) {
        if (same_item(&b->items[j], &src->items[k])) match = &b->items[j];
      }
      if (match) {
        match->deleted = false;
      } else {
        copy_item(r, add_item(b), &src->items[k], false);
      }
    }
  }
  snap_sort(r);
  return r;
}
