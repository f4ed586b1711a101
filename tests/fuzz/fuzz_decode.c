// Fuzz target for the binary decoder. Every input is decoded as
// TestAllTypesProto3 and TestAllTypesProto2 (with the proto2 extensions
// registered), with and without string aliasing. Whatever decodes must
// encode, and re-decoding that encoding must give the same bytes again: the
// codec must be stable as well as safe.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_msg_table *t, const cpay_status *st) {
  fprintf(stderr, "fuzz_decode: %s (%s): %s\n", what, t->full_name, cpay_status_msg(st));
  abort();
}

static void check_one(const uint8_t *data, size_t size, const cpay_msg_table *t,
                      const cpay_extreg *reg, uint32_t flags) {
  // A byte limit keeps hostile length prefixes from exhausting memory.
  cpay_arena_opts ao = {0};
  ao.max_bytes = 64u << 20;
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay_status st;
  cpay_status_clear(&st);
  cpay_decode_opts dopts = {0};
  dopts.flags = flags;
  dopts.extreg = reg;

  void *msg = cpay_msg_new(t, a);
  if (!msg) abort();
  if (cpay_decode(data, size, msg, t, a, &dopts, &st) != CPAY_OK) {
    // Rejected input must say why.
    if (st.code == CPAY_OK || st.msg[0] == '\0') fail("error without a message", t, &st);
    goto out_free_arena;
  }
  cpay_bytes first;
  if (cpay_encode(msg, t, a, NULL, &first, &st) != CPAY_OK) {
    if (st.code == CPAY_ERR_NO_MEMORY) goto out_free_arena;
    fail("decoded message does not encode", t, &st);
  }
  void *again = cpay_msg_new(t, a);
  if (!again) abort();
  if (cpay_decode(first.data, first.size, again, t, a, &dopts, &st) != CPAY_OK) {
    if (st.code == CPAY_ERR_NO_MEMORY) goto out_free_arena;
    fail("own encoding does not decode", t, &st);
  }
  cpay_bytes second;
  if (cpay_encode(again, t, a, NULL, &second, &st) != CPAY_OK) {
    if (st.code == CPAY_ERR_NO_MEMORY) goto out_free_arena;
    fail("re-decoded message does not encode", t, &st);
  }
  if (first.size != second.size ||
      (first.size != 0 && memcmp(first.data, second.data, first.size) != 0)) {
    fail("encoding is not stable across a round trip", t, &st);
  }
out_free_arena:
  cpay_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cpay_arena *reg_arena;
  static cpay_extreg *reg;
  if (!reg) {
    reg_arena = cpay_arena_new();
    reg = reg_arena ? cpay_extreg_new(reg_arena) : NULL;
    if (!reg || test_messages_proto2_proto_register_extensions(reg) != CPAY_OK) abort();
  }
  const cpay_msg_table *tables[] = {&protobuf_test_messages_proto3_TestAllTypesProto3_table,
                                    &protobuf_test_messages_proto2_TestAllTypesProto2_table};
  for (size_t i = 0; i < 2; i++) {
    check_one(data, size, tables[i], reg, 0);
    check_one(data, size, tables[i], reg, CPAY_DECODE_ALIAS);
  }
  return 0;
}
