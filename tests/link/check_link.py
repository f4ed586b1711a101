#!/usr/bin/env python3
"""Pay for what you use: checks which parts of libcpay a static program links.

usage: check_link.py NM LIBCPAY.a PROGRAM (absent|present)

Runs PROGRAM (it must exit 0), then collects the global symbols that
libcpay.a's JSON and text objects (members named *json* or *text*) define,
and lists those PROGRAM holds. `absent` passes when there are none (and no
cpay_json_*/cpay_text_* symbol at all); `present` passes when the JSON
encoder is there, which shows that the check sees what it looks for. The
program must have been linked without --gc-sections, which would hide what
a plain link pulls in.
"""
import re
import subprocess
import sys


def nm(tool, path):
    out = subprocess.run([tool, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return out.splitlines()


def format_symbols(tool, lib):
    """Global symbols defined by the JSON and text members of `lib`."""
    syms, member = {}, None
    for line in nm(tool, lib):
        if line.endswith(":") and " " not in line:
            member = line[:-1]
            continue
        parts = line.split()
        if member and len(parts) == 3 and parts[1] in "TDRB" and re.search(r"json|text", member):
            syms[parts[2]] = member
    return syms


def main():
    tool, lib, prog, want = sys.argv[1:5]
    run = subprocess.run([prog], stdout=subprocess.PIPE, universal_newlines=True)
    if run.returncode != 0:
        sys.exit("FAIL: %s exited with %d" % (prog, run.returncode))
    formats = format_symbols(tool, lib)
    if not formats:
        sys.exit("no JSON or text objects found in %s" % lib)
    have = {l.split()[-1] for l in nm(tool, prog) if l.strip()}
    linked = sorted(s for s in have if s in formats or re.match(r"cpay_(json|text)_", s))
    objects = sorted({formats.get(s, "?") for s in linked})
    print("%s: %d JSON/text symbols from %s"
          % (prog, len(linked), ", ".join(objects) or "no object"))
    for s in linked[:20]:
        print("  " + s)
    if want == "absent" and linked:
        sys.exit("FAIL: a program that neither calls JSON nor text links their code")
    if want == "present" and "cpay_json_encode" not in linked:
        sys.exit("FAIL: the program calls _to_json but cpay_json_encode is not linked: "
                 "the check does not see what it looks for")
    print("ok")


if __name__ == "__main__":
    main()
