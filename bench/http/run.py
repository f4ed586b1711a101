"""The HTTP benchmark (issue 18): payments-server's ChargeCard over gRPC,
REST/JSON and gRPC-Web in one run, with nginx answering a static body of
the same size as the ceiling for HTTP/1.1 on the machine.

One payments-server (--listen 127.0.0.1:0 --http 127.0.0.1:0) serves every
measurement. Each round takes every cell in turn, so that a slow spell of
the shared machine lands on all of them; each figure is the median of the
rounds, with the min and max beside it.

  grpc         bench-grpc-cpay `unary` (bench/grpc): N blocking calls in
               flight from N threads on one channel (one HTTP/2 connection)
  grpc-async   bench-grpc-cpay `unary-async`: N asynchronous calls in
               flight from one event thread, one channel
  rest         wrk POST /v1/charges, JSON body, N keep-alive connections
  grpc-web     wrk POST /payments.v1.PaymentService/ChargeCard,
               application/grpc-web+proto, the same request as a framed
               binary message
  nginx        wrk against nginx (one worker) answering POST /v1/charges
               with `return 200` of a body as long as payments-server's
               ChargeCard JSON response
  rest-unique  as rest, with a new idempotency key for every request (a new
               charge each time instead of the stored response)

The request is the one bench-grpc-cpay sends (customer cus_0000000042, 1999
USD, a fixed idempotency key, a description): a repeated key returns the
stored response, so every cell but rest-unique measures the same handler
work, and the differences are the transports. wrk runs -t1 at 1 connection
and -t2 at 32. Latencies are per call as the client sees it (wrk: from
writing the request to reading the whole response).

CPU per call: the server's user + system time (/proc/PID/stat) over the
cell divided by its calls, and the client's (getrusage of the waited child).

Memory: the server's VmRSS, VmHWM and thread count when idle (started, one
call of each kind made), after the first round's gRPC cells, after its
HTTP cells with a fixed key, and at the end (rest-unique fills the store of
charges, which the first figures do not include).

usage: run.py --server BIN --grpc-client BIN [--wrk BIN] [--nginx BIN]
              [--seconds S] [--rounds R] [--short] [--only CELL,...]
Invoked by `meson compile -C BUILD bench-http`; BENCH_ARGS in the environment
adds arguments (e.g. BENCH_ARGS="--rounds 5").

Every process it starts listens on 127.0.0.1 only and is stopped by its PID;
every load run is bounded in time and every wait has a timeout. Exits 1 if a
measurement failed (the table shows which)."""
import argparse
import http.client
import json
import os
import queue
import resource
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

CUSTOMER = "cus_0000000042"
AMOUNT = 1999
CURRENCY = "USD"
KEY = "idem_5f1c2a9e-77d2-4c4e-9f1a"
DESCRIPTION = "Coffee beans, 1 kg"
GRPC_WEB_PATH = "/payments.v1.PaymentService/ChargeCard"

CELLS = ["grpc", "grpc-async", "rest", "grpc-web", "nginx", "rest-unique"]
GRPC_CELLS = ("grpc", "grpc-async")
LABELS = {
    "grpc": "gRPC (blocking, N threads)",
    "grpc-async": "gRPC (async, 1 thread)",
    "rest": "REST/JSON",
    "grpc-web": "gRPC-Web",
    "rest-unique": "REST/JSON, new key each call",
    "nginx": "nginx static body",
}
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- processes ---------------------------------------------------------------------


class Server:
    """A long-running child whose stdout a thread reads, so that each wait
    for a line has a timeout; stopped by its PID."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def pid(self):
        return self.p.pid

    def expect(self, needle, timeout):
        until = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(until - time.monotonic(), 0.001))
            except queue.Empty:
                raise Failure("%s: no line with %r within %.0f s" % (self.cmd[0], needle, timeout))
            if line is None:
                raise Failure("%s exited (status %s)" % (self.cmd[0], self.p.wait()))
            if needle in line:
                return line

    def stop(self, sig=signal.SIGTERM, grace=15):
        """`sig`, then SIGKILL after `grace` seconds; by PID."""
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=30)


def port_of(line):
    """The N of '... (port N)' or '(port N, tls)'."""
    return int(line.split("(port ", 1)[1].split(")")[0].split(",")[0])


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
    """A process's CPU time and its children's (nginx: master and worker)."""
    return cpu_us(pid) + sum(cpu_us(c) for c in children(pid))


def proc_status(pid):
    """{'VmRSS': kB, 'VmHWM': kB, 'Threads': n} of a running process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


def child_cpu_us():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e6


def run_client(cmd, timeout):
    """Runs a load client to its end: (stdout, its CPU time in us). Only
    children that have ended and been waited for count in RUSAGE_CHILDREN,
    so the difference is this client's (the servers are still running)."""
    before = child_cpu_us()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)
        raise Failure("%s did not end within %.0f s" % (" ".join(cmd[:2]), timeout))
    if p.returncode != 0:
        raise Failure("%s exited with status %d: %s" % (" ".join(cmd[:2]), p.returncode,
                                                        out.strip()[-200:]))
    return out, child_cpu_us() - before


# ---- requests ----------------------------------------------------------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_string(field, s):
    b = s.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def charge_request_pb():
    """payments.v1.ChargeRequest, as bench-grpc-cpay's fill_charge sets it."""
    return (pb_string(1, CUSTOMER) + varint(2 << 3) + varint(AMOUNT) + pb_string(3, CURRENCY) +
            pb_string(4, KEY) + pb_string(5, DESCRIPTION))


def grpc_web_body():
    msg = charge_request_pb()
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def rest_body(key=KEY):
    return json.dumps({"customerId": CUSTOMER, "amountCents": AMOUNT, "currency": CURRENCY,
                       "idempotencyKey": key, "description": DESCRIPTION},
                      separators=(",", ":"))


def lua_bytes(b):
    """A Lua string literal of any bytes (LuaJIT reads \\ddd as decimal)."""
    return '"' + "".join("\\%d" % c for c in b) + '"'


# wrk's done() prints one parseable line: requests, duration (us), the error
# counts (connect, read, write, non-2xx/3xx status, timeout) and the latency
# p50, p90, p99 and max in us.
LUA_DONE = r'''
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d %d %d %d %.1f %.1f %.1f %.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
'''


def lua_fixed(content_type, body):
    return ('wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "%s"\n' % (
        lua_bytes(body), content_type)) + LUA_DONE


def lua_unique(run_id):
    """A new idempotency key per request: k<run>-<wrk thread>-<counter>,
    the run id new for every wrk run. setup() sets the global `tid` in each
    thread's Lua state."""
    pre, post = rest_body("@KEY@").split("@KEY@")
    return r'''
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local pre = %s
local post = %s
local headers = {["Content-Type"] = "application/json"}
function request()
  counter = counter + 1
  return wrk.format("POST", nil, headers, pre .. string.format("k%s-%%d-%%d", tid, counter) .. post)
end
''' % (lua_bytes(pre.encode()), lua_bytes(post.encode()), run_id) + LUA_DONE


def post(port, path, body, content_type):
    """One POST on a new connection: (HTTP status, response body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", path, body, {"Content-Type": content_type})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def check_rest(port):
    """One REST ChargeCard: its response body (must be 200 and name the
    transaction)."""
    status, body = post(port, "/v1/charges", rest_body(), "application/json")
    if status != 200 or b'"transactionId"' not in body:
        raise Failure("REST check: HTTP %d %r" % (status, body[:200]))
    return body


def check_grpc_web(port):
    """One gRPC-Web ChargeCard: the response body's length; must be 200 with
    a message frame and a trailer frame of grpc-status 0."""
    status, body = post(port, GRPC_WEB_PATH, grpc_web_body(), "application/grpc-web+proto")
    if status != 200 or len(body) < 5 or body[0] != 0 or b"grpc-status:0" not in body.replace(b" ", b""):
        raise Failure("gRPC-Web check: HTTP %d %r" % (status, body[:200]))
    return len(body)


def check_nginx(port, expect):
    status, body = post(port, "/v1/charges", rest_body(), "application/json")
    if status != 200 or body != expect:
        raise Failure("nginx check: HTTP %d %r" % (status, body[:200]))


# ---- nginx ---------------------------------------------------------------------------


def free_port():
    """A port nobody listens on now (nginx cannot report the one it bound)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def start_nginx(nginx, tmp, body):
    """nginx in the foreground (daemon off) with its config, pid file, logs
    and temp dirs in `tmp`, one worker, answering POST /v1/charges with
    `body`. Keep-alive connections are not closed after 1000 requests (the
    default), as evhttp does not close them either."""
    if b"'" in body or b"\\" in body:
        raise Failure("response body cannot be quoted for nginx: %r" % body)
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write('''worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(tmp)s/body;
  proxy_temp_path %(tmp)s/proxy;
  fastcgi_temp_path %(tmp)s/fastcgi;
  uwsgi_temp_path %(tmp)s/uwsgi;
  scgi_temp_path %(tmp)s/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:%(port)d;
    location = /v1/charges {
      default_type application/json;
      return 200 '%(body)s';
    }
  }
}
''' % {"tmp": tmp, "port": port, "body": body.decode()})
    srv = Server([nginx, "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf])
    until = time.monotonic() + 10
    while True:
        try:
            check_nginx(port, body)
            break
        except (OSError, Failure) as e:
            if srv.p.poll() is not None or time.monotonic() > until:
                srv.stop()
                raise Failure("nginx did not start: %s (%s/error.log)" % (e, tmp))
            time.sleep(0.05)
    with open(os.path.join(tmp, "nginx.pid")) as f:
        if int(f.read()) != srv.pid:
            srv.stop()
            raise Failure("nginx.pid does not name the process started")
    return srv, port


# ---- measuring -----------------------------------------------------------------------


def measure(a, cell, conc, env):
    """One measurement: dict(rate, p50, p90, p99, calls, server_cpu,
    client_cpu) with latencies in us and CPU in us per call."""
    server_pid = env["nginx"].pid if cell == "nginx" else env["server"].pid
    before = tree_cpu_us(server_pid)
    if cell in GRPC_CELLS:
        mode = "unary" if cell == "grpc" else "unary-async"
        out, client = run_client([a.grpc_client, mode, env["grpc_target"], str(conc), str(a.seconds)],
                                 a.seconds + 60)
        f = next((l.split() for l in out.splitlines() if l.startswith("RESULT")), None)
        if not f:
            raise Failure("no RESULT line")
        calls, rate, p50, p90, p99 = int(f[3]), float(f[5]), float(f[6]), float(f[7]), float(f[8])
    else:
        port = env["nginx_port"] if cell == "nginx" else env["http_port"]
        path = GRPC_WEB_PATH if cell == "grpc-web" else "/v1/charges"
        if cell == "rest-unique":
            # Keys never repeat, across rounds either.
            env["runs"] = env.get("runs", 0) + 1
            with open(env["lua"][cell], "w") as f:
                f.write(lua_unique("%x-%d" % (int(time.time()), env["runs"])))
        threads = "1" if conc == 1 else "2"
        out, client = run_client([a.wrk, "-t" + threads, "-c%d" % conc, "-d%ds" % a.seconds,
                                  "--timeout", "10s", "--latency", "-s", env["lua"][cell],
                                  "http://127.0.0.1:%d%s" % (port, path)], a.seconds + 60)
        f = next((l.split() for l in out.splitlines() if l.startswith("WRKRESULT")), None)
        if not f:
            raise Failure("no WRKRESULT line")
        calls, dur = int(f[1]), int(f[2]) / 1e6
        errors = [int(x) for x in f[3:8]]
        if any(errors):
            raise Failure("wrk errors (connect, read, write, status, timeout): %s" % errors)
        rate, p50, p90, p99 = calls / dur, float(f[8]), float(f[9]), float(f[10])
    if calls == 0:
        raise Failure("no calls")
    server = tree_cpu_us(server_pid) - before
    return {"rate": rate, "p50": p50, "p90": p90, "p99": p99, "calls": calls,
            "server_cpu": server / calls, "client_cpu": client / calls}


def snapshot(env, when):
    s = proc_status(env["server"].pid)
    env["mem"].append((when, s))
    log("server %s: %s" % (when, s))


def run_all(a, env, failures):
    cells = {}  # (cell, conc) -> [measurement or None per round]
    for rnd in range(a.rounds):
        for cell in a.only:
            if rnd == 0 and cell not in GRPC_CELLS and not env.get("grpc_done") and \
                    any(c in GRPC_CELLS for c in a.only):
                snapshot(env, "after gRPC (round 1)")
                env["grpc_done"] = True
            if rnd == 0 and cell == "rest-unique":
                snapshot(env, "after REST, gRPC-Web, nginx (round 1)")
            for conc in a.concurrency:
                what = "%s x%d round %d" % (cell, conc, rnd + 1)
                try:
                    m = measure(a, cell, conc, env)
                    log("%s: %.0f calls/s p50 %.0f p99 %.0f us" % (what, m["rate"], m["p50"], m["p99"]))
                except Failure as e:
                    failures.append("%s: %s" % (what, e))
                    log("FAILED %s: %s" % (what, e))
                    m = None
                cells.setdefault((cell, conc), []).append(m)
        log("round %d of %d measured" % (rnd + 1, a.rounds))
    snapshot(env, "end of run")
    return cells


# ---- report --------------------------------------------------------------------------


def stat(runs, key):
    """(median, min, max) of one figure over the rounds measured, or None."""
    v = [r[key] for r in runs if r is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def fmt_rate(s):
    return "FAILED" if s is None else "%s (%s–%s)" % (
        format(round(s[0]), ","), format(round(s[1]), ","), format(round(s[2]), ","))


def fmt_us(s):
    return "FAILED" if s is None else "%.0f" % s[0]


def fmt_lat(s):
    return "FAILED" if s is None else "%.0f (%.0f–%.0f)" % s


def ratio(x, y):
    return "n/a" if x is None or y is None or y[0] == 0 else "%.2f" % (x[0] / y[0])


def report(a, env, cells):
    print("## ChargeCard over gRPC, REST/JSON and gRPC-Web (payments-server)%s" % (
        " (short)" if a.short else ""))
    print()
    print("%d s per measurement, %d rounds taking every cell in turn; calls/s is the median "
          "of the rounds (min–max), latencies the median of the rounds' p50 and p99 (their "
          "min–max for p99), CPU the median of us per call. wrk: -t1 at 1 connection, -t2 "
          "at 32. REST response body %d bytes; nginx returns a body of the same length; "
          "gRPC-Web response %d bytes." % (a.seconds, a.rounds, len(env["rest_body"]),
                                         env["grpc_web_len"]))
    print()
    print("| transport | in flight | calls/s median (min–max) | p50 us | p99 us (min–max) | "
          "server CPU us/call | client CPU us/call |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    s = {}
    for cell in a.only:
        for conc in a.concurrency:
            runs = cells.get((cell, conc), [])
            s[(cell, conc)] = {k: stat(runs, k) for k in ("rate", "p50", "p99", "server_cpu", "client_cpu")}
            r = s[(cell, conc)]
            print("| %s | %d | %s | %s | %s | %s | %s |" % (
                LABELS[cell], conc, fmt_rate(r["rate"]), fmt_us(r["p50"]), fmt_lat(r["p99"]),
                "FAILED" if r["server_cpu"] is None else "%.1f" % r["server_cpu"][0],
                "FAILED" if r["client_cpu"] is None else "%.1f" % r["client_cpu"][0]))
    print()

    def get(cell, conc, k):
        return s.get((cell, conc), {}).get(k)

    print("Ratios from the same run (medians). Throughput: higher is better for the first "
          "named; latency and CPU: the first named over the second, so above 1 means the "
          "first is slower or costs more.")
    print()
    rows = [
        ("REST / gRPC calls/s", "rest", "grpc", "rate"),
        ("REST / gRPC async calls/s", "rest", "grpc-async", "rate"),
        ("REST / gRPC p50 latency", "rest", "grpc", "p50"),
        ("REST / gRPC p99 latency", "rest", "grpc", "p99"),
        ("REST / gRPC server CPU per call", "rest", "grpc", "server_cpu"),
        ("REST / nginx calls/s", "rest", "nginx", "rate"),
        ("REST / nginx p50 latency", "rest", "nginx", "p50"),
        ("gRPC-Web / gRPC calls/s", "grpc-web", "grpc", "rate"),
        ("gRPC-Web / REST calls/s", "grpc-web", "rest", "rate"),
        ("gRPC-Web / REST server CPU per call", "grpc-web", "rest", "server_cpu"),
        ("REST new keys / REST stored calls/s", "rest-unique", "rest", "rate"),
    ]
    rows = [r for r in rows if r[1] in a.only and r[2] in a.only]
    print("| ratio | %s |" % " | ".join("x%d" % c for c in a.concurrency))
    print("| --- | %s |" % " | ".join("---:" for _ in a.concurrency))
    for label, x, y, k in rows:
        print("| %s | %s |" % (label, " | ".join(ratio(get(x, c, k), get(y, c, k))
                                                 for c in a.concurrency)))
    print()
    print("payments-server (VmRSS, VmHWM in MB; threads):")
    print()
    print("| when | VmRSS | VmHWM | threads |")
    print("| --- | ---: | ---: | ---: |")
    for when, st in env["mem"]:
        print("| %s | %.1f | %.1f | %d |" % (when, st.get("VmRSS", 0) / 1024, st.get("VmHWM", 0) / 1024,
                                         st.get("Threads", 0)))
    print()


def main():
    ap = argparse.ArgumentParser(description="ChargeCard over gRPC, REST/JSON and gRPC-Web")
    ap.add_argument("--server", required=True, help="payments-server")
    ap.add_argument("--grpc-client", required=True, help="bench-grpc-cpay")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--seconds", type=int, help="per measurement (wrk takes whole seconds)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--short", action="store_true", help="a quick smoke run")
    ap.add_argument("--only", help="comma-separated cells: " + ",".join(CELLS))
    a = ap.parse_args(sys.argv[1:] + shlex.split(os.environ.get("BENCH_ARGS", "")))
    if a.seconds is None:
        a.seconds = 1 if a.short else 5
    if a.rounds is None:
        a.rounds = 1 if a.short else 3
    if not 0 < a.seconds <= 60 or not 0 < a.rounds <= 20:
        ap.error("--seconds must be in (0, 60] and --rounds in 1..20")
    a.only = CELLS if not a.only else [c for c in CELLS if c in a.only.split(",")]
    a.concurrency = (1, 32)
    for prog in (a.wrk, a.nginx):
        if not shutil.which(prog):
            sys.exit("run.py: %s not found (tools/setup-deps installs wrk and nginx)" % prog)

    failures = []
    tmp = tempfile.mkdtemp(prefix="cpay-bench-http-")
    env = {"mem": [], "lua": {}}
    srv = ngx = None
    try:
        srv = Server([a.server, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        env["server"] = srv
        grpc_port = port_of(srv.expect("listening on", 20))
        env["http_port"] = port_of(srv.expect("http on", 20))
        env["grpc_target"] = "127.0.0.1:%d" % grpc_port
        env["rest_body"] = check_rest(env["http_port"])
        env["grpc_web_len"] = check_grpc_web(env["http_port"])
        lua = {"rest": lua_fixed("application/json", rest_body().encode()),
               "grpc-web": lua_fixed("application/grpc-web+proto", grpc_web_body()),
               "nginx": lua_fixed("application/json", rest_body().encode()),
               "rest-unique": lua_unique("%x" % int(time.time()))}
        for name, text in lua.items():
            path = os.path.join(tmp, name + ".lua")
            with open(path, "w") as f:
                f.write(text)
            env["lua"][name] = path
        # The same JSON bytes, so nginx sends a body of the same length.
        ngx, env["nginx_port"] = start_nginx(a.nginx, tmp, env["rest_body"])
        env["nginx"] = ngx
        # One gRPC call of each client, so that the idle figure has seen
        # every transport once.
        run_client([a.grpc_client, "unary", env["grpc_target"], "1", "0.1"], 60)
        snapshot(env, "idle (after one call of each kind)")
        cells = run_all(a, env, failures)
        report(a, env, cells)
    except Failure as e:
        failures.append(str(e))
    finally:
        if ngx:
            ngx.stop()
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("Failed measurements:")
        for f in failures:
            print("  - " + f)
        sys.exit(1)


main()
