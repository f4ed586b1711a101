// Unit tests of plugin/render.c: holes, $$ and the strict variable checks.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

Suite *render_suite(void);

START_TEST(test_render_fills_holes) {
  cpf_buf out = {0};
  char *err = NULL;
  ck_assert(cpr_print(&out, &err, "[$a$-$b$-$a$] $$5", "a", "x", "b", "yy", CPR_END));
  ck_assert_str_eq(cpf_buf_str(&out), "[x-yy-x] $5");
  ck_assert(cpr_print(&out, &err, "\nno holes\n", CPR_END));
  ck_assert_str_eq(cpf_buf_str(&out), "[x-yy-x] $5\nno holes\n");
  ck_assert_ptr_null(err);
  cpf_buf_free(&out);
}
END_TEST

START_TEST(test_render_unknown_variable) {
  cpf_buf out = {0};
  char *err = NULL;
  cpf_buf_puts(&out, "kept");
  ck_assert(!cpr_print(&out, &err, "$a$ $nope$\nsecond line", "a", "x", CPR_END));
  ck_assert_str_eq(err, "print \"$a$ $nope$\": unknown variable $nope$");
  ck_assert_str_eq(cpf_buf_str(&out), "kept");  // nothing of the failed print
  free(err);
  cpf_buf_free(&out);
}
END_TEST

START_TEST(test_render_unused_variable) {
  cpf_buf out = {0};
  char *err = NULL;
  ck_assert(!cpr_print(&out, &err, "$a$", "a", "x", "extra", "y", CPR_END));
  ck_assert_str_eq(err, "print \"$a$\": unused variable $extra$");
  free(err);
  cpf_buf_free(&out);
}
END_TEST

START_TEST(test_render_bad_lists) {
  cpf_buf out = {0};
  char *err = NULL;
  // A value left out: the CPR_END that ends the list is read as its value.
  ck_assert(!cpr_print(&out, &err, "$a$", "a", CPR_END));
  ck_assert_str_eq(err, "print \"$a$\": no value (or no CPR_END after the list) for $a$");
  free(err);
  err = NULL;
  ck_assert(!cpr_print(&out, &err, "$a$", "a", "x", "a", "y", CPR_END));
  ck_assert_str_eq(err, "print \"$a$\": two values for $a$");
  free(err);
  cpf_buf_free(&out);
}
END_TEST

START_TEST(test_render_unterminated) {
  cpf_buf out = {0};
  char *err = NULL;
  ck_assert(!cpr_print(&out, &err, "abc $a", "a", "x", CPR_END));
  ck_assert_ptr_nonnull(strstr(err, "unterminated"));
  free(err);
  cpf_buf_free(&out);
}
END_TEST

START_TEST(test_render_first_error_wins) {
  cpf_buf out = {0};
  char *err = NULL;
  ck_assert(!cpr_print(&out, &err, "$x$", CPR_END));
  ck_assert(!cpr_print(&out, &err, "$y$", CPR_END));
  ck_assert_str_eq(err, "print \"$x$\": unknown variable $x$");
  free(err);
  // The name of a long first line is cut.
  err = NULL;
  ck_assert(!cpr_print(&out, &err,
                       "0123456789012345678901234567890123456789012345678901234567890123 $q$", CPR_END));
  ck_assert_str_eq(err,
                   "print \"012345678901234567890123456789012345678901234567890123456789...\": "
                   "unknown variable $q$");
  free(err);
  cpf_buf_free(&out);
}
END_TEST

Suite *render_suite(void) {
  Suite *s = suite_create("render");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_render_fills_holes);
  tcase_add_test(tc, test_render_unknown_variable);
  tcase_add_test(tc, test_render_unused_variable);
  tcase_add_test(tc, test_render_bad_lists);
  tcase_add_test(tc, test_render_unterminated);
  tcase_add_test(tc, test_render_first_error_wins);
  suite_add_tcase(s, tc);
  return s;
}
