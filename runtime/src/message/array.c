// Repeated-field storage: geometric growth on the arena.
#include "message/array.h"

#include <string.h>

bool cpay__array_reserve(cpay_array *arr, size_t elem_size, size_t extra, cpay_arena *a) {
  if (arr->cap - arr->size >= extra) return true;
  if (extra > (SIZE_MAX / elem_size) - arr->size) return false;
  size_t want = arr->size + extra;
  size_t cap = arr->cap ? arr->cap * 2 : 8;
  if (cap < want) cap = want;
  if (cap > SIZE_MAX / elem_size) cap = want;
  void *data = cpay_arena_realloc(a, arr->data, arr->cap * elem_size, cap * elem_size);
  if (!data) return false;
  arr->data = data;
  arr->cap = cap;
  return true;
}

void *cpay__array_grow(cpay_array *arr, size_t elem_size, cpay_arena *a) {
  if (!cpay__array_reserve(arr, elem_size, 1, a)) return NULL;
  void *slot = (char *)arr->data + arr->size * elem_size;
  memset(slot, 0, elem_size);
  arr->size++;
  return slot;
}
