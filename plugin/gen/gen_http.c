// google.api.http bindings of a file's methods: the checks that make a bad
// option a protoc-style error, the list of a method's bindings (the route
// table of foo.cpay_grpc.c and the paths of the OpenAPI document both come
// from it) and the lookup of a field path in a message. Path templates are
// parsed by runtime/src/http/template.c, the parser the HTTP listener uses.
#include <string.h>

#include "gen/gen.h"
#include "http/template.h"

bool cpg_http_wkt_leaf(const cps_message *m) {
  static const char *const leaves[] = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue",
      "google.protobuf.Timestamp",   "google.protobuf.Duration",    "google.protobuf.FieldMask",
  };
  for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
    if (strcmp(m->full_name, leaves[i]) == 0) return true;
  }
  return false;
}

size_t cpg_http_bindings(cpg_gen *g, const cps_method *m, const cps_http_rule ***out) {
  const cps_http_rule *r = m->http;
  if (r == NULL) {
    cps_http_rule *d = cps_pool_alloc(g->pool, sizeof *d);
    d->verb = "POST";
    d->path = cpg_str(g, "/%s/%s", m->parent->full_name, m->name);
    d->body = "*";
    d->loc = m->loc;
    *out = cps_pool_alloc(g->pool, sizeof **out);
    (*out)[0] = d;
    return 1;
  }
  *out = cps_pool_alloc(g->pool, (r->additional_count + 1) * sizeof **out);
  (*out)[0] = r;
  for (size_t i = 0; i < r->additional_count; i++) (*out)[i + 1] = &r->additional[i];
  return r->additional_count + 1;
}

static const cps_field *find_field(const cps_message *m, const char *name, size_t len) {
  for (size_t i = 0; i < m->field_count; i++) {
    const cps_field *f = &m->fields[i];
    if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) return f;
  }
  return NULL;
}

const cps_field *cpg_http_field_path(cpg_gen *g, const cps_message *m, const char *path,
                                     size_t len, const char **err) {
  const char *end = path + len;
  for (const char *p = path;;) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = (size_t)((dot ? dot : end) - p);
    const cps_field *f = find_field(m, p, n);
    if (f == NULL) {
      *err = cpg_str(g, "%s has no field \"%.*s\"", m->full_name, (int)n, p);
      return NULL;
    }
    if (dot == NULL) {
      if (f->is_map) {
        *err = cpg_str(g, "%s is a map field", f->full_name);
      } else if (f->label == CPS_LABEL_REPEATED) {
        *err = cpg_str(g, "%s is a repeated field", f->full_name);
      } else if (cpg_is_message(f) && !cpg_http_wkt_leaf(f->message_type)) {
        *err = cpg_str(g,
                       "%s is a message field (a path variable takes a scalar, enum, string, "
                       "bytes, wrapper, Timestamp, Duration or FieldMask field)",
                       f->full_name);
      } else {
        return f;
      }
      return NULL;
    }
    if (!cpg_is_message(f) || f->label == CPS_LABEL_REPEATED) {
      *err = cpg_str(g, "%s is not a singular message field, so \"%.*s\" cannot go into it",
                     f->full_name, (int)len, path);
      return NULL;
    }
    m = f->message_type;
    p = dot + 1;
  }
}

// Reports one problem of rule `r` of method `m`; `which` names the rule.
static void rule_error(cpg_gen *g, const cps_method *m, const cps_http_rule *r, const char *which,
                       const char *msg) {
  cps_diag_error(g->diag, &r->loc, g->file->name, "%s: %s: %s", m->full_name, which, msg);
}

static bool is_verb(const cps_http_rule *r, const char *verb) {
  return !r->custom && strcmp(r->verb, verb) == 0;
}

static void check_rule(cpg_gen *g, const cps_method *m, const cps_http_rule *r, const char *which,
                       bool additional) {
  if (additional && r->additional_count > 0) {
    rule_error(g, m, r, which, "additional_bindings cannot have additional_bindings of their own");
  }
  if (r->verb == NULL) {
    rule_error(g, m, r, which, "no pattern: set one of get, put, post, delete, patch or custom");
    return;
  }
  if (r->custom && *r->verb == '\0') {
    rule_error(g, m, r, which, "custom pattern without a kind (the HTTP method)");
    return;
  }
  if (r->path == NULL) {
    rule_error(g, m, r, which, cpg_str(g, "%s pattern with an empty path template", r->verb));
    return;
  }
  cpay__tpl t;
  cpay__tpl_error e;
  if (!cpay__tpl_parse(r->path, &t, &e)) {
    rule_error(g, m, r, which,
               cpg_str(g, "path template \"%s\", at offset %zu: %s", r->path, e.offset, e.msg));
    return;
  }
  for (size_t i = 0; i < t.var_count; i++) {
    const char *err = NULL;
    if (!cpg_http_field_path(g, m->input, t.vars[i].field, t.vars[i].len, &err)) {
      rule_error(g, m, r, which,
                 cpg_str(g, "path variable \"%.*s\" of \"%s\": %s", (int)t.vars[i].len,
                         t.vars[i].field, r->path, err));
    }
  }
  cpay__tpl_free(&t);
  if (r->body && (is_verb(r, "GET") || is_verb(r, "DELETE"))) {
    rule_error(g, m, r, which,
               cpg_str(g, "%s cannot have a body (body: \"%s\")", r->verb, r->body));
  } else if (r->body && strcmp(r->body, "*") != 0 &&
             !find_field(m->input, r->body, strlen(r->body))) {
    rule_error(g, m, r, which,
               cpg_str(g, "body: %s has no field \"%s\"", m->input->full_name, r->body));
  }
  if (r->response_body && !find_field(m->output, r->response_body, strlen(r->response_body))) {
    rule_error(g, m, r, which,
               cpg_str(g, "response_body: %s has no field \"%s\"", m->output->full_name,
                       r->response_body));
  }
}

// What a binding matches: its verb and its template with the variables
// replaced by the segments they take ("POST /v1/*/items/**:cancel"); NULL
// when the template does not parse (check_rule reports it).
static const char *binding_shape(cpg_gen *g, const cps_http_rule *r) {
  cpay__tpl t;
  cpay__tpl_error e;
  if (r->verb == NULL || r->path == NULL || !cpay__tpl_parse(r->path, &t, &e)) return NULL;
  const char *shape = r->verb;
  for (size_t i = 0; i < t.seg_count; i++) {
    const cpay__tpl_seg *sg = &t.segs[i];
    shape = sg->kind == CPAY__TPL_LITERAL
                ? cpg_str(g, "%s%s%.*s", shape, i ? "/" : " /", (int)sg->len, sg->text)
                : cpg_str(g, "%s%s%s", shape, i ? "/" : " /",
                          sg->kind == CPAY__TPL_STAR ? "*" : "**");
  }
  if (t.verb) shape = cpg_str(g, "%s:%.*s", shape, (int)t.verb_len, t.verb);
  cpay__tpl_free(&t);
  return shape;
}

// Two bindings of a service that match the same requests: the listener
// would always pick the first, so the second could never be called.
static void check_collisions(cpg_gen *g, const cps_service *svc) {
  size_t n = 0;
  for (size_t i = 0; i < svc->method_count; i++) {
    const cps_http_rule **rules;
    n += cpg_http_bindings(g, &svc->methods[i], &rules);
  }
  const char **shapes = cps_pool_alloc(g->pool, (n ? n : 1) * sizeof *shapes);
  const cps_method **owners = cps_pool_alloc(g->pool, (n ? n : 1) * sizeof *owners);
  size_t k = 0;
  for (size_t i = 0; i < svc->method_count; i++) {
    const cps_method *m = &svc->methods[i];
    const cps_http_rule **rules;
    size_t count = cpg_http_bindings(g, m, &rules);
    for (size_t r = 0; r < count; r++) {
      const char *shape = binding_shape(g, rules[r]);
      if (shape == NULL) continue;
      for (size_t j = 0; j < k; j++) {
        if (strcmp(shapes[j], shape) != 0) continue;
        rule_error(g, m, rules[r], "google.api.http",
                   cpg_str(g, "%s %s matches the same requests as a binding of %s, "
                              "which would always be chosen",
                           rules[r]->verb, rules[r]->path, owners[j]->full_name));
        break;
      }
      shapes[k] = shape;
      owners[k++] = m;
    }
  }
}

void cpg_http_check(cpg_gen *g) {
  for (size_t s = 0; s < g->file->service_count; s++) {
    const cps_service *svc = &g->file->services[s];
    for (size_t i = 0; i < svc->method_count; i++) {
      const cps_method *m = &svc->methods[i];
      if (m->http == NULL) continue;
      check_rule(g, m, m->http, "google.api.http", false);
      for (size_t k = 0; k < m->http->additional_count; k++) {
        check_rule(g, m, &m->http->additional[k],
                   cpg_str(g, "google.api.http additional_bindings[%zu]", k), true);
      }
    }
    check_collisions(g, svc);
  }
}
