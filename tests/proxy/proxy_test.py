#!/usr/bin/python3
"""The proxy suite: payments-server replicas behind nginx or HAProxy, started
from the configurations shipped in examples/payments/proxies/ (the templates'
@LISTEN@, @REPLICA1@..@REPLICA3@ and @CANARY@ filled in with free loopback
ports), with Debian's binaries.

usage: proxy_test.py nginx|haproxy PROXY_BIN SERVER CLIENT PROXIES_DIR
                     PROTOC PROTO_DIR RPC_PROTO_DIR WKT_PROTO_DIR

SERVER is payments-server built with libpq (tests/pgstore's
payments-server-pg, or '-' when there is none), CLIENT payments-client. The
replicas share one throwaway PostgreSQL (--store postgres:...), so that a
charge made through one replica is seen by the others, and each has its own
--replica-id, which it returns in every call's initial metadata as
x-served-by: that is how the calls are counted per replica.

Cases, for the proxy named:
  client     payments-client through the proxy passes every step: the four
             call modes, deadlines, metadata, errors, health, reflection
  spread     3,000 ChargeCard calls: each replica serves a third, +-10%
  errors     INVALID_ARGUMENT with its google.rpc.BadRequest detail,
             DEADLINE_EXCEEDED (x-simulate-latency-ms), UNIMPLEMENTED, and
             x-request-id echoed in the initial and trailing metadata, all
             as a replica answers them directly
  streams    a live subscription through the proxy gets a charge made
             through the proxy on another call; a bidirectional chat
  canary     the -canary configuration: of 3,000 ChargeCard calls, the
             canary replica serves 10% +-3 points; of 300 calls of the
             other methods it serves none
  drain      a replica stopped (SIGTERM: NOT_SERVING, GOAWAY, drain) under
             calls: every call succeeds, on the others, but for the few
             C-core cancels as the replica stops (at most 1%)
  (haproxy)  health     the health check in haproxy.cfg is the gRPC call its
                        comments say; a replica answering NOT_SERVING is
                        taken DOWN and served nothing
  (nginx)    unavailable  no replica reachable: UNAVAILABLE with the
                        configuration's message, not an HTML 502

Exits 77 (skipped) when the proxy's binary, libpq or PostgreSQL is missing. Every process is
started here and stopped by its PID; every server binds 127.0.0.1; every
loop is bounded in count and time."""
import atexit
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc

KIND, PROXY_BIN, SERVER, CLIENT, PROXIES_DIR = sys.argv[1:6]
PROTOC, PROTO_DIR, RPC_PROTO_DIR, WKT_DIR = sys.argv[6:10]


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


if not os.access(PROXY_BIN, os.X_OK):
    skip("%s not found: install Debian's %s package (tools/setup-deps does)" % (PROXY_BIN, KIND))
if SERVER == "-":
    skip("payments-server was built without libpq (libpq-dev): the replicas need --store postgres")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))
sys.path.insert(0, os.path.join(HERE, "..", "replicas"))
import cluster  # noqa: E402
from common import Checks, load_protos, status_from_call  # noqa: E402

pb, health_pb, _, _, _, details_pb = load_protos(PROTOC, PROTO_DIR, RPC_PROTO_DIR, WKT_DIR)
C = Checks()
SVC = "/payments.v1.PaymentService/"
CALLS = 3000          # per distribution measurement
LOAD_SECONDS = 180.0  # the most any one batch of calls may take
RUN = "%d-%d" % (os.getpid(), int(time.time()))
WORK = tempfile.mkdtemp(prefix="cpay-proxy-test.")


# ---- processes ------------------------------------------------------------------------


def free_port():
    """A loopback port nobody listens on now (neither proxy reports the one
    it bound, so it is given one)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def render(name, values):
    """The shipped template `name` with its @KEY@ placeholders filled in;
    fails the test if one has no value."""
    text = open(os.path.join(PROXIES_DIR, name)).read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, v)
    left = sorted(set(re.findall(r"@[A-Z0-9_]+@", text)))
    if left:
        raise SystemExit("%s: placeholders without a value: %s" % (name, ", ".join(left)))
    return text


class Proxy:
    """nginx or HAProxy in the foreground on a config of ours, stopped by its
    PID (the nginx master, which takes its workers with it)."""

    def __init__(self, config_name, values):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=KIND + "-", dir=WORK)
        text = render(config_name, dict(values, LISTEN="127.0.0.1:%d" % self.port))
        self.conf = os.path.join(self.dir, config_name)
        with open(self.conf, "w") as f:
            f.write(text)
        self.log = os.path.join(self.dir, "stderr.log")
        if KIND == "nginx":
            cmd = [PROXY_BIN, "-p", self.dir, "-e", os.path.join(self.dir, "error.log"),
                   "-c", self.conf, "-g", "daemon off;"]
        else:
            cmd = [PROXY_BIN, "-f", self.conf, "-db"]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        cluster._started.append(self)  # stopped by cluster.stop_all, like the replicas
        self.address = "127.0.0.1:%d" % self.port
        end = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("%s exited %d: %s" % (KIND, self.proc.returncode, self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end:
                    raise SystemExit("%s did not listen in 15 s: %s" % (KIND, self.output()))
                time.sleep(0.05)

    def output(self):
        text = open(self.log, errors="replace").read()
        err = os.path.join(self.dir, "error.log")
        if os.path.exists(err):
            text += open(err, errors="replace").read()
        return text[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in cluster._started:
            cluster._started.remove(self)


if not cluster.pg_bin("initdb"):
    skip("PostgreSQL is not installed (postgresql package): the replicas share one")
PG = cluster.Postgres()


# HAProxy checks health every 2 s, 500 ms after a failed check, and takes a
# replica out after 2 failed checks (haproxy.cfg: inter 2s fastinter 500ms
# fall 2; a NOT_SERVING answer fails its check at once): at worst
# inter + fastinter = 2.5 s after a replica turns NOT_SERVING. A replica it
# drains stays a lame duck (NOT_SERVING, still serving) for well over that.
HAPROXY_OUT_S = 2.5 + 2.0  # and 2 s of slack for a busy machine
LAME_DUCK_MS = 9000


def replica(name, *args):
    return cluster.Replica(SERVER, "--store", "postgres:" + PG.conninfo, "--replica-id", name,
                           *args)


def replicas(names):
    return {n: replica(n) for n in names}


# ---- calls ----------------------------------------------------------------------------


class Client:
    """A grpcio channel to `address` and PaymentService's methods."""

    def __init__(self, address):
        self.ch = grpc.insecure_channel(address)
        grpc.channel_ready_future(self.ch).result(timeout=10)
        self.charge = self.ch.unary_unary(SVC + "ChargeCard",
                                          request_serializer=pb.ChargeRequest.SerializeToString,
                                          response_deserializer=pb.ChargeResponse.FromString)
        self.stream = self.ch.unary_stream(
            SVC + "StreamTransactions",
            request_serializer=pb.TransactionStreamRequest.SerializeToString,
            response_deserializer=pb.Transaction.FromString)
        self.batch = self.ch.stream_unary(SVC + "BatchCharge",
                                          request_serializer=pb.ChargeRequest.SerializeToString,
                                          response_deserializer=pb.BatchChargeResponse.FromString)
        self.chat = self.ch.stream_stream(SVC + "PaymentChat",
                                          request_serializer=pb.PaymentMessage.SerializeToString,
                                          response_deserializer=pb.PaymentMessage.FromString)
        self.health = self.ch.unary_unary("/grpc.health.v1.Health/Check",
                                          request_serializer=health_pb.HealthCheckRequest.SerializeToString,
                                          response_deserializer=health_pb.HealthCheckResponse.FromString)

    def close(self):
        self.ch.close()


def served_by(call):
    """The x-served-by of a call's initial metadata, or None."""
    for k, v in call.initial_metadata() or ():
        if k == "x-served-by":
            return v
    return None


def charge_req(i, tag, cents=1999):
    return pb.ChargeRequest(customer_id="cus-%s-%s" % (RUN, tag), amount_cents=cents,
                            currency="USD", idempotency_key="%s-%s-%d" % (RUN, tag, i))


def many(n, fn, workers=8):
    """fn(i) for i in range(n) from `workers` threads, within LOAD_SECONDS:
    the list of results ((served_by, None) or (None, error))."""
    results = []
    deadline = time.monotonic() + LOAD_SECONDS

    def one(i):
        if time.monotonic() > deadline:
            return None, "out of time"
        try:
            return fn(i), None
        except grpc.RpcError as e:
            return None, "%s %s" % (e.code(), e.details())
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for r in pool.map(one, range(n)):
            results.append(r)
    return results


def tally(results):
    """(count per replica, errors, calls without x-served-by)."""
    counts, errors, unnamed = {}, [], 0
    for who, err in results:
        if err:
            errors.append(err)
        elif who is None:
            unnamed += 1
        else:
            counts[who] = counts.get(who, 0) + 1
    return counts, errors, unnamed


def charges(client, n, tag):
    def one(i):
        _, call = client.charge.with_call(charge_req(i, tag), timeout=10)
        return served_by(call)
    return tally(many(n, one))


def fmt_counts(counts):
    return ", ".join("%s %d" % kv for kv in sorted(counts.items()))


# ---- cases ----------------------------------------------------------------------------


def case_client(proxy):
    """The example client's every step, through the proxy."""
    p = subprocess.run([CLIENT, "--target", proxy.address], capture_output=True, text=True,
                       timeout=120)
    lines = p.stdout.splitlines()
    steps = {}
    for line in lines:
        m = re.match(r"(ok|FAIL)\s+(.+?)\s{2,}", line)
        if m:
            steps[m.group(2)] = m.group(1)
    want = ["ChargeCard", "metadata echo", "ChargeCard idempotent retry", "ChargeCard invalid amount",
            "ChargeCard 200 ms deadline", "StreamTransactions", "StreamTransactions live",
            "BatchCharge", "PaymentChat", "ChargeCard async fan-out", "unknown method",
            "health Check", "reflection list_services"]
    for s in want:
        C.check(steps.get(s) == "ok", "client: " + s, steps.get(s, "missing"))
    C.check(p.returncode == 0 and "payments-client: all steps ok" in lines,
            "client: exits 0, all steps ok", "status %d" % p.returncode)
    if p.returncode != 0:
        print(p.stdout + p.stderr)


def case_spread(proxy, names):
    cl = Client(proxy.address)
    try:
        counts, errors, unnamed = charges(cl, CALLS, "spread")
    finally:
        cl.close()
    C.check(not errors and not unnamed, "spread: %d ChargeCard calls, all OK with x-served-by" % CALLS,
            "%d errors %s, %d without x-served-by" % (len(errors), errors[:3], unnamed))
    third = CALLS / len(names)
    for n in names:
        got = counts.get(n, 0)
        C.check(abs(got - third) <= 0.1 * third, "spread: %s serves a third +-10%%" % n,
                "%d of %d (%s)" % (got, CALLS, fmt_counts(counts)))
    C.check(set(counts) <= set(names), "spread: only the upstream's replicas serve",
            fmt_counts(counts))


def rpc_error(fn):
    try:
        fn()
    except grpc.RpcError as e:
        return e
    return None


def case_errors(proxy, direct):
    """What a replica answers directly, the proxy passes on unchanged."""
    results = {}
    for via, address in (("direct", direct.address), ("proxy", proxy.address)):
        cl = Client(address)
        try:
            r = {}
            e = rpc_error(lambda: cl.charge(charge_req(0, "bad-" + via, cents=-5), timeout=5))
            detail = None
            if e is not None:
                st = status_from_call(e)
                for d in (st.details if st else ()):
                    br = details_pb.BadRequest()
                    if d.Unpack(br) and br.field_violations:
                        detail = (br.field_violations[0].field, br.field_violations[0].description)
            r["invalid"] = (e and e.code(), e and e.details(), detail)

            t0 = time.monotonic()
            e = rpc_error(lambda: cl.charge(charge_req(0, "slow-" + via), timeout=0.3,
                                            metadata=[("x-simulate-latency-ms", "3000")]))
            r["deadline"] = (e and e.code(), time.monotonic() - t0)

            # A slow call within its deadline is not cut by the proxy.
            _, call = cl.charge.with_call(charge_req(0, "slow-ok-" + via), timeout=10,
                                          metadata=[("x-simulate-latency-ms", "500")])
            r["slow ok"] = call.code()

            unknown = cl.ch.unary_unary(SVC + "Refund")
            e = rpc_error(lambda: unknown(b"", timeout=5))
            r["unknown"] = e and e.code()

            _, call = cl.charge.with_call(charge_req(0, "md-" + via), timeout=5,
                                          metadata=[("x-request-id", "req-proxy-42")])
            r["echo"] = ([v for k, v in call.initial_metadata() if k == "x-request-id"],
                         [v for k, v in call.trailing_metadata() if k == "x-request-id"])
            results[via] = r
        finally:
            cl.close()
    d, p = results["direct"], results["proxy"]
    C.check(p["invalid"][0] == grpc.StatusCode.INVALID_ARGUMENT and p["invalid"] == d["invalid"],
            "errors: INVALID_ARGUMENT, message and BadRequest detail as direct",
            "proxy %r, direct %r" % (p["invalid"], d["invalid"]))
    C.check(p["invalid"][2] is not None and p["invalid"][2][0] == "amount_cents",
            "errors: the BadRequest names amount_cents", repr(p["invalid"][2]))
    C.check(p["deadline"][0] == grpc.StatusCode.DEADLINE_EXCEEDED and p["deadline"][1] < 2.0,
            "errors: DEADLINE_EXCEEDED at the 300 ms deadline, not after the 3 s call",
            "%s after %.2f s" % p["deadline"])
    C.check(p["slow ok"] == grpc.StatusCode.OK, "errors: a 500 ms call within its deadline is OK",
            str(p["slow ok"]))
    C.check(p["unknown"] == grpc.StatusCode.UNIMPLEMENTED == d["unknown"],
            "errors: unknown method UNIMPLEMENTED", str(p["unknown"]))
    C.check(p["echo"] == (["req-proxy-42"], ["req-proxy-42"]) == d["echo"],
            "errors: x-request-id there and back, initial and trailing", repr(p["echo"]))


def case_streams(proxy):
    """A live subscription through the proxy meets a charge made through it
    (each lands on whichever replica), and a chat goes both ways."""
    cl = Client(proxy.address)
    try:
        customer = "cus-%s-live" % RUN
        sub = cl.stream(pb.TransactionStreamRequest(customer_id=customer), timeout=20)
        got, ready = [], threading.Event()

        def read():
            try:
                for t in sub:
                    got.append(t.id)
                    ready.set()
            except grpc.RpcError:
                ready.set()
        threading.Thread(target=read, daemon=True).start()
        sub.initial_metadata()  # the subscription is registered once its headers come
        ids = []
        for i in range(3):
            r = cl.charge(pb.ChargeRequest(customer_id=customer, amount_cents=100 + i,
                                           currency="USD", idempotency_key="%s-live-%d" % (RUN, i)),
                          timeout=5)
            ids.append(r.transaction_id)
        end = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < end:
            ready.wait(0.2)
            ready.clear()
        sub.cancel()
        C.check(got == ids, "streams: a live subscription gets 3 charges made on other calls",
                "got %s, charged %s (subscription on %s)" % (got, ids, served_by(sub)))

        msgs = [pb.PaymentMessage(sender="customer", text="line %d" % i) for i in range(3)]
        replies = list(cl.chat(iter(msgs), timeout=10))
        C.check(len(replies) == 3, "streams: PaymentChat answers each of 3 messages",
                "%d replies" % len(replies))
    finally:
        cl.close()


def case_canary(names, canary):
    reps = replicas(names + [canary])
    px = Proxy(KIND + "-canary.conf" if KIND == "nginx" else "haproxy-canary.cfg",
               {"REPLICA1": reps[names[0]].address, "REPLICA2": reps[names[1]].address,
                "REPLICA3": reps[names[2]].address, "CANARY": reps[canary].address})
    cl = Client(px.address)
    try:
        counts, errors, unnamed = charges(cl, CALLS, "canary")
        C.check(not errors and not unnamed, "canary: %d ChargeCard calls, all OK with x-served-by"
                % CALLS, "%d errors %s, %d unnamed" % (len(errors), errors[:3], unnamed))
        share = 100.0 * counts.get(canary, 0) / CALLS
        C.check(abs(share - 10) <= 3, "canary: the canary serves 10% +-3 of ChargeCard",
                "%.1f%% (%s)" % (share, fmt_counts(counts)))
        rest = {n: counts.get(n, 0) for n in names}
        C.check(min(rest.values()) > 0.8 * (CALLS - counts.get(canary, 0)) / 3,
                "canary: the rest spread over the three replicas", fmt_counts(rest))

        # Every other method of PaymentService, 100 calls each: none reaches
        # the canary.
        def other(i):
            kind = i % 3
            if kind == 0:
                call = cl.stream(pb.TransactionStreamRequest(customer_id="cus-%s-canary" % RUN,
                                                             since_unix=1), timeout=10)
                who = served_by(call)
                call.cancel()
                return who
            if kind == 1:
                _, call = cl.batch.with_call(iter([charge_req(i, "canary-batch")]), timeout=10)
                return served_by(call)
            call = cl.chat(iter([pb.PaymentMessage(sender="customer", text="hi")]), timeout=10)
            for _ in call:
                pass
            return served_by(call)
        counts, errors, unnamed = tally(many(300, other))
        C.check(not errors and not unnamed and canary not in counts and sum(counts.values()) == 300,
                "canary: 300 calls of StreamTransactions, BatchCharge and PaymentChat: none on "
                "the canary", "%s; %d errors %s, %d unnamed" % (
                    fmt_counts(counts), len(errors), errors[:3], unnamed))
        # Health answers carry no x-served-by: that they pass is what is checked.
        ok = sum(cl.health(health_pb.HealthCheckRequest(service="payments.v1.PaymentService"),
                           timeout=10).status == health_pb.HealthCheckResponse.SERVING
                 for _ in range(20))
        C.check(ok == 20, "canary: health Check through the canary configuration", "%d of 20 SERVING" % ok)
    finally:
        cl.close()
        px.stop()
        for r in reps.values():
            r.stop()


def case_drain(proxy, reps, names):
    """SIGTERM to one replica while calls run. Behind HAProxy the replica is a
    lame duck (--lame-duck-ms): NOT_SERVING but serving, until HAProxy's
    health check has taken it out; then it drains and sends its GOAWAY with
    no call arriving: no call fails, and none reaches it once the check has
    seen NOT_SERVING. nginx (open source) has no active health check: it
    keeps sending to the replica until the drain refuses calls UNAVAILABLE
    (never run: the client retries them) and the GOAWAY closes the
    connection; a call crossing that GOAWAY may end CANCELLED
    (docs/proxies.md, "Draining")."""
    cl = Client(proxy.address)
    try:
        gone = names[-1]
        lame = KIND == "haproxy"
        # Paced so that the load outlasts the lame duck: 1,500 calls at about
        # 125/s, bounded by LOAD_SECONDS too.
        t_term = [None]

        def term():
            t_term[0] = time.monotonic()
            reps[gone].signal(signal.SIGTERM)
        stopper = threading.Timer(1.0, term)
        stopper.start()
        starts = {}

        def one(i):
            time.sleep(0.03)
            starts[i] = time.monotonic()
            _, call = cl.charge.with_call(charge_req(i, "drain"), timeout=10)
            return served_by(call)
        results = many(1500, one, workers=4)
        stopper.join()
        rc = reps[gone].wait(20)
        counts, errors, unnamed = tally(results)
        C.check(rc == 0, "drain: %s drained and exited 0" % gone, "status %s" % rc)
        if lame:
            late = [i for i, (who, _) in enumerate(results)
                    if who == gone and starts.get(i, 0) > t_term[0] + HAPROXY_OUT_S]
            C.check(not errors and not unnamed,
                    "drain: 1500 ChargeCard calls while %s stops as a lame duck: none fails" % gone,
                    "%s; %d errors %s" % (fmt_counts(counts), len(errors), errors[:3]))
            last = max((starts.get(i, 0) for i, (who, _) in enumerate(results) if who == gone),
                       default=t_term[0]) - t_term[0]
            C.check(not late, "drain: no call started %.1f s after the SIGTERM reached %s (HAProxy's "
                    "check saw NOT_SERVING while it still served)" % (HAPROXY_OUT_S, gone),
                    "%d such calls; the last one it got started %.1f s after the SIGTERM"
                    % (len(late), last))
        else:
            # Refused by the drain (UNAVAILABLE, never run) or crossing the
            # GOAWAY (CANCELLED): both safe to retry with the same key.
            benign = [e for e in errors if e.startswith("StatusCode.CANCELLED") or
                      (e.startswith("StatusCode.UNAVAILABLE") and "shutting down" in e)]
            C.check(len(errors) == len(benign) <= 15 and not unnamed,
                    "drain: 1500 ChargeCard calls while %s stops: OK but for a few refused by its "
                    "drain (UNAVAILABLE) or crossing its GOAWAY (CANCELLED)" % gone,
                    "%s; %d of those, %d other errors %s" % (
                        fmt_counts(counts), len(benign), len(errors) - len(benign),
                        [e for e in errors if e not in benign][:3]))
        after, errors, unnamed = charges(cl, 300, "after-drain")
        C.check(not errors and gone not in after and sum(after.values()) == 300,
                "drain: then 300 calls, none on %s" % gone,
                "%s; %d errors %s" % (fmt_counts(after), len(errors), errors[:3]))
    finally:
        cl.close()


HPACK_STATIC = {":authority": 1, ":method POST": 3, ":path": 4, ":scheme http": 6,
                "content-type": 31}


def expected_health_check():
    """The bytes of a Health/Check call for payments.v1.PaymentService, made
    here from health.proto's message and RFC 7540/7541, to compare with the
    send-binary lines of haproxy.cfg."""
    def literal(name, value):
        v = value.encode()
        idx = HPACK_STATIC.get(name)
        if idx is None:  # literal name, without indexing
            head = b"\x00" + bytes([len(name)]) + name.encode()
        elif idx < 15:
            head = bytes([idx])
        else:
            head = bytes([15, idx - 15])
        return head + bytes([len(v)]) + v

    def frame(kind, flags, stream, payload):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    block = (bytes([0x80 | HPACK_STATIC[":method POST"], 0x80 | HPACK_STATIC[":scheme http"]]) +
             literal(":path", "/grpc.health.v1.Health/Check") + literal(":authority", "localhost") +
             literal("content-type", "application/grpc") + literal("te", "trailers"))
    msg = health_pb.HealthCheckRequest(service="payments.v1.PaymentService").SerializeToString()
    grpc_msg = b"\x00" + len(msg).to_bytes(4, "big") + msg
    return (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, block) +
            frame(0, 1, 1, grpc_msg))


def fake_replica(status):
    """A grpcio server whose Health/Check answers `status` and whose
    ChargeCard answers with x-served-by: fake, so that a call reaching it
    shows."""
    from concurrent import futures

    def check(req, ctx):
        return health_pb.HealthCheckResponse(status=status)

    def charge(req, ctx):
        ctx.send_initial_metadata([("x-served-by", "fake")])
        return pb.ChargeResponse(transaction_id="fake")
    handlers = [
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                check, request_deserializer=health_pb.HealthCheckRequest.FromString,
                response_serializer=health_pb.HealthCheckResponse.SerializeToString)}),
        grpc.method_handlers_generic_handler("payments.v1.PaymentService", {
            "ChargeCard": grpc.unary_unary_rpc_method_handler(
                charge, request_deserializer=pb.ChargeRequest.FromString,
                response_serializer=pb.ChargeResponse.SerializeToString)}),
    ]
    srv = grpc.server(futures.ThreadPoolExecutor(4), handlers=handlers)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    return srv, port


def case_health(names):
    """haproxy.cfg's health check: the bytes its comments describe, and a
    replica that answers NOT_SERVING goes DOWN and serves nothing."""
    conf = open(os.path.join(PROXIES_DIR, "haproxy.cfg")).read()
    sent = bytes.fromhex("".join(re.findall(r"^\s*tcp-check send-binary ([0-9a-f]+)", conf, re.M)))
    C.check(sent == expected_health_check(),
            "health: the check sends Health/Check(payments.v1.PaymentService) as HTTP/2",
            "%d bytes, want %d" % (len(sent), len(expected_health_check())))
    want = b"\x00" + (2).to_bytes(4, "big") + health_pb.HealthCheckResponse(
        status=health_pb.HealthCheckResponse.SERVING).SerializeToString()
    m = re.search(r"^\s*tcp-check expect min-recv 0 binary ([0-9a-f]+)", conf, re.M)
    C.check(m is not None and bytes.fromhex(m.group(1)) == want,
            "health: the check expects HealthCheckResponse(SERVING) as a gRPC message",
            m.group(1) if m else "no expect line")

    reps = replicas(names[:2])
    srv, port = fake_replica(health_pb.HealthCheckResponse.NOT_SERVING)
    px = None
    try:
        px = Proxy("haproxy.cfg", {"REPLICA1": reps[names[0]].address,
                                   "REPLICA2": reps[names[1]].address,
                                   "REPLICA3": "127.0.0.1:%d" % port})
        end = time.monotonic() + 20
        while time.monotonic() < end and not re.search(r"replica3 is DOWN", px.output()):
            time.sleep(0.2)
        out = px.output()
        C.check(re.search(r"Server payments/replica3 is DOWN", out) is not None,
                "health: the NOT_SERVING replica is DOWN within 20 s", out[-300:].replace("\n", " | "))
        C.check(not re.search(r"replica[12] is DOWN", out), "health: the SERVING replicas stay UP",
                out[-300:].replace("\n", " | "))
        cl = Client(px.address)
        try:
            counts, errors, unnamed = charges(cl, 300, "health")
        finally:
            cl.close()
        C.check(not errors and "fake" not in counts and sum(counts.values()) == 300,
                "health: 300 calls, none on the NOT_SERVING replica",
                "%s; %d errors %s" % (fmt_counts(counts), len(errors), errors[:3]))
    finally:
        if px:
            px.stop()
        srv.stop(0)
        for r in reps.values():
            r.stop()


def case_unavailable(proxy, reps):
    """nginx with every replica gone answers as gRPC: UNAVAILABLE."""
    for r in reps.values():
        r.stop()
    cl = Client(proxy.address)
    try:
        e = rpc_error(lambda: cl.charge(charge_req(0, "none"), timeout=5))
    finally:
        cl.close()
    C.check(e is not None and e.code() == grpc.StatusCode.UNAVAILABLE and
            e.details() == "no payments-server replica is reachable",
            "unavailable: no replica: UNAVAILABLE with the configuration's message",
            "%s %r" % (e and e.code(), e and e.details()))


def main():
    names = ["r1", "r2", "r3"]
    conf = "nginx.conf" if KIND == "nginx" else "haproxy.cfg"
    reps = replicas(names[:-1])
    # The one case_drain stops: a lame duck behind HAProxy.
    reps[names[-1]] = replica(names[-1], *(["--lame-duck-ms", str(LAME_DUCK_MS)]
                                           if KIND == "haproxy" else []))
    px = Proxy(conf, {"REPLICA%d" % (i + 1): reps[n].address for i, n in enumerate(names)})
    print("%s on %s, replicas %s" % (KIND, px.address,
                                     ", ".join("%s %s" % (n, reps[n].address) for n in names)))
    try:
        case_client(px)
        case_spread(px, names)
        case_errors(px, reps[names[0]])
        case_streams(px)
        case_drain(px, reps, names)
        if KIND == "nginx":
            case_unavailable(px, reps)
    finally:
        px.stop()
        for r in reps.values():
            r.stop()
    case_canary(names, "v2")
    if KIND == "haproxy":
        case_health(names)
    return C.done()


def cleanup():
    cluster.stop_all()
    if C.failed:
        print("the proxies' configurations and logs are kept in " + WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)


atexit.register(cleanup)
sys.exit(main())
