// Fields found by name through the sorted indexes of a message's
// description: JSON and text parsers look every key up here.
#include <string.h>

#include "reflect/reflect.h"

// Bytewise comparison of the `n` bytes at `key` with the C string `name`
// (as strcmp would order them).
static int cmp_key(const char *key, size_t n, const char *name) {
  size_t i = 0;
  for (; i < n; i++) {
    unsigned char a = (unsigned char)key[i], b = (unsigned char)name[i];
    if (b == 0 || a != b) return b == 0 ? 1 : (a < b ? -1 : 1);
  }
  return name[i] == 0 ? 0 : -1;
}

// Binary search of `names` through the sorted index `order` of `count`.
static int search(const char *const *names, const uint16_t *order, uint32_t count,
                  const char *key, size_t n) {
  uint32_t lo = 0, hi = count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = cmp_key(key, n, names[order[mid]]);
    if (c == 0) return order[mid];
    if (c < 0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return -1;
}

int cpay__field_by_name(const cpay_msg_desc *m, const char *name, size_t n) {
  const cpay_msg_table *t = m->table;
  if (t->field_count == 0) return -1;
  return search(t->field_names, m->by_name, t->field_count, name, n);
}

int cpay__field_by_json_name(const cpay_msg_desc *m, const char *name, size_t n) {
  const cpay_msg_table *t = m->table;
  if (t->field_count == 0) return -1;
  return search(m->json_names, m->by_json_name, t->field_count, name, n);
}
