// The decoder: every field kind, merge rules, oneofs, maps, groups, closed
// enums, extensions, message sets, unknown fields, aliasing, and each error
// path with the field name and offset in its message.
#include <check.h>
#include <string.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"
#include "wire/test_schema.h"

Suite *decode_suite(void);

static cpay_arena *arena;
static cpay_status st;

static void setup(void) {
  arena = cpay_arena_new();
  cpay_status_clear(&st);
}

static void teardown(void) { cpay_arena_free(arena); }

static cpay_code decode_opts(const wbuf *w, void *msg, const cpay_msg_table *t,
                             const cpay_decode_opts *o) {
  cpay_status_clear(&st);
  return cpay_decode(w->b, w->n, msg, t, arena, o, &st);
}

static test_T3 *t3(const wbuf *w, cpay_code want) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_ptr_nonnull(m);
  cpay_code c = decode_opts(w, m, &test_T3_table, NULL);
  ck_assert_msg(c == want, "code %d, want %d: %s", c, want, cpay_status_msg(&st));
  return m;
}

static test_T2 *t2_opts(const wbuf *w, cpay_code want, const cpay_decode_opts *o) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert_ptr_nonnull(m);
  cpay_code c = decode_opts(w, m, &test_T2_table, o);
  ck_assert_msg(c == want, "code %d, want %d: %s", c, want, cpay_status_msg(&st));
  return m;
}

#define ck_assert_status_has(s) \
  ck_assert_msg(strstr(st.msg, (s)) != NULL, "status \"%s\" lacks \"%s\"", st.msg, (s))

START_TEST(test_decode_all_scalars) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, (uint64_t)(int64_t)-7);  // 10-byte negative int32
  w_vfield(&w, 2, (uint64_t)INT64_MIN);
  w_vfield(&w, 3, UINT32_MAX);
  w_vfield(&w, 4, UINT64_MAX);
  w_vfield(&w, 5, 3);  // zigzag -2
  w_vfield(&w, 6, UINT64_MAX);  // zigzag INT64_MIN
  w_tag(&w, 7, 5);
  w_fixed32(&w, 0xdeadbeef);
  w_tag(&w, 8, 1);
  w_fixed64(&w, UINT64_C(0x0123456789abcdef));
  w_tag(&w, 9, 5);
  w_fixed32(&w, (uint32_t)-100);
  w_tag(&w, 10, 1);
  w_fixed64(&w, (uint64_t)(int64_t)-100000);
  float f = 1.5f;
  uint32_t fb;
  memcpy(&fb, &f, 4);
  w_tag(&w, 11, 5);
  w_fixed32(&w, fb);
  double dv = -2.25;
  uint64_t db;
  memcpy(&db, &dv, 8);
  w_tag(&w, 12, 1);
  w_fixed64(&w, db);
  w_vfield(&w, 13, 2);  // any non-zero is true
  w_str(&w, 14, "h\xc3\xa9llo");
  w_lenbytes(&w, 15, "\x00\xff", 2);
  w_vfield(&w, 16, 99);  // open enum keeps unknown values
  w_vfield(&w, 18, 0);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_int_eq(m->i32, -7);
  ck_assert_int_eq(m->i64, INT64_MIN);
  ck_assert_uint_eq(m->u32, UINT32_MAX);
  ck_assert_uint_eq(m->u64, UINT64_MAX);
  ck_assert_int_eq(m->s32, -2);
  ck_assert_int_eq(m->s64, INT64_MIN);
  ck_assert_uint_eq(m->fx32, 0xdeadbeef);
  ck_assert_uint_eq(m->fx64, UINT64_C(0x0123456789abcdef));
  ck_assert_int_eq(m->sfx32, -100);
  ck_assert_int_eq(m->sfx64, -100000);
  ck_assert(m->flt == 1.5f);
  ck_assert(m->dbl == -2.25);
  ck_assert(m->b);
  ck_assert(cpay_str_eq(m->str, CPAY_STR("h\xc3\xa9llo")));
  ck_assert_uint_eq(m->byt.size, 2);
  ck_assert_int_eq(m->byt.data[1], 0xff);
  ck_assert_int_eq(m->enm, 99);
  ck_assert(cpay__has(m, 0));
  ck_assert_int_eq(m->opt_i32, 0);
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 0);
}
END_TEST

START_TEST(test_decode_empty_input) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_int_eq(cpay_decode(NULL, 0, m, &test_T3_table, arena, NULL, &st), CPAY_OK);
  ck_assert_int_eq(cpay_decode(NULL, 5, m, &test_T3_table, arena, NULL, &st),
                   CPAY_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_decode_scalar_last_wins) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_str(&w, 14, "first");
  w_vfield(&w, 1, 2);
  w_str(&w, 14, "second");
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_int_eq(m->i32, 2);
  ck_assert(cpay_str_eq(m->str, CPAY_STR("second")));
}
END_TEST

START_TEST(test_decode_submessage_merges) {
  wbuf c1 = {.n = 0}, c2 = {.n = 0}, w = {.n = 0};
  w_vfield(&c1, 1, 5);
  w_vfield(&c1, 31, 1);
  w_vfield(&c2, 2, 6);
  w_vfield(&c2, 31, 2);
  w_lenbytes(&w, 17, c1.b, c1.n);
  w_lenbytes(&w, 17, c2.b, c2.n);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_ptr_nonnull(m->child);
  ck_assert_int_eq(m->child->i32, 5);
  ck_assert_int_eq(m->child->i64, 6);
  ck_assert_uint_eq(m->child->r_i32.size, 2);
}
END_TEST

START_TEST(test_decode_repeated_messages_append) {
  wbuf c = {.n = 0}, w = {.n = 0};
  w_vfield(&c, 1, 9);
  for (int i = 0; i < 20; i++) w_lenbytes(&w, 39, c.b, c.n);
  w_lenbytes(&w, 39, "", 0);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->r_msg.size, 21);
  ck_assert_uint_ge(m->r_msg.cap, 21);
  for (int i = 0; i < 20; i++) ck_assert_int_eq(m->r_msg.data[i]->i32, 9);
  ck_assert_ptr_nonnull(m->r_msg.data[20]);
  ck_assert_int_eq(m->r_msg.data[20]->i32, 0);
}
END_TEST

START_TEST(test_decode_packed_and_unpacked_accepted) {
  wbuf w = {.n = 0}, p = {.n = 0};
  // r_i32 is declared packed: accept both forms, appended in order.
  w_vfield(&w, 31, 1);
  w_varint(&p, 2);
  w_varint(&p, (uint64_t)(int64_t)-3);
  w_varint(&p, 300);
  w_lenbytes(&w, 31, p.b, p.n);
  w_vfield(&w, 31, 4);
  // r_i32u is unpacked: a packed run is accepted too.
  w_lenbytes(&w, 40, p.b, p.n);
  // bools and enums packed and unpacked.
  w_lenbytes(&w, 35, "\x01\x00\x02", 3);
  w_vfield(&w, 35, 1);
  w_lenbytes(&w, 36, "\x05\x7f", 2);
  w_vfield(&w, 36, 6);
  // fixed-width packed.
  wbuf fx = {.n = 0};
  w_fixed32(&fx, 10);
  w_fixed32(&fx, 20);
  w_lenbytes(&w, 33, fx.b, fx.n);
  w_tag(&w, 33, 5);
  w_fixed32(&w, 30);
  wbuf dp = {.n = 0};
  double d1 = 0.5;
  uint64_t bits;
  memcpy(&bits, &d1, 8);
  w_fixed64(&dp, bits);
  w_lenbytes(&w, 34, dp.b, dp.n);
  w_lenbytes(&w, 32, "\x03\x04", 2);  // sint64 -2, 2
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->r_i32.size, 5);
  int32_t want[] = {1, 2, -3, 300, 4};
  for (int i = 0; i < 5; i++) ck_assert_int_eq(m->r_i32.data[i], want[i]);
  ck_assert_uint_eq(m->r_i32u.size, 3);
  ck_assert_int_eq(m->r_i32u.data[2], 300);
  ck_assert_uint_eq(m->r_bool.size, 4);
  ck_assert(m->r_bool.data[0] && !m->r_bool.data[1] && m->r_bool.data[2] && m->r_bool.data[3]);
  ck_assert_uint_eq(m->r_enm.size, 3);
  ck_assert_int_eq(m->r_enm.data[1], 127);
  ck_assert_uint_eq(m->r_fx32.size, 3);
  ck_assert_uint_eq(m->r_fx32.data[2], 30);
  ck_assert_uint_eq(m->r_dbl.size, 1);
  ck_assert(m->r_dbl.data[0] == 0.5);
  ck_assert_uint_eq(m->r_s64.size, 2);
  ck_assert_int_eq(m->r_s64.data[0], -2);
  ck_assert_int_eq(m->r_s64.data[1], 2);
}
END_TEST

START_TEST(test_decode_large_packed_grows) {
  static wbuf w, p;
  w.n = p.n = 0;
  for (int i = 0; i < 2000; i++) w_varint(&p, (uint64_t)i);
  w_lenbytes(&w, 31, p.b, p.n);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->r_i32.size, 2000);
  ck_assert_int_eq(m->r_i32.data[1999], 1999);
}
END_TEST

START_TEST(test_decode_packed_bad_length) {
  wbuf w = {.n = 0};
  w_lenbytes(&w, 33, "\x01\x02\x03", 3);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 33 (r_fx32)");
  ck_assert_status_has("not a multiple of 4");
  ck_assert_status_has("at offset 2");
  w.n = 0;
  w_lenbytes(&w, 31, "\x01\x80", 2);  // truncated varint inside the run
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 31 (r_i32)");
  ck_assert_status_has("truncated");
  ck_assert_status_has("at offset 4");
}
END_TEST

// Regression (found by fuzz_decode): an empty packed run on a field with no
// storage yet must add nothing and touch no pointer.
START_TEST(test_decode_empty_packed) {
  wbuf w = {.n = 0};
  w_lenbytes(&w, 31, "", 0);  // varint elements
  w_lenbytes(&w, 33, "", 0);  // fixed32 elements
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->r_i32.size, 0);
  ck_assert_uint_eq(m->r_fx32.size, 0);
}
END_TEST

START_TEST(test_decode_oneof) {
  wbuf w = {.n = 0};
  w_vfield(&w, 51, 7);
  w_str(&w, 52, "x");
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->o_case, 52);
  ck_assert(cpay_str_eq(m->o.o_str, CPAY_STR("x")));

  // A message member seen twice while current merges.
  wbuf c1 = {.n = 0}, c2 = {.n = 0};
  w_vfield(&c1, 1, 1);
  w_vfield(&c2, 2, 2);
  w.n = 0;
  w_lenbytes(&w, 53, c1.b, c1.n);
  w_lenbytes(&w, 53, c2.b, c2.n);
  m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->o_case, 53);
  ck_assert_int_eq(m->o.o_msg->i32, 1);
  ck_assert_int_eq(m->o.o_msg->i64, 2);

  // Switching away and back starts a fresh message (the u32 bits are not a pointer).
  w.n = 0;
  w_lenbytes(&w, 53, c1.b, c1.n);
  w_vfield(&w, 51, 12345);
  w_lenbytes(&w, 53, c2.b, c2.n);
  m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->o_case, 53);
  ck_assert_int_eq(m->o.o_msg->i32, 0);
  ck_assert_int_eq(m->o.o_msg->i64, 2);
}
END_TEST

START_TEST(test_decode_maps) {
  wbuf w = {.n = 0}, e = {.n = 0};
  w_str(&e, 1, "a");
  w_vfield(&e, 2, 1);
  w_lenbytes(&w, 61, e.b, e.n);
  e.n = 0;
  w_str(&e, 1, "b");
  w_vfield(&e, 2, 2);
  w_lenbytes(&w, 61, e.b, e.n);
  e.n = 0;  // value before key, replacing "a"
  w_vfield(&e, 2, 3);
  w_str(&e, 1, "a");
  w_lenbytes(&w, 61, e.b, e.n);
  e.n = 0;  // missing value: zero
  w_str(&e, 1, "c");
  w_lenbytes(&w, 61, e.b, e.n);
  w_lenbytes(&w, 61, "", 0);  // missing key and value: "" -> 0
  e.n = 0;  // map<int32, T3>: missing value is an empty message
  w_vfield(&e, 1, 7);
  w_lenbytes(&w, 62, e.b, e.n);
  wbuf v = {.n = 0};
  w_vfield(&v, 1, 42);
  e.n = 0;
  w_vfield(&e, 1, (uint64_t)(int64_t)-1);
  w_lenbytes(&e, 2, v.b, v.n);
  w_vfield(&e, 3, 1);  // unknown field in an entry is ignored
  w_lenbytes(&w, 62, e.b, e.n);
  test_T3 *m = t3(&w, CPAY_OK);

  ck_assert_uint_eq(cpay_map_size(m->m_str_i32), 4);
  cpay_value val;
  ck_assert(cpay_map_get(m->m_str_i32, (cpay_value){.str = CPAY_STR("a")}, &val));
  ck_assert_int_eq(val.i32, 3);
  ck_assert(cpay_map_get(m->m_str_i32, (cpay_value){.str = CPAY_STR("b")}, &val));
  ck_assert_int_eq(val.i32, 2);
  ck_assert(cpay_map_get(m->m_str_i32, (cpay_value){.str = CPAY_STR("c")}, &val));
  ck_assert_int_eq(val.i32, 0);
  ck_assert(cpay_map_get(m->m_str_i32, (cpay_value){.str = CPAY_STR("")}, &val));
  ck_assert_int_eq(val.i32, 0);

  ck_assert_uint_eq(cpay_map_size(m->m_i32_msg), 2);
  ck_assert(cpay_map_get(m->m_i32_msg, (cpay_value){.i32 = 7}, &val));
  ck_assert_ptr_nonnull(val.msg);
  ck_assert_int_eq(((test_T3 *)val.msg)->i32, 0);
  ck_assert(cpay_map_get(m->m_i32_msg, (cpay_value){.i32 = -1}, &val));
  ck_assert_int_eq(((test_T3 *)val.msg)->i32, 42);
}
END_TEST

START_TEST(test_decode_map_bad_utf8_key) {
  wbuf w = {.n = 0}, e = {.n = 0};
  w_lenbytes(&e, 1, "\xff", 1);
  w_lenbytes(&w, 61, e.b, e.n);
  t3(&w, CPAY_ERR_UTF8);
  ck_assert_status_has("field 1 (key)");
}
END_TEST

START_TEST(test_decode_alias) {
  wbuf w = {.n = 0};
  w_str(&w, 14, "aliased");
  w_lenbytes(&w, 15, "raw", 3);
  w_str(&w, 37, "rep");
  cpay_decode_opts o = {.flags = CPAY_DECODE_ALIAS};
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_int_eq(decode_opts(&w, m, &test_T3_table, &o), CPAY_OK);
  ck_assert_ptr_eq(m->str.data, (const char *)w.b + 2);
  ck_assert_ptr_eq(m->byt.data, w.b + 11);
  ck_assert_ptr_eq(m->r_str.data[0].data, (const char *)w.b + 17);

  m = t3(&w, CPAY_OK);  // without the flag: copies
  ck_assert(m->str.data < (const char *)w.b || m->str.data >= (const char *)w.b + w.n);
  ck_assert(cpay_str_eq(m->str, CPAY_STR("aliased")));
}
END_TEST

START_TEST(test_decode_unknown_fields_kept) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  size_t start = w.n;
  w_vfield(&w, 1000, 5);
  w_tag(&w, 1001, 1);
  w_fixed64(&w, 1);
  w_str(&w, 1002, "zz");
  w_tag(&w, 1003, 5);
  w_fixed32(&w, 2);
  w_tag(&w, 1004, 3);  // group with nested group
  w_vfield(&w, 1, 1);
  w_tag(&w, 2, 3);
  w_tag(&w, 2, 4);
  w_tag(&w, 1004, 4);
  w_tag(&w, 1, 1);  // known field, wrong wire type: unknown
  w_fixed64(&w, 3);
  size_t end = w.n;
  w_vfield(&w, 2, 2);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_int_eq(m->i32, 1);
  ck_assert_int_eq(m->i64, 2);
  cpay_bytes u = cpay_msg_unknown(m);
  ck_assert_bytes(u.data, u.size, w.b + start, end - start);

  cpay_decode_opts o = {.flags = CPAY_DECODE_DISCARD_UNKNOWN};
  m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_int_eq(decode_opts(&w, m, &test_T3_table, &o), CPAY_OK);
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 0);
  ck_assert_int_eq(m->i64, 2);
}
END_TEST

START_TEST(test_decode_error_truncated) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_tag(&w, 2, 0);
  w_raw(&w, "\x80", 1);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 2 (i64): truncated varint at offset 3");

  w.n = 0;
  w_raw(&w, "\x80", 1);  // truncated tag
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("truncated tag at offset 0");

  w.n = 0;
  w_tag(&w, 7, 5);
  w_raw(&w, "\x01\x02", 2);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 7 (fx32): truncated fixed32 at offset 1");

  w.n = 0;
  w_tag(&w, 8, 1);
  w_raw(&w, "\x01\x02\x03", 3);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 8 (fx64): truncated fixed64 at offset 1");

  w.n = 0;
  w_tag(&w, 500, 1);  // unknown field, truncated
  w_raw(&w, "\x01", 1);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 500: truncated fixed64");

  w.n = 0;
  w_tag(&w, 14, 2);  // truncated length
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 14 (str): truncated length at offset 1");
}
END_TEST

START_TEST(test_decode_error_length_past_end) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_tag(&w, 14, 2);
  w_varint(&w, 70000);
  w_raw(&w, "abc", 3);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 14 (str): length 70000 exceeds remaining 3 bytes at offset 3");

  w.n = 0;  // inside a submessage: offsets are absolute
  wbuf c = {.n = 0};
  w_tag(&c, 15, 2);
  w_varint(&c, 9);
  w_lenbytes(&w, 17, c.b, c.n);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 15 (byt): length 9 exceeds remaining 0 bytes at offset 4");

  w.n = 0;  // a huge length
  w_tag(&w, 17, 2);
  w_varint(&w, UINT64_MAX);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 17 (child): length");
}
END_TEST

START_TEST(test_decode_error_overlong_varint) {
  wbuf w = {.n = 0};
  w_tag(&w, 4, 0);
  w_raw(&w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 4 (u64): varint longer than 10 bytes at offset 1");
  w.n = 0;
  w_raw(&w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);  // as a tag
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("longer than 10 bytes at offset 0");
}
END_TEST

START_TEST(test_decode_error_wire_type) {
  for (int wt = 6; wt <= 7; wt++) {
    wbuf w = {.n = 0};
    w_vfield(&w, 1, 1);
    w_tag(&w, 3, wt);
    t3(&w, CPAY_ERR_MALFORMED);
    ck_assert_status_has("field 3 (u32): invalid wire type");
    ck_assert_status_has("at offset 2");
  }
}
END_TEST

START_TEST(test_decode_error_field_zero_and_range) {
  wbuf w = {.n = 0};
  w_raw(&w, "\x00\x01", 2);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 0: invalid field number 0 at offset 0");
  w.n = 0;
  w_varint(&w, (uint64_t)1 << 32);  // field number above 2^29-1
  w_raw(&w, "\x00", 1);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field number out of range");
  w.n = 0;  // the largest valid number is fine (unknown)
  w_vfield(&w, (1u << 29) - 1, 1);
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(cpay_msg_unknown(m).size, w.n);
}
END_TEST

// A tag takes at most 5 bytes, even when a longer encoding holds a small
// value (conformance BadTag_OverlongVarint): at the top level and inside an
// unknown group, whose tags the skipper reads.
START_TEST(test_decode_error_overlong_tag) {
  wbuf w = {.n = 0};
  w_raw(&w, "\x98\x80\x80\x80\x00\x07", 6);  // field 3 (u32) = 7, tag in 5 bytes
  test_T3 *m = t3(&w, CPAY_OK);
  ck_assert_uint_eq(m->u32, 7);
  w.n = 0;
  w_raw(&w, "\x98\x80\x80\x80\x80\x00\x07", 7);  // the same tag in 6 bytes
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 0: tag longer than 5 bytes (6) at offset 0");
  w.n = 0;
  w_tag(&w, 900, 3);  // an unknown group holding the long tag
  w_raw(&w, "\x98\x80\x80\x80\x80\x80\x80\x80\x00\x07", 10);
  w_tag(&w, 900, 4);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 900: tag longer than 5 bytes (9) at offset 2");
}
END_TEST

START_TEST(test_decode_error_depth) {
  // 150 nested children, built inside out.
  static wbuf a, b;
  a.n = 0;
  for (int i = 0; i < 150; i++) {
    b.n = 0;
    w_lenbytes(&b, 17, a.b, a.n);
    a = b;
  }
  t3(&a, CPAY_ERR_DEPTH);
  ck_assert_status_has("field 17 (child): nesting deeper than 100");

  cpay_decode_opts o = {.max_depth = 200};
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_int_eq(decode_opts(&a, m, &test_T3_table, &o), CPAY_OK);

  o.max_depth = 3;  // unknown groups count too
  wbuf w = {.n = 0};
  for (int i = 0; i < 5; i++) w_tag(&w, 900, 3);
  for (int i = 0; i < 5; i++) w_tag(&w, 900, 4);
  ck_assert_int_eq(decode_opts(&w, m, &test_T3_table, &o), CPAY_ERR_DEPTH);
  ck_assert_status_has("field 900: nesting deeper than 3");
}
END_TEST

START_TEST(test_decode_error_utf8) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_lenbytes(&w, 14, "ok\xc0\xaf", 4);
  t3(&w, CPAY_ERR_UTF8);
  ck_assert_status_has("field 14 (str): invalid utf-8");
  ck_assert_status_has("at offset 4");
  w.n = 0;
  w_lenbytes(&w, 37, "\xed\xa0\x80", 3);
  t3(&w, CPAY_ERR_UTF8);
  ck_assert_status_has("field 37 (r_str)");
  w.n = 0;
  w_lenbytes(&w, 52, "\xff", 1);
  t3(&w, CPAY_ERR_UTF8);
  ck_assert_status_has("field 52 (o_str)");
  // bytes and proto2 strings are not checked.
  w.n = 0;
  w_lenbytes(&w, 15, "\xff", 1);
  t3(&w, CPAY_OK);
  w.n = 0;
  w_vfield(&w, 1, 1);
  w_lenbytes(&w, 3, "\xff", 1);
  test_T2 *m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_uint_eq(m->opt_str.size, 1);
}
END_TEST

START_TEST(test_decode_error_groups) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_tag(&w, 7, 4);  // end group without start
  t2_opts(&w, CPAY_ERR_MALFORMED, NULL);
  ck_assert_status_has("field 7 (grp): end group without start group at offset 2");

  w.n = 0;
  w_vfield(&w, 1, 1);
  w_tag(&w, 7, 3);
  w_vfield(&w, 8, 1);
  w_tag(&w, 9, 4);  // mismatched end group
  t2_opts(&w, CPAY_ERR_MALFORMED, NULL);
  ck_assert_status_has("end group does not match start group 7 at offset 5");

  w.n = 0;
  w_vfield(&w, 1, 1);
  w_tag(&w, 7, 3);
  w_vfield(&w, 8, 1);  // no end group
  t2_opts(&w, CPAY_ERR_MALFORMED, NULL);
  ck_assert_status_has("group without end group");

  w.n = 0;  // unknown group, mismatched end
  w_tag(&w, 800, 3);
  w_tag(&w, 801, 4);
  t3(&w, CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 801: end group does not match start group 800");
}
END_TEST

START_TEST(test_decode_groups) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_tag(&w, 7, 3);
  w_vfield(&w, 8, 5);
  w_vfield(&w, 99, 1);  // unknown inside the group
  w_tag(&w, 7, 4);
  for (int i = 0; i < 3; i++) {
    w_tag(&w, 11, 3);
    w_vfield(&w, 8, (uint64_t)i + 10);
    w_tag(&w, 11, 4);
  }
  w_tag(&w, 7, 3);  // a second occurrence merges
  w_tag(&w, 7, 4);
  test_T2 *m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_ptr_nonnull(m->grp);
  ck_assert_int_eq(m->grp->a, 5);
  ck_assert(cpay__has(m->grp, 0));
  ck_assert_uint_eq(cpay_msg_unknown(m->grp).size, 3);
  ck_assert_uint_eq(m->rgrp.size, 3);
  ck_assert_int_eq(m->rgrp.data[2]->a, 12);
}
END_TEST

START_TEST(test_decode_closed_enum_unknown_values) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  size_t u0 = w.n;
  w_vfield(&w, 4, 7);  // not a Color: unknown, field keeps its default
  size_t u1 = w.n;
  w_vfield(&w, 5, 2);
  w_vfield(&w, 5, 8);
  w_vfield(&w, 5, (uint64_t)(int64_t)TEST_NEG);
  size_t u2 = w.n;
  // Packed: 1, 9, 2, 1000, 300.
  wbuf p = {.n = 0};
  w_varint(&p, 1);
  w_varint(&p, 9);
  w_varint(&p, 2);
  w_varint(&p, 1000);
  w_varint(&p, 300);
  w_lenbytes(&w, 6, p.b, p.n);
  test_T2 *m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_int_eq(m->color, TEST_RED);
  ck_assert(!cpay__has(m, 3));
  ck_assert_uint_eq(m->colors.size, 2);
  ck_assert_int_eq(m->colors.data[0], 2);
  ck_assert_int_eq(m->colors.data[1], TEST_NEG);
  ck_assert_uint_eq(m->colors_p.size, 3);
  ck_assert_int_eq(m->colors_p.data[2], 1000);

  wbuf want = {.n = 0};
  w_raw(&want, w.b + u0, u1 - u0);
  w_raw(&want, w.b + u1 + 2, 2);  // 5: 8
  (void)u2;
  w_vfield(&want, 6, 9);
  w_vfield(&want, 6, 300);
  cpay_bytes u = cpay_msg_unknown(m);
  ck_assert_bytes(u.data, u.size, want.b, want.n);
}
END_TEST

START_TEST(test_decode_defaults_and_hasbits) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 3);
  test_T2 *m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_int_eq(m->req, 3);
  ck_assert_int_eq(m->opt_i32, 42);
  ck_assert(cpay_str_eq(m->opt_str, CPAY_STR("hello")));
  ck_assert(cpay__has(m, 0));
  ck_assert(!cpay__has(m, 1));
  w_vfield(&w, 2, 0);
  w_lenbytes(&w, 10, "", 0);
  m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_int_eq(m->opt_i32, 0);
  ck_assert(cpay__has(m, 1));
  ck_assert(cpay__has(m, 4));
}
END_TEST

START_TEST(test_decode_required) {
  wbuf w = {.n = 0};
  w_vfield(&w, 2, 5);
  t2_opts(&w, CPAY_ERR_REQUIRED, NULL);
  ck_assert_status_has("field 1 (req): missing required field of test.T2");

  cpay_decode_opts o = {.flags = CPAY_DECODE_ALLOW_PARTIAL};
  t2_opts(&w, CPAY_OK, &o);

  // In a submessage.
  w.n = 0;
  w_vfield(&w, 1, 1);
  w_lenbytes(&w, 9, "\x10\x01", 2);
  t2_opts(&w, CPAY_ERR_REQUIRED, NULL);
  ck_assert_status_has("field 1 (req)");

  // A later occurrence of the submessage supplies it: fine.
  w_lenbytes(&w, 9, "\x08\x01", 2);
  test_T2 *m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_int_eq(m->child->req, 1);
  ck_assert_int_eq(m->child->opt_i32, 1);
}
END_TEST

static const cpay_extreg *test_registry(void) {
  cpay_extreg *r = cpay_extreg_new(arena);
  const cpay_ext *all[] = {&test_ext_i32, &test_ext_msg,   &test_ext_rep,   &test_ext_str,
                           &test_ms_item, &test_ext_color, &test_ext_colors};
  ck_assert_int_eq(cpay__extreg_add_all(r, all, 7), CPAY_OK);
  return r;
}

START_TEST(test_decode_extensions) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_vfield(&w, 100, (uint64_t)(int64_t)-9);
  w_lenbytes(&w, 101, "\x40\x07", 2);
  w_vfield(&w, 102, 1);
  w_lenbytes(&w, 102, "\x02\x03", 2);
  w_lenbytes(&w, 101, "\x40\x08", 2);  // merges
  w_vfield(&w, 150, 1);                // in range, not registered: unknown
  cpay_decode_opts o = {.extreg = test_registry()};
  test_T2 *m = t2_opts(&w, CPAY_OK, &o);
  const int32_t *i = cpay_msg_get_ext(m, &test_ext_i32);
  ck_assert_ptr_nonnull(i);
  ck_assert_int_eq(*i, -9);
  test_T2_G *const *g = cpay_msg_get_ext(m, &test_ext_msg);
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq((*g)->a, 8);
  const cpay_array *rep = cpay_msg_get_ext(m, &test_ext_rep);
  ck_assert_uint_eq(rep->size, 3);
  ck_assert_int_eq(((int32_t *)rep->data)[2], 3);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_str));
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 3);

  // Without a registry all of them are unknown.
  m = t2_opts(&w, CPAY_OK, NULL);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_i32));
  ck_assert_uint_eq(cpay_msg_unknown(m).size, w.n - 2);
}
END_TEST

static void ck_encodes_to(const void *m, const wbuf *w) {
  cpay_bytes out;
  ck_assert_int_eq(cpay_encode(m, &test_T2_table, arena, NULL, &out, &st), CPAY_OK);
  ck_assert_uint_eq(out.size, w->n);
  ck_assert_mem_eq(out.data, w->b, w->n);
}

START_TEST(test_decode_closed_enum_extensions) {
  // A value outside a closed enum is an unknown field: the extension stays
  // absent (never present with its default) and the bytes survive as they were.
  cpay_decode_opts o = {.extreg = test_registry()};
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);  // the required field
  w_vfield(&w, 104, 7);
  test_T2 *m = t2_opts(&w, CPAY_OK, &o);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_color));
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 3);
  ck_encodes_to(m, &w);

  // After a known value, the known one stays.
  wbuf w2 = {.n = 0};
  w_vfield(&w2, 1, 1);  // the required field
  w_vfield(&w2, 104, TEST_GREEN);
  w_vfield(&w2, 104, 7);
  m = t2_opts(&w2, CPAY_OK, &o);
  const int32_t *color = cpay_msg_get_ext(m, &test_ext_color);
  ck_assert_ptr_nonnull(color);
  ck_assert_int_eq(*color, TEST_GREEN);
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 3);

  // Repeated, unpacked and packed: only the known values are elements.
  wbuf w3 = {.n = 0};
  w_vfield(&w3, 1, 1);  // the required field
  w_vfield(&w3, 105, TEST_RED);
  w_vfield(&w3, 105, 7);
  w_lenbytes(&w3, 105, "\x09\x03", 2);
  m = t2_opts(&w3, CPAY_OK, &o);
  const cpay_array *colors = cpay_msg_get_ext(m, &test_ext_colors);
  ck_assert_ptr_nonnull(colors);
  ck_assert_uint_eq(colors->size, 2);
  ck_assert_int_eq(((int32_t *)colors->data)[0], TEST_RED);
  ck_assert_int_eq(((int32_t *)colors->data)[1], TEST_BLUE);
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 6);  // 105:7 and 105:9

  // A packed run of unknown values alone leaves the extension absent.
  wbuf w4 = {.n = 0};
  w_vfield(&w4, 1, 1);  // the required field
  w_lenbytes(&w4, 105, "\x07\x09", 2);
  m = t2_opts(&w4, CPAY_OK, &o);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_colors));
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 6);
}
END_TEST

START_TEST(test_decode_message_set) {
  wbuf w = {.n = 0};
  w_tag(&w, 1, 3);
  w_vfield(&w, 2, 1000);
  w_lenbytes(&w, 3, "\x40\x05", 2);
  w_tag(&w, 1, 4);
  size_t u0 = w.n;
  w_tag(&w, 1, 3);  // message first, unregistered type id: kept as unknown
  w_lenbytes(&w, 3, "\x08\x01", 2);
  w_vfield(&w, 2, 1234);
  w_tag(&w, 1, 4);
  size_t u1 = w.n;
  cpay_decode_opts o = {.extreg = test_registry()};
  test_MS *m = cpay_msg_new(&test_MS_table, arena);
  ck_assert_int_eq(decode_opts(&w, m, &test_MS_table, &o), CPAY_OK);
  test_T2_G *const *g = cpay_msg_get_ext(m, &test_ms_item);
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq((*g)->a, 5);
  cpay_bytes u = cpay_msg_unknown(m);
  ck_assert_bytes(u.data, u.size, w.b + u0, u1 - u0);

  w.n = 0;  // unterminated item
  w_tag(&w, 1, 3);
  w_vfield(&w, 2, 1000);
  ck_assert_int_eq(decode_opts(&w, m, &test_MS_table, &o), CPAY_ERR_MALFORMED);
  ck_assert_status_has("field 1: group without end group");
}
END_TEST

START_TEST(test_decode_fails_cleanly_at_every_allocation) {
  wbuf w = {.n = 0}, c = {.n = 0}, e = {.n = 0};
  w_str(&c, 14, "child string that is not short at all");
  for (int i = 0; i < 30; i++) w_vfield(&c, 40, (uint64_t)i);
  for (int i = 0; i < 8; i++) w_lenbytes(&w, 39, c.b, c.n);
  w_lenbytes(&w, 17, c.b, c.n);
  for (int i = 0; i < 20; i++) {
    char key[8] = {'k', (char)('a' + i), 0};
    e.n = 0;
    w_str(&e, 1, key);
    w_vfield(&e, 2, (uint64_t)i);
    w_lenbytes(&w, 61, e.b, e.n);
  }
  w_vfield(&w, 999, 1);
  bool succeeded = false;
  for (size_t n = 2; n < 200 && !succeeded; n++) {
    test_alloc ta;
    test_alloc_init(&ta, n);
    cpay_arena_opts ao = {.alloc = &ta.alloc, .block_size = 256};
    cpay_arena *a = cpay_arena_new_opts(&ao);
    ck_assert_ptr_nonnull(a);
    test_T3 *m = cpay_msg_new(&test_T3_table, a);
    cpay_status s = {0};
    cpay_code code = m ? cpay_decode(w.b, w.n, m, &test_T3_table, a, NULL, &s) : CPAY_ERR_NO_MEMORY;
    if (code == CPAY_OK) {
      succeeded = true;
      ck_assert_uint_eq(m->r_msg.size, 8);
    } else {
      ck_assert_int_eq(code, CPAY_ERR_NO_MEMORY);
      if (m) ck_assert_msg(strstr(s.msg, "out of memory: the block allocator failed at offset") != NULL, "%s", s.msg);
    }
    cpay_arena_free(a);
    ck_assert_uint_eq(ta.live_bytes, 0);
  }
  ck_assert(succeeded);
}
END_TEST

START_TEST(test_decode_byte_limit) {
  wbuf w = {.n = 0};
  char big[4000];
  memset(big, 'x', sizeof(big));
  w_lenbytes(&w, 15, big, sizeof(big));
  cpay_arena_opts ao = {.max_bytes = 2048, .block_size = 1024};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  test_T3 *m = cpay_msg_new(&test_T3_table, a);
  ck_assert_int_eq(cpay_decode(w.b, w.n, m, &test_T3_table, a, NULL, &st), CPAY_ERR_NO_MEMORY);
  ck_assert_status_has("field 15 (byt): out of memory: the arena's byte limit (max_bytes) is reached at offset 1");
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_decode_map_closed_enum_value) {
  wbuf w = {.n = 0}, e = {.n = 0};
  w_vfield(&w, 1, 1);
  w_vfield(&e, 1, 5);
  w_vfield(&e, 2, TEST_BLUE);
  w_lenbytes(&w, 13, e.b, e.n);
  size_t u0 = w.n;
  e.n = 0;
  w_vfield(&e, 1, 6);
  w_vfield(&e, 2, 55);  // not a Color: the whole entry is unknown
  w_lenbytes(&w, 13, e.b, e.n);
  size_t u1 = w.n;
  for (int discard = 0; discard < 2; discard++) {
    cpay_decode_opts o = {.flags = discard ? CPAY_DECODE_DISCARD_UNKNOWN : 0};
    test_T2 *m = t2_opts(&w, CPAY_OK, &o);
    ck_assert_uint_eq(cpay_map_size(m->m_color), 1);
    cpay_value v;
    ck_assert(cpay_map_get(m->m_color, (cpay_value){.i32 = 5}, &v));
    ck_assert_int_eq(v.i32, TEST_BLUE);
    ck_assert(!cpay_map_get(m->m_color, (cpay_value){.i32 = 6}, &v));
    cpay_bytes u = cpay_msg_unknown(m);
    if (discard) {
      ck_assert_uint_eq(u.size, 0);
    } else {
      ck_assert_bytes(u.data, u.size, w.b + u0, u1 - u0);
    }
  }
}
END_TEST

START_TEST(test_decode_merges_into_existing_message) {
  wbuf a = {.n = 0}, b = {.n = 0};
  w_vfield(&a, 1, 1);
  w_vfield(&a, 40, 1);
  w_lenbytes(&a, 17, "\x08\x07", 2);
  w_vfield(&b, 2, 2);
  w_vfield(&b, 40, 2);
  w_lenbytes(&b, 17, "\x10\x08", 2);
  test_T3 *m = t3(&a, CPAY_OK);
  ck_assert_int_eq(decode_opts(&b, m, &test_T3_table, NULL), CPAY_OK);
  ck_assert_int_eq(m->i32, 1);
  ck_assert_int_eq(m->i64, 2);
  ck_assert_uint_eq(m->r_i32u.size, 2);
  ck_assert_int_eq(m->child->i32, 7);
  ck_assert_int_eq(m->child->i64, 8);
}
END_TEST

Suite *decode_suite(void) {
  Suite *s = suite_create("decode");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_decode_all_scalars);
  tcase_add_test(tc, test_decode_empty_input);
  tcase_add_test(tc, test_decode_scalar_last_wins);
  tcase_add_test(tc, test_decode_submessage_merges);
  tcase_add_test(tc, test_decode_repeated_messages_append);
  tcase_add_test(tc, test_decode_packed_and_unpacked_accepted);
  tcase_add_test(tc, test_decode_large_packed_grows);
  tcase_add_test(tc, test_decode_packed_bad_length);
  tcase_add_test(tc, test_decode_empty_packed);
  tcase_add_test(tc, test_decode_oneof);
  tcase_add_test(tc, test_decode_maps);
  tcase_add_test(tc, test_decode_map_bad_utf8_key);
  tcase_add_test(tc, test_decode_alias);
  tcase_add_test(tc, test_decode_unknown_fields_kept);
  tcase_add_test(tc, test_decode_error_truncated);
  tcase_add_test(tc, test_decode_error_length_past_end);
  tcase_add_test(tc, test_decode_error_overlong_varint);
  tcase_add_test(tc, test_decode_error_wire_type);
  tcase_add_test(tc, test_decode_error_field_zero_and_range);
  tcase_add_test(tc, test_decode_error_overlong_tag);
  tcase_add_test(tc, test_decode_error_depth);
  tcase_add_test(tc, test_decode_error_utf8);
  tcase_add_test(tc, test_decode_error_groups);
  tcase_add_test(tc, test_decode_groups);
  tcase_add_test(tc, test_decode_closed_enum_unknown_values);
  tcase_add_test(tc, test_decode_defaults_and_hasbits);
  tcase_add_test(tc, test_decode_required);
  tcase_add_test(tc, test_decode_extensions);
  tcase_add_test(tc, test_decode_closed_enum_extensions);
  tcase_add_test(tc, test_decode_message_set);
  tcase_add_test(tc, test_decode_fails_cleanly_at_every_allocation);
  tcase_add_test(tc, test_decode_byte_limit);
  tcase_add_test(tc, test_decode_map_closed_enum_value);
  tcase_add_test(tc, test_decode_merges_into_existing_message);
  suite_add_tcase(s, tc);
  return s;
}
