// Thousands of open streams on one server, and its shutdown with all of them
// open. One client thread (a loop of one event thread) opens N live
// StreamTransactions subscriptions ("headers": confirmed at once, then quiet)
// on testsvc's reactors. Checks that:
//   - the process has as many threads with N streams open as with 10;
//   - health answers while they are open;
//   - a shutdown with all of them open cancels them after the grace period,
//     every client call ends (CANCELLED or UNAVAILABLE) and every server
//     call too, and the server is freed (LeakSanitizer in the sanitizer
//     build checks that nothing leaks);
//   - a shutdown while N finite streams are running lets them finish (the
//     drain) and returns before the grace period ends.
// Counts, never times, decide; the times are printed for the record.
//
//   scale-grpc [N]   (default 2000)
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.cpay_grpc.h"
#include "testsvc.h"

// The messages of each stream running when the server is shut down.
#define DRAIN_MESSAGES 200

static int g_failures;

static void check(bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  fflush(stdout);
  if (!ok) g_failures++;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// The client's view of all its streams; the callbacks run on its one loop
// thread.
typedef struct fleet {
  atomic_int subscribed;
  atomic_int messages;
  atomic_int done;
  atomic_int by_code[17];
} fleet;

// The stream is confirmed: start reading it (no reference is kept, so the
// callbacks are where the call is reached).
static void on_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  (void)md;
  (void)count;
  atomic_fetch_add(&((fleet *)state)->subscribed, 1);
  cpay_code c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
  (void)c;  // refused only once the call ended: on_done follows
}

static void on_txn(void *state, cpay_call *call, payments_v1_Transaction *t) {
  if (!t) return;
  atomic_fetch_add(&((fleet *)state)->messages, 1);
  cpay_code c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
  (void)c;  // refused only once the call ended: on_done follows
}

static void on_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  fleet *f = state;
  if ((unsigned)res->code <= 16) atomic_fetch_add(&f->by_code[res->code], 1);
  atomic_fetch_add(&f->done, 1);
}

static const payments_v1_PaymentService_StreamTransactions_client_reactor kReactor = {
    .on_message = on_txn, .on_metadata = on_metadata, .on_done = on_done};

// Waits up to `ms` for *v to reach `want`.
static bool wait_for(atomic_int *v, int want, int ms) {
  for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++) testsvc_sleep_ms(5);
  return atomic_load(v) >= want;
}

// Opens `n` streams for `customer` (since_unix `since`).
static int open_streams(cpay_channel *ch, fleet *f, int n, const char *customer, int64_t since) {
  cpay_arena *a = cpay_arena_new();
  payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(a);
  req->customer_id = cpay_str_from_c(customer);
  req->since_unix = since;
  cpay_call_opts opts = {.timeout_ms = 120000};
  int opened = 0;
  for (int i = 0; i < n; i++) {
    cpay_status st = {0};
    if (payments_v1_PaymentService_StreamTransactions_async(ch, &opts, req, &kReactor, f, NULL, &st) !=
        CPAY_OK) {
      fprintf(stderr, "scale: stream %d: %s\n", i, cpay_status_msg(&st));
      break;
    }
    opened++;
  }
  cpay_arena_free(a);
  return opened;
}

static cpay_server *server(testsvc *t, char *target, size_t size) {
  memset(t, 0, sizeof *t);
  int port;
  cpay_server *srv = testsvc_server_with(t, &testsvc_reactor_handlers, NULL, &port);
  snprintf(target, size, "127.0.0.1:%d", port);
  return srv;
}

static void open_many_then_shut_down(int n, cpay_loop *loop) {
  testsvc t;
  char target[32];
  cpay_server *srv = server(&t, target, sizeof target);
  cpay_channel_opts copts = {.loop = loop};
  cpay_channel *ch = cpay_channel_new(target, &copts, NULL);
  static fleet f;
  memset(&f, 0, sizeof f);

  int opened = open_streams(ch, &f, 10, "headers", 0);
  check(opened == 10 && wait_for(&f.subscribed, 10, 10000), "10 streams open");
  int threads10 = testsvc_threads(), own10 = testsvc_own_threads();
  double t0 = now_ms();
  opened += open_streams(ch, &f, n - 10, "headers", 0);
  check(opened == n && wait_for(&f.subscribed, n, 60000), "all streams open");
  int threads_n = testsvc_threads(), own_n = testsvc_own_threads();
  printf("     %d streams open in %.0f ms; threads: %d with 10 streams (%d not C-core's), %d with %d "
         "(%d not C-core's)\n",
         n, now_ms() - t0, threads10, own10, threads_n, n, own_n);
  // This program's threads and cpay's (the event loops) do not change.
  // C-core's own pools (timers, its event engine) may add a few threads
  // under load, up to their fixed bounds, never one per call.
  check(own_n == own10, "the same number of cpay's threads with 10 and with N streams open");
  check(threads_n <= threads10 + 8, "C-core added at most a few threads of its own");
  check(atomic_load(&t.streams_started) == n && atomic_load(&t.active) == n,
        "the server holds every stream");

  // Health answers beside them.
  cpay_channel *hch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  grpc_health_v1_HealthCheckRequest *hreq = grpc_health_v1_HealthCheckRequest_new(a);
  int healthy = 0;
  double h0 = now_ms();
  for (int i = 0; i < 100; i++) {
    grpc_health_v1_HealthCheckResponse *hresp;
    if (grpc_health_v1_Health_Check(hch, NULL, hreq, a, &hresp, NULL) == CPAY_OK &&
        hresp->status == grpc_health_v1_HealthCheckResponse_SERVING) {
      healthy++;
    }
    cpay_arena_reset(a);
  }
  printf("     100 health checks with %d streams open: %.2f ms each on average\n", n,
         (now_ms() - h0) / 100);
  check(healthy == 100, "health answers SERVING with every stream open");
  cpay_arena_free(a);
  cpay_channel_free(hch);

  // Shutdown: they never end on their own, so they are cancelled once the
  // grace period is over.
  t0 = now_ms();
  cpay_server_shutdown(srv, 300);
  double took = now_ms() - t0;
  printf("     shutdown with %d streams open took %.0f ms (grace 300 ms)\n", n, took);
  check(atomic_load(&t.streams_ended) == n && atomic_load(&t.active) == 0,
        "every server call ended by the time shutdown returned");
  check(wait_for(&f.done, n, 30000), "every client call ended");
  int cancelled = atomic_load(&f.by_code[CPAY_GRPC_CANCELLED]) +
                  atomic_load(&f.by_code[CPAY_GRPC_UNAVAILABLE]);
  printf("     client statuses: %d CANCELLED, %d UNAVAILABLE, %d other\n",
         atomic_load(&f.by_code[CPAY_GRPC_CANCELLED]), atomic_load(&f.by_code[CPAY_GRPC_UNAVAILABLE]),
         n - cancelled);
  check(cancelled == n, "each ended CANCELLED or UNAVAILABLE");
  cpay_server_free(srv);
  cpay_channel_free(ch);
}

static void drain_finite_streams(int n, cpay_loop *loop) {
  testsvc t;
  char target[32];
  cpay_server *srv = server(&t, target, sizeof target);
  cpay_channel_opts copts = {.loop = loop};
  cpay_channel *ch = cpay_channel_new(target, &copts, NULL);
  static fleet f;
  memset(&f, 0, sizeof f);
  // DRAIN_MESSAGES each: they are still running when shutdown begins.
  int opened = open_streams(ch, &f, n, "finite", DRAIN_MESSAGES);
  check(opened == n && wait_for(&t.streams_started, n, 60000), "finite streams running");
  double t0 = now_ms();
  cpay_server_shutdown(srv, 60000);
  double took = now_ms() - t0;
  printf("     drained %d running streams in %.0f ms (grace 60 s)\n", n, took);
  bool all_done = wait_for(&f.done, n, 30000);
  printf("     %d of %d streams ended, %d of %d messages; statuses:", atomic_load(&f.done), n,
         atomic_load(&f.messages), n * DRAIN_MESSAGES);
  for (int c = 0; c <= 16; c++) {
    int k = atomic_load(&f.by_code[c]);
    if (k) printf(" %d %s", k, cpay_grpc_code_name((cpay_grpc_code)c));
  }
  printf("\n");
  // The server holds its GOAWAY until the running calls have finished
  // (docs/services.md, "Draining and connection age"): every stream ends
  // OK with all its messages.
  int ok = atomic_load(&f.by_code[CPAY_GRPC_OK]);
  check(all_done && ok == n, "every stream finished OK during the drain");
  check(atomic_load(&f.messages) >= ok * DRAIN_MESSAGES,
        "every message of every stream that ended OK arrived");
  cpay_server_free(srv);
  cpay_channel_free(ch);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  if (n < 20) n = 20;
  cpay_loop *loop = cpay_loop_new(&(cpay_loop_opts){.threads = 1}, NULL);
  if (!loop) return 1;
  open_many_then_shut_down(n, loop);
  drain_finite_streams(n / 2, loop);
  cpay_loop_free(loop);
  printf("%d failed\n", g_failures);
  return g_failures ? 1 : 0;
}
