// Fuzz target for the JSON parser. Every input is parsed as
// TestAllTypesProto3 and TestAllTypesProto2 (every well-known type and the
// proto2 extensions registered for Any and "[ext]" keys), strictly and
// ignoring unknown fields, and once more in an arena too small for most
// inputs (every out-of-memory path must fail cleanly). Whatever parses must
// print, the printed JSON
// must parse again, and printing that must give the same text: the JSON
// codec must be stable as well as safe. Rejected input must say why.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/wkt.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_msg_desc *t, const cpay_status *st) {
  fprintf(stderr, "fuzz_json: %s (%s): %s\n", what, t->table->full_name, cpay_status_msg(st));
  abort();
}

// What parsed must print; only limits (memory, depth) may stop it.
static bool printable_failure(const cpay_status *st) {
  return st->code == CPAY_ERR_NO_MEMORY || st->code == CPAY_ERR_DEPTH;
}

static void check_one(const uint8_t *data, size_t size, const cpay_msg_desc *t,
                      const cpay_registry *reg, uint32_t flags, size_t max_bytes) {
  cpay_arena_opts ao = {0};
  ao.max_bytes = max_bytes;
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay_status st;
  cpay_status_clear(&st);
  cpay_json_decode_opts dopts = {0};
  dopts.flags = flags;
  dopts.registry = reg;
  cpay_json_encode_opts eopts = {0};
  eopts.registry = reg;

  void *msg = cpay_msg_new(t->table, a);
  if (!msg) goto out_free_arena;  // the small arena may not even hold the message
  if (cpay_json_decode((const char *)data, size, msg, t, a, &dopts, &st) != CPAY_OK) {
    if (st.code == CPAY_OK || st.msg[0] == '\0') fail("error without a message", t, &st);
    goto out_free_arena;
  }
  cpay_str first;
  if (cpay_json_encode(msg, t, a, &eopts, &first, &st) != CPAY_OK) {
    if (printable_failure(&st)) goto out_free_arena;
    fail("parsed message does not print", t, &st);
  }
  void *again = cpay_msg_new(t->table, a);
  if (!again) goto out_free_arena;
  if (cpay_json_decode(first.data, first.size, again, t, a, &dopts, &st) != CPAY_OK) {
    if (printable_failure(&st)) goto out_free_arena;
    fprintf(stderr, "printed: %s\n", first.data);
    fail("printed JSON does not parse", t, &st);
  }
  cpay_str second;
  if (cpay_json_encode(again, t, a, &eopts, &second, &st) != CPAY_OK) {
    if (printable_failure(&st)) goto out_free_arena;
    fail("re-parsed message does not print", t, &st);
  }
  if (!cpay_str_eq(first, second)) {
    fprintf(stderr, "first:  %s\nsecond: %s\n", first.data, second.data);
    fail("JSON is not stable across a round trip", t, &st);
  }
  // The binary form of what JSON gave must be valid too.
  cpay_bytes bin;
  if (cpay_encode(msg, t->table, a, NULL, &bin, &st) != CPAY_OK &&
      st.code != CPAY_ERR_NO_MEMORY && st.code != CPAY_ERR_REQUIRED) {
    fail("parsed message does not encode", t, &st);
  }
out_free_arena:
  cpay_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cpay_arena *reg_arena;
  static cpay_registry *reg;
  if (!reg) {
    reg_arena = cpay_arena_new();
    reg = reg_arena ? cpay_registry_new(reg_arena) : NULL;
    if (!reg || cpay_wkt_register_types(reg) != CPAY_OK ||
        test_messages_proto3_proto_register_types(reg) != CPAY_OK ||
        test_messages_proto2_proto_register_types(reg) != CPAY_OK) {
      abort();
    }
  }
  const cpay_msg_desc *tables[] = {&protobuf_test_messages_proto3_TestAllTypesProto3_desc,
                                   &protobuf_test_messages_proto2_TestAllTypesProto2_desc};
  for (size_t i = 0; i < 2; i++) {
    check_one(data, size, tables[i], reg, 0, 64u << 20);
    check_one(data, size, tables[i], reg, CPAY_JSON_IGNORE_UNKNOWN, 64u << 20);
  }
  check_one(data, size, tables[0], reg, 0, 6000);
  return 0;
}
