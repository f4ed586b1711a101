// A bump allocator over 64 KiB chunks; larger requests get a chunk of their
// own. Each chunk starts with the link to the previous one.
#include "schema/pool.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 * 1024, ALIGN = 16 };

typedef struct chunk {
  struct chunk *prev;
  max_align_t data[];
} chunk;

struct cps_pool {
  chunk *chunks;  // newest first
  char *ptr;      // free space in the newest bump chunk
  char *end;
  void **owned;   // buffers' bytes taken with cps_pool_take
  size_t owned_count, owned_cap;
};

cps_pool *cps_pool_new(void) {
  cps_pool *p = cps_xmalloc(sizeof(*p));
  memset(p, 0, sizeof(*p));
  return p;
}

void cps_pool_free(cps_pool *p) {
  if (p == NULL) return;
  chunk *c = p->chunks;
  while (c != NULL) {
    chunk *prev = c->prev;
    free(c);
    c = prev;
  }
  for (size_t i = 0; i < p->owned_count; i++) free(p->owned[i]);
  free(p->owned);
  free(p);
}

// A chunk with `size` bytes of room, linked behind the newest one so that
// the bump region stays where it is.
static void *new_chunk(cps_pool *p, size_t size) {
  if (size > SIZE_MAX - sizeof(chunk)) {
    fputs("out of memory\n", stderr);
    exit(1);
  }
  chunk *c = cps_xmalloc(sizeof(chunk) + size);
  if (p->chunks == NULL) {
    c->prev = NULL;
    p->chunks = c;
  } else {
    c->prev = p->chunks->prev;
    p->chunks->prev = c;
  }
  return c->data;
}

void *cps_pool_alloc(cps_pool *p, size_t size) {
  size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if (rounded < size) rounded = SIZE_MAX;  // new_chunk reports it
  void *r;
  if (rounded > CHUNK / 4) {
    r = new_chunk(p, rounded);
  } else {
    if ((size_t)(p->end - p->ptr) < rounded || p->ptr == NULL) {
      chunk *c = cps_xmalloc(sizeof(chunk) + CHUNK);
      c->prev = p->chunks;
      p->chunks = c;
      p->ptr = (char *)c->data;
      p->end = p->ptr + CHUNK;
    }
    r = p->ptr;
    p->ptr += rounded;
  }
  memset(r, 0, size);
  return r;
}

char *cps_pool_strndup(cps_pool *p, const char *s, size_t size) {
  char *r = cps_pool_alloc(p, size + 1);
  if (size) memcpy(r, s, size);
  r[size] = '\0';
  return r;
}

char *cps_pool_strdup(cps_pool *p, const char *s) {
  return s == NULL ? NULL : cps_pool_strndup(p, s, strlen(s));
}

char *cps_pool_vprintf(cps_pool *p, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    fputs("bad format\n", stderr);
    exit(1);
  }
  char *r = cps_pool_alloc(p, (size_t)n + 1);
  vsnprintf(r, (size_t)n + 1, fmt, ap);
  return r;
}

char *cps_pool_printf(cps_pool *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *r = cps_pool_vprintf(p, fmt, ap);
  va_end(ap);
  return r;
}

char *cps_pool_take(cps_pool *p, cps_buf *b) {
  if (b->data == NULL) return cps_pool_alloc(p, 1);  // ""
  if (p->owned_count == p->owned_cap) {
    p->owned_cap = p->owned_cap ? p->owned_cap * 2 : 16;
    p->owned = cps_xrealloc(p->owned, p->owned_cap * sizeof(*p->owned));
  }
  char *s = b->data;
  p->owned[p->owned_count++] = s;
  *b = (cps_buf){0};
  return s;
}

void *cps_pool_grow(cps_pool *p, void *array, size_t count, size_t *cap, size_t size) {
  if (count < *cap) return array;
  size_t room = *cap < 4 ? 8 : *cap * 2;
  // A size that does not fit asks for SIZE_MAX bytes, which new_chunk reports.
  bool fits = *cap <= SIZE_MAX / 2 && (size == 0 || room <= SIZE_MAX / size);
  void *r = cps_pool_alloc(p, fits ? room * size : SIZE_MAX);
  if (count) memcpy(r, array, count * size);
  *cap = room;
  return r;
}

const char *cps_pool_read(cps_pool *p, FILE *f, size_t *size) {
  cps_buf b = {0};
  char piece[65536];
  size_t n;
  while ((n = fread(piece, 1, sizeof piece, f)) > 0) cps_buf_append(&b, piece, n);
  *size = b.size;
  const char *data = cps_pool_take(p, &b);
  return ferror(f) ? NULL : data;
}
