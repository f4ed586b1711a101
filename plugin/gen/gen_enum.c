// Enums: the C enum and its name lookup in the header; the closed-enum
// table (for the binary codec) and the description (value names, for
// E_name(), JSON and text) in the source.
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

// Whether `v` is the first value of its enum with its number (the others are
// aliases: lookups by number give the first).
static bool first_with_number(const cps_enum *e, size_t i) {
  for (size_t k = 0; k < i; k++) {
    if (e->values[k].number == e->values[i].number) return false;
  }
  return true;
}

static void enum_decl(cpg_gen *g, const cps_enum *e, const char *name, cps_buf *out) {
  cpg_print(g, out,
            "$doc$// $full_name$\n"
            "typedef enum $enum$ {\n",
            "doc", cpg_doc(g, &e->loc, ""), "full_name", e->full_name, "enum", name, CPG_END);
  for (size_t i = 0; i < e->value_count; i++) {
    const cps_enum_value *v = &e->values[i];
    cpg_print(g, out, "$doc$  $name$ = $number$,\n", "doc", cpg_doc(g, &v->loc, "  "), "name",
              cpg_name_enum_value(g->names, v), "number", cpg_int32_literal(g, v->number), CPG_END);
  }
  cpg_print(g, out,
            "} $enum$;\n"
            "\n"
            "$api$extern const cpay_enum_table $enum$_table;\n"
            "$api$extern const cpay_enum_desc $enum$_desc;\n"
            "// The name of `value` (the first one for aliases); NULL when unknown.\n"
            "static inline const char *$enum$_name(int32_t value) {\n"
            "  return cpay_enum_name(&$enum$_desc, value);\n"
            "}\n"
            "\n",
            "enum", name, "api", g->api, CPG_END);
}

// The binary table: values 0..63 as a bit mask, the others in a sorted array.
static void enum_table(cpg_gen *g, const cps_enum *e, const char *name, cps_buf *out) {
  uint64_t low_mask = 0;
  int32_t *outside = cps_pool_alloc(g->pool, (e->value_count + 1) * sizeof(int32_t));
  size_t outside_count = 0;
  for (size_t i = 0; i < e->value_count; i++) {
    int32_t n = e->values[i].number;
    if (!first_with_number(e, i)) continue;
    if (n >= 0 && n < 64) {
      low_mask |= UINT64_C(1) << n;
    } else {
      outside[outside_count++] = n;
    }
  }
  qsort(outside, outside_count, sizeof(int32_t), cmp_i32);
  const char *values_ref = "NULL";
  if (outside_count > 0) {
    values_ref = cpg_str(g, "%s__values", name);
    cpg_print(g, out, "static const int32_t $array$[] = {\n", "array", values_ref, CPG_END);
    for (size_t i = 0; i < outside_count; i++) {
      cpg_print(g, out, "    $value$,\n", "value", cpg_int32_literal(g, outside[i]), CPG_END);
    }
    cpg_print(g, out, "};\n", CPG_END);
  }
  cpg_print(g, out, "const cpay_enum_table $enum$_table = {$low_mask$, $count$, $values$};\n\n",
            "enum", name, "low_mask", cpg_str(g, "UINT64_C(0x%016" PRIx64 ")", low_mask),
            "count", cpg_str(g, "%zu", outside_count), "values", values_ref, CPG_END);
}

// The description: value names and numbers in declaration order.
static void enum_desc(cpg_gen *g, const cps_enum *e, const char *name, cps_buf *out) {
  const char *names = "NULL", *numbers = "NULL";
  if (e->value_count > 0) {
    names = cpg_str(g, "%s__names", name);
    numbers = cpg_str(g, "%s__numbers", name);
    cpg_print(g, out, "static const char *const $array$[] = {\n", "array", names, CPG_END);
    for (size_t i = 0; i < e->value_count; i++) {
      const cps_enum_value *v = &e->values[i];
      cpg_print(g, out, "    $name$,\n", "name", cpg_c_string(g, v->name, strlen(v->name)),
                CPG_END);
    }
    cpg_print(g, out,
              "};\n"
              "static const int32_t $array$[] = {\n",
              "array", numbers, CPG_END);
    for (size_t i = 0; i < e->value_count; i++) {
      cpg_print(g, out, "    $number$,\n", "number", cpg_int32_literal(g, e->values[i].number),
                CPG_END);
    }
    cpg_print(g, out, "};\n", CPG_END);
  }
  cpg_print(g, out,
            "const cpay_enum_desc $enum$_desc = {\n"
            "    .full_name = \"$full_name$\",\n"
            "    .names = $names$,\n"
            "    .numbers = $numbers$,\n"
            "    .count = $count$,\n"
            "    .closed = $closed$,\n"
            "};\n"
            "\n",
            "enum", name, "full_name", e->full_name, "names", names, "numbers", numbers, "count",
            cpg_str(g, "%zu", e->value_count), "closed", e->closed ? "true" : "false", CPG_END);
}

void cpg_gen_enum(cpg_gen *g, const cps_enum *e, cps_buf *hdr, cps_buf *src) {
  const char *name = cpg_name_enum(g->names, e);
  enum_decl(g, e, name, hdr);
  enum_table(g, e, name, src);
  enum_desc(g, e, name, src);
}
