// The v36.0 suite's types (../shared/conformance/v36): the proto2 and proto3
// test messages, and with --maximum_edition 2023 the same written as edition
// 2023, TestAllTypesEdition2023 and TestAllTypesEditionUnstable (generated
// from v36/editions.binpb; see v36/editions_set.sh).
#include "cpay/wkt.h"
#include "test_messages_edition2023.cpay.h"
#include "test_messages_edition_unstable.cpay.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto2_editions.cpay.h"
#include "test_messages_proto3.cpay.h"
#include "test_messages_proto3_editions.cpay.h"
#include "testee.h"

const testee_type testee_types[] = {
    {"protobuf_test_messages.proto3.TestAllTypesProto3",
     &protobuf_test_messages_proto3_TestAllTypesProto3_desc},
    {"protobuf_test_messages.proto2.TestAllTypesProto2",
     &protobuf_test_messages_proto2_TestAllTypesProto2_desc},
    {"protobuf_test_messages.editions.proto3.TestAllTypesProto3",
     &protobuf_test_messages_editions_proto3_TestAllTypesProto3_desc},
    {"protobuf_test_messages.editions.proto2.TestAllTypesProto2",
     &protobuf_test_messages_editions_proto2_TestAllTypesProto2_desc},
    {"protobuf_test_messages.editions.TestAllTypesEdition2023",
     &protobuf_test_messages_editions_TestAllTypesEdition2023_desc},
    {"protobuf_test_messages.edition_unstable.TestAllTypesEditionUnstable",
     &protobuf_test_messages_edition_unstable_TestAllTypesEditionUnstable_desc},
    {NULL, NULL},
};

cpay_code testee_register(cpay_extreg *ext, cpay_registry *types) {
  cpay_code c;
  if ((c = test_messages_proto2_proto_register_extensions(ext)) != CPAY_OK) return c;
  if ((c = test_messages_proto2_editions_proto_register_extensions(ext)) != CPAY_OK) return c;
  if ((c = test_messages_edition2023_proto_register_extensions(ext)) != CPAY_OK) return c;
  if ((c = test_messages_edition_unstable_proto_register_extensions(ext)) != CPAY_OK) return c;
  if ((c = test_messages_proto2_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_proto3_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_proto2_editions_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_proto3_editions_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_edition2023_proto_register_types(types)) != CPAY_OK) return c;
  if ((c = test_messages_edition_unstable_proto_register_types(types)) != CPAY_OK) return c;
  return cpay_wkt_register_types(types);
}
