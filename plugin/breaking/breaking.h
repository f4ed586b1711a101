// cpay-breaking's engine: schema snapshots, the lock file, the rule table and
// the comparison. Used by the cpay-breaking executable and by protoc-gen-cpay's
// `breaking_lock=` parameter.
//
// Every input (a schema loaded into a cps_schema, or a lock file) becomes a
// snapshot: a flat, sorted list of blocks (files, messages, enums, extension
// sets, services), each with its items (fields, enum values, extensions, RPCs)
// described by plain strings. A schema snapshot has only live entries and
// source positions; a lock snapshot also keeps deleted entries and has no
// positions. One comparison, old snapshot against new snapshot, serves both
// the pairwise check (--against) and the history check (--lock): an entry the
// old side marks deleted is history, and reusing its number or name with a
// different meaning is a finding.
//
// Memory: snapshots, findings, configurations and error messages are
// allocated from the cps_pool the caller passes (schema/pool.h) and die
// with it; nothing here is freed on its own.
#ifndef CPAY_PLUGIN_BREAKING_BREAKING_H_
#define CPAY_PLUGIN_BREAKING_BREAKING_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/buf.h"
#include "schema/diag.h"
#include "schema/pool.h"
#include "schema/model.h"

// ---- snapshots ----------------------------------------------------------

typedef enum cpb_kind {
  CPB_FILE = 0,
  CPB_MESSAGE = 1,
  CPB_ENUM = 2,
  CPB_EXTEND = 3,  // the extensions of one extendee, named by the extendee
  CPB_SERVICE = 4,
} cpb_kind;

// A field, enum value, extension or RPC. Strings live in the snapshot's pool.
typedef struct cpb_item {
  int32_t number;       // fields, values, extensions; 0 for RPCs
  const char *name;     // field/value/RPC name; an extension's full name
  const char *type;     // fields, extensions: "int32", ".pkg.Msg", "enum:.pkg.E",
                        // "group:.pkg.G", "map<string,.pkg.V>"; RPCs: input type
  const char *label;    // "optional", "implicit", "required", "repeated"; RPCs:
                        // "unary", "client_streaming", "server_streaming", "bidi_streaming"
  const char *json;     // fields: JSON name
  const char *oneof;    // fields: the real oneof they belong to, or NULL
  const char *output;   // RPCs: output type
  const char *def;      // fields: the default as descriptor.proto writes it, or NULL
  const char *idem;     // RPCs: "no_side_effects", "idempotent", or NULL (unknown)
  bool packed;
  uint8_t utf8;         // fields, extensions whose type has a string (a map's key or
                        // value too): the resolved utf8_validation, CPS_UTF8_VERIFY or
                        // CPS_UTF8_NONE; 0 otherwise (or unknown)
  bool deleted;         // lock only: no longer in the latest recorded version
  const char *file;     // virtual path of the declaring file
  int line, col;        // 0 when unknown (lock)
} cpb_item;

typedef struct cpb_block {
  cpb_kind kind;
  const char *name;  // full name without leading dot; a file's path for CPB_FILE
  const char *file;  // declaring file (CPB_EXTEND: NULL)
  bool deleted;      // lock only
  int line, col;
  // CPB_FILE
  const char *package;
  int syntax;   // 2, 3, or 4 (CPS_SYNTAX_EDITIONS)
  int edition;  // with syntax 4: 2023, 2024; else 0
  int package_line, package_col;  // 0 when unknown (a lock, no source info)
  int syntax_line, syntax_col;
  // CPB_MESSAGE / CPB_ENUM
  cps_range *reserved;
  size_t reserved_count;
  const char **reserved_names;
  size_t reserved_name_count;
  cps_range *ext_ranges;  // messages
  size_t ext_range_count;
  bool message_set;       // messages
  bool closed;            // enums
  uint8_t json_format;    // messages, enums: the resolved json_format (CPS_JSON_*); 0 unknown
  cpb_item *items;        // sorted by number, then name
  size_t item_count;
  size_t item_cap;        // room in items, for the builders
} cpb_block;

typedef struct cpb_snap {
  cps_pool *mem;      // where the snapshot and all its strings live
  cpb_block *blocks;  // sorted by kind, then name
  size_t block_count;
  size_t block_cap;   // room in blocks, for the builders
  const char *prefix;  // prepended (with '/') to file names in findings; "" for none
  bool is_lock;
  int version;  // a lock's format version (1: no check lines; 3: editions and
                // resolved features); 0 for a schema
} cpb_snap;

// Each of these makes a snapshot in `mem` that holds copies of what it needs:
// it outlives the model or snapshots it was made from.

// The snapshot of schema->to_generate. `prefix` is shown before file names.
cpb_snap *cpb_snap_from_schema(cps_pool *mem, const cps_schema *schema, const char *prefix);
// Parses a lock file. NULL with *err (in `mem`, "PATH:LINE: why") when it is
// malformed, cut short, or (version 2) does not match its check lines.
cpb_snap *cpb_lock_parse(cps_pool *mem, const char *text, size_t size, const char *path,
                         char **err);
// The same; with verify false the check and end hashes are not compared
// (what is left is the grammar: for fuzzing it).
cpb_snap *cpb_lock_parse_opts(cps_pool *mem, const char *text, size_t size, const char *path,
                              bool verify, char **err);
// The lock text for `snap` (deterministic; in `mem`).
char *cpb_lock_format(cps_pool *mem, const cpb_snap *snap);
// The history after recording `cur` on top of `lock` (NULL: a new lock): every
// entry of `lock` is kept, those absent from `cur` marked deleted.
cpb_snap *cpb_lock_merge(cps_pool *mem, const cpb_snap *lock, const cpb_snap *cur);
// The latest version a lock recorded: its live blocks and entries, as a
// schema snapshot without positions.
cpb_snap *cpb_lock_live(cps_pool *mem, const cpb_snap *lock);

const cpb_block *cpb_snap_find(const cpb_snap *snap, cpb_kind kind, const char *name);

// ---- rules and findings -------------------------------------------------

typedef enum cpb_category {
  CPB_CAT_WIRE = 0,       // breaks binary readers and gRPC clients
  CPB_CAT_WIRE_JSON = 1,  // also breaks JSON (and text format) readers
  CPB_CAT_ALL = 2,        // also breaks source code using the generated API
} cpb_category;

typedef struct cpb_rule {
  const char *id;
  cpb_category category;
  bool note;  // informational: a compatible change, never fails the check
  const char *summary;
} cpb_rule;

extern const cpb_rule cpb_rules[];
extern const size_t cpb_rule_count;
const char *cpb_category_name(cpb_category c);

typedef struct cpb_finding {
  const cpb_rule *rule;
  const char *file;  // display path
  int line, col;
  const char *message;
  const char *fix;      // NULL or a suggestion (e.g. the `reserved` lines to add)
  const char *subject;  // what the finding is about; (rule, subject) is unique
  const char *accepted;  // NULL, or the lock that recorded this break (--force): then a note
} cpb_finding;

typedef struct cpb_findings {
  cpb_finding *v;
  size_t count, cap;
} cpb_findings;

// Compares `cur` (a schema) with `old` (a schema or a lock) and appends the
// findings of rules in `max_cat` and below, skipping any (rule, subject)
// already present. The findings and their strings are allocated in `mem`
// (use one pool for every call on the same `out`).
void cpb_compare(cps_pool *mem, const cpb_snap *old, const cpb_snap *cur, cpb_category max_cat,
                 cpb_findings *out);
// Sorts by file, line, column, rule.
void cpb_findings_sort(cpb_findings *f);
// The breaking findings: neither notes nor accepted.
size_t cpb_findings_errors(const cpb_findings *f);

typedef enum cpb_format { CPB_FMT_TEXT, CPB_FMT_JSON, CPB_FMT_GITHUB, CPB_FMT_JUNIT } cpb_format;
void cpb_findings_print(const cpb_findings *f, cpb_format fmt, cps_buf *out);

// ---- configuration ------------------------------------------------------

// The `breaking:` section of a buf.yaml (version v1 or v2) or of a
// cpay-breaking.yaml of the same shape: `use` and `except` (cpay's rule IDs
// and categories, or buf's, mapped to the cpay rules that report the same
// changes), `ignore` (paths), `ignore_only` (rule or category -> paths) and
// `ignore_unstable_packages`.
typedef struct cpb_config cpb_config;

// Parses a configuration into `mem`; paths in it are relative to `dir`
// (absolute). `module` (NEW's directory relative to `dir`, or NULL) picks a
// buf.yaml v2 module's own `breaking` section. NULL with *err (in `mem`,
// "PATH:LINE: why") when it is malformed or names an unknown rule; notes (buf
// rules cpay does not check) are appended to `notes`.
cpb_config *cpb_config_parse(cps_pool *mem, const char *text, size_t size, const char *path,
                             const char *dir, const char *module, char **err, cps_buf *notes);
// Whether the configuration drops a finding: its rule is not used, or its
// file (`abs_file`, absolute) is ignored for it, or its package is unstable.
bool cpb_config_ignores(const cpb_config *c, const cpb_finding *f, const char *abs_file,
                        const char *package);

// ---- inside protoc-gen-cpay ---------------------------------------------

// The breaking_lock= parameter: checks schema->to_generate against the lock at
// `lock_path` (all rules) and adds each breaking change to `diag` as
// `file.proto:line:col: [RULE_ID] message`. Returns true when compatible.
bool cpb_check_lock(const cps_schema *schema, const char *lock_path, cps_diag *diag);

#endif  // CPAY_PLUGIN_BREAKING_BREAKING_H_
