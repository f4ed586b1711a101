// Fuzz target for the binary decoder, built once per schema: fuzz_decode_proto3
// decodes every input as TestAllTypesProto3, fuzz_decode_proto2 as
// TestAllTypesProto2 with the proto2 extensions registered (CPAY_FUZZ_PROTO
// says which). Each input is decoded twice, copying strings and aliasing them
// into the input, and the two must agree: the same verdict, and on success
// the same deterministic encoding. Rejected input must say why.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if CPAY_FUZZ_PROTO == 2
#include "test_messages_proto2.cpay.h"
#define FUZZ_TABLE protobuf_test_messages_proto2_TestAllTypesProto2_table
#elif CPAY_FUZZ_PROTO == 3
#include "test_messages_proto3.cpay.h"
#define FUZZ_TABLE protobuf_test_messages_proto3_TestAllTypesProto3_table
#else
#error "CPAY_FUZZ_PROTO must be 2 or 3"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_status *st) {
  fprintf(stderr, "fuzz_decode_proto%d: %s: %s\n", CPAY_FUZZ_PROTO, what, cpay_status_msg(st));
  abort();
}

// The result of one decode: its status and, when it succeeded, the
// deterministic encoding of the message (on `a`).
typedef struct decoded {
  cpay_status st;
  cpay_bytes bytes;
  bool encoded;
} decoded;

static void decode_one(const uint8_t *data, size_t size, const cpay_extreg *reg, uint32_t flags,
                       cpay_arena *a, decoded *out) {
  cpay_status_clear(&out->st);
  out->encoded = false;
  cpay_decode_opts dopts = {0};
  dopts.flags = flags;
  dopts.extreg = reg;
  void *msg = cpay_msg_new(&FUZZ_TABLE, a);
  if (!msg) abort();
  if (cpay_decode(data, size, msg, &FUZZ_TABLE, a, &dopts, &out->st) != CPAY_OK) {
    if (out->st.code == CPAY_OK || out->st.msg[0] == '\0') fail("error without a message", &out->st);
    return;
  }
  cpay_encode_opts eopts = {0};
  eopts.flags = CPAY_ENCODE_DETERMINISTIC;
  cpay_status est;
  cpay_status_clear(&est);
  if (cpay_encode(msg, &FUZZ_TABLE, a, &eopts, &out->bytes, &est) != CPAY_OK) {
    if (est.code == CPAY_ERR_NO_MEMORY) return;
    fail("decoded message does not encode", &est);
  }
  out->encoded = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cpay_arena *reg_arena;
  static cpay_extreg *reg;
  if (!reg_arena) {
    reg_arena = cpay_arena_new();
    reg = reg_arena ? cpay_extreg_new(reg_arena) : NULL;
    if (!reg) abort();
#if CPAY_FUZZ_PROTO == 2
    if (test_messages_proto2_proto_register_extensions(reg) != CPAY_OK) abort();
#endif
  }
  // A byte limit keeps hostile length prefixes from exhausting memory.
  cpay_arena_opts ao = {0};
  ao.max_bytes = 64u << 20;
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  decoded copied, aliased;
  decode_one(data, size, reg, 0, a, &copied);
  decode_one(data, size, reg, CPAY_DECODE_ALIAS, a, &aliased);
  if (copied.st.code != aliased.st.code) {
    fprintf(stderr, "copying: %s\naliasing: %s\n", cpay_status_msg(&copied.st),
            cpay_status_msg(&aliased.st));
    fail("aliasing changes the verdict", &aliased.st);
  }
  if (copied.encoded && aliased.encoded &&
      (copied.bytes.size != aliased.bytes.size ||
       (copied.bytes.size && memcmp(copied.bytes.data, aliased.bytes.data, copied.bytes.size)))) {
    fail("aliasing changes the decoded message", &aliased.st);
  }
  cpay_arena_free(a);
  return 0;
}
