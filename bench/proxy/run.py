"""The proxy benchmark (issue 19): what nginx and HAProxy, run from the
configurations shipped in examples/payments/proxies/, cost a unary gRPC call,
against the same calls without a proxy, in one run.

Three payments-server replicas (in-memory store) serve every measurement:

  direct       bench-proxy-load straight to replica 1 (one HTTP/2
               connection)
  direct-rr    straight to all three, client-side round robin (C-core's
               round_robin: a connection to each, calls in turn)
  nginx        through nginx.conf (grpc_pass, round robin over the three)
  haproxy      through haproxy.cfg (proto h2 both sides, roundrobin, the
               gRPC health check running meanwhile)

Each cell is bench-proxy-load with 1 and with 32 blocking ChargeCard calls
in flight on one channel, for --seconds or --max-calls calls, whichever
comes first. Each round takes every cell in turn, so that a slow spell of
the shared machine lands on all of them; each figure is the median of the
rounds. Printed as a markdown table of calls/s and p50/p99 latency (us),
then as ratios to direct, with the proxy's CPU time per call (nginx: master
and workers).

usage: run.py --server BIN --load BIN --nginx BIN --haproxy BIN --proxies DIR
              [--seconds S] [--max-calls N] [--rounds R] [--short]
Invoked by `meson compile -C BUILD bench-proxy`; BENCH_ARGS in the
environment adds arguments (e.g. BENCH_ARGS="--rounds 5").

Every process it starts listens on 127.0.0.1 only and is stopped by its
PID; every load run is bounded in time and in calls, and every wait has a
timeout. Exits 1 if a measurement failed (the table shows which)."""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
CELLS = ["direct", "direct-rr", "nginx", "haproxy"]
CONCS = [1, 32]


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Proc:
    """A long-running child, its output in a file; stopped by its PID."""

    live = []

    def __init__(self, cmd, out_path):
        self.cmd = cmd
        self.out_path = out_path
        with open(out_path, "wb") as out:
            self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT)
        Proc.live.append(self)

    @property
    def pid(self):
        return self.p.pid

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stop(self, grace=15):
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=30)
        if self in Proc.live:
            Proc.live.remove(self)


def stop_all():
    for p in reversed(list(Proc.live)):
        p.stop(5)


def cpu_us(pid):
    """User + system CPU time of a process (all its threads), in us."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) * TICK_US


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree_cpu_us(pid):
    """A process's CPU time and its children's (nginx: master and workers)."""
    total = cpu_us(pid)
    for c in children(pid):
        try:
            total += cpu_us(c)
        except OSError:
            pass
    return total


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_listening(port, proc, timeout=15):
    until = time.monotonic() + timeout
    while True:
        if proc.p.poll() is not None:
            raise Failure("%s exited: %s" % (proc.cmd[0], proc.output()[-500:]))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > until:
                raise Failure("%s did not listen within %d s" % (proc.cmd[0], timeout))
            time.sleep(0.05)


def start_replica(server, tmp, i):
    p = Proc([server, "--listen", "127.0.0.1:0"], os.path.join(tmp, "replica%d.log" % i))
    until = time.monotonic() + 20
    while True:
        m = re.search(r"listening on \S+ \(port (\d+)", p.output())
        if m:
            return p, "127.0.0.1:" + m.group(1)
        if p.p.poll() is not None or time.monotonic() > until:
            raise Failure("replica %d did not start: %s" % (i, p.output()[-500:]))
        time.sleep(0.05)


def render(proxies, name, values):
    with open(os.path.join(proxies, name)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, v)
    left = set(re.findall(r"@[A-Z0-9_]+@", text))
    if left:
        raise Failure("%s: placeholders without a value: %s" % (name, ", ".join(sorted(left))))
    return text


def start_proxy(a, kind, tmp, replicas):
    port = free_port()
    d = os.path.join(tmp, kind)
    os.mkdir(d)
    name = "nginx.conf" if kind == "nginx" else "haproxy.cfg"
    values = {"LISTEN": "127.0.0.1:%d" % port}
    values.update({"REPLICA%d" % (i + 1): r for i, r in enumerate(replicas)})
    conf = os.path.join(d, name)
    with open(conf, "w") as f:
        f.write(render(a.proxies, name, values))
    if kind == "nginx":
        cmd = [a.nginx, "-p", d, "-e", os.path.join(d, "error.log"), "-c", conf,
               "-g", "daemon off;"]
    else:
        cmd = [a.haproxy, "-f", conf, "-db"]
    p = Proc(cmd, os.path.join(d, "output.log"))
    wait_listening(port, p)
    return p, "127.0.0.1:%d" % port


def load(a, target, conc, rr):
    """One bench-proxy-load run: (calls/s, p50 us, p99 us, calls)."""
    cmd = [a.load, target, str(conc), str(a.seconds), str(a.max_calls)] + (["round_robin"] if rr else [])
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=a.seconds + 60)
    except subprocess.TimeoutExpired:
        raise Failure("%s did not end within %.0f s" % (" ".join(cmd[:3]), a.seconds + 60))
    if p.returncode != 0:
        raise Failure("%s exited %d: %s" % (" ".join(cmd[:3]), p.returncode, p.stderr.strip()[-300:]))
    for line in p.stdout.splitlines():
        f = line.split()
        if f and f[0] == "RESULT":
            return float(f[5]), float(f[6]), float(f[8]), int(f[3])
    raise Failure("%s printed no RESULT line" % " ".join(cmd[:3]))


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="%.0f"):
    return "FAILED" if v is None else spec % v


def ratio(x, y):
    return "n/a" if x is None or y is None or y == 0 else "%.2f" % (x / y)


def main():
    ap = argparse.ArgumentParser(description="gRPC through nginx and HAProxy against direct")
    ap.add_argument("--server", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--haproxy", required=True)
    ap.add_argument("--proxies", required=True, help="examples/payments/proxies")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--max-calls", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--short", action="store_true", help="a quick smoke run")
    a = ap.parse_args(sys.argv[1:] + shlex.split(os.environ.get("BENCH_ARGS", "")))
    for k, (full, short) in {"seconds": (3.0, 0.5), "max_calls": (200000, 20000),
                             "rounds": (3, 1)}.items():
        if getattr(a, k) is None:
            setattr(a, k, short if a.short else full)
    for prog in (a.server, a.load, a.nginx, a.haproxy):
        if not os.access(prog, os.X_OK):
            sys.exit("run.py: %s not found" % prog)

    tmp = tempfile.mkdtemp(prefix="cpay-bench-proxy.")
    runs = {}      # (cell, conc) -> [(rate, p50, p99, calls) or None per round]
    cpu = {}       # (cell, conc) -> [proxy CPU us per call per round]
    failures = []
    try:
        replicas = [start_replica(a.server, tmp, i + 1) for i in range(3)]
        addrs = [r[1] for r in replicas]
        proxies = {k: start_proxy(a, k, tmp, addrs) for k in ("nginx", "haproxy")}
        targets = {"direct": (addrs[0], False),
                   "direct-rr": ("ipv4:" + ",".join(addrs), True),
                   "nginx": (proxies["nginx"][1], False),
                   "haproxy": (proxies["haproxy"][1], False)}
        for rnd in range(a.rounds):
            for cell in CELLS:
                target, rr = targets[cell]
                for conc in CONCS:
                    proc = proxies[cell][0] if cell in proxies else None
                    before = tree_cpu_us(proc.pid) if proc else 0
                    try:
                        r = load(a, target, conc, rr)
                    except Failure as e:
                        failures.append("%s x%d round %d: %s" % (cell, conc, rnd + 1, e))
                        log("FAILED " + failures[-1])
                        r = None
                    runs.setdefault((cell, conc), []).append(r)
                    if proc and r:
                        # Includes the warm-up calls, which are few (0.3 s
                        # of one thread) next to the run's.
                        cpu.setdefault((cell, conc), []).append((tree_cpu_us(proc.pid) - before) / r[3])
            log("bench-proxy: round %d of %d measured" % (rnd + 1, a.rounds))
    finally:
        stop_all()

    def get(cell, conc, i):
        return med([r[i] if r else None for r in runs.get((cell, conc), [])])

    print("## Proxy benchmark: unary ChargeCard through nginx and HAProxy")
    print()
    print("Calls/s and latency p50/p99 (us); each figure is the median of %d rounds that take "
          "every path in turn; each run %.1f s or %d calls, whichever comes first." % (
              a.rounds, a.seconds, a.max_calls))
    print()
    print("| path | x1 calls/s | x1 p50/p99 | x32 calls/s | x32 p50/p99 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for cell in CELLS:
        print("| %s | %s | %s/%s | %s | %s/%s |" % (
            cell, fmt(get(cell, 1, 0)), fmt(get(cell, 1, 1)), fmt(get(cell, 1, 2)),
            fmt(get(cell, 32, 0)), fmt(get(cell, 32, 1)), fmt(get(cell, 32, 2))))
    print()
    print("Ratios to direct (calls/s: higher is better; latency: lower is better), and the "
          "proxy's CPU time per call (us, user + system):")
    print()
    print("| path | x1 calls/s | x1 p50 | x1 p99 | x32 calls/s | x32 p50 | x32 p99 | proxy CPU/call x1 | x32 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cell in CELLS[1:]:
        row = [ratio(get(cell, c, i), get("direct", c, i)) for c in CONCS for i in range(3)]
        row += [fmt(med(cpu.get((cell, c), [])), "%.1f") if cell in ("nginx", "haproxy") else ""
                for c in CONCS]
        print("| %s | %s |" % (cell, " | ".join(row)))
    print()
    if failures:
        print("Failed measurements:")
        for f in failures:
            print("  - " + f)
        print("The replicas' and proxies' configurations and logs are kept in " + tmp)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)


try:
    main()
finally:
    stop_all()
