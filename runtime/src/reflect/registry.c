// The registry of message descriptions (found by full name, for
// google.protobuf.Any) and of extension descriptions, shared by the JSON and
// text formats.
#include <string.h>

#include "cpay/gencode.h"
#include "cpay/reflect.h"
#include "reflect/reflect.h"

struct cpay_registry {
  cpay_arena *a;
  const cpay_msg_desc **slots;  // open addressing by name hash
  size_t cap;                   // a power of two, or 0
  size_t count;
  const cpay_ext_desc **exts;   // in registration order
  size_t ext_count;
  size_t ext_cap;
};

static uint64_t hash_name(const char *s, size_t n) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * UINT64_C(1099511628211);
  return h;
}

static bool name_eq(const cpay_msg_desc *m, const char *s, size_t n) {
  return strlen(m->table->full_name) == n && memcmp(m->table->full_name, s, n) == 0;
}

cpay_registry *cpay_registry_new(cpay_arena *a) {
  cpay_registry *r = cpay_arena_malloc(a, sizeof(*r));
  if (!r) return NULL;
  memset(r, 0, sizeof(*r));
  r->a = a;
  return r;
}

static void insert(const cpay_msg_desc **slots, size_t cap, const cpay_msg_desc *m) {
  const char *name = m->table->full_name;
  size_t i = (size_t)hash_name(name, strlen(name)) & (cap - 1);
  while (slots[i]) i = (i + 1) & (cap - 1);
  slots[i] = m;
}

cpay_code cpay_registry_add(cpay_registry *r, const cpay_msg_desc *m) {
  if (!r || !m) return CPAY_ERR_INVALID_ARGUMENT;
  const char *name = m->table->full_name;
  if (cpay_registry_find(r, name, strlen(name))) return CPAY_OK;
  if ((r->count + 1) * 4 > r->cap * 3) {
    size_t ncap = r->cap ? r->cap * 2 : 64;
    const cpay_msg_desc **ns = cpay_arena_malloc(r->a, ncap * sizeof(*ns));
    if (!ns) return CPAY_ERR_NO_MEMORY;
    memset(ns, 0, ncap * sizeof(*ns));
    for (size_t i = 0; i < r->cap; i++) {
      if (r->slots[i]) insert(ns, ncap, r->slots[i]);
    }
    r->slots = ns;
    r->cap = ncap;
  }
  insert(r->slots, r->cap, m);
  r->count++;
  return CPAY_OK;
}

cpay_code cpay_registry_add_all(cpay_registry *r, const cpay_msg_desc *const *ms,
                                size_t count) {
  for (size_t i = 0; i < count; i++) {
    cpay_code c = cpay_registry_add(r, ms[i]);
    if (c) return c;
  }
  return CPAY_OK;
}

const cpay_msg_desc *cpay_registry_find(const cpay_registry *r, const char *full_name,
                                        size_t len) {
  if (!r || r->cap == 0) return NULL;
  size_t i = (size_t)hash_name(full_name, len) & (r->cap - 1);
  while (r->slots[i]) {
    if (name_eq(r->slots[i], full_name, len)) return r->slots[i];
    i = (i + 1) & (r->cap - 1);
  }
  return NULL;
}

cpay_code cpay_registry_add_exts(cpay_registry *r, const cpay_ext_desc *const *xs,
                                 size_t count) {
  if (!r) return CPAY_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < count; i++) {
    bool dup = false;
    for (size_t k = 0; k < r->ext_count && !dup; k++) dup = r->exts[k]->ext == xs[i]->ext;
    if (dup) continue;
    if (r->ext_count == r->ext_cap) {
      size_t ncap = r->ext_cap ? r->ext_cap * 2 : 16;
      const cpay_ext_desc **n = cpay_arena_realloc(r->a, r->exts, r->ext_cap * sizeof(*n),
                                                   ncap * sizeof(*n));
      if (!n) return CPAY_ERR_NO_MEMORY;
      r->exts = n;
      r->ext_cap = ncap;
    }
    r->exts[r->ext_count++] = xs[i];
  }
  return CPAY_OK;
}

const cpay_ext_desc *cpay_registry_find_ext(const cpay_registry *r,
                                            const char *full_name, size_t len) {
  if (!r) return NULL;
  for (size_t i = 0; i < r->ext_count; i++) {
    const char *n = r->exts[i]->ext->full_name;
    if (strlen(n) == len && memcmp(n, full_name, len) == 0) return r->exts[i];
  }
  return NULL;
}

const cpay_ext_desc *cpay__registry_ext_of(const cpay_registry *r, const cpay_ext *x) {
  if (!r) return NULL;
  for (size_t i = 0; i < r->ext_count; i++) {
    if (r->exts[i]->ext == x) return r->exts[i];
  }
  return NULL;
}
