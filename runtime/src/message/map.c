// Maps: a dense entry array (insertion-order iteration, swap-remove delete)
// indexed by an open-addressing table of entry numbers with linear probing
// and backward-shift deletion, so no tombstones accumulate.
#include "message/map.h"

#include <string.h>

#include "cpay/message.h"

static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

static uint64_t key_hash(uint8_t type, cpay_value k) {
  switch (type) {
    case CPAY_TYPE_STRING:
    case CPAY_TYPE_BYTES: {
      // FNV-1a, then mixed.
      uint64_t h = UINT64_C(0xcbf29ce484222325);
      const unsigned char *p = (const unsigned char *)k.str.data;
      for (size_t i = 0; i < k.str.size; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
      }
      return mix64(h ^ k.str.size);
    }
    case CPAY_TYPE_BOOL:
      return mix64(k.b);
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
      return mix64(k.u64);
    default:
      return mix64(k.u32);
  }
}

static bool key_eq(uint8_t type, cpay_value a, cpay_value b) {
  switch (type) {
    case CPAY_TYPE_STRING:
    case CPAY_TYPE_BYTES:
      return cpay_str_eq(a.str, b.str);
    case CPAY_TYPE_BOOL:
      return a.b == b.b;
    case CPAY_TYPE_INT64:
    case CPAY_TYPE_UINT64:
    case CPAY_TYPE_FIXED64:
    case CPAY_TYPE_SFIXED64:
    case CPAY_TYPE_SINT64:
      return a.u64 == b.u64;
    default:
      return a.u32 == b.u32;
  }
}

cpay_map *cpay_map_new(cpay_arena *a, uint8_t key_type, uint8_t val_type) {
  cpay_map *m = cpay_arena_malloc(a, sizeof(*m));
  if (!m) return NULL;
  memset(m, 0, sizeof(*m));
  m->key_type = key_type;
  m->val_type = val_type;
  return m;
}

size_t cpay_map_size(const cpay_map *m) { return m ? m->size : 0; }

// The slot holding `key`, or the empty slot where it would go.
static size_t find_slot(const cpay_map *m, cpay_value key, uint64_t h) {
  size_t i = (size_t)h & m->slot_mask;
  for (;;) {
    uint32_t s = m->slots[i];
    if (s == 0) return i;
    const cpay__map_entry *e = &m->entries[s - 1];
    if (e->hash == h && key_eq(m->key_type, e->key, key)) return i;
    i = (i + 1) & m->slot_mask;
  }
}

bool cpay_map_get(const cpay_map *m, cpay_value key, cpay_value *val) {
  if (!m || m->size == 0) return false;
  uint64_t h = key_hash(m->key_type, key);
  uint32_t s = m->slots[find_slot(m, key, h)];
  if (s == 0) return false;
  if (val) *val = m->entries[s - 1].val;
  return true;
}

static bool rehash(cpay_map *m, size_t nslots, cpay_arena *a) {
  uint32_t *slots = cpay_arena_malloc(a, nslots * sizeof(slots[0]));
  if (!slots) return false;
  memset(slots, 0, nslots * sizeof(slots[0]));
  m->slots = slots;
  m->slot_mask = nslots - 1;
  for (size_t j = 0; j < m->size; j++) {
    size_t i = (size_t)m->entries[j].hash & m->slot_mask;
    while (slots[i]) i = (i + 1) & m->slot_mask;
    slots[i] = (uint32_t)(j + 1);
  }
  return true;
}

cpay_code cpay_map_set(cpay_map *m, cpay_value key, cpay_value val, cpay_arena *a) {
  uint64_t h = key_hash(m->key_type, key);
  if (m->slots) {
    size_t i = find_slot(m, key, h);
    if (m->slots[i]) {
      m->entries[m->slots[i] - 1].val = val;
      return CPAY_OK;
    }
  }
  if (m->size >= UINT32_MAX - 1) return CPAY_ERR_TOO_LARGE;
  if (m->size == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    cpay__map_entry *e = cpay_arena_realloc(a, m->entries, m->cap * sizeof(*e),
                                            cap * sizeof(*e));
    if (!e) return CPAY_ERR_NO_MEMORY;
    m->entries = e;
    m->cap = cap;
  }
  // Keep the load factor at most 1/2.
  if (!m->slots || (m->size + 1) * 2 > m->slot_mask + 1) {
    size_t n = m->slots ? (m->slot_mask + 1) * 2 : 16;
    while ((m->size + 1) * 2 > n) n *= 2;
    if (!rehash(m, n, a)) return CPAY_ERR_NO_MEMORY;
  }
  size_t i = find_slot(m, key, h);
  cpay__map_entry *e = &m->entries[m->size];
  e->key = key;
  e->val = val;
  e->hash = h;
  m->size++;
  m->slots[i] = (uint32_t)m->size;
  return CPAY_OK;
}

bool cpay_map_delete(cpay_map *m, cpay_value key) {
  if (!m || m->size == 0) return false;
  uint64_t h = key_hash(m->key_type, key);
  size_t i = find_slot(m, key, h);
  uint32_t s = m->slots[i];
  if (s == 0) return false;
  // Backward-shift deletion: pull later members of the probe run into the hole.
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & m->slot_mask;
    uint32_t sj = m->slots[j];
    if (sj == 0) break;
    size_t home = (size_t)m->entries[sj - 1].hash & m->slot_mask;
    // Move sj into the hole unless its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      m->slots[hole] = sj;
      hole = j;
    }
  }
  m->slots[hole] = 0;
  // Swap-remove from the dense array and repoint the moved entry's slot.
  size_t idx = s - 1;
  size_t last = m->size - 1;
  if (idx != last) {
    m->entries[idx] = m->entries[last];
    size_t k = (size_t)m->entries[idx].hash & m->slot_mask;
    while (m->slots[k] != last + 1) k = (k + 1) & m->slot_mask;
    m->slots[k] = (uint32_t)(idx + 1);
  }
  m->size--;
  return true;
}

bool cpay_map_next(const cpay_map *m, size_t *iter, cpay_value *key, cpay_value *val) {
  if (!m || *iter >= m->size) return false;
  const cpay__map_entry *e = &m->entries[*iter];
  if (key) *key = e->key;
  if (val) *val = e->val;
  (*iter)++;
  return true;
}

void cpay_map_clear(cpay_map *m) {
  if (!m) return;
  m->size = 0;
  if (m->slots) memset(m->slots, 0, (m->slot_mask + 1) * sizeof(m->slots[0]));
}
