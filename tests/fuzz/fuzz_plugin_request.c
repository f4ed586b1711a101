// Fuzz target for the plugin's input: a CodeGeneratorRequest as protoc would
// send it, parsed and lowered into the C model by the shim. Bad requests
// must fail with an error message, never crash or leak.
#include <stdint.h>
#include <stdlib.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *err = NULL;
  cpm_pool *pool = cpm_load_request(data, size, &err);
  if (!pool && !err) abort();  // a failure must say why
  cpm_pool_free(pool);
  free(err);
  return 0;
}
