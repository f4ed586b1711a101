// Closed-enum value sets: a bit mask for small values, a sorted list for the
// rest.
#include "cpay/gencode.h"

bool cpay_enum_table_has(const cpay_enum_table *e, int32_t v) {
  if ((uint32_t)v < 64) return (e->low_mask >> v) & 1u;
  uint32_t lo = 0, hi = e->value_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (e->values[mid] == v) return true;
    if (e->values[mid] < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}
