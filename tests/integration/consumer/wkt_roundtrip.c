// A consumer whose schema (event.proto) imports well-known types: it needs
// the installed google/protobuf/*.cpay.h headers and libcpay-wkt. Round trip
// of an Event with a Timestamp and a Duration; exits non-zero on a difference.
#include <stdio.h>
#include <stdlib.h>

#include "event.cpay.h"

int main(void) {
  int rc = EXIT_FAILURE;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *arena = cpay_arena_new();
  if (!arena) return EXIT_FAILURE;

  integration_Event *ev = integration_Event_new(arena);
  google_protobuf_Timestamp *at = ev ? integration_Event_mutable_at(ev, arena) : NULL;
  google_protobuf_Duration *took = ev ? integration_Event_mutable_took(ev, arena) : NULL;
  if (!at || !took) goto out;
  ev->name = CPAY_STR("charge");
  at->seconds = 1700000000;
  at->nanos = 123456789;
  took->seconds = 2;
  took->nanos = 500000000;

  cpay_bytes wire;
  integration_Event *back = NULL;
  if (integration_Event_serialize(ev, arena, &wire, &st) != CPAY_OK ||
      integration_Event_parse(wire.data, wire.size, arena, &back, &st) != CPAY_OK) {
    fprintf(stderr, "wkt_roundtrip: %s\n", cpay_status_msg(&st));
    goto out;
  }
  if (!cpay_str_eq(back->name, ev->name) || !integration_Event_has_at(back) ||
      !integration_Event_has_took(back) || back->at->seconds != 1700000000 ||
      back->at->nanos != 123456789 || back->took->seconds != 2 || back->took->nanos != 500000000) {
    fprintf(stderr, "wkt_roundtrip: the event differs after the round trip\n");
    goto out;
  }
  printf("wkt_roundtrip: Event with Timestamp and Duration, %zu bytes: ok\n", wire.size);
  rc = EXIT_SUCCESS;

out:
  cpay_arena_free(arena);
  return rc;
}
