// The payments example, before services exist: builds a ChargeRequest,
// serializes it, parses the bytes back and prints both, showing the
// generated API end to end (see docs/generated-code.md).
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "payments.cpay.h"

static void print_request(const char *title, const payments_v1_ChargeRequest *req) {
  printf("%s:\n", title);
  printf("  customer_id:     %.*s\n", (int)req->customer_id.size, req->customer_id.data);
  printf("  amount_cents:    %" PRId64 "\n", req->amount_cents);
  printf("  currency:        %.*s\n", (int)req->currency.size, req->currency.data);
  printf("  idempotency_key: %.*s\n", (int)req->idempotency_key.size,
         req->idempotency_key.data);
  if (payments_v1_ChargeRequest_has_description(req)) {
    printf("  description:     %.*s\n", (int)req->description.size, req->description.data);
  } else {
    printf("  description:     (not set)\n");
  }
}

static void print_hex(cpay_bytes b) {
  for (size_t i = 0; i < b.size; i++) {
    printf("%02x%s", b.data[i], (i + 1) % 24 == 0 || i + 1 == b.size ? "\n" : " ");
  }
}

int main(void) {
  int rc = EXIT_FAILURE;
  cpay_status st;
  cpay_status_clear(&st);

  // Everything below lives on one arena and is freed with it.
  cpay_arena *arena = cpay_arena_new();
  if (!arena) {
    fprintf(stderr, "out of memory\n");
    return EXIT_FAILURE;
  }

  payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(arena);
  if (!req) {
    fprintf(stderr, "out of memory\n");
    goto out_free_arena;
  }
  req->customer_id = CPAY_STR("cus_0042");
  req->amount_cents = 1999;
  req->currency = CPAY_STR("USD");
  req->idempotency_key = CPAY_STR("order-7f3a-retry-safe");
  payments_v1_ChargeRequest_set_description(req, CPAY_STR("Coffee beans, 1 kg"));
  print_request("built", req);

  cpay_bytes wire;
  if (payments_v1_ChargeRequest_serialize(req, arena, &wire, &st) != CPAY_OK) {
    fprintf(stderr, "serialize: %s\n", cpay_status_msg(&st));
    goto out_free_arena;
  }
  printf("serialized: %zu bytes\n", wire.size);
  print_hex(wire);

  payments_v1_ChargeRequest *back = NULL;
  if (payments_v1_ChargeRequest_parse(wire.data, wire.size, arena, &back, &st) != CPAY_OK) {
    fprintf(stderr, "parse: %s\n", cpay_status_msg(&st));
    goto out_free_arena;
  }
  print_request("parsed back", back);

  // A response, to show enums: the status field holds payments_v1_ChargeStatus values.
  payments_v1_ChargeResponse *resp = payments_v1_ChargeResponse_new(arena);
  if (!resp) {
    fprintf(stderr, "out of memory\n");
    goto out_free_arena;
  }
  resp->transaction_id = CPAY_STR("txn_0001");
  resp->status = payments_v1_CHARGE_STATUS_SUCCESS;
  printf("response status: %s\n", payments_v1_ChargeStatus_name(resp->status));

  // Truncated input is rejected with the field and byte offset.
  payments_v1_ChargeRequest *bad = NULL;
  if (payments_v1_ChargeRequest_parse(wire.data, wire.size - 3, arena, &bad, &st) == CPAY_OK) {
    fprintf(stderr, "truncated input was accepted\n");
    goto out_free_arena;
  }
  printf("truncated input: %s: %s\n", cpay_code_str(st.code), cpay_status_msg(&st));

  rc = EXIT_SUCCESS;
out_free_arena:
  cpay_arena_free(arena);
  return rc;
}
