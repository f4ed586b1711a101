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
  cpf_pool *mem = cpf_pool_new();
  char *err = NULL;
  cpf_buf notes = {0};
  brk_config *c = brk_config_parse(mem, (const char *)data, size, "fuzz.yaml", "/ws", "proto", &err,
                                   &notes);
  if (!c && (!err || strncmp(err, "fuzz.yaml:", 10) != 0)) {
    fprintf(stderr, "fuzz_breaking_config: an error without a location: %s\n", err ? err : "");
    abort();
  }
  if (c) {
    // Asking it about a finding must be safe too.
    brk_finding f = {.rule = &brk_rules[0], .file = "proto/a.proto", .subject = "a"};
    (void)brk_config_ignores(c, &f, "/ws/proto/a.proto", "pkg.v1beta1");
  }
  cpf_pool_free(mem);
  cpf_buf_free(&notes);
  return 0;
}
