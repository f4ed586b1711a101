// What may stand between the brackets of the text format's "[name]": an
// extension's full name or an Any's type URL ("host/path/full.Name"), whose
// path may hold what RFC 3986 allows in one. The parser reads these and the
// printer writes only URLs made of them, so every printed URL reads back.
#ifndef CPAY_SRC_TEXT_TEXT_URL_H_
#define CPAY_SRC_TEXT_TEXT_URL_H_

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

// The punctuation allowed besides letters, digits and '_'.
#define CPAY__TEXT_URL_PUNCT "./-~!$&()*+,;=%"

static inline bool cpay__text_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Whether `s` is made of the allowed characters, each '%' starting an escape
// of two hex digits.
static inline bool cpay__text_url_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= n || !cpay__text_hex(s[i + 1]) || !cpay__text_hex(s[i + 2])) return false;
      i += 2;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (c != '\0' && strchr(CPAY__TEXT_URL_PUNCT, c)))) {
      return false;
    }
  }
  return true;
}

#endif  // CPAY_SRC_TEXT_TEXT_URL_H_
