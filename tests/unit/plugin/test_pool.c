// Unit tests of plugin/schema/pool.c (run under ASan/LSan in CI, which
// reports a block the pool fails to free).
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "schema/pool.h"

Suite *pool_suite(void);

START_TEST(test_pool_alloc_is_aligned_zeroed_and_distinct) {
  cps_pool *p = cps_pool_new();
  char *prev = NULL;
  for (size_t i = 1; i < 5000; i += 7) {
    char *b = cps_pool_alloc(p, i);
    ck_assert_uint_eq((uintptr_t)b % 16, 0);
    size_t nonzero = 0;  // one assertion per block: 1.8 million are too slow under load
    for (size_t k = 0; k < i; k++) nonzero += b[k] != 0;
    ck_assert_uint_eq(nonzero, 0);
    memset(b, 0xab, i);
    ck_assert_ptr_ne(b, prev);
    prev = b;
  }
  cps_pool_free(p);
}
END_TEST

START_TEST(test_pool_large_blocks_keep_the_bump_region) {
  cps_pool *p = cps_pool_new();
  char *a = cps_pool_alloc(p, 8);
  char *big = cps_pool_alloc(p, 1 << 20);
  memset(big, 1, 1 << 20);
  char *b = cps_pool_alloc(p, 8);
  ck_assert_ptr_eq(b, a + 16);  // same chunk: the big block has its own
  cps_pool_free(p);
}
END_TEST

START_TEST(test_pool_strings_and_buffers_taken) {
  cps_pool *p = cps_pool_new();
  ck_assert_str_eq(cps_pool_strdup(p, "abc"), "abc");
  ck_assert_ptr_null(cps_pool_strdup(p, NULL));
  ck_assert_str_eq(cps_pool_strndup(p, "abcdef", 2), "ab");
  ck_assert_str_eq(cps_pool_printf(p, "%s-%d", "x", 42), "x-42");
  const char *last = NULL;
  for (int i = 0; i < 100; i++) {
    cps_buf b = {0};
    cps_buf_printf(&b, "block %d", i);
    const char *data = b.data;
    last = cps_pool_take(p, &b);
    ck_assert_ptr_eq(last, data);  // the bytes move: no copy
    ck_assert_ptr_null(b.data);    // and the buffer is empty
    ck_assert_uint_eq(b.size, 0);
  }
  ck_assert_str_eq(last, "block 99");
  cps_buf empty = {0};
  ck_assert_str_eq(cps_pool_take(p, &empty), "");
  cps_pool_free(p);
  cps_pool_free(NULL);
}
END_TEST

START_TEST(test_pool_grow_keeps_elements_and_doubles) {
  cps_pool *p = cps_pool_new();
  int *v = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < 1000; i++) {
    int *before = v;
    size_t had = cap;
    v = cps_pool_grow(p, v, i, &cap, sizeof *v);
    ck_assert(i < had ? v == before && cap == had : cap == (had < 4 ? 8 : had * 2));
    v[i] = (int)i;
  }
  for (size_t i = 0; i < 1000; i++) ck_assert_int_eq(v[i], (int)i);
  ck_assert_uint_eq(cap, 1024);
  cps_pool_free(p);
}
END_TEST

Suite *pool_suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("pool");
  tcase_add_test(tc, test_pool_alloc_is_aligned_zeroed_and_distinct);
  tcase_add_test(tc, test_pool_large_blocks_keep_the_bump_region);
  tcase_add_test(tc, test_pool_strings_and_buffers_taken);
  tcase_add_test(tc, test_pool_grow_keeps_elements_and_doubles);
  suite_add_tcase(s, tc);
  return s;
}
