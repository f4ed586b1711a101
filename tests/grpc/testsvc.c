// The C tests' PaymentService (see testsvc.h).
#define _POSIX_C_SOURCE 200809L

#include "testsvc.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpay/grpc_details.h"

void testsvc_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void enter(testsvc *t) {
  int now = atomic_fetch_add(&t->active, 1) + 1;
  int max = atomic_load(&t->max_active);
  while (now > max && !atomic_compare_exchange_weak(&t->max_active, &max, now)) {
  }
}

static long num_after(cpay_str s, const char *prefix) {
  size_t n = strlen(prefix);
  if (s.size <= n || memcmp(s.data, prefix, n) != 0 || s.size - n > 15) return -1;
  char buf[16];
  memcpy(buf, s.data + n, s.size - n);
  buf[s.size - n] = '\0';
  return atol(buf);
}

// The answers both styles share; false when the call failed (status set).
static bool fail_on_request(cpay_server_call *call, const payments_v1_ChargeRequest *req) {
  long len = num_after(req->customer_id, "long:");
  if (len > 0) {
    char *msg = malloc((size_t)len + 1);
    if (!msg) {
      cpay_server_call_set_status(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
      return false;
    }
    for (long i = 0; i < len; i++) msg[i] = (char)('a' + i % 26);
    msg[len] = '\0';
    cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "%s", msg);
    free(msg);
    return false;
  }
  if (!cpay_str_eq(req->customer_id, CPAY_STR("details"))) return true;
  cpay_arena *a = cpay_server_call_arena(call);
  google_rpc_BadRequest *br = google_rpc_BadRequest_new(a);
  google_rpc_BadRequest_FieldViolation *v = google_rpc_BadRequest_add_field_violations(br, a);
  v->field = CPAY_STR("amount_cents");
  v->description = CPAY_STR("must be positive");
  google_rpc_ErrorInfo *ei = google_rpc_ErrorInfo_new(a);
  ei->reason = CPAY_STR("AMOUNT_NOT_POSITIVE");
  ei->domain = CPAY_STR("payments.example.com");
  if (cpay_add_BadRequest(call, br, NULL) != CPAY_OK || cpay_add_ErrorInfo(call, ei, NULL) != CPAY_OK) {
    cpay_server_call_set_status(call, CPAY_GRPC_INTERNAL, "cannot add details");
    return false;
  }
  cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "invalid charge");
  return false;
}

// Copies x-request-id and x-bin-bin into the initial and trailing metadata.
static bool echo_metadata(cpay_server_call *call) {
  const char *keys[] = {"x-request-id", "x-bin-bin"};
  bool ok = true;
  for (int i = 0; i < 2; i++) {
    cpay_str v = cpay_server_call_metadata_get(call, keys[i]);
    if (!v.data) continue;
    if (cpay_server_call_add_initial_metadata(call, keys[i], v) != CPAY_OK ||
        cpay_server_call_add_trailing_metadata(call, keys[i], v) != CPAY_OK) {
      ok = false;
    }
  }
  return ok;
}

static void note_cancel(void *arg, cpay_server_call *call) {
  (void)call;
  atomic_store((atomic_int *)arg, 1);
}

static cpay_code charge(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                        payments_v1_ChargeResponse *resp) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->unary_calls, 1);
  enter(t);
  cpay_code rc = CPAY_OK;
  bool late = cpay_str_eq(req->customer_id, CPAY_STR("late-cancel"));
  if (late || cpay_str_eq(req->customer_id, CPAY_STR("wait-cancel"))) {
    // Told by callback, not by polling is_cancelled: up to 5 s. A callback
    // set after the cancellation runs all the same.
    for (int i = 0; late && i < 1000 && !cpay_server_call_is_cancelled(call); i++) {
      testsvc_sleep_ms(5);
    }
    atomic_int cancelled = 0;
    cpay_server_call_on_cancel(call, note_cancel, &cancelled);
    for (int i = 0; i < 1000 && !atomic_load(&cancelled); i++) testsvc_sleep_ms(5);
    // A second callback, set after the first ran, runs too.
    atomic_int again = 0;
    if (atomic_load(&cancelled)) cpay_server_call_on_cancel(call, note_cancel, &again);
    for (int i = 0; i < 200 && atomic_load(&cancelled) && !atomic_load(&again); i++) {
      testsvc_sleep_ms(5);
    }
    atomic_store(&t->relay_code, atomic_load(&again) ? CPAY_ERR_CANCELLED : CPAY_OK);
    // The callback is not running once the handler returns (or after this).
    rc = cpay_server_call_set_status(call, CPAY_GRPC_CANCELLED, "cancelled");
    goto out;
  }
  if (t->name && (cpay_server_call_add_initial_metadata(call, "x-server",
                                                       cpay_str_from_c(t->name)) != CPAY_OK ||
                  cpay_server_call_add_trailing_metadata(call, "x-server",
                                                        cpay_str_from_c(t->name)) != CPAY_OK)) {
    rc = CPAY_ERR_INTERNAL;
    goto out;
  }
  long sleep = num_after(req->customer_id, "sleep:");
  long big = num_after(req->customer_id, "big:");
  if (sleep > 0) atomic_store(&t->sleep_time_left, cpay_server_call_time_left_ms(call));
  if (sleep < 0) sleep = 0;
  sleep += atomic_load(&t->delay_ms);
  for (long waited = 0; waited < sleep; waited += 5) {
    if (cpay_server_call_is_cancelled(call)) {
      atomic_fetch_add(&t->unary_cancelled, 1);
      rc = cpay_server_call_set_status(call, CPAY_GRPC_CANCELLED, "cancelled");
      goto out;
    }
    testsvc_sleep_ms(5);
  }
  int fail = atomic_load(&t->fail_code);
  if (fail) {
    rc = cpay_server_call_set_status(call, (cpay_grpc_code)fail, "failing as told");
    goto out;
  }
  if (!fail_on_request(call, req)) {
    rc = CPAY_ERR_INVALID_ARGUMENT;
    goto out;
  }
  if (req->customer_id.size > 6 && memcmp(req->customer_id.data, "relay:", 6) == 0) {
    // No options: the call inherits this one's deadline and cancellation.
    cpay_channel *ch = cpay_channel_new(t->relay_target, NULL, NULL);
    payments_v1_ChargeRequest *inner = payments_v1_ChargeRequest_new(cpay_server_call_arena(call));
    inner->customer_id = (cpay_str){req->customer_id.data + 6, req->customer_id.size - 6};
    inner->idempotency_key = req->idempotency_key;
    payments_v1_ChargeResponse *got;
    cpay_status st = {0};
    rc = payments_v1_PaymentService_ChargeCard(ch, NULL, inner, cpay_server_call_arena(call), &got,
                                               &st);
    atomic_store(&t->relay_code, rc);
    cpay_channel_free(ch);
    if (rc != CPAY_OK) {
      cpay_server_call_set_status(call, cpay_grpc_code_from_cpay(rc), "relayed: %s",
                                  cpay_status_msg(&st));
    }
    goto out;
  }
  if (big > 0) {
    char *s = cpay_arena_realloc(cpay_server_call_arena(call), NULL, 0, (size_t)big);
    if (!s) {
      rc = CPAY_ERR_NO_MEMORY;
      goto out;
    }
    memset(s, 'r', (size_t)big);
    resp->processor_reference = (cpay_str){s, (size_t)big};
  }
  if (cpay_str_eq(req->customer_id, CPAY_STR("peer"))) {
    resp->processor_reference =
        cpay_str_dup(cpay_server_call_arena(call), cpay_str_from_c(cpay_server_call_peer(call)));
  }
  resp->transaction_id = req->idempotency_key;
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  if (!echo_metadata(call)) rc = CPAY_ERR_INTERNAL;
out:
  atomic_fetch_sub(&t->active, 1);
  return rc;
}

static cpay_code stream(void *ctx, cpay_server_call *call,
                        const payments_v1_TransactionStreamRequest *req) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->streams_started, 1);
  enter(t);
  if (cpay_str_eq(req->customer_id, CPAY_STR("headers"))) {
    cpay_code rc = cpay_server_call_add_initial_metadata(call, "x-stage", CPAY_STR("subscribed"));
    if (rc == CPAY_OK) rc = cpay_server_call_send_initial_metadata(call, NULL);
    while (rc == CPAY_OK && !cpay_server_call_is_cancelled(call)) testsvc_sleep_ms(5);
    atomic_fetch_add(&t->streams_saw_cancel, 1);
    atomic_fetch_sub(&t->active, 1);
    atomic_fetch_add(&t->streams_ended, 1);
    return CPAY_OK;
  }
  bool forever = cpay_str_eq(req->customer_id, CPAY_STR("forever"));
  cpay_code rc = CPAY_OK;
  for (int64_t i = 0; forever || i < req->since_unix; i++) {
    payments_v1_Transaction tx;
    memset(&tx, 0, sizeof tx);
    tx.amount_cents = i;
    tx.id = CPAY_STR("tx");
    if (payments_v1_PaymentService_StreamTransactions_send_response(call, &tx, NULL) != CPAY_OK) {
      break;
    }
    if (forever && i % 8 == 0 && cpay_server_call_is_cancelled(call)) break;
  }
  if (cpay_server_call_is_cancelled(call)) atomic_fetch_add(&t->streams_saw_cancel, 1);
  atomic_fetch_sub(&t->active, 1);
  atomic_fetch_add(&t->streams_ended, 1);
  return rc;
}

static cpay_code batch(void *ctx, cpay_server_call *call) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->streams_started, 1);
  enter(t);
  payments_v1_BatchChargeResponse resp;
  memset(&resp, 0, sizeof resp);
  cpay_arena *a = cpay_arena_new();
  cpay_code rc = a ? CPAY_OK : CPAY_ERR_NO_MEMORY;
  for (;;) {
    payments_v1_ChargeRequest *req;
    if (rc != CPAY_OK) break;
    rc = payments_v1_PaymentService_BatchCharge_recv_request(call, a, &req, NULL);
    if (rc != CPAY_OK || !req) break;
    resp.total++;
    if (req->amount_cents > 0) {
      resp.succeeded++;
    } else {
      resp.failed++;
    }
  }
  cpay_arena_free(a);
  if (cpay_server_call_is_cancelled(call)) atomic_fetch_add(&t->streams_saw_cancel, 1);
  if (rc == CPAY_OK) rc = payments_v1_PaymentService_BatchCharge_send_response(call, &resp, NULL);
  atomic_fetch_sub(&t->active, 1);
  atomic_fetch_add(&t->streams_ended, 1);
  return rc;
}

static cpay_code chat(void *ctx, cpay_server_call *call) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->streams_started, 1);
  enter(t);
  cpay_code rc = CPAY_OK;
  for (;;) {
    payments_v1_PaymentMessage *m;
    rc = payments_v1_PaymentService_PaymentChat_recv_request(call, cpay_server_call_arena(call), &m,
                                                             NULL);
    if (rc != CPAY_OK || !m) break;
    rc = payments_v1_PaymentService_PaymentChat_send_response(call, m, NULL);
    if (rc != CPAY_OK) break;
  }
  if (cpay_server_call_is_cancelled(call)) atomic_fetch_add(&t->streams_saw_cancel, 1);
  atomic_fetch_sub(&t->active, 1);
  atomic_fetch_add(&t->streams_ended, 1);
  return rc;
}

const payments_v1_PaymentService_handlers testsvc_handlers = {
    .ChargeCard = charge, .StreamTransactions = stream, .BatchCharge = batch, .PaymentChat = chat};

// ---- the same as reactors ----------------------------------------------------------

// A delayed unary call ("sleep:N"), finished by a thread of its own. The
// call is touched only under `mu` while `alive`; on_done clears it.
typedef struct sleeper {
  pthread_mutex_t mu;
  int refs;  // the thread's and the call's
  bool alive;
  cpay_server_call *call;
  testsvc *t;
  long ms;
} sleeper;

static void sleeper_unref(sleeper *s) {
  pthread_mutex_lock(&s->mu);
  bool last = --s->refs == 0;
  pthread_mutex_unlock(&s->mu);
  if (!last) return;
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static void sleeper_done(void *state, cpay_server_call *call) {
  (void)call;
  sleeper *s = state;
  pthread_mutex_lock(&s->mu);
  s->alive = false;
  pthread_mutex_unlock(&s->mu);
  atomic_fetch_sub(&s->t->active, 1);
  sleeper_unref(s);
}

static void *sleeper_main(void *arg) {
  sleeper *s = arg;
  for (long waited = 0; waited < s->ms; waited += 5) {
    pthread_mutex_lock(&s->mu);
    bool stop = !s->alive || cpay_server_call_is_cancelled(s->call);
    pthread_mutex_unlock(&s->mu);
    if (stop) break;
    testsvc_sleep_ms(5);
  }
  pthread_mutex_lock(&s->mu);
  if (s->alive) {
    if (cpay_server_call_is_cancelled(s->call)) {
      cpay_server_call_fail(s->call, CPAY_GRPC_CANCELLED, "cancelled");
    } else {
      cpay_server_call_finish(s->call);  // the response was filled at the start
    }
  }
  pthread_mutex_unlock(&s->mu);
  sleeper_unref(s);
  return NULL;
}

static const payments_v1_PaymentService_ChargeCard_reactor kSleeperReactor = {.on_done = sleeper_done};

static void unary_done(void *state, cpay_server_call *call) {
  (void)call;
  atomic_fetch_sub(&((testsvc *)state)->active, 1);
}

static const payments_v1_PaymentService_ChargeCard_reactor kUnaryReactor = {.on_done = unary_done};

static void r_charge(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                     payments_v1_ChargeResponse *resp) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->unary_calls, 1);
  enter(t);
  resp->transaction_id = req->idempotency_key;
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  long sleep = num_after(req->customer_id, "sleep:");
  long big = num_after(req->customer_id, "big:");
  if (sleep > 0) {
    sleeper *s = calloc(1, sizeof *s);
    pthread_t th;
    if (s) {
      s->refs = 2;
      s->alive = true;
      s->call = call;
      s->t = t;
      s->ms = sleep;
      pthread_mutex_init(&s->mu, NULL);
      payments_v1_PaymentService_ChargeCard_react(call, &kSleeperReactor, s);
      if (pthread_create(&th, NULL, sleeper_main, s) == 0) {
        pthread_detach(th);
        return;
      }
      sleeper_unref(s);  // the thread's reference; on_done drops the other
    }
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "no thread for a sleeper");
    return;
  }
  payments_v1_PaymentService_ChargeCard_react(call, &kUnaryReactor, t);
  if (!fail_on_request(call, req)) {
    cpay_server_call_finish(call);
    return;
  }
  if (big > 0) {
    char *p = cpay_arena_realloc(cpay_server_call_arena(call), NULL, 0, (size_t)big);
    if (!p) {
      cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    memset(p, 'r', (size_t)big);
    resp->processor_reference = (cpay_str){p, (size_t)big};
  }
  if (cpay_str_eq(req->customer_id, CPAY_STR("peer"))) {
    resp->processor_reference =
        cpay_str_dup(cpay_server_call_arena(call), cpay_str_from_c(cpay_server_call_peer(call)));
  }
  if (!echo_metadata(call)) {
    cpay_server_call_fail(call, CPAY_GRPC_INTERNAL, "metadata");
    return;
  }
  cpay_server_call_finish(call);
}

// The end of a reactor stream, in the counters.
static void stream_ended(testsvc *t, bool cancelled) {
  if (cancelled) atomic_fetch_add(&t->streams_saw_cancel, 1);
  atomic_fetch_sub(&t->active, 1);
  atomic_fetch_add(&t->streams_ended, 1);
}

// A reactor stream that could not get its state: counted as ended, failed.
static void stream_refused(testsvc *t, cpay_server_call *call) {
  stream_ended(t, false);
  cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

// The state of one reactor stream; each method uses its own fields.
typedef struct r_state {
  testsvc *t;
  cpay_arena *a;  // each request, reset for the next (BatchCharge, PaymentChat)
  bool cancelled;
  int64_t total;  // StreamTransactions: messages to write (negative: until cancelled)
  int64_t sent;
  payments_v1_BatchChargeResponse *resp;  // BatchCharge
  payments_v1_PaymentMessage *unsent;     // PaymentChat: an echo that met a full queue
} r_state;

// A new stream's state, with an arena when it reads requests; NULL (the
// call failed) when out of memory.
static r_state *r_start(void *ctx, cpay_server_call *call, bool reads) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->streams_started, 1);
  enter(t);
  r_state *s = calloc(1, sizeof *s);
  if (s && reads && !(s->a = cpay_arena_new())) {
    free(s);
    s = NULL;
  }
  if (!s) {
    stream_refused(t, call);
    return NULL;
  }
  s->t = t;
  return s;
}

static void r_cancel(void *state, cpay_server_call *call) {
  (void)call;
  ((r_state *)state)->cancelled = true;
}

static void r_done(void *state, cpay_server_call *call) {
  (void)call;
  r_state *s = state;
  stream_ended(s->t, s->cancelled);
  cpay_arena_free(s->a);
  free(s);
}

// StreamTransactions: `total` messages, written until the queue is full,
// then again on on_ready.
static void r_stream_pump(void *state, cpay_server_call *call) {
  r_state *s = state;
  atomic_fetch_add(&s->t->ready, 1);
  while (s->total < 0 || s->sent < s->total) {
    payments_v1_Transaction tx;
    memset(&tx, 0, sizeof tx);
    tx.amount_cents = s->sent;
    tx.id = CPAY_STR("tx");
    cpay_code c = payments_v1_PaymentService_StreamTransactions_write_response(call, &tx, NULL);
    if (c == CPAY_ERR_WOULD_BLOCK) {
      atomic_fetch_add(&s->t->would_block, 1);
      return;
    }
    if (c != CPAY_OK) return;  // cancelled: on_done follows
    s->sent++;
  }
  cpay_server_call_finish(call);
}

static const payments_v1_PaymentService_StreamTransactions_reactor kStreamReactor = {
    .on_ready = r_stream_pump, .on_cancel = r_cancel, .on_done = r_done};

static void r_stream(void *ctx, cpay_server_call *call,
                     const payments_v1_TransactionStreamRequest *req) {
  r_state *s = r_start(ctx, call, false);
  if (!s) return;
  payments_v1_PaymentService_StreamTransactions_react(call, &kStreamReactor, s);
  if (cpay_str_eq(req->customer_id, CPAY_STR("headers"))) {
    // Confirmed at once, then quiet until the client leaves.
    if (cpay_server_call_add_initial_metadata(call, "x-stage", CPAY_STR("subscribed")) != CPAY_OK ||
        cpay_server_call_send_initial_metadata(call, NULL) != CPAY_OK) {
      cpay_server_call_fail(call, CPAY_GRPC_INTERNAL, "metadata");
    }
    return;
  }
  s->total = cpay_str_eq(req->customer_id, CPAY_STR("forever")) ? -1 : req->since_unix;
  r_stream_pump(s, call);
}

// BatchCharge: counts the requests as they come.
static void r_batch_message(void *state, cpay_server_call *call, payments_v1_ChargeRequest *req) {
  r_state *s = state;
  if (!req) {
    cpay_server_call_finish(call);
    return;
  }
  s->resp->total++;
  if (req->amount_cents > 0) {
    s->resp->succeeded++;
  } else {
    s->resp->failed++;
  }
  cpay_arena_reset(s->a);
  if (payments_v1_PaymentService_BatchCharge_read_request(call, s->a, NULL) != CPAY_OK) {
    cpay_server_call_finish(call);
  }
}

static const payments_v1_PaymentService_BatchCharge_reactor kBatchReactor = {
    .on_message = r_batch_message, .on_cancel = r_cancel, .on_done = r_done};

static void r_batch(void *ctx, cpay_server_call *call, payments_v1_BatchChargeResponse *resp) {
  r_state *s = r_start(ctx, call, true);
  if (!s) return;
  s->resp = resp;
  payments_v1_PaymentService_BatchCharge_react(call, &kBatchReactor, s);
  if (payments_v1_PaymentService_BatchCharge_read_request(call, s->a, NULL) != CPAY_OK) {
    cpay_server_call_finish(call);
  }
}

// PaymentChat: echoes each message; the next is read once the echo is
// queued, so a client that does not read stops being read from.
static void r_chat_next(r_state *s, cpay_server_call *call) {
  cpay_arena_reset(s->a);
  s->unsent = NULL;
  if (payments_v1_PaymentService_PaymentChat_read_request(call, s->a, NULL) != CPAY_OK) {
    cpay_server_call_finish(call);
  }
}

static void r_chat_send(r_state *s, cpay_server_call *call, payments_v1_PaymentMessage *m) {
  cpay_code c = payments_v1_PaymentService_PaymentChat_write_response(call, m, NULL);
  if (c == CPAY_ERR_WOULD_BLOCK) {
    atomic_fetch_add(&s->t->would_block, 1);
    s->unsent = m;
  } else if (c == CPAY_OK) {
    r_chat_next(s, call);
  }
}

static void r_chat_message(void *state, cpay_server_call *call, payments_v1_PaymentMessage *m) {
  r_state *s = state;
  if (!m) {
    cpay_server_call_finish(call);
    return;
  }
  r_chat_send(s, call, m);
}

static void r_chat_ready(void *state, cpay_server_call *call) {
  r_state *s = state;
  atomic_fetch_add(&s->t->ready, 1);
  if (s->unsent) r_chat_send(s, call, s->unsent);
}

static const payments_v1_PaymentService_PaymentChat_reactor kChatReactor = {
    .on_message = r_chat_message,
    .on_ready = r_chat_ready,
    .on_cancel = r_cancel,
    .on_done = r_done};

static void r_chat(void *ctx, cpay_server_call *call) {
  r_state *s = r_start(ctx, call, true);
  if (!s) return;
  payments_v1_PaymentService_PaymentChat_react(call, &kChatReactor, s);
  r_chat_next(s, call);
}

const payments_v1_PaymentService_handlers testsvc_reactor_handlers = {
    .on_ChargeCard = r_charge,
    .on_StreamTransactions = r_stream,
    .on_BatchCharge = r_batch,
    .on_PaymentChat = r_chat};

// The name (comm) of thread `tid` of this process, into buf.
static bool thread_name(const char *tid, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%s/comm", tid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

int testsvc_own_threads(void) {
  char main_name[32], name[32];
  char self[32];
  snprintf(self, sizeof self, "%d", (int)getpid());
  if (!thread_name(self, main_name, sizeof main_name)) return -1;
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] != '.' && thread_name(e->d_name, name, sizeof name) &&
        strcmp(name, main_name) == 0) {
      n++;
    }
  }
  closedir(d);
  return n;
}

int testsvc_threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int n = -1;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  }
  fclose(f);
  return n;
}

cpay_server *testsvc_server(testsvc *t, const cpay_server_opts *opts, int *port) {
  return testsvc_server_with(t, &testsvc_handlers, opts, port);
}

cpay_server *testsvc_server_with(testsvc *t, const payments_v1_PaymentService_handlers *h,
                                 const cpay_server_opts *opts, int *port) {
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(opts, &st);
  if (!srv) goto out_fail;
  if (payments_v1_PaymentService_register(srv, h, t) != CPAY_OK ||
      cpay_server_enable_health(srv, &st) != CPAY_OK ||
      cpay_server_listen(srv, "127.0.0.1:0", NULL, port, &st) != CPAY_OK ||
      cpay_server_start(srv, &st) != CPAY_OK) {
    goto out_fail;
  }
  return srv;
out_fail:
  fprintf(stderr, "testsvc_server: %s\n", cpay_status_msg(&st));
  cpay_server_free(srv);
  return NULL;
}
