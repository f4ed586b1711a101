// TAP runner for the wire unit tests.
#include <check.h>
#include <stdlib.h>

Suite *varint_suite(void);
Suite *decode_suite(void);
Suite *encode_suite(void);

int main(void) {
  SRunner *sr = srunner_create(varint_suite());
  srunner_add_suite(sr, decode_suite());
  srunner_add_suite(sr, encode_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
