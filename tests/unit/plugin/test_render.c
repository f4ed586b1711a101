// Unit tests of plugin/gen/render.c: holes, $$, the strict variable checks and
// the line wrapper.
#include <check.h>
#include <string.h>

#include "gen/render.h"

Suite *render_suite(void);

// Errors and wrapped text live here; a fresh pool for each test.
static cps_pool *g_mem;

static void setup(void) { g_mem = cps_pool_new(); }

static void teardown(void) { cps_pool_free(g_mem); }

START_TEST(test_render_fills_holes) {
  cps_buf out = {0};
  const char *err = NULL;
  ck_assert(cpg_render(g_mem, &out, &err, "[$a$-$b$-$a$] $$5", "a", "x", "b", "yy", CPG_END));
  ck_assert_str_eq(cps_buf_str(&out), "[x-yy-x] $5");
  ck_assert(cpg_render(g_mem, &out, &err, "\nno holes\n", CPG_END));
  ck_assert_str_eq(cps_buf_str(&out), "[x-yy-x] $5\nno holes\n");
  ck_assert_ptr_null(err);
  cps_buf_free(&out);
}
END_TEST

START_TEST(test_render_unknown_variable) {
  cps_buf out = {0};
  const char *err = NULL;
  cps_buf_puts(&out, "kept");
  ck_assert(!cpg_render(g_mem, &out, &err, "$a$ $nope$\nsecond line", "a", "x", CPG_END));
  ck_assert_str_eq(err, "print \"$a$ $nope$\": unknown variable $nope$");
  ck_assert_str_eq(cps_buf_str(&out), "kept");  // nothing of the failed print
  cps_buf_free(&out);
}
END_TEST

START_TEST(test_render_unused_variable) {
  cps_buf out = {0};
  const char *err = NULL;
  ck_assert(!cpg_render(g_mem, &out, &err, "$a$", "a", "x", "extra", "y", CPG_END));
  ck_assert_str_eq(err, "print \"$a$\": unused variable $extra$");
  cps_buf_free(&out);
}
END_TEST

START_TEST(test_render_bad_lists) {
  cps_buf out = {0};
  const char *err = NULL;
  // A value left out: the CPG_END that ends the list is read as its value.
  ck_assert(!cpg_render(g_mem, &out, &err, "$a$", "a", CPG_END));
  ck_assert_str_eq(err, "print \"$a$\": no value (or no CPG_END after the list) for $a$");
  err = NULL;
  ck_assert(!cpg_render(g_mem, &out, &err, "$a$", "a", "x", "a", "y", CPG_END));
  ck_assert_str_eq(err, "print \"$a$\": two values for $a$");
  cps_buf_free(&out);
}
END_TEST

START_TEST(test_render_unterminated) {
  cps_buf out = {0};
  const char *err = NULL;
  ck_assert(!cpg_render(g_mem, &out, &err, "abc $a", "a", "x", CPG_END));
  ck_assert_ptr_nonnull(strstr(err, "unterminated"));
  cps_buf_free(&out);
}
END_TEST

START_TEST(test_render_first_error_wins) {
  cps_buf out = {0};
  const char *err = NULL;
  ck_assert(!cpg_render(g_mem, &out, &err, "$x$", CPG_END));
  ck_assert(!cpg_render(g_mem, &out, &err, "$y$", CPG_END));
  ck_assert_str_eq(err, "print \"$x$\": unknown variable $x$");
  // The name of a long first line is cut.
  err = NULL;
  ck_assert(!cpg_render(g_mem, &out, &err,
                        "0123456789012345678901234567890123456789"
                        "012345678901234567890123 $q$",
                        CPG_END));
  ck_assert_str_eq(err,
                   "print \"012345678901234567890123456789012345678901234567890123456789...\": "
                   "unknown variable $q$");
  cps_buf_free(&out);
}
END_TEST

// cpg_wrap at `width` columns over `text`.
static const char *wrap(const char *text, size_t width) {
  cps_buf b = {0};
  cps_buf_puts(&b, text);
  cpg_wrap(g_mem, &b, width);
  return cps_pool_take(g_mem, &b);
}

START_TEST(test_render_wrap_short_lines_unchanged) {
  const char *text = "int f(int a);\n  // a comment\n#include \"x.h\"\n\n";
  const char *got = wrap(text, 20);
  ck_assert_str_eq(got, text);
}
END_TEST

START_TEST(test_render_wrap_after_call_paren_when_the_rest_fits) {
  const char *got = wrap("static int function_name(int alpha, int beta) {\n", 30);
  ck_assert_str_eq(got, "static int function_name(\n    int alpha, int beta) {\n");
}
END_TEST

START_TEST(test_render_wrap_fills_at_commas) {
  // The rest does not fit after "(": break at the last ", " that fits.
  const char *got = wrap("  return call_it(alpha, beta, gamma, delta, epsilon);\n", 30);
  ck_assert_str_eq(got,
                   "  return call_it(alpha, beta,\n"
                   "      gamma, delta, epsilon);\n");
  // A line that continues a list keeps its indentation.
  got = wrap("f(\n    alpha, beta, gamma, delta, epsilon);\n", 30);
  ck_assert_str_eq(got, "f(\n    alpha, beta, gamma, delta,\n    epsilon);\n");
}
END_TEST

START_TEST(test_render_wrap_initializer_rows_at_commas) {
  const char *got = wrap("    {1, offsetof(T, member), 0, CPAY_TYPE},\n", 31);
  ck_assert_str_eq(got, "    {1, offsetof(T, member), 0,\n        CPAY_TYPE},\n");
}
END_TEST

START_TEST(test_render_wrap_never_in_strings) {
  const char *got = wrap("  const char *name = \"a b c d e f g h // i\";\n", 24);
  ck_assert_str_eq(got, "  const char *name =\n      \"a b c d e f g h // i\";\n");
}
END_TEST

START_TEST(test_render_wrap_comments) {
  const char *got = wrap("  // one two three four five six\n", 16);
  ck_assert_str_eq(got, "  // one two\n  // three four\n  // five six\n");
  // A trailing comment that does not fit goes above its code.
  got = wrap("  int member;  // 5, optional\n", 20);
  ck_assert_str_eq(got, "  // 5, optional\n  int member;\n");
  // A word longer than the line gets a line of its own.
  got = wrap("// see https://example.com/long/path then\n", 12);
  ck_assert_str_eq(got, "// see\n// https://example.com/long/path\n// then\n");
}
END_TEST

START_TEST(test_render_wrap_unbreakable_names_stay) {
  const char *text = "  a_name_longer_than_the_line_itself;\n";
  const char *got = wrap(text, 10);
  ck_assert_str_eq(got, text);
}
END_TEST

Suite *render_suite(void) {
  Suite *s = suite_create("render");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_render_fills_holes);
  tcase_add_test(tc, test_render_unknown_variable);
  tcase_add_test(tc, test_render_unused_variable);
  tcase_add_test(tc, test_render_bad_lists);
  tcase_add_test(tc, test_render_unterminated);
  tcase_add_test(tc, test_render_first_error_wins);
  tcase_add_test(tc, test_render_wrap_short_lines_unchanged);
  tcase_add_test(tc, test_render_wrap_after_call_paren_when_the_rest_fits);
  tcase_add_test(tc, test_render_wrap_fills_at_commas);
  tcase_add_test(tc, test_render_wrap_initializer_rows_at_commas);
  tcase_add_test(tc, test_render_wrap_never_in_strings);
  tcase_add_test(tc, test_render_wrap_comments);
  tcase_add_test(tc, test_render_wrap_unbreakable_names_stay);
  suite_add_tcase(s, tc);
  return s;
}
