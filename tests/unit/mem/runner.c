// TAP runner for the mem unit tests.
#include <check.h>
#include <stdlib.h>

Suite *arena_suite(void);

int main(void) {
  SRunner *sr = srunner_create(arena_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
