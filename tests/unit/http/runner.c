// TAP runner for the HTTP listener's routing, binding, responses and
// gRPC-Web framing.
#include <check.h>
#include <stdlib.h>

Suite *route_suite(void);
Suite *bind_suite(void);
Suite *respond_suite(void);
Suite *grpcweb_suite(void);

int main(void) {
  SRunner *sr = srunner_create(route_suite());
  srunner_add_suite(sr, bind_suite());
  srunner_add_suite(sr, respond_suite());
  srunner_add_suite(sr, grpcweb_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
