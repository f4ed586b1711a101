// The binder: a table of requests (path, query, body) against the bindings
// of fixtures.h, each with the request it must build (as JSON) or the
// error it must give; every binding kind and every error.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "http/bind.h"

Suite *bind_suite(void);

typedef struct bind_case {
  const char *verb, *path, *query, *body;
  cpay_code code;
  const char *want;  // the request as compact JSON, or the whole error
  size_t max_body;
  int max_depth;
} bind_case;

static const bind_case kBinds[] = {
    // Path variables: {var} and {a.b} (an additional binding).
    {"GET", "/v1/items/abc", "", "", CPAY_OK, "{\"optionalString\":\"abc\"}", 0, 0},
    {"GET", "/v1/shelves/7/items/a%20b", "", "", CPAY_OK,
     "{\"optionalString\":\"a b\",\"optionalNestedMessage\":{\"a\":7}}", 0, 0},
    {"GET", "/v1/projects/p1/items/x%2Fy/z", "", "", CPAY_OK,
     "{\"optionalString\":\"projects/p1/items/x%2Fy/z\"}", 0, 0},
    // Typed path variables: int, bool, enum by name and by number,
    // Timestamp, bytes (base64 with a percent-encoded '=').
    {"PUT", "/v1/typed/-5/true/BAR", "", "", CPAY_OK,
     "{\"optionalInt32\":-5,\"optionalBool\":true,\"optionalNestedEnum\":\"BAR\"}", 0, 0},
    {"PUT", "/v1/typed/5/false/2", "", "", CPAY_OK,
     "{\"optionalInt32\":5,\"optionalNestedEnum\":\"BAZ\"}", 0, 0},
    {"PUT", "/v1/when/2024-01-02T03:04:05.5Z", "", "", CPAY_OK,
     "{\"optionalTimestamp\":\"2024-01-02T03:04:05.500Z\"}", 0, 0},
    {"PUT", "/v1/text/aGk%3D", "", "", CPAY_OK, "{\"optionalBytes\":\"aGk=\"}", 0, 0},
    // Body "*": the whole request; path variables win over it.
    {"POST", "/v1/items", "", "{\"optionalInt32\":5,\"optional_string\":\"x\"}", CPAY_OK,
     "{\"optionalInt32\":5,\"optionalString\":\"x\"}", 0, 0},
    {"POST", "/v1/items/abc:cancel", "", "{\"optionalString\":\"zzz\",\"optionalInt32\":1}",
     CPAY_OK, "{\"optionalInt32\":1,\"optionalString\":\"abc\"}", 0, 0},
    {"POST", "/v1/items", "", "", CPAY_OK, "{}", 0, 0},
    // Body field: a message, a repeated field, a map, a scalar.
    {"PATCH", "/v1/items/abc", "", "{\"a\":3}", CPAY_OK,
     "{\"optionalString\":\"abc\",\"optionalNestedMessage\":{\"a\":3}}", 0, 0},
    {"PUT", "/v1/typed/1/true/FOO", "", " [1, 2,3] ", CPAY_OK,
     "{\"optionalInt32\":1,\"optionalBool\":true,\"repeatedInt32\":[1,2,3]}", 0, 0},
    {"PUT", "/v1/when/1970-01-01T00:00:00Z", "", "{\"k\":\"v\"}", CPAY_OK,
     "{\"mapStringString\":{\"k\":\"v\"},\"optionalTimestamp\":\"1970-01-01T00:00:00Z\"}", 0, 0},
    {"PUT", "/v1/text/", "", "", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, 0},  // (router: empty segment)
    {"PUT", "/v1/text/AA", "", "\"h\\u00e9 \\\"x\\\"\"", CPAY_OK,
     "{\"optionalString\":\"h\xc3\xa9 \\\"x\\\"\",\"optionalBytes\":\"AA==\"}", 0, 0},
    // No body: query parameters by proto and JSON name, nested, repeated
    // (in order), enums, bools, '+' and percent-encoding.
    {"GET", "/v1/items",
     "optionalInt32=5&optional_int64=-7&repeated_string=a&repeatedString=b+c&"
     "optionalNestedEnum=BAR&optional_bool=true&optional_nested_message.a=9&&",
     "", CPAY_OK,
     "{\"optionalInt32\":5,\"optionalInt64\":\"-7\",\"optionalBool\":true,"
     "\"optionalNestedMessage\":{\"a\":9},\"optionalNestedEnum\":\"BAR\","
     "\"repeatedString\":[\"a\",\"b c\"]}", 0, 0},
    {"GET", "/v1/items", "optional_nested_enum=-1&repeated_nested_enum=1&repeated_nested_enum=FOO",
     "", CPAY_OK, "{\"optionalNestedEnum\":\"NEG\",\"repeatedNestedEnum\":[\"BAR\",\"FOO\"]}", 0, 0},
    {"GET", "/v1/items", "optional_string=%E2%82%AC+x%26y%3D&optional_double=1.5&optional_float=NaN",
     "", CPAY_OK,
     "{\"optionalFloat\":\"NaN\",\"optionalDouble\":1.5,\"optionalString\":\"\xe2\x82\xac x&y=\"}", 0, 0},
    {"GET", "/v1/items", "optional_bytes=-_8&repeated_bytes=%2B%2F8%3D", "", CPAY_OK,
     "{\"optionalBytes\":\"+/8=\",\"repeatedBytes\":[\"+/8=\"]}", 0, 0},
    // Well-known types in their string forms.
    {"GET", "/v1/items",
     "optional_timestamp=2024-01-02T03:04:05Z&optional_duration=1.5s&optional_field_mask=a,bC&"
     "optional_int64_wrapper=5&optional_bool_wrapper=false&optional_string_wrapper=hi",
     "", CPAY_OK,
     "{\"optionalBoolWrapper\":false,\"optionalInt64Wrapper\":\"5\","
     "\"optionalStringWrapper\":\"hi\",\"optionalDuration\":\"1.500s\","
     "\"optionalTimestamp\":\"2024-01-02T03:04:05Z\",\"optionalFieldMask\":\"a,bC\"}", 0, 0},
    {"GET", "/v1/items", "flag", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'flag': protobuf_test_messages.proto3.TestAllTypesProto3 has no field "
     "'flag'", 0, 0},
    // Query errors.
    {"GET", "/v1/items", "optionalInt32=abc", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optionalInt32': invalid integer \"abc\"", 0, 0},
    {"GET", "/v1/items", "optional_int32=99999999999", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_int32': integer out of range: 99999999999", 0, 0},
    {"GET", "/v1/items", "optional_nested_enum=NOPE", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_nested_enum': unknown value \"NOPE\" of enum "
     "protobuf_test_messages.proto3.TestAllTypesProto3.NestedEnum", 0, 0},
    {"GET", "/v1/items", "optional_bool=yes", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_bool': expected true or false, got \"yes\"", 0, 0},
    {"GET", "/v1/items", "optional_timestamp=yesterday", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_timestamp': invalid timestamp \"yesterday\"", 0, 0},
    {"GET", "/v1/items", "optional_nested_message.zz=1", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_nested_message.zz': "
     "protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage has no field 'zz'", 0, 0},
    {"GET", "/v1/items", "optional_int32.a=1", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_int32.a': 'optional_int32' is not a singular message field of "
     "protobuf_test_messages.proto3.TestAllTypesProto3", 0, 0},
    {"GET", "/v1/items", "optional_nested_message=1", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_nested_message': the field is a message, which a query "
     "parameter cannot set", 0, 0},
    {"GET", "/v1/items", "map_string_string=1", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'map_string_string': the field is a map, which a query parameter cannot "
     "set", 0, 0},
    {"GET", "/v1/items", "optional_int32=1&optionalInt32=2", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_int32': 2 values for a field that is not repeated", 0, 0},
    {"GET", "/v1/items/abc", "optionalString=x", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optionalString': field 'optional_string' is set by the path", 0, 0},
    {"GET", "/v1/shelves/1/items/abc", "optional_nested_message.a=2", "",
     CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_nested_message.a': field 'optional_nested_message.a' is set by "
     "the path", 0, 0},
    {"PATCH", "/v1/items/abc", "optional_nested_message.a=1", "{}", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_nested_message.a': field 'optional_nested_message' is set by the "
     "body", 0, 0},
    {"POST", "/v1/items", "optional_int32=1", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_int32': the body sets every field (body \"*\")", 0, 0},
    {"GET", "/v1/items", "optional_string=%zz", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_string': bad percent-encoding at offset 16", 0, 0},
    {"GET", "/v1/items", "a=1&op%2", "", CPAY_ERR_INVALID_ARGUMENT,
     "query: bad percent-encoding at offset 6", 0, 0},
    {"GET", "/v1/items", "=x", "", CPAY_ERR_INVALID_ARGUMENT,
     "query: a parameter without a name at offset 0", 0, 0},
    {"GET", "/v1/items", "optional_string=%FF", "", CPAY_ERR_INVALID_ARGUMENT,
     "query parameter 'optional_string': invalid JSON: invalid UTF-8 in string", 0, 0},
    // Path variable errors.
    {"PUT", "/v1/typed/x/true/BAR", "", "", CPAY_ERR_INVALID_ARGUMENT,
     "path variable 'optional_int32': invalid integer \"x\"", 0, 0},
    {"PUT", "/v1/typed/1/maybe/BAR", "", "", CPAY_ERR_INVALID_ARGUMENT,
     "path variable 'optional_bool': expected true or false, got \"maybe\"", 0, 0},
    {"PUT", "/v1/typed/1/true/QUX", "", "", CPAY_ERR_INVALID_ARGUMENT,
     "path variable 'optional_nested_enum': unknown value \"QUX\" of enum "
     "protobuf_test_messages.proto3.TestAllTypesProto3.NestedEnum", 0, 0},
    {"PUT", "/v1/text/%21", "", "", CPAY_ERR_INVALID_ARGUMENT,
     "path variable 'optional_bytes': invalid base64", 0, 0},
    // Body errors: on a binding without one, bad JSON (offsets are the
    // body's, also for a wrapped field), more than one value, too large,
    // too deep.
    {"GET", "/v1/items", "", "{}", CPAY_ERR_INVALID_ARGUMENT,
     "body: GET /v1/items takes no body, got 2 bytes", 0, 0},
    {"POST", "/v1/items", "", "{\"optionalInt32\":\"x\"}", CPAY_ERR_INVALID_ARGUMENT,
     "body: $.optionalInt32: invalid integer \"x\" at offset 17", 0, 0},
    {"POST", "/v1/items", "", "{\"optionalInt32\":1", CPAY_ERR_INVALID_ARGUMENT,
     "body: $: invalid JSON: unterminated object at offset 18", 0, 0},
    {"PATCH", "/v1/items/abc", "", "{\"a\":true}", CPAY_ERR_INVALID_ARGUMENT,
     "body: $.a: expected an integer, got bool at offset 5", 0, 0},
    {"PUT", "/v1/typed/1/true/FOO", "", "[1,\"x\"]", CPAY_ERR_INVALID_ARGUMENT,
     "body: $.repeatedInt32[1]: invalid integer \"x\" at offset 3", 0, 0},
    {"PUT", "/v1/typed/1/true/FOO", "", "[1],\"optionalInt64\":2", CPAY_ERR_INVALID_ARGUMENT,
     "body: expected one JSON value for field 'repeated_int32'", 0, 0},
    {"PUT", "/v1/typed/1/true/FOO", "", "[1]]", CPAY_ERR_INVALID_ARGUMENT,
     "body: expected one JSON value for field 'repeated_int32'", 0, 0},
    {"PUT", "/v1/typed/1/true/FOO", "", "[1] [2]", CPAY_ERR_INVALID_ARGUMENT,
     "body: $: invalid JSON: expected ',' or '}' at offset 4", 0, 0},
    {"PUT", "/v1/text/AA", "", "\"a\\\"],\\\"b\"", CPAY_OK,
     "{\"optionalString\":\"a\\\"],\\\"b\",\"optionalBytes\":\"AA==\"}", 0, 0},
    {"POST", "/v1/items", "", "{\"optionalString\":\"0123456789\"}", CPAY_ERR_TOO_LARGE,
     "body: 31 bytes exceed the limit of 30", 30, 0},
    {"POST", "/v1/items", "", "{\"optionalString\":\"012345678\"}", CPAY_OK,
     "{\"optionalString\":\"012345678\"}", 30, 0},
    {"POST", "/v1/items", "",
     "{\"recursiveMessage\":{\"recursiveMessage\":{\"recursiveMessage\":{}}}}",
     CPAY_ERR_INVALID_ARGUMENT,
     "body: $.recursiveMessage.recursiveMessage.recursiveMessage: nesting deeper than 3 at "
     "offset 60",
     0, 3},
    {"POST", "/v1/items", "", "{\"recursiveMessage\":{\"recursiveMessage\":{}}}", CPAY_OK,
     "{\"recursiveMessage\":{\"recursiveMessage\":{}}}", 0, 3},
};

START_TEST(test_bind_table) {
  const bind_case *tc = &kBinds[_i];
  cpay__http_router *r = http_test_router();
  cpay_arena *a = cpay_arena_new();
  cpay__http_match m;
  cpay_status st = {0};
  cpay_code c = cpay__http_router_match(r, tc->verb, tc->path, strlen(tc->path), a, &m, NULL, &st);
  if (c == CPAY_OK) {
    cpay__http_bind_opts o = {.max_body = tc->max_body, .max_depth = tc->max_depth};
    void *req = NULL;
    c = cpay__http_bind(&m, tc->query, strlen(tc->query), tc->body, strlen(tc->body), &o, a, &req,
                        &st);
    if (c == CPAY_OK) {
      cpay_str json;
      ck_assert_int_eq(cpay_json_encode(req, &protobuf_test_messages_proto3_TestAllTypesProto3_desc,
                                        a, NULL, &json, &st),
                       CPAY_OK);
      ck_assert_msg(tc->code == CPAY_OK, "%s %s?%s: bound %s, want error %s", tc->verb, tc->path,
                    tc->query, json.data, tc->want);
      ck_assert_str_eq(json.data, tc->want);
    } else {
      ck_assert_ptr_null(req);
    }
  }
  ck_assert_msg(c == tc->code, "%s %s?%s: code %d (%s), want %d", tc->verb, tc->path, tc->query,
                c, st.msg, tc->code);
  if (c != CPAY_OK && tc->want) ck_assert_str_eq(st.msg, tc->want);
  cpay_arena_free(a);
  cpay__http_router_free(r);
}
END_TEST

// An arena that runs out while binding gives CPAY_ERR_NO_MEMORY, never a
// crash, at every limit.
START_TEST(test_bind_out_of_memory) {
  cpay__http_router *r = http_test_router();
  const char *path = "/v1/items";
  const char *query = "optional_nested_message.a=9&repeated_string=a&repeated_string=b&"
                      "optional_timestamp=2024-01-02T03:04:05Z";
  bool finished = false;
  for (size_t limit = 256; limit < 65536 && !finished; limit += 64) {
    cpay_arena_opts ao = {.max_bytes = limit};
    cpay_arena *a = cpay_arena_new_opts(&ao);
    if (!a) continue;
    cpay__http_match m;
    cpay_status st = {0};
    cpay_code c = cpay__http_router_match(r, "GET", path, strlen(path), a, &m, NULL, &st);
    if (c == CPAY_OK) {
      void *req;
      c = cpay__http_bind(&m, query, strlen(query), "", 0, NULL, a, &req, &st);
    }
    ck_assert_msg(c == CPAY_OK || c == CPAY_ERR_NO_MEMORY, "limit %zu: %d %s", limit, c, st.msg);
    finished = c == CPAY_OK;
    cpay_arena_free(a);
  }
  ck_assert(finished);
  cpay__http_router_free(r);
}
END_TEST

Suite *bind_suite(void) {
  Suite *s = suite_create("bind");
  TCase *tc = tcase_create("bind");
  tcase_add_loop_test(tc, test_bind_table, 0, (int)(sizeof kBinds / sizeof kBinds[0]));
  tcase_add_test(tc, test_bind_out_of_memory);
  suite_add_tcase(s, tc);
  return s;
}
