// One soak client thread: random calls of all four modes through
// libcpay-grpc, each reply checked against what payments-server documents.
//
// A client owns its customers (nobody else charges them), so it knows every
// idempotency key each customer was ever sent and what became of it. A key's
// amount encodes its index (soak.h), so every transaction streamed back names
// the key that paid for it: a key seen twice, with a transaction id other
// than its reply's, or that should never have been charged is a wrong reply.
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soak.h"

#define BIT(code) (1u << (code))
#define CALL_TIMEOUT_MS 20000    // calls that must succeed
#define CHECK_TIMEOUT_MS 30000   // the stream of a customer check
#define RETIRED_CHECK_DELAY_MS 1000

const char *const soak_currencies[3] = {"USD", "EUR", "GBP"};

// ---- keys and customers ------------------------------------------------------

static customer *customer_new(soak_client *c) {
  customer *cu = calloc(1, sizeof *cu);
  if (!cu) {
    fprintf(stderr, "payments-soak: out of memory for a customer\n");
    exit(1);
  }
  snprintf(cu->id, sizeof cu->id, "s%06" PRIu64 "-c%02d-g%" PRIu32, soak.opts.seed % 1000000,
           c->index, c->generation++);
  return cu;
}

// A random active customer with room for a whole batch, the check's own
// charge and two subscriber sentinels (soak_sub.c); a full one is retired
// (checked a while later) and replaced, and its subscribers are closed.
customer *soak_pick_customer(soak_client *c) {
  int i = (int)soak_range(c, 0, SOAK_CUSTOMERS_PER_CLIENT - 1);
  customer *cu = c->active[i];
  if (cu->used + SOAK_MAX_BATCH + SOAK_KEYS_RESERVED <= SOAK_KEYS_PER_CUSTOMER) return cu;
  if (c->retired_count == c->retired_cap) {
    size_t cap = c->retired_cap ? c->retired_cap * 2 : 8;
    customer **r = realloc(c->retired, cap * sizeof *r);
    if (!r) {
      fprintf(stderr, "payments-soak: out of memory for retired customers\n");
      exit(1);
    }
    c->retired = r;
    c->retired_cap = cap;
  }
  cu->retired_ms = soak_now_ms();
  c->retired[c->retired_count++] = cu;
  c->active[i] = customer_new(c);
  soak_sub_customer_retired(c, cu);
  return c->active[i];
}

// Hands out the customer's next key. One key in eight is long (up to the
// server's 255-byte limit).
static uint32_t key_new(soak_client *c, customer *cu, bool declined) {
  uint32_t idx = cu->used++;
  key_rec *k = &cu->keys[idx];
  memset(k, 0, sizeof *k);
  k->currency = (uint8_t)soak_range(c, 0, 2);
  k->declined = declined;
  if (soak_range(c, 0, 7) == 0) {
    int base = (int)strlen(cu->id) + 2 + snprintf(NULL, 0, "%" PRIu32, idx);
    k->pad = (uint8_t)soak_range(c, 1, 255 - base);
  }
  return idx;
}

static cpay_str key_str(cpay_arena *a, const customer *cu, uint32_t idx) {
  const key_rec *k = &cu->keys[idx];
  char buf[300];
  int n = snprintf(buf, sizeof buf, "%s-k%" PRIu32, cu->id, idx);
  memset(buf + n, 'x', k->pad);
  return cpay_str_dup(a, (cpay_str){buf, (size_t)n + k->pad});
}

static int64_t key_amount(const key_rec *k, uint32_t idx) {
  return (k->declined ? SOAK_DECLINED_BASE : SOAK_AMOUNT_BASE) + (int64_t)idx;
}

static void atomic_max(_Atomic(uint64_t) *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (cur < v && !atomic_compare_exchange_weak(a, &cur, v)) {
  }
}

// Called before a key's first request leaves: from now on it may be charged.
static void key_sending(key_rec *k) {
  if (k->state != K_UNSENT) return;
  k->tid_floor = atomic_load(&soak.max_tid);
  k->seq = atomic_fetch_add(&soak.keys_sent, 1) + 1;
  k->state = K_MAYBE;
}

// A key refused before charging: it must never show up as a transaction.
static void key_never(key_rec *k) {
  if (k->state == K_UNSENT) atomic_fetch_add(&soak.keys_sent, 1);
  k->state = K_NEVER;
}

// Keys the server still remembers with a wide margin: fewer than a quarter
// of --max-stored keys were sent after them. Charges that reach the server
// late (abandoned calls still queued) are what the margin covers.
static bool key_retryable(const key_rec *k) {
  if (k->state != K_MAYBE && k->state != K_APPLIED && k->state != K_CHARGED &&
      k->state != K_DECLINED) {
    return false;
  }
  return atomic_load(&soak.keys_sent) - k->seq < (uint64_t)soak.opts.max_stored / 4;
}

// A random retryable key of `cu`, or -1.
static int64_t pick_retry(soak_client *c, const customer *cu) {
  if (!cu->used) return -1;
  uint32_t start = (uint32_t)soak_range(c, 0, cu->used - 1);
  for (uint32_t i = 0; i < cu->used; i++) {
    uint32_t idx = (start + i) % cu->used;
    if (key_retryable(&cu->keys[idx])) return idx;
  }
  return -1;
}

// The key's charge happened (as transaction `tid`, 0 when not known yet).
static void key_charged(key_rec *k, uint32_t tid, int64_t at) {
  if (k->state == K_MAYBE || k->state == K_UNSENT) atomic_fetch_add(&soak.successes, 1);
  if (tid) {
    k->tid = tid;
    k->processed_at = at;
    k->state = K_CHARGED;
    atomic_max(&soak.max_tid, tid);
  } else if (k->state != K_CHARGED) {
    k->state = K_APPLIED;
  }
}

// "txn_000042" -> 42; 0 when `s` is not a transaction id.
uint32_t soak_parse_tid(cpay_str s, const char *prefix) {
  size_t pl = strlen(prefix);
  if (s.size < pl + 6 || s.size > pl + 9 || memcmp(s.data, prefix, pl) != 0) return 0;
  uint32_t n = 0;
  for (size_t i = pl; i < s.size; i++) {
    if (s.data[i] < '0' || s.data[i] > '9') return 0;
    n = n * 10 + (uint32_t)(s.data[i] - '0');
  }
  return n;
}

static bool plausible_time(int64_t t) {
  return t >= soak.start_unix - 1 && t <= (int64_t)time(NULL) + 1;
}

// ---- statuses ------------------------------------------------------------------

static void allowed_names(uint32_t allowed, char *buf, size_t size) {
  buf[0] = '\0';
  size_t len = 0;
  for (int code = 0; code < SOAK_CODES; code++) {
    if (!(allowed & BIT(code))) continue;
    int n = snprintf(buf + len, size - len, "%s%s", len ? " or " : "",
                     cpay_grpc_code_name((cpay_grpc_code)code));
    if (n < 0 || (size_t)n >= size - len) break;
    len += (size_t)n;
  }
}

bool soak_expect(soak_client *c, soak_action a, int method, cpay_code rc,
                 const cpay_rpc_result *res, const cpay_status *st, uint32_t allowed) {
  char want[160];
  allowed_names(allowed, want, sizeof want);
  if (rc != CPAY_OK && res->code == CPAY_GRPC_OK) {
    atomic_fetch_add(&soak.no_status[method], 1);
    soak_wrong(c, a, "the call failed without a gRPC status (%s), expected %s",
               cpay_status_msg(st), want);
    return false;
  }
  int code = (int)res->code;
  if (code < 0 || code >= SOAK_CODES) {
    soak_wrong(c, a, "status code %d is not a gRPC code", code);
    return false;
  }
  atomic_fetch_add(&soak.calls[method][code], 1);
  if (allowed & BIT(code)) return true;
  soak_wrong(c, a, "status %s (%.*s), expected %s", cpay_grpc_code_name(res->code),
             (int)res->message.size, res->message.data, want);
  return false;
}

// Options of one call: a deadline, an x-request-id to find in both metadata
// sets of the reply, and x-simulate-latency-ms when latency_ms >= 0.
typedef struct call_setup {
  cpay_call_opts opts;
  cpay_rpc_result res;
  cpay_status st;
  cpay_md md[2];
  char request_id[32];
  char latency[24];
} call_setup;

static void setup(soak_client *c, call_setup *s, int64_t timeout_ms, int64_t latency_ms) {
  memset(s, 0, sizeof *s);
  snprintf(s->request_id, sizeof s->request_id, "soak-%d-%" PRIu64, c->index,
           soak_rand(c) % 1000000000);
  s->md[0] = (cpay_md){CPAY_STR("x-request-id"), cpay_str_from_c(s->request_id)};
  s->opts.metadata = s->md;
  s->opts.metadata_count = 1;
  if (latency_ms >= 0) {
    snprintf(s->latency, sizeof s->latency, "%" PRId64, latency_ms);
    s->md[1] = (cpay_md){CPAY_STR("x-simulate-latency-ms"), cpay_str_from_c(s->latency)};
    s->opts.metadata_count = 2;
  }
  s->opts.timeout_ms = timeout_ms;
  s->res.arena = c->arena;
  s->opts.result = &s->res;
}

// The server echoes x-request-id in its initial and trailing metadata.
static void check_echo(soak_client *c, soak_action a, const call_setup *s) {
  cpay_str want = cpay_str_from_c(s->request_id);
  cpay_str init = cpay_md_get(s->res.initial_md, s->res.initial_md_count, "x-request-id");
  cpay_str trail = cpay_md_get(s->res.trailing_md, s->res.trailing_md_count, "x-request-id");
  if (!cpay_str_eq(init, want) || !cpay_str_eq(trail, want)) {
    soak_wrong(c, a, "x-request-id %s echoed as '%.*s' (initial) and '%.*s' (trailing)",
               s->request_id, (int)init.size, init.data ? init.data : "", (int)trail.size,
               trail.data ? trail.data : "");
  }
}

// ---- ChargeCard ------------------------------------------------------------------

static payments_v1_ChargeRequest *charge_req(soak_client *c, const customer *cu, uint32_t idx) {
  const key_rec *k = &cu->keys[idx];
  payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(c->arena);
  if (!req) return NULL;
  req->customer_id = cpay_str_from_c(cu->id);
  req->amount_cents = key_amount(k, idx);
  req->currency = cpay_str_from_c(soak_currencies[k->currency]);
  req->idempotency_key = key_str(c->arena, cu, idx);
  return req;
}

// Checks a ChargeCard response for key `idx` and records what it says.
static void check_charge_reply(soak_client *c, soak_action a, customer *cu, uint32_t idx,
                               const payments_v1_ChargeResponse *resp) {
  key_rec *k = &cu->keys[idx];
  uint32_t n = soak_parse_tid(resp->transaction_id, "txn_");
  if (!n) {
    soak_wrong(c, a, "key %s-k%" PRIu32 ": transaction_id '%.*s' is not txn_<number>", cu->id, idx,
               (int)resp->transaction_id.size, resp->transaction_id.data);
    return;
  }
  payments_v1_ChargeStatus want =
      k->declined ? payments_v1_CHARGE_STATUS_DECLINED : payments_v1_CHARGE_STATUS_SUCCESS;
  if (resp->status != (int32_t)want) {
    soak_wrong(c, a, "key %s-k%" PRIu32 " (amount %" PRId64 "): status %d, expected %d", cu->id,
               idx, key_amount(k, idx), (int)resp->status, (int)want);
  }
  const char *ref_prefix = k->declined ? "decl_" : "auth_";
  if (soak_parse_tid(resp->processor_reference, ref_prefix) != n ||
      resp->processor_reference.size != resp->transaction_id.size + 1) {
    soak_wrong(c, a, "key %s-k%" PRIu32 ": processor_reference '%.*s' does not match %.*s",
               cu->id, idx, (int)resp->processor_reference.size, resp->processor_reference.data,
               (int)resp->transaction_id.size, resp->transaction_id.data);
  }
  if (!plausible_time(resp->processed_at_unix)) {
    soak_wrong(c, a, "key %s-k%" PRIu32 ": processed_at_unix %" PRId64 " is not during the run",
               cu->id, idx, resp->processed_at_unix);
  }
  if (k->tid && (k->tid != n || k->processed_at != resp->processed_at_unix)) {
    atomic_fetch_add(&soak.double_charges, 1);
    soak_wrong(c, a,
               "key %s-k%" PRIu32 " answered txn_%06" PRIu32 " at %" PRId64
               ", first answer txn_%06" PRIu32 " at %" PRId64 ": charged twice",
               cu->id, idx, n, resp->processed_at_unix, k->tid, k->processed_at);
    return;
  }
  if (k->declined) {
    k->state = K_DECLINED;
    k->tid = n;
    k->processed_at = resp->processed_at_unix;
    atomic_max(&soak.max_tid, n);
  } else {
    key_charged(k, n, resp->processed_at_unix);
  }
}

// A charge that must succeed: a new key, a declined amount, or a retry.
static void charge(soak_client *c, soak_action a) {
  customer *cu = soak_pick_customer(c);
  int64_t idx = a == A_CHARGE_RETRY ? pick_retry(c, cu) : -1;
  if (idx < 0) {
    if (a == A_CHARGE_RETRY) a = A_CHARGE_NEW;
    idx = key_new(c, cu, a == A_CHARGE_DECLINED);
  } else {
    atomic_fetch_add(&soak.retries, 1);
  }
  atomic_fetch_add(&soak.actions[a], 1);
  payments_v1_ChargeRequest *req = charge_req(c, cu, (uint32_t)idx);
  if (!req) return;
  key_sending(&cu->keys[idx]);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  if (!soak_expect(c, a, SOAK_CHARGE, rc, &s.res, &s.st, BIT(CPAY_GRPC_OK))) return;
  check_charge_reply(c, a, cu, (uint32_t)idx, resp);
  check_echo(c, a, &s);
}

uint32_t soak_charge_key(soak_client *c, soak_action a, customer *cu, bool declined,
                         uint32_t *idx) {
  *idx = key_new(c, cu, declined);
  payments_v1_ChargeRequest *req = charge_req(c, cu, *idx);
  if (!req) return 0;
  key_sending(&cu->keys[*idx]);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  if (!soak_expect(c, a, SOAK_CHARGE, rc, &s.res, &s.st, BIT(CPAY_GRPC_OK))) return 0;
  check_charge_reply(c, a, cu, *idx, resp);
  check_echo(c, a, &s);
  return soak_parse_tid(resp->transaction_id, "txn_");
}

// One request with exactly one defect, and the server's message for it.
static void charge_invalid(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CHARGE_INVALID], 1);
  customer *cu = soak_pick_customer(c);
  uint32_t idx = key_new(c, cu, false);
  payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
  if (!req) return;
  key_never(&cu->keys[idx]);
  static const char *const kBadCurrencies[] = {"usd", "US", "EURO", "", "U$D", "Usd"};
  const char *want;
  char buf[400];
  switch (soak_range(c, 0, 5)) {
    case 0:
      req->customer_id = CPAY_STR("");
      want = "customer_id is required";
      break;
    case 1:
      req->amount_cents = -soak_range(c, 0, 1000000);
      want = "amount_cents must be positive";
      break;
    case 2:
      req->currency = cpay_str_from_c(kBadCurrencies[soak_range(c, 0, 5)]);
      want = "currency must be an ISO 4217 code such as USD";
      break;
    case 3:
      req->idempotency_key = CPAY_STR("");
      want = "idempotency_key is required";
      break;
    case 4: {
      size_t n = (size_t)soak_range(c, 256, sizeof buf - 1);
      memset(buf, 'k', n);
      req->idempotency_key = cpay_str_dup(c->arena, (cpay_str){buf, n});
      want = "idempotency_key is longer than 255 bytes";
      break;
    }
    default: {
      size_t n = (size_t)soak_range(c, 64, 200);
      memset(buf, 'c', n);
      req->customer_id = cpay_str_dup(c->arena, (cpay_str){buf, n});
      want = "customer_id is too long";
      break;
    }
  }
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  if (!soak_expect(c, A_CHARGE_INVALID, SOAK_CHARGE, rc, &s.res, &s.st,
                   BIT(CPAY_GRPC_INVALID_ARGUMENT))) {
    return;
  }
  if (!cpay_str_eq(s.res.message, cpay_str_from_c(want))) {
    soak_wrong(c, A_CHARGE_INVALID, "INVALID_ARGUMENT says '%.*s', expected '%s'",
               (int)s.res.message.size, s.res.message.data, want);
  }
}

// A short deadline. When the server is told to wait longer than the
// deadline the call must end DEADLINE_EXCEEDED; otherwise it may succeed.
static void charge_deadline(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CHARGE_DEADLINE], 1);
  customer *cu = soak_pick_customer(c);
  int64_t idx = soak_range(c, 0, 2) == 0 ? pick_retry(c, cu) : -1;
  if (idx < 0) idx = key_new(c, cu, soak_range(c, 0, 4) == 0);
  payments_v1_ChargeRequest *req = charge_req(c, cu, (uint32_t)idx);
  if (!req) return;
  int64_t latency = -1, timeout;
  uint32_t allowed = BIT(CPAY_GRPC_OK) | BIT(CPAY_GRPC_DEADLINE_EXCEEDED);
  switch (soak_range(c, 0, 2)) {
    case 0:  // the server answers after the deadline, always
      latency = soak_range(c, 60, 200);
      timeout = soak_range(c, 5, latency - 40);
      allowed = BIT(CPAY_GRPC_DEADLINE_EXCEEDED);
      break;
    case 1:  // a race with the deadline
      timeout = soak_range(c, 1, 30);
      break;
    default:
      latency = soak_range(c, 0, 20);
      timeout = soak_range(c, latency + 30, latency + 200);
      break;
  }
  key_sending(&cu->keys[idx]);
  call_setup s;
  setup(c, &s, timeout, latency);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  if (!soak_expect(c, A_CHARGE_DEADLINE, SOAK_CHARGE, rc, &s.res, &s.st, allowed)) return;
  if (s.res.code == CPAY_GRPC_OK) check_charge_reply(c, A_CHARGE_DEADLINE, cu, (uint32_t)idx, resp);
}

// The server holds the charge for 300-600 ms; the client cancels within 50.
static void charge_cancel(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CHARGE_CANCEL], 1);
  customer *cu = soak_pick_customer(c);
  uint32_t idx = key_new(c, cu, false);
  payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
  if (!req) return;
  key_sending(&cu->keys[idx]);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, soak_range(c, 300, 600));
  cpay_call *call;
  cpay_code rc = cpay_call_start(c->ch, &payments_v1_PaymentService_methods[0], &s.opts, req,
                                 &call, &s.st);
  if (rc == CPAY_OK) {
    soak_sleep_ms(soak_range(c, 0, 50));
    cpay_call_cancel(call);
    void *resp;
    rc = cpay_call_finish(call, c->arena, &resp, &s.st);
    cpay_call_free(call);
  }
  soak_expect(c, A_CHARGE_CANCEL, SOAK_CHARGE, rc, &s.res, &s.st, BIT(CPAY_GRPC_CANCELLED));
}

// A description longer than the server's --max-recv-size: mostly just
// over it, one in eight up to 64 KiB over.
static cpay_str oversized(soak_client *c) {
  size_t over = (size_t)soak_range(c, 1, soak_range(c, 0, 7) ? 4096 : 65536);
  size_t n = (size_t)soak.opts.max_recv_size + over;
  char *p = cpay_arena_malloc(c->arena, n);
  if (!p) return CPAY_STR("");
  memset(p, 'o', n);
  return (cpay_str){p, n};
}

static void charge_oversized(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CHARGE_OVERSIZED], 1);
  customer *cu = soak_pick_customer(c);
  uint32_t idx = key_new(c, cu, false);
  payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
  if (!req) return;
  key_never(&cu->keys[idx]);
  payments_v1_ChargeRequest_set_description(req, oversized(c));
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  soak_expect(c, A_CHARGE_OVERSIZED, SOAK_CHARGE, rc, &s.res, &s.st,
              BIT(CPAY_GRPC_RESOURCE_EXHAUSTED));
}

// ---- StreamTransactions ---------------------------------------------------------

uint32_t soak_check_txn(soak_client *c, soak_action a, customer *cu, txn_walk *w,
                        const payments_v1_Transaction *t) {
  atomic_fetch_add(&soak.txns_checked, 1);
  w->count++;
  uint32_t n = soak_parse_tid(t->id, "txn_");
  if (!cpay_str_eq(t->customer_id, cpay_str_from_c(cu->id))) {
    soak_wrong(c, a, "stream of %s sent %.*s of customer '%.*s'", cu->id, (int)t->id.size,
               t->id.data, (int)t->customer_id.size, t->customer_id.data);
    return 0;
  }
  if (!n) {
    soak_wrong(c, a, "stream of %s: id '%.*s' is not txn_<number>", cu->id, (int)t->id.size,
               t->id.data);
    return 0;
  }
  if (n <= w->last || t->created_at_unix < w->last_at) {
    soak_wrong(c, a, "stream of %s: txn_%06" PRIu32 " (at %" PRId64 ") after txn_%06" PRIu32
               " (at %" PRId64 "): out of order", cu->id, n, t->created_at_unix, w->last,
               w->last_at);
  }
  w->last = n;
  w->last_at = t->created_at_unix;
  if (t->created_at_unix < w->since || !plausible_time(t->created_at_unix)) {
    soak_wrong(c, a, "stream of %s since %" PRId64 ": txn_%06" PRIu32 " created at %" PRId64,
               cu->id, w->since, n, t->created_at_unix);
  }
  int64_t idx = t->amount_cents - SOAK_AMOUNT_BASE;
  if (idx < 0 || idx >= (int64_t)cu->used) {
    soak_wrong(c, a, "stream of %s: txn_%06" PRIu32 " of %" PRId64 " cents matches no key the "
               "client charged", cu->id, n, t->amount_cents);
    return n;
  }
  key_rec *k = &cu->keys[idx];
  if (k->state == K_NEVER || k->state == K_UNSENT || k->state == K_DECLINED || k->declined) {
    soak_wrong(c, a, "stream of %s: txn_%06" PRIu32 " charged key k%" PRId64 ", which was %s",
               cu->id, n, idx,
               k->state == K_NEVER ? "refused" : k->state == K_UNSENT ? "never sent" : "declined");
    return n;
  }
  if (!cpay_str_eq(t->currency, cpay_str_from_c(soak_currencies[k->currency]))) {
    soak_wrong(c, a, "stream of %s: txn_%06" PRIu32 " in '%.*s', key k%" PRId64 " paid in %s",
               cu->id, n, (int)t->currency.size, t->currency.data, idx,
               soak_currencies[k->currency]);
  }
  if (w->seen[idx / 8] & (1u << (idx % 8))) {
    atomic_fetch_add(&soak.double_charges, 1);
    soak_wrong(c, a, "stream of %s: key k%" PRId64 " charged twice (again as txn_%06" PRIu32 ")",
               cu->id, idx, n);
    return n;
  }
  w->seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
  if (k->tid && (k->tid != n || k->processed_at != t->created_at_unix)) {
    atomic_fetch_add(&soak.double_charges, 1);
    soak_wrong(c, a, "stream of %s: key k%" PRId64 " streamed as txn_%06" PRIu32 " at %" PRId64
               ", answered as txn_%06" PRIu32 " at %" PRId64 ": charged twice",
               cu->id, idx, n, t->created_at_unix, k->tid, k->processed_at);
    return n;
  }
  key_charged(k, n, t->created_at_unix);
  return n;
}

static customer *customer_with_keys(soak_client *c) {
  for (int tries = 0; tries < SOAK_CUSTOMERS_PER_CLIENT; tries++) {
    customer *cu = c->active[soak_range(c, 0, SOAK_CUSTOMERS_PER_CLIENT - 1)];
    if (cu->used) return cu;
  }
  return soak_pick_customer(c);
}

// The stream never ends on its own (it waits for live transactions), so a
// short deadline ends it: DEADLINE_EXCEEDED after the checked messages.
static void stream(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_STREAM], 1);
  customer *cu = customer_with_keys(c);
  payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(c->arena);
  if (!req) return;
  txn_walk w;
  memset(&w, 0, sizeof w);
  uint32_t allowed = BIT(CPAY_GRPC_DEADLINE_EXCEEDED);
  bool no_customer = soak_range(c, 0, 19) == 0;
  if (no_customer) {
    allowed = BIT(CPAY_GRPC_INVALID_ARGUMENT);
  } else {
    req->customer_id = cpay_str_from_c(cu->id);
    if (soak_range(c, 0, 1)) w.since = (int64_t)time(NULL) - soak_range(c, 0, 3);
    req->since_unix = w.since;
  }
  call_setup s;
  setup(c, &s, no_customer ? CALL_TIMEOUT_MS : soak_range(c, 100, 400), -1);
  cpay_call *call;
  cpay_code rc = payments_v1_PaymentService_StreamTransactions(c->ch, &s.opts, req, &call, &s.st);
  if (rc == CPAY_OK) {
    for (;;) {
      payments_v1_Transaction *t;
      rc = payments_v1_PaymentService_StreamTransactions_recv(call, c->arena, &t, &s.st);
      if (rc != CPAY_OK || !t) break;
      if (no_customer) {
        soak_wrong(c, A_STREAM, "a stream without customer_id sent %.*s", (int)t->id.size,
                   t->id.data);
      } else {
        soak_check_txn(c, A_STREAM, cu, &w, t);
      }
    }
    if (rc == CPAY_OK) rc = payments_v1_PaymentService_StreamTransactions_finish(call, &s.st);
    cpay_call_free(call);
  }
  if (!soak_expect(c, A_STREAM, SOAK_STREAM, rc, &s.res, &s.st, allowed)) return;
  if (no_customer && !cpay_str_eq(s.res.message, CPAY_STR("customer_id is required"))) {
    soak_wrong(c, A_STREAM, "INVALID_ARGUMENT says '%.*s', expected 'customer_id is required'",
               (int)s.res.message.size, s.res.message.data);
  }
}

// True when `cu` has a transaction the server still holds with a wide
// margin (fewer than a quarter of --max-stored charges seen since), so
// reading one message does not block.
static bool has_recent_txn(const customer *cu) {
  uint64_t max_tid = atomic_load(&soak.max_tid);
  for (uint32_t i = cu->used; i-- > 0;) {
    const key_rec *k = &cu->keys[i];
    if (k->state == K_CHARGED && max_tid - k->tid < (uint64_t)soak.opts.max_stored / 4) {
      return true;
    }
  }
  return false;
}

static void stream_cancel(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_STREAM_CANCEL], 1);
  customer *cu = customer_with_keys(c);
  payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(c->arena);
  if (!req) return;
  req->customer_id = cpay_str_from_c(cu->id);
  txn_walk w;
  memset(&w, 0, sizeof w);
  bool read_one = has_recent_txn(cu) && soak_range(c, 0, 1);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  cpay_call *call;
  cpay_code rc = payments_v1_PaymentService_StreamTransactions(c->ch, &s.opts, req, &call, &s.st);
  if (rc == CPAY_OK) {
    if (read_one) {
      payments_v1_Transaction *t;
      rc = payments_v1_PaymentService_StreamTransactions_recv(call, c->arena, &t, &s.st);
      if (rc == CPAY_OK && t) soak_check_txn(c, A_STREAM_CANCEL, cu, &w, t);
    }
    cpay_call_cancel(call);
    if (rc == CPAY_OK) rc = payments_v1_PaymentService_StreamTransactions_finish(call, &s.st);
    cpay_call_free(call);
  }
  soak_expect(c, A_STREAM_CANCEL, SOAK_STREAM, rc, &s.res, &s.st, BIT(CPAY_GRPC_CANCELLED));
}

// ---- customer checks --------------------------------------------------------------

// Charges one more key of `cu` (the sentinel), then streams all of `cu`'s
// transactions up to the sentinel's: every one is checked by soak_check_txn,
// so a key charged twice shows. `final` (no load any more, nothing evicted
// meanwhile) also requires every charge the server must still hold.
static void check_customer(soak_client *c, customer *cu, bool final) {
  atomic_fetch_add(&soak.actions[A_VERIFY], 1);
  uint32_t idx = key_new(c, cu, false);
  cu->keys[idx].pad = 0;
  payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
  if (!req) return;
  key_sending(&cu->keys[idx]);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  payments_v1_ChargeResponse *resp;
  cpay_code rc = payments_v1_PaymentService_ChargeCard(c->ch, &s.opts, req, c->arena, &resp, &s.st);
  if (!soak_expect(c, A_VERIFY, SOAK_CHARGE, rc, &s.res, &s.st, BIT(CPAY_GRPC_OK))) return;
  check_charge_reply(c, A_VERIFY, cu, idx, resp);
  uint32_t sentinel = cu->keys[idx].tid;
  if (!sentinel) return;

  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(c->arena);
  if (!sreq) return;
  sreq->customer_id = cpay_str_from_c(cu->id);
  txn_walk w;
  memset(&w, 0, sizeof w);
  setup(c, &s, CHECK_TIMEOUT_MS, -1);
  cpay_call *call;
  rc = payments_v1_PaymentService_StreamTransactions(c->ch, &s.opts, sreq, &call, &s.st);
  bool reached = false;
  if (rc == CPAY_OK) {
    while (!reached) {
      payments_v1_Transaction *t;
      rc = payments_v1_PaymentService_StreamTransactions_recv(call, c->arena, &t, &s.st);
      if (rc != CPAY_OK || !t) break;
      reached = soak_check_txn(c, A_VERIFY, cu, &w, t) == sentinel;
    }
    if (reached) cpay_call_cancel(call);
    if (rc == CPAY_OK) rc = payments_v1_PaymentService_StreamTransactions_finish(call, &s.st);
    cpay_call_free(call);
  }
  if (!reached) {
    if (soak_expect(c, A_VERIFY, SOAK_STREAM, rc, &s.res, &s.st, ~0u)) {
      soak_wrong(c, A_VERIFY, "the check of %s ended %s before its own charge txn_%06" PRIu32
                 " was streamed", cu->id, cpay_grpc_code_name(s.res.code), sentinel);
    }
    return;
  }
  if (!soak_expect(c, A_VERIFY, SOAK_STREAM, rc, &s.res, &s.st, BIT(CPAY_GRPC_CANCELLED))) return;
  atomic_fetch_add(&soak.customers_checked, 1);
  if (!final) return;
  // Transactions after a charge <= charges after it, so a charge with fewer
  // than max_stored / 2 charges after it cannot have been evicted.
  uint64_t window = (uint64_t)soak.opts.max_stored / 2;
  for (uint32_t i = 0; i < cu->used; i++) {
    const key_rec *k = &cu->keys[i];
    if (w.seen[i / 8] & (1u << (i % 8))) continue;
    if (k->state == K_CHARGED && sentinel - k->tid < window) {
      soak_wrong(c, A_VERIFY, "%s: key k%" PRIu32 " was charged as txn_%06" PRIu32
                 " but is missing from its stream", cu->id, i, k->tid);
    } else if (k->state == K_APPLIED && sentinel - k->tid_floor < window) {
      soak_wrong(c, A_VERIFY, "%s: key k%" PRIu32 " was charged by BatchCharge but has no "
                 "transaction in its stream", cu->id, i);
    }
  }
}

// ---- BatchCharge ----------------------------------------------------------------

typedef struct batch_item {
  int64_t idx;  // key index, -1 for an item without a key
  bool ok;      // expected to succeed
} batch_item;

// Builds a batch of 1..SOAK_MAX_BATCH items and sends it item by item
// (sending stops at the first failure). With `clean`, only charges that
// decode and validate, so a lost reply leaves keys at most maybe-charged.
static int send_batch(soak_client *c, customer *cu, cpay_call *call,
                      batch_item *items, int n, bool clean, cpay_status *st, cpay_code *rc) {
  int sent = 0;
  for (int i = 0; i < n; i++) {
    int64_t kind = clean ? soak_range(c, 0, 2) : soak_range(c, 0, 9);
    int64_t idx = -1;
    payments_v1_ChargeRequest *req;
    if (kind == 2 || kind == 3) idx = pick_retry(c, cu);
    if (kind == 4 && i > 0 && items[i - 1].idx >= 0) idx = items[i - 1].idx;  // twice in a row
    if (idx >= 0 && cu->keys[idx].state == K_NEVER) idx = -1;
    if (kind == 8 || kind == 9) {
      // Invalid: no key, or a key with a bad amount or currency.
      if (kind == 8 && soak_range(c, 0, 1)) {
        idx = -1;
        req = payments_v1_ChargeRequest_new(c->arena);
        if (!req) return sent;
        req->customer_id = cpay_str_from_c(cu->id);
        req->amount_cents = SOAK_AMOUNT_BASE;
        req->currency = CPAY_STR("USD");
      } else {
        idx = key_new(c, cu, false);
        req = charge_req(c, cu, (uint32_t)idx);
        if (!req) return sent;
        if (kind == 8) {
          req->amount_cents = 0;
        } else {
          req->currency = CPAY_STR("dollars");
        }
        key_never(&cu->keys[idx]);
      }
      items[i] = (batch_item){idx, false};
    } else {
      if (idx < 0) idx = key_new(c, cu, kind == 1 || kind == 5);
      req = charge_req(c, cu, (uint32_t)idx);
      if (!req) return sent;
      if (cu->keys[idx].state != K_UNSENT) atomic_fetch_add(&soak.retries, 1);
      key_sending(&cu->keys[idx]);
      items[i] = (batch_item){idx, !cu->keys[idx].declined};
    }
    *rc = payments_v1_PaymentService_BatchCharge_send(call, req, st);
    if (*rc != CPAY_OK) return sent;
    sent++;
  }
  return sent;
}

static void check_batch(soak_client *c, soak_action a, customer *cu, const batch_item *items,
                        int n, const payments_v1_BatchChargeResponse *resp) {
  int succeeded = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    if (items[i].ok) {
      succeeded++;
    } else {
      failed++;
    }
  }
  if (resp->total != n || resp->succeeded != succeeded || resp->failed != failed ||
      resp->failed_idempotency_keys.size != (size_t)failed) {
    soak_wrong(c, a, "batch of %d for %s: total %d succeeded %d failed %d (%zu keys), expected "
               "%d/%d/%d", n, cu->id, resp->total, resp->succeeded, resp->failed,
               resp->failed_idempotency_keys.size, n, succeeded, failed);
    return;
  }
  const cpay_str *keys = resp->failed_idempotency_keys.data;
  size_t f = 0;
  for (int i = 0; i < n; i++) {
    if (items[i].ok) continue;
    cpay_str want = items[i].idx < 0 ? CPAY_STR("(no key)")
                                     : key_str(c->arena, cu, (uint32_t)items[i].idx);
    if (!cpay_str_eq(keys[f], want)) {
      soak_wrong(c, a, "batch for %s: failed key %zu is '%.*s', expected '%.*s'", cu->id, f,
                 (int)keys[f].size, keys[f].data, (int)want.size, want.data);
    }
    f++;
  }
  for (int i = 0; i < n; i++) {
    if (items[i].idx < 0) continue;
    key_rec *k = &cu->keys[items[i].idx];
    if (k->state == K_NEVER) continue;
    if (k->declined) {
      k->state = K_DECLINED;
    } else {
      key_charged(k, 0, 0);
    }
  }
}

// The streaming calls come in four variants, listed in soak.h in this
// order after their plain action.
typedef enum { V_PLAIN, V_DEADLINE, V_CANCEL, V_OVERSIZED } stream_variant;
#define VARIANTS_IN_ORDER(x)                                                        \
  (A_##x##_DEADLINE - A_##x == V_DEADLINE && A_##x##_CANCEL - A_##x == V_CANCEL && \
   A_##x##_OVERSIZED - A_##x == V_OVERSIZED)
_Static_assert(VARIANTS_IN_ORDER(BATCH) && VARIANTS_IN_ORDER(CHAT),
               "soak.h lists each streaming call's variants in stream_variant's order");
#undef VARIANTS_IN_ORDER

// Sets a streaming call's deadline for its variant and returns the statuses
// the call may end with: the plain call must succeed, a short deadline may
// or may not cut it off, a cancel and an oversized message must end it.
static uint32_t variant_plan(soak_client *c, stream_variant v, int64_t *timeout) {
  *timeout = CALL_TIMEOUT_MS;
  switch (v) {
    case V_DEADLINE:
      *timeout = soak_range(c, 1, 25);
      return BIT(CPAY_GRPC_OK) | BIT(CPAY_GRPC_DEADLINE_EXCEEDED);
    case V_CANCEL:
      return BIT(CPAY_GRPC_CANCELLED);
    case V_OVERSIZED:
      return BIT(CPAY_GRPC_RESOURCE_EXHAUSTED);
    case V_PLAIN:
      break;
  }
  return BIT(CPAY_GRPC_OK);
}

static void batch(soak_client *c, soak_action a) {
  atomic_fetch_add(&soak.actions[a], 1);
  customer *cu = soak_pick_customer(c);
  stream_variant v = (stream_variant)(a - A_BATCH);
  int64_t timeout;
  uint32_t allowed = variant_plan(c, v, &timeout);
  batch_item items[SOAK_MAX_BATCH];
  int n = (int)soak_range(c, 1, SOAK_MAX_BATCH);
  call_setup s;
  setup(c, &s, timeout, -1);
  cpay_call *call;
  cpay_code rc = payments_v1_PaymentService_BatchCharge(c->ch, &s.opts, &call, &s.st);
  if (rc != CPAY_OK) {
    soak_expect(c, a, SOAK_BATCH, rc, &s.res, &s.st, allowed);
    return;
  }
  payments_v1_BatchChargeResponse *resp = NULL;
  if (v == V_CANCEL) {
    (void)send_batch(c, cu, call, items, (int)soak_range(c, 0, n), true, &s.st, &rc);
    cpay_call_cancel(call);
    rc = payments_v1_PaymentService_BatchCharge_finish(call, c->arena, &resp, &s.st);
  } else if (v == V_OVERSIZED) {
    (void)send_batch(c, cu, call, items, (int)soak_range(c, 0, 2), true, &s.st, &rc);
    uint32_t idx = key_new(c, cu, false);
    payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
    key_never(&cu->keys[idx]);
    if (req) {
      payments_v1_ChargeRequest_set_description(req, oversized(c));
      rc = payments_v1_PaymentService_BatchCharge_send(call, req, &s.st);
    }
    rc = payments_v1_PaymentService_BatchCharge_finish(call, c->arena, &resp, &s.st);
  } else {
    int sent = send_batch(c, cu, call, items, n, v == V_DEADLINE, &s.st, &rc);
    rc = payments_v1_PaymentService_BatchCharge_finish(call, c->arena, &resp, &s.st);
    if (rc == CPAY_OK && sent != n) {
      soak_wrong(c, a, "batch: only %d of %d sends succeeded, yet the call ended OK", sent, n);
      resp = NULL;
    }
  }
  cpay_call_free(call);
  if (!soak_expect(c, a, SOAK_BATCH, rc, &s.res, &s.st, allowed)) return;
  if (s.res.code == CPAY_GRPC_OK && resp) check_batch(c, a, cu, items, n, resp);
}

// ---- PaymentChat ------------------------------------------------------------------

typedef struct chat_line {
  cpay_str text;
  bool has_tid;
  cpay_str tid;
} chat_line;

static payments_v1_PaymentMessage *chat_msg(soak_client *c, chat_line *line) {
  memset(line, 0, sizeof *line);
  payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(c->arena);
  size_t n = (size_t)soak_range(c, 0, 200);
  char *text = cpay_arena_malloc(c->arena, n + 1);
  if (!m || !text) return NULL;
  for (size_t i = 0; i < n; i++) text[i] = (char)(' ' + soak_range(c, 0, 94));
  line->text = (cpay_str){text, n};
  m->text = line->text;
  m->sender = CPAY_STR("soak");
  m->sent_at_unix = (int64_t)time(NULL);
  line->has_tid = soak_range(c, 0, 1);
  if (line->has_tid) {
    char buf[24];
    int len = snprintf(buf, sizeof buf, "txn_%06" PRIu64, soak_rand(c) % 1000000);
    line->tid = cpay_str_dup(c->arena, (cpay_str){buf, (size_t)len});
    payments_v1_PaymentMessage_set_transaction_id(m, line->tid);
  }
  return m;
}

// The server answers "support received: <text>" from "support", with the
// line's transaction_id when it had one.
static void check_answer(soak_client *c, soak_action a, const chat_line *line,
                         const payments_v1_PaymentMessage *r) {
  static const char kPrefix[] = "support received: ";
  size_t pl = sizeof kPrefix - 1;
  bool text_ok = r->text.size == pl + line->text.size && memcmp(r->text.data, kPrefix, pl) == 0 &&
                 memcmp(r->text.data + pl, line->text.data, line->text.size) == 0;
  bool tid_ok = payments_v1_PaymentMessage_has_transaction_id(r) == line->has_tid &&
                (!line->has_tid || cpay_str_eq(r->transaction_id, line->tid));
  if (!text_ok || !tid_ok || !cpay_str_eq(r->sender, CPAY_STR("support")) ||
      !plausible_time(r->sent_at_unix)) {
    soak_wrong(c, a, "chat answer '%.*s' from '%.*s' at %" PRId64 " (transaction_id %s'%.*s') to "
               "'%.*s' (transaction_id %s'%.*s')", (int)r->text.size, r->text.data,
               (int)r->sender.size, r->sender.data, r->sent_at_unix,
               payments_v1_PaymentMessage_has_transaction_id(r) ? "" : "unset ",
               (int)r->transaction_id.size, r->transaction_id.data, (int)line->text.size,
               line->text.data, line->has_tid ? "" : "unset ", (int)line->tid.size,
               line->tid.data ? line->tid.data : "");
  }
}

// Reads the rest of a chat: answers to lines sent but not yet answered.
// C-core delivers a call's status only after its messages have been read,
// so every stream is drained before _finish.
static void drain_chat(soak_client *c, soak_action a, cpay_call *call, const chat_line *lines,
                       int sent, int *answered, cpay_status *st) {
  for (;;) {
    payments_v1_PaymentMessage *r;
    if (payments_v1_PaymentService_PaymentChat_recv(call, c->arena, &r, st) != CPAY_OK || !r) {
      return;
    }
    if (*answered == sent) {
      soak_wrong(c, a, "chat: an answer more than the %d lines sent: '%.*s'", sent,
                 (int)r->text.size, r->text.data);
      return;
    }
    check_answer(c, a, &lines[(*answered)++], r);
  }
}

static void chat(soak_client *c, soak_action a) {
  atomic_fetch_add(&soak.actions[a], 1);
  stream_variant v = (stream_variant)(a - A_CHAT);
  int64_t timeout;
  uint32_t allowed = variant_plan(c, v, &timeout);
  int n = (int)soak_range(c, 1, 6);
  if (v == V_CANCEL || v == V_OVERSIZED) n = (int)soak_range(c, 0, 2);
  // Interleaved (each answer read before the next line) or all lines first.
  bool interleave = v != V_PLAIN || soak_range(c, 0, 1);
  chat_line lines[6];
  call_setup s;
  setup(c, &s, timeout, -1);
  cpay_call *call;
  cpay_code rc = payments_v1_PaymentService_PaymentChat(c->ch, &s.opts, &call, &s.st);
  if (rc != CPAY_OK) {
    soak_expect(c, a, SOAK_CHAT, rc, &s.res, &s.st, allowed);
    return;
  }
  int sent = 0, answered = 0;
  bool ended = false;  // a send or receive failed: the call is over
  for (int i = 0; i < n && !ended; i++) {
    payments_v1_PaymentMessage *m = chat_msg(c, &lines[i]);
    if (!m || payments_v1_PaymentService_PaymentChat_send(call, m, &s.st) != CPAY_OK) {
      ended = true;
      break;
    }
    sent++;
    while (interleave && answered < sent && !ended) {
      payments_v1_PaymentMessage *r;
      if (payments_v1_PaymentService_PaymentChat_recv(call, c->arena, &r, &s.st) != CPAY_OK ||
          !r) {
        ended = true;
      } else {
        check_answer(c, a, &lines[answered++], r);
      }
    }
  }
  if (v == V_CANCEL) {
    cpay_call_cancel(call);
  } else {
    if (v == V_OVERSIZED && !ended) {
      payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(c->arena);
      if (m) {
        m->text = oversized(c);
        // Fails once the server has refused it; the status tells.
        cpay_code ignored = payments_v1_PaymentService_PaymentChat_send(call, m, &s.st);
        (void)ignored;
      }
    } else if (!ended) {
      cpay_code ignored = payments_v1_PaymentService_PaymentChat_close_send(call, &s.st);
      (void)ignored;  // a failure shows in the status
    }
    drain_chat(c, a, call, lines, sent, &answered, &s.st);
  }
  rc = payments_v1_PaymentService_PaymentChat_finish(call, &s.st);
  cpay_call_free(call);
  if (!soak_expect(c, a, SOAK_CHAT, rc, &s.res, &s.st, allowed)) return;
  if (s.res.code == CPAY_GRPC_OK && (answered != n || sent != n)) {
    soak_wrong(c, a, "chat ended OK after %d of %d lines and %d answers", sent, n, answered);
  }
}

// ---- disconnects ----------------------------------------------------------------

// A channel of the client's own. C-core lets channels with the same target
// and arguments share one TCP connection; a receive limit that differs per
// client (4 MiB + its index: replies are far smaller) gives each client its
// own connection, as separate client processes would have.
cpay_channel *soak_new_channel(const soak_client *c, const char *target) {
  cpay_channel_opts o = {.default_timeout_ms = CALL_TIMEOUT_MS,
                         .max_recv_size = (4 << 20) + c->index};
  cpay_status st = {0};
  cpay_channel *ch = cpay_channel_new(target, &o, &st);
  if (!ch) {
    fprintf(stderr, "payments-soak: client %d: %s: %s\n", c->index, target, cpay_status_msg(&st));
    exit(1);
  }
  return ch;
}

// Starts a call of `method` on `ch` and gets it going: a chat round trip,
// a batch with charges in it, a charge held by the server, a stream.
static cpay_call *start_busy_call(soak_client *c, soak_action a, cpay_channel *ch, int method,
                                  call_setup *s, cpay_code *rc) {
  customer *cu = soak_pick_customer(c);
  cpay_call *call = NULL;
  if (method == SOAK_CHARGE) {
    uint32_t idx = key_new(c, cu, false);
    payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
    if (!req) return NULL;
    key_sending(&cu->keys[idx]);
    setup(c, s, CALL_TIMEOUT_MS, soak_range(c, 300, 600));
    *rc = cpay_call_start(ch, &payments_v1_PaymentService_methods[0], &s->opts, req, &call, &s->st);
    soak_sleep_ms(soak_range(c, 10, 100));
  } else if (method == SOAK_STREAM) {
    payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(c->arena);
    if (!req) return NULL;
    req->customer_id = cpay_str_from_c(cu->id);
    *rc = payments_v1_PaymentService_StreamTransactions(ch, &s->opts, req, &call, &s->st);
    soak_sleep_ms(soak_range(c, 10, 100));
  } else if (method == SOAK_BATCH) {
    *rc = payments_v1_PaymentService_BatchCharge(ch, &s->opts, &call, &s->st);
    for (int i = (int)soak_range(c, 0, 3); i > 0 && *rc == CPAY_OK; i--) {
      uint32_t idx = key_new(c, cu, soak_range(c, 0, 3) == 0);
      payments_v1_ChargeRequest *req = charge_req(c, cu, idx);
      key_sending(&cu->keys[idx]);
      cpay_code ignored = req ? payments_v1_PaymentService_BatchCharge_send(call, req, &s->st)
                              : CPAY_OK;
      (void)ignored;  // the status tells
    }
    soak_sleep_ms(soak_range(c, 5, 50));
  } else {
    *rc = payments_v1_PaymentService_PaymentChat(ch, &s->opts, &call, &s->st);
    chat_line line;
    payments_v1_PaymentMessage *m = *rc == CPAY_OK ? chat_msg(c, &line) : NULL;
    payments_v1_PaymentMessage *r;
    if (m && payments_v1_PaymentService_PaymentChat_send(call, m, &s->st) == CPAY_OK &&
        payments_v1_PaymentService_PaymentChat_recv(call, c->arena, &r, &s->st) == CPAY_OK && r) {
      check_answer(c, a, &line, r);
    }
  }
  return call;
}

// The client drops its channel with a call running and frees the call
// without waiting for it, as a client that goes away does: the server sees
// the call cancelled. (The status the client's call gets, CANCELLED, is
// checked by test_grpc_channel_free_cancels_calls; connection_cut is the
// disconnect whose status the soak checks.) The client's long-lived
// subscribers are on the channel too: they must end CANCELLED ("the channel
// was closed") before cpay_channel_free returns, and are opened again on the
// new channel.
static void channel_drop(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CHANNEL_DROP], 1);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  cpay_code rc = CPAY_OK;
  int method = (int)soak_range(c, 0, SOAK_METHODS - 1);
  cpay_call *call = start_busy_call(c, A_CHANNEL_DROP, c->ch, method, &s, &rc);
  cpay_channel_free(c->ch);
  c->ch = NULL;
  soak_sub_channel_closed(c, A_CHANNEL_DROP);
  cpay_call_free(call);
  if (rc != CPAY_OK) soak_expect(c, A_CHANNEL_DROP, method, rc, &s.res, &s.st, 0);
  c->ch = soak_new_channel(c, c->target);
}

// A call on a connection of its own, through a proxy that resets the
// connection (both ways) mid-call: the call must end UNAVAILABLE.
static void connection_cut(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_CONN_CUT], 1);
  soak_proxy *p = soak_proxy_start(soak.port);
  if (!p) exit(1);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", soak_proxy_port(p));
  cpay_channel *ch = soak_new_channel(c, target);
  call_setup s;
  setup(c, &s, CALL_TIMEOUT_MS, -1);
  cpay_code rc = CPAY_OK;
  int method = (int)soak_range(c, 0, SOAK_METHODS - 1);
  cpay_call *call = start_busy_call(c, A_CONN_CUT, ch, method, &s, &rc);
  soak_proxy_cut(p);
  if (call) {
    for (;;) {  // whatever arrived before the cut, then the end
      void *m;
      if (method == SOAK_CHARGE || method == SOAK_BATCH ||
          cpay_call_recv(call, c->arena, &m, &s.st) != CPAY_OK || !m) {
        break;
      }
    }
    void *resp;
    bool one = method == SOAK_CHARGE || method == SOAK_BATCH;
    rc = cpay_call_finish(call, c->arena, one ? &resp : NULL, &s.st);
    cpay_call_free(call);
  }
  cpay_channel_free(ch);
  soak_expect(c, A_CONN_CUT, method, rc, &s.res, &s.st, BIT(CPAY_GRPC_UNAVAILABLE));
}

// ---- the client ---------------------------------------------------------------------

bool soak_client_init(soak_client *c, int index) {
  memset(c, 0, sizeof *c);
  c->index = index;
  c->rng = soak.opts.seed ^ (0x9e3779b97f4a7c15u * (uint64_t)(index + 1));
  snprintf(c->target, sizeof c->target, "127.0.0.1:%d", soak.port);
  c->arena = cpay_arena_new();
  if (!c->arena) {
    fprintf(stderr, "payments-soak: out of memory for an arena\n");
    return false;
  }
  for (int i = 0; i < SOAK_CUSTOMERS_PER_CLIENT; i++) c->active[i] = customer_new(c);
  c->ch = soak_new_channel(c, c->target);
  return soak_sub_init(c);
}

typedef struct weighted {
  soak_action action;
  int weight;
} weighted;

// How often each action runs, out of the sum of the weights.
static const weighted kMix[] = {
    {A_CHARGE_NEW, 14},     {A_CHARGE_DECLINED, 4}, {A_CHARGE_RETRY, 10},
    {A_CHARGE_INVALID, 5},  {A_CHARGE_DEADLINE, 6}, {A_CHARGE_CANCEL, 3},
    {A_CHARGE_OVERSIZED, 2}, {A_STREAM, 8},         {A_STREAM_CANCEL, 3},
    {A_BATCH, 10},          {A_BATCH_DEADLINE, 3},  {A_BATCH_CANCEL, 3},
    {A_BATCH_OVERSIZED, 2}, {A_CHAT, 8},            {A_CHAT_DEADLINE, 2},
    {A_CHAT_CANCEL, 3},     {A_CHAT_OVERSIZED, 2},  {A_CHANNEL_DROP, 2},
    {A_RAW_GARBAGE, 5},     {A_CONN_CUT, 2},  {A_TCP_DROP, 2},
    {A_SUBSCRIBE, 4},       {A_SUB_CANCEL, 4},      {A_SUB_DEADLINE, 2},
    {A_SUB_CLOSE, 1},       {A_WATCH_CYCLE, 3},
};

static int mix_weight(size_t i) {
  if (soak.opts.only && !(soak.opts.only & (1u << kMix[i].action))) return 0;
  return kMix[i].weight;
}

void soak_client_step(soak_client *c) {
  cpay_arena_reset(c->arena);
  soak_sub_tend(c);
  if (c->retired_count && soak_now_ms() - c->retired[0]->retired_ms >= RETIRED_CHECK_DELAY_MS) {
    // Checked a while after retiring, so abandoned charges have landed.
    customer *cu = c->retired[0];
    memmove(c->retired, c->retired + 1, --c->retired_count * sizeof *c->retired);
    check_customer(c, cu, false);
    free(cu);
    return;
  }
  int total = 0;
  for (size_t i = 0; i < sizeof kMix / sizeof kMix[0]; i++) total += mix_weight(i);
  int r = (int)soak_range(c, 0, total - 1);
  soak_action a = kMix[0].action;
  for (size_t i = 0; i < sizeof kMix / sizeof kMix[0]; i++) {
    if (r < mix_weight(i)) {
      a = kMix[i].action;
      break;
    }
    r -= mix_weight(i);
  }
  switch (a) {
    case A_CHARGE_NEW:
    case A_CHARGE_DECLINED:
    case A_CHARGE_RETRY:
      charge(c, a);
      break;
    case A_CHARGE_INVALID:
      charge_invalid(c);
      break;
    case A_CHARGE_DEADLINE:
      charge_deadline(c);
      break;
    case A_CHARGE_CANCEL:
      charge_cancel(c);
      break;
    case A_CHARGE_OVERSIZED:
      charge_oversized(c);
      break;
    case A_STREAM:
      stream(c);
      break;
    case A_STREAM_CANCEL:
      stream_cancel(c);
      break;
    case A_BATCH:
    case A_BATCH_DEADLINE:
    case A_BATCH_CANCEL:
    case A_BATCH_OVERSIZED:
      batch(c, a);
      break;
    case A_CHAT:
    case A_CHAT_DEADLINE:
    case A_CHAT_CANCEL:
    case A_CHAT_OVERSIZED:
      chat(c, a);
      break;
    case A_CHANNEL_DROP:
      channel_drop(c);
      break;
    case A_RAW_GARBAGE:
      soak_raw_garbage(c);
      break;
    case A_CONN_CUT:
      connection_cut(c);
      break;
    case A_TCP_DROP:
      soak_tcp_drop(c);
      break;
    case A_SUBSCRIBE:
    case A_SUB_CANCEL:
    case A_SUB_DEADLINE:
    case A_SUB_CLOSE:
      soak_sub_subscribe(c, a);
      break;
    case A_WATCH_CYCLE:
      soak_sub_watch_cycle(c);
      break;
    case A_SUB_SHUTDOWN:
    case A_VERIFY:
    case A_COUNT:
      break;
  }
}

void soak_client_final_check(soak_client *c) {
  soak_sub_final_check(c);
  for (size_t i = 0; i < c->retired_count; i++) {
    cpay_arena_reset(c->arena);
    check_customer(c, c->retired[i], true);
  }
  for (int i = 0; i < SOAK_CUSTOMERS_PER_CLIENT; i++) {
    cpay_arena_reset(c->arena);
    check_customer(c, c->active[i], true);
  }
}

void soak_client_free(soak_client *c) {
  soak_raw_free(c);
  cpay_channel_free(c->ch);
  soak_sub_free(c);
  cpay_arena_free(c->arena);
  for (int i = 0; i < SOAK_CUSTOMERS_PER_CLIENT; i++) free(c->active[i]);
  for (size_t i = 0; i < c->retired_count; i++) free(c->retired[i]);
  free(c->retired);
}
