// Private map layout, shared with the codec.
#ifndef CPAY_MESSAGE_MAP_H_
#define CPAY_MESSAGE_MAP_H_

#include <stddef.h>
#include <stdint.h>

#include "cpay/gencode.h"

typedef struct cpay__map_entry {
  cpay_value key;
  cpay_value val;
  uint64_t hash;
} cpay__map_entry;

struct cpay_map {
  cpay__map_entry *entries;  // dense, insertion order
  size_t size;
  size_t cap;
  uint32_t *slots;  // open addressing: entry index + 1, 0 = empty
  size_t slot_mask; // slot count - 1 (a power of two), or 0 without slots
  uint8_t key_type;
  uint8_t val_type;
};

#endif  // CPAY_MESSAGE_MAP_H_
