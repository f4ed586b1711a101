// Enum value names from an enum's description: the one lookup that
// generated E_name() functions, JSON and text use.
#include <string.h>

#include "cpay/reflect.h"

const char *cpay_enum_name(const cpay_enum_desc *e, int32_t value) {
  for (uint32_t i = 0; i < e->count; i++) {
    if (e->numbers[i] == value) return e->names[i];
  }
  return NULL;
}

bool cpay_enum_value(const cpay_enum_desc *e, const char *name, size_t len, int32_t *value) {
  // Compared by length first: `name` may hold a NUL (JSON's "\u0000"),
  // which strncmp would stop at, then read past the end of a shorter name.
  for (uint32_t i = 0; i < e->count; i++) {
    if (strlen(e->names[i]) == len && memcmp(e->names[i], name, len) == 0) {
      *value = e->numbers[i];
      return true;
    }
  }
  return false;
}
