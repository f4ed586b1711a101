"""Shared helpers of the gRPC interop tests: Python modules for the schemas
(generated with protoc --python_out into a temporary directory), starting a
server process and reading its port, and a tiny check recorder."""
import os
import re
import subprocess
import sys
import tempfile

GRPC_PROTO = "/usr/share/grpc-proto"


def load_protos(protoc, proto_dir):
    """Returns (payments_pb2, health_pb2, reflection_v1_pb2, reflection_v1alpha_pb2)."""
    out = tempfile.mkdtemp(prefix="cpay-grpc-py-")
    subprocess.run([protoc, "--python_out=" + out, "-I" + proto_dir, "payments.proto"], check=True)
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
    return payments_pb2, health_pb2, r1, r1a


def start_server(argv):
    """Starts a server that prints 'listening on ... (port N' and returns (proc, port)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
