// C names for the elements of a .proto model, with collisions settled.
//
// The base name of a type is its full name with dots turned into
// underscores; enum values take their scope's prefix (the package for
// top-level enums, the containing message for nested ones), as C++ scopes
// them. A name that would start with libcpay's prefix cpay_/CPAY_ (a
// package cpay.x, a file cpay/x.proto) starts with x_/X_ instead
// (x_cpay_x_Point). A name that is a C or C++ keyword, or collides with
// another identifier the file emits (types, tables, helpers such as T_new or
// T_foo_size, also those of every file it imports, directly or not) gets `_`
// appended until it is unique. Fields are named
// the same way inside their struct (against `hdr`, `hasbits_`, oneof case
// members and each other) and their helper names are checked globally.
//
// Elements are named in a fixed order, so the result is deterministic: per
// file the register function, then enums, then messages (each with its
// helpers, then its oneofs, fields, nested enums, nested messages, nested
// extensions), then file-level extensions.
#ifndef CPAY_PLUGIN_GEN_NAMES_H_
#define CPAY_PLUGIN_GEN_NAMES_H_

#include <stdbool.h>

#include "schema/model.h"
#include "schema/pool.h"

typedef struct cpg_names cpg_names;

// Names for the files of a model, made as they are asked for, in `mem` (they
// die with it, as does `n`). Files are named on first use (with their
// imports).
cpg_names *cpg_names_new(cps_pool *mem);

const char *cpg_name_message(cpg_names *n, const cps_message *m);     // "pkg_Outer_Inner"
const char *cpg_name_enum(cpg_names *n, const cps_enum *e);           // "pkg_Color"
const char *cpg_name_enum_value(cpg_names *n, const cps_enum_value *v);  // "pkg_COLOR_RED"
const char *cpg_name_field(cpg_names *n, const cps_field *f);         // struct member "amount"
const char *cpg_name_oneof(cpg_names *n, const cps_oneof *o);         // base of "<o>_case"
const char *cpg_name_extension(cpg_names *n, const cps_field *ext);   // "pkg_Scope_ext"
const char *cpg_name_file_prefix(cpg_names *n, const cps_file *f);    // "foo_bar_proto"

// True for C11 and C++ keywords and a few standard macro names (NULL, bool...).
bool cpg_is_keyword(const char *s);

#endif  // CPAY_PLUGIN_GEN_NAMES_H_
