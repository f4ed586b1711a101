"""The gRPC benchmark: cpay (libcpay-grpc on C-core) against C++ gRPC
(libgrpc++-dev) in the same run, each client against each server.

Measures unary calls per second with p50/p90/p99 latency at 1 and 32 calls
in flight (one channel, blocking calls from that many threads), and
server-streaming messages per second (one stream). Prints a table and the
cpay / C++ ratios.

usage: run.py --cpay BIN --cxx BIN [--seconds S] [--messages N]"""
import argparse
import re
import subprocess
import sys


def start(bin_):
    p = subprocess.Popen([bin_, "server", "0"], stdout=subprocess.PIPE, text=True)
    m = re.search(r"port (\d+)", p.stdout.readline())
    if not m:
        p.kill()
        sys.exit("%s did not start" % bin_)
    return p, "127.0.0.1:" + m.group(1)


def run(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), out.stdout))
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpay", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--messages", type=int, default=300000)
    a = ap.parse_args()
    impls = {"cpay": a.cpay, "C++": a.cxx}
    servers = {name: start(b) for name, b in impls.items()}
    rows = {}
    try:
        for client, cbin in impls.items():
            for server, (_, target) in servers.items():
                r = {}
                for conc in (1, 32):
                    out = run([cbin, "unary", target, str(conc), str(a.seconds)])
                    f = out.split("RESULT ")[1].split()
                    r["unary%d" % conc] = (float(f[4]), float(f[5]), float(f[6]), float(f[7]))
                out = run([cbin, "stream", target, str(a.messages)])
                r["stream"] = float(out.split("STREAM ")[1].split()[2])
                rows[(client, server)] = r
                print("measured %s client -> %s server" % (client, server), file=sys.stderr)
    finally:
        for p, _ in servers.values():
            p.terminate()
            p.wait()

    print("gRPC benchmark: unary ChargeCard (calls/s, latency p50/p90/p99 in us) at 1 and 32 "
          "calls in flight; StreamTransactions messages/s")
    print()
    print("| client -> server | unary x1 calls/s | x1 p50/p90/p99 | unary x32 calls/s | x32 p50/p90/p99 | stream msgs/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for (c, s), r in rows.items():
        u1, u32 = r["unary1"], r["unary32"]
        print("| %s -> %s | %.0f | %.0f/%.0f/%.0f | %.0f | %.0f/%.0f/%.0f | %.0f |" % (
            c, s, u1[0], u1[1], u1[2], u1[3], u32[0], u32[1], u32[2], u32[3], r["stream"]))
    print()
    cp, cx = rows[("cpay", "cpay")], rows[("C++", "C++")]
    print("ratios cpay/C++ (end to end, both sides of each):")
    print("  unary x1 throughput  %.2f" % (cp["unary1"][0] / cx["unary1"][0]))
    print("  unary x32 throughput %.2f" % (cp["unary32"][0] / cx["unary32"][0]))
    print("  unary x1 p50 latency %.2f (lower is better)" % (cp["unary1"][1] / cx["unary1"][1]))
    print("  unary x32 p99 latency %.2f (lower is better)" % (cp["unary32"][3] / cx["unary32"][3]))
    print("  stream msgs/s        %.2f" % (cp["stream"] / cx["stream"]))
    sc, ss = rows[("C++", "cpay")], rows[("cpay", "C++")]
    print("  server only (C++ client): unary x32 %.2f, stream %.2f" % (
        sc["unary32"][0] / cx["unary32"][0], sc["stream"] / cx["stream"]))
    print("  client only (C++ server): unary x32 %.2f, stream %.2f" % (
        ss["unary32"][0] / cx["unary32"][0], ss["stream"] / cx["stream"]))


main()
