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

static void fail(const char *what, const cpb_findings *found) {
  fprintf(stderr, "fuzz_breaking_descset: %s\n", what);
  if (found) {
    cps_buf out = {0};
    cpb_findings_print(found, CPB_FMT_TEXT, &out);
    fprintf(stderr, "%s\n", cps_buf_str(&out));
    cps_buf_free(&out);
  }
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cps_pool *mem = cps_pool_new();
  char *err = NULL;
  cps_schema *schema = cps_load_descriptor_set(mem, data, size, &err);
  if (!schema) {
    if (!err || err[0] == '\0') fail("error without a message", NULL);
    cps_pool_free(mem);
    return 0;
  }
  cpb_snap *snap = cpb_snap_from_schema(mem, schema, "");
  cpb_findings self = {0};
  cpb_compare(mem, snap, snap, CPB_CAT_ALL, &self);
  if (self.count != 0) fail("a schema differs from itself", &self);

  cpb_snap *history = cpb_lock_merge(mem, NULL, snap);
  char *text = cpb_lock_format(mem, history);
  cpb_snap *lock = cpb_lock_parse(mem, text, strlen(text), "fuzz.lock", &err);
  if (!lock) {
    fprintf(stderr, "%s\n%s\n", err, text);
    fail("the lock of a schema does not parse", NULL);
  }
  cpb_findings against_lock = {0};
  cpb_compare(mem, lock, snap, CPB_CAT_ALL, &against_lock);
  if (cpb_findings_errors(&against_lock) != 0) fail("a schema breaks its own lock", &against_lock);
  cps_pool_free(mem);
  return 0;
}
