// The extension registry.
#include <check.h>
#include <stdlib.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"
#include "wire/test_schema.h"

Suite *extreg_suite(void);

START_TEST(test_extreg_add_find) {
  cpay_arena *a = cpay_arena_new();
  cpay_extreg *r = cpay_extreg_new(a);
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_null(cpay_extreg_find(r, &test_T2_table, 100));
  ck_assert_int_eq(cpay_extreg_add(r, &test_ext_i32), CPAY_OK);
  ck_assert_int_eq(cpay_extreg_add(r, &test_ext_i32), CPAY_OK);  // same again: fine
  ck_assert_ptr_eq(cpay_extreg_find(r, &test_T2_table, 100), &test_ext_i32);
  ck_assert_ptr_null(cpay_extreg_find(r, &test_T3_table, 100));
  ck_assert_ptr_null(cpay_extreg_find(NULL, &test_T2_table, 100));
  // Another extension with the same extendee and number is refused.
  cpay_ext clash = test_ext_i32;
  ck_assert_int_eq(cpay_extreg_add(r, &clash), CPAY_ERR_INVALID_ARGUMENT);
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_extreg_many) {
  cpay_arena *a = cpay_arena_new();
  cpay_extreg *r = cpay_extreg_new(a);
  enum { N = 1000 };
  cpay_ext *exts = cpay_arena_malloc(a, N * sizeof(cpay_ext));
  const cpay_ext **ptrs = cpay_arena_malloc(a, N * sizeof(cpay_ext *));
  for (int i = 0; i < N; i++) {
    exts[i] = test_ext_i32;
    exts[i].field.number = 1000 + (uint32_t)i;
    exts[i].extendee = i % 2 ? &test_T2_table : &test_MS_table;
    ptrs[i] = &exts[i];
  }
  ck_assert_int_eq(cpay__extreg_add_all(r, ptrs, N), CPAY_OK);
  for (int i = 0; i < N; i++) {
    ck_assert_ptr_eq(cpay_extreg_find(r, exts[i].extendee, 1000 + (uint32_t)i), &exts[i]);
    ck_assert_ptr_null(cpay_extreg_find(r, i % 2 ? &test_MS_table : &test_T2_table,
                                        1000 + (uint32_t)i));
  }
  cpay_arena_free(a);
}
END_TEST

Suite *extreg_suite(void) {
  Suite *s = suite_create("extreg");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_extreg_add_find);
  tcase_add_test(tc, test_extreg_many);
  suite_add_tcase(s, tc);
  return s;
}
