// Messages through tables: new with defaults, clear, unknown fields,
// extension storage, is_initialized; strings (and the runtime's string
// copy), enum names and status helpers.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"
#include "cpay/reflect.h"
#include "mem/strdup.h"
#include "message/internal.h"
#include "wire/test_schema.h"

Suite *message_suite(void);

static cpay_arena *arena;

static void setup(void) { arena = cpay_arena_new(); }
static void teardown(void) { cpay_arena_free(arena); }

START_TEST(test_message_new_defaults_and_clear) {
  test_T3 *m3 = cpay_msg_new(&test_T3_table, arena);
  ck_assert_ptr_nonnull(m3);
  ck_assert_ptr_null(m3->hdr.internal);
  ck_assert_int_eq(m3->i32, 0);
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert_int_eq(m->opt_i32, 42);
  ck_assert(cpay_str_eq(m->opt_str, CPAY_STR("hello")));
  ck_assert_int_eq(m->color, TEST_RED);
  ck_assert(!cpay__has(m, 1));
  m->opt_i32 = 1;
  cpay__set_has(m, 1);
  ck_assert_int_eq(cpay_msg_add_unknown(m, (const uint8_t *)"\x08\x01", 2, arena), CPAY_OK);
  cpay_msg_clear(m, &test_T2_table);
  ck_assert_int_eq(m->opt_i32, 42);
  ck_assert(!cpay__has(m, 1));
  ck_assert_uint_eq(cpay_msg_unknown(m).size, 0);
}
END_TEST

START_TEST(test_message_unknown_append) {
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  ck_assert_ptr_null(cpay_msg_unknown(m).data);
  for (int i = 0; i < 100; i++) {
    ck_assert_int_eq(cpay_msg_add_unknown(m, (const uint8_t *)"\xf8\x07\x01", 3, arena), CPAY_OK);
  }
  cpay_bytes u = cpay_msg_unknown(m);
  ck_assert_uint_eq(u.size, 300);
  ck_assert_int_eq(u.data[297], 0xf8);
}
END_TEST

START_TEST(test_message_is_initialized) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert(!cpay_msg_is_initialized(m, &test_T2_table));
  cpay__set_has(m, 0);
  ck_assert(cpay_msg_is_initialized(m, &test_T2_table));
  m->child = cpay_msg_new(&test_T2_table, arena);
  ck_assert(!cpay_msg_is_initialized(m, &test_T2_table));
  // The walk the decoder's error uses finds the child's field 1 (bit 0).
  uint32_t bit = 99;
  ck_assert_ptr_eq(cpay__msg_find_missing(m, &test_T2_table, &bit), &test_T2_table);
  ck_assert_uint_eq(bit, 0);
  cpay__set_has(m->child, 0);
  ck_assert(cpay_msg_is_initialized(m, &test_T2_table));
  ck_assert_ptr_null(cpay__msg_find_missing(m, &test_T2_table, &bit));
  // Extensions holding messages are checked too.
  test_T2_G **g = cpay_msg_mutable_ext(m, &test_ext_msg, arena);
  *g = cpay_msg_new(&test_T2_G_table, arena);
  ck_assert(cpay_msg_is_initialized(m, &test_T2_table));
  test_T3 *m3 = cpay_msg_new(&test_T3_table, arena);
  ck_assert(cpay_msg_is_initialized(m3, &test_T3_table));
}
END_TEST

START_TEST(test_message_extension_storage) {
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_str));
  const cpay_str *s = cpay_msg_mutable_ext(m, &test_ext_str, arena);
  ck_assert(cpay_str_eq(*s, CPAY_STR("dflt")));  // default applied
  int32_t *i = cpay_msg_mutable_ext(m, &test_ext_i32, arena);
  *i = 5;
  cpay_array *rep = cpay_msg_mutable_ext(m, &test_ext_rep, arena);
  *(int32_t *)cpay__array_add(rep, 4, arena) = 9;
  ck_assert_ptr_eq(cpay_msg_get_ext(m, &test_ext_i32), i);
  ck_assert_int_eq(*(const int32_t *)cpay_msg_get_ext(m, &test_ext_i32), 5);
  ck_assert_uint_eq(((const cpay_array *)cpay_msg_get_ext(m, &test_ext_rep))->size, 1);
  cpay_msg_clear_ext(m, &test_ext_i32);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_i32));
  ck_assert_ptr_nonnull(cpay_msg_get_ext(m, &test_ext_str));
  cpay_msg_clear_ext(m, &test_ext_i32);  // absent: no-op
  cpay_msg_clear(m, &test_T2_table);
  ck_assert_ptr_null(cpay_msg_get_ext(m, &test_ext_str));
}
END_TEST

START_TEST(test_message_str_helpers) {
  ck_assert_uint_eq(cpay_str_from_c(NULL).size, 0);
  ck_assert_uint_eq(cpay_str_from_c("abc").size, 3);
  cpay_str d = cpay_str_dup(arena, CPAY_STR("copy"));
  ck_assert(cpay_str_eq(d, CPAY_STR("copy")));
  ck_assert(!cpay_str_eq(d, CPAY_STR("cop")));
  ck_assert(cpay_str_eq((cpay_str){NULL, 0}, CPAY_STR("")));
  // Empty gives {NULL, 0}; a copy is NUL-terminated.
  ck_assert_ptr_null(cpay_str_dup(arena, CPAY_STR("")).data);
  ck_assert_str_eq(cpay_str_dup(arena, (cpay_str){"abc", 2}).data, "ab");
}
END_TEST

// The runtime's one string copy (mem/strdup.h), on an arena and on the heap.
START_TEST(test_message_strndup) {
  ck_assert_str_eq(cpay__strndup(arena, "abcdef", 3), "abc");
  char *p = cpay__strndup(arena, NULL, 0);  // a new "", also for nothing
  ck_assert_ptr_nonnull(p);
  ck_assert_str_eq(p, "");
  p = cpay__strndup(NULL, "heap", 4);  // no arena: malloc, the caller frees
  ck_assert_str_eq(p, "heap");
  free(p);
  ck_assert_ptr_null(cpay__strndup(arena, "x", SIZE_MAX));
}
END_TEST

START_TEST(test_message_status) {
  cpay_status st;
  cpay_status_clear(&st);
  ck_assert_str_eq(cpay_status_msg(&st), "");
  ck_assert_str_eq(cpay_status_msg(NULL), "");
  ck_assert_int_eq(cpay_status_set(&st, CPAY_ERR_UTF8, "first %d", 1), CPAY_ERR_UTF8);
  ck_assert_int_eq(cpay_status_set(&st, CPAY_ERR_DEPTH, "second"), CPAY_ERR_DEPTH);
  ck_assert_int_eq(st.code, CPAY_ERR_UTF8);
  ck_assert_str_eq(cpay_status_msg(&st), "first 1");
  ck_assert_int_eq(cpay_status_set(NULL, CPAY_ERR_DEPTH, "x"), CPAY_ERR_DEPTH);
  cpay_status_clear(NULL);
  for (int c = CPAY_OK; c <= CPAY_ERR_WOULD_BLOCK; c++) {
    const char *s = cpay_code_str((cpay_code)c);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_gt(strlen(s), 0);
  }
  ck_assert_str_eq(cpay_code_str(CPAY_ERR_NO_MEMORY), "out of memory");
  ck_assert_str_eq(cpay_code_str((cpay_code)99), "unknown code");
}
END_TEST

START_TEST(test_message_enum_table) {
  ck_assert(cpay_enum_table_has(&test_Color_table, TEST_RED));
  ck_assert(cpay_enum_table_has(&test_Color_table, TEST_BLUE));
  ck_assert(!cpay_enum_table_has(&test_Color_table, 0));
  ck_assert(!cpay_enum_table_has(&test_Color_table, 63));
  ck_assert(cpay_enum_table_has(&test_Color_table, TEST_NEG));
  ck_assert(cpay_enum_table_has(&test_Color_table, TEST_BIG));
  ck_assert(!cpay_enum_table_has(&test_Color_table, 999));
  ck_assert(!cpay_enum_table_has(&test_Color_table, -1));
}
END_TEST

START_TEST(test_message_enum_names) {
  static const char *const names[] = {"RED", "RED_ALIAS", "BLUE"};
  static const int32_t numbers[] = {1, 1, 3};
  const cpay_enum_desc e = {"test.Color", names, numbers, 3, false};
  ck_assert_str_eq(cpay_enum_name(&e, 1), "RED");  // the first of the aliases
  ck_assert_str_eq(cpay_enum_name(&e, 3), "BLUE");
  ck_assert_ptr_null(cpay_enum_name(&e, 2));
  int32_t v = 0;
  ck_assert(cpay_enum_value(&e, "BLUE", 4, &v));
  ck_assert_int_eq(v, 3);
  ck_assert(cpay_enum_value(&e, "RED_ALIASX", 9, &v));  // counted, not NUL-terminated
  ck_assert_int_eq(v, 1);
  ck_assert(!cpay_enum_value(&e, "BLU", 3, &v));
  ck_assert(!cpay_enum_value(&e, "BLUEX", 5, &v));
  // A name is compared whole: "RED" and a NUL is no value's name.
  ck_assert(!cpay_enum_value(&e, "RED\0_ALIAS", 10, &v));
  ck_assert(!cpay_enum_value(&e, "BLUE\0", 5, &v));
}
END_TEST

Suite *message_suite(void) {
  Suite *s = suite_create("message");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_message_new_defaults_and_clear);
  tcase_add_test(tc, test_message_unknown_append);
  tcase_add_test(tc, test_message_is_initialized);
  tcase_add_test(tc, test_message_extension_storage);
  tcase_add_test(tc, test_message_str_helpers);
  tcase_add_test(tc, test_message_strndup);
  tcase_add_test(tc, test_message_status);
  tcase_add_test(tc, test_message_enum_table);
  tcase_add_test(tc, test_message_enum_names);
  suite_add_tcase(s, tc);
  return s;
}
