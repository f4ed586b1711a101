"""A Python grpcio client against cpay's payments-server: every call mode,
errors, deadlines, metadata, cancellation, health, reflection, bad input on
the wire, auth, 96 live streams on 8 workers (no thread each; health, charges
and a fan-out to all answer), rich error details (google.rpc.Status written by cpay, read
the way grpc_status does), a status message longer than 255 bytes, graceful
shutdown with health NOT_SERVING, the bounded store (--max-stored), a live
subscriber that stops reading (ended RESOURCE_EXHAUSTED once it fell out of
the store, having missed nothing before), and response compression
(--compression gzip, seen in C-core's compression trace).

usage: py_client.py PROTOC PROTO_DIR PAYMENTS_SERVER RPC_PROTO_DIR WKT_PROTO_DIR"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from common import DETAILS_KEY, Checks, load_protos, start_server, status_from_call

protoc, proto_dir, server_bin, rpc_proto_dir, wkt_dir = sys.argv[1:6]
pb, health_pb, r1, r1a, _, details_pb = load_protos(protoc, proto_dir, rpc_proto_dir, wkt_dir)
C = Checks()
TOKEN = "s3cret"
AUTH = [("authorization", "Bearer " + TOKEN)]
SVC = "/payments.v1.PaymentService/"

proc, port = start_server([server_bin, "--listen", "127.0.0.1:0", "--require-token", TOKEN,
                           "--max-recv-size", "65536", "--workers", "8"])
ch = grpc.insecure_channel("127.0.0.1:%d" % port)
grpc.channel_ready_future(ch).result(timeout=10)


def unary(name, req_cls, resp_cls):
    return ch.unary_unary(SVC + name, request_serializer=req_cls.SerializeToString,
                          response_deserializer=resp_cls.FromString)


charge = unary("ChargeCard", pb.ChargeRequest, pb.ChargeResponse)
stream_tx = ch.unary_stream(SVC + "StreamTransactions",
                            request_serializer=pb.TransactionStreamRequest.SerializeToString,
                            response_deserializer=pb.Transaction.FromString)
batch = ch.stream_unary(SVC + "BatchCharge", request_serializer=pb.ChargeRequest.SerializeToString,
                        response_deserializer=pb.BatchChargeResponse.FromString)
chat = ch.stream_stream(SVC + "PaymentChat", request_serializer=pb.PaymentMessage.SerializeToString,
                        response_deserializer=pb.PaymentMessage.FromString)


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


# Unary, with metadata echo.
req = pb.ChargeRequest(customer_id="py-1", amount_cents=1250, currency="USD", idempotency_key="py-k1")
resp, call = charge.with_call(req, metadata=AUTH + [("x-request-id", "py-echo-7")], timeout=5)
C.check(resp.status == pb.CHARGE_STATUS_SUCCESS and resp.transaction_id.startswith("txn_"),
        "unary ChargeCard", resp.transaction_id)
C.check(("x-request-id", "py-echo-7") in call.initial_metadata() and
        ("x-request-id", "py-echo-7") in call.trailing_metadata(), "metadata echo")
again = charge(req, metadata=AUTH, timeout=5)
C.check(again.transaction_id == resp.transaction_id, "idempotent retry returns the stored response")
declined = charge(pb.ChargeRequest(customer_id="py-1", amount_cents=900000, currency="USD",
                                   idempotency_key="py-big"), metadata=AUTH, timeout=5)
C.check(declined.status == pb.CHARGE_STATUS_DECLINED, "large amount declined")
code, details = code_of(lambda: charge(pb.ChargeRequest(customer_id="py-1", amount_cents=0,
                                                        currency="USD", idempotency_key="z"),
                                       metadata=AUTH, timeout=5))
C.check(code == grpc.StatusCode.INVALID_ARGUMENT and "amount" in details, "INVALID_ARGUMENT", details)


def call_of(fn):
    """The finished call of fn(): its grpc.RpcError, or None when it succeeded."""
    try:
        fn()
        return None
    except grpc.RpcError as e:
        return e


def rich_status(call):
    """(status_from_call(call), why it failed or "")."""
    try:
        return status_from_call(call), ""
    except ValueError as e:
        return None, str(e)


# Rich error details written by cpay: INVALID_ARGUMENT with a BadRequest.
err = call_of(lambda: charge(pb.ChargeRequest(customer_id="py-1", amount_cents=-5, currency="USD",
                                              idempotency_key="py-neg"), metadata=AUTH, timeout=5))
st, why = rich_status(err) if err else (None, "the call succeeded")
anys = list(st.details) if st else []
br = details_pb.BadRequest()
unpacked = len(anys) == 1 and anys[0].Unpack(br)
C.check(st is not None and st.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and
        st.message == err.details() and len(anys) == 1 and
        anys[0].type_url == "type.googleapis.com/google.rpc.BadRequest" and unpacked and
        len(br.field_violations) >= 1 and br.field_violations[0].field == "amount_cents",
        "INVALID_ARGUMENT carries a google.rpc.Status with a BadRequest",
        why or "%s; %s" % (st and st.message, [a.type_url for a in anys]) +
        ("; %s: %s" % (br.field_violations[0].field, br.field_violations[0].description)
         if br.field_violations else ""))
resp_ok, ok_call = charge.with_call(pb.ChargeRequest(customer_id="py-rich", amount_cents=5, currency="USD",
                                                     idempotency_key="py-rich-1"),
                                    metadata=AUTH, timeout=5)
st, why = rich_status(ok_call)
C.check(resp_ok.status == pb.CHARGE_STATUS_SUCCESS and st is None and not why and
        all(k != DETAILS_KEY for k, _ in ok_call.trailing_metadata()),
        "a successful call carries no %s" % DETAILS_KEY, why)
err = call_of(lambda: charge(pb.ChargeRequest(customer_id="py-rich", amount_cents=5, currency="USD",
                                              idempotency_key="py-noauth"), timeout=5))
st, why = rich_status(err) if err else (None, "the call succeeded")
C.check(err is not None and err.code() == grpc.StatusCode.UNAUTHENTICATED and st is None and not why,
        "an error without details carries no %s" % DETAILS_KEY, why)

# A status message longer than 255 bytes arrives whole. The example server
# puts no client text in its messages; the runtime's "unknown method <path>"
# does.
long_path = SVC + "Refund" + "x" * 1000
err = call_of(lambda: ch.unary_unary(long_path)(b"", metadata=AUTH, timeout=5))
want = "unknown method " + long_path
C.check(err is not None and err.code() == grpc.StatusCode.UNIMPLEMENTED and err.details() == want,
        "a %d-byte status message arrives whole" % len(want),
        "got %d bytes" % len(err.details() or "") if err else "the call succeeded")
code, details = code_of(lambda: charge(req, metadata=AUTH + [("x-simulate-latency-ms", "3000")],
                                       timeout=0.3))
C.check(code == grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", str(code))
code, details = code_of(lambda: charge(req, timeout=5))
C.check(code == grpc.StatusCode.UNAUTHENTICATED, "server interceptor rejects a missing token", details)
code, details = code_of(lambda: charge(req, metadata=[("authorization", "Bearer nope")], timeout=5))
C.check(code == grpc.StatusCode.UNAUTHENTICATED, "server interceptor rejects a wrong token", details)
refund = ch.unary_unary(SVC + "Refund")
code, details = code_of(lambda: refund(b"", metadata=AUTH, timeout=5))
C.check(code == grpc.StatusCode.UNIMPLEMENTED, "UNIMPLEMENTED for an unknown method", details)
other = ch.unary_unary("/other.Service/Method")
code, details = code_of(lambda: other(b"", timeout=5))
C.check(code == grpc.StatusCode.UNIMPLEMENTED, "UNIMPLEMENTED for an unknown service", details)

# Bad input on the wire.
raw_charge = ch.unary_unary(SVC + "ChargeCard")
code, details = code_of(lambda: raw_charge(b"\x0a\xff\xff\xff\x0f", metadata=AUTH, timeout=5))
C.check(code == grpc.StatusCode.INTERNAL and "could not be decoded" in details,
        "undecodable request -> INTERNAL", details)
code, details = code_of(lambda: raw_charge(b"\x22\x02\xc3\x28", metadata=AUTH, timeout=5))
C.check(code == grpc.StatusCode.INTERNAL and "could not be decoded" in details,
        "invalid UTF-8 in a string -> INTERNAL", details)
big = pb.ChargeRequest(customer_id="py-1", amount_cents=1, currency="USD", idempotency_key="big",
                       description="x" * 100000)
code, details = code_of(lambda: charge(big, metadata=AUTH, timeout=5))
C.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, "oversized request -> RESOURCE_EXHAUSTED", details)
raw_batch = ch.stream_unary(SVC + "BatchCharge")
code, details = code_of(lambda: raw_batch(iter([req.SerializeToString(), b"\xff"]), metadata=AUTH,
                                          timeout=5))
C.check(code == grpc.StatusCode.INTERNAL and "could not be decoded" in details,
        "undecodable message mid-stream -> INTERNAL", details)
# The server still works after all that.
C.check(charge(req, metadata=AUTH, timeout=5).transaction_id == resp.transaction_id,
        "server healthy after bad input")

# Server streaming: stored transactions, then a live one, then cancel.
charge(pb.ChargeRequest(customer_id="py-1", amount_cents=300, currency="EUR",
                        idempotency_key="py-k2"), metadata=AUTH, timeout=5)
it = stream_tx(pb.TransactionStreamRequest(customer_id="py-1", since_unix=0), metadata=AUTH, timeout=10)
first = [next(it), next(it)]
C.check([t.amount_cents for t in first] == [1250, 300], "StreamTransactions stored transactions")
threading.Timer(0.3, lambda: charge(pb.ChargeRequest(customer_id="py-1", amount_cents=777,
                                                     currency="USD", idempotency_key="py-live"),
                                    metadata=AUTH, timeout=5)).start()
live = next(it)
C.check(live.amount_cents == 777, "StreamTransactions live transaction", live.id)
it.cancel()
code, _ = code_of(lambda: next(it))
C.check(code == grpc.StatusCode.CANCELLED, "cancellation mid-stream", str(code))
it = stream_tx(pb.TransactionStreamRequest(customer_id="py-1", since_unix=0), metadata=AUTH, timeout=1)
got = []
code, _ = code_of(lambda: [got.append(t) for t in it])
C.check(code == grpc.StatusCode.DEADLINE_EXCEEDED and len(got) == 3,
        "StreamTransactions ends at the deadline", "%d received" % len(got))

# Client streaming.
reqs = [pb.ChargeRequest(customer_id="py-2", amount_cents=100 + i, currency="USD",
                         idempotency_key="py-b%d" % i) for i in range(10)]
reqs[4].amount_cents = -1
reqs[7].currency = "usd"
out = batch(iter(reqs), metadata=AUTH, timeout=5)
C.check(out.total == 10 and out.succeeded == 8 and out.failed == 2 and
        list(out.failed_idempotency_keys) == ["py-b4", "py-b7"], "BatchCharge", str(out).replace("\n", " "))

# Bidirectional: each answer arrives before the next message is sent.
import queue
q = queue.Queue()
def gen():
    for i in range(3):
        yield pb.PaymentMessage(text="line %d" % i, sender="py", transaction_id="t%d" % i)
        q.get(timeout=5)
answers = []
for m in chat(gen(), metadata=AUTH, timeout=5):
    answers.append(m)
    q.put(1)
C.check([a.text for a in answers] == ["support received: line %d" % i for i in range(3)] and
        [a.transaction_id for a in answers] == ["t0", "t1", "t2"], "PaymentChat answers as it goes")

# Health and reflection (no token needed).
check = ch.unary_unary("/grpc.health.v1.Health/Check",
                       request_serializer=health_pb.HealthCheckRequest.SerializeToString,
                       response_deserializer=health_pb.HealthCheckResponse.FromString)
for name in ["", "payments.v1.PaymentService"]:
    C.check(check(health_pb.HealthCheckRequest(service=name), timeout=5).status ==
            health_pb.HealthCheckResponse.SERVING, "health Check %r SERVING" % name)
code, _ = code_of(lambda: check(health_pb.HealthCheckRequest(service="nope"), timeout=5))
C.check(code == grpc.StatusCode.NOT_FOUND, "health Check of an unknown service -> NOT_FOUND")

for mod, pkg in [(r1, "v1"), (r1a, "v1alpha")]:
    refl = ch.stream_stream("/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % pkg,
                            request_serializer=mod.ServerReflectionRequest.SerializeToString,
                            response_deserializer=mod.ServerReflectionResponse.FromString)
    rs = list(refl(iter([
        mod.ServerReflectionRequest(list_services="*"),
        mod.ServerReflectionRequest(file_containing_symbol="payments.v1.PaymentService"),
        mod.ServerReflectionRequest(file_containing_symbol="payments.v1.PaymentService.ChargeCard"),
        mod.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto"),
        mod.ServerReflectionRequest(file_containing_symbol="no.Such"),
    ]), timeout=5))
    names = [s.name for s in rs[0].list_services_response.service]
    C.check("payments.v1.PaymentService" in names and "grpc.health.v1.Health" in names and
            "grpc.reflection.%s.ServerReflection" % pkg in names, "reflection %s list_services" % pkg,
            ", ".join(names))
    from google.protobuf import descriptor_pb2
    fds = [descriptor_pb2.FileDescriptorProto.FromString(b)
           for b in rs[1].file_descriptor_response.file_descriptor_proto]
    C.check(fds and fds[0].name == "payments.proto" and fds[0].service[0].name == "PaymentService"
            and [m.name for m in fds[0].service[0].method] ==
            ["ChargeCard", "StreamTransactions", "BatchCharge", "PaymentChat"],
            "reflection %s file_containing_symbol" % pkg)
    C.check(rs[2].file_descriptor_response.file_descriptor_proto[0] ==
            rs[1].file_descriptor_response.file_descriptor_proto[0], "reflection %s method symbol" % pkg)
    hfd = descriptor_pb2.FileDescriptorProto.FromString(rs[3].file_descriptor_response.file_descriptor_proto[0])
    C.check(hfd.package == "grpc.health.v1", "reflection %s file_by_filename" % pkg)
    C.check(rs[4].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0],
            "reflection %s unknown symbol -> NOT_FOUND" % pkg)

# Many live streams on a server of 8 workers: 64 subscribers and 32 health
# Watch streams. Served one thread per call, 16 of them made the server
# answer nothing, health included; now they hold no thread: the server's
# thread count does not move, health and charges answer at once, and one
# charge reaches every subscriber.
watch = ch.unary_stream("/grpc.health.v1.Health/Watch",
                        request_serializer=health_pb.HealthCheckRequest.SerializeToString,
                        response_deserializer=health_pb.HealthCheckResponse.FromString)


def threads_of(pid):
    """(all threads, the program's own): C-core names its threads, which its
    pools may add under load; the program's keep the program's name."""
    me = open("/proc/%d/comm" % pid).read()
    names = [open("/proc/%d/task/%s/comm" % (pid, t)).read() for t in os.listdir("/proc/%d/task" % pid)]
    return len(names), names.count(me)


threads_before = threads_of(proc.pid)
subs = [stream_tx(pb.TransactionStreamRequest(customer_id="py-many"), metadata=AUTH, timeout=30)
        for _ in range(64)]
watches = [watch(health_pb.HealthCheckRequest(service="payments.v1.PaymentService"), timeout=30)
           for _ in range(32)]
for s in subs:
    s.initial_metadata()  # the feed sends its headers once the subscriber is in
C.check(all(next(w).status == health_pb.HealthCheckResponse.SERVING for w in watches),
        "32 health Watch streams open")
C.check(check(health_pb.HealthCheckRequest(service=""), timeout=3).status ==
        health_pb.HealthCheckResponse.SERVING, "health Check answers with 96 streams open")
many = charge(pb.ChargeRequest(customer_id="py-many", amount_cents=4242, currency="USD",
                               idempotency_key="py-many-1"), metadata=AUTH, timeout=3)
C.check(many.status == pb.CHARGE_STATUS_SUCCESS, "ChargeCard answers with 96 streams open")
C.check(all(next(s).id == many.transaction_id for s in subs),
        "the charge reaches all 64 subscribers")
threads_open = threads_of(proc.pid)
C.check(threads_open[1] == threads_before[1] and threads_open[0] <= threads_before[0] + 4,
        "no thread per stream", "threads (the program's own) %d (%d) before, %d (%d) with 96 "
        "streams open" % (threads_before + threads_open))
for call in subs + watches:
    call.cancel()

# Graceful shutdown: a Watch sees SERVING, then NOT_SERVING when the server
# is told to stop; an in-flight slow call still completes.
w = watch(health_pb.HealthCheckRequest(service="payments.v1.PaymentService"), timeout=20)
C.check(next(w).status == health_pb.HealthCheckResponse.SERVING, "health Watch SERVING")
slow = charge.future(pb.ChargeRequest(customer_id="py-3", amount_cents=5, currency="USD",
                                      idempotency_key="slow"),
                     metadata=AUTH + [("x-simulate-latency-ms", "1000")], timeout=10)
time.sleep(0.3)
proc.send_signal(signal.SIGTERM)
C.check(next(w).status == health_pb.HealthCheckResponse.NOT_SERVING, "health Watch NOT_SERVING at shutdown")
try:
    C.check(slow.result().status == pb.CHARGE_STATUS_SUCCESS, "in-flight call drained at shutdown")
except grpc.RpcError as e:
    C.check(False, "in-flight call drained at shutdown", str(e.code()))
C.check(proc.wait(timeout=10) == 0, "server exits 0 after SIGTERM")
print(proc.stdout.read(), end="")
ch.close()

# --max-stored bounds memory: the oldest idempotency key and the oldest
# transaction make room for new ones.
proc, port = start_server([server_bin, "--listen", "127.0.0.1:0", "--max-stored", "3"])
ch = grpc.insecure_channel("127.0.0.1:%d" % port)
charge = unary("ChargeCard", pb.ChargeRequest, pb.ChargeResponse)
stream_tx = ch.unary_stream(SVC + "StreamTransactions",
                            request_serializer=pb.TransactionStreamRequest.SerializeToString,
                            response_deserializer=pb.Transaction.FromString)


def ev_charge(key, amount):
    return charge(pb.ChargeRequest(customer_id="py-ev", amount_cents=amount, currency="USD",
                                   idempotency_key=key), timeout=5)


first = [ev_charge("ev-%d" % i, 900000 if i == 2 else 100 + i) for i in range(1, 6)]
C.check([r.transaction_id for r in first] == ["txn_%06d" % i for i in range(1, 6)] and
        first[1].status == pb.CHARGE_STATUS_DECLINED, "max-stored: five charges")
C.check(ev_charge("ev-4", 104).transaction_id == "txn_000004" and
        ev_charge("ev-3", 103).transaction_id == "txn_000003",
        "max-stored: the last 3 keys are remembered")
it = stream_tx(pb.TransactionStreamRequest(customer_id="py-ev"), timeout=1)
got = []
code, _ = code_of(lambda: [got.append(t.amount_cents) for t in it])
C.check(code == grpc.StatusCode.DEADLINE_EXCEEDED and got == [103, 104, 105],
        "max-stored: the last 3 transactions stream", str(got))
C.check(ev_charge("ev-1", 101).transaction_id == "txn_000006",
        "max-stored: an evicted key is forgotten and charged again")
proc.send_signal(signal.SIGTERM)
C.check(proc.wait(timeout=10) == 0, "max-stored server exits 0 after SIGTERM")
ch.close()

# A subscriber that stops reading: the server holds what its send queue and
# HTTP/2's windows take (the client's window kept at 64 KiB: no BDP probing),
# then the subscriber falls behind; once its next transaction has left the
# store (--max-stored 20) the feed ends it RESOURCE_EXHAUSTED, and what it
# got before is every transaction up to there, in order, none missing.
proc, port = start_server([server_bin, "--listen", "127.0.0.1:0", "--max-stored", "20"])
sub_ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=[("grpc.http2.bdp_probe", 0)])
ch = grpc.insecure_channel("127.0.0.1:%d" % port)
charge = unary("ChargeCard", pb.ChargeRequest, pb.ChargeResponse)
slow = sub_ch.unary_stream(SVC + "StreamTransactions",
                           request_serializer=pb.TransactionStreamRequest.SerializeToString,
                           response_deserializer=pb.Transaction.FromString)
it = slow(pb.TransactionStreamRequest(customer_id="py-slow"), timeout=60)
it.initial_metadata()  # subscribed
CHARGES = 8000
for i in range(1, CHARGES + 1):
    charge(pb.ChargeRequest(customer_id="py-slow", amount_cents=i, currency="USD",
                            idempotency_key="slow-%d" % i), timeout=5)
got = []
code, details = code_of(lambda: [got.append(t.amount_cents) for t in it])
C.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "subscriber too slow" in details,
        "a subscriber that stops reading is ended RESOURCE_EXHAUSTED", "%s: %s" % (code, details))
C.check(0 < len(got) < CHARGES and got == list(range(1, len(got) + 1)),
        "the slow subscriber got every transaction up to its end, in order",
        "%d of %d" % (len(got), CHARGES))
proc.send_signal(signal.SIGTERM)
C.check(proc.wait(timeout=10) == 0, "slow-subscriber server exits 0 after SIGTERM")
ch.close()
sub_ch.close()


# Response compression: --compression gzip makes C-core compress the server's
# messages (its compression trace logs "Compressed[gzip] N bytes vs. M
# bytes"); without it nothing is compressed.
def traced_chat(extra_args):
    """Runs a server with C-core's compression trace on, sends one 20 KB chat
    line and returns (answers, server stderr, server exit code)."""
    log = tempfile.NamedTemporaryFile(prefix="cpay-grpc-trace-", suffix=".log", delete=False)
    sproc, sport = start_server([server_bin, "--listen", "127.0.0.1:0"] + extra_args, stderr=log,
                                env={"GRPC_TRACE": "compression", "GRPC_VERBOSITY": "DEBUG"})
    tch = grpc.insecure_channel("127.0.0.1:%d" % sport)
    tchat = tch.stream_stream(SVC + "PaymentChat", request_serializer=pb.PaymentMessage.SerializeToString,
                              response_deserializer=pb.PaymentMessage.FromString)
    try:
        answers = list(tchat(iter([pb.PaymentMessage(text=LINE, sender="py", transaction_id="tz")]),
                             timeout=10))
    except grpc.RpcError as e:
        answers = [e.code()]
    finally:
        tch.close()
        sproc.send_signal(signal.SIGTERM)
        try:
            rc = sproc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sproc.kill()
            rc = sproc.wait(timeout=10)
        sproc.stdout.close()
        log.close()
    with open(log.name, errors="replace") as f:
        text = f.read()
    os.unlink(log.name)
    return answers, text, rc


LINE = "please refund my order, it arrived broken. " * 470  # about 20 KB
want_answer = [("support received: " + LINE, "tz")]
answers, log, rc = traced_chat(["--compression", "gzip"])
m = re.search(r"Compressed\[gzip\] (\d+) bytes vs\. (\d+) bytes", log)
C.check(m is not None and int(m.group(1)) > len(LINE) and int(m.group(2)) < int(m.group(1)) // 10,
        "--compression gzip: C-core compressed the answer", m.group(0) if m else log[-300:])
C.check([(a.text, a.transaction_id) for a in answers if not isinstance(a, grpc.StatusCode)] ==
        want_answer and len(answers) == 1 and rc == 0, "--compression gzip: the client got the answer",
        str(answers)[:80] + " exit %d" % rc)
answers, log, rc = traced_chat([])
C.check("Compressed[" not in log and
        [(a.text, a.transaction_id) for a in answers if not isinstance(a, grpc.StatusCode)] ==
        want_answer and len(answers) == 1 and rc == 0, "no --compression: nothing compressed",
        "%d log lines, exit %d" % (log.count("\n"), rc))

bad = subprocess.run([server_bin, "--max-stored", "0"], capture_output=True, text=True)
C.check(bad.returncode == 2 and "--max-stored must be a number from 1" in bad.stderr,
        "--max-stored 0 is refused", bad.stderr.strip())
sys.exit(C.done())
