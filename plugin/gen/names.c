// Name mangling and collision handling for generated C identifiers.
#include "gen/names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/buf.h"

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

typedef struct strset {
  char **slots;
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

static void strset_add(strset *s, const char *key) {
  if (strset_has(s, key)) return;
  if ((s->count + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 256;
    char **nslots = calloc(ncap, sizeof(char *));
    if (nslots == NULL) nslots = cps_xmalloc(0);  // unreachable in practice
    for (size_t i = 0; i < s->cap; i++) {
      if (s->slots[i] == NULL) continue;
      size_t j = hash_str(s->slots[i]) & (ncap - 1);
      while (nslots[j]) j = (j + 1) & (ncap - 1);
      nslots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = nslots;
    s->cap = ncap;
  }
  size_t i = hash_str(key) & (s->cap - 1);
  while (s->slots[i]) i = (i + 1) & (s->cap - 1);
  s->slots[i] = cps_xstrdup(key);
  s->count++;
}

static void strset_free(strset *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->slots[i]);
  free(s->slots);
  memset(s, 0, sizeof *s);
}

typedef struct ptrmap {
  const void **keys;
  char **vals;
  size_t cap;
  size_t count;
} ptrmap;

static size_t hash_ptr(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17);
}

static char *ptrmap_get(const ptrmap *m, const void *key) {
  if (m->cap == 0) return NULL;
  for (size_t i = hash_ptr(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == NULL) return NULL;
    if (m->keys[i] == key) return m->vals[i];
  }
}

static void ptrmap_put(ptrmap *m, const void *key, char *val) {
  if ((m->count + 1) * 2 > m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 256;
    const void **nk = cps_xmalloc(ncap * sizeof(void *));
    char **nv = cps_xmalloc(ncap * sizeof(char *));
    memset(nk, 0, ncap * sizeof(void *));
    for (size_t i = 0; i < m->cap; i++) {
      if (m->keys[i] == NULL) continue;
      size_t j = hash_ptr(m->keys[i]) & (ncap - 1);
      while (nk[j]) j = (j + 1) & (ncap - 1);
      nk[j] = m->keys[i];
      nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
  }
  size_t i = hash_ptr(key) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (m->keys[i] == NULL) m->count++;
  else free(m->vals[i]);
  m->keys[i] = key;
  m->vals[i] = val;
}

static void ptrmap_free(ptrmap *m) {
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i]) free(m->vals[i]);
  }
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

// ---- naming ------------------------------------------------------------------

typedef struct file_idents {
  const cps_file *file;
  char **idents;  // every global identifier the file emits
  size_t count;
  size_t cap;
} file_idents;

struct cpg_names {
  const cps_schema *schema;
  ptrmap names;  // model element -> C name
  file_idents *files;
  size_t file_count;
  size_t file_cap;
};

// The state while naming one file.
typedef struct namer {
  cpg_names *n;
  file_idents *fi;
  strset globals;
} namer;

cpg_names *cpg_names_new(const cps_schema *schema) {
  cpg_names *n = cps_xmalloc(sizeof *n);
  memset(n, 0, sizeof *n);
  n->schema = schema;
  return n;
}

void cpg_names_free(cpg_names *n) {
  if (n == NULL) return;
  ptrmap_free(&n->names);
  for (size_t i = 0; i < n->file_count; i++) {
    for (size_t j = 0; j < n->files[i].count; j++) free(n->files[i].idents[j]);
    free(n->files[i].idents);
  }
  free(n->files);
  free(n);
}

static void reserve(namer *nm, const char *id) {
  strset_add(&nm->globals, id);
  file_idents *fi = nm->fi;
  if (fi->count == fi->cap) {
    fi->cap = fi->cap ? fi->cap * 2 : 64;
    fi->idents = cps_xrealloc(fi->idents, fi->cap * sizeof(char *));
  }
  fi->idents[fi->count++] = cps_xstrdup(id);
}

static bool taken(namer *nm, const char *id) {
  return cpg_is_keyword(id) || reserved_prefix(id) || strset_has(&nm->globals, id);
}

// Patterns: "%s" is replaced by the candidate name; "%1" by the scope (the
// message's C name for fields), "%2" by the candidate.
static char *expand(const char *pat, const char *scope, const char *name) {
  cps_buf b = {0};
  for (const char *p = pat; *p; p++) {
    if (p[0] == '%' && p[1] == '1') {
      cps_buf_puts(&b, scope);
      p++;
    } else if (p[0] == '%' && p[1] == '2') {
      cps_buf_puts(&b, name);
      p++;
    } else {
      cps_buf_append(&b, p, 1);
    }
  }
  return cps_buf_take(&b);
}

// Picks base, base_, base__... so that no expansion of `pats` is taken, and
// reserves all expansions. Returns the malloc'd name.
static char *pick_global(namer *nm, const char *scope, const char *base,
                         const char *const *pats, size_t npats) {
  char *cand = cps_xstrdup(base);
  for (;;) {
    bool ok = true;
    for (size_t i = 0; ok && i < npats; i++) {
      char *id = expand(pats[i], scope, cand);
      if (taken(nm, id)) ok = false;
      free(id);
    }
    if (ok) break;
    char *next = cps_xasprintf("%s_", cand);
    free(cand);
    cand = next;
  }
  for (size_t i = 0; i < npats; i++) {
    char *id = expand(pats[i], scope, cand);
    reserve(nm, id);
    free(id);
  }
  return cand;
}

static const char *const kMsgPats[] = {
    "%2", "%2_table", "%2_new", "%2_parse", "%2_parse_ex", "%2_serialize", "%2_serialize_ex",
    "%2__fields", "%2__subs", "%2__names", "%2__defaults",
    // JSON (gen_json.c)
    "%2_desc", "%2_to_json", "%2_from_json", "%2__json_names", "%2__json_msgs",
    "%2__json_enums", "%2__json_by_json_name", "%2__json_by_name",
    // Text format (gen_json.c)
    "%2_to_text", "%2_from_text", "%2_debug_text",
};
static const char *const kEntryPats[] = {
    "%2", "%2_table", "%2__fields", "%2__subs", "%2__names", "%2__defaults",
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

static char *join(const char *prefix, const char *name) {
  return cps_xasprintf("%s%s", prefix, name);
}

static char *package_prefix(const cps_file *f) {
  cps_buf b = {0};
  for (const char *p = f->package; *p; p++) cps_buf_append(&b, *p == '.' ? "_" : p, 1);
  if (f->package[0]) cps_buf_puts(&b, "_");
  return cps_buf_take(&b);
}

static void name_enum(namer *nm, const cps_enum *e, const char *scope_prefix) {
  char *base = join(scope_prefix, e->name);
  char *cname = pick_global(nm, "", base, kEnumPats, COUNT(kEnumPats));
  free(base);
  ptrmap_put(&nm->n->names, e, cname);
  for (size_t i = 0; i < e->value_count; i++) {
    char *vbase = join(scope_prefix, e->values[i].name);
    ptrmap_put(&nm->n->names, &e->values[i], pick_global(nm, "", vbase, kOnePat, 1));
    free(vbase);
  }
}

static bool field_in_real_oneof(const cps_field *f) { return f->oneof && !f->oneof->synthetic; }

static void name_message(namer *nm, const cps_message *m, const char *scope_prefix);

static void name_extension(namer *nm, const cps_field *x, const char *scope_prefix) {
  char *base = join(scope_prefix, x->name);
  ptrmap_put(&nm->n->names, x, pick_global(nm, "", base, kExtPats, COUNT(kExtPats)));
  free(base);
}

static void name_message(namer *nm, const cps_message *m, const char *scope_prefix) {
  char *base = join(scope_prefix, m->name);
  char *cname = m->map_entry ? pick_global(nm, "", base, kEntryPats, COUNT(kEntryPats))
                             : pick_global(nm, "", base, kMsgPats, COUNT(kMsgPats));
  free(base);
  ptrmap_put(&nm->n->names, m, cname);

  // Struct members.
  strset members = {0};
  strset_add(&members, "hdr");
  strset_add(&members, "hasbits_");
  for (size_t i = 0; i < m->real_oneof_count; i++) {
    const cps_oneof *o = &m->oneofs[i];
    char *ob = cps_xstrdup(o->name);
    for (;;) {
      char *member = cps_xasprintf("%s_case", ob);
      bool bad = strset_has(&members, member) || cpg_is_keyword(ob);
      for (size_t k = 0; !bad && k < COUNT(kOneofPats); k++) {
        char *id = expand(kOneofPats[k], cname, ob);
        bad = taken(nm, id);
        free(id);
      }
      if (!bad) {
        strset_add(&members, member);
        free(member);
        break;
      }
      free(member);
      char *next = cps_xasprintf("%s_", ob);
      free(ob);
      ob = next;
    }
    for (size_t k = 0; k < COUNT(kOneofPats); k++) {
      char *id = expand(kOneofPats[k], cname, ob);
      reserve(nm, id);
      free(id);
    }
    ptrmap_put(&nm->n->names, o, ob);
  }
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    const char *const *pats;
    size_t npats;
    if (m->map_entry) {
      pats = NULL;
      npats = 0;
    } else if (f->is_map) {
      pats = kMapPats;
      npats = COUNT(kMapPats);
    } else if (f->label == CPS_LABEL_REPEATED) {
      pats = kRepeatedPats;
      npats = COUNT(kRepeatedPats);
    } else if (f->type == CPS_TYPE_MESSAGE || f->type == CPS_TYPE_GROUP) {
      pats = kSubmsgPats;
      npats = COUNT(kSubmsgPats);
    } else if (f->has_presence) {
      pats = kPresencePats;
      npats = COUNT(kPresencePats);
    } else {
      pats = kImplicitPats;
      npats = COUNT(kImplicitPats);
    }
    const char *oneof_name = field_in_real_oneof(f) ? ptrmap_get(&nm->n->names, f->oneof) : NULL;
    char *fb = cps_xstrdup(f->name);
    for (;;) {
      bool bad = cpg_is_keyword(fb) || strset_has(&members, fb);
      for (size_t k = 0; !bad && k < npats; k++) {
        char *id = expand(pats[k], cname, fb);
        bad = taken(nm, id);
        free(id);
      }
      if (!bad && oneof_name) {
        char *id = cps_xasprintf("%s_%s_%s", cname, oneof_name, fb);
        bad = taken(nm, id);
        free(id);
      }
      if (!bad) break;
      char *next = cps_xasprintf("%s_", fb);
      free(fb);
      fb = next;
    }
    strset_add(&members, fb);
    for (size_t k = 0; k < npats; k++) {
      char *id = expand(pats[k], cname, fb);
      reserve(nm, id);
      free(id);
    }
    if (oneof_name) {
      char *id = cps_xasprintf("%s_%s_%s", cname, oneof_name, fb);
      reserve(nm, id);
      free(id);
    }
    ptrmap_put(&nm->n->names, f, fb);
  }
  strset_free(&members);

  char *prefix = cps_xasprintf("%s_", cname);
  for (size_t i = 0; i < m->enum_count; i++) name_enum(nm, &m->enums[i], prefix);
  for (size_t i = 0; i < m->nested_count; i++) name_message(nm, &m->nested[i], prefix);
  for (size_t i = 0; i < m->extension_count; i++) name_extension(nm, &m->extensions[i], prefix);
  free(prefix);
}

static char *file_prefix_of(const cps_file *f) {
  cps_buf b = {0};
  const char *p = f->name;
  if (*p >= '0' && *p <= '9') cps_buf_puts(&b, "_");
  for (; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_';
    cps_buf_append(&b, ok ? &c : "_", 1);
  }
  return cps_buf_take(&b);
}

static file_idents *find_file(cpg_names *n, const cps_file *f) {
  for (size_t i = 0; i < n->file_count; i++) {
    if (n->files[i].file == f) return &n->files[i];
  }
  return NULL;
}

static void ensure_file(cpg_names *n, const cps_file *f);

static void collect_deps(cpg_names *n, const cps_file *f, const cps_file ***seen, size_t *count,
                         size_t *cap) {
  for (size_t i = 0; i < f->dep_count; i++) {
    const cps_file *d = f->deps[i];
    bool dup = false;
    for (size_t k = 0; k < *count; k++) dup = dup || (*seen)[k] == d;
    if (dup) continue;
    if (*count == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *seen = cps_xrealloc(*seen, *cap * sizeof(**seen));
    }
    (*seen)[(*count)++] = d;
    collect_deps(n, d, seen, count, cap);
  }
}

static void ensure_file(cpg_names *n, const cps_file *f) {
  if (find_file(n, f)) return;
  const cps_file **deps = NULL;
  size_t dep_count = 0, dep_cap = 0;
  collect_deps(n, f, &deps, &dep_count, &dep_cap);
  for (size_t i = 0; i < dep_count; i++) ensure_file(n, deps[i]);

  if (n->file_count == n->file_cap) {
    n->file_cap = n->file_cap ? n->file_cap * 2 : 16;
    n->files = cps_xrealloc(n->files, n->file_cap * sizeof(*n->files));
  }
  file_idents *fi = &n->files[n->file_count++];
  memset(fi, 0, sizeof *fi);
  fi->file = f;
  namer nm = {n, fi, {0}};
  // Identifiers of every file this one can see. Pool order keeps it stable.
  for (size_t i = 0; i < dep_count; i++) {
    file_idents *d = find_file(n, deps[i]);
    for (size_t k = 0; k < d->count; k++) strset_add(&nm.globals, d->idents[k]);
  }
  free(deps);

  char *fp = file_prefix_of(f);
  ptrmap_put(&n->names, f, pick_global(&nm, "", fp, kFilePats, COUNT(kFilePats)));
  free(fp);
  char *pkg = package_prefix(f);
  for (size_t i = 0; i < f->enum_count; i++) name_enum(&nm, &f->enums[i], pkg);
  for (size_t i = 0; i < f->message_count; i++) name_message(&nm, &f->messages[i], pkg);
  for (size_t i = 0; i < f->extension_count; i++) name_extension(&nm, &f->extensions[i], pkg);
  free(pkg);
  strset_free(&nm.globals);
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
