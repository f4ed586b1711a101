// The C tests' PaymentService (see testsvc.h).
#define _POSIX_C_SOURCE 200809L

#include "testsvc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static cpay_code charge(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                        payments_v1_ChargeResponse *resp) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->unary_calls, 1);
  enter(t);
  cpay_code rc = CPAY_OK;
  long sleep = num_after(req->customer_id, "sleep:");
  long big = num_after(req->customer_id, "big:");
  for (long waited = 0; waited < sleep; waited += 5) {
    if (cpay_server_call_is_cancelled(call)) {
      rc = cpay_server_call_set_status(call, CPAY_GRPC_CANCELLED, "cancelled");
      goto out;
    }
    testsvc_sleep_ms(5);
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
  const char *keys[] = {"x-request-id", "x-bin-bin"};
  for (int i = 0; i < 2; i++) {
    cpay_str v = cpay_server_call_metadata_get(call, keys[i]);
    if (!v.data) continue;
    if (cpay_server_call_add_initial_metadata(call, keys[i], v) != CPAY_OK ||
        cpay_server_call_add_trailing_metadata(call, keys[i], v) != CPAY_OK) {
      rc = CPAY_ERR_INTERNAL;
    }
  }
out:
  atomic_fetch_sub(&t->active, 1);
  return rc;
}

static cpay_code stream(void *ctx, cpay_server_call *call,
                        const payments_v1_TransactionStreamRequest *req) {
  testsvc *t = ctx;
  atomic_fetch_add(&t->streams_started, 1);
  enter(t);
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

const payments_v1_PaymentService_handlers testsvc_handlers = {charge, stream, batch, chat};

cpay_server *testsvc_server(testsvc *t, const cpay_server_opts *opts, int *port) {
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(opts, &st);
  if (!srv) goto out_fail;
  if (payments_v1_PaymentService_register(srv, &testsvc_handlers, t) != CPAY_OK ||
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
