// nanopb backend. Every field is FT_POINTER (bench/nanopb/*.options:
// `* type:FT_POINTER`): the workloads have unbounded strings and repeated
// fields and descriptor.proto is recursive, which static fields with max
// sizes cannot express. Decode is pb_decode() into a zeroed struct (nanopb
// mallocs each string, array and submessage) then pb_release(); encode is
// pb_get_encoded_size() (the size pass) then pb_encode() into a reused
// buffer. Debian's libprotobuf-nanopb is built with PB_ENABLE_MALLOC.
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench.pb.h"
#include "descriptor.pb.h"
#include "payments.pb.h"

typedef union any_msg {
  payments_v1_ChargeRequest small;
  payments_v1_BatchChargeResponse batch;
  bench_v1_TransactionPage txpage;
  google_protobuf_FileDescriptorSet fds;
} any_msg;

typedef struct ctx {
  const uint8_t *data;
  size_t len;
  const pb_msgdesc_t *fields;
  any_msg msg;
  uint8_t *buf;
  size_t cap;
  size_t out_len;
} ctx;

static const pb_msgdesc_t *fields_of(int w) {
  switch (w) {
    case BENCH_SMALL:
      return payments_v1_ChargeRequest_fields;
    case BENCH_BATCH:
      return payments_v1_BatchChargeResponse_fields;
    case BENCH_TXPAGE:
      return bench_v1_TransactionPage_fields;
    default:
      return google_protobuf_FileDescriptorSet_fields;
  }
}

static void teardown(void *p) {
  ctx *c = p;
  if (!c) return;
  pb_release(c->fields, &c->msg);
  free(c->buf);
  free(c);
}

static void *setup(int w, const uint8_t *data, size_t len) {
  ctx *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->data = data;
  c->len = len;
  c->fields = fields_of(w);
  pb_istream_t in = pb_istream_from_buffer(data, len);
  if (!pb_decode(&in, c->fields, &c->msg)) {
    fprintf(stderr, "nanopb: %s\n", PB_GET_ERROR(&in));
    teardown(c);
    return NULL;
  }
  return c;
}

static int decode(void *p) {
  ctx *c = p;
  any_msg m;
  memset(&m, 0, sizeof(m));
  pb_istream_t in = pb_istream_from_buffer(c->data, c->len);
  bool ok = pb_decode(&in, c->fields, &m);
  pb_release(c->fields, &m);
  return !ok;
}

static int encode(void *p) {
  ctx *c = p;
  size_t n = 0;
  if (!pb_get_encoded_size(&n, c->fields, &c->msg)) return 1;
  if (n > c->cap) {
    free(c->buf);
    c->buf = malloc(n);
    if (!c->buf) return 1;
    c->cap = n;
  }
  pb_ostream_t out = pb_ostream_from_buffer(c->buf, n);
  if (!pb_encode(&out, c->fields, &c->msg)) return 1;
  c->out_len = out.bytes_written;
  return 0;
}

static const uint8_t *output(void *p, size_t *len) {
  ctx *c = p;
  *len = c->out_len;
  return c->buf;
}

const bench_backend bench_nanopb = {"nanopb", setup, decode, encode, output, teardown};
