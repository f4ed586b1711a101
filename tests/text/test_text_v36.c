// Unit tests of the text format on what protobuf v36.0's conformance schemas
// added: reserved names (parsed and dropped, whatever the value's form),
// multi-word groups by type and field name, group-like extensions, delimited
// fields of edition 2023. Messages are generated from ../shared/conformance/v36
// (tests/conformance/v36/meson.build).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/text.h"
#include "cpay/wkt.h"
#include "test_messages_edition2023.cpay.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

typedef protobuf_test_messages_proto3_TestAllTypesProto3 all3;
typedef protobuf_test_messages_proto2_TestAllTypesProto2 all2;
typedef protobuf_test_messages_editions_TestAllTypesEdition2023 all23;
#define ALL3(name) protobuf_test_messages_proto3_TestAllTypesProto3_##name
#define ALL2(name) protobuf_test_messages_proto2_TestAllTypesProto2_##name
#define ALL23(name) protobuf_test_messages_editions_TestAllTypesEdition2023_##name

static cpay_arena *arena;
static cpay_registry *reg;
static cpay_status st;

static void setup(void) {
  arena = cpay_arena_new();
  reg = cpay_registry_new(arena);
  ck_assert_ptr_nonnull(reg);
  ck_assert_int_eq(cpay_wkt_register_types(reg), CPAY_OK);
  ck_assert_int_eq(test_messages_proto3_proto_register_types(reg), CPAY_OK);
  ck_assert_int_eq(test_messages_proto2_proto_register_types(reg), CPAY_OK);
  ck_assert_int_eq(test_messages_edition2023_proto_register_types(reg), CPAY_OK);
  cpay_status_clear(&st);
}

static void teardown(void) { cpay_arena_free(arena); }

// Parses `text` into `desc`'s message; the status code.
static cpay_code parse(const cpay_msg_desc *desc, const char *text, void **out) {
  cpay_text_decode_opts o = {0};
  o.registry = reg;
  cpay_status_clear(&st);
  *out = cpay_msg_new(desc->table, arena);
  ck_assert_ptr_nonnull(*out);
  return cpay_text_decode(text, strlen(text), *out, desc, arena, &o, &st);
}

// Parses `text` and prints it back.
static const char *reprint(const cpay_msg_desc *desc, const char *text) {
  void *m;
  cpay_code c = parse(desc, text, &m);
  ck_assert_msg(c == CPAY_OK, "%s: %s", text, cpay_status_msg(&st));
  cpay_text_encode_opts o = {0};
  o.registry = reg;
  o.flags = CPAY_TEXT_SINGLE_LINE;
  cpay_str out;
  ck_assert_int_eq(cpay_text_encode(m, desc, arena, &o, &out, &st), CPAY_OK);
  return out.data;
}

static void fails(const cpay_msg_desc *desc, const char *text, const char *msg) {
  void *m;
  ck_assert_msg(parse(desc, text, &m) != CPAY_OK, "accepted %s", text);
  ck_assert_str_eq(cpay_status_msg(&st), msg);
}

// Every value form of conformance ReservedFieldName.*, in both messages,
// and more: nested messages of any fields, lists of messages, adjacent
// strings, separators.
START_TEST(test_text_reserved_names_dropped) {
  static const char *const values[] = {
      "true", "-123", "0.123", "ENUM_VALUE", "\"hello\"", "{ a: 123 }", "< a: 123 >",
      "[-123, 456]", "[0.123, 1e-10] ", "[\"hello\", \"world\"]", "-inf", "'a' \"b\"",
      "{ x { y: [1, 2] z < [a.b/c.D] { q: 1 } > } }", "[{ a: 1 }, < b: 2 >]", "[]",
  };
  const cpay_msg_desc *descs[] = {&ALL3(desc), &ALL2(desc)};
  const char *want = "optional_int32: 1 optional_string: \"x\"";
  char text[256];
  for (size_t d = 0; d < 2; d++) {
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
      snprintf(text, sizeof text, "optional_int32: 1 reserved_field: %s; optional_string: 'x'",
               values[i]);
      ck_assert_str_eq(reprint(descs[d], text), want);
      if (values[i][0] == '{' || values[i][0] == '<') {  // the colon may be left out
        snprintf(text, sizeof text, "optional_int32: 1 reserved_field %s, optional_string: 'x'",
                 values[i]);
        ck_assert_str_eq(reprint(descs[d], text), want);
      }
    }
  }
}
END_TEST

START_TEST(test_text_reserved_names_errors) {
  // The value's form is still checked; a name that is not reserved is no
  // field.
  fails(&ALL3(desc), "reserved_field 1", "1:16: expected ':', got \"1\"");
  fails(&ALL3(desc), "reserved_field: [1,]", "1:20: expected a value, got \"]\"");
  fails(&ALL3(desc), "reserved_field: { a: 1 ", "1:24: expected '}', got end of input");
  fails(&ALL3(desc), "reserved_field: :",  "1:17: expected a value, got \":\"");
  fails(&ALL3(desc), "reserved_fields: 1",
        "1:1: message protobuf_test_messages.proto3.TestAllTypesProto3 has no field named "
        "\"reserved_fields\"");
  // Reserved in TestAllTypesProto3, not in its nested messages.
  fails(&ALL3(desc), "optional_nested_message { reserved_field: 1 }",
        "1:27: message protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage has no "
        "field named \"reserved_field\"");
  // Skipped messages count towards the depth limit.
  char deep[1200] = "reserved_field: ";
  for (int i = 0; i < 120; i++) strcat(deep, "{a");
  fails(&ALL3(desc), deep, "1:218: nesting deeper than 100");
}
END_TEST

START_TEST(test_text_groups_by_type_and_field_name) {
  const char *want = "MultiWordGroupField { group_int32: 1 }";
  ck_assert_str_eq(reprint(&ALL2(desc), "MultiWordGroupField { group_int32: 1 }"), want);
  ck_assert_str_eq(reprint(&ALL2(desc), "multiwordgroupfield { group_int32: 1 }"), want);
  ck_assert_str_eq(reprint(&ALL2(desc), "data: { group_int32: 2 }"), "Data { group_int32: 2 }");
  fails(&ALL2(desc), "multiWordGroupField { group_int32: 1 }",
        "1:1: message protobuf_test_messages.proto2.TestAllTypesProto2 has no field named "
        "\"multiWordGroupField\"");
  // A group extension goes by the extension's name, never its type's.
  ck_assert_str_eq(reprint(&ALL2(desc), "[protobuf_test_messages.proto2.groupfield] { group_int32: 1 }"),
                   "[protobuf_test_messages.proto2.groupfield] { group_int32: 1 }");
  fails(&ALL2(desc), "[protobuf_test_messages.proto2.GroupField] { group_int32: 1 }",
        "1:1: unknown extension \"protobuf_test_messages.proto2.GroupField\" of "
        "protobuf_test_messages.proto2.TestAllTypesProto2");
  // Edition 2023: a group-like delimited field by either name, one that is
  // not group-like by its field name only.
  ck_assert_str_eq(reprint(&ALL23(desc), "groupliketype { group_int32: 1 }"),
                   "GroupLikeType { group_int32: 1 }");
  ck_assert_str_eq(reprint(&ALL23(desc), "delimited_field { group_int32: 1 }"),
                   "delimited_field { group_int32: 1 }");
  fails(&ALL23(desc), "GroupLikeTypes { }",
        "1:1: message protobuf_test_messages.editions.TestAllTypesEdition2023 has no field named "
        "\"GroupLikeTypes\"");
}
END_TEST

static Suite *text_v36_suite(void) {
  Suite *s = suite_create("text-v36");
  TCase *tc = tcase_create("text-v36");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_text_reserved_names_dropped);
  tcase_add_test(tc, test_text_reserved_names_errors);
  tcase_add_test(tc, test_text_groups_by_type_and_field_name);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(text_v36_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
