// Fuzz target for cpay-breaking's other input: a FileDescriptorSet (protoc
// --descriptor_set_out, or buf build -o). Bad sets must be rejected with a
// message; a set that loads must snapshot, its lock must parse back, and the
// schema must be compatible with itself and with its own lock: no finding
// at all against itself, no breaking finding against the lock.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking/breaking.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const brk_findings *found) {
  fprintf(stderr, "fuzz_breaking_descset: %s\n", what);
  if (found) {
    cpf_buf out = {0};
    brk_findings_print(found, BRK_FMT_TEXT, &out);
    fprintf(stderr, "%s\n", cpf_buf_str(&out));
    cpf_buf_free(&out);
  }
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpf_pool *mem = cpf_pool_new();
  char *err = NULL;
  cpm_pool *pool = cpm_load_descriptor_set(mem, data, size, &err);
  if (!pool) {
    if (!err || err[0] == '\0') fail("error without a message", NULL);
    cpf_pool_free(mem);
    return 0;
  }
  brk_snap *snap = brk_snap_from_pool(mem, pool, "");
  brk_findings self = {0};
  brk_compare(mem, snap, snap, BRK_CAT_ALL, &self);
  if (self.count != 0) fail("a schema differs from itself", &self);

  brk_snap *history = brk_lock_merge(mem, NULL, snap);
  char *text = brk_lock_format(mem, history);
  brk_snap *lock = brk_lock_parse(mem, text, strlen(text), "fuzz.lock", &err);
  if (!lock) {
    fprintf(stderr, "%s\n%s\n", err, text);
    fail("the lock of a schema does not parse", NULL);
  }
  brk_findings against_lock = {0};
  brk_compare(mem, lock, snap, BRK_CAT_ALL, &against_lock);
  if (brk_findings_errors(&against_lock) != 0) fail("a schema breaks its own lock", &against_lock);
  cpf_pool_free(mem);
  return 0;
}
