#!/usr/bin/python3
"""Text format interop between cpay and C++ protobuf (protoc --encode and
--decode) for TestAllTypesProto2/Proto3 with every field set
(tests/interop/data/proto{2,3}_all.txtpb). For each message:
  cpay reads the file:  cpay parses the text, protoc --decode reads cpay's
                        binary, and the text it prints parses (Python) equal
                        to the file's message
  C++ reads cpay text:  cpay prints protoc --encode's binary as text,
                        protoc --encode reads that text back to an equal message
  cpay reads C++ text:  protoc --decode prints the binary, cpay parses it equal
Prints TAP. Usage: text_interop_test.py TOOL CONFORMANCE_DIR DATA_DIR
"""
import os
import subprocess
import sys
import tempfile

tool, conf_dir, data = sys.argv[1:4]
work = tempfile.mkdtemp(prefix="cpay-text-")
includes = ["-I", conf_dir]
subprocess.run(["protoc", *includes, "--python_out", work, "test_messages_proto2.proto",
                "test_messages_proto3.proto"], check=True)
sys.path.insert(0, work)
from google.protobuf import text_format  # noqa: E402
import test_messages_proto2_pb2  # noqa: E402
import test_messages_proto3_pb2  # noqa: E402

cases = {
    "proto3": (test_messages_proto3_pb2.TestAllTypesProto3, "test_messages_proto3.proto"),
    "proto2": (test_messages_proto2_pb2.TestAllTypesProto2, "test_messages_proto2.proto"),
}
results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    if not ok and detail:
        for line in detail.strip().splitlines():
            print("# " + line)


def run(args, stdin=b""):
    return subprocess.run(args, input=stdin, capture_output=True, timeout=60)


for case, (cls, proto) in cases.items():
    full_name = cls.DESCRIPTOR.full_name
    with open(os.path.join(data, case + "_all.txtpb"), "rb") as f:
        text = f.read()
    want = text_format.Parse(text.decode(), cls())
    cxx = run(["protoc", *includes, "--encode=" + full_name, proto], text)
    check(cxx.returncode == 0, f"{case}: protoc --encode reads the file", cxx.stderr.decode())

    mine = run([tool, "from-text", case], text)
    dec = run(["protoc", *includes, "--decode=" + full_name, proto], mine.stdout)
    ok = mine.returncode == 0 and dec.returncode == 0
    got = text_format.Parse(dec.stdout.decode(), cls()) if ok else None
    check(got == want, f"{case}: cpay parses the file, protoc --decode agrees",
          mine.stderr.decode() + dec.stderr.decode())

    printed = run([tool, "to-text", case], cxx.stdout)
    back = run(["protoc", *includes, "--encode=" + full_name, proto], printed.stdout)
    ok = printed.returncode == 0 and back.returncode == 0
    got = cls.FromString(back.stdout) if ok else None
    check(got == want, f"{case}: cpay prints text that protoc --encode reads back equal",
          printed.stderr.decode() + back.stderr.decode() + printed.stdout.decode())

    cdec = run(["protoc", *includes, "--decode=" + full_name, proto], cxx.stdout)
    mine = run([tool, "from-text", case], cdec.stdout)
    ok = cdec.returncode == 0 and mine.returncode == 0
    got = cls.FromString(mine.stdout) if ok else None
    check(got == want, f"{case}: cpay parses protoc --decode's text equal",
          cdec.stderr.decode() + mine.stderr.decode())

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)
