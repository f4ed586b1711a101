// Responses: HTTP statuses of gRPC codes, the response body (whole or
// response_body), the google.rpc.Status error body with its details, and
// the lines of a server-streaming response.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "cpay/grpc_details.h"
#include "fixtures.h"
#include "http/respond.h"

Suite *respond_suite(void);

START_TEST(test_respond_status_of) {
  static const int want[17] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                               400, 409, 400, 501, 500, 503, 500, 401};
  for (int c = 0; c < 17; c++) {
    ck_assert_int_eq(cpay__http_status_of((cpay_grpc_code)c), want[c]);
  }
  ck_assert_int_eq(cpay__http_status_of((cpay_grpc_code)17), 500);
  ck_assert_int_eq(cpay__http_status_of((cpay_grpc_code)-1), 500);
}
END_TEST

// The binding of method `name`, rule `rule`, from the fixtures' router.
static const cpay__http_binding *binding(cpay__http_router *r, cpay_arena *a, const char *path) {
  cpay__http_match m;
  cpay_status st = {0};
  ck_assert_msg(cpay__http_router_match(r, "GET", path, strlen(path), a, &m, NULL, &st) == CPAY_OK,
                "%s", st.msg);
  return m.binding;
}

typedef struct resp_case {
  const char *path;  // a GET binding of fixtures.h
  bool filled;       // the response has values, or is empty
  uint32_t flags;
  const char *want;
} resp_case;

static const resp_case kResponses[] = {
    {"/v1/items", true, 0,
     "{\"optionalInt64\":\"5\",\"optionalNestedMessage\":{\"a\":7},\"optionalNestedEnum\":\"BAR\","
     "\"repeatedString\":[\"a\",\"b\"]}"},
    {"/v1/items", true, CPAY_JSON_PROTO_NAMES | CPAY_JSON_ENUMS_AS_INTS,
     "{\"optional_int64\":\"5\",\"optional_nested_message\":{\"a\":7},\"optional_nested_enum\":1,"
     "\"repeated_string\":[\"a\",\"b\"]}"},
    {"/v1/items", false, 0, "{}"},
    {"/v1/tags", true, 0, "[\"a\",\"b\"]"},
    {"/v1/tags", false, 0, "[]"},
    {"/v1/nested", true, 0, "{\"a\":7}"},
    {"/v1/nested", false, 0, "{}"},
    {"/v1/nested", false, CPAY_JSON_EMIT_DEFAULTS, "{\"a\":0}"},
    {"/v1/count", true, 0, "\"5\""},
    {"/v1/count", false, 0, "\"0\""},
    {"/v1/kind", true, 0, "\"BAR\""},
    {"/v1/kind", false, 0, "\"FOO\""},
    {"/v1/kind", false, CPAY_JSON_ENUMS_AS_INTS, "0"},
};

static T3 *filled_response(cpay_arena *a) {
  T3 *m = protobuf_test_messages_proto3_TestAllTypesProto3_new(a);
  m->optional_int64 = 5;
  m->optional_nested_enum = 1;
  m->optional_nested_message = protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage_new(a);
  m->optional_nested_message->a = 7;
  cpay_str *s = cpay__array_add(&m->repeated_string, sizeof(cpay_str), a);
  *s = CPAY_STR("a");
  s = cpay__array_add(&m->repeated_string, sizeof(cpay_str), a);
  *s = CPAY_STR("b");
  return m;
}

START_TEST(test_respond_body) {
  const resp_case *tc = &kResponses[_i];
  cpay__http_router *r = http_test_router();
  cpay_arena *a = cpay_arena_new();
  const cpay__http_binding *b = binding(r, a, tc->path);
  T3 *resp = tc->filled ? filled_response(a) : protobuf_test_messages_proto3_TestAllTypesProto3_new(a);
  cpay_json_encode_opts o = {.flags = tc->flags};
  cpay_str out;
  cpay_status st = {0};
  ck_assert_msg(cpay__http_response_json(b, resp, &o, a, &out, &st) == CPAY_OK, "%s", st.msg);
  ck_assert_str_eq(out.data, tc->want);
  ck_assert_uint_eq(out.size, strlen(tc->want));
  // The streamed form: the same on one line, wrapped.
  o.indent = 2;
  ck_assert_int_eq(cpay__http_stream_result(b, resp, &o, a, &out, &st), CPAY_OK);
  char line[512];
  snprintf(line, sizeof line, "{\"result\":%s}\n", tc->want);
  ck_assert_str_eq(out.data, line);
  ck_assert_uint_eq(out.size, strlen(line));
  cpay_arena_free(a);
  cpay__http_router_free(r);
}
END_TEST

// A serialized detail of `t`.
static cpay_rpc_detail detail(const char *url, const cpay_msg_table *t, const void *msg,
                              cpay_arena *a) {
  cpay_rpc_detail d = {cpay_str_from_c(url), {NULL, 0}};
  if (t) ck_assert_int_eq(cpay_encode(msg, t, a, NULL, &d.value, NULL), CPAY_OK);
  return d;
}

START_TEST(test_respond_error_json) {
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_registry *reg = cpay__http_error_registry(a, &st);
  ck_assert_ptr_nonnull(reg);
  google_rpc_BadRequest *br = google_rpc_BadRequest_new(a);
  google_rpc_BadRequest_FieldViolation *v = google_rpc_BadRequest_add_field_violations(br, a);
  v->field = CPAY_STR("amount_cents");
  v->description = CPAY_STR("must be positive");
  google_rpc_ErrorInfo *info = google_rpc_ErrorInfo_new(a);
  info->reason = CPAY_STR("AMOUNT");
  cpay_rpc_detail ds[4] = {
      detail("type.googleapis.com/google.rpc.BadRequest", &google_rpc_BadRequest_table, br, a),
      detail("type.googleapis.com/acme.Unknown", &google_rpc_ErrorInfo_table, info, a),
      detail("type.googleapis.com/google.rpc.ErrorInfo", &google_rpc_ErrorInfo_table, info, a),
      {CPAY_STR("type.googleapis.com/google.rpc.Help"), {(const uint8_t *)"\x0a\x05x", 3}},
  };
  cpay_str out;
  ck_assert_int_eq(cpay__http_error_json(CPAY_GRPC_INVALID_ARGUMENT, CPAY_STR("invalid charge"),
                                         ds, 1, reg, NULL, a, &out, &st),
                   CPAY_OK);
  ck_assert_str_eq(out.data,
                   "{\"code\":3,\"message\":\"invalid charge\",\"details\":[{\"@type\":"
                   "\"type.googleapis.com/google.rpc.BadRequest\",\"fieldViolations\":[{\"field\":"
                   "\"amount_cents\",\"description\":\"must be positive\"}]}]}");
  // Unknown types and undecodable bytes are left out, and said so.
  ck_assert_int_eq(cpay__http_error_json(CPAY_GRPC_FAILED_PRECONDITION, CPAY_STR("no"), ds, 4, reg,
                                         NULL, a, &out, &st),
                   CPAY_OK);
  ck_assert_str_eq(out.data,
                   "{\"code\":9,\"message\":\"no (left out 2 error details: "
                   "type.googleapis.com/acme.Unknown, type.googleapis.com/google.rpc.Help)\","
                   "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
                   "\"fieldViolations\":[{\"field\":\"amount_cents\",\"description\":\"must be "
                   "positive\"}]},{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
                   "\"reason\":\"AMOUNT\"}]}");
  // Without a registry every detail is unknown; the message escapes.
  ck_assert_int_eq(cpay__http_error_json(CPAY_GRPC_NOT_FOUND, CPAY_STR("no \"x\"\n"), ds, 1, NULL,
                                         NULL, a, &out, &st),
                   CPAY_OK);
  ck_assert_str_eq(out.data,
                   "{\"code\":5,\"message\":\"no \\\"x\\\"\\n (left out 1 error detail: "
                   "type.googleapis.com/google.rpc.BadRequest)\"}");
  // The streamed error, on one line whatever the indentation asked.
  cpay_json_encode_opts o = {.indent = 2};
  ck_assert_int_eq(cpay__http_stream_error(CPAY_GRPC_UNAVAILABLE, CPAY_STR("gone"), NULL, 0, reg,
                                           &o, a, &out, &st),
                   CPAY_OK);
  ck_assert_str_eq(out.data, "{\"error\":{\"code\":14,\"message\":\"gone\"}}\n");
  cpay_arena_free(a);
}
END_TEST

Suite *respond_suite(void) {
  Suite *s = suite_create("respond");
  TCase *tc = tcase_create("respond");
  tcase_add_test(tc, test_respond_status_of);
  tcase_add_loop_test(tc, test_respond_body, 0, (int)(sizeof kResponses / sizeof kResponses[0]));
  tcase_add_test(tc, test_respond_error_json);
  suite_add_tcase(s, tc);
  return s;
}
