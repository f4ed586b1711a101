// Converts TestAllTypesProto2/Proto3 between binary and text format with
// cpay, for text_interop_test.py:
//   text-tool to-text proto2|proto3    binary on stdin -> text on stdout
//   text-tool from-text proto2|proto3  text on stdin -> binary on stdout
// Exit status 0 on success, 1 when the input is rejected, 2 on usage errors.
#include <stdio.h>
#include <string.h>

#include "cpay/text.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

static bool read_all(cpay_arena *a, cpay_bytes *out) {
  size_t size = 0, cap = 4096;
  uint8_t *buf = cpay_arena_malloc(a, cap);
  while (buf) {
    size_t n = fread(buf + size, 1, cap - size, stdin);
    size += n;
    if (n == 0) break;
    if (size == cap) {
      buf = cpay_arena_realloc(a, buf, cap, cap * 2);
      cap *= 2;
    }
  }
  if (!buf || ferror(stdin)) return false;
  *out = (cpay_bytes){buf, size};
  return true;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "to-text") != 0 && strcmp(argv[1], "from-text") != 0)) {
    fprintf(stderr, "usage: text-tool to-text|from-text proto2|proto3\n");
    return 2;
  }
  const cpay_msg_desc *jt;
  if (strcmp(argv[2], "proto2") == 0) {
    jt = &protobuf_test_messages_proto2_TestAllTypesProto2_desc;
  } else if (strcmp(argv[2], "proto3") == 0) {
    jt = &protobuf_test_messages_proto3_TestAllTypesProto3_desc;
  } else {
    fprintf(stderr, "text-tool: unknown message %s\n", argv[2]);
    return 2;
  }
  int rc = 1;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *a = cpay_arena_new();
  cpay_registry *reg = a ? cpay_registry_new(a) : NULL;
  cpay_extreg *ext = a ? cpay_extreg_new(a) : NULL;
  cpay_bytes in;
  void *msg = a ? cpay_msg_new(jt->table, a) : NULL;
  if (!reg || !ext || !msg || test_messages_proto2_proto_register_types(reg) != CPAY_OK ||
      test_messages_proto3_proto_register_types(reg) != CPAY_OK ||
      test_messages_proto2_proto_register_extensions(ext) != CPAY_OK || !read_all(a, &in)) {
    fprintf(stderr, "text-tool: out of memory or unreadable input\n");
    goto out_free_arena;
  }
  if (strcmp(argv[1], "to-text") == 0) {
    cpay_decode_opts d = {0};
    d.extreg = ext;
    cpay_text_encode_opts o = {0};
    o.registry = reg;
    cpay_str text;
    if (cpay_decode(in.data, in.size, msg, jt->table, a, &d, &st) != CPAY_OK ||
        cpay_text_encode(msg, jt, a, &o, &text, &st) != CPAY_OK) {
      fprintf(stderr, "text-tool: %s\n", cpay_status_msg(&st));
      goto out_free_arena;
    }
    fwrite(text.data, 1, text.size, stdout);
  } else {
    cpay_text_decode_opts o = {0};
    o.registry = reg;
    cpay_bytes bin;
    if (cpay_text_decode((const char *)in.data, in.size, msg, jt, a, &o, &st) != CPAY_OK ||
        cpay_encode(msg, jt->table, a, NULL, &bin, &st) != CPAY_OK) {
      fprintf(stderr, "text-tool: %s\n", cpay_status_msg(&st));
      goto out_free_arena;
    }
    fwrite(bin.data, 1, bin.size, stdout);
  }
  rc = fflush(stdout) == 0 ? 0 : 1;
out_free_arena:
  cpay_arena_free(a);
  return rc;
}
