// The event-driven core through the public API, client and server in one
// process: the asynchronous client in all four modes, many calls from one
// thread, sending and receiving on one call from two threads, flow control
// and slow consumers (the reactor's ready signal, the stall timeout of both
// handler styles), initial metadata on demand, status messages of any
// length, rich error details, interceptors that see decoded requests, the
// limits that answer RESOURCE_EXHAUSTED at once, health beside a busy
// worker pool, deadline and cancellation inherited by a handler's own
// calls, and the cancellation callback. Most run against both handler
// styles of testsvc.
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpay/grpc_details.h"
#include "grpc/health/v1/health.cpay_grpc.h"
#include "testsvc.h"

// A server per handler style, each with its own counters.
typedef struct styled {
  const char *name;
  const payments_v1_PaymentService_handlers *h;
  testsvc t;
  cpay_server *srv;
  char target[32];
} styled;

static styled g_styles[2] = {{.name = "blocking", .h = &testsvc_handlers},
                              {.name = "reactor", .h = &testsvc_reactor_handlers}};

static void start_styled(styled *s, const cpay_server_opts *opts) {
  memset(&s->t, 0, sizeof s->t);
  int port = 0;
  s->srv = testsvc_server_with(&s->t, s->h, opts, &port);
  ck_assert_ptr_nonnull(s->srv);
  snprintf(s->target, sizeof s->target, "127.0.0.1:%d", port);
  s->t.relay_target = s->target;
}

static void setup(void) {
  cpay_server_opts opts = {.workers = 4};
  for (int i = 0; i < 2; i++) start_styled(&g_styles[i], &opts);
}

static void teardown(void) {
  for (int i = 0; i < 2; i++) cpay_server_free(g_styles[i].srv);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static payments_v1_ChargeRequest *req_for(cpay_arena *a, const char *customer, const char *key) {
  payments_v1_ChargeRequest *r = payments_v1_ChargeRequest_new(a);
  r->customer_id = cpay_str_from_c(customer);
  r->idempotency_key = cpay_str_from_c(key);
  r->amount_cents = 1;
  return r;
}

// Waits up to 10 s for *v to reach `want`.
static bool wait_atomic(atomic_int *v, int want) {
  for (int i = 0; i < 2000 && atomic_load(v) < want; i++) testsvc_sleep_ms(5);
  return atomic_load(v) >= want;
}

// ---- asynchronous calls -------------------------------------------------------------

// What the callbacks of one asynchronous call saw; they run on the loop.
typedef struct seen {
  atomic_int messages;
  atomic_int metadata;
  atomic_int ready;
  atomic_int done;
  atomic_int code;  // the status, once done
  int64_t last_amount;
  cpay_str last_text;
  char text[64];
  int writes_left;  // client streaming / bidi: still to write
  cpay_arena *a;    // the call's reads
} seen;

static void on_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  (void)call;
  (void)md;
  (void)count;
  atomic_fetch_add(&((seen *)state)->metadata, 1);
}

static void on_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  seen *s = state;
  atomic_store(&s->code, (int)res->code);
  atomic_fetch_add(&s->done, 1);
}

static void charge_message(void *state, cpay_call *call, payments_v1_ChargeResponse *resp) {
  (void)call;
  seen *s = state;
  if (resp) snprintf(s->text, sizeof s->text, "%.*s", (int)resp->transaction_id.size,
                     resp->transaction_id.data);
  atomic_fetch_add(&s->messages, 1);
}

static void stream_message(void *state, cpay_call *call, payments_v1_Transaction *t) {
  seen *s = state;
  if (!t) return;  // the end of the stream: on_done follows
  s->last_amount = t->amount_cents;
  atomic_fetch_add(&s->messages, 1);
  cpay_arena_reset(s->a);
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_read(call, s->a, NULL), CPAY_OK);
}

// Counts every on_message, the end of the stream (NULL) included.
static void any_message(void *state, cpay_call *call, payments_v1_Transaction *t) {
  (void)call;
  (void)t;
  atomic_fetch_add(&((seen *)state)->messages, 1);
}

static void batch_message(void *state, cpay_call *call, payments_v1_BatchChargeResponse *r) {
  (void)call;
  seen *s = state;
  if (r) s->last_amount = r->total;
  atomic_fetch_add(&s->messages, 1);
}

// Writes the remaining requests until the queue is full, then half-closes
// when all are queued; on_ready brings it back.
static void batch_pump(void *state, cpay_call *call) {
  seen *s = state;
  atomic_fetch_add(&s->ready, 1);
  while (s->writes_left > 0) {
    payments_v1_ChargeRequest r;
    memset(&r, 0, sizeof r);
    r.amount_cents = s->writes_left % 3;  // a third fail
    cpay_code c = payments_v1_PaymentService_BatchCharge_write(call, &r, NULL);
    if (c == CPAY_ERR_WOULD_BLOCK) return;
    ck_assert_int_eq(c, CPAY_OK);
    s->writes_left--;
  }
  ck_assert_int_eq(payments_v1_PaymentService_BatchCharge_close_send(call, NULL), CPAY_OK);
}

static void chat_message(void *state, cpay_call *call, payments_v1_PaymentMessage *m) {
  seen *s = state;
  if (!m) return;
  s->last_amount = m->sent_at_unix;
  atomic_fetch_add(&s->messages, 1);
  if (s->writes_left > 0) {
    payments_v1_PaymentMessage next;
    memset(&next, 0, sizeof next);
    next.sent_at_unix = m->sent_at_unix + 1;
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_write(call, &next, NULL), CPAY_OK);
    s->writes_left--;
  } else {
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_close_send(call, NULL), CPAY_OK);
  }
  cpay_arena_reset(s->a);
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_read(call, s->a, NULL), CPAY_OK);
}

START_TEST(test_calls_async_modes) {
  // All four modes at once from this thread, against both handler styles.
  for (int st = 0; st < 2; st++) {
    cpay_channel *ch = cpay_channel_new(g_styles[st].target, NULL, NULL);
    cpay_arena *a = cpay_arena_new();
    seen u = {0}, ss = {.a = cpay_arena_new()}, b = {.writes_left = 300}, c = {.a = cpay_arena_new(), .writes_left = 19};
    static const payments_v1_PaymentService_ChargeCard_client_reactor kU = {
        .on_message = charge_message, .on_metadata = on_metadata, .on_done = on_done};
    static const payments_v1_PaymentService_StreamTransactions_client_reactor kS = {
        .on_message = stream_message, .on_metadata = on_metadata, .on_done = on_done};
    static const payments_v1_PaymentService_BatchCharge_client_reactor kB = {
        .on_message = batch_message, .on_ready = batch_pump, .on_done = on_done};
    static const payments_v1_PaymentService_PaymentChat_client_reactor kC = {
        .on_message = chat_message, .on_done = on_done};
    cpay_call *scall, *bcall, *ccall;
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard_async(ch, NULL, req_for(a, "c", "async-1"), &kU,
                                                                 &u, NULL, NULL), CPAY_OK);
    payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
    sreq->since_unix = 200;
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_async(ch, NULL, sreq, &kS, &ss, &scall, NULL),
                     CPAY_OK);
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_read(scall, ss.a, NULL), CPAY_OK);
    // Only one read at a time.
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_read(scall, ss.a, NULL),
                     CPAY_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(payments_v1_PaymentService_BatchCharge_async(ch, NULL, &kB, &b, &bcall, NULL), CPAY_OK);
    batch_pump(&b, bcall);  // fills the queue; on_ready continues
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_async(ch, NULL, &kC, &c, &ccall, NULL), CPAY_OK);
    payments_v1_PaymentMessage first;
    memset(&first, 0, sizeof first);
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_write(ccall, &first, NULL), CPAY_OK);
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_read(ccall, c.a, NULL), CPAY_OK);

    ck_assert(wait_atomic(&u.done, 1) && wait_atomic(&ss.done, 1) && wait_atomic(&b.done, 1) &&
              wait_atomic(&c.done, 1));
    ck_assert_int_eq(u.code, CPAY_GRPC_OK);
    ck_assert_int_eq(u.messages, 1);
    ck_assert_int_eq(u.metadata, 1);
    ck_assert_str_eq(u.text, "async-1");
    ck_assert_int_eq(ss.code, CPAY_GRPC_OK);
    ck_assert_int_eq(ss.messages, 200);
    ck_assert_int_eq(ss.last_amount, 199);
    ck_assert_int_eq(b.code, CPAY_GRPC_OK);
    ck_assert_int_eq(b.messages, 1);
    ck_assert_int_eq(b.last_amount, 300);
    ck_assert_int_eq(c.code, CPAY_GRPC_OK);
    ck_assert_int_eq(c.messages, 20);
    ck_assert_int_eq(c.last_amount, 19);
    // The references the starts gave; the calls ended, so nothing is cancelled.
    cpay_call_free(scall);
    cpay_call_free(bcall);
    cpay_call_free(ccall);
    cpay_arena_free(ss.a);
    cpay_arena_free(c.a);
    cpay_arena_free(a);
    cpay_channel_free(ch);
  }
}
END_TEST

START_TEST(test_calls_async_fan_out_one_thread) {
  // 2,000 calls in flight from this thread on a loop of one thread: the
  // process gains that thread (and at most a couple that C-core's own pools
  // add under load), not one per call.
  cpay_loop *loop = cpay_loop_new(&(cpay_loop_opts){.threads = 1}, NULL);
  ck_assert_ptr_nonnull(loop);
  cpay_channel_opts copts = {.loop = loop};
  cpay_channel *ch = cpay_channel_new(g_styles[1].target, &copts, NULL);
  cpay_arena *a = cpay_arena_new();
  enum { N = 2000 };
  static seen s[N];
  memset(s, 0, sizeof s);
  static const payments_v1_PaymentService_ChargeCard_client_reactor kU = {
      .on_message = charge_message, .on_done = on_done};
  payments_v1_ChargeRequest *req = req_for(a, "c", "fan");
  int before = testsvc_threads();
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard_async(ch, NULL, req, &kU, &s[i], NULL, NULL),
                     CPAY_OK);
  }
  for (int i = 0; i < N; i++) {
    ck_assert(wait_atomic(&s[i].done, 1));
    ck_assert_int_eq(s[i].code, CPAY_GRPC_OK);
    ck_assert_int_eq(s[i].messages, 1);
  }
  ck_assert_int_le(testsvc_threads(), before + 1 + 2);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_loop_free(loop);
}
END_TEST

START_TEST(test_calls_async_failures) {
  // A call that cannot start fails at once and never calls back; one that
  // the server fails ends in on_done with its status and no message.
  cpay_channel *ch = cpay_channel_new(g_styles[1].target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  seen s = {0};
  static const payments_v1_PaymentService_ChargeCard_client_reactor kU = {
      .on_message = charge_message, .on_done = on_done};
  cpay_md bad[1] = {{CPAY_STR("Bad Key"), CPAY_STR("v")}};
  cpay_call_opts opts = {.metadata = bad, .metadata_count = 1};
  cpay_call *call = (cpay_call *)&s;
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard_async(ch, &opts, req_for(a, "c", "k"), &kU, &s,
                                                               &call, NULL),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(call);
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard_async(ch, NULL, req_for(a, "details", "k"), &kU, &s,
                                                               NULL, NULL),
                   CPAY_OK);
  ck_assert(wait_atomic(&s.done, 1));
  ck_assert_int_eq(s.code, CPAY_GRPC_INVALID_ARGUMENT);
  ck_assert_int_eq(s.messages, 0);
  // A response that does not decode ends the call INTERNAL, with no
  // message: here the client takes ChargeResponse for a BadRequest, whose
  // field 1 is a message.
  cpay_method wrong = payments_v1_PaymentService_methods[0];
  wrong.response = &google_rpc_BadRequest_table;
  seen w = {0};
  const cpay_call_reactor wr = {.on_message = (cpay_fn *)charge_message, .on_done = on_done};
  ck_assert_int_eq(cpay_call_start_async(ch, &wrong, NULL, req_for(a, "c", "tx-1"), &wr, &w, NULL,
                                         NULL),
                   CPAY_OK);
  ck_assert(wait_atomic(&w.done, 1));
  ck_assert_int_eq(w.code, CPAY_GRPC_INTERNAL);
  ck_assert_int_eq(w.messages, 0);
  // So does a stream whose message does not decode, even when the server
  // then ends it OK: no message, and no end of stream, is delivered.
  cpay_method wrong_stream = payments_v1_PaymentService_methods[1];
  wrong_stream.response = &google_rpc_BadRequest_table;
  seen ws = {0};
  const cpay_call_reactor wsr = {.on_message = (cpay_fn *)any_message, .on_done = on_done};
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("c");
  sreq->since_unix = 3;
  cpay_call *wc;
  ck_assert_int_eq(cpay_call_start_async(ch, &wrong_stream, NULL, sreq, &wsr, &ws, &wc, NULL),
                   CPAY_OK);
  ck_assert_int_eq(cpay_call_read(wc, NULL, NULL), CPAY_OK);
  ck_assert(wait_atomic(&ws.done, 1));
  ck_assert_int_eq(ws.code, CPAY_GRPC_INTERNAL);
  ck_assert_int_eq(ws.messages, 0);
  cpay_call_free(wc);
  // Blocking calls refuse the asynchronous ones' functions, and the reverse.
  cpay_call *bc;
  payments_v1_PaymentMessage pm;
  memset(&pm, 0, sizeof pm);
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat(ch, NULL, &bc, NULL), CPAY_OK);
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_read(bc, NULL, NULL), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(cpay_call_write(bc, &pm, NULL), CPAY_ERR_INVALID_ARGUMENT);
  cpay_call_free(bc);
  static const payments_v1_PaymentService_PaymentChat_client_reactor kChat = {.on_done = on_done};
  seen c = {0};
  cpay_call *ac;
  ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_async(ch, NULL, &kChat, &c, &ac, NULL), CPAY_OK);
  ck_assert_int_eq(cpay_call_send(ac, &pm, NULL), CPAY_ERR_INVALID_ARGUMENT);
  void *resp;
  ck_assert_int_eq(cpay_call_finish(ac, NULL, &resp, NULL), CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(cpay_call_recv(ac, NULL, &resp, NULL), CPAY_ERR_INVALID_ARGUMENT);
  cpay_call_free(ac);
  ck_assert(wait_atomic(&c.done, 1));
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

// A subscriber that subscribes again when its stream ends, as a live feed's
// client does: while its channel is being freed, the new call must fail to
// start, or the channel would wait for it.
typedef struct resub {
  cpay_channel *ch;
  payments_v1_TransactionStreamRequest *req;
  atomic_int ended;
  atomic_int restarts_refused;
} resub;

static void resub_done(void *state, cpay_call *call, const cpay_rpc_result *res);

static const payments_v1_PaymentService_StreamTransactions_client_reactor kResub = {
    .on_done = resub_done};

static void resub_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  (void)res;
  resub *r = state;
  atomic_fetch_add(&r->ended, 1);
  cpay_status st = {0};
  if (payments_v1_PaymentService_StreamTransactions_async(r->ch, NULL, r->req, &kResub, r, NULL, &st) ==
      CPAY_ERR_CANCELLED) {
    atomic_fetch_add(&r->restarts_refused, 1);
  }
}

START_TEST(test_calls_channel_free_refuses_new_calls) {
  cpay_arena *a = cpay_arena_new();
  resub r = {.ch = cpay_channel_new(g_styles[1].target, NULL, NULL),
             .req = payments_v1_TransactionStreamRequest_new(a)};
  r.req->customer_id = CPAY_STR("headers");
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_async(r.ch, NULL, r.req, &kResub, &r, NULL,
                                                                       NULL),
                   CPAY_OK);
  ck_assert(wait_atomic(&g_styles[1].t.streams_started, 1));
  cpay_channel_free(r.ch);  // returns: the restart was refused
  ck_assert_int_eq(atomic_load(&r.ended), 1);
  ck_assert_int_eq(atomic_load(&r.restarts_refused), 1);
  cpay_arena_free(a);
}
END_TEST

// ---- one call, two threads ----------------------------------------------------------

typedef struct chat_job {
  cpay_call *call;
  int count;
  size_t size;
  int got;
  cpay_code code;
} chat_job;

static void *chat_reader(void *arg) {
  chat_job *j = arg;
  cpay_arena *a = cpay_arena_new();
  for (;;) {
    payments_v1_PaymentMessage *m;
    j->code = payments_v1_PaymentService_PaymentChat_recv(j->call, a, &m, NULL);
    if (j->code != CPAY_OK || !m) break;
    if (m->text.size == j->size && m->sent_at_unix == j->got) j->got++;
    cpay_arena_reset(a);
  }
  cpay_arena_free(a);
  return NULL;
}

START_TEST(test_calls_send_and_recv_on_two_threads) {
  // 200 messages of 64 KiB sent before anything is read on this thread,
  // while another thread reads: nothing stalls, on either handler style.
  for (int st = 0; st < 2; st++) {
    cpay_channel *ch = cpay_channel_new(g_styles[st].target, NULL, NULL);
    cpay_call_opts opts = {.timeout_ms = 60000};
    chat_job j = {.count = 200, .size = 64 * 1024};
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat(ch, &opts, &j.call, NULL), CPAY_OK);
    pthread_t th;
    pthread_create(&th, NULL, chat_reader, &j);
    char *text = malloc(j.size);
    memset(text, 'x', j.size);
    double t0 = now_ms();
    for (int i = 0; i < j.count; i++) {
      payments_v1_PaymentMessage m;
      memset(&m, 0, sizeof m);
      m.text = (cpay_str){text, j.size};
      m.sent_at_unix = i;
      cpay_status s = {0};
      cpay_code sc = payments_v1_PaymentService_PaymentChat_send(j.call, &m, &s);
      if (sc != CPAY_OK) {
        cpay_status fs = {0};
        cpay_code fc = payments_v1_PaymentService_PaymentChat_finish(j.call, &fs);
        (void)fc;  // its message says why
        ck_abort_msg("%s: send %d: %s (%s)", g_styles[st].name, i, cpay_status_msg(&s), cpay_status_msg(&fs));
      }
    }
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_close_send(j.call, NULL), CPAY_OK);
    pthread_join(th, NULL);
    ck_assert_int_eq(j.code, CPAY_OK);
    ck_assert_int_eq(j.got, j.count);
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_finish(j.call, NULL), CPAY_OK);
    ck_assert_msg(now_ms() - t0 < 30000, "%s: took %.0f ms", g_styles[st].name, now_ms() - t0);
    cpay_call_free(j.call);
    free(text);
    cpay_channel_free(ch);
  }
}
END_TEST

// ---- flow control ---------------------------------------------------------------------

START_TEST(test_calls_slow_consumer_reactor) {
  // A reactor stream to a client that stops reading: its writes are refused
  // once (the send queue is full), then it waits for on_ready, sending
  // nothing and holding no thread; when the client reads again, on_ready
  // comes and the stream goes on.
  styled *s = &g_styles[1];
  cpay_channel *ch = cpay_channel_new(s->target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("forever");
  cpay_call *call;
  cpay_call_opts opts = {.timeout_ms = 30000};
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, NULL), CPAY_OK);
  payments_v1_Transaction *t;
  ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, NULL), CPAY_OK);
  ck_assert(wait_atomic(&s->t.would_block, 1));
  // C-core's flow-control windows take what they may (a few refusals and
  // readies while they fill); then it is quiet: no polling while full.
  int blocked = -1, ready = -1;
  for (int i = 0; i < 20 && (blocked != atomic_load(&s->t.would_block) ||
                             ready != atomic_load(&s->t.ready)); i++) {
    blocked = atomic_load(&s->t.would_block);
    ready = atomic_load(&s->t.ready);
    testsvc_sleep_ms(300);
  }
  ck_assert_int_eq(atomic_load(&s->t.would_block), blocked);
  ck_assert_int_eq(atomic_load(&s->t.ready), ready);
  // Read on: the windows and the queue drain and the reactor is told (the
  // windows may hold a few MB of these small messages).
  int64_t last = t->amount_cents;
  for (int i = 0; i < 2000000 && atomic_load(&s->t.ready) == ready; i++) {
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, NULL), CPAY_OK);
    if (!t) {
      cpay_status fs = {0};
      cpay_code fc = payments_v1_PaymentService_StreamTransactions_finish(call, &fs);
      (void)fc;  // its message says why
      ck_abort_msg("the stream ended after %d: %s", i, cpay_status_msg(&fs));
    }
    ck_assert_int_eq(t->amount_cents, last + 1);  // nothing lost, nothing twice
    last = t->amount_cents;
    cpay_arena_reset(a);
  }
  ck_assert_int_gt(atomic_load(&s->t.ready), ready);
  cpay_call_cancel(call);
  cpay_call_free(call);
  ck_assert(wait_atomic(&s->t.streams_ended, 1));
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_calls_slow_consumer_stall) {
  // A client that reads nothing leaves the send queue full; after
  // send_stall_timeout_ms the call ends RESOURCE_EXHAUSTED. A blocking
  // handler waiting for room returns then (its worker is free again); a
  // reactor that stopped writing to wait for on_ready is ended by the
  // loop's timer: on_cancel, then on_done.
  const payments_v1_PaymentService_handlers *hs[] = {&testsvc_handlers, &testsvc_reactor_handlers};
  for (int st = 0; st < 2; st++) {
    testsvc t;
    memset(&t, 0, sizeof t);
    int port;
    cpay_server_opts sopts = {.workers = 2, .send_stall_timeout_ms = 300,
                              .send_queue_bytes = 4096};
    cpay_server *srv = testsvc_server_with(&t, hs[st], &sopts, &port);
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
    cpay_arena *a = cpay_arena_new();
    payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
    sreq->customer_id = CPAY_STR("forever");
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts opts = {.timeout_ms = 30000, .result = &res};
    cpay_call *call;
    double t0 = now_ms();
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, &opts, sreq, &call, NULL),
                     CPAY_OK);
    // The handler gives up (once C-core's windows and the queue are full
    // and the client has read nothing for 300 ms: a few seconds in a slow
    // build).
    for (int i = 0; i < 6 && !wait_atomic(&t.streams_ended, 1); i++) {
    }
    ck_assert_int_eq(atomic_load(&t.streams_ended), 1);
    double took = now_ms() - t0;
    ck_assert_msg(took >= 250, "%s: the stall ended the call after %.0f ms, before its timeout",
                  st ? "reactor" : "blocking", took);
    if (st == 1) ck_assert_int_eq(atomic_load(&t.streams_saw_cancel), 1);
    payments_v1_Transaction *tx;
    cpay_code rc;
    while ((rc = payments_v1_PaymentService_StreamTransactions_recv(call, a, &tx, NULL)) == CPAY_OK &&
           tx) {
    }
    cpay_status fst = {0};
    ck_assert_msg(payments_v1_PaymentService_StreamTransactions_finish(call, &fst) ==
                      CPAY_ERR_RESOURCE_EXHAUSTED,
                  "%s: %s", st ? "reactor" : "blocking", cpay_status_msg(&fst));
    ck_assert_msg(strstr(res.message.data, "read nothing"), "%s", res.message.data);
    cpay_call_free(call);
    // The server serves others.
    payments_v1_ChargeResponse *resp;
    ck_assert_int_eq(
        payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "c", "k"), a, &resp, NULL),
        CPAY_OK);
    cpay_arena_free(a);
    cpay_channel_free(ch);
    cpay_server_free(srv);
  }
}
END_TEST

// ---- call semantics -----------------------------------------------------------------

START_TEST(test_calls_initial_metadata_on_demand) {
  // The server sends its headers before any message: the client sees them
  // while the stream is still quiet.
  for (int st = 0; st < 2; st++) {
    cpay_channel *ch = cpay_channel_new(g_styles[st].target, NULL, NULL);
    cpay_arena *a = cpay_arena_new();
    payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
    sreq->customer_id = CPAY_STR("headers");
    cpay_call *call;
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, NULL, sreq, &call, NULL), CPAY_OK);
    size_t n;
    const cpay_md *md = cpay_call_initial_metadata(call, &n);
    ck_assert(cpay_str_eq(cpay_md_get(md, n, "x-stage"), CPAY_STR("subscribed")));
    cpay_call_cancel(call);
    cpay_call_free(call);
    cpay_arena_free(a);
    cpay_channel_free(ch);
  }
}
END_TEST

START_TEST(test_calls_status_any_length) {
  // 5,000 and 20,000 bytes of status message arrive whole (the client's
  // metadata limit raised for the second; C-core's default is 8 KiB).
  for (int st = 0; st < 2; st++) {
    cpay_channel_opts copts = {.max_metadata_size = 64 * 1024};
    cpay_channel *ch = cpay_channel_new(g_styles[st].target, &copts, NULL);
    cpay_arena *a = cpay_arena_new();
    const char *customers[] = {"long:5000", "long:20000"};
    size_t sizes[] = {5000, 20000};
    for (int i = 0; i < 2; i++) {
      cpay_rpc_result res = {.arena = a};
      cpay_call_opts opts = {.result = &res};
      payments_v1_ChargeResponse *resp;
      cpay_status s = {0};
      ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, customers[i], "k"), a,
                                                             &resp, &s),
                       CPAY_ERR_INVALID_ARGUMENT);
      ck_assert_uint_eq(res.message.size, sizes[i]);
      for (size_t k = 0; k < sizes[i]; k++) ck_assert_int_eq(res.message.data[k], 'a' + (int)(k % 26));
      ck_assert_int_eq(res.message.data[sizes[i]], '\0');
      // The short summary is cut to cpay_status's size, the result is not.
      ck_assert_uint_eq(strlen(s.msg), CPAY_STATUS_MSG_SIZE - 1);
    }
    cpay_arena_free(a);
    cpay_channel_free(ch);
  }
}
END_TEST

START_TEST(test_calls_rich_details) {
  for (int st = 0; st < 2; st++) {
    cpay_channel *ch = cpay_channel_new(g_styles[st].target, NULL, NULL);
    cpay_arena *a = cpay_arena_new();
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts opts = {.result = &res};
    payments_v1_ChargeResponse *resp;
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "details", "k"), a, &resp, NULL),
                     CPAY_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(res.detail_count, 2);
    ck_assert(cpay_str_eq(res.details[0].type_url, CPAY_STR("type.googleapis.com/google.rpc.BadRequest")));
    google_rpc_BadRequest *br;
    ck_assert_int_eq(cpay_get_BadRequest(&res, a, &br, NULL), CPAY_OK);
    ck_assert_uint_eq(br->field_violations.size, 1);
    ck_assert(cpay_str_eq(br->field_violations.data[0]->field, CPAY_STR("amount_cents")));
    google_rpc_ErrorInfo *ei;
    ck_assert_int_eq(cpay_get_ErrorInfo(&res, a, &ei, NULL), CPAY_OK);
    ck_assert(cpay_str_eq(ei->reason, CPAY_STR("AMOUNT_NOT_POSITIVE")));
    google_rpc_Help *help;
    cpay_status s = {0};
    ck_assert_int_eq(cpay_get_Help(&res, a, &help, &s), CPAY_ERR_NOT_FOUND);
    ck_assert_msg(strstr(s.msg, "google.rpc.Help"), "%s", s.msg);
    // An OK call carries none.
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL), CPAY_OK);
    ck_assert_uint_eq(res.detail_count, 0);
    cpay_arena_free(a);
    cpay_channel_free(ch);
  }
}
END_TEST

// Refuses charges above 1000 cents (it sees the decoded request) and chat
// lines that say "forbidden" (each streamed message).
static cpay_code limit_amount(void *ctx, cpay_server_call *call, const cpay_method *m, const void *req) {
  (void)ctx;
  if (strcmp(m->name, "ChargeCard") != 0) return CPAY_OK;
  const payments_v1_ChargeRequest *r = req;
  if (r->amount_cents <= 1000) return CPAY_OK;
  return cpay_server_call_set_status(call, CPAY_GRPC_PERMISSION_DENIED, "at most 1000 cents, not %lld",
                                     (long long)r->amount_cents);
}

static cpay_code no_forbidden(void *ctx, cpay_server_call *call, const cpay_method *m, const void *msg) {
  (void)ctx;
  if (strcmp(m->name, "PaymentChat") != 0) return CPAY_OK;
  const payments_v1_PaymentMessage *pm = msg;
  if (!cpay_str_eq(pm->text, CPAY_STR("forbidden"))) return CPAY_OK;
  return cpay_server_call_set_status(call, CPAY_GRPC_FAILED_PRECONDITION, "that word is not allowed");
}

START_TEST(test_calls_interceptor_sees_requests) {
  for (int st = 0; st < 2; st++) {
    testsvc t;
    memset(&t, 0, sizeof t);
    cpay_status s = {0};
    cpay_server *srv = cpay_server_new(NULL, &s);
    int port;
    const cpay_server_interceptor icpt = {limit_amount, no_forbidden, NULL};
    ck_assert_int_eq(payments_v1_PaymentService_register(srv, g_styles[st].h, &t), CPAY_OK);
    ck_assert_int_eq(cpay_server_add_interceptor(srv, &icpt, &s), CPAY_OK);
    ck_assert_int_eq(cpay_server_listen(srv, "127.0.0.1:0", NULL, &port, &s), CPAY_OK);
    ck_assert_int_eq(cpay_server_start(srv, &s), CPAY_OK);
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
    cpay_arena *a = cpay_arena_new();
    payments_v1_ChargeResponse *resp;
    payments_v1_ChargeRequest *big = req_for(a, "c", "k");
    big->amount_cents = 5000;
    cpay_rpc_result res = {.arena = a};
    cpay_call_opts opts = {.result = &res};
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, big, a, &resp, NULL),
                     CPAY_ERR_PERMISSION_DENIED);
    ck_assert_str_eq(res.message.data, "at most 1000 cents, not 5000");
    ck_assert_int_eq(atomic_load(&t.unary_calls), 0);  // the handler never ran
    ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL),
                     CPAY_OK);
    // A stream: the lines before the forbidden one are answered, then it ends.
    cpay_call *call;
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat(ch, &opts, &call, NULL), CPAY_OK);
    const char *lines[] = {"hello", "forbidden", "after"};
    int answered = 0;
    for (int i = 0; i < 3; i++) {
      payments_v1_PaymentMessage m;
      memset(&m, 0, sizeof m);
      m.text = cpay_str_from_c(lines[i]);
      if (payments_v1_PaymentService_PaymentChat_send(call, &m, NULL) != CPAY_OK) break;
      payments_v1_PaymentMessage *back;
      if (payments_v1_PaymentService_PaymentChat_recv(call, a, &back, NULL) != CPAY_OK || !back) break;
      answered++;
    }
    ck_assert_int_eq(answered, 1);
    ck_assert_int_eq(payments_v1_PaymentService_PaymentChat_finish(call, NULL), CPAY_ERR_FAILED_PRECONDITION);
    ck_assert_str_eq(res.message.data, "that word is not allowed");
    cpay_call_free(call);
    cpay_arena_free(a);
    cpay_channel_free(ch);
    cpay_server_free(srv);
  }
}
END_TEST

// ---- limits ---------------------------------------------------------------------------

START_TEST(test_calls_max_calls) {
  // With max_calls 3 and three streams open, a fourth call is refused at
  // once, whatever its deadline; when one ends, calls go through again.
  testsvc t;
  memset(&t, 0, sizeof t);
  int port;
  cpay_server_opts sopts = {.max_calls = 3};
  cpay_server *srv = testsvc_server_with(&t, &testsvc_reactor_handlers, &sopts, &port);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("headers");
  cpay_call *calls[3];
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(payments_v1_PaymentService_StreamTransactions(ch, NULL, sreq, &calls[i], NULL), CPAY_OK);
    size_t n;
    (void)cpay_call_initial_metadata(calls[i], &n);  // it is in progress on the server
  }
  cpay_rpc_result res = {.arena = a};
  cpay_call_opts opts = {.timeout_ms = 20000, .result = &res};
  payments_v1_ChargeResponse *resp;
  double t0 = now_ms();
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL),
                   CPAY_ERR_RESOURCE_EXHAUSTED);
  ck_assert_msg(now_ms() - t0 < 1000, "refused after %.0f ms", now_ms() - t0);
  ck_assert_msg(strstr(res.message.data, "max_calls"), "%s", res.message.data);
  cpay_call_cancel(calls[0]);
  cpay_call_free(calls[0]);
  ck_assert(wait_atomic(&t.streams_ended, 1));
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "c", "k"), a, &resp, NULL), CPAY_OK);
  for (int i = 1; i < 3; i++) cpay_call_free(calls[i]);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

typedef struct slow_job {
  const char *target;
  const char *customer;
  cpay_code code;
  double took;
} slow_job;

static void *slow_call(void *arg) {
  slow_job *j = arg;
  cpay_channel *ch = cpay_channel_new(j->target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_call_opts opts = {.timeout_ms = 20000};
  double t0 = now_ms();
  j->code = payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, j->customer, "k"), a, &resp, NULL);
  j->took = now_ms() - t0;
  cpay_arena_free(a);
  cpay_channel_free(ch);
  return NULL;
}

START_TEST(test_calls_max_queued_and_health) {
  // One worker, room for one waiting call: a third blocking call is refused
  // at once; health, a reactor, answers at once beside the busy pool.
  testsvc t;
  memset(&t, 0, sizeof t);
  int port;
  cpay_server_opts sopts = {.workers = 1, .max_queued = 1};
  cpay_server *srv = testsvc_server_with(&t, &testsvc_handlers, &sopts, &port);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  slow_job jobs[2] = {{target, "sleep:600", -1, 0}, {target, "sleep:600", -1, 0}};
  pthread_t th[2];
  pthread_create(&th[0], NULL, slow_call, &jobs[0]);
  ck_assert(wait_atomic(&t.active, 1));
  pthread_create(&th[1], NULL, slow_call, &jobs[1]);
  ck_assert(wait_atomic(&t.unary_calls, 1));
  testsvc_sleep_ms(100);  // the second waits in the queue
  slow_job third = {target, "c", -1, 0};
  slow_call(&third);
  ck_assert_int_eq(third.code, CPAY_ERR_RESOURCE_EXHAUSTED);
  ck_assert_msg(third.took < 300, "refused after %.0f ms", third.took);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  grpc_health_v1_HealthCheckRequest *hreq = grpc_health_v1_HealthCheckRequest_new(a);
  grpc_health_v1_HealthCheckResponse *hresp;
  double t0 = now_ms();
  ck_assert_int_eq(grpc_health_v1_Health_Check(ch, NULL, hreq, a, &hresp, NULL), CPAY_OK);
  ck_assert_int_eq(hresp->status, grpc_health_v1_HealthCheckResponse_SERVING);
  ck_assert_msg(now_ms() - t0 < 300, "health took %.0f ms beside the busy worker", now_ms() - t0);
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    ck_assert_int_eq(jobs[i].code, CPAY_OK);
  }
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

START_TEST(test_calls_both_styles_refused) {
  cpay_status s = {0};
  cpay_server *srv = cpay_server_new(NULL, &s);
  payments_v1_PaymentService_handlers h = testsvc_handlers;
  h.on_PaymentChat = testsvc_reactor_handlers.on_PaymentChat;
  ck_assert_int_eq(cpay_server_add_service(srv, &payments_v1_PaymentService_service, &h, sizeof h, NULL, &s),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(s.msg, "server: /payments.v1.PaymentService/PaymentChat has both a blocking and a "
                          "reactor handler");
  cpay_server_free(srv);
}
END_TEST

// ---- deadlines and cancellation -----------------------------------------------------

START_TEST(test_calls_inherit_deadline_and_cancel) {
  // A handler's own call, made with no options, inherits the deadline of
  // the call it serves, and is cancelled with it.
  styled *s = &g_styles[0];
  cpay_channel *ch = cpay_channel_new(s->target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  cpay_call_opts opts = {.timeout_ms = 300};
  double t0 = now_ms();
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, &opts, req_for(a, "relay:sleep:5000", "k"), a,
                                                         &resp, NULL),
                   CPAY_ERR_DEADLINE_EXCEEDED);
  for (int i = 0; i < 400 && atomic_load(&s->t.active) > 0; i++) testsvc_sleep_ms(5);
  ck_assert_int_eq(atomic_load(&s->t.active), 0);  // the relayed call ended too
  // Its own deadline was the outer one (not the channel's 30 s default);
  // it ended at that deadline, or a moment earlier by the outer call's end.
  ck_assert_int_le(atomic_load(&s->t.sleep_time_left), 300);
  int relayed = atomic_load(&s->t.relay_code);
  ck_assert_msg(relayed == CPAY_ERR_DEADLINE_EXCEEDED || relayed == CPAY_ERR_CANCELLED, "%d", relayed);
  ck_assert_msg(now_ms() - t0 < 2000, "the relayed call ran on (%.0f ms)", now_ms() - t0);

  // Cancelled by the client: the relayed call is cancelled at once.
  atomic_store(&s->t.relay_code, -1);
  cpay_call *call;
  opts.timeout_ms = 20000;
  ck_assert_int_eq(cpay_call_start(ch, &payments_v1_PaymentService_methods[0], &opts,
                                   req_for(a, "relay:sleep:5000", "k2"), &call, NULL),
                   CPAY_OK);
  ck_assert(wait_atomic(&s->t.unary_calls, 4));  // the outer call and the relayed one
  t0 = now_ms();
  cpay_call_cancel(call);
  cpay_call_free(call);
  for (int i = 0; i < 400 && atomic_load(&s->t.relay_code) == -1; i++) testsvc_sleep_ms(5);
  ck_assert_int_eq(atomic_load(&s->t.relay_code), CPAY_ERR_CANCELLED);
  ck_assert_msg(now_ms() - t0 < 2000, "the relayed call ran on (%.0f ms)", now_ms() - t0);
  // A detached call inherits nothing: opts.detached is for work that must
  // outlive the request (shown by the API; the relay uses the default).
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_calls_cancel_callback) {
  // A blocking handler learns of the cancellation from its callback, also
  // when it sets the callback only after the cancellation.
  styled *s = &g_styles[0];
  cpay_channel *ch = cpay_channel_new(s->target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  const char *customers[] = {"wait-cancel", "late-cancel"};
  for (int k = 0; k < 2; k++) {
    atomic_store(&s->t.relay_code, -1);
    int before = atomic_load(&s->t.unary_calls);
    cpay_call *call;
    ck_assert_int_eq(cpay_call_start(ch, &payments_v1_PaymentService_methods[0], NULL,
                                     req_for(a, customers[k], "k"), &call, NULL),
                     CPAY_OK);
    ck_assert(wait_atomic(&s->t.unary_calls, before + 1));
    testsvc_sleep_ms(50);
    double t0 = now_ms();
    cpay_call_cancel(call);
    for (int i = 0; i < 400 && atomic_load(&s->t.relay_code) == -1; i++) testsvc_sleep_ms(5);
    ck_assert_msg(atomic_load(&s->t.relay_code) == CPAY_ERR_CANCELLED, "%s: no callback",
                  customers[k]);
    ck_assert_msg(now_ms() - t0 < 1000, "%s: told after %.0f ms", customers[k], now_ms() - t0);
    cpay_call_free(call);
  }
  cpay_arena_free(a);
  cpay_channel_free(ch);
}
END_TEST

START_TEST(test_calls_compression_options) {
  // Response compression per server and per call (that the bytes are
  // compressed is checked with C-core's trace in grpc-python-client).
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_status s = {0};
  ck_assert_ptr_null(cpay_server_new(&(cpay_server_opts){.compression = "brotli"}, &s));
  ck_assert_str_eq(s.msg, "server: unknown compression brotli");
  int port;
  cpay_server_opts sopts = {.compression = "gzip"};
  cpay_server *srv = testsvc_server_with(&t, &testsvc_reactor_handlers, &sopts, &port);
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  payments_v1_ChargeResponse *resp;
  ck_assert_int_eq(payments_v1_PaymentService_ChargeCard(ch, NULL, req_for(a, "big:50000", "k"), a, &resp, NULL),
                   CPAY_OK);
  ck_assert_uint_eq(resp->processor_reference.size, 50000);
  cpay_arena_free(a);
  cpay_channel_free(ch);
  cpay_server_free(srv);
}
END_TEST

static Suite *calls_suite(void) {
  Suite *s = suite_create("calls");
  TCase *tc = tcase_create("calls");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_calls_async_modes);
  tcase_add_test(tc, test_calls_async_fan_out_one_thread);
  tcase_add_test(tc, test_calls_async_failures);
  tcase_add_test(tc, test_calls_channel_free_refuses_new_calls);
  tcase_add_test(tc, test_calls_send_and_recv_on_two_threads);
  tcase_add_test(tc, test_calls_slow_consumer_reactor);
  tcase_add_test(tc, test_calls_slow_consumer_stall);
  tcase_add_test(tc, test_calls_initial_metadata_on_demand);
  tcase_add_test(tc, test_calls_status_any_length);
  tcase_add_test(tc, test_calls_rich_details);
  tcase_add_test(tc, test_calls_interceptor_sees_requests);
  tcase_add_test(tc, test_calls_max_calls);
  tcase_add_test(tc, test_calls_max_queued_and_health);
  tcase_add_test(tc, test_calls_both_styles_refused);
  tcase_add_test(tc, test_calls_inherit_deadline_and_cancel);
  tcase_add_test(tc, test_calls_cancel_callback);
  tcase_add_test(tc, test_calls_compression_options);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(calls_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
