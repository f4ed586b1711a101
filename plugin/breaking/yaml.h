// The part of YAML that configuration files such as buf.yaml use: one
// document of block mappings and sequences (by indentation, `- key: value`
// items included), flow sequences of scalars (`[A, B]`), `{}`, plain and
// quoted scalars, and comments. Anchors, aliases, tags, block scalars and
// several documents are refused with a message naming the line.
#ifndef CPAY_PLUGIN_BREAKING_YAML_H_
#define CPAY_PLUGIN_BREAKING_YAML_H_

#include <stdbool.h>
#include <stddef.h>

#include "schema/pool.h"

typedef enum yaml_kind { YAML_NULL, YAML_SCALAR, YAML_SEQ, YAML_MAP } yaml_kind;

typedef struct yaml_node {
  yaml_kind kind;
  int line;                  // where it starts, 1-based
  const char *str;           // YAML_SCALAR: its text, unquoted
  struct yaml_node **items;  // YAML_SEQ, YAML_MAP: the values, in order
  const char **keys;         // YAML_MAP: the keys
  size_t count;
  size_t cap;                // room in items and keys, for the parser
} yaml_node;

// The document in `text`, in `mem`; NULL with *err (in `mem`, "PATH:LINE:
// why") when it is malformed or uses what this reader does not support. An
// empty document is an empty mapping.
yaml_node *yaml_parse(cps_pool *mem, const char *text, size_t size, const char *path, char **err);
// A mapping's value for `key`, or NULL.
const yaml_node *yaml_get(const yaml_node *map, const char *key);

#endif  // CPAY_PLUGIN_BREAKING_YAML_H_
