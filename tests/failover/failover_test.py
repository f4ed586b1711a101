"""Suite 'failover': payments-client's load mode (--load) over three
payments-server replicas on loopback while replicas are killed and drained.

  failover_test.py SERVER CLIENT SCENARIO

SCENARIO is one of
  kill-drain   round_robin + health checking + retries, unary and streaming
               load; one replica SIGKILLed and another SIGTERMed mid-load: no
               call fails, subscriptions end UNAVAILABLE and are re-established
               without duplicates or misses, no idempotency key is charged
               twice, the client exits within its bound;
  not-serving  a replica that stays up but says NOT_SERVING (SIGUSR1) gets no
               call that started more than 1 s later, and calls again once it
               says SERVING (SIGUSR2);
  pick-first   pick_first with its first address dead from the start, then
               with it killed mid-load: calls go on on another replica.

The replicas run with --replica-id r0..r2 (every call names its replica in
x-served-by) and, with a server built with the PostgreSQL store, share a
throwaway PostgreSQL (tests/replicas/cluster.py). With a server without
them, the assertions that need them print SKIP and the rest still run; none
is faked. Every wait is bounded; every process is stopped by its PID.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "replicas"))
import cluster  # noqa: E402

SERVER, CLIENT, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
logs = []  # the clients' --log files: removed when every check passed


def check(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what), flush=True)
    if not ok:
        failures.append(what)


def skip(what, why):
    print("SKIP %s: %s" % (what, why), flush=True)


def server_usage():
    p = subprocess.run([SERVER, "--no-such-option", "x"], capture_output=True, text=True,
                       timeout=20)
    return p.stdout + p.stderr


SERVED_BY = "--replica-id" in server_usage()


def has_pg_store():
    """Whether SERVER was built with the PostgreSQL store: one without it
    says so for --store postgres: (exit 2) before touching the database."""
    p = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--store",
                        "postgres:host=/nonexistent connect_timeout=2"],
                       capture_output=True, text=True, timeout=30)
    return "no PostgreSQL store" not in p.stdout + p.stderr


SHARED = SERVED_BY and has_pg_store()


class Cluster:
    """Three replicas named r0..r2 (with --replica-id, when the server has
    it), on a shared PostgreSQL when the server has that store."""

    def __init__(self, n=3):
        self.pg = cluster.Postgres() if SHARED else None
        self.replicas = []
        for i in range(n):
            args = ["--replica-id", "r%d" % i] if SERVED_BY else []
            if SHARED:
                args += ["--store", "postgres:" + self.pg.conninfo]
            self.replicas.append(cluster.Replica(SERVER, *args))

    def target(self, replicas=None):
        return "ipv4:" + ",".join(r.address for r in (replicas or self.replicas))

    def index_of(self, name):
        return int(name[1:]) if SERVED_BY and re.fullmatch(r"r\d+", name or "") else None


class Client:
    """payments-client --load, its stdout read line by line as it comes."""

    def __init__(self, target, *args, seconds):
        self.log = tempfile.NamedTemporaryFile(prefix="failover-", suffix=".log", delete=False).name
        logs.append(self.log)
        self.seconds = seconds
        self.cmd = [CLIENT, "--target", target, "--load-seconds", str(seconds),
                    "--log", self.log] + list(args)
        print("run: " + " ".join(self.cmd), flush=True)
        self.started = time.time()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)  # end of output
            self.cv.notify_all()

    def wait_line(self, pred, timeout):
        """The first line satisfying pred, within timeout s, or None."""
        end = time.time() + timeout
        with self.cv:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        return None
                    if pred(line):
                        return line
                seen = len(self.lines)
                left = end - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def wait_progress(self, calls, timeout):
        def enough(line):
            m = re.match(r"progress calls=(\d+)", line)
            return m and int(m.group(1)) >= calls
        return self.wait_line(enough, timeout) is not None

    def subscribed(self):
        """{subscriber: replica name} of the latest subscription of each."""
        with self.cv:
            out = {}
            for line in self.lines:
                m = line and re.match(r"subscribed (\d+) (\d+) (\S+)", line)
                if m:
                    out[int(m.group(1))] = m.group(3)
            return out

    def finish(self, timeout):
        """Waits for exit (killing it after timeout). Returns (rc, seconds,
        counts dict, served-by dict)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            check(False, "client exited within %.0f s (killed)" % timeout)
        took = time.time() - self.started
        self.reader.join(10)
        err = self.proc.stderr.read()
        if err:
            print("client stderr: " + err.strip(), flush=True)
        counts, served = {}, {}
        for line in self.lines:
            if line and line.startswith("load "):
                print(line, flush=True)
                counts = dict(kv.split("=", 1) for kv in line.split()[1:])
            if line and line.startswith("served-by"):
                print(line, flush=True)
                served = {k: int(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
        return rc, took, counts, served

    def calls(self):
        """The log's calls: dicts key, customer, code, by, txn, start, end."""
        out = []
        for line in open(self.log):
            f = line.split()
            if f[0] == "call":
                out.append(dict(key=f[1], customer=f[2], code=f[3], by=f[4], txn=f[5],
                                start=int(f[6]) / 1000, end=int(f[7]) / 1000))
        return out

    def txns(self):
        """The log's transactions: (subscriber, generation, id, what)."""
        out = []
        for line in open(self.log):
            f = line.split()
            if f[0] == "txn":
                out.append((int(f[1]), int(f[2]), f[3], f[5]))
        return out

    def bound(self):
        # Calls stop starting after --load-seconds; each has a 5 s deadline;
        # subscribers get 5 s more to catch up; a little for start and exit.
        return self.seconds + 5 + 5 + 5


def codes(field):
    """"UNAVAILABLE:2,CANCELLED:3" -> dict; "-" -> {}."""
    if not field or field == "-":
        return {}
    return {k: int(v) for k, v in (kv.split(":") for kv in field.split(","))}


def common_unary_checks(c, rc, took, counts):
    check(bool(counts), "the client printed its counts")
    if not counts:
        return False
    check(took <= c.bound(), "client exited in %.1f s (bound %d s)" % (took, c.bound()))
    check(int(counts["calls"]) > 0 and counts["ok"] == counts["calls"] and counts["failed"] == "0",
          "every call OK after retries: %s of %s ok, failed %s (%s)"
          % (counts["ok"], counts["calls"], counts["failed"], counts["failed_by_code"]))
    return True


def no_double_charges(cl, calls):
    """The shared store (docs/payments-store.md) keeps one row per
    idempotency key in payments_charges (the key is its primary key) and one
    payments_transactions row per successful charge. A key charged twice
    would show as a client answered with a transaction that is not its key's
    row, as a transaction row beyond one per key, or as a key missing."""
    if not SHARED:
        skip("no idempotency key charged twice",
             "the server has no --store postgres: (in-memory replicas each keep their own keys)")
        return
    rows = cl.pg.psql("SELECT convert_from(idempotency_key, 'UTF8'), transaction_id, served_by "
                      "FROM payments_charges")
    store = {k: (txn, by) for k, txn, by in rows}
    ok = [x for x in calls if x["code"] == "OK"]
    keys = {x["key"] for x in calls}
    check(len(store) == len(keys) and set(store) == keys,
          "the store holds one charge per key of the run: %d rows, %d keys"
          % (len(store), len(keys)))
    wrong = [x["key"] for x in ok if store.get(x["key"], ("",))[0] != x["txn"]]
    check(not wrong, "every answer is its key's one charge: %d of %d differ%s"
          % (len(wrong), len(ok), (" (first: %s)" % wrong[0]) if wrong else ""))
    txns = int(cl.pg.psql("SELECT count(*) FROM payments_transactions")[0][0])
    check(txns == len(store), "one transaction per charged key: %d transactions, %d keys"
          % (txns, len(store)))
    # Charged by one replica, answered by another: a retry that went through
    # to a second replica and got the first one's charge back.
    moved = [x for x in ok if x["key"] in store and store[x["key"]][1] != x["by"]]
    print("info: %d calls were charged by one replica and answered by another (retried "
          "through)" % len(moved), flush=True)


def scenario_kill_drain():
    cl = Cluster()
    customer = "fo-sub-%d-%d" % (os.getpid(), int(time.time()))
    c = Client(cl.target(), "--lb", "round_robin", "--health-check", "",
               "--load", "4000", "--rate", "400", "--concurrency", "8",
               "--subscribe", customer, "--subscribers", "3", seconds=12)
    check(c.wait_progress(800, 20), "load under way (800 calls) before the failures")
    subs = c.subscribed()
    # Kill the replica of subscriber 0 (so at least one subscription has to
    # be re-established), drain one of the others.
    victim = cl.index_of(subs.get(0)) if subs.get(0) else None
    if victim is None:
        victim = 0
    drained = (victim + 1) % 3
    print("SIGKILL r%d, then SIGTERM r%d; subscriptions on %s" % (victim, drained, subs),
          flush=True)
    t_kill = time.time()
    cl.replicas[victim].signal(signal.SIGKILL)
    check(c.wait_progress(1400, 10), "load goes on after the SIGKILL")
    cl.replicas[drained].signal(signal.SIGTERM)
    rc_drained = cl.replicas[drained].wait(15)
    check(rc_drained == 0, "the drained replica exited 0 within 15 s (%d)" % rc_drained)
    rc, took, counts, served = c.finish(c.bound() + 10)
    if not common_unary_checks(c, rc, took, counts):
        return
    calls = c.calls()
    after = [x for x in calls if x["start"] > t_kill + 0.5]
    check(len(after) > 0, "calls started after the failures: %d" % len(after))
    ends = codes(counts["stream_ends"])
    if SERVED_BY:
        check(len(served) >= 2 and "-" not in served, "calls served by several replicas: %s"
              % served)
    check(int(counts["resubscriptions"]) >= 1 and ends.get("UNAVAILABLE", 0) >= 1,
          "subscriptions ended UNAVAILABLE (%d) and were re-established (%s)"
          % (ends.get("UNAVAILABLE", 0), counts["resubscriptions"]))
    check(counts["duplicates"] == "0", "no transaction came twice on one subscription (%s)"
          % counts["duplicates"])
    txns = c.txns()
    if SHARED:
        check(counts["missed"] == "0", "every subscriber got every transaction charged to %s "
              "(%s charged, %s missed)" % (customer, counts["charged_to_subscribed"],
                                          counts["missed"]))
        # From the log, not the client's own counting: each subscriber
        # handed on every charged transaction exactly once.
        charged = {x["txn"] for x in calls if x["customer"] == customer and x["code"] == "OK"}
        stored = {r[0] for r in cl.pg.psql(
            "SELECT transaction_id FROM payments_transactions WHERE customer_id = '%s'"
            % customer)}
        check(charged == stored, "the charges the client saw are the store's (%d, %d)"
              % (len(charged), len(stored)))
        for s in range(3):
            new = [t[2] for t in txns if t[0] == s and t[3] == "new"]
            check(len(new) == len(set(new)) and set(new) >= charged,
                  "subscriber %d handed on %d transactions once each, all %d charged among them"
                  % (s, len(new), len(charged)))
    else:
        skip("every charged transaction reaches the subscriber",
             "in-memory replicas each stream only their own transactions (and number them "
             "alike); needs the shared store")
    no_double_charges(cl, calls)


def scenario_not_serving():
    if not SERVED_BY:
        skip("not-serving", "calls are attributed to replicas by x-served-by, which this "
             "server does not send (needs --replica-id)")
        return "skip"
    cl = Cluster()
    c = Client(cl.target(), "--lb", "round_robin", "--health-check", "",
               "--load", "3000", "--rate", "300", "--concurrency", "4", seconds=10)
    check(c.wait_progress(600, 20), "load under way (600 calls)")
    t_off = time.time()
    cl.replicas[1].signal(signal.SIGUSR1)  # health NOT_SERVING; it serves on
    time.sleep(3.0)
    t_on = time.time()
    cl.replicas[1].signal(signal.SIGUSR2)  # SERVING again
    rc, took, counts, served = c.finish(c.bound() + 10)
    if not common_unary_checks(c, rc, took, counts):
        return
    check(cl.replicas[1].alive(), "r1 stayed up while NOT_SERVING")
    calls = c.calls()
    before = [x for x in calls if x["end"] < t_off and x["by"] == "r1"]
    late = [x for x in calls if t_off + 1.0 < x["start"] < t_on and x["by"] == "r1"]
    during = [x for x in calls if t_off + 1.0 < x["start"] < t_on]
    back = [x for x in calls if x["start"] > t_on + 1.0 and x["by"] == "r1"]
    check(len(before) > 0, "r1 served calls before it went NOT_SERVING: %d" % len(before))
    check(len(during) > 0, "calls started from 1 s after NOT_SERVING until SERVING: %d"
          % len(during))
    check(not late, "r1 got none of them, though up: %d" % len(late))
    check(len(back) > 0, "r1 served calls again from 1 s after SERVING: %d" % len(back))
    no_double_charges(cl, calls)


def scenario_pick_first():
    cl = Cluster()
    # The first address dead from the start: calls go to the next one.
    dead = cl.replicas[0]
    dead.signal(signal.SIGKILL)
    dead.wait(10)
    c = Client(cl.target(), "--lb", "pick_first", "--load", "300", "--rate", "300",
               "--concurrency", "2", seconds=5)
    rc, took, counts, served = c.finish(c.bound() + 10)
    if common_unary_checks(c, rc, took, counts):
        if SERVED_BY:
            check("r0" not in served and len(served) == 1,
                  "first address dead: one other replica took every call: %s" % served)
        else:
            skip("which replica took the calls", "no x-served-by without --replica-id")

    # The first address killed mid-load: calls move on to another.
    cl2 = Cluster()
    c = Client(cl2.target(), "--lb", "pick_first", "--load", "2000", "--rate", "250",
               "--concurrency", "4", seconds=8)
    check(c.wait_progress(400, 20), "load under way (400 calls)")
    t_kill = time.time()
    cl2.replicas[0].signal(signal.SIGKILL)
    rc, took, counts, served = c.finish(c.bound() + 10)
    if not common_unary_checks(c, rc, took, counts):
        return
    calls = c.calls()
    after = [x for x in calls if x["start"] > t_kill + 0.5]
    check(len(after) > 0 and all(x["code"] == "OK" for x in after),
          "calls after the kill all OK: %d" % len(after))
    if SERVED_BY:
        first = {x["by"] for x in calls if x["end"] < t_kill}
        then = {x["by"] for x in after}
        check(first == {"r0"}, "pick_first used the first address until it died: %s" % first)
        check(len(then) == 1 and "r0" not in then, "then one other replica: %s" % then)
    else:
        skip("which replica took the calls", "no x-served-by without --replica-id")
    no_double_charges(cl2, calls)


def main():
    print("x-served-by (--replica-id): %s; shared store (--store postgres:): %s"
          % ("yes" if SERVED_BY else "no", "yes" if SHARED else "no (built without libpq)"),
          flush=True)
    try:
        outcome = {"kill-drain": scenario_kill_drain, "not-serving": scenario_not_serving,
                   "pick-first": scenario_pick_first}[SCENARIO]()
    finally:
        cluster.stop_all()
    if outcome == "skip":
        return 77  # meson: skipped
    if failures:
        print("%d check(s) failed; the client logs are kept: %s" % (len(failures), " ".join(logs)))
        return 1
    for log in logs:
        os.unlink(log)
    print("all checks ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
