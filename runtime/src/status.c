// Result codes and status messages: the one table of code strings and the
// first-error-wins recording used by every fallible function.
#include "cpay/status.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// The code strings one after another, and where each starts: no table of
// pointers, which a shared library relocates when it is loaded.
static const struct code_texts {
#define CODE_FIELD(name, num, text, grpc, is_grpc) char name[sizeof(text)];
  CPAY_CODE_TABLE(CODE_FIELD)
#undef CODE_FIELD
} code_texts = {
#define CODE_TEXT(name, num, text, grpc, is_grpc) text,
    CPAY_CODE_TABLE(CODE_TEXT)
#undef CODE_TEXT
};

static const uint16_t code_starts[] = {
#define CODE_START(name, num, text, grpc, is_grpc) \
  [CPAY_##name] = offsetof(struct code_texts, name),
    CPAY_CODE_TABLE(CODE_START)
#undef CODE_START
};

const char *cpay_code_str(cpay_code code) {
  if ((unsigned)code >= sizeof(code_starts) / sizeof(code_starts[0])) return "unknown code";
  return (const char *)&code_texts + code_starts[code];
}

void cpay_status_clear(cpay_status *st) {
  if (!st) return;
  st->code = CPAY_OK;
  st->msg[0] = '\0';
}

const char *cpay_status_msg(const cpay_status *st) {
  if (!st || st->code == CPAY_OK) return "";
  return st->msg;
}

cpay_code cpay_status_set(cpay_status *st, cpay_code code, const char *fmt, ...) {
  if (!st || st->code != CPAY_OK || code == CPAY_OK) return code;
  st->code = code;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
  va_end(ap);
  if (n < 0) st->msg[0] = '\0';
  return code;
}
