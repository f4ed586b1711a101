// cpay backend: cpay_decode into a message on an arena that is reset after
// each parse (the release), cpay_encode into a second arena reset before
// each serialization. Two variants: strings copied (the default) and
// strings aliased into the input (CPAY_DECODE_ALIAS).
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "bench.cpay.h"
#include "google/protobuf/descriptor.cpay.h"
#include "payments.cpay.h"

typedef struct ctx {
  const uint8_t *data;
  size_t len;
  const cpay_msg_table *table;
  cpay_decode_opts opts;
  cpay_arena *dec_arena;  // decode(): reset after every parse
  cpay_arena *msg_arena;  // the message encode() serializes
  cpay_arena *enc_arena;  // encode(): reset before every serialization
  void *msg;
  cpay_bytes out;
} ctx;

static const cpay_msg_table *table_of(int w) {
  switch (w) {
    case BENCH_SMALL:
      return &payments_v1_ChargeRequest_table;
    case BENCH_BATCH:
      return &payments_v1_BatchChargeResponse_table;
    case BENCH_TXPAGE:
      return &bench_v1_TransactionPage_table;
    default:
      return &google_protobuf_FileDescriptorSet_table;
  }
}

static void teardown(void *p) {
  ctx *c = p;
  if (!c) return;
  cpay_arena_free(c->dec_arena);
  cpay_arena_free(c->msg_arena);
  cpay_arena_free(c->enc_arena);
  free(c);
}

static void *setup_common(int w, const uint8_t *data, size_t len, uint32_t flags) {
  ctx *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->data = data;
  c->len = len;
  c->table = table_of(w);
  c->opts.flags = flags;
  // The parsed message lives on a default arena (4 KiB first block, then
  // growing), so that `bench-driver peak` reports what one decode holds.
  c->msg_arena = cpay_arena_new();
  if (!c->msg_arena) goto out_free;
  c->msg = cpay_msg_new(c->table, c->msg_arena);
  if (!c->msg) goto out_free;
  cpay_status st = {0};
  if (cpay_decode(data, len, c->msg, c->table, c->msg_arena, &c->opts, &st) != CPAY_OK) {
    fprintf(stderr, "cpay: %s\n", st.msg);
    goto out_free;
  }
  return c;
out_free:
  teardown(c);
  return NULL;
}

static void *setup_copy(int w, const uint8_t *data, size_t len) {
  return setup_common(w, data, len, 0);
}

static void *setup_alias(int w, const uint8_t *data, size_t len) {
  return setup_common(w, data, len, CPAY_DECODE_ALIAS);
}

// The arenas of the timed loops, created on first use. A user parsing many
// messages sizes the arena's first block for them (as with C++'s
// ArenaOptions::start_block_size); it is kept across resets.
static cpay_arena *loop_arena(cpay_arena **slot) {
  if (!*slot) {
    cpay_arena_opts ao = {.block_size = 64 * 1024};
    *slot = cpay_arena_new_opts(&ao);
  }
  return *slot;
}

static int decode(void *p) {
  ctx *c = p;
  if (!loop_arena(&c->dec_arena)) return 1;
  void *msg = cpay_msg_new(c->table, c->dec_arena);
  cpay_code code = msg ? cpay_decode(c->data, c->len, msg, c->table, c->dec_arena, &c->opts, NULL)
                       : CPAY_ERR_NO_MEMORY;
  cpay_arena_reset(c->dec_arena);
  return code != CPAY_OK;
}

static int encode(void *p) {
  ctx *c = p;
  if (!loop_arena(&c->enc_arena)) return 1;
  cpay_arena_reset(c->enc_arena);
  return cpay_encode(c->msg, c->table, c->enc_arena, NULL, &c->out, NULL) != CPAY_OK;
}

static const uint8_t *output(void *p, size_t *len) {
  ctx *c = p;
  *len = c->out.size;
  return c->out.data;
}

const bench_backend bench_cpay = {"cpay", setup_copy, decode, encode, output, teardown};
const bench_backend bench_cpay_alias = {"cpay-alias", setup_alias, decode, encode, output,
                                        teardown};
