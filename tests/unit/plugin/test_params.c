// Unit tests of plugin/framework/params.c.
#include <check.h>
#include <stdlib.h>

#include "framework/params.h"

Suite *params_suite(void);

typedef struct opts {
  char *api;
  bool flag;
} opts;

static char *parse(const char *text, opts *o) {
  const cpf_param_spec specs[] = {
      {"api_macro", CPF_PARAM_IDENT, &o->api, ""},
      {"flag", CPF_PARAM_BOOL, &o->flag, ""},
  };
  return cpf_params_parse(text, specs, 2);
}

START_TEST(test_params_accepts_known_keys) {
  opts o = {NULL, false};
  ck_assert_ptr_null(parse("api_macro=MY_API,flag", &o));
  ck_assert_str_eq(o.api, "MY_API");
  ck_assert(o.flag);
  ck_assert_ptr_null(parse("", &o));
  free(o.api);
}
END_TEST

START_TEST(test_params_rejects_unknown_key) {
  opts o = {NULL, false};
  char *err = parse("api_macro=A,colour=blue", &o);
  ck_assert_str_eq(err, "unknown parameter \"colour\" (known parameters: api_macro, flag)");
  free(err);
  free(o.api);
}
END_TEST

START_TEST(test_params_rejects_bad_values) {
  opts o = {NULL, false};
  char *err = parse("api_macro=1abc", &o);
  ck_assert_str_eq(err, "parameter api_macro: \"1abc\" is not a C identifier");
  free(err);
  err = parse("api_macro", &o);
  ck_assert_str_eq(err, "parameter api_macro needs a value (api_macro=...)");
  free(err);
  err = parse("flag=maybe", &o);
  ck_assert_str_eq(err, "parameter flag: expected true or false, got \"maybe\"");
  free(err);
  free(o.api);
}
END_TEST

Suite *params_suite(void) {
  Suite *s = suite_create("params");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_params_accepts_known_keys);
  tcase_add_test(tc, test_params_rejects_unknown_key);
  tcase_add_test(tc, test_params_rejects_bad_values);
  suite_add_tcase(s, tc);
  return s;
}
