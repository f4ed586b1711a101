// Unit tests of plugin/gen/names.c on models built by hand.
#include <check.h>
#include <string.h>

#include "gen/names.h"

Suite *names_suite(void);

START_TEST(test_names_keywords) {
  ck_assert(cpg_is_keyword("register"));
  ck_assert(cpg_is_keyword("class"));
  ck_assert(cpg_is_keyword("_Bool"));
  ck_assert(cpg_is_keyword("NULL"));
  ck_assert(!cpg_is_keyword("amount"));
}
END_TEST

// file a.proto, package "a.b":
//   message M { int32 int = 1; repeated int32 foo = 2; message new {} }
//   enum E { E_X = 0; }
START_TEST(test_names_mangling_and_collisions) {
  cps_file file;
  memset(&file, 0, sizeof file);
  cps_message msgs[1], nested[1];
  cps_field fields[2];
  cps_enum enums[1];
  cps_enum_value values[1];
  memset(msgs, 0, sizeof msgs);
  memset(nested, 0, sizeof nested);
  memset(fields, 0, sizeof fields);
  memset(enums, 0, sizeof enums);
  memset(values, 0, sizeof values);
  file.name = "dir/a.proto";
  file.package = "a.b";
  file.syntax = CPS_SYNTAX_PROTO3;
  file.messages = msgs;
  file.message_count = 1;
  file.enums = enums;
  file.enum_count = 1;
  msgs[0].name = "M";
  msgs[0].full_name = "a.b.M";
  msgs[0].file = &file;
  msgs[0].fields = fields;
  msgs[0].field_count = 2;
  msgs[0].nested = nested;
  msgs[0].nested_count = 1;
  nested[0].name = "new";
  nested[0].full_name = "a.b.M.new";
  nested[0].file = &file;
  nested[0].parent = &msgs[0];
  fields[0].name = "int";
  fields[0].number = 1;
  fields[0].label = CPS_LABEL_OPTIONAL;
  fields[0].type = CPS_TYPE_INT32;
  fields[0].file = &file;
  fields[0].parent = &msgs[0];
  fields[1].name = "foo";
  fields[1].number = 2;
  fields[1].label = CPS_LABEL_REPEATED;
  fields[1].type = CPS_TYPE_INT32;
  fields[1].file = &file;
  fields[1].parent = &msgs[0];
  fields[1].index = 1;
  enums[0].name = "E";
  enums[0].full_name = "a.b.E";
  enums[0].file = &file;
  enums[0].values = values;
  enums[0].value_count = 1;
  values[0].name = "E_X";
  values[0].parent = &enums[0];

  const cps_file *files[] = {&file};
  cps_schema schema;
  memset(&schema, 0, sizeof schema);
  schema.files = files;
  schema.file_count = 1;
  schema.to_generate = files;
  schema.to_generate_count = 1;
  schema.parameter = "";

  cps_pool *mem = cps_pool_new();
  cpg_names *n = cpg_names_new(mem);
  ck_assert_str_eq(cpg_name_message(n, &msgs[0]), "a_b_M");
  ck_assert_str_eq(cpg_name_field(n, &fields[0]), "int_");
  ck_assert_str_eq(cpg_name_field(n, &fields[1]), "foo");
  // a_b_M_new is a_b_M's constructor, so the nested type moves aside.
  ck_assert_str_eq(cpg_name_message(n, &nested[0]), "a_b_M_new_");
  ck_assert_str_eq(cpg_name_enum(n, &enums[0]), "a_b_E");
  ck_assert_str_eq(cpg_name_enum_value(n, &values[0]), "a_b_E_X");
  ck_assert_str_eq(cpg_name_file_prefix(n, &file), "dir_a_proto");
  cps_pool_free(mem);
}
END_TEST

Suite *names_suite(void) {
  Suite *s = suite_create("names");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_names_keywords);
  tcase_add_test(tc, test_names_mangling_and_collisions);
  suite_add_tcase(s, tc);
  return s;
}
