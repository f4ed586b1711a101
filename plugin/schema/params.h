// Options declared in one table and read in either of two spellings: the
// comma-separated `key=value` list protoc passes a plugin (`--<name>_opt=` or
// `--<name>_out=PARAMS:DIR`), and a program's command line (`--key VALUE`,
// `--key=VALUE`, `-K VALUE`, `-KVALUE` for one-letter keys). The kinds, their
// checks and their error messages are the same in both; anything not in the
// table is refused with a message that names it. New options are new rows.
//
// Keys (and missing values) are checked as they come, values once all is
// read: the last value given for a key is the one that counts and is checked,
// rows in table order. A COMMAND row (--help) ends the parse at once: the
// values before it, list items aside, are neither checked nor stored.
#ifndef CPAY_PLUGIN_SCHEMA_PARAMS_H_
#define CPAY_PLUGIN_SCHEMA_PARAMS_H_

#include <stdbool.h>
#include <stddef.h>

#include "schema/buf.h"
#include "schema/pool.h"

typedef enum cps_param_kind {
  CPS_PARAM_IDENT,    // a C identifier; dest: const char **
  CPS_PARAM_STRING,   // any text (a parameter's: non-empty, without ','); dest: const char **
  CPS_PARAM_BOOL,     // true/false/1/0; the key alone means true; dest: bool *
  CPS_PARAM_INT,      // a decimal int; dest: int *
  CPS_PARAM_CHOICE,   // one of a list of names; dest: cps_param_choice *
  CPS_PARAM_LIST,     // text, and the key may come again: dest: cps_param_list *
  CPS_PARAM_COMMAND,  // the key alone, e.g. --help: sets *dest (bool *) and ends the parse
} cps_param_kind;

typedef struct cps_param_spec {
  // The key, optionally followed by "=WHAT" to name its value in help
  // ("lock=FILE"). NULL makes the row a positional argument of a command line
  // (a LIST row takes all that are left; any other one argument, required).
  const char *key;
  cps_param_kind kind;
  void *dest;
  // What the option does, for help; '\n' starts another line. NULL leaves
  // the row out of help (an alias). A positional row's help names it in
  // messages ("NEW schema").
  const char *help;
} cps_param_spec;

// The value of a CPS_PARAM_CHOICE row.
typedef struct cps_param_choice {
  const char *const *names;  // NULL-terminated
  int *index;                // receives the position in `names` of the one given
} cps_param_choice;

// The values of a CPS_PARAM_LIST row, in the order given.
typedef struct cps_param_list {
  const char **items;  // in the parser's pool
  size_t count;
  size_t cap;          // room in items, for the parser
} cps_param_list;

// Parses the parameter list `text` (NULL is empty) against `specs`. Strings
// and lists are allocated in `mem`. Returns NULL on success, or the first
// error (in `mem`), such as
// `unknown parameter "foo" (known parameters: api_macro)`. Positional rows
// do not apply.
const char *cps_params_parse(cps_pool *mem, const char *text, const cps_param_spec *specs,
                             int count);

// Parses argv[1..argc) against `specs`: each argument is an option (a key
// with its value, if its kind takes one, attached or in the next argument),
// or else, when it does not start with '-' or is "-", a positional argument.
// String values point into argv; lists are allocated in `mem`. A COMMAND
// row ends the parse at once; otherwise every positional STRING row must be
// given. Returns NULL on success, or the first error (in `mem`), naming the
// argument: `unknown option --colour`, `missing value after --lock`, `--rules
// must be wire, wire-json or all, not strict`, `missing the NEW schema`.
const char *cps_args_parse(cps_pool *mem, int argc, char **argv, const cps_param_spec *specs,
                           int count);

// Appends the options of `specs` to `out` as a command's help lists them, one
// per row with a key and help: "  --lock FILE      what it does\n", the text
// at column 19, its further lines too.
void cps_args_help(const cps_param_spec *specs, int count, cps_buf *out);
// The same in the parameter spelling: "  lock=FILE        what it does\n".
void cps_params_help(const cps_param_spec *specs, int count, cps_buf *out);

#endif  // CPAY_PLUGIN_SCHEMA_PARAMS_H_
