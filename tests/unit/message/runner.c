// TAP runner for the message unit tests.
#include <check.h>
#include <stdlib.h>

Suite *map_suite(void);
Suite *message_suite(void);
Suite *extreg_suite(void);
Suite *field_suite(void);

int main(void) {
  SRunner *sr = srunner_create(map_suite());
  srunner_add_suite(sr, message_suite());
  srunner_add_suite(sr, extreg_suite());
  srunner_add_suite(sr, field_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
