// payments-client: drives every call mode of PaymentService against a
// server and checks what comes back, printing one line per step; or, with
// --load, puts a bounded load on several replicas and counts what survives
// their failures.
//
//   payments-client [--target TARGET] [--lb round_robin|pick_first]
//                   [--health-check SERVICE] [--token TOKEN] [--json]
//                   [--tls-ca PEM [--tls-server-name NAME]] [--skip-extras]
//   payments-client --load CALLS --load-seconds S [--concurrency N] [--rate PER_S]
//                   [--subscribe CUSTOMER [--subscribers N]] [--reissue N]
//                   [--log FILE] [--key-prefix PREFIX] (and the options above)
//
// TARGET is "HOST:PORT", or several replicas as
// "ipv4:127.0.0.1:50051,127.0.0.1:50052" spread by --lb (C-core's
// pick_first by default); --health-check sends calls only to replicas whose
// grpc.health.v1 status for SERVICE ("" for the whole server) is SERVING
// (round_robin only). ChargeCard and StreamTransactions are retried on
// UNAVAILABLE or CANCELLED by the channel (up to 5 attempts), the other
// methods by cpay's default policy.
//
// Steps: unary charges (success, idempotent retry, INVALID_ARGUMENT with its
// google.rpc.BadRequest detail, a deadline that expires), server streaming
// with a mid-stream cancel, a live subscription that gets a charge made after
// it started, client streaming, bidirectional chat, an asynchronous fan-out
// (many charges in flight from one thread), an unknown method
// (UNIMPLEMENTED), the health service and reflection's service list
// (--skip-extras leaves out the last two). Client interceptors add
// `authorization` (with --token) and a fresh `x-request-id` to every call.
// With --json, every response message is also printed in the proto3 JSON
// mapping. Exits 0 when every step behaved.
//
// Load (--load): CALLS ChargeCard calls at most, for S seconds at most, from
// N threads (4), at most PER_S a second in all, each with an idempotency key
// of its own (PREFIX-n; every other one charges CUSTOMER); with --subscribe,
// N (1) subscribers keep a StreamTransactions subscription to CUSTOMER open,
// re-establish it when it ends UNAVAILABLE and drop transactions seen
// before. Prints "subscribed I GEN REPLICA" per subscription, "progress
// calls=.. ok=.." twice a second, then one line of counts and one of calls
// per replica (the x-served-by initial metadata, "-" when absent):
//   load calls= ok= failed= failed_by_code=CODE:n,.. reissued= reissued_ok=
//        subscribers= resubscriptions= stream_ends=CODE:n,..
//        charged_to_subscribed= transactions= replayed= duplicates= missed= seconds=
//   served-by NAME=n ...
// --log writes one line per call ("call KEY CUSTOMER CODE REPLICA TXN
// START_MS END_MS REISSUES", wall-clock ms) and per transaction received
// ("txn SUBSCRIBER GEN ID CREATED_AT new|replayed|duplicate"). Exits 0 when
// every call was charged and every subscriber saw every transaction charged
// to CUSTOMER exactly once (after dropping replays).
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpay/grpc.h"
#include "cpay/grpc_details.h"
#include "cpay/json.h"
#include "grpc/health/v1/health.cpay_grpc.h"
#include "grpc/reflection/v1/reflection.cpay_grpc.h"
#include "payments.cpay_grpc.h"

static int failures;
static bool print_json;  // --json

// With --json, prints `msg` (of JSON table `t`) indented under the step's line.
static void show_json(const void *msg, const cpay_msg_desc *t, cpay_arena *a) {
  if (!print_json || !msg) return;
  cpay_json_encode_opts jo = {0};
  jo.indent = 2;
  cpay_str text;
  cpay_status st = {0};
  if (cpay_json_encode(msg, t, a, &jo, &text, &st) != CPAY_OK) {
    fprintf(stderr, "payments-client: json: %s\n", cpay_status_msg(&st));
    return;
  }
  printf("%.*s\n", (int)text.size, text.data);
}

static void report(bool ok, const char *step, const char *fmt, ...) CPAY_PRINTF(3, 4);

#include <stdarg.h>
static void report(bool ok, const char *step, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%-4s %-34s ", ok ? "ok" : "FAIL", step);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  if (!ok) failures++;
}

typedef struct auth_ctx {
  const char *token;
  atomic_uint next_id;
  unsigned run;
} auth_ctx;

static cpay_code add_auth(void *ctx, cpay_client_info *info, cpay_status *st) {
  auth_ctx *a = ctx;
  if (!a->token) return CPAY_OK;
  char value[256];
  int n = snprintf(value, sizeof value, "Bearer %s", a->token);
  if (n < 0 || (size_t)n >= sizeof value) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "token too long");
  }
  return cpay_client_info_add_metadata(info, "authorization", (cpay_str){value, (size_t)n});
}

static cpay_code add_request_id(void *ctx, cpay_client_info *info, cpay_status *st) {
  (void)st;  // adding a well-formed key cannot fail with a message
  auth_ctx *a = ctx;
  size_t count;
  const cpay_md *md = cpay_client_info_metadata(info, &count);
  if (cpay_md_get(md, count, "x-request-id").data) return CPAY_OK;  // the caller chose one
  char id[48];
  int n = snprintf(id, sizeof id, "req-%u-%u", a->run, atomic_fetch_add(&a->next_id, 1) + 1);
  return cpay_client_info_add_metadata(info, "x-request-id", (cpay_str){id, (size_t)n});
}

static payments_v1_ChargeRequest *charge_req(cpay_arena *a, const char *customer, int64_t cents,
                                             const char *currency, const char *key) {
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  if (!r) return NULL;
  r->customer_id = cpay_str_from_c(customer);
  r->amount_cents = cents;
  r->currency = cpay_str_from_c(currency);
  r->idempotency_key = cpay_str_from_c(key);
  return r;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf) {
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
  }
  fclose(f);
  return buf;
}

static void unary_steps(cpay_channel *ch, cpay_arena *a, const char *customer, const char *key) {
  cpay_status st = {0};
  payments_v1_ChargeResponse *resp = NULL;
  cpay_rpc_result res = {.arena = a};
  cpay_md md[1] = {{CPAY_STR("x-request-id"), CPAY_STR("echo-me-42")}};
  cpay_call_opts opts = {.timeout_ms = 5000, .metadata = md, .metadata_count = 1, .result = &res};
  payments_v1_ChargeRequest *req = charge_req(a, customer, 1999, "USD", key);
  cpay_code c = payments_v1_PaymentService_ChargeCard(ch, &opts, req, a, &resp, &st);
  report(c == CPAY_OK && resp && resp->status == payments_v1_CHARGE_STATUS_SUCCESS,
         "ChargeCard", "%s -> %.*s", c == CPAY_OK ? "charged 19.99 USD" : cpay_status_msg(&st),
         resp ? (int)resp->transaction_id.size : 0, resp ? resp->transaction_id.data : "");
  show_json(resp, &payments_v1_ChargeResponse_desc, a);
  cpay_str echoed = cpay_md_get(res.initial_md, res.initial_md_count, "x-request-id");
  cpay_str trailer = cpay_md_get(res.trailing_md, res.trailing_md_count, "x-request-id");
  report(cpay_str_eq(echoed, CPAY_STR("echo-me-42")) && cpay_str_eq(trailer, CPAY_STR("echo-me-42")),
         "metadata echo", "x-request-id in initial and trailing metadata: %.*s / %.*s",
         (int)echoed.size, echoed.data ? echoed.data : "", (int)trailer.size,
         trailer.data ? trailer.data : "");

  payments_v1_ChargeResponse *again = NULL;
  cpay_status_clear(&st);
  c = payments_v1_PaymentService_ChargeCard(ch, NULL, req, a, &again, &st);
  report(c == CPAY_OK && resp && again && cpay_str_eq(again->transaction_id, resp->transaction_id),
         "ChargeCard idempotent retry", "same key gives %.*s",
         again ? (int)again->transaction_id.size : 0, again ? again->transaction_id.data : "");

  // The server names the field in a google.rpc.BadRequest detail.
  cpay_status_clear(&st);
  cpay_rpc_result bad = {.arena = a};
  opts = (cpay_call_opts){.timeout_ms = 5000, .result = &bad};
  c = payments_v1_PaymentService_ChargeCard(ch, &opts, charge_req(a, customer, -5, "USD", "neg"), a,
                                            &resp, &st);
  google_rpc_BadRequest *br = NULL;
  cpay_code dc = cpay_get_BadRequest(&bad, a, &br, NULL);
  const google_rpc_BadRequest_FieldViolation *v =
      dc == CPAY_OK && br->field_violations.size ? br->field_violations.data[0] : NULL;
  report(c == CPAY_ERR_INVALID_ARGUMENT && bad.code == CPAY_GRPC_INVALID_ARGUMENT && v &&
             cpay_str_eq(v->field, CPAY_STR("amount_cents")),
         "ChargeCard invalid amount", "%s; BadRequest: %.*s: %.*s", cpay_status_msg(&st),
         v ? (int)v->field.size : 0, v ? v->field.data : "", v ? (int)v->description.size : 0,
         v ? v->description.data : "");

  cpay_status_clear(&st);
  cpay_md slow[1] = {{CPAY_STR("x-simulate-latency-ms"), CPAY_STR("2000")}};
  cpay_rpc_result late = {0};
  opts = (cpay_call_opts){.timeout_ms = 200, .metadata = slow, .metadata_count = 1, .result = &late};
  c = payments_v1_PaymentService_ChargeCard(ch, &opts, charge_req(a, customer, 100, "USD", "slow"), a,
                                            &resp, &st);
  report(c == CPAY_ERR_DEADLINE_EXCEEDED && late.code == CPAY_GRPC_DEADLINE_EXCEEDED,
         "ChargeCard 200 ms deadline", "%s", cpay_status_msg(&st));
}

// ---- asynchronous calls: their callbacks run on the channel's loop thread,
// and this thread waits for them on `mu` / `cv`.

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int subscribed;   // the live subscription's headers came
  int received;     // live transactions received
  int done;         // calls that ended
  int ok;           // ... with OK
  char last_id[32];
} waiter;

static void waiter_init(waiter *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

static void waiter_destroy(waiter *w) {
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

// Waits until *count reaches `want` or 5 s pass; true when it did.
static bool wait_for(waiter *w, const int *count, int want) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&w->mu);
  int rc = 0;
  while (*count < want && rc == 0) rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
  bool reached = *count >= want;
  pthread_mutex_unlock(&w->mu);
  return reached;
}

static void live_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  (void)call;
  (void)md;
  (void)count;
  waiter *w = state;
  pthread_mutex_lock(&w->mu);
  w->subscribed++;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void live_message(void *state, cpay_call *call, payments_v1_Transaction *t) {
  waiter *w = state;
  if (!t) return;  // the end of the stream: on_done follows
  pthread_mutex_lock(&w->mu);
  w->received++;
  snprintf(w->last_id, sizeof w->last_id, "%.*s", (int)t->id.size, t->id.data);
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  // Keep one read pending: the next transaction, or the end.
  cpay_code c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
  (void)c;  // fails only once the call is over: on_done follows
}

static void count_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  waiter *w = state;
  pthread_mutex_lock(&w->mu);
  w->done++;
  w->ok += res->code == CPAY_GRPC_OK;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

// A live subscription: a charge made after it started arrives on it.
static void live_steps(cpay_channel *ch, cpay_arena *a, const char *customer) {
  char live[64], key[64];
  snprintf(live, sizeof live, "%s-live", customer);
  snprintf(key, sizeof key, "%s-live-1", customer);
  waiter w;
  waiter_init(&w);
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = cpay_str_from_c(live);
  static const payments_v1_PaymentService_StreamTransactions_client_reactor kLive = {
      .on_message = live_message, .on_metadata = live_metadata, .on_done = count_done};
  cpay_call_opts opts = {.timeout_ms = 10000};
  cpay_status st = {0};
  cpay_call *call = NULL;
  cpay_code c = payments_v1_PaymentService_StreamTransactions_async(ch, &opts, sreq, &kLive, &w,
                                                                    &call, &st);
  if (c == CPAY_OK) c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, &st);
  bool subscribed = c == CPAY_OK && wait_for(&w, &w.subscribed, 1);
  payments_v1_ChargeResponse *resp = NULL;
  if (subscribed) {
    c = payments_v1_PaymentService_ChargeCard(ch, NULL, charge_req(a, live, 4200, "USD", key), a,
                                              &resp, &st);
  }
  bool got = c == CPAY_OK && wait_for(&w, &w.received, 1);
  // The feed never ends on its own: leave it (this cancels it and drops
  // the reference _async gave us; on_done still comes).
  cpay_call_free(call);
  bool ended = call && wait_for(&w, &w.done, 1);
  report(subscribed && got && ended && resp && cpay_str_eq(resp->transaction_id, cpay_str_from_c(w.last_id)),
         "StreamTransactions live", "subscribed, charged, got %s while subscribed %s", w.last_id,
         cpay_status_msg(&st));
  waiter_destroy(&w);
}

// Many charges in flight at once, all started from this one thread.
#define FAN_OUT 64

static void fan_out_steps(cpay_channel *ch, cpay_arena *a, const char *customer) {
  static const payments_v1_PaymentService_ChargeCard_client_reactor kCharge = {.on_done = count_done};
  waiter w;
  waiter_init(&w);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int started = 0;
  cpay_status st = {0};
  for (int i = 0; i < FAN_OUT; i++) {
    char *key = cpay_arena_realloc(a, NULL, 0, 64);
    snprintf(key, 64, "%s-fan-%d", customer, i);
    // The request is encoded when the call starts: it need not outlive it.
    if (payments_v1_PaymentService_ChargeCard_async(ch, NULL, charge_req(a, customer, 100 + i, "USD", key),
                                                    &kCharge, &w, NULL, &st) == CPAY_OK) {
      started++;
    }
  }
  bool all = wait_for(&w, &w.done, started);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  report(all && started == FAN_OUT && w.ok == FAN_OUT, "ChargeCard async fan-out",
         "%d charges from one thread, %d answered OK in %.1f ms %s", started, w.ok, ms,
         cpay_status_msg(&st));
  waiter_destroy(&w);
}

static void stream_steps(cpay_channel *ch, cpay_arena *a, const char *customer) {
  cpay_status st = {0};
  // A second charge, so the stream has two stored transactions.
  payments_v1_ChargeResponse *resp;
  char key[64];
  snprintf(key, sizeof key, "%s-second", customer);
  cpay_code c = payments_v1_PaymentService_ChargeCard(ch, NULL, charge_req(a, customer, 500, "EUR", key),
                                                      a, &resp, &st);
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = cpay_str_from_c(customer);
  cpay_call_opts opts = {.timeout_ms = 5000};
  cpay_call *call = NULL;
  if (c == CPAY_OK) c = payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, &st);
  int got = 0;
  while (c == CPAY_OK && got < 2) {
    payments_v1_Transaction *t;
    c = payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st);
    if (c != CPAY_OK || !t) break;
    got++;
    printf("       transaction %.*s: %" PRId64 " %.*s\n", (int)t->id.size, t->id.data,
           t->amount_cents, (int)t->currency.size, t->currency.data);
    show_json(t, &payments_v1_Transaction_desc, a);
  }
  // The server would keep streaming live transactions: leave mid-stream.
  cpay_call_cancel(call);
  payments_v1_Transaction *t = NULL;
  cpay_code after = call ? payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, NULL) : CPAY_OK;
  cpay_status fst = {0};
  cpay_rpc_result res = {0};
  (void)res;
  cpay_code fin = call ? payments_v1_PaymentService_StreamTransactions_finish(call, &fst) : CPAY_OK;
  cpay_call_free(call);
  report(got == 2 && after == CPAY_OK && t == NULL && fin != CPAY_OK, "StreamTransactions",
         "%d stored transactions, then cancelled mid-stream (%s)", got, cpay_status_msg(&fst));
}

static void batch_steps(cpay_channel *ch, cpay_arena *a, const char *customer) {
  cpay_status st = {0};
  cpay_call_opts opts = {.timeout_ms = 5000};
  cpay_call *call;
  cpay_code c = payments_v1_PaymentService_BatchCharge(ch, &opts, &call, &st);
  for (int i = 0; i < 5 && c == CPAY_OK; i++) {
    char *key = cpay_arena_realloc(a, NULL, 0, 64);
    snprintf(key, 64, "%s-batch-%d", customer, i);
    // The fourth has no currency: it fails.
    c = payments_v1_PaymentService_BatchCharge_send(
        call, charge_req(a, customer, 100 + i, i == 3 ? "" : "USD", key), &st);
  }
  payments_v1_BatchChargeResponse *resp = NULL;
  if (c == CPAY_OK) c = payments_v1_PaymentService_BatchCharge_finish(call, a, &resp, &st);
  cpay_call_free(call);
  bool ok = c == CPAY_OK && resp && resp->total == 5 && resp->succeeded == 4 && resp->failed == 1 &&
            resp->failed_idempotency_keys.size == 1;
  report(ok, "BatchCharge", "total %d, succeeded %d, failed %d %s%.*s",
         resp ? resp->total : -1, resp ? resp->succeeded : -1, resp ? resp->failed : -1,
         c == CPAY_OK ? "" : cpay_status_msg(&st),
         resp && resp->failed_idempotency_keys.size ? (int)resp->failed_idempotency_keys.data[0].size : 0,
         resp && resp->failed_idempotency_keys.size ? resp->failed_idempotency_keys.data[0].data : "");
  show_json(resp, &payments_v1_BatchChargeResponse_desc, a);
}

static void chat_steps(cpay_channel *ch, cpay_arena *a) {
  static const char *const lines[] = {"hello", "where is my refund?", "thanks"};
  cpay_status st = {0};
  cpay_call_opts opts = {.timeout_ms = 5000};
  cpay_call *call;
  cpay_code c = payments_v1_PaymentService_PaymentChat(ch, &opts, &call, &st);
  int answered = 0;
  for (int i = 0; i < 3 && c == CPAY_OK; i++) {
    payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(a);
    m->text = cpay_str_from_c(lines[i]);
    m->sender = CPAY_STR("customer");
    c = payments_v1_PaymentService_PaymentChat_send(call, m, &st);
    payments_v1_PaymentMessage *reply = NULL;
    if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_recv(call, a, &reply, &st);
    if (reply) {
      answered++;
      printf("       %.*s: %.*s\n", (int)reply->sender.size, reply->sender.data,
             (int)reply->text.size, reply->text.data);
      show_json(reply, &payments_v1_PaymentMessage_desc, a);
    }
  }
  if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_close_send(call, &st);
  payments_v1_PaymentMessage *extra = NULL;
  if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_recv(call, a, &extra, &st);
  if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_finish(call, &st);
  cpay_call_free(call);
  report(c == CPAY_OK && answered == 3 && !extra, "PaymentChat", "%d answers, each as it came %s",
         answered, cpay_status_msg(&st));
}

static void unknown_method_step(cpay_channel *ch, cpay_arena *a) {
  static const cpay_method kRefund = {.path = "/payments.v1.PaymentService/Refund",
                                      .name = "Refund",
                                      .kind = CPAY_METHOD_UNARY,
                                      .request = &payments_v1_ChargeRequest_table,
                                      .response = &payments_v1_ChargeResponse_table};
  cpay_status st = {0};
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.timeout_ms = 5000, .result = &res};
  void *resp;
  cpay_code c = cpay_unary_call(ch, &kRefund, &opts, payments_v1_ChargeRequest_new(a), a, &resp, &st);
  report(c != CPAY_OK && res.code == CPAY_GRPC_UNIMPLEMENTED, "unknown method", "%s",
         cpay_status_msg(&st));
}

static void extra_steps(cpay_channel *ch, cpay_arena *a) {
  cpay_status st = {0};
  grpc_health_v1_HealthCheckRequest *hreq = grpc_health_v1_HealthCheckRequest_new(a);
  hreq->service = CPAY_STR("payments.v1.PaymentService");
  grpc_health_v1_HealthCheckResponse *hresp = NULL;
  cpay_call_opts opts = {.timeout_ms = 5000};
  cpay_code c = grpc_health_v1_Health_Check(ch, &opts, hreq, a, &hresp, &st);
  report(c == CPAY_OK && hresp->status == grpc_health_v1_HealthCheckResponse_SERVING, "health Check",
         "payments.v1.PaymentService: %s", c == CPAY_OK ? (hresp->status == 1 ? "SERVING" : "not serving")
                                                        : cpay_status_msg(&st));

  cpay_call *call;
  cpay_status_clear(&st);
  c = grpc_reflection_v1_ServerReflection_ServerReflectionInfo(ch, &opts, &call, &st);
  grpc_reflection_v1_ServerReflectionRequest *rreq = grpc_reflection_v1_ServerReflectionRequest_new(a);
  grpc_reflection_v1_ServerReflectionRequest_set_list_services(rreq, CPAY_STR("*"));
  if (c == CPAY_OK) c = grpc_reflection_v1_ServerReflection_ServerReflectionInfo_send(call, rreq, &st);
  grpc_reflection_v1_ServerReflectionResponse *rresp = NULL;
  if (c == CPAY_OK) c = grpc_reflection_v1_ServerReflection_ServerReflectionInfo_recv(call, a, &rresp, &st);
  if (c == CPAY_OK) c = grpc_reflection_v1_ServerReflection_ServerReflectionInfo_close_send(call, &st);
  if (c == CPAY_OK) c = grpc_reflection_v1_ServerReflection_ServerReflectionInfo_finish(call, &st);
  cpay_call_free(call);
  bool found = false;
  char names[512] = "";
  if (rresp && grpc_reflection_v1_ServerReflectionResponse_has_list_services_response(rresp)) {
    const grpc_reflection_v1_ListServiceResponse *l = rresp->list_services_response;
    for (size_t i = 0; i < l->service.size; i++) {
      cpay_str n = l->service.data[i]->name;
      found |= cpay_str_eq(n, CPAY_STR("payments.v1.PaymentService"));
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%.*s", i ? ", " : "", (int)n.size, n.data);
    }
  }
  report(c == CPAY_OK && found, "reflection list_services", "%s", c == CPAY_OK ? names : cpay_status_msg(&st));
}

// ---- load mode (--load): failover over several replicas ---------------------
//
// CALLS unary charges from --concurrency threads, each with an idempotency
// key of its own, plus --subscribers live subscriptions to one customer's
// transactions that are re-established when a replica goes away. It ends
// after CALLS calls or --load-seconds, whichever comes first, waits a
// bounded while for the subscribers to catch up, and prints its counts.

#define MAX_REPLICAS 16
#define MAX_SUBSCRIBERS 16
// A resubscription asks for transactions from this many seconds before the
// newest one seen: created_at has one-second resolution and replicas'
// clocks differ a little. What comes twice is dropped by transaction id.
#define RESUBSCRIBE_OVERLAP_SEC 2
// After the last call, how long subscribers may take to receive the
// transactions it made.
#define CATCH_UP_MS 5000

typedef struct served_count {
  char name[64];
  int calls;
} served_count;

// A set of transaction ids, each with the subscription (generation) that
// first delivered it: seen again in the same one is a duplicate sent by the
// server, in a later one a replay the resubscription asked for.
typedef struct id_entry {
  char *id;  // NULL: free slot
  int gen;
} id_entry;

typedef struct id_set {
  id_entry *slots;
  size_t cap, used;  // cap: a power of two
} id_set;

// Where `id` is or would go.
static id_entry *id_slot(id_set *s, cpay_str id) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < id.size; i++) h = (h ^ (unsigned char)id.data[i]) * 1099511628211u;
  for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    id_entry *e = &s->slots[i];
    if (!e->id || (strlen(e->id) == id.size && memcmp(e->id, id.data, id.size) == 0)) return e;
  }
}

// Adds `id` seen in generation `gen`. Returns 0 when new, 1 when already
// seen in `gen`, 2 when seen in an earlier generation, -1 out of memory.
static int id_set_add(id_set *s, cpay_str id, int gen) {
  if ((s->used + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    id_set bigger = {calloc(ncap, sizeof(id_entry)), ncap, s->used};
    if (!bigger.slots) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (s->slots[i].id) *id_slot(&bigger, cpay_str_from_c(s->slots[i].id)) = s->slots[i];
    }
    free(s->slots);
    *s = bigger;
  }
  id_entry *e = id_slot(s, id);
  if (e->id) return e->gen == gen ? 1 : 2;
  if (!(e->id = malloc(id.size + 1))) return -1;
  memcpy(e->id, id.data, id.size);
  e->id[id.size] = '\0';
  e->gen = gen;
  s->used++;
  return 0;
}

static bool id_set_has(id_set *s, const char *id) {
  return s->cap && id_slot(s, cpay_str_from_c(id))->id != NULL;
}

static void id_set_free(id_set *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->slots[i].id);
  free(s->slots);
}

typedef struct load_run load_run;

// One subscriber: a thread that keeps one subscription open.
typedef struct subscriber {
  load_run *run;
  int index;
  pthread_t thread;
  cpay_call *call;  // the open subscription, under run->mu (to cancel it)
  id_set seen;      // under run->mu
  int generation;   // subscriptions made so far
  int resubscriptions, transactions, replayed, duplicates;
  int ends[17];  // subscriptions ended, by gRPC code
} subscriber;

struct load_run {
  cpay_channel *ch;
  const char *customer;  // --subscribe, or NULL
  const char *key_prefix;
  int calls, concurrency, rate, reissue, subscribers;
  int subs_started;  // subscriber threads running (set before the calls end)
  int64_t t0_ms, stop_ms;  // monotonic; no call starts at or after stop_ms
  FILE *log;               // --log, or NULL
  atomic_int next;         // the next call's number
  atomic_int workers_running;
  atomic_bool stopping;    // subscribers end when their subscription does
  pthread_mutex_t mu;      // guards what follows
  int done, ok, reissued, reissued_ok;
  int failed[17];  // calls failed, by gRPC code
  served_count served[MAX_REPLICAS + 1];  // the last: names beyond the table
  int served_used;
  char **charged;  // transaction ids charged to `customer`
  size_t charged_count, charged_cap;
  subscriber subs[MAX_SUBSCRIBERS];
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Wall-clock milliseconds, for the log (tests compare them with the moment
// they signalled a replica).
static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// x-served-by from a call's initial metadata, as a C string in `out`.
static const char *served_by(const cpay_md *md, size_t count, char *out, size_t size) {
  cpay_str v = cpay_md_get(md, count, "x-served-by");
  snprintf(out, size, "%.*s", v.data ? (int)v.size : 1, v.data ? v.data : "-");
  return out;
}

static void count_served(load_run *r, const char *name) {
  int i = 0;
  while (i < r->served_used && strcmp(r->served[i].name, name) != 0) i++;
  if (i == r->served_used) {
    if (r->served_used == MAX_REPLICAS) {
      i = MAX_REPLICAS;
      snprintf(r->served[i].name, sizeof r->served[i].name, "(others)");
    } else {
      snprintf(r->served[r->served_used++].name, sizeof r->served[i].name, "%s", name);
    }
  }
  r->served[i].calls++;
}

static int grpc_index(cpay_grpc_code c) { return c >= 0 && c <= 16 ? (int)c : 2; }

// One charge with a key of its own. The channel's retry policy already
// retries UNAVAILABLE and CANCELLED (up to 5 attempts); with --reissue, a
// call that still fails so is made again, with the same key, up to that
// many times. Both are safe only because of the key: a replica that charged and
// then died before answering did charge, and the same key makes the next
// attempt return that first charge instead of a second one.
static void load_call(load_run *r, int n) {
  cpay_arena *a = cpay_arena_new();
  if (!a) return;
  char key[96];
  snprintf(key, sizeof key, "%s-%d", r->key_prefix, n);
  // With --subscribe, every other charge is to the subscribed customer.
  const char *customer = r->customer && n % 2 == 0 ? r->customer : "load-customer";
  payments_v1_ChargeRequest *req = charge_req(a, customer, 100 + n % 1000, "USD", key);
  int64_t start = wall_ms();
  cpay_rpc_result res;
  cpay_code c;
  int attempt = 0;
  payments_v1_ChargeResponse *resp = NULL;
  for (;;) {
    res = (cpay_rpc_result){.arena = a};
    cpay_call_opts opts = {.timeout_ms = 5000, .result = &res};
    cpay_status st = {0};
    c = payments_v1_PaymentService_ChargeCard(r->ch, &opts, req, a, &resp, &st);
    if ((c != CPAY_ERR_UNAVAILABLE && c != CPAY_ERR_CANCELLED) || attempt == r->reissue) break;
    attempt++;
  }
  char by[64];
  served_by(res.initial_md, res.initial_md_count, by, sizeof by);
  bool ok = c == CPAY_OK && resp && resp->status == payments_v1_CHARGE_STATUS_SUCCESS;
  // A declined charge counts as UNKNOWN; a call that failed before it
  // reached a server (no status) by its cpay code.
  cpay_grpc_code code = ok                         ? CPAY_GRPC_OK
                        : c == CPAY_OK             ? CPAY_GRPC_UNKNOWN
                        : res.code != CPAY_GRPC_OK ? res.code
                                                   : cpay_grpc_code_from_cpay(c);
  pthread_mutex_lock(&r->mu);
  r->done++;
  if (ok) {
    r->ok++;
    count_served(r, by);
  } else {
    r->failed[grpc_index(code)]++;
  }
  r->reissued += attempt > 0;
  r->reissued_ok += attempt > 0 && ok;
  if (ok && customer == r->customer) {
    if (r->charged_count == r->charged_cap) {
      size_t ncap = r->charged_cap ? r->charged_cap * 2 : 256;
      char **grown = realloc(r->charged, ncap * sizeof *grown);
      if (grown) {
        r->charged = grown;
        r->charged_cap = ncap;
      }
    }
    char *id = malloc(resp->transaction_id.size + 1);
    if (id && r->charged_count < r->charged_cap) {
      memcpy(id, resp->transaction_id.data, resp->transaction_id.size);
      id[resp->transaction_id.size] = '\0';
      r->charged[r->charged_count++] = id;
    } else {
      free(id);
    }
  }
  if (r->log) {
    fprintf(r->log, "call %s %s %s %s %.*s %" PRId64 " %" PRId64 " %d\n", key, customer,
            cpay_grpc_code_name(code), by,
            resp ? (int)resp->transaction_id.size : 1, resp ? resp->transaction_id.data : "-",
            start, wall_ms(), attempt);
  }
  pthread_mutex_unlock(&r->mu);
  cpay_arena_free(a);
}

static void *load_worker(void *arg) {
  load_run *r = arg;
  for (;;) {
    int n = atomic_fetch_add(&r->next, 1);
    if (n >= r->calls) break;
    // --rate: call n starts no earlier than n / rate seconds in.
    if (r->rate) sleep_ms(r->t0_ms + (int64_t)n * 1000 / r->rate - mono_ms());
    if (mono_ms() >= r->stop_ms) break;
    load_call(r, n);
  }
  atomic_fetch_sub(&r->workers_running, 1);
  return NULL;
}

// The subscriber: this is the loop docs/replicas.md shows. A subscription
// is a live feed that never ends on its own; when it ends UNAVAILABLE (its
// replica drained or died), CANCELLED (by a replica, not by us) or
// RESOURCE_EXHAUSTED (this reader fell behind), subscribe again (the
// channel picks a replica that is up) from shortly before the newest
// transaction seen, and drop by id what was seen already.
static void *subscriber_main(void *arg) {
  subscriber *s = arg;
  load_run *r = s->run;
  cpay_arena *a = cpay_arena_new();    // one subscription's request and status
  cpay_arena *msg = cpay_arena_new();  // one transaction at a time
  int64_t since = 0;  // 0: every stored transaction of the customer
  int64_t backoff_ms = 100;
  while (a && msg && !atomic_load(&r->stopping)) {
    cpay_arena_reset(a);
    payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(a);
    req->customer_id = cpay_str_from_c(r->customer);
    req->since_unix = since;
    cpay_rpc_result res = {.arena = a};
    // No deadline: the feed is meant to stay open; stopping cancels it.
    cpay_call_opts opts = {.timeout_ms = -1, .wait_for_ready = true, .result = &res};
    cpay_call *call = NULL;
    cpay_code c = payments_v1_PaymentService_StreamTransactions(r->ch, &opts, req, &call, NULL);
    pthread_mutex_lock(&r->mu);
    s->call = call;
    bool stopping = atomic_load(&r->stopping);
    pthread_mutex_unlock(&r->mu);
    if (stopping && call) cpay_call_cancel(call);  // stopped while it started
    int gen = ++s->generation;
    int got = 0;
    if (c == CPAY_OK) {
      size_t count;
      const cpay_md *md = cpay_call_initial_metadata(call, &count);
      char by[64];
      printf("subscribed %d %d %s\n", s->index, gen, served_by(md, count, by, sizeof by));
      fflush(stdout);
    }
    while (c == CPAY_OK) {
      payments_v1_Transaction *t = NULL;
      cpay_arena_reset(msg);
      c = payments_v1_PaymentService_StreamTransactions_recv(call, msg, &t, NULL);
      if (c != CPAY_OK || !t) break;
      got++;
      if (t->created_at_unix - RESUBSCRIBE_OVERLAP_SEC > since) {
        since = t->created_at_unix - RESUBSCRIBE_OVERLAP_SEC;
      }
      pthread_mutex_lock(&r->mu);  // the main thread checks `seen` for catching up
      int seen = id_set_add(&s->seen, t->id, gen);
      if (seen == 0) s->transactions++;  // new: hand it on
      if (seen == 1) s->duplicates++;    // the server sent it twice
      if (seen == 2) s->replayed++;      // asked for again by since_unix: drop it
      if (r->log) {
        fprintf(r->log, "txn %d %d %.*s %" PRId64 " %s\n", s->index, gen, (int)t->id.size,
                t->id.data, t->created_at_unix,
                seen == 0 ? "new" : seen == 1 ? "duplicate" : seen == 2 ? "replayed" : "nomem");
      }
      pthread_mutex_unlock(&r->mu);
    }
    // The status (receive to the end first: then finish does not wait).
    if (call) {
      cpay_code fin = payments_v1_PaymentService_StreamTransactions_finish(call, NULL);
      (void)fin;  // the code is in res
    }
    pthread_mutex_lock(&r->mu);
    s->call = NULL;
    pthread_mutex_unlock(&r->mu);
    cpay_call_free(call);
    cpay_grpc_code end = call ? res.code : cpay_grpc_code_from_cpay(c);
    s->ends[grpc_index(end)]++;
    if (atomic_load(&r->stopping)) break;
    // UNAVAILABLE: the replica drained or died; RESOURCE_EXHAUSTED: this
    // reader fell behind; CANCELLED (not ours: we are not stopping): the
    // subscription met a draining replica's GOAWAY as it started.
    if (end != CPAY_GRPC_UNAVAILABLE && end != CPAY_GRPC_RESOURCE_EXHAUSTED &&
        end != CPAY_GRPC_CANCELLED) {
      fprintf(stderr, "payments-client: subscription %d ended %s: %.*s\n", s->index,
              cpay_grpc_code_name(end), (int)res.message.size, res.message.data ? res.message.data : "");
      break;
    }
    s->resubscriptions++;
    // Back off when subscribing keeps failing at once; not after a
    // subscription that worked for a while.
    backoff_ms = got ? 100 : (backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2);
    sleep_ms(backoff_ms);
  }
  cpay_arena_free(msg);
  cpay_arena_free(a);
  return NULL;
}

// Charged transactions of the customer that subscriber `s` has not seen
// (r->mu held).
static int missed_by(load_run *r, subscriber *s) {
  int missed = 0;
  for (size_t i = 0; i < r->charged_count; i++) missed += !id_set_has(&s->seen, r->charged[i]);
  return missed;
}

static bool subscribers_caught_up(load_run *r) {
  pthread_mutex_lock(&r->mu);
  bool all = true;
  for (int i = 0; i < r->subs_started && all; i++) all = missed_by(r, &r->subs[i]) == 0;
  pthread_mutex_unlock(&r->mu);
  return all;
}

static void append_codes(char *out, size_t size, const int *by_code) {
  size_t used = 0;
  out[0] = '\0';
  for (int c = 0; c <= 16; c++) {
    if (!by_code[c]) continue;
    int n = snprintf(out + used, size - used, "%s%s:%d", used ? "," : "",
                     cpay_grpc_code_name((cpay_grpc_code)c), by_code[c]);
    if (n < 0 || (size_t)n >= size - used) break;
    used += (size_t)n;
  }
  if (!used) snprintf(out, size, "-");
}

// Runs the load and prints its counts; the exit status: 0 when every call
// was charged and, with --subscribe, every subscriber saw every transaction
// of the customer once.
static int run_load(load_run *r, int seconds) {
  r->t0_ms = mono_ms();
  r->stop_ms = r->t0_ms + (int64_t)seconds * 1000;
  pthread_mutex_init(&r->mu, NULL);
  int subs_started = 0, workers_started = 0;
  pthread_t workers[256];
  atomic_store(&r->workers_running, r->concurrency);
  for (int i = 0; i < r->concurrency; i++) {
    if (pthread_create(&workers[i], NULL, load_worker, r) != 0) {
      atomic_fetch_sub(&r->workers_running, r->concurrency - i);
      break;
    }
    workers_started++;
  }
  // The subscriptions start once the calls have reached the replicas (a
  // few calls each, or a second): round_robin spreads calls over the
  // replicas that are connected, and at first that may be only one.
  for (int64_t until = mono_ms() + 1000; mono_ms() < until;) {
    pthread_mutex_lock(&r->mu);
    int done = r->done;
    pthread_mutex_unlock(&r->mu);
    if (done >= 2 * r->concurrency || atomic_load(&r->workers_running) == 0) break;
    sleep_ms(10);
  }
  for (int i = 0; r->customer && i < r->subscribers; i++) {
    r->subs[i] = (subscriber){.run = r, .index = i};
    if (pthread_create(&r->subs[i].thread, NULL, subscriber_main, &r->subs[i]) != 0) break;
    subs_started++;
  }
  r->subs_started = subs_started;
  // Progress twice a second, so a test knows when to stop a replica. Every
  // worker ends: each call has a deadline and none starts after stop_ms.
  int64_t next_report = mono_ms() + 500;
  while (atomic_load(&r->workers_running) > 0) {
    if (mono_ms() >= next_report) {
      pthread_mutex_lock(&r->mu);
      printf("progress calls=%d ok=%d\n", r->done, r->ok);
      pthread_mutex_unlock(&r->mu);
      fflush(stdout);
      next_report += 500;
    }
    sleep_ms(20);
  }
  for (int i = 0; i < workers_started; i++) pthread_join(workers[i], NULL);
  int64_t calls_end = mono_ms();
  // The subscribers get a bounded while to receive what was charged.
  while (subs_started && !subscribers_caught_up(r) && mono_ms() < calls_end + CATCH_UP_MS) {
    sleep_ms(50);
  }
  pthread_mutex_lock(&r->mu);
  atomic_store(&r->stopping, true);
  for (int i = 0; i < subs_started; i++) cpay_call_cancel(r->subs[i].call);
  pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < subs_started; i++) pthread_join(r->subs[i].thread, NULL);

  int resub = 0, txns = 0, replayed = 0, dups = 0, missed = 0, ends[17] = {0};
  for (int i = 0; i < subs_started; i++) {
    subscriber *s = &r->subs[i];
    resub += s->resubscriptions;
    txns += s->transactions;
    replayed += s->replayed;
    dups += s->duplicates;
    missed += missed_by(r, s);
    for (int c = 0; c <= 16; c++) ends[c] += s->ends[c];
  }
  char failed[256], ended[256];
  append_codes(failed, sizeof failed, r->failed);
  append_codes(ended, sizeof ended, ends);
  int nfailed = r->done - r->ok;
  printf("load calls=%d ok=%d failed=%d failed_by_code=%s reissued=%d reissued_ok=%d "
         "subscribers=%d resubscriptions=%d stream_ends=%s charged_to_subscribed=%zu "
         "transactions=%d replayed=%d duplicates=%d missed=%d seconds=%.1f\n",
         r->done, r->ok, nfailed, failed, r->reissued, r->reissued_ok, subs_started, resub, ended,
         r->charged_count, txns, replayed, dups, missed, (double)(mono_ms() - r->t0_ms) / 1000);
  printf("served-by");
  for (int i = 0; i <= MAX_REPLICAS; i++) {
    if (r->served[i].calls) printf(" %s=%d", r->served[i].name, r->served[i].calls);
  }
  printf("\n");
  fflush(stdout);
  for (int i = 0; i < subs_started; i++) id_set_free(&r->subs[i].seen);
  for (size_t i = 0; i < r->charged_count; i++) free(r->charged[i]);
  free(r->charged);
  pthread_mutex_destroy(&r->mu);
  return nfailed || dups || missed ? 1 : 0;
}

// A whole number from `lo` to `hi`, or false.
static bool parse_int(const char *v, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi) return false;
  *out = (int)n;
  return true;
}

#define USAGE                                                                                \
  "usage: payments-client [--target TARGET] [--lb round_robin|pick_first]\n"                \
  "                       [--health-check SERVICE] [--token TOKEN] [--json]\n"              \
  "                       [--tls-ca PEM [--tls-server-name NAME]] [--skip-extras]\n"        \
  "       payments-client --load CALLS --load-seconds S [--concurrency N] [--rate PER_S]\n" \
  "                       [--subscribe CUSTOMER [--subscribers N]] [--reissue N]\n"         \
  "                       [--log FILE] [--key-prefix PREFIX] (and the options above)\n"

int main(int argc, char **argv) {
  const char *target = "127.0.0.1:50051";
  const char *ca_path = NULL, *server_name = NULL;
  const char *health = NULL, *log_path = NULL, *key_prefix = NULL;
  cpay_lb_policy lb = CPAY_LB_DEFAULT;
  bool extras = true;
  int load_seconds = 0;
  load_run run = {.concurrency = 4, .subscribers = 1};
  auth_ctx auth = {.token = NULL, .run = (unsigned)time(NULL) % 100000};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--skip-extras") == 0) {
      extras = false;
      continue;
    }
    if (strcmp(argv[i], "--json") == 0) {
      print_json = true;
      continue;
    }
    if (i + 1 >= argc) goto usage;
    const char *opt = argv[i], *v = argv[++i];
    bool good = true;
    if (strcmp(opt, "--target") == 0) {
      target = v;
    } else if (strcmp(opt, "--token") == 0) {
      auth.token = v;
    } else if (strcmp(opt, "--tls-ca") == 0) {
      ca_path = v;
    } else if (strcmp(opt, "--tls-server-name") == 0) {
      server_name = v;
    } else if (strcmp(opt, "--lb") == 0) {
      good = strcmp(v, "round_robin") == 0 || strcmp(v, "pick_first") == 0;
      lb = strcmp(v, "round_robin") == 0 ? CPAY_LB_ROUND_ROBIN : CPAY_LB_PICK_FIRST;
    } else if (strcmp(opt, "--health-check") == 0) {
      health = v;  // "" checks the whole server
    } else if (strcmp(opt, "--load") == 0) {
      good = parse_int(v, 1, 10000000, &run.calls);
    } else if (strcmp(opt, "--load-seconds") == 0) {
      good = parse_int(v, 1, 3600, &load_seconds);
    } else if (strcmp(opt, "--concurrency") == 0) {
      good = parse_int(v, 1, 256, &run.concurrency);
    } else if (strcmp(opt, "--rate") == 0) {
      good = parse_int(v, 1, 1000000, &run.rate);
    } else if (strcmp(opt, "--reissue") == 0) {
      good = parse_int(v, 0, 3, &run.reissue);
    } else if (strcmp(opt, "--subscribe") == 0) {
      run.customer = v;
      good = v[0] != '\0';
    } else if (strcmp(opt, "--subscribers") == 0) {
      good = parse_int(v, 1, MAX_SUBSCRIBERS, &run.subscribers);
    } else if (strcmp(opt, "--log") == 0) {
      log_path = v;
    } else if (strcmp(opt, "--key-prefix") == 0) {
      key_prefix = v;
      good = v[0] != '\0' && strlen(v) < 64;
    } else {
      goto usage;
    }
    if (!good) {
      fprintf(stderr, "payments-client: bad value for %s: '%s'\n", opt, v);
      goto usage;
    }
  }
  if ((run.calls != 0) != (load_seconds != 0)) {
    fprintf(stderr, "payments-client: --load and --load-seconds go together (bounded in count "
                    "and time)\n");
    goto usage;
  }
  const cpay_client_interceptor icpts[] = {{add_auth, &auth}, {add_request_id, &auth}};
  char *ca = NULL;
  cpay_tls_opts tls = {0};
  if (ca_path) {
    if (!(ca = read_file(ca_path))) {
      fprintf(stderr, "payments-client: cannot read %s\n", ca_path);
      return 1;
    }
    tls.root_certs = ca;
    tls.server_name = server_name;
  }
  // Over several replicas, a call that fails UNAVAILABLE (its replica went
  // away, or was draining) is made again on another one, after a backoff;
  // so is one ended CANCELLED, which C-core 1.51 reports for a call sent
  // just as a draining replica's GOAWAY arrived (docs/services.md,
  // "Draining"). This client never cancels a call it wants answered, so
  // CANCELLED here is the channel's, not ours. ChargeCard is safe to
  // retry only because every charge carries an idempotency key: a replica
  // that charged and then died before answering did charge, and the same
  // key makes the next attempt return that charge. StreamTransactions has
  // no side effects. A retry happens only before the server's first
  // response (for a subscription: before it is established), so a
  // subscription that ends later is re-established by subscriber_main.
  // Both wait for a ready replica instead of failing at once while none is.
  const uint32_t unavailable =
      CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE) | CPAY_GRPC_CODE_BIT(CPAY_GRPC_CANCELLED);
  const cpay_method_policy policies[] = {
      {.service = "payments.v1.PaymentService", .method = "ChargeCard", .max_attempts = 5,
       .initial_backoff_ms = 100, .max_backoff_ms = 1000, .backoff_multiplier = 2,
       .retryable_codes = unavailable, .wait_for_ready = true},
      {.service = "payments.v1.PaymentService", .method = "StreamTransactions", .max_attempts = 5,
       .initial_backoff_ms = 100, .max_backoff_ms = 1000, .backoff_multiplier = 2,
       .retryable_codes = unavailable, .wait_for_ready = true},
  };
  cpay_channel_opts copts = {
      .tls = ca ? &tls : NULL,
      .default_timeout_ms = 10000,
      .keepalive_time_ms = 30000,
      .retry_unavailable = true,  // the other methods: cpay's default policy
      .lb_policy = lb,
      .health_check_service = health,
      .method_policies = policies,
      .method_policy_count = 2,
      .interceptors = icpts,
      .interceptor_count = 2,
  };
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &copts, &st);
  cpay_arena *a = cpay_arena_new();
  if (!ch || !a) {
    fprintf(stderr, "payments-client: %s\n", cpay_status_msg(&st));
    cpay_arena_free(a);
    free(ca);
    return 1;
  }
  if (cpay_channel_wait_ready(ch, 5000, &st) != CPAY_OK) {
    report(false, "connect", "%s: %s", target, cpay_status_msg(&st));
  } else if (run.calls) {
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s", key_prefix ? key_prefix : "");
    if (!key_prefix) snprintf(prefix, sizeof prefix, "load-%u-%ld", auth.run, (long)getpid());
    run.ch = ch;
    run.key_prefix = prefix;
    run.log = log_path ? fopen(log_path, "w") : NULL;
    if (log_path && !run.log) {
      fprintf(stderr, "payments-client: cannot write %s\n", log_path);
      failures++;
    } else {
      failures += run_load(&run, load_seconds);
    }
    if (run.log) fclose(run.log);
  } else {
    char customer[32], key[48];
    snprintf(customer, sizeof customer, "cust-%u", auth.run);
    snprintf(key, sizeof key, "%s-first", customer);
    unary_steps(ch, a, customer, key);
    stream_steps(ch, a, customer);
    live_steps(ch, a, customer);
    batch_steps(ch, a, customer);
    chat_steps(ch, a);
    fan_out_steps(ch, a, customer);
    unknown_method_step(ch, a);
    if (extras) extra_steps(ch, a);
  }
  cpay_arena_free(a);
  cpay_channel_free(ch);
  free(ca);
  if (!run.calls) {
    printf("%s\n", failures ? "payments-client: some steps FAILED" : "payments-client: all steps ok");
  }
  return failures ? 1 : 0;
usage:
  fprintf(stderr, USAGE);
  return 2;
}
