"""The gRPC benchmark: cpay (libcpay-grpc on C-core) against C++ gRPC's
callback API (libgrpc++-dev) in the same run, both servers doing the same
work (bench_cpay.c and bench_cxx.cc).

Scenarios:
  matrix       unary ChargeCard calls/s with p50/p90/p99 at 1 and 32 calls in
               flight (blocking calls from that many threads on one channel)
               and StreamTransactions messages/s on one stream, each client
               against each server; plus cpay's asynchronous client keeping
               32 calls in flight from one event thread. Each figure is the
               median of R rounds that take every pair in turn, with the CPU
               time each client and server used per call.
  subscribers  for each server and each number of streams N (10, 1000,
               10000), a fresh server: its threads and resident size idle,
               then with N live subscriptions open, held by one cpay
               subscriber process (the same client for both servers, on one
               event thread); health Check and ChargeCard latency from other
               processes while they are open; the time one ChargeCard takes to
               reach all N subscribers (fan-out, repeated); then the C++
               callback client holding N streams against the same server,
               beside the cpay subscriber's own threads and memory.

Prints one markdown table per scenario, with cpay / C++ ratios, and the
issue's targets. Exits 1 if a measurement failed (the tables show which).

usage: run.py --cpay BIN --cxx BIN [--only matrix|subscribers] [--short]
              [--seconds S] [--rounds R] [--messages N] [--streams 10,1000,10000]
              [--health-checks K] [--fanouts F] [--hold-seconds S]

Every process it starts is stopped by its PID, listens on 127.0.0.1 only,
and every wait is bounded. 10,000 streams share one HTTP/2 connection (C-core
sets no limit of concurrent streams by default), so no raised `ulimit -n` is
needed."""
import argparse
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

CUSTOMER = "cus_live"  # the subscribed customer (bench_cpay.c sizes its queues for it)
REFERENCE_STREAMS = 10  # the small run that per-stream memory is measured against


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Proc:
    """A child process whose stdout a thread reads line by line, so that
    every wait for a line has a timeout. stderr passes through."""

    live = []

    def __init__(self, cmd, stdin=False):
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        Proc.live.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def pid(self):
        return self.p.pid

    def name(self):
        return " ".join(self.cmd[1:3])

    def expect(self, prefix, timeout):
        """The fields of the next line starting with `prefix`."""
        until = time.monotonic() + timeout
        while True:
            left = until - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise Failure("%s: no %s line within %.0f s" % (self.name(), prefix, timeout))
            if line is None:
                raise Failure("%s exited (status %s) before its %s line" % (
                    self.name(), self.p.wait(), prefix))
            if line.startswith(prefix):
                return line.split()

    def send(self, line):
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            raise Failure("%s exited early" % self.name())

    def wait(self, timeout):
        """The exit status, or Failure (the process is then killed)."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(0)
            raise Failure("%s did not end within %.0f s" % (self.name(), timeout))
        finally:
            if self.p.returncode is not None and self in Proc.live:
                Proc.live.remove(self)

    def stop(self, grace=30):
        """SIGTERM, then SIGKILL after `grace` seconds; by PID."""
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=30)
        if self in Proc.live:
            Proc.live.remove(self)


def stop_all():
    for p in list(Proc.live):
        p.stop(5)


def run(cmd, prefix, timeout):
    """Runs a client to its end: the fields of its `prefix` line and the CPU
    time (us) it had used by then."""
    p = Proc(cmd)
    try:
        fields = p.expect(prefix, timeout)
        cpu = cpu_us(p.pid)  # a client that has exited is a zombie until waited for
        rc = p.wait(timeout)
    finally:
        p.stop(0)
    if rc != 0:
        raise Failure("%s exited with status %d" % (p.name(), rc))
    return fields, cpu


TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    """User + system CPU time of a process (all its threads), in us."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) * TICK_US  # fields 14 and 15: utime, stime


def proc_status(pid):
    """(threads, VmRSS in kB) of a running process."""
    threads = rss = -1
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return threads, rss


def thread_names(pid):
    """'3 bench-grpc-cpay, 2 event_engine, ...': a process's threads by name."""
    names = {}
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            names[name] = names.get(name, 0) + 1
    except OSError:
        return "?"
    return ", ".join("%d %s" % (c, n) for n, c in sorted(names.items(), key=lambda x: (-x[1], x[0])))


def own_threads(pid):
    """The threads a process named after itself (C-core names its own)."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            me = f.read().strip()
        n = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                n += f.read().strip() == me
        return n
    except OSError:
        return None


def start_server(bin_):
    p = Proc([bin_, "server", "0"])
    try:
        fields = p.expect("listening", 20)
    except Failure:
        p.stop(0)
        raise
    return p, "127.0.0.1:" + fields[-1]


def result(fields):
    """A RESULT line: (ops/s, p50, p90, p99) with latencies in us."""
    return float(fields[5]), float(fields[6]), float(fields[7]), float(fields[8])


def attempt(failures, what, fn):
    """fn(), or None after noting why it failed."""
    try:
        return fn()
    except Failure as e:
        failures.append("%s: %s" % (what, e))
        log("FAILED %s: %s" % (what, e))
        return None


# ---- formatting --------------------------------------------------------------------


def fmt(v, spec="%.0f"):
    return "FAILED" if v is None else spec % v


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else "%.2f" % (a / b)


def lat(r, which=(1, 3)):
    return "FAILED" if r is None else "/".join("%.0f" % r[i] for i in which)


# ---- matrix ------------------------------------------------------------------------


def measure(failures, what, server, cmd, prefix, timeout, ops_of):
    """One client run against a server: (ops/s, p50, p90, p99, client CPU us
    per op, server CPU us per op), or None. The server serves nothing else
    meanwhile, so its CPU time over the run is this client's."""
    def go():
        before = cpu_us(server.pid)
        fields, client_cpu = run(cmd, prefix, timeout)
        server_cpu = cpu_us(server.pid) - before
        rate, lats, ops = ops_of(fields)
        return (rate,) + lats + (client_cpu / ops, server_cpu / ops)
    return attempt(failures, what, go)


def unary_fields(f):
    return float(f[5]), (float(f[6]), float(f[7]), float(f[8])), int(f[3])


def stream_fields(f):
    return float(f[3]), (None, None, None), int(f[1])


def median_of(runs):
    """The median, item by item, of the rounds that were measured."""
    runs = [r for r in runs if r is not None]
    if not runs:
        return None
    return tuple(None if r[0] is None else statistics.median(x for x in r)
                 for r in zip(*runs))


def matrix(a, impls, failures):
    servers = {}
    cells = {}  # (client, server, kind) -> [one measurement per round]
    try:
        for name, b in impls.items():
            servers[name] = start_server(b)
        # Rounds go through every pair in turn, so that a slow spell of the
        # shared machine lands on all of them; each cell is the median.
        for rnd in range(a.rounds):
            for client, cbin in impls.items():
                for server, (srv, target) in servers.items():
                    for conc in (1, 32):
                        cells.setdefault((client, server, "unary%d" % conc), []).append(measure(
                            failures, "%s unary x%d -> %s" % (client, conc, server), srv,
                            [cbin, "unary", target, str(conc), str(a.seconds)], "RESULT",
                            a.seconds + 60, unary_fields))
                    cells.setdefault((client, server, "stream"), []).append(measure(
                        failures, "%s stream -> %s" % (client, server), srv,
                        [cbin, "stream", target, str(a.messages)], "STREAM",
                        10 + a.messages / 10000, stream_fields))
            for server, (srv, target) in servers.items():
                cells.setdefault(("cpay async", server, "unary32"), []).append(measure(
                    failures, "cpay unary-async x32 -> %s" % server, srv,
                    [impls["cpay"], "unary-async", target, "32", str(a.seconds)], "RESULT",
                    a.seconds + 60, unary_fields))
            log("matrix: round %d of %d measured" % (rnd + 1, a.rounds))
    finally:
        for p, _ in servers.values():
            p.stop()
    m = {k: median_of(v) for k, v in cells.items()}

    def get(c, s, k, i):
        r = m.get((c, s, k))
        return None if r is None else r[i]

    print("### Unary and streaming throughput (matrix)")
    print()
    print("Unary ChargeCard calls/s and latency p50/p90/p99 (us) at 1 and 32 calls in flight "
          "(blocking calls, one thread each, one channel); StreamTransactions messages/s on one "
          "stream of %d. %.1f s per measurement; each figure is the median of %d rounds that "
          "take every pair in turn." % (a.messages, a.seconds, a.rounds))
    print()
    print("| client -> server | unary x1 calls/s | x1 p50/p90/p99 | unary x32 calls/s | x32 p50/p90/p99 | stream msgs/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    pairs = [(c, s) for c in impls for s in impls]
    for c, s in pairs:
        u1, u32 = m.get((c, s, "unary1")), m.get((c, s, "unary32"))
        print("| %s -> %s | %s | %s | %s | %s | %s |" % (
            c, s, fmt(u1 and u1[0]), lat(u1, (1, 2, 3)), fmt(u32 and u32[0]),
            lat(u32, (1, 2, 3)), fmt(get(c, s, "stream", 0))))
    for s in impls:
        r = m.get(("cpay async", s, "unary32"))
        print("| cpay async (1 event thread) -> %s | | | %s | %s | |" % (
            s, fmt(r and r[0]), lat(r, (1, 2, 3))))
    print()
    print("CPU time per call (per message for the stream), in us, client / server: user + system "
          "time of each process (/proc/PID/stat) over the run, divided by the calls made. These "
          "vary far less than the rates on a shared machine.")
    print()
    print("| client -> server | unary x1 | unary x32 | stream |")
    print("| --- | ---: | ---: | ---: |")

    def cpu(c, s, k):
        r = m.get((c, s, k))
        return "FAILED" if r is None else "%.1f / %.1f" % (r[4], r[5])
    for c, s in pairs:
        print("| %s -> %s | %s | %s | %s |" % (c, s, cpu(c, s, "unary1"), cpu(c, s, "unary32"),
                                              cpu(c, s, "stream")))
    for s in impls:
        print("| cpay async (1 event thread) -> %s | | %s | |" % (s, cpu("cpay async", s, "unary32")))
    print()

    def row(what, c, x):
        print("| %s | %s |" % (what, ratio(c, x)))
    print("Ratios cpay / C++ (end to end: cpay client and server against C++ client and server; "
          "server only: both servers serving the C++ client; client only: both clients against "
          "the C++ server):")
    print()
    print("| measure | cpay/C++ |")
    print("| --- | ---: |")
    C, X = "cpay", "C++"
    for k, label in (("unary1", "unary x1"), ("unary32", "unary x32"), ("stream", "stream")):
        row(label + (" msgs/s" if k == "stream" else " calls/s"), get(C, C, k, 0), get(X, X, k, 0))
    row("unary x1 p50 latency (lower is better)", get(C, C, "unary1", 1), get(X, X, "unary1", 1))
    row("unary x32 p99 latency (lower is better)", get(C, C, "unary32", 3), get(X, X, "unary32", 3))
    for k, label in (("unary32", "unary x32"), ("stream", "stream")):
        row("server only: " + label, get(X, C, k, 0), get(X, X, k, 0))
        row("client only: " + label, get(C, X, k, 0), get(X, X, k, 0))
    for k, label in (("unary1", "unary x1"), ("unary32", "unary x32"), ("stream", "stream")):
        row("server CPU per call, " + label + " (lower is better)", get(X, C, k, 5), get(X, X, k, 5))
        row("client CPU per call, " + label + " (lower is better)", get(C, X, k, 4), get(X, X, k, 4))
    row("cpay async x32, 1 thread, vs C++ sync x32, 32 threads", get("cpay async", C, "unary32", 0),
        get(X, X, "unary32", 0))
    print()
    return {
        "unary x1": (get(C, C, "unary1", 0), get(X, X, "unary1", 0)),
        "unary x32": (get(C, C, "unary32", 0), get(X, X, "unary32", 0)),
        "stream": (get(C, C, "stream", 0), get(X, X, "stream", 0)),
    }


# ---- subscribers -------------------------------------------------------------------


def subscriber_run(a, impls, server, n, failures):
    """One fresh server with n subscribers; a dict of what was measured."""
    cpay, cxx = impls["cpay"], impls["C++"]
    m = {"server": server, "n": n}
    what = "%s server, %d streams" % (server, n)
    srv, target = start_server(impls[server])
    sub = None
    try:
        # Warms the server up (first calls create lazily built state), and
        # measures health while nothing is open.
        run([cpay, "health", target, "100"], "RESULT", 60)
        m["health_idle"] = attempt(failures, what + ": health idle", lambda: result(
            run([cpay, "health", target, str(a.health_checks)], "RESULT", 60 + a.health_checks / 100)[0]))
        m["idle"] = proc_status(srv.pid)
        sub = Proc([cpay, "subscribe", target, str(n), CUSTOMER], stdin=True)
        f = sub.expect("SUBSCRIBED", 120 + n / 100)
        m["sub"] = (int(f[2]), int(f[3]), int(f[4]))  # threads, rss kB, rss kB before the streams
        m["open"] = proc_status(srv.pid)
        m["names"] = thread_names(srv.pid)
        m["own"] = own_threads(srv.pid)
        m["health"] = attempt(failures, what + ": health", lambda: result(
            run([cpay, "health", target, str(a.health_checks)], "RESULT", 60 + a.health_checks / 100)[0]))
        m["unary"] = attempt(failures, what + ": unary x1", lambda: result(
            run([cpay, "unary", target, "1", str(a.seconds)], "RESULT", a.seconds + 60)[0]))
        fan = []
        for _ in range(a.fanouts):
            sub.send("fanout")
            fan.append(float(sub.expect("FANOUT", 120)[2]))
        m["fanout"] = fan
        sub.send("quit")
        rc = sub.wait(90)
        if rc != 0:
            raise Failure("subscriber exited with status %d" % rc)
        sub = None
        log("measured %s" % what)
        f = attempt(failures, what + ": C++ hold", lambda: run(
            [cxx, "hold", target, str(n), str(a.hold_seconds)], "HOLD",
            a.hold_seconds * 11 + 60)[0])
        m["hold"] = f and (int(f[2]), int(f[3]))
    except Failure as e:
        failures.append("%s: %s" % (what, e))
        log("FAILED %s: %s" % (what, e))
    finally:
        if sub:
            sub.stop(5)
        srv.stop()
    return m


def per_stream(open_kb, idle_kb, n):
    return (open_kb - idle_kb) / n


def subscribers(a, impls, failures):
    runs = {}
    for n in a.streams:
        for server in impls:
            log("subscribers: %s server, %d streams" % (server, n))
            runs[(server, n)] = subscriber_run(a, impls, server, n, failures)

    def get(server, n, key):
        return runs.get((server, n), {}).get(key)

    def srv_rss(server, n):
        idle, open_ = get(server, n, "idle"), get(server, n, "open")
        return None if not idle or not open_ else per_stream(open_[1], idle[1], n)

    print("### Open subscriptions: the server")
    print()
    print("A fresh server per row; one cpay subscriber process holds N live StreamTransactions "
          "subscriptions (since_unix 0) on one HTTP/2 connection. Threads and VmRSS are the "
          "server's (/proc/PID/status), idle (after %d warm-up health checks) and with all N "
          "open; RSS/stream = (open - idle) / N. Health: %d sequential grpc.health.v1.Health/Check "
          "calls from another process; ChargeCard: unary calls one at a time for %.1f s, for a "
          "customer without subscribers. Latencies p50/p99 in us." % (
              100, a.health_checks, a.seconds))
    print()
    print("| server | streams | threads idle -> open | RSS idle -> open (MB) | RSS/stream (KB) | health p50/p99 idle | health p50/p99 open | ChargeCard p50/p99 open |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in a.streams:
        for server in impls:
            idle, open_ = get(server, n, "idle"), get(server, n, "open")
            print("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                server, n,
                "%d -> %d" % (idle[0], open_[0]) if idle and open_ else "FAILED",
                "%.1f -> %.1f" % (idle[1] / 1024, open_[1] / 1024) if idle and open_ else "FAILED",
                fmt(srv_rss(server, n), "%.2f"),
                lat(get(server, n, "health_idle")), lat(get(server, n, "health")),
                lat(get(server, n, "unary"))))
    print()
    print("Ratios cpay / C++ (lower is better):")
    print()
    print("| streams | threads open | RSS/stream | health p99 open | ChargeCard p99 open |")
    print("| ---: | ---: | ---: | ---: | ---: |")

    def at(server, n, key, i):
        v = get(server, n, key)
        return None if v is None else v[i]

    for n in a.streams:
        print("| %d | %s | %s | %s | %s |" % (
            n, ratio(at("cpay", n, "open", 0), at("C++", n, "open", 0)),
            ratio(srv_rss("cpay", n), srv_rss("C++", n)) if n >= 1000 else "(noise)",
            ratio(at("cpay", n, "health", 3), at("C++", n, "health", 3)),
            ratio(at("cpay", n, "unary", 3), at("C++", n, "unary", 3))))
    print()
    print("At %d streams the RSS difference is within the noise of the measurement. "
          "The servers' threads by name with the streams open (C-core names its own threads; "
          "the rest are the program's):" % REFERENCE_STREAMS)
    print()
    for n in a.streams:
        for server in impls:
            print("- %s, %d streams: %s" % (server, n, get(server, n, "names") or "FAILED"))
    print()

    print("### Fan-out")
    print()
    print("One ChargeCard for the subscribed customer, made by the subscriber process on a "
          "connection of its own; the time from just before the call until the last of the N "
          "subscribers has the transaction (ms), %d times in a row." % a.fanouts)
    print()
    print("| server | subscribers | median ms | max ms | each (ms) |")
    print("| --- | ---: | ---: | ---: | --- |")
    fan_stats = {}
    for n in a.streams:
        for server in impls:
            f = get(server, n, "fanout")
            if f:
                fan_stats[(server, n)] = (statistics.median(f), max(f))
            print("| %s | %d | %s | %s | %s |" % (
                server, n, fmt(f and statistics.median(f), "%.1f"), fmt(f and max(f), "%.1f"),
                ", ".join("%.1f" % x for x in f) if f else "FAILED"))
    print()
    print("| subscribers | cpay/C++ median (lower is better) | cpay/C++ max |")
    print("| ---: | ---: | ---: |")
    for n in a.streams:
        c, x = fan_stats.get(("cpay", n)), fan_stats.get(("C++", n))
        print("| %d | %s | %s |" % (n, ratio(c and c[0], x and x[0]), ratio(c and c[1], x and x[1])))
    print()

    print("### Holding streams: the client")
    print()
    print("One client process holding N live subscriptions on one channel: cpay's subscriber "
          "(a cpay_loop of one event thread, asynchronous calls) and C++'s `hold` client "
          "(callback API), against each server. Threads and VmRSS are the client's own; "
          "RSS/call = (RSS at N - RSS at %d) / (N - %d), the same for both (the C++ client "
          "reports no idle figure)." % (REFERENCE_STREAMS, REFERENCE_STREAMS))
    print()
    print("| client | server | streams | threads | RSS (MB) | RSS/call (KB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")

    def client(kind, server, n):
        v = get(server, n, kind)
        return None if v is None else (v[0], v[1])

    def per_call(kind, server, n):
        big, ref = client(kind, server, n), client(kind, server, REFERENCE_STREAMS)
        if big is None or ref is None or n == REFERENCE_STREAMS:
            return None
        return (big[1] - ref[1]) / (n - REFERENCE_STREAMS)

    for server in impls:
        for n in a.streams:
            for label, kind in (("cpay subscribe", "sub"), ("C++ hold", "hold")):
                c = client(kind, server, n)
                print("| %s | %s | %d | %s | %s | %s |" % (
                    label, server, n, fmt(c and c[0]), fmt(c and c[1] / 1024, "%.1f"),
                    fmt(per_call(kind, server, n), "%.2f") if n != REFERENCE_STREAMS else ""))
    print()
    big = max(a.streams)
    print("| server | streams | threads cpay/C++ | RSS/call cpay/C++ (lower is better) |")
    print("| --- | ---: | ---: | ---: |")
    for server in impls:
        cs, ch = client("sub", server, big), client("hold", server, big)
        print("| %s | %d | %s | %s |" % (server, big, ratio(cs and cs[0], ch and ch[0]),
                                         ratio(per_call("sub", server, big),
                                               per_call("hold", server, big))))
    print()
    s = get("cpay", big, "sub")
    if s:
        print("cpay subscriber at %d streams against its own idle figure (after connecting, "
              "before the first stream): %.2f KB per call." % (big, (s[1] - s[2]) / big))
        print()
    return runs, srv_rss


def targets(a, impls, tp, subs):
    print("### The issue's targets")
    print()
    lines = []
    if subs:
        runs, srv_rss = subs
        big = max(a.streams)
        c, x = srv_rss("cpay", big), srv_rss("C++", big)
        ok = c is not None and x is not None and c <= x
        lines.append("%s %d subscribers, RSS/stream at most the C++ server's: cpay %s KB, C++ %s KB" % (
            "MET    " if ok else "NOT MET", big, fmt(c, "%.2f"), fmt(x, "%.2f")))
        h = runs.get(("cpay", big), {}).get("health")
        ok = h is not None and h[3] < 5000
        lines.append("%s health p99 under 5 ms with %d open: %s us" % (
            "MET    " if ok else "NOT MET", big, fmt(h and h[3], "%.0f")))
        # C-core sizes its own pools (event_engine, timers) per process, at
        # start and under the warm-up, before any stream is open: so a fresh
        # server per row may differ from another by one of them. What the
        # target is about is what the streams add: nothing, at either count,
        # and the program's own threads (named after it) the same.
        lo, hi = min(a.streams), big
        r_lo, r_hi = runs.get(("cpay", lo), {}), runs.get(("cpay", hi), {})
        t_lo, t_hi = r_lo.get("open"), r_hi.get("open")
        i_lo, i_hi = r_lo.get("idle"), r_hi.get("idle")
        o_lo, o_hi = r_lo.get("own"), r_hi.get("own")
        ok = None not in (t_lo, t_hi, i_lo, i_hi, o_lo, o_hi) and t_lo[0] == i_lo[0] and \
            t_hi[0] == i_hi[0] and o_lo == o_hi
        lines.append("%s cpay server threads the same at %d and %d streams: the streams add %s and %s; "
                     "the program's own %s and %s; in all, with C-core's, %s and %s (idle: %s and %s)" % (
                         "MET    " if ok else "NOT MET", lo, hi,
                         fmt(t_lo and i_lo and t_lo[0] - i_lo[0]),
                         fmt(t_hi and i_hi and t_hi[0] - i_hi[0]), fmt(o_lo), fmt(o_hi),
                         fmt(t_lo and t_lo[0]), fmt(t_hi and t_hi[0]), fmt(i_lo and i_lo[0]),
                         fmt(i_hi and i_hi[0])))
    for k, (c, x) in (tp or {}).items():
        ok = c is not None and x is not None and c > x
        lines.append("%s ahead of C++ on %s: cpay/C++ %s" % ("MET    " if ok else "NOT MET", k,
                                                              ratio(c, x)))
    for line in lines:
        print("    " + line)
    print()


def main():
    ap = argparse.ArgumentParser(description="cpay vs C++ gRPC benchmark")
    ap.add_argument("--cpay", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--only", choices=["matrix", "subscribers"], help="run one scenario")
    ap.add_argument("--short", action="store_true", help="a quick smoke run")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--rounds", type=int, help="matrix rounds; each figure is their median")
    ap.add_argument("--messages", type=int)
    ap.add_argument("--streams", help="comma-separated stream counts (10 is always added)")
    ap.add_argument("--health-checks", type=int)
    ap.add_argument("--fanouts", type=int)
    ap.add_argument("--hold-seconds", type=float)
    a = ap.parse_args()
    defaults = {"seconds": (3.0, 0.5), "rounds": (3, 1), "messages": (300000, 30000), "streams": ("1000,10000", "1000"),
                "health_checks": (2000, 200), "fanouts": (5, 2), "hold_seconds": (2.0, 1.0)}
    for k, (full, short) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, short if a.short else full)
    a.streams = sorted({REFERENCE_STREAMS} | {int(x) for x in str(a.streams).split(",") if x})
    impls = {"cpay": a.cpay, "C++": a.cxx}
    failures = []
    tp = subs = None
    print("## gRPC benchmark: cpay vs C++ gRPC (callback API server)%s" % (" (short)" if a.short else ""))
    print()
    try:
        if a.only in (None, "matrix"):
            tp = matrix(a, impls, failures)
        if a.only in (None, "subscribers"):
            subs = subscribers(a, impls, failures)
        targets(a, impls, tp, subs)
    finally:
        stop_all()
    if failures:
        print("Failed measurements:")
        for f in failures:
            print("  - " + f)
        sys.exit(1)


main()
