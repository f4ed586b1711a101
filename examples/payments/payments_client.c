// payments-client: drives every call mode of PaymentService against a
// server and checks what comes back, printing one line per step.
//
//   payments-client [--target HOST:PORT] [--token TOKEN] [--json]
//                   [--tls-ca PEM [--tls-server-name NAME]] [--skip-extras]
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
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv) {
  const char *target = "127.0.0.1:50051";
  const char *ca_path = NULL, *server_name = NULL;
  bool extras = true;
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
    if (strcmp(argv[i], "--target") == 0) {
      target = argv[++i];
    } else if (strcmp(argv[i], "--token") == 0) {
      auth.token = argv[++i];
    } else if (strcmp(argv[i], "--tls-ca") == 0) {
      ca_path = argv[++i];
    } else if (strcmp(argv[i], "--tls-server-name") == 0) {
      server_name = argv[++i];
    } else {
      goto usage;
    }
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
  cpay_channel_opts copts = {
      .tls = ca ? &tls : NULL,
      .default_timeout_ms = 10000,
      .keepalive_time_ms = 30000,
      .retry_unavailable = true,
      .interceptors = icpts,
      .interceptor_count = 2,
  };
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &copts, &st);
  cpay_arena *a = cpay_arena_new();
  if (!ch || !a) {
    fprintf(stderr, "payments-client: %s\n", cpay_status_msg(&st));
    return 1;
  }
  if (cpay_channel_wait_ready(ch, 5000, &st) != CPAY_OK) {
    report(false, "connect", "%s: %s", target, cpay_status_msg(&st));
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
  printf("%s\n", failures ? "payments-client: some steps FAILED" : "payments-client: all steps ok");
  return failures ? 1 : 0;
usage:
  fprintf(stderr, "usage: payments-client [--target HOST:PORT] [--token TOKEN] [--json] "
                  "[--tls-ca PEM [--tls-server-name NAME]] [--skip-extras]\n");
  return 2;
}
