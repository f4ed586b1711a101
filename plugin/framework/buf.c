// Growable buffers and allocation helpers for the plugin.
#include "framework/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
  fputs("protoc-gen-cpay: out of memory\n", stderr);
  exit(1);
}

void *cpf_xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p == NULL) oom();
  return p;
}

void *cpf_xrealloc(void *p, size_t size) {
  void *q = realloc(p, size ? size : 1);
  if (q == NULL) oom();
  return q;
}

char *cpf_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = cpf_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

char *cpf_xasprintf(const char *fmt, ...) {
  cpf_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  cpf_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  return cpf_buf_take(&b);
}

static void reserve(cpf_buf *b, size_t extra) {
  if (b->size + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->size + extra + 1) cap *= 2;
  b->data = cpf_xrealloc(b->data, cap);
  b->cap = cap;
}

void cpf_buf_append(cpf_buf *b, const char *data, size_t size) {
  reserve(b, size);
  if (size) memcpy(b->data + b->size, data, size);
  b->size += size;
  b->data[b->size] = '\0';
}

void cpf_buf_puts(cpf_buf *b, const char *s) { cpf_buf_append(b, s, strlen(s)); }

void cpf_buf_vprintf(cpf_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  reserve(b, (size_t)n);
  vsnprintf(b->data + b->size, (size_t)n + 1, fmt, ap);
  b->size += (size_t)n;
}

bool cpf_error_at(char **err, const char *path, int line, const char *fmt, va_list ap) {
  if (*err) return false;
  cpf_buf b = {0};
  cpf_buf_printf(&b, "%s:%d: ", path, line);
  cpf_buf_vprintf(&b, fmt, ap);
  *err = cpf_buf_take(&b);
  return false;
}

void cpf_buf_printf(cpf_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cpf_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

const char *cpf_buf_str(const cpf_buf *b) { return b->data ? b->data : ""; }

char *cpf_buf_take(cpf_buf *b) {
  char *p = b->data ? b->data : cpf_xstrdup("");
  b->data = NULL;
  b->size = b->cap = 0;
  return p;
}

void cpf_buf_free(cpf_buf *b) {
  free(b->data);
  b->data = NULL;
  b->size = b->cap = 0;
}
