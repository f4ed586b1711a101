#!/usr/bin/python3
"""Interop between cpay, C++ protobuf (protoc --encode/--decode) and Python
protobuf, both ways, for the payments schema and TestAllTypesProto2/3.

For each case, data/CASE.txtpb is the expected message. The checks:
  cpay reads C++:     protoc --encode writes it, cpay parses it equal to the
                      message interop-tool builds through the generated API
  cpay reads Python:  Python writes it, cpay parses it equal
  Python reads cpay:  cpay writes its message, Python parses it equal
  C++ reads cpay:     cpay writes it, protoc --decode reads it and the text
                      it prints parses (in Python) to an equal message
  cpay round trip:    Python's bytes through cpay parse+serialize come back equal
Prints TAP. Usage: interop_test.py TOOL CONFORMANCE_DIR PAYMENTS_DIR WKT_DIR
"""
import os
import subprocess
import sys
import tempfile

tool, conf_dir, pay_dir, wkt_dir = sys.argv[1:5]
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
work = tempfile.mkdtemp(prefix="cpay-interop-")
includes = ["-I", conf_dir, "-I", pay_dir, "-I", wkt_dir]
# payments.proto imports google/api/annotations.proto (in PAYMENTS_DIR too):
# payments_pb2 needs the modules of it and of http.proto.
subprocess.run(["protoc", *includes, "--python_out", work, "test_messages_proto2.proto",
                "test_messages_proto3.proto", "payments.proto", "google/api/annotations.proto",
                "google/api/http.proto"], check=True)
sys.path.insert(0, work)
from google.protobuf import text_format  # noqa: E402
import payments_pb2  # noqa: E402
import test_messages_proto2_pb2  # noqa: E402
import test_messages_proto3_pb2  # noqa: E402

cases = {
    "proto3_all": (test_messages_proto3_pb2.TestAllTypesProto3, "test_messages_proto3.proto"),
    "proto2_all": (test_messages_proto2_pb2.TestAllTypesProto2, "test_messages_proto2.proto"),
}
for name in ["ChargeRequest", "ChargeResponse", "Transaction", "TransactionStreamRequest",
             "BatchChargeResponse", "PaymentMessage"]:
    cases["payments_" + name] = (getattr(payments_pb2, name), "payments.proto")

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
    with open(os.path.join(data, case + ".txtpb")) as f:
        text = f.read()
    want = text_format.Parse(text, cls())

    cxx = run(["protoc", *includes, "--encode=" + full_name, proto], text.encode())
    path = os.path.join(work, case + ".cxx.bin")
    with open(path, "wb") as f:
        f.write(cxx.stdout)
    r = run([tool, "check", case, path])
    check(cxx.returncode == 0 and r.returncode == 0, f"{case}: cpay reads C++ bytes",
          cxx.stderr.decode() + r.stderr.decode())

    path = os.path.join(work, case + ".py.bin")
    with open(path, "wb") as f:
        f.write(want.SerializeToString())
    r = run([tool, "check", case, path])
    check(r.returncode == 0, f"{case}: cpay reads Python bytes", r.stderr.decode())

    fill = run([tool, "fill", case])
    try:
        got = cls.FromString(fill.stdout) if fill.returncode == 0 else None
    except Exception as e:  # a parse failure is a failed check, not a crash
        got, fill.stderr = None, str(e).encode()
    check(got == want, f"{case}: Python reads cpay bytes",
          fill.stderr.decode() + (text_format.MessageToString(got) if got else ""))

    dec = run(["protoc", *includes, "--decode=" + full_name, proto], fill.stdout)
    try:
        got = text_format.Parse(dec.stdout.decode(), cls()) if dec.returncode == 0 else None
    except Exception as e:
        got, dec.stderr = None, str(e).encode()
    check(got == want, f"{case}: C++ reads cpay bytes", dec.stderr.decode())

    rt = run([tool, "roundtrip", case], want.SerializeToString())
    try:
        got = cls.FromString(rt.stdout) if rt.returncode == 0 else None
    except Exception as e:
        got, rt.stderr = None, str(e).encode()
    check(got == want, f"{case}: Python bytes survive a cpay round trip", rt.stderr.decode())

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)
