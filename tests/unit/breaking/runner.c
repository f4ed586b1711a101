// TAP runner for cpay-breaking's unit tests (the lock file).
#include <check.h>
#include <stdlib.h>

Suite *lock_suite(void);

int main(void) {
  SRunner *sr = srunner_create(lock_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
