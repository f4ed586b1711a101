// Fuzz target for the binary codec's stability. Every input that decodes as
// TestAllTypesProto3, or as TestAllTypesProto2 with its extensions, must
// encode; its encoding must decode again; and encoding that must give the
// same bytes, in both the default and the deterministic order, unknown fields
// included: decode -> encode -> decode is a fixed point.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_msg_table *t, const cpay_status *st) {
  fprintf(stderr, "fuzz_roundtrip: %s (%s): %s\n", what, t->full_name, cpay_status_msg(st));
  abort();
}

static bool same_bytes(cpay_bytes x, cpay_bytes y) {
  return x.size == y.size && (x.size == 0 || memcmp(x.data, y.data, x.size) == 0);
}

// Encodes `msg` with `flags`; false (after checking why) when only the
// memory limit stopped it.
static bool encode(const void *msg, const cpay_msg_table *t, cpay_arena *a, uint32_t flags,
                   const char *what, cpay_bytes *out) {
  cpay_encode_opts eopts = {0};
  eopts.flags = flags;
  cpay_status st;
  cpay_status_clear(&st);
  if (cpay_encode(msg, t, a, &eopts, out, &st) == CPAY_OK) return true;
  if (st.code != CPAY_ERR_NO_MEMORY) fail(what, t, &st);
  return false;
}

static void check_one(const uint8_t *data, size_t size, const cpay_msg_table *t,
                      const cpay_extreg *reg) {
  cpay_arena_opts ao = {0};
  ao.max_bytes = 64u << 20;
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay_status st;
  cpay_status_clear(&st);
  cpay_decode_opts dopts = {0};
  dopts.extreg = reg;

  void *msg = cpay_msg_new(t, a);
  if (!msg) abort();
  cpay_bytes first, first_det, second, second_det;
  if (cpay_decode(data, size, msg, t, a, &dopts, &st) != CPAY_OK) {
    if (st.code == CPAY_OK || st.msg[0] == '\0') fail("error without a message", t, &st);
    goto out_free_arena;
  }
  if (!encode(msg, t, a, 0, "decoded message does not encode", &first) ||
      !encode(msg, t, a, CPAY_ENCODE_DETERMINISTIC, "decoded message does not encode "
              "deterministically", &first_det)) {
    goto out_free_arena;
  }
  if (first.size != first_det.size) fail("deterministic encoding changes the size", t, &st);
  void *again = cpay_msg_new(t, a);
  if (!again) abort();
  if (cpay_decode(first.data, first.size, again, t, a, &dopts, &st) != CPAY_OK) {
    if (st.code == CPAY_ERR_NO_MEMORY) goto out_free_arena;
    fail("own encoding does not decode", t, &st);
  }
  if (!encode(again, t, a, 0, "re-decoded message does not encode", &second) ||
      !encode(again, t, a, CPAY_ENCODE_DETERMINISTIC, "re-decoded message does not encode "
              "deterministically", &second_det)) {
    goto out_free_arena;
  }
  if (!same_bytes(first, second)) fail("encoding is not stable across a round trip", t, &st);
  if (!same_bytes(first_det, second_det)) {
    fail("deterministic encoding is not stable across a round trip", t, &st);
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
  check_one(data, size, &protobuf_test_messages_proto3_TestAllTypesProto3_table, reg);
  check_one(data, size, &protobuf_test_messages_proto2_TestAllTypesProto2_table, reg);
  return 0;
}
