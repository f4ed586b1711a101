// Fuzz target for cpay-breaking's configuration reader (buf.yaml and
// cpay-breaking.yaml: a YAML subset, then the `breaking` section). Every
// input must give a configuration or an error naming the file and line;
// never a crash, a hang or a leak.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking/breaking.h"
#include "breaking/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cps_pool *mem = cps_pool_new();
  char *err = NULL;
  cps_buf notes = {0};
  cpb_config *c = cpb_config_parse(mem, (const char *)data, size, "fuzz.yaml", "/ws", "proto", &err,
                                   &notes);
  if (!c && (!err || strncmp(err, "fuzz.yaml:", 10) != 0)) {
    fprintf(stderr, "fuzz_breaking_config: an error without a location: %s\n", err ? err : "");
    abort();
  }
  if (c) {
    // Asking it about a finding must be safe too.
    cpb_finding f = {.rule = &cpb_rules[0], .file = "proto/a.proto", .subject = "a"};
    (void)cpb_config_ignores(c, &f, "/ws/proto/a.proto", "pkg.v1beta1");
  }
  cps_pool_free(mem);
  cps_buf_free(&notes);
  return 0;
}
