// The cpay side of the gRPC benchmark (see run.py): a PaymentService server
// with reactor handlers, doing what bench_cxx.cc's callback-API server does,
// and the clients that measure both servers.
//
//   bench-grpc-cpay server PORT
//   bench-grpc-cpay unary TARGET CONCURRENCY SECONDS
//   bench-grpc-cpay unary-async TARGET CONCURRENCY SECONDS
//   bench-grpc-cpay stream TARGET MESSAGES
//   bench-grpc-cpay health TARGET CHECKS
//   bench-grpc-cpay subscribe TARGET N CUSTOMER
//
// `unary` keeps CONCURRENCY blocking ChargeCard calls in flight from as many
// threads; `unary-async` keeps as many asynchronous ones in flight from one
// event thread. `stream` reads a bulk StreamTransactions. `health` makes
// sequential grpc.health.v1.Health/Check calls. All print bench_report's
// RESULT line (stream its STREAM line).
//
// `subscribe` holds N live subscriptions (StreamTransactions with
// since_unix 0) of CUSTOMER on a cpay_loop of ONE event thread, and prints
// `SUBSCRIBED N <threads> <rss kB> <rss kB before the streams>` once every
// one has its initial metadata. It then reads commands on stdin: `fanout`
// makes one ChargeCard for CUSTOMER (blocking, from the main thread, on a
// connection of its own) and prints `FANOUT N <ms>`, the time from just
// before the call until the last of the N subscribers has the transaction;
// `quit` (or the end of stdin) cancels every subscription, waits for each
// one's on_done and exits 0. Every wait is bounded: past it the program
// says why on stderr and exits 1.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "grpc/health/v1/health.cpay_grpc.h"
#include "payments.cpay_grpc.h"

// ---- the server ------------------------------------------------------------------
//
// Mirrors bench_cxx.cc's server. ChargeCard answers at once and, when the
// customer has live subscribers, writes a Transaction to each of them.
// StreamTransactions with since_unix == 0 is a live subscription: the
// initial metadata goes out at once (the client then knows it is
// registered) and the call stays open until the client cancels. With
// since_unix > 0 it writes that many transactions and finishes, refilling
// the send queue from on_ready (none when negative).
//
// A slow subscriber: the C++ server queues at most 1024 transactions per
// subscriber beside the one being written, and ends a subscriber that would
// need a 1026th with RESOURCE_EXHAUSTED "subscriber too slow". A cpay call's
// send queue holds written messages, the one being sent included, up to a
// number of bytes; it takes a message while it holds fewer bytes than that.
// With the bound set to 1025 times the size of the transactions this
// benchmark fans out (FANOUT_* below), it holds exactly as many of them as
// the C++ server does, and a write it refuses (CPAY_ERR_WOULD_BLOCK) ends
// the subscriber the same way. A message leaves both queues at the same
// moment: when C-core completes its SEND_MESSAGE (C++'s OnWriteDone).

#define MAX_QUEUED 1024
#define HUB_BUCKETS 256

// What the subscribe client charges, so that the server can size its send
// queues for the transactions it fans out (see above).
#define FANOUT_CUSTOMER "cus_live"
#define FANOUT_KEY_FMT "fanout-%010ld"
#define FANOUT_KEY_SAMPLE "fanout-0000000001"
#define FANOUT_AMOUNT 1999
#define CREATED_AT 1700000000

typedef struct topic topic;
typedef struct hub hub;

// One live subscription; `ended` once the server finished it.
typedef struct subscriber {
  struct subscriber *prev, *next;  // in its topic
  hub *hub;
  topic *topic;
  cpay_server_call *call;
  bool ended;
} subscriber;

// A customer's live subscribers.
struct topic {
  topic *next;  // in its hash bucket
  subscriber *subs;
  size_t id_len;
  char id[];
};

// Live subscribers by customer id. A subscriber enters in its start handler
// and leaves in on_done, under `mu`; Publish writes under `mu`, so it never
// touches a call that has ended. Lock order: `mu`, then a call's own lock
// (taken inside cpay_server_call_write).
struct hub {
  pthread_mutex_t mu;
  topic *buckets[HUB_BUCKETS];
};

static size_t hub_bucket(cpay_str id) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (size_t i = 0; i < id.size; i++) h = (h ^ (unsigned char)id.data[i]) * 16777619u;
  return h % HUB_BUCKETS;
}

// The topic of `id`, or NULL; mu held.
static topic *hub_find(hub *h, cpay_str id) {
  for (topic *t = h->buckets[hub_bucket(id)]; t; t = t->next) {
    if (t->id_len == id.size && memcmp(t->id, id.data, id.size) == 0) return t;
  }
  return NULL;
}

// Adds `s` to the subscribers of `id`; false when out of memory.
static bool hub_add(hub *h, cpay_str id, subscriber *s) {
  pthread_mutex_lock(&h->mu);
  topic *t = hub_find(h, id);
  if (!t && (t = malloc(sizeof *t + id.size))) {
    size_t b = hub_bucket(id);
    t->next = h->buckets[b];
    t->subs = NULL;
    t->id_len = id.size;
    memcpy(t->id, id.data, id.size);
    h->buckets[b] = t;
  }
  if (t) {
    s->topic = t;
    s->next = t->subs;
    if (s->next) s->next->prev = s;
    t->subs = s;
  }
  pthread_mutex_unlock(&h->mu);
  return t != NULL;
}

// Takes `s` out; a topic left without subscribers goes.
static void hub_remove(subscriber *s) {
  hub *h = s->hub;
  pthread_mutex_lock(&h->mu);
  topic *t = s->topic;
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    t->subs = s->next;
  }
  if (s->next) s->next->prev = s->prev;
  if (!t->subs) {
    topic **link = &h->buckets[hub_bucket((cpay_str){t->id, t->id_len})];
    while (*link != t) link = &(*link)->next;
    *link = t->next;
    free(t);
  }
  pthread_mutex_unlock(&h->mu);
}

// Writes `tx` to every live subscriber of `id`. It never waits: a write
// only queues. A subscriber whose queue is full is ended (see above).
static void hub_publish(hub *h, cpay_str id, const payments_v1_Transaction *tx) {
  pthread_mutex_lock(&h->mu);
  topic *t = hub_find(h, id);
  for (subscriber *s = t ? t->subs : NULL; s; s = s->next) {
    if (s->ended) continue;
    cpay_code c = payments_v1_PaymentService_StreamTransactions_write_response(s->call, tx, NULL);
    if (c == CPAY_OK) continue;
    s->ended = true;
    // Anything else than a full queue means the call is ending already.
    if (c == CPAY_ERR_WOULD_BLOCK) {
      cpay_server_call_fail(s->call, CPAY_GRPC_RESOURCE_EXHAUSTED, "subscriber too slow");
    }
  }
  pthread_mutex_unlock(&h->mu);
}

static void on_charge(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                      payments_v1_ChargeResponse *resp) {
  hub *h = ctx;
  resp->transaction_id = req->idempotency_key;
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  resp->processor_reference = CPAY_STR("auth_0000001234");
  resp->processed_at_unix = CREATED_AT;
  // The C++ server first asks whether anyone listens, to avoid building a
  // protobuf Transaction for nobody; here building one costs nothing (the
  // strings are views of the request), so Publish's lookup is the check.
  payments_v1_Transaction tx;
  memset(&tx, 0, sizeof tx);
  tx.id = req->idempotency_key;
  tx.customer_id = req->customer_id;
  tx.amount_cents = req->amount_cents;
  tx.currency = req->currency;
  tx.created_at_unix = CREATED_AT;
  hub_publish(h, req->customer_id, &tx);
  cpay_server_call_finish(call);
}

static void live_done(void *state, cpay_server_call *call) {
  subscriber *s = state;
  (void)call;
  if (s->topic) hub_remove(s);
  free(s);
}

// A cancelled subscription needs nothing: a reactor call the client
// cancelled ends without cpay_server_call_finish (the C++ one calls Finish
// in OnCancel because grpc++ requires it), and on_done takes it out.
static const payments_v1_PaymentService_StreamTransactions_reactor kLiveReactor = {
    .on_done = live_done,
};

// A bulk stream: writes transactions until the send queue is full, and
// continues from on_ready.
typedef struct bulk {
  payments_v1_Transaction tx;
  int64_t i, count;
} bulk;

static void bulk_pump(void *state, cpay_server_call *call) {
  bulk *b = state;
  while (b->i < b->count) {
    b->tx.amount_cents = b->i;
    b->tx.created_at_unix = CREATED_AT + b->i;
    cpay_code c = payments_v1_PaymentService_StreamTransactions_write_response(call, &b->tx, NULL);
    if (c == CPAY_ERR_WOULD_BLOCK) return;  // on_ready comes back here
    if (c != CPAY_OK) break;                // the client is gone
    b->i++;
  }
  cpay_server_call_finish(call);
}

static void bulk_done(void *state, cpay_server_call *call) {
  (void)call;
  free(state);
}

static const payments_v1_PaymentService_StreamTransactions_reactor kBulkReactor = {
    .on_ready = bulk_pump,
    .on_done = bulk_done,
};

static void on_stream(void *ctx, cpay_server_call *call,
                      const payments_v1_TransactionStreamRequest *req) {
  hub *h = ctx;
  if (req->since_unix != 0) {
    bulk *b = calloc(1, sizeof *b);
    if (!b) {
      cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    // The request lives on the call's arena until the call ends.
    b->tx.customer_id = req->customer_id;
    b->tx.currency = CPAY_STR("USD");
    b->tx.id = CPAY_STR("txn_0000000000001");
    b->count = req->since_unix;
    payments_v1_PaymentService_StreamTransactions_react(call, &kBulkReactor, b);
    bulk_pump(b, call);
    return;
  }
  subscriber *s = calloc(1, sizeof *s);
  if (!s) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  s->hub = h;
  s->call = call;
  // The reactor first: from here on, on_done frees `s`, whatever happens.
  payments_v1_PaymentService_StreamTransactions_react(call, &kLiveReactor, s);
  // Fails only for a call that already ended; on_done still follows.
  cpay_code sent = cpay_server_call_send_initial_metadata(call, NULL);
  (void)sent;
  if (!hub_add(h, req->customer_id, s)) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
  }
}

// The send queue bound that holds MAX_QUEUED + 1 fanned-out transactions.
static size_t fanout_queue_bytes(void) {
  payments_v1_Transaction tx;
  memset(&tx, 0, sizeof tx);
  tx.id = CPAY_STR(FANOUT_KEY_SAMPLE);
  tx.customer_id = CPAY_STR(FANOUT_CUSTOMER);
  tx.amount_cents = FANOUT_AMOUNT;
  tx.currency = CPAY_STR("USD");
  tx.created_at_unix = CREATED_AT;
  cpay_arena *a = cpay_arena_new();
  cpay_bytes out = {0};
  size_t size = 64;  // about right, should the encoding fail (out of memory)
  if (a && payments_v1_Transaction_serialize(&tx, a, &out, NULL) == CPAY_OK) size = out.size;
  cpay_arena_free(a);
  return (MAX_QUEUED + 1) * size;
}

static int serve(int port) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  // Blocked before the server starts its threads, so that they inherit the
  // mask and only sigwait below sees these signals.
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  cpay_status st = {0};
  static hub h = {.mu = PTHREAD_MUTEX_INITIALIZER};
  cpay_server_opts opts = {.send_queue_bytes = fanout_queue_bytes()};
  cpay_server *srv = cpay_server_new(&opts, &st);
  payments_v1_PaymentService_handlers handlers = {.on_ChargeCard = on_charge,
                                                  .on_StreamTransactions = on_stream};
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  int bound = 0;
  if (!srv || payments_v1_PaymentService_register(srv, &handlers, &h) != CPAY_OK ||
      cpay_server_enable_health(srv, &st) != CPAY_OK ||
      cpay_server_listen(srv, addr, NULL, &bound, &st) != CPAY_OK ||
      cpay_server_start(srv, &st) != CPAY_OK) {
    fprintf(stderr, "bench-grpc-cpay: %s\n", cpay_status_msg(&st));
    cpay_server_free(srv);
    return 1;
  }
  printf("listening on port %d\n", bound);
  fflush(stdout);
  int sig;
  sigwait(&sigs, &sig);
  // As the C++ server: live subscriptions never end on their own, so they
  // are cancelled after a 500 ms grace.
  cpay_server_shutdown(srv, 500);
  cpay_server_free(srv);
  return 0;
}

// ---- unary and stream clients (blocking) -------------------------------------------

static void fill_charge(payments_v1_ChargeRequest *req) {
  memset(req, 0, sizeof *req);
  req->customer_id = CPAY_STR("cus_0000000042");
  req->amount_cents = 1999;
  req->currency = CPAY_STR("USD");
  req->idempotency_key = CPAY_STR("idem_5f1c2a9e-77d2-4c4e-9f1a");
  payments_v1_ChargeRequest_set_description(req, CPAY_STR("Coffee beans, 1 kg"));
}

// Latencies in ns, grown as needed; false when out of memory.
typedef struct lat_list {
  int64_t *v;
  size_t n, cap;
} lat_list;

static bool lat_push(lat_list *l, int64_t ns) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 65536;
    int64_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) return false;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = ns;
  return true;
}

typedef struct worker {
  cpay_channel *ch;
  int64_t deadline_ns;
  lat_list lat;
  int errors;
} worker;

static void *unary_worker(void *arg) {
  worker *w = arg;
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeRequest req;
  fill_charge(&req);
  while (a && bench_now_ns() < w->deadline_ns) {
    int64_t t0 = bench_now_ns();
    payments_v1_ChargeResponse *resp;
    cpay_code c = payments_v1_PaymentService_ChargeCard(w->ch, NULL, &req, a, &resp, NULL);
    int64_t t1 = bench_now_ns();
    cpay_arena_reset(a);
    if (c != CPAY_OK || !lat_push(&w->lat, t1 - t0)) w->errors++;
  }
  if (!a) w->errors++;
  cpay_arena_free(a);
  return NULL;
}

static int run_unary(const char *target, int conc, double secs) {
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  if (!ch || cpay_channel_wait_ready(ch, 5000, NULL) != CPAY_OK) {
    cpay_channel_free(ch);
    return 1;
  }
  // Warm-up.
  worker warm = {ch, bench_now_ns() + 300000000, {NULL, 0, 0}, 0};
  unary_worker(&warm);
  free(warm.lat.v);
  worker *ws = calloc((size_t)conc, sizeof *ws);
  pthread_t *th = calloc((size_t)conc, sizeof *th);
  if (!ws || !th) return 1;
  int64_t start = bench_now_ns();
  for (int i = 0; i < conc; i++) {
    ws[i] = (worker){ch, start + (int64_t)(secs * 1e9), {NULL, 0, 0}, 0};
    if (pthread_create(&th[i], NULL, unary_worker, &ws[i]) != 0) return 1;
  }
  size_t total = 0;
  int errors = 0;
  for (int i = 0; i < conc; i++) {
    pthread_join(th[i], NULL);
    total += ws[i].lat.n;
    errors += ws[i].errors;
  }
  double took = (bench_now_ns() - start) / 1e9;
  int64_t *all = malloc((total ? total : 1) * sizeof *all);
  if (!all) return 1;
  size_t k = 0;
  for (int i = 0; i < conc; i++) {
    memcpy(all + k, ws[i].lat.v, ws[i].lat.n * sizeof *all);
    k += ws[i].lat.n;
    free(ws[i].lat.v);
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
  if (!ch || !a) return 1;
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

// ---- health client -----------------------------------------------------------------

static int run_health(const char *target, int checks) {
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  int64_t *lat = malloc((size_t)(checks > 0 ? checks : 1) * sizeof *lat);
  int rc = 1;
  if (!ch || !a || !lat || cpay_channel_wait_ready(ch, 5000, NULL) != CPAY_OK) goto out;
  grpc_health_v1_HealthCheckRequest req;
  memset(&req, 0, sizeof req);  // service "": the whole server
  cpay_status st = {0};
  int warm = checks / 10 < 100 ? checks / 10 : 100;
  int64_t start = 0;
  for (int i = -warm; i < checks; i++) {
    if (i == 0) start = bench_now_ns();
    int64_t t0 = bench_now_ns();
    grpc_health_v1_HealthCheckResponse *resp;
    cpay_code c = grpc_health_v1_Health_Check(ch, NULL, &req, a, &resp, &st);
    int64_t t1 = bench_now_ns();
    if (c != CPAY_OK || resp->status != grpc_health_v1_HealthCheckResponse_SERVING) {
      fprintf(stderr, "health: check %d: %s\n", i,
              c != CPAY_OK ? cpay_status_msg(&st) : "not SERVING");
      goto out;
    }
    cpay_arena_reset(a);
    if (i >= 0) lat[i] = t1 - t0;
  }
  bench_report("health", 1, lat, (size_t)checks, (bench_now_ns() - start) / 1e9);
  rc = 0;
out:
  free(lat);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  return rc;
}

// ---- unary-async: CONC calls in flight from one event thread ------------------------

typedef struct async_unary {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cpay_channel *ch;
  payments_v1_ChargeRequest req;
  int64_t until_ns;
  bool record;
  int in_flight;     // under mu
  int start_errors;  // calls the main thread could not start
  int errors;        // the loop thread only, read once nothing is in flight
  lat_list lat;      // likewise
} async_unary;

// One of the CONC places: its call's start time.
typedef struct async_place {
  async_unary *au;
  int64_t t0;
} async_place;

static const payments_v1_PaymentService_ChargeCard_client_reactor kAsyncUnaryReactor;

// Starts the place's next call; false when it could not start.
static bool async_start(async_place *p) {
  p->t0 = bench_now_ns();
  return payments_v1_PaymentService_ChargeCard_async(p->au->ch, NULL, &p->au->req,
                                                     &kAsyncUnaryReactor, p, NULL, NULL) == CPAY_OK;
}

static void async_unary_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  async_place *p = state;
  async_unary *au = p->au;
  int64_t t1 = bench_now_ns();
  if (res->code != CPAY_GRPC_OK) {
    au->errors++;
  } else if (au->record && !lat_push(&au->lat, t1 - p->t0)) {
    au->errors++;
  }
  if (t1 < au->until_ns) {
    if (async_start(p)) return;
    au->errors++;
  }
  pthread_mutex_lock(&au->mu);
  if (--au->in_flight == 0) pthread_cond_signal(&au->cv);
  pthread_mutex_unlock(&au->mu);
}

static const payments_v1_PaymentService_ChargeCard_client_reactor kAsyncUnaryReactor = {
    .on_done = async_unary_done,
};

// Keeps `conc` calls in flight until `secs` have passed; false when the
// calls did not end within a generous bound.
static bool async_round(async_unary *au, async_place *places, int conc, double secs) {
  au->until_ns = bench_now_ns() + (int64_t)(secs * 1e9);
  pthread_mutex_lock(&au->mu);
  for (int i = 0; i < conc; i++) {
    places[i] = (async_place){au, 0};
    au->in_flight++;
    if (!async_start(&places[i])) {
      au->in_flight--;
      au->start_errors++;
    }
  }
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += (time_t)secs + 60;
  int wait = 0;
  while (au->in_flight > 0 && wait == 0) wait = pthread_cond_timedwait(&au->cv, &au->mu, &limit);
  bool ok = au->in_flight == 0;
  pthread_mutex_unlock(&au->mu);
  return ok;
}

static int run_unary_async(const char *target, int conc, double secs) {
  cpay_status st = {0};
  cpay_loop_opts lo = {.threads = 1};
  cpay_loop *loop = cpay_loop_new(&lo, &st);
  cpay_channel_opts co = {.loop = loop};
  async_unary au = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  async_place *places = calloc((size_t)conc, sizeof *places);
  fill_charge(&au.req);
  au.ch = loop ? cpay_channel_new(target, &co, &st) : NULL;
  if (!places || !au.ch || cpay_channel_wait_ready(au.ch, 5000, &st) != CPAY_OK) {
    fprintf(stderr, "unary-async: %s\n", cpay_status_msg(&st));
    return 1;
  }
  if (!async_round(&au, places, conc, 0.3)) return 1;  // warm-up
  au.record = true;
  int64_t start = bench_now_ns();
  if (!async_round(&au, places, conc, secs)) {
    fprintf(stderr, "unary-async: calls still in flight long after the end\n");
    return 1;
  }
  double took = (bench_now_ns() - start) / 1e9;
  bench_report("unary-async", conc, au.lat.v, au.lat.n, took);
  free(au.lat.v);
  free(places);
  cpay_channel_free(au.ch);
  cpay_loop_free(loop);
  return au.errors || au.start_errors ? 1 : 0;
}

// ---- subscribe: N live subscriptions on one event thread -----------------------------

typedef struct sub_state sub_state;

// One subscription. `call` is valid until its on_done, which clears it
// under the state's lock; the main thread cancels under that lock.
typedef struct sub_place {
  sub_state *ss;
  cpay_call *call;
  bool ready;  // its initial metadata arrived
} sub_place;

struct sub_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;  // ready, failed, done or got changed
  sub_place *places;
  long n;
  long ready;   // subscriptions with their initial metadata
  long failed;  // ended before their initial metadata
  long done;    // on_done ran
  bool quitting;
  // The fan-out in progress: the id to expect and how many have it.
  char expect[32];
  long got;
  long wrong;  // transactions other than the one expected
  int64_t last_ns;  // when the last of the n got it
};

static void sub_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  (void)md;
  (void)count;
  sub_place *p = state;
  sub_state *ss = p->ss;
  // A read stays pending from here on, so that what the server pushes is
  // taken at once. Fails only when the call is ending: on_done follows.
  cpay_code reading = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
  (void)reading;
  pthread_mutex_lock(&ss->mu);
  p->ready = true;
  ss->ready++;
  if (ss->ready + ss->failed == ss->n) pthread_cond_broadcast(&ss->cv);
  pthread_mutex_unlock(&ss->mu);
}

static void sub_message(void *state, cpay_call *call, payments_v1_Transaction *tx) {
  sub_place *p = state;
  sub_state *ss = p->ss;
  if (!tx) return;  // the end of the stream: on_done follows
  // Onto the call's arena, which grows by one transaction per fan-out.
  cpay_code reading = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
  (void)reading;
  pthread_mutex_lock(&ss->mu);
  if (!cpay_str_eq(tx->id, cpay_str_from_c(ss->expect))) {
    ss->wrong++;
  } else if (++ss->got == ss->n) {
    ss->last_ns = bench_now_ns();
    pthread_cond_broadcast(&ss->cv);
  }
  pthread_mutex_unlock(&ss->mu);
}

static void sub_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  sub_place *p = state;
  sub_state *ss = p->ss;
  pthread_mutex_lock(&ss->mu);
  if (!ss->quitting && ss->done == 0) {
    fprintf(stderr, "subscribe: a subscription ended: %s: %s\n", cpay_grpc_code_name(res->code),
            res->message.data ? res->message.data : "");
  }
  p->call = NULL;
  if (!p->ready) ss->failed++;
  ss->done++;
  pthread_cond_broadcast(&ss->cv);
  pthread_mutex_unlock(&ss->mu);
}

static const payments_v1_PaymentService_StreamTransactions_client_reactor kSubReactor = {
    .on_message = sub_message,
    .on_metadata = sub_metadata,
    .on_done = sub_done,
};

// Waits on the state's cv, mu held, until pred(ss) or `secs` pass.
static bool sub_wait(sub_state *ss, bool (*pred)(const sub_state *ss), double secs) {
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  int64_t ns = limit.tv_nsec + (int64_t)((secs - (double)(int64_t)secs) * 1e9);
  limit.tv_sec += (time_t)secs + (time_t)(ns / 1000000000);
  limit.tv_nsec = (long)(ns % 1000000000);
  while (!pred(ss)) {
    if (pthread_cond_timedwait(&ss->cv, &ss->mu, &limit) == ETIMEDOUT) return pred(ss);
  }
  return true;
}

static bool all_answered(const sub_state *ss) { return ss->ready + ss->failed == ss->n; }
static bool all_got(const sub_state *ss) { return ss->got == ss->n || ss->done > 0; }
static bool all_done(const sub_state *ss) { return ss->done == ss->n; }

// Reads one command line from stdin into `buf`, waiting at most `secs`;
// false at the end of stdin, on an error or after the wait.
static bool read_command(char *buf, size_t size, int secs) {
  struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
  int r;
  do {
    r = poll(&pfd, 1, secs * 1000);
  } while (r < 0 && errno == EINTR);
  if (r <= 0 || !fgets(buf, (int)size, stdin)) return false;
  buf[strcspn(buf, "\r\n")] = '\0';
  return true;
}

// One fan-out: charges CUSTOMER once and waits for every subscriber to
// have the transaction. Milliseconds, or -1 on failure.
static double fanout(sub_state *ss, cpay_channel *ctl, const char *customer, long round) {
  payments_v1_ChargeRequest req;
  memset(&req, 0, sizeof req);
  req.customer_id = cpay_str_from_c(customer);
  req.amount_cents = FANOUT_AMOUNT;
  req.currency = CPAY_STR("USD");
  pthread_mutex_lock(&ss->mu);
  snprintf(ss->expect, sizeof ss->expect, FANOUT_KEY_FMT, round);
  req.idempotency_key = cpay_str_from_c(ss->expect);  // not changed until the next round
  ss->got = 0;
  ss->last_ns = 0;
  pthread_mutex_unlock(&ss->mu);
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_call_opts opts = {.timeout_ms = 10000};
  payments_v1_ChargeResponse *resp = NULL;
  int64_t t0 = bench_now_ns();
  cpay_code c = a ? payments_v1_PaymentService_ChargeCard(ctl, &opts, &req, a, &resp, &st)
                  : CPAY_ERR_NO_MEMORY;
  cpay_arena_free(a);
  if (c != CPAY_OK) {
    fprintf(stderr, "subscribe: fanout ChargeCard: %s\n", cpay_status_msg(&st));
    return -1;
  }
  pthread_mutex_lock(&ss->mu);
  bool ok = sub_wait(ss, all_got, 60) && ss->got == ss->n && ss->wrong == 0;
  if (!ok) {
    fprintf(stderr, "subscribe: fanout %ld: %ld of %ld subscribers got it, %ld wrong, %ld ended\n",
            round, ss->got, ss->n, ss->wrong, ss->done);
  }
  int64_t last = ss->last_ns;
  pthread_mutex_unlock(&ss->mu);
  return ok ? (last - t0) / 1e6 : -1;
}

static int run_subscribe(const char *target, long n, const char *customer) {
  cpay_status st = {0};
  cpay_loop_opts lo = {.threads = 1};
  cpay_loop *loop = cpay_loop_new(&lo, &st);
  // All subscriptions share one connection (C-core's server sets no limit
  // of concurrent streams by default); the fan-out charge has one of its
  // own. Calls have a deadline, generous, so that nothing outlives a run.
  cpay_channel_opts co = {.loop = loop};
  cpay_channel_opts ctl_opts = {.own_connection = true};
  cpay_channel *ch = loop ? cpay_channel_new(target, &co, &st) : NULL;
  cpay_channel *ctl = ch ? cpay_channel_new(target, &ctl_opts, &st) : NULL;
  sub_state ss = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .n = n};
  ss.places = calloc((size_t)n, sizeof *ss.places);
  if (!ctl || !ss.places || cpay_channel_wait_ready(ch, 5000, &st) != CPAY_OK ||
      cpay_channel_wait_ready(ctl, 5000, &st) != CPAY_OK) {
    fprintf(stderr, "subscribe: %s\n", st.msg[0] ? cpay_status_msg(&st) : "out of memory");
    return 1;
  }
  long threads, base_rss, rss;
  bench_proc_status(&threads, &base_rss);

  payments_v1_TransactionStreamRequest req;
  memset(&req, 0, sizeof req);
  req.customer_id = cpay_str_from_c(customer);
  cpay_call_opts opts = {.timeout_ms = 3600 * 1000};
  int rc = 1;
  long started = 0;
  for (; started < n; started++) {
    sub_place *p = &ss.places[started];
    p->ss = &ss;
    // p->call is set before any callback can clear it: callbacks take the
    // lock held here.
    pthread_mutex_lock(&ss.mu);
    cpay_code c = payments_v1_PaymentService_StreamTransactions_async(ch, &opts, &req, &kSubReactor,
                                                                       p, &p->call, &st);
    pthread_mutex_unlock(&ss.mu);
    if (c != CPAY_OK) {
      fprintf(stderr, "subscribe: subscription %ld: %s\n", started, cpay_status_msg(&st));
      break;
    }
  }
  pthread_mutex_lock(&ss.mu);
  // Those that did not start never call back: count them as answered.
  ss.failed += n - started;
  bool answered = sub_wait(&ss, all_answered, 120);
  bool ok = answered && ss.failed == 0;
  if (!ok) {
    fprintf(stderr, "subscribe: %ld of %ld subscriptions registered, %ld failed%s\n", ss.ready, n,
            ss.failed, answered ? "" : " (gave up waiting)");
  }
  pthread_mutex_unlock(&ss.mu);
  if (ok) {
    bench_proc_status(&threads, &rss);
    printf("SUBSCRIBED %ld %ld %ld %ld\n", n, threads, rss, base_rss);
    fflush(stdout);
    char cmd[64];
    long round = 0;
    // A generous bound on the driver's silence between commands.
    while (read_command(cmd, sizeof cmd, 600) && strcmp(cmd, "quit") != 0) {
      if (strcmp(cmd, "fanout") != 0) {
        fprintf(stderr, "subscribe: unknown command %s\n", cmd);
        ok = false;
        break;
      }
      double ms = fanout(&ss, ctl, customer, ++round);
      if (ms < 0) {
        ok = false;
        break;
      }
      printf("FANOUT %ld %.3f\n", n, ms);
      fflush(stdout);
    }
  }

  // Cancels what is left and waits for every on_done.
  pthread_mutex_lock(&ss.mu);
  ss.quitting = true;
  for (long i = 0; i < started; i++) {
    if (ss.places[i].call) cpay_call_cancel(ss.places[i].call);
  }
  bool ended = sub_wait(&ss, all_done, 60);
  pthread_mutex_unlock(&ss.mu);
  if (!ended) {
    // The calls still point at the places: nothing can be freed.
    fprintf(stderr, "subscribe: %ld of %ld subscriptions still open after cancelling\n",
            n - ss.done, n);
    fflush(stdout);
    _exit(1);
  }
  if (ok) rc = 0;
  cpay_channel_free(ctl);
  cpay_channel_free(ch);
  cpay_loop_free(loop);
  free(ss.places);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) return serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "unary") == 0) return run_unary(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 5 && strcmp(argv[1], "unary-async") == 0) {
    return run_unary_async(argv[2], atoi(argv[3]), atof(argv[4]));
  }
  if (argc == 4 && strcmp(argv[1], "stream") == 0) return run_stream(argv[2], atol(argv[3]));
  if (argc == 4 && strcmp(argv[1], "health") == 0) return run_health(argv[2], atoi(argv[3]));
  if (argc == 5 && strcmp(argv[1], "subscribe") == 0 && atol(argv[3]) > 0) {
    return run_subscribe(argv[2], atol(argv[3]), argv[4]);
  }
  fprintf(stderr,
          "usage: bench-grpc-cpay server PORT | unary TARGET CONC SECONDS"
          " | unary-async TARGET CONC SECONDS | stream TARGET N | health TARGET CHECKS"
          " | subscribe TARGET N CUSTOMER\n");
  return 2;
}
