#!/usr/bin/env python3
"""Writes the first ```cmake, ```make and ```meson blocks of
docs/integration.md into DIR/cmake/CMakeLists.txt, DIR/make/Makefile and
DIR/meson/meson.build, so the integration suite builds the recipes exactly as
a reader copies them."""
import os
import re
import sys

doc, out = sys.argv[1], sys.argv[2]
with open(doc, encoding="utf-8") as f:
    text = f.read()
blocks = re.findall(r"^```(\w+)\n(.*?)^```", text, re.S | re.M)
targets = {"cmake": "CMakeLists.txt", "make": "Makefile", "meson": "meson.build"}
for lang, name in targets.items():
    found = [body for tag, body in blocks if tag == lang]
    if not found:
        sys.exit("extract_docs: no ```%s block in %s" % (lang, doc))
    os.makedirs(os.path.join(out, lang), exist_ok=True)
    with open(os.path.join(out, lang, name), "w", encoding="utf-8") as f:
        f.write(found[0])
