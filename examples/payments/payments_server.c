// payments-server: proto/payments.proto's PaymentService on libcpay-grpc,
// with the standard health and reflection services.
//
//   payments-server [--listen HOST:PORT] [--threads N] [--workers N]
//                   [--require-token TOKEN] [--tls-cert PEM --tls-key PEM]
//                   [--max-recv-size BYTES] [--max-stored N] [--max-calls N]
//                   [--compression NAME] [--http HOST:PORT [--cors-origin ORIGIN]...]
//                   [--store memory|postgres:CONNINFO] [--replica-id NAME]
//                   [--lame-duck-ms MS]
//
// It uses both handler styles of libcpay-grpc. ChargeCard and BatchCharge
// are blocking handlers on the worker pool (--workers): they validate,
// compute and return. ChargeCard charges once per idempotency key (a
// repeated key returns the stored response), declines amounts above 500000
// cents, and answers an invalid request INVALID_ARGUMENT with a
// google.rpc.BadRequest detail naming the field. StreamTransactions and
// PaymentChat are reactors on the event threads (--threads), holding no
// thread while they wait. StreamTransactions is a live feed: it sends the
// customer's stored transactions since a time, then every new one as the
// charge that makes it happens, from whichever thread runs that ChargeCard,
// until the client leaves; a subscriber that reads so slowly that the
// transactions it has still to get leave the store is ended with
// RESOURCE_EXHAUSTED, and at shutdown every subscription ends UNAVAILABLE.
// PaymentChat answers each message as it arrives, reading the next only
// once the answer is queued. Every call's x-request-id is echoed back in the
// initial and trailing metadata; x-simulate-latency-ms delays ChargeCard (to
// try deadlines). SIGINT / SIGTERM shut down gracefully: health says
// NOT_SERVING at once, calls are still served for --lame-duck-ms (default
// 0) so that health-checking clients and proxies move away, then new calls
// are refused UNAVAILABLE and the running ones get up to 5 s to finish
// before the GOAWAY (docs/services.md, "Draining and connection age").
// SIGUSR1 sets health NOT_SERVING without shutting down (traffic drains
// away from a replica that stays up, for maintenance), SIGUSR2 SERVING
// again.
//
// With --http, the same handlers also answer REST/JSON (the google.api.http
// bindings of payments.proto: POST /v1/charges, GET
// /v1/customers/{customer_id}/transactions as newline-delimited JSON, ...)
// and gRPC-Web, on a second port; --cors-origin lets a web page from that
// origin call it (examples/payments/web/).
//
// Every PaymentService call's initial metadata carries x-served-by: the
// --replica-id (default HOSTNAME:PORT), so that tests behind a balancer can
// count which replica served it.
//
// Where charges and transactions are kept is a store (store.h: a struct of
// function pointers, so handlers do not know which one runs). The live feed
// (the ring of recent transactions, customers, subscribers, flow control) is
// shared by both stores and lives here. --store postgres:CONNINFO
// (store_pg.c, built with libpq) keeps keys and transactions in PostgreSQL,
// shared by every replica on that database: one charge per key across
// replicas (a UNIQUE key), transaction ids from a sequence, and a feed that
// crosses replicas with LISTEN/NOTIFY and catches up by gapless commit-order
// positions; ChargeCard answers UNAVAILABLE while the database is away and
// reconnects by itself (docs/payments-store.md). The rest of this comment is
// the default, --store memory.
//
// Everything is kept in memory, in two fixed-capacity rings of --max-stored
// entries each (default 100000, about 45 MiB once both are full): the
// idempotency keys of the last N charges (declined ones included) and the
// last N transactions, with an index of the customers that have either a
// transaction in the ring or a subscription. The oldest entry makes room for
// a new one, so memory stays flat however long the server runs. An evicted
// key is forgotten, like a key past a real processor's retention window
// (Stripe keeps them 24 h): a retry after that charges again, so clients
// retry within the window only. An evicted transaction no longer streams.
// With glibc, malloc uses two arenas (MALLOC_ARENA_MAX overrides), so memory
// does not grow in steps as C-core adds threads under load.
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpay/grpc.h"
#include "cpay/grpc_details.h"
#include "cpay/http.h"
#include "payments.cpay_grpc.h"
#include "store.h"

#define MAX_KEY_BYTES 255
#define DEFAULT_MAX_STORED 100000
#define LIMIT_MAX_STORED 10000000

// The first response for an idempotency key. Fixed size, so the ring of them
// is allocated once.
typedef struct charge {
  char key[MAX_KEY_BYTES];
  uint8_t key_len;
  uint32_t next;  // the next charge in its hash bucket, as index + 1; 0 ends
  char tid[24];   // "txn_000042", NUL-terminated
  char ref[24];   // "auth_000042" or "decl_000042"
  payments_v1_ChargeStatus status;
  int64_t processed_at;
} charge;

// A transaction in the feed's ring. Those of one customer form a chain in
// the order stored, so a subscriber walks its own customer's transactions
// only.
typedef struct txn {
  feed_txn t;
  uint64_t next_same;  // number + 1 of the customer's next transaction; 0: none yet
} txn;

// A customer with transactions in the ring or a live subscription.
typedef struct customer {
  struct customer *next;  // in its hash bucket
  char id[MAX_CUSTOMER_BYTES + 1];
  uint64_t first;  // number + 1 of its oldest stored transaction; 0: none
  uint64_t last;   // number + 1 of its newest; 0: none
  subscriber *subs;
} customer;

// One StreamTransactions call (a reactor): the history it has still to
// send, then where it is in its customer's chain. The call is touched only
// under the feed's lock, and leaves the lists in on_done, so no thread
// writes to a call that has ended.
struct subscriber {
  subscriber *prev, *next;  // in customer->subs, or in feed->pending (next only)
  customer *cu;             // NULL until subscribed (while its history is fetched)
  cpay_server_call *call;
  feed *f;
  char customer_id[MAX_CUSTOMER_BYTES + 1];
  int64_t since;
  feed_txn *hist;  // history from the store (PostgreSQL), sent first
  size_t hist_len, hist_next;
  uint64_t cursor;  // number + 1 of the next transaction to look at; 0: up to date
  bool ended;       // finished by the server (too slow, shutting down)
  bool pending;     // in feed->pending
  bool taken;       // its history is being fetched: on_done leaves it to the store
  bool done;        // on_done ran while taken: freed when handed back
};

// The live feed: the last --max-stored transactions in a ring, the
// customers, their subscribers.
struct feed {
  pthread_mutex_t mu;
  size_t cap;  // --max-stored
  // Transaction number n (0-based, in the order stored) lives at
  // txns[n % cap] until transaction n + cap replaces it.
  txn *txns;
  uint64_t txn_total;
  // Customers by id: at most cap with transactions, plus the subscribed.
  customer **customers;
  size_t bucket_mask;
  // Subscriptions waiting for their history (PostgreSQL store), oldest first.
  subscriber *pending, *pending_tail;
  void (*waker)(void *ctx);
  void *waker_ctx;
  bool shutting_down;  // no new subscriptions
};

// The memory store: the idempotency keys of the last --max-stored charges
// in a ring, under the feed's lock (one lock, as before the stores were
// split: a charge and its transaction are stored together).
typedef struct mem_store {
  store base;
  feed *f;
  size_t cap;
  // Charge number n (1-based, the n of its transaction id) lives at
  // charges[(n - 1) % cap] until charge n + cap replaces it.
  charge *charges;
  uint64_t charge_total;
  // Hash index over the live charges: heads of chains of index + 1.
  uint32_t *buckets;
  size_t bucket_mask;
} mem_store;

typedef struct server_ctx {
  feed f;
  store *st;
  const char *token;  // required bearer token, or NULL
  char replica_id[128];  // x-served-by
} server_ctx;

static int64_t now_unix(void) { return (int64_t)time(NULL); }

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static size_t buckets_for(size_t cap) {
  size_t buckets = 1;
  while (buckets < cap) buckets *= 2;
  return buckets;
}

// Allocates the ring and the customer index for `cap` transactions. calloc
// leaves the pages untouched until they are written, so memory grows while
// the ring fills and stays flat after. False when out of memory.
static bool feed_init(feed *f, size_t cap) {
  memset(f, 0, sizeof *f);
  size_t buckets = buckets_for(cap);
  f->cap = cap;
  f->bucket_mask = buckets - 1;
  f->txns = calloc(cap, sizeof *f->txns);
  f->customers = calloc(buckets, sizeof *f->customers);
  if (!f->txns || !f->customers) return false;
  pthread_mutex_init(&f->mu, NULL);
  return true;
}

static void feed_free(feed *f) {
  for (size_t i = 0; f->customers && i <= f->bucket_mask; i++) {
    for (customer *cu = f->customers[i], *next; cu; cu = next) {
      next = cu->next;
      free(cu);
    }
  }
  free(f->customers);
  free(f->txns);
}

static bool valid_currency(cpay_str c) {
  if (c.size != 3) return false;
  for (size_t i = 0; i < 3; i++) {
    if (!isupper((unsigned char)c.data[i])) return false;
  }
  return true;
}

// Why `req` cannot be charged (*field names the culprit), or NULL.
static const char *invalid_reason(const payments_v1_ChargeRequest *req, const char **field) {
  *field = "customer_id";
  if (req->customer_id.size == 0) return "customer_id is required";
  if (req->customer_id.size > MAX_CUSTOMER_BYTES) return "customer_id is too long";
  *field = "amount_cents";
  if (req->amount_cents <= 0) return "amount_cents must be positive";
  *field = "currency";
  if (!valid_currency(req->currency)) return "currency must be an ISO 4217 code such as USD";
  *field = "idempotency_key";
  if (req->idempotency_key.size == 0) return "idempotency_key is required";
  if (req->idempotency_key.size > MAX_KEY_BYTES) return "idempotency_key is longer than 255 bytes";
  return NULL;
}

static uint64_t fnv1a(cpay_str s) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < s.size; i++) h = (h ^ (unsigned char)s.data[i]) * 1099511628211u;
  return h;
}

// ---- customers and the live feed (feed lock held) ---------------------------------

void feed_lock(feed *f) { pthread_mutex_lock(&f->mu); }
void feed_unlock(feed *f) { pthread_mutex_unlock(&f->mu); }
size_t feed_capacity(const feed *f) { return f->cap; }

void feed_set_waker(feed *f, void (*fn)(void *ctx), void *ctx) {
  f->waker = fn;
  f->waker_ctx = ctx;
}

static customer **customer_link(feed *f, cpay_str id) {
  customer **link = &f->customers[fnv1a(id) & f->bucket_mask];
  while (*link && !cpay_str_eq(cpay_str_from_c((*link)->id), id)) link = &(*link)->next;
  return link;
}

// The customer `id` (at most MAX_CUSTOMER_BYTES), added when missing; NULL
// when out of memory.
static customer *customer_get(feed *f, cpay_str id) {
  customer **link = customer_link(f, id);
  if (*link) return *link;
  customer *cu = calloc(1, sizeof *cu);
  if (!cu) return NULL;
  memcpy(cu->id, id.data, id.size);
  *link = cu;
  return cu;
}

// Forgets a customer with nothing stored and nobody subscribed.
static void customer_drop_if_idle(feed *f, customer *cu) {
  if (cu->first || cu->subs) return;
  customer **link = customer_link(f, cpay_str_from_c(cu->id));
  *link = cu->next;
  free(cu);
}

static void fill_txn(const feed_txn *t, payments_v1_Transaction *out) {
  memset(out, 0, sizeof *out);
  out->id = cpay_str_from_c(t->id);
  out->customer_id = cpay_str_from_c(t->customer);
  out->amount_cents = t->amount_cents;
  out->currency = cpay_str_from_c(t->currency);
  out->created_at_unix = t->created_at;
}

// Queues one transaction; false when the call cannot take it now (a full
// send queue: on_ready comes back; or the call is ending: on_done follows).
static bool send_txn(subscriber *sub, const feed_txn *t) {
  payments_v1_Transaction msg;
  fill_txn(t, &msg);
  return payments_v1_PaymentService_StreamTransactions_write_response(sub->call, &msg, NULL) ==
         CPAY_OK;
}

// Sends `sub` what it has not seen, until its send queue is full (its
// on_ready comes back here) or it is up to date: first its history from the
// store, if any, then its customer's chain in the ring. A subscriber whose
// next transaction already left the ring fell behind for good: it ends with
// RESOURCE_EXHAUSTED, rather than silently missing transactions.
static void pump(feed *f, subscriber *sub) {
  while (sub->hist_next < sub->hist_len && !sub->ended) {
    if (!send_txn(sub, &sub->hist[sub->hist_next])) return;
    if (++sub->hist_next == sub->hist_len) {
      free(sub->hist);
      sub->hist = NULL;
      sub->hist_len = sub->hist_next = 0;
    }
  }
  while (sub->cursor && !sub->ended) {
    uint64_t n = sub->cursor - 1;
    if (n + f->cap < f->txn_total) {
      sub->ended = true;
      cpay_server_call_fail(sub->call, CPAY_GRPC_RESOURCE_EXHAUSTED,
                            "subscriber too slow: %" PRIu64 " transactions were stored since "
                            "the next one it had to get, which the store (--max-stored %zu) no "
                            "longer holds; subscribe again with since_unix",
                            f->txn_total - n, f->cap);
      return;
    }
    const txn *t = &f->txns[n % f->cap];
    if (t->t.created_at >= sub->since && !send_txn(sub, &t->t)) return;
    sub->cursor = t->next_same;
  }
}

// Takes the oldest transaction out of its customer's chain before its slot
// is reused.
static void evict_txn(feed *f, const txn *old) {
  customer *cu = *customer_link(f, cpay_str_from_c(old->t.customer));
  if (!cu) return;
  cu->first = old->next_same;
  if (!cu->first) cu->last = 0;
  customer_drop_if_idle(f, cu);
}

void feed_add(feed *f, const feed_txn *in) {
  uint64_t n = f->txn_total;
  txn *t = &f->txns[n % f->cap];
  if (n >= f->cap) evict_txn(f, t);
  memset(t, 0, sizeof *t);
  t->t = *in;
  f->txn_total++;
  customer *cu = customer_get(f, cpay_str_from_c(in->customer));
  if (!cu) return;  // out of memory: stored, but not streamed live
  if (cu->last) f->txns[(cu->last - 1) % f->cap].next_same = n + 1;
  if (!cu->first) cu->first = n + 1;
  cu->last = n + 1;
  for (subscriber *sub = cu->subs; sub; sub = sub->next) {
    if (!sub->cursor) sub->cursor = n + 1;
    pump(f, sub);
  }
}

// Subscribes `sub` to its customer from now on; `from_ring`: its history
// is what the ring holds. False when out of memory.
static bool subscribe(feed *f, subscriber *sub, bool from_ring) {
  customer *cu = customer_get(f, cpay_str_from_c(sub->customer_id));
  if (!cu) return false;
  sub->cu = cu;
  sub->prev = NULL;
  sub->next = cu->subs;
  if (sub->next) sub->next->prev = sub;
  cu->subs = sub;
  sub->cursor = from_ring ? cu->first : 0;
  pump(f, sub);
  return true;
}

subscriber *feed_take_pending(feed *f, char customer_id[MAX_CUSTOMER_BYTES + 1], int64_t *since) {
  subscriber *sub = f->pending;
  if (!sub) return NULL;
  f->pending = sub->next;
  if (!f->pending) f->pending_tail = NULL;
  sub->next = NULL;
  sub->pending = false;
  sub->taken = true;
  memcpy(customer_id, sub->customer_id, sizeof sub->customer_id);
  *since = sub->since;
  return sub;
}

// A taken subscriber is back from the store: false (and freed) when its
// call ended meanwhile.
static bool hand_back(subscriber *sub) {
  sub->taken = false;
  if (!sub->done) return true;
  free(sub->hist);
  free(sub);
  return false;
}

void feed_attach_history(feed *f, subscriber *sub, feed_txn *hist, size_t n) {
  sub->hist = hist;
  sub->hist_len = n;
  sub->hist_next = 0;
  if (!hand_back(sub)) return;
  if (sub->ended) return;
  if (f->shutting_down) {
    sub->ended = true;
    cpay_server_call_fail(sub->call, CPAY_GRPC_UNAVAILABLE, "the server is shutting down");
    return;
  }
  if (!subscribe(f, sub, false)) {
    sub->ended = true;
    cpay_server_call_fail(sub->call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
  }
}

void feed_fail_pending(feed *f, subscriber *sub, cpay_grpc_code code, const char *msg) {
  (void)f;
  if (!hand_back(sub) || sub->ended) return;
  sub->ended = true;
  cpay_server_call_fail(sub->call, code, "%s", msg);
}

// ---- the memory store ----------------------------------------------------------

static size_t key_bucket(const mem_store *s, cpay_str key) {
  return (size_t)(fnv1a(key) & s->bucket_mask);
}

static charge *find_charge(mem_store *s, cpay_str key) {
  for (uint32_t i = s->buckets[key_bucket(s, key)]; i; i = s->charges[i - 1].next) {
    charge *c = &s->charges[i - 1];
    if (c->key_len == key.size && memcmp(c->key, key.data, key.size) == 0) return c;
  }
  return NULL;
}

// Takes the oldest charge, at `slot`, out of the hash index before its slot
// is reused: its key is forgotten.
static void evict_charge(mem_store *s, size_t slot) {
  charge *old = &s->charges[slot];
  uint32_t *link = &s->buckets[key_bucket(s, (cpay_str){old->key, old->key_len})];
  while (*link != slot + 1) link = &s->charges[*link - 1].next;
  *link = old->next;
}

// Copies a stored response onto the call's message (strings are copied
// onto the arena: the slot may be reused once the lock is released).
static void copy_resp(const charge *c, payments_v1_ChargeResponse *to, cpay_arena *a) {
  to->transaction_id = cpay_str_dup(a, cpay_str_from_c(c->tid));
  to->status = c->status;
  to->processor_reference = cpay_str_dup(a, cpay_str_from_c(c->ref));
  to->processed_at_unix = c->processed_at;
}

// Charges a valid request once per remembered idempotency key. Never fails:
// the rings were allocated at startup.
static cpay_grpc_code mem_charge(store *base, const payments_v1_ChargeRequest *req,
                                 int64_t time_left_ms, payments_v1_ChargeResponse *out,
                                 cpay_arena *a, char *why, size_t why_size) {
  (void)time_left_ms;
  (void)why;
  (void)why_size;
  mem_store *s = (mem_store *)base;
  feed_lock(s->f);
  charge *c = find_charge(s, req->idempotency_key);
  if (c) {
    copy_resp(c, out, a);
    feed_unlock(s->f);
    return CPAY_GRPC_OK;
  }
  uint64_t id = ++s->charge_total;
  size_t slot = (size_t)((id - 1) % s->cap);
  if (id > s->cap) evict_charge(s, slot);
  c = &s->charges[slot];
  bool declined = req->amount_cents > DECLINE_ABOVE_CENTS;
  memcpy(c->key, req->idempotency_key.data, req->idempotency_key.size);
  c->key_len = (uint8_t)req->idempotency_key.size;
  snprintf(c->tid, sizeof c->tid, "txn_%06" PRIu64, id);
  snprintf(c->ref, sizeof c->ref, "%s_%06" PRIu64, declined ? "decl" : "auth", id);
  c->status = declined ? payments_v1_CHARGE_STATUS_DECLINED : payments_v1_CHARGE_STATUS_SUCCESS;
  c->processed_at = now_unix();
  size_t b = key_bucket(s, req->idempotency_key);
  c->next = s->buckets[b];
  s->buckets[b] = (uint32_t)(slot + 1);
  if (!declined) {
    feed_txn t;
    memset(&t, 0, sizeof t);
    memcpy(t.id, c->tid, sizeof t.id);
    memcpy(t.customer, req->customer_id.data, req->customer_id.size);
    memcpy(t.currency, req->currency.data, req->currency.size);
    t.amount_cents = req->amount_cents;
    t.created_at = c->processed_at;
    feed_add(s->f, &t);
  }
  copy_resp(c, out, a);
  feed_unlock(s->f);
  return CPAY_GRPC_OK;
}

static void mem_stop(store *base) { (void)base; }

static void mem_destroy(store *base) {
  mem_store *s = (mem_store *)base;
  if (!s) return;
  free(s->charges);
  free(s->buckets);
  free(s);
}

static const store_ops kMemoryStore = {
    .name = "memory",
    .charge = mem_charge,
    .feed_has_history = true,
    .stop = mem_stop,
    .destroy = mem_destroy,
};

// The memory store: a ring of `cap` idempotency keys feeding `f`. NULL when
// out of memory.
static store *store_memory_new(feed *f, size_t cap) {
  mem_store *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t buckets = buckets_for(cap);
  s->base.ops = &kMemoryStore;
  s->f = f;
  s->cap = cap;
  s->bucket_mask = buckets - 1;
  s->charges = calloc(cap, sizeof *s->charges);
  s->buckets = calloc(buckets, sizeof *s->buckets);
  if (!s->charges || !s->buckets) {
    mem_destroy(&s->base);
    return NULL;
  }
  return &s->base;
}

static int64_t str_to_i64(cpay_str s) {
  char buf[24];
  size_t n = s.size < sizeof buf - 1 ? s.size : sizeof buf - 1;
  memcpy(buf, s.data, n);
  buf[n] = '\0';
  return strtoll(buf, NULL, 10);
}

static void echo_request_id(cpay_server_call *call) {
  cpay_str id = cpay_server_call_metadata_get(call, "x-request-id");
  if (!id.data) return;
  // Only fails for a bad key or after the headers went out: nothing to do then.
  cpay_code a = cpay_server_call_add_initial_metadata(call, "x-request-id", id);
  cpay_code b = cpay_server_call_add_trailing_metadata(call, "x-request-id", id);
  (void)a;
  (void)b;
}

// ---- ChargeCard and BatchCharge: blocking handlers ------------------------------

// INVALID_ARGUMENT with the reason, and a google.rpc.BadRequest detail that
// names the field, for clients that read rich error details.
static cpay_code reject(cpay_server_call *call, const char *field, const char *why) {
  cpay_arena *a = cpay_server_call_arena(call);
  google_rpc_BadRequest *br = google_rpc_BadRequest_new(a);
  google_rpc_BadRequest_FieldViolation *v = br ? google_rpc_BadRequest_add_field_violations(br, a) : NULL;
  if (v) {
    v->field = cpay_str_from_c(field);
    v->description = cpay_str_from_c(why);
    // Without the detail the status still says why.
    cpay_code ignored = cpay_add_BadRequest(call, br, NULL);
    (void)ignored;
  }
  return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "%s", why);
}

static cpay_code charge_card(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                             payments_v1_ChargeResponse *resp) {
  server_ctx *sc = ctx;
  echo_request_id(call);
  cpay_str lat = cpay_server_call_metadata_get(call, "x-simulate-latency-ms");
  if (lat.data) {
    int64_t ms = str_to_i64(lat);
    for (int64_t waited = 0; waited < ms; waited += 10) {
      if (cpay_server_call_is_cancelled(call)) {
        return cpay_server_call_set_status(call, CPAY_GRPC_CANCELLED, "client left");
      }
      sleep_ms(10);
    }
  }
  const char *field;
  const char *why = invalid_reason(req, &field);
  if (why) return reject(call, field, why);
  char why_db[256];
  cpay_grpc_code code = sc->st->ops->charge(sc->st, req, cpay_server_call_time_left_ms(call), resp,
                                            cpay_server_call_arena(call), why_db, sizeof why_db);
  if (code != CPAY_GRPC_OK) return cpay_server_call_set_status(call, code, "%s", why_db);
  return CPAY_OK;
}

static cpay_code batch_charge(void *ctx, cpay_server_call *call) {
  server_ctx *sc = ctx;
  echo_request_id(call);
  cpay_arena *call_arena = cpay_server_call_arena(call);
  payments_v1_BatchChargeResponse *out = payments_v1_BatchChargeResponse_new(call_arena);
  // Requests are read onto a scratch arena reset for each one, so a long
  // batch uses constant memory; failed keys are copied to the call's arena.
  cpay_arena *scratch = cpay_arena_new();
  if (!out || !scratch) {
    cpay_arena_free(scratch);
    return cpay_server_call_set_status(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
  }
  cpay_code code;
  for (;;) {
    cpay_arena_reset(scratch);
    payments_v1_ChargeRequest *req;
    code = payments_v1_PaymentService_BatchCharge_recv_request(call, scratch, &req, NULL);
    if (code != CPAY_OK || !req) break;
    out->total++;
    payments_v1_ChargeResponse resp;
    memset(&resp, 0, sizeof resp);
    const char *field;
    bool ok = invalid_reason(req, &field) == NULL;
    if (ok) {
      // A store that fails (the database is down) ends the batch: the
      // charges made so far stand, and a retry of the batch with the same
      // keys charges none of them twice.
      char why_db[256];
      cpay_grpc_code sc_code = sc->st->ops->charge(sc->st, req, cpay_server_call_time_left_ms(call),
                                                   &resp, scratch, why_db, sizeof why_db);
      if (sc_code != CPAY_GRPC_OK) {
        cpay_arena_free(scratch);
        return cpay_server_call_set_status(call, sc_code, "%s", why_db);
      }
      ok = resp.status == payments_v1_CHARGE_STATUS_SUCCESS;
    }
    if (ok) {
      out->succeeded++;
      continue;
    }
    out->failed++;
    cpay_str key = req->idempotency_key.size ? req->idempotency_key : CPAY_STR("(no key)");
    code = payments_v1_BatchChargeResponse_add_failed_idempotency_keys(
        out, cpay_str_dup(call_arena, key), call_arena);
    if (code != CPAY_OK) break;
  }
  cpay_arena_free(scratch);
  if (code != CPAY_OK) return code;  // the status set by recv (INTERNAL) wins
  if (cpay_server_call_is_cancelled(call)) return CPAY_OK;
  return payments_v1_PaymentService_BatchCharge_send_response(call, out, NULL);
}

// ---- StreamTransactions: a reactor, the live feed ----------------------------------

static void subscriber_ready(void *state, cpay_server_call *call) {
  (void)call;
  subscriber *sub = state;
  feed *f = sub->f;
  pthread_mutex_lock(&f->mu);
  pump(f, sub);
  pthread_mutex_unlock(&f->mu);
}

static void subscriber_done(void *state, cpay_server_call *call) {
  (void)call;
  subscriber *sub = state;
  feed *f = sub->f;
  pthread_mutex_lock(&f->mu);
  if (sub->cu) {
    if (sub->prev) {
      sub->prev->next = sub->next;
    } else {
      sub->cu->subs = sub->next;
    }
    if (sub->next) sub->next->prev = sub->prev;
    customer_drop_if_idle(f, sub->cu);
  } else if (sub->pending) {
    subscriber **link = &f->pending, *prev = NULL;
    while (*link != sub) {
      prev = *link;
      link = &(*link)->next;
    }
    *link = sub->next;
    if (f->pending_tail == sub) f->pending_tail = prev;
  }
  // A taken subscriber is the store's until it hands it back (hand_back).
  bool keep = sub->taken;
  sub->done = true;
  sub->ended = true;
  pthread_mutex_unlock(&f->mu);
  if (keep) return;
  free(sub->hist);
  free(sub);
}

static const payments_v1_PaymentService_StreamTransactions_reactor kSubscriberReactor = {
    .on_ready = subscriber_ready,
    .on_done = subscriber_done,
};

static void stream_transactions(void *ctx, cpay_server_call *call,
                                const payments_v1_TransactionStreamRequest *req) {
  server_ctx *sc = ctx;
  feed *f = &sc->f;
  echo_request_id(call);
  if (req->customer_id.size == 0 || req->customer_id.size > MAX_CUSTOMER_BYTES) {
    cpay_server_call_fail(call, CPAY_GRPC_INVALID_ARGUMENT, req->customer_id.size
                                                                ? "customer_id is too long"
                                                                : "customer_id is required");
    return;
  }
  subscriber *sub = calloc(1, sizeof *sub);
  if (!sub) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory for a subscriber");
    return;
  }
  sub->call = call;
  sub->f = f;
  sub->since = req->since_unix;
  memcpy(sub->customer_id, req->customer_id.data, req->customer_id.size);
  // The headers go out at once: the client knows it is subscribed. A call
  // that already ended fails later writes too.
  cpay_code sent = cpay_server_call_send_initial_metadata(call, NULL);
  (void)sent;
  pthread_mutex_lock(&f->mu);
  if (f->shutting_down) {
    pthread_mutex_unlock(&f->mu);
    free(sub);
    cpay_server_call_fail(call, CPAY_GRPC_UNAVAILABLE, "the server is shutting down");
    return;
  }
  payments_v1_PaymentService_StreamTransactions_react(call, &kSubscriberReactor, sub);
  if (sc->st->ops->feed_has_history) {
    if (!subscribe(f, sub, true)) {
      sub->ended = true;
      cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    }
  } else {
    // The store's thread fetches its history, then subscribes it
    // (feed_take_pending, feed_attach_history).
    sub->pending = true;
    if (f->pending_tail) {
      f->pending_tail->next = sub;
    } else {
      f->pending = sub;
    }
    f->pending_tail = sub;
    if (f->waker) f->waker(f->waker_ctx);
  }
  pthread_mutex_unlock(&f->mu);
}

// At shutdown every subscription ends UNAVAILABLE, so that clients
// subscribe again elsewhere and the drain does not wait for them.
static void end_subscriptions(void *ctx) {
  feed *f = &((server_ctx *)ctx)->f;
  pthread_mutex_lock(&f->mu);
  f->shutting_down = true;
  for (size_t i = 0; i <= f->bucket_mask; i++) {
    for (customer *cu = f->customers[i]; cu; cu = cu->next) {
      for (subscriber *sub = cu->subs; sub; sub = sub->next) {
        if (sub->ended) continue;
        sub->ended = true;
        cpay_server_call_fail(sub->call, CPAY_GRPC_UNAVAILABLE, "the server is shutting down");
      }
    }
  }
  for (subscriber *sub = f->pending; sub; sub = sub->next) {
    sub->ended = true;
    cpay_server_call_fail(sub->call, CPAY_GRPC_UNAVAILABLE, "the server is shutting down");
  }
  pthread_mutex_unlock(&f->mu);
}

// ---- PaymentChat: a reactor that answers each line ----------------------------------

// One chat: the line being answered and its answer live on `a`, reset once
// the answer is queued; the next line is read only then, so a client that
// sends without reading is held back by HTTP/2 flow control, not buffered.
typedef struct chat {
  cpay_arena *a;
  payments_v1_PaymentMessage *unsent;  // an answer that met a full send queue
} chat;

static void chat_next(chat *ch, cpay_server_call *call) {
  cpay_arena_reset(ch->a);
  ch->unsent = NULL;
  if (payments_v1_PaymentService_PaymentChat_read_request(call, ch->a, NULL) != CPAY_OK) {
    cpay_server_call_finish(call);
  }
}

static void chat_send(chat *ch, cpay_server_call *call, payments_v1_PaymentMessage *reply) {
  cpay_code c = payments_v1_PaymentService_PaymentChat_write_response(call, reply, NULL);
  if (c == CPAY_ERR_WOULD_BLOCK) {
    ch->unsent = reply;  // on_ready sends it
  } else if (c == CPAY_OK) {
    chat_next(ch, call);
  }
}

static void chat_message(void *state, cpay_server_call *call, payments_v1_PaymentMessage *in) {
  chat *ch = state;
  if (!in) {  // the client is done
    cpay_server_call_finish(call);
    return;
  }
  payments_v1_PaymentMessage *reply = payments_v1_PaymentMessage_new(ch->a);
  char *text = reply ? cpay_arena_realloc(ch->a, NULL, 0, in->text.size + 64) : NULL;
  if (!text) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  int len = snprintf(text, in->text.size + 64, "support received: %.*s", (int)in->text.size,
                     in->text.data);
  reply->text = (cpay_str){text, (size_t)len};
  reply->sender = CPAY_STR("support");
  reply->sent_at_unix = now_unix();
  if (payments_v1_PaymentMessage_has_transaction_id(in)) {
    payments_v1_PaymentMessage_set_transaction_id(reply, in->transaction_id);
  }
  chat_send(ch, call, reply);
}

static void chat_ready(void *state, cpay_server_call *call) {
  chat *ch = state;
  if (ch->unsent) chat_send(ch, call, ch->unsent);
}

static void chat_done(void *state, cpay_server_call *call) {
  (void)call;
  chat *ch = state;
  cpay_arena_free(ch->a);
  free(ch);
}

static const payments_v1_PaymentService_PaymentChat_reactor kChatReactor = {
    .on_message = chat_message,
    .on_ready = chat_ready,
    .on_done = chat_done,
};

static void payment_chat(void *ctx, cpay_server_call *call) {
  (void)ctx;
  echo_request_id(call);
  chat *ch = calloc(1, sizeof *ch);
  if (ch && !(ch->a = cpay_arena_new())) {
    free(ch);
    ch = NULL;
  }
  if (!ch) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  payments_v1_PaymentService_PaymentChat_react(call, &kChatReactor, ch);
  chat_next(ch, call);
}

// ---- interceptor, options, main ------------------------------------------------------

// Adds x-served-by (--replica-id) to every PaymentService call, and checks
// `authorization: Bearer <token>` on it when the server was started with
// --require-token.
static cpay_code check_token(void *ctx, cpay_server_call *call, const cpay_method *m,
                             const void *req) {
  (void)req;
  server_ctx *sc = ctx;
  if (strncmp(m->path, "/payments.v1.", 13) != 0) return CPAY_OK;
  // Which replica served the call, for whoever counts them behind a balancer.
  cpay_code added = cpay_server_call_add_initial_metadata(call, "x-served-by",
                                                          cpay_str_from_c(sc->replica_id));
  (void)added;
  if (!sc->token) return CPAY_OK;
  cpay_str auth = cpay_server_call_metadata_get(call, "authorization");
  size_t tl = strlen(sc->token);
  if (auth.size == 7 + tl && memcmp(auth.data, "Bearer ", 7) == 0 &&
      memcmp(auth.data + 7, sc->token, tl) == 0) {
    return CPAY_OK;
  }
  return cpay_server_call_set_status(call, CPAY_GRPC_UNAUTHENTICATED,
                                     auth.data ? "invalid token" : "missing authorization");
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n < 4096) break;
  }
  fclose(f);
  if (buf) buf[len] = '\0';
  return buf;
}

static int usage(void) {
  fprintf(stderr,
          "usage: payments-server [--listen HOST:PORT] [--threads N] [--workers N]\n"
          "                       [--require-token TOKEN] [--tls-cert PEM --tls-key PEM]\n"
          "                       [--max-recv-size BYTES] [--max-stored N] [--max-calls N]\n"
          "                       [--compression NAME] [--http HOST:PORT [--cors-origin ORIGIN]]\n"
          "                       [--store memory|postgres:CONNINFO] [--replica-id NAME]\n"
          "                       [--lame-duck-ms MS]\n");
  return 2;
}

// A whole number from `lo` to `hi`, or false.
static bool parse_num(const char *v, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi) return false;
  *out = n;
  return true;
}

int main(int argc, char **argv) {
#if defined(M_ARENA_MAX)
  // glibc gives each new thread a malloc arena of its own (up to 8 per core)
  // and keeps every arena's high-water mark, so the resident size would step
  // up each time C-core's thread pool grows under load. Two arenas keep it
  // flat; MALLOC_ARENA_MAX in the environment still decides when set.
  if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
  const char *listen = "127.0.0.1:50051";
  const char *http = NULL;  // REST and gRPC-Web, from the same handlers
  const char *origins[8];
  size_t origin_count = 0;
  const char *cert_path = NULL, *key_path = NULL;
  server_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  cpay_server_opts opts;
  memset(&opts, 0, sizeof opts);
  size_t max_stored = DEFAULT_MAX_STORED;
  const char *store_spec = "memory";
  const char *replica_id = NULL;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long n = 0;
    if (!v) return usage();
    if (strcmp(a, "--listen") == 0) {
      listen = v;
    } else if (strcmp(a, "--threads") == 0 && parse_num(v, 1, 1024, &n)) {
      opts.threads = (int)n;
    } else if (strcmp(a, "--workers") == 0 && parse_num(v, 1, 4096, &n)) {
      opts.workers = (int)n;
    } else if (strcmp(a, "--max-calls") == 0 && parse_num(v, 1, 100000000, &n)) {
      opts.max_calls = (int)n;
    } else if (strcmp(a, "--require-token") == 0) {
      ctx.token = v;
    } else if (strcmp(a, "--tls-cert") == 0) {
      cert_path = v;
    } else if (strcmp(a, "--tls-key") == 0) {
      key_path = v;
    } else if (strcmp(a, "--http") == 0) {
      http = v;
    } else if (strcmp(a, "--cors-origin") == 0 && origin_count < 8) {
      origins[origin_count++] = v;
    } else if (strcmp(a, "--compression") == 0) {
      opts.compression = v;
    } else if (strcmp(a, "--max-recv-size") == 0) {
      opts.max_recv_size = atoi(v);
    } else if (strcmp(a, "--lame-duck-ms") == 0 && parse_num(v, 0, 600000, &n)) {
      opts.lame_duck_ms = (int)n;
    } else if (strcmp(a, "--store") == 0) {
      store_spec = v;
    } else if (strcmp(a, "--replica-id") == 0) {
      if (!*v || strlen(v) >= sizeof ctx.replica_id) {
        fprintf(stderr, "payments-server: --replica-id must be 1 to %zu bytes\n",
                sizeof ctx.replica_id - 1);
        return 2;
      }
      replica_id = v;
    } else if (strcmp(a, "--max-stored") == 0) {
      if (!parse_num(v, 1, LIMIT_MAX_STORED, &n)) {
        fprintf(stderr, "payments-server: --max-stored must be a number from 1 to %d, not %s\n",
                LIMIT_MAX_STORED, v);
        return 2;
      }
      max_stored = (size_t)n;
    } else {
      return usage();
    }
  }
  if ((cert_path == NULL) != (key_path == NULL)) return usage();
  if (strcmp(store_spec, "memory") != 0 && strncmp(store_spec, "postgres:", 9) != 0) {
    fprintf(stderr, "payments-server: --store takes memory or postgres:CONNINFO, not %s\n",
            store_spec);
    return 2;
  }
  // Signals go to sigwait below, not to the server's threads: blocked
  // before any thread starts (the store's, C-core's), which inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  if (!feed_init(&ctx.f, max_stored)) {
    fprintf(stderr, "payments-server: out of memory for a feed of %zu transactions\n", max_stored);
    feed_free(&ctx.f);
    return 1;
  }
  if (strcmp(store_spec, "memory") == 0) {
    ctx.st = store_memory_new(&ctx.f, max_stored);
    if (!ctx.st) {
      fprintf(stderr, "payments-server: out of memory for a store of %zu charges\n", max_stored);
      feed_free(&ctx.f);
      return 1;
    }
  } else {
#if defined(PAYMENTS_STORE_PG)
    char err[512];
    ctx.st = store_pg_new(&ctx.f, store_spec + 9, ctx.replica_id, err, sizeof err);
    if (!ctx.st) {
      fprintf(stderr, "payments-server: --store postgres: %s\n", err);
      feed_free(&ctx.f);
      return 1;
    }
#else
    fprintf(stderr, "payments-server: --store postgres: this build has no PostgreSQL store "
                    "(libpq was not found when it was configured)\n");
    feed_free(&ctx.f);
    return 2;
#endif
  }
  opts.on_shutdown = end_subscriptions;
  opts.on_shutdown_ctx = &ctx;

  int rc = 1;
  char *cert = NULL, *key = NULL;
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(&opts, &st);
  if (!srv) goto out;
  cpay_server_tls_opts tls = {0};
  if (cert_path) {
    cert = read_file(cert_path);
    key = read_file(key_path);
    if (!cert || !key) {
      fprintf(stderr, "payments-server: cannot read %s or %s\n", cert_path, key_path);
      goto out;
    }
    tls.cert_chain = cert;
    tls.private_key = key;
  }
  const payments_v1_PaymentService_handlers handlers = {
      .ChargeCard = charge_card,
      .BatchCharge = batch_charge,
      .on_StreamTransactions = stream_transactions,
      .on_PaymentChat = payment_chat,
  };
  const cpay_server_interceptor auth = {.on_call = check_token, .ctx = &ctx};
  int port = 0;
  if (cpay_server_add_service(srv, &payments_v1_PaymentService_service, &handlers, sizeof handlers,
                              &ctx, &st) != CPAY_OK ||
      cpay_server_add_interceptor(srv, &auth, &st) != CPAY_OK ||
      cpay_server_enable_health(srv, &st) != CPAY_OK ||
      cpay_server_enable_reflection(srv, &st) != CPAY_OK ||
      cpay_server_listen(srv, listen, cert ? &tls : NULL, &port, &st) != CPAY_OK) {
    goto out;
  }
  int http_port = 0;
  if (http) {
    // Browsers may call from the origins given; the token interceptor
    // applies to HTTP requests too (Authorization: Bearer ...).
    static const char *const kForward[] = {"x-request-id", "x-simulate-latency-ms"};
    const cpay_http_opts hopts = {.tls = cert ? &tls : NULL,
                                  .forward_headers = kForward,
                                  .forward_header_count = 2,
                                  .cors_origins = origins,
                                  .cors_origin_count = origin_count};
    if (cpay_server_listen_http(srv, http, &hopts, &http_port, &st) != CPAY_OK) goto out;
  }
  if (replica_id) {
    snprintf(ctx.replica_id, sizeof ctx.replica_id, "%s", replica_id);
  } else {
    char host[64];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "payments-server");
    host[sizeof host - 1] = '\0';
    snprintf(ctx.replica_id, sizeof ctx.replica_id, "%s:%d", host, port);
  }
  if (cpay_server_start(srv, &st) != CPAY_OK) goto out;
  printf("payments-server: listening on %s (port %d%s)\n", listen, port, cert ? ", tls" : "");
  if (http) printf("payments-server: http on %s (port %d)\n", http, http_port);
  printf("payments-server: store %s, replica %s\n", ctx.st->ops->name, ctx.replica_id);
  fflush(stdout);
  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && (sig == SIGUSR1 || sig == SIGUSR2)) {
    cpay_server_set_serving(srv, "", sig == SIGUSR2);
    cpay_server_set_serving(srv, payments_v1_PaymentService_service.full_name, sig == SIGUSR2);
    printf("payments-server: health %s\n", sig == SIGUSR2 ? "SERVING" : "NOT_SERVING");
    fflush(stdout);
  }
  printf("payments-server: signal %d, NOT_SERVING; serving on for %d ms, then draining calls for "
         "up to 5 s\n", sig, opts.lame_duck_ms);
  fflush(stdout);
  cpay_server_shutdown(srv, 5000);
  rc = 0;
out:
  if (rc) fprintf(stderr, "payments-server: %s\n", st.msg[0] ? st.msg : "startup failed");
  cpay_server_free(srv);
  // The store's threads feed the feed: they stop before it is freed, and
  // after the server, whose calls use them.
  ctx.st->ops->stop(ctx.st);
  ctx.st->ops->destroy(ctx.st);
  free(cert);
  free(key);
  feed_free(&ctx.f);
  return rc;
}
