// protobuf-c backend: protobuf_c_message_unpack() (malloc per message,
// string and array) then protobuf_c_message_free_unpacked(); encode is
// get_packed_size() (the size pass) then pack() into a reused buffer.
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "bench.pb-c.h"
#include "descriptor.pb-c.h"
#include "payments.pb-c.h"

typedef struct ctx {
  const uint8_t *data;
  size_t len;
  const ProtobufCMessageDescriptor *desc;
  ProtobufCMessage *msg;
  uint8_t *buf;
  size_t cap;
  size_t out_len;
} ctx;

static const ProtobufCMessageDescriptor *desc_of(int w) {
  switch (w) {
    case BENCH_SMALL:
      return &payments__v1__charge_request__descriptor;
    case BENCH_BATCH:
      return &payments__v1__batch_charge_response__descriptor;
    case BENCH_TXPAGE:
      return &bench__v1__transaction_page__descriptor;
    default:
      return &google__protobuf__file_descriptor_set__descriptor;
  }
}

static void teardown(void *p) {
  ctx *c = p;
  if (!c) return;
  if (c->msg) protobuf_c_message_free_unpacked(c->msg, NULL);
  free(c->buf);
  free(c);
}

static void *setup(int w, const uint8_t *data, size_t len) {
  ctx *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->data = data;
  c->len = len;
  c->desc = desc_of(w);
  c->msg = protobuf_c_message_unpack(c->desc, NULL, len, data);
  if (!c->msg) {
    fprintf(stderr, "protobuf-c: unpack failed\n");
    teardown(c);
    return NULL;
  }
  return c;
}

static int decode(void *p) {
  ctx *c = p;
  ProtobufCMessage *m = protobuf_c_message_unpack(c->desc, NULL, c->len, c->data);
  if (!m) return 1;
  protobuf_c_message_free_unpacked(m, NULL);
  return 0;
}

static int encode(void *p) {
  ctx *c = p;
  size_t n = protobuf_c_message_get_packed_size(c->msg);
  if (n > c->cap) {
    free(c->buf);
    c->buf = malloc(n);
    if (!c->buf) return 1;
    c->cap = n;
  }
  c->out_len = protobuf_c_message_pack(c->msg, c->buf);
  return c->out_len != n;
}

static const uint8_t *output(void *p, size_t *len) {
  ctx *c = p;
  *len = c->out_len;
  return c->buf;
}

const bench_backend bench_protobuf_c = {"protobuf-c", setup, decode, encode, output, teardown};
