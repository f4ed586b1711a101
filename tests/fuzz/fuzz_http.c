// Fuzz targets for what the HTTP listener reads from clients (issue 18):
//
// - http_route (CPAY_FUZZ_HTTP=1): a google.api.http rule and a request
//   against it. The input is four lines and a rest: a path template, a body
//   rule ("" none, "*", or a field path), a response_body, the request
//   target ("/path?query"), then the body. The rule is compiled (template
//   parser, field resolution) beside fixed bindings of every form; the
//   request is matched and bound, and the request built is encoded again.
//   Failures must say why, with the codes the listener maps to statuses.
//   Done twice: in a roomy arena and in one of 4 KiB.
// - grpcweb (CPAY_FUZZ_HTTP=2): a gRPC-Web request body. The first byte
//   picks binary or text and whether compressed frames are allowed, the
//   second seeds the chunk sizes; the rest is the body. Read whole and in
//   chunks, the messages and the outcome (code and message) must be the
//   same. The body's first bytes are also tried as a grpc-timeout and a
//   Content-Type.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/bind.h"
#include "http/grpcweb.h"
#include "http/respond.h"
#include "http/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_status *st) {
  fprintf(stderr, "fuzz_http: %s: %s\n", what, cpay_status_msg(st));
  abort();
}

#if CPAY_FUZZ_HTTP == 1

#include "test_messages_proto3.cpay.h"

#define DESC &protobuf_test_messages_proto3_TestAllTypesProto3_desc

static const cpay_http_rule kFixed[] = {
    {"GET", "/v1/items/{optional_string}", NULL, NULL},
    {"GET", "/v1/shelves/{optional_nested_message.a}/items/{optional_int32}", NULL,
     "repeated_string"},
    {"POST", "/v1/items", "*", NULL},
    {"PATCH", "/v1/items/{optional_string}", "optional_nested_message", "optional_int64"},
    {"GET", "/v1/{optional_string=projects/*/items/**}", NULL, NULL},
    {"POST", "/v1/items/{optional_string}:cancel", "repeated_int32", NULL},
    {"PUT", "/v1/files/**", "map_string_string", NULL},
    {"GET", "/v1/any/*/{optional_timestamp}:get", NULL, "optional_nested_enum"},
};

static cpay_method method(const char *name, const cpay_http_rule *rules, size_t n) {
  cpay_method m = {0};
  m.path = "/t.Svc/M";
  m.name = name;
  m.request = &protobuf_test_messages_proto3_TestAllTypesProto3_table;
  m.response = m.request;
  m.request_desc = DESC;
  m.response_desc = DESC;
  m.http_rules = rules;
  m.http_rule_count = n;
  return m;
}

// The next '\n'-terminated line of data[*pos..size) as a C string
// (malloc'ed); the rest when there is no '\n'.
static char *line(const uint8_t *data, size_t size, size_t *pos) {
  size_t start = *pos, end = start;
  while (end < size && data[end] != '\n') end++;
  char *s = malloc(end - start + 1);
  if (!s) abort();
  memcpy(s, data + start, end - start);
  s[end - start] = '\0';
  *pos = end < size ? end + 1 : end;
  return s;
}

static void one_request(cpay__http_router *r, const char *verb, const char *target,
                        const uint8_t *body, size_t body_len, size_t limit) {
  cpay_arena_opts ao = {.max_bytes = limit};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  size_t tl = strlen(target);
  const char *q = memchr(target, '?', tl);
  size_t path_len = q ? (size_t)(q - target) : tl;
  cpay__http_match m;
  cpay_str allow;
  cpay_status st = {0};
  cpay_code c = cpay__http_router_match(r, verb, target, path_len, a, &m, &allow, &st);
  if (c != CPAY_OK) {
    if (c != CPAY_ERR_NOT_FOUND && c != CPAY_ERR_UNIMPLEMENTED && c != CPAY_ERR_INVALID_ARGUMENT &&
        c != CPAY_ERR_NO_MEMORY) {
      fail("an unexpected match code", &st);
    }
    if (!st.msg[0]) fail("a refused path must say why", &st);
    if (c == CPAY_ERR_UNIMPLEMENTED && (!allow.data || !allow.size)) fail("405 without verbs", &st);
    cpay_arena_free(a);
    return;
  }
  for (size_t i = 0; i < m.var_count; i++) {
    if (m.vars[i].value.size && !m.vars[i].value.data) fail("a capture without text", &st);
  }
  cpay__http_bind_opts bo = {.max_body = 4096, .max_depth = 16};
  void *req = NULL;
  c = cpay__http_bind(&m, q ? q + 1 : "", q ? tl - path_len - 1 : 0, (const char *)body, body_len,
                      &bo, a, &req, &st);
  if (c != CPAY_OK) {
    if (c != CPAY_ERR_INVALID_ARGUMENT && c != CPAY_ERR_TOO_LARGE && c != CPAY_ERR_NO_MEMORY) {
      fail("an unexpected bind code", &st);
    }
    if (!st.msg[0] || req) fail("a refused request must say why, and build nothing", &st);
    cpay_arena_free(a);
    return;
  }
  // What was bound is a message like any other.
  cpay_bytes wire;
  cpay_status est = {0};
  c = cpay_encode(req, m.binding->method->request_desc->table, a, NULL, &wire, &est);
  if (c != CPAY_OK && c != CPAY_ERR_NO_MEMORY) fail("encoding the bound request", &est);
  cpay_str json;
  cpay_status jst = {0};
  c = cpay__http_response_json(m.binding, req, NULL, a, &json, &jst);
  if (c == CPAY_OK && json.data[json.size] != '\0') fail("unterminated response JSON", &jst);
  cpay_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  char *tpl = line(data, size, &pos);
  char *body_rule = line(data, size, &pos);
  char *resp_rule = line(data, size, &pos);
  char *target = line(data, size, &pos);
  cpay_status st = {0};
  cpay__http_router *r = cpay__http_router_new(&st);
  if (!r) abort();
  cpay_method fixed = method("Fixed", kFixed, sizeof kFixed / sizeof kFixed[0]);
  if (cpay__http_router_add(r, &fixed, NULL, &st) != CPAY_OK) fail("the fixed rules", &st);
  cpay_http_rule rule = {body_rule[0] ? "POST" : "GET", tpl, body_rule[0] ? body_rule : NULL,
                         resp_rule[0] ? resp_rule : NULL};
  cpay_method fuzzed = method("Fuzzed", &rule, 1);
  cpay_status rst = {0};
  cpay_code c = cpay__http_router_add(r, &fuzzed, NULL, &rst);
  if (c != CPAY_OK && (c != CPAY_ERR_INVALID_ARGUMENT || !rst.msg[0])) {
    fail("a refused rule must say why", &rst);
  }
  // The template parser's own promises.
  cpay__tpl t;
  cpay__tpl_error err;
  if (cpay__tpl_parse(tpl, &t, &err)) {
    for (size_t v = 0; v < t.var_count; v++) {
      if (t.vars[v].first + t.vars[v].count > t.seg_count || t.vars[v].count == 0) abort();
    }
    cpay__tpl_free(&t);
  } else if (!err.msg[0] || err.offset > strlen(tpl)) {
    abort();
  }
  const char *verbs[] = {"GET", "POST", "PUT", "PATCH"};
  const char *verb = verbs[size % 4];
  one_request(r, verb, target, data + pos, size - pos, 64u << 20);
  one_request(r, verb, target, data + pos, size - pos, 4096);
  cpay__http_router_free(r);
  free(tpl);
  free(body_rule);
  free(resp_rule);
  free(target);
  return 0;
}

#elif CPAY_FUZZ_HTTP == 2

// A digest of what a reader delivered.
typedef struct digest {
  uint64_t h;
  size_t count;
  size_t max;
} digest;

static cpay_code take(void *ctx, const uint8_t *msg, size_t len, bool compressed,
                      cpay_status *st) {
  digest *d = ctx;
  if (len > d->max) {
    cpay_status s = {CPAY_ERR_INTERNAL, "a message above the limit"};
    fail("reading", &s);
  }
  d->h = (d->h ^ (len + 1) ^ (compressed ? 0x100 : 0)) * 1099511628211u;
  for (size_t i = 0; i < len; i++) d->h = (d->h ^ msg[i]) * 1099511628211u;
  d->count++;
  (void)st;
  return CPAY_OK;
}

// Reads `body` in chunks (all at once when seed is 0); the outcome's code.
static cpay_code read_body(cpay__grpcweb_kind kind, bool compressed, const uint8_t *body,
                           size_t len, unsigned seed, digest *d, cpay_status *st) {
  cpay_arena_opts ao = {.max_bytes = 1u << 20};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay__grpcweb_reader r;
  cpay__grpcweb_reader_init(&r, kind, d->max, compressed, a);
  size_t pos = 0;
  cpay_code c = CPAY_OK;
  uint32_t x = seed * 2654435761u + 1;
  while (pos < len && !c) {
    size_t n = len - pos;
    if (seed) {
      x = x * 1103515245u + 12345u;
      size_t k = 1 + (x >> 16) % 7;
      if (k < n) n = k;
    }
    c = cpay__grpcweb_reader_feed(&r, body + pos, n, take, d, st);
    pos += n;
  }
  if (!c) c = cpay__grpcweb_reader_finish(&r, take, d, st);
  cpay_arena_free(a);
  return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  cpay__grpcweb_kind kind = data[0] & 1 ? CPAY__GRPCWEB_TEXT : CPAY__GRPCWEB_BINARY;
  bool compressed = data[0] & 2;
  unsigned seed = data[1] | 1u;
  const uint8_t *body = data + 2;
  size_t len = size - 2;
  size_t max = data[0] & 4 ? 64 : 4096;
  digest whole = {.h = 14695981039346656037u, .max = max};
  digest parts = whole;
  cpay_status st1 = {0}, st2 = {0};
  cpay_code c1 = read_body(kind, compressed, body, len, 0, &whole, &st1);
  cpay_code c2 = read_body(kind, compressed, body, len, seed, &parts, &st2);
  if (c1 != c2 || strcmp(st1.msg, st2.msg) != 0) fail("chunks changed the outcome", &st2);
  if (c1 == CPAY_OK && (whole.h != parts.h || whole.count != parts.count)) {
    fail("chunks changed the messages", &st2);
  }
  if (c1 != CPAY_OK && (!st1.msg[0] || (c1 != CPAY_ERR_INVALID_ARGUMENT && c1 != CPAY_ERR_TOO_LARGE &&
                                        c1 != CPAY_ERR_NO_MEMORY))) {
    fail("a refused body must say why", &st1);
  }
  int64_t ms;
  cpay_status tst = {0};
  if (cpay__grpc_timeout_ms((const char *)body, len < 12 ? len : 12, &ms, &tst) == CPAY_OK &&
      ms < 0) {
    fail("a negative timeout", &tst);
  }
  cpay__grpcweb_kind k;
  cpay_status cst = {0};
  if (cpay__grpcweb_content_type((const char *)body, len < 64 ? len : 64, &k, &cst) != CPAY_OK &&
      (!cst.msg[0] || k != CPAY__GRPCWEB_NONE)) {
    fail("a refused content type must say why", &cst);
  }
  // A frame written from the body reads back as one message.
  cpay_arena *a = cpay_arena_new();
  if (!a) abort();
  cpay_bytes frame;
  cpay_status wst = {0};
  if (cpay__grpcweb_data_frame(body, len, kind, a, &frame, &wst) == CPAY_OK) {
    digest back = {.h = 14695981039346656037u, .max = len};
    cpay_status bst = {0};
    if (read_body(kind, false, frame.data, frame.size, seed, &back, &bst) != CPAY_OK ||
        back.count != 1) {
      fail("a written frame does not read back", &bst);
    }
  }
  cpay_md md = {{(const char *)body, len < 16 ? len : 16}, {(const char *)body, len}};
  cpay_bytes tr;
  cpay_status tst2 = {0};
  cpay_code tc = cpay__grpcweb_trailers(CPAY_GRPC_INTERNAL, (cpay_str){(const char *)body, len},
                                        &md, 1, kind, a, &tr, &tst2);
  if (tc != CPAY_OK && (tc != CPAY_ERR_INVALID_ARGUMENT || !tst2.msg[0])) {
    fail("refused trailers must say why", &tst2);
  }
  cpay_arena_free(a);
  return 0;
}

#else
#error "define CPAY_FUZZ_HTTP to 1 or 2"
#endif
