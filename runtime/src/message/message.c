// Messages through their tables: creation, clearing, unknown fields,
// extension storage and the required-field check.
#include <string.h>

#include "cpay/gencode.h"
#include "cpay/message.h"
#include "mem/strdup.h"
#include "message/field.h"
#include "message/internal.h"
#include "message/map.h"

cpay_str cpay_str_from_c(const char *s) {
  if (!s) return (cpay_str){"", 0};
  return (cpay_str){s, strlen(s)};
}

cpay_str cpay_str_dup(cpay_arena *a, cpay_str s) {
  char *p = s.size ? cpay__strndup(a, s.data, s.size) : NULL;
  return p ? (cpay_str){p, s.size} : (cpay_str){NULL, 0};
}

bool cpay_str_eq(cpay_str a, cpay_str b) {
  return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

bool cpay_any_type_name(cpay_str url, cpay_str *name) {
  if (url.size == 0) {  // an absent type_url is {NULL, 0}: no arithmetic on it
    *name = (cpay_str){NULL, 0};
    return false;
  }
  size_t i = url.size;
  while (i > 0 && url.data[i - 1] != '/') i--;
  *name = (cpay_str){url.data + i, url.size - i};
  return i > 1 && i < url.size;
}

void *cpay_msg_new(const cpay_msg_table *t, cpay_arena *a) {
  void *msg = cpay_arena_malloc(a, t->size);
  if (!msg) return NULL;
  cpay_msg_clear(msg, t);
  return msg;
}

void cpay_msg_clear(void *msg, const cpay_msg_table *t) {
  if (t->defaults) {
    memcpy(msg, t->defaults, t->size);
    ((cpay_msg_header *)msg)->internal = NULL;
  } else {
    memset(msg, 0, t->size);
  }
}

cpay_msg_internal *cpay__msg_internal_get(void *msg, cpay_arena *a) {
  cpay_msg_header *h = msg;
  if (!h->internal) {
    cpay_msg_internal *in = cpay_arena_malloc(a, sizeof(*in));
    if (!in) return NULL;
    memset(in, 0, sizeof(*in));
    h->internal = in;
  }
  return h->internal;
}

cpay_bytes cpay_msg_unknown(const void *msg) {
  const cpay_msg_internal *in = cpay__msg_internal(msg);
  if (!in || in->unknown_size == 0) return (cpay_bytes){NULL, 0};
  return (cpay_bytes){in->unknown, in->unknown_size};
}

bool cpay__msg_add_unknown(void *msg, const uint8_t *data, size_t size, cpay_arena *a) {
  if (size == 0) return true;
  cpay_msg_internal *in = cpay__msg_internal_get(msg, a);
  if (!in) return false;
  if (in->unknown_cap - in->unknown_size < size) {
    if (size > SIZE_MAX / 2 - in->unknown_size) return false;
    size_t cap = in->unknown_cap ? in->unknown_cap * 2 : 64;
    while (cap < in->unknown_size + size) cap *= 2;
    uint8_t *p = cpay_arena_realloc(a, in->unknown, in->unknown_cap, cap);
    if (!p) return false;
    in->unknown = p;
    in->unknown_cap = cap;
  }
  memcpy(in->unknown + in->unknown_size, data, size);
  in->unknown_size += size;
  return true;
}

cpay_code cpay_msg_add_unknown(void *msg, const uint8_t *data, size_t size, cpay_arena *a) {
  return cpay__msg_add_unknown(msg, data, size, a) ? CPAY_OK : CPAY_ERR_NO_MEMORY;
}

int cpay__msg_missing_required(const void *msg, const cpay_msg_table *t) {
  for (uint32_t i = 0; i < t->required_count; i++) {
    if (!cpay__has(msg, i)) return (int)i;
  }
  return -1;
}

// The first required field missing under submessage `sub` (NULL when
// absent) of type `st`, as cpay__msg_find_missing.
static const cpay_msg_table *sub_missing(const void *sub, const cpay_msg_table *st,
                                         uint32_t *bit) {
  return sub ? cpay__msg_find_missing(sub, st, bit) : NULL;
}

// The first required field missing under the submessages that field `r` of
// a message of type `t` holds, as cpay__msg_find_missing.
static const cpay_msg_table *field_missing(const cpay__field_ref *r, const cpay_msg_table *t,
                                           uint32_t *bit) {
  const cpay_field *f = r->f;
  const cpay_msg_table *found = NULL;
  if ((f->mode & CPAY_MODE_MASK) == CPAY_MODE_MAP) {
    const cpay_map *m = *(const cpay_map *const *)r->p;
    const cpay_msg_table *entry = t->subs[f->sub].msg;
    if (entry->field_count < 2) return NULL;
    const cpay_field *vf = cpay__map_value_field(entry);
    if (!cpay__type_is_msg(vf->type)) return NULL;
    for (size_t j = 0; j < m->size && !found; j++) {
      found = sub_missing(m->entries[j].val.msg, entry->subs[vf->sub].msg, bit);
    }
    return found;
  }
  if (!cpay__type_is_msg(f->type)) return NULL;
  const cpay_msg_table *st = r->ext ? r->ext->sub.msg : t->subs[f->sub].msg;
  if ((f->mode & CPAY_MODE_MASK) == CPAY_MODE_ARRAY) {
    const cpay_array *arr = r->p;
    void *const *elems = arr->data;
    for (size_t j = 0; j < arr->size && !found; j++) found = sub_missing(elems[j], st, bit);
    return found;
  }
  return sub_missing(*(void *const *)r->p, st, bit);
}

const cpay_msg_table *cpay__msg_find_missing(const void *msg, const cpay_msg_table *t,
                                             uint32_t *bit) {
  int m = cpay__msg_missing_required(msg, t);
  if (m >= 0) {
    *bit = (uint32_t)m;
    return t;
  }
  cpay__msg_iter it;
  cpay__msg_iter_init(&it, msg, t, 0);
  cpay__field_ref r;
  while (cpay__msg_next(&it, &r)) {
    const cpay_msg_table *found = field_missing(&r, t, bit);
    if (found) return found;
  }
  return NULL;
}

bool cpay_msg_is_initialized(const void *msg, const cpay_msg_table *t) {
  uint32_t bit;
  return cpay__msg_find_missing(msg, t, &bit) == NULL;
}

// ---- extensions ------------------------------------------------------------

static cpay__ext_entry *find_ext(const cpay_msg_internal *in, const cpay_ext *ext,
                                 uint32_t *pos) {
  uint32_t lo = 0, hi = in ? in->ext_count : 0;
  uint32_t num = ext->field.number;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t n = in->exts[mid].ext->field.number;
    if (n == num) {
      *pos = mid;
      return &in->exts[mid];
    }
    if (n < num) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *pos = lo;
  return NULL;
}

cpay__ext_entry *cpay__msg_ext_entry(void *msg, const cpay_ext *ext, cpay_arena *a,
                                     bool *created) {
  uint32_t pos;
  *created = false;
  cpay__ext_entry *e = find_ext(cpay__msg_internal(msg), ext, &pos);
  if (e) return e;
  cpay_msg_internal *in = cpay__msg_internal_get(msg, a);
  if (!in) return NULL;
  if (in->ext_count == in->ext_cap) {
    uint32_t cap = in->ext_cap ? in->ext_cap * 2 : 4;
    cpay__ext_entry *p = cpay_arena_realloc(a, in->exts, in->ext_cap * sizeof(*p),
                                            cap * sizeof(*p));
    if (!p) return NULL;
    in->exts = p;
    in->ext_cap = cap;
  }
  memmove(&in->exts[pos + 1], &in->exts[pos], (in->ext_count - pos) * sizeof(in->exts[0]));
  in->ext_count++;
  e = &in->exts[pos];
  memset(e, 0, sizeof(*e));
  e->ext = ext;
  if (ext->default_value && (ext->field.mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR) {
    memcpy(&e->val, ext->default_value, cpay__type_size(ext->field.type));
  }
  *created = true;
  return e;
}

const void *cpay_msg_get_ext(const void *msg, const cpay_ext *ext) {
  uint32_t pos;
  const cpay__ext_entry *e = find_ext(cpay__msg_internal(msg), ext, &pos);
  return e ? &e->val : NULL;
}

void *cpay_msg_mutable_ext(void *msg, const cpay_ext *ext, cpay_arena *a) {
  bool created;
  cpay__ext_entry *e = cpay__msg_ext_entry(msg, ext, a, &created);
  return e ? &e->val : NULL;
}

void cpay_msg_clear_ext(void *msg, const cpay_ext *ext) {
  uint32_t pos;
  cpay_msg_internal *in = cpay__msg_internal(msg);
  if (!find_ext(in, ext, &pos)) return;
  memmove(&in->exts[pos], &in->exts[pos + 1], (in->ext_count - pos - 1) * sizeof(in->exts[0]));
  in->ext_count--;
}
