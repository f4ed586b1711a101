// Result codes and status messages: the one table of code strings and the
// first-error-wins recording used by every fallible function.
#include "cpay/status.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const code_strs[] = {
    [CPAY_OK] = "ok",
    [CPAY_ERR_MALFORMED] = "malformed input",
    [CPAY_ERR_NO_MEMORY] = "out of memory",
    [CPAY_ERR_DEPTH] = "nesting too deep",
    [CPAY_ERR_UTF8] = "invalid utf-8",
    [CPAY_ERR_REQUIRED] = "missing required field",
    [CPAY_ERR_INVALID_ARGUMENT] = "invalid argument",
    [CPAY_ERR_TOO_LARGE] = "too large",
    [CPAY_ERR_NOT_FOUND] = "not found",
    [CPAY_ERR_INTERNAL] = "internal error",
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
