"""cpay-breaking against `buf breaking` (npm @bufbuild/buf) on the same
pairs of schemas, in one run: whole processes, as CI runs them.

Cases:
  payments  proto/payments.proto against tests/evolution/payments-changed
            (the typical check: one service's schema, a few changes);
  large     a generated schema of --messages messages with --fields fields
            each (about 45,000 lines by default) against a copy with one
            field deleted and one renamed in every 100th message.

For each case both tools run --runs times, interleaved (cpay, buf, cpay,
...), so that a slow spell of the shared machine hits both; it prints the
median and the fastest time of each and their ratio, and the findings each
reported (both must find the changes). Never a timed test: run it by hand.

usage: run.py --cpay-breaking BIN [--buf BIN] [--runs N] [--messages M] [--fields F]
Without --buf, buf 1.47.2 is taken from the cache the integration test
fills (~/.cache/cpay/buf-1.47.2), or installed there with npm."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUF_VERSION = "1.47.2"


def find_buf():
    cache = os.environ.get("CPAY_BUF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cpay",
        "buf-" + BUF_VERSION)
    buf = os.path.join(cache, "node_modules", ".bin", "buf")
    if not os.path.exists(buf):
        print("installing @bufbuild/buf@%s into %s" % (BUF_VERSION, cache), file=sys.stderr)
        subprocess.run(["npm", "install", "--prefix", cache, "--no-audit", "--no-fund",
                        "--loglevel=error", "@bufbuild/buf@" + BUF_VERSION], check=True,
                       timeout=600)
    return buf


def large_schema(path, messages, fields, changed):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "large.proto"), "w") as f:
        f.write('syntax = "proto3";\npackage bench.large.v1;\n\n')
        for m in range(messages):
            f.write("// Message %d of the generated schema.\nmessage M%d {\n" % (m, m))
            for k in range(1, fields + 1):
                if changed and m % 100 == 0 and k == 2:
                    continue  # deleted
                name = "f%d" % k
                if changed and m % 100 == 0 and k == 3:
                    name = "renamed%d" % k
                kind = ("int32", "string", "int64", "bool", "bytes")[k % 5]
                f.write("  // Field %d.\n  %s %s = %d;\n" % (k, kind, name, k))
            f.write("}\n\n")
    return sum(1 for _ in open(os.path.join(path, "large.proto")))


def timed(cmd, cwd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300)
    return time.monotonic() - t0, p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpay-breaking", required=True)
    ap.add_argument("--buf")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--fields", type=int, default=20)
    a = ap.parse_args()
    cpay = os.path.abspath(a.cpay_breaking)
    buf = os.path.abspath(a.buf) if a.buf else find_buf()
    version = subprocess.run([buf, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for side, src in (("old", os.path.join(ROOT, "tests/evolution/payments-changed/old.proto")),
                          ("new", os.path.join(ROOT, "tests/evolution/payments-changed/new.proto"))):
            d = os.path.join(tmp, "payments", side)
            os.makedirs(d)
            shutil.copy(src, os.path.join(d, "payments.proto"))
        lines = sum(1 for _ in open(os.path.join(tmp, "payments/new/payments.proto")))
        cases.append(("payments", os.path.join(tmp, "payments"), lines))
        large_schema(os.path.join(tmp, "large", "old"), a.messages, a.fields, False)
        lines = large_schema(os.path.join(tmp, "large", "new"), a.messages, a.fields, True)
        cases.append(("large", os.path.join(tmp, "large"), lines))

        print("## cpay-breaking vs buf breaking (%s)" % version)
        print()
        print("Whole processes, %d runs each, interleaved; times in ms. buf: `buf breaking new "
              "--against old` (its default FILE rules); cpay-breaking: `--no-config --against old "
              "new` (all rules)." % a.runs)
        print()
        print("| case | lines | cpay median | cpay fastest | buf median | buf fastest | "
              "buf/cpay (median) | findings cpay / buf |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, d, lines in cases:
            tc, tb = [], []
            out_c = out_b = ""
            for _ in range(a.runs):
                t, rc, out_c = timed([cpay, "--no-config", "--against", "old", "new"], d)
                if rc not in (0, 1):
                    sys.exit("cpay-breaking failed on %s: %s" % (name, out_c))
                tc.append(t)
                t, rc, out_b = timed([buf, "breaking", "new", "--against", "old"], d)
                if rc not in (0, 100):
                    sys.exit("buf breaking failed on %s (status %d): %s" % (name, rc, out_b))
                tb.append(t)
            fc = sum(1 for l in out_c.splitlines() if ": error: " in l)
            fb = sum(1 for l in out_b.splitlines() if l.strip())
            mc, mb = statistics.median(tc), statistics.median(tb)
            print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1fx | %d / %d |" % (
                name, lines, mc * 1000, min(tc) * 1000, mb * 1000, min(tb) * 1000, mb / mc, fc, fb))
        print()


main()
