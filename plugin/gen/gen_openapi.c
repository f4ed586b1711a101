// openapi: one OpenAPI 3.0.3 document per service, foo.<Service>.openapi.json,
// from the same bindings as the route table (cpg_http_bindings) and the
// schema's comments. Schemas follow the proto3 JSON mapping cpay's JSON
// codec implements; docs/http.md lists the choices made here.
//
// The document is built as a small tree of JSON values on g->pool and then
// printed: objects keep the order members were added in, and
// components.schemas is sorted by name, so the output is deterministic.
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "http/template.h"

// ---- JSON values ------------------------------------------------------------------

typedef enum jkind { J_OBJECT, J_ARRAY, J_STRING, J_LITERAL } jkind;

typedef struct jv jv;
struct jv {
  jkind kind;
  const char *text;   // string or literal (number, true, false, null)
  const char **keys;  // object members
  jv **vals;          // object members, array items
  size_t count, cap, key_cap;
};

static jv *jnew(cpg_gen *g, jkind kind, const char *text) {
  jv *v = cps_pool_alloc(g->pool, sizeof *v);
  v->kind = kind;
  v->text = text;
  return v;
}

static jv *jobj(cpg_gen *g) { return jnew(g, J_OBJECT, NULL); }
static jv *jarr(cpg_gen *g) { return jnew(g, J_ARRAY, NULL); }
static jv *jstr(cpg_gen *g, const char *s) { return jnew(g, J_STRING, s); }
static jv *jlit(cpg_gen *g, const char *s) { return jnew(g, J_LITERAL, s); }

static void jpush(cpg_gen *g, jv *a, jv *v) {
  a->vals = cps_pool_grow(g->pool, a->vals, a->count, &a->cap, sizeof *a->vals);
  a->vals[a->count++] = v;
}

static jv *jget(const jv *o, const char *key) {
  for (size_t i = 0; i < o->count; i++) {
    if (strcmp(o->keys[i], key) == 0) return o->vals[i];
  }
  return NULL;
}

// Adds member `key` (which must be new) to object `o`; NULL `v` adds nothing.
static void jset(cpg_gen *g, jv *o, const char *key, jv *v) {
  if (v == NULL) return;
  o->keys = cps_pool_grow(g->pool, o->keys, o->count, &o->key_cap, sizeof *o->keys);
  o->keys[o->count] = key;
  jpush(g, o, v);
}

static void jset_str(cpg_gen *g, jv *o, const char *key, const char *s) {
  if (s) jset(g, o, key, jstr(g, s));
}

// `s` is valid UTF-8 (names from descriptors, cpg_comment_text).
static void print_string(cps_buf *b, const char *s) {
  cps_buf_puts(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      cps_buf_printf(b, "\\%c", c);
    } else if (c == '\n') {
      cps_buf_puts(b, "\\n");
    } else if (c < 0x20) {
      cps_buf_printf(b, "\\u%04x", c);
    } else {
      cps_buf_append(b, s, 1);
    }
  }
  cps_buf_puts(b, "\"");
}

static void print_value(cps_buf *b, const jv *v, int indent) {
  switch (v->kind) {
    case J_STRING: print_string(b, v->text); return;
    case J_LITERAL: cps_buf_puts(b, v->text); return;
    case J_OBJECT:
    case J_ARRAY: break;
  }
  bool obj = v->kind == J_OBJECT;
  if (v->count == 0) {
    cps_buf_puts(b, obj ? "{}" : "[]");
    return;
  }
  cps_buf_puts(b, obj ? "{\n" : "[\n");
  for (size_t i = 0; i < v->count; i++) {
    cps_buf_printf(b, "%*s", indent + 2, "");
    if (obj) {
      print_string(b, v->keys[i]);
      cps_buf_puts(b, ": ");
    }
    print_value(b, v->vals[i], indent + 2);
    cps_buf_puts(b, i + 1 < v->count ? ",\n" : "\n");
  }
  cps_buf_printf(b, "%*s%s", indent, "", obj ? "}" : "]");
}

// ---- schemas ----------------------------------------------------------------------

typedef struct doc {
  cpg_gen *g;
  jv *schemas;  // components.schemas, sorted when printed
} doc;

static jv *typed(cpg_gen *g, const char *type, const char *format) {
  jv *s = jobj(g);
  jset_str(g, s, "type", type);
  jset_str(g, s, "format", format);
  return s;
}

static jv *scalar_schema(cpg_gen *g, cps_type t) {
  switch (t) {
    case CPS_TYPE_INT32:
    case CPS_TYPE_SINT32:
    case CPS_TYPE_SFIXED32: return typed(g, "integer", "int32");
    // Above int32: format int64 holds every uint32.
    case CPS_TYPE_UINT32:
    case CPS_TYPE_FIXED32: return typed(g, "integer", "int64");
    // proto3 JSON writes 64-bit integers as strings.
    case CPS_TYPE_INT64:
    case CPS_TYPE_SINT64:
    case CPS_TYPE_SFIXED64:
    case CPS_TYPE_UINT64:
    case CPS_TYPE_FIXED64: return typed(g, "string", "int64");
    case CPS_TYPE_DOUBLE: return typed(g, "number", "double");
    case CPS_TYPE_FLOAT: return typed(g, "number", "float");
    case CPS_TYPE_BOOL: return typed(g, "boolean", NULL);
    case CPS_TYPE_STRING: return typed(g, "string", NULL);
    case CPS_TYPE_BYTES: return typed(g, "string", "byte");
    case CPS_TYPE_ENUM:
    case CPS_TYPE_MESSAGE:
    case CPS_TYPE_GROUP: break;
  }
  return typed(g, "string", NULL);
}

static jv *ref(cpg_gen *g, const char *full_name) {
  jv *r = jobj(g);
  jset(g, r, "$ref", jstr(g, cpg_str(g, "#/components/schemas/%s", full_name)));
  return r;
}

static void add_message(doc *d, const cps_message *m);
static void add_enum(doc *d, const cps_enum *e);

// One value of field `f` (an element, for repeated fields and maps).
static jv *value_schema(doc *d, const cps_field *f) {
  if (f->type == CPS_TYPE_ENUM) {
    add_enum(d, f->enum_type);
    return ref(d->g, f->enum_type->full_name);
  }
  if (cpg_is_message(f)) {
    add_message(d, f->message_type);
    return ref(d->g, f->message_type->full_name);
  }
  return scalar_schema(d->g, f->type);
}

// `s` with `description` (and deprecated); a $ref takes no siblings in
// OpenAPI 3.0, so it goes into an allOf.
static jv *described(cpg_gen *g, jv *s, const char *description, bool deprecated) {
  if (description == NULL && !deprecated) return s;
  if (jget(s, "$ref")) {
    jv *all = jarr(g);
    jpush(g, all, s);
    s = jobj(g);
    jset(g, s, "allOf", all);
  }
  jset_str(g, s, "description", description);
  if (deprecated) jset(g, s, "deprecated", jlit(g, "true"));
  return s;
}

static jv *field_schema(doc *d, const cps_field *f) {
  cpg_gen *g = d->g;
  jv *s;
  if (f->is_map) {
    s = typed(g, "object", NULL);
    jset(g, s, "additionalProperties", value_schema(d, &f->message_type->fields[1]));
  } else if (f->label == CPS_LABEL_REPEATED) {
    s = typed(g, "array", NULL);
    jset(g, s, "items", value_schema(d, f));
  } else {
    s = value_schema(d, f);
  }
  return described(g, s, cpg_comment_text(g, &f->loc), f->deprecated);
}

// The properties of message `m` (by JSON name), leaving out the fields
// named in skip[0 .. nskip).
static jv *properties(doc *d, const cps_message *m, const cps_field *const *skip, size_t nskip) {
  jv *props = jobj(d->g);
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    bool skipped = false;
    for (size_t k = 0; k < nskip; k++) skipped = skipped || skip[k] == f;
    if (!skipped) jset(d->g, props, f->json_name, field_schema(d, f));
  }
  return props;
}

// The JSON forms of the well-known types (the proto3 JSON mapping), or NULL.
static jv *wkt_schema(doc *d, const cps_message *m) {
  cpg_gen *g = d->g;
  const char *n = m->full_name;
  if (strncmp(n, "google.protobuf.", 16) != 0) return NULL;
  n += 16;
  if (strcmp(n, "Timestamp") == 0) return typed(g, "string", "date-time");
  if (strcmp(n, "Duration") == 0) {
    jv *s = typed(g, "string", NULL);
    jset_str(g, s, "description", "Seconds with up to 9 fractional digits and an \"s\": \"1.5s\".");
    return s;
  }
  if (strcmp(n, "FieldMask") == 0) {
    jv *s = typed(g, "string", NULL);
    jset_str(g, s, "description", "Field paths in lowerCamelCase, comma-separated: \"a.b,c\".");
    return s;
  }
  if (strcmp(n, "Struct") == 0) {
    jv *s = typed(g, "object", NULL);
    jset(g, s, "additionalProperties", jlit(g, "true"));
    return s;
  }
  if (strcmp(n, "Value") == 0) {
    jv *s = jobj(g);
    jset_str(g, s, "description", "Any JSON value.");
    return s;
  }
  if (strcmp(n, "ListValue") == 0) {
    jv *s = typed(g, "array", NULL);
    jset(g, s, "items", jobj(g));
    return s;
  }
  if (strcmp(n, "Empty") == 0) return typed(g, "object", NULL);
  if (strcmp(n, "Any") == 0) {
    jv *s = typed(g, "object", NULL);
    jv *props = jobj(g);
    jv *type = typed(g, "string", NULL);
    jset_str(g, type, "description", "The type URL, e.g. type.googleapis.com/pkg.Message.");
    jset(g, props, "@type", type);
    jset(g, s, "properties", props);
    jv *required = jarr(g);
    jpush(g, required, jstr(g, "@type"));
    jset(g, s, "required", required);
    jset(g, s, "additionalProperties", jlit(g, "true"));
    return s;
  }
  if (cpg_http_wkt_leaf(m) && m->field_count == 1) {  // the wrappers: their value, or null
    jv *s = scalar_schema(g, m->fields[0].type);
    jset(g, s, "nullable", jlit(g, "true"));
    return s;
  }
  return NULL;
}

static void add_message(doc *d, const cps_message *m) {
  cpg_gen *g = d->g;
  if (jget(d->schemas, m->full_name)) return;
  jv *s = wkt_schema(d, m);
  if (s) {
    jset(g, d->schemas, m->full_name, described(g, s, cpg_comment_text(g, &m->loc), false));
    return;
  }
  s = typed(g, "object", NULL);
  jset(g, d->schemas, m->full_name, s);  // first, so that recursion stops here
  jset_str(g, s, "description", cpg_comment_text(g, &m->loc));
  jset(g, s, "properties", properties(d, m, NULL, 0));
  jv *required = jarr(g);
  for (size_t i = 0; i < m->field_count; i++) {
    if (m->fields[i].label == CPS_LABEL_REQUIRED) jpush(g, required, jstr(g, m->fields[i].json_name));
  }
  if (required->count > 0) jset(g, s, "required", required);
  if (m->deprecated) jset(g, s, "deprecated", jlit(g, "true"));
}

static void add_enum(doc *d, const cps_enum *e) {
  cpg_gen *g = d->g;
  if (jget(d->schemas, e->full_name)) return;
  jv *s = typed(g, "string", NULL);
  if (strcmp(e->full_name, "google.protobuf.NullValue") == 0) {
    s = jobj(g);
    jset(g, s, "nullable", jlit(g, "true"));
    jset_str(g, s, "description", "JSON null.");
    jset(g, d->schemas, e->full_name, s);
    return;
  }
  // The description: the enum's comments, then each value's.
  cps_buf text = {0};
  const char *doc_text = cpg_comment_text(g, &e->loc);
  if (doc_text) cps_buf_puts(&text, doc_text);
  jv *names = jarr(g);
  for (size_t i = 0; i < e->value_count; i++) {
    const cps_enum_value *v = &e->values[i];
    jpush(g, names, jstr(g, v->name));
    const char *vdoc = cpg_comment_text(g, &v->loc);
    if (vdoc || v->deprecated) {
      cps_buf_printf(&text, "%s- %s:%s%s%s", text.size ? "\n" : "", v->name,
                     v->deprecated ? " (deprecated)" : "", vdoc ? " " : "", vdoc ? vdoc : "");
    }
  }
  if (text.size) jset_str(g, s, "description", cps_pool_take(g->pool, &text));
  cps_buf_free(&text);
  jset(g, s, "enum", names);
  jset(g, d->schemas, e->full_name, s);
}

// google.rpc.Status as JSON: the body of every error.
static void add_status(doc *d) {
  cpg_gen *g = d->g;
  jv *s = typed(g, "object", NULL);
  jset_str(g, s, "description",
           "An error: google.rpc.Status in proto3 JSON (google/rpc/status.proto).");
  jv *props = jobj(g);
  jv *code = typed(g, "integer", "int32");
  jset_str(g, code, "description", "The gRPC status code (google.rpc.Code).");
  jset(g, props, "code", code);
  jv *message = typed(g, "string", NULL);
  jset_str(g, message, "description", "What went wrong, for a developer.");
  jset(g, props, "message", message);
  jv *details = typed(g, "array", NULL);
  jset(g, details, "items", ref(g, "google.protobuf.Any"));
  jset(g, props, "details", details);
  jset(g, s, "properties", props);
  jset(g, d->schemas, "google.rpc.Status", s);
  // Any, which details refers to, is built from its JSON form alone.
  static const cps_message any = {.name = "Any", .full_name = "google.protobuf.Any"};
  add_message(d, &any);
}

// ---- operations -------------------------------------------------------------------

// OpenAPI's operations; a custom kind other than these has no place there.
static const char *operation_key(cpg_gen *g, const cps_http_rule *r) {
  static const char *const verbs[] = {"GET",     "PUT",  "POST",  "DELETE",
                                      "OPTIONS", "HEAD", "PATCH", "TRACE"};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    if (strcmp(r->verb, verbs[i]) == 0) {
      char *key = cps_pool_strdup(g->pool, verbs[i]);
      for (char *p = key; *p; p++) *p = (char)(*p - 'A' + 'a');
      return key;
    }
  }
  return NULL;
}

// A variable's segments as a regular expression on its value.
static const char *var_pattern(cpg_gen *g, const cpay__tpl *t, const cpay__tpl_var *v) {
  cps_buf b = {0};
  cps_buf_puts(&b, "^");
  for (size_t i = v->first; i < v->first + v->count; i++) {
    const cpay__tpl_seg *s = &t->segs[i];
    if (i > v->first) cps_buf_puts(&b, "/");
    if (s->kind == CPAY__TPL_STAR) {
      cps_buf_puts(&b, "[^/]+");
    } else if (s->kind == CPAY__TPL_STARSTAR) {
      cps_buf_puts(&b, ".*");
    } else {
      for (size_t k = 0; k < s->len; k++) {
        if (strchr(".$()+", s->text[k])) cps_buf_puts(&b, "\\");
        cps_buf_append(&b, s->text + k, 1);
      }
    }
  }
  cps_buf_puts(&b, "$");
  return cps_pool_take(g->pool, &b);
}

static jv *parameter(cpg_gen *g, const char *name, const char *in, jv *schema,
                     const char *description) {
  jv *p = jobj(g);
  jset_str(g, p, "name", name);
  jset_str(g, p, "in", in);
  jset_str(g, p, "description", description);
  if (strcmp(in, "path") == 0) jset(g, p, "required", jlit(g, "true"));
  jset(g, p, "schema", schema);
  return p;
}

// What of the request the path and the body take.
typedef struct bound {
  const char **paths;  // proto field paths of the path variables
  size_t count;
  const cps_field *body;  // body: "field"
  bool whole_body;        // body: "*"
} bound;

static bool is_bound(const bound *b, const char *path) {
  for (size_t i = 0; i < b->count; i++) {
    if (strcmp(b->paths[i], path) == 0) return true;
  }
  return false;
}

typedef struct msg_stack {
  const cps_message *m;
  const struct msg_stack *up;
} msg_stack;

// Query parameters: every scalar, enum and well-known leaf of `m` (repeated
// ones too) below `proto`/`json` prefixes, not bound by the path or the
// body, through singular message fields, stopping where a message type
// recurs.
static void query_params(doc *d, const cps_message *m, const char *proto, const char *json,
                         const bound *b, const msg_stack *up, jv *params) {
  cpg_gen *g = d->g;
  msg_stack here = {m, up};
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    if (f == b->body || f->is_map) continue;
    const char *p = cpg_str(g, "%s%s", proto, f->name);
    const char *j = cpg_str(g, "%s%s", json, f->json_name);
    if (is_bound(b, p)) continue;
    bool leaf = !cpg_is_message(f) || cpg_http_wkt_leaf(f->message_type);
    if (!leaf) {
      bool seen = false;
      for (const msg_stack *s = &here; s; s = s->up) seen = seen || s->m == f->message_type;
      if (f->label != CPS_LABEL_REPEATED && !seen) {
        query_params(d, f->message_type, cpg_str(g, "%s.", p), cpg_str(g, "%s.", j), b, &here,
                     params);
      }
      continue;
    }
    jv *schema = value_schema(d, f);
    if (f->label == CPS_LABEL_REPEATED) {
      jv *a = typed(g, "array", NULL);
      jset(g, a, "items", schema);
      schema = a;
    }
    jv *param = parameter(g, j, "query", schema, cpg_comment_text(g, &f->loc));
    if (f->deprecated) jset(g, param, "deprecated", jlit(g, "true"));
    jpush(g, params, param);
  }
}

// The request body of a binding, or NULL.
static jv *request_body(doc *d, const cps_method *m, const bound *b) {
  cpg_gen *g = d->g;
  jv *schema;
  if (b->body) {
    schema = field_schema(d, b->body);
  } else if (!b->whole_body) {
    return NULL;
  } else {
    // The whole request but the fields the path sets (a nested one, such as
    // book.id, stays in its message's schema).
    const cps_field **skip = cps_pool_alloc(g->pool, (b->count + 1) * sizeof *skip);
    size_t nskip = 0;
    for (size_t i = 0; i < m->input->field_count; i++) {
      if (is_bound(b, m->input->fields[i].name)) skip[nskip++] = &m->input->fields[i];
    }
    add_message(d, m->input);
    if (nskip == 0) {
      schema = ref(g, m->input->full_name);
    } else {
      schema = typed(g, "object", NULL);
      jset_str(g, schema, "description",
               cpg_str(g, "%s without the fields the path sets.", m->input->full_name));
      jset(g, schema, "properties", properties(d, m->input, skip, nskip));
    }
  }
  jv *body = jobj(g);
  jset(g, body, "required", jlit(g, "true"));
  jv *content = jobj(g);
  jv *media = jobj(g);
  jset(g, media, "schema", schema);
  jset(g, content, "application/json", media);
  jset(g, body, "content", content);
  return body;
}

static jv *responses(doc *d, const cps_method *m, const cps_http_rule *r) {
  cpg_gen *g = d->g;
  jv *schema;
  if (r->response_body) {
    const cps_field *f = NULL;  // there is one: cpg_http_check said so
    for (size_t i = 0; i < m->output->field_count; i++) {
      if (strcmp(m->output->fields[i].name, r->response_body) == 0) f = &m->output->fields[i];
    }
    schema = field_schema(d, f);
  } else {
    add_message(d, m->output);
    schema = ref(g, m->output->full_name);
  }
  jv *ok = jobj(g);
  jv *content = jobj(g);
  jv *media = jobj(g);
  if (m->server_streaming) {
    jset_str(g, ok, "description",
             "A stream: one JSON object per line, {\"result\": message} for each message, "
             "then {\"error\": status} if the stream fails.");
    jv *line = typed(g, "object", NULL);
    jv *props = jobj(g);
    jset(g, props, "result", schema);
    jset(g, props, "error", ref(g, "google.rpc.Status"));
    jset(g, line, "properties", props);
    jset(g, media, "schema", line);
    jset(g, content, "application/x-ndjson", media);
  } else {
    jset_str(g, ok, "description", "OK");
    jset(g, media, "schema", schema);
    jset(g, content, "application/json", media);
  }
  jset(g, ok, "content", content);
  jv *error = jobj(g);
  jset_str(g, error, "description", "An error.");
  jv *econtent = jobj(g);
  jv *emedia = jobj(g);
  jset(g, emedia, "schema", ref(g, "google.rpc.Status"));
  jset(g, econtent, "application/json", emedia);
  jset(g, error, "content", econtent);
  jv *out = jobj(g);
  jset(g, out, "200", ok);
  jset(g, out, "default", error);
  return out;
}

// Adds binding `k` of method `m` to `paths`.
static void add_binding(doc *d, const cps_service *s, const cps_method *m, const cps_http_rule *r,
                        size_t k, jv *paths) {
  cpg_gen *g = d->g;
  const char *key = operation_key(g, r);
  if (key == NULL) return;  // a custom method OpenAPI cannot describe
  cpay__tpl t;
  cpay__tpl_error e;
  if (!cpay__tpl_parse(r->path, &t, &e)) return;  // reported by cpg_http_check
  cps_buf path = {0};
  jv *params = jarr(g);
  bound b = {cps_pool_alloc(g->pool, (t.var_count + 1) * sizeof *b.paths), t.var_count, NULL,
             r->body && strcmp(r->body, "*") == 0};
  for (size_t i = 0; i < t.seg_count; i++) {
    const cpay__tpl_seg *seg = &t.segs[i];
    if (seg->var >= 0 && t.vars[seg->var].first != i) continue;
    cps_buf_puts(&path, "/");
    if (seg->var < 0) {
      cps_buf_append(&path, seg->text, seg->len);
      continue;
    }
    const cpay__tpl_var *v = &t.vars[seg->var];
    const char *name = cps_pool_strndup(g->pool, v->field, v->len);
    b.paths[seg->var] = name;
    cps_buf_printf(&path, "{%s}", name);
    const char *err = NULL;
    const cps_field *f = cpg_http_field_path(g, m->input, v->field, v->len, &err);
    jv *schema = value_schema(d, f);
    const char *what = cpg_comment_text(g, &f->loc);
    if (v->count != 1 || v->first >= t.seg_count || t.segs[v->first].text != NULL) {
      // {name=a/*/b/**}: the value spans segments, slashes included.
      cps_buf segs = {0};
      for (size_t s2 = v->first; s2 < v->first + v->count; s2++) {
        cps_buf_printf(&segs, "%s%.*s", s2 > v->first ? "/" : "", (int)t.segs[s2].len,
                       t.segs[s2].text);
      }
      const char *note =
          cpg_str(g, "Matches %s (slashes included, not escaped).", cps_buf_str(&segs));
      cps_buf_free(&segs);
      what = what ? cpg_str(g, "%s\n%s", what, note) : note;
      if (!cpg_is_message(f) && f->type == CPS_TYPE_STRING) {
        jset_str(g, schema, "pattern", var_pattern(g, &t, v));
      }
    }
    jpush(g, params, parameter(g, name, "path", schema, what));
  }
  if (t.verb) cps_buf_printf(&path, ":%.*s", (int)t.verb_len, t.verb);
  if (r->body && !b.whole_body) {
    for (size_t i = 0; i < m->input->field_count; i++) {
      if (strcmp(m->input->fields[i].name, r->body) == 0) b.body = &m->input->fields[i];
    }
  }
  if (!b.whole_body) query_params(d, m->input, "", "", &b, NULL, params);

  jv *op = jobj(g);
  jv *tags = jarr(g);
  jpush(g, tags, jstr(g, s->name));
  jset(g, op, "tags", tags);
  jset_str(g, op, "description", cpg_comment_text(g, &m->loc));
  jset_str(g, op, "operationId",
           k == 0 ? cpg_str(g, "%s_%s", s->name, m->name)
                  : cpg_str(g, "%s_%s_%zu", s->name, m->name, k + 1));
  if (params->count > 0) jset(g, op, "parameters", params);
  jset(g, op, "requestBody", request_body(d, m, &b));
  jset(g, op, "responses", responses(d, m, r));
  if (m->deprecated) jset(g, op, "deprecated", jlit(g, "true"));

  const char *p = cps_pool_take(g->pool, &path);
  jv *item = jget(paths, p);
  if (item == NULL) {
    item = jobj(g);
    jset(g, paths, p, item);
  }
  // Two bindings with one path and verb are an error of cpg_http_check.
  if (!jget(item, key)) jset(g, item, key, op);
  cpay__tpl_free(&t);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// The members of `o` sorted by key.
static void sort_members(cpg_gen *g, jv *o) {
  const char **keys = cps_pool_alloc(g->pool, (o->count + 1) * sizeof *keys);
  memcpy(keys, o->keys, o->count * sizeof *keys);
  qsort(keys, o->count, sizeof *keys, cmp_keys);
  jv **vals = cps_pool_alloc(g->pool, (o->count + 1) * sizeof *vals);
  for (size_t i = 0; i < o->count; i++) vals[i] = jget(o, keys[i]);
  o->keys = keys;
  o->vals = vals;
  o->key_cap = o->cap = o->count;
}

static void gen_service(cpg_gen *g, const cps_service *s, cps_output *out) {
  doc d = {g, jobj(g)};
  jv *root = jobj(g);
  jset_str(g, root, "openapi", "3.0.3");
  jv *info = jobj(g);
  jset_str(g, info, "title", s->full_name);
  const char *what = cpg_comment_text(g, &s->loc);
  const char *note = cpg_str(g,
                             "REST/JSON bindings of %s (from its google.api.http options; "
                             "generated by protoc-gen-cpay from %s). Client and bidirectional "
                             "streaming methods are left out: gRPC serves them.",
                             s->full_name, g->file->name);
  jset_str(g, info, "description", what ? cpg_str(g, "%s\n\n%s", what, note) : note);
  jset_str(g, info, "version", "unversioned");
  jset(g, root, "info", info);
  jv *tags = jarr(g);
  jv *tag = jobj(g);
  jset_str(g, tag, "name", s->name);
  jset_str(g, tag, "description", what);
  jpush(g, tags, tag);
  jset(g, root, "tags", tags);
  jv *paths = jobj(g);
  add_status(&d);
  for (size_t i = 0; i < s->method_count; i++) {
    const cps_method *m = &s->methods[i];
    if (m->client_streaming) continue;
    const cps_http_rule **rules;
    size_t n = cpg_http_bindings(g, m, &rules);
    for (size_t k = 0; k < n; k++) add_binding(&d, s, m, rules[k], k, paths);
  }
  jset(g, root, "paths", paths);
  sort_members(g, d.schemas);
  jv *components = jobj(g);
  jset(g, components, "schemas", d.schemas);
  jset(g, root, "components", components);

  cps_buf text = {0};
  print_value(&text, root, 0);
  cps_buf_puts(&text, "\n");
  size_t len = strlen(g->file->name);
  if (len > 6 && strcmp(g->file->name + len - 6, ".proto") == 0) len -= 6;
  cps_output_add(out, cpg_str(g, "%.*s.%s.openapi.json", (int)len, g->file->name, s->name),
                 &text);
}

void cpg_gen_openapi(cpg_gen *g, cps_output *out) {
  for (size_t i = 0; i < g->file->service_count; i++) gen_service(g, &g->file->services[i], out);
}
