// Unit tests of plugin/render.c: holes, $$ and the strict variable checks.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

Suite *render_suite(void);

static const char *render(const char *text, const cpr_var *vars, size_t n, char **err) {
  static cpf_buf out;
  cpf_buf_free(&out);
  if (!cpr_render_text(&out, "t", text, strlen(text), vars, n, err)) return NULL;
  return cpf_buf_str(&out);
}

START_TEST(test_render_fills_holes) {
  const cpr_var v[] = {{"a", "x"}, {"b", "yy"}};
  char *err = NULL;
  ck_assert_str_eq(render("[$a$-$b$-$a$] $$5", v, 2, &err), "[x-yy-x] $5");
  ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_render_unknown_variable) {
  const cpr_var v[] = {{"a", "x"}};
  char *err = NULL;
  ck_assert_ptr_null(render("$a$ $nope$", v, 1, &err));
  ck_assert_str_eq(err, "template t: unknown variable $nope$");
  free(err);
}
END_TEST

START_TEST(test_render_unused_variable) {
  const cpr_var v[] = {{"a", "x"}, {"extra", "y"}};
  char *err = NULL;
  ck_assert_ptr_null(render("$a$", v, 2, &err));
  ck_assert_str_eq(err, "template t: variable $extra$ is not used");
  free(err);
}
END_TEST

START_TEST(test_render_unterminated) {
  char *err = NULL;
  ck_assert_ptr_null(render("abc $a", NULL, 0, &err));
  ck_assert_ptr_nonnull(strstr(err, "unterminated"));
  free(err);
}
END_TEST

START_TEST(test_render_embedded_templates) {
  cpf_buf out = {0};
  char *err = NULL;
  const cpr_var v[] = {{"msg", "pkg_M"}};
  ck_assert(cpr_render(&out, "msg_forward", v, 1, &err));
  ck_assert_str_eq(cpf_buf_str(&out), "typedef struct pkg_M pkg_M;\n");
  ck_assert(!cpr_render(&out, "no_such_template", v, 1, &err));
  ck_assert_str_eq(err, "no template named no_such_template");
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
  tcase_add_test(tc, test_render_unterminated);
  tcase_add_test(tc, test_render_embedded_templates);
  suite_add_tcase(s, tc);
  return s;
}
