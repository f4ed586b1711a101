#!/usr/bin/python3
"""Writes the seed corpora of the HTTP listener's fuzz targets (fuzz_http.c):
tests/fuzz/corpus/http_route/ (four lines: a path template, a body rule, a
response_body, the request target; then the body) and tests/fuzz/corpus/grpcweb/
(a mode byte, a chunking seed byte, then a gRPC-Web request body).

Run from the project root: /usr/bin/python3 tests/fuzz/make_http_seeds.py
Seeds are checked in; rerun only to add seeds.
"""
import base64
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def write(corpus, name, data):
    d = os.path.join(here, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def route(tpl, body_rule, resp_rule, target, body=b""):
    return "\n".join([tpl, body_rule, resp_rule, target]).encode() + b"\n" + body


write("http_route", "var_and_query", route(
    "/v2/{optional_string}", "", "", "/v2/abc?optional_int32=5&repeated_string=a&repeated_string=b+c"))
write("http_route", "nested_and_verb", route(
    "/v2/{optional_nested_message.a}/x:do", "*", "", "/v2/7/x:do", b'{"optionalInt64":"9"}'))
write("http_route", "multi_segment", route(
    "/v2/{optional_string=projects/*/items/**}", "", "repeated_string",
    "/v2/projects/p%2F1/items/a/b?optional_nested_enum=BAR"))
write("http_route", "body_field", route(
    "/v2/{optional_bool}/{optional_nested_enum}", "repeated_int32", "",
    "/v2/true/2?optional_timestamp=2024-01-02T03:04:05Z&optional_bytes=-_8", b"[1,2,3]"))
write("http_route", "fixed_patch", route(
    "/v3", "", "", "/v1/items/abc?optional_double=NaN", b'{"a":3,"corecursive":{"optionalInt32":1}}'))
write("http_route", "bad_template", route("/v2/{a.b=**}/c", "nosuch", "", "/v1/../x"))
write("http_route", "errors", route(
    "/v2/*/{optional_int32}", "", "", "/v2/x/abc?nosuch=1&optional_int32=%zz", b"{}"))


def frame(payload, flags=0):
    return bytes([flags]) + struct.pack(">I", len(payload)) + payload


stream = frame(b"\x0a\x03abc") + frame(b"") + frame(bytes(range(200)))
write("grpcweb", "binary", b"\x00\x05" + stream)
write("grpcweb", "text", b"\x01\x07" + base64.b64encode(stream))
write("grpcweb", "text_chunks", b"\x01\x03" + b"".join(
    base64.b64encode(frame(p)) for p in [b"hi", b"", b"there"]))
write("grpcweb", "compressed", b"\x02\x09" + frame(b"\x1f\x8b", 1))
write("grpcweb", "trailer", b"\x00\x01" + frame(b"x") + frame(b"grpc-status:0\r\n", 0x80))
write("grpcweb", "too_large", b"\x04\x02" + frame(bytes(100)))
write("grpcweb", "truncated", b"\x00\x02" + frame(b"abcdef")[:8])
write("grpcweb", "timeout", b"\x00\x02" + b"10S")
