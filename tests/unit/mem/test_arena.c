// Arena: initial blocks, custom and failing allocators, byte limits,
// realloc in place, reset (bounded, with a spare block) and large and huge
// allocations.
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpay/arena.h"
#include "wire/test_schema.h"

Suite *arena_suite(void);

START_TEST(test_arena_default_malloc) {
  cpay_arena *a = cpay_arena_new();
  ck_assert_ptr_nonnull(a);
  for (int i = 0; i < 1000; i++) {
    char *p = cpay_arena_malloc(a, 13);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % CPAY_ARENA_ALIGN, 0);
    memset(p, 0xab, 13);
  }
  ck_assert_uint_ge(cpay_arena_space_allocated(a), 13000);
  cpay_arena_free(a);
  cpay_arena_free(NULL);
}
END_TEST

START_TEST(test_arena_initial_block_no_malloc) {
  _Alignas(8) char buf[1024];
  cpay_arena_opts o = {.initial_block = buf, .initial_size = sizeof(buf)};
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  ck_assert((const char *)((void *)a) >= (const char *)((void *)buf));
  ck_assert((const char *)((void *)a) < (const char *)((void *)(buf + sizeof(buf))));
  size_t total = 0;
  void *p;
  while ((p = cpay_arena_malloc(a, 16)) != NULL) {
    ck_assert((const char *)(p) >= (const char *)((void *)buf));
    ck_assert((const char *)(p) < (const char *)((void *)(buf + sizeof(buf))));
    total += 16;
  }
  ck_assert_uint_gt(total, 700);
  ck_assert_uint_eq(cpay_arena_space_allocated(a), sizeof(buf));
  cpay_arena_reset(a);
  ck_assert_ptr_nonnull(cpay_arena_malloc(a, 16));
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_initial_block_too_small) {
  char buf[8];
  cpay_arena_opts o = {.initial_block = buf, .initial_size = sizeof(buf)};
  ck_assert_ptr_null(cpay_arena_new_opts(&o));
}
END_TEST

START_TEST(test_arena_initial_block_then_allocator) {
  _Alignas(8) char buf[512];
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.initial_block = buf, .initial_size = sizeof(buf), .alloc = &ta.alloc};
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(ta.allocs, 0);
  for (int i = 0; i < 100; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 64));
  ck_assert_uint_gt(ta.allocs, 0);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.allocs, ta.frees);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_custom_allocator_counts_and_grows) {
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc, .block_size = 256};
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(ta.allocs, 1);
  for (int i = 0; i < 1000; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 32));
  // 32000 bytes from blocks doubling from 512: far fewer blocks than allocations.
  ck_assert_uint_le(ta.allocs, 10);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.allocs, ta.frees);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_failing_allocator) {
  test_alloc ta;
  test_alloc_init(&ta, 1);
  cpay_arena_opts o = {.alloc = &ta.alloc};
  ck_assert_ptr_null(cpay_arena_new_opts(&o));

  test_alloc_init(&ta, 2);
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  void *p = NULL;
  for (int i = 0; i < 10000 && (p = cpay_arena_malloc(a, 100)) != NULL; i++) {
  }
  ck_assert_ptr_null(p);
  ck_assert_str_eq(cpay_arena_error(a), "out of memory: the block allocator failed");
  ck_assert_ptr_null(cpay_arena_malloc(a, 1 << 20));  // large allocations fail too
  ck_assert_ptr_null(cpay_arena_malloc(a, SIZE_MAX - 8));
  ck_assert_str_eq(cpay_arena_error(a), "out of memory: allocation too large");
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_byte_limit) {
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc, .max_bytes = 10000, .block_size = 1024};
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  size_t got = 0;
  while (cpay_arena_malloc(a, 64)) got += 64;
  ck_assert_uint_le(cpay_arena_space_allocated(a), 10000);
  ck_assert_uint_gt(got, 7000);
  ck_assert_ptr_null(cpay_arena_malloc(a, 20000));
  ck_assert_str_eq(cpay_arena_error(a),
                   "out of memory: the arena's byte limit (max_bytes) is reached");
  cpay_arena_free(a);

  // A caller buffer without an allocator: the buffer is all there is.
  _Alignas(8) char buf[512];
  cpay_arena_opts fixed = {.initial_block = buf, .initial_size = sizeof(buf)};
  a = cpay_arena_new_opts(&fixed);
  ck_assert_str_eq(cpay_arena_error(a), "out of memory");  // nothing failed yet
  ck_assert_ptr_null(cpay_arena_malloc(a, 1024));
  ck_assert_str_eq(cpay_arena_error(a), "out of memory: the arena's fixed buffer is full");
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_realloc_in_place) {
  cpay_arena *a = cpay_arena_new();
  char *p = cpay_arena_malloc(a, 16);
  memcpy(p, "0123456789abcdef", 16);
  char *q = cpay_arena_realloc(a, p, 16, 64);
  ck_assert_ptr_eq(p, q);  // last allocation grows in place
  ck_assert_int_eq(memcmp(q, "0123456789abcdef", 16), 0);
  char *r = cpay_arena_malloc(a, 8);
  ck_assert_ptr_eq(r, p + 64);
  char *s = cpay_arena_realloc(a, p, 64, 128);  // no longer last: moved, copied
  ck_assert_ptr_ne(s, p);
  ck_assert_int_eq(memcmp(s, "0123456789abcdef", 16), 0);
  // Shrinking the last allocation gives space back.
  char *t = cpay_arena_realloc(a, s, 128, 8);
  ck_assert_ptr_eq(t, s);
  ck_assert_ptr_eq(cpay_arena_malloc(a, 8), s + 8);
  // NULL behaves like malloc.
  ck_assert_ptr_nonnull(cpay_arena_realloc(a, NULL, 0, 10));
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_realloc_grows_past_block) {
  cpay_arena *a = cpay_arena_new();
  char *p = cpay_arena_malloc(a, 100);
  memset(p, 7, 100);
  char *q = cpay_arena_realloc(a, p, 100, 100000);
  ck_assert_ptr_nonnull(q);
  for (int i = 0; i < 100; i++) ck_assert_int_eq(q[i], 7);
  memset(q, 1, 100000);
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_reset_keeps_first_block) {
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc, .block_size = 512};
  cpay_arena *a = cpay_arena_new_opts(&o);
  size_t first = cpay_arena_space_allocated(a);
  void *p0 = cpay_arena_malloc(a, 8);
  for (int i = 0; i < 200; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 64));
  ck_assert_uint_gt(cpay_arena_space_allocated(a), first);
  size_t allocs = ta.allocs;
  cpay_arena_reset(a);
  // The first block and the others (1 + 2 + 4 + 8 KiB here: the arena holds
  // less than 64 KiB) stay, as spares.
  ck_assert_uint_eq(cpay_arena_space_allocated(a), first + 1024 + 2048 + 4096 + 8192);
  ck_assert_uint_eq(ta.frees, 0);
  ck_assert_ptr_eq(cpay_arena_malloc(a, 8), p0);
  // The same work again allocates nothing: the spares serve it.
  for (int i = 0; i < 200; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 64));
  ck_assert_uint_eq(ta.allocs, allocs);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.allocs, ta.frees);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

// Allocations like decoding one message of about 2.3 KB: the message, its
// strings and arrays, about 5 KiB in all.
static void one_message(cpay_arena *a) {
  ck_assert_ptr_nonnull(cpay_arena_malloc(a, 200));
  for (int i = 0; i < 40; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 60 + i % 7));
  ck_assert_ptr_nonnull(cpay_arena_malloc(a, 2300));
}

START_TEST(test_arena_reused_for_many_messages_stays_small) {
  // An arena reset after each of 1,000 messages holds what one needs (at
  // most 64 KiB) and, once warm, allocates nothing more.
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc};
  cpay_arena *a = cpay_arena_new_opts(&o);
  size_t warm_allocs = 0, most = 0;
  for (int m = 0; m < 1000; m++) {
    one_message(a);
    size_t held = cpay_arena_space_allocated(a);
    if (held > most) most = held;
    cpay_arena_reset(a);
    if (m == 1) warm_allocs = ta.allocs;
  }
  ck_assert_uint_le(most, 64 * 1024);
  ck_assert_uint_le(cpay_arena_space_allocated(a), 64 * 1024);
  ck_assert_uint_eq(ta.allocs, warm_allocs);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_reset_restarts_growth) {
  // After a big piece of work, a reset returns to at most 64 KiB held (the
  // big blocks go, small ones stay as spares) and growth starts over.
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc};
  cpay_arena *a = cpay_arena_new_opts(&o);
  size_t first = cpay_arena_space_allocated(a);
  for (int i = 0; i < 20000; i++) ck_assert_ptr_nonnull(cpay_arena_malloc(a, 128));
  ck_assert_uint_gt(cpay_arena_space_allocated(a), (size_t)2 << 20);
  cpay_arena_reset(a);
  ck_assert_uint_gt(cpay_arena_space_allocated(a), first);
  ck_assert_uint_le(cpay_arena_space_allocated(a), 64 * 1024);
  size_t allocs = ta.allocs;
  one_message(a);
  ck_assert_uint_le(cpay_arena_space_allocated(a), 64 * 1024);
  ck_assert_uint_eq(ta.allocs, allocs);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_default_first_block_is_small) {
  // A default arena starts with 768 bytes: enough for a small message.
  cpay_arena *a = cpay_arena_new();
  ck_assert_uint_le(cpay_arena_space_allocated(a), 768);
  ck_assert_ptr_nonnull(cpay_arena_malloc(a, 512));
  ck_assert_uint_le(cpay_arena_space_allocated(a), 768);
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_huge_sizes_fail) {
  // Sizes whose rounding up to 8 would wrap, or that no block can hold,
  // fail cleanly instead of returning a tiny allocation.
  cpay_arena *a = cpay_arena_new();
  // (Sizes past PTRDIFF_MAX, which no object can have, never reach the
  // allocator either.)
  static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 3, SIZE_MAX - 7, SIZE_MAX - 8,
                                SIZE_MAX - 16, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    ck_assert_ptr_null(cpay_arena_malloc(a, huge[i]));
    ck_assert_str_eq(cpay_arena_error(a), "out of memory: allocation too large");
  }
  char *p = cpay_arena_malloc(a, 16);
  ck_assert_ptr_nonnull(p);
  ck_assert_ptr_null(cpay_arena_realloc(a, p, 16, SIZE_MAX - 3));
  ck_assert_ptr_null(cpay_arena_realloc(a, p, 16, SIZE_MAX));
  // The arena still works.
  ck_assert_ptr_nonnull(cpay_arena_realloc(a, p, 16, 32));
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_initial_block_unaligned_end) {
  // A caller buffer whose end is not a multiple of 8: every pointer stays
  // aligned and inside the buffer.
  _Alignas(8) char buf[301];
  cpay_arena_opts o = {.initial_block = buf, .initial_size = sizeof(buf)};
  cpay_arena *a = cpay_arena_new_opts(&o);
  ck_assert_ptr_nonnull(a);
  char *p;
  while ((p = cpay_arena_malloc(a, 3)) != NULL) {
    ck_assert_uint_eq((uintptr_t)p % CPAY_ARENA_ALIGN, 0);
    ck_assert(p + 3 <= buf + sizeof(buf));
  }
  cpay_arena_free(a);
}
END_TEST

START_TEST(test_arena_large_allocation_own_block) {
  test_alloc ta;
  test_alloc_init(&ta, 0);
  cpay_arena_opts o = {.alloc = &ta.alloc, .block_size = 1024};
  cpay_arena *a = cpay_arena_new_opts(&o);
  char *small1 = cpay_arena_malloc(a, 8);
  char *big = cpay_arena_malloc(a, 1 << 20);
  ck_assert_ptr_nonnull(big);
  memset(big, 0, 1 << 20);
  ck_assert_uint_eq(ta.allocs, 2);
  // The bump region of the first block is still in use.
  char *small2 = cpay_arena_malloc(a, 8);
  ck_assert_ptr_eq(small2, small1 + 8);
  cpay_arena_free(a);
  ck_assert_uint_eq(ta.live_bytes, 0);
}
END_TEST

START_TEST(test_arena_zero_size) {
  cpay_arena *a = cpay_arena_new();
  void *p = cpay_arena_malloc(a, 0);
  void *q = cpay_arena_malloc(a, 0);
  ck_assert_ptr_eq(p, q);
  cpay_arena_free(a);
}
END_TEST

Suite *arena_suite(void) {
  Suite *s = suite_create("arena");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_arena_default_malloc);
  tcase_add_test(tc, test_arena_initial_block_no_malloc);
  tcase_add_test(tc, test_arena_initial_block_too_small);
  tcase_add_test(tc, test_arena_initial_block_then_allocator);
  tcase_add_test(tc, test_arena_custom_allocator_counts_and_grows);
  tcase_add_test(tc, test_arena_failing_allocator);
  tcase_add_test(tc, test_arena_byte_limit);
  tcase_add_test(tc, test_arena_realloc_in_place);
  tcase_add_test(tc, test_arena_realloc_grows_past_block);
  tcase_add_test(tc, test_arena_reset_keeps_first_block);
  tcase_add_test(tc, test_arena_reused_for_many_messages_stays_small);
  tcase_add_test(tc, test_arena_reset_restarts_growth);
  tcase_add_test(tc, test_arena_default_first_block_is_small);
  tcase_add_test(tc, test_arena_huge_sizes_fail);
  tcase_add_test(tc, test_arena_initial_block_unaligned_end);
  tcase_add_test(tc, test_arena_large_allocation_own_block);
  tcase_add_test(tc, test_arena_zero_size);
  suite_add_tcase(s, tc);
  return s;
}
