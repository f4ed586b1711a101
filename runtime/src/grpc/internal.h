// Private helpers shared by libcpay-grpc's files: metadata conversion,
// message <-> byte buffer, deadlines.
#ifndef CPAY_SRC_GRPC_INTERNAL_H_
#define CPAY_SRC_GRPC_INTERNAL_H_

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "cpay/grpc.h"

// Outgoing metadata: copies of keys and values as slices, unreferenced by
// cpay__md_out_free (after the batch that sends them has completed).
typedef struct cpay__md_out {
  grpc_metadata *items;
  size_t count;
  size_t cap;
} cpay__md_out;

// Validates `key` (legal gRPC header, not reserved) and the value (printable
// ASCII unless the key ends in -bin), then appends copies.
cpay_code cpay__md_out_add(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st);
// Appends without validation (for C-core's internal keys).
cpay_code cpay__md_out_push(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st);
void cpay__md_out_free(cpay__md_out *md);

// Copies a received metadata array onto `a` (or returns an empty list when
// `a` is NULL).
cpay_code cpay__md_in_copy(const grpc_metadata_array *in, cpay_arena *a, cpay_md **out,
                           size_t *count);

// Encodes `msg` into a new byte buffer (caller destroys it).
cpay_code cpay__msg_to_bb(const void *msg, const cpay_msg_table *t, cpay_arena *scratch,
                          grpc_byte_buffer **out, cpay_status *st);
// Decodes a received byte buffer into a new message on `a`.
cpay_code cpay__bb_to_msg(grpc_byte_buffer *bb, const cpay_msg_table *t, cpay_arena *a,
                          void **out, cpay_status *st);

// An absolute monotonic deadline `ms` from now; infinite for ms < 0.
gpr_timespec cpay__deadline_in(int64_t ms);

// grpc_init() once per live channel or server; grpc_shutdown() when the
// last one goes away (C-core counts the calls).
void cpay__grpc_ref(void);
void cpay__grpc_unref(void);

// Server side, for health and reflection (server.c).
typedef struct cpay__server_state cpay__server_state;
bool cpay__server_shutting_down(const cpay_server *srv);
// Registered services (for reflection's list and file lookups).
size_t cpay__server_service_count(const cpay_server *srv);
const cpay_service_desc *cpay__server_service(const cpay_server *srv, size_t i);

// health.c: the service description and its state.
typedef struct cpay__health cpay__health;
cpay__health *cpay__health_new(void);
void cpay__health_free(cpay__health *h);
void cpay__health_set(cpay__health *h, const char *service, bool serving);
void cpay__health_shutdown(cpay__health *h);  // everything NOT_SERVING, wakes watchers
// Registers grpc.health.v1.Health on `srv`, serving from `h`.
cpay_code cpay__health_register(cpay_server *srv, cpay__health *h, cpay_status *st);
extern const cpay_service_desc cpay__health_service;
// reflection.c
extern const cpay_service_desc cpay__reflection_v1_service;
extern const cpay_service_desc cpay__reflection_v1alpha_service;

#endif  // CPAY_SRC_GRPC_INTERNAL_H_
