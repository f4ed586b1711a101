#!/usr/bin/python3
# The pgstore suite: payments-server --store postgres as three replicas on
# one throwaway PostgreSQL (tests/replicas/cluster.py), from python3-grpcio.
#
#   pgstore_test.py PROTOC PROTO_DIR SERVER RPC_PROTO_DIR WKT_DIR [CASE...]
#
# SERVER is payments-server built with the PostgreSQL store ("-" when libpq
# was not found: the test is skipped). Cases (all by default):
#   startup  three replicas starting at once on a fresh database (the schema
#            created once), and the exits for an unreachable database, a bad
#            conninfo and an unknown --store
#   race     one idempotency key sent at once through all three replicas,
#            for many keys: one charge per key, identical answers, no double
#            charge in the database; x-served-by names the replica
#   feed     a charge on replica A reaches subscribers on B and C, in order,
#            once each
#   history  28 subscriptions with since_unix while charges run 24 at a time on all
#            replicas, and while the replicas' feed connections are cut:
#            history then live, no gap, no duplicate
#   outage   PostgreSQL stopped mid-load (fast shutdown, then a crash):
#            UNAVAILABLE within the timeouts, never INTERNAL, then OK again
#            after start(); every acknowledged charge is in the database,
#            retried keys are charged once, open subscriptions resume
#   limits   on a replica with --max-stored 20: a subscriber that stops
#            reading ends RESOURCE_EXHAUSTED, a longer history is refused,
#            SIGTERM ends an open subscription UNAVAILABLE
#   stall    a lock held past statement_timeout: charges end UNAVAILABLE
#            after about 5 s (no hang), then retries charge each key once
# Every load loop is bounded in count and in time; every process is stopped
# by its PID (cluster.stop_all). Prints "ok"/"FAIL" per check; exits 1 on a
# failure, 77 when PostgreSQL, libpq or grpcio is missing.
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))
sys.path.insert(0, os.path.join(HERE, "..", "replicas"))

PROTOC, PROTO_DIR, SERVER, RPC_DIR, WKT_DIR = sys.argv[1:6]
CASES = sys.argv[6:] or ["startup", "race", "feed", "history", "outage", "stall", "limits",
                         "signals"]


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


if SERVER == "-":
    skip("payments-server was built without libpq (libpq-dev), so it has no PostgreSQL store")
try:
    import grpc
except ImportError:
    skip("python3-grpcio is not installed")
import cluster  # noqa: E402
from common import Checks, load_protos  # noqa: E402

if not cluster.pg_bin("initdb") or not cluster.pg_bin("postgres"):
    skip("PostgreSQL is not installed (package postgresql)")

pb = load_protos(PROTOC, PROTO_DIR, RPC_DIR, WKT_DIR)[0]
SVC = "/payments.v1.PaymentService/"
checks = Checks()
check = checks.check


class Client:
    """Stubs for one replica."""

    def __init__(self, replica, name):
        self.replica, self.name = replica, name
        self.ch = grpc.insecure_channel(replica.address)
        self.charge = self.ch.unary_unary(
            SVC + "ChargeCard", request_serializer=pb.ChargeRequest.SerializeToString,
            response_deserializer=pb.ChargeResponse.FromString)
        self.stream = self.ch.unary_stream(
            SVC + "StreamTransactions",
            request_serializer=pb.TransactionStreamRequest.SerializeToString,
            response_deserializer=pb.Transaction.FromString)

    def close(self):
        self.ch.close()


def start_replicas(pg, n=3, *extra):
    reps = [cluster.Replica(SERVER, "--store", "postgres:" + pg.conninfo,
                            "--replica-id", "r%d" % i, "--workers", "8", *extra)
            for i in range(n)]
    return reps, [Client(r, "r%d" % i) for i, r in enumerate(reps)]


def stop_replicas(reps, clients):
    for c in clients:
        c.close()
    for r in reps:
        r.stop()


def req(customer, key, amount=1000):
    return pb.ChargeRequest(customer_id=customer, amount_cents=amount, currency="USD",
                            idempotency_key=key)


def resp_tuple(r):
    return (r.transaction_id, r.status, r.processor_reference, r.processed_at_unix)


class Subscriber(threading.Thread):
    """Reads a StreamTransactions call until it has `want` transactions, it
    ends, or `timeout` passes; keeps the ids in order and the final code."""

    def __init__(self, client, customer, since=0, want=None, timeout=60.0):
        super().__init__(daemon=True)
        self.ids, self.code, self.details = [], None, ""
        self.want = want
        self.call = client.stream(pb.TransactionStreamRequest(customer_id=customer,
                                                              since_unix=since),
                                  timeout=timeout)
        self.first = threading.Event()
        self.start()

    def run(self):
        try:
            for t in self.call:
                self.ids.append(t.id)
                if self.want is not None and len(self.ids) >= self.want:
                    self.call.cancel()
                    break
            self.code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            self.code, self.details = e.code(), e.details()

    def wait_for(self, n, timeout):
        end = time.time() + timeout
        while time.time() < end and len(self.ids) < n and self.is_alive():
            time.sleep(0.05)
        return len(self.ids) >= n


def feed_order(pg, customer):
    """The customer's transaction ids in feed (commit) order, from the DB."""
    return [r[0] for r in pg.psql(
        "SELECT transaction_id FROM payments_transactions WHERE customer_id = '%s' "
        "ORDER BY feed_pos" % customer)]


def dups(ids):
    return len(ids) - len(set(ids))


# ---- race: one key through all three replicas at once -------------------------------

def case_race(pg):
    reps, clients = start_replicas(pg)
    keys = ["race-%03d" % i for i in range(200)]
    # Every fifth key is above the decline limit: recorded, not a transaction.
    amount = {k: (600000 if i % 5 == 4 else 1000 + i) for i, k in enumerate(keys)}
    answers = {k: [] for k in keys}
    served = {}
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients))

    def shoot(client):
        barrier.wait(10)
        # Chunks of 20 calls in flight per replica, the three replicas
        # walking the keys in the same order at the same time.
        for i in range(0, len(keys), 20):
            futs = [(k, client.charge.future(req("race", k, amount[k]), timeout=20))
                    for k in keys[i:i + 20]]
            for k, f in futs:
                try:
                    r = f.result()
                    md = dict(f.initial_metadata())
                    with lock:
                        answers[k].append(resp_tuple(r))
                        served.setdefault(client.name, set()).add(
                            md.get("x-served-by"))
                except grpc.RpcError as e:
                    with lock:
                        errors.append((k, e.code(), e.details()))

    threads = [threading.Thread(target=shoot, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not errors, "race: every call answered OK", str(errors[:3]))
    check(all(len(a) == 3 for a in answers.values()), "race: three answers per key")
    differing = [k for k, a in answers.items() if len(set(a)) != 1]
    check(not differing, "race: the three answers for a key are identical",
          "%d keys differ, e.g. %s" % (len(differing), differing[:2] and answers[differing[0]]))
    check(served == {"r0": {"r0"}, "r1": {"r1"}, "r2": {"r2"}},
          "race: x-served-by names the replica that answered", str(served))
    rows = pg.psql("SELECT count(*), count(DISTINCT idempotency_key), count(DISTINCT transaction_id)"
                   " FROM payments_charges WHERE customer_id = 'race'")[0]
    check(rows == ["200", "200", "200"], "race: one charge row per key in the database", str(rows))
    double = pg.psql("SELECT count(*) FROM (SELECT c.idempotency_key FROM payments_charges c "
                     "JOIN payments_transactions t USING (transaction_id) "
                     "WHERE c.customer_id = 'race' GROUP BY 1 HAVING count(*) > 1) d")[0][0]
    txns = pg.psql("SELECT count(*) FROM payments_transactions WHERE customer_id = 'race'")[0][0]
    print("race: 200 keys x 3 replicas: %s transaction rows, %s double charges" % (txns, double))
    check(double == "0" and txns == "160", "race: 160 transactions (40 declined), 0 double charges")
    db = {r[0]: (r[1], int(r[2]), r[3], int(r[4])) for r in pg.psql(
        "SELECT convert_from(idempotency_key, 'UTF8'), transaction_id, status, "
        "processor_reference, processed_at FROM payments_charges WHERE customer_id = 'race'")}
    check(all(answers[k] and answers[k][0] == db.get(k) for k in keys),
          "race: the answers are the stored rows")
    winners = pg.psql("SELECT served_by, count(*) FROM payments_charges "
                      "WHERE customer_id = 'race' GROUP BY 1 ORDER BY 1")
    print("race: charges won per replica: %s" % winners)
    # A later retry of a key, through another replica, gets the same answer.
    again = clients[2].charge(req("race", keys[0], amount[keys[0]]), timeout=10)
    check(resp_tuple(again) == db[keys[0]], "race: a later retry returns the stored answer")
    # BatchCharge goes through the same store: known keys are not charged again.
    batch = clients[1].ch.stream_unary(
        SVC + "BatchCharge", request_serializer=pb.ChargeRequest.SerializeToString,
        response_deserializer=pb.BatchChargeResponse.FromString)
    batch_keys = keys[:3] + ["race-batch-1", "race-batch-2"]
    out = batch(iter([req("race", k, amount.get(k, 500)) for k in batch_keys]), timeout=20)
    rows = pg.psql("SELECT count(*) FROM payments_charges WHERE customer_id = 'race'")[0][0]
    check((out.total, out.succeeded, rows) == (5, 5, "202"),
          "race: BatchCharge charges only its two new keys", "%s %s" % (out, rows))
    stop_replicas(reps, clients)


# ---- feed: a charge on A reaches subscribers on B and C ----------------------------

def case_feed(pg):
    reps, clients = start_replicas(pg)
    a, b, c = clients
    subs = [Subscriber(b, "feed-1", want=30, timeout=60),
            Subscriber(c, "feed-1", want=30, timeout=60)]
    time.sleep(1.0)  # both subscribed (their history is fetched first)
    made = []
    for i in range(30):
        r = clients[i % 3 if i >= 10 else 0].charge(req("feed-1", "feed-1-%d" % i), timeout=10)
        made.append(r.transaction_id)
    for s in subs:
        s.wait_for(30, 20)
    for name, s in zip("BC", subs):
        check(s.ids == made, "feed: subscriber on replica %s got the 30 charges in order, once" % name,
              "got %d, dup %d, code %s %s" % (len(s.ids), dups(s.ids), s.code, s.details))
    check(feed_order(pg, "feed-1") == made, "feed: the database's feed order is the charge order")
    stop_replicas(reps, clients)


# ---- history: since_unix while charges run, and the feed connections cut -----------

def case_history(pg):
    reps, clients = start_replicas(pg)
    total, per_thread, in_flight = 600, 200, 8
    done = [0]
    errors = []
    lock = threading.Lock()

    def load(t):
        # Bounded: per_thread charges, 90 s at most; in_flight at a time, so
        # commits land while the replicas read subscriptions' history.
        end = time.time() + 90
        for i in range(0, per_thread, in_flight):
            if time.time() > end:
                break
            futs = [clients[(t + j) % 3].charge.future(req("hist", "hist-%d-%d" % (t, j)),
                                                        timeout=15)
                    for j in range(i, min(i + in_flight, per_thread))]
            for f in futs:
                try:
                    f.result()
                    with lock:
                        done[0] += 1
                except grpc.RpcError as e:
                    with lock:
                        errors.append((e.code(), e.details()))

    threads = [threading.Thread(target=load, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    subs = []
    cut = False
    end = time.time() + 90
    # Subscribe on the three replicas every 20 charges of the load
    # (since_unix 0: everything of the customer), and cut the feed
    # connections once.
    for mark in range(0, total - 40, 20):
        while done[0] < mark and time.time() < end:
            time.sleep(0.002)
        subs.append(Subscriber(clients[len(subs) % 3], "hist", since=0, want=total, timeout=120))
        if mark >= 300 and not cut:
            killed = pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE application_name = 'payments-server feed'")[0][0]
            cut = True
            print("history: cut %s feed connections at %d charges" % (killed, done[0]))
    for t in threads:
        t.join(120)
    check(not errors and done[0] == total, "history: all %d charges OK" % total,
          "%d OK, errors %s" % (done[0], errors[:3]))
    # A subscription after the load gets the same, from history only.
    subs.append(Subscriber(clients[1], "hist", since=0, want=total, timeout=60))
    order = feed_order(pg, "hist")
    for s in subs:
        s.wait_for(total, 60)
    for i, s in enumerate(subs):
        check(s.ids == order, "history: subscriber %d got history then live, no gap or duplicate" % i,
              "got %d of %d, dup %d, code %s %s" % (len(s.ids), len(order), dups(s.ids), s.code,
                                                    s.details))
    # since_unix in the future: only what comes after.
    late = Subscriber(clients[2], "hist", since=int(time.time()) + 3600, timeout=5)
    late.join(10)
    check(late.ids == [] and late.code == grpc.StatusCode.DEADLINE_EXCEEDED,
          "history: since_unix in the future sends nothing old", "%s %s" % (late.ids[:3], late.code))
    reconnected = sum("reconnected" in r.output() for r in reps)
    check(reconnected == 3, "history: the three feed listeners reconnected", str(reconnected))
    stop_replicas(reps, clients)


# ---- outage: PostgreSQL stopped mid-load ------------------------------------------

def case_outage(pg):
    reps, clients = start_replicas(pg)
    for sig, name in ((signal.SIGINT, "fast shutdown"), (signal.SIGKILL, "crash")):
        outage_round(pg, clients, sig, name)
    stop_replicas(reps, clients)


def feed_down_lines(replica):
    """How many times the replica's listener said it lost the database."""
    out = replica.output()
    return out.count("feed: connection lost") + out.count("feed: database unavailable")


def outage_round(pg, clients, sig, name):
    cust = "out-%d" % sig
    acked = {}        # key -> response tuple, for calls that returned OK
    codes = {}        # status code name -> count
    slowest = [0.0]   # the longest failed call, in seconds
    lock = threading.Lock()
    phase = ["before"]
    unavailable_seen = threading.Event()
    ok_after = threading.Event()
    sub = Subscriber(clients[2], cust, timeout=180)

    def load(t):
        # Bounded: 400 calls per thread, 120 s at most. Each key is tried
        # until OK (a client's retry), at most 40 times.
        end = time.time() + 120
        for i in range(400):
            key = "%s-%d-%d" % (cust, t, i)
            for attempt in range(40):
                if time.time() > end:
                    return
                start = time.time()
                try:
                    r = clients[(t + i + attempt) % 3].charge(req(cust, key), timeout=30)
                    with lock:
                        if key in acked and acked[key] != resp_tuple(r):
                            codes["MISMATCH"] = codes.get("MISMATCH", 0) + 1
                        acked[key] = resp_tuple(r)
                        codes["OK"] = codes.get("OK", 0) + 1
                        if phase[0] == "restarted":
                            ok_after.set()
                    break
                except grpc.RpcError as e:
                    took = time.time() - start
                    with lock:
                        codes[e.code().name] = codes.get(e.code().name, 0) + 1
                        slowest[0] = max(slowest[0], took)
                    if e.code() == grpc.StatusCode.UNAVAILABLE:
                        unavailable_seen.set()
                    time.sleep(0.1)
            if phase[0] == "done":
                return

    threads = [threading.Thread(target=load, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    end = time.time() + 30
    while len(acked) < 60 and time.time() < end and any(t.is_alive() for t in threads):
        time.sleep(0.02)
    feed_lines = feed_down_lines(clients[1].replica)
    pg.kill(sig)
    phase[0] = "down"
    check(unavailable_seen.wait(20), "outage (%s): calls get UNAVAILABLE" % name)
    # A new subscription while the database is down ends UNAVAILABLE, once
    # the replica's listener knows it is down (until then a backend that has
    # not yet noticed the dead postmaster may still answer its history, and
    # the subscription then stays open, like those opened before).
    end = time.time() + 20
    while feed_down_lines(clients[1].replica) <= feed_lines and time.time() < end:
        time.sleep(0.05)
    down_sub = Subscriber(clients[1], cust, timeout=20)
    down_sub.join(25)
    check(down_sub.code == grpc.StatusCode.UNAVAILABLE,
          "outage (%s): a new subscription ends UNAVAILABLE" % name,
          "%s %s" % (down_sub.code, down_sub.details))
    time.sleep(2)
    pg.start()
    phase[0] = "restarted"
    check(ok_after.wait(30), "outage (%s): calls succeed again after start()" % name)
    time.sleep(1)
    phase[0] = "done"
    for t in threads:
        t.join(150)
    print("outage (%s): codes %s, slowest failed call %.1f s" % (name, codes, slowest[0]))
    check(set(codes) <= {"OK", "UNAVAILABLE"}, "outage (%s): only OK and UNAVAILABLE" % name,
          str(codes))
    check(slowest[0] < 10, "outage (%s): every failed call ended within the timeouts "
          "(connect 2 s + statement 6 s)" % name, "%.1f s" % slowest[0])
    db = {r[0]: (r[1], int(r[2]), r[3], int(r[4])) for r in pg.psql(
        "SELECT convert_from(idempotency_key, 'UTF8'), transaction_id, status, "
        "processor_reference, processed_at FROM payments_charges WHERE customer_id = '%s'" % cust)}
    lost = [k for k, v in acked.items() if db.get(k) != v]
    check(not lost, "outage (%s): every acknowledged charge is in the database (%d)"
          % (name, len(acked)), "lost %d: %s" % (len(lost), lost[:3]))
    per_key = pg.psql("SELECT count(*) FROM (SELECT c.idempotency_key FROM payments_charges c "
                      "JOIN payments_transactions t USING (transaction_id) WHERE c.customer_id = "
                      "'%s' GROUP BY 1 HAVING count(*) > 1) d" % cust)[0][0]
    check(per_key == "0", "outage (%s): retried keys charged once" % name, per_key)
    order = feed_order(pg, cust)
    sub.wait_for(len(order), 30)
    check(sub.ids == order, "outage (%s): the open subscription resumed with every transaction, "
          "in order, once" % name, "got %d of %d, dup %d, code %s %s" % (
              len(sub.ids), len(order), dups(sub.ids), sub.code, sub.details))
    sub.call.cancel()


# ---- limits: a slow subscriber, a history beyond --max-stored, shutdown -----------

def case_limits(pg):
    # r0 keeps 20 transactions in its feed ring; charges go through r1.
    small = cluster.Replica(SERVER, "--store", "postgres:" + pg.conninfo, "--replica-id", "small",
                            "--max-stored", "20")
    reps, clients = start_replicas(pg, 1)
    sub_ch = grpc.insecure_channel(small.address, options=[("grpc.http2.bdp_probe", 0)])
    stream = sub_ch.unary_stream(SVC + "StreamTransactions",
                                 request_serializer=pb.TransactionStreamRequest.SerializeToString,
                                 response_deserializer=pb.Transaction.FromString)
    # A subscriber that stops reading: once its next transaction has left
    # r0's ring it is ended RESOURCE_EXHAUSTED, having got every one before.
    it = stream(pb.TransactionStreamRequest(customer_id="slow"), timeout=120)
    it.initial_metadata()
    time.sleep(0.5)  # subscribed (its empty history fetched)
    end = time.time() + 90
    made = 0
    for chunk in range(0, 8000, 50):  # bounded: 8000 charges, 90 s
        if time.time() > end:
            break
        futs = [clients[0].charge.future(req("slow", "slow-%d" % i, 1 + i), timeout=20)
                for i in range(chunk, chunk + 50)]
        made += sum(1 for f in futs if f.result())
    got, code, details = [], None, ""
    try:
        for t in it:
            got.append(t.amount_cents)
    except grpc.RpcError as e:
        code, details = e.code(), e.details()
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "subscriber too slow" in details,
          "limits: a subscriber that stops reading is ended RESOURCE_EXHAUSTED",
          "%s: %s (after %d charges)" % (code, details, made))
    # The charges ran 50 at a time: their order is the database's feed order.
    order = [int(r[0]) for r in pg.psql("SELECT amount_cents FROM payments_transactions "
                                        "WHERE customer_id = 'slow' ORDER BY feed_pos")]
    check(got and got == order[:len(got)] and len(got) < made,
          "limits: it got every transaction up to there, in feed order",
          "%d of %d" % (len(got), made))
    # A history longer than the ring is refused rather than cut short.
    try:
        list(stream(pb.TransactionStreamRequest(customer_id="slow"), timeout=20))
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        code, details = e.code(), e.details()
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "more than 20 transactions" in details,
          "limits: a history beyond --max-stored ends RESOURCE_EXHAUSTED", "%s: %s" % (code, details))
    # SIGTERM with a subscription open: it ends UNAVAILABLE, the server exits 0.
    open_sub = Subscriber(Client(small, "small"), "slow", since=int(time.time()) + 3600,
                          timeout=60)
    time.sleep(0.5)
    status = small.stop()
    open_sub.join(20)
    check(open_sub.code == grpc.StatusCode.UNAVAILABLE and status == 0,
          "limits: at shutdown an open subscription ends UNAVAILABLE, exit 0",
          "%s %s, exit %s" % (open_sub.code, open_sub.details, status))
    sub_ch.close()
    stop_replicas(reps, clients)


# ---- stall: the database holds a charge's lock longer than statement_timeout -------

def case_stall(pg):
    reps, clients = start_replicas(pg)
    warm = clients[0].charge(req("stall", "stall-warm"), timeout=10)
    check(warm.status == pb.CHARGE_STATUS_SUCCESS, "stall: a charge before the stall")
    # A session of our own holds the feed head's lock for 9 s: every
    # successful charge waits for it, past the 5 s statement_timeout.
    holder = subprocess.Popen([cluster.pg_bin("psql"), "-X", "-q", pg.conninfo, "-c",
                               "BEGIN; LOCK TABLE payments_feed_head IN ACCESS EXCLUSIVE MODE; "
                               "SELECT pg_sleep(9); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    results = {}

    def one(i):
        start = time.time()
        try:
            clients[i % 3].charge(req("stall", "stall-%d" % i), timeout=30)
            results[i] = ("OK", time.time() - start)
        except grpc.RpcError as e:
            results[i] = (e.code().name, time.time() - start, e.details())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    # A declined charge touches no feed position: it is not held up.
    declined = clients[1].charge(req("stall", "stall-declined", 900000), timeout=5)
    check(declined.status == pb.CHARGE_STATUS_DECLINED, "stall: a declined charge is not held up")
    for t in threads:
        t.join(40)
    try:
        holder.wait(30)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()
    print("stall: %s" % sorted(results.items()))
    check(len(results) == 6 and all(r[0] == "UNAVAILABLE" and 4 <= r[1] < 8
                                    for r in results.values()),
          "stall: held charges end UNAVAILABLE after the 5 s statement_timeout, not later")
    for i in range(6):
        clients[(i + 1) % 3].charge(req("stall", "stall-%d" % i), timeout=10)
    rows = pg.psql("SELECT count(*), count(DISTINCT idempotency_key) FROM payments_charges "
                   "WHERE customer_id = 'stall'")[0]
    check(rows == ["8", "8"], "stall: after the stall the retries charge each key once", str(rows))
    stop_replicas(reps, clients)


# ---- startup: three replicas creating the schema at once; bad --store ---------------

def case_startup(pg):
    pg.psql("CREATE DATABASE fresh")
    conninfo = pg.conninfo.replace("dbname=payments", "dbname=fresh")
    reps, errors = [None] * 3, []
    barrier = threading.Barrier(3)

    def start(i):
        barrier.wait(10)
        try:
            reps[i] = cluster.Replica(SERVER, "--store", "postgres:" + conninfo,
                                      "--replica-id", "fresh%d" % i)
        except RuntimeError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors and all(reps), "startup: three replicas create the schema at once",
          str(errors)[:300])
    if all(reps):
        clients = [Client(r, "fresh%d" % i) for i, r in enumerate(reps)]
        answers = {resp_tuple(c.charge(req("fresh", "fresh-key"), timeout=10)) for c in clients}
        check(len(answers) == 1, "startup: the fresh database charges once per key", str(answers))
        stop_replicas([r for r in reps if r], clients)

    def refused(args, want_status, want_text, name):
        try:
            r = cluster.Replica(SERVER, *args)
            r.stop()
            check(False, name, "it started")
        except RuntimeError as e:
            text = str(e)
            check(("exited %d" % want_status) in text and want_text in text, name, text[:300])

    refused(["--store", "postgres:host=" + pg.dir + "/nowhere dbname=payments"], 1,
            "--store postgres: cannot connect:", "startup: an unreachable database stops it, exit 1")
    refused(["--store", "postgres:host=/tmp port=notaport nonsense"], 1,
            "--store postgres: bad connection string:", "startup: a bad conninfo stops it, exit 1")
    refused(["--store", "mysql:x"], 2, "--store takes memory or postgres:CONNINFO",
            "startup: an unknown store is refused, exit 2")


def case_signals(pg):
    """Signals reach only the main thread's sigwait, also while it is busy
    shutting down: the store's listener thread blocks them too. SIGUSR1,
    SIGUSR2 and a second SIGINT during a lame duck change nothing: the
    replica drains and exits 0."""
    r = cluster.Replica(SERVER, "--store", "postgres:" + pg.conninfo, "--replica-id", "sig",
                        "--lame-duck-ms", "1500")
    r.signal(signal.SIGUSR1)
    r.signal(signal.SIGUSR2)
    deadline = time.time() + 10
    while "health SERVING" not in r.output() and time.time() < deadline:
        time.sleep(0.05)
    check("health SERVING" in r.output(), "signals: SIGUSR1 and SIGUSR2 toggled health",
          r.output()[-300:])
    r.signal(signal.SIGTERM)
    while "serving on for" not in r.output() and time.time() < deadline:
        time.sleep(0.05)
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT):
        r.signal(sig)
        time.sleep(0.1)
    rc = r.wait(20)
    check(rc == 0, "signals: SIGUSR1, SIGUSR2 and SIGINT during the lame duck: drained, exit 0",
          "exit %s" % rc)


def main():
    try:
        pg = cluster.Postgres()
    except (RuntimeError, OSError) as e:
        skip("cannot start PostgreSQL: %s" % e)
    for case in CASES:
        print("== " + case, flush=True)
        globals()["case_" + case](pg)
    cluster.stop_all()
    sys.exit(checks.done())


main()
