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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(void) {
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
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
