// A gRPC consumer of an installed cpay: the payments service stubs generated
// by the installed plugin, linked with the installed libcpay-grpc. Starts a
// server on a free loopback port with a ChargeCard handler, calls it over a
// real channel and checks the answer; exits non-zero on any failure.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payments.cpay.h"
#include "payments.cpay_grpc.h"

static cpay_code charge_card(void *ctx, cpay_server_call *call,
                             const payments_v1_ChargeRequest *req,
                             payments_v1_ChargeResponse *resp) {
  (void)ctx;
  if (req->amount_cents <= 0) {
    return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "amount must be positive");
  }
  resp->transaction_id = CPAY_STR("txn-1");
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  resp->processed_at_unix = req->amount_cents;  // echoed so the client can check it
  return CPAY_OK;
}

int main(void) {
  int rc = EXIT_FAILURE;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_channel *ch = NULL;
  cpay_arena *arena = NULL;
  cpay_server *srv = cpay_server_new(NULL, &st);
  if (!srv) goto out;
  const payments_v1_PaymentService_handlers handlers = {.ChargeCard = charge_card};
  int port = 0;
  if (payments_v1_PaymentService_register(srv, &handlers, NULL) != CPAY_OK ||
      cpay_server_listen(srv, "127.0.0.1:0", NULL, &port, &st) != CPAY_OK ||
      cpay_server_start(srv, &st) != CPAY_OK) {
    goto out;
  }
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  ch = cpay_channel_new(target, NULL, &st);
  arena = cpay_arena_new();
  if (!ch || !arena) goto out;

  payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(arena);
  if (!req) goto out;
  req->customer_id = CPAY_STR("cus_0042");
  req->amount_cents = 1999;
  req->currency = CPAY_STR("USD");
  req->idempotency_key = CPAY_STR("order-7f3a");
  payments_v1_ChargeResponse *resp = NULL;
  cpay_call_opts opts = {.timeout_ms = 10000};
  if (payments_v1_PaymentService_ChargeCard(ch, &opts, req, arena, &resp, &st) != CPAY_OK) goto out;
  if (!resp || resp->status != payments_v1_CHARGE_STATUS_SUCCESS ||
      !cpay_str_eq(resp->transaction_id, CPAY_STR("txn-1")) || resp->processed_at_unix != 1999) {
    fprintf(stderr, "grpc_call: unexpected ChargeCard response\n");
    goto out;
  }
  printf("grpc_call: ChargeCard over 127.0.0.1:%d: ok\n", port);
  rc = EXIT_SUCCESS;

out:
  if (rc != EXIT_SUCCESS && cpay_status_msg(&st)[0]) {
    fprintf(stderr, "grpc_call: %s\n", cpay_status_msg(&st));
  }
  cpay_arena_free(arena);
  cpay_channel_free(ch);
  cpay_server_free(srv);
  return rc;
}
