// The protoc plugin protocol: read a CodeGeneratorRequest from stdin, parse
// its parameter against the plugin's table, let a generator fill a list of
// output files (or errors), write the CodeGeneratorResponse to stdout. Knows
// nothing about C.
#ifndef CPAY_PLUGIN_SCHEMA_REQUEST_H_
#define CPAY_PLUGIN_SCHEMA_REQUEST_H_

#include <stdbool.h>
#include <stddef.h>

#include "schema/diag.h"
#include "schema/model.h"
#include "schema/params.h"
#include "schema/pool.h"

typedef struct cps_output {
  cps_pool *mem;        // the run's pool: the files, their names and contents
  cps_out_file *files;
  size_t count;
  size_t cap;
} cps_output;

// Adds a file: a copy of `name`, and the bytes of `content`, which o->mem
// takes (`content` is left empty).
void cps_output_add(cps_output *o, const char *name, cps_buf *content);

typedef struct cps_plugin {
  const char *name;     // "protoc-gen-cpay"
  const char *version;  // "0.1.0"
  // The start of --help, which goes on with the parameters from `params`,
  // then the command line options.
  const char *usage;
  // The plugin parameters; their values are parsed into the run's pool
  // before `generate` is called, which a bad one (reported as
  // "<name>: <why>") prevents.
  const cps_param_spec *params;
  int param_count;
  void *ctx;  // for `generate`: where `params` store, say
  // Generates code for schema->to_generate. Every problem (schema the
  // generator cannot represent, bad combination of parameters, internal
  // error) goes to `diag`.
  void (*generate)(void *ctx, const cps_schema *schema, cps_output *out, cps_diag *diag);
} cps_plugin;

// main() of a plugin: handles --version and --help, else the protocol, with
// one pool for the run (the model, the parameters, the output files, the
// response). Returns the process exit status.
int cps_plugin_main(const cps_plugin *p, int argc, char **argv);

#endif  // CPAY_PLUGIN_SCHEMA_REQUEST_H_
