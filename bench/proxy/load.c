// The load client of the proxy benchmark (run.py): blocking unary
// ChargeCard calls, CONCURRENCY in flight from as many threads on one
// channel, until SECONDS have passed or MAX_CALLS calls were made, whichever
// comes first. Prints bench/grpc's RESULT line (calls/s and latency
// percentiles in us) and exits 1 if a call failed.
//
//   bench-proxy-load TARGET CONCURRENCY SECONDS MAX_CALLS [round_robin]
//
// TARGET is HOST:PORT (a proxy or one replica), or with round_robin
// "ipv4:HOST:PORT,HOST:PORT,...": the channel then keeps a connection to
// every address and sends each call to the next (C-core's round_robin),
// the client-side balancing the proxies are compared with. The request is
// bench/grpc's: a fixed idempotency key, so after its first call each
// replica answers from its store and every call costs the server the same.
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "payments.cpay_grpc.h"

typedef struct shared {
  cpay_channel *ch;
  int64_t deadline_ns;
  atomic_long left;  // calls still to start
} shared;

typedef struct worker {
  shared *sh;
  int64_t *lat;  // ns, one per call made
  size_t n, cap;
  long errors;
  char error[160];  // the first failure's status
} worker;

static void fill_charge(payments_v1_ChargeRequest *req) {
  memset(req, 0, sizeof *req);
  req->customer_id = CPAY_STR("cus_0000000042");
  req->amount_cents = 1999;
  req->currency = CPAY_STR("USD");
  req->idempotency_key = CPAY_STR("idem_5f1c2a9e-77d2-4c4e-9f1a");
  payments_v1_ChargeRequest_set_description(req, CPAY_STR("Coffee beans, 1 kg"));
}

static void *run(void *arg) {
  worker *w = arg;
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest req;
  fill_charge(&req);
  while (a && bench_now_ns() < w->sh->deadline_ns && atomic_fetch_sub(&w->sh->left, 1) > 0) {
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 16384;
      int64_t *v = realloc(w->lat, cap * sizeof *v);
      if (!v) {  // counted: a run that stopped early must not look clean
        if (w->errors++ == 0) snprintf(w->error, sizeof w->error, "out of memory for latencies");
        break;
      }
      w->lat = v;
      w->cap = cap;
    }
    cpay_status st = {0};
    payments_v1_ChargeResponse *resp;
    int64_t t0 = bench_now_ns();
    cpay_code c = payments_v1_PaymentService_ChargeCard(w->sh->ch, NULL, &req, a, &resp, &st);
    int64_t t1 = bench_now_ns();
    cpay_arena_reset(a);
    if (c == CPAY_OK) {
      w->lat[w->n++] = t1 - t0;
    } else if (w->errors++ == 0) {
      snprintf(w->error, sizeof w->error, "%s", cpay_status_msg(&st));
    }
  }
  if (!a && w->errors++ == 0) snprintf(w->error, sizeof w->error, "out of memory for an arena");
  cpay_arena_free(a);
  return NULL;
}

static int usage(void) {
  fprintf(stderr, "usage: bench-proxy-load TARGET CONCURRENCY SECONDS MAX_CALLS [round_robin]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "round_robin") == 0)) return usage();
  const char *target = argv[1];
  int conc = atoi(argv[2]);
  double secs = atof(argv[3]);
  long max_calls = atol(argv[4]);
  if (conc < 1 || conc > 1024 || !(secs > 0 && secs <= 600) || max_calls < 1) return usage();
  cpay_channel_opts co = {.lb_policy = argc == 6 ? CPAY_LB_ROUND_ROBIN : CPAY_LB_DEFAULT};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &co, &st);
  if (!ch || cpay_channel_wait_ready(ch, 5000, &st) != CPAY_OK) {
    fprintf(stderr, "bench-proxy-load: %s: %s\n", target, cpay_status_msg(&st));
    cpay_channel_free(ch);
    return 1;
  }
  // Warm-up: connections to every replica (through the proxy too), and the
  // fixed key stored on each.
  shared warm_sh = {ch, bench_now_ns() + 300000000, 20000};
  worker warm = {.sh = &warm_sh};
  run(&warm);
  free(warm.lat);

  shared sh = {ch, 0, max_calls};
  worker *ws = calloc((size_t)conc, sizeof *ws);
  pthread_t *th = calloc((size_t)conc, sizeof *th);
  if (!ws || !th) {
    fprintf(stderr, "bench-proxy-load: out of memory\n");
    cpay_channel_free(ch);
    return 1;
  }
  int64_t start = bench_now_ns();
  sh.deadline_ns = start + (int64_t)(secs * 1e9);
  int started = 0;
  for (; started < conc; started++) {
    ws[started].sh = &sh;
    if (pthread_create(&th[started], NULL, run, &ws[started]) != 0) break;
  }
  size_t total = 0;
  long errors = warm.errors + (started < conc);
  const char *first_error = warm.errors ? warm.error : NULL;
  for (int i = 0; i < started; i++) {
    pthread_join(th[i], NULL);
    total += ws[i].n;
    if (ws[i].errors && !first_error) first_error = ws[i].error;
    errors += ws[i].errors;
  }
  double took = (double)(bench_now_ns() - start) / 1e9;
  int64_t *all = malloc((total ? total : 1) * sizeof *all);
  if (!all) {
    fprintf(stderr, "bench-proxy-load: out of memory\n");
    cpay_channel_free(ch);
    return 1;
  }
  size_t k = 0;
  for (int i = 0; i < started; i++) {
    if (ws[i].n) memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
    k += ws[i].n;
    free(ws[i].lat);
  }
  bench_report("unary", conc, all, total, took);
  if (errors) {
    fprintf(stderr, "bench-proxy-load: %ld calls failed, the first: %s\n", errors,
            first_error ? first_error : "(a thread did not start)");
  }
  free(all);
  free(ws);
  free(th);
  cpay_channel_free(ch);
  return errors ? 1 : 0;
}
