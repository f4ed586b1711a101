// Name mangling and collision handling for generated C identifiers.
#include "gen/names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/buf.h"
#include "schema/pool.h"

// ---- keywords ---------------------------------------------------------------

static const char *const kKeywords[] = {
    // C11
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof",
    "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert",
    "_Thread_local",
    // C++ (up to C++20) and alternative tokens
    "alignas", "alignof", "and", "and_eq", "asm", "bitand", "bitor", "bool", "catch",
    "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "consteval", "constexpr",
    "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete",
    "dynamic_cast", "explicit", "export", "false", "friend", "mutable", "namespace", "new",
    "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private",
    "protected", "public", "reinterpret_cast", "requires", "static_assert", "static_cast",
    "template", "this", "thread_local", "throw", "true", "try", "typeid", "typename",
    "using", "virtual", "wchar_t", "xor", "xor_eq",
    // Macros and names from headers generated code includes.
    "NULL", "EOF", "INFINITY", "NAN", "errno", "assert", "offsetof", "stdin", "stdout",
    "stderr", "memset", "memcpy", "size_t", "uint8_t", "int32_t", "int64_t", "uint32_t",
    "uint64_t", "main",
};

#define KEYWORD_COUNT (sizeof kKeywords / sizeof kKeywords[0])

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

// Every candidate name is checked, so the lookup is a binary search in a
// sorted copy of kKeywords (made once; the plugin is single-threaded).
bool cpg_is_keyword(const char *s) {
  static const char *sorted[KEYWORD_COUNT];
  static bool ready;
  if (!ready) {
    memcpy(sorted, kKeywords, sizeof sorted);
    qsort(sorted, KEYWORD_COUNT, sizeof sorted[0], cmp_str);
    ready = true;
  }
  return bsearch(&s, sorted, KEYWORD_COUNT, sizeof sorted[0], cmp_str) != NULL;
}

static bool reserved_prefix(const char *s) {
  return strncmp(s, "cpay_", 5) == 0 || strncmp(s, "CPAY_", 5) == 0;
}

// ---- string set and pointer map ------------------------------------------------
// Open addressing in a pool: a table that fills up is copied into one twice
// its size, the old one staying in the pool (at most the final size again).
// The sets keep pointers to their keys, which must live as long.

typedef struct strset {
  const char **slots;
  size_t cap;
  size_t count;
} strset;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool strset_has(const strset *s, const char *key) {
  if (s->cap == 0) return false;
  for (size_t i = hash_str(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (s->slots[i] == NULL) return false;
    if (strcmp(s->slots[i], key) == 0) return true;
  }
}

static void strset_add(cps_pool *mem, strset *s, const char *key) {
  if (strset_has(s, key)) return;
  if ((s->count + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 64;
    const char **nslots = cps_pool_alloc(mem, ncap * sizeof *nslots);
    for (size_t i = 0; i < s->cap; i++) {
      if (s->slots[i] == NULL) continue;
      size_t j = hash_str(s->slots[i]) & (ncap - 1);
      while (nslots[j]) j = (j + 1) & (ncap - 1);
      nslots[j] = s->slots[i];
    }
    s->slots = nslots;
    s->cap = ncap;
  }
  size_t i = hash_str(key) & (s->cap - 1);
  while (s->slots[i]) i = (i + 1) & (s->cap - 1);
  s->slots[i] = key;
  s->count++;
}

typedef struct ptrmap {
  const void **keys;
  const char **vals;
  size_t cap;
  size_t count;
} ptrmap;

static size_t hash_ptr(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17);
}

static const char *ptrmap_get(const ptrmap *m, const void *key) {
  if (m->cap == 0) return NULL;
  for (size_t i = hash_ptr(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == NULL) return NULL;
    if (m->keys[i] == key) return m->vals[i];
  }
}

static void ptrmap_put(cps_pool *mem, ptrmap *m, const void *key, const char *val) {
  if ((m->count + 1) * 2 > m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 256;
    const void **nk = cps_pool_alloc(mem, ncap * sizeof *nk);
    const char **nv = cps_pool_alloc(mem, ncap * sizeof *nv);
    for (size_t i = 0; i < m->cap; i++) {
      if (m->keys[i] == NULL) continue;
      size_t j = hash_ptr(m->keys[i]) & (ncap - 1);
      while (nk[j]) j = (j + 1) & (ncap - 1);
      nk[j] = m->keys[i];
      nv[j] = m->vals[i];
    }
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
  }
  size_t i = hash_ptr(key) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (m->keys[i] == NULL) m->count++;
  m->keys[i] = key;
  m->vals[i] = val;
}

// ---- naming ------------------------------------------------------------------

typedef struct file_idents {
  const cps_file *file;
  const char **idents;  // every global identifier the file emits
  size_t count;
  size_t cap;
} file_idents;

struct cpg_names {
  cps_pool *mem;  // the names, the identifiers of each file, this
  ptrmap names;   // model element -> C name
  file_idents *files;
  size_t file_count;
  size_t file_cap;
};

// The state while naming one file.
typedef struct namer {
  cpg_names *n;
  file_idents *fi;
  cps_pool *tmp;    // candidates, the sets; freed when the file is named
  strset globals;   // every identifier the file can see
  cps_buf scratch;  // the identifier being checked (expand)
} namer;

cpg_names *cpg_names_new(cps_pool *mem) {
  cpg_names *n = cps_pool_alloc(mem, sizeof *n);
  n->mem = mem;
  return n;
}

// Reserves the global identifier `id` for the file being named.
static void reserve(namer *nm, const char *id) {
  file_idents *fi = nm->fi;
  const char *kept = cps_pool_strdup(nm->n->mem, id);
  strset_add(nm->tmp, &nm->globals, kept);
  fi->idents = cps_pool_grow(nm->n->mem, fi->idents, fi->count, &fi->cap, sizeof *fi->idents);
  fi->idents[fi->count++] = kept;
}

static bool taken(namer *nm, const char *id) {
  return cpg_is_keyword(id) || reserved_prefix(id) || strset_has(&nm->globals, id);
}

// Patterns: "%1" is replaced by the scope (the message's C name for
// fields), "%2" by the candidate name. The result is valid until the next
// expand: every candidate's identifiers are checked, and only the chosen
// ones are kept (by reserve).
static const char *expand(namer *nm, const char *pat, const char *scope, const char *name) {
  cps_buf *b = &nm->scratch;
  b->size = 0;
  if (b->data) b->data[0] = '\0';
  for (const char *p = pat; *p; p++) {
    if (p[0] == '%' && p[1] == '1') {
      cps_buf_puts(b, scope);
      p++;
    } else if (p[0] == '%' && p[1] == '2') {
      cps_buf_puts(b, name);
      p++;
    } else {
      cps_buf_append(b, p, 1);
    }
  }
  return cps_buf_str(b);
}

// Picks base, base_, base__... so that no expansion of `pats` is taken, and
// reserves all expansions. Returns the name, in the names' pool.
static const char *pick_global(namer *nm, const char *scope, const char *base,
                               const char *const *pats, size_t npats) {
  const char *cand = base;
  // libcpay's prefix in an expansion (a package cpay.x, a file cpay/x.proto,
  // a message `cpay` without a package: cpay_table): no suffix clears it, so
  // such a name starts with x_ (X_) instead.
  for (size_t i = 0; i < npats; i++) {
    if (reserved_prefix(expand(nm, pats[i], scope, cand))) {
      cand = cps_pool_printf(nm->tmp, "%c_%s", cand[0] == 'c' ? 'x' : 'X', cand);
      break;
    }
  }
  for (;;) {
    bool ok = true;
    for (size_t i = 0; ok && i < npats; i++) ok = !taken(nm, expand(nm, pats[i], scope, cand));
    if (ok) break;
    cand = cps_pool_printf(nm->tmp, "%s_", cand);
  }
  for (size_t i = 0; i < npats; i++) reserve(nm, expand(nm, pats[i], scope, cand));
  return cps_pool_strdup(nm->n->mem, cand);
}

static const char *const kMsgPats[] = {
    "%2", "%2_table", "%2_new", "%2_parse", "%2_parse_ex", "%2_serialize", "%2_serialize_ex",
    "%2__fields", "%2__subs", "%2__names", "%2__defaults", "%2__fast",
    // JSON (gen_json.c)
    "%2_desc", "%2_to_json", "%2_from_json", "%2__json_names", "%2__json_msgs",
    "%2__json_enums", "%2__json_by_json_name", "%2__json_by_name",
    // Text format (gen_json.c)
    "%2_to_text", "%2_from_text", "%2_debug_text",
};
static const char *const kEntryPats[] = {
    "%2", "%2_table", "%2__fields", "%2__subs", "%2__names", "%2__defaults", "%2__fast",
    "%2_desc", "%2__json_names", "%2__json_msgs", "%2__json_enums", "%2__json_by_json_name",
    "%2__json_by_name",
};
static const char *const kEnumPats[] = {"%2",      "%2_table",   "%2_name",    "%2__values",
                                        "%2_desc", "%2__names", "%2__numbers"};
static const char *const kOnePat[] = {"%2"};
static const char *const kExtPats[] = {"%2", "%2__default", "%2__desc"};
static const char *const kFilePats[] = {"%2_register_extensions", "%2__exts", "%2_register_types",
                                        "%2__json_msgs", "%2__json_exts"};
static const char *const kOneofPats[] = {"%1_%2_case", "%1_which_%2", "%1_clear_%2",
                                         "%1_%2_NOT_SET"};
static const char *const kMapPats[] = {"%1_%2_size", "%1_%2_get", "%1_%2_set",
                                       "%1_%2_delete", "%1_%2_next", "%1_clear_%2"};
static const char *const kRepeatedPats[] = {"%1_%2_size", "%1_%2_get", "%1_add_%2",
                                            "%1_clear_%2"};
static const char *const kSubmsgPats[] = {"%1_has_%2", "%1_mutable_%2", "%1_clear_%2"};
static const char *const kPresencePats[] = {"%1_has_%2", "%1_set_%2", "%1_clear_%2"};
// The set_/clear_ helpers fields without presence had until issue 17: their
// names stay reserved so that no generated name changes.
static const char *const kImplicitPats[] = {"%1_set_%2", "%1_clear_%2"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *join(namer *nm, const char *prefix, const char *name) {
  return cps_pool_printf(nm->tmp, "%s%s", prefix, name);
}

static const char *package_prefix(namer *nm, const cps_file *f) {
  cps_buf b = {0};
  for (const char *p = f->package; *p; p++) cps_buf_append(&b, *p == '.' ? "_" : p, 1);
  if (f->package[0]) cps_buf_puts(&b, "_");
  return cps_pool_take(nm->tmp, &b);
}

static void name_enum(namer *nm, const cps_enum *e, const char *scope_prefix) {
  const char *cname =
      pick_global(nm, "", join(nm, scope_prefix, e->name), kEnumPats, COUNT(kEnumPats));
  ptrmap_put(nm->n->mem, &nm->n->names, e, cname);
  for (size_t i = 0; i < e->value_count; i++) {
    const char *vname = pick_global(nm, "", join(nm, scope_prefix, e->values[i].name), kOnePat, 1);
    ptrmap_put(nm->n->mem, &nm->n->names, &e->values[i], vname);
  }
}

static bool field_in_real_oneof(const cps_field *f) { return f->oneof && !f->oneof->synthetic; }

static void name_message(namer *nm, const cps_message *m, const char *scope_prefix);

static void name_extension(namer *nm, const cps_field *x, const char *scope_prefix) {
  const char *cname =
      pick_global(nm, "", join(nm, scope_prefix, x->name), kExtPats, COUNT(kExtPats));
  ptrmap_put(nm->n->mem, &nm->n->names, x, cname);
}

// The name of a real oneof of a message with C name `cname`: the base of
// its `<name>_case` member, unique among `members`.
static const char *name_oneof(namer *nm, const char *cname, strset *members, const cps_oneof *o) {
  const char *ob = o->name;
  for (;;) {
    const char *member = cps_pool_printf(nm->tmp, "%s_case", ob);
    bool bad = strset_has(members, member) || cpg_is_keyword(ob);
    for (size_t k = 0; !bad && k < COUNT(kOneofPats); k++) {
      bad = taken(nm, expand(nm, kOneofPats[k], cname, ob));
    }
    if (!bad) {
      strset_add(nm->tmp, members, member);
      break;
    }
    ob = cps_pool_printf(nm->tmp, "%s_", ob);
  }
  for (size_t k = 0; k < COUNT(kOneofPats); k++) reserve(nm, expand(nm, kOneofPats[k], cname, ob));
  return cps_pool_strdup(nm->n->mem, ob);
}

// The helper patterns of field `f` of message `m`.
static const char *const *field_pats(const cps_message *m, const cps_field *f, size_t *npats) {
  if (m->map_entry) {
    *npats = 0;
    return NULL;
  }
  if (f->is_map) {
    *npats = COUNT(kMapPats);
    return kMapPats;
  }
  if (f->label == CPS_LABEL_REPEATED) {
    *npats = COUNT(kRepeatedPats);
    return kRepeatedPats;
  }
  if (f->type == CPS_TYPE_MESSAGE || f->type == CPS_TYPE_GROUP) {
    *npats = COUNT(kSubmsgPats);
    return kSubmsgPats;
  }
  if (f->has_presence) {
    *npats = COUNT(kPresencePats);
    return kPresencePats;
  }
  *npats = COUNT(kImplicitPats);
  return kImplicitPats;
}

// The struct member of field `f` of message `m` (C name `cname`), unique
// among `members`, whose helpers' names are free.
static const char *name_field(namer *nm, const cps_message *m, const char *cname, strset *members,
                              const cps_field *f) {
  size_t npats;
  const char *const *pats = field_pats(m, f, &npats);
  const char *oneof_name = field_in_real_oneof(f) ? ptrmap_get(&nm->n->names, f->oneof) : NULL;
  // The constant of the oneof's case enum for this field.
  const char *oneof_pat = oneof_name ? cps_pool_printf(nm->tmp, "%%1_%s_%%2", oneof_name) : NULL;
  const char *fb = f->name;
  for (;;) {
    bool bad = cpg_is_keyword(fb) || strset_has(members, fb);
    for (size_t k = 0; !bad && k < npats; k++) bad = taken(nm, expand(nm, pats[k], cname, fb));
    if (!bad && oneof_name) bad = taken(nm, expand(nm, oneof_pat, cname, fb));
    if (!bad) break;
    fb = cps_pool_printf(nm->tmp, "%s_", fb);
  }
  strset_add(nm->tmp, members, fb);
  for (size_t k = 0; k < npats; k++) reserve(nm, expand(nm, pats[k], cname, fb));
  if (oneof_name) reserve(nm, expand(nm, oneof_pat, cname, fb));
  return cps_pool_strdup(nm->n->mem, fb);
}

static void name_message(namer *nm, const cps_message *m, const char *scope_prefix) {
  const char *base = join(nm, scope_prefix, m->name);
  const char *cname = m->map_entry ? pick_global(nm, "", base, kEntryPats, COUNT(kEntryPats))
                                   : pick_global(nm, "", base, kMsgPats, COUNT(kMsgPats));
  ptrmap_put(nm->n->mem, &nm->n->names, m, cname);

  // Struct members.
  strset members = {0};
  strset_add(nm->tmp, &members, "hdr");
  strset_add(nm->tmp, &members, "hasbits_");
  for (size_t i = 0; i < m->real_oneof_count; i++) {
    const cps_oneof *o = &m->oneofs[i];
    ptrmap_put(nm->n->mem, &nm->n->names, o, name_oneof(nm, cname, &members, o));
  }
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    ptrmap_put(nm->n->mem, &nm->n->names, f, name_field(nm, m, cname, &members, f));
  }

  const char *prefix = cps_pool_printf(nm->tmp, "%s_", cname);
  for (size_t i = 0; i < m->enum_count; i++) name_enum(nm, &m->enums[i], prefix);
  for (size_t i = 0; i < m->nested_count; i++) name_message(nm, &m->nested[i], prefix);
  for (size_t i = 0; i < m->extension_count; i++) name_extension(nm, &m->extensions[i], prefix);
}

static const char *file_prefix_of(namer *nm, const cps_file *f) {
  cps_buf b = {0};
  const char *p = f->name;
  if (*p >= '0' && *p <= '9') cps_buf_puts(&b, "_");
  for (; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_';
    cps_buf_append(&b, ok ? &c : "_", 1);
  }
  return cps_pool_take(nm->tmp, &b);
}

static file_idents *find_file(cpg_names *n, const cps_file *f) {
  for (size_t i = 0; i < n->file_count; i++) {
    if (n->files[i].file == f) return &n->files[i];
  }
  return NULL;
}

// Every file `f` imports, directly or not, once each, in `mem`.
static void collect_deps(cps_pool *mem, const cps_file *f, const cps_file ***seen, size_t *count,
                         size_t *cap) {
  for (size_t i = 0; i < f->dep_count; i++) {
    const cps_file *d = f->deps[i];
    bool dup = false;
    for (size_t k = 0; k < *count; k++) dup = dup || (*seen)[k] == d;
    if (dup) continue;
    *seen = cps_pool_grow(mem, *seen, *count, cap, sizeof **seen);
    (*seen)[(*count)++] = d;
    collect_deps(mem, d, seen, count, cap);
  }
}

static void ensure_file(cpg_names *n, const cps_file *f) {
  if (find_file(n, f)) return;
  namer nm = {n, NULL, cps_pool_new(), {0}, {0}};
  const cps_file **deps = NULL;
  size_t dep_count = 0, dep_cap = 0;
  collect_deps(nm.tmp, f, &deps, &dep_count, &dep_cap);
  for (size_t i = 0; i < dep_count; i++) ensure_file(n, deps[i]);

  n->files = cps_pool_grow(n->mem, n->files, n->file_count, &n->file_cap, sizeof *n->files);
  nm.fi = &n->files[n->file_count++];
  nm.fi->file = f;
  // Identifiers of every file this one can see. Pool order keeps it stable.
  for (size_t i = 0; i < dep_count; i++) {
    file_idents *d = find_file(n, deps[i]);
    for (size_t k = 0; k < d->count; k++) strset_add(nm.tmp, &nm.globals, d->idents[k]);
  }

  const char *fp = file_prefix_of(&nm, f);
  ptrmap_put(n->mem, &n->names, f, pick_global(&nm, "", fp, kFilePats, COUNT(kFilePats)));
  const char *pkg = package_prefix(&nm, f);
  for (size_t i = 0; i < f->enum_count; i++) name_enum(&nm, &f->enums[i], pkg);
  for (size_t i = 0; i < f->message_count; i++) name_message(&nm, &f->messages[i], pkg);
  for (size_t i = 0; i < f->extension_count; i++) name_extension(&nm, &f->extensions[i], pkg);
  cps_buf_free(&nm.scratch);
  cps_pool_free(nm.tmp);
}

static const cps_file *file_of_message(const cps_message *m) { return m->file; }

static const char *lookup(cpg_names *n, const cps_file *f, const void *key) {
  const char *s = ptrmap_get(&n->names, key);
  if (s) return s;
  ensure_file(n, f);
  s = ptrmap_get(&n->names, key);
  return s ? s : "cpay_unnamed_";
}

const char *cpg_name_message(cpg_names *n, const cps_message *m) {
  return lookup(n, file_of_message(m), m);
}
const char *cpg_name_enum(cpg_names *n, const cps_enum *e) { return lookup(n, e->file, e); }
const char *cpg_name_enum_value(cpg_names *n, const cps_enum_value *v) {
  return lookup(n, v->parent->file, v);
}
const char *cpg_name_field(cpg_names *n, const cps_field *f) { return lookup(n, f->file, f); }
const char *cpg_name_oneof(cpg_names *n, const cps_oneof *o) {
  return lookup(n, o->parent->file, o);
}
const char *cpg_name_extension(cpg_names *n, const cps_field *x) { return lookup(n, x->file, x); }
const char *cpg_name_file_prefix(cpg_names *n, const cps_file *f) { return lookup(n, f, f); }
