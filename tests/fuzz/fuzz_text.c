// Fuzz target for the text format. Every input is parsed as v36.0's
// TestAllTypesProto3 and TestAllTypesProto2 (with every well-known type and
// the proto2 extensions registered, for Any and "[ext]" names), and once
// more in an arena too small for most inputs (every out-of-memory path must
// fail cleanly). Rejected input must say why, with a line:column. Whatever
// parses must print, the printed text must parse again, and printing that
// must give the same text. The input is also decoded as binary and, when it
// decodes, printed with its unknown fields: the printer must cope with any
// message the decoder accepts, and the debug print must never fail.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/text.h"
#include "cpay/wkt.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_msg_desc *t, const cpay_status *st) {
  fprintf(stderr, "fuzz_text: %s (%s): %s\n", what, t->table->full_name, cpay_status_msg(st));
  abort();
}

// Only limits (memory, depth) may stop printing.
static bool limit_failure(const cpay_status *st) {
  return st->code == CPAY_ERR_NO_MEMORY || st->code == CPAY_ERR_DEPTH;
}

static void check_text(const uint8_t *data, size_t size, const cpay_msg_desc *t,
                       const cpay_registry *reg, size_t max_bytes) {
  cpay_arena_opts ao = {0};
  ao.max_bytes = max_bytes;
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay_status st;
  cpay_status_clear(&st);
  cpay_text_decode_opts dopts = {0};
  dopts.registry = reg;
  cpay_text_encode_opts eopts = {0};
  eopts.registry = reg;

  void *msg = cpay_msg_new(t->table, a);
  if (!msg) goto out_free_arena;
  if (cpay_text_decode((const char *)data, size, msg, t, a, &dopts, &st) != CPAY_OK) {
    if (st.code == CPAY_OK || st.msg[0] == '\0') fail("error without a message", t, &st);
    // Syntax errors say where: "line:column: ".
    unsigned line, col;
    if (st.code == CPAY_ERR_MALFORMED && sscanf(st.msg, "%u:%u: ", &line, &col) != 2) {
      fail("error without line:column", t, &st);
    }
    goto out_free_arena;
  }
  cpay_str first;
  if (cpay_text_encode(msg, t, a, &eopts, &first, &st) != CPAY_OK) {
    if (limit_failure(&st)) goto out_free_arena;
    fail("parsed message does not print", t, &st);
  }
  void *again = cpay_msg_new(t->table, a);
  if (!again) goto out_free_arena;
  if (cpay_text_decode(first.data, first.size, again, t, a, &dopts, &st) != CPAY_OK) {
    if (limit_failure(&st)) goto out_free_arena;
    fprintf(stderr, "printed: %s\n", first.data);
    fail("printed text does not parse", t, &st);
  }
  cpay_str second;
  if (cpay_text_encode(again, t, a, &eopts, &second, &st) != CPAY_OK) {
    if (limit_failure(&st)) goto out_free_arena;
    fail("re-parsed message does not print", t, &st);
  }
  if (!cpay_str_eq(first, second)) {
    fprintf(stderr, "first:  %s\nsecond: %s\n", first.data, second.data);
    fail("text is not stable across a round trip", t, &st);
  }
out_free_arena:
  cpay_arena_free(a);
}

static void check_binary(const uint8_t *data, size_t size, const cpay_msg_desc *t,
                         const cpay_registry *reg, const cpay_extreg *ext) {
  cpay_arena *a = cpay_arena_new();
  if (!a) abort();
  cpay_status st;
  cpay_status_clear(&st);
  cpay_decode_opts dopts = {0};
  dopts.extreg = ext;
  dopts.flags = CPAY_DECODE_ALLOW_PARTIAL;
  cpay_text_encode_opts eopts = {0};
  eopts.registry = reg;
  eopts.flags = CPAY_TEXT_PRINT_UNKNOWN;
  void *msg = cpay_msg_new(t->table, a);
  if (!msg) abort();
  if (cpay_decode(data, size, msg, t->table, a, &dopts, &st) == CPAY_OK) {
    cpay_str out;
    if (cpay_text_encode(msg, t, a, &eopts, &out, &st) != CPAY_OK && !limit_failure(&st)) {
      fail("decoded message does not print", t, &st);
    }
    if (!cpay_text_debug(msg, t, a)) fail("debug print gave NULL", t, &st);
  }
  cpay_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cpay_arena *reg_arena;
  static cpay_registry *reg;
  static cpay_extreg *ext;
  if (!reg) {
    reg_arena = cpay_arena_new();
    reg = reg_arena ? cpay_registry_new(reg_arena) : NULL;
    ext = reg_arena ? cpay_extreg_new(reg_arena) : NULL;
    if (!reg || !ext || cpay_wkt_register_types(reg) != CPAY_OK ||
        test_messages_proto3_proto_register_types(reg) != CPAY_OK ||
        test_messages_proto2_proto_register_types(reg) != CPAY_OK ||
        test_messages_proto2_proto_register_extensions(ext) != CPAY_OK) {
      abort();
    }
  }
  const cpay_msg_desc *tables[] = {&protobuf_test_messages_proto3_TestAllTypesProto3_desc,
                                   &protobuf_test_messages_proto2_TestAllTypesProto2_desc};
  for (size_t i = 0; i < 2; i++) {
    check_text(data, size, tables[i], reg, 64u << 20);
    check_binary(data, size, tables[i], reg, ext);
  }
  check_text(data, size, tables[0], reg, 6000);
  return 0;
}
