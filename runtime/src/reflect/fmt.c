// The shortest decimal text of floating-point numbers, which JSON and text
// format both print.
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "reflect/reflect.h"

// Reading back is monotonic in the precision (more digits never stop a
// round trip), so the shortest precision is found by bisection.
size_t cpay__fmt_double(double v, char *buf) {
  int lo = 1, hi = 17;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    // %.17g needs at most 24 bytes; using the length also tells GCC so at
    // -O0, where -Wformat-truncation cannot bound `mid`.
    int n = snprintf(buf, 32, "%.*g", mid, v);
    if (n > 0 && n < 32 && strtod(buf, NULL) == v) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return (size_t)snprintf(buf, 32, "%.*g", lo, v);
}

size_t cpay__fmt_float(float v, char *buf) {
  int lo = 1, hi = 9;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    int n = snprintf(buf, 32, "%.*g", mid, (double)v);
    if (n > 0 && n < 32 && strtof(buf, NULL) == v) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  int n = snprintf(buf, 32, "%.*g", lo, (double)v);
  // Near FLT_MAX the shortest text ("3.4028235e+38") exceeds FLT_MAX when
  // read as a double, which strict parsers (Python's json_format) reject:
  // write the exact value instead.
  double back = strtod(buf, NULL);
  if (back > FLT_MAX || back < -FLT_MAX) return cpay__fmt_double((double)v, buf);
  return (size_t)n;
}
