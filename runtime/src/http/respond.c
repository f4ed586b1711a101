// REST responses and errors in JSON, written by cpay_json_encode. A
// response_body that is not a message is written by encoding a message
// holding that field alone and keeping the member's value, so that the
// encoder stays the only writer of proto3 JSON values.
#include "http/respond.h"

#include <stdio.h>
#include <string.h>

#include "google/rpc/error_details.cpay.h"
#include "google/rpc/status.cpay.h"
#include "message/field.h"

int cpay__http_status_of(cpay_grpc_code code) {
  static const short kStatus[17] = {
      200,  // OK
      499,  // CANCELLED
      500,  // UNKNOWN
      400,  // INVALID_ARGUMENT
      504,  // DEADLINE_EXCEEDED
      404,  // NOT_FOUND
      409,  // ALREADY_EXISTS
      403,  // PERMISSION_DENIED
      429,  // RESOURCE_EXHAUSTED
      400,  // FAILED_PRECONDITION
      409,  // ABORTED
      400,  // OUT_OF_RANGE
      501,  // UNIMPLEMENTED
      500,  // INTERNAL
      503,  // UNAVAILABLE
      500,  // DATA_LOSS
      401,  // UNAUTHENTICATED
  };
  return (unsigned)code < 17 ? kStatus[code] : 500;
}

static cpay_code oom(cpay_arena *a, cpay_status *st) {
  return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(a));
}

// ---- responses -----------------------------------------------------------------------

// The JSON of a field of `type` holding its default (what the encoder
// leaves out without CPAY_JSON_EMIT_DEFAULTS).
static const char *default_json(const cpay_field *f, const cpay_enum_desc *e, uint32_t flags) {
  switch (f->mode & CPAY_MODE_MASK) {
    case CPAY_MODE_ARRAY:
      return "[]";
    case CPAY_MODE_MAP:
      return "{}";
    default:
      break;
  }
  switch (f->type) {
    case CPAY_TYPE_STRING:
    case CPAY_TYPE_BYTES:
      return "\"\"";
    case CPAY_TYPE_BOOL:
      return "false";
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_SINT64:
    case CPAY_TYPE_FIXED64:
    case CPAY_TYPE_SFIXED64:
      return "\"0\"";
    case CPAY_TYPE_ENUM:
      if (e && strcmp(e->full_name, "google.protobuf.NullValue") == 0) return "null";
      if (!(flags & CPAY_JSON_ENUMS_AS_INTS) && e && cpay_enum_name(e, 0)) return NULL;
      return "0";
    default:
      return "0";
  }
}

// The value of the one member of `json`, {"key":value} as the encoder
// writes it without indentation, into *out on `a`.
static cpay_code member_value(cpay_str json, cpay_arena *a, cpay_str *out, cpay_status *st) {
  const char *p = json.data, *end = json.data + json.size;
  const char *q1 = memchr(p, '"', json.size);
  const char *q2 = q1 ? memchr(q1 + 1, '"', (size_t)(end - q1 - 1)) : NULL;
  if (!q2 || q2 + 3 > end || q2[1] != ':' || end[-1] != '}') {
    return cpay_status_set(st, CPAY_ERR_INTERNAL, "unexpected JSON from the encoder: %.*s",
                           (int)(json.size > 64 ? 64 : json.size), json.data);
  }
  *out = cpay_str_dup(a, (cpay_str){q2 + 2, (size_t)(end - 1 - (q2 + 2))});
  return out->data ? CPAY_OK : oom(a, st);
}

cpay_code cpay__http_response_json(const cpay__http_binding *b, const void *resp,
                                   const cpay_json_encode_opts *opts, cpay_arena *a,
                                   cpay_str *out, cpay_status *st) {
  const cpay_msg_desc *desc = b->method->response_desc;
  const cpay__http_fpath *p = &b->response_body;
  if (p->count == 0) return cpay_json_encode(resp, desc, a, opts, out, st);
  // Down to the message holding the field; an unset message on the way
  // holds only defaults.
  const void *parent = resp;
  for (size_t k = 0; k + 1 < p->count && parent; k++) {
    const cpay__http_step *s = &p->steps[k];
    parent = *(void *const *)cpay__field_cptr(parent, &s->msg->table->fields[s->index]);
  }
  const cpay__http_step *s = &p->steps[p->count - 1];
  const cpay_field *f = &s->msg->table->fields[s->index];
  const cpay_msg_desc *sub = s->msg->msgs ? s->msg->msgs[s->index] : NULL;
  if ((f->mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR && cpay__type_is_msg(f->type)) {
    const void *m = parent ? *(void *const *)cpay__field_cptr(parent, f) : NULL;
    if (!m) m = cpay_msg_new(sub->table, a);
    if (!m) return oom(a, st);
    return cpay_json_encode(m, sub, a, opts, out, st);
  }
  // The field alone in a message of its parent's type, written compactly.
  void *alone = cpay_msg_new(s->msg->table, a);
  if (!alone) return oom(a, st);
  if (parent) {
    if ((f->mode & CPAY_MODE_MASK) != CPAY_MODE_SCALAR) {
      memcpy(cpay__field_ptr(alone, f), cpay__field_cptr(parent, f),
             (f->mode & CPAY_MODE_MASK) == CPAY_MODE_MAP ? sizeof(void *) : sizeof(cpay_array));
    } else if (cpay__field_has(parent, f)) {
      cpay__field_set(alone, f, cpay__field_cptr(parent, f));
    }
  }
  cpay_json_encode_opts o = opts ? *opts : (cpay_json_encode_opts){0};
  o.flags &= ~(uint32_t)CPAY_JSON_EMIT_DEFAULTS;
  o.indent = 0;
  cpay_str json;
  cpay_code c = cpay_json_encode(alone, s->msg, a, &o, &json, st);
  if (c) return c;
  if (json.size > 2) return member_value(json, a, out, st);
  // Empty: the field holds its default.
  const cpay_enum_desc *e = s->msg->enums ? s->msg->enums[s->index] : NULL;
  const char *d = default_json(f, e, o.flags);
  if (d) {
    *out = cpay_str_dup(a, cpay_str_from_c(d));
    return out->data ? CPAY_OK : oom(a, st);
  }
  const char *name = cpay_enum_name(e, 0);
  size_t n = strlen(name);
  char *buf = cpay_arena_malloc(a, n + 3);
  if (!buf) return oom(a, st);
  snprintf(buf, n + 3, "\"%s\"", name);
  *out = (cpay_str){buf, n + 2};
  return CPAY_OK;
}

// ---- errors --------------------------------------------------------------------------

cpay_registry *cpay__http_error_registry(cpay_arena *a, cpay_status *st) {
  cpay_registry *r = cpay_registry_new(a);
  if (!r || google_rpc_status_proto_register_types(r) != CPAY_OK ||
      google_rpc_error_details_proto_register_types(r) != CPAY_OK) {
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for the error detail types");
    return NULL;
  }
  return r;
}

// Whether detail `d` can be written: its type is in `reg` and its bytes
// decode as that type.
static bool detail_known(const cpay_rpc_detail *d, const cpay_registry *reg, cpay_arena *a) {
  cpay_str name;
  if (!reg || !cpay_any_type_name(d->type_url, &name)) return false;
  const cpay_msg_desc *t = cpay_registry_find(reg, name.data, name.size);
  if (!t) return false;
  void *msg = cpay_msg_new(t->table, a);
  return msg && cpay_decode(d->value.data, d->value.size, msg, t->table, a, NULL, NULL) == CPAY_OK;
}

cpay_code cpay__http_error_json(cpay_grpc_code code, cpay_str message,
                                const cpay_rpc_detail *details, size_t count,
                                const cpay_registry *registry, const cpay_json_encode_opts *opts,
                                cpay_arena *a, cpay_str *out, cpay_status *st) {
  google_rpc_Status *s = google_rpc_Status_new(a);
  if (!s) return oom(a, st);
  s->code = (int32_t)code;
  // The note on left-out details: the count, then their type URLs while
  // they fit.
  char note[256];
  size_t left_out = 0, nl = 0;
  for (size_t i = 0; i < count; i++) {
    if (detail_known(&details[i], registry, a)) {
      google_protobuf_Any *any = google_rpc_Status_add_details(s, a);
      if (!any) return oom(a, st);
      any->type_url = details[i].type_url;
      any->value = details[i].value;
      continue;
    }
    left_out++;
    int n = snprintf(note + nl, sizeof note - nl, "%s%.*s", nl ? ", " : "",
                     (int)(details[i].type_url.size > 96 ? 96 : details[i].type_url.size),
                     details[i].type_url.data);
    if (n > 0 && nl + (size_t)n < sizeof note) nl += (size_t)n;
  }
  s->message = message;
  if (left_out) {
    size_t cap = message.size + nl + 64;
    char *m = cpay_arena_malloc(a, cap);
    if (!m) return oom(a, st);
    int n = snprintf(m, cap, "%.*s (left out %zu error detail%s: %.*s)", (int)message.size,
                     message.data, left_out, left_out == 1 ? "" : "s", (int)nl, note);
    s->message = (cpay_str){m, n > 0 ? (size_t)n : 0};
  }
  cpay_json_encode_opts o = opts ? *opts : (cpay_json_encode_opts){0};
  o.registry = registry;
  return cpay_json_encode(s, &google_rpc_Status_desc, a, &o, out, st);
}

// ---- streaming ---------------------------------------------------------------------------

// "{\"<key>\":" + json + "}\n" on `a`.
static cpay_code stream_line(const char *key, cpay_str json, cpay_arena *a, cpay_str *out,
                             cpay_status *st) {
  size_t kl = strlen(key), n = kl + json.size + 6;
  char *buf = cpay_arena_malloc(a, n + 1);
  if (!buf) return oom(a, st);
  snprintf(buf, n + 1, "{\"%s\":%.*s}\n", key, (int)json.size, json.data);
  *out = (cpay_str){buf, n};
  return CPAY_OK;
}

cpay_code cpay__http_stream_result(const cpay__http_binding *b, const void *resp,
                                   const cpay_json_encode_opts *opts, cpay_arena *a,
                                   cpay_str *out, cpay_status *st) {
  cpay_json_encode_opts o = opts ? *opts : (cpay_json_encode_opts){0};
  o.indent = 0;
  cpay_str json;
  cpay_code c = cpay__http_response_json(b, resp, &o, a, &json, st);
  return c ? c : stream_line("result", json, a, out, st);
}

cpay_code cpay__http_stream_error(cpay_grpc_code code, cpay_str message,
                                  const cpay_rpc_detail *details, size_t count,
                                  const cpay_registry *registry, const cpay_json_encode_opts *opts,
                                  cpay_arena *a, cpay_str *out, cpay_status *st) {
  cpay_json_encode_opts o = opts ? *opts : (cpay_json_encode_opts){0};
  o.indent = 0;
  cpay_str json;
  cpay_code c = cpay__http_error_json(code, message, details, count, registry, &o, a, &json, st);
  return c ? c : stream_line("error", json, a, out, st);
}
