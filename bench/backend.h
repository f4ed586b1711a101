// The interface between the benchmark driver and one library's backend.
//
// A backend knows how to decode and encode the four workloads of
// ../shared/bench with its library. The driver owns timing and counting; a
// backend owns its messages, arenas and output buffers.
#ifndef CPAY_BENCH_BACKEND_H_
#define CPAY_BENCH_BACKEND_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The workloads, in the README's order.
enum {
  BENCH_SMALL = 0,  // payments.v1.ChargeRequest
  BENCH_BATCH = 1,  // payments.v1.BatchChargeResponse
  BENCH_TXPAGE = 2, // bench.v1.TransactionPage
  BENCH_FDS = 3,    // google.protobuf.FileDescriptorSet
  BENCH_WORKLOADS = 4,
};

typedef struct bench_backend {
  const char *name;
  // Prepares workload `w` whose input is [data, data + len) (the buffer
  // outlives the context): parses it once into the message that encode()
  // serializes. NULL on failure (printed to stderr).
  void *(*setup)(int w, const uint8_t *data, size_t len);
  // Decode: parses the input into a new message and releases it as a real
  // user would (free, delete, arena reset). Non-zero on failure.
  int (*decode)(void *ctx);
  // Encode: serializes the message parsed by setup(), including any size
  // pass; the bytes stay available through output() until the next call.
  int (*encode)(void *ctx);
  const uint8_t *(*output)(void *ctx, size_t *len);
  void (*teardown)(void *ctx);
} bench_backend;

extern const bench_backend bench_cpay;
extern const bench_backend bench_cpay_alias;
extern const bench_backend bench_protobuf_c;
extern const bench_backend bench_nanopb;
extern const bench_backend bench_cpp_heap;
extern const bench_backend bench_cpp_arena;

#ifdef __cplusplus
}
#endif

#endif  // CPAY_BENCH_BACKEND_H_
