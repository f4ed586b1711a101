#!/usr/bin/python3
"""JSON interop between cpay and Python protobuf's json_format, both ways,
for TestAllTypesProto3 (every field set, the well-known types included) and
TestAllTypesProto2 (with extensions).

data/CASE.txtpb (in tests/interop) is the message. The checks:
  Python reads cpay:  cpay writes JSON (plain, with defaults, with proto
                      names, indented); json_format.Parse reads an equal message
  cpay reads Python:  json_format.MessageToJson writes it (plain, with
                      proto names and defaults); cpay reads an equal message
  cpay round trip:    cpay's JSON read back by cpay gives an equal message
  strictness:         JSON that json_format rejects, cpay rejects too
Prints TAP. Usage: json_interop_test.py TOOL CONFORMANCE_DIR WKT_DIR
"""
import os
import subprocess
import sys
import tempfile

tool, conf_dir, wkt_dir = sys.argv[1:4]
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop", "data")
work = tempfile.mkdtemp(prefix="cpay-json-interop-")
subprocess.run(["protoc", "-I", conf_dir, "-I", wkt_dir, "--python_out", work,
                "test_messages_proto2.proto", "test_messages_proto3.proto"], check=True)
sys.path.insert(0, work)
from google.protobuf import duration_pb2, json_format, struct_pb2, text_format  # noqa: E402
from google.protobuf import timestamp_pb2, wrappers_pb2  # noqa: E402
import test_messages_proto2_pb2  # noqa: E402
import test_messages_proto3_pb2  # noqa: E402

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    if not ok and detail:
        for line in str(detail).strip().splitlines()[:20]:
            print("# " + line)


def run(args, stdin):
    return subprocess.run([tool, *args], input=stdin, capture_output=True, timeout=60)


def same(a, b):
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def proto3_all():
    with open(os.path.join(data, "proto3_all.txtpb")) as f:
        m = text_format.Parse(f.read(), test_messages_proto3_pb2.TestAllTypesProto3())
    # JSON needs every Any's type to be known: replace the placeholder URL
    # and add Anys holding a message, a well-known type and another Any.
    del m.repeated_any[:]
    ts = timestamp_pb2.Timestamp(seconds=-62135596800, nanos=5000)
    m.repeated_any.add().Pack(ts)
    m.repeated_any.add().Pack(test_messages_proto3_pb2.TestAllTypesProto3(
        optional_int64=-7, optional_bytes=b"\xff\x00", optional_string="\u00e9\U0001F600\n"))
    m.repeated_any.add().Pack(struct_pb2.Value(string_value="in any"))
    inner = m.repeated_any.add()
    inner.Pack(duration_pb2.Duration(seconds=-1, nanos=-500000000))
    m.repeated_any.add().Pack(inner)
    m.repeated_any.add().Pack(wrappers_pb2.Int64Value(value=-(2**63)))
    m.repeated_double.extend([float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308])
    m.repeated_float.extend([float("inf"), 3.4028234663852886e38, 1.401298464324817e-45])
    m.map_string_string["\u2028\"\\"] = "\x01"
    return m


def proto2_all():
    with open(os.path.join(data, "proto2_all.txtpb")) as f:
        return text_format.Parse(f.read(), test_messages_proto2_pb2.TestAllTypesProto2())


cases = {"proto3_all": proto3_all(), "proto2_all": proto2_all()}

for case, want in cases.items():
    cls = type(want)
    wire = want.SerializeToString()
    cpay_json = {}
    for opts in [[], ["defaults"], ["proto-names"], ["indent"], ["defaults", "proto-names", "indent"]]:
        label = "+".join(opts) or "plain"
        r = run(["to-json", case, *opts], wire)
        if r.returncode != 0:
            check(False, f"{case}: cpay writes JSON ({label})", r.stderr.decode())
            continue
        cpay_json[label] = r.stdout
        try:
            got = json_format.Parse(r.stdout.decode(), cls())
            check(same(got, want), f"{case}: Python reads cpay's JSON ({label})",
                  r.stdout.decode()[:2000])
        except Exception as e:  # noqa: BLE001
            check(False, f"{case}: Python reads cpay's JSON ({label})", f"{e}\n{r.stdout[:2000]}")
    if "defaults" in cpay_json and case == "proto3_all":
        # For proto2, json_format 4.21 also writes unset optional fields
        # (which have presence); cpay writes only fields without presence, as
        # upstream protobuf does since 26.0 (always_print_fields_with_no_presence).
        # Emitting defaults writes the same keys as json_format's option.
        import json
        ours = set(json.loads(cpay_json["defaults"]).keys())
        theirs = set(json.loads(json_format.MessageToJson(
            want, including_default_value_fields=True)).keys())
        check(ours == theirs, f"{case}: default fields match json_format's",
              f"only cpay: {sorted(ours - theirs)}\nonly python: {sorted(theirs - ours)}")

    variants = [
        ("plain", json_format.MessageToJson(want)),
        ("proto names", json_format.MessageToJson(want, preserving_proto_field_name=True)),
        ("compact, enums as ints", json_format.MessageToJson(
            want, indent=None, use_integers_for_enums=True)),
    ]
    if case == "proto3_all":
        # (For proto2 the option sets unset optional fields: not the same message.)
        variants.append(("proto names + defaults", json_format.MessageToJson(
            want, preserving_proto_field_name=True, including_default_value_fields=True)))
    for label, text in variants:
        r = run(["from-json", case], text.encode())
        if r.returncode != 0:
            check(False, f"{case}: cpay reads Python's JSON ({label})", r.stderr.decode())
            continue
        got = cls()
        got.ParseFromString(r.stdout)
        check(same(got, want), f"{case}: cpay reads Python's JSON ({label})", str(got)[:2000])

    if "plain" in cpay_json:
        r = run(["from-json", case], cpay_json["plain"])
        ok = r.returncode == 0
        if ok:
            got = cls()
            got.ParseFromString(r.stdout)
            ok = same(got, want)
        check(ok, f"{case}: cpay reads its own JSON", r.stderr.decode())

# Inputs both must reject (and, with ignore-unknown, both accept).
bad = [
    '{"optionalInt32": 1,}',
    '{"optionalInt32": 2147483648}',
    '{"optionalInt32": 1.5}',
    '{"optionalInt64": "1 "}',
    '{"optionalFloat": 3.5e38}',
    '{"optionalDouble": Infinity}',
    '{"optionalBool": 1}',
    '{"optionalString": "\\ud800"}',
    '{"optionalNestedEnum": "NOPE"}',
    '{"optionalTimestamp": "1970-01-01T00:00:00"}',
    '{"optionalTimestamp": "10000-01-01T00:00:00Z"}',
    '{"optionalDuration": "315576000001s"}',
    '{"optionalFieldMask": "foo_bar"}',
    '{"repeatedInt32": [1, null]}',
    '{"oneofUint32": 1, "oneofString": "x"}',
    '{"mapInt32Int32": {"x": 1}}',
    '{"optionalAny": {"value": 1}}',
    '{"noSuchField": 1}',
    "{'optionalInt32': 1}",
    '{"optionalInt32": 01}',
    'null',
]
for text in bad:
    try:
        json_format.Parse(text, test_messages_proto3_pb2.TestAllTypesProto3())
        py_ok = True
    except Exception:  # noqa: BLE001
        py_ok = False
    r = run(["from-json", "proto3_all"], text.encode())
    check(not py_ok and r.returncode != 0 and b"offset" in r.stderr,
          f"both reject {text!r}", f"python accepts: {py_ok}; cpay: {r.stderr.decode()}")

# Inputs json_format 4.21 accepts but the conformance suite (and cpay) reject:
# one field under both its names, bytes with characters outside base64.
for text in ['{"optionalInt32": 1, "optional_int32": 2}', '{"optionalBytes": "!!"}',
             '{"optionalBytes": "AA=A"}']:
    r = run(["from-json", "proto3_all"], text.encode())
    check(r.returncode != 0 and b"offset" in r.stderr, f"cpay rejects {text!r}", r.stdout)

# Unknown fields: both skip them. Unknown enum names: json_format 4.21
# rejects them even when ignoring unknown fields; cpay leaves the field
# unset, as upstream protobuf does since 22.0 (conformance's
# IgnoreUnknownEnumStringValue tests).
want = test_messages_proto3_pb2.TestAllTypesProto3(optional_int32=3)
for text, python_too in [('{"noSuchField": {"a": [1]}, "optionalInt32": 3}', True),
                         ('{"optionalNestedEnum": "NOPE", "optionalInt32": 3,'
                          ' "repeatedNestedEnum": ["NOPE"], "mapStringNestedEnum": {"k": "NOPE"}}',
                          False)]:
    if python_too:
        check(same(json_format.Parse(text, test_messages_proto3_pb2.TestAllTypesProto3(),
                                     ignore_unknown_fields=True), want),
              f"Python ignores unknown in {text!r}")
    r = run(["from-json", "proto3_all", "ignore-unknown"], text.encode())
    got = test_messages_proto3_pb2.TestAllTypesProto3()
    if r.returncode == 0:
        got.ParseFromString(r.stdout)
    check(r.returncode == 0 and same(got, want), f"cpay ignores unknown in {text!r}",
          r.stderr.decode())

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)
