// The router: bindings compiled from cpay_http_rule (template.h parses the
// paths; field paths are resolved here against the method's descriptions),
// and a linear scan over them per request, which rejects most bindings on
// their segment counts and first literal before comparing anything else.
#include "http/route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message/field.h"
#include "reflect/reflect.h"

struct cpay__http_router {
  cpay_arena *a;  // the bindings and their resolved paths
  cpay__http_binding **items;
  size_t count, cap;
};

// ---- field paths --------------------------------------------------------------

bool cpay__http_resolve(const cpay_msg_desc *top, const char *text, size_t len, cpay_arena *a,
                        cpay__http_fpath *out, size_t *bad_step) {
  memset(out, 0, sizeof *out);
  size_t count = 1;
  for (size_t i = 0; i < len; i++) count += text[i] == '.';
  cpay__http_step *steps = cpay_arena_malloc(a, count * sizeof *steps);
  if (!steps) {
    if (bad_step) *bad_step = SIZE_MAX;
    return false;
  }
  const cpay_msg_desc *m = top;
  const char *p = text, *end = text + len;
  for (size_t k = 0; k < count; k++) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
    int i = m ? cpay__field_by_name(m, p, n) : -1;
    if (i < 0 && m) i = cpay__field_by_json_name(m, p, n);
    if (i < 0) {
      if (bad_step) *bad_step = k;
      return false;
    }
    steps[k] = (cpay__http_step){m, (uint32_t)i};
    const cpay_field *f = &m->table->fields[i];
    if (k + 1 < count) {
      if ((f->mode & CPAY_MODE_MASK) != CPAY_MODE_SCALAR || !cpay__type_is_msg(f->type) ||
          !m->msgs || !m->msgs[i]) {
        if (bad_step) *bad_step = k + 1;
        return false;
      }
      m = m->msgs[i];
    }
    p += n + 1;
  }
  *out = (cpay__http_fpath){steps, count, text, len};
  return true;
}

const char *cpay__http_leaf_problem(const cpay__http_fpath *p, bool repeated_ok) {
  const cpay_field *f = cpay__http_fpath_leaf(p);
  uint8_t mode = f->mode & CPAY_MODE_MASK;
  if (mode == CPAY_MODE_MAP) return "a map";
  if (mode == CPAY_MODE_ARRAY && !repeated_ok) return "a repeated field";
  if (!cpay__type_is_msg(f->type)) return NULL;
  const cpay__http_step *s = &p->steps[p->count - 1];
  const cpay_msg_desc *sub = s->msg->msgs ? s->msg->msgs[s->index] : NULL;
  if (sub && (sub->wkt == CPAY_WKT_TIMESTAMP || sub->wkt == CPAY_WKT_DURATION ||
              sub->wkt == CPAY_WKT_FIELD_MASK || sub->wkt == CPAY_WKT_WRAPPER)) {
    return NULL;
  }
  return "a message";
}

bool cpay__http_fpath_overlaps(const cpay__http_fpath *a, const cpay__http_fpath *b) {
  size_t n = a->count < b->count ? a->count : b->count;
  for (size_t i = 0; i < n; i++) {
    if (a->steps[i].msg != b->steps[i].msg || a->steps[i].index != b->steps[i].index) {
      return false;
    }
  }
  return n > 0;
}

// ---- percent-encoding -----------------------------------------------------------

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool cpay__http_pct_decode(const char *s, size_t n, bool keep_slash, bool plus_space,
                           cpay_arena *a, cpay_str *out, size_t *bad) {
  char *buf = cpay_arena_malloc(a, n + 1);
  if (!buf) {
    if (bad) *bad = SIZE_MAX;
    return false;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < n ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        if (bad) *bad = i;
        return false;
      }
      char d = (char)(hi << 4 | lo);
      if (keep_slash && d == '/') {
        memcpy(buf + o, s + i, 3);
        o += 3;
      } else {
        buf[o++] = d;
      }
      i += 2;
    } else {
      buf[o++] = plus_space && c == '+' ? ' ' : c;
    }
  }
  buf[o] = '\0';
  *out = (cpay_str){buf, o};
  return true;
}

// ---- compiling rules ----------------------------------------------------------------

cpay__http_router *cpay__http_router_new(cpay_status *st) {
  cpay__http_router *r = calloc(1, sizeof *r);
  if (r) r->a = cpay_arena_new();
  if (!r || !r->a) {
    free(r);
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP router");
    return NULL;
  }
  return r;
}

void cpay__http_router_free(cpay__http_router *r) {
  if (!r) return;
  for (size_t i = 0; i < r->count; i++) cpay__tpl_free(&r->items[i]->tpl);
  cpay_arena_free(r->a);
  free(r->items);
  free(r);
}

size_t cpay__http_router_count(const cpay__http_router *r) { return r->count; }

// Fails rule `i` of `m` with "Method: rule i (VERB PATH): <what>".
static cpay_code rule_fail(cpay_status *st, cpay_code code, const cpay_method *m, size_t i,
                           const char *fmt, ...) CPAY_PRINTF(5, 6);

static cpay_code rule_fail(cpay_status *st, cpay_code code, const cpay_method *m, size_t i,
                           const char *fmt, ...) {
  char what[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const cpay_http_rule *rule = &m->http_rules[i];
  return cpay_status_set(st, code, "%s: rule %zu (%s %s): %s", m->name ? m->name : m->path, i,
                         rule->verb ? rule->verb : "(no verb)",
                         rule->path ? rule->path : "(no path)", what);
}

void cpay__http_resolve_error(const cpay_msg_desc *top, const char *text, size_t len,
                              size_t bad, cpay_arena *a, char *buf, size_t cap) {
  const char *p = text, *end = text + len;
  for (size_t k = 0; k < bad; k++) p = (const char *)memchr(p, '.', (size_t)(end - p)) + 1;
  const char *dot = memchr(p, '.', (size_t)(end - p));
  size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
  const cpay_msg_desc *in = top;
  if (bad > 0) {
    // Either the name is not a field, or the one before it is no message.
    cpay__http_fpath prefix;
    size_t prefix_len = (size_t)(p - 1 - text);
    if (!cpay__http_resolve(top, text, prefix_len, a, &prefix, NULL)) {
      snprintf(buf, cap, "out of memory");
      return;
    }
    const cpay__http_step *s = &prefix.steps[prefix.count - 1];
    const cpay_field *f = &s->msg->table->fields[s->index];
    if ((f->mode & CPAY_MODE_MASK) != CPAY_MODE_SCALAR || !cpay__type_is_msg(f->type)) {
      snprintf(buf, cap, "'%.*s' is not a singular message field of %s", (int)prefix_len, text,
               top->table->full_name);
      return;
    }
    in = s->msg->msgs[s->index];
  }
  snprintf(buf, cap, "%s has no field '%.*s'", in->table->full_name, n > 64 ? 64 : (int)n, p);
}

// Resolves `text` in `top` for rule `i`, or fails saying which part of
// `text` is not a field (or not a message), at `where`.
static cpay_code resolve_for_rule(cpay__http_router *r, const cpay_method *m, size_t i,
                                  const cpay_msg_desc *top, const char *role, const char *text,
                                  size_t len, const char *where, cpay__http_fpath *out,
                                  cpay_status *st) {
  size_t bad;
  if (cpay__http_resolve(top, text, len, r->a, out, &bad)) return CPAY_OK;
  if (bad == SIZE_MAX) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP binding");
  }
  char why[160];
  cpay__http_resolve_error(top, text, len, bad, r->a, why, sizeof why);
  if (bad > 0) return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i, "%s: %s", where, why);
  return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i, "%s: %s %s", where, role, why);
}

// Percent-decodes a template literal (the parser checked its escapes).
static cpay_code decode_literal(cpay__http_router *r, const char *s, size_t n, cpay_str *out,
                                cpay_status *st) {
  if (cpay__http_pct_decode(s, n, false, false, r->a, out, NULL)) return CPAY_OK;
  return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP binding");
}

// Compiles rule `i` of `m` into *b (its template parsed into b->tpl, which
// the caller frees on failure).
static cpay_code compile_rule(cpay__http_router *r, const cpay_method *m, size_t i,
                              cpay__http_binding *b, cpay_status *st) {
  const cpay_http_rule *rule = &m->http_rules[i];
  if (!rule->verb || !rule->verb[0]) {
    return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i, "no HTTP verb");
  }
  if (!rule->path) return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i, "no path template");
  cpay__tpl_error err;
  if (!cpay__tpl_parse(rule->path, &b->tpl, &err)) {
    return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i, "template offset %zu: %s", err.offset,
                     err.msg);
  }
  *b = (cpay__http_binding){.method = m, .rule = rule, .rule_index = i, .tpl = b->tpl};
  const cpay__tpl *t = &b->tpl;
  cpay__http_fpath *vars = cpay_arena_malloc(r->a, (t->var_count + 1) * sizeof *vars);
  cpay_str *lits = cpay_arena_malloc(r->a, (t->seg_count + 1) * sizeof *lits);
  if (!vars || !lits) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP binding");
  char where[48];
  for (size_t v = 0; v < t->var_count; v++) {
    const cpay__tpl_var *tv = &t->vars[v];
    snprintf(where, sizeof where, "template offset %zu", (size_t)(tv->field - rule->path));
    cpay_code c = resolve_for_rule(r, m, i, m->request_desc, "request", tv->field, tv->len, where,
                                   &vars[v], st);
    if (c) return c;
    const char *problem = cpay__http_leaf_problem(&vars[v], false);
    if (problem) {
      return rule_fail(st, CPAY_ERR_INVALID_ARGUMENT, m, i,
                       "%s: field '%.*s' is %s, which a path variable cannot set", where,
                       (int)tv->len, tv->field, problem);
    }
  }
  for (size_t s = 0; s < t->seg_count; s++) {
    lits[s] = (cpay_str){NULL, 0};
    if (t->segs[s].kind == CPAY__TPL_LITERAL) {
      cpay_code c = decode_literal(r, t->segs[s].text, t->segs[s].len, &lits[s], st);
      if (c) return c;
    }
    b->min_segs += t->segs[s].kind != CPAY__TPL_STARSTAR;
  }
  b->max_segs = t->seg_count && t->segs[t->seg_count - 1].kind == CPAY__TPL_STARSTAR
                    ? SIZE_MAX : t->seg_count;
  if (t->verb) {
    cpay_code c = decode_literal(r, t->verb, t->verb_len, &b->verb, st);
    if (c) return c;
  }
  b->vars = vars;
  b->lits = lits;
  if (!rule->body) {
    b->body_kind = CPAY__HTTP_BODY_NONE;
  } else if (strcmp(rule->body, "*") == 0) {
    b->body_kind = CPAY__HTTP_BODY_WHOLE;
  } else {
    b->body_kind = CPAY__HTTP_BODY_FIELD;
    cpay_code c = resolve_for_rule(r, m, i, m->request_desc, "request", rule->body,
                                   strlen(rule->body), "body", &b->body, st);
    if (c) return c;
  }
  if (rule->response_body) {
    cpay_code c = resolve_for_rule(r, m, i, m->response_desc, "response", rule->response_body,
                                   strlen(rule->response_body), "response_body",
                                   &b->response_body, st);
    if (c) return c;
  }
  return CPAY_OK;
}

static bool grow_items(cpay__http_router *r, size_t need) {
  if (need <= r->cap) return true;
  size_t n = r->cap ? r->cap : 8;
  while (n < need) n *= 2;
  cpay__http_binding **grown = realloc(r->items, n * sizeof *grown);
  if (!grown) return false;
  r->items = grown;
  r->cap = n;
  return true;
}

cpay_code cpay__http_router_add(cpay__http_router *r, const cpay_method *m, void *target,
                                cpay_status *st) {
  const char *name = m->name ? m->name : m->path;
  if (!m->request_desc || !m->response_desc) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "%s: no JSON descriptions (generated with formats=binary?)", name);
  }
  if (!m->http_rules || m->http_rule_count == 0) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: no HTTP rules", name);
  }
  if (!grow_items(r, r->count + m->http_rule_count)) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP router");
  }
  size_t added = 0;
  cpay_code c = CPAY_OK;
  for (size_t i = 0; i < m->http_rule_count; i++) {
    cpay__http_binding *b = cpay_arena_malloc(r->a, sizeof *b);
    if (!b) {
      c = cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an HTTP binding");
      break;
    }
    memset(b, 0, sizeof *b);
    c = compile_rule(r, m, i, b, st);
    if (c) {
      cpay__tpl_free(&b->tpl);
      break;
    }
    b->target = target;
    r->items[r->count + added++] = b;
  }
  if (c) {
    // None of m's rules stay: the caller sees the method whole or not at all.
    for (size_t k = 0; k < added; k++) cpay__tpl_free(&r->items[r->count + k]->tpl);
    return c;
  }
  r->count += added;
  return CPAY_OK;
}

// ---- matching ----------------------------------------------------------------------

// The request path cut into segments: raw (percent-encoded) and decoded.
typedef struct req_path {
  cpay_str *raw;
  cpay_str *dec;
  size_t n;
  // The last segment cut at its last ':' (when it has one with text on
  // both sides): raw and decoded, and the decoded verb.
  bool has_verb;
  cpay_str last_raw, last_dec, verb;
} req_path;

static int clip(size_t n) { return n > 96 ? 96 : (int)n; }

static cpay_code bad_path(cpay_status *st, const char *path, size_t len, const char *what) {
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "path '%.*s%s': %s", clip(len), path,
                         len > 96 ? "..." : "", what);
}

static cpay_code split_path(const char *path, size_t len, cpay_arena *a, req_path *rp,
                            cpay_status *st) {
  memset(rp, 0, sizeof *rp);
  if (len == 0 || path[0] != '/') return bad_path(st, path, len, "not an absolute path");
  if (len == 1) return CPAY_OK;  // "/": no segments
  size_t n = 1;
  for (size_t i = 1; i < len; i++) n += path[i] == '/';
  rp->raw = cpay_arena_malloc(a, n * sizeof *rp->raw);
  rp->dec = cpay_arena_malloc(a, n * sizeof *rp->dec);
  if (!rp->raw || !rp->dec) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  const char *p = path + 1, *end = path + len;
  char what[64];
  for (size_t k = 0; k < n; k++) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t sl = slash ? (size_t)(slash - p) : (size_t)(end - p);
    if (sl == 0) {
      snprintf(what, sizeof what, "empty segment at offset %zu", (size_t)(p - path));
      return bad_path(st, path, len, what);
    }
    size_t bad;
    rp->raw[k] = (cpay_str){p, sl};
    if (!cpay__http_pct_decode(p, sl, false, false, a, &rp->dec[k], &bad)) {
      if (bad == SIZE_MAX) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
      snprintf(what, sizeof what, "bad percent-encoding at offset %zu", (size_t)(p - path) + bad);
      return bad_path(st, path, len, what);
    }
    if (cpay_str_eq(rp->dec[k], CPAY_STR(".")) || cpay_str_eq(rp->dec[k], CPAY_STR(".."))) {
      snprintf(what, sizeof what, "'%.*s' segment at offset %zu", (int)rp->dec[k].size,
               rp->dec[k].data, (size_t)(p - path));
      return bad_path(st, path, len, what);
    }
    p += sl + 1;
  }
  rp->n = n;
  cpay_str last = rp->raw[n - 1];
  const char *colon = NULL;
  for (size_t i = last.size; i-- > 0;) {
    if (last.data[i] == ':') {
      colon = last.data + i;
      break;
    }
  }
  if (colon && colon > last.data && colon + 1 < last.data + last.size) {
    rp->last_raw = (cpay_str){last.data, (size_t)(colon - last.data)};
    size_t vl = (size_t)(last.data + last.size - colon - 1);
    // Decoding cannot fail: the whole segment decoded.
    if (!cpay__http_pct_decode(last.data, rp->last_raw.size, false, false, a, &rp->last_dec,
                               NULL) ||
        !cpay__http_pct_decode(colon + 1, vl, false, false, a, &rp->verb, NULL)) {
      return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
    }
    rp->has_verb = !cpay_str_eq(rp->last_dec, CPAY_STR(".")) &&
                   !cpay_str_eq(rp->last_dec, CPAY_STR(".."));
  }
  return CPAY_OK;
}

// Decoded segment `k` of the path as binding interpretation `with_verb` sees it.
static cpay_str seg_dec(const req_path *rp, size_t k, bool with_verb) {
  return with_verb && k + 1 == rp->n ? rp->last_dec : rp->dec[k];
}

static cpay_str seg_raw(const req_path *rp, size_t k, bool with_verb) {
  return with_verb && k + 1 == rp->n ? rp->last_raw : rp->raw[k];
}

// Whether binding `b` takes the path's segments (the verb is checked by
// the caller).
static bool segs_match(const cpay__http_binding *b, const req_path *rp, bool with_verb) {
  if (rp->n < b->min_segs || rp->n > b->max_segs) return false;
  const cpay__tpl *t = &b->tpl;
  for (size_t s = 0; s < t->seg_count; s++) {
    switch (t->segs[s].kind) {
      case CPAY__TPL_LITERAL:
        if (!cpay_str_eq(b->lits[s], seg_dec(rp, s, with_verb))) return false;
        break;
      case CPAY__TPL_STAR:
        break;
      case CPAY__TPL_STARSTAR:
        return true;  // the last segment; the counts were checked above
    }
  }
  return true;
}

// Whether the path matches `b` with the verb cut off (1), whole (0), or not
// at all (-1).
static int path_match(const cpay__http_binding *b, const req_path *rp) {
  if (b->verb.data) {
    return rp->has_verb && cpay_str_eq(b->verb, rp->verb) && segs_match(b, rp, true) ? 1 : -1;
  }
  return segs_match(b, rp, false) ? 0 : -1;
}

// Rank of a template segment at position `s` (lower is more specific); a
// position past a template's end ("**" matched nothing there) ranks as a
// literal.
static int seg_rank(const cpay__tpl *t, size_t s) {
  if (s >= t->seg_count) return 0;
  switch (t->segs[s].kind) {
    case CPAY__TPL_LITERAL:
      return 0;
    case CPAY__TPL_STAR:
      return 1;
    case CPAY__TPL_STARSTAR:
      return 2;
  }
  return 2;
}

// Whether `a` is more specific than `b` (both matched the path); equal
// ones keep the one added first, which the caller saw first.
static bool more_specific(const cpay__http_binding *a, const cpay__http_binding *b) {
  size_t n = a->tpl.seg_count > b->tpl.seg_count ? a->tpl.seg_count : b->tpl.seg_count;
  for (size_t s = 0; s < n; s++) {
    int ra = seg_rank(&a->tpl, s), rb = seg_rank(&b->tpl, s);
    if (ra != rb) return ra < rb;
  }
  return a->verb.data && !b->verb.data;
}

// The captured variables of the chosen binding.
static cpay_code capture(const cpay__http_binding *b, const req_path *rp, bool with_verb,
                         cpay_arena *a, cpay__http_match *out, cpay_status *st) {
  const cpay__tpl *t = &b->tpl;
  cpay__http_capture *caps = cpay_arena_malloc(a, (t->var_count + 1) * sizeof *caps);
  if (!caps) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  for (size_t v = 0; v < t->var_count; v++) {
    const cpay__tpl_var *tv = &t->vars[v];
    size_t first = tv->first, end = tv->first + tv->count;
    bool starstar = tv->count && t->segs[end - 1].kind == CPAY__TPL_STARSTAR;
    if (starstar) end = rp->n;
    caps[v].field = &b->vars[v];
    if (tv->count == 1 && !starstar) {
      caps[v].value = seg_dec(rp, first, with_verb);
      continue;
    }
    // Several segments: raw text joined with '/', decoded but for "%2F".
    size_t total = 0;
    for (size_t k = first; k < end; k++) total += seg_raw(rp, k, with_verb).size + 1;
    char *joined = cpay_arena_malloc(a, total + 1);
    if (!joined) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
    size_t o = 0;
    for (size_t k = first; k < end; k++) {
      cpay_str s = seg_raw(rp, k, with_verb);
      if (k > first) joined[o++] = '/';
      memcpy(joined + o, s.data, s.size);
      o += s.size;
    }
    if (!cpay__http_pct_decode(joined, o, true, false, a, &caps[v].value, NULL)) {
      return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
    }
  }
  out->binding = b;
  out->vars = caps;
  out->var_count = t->var_count;
  return CPAY_OK;
}

// "GET, POST": the distinct verbs of the bindings that matched the path.
static cpay_code allow_list(const cpay__http_router *r, const req_path *rp, cpay_arena *a,
                            cpay_str *allow, cpay_status *st) {
  size_t total = 0;
  for (size_t i = 0; i < r->count; i++) {
    if (path_match(r->items[i], rp) >= 0) total += strlen(r->items[i]->rule->verb) + 2;
  }
  char *buf = cpay_arena_malloc(a, total + 1);
  if (!buf) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  size_t o = 0;
  for (size_t i = 0; i < r->count; i++) {
    const cpay__http_binding *b = r->items[i];
    if (path_match(b, rp) < 0) continue;
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++) {
      seen = path_match(r->items[k], rp) >= 0 && strcmp(r->items[k]->rule->verb, b->rule->verb) == 0;
    }
    if (seen) continue;
    if (o) {
      memcpy(buf + o, ", ", 2);
      o += 2;
    }
    size_t n = strlen(b->rule->verb);
    memcpy(buf + o, b->rule->verb, n);
    o += n;
  }
  buf[o] = '\0';
  *allow = (cpay_str){buf, o};
  return CPAY_OK;
}

cpay_code cpay__http_router_match(const cpay__http_router *r, const char *verb, const char *path,
                                  size_t path_len, cpay_arena *a, cpay__http_match *out,
                                  cpay_str *allow, cpay_status *st) {
  memset(out, 0, sizeof *out);
  if (allow) *allow = (cpay_str){NULL, 0};
  req_path rp;
  cpay_code c = split_path(path, path_len, a, &rp, st);
  if (c) return c;
  const cpay__http_binding *best = NULL;
  int best_how = -1;
  bool path_matched = false;
  for (size_t i = 0; i < r->count; i++) {
    const cpay__http_binding *b = r->items[i];
    int how = path_match(b, &rp);
    if (how < 0) continue;
    path_matched = true;
    if (strcmp(b->rule->verb, verb) != 0) continue;
    if (!best || more_specific(b, best)) {
      best = b;
      best_how = how;
    }
  }
  if (best) return capture(best, &rp, best_how == 1, a, out, st);
  if (!path_matched) {
    return cpay_status_set(st, CPAY_ERR_NOT_FOUND, "no HTTP binding matches path '%.*s%s'",
                           clip(path_len), path, path_len > 96 ? "..." : "");
  }
  if (allow) {
    c = allow_list(r, &rp, a, allow, st);
    if (c) return c;
  }
  return cpay_status_set(st, CPAY_ERR_UNIMPLEMENTED, "method %.*s is not allowed for path '%.*s%s'",
                         clip(strlen(verb)), verb, clip(path_len), path,
                         path_len > 96 ? "..." : "");
}
