// protoc-gen-cpay: the protoc plugin that generates cpay C code.
//
//   protoc --plugin=protoc-gen-cpay=PATH --cpay_out=[PARAMS:]DIR foo.proto
//
// writes DIR/foo.cpay.h and DIR/foo.cpay.c. See --help for the parameters.
#include <stdlib.h>
#include <string.h>

#include "breaking/breaking.h"
#include "cpay/port.h"
#include "schema/params.h"
#include "schema/request.h"
#include "gen/gen.h"

static const char kUsage[] =
    "usage: protoc --plugin=protoc-gen-cpay=PATH --cpay_out=[PARAMS:]DIR file.proto...\n"
    "\n"
    "Generates file.cpay.h and file.cpay.c (C11; the headers also compile as C++)\n"
    "for each .proto file, for use with libcpay, and file.cpay_grpc.h and\n"
    "file.cpay_grpc.c for files with services, for use with libcpay-grpc.\n"
    "\n"
    "Parameters (comma-separated, also through --cpay_opt=):\n"
    "  api_macro=IDENT  put IDENT before every extern declaration in the headers\n"
    "                   (e.g. a macro expanding to __declspec(dllexport) or a\n"
    "                   visibility attribute, for shared libraries)\n"
    "  formats=all|binary  all (the default): binary, JSON and text format\n"
    "                   functions; binary: no JSON and text functions and no\n"
    "                   message descriptions (enum names stay)\n"
    "  breaking_lock=FILE  fail if the files break the history recorded in FILE,\n"
    "                   a cpay-breaking lock file (see docs/breaking.md)\n"
    "\n"
    "Options:\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n";

static void generate(const cps_schema *schema, cps_output *out, cps_diag *diag) {
  cpg_options opts = {NULL, false};
  char *breaking_lock = NULL;
  char *formats = NULL;
  const cps_param_spec specs[] = {
      {"api_macro", CPS_PARAM_IDENT, &opts.api_macro, "prefix of extern declarations"},
      {"breaking_lock", CPS_PARAM_STRING, &breaking_lock, "cpay-breaking lock file to check against"},
      {"formats", CPS_PARAM_STRING, &formats, "all (binary, JSON, text) or binary"},
  };
  char *err = cps_params_parse(schema->parameter, specs, (int)(sizeof specs / sizeof specs[0]));
  if (err == NULL && formats != NULL) {
    if (strcmp(formats, "binary") == 0) {
      opts.binary_only = true;
    } else if (strcmp(formats, "all") != 0) {
      err = cps_xasprintf("parameter formats: \"%s\" is neither \"all\" nor \"binary\"", formats);
    }
  }
  free(formats);
  if (err) {
    char *msg = cps_xasprintf("protoc-gen-cpay: %s", err);
    cps_diag_plain(diag, msg);
    free(msg);
    free(err);
    free(opts.api_macro);
    free(breaking_lock);
    return;
  }
  bool compatible = breaking_lock == NULL || cpb_check_lock(schema, breaking_lock, diag);
  free(breaking_lock);
  if (!compatible) {
    free(opts.api_macro);
    return;
  }
  cpg_generate(schema, &opts, out, diag);
  free(opts.api_macro);
}

int main(int argc, char **argv) {
  static const cps_plugin plugin = {"protoc-gen-cpay", CPAY_VERSION_STRING, kUsage, generate};
  return cps_plugin_main(&plugin, argc, argv);
}
