// The v21.12 suite's types (../shared/conformance). Its runner starts by
// asking for conformance.FailureSet: the tests expected to fail, none.
#include "conformance.cpay.h"
#include "cpay/wkt.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"
#include "testee.h"

const testee_type testee_types[] = {
    {"protobuf_test_messages.proto3.TestAllTypesProto3",
     &protobuf_test_messages_proto3_TestAllTypesProto3_desc},
    {"protobuf_test_messages.proto2.TestAllTypesProto2",
     &protobuf_test_messages_proto2_TestAllTypesProto2_desc},
    {"conformance.FailureSet", &conformance_FailureSet_desc},
    {NULL, NULL},
};

cpay_code testee_register(cpay_extreg *ext, cpay_registry *types) {
  cpay_code c;
  if ((c = test_messages_proto2_proto_register_extensions(ext)) != CPAY_OK) return c;
  if ((c = test_messages_proto2_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_proto3_proto_register_types(types)) != CPAY_OK) return c;
  return cpay_wkt_register_types(types);
}
