#!/usr/bin/python3
"""Drives a cpay conformance testee the way the official runner does.

Sends (v21: a FailureSet probe; v36: a message type the testee does not
know, which must be skipped), binary round trips of both test message types,
a malformed payload, JSON in and out (with the ignore-unknown category, a
JSON parse error and an Any of google.protobuf.Empty), and text format in and
out (with unknown fields printed on request), and for v36 a binary and JSON
round trip of each editions message type; checks each answer arrives in
order with the expected result.

Usage: protocol_test.py v21|v36 TESTEE SCHEMA_DIR
"""
import os
import struct
import subprocess
import sys
import tempfile

mode, testee, schema_dir = sys.argv[1], sys.argv[2], sys.argv[3]
tmp = tempfile.TemporaryDirectory(prefix="cpay-conformance-")
gen = tmp.name
if mode == "v21":
    includes = [schema_dir]
else:  # the v36 folder layout, each file compiled from its own folder
    includes = [os.path.join(schema_dir, "conformance"),
                os.path.join(schema_dir, "google", "protobuf")]
subprocess.run(["protoc", *[f"-I{d}" for d in includes], "-I/usr/include", "--python_out", gen,
                "conformance.proto", "test_messages_proto2.proto",
                "test_messages_proto3.proto"], check=True)
sys.path.insert(0, gen)
import conformance_pb2 as cf  # noqa: E402
import test_messages_proto2_pb2 as p2  # noqa: E402
import test_messages_proto3_pb2 as p3  # noqa: E402

requests = []


def add(message_type, payload_field, payload, fmt=cf.PROTOBUF):
    req = cf.ConformanceRequest(message_type=message_type, requested_output_format=fmt)
    setattr(req, payload_field, payload)
    requests.append(req)


if mode == "v21":
    add("conformance.FailureSet", "protobuf_payload", b"")
else:
    add("no.such.Message", "protobuf_payload", b"")
m3 = p3.TestAllTypesProto3(optional_int32=-7, optional_string="héllo",
                           repeated_int64=[1, -2, 3], map_string_string={"k": "v"})
m3.optional_nested_message.a = 42
m3.oneof_uint32 = 5
add("protobuf_test_messages.proto3.TestAllTypesProto3", "protobuf_payload",
    m3.SerializeToString())
m2 = p2.TestAllTypesProto2(optional_int32=1, optional_nested_enum=p2.TestAllTypesProto2.BAZ)
m2.data.group_int32 = 9
add("protobuf_test_messages.proto2.TestAllTypesProto2", "protobuf_payload",
    m2.SerializeToString() + b"\xa8\x1f\x01")  # plus unknown field 500 = 1
add("protobuf_test_messages.proto3.TestAllTypesProto3", "protobuf_payload", b"\x0a\x05ab")
add("protobuf_test_messages.proto3.TestAllTypesProto3", "json_payload",
    '{"optionalInt32": -7, "optionalNestedMessage": {"a": 42}, "oneofUint32": 5,'
    ' "optionalTimestamp": "1970-01-01T00:00:01.5Z"}', cf.JSON)
add("protobuf_test_messages.proto3.TestAllTypesProto3", "protobuf_payload",
    m3.SerializeToString(), cf.JSON)
add("protobuf_test_messages.proto3.TestAllTypesProto3", "json_payload",
    '{"optionalNestedMessage": {"a": "x"}}', cf.PROTOBUF)
requests.append(cf.ConformanceRequest(
    message_type="protobuf_test_messages.proto3.TestAllTypesProto3",
    json_payload='{"unknownName": 1, "optionalInt32": 2}', requested_output_format=cf.PROTOBUF,
    test_category=cf.JSON_IGNORE_UNKNOWN_PARSING_TEST))
add("protobuf_test_messages.proto3.TestAllTypesProto3", "text_payload",
    "optional_int32: 1  # a comment\noptional_string: 'a' \"b\"", cf.TEXT_FORMAT)
add("protobuf_test_messages.proto3.TestAllTypesProto3", "text_payload", "optional_int32: 1.5",
    cf.PROTOBUF)
# Field 999 (varint 7) is unknown to TestAllTypesProto3.
requests.append(cf.ConformanceRequest(
    message_type="protobuf_test_messages.proto3.TestAllTypesProto3",
    protobuf_payload=b"\xb8\x3e\x07", requested_output_format=cf.TEXT_FORMAT,
    print_unknown_fields=True))

add("protobuf_test_messages.proto3.TestAllTypesProto3", "json_payload",
    '{"optionalAny": {"@type": "type.googleapis.com/google.protobuf.Empty"}}', cf.JSON)
# Each: optional_int32 (1) = 5 and unknown field 999 = 7. In edition
# UNSTABLE (compiled as its 2024 equivalent, v36/editions_set.sh) an "int32"
# is an sfixed32 on the wire.
editions = [
    ("protobuf_test_messages.editions.proto3.TestAllTypesProto3", b"\x08\x05"),
    ("protobuf_test_messages.editions.proto2.TestAllTypesProto2", b"\x08\x05"),
    ("protobuf_test_messages.editions.TestAllTypesEdition2023", b"\x08\x05"),
    ("protobuf_test_messages.edition_unstable.TestAllTypesEditionUnstable",
     b"\x0d\x05\x00\x00\x00"),
] if mode == "v36" else []
for t, five in editions:
    add(t, "protobuf_payload", five + b"\xb8\x3e\x07")
    add(t, "protobuf_payload", five, cf.JSON)

stdin = b"".join(struct.pack("<I", len(r.SerializeToString())) + r.SerializeToString()
                 for r in requests)
proc = subprocess.run([testee], input=stdin, capture_output=True, timeout=60)
if proc.returncode != 0:
    sys.exit(f"testee exited {proc.returncode}: {proc.stderr.decode()}")

out, answers = proc.stdout, []
while out:
    (n,) = struct.unpack("<I", out[:4])
    answers.append(cf.ConformanceResponse.FromString(out[4:4 + n]))
    out = out[4 + n:]

failures = []


def expect(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures.append(what)


expect(len(answers) == len(requests), f"{len(requests)} answers in order")
if len(answers) == len(requests):
    if mode == "v21":
        expect(answers[0].WhichOneof("result") == "protobuf_payload"
               and answers[0].protobuf_payload == b"", "FailureSet probe answered empty")
    else:
        expect(answers[0].WhichOneof("result") == "skipped",
               "an unknown message type is skipped: " + str(answers[0]))
    expect(p3.TestAllTypesProto3.FromString(answers[1].protobuf_payload) == m3,
           "proto3 round trip equal")
    expect(answers[1].protobuf_payload == m3.SerializeToString(),
           "proto3 round trip byte-identical")
    back2 = p2.TestAllTypesProto2.FromString(answers[2].protobuf_payload)
    expect(back2.optional_int32 == 1 and back2.data.group_int32 == 9
           and answers[2].protobuf_payload.endswith(b"\xa8\x1f\x01"),
           "proto2 round trip keeps groups and unknown fields")
    expect(answers[3].WhichOneof("result") == "parse_error"
           and "offset" in answers[3].parse_error,
           "truncated payload is a parse error naming the offset: " + answers[3].parse_error)
    from google.protobuf import json_format
    want = p3.TestAllTypesProto3(optional_int32=-7, oneof_uint32=5)
    want.optional_nested_message.a = 42
    want.optional_timestamp.seconds, want.optional_timestamp.nanos = 1, 500000000
    expect(answers[4].WhichOneof("result") == "json_payload"
           and json_format.Parse(answers[4].json_payload, p3.TestAllTypesProto3()) == want,
           "JSON round trip equal: " + str(answers[4]))
    expect(answers[5].WhichOneof("result") == "json_payload"
           and json_format.Parse(answers[5].json_payload, p3.TestAllTypesProto3()) == m3,
           "binary in, JSON out equal: " + str(answers[5]))
    expect(answers[6].WhichOneof("result") == "parse_error"
           and answers[6].parse_error.startswith("$.optionalNestedMessage.a: ")
           and "offset 32" in answers[6].parse_error,
           "JSON parse error names the path and offset: " + str(answers[6]))
    expect(answers[7].WhichOneof("result") == "protobuf_payload"
           and p3.TestAllTypesProto3.FromString(answers[7].protobuf_payload)
           == p3.TestAllTypesProto3(optional_int32=2),
           "ignore-unknown category skips unknown JSON keys: " + str(answers[7]))
    expect(answers[8].text_payload == 'optional_int32: 1\noptional_string: "ab"\n',
           "text format in and out: " + str(answers[8]))
    expect(answers[9].WhichOneof("result") == "parse_error"
           and answers[9].parse_error.startswith("1:17: "),
           "text parse error has line:column: " + str(answers[9]))
    expect(answers[10].text_payload == "999: 7\n",
           "unknown fields printed on request: " + str(answers[10]))
    expect(answers[11].json_payload.replace(" ", "")
           == '{"optionalAny":{"@type":"type.googleapis.com/google.protobuf.Empty"}}',
           "an Any of google.protobuf.Empty: " + str(answers[11]))
    for i, (t, five) in enumerate(editions):
        a, j = answers[12 + 2 * i], answers[13 + 2 * i]
        expect(a.protobuf_payload == five + b"\xb8\x3e\x07",
               f"{t}: binary round trip: {a}")
        expect(j.json_payload.replace(" ", "") == '{"optionalInt32":5}',
               f"{t}: JSON: {j}")
sys.exit(1 if failures else 0)
