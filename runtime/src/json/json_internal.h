// Private pieces shared by the JSON encoder and parser: the syntax tree the
// parser builds first (so that Any can find "@type" anywhere in its object),
// base64 and time formatting. Fields are reached through message/field.h,
// names and numbers through reflect/reflect.h.
#ifndef CPAY_JSON_JSON_INTERNAL_H_
#define CPAY_JSON_JSON_INTERNAL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/gencode.h"
#include "cpay/json.h"
#include "message/field.h"
#include "reflect/reflect.h"

// ---- syntax tree ---------------------------------------------------------------

typedef enum cpay__jkind {
  CPAY__JNULL,
  CPAY__JFALSE,
  CPAY__JTRUE,
  CPAY__JNUM,  // s: the number's text as written (RFC 8259 grammar checked)
  CPAY__JSTR,  // s: the decoded string (valid UTF-8)
  CPAY__JARR,
  CPAY__JOBJ,
} cpay__jkind;

typedef struct cpay__jv cpay__jv;

typedef struct cpay__jmember {
  cpay_str key;
  size_t key_off;
  cpay__jv *val;
} cpay__jmember;

struct cpay__jv {
  cpay__jkind kind;
  size_t off;  // byte offset of the value in the input
  cpay_str s;
  union {
    struct {
      cpay__jv **items;
      size_t n;
    } arr;
    struct {
      cpay__jmember *m;  // in input order; keys are unique
      size_t n;
    } obj;
  } u;
};

// Parses a whole JSON text into a tree on `a`. Fails with
// "invalid JSON: <what> at offset N".
cpay_code cpay__json_dom(const char *json, size_t len, cpay_arena *a, int max_depth,
                         cpay__jv **out, cpay_status *st);

const char *cpay__jkind_name(cpay__jkind k);

// ---- formats -----------------------------------------------------------------

// Standard base64 with padding; `out` must hold 4 * ((n + 2) / 3) bytes.
size_t cpay__base64_encode(const uint8_t *in, size_t n, char *out);
// Standard or URL-safe base64, padding optional. `out` must hold n * 3 / 4 + 3
// bytes. False on a character outside both alphabets or a bad length.
bool cpay__base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);

// RFC 3339 for google.protobuf.Timestamp, UTC ("Z"), 0/3/6/9 fraction digits.
// False when out of range (0001-01-01 .. 9999-12-31) or nanos invalid.
bool cpay__fmt_timestamp(int64_t seconds, int32_t nanos, char buf[40]);
bool cpay__parse_timestamp(const char *s, size_t n, int64_t *seconds, int32_t *nanos);
// "1.5s" for google.protobuf.Duration; false when out of range.
bool cpay__fmt_duration(int64_t seconds, int32_t nanos, char buf[40]);
bool cpay__parse_duration(const char *s, size_t n, int64_t *seconds, int32_t *nanos);

#define CPAY__TIMESTAMP_MIN INT64_C(-62135596800)  // 0001-01-01T00:00:00Z
#define CPAY__TIMESTAMP_MAX INT64_C(253402300799)  // 9999-12-31T23:59:59Z
#define CPAY__DURATION_MAX INT64_C(315576000000)   // 10000 years

#endif  // CPAY_JSON_JSON_INTERNAL_H_
