// The C++ gRPC side of the benchmark (see run.py), from Debian's
// libgrpc++-dev: the same server and client workloads as bench_cpay.c,
// written the way a C++ user would (generated stubs). The server uses the
// callback API (reactors), because that is what a C++ user serving
// long-lived streams would pick; the unary and stream clients use the sync
// API, and the hold client uses the callback API so that holding many
// streams costs no thread each.
//
//   bench-grpc-cxx server PORT
//   bench-grpc-cxx unary TARGET CONCURRENCY SECONDS
//   bench-grpc-cxx stream TARGET MESSAGES
//   bench-grpc-cxx hold TARGET N SECONDS
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common.h"
#include "payments.grpc.pb.h"

namespace {

using payments::v1::Transaction;

// The server answers StreamTransactions with since_unix == 0 as a live
// subscription, which stays open and receives a Transaction for every
// ChargeCard of the same customer. At most this many transactions wait in
// one subscriber's queue (not counting the one being written). A subscriber
// that falls this far behind is finished with RESOURCE_EXHAUSTED "subscriber
// too slow" rather than losing its oldest messages: a client that silently
// misses transactions is worse off than one that knows to resubscribe, and
// the queue must be bounded so that one stalled reader cannot grow the
// server's memory without limit.
constexpr size_t kMaxQueued = 1024;

class LiveStream;

// Live subscribers by customer id. Lock order: the hub's mutex before a
// stream's, never the other way round (Publish holds the first and takes the
// second; a stream only takes the hub's mutex in OnDone, holding nothing).
class Hub {
 public:
  void Add(const std::string &customer, LiveStream *s) {
    std::lock_guard<std::mutex> l(mu_);
    subs_[customer].insert(s);
  }
  void Remove(const std::string &customer, LiveStream *s) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = subs_.find(customer);
    if (it == subs_.end()) return;
    it->second.erase(s);
    if (it->second.empty()) subs_.erase(it);
  }
  // Whether `customer` has a live subscriber, so that ChargeCard builds a
  // Transaction only when someone will receive it.
  bool HasSubscribers(const std::string &customer) {
    std::lock_guard<std::mutex> l(mu_);
    return subs_.count(customer) != 0;
  }
  // Queues `t` on every live subscriber of `customer`. It never waits on
  // the network: Push only queues or starts a write.
  void Publish(const std::string &customer, const Transaction &t);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unordered_set<LiveStream *>> subs_;
};

// One live subscription. Writes go out one at a time: Push starts a write
// only when none is in flight and otherwise queues; OnWriteDone starts the
// next. `finished_` makes Finish happen exactly once and stops writes after
// it, whichever of Push (queue full), OnWriteDone (write failed) and
// OnCancel gets there first. The hub keeps a raw pointer, so the stream
// leaves the hub in OnDone before it deletes itself; Publish runs under the
// hub's mutex, so no Push can still be using it then.
class LiveStream final : public grpc::ServerWriteReactor<Transaction> {
 public:
  LiveStream(Hub *hub, std::string customer) : hub_(hub), customer_(std::move(customer)) {
    // Sent now rather than with the first message, so that the client knows
    // it is registered before any charge is made for it.
    StartSendInitialMetadata();
    hub_->Add(customer_, this);
  }

  // Called by the hub with its mutex held.
  void Push(const Transaction &t) {
    std::lock_guard<std::mutex> l(mu_);
    if (finished_) return;
    if (!writing_) {
      current_ = t;
      writing_ = true;
      StartWrite(&current_);
      return;
    }
    if (queue_.size() >= kMaxQueued) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "subscriber too slow"));
      return;
    }
    queue_.push_back(t);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> l(mu_);
    writing_ = false;
    if (finished_) return;
    if (!ok) {
      // The stream is broken (normally the client went away); OnCancel may
      // follow, but the call must be finished either way.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> l(mu_);
    if (!finished_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_->Remove(customer_, this);
    delete this;
  }

 private:
  void FinishLocked(grpc::Status s) {
    finished_ = true;
    queue_.clear();
    // A write may still be in flight; gRPC allows Finish alongside it and
    // holds OnDone back until its OnWriteDone has run, so `current_` stays
    // valid for as long as the library needs it.
    Finish(std::move(s));
  }

  Hub *hub_;
  const std::string customer_;
  std::mutex mu_;
  bool finished_ = false;  // Finish has been called
  bool writing_ = false;   // a StartWrite awaits its OnWriteDone
  Transaction current_;    // the message being written
  std::deque<Transaction> queue_;
};

void Hub::Publish(const std::string &customer, const Transaction &t) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = subs_.find(customer);
  if (it == subs_.end()) return;
  for (LiveStream *s : it->second) s->Push(t);
}

// StreamTransactions with since_unix != 0: writes since_unix transactions
// (none if negative, as the sync version did), each started from the
// previous one's OnWriteDone, then finishes. Nothing else starts operations,
// so no mutex is needed: each callback runs after the one that caused it.
class BulkStream final : public grpc::ServerWriteReactor<Transaction> {
 public:
  BulkStream(const std::string &customer, int64_t count) : count_(count) {
    t_.set_customer_id(customer);
    t_.set_currency("USD");
    t_.set_id("txn_0000000000001");
    Next();
  }
  void OnWriteDone(bool ok) override {
    // A failed write means the client is gone; the status is never seen.
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (i_ >= count_) {
      Finish(grpc::Status::OK);
      return;
    }
    t_.set_amount_cents(i_);
    t_.set_created_at_unix(1700000000 + i_);
    i_++;
    StartWrite(&t_);
  }

  const int64_t count_;
  int64_t i_ = 0;
  Transaction t_;
};

class Service final : public payments::v1::PaymentService::CallbackService {
 public:
  explicit Service(Hub *hub) : hub_(hub) {}

 private:
  grpc::ServerUnaryReactor *ChargeCard(grpc::CallbackServerContext *ctx, const payments::v1::ChargeRequest *req,
                                       payments::v1::ChargeResponse *resp) override {
    resp->set_transaction_id(req->idempotency_key());
    resp->set_status(payments::v1::CHARGE_STATUS_SUCCESS);
    resp->set_processor_reference("auth_0000001234");
    resp->set_processed_at_unix(1700000000);
    // The check keeps the common case (nobody listening) from building a
    // Transaction; a subscriber that arrives just after it misses this
    // charge, as it would had it subscribed a moment later.
    if (hub_->HasSubscribers(req->customer_id())) {
      Transaction t;
      t.set_id(req->idempotency_key());
      t.set_customer_id(req->customer_id());
      t.set_amount_cents(req->amount_cents());
      t.set_currency(req->currency());
      t.set_created_at_unix(1700000000);
      hub_->Publish(req->customer_id(), t);
    }
    grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerWriteReactor<Transaction> *StreamTransactions(grpc::CallbackServerContext *,
                                                            const payments::v1::TransactionStreamRequest *req) override {
    if (req->since_unix() == 0) return new LiveStream(hub_, req->customer_id());
    return new BulkStream(req->customer_id(), req->since_unix());
  }

  Hub *hub_;
};

int Serve(int port) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  // Blocked before gRPC starts its threads, so they inherit the mask and
  // only sigwait below sees these signals.
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  // Declared before the server so that it outlives every reactor.
  Hub hub;
  Service svc(&hub);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder b;
  int bound = 0;
  b.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &bound);
  b.RegisterService(&svc);
  std::unique_ptr<grpc::Server> srv = b.BuildAndStart();
  if (!srv) return 1;
  printf("listening on port %d\n", bound);
  fflush(stdout);
  int sig;
  sigwait(&sigs, &sig);
  // Live subscriptions never end on their own; past the deadline Shutdown
  // cancels them, and it returns once every reactor has seen OnDone.
  srv->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  return 0;
}

int RunUnary(const std::string &target, int conc, double secs) {
  auto ch = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) return 1;
  auto stub = payments::v1::PaymentService::NewStub(ch);
  payments::v1::ChargeRequest req;
  req.set_customer_id("cus_0000000042");
  req.set_amount_cents(1999);
  req.set_currency("USD");
  req.set_idempotency_key("idem_5f1c2a9e-77d2-4c4e-9f1a");
  req.set_description("Coffee beans, 1 kg");
  std::vector<std::vector<int64_t>> lats(conc);
  std::vector<int> errors(conc);
  auto work = [&](int i, int64_t until) {
    while (bench_now_ns() < until) {
      grpc::ClientContext ctx;
      // The same default cpay applies (30 s), so both sides set a deadline.
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      payments::v1::ChargeResponse resp;
      int64_t t0 = bench_now_ns();
      grpc::Status s = stub->ChargeCard(&ctx, req, &resp);
      int64_t t1 = bench_now_ns();
      if (!s.ok()) {
        errors[i]++;
        continue;
      }
      if (i >= 0) lats[i].push_back(t1 - t0);
    }
  };
  work(-1, bench_now_ns() + 300000000);  // warm-up (not recorded)
  int64_t start = bench_now_ns();
  std::vector<std::thread> th;
  for (int i = 0; i < conc; i++) th.emplace_back(work, i, start + (int64_t)(secs * 1e9));
  for (auto &t : th) t.join();
  double took = (bench_now_ns() - start) / 1e9;
  std::vector<int64_t> all;
  int errs = 0;
  for (int i = 0; i < conc; i++) {
    all.insert(all.end(), lats[i].begin(), lats[i].end());
    errs += errors[i];
  }
  bench_report("unary", conc, all.data(), all.size(), took);
  return errs ? 1 : 0;
}

int RunStream(const std::string &target, long messages) {
  auto ch = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = payments::v1::PaymentService::NewStub(ch);
  int rc = 0;
  for (int round = 0; round < 2; round++) {
    payments::v1::TransactionStreamRequest req;
    req.set_customer_id("cus_0000000042");
    req.set_since_unix(round ? messages : messages / 10);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    int64_t t0 = bench_now_ns();
    auto reader = stub->StreamTransactions(&ctx, req);
    payments::v1::Transaction t;
    long got = 0;
    while (reader->Read(&t)) got++;
    if (!reader->Finish().ok() || got != req.since_unix()) rc = 1;
    double took = (bench_now_ns() - t0) / 1e9;
    if (round) printf("STREAM %ld %.3f %.1f\n", got, took, got / took);
  }
  return rc;
}

// What the hold client counts across all its streams; reactors report here
// and the main thread waits on `cv`.
struct HoldState {
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;   // streams whose initial metadata arrived
  int failed = 0;  // streams that ended before their initial metadata
  int done = 0;    // streams whose OnDone has run
};

// One held subscription. A read is always outstanding, so that transactions
// the server pushes are consumed and the server never sees a slow reader.
// The main thread owns the object and frees it only after OnDone.
class Holder final : public grpc::ClientReadReactor<Transaction> {
 public:
  Holder(payments::v1::PaymentService::Stub *stub, HoldState *st) : st_(st) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    req_.set_customer_id("hold");
    req_.set_since_unix(0);
    stub->async()->StreamTransactions(&ctx_, &req_, this);
    StartRead(&msg_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    std::lock_guard<std::mutex> l(st_->mu);
    got_metadata_ = ok;
    if (ok) st_->ready++;
    st_->cv.notify_all();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&msg_);
  }
  void OnDone(const grpc::Status &) override {
    std::lock_guard<std::mutex> l(st_->mu);
    if (!got_metadata_) st_->failed++;
    st_->done++;
    st_->cv.notify_all();
  }

 private:
  HoldState *st_;
  grpc::ClientContext ctx_;
  payments::v1::TransactionStreamRequest req_;
  Transaction msg_;
  bool got_metadata_ = false;  // guarded by st_->mu
};

// Opens n live subscriptions on one channel with the callback API, waits for
// all to be registered, reports threads and memory, holds them for `secs`,
// then cancels them and waits for every OnDone.
int RunHold(const std::string &target, int n, double secs) {
  auto ch = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) return 1;
  auto stub = payments::v1::PaymentService::NewStub(ch);
  HoldState st;
  std::vector<std::unique_ptr<Holder>> holders;
  holders.reserve(n);
  for (int i = 0; i < n; i++) holders.emplace_back(new Holder(stub.get(), &st));

  int rc = 0;
  {
    std::unique_lock<std::mutex> l(st.mu);
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs * 10);
    if (!st.cv.wait_until(l, until, [&] { return st.ready + st.failed == n; }) || st.failed) {
      fprintf(stderr, "hold: %d of %d streams registered, %d failed\n", st.ready, n, st.failed);
      rc = 1;
    }
  }
  if (rc == 0) {
    long threads, rss_kb;
    bench_proc_status(&threads, &rss_kb);
    printf("HOLD %d %ld %ld\n", n, threads, rss_kb);
    fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  }

  for (auto &h : holders) h->Cancel();
  {
    std::unique_lock<std::mutex> l(st.mu);
    // Cancellation completes promptly; the bound only guards against a
    // library bug. The holders cannot be freed while calls are live, so a
    // timeout here leaves without running destructors.
    if (!st.cv.wait_for(l, std::chrono::seconds(30), [&] { return st.done == n; })) {
      fprintf(stderr, "hold: only %d of %d streams ended after cancelling\n", st.done, n);
      fflush(stdout);
      std::_Exit(1);
    }
  }
  holders.clear();
  if (rc == 0) printf("HOLD_DONE %d\n", n);
  return rc;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) return Serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "unary") == 0) return RunUnary(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 4 && strcmp(argv[1], "stream") == 0) return RunStream(argv[2], atol(argv[3]));
  if (argc == 5 && strcmp(argv[1], "hold") == 0) return RunHold(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr,
          "usage: bench-grpc-cxx server PORT | unary TARGET CONC SECONDS | stream TARGET N"
          " | hold TARGET N SECONDS\n");
  return 2;
}
