// The breaking-change configuration (see breaking.h): the `breaking:` section
// of a buf.yaml (v1 or v2) or of a cpay-breaking.yaml, with buf's rule and
// category names mapped to cpay's rules where they mean the same.
#include <stdarg.h>
#include <string.h>

#include "breaking/breaking.h"
#include "breaking/yaml.h"

// ---- names -------------------------------------------------------------------

// buf's breaking rules and the cpay rules that report the same changes. A
// rule with an empty list has no counterpart: cpay does not check it (file
// options such as go_package, ctype, jstype).
typedef struct buf_rule {
  const char *name;
  const char *cpay;  // space-separated rule IDs
} buf_rule;

static const buf_rule kBufRules[] = {
    {"ENUM_FIRST_VALUE_SAME", ""},
    {"ENUM_NO_DELETE", "ENUM_DELETED ENUM_RENAMED"},
    {"ENUM_SAME_JSON_FORMAT", "JSON_FORMAT_WEAKENED JSON_FORMAT_STRENGTHENED"},
    {"ENUM_SAME_TYPE", "ENUM_OPENNESS_CHANGED"},
    {"ENUM_VALUE_NO_DELETE", "ENUM_VALUE_DELETED ENUM_VALUE_DELETED_NAME_NOT_RESERVED"},
    {"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", "ENUM_VALUE_DELETED_NAME_NOT_RESERVED"},
    {"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", "ENUM_VALUE_DELETED"},
    {"ENUM_VALUE_SAME_NAME", "ENUM_VALUE_RENAMED ENUM_VALUE_RENUMBERED"},
    {"EXTENSION_MESSAGE_NO_DELETE", "EXTENSION_RANGE_REMOVED"},
    {"EXTENSION_NO_DELETE", "EXTENSION_DELETED"},
    {"FIELD_NO_DELETE", "FIELD_DELETED FIELD_DELETED_NAME_NOT_RESERVED FIELD_REQUIRED_DELETED"},
    {"FIELD_NO_DELETE_UNLESS_NAME_RESERVED", "FIELD_DELETED_NAME_NOT_RESERVED"},
    {"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", "FIELD_DELETED"},
    {"FIELD_SAME_CARDINALITY", "FIELD_LABEL_CHANGED FIELD_LABEL_JSON_CHANGED FIELD_REQUIRED_CHANGED FIELD_PRESENCE_LOST FIELD_PRESENCE_CHANGED"},
    {"FIELD_SAME_CPP_STRING_TYPE", ""},
    {"FIELD_SAME_CTYPE", ""},
    {"FIELD_SAME_DEFAULT", "FIELD_DEFAULT_CHANGED"},
    {"FIELD_SAME_JAVA_UTF8_VALIDATION", ""},
    {"FIELD_SAME_JSON_NAME", "FIELD_JSON_NAME_CHANGED"},
    {"FIELD_SAME_JSTYPE", ""},
    {"FIELD_SAME_LABEL", "FIELD_LABEL_CHANGED FIELD_LABEL_JSON_CHANGED FIELD_REQUIRED_CHANGED FIELD_PRESENCE_LOST FIELD_PRESENCE_CHANGED"},
    {"FIELD_SAME_NAME", "FIELD_RENAMED"},
    {"FIELD_SAME_ONEOF", "FIELD_ONEOF_CHANGED FIELD_MOVED_INTO_NEW_ONEOF FIELD_MOVED_OUT_OF_SOLE_ONEOF"},
    {"FIELD_SAME_TYPE", "FIELD_TYPE_CHANGED FIELD_TYPE_WIRE_COMPATIBLE FIELD_JSON_TYPE_CHANGED MAP_KEY_TYPE_CHANGED MAP_VALUE_TYPE_CHANGED MAP_REPEATED_CHANGED FIELD_MESSAGE_ENCODING_CHANGED"},
    {"FIELD_SAME_UTF8_VALIDATION", "FIELD_UTF8_VALIDATION_CHANGED"},
    {"FIELD_WIRE_COMPATIBLE_CARDINALITY", "FIELD_LABEL_CHANGED FIELD_REQUIRED_CHANGED"},
    {"FIELD_WIRE_COMPATIBLE_TYPE", "FIELD_TYPE_CHANGED MAP_KEY_TYPE_CHANGED MAP_VALUE_TYPE_CHANGED FIELD_MESSAGE_ENCODING_CHANGED"},
    {"FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", "FIELD_LABEL_CHANGED FIELD_LABEL_JSON_CHANGED FIELD_REQUIRED_CHANGED"},
    {"FIELD_WIRE_JSON_COMPATIBLE_TYPE", "FIELD_TYPE_CHANGED FIELD_JSON_TYPE_CHANGED MAP_KEY_TYPE_CHANGED MAP_VALUE_TYPE_CHANGED MAP_REPEATED_CHANGED FIELD_MESSAGE_ENCODING_CHANGED"},
    {"FILE_NO_DELETE", "FILE_DELETED"},
    {"FILE_SAME_CC_ENABLE_ARENAS", ""},
    {"FILE_SAME_CC_GENERIC_SERVICES", ""},
    {"FILE_SAME_CSHARP_NAMESPACE", ""},
    {"FILE_SAME_GO_PACKAGE", ""},
    {"FILE_SAME_JAVA_GENERIC_SERVICES", ""},
    {"FILE_SAME_JAVA_MULTIPLE_FILES", ""},
    {"FILE_SAME_JAVA_OUTER_CLASSNAME", ""},
    {"FILE_SAME_JAVA_PACKAGE", ""},
    {"FILE_SAME_JAVA_STRING_CHECK_UTF8", ""},
    {"FILE_SAME_OBJC_CLASS_PREFIX", ""},
    {"FILE_SAME_OPTIMIZE_FOR", ""},
    {"FILE_SAME_PACKAGE", "FILE_PACKAGE_CHANGED"},
    {"FILE_SAME_PHP_CLASS_PREFIX", ""},
    {"FILE_SAME_PHP_GENERIC_SERVICES", ""},
    {"FILE_SAME_PHP_METADATA_NAMESPACE", ""},
    {"FILE_SAME_PHP_NAMESPACE", ""},
    {"FILE_SAME_PY_GENERIC_SERVICES", ""},
    {"FILE_SAME_RUBY_PACKAGE", ""},
    {"FILE_SAME_SWIFT_PREFIX", ""},
    {"FILE_SAME_SYNTAX", "FILE_SYNTAX_CHANGED"},
    {"MESSAGE_NO_DELETE", "MESSAGE_DELETED MESSAGE_RENAMED"},
    {"MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", ""},
    {"MESSAGE_SAME_JSON_FORMAT", "JSON_FORMAT_WEAKENED JSON_FORMAT_STRENGTHENED"},
    {"MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT", "MESSAGE_SET_CHANGED"},
    {"MESSAGE_SAME_REQUIRED_FIELDS", "FIELD_REQUIRED_ADDED FIELD_REQUIRED_DELETED FIELD_REQUIRED_CHANGED"},
    {"ONEOF_NO_DELETE", "ONEOF_DELETED ONEOF_RENAMED"},
    {"PACKAGE_ENUM_NO_DELETE", "ENUM_DELETED"},
    {"PACKAGE_EXTENSION_NO_DELETE", "EXTENSION_DELETED"},
    {"PACKAGE_MESSAGE_NO_DELETE", "MESSAGE_DELETED"},
    {"PACKAGE_NO_DELETE", "FILE_PACKAGE_CHANGED"},
    {"PACKAGE_SERVICE_NO_DELETE", "SERVICE_DELETED"},
    {"RESERVED_ENUM_NO_DELETE", "ENUM_RESERVED_RANGE_REMOVED ENUM_RESERVED_NAME_REMOVED"},
    {"RESERVED_MESSAGE_NO_DELETE", "RESERVED_RANGE_REMOVED RESERVED_NAME_REMOVED"},
    {"RPC_NO_DELETE", "RPC_DELETED RPC_RENAMED"},
    {"RPC_SAME_CLIENT_STREAMING", "RPC_STREAMING_CHANGED"},
    {"RPC_SAME_IDEMPOTENCY_LEVEL", "RPC_IDEMPOTENCY_WEAKENED RPC_IDEMPOTENCY_STRENGTHENED"},
    {"RPC_SAME_REQUEST_TYPE", "RPC_REQUEST_TYPE_CHANGED"},
    {"RPC_SAME_RESPONSE_TYPE", "RPC_RESPONSE_TYPE_CHANGED"},
    {"RPC_SAME_SERVER_STREAMING", "RPC_STREAMING_CHANGED"},
    {"SERVICE_NO_DELETE", "SERVICE_DELETED"},
};

// Sets on[] for every rule `name` stands for: a cpay rule ID, a cpay
// category (wire, wire-json, all: the rules of that category and below), a
// buf category (WIRE, WIRE_JSON, FILE, PACKAGE) or a buf rule. Returns
// false when the name is unknown; *mapped_none is set for a buf rule that
// cpay does not check.
static bool resolve(const char *name, bool *on, bool *mapped_none) {
  *mapped_none = false;
  for (size_t i = 0; i < cpb_rule_count; i++) {
    if (strcmp(cpb_rules[i].id, name) == 0) {
      on[i] = true;
      return true;
    }
  }
  static const struct {
    const char *name;
    cpb_category cat;
  } cats[] = {{"wire", CPB_CAT_WIRE}, {"wire-json", CPB_CAT_WIRE_JSON}, {"all", CPB_CAT_ALL},
              {"WIRE", CPB_CAT_WIRE}, {"WIRE_JSON", CPB_CAT_WIRE_JSON}, {"FILE", CPB_CAT_ALL},
              {"PACKAGE", CPB_CAT_ALL}};
  for (size_t k = 0; k < sizeof cats / sizeof cats[0]; k++) {
    if (strcmp(cats[k].name, name) != 0) continue;
    for (size_t i = 0; i < cpb_rule_count; i++) on[i] |= cpb_rules[i].category <= cats[k].cat;
    return true;
  }
  for (size_t k = 0; k < sizeof kBufRules / sizeof kBufRules[0]; k++) {
    if (strcmp(kBufRules[k].name, name) != 0) continue;
    const char *p = kBufRules[k].cpay;
    *mapped_none = *p == '\0';
    while (*p) {
      size_t n = strcspn(p, " ");
      for (size_t i = 0; i < cpb_rule_count; i++) {
        if (strlen(cpb_rules[i].id) == n && strncmp(cpb_rules[i].id, p, n) == 0) on[i] = true;
      }
      p += n + (p[n] == ' ');
    }
    return true;
  }
  return false;
}

// ---- loading -------------------------------------------------------------------

struct cpb_config {
  const char *path;  // as given
  const char *dir;   // the directory its paths are relative to (absolute; "" in tests: any)
  bool *use;         // by rule index
  bool ignore_unstable;
  struct ignore {
    const char *path;    // relative to dir, without a trailing '/'
    const bool *rules;   // NULL: every rule
  } *ignores;
  size_t ignore_count, ignore_cap;
};

typedef struct loader {
  cps_pool *mem;
  cpb_config *c;
  char *err;  // the first error, in mem
  cps_buf *notes;
} loader;

// A rule set in the pool, every rule off.
static bool *no_rules(loader *l) { return cps_pool_alloc(l->mem, cpb_rule_count * sizeof(bool)); }

static bool lfail(loader *l, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool lfail(loader *l, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cps_error_at(l->mem, &l->err, l->c->path, line, fmt, ap);
  va_end(ap);
  return false;
}

// The scalars of a sequence (or of a lone scalar) as names: each resolved
// into on[].
static bool names(loader *l, const yaml_node *n, const char *key, bool *on) {
  if (n->kind == YAML_NULL) return true;
  if (n->kind != YAML_SEQ) return lfail(l, n->line, "`%s` must be a list of rule or category names", key);
  for (size_t i = 0; i < n->count; i++) {
    const yaml_node *s = n->items[i];
    if (s->kind != YAML_SCALAR) return lfail(l, s->line, "`%s` must be a list of names", key);
    bool none;
    if (!resolve(s->str, on, &none)) {
      return lfail(l, s->line,
                   "unknown rule or category \"%s\" (cpay-breaking --list-rules prints cpay's; "
                   "buf's rules and categories are read too)", s->str);
    }
    if (none) {
      cps_buf_printf(l->notes,
                     "cpay-breaking: note: %s:%d: buf's %s has no counterpart in cpay-breaking "
                     "(it does not check file or field options of other languages): ignored\n",
                     l->c->path, s->line, s->str);
    }
  }
  return true;
}

static bool add_ignores(loader *l, const yaml_node *n, const char *key, const bool *rules) {
  if (n->kind == YAML_NULL) return true;
  if (n->kind != YAML_SEQ) return lfail(l, n->line, "`%s` must be a list of paths", key);
  for (size_t i = 0; i < n->count; i++) {
    const yaml_node *s = n->items[i];
    if (s->kind != YAML_SCALAR || !*s->str) return lfail(l, s->line, "`%s` must be a list of paths", key);
    if (s->str[0] == '/') return lfail(l, s->line, "ignored path \"%s\" must be relative", s->str);
    cpb_config *c = l->c;
    c->ignores = cps_pool_grow(l->mem, c->ignores, c->ignore_count, &c->ignore_cap,
                               sizeof *c->ignores);
    size_t len = strlen(s->str);
    while (len > 1 && s->str[len - 1] == '/') len--;
    c->ignores[c->ignore_count++] = (struct ignore){cps_pool_strndup(l->mem, s->str, len), rules};
  }
  return true;
}

static bool load_section(loader *l, const yaml_node *br) {
  cpb_config *c = l->c;
  static const char *const known[] = {"use", "except", "ignore", "ignore_only",
                                      "ignore_unstable_packages", "against_git_ref"};
  for (size_t i = 0; i < br->count; i++) {
    bool ok = false;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) ok |= strcmp(br->keys[i], known[k]) == 0;
    if (!ok) return lfail(l, br->items[i]->line, "unknown key \"%s\" in `breaking`", br->keys[i]);
  }
  const yaml_node *use = yaml_get(br, "use"), *except = yaml_get(br, "except");
  if (use && use->kind != YAML_NULL && use->count) {
    memset(c->use, 0, cpb_rule_count * sizeof *c->use);
    if (!names(l, use, "use", c->use)) return false;
  }
  if (except) {
    bool *ex = no_rules(l);
    if (!names(l, except, "except", ex)) return false;
    for (size_t i = 0; i < cpb_rule_count; i++) c->use[i] &= !ex[i];
  }
  const yaml_node *ign = yaml_get(br, "ignore");
  if (ign && !add_ignores(l, ign, "ignore", NULL)) return false;
  const yaml_node *only = yaml_get(br, "ignore_only");
  if (only && only->kind == YAML_MAP) {
    for (size_t i = 0; i < only->count; i++) {
      bool *r = no_rules(l);  // shared by the ignores of this entry
      bool none;
      if (!resolve(only->keys[i], r, &none)) {
        return lfail(l, only->items[i]->line, "unknown rule or category \"%s\" in `ignore_only`",
                     only->keys[i]);
      }
      if (!add_ignores(l, only->items[i], "ignore_only", r)) return false;
    }
  } else if (only && only->kind != YAML_NULL) {
    return lfail(l, only->line, "`ignore_only` must map rule names to lists of paths");
  }
  const yaml_node *unst = yaml_get(br, "ignore_unstable_packages");
  if (unst && unst->kind == YAML_SCALAR) {
    if (strcmp(unst->str, "true") == 0) {
      c->ignore_unstable = true;
    } else if (strcmp(unst->str, "false") != 0) {
      return lfail(l, unst->line, "`ignore_unstable_packages` must be true or false");
    }
  }
  return true;
}

// buf.yaml v2: the `breaking` section of the module at `module` (a path
// relative to the file's directory), which replaces the top-level one.
static const yaml_node *module_section(const yaml_node *root, const char *module) {
  const yaml_node *mods = yaml_get(root, "modules");
  if (!module || !mods || mods->kind != YAML_SEQ) return NULL;
  for (size_t i = 0; i < mods->count; i++) {
    const yaml_node *path = yaml_get(mods->items[i], "path");
    const yaml_node *br = yaml_get(mods->items[i], "breaking");
    if (!path || path->kind != YAML_SCALAR || !br || br->kind != YAML_MAP) continue;
    const char *p = path->str;
    while (p[0] == '.' && p[1] == '/') p += 2;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    if ((strlen(module) == n && strncmp(module, p, n) == 0) || (n == 1 && p[0] == '.' && !*module)) {
      return br;
    }
  }
  return NULL;
}

cpb_config *cpb_config_parse(cps_pool *mem, const char *text, size_t size, const char *path,
                             const char *dir, const char *module, char **err, cps_buf *notes) {
  const yaml_node *root = yaml_parse(mem, text, size, path, err);
  if (!root) return NULL;
  cpb_config *c = cps_pool_alloc(mem, sizeof *c);
  c->path = cps_pool_strdup(mem, path);
  c->dir = cps_pool_strdup(mem, dir);
  c->use = cps_pool_alloc(mem, cpb_rule_count * sizeof *c->use);
  for (size_t i = 0; i < cpb_rule_count; i++) c->use[i] = true;
  loader l = {mem, c, NULL, notes};
  const yaml_node *version = yaml_get(root, "version");
  const yaml_node *br = yaml_get(root, "breaking");
  if (root->kind != YAML_MAP) {
    lfail(&l, root->line, "expected a mapping with a `breaking` section");
  } else if (version && (version->kind != YAML_SCALAR ||
                         (strcmp(version->str, "v1") != 0 && strcmp(version->str, "v2") != 0 &&
                          strcmp(version->str, "v1beta1") != 0))) {
    lfail(&l, version->line, "unsupported version \"%s\" (v1, v1beta1 and v2 are read)",
          version->kind == YAML_SCALAR ? version->str : "?");
  } else if (br && br->kind == YAML_MAP && !module_section(root, module)) {
    load_section(&l, br);
  } else if (module_section(root, module)) {
    load_section(&l, module_section(root, module));
  } else if (br && br->kind != YAML_NULL) {
    lfail(&l, br->line, "`breaking` must be a mapping");
  }
  if (l.err) {
    *err = l.err;
    return NULL;
  }
  return c;
}

// ---- applying -------------------------------------------------------------------

// `path` (absolute, or relative when dir is "") relative to the
// configuration's directory, or NULL when it is not below it.
static const char *below(const cpb_config *c, const char *path) {
  size_t dl = strlen(c->dir);
  if (dl == 0) return path;
  if (strncmp(path, c->dir, dl) == 0 && path[dl] == '/') return path + dl + 1;
  return NULL;
}

// buf's unstable packages: a last component like v1alpha1, v2beta, v1test,
// v1p1alpha.
static bool unstable_package(const char *pkg) {
  const char *last = strrchr(pkg, '.');
  last = last ? last + 1 : pkg;
  if (last[0] != 'v' || last[1] < '0' || last[1] > '9') return false;
  const char *p = last + 1;
  while (*p >= '0' && *p <= '9') p++;
  if (p[0] == 'p' && p[1] >= '0' && p[1] <= '9') {
    p++;
    while (*p >= '0' && *p <= '9') p++;
  }
  return strncmp(p, "alpha", 5) == 0 || strncmp(p, "beta", 4) == 0 || strncmp(p, "test", 4) == 0;
}

bool cpb_config_ignores(const cpb_config *c, const cpb_finding *f, const char *abs_file,
                        const char *package) {
  size_t r = (size_t)(f->rule - cpb_rules);
  if (!c->use[r]) return true;
  if (c->ignore_unstable && package && unstable_package(package)) return true;
  const char *rel = below(c, abs_file);
  if (!rel) return false;
  for (size_t i = 0; i < c->ignore_count; i++) {
    const struct ignore *ig = &c->ignores[i];
    size_t n = strlen(ig->path);
    bool match = strcmp(ig->path, ".") == 0 ||
                 (strncmp(rel, ig->path, n) == 0 && (rel[n] == '\0' || rel[n] == '/'));
    if (match && (!ig->rules || ig->rules[r])) return true;
  }
  return false;
}
