// Wire-format helpers shared by the decoder and encoder: varint and zigzag
// coding, UTF-8 validation (wire types are in cpay/gencode.h).
#ifndef CPAY_WIRE_WIRE_H_
#define CPAY_WIRE_WIRE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpay/gencode.h"
#include "message/field.h"

#define CPAY_MAX_FIELD_NUMBER ((1u << 29) - 1)
#define CPAY_MAX_VARINT_LEN 10

// The per-type storage size, cpay__type_size(), and cpay__type_is_msg() are
// in message/field.h.

// Scalars that may be packed: everything but strings, bytes and messages.
static inline bool cpay__type_packable(uint8_t type) {
  int wt = cpay__type_wire_type(type);
  return wt == CPAY_WT_VARINT || wt == CPAY_WT_FIXED32 || wt == CPAY_WT_FIXED64;
}

static inline uint64_t cpay__zigzag_enc64(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline uint32_t cpay__zigzag_enc32(int32_t v) {
  return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline int64_t cpay__zigzag_dec64(uint64_t v) {
  return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}
static inline int32_t cpay__zigzag_dec32(uint32_t v) {
  return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}

static inline size_t cpay__varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

// Writes `v` at `p` (room for 10 bytes needed); returns the bytes written.
static inline size_t cpay__varint_put(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

// Reads a varint in [p, end). Returns the position after it, or NULL when it
// is truncated or longer than 10 bytes (cpay__varint_truncated tells which).
// One- and two-byte varints, the vast majority, take the inline path; code
// that rarely runs (skipping unknown fields, extensions, message-set items)
// calls cpay__varint_get_slow itself rather than inline another copy.
const uint8_t *cpay__varint_get_slow(const uint8_t *p, const uint8_t *end, uint64_t *out);

static inline const uint8_t *cpay__varint_get(const uint8_t *p, const uint8_t *end,
                                              uint64_t *out) {
  if (CPAY_LIKELY(end - p >= 2)) {
    if (CPAY_LIKELY(p[0] < 0x80)) {
      *out = p[0];
      return p + 1;
    }
    if (p[1] < 0x80) {
      *out = (uint64_t)(p[0] & 0x7f) | ((uint64_t)p[1] << 7);
      return p + 2;
    }
  }
  return cpay__varint_get_slow(p, end, out);
}

// True when the varint at p is truncated (else it is overlong).
bool cpay__varint_truncated(const uint8_t *p, const uint8_t *end);

static inline uint32_t cpay__load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t cpay__load64(const uint8_t *p) {
  return (uint64_t)cpay__load32(p) | ((uint64_t)cpay__load32(p + 4) << 32);
}
static inline void cpay__store32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void cpay__store64(uint8_t *p, uint64_t v) {
  cpay__store32(p, (uint32_t)v);
  cpay__store32(p + 4, (uint32_t)(v >> 32));
}

// True when [p, p + n) is valid UTF-8 (no overlongs, surrogates or values
// above U+10FFFF).
bool cpay__utf8_valid(const char *p, size_t n);
// How many bytes at the start of [p, p + n) are valid UTF-8 (n when all).
size_t cpay__utf8_valid_prefix(const char *p, size_t n);

// Writes code point `cp` (at most U+10FFFF, not a surrogate: the caller
// checks) as 1 to 4 bytes of UTF-8 at `o`; returns how many. (In
// utf8_put.c: only JSON and text format use it.)
size_t cpay__utf8_put(char *o, uint32_t cp);

#endif  // CPAY_WIRE_WIRE_H_
