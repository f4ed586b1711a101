#!/usr/bin/python3
"""Writes the seed corpus of fuzz_decode (tests/fuzz/corpus/decode/).

Run from the project root: /usr/bin/python3 tests/fuzz/make_seeds.py
Seeds are checked in; rerun only to add seeds. Crashers found by fuzzing are
added to the corpus by hand under a name saying what they found.
"""
import os
import subprocess
import sys
import tempfile

schema = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance")
out = os.path.join(os.path.dirname(__file__), "corpus", "decode")
gen = tempfile.mkdtemp()
subprocess.run(["protoc", "-I", schema, "--python_out", gen, "test_messages_proto2.proto",
                "test_messages_proto3.proto"], check=True)
sys.path.insert(0, gen)
import test_messages_proto2_pb2 as p2  # noqa: E402
import test_messages_proto3_pb2 as p3  # noqa: E402

seeds = {}
m = p3.TestAllTypesProto3(
    optional_int32=-1, optional_int64=-(1 << 62), optional_uint32=1 << 31,
    optional_uint64=(1 << 64) - 1, optional_sint32=-5, optional_sint64=-(1 << 40),
    optional_fixed32=7, optional_fixed64=8, optional_sfixed32=-9, optional_sfixed64=-10,
    optional_float=1.5, optional_double=-2.25, optional_bool=True,
    optional_string="ünïcode", optional_bytes=b"\x00\xff",
    optional_nested_enum=p3.TestAllTypesProto3.NEG,
    repeated_int32=[1, -1, 300], packed_sint64=[-1, 1], unpacked_bool=[True, False],
    repeated_string=["a", ""], map_int32_int32={1: 2, -3: 4},
    map_string_nested_message={"x": p3.TestAllTypesProto3.NestedMessage(a=5)},
    map_bool_bool={True: False}, oneof_string="one")
m.optional_nested_message.corecursive.optional_int32 = 3
m.recursive_message.recursive_message.optional_string = "deep"
m.repeated_nested_message.add(a=1)
m.optional_timestamp.seconds = 1700000000
m.optional_any.type_url = "type.googleapis.com/x"
seeds["proto3_all"] = m.SerializeToString()
seeds["proto3_oneof_msg"] = p3.TestAllTypesProto3(
    oneof_nested_message=p3.TestAllTypesProto3.NestedMessage(a=1)).SerializeToString()
n = p2.TestAllTypesProto2(optional_int32=1, optional_string="s", default_int32=5,
                          repeated_nested_enum=[p2.TestAllTypesProto2.BAR],
                          packed_int32=[1, 2, 3], map_string_string={"a": "b"})
n.data.group_int32 = 7
n.Extensions[p2.extension_int32] = 99
seeds["proto2_all"] = n.SerializeToString()
ms = p2.TestAllTypesProto2.MessageSetCorrect()
ms.Extensions[p2.TestAllTypesProto2.MessageSetCorrectExtension1.message_set_extension].str = "x"
seeds["proto2_message_set"] = ms.SerializeToString()
seeds["unknown_fields"] = b"\xa8\x1f\x01\xb2\x1f\x02hi\xbd\x1f\x01\x02\x03\x04\xc3\x1f\xc8\x1f\x05\xc4\x1f"
seeds["closed_enum_unknown"] = b"\xa8\x01\x63"  # TestAllTypesProto2.optional_nested_enum = 99
seeds["truncated_varint"] = b"\x08\xff\xff"
seeds["overlong_varint"] = b"\x08" + b"\xff" * 10 + b"\x01"
seeds["bad_wire_type"] = b"\x0f"
seeds["field_zero"] = b"\x00\x01"
seeds["length_past_end"] = b"\x72\x10ab"


def varint(v):
    b = bytearray()
    while v >= 0x80:
        b.append(v & 0x7F | 0x80)
        v >>= 7
    b.append(v)
    return bytes(b)


deep = b"\x08\x01"
for _ in range(150):  # recursive_message (27) nested past the depth limit
    deep = b"\xda\x01" + varint(len(deep)) + deep
seeds["deep_nesting"] = deep
seeds["invalid_utf8"] = b"\x72\x02\xc3\x28"
seeds["end_group_mismatch"] = b"\xcb\x0c\xd4\x0c"
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
