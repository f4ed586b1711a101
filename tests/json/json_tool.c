// A filter for the JSON interop test (json_interop_test.py): converts
// between binary protobuf and proto3 JSON with cpay, for the conformance
// suite's TestAllTypesProto3 and TestAllTypesProto2.
//
//   json-tool to-json CASE [defaults] [proto-names] [indent]   binary stdin -> JSON stdout
//   json-tool from-json CASE [ignore-unknown]                  JSON stdin -> binary stdout
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/wkt.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

static const struct {
  const char *name;
  const cpay_msg_desc *json;
} cases[] = {
    {"proto3_all", &protobuf_test_messages_proto3_TestAllTypesProto3_desc},
    {"proto2_all", &protobuf_test_messages_proto2_TestAllTypesProto2_desc},
};

static int die(const char *what, const cpay_status *st) {
  fprintf(stderr, "json-tool: %s%s%s\n", what, st ? ": " : "", st ? cpay_status_msg(st) : "");
  return 2;
}

static bool read_all(cpay_arena *a, char **out, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = cpay_arena_malloc(a, cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, stdin);
    if (n < cap) break;
    buf = cpay_arena_realloc(a, buf, cap, cap * 2);
    cap *= 2;
  }
  if (!buf || ferror(stdin)) return false;
  *out = buf;
  *len = n;
  return true;
}

static bool has_arg(int argc, char **argv, const char *s) {
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], s) == 0) return true;
  }
  return false;
}

int main(int argc, char **argv) {
  if (argc < 3) return die("usage: json-tool to-json|from-json CASE [OPTIONS]", NULL);
  const cpay_msg_desc *jt = NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (strcmp(cases[i].name, argv[2]) == 0) jt = cases[i].json;
  }
  if (!jt) return die("unknown case", NULL);
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *a = cpay_arena_new();
  cpay_registry *reg = a ? cpay_registry_new(a) : NULL;
  cpay_extreg *ext = a ? cpay_extreg_new(a) : NULL;
  if (!reg || !ext || cpay_wkt_register_types(reg) != CPAY_OK ||
      test_messages_proto3_proto_register_types(reg) != CPAY_OK ||
      test_messages_proto2_proto_register_types(reg) != CPAY_OK ||
      test_messages_proto2_proto_register_extensions(ext) != CPAY_OK) {
    cpay_arena_free(a);
    return die("out of memory", NULL);
  }
  int rc = 2;
  char *in;
  size_t len;
  void *msg = cpay_msg_new(jt->table, a);
  if (!msg || !read_all(a, &in, &len)) {
    rc = die("cannot read stdin", NULL);
  } else if (strcmp(argv[1], "to-json") == 0) {
    cpay_decode_opts dopts = {0};
    dopts.extreg = ext;
    cpay_json_encode_opts eopts = {0};
    eopts.registry = reg;
    if (has_arg(argc, argv, "defaults")) eopts.flags |= CPAY_JSON_EMIT_DEFAULTS;
    if (has_arg(argc, argv, "proto-names")) eopts.flags |= CPAY_JSON_PROTO_NAMES;
    if (has_arg(argc, argv, "indent")) eopts.indent = 2;
    cpay_str text;
    if (cpay_decode((const uint8_t *)in, len, msg, jt->table, a, &dopts, &st) != CPAY_OK) {
      rc = die("parse", &st);
    } else if (cpay_json_encode(msg, jt, a, &eopts, &text, &st) != CPAY_OK) {
      rc = die("to json", &st);
    } else {
      rc = fwrite(text.data, 1, text.size, stdout) == text.size ? 0 : die("write", NULL);
    }
  } else if (strcmp(argv[1], "from-json") == 0) {
    cpay_json_decode_opts jopts = {0};
    jopts.registry = reg;
    if (has_arg(argc, argv, "ignore-unknown")) jopts.flags |= CPAY_JSON_IGNORE_UNKNOWN;
    cpay_bytes out;
    if (cpay_json_decode(in, len, msg, jt, a, &jopts, &st) != CPAY_OK) {
      rc = die("from json", &st);
    } else if (cpay_encode(msg, jt->table, a, NULL, &out, &st) != CPAY_OK) {
      rc = die("encode", &st);
    } else {
      rc = fwrite(out.data, 1, out.size, stdout) == out.size ? 0 : die("write", NULL);
    }
  } else {
    rc = die("unknown mode", NULL);
  }
  cpay_arena_free(a);
  return rc;
}
