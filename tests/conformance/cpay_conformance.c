// The conformance testee: answers the official protobuf conformance runner
// over stdin/stdout. Each request and response is a 4-byte little-endian
// length followed by a serialized ConformanceRequest/ConformanceResponse
// (../shared/conformance/README.md; v36/README.md for what v36.0 changed).
// Binary, JSON and text format input and output are all answered; a message
// type the build does not know (testee.h) is `skipped`, never an error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.cpay.h"
#include "cpay/json.h"
#include "cpay/text.h"
#include "testee.h"

typedef conformance_ConformanceRequest request;
typedef conformance_ConformanceResponse response;

static const cpay_msg_desc *find_type(cpay_str name) {
  for (const testee_type *t = testee_types; t->name; t++) {
    if (cpay_str_eq(name, cpay_str_from_c(t->name))) return t->desc;
  }
  return NULL;
}

// What the testee keeps between requests.
typedef struct registries {
  const cpay_extreg *ext;
  const cpay_registry *json;
} registries;

// Copies `msg` onto the arena as a cpay_str ({NULL, 0} on failure).
static cpay_str arena_text(cpay_arena *a, const char *msg) {
  return cpay_str_dup(a, cpay_str_from_c(msg));
}

// Fills `resp` for `req`. Failures to answer are themselves answers
// (parse_error, serialize_error, runtime_error), so this cannot fail.
static void answer(const request *req, response *resp, const registries *reg, cpay_arena *a) {
  const cpay_msg_desc *jt = find_type(req->message_type);
  if (!jt) {
    conformance_ConformanceResponse_set_skipped(resp, arena_text(a, "unknown message type"));
    return;
  }
  const cpay_msg_table *t = jt->table;
  conformance_ConformanceRequest_payload_case in = conformance_ConformanceRequest_which_payload(req);
  if (in != conformance_ConformanceRequest_payload_protobuf_payload &&
      in != conformance_ConformanceRequest_payload_json_payload &&
      in != conformance_ConformanceRequest_payload_text_payload) {
    conformance_ConformanceResponse_set_skipped(resp, CPAY_STR("unsupported input format"));
    return;
  }
  if (req->requested_output_format != conformance_PROTOBUF &&
      req->requested_output_format != conformance_JSON &&
      req->requested_output_format != conformance_TEXT_FORMAT) {
    conformance_ConformanceResponse_set_skipped(resp, CPAY_STR("unsupported output format"));
    return;
  }

  cpay_status st;
  cpay_status_clear(&st);
  void *msg = cpay_msg_new(t, a);
  if (!msg) {
    conformance_ConformanceResponse_set_runtime_error(resp, CPAY_STR("out of memory"));
    return;
  }
  cpay_code code;
  if (in == conformance_ConformanceRequest_payload_json_payload) {
    cpay_json_decode_opts jopts = {0};
    jopts.registry = reg->json;
    if (req->test_category == conformance_JSON_IGNORE_UNKNOWN_PARSING_TEST) {
      jopts.flags |= CPAY_JSON_IGNORE_UNKNOWN;
    }
    code = cpay_json_decode(req->json_payload.data, req->json_payload.size, msg, jt, a, &jopts,
                            &st);
  } else if (in == conformance_ConformanceRequest_payload_text_payload) {
    cpay_text_decode_opts topts = {0};
    topts.registry = reg->json;
    code = cpay_text_decode(req->text_payload.data, req->text_payload.size, msg, jt, a, &topts,
                            &st);
  } else {
    cpay_decode_opts dopts = {0};
    dopts.extreg = reg->ext;
    code = cpay_decode(req->protobuf_payload.data, req->protobuf_payload.size, msg, t, a,
                       &dopts, &st);
  }
  if (code != CPAY_OK) {
    conformance_ConformanceResponse_set_parse_error(resp, arena_text(a, cpay_status_msg(&st)));
    return;
  }
  if (req->requested_output_format == conformance_JSON) {
    cpay_json_encode_opts jopts = {0};
    jopts.registry = reg->json;
    cpay_str text;
    if (cpay_json_encode(msg, jt, a, &jopts, &text, &st) != CPAY_OK) {
      conformance_ConformanceResponse_set_serialize_error(resp,
                                                          arena_text(a, cpay_status_msg(&st)));
      return;
    }
    conformance_ConformanceResponse_set_json_payload(resp, text);
    return;
  }
  if (req->requested_output_format == conformance_TEXT_FORMAT) {
    cpay_text_encode_opts topts = {0};
    topts.registry = reg->json;
    if (req->print_unknown_fields) topts.flags |= CPAY_TEXT_PRINT_UNKNOWN;
    cpay_str text;
    if (cpay_text_encode(msg, jt, a, &topts, &text, &st) != CPAY_OK) {
      conformance_ConformanceResponse_set_serialize_error(resp,
                                                          arena_text(a, cpay_status_msg(&st)));
      return;
    }
    conformance_ConformanceResponse_set_text_payload(resp, text);
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
static int serve_one(cpay_arena *a, const registries *reg) {
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
  cpay_extreg *ext = reg_arena ? cpay_extreg_new(reg_arena) : NULL;
  cpay_registry *json = reg_arena ? cpay_registry_new(reg_arena) : NULL;
  if (!a || !ext || !json || testee_register(ext, json) != CPAY_OK) {
    fprintf(stderr, "cpay-conformance: out of memory\n");
    return EXIT_FAILURE;
  }
  registries reg = {ext, json};
  int r;
  while ((r = serve_one(a, &reg)) == 1) cpay_arena_reset(a);
  cpay_arena_free(a);
  cpay_arena_free(reg_arena);
  return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
