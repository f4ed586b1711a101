// A program that only parses and serializes: linked statically against
// libcpay.a (no --gc-sections), it must contain no JSON or text code
// (check_link.py). With -DCALL_JSON it also calls one _to_json, and must
// then contain the JSON encoder, which shows the check can fail.
#include <stdio.h>

#include "payments.cpay.h"

int main(void) {
  cpay_arena *arena = cpay_arena_new();
  if (arena == NULL) return 1;
  payments_v1_ChargeRequest *req = payments_v1_ChargeRequest_new(arena);
  if (req == NULL) return 1;
  req->customer_id = CPAY_STR("cus_0042");
  req->amount_cents = 1999;
  payments_v1_ChargeRequest_set_description(req, CPAY_STR("Coffee beans"));
  cpay_bytes wire;
  payments_v1_ChargeRequest *back;
  int rc = 1;
  if (payments_v1_ChargeRequest_serialize(req, arena, &wire, NULL) == CPAY_OK &&
      payments_v1_ChargeRequest_parse(wire.data, wire.size, arena, &back, NULL) == CPAY_OK &&
      back->amount_cents == 1999) {
    rc = 0;
  }
#ifdef CALL_JSON
  cpay_str json;
  if (payments_v1_ChargeRequest_to_json(back, arena, NULL, &json, NULL) != CPAY_OK) rc = 1;
  if (rc == 0) printf("%.*s\n", (int)json.size, json.data);
#endif
  cpay_arena_free(arena);
  return rc;
}
