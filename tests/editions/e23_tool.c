// cpay's side of the protobuf-es interop test (interop.mjs): converts
// messages of interop_e23.proto, its edition 2024 copy interop_e24.proto
// (written by editions_test.py) and the conformance suite's
// test_messages_edition2023.proto between binary and JSON with the code
// protoc-gen-cpay generated from them.
//
//   e23-tool TYPE MODE     TYPE: a message's full name, e.g. interop.e23.Everything
//                          MODE: bin2bin | bin2json | json2bin | json2json
//
// Input on stdin, output on stdout. Binary input is decoded strictly
// (missing required fields fail) and output encoded strictly; JSON is
// proto3 JSON with the default options. Exit status 0 on success, 1 when
// the input is rejected (the reason on stderr), 2 on usage errors.
#include <stdio.h>
#include <string.h>

#include "conformance/test_protos/test_messages_edition2023.cpay.h"
#include "interop_e23.cpay.h"
#include "interop_e24.cpay.h"

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
  cpay_arena *a = cpay_arena_new();
  cpay_registry *reg = a ? cpay_registry_new(a) : NULL;
  if (!reg || interop_e23_proto_register_types(reg) != CPAY_OK ||
      interop_e24_proto_register_types(reg) != CPAY_OK ||
      conformance_test_protos_test_messages_edition2023_proto_register_types(reg) != CPAY_OK) {
    fprintf(stderr, "e23-tool: out of memory\n");
    cpay_arena_free(a);
    return 2;
  }
  const cpay_msg_desc *d = argc == 3 ? cpay_registry_find(reg, argv[1], strlen(argv[1])) : NULL;
  const char *mode = argc == 3 ? argv[2] : "";
  bool from_bin = strncmp(mode, "bin2", 4) == 0, from_json = strncmp(mode, "json2", 5) == 0;
  const char *to = from_bin ? mode + 4 : from_json ? mode + 5 : "";
  if (!d || (!from_bin && !from_json) || (strcmp(to, "bin") != 0 && strcmp(to, "json") != 0)) {
    fprintf(stderr, "usage: e23-tool MESSAGE-FULL-NAME bin2bin|bin2json|json2bin|json2json\n");
    cpay_arena_free(a);
    return 2;
  }
  int rc = 1;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_bytes in;
  void *msg = cpay_msg_new(d->table, a);
  if (!msg || !read_all(a, &in)) {
    fprintf(stderr, "e23-tool: out of memory or unreadable input\n");
    goto out_free_arena;
  }
  cpay_code c = from_bin ? cpay_decode(in.data, in.size, msg, d->table, a, NULL, &st)
                         : cpay_json_decode((const char *)in.data, in.size, msg, d, a, NULL, &st);
  if (c != CPAY_OK) {
    fprintf(stderr, "e23-tool: parse: %s\n", cpay_status_msg(&st));
    goto out_free_arena;
  }
  if (strcmp(to, "bin") == 0) {
    cpay_bytes out;
    c = cpay_encode(msg, d->table, a, NULL, &out, &st);
    if (c == CPAY_OK) fwrite(out.data, 1, out.size, stdout);
  } else {
    cpay_str out;
    c = cpay_json_encode(msg, d, a, NULL, &out, &st);
    if (c == CPAY_OK) fwrite(out.data, 1, out.size, stdout);
  }
  if (c != CPAY_OK) {
    fprintf(stderr, "e23-tool: write: %s\n", cpay_status_msg(&st));
    goto out_free_arena;
  }
  rc = fflush(stdout) == 0 ? 0 : 1;
out_free_arena:
  cpay_arena_free(a);
  return rc;
}
