// Varint, zigzag and UTF-8 helpers of the wire layer.
#include <check.h>
#include <string.h>

#include "wire/wire.h"

Suite *varint_suite(void);

START_TEST(test_varint_all_lengths) {
  for (int len = 1; len <= 10; len++) {
    uint64_t v = len == 10 ? UINT64_MAX : ((uint64_t)1 << (7 * (len - 1)));
    uint8_t buf[16];
    size_t n = cpay__varint_put(buf, v);
    ck_assert_uint_eq(n, (size_t)len);
    ck_assert_uint_eq(cpay__varint_size(v), (size_t)len);
    uint64_t got = 0;
    const uint8_t *end = cpay__varint_get(buf, buf + n, &got);
    ck_assert_ptr_eq(end, buf + n);
    ck_assert_uint_eq(got, v);
    // Largest value of this length too.
    uint64_t maxv = len == 10 ? UINT64_MAX : ((uint64_t)1 << (7 * len)) - 1;
    n = cpay__varint_put(buf, maxv);
    ck_assert_uint_eq(n, (size_t)len);
    end = cpay__varint_get(buf, buf + n, &got);
    ck_assert_ptr_eq(end, buf + n);
    ck_assert_uint_eq(got, maxv);
  }
}
END_TEST

START_TEST(test_varint_truncated) {
  const uint8_t buf[] = {0x80, 0x80, 0x80};
  uint64_t v;
  for (size_t n = 0; n <= sizeof(buf); n++) {
    ck_assert_ptr_null(cpay__varint_get(buf, buf + n, &v));
    ck_assert(cpay__varint_truncated(buf, buf + n));
  }
}
END_TEST

START_TEST(test_varint_overlong) {
  uint8_t buf[11];
  memset(buf, 0x80, sizeof(buf));
  buf[10] = 0x01;
  uint64_t v;
  ck_assert_ptr_null(cpay__varint_get(buf, buf + 11, &v));
  ck_assert(!cpay__varint_truncated(buf, buf + 11));
  // Ten bytes with padding zeros are accepted (non-canonical but valid).
  buf[9] = 0x00;
  ck_assert_ptr_eq(cpay__varint_get(buf, buf + 11, &v), buf + 10);
  ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_varint_two_byte_fast_path_at_end) {
  const uint8_t buf[] = {0x96, 0x01};
  uint64_t v;
  ck_assert_ptr_eq(cpay__varint_get(buf, buf + 2, &v), buf + 2);
  ck_assert_uint_eq(v, 150);
  ck_assert_ptr_eq(cpay__varint_get(buf + 1, buf + 2, &v), buf + 2);
  ck_assert_uint_eq(v, 1);
}
END_TEST

START_TEST(test_varint_zigzag) {
  ck_assert_uint_eq(cpay__zigzag_enc32(0), 0);
  ck_assert_uint_eq(cpay__zigzag_enc32(-1), 1);
  ck_assert_uint_eq(cpay__zigzag_enc32(1), 2);
  ck_assert_uint_eq(cpay__zigzag_enc32(INT32_MIN), UINT32_MAX);
  ck_assert_uint_eq(cpay__zigzag_enc64(INT64_MIN), UINT64_MAX);
  ck_assert_int_eq(cpay__zigzag_dec32(UINT32_MAX), INT32_MIN);
  ck_assert_int_eq(cpay__zigzag_dec64(UINT64_MAX), INT64_MIN);
  ck_assert_int_eq(cpay__zigzag_dec64(cpay__zigzag_enc64(INT64_MAX)), INT64_MAX);
  ck_assert_int_eq(cpay__zigzag_dec32(3), -2);
}
END_TEST

START_TEST(test_varint_utf8) {
  ck_assert(cpay__utf8_valid("", 0));
  ck_assert(cpay__utf8_valid("plain ascii text longer than eight", 34));
  ck_assert(cpay__utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
  ck_assert(!cpay__utf8_valid("\xc0\xaf", 2));          // overlong
  ck_assert(!cpay__utf8_valid("\xe0\x80\xaf", 3));      // overlong
  ck_assert(!cpay__utf8_valid("\xed\xa0\x80", 3));      // surrogate
  ck_assert(!cpay__utf8_valid("\xf4\x90\x80\x80", 4));  // > U+10FFFF
  ck_assert(!cpay__utf8_valid("abcdefgh\xff", 9));
  ck_assert(!cpay__utf8_valid("\xe2\x82", 2));          // truncated
  ck_assert(!cpay__utf8_valid("\x80", 1));              // stray continuation
}
END_TEST

Suite *varint_suite(void) {
  Suite *s = suite_create("varint");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_varint_all_lengths);
  tcase_add_test(tc, test_varint_truncated);
  tcase_add_test(tc, test_varint_overlong);
  tcase_add_test(tc, test_varint_two_byte_fast_path_at_end);
  tcase_add_test(tc, test_varint_zigzag);
  tcase_add_test(tc, test_varint_utf8);
  suite_add_tcase(s, tc);
  return s;
}
