// The C++ gRPC side of the benchmark (see run.py), from Debian's
// libgrpc++-dev: the same server and client workloads as bench_cpay.c,
// written the way a C++ user would (sync API, generated stubs).
//
//   bench-grpc-cxx server PORT
//   bench-grpc-cxx unary TARGET CONCURRENCY SECONDS
//   bench-grpc-cxx stream TARGET MESSAGES
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "payments.grpc.pb.h"

namespace {

class Service final : public payments::v1::PaymentService::Service {
  grpc::Status ChargeCard(grpc::ServerContext *, const payments::v1::ChargeRequest *req,
                          payments::v1::ChargeResponse *resp) override {
    resp->set_transaction_id(req->idempotency_key());
    resp->set_status(payments::v1::CHARGE_STATUS_SUCCESS);
    resp->set_processor_reference("auth_0000001234");
    resp->set_processed_at_unix(1700000000);
    return grpc::Status::OK;
  }
  grpc::Status StreamTransactions(grpc::ServerContext *, const payments::v1::TransactionStreamRequest *req,
                                  grpc::ServerWriter<payments::v1::Transaction> *w) override {
    payments::v1::Transaction t;
    t.set_customer_id(req->customer_id());
    t.set_currency("USD");
    t.set_id("txn_0000000000001");
    for (int64_t i = 0; i < req->since_unix(); i++) {
      t.set_amount_cents(i);
      t.set_created_at_unix(1700000000 + i);
      if (!w->Write(t)) break;
    }
    return grpc::Status::OK;
  }
};

int Serve(int port) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  Service svc;
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
  srv->Shutdown();
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

}  // namespace

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) return Serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "unary") == 0) return RunUnary(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 4 && strcmp(argv[1], "stream") == 0) return RunStream(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: bench-grpc-cxx server PORT | unary TARGET CONC SECONDS | stream TARGET N\n");
  return 2;
}
