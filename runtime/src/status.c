// Result codes and status messages: the one table of code strings and the
// first-error-wins recording used by every fallible function.
#include "cpay/status.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const code_strs[] = {
#define CODE_STR(name, num, text, grpc, is_grpc) [CPAY_##name] = text,
    CPAY_CODE_TABLE(CODE_STR)
#undef CODE_STR
};

const char *cpay_code_str(cpay_code code) {
  if ((unsigned)code >= sizeof(code_strs) / sizeof(code_strs[0])) return "unknown code";
  return code_strs[code];
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
