// Channels over several replicas, through the public API, all in one
// process: three testsvc servers on 127.0.0.1, a channel to all of them
// ("ipv4:a,b,c") with round_robin (calls spread over the three), client-side
// health checking (a replica set NOT_SERVING stops getting calls, and gets
// them again once SERVING), typed retry policies (a call failing UNAVAILABLE
// once succeeds on its second attempt; cpay's default policy does the
// same), a per-method timeout, JSON escaping of names, the options refused
// and the channel's connectivity state. Every wait is bounded; nothing is
// timed.
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testsvc.h"

#define N 3
#define CALLS 300
#define WAIT_MS 10000

static testsvc g_t[N];
static cpay_server *g_srv[N];
static int g_port[N];
static char g_all[128];  // "ipv4:127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"

static void setup(void) {
  int off = snprintf(g_all, sizeof g_all, "ipv4:");
  for (int i = 0; i < N; i++) {
    memset(&g_t[i], 0, sizeof g_t[i]);
    cpay_server_opts opts = {.workers = 2};
    g_srv[i] = testsvc_server(&g_t[i], &opts, &g_port[i]);
    ck_assert_ptr_nonnull(g_srv[i]);
    off += snprintf(g_all + off, sizeof g_all - (size_t)off, "%s127.0.0.1:%d", i ? "," : "",
                    g_port[i]);
  }
}

static void teardown(void) {
  for (int i = 0; i < N; i++) cpay_server_free(g_srv[i]);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cpay_code charge(cpay_channel *ch, const cpay_call_opts *opts, const char *customer,
                        cpay_status *st) {
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  r->customer_id = cpay_str_from_c(customer);
  r->idempotency_key = cpay_str_from_c("k");
  payments_v1_ChargeResponse *resp;
  cpay_code code = payments_v1_PaymentService_ChargeCard(ch, opts, r, a, &resp, st);
  cpay_arena_free(a);
  return code;
}

static void counts(int *out) {
  for (int i = 0; i < N; i++) out[i] = atomic_load(&g_t[i].unary_calls);
}

// Calls until every server in `want` (a bit per server) has had one since
// the start, within WAIT_MS: round_robin sends only to connected replicas,
// and they connect one by one.
static void warm_up(cpay_channel *ch, unsigned want) {
  int base[N], now[N];
  counts(base);
  int64_t end = now_ms() + WAIT_MS;
  for (;;) {
    cpay_status st = {0};
    ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
    counts(now);
    unsigned seen = 0;
    for (int i = 0; i < N; i++) {
      if (now[i] > base[i]) seen |= 1u << i;
    }
    if ((seen & want) == want) return;
    ck_assert_msg(now_ms() < end, "replicas 0x%x not reached in %d ms", want & ~seen, WAIT_MS);
    testsvc_sleep_ms(10);
  }
}

// CALLS calls; per server, how many it got.
static void spread(cpay_channel *ch, int *delta) {
  int base[N], now[N];
  counts(base);
  for (int k = 0; k < CALLS; k++) {
    cpay_status st = {0};
    ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "call %d: %s", k, st.msg);
  }
  counts(now);
  for (int i = 0; i < N; i++) delta[i] = now[i] - base[i];
  ck_assert_int_eq(delta[0] + delta[1] + delta[2], CALLS);
}

START_TEST(test_lb_round_robin_spreads) {
  cpay_status st = {0};
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN};
  cpay_channel *ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  warm_up(ch, 7);
  int d[N];
  spread(ch, d);
  // round_robin over three ready replicas takes them in turn: 100 each.
  // Allow some slack; one replica taking everything cannot pass.
  for (int i = 0; i < N; i++) {
    ck_assert_msg(d[i] >= 80 && d[i] <= 120, "server %d got %d of %d", i, d[i], CALLS);
  }
  cpay_channel_free(ch);

  // pick_first, the contrast: one replica gets every call.
  o.lb_policy = CPAY_LB_PICK_FIRST;
  ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  spread(ch, d);
  ck_assert_msg(d[0] == CALLS || d[1] == CALLS || d[2] == CALLS, "pick_first spread %d/%d/%d",
                d[0], d[1], d[2]);
  cpay_channel_free(ch);
}
END_TEST

// Calls until `n` in a row miss server `idx` (got, false) or one reaches it
// (got, true), within WAIT_MS.
static void wait_until_reached(cpay_channel *ch, int idx, bool got) {
  int64_t end = now_ms() + WAIT_MS;
  int run = 0;
  while (got ? run < 1 : run < 30) {
    ck_assert_msg(now_ms() < end, "server %d still %s after %d ms", idx,
                  got ? "unreached" : "reached", WAIT_MS);
    int before = atomic_load(&g_t[idx].unary_calls);
    cpay_status st = {0};
    ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
    bool hit = atomic_load(&g_t[idx].unary_calls) != before;
    if (got) {
      run += hit;
      if (!hit) testsvc_sleep_ms(5);
    } else {
      run = hit ? 0 : run + 1;
    }
  }
}

START_TEST(test_lb_health_checking) {
  cpay_status st = {0};
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN, .health_check_service = ""};
  cpay_channel *ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  // Without health checking, for contrast: a NOT_SERVING replica still
  // gets its share.
  cpay_channel_opts plain = {.lb_policy = CPAY_LB_ROUND_ROBIN, .own_connection = true};
  cpay_channel *ch2 = cpay_channel_new(g_all, &plain, &st);
  ck_assert_msg(ch2 != NULL, "%s", st.msg);
  warm_up(ch, 7);
  warm_up(ch2, 7);

  cpay_server_set_serving(g_srv[0], "", false);
  wait_until_reached(ch, 0, false);
  int d[N];
  spread(ch, d);
  ck_assert_int_eq(d[0], 0);
  ck_assert_msg(d[1] >= 100 && d[2] >= 100, "the serving two got %d and %d", d[1], d[2]);
  spread(ch2, d);
  ck_assert_msg(d[0] >= 80, "without health checking server 0 got %d of %d", d[0], CALLS);

  // Back to SERVING: it gets calls again.
  cpay_server_set_serving(g_srv[0], "", true);
  wait_until_reached(ch, 0, true);
  cpay_channel_free(ch2);
  cpay_channel_free(ch);
}
END_TEST

// Server interceptor: every other call (the first, the third...) fails
// UNAVAILABLE before its handler.
static cpay_code flaky(void *ctx, cpay_server_call *call, const cpay_method *m, const void *req) {
  (void)call;
  (void)m;
  (void)req;
  atomic_int *attempts = ctx;
  return atomic_fetch_add(attempts, 1) % 2 == 0 ? CPAY_ERR_UNAVAILABLE : CPAY_OK;
}

START_TEST(test_lb_retry_policy) {
  testsvc t;
  memset(&t, 0, sizeof t);
  atomic_int attempts;
  atomic_init(&attempts, 0);
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(NULL, &st);
  ck_assert_ptr_nonnull(srv);
  ck_assert_int_eq(payments_v1_PaymentService_register(srv, &testsvc_handlers, &t), CPAY_OK);
  ck_assert_int_eq(cpay_server_add_interceptor(srv, &(cpay_server_interceptor){flaky, NULL, &attempts}, &st), CPAY_OK);
  int port;
  ck_assert_int_eq(cpay_server_listen(srv, "127.0.0.1:0", NULL, &port, &st), CPAY_OK);
  ck_assert_int_eq(cpay_server_start(srv, &st), CPAY_OK);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);

  // No policy: the first failure is the call's.
  cpay_channel *ch = cpay_channel_new(target, NULL, &st);
  ck_assert_int_eq(charge(ch, NULL, "c", NULL), CPAY_ERR_UNAVAILABLE);
  ck_assert_int_eq(atomic_load(&attempts), 1);
  cpay_channel_free(ch);

  // A policy for ChargeCard: the second attempt succeeds.
  atomic_store(&attempts, 0);
  cpay_method_policy p = {.service = "payments.v1.PaymentService", .method = "ChargeCard",
                          .max_attempts = 3, .initial_backoff_ms = 10, .max_backoff_ms = 100,
                          .backoff_multiplier = 2,
                          .retryable_codes = CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE)};
  cpay_channel_opts o = {.method_policies = &p, .method_policy_count = 1, .own_connection = true};
  ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
  ck_assert_int_eq(atomic_load(&attempts), 2);
  ck_assert_int_eq(atomic_load(&t.unary_calls), 1);
  cpay_channel_free(ch);

  // A policy retrying other codes only: no retry.
  atomic_store(&attempts, 0);
  p.retryable_codes = CPAY_GRPC_CODE_BIT(CPAY_GRPC_ABORTED);
  ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  ck_assert_int_eq(charge(ch, NULL, "c", NULL), CPAY_ERR_UNAVAILABLE);
  ck_assert_int_eq(atomic_load(&attempts), 1);
  cpay_channel_free(ch);

  // cpay's default policy, made by the same generator, alongside a policy
  // for another service.
  atomic_store(&attempts, 0);
  cpay_method_policy other = {.service = "other.v1.Svc", .timeout_ms = 1000};
  cpay_channel_opts d = {.retry_unavailable = true, .method_policies = &other,
                         .method_policy_count = 1, .own_connection = true};
  ch = cpay_channel_new(target, &d, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
  ck_assert_int_eq(atomic_load(&attempts), 2);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

START_TEST(test_lb_method_timeout_and_escaping) {
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port[0]);
  // A name with a quote, a backslash and a control character: the config
  // is still valid JSON (C-core would refuse the whole config, and every
  // call with it, otherwise), and the timeout of ChargeCard applies.
  cpay_method_policy p[] = {
      {.service = "we\"ird\\svc\n", .method = "M\x01", .wait_for_ready = true},
      {.service = "payments.v1.PaymentService", .method = "ChargeCard", .timeout_ms = 1000},
  };
  cpay_channel_opts o = {.method_policies = p, .method_policy_count = 2,
                         .lb_policy = CPAY_LB_ROUND_ROBIN};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  ck_assert_msg(cpay_channel_wait_ready(ch, WAIT_MS, &st) == CPAY_OK, "%s", st.msg);
  // The channel's default deadline is 30 s: only the policy's ends it.
  ck_assert_int_eq(charge(ch, NULL, "sleep:5000", &st), CPAY_ERR_DEADLINE_EXCEEDED);
  cpay_channel_free(ch);
}
END_TEST

static void refused(const cpay_channel_opts *o, const char *msg) {
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(g_all, o, &st);
  ck_assert_ptr_null(ch);
  ck_assert_int_eq(st.code, CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, msg);
}

START_TEST(test_lb_invalid_options) {
  const uint32_t unavail = CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE);
  refused(&(cpay_channel_opts){.service_config_json = "{}", .lb_policy = CPAY_LB_ROUND_ROBIN},
          "service_config_json cannot be combined with lb_policy, health_check_service or "
          "method_policies: write all of it in JSON, or none");
  refused(&(cpay_channel_opts){.health_check_service = "x"},
          "health_check_service needs lb_policy CPAY_LB_ROUND_ROBIN (C-core's pick_first "
          "ignores health)");
  refused(&(cpay_channel_opts){.lb_policy = (cpay_lb_policy)7}, "unknown lb_policy 7");
  cpay_method_policy p = {.service = "s.S", .method = "M", .max_attempts = 1,
                          .initial_backoff_ms = 10, .max_backoff_ms = 10,
                          .backoff_multiplier = 2, .retryable_codes = unavail};
  cpay_channel_opts o = {.method_policies = &p, .method_policy_count = 1};
  refused(&o, "method_policies[0] (s.S/M): max_attempts 1 is outside 2..5");
  p.max_attempts = 6;
  refused(&o, "method_policies[0] (s.S/M): max_attempts 6 is outside 2..5");
  p.max_attempts = 5;
  p.initial_backoff_ms = 0;
  refused(&o, "method_policies[0] (s.S/M): backoff must be positive (initial 0 ms, max 10 ms)");
  p.initial_backoff_ms = 10;
  p.backoff_multiplier = 0;
  refused(&o, "method_policies[0] (s.S/M): backoff_multiplier must be positive");
  p.backoff_multiplier = 2;
  p.retryable_codes = 0;
  refused(&o, "method_policies[0] (s.S/M): retryable_codes 0x0 must name at least one status, "
              "and only CANCELLED..UNAUTHENTICATED");
  p.retryable_codes = CPAY_GRPC_CODE_BIT(CPAY_GRPC_OK);
  refused(&o, "method_policies[0] (s.S/M): retryable_codes 0x1 must name at least one status, "
              "and only CANCELLED..UNAUTHENTICATED");
  p.retryable_codes = unavail;
  p.timeout_ms = -1;
  refused(&o, "method_policies[0] (s.S/M): timeout_ms -1 is negative");
  p.timeout_ms = 0;
  cpay_channel_opts with_json = o;
  with_json.service_config_json = "{}";
  refused(&with_json, "service_config_json cannot be combined with lb_policy, "
                      "health_check_service or method_policies: write all of it in JSON, or none");

  cpay_method_policy two[2] = {p, p};
  o = (cpay_channel_opts){.method_policies = two, .method_policy_count = 2};
  refused(&o, "method_policies[1] (s.S/M): the same methods as method_policies[0]");
  two[1] = (cpay_method_policy){.method = "M", .timeout_ms = 5};
  refused(&o, "method_policies[1]: method M needs its service");
  two[1] = (cpay_method_policy){.service = "s.S", .max_backoff_ms = 5};
  refused(&o, "method_policies[1] (s.S/*): retry settings without max_attempts");
  two[1] = (cpay_method_policy){.timeout_ms = 5};
  o.retry_unavailable = true;
  refused(&o, "method_policies[1] is for every service, and so is retry_unavailable: set one of "
              "them");
  o.retry_unavailable = false;

  // Hedging: exclusive with retries, its own bounds, not in JSON.
  cpay_method_policy h = {.service = "s.S", .method = "M",
                          .hedging = {.max_attempts = 2, .hedging_delay_ms = 10}};
  cpay_channel_opts ho = {.method_policies = &h, .method_policy_count = 1};
  cpay_method_policy both = p;
  both.hedging = h.hedging;
  refused(&(cpay_channel_opts){.method_policies = &both, .method_policy_count = 1},
          "method_policies[0] (s.S/M): a retry policy and a hedging policy exclude each other");
  h.hedging.max_attempts = 1;
  refused(&ho, "method_policies[0] (s.S/M): hedging.max_attempts 1 is outside 2..5");
  h.hedging.max_attempts = 6;
  refused(&ho, "method_policies[0] (s.S/M): hedging.max_attempts 6 is outside 2..5");
  h.hedging.max_attempts = 5;
  h.hedging.hedging_delay_ms = -1;
  refused(&ho, "method_policies[0] (s.S/M): hedging.hedging_delay_ms -1 is outside 0..86400000");
  h.hedging.hedging_delay_ms = INT64_MAX;  // would overflow the next attempt's time
  refused(&ho, "method_policies[0] (s.S/M): hedging.hedging_delay_ms 9223372036854775807 is "
               "outside 0..86400000");
  h.hedging.hedging_delay_ms = 0;
  h.hedging.non_fatal_codes = CPAY_GRPC_CODE_BIT(CPAY_GRPC_OK);
  refused(&ho, "method_policies[0] (s.S/M): hedging.non_fatal_codes 0x1 may name only "
               "CANCELLED..UNAUTHENTICATED");
  h.hedging = (cpay_hedging_policy){.non_fatal_codes = unavail};
  refused(&ho, "method_policies[0] (s.S/M): hedging settings without hedging.max_attempts");
  refused(&(cpay_channel_opts){.service_config_json =
                                   "{\"methodConfig\":[{\"name\":[{}],\"hedgingPolicy\":"
                                   "{\"maxAttempts\":2}}]}"},
          "service_config_json: hedgingPolicy is not supported there (C-core 1.51 ignores it); "
          "use method_policies[].hedging");

  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_lb_connectivity_state) {
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port[1]);
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, NULL, &st);
  ck_assert_int_eq(cpay_channel_state(ch, false), CPAY_CONN_IDLE);
  ck_assert_str_eq(cpay_connectivity_name(CPAY_CONN_TRANSIENT_FAILURE), "transient_failure");
  cpay_connectivity s = cpay_channel_state(ch, true);
  int64_t end = now_ms() + WAIT_MS;
  while (s != CPAY_CONN_READY) {
    ck_assert_msg(now_ms() < end, "not ready in %d ms (%s)", WAIT_MS, cpay_connectivity_name(s));
    cpay_connectivity now;
    cpay_code code = cpay_channel_watch_state(ch, s, WAIT_MS, &now, &st);
    ck_assert_msg(code == CPAY_OK, "%s", st.msg);
    ck_assert_int_ne(now, s);
    s = now;
  }
  // Nothing changes: the watch ends at its deadline.
  cpay_connectivity now;
  ck_assert_int_eq(cpay_channel_watch_state(ch, CPAY_CONN_READY, 50, &now, &st),
                   CPAY_ERR_DEADLINE_EXCEEDED);
  ck_assert_int_eq(now, CPAY_CONN_READY);
  ck_assert_str_eq(st.msg, "channel still ready after 50 ms");
  // The server goes: the channel leaves READY.
  cpay_server_free(g_srv[1]);
  g_srv[1] = NULL;
  ck_assert_msg(cpay_channel_watch_state(ch, CPAY_CONN_READY, WAIT_MS, &now, &st) == CPAY_OK,
                "%s", st.msg);
  ck_assert_int_ne(now, CPAY_CONN_READY);
  cpay_channel_free(ch);
}
END_TEST

// ---- targets and wait_for_ready ----------------------------------------------------

// A server with testsvc's blocking handlers listening on `addr`; NULL when
// it cannot listen there (*why says why).
static cpay_server *server_on(testsvc *t, const char *addr, int *port, cpay_status *why) {
  cpay_server *srv = cpay_server_new(&(cpay_server_opts){.workers = 2}, why);
  ck_assert_ptr_nonnull(srv);
  ck_assert_int_eq(payments_v1_PaymentService_register(srv, &testsvc_handlers, t), CPAY_OK);
  if (cpay_server_listen(srv, addr, NULL, port, why) != CPAY_OK) {
    cpay_server_free(srv);
    return NULL;
  }
  ck_assert_int_eq(cpay_server_start(srv, why), CPAY_OK);
  return srv;
}

// `calls` calls on a new channel to `target` with `lb`; all must succeed.
static void call_target(const char *target, cpay_lb_policy lb, int calls) {
  cpay_status st = {0};
  cpay_channel_opts o = {.lb_policy = lb};
  cpay_channel *ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s: %s", target, st.msg);
  for (int k = 0; k < calls; k++) {
    ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s: call %d: %s", target, k, st.msg);
  }
  cpay_channel_free(ch);
}

START_TEST(test_lb_targets) {
  cpay_status st = {0};
  // ipv6: two replicas on ::1, round_robin over both.
  testsvc t6[2];
  memset(t6, 0, sizeof t6);
  cpay_server *s6[2] = {NULL, NULL};
  int p6[2];
  s6[0] = server_on(&t6[0], "[::1]:0", &p6[0], &st);
  if (!s6[0]) {
    printf("# skipped ipv6: cannot listen on [::1]: %s\n", st.msg);
    fflush(stdout);
  } else {
    s6[1] = server_on(&t6[1], "[::1]:0", &p6[1], &st);
    ck_assert_ptr_nonnull(s6[1]);
    char target[64];
    snprintf(target, sizeof target, "ipv6:[::1]:%d,[::1]:%d", p6[0], p6[1]);
    call_target(target, CPAY_LB_ROUND_ROBIN, 40);
    // round_robin takes only connected replicas: both got calls, not
    // necessarily half each while the second connected.
    ck_assert_int_eq(atomic_load(&t6[0].unary_calls) + atomic_load(&t6[1].unary_calls), 40);
    ck_assert_msg(atomic_load(&t6[0].unary_calls) > 0 && atomic_load(&t6[1].unary_calls) > 0,
                  "ipv6 replicas got %d and %d", atomic_load(&t6[0].unary_calls),
                  atomic_load(&t6[1].unary_calls));
    cpay_server_free(s6[1]);
    cpay_server_free(s6[0]);
  }

  // unix: a cpay server on a socket file.
  char path[64], addr[80];
  snprintf(path, sizeof path, "/tmp/cpay-test-lb-%ld.sock", (long)getpid());
  snprintf(addr, sizeof addr, "unix:%s", path);
  unlink(path);
  testsvc tu;
  memset(&tu, 0, sizeof tu);
  cpay_server *su = server_on(&tu, addr, NULL, &st);
  ck_assert_msg(su != NULL, "%s: %s", addr, st.msg);
  call_target(addr, CPAY_LB_DEFAULT, 5);
  ck_assert_int_eq(atomic_load(&tu.unary_calls), 5);
  cpay_server_free(su);
  unlink(path);

  // dns: localhost, round_robin over what it resolves to (127.0.0.1 here;
  // also ::1 where the hosts file says so, on which nothing listens at
  // this port: round_robin skips it). The native resolver is used (main).
  char target[64];
  snprintf(target, sizeof target, "dns:///localhost:%d", g_port[0]);
  int before = atomic_load(&g_t[0].unary_calls);
  call_target(target, CPAY_LB_ROUND_ROBIN, 10);
  ck_assert_int_eq(atomic_load(&g_t[0].unary_calls) - before, 10);
}
END_TEST

typedef struct waiter {
  pthread_t th;
  cpay_channel *ch;
  bool per_call;  // wait_for_ready in the call's options (else the policy's)
  atomic_int done;
  cpay_code code;
  cpay_status st;
} waiter;

static void *wait_call(void *arg) {
  waiter *w = arg;
  cpay_call_opts co = {.timeout_ms = WAIT_MS, .wait_for_ready = w->per_call};
  w->code = charge(w->ch, &co, "c", &w->st);
  atomic_store(&w->done, 1);
  return NULL;
}

// A port nothing listens on now (a server's, freed).
static int free_port(void) {
  testsvc t;
  memset(&t, 0, sizeof t);
  int port;
  cpay_server *srv = testsvc_server(&t, NULL, &port);
  ck_assert_ptr_nonnull(srv);
  cpay_server_free(srv);
  return port;
}

START_TEST(test_lb_wait_for_ready) {
  int port = free_port();
  char target[32], addr[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  cpay_method_policy pol = {.service = "payments.v1.PaymentService", .method = "ChargeCard",
                            .wait_for_ready = true};
  for (int per_call = 1; per_call >= 0; per_call--) {
    cpay_status st = {0};
    cpay_channel_opts o = {.own_connection = true};
    if (!per_call) {
      o.method_policies = &pol;
      o.method_policy_count = 1;
    }
    // Without wait_for_ready (per call, or on a channel without the
    // policy): UNAVAILABLE at once, not at the 10 s deadline.
    cpay_channel *plain = cpay_channel_new(target, &(cpay_channel_opts){.own_connection = true},
                                           &st);
    cpay_call_opts co = {.timeout_ms = WAIT_MS};
    ck_assert_int_eq(charge(plain, &co, "c", &st), CPAY_ERR_UNAVAILABLE);
    cpay_channel_free(plain);

    // With it: the call waits while the server is down ...
    waiter w = {.per_call = per_call};
    w.ch = cpay_channel_new(target, &o, &st);
    ck_assert_msg(w.ch != NULL, "%s", st.msg);
    atomic_init(&w.done, 0);
    ck_assert_int_eq(pthread_create(&w.th, NULL, wait_call, &w), 0);
    testsvc_sleep_ms(300);
    ck_assert_msg(!atomic_load(&w.done), "the call ended while the server was down: %s",
                  w.st.msg);
    // ... and succeeds once it is up (within the call's 10 s).
    testsvc t;
    memset(&t, 0, sizeof t);
    cpay_server *srv = server_on(&t, addr, NULL, &st);
    ck_assert_msg(srv != NULL, "%s: %s", addr, st.msg);
    pthread_join(w.th, NULL);
    ck_assert_msg(w.code == CPAY_OK, "%s wait_for_ready: %s", per_call ? "per-call" : "policy",
                  w.st.msg);
    ck_assert_int_eq(atomic_load(&t.unary_calls), 1);
    cpay_channel_free(w.ch);
    cpay_server_free(srv);
  }
}
END_TEST

// ---- connectivity callbacks ------------------------------------------------------

typedef struct state_log {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cpay_channel *ch;
  bool follow;  // re-register from the callback until READY
  int n;
  cpay_connectivity states[32];
  bool changed[32];
  bool on_main;  // a callback ran on the test's thread
  cpay_code again;  // the code of the last re-registration from a callback
  pthread_t main;
} state_log;

static void on_state(void *ctx, cpay_connectivity now, bool changed) {
  state_log *l = ctx;
  pthread_mutex_lock(&l->mu);
  if (l->n < 32) {
    l->states[l->n] = now;
    l->changed[l->n] = changed;
    l->n++;
  }
  if (pthread_equal(pthread_self(), l->main)) l->on_main = true;
  bool follow = l->follow && now != CPAY_CONN_READY;
  pthread_mutex_unlock(&l->mu);
  if (follow || now == CPAY_CONN_SHUTDOWN) {
    // Registering again from the callback, on the loop: fine while the
    // channel lives, refused once cpay_channel_free has begun.
    cpay_code code = cpay_channel_on_state_change(l->ch, now, WAIT_MS, on_state, l, NULL);
    pthread_mutex_lock(&l->mu);
    l->again = code;
    pthread_mutex_unlock(&l->mu);
  }
  pthread_mutex_lock(&l->mu);
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

// Waits (bounded) until the log has `n` entries.
static void log_wait(state_log *l, int n) {
  int64_t end = now_ms() + WAIT_MS;
  pthread_mutex_lock(&l->mu);
  while (l->n < n) {
    ck_assert_msg(now_ms() < end, "%d state callbacks of %d in %d ms", l->n, n, WAIT_MS);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&l->cv, &l->mu, &ts);
  }
  pthread_mutex_unlock(&l->mu);
}

START_TEST(test_lb_state_callback) {
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port[1]);
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, NULL, &st);
  ck_assert_ptr_nonnull(ch);
  state_log l = {.ch = ch, .follow = true, .main = pthread_self()};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  ck_assert_int_eq(cpay_channel_on_state_change(ch, (cpay_connectivity)9, 10, on_state, &l, &st),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, "unknown connectivity state 9");

  // Idle until asked to connect; then each change, re-registered from the
  // callback, up to READY.
  ck_assert_int_eq(cpay_channel_state(ch, false), CPAY_CONN_IDLE);
  ck_assert_int_eq(cpay_channel_on_state_change(ch, CPAY_CONN_IDLE, WAIT_MS, on_state, &l, &st),
                   CPAY_OK);
  testsvc_sleep_ms(50);
  pthread_mutex_lock(&l.mu);
  ck_assert_int_eq(l.n, 0);  // nothing changed: the watch does not connect
  pthread_mutex_unlock(&l.mu);
  (void)cpay_channel_state(ch, true);
  int64_t end = now_ms() + WAIT_MS;
  for (;;) {
    log_wait(&l, 1);
    pthread_mutex_lock(&l.mu);
    bool ready = l.states[l.n - 1] == CPAY_CONN_READY;
    pthread_mutex_unlock(&l.mu);
    if (ready) break;
    ck_assert_msg(now_ms() < end, "not READY in %d ms", WAIT_MS);
    testsvc_sleep_ms(5);
  }
  pthread_mutex_lock(&l.mu);
  ck_assert_int_eq(l.again, CPAY_OK);
  for (int i = 0; i < l.n; i++) {
    ck_assert(l.changed[i]);
    ck_assert_int_ne(l.states[i], CPAY_CONN_IDLE);
  }
  ck_assert(!l.on_main);  // delivered on the channel's loop
  l.follow = false;
  int n = l.n;
  pthread_mutex_unlock(&l.mu);

  // Nothing changes: the callback comes at the timeout, unchanged.
  ck_assert_int_eq(cpay_channel_on_state_change(ch, CPAY_CONN_READY, 50, on_state, &l, &st),
                   CPAY_OK);
  log_wait(&l, n + 1);
  ck_assert_int_eq(l.states[n], CPAY_CONN_READY);
  ck_assert(!l.changed[n]);

  // The server goes: the channel leaves READY.
  ck_assert_int_eq(cpay_channel_on_state_change(ch, CPAY_CONN_READY, WAIT_MS, on_state, &l, &st),
                   CPAY_OK);
  cpay_server_free(g_srv[1]);
  g_srv[1] = NULL;
  log_wait(&l, n + 2);
  ck_assert(l.changed[n + 1]);
  ck_assert_int_ne(l.states[n + 1], CPAY_CONN_READY);

  // A watch without a timeout still pending when the channel is freed: it
  // is delivered (SHUTDOWN) before cpay_channel_free returns, and a new one
  // is refused from then on.
  cpay_connectivity now = cpay_channel_state(ch, false);
  ck_assert_int_eq(cpay_channel_on_state_change(ch, now, -1, on_state, &l, &st), CPAY_OK);
  cpay_channel_free(ch);
  pthread_mutex_lock(&l.mu);
  ck_assert_int_eq(l.n, n + 3);
  ck_assert_int_eq(l.states[n + 2], CPAY_CONN_SHUTDOWN);
  ck_assert_int_eq(l.again, CPAY_ERR_CANCELLED);
  pthread_mutex_unlock(&l.mu);
}
END_TEST

// ---- hedging ---------------------------------------------------------------------

#define SLOW 2           // the slow replica in the hedging tests
#define SLOW_MS 200      // what it adds to every call
#define LATE_MS 150      // a call slower than this met the slow replica
#define HEDGE_DELAY 50

static const uint32_t kUnavail = CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE);

static cpay_method_policy hedge_policy(int attempts, int64_t delay_ms, uint32_t non_fatal) {
  return (cpay_method_policy){.service = "payments.v1.PaymentService", .method = "ChargeCard",
                              .hedging = {.max_attempts = attempts, .hedging_delay_ms = delay_ms,
                                          .non_fatal_codes = non_fatal}};
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

// Waits (bounded) until no handler of server i runs.
static void settle(int i) {
  int64_t end = now_ms() + WAIT_MS;
  while (atomic_load(&g_t[i].active) > 0) {
    ck_assert_msg(now_ms() < end, "server %d still busy after %d ms", i, WAIT_MS);
    testsvc_sleep_ms(5);
  }
}

// CALLS blocking calls on `ch`: how many took longer than LATE_MS; *p50 and
// *p99 get the percentiles (ms), printed with `label` as TAP comments.
static int late_calls(cpay_channel *ch, const char *label, int64_t *p50, int64_t *p99) {
  static int64_t took[CALLS];
  int late = 0;
  for (int k = 0; k < CALLS; k++) {
    cpay_status st = {0};
    int64_t t0 = now_ms();
    ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "call %d: %s", k, st.msg);
    took[k] = now_ms() - t0;
    if (took[k] > LATE_MS) late++;
  }
  qsort(took, CALLS, sizeof took[0], cmp_i64);
  *p50 = took[CALLS / 2];
  *p99 = took[CALLS * 99 / 100];
  printf("# %s: %d of %d calls over %d ms; p50 %lld ms, p99 %lld ms, max %lld ms\n", label, late,
         CALLS, LATE_MS, (long long)*p50, (long long)*p99, (long long)took[CALLS - 1]);
  fflush(stdout);  // the test runs in a forked child
  return late;
}

static atomic_int g_intercepted;

static cpay_code count_calls(void *ctx, cpay_client_info *info, cpay_status *st) {
  (void)ctx;
  (void)info;
  (void)st;
  atomic_fetch_add(&g_intercepted, 1);
  return CPAY_OK;
}

START_TEST(test_hedge_tail_latency) {
  atomic_store(&g_t[SLOW].delay_ms, SLOW_MS);
  cpay_status st = {0};
  int64_t p50, p99;

  // Without hedging: the calls round_robin sends to the slow replica, a
  // third, are late.
  cpay_channel_opts plain = {.lb_policy = CPAY_LB_ROUND_ROBIN, .own_connection = true};
  cpay_channel *ch = cpay_channel_new(g_all, &plain, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  warm_up(ch, 7);
  int late = late_calls(ch, "round_robin, no hedging", &p50, &p99);
  ck_assert_msg(late >= CALLS / 5 && late <= CALLS / 2, "%d late calls without hedging", late);
  cpay_channel_free(ch);
  settle(SLOW);

  // Hedged after 50 ms: the second attempt goes to the next replica, a fast
  // one, and wins; the slow replica sees its attempt cancelled.
  cpay_method_policy p = hedge_policy(2, HEDGE_DELAY, 0);
  cpay_client_interceptor icpt = {count_calls, NULL};
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN, .own_connection = true,
                         .method_policies = &p, .method_policy_count = 1,
                         .interceptors = &icpt, .interceptor_count = 1};
  ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  warm_up(ch, 7);
  settle(SLOW);
  int base[N];
  counts(base);
  int cancelled0 = atomic_load(&g_t[SLOW].unary_cancelled);
  atomic_store(&g_intercepted, 0);
  late = late_calls(ch, "round_robin, hedging after 50 ms", &p50, &p99);
  ck_assert_msg(late <= 3, "%d late calls with hedging", late);
  cpay_channel_free(ch);
  for (int i = 0; i < N; i++) settle(i);
  int now[N], attempts = 0;
  counts(now);
  for (int i = 0; i < N; i++) attempts += now[i] - base[i];
  int slow = now[SLOW] - base[SLOW];
  int cancelled = atomic_load(&g_t[SLOW].unary_cancelled) - cancelled0;
  printf("# hedging: %d attempts for %d calls, slow replica: %d attempts, %d cancelled\n",
         attempts, CALLS, slow, cancelled);
  fflush(stdout);
  // Interceptors ran once per call, however many attempts it made.
  ck_assert_int_eq(atomic_load(&g_intercepted), CALLS);
  ck_assert_msg(slow >= CALLS / 5, "the slow replica got %d attempts", slow);
  // Every attempt the slow replica got lost and was cancelled (a few may
  // have lost to a fast one delayed past 200 ms on a busy machine).
  ck_assert_msg(cancelled >= slow - 3, "slow replica: %d attempts, %d saw cancellation", slow,
                cancelled);
  // Each call made one attempt, or two: the second after the slow one.
  ck_assert_msg(attempts >= CALLS + slow - 3 && attempts <= 2 * CALLS,
                "%d attempts for %d calls, %d of them slow", attempts, CALLS, slow);
}
END_TEST

// The winner's metadata: x-server names the replica whose answer the
// caller got. Blocking, then asynchronous.
typedef struct async_out {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool got_message;
  char server_md[16];
  char server_trailer[16];
  cpay_grpc_code code;
} async_out;

static void copy_md(char *dst, const cpay_md *md, size_t count) {
  cpay_str v = cpay_md_get(md, count, "x-server");
  snprintf(dst, 16, "%.*s", (int)v.size, v.data ? v.data : "");
}

static void a_message(void *state, cpay_call *call, payments_v1_ChargeResponse *resp) {
  (void)call;
  async_out *o = state;
  o->got_message = cpay_str_eq(resp->transaction_id, CPAY_STR("k"));
}

static void a_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  (void)call;
  copy_md(((async_out *)state)->server_md, md, count);
}

static void a_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  async_out *o = state;
  copy_md(o->server_trailer, res->trailing_md, res->trailing_md_count);
  pthread_mutex_lock(&o->mu);
  o->code = res->code;
  o->done = true;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

static void a_wait(async_out *o) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&o->mu);
  while (!o->done) {
    ck_assert_msg(pthread_cond_timedwait(&o->cv, &o->mu, &ts) == 0, "no on_done in %d ms",
                  WAIT_MS);
  }
  pthread_mutex_unlock(&o->mu);
}

static cpay_code charge_async(cpay_channel *ch, const char *customer, async_out *o,
                              cpay_call **call) {
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  r->customer_id = cpay_str_from_c(customer);
  r->idempotency_key = cpay_str_from_c("k");
  payments_v1_PaymentService_ChargeCard_client_reactor cr = {
      .on_message = a_message, .on_metadata = a_metadata, .on_done = a_done};
  cpay_status st = {0};
  cpay_code code = payments_v1_PaymentService_ChargeCard_async(ch, NULL, r, &cr, o, call, &st);
  cpay_arena_free(a);  // the request was encoded when the call started
  return code;
}

START_TEST(test_hedge_winner_metadata_and_async) {
  static const char *const names[N] = {"s0", "s1", "s2"};
  for (int i = 0; i < N; i++) g_t[i].name = names[i];
  // Only replicas 0 (fast) and SLOW behind the channel: attempts alternate.
  atomic_store(&g_t[SLOW].delay_ms, 400);
  char target[64];
  snprintf(target, sizeof target, "ipv4:127.0.0.1:%d,127.0.0.1:%d", g_port[0], g_port[SLOW]);
  cpay_method_policy p = hedge_policy(2, HEDGE_DELAY, 0);
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN, .method_policies = &p,
                         .method_policy_count = 1};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  ck_assert_msg(cpay_channel_wait_ready(ch, WAIT_MS, &st) == CPAY_OK, "%s", st.msg);
  for (int k = 0; k < 10; k++) {
    cpay_arena *a = cpay_arena_new();
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts co = {.result = &res};
    ck_assert_msg(charge(ch, &co, "c", &st) == CPAY_OK, "%s", st.msg);
    ck_assert_int_eq(res.code, CPAY_GRPC_OK);
    cpay_str srv = cpay_md_get(res.initial_md, res.initial_md_count, "x-server");
    ck_assert_msg(cpay_str_eq(srv, CPAY_STR("s0")), "blocking call %d answered by %.*s", k,
                  (int)srv.size, srv.data ? srv.data : "(none)");
    srv = cpay_md_get(res.trailing_md, res.trailing_md_count, "x-server");
    ck_assert(cpay_str_eq(srv, CPAY_STR("s0")));
    cpay_arena_free(a);
  }
  for (int k = 0; k < 10; k++) {
    async_out out;
    cpay_call *call = NULL;
    ck_assert_int_eq(charge_async(ch, "c", &out, k % 2 ? &call : NULL), CPAY_OK);
    a_wait(&out);
    cpay_call_free(call);
    ck_assert_int_eq(out.code, CPAY_GRPC_OK);
    ck_assert(out.got_message);
    ck_assert_msg(strcmp(out.server_md, "s0") == 0, "async call %d answered by %s", k,
                  out.server_md);
    ck_assert_str_eq(out.server_trailer, "s0");
  }
  // An asynchronous hedged call cancelled while both attempts wait: it
  // ends CANCELLED, once, and both replicas see the cancellation.
  atomic_store(&g_t[0].delay_ms, 2000);
  atomic_store(&g_t[SLOW].delay_ms, 2000);
  settle(0);
  settle(SLOW);
  int c0 = atomic_load(&g_t[0].unary_cancelled) + atomic_load(&g_t[SLOW].unary_cancelled);
  int calls0 = atomic_load(&g_t[0].unary_calls) + atomic_load(&g_t[SLOW].unary_calls);
  async_out out;
  cpay_call *call;
  ck_assert_int_eq(charge_async(ch, "c", &out, &call), CPAY_OK);
  int64_t end = now_ms() + WAIT_MS;
  while (atomic_load(&g_t[0].unary_calls) + atomic_load(&g_t[SLOW].unary_calls) < calls0 + 2) {
    ck_assert_msg(now_ms() < end, "the hedge did not arrive");
    testsvc_sleep_ms(5);
  }
  cpay_call_cancel(call);
  a_wait(&out);
  ck_assert_int_eq(out.code, CPAY_GRPC_CANCELLED);
  ck_assert(!out.got_message);
  payments_v1_ChargeRequest extra;
  memset(&extra, 0, sizeof extra);
  ck_assert_int_eq(cpay_call_write(call, &extra, &st), CPAY_ERR_INVALID_ARGUMENT);
  cpay_call_free(call);
  settle(0);
  settle(SLOW);
  ck_assert_int_eq(atomic_load(&g_t[0].unary_cancelled) + atomic_load(&g_t[SLOW].unary_cancelled),
                   c0 + 2);
  cpay_channel_free(ch);
}
END_TEST

// One server failing every ChargeCard with `code`.
static cpay_channel *failing_channel(int code, const cpay_method_policy *p) {
  atomic_store(&g_t[0].fail_code, code);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port[0]);
  cpay_channel_opts o = {.method_policies = p, .method_policy_count = 1, .own_connection = true};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  return ch;
}

START_TEST(test_hedge_fatal_and_non_fatal) {
  cpay_status st = {0};
  // A fatal status (not in non_fatal_codes) ends the call at once: no hedge
  // follows, even after the delay would have passed.
  cpay_method_policy p = hedge_policy(3, HEDGE_DELAY, kUnavail);
  cpay_channel *ch = failing_channel(CPAY_GRPC_INVALID_ARGUMENT, &p);
  ck_assert_int_eq(charge(ch, NULL, "c", &st), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, "INVALID_ARGUMENT: failing as told");
  testsvc_sleep_ms(4 * HEDGE_DELAY);
  ck_assert_int_eq(atomic_load(&g_t[0].unary_calls), 1);
  cpay_channel_free(ch);

  // A non-fatal one starts the next attempt at once: with a delay of 60 s
  // and a deadline of 5 s, all three attempts still run, and the last
  // one's status is the call's.
  atomic_store(&g_t[0].unary_calls, 0);
  p = hedge_policy(3, 60000, kUnavail);
  ch = failing_channel(CPAY_GRPC_UNAVAILABLE, &p);
  cpay_call_opts co = {.timeout_ms = 5000};
  ck_assert_int_eq(charge(ch, &co, "c", &st), CPAY_ERR_UNAVAILABLE);
  ck_assert_int_eq(atomic_load(&g_t[0].unary_calls), 3);  // max_attempts bounds them
  testsvc_sleep_ms(4 * HEDGE_DELAY);
  ck_assert_int_eq(atomic_load(&g_t[0].unary_calls), 3);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_hedge_bounds) {
  cpay_status st = {0};
  // Every replica slow: max_attempts attempts in all, one wins, the rest
  // are cancelled.
  for (int i = 0; i < N; i++) atomic_store(&g_t[i].delay_ms, 300);
  cpay_method_policy p = hedge_policy(3, 20, 0);
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN, .method_policies = &p,
                         .method_policy_count = 1};
  cpay_channel *ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  for (int i = 0; i < N; i++) atomic_store(&g_t[i].delay_ms, 0);
  warm_up(ch, 7);
  for (int i = 0; i < N; i++) settle(i);
  for (int i = 0; i < N; i++) atomic_store(&g_t[i].delay_ms, 300);
  int base[N], now[N];
  counts(base);
  int cancelled0 = 0;
  for (int i = 0; i < N; i++) cancelled0 += atomic_load(&g_t[i].unary_cancelled);
  ck_assert_msg(charge(ch, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
  for (int i = 0; i < N; i++) settle(i);
  counts(now);
  int attempts = 0, cancelled = -cancelled0;
  for (int i = 0; i < N; i++) {
    attempts += now[i] - base[i];
    cancelled += atomic_load(&g_t[i].unary_cancelled);
  }
  ck_assert_int_eq(attempts, 3);
  ck_assert_int_eq(cancelled, 2);

  // The call's deadline bounds every attempt: 5 attempts 50 ms apart, a
  // deadline of 120 ms: DEADLINE_EXCEEDED, and no attempt starts after it.
  p = hedge_policy(5, 50, 0);
  cpay_channel *ch2 = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch2 != NULL, "%s", st.msg);
  counts(base);
  cpay_call_opts co = {.timeout_ms = 120};
  ck_assert_int_eq(charge(ch2, &co, "c", &st), CPAY_ERR_DEADLINE_EXCEEDED);
  testsvc_sleep_ms(300);
  for (int i = 0; i < N; i++) settle(i);
  counts(now);
  attempts = 0;
  for (int i = 0; i < N; i++) attempts += now[i] - base[i];
  ck_assert_msg(attempts >= 1 && attempts <= 3, "%d attempts within 120 ms", attempts);
  cpay_channel_free(ch2);

  // A streaming method under a service-wide hedging policy runs once.
  cpay_method_policy svc = {.service = "payments.v1.PaymentService",
                            .hedging = {.max_attempts = 3, .hedging_delay_ms = 0}};
  cpay_channel_opts so = {.method_policies = &svc, .method_policy_count = 1};
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port[1]);
  cpay_channel *ch3 = cpay_channel_new(target, &so, &st);
  ck_assert_msg(ch3 != NULL, "%s", st.msg);
  int streams = atomic_load(&g_t[1].streams_started);
  cpay_arena *a = cpay_arena_new();
  payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(a);
  req->since_unix = 3;
  cpay_call *call;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch3, NULL, req, &call, &st),
                   CPAY_OK);
  int got = 0;
  for (;;) {
    payments_v1_Transaction *tx;
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &tx, &st),
                     CPAY_OK);
    if (!tx) break;
    got++;
  }
  ck_assert_int_eq(cpay_call_finish(call, a, NULL, &st), CPAY_OK);
  cpay_call_free(call);
  ck_assert_int_eq(got, 3);
  ck_assert_int_eq(atomic_load(&g_t[1].streams_started), streams + 1);
  // ... while its unary method, delay 0, sends all three attempts at once
  // (each waits 300 ms; the server's two workers take two, the third
  // waits for one and is cancelled by then: usually after its handler
  // started, but on a loaded machine the cancellation can reach the server
  // while it still waits, and no handler runs for it).
  settle(1);
  int before = atomic_load(&g_t[1].unary_calls);
  int cancelled1 = atomic_load(&g_t[1].unary_cancelled);
  ck_assert_msg(charge(ch3, NULL, "c", &st) == CPAY_OK, "%s", st.msg);
  settle(1);
  int handled = atomic_load(&g_t[1].unary_calls) - before;
  ck_assert_msg(handled == 2 || handled == 3, "%d attempts reached a handler", handled);
  ck_assert_int_ge(atomic_load(&g_t[1].unary_cancelled) - cancelled1, 1);
  cpay_arena_free(a);
  cpay_channel_free(ch3);
  cpay_channel_free(ch);
}
END_TEST

// Many asynchronous hedged calls racing their hedges, cancellations, frees
// and the channel's end, with blocking hedged calls beside them: each
// asynchronous call gets exactly one on_done, and nothing is left running.
#define CHURN 200

static atomic_int g_done_count[CHURN];

static void churn_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  (void)res;
  atomic_fetch_add(&g_done_count[(intptr_t)state], 1);
}

static void *churn_blocking(void *arg) {
  cpay_channel *ch = arg;
  for (int k = 0; k < 20; k++) {
    cpay_call_opts co = {.timeout_ms = 1 + k % 7 * 40};
    // Any outcome but a hang or a crash: the channel may close meanwhile.
    (void)charge(ch, &co, k % 2 ? "c" : "sleep:30", NULL);
  }
  return NULL;
}

START_TEST(test_hedge_churn) {
  atomic_store(&g_t[SLOW].delay_ms, 100);
  atomic_store(&g_t[1].fail_code, CPAY_GRPC_UNAVAILABLE);  // non-fatal: the next at once
  cpay_method_policy p = hedge_policy(3, 5, kUnavail);
  cpay_channel_opts o = {.lb_policy = CPAY_LB_ROUND_ROBIN, .method_policies = &p,
                         .method_policy_count = 1};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(g_all, &o, &st);
  ck_assert_msg(ch != NULL, "%s", st.msg);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, churn_blocking, ch), 0);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  r->customer_id = CPAY_STR("c");
  r->idempotency_key = CPAY_STR("k");
  payments_v1_PaymentService_ChargeCard_client_reactor cr = {.on_done = churn_done};
  int started = 0;
  for (intptr_t k = 0; k < CHURN; k++) {
    atomic_store(&g_done_count[k], 0);
    cpay_call *call = NULL;
    cpay_call_opts co = {.timeout_ms = 20 + k % 5 * 50};
    cpay_code code = payments_v1_PaymentService_ChargeCard_async(ch, &co, r, &cr, (void *)k,
                                                                 k % 2 ? &call : NULL, &st);
    ck_assert_msg(code == CPAY_OK, "%s", st.msg);
    started++;
    if (k % 3 == 0) cpay_call_cancel(call);
    if (k % 4 == 1) cpay_call_free(call);  // at once: the call goes on
    else if (call) {
      if (k % 8 == 3) testsvc_sleep_ms(1);
      cpay_call_free(call);
    }
  }
  testsvc_sleep_ms(20);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  cpay_channel_free(ch);  // with calls still in flight: they end now
  for (int k = 0; k < started; k++) {
    ck_assert_msg(atomic_load(&g_done_count[k]) == 1, "call %d: %d on_done", k,
                  atomic_load(&g_done_count[k]));
  }
  cpay_arena_free(a);
  for (int i = 0; i < N; i++) settle(i);
}
END_TEST

int main(void) {
  // C-core's getaddrinfo resolver for dns:/// targets: its c-ares one
  // leaves bytes LeakSanitizer reports (docs/services.md, Tests).
  setenv("GRPC_DNS_RESOLVER", "native", 1);
  Suite *s = suite_create("grpc-lb");
  TCase *tc = tcase_create("lb");
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_lb_round_robin_spreads);
  tcase_add_test(tc, test_lb_health_checking);
  tcase_add_test(tc, test_lb_retry_policy);
  tcase_add_test(tc, test_lb_method_timeout_and_escaping);
  tcase_add_test(tc, test_lb_invalid_options);
  tcase_add_test(tc, test_lb_connectivity_state);
  tcase_add_test(tc, test_lb_state_callback);
  tcase_add_test(tc, test_lb_targets);
  tcase_add_test(tc, test_lb_wait_for_ready);
  suite_add_tcase(s, tc);
  // Its own case: CK_RUN_CASE=hedge runs it alone (the p99 figures of
  // docs/services.md come from its first test).
  TCase *th = tcase_create("hedge");
  tcase_set_timeout(th, 120);
  tcase_add_checked_fixture(th, setup, teardown);
  tcase_add_test(th, test_hedge_tail_latency);
  tcase_add_test(th, test_hedge_winner_metadata_and_async);
  tcase_add_test(th, test_hedge_fatal_and_non_fatal);
  tcase_add_test(th, test_hedge_bounds);
  tcase_add_test(th, test_hedge_churn);
  suite_add_tcase(s, th);
  SRunner *sr = srunner_create(s);
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
