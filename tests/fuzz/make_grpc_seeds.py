#!/usr/bin/python3
"""Writes the seed corpora of the libcpay-grpc fuzz targets (fuzz_grpc.c):
tests/fuzz/corpus/grpc_status_details/ (a status code byte, then a
grpc-status-details-bin value) and tests/fuzz/corpus/grpc_metadata/ (entries
of a one-byte key length, the key, a one-byte value length, the value).

Run from the project root: /usr/bin/python3 tests/fuzz/make_grpc_seeds.py
Seeds are checked in; rerun only to add seeds.
"""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
gen = tempfile.mkdtemp()
subprocess.run(["protoc", "-I", os.path.join(here, "..", "..", "runtime", "grpc"), "-I/usr/include",
                "--python_out", gen, "google/rpc/status.proto", "google/rpc/error_details.proto"],
               check=True)
sys.path.insert(0, gen)
from google.rpc import error_details_pb2 as ed  # noqa: E402
from google.rpc import status_pb2  # noqa: E402


def write(corpus, name, data):
    d = os.path.join(here, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def status(code, message, *details):
    s = status_pb2.Status(code=code, message=message)
    for m in details:
        s.details.add().Pack(m)
    return bytes([code]) + s.SerializeToString()


bad = ed.BadRequest(field_violations=[ed.BadRequest.FieldViolation(field="amount_cents",
                                                                   description="must be positive")])
info = ed.ErrorInfo(reason="AMOUNT_NOT_POSITIVE", domain="payments.example.com",
                    metadata={"limit": "1000", "unit": "cents"})
write("grpc_status_details", "bad_request_and_info", status(3, "invalid charge", bad, info))
write("grpc_status_details", "resource_info",
      status(5, "no such customer", ed.ResourceInfo(resource_type="customer", resource_name="cus_1")))
write("grpc_status_details", "every_type", status(
    9, "precondition",
    ed.RetryInfo(), ed.DebugInfo(stack_entries=["a", "b"], detail="d"),
    ed.QuotaFailure(violations=[ed.QuotaFailure.Violation(subject="s", description="d")]),
    ed.PreconditionFailure(violations=[ed.PreconditionFailure.Violation(type="t", subject="s")]),
    ed.RequestInfo(request_id="r-1"), ed.Help(links=[ed.Help.Link(url="https://x", description="d")]),
    ed.LocalizedMessage(locale="en-US", message="m")))
write("grpc_status_details", "code_differs", bytes([13]) + status(3, "m", bad)[1:])
write("grpc_status_details", "no_details", status(14, "unavailable"))
s = status_pb2.Status(code=3, message="m")
s.details.add(type_url="google.rpc.BadRequest", value=bad.SerializeToString())  # no host
s.details.add(type_url="type.googleapis.com/google.rpc.Help", value=b"\x0a\xff")  # truncated
write("grpc_status_details", "odd_any", bytes([3]) + s.SerializeToString())
write("grpc_status_details", "truncated", status(3, "invalid charge", bad)[:20])
write("grpc_status_details", "empty", b"")


def entries(*pairs):
    out = b""
    for k, v in pairs:
        out += bytes([len(k)]) + k + bytes([len(v)]) + v
    return out


write("grpc_metadata", "typical", entries((b"x-request-id", b"r-1"), (b"user-agent", b"grpc-c/29"),
                                          (b"authorization", b"Bearer t")))
write("grpc_metadata", "binary", entries((b"x-bin-bin", bytes(range(256))[:200]),
                                         (b"trace-bin", b"\x00\x01")))
write("grpc_metadata", "invalid_keys", entries((b"Upper", b"v"), (b"", b""), (b"grpc-x", b"v"),
                                               (b"x-text", b"a\nb")))
write("grpc_metadata", "long", entries(*[(b"k%02d" % i, b"v" * 255) for i in range(10)]))
