// The encoder: exact bytes for known inputs, proto3 default omission,
// presence, packing, groups, maps (deterministic order), extensions,
// unknown fields, required fields, depth and allocation failures, and round
// trips through the decoder.
#include <check.h>
#include <string.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"
#include "wire/test_schema.h"

Suite *encode_suite(void);

static cpay_arena *arena;
static cpay_status st;

static void setup(void) {
  arena = cpay_arena_new();
  cpay_status_clear(&st);
}

static void teardown(void) { cpay_arena_free(arena); }

static cpay_bytes enc_opts(const void *m, const cpay_msg_table *t, uint32_t flags,
                           cpay_code want) {
  cpay_bytes out;
  cpay_encode_opts o = {.flags = flags};
  cpay_status_clear(&st);
  cpay_code c = cpay_encode(m, t, arena, &o, &out, &st);
  ck_assert_msg(c == want, "code %d, want %d: %s", c, want, cpay_status_msg(&st));
  return out;
}

static cpay_bytes enc3(const test_T3 *m) { return enc_opts(m, &test_T3_table, 0, CPAY_OK); }

#define ck_assert_enc(out, lit) ck_assert_bytes((out).data, (out).size, lit, sizeof(lit) - 1)
#define ck_assert_status_has(s) \
  ck_assert_msg(strstr(st.msg, (s)) != NULL, "status \"%s\" lacks \"%s\"", st.msg, (s))

START_TEST(test_encode_empty) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  cpay_bytes out = enc3(m);
  ck_assert_uint_eq(out.size, 0);
  ck_assert_ptr_nonnull(out.data);  // callers may memcpy/fwrite it as is
}
END_TEST

START_TEST(test_encode_known_bytes) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->i32 = 150;
  ck_assert_enc(enc3(m), "\x08\x96\x01");
  m->i32 = -1;  // negative int32: ten bytes
  ck_assert_enc(enc3(m), "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  m->i32 = 0;
  m->str = CPAY_STR("testing");
  ck_assert_enc(enc3(m), "\x72\x07testing");
  m->str = (cpay_str){NULL, 0};
  m->s32 = -2;
  m->s64 = INT64_MIN;
  ck_assert_enc(enc3(m), "\x28\x03\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  m->s32 = 0;
  m->s64 = 0;
  m->fx32 = 1;
  m->sfx64 = -1;
  ck_assert_enc(enc3(m), "\x3d\x01\x00\x00\x00\x51\xff\xff\xff\xff\xff\xff\xff\xff");
  m->fx32 = 0;
  m->sfx64 = 0;
  m->dbl = 1.0;
  m->b = true;
  m->enm = -1;
  ck_assert_enc(enc3(m), "\x61\x00\x00\x00\x00\x00\x00\xf0\x3f\x68\x01"
                         "\x80\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}
END_TEST

START_TEST(test_encode_proto3_defaults_and_presence) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->flt = -0.0f;  // not the default: bits differ
  ck_assert_enc(enc3(m), "\x5d\x00\x00\x00\x80");
  m->flt = 0.0f;
  m->dbl = -0.0;
  ck_assert_enc(enc3(m), "\x61\x00\x00\x00\x00\x00\x00\x00\x80");
  m->dbl = 0;
  cpay__set_has(m, 0);  // proto3 optional set to zero is written
  ck_assert_enc(enc3(m), "\x90\x01\x00");
  cpay__clear_has(m, 0);
  m->opt_i32 = 5;  // value without its hasbit is not
  ck_assert_uint_eq(enc3(m).size, 0);
  m->child = cpay_msg_new(&test_T3_table, arena);  // empty submessage is present
  ck_assert_enc(enc3(m), "\x8a\x01\x00");
  m->child = NULL;
  m->o_case = 51;  // oneof member with zero value is present
  ck_assert_enc(enc3(m), "\x98\x03\x00");
  m->o_case = 52;
  ck_assert_enc(enc3(m), "\xa2\x03\x00");
}
END_TEST

START_TEST(test_encode_field_order) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->u32 = 3;
  m->i32 = 1;
  m->child = cpay_msg_new(&test_T3_table, arena);
  m->child->i32 = 2;
  m->o_case = 51;
  m->o.o_u32 = 4;
  ck_assert_enc(enc3(m), "\x08\x01\x18\x03\x8a\x01\x02\x08\x02\x98\x03\x04");
}
END_TEST

START_TEST(test_encode_packed_and_unpacked) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  int32_t vals[] = {1, 2, 300};
  m->r_i32.data = vals;
  m->r_i32.size = 3;
  ck_assert_enc(enc3(m), "\xfa\x01\x04\x01\x02\xac\x02");
  m->r_i32.size = 0;  // empty packed: nothing
  ck_assert_uint_eq(enc3(m).size, 0);
  m->r_i32u.data = vals;
  m->r_i32u.size = 2;
  ck_assert_enc(enc3(m), "\xc0\x02\x01\xc0\x02\x02");
  m->r_i32u.size = 0;
  bool bs[] = {true, false};
  m->r_bool.data = bs;
  m->r_bool.size = 2;
  uint32_t fx[] = {1, 2};
  m->r_fx32.data = fx;
  m->r_fx32.size = 2;
  int32_t neg[] = {-1};
  m->r_enm.data = neg;
  m->r_enm.size = 1;
  ck_assert_enc(enc3(m), "\x8a\x02\x08\x01\x00\x00\x00\x02\x00\x00\x00"
                         "\x9a\x02\x02\x01\x00"
                         "\xa2\x02\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}
END_TEST

START_TEST(test_encode_groups_and_proto2) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  m->req = 1;
  cpay__set_has(m, 0);
  ck_assert_enc(enc_opts(m, &test_T2_table, 0, CPAY_OK), "\x08\x01");  // defaults not written
  cpay__set_has(m, 1);  // opt_i32 = 42 (default value, but present)
  m->grp = cpay_msg_new(&test_T2_G_table, arena);
  m->grp->a = 5;
  cpay__set_has(m->grp, 0);
  ck_assert_enc(enc_opts(m, &test_T2_table, 0, CPAY_OK), "\x08\x01\x10\x2a\x3b\x40\x05\x3c");
  m->grp = NULL;
  cpay__clear_has(m, 1);
  // Repeated groups, a packed closed enum, a map with an enum value.
  for (int i = 0; i < 2; i++) {
    test_T2_G **g = cpay__array_add(&m->rgrp, sizeof(void *), arena);
    *g = cpay_msg_new(&test_T2_G_table, arena);
  }
  cpay__set_has(m->rgrp.data[1], 0);
  int32_t colors[] = {TEST_BLUE, TEST_BIG};
  m->colors_p.data = colors;
  m->colors_p.size = 2;
  m->m_color = cpay_map_new(arena, CPAY_TYPE_INT32, CPAY_TYPE_ENUM);
  ck_assert_int_eq(cpay_map_set(m->m_color, (cpay_value){.i32 = 1}, (cpay_value){.i32 = TEST_RED},
                                arena), CPAY_OK);
  ck_assert_enc(enc_opts(m, &test_T2_table, 0, CPAY_OK),
                "\x08\x01\x32\x03\x03\xe8\x07\x5b\x5c\x5b\x40\x00\x5c"
                "\x6a\x04\x08\x01\x10\x01");
}
END_TEST

START_TEST(test_encode_required) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  enc_opts(m, &test_T2_table, 0, CPAY_ERR_REQUIRED);
  ck_assert_status_has("field 1 (req): missing required field of test.T2");
  cpay_bytes out = enc_opts(m, &test_T2_table, CPAY_ENCODE_ALLOW_PARTIAL, CPAY_OK);
  ck_assert_uint_eq(out.size, 0);
  m->req = 1;
  cpay__set_has(m, 0);
  m->child = cpay_msg_new(&test_T2_table, arena);  // submessage missing req
  enc_opts(m, &test_T2_table, 0, CPAY_ERR_REQUIRED);
  ck_assert(!cpay_msg_is_initialized(m, &test_T2_table));
}
END_TEST

static cpay_map *str_i32_map(const char *const *keys, size_t n) {
  cpay_map *mp = cpay_map_new(arena, CPAY_TYPE_STRING, CPAY_TYPE_INT32);
  for (size_t i = 0; i < n; i++) {
    cpay_value k = {.str = cpay_str_from_c(keys[i])};
    cpay_value v = {.i32 = (int32_t)i};
    ck_assert_int_eq(cpay_map_set(mp, k, v, arena), CPAY_OK);
  }
  return mp;
}

START_TEST(test_encode_maps) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  const char *keys[] = {""};
  m->m_str_i32 = str_i32_map(keys, 1);
  // Key and value are always written.
  ck_assert_enc(enc3(m), "\xea\x03\x04\x0a\x00\x10\x00");

  const char *many[] = {"b", "a", "c"};
  m->m_str_i32 = str_i32_map(many, 3);
  ck_assert_enc(enc3(m), "\xea\x03\x05\x0a\x01" "b\x10\x00"
                         "\xea\x03\x05\x0a\x01" "a\x10\x01"
                         "\xea\x03\x05\x0a\x01" "c\x10\x02");
  ck_assert_enc(enc_opts(m, &test_T3_table, CPAY_ENCODE_DETERMINISTIC, CPAY_OK),
                "\xea\x03\x05\x0a\x01" "a\x10\x01"
                "\xea\x03\x05\x0a\x01" "b\x10\x00"
                "\xea\x03\x05\x0a\x01" "c\x10\x02");
  m->m_str_i32 = NULL;

  // map<int32, T3>: negative keys sort first; a NULL message is written empty.
  cpay_map *mm = cpay_map_new(arena, CPAY_TYPE_INT32, CPAY_TYPE_MESSAGE);
  test_T3 *v = cpay_msg_new(&test_T3_table, arena);
  v->i32 = 1;
  ck_assert_int_eq(cpay_map_set(mm, (cpay_value){.i32 = 2}, (cpay_value){.msg = v}, arena), CPAY_OK);
  ck_assert_int_eq(cpay_map_set(mm, (cpay_value){.i32 = -1}, (cpay_value){.msg = NULL}, arena), CPAY_OK);
  m->m_i32_msg = mm;
  ck_assert_enc(enc_opts(m, &test_T3_table, CPAY_ENCODE_DETERMINISTIC, CPAY_OK),
                "\xf2\x03\x0d\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12\x00"
                "\xf2\x03\x06\x08\x02\x12\x02\x08\x01");
}
END_TEST

START_TEST(test_encode_unknown_and_extensions) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  m->req = 1;
  cpay__set_has(m, 0);
  ck_assert_int_eq(cpay_msg_add_unknown(m, (const uint8_t *)"\xa0\x1f\x01", 3, arena), CPAY_OK);
  int32_t *e = cpay_msg_mutable_ext(m, &test_ext_str, arena);  // 103, default "dflt"
  ck_assert_ptr_nonnull(e);
  int32_t *i = cpay_msg_mutable_ext(m, &test_ext_i32, arena);  // 100, zero is written
  ck_assert_ptr_nonnull(i);
  ck_assert_int_eq(*i, 0);
  // Extensions after the fields in number order, unknown bytes last.
  ck_assert_enc(enc_opts(m, &test_T2_table, 0, CPAY_OK),
                "\x08\x01\xa0\x06\x00\xba\x06\x04" "dflt\xa0\x1f\x01");
  ck_assert_enc(enc_opts(m, &test_T2_table, CPAY_ENCODE_SKIP_UNKNOWN, CPAY_OK),
                "\x08\x01\xa0\x06\x00\xba\x06\x04" "dflt");
  cpay_msg_clear_ext(m, &test_ext_i32);
  cpay_msg_clear_ext(m, &test_ext_str);
  ck_assert_enc(enc_opts(m, &test_T2_table, CPAY_ENCODE_SKIP_UNKNOWN, CPAY_OK), "\x08\x01");
}
END_TEST

START_TEST(test_encode_message_set) {
  test_MS *m = cpay_msg_new(&test_MS_table, arena);
  test_T2_G **g = cpay_msg_mutable_ext(m, &test_ms_item, arena);
  *g = cpay_msg_new(&test_T2_G_table, arena);
  (*g)->a = 5;
  cpay__set_has(*g, 0);
  ck_assert_enc(enc_opts(m, &test_MS_table, 0, CPAY_OK),
                "\x0b\x10\xe8\x07\x1a\x02\x40\x05\x0c");
}
END_TEST

START_TEST(test_encode_depth_limit) {
  test_T3 *root = cpay_msg_new(&test_T3_table, arena);
  test_T3 *m = root;
  for (int i = 0; i < 10; i++) {
    m->child = cpay_msg_new(&test_T3_table, arena);
    m = m->child;
  }
  cpay_encode_opts o = {.max_depth = 5};
  cpay_bytes out;
  ck_assert_int_eq(cpay_encode(root, &test_T3_table, arena, &o, &out, &st), CPAY_ERR_DEPTH);
  ck_assert_status_has("field 17 (child)");
  o.max_depth = 10;
  cpay_status_clear(&st);
  ck_assert_int_eq(cpay_encode(root, &test_T3_table, arena, &o, &out, &st), CPAY_OK);
  ck_assert_uint_eq(out.size, 30);
}
END_TEST

// A message type without fields (its table's field array is NULL) keeps
// and writes back its unknown fields; under UBSan this also checks that the
// encoder does no arithmetic on the NULL array.
START_TEST(test_encode_message_without_fields) {
  static const cpay_msg_table empty_table = {
      .full_name = "test.Empty", .fast = cpay__fast_none, .size = sizeof(test_MS)};
  static const uint8_t in[] = {0x08, 0x2a, 0x12, 0x01, 'x'};
  test_MS *m = cpay_msg_new(&empty_table, arena);
  ck_assert_int_eq(cpay_decode(in, sizeof in, m, &empty_table, arena, NULL, &st), CPAY_OK);
  cpay_bytes out;
  ck_assert_int_eq(cpay_encode(m, &empty_table, arena, NULL, &out, &st), CPAY_OK);
  ck_assert_uint_eq(out.size, sizeof in);
  ck_assert_mem_eq(out.data, in, sizeof in);
}
END_TEST

START_TEST(test_encode_no_memory) {
  _Alignas(8) char buf[600];
  cpay_arena_opts ao = {.initial_block = buf, .initial_size = sizeof(buf)};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  test_T3 *m = cpay_msg_new(&test_T3_table, a);
  char big[2000];
  memset(big, 'q', sizeof(big));
  m->byt = (cpay_bytes){(const uint8_t *)big, sizeof(big)};
  cpay_bytes out;
  ck_assert_int_eq(cpay_encode(m, &test_T3_table, a, NULL, &out, &st), CPAY_ERR_NO_MEMORY);
  ck_assert_ptr_null(out.data);
  cpay_arena_free(a);
}
END_TEST

// Deterministic order needs memory for the sorted entries while the output
// is written into the rest of the arena's block; an arena on a caller
// buffer has nothing else to give, yet must encode when the bytes fit.
START_TEST(test_encode_deterministic_in_fixed_buffer) {
  const char *keys[] = {"b", "a", "c"};
  test_T3 *v = cpay_msg_new(&test_T3_table, arena);
  v->m_str_i32 = str_i32_map(keys, 3);
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->m_str_i32 = str_i32_map(keys, 3);
  m->m_i32_msg = cpay_map_new(arena, CPAY_TYPE_INT32, CPAY_TYPE_MESSAGE);
  ck_assert_int_eq(cpay_map_set(m->m_i32_msg, (cpay_value){.i32 = 2}, (cpay_value){.msg = v},
                                arena), CPAY_OK);
  ck_assert_int_eq(cpay_map_set(m->m_i32_msg, (cpay_value){.i32 = 1}, (cpay_value){.msg = v},
                                arena), CPAY_OK);
#define SORTED "\xea\x03\x05\x0a\x01" "a\x10\x01" "\xea\x03\x05\x0a\x01" "b\x10\x00" \
               "\xea\x03\x05\x0a\x01" "c\x10\x02"
  static const char want[] = SORTED "\xf2\x03\x1c\x08\x01\x12\x18" SORTED
                             "\xf2\x03\x1c\x08\x02\x12\x18" SORTED;
#undef SORTED
  _Alignas(8) char buf[1024];
  cpay_arena_opts ao = {.initial_block = buf, .initial_size = sizeof(buf)};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  ck_assert_ptr_nonnull(a);
  cpay_encode_opts o = {.flags = CPAY_ENCODE_DETERMINISTIC};
  cpay_bytes out;
  ck_assert_msg(cpay_encode(m, &test_T3_table, a, &o, &out, &st) == CPAY_OK, "%s", st.msg);
  ck_assert_bytes(out.data, out.size, want, sizeof(want) - 1);
  // The space in front of the output is the arena's again; using it leaves
  // the output alone.
  char *p = cpay_arena_malloc(a, 128);
  ck_assert_ptr_nonnull(p);
  memset(p, 0xee, 128);
  ck_assert_bytes(out.data, out.size, want, sizeof(want) - 1);
  cpay_arena_free(a);
}
END_TEST

// A message using every kind of field, for round trips.
static test_T3 *full_t3(int depth) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->i32 = -5;
  m->i64 = INT64_MAX;
  m->u32 = 1u << 31;
  m->u64 = UINT64_MAX - 1;
  m->s32 = INT32_MIN;
  m->s64 = -3;
  m->fx32 = 7;
  m->fx64 = 8;
  m->sfx32 = -9;
  m->sfx64 = -10;
  m->flt = 3.25f;
  m->dbl = 1e300;
  m->b = true;
  m->str = CPAY_STR("\xe2\x82\xac uro");
  m->byt = (cpay_bytes){(const uint8_t *)"\x00\x01\x02", 3};
  m->enm = 2;
  m->opt_i32 = 0;
  cpay__set_has(m, 0);
  for (int i = 0; i < 200; i++) {
    *(int32_t *)cpay__array_add(&m->r_i32, 4, arena) = i * 1000 - 5000;
    *(int64_t *)cpay__array_add(&m->r_s64, 8, arena) = -i;
    *(uint32_t *)cpay__array_add(&m->r_fx32, 4, arena) = (uint32_t)i;
    *(double *)cpay__array_add(&m->r_dbl, 8, arena) = i / 3.0;
    *(bool *)cpay__array_add(&m->r_bool, 1, arena) = i & 1;
    *(int32_t *)cpay__array_add(&m->r_enm, 4, arena) = i % 3;
    *(int32_t *)cpay__array_add(&m->r_i32u, 4, arena) = -i;
  }
  *(cpay_str *)cpay__array_add(&m->r_str, sizeof(cpay_str), arena) = CPAY_STR("one");
  *(cpay_str *)cpay__array_add(&m->r_str, sizeof(cpay_str), arena) = CPAY_STR("");
  *(cpay_bytes *)cpay__array_add(&m->r_byt, sizeof(cpay_bytes), arena) =
      (cpay_bytes){(const uint8_t *)"\xff", 1};
  m->o_case = 52;
  m->o.o_str = CPAY_STR("oneof");
  m->m_str_i32 = cpay_map_new(arena, CPAY_TYPE_STRING, CPAY_TYPE_INT32);
  ck_assert_int_eq(cpay_map_set(m->m_str_i32, (cpay_value){.str = CPAY_STR("k")},
                                (cpay_value){.i32 = -1}, arena), CPAY_OK);
  if (depth > 0) {
    m->child = full_t3(depth - 1);
    *(test_T3 **)cpay__array_add(&m->r_msg, sizeof(void *), arena) = full_t3(depth - 1);
    *(test_T3 **)cpay__array_add(&m->r_msg, sizeof(void *), arena) =
        cpay_msg_new(&test_T3_table, arena);
    m->m_i32_msg = cpay_map_new(arena, CPAY_TYPE_INT32, CPAY_TYPE_MESSAGE);
    ck_assert_int_eq(cpay_map_set(m->m_i32_msg, (cpay_value){.i32 = 3},
                                  (cpay_value){.msg = full_t3(depth - 1)}, arena), CPAY_OK);
  }
  return m;
}

START_TEST(test_encode_round_trip_everything) {
  test_T3 *m = full_t3(2);
  cpay_bytes out = enc3(m);
  ck_assert_uint_gt(out.size, 10000);  // multi-byte lengths, buffer growth
  test_T3 *back = cpay_msg_new(&test_T3_table, arena);
  ck_assert_int_eq(cpay_decode(out.data, out.size, back, &test_T3_table, arena, NULL, &st), CPAY_OK);
  ck_assert_int_eq(back->i32, -5);
  ck_assert_int_eq(back->s32, INT32_MIN);
  ck_assert(back->dbl == 1e300);
  ck_assert_uint_eq(back->r_i32.size, 200);
  ck_assert_int_eq(back->r_i32.data[199], 199 * 1000 - 5000);
  ck_assert_uint_eq(back->r_bool.size, 200);
  ck_assert_uint_eq(back->r_str.size, 2);
  ck_assert_uint_eq(back->o_case, 52);
  ck_assert(cpay_str_eq(back->o.o_str, CPAY_STR("oneof")));
  ck_assert(cpay__has(back, 0));
  ck_assert_ptr_nonnull(back->child->child);
  ck_assert_uint_eq(back->r_msg.size, 2);
  ck_assert_uint_eq(cpay_map_size(back->m_i32_msg), 1);
  cpay_bytes again = enc3(back);
  ck_assert_bytes(again.data, again.size, out.data, out.size);
}
END_TEST

START_TEST(test_encode_round_trip_unknown_and_closed_enum) {
  wbuf w = {.n = 0};
  w_vfield(&w, 1, 1);
  w_vfield(&w, 4, 77);  // unknown Color
  w_vfield(&w, 500, 1);
  w_tag(&w, 501, 3);
  w_vfield(&w, 1, 2);
  w_tag(&w, 501, 4);
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert_int_eq(cpay_decode(w.b, w.n, m, &test_T2_table, arena, NULL, &st), CPAY_OK);
  cpay_bytes out = enc_opts(m, &test_T2_table, 0, CPAY_OK);
  ck_assert_bytes(out.data, out.size, w.b, w.n);
}
END_TEST

START_TEST(test_encode_large_string_grows_buffer) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  static char big[100000];
  memset(big, 'z', sizeof(big));
  m->child = cpay_msg_new(&test_T3_table, arena);
  m->child->byt = (cpay_bytes){(const uint8_t *)big, sizeof(big)};
  m->i32 = 1;
  cpay_bytes out = enc3(m);
  // 08 01, 8a 01 <len 100004 as varint: 3 bytes> 7a a0 8d 06 ...
  ck_assert_uint_eq(out.size, 2 + 2 + 3 + 1 + 3 + sizeof(big));
  ck_assert_int_eq(out.data[0], 0x08);
  ck_assert_int_eq(out.data[4], 0xa4);
}
END_TEST

START_TEST(test_encode_output_survives_later_allocations) {
  // The encoder writes into the free end of the arena's current block and
  // gives back the space before the output: later allocations (and later
  // encodes) must not overlap earlier outputs.
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  m->str = CPAY_STR("testing");
  cpay_bytes a = enc3(m);
  m->i32 = 150;
  cpay_bytes b = enc3(m);
  for (int i = 0; i < 1000; i++) {  // fills the rest of the block exactly
    char *p = cpay_arena_malloc(arena, 8);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xee, 8);
  }
  char *r = cpay_arena_malloc(arena, 8);
  ck_assert_ptr_nonnull(r);
  r = cpay_arena_realloc(arena, r, 8, 3000);  // the last allocation grows
  ck_assert_ptr_nonnull(r);
  memset(r, 0xdd, 3000);
  ck_assert_enc(a, "\x72\x07testing");
  ck_assert_enc(b, "\x08\x96\x01\x72\x07testing");
}
END_TEST

Suite *encode_suite(void) {
  Suite *s = suite_create("encode");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_encode_empty);
  tcase_add_test(tc, test_encode_known_bytes);
  tcase_add_test(tc, test_encode_proto3_defaults_and_presence);
  tcase_add_test(tc, test_encode_field_order);
  tcase_add_test(tc, test_encode_packed_and_unpacked);
  tcase_add_test(tc, test_encode_groups_and_proto2);
  tcase_add_test(tc, test_encode_required);
  tcase_add_test(tc, test_encode_maps);
  tcase_add_test(tc, test_encode_unknown_and_extensions);
  tcase_add_test(tc, test_encode_message_set);
  tcase_add_test(tc, test_encode_depth_limit);
  tcase_add_test(tc, test_encode_message_without_fields);
  tcase_add_test(tc, test_encode_no_memory);
  tcase_add_test(tc, test_encode_deterministic_in_fixed_buffer);
  tcase_add_test(tc, test_encode_round_trip_everything);
  tcase_add_test(tc, test_encode_round_trip_unknown_and_closed_enum);
  tcase_add_test(tc, test_encode_large_string_grows_buffer);
  tcase_add_test(tc, test_encode_output_survives_later_allocations);
  suite_add_tcase(s, tc);
  return s;
}
