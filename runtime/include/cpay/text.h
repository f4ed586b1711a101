// Protobuf text format (https://protobuf.dev/reference/protobuf/textformat-spec/):
// a printer and a parser driven by the binary tables of cpay/gencode.h and
// the descriptions of cpay/reflect.h (proto field names, enum value names),
// with the registry of types for extensions ("[pkg.ext]") and expanded Any
// ("[type.googleapis.com/pkg.Msg] { ... }").
//
// Generated headers wrap these in typed static inline functions
// (payments_v1_ChargeRequest_to_text, _from_text, _debug_text), so only
// programs that call them link the text code.
//
// Thread safety: printing and parsing touch only their arguments.
// Numbers go through snprintf/strtod: LC_NUMERIC must be "C" (the default).
#ifndef CPAY_TEXT_H_
#define CPAY_TEXT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/reflect.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// ---- printing ------------------------------------------------------------------

enum {
  // One line: fields separated by single spaces, no newlines.
  CPAY_TEXT_SINGLE_LINE = 1u << 0,
  // Also print unknown fields, by number ("1001: 123", "1003 { 1: 5 }").
  // Without it they are dropped.
  CPAY_TEXT_PRINT_UNKNOWN = 1u << 1,
};

typedef struct cpay_text_encode_opts {
  uint32_t flags;                      // CPAY_TEXT_*
  const cpay_registry *registry;  // types for Any and extensions; NULL: none
  int max_depth;                       // 0: CPAY_DEFAULT_MAX_DEPTH
} cpay_text_encode_opts;

// Writes `msg` (described by `t`) as text format into text allocated on `a`,
// NUL-terminated (the NUL is not counted in out->size). Multi-line output
// indents by two spaces per level and ends each field with a newline.
// Fields come in field-number order, then extensions, then unknown fields;
// map entries are sorted by key.
// Strings and bytes are escaped (non-printable and non-ASCII bytes as
// three-digit octal). An Any whose type is in the registry is printed
// expanded; otherwise as its type_url and value fields. An extension not in
// the registry is printed with enums as numbers. Fails only when out of
// memory (CPAY_ERR_NO_MEMORY) or nesting exceeds max_depth (CPAY_ERR_DEPTH).
CPAY_API CPAY_NODISCARD cpay_code cpay_text_encode(const void *msg, const cpay_msg_desc *t,
                                                   cpay_arena *a,
                                                   const cpay_text_encode_opts *opts,
                                                   cpay_str *out, cpay_status *st);

// A one-line text form of `msg` for logs and debuggers; never fails: when
// out of memory or too deep it returns a fixed string saying so. The result
// lives on `a` (or is static); no registry, so Any is printed unexpanded.
CPAY_API const char *cpay_text_debug(const void *msg, const cpay_msg_desc *t, cpay_arena *a);

// ---- parsing -------------------------------------------------------------------

typedef struct cpay_text_decode_opts {
  uint32_t flags;                      // none yet: others fail (INVALID_ARGUMENT)
  const cpay_registry *registry;  // types for Any and extensions; NULL: none
  int max_depth;                       // 0: CPAY_DEFAULT_MAX_DEPTH
} cpay_text_decode_opts;

// Parses `len` bytes of text format and merges them into `msg`, a message of
// type `t` on `a`. Strings are copied onto `a`, NUL-terminated (the NUL is
// not counted in their size). `opts` may be NULL. Accepts
// '#' comments; ':' (optional before a message); ',' or ';' after a field;
// messages in {} or <>; repeated fields as repeated keys or [a, b] lists;
// integers in decimal, hex (0x) and octal (0); floats with an optional f
// suffix, inf, infinity and nan (any case); strings in single or double
// quotes, adjacent ones concatenated, with C escapes (\a \b \f \n \r \t \v
// \\ \' \" \? octal, \x hex, \u and \U code points other than
// surrogates, which the conformance suite rejects even in pairs); enums by
// name or number; bools as true/false/True/False/t/f/1/0; groups by their
// type name; map entries as { key: .. value: .. }; registered extensions
// as [full.name] and Any as [prefix/full.name] { .. }.
// Strict: unknown field names, a singular field or oneof given twice,
// out-of-range numbers, unknown enum names, bad escapes, and strings that
// are not UTF-8 in fields where the binary decoder checks it too (proto3)
// fail with CPAY_ERR_MALFORMED and a message "line:column: what" (1-based,
// column in bytes), e.g.
// "3:17: integer out of range for field optional_int32 (int32)";
// `msg` may then hold part of the input. Required fields are not checked.
CPAY_API CPAY_NODISCARD cpay_code cpay_text_decode(const char *text, size_t len, void *msg,
                                                   const cpay_msg_desc *t, cpay_arena *a,
                                                   const cpay_text_decode_opts *opts,
                                                   cpay_status *st);

CPAY_EXTERN_C_END

#endif  // CPAY_TEXT_H_
