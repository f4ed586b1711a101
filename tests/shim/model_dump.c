// cpay-model-dump: loads a schema through the shim and prints the whole C
// model as deterministic indented text, so tests can compare what the three
// loaders (.proto files, a FileDescriptorSet, a CodeGeneratorRequest) produce.
//
//   cpay-model-dump [-I DIR]... FILE.proto...
//   cpay-model-dump --descriptor-set FILE
//   cpay-model-dump --request FILE
//
// Lines that describe the pool rather than the files start with "pool." so a
// comparison between loaders can drop them. Exit status: 0 on success, 1 when
// loading fails (the error goes to stderr) or when a consistency check of the
// model (lookups, back pointers) fails.
#include "schema/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schema/buf.h"
#include "schema/params.h"

static int failures;
static const cps_schema *g_schema;  // the schema being dumped

// Lookups by full name over the model itself (the checks below use them to
// see that every link points at the model's own node).
static const cps_message *find_message_in(const cps_message *ms, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(ms[i].full_name, name) == 0) return &ms[i];
    const cps_message *r = find_message_in(ms[i].nested, ms[i].nested_count, name);
    if (r) return r;
  }
  return NULL;
}

static const cps_message *find_message(const cps_schema *schema, const char *name) {
  for (size_t i = 0; i < schema->file_count; i++) {
    const cps_message *r =
        find_message_in(schema->files[i]->messages, schema->files[i]->message_count, name);
    if (r) return r;
  }
  return NULL;
}

static const cps_enum *find_enum_in(const cps_enum *es, size_t ne, const cps_message *ms, size_t nm,
                                    const char *name) {
  for (size_t i = 0; i < ne; i++) {
    if (strcmp(es[i].full_name, name) == 0) return &es[i];
  }
  for (size_t i = 0; i < nm; i++) {
    const cps_enum *r = find_enum_in(ms[i].enums, ms[i].enum_count, ms[i].nested,
                                     ms[i].nested_count, name);
    if (r) return r;
  }
  return NULL;
}

static const cps_enum *find_enum(const cps_schema *schema, const char *name) {
  for (size_t i = 0; i < schema->file_count; i++) {
    const cps_file *f = schema->files[i];
    const cps_enum *r = find_enum_in(f->enums, f->enum_count, f->messages, f->message_count, name);
    if (r) return r;
  }
  return NULL;
}

static const cps_file *find_file(const cps_schema *schema, const char *name) {
  for (size_t i = 0; i < schema->file_count; i++) {
    if (strcmp(schema->files[i]->name, name) == 0) return schema->files[i];
  }
  return NULL;
}

static void check(bool ok, const char *what, const char *name) {
  if (!ok) {
    fprintf(stderr, "model check failed: %s: %s\n", what, name);
    failures++;
  }
}

static void indent(int depth) {
  for (int i = 0; i < depth; i++) fputs("  ", stdout);
}

// Prints a C-escaped, quoted string of `size` bytes.
static void put_bytes(const char *s, size_t size) {
  putchar('"');
  for (size_t i = 0; i < size; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '\n': fputs("\\n", stdout); break;
      case '\t': fputs("\\t", stdout); break;
      case '\r': fputs("\\r", stdout); break;
      case '"': fputs("\\\"", stdout); break;
      case '\\': fputs("\\\\", stdout); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          printf("\\x%02x", c);
        } else {
          putchar(c);
        }
    }
  }
  putchar('"');
}

static void put_str(const char *s) {
  if (s == NULL) {
    fputs("null", stdout);
  } else {
    put_bytes(s, strlen(s));
  }
}

static const char *yes(bool b) { return b ? "true" : "false"; }

// Resolved features by their FeatureSet value names ("?" for a value the
// model should never hold, such as 0).
static const char *feature_value(int n, int v) {
  static const char *const names[9][5] = {
      {NULL},
      {"?", "EXPLICIT", "IMPLICIT", "LEGACY_REQUIRED"},
      {"?", "OPEN", "CLOSED"},
      {"?", "PACKED", "EXPANDED"},
      {"?", "?", "VERIFY", "NONE"},
      {"?", "LENGTH_PREFIXED", "DELIMITED"},
      {"?", "ALLOW", "LEGACY_BEST_EFFORT"},
      {"?", "STYLE2024", "STYLE_LEGACY", "STYLE2026"},
      {"?", "EXPORT_ALL", "EXPORT_TOP_LEVEL", "LOCAL_ALL", "STRICT"},
  };
  const char *name = v >= 0 && v < 5 ? names[n][v] : NULL;
  return name ? name : "?";
}

static void put_features(const cps_features *f) {
  printf("%s %s %s %s %s %s %s %s", feature_value(1, f->field_presence),
         feature_value(2, f->enum_type), feature_value(3, f->repeated_field_encoding),
         feature_value(4, f->utf8_validation), feature_value(5, f->message_encoding),
         feature_value(6, f->json_format), feature_value(7, f->enforce_naming_style),
         feature_value(8, f->default_symbol_visibility));
  const uint8_t v[8] = {f->field_presence,       f->enum_type,
                        f->repeated_field_encoding, f->utf8_validation,
                        f->message_encoding,     f->json_format,
                        f->enforce_naming_style, f->default_symbol_visibility};
  for (int i = 0; i < 8; i++) check(strcmp(feature_value(i + 1, v[i]), "?") != 0,
                                    "feature resolved to a known value", "");
}

// "features: ..." on a line of its own.
static void put_features_line(int depth, const cps_features *f) {
  indent(depth);
  fputs("features: ", stdout);
  put_features(f);
  putchar('\n');
}

static const char *label_name(cps_label l) {
  switch (l) {
    case CPS_LABEL_OPTIONAL: return "optional";
    case CPS_LABEL_REQUIRED: return "required";
    case CPS_LABEL_REPEATED: return "repeated";
  }
  return "?";
}

static const char *type_name(cps_type t) {
  static const char *const names[] = {
      "?",       "double", "float",  "int64",    "uint64",   "int32", "fixed64",
      "fixed32", "bool",   "string", "group",    "message",  "bytes", "uint32",
      "enum",    "sfixed32", "sfixed64", "sint32", "sint64",
  };
  return (t >= 1 && t <= 18) ? names[t] : "?";
}

static void put_loc(int depth, const cps_loc *loc, const cps_file *expected_file) {
  check(loc->file == expected_file, "loc.file", expected_file ? expected_file->name : "?");
  indent(depth);
  printf("loc: %s:%d:%d\n", loc->file ? loc->file->name : "null", loc->line, loc->col);
  if (loc->leading_comments != NULL) {
    indent(depth);
    fputs("leading_comments: ", stdout);
    put_str(loc->leading_comments);
    putchar('\n');
  }
  if (loc->trailing_comments != NULL) {
    indent(depth);
    fputs("trailing_comments: ", stdout);
    put_str(loc->trailing_comments);
    putchar('\n');
  }
}

static void put_ranges(int depth, const char *what, const cps_range *r, size_t n) {
  indent(depth);
  printf("%s:", what);
  for (size_t i = 0; i < n; i++) printf(" %" PRId32 "..%" PRId32, r[i].start, r[i].end);
  putchar('\n');
}

static void put_names(int depth, const char *what, const char *const *names, size_t n) {
  indent(depth);
  printf("%s:", what);
  for (size_t i = 0; i < n; i++) {
    putchar(' ');
    put_str(names[i]);
  }
  putchar('\n');
}

static void put_double(double d) {
  if (isnan(d)) {
    fputs(signbit(d) ? "-nan" : "nan", stdout);
  } else {
    printf("%.17g", d);
  }
}

static void dump_default(int depth, const cps_field *f) {
  const cps_default *d = &f->default_value;
  indent(depth);
  if (!d->present) {
    puts("default: none");
    return;
  }
  fputs("default: ", stdout);
  switch (f->type) {
    case CPS_TYPE_INT32: case CPS_TYPE_INT64: case CPS_TYPE_SINT32: case CPS_TYPE_SINT64:
    case CPS_TYPE_SFIXED32: case CPS_TYPE_SFIXED64:
      printf("%" PRId64, d->i64);
      break;
    case CPS_TYPE_UINT32: case CPS_TYPE_UINT64: case CPS_TYPE_FIXED32: case CPS_TYPE_FIXED64:
      printf("%" PRIu64, d->u64);
      break;
    case CPS_TYPE_DOUBLE: case CPS_TYPE_FLOAT:
      put_double(d->f64);
      break;
    case CPS_TYPE_BOOL:
      fputs(yes(d->b), stdout);
      break;
    case CPS_TYPE_STRING: case CPS_TYPE_BYTES:
      put_bytes(d->bytes, d->bytes_size);
      printf(" (%zu bytes)", d->bytes_size);
      break;
    case CPS_TYPE_ENUM:
      fputs(d->enum_value ? d->enum_value->full_name : "null", stdout);
      check(d->enum_value != NULL && d->enum_value->parent == f->enum_type,
            "default enum value belongs to the field's enum", f->full_name);
      break;
    case CPS_TYPE_GROUP: case CPS_TYPE_MESSAGE:
      fputs("?", stdout);
      break;
  }
  fputs(" text=", stdout);
  put_str(d->text);
  putchar('\n');
}

static void dump_field(int depth, const cps_field *f, const cps_message *parent, size_t index,
                       const cps_file *file) {
  indent(depth);
  printf("field %s = %" PRId32 "\n", f->name, f->number);
  depth++;
  indent(depth);
  printf("full_name: %s\n", f->full_name);
  indent(depth);
  printf("json_name: %s%s\n", f->json_name, f->has_json_name_option ? " (option)" : "");
  indent(depth);
  printf("label: %s type: %s\n", label_name(f->label), type_name(f->type));
  if (f->message_type != NULL) {
    indent(depth);
    printf("message_type: %s\n", f->message_type->full_name);
    check(f->message_type == find_message(g_schema, f->message_type->full_name),
          "message_type points into the pool", f->full_name);
  }
  check((f->type == CPS_TYPE_MESSAGE || f->type == CPS_TYPE_GROUP) == (f->message_type != NULL),
        "message_type set exactly for message fields", f->full_name);
  if (f->enum_type != NULL) {
    indent(depth);
    printf("enum_type: %s\n", f->enum_type->full_name);
    check(f->enum_type == find_enum(g_schema, f->enum_type->full_name),
          "enum_type points into the pool", f->full_name);
  }
  check((f->type == CPS_TYPE_ENUM) == (f->enum_type != NULL),
        "enum_type set exactly for enum fields", f->full_name);
  if (f->oneof != NULL) {
    indent(depth);
    printf("oneof: %s\n", f->oneof->name);
    check(f->oneof->parent == parent, "oneof parent", f->full_name);
  }
  indent(depth);
  printf("proto3_optional: %s has_presence: %s packed: %s is_map: %s deprecated: %s\n",
         yes(f->proto3_optional), yes(f->has_presence), yes(f->packed), yes(f->is_map),
         yes(f->deprecated));
  indent(depth);
  printf("utf8_validate: %s\n", yes(f->utf8_validate));
  put_features_line(depth, &f->features);
  if (f->is_extension) {
    indent(depth);
    printf("extendee: %s scope: %s\n", f->extendee ? f->extendee->full_name : "null",
           f->parent ? f->parent->full_name : "(file)");
    check(f->extendee != NULL, "extension has an extendee", f->full_name);
  }
  check(f->parent == parent, "field parent", f->full_name);
  check(f->file == file, "field file", f->full_name);
  check(f->index == (int)index, "field index", f->full_name);
  dump_default(depth, f);
  put_loc(depth, &f->loc, file);
}

static void dump_enum(int depth, const cps_schema *schema, const cps_enum *e,
                      const cps_message *parent, const cps_file *file) {
  indent(depth);
  printf("enum %s\n", e->name);
  depth++;
  indent(depth);
  printf("full_name: %s\n", e->full_name);
  indent(depth);
  printf("closed: %s allow_alias: %s deprecated: %s\n", yes(e->closed), yes(e->allow_alias),
         yes(e->deprecated));
  put_features_line(depth, &e->features);
  put_ranges(depth, "reserved_ranges", e->reserved_ranges, e->reserved_range_count);
  put_names(depth, "reserved_names", e->reserved_names, e->reserved_name_count);
  put_loc(depth, &e->loc, file);
  check(e->parent == parent, "enum parent", e->full_name);
  check(e->file == file, "enum file", e->full_name);
  check(find_enum(schema, e->full_name) == e, "enum found by its full name", e->full_name);
  for (size_t i = 0; i < e->value_count; i++) {
    const cps_enum_value *v = &e->values[i];
    indent(depth);
    printf("value %s = %" PRId32 "\n", v->name, v->number);
    indent(depth + 1);
    printf("full_name: %s deprecated: %s\n", v->full_name, yes(v->deprecated));
    put_features_line(depth + 1, &v->features);
    put_loc(depth + 1, &v->loc, file);
    check(v->parent == e, "enum value parent", v->full_name);
    check(v->index == (int)i, "enum value index", v->full_name);
  }
}

static void dump_message(int depth, const cps_schema *schema, const cps_message *m,
                         const cps_message *parent, const cps_file *file) {
  indent(depth);
  printf("message %s\n", m->name);
  depth++;
  indent(depth);
  printf("full_name: %s\n", m->full_name);
  indent(depth);
  printf("map_entry: %s message_set_wire_format: %s deprecated: %s\n", yes(m->map_entry),
         yes(m->message_set_wire_format), yes(m->deprecated));
  put_features_line(depth, &m->features);
  put_ranges(depth, "extension_ranges", m->extension_ranges, m->extension_range_count);
  put_ranges(depth, "reserved_ranges", m->reserved_ranges, m->reserved_range_count);
  put_names(depth, "reserved_names", m->reserved_names, m->reserved_name_count);
  put_loc(depth, &m->loc, file);
  check(m->parent == parent, "message parent", m->full_name);
  check(m->file == file, "message file", m->full_name);
  check(find_message(schema, m->full_name) == m, "message found by its full name", m->full_name);
  for (size_t i = 0; i < m->field_count; i++) dump_field(depth, &m->fields[i], m, i, file);
  indent(depth);
  printf("real_oneof_count: %zu\n", m->real_oneof_count);
  for (size_t i = 0; i < m->oneof_count; i++) {
    const cps_oneof *o = &m->oneofs[i];
    indent(depth);
    printf("oneof %s%s\n", o->name, o->synthetic ? " (synthetic)" : "");
    indent(depth + 1);
    printf("full_name: %s fields:", o->full_name);
    for (size_t j = 0; j < o->field_count; j++) {
      printf(" %s", o->fields[j]->name);
      check(o->fields[j]->oneof == o, "oneof member points back", o->fields[j]->full_name);
    }
    putchar('\n');
    put_features_line(depth + 1, &o->features);
    put_loc(depth + 1, &o->loc, file);
    check(o->parent == m, "oneof parent", o->full_name);
    check(o->index == (int)i, "oneof index", o->full_name);
    check(o->synthetic == (i >= m->real_oneof_count), "synthetic oneofs last", o->full_name);
  }
  for (size_t i = 0; i < m->nested_count; i++)
    dump_message(depth, schema, &m->nested[i], m, file);
  for (size_t i = 0; i < m->enum_count; i++) dump_enum(depth, schema, &m->enums[i], m, file);
  for (size_t i = 0; i < m->extension_count; i++) {
    check(m->extensions[i].is_extension, "nested extension flagged", m->extensions[i].full_name);
    dump_field(depth, &m->extensions[i], m, i, file);
  }
}

static void dump_service(int depth, const cps_service *s, const cps_file *file) {
  indent(depth);
  printf("service %s\n", s->name);
  depth++;
  indent(depth);
  printf("full_name: %s deprecated: %s\n", s->full_name, yes(s->deprecated));
  put_loc(depth, &s->loc, file);
  check(s->file == file, "service file", s->full_name);
  for (size_t i = 0; i < s->method_count; i++) {
    const cps_method *m = &s->methods[i];
    indent(depth);
    printf("method %s\n", m->name);
    indent(depth + 1);
    printf("full_name: %s\n", m->full_name);
    indent(depth + 1);
    printf("input: %s output: %s\n", m->input ? m->input->full_name : "null",
           m->output ? m->output->full_name : "null");
    indent(depth + 1);
    printf("client_streaming: %s server_streaming: %s deprecated: %s idempotency_level: %d\n",
           yes(m->client_streaming), yes(m->server_streaming), yes(m->deprecated),
           m->idempotency_level);
    put_loc(depth + 1, &m->loc, file);
    check(m->parent == s, "method parent", m->full_name);
  }
}

// FNV-1a, to pin the serialized descriptor without printing it.
static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211u;
  }
  return h;
}

static void dump_file(const cps_schema *schema, const cps_file *f) {
  printf("file %s\n", f->name);
  printf("  package: ");
  put_str(f->package);
  if (f->syntax == CPS_SYNTAX_EDITIONS) {
    printf("\n  syntax: editions edition: %d deprecated: %s\n", f->edition, yes(f->deprecated));
  } else {
    printf("\n  syntax: proto%d deprecated: %s\n", (int)f->syntax, yes(f->deprecated));
  }
  put_features_line(1, &f->features);
  printf("  deps:");
  for (size_t i = 0; i < f->dep_count; i++) printf(" %s", f->deps[i]->name);
  printf("\n  public_deps:");
  for (size_t i = 0; i < f->public_dep_count; i++) printf(" %d", f->public_deps[i]);
  printf("\n  descriptor: %zu bytes fnv1a %016" PRIx64 "\n", f->descriptor_size,
         fnv1a(f->descriptor, f->descriptor_size));
  check(find_file(schema, f->name) == f, "file found by its name", f->name);
  for (size_t i = 0; i < f->message_count; i++) dump_message(1, schema, &f->messages[i], NULL, f);
  for (size_t i = 0; i < f->enum_count; i++) dump_enum(1, schema, &f->enums[i], NULL, f);
  for (size_t i = 0; i < f->extension_count; i++) {
    check(f->extensions[i].is_extension, "file extension flagged", f->extensions[i].full_name);
    dump_field(1, &f->extensions[i], NULL, i, f);
  }
  for (size_t i = 0; i < f->service_count; i++) dump_service(1, &f->services[i], f);
}

static void dump_schema(const cps_schema *schema) {
  g_schema = schema;
  printf("pool.parameter: ");
  put_str(schema->parameter);
  printf("\npool.compiler_version: %d.%d.%d\n", schema->compiler_version[0],
         schema->compiler_version[1], schema->compiler_version[2]);
  printf("pool.to_generate:");
  for (size_t i = 0; i < schema->to_generate_count; i++) {
    printf(" %s", schema->to_generate[i]->name);
  }
  printf("\n");
  for (size_t i = 0; i < schema->file_count; i++) {
    const cps_file *f = schema->files[i];
    // Dependencies come first.
    for (size_t j = 0; j < f->dep_count; j++) {
      bool earlier = false;
      for (size_t k = 0; k < i; k++) earlier = earlier || schema->files[k] == f->deps[j];
      check(earlier, "dependency listed before its dependent", f->name);
    }
    dump_file(schema, f);
  }
}

// --features: one line per element of the files to generate, its resolved
// features and the flags derived from them, for the editions tests.
static void features_field(int depth, const cps_field *f) {
  indent(depth);
  printf("%s %s %s %s:", f->is_extension ? "extension" : "field", label_name(f->label),
         type_name(f->type), f->full_name);
  if (f->has_presence) fputs(" has_presence", stdout);
  if (f->packed) fputs(" packed", stdout);
  if (f->utf8_validate) fputs(" utf8_validate", stdout);
  if (f->type == CPS_TYPE_ENUM && f->enum_type != NULL)
    fputs(f->enum_type->closed ? " closed_enum" : " open_enum", stdout);
  fputs(" | ", stdout);
  put_features(&f->features);
  putchar('\n');
}

static void features_enum(int depth, const cps_enum *e) {
  indent(depth);
  printf("enum %s:%s | ", e->full_name, e->closed ? " closed" : "");
  put_features(&e->features);
  putchar('\n');
  for (size_t i = 0; i < e->value_count; i++) {
    indent(depth + 1);
    printf("value %s | ", e->values[i].full_name);
    put_features(&e->values[i].features);
    putchar('\n');
  }
}

static void features_message(int depth, const cps_message *m) {
  indent(depth);
  printf("message %s:%s | ", m->full_name, m->map_entry ? " map_entry" : "");
  put_features(&m->features);
  putchar('\n');
  for (size_t i = 0; i < m->oneof_count; i++) {
    indent(depth + 1);
    printf("oneof %s:%s | ", m->oneofs[i].full_name, m->oneofs[i].synthetic ? " synthetic" : "");
    put_features(&m->oneofs[i].features);
    putchar('\n');
  }
  for (size_t i = 0; i < m->field_count; i++) features_field(depth + 1, &m->fields[i]);
  for (size_t i = 0; i < m->extension_count; i++) features_field(depth + 1, &m->extensions[i]);
  for (size_t i = 0; i < m->nested_count; i++) features_message(depth + 1, &m->nested[i]);
  for (size_t i = 0; i < m->enum_count; i++) features_enum(depth + 1, &m->enums[i]);
}

static void features_schema(const cps_schema *schema) {
  for (size_t i = 0; i < schema->to_generate_count; i++) {
    const cps_file *f = schema->to_generate[i];
    if (f->syntax == CPS_SYNTAX_EDITIONS) {
      printf("file %s: edition %d | ", f->name, f->edition);
    } else {
      printf("file %s: proto%d | ", f->name, (int)f->syntax);
    }
    put_features(&f->features);
    putchar('\n');
    for (size_t j = 0; j < f->message_count; j++) features_message(1, &f->messages[j]);
    for (size_t j = 0; j < f->enum_count; j++) features_enum(1, &f->enums[j]);
    for (size_t j = 0; j < f->extension_count; j++) features_field(1, &f->extensions[j]);
  }
}

// The contents of `path` in `mem`, or NULL after saying why.
static const char *read_file(cps_pool *mem, const char *path, size_t *size) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    perror(path);
    return NULL;
  }
  const char *data = cps_pool_read(mem, fp, size);
  fclose(fp);
  if (!data) {
    fprintf(stderr, "%s: read failed\n", path);
    return NULL;
  }
  return data;
}

static const char kUsage[] =
    "usage: cpay-model-dump [-I DIR]... FILE.proto...\n"
    "       cpay-model-dump [--features] --descriptor-set FILE\n"
    "       cpay-model-dump [--features] --request FILE\n";

int main(int argc, char **argv) {
  cps_pool *mem = cps_pool_new();  // the options, the input, the model and the error
  cps_param_list dirs = {0}, files = {0};
  const char *set_path = NULL, *request_path = NULL;
  bool features_only = false;
  const cps_param_spec specs[] = {
      {"I=DIR", CPS_PARAM_LIST, &dirs, "an include directory"},
      {"descriptor-set=FILE", CPS_PARAM_STRING, &set_path, "a FileDescriptorSet"},
      {"request=FILE", CPS_PARAM_STRING, &request_path, "a CodeGeneratorRequest"},
      {"features", CPS_PARAM_BOOL, &features_only, "print the resolved features only"},
      {NULL, CPS_PARAM_LIST, &files, ".proto file"},
  };
  const char *bad = cps_args_parse(mem, argc, argv, specs, (int)(sizeof specs / sizeof specs[0]));
  bool from_file = set_path != NULL || request_path != NULL;
  if (bad == NULL && (from_file ? files.count != 0 || (set_path != NULL && request_path != NULL)
                                : files.count == 0)) {
    bad = "give .proto files, --descriptor-set FILE or --request FILE";
  }
  if (bad != NULL) {
    fprintf(stderr, "cpay-model-dump: %s\n%s", bad, kUsage);
    cps_pool_free(mem);
    return 2;
  }
  cps_schema *schema = NULL;
  char *err = NULL;
  if (from_file) {
    size_t size;
    const char *data = read_file(mem, set_path ? set_path : request_path, &size);
    if (data == NULL) {
      cps_pool_free(mem);
      return 1;
    }
    schema = set_path ? cps_load_descriptor_set(mem, data, size, &err)
                      : cps_load_request(mem, data, size, &err);
  } else {
    schema = cps_load_protos(mem, dirs.items, dirs.count, files.items, files.count, &err);
  }
  if (schema == NULL) {
    fprintf(stderr, "%s\n", err ? err : "(no error message)");
    cps_pool_free(mem);
    return 1;
  }
  if (features_only) {
    features_schema(schema);
  } else {
    dump_schema(schema);
  }
  cps_pool_free(mem);
  if (fflush(stdout) != 0) return 1;
  return failures == 0 ? 0 : 1;
}
