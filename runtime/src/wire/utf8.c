// UTF-8 validation and the out-of-line varint paths.
#include "wire/wire.h"

const uint8_t *cpay__varint_get_slow(const uint8_t *p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < CPAY_MAX_VARINT_LEN; i++) {
    if (p + i >= end) return NULL;
    uint8_t b = p[i];
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return p + i + 1;
    }
  }
  return NULL;
}

bool cpay__varint_truncated(const uint8_t *p, const uint8_t *end) {
  for (int i = 0; i < CPAY_MAX_VARINT_LEN; i++) {
    if (p + i >= end) return true;
    if (p[i] < 0x80) return false;
  }
  return false;
}

// The first byte of [p, end) that does not begin a valid sequence (in
// full), or end. Every UTF-8 check of cpay (binary, JSON, text) comes here.
static inline const uint8_t *utf8_scan(const uint8_t *p, const uint8_t *end) {
  for (;;) {
    // Fast path: eight ASCII bytes at a time.
    while (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, 8);
      if (w & UINT64_C(0x8080808080808080)) break;
      p += 8;
    }
    while (p < end && *p < 0x80) p++;
    if (p == end) return end;
    uint8_t c = *p;
    size_t left = (size_t)(end - p);
    if (c >= 0xc2 && c <= 0xdf) {
      if (left < 2 || (p[1] & 0xc0) != 0x80) return p;
      p += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (left < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return p;
      if (c == 0xe0 && p[1] < 0xa0) return p;   // overlong
      if (c == 0xed && p[1] >= 0xa0) return p;  // surrogate
      p += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (left < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
          (p[3] & 0xc0) != 0x80)
        return p;
      if (c == 0xf0 && p[1] < 0x90) return p;   // overlong
      if (c == 0xf4 && p[1] >= 0x90) return p;  // above U+10FFFF
      p += 4;
    } else {
      return p;
    }
  }
}

bool cpay__utf8_valid(const char *str, size_t n) {
  if (n == 0) return true;  // str may be NULL
  const uint8_t *end = (const uint8_t *)str + n;
  return utf8_scan((const uint8_t *)str, end) == end;
}

size_t cpay__utf8_valid_prefix(const char *str, size_t n) {
  if (n == 0) return 0;
  const uint8_t *p = (const uint8_t *)str;
  return (size_t)(utf8_scan(p, p + n) - p);
}
