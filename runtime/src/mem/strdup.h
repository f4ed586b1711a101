// The one way the runtime copies a string (message strings, gRPC metadata,
// a channel's settings). Private to the runtime.
#ifndef CPAY_RUNTIME_SRC_MEM_STRDUP_H_
#define CPAY_RUNTIME_SRC_MEM_STRDUP_H_

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/arena.h"

// A copy of the `n` bytes at `s` followed by a NUL (`s` may be NULL when
// `n` is 0): on `a`, or from malloc() when `a` is NULL, for the caller to
// free(). Always a new allocation of n + 1 bytes, also when `n` is 0. NULL
// only when out of memory.
static inline char *cpay__strndup(cpay_arena *a, const char *s, size_t n) {
  if (n == SIZE_MAX) return NULL;
  char *p = a ? (char *)cpay_arena_malloc(a, n + 1) : (char *)malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

#endif  // CPAY_RUNTIME_SRC_MEM_STRDUP_H_
