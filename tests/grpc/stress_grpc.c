// Thousands of calls against an in-process server, many of them abandoned
// mid-stream in every way a client can disappear: cancel, free without
// finish, half-read streams, and whole channels closed while streams run,
// also a channel shared by threads that read and free their calls as it
// closes; then asynchronous calls of every mode racing their deadlines
// (1-20 ms) and cancellations against their own ends. Run in the sanitizer
// build, LeakSanitizer then proves that every call's memory is freed on both
// sides; the counters prove the server saw each stream end and each
// asynchronous call ended exactly once.
//
//   stress-grpc [THREADS] [ROUNDS] [blocking|reactor]
//   (default 8 threads x 100 rounds against testsvc's blocking handlers)
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testsvc.h"

static int g_port;
static atomic_int g_unary_ok, g_errors, g_streams;
static atomic_int g_async_started, g_async_done, g_async_by_code[17];

static void fail(const char *what, const cpay_status *st) {
  atomic_fetch_add(&g_errors, 1);
  fprintf(stderr, "stress: %s: %s\n", what, cpay_status_msg(st));
}

static void one_round(cpay_channel *ch, cpay_arena *a, int r) {
  cpay_status st = {0};
  // 4 unary calls.
  for (int i = 0; i < 4; i++) {
    payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(a);
    req->customer_id = CPAY_STR("c");
    req->idempotency_key = CPAY_STR("k");
    req->amount_cents = r;
    payments_v1_ChargeResponse *resp;
    if (payments_v1_PaymentService_ChargeCard(ch, NULL, req, a, &resp, &st) == CPAY_OK &&
        cpay_str_eq(resp->transaction_id, CPAY_STR("k"))) {
      atomic_fetch_add(&g_unary_ok, 1);
    } else {
      fail("unary", &st);
    }
  }
  cpay_call *call;
  // A server stream read halfway, then cancelled.
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("forever");
  if (payments_v1_PaymentService_StreamTransactions(ch, NULL, sreq, &call, &st) == CPAY_OK) {
    atomic_fetch_add(&g_streams, 1);
    for (int i = 0; i < 3 + r % 5; i++) {
      payments_v1_Transaction *t;
      if (payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st) != CPAY_OK || !t) {
        fail("stream recv", &st);
        break;
      }
    }
    if (r % 2) cpay_call_cancel(call);
    cpay_call_free(call);  // without finish: the call is cancelled
  } else {
    fail("stream start", &st);
  }
  // A client stream abandoned after a few sends.
  if (payments_v1_PaymentService_BatchCharge(ch, NULL, &call, &st) == CPAY_OK) {
    atomic_fetch_add(&g_streams, 1);
    for (int i = 0; i < r % 4; i++) {
      payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(a);
      req->amount_cents = 1;
      if (payments_v1_PaymentService_BatchCharge_send(call, req, &st) != CPAY_OK) fail("send", &st);
    }
    cpay_call_free(call);
  } else {
    fail("batch start", &st);
  }
  // A bidi stream: one round trip, then gone without close_send.
  if (payments_v1_PaymentService_PaymentChat(ch, NULL, &call, &st) == CPAY_OK) {
    atomic_fetch_add(&g_streams, 1);
    payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(a);
    m->text = CPAY_STR("hi");
    payments_v1_PaymentMessage *back = NULL;
    if (payments_v1_PaymentService_PaymentChat_send(call, m, &st) != CPAY_OK ||
        payments_v1_PaymentService_PaymentChat_recv(call, a, &back, &st) != CPAY_OK || !back) {
      fail("chat", &st);
    }
    cpay_call_free(call);
  } else {
    fail("chat start", &st);
  }
  // A complete client stream, for the happy path under load.
  if (payments_v1_PaymentService_BatchCharge(ch, NULL, &call, &st) == CPAY_OK) {
    atomic_fetch_add(&g_streams, 1);
    payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(a);
    req->amount_cents = 5;
    payments_v1_BatchChargeResponse *resp = NULL;
    if (payments_v1_PaymentService_BatchCharge_send(call, req, &st) != CPAY_OK ||
        payments_v1_PaymentService_BatchCharge_finish(call, a, &resp, &st) != CPAY_OK ||
        resp->total != 1) {
      fail("batch", &st);
    }
    cpay_call_free(call);
  }
}

typedef struct job {
  int rounds;
} job;

static void *client_thread(void *arg) {
  job *j = arg;
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port);
  cpay_arena *a = cpay_arena_new();
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  for (int r = 0; r < j->rounds; r++) {
    one_round(ch, a, r);
    cpay_arena_reset(a);
    if (r % 25 == 24) {
      // The whole connection disappears while a stream is running.
      cpay_call *call;
      payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
      sreq->customer_id = CPAY_STR("forever");
      cpay_status st = {0};
      if (payments_v1_PaymentService_StreamTransactions(ch, NULL, sreq, &call, &st) == CPAY_OK) {
        atomic_fetch_add(&g_streams, 1);
        payments_v1_Transaction *t;
        if (payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st) != CPAY_OK) {
          fail("recv before disconnect", &st);
        }
        cpay_call_free(call);
      }
      cpay_channel_free(ch);
      ch = cpay_channel_new(target, NULL, NULL);
    }
  }
  cpay_channel_free(ch);
  cpay_arena_free(a);
  return NULL;
}

// One channel shared by several threads, each reading a stream on it, is
// closed under them. Half the readers free their call at about the same
// moment (racing cpay_channel_free's cancellation); the others read on and
// must see their stream end CANCELLED.
#define CLOSE_READERS 6

typedef struct close_reader {
  cpay_channel *ch;
  int index;
  atomic_int *ready;
} close_reader;

static void *close_reader_thread(void *arg) {
  close_reader *cr = arg;
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_rpc_result res = {0};
  cpay_call_opts opts = {.timeout_ms = 30000, .result = &res};
  payments_v1_TransactionStreamRequest *sreq = payments_v1_TransactionStreamRequest_new(a);
  sreq->customer_id = CPAY_STR("forever");
  cpay_call *call;
  payments_v1_Transaction *t = NULL;
  if (payments_v1_PaymentService_StreamTransactions(cr->ch, &opts, sreq, &call, &st) != CPAY_OK ||
      payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st) != CPAY_OK || !t) {
    fail("stream before close", &st);
    atomic_fetch_add(cr->ready, 1);
    cpay_arena_free(a);
    return NULL;
  }
  atomic_fetch_add(&g_streams, 1);
  atomic_fetch_add(cr->ready, 1);
  if (cr->index % 2) {
    cpay_call_free(call);  // races the close
  } else {
    while (payments_v1_PaymentService_StreamTransactions_recv(call, a, &t, &st) == CPAY_OK && t) {
      cpay_arena_reset(a);
    }
    if (payments_v1_PaymentService_StreamTransactions_finish(call, &st) == CPAY_OK ||
        res.code != CPAY_GRPC_CANCELLED) {
      fail("stream of a closed channel", &st);
    }
    cpay_call_free(call);
  }
  cpay_arena_free(a);
  return NULL;
}

static void close_under_readers(int rounds) {
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port);
  for (int r = 0; r < rounds; r++) {
    atomic_int ready = 0;
    close_reader cr[CLOSE_READERS];
    pthread_t tids[CLOSE_READERS];
    cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
    for (int i = 0; i < CLOSE_READERS; i++) {
      cr[i] = (close_reader){ch, i, &ready};
      pthread_create(&tids[i], NULL, close_reader_thread, &cr[i]);
    }
    while (atomic_load(&ready) < CLOSE_READERS) testsvc_sleep_ms(1);
    cpay_channel_free(ch);
    for (int i = 0; i < CLOSE_READERS; i++) pthread_join(tids[i], NULL);
  }
}

// ---- asynchronous races ---------------------------------------------------------------

typedef struct race {
  atomic_int done;
  int64_t delay_us;  // before it is cancelled; negative: not cancelled
} race;

static void race_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  race *r = state;
  if (atomic_fetch_add(&r->done, 1) != 0) {
    fprintf(stderr, "stress: on_done twice\n");
    atomic_fetch_add(&g_errors, 1);
  }
  if ((unsigned)res->code <= 16) atomic_fetch_add(&g_async_by_code[res->code], 1);
  atomic_fetch_add(&g_async_done, 1);
}

static void race_txn(void *state, cpay_call *call, payments_v1_Transaction *t) {
  (void)state;
  if (t) {
    cpay_code c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, NULL);
    (void)c;  // refused only once the call ended
  }
}

static void race_chat(void *state, cpay_call *call, payments_v1_PaymentMessage *m) {
  (void)state;
  if (m) {
    cpay_code c = payments_v1_PaymentService_PaymentChat_read(call, NULL, NULL);
    (void)c;
  }
}

// Starts call `i` of a batch: mode i % 4; ends by its deadline, by a
// cancellation after a random delay, or on its own.
static cpay_call *race_start(cpay_channel *ch, cpay_arena *a, race *r, int i, unsigned *seed) {
  static const payments_v1_PaymentService_ChargeCard_client_reactor kU = {.on_done = race_done};
  static const payments_v1_PaymentService_StreamTransactions_client_reactor kS = {
      .on_message = race_txn, .on_done = race_done};
  static const payments_v1_PaymentService_BatchCharge_client_reactor kB = {.on_done = race_done};
  static const payments_v1_PaymentService_PaymentChat_client_reactor kC = {
      .on_message = race_chat, .on_done = race_done};
  cpay_call_opts opts = {.timeout_ms = 1 + rand_r(seed) % 20};
  r->delay_us = rand_r(seed) % 2 ? (int64_t)(rand_r(seed) % 3000) : -1;
  // A third run on without a deadline of their own; those not cancelled
  // then do finite work and end by themselves.
  if (rand_r(seed) % 3 == 0) opts.timeout_ms = 10000;
  bool finite = opts.timeout_ms == 10000 && r->delay_us < 0;
  cpay_call *call = NULL;
  cpay_status st = {0};
  cpay_code c = CPAY_ERR_INTERNAL;
  switch (i % 4) {
    case 0: {
      payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(a);
      req->customer_id = rand_r(seed) % 2 ? CPAY_STR("sleep:10") : CPAY_STR("c");
      req->idempotency_key = CPAY_STR("k");
      c = payments_v1_PaymentService_ChargeCard_async(ch, &opts, req, &kU, r, &call, &st);
      break;
    }
    case 1: {
      payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(a);
      if (!finite && rand_r(seed) % 2) {
        req->customer_id = CPAY_STR("forever");
      } else {
        req->since_unix = 20;
      }
      c = payments_v1_PaymentService_StreamTransactions_async(ch, &opts, req, &kS, r, &call, &st);
      if (c == CPAY_OK) c = payments_v1_PaymentService_StreamTransactions_read(call, NULL, &st);
      break;
    }
    case 2: {
      c = payments_v1_PaymentService_BatchCharge_async(ch, &opts, &kB, r, &call, &st);
      for (int k = 0; c == CPAY_OK && k < 3; k++) {
        payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(a);
        req->amount_cents = k;
        c = payments_v1_PaymentService_BatchCharge_write(call, req, &st);
      }
      if (c == CPAY_OK && (finite || rand_r(seed) % 2)) {
        c = payments_v1_PaymentService_BatchCharge_close_send(call, &st);
      }
      break;
    }
    default: {
      c = payments_v1_PaymentService_PaymentChat_async(ch, &opts, &kC, r, &call, &st);
      payments_v1_PaymentMessage *m = payments_v1_PaymentMessage_new(a);
      m->text = CPAY_STR("race");
      if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_write(call, m, &st);
      if (c == CPAY_OK) c = payments_v1_PaymentService_PaymentChat_read(call, NULL, &st);
      if (c == CPAY_OK && (finite || rand_r(seed) % 2)) {
        c = payments_v1_PaymentService_PaymentChat_close_send(call, &st);
      }
      break;
    }
  }
  // A refusal after the start is the call racing its own end: fine.
  if (!call) fail("async start", &st);
  if (call) atomic_fetch_add(&g_async_started, 1);
  return call;
}

static void async_races(int batches) {
  char target[32];
  snprintf(target, sizeof target, "127.0.0.1:%d", g_port);
  cpay_channel *ch = cpay_channel_new(target, NULL, NULL);
  cpay_arena *a = cpay_arena_new();
  unsigned seed = 42;
  enum { BATCH = 64 };
  race rs[BATCH];
  cpay_call *calls[BATCH];
  for (int b = 0; b < batches; b++) {
    for (int i = 0; i < BATCH; i++) {
      atomic_init(&rs[i].done, 0);
      calls[i] = race_start(ch, a, &rs[i], i + b, &seed);
    }
    // Cancellations in order of their delay, racing deadlines and ends.
    for (int64_t us = 0; us <= 3000; us += 250) {
      for (int i = 0; i < BATCH; i++) {
        if (calls[i] && rs[i].delay_us >= 0 && rs[i].delay_us <= us) {
          cpay_call_free(calls[i]);  // cancels it if it still runs
          calls[i] = NULL;
        }
      }
      struct timespec ts = {0, 250000};
      nanosleep(&ts, NULL);
    }
    // The others end by their deadline or on their own.
    for (int i = 0; i < BATCH; i++) {
      for (int k = 0; k < 2000 && calls[i] && !atomic_load(&rs[i].done); k++) testsvc_sleep_ms(5);
      cpay_call_free(calls[i]);
    }
    for (int i = 0; i < BATCH; i++) {
      for (int k = 0; k < 2000 && !atomic_load(&rs[i].done); k++) testsvc_sleep_ms(5);
    }
    cpay_arena_reset(a);
  }
  cpay_arena_free(a);
  cpay_channel_free(ch);  // waits for every on_done
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  int rounds = argc > 2 ? atoi(argv[2]) : 100;
  bool reactor = argc > 3 && strcmp(argv[3], "reactor") == 0;
  testsvc t;
  memset(&t, 0, sizeof t);
  cpay_server_opts opts = {.workers = 16};
  cpay_server *srv =
      testsvc_server_with(&t, reactor ? &testsvc_reactor_handlers : &testsvc_handlers, &opts, &g_port);
  if (!srv) return 1;
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  job j = {rounds};
  for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, client_thread, &j);
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  free(tids);
  close_under_readers(rounds / 10 + 1);
  async_races(rounds / 10 + 1);
  // Every stream handler must end on its own (the clients are gone).
  for (int i = 0; i < 500 && atomic_load(&t.streams_ended) < atomic_load(&t.streams_started); i++) {
    testsvc_sleep_ms(10);
  }
  for (int i = 0; i < 500 && atomic_load(&t.active) > 0; i++) testsvc_sleep_ms(10);
  int started = atomic_load(&t.streams_started), ended = atomic_load(&t.streams_ended);
  cpay_server_shutdown(srv, 1000);
  cpay_server_free(srv);
  int calls = atomic_load(&g_unary_ok) + atomic_load(&g_streams);
  int a_started = atomic_load(&g_async_started), a_done = atomic_load(&g_async_done);
  printf("stress (%s handlers): %d threads x %d rounds: %d calls (%d unary ok), %d streams "
         "started / %d ended on the server, %d saw the client leave, %d errors\n",
         reactor ? "reactor" : "blocking", threads, rounds, calls, atomic_load(&g_unary_ok), started,
         ended, atomic_load(&t.streams_saw_cancel), atomic_load(&g_errors));
  printf("stress: %d asynchronous calls racing deadlines and cancellation, %d ended: %d OK, %d "
         "CANCELLED, %d DEADLINE_EXCEEDED, %d other\n",
         a_started, a_done, atomic_load(&g_async_by_code[0]), atomic_load(&g_async_by_code[1]),
         atomic_load(&g_async_by_code[4]),
         a_done - atomic_load(&g_async_by_code[0]) - atomic_load(&g_async_by_code[1]) -
             atomic_load(&g_async_by_code[4]));
  bool ok = atomic_load(&g_errors) == 0 && atomic_load(&g_unary_ok) == threads * rounds * 4 &&
            started == ended && started > 0 && started <= atomic_load(&g_streams) + a_started &&
            atomic_load(&t.streams_saw_cancel) > 0 && atomic_load(&t.active) == 0 &&
            a_started == a_done && a_started > 0 && atomic_load(&g_async_by_code[1]) > 0 &&
            atomic_load(&g_async_by_code[4]) > 0 && atomic_load(&g_async_by_code[0]) > 0;
  printf("%s\n", ok ? "stress: ok" : "stress: FAILED");
  return ok ? 0 : 1;
}
