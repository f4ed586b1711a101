// libcpay-grpc's behaviour through its public API, client and server in one
// process: status table, deadlines (default and per call), metadata (ASCII
// and -bin, validation), interceptors on both sides, message size limits,
// compression, the worker limit, graceful and forced shutdown, streaming,
// closing a channel with calls running, finishing an undrained stream,
// channels with their own connection, health, and TLS with a certificate
// made by openssl at test time. Every test but the worker limit runs twice:
// against testsvc's blocking handlers and against its reactors.
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.cpay_grpc.h"
#include "testsvc.h"

static testsvc g_t;
static const payments_v1_PaymentService_handlers *g_handlers;
static cpay_server *g_srv;
static int g_port;
static char g_target[32];

static atomic_int g_shutdown_began;

static void note_shutdown(void *ctx) {
  (void)ctx;
  atomic_store(&g_shutdown_began, 1);
}

static void setup_with(const payments_v1_PaymentService_handlers *h) {
  memset(&g_t, 0, sizeof g_t);
  g_handlers = h;
  atomic_store(&g_shutdown_began, 0);
  cpay_server_opts opts = {.workers = 4, .max_recv_size = 64 * 1024, .on_shutdown = note_shutdown};
  g_srv = testsvc_server_with(&g_t, h, &opts, &g_port);
  ck_assert_ptr_nonnull(g_srv);
  snprintf(g_target, sizeof g_target, "127.0.0.1:%d", g_port);
}

static void setup(void) { setup_with(&testsvc_handlers); }

static void setup_reactor(void) { setup_with(&testsvc_reactor_handlers); }

static void teardown(void) { cpay_server_free(g_srv); }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static payments_v1_ChargeRequest *req_for(cpay_arena *a, const char *customer, const char *key) {
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  r->customer_id = cpay_str_from_c(customer);
  r->idempotency_key = cpay_str_from_c(key);
  return r;
}

START_TEST(test_grpc_code_table) {
  // Every gRPC code has a name and a cpay code of its own, and a cpay code
  // named after a gRPC code is sent as that code: no two gRPC codes meet
  // in one cpay code, so a caller tells a deadline from a bug.
  bool seen[64] = {false};
  for (int c = 0; c <= 16; c++) {
    cpay_grpc_code back;
    ck_assert(cpay_grpc_code_from_name(cpay_grpc_code_name((cpay_grpc_code)c), &back));
    ck_assert_int_eq(back, c);
    cpay_code cc = cpay_grpc_code_to_cpay((cpay_grpc_code)c);
    ck_assert_int_lt(cc, 64);
    ck_assert_msg(!seen[cc], "gRPC code %d shares cpay code %d", c, cc);
    seen[cc] = true;
    ck_assert_int_eq(cpay_grpc_code_from_cpay(cc), c);
    ck_assert_str_ne(cpay_code_str(cc), "unknown code");
  }
  ck_assert_str_eq(cpay_grpc_code_name(CPAY_GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  ck_assert_str_eq(cpay_grpc_code_name((cpay_grpc_code)17), "UNKNOWN_CODE");
  ck_assert_int_eq(cpay_grpc_code_to_cpay(CPAY_GRPC_OK), CPAY_OK);
  ck_assert_int_eq(cpay_grpc_code_to_cpay(CPAY_GRPC_DEADLINE_EXCEEDED), CPAY_ERR_DEADLINE_EXCEEDED);
  ck_assert_int_eq(cpay_grpc_code_to_cpay(CPAY_GRPC_UNAVAILABLE), CPAY_ERR_UNAVAILABLE);
  ck_assert_int_eq(cpay_grpc_code_to_cpay(CPAY_GRPC_CANCELLED), CPAY_ERR_CANCELLED);
  ck_assert_int_eq(cpay_grpc_code_to_cpay(CPAY_GRPC_RESOURCE_EXHAUSTED), CPAY_ERR_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(cpay_grpc_code_to_cpay((cpay_grpc_code)99), CPAY_ERR_UNKNOWN);
  // cpay's own codes are sent as the closest gRPC code.
  ck_assert_int_eq(cpay_grpc_code_from_cpay(CPAY_ERR_TOO_LARGE), CPAY_GRPC_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(cpay_grpc_code_from_cpay(CPAY_ERR_MALFORMED), CPAY_GRPC_INVALID_ARGUMENT);
  ck_assert_int_eq(cpay_grpc_code_from_cpay(CPAY_ERR_NO_MEMORY), CPAY_GRPC_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(cpay_grpc_code_from_cpay(CPAY_ERR_WOULD_BLOCK), CPAY_GRPC_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(cpay_grpc_code_from_cpay((cpay_code)999), CPAY_GRPC_UNKNOWN);
}
END_TEST

START_TEST(test_grpc_unary_metadata) {
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  static const uint8_t bin[] = {0, 1, 2, 0xff, '\n'};
  cpay_md md[2] = {{CPAY_STR("x-request-id"), CPAY_STR("r-1")},
                   {CPAY_STR("x-bin-bin"), {(const char *)bin, sizeof bin}}};
  cpay_rpc_result res = {.arena = a};
  cpay_call_opts opts = {.metadata = md, .metadata_count = 2, .result = &res};
  payments_v1_ChargeResponse *resp;
  cpay_status st = {0};
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "key-1"), a, &resp, &st),
                   CPAY_OK);
  ck_assert(cpay_str_eq(resp->transaction_id, CPAY_STR("key-1")));
  ck_assert_int_eq(res.code, CPAY_GRPC_OK);
  ck_assert(cpay_str_eq(cpay_md_get(res.initial_md, res.initial_md_count, "x-request-id"), CPAY_STR("r-1")));
  cpay_str b = cpay_md_get(res.trailing_md, res.trailing_md_count, "x-bin-bin");
  ck_assert_uint_eq(b.size, sizeof bin);
  ck_assert_mem_eq(b.data, bin, sizeof bin);
  // Keys must be lower-case, values printable unless -bin.
  cpay_md bad[1] = {{CPAY_STR("Upper"), CPAY_STR("v")}};
  opts = (cpay_call_opts){.metadata = bad, .metadata_count = 1};
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, &st),
                   CPAY_ERR_INVALID_ARGUMENT);
  cpay_md bad2[1] = {{CPAY_STR("x-text"), CPAY_STR("a\nb")}};
  opts = (cpay_call_opts){.metadata = bad2, .metadata_count = 1};
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(atomic_load(&g_t.unary_calls), 1);  // the bad calls never left
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_grpc_deadlines) {
  cpay_channel_opts copts = {.default_timeout_ms = 150};
  cpay_channel *ch = cpay_channel_new(g_target, &copts, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_status st = {0};
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.result = &res};
  double t0 = now_ms();
  cpay_code c = payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "sleep:3000", "k"), a, &resp, &st);
  double took = now_ms() - t0;
  ck_assert_int_ne(c, CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_DEADLINE_EXCEEDED);
  ck_assert_msg(strncmp(st.msg, "DEADLINE_EXCEEDED: ", 19) == 0, "%s", st.msg);
  ck_assert_msg(took < 1500, "the channel's default deadline was not applied (%.0f ms)", took);
  // A per-call timeout overrides the default.
  opts.timeout_ms = 2000;
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "sleep:400", "k"), a, &resp, &st),
                   CPAY_OK);
  // The handler saw the cancellation of the first call and stopped early.
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

static cpay_code deny_all(void *ctx, cpay_client_info *info, cpay_status *st) {
  (*(int *)ctx)++;
  ck_assert_str_eq(cpay_client_info_method(info)->path, "/payments.v1.PaymentService/ChargeCard");
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "no calls today");
}

static cpay_code add_token(void *ctx, cpay_client_info *info, cpay_status *st) {
  (*(int *)ctx)++;
  return cpay_client_info_add_metadata(info, "authorization", CPAY_STR("Bearer t"));
}

static cpay_code need_token(void *ctx, cpay_server_call *call, const cpay_method *m,
                            const void *req) {
  if (cpay_str_eq(cpay_server_call_metadata_get(call, "authorization"), CPAY_STR("Bearer t"))) {
    return CPAY_OK;
  }
  return cpay_server_call_set_status(call, CPAY_GRPC_PERMISSION_DENIED, "token needed for %s", m->name);
}

START_TEST(test_grpc_interceptors) {
  // Server side: a fresh server with a token check.
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(NULL, &st);
  int port;
  ck_assert_int_eq(payments_v1_PaymentService_register(srv, &testsvc_handlers, &t), CPAY_OK);
  ck_assert_int_eq(cpay_server_add_interceptor(srv, &(cpay_server_interceptor){need_token, NULL, NULL}, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_listen(srv, "127.0.0.1:0", NULL, &port, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_start(srv, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_add_interceptor(srv, &(cpay_server_interceptor){need_token, NULL, NULL}, &st), CPAY_ERR_INVALID_ARGUMENT);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;

  int denied = 0, added = 0;
  cpay_client_interceptor deny[] = {{deny_all, &denied}};
  cpay_channel_opts copts = {.interceptors = deny, .interceptor_count = 1};
  cpay_channel *ch = cpay_channel_new(target, &copts, NULL);
  cpay_status_clear(&st);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "k"), a, &resp, &st),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, "no calls today");
  ck_assert_int_eq(denied, 1);
  cpay_channel_free(ch);

  ch = cpay_channel_new(target, NULL, NULL);
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.result = &res};
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_PERMISSION_DENIED);
  ck_assert_str_eq(res.message.data, "token needed for ChargeCard");
  cpay_channel_free(ch);

  cpay_client_interceptor chain[] = {{add_token, &added}, {add_token, &added}};
  copts = (cpay_channel_opts){.interceptors = chain, .interceptor_count = 2};
  ch = cpay_channel_new(target, &copts, NULL);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_int_eq(added, 2);
  ck_assert_int_eq(atomic_load(&t.unary_calls), 1);
  cpay_channel_free(ch);
  cpay_arena_free(a);
  cpay_server_free(srv);
}
END_TEST

START_TEST(test_grpc_size_limits_and_compression) {
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.result = &res};
  // The server accepts 64 KiB.
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  payments_v1_ChargeRequest *big = req_for(a, "c", "k");
  char *desc = cpay_arena_realloc(a, NULL, 0, 100000);
  memset(desc, 'd', 100000);
  payments_v1_ChargeRequest_set_description(big, (cpay_str){desc, 100000});
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL), CPAY_ERR_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(res.code, CPAY_GRPC_RESOURCE_EXHAUSTED);
  // The limit counts decompressed bytes: gzip does not sneak it past.
  opts.compression = "gzip";
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL), CPAY_ERR_RESOURCE_EXHAUSTED);
  payments_v1_ChargeRequest_set_description(big, (cpay_str){desc, 30000});
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL), CPAY_OK);
  opts.compression = "deflate";
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL), CPAY_OK);
  opts.compression = "zstd-nope";
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL),
                   CPAY_ERR_INVALID_ARGUMENT);
  cpay_channel_free(ch);
  // A client limit on responses.
  cpay_channel_opts copts = {.max_recv_size = 1000};
  ch = cpay_channel_new(g_target, &copts, NULL);
  opts = (cpay_call_opts){.result = &res};
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "big:5000", "k"), a, &resp, NULL),
                   CPAY_ERR_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(res.code, CPAY_GRPC_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "big:500", "k"), a, &resp, NULL),
                   CPAY_OK);
  cpay_channel_free(ch);
  cpay_arena_free(a);
}
END_TEST

// The server's metadata and per-call memory limits: requests past them end
// with RESOURCE_EXHAUSTED (and say why), smaller ones pass, and the server
// keeps serving.
START_TEST(test_grpc_metadata_and_memory_limits) {
  testsvc t;
  memset(&t, 0, sizeof t);
  int port;
  cpay_server_opts sopts = {.workers = 2, .max_metadata_size = 2048, .max_call_memory = 32 * 1024};
  cpay_server *srv = testsvc_server_with(&t, g_handlers, &sopts, &port);
  ck_assert_ptr_nonnull(srv);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.result = &res};
  cpay_status st = {0};

  char *pad = cpay_arena_realloc(a, NULL, 0, 60000);
  memset(pad, 'p', 60000);
  cpay_md md[1] = {{CPAY_STR("x-pad"), {pad, 4000}}};
  opts.metadata = md;
  opts.metadata_count = 1;
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, &st),
                   CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_RESOURCE_EXHAUSTED);
  // C-core may end the connection after headers past the limit (the HPACK
  // state is then in doubt), so the next call gets a channel of its own.
  cpay_channel_free(ch);
  ch = cpay_channel_new(target, NULL, NULL);
  md[0].value.size = 500;
  ck_assert_msg(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp,
                                                      &st) == CPAY_OK,
                "%s", cpay_status_msg(&st));

  // 40000 bytes fit the 64 KiB message limit but not the 32 KiB of memory.
  opts = (cpay_call_opts){.result = &res};
  payments_v1_ChargeRequest *big = req_for(a, "c", "k");
  payments_v1_ChargeRequest_set_description(big, (cpay_str){pad, 40000});
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, &st), CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_RESOURCE_EXHAUSTED);
  ck_assert_msg(strstr(res.message.data, "byte limit") != NULL, "%s", res.message.data);
  payments_v1_ChargeRequest_set_description(big, (cpay_str){pad, 4000});
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, &st), CPAY_OK);

  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

typedef struct slow_job {
  const char *customer;
  int64_t timeout_ms;
  cpay_code code;
  cpay_grpc_code grpc;
} slow_job;

static void *slow_call(void *arg) {
  slow_job *j = arg;
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.timeout_ms = j->timeout_ms, .result = &res};
  j->code = payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, j->customer, "k"), a, &resp, NULL);
  j->grpc = res.code;
  cpay_arena_free(a);
  cpay_channel_free(ch);
  return NULL;
}

START_TEST(test_grpc_worker_limit) {
  // 4 workers: 8 calls of 300 ms take two rounds, never more than 4 at once.
  pthread_t th[8];
  slow_job jobs[8];
  double t0 = now_ms();
  for (int i = 0; i < 8; i++) {
    jobs[i] = (slow_job){"sleep:300", 10000, 0, 0};
    pthread_create(&th[i], NULL, slow_call, &jobs[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    ck_assert_int_eq(jobs[i].code, CPAY_OK);
  }
  double took = now_ms() - t0;
  ck_assert_int_eq(atomic_load(&g_t.max_active), 4);
  ck_assert_msg(took >= 590, "8 calls on 4 workers took %.0f ms", took);
}
END_TEST

// A second cpay_server_shutdown, from another thread once the first has
// begun: returns when the first has (the grace is the first's).
static void *second_shutdown(void *arg) {
  for (int i = 0; i < 2000 && !atomic_load(&g_shutdown_began); i++) testsvc_sleep_ms(1);
  double t0 = now_ms();
  cpay_server_shutdown(g_srv, 0);
  *(double *)arg = now_ms() - t0;
  return NULL;
}

// The first shutdown, with 5 s of grace, from a thread of its own so the
// test can watch the drain.
static void *first_shutdown(void *arg) {
  (void)arg;
  cpay_server_shutdown(g_srv, 5000);
  return NULL;
}

// The drain: calls running when cpay_server_shutdown begins all finish OK;
// health says NOT_SERVING at once, while they still run; a new call is
// refused before any handler; a second shutdown waits for the first.
START_TEST(test_grpc_graceful_shutdown) {
  enum { kCalls = 3 };
  cpay_channel *hch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  grpc_health_v1_HealthCheckRequest *hreq = grpc_health_v1_HealthCheckRequest_new(a);
  grpc_health_v1_HealthCheckResponse *hresp;
  cpay_call *watch;
  ck_assert_int_eq(grpc_health_v1_Health_Watch(hch, NULL, hreq, &watch, &st), CPAY_OK);
  ck_assert_int_eq(grpc_health_v1_Health_Watch_recv(watch, a, &hresp, &st), CPAY_OK);
  ck_assert_int_eq(hresp->status, grpc_health_v1_HealthCheckResponse_SERVING);

  pthread_t th[kCalls], sth, th2;
  slow_job j[kCalls];
  for (int i = 0; i < kCalls; i++) {
    j[i] = (slow_job){"sleep:1000", 10000, -1, -1};
    pthread_create(&th[i], NULL, slow_call, &j[i]);
  }
  for (int i = 0; i < 5000 && atomic_load(&g_t.active) < kCalls; i++) testsvc_sleep_ms(1);
  ck_assert_int_eq(atomic_load(&g_t.active), kCalls);  // all running
  // The first shutdown (5 s of grace) begins; a second one while it waits.
  double took2 = -1;
  pthread_create(&sth, NULL, first_shutdown, NULL);
  pthread_create(&th2, NULL, second_shutdown, &took2);

  // Health turns NOT_SERVING while the calls still run.
  ck_assert_int_eq(grpc_health_v1_Health_Watch_recv(watch, a, &hresp, &st), CPAY_OK);
  ck_assert_ptr_nonnull(hresp);
  ck_assert_int_eq(hresp->status, grpc_health_v1_HealthCheckResponse_NOT_SERVING);
  ck_assert_int_eq(atomic_load(&g_t.active), kCalls);
  cpay_call_free(watch);

  // New calls fail UNAVAILABLE and never reach a handler, on a new
  // connection (a channel of its own: channels otherwise share the
  // connection to a target) and on the one that was open: the server
  // refuses them itself while it drains, before any GOAWAY.
  for (int i = 0; i < 2000 && !atomic_load(&g_shutdown_began); i++) testsvc_sleep_ms(1);
  ck_assert(atomic_load(&g_shutdown_began));
  int unary_before = atomic_load(&g_t.unary_calls);
  cpay_channel_opts own = {.own_connection = true};
  cpay_channel *nch = cpay_channel_new(g_target, &own, NULL);
  ck_assert_ptr_nonnull(nch);
  cpay_channel *chs[2] = {nch, hch};
  for (int i = 0; i < 2; i++) {
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts opts = {.timeout_ms = 5000, .result = &res};
    payments_v1_ChargeResponse *resp;
    ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(chs[i], &opts, req_for(a, "c", "late"), a,
                                                           &resp, &st),
                     CPAY_OK);
    ck_assert_msg(res.code == CPAY_GRPC_UNAVAILABLE && res.message.data &&
                      strstr(res.message.data, "shutting down"),
                  "channel %d: %s: %s", i, cpay_grpc_code_name(res.code),
                  res.message.data ? res.message.data : "");
  }
  ck_assert_int_eq(atomic_load(&g_t.unary_calls), unary_before);

  pthread_join(sth, NULL);
  pthread_join(th2, NULL);
  for (int i = 0; i < kCalls; i++) {
    pthread_join(th[i], NULL);
    // Drained: not cut short by the second shutdown, nor by the grace.
    ck_assert_msg(j[i].code == CPAY_OK, "call %d: %s", i, cpay_grpc_code_name(j[i].grpc));
  }
  ck_assert_msg(took2 >= 100, "the second shutdown returned after %.0f ms, before the first", took2);
  cpay_server_shutdown(g_srv, 0);  // idempotent
  cpay_channel_free(nch);
  cpay_channel_free(hch);
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_grpc_forced_shutdown) {
  pthread_t th;
  slow_job j = {"sleep:20000", 30000, -1, -1};
  pthread_create(&th, NULL, slow_call, &j);
  testsvc_sleep_ms(150);
  double t0 = now_ms();
  cpay_server_shutdown(g_srv, 200);
  double took = now_ms() - t0;
  pthread_join(th, NULL);
  ck_assert_int_ne(j.code, CPAY_OK);
  ck_assert_msg(j.grpc == CPAY_GRPC_CANCELLED || j.grpc == CPAY_GRPC_UNAVAILABLE, "%s",
                cpay_grpc_code_name(j.grpc));
  ck_assert_msg(took < 2000, "forced shutdown took %.0f ms", took);
}
END_TEST

// Connection age: a server with max_connection_age 300 ms (grace 1 s).
// A client calling in a loop for about 2 s has its connection replaced
// (the server sees more than one client port: cpay_server_call_peer), and
// no call fails: GOAWAY lets running calls finish and sends new ones to a
// new connection.
START_TEST(test_grpc_connection_age) {
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_server_opts sopts = {.workers = 4, .max_connection_age_ms = 300,
                            .max_connection_age_grace_ms = 1000};
  int port;
  cpay_server *srv = testsvc_server(&t, &sopts, &port);
  ck_assert_ptr_nonnull(srv);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  ck_assert_ptr_nonnull(ch);
  char peers[16][64];
  int npeers = 0, calls = 0;
  double t0 = now_ms();
  // Bounded both ways: about 2 s, at most 400 calls.
  while (calls < 400 && now_ms() - t0 < 2000) {
    cpay_arena *a = cpay_arena_new();
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts opts = {.timeout_ms = 5000, .result = &res};
    payments_v1_ChargeResponse *resp;
    cpay_status st = {0};
    cpay_code c = payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "peer", "k"), a, &resp, &st);
    ck_assert_msg(c == CPAY_OK, "call %d failed: %s (%s)", calls, cpay_grpc_code_name(res.code),
                  res.message.data ? res.message.data : "");
    calls++;
    cpay_str p = resp->processor_reference;
    ck_assert_uint_gt(p.size, 0);
    ck_assert_uint_lt(p.size, sizeof peers[0]);
    bool seen = false;
    for (int i = 0; i < npeers && !seen; i++) seen = cpay_str_eq(p, cpay_str_from_c(peers[i]));
    if (!seen && npeers < 16) {
      memcpy(peers[npeers], p.data, p.size);
      peers[npeers][p.size] = '\0';
      npeers++;
    }
    cpay_arena_free(a);
    testsvc_sleep_ms(10);
  }
  ck_assert_msg(npeers >= 2, "one connection (%s) for %d calls over 2 s", peers[0], calls);
  ck_assert_int_eq(atomic_load(&t.unary_calls), calls);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

typedef struct lame_shutdown {
  cpay_server *srv;
  atomic_int done;
} lame_shutdown;

static void *lame_shutdown_run(void *arg) {
  lame_shutdown *ls = arg;
  cpay_server_shutdown(ls->srv, 2000);
  atomic_store(&ls->done, 1);
  return NULL;
}

// One ChargeCard on `ch`: its gRPC code; `msg` gets the status message.
static cpay_grpc_code charge_code(cpay_channel *ch, char *msg, size_t cap) {
  cpay_arena *a = cpay_arena_new();
  cpay_rpc_result res = {.arena = a};
  cpay_call_opts opts = {.timeout_ms = 5000, .result = &res};
  payments_v1_ChargeResponse *resp;
  cpay_code c = payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "lame", "k"), a, &resp,
                                                      NULL);
  snprintf(msg, cap, "%.*s", (int)res.message.size, res.message.data ? res.message.data : "");
  cpay_grpc_code code = c == CPAY_OK ? CPAY_GRPC_OK : res.code;
  cpay_arena_free(a);
  return code;
}

// Lame duck: from the moment shutdown begins, health says NOT_SERVING while
// calls are still served; after lame_duck_ms they are refused UNAVAILABLE
// (or the connection is gone), and never reach a handler.
START_TEST(test_grpc_lame_duck) {
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_server_opts sopts = {.workers = 4, .lame_duck_ms = 600};
  int port;
  cpay_server *srv = testsvc_server(&t, &sopts, &port);
  ck_assert_ptr_nonnull(srv);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  char msg[256];
  ck_assert_int_eq(charge_code(ch, msg, sizeof msg), CPAY_GRPC_OK);

  lame_shutdown ls = {.srv = srv};
  pthread_t th;
  double t0 = now_ms();
  pthread_create(&th, NULL, lame_shutdown_run, &ls);
  cpay_arena *a = cpay_arena_new();
  grpc_health_v1_HealthCheckRequest *hreq = grpc_health_v1_HealthCheckRequest_new(a);
  grpc_health_v1_HealthCheckResponse *hresp = NULL;
  bool not_serving = false;
  for (int i = 0; i < 200 && !not_serving; i++) {  // 2 s at most
    ck_assert_int_eq(grpc_health_v1_Health_Check(ch, NULL, hreq, a, &hresp, NULL), CPAY_OK);
    not_serving = hresp->status == grpc_health_v1_HealthCheckResponse_NOT_SERVING;
    if (!not_serving) testsvc_sleep_ms(10);
  }
  ck_assert(not_serving);
  // Still within the lame duck (600 ms) when NOT_SERVING was seen quickly:
  // calls are served.
  int served = atomic_load(&t.unary_calls);
  if (now_ms() - t0 < 300) {
    ck_assert_msg(charge_code(ch, msg, sizeof msg) == CPAY_GRPC_OK, "lame duck: %s", msg);
    ck_assert_int_eq(atomic_load(&t.unary_calls), served + 1);
    ck_assert(!atomic_load(&ls.done));
  }
  pthread_join(th, NULL);
  ck_assert_msg(now_ms() - t0 >= 600, "shutdown returned after %.0f ms, before the lame duck ended",
                now_ms() - t0);
  served = atomic_load(&t.unary_calls);
  ck_assert_int_eq(charge_code(ch, msg, sizeof msg), CPAY_GRPC_UNAVAILABLE);
  ck_assert_int_eq(atomic_load(&t.unary_calls), served);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
  // A server that never started (its port taken, say) is freed at once,
  // without its lame duck.
  cpay_server_opts slow = {.lame_duck_ms = 5000};
  cpay_server *idle = cpay_server_new(&slow, NULL);
  ck_assert_ptr_nonnull(idle);
  t0 = now_ms();
  cpay_server_shutdown(idle, 1000);
  cpay_server_free(idle);
  ck_assert_msg(now_ms() - t0 < 2500, "a server that never started took %.0f ms to shut down",
                now_ms() - t0);
  cpay_status st = {0};
  cpay_server_opts bad = {.lame_duck_ms = -1};
  ck_assert_ptr_null(cpay_server_new(&bad, &st));
  ck_assert_ptr_nonnull(strstr(st.msg, "lame_duck_ms"));
}
END_TEST

// A call that outlives the connection's age and grace is ended by the
// server: C-core closes the connection and the client sees UNAVAILABLE;
// the handler sees the call cancelled.
START_TEST(test_grpc_connection_age_grace_ends_calls) {
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_server_opts sopts = {.workers = 4, .max_connection_age_ms = 300,
                            .max_connection_age_grace_ms = 300};
  int port;
  cpay_server *srv = testsvc_server(&t, &sopts, &port);
  ck_assert_ptr_nonnull(srv);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_rpc_result res = {.arena = a};
  // "headers": initial metadata, then nothing until cancelled. The
  // deadline (15 s) is far beyond age + grace: DEADLINE_EXCEEDED would
  // mean the server never ended the call.
  cpay_call_opts opts = {.timeout_ms = 15000, .result = &res};
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("headers");
  cpay_call *call;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, &st), CPAY_OK);
  payments_v1_Transaction *tx = NULL;
  cpay_code c = payments_v1_PaymentService_StreamTransactions_recv(call, a, &tx, &st);
  ck_assert_ptr_null(tx);
  (void)c;
  c = payments_v1_PaymentService_StreamTransactions_finish(call, &st);
  ck_assert_int_ne(c, CPAY_OK);
  ck_assert_msg(res.code == CPAY_GRPC_UNAVAILABLE, "%s: %s", cpay_grpc_code_name(res.code),
                res.message.data ? res.message.data : "");
  cpay_call_free(call);
  // The handler was told and returned.
  for (int i = 0; i < 5000 && atomic_load(&t.streams_ended) < 1; i++) testsvc_sleep_ms(1);
  ck_assert_int_eq(atomic_load(&t.streams_ended), 1);
  ck_assert_int_eq(atomic_load(&t.streams_saw_cancel), 1);
  // The channel connects again for the next call.
  payments_v1_ChargeResponse *resp;
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "k2"), a, &resp, &st),
                   CPAY_OK);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

START_TEST(test_grpc_connection_age_refused) {
  cpay_status st = {0};
  cpay_server_opts o = {.max_connection_age_ms = -1};
  ck_assert_ptr_null(cpay_server_new(&o, &st));
  ck_assert_int_eq(st.code, CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_msg(strstr(st.msg, "max_connection_age_ms -1") != NULL, "%s", st.msg);
  o = (cpay_server_opts){.max_connection_age_grace_ms = -5};
  cpay_status_clear(&st);
  ck_assert_ptr_null(cpay_server_new(&o, &st));
  ck_assert_int_eq(st.code, CPAY_ERR_INVALID_ARGUMENT);
  o = (cpay_server_opts){.max_connection_idle_ms = -5};
  cpay_status_clear(&st);
  ck_assert_ptr_null(cpay_server_new(&o, &st));
  ck_assert_int_eq(st.code, CPAY_ERR_INVALID_ARGUMENT);
  o = (cpay_server_opts){.max_connection_age_ms = 60000, .max_connection_age_grace_ms = 5000,
                         .max_connection_idle_ms = 300000};
  cpay_status_clear(&st);
  cpay_server *srv = cpay_server_new(&o, &st);
  ck_assert_ptr_nonnull(srv);
  cpay_server_free(srv);
}
END_TEST

START_TEST(test_grpc_streams) {
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_call *call;
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->since_unix = 50;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, NULL, sreq, &call, &st), CPAY_OK);
  int n = 0;
  payments_v1_Transaction *t;
  while (payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st) == CPAY_OK && t) {
    ck_assert_int_eq(t->amount_cents, n);
    n++;
  }
  ck_assert_int_eq(n, 50);
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_finish(call, &st), CPAY_OK);
  cpay_call_free(call);

  ck_assert_int_eq(payments_v1_PaymentService_BatchCharge(ch, NULL, &call, &st), CPAY_OK);
  for (int i = 0; i < 20; i++) {
    payments_v1_ChargeRequest *r = req_for(a, "c", "k");
    r->amount_cents = i % 5;  // every fifth fails
    ck_assert_int_eq(payments_v1_PaymentService_BatchCharge_send(call, r, &st), CPAY_OK);
  }
  payments_v1_BatchChargeResponse *br;
  ck_assert_int_eq(payments_v1_PaymentService_BatchCharge_finish(call, a, &br, &st), CPAY_OK);
  ck_assert_int_eq(br->total, 20);
  ck_assert_int_eq(br->failed, 4);
  cpay_call_free(call);

  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat(ch, NULL, &call, &st), CPAY_OK);
  for (int i = 0; i < 10; i++) {
    payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(a), *back;
    m->sent_at_unix = i;
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_send(call, m, &st), CPAY_OK);
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_recv(call, a, &back, &st), CPAY_OK);
    ck_assert_int_eq(back->sent_at_unix, i);
  }
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_close_send(call, &st), CPAY_OK);
  payments_v1_PaymentMessage *end;
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_recv(call, a, &end, &st), CPAY_OK);
  ck_assert_ptr_null(end);
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_finish(call, &st), CPAY_OK);
  // Misuse is an error, not a crash.
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_send(call, end ? end : payments_v1_PaymentMessage_new(a), &st),
                   CPAY_ERR_INVALID_ARGUMENT);
  cpay_call_free(call);
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

typedef struct blocked_job {
  cpay_channel *ch;
  cpay_code code;
  cpay_rpc_result res;
  double took;
} blocked_job;

// A unary call the handler holds for 20 s, on the job's channel.
static void *blocked_call(void *arg) {
  blocked_job *j = arg;
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_call_opts opts = {.timeout_ms = 30000, .result = &j->res};
  double t0 = now_ms();
  j->code = payments_v1_PaymentService_ChargeCard(j->ch, &opts, req_for(a, "sleep:20000", "k"), a,
                                                  &resp, NULL);
  j->took = now_ms() - t0;
  cpay_arena_free(a);
  return NULL;
}

START_TEST(test_grpc_channel_free_cancels_calls) {
  // A stream with messages still coming, and a unary call blocked in
  // another thread: freeing their channel ends both at once, CANCELLED.
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_rpc_result res = {0};
  cpay_call_opts sopts = {.timeout_ms = 30000, .result = &res};
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("forever");
  cpay_call *call;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &sopts, sreq, &call, &st), CPAY_OK);
  payments_v1_Transaction *t;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st), CPAY_OK);
  ck_assert_ptr_nonnull(t);

  blocked_job j = {.ch = ch, .code = CPAY_OK, .res = {.arena = a}};
  pthread_t th;
  pthread_create(&th, NULL, blocked_call, &j);
  while (atomic_load(&g_t.active) < 2) testsvc_sleep_ms(5);  // both handlers run

  double t0 = now_ms();
  cpay_channel_free(ch);
  pthread_join(th, NULL);
  ck_assert_int_ne(j.code, CPAY_OK);
  ck_assert_int_eq(j.res.code, CPAY_GRPC_CANCELLED);
  ck_assert_str_eq(j.res.message.data, "the channel was closed");
  ck_assert_msg(j.took < 5000, "the blocked call ran on for %.0f ms", j.took);

  // The stream's call outlives its channel: reading ends, the status says why.
  cpay_code rc;
  while ((rc = payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st)) == CPAY_OK && t) {
  }
  ck_assert_int_ne(payments_v1_PaymentService_StreamTransactions_finish(call, &st), CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_CANCELLED);
  ck_assert_msg(strstr(st.msg, "the channel was closed"), "%s", st.msg);
  ck_assert_msg(now_ms() - t0 < 5000, "the stream ran on for %.0f ms", now_ms() - t0);
  cpay_call_free(call);
  cpay_arena_free(a);
  // The server saw both calls cancelled and its handlers returned.
  for (int i = 0; i < 400 && atomic_load(&g_t.active) > 0; i++) testsvc_sleep_ms(5);
  ck_assert_int_eq(atomic_load(&g_t.active), 0);
  ck_assert_int_eq(atomic_load(&g_t.streams_saw_cancel), 1);
}
END_TEST

// The client address and port the server sees for a call on `ch`, as a C
// string on `a`.
static char *peer_of(cpay_channel *ch, cpay_arena *a) {
  cpay_status st = {0};
  payments_v1_ChargeResponse *resp = NULL;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "peer", "k"), a, &resp, &st);
  ck_assert_msg(rc == CPAY_OK, "%s", st.msg);
  cpay_str peer = resp->processor_reference;
  ck_assert_uint_gt(peer.size, 0);
  char *s = cpay_arena_malloc(a, peer.size + 1);
  ck_assert_ptr_nonnull(s);
  memcpy(s, peer.data, peer.size);
  s[peer.size] = '\0';
  return s;
}

START_TEST(test_grpc_own_connection) {
  // Two channels to one target share a connection unless own_connection.
  cpay_arena *a = cpay_arena_new();
  cpay_channel *s1 = cpay_channel_new(g_target, NULL, NULL);
  cpay_channel *s2 = cpay_channel_new(g_target, NULL, NULL);
  char *q1 = peer_of(s1, a), *q2 = peer_of(s2, a);
  ck_assert_str_eq(q1, q2);
  cpay_channel_opts o = {.own_connection = true};
  cpay_channel *o1 = cpay_channel_new(g_target, &o, NULL);
  cpay_channel *o2 = cpay_channel_new(g_target, &o, NULL);
  char *p1 = peer_of(o1, a), *p2 = peer_of(o2, a);
  ck_assert_str_ne(p1, p2);
  ck_assert_str_ne(p1, q1);
  // Each keeps its own connection from call to call.
  char *p1_again = peer_of(o1, a);
  ck_assert_str_eq(p1, p1_again);
  cpay_channel_free(o2);
  cpay_channel_free(o1);
  cpay_channel_free(s2);
  cpay_channel_free(s1);
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_grpc_finish_undrained_stream) {
  // finish on a stream with responses unread waits for the deadline (C-core
  // gives the status after the last message); cancel first to stop early.
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.timeout_ms = 600, .result = &res};
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->since_unix = 50;
  cpay_call *call;
  payments_v1_Transaction *t;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, &st), CPAY_OK);
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st), CPAY_OK);
  double t0 = now_ms();
  ck_assert_int_ne(payments_v1_PaymentService_StreamTransactions_finish(call, &st), CPAY_OK);
  double took = now_ms() - t0;
  ck_assert_int_eq(res.code, CPAY_GRPC_DEADLINE_EXCEEDED);
  ck_assert_msg(took > 300, "finish returned after %.0f ms", took);
  cpay_call_free(call);

  opts.timeout_ms = 30000;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, &st), CPAY_OK);
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st), CPAY_OK);
  t0 = now_ms();
  cpay_call_cancel(call);
  ck_assert_int_ne(payments_v1_PaymentService_StreamTransactions_finish(call, &st), CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_CANCELLED);
  ck_assert_msg(now_ms() - t0 < 5000, "finish after cancel took %.0f ms", now_ms() - t0);
  cpay_call_free(call);
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_grpc_health_shutdown) {
  cpay_channel *ch = cpay_channel_new(g_target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  grpc_health_v1_HealthCheckRequest *req = grpc_health_v1_HealthCheckRequest_new(a);
  req->service = CPAY_STR("payments.v1.PaymentService");
  grpc_health_v1_HealthCheckResponse *resp;
  ck_assert_int_eq(grpc_health_v1_Health_Check(ch, NULL, req, a, &resp, &st), CPAY_OK);
  ck_assert_int_eq(resp->status, grpc_health_v1_HealthCheckResponse_SERVING);
  cpay_server_set_serving(g_srv, "payments.v1.PaymentService", false);
  ck_assert_int_eq(grpc_health_v1_Health_Check(ch, NULL, req, a, &resp, &st), CPAY_OK);
  ck_assert_int_eq(resp->status, grpc_health_v1_HealthCheckResponse_NOT_SERVING);
  cpay_server_set_serving(g_srv, "payments.v1.PaymentService", true);
  cpay_call *call;
  ck_assert_int_eq(grpc_health_v1_Health_Watch(ch, NULL, req, &call, &st), CPAY_OK);
  ck_assert_int_eq(grpc_health_v1_Health_Watch_recv(call, a, &resp, &st), CPAY_OK);
  ck_assert_int_eq(resp->status, grpc_health_v1_HealthCheckResponse_SERVING);
  cpay_server_shutdown(g_srv, 3000);
  ck_assert_int_eq(grpc_health_v1_Health_Watch_recv(call, a, &resp, &st), CPAY_OK);
  ck_assert_ptr_nonnull(resp);
  ck_assert_int_eq(resp->status, grpc_health_v1_HealthCheckResponse_NOT_SERVING);
  cpay_call_free(call);
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

START_TEST(test_grpc_tls) {
  if (system("command -v openssl >/dev/null 2>&1") != 0) {
    fprintf(stderr, "# openssl not found: TLS test skipped\n");
    return;
  }
  char dir[] = "/tmp/cpay-tls-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem "
           ">/dev/null 2>&1", dir, dir);
  ck_assert_int_eq(system(cmd), 0);
  char path[256];
  snprintf(path, sizeof path, "%s/cert.pem", dir);
  char *cert = slurp(path);
  snprintf(path, sizeof path, "%s/key.pem", dir);
  char *key = slurp(path);
  ck_assert(cert && key);
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(NULL, &st);
  int port;
  cpay_server_tls_opts stls = {.cert_chain = cert, .private_key = key};
  ck_assert_int_eq(payments_v1_PaymentService_register(srv, &testsvc_handlers, &t), CPAY_OK);
  ck_assert_int_eq(cpay_server_listen(srv, "127.0.0.1:0", &stls, &port, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_start(srv, &st), CPAY_OK);
  char target[32];
  // By address, with the name the certificate holds given explicitly
  // (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG underneath).
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;

  cpay_tls_opts tls = {.root_certs = cert, .server_name = "localhost"};
  cpay_channel_opts copts = {.tls = &tls, .default_timeout_ms = 5000};
  cpay_channel *ch = cpay_channel_new(target, &copts, &st);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "tls"), a, &resp, &st),
                   CPAY_OK);
  ck_assert(cpay_str_eq(resp->transaction_id, CPAY_STR("tls")));
  cpay_channel_free(ch);

  // A name the certificate does not hold fails the handshake.
  cpay_tls_opts wrong = {.root_certs = cert, .server_name = "payments.example.com"};
  copts = (cpay_channel_opts){.tls = &wrong, .default_timeout_ms = 2000};
  ch = cpay_channel_new(target, &copts, &st);
  cpay_rpc_result bad = {0};
  cpay_call_opts bopts = {.result = &bad};
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &bopts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_int_eq(bad.code, CPAY_GRPC_UNAVAILABLE);
  cpay_channel_free(ch);

  // Plaintext against the TLS port fails cleanly.
  copts = (cpay_channel_opts){.default_timeout_ms = 2000};
  ch = cpay_channel_new(target, &copts, &st);
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.result = &res};
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_int_eq(res.code, CPAY_GRPC_UNAVAILABLE);
  cpay_channel_free(ch);
  cpay_server_free(srv);

  // Mutual TLS: the server requires a client certificate signed by its CA
  // (the self-signed certificate is its own CA).
  memset(&t, 0, sizeof t);
  srv = cpay_server_new(NULL, &st);
  cpay_server_tls_opts mtls = {.cert_chain = cert, .private_key = key, .client_root_certs = cert,
                               .require_client_cert = true};
  ck_assert_int_eq(payments_v1_PaymentService_register(srv, &testsvc_handlers, &t), CPAY_OK);
  ck_assert_int_eq(cpay_server_listen(srv, "127.0.0.1:0", &mtls, &port, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_start(srv, &st), CPAY_OK);
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_tls_opts with_cert = {.root_certs = cert, .cert_chain = cert, .private_key = key,
                             .server_name = "localhost"};
  copts = (cpay_channel_opts){.tls = &with_cert, .default_timeout_ms = 5000};
  ch = cpay_channel_new(target, &copts, &st);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "mtls"), a, &resp, &st),
                   CPAY_OK);
  cpay_channel_free(ch);
  copts = (cpay_channel_opts){.tls = &tls, .default_timeout_ms = 2000};  // no client cert
  ch = cpay_channel_new(target, &copts, &st);
  bad = (cpay_rpc_result){0};
  ck_assert_int_ne(payments_v1_PaymentService_ChargeCard(ch, &bopts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_int_eq(bad.code, CPAY_GRPC_UNAVAILABLE);
  ck_assert_int_eq(atomic_load(&t.unary_calls), 1);
  cpay_channel_free(ch);
  // A certificate without its key is refused before anything is sent.
  cpay_tls_opts half = {.root_certs = cert, .cert_chain = cert};
  copts = (cpay_channel_opts){.tls = &half};
  cpay_status_clear(&st);
  ck_assert_ptr_null(cpay_channel_new(target, &copts, &st));
  ck_assert_int_eq(st.code, CPAY_ERR_INVALID_ARGUMENT);

  cpay_arena_free(a);
  cpay_server_free(srv);
  free(cert);
  free(key);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

// The tests that hold for both handler styles.
static void add_common(TCase *tc) {
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_grpc_code_table);
  tcase_add_test(tc, test_grpc_unary_metadata);
  tcase_add_test(tc, test_grpc_metadata_and_memory_limits);
  tcase_add_test(tc, test_grpc_deadlines);
  tcase_add_test(tc, test_grpc_interceptors);
  tcase_add_test(tc, test_grpc_size_limits_and_compression);
  tcase_add_test(tc, test_grpc_graceful_shutdown);
  tcase_add_test(tc, test_grpc_forced_shutdown);
  tcase_add_test(tc, test_grpc_streams);
  tcase_add_test(tc, test_grpc_channel_free_cancels_calls);
  tcase_add_test(tc, test_grpc_finish_undrained_stream);
  tcase_add_test(tc, test_grpc_own_connection);
  tcase_add_test(tc, test_grpc_health_shutdown);
  tcase_add_test(tc, test_grpc_tls);
}

static Suite *grpc_suite(void) {
  Suite *s = suite_create("grpc");
  TCase *tc = tcase_create("api");
  tcase_add_checked_fixture(tc, setup, teardown);
  add_common(tc);
  tcase_add_test(tc, test_grpc_worker_limit);
  tcase_add_test(tc, test_grpc_connection_age);
  tcase_add_test(tc, test_grpc_lame_duck);
  tcase_add_test(tc, test_grpc_connection_age_grace_ends_calls);
  tcase_add_test(tc, test_grpc_connection_age_refused);
  suite_add_tcase(s, tc);
  TCase *rc = tcase_create("reactor");
  tcase_add_checked_fixture(rc, setup_reactor, teardown);
  add_common(rc);
  suite_add_tcase(s, rc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(grpc_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
