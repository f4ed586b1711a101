"""Processes of the replica tests: a PostgreSQL of their own (initdb in a
temporary directory, listening on a Unix socket only) and payments-server
replicas on free loopback ports. Every process is started here and stopped
by its PID (stop(), or stop_all() at exit and on SIGINT/SIGTERM)."""
import atexit
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
_started = []   # objects with stop(), stopped in reverse order by stop_all


def stop_all():
    while _started:
        _started.pop().stop()


def _on_signal(sig, frame):
    stop_all()
    sys.exit(128 + sig)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def pg_bin(name):
    """The PostgreSQL program `name` (Debian keeps them off PATH), or None."""
    for d in [PG_BIN] + sorted(
            (os.path.join("/usr/lib/postgresql", v, "bin")
             for v in (os.listdir("/usr/lib/postgresql")
                       if os.path.isdir("/usr/lib/postgresql") else [])),
            reverse=True):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def _as_db_user():
    """Argument prefix that runs a PostgreSQL program: as root (CI), as the
    unprivileged `postgres` user (or nobody), since initdb and postgres refuse
    root; otherwise as ourselves. Also the uid/gid to own its files, or None."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return (["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                 "--clear-groups", "--"], (pw.pw_uid, pw.pw_gid))
    raise RuntimeError("running as root and there is no postgres or nobody user")


class Postgres:
    """A throwaway cluster in a temporary directory: trust authentication,
    no TCP (a Unix socket in that directory), database `payments`.
    conninfo is what payments-server --store takes after "postgres:"."""

    def __init__(self, timeout=30.0):
        initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
        if not initdb or not postgres:
            raise RuntimeError("PostgreSQL is not installed (postgresql package)")
        self.dir = tempfile.mkdtemp(prefix="cpay-pg-")
        self._run_as, owner = _as_db_user()
        if owner:
            os.chown(self.dir, *owner)
        self.data = os.path.join(self.dir, "data")
        self.proc = None
        self.port = 5432  # names the socket file only: no TCP listener
        env = dict(os.environ, LC_ALL="C")
        subprocess.run(self._run_as + [initdb, "-D", self.data, "-U", "payments", "--auth=trust",
                        "--no-sync", "-E", "UTF8"], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._postgres = postgres
        self.start(timeout)
        subprocess.run([pg_bin("createdb"), "-h", self.dir, "-p", str(self.port),
                        "-U", "payments", "payments"], check=True)
        self.conninfo = "host=%s port=%d dbname=payments user=payments" % (self.dir, self.port)
        _started.append(self)

    def start(self, timeout=30.0):
        """Starts (or restarts) the server on the same data directory."""
        log = open(os.path.join(self.dir, "postgres.log"), "ab")  # ours, written by our fd
        self.proc = subprocess.Popen(
            self._run_as + [self._postgres, "-D", self.data, "-k", self.dir, "-p", str(self.port),
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=log)
        sock = os.path.join(self.dir, ".s.PGSQL.%d" % self.port)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + self.log_tail())
            if os.path.exists(sock) and subprocess.run(
                    [pg_bin("pg_isready"), "-q", "-h", self.dir, "-p", str(self.port)]
                    ).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start in %.0f s: %s" % (timeout, self.log_tail()))

    def log_tail(self):
        try:
            return open(os.path.join(self.dir, "postgres.log")).read()[-2000:]
        except OSError:
            return ""

    def psql(self, sql):
        """Runs `sql`; returns its rows as lists of strings."""
        out = subprocess.run([pg_bin("psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", self.conninfo, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def kill(self, sig=signal.SIGINT, timeout=20.0):
        """Stops the server process (SIGINT: fast shutdown; SIGKILL: crash)
        and waits for it; the data directory stays for start()."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Replica:
    """payments-server on a free loopback port (and an HTTP one with
    http=True). args are extra command-line arguments."""

    def __init__(self, server, *args, http=False, timeout=20.0):
        cmd = [server, "--listen", "127.0.0.1:0"] + (["--http", "127.0.0.1:0"] if http else [])
        self.cmd = cmd + list(args)
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=self.out, stderr=subprocess.STDOUT)
        _started.append(self)
        self.port = self.http_port = None
        end = time.time() + timeout
        while time.time() < end:
            text = self.output()
            m = re.search(r"listening on \S+ \(port (\d+)", text)
            h = re.search(r"http on \S+ \(port (\d+)\)", text)
            if m and (h or not http):
                self.port = int(m.group(1))
                self.http_port = int(h.group(1)) if h else None
                return
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %d: %s" % (cmd[0], self.proc.returncode, text))
            time.sleep(0.05)
        raise RuntimeError("%s did not start in %.0f s: %s" % (cmd[0], timeout, self.output()))

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def output(self):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout=20.0):
        """Waits for the process to exit; kills it after `timeout`. Returns
        its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self, timeout=20.0):
        self.signal(signal.SIGTERM)
        return self.wait(timeout)
