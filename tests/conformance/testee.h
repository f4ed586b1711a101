// What differs between the two builds of the conformance testee: the suite's
// message types and their registration. cpay_conformance.c is the rest.
//   cpay-conformance      v21.12's schemas (types_v21.c)
//   cpay-conformance-v36  v36.0's, editions included (types_v36.c)
#ifndef CPAY_TESTS_CONFORMANCE_TESTEE_H_
#define CPAY_TESTS_CONFORMANCE_TESTEE_H_

#include "cpay/reflect.h"

// The message types the runner may ask for, by full name; NULL-terminated.
typedef struct testee_type {
  const char *name;
  const cpay_msg_desc *desc;
} testee_type;
extern const testee_type testee_types[];

// Registers every type and extension of the suite's schemas, the well-known
// types included (Any fields name them).
cpay_code testee_register(cpay_extreg *ext, cpay_registry *types);

#endif  // CPAY_TESTS_CONFORMANCE_TESTEE_H_
