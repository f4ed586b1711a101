#!/usr/bin/env python3
"""Runs the cpay benchmark: round-trip check, callgrind instruction counts,
interleaved CPU-time MB/s, and cpay's ratios to each peer.

Usage: run.py --driver BUILD/bench/bench-driver --data ../shared/bench
              [--rounds 11] [--ms 20] [--no-time] [--no-count] [--libs a,b]
              [--peer NAME=PROGRAM ...]
Invoked by `meson compile -C BUILD bench`; BENCH_ARGS in the environment adds
arguments (e.g. BENCH_ARGS="--no-time").

--peer adds a library built outside this tree (upb with its fasttable
decoder, say) to the same run: PROGRAM is a driver of its own that answers
`PROGRAM DATA verify` (lines ending in " ok"), `PROGRAM DATA count WORKLOAD
OP ITERS` with OP decode, decode-alias or encode (collection toggled around
the loop, as bench-driver does) and `PROGRAM DATA time ROUNDS MS` (lines
`time WORKLOAD OP MB/s`). It shows as the columns NAME and NAME-alias.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

LIBS = ["cpay", "cpay-alias", "protobuf-c", "nanopb", "c++", "c++-arena"]
PEERS = ["protobuf-c", "nanopb", "c++", "c++-arena"]
WORKLOADS = ["small", "batch", "txpage", "fds"]
OPS = ["decode", "encode"]
# Operations counted per valgrind run (after 3 uncounted warm-up operations).
ITERS = {"small": 2000, "batch": 100, "txpage": 4, "fds": 20}

# ../shared/bench/README.md: instructions per operation of the peers,
# including upb (not packaged by Debian) and upb with aliased strings.
REFERENCE = {
    ("small", "decode"): dict(pbc=2095, nanopb=3172, cpp=2369, cpp_arena=2677, upb=1513, upb_alias=1396),
    ("small", "encode"): dict(pbc=1133, nanopb=2557, cpp=746, cpp_arena=746, upb=1169, upb_alias=1169),
    ("batch", "decode"): dict(pbc=53567, nanopb=38142, cpp=78661, cpp_arena=84900, upb=26137, upb_alias=22887),
    ("batch", "encode"): dict(pbc=13119, nanopb=41862, cpp=22144, cpp_arena=22144, upb=6967, upb_alias=7204),
    ("txpage", "decode"): dict(pbc=2971402, nanopb=3603638, cpp=3083874, cpp_arena=1914787, upb=1058749, upb_alias=970326),
    ("txpage", "encode"): dict(pbc=1178776, nanopb=4857117, cpp=611666, cpp_arena=611666, upb=822140, upb_alias=822233),
    ("fds", "decode"): dict(pbc=440910, nanopb=1996258, cpp=420477, cpp_arena=317227, upb=152198, upb_alias=141143),
    ("fds", "encode"): dict(pbc=239046, nanopb=2056770, cpp=106961, cpp_arena=106961, upb=137861, upb_alias=137861),
}


def bar(wl, op):
    """The acceptance bar: 0.75x the best peer (upb aliased for decode,
    min(C++, upb) for encode)."""
    r = REFERENCE[(wl, op)]
    best = r["upb_alias"] if op == "decode" else min(r["cpp"], r["cpp_arena"], r["upb"])
    return 0.75 * best


def count_args(driver, peers, lib, wl, op):
    """The command that counts `op` of `lib` on `wl`: bench-driver takes
    LIB WORKLOAD OP, a --peer driver WORKLOAD OP (decode-alias for the
    decoding of NAME-alias)."""
    name = lib[:-len("-alias")] if lib.endswith("-alias") else lib
    if name not in peers:
        return [driver, "count", lib, wl, op]
    if lib.endswith("-alias") and op == "decode":
        op = "decode-alias"
    return [peers[name], "count", wl, op]


def count_one(driver, data, lib, wl, op, peers=None):
    prog = count_args(driver, peers or {}, lib, wl, op)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--callgrind-out-file=" + out, prog[0], data] + prog[1:] + [str(ITERS[wl])]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), p.stderr[-2000:]))
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:totals|summary):\s+(\d+)", line)
                if m:
                    return int(m.group(1)) / ITERS[wl]
    raise RuntimeError("no totals in callgrind output")


def code_size(args):
    """text+data of the generated objects of test_messages_proto3.proto and
    descriptor.proto, compiled with `cc -O2 -c`, for cpay, protobuf-c and
    nanopb (FT_POINTER, like the benchmark)."""
    conf = os.path.join(args.data, "..", "conformance")
    wkt = args.wkt
    files = {"test_messages_proto3": (conf, "test_messages_proto3.proto"),
             "descriptor": (os.path.join(wkt, "google", "protobuf"), "descriptor.proto")}
    imports = ["any", "duration", "field_mask", "struct", "timestamp", "wrappers"]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        opts = os.path.join(tmp, "all.options")
        with open(opts, "w") as f:
            f.write("* type:FT_POINTER\n")
        for lib in ["cpay", "protobuf-c", "nanopb"]:
            out = os.path.join(tmp, lib)
            os.makedirs(out)
            for name, (inc, proto) in files.items():
                if lib == "cpay":
                    gen = ["protoc", "--plugin=protoc-gen-cpay=" + args.plugin, "--cpay_out=" + out]
                    src = os.path.join(out, proto.replace(".proto", ".cpay.c"))
                    cflags = ["-I" + d for d in args.cpay_include] + ["-I" + out]
                elif lib == "protobuf-c":
                    gen = ["protoc-c", "--c_out=" + out]
                    src = os.path.join(out, proto.replace(".proto", ".pb-c.c"))
                    cflags = ["-I" + out]
                else:
                    gen = ["protoc", "--plugin=protoc-gen-nanopb=" + shutil.which("protoc-gen-nanopb"),
                           "--nanopb_opt=-f" + opts, "--nanopb_out=" + out]
                    src = os.path.join(out, proto.replace(".proto", ".pb.c"))
                    cflags = ["-I" + out, "-DPB_ENABLE_MALLOC"]
                deps = []
                if name == "test_messages_proto3":
                    deps = ["google/protobuf/%s.proto" % i for i in imports]
                    subprocess.run(gen + ["-I" + wkt] + deps, check=True)
                subprocess.run(gen + ["-I" + inc, "-I" + wkt, os.path.join(inc, proto)], check=True)
                obj = os.path.join(out, name + ".o")
                subprocess.run(["cc", "-O2", "-c", src, "-o", obj] + cflags, check=True)
                size = subprocess.run(["size", obj], stdout=subprocess.PIPE, text=True,
                                      check=True).stdout.splitlines()[1].split()
                res[(lib, name)] = int(size[0]) + int(size[1])
    return res


def fmt(v):
    return "{:,.0f}".format(v)


def print_like_for_like(title, values, libs, peers, wls, ratio):
    """cpay against each --peer: copying against copying (cpay / NAME),
    aliasing against aliasing (cpay-alias / NAME-alias, decoding only)."""
    pairs = [(me, name + me[len("cpay"):]) for name in peers for me in ("cpay", "cpay-alias")
             if me in libs]
    if not pairs:
        return
    print("## %s\n" % title)
    print("| workload | op | " + " | ".join("%s / %s" % pr for pr in pairs) + " |")
    print("| --- | --- |" + " ---: |" * len(pairs))
    for wl in wls:
        for op in OPS:
            cells = []
            for me, pr in pairs:
                a, b = values.get((me, wl, op)), values.get((pr, wl, op))
                cells.append("%.2fx" % ratio(a, b) if a and b else "-")
            print("| %s | %s | %s |" % (wl, op, " | ".join(cells)))
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--ms", type=float, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--plugin", help="protoc-gen-cpay, for the code-size table")
    ap.add_argument("--cpay-include", action="append", default=[],
                    help="cpay's runtime/include, and the build's (cpay/version.h); repeatable")
    ap.add_argument("--wkt", default="/usr/include", help="where google/protobuf/*.proto are")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--no-extra", action="store_true", help="skip code size and memory")
    ap.add_argument("--no-count", action="store_true")
    ap.add_argument("--peer", action="append", default=[], metavar="NAME=PROGRAM",
                    help="a library built outside the tree, measured by its own driver (see above)")
    args = ap.parse_args(sys.argv[1:] + shlex.split(os.environ.get("BENCH_ARGS", "")))
    libs = args.libs.split(",")
    wls = args.workloads.split(",")
    peers = {}
    for x in args.peer:
        name, eq, prog = x.partition("=")
        if not eq or not name or not prog or name in LIBS or name.endswith("-alias"):
            sys.exit("--peer %s: want NAME=PROGRAM, NAME not one of %s nor ending in -alias"
                     % (x, ", ".join(LIBS)))
        peers[name] = prog
    peer_libs = [n for name in peers for n in (name, name + "-alias")]

    for prog in [args.driver] + list(peers.values()):
        p = subprocess.run([prog, args.data, "verify"], stdout=subprocess.PIPE, text=True)
        bad = [l for l in p.stdout.splitlines() if not l.endswith(" ok")]
        if p.returncode != 0 or bad:
            print(p.stdout)
            sys.exit("round trip check failed: " + prog)
    print("round trip: every library re-encodes every workload byte for byte\n")

    if not args.no_count:
        # A peer's aliased decoding re-encodes as its copying one does: its
        # encode is counted once.
        jobs = [(lib, wl, op) for wl in wls for op in OPS for lib in libs + peer_libs
                if not (lib in peer_libs and lib.endswith("-alias") and op == "encode")]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = {j: ex.submit(count_one, args.driver, args.data, *j, peers=peers) for j in jobs}
            counts = {j: f.result() for j, f in futs.items()}
        cols = libs + peer_libs
        print("## Instructions per operation (callgrind, loop only; lower is better)\n")
        print("| workload | op | " + " | ".join(cols) + " | upb ref | upb aliased ref | bar (0.75x best) | cpay-alias / best |")
        print("| --- | --- |" + " ---: |" * (len(cols) + 4))
        for wl in wls:
            for op in OPS:
                r = REFERENCE[(wl, op)]
                best = r["upb_alias"] if op == "decode" else min(r["cpp"], r["upb"])
                cp = counts.get(("cpay-alias", wl, op), counts.get(("cpay", wl, op)))
                row = [fmt(counts[(l, wl, op)]) if (l, wl, op) in counts else "-" for l in cols]
                ratio = "%.2fx %s" % (cp / best, "ok" if cp <= bar(wl, op) else "MISSED") if cp else "-"
                print("| %s | %s | %s | %s | %s | %s | %s |" % (
                    wl, op, " | ".join(row), fmt(r["upb"]), fmt(r["upb_alias"]), fmt(bar(wl, op)), ratio))
        print()
        if peers:
            print_like_for_like("Instructions: cpay / peer, like for like (lower is better)",
                                counts, libs, peers, wls, lambda a, b: a / b)

    peer_mbps = {}
    if not args.no_time:
        for name, prog in peers.items():
            p = subprocess.run([prog, args.data, "time", str(args.rounds), str(args.ms)],
                               stdout=subprocess.PIPE, text=True, check=True)
            for line in p.stdout.splitlines():
                if not line.startswith("time "):
                    continue
                _, wl, op, v = line.split()[:4]
                lib = name + "-alias" if op == "decode-alias" else name
                peer_mbps[(lib, wl, "decode" if op == "decode-alias" else op)] = float(v)

    if not args.no_extra:
        env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=0")
        print("## Heap held after one decode (bytes; glibc mallinfo2, tcache off; for arenas also the peak)\n")
        print("| workload | " + " | ".join(libs) + " |")
        print("| --- |" + " ---: |" * len(libs))
        for wl in wls:
            row = []
            for lib in libs:
                p = subprocess.run([args.driver, args.data, "peak", lib, wl], stdout=subprocess.PIPE,
                                   text=True, env=env, check=True)
                row.append(fmt(int(p.stdout.split()[-1])))
            print("| %s | %s |" % (wl, " | ".join(row)))
        print()
        if args.plugin and args.cpay_include:
            sizes = code_size(args)
            print("## Generated code size (text+data bytes, cc -O2 -c)\n")
            print("| file | cpay | protobuf-c | nanopb |")
            print("| --- | ---: | ---: | ---: |")
            for name in ["test_messages_proto3", "descriptor"]:
                print("| %s.proto | %s |" % (name, " | ".join(
                    fmt(sizes[(l, name)]) for l in ["cpay", "protobuf-c", "nanopb"])))
            print()

    if not args.no_time:
        p = subprocess.run([args.driver, args.data, "time", str(args.rounds), str(args.ms)] + libs,
                           stdout=subprocess.PIPE, text=True, check=True)
        mbps = dict(peer_mbps)
        for line in p.stdout.splitlines():
            _, lib, wl, op, v = line.split()
            mbps[(lib, wl, op)] = float(v)
        print("## MB/s (median of %d interleaved rounds, thread CPU time; higher is better)\n" % args.rounds)
        print("| workload | op | " + " | ".join(libs + peer_libs) + " |")
        print("| --- | --- |" + " ---: |" * len(libs + peer_libs))
        for wl in wls:
            for op in OPS:
                print("| %s | %s | %s |" % (wl, op, " | ".join(
                    "%.0f" % mbps[(l, wl, op)] if (l, wl, op) in mbps else "-"
                    for l in libs + peer_libs)))
        print()
        if peers:
            print_like_for_like("Speed: cpay / peer, like for like (the peer's own rounds in "
                                "its own process, in this run; higher is better)",
                                mbps, libs, peers, wls, lambda a, b: a / b)
        debian = [l for l in libs if l in PEERS]
        for me in [l for l in libs if l.startswith("cpay")] if debian else []:
            print("## %s speed / peer speed (same run)\n" % me)
            print("| workload | op | " + " | ".join(debian) + " |")
            print("| --- | --- |" + " ---: |" * len(debian))
            for wl in wls:
                for op in OPS:
                    print("| %s | %s | %s |" % (wl, op, " | ".join(
                        "%.2fx" % (mbps[(me, wl, op)] / mbps[(pr, wl, op)]) for pr in debian)))
            print()


if __name__ == "__main__":
    main()
