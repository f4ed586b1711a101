// TAP runner for the protoc-gen-cpay unit tests (names, render, params, pool).
#include <check.h>
#include <stdlib.h>

Suite *names_suite(void);
Suite *params_suite(void);
Suite *pool_suite(void);
Suite *render_suite(void);

int main(void) {
  SRunner *sr = srunner_create(names_suite());
  srunner_add_suite(sr, params_suite());
  srunner_add_suite(sr, render_suite());
  srunner_add_suite(sr, pool_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
