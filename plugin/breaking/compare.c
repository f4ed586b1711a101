// The comparison of two snapshots (see breaking.h). The old side is a schema
// (--against) or a lock (--lock); the new side is always a schema. Entries the
// old side marks deleted are history: a new entry that gives their number or
// name another meaning is a reuse.
#include "breaking/breaking.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
  const cpb_snap *old, *cur;
  cpb_category max;
  cpb_findings *out;
  // Package renames (FILE_PACKAGE_CHANGED): names on the old side are mapped
  // to the new package before they are compared.
  const char *pkg_from[32];
  const char *pkg_to[32];
  size_t npkg;
  cps_pool *mem;  // the findings'
  cps_pool *tmp;  // strings made along the way, freed at the end of cpb_compare
  // Findings about resolved features (presence, packing, UTF-8 checks,
  // message encoding, enum openness, JSON format), counted by the file of
  // the element: FILE_SYNTAX_CHANGED says how many a syntax change made.
  const char **feat_file;
  int *feat_count;
  size_t nfeat, feat_cap;
} ctx;

// How a type change reads: the same type, compatible on the wire (and in
// JSON), on the wire only, an enum swapped for an unrelated one (the bytes
// parse, the numbers mean other values), or incompatible.
typedef enum compat { SAME, COMPAT, COMPAT_JSON, UNRELATED_ENUM, INCOMPAT } compat;

static const cpb_rule *rule(const char *id) {
  for (size_t i = 0; i < cpb_rule_count; i++) {
    if (strcmp(cpb_rules[i].id, id) == 0) return &cpb_rules[i];
  }
  abort();  // a rule ID missing from the table is a programming error
}

// A printf'd string that lives until the end of cpb_compare.
static char *tmpf(const ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static char *tmpf(const ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *r = cps_pool_vprintf(c->tmp, fmt, ap);
  va_end(ap);
  return r;
}

typedef struct where {
  const char *prefix;
  const char *file;
  int line, col;
} where;

static where at_cur_item(const ctx *c, const cpb_item *it) {
  where w = {c->cur->prefix, it->file, it->line, it->col};
  return w;
}

static where at_cur_block(const ctx *c, const cpb_block *b) {
  where w = {c->cur->prefix, b->file, b->line, b->col};
  return w;
}

static const char *map_name(const ctx *c, const char *name);

// Where to report a deleted element: in the new schema, so that annotations
// land on the files being changed. That is its parent's new declaration
// (`cur_parent`, where a `reserved` line goes) or, for an element named
// `full_name`, the innermost enclosing message that still exists, or else
// its file when that still exists (no line). Only an element whose file is
// gone is reported in the old file, at its old position.
static where at_old(const ctx *c, const char *file, int line, int col, const cpb_block *cur_parent,
                    const char *full_name) {
  if (cur_parent) return at_cur_block(c, cur_parent);
  if (full_name) {
    char *scope = cps_pool_strdup(c->tmp, map_name(c, full_name));
    for (char *dot = strrchr(scope, '.'); dot; dot = strrchr(scope, '.')) {
      *dot = '\0';
      const cpb_block *m = cpb_snap_find(c->cur, CPB_MESSAGE, scope);
      if (m) return at_cur_block(c, m);
    }
  }
  if (file && cpb_snap_find(c->cur, CPB_FILE, file)) {
    where w = {c->cur->prefix, file, 0, 0};
    return w;
  }
  where w = {c->old->is_lock ? c->cur->prefix : c->old->prefix, file,
             c->old->is_lock ? 0 : line, c->old->is_lock ? 0 : col};
  return w;
}

static bool report(ctx *c, const char *id, where w, const char *subject, const char *fix,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

// Adds a finding (its strings copied to c->mem) unless the rule is off or
// the finding is there already; true when it was added.
static bool report(ctx *c, const char *id, where w, const char *subject, const char *fix,
                   const char *fmt, ...) {
  const cpb_rule *r = rule(id);
  if (r->category > c->max) return false;
  for (size_t i = 0; i < c->out->count; i++) {
    // One finding per (rule, subject); a break accepted in the lock does not
    // hide one the lock itself finds.
    const cpb_finding *e = &c->out->v[i];
    if (e->rule == r && !e->accepted && strcmp(e->subject, subject) == 0) return false;
  }
  c->out->v = cps_pool_grow(c->mem, c->out->v, c->out->count, &c->out->cap, sizeof *c->out->v);
  cpb_finding *f = &c->out->v[c->out->count++];
  f->rule = r;
  const char *file = w.file ? w.file : "<unknown>";
  f->file = w.prefix && *w.prefix ? cps_pool_printf(c->mem, "%s/%s", w.prefix, file)
                                  : cps_pool_strdup(c->mem, file);
  f->line = w.line;
  f->col = w.col;
  va_list ap;
  va_start(ap, fmt);
  f->message = cps_pool_vprintf(c->mem, fmt, ap);
  va_end(ap);
  f->fix = cps_pool_strdup(c->mem, fix);
  f->subject = cps_pool_strdup(c->mem, subject);
  f->accepted = NULL;
  return true;
}

// Counts a feature finding (see ctx) of an element declared in `file`.
static void count_feature(ctx *c, const char *file) {
  if (!file) return;
  for (size_t i = 0; i < c->nfeat; i++) {
    if (strcmp(c->feat_file[i], file) == 0) {
      c->feat_count[i]++;
      return;
    }
  }
  size_t cap = c->feat_cap;
  c->feat_file = cps_pool_grow(c->tmp, c->feat_file, c->nfeat, &c->feat_cap, sizeof *c->feat_file);
  c->feat_count = cps_pool_grow(c->tmp, c->feat_count, c->nfeat, &cap, sizeof *c->feat_count);
  c->feat_file[c->nfeat] = file;
  c->feat_count[c->nfeat++] = 1;
}

static int feature_count(const ctx *c, const char *file) {
  for (size_t i = 0; i < c->nfeat; i++) {
    if (strcmp(c->feat_file[i], file) == 0) return c->feat_count[i];
  }
  return 0;
}

// Whether a type string holds a string (a map's key or value too): where
// utf8_validation applies.
static bool has_string(const char *t) {
  if (strcmp(t, "string") == 0) return true;
  if (strncmp(t, "map<", 4) != 0) return false;
  return strncmp(t + 4, "string,", 7) == 0 || strstr(t, ",string>") != NULL;
}

// FIELD_UTF8_VALIDATION_CHANGED for a field or extension (`what`) whose
// resolved utf8_validation changed; both sides must know it.
static void utf8_change(ctx *c, where w, const char *subj, const char *what, const cpb_item *o,
                        const cpb_item *f) {
  if (!o->utf8 || !f->utf8 || o->utf8 == f->utf8 || !has_string(o->type) || !has_string(f->type)) {
    return;
  }
  bool now_verify = f->utf8 == CPS_UTF8_VERIFY;
  if (report(c, "FIELD_UTF8_VALIDATION_CHANGED", w, subj, NULL,
             "%s changed utf8_validation from %s to %s: %s", what,
             now_verify ? "NONE" : "VERIFY", now_verify ? "VERIFY" : "NONE",
             now_verify ? "new readers reject messages with invalid UTF-8 in it, which writers "
                          "built before could send"
                        : "new writers may send invalid UTF-8 in it, and readers built before "
                          "reject those messages")) {
    count_feature(c, f->file);
  }
}

// ---- names and types ----------------------------------------------------

// A type string as a reader of .proto files writes it: ".pkg.M" is
// "pkg.M", "enum:.pkg.E" is "pkg.E (enum)", "map<string,.pkg.V>" is
// "map<string, pkg.V>". Lives until the end of cpb_compare.
static const char *pt(const ctx *c, const char *t) {
  // At most "group " and a space after every comma more than `t`.
  char *r = cps_pool_alloc(c->tmp, 2 * strlen(t) + 7);
  char *w = r;
  const char *p = t;
  if (strncmp(p, "enum:", 5) == 0) p += 5;
  if (strncmp(p, "group:", 6) == 0) {
    memcpy(w, "group ", 6);
    w += 6;
    p += 6;
  }
  for (; *p; p++) {
    if (*p == '.' && (p == t || p[-1] == ':' || p[-1] == '<' || p[-1] == ',' || p[-1] == ' ')) {
      continue;
    }
    if (strncmp(p, "enum:", 5) == 0) {
      p += 4;
      continue;
    }
    *w++ = *p;
    if (*p == ',') *w++ = ' ';
  }
  *w = '\0';
  return r;
}

// `name` (a full name, with or without a leading dot, or a type string) with
// old packages replaced by new ones: `name` itself when no package was
// renamed, else a string that lives until the end of cpb_compare.
static const char *map_name(const ctx *c, const char *name) {
  if (name == NULL || c->npkg == 0) return name;
  const char *s = name;
  for (size_t i = 0; i < c->npkg; i++) {
    size_t fl = strlen(c->pkg_from[i]);
    cps_buf b = {0};
    const char *p = s;
    while (*p) {
      // A name starts the string or follows ':', '<' or ',', with or
      // without its leading dot.
      const char *q = (p > s && p[-1] == '.') ? p - 1 : p;
      bool boundary = q == s || q[-1] == ':' || q[-1] == '<' || q[-1] == ',';
      if (boundary && strncmp(p, c->pkg_from[i], fl) == 0 && p[fl] == '.') {
        cps_buf_puts(&b, c->pkg_to[i]);
        p += fl;
      } else {
        cps_buf_append(&b, p, 1);
        p++;
      }
    }
    s = b.data ? cps_pool_take(c->tmp, &b) : "";
  }
  return s;
}

static bool same(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

static bool live(const cpb_block *b, const cpb_item *it) { return !b->deleted && !it->deleted; }

static bool in_ranges(const cps_range *r, size_t n, int32_t num) {
  for (size_t i = 0; i < n; i++) {
    if (num >= r[i].start && num <= r[i].end) return true;
  }
  return false;
}

static bool covered(const cps_range *r, size_t n, cps_range want) {
  int64_t pos = want.start;
  bool progress = true;
  while (progress && pos <= want.end) {
    progress = false;
    for (size_t i = 0; i < n; i++) {
      if (r[i].start <= pos && r[i].end >= pos) {
        pos = (int64_t)r[i].end + 1;
        progress = true;
      }
    }
  }
  return pos > want.end;
}

static bool has_name(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(names[i], name) == 0) return true;
  }
  return false;
}

static const char *range_text(const ctx *c, cps_range r) {
  if (r.start == r.end) return tmpf(c, "%d", (int)r.start);
  if (r.end == 536870911) return tmpf(c, "%d to max", (int)r.start);
  return tmpf(c, "%d to %d", (int)r.start, (int)r.end);
}

static bool is_msg_type(const char *t) { return t[0] == '.'; }
static bool is_enum_type(const char *t) { return strncmp(t, "enum:", 5) == 0; }
static bool is_map_type(const char *t) { return strncmp(t, "map<", 4) == 0; }
static bool is_group_type(const char *t) { return strncmp(t, "group:", 6) == 0; }

// Wire-compatible groups (protobuf's "Updating A Message Type").
static int wire_group(const char *t) {
  static const struct {
    const char *name;
    int group;
  } groups[] = {
      {"int32", 1}, {"int64", 1}, {"uint32", 1}, {"uint64", 1}, {"bool", 1},
      {"sint32", 2}, {"sint64", 2}, {"fixed32", 3}, {"sfixed32", 3},
      {"fixed64", 4}, {"sfixed64", 4}, {"string", 5}, {"bytes", 5},
  };
  if (is_enum_type(t)) return 1;
  if (is_msg_type(t)) return 5;
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
    if (strcmp(groups[i].name, t) == 0) return groups[i].group;
  }
  return 0;
}

static bool eq_message(const ctx *c, const char *old_t, const char *new_t, int depth);

// Whether two enum types ("enum:.pkg.E") have the same values: the same
// numbers, and with `names` the same names too.
static bool eq_enum(const ctx *c, const char *old_t, const char *new_t, bool names) {
  const cpb_block *a = cpb_snap_find(c->old, CPB_ENUM, old_t + 6);  // "enum:."
  const cpb_block *b = cpb_snap_find(c->cur, CPB_ENUM, new_t + 6);
  if (!a || !b) return false;
  size_t na = 0;
  for (size_t i = 0; i < a->item_count; i++) {
    if (!live(a, &a->items[i])) continue;
    na++;
    bool found = false;
    for (size_t k = 0; k < b->item_count; k++) {
      found |= b->items[k].number == a->items[i].number &&
               (!names || same(b->items[k].name, a->items[i].name));
    }
    if (!found) return false;
  }
  return na == b->item_count;
}

// Whether `new_name` can be `old_name` renamed: the old name is gone from
// the new schema and the new one was not in the old (history aside).
static bool renamed_pair(const ctx *c, cpb_kind kind, const char *old_name, const char *new_name) {
  const char *m = map_name(c, old_name);
  const cpb_block *still = cpb_snap_find(c->cur, kind, m);
  const cpb_block *before = cpb_snap_find(c->old, kind, new_name);
  return still == NULL && (before == NULL || before->deleted);
}

// Compares a field type before (old, not yet mapped) and after.
static compat classify(const ctx *c, const char *old_t, const char *new_t) {
  const char *m = map_name(c, old_t);
  compat r;
  if (strcmp(m, new_t) == 0) {
    r = SAME;
  } else if (is_msg_type(old_t) && is_msg_type(new_t)) {
    r = eq_message(c, old_t, new_t, 0) ? COMPAT : INCOMPAT;
  } else if (is_group_type(old_t) || is_group_type(new_t) || is_map_type(old_t) ||
             is_map_type(new_t)) {
    r = INCOMPAT;
  } else if (is_enum_type(old_t) && is_enum_type(new_t)) {
    // Another enum is the same one only when it is the old one renamed, with
    // the same numbers (and names, or JSON differs).
    if (!renamed_pair(c, CPB_ENUM, old_t + 6, new_t + 6) || !eq_enum(c, old_t, new_t, false)) {
      r = UNRELATED_ENUM;
    } else {
      r = eq_enum(c, old_t, new_t, true) ? COMPAT : COMPAT_JSON;
    }
  } else {
    int ga = wire_group(old_t), gb = wire_group(new_t);
    if (ga == 0 || ga != gb || (is_msg_type(old_t) && strcmp(new_t, "bytes") != 0) ||
        (is_msg_type(new_t) && strcmp(old_t, "bytes") != 0)) {
      r = INCOMPAT;
    } else if (ga == 5 || is_enum_type(old_t) || is_enum_type(new_t) ||
               strcmp(old_t, "bool") == 0 || strcmp(new_t, "bool") == 0) {
      // base64 vs text, names vs numbers, true vs 1: the JSON form differs.
      r = COMPAT_JSON;
    } else {
      r = COMPAT;
    }
  }
  return r;
}

// Two message types are equivalent when their fields have the same numbers,
// labels and (equivalent) types: a renamed message.
static bool eq_message(const ctx *c, const char *old_t, const char *new_t, int depth) {
  const cpb_block *a = cpb_snap_find(c->old, CPB_MESSAGE, old_t + 1);
  const cpb_block *b = cpb_snap_find(c->cur, CPB_MESSAGE, new_t + 1);
  if (!a || !b || depth > 8) return false;
  size_t k = 0;
  for (size_t i = 0; i < a->item_count; i++) {
    const cpb_item *x = &a->items[i];
    if (!live(a, x)) continue;
    if (k >= b->item_count) return false;
    const cpb_item *y = &b->items[k++];
    if (x->number != y->number || !same(x->label, y->label)) return false;
    const char *m = map_name(c, x->type);
    bool ok = strcmp(m, y->type) == 0 ||
              (is_msg_type(x->type) && is_msg_type(y->type) && eq_message(c, x->type, y->type, depth + 1));
    if (!ok) return false;
  }
  return k == b->item_count;
}

// "map<K,V>" into K and V.
static void split_map(const ctx *c, const char *t, const char **k, const char **v) {
  const char *comma = strchr(t, ',');
  *k = cps_pool_strndup(c->tmp, t + 4, (size_t)(comma - (t + 4)));
  *v = cps_pool_strndup(c->tmp, comma + 1, strlen(comma + 1) - 1);
}

static bool is_length_delimited(const char *t) {
  return is_msg_type(t) || strcmp(t, "string") == 0 || strcmp(t, "bytes") == 0;
}

// The next number no field, reserved range or extension range has ever used.
static int32_t next_free(const cpb_block *ob, const cpb_block *nb) {
  int32_t n = 0;
  const cpb_block *bs[2] = {ob, nb};
  for (int s = 0; s < 2; s++) {
    const cpb_block *b = bs[s];
    if (!b) continue;
    for (size_t i = 0; i < b->item_count; i++) n = b->items[i].number > n ? b->items[i].number : n;
    for (size_t i = 0; i < b->reserved_count; i++) {
      if (b->reserved[i].end < 536870911 && b->reserved[i].end > n) n = b->reserved[i].end;
    }
  }
  n++;
  if (n >= 19000 && n <= 19999) n = 20000;
  while (nb && in_ranges(nb->ext_ranges, nb->ext_range_count, n)) n++;
  return n;
}

static char *describe(ctx *c, const cpb_item *it) {
  return tmpf(c, "%s %s %s", it->label, pt(c, it->type), it->name);
}

// ---- messages and fields ------------------------------------------------

static void type_change(ctx *c, const char *rule_id, const char *what, where w, const char *subj,
                        const char *old_t, const char *new_t) {
  compat k = classify(c, old_t, new_t);
  if (k == SAME) return;
  if (k == INCOMPAT) {
    report(c, rule_id, w, subj, NULL, "%s changed type from %s to %s, which is not wire-compatible",
           what, pt(c, old_t), pt(c, new_t));
    return;
  }
  if (k == UNRELATED_ENUM) {
    report(c, rule_id, w, subj, NULL,
           "%s changed type from enum %s to enum %s, which is not the old one renamed with the "
           "same numbers: the numbers on the wire parse, but now name other values",
           what, pt(c, old_t), pt(c, new_t));
    return;
  }
  char *nsubj = tmpf(c, "%s:%s", subj, rule_id);
  const char *detail;
  bool o64 = strstr(old_t, "64") != NULL, n64 = strstr(new_t, "64") != NULL;
  if (is_msg_type(old_t) && is_msg_type(new_t)) {
    detail = "the message was renamed, its fields are the same";
  } else if (is_enum_type(old_t) && is_enum_type(new_t)) {
    detail = k == COMPAT ? "the enum was renamed, its values are the same"
                         : "the enum was renamed, its values have the same numbers";
  } else if (is_enum_type(old_t) || is_enum_type(new_t)) {
    detail = "enum values travel as their numbers";
  } else if (wire_group(new_t) == 5) {
    detail = "string readers need valid UTF-8, message readers a valid encoding";
  } else if (strcmp(old_t, "bool") == 0 || strcmp(new_t, "bool") == 0) {
    detail = "bool readers see every non-zero value as true";
  } else if (o64 != n64) {
    detail = "readers of the narrower type truncate larger values";
  } else {
    detail = "values are reinterpreted with the other signedness";
  }
  report(c, "FIELD_TYPE_WIRE_COMPATIBLE", w, nsubj, NULL,
         "%s changed type from %s to %s: wire-compatible (%s)", what, pt(c, old_t), pt(c, new_t),
         detail);
  if (k == COMPAT_JSON) {
    report(c, "FIELD_JSON_TYPE_CHANGED", w, subj, NULL,
           "%s changed type from %s to %s: wire-compatible, but its JSON encoding differs", what,
           pt(c, old_t), pt(c, new_t));
  }
}

static bool entry_matches(const ctx *c, const char *map_t, const char *msg_t, bool map_is_old) {
  const cpb_snap *ms = map_is_old ? c->cur : c->old;
  const cpb_block *e = cpb_snap_find(ms, CPB_MESSAGE, msg_t + 1);
  if (!e || e->item_count != 2) return false;
  const char *k, *v;
  split_map(c, map_t, &k, &v);
  const char *mk = map_is_old ? map_name(c, k) : k;
  const char *mv = map_is_old ? map_name(c, v) : v;
  return e->items[0].number == 1 && e->items[1].number == 2 && strcmp(e->items[0].type, mk) == 0 &&
         strcmp(e->items[1].type, mv) == 0;
}

// The live members of oneof `name` in b.
static size_t oneof_members(const cpb_block *b, const char *name) {
  size_t n = 0;
  for (size_t i = 0; name && i < b->item_count; i++) n += live(b, &b->items[i]) && same(b->items[i].oneof, name);
  return n;
}

// Whether oneof `nname` of the new message is oneof `oname` renamed: the old
// name is gone, the new one is new, and the members are the same numbers.
static bool oneof_renamed(const cpb_block *ob, const char *oname, const cpb_block *nb,
                          const char *nname) {
  if (!oname || !nname || same(oname, nname) || oneof_members(nb, oname) ||
      oneof_members(ob, nname)) {
    return false;
  }
  size_t n = 0;
  for (size_t i = 0; i < ob->item_count; i++) {
    const cpb_item *o = &ob->items[i];
    if (!live(ob, o) || !same(o->oneof, oname)) continue;
    const cpb_item *f = NULL;
    for (size_t k = 0; k < nb->item_count && !f; k++) {
      if (nb->items[k].number == o->number) f = &nb->items[k];
    }
    if (!f || !same(f->oneof, nname)) return false;
    n++;
  }
  return n == oneof_members(nb, nname);
}

// How a field's oneof changed, when it did.
typedef enum oneof_move {
  ONEOF_SAME,
  ONEOF_RENAME,    // its oneof was renamed (reported once, per oneof)
  ONEOF_INTO_NEW,  // alone into a new oneof: safe
  ONEOF_OUT_SOLE,  // out of a oneof it was alone in: safe
  ONEOF_UNSAFE,
} oneof_move;

static oneof_move classify_oneof(const cpb_block *ob, const cpb_block *nb, const cpb_item *o,
                                 const cpb_item *f) {
  if (same(o->oneof, f->oneof)) return ONEOF_SAME;
  if (oneof_renamed(ob, o->oneof, nb, f->oneof)) return ONEOF_RENAME;
  if (!o->oneof && oneof_members(ob, f->oneof) == 0 && oneof_members(nb, f->oneof) == 1) {
    return ONEOF_INTO_NEW;
  }
  if (!f->oneof && oneof_members(ob, o->oneof) == 1) return ONEOF_OUT_SOLE;
  return ONEOF_UNSAFE;
}

// A message-typed field or extension whose message_encoding changed
// (LENGTH_PREFIXED, or DELIMITED: a proto2 group): reported, and *ot and *nt
// stripped of "group:" so that the types are compared on their own.
static void encoding_change(ctx *c, where w, const char *subj, const char *what, const char **ot,
                            const char **nt, const char *file) {
  if (is_group_type(*ot) == is_group_type(*nt)) return;
  const char *os = is_group_type(*ot) ? *ot + 6 : *ot, *ns = is_group_type(*nt) ? *nt + 6 : *nt;
  if (!is_msg_type(os) || !is_msg_type(ns)) return;
  bool delimited = is_group_type(*nt);
  if (report(c, "FIELD_MESSAGE_ENCODING_CHANGED", w, tmpf(c, "%s:encoding", subj), NULL,
             "%s changed from %s to %s encoding (message_encoding %s to %s): the message is "
             "now written %s, which readers built before do not read as this field",
             what, delimited ? "length-prefixed" : "delimited (group)",
             delimited ? "delimited (group)" : "length-prefixed",
             delimited ? "LENGTH_PREFIXED" : "DELIMITED", delimited ? "DELIMITED" : "LENGTH_PREFIXED",
             delimited ? "between start- and end-group tags instead of with its length"
                       : "with its length instead of between start- and end-group tags")) {
    count_feature(c, file);
  }
  *ot = os;
  *nt = ns;
}

static void compare_field(ctx *c, const cpb_block *ob, const cpb_block *nb, const cpb_item *o,
                          const cpb_item *f) {
  oneof_move move = classify_oneof(ob, nb, o, f);
  char *subj = tmpf(c, "%s#%d", nb->name, (int)f->number);
  char *what = tmpf(c, "field %d \"%s\" of message %s", (int)f->number, f->name, nb->name);
  where w = at_cur_item(c, f);
  if (!same(o->name, f->name)) {
    report(c, "FIELD_RENAMED", w, subj, tmpf(c, "keep the name \"%s\" (JSON and text format use it)", o->name),
           "field %d of message %s was renamed from \"%s\" to \"%s\"", (int)f->number, nb->name,
           o->name, f->name);
  } else if (o->json && f->json && !same(o->json, f->json)) {
    report(c, "FIELD_JSON_NAME_CHANGED", w, subj, NULL, "%s changed its JSON name from \"%s\" to \"%s\"",
           what, o->json, f->json);
  }
  if (is_map_type(o->type) && is_map_type(f->type)) {
    const char *ok_, *ov, *nk, *nv;
    split_map(c, o->type, &ok_, &ov);
    split_map(c, f->type, &nk, &nv);
    char *kw = tmpf(c, "the key of map %s", what), *vw = tmpf(c, "the value of map %s", what);
    char *ks = tmpf(c, "%s/key", subj), *vs = tmpf(c, "%s/value", subj);
    type_change(c, "MAP_KEY_TYPE_CHANGED", kw, w, ks, ok_, nk);
    type_change(c, "MAP_VALUE_TYPE_CHANGED", vw, w, vs, ov, nv);
  } else if (is_map_type(o->type) != is_map_type(f->type)) {
    bool map_old = is_map_type(o->type);
    const char *map_t = map_old ? o->type : f->type, *other = map_old ? f->type : o->type;
    if (is_msg_type(other) && same(o->label, f->label) && entry_matches(c, map_t, other, map_old)) {
      report(c, "MAP_REPEATED_CHANGED", w, subj, NULL,
             "%s changed from %s%s to %s%s: wire-compatible, but JSON writes a map as an "
             "object and a repeated field as an array",
             what, map_old ? "" : "repeated ", pt(c, o->type), map_old ? "repeated " : "",
             pt(c, f->type));
    } else {
      report(c, "FIELD_TYPE_CHANGED", w, subj, NULL,
             "%s changed type from %s to %s, which is not wire-compatible", what, pt(c, o->type),
             pt(c, f->type));
    }
  } else {
    const char *ot = o->type, *nt = f->type;
    encoding_change(c, w, subj, what, &ot, &nt, f->file);
    type_change(c, "FIELD_TYPE_CHANGED", what, w, subj, ot, nt);
  }
  utf8_change(c, w, subj, what, o, f);
  if (!same(o->label, f->label)) {
    bool orep = strcmp(o->label, "repeated") == 0, nrep = strcmp(f->label, "repeated") == 0;
    if (strcmp(o->label, "required") == 0 || strcmp(f->label, "required") == 0) {
      if (report(c, "FIELD_REQUIRED_CHANGED", w, subj, NULL,
                 "%s changed from %s to %s: readers reject messages without a required field",
                 what, o->label, f->label)) {
        count_feature(c, f->file);
      }
    } else if (orep != nrep) {
      if (is_length_delimited(f->type) && is_length_delimited(o->type)) {
        report(c, "FIELD_LABEL_JSON_CHANGED", w, subj, NULL,
               "%s changed from %s to %s: wire-compatible (a singular reader keeps the last "
               "element), but JSON writes one value as a scalar and the other as an array",
               what, o->label, f->label);
      } else {
        report(c, "FIELD_LABEL_CHANGED", w, subj, NULL,
               "%s changed from %s to %s: repeated scalars are packed, which singular readers "
               "cannot parse",
               what, o->label, f->label);
      }
    } else if (move != ONEOF_UNSAFE) {  // unsafe oneof moves are reported below
      // The presence a field has (its label), whether from proto3 `optional`
      // or field_presence: message fields and oneof members keep explicit
      // presence whatever field_presence says.
      bool lost = strcmp(f->label, "implicit") == 0;
      bool added =
          lost ? report(c, "FIELD_PRESENCE_LOST", w, subj, NULL,
                        "%s changed from explicit to implicit presence (field_presence EXPLICIT "
                        "to IMPLICIT): has_ accessors go away, and a value set to zero is no "
                        "longer written, so readers built before see it unset (and read its "
                        "default) and JSON omits it",
                        what)
               : report(c, "FIELD_PRESENCE_CHANGED", w, subj, NULL,
                        "%s changed from implicit to explicit presence (field_presence IMPLICIT "
                        "to EXPLICIT): has_ accessors appear and a zero value that is set is now "
                        "written (wire-compatible; JSON now writes it)",
                        what);
      if (added) count_feature(c, f->file);
    }
  }
  switch (move) {
    case ONEOF_SAME:
    case ONEOF_RENAME:
      break;
    case ONEOF_INTO_NEW:
      report(c, "FIELD_MOVED_INTO_NEW_ONEOF", w, subj, NULL,
             "%s moved into the new oneof %s: safe, as it is its only member", what, f->oneof);
      break;
    case ONEOF_OUT_SOLE:
      report(c, "FIELD_MOVED_OUT_OF_SOLE_ONEOF", w, subj, NULL,
             "%s moved out of oneof %s: safe, as it was its only member", what, o->oneof);
      break;
    case ONEOF_UNSAFE:
      if (o->oneof == NULL) {
        report(c, "FIELD_ONEOF_CHANGED", w, subj, NULL,
               "%s moved into oneof %s: setting another member now clears it", what, f->oneof);
      } else if (f->oneof == NULL) {
        report(c, "FIELD_ONEOF_CHANGED", w, subj, NULL,
               "%s moved out of oneof %s: readers may see several members set", what, o->oneof);
      } else {
        report(c, "FIELD_ONEOF_CHANGED", w, subj, NULL, "%s moved from oneof %s to oneof %s", what,
               o->oneof, f->oneof);
      }
      break;
  }
  if (o->packed != f->packed && strcmp(o->label, "repeated") == 0 && strcmp(f->label, "repeated") == 0) {
    if (report(c, "FIELD_PACKED_CHANGED", w, subj, NULL,
               "%s is now written %s: parsers accept both encodings", what,
               f->packed ? "packed" : "unpacked")) {
      count_feature(c, f->file);
    }
  }
  if (!same(o->def, f->def)) {
    bool quote = strcmp(f->type, "string") == 0 || strcmp(f->type, "bytes") == 0;
    const char *od = o->def ? tmpf(c, quote ? "\"%s\"" : "%s", o->def) : "none";
    const char *nd = f->def ? tmpf(c, quote ? "\"%s\"" : "%s", f->def) : "none";
    report(c, "FIELD_DEFAULT_CHANGED", w, subj, NULL,
           "%s changed its default from %s to %s: a message without the field reads as %s to "
           "old readers and %s to new ones (defaults are never sent)",
           what, od, nd, o->def ? od : "the type's default", f->def ? nd : "the type's default");
  }
}

static const cpb_item *find_number(const cpb_block *b, int32_t n) {
  for (size_t i = 0; b && i < b->item_count; i++) {
    if (b->items[i].number == n && live(b, &b->items[i])) return &b->items[i];
  }
  return NULL;
}

static const cpb_item *find_name(const cpb_block *b, const char *name) {
  for (size_t i = 0; b && i < b->item_count; i++) {
    if (strcmp(b->items[i].name, name) == 0 && live(b, &b->items[i])) return &b->items[i];
  }
  return NULL;
}

static void compare_fields(ctx *c, const cpb_block *ob, const cpb_block *nb) {
  // Old fields: changed or deleted.
  for (size_t i = 0; i < ob->item_count; i++) {
    const cpb_item *o = &ob->items[i];
    if (!live(ob, o)) continue;
    const cpb_item *f = find_number(nb, o->number);
    if (f) {
      compare_field(c, ob, nb, o, f);
      continue;
    }
    if (find_name(nb, o->name)) continue;  // renumbered: reported below
    if (strcmp(o->label, "required") == 0) {
      char *rsubj = tmpf(c, "%s#%d", nb->name, (int)o->number);
      report(c, "FIELD_REQUIRED_DELETED", at_old(c, o->file, o->line, o->col, nb, NULL), rsubj,
             tmpf(c, "keep field %d \"%s\" (as optional, once every reader is built with "
                     "it optional)", (int)o->number, o->name),
             "required field %d \"%s\" of message %s was deleted: readers built before reject "
             "every message written without it",
             (int)o->number, o->name, nb->name);
    }
    bool num_res = in_ranges(nb->reserved, nb->reserved_count, o->number);
    bool name_res = has_name(nb->reserved_names, nb->reserved_name_count, o->name);
    char *subj = tmpf(c, "%s#%d", nb->name, (int)o->number);
    where w = at_old(c, o->file, o->line, o->col, nb, NULL);
    if (!num_res) {
      char *fix = name_res ? tmpf(c, "add `reserved %d;` to message %s", (int)o->number, nb->name)
                           : tmpf(c, "add `reserved %d;` and `reserved \"%s\";` to message %s",
                                  (int)o->number, o->name, nb->name);
      report(c, "FIELD_DELETED", w, subj, fix,
             "field %d \"%s\" of message %s was deleted without reserving its number", (int)o->number,
             o->name, nb->name);
    } else if (!name_res) {
      report(c, "FIELD_DELETED_NAME_NOT_RESERVED", w, subj,
             tmpf(c, "add `reserved \"%s\";` to message %s", o->name, nb->name),
             "field %d \"%s\" of message %s was deleted; its number is reserved but not its name",
             (int)o->number, o->name, nb->name);
    }
  }
  // Old oneofs that are gone.
  for (size_t i = 0; i < ob->item_count; i++) {
    const cpb_item *o = &ob->items[i];
    if (!live(ob, o) || !o->oneof) continue;
    bool seen_before = false, still = false;
    for (size_t k = 0; k < i; k++) seen_before |= live(ob, &ob->items[k]) && same(ob->items[k].oneof, o->oneof);
    for (size_t k = 0; k < nb->item_count; k++) still |= same(nb->items[k].oneof, o->oneof);
    if (seen_before || still) continue;
    char *subj = tmpf(c, "%s/%s", nb->name, o->oneof);
    const cpb_item *now = find_number(nb, o->number);
    if (now && oneof_renamed(ob, o->oneof, nb, now->oneof)) {
      report(c, "ONEOF_RENAMED", at_cur_item(c, now), subj, NULL,
             "oneof %s of message %s was renamed to %s: neither the binary nor the JSON encoding "
             "has oneof names, but generated code uses them",
             o->oneof, nb->name, now->oneof);
    } else {
      report(c, "ONEOF_DELETED", at_cur_block(c, nb), subj, NULL,
             "oneof %s of message %s was deleted: generated code for it (its case, its "
             "accessors) goes away",
             o->oneof, nb->name);
    }
  }
  // New fields: renumbered, or reusing a number or name.
  for (size_t i = 0; i < nb->item_count; i++) {
    const cpb_item *f = &nb->items[i];
    if (find_number(ob, f->number)) continue;
    char *subj = tmpf(c, "%s#%d", nb->name, (int)f->number);
    where w = at_cur_item(c, f);
    const cpb_item *renum = find_name(ob, f->name);
    if (strcmp(f->label, "required") == 0 && !renum && !ob->deleted) {
      report(c, "FIELD_REQUIRED_ADDED", w, subj,
             "make it optional (required fields can never be added safely)",
             "required field %d \"%s\" was added to message %s: new readers reject every "
             "message from writers built before, which never set it",
             (int)f->number, f->name, nb->name);
    }
    if (renum) {
      bool res = in_ranges(nb->reserved, nb->reserved_count, renum->number);
      report(c, "FIELD_RENUMBERED", w, subj,
             res ? NULL : tmpf(c, "keep number %d; to replace the field, add `reserved %d;` and use a new name", (int)renum->number, (int)renum->number),
             "field \"%s\" of message %s changed number from %d to %d", f->name, nb->name,
             (int)renum->number, (int)f->number);
    }
    const cpb_item *was = NULL;
    bool restored = false, name_hist = false;
    int32_t name_num = 0;
    for (size_t k = 0; k < ob->item_count; k++) {
      const cpb_item *h = &ob->items[k];
      if (h->number == f->number) {
        const char *m = map_name(c, h->type);
        if (same(h->name, f->name) && strcmp(m, f->type) == 0 && same(h->label, f->label)) {
          restored = true;
        } else if (!was) {
          was = h;
        }
      } else if (same(h->name, f->name) && !live(ob, h)) {
        name_hist = true;
        name_num = h->number;
      }
    }
    if (was && !restored) {
      char *a = describe(c, was), *b = describe(c, f);
      report(c, "FIELD_NUMBER_REUSED", w, subj,
             tmpf(c, "use a number never used before, e.g. %d, and add `reserved %d;`",
                  (int)next_free(ob, nb), (int)f->number),
             "field number %d of message %s was `%s` (deleted), now reused for `%s`", (int)f->number,
             nb->name, a, b);
    } else if (!was && !ob->deleted && in_ranges(ob->reserved, ob->reserved_count, f->number)) {
      report(c, "FIELD_NUMBER_REUSED", w, subj,
             tmpf(c, "use a number never used before, e.g. %d", (int)next_free(ob, nb)),
             "field %d \"%s\" of message %s uses a number that was reserved", (int)f->number, f->name,
             nb->name);
    }
    char *nsubj = tmpf(c, "%s/%s", nb->name, f->name);
    if (!renum && name_hist && !restored) {
      report(c, "FIELD_NAME_REUSED", w, nsubj, NULL,
             "field name \"%s\" of message %s was field %d (deleted), now field %d: JSON and text "
             "format readers will confuse them",
             f->name, nb->name, (int)name_num, (int)f->number);
    } else if (!renum && !ob->deleted && has_name(ob->reserved_names, ob->reserved_name_count, f->name)) {
      report(c, "FIELD_NAME_REUSED", w, nsubj, NULL,
             "field \"%s\" of message %s uses a name that was reserved", f->name, nb->name);
    }
  }
}

static void compare_reserved(ctx *c, const cpb_block *ob, const cpb_block *nb, const char *what,
                             const char *range_rule, const char *name_rule) {
  for (size_t i = 0; i < ob->reserved_count; i++) {
    if (covered(nb->reserved, nb->reserved_count, ob->reserved[i])) continue;
    const char *r = range_text(c, ob->reserved[i]);
    char *subj = tmpf(c, "%s/reserved/%s", nb->name, r);
    report(c, range_rule, at_cur_block(c, nb), subj, tmpf(c, "restore `reserved %s;`", r),
           "reserved range %s of %s %s was removed or shrunk", r, what, nb->name);
  }
  for (size_t i = 0; i < ob->reserved_name_count; i++) {
    if (has_name(nb->reserved_names, nb->reserved_name_count, ob->reserved_names[i])) continue;
    char *subj = tmpf(c, "%s/reserved/%s", nb->name, ob->reserved_names[i]);
    report(c, name_rule, at_cur_block(c, nb), subj,
           tmpf(c, "restore `reserved \"%s\";`", ob->reserved_names[i]),
           "reserved name \"%s\" of %s %s was removed", ob->reserved_names[i], what, nb->name);
  }
}


static const cpb_block *counterpart(const ctx *c, const cpb_block *ob) {
  const char *m = map_name(c, ob->name);
  const cpb_block *nb = cpb_snap_find(c->cur, ob->kind, m);
  return nb;
}

// Whether the live items of two blocks have the same names, in number order.
static bool same_item_names(const cpb_block *a, const cpb_block *b) {
  size_t k = 0;
  for (size_t i = 0; i < a->item_count; i++) {
    if (!live(a, &a->items[i])) continue;
    if (k >= b->item_count || !same(a->items[i].name, b->items[k].name)) return false;
    k++;
  }
  return k == b->item_count;
}

// How well `cb` (new) matches `ob` (old) as its rename: 0 not at all; 1 the
// same fields (numbers, labels, types) or enum numbers; 2 with the same
// names too.
static int rename_match(const ctx *c, const cpb_block *ob, const cpb_block *cb) {
  const char *prefix = ob->kind == CPB_ENUM ? "enum:." : ".";
  char *ot = tmpf(c, "%s%s", prefix, ob->name), *nt = tmpf(c, "%s%s", prefix, cb->name);
  bool eq = ob->kind == CPB_ENUM ? eq_enum(c, ot, nt, false) : eq_message(c, ot, nt, 0);
  return eq ? 1 + same_item_names(ob, cb) : 0;
}

// The scope of a full name: its length up to the last dot.
static size_t scope_len(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot ? (size_t)(dot - name) : 0;
}

// Whether `cb` is new in the schema and in the scope `ob` had (`mo`: ob's
// name with packages mapped).
static bool rename_candidate(const ctx *c, const cpb_block *cb, cpb_kind kind, const char *mo) {
  size_t scope = scope_len(mo);
  return cb->kind == kind && !cpb_snap_find(c->old, kind, cb->name) && scope_len(cb->name) == scope &&
         strncmp(cb->name, mo, scope) == 0;
}

// The block of the new schema that is `ob` (a message or an enum) renamed:
// new, in the same scope, the best match by rename_match. A block that some
// other old one matches with names and all is that one's, not this one's.
// NULL when there is none.
static const cpb_block *find_renamed(const ctx *c, const cpb_block *ob) {
  const char *mo = map_name(c, ob->name);
  const cpb_block *best = NULL;
  int best_score = 0;
  for (size_t k = 0; k < c->cur->block_count; k++) {
    const cpb_block *cb = &c->cur->blocks[k];
    if (!rename_candidate(c, cb, ob->kind, mo)) continue;
    int score = rename_match(c, ob, cb);
    if (score <= best_score) continue;
    bool claimed = false;
    for (size_t j = 0; j < c->old->block_count && score < 2 && !claimed; j++) {
      const cpb_block *other = &c->old->blocks[j];
      claimed = other != ob && other->kind == ob->kind && !other->deleted &&
                !counterpart(c, other) && rename_match(c, other, cb) == 2;
    }
    if (claimed) continue;
    best = cb;
    best_score = score;
  }
  return best;
}

// json_format of a message or an enum (`what`): ALLOW makes the compiler
// reject JSON name conflicts, LEGACY_BEST_EFFORT lets them in.
static void json_format_change(ctx *c, const cpb_block *ob, const cpb_block *nb, const char *what) {
  if (!ob->json_format || !nb->json_format || ob->json_format == nb->json_format) return;
  bool weakened = nb->json_format == CPS_JSON_LEGACY_BEST_EFFORT;
  bool added =
      weakened ? report(c, "JSON_FORMAT_WEAKENED", at_cur_block(c, nb), nb->name, NULL,
                        "%s %s changed json_format from ALLOW to LEGACY_BEST_EFFORT: compilers no "
                        "longer reject %s whose JSON names conflict, so later versions can "
                        "make its JSON ambiguous",
                        what, nb->name, strcmp(what, "enum") == 0 ? "values" : "fields")
               : report(c, "JSON_FORMAT_STRENGTHENED", at_cur_block(c, nb), nb->name, NULL,
                        "%s %s changed json_format from LEGACY_BEST_EFFORT to ALLOW: compilers "
                        "now reject JSON name conflicts in it; its encodings are unchanged",
                        what, nb->name);
  if (added) count_feature(c, nb->file);
}

static void compare_messages(ctx *c) {
  for (size_t i = 0; i < c->old->block_count; i++) {
    const cpb_block *ob = &c->old->blocks[i];
    if (ob->kind != CPB_MESSAGE) continue;
    const cpb_block *nb = counterpart(c, ob);
    if (nb == NULL) {
      if (ob->deleted) continue;
      const cpb_block *renamed = find_renamed(c, ob);
      if (renamed) {
        report(c, "MESSAGE_RENAMED", at_cur_block(c, renamed), ob->name, NULL,
               "message %s was renamed to %s: wire-compatible where it is a field type, but "
               "google.protobuf.Any type URLs, reflection and generated code use the full name",
               ob->name, renamed->name);
      } else {
        report(c, "MESSAGE_DELETED", at_old(c, ob->file, ob->line, ob->col, NULL, ob->name), ob->name,
               "keep the message and mark it `option deprecated = true;`",
               "message %s was deleted", ob->name);
      }
      continue;
    }
    if (!ob->deleted) {
      if (!same(ob->file, nb->file)) {
        report(c, "MESSAGE_MOVED", at_cur_block(c, nb), nb->name, NULL,
               "message %s moved from %s to %s: code that includes the old file's header breaks",
               nb->name, ob->file, nb->file);
      }
      if (ob->message_set != nb->message_set) {
        report(c, "MESSAGE_SET_CHANGED", at_cur_block(c, nb), nb->name, NULL,
               "message %s %s message_set_wire_format", nb->name,
               nb->message_set ? "turned on" : "turned off");
      }
      for (size_t k = 0; k < ob->ext_range_count; k++) {
        if (covered(nb->ext_ranges, nb->ext_range_count, ob->ext_ranges[k])) continue;
        const char *r = range_text(c, ob->ext_ranges[k]);
        char *subj = tmpf(c, "%s/extensions/%s", nb->name, r);
        report(c, "EXTENSION_RANGE_REMOVED", at_cur_block(c, nb), subj,
               tmpf(c, "restore `extensions %s;`", r),
               "extension range %s of message %s was removed or shrunk", r, nb->name);
      }
      compare_reserved(c, ob, nb, "message", "RESERVED_RANGE_REMOVED", "RESERVED_NAME_REMOVED");
      json_format_change(c, ob, nb, "message");
    }
    compare_fields(c, ob, nb);
  }
}

// ---- enums --------------------------------------------------------------

static const cpb_item *find_pair(const cpb_block *b, int32_t n, const char *name) {
  for (size_t i = 0; b && i < b->item_count; i++) {
    if (b->items[i].number == n && strcmp(b->items[i].name, name) == 0 && live(b, &b->items[i])) {
      return &b->items[i];
    }
  }
  return NULL;
}

static void compare_values(ctx *c, const cpb_block *ob, const cpb_block *nb) {
  for (size_t i = 0; i < ob->item_count; i++) {
    const cpb_item *o = &ob->items[i];
    if (!live(ob, o) || find_pair(nb, o->number, o->name)) continue;
    char *subj = tmpf(c, "%s#%s", nb->name, o->name);
    const cpb_item *byname = find_name(nb, o->name), *bynum = find_number(nb, o->number);
    if (byname) {
      report(c, "ENUM_VALUE_RENUMBERED", at_cur_item(c, byname), subj, NULL,
             "enum value %s of %s changed number from %d to %d", o->name, nb->name, (int)o->number,
             (int)byname->number);
    } else if (bynum && !find_pair(ob, bynum->number, bynum->name)) {
      report(c, "ENUM_VALUE_RENAMED", at_cur_item(c, bynum), subj,
             tmpf(c, "keep the name %s (JSON and text format use it)", o->name),
             "enum value %d of %s was renamed from %s to %s", (int)o->number, nb->name, o->name,
             bynum->name);
    } else {
      bool num_res = bynum || in_ranges(nb->reserved, nb->reserved_count, o->number);
      bool name_res = has_name(nb->reserved_names, nb->reserved_name_count, o->name);
      where w = at_old(c, o->file, o->line, o->col, nb, NULL);
      if (!num_res) {
        char *fix = name_res ? tmpf(c, "add `reserved %d;` to enum %s", (int)o->number, nb->name)
                             : tmpf(c, "add `reserved %d;` and `reserved \"%s\";` to enum %s",
                                    (int)o->number, o->name, nb->name);
        report(c, "ENUM_VALUE_DELETED", w, subj, fix,
               "enum value %s (%d) of %s was deleted without reserving its number", o->name,
               (int)o->number, nb->name);
      } else if (!name_res) {
        report(c, "ENUM_VALUE_DELETED_NAME_NOT_RESERVED", w, subj,
               tmpf(c, "add `reserved \"%s\";` to enum %s", o->name, nb->name),
               "enum value %s (%d) of %s was deleted; its name is not reserved", o->name,
               (int)o->number, nb->name);
      }
    }
  }
  for (size_t i = 0; i < nb->item_count; i++) {
    const cpb_item *v = &nb->items[i];
    if (find_number(ob, v->number) || find_name(ob, v->name)) continue;
    char *subj = tmpf(c, "%s#%d", nb->name, (int)v->number);
    where w = at_cur_item(c, v);
    const cpb_item *was = NULL, *name_was = NULL;
    bool restored = false;
    for (size_t k = 0; k < ob->item_count; k++) {
      const cpb_item *h = &ob->items[k];
      if (h->number == v->number && same(h->name, v->name)) restored = true;
      else if (h->number == v->number && !was) was = h;
      else if (same(h->name, v->name) && !name_was) name_was = h;
    }
    if (!restored && was) {
      report(c, "ENUM_VALUE_NUMBER_REUSED", w, subj, NULL,
             "enum value number %d of %s was %s (deleted), now reused for %s", (int)v->number,
             nb->name, was->name, v->name);
    } else if (!restored && !ob->deleted && in_ranges(ob->reserved, ob->reserved_count, v->number)) {
      report(c, "ENUM_VALUE_NUMBER_REUSED", w, subj, NULL,
             "enum value %s of %s uses number %d, which was reserved", v->name, nb->name,
             (int)v->number);
    }
    subj = tmpf(c, "%s#%s", nb->name, v->name);
    if (!restored && name_was) {
      report(c, "ENUM_VALUE_NAME_REUSED", w, subj, NULL,
             "enum value name %s of %s was number %d (deleted), now %d", v->name, nb->name,
             (int)name_was->number, (int)v->number);
    } else if (!restored && !ob->deleted &&
               has_name(ob->reserved_names, ob->reserved_name_count, v->name)) {
      report(c, "ENUM_VALUE_NAME_REUSED", w, subj, NULL,
             "enum value %s of %s uses a name that was reserved", v->name, nb->name);
    }
  }
}

static void compare_enums(ctx *c) {
  for (size_t i = 0; i < c->old->block_count; i++) {
    const cpb_block *ob = &c->old->blocks[i];
    if (ob->kind != CPB_ENUM) continue;
    const cpb_block *nb = counterpart(c, ob);
    if (nb == NULL) {
      if (ob->deleted) continue;
      const cpb_block *renamed = find_renamed(c, ob);
      char *ot = renamed ? tmpf(c, "enum:.%s", ob->name) : NULL;
      char *nt = renamed ? tmpf(c, "enum:.%s", renamed->name) : NULL;
      if (renamed && eq_enum(c, ot, nt, true)) {
        report(c, "ENUM_RENAMED", at_cur_block(c, renamed), ob->name, NULL,
               "enum %s was renamed to %s: where it is a field type the wire (numbers) and JSON "
               "(value names) are unchanged, but reflection and generated code use the full name",
               ob->name, renamed->name);
      } else if (renamed) {
        report(c, "ENUM_RENAMED", at_cur_block(c, renamed), ob->name, NULL,
               "enum %s was renamed to %s, its values too: where it is a field type the wire "
               "(numbers) is unchanged but JSON (value names) is not, and reflection and "
               "generated code use the full name",
               ob->name, renamed->name);
      } else {
        report(c, "ENUM_DELETED", at_old(c, ob->file, ob->line, ob->col, NULL, ob->name), ob->name,
               "keep the enum and mark it `option deprecated = true;`",
               "enum %s was deleted", ob->name);
      }
      continue;
    }
    if (!ob->deleted) {
      if (!same(ob->file, nb->file)) {
        report(c, "ENUM_MOVED", at_cur_block(c, nb), nb->name, NULL,
               "enum %s moved from %s to %s: code that includes the old file's header breaks",
               nb->name, ob->file, nb->file);
      }
      if (ob->closed != nb->closed &&
          report(c, "ENUM_OPENNESS_CHANGED", at_cur_block(c, nb), nb->name, NULL,
                 "enum %s changed from %s to %s (enum_type %s to %s): %s", nb->name,
                 ob->closed ? "closed" : "open", nb->closed ? "closed" : "open",
                 ob->closed ? "CLOSED" : "OPEN", nb->closed ? "CLOSED" : "OPEN",
                 nb->closed ? "readers now put unknown values in the unknown fields instead of "
                              "the field, so values added later are lost to them"
                            : "readers now store unknown values in the field instead of the "
                              "unknown fields, so code sees numbers the enum does not name")) {
        count_feature(c, nb->file);
      }
      json_format_change(c, ob, nb, "enum");
      compare_reserved(c, ob, nb, "enum", "ENUM_RESERVED_RANGE_REMOVED", "ENUM_RESERVED_NAME_REMOVED");
    }
    compare_values(c, ob, nb);
  }
}

// ---- extensions ---------------------------------------------------------

static void compare_extensions(ctx *c) {
  for (size_t i = 0; i < c->old->block_count; i++) {
    const cpb_block *ob = &c->old->blocks[i];
    if (ob->kind != CPB_EXTEND) continue;
    for (size_t k = 0; k < ob->item_count; k++) {
      const cpb_item *o = &ob->items[k];
      if (!live(ob, o)) continue;
      const char *mname = map_name(c, o->name);
      const cpb_item *f = NULL;
      const cpb_block *fb = NULL;
      for (size_t j = 0; j < c->cur->block_count && !f; j++) {
        const cpb_block *cb = &c->cur->blocks[j];
        if (cb->kind != CPB_EXTEND) continue;
        for (size_t m = 0; m < cb->item_count; m++) {
          if (strcmp(cb->items[m].name, mname) == 0) {
            f = &cb->items[m];
            fb = cb;
          }
        }
      }
      if (!f) {
        report(c, "EXTENSION_DELETED", at_old(c, o->file, o->line, o->col, NULL, o->name), o->name,
               tmpf(c, "keep the extension (`[deprecated = true]`) so that number %d stays "
                       "taken; a lock that records the deletion also remembers it",
                       (int)o->number),
               "extension %s (%d of %s) was deleted: nothing stops its number from being given "
               "to another extension, which old readers would parse as this one",
               o->name, (int)o->number, ob->name);
        continue;
      }
      where w = at_cur_item(c, f);
      const char *ext = map_name(c, ob->name);
      if (strcmp(ext, fb->name) != 0) {
        report(c, "EXTENSION_EXTENDEE_CHANGED", w, f->name, NULL,
               "extension %s now extends %s instead of %s", f->name, fb->name, ob->name);
      }
      if (o->number != f->number) {
        report(c, "EXTENSION_NUMBER_CHANGED", w, f->name, NULL,
               "extension %s changed number from %d to %d", f->name, (int)o->number, (int)f->number);
      }
      char *what = tmpf(c, "extension %s", f->name);
      const char *ot = o->type, *nt = f->type;
      encoding_change(c, w, f->name, what, &ot, &nt, f->file);
      type_change(c, "EXTENSION_TYPE_CHANGED", what, w, f->name, ot, nt);
      utf8_change(c, w, f->name, what, o, f);
      if ((strcmp(o->label, "repeated") == 0) != (strcmp(f->label, "repeated") == 0)) {
        report(c, "EXTENSION_LABEL_CHANGED", w, f->name, NULL, "extension %s changed from %s to %s",
               f->name, o->label, f->label);
      }
    }
  }
  for (size_t i = 0; i < c->cur->block_count; i++) {
    const cpb_block *nb = &c->cur->blocks[i];
    if (nb->kind != CPB_EXTEND) continue;
    const cpb_block *ob = cpb_snap_find(c->old, CPB_EXTEND, nb->name);
    if (!ob) continue;
    for (size_t k = 0; k < nb->item_count; k++) {
      const cpb_item *f = &nb->items[k];
      const cpb_item *was = NULL;
      bool same_ext = false;
      for (size_t m = 0; m < ob->item_count; m++) {
        if (ob->items[m].number != f->number) continue;
        const char *mn = map_name(c, ob->items[m].name);
        if (strcmp(mn, f->name) == 0) same_ext = true;
        else if (!was) was = &ob->items[m];
      }
      if (was && !same_ext) {
        char *subj = tmpf(c, "%s#%d", nb->name, (int)f->number);
        report(c, "EXTENSION_NUMBER_REUSED", at_cur_item(c, f), subj, NULL,
               "extension number %d of %s was %s%s, now reused for %s", (int)f->number, nb->name,
               was->name, live(ob, was) ? "" : " (deleted)", f->name);
      }
    }
  }
}

// ---- services -----------------------------------------------------------

// idempotency_level in promise order: unknown, idempotent, no side effects.
static int idem_rank(const char *l) {
  if (l == NULL) return 0;
  return strcmp(l, "idempotent") == 0 ? 1 : 2;
}

static const char *idem_name(const char *l) {
  return l == NULL ? "IDEMPOTENCY_UNKNOWN"
                   : strcmp(l, "idempotent") == 0 ? "IDEMPOTENT" : "NO_SIDE_EFFECTS";
}

static void compare_services(ctx *c) {
  for (size_t i = 0; i < c->old->block_count; i++) {
    const cpb_block *ob = &c->old->blocks[i];
    if (ob->kind != CPB_SERVICE || ob->deleted) continue;
    const cpb_block *nb = counterpart(c, ob);
    if (nb == NULL) {
      report(c, "SERVICE_DELETED", at_old(c, ob->file, ob->line, ob->col, NULL, ob->name), ob->name, NULL,
             "service %s was deleted: clients calling /%s/* get UNIMPLEMENTED", ob->name, ob->name);
      continue;
    }
    for (size_t k = 0; k < ob->item_count; k++) {
      const cpb_item *o = &ob->items[k];
      if (!live(ob, o)) continue;
      char *subj = tmpf(c, "%s/%s", nb->name, o->name);
      const cpb_item *f = find_name(nb, o->name);
      if (f) {
        where w = at_cur_item(c, f);
        if (classify(c, o->type, f->type) != SAME && classify(c, o->type, f->type) != COMPAT) {
          report(c, "RPC_REQUEST_TYPE_CHANGED", w, subj, NULL,
                 "rpc %s of %s changed its request type from %s to %s", o->name, nb->name,
                 pt(c, o->type), pt(c, f->type));
        }
        if (classify(c, o->output, f->output) != SAME && classify(c, o->output, f->output) != COMPAT) {
          report(c, "RPC_RESPONSE_TYPE_CHANGED", w, subj, NULL,
                 "rpc %s of %s changed its response type from %s to %s", o->name, nb->name,
                 pt(c, o->output), pt(c, f->output));
        }
        if (!same(o->label, f->label)) {
          report(c, "RPC_STREAMING_CHANGED", w, subj, NULL,
                 "rpc %s of %s changed from %s to %s: existing clients fail", o->name, nb->name,
                 o->label, f->label);
        }
        int ol = idem_rank(o->idem), nl = idem_rank(f->idem);
        if (ol > nl) {
          report(c, "RPC_IDEMPOTENCY_WEAKENED", w, subj, NULL,
                 "rpc %s of %s lowered its idempotency_level from %s to %s: clients built "
                 "before may retry it, or call it with HTTP GET (Connect, gRPC-Web), as if "
                 "calling it twice were harmless",
                 o->name, nb->name, idem_name(o->idem), idem_name(f->idem));
        } else if (ol < nl) {
          report(c, "RPC_IDEMPOTENCY_STRENGTHENED", w, subj, NULL,
                 "rpc %s of %s raised its idempotency_level from %s to %s: safe for clients "
                 "built before, the server must now keep the promise",
                 o->name, nb->name, idem_name(o->idem), idem_name(f->idem));
        }
      } else {
        const cpb_item *renamed = NULL;
        for (size_t m = 0; m < nb->item_count && !renamed; m++) {
          const cpb_item *g = &nb->items[m];
          if (!find_name(ob, g->name) && same(g->label, o->label) &&
              classify(c, o->type, g->type) <= COMPAT && classify(c, o->output, g->output) <= COMPAT) {
            renamed = g;
          }
        }
        if (renamed) {
          report(c, "RPC_RENAMED", at_cur_item(c, renamed), subj,
                 tmpf(c, "keep rpc %s (e.g. deprecated, calling the same handler)", o->name),
                 "rpc %s of %s was renamed to %s: clients calling /%s/%s get UNIMPLEMENTED", o->name,
                 nb->name, renamed->name, ob->name, o->name);
        } else {
          report(c, "RPC_DELETED", at_old(c, o->file, o->line, o->col, nb, NULL), subj, NULL,
                 "rpc %s of %s was deleted: clients calling /%s/%s get UNIMPLEMENTED", o->name,
                 nb->name, ob->name, o->name);
        }
      }
    }
  }
}

// ---- files --------------------------------------------------------------

static const char *syntax_text(const ctx *c, const cpb_block *file) {
  if (file->syntax == CPS_SYNTAX_EDITIONS) return tmpf(c, "edition %d", file->edition);
  return tmpf(c, "proto%d", file->syntax);
}

static void compare_files(ctx *c) {
  for (size_t i = 0; i < c->old->block_count; i++) {
    const cpb_block *ob = &c->old->blocks[i];
    if (ob->kind != CPB_FILE || ob->deleted) continue;
    const cpb_block *nb = cpb_snap_find(c->cur, CPB_FILE, ob->name);
    if (nb == NULL) {
      report(c, "FILE_DELETED", at_old(c, ob->name, 0, 0, NULL, NULL), ob->name, NULL,
             "file %s was deleted", ob->name);
      continue;
    }
    where w = at_cur_block(c, nb);
    const char *op = ob->package ? ob->package : "", *np = nb->package ? nb->package : "";
    if (strcmp(op, np) != 0) {
      // At the package statement; a removed one: the top of the file.
      w.line = nb->package_line;
      w.col = nb->package_col;
      report(c, "FILE_PACKAGE_CHANGED", w, ob->name, NULL,
             "package of %s changed from \"%s\" to \"%s\": full names of its types, Any type URLs "
             "and RPC method paths change",
             nb->name, op, np);
    }
    // What a syntax or edition means for the generated code and the
    // encodings is the features its elements resolve, compared element by
    // element above; the file itself is only reported (a note) when some
    // of them differ, with how many.
    int n = feature_count(c, nb->name);
    if ((ob->syntax != nb->syntax || ob->edition != nb->edition) && n > 0) {
      w.line = nb->syntax_line;
      w.col = nb->syntax_col;
      report(c, "FILE_SYNTAX_CHANGED", w, ob->name, NULL,
             "%s changed from %s to %s, and %d of its elements resolve%s features differently "
             "(each reported on its own)",
             nb->name, syntax_text(c, ob), syntax_text(c, nb), n, n == 1 ? "s" : "");
    }
  }
}

void cpb_compare(cps_pool *mem, const cpb_snap *old, const cpb_snap *cur, cpb_category max_cat,
                 cpb_findings *out) {
  ctx c;
  memset(&c, 0, sizeof c);
  c.old = old;
  c.cur = cur;
  c.max = max_cat;
  c.out = out;
  c.mem = mem;
  c.tmp = cps_pool_new();
  for (size_t i = 0; i < old->block_count; i++) {
    const cpb_block *ob = &old->blocks[i];
    if (ob->kind != CPB_FILE || ob->deleted || !ob->package || !*ob->package) continue;
    const cpb_block *nb = cpb_snap_find(cur, CPB_FILE, ob->name);
    if (nb && nb->package && *nb->package && strcmp(ob->package, nb->package) != 0 && c.npkg < 32) {
      c.pkg_from[c.npkg] = ob->package;
      c.pkg_to[c.npkg] = nb->package;
      c.npkg++;
    }
  }
  compare_messages(&c);
  compare_enums(&c);
  compare_extensions(&c);
  compare_services(&c);
  compare_files(&c);  // last: FILE_SYNTAX_CHANGED counts the feature findings
  cps_pool_free(c.tmp);
}
