// Hand-written message structs and tables following the gencode.h layout
// contract, standing in for generated code in the runtime's unit tests, plus
// a small builder for wire-format input.
//
//   test.T3 (proto3): every scalar type, strings, bytes, an open enum, a
//     recursive child, a proto3 `optional`, packed and unpacked repeated
//     fields, a oneof, map<string,int32> and map<int32,T3>.
//   test.T2 (proto2): hasbits, a required field, defaults, a closed enum
//     (singular, repeated, packed), groups, bytes, extensions 100 to 199.
//   test.MS: a message set, with one registered item extension.
#ifndef CPAY_TESTS_UNIT_WIRE_TEST_SCHEMA_H_
#define CPAY_TESTS_UNIT_WIRE_TEST_SCHEMA_H_

#include <stddef.h>
#include <stdint.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"

typedef struct test_T3 test_T3;

struct test_T3 {
  cpay_msg_header hdr;
  uint32_t hasbits_[1];
  int32_t i32;        // 1
  int64_t i64;        // 2
  uint32_t u32;       // 3
  uint64_t u64;       // 4
  int32_t s32;        // 5 sint32
  int64_t s64;        // 6 sint64
  uint32_t fx32;      // 7 fixed32
  uint64_t fx64;      // 8 fixed64
  int32_t sfx32;      // 9 sfixed32
  int64_t sfx64;      // 10 sfixed64
  float flt;          // 11
  double dbl;         // 12
  bool b;             // 13
  cpay_str str;       // 14 (utf-8 checked)
  cpay_bytes byt;     // 15
  int32_t enm;        // 16 open enum
  test_T3 *child;     // 17
  int32_t opt_i32;    // 18 optional: hasbit 0
  struct { int32_t *data; size_t size, cap; } r_i32;     // 31 packed
  struct { int64_t *data; size_t size, cap; } r_s64;     // 32 sint64 packed
  struct { uint32_t *data; size_t size, cap; } r_fx32;   // 33 fixed32 packed
  struct { double *data; size_t size, cap; } r_dbl;      // 34 packed
  struct { bool *data; size_t size, cap; } r_bool;       // 35 packed
  struct { int32_t *data; size_t size, cap; } r_enm;     // 36 enum packed
  struct { cpay_str *data; size_t size, cap; } r_str;    // 37
  struct { cpay_bytes *data; size_t size, cap; } r_byt;  // 38
  struct { test_T3 **data; size_t size, cap; } r_msg;    // 39
  struct { int32_t *data; size_t size, cap; } r_i32u;    // 40 unpacked
  uint32_t o_case;                                       // oneof o
  union {
    uint32_t o_u32;   // 51
    cpay_str o_str;   // 52
    test_T3 *o_msg;   // 53
  } o;
  cpay_map *m_str_i32;  // 61 map<string, int32>
  cpay_map *m_i32_msg;  // 62 map<int32, T3>
};

typedef struct test_T3_MStrI32Entry {
  cpay_msg_header hdr;
  cpay_str key;
  int32_t value;
} test_T3_MStrI32Entry;

typedef struct test_T3_MI32MsgEntry {
  cpay_msg_header hdr;
  int32_t key;
  test_T3 *value;
} test_T3_MI32MsgEntry;

typedef struct test_T2_G {
  cpay_msg_header hdr;
  uint32_t hasbits_[1];
  int32_t a;  // 8, hasbit 0
} test_T2_G;

typedef struct test_T2 test_T2;

enum { TEST_RED = 1, TEST_GREEN = 2, TEST_BLUE = 3, TEST_NEG = -5, TEST_BIG = 1000 };

struct test_T2 {
  cpay_msg_header hdr;
  uint32_t hasbits_[1];
  int32_t req;         // 1 required: bit 0
  int32_t opt_i32;     // 2 default 42: bit 1
  cpay_str opt_str;    // 3 default "hello": bit 2
  int32_t color;       // 4 closed enum, default TEST_RED: bit 3
  struct { int32_t *data; size_t size, cap; } colors;    // 5 closed enum
  struct { int32_t *data; size_t size, cap; } colors_p;  // 6 closed enum packed
  test_T2_G *grp;      // 7 group
  test_T2 *child;      // 9
  cpay_bytes opt_bytes;  // 10: bit 4
  struct { test_T2_G **data; size_t size, cap; } rgrp;  // 11 repeated group
  struct { int32_t *data; size_t size, cap; } r_i32;    // 12 unpacked
  cpay_map *m_color;   // 13 map<int32, Color>
};

typedef struct test_T2_MColorEntry {
  cpay_msg_header hdr;
  int32_t key;
  int32_t value;
} test_T2_MColorEntry;

typedef struct test_MS {
  cpay_msg_header hdr;
} test_MS;

extern const cpay_msg_table test_T3_table;
extern const cpay_msg_table test_T3_MStrI32Entry_table;
extern const cpay_msg_table test_T3_MI32MsgEntry_table;
extern const cpay_msg_table test_T2_table;
extern const cpay_msg_table test_T2_G_table;
extern const cpay_msg_table test_T2_MColorEntry_table;
extern const cpay_msg_table test_MS_table;
extern const cpay_enum_table test_Color_table;

extern const cpay_ext test_ext_i32;   // 100 int32
extern const cpay_ext test_ext_msg;   // 101 T2.G
extern const cpay_ext test_ext_rep;   // 102 repeated int32
extern const cpay_ext test_ext_str;   // 103 string, default "dflt"
extern const cpay_ext test_ext_color;   // 104 closed enum Color, default TEST_BLUE
extern const cpay_ext test_ext_colors;  // 105 repeated closed enum Color
extern const cpay_ext test_ms_item;   // 1000 on test.MS, T2.G

// ---- wire builder -----------------------------------------------------------

typedef struct wbuf {
  uint8_t b[8192];
  size_t n;
} wbuf;

void w_raw(wbuf *w, const void *p, size_t n);
void w_varint(wbuf *w, uint64_t v);
void w_tag(wbuf *w, uint32_t num, int wt);
void w_fixed32(wbuf *w, uint32_t v);
void w_fixed64(wbuf *w, uint64_t v);
void w_lenbytes(wbuf *w, uint32_t num, const void *p, size_t n);
void w_str(wbuf *w, uint32_t num, const char *s);
void w_vfield(wbuf *w, uint32_t num, uint64_t v);

// A block allocator over malloc that counts calls and fails from the
// `fail_at`-th allocation on (0: never).
typedef struct test_alloc {
  cpay_alloc alloc;
  size_t allocs;
  size_t frees;
  size_t fail_at;
  size_t live_bytes;
} test_alloc;

void test_alloc_init(test_alloc *ta, size_t fail_at);

// Memory equality with a readable failure.
#define ck_assert_bytes(got, got_n, want, want_n)                         \
  do {                                                                    \
    ck_assert_uint_eq((got_n), (want_n));                                 \
    ck_assert_int_eq(memcmp((got), (want), (want_n)), 0);                 \
  } while (0)

#endif  // CPAY_TESTS_UNIT_WIRE_TEST_SCHEMA_H_
