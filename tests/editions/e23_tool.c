// cpay's side of the protobuf-es interop test (interop.mjs): converts
// messages of interop_e23.proto (edition 2023) between binary and JSON with
// the code protoc-gen-cpay generated from it.
//
//   e23-tool TYPE MODE     TYPE: Everything | Needs | Tagged | Point
//                          MODE: bin2bin | bin2json | json2bin | json2json
//
// Input on stdin, output on stdout. Binary input is decoded strictly
// (missing required fields fail) and output encoded strictly; JSON is
// proto3 JSON with the default options. Exit status 0 on success, 1 when
// the input is rejected (the reason on stderr), 2 on usage errors.
#include <stdio.h>
#include <string.h>

#include "interop_e23.cpay.h"

static const struct {
  const char *name;
  const cpay_msg_desc *desc;
} types[] = {
    {"Everything", &interop_e23_Everything_desc},
    {"Needs", &interop_e23_Needs_desc},
    {"Tagged", &interop_e23_Tagged_desc},
    {"Point", &interop_e23_Point_desc},
};

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
  const cpay_msg_desc *d = NULL;
  for (size_t i = 0; argc == 3 && i < sizeof types / sizeof types[0]; i++) {
    if (strcmp(argv[1], types[i].name) == 0) d = types[i].desc;
  }
  const char *mode = argc == 3 ? argv[2] : "";
  bool from_bin = strncmp(mode, "bin2", 4) == 0, from_json = strncmp(mode, "json2", 5) == 0;
  const char *to = from_bin ? mode + 4 : from_json ? mode + 5 : "";
  if (!d || (!from_bin && !from_json) || (strcmp(to, "bin") != 0 && strcmp(to, "json") != 0)) {
    fprintf(stderr, "usage: e23-tool Everything|Needs|Tagged|Point "
                    "bin2bin|bin2json|json2bin|json2json\n");
    return 2;
  }
  int rc = 1;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *a = cpay_arena_new();
  cpay_bytes in;
  void *msg = a ? cpay_msg_new(d->table, a) : NULL;
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
