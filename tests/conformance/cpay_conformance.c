// The conformance testee: answers the official protobuf conformance runner
// over stdin/stdout. Each request and response is a 4-byte little-endian
// length followed by a serialized ConformanceRequest/ConformanceResponse
// (../shared/conformance/README.md). Binary input and output are answered;
// other formats are answered `skipped` until cpay supports them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.cpay.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

typedef conformance_ConformanceRequest request;
typedef conformance_ConformanceResponse response;

static const struct {
  const char *name;
  const cpay_msg_table *table;
} known_types[] = {
    {"protobuf_test_messages.proto3.TestAllTypesProto3",
     &protobuf_test_messages_proto3_TestAllTypesProto3_table},
    {"protobuf_test_messages.proto2.TestAllTypesProto2",
     &protobuf_test_messages_proto2_TestAllTypesProto2_table},
    {"conformance.FailureSet", &conformance_FailureSet_table},
};

static const cpay_msg_table *find_type(cpay_str name) {
  for (size_t i = 0; i < sizeof known_types / sizeof known_types[0]; i++) {
    if (cpay_str_eq(name, cpay_str_from_c(known_types[i].name))) return known_types[i].table;
  }
  return NULL;
}

// Copies `msg` onto the arena as a cpay_str ({NULL, 0} on failure).
static cpay_str arena_text(cpay_arena *a, const char *msg) {
  return cpay_str_dup(a, cpay_str_from_c(msg));
}

// Fills `resp` for `req`. Failures to answer are themselves answers
// (parse_error, serialize_error, runtime_error), so this cannot fail.
static void answer(const request *req, response *resp, const cpay_extreg *reg,
                   cpay_arena *a) {
  const cpay_msg_table *t = find_type(req->message_type);
  if (!t) {
    conformance_ConformanceResponse_set_runtime_error(resp,
                                                      arena_text(a, "unknown message type"));
    return;
  }
  if (conformance_ConformanceRequest_which_payload(req) !=
      conformance_ConformanceRequest_payload_protobuf_payload) {
    conformance_ConformanceResponse_set_skipped(resp, CPAY_STR("only binary input so far"));
    return;
  }
  if (req->requested_output_format != conformance_PROTOBUF) {
    conformance_ConformanceResponse_set_skipped(resp, CPAY_STR("only binary output so far"));
    return;
  }

  cpay_status st;
  cpay_status_clear(&st);
  void *msg = cpay_msg_new(t, a);
  if (!msg) {
    conformance_ConformanceResponse_set_runtime_error(resp, CPAY_STR("out of memory"));
    return;
  }
  cpay_decode_opts dopts = {0};
  dopts.extreg = reg;
  if (cpay_decode(req->protobuf_payload.data, req->protobuf_payload.size, msg, t, a, &dopts,
                  &st) != CPAY_OK) {
    conformance_ConformanceResponse_set_parse_error(resp, arena_text(a, cpay_status_msg(&st)));
    return;
  }
  cpay_bytes out;
  if (cpay_encode(msg, t, a, NULL, &out, &st) != CPAY_OK) {
    conformance_ConformanceResponse_set_serialize_error(resp,
                                                        arena_text(a, cpay_status_msg(&st)));
    return;
  }
  conformance_ConformanceResponse_set_protobuf_payload(resp, out);
}

static bool read_exact(void *buf, size_t n) { return fread(buf, 1, n, stdin) == n; }

static bool write_exact(const void *buf, size_t n) { return fwrite(buf, 1, n, stdout) == n; }

// Serves one request. Returns 1 when served, 0 at a clean EOF, -1 on error.
static int serve_one(cpay_arena *a, const cpay_extreg *reg) {
  uint8_t len_le[4];
  size_t got = fread(len_le, 1, 4, stdin);
  if (got == 0 && feof(stdin)) return 0;
  if (got != 4) {
    fprintf(stderr, "cpay-conformance: truncated request length\n");
    return -1;
  }
  uint32_t len = (uint32_t)len_le[0] | (uint32_t)len_le[1] << 8 | (uint32_t)len_le[2] << 16 |
                 (uint32_t)len_le[3] << 24;
  uint8_t *buf = cpay_arena_malloc(a, len ? len : 1);
  if (!buf || !read_exact(buf, len)) {
    fprintf(stderr, "cpay-conformance: cannot read a request of %u bytes\n", (unsigned)len);
    return -1;
  }

  cpay_status st;
  cpay_status_clear(&st);
  request *req = NULL;
  response *resp = conformance_ConformanceResponse_new(a);
  if (!resp || conformance_ConformanceRequest_parse(buf, len, a, &req, &st) != CPAY_OK) {
    fprintf(stderr, "cpay-conformance: bad request: %s\n", cpay_status_msg(&st));
    return -1;
  }
  answer(req, resp, reg, a);

  cpay_bytes out;
  if (conformance_ConformanceResponse_serialize(resp, a, &out, &st) != CPAY_OK) {
    fprintf(stderr, "cpay-conformance: cannot write a response: %s\n", cpay_status_msg(&st));
    return -1;
  }
  uint8_t out_le[4] = {(uint8_t)out.size, (uint8_t)(out.size >> 8), (uint8_t)(out.size >> 16),
                       (uint8_t)(out.size >> 24)};
  if (!write_exact(out_le, 4) || !write_exact(out.data, out.size) || fflush(stdout) != 0) {
    fprintf(stderr, "cpay-conformance: cannot write to stdout\n");
    return -1;
  }
  return 1;
}

int main(void) {
  // The registry outlives every request; requests use an arena each, reset
  // between them so memory stays flat over the run.
  cpay_arena *reg_arena = cpay_arena_new();
  cpay_arena *a = cpay_arena_new();
  cpay_extreg *reg = reg_arena ? cpay_extreg_new(reg_arena) : NULL;
  if (!a || !reg || test_messages_proto2_proto_register_extensions(reg) != CPAY_OK) {
    fprintf(stderr, "cpay-conformance: out of memory\n");
    return EXIT_FAILURE;
  }
  int r;
  while ((r = serve_one(a, reg)) == 1) cpay_arena_reset(a);
  cpay_arena_free(a);
  cpay_arena_free(reg_arena);
  return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
