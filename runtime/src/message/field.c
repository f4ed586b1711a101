// The parts of the reflection layer that are not inline (see field.h):
// lookup by number for the formats, by presence bit for error messages,
// iteration over the fields that are set.
#include "message/field.h"

#include "cpay/message.h"
#include "message/internal.h"

const cpay_field *cpay__field_find(const cpay_msg_table *t, uint32_t num) {
  uint32_t hint = 0;
  return cpay__field_find_near(t, num, &hint);
}

const cpay_field *cpay__field_with_bit(const cpay_msg_table *t, uint32_t bit) {
  for (uint32_t i = 0; i < t->field_count; i++) {
    if (t->fields[i].presence == (int32_t)bit + 1) return &t->fields[i];
  }
  return NULL;
}

bool cpay__msg_next(cpay__msg_iter *it, cpay__field_ref *out) {
  const cpay_msg_table *t = it->t;
  bool defaults = (it->flags & CPAY__ITER_DEFAULTS) != 0;
  while (it->next < t->field_count) {
    uint32_t i = it->next++;
    const cpay_field *f = &t->fields[i];
    const void *p = cpay__field_cptr(it->msg, f);
    bool set;
    switch (f->mode & CPAY_MODE_MASK) {
      case CPAY_MODE_ARRAY:
        set = defaults || ((const cpay_array *)p)->size != 0;
        break;
      case CPAY_MODE_MAP:
        set = defaults || cpay_map_size(*(cpay_map *const *)p) != 0;
        break;
      default:
        set = cpay__field_has(it->msg, f) ||
              (defaults && f->presence == 0 && !cpay__type_is_msg(f->type));
        break;
    }
    if (set) {
      *out = (cpay__field_ref){f, p, i, NULL};
      return true;
    }
  }
  // Extensions, from the sorted entries in the message's internal state.
  const cpay_msg_internal *in = cpay__msg_internal(it->msg);
  uint32_t k = it->next - t->field_count;
  if (!in || k >= in->ext_count) return false;
  it->next++;
  const cpay__ext_entry *e = &in->exts[k];
  *out = (cpay__field_ref){&e->ext->field, &e->val, 0, e->ext};
  return true;
}
