// Methods with hand-written google.api.http rules over the conformance
// suite's TestAllTypesProto3 (request and response), shared by the router,
// binder and response tests: every template form and binding kind.
#ifndef CPAY_TESTS_UNIT_HTTP_FIXTURES_H_
#define CPAY_TESTS_UNIT_HTTP_FIXTURES_H_

#include <stddef.h>

#include "cpay/grpc.h"
#include "http/route.h"
#include "test_messages_proto3.cpay.h"

#define T3 protobuf_test_messages_proto3_TestAllTypesProto3

extern const cpay_method kHttpMethods[];
extern const size_t kHttpMethodCount;

// A router holding every method of kHttpMethods, with the method's index
// (as a pointer-sized integer) for target. Aborts the test on failure.
cpay__http_router *http_test_router(void);

// The name of the method matched, or "-".
const char *http_match_name(const cpay__http_match *m);

#endif  // CPAY_TESTS_UNIT_HTTP_FIXTURES_H_
