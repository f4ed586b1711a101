// cpay_map: insert, replace, lookup, delete with swap-remove, insertion-order
// iteration, and every key kind.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"

Suite *map_suite(void);

static cpay_arena *arena;

static void setup(void) { arena = cpay_arena_new(); }
static void teardown(void) { cpay_arena_free(arena); }

static cpay_value I32(int32_t v) { return (cpay_value){.i32 = v}; }

START_TEST(test_map_set_get_replace) {
  cpay_map *m = cpay_map_new(arena, CPAY_TYPE_INT32, CPAY_TYPE_INT32);
  ck_assert_uint_eq(cpay_map_size(m), 0);
  ck_assert_uint_eq(cpay_map_size(NULL), 0);
  ck_assert(!cpay_map_get(m, I32(1), NULL));
  ck_assert_int_eq(cpay_map_set(m, I32(1), I32(10), arena), CPAY_OK);
  ck_assert_int_eq(cpay_map_set(m, I32(-1), I32(20), arena), CPAY_OK);
  ck_assert_int_eq(cpay_map_set(m, I32(1), I32(30), arena), CPAY_OK);
  ck_assert_uint_eq(cpay_map_size(m), 2);
  cpay_value v;
  ck_assert(cpay_map_get(m, I32(1), &v));
  ck_assert_int_eq(v.i32, 30);
  ck_assert(cpay_map_get(m, I32(-1), &v));
  ck_assert_int_eq(v.i32, 20);
  ck_assert(!cpay_map_get(m, I32(2), &v));
}
END_TEST

START_TEST(test_map_iterate_insertion_order_and_delete) {
  cpay_map *m = cpay_map_new(arena, CPAY_TYPE_INT64, CPAY_TYPE_STRING);
  for (int64_t i = 0; i < 5; i++) {
    ck_assert_int_eq(cpay_map_set(m, (cpay_value){.i64 = i * 100},
                                  (cpay_value){.str = CPAY_STR("v")}, arena), CPAY_OK);
  }
  size_t it = 0;
  cpay_value k, v;
  int64_t want = 0;
  while (cpay_map_next(m, &it, &k, &v)) {
    ck_assert_int_eq(k.i64, want);
    want += 100;
  }
  ck_assert_int_eq(want, 500);
  // Deleting moves the last entry into the hole.
  ck_assert(cpay_map_delete(m, (cpay_value){.i64 = 100}));
  ck_assert(!cpay_map_delete(m, (cpay_value){.i64 = 100}));
  int64_t order[4];
  it = 0;
  for (int i = 0; cpay_map_next(m, &it, &k, NULL); i++) order[i] = k.i64;
  ck_assert_int_eq(order[0], 0);
  ck_assert_int_eq(order[1], 400);
  ck_assert_int_eq(order[2], 200);
  ck_assert_int_eq(order[3], 300);
  ck_assert(cpay_map_get(m, (cpay_value){.i64 = 400}, NULL));
  cpay_map_clear(m);
  ck_assert_uint_eq(cpay_map_size(m), 0);
  ck_assert(!cpay_map_get(m, (cpay_value){.i64 = 0}, NULL));
  ck_assert_int_eq(cpay_map_set(m, (cpay_value){.i64 = 7}, (cpay_value){.str = CPAY_STR("x")}, arena), CPAY_OK);
  ck_assert(cpay_map_get(m, (cpay_value){.i64 = 7}, NULL));
}
END_TEST

START_TEST(test_map_string_keys) {
  cpay_map *m = cpay_map_new(arena, CPAY_TYPE_STRING, CPAY_TYPE_DOUBLE);
  char keys[500][8];
  for (int i = 0; i < 500; i++) {
    snprintf(keys[i], sizeof(keys[i]), "k%d", i);
    ck_assert_int_eq(cpay_map_set(m, (cpay_value){.str = cpay_str_from_c(keys[i])},
                                  (cpay_value){.d = i}, arena), CPAY_OK);
  }
  ck_assert_uint_eq(cpay_map_size(m), 500);
  // Lookups with equal contents at another address.
  char probe[8];
  for (int i = 0; i < 500; i++) {
    snprintf(probe, sizeof(probe), "k%d", i);
    cpay_value v;
    ck_assert(cpay_map_get(m, (cpay_value){.str = cpay_str_from_c(probe)}, &v));
    ck_assert(v.d == i);
  }
  ck_assert(cpay_map_get(m, (cpay_value){.str = CPAY_STR("k1")}, NULL));
  ck_assert(!cpay_map_get(m, (cpay_value){.str = CPAY_STR("k")}, NULL));
  ck_assert(!cpay_map_get(m, (cpay_value){.str = CPAY_STR("")}, NULL));
}
END_TEST

START_TEST(test_map_many_deletes_stay_consistent) {
  cpay_map *m = cpay_map_new(arena, CPAY_TYPE_UINT32, CPAY_TYPE_UINT32);
  for (uint32_t i = 0; i < 2000; i++) {
    ck_assert_int_eq(cpay_map_set(m, (cpay_value){.u32 = i * 7919u},
                                  (cpay_value){.u32 = i}, arena), CPAY_OK);
  }
  for (uint32_t i = 0; i < 2000; i += 2) ck_assert(cpay_map_delete(m, (cpay_value){.u32 = i * 7919u}));
  ck_assert_uint_eq(cpay_map_size(m), 1000);
  for (uint32_t i = 0; i < 2000; i++) {
    cpay_value v;
    bool found = cpay_map_get(m, (cpay_value){.u32 = i * 7919u}, &v);
    ck_assert(found == (i % 2 == 1));
    if (found) ck_assert_uint_eq(v.u32, i);
  }
  // Re-insert and iterate: every entry seen once.
  for (uint32_t i = 0; i < 2000; i += 2) {
    ck_assert_int_eq(cpay_map_set(m, (cpay_value){.u32 = i * 7919u}, (cpay_value){.u32 = i}, arena), CPAY_OK);
  }
  size_t it = 0, n = 0;
  cpay_value k, v;
  while (cpay_map_next(m, &it, &k, &v)) {
    ck_assert_uint_eq(k.u32, v.u32 * 7919u);
    n++;
  }
  ck_assert_uint_eq(n, 2000);
}
END_TEST

START_TEST(test_map_bool_and_u64_keys) {
  cpay_map *m = cpay_map_new(arena, CPAY_TYPE_BOOL, CPAY_TYPE_INT32);
  ck_assert_int_eq(cpay_map_set(m, (cpay_value){.b = true}, I32(1), arena), CPAY_OK);
  ck_assert_int_eq(cpay_map_set(m, (cpay_value){.b = false}, I32(2), arena), CPAY_OK);
  ck_assert_uint_eq(cpay_map_size(m), 2);
  cpay_value v;
  ck_assert(cpay_map_get(m, (cpay_value){.b = false}, &v));
  ck_assert_int_eq(v.i32, 2);
  cpay_map *u = cpay_map_new(arena, CPAY_TYPE_UINT64, CPAY_TYPE_BOOL);
  ck_assert_int_eq(cpay_map_set(u, (cpay_value){.u64 = UINT64_MAX}, (cpay_value){.b = true}, arena), CPAY_OK);
  ck_assert(cpay_map_get(u, (cpay_value){.u64 = UINT64_MAX}, &v));
  ck_assert(!cpay_map_get(u, (cpay_value){.u64 = UINT32_MAX}, &v));
}
END_TEST

START_TEST(test_map_out_of_memory) {
  _Alignas(8) char buf[400];
  cpay_arena_opts o = {.initial_block = buf, .initial_size = sizeof(buf)};
  cpay_arena *a = cpay_arena_new_opts(&o);
  cpay_map *m = cpay_map_new(a, CPAY_TYPE_INT32, CPAY_TYPE_INT32);
  ck_assert_ptr_nonnull(m);
  cpay_code c = CPAY_OK;
  int32_t i;
  for (i = 0; i < 1000 && c == CPAY_OK; i++) c = cpay_map_set(m, I32(i), I32(i), a);
  ck_assert_int_eq(c, CPAY_ERR_NO_MEMORY);
  // What was inserted is intact.
  for (int32_t j = 0; j < i - 1; j++) ck_assert(cpay_map_get(m, I32(j), NULL));
  cpay_arena_free(a);
}
END_TEST

Suite *map_suite(void) {
  Suite *s = suite_create("map");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_map_set_get_replace);
  tcase_add_test(tc, test_map_iterate_insertion_order_and_delete);
  tcase_add_test(tc, test_map_string_keys);
  tcase_add_test(tc, test_map_many_deletes_stay_consistent);
  tcase_add_test(tc, test_map_bool_and_u64_keys);
  tcase_add_test(tc, test_map_out_of_memory);
  suite_add_tcase(s, tc);
  return s;
}
