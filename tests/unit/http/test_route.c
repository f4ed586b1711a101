// The router: a table of requests against the bindings of fixtures.h (every
// template form, most-specific-wins, verbs, 404 / 405 / 400), and the
// errors of compiling bad rules.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

Suite *route_suite(void);

typedef struct route_case {
  const char *verb, *path;
  cpay_code code;
  const char *method;    // matched method, or the Allow list for 405
  size_t rule;           // matched rule index
  const char *captures;  // "field=value;..." in template order
} route_case;

static const route_case kRoutes[] = {
    // {var}, literal beats variable, percent-decoding of one segment.
    {"GET", "/v1/items/abc", CPAY_OK, "Get", 0, "optional_string=abc;"},
    {"GET", "/v1/items/special", CPAY_OK, "Special", 0, ""},
    {"GET", "/v1/items/a%20b", CPAY_OK, "Get", 0, "optional_string=a b;"},
    {"GET", "/v1/items/a%2Fb", CPAY_OK, "Get", 0, "optional_string=a/b;"},
    {"GET", "/v1/items/caf%C3%A9", CPAY_OK, "Get", 0, "optional_string=caf\xc3\xa9;"},
    // {a.b} in an additional binding.
    {"GET", "/v1/shelves/7/items/abc", CPAY_OK, "Get", 1,
     "optional_nested_message.a=7;optional_string=abc;"},
    // {name=projects/*/items/**}: multi-segment, "%2F" kept, "**" empty.
    {"GET", "/v1/projects/p1/items/x/y", CPAY_OK, "Resource", 0,
     "optional_string=projects/p1/items/x/y;"},
    {"GET", "/v1/projects/p%2F1/items/%41", CPAY_OK, "Resource", 0,
     "optional_string=projects/p%2F1/items/A;"},
    {"GET", "/v1/projects/p1/items", CPAY_OK, "Resource", 0, "optional_string=projects/p1/items;"},
    // "*" and "**" outside variables; a variable beats "**".
    {"GET", "/v1/any/zz/x", CPAY_OK, "Star", 0, ""},
    {"GET", "/v1/files/a/b/c", CPAY_OK, "Files", 0, ""},
    {"GET", "/v1/files", CPAY_OK, "Files", 0, ""},
    {"GET", "/v1/files/a", CPAY_OK, "FileOne", 0, "optionalString=a;"},
    // Literal paths by verb.
    {"GET", "/v1/items", CPAY_OK, "List", 0, ""},
    {"POST", "/v1/items", CPAY_OK, "Create", 0, ""},
    {"DELETE", "/v1/items/abc", CPAY_OK, "Delete", 0, "optional_string=abc;"},
    // Custom methods (":verb"); without the verb's rule the colon is data.
    {"POST", "/v1/items/abc:cancel", CPAY_OK, "Cancel", 0, "optional_string=abc;"},
    {"POST", "/v1/items:batch", CPAY_OK, "Batch", 0, ""},
    {"GET", "/v1/items/abc:cancel", CPAY_OK, "Get", 0, "optional_string=abc:cancel;"},
    {"GET", "/v1/items/a:b:cancel", CPAY_OK, "Get", 0, "optional_string=a:b:cancel;"},
    {"POST", "/v1/items/a:b:cancel", CPAY_OK, "Cancel", 0, "optional_string=a:b;"},
    // A literal holding ':' (written %3A in the template).
    {"GET", "/v1/a:b", CPAY_OK, "Colon", 0, ""},
    {"GET", "/v1/a%3ab", CPAY_OK, "Colon", 0, ""},
    // 405 with the verbs that would do, 404.
    {"PUT", "/v1/items/abc", CPAY_ERR_UNIMPLEMENTED, "GET, PATCH, DELETE", 0, NULL},
    {"GET", "/v1/items:batch", CPAY_ERR_UNIMPLEMENTED, "POST", 0, NULL},
    {"get", "/v1/items", CPAY_ERR_UNIMPLEMENTED, "GET, POST", 0, NULL},
    {"GET", "/v2/items", CPAY_ERR_NOT_FOUND, NULL, 0, NULL},
    {"GET", "/v1/items/abc/def", CPAY_ERR_NOT_FOUND, NULL, 0, NULL},
    {"GET", "/", CPAY_ERR_NOT_FOUND, NULL, 0, NULL},
    {"GET", "/v1/items:nosuch", CPAY_ERR_NOT_FOUND, NULL, 0, NULL},
    // Refused paths (400).
    {"GET", "/v1//items", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/items/", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/items/../x", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/./items", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/items/%2e%2E", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/items/%zz", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "/v1/items/ab%4", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "v1/items", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
    {"GET", "", CPAY_ERR_INVALID_ARGUMENT, NULL, 0, NULL},
};

START_TEST(test_route_table) {
  const route_case *tc = &kRoutes[_i];
  cpay__http_router *r = http_test_router();
  cpay_arena *a = cpay_arena_new();
  cpay__http_match m;
  cpay_str allow;
  cpay_status st = {0};
  cpay_code c = cpay__http_router_match(r, tc->verb, tc->path, strlen(tc->path), a, &m, &allow, &st);
  ck_assert_msg(c == tc->code, "%s %s: code %d (%s), want %d", tc->verb, tc->path, c, st.msg,
                tc->code);
  if (c == CPAY_OK) {
    ck_assert_str_eq(http_match_name(&m), tc->method);
    ck_assert_uint_eq(m.binding->rule_index, tc->rule);
    char got[512] = "";
    for (size_t i = 0; i < m.var_count; i++) {
      size_t n = strlen(got);
      snprintf(got + n, sizeof got - n, "%.*s=%.*s;", (int)m.vars[i].field->len,
               m.vars[i].field->text, (int)m.vars[i].value.size, m.vars[i].value.data);
    }
    ck_assert_str_eq(got, tc->captures);
  } else {
    ck_assert_msg(st.msg[0] != '\0', "an error must say why");
    if (c == CPAY_ERR_UNIMPLEMENTED) {
      ck_assert_str_eq(allow.data, tc->method);
    }
  }
  cpay_arena_free(a);
  cpay__http_router_free(r);
}
END_TEST

// Errors name the method, the rule and where in the template.
typedef struct bad_rule {
  cpay_http_rule rule;
  const char *want;  // the whole error
} bad_rule;

static const bad_rule kBadRules[] = {
    {{"GET", "/v1/{optional_string", NULL, NULL},
     "M: rule 0 (GET /v1/{optional_string): template offset 20: expected '}' to close the '{' "
     "at 4"},
    {{"GET", "/v1/{nosuch}", NULL, NULL},
     "M: rule 0 (GET /v1/{nosuch}): template offset 5: request "
     "protobuf_test_messages.proto3.TestAllTypesProto3 has no field 'nosuch'"},
    {{"GET", "/v1/{optional_nested_message.zz}", NULL, NULL},
     "M: rule 0 (GET /v1/{optional_nested_message.zz}): template offset 5: "
     "protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage has no field 'zz'"},
    {{"GET", "/v1/{optional_int32.x}", NULL, NULL},
     "M: rule 0 (GET /v1/{optional_int32.x}): template offset 5: 'optional_int32' is not a "
     "singular message field of protobuf_test_messages.proto3.TestAllTypesProto3"},
    {{"GET", "/v1/{repeated_string}", NULL, NULL},
     "M: rule 0 (GET /v1/{repeated_string}): template offset 5: field 'repeated_string' is a "
     "repeated field, which a path variable cannot set"},
    {{"GET", "/v1/{optional_nested_message}", NULL, NULL},
     "M: rule 0 (GET /v1/{optional_nested_message}): template offset 5: field "
     "'optional_nested_message' is a message, which a path variable cannot set"},
    {{"GET", "/v1/{map_string_string}", NULL, NULL},
     "M: rule 0 (GET /v1/{map_string_string}): template offset 5: field 'map_string_string' is "
     "a map, which a path variable cannot set"},
    {{"POST", "/v1/x", "nosuch", NULL},
     "M: rule 0 (POST /v1/x): body: request protobuf_test_messages.proto3.TestAllTypesProto3 "
     "has no field 'nosuch'"},
    {{"POST", "/v1/x", "*", "optional_nested_message.b"},
     "M: rule 0 (POST /v1/x): response_body: "
     "protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage has no field 'b'"},
    {{"", "/v1/x", NULL, NULL}, "M: rule 0 ( /v1/x): no HTTP verb"},
    {{"GET", "/v1/../x", NULL, NULL},
     "M: rule 0 (GET /v1/../x): template offset 4: '..' is not allowed as a path segment"},
    {{"GET", "v1/x", NULL, NULL},
     "M: rule 0 (GET v1/x): template offset 0: a path template starts with '/'"},
};

START_TEST(test_route_bad_rules) {
  const bad_rule *tc = &kBadRules[_i];
  // The bad rule second: the good one before it must not stay either.
  cpay_http_rule rules[2] = {{"GET", "/ok", NULL, NULL}, tc->rule};
  cpay_method m = kHttpMethods[0];
  m.name = "M";
  m.http_rules = rules + 1;
  m.http_rule_count = 1;
  cpay_status st = {0};
  cpay__http_router *r = cpay__http_router_new(&st);
  ck_assert_int_eq(cpay__http_router_add(r, &m, NULL, &st), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, tc->want);
  m.http_rules = rules;
  m.http_rule_count = 2;
  cpay_status_clear(&st);
  ck_assert_int_eq(cpay__http_router_add(r, &m, NULL, &st), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_uint_eq(cpay__http_router_count(r), 0);
  cpay__http_router_free(r);
}
END_TEST

START_TEST(test_route_needs_descriptions) {
  cpay_method m = kHttpMethods[0];
  m.request_desc = NULL;
  cpay_status st = {0};
  cpay__http_router *r = cpay__http_router_new(&st);
  ck_assert_int_eq(cpay__http_router_add(r, &m, NULL, &st), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, "Get: no JSON descriptions (generated with formats=binary?)");
  m = kHttpMethods[0];
  m.http_rule_count = 0;
  cpay_status_clear(&st);
  ck_assert_int_eq(cpay__http_router_add(r, &m, NULL, &st), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, "Get: no HTTP rules");
  cpay__http_router_free(r);
}
END_TEST

// The target given to router_add comes back, and string-form well-known
// types are accepted as variables.
START_TEST(test_route_target_and_wkt_vars) {
  cpay__http_router *r = http_test_router();
  cpay_arena *a = cpay_arena_new();
  cpay__http_match m;
  cpay_status st = {0};
  const char *p = "/v1/when/2024-01-02T03:04:05Z";
  ck_assert_int_eq(cpay__http_router_match(r, "PUT", p, strlen(p), a, &m, NULL, &st), CPAY_OK);
  ck_assert_str_eq(http_match_name(&m), "Typed");
  ck_assert_ptr_eq(m.binding->target, (void *)(uintptr_t)14);
  ck_assert_int_eq(m.binding->body_kind, CPAY__HTTP_BODY_FIELD);
  cpay_arena_free(a);
  cpay__http_router_free(r);
}
END_TEST

Suite *route_suite(void) {
  Suite *s = suite_create("route");
  TCase *tc = tcase_create("route");
  tcase_add_loop_test(tc, test_route_table, 0, (int)(sizeof kRoutes / sizeof kRoutes[0]));
  tcase_add_loop_test(tc, test_route_bad_rules, 0, (int)(sizeof kBadRules / sizeof kBadRules[0]));
  tcase_add_test(tc, test_route_needs_descriptions);
  tcase_add_test(tc, test_route_target_and_wkt_vars);
  suite_add_tcase(s, tc);
  return s;
}
