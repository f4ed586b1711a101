// Private pieces of the descriptions layer that the JSON and text formats
// share: extensions and fields found by name, and the shortest text of
// floating-point numbers.
#ifndef CPAY_REFLECT_REFLECT_H_
#define CPAY_REFLECT_REFLECT_H_

#include <stddef.h>

#include "cpay/gencode.h"
#include "cpay/reflect.h"

// The registered description of extension `x`, or NULL (also when `r` is NULL).
const cpay_ext_desc *cpay__registry_ext_of(const cpay_registry *r, const cpay_ext *x);

// The index of the field of `m` whose proto name is the `n` bytes at
// `name`, or -1 (a binary search of m->by_name). Exported (not public API)
// for libcpay-http's router, which resolves field paths with them.
CPAY_API int cpay__field_by_name(const cpay_msg_desc *m, const char *name, size_t n);
// The same by JSON name (m->by_json_name).
CPAY_API int cpay__field_by_json_name(const cpay_msg_desc *m, const char *name, size_t n);

// Shortest text that reads back as the same value ("nan" and "inf" are left
// to the caller, whose formats spell them differently). `buf` holds at
// least 32 bytes; returns the length.
size_t cpay__fmt_double(double v, char *buf);
size_t cpay__fmt_float(float v, char *buf);

#endif  // CPAY_REFLECT_REFLECT_H_
