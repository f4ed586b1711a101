// Plugin parameters: the comma-separated `key=value` list protoc passes from
// `--<name>_opt=` or `--<name>_out=PARAMS:DIR`. A generator declares the keys
// it knows in a table; anything else is rejected with a message that names
// the known keys. New keys (e.g. for gRPC) are new table rows.
#ifndef CPAY_PLUGIN_FRAMEWORK_PARAMS_H_
#define CPAY_PLUGIN_FRAMEWORK_PARAMS_H_

#include <stdbool.h>

typedef enum cpf_param_kind {
  CPF_PARAM_IDENT,   // a C identifier; stored as a malloc'd string
  CPF_PARAM_STRING,  // any non-empty text without ','; malloc'd string
  CPF_PARAM_BOOL,    // true/false/1/0 (a bare `key` means true)
} cpf_param_kind;

typedef struct cpf_param_spec {
  const char *key;
  cpf_param_kind kind;
  void *dest;  // char ** for IDENT/STRING, bool * for BOOL
  const char *help;
} cpf_param_spec;

// Parses `text` against `specs`. Returns NULL on success, or a malloc'd
// error message such as
// `unknown parameter "foo" (known parameters: api_macro)`.
char *cpf_params_parse(const char *text, const cpf_param_spec *specs, int count);

#endif  // CPAY_PLUGIN_FRAMEWORK_PARAMS_H_
