"""A Python grpcio client against cpay's payments-server: every call mode,
errors, deadlines, metadata, cancellation, health, reflection, bad input on
the wire, auth, graceful shutdown with health NOT_SERVING, and the bounded
store (--max-stored).

usage: py_client.py PROTOC PROTO_DIR PAYMENTS_SERVER"""
import signal
import subprocess
import sys
import threading
import time

import grpc

from common import Checks, load_protos, start_server

protoc, proto_dir, server_bin = sys.argv[1:4]
pb, health_pb, r1, r1a = load_protos(protoc, proto_dir)
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

# Graceful shutdown: a Watch sees SERVING, then NOT_SERVING when the server
# is told to stop; an in-flight slow call still completes.
watch = ch.unary_stream("/grpc.health.v1.Health/Watch",
                        request_serializer=health_pb.HealthCheckRequest.SerializeToString,
                        response_deserializer=health_pb.HealthCheckResponse.FromString)
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
bad = subprocess.run([server_bin, "--max-stored", "0"], capture_output=True, text=True)
C.check(bad.returncode == 2 and "--max-stored must be a number from 1" in bad.stderr,
        "--max-stored 0 is refused", bad.stderr.strip())
sys.exit(C.done())
