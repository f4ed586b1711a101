// Fuzz target for the plugin's input: a CodeGeneratorRequest as protoc would
// send it, parsed and lowered into the C model by the shim, its parameter
// parsed, C code generated for every file to generate and the response
// encoded, as protoc-gen-cpay does (except that a breaking_lock= parameter is
// parsed but no lock file is read). Bad requests must fail with an error
// message; whatever loads must generate or report why, never crash or leak.
#include <stdint.h>
#include <stdlib.h>

#include "gen/gen.h"
#include "schema/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cps_pool *mem = cps_pool_new();
  char *err = NULL;
  cps_schema *schema = cps_load_request(mem, data, size, &err);
  if (!schema) {
    if (!err) abort();  // a failure must say why
    cps_pool_free(mem);
    return 0;
  }
  cpg_options opts = {NULL, false, false};
  const char *breaking_lock = NULL;
  const cps_param_spec specs[] = {
      {"api_macro", CPS_PARAM_IDENT, &opts.api_macro, "prefix of extern declarations"},
      {"breaking_lock", CPS_PARAM_STRING, &breaking_lock, "lock file"},
      {"openapi", CPS_PARAM_BOOL, &opts.openapi, "OpenAPI documents too"},
  };
  const char *bad = cps_params_parse(mem, schema->parameter, specs,
                                     (int)(sizeof specs / sizeof specs[0]));
  cps_output out = {.mem = mem};
  cps_diag diag = {.mem = mem};
  if (bad) {
    if (bad[0] == '\0') abort();
  } else {
    cpg_generate(schema, &opts, &out, &diag);
    uint8_t *resp = NULL;
    size_t resp_size = 0;
    bool ok = cps_diag_ok(&diag)
                  ? cps_encode_response(mem, NULL, out.files, out.count, &resp, &resp_size)
                  : cps_encode_response(mem, cps_diag_text(&diag), NULL, 0, &resp, &resp_size);
    if (!ok) abort();
  }
  cps_pool_free(mem);
  return 0;
}
