"""A Python grpcio server of proto/payments.proto (plus grpc.health.v1 Check
and grpc.reflection.v1 list_services), written with generic handlers, and
cpay's payments-client run against it: the same checks as py_client.py from
the other side. The server requires the token the client is given. An
invalid ChargeCard fails INVALID_ARGUMENT with a google.rpc.BadRequest detail
naming the field, written by grpcio and read by cpay.

usage: py_server.py PROTOC PROTO_DIR PAYMENTS_CLIENT RPC_PROTO_DIR WKT_PROTO_DIR"""
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc

from common import abort_with_details, load_protos

protoc, proto_dir, client_bin, rpc_proto_dir, wkt_dir = sys.argv[1:6]
pb, health_pb, r1, _, _, details_pb = load_protos(protoc, proto_dir, rpc_proto_dir, wkt_dir)
TOKEN = "py-token"
lock = threading.Condition()
charges = {}   # idempotency key -> ChargeResponse
txns = []      # Transaction, in order
seen_request_ids = []


def echo(ctx):
    md = dict(ctx.invocation_metadata())
    if "x-request-id" in md:
        seen_request_ids.append(md["x-request-id"])
        ctx.send_initial_metadata([("x-request-id", md["x-request-id"])])
        ctx.set_trailing_metadata([("x-request-id", md["x-request-id"])])


def invalid(req):
    """(field, why) of the first invalid field of `req`, or None."""
    if not req.customer_id:
        return "customer_id", "customer_id is required"
    if req.amount_cents <= 0:
        return "amount_cents", "amount_cents must be positive"
    if len(req.currency) != 3 or not req.currency.isupper():
        return "currency", "currency must be an ISO 4217 code"
    if not req.idempotency_key:
        return "idempotency_key", "idempotency_key is required"
    return None


def charge_once(req):
    with lock:
        if req.idempotency_key in charges:
            return charges[req.idempotency_key]
        n = len(charges) + 1
        declined = req.amount_cents > 500000
        resp = pb.ChargeResponse(transaction_id="pytxn_%06d" % n,
                                 status=pb.CHARGE_STATUS_DECLINED if declined else pb.CHARGE_STATUS_SUCCESS,
                                 processor_reference="py_%06d" % n, processed_at_unix=int(time.time()))
        charges[req.idempotency_key] = resp
        if not declined:
            txns.append(pb.Transaction(id=resp.transaction_id, customer_id=req.customer_id,
                                       amount_cents=req.amount_cents, currency=req.currency,
                                       created_at_unix=resp.processed_at_unix))
            lock.notify_all()
        return resp


def charge_card(req, ctx):
    echo(ctx)
    md = dict(ctx.invocation_metadata())
    if "x-simulate-latency-ms" in md:
        end = time.time() + int(md["x-simulate-latency-ms"]) / 1000.0
        while time.time() < end and ctx.is_active():
            time.sleep(0.01)
    bad = invalid(req)
    if bad:
        field, why = bad
        detail = details_pb.BadRequest()
        detail.field_violations.add(field=field, description=why)
        abort_with_details(ctx, grpc.StatusCode.INVALID_ARGUMENT, why, [detail])
    return charge_once(req)


def stream_transactions(req, ctx):
    echo(ctx)
    i = 0
    while ctx.is_active():
        with lock:
            if i == len(txns):
                lock.wait(0.1)
            batch = txns[i:]
            i = len(txns)
        for t in batch:
            if t.customer_id == req.customer_id and t.created_at_unix >= req.since_unix:
                yield t


def batch_charge(it, ctx):
    echo(ctx)
    out = pb.BatchChargeResponse()
    for req in it:
        out.total += 1
        if invalid(req) is None and charge_once(req).status == pb.CHARGE_STATUS_SUCCESS:
            out.succeeded += 1
        else:
            out.failed += 1
            out.failed_idempotency_keys.append(req.idempotency_key or "(no key)")
    return out


def payment_chat(it, ctx):
    echo(ctx)
    for m in it:
        r = pb.PaymentMessage(text="support received: " + m.text, sender="support",
                              sent_at_unix=int(time.time()))
        if m.HasField("transaction_id"):
            r.transaction_id = m.transaction_id
        yield r


def health_check(req, ctx):
    if req.service in ("", "payments.v1.PaymentService"):
        return health_pb.HealthCheckResponse(status=health_pb.HealthCheckResponse.SERVING)
    ctx.abort(grpc.StatusCode.NOT_FOUND, "unknown service")


def reflection(it, ctx):
    for req in it:
        resp = r1.ServerReflectionResponse(original_request=req)
        if req.HasField("list_services"):
            for n in ["payments.v1.PaymentService", "grpc.health.v1.Health",
                      "grpc.reflection.v1.ServerReflection"]:
                resp.list_services_response.service.add(name=n)
        else:
            resp.error_response.error_code = grpc.StatusCode.UNIMPLEMENTED.value[0]
        yield resp


class Auth(grpc.ServerInterceptor):
    def intercept_service(self, cont, details):
        if details.method.startswith("/payments.v1.") and \
                ("authorization", "Bearer " + TOKEN) not in details.invocation_metadata:
            def deny(req, ctx):
                ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or bad token")
            h = cont(details)
            if h is None:
                return None
            if h.unary_unary:
                return grpc.unary_unary_rpc_method_handler(deny)
            if h.unary_stream:
                return grpc.unary_stream_rpc_method_handler(deny)
            if h.stream_unary:
                return grpc.stream_unary_rpc_method_handler(deny)
            return grpc.stream_stream_rpc_method_handler(deny)
        return cont(details)


def h(kind, fn, req_cls, resp_cls):
    return kind(fn, request_deserializer=req_cls.FromString, response_serializer=resp_cls.SerializeToString)


server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), interceptors=[Auth()])
server.add_generic_rpc_handlers([
    grpc.method_handlers_generic_handler("payments.v1.PaymentService", {
        "ChargeCard": h(grpc.unary_unary_rpc_method_handler, charge_card, pb.ChargeRequest, pb.ChargeResponse),
        "StreamTransactions": h(grpc.unary_stream_rpc_method_handler, stream_transactions,
                                pb.TransactionStreamRequest, pb.Transaction),
        "BatchCharge": h(grpc.stream_unary_rpc_method_handler, batch_charge, pb.ChargeRequest,
                         pb.BatchChargeResponse),
        "PaymentChat": h(grpc.stream_stream_rpc_method_handler, payment_chat, pb.PaymentMessage,
                         pb.PaymentMessage),
    }),
    grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": h(grpc.unary_unary_rpc_method_handler, health_check, health_pb.HealthCheckRequest,
                   health_pb.HealthCheckResponse),
    }),
    grpc.method_handlers_generic_handler("grpc.reflection.v1.ServerReflection", {
        "ServerReflectionInfo": h(grpc.stream_stream_rpc_method_handler, reflection,
                                  r1.ServerReflectionRequest, r1.ServerReflectionResponse),
    }),
])
port = server.add_insecure_port("127.0.0.1:0")
server.start()

failed = 0
def run(args, want_rc, name):
    global failed
    p = subprocess.run([client_bin, "--target", "127.0.0.1:%d" % port] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    print(p.stdout, end="")
    ok = p.returncode == want_rc
    print("%s %s (exit %d)" % ("ok  " if ok else "FAIL", name, p.returncode), flush=True)
    if not ok:
        failed += 1
    return p.stdout

out = run(["--token", TOKEN], 0, "payments-client against the Python server")
# The client read grpcio's google.rpc.BadRequest detail with cpay_get_BadRequest.
line = next((ln for ln in out.splitlines() if "ChargeCard invalid amount" in ln), "")
ok = line.startswith("ok") and "BadRequest: amount_cents: amount_cents must be positive" in line
print("%s client read the BadRequest detail written by grpcio: %s" % ("ok  " if ok else "FAIL",
                                                                        line.strip()))
failed += 0 if ok else 1
ok = len(seen_request_ids) >= 8 and len(set(seen_request_ids)) >= 7
print("%s client interceptor sent x-request-id on every call (%d seen)" % ("ok  " if ok else "FAIL",
                                                                          len(seen_request_ids)))
failed += 0 if ok else 1
out = run(["--token", "wrong", "--skip-extras"], 1, "a wrong token fails the client's checks")
ok = "UNAUTHENTICATED" in out
print("%s UNAUTHENTICATED reported by the client" % ("ok  " if ok else "FAIL"))
failed += 0 if ok else 1
server.stop(1).wait()
print("%d failed" % failed)
sys.exit(1 if failed else 0)
