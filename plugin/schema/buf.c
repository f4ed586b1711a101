// Growable buffers, and the allocation under them and the pools.
#include "schema/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
  fputs("protoc-gen-cpay: out of memory\n", stderr);
  exit(1);
}

void *cps_xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p == NULL) oom();
  return p;
}

void *cps_xrealloc(void *p, size_t size) {
  void *q = realloc(p, size ? size : 1);
  if (q == NULL) oom();
  return q;
}

static void reserve(cps_buf *b, size_t extra) {
  if (b->size + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->size + extra + 1) cap *= 2;
  b->data = cps_xrealloc(b->data, cap);
  b->cap = cap;
}

void cps_buf_append(cps_buf *b, const char *data, size_t size) {
  reserve(b, size);
  if (size) memcpy(b->data + b->size, data, size);
  b->size += size;
  b->data[b->size] = '\0';
}

void cps_buf_puts(cps_buf *b, const char *s) { cps_buf_append(b, s, strlen(s)); }

void cps_buf_vprintf(cps_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  reserve(b, (size_t)n);
  vsnprintf(b->data + b->size, (size_t)n + 1, fmt, ap);
  b->size += (size_t)n;
}

void cps_buf_printf(cps_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cps_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

const char *cps_buf_str(const cps_buf *b) { return b->data ? b->data : ""; }

void cps_buf_free(cps_buf *b) {
  free(b->data);
  b->data = NULL;
  b->size = b->cap = 0;
}
