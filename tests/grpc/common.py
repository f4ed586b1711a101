"""Shared helpers of the gRPC interop tests: Python modules for the schemas
(generated with protoc --python_out into a temporary directory), rich error
details (google.rpc.Status in the grpc-status-details-bin trailer, read and
written the way grpc_status.rpc_status does, which Debian does not package),
starting a server process and reading its port, and a tiny check recorder."""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

import grpc

GRPC_PROTO = "/usr/share/grpc-proto"
DETAILS_KEY = "grpc-status-details-bin"
status_pb2 = None   # google.rpc.Status, set by load_protos


def load_protos(protoc, proto_dir, rpc_proto_dir, wkt_dir):
    """Returns (payments_pb2, health_pb2, reflection_v1_pb2, reflection_v1alpha_pb2,
    status_pb2, error_details_pb2). rpc_proto_dir holds google/rpc/*.proto and
    wkt_dir google/protobuf/*.proto (their Python modules come with protobuf)."""
    global status_pb2
    out = tempfile.mkdtemp(prefix="cpay-grpc-py-")
    # payments.proto imports google/api/annotations.proto (shipped beside it
    # in proto/): payments_pb2 imports its module and that of http.proto.
    subprocess.run([protoc, "--python_out=" + out, "-I" + proto_dir, "payments.proto",
                    "google/api/annotations.proto", "google/api/http.proto"], check=True)
    subprocess.run([protoc, "--python_out=" + out, "-I" + rpc_proto_dir, "-I" + wkt_dir,
                    "google/rpc/status.proto", "google/rpc/error_details.proto"], check=True)
    subprocess.run([protoc, "--python_out=" + out, "-I" + GRPC_PROTO,
                    "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto",
                    "grpc/reflection/v1alpha/reflection.proto"], check=True)
    for d in ["grpc", "grpc/health", "grpc/health/v1", "grpc/reflection",
              "grpc/reflection/v1", "grpc/reflection/v1alpha"]:
        open(os.path.join(out, d, "__init__.py"), "a").close()
    # The generated package is named grpc too: load it under another name so
    # it does not shadow grpcio.
    os.rename(os.path.join(out, "grpc"), os.path.join(out, "grpcpb"))
    for root, _, files in os.walk(os.path.join(out, "grpcpb")):
        for f in files:
            if f.endswith("_pb2.py"):
                p = os.path.join(root, f)
                s = open(p).read().replace("from grpc.", "from grpcpb.")
                open(p, "w").write(s)
    sys.path.insert(0, out)
    import payments_pb2
    from grpcpb.health.v1 import health_pb2
    from grpcpb.reflection.v1 import reflection_pb2 as r1
    from grpcpb.reflection.v1alpha import reflection_pb2 as r1a
    # google is a namespace package (python3-protobuf has no
    # google/__init__.py), so out/google/rpc (and out/google/api, which
    # payments_pb2 imported above) joins it.
    from google.rpc import status_pb2 as st, error_details_pb2 as ed
    status_pb2 = st
    # Imported: the generated files are no longer needed.
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)
    return payments_pb2, health_pb2, r1, r1a, st, ed


def status_from_call(call):
    """The google.rpc.Status of a finished call (a grpc.Call, or the
    grpc.RpcError of a failed one) from its grpc-status-details-bin trailer, or
    None when there is none. Raises ValueError when the trailer appears more
    than once or its code or message differ from the call's status."""
    values = [v for k, v in (call.trailing_metadata() or ()) if k == DETAILS_KEY]
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("%d %s trailers" % (len(values), DETAILS_KEY))
    status = status_pb2.Status.FromString(values[0])
    if status.code != call.code().value[0]:
        raise ValueError("%s code %d differs from the call's %s (%d)" %
                         (DETAILS_KEY, status.code, call.code(), call.code().value[0]))
    if status.message != (call.details() or ""):
        raise ValueError("%s message %r differs from the call's details %r" %
                         (DETAILS_KEY, status.message, call.details()))
    return status


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")),
              grpc.Status):
    pass


def abort_with_details(ctx, code, message, details_msgs):
    """Ends a server call with `code` (a grpc.StatusCode) and `message`, plus a
    grpc-status-details-bin trailer: a google.rpc.Status with the same code
    and message whose details are `details_msgs` packed into Any. Trailing
    metadata already set on ctx is kept. Raises, like ctx.abort."""
    status = status_pb2.Status(code=code.value[0], message=message)
    for m in details_msgs:
        status.details.add().Pack(m)
    kept = tuple(kv for kv in (ctx.trailing_metadata() or ()) if kv[0] != DETAILS_KEY)
    ctx.abort_with_status(_Status(code, message, kept + ((DETAILS_KEY, status.SerializeToString()),)))


def start_server(argv, stderr=subprocess.STDOUT, env=None):
    """Starts a server that prints 'listening on ... (port N' and returns (proc,
    port). Its stderr goes with its stdout unless `stderr` (a file) is given;
    `env` adds to the environment."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env=dict(os.environ, **env) if env else None)
    line = proc.stdout.readline()
    m = re.search(r"port (\d+)", line)
    if not m:
        rest = proc.stdout.read() if proc.poll() is not None else ""
        proc.kill()
        raise SystemExit("server did not start: %r %s" % (line, rest))
    return proc, int(m.group(1))


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, name, detail=""):
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        if not ok:
            self.failed += 1

    def done(self):
        print("%d failed" % self.failed)
        return 1 if self.failed else 0
