// Unit tests of the shim's C API that need no schema files: response
// encoding, bad input to every loader, lookups and NULL handling.
#include "schema/model.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

// Every test's model, errors and responses: freed after each test, so that
// LeakSanitizer sees whether the shim leaves anything outside it.
static cps_pool *g_mem;

static void setup(void) { g_mem = cps_pool_new(); }

static void teardown(void) { cps_pool_free(g_mem); }

START_TEST(test_shim_api_encode_response_bytes) {
  cps_out_file files[] = {{"a.h", "x\0y", 3}};
  uint8_t *out = NULL;
  size_t size = 0;
  ck_assert(cps_encode_response(g_mem, "bad", files, 1, &out, &size));
  // error (1) "bad", supported_features (2) = 3 (proto3 optional, editions),
  // file (15) {name (1) "a.h", content (15) "x\0y"}, then minimum_edition (3)
  // = 1000 (EDITION_2023) and maximum_edition (4) = 1001 (EDITION_2024),
  // unknown fields to libprotobuf 3.21, after the known ones.
  static const uint8_t want[] = {0x0a, 3,    'b',  'a',  'd',  0x10, 0x03, 0x7a, 10,
                                 0x0a, 3,    'a',  '.',  'h',  0x7a, 3,    'x',  0,
                                 'y',  0x18, 0xe8, 0x07, 0x20, 0xe9, 0x07};
  ck_assert_uint_eq(size, sizeof want);
  ck_assert_mem_eq(out, want, sizeof want);
}
END_TEST

START_TEST(test_shim_api_encode_empty_response) {
  uint8_t *out = NULL;
  size_t size = 99;
  ck_assert(cps_encode_response(g_mem, NULL, NULL, 0, &out, &size));
  static const uint8_t want[] = {0x10, 0x03, 0x18, 0xe8, 0x07, 0x20, 0xe9, 0x07};
  ck_assert_uint_eq(size, sizeof want);
  ck_assert_mem_eq(out, want, sizeof want);
}
END_TEST

START_TEST(test_shim_api_empty_request_is_empty_pool) {
  char *err = NULL;
  cps_schema *schema = cps_load_request(g_mem, "", 0, &err);
  ck_assert_ptr_nonnull(schema);
  ck_assert_ptr_null(err);
  ck_assert_uint_eq(schema->file_count, 0);
  ck_assert_uint_eq(schema->to_generate_count, 0);
  ck_assert_str_eq(schema->parameter, "");
  ck_assert_int_eq(schema->compiler_version[0], 0);
}
END_TEST

// Loads a FileDescriptorSet that must fail; returns the error.
static char *set_error(const uint8_t *set, size_t size) {
  char *err = NULL;
  ck_assert_ptr_null(cps_load_descriptor_set(g_mem, set, size, &err));
  ck_assert_ptr_nonnull(err);
  return err;
}

START_TEST(test_shim_api_malformed_inputs_fail) {
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x07, 0x12};
  char *err = NULL;
  ck_assert_ptr_null(cps_load_request(g_mem, junk, sizeof junk, &err));
  ck_assert_ptr_nonnull(err);
  ck_assert_str_eq(err, "malformed CodeGeneratorRequest");
  set_error(junk, sizeof junk);
  // err may be NULL when the caller does not want the text.
  ck_assert_ptr_null(cps_load_descriptor_set(g_mem, junk, sizeof junk, NULL));
}
END_TEST

// A FileDescriptorSet with one file whose field names an undefined type.
START_TEST(test_shim_api_unresolved_type_in_set) {
  // file (1) { name (1) "u.proto", message_type (4) { name (1) "M",
  //   field (2) { name (1) "f", number (3) 1, label (4) 1, type_name (6) ".Nope" } } }
  static const uint8_t set[] = {
      0x0a, 30,  0x0a, 7,    'u',  '.', 'p', 'r', 'o', 't', 'o', 0x22, 19, 0x0a, 1, 'M',
      0x12, 14,  0x0a, 1,    'f',  0x18, 1,  0x20, 1,  0x32, 5, '.', 'N', 'o', 'p', 'e',
  };
  char *err = set_error(set, sizeof set);
  ck_assert_msg(strstr(err, "u.proto: M.f: \".Nope\" is not defined.") != NULL, "%s", err);
}
END_TEST

// A message whose reserved range ends at or below its start: libprotobuf
// 3.21 builds it, the shim refuses it (an end of INT_MIN once overflowed).
START_TEST(test_shim_api_empty_reserved_range) {
  // file { name "r.proto", message_type { name "M", reserved_range { start 5, end E } } }
  static const uint8_t end_5[] = {0x0a, 0x14, 0x0a, 0x07, 0x72, 0x2e, 0x70, 0x72,
                                  0x6f, 0x74, 0x6f, 0x22, 0x09, 0x0a, 0x01, 0x4d,
                                  0x4a, 0x04, 0x08, 0x05, 0x10, 0x05};
  static const uint8_t end_min[] = {0x0a, 0x1d, 0x0a, 0x07, 0x72, 0x2e, 0x70, 0x72, 0x6f, 0x74,
                                    0x6f, 0x22, 0x12, 0x0a, 0x01, 0x4d, 0x4a, 0x0d, 0x08, 0x05,
                                    0x10, 0x80, 0x80, 0x80, 0x80, 0xf8, 0xff, 0xff, 0xff, 0xff,
                                    0x01};
  char *err = set_error(end_5, sizeof end_5);
  ck_assert_str_eq(err, "M: reserved range from 5 to 5 (exclusive) is empty");
  err = set_error(end_min, sizeof end_min);
  ck_assert_str_eq(err, "M: reserved range from 5 to -2147483648 (exclusive) is empty");
}
END_TEST

START_TEST(test_shim_api_missing_file) {
  const char *dirs[] = {"/nonexistent-cpay-dir"};
  const char *files[] = {"nope.proto"};
  char *err = NULL;
  ck_assert_ptr_null(cps_load_protos(g_mem, dirs, 1, files, 1, &err));
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(strncmp(err, "nope.proto: ", 12) == 0, "%s", err);
}
END_TEST

START_TEST(test_shim_api_well_known_type_fallback) {
  // No include dir provides google/protobuf/*.proto: the shim's fallback does.
  const char *dirs[] = {"/nonexistent-cpay-dir"};
  const char *files[] = {"google/protobuf/duration.proto"};
  char *err = NULL;
  cps_schema *schema = cps_load_protos(g_mem, dirs, 1, files, 1, &err);
  ck_assert_msg(schema != NULL, "%s", err ? err : "");
  ck_assert_uint_eq(schema->to_generate_count, 1);
  ck_assert_uint_ge(schema->to_generate[0]->message_count, 1);
  const cps_message *m = &schema->to_generate[0]->messages[0];
  ck_assert_str_eq(m->full_name, "google.protobuf.Duration");
  ck_assert_str_eq(m->file->name, "google/protobuf/duration.proto");
  ck_assert_uint_eq(schema->to_generate_count, 1);
  ck_assert_ptr_eq(schema->to_generate[0], m->file);
}
END_TEST

static Suite *shim_api_suite(void) {
  Suite *s = suite_create("shim_api");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_shim_api_encode_response_bytes);
  tcase_add_test(tc, test_shim_api_encode_empty_response);
  tcase_add_test(tc, test_shim_api_empty_request_is_empty_pool);
  tcase_add_test(tc, test_shim_api_malformed_inputs_fail);
  tcase_add_test(tc, test_shim_api_unresolved_type_in_set);
  tcase_add_test(tc, test_shim_api_empty_reserved_range);
  tcase_add_test(tc, test_shim_api_missing_file);
  tcase_add_test(tc, test_shim_api_well_known_type_fallback);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(shim_api_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
