// C names for the elements of a .proto model, with collisions settled.
//
// The base name of a type is its full name with dots turned into
// underscores; enum values take their scope's prefix (the package for
// top-level enums, the containing message for nested ones), as C++ scopes
// them. A name that is a C or C++ keyword, starts with cpay_/CPAY_, or
// collides with another identifier the file emits (types, tables, helpers
// such as T_new or T_foo_size, also those of every file it imports,
// directly or not) gets `_` appended until it is unique. Fields are named
// the same way inside their struct (against `hdr`, `hasbits_`, oneof case
// members and each other) and their helper names are checked globally.
//
// Elements are named in a fixed order, so the result is deterministic: per
// file the register function, then enums, then messages (each with its
// helpers, then its oneofs, fields, nested enums, nested messages, nested
// extensions), then file-level extensions.
#ifndef CPAY_PLUGIN_NAMES_H_
#define CPAY_PLUGIN_NAMES_H_

#include <stdbool.h>

#include "model.h"

typedef struct cpn_names cpn_names;

cpn_names *cpn_names_new(const cpm_pool *pool);
void cpn_names_free(cpn_names *n);

// Names are owned by `n`. Files are named on first use (with their imports).
const char *cpn_message(cpn_names *n, const cpm_message *m);     // "pkg_Outer_Inner"
const char *cpn_enum(cpn_names *n, const cpm_enum *e);           // "pkg_Color"
const char *cpn_enum_value(cpn_names *n, const cpm_enum_value *v);  // "pkg_COLOR_RED"
const char *cpn_field(cpn_names *n, const cpm_field *f);         // struct member "amount"
const char *cpn_oneof(cpn_names *n, const cpm_oneof *o);         // base of "<o>_case"
const char *cpn_extension(cpn_names *n, const cpm_field *ext);   // "pkg_Scope_ext"
const char *cpn_file_prefix(cpn_names *n, const cpm_file *f);    // "foo_bar_proto"

// True for C11 and C++ keywords and a few standard macro names (NULL, bool...).
bool cpn_is_keyword(const char *s);

#endif  // CPAY_PLUGIN_NAMES_H_
