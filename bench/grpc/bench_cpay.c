// The cpay side of the gRPC benchmark (see run.py): a PaymentService server,
// or a client measuring unary calls per second with latency percentiles at a
// given number of calls in flight, or server-streaming messages per second.
//
//   bench-grpc-cpay server PORT
//   bench-grpc-cpay unary TARGET CONCURRENCY SECONDS
//   bench-grpc-cpay stream TARGET MESSAGES
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "common.h"
#include "payments.cpay_grpc.h"

static cpay_code charge(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                        payments_v1_ChargeResponse *resp) {
  resp->transaction_id = req->idempotency_key;
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  resp->processor_reference = CPAY_STR("auth_0000001234");
  resp->processed_at_unix = 1700000000;
  return CPAY_OK;
}

static cpay_code stream(void *ctx, cpay_server_call *call,
                        const payments_v1_TransactionStreamRequest *req) {
  payments_v1_Transaction t;
  memset(&t, 0, sizeof t);
  t.customer_id = req->customer_id;
  t.currency = CPAY_STR("USD");
  t.id = CPAY_STR("txn_0000000000001");
  for (int64_t i = 0; i < req->since_unix; i++) {
    t.amount_cents = i;
    t.created_at_unix = 1700000000 + i;
    if (payments_v1_PaymentService_StreamTransactions_send_response(call, &t, NULL) != CPAY_OK) break;
  }
  return CPAY_OK;
}

static int serve(int port) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  cpay_status st = {0};
  cpay_server_opts opts = {.workers = 64};
  cpay_server *srv = cpay_server_new(&opts, &st);
  payments_v1_PaymentService_handlers h = {.ChargeCard = charge, .StreamTransactions = stream};
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  int bound = 0;
  if (!srv || payments_v1_PaymentService_register(srv, &h, NULL) != CPAY_OK ||
      cpay_server_listen(srv, addr, NULL, &bound, &st) != CPAY_OK ||
      cpay_server_start(srv, &st) != CPAY_OK) {
    fprintf(stderr, "bench-grpc-cpay: %s\n", cpay_status_msg(&st));
    return 1;
  }
  printf("listening on port %d\n", bound);
  fflush(stdout);
  int sig;
  sigwait(&sigs, &sig);
  cpay_server_free(srv);
  return 0;
}

typedef struct worker {
  cpay_channel *ch;
  int64_t deadline_ns;
  int64_t *lat;
  size_t n, cap;
  int errors;
} worker;

static void *unary_worker(void *arg) {
  worker *w = arg;
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest req;
  memset(&req, 0, sizeof req);
  req.customer_id = CPAY_STR("cus_0000000042");
  req.amount_cents = 1999;
  req.currency = CPAY_STR("USD");
  req.idempotency_key = CPAY_STR("idem_5f1c2a9e-77d2-4c4e-9f1a");
  payments_v1_ChargeRequest_set_description(&req, CPAY_STR("Coffee beans, 1 kg"));
  while (bench_now_ns() < w->deadline_ns) {
    int64_t t0 = bench_now_ns();
    payments_v1_ChargeResponse *resp;
    cpay_code c = payments_v1_PaymentService_ChargeCard(w->ch, NULL, &req, a, &resp, NULL);
    int64_t t1 = bench_now_ns();
    cpay_arena_reset(a);
    if (c != CPAY_OK) {
      w->errors++;
      continue;
    }
    if (w->n == w->cap) {
      w->cap = w->cap ? w->cap * 2 : 65536;
      w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
    }
    w->lat[w->n++] = t1 - t0;
  }
  cpay_arena_free(a);
  return NULL;
}

static int run_unary(const char *target, int conc, double secs) {
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  if (cpay_channel_wait_ready(ch, 5000, NULL) != CPAY_OK) return 1;
  // Warm-up.
  worker warm = {ch, bench_now_ns() + 300000000, NULL, 0, 0, 0};
  unary_worker(&warm);
  free(warm.lat);
  worker *ws = calloc((size_t)conc, sizeof *ws);
  pthread_t *th = calloc((size_t)conc, sizeof *th);
  int64_t start = bench_now_ns();
  for (int i = 0; i < conc; i++) {
    ws[i] = (worker){ch, start + (int64_t)(secs * 1e9), NULL, 0, 0, 0};
    pthread_create(&th[i], NULL, unary_worker, &ws[i]);
  }
  size_t total = 0;
  int errors = 0;
  for (int i = 0; i < conc; i++) {
    pthread_join(th[i], NULL);
    total += ws[i].n;
    errors += ws[i].errors;
  }
  double took = (bench_now_ns() - start) / 1e9;
  int64_t *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < conc; i++) {
    memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
    k += ws[i].n;
    free(ws[i].lat);
  }
  bench_report("unary", conc, all, total, took);
  free(all);
  free(ws);
  free(th);
  cpay_channel_free(ch);
  return errors ? 1 : 0;
}

static int run_stream(const char *target, long messages) {
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_TransactionStreamRequest req;
  memset(&req, 0, sizeof req);
  req.customer_id = CPAY_STR("cus_0000000042");
  int rc = 0;
  for (int round = 0; round < 2; round++) {  // the first is a warm-up
    req.since_unix = round ? messages : messages / 10;
    cpay_call_opts opts = {.timeout_ms = 120000};
    cpay_call *call;
    int64_t t0 = bench_now_ns();
    long got = 0;
    if (payments_v1_PaymentService_StreamTransactions(ch, &opts, &req, &call, NULL) != CPAY_OK) return 1;
    for (;;) {
      payments_v1_Transaction *t;
      if (payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, NULL) != CPAY_OK || !t) break;
      got++;
      if (got % 1024 == 0) cpay_arena_reset(a);
    }
    if (payments_v1_PaymentService_StreamTransactions_finish(call, NULL) != CPAY_OK) rc = 1;
    cpay_call_free(call);
    double took = (bench_now_ns() - t0) / 1e9;
    if (got != req.since_unix) rc = 1;
    if (round) printf("STREAM %ld %.3f %.1f\n", got, took, got / took);
  }
  cpay_arena_free(a);
  cpay_channel_free(ch);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) return serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "unary") == 0) return run_unary(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 4 && strcmp(argv[1], "stream") == 0) return run_stream(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: bench-grpc-cpay server PORT | unary TARGET CONC SECONDS | stream TARGET N\n");
  return 2;
}
