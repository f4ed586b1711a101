// The methods of fixtures.h.
#include "fixtures.h"

#include <check.h>
#include <stdint.h>

#define DESC &protobuf_test_messages_proto3_TestAllTypesProto3_desc
#define METHOD(n, rules)                                                                    \
  {.path = "/t.Svc/" n, .name = n, .kind = CPAY_METHOD_UNARY,                               \
   .request = &protobuf_test_messages_proto3_TestAllTypesProto3_table,                      \
   .response = &protobuf_test_messages_proto3_TestAllTypesProto3_table, .request_desc = DESC, \
   .response_desc = DESC, .http_rules = rules, .http_rule_count = sizeof rules / sizeof rules[0]}

static const cpay_http_rule kGet[] = {
    {"GET", "/v1/items/{optional_string}", NULL, NULL},
    // An additional binding, with a nested field.
    {"GET", "/v1/shelves/{optional_nested_message.a}/items/{optional_string}", NULL, NULL},
};
static const cpay_http_rule kList[] = {{"GET", "/v1/items", NULL, NULL}};
static const cpay_http_rule kCreate[] = {{"POST", "/v1/items", "*", NULL}};
static const cpay_http_rule kUpdate[] = {
    {"PATCH", "/v1/items/{optional_string}", "optional_nested_message", NULL}};
static const cpay_http_rule kDelete[] = {{"DELETE", "/v1/items/{optional_string}", NULL, NULL}};
static const cpay_http_rule kSpecial[] = {{"GET", "/v1/items/special", NULL, NULL}};
static const cpay_http_rule kResource[] = {
    {"GET", "/v1/{optional_string=projects/*/items/**}", NULL, NULL}};
static const cpay_http_rule kStar[] = {{"GET", "/v1/any/*/x", NULL, NULL}};
static const cpay_http_rule kFiles[] = {{"GET", "/v1/files/**", NULL, NULL}};
static const cpay_http_rule kFileOne[] = {{"GET", "/v1/files/{optionalString}", NULL, NULL}};
static const cpay_http_rule kCancel[] = {{"POST", "/v1/items/{optional_string}:cancel", "*", NULL}};
static const cpay_http_rule kBatch[] = {{"POST", "/v1/items:batch", "*", NULL}};
static const cpay_http_rule kColon[] = {{"GET", "/v1/a%3Ab", NULL, NULL}};
static const cpay_http_rule kTags[] = {{"GET", "/v1/tags", NULL, "repeated_string"},
                                       {"GET", "/v1/nested", NULL, "optional_nested_message"},
                                       {"GET", "/v1/count", NULL, "optional_int64"},
                                       {"GET", "/v1/kind", NULL, "optional_nested_enum"}};
static const cpay_http_rule kTyped[] = {
    {"PUT", "/v1/typed/{optional_int32}/{optional_bool}/{optional_nested_enum}", "repeated_int32",
     NULL},
    {"PUT", "/v1/when/{optional_timestamp}", "map_string_string", NULL},
    {"PUT", "/v1/text/{optional_bytes}", "optional_string", NULL},
};

const cpay_method kHttpMethods[] = {
    METHOD("Get", kGet),         METHOD("List", kList),       METHOD("Create", kCreate),
    METHOD("Update", kUpdate),   METHOD("Delete", kDelete),   METHOD("Special", kSpecial),
    METHOD("Resource", kResource), METHOD("Star", kStar),     METHOD("Files", kFiles),
    METHOD("FileOne", kFileOne), METHOD("Cancel", kCancel),   METHOD("Batch", kBatch),
    METHOD("Colon", kColon),     METHOD("Tags", kTags),       METHOD("Typed", kTyped),
};
const size_t kHttpMethodCount = sizeof kHttpMethods / sizeof kHttpMethods[0];

cpay__http_router *http_test_router(void) {
  cpay_status st = {0};
  cpay__http_router *r = cpay__http_router_new(&st);
  ck_assert_msg(r != NULL, "%s", st.msg);
  for (size_t i = 0; i < kHttpMethodCount; i++) {
    cpay_code c = cpay__http_router_add(r, &kHttpMethods[i], (void *)(uintptr_t)i, &st);
    ck_assert_msg(c == CPAY_OK, "%s", st.msg);
  }
  return r;
}

const char *http_match_name(const cpay__http_match *m) {
  return m->binding ? m->binding->method->name : "-";
}
