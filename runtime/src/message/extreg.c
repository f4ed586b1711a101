// The extension registry: an open-addressing hash table keyed by
// (extendee table, field number), growing on the arena.
#include <stdint.h>
#include <string.h>

#include "cpay/gencode.h"
#include "cpay/message.h"

struct cpay_extreg {
  cpay_arena *arena;
  const cpay_ext **slots;  // NULL = empty
  size_t mask;             // slot count - 1
  size_t count;
};

static size_t ext_hash(const cpay_msg_table *t, uint32_t number) {
  uint64_t h = (uint64_t)(uintptr_t)t ^ ((uint64_t)number * UINT64_C(0x9e3779b97f4a7c15));
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  return (size_t)h;
}

cpay_extreg *cpay_extreg_new(cpay_arena *a) {
  cpay_extreg *r = cpay_arena_malloc(a, sizeof(*r));
  if (!r) return NULL;
  size_t n = 16;
  r->slots = cpay_arena_malloc(a, n * sizeof(r->slots[0]));
  if (!r->slots) return NULL;
  memset(r->slots, 0, n * sizeof(r->slots[0]));
  r->arena = a;
  r->mask = n - 1;
  r->count = 0;
  return r;
}

static void insert_slot(const cpay_ext **slots, size_t mask, const cpay_ext *ext) {
  size_t i = ext_hash(ext->extendee, ext->field.number) & mask;
  while (slots[i]) i = (i + 1) & mask;
  slots[i] = ext;
}

cpay_code cpay_extreg_add(cpay_extreg *r, const cpay_ext *ext) {
  if (!r || !ext || !ext->extendee) return CPAY_ERR_INVALID_ARGUMENT;
  const cpay_ext *old = cpay_extreg_find(r, ext->extendee, ext->field.number);
  if (old == ext) return CPAY_OK;
  if (old) return CPAY_ERR_INVALID_ARGUMENT;  // two extensions with one number
  if ((r->count + 1) * 4 > (r->mask + 1) * 3) {
    size_t n = (r->mask + 1) * 2;
    const cpay_ext **slots = cpay_arena_malloc(r->arena, n * sizeof(slots[0]));
    if (!slots) return CPAY_ERR_NO_MEMORY;
    memset(slots, 0, n * sizeof(slots[0]));
    for (size_t i = 0; i <= r->mask; i++) {
      if (r->slots[i]) insert_slot(slots, n - 1, r->slots[i]);
    }
    r->slots = slots;
    r->mask = n - 1;
  }
  insert_slot(r->slots, r->mask, ext);
  r->count++;
  return CPAY_OK;
}

const cpay_ext *cpay_extreg_find(const cpay_extreg *r, const cpay_msg_table *extendee,
                                 uint32_t number) {
  if (!r) return NULL;
  size_t i = ext_hash(extendee, number) & r->mask;
  for (const cpay_ext *e; (e = r->slots[i]) != NULL; i = (i + 1) & r->mask) {
    if (e->extendee == extendee && e->field.number == number) return e;
  }
  return NULL;
}

cpay_code cpay__extreg_add_all(cpay_extreg *r, const cpay_ext *const *exts, size_t count) {
  for (size_t i = 0; i < count; i++) {
    cpay_code c = cpay_extreg_add(r, exts[i]);
    if (c != CPAY_OK) return c;
  }
  return CPAY_OK;
}
