// An output buffer that grows on an arena: what the JSON and text printers
// write into. Private to the runtime.
#ifndef CPAY_RUNTIME_SRC_MEM_OUTBUF_H_
#define CPAY_RUNTIME_SRC_MEM_OUTBUF_H_

#include <stdint.h>
#include <string.h>

#include "cpay/arena.h"
#include "cpay/status.h"

typedef struct cpay__outbuf {
  char *buf;
  size_t len;
  size_t cap;
  cpay_arena *a;
  cpay_status *st;  // receives the arena's failure; may be NULL
} cpay__outbuf;

// Makes room for `n` more bytes (doubling, 256 at first).
static inline cpay_code cpay__outbuf_reserve(cpay__outbuf *o, size_t n) {
  if (o->cap - o->len >= n) return CPAY_OK;
  if (n > SIZE_MAX / 4 - o->len) {  // doubling would wrap
    return cpay_status_set(o->st, CPAY_ERR_NO_MEMORY, "%s", "out of memory: output too large");
  }
  size_t ncap = o->cap ? o->cap * 2 : 256;
  while (ncap - o->len < n) ncap *= 2;
  char *p = cpay_arena_realloc(o->a, o->buf, o->cap, ncap);
  if (!p) return cpay_status_set(o->st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(o->a));
  o->buf = p;
  o->cap = ncap;
  return CPAY_OK;
}

static inline cpay_code cpay__outbuf_put(cpay__outbuf *o, const char *s, size_t n) {
  if (n == 0) return CPAY_OK;  // o->buf may still be NULL: no memcpy from or to it
  cpay_code c = cpay__outbuf_reserve(o, n);
  if (c) return c;
  memcpy(o->buf + o->len, s, n);
  o->len += n;
  return CPAY_OK;
}

#endif  // CPAY_RUNTIME_SRC_MEM_OUTBUF_H_
