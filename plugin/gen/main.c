// protoc-gen-cpay: the protoc plugin that generates cpay C code.
//
//   protoc --plugin=protoc-gen-cpay=PATH --cpay_out=[PARAMS:]DIR foo.proto
//   protoc-gen-cpay --descriptor-set=SET --out=DIR [--param=PARAMS] [foo.proto]
//
// write DIR/foo.cpay.h and DIR/foo.cpay.c, the second without protoc from a
// FileDescriptorSet. See --help for the parameters.
#include <string.h>

#include "breaking/breaking.h"
#include "cpay/port.h"
#include "gen/gen.h"
#include "schema/params.h"
#include "schema/request.h"

// --help: this, then the parameters (from the table in main).
static const char kUsage[] =
    "usage: protoc --plugin=protoc-gen-cpay=PATH --cpay_out=[PARAMS:]DIR file.proto...\n"
    "       protoc-gen-cpay --descriptor-set=SET --out=DIR [--param=PARAMS] [file.proto...]\n"
    "\n"
    "Generates file.cpay.h and file.cpay.c (C11; the headers also compile as C++)\n"
    "for each .proto file, for use with libcpay, and file.cpay_grpc.h and\n"
    "file.cpay_grpc.c for files with services, for use with libcpay-grpc.\n"
    "The second form reads the files from a FileDescriptorSet instead of protoc\n"
    "(e.g. editions files compiled by buf build -o SET, for protoc 3.21).\n"
    "\n"
    "Parameters (comma-separated, also through --cpay_opt=):\n";

// The parameters' values, in the run's pool (NULL when not given).
typedef struct params {
  const char *api_macro;
  const char *formats;
  const char *breaking_lock;
  bool openapi;
} params;

static void generate(void *ctx, const cps_schema *schema, cps_output *out, cps_diag *diag) {
  const params *p = ctx;
  cpg_options opts = {p->api_macro, false, p->openapi};
  if (p->formats != NULL && strcmp(p->formats, "binary") == 0) {
    opts.binary_only = true;
  } else if (p->formats != NULL && strcmp(p->formats, "all") != 0) {
    cps_diag_plain(diag, cps_pool_printf(out->mem, "protoc-gen-cpay: parameter formats: \"%s\" is "
                                                   "neither \"all\" nor \"binary\"",
                                         p->formats));
    return;
  }
  if (opts.binary_only && opts.openapi) {
    // The document would describe REST endpoints that the method tables,
    // without JSON descriptions, leave unserved.
    cps_diag_plain(diag, "protoc-gen-cpay: parameter openapi needs formats=all (the REST "
                         "bindings need the JSON descriptions)");
    return;
  }
  if (p->breaking_lock != NULL && !cpb_check_lock(schema, p->breaking_lock, diag)) return;
  cpg_generate(schema, &opts, out, diag);
}

int main(int argc, char **argv) {
  params p = {NULL, NULL, NULL, false};
  // In the order of --help and of the known parameters an unknown one's
  // message lists (tests/golden/bad_param).
  const cps_param_spec specs[] = {
      {"api_macro=IDENT", CPS_PARAM_IDENT, &p.api_macro,
       "put IDENT before every extern declaration in the headers\n"
       "(e.g. a macro expanding to __declspec(dllexport) or a\n"
       "visibility attribute, for shared libraries)"},
      {"breaking_lock=FILE", CPS_PARAM_STRING, &p.breaking_lock,
       "fail if the files break the history recorded in FILE,\n"
       "a cpay-breaking lock file (see docs/breaking.md)"},
      {"formats=all|binary", CPS_PARAM_STRING, &p.formats,
       "all (the default): binary, JSON and text format\n"
       "functions; binary: no JSON and text functions and no\n"
       "message descriptions (enum names stay)"},
      {"openapi", CPS_PARAM_BOOL, &p.openapi,
       "also write file.<Service>.openapi.json per service: an\n"
       "OpenAPI 3.0.3 document of its google.api.http bindings\n"
       "(see docs/http.md)"},
  };
  const cps_plugin plugin = {"protoc-gen-cpay", CPAY_VERSION_STRING, kUsage, specs,
                             (int)(sizeof specs / sizeof specs[0]), &p, generate};
  return cps_plugin_main(&plugin, argc, argv);
}
