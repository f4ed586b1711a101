// The protoc plugin protocol: read a CodeGeneratorRequest from stdin, let a
// generator fill a list of output files (or errors), write the
// CodeGeneratorResponse to stdout. Knows nothing about C.
#ifndef CPAY_PLUGIN_FRAMEWORK_PLUGIN_H_
#define CPAY_PLUGIN_FRAMEWORK_PLUGIN_H_

#include <stdbool.h>
#include <stddef.h>

#include "framework/diag.h"
#include "framework/pool.h"
#include "model.h"

typedef struct cpf_output {
  cpf_pool *mem;        // the run's pool: the files, their names and contents
  cpm_out_file *files;
  size_t count;
  size_t cap;
} cpf_output;

// Adds a file: a copy of `name`, and `content` (malloc'd, `size` bytes),
// which o->mem takes.
void cpf_output_add(cpf_output *o, const char *name, char *content, size_t size);

typedef struct cpf_plugin {
  const char *name;     // "protoc-gen-cpay"
  const char *version;  // "0.1.0"
  const char *usage;    // text for --help
  // Generates code for pool->to_generate. Every problem (bad parameter,
  // schema the generator cannot represent, internal error) goes to `diag`.
  void (*generate)(const cpm_pool *pool, cpf_output *out, cpf_diag *diag);
} cpf_plugin;

// main() of a plugin: handles --version and --help, else the protocol, with
// one pool for the run (the model, the output files, the response). Returns
// the process exit status.
int cpf_plugin_main(const cpf_plugin *p, int argc, char **argv);

#endif  // CPAY_PLUGIN_FRAMEWORK_PLUGIN_H_
