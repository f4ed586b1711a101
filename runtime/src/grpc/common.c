// Helpers shared by the client and the server: metadata, byte buffers,
// deadlines, and the grpc_init reference.
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/slice.h>

#include "grpc/internal.h"
#include "mem/strdup.h"

void cpay__grpc_ref(void) { grpc_init(); }

// Blocking, so that C-core has released everything (its resolver threads
// included) when the last channel or server is freed: leak checkers then
// see a clean exit.
void cpay__grpc_unref(void) { grpc_shutdown_blocking(); }

gpr_timespec cpay__deadline_in(int64_t ms) {
  if (ms < 0) return gpr_inf_future(GPR_CLOCK_MONOTONIC);
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int64_t cpay__ms_from_now(int64_t ms) {
  int64_t now = cpay__now_ms();
  return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

struct timespec cpay__abs_monotonic(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  return ts;
}

void cpay__cond_init_monotonic(pthread_cond_t *cv) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cv, &attr);
  pthread_condattr_destroy(&attr);
}

int64_t cpay__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

bool cpay__valid_compression(const char *name) {
  grpc_compression_algorithm alg;
  return grpc_compression_algorithm_parse(grpc_slice_from_static_string(name), &alg) != 0;
}

static bool ends_with_bin(cpay_str key) {
  return key.size >= 4 && memcmp(key.data + key.size - 4, "-bin", 4) == 0;
}

cpay_code cpay__md_out_add(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st) {
  if (key.size == 0 || !key.data) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "metadata key is empty");
  }
  for (size_t i = 0; i < key.size; i++) {
    char c = key.data[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "metadata key %.*s: byte %zu is not lower-case a-z, 0-9, -, _ or .",
                             (int)key.size, key.data, i);
    }
  }
  if (key.size >= 5 && memcmp(key.data, "grpc-", 5) == 0) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "metadata key %.*s is reserved by gRPC",
                           (int)key.size, key.data);
  }
  if (!ends_with_bin(key)) {
    for (size_t i = 0; i < value.size; i++) {
      unsigned char c = (unsigned char)value.data[i];
      if (c < 0x20 || c > 0x7e) {
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "metadata %.*s: byte %zu of the value is not printable ASCII "
                               "(use a key ending in -bin for binary values)",
                               (int)key.size, key.data, i);
      }
    }
  }
  return cpay__md_out_push(md, key, value, st);
}

cpay_code cpay__md_out_push(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st) {
  if (md->count == md->cap) {
    size_t cap = md->cap ? md->cap * 2 : 8;
    grpc_metadata *items = realloc(md->items, cap * sizeof *items);
    if (!items) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for metadata");
    md->items = items;
    md->cap = cap;
  }
  grpc_metadata *m = &md->items[md->count++];
  memset(m, 0, sizeof *m);
  m->key = grpc_slice_from_copied_buffer(key.data, key.size);
  m->value = grpc_slice_from_copied_buffer(value.data ? value.data : "", value.size);
  return CPAY_OK;
}

void cpay__md_out_free(cpay__md_out *md) {
  for (size_t i = 0; i < md->count; i++) {
    grpc_slice_unref(md->items[i].key);
    grpc_slice_unref(md->items[i].value);
  }
  free(md->items);
  memset(md, 0, sizeof *md);
}

cpay_str cpay__slice_dup(cpay_arena *a, grpc_slice s) {
  size_t n = GRPC_SLICE_LENGTH(s);
  char *p = cpay__strndup(a, (const char *)GRPC_SLICE_START_PTR(s), n);
  return p ? (cpay_str){p, n} : (cpay_str){NULL, 0};
}

cpay_str cpay__vformat(cpay_arena *a, const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  char *buf = n >= 0 ? cpay_arena_malloc(a, (size_t)n + 1) : NULL;
  if (buf) vsnprintf(buf, (size_t)n + 1, fmt, again);
  va_end(again);
  return buf ? (cpay_str){buf, (size_t)n} : (cpay_str){NULL, 0};
}

cpay_code cpay__md_in_copy(const grpc_metadata_array *in, cpay_arena *a, cpay_md **out,
                           size_t *count) {
  *out = NULL;
  *count = 0;
  if (!a || in->count == 0) return CPAY_OK;
  cpay_md *md = cpay_arena_realloc(a, NULL, 0, in->count * sizeof *md);
  if (!md) return CPAY_ERR_NO_MEMORY;
  for (size_t i = 0; i < in->count; i++) {
    md[i].key = cpay__slice_dup(a, in->metadata[i].key);
    md[i].value = cpay__slice_dup(a, in->metadata[i].value);
    if (!md[i].key.data || !md[i].value.data) return CPAY_ERR_NO_MEMORY;
  }
  *out = md;
  *count = in->count;
  return CPAY_OK;
}

static void *block_alloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  (void)ctx;
  (void)old_size;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return malloc(new_size);
}

const cpay_alloc cpay__malloc_blocks = {block_alloc, NULL};

cpay_code cpay__msg_to_bb(const void *msg, const cpay_msg_table *t, grpc_byte_buffer **out,
                          cpay_status *st) {
  // Encoded on the stack when it fits (most messages), then copied into
  // the slice C-core sends, so writes from any thread share nothing.
  _Alignas(16) unsigned char buf[2048];
  cpay_arena_opts ao = {.initial_block = buf, .initial_size = sizeof buf, .alloc = &cpay__malloc_blocks};
  cpay_arena *scratch = cpay_arena_new_opts(&ao);
  if (!scratch) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory to encode a message");
  cpay_bytes bytes;
  cpay_code c = cpay_encode(msg, t, scratch, NULL, &bytes, st);
  if (c == CPAY_OK) {
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)bytes.data, bytes.size);
    *out = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
  }
  cpay_arena_free(scratch);
  return c;
}

cpay_code cpay__bb_to_msg(grpc_byte_buffer *bb, const cpay_msg_table *t, cpay_arena *a,
                          void **out, cpay_status *st) {
  *out = NULL;
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) {
    return cpay_status_set(st, CPAY_ERR_MALFORMED, "message could not be decompressed");
  }
  grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  void *msg = cpay_msg_new(t, a);
  cpay_code c = CPAY_ERR_NO_MEMORY;
  if (!msg) {
    cpay_status_set(st, c, "out of memory for a message");
    goto out_unref;
  }
  c = cpay_decode(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), msg, t, a, NULL, st);
  if (c == CPAY_OK) *out = msg;
out_unref:
  grpc_slice_unref(s);
  return c;
}
