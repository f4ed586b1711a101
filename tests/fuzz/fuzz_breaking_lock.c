// Fuzz target for cpay-breaking's lock file parser. Malformed, cut or edited
// locks must be rejected with a message naming the line; a lock that parses
// must format back to text that parses again to the same text: a lock is a
// fixed point of parse -> format, so rewriting it never drifts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking/breaking.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text) {
  fprintf(stderr, "fuzz_breaking_lock: %s\n%s\n", what, text ? text : "");
  abort();
}

// The input parsed with its check and end hashes compared (as cpay-breaking
// does) and, so that the fuzzer need not forge hashes to reach the grammar
// behind them, without.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int verify = 1; verify >= 0; verify--) {
    cps_pool *mem = cps_pool_new();
    char *err = NULL;
    cpb_snap *lock = cpb_lock_parse_opts(mem, (const char *)data, size, "fuzz.lock", verify != 0,
                                         &err);
    if (!lock) {
      if (!err || strncmp(err, "fuzz.lock:", 10) != 0) fail("error without a location", err);
      cps_pool_free(mem);
      continue;
    }
    char *text = cpb_lock_format(mem, lock);
    cpb_snap *again = cpb_lock_parse(mem, text, strlen(text), "formatted.lock", &err);
    if (!again) fail(err, text);
    char *text2 = cpb_lock_format(mem, again);
    if (strcmp(text, text2) != 0) fail("formatting is not stable across a parse", text2);
    cps_pool_free(mem);
  }
  return 0;
}
