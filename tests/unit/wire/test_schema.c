// Hand-written tables for test_schema.h, laid out as protoc-gen-cpay would.
// They have no fast tables (cpay__fast_none): decoding them takes the
// decoder's general path for every field, which the generated tables of the
// other suites leave to fields numbered above 15.
#include "wire/test_schema.h"

#include <stdlib.h>
#include <string.h>

#define OFF(T, m) ((uint32_t)offsetof(T, m))
#define ONEOF(T) (-(int32_t)offsetof(T, o_case))

enum { A = CPAY_MODE_ARRAY, M = CPAY_MODE_MAP, P = CPAY_MODE_PACKED, U = CPAY_MODE_UTF8,
       CE = CPAY_MODE_CLOSED_ENUM };

// ---- test.T3 ----------------------------------------------------------------

static const cpay_field T3_fields[] = {
    {1, OFF(test_T3, i32), 0, 0, CPAY_TYPE_INT32, 0},
    {2, OFF(test_T3, i64), 0, 0, CPAY_TYPE_INT64, 0},
    {3, OFF(test_T3, u32), 0, 0, CPAY_TYPE_UINT32, 0},
    {4, OFF(test_T3, u64), 0, 0, CPAY_TYPE_UINT64, 0},
    {5, OFF(test_T3, s32), 0, 0, CPAY_TYPE_SINT32, 0},
    {6, OFF(test_T3, s64), 0, 0, CPAY_TYPE_SINT64, 0},
    {7, OFF(test_T3, fx32), 0, 0, CPAY_TYPE_FIXED32, 0},
    {8, OFF(test_T3, fx64), 0, 0, CPAY_TYPE_FIXED64, 0},
    {9, OFF(test_T3, sfx32), 0, 0, CPAY_TYPE_SFIXED32, 0},
    {10, OFF(test_T3, sfx64), 0, 0, CPAY_TYPE_SFIXED64, 0},
    {11, OFF(test_T3, flt), 0, 0, CPAY_TYPE_FLOAT, 0},
    {12, OFF(test_T3, dbl), 0, 0, CPAY_TYPE_DOUBLE, 0},
    {13, OFF(test_T3, b), 0, 0, CPAY_TYPE_BOOL, 0},
    {14, OFF(test_T3, str), 0, 0, CPAY_TYPE_STRING, U},
    {15, OFF(test_T3, byt), 0, 0, CPAY_TYPE_BYTES, 0},
    {16, OFF(test_T3, enm), 0, 0, CPAY_TYPE_ENUM, 0},
    {17, OFF(test_T3, child), 0, 0, CPAY_TYPE_MESSAGE, 0},
    {18, OFF(test_T3, opt_i32), 1, 0, CPAY_TYPE_INT32, 0},
    {31, OFF(test_T3, r_i32), 0, 0, CPAY_TYPE_INT32, A | P},
    {32, OFF(test_T3, r_s64), 0, 0, CPAY_TYPE_SINT64, A | P},
    {33, OFF(test_T3, r_fx32), 0, 0, CPAY_TYPE_FIXED32, A | P},
    {34, OFF(test_T3, r_dbl), 0, 0, CPAY_TYPE_DOUBLE, A | P},
    {35, OFF(test_T3, r_bool), 0, 0, CPAY_TYPE_BOOL, A | P},
    {36, OFF(test_T3, r_enm), 0, 0, CPAY_TYPE_ENUM, A | P},
    {37, OFF(test_T3, r_str), 0, 0, CPAY_TYPE_STRING, A | U},
    {38, OFF(test_T3, r_byt), 0, 0, CPAY_TYPE_BYTES, A},
    {39, OFF(test_T3, r_msg), 0, 0, CPAY_TYPE_MESSAGE, A},
    {40, OFF(test_T3, r_i32u), 0, 0, CPAY_TYPE_INT32, A},
    {51, OFF(test_T3, o.o_u32), ONEOF(test_T3), 0, CPAY_TYPE_UINT32, 0},
    {52, OFF(test_T3, o.o_str), ONEOF(test_T3), 0, CPAY_TYPE_STRING, U},
    {53, OFF(test_T3, o.o_msg), ONEOF(test_T3), 0, CPAY_TYPE_MESSAGE, 0},
    {61, OFF(test_T3, m_str_i32), 0, 1, CPAY_TYPE_MESSAGE, M},
    {62, OFF(test_T3, m_i32_msg), 0, 2, CPAY_TYPE_MESSAGE, M},
};

static const char *const T3_names[] = {
    "i32", "i64", "u32", "u64", "s32", "s64", "fx32", "fx64", "sfx32", "sfx64", "flt",
    "dbl", "b", "str", "byt", "enm", "child", "opt_i32", "r_i32", "r_s64", "r_fx32",
    "r_dbl", "r_bool", "r_enm", "r_str", "r_byt", "r_msg", "r_i32u", "o_u32", "o_str",
    "o_msg", "m_str_i32", "m_i32_msg",
};

static const cpay_sub T3_subs[] = {
    {.msg = &test_T3_table},
    {.msg = &test_T3_MStrI32Entry_table},
    {.msg = &test_T3_MI32MsgEntry_table},
};

const cpay_msg_table test_T3_table = {
    .fast = cpay__fast_none,
    .fields = T3_fields,
    .subs = T3_subs,
    .defaults = NULL,
    .full_name = "test.T3",
    .field_names = T3_names,
    .size = sizeof(test_T3),
    .field_count = sizeof(T3_fields) / sizeof(T3_fields[0]),
    .dense_below = 18,
    .required_count = 0,
    .hasbit_count = 1,
    .flags = 0,
};

static const cpay_field MStrI32_fields[] = {
    {1, OFF(test_T3_MStrI32Entry, key), 0, 0, CPAY_TYPE_STRING, U},
    {2, OFF(test_T3_MStrI32Entry, value), 0, 0, CPAY_TYPE_INT32, 0},
};
static const char *const MStrI32_names[] = {"key", "value"};

const cpay_msg_table test_T3_MStrI32Entry_table = {
    .fast = cpay__fast_none,
    .fields = MStrI32_fields,
    .subs = NULL,
    .full_name = "test.T3.MStrI32Entry",
    .field_names = MStrI32_names,
    .size = sizeof(test_T3_MStrI32Entry),
    .field_count = 2,
    .dense_below = 2,
    .flags = CPAY_MSG_MAP_ENTRY,
};

static const cpay_field MI32Msg_fields[] = {
    {1, OFF(test_T3_MI32MsgEntry, key), 0, 0, CPAY_TYPE_INT32, 0},
    {2, OFF(test_T3_MI32MsgEntry, value), 0, 0, CPAY_TYPE_MESSAGE, 0},
};
static const char *const MI32Msg_names[] = {"key", "value"};
static const cpay_sub MI32Msg_subs[] = {{.msg = &test_T3_table}};

const cpay_msg_table test_T3_MI32MsgEntry_table = {
    .fast = cpay__fast_none,
    .fields = MI32Msg_fields,
    .subs = MI32Msg_subs,
    .full_name = "test.T3.MI32MsgEntry",
    .field_names = MI32Msg_names,
    .size = sizeof(test_T3_MI32MsgEntry),
    .field_count = 2,
    .dense_below = 2,
    .flags = CPAY_MSG_MAP_ENTRY,
};

// ---- test.T2 ----------------------------------------------------------------

static const int32_t Color_values[] = {TEST_NEG, TEST_BIG};

const cpay_enum_table test_Color_table = {
    .low_mask = (1u << TEST_RED) | (1u << TEST_GREEN) | (1u << TEST_BLUE),
    .value_count = 2,
    .values = Color_values,
};

static const cpay_field G_fields[] = {
    {8, OFF(test_T2_G, a), 1, 0, CPAY_TYPE_INT32, 0},
};
static const char *const G_names[] = {"a"};

const cpay_msg_table test_T2_G_table = {
    .fast = cpay__fast_none,
    .fields = G_fields,
    .full_name = "test.T2.G",
    .field_names = G_names,
    .size = sizeof(test_T2_G),
    .field_count = 1,
    .dense_below = 0,
    .hasbit_count = 1,
};

static const cpay_field T2_fields[] = {
    {1, OFF(test_T2, req), 1, 0, CPAY_TYPE_INT32, 0},
    {2, OFF(test_T2, opt_i32), 2, 0, CPAY_TYPE_INT32, 0},
    {3, OFF(test_T2, opt_str), 3, 0, CPAY_TYPE_STRING, 0},
    {4, OFF(test_T2, color), 4, 0, CPAY_TYPE_ENUM, CE},
    {5, OFF(test_T2, colors), 0, 0, CPAY_TYPE_ENUM, A | CE},
    {6, OFF(test_T2, colors_p), 0, 0, CPAY_TYPE_ENUM, A | P | CE},
    {7, OFF(test_T2, grp), 0, 1, CPAY_TYPE_GROUP, 0},
    {9, OFF(test_T2, child), 0, 2, CPAY_TYPE_MESSAGE, 0},
    {10, OFF(test_T2, opt_bytes), 5, 0, CPAY_TYPE_BYTES, 0},
    {11, OFF(test_T2, rgrp), 0, 1, CPAY_TYPE_GROUP, A},
    {12, OFF(test_T2, r_i32), 0, 0, CPAY_TYPE_INT32, A},
    {13, OFF(test_T2, m_color), 0, 3, CPAY_TYPE_MESSAGE, M},
};
static const char *const T2_names[] = {
    "req", "opt_i32", "opt_str", "color", "colors", "colors_p",
    "grp", "child", "opt_bytes", "rgrp", "r_i32", "m_color",
};
static const cpay_sub T2_subs[] = {
    {.enm = &test_Color_table},
    {.msg = &test_T2_G_table},
    {.msg = &test_T2_table},
    {.msg = &test_T2_MColorEntry_table},
};

static const cpay_field MColor_fields[] = {
    {1, OFF(test_T2_MColorEntry, key), 0, 0, CPAY_TYPE_INT32, 0},
    {2, OFF(test_T2_MColorEntry, value), 0, 0, CPAY_TYPE_ENUM, CE},
};
static const char *const MColor_names[] = {"key", "value"};
static const cpay_sub MColor_subs[] = {{.enm = &test_Color_table}};

const cpay_msg_table test_T2_MColorEntry_table = {
    .fast = cpay__fast_none,
    .fields = MColor_fields,
    .subs = MColor_subs,
    .full_name = "test.T2.MColorEntry",
    .field_names = MColor_names,
    .size = sizeof(test_T2_MColorEntry),
    .field_count = 2,
    .dense_below = 2,
    .flags = CPAY_MSG_MAP_ENTRY,
};

static const test_T2 T2_defaults = {
    .opt_i32 = 42,
    .opt_str = {"hello", 5},
    .color = TEST_RED,
};

const cpay_msg_table test_T2_table = {
    .fast = cpay__fast_none,
    .fields = T2_fields,
    .subs = T2_subs,
    .defaults = &T2_defaults,
    .full_name = "test.T2",
    .field_names = T2_names,
    .size = sizeof(test_T2),
    .field_count = sizeof(T2_fields) / sizeof(T2_fields[0]),
    .dense_below = 6,
    .required_count = 1,
    .hasbit_count = 5,
    .flags = CPAY_MSG_EXTENDABLE,
};

static const int32_t ext_i32_default = 0;
static const cpay_str ext_str_default = {"dflt", 4};

const cpay_ext test_ext_i32 = {
    .field = {100, 0, 0, 0, CPAY_TYPE_INT32, 0},
    .extendee = &test_T2_table,
    .full_name = "test.ext_i32",
    .default_value = &ext_i32_default,
};
const cpay_ext test_ext_msg = {
    .field = {101, 0, 0, 0, CPAY_TYPE_MESSAGE, 0},
    .extendee = &test_T2_table,
    .sub = {.msg = &test_T2_G_table},
    .full_name = "test.ext_msg",
};
const cpay_ext test_ext_rep = {
    .field = {102, 0, 0, 0, CPAY_TYPE_INT32, A},
    .extendee = &test_T2_table,
    .full_name = "test.ext_rep",
};
const cpay_ext test_ext_str = {
    .field = {103, 0, 0, 0, CPAY_TYPE_STRING, 0},
    .extendee = &test_T2_table,
    .full_name = "test.ext_str",
    .default_value = &ext_str_default,
};

static const int32_t ext_color_default = TEST_BLUE;

const cpay_ext test_ext_color = {
    .field = {104, 0, 0, 0, CPAY_TYPE_ENUM, CE},
    .extendee = &test_T2_table,
    .sub = {.enm = &test_Color_table},
    .full_name = "test.ext_color",
    .default_value = &ext_color_default,
};
const cpay_ext test_ext_colors = {
    .field = {105, 0, 0, 0, CPAY_TYPE_ENUM, A | CE},
    .extendee = &test_T2_table,
    .sub = {.enm = &test_Color_table},
    .full_name = "test.ext_colors",
};

// ---- test.MS ----------------------------------------------------------------

const cpay_msg_table test_MS_table = {
    .fast = cpay__fast_none,
    .full_name = "test.MS",
    .size = sizeof(test_MS),
    .flags = CPAY_MSG_EXTENDABLE | CPAY_MSG_MESSAGE_SET,
};

const cpay_ext test_ms_item = {
    .field = {1000, 0, 0, 0, CPAY_TYPE_MESSAGE, 0},
    .extendee = &test_MS_table,
    .sub = {.msg = &test_T2_G_table},
    .full_name = "test.ms_item",
};

// ---- wire builder -----------------------------------------------------------

void w_raw(wbuf *w, const void *p, size_t n) {
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

void w_varint(wbuf *w, uint64_t v) {
  while (v >= 0x80) {
    w->b[w->n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  w->b[w->n++] = (uint8_t)v;
}

void w_tag(wbuf *w, uint32_t num, int wt) { w_varint(w, ((uint64_t)num << 3) | (unsigned)wt); }

void w_fixed32(wbuf *w, uint32_t v) {
  for (int i = 0; i < 4; i++) w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

void w_fixed64(wbuf *w, uint64_t v) {
  for (int i = 0; i < 8; i++) w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

void w_lenbytes(wbuf *w, uint32_t num, const void *p, size_t n) {
  w_tag(w, num, 2);
  w_varint(w, n);
  w_raw(w, p, n);
}

void w_str(wbuf *w, uint32_t num, const char *s) { w_lenbytes(w, num, s, strlen(s)); }

void w_vfield(wbuf *w, uint32_t num, uint64_t v) {
  w_tag(w, num, 0);
  w_varint(w, v);
}

// ---- test allocator -----------------------------------------------------------

static void *test_alloc_fn(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  test_alloc *ta = ctx;
  if (new_size == 0) {
    ta->frees++;
    ta->live_bytes -= old_size;
    free(ptr);
    return NULL;
  }
  ta->allocs++;
  if (ta->fail_at && ta->allocs >= ta->fail_at) return NULL;
  void *p = malloc(new_size);
  if (p) ta->live_bytes += new_size;
  return p;
}

void test_alloc_init(test_alloc *ta, size_t fail_at) {
  memset(ta, 0, sizeof(*ta));
  ta->alloc.fn = test_alloc_fn;
  ta->alloc.ctx = ta;
  ta->fail_at = fail_at;
}
