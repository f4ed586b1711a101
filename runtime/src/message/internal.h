// Private per-message state: unknown fields and extension values, reached
// through cpay_msg_header.internal and allocated only when needed.
#ifndef CPAY_MESSAGE_INTERNAL_H_
#define CPAY_MESSAGE_INTERNAL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/gencode.h"

typedef struct cpay__ext_entry {
  const cpay_ext *ext;
  cpay_ext_storage val;
} cpay__ext_entry;

struct cpay_msg_internal {
  uint8_t *unknown;  // wire-format bytes, in the order they were seen
  size_t unknown_size;
  size_t unknown_cap;
  cpay__ext_entry *exts;  // sorted by field number
  uint32_t ext_count;
  uint32_t ext_cap;
};

static inline cpay_msg_internal *cpay__msg_internal(const void *msg) {
  return ((const cpay_msg_header *)msg)->internal;
}

// The internal state of `msg`, created when absent; NULL when out of memory.
cpay_msg_internal *cpay__msg_internal_get(void *msg, cpay_arena *a);

// The entry of an extension, created when absent (with *created set);
// NULL when out of memory.
cpay__ext_entry *cpay__msg_ext_entry(void *msg, const cpay_ext *ext, cpay_arena *a,
                                     bool *created);

// Appends unknown bytes; false when out of memory.
bool cpay__msg_add_unknown(void *msg, const uint8_t *data, size_t size, cpay_arena *a);

// The index of the first required field missing in `msg`, or -1.
int cpay__msg_missing_required(const void *msg, const cpay_msg_table *t);

// The first required field missing in the tree under `msg` (of type `t`),
// in field order, depth first: the table of the message that misses it,
// with *bit set to the field's presence bit; NULL when every required field
// is set. cpay_msg_is_initialized() is this being NULL; the decoder's error
// names the field it finds.
const cpay_msg_table *cpay__msg_find_missing(const void *msg, const cpay_msg_table *t,
                                             uint32_t *bit);

#endif  // CPAY_MESSAGE_INTERNAL_H_
