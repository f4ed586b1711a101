// A consumer of an installed cpay: code generated from payments.proto by the
// installed protoc-gen-cpay, compiled against the installed headers and
// linked with the installed libcpay. Builds a ChargeRequest, serializes it,
// parses the bytes back and checks every field; exits non-zero on any
// difference. Each build system test (tests/integration/) builds this file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payments.cpay.h"

static int check(int ok, const char *what) {
  if (!ok) fprintf(stderr, "roundtrip: %s differs after the round trip\n", what);
  return ok ? 0 : 1;
}

int main(void) {
  int failures = 0;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *arena = cpay_arena_new();
  if (!arena) return EXIT_FAILURE;

  payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(arena);
  if (!req) goto out_fail;
  req->customer_id = CPAY_STR("cus_0042");
  req->amount_cents = 1999;
  req->currency = CPAY_STR("USD");
  req->idempotency_key = CPAY_STR("order-7f3a");
  payments_v1_ChargeRequest_set_description(req, CPAY_STR("Coffee beans, 1 kg"));

  cpay_bytes wire;
  if (payments_v1_ChargeRequest_serialize(req, arena, &wire, &st) != CPAY_OK) {
    fprintf(stderr, "roundtrip: serialize: %s\n", cpay_status_msg(&st));
    goto out_fail;
  }
  payments_v1_ChargeRequest *back = NULL;
  if (payments_v1_ChargeRequest_parse(wire.data, wire.size, arena, &back, &st) != CPAY_OK) {
    fprintf(stderr, "roundtrip: parse: %s\n", cpay_status_msg(&st));
    goto out_fail;
  }
  failures += check(cpay_str_eq(back->customer_id, req->customer_id), "customer_id");
  failures += check(back->amount_cents == 1999, "amount_cents");
  failures += check(cpay_str_eq(back->currency, req->currency), "currency");
  failures += check(cpay_str_eq(back->idempotency_key, req->idempotency_key), "idempotency_key");
  failures += check(payments_v1_ChargeRequest_has_description(back) &&
                        cpay_str_eq(back->description, req->description),
                    "description");
  if (failures) goto out_fail;
  printf("roundtrip: %zu bytes, cpay %s (generated code version %d): ok\n", wire.size,
         CPAY_VERSION_STRING, CPAY_GENCODE_VERSION);
  cpay_arena_free(arena);
  return EXIT_SUCCESS;

out_fail:
  cpay_arena_free(arena);
  return EXIT_FAILURE;
}
