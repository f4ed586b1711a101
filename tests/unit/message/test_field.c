// The reflection layer (message/field.h) on the hand-written tables: storage
// sizes, presence of every kind, marking and clearing, lookup by number and
// by presence bit, iteration over what is set.
#include <check.h>
#include <string.h>

#include "cpay/cpay.h"
#include "cpay/gencode.h"
#include "message/field.h"
#include "wire/test_schema.h"

Suite *field_suite(void);

static cpay_arena *arena;

static void setup(void) { arena = cpay_arena_new(); }
static void teardown(void) { cpay_arena_free(arena); }

static const cpay_field *field(const cpay_msg_table *t, uint32_t number) {
  const cpay_field *f = cpay__field_find(t, number);
  ck_assert_ptr_nonnull(f);
  return f;
}

START_TEST(test_field_type_size) {
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_DOUBLE), sizeof(double));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_FLOAT), sizeof(float));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_SINT64), sizeof(int64_t));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_ENUM), sizeof(int32_t));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_BOOL), sizeof(bool));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_STRING), sizeof(cpay_str));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_BYTES), sizeof(cpay_bytes));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_MESSAGE), sizeof(void *));
  ck_assert_uint_eq(cpay__type_size(CPAY_TYPE_GROUP), sizeof(void *));
  ck_assert_uint_eq(cpay__type_size(0), 0);
  ck_assert_uint_eq(cpay__type_size(19), 0);
}
END_TEST

START_TEST(test_field_has_every_kind) {
  const cpay_msg_table *t = &test_T3_table;
  test_T3 *m = cpay_msg_new(t, arena);
  for (uint32_t i = 0; i < t->field_count; i++) {
    if ((t->fields[i].mode & CPAY_MODE_MASK) == CPAY_MODE_SCALAR) {
      ck_assert_msg(!cpay__field_has(m, &t->fields[i]), "field %u", t->fields[i].number);
    }
  }
  m->dbl = -0.0;  // implicit presence: -0.0 is not the default
  ck_assert(cpay__field_has(m, field(t, 12)));
  m->b = true;
  ck_assert(cpay__field_has(m, field(t, 13)));
  m->str = CPAY_STR("");
  ck_assert(!cpay__field_has(m, field(t, 14)));
  m->str = CPAY_STR("x");
  ck_assert(cpay__field_has(m, field(t, 14)));
  m->child = cpay_msg_new(t, arena);
  ck_assert(cpay__field_has(m, field(t, 17)));
  // Explicit presence: the bit, not the value.
  m->opt_i32 = 0;
  ck_assert(!cpay__field_has(m, field(t, 18)));
  cpay__field_mark(m, field(t, 18));
  ck_assert(cpay__field_has(m, field(t, 18)));
  // A oneof: its case.
  m->o.o_u32 = 0;
  cpay__field_mark(m, field(t, 51));
  ck_assert_uint_eq(m->o_case, 51);
  ck_assert(cpay__field_has(m, field(t, 51)));
  ck_assert(!cpay__field_has(m, field(t, 52)));
  ck_assert(cpay__field_same_oneof(field(t, 51), field(t, 53)));
  ck_assert(!cpay__field_same_oneof(field(t, 1), field(t, 2)));
}
END_TEST

START_TEST(test_field_set_prepare_clear) {
  const cpay_msg_table *t = &test_T3_table;
  test_T3 *m = cpay_msg_new(t, arena);
  cpay_str s = CPAY_STR("abc");
  cpay__field_set(m, field(t, 52), &s);
  ck_assert_uint_eq(m->o_case, 52);
  ck_assert(cpay_str_eq(m->o.o_str, s));
  // Another member: the shared storage starts from zero.
  cpay__field_prepare(m, field(t, 53));
  ck_assert_ptr_null(m->o.o_msg);
  ck_assert_uint_eq(m->o_case, 52);
  // Clearing a member that is not set leaves the oneof alone.
  m->o.o_str = s;
  cpay__field_clear(m, t, field(t, 51));
  ck_assert_uint_eq(m->o_case, 52);
  ck_assert(cpay_str_eq(m->o.o_str, s));
  cpay__field_clear(m, t, field(t, 52));
  ck_assert_uint_eq(m->o_case, 0);
  ck_assert_uint_eq(m->o.o_str.size, 0);
  // Proto2: clearing restores the default and drops the bit.
  test_T2 *m2 = cpay_msg_new(&test_T2_table, arena);
  int32_t v = 7;
  cpay__field_set(m2, field(&test_T2_table, 2), &v);
  ck_assert_int_eq(m2->opt_i32, 7);
  ck_assert(cpay__has(m2, 1));
  cpay__field_clear(m2, &test_T2_table, field(&test_T2_table, 2));
  ck_assert_int_eq(m2->opt_i32, 42);
  ck_assert(!cpay__has(m2, 1));
}
END_TEST

START_TEST(test_field_with_bit_and_oneof_case) {
  // Presence bits: the required field holds bit 0, opt_bytes (10) bit 4.
  ck_assert_ptr_eq(cpay__field_with_bit(&test_T2_table, 0), field(&test_T2_table, 1));
  ck_assert_ptr_eq(cpay__field_with_bit(&test_T2_table, 4), field(&test_T2_table, 10));
  ck_assert_ptr_null(cpay__field_with_bit(&test_T2_table, 5));
  ck_assert_ptr_null(cpay__field_with_bit(&test_T3_MI32MsgEntry_table, 0));
  // The oneof's case, by the field or by its presence.
  const cpay_msg_table *t = &test_T3_table;
  test_T3 *m = cpay_msg_new(t, arena);
  ck_assert_uint_eq(cpay__field_case(m, field(t, 53)), 0);
  cpay__field_mark(m, field(t, 53));
  ck_assert_uint_eq(cpay__field_case(m, field(t, 51)), 53);
  ck_assert_uint_eq(cpay__oneof_case(m, field(t, 52)->presence), 53);
  // A message's zero is its NULL pointer.
  ck_assert(cpay__value_is_zero(CPAY_TYPE_MESSAGE, &m->child));
  m->child = m;
  ck_assert(!cpay__value_is_zero(CPAY_TYPE_MESSAGE, &m->child));
}
END_TEST

START_TEST(test_field_find) {
  const cpay_msg_table *tables[] = {&test_T3_table, &test_T2_table, &test_T2_G_table};
  for (size_t k = 0; k < 3; k++) {
    const cpay_msg_table *t = tables[k];
    uint32_t hint = 0;
    for (uint32_t i = 0; i < t->field_count; i++) {
      ck_assert_ptr_eq(cpay__field_find(t, t->fields[i].number), &t->fields[i]);
      ck_assert_ptr_eq(cpay__field_find_near(t, t->fields[i].number, &hint), &t->fields[i]);
    }
  }
  ck_assert_ptr_null(cpay__field_find(&test_T3_table, 19));
  ck_assert_ptr_null(cpay__field_find(&test_T3_table, 0));
  ck_assert_ptr_null(cpay__field_find(&test_T3_table, 1000));
  ck_assert_ptr_null(cpay__field_find(&test_T2_G_table, 7));
}
END_TEST

// The numbers an iteration yields, extensions as 1000 + number.
static size_t numbers(const void *msg, const cpay_msg_table *t, uint32_t flags, uint32_t *out) {
  cpay__msg_iter it;
  cpay__msg_iter_init(&it, msg, t, flags);
  cpay__field_ref r;
  size_t n = 0;
  while (cpay__msg_next(&it, &r)) {
    if (r.ext) {
      ck_assert_ptr_eq(r.f, &r.ext->field);
      out[n++] = 1000 + r.f->number;
    } else {
      ck_assert_ptr_eq(r.f, &t->fields[r.index]);
      ck_assert_ptr_eq(r.p, (const char *)msg + r.f->offset);
      out[n++] = r.f->number;
    }
  }
  return n;
}

START_TEST(test_field_iteration) {
  uint32_t got[64];
  test_T2 *m = cpay_msg_new(&test_T2_table, arena);
  ck_assert_uint_eq(numbers(m, &test_T2_table, 0, got), 0);
  // Extensions come after the fields, in number order, also an empty
  // repeated one.
  ck_assert_ptr_nonnull(cpay_msg_mutable_ext(m, &test_ext_str, arena));
  ck_assert_ptr_nonnull(cpay_msg_mutable_ext(m, &test_ext_rep, arena));
  cpay__field_mark(m, field(&test_T2_table, 1));
  *(int32_t *)cpay__array_add(&m->r_i32, 4, arena) = 5;
  m->child = cpay_msg_new(&test_T2_table, arena);
  size_t n = numbers(m, &test_T2_table, 0, got);
  ck_assert_uint_eq(n, 5);
  ck_assert_uint_eq(got[0], 1);
  ck_assert_uint_eq(got[1], 9);
  ck_assert_uint_eq(got[2], 12);
  ck_assert_uint_eq(got[3], 1102);
  ck_assert_uint_eq(got[4], 1103);
  // With defaults: implicit-presence scalars, empty repeated fields and
  // maps, but not absent messages, oneof members or `optional` fields.
  test_T3 *m3 = cpay_msg_new(&test_T3_table, arena);
  n = numbers(m3, &test_T3_table, CPAY__ITER_DEFAULTS, got);
  ck_assert_uint_eq(n, 16 + 10 + 2);
  ck_assert_uint_eq(got[15], 16);
  ck_assert_uint_eq(got[16], 31);
  ck_assert_uint_eq(got[25], 40);
  ck_assert_uint_eq(got[26], 61);
  m3->child = cpay_msg_new(&test_T3_table, arena);
  m3->o_case = 53;
  ck_assert_uint_eq(numbers(m3, &test_T3_table, 0, got), 2);
  ck_assert_uint_eq(got[0], 17);
  ck_assert_uint_eq(got[1], 53);
}
END_TEST

START_TEST(test_field_value_load_and_arrays) {
  cpay_str s = CPAY_STR("k");
  cpay_value v = cpay__value_load(CPAY_TYPE_STRING, &s);
  ck_assert(cpay_str_eq(v.str, s));
  bool b = true;
  v = cpay__value_load(CPAY_TYPE_BOOL, &b);
  ck_assert(v.b);
  ck_assert_uint_eq(v.u64 >> 8, 0);  // the rest is zero
  test_T3 *m = cpay_msg_new(&test_T3_table, arena);
  for (int64_t i = 0; i < 20; i++) {
    ck_assert(cpay__array_push(&m->r_s64, CPAY_TYPE_SINT64, &i, arena));
  }
  ck_assert_uint_eq(m->r_s64.size, 20);
  ck_assert_int_eq(*(const int64_t *)cpay__array_at(&m->r_s64, CPAY_TYPE_SINT64, 19), 19);
  const cpay_msg_table *e = &test_T3_MStrI32Entry_table;
  ck_assert_uint_eq(cpay__map_key_field(e)->number, 1);
  ck_assert_uint_eq(cpay__map_value_field(e)->number, 2);
}
END_TEST

Suite *field_suite(void) {
  Suite *s = suite_create("field");
  TCase *tc = tcase_create("field");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_field_type_size);
  tcase_add_test(tc, test_field_has_every_kind);
  tcase_add_test(tc, test_field_set_prepare_clear);
  tcase_add_test(tc, test_field_with_bit_and_oneof_case);
  tcase_add_test(tc, test_field_find);
  tcase_add_test(tc, test_field_iteration);
  tcase_add_test(tc, test_field_value_load_and_arrays);
  suite_add_tcase(s, tc);
  return s;
}
