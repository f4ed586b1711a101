// The binder: body, path variables and query parameters into the request.
// Every value goes through cpay_json_decode: path variables and query
// parameters become a one-member JSON document {"jsonName": value} merged
// into the message that holds the field (created along the path), quoted by
// the field's type, so that numbers, enums, bytes and the well-known types
// are read by the one JSON reader and fail with its messages.
#include "http/bind.h"

#include <stdio.h>
#include <string.h>

#include "message/field.h"

// ---- a JSON document under construction ------------------------------------------

typedef struct jbuf {
  cpay_arena *a;
  char *p;
  size_t n, cap;
  bool oom;
} jbuf;

static void put(jbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n) cap *= 2;
    char *grown = cpay_arena_realloc(b->a, b->p, b->cap, cap);
    if (!grown) {
      b->oom = true;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void put_c(jbuf *b, const char *s) { put(b, s, strlen(s)); }

// `s` as a JSON string; bytes from 0x80 on are left to the reader's UTF-8
// check.
static void put_quoted(jbuf *b, const char *s, size_t n) {
  put(b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(b, s + run, i - run);
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(b, esc, 2);
    } else {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    }
    run = i + 1;
  }
  put(b, s + run, n - run);
  put(b, "\"", 1);
}

// ---- errors --------------------------------------------------------------------------

static int clip(size_t n) { return n > 64 ? 64 : (int)n; }

// What the JSON reader said, without its "$.path: " and " at offset N",
// which name the synthetic document rather than the request.
static void json_what(const char *msg, char *out, size_t cap) {
  const char *s = msg;
  if (s[0] == '$') {
    const char *colon = strstr(s, ": ");
    if (colon) s = colon + 2;
  }
  size_t n = strlen(s);
  const char *at = NULL;
  for (const char *q = strstr(s, " at offset "); q; q = strstr(q + 1, " at offset ")) at = q;
  if (at && strspn(at + 11, "0123456789") == strlen(at + 11) && at[11]) n = (size_t)(at - s);
  snprintf(out, cap, "%.*s", (int)n, s);
}

// The JSON reader's message for the body, with the offset of a document
// that wrapped the body (`shift` bytes before it) brought back to the
// body's.
static cpay_code body_error(cpay_code c, const cpay_status *jst, size_t shift, cpay_status *st) {
  if (c == CPAY_ERR_NO_MEMORY) return cpay_status_set(st, c, "%s", jst->msg);
  const char *msg = jst->msg;
  const char *at = NULL;
  for (const char *q = strstr(msg, " at offset "); q; q = strstr(q + 1, " at offset ")) at = q;
  unsigned long long off;
  char tail;
  if (shift && at && sscanf(at + 11, "%llu%c", &off, &tail) == 1) {
    off = off >= shift ? off - shift : 0;
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "body: %.*s at offset %llu",
                           (int)(at - msg), msg, off);
  }
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "body: %s", msg);
}

static cpay_code oom(cpay_arena *a, cpay_status *st) {
  return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(a));
}

// ---- setting one field ---------------------------------------------------------------

// The message holding the last field of `p` in `msg`, with the messages on
// the way created (and set, replacing another member of their oneof).
static void *parent_of(void *msg, const cpay__http_fpath *p, size_t upto, cpay_arena *a) {
  for (size_t k = 0; k + 1 < upto; k++) {
    const cpay__http_step *s = &p->steps[k];
    const cpay_field *f = &s->msg->table->fields[s->index];
    cpay__field_prepare(msg, f);
    void **slot = cpay__field_ptr(msg, f);
    if (!*slot) {
      *slot = cpay_msg_new(s->msg->msgs[s->index]->table, a);
      if (!*slot) return NULL;
    }
    cpay__field_mark(msg, f);
    msg = *slot;
  }
  return msg;
}

// Whether `s` is a decimal integer, as an enum's number is written.
static bool is_integer(cpay_str s) {
  size_t i = s.size && s.data[0] == '-';
  if (i == s.size) return false;
  for (; i < s.size; i++) {
    if (s.data[i] < '0' || s.data[i] > '9') return false;
  }
  return true;
}

// One text value as the JSON value that cpay_json_decode reads for a field
// of `type` (for messages, `sub` is its description): bools and enum
// numbers bare, the rest as strings. *bad_bool when a bool is neither
// "true" nor "false" (JSON would only say it got a string).
static void put_value(jbuf *b, uint8_t type, const cpay_msg_desc *sub, cpay_str v,
                      bool *bad_bool) {
  if (cpay__type_is_msg(type) && sub && sub->wkt == CPAY_WKT_WRAPPER) {
    type = sub->table->fields[0].type;
  }
  if (type == CPAY_TYPE_BOOL) {
    if (cpay_str_eq(v, CPAY_STR("true")) || cpay_str_eq(v, CPAY_STR("false"))) {
      put(b, v.data, v.size);
    } else {
      *bad_bool = true;
    }
    return;
  }
  if (type == CPAY_TYPE_ENUM && is_integer(v)) {
    put(b, v.data, v.size);
    return;
  }
  put_quoted(b, v.data, v.size);
}

// Sets the field of `p` in `msg` from `n` text values (n > 1 only for a
// repeated field), named `what` in errors ("query parameter 'tags'").
static cpay_code set_field(void *msg, const cpay__http_fpath *p, const cpay_str *vals, size_t n,
                           const char *what, cpay_arena *a, cpay_status *st) {
  void *parent = parent_of(msg, p, p->count, a);
  if (!parent) return oom(a, st);
  const cpay__http_step *s = &p->steps[p->count - 1];
  const cpay_field *f = &s->msg->table->fields[s->index];
  const cpay_msg_desc *sub = s->msg->msgs ? s->msg->msgs[s->index] : NULL;
  bool repeated = (f->mode & CPAY_MODE_MASK) == CPAY_MODE_ARRAY;
  jbuf b = {.a = a};
  put(&b, "{", 1);
  put_quoted(&b, s->msg->json_names[s->index], strlen(s->msg->json_names[s->index]));
  put(&b, repeated ? ":[" : ":", repeated ? 2 : 1);
  for (size_t i = 0; i < n; i++) {
    if (i) put(&b, ",", 1);
    bool bad_bool = false;
    put_value(&b, f->type, sub, vals[i], &bad_bool);
    if (bad_bool) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: expected true or false, got \"%.*s\"",
                             what, clip(vals[i].size), vals[i].data);
    }
  }
  put_c(&b, repeated ? "]}" : "}");
  if (b.oom) return oom(a, st);
  cpay_status jst = {0};
  cpay_code c = cpay_json_decode(b.p, b.n, parent, s->msg, a, NULL, &jst);
  if (c == CPAY_ERR_NO_MEMORY) return cpay_status_set(st, c, "%s", jst.msg);
  if (c) {
    char why[CPAY_STATUS_MSG_SIZE];
    json_what(jst.msg, why, sizeof why);
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: %s", what, why);
  }
  return CPAY_OK;
}

// ---- the body ------------------------------------------------------------------------

// Whether the body holds one JSON value at most and nothing after it, so
// that wrapping it as {"field": body} cannot add members: no ',', ':', ']'
// or '}' outside strings and brackets of its own. The JSON reader checks the
// rest when it reads the wrapped document.
static bool one_value(const char *s, size_t n) {
  size_t depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_str = false;
      }
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return false;
      depth--;
    } else if ((c == ',' || c == ':') && depth == 0) {
      return false;
    }
  }
  return true;
}

static cpay_code bind_body(const cpay__http_binding *bd, void *msg, const char *body,
                           size_t len, const cpay_json_decode_opts *jo, cpay_arena *a,
                           cpay_status *st) {
  if (len == 0) return CPAY_OK;
  cpay_status jst = {0};
  cpay_code c;
  switch (bd->body_kind) {
    case CPAY__HTTP_BODY_NONE:
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "body: %s %s takes no body, got %zu bytes", bd->rule->verb,
                             bd->rule->path, len);
    case CPAY__HTTP_BODY_WHOLE:
      c = cpay_json_decode(body, len, msg, bd->method->request_desc, a, jo, &jst);
      return c ? body_error(c, &jst, 0, st) : CPAY_OK;
    case CPAY__HTTP_BODY_FIELD:
      break;
  }
  const cpay__http_fpath *p = &bd->body;
  const cpay__http_step *s = &p->steps[p->count - 1];
  const cpay_field *f = &s->msg->table->fields[s->index];
  void *parent = parent_of(msg, p, p->count, a);
  if (!parent) return oom(a, st);
  if ((f->mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR && cpay__type_is_msg(f->type)) {
    // A message field: the body is its JSON, read in place.
    void *sub = parent_of(msg, p, p->count + 1, a);
    if (!sub) return oom(a, st);
    c = cpay_json_decode(body, len, sub, s->msg->msgs[s->index], a, jo, &jst);
    return c ? body_error(c, &jst, 0, st) : CPAY_OK;
  }
  if (!one_value(body, len)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "body: expected one JSON value for field '%.*s'", (int)p->len, p->text);
  }
  jbuf b = {.a = a};
  put(&b, "{", 1);
  put_quoted(&b, s->msg->json_names[s->index], strlen(s->msg->json_names[s->index]));
  put(&b, ":", 1);
  size_t shift = b.n;
  put(&b, body, len);
  put(&b, "}", 1);
  if (b.oom) return oom(a, st);
  c = cpay_json_decode(b.p, b.n, parent, s->msg, a, jo, &jst);
  return c ? body_error(c, &jst, shift, st) : CPAY_OK;
}

// ---- the query -------------------------------------------------------------------------

typedef struct qparam {
  cpay_str name;
  cpay_str value;
  cpay__http_fpath field;
  bool done;
} qparam;

static bool same_field(const cpay__http_fpath *x, const cpay__http_fpath *y) {
  return x->count == y->count && cpay__http_fpath_overlaps(x, y);
}

// Parameter `q` resolved and checked against what the path and body set.
static cpay_code check_param(const cpay__http_match *m, qparam *q, int max_depth, cpay_arena *a,
                             cpay_status *st) {
  const cpay__http_binding *bd = m->binding;
  const cpay_msg_desc *req = bd->method->request_desc;
  int n = clip(q->name.size);
  size_t dots = 0;
  for (size_t i = 0; i < q->name.size; i++) dots += q->name.data[i] == '.';
  size_t bad;
  if (dots >= (size_t)max_depth) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "query parameter '%.*s': nested deeper than %d", n, q->name.data,
                           max_depth);
  }
  if (!cpay__http_resolve(req, q->name.data, q->name.size, a, &q->field, &bad)) {
    if (bad == SIZE_MAX) return oom(a, st);
    char why[160];
    cpay__http_resolve_error(req, q->name.data, q->name.size, bad, a, why, sizeof why);
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "query parameter '%.*s': %s", n,
                           q->name.data, why);
  }
  const char *problem = cpay__http_leaf_problem(&q->field, true);
  if (problem) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "query parameter '%.*s': the field is %s, which a query parameter "
                           "cannot set",
                           n, q->name.data, problem);
  }
  if (bd->body_kind == CPAY__HTTP_BODY_WHOLE) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "query parameter '%.*s': the body sets every field (body \"*\")", n,
                           q->name.data);
  }
  if (bd->body_kind == CPAY__HTTP_BODY_FIELD && cpay__http_fpath_overlaps(&q->field, &bd->body)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "query parameter '%.*s': field '%.*s' is set by the body", n,
                           q->name.data, (int)bd->body.len, bd->body.text);
  }
  for (size_t v = 0; v < m->var_count; v++) {
    if (cpay__http_fpath_overlaps(&q->field, m->vars[v].field)) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "query parameter '%.*s': field '%.*s' is set by the path", n,
                             q->name.data, (int)m->vars[v].field->len, m->vars[v].field->text);
    }
  }
  return CPAY_OK;
}

// Splits the query into decoded parameters on `a`.
static cpay_code parse_query(const char *query, size_t len, cpay_arena *a, qparam **out,
                             size_t *count, cpay_status *st) {
  size_t cap = 1;
  for (size_t i = 0; i < len; i++) cap += query[i] == '&';
  qparam *qs = cpay_arena_malloc(a, cap * sizeof *qs);
  if (!qs) return oom(a, st);
  size_t n = 0;
  const char *p = query, *end = query + len;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if (stop > p) {
      const char *eq = memchr(p, '=', (size_t)(stop - p));
      const char *kend = eq ? eq : stop;
      qparam *q = &qs[n];
      memset(q, 0, sizeof *q);
      size_t bad;
      if (!cpay__http_pct_decode(p, (size_t)(kend - p), false, true, a, &q->name, &bad)) {
        if (bad == SIZE_MAX) return oom(a, st);
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "query: bad percent-encoding at offset %zu", (size_t)(p - query) + bad);
      }
      const char *v = eq ? eq + 1 : stop;
      if (!cpay__http_pct_decode(v, (size_t)(stop - v), false, true, a, &q->value, &bad)) {
        if (bad == SIZE_MAX) return oom(a, st);
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "query parameter '%.*s': bad percent-encoding at offset %zu",
                               clip(q->name.size), q->name.data, (size_t)(v - query) + bad);
      }
      if (q->name.size == 0) {
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "query: a parameter without a name at offset %zu",
                               (size_t)(p - query));
      }
      n++;
    }
    p = stop + 1;
  }
  *out = qs;
  *count = n;
  return CPAY_OK;
}

// The query parameters into `msg`: each field once, with every value given
// for it (several only for a repeated field), in the order first given.
static cpay_code bind_query(const cpay__http_match *m, void *msg, const char *query, size_t len,
                            int max_depth, cpay_arena *a, cpay_status *st) {
  qparam *qs = NULL;
  size_t n = 0;
  cpay_code c = parse_query(query, len, a, &qs, &n, st);
  if (c) return c;
  for (size_t i = 0; i < n; i++) {
    if ((c = check_param(m, &qs[i], max_depth, a, st))) return c;
  }
  cpay_str *vals = cpay_arena_malloc(a, (n + 1) * sizeof *vals);
  if (!vals) return oom(a, st);
  for (size_t i = 0; i < n; i++) {
    if (qs[i].done) continue;
    size_t k = 0;
    for (size_t j = i; j < n; j++) {
      if (!qs[j].done && same_field(&qs[i].field, &qs[j].field)) {
        qs[j].done = true;
        vals[k++] = qs[j].value;
      }
    }
    const cpay_field *f = cpay__http_fpath_leaf(&qs[i].field);
    if (k > 1 && (f->mode & CPAY_MODE_MASK) != CPAY_MODE_ARRAY) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "query parameter '%.*s': %zu values for a field that is not repeated",
                             clip(qs[i].name.size), qs[i].name.data, k);
    }
    char what[96];
    snprintf(what, sizeof what, "query parameter '%.*s'", clip(qs[i].name.size), qs[i].name.data);
    if ((c = set_field(msg, &qs[i].field, vals, k, what, a, st))) return c;
  }
  return CPAY_OK;
}

// ---- all of it ---------------------------------------------------------------------------

cpay_code cpay__http_bind(const cpay__http_match *m, const char *query, size_t query_len,
                          const char *body, size_t body_len, const cpay__http_bind_opts *opts,
                          cpay_arena *a, void **out, cpay_status *st) {
  *out = NULL;
  const cpay__http_binding *bd = m->binding;
  size_t max_body = opts && opts->max_body ? opts->max_body : CPAY__HTTP_DEFAULT_MAX_BODY;
  int max_depth = opts && opts->max_depth > 0 ? opts->max_depth : CPAY_DEFAULT_MAX_DEPTH;
  if (body_len > max_body) {
    return cpay_status_set(st, CPAY_ERR_TOO_LARGE, "body: %zu bytes exceed the limit of %zu",
                           body_len, max_body);
  }
  void *msg = cpay_msg_new(bd->method->request_desc->table, a);
  if (!msg) return oom(a, st);
  cpay_json_decode_opts jo = {.registry = opts ? opts->registry : NULL, .max_depth = max_depth};
  cpay_code c = bind_body(bd, msg, body, body_len, &jo, a, st);
  if (c) return c;
  for (size_t v = 0; v < m->var_count; v++) {
    char what[96];
    snprintf(what, sizeof what, "path variable '%.*s'", clip(m->vars[v].field->len),
             m->vars[v].field->text);
    c = set_field(msg, m->vars[v].field, &m->vars[v].value, 1, what, a, st);
    if (c) return c;
  }
  if (query_len) {
    c = bind_query(m, msg, query, query_len, max_depth, a, st);
    if (c) return c;
  }
  *out = msg;
  return CPAY_OK;
}
