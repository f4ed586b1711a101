#!/usr/bin/env python3
"""Copies the workload schemas for protoc-c 1.4.1, which rejects proto3
`optional`: `optional` is dropped (ChargeRequest.description becomes an
implicit-presence string; the workload's description is non-empty, so the
bytes on the wire are the same). Usage: strip_optional.py OUTDIR IN.proto..."""
import os
import re
import sys

out = sys.argv[1]
for path in sys.argv[2:]:
    with open(path) as f:
        text = f.read()
    text = re.sub(r"^(\s*)optional\s+", r"\1", text, flags=re.M)
    with open(os.path.join(out, os.path.basename(path)), "w") as f:
        f.write(text)
