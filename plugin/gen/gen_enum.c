// Enums: the C enum in the header; the closed-enum table and the name
// lookup in the source.
#include <inttypes.h>
#include <stdlib.h>

#include "gen/gen.h"

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

void cpg_gen_enum(cpg_gen *g, const cpm_enum *e, cpf_buf *hdr, cpf_buf *src) {
  const char *name = cpn_enum(g->names, e);
  cpf_buf values = {0};
  cpf_buf cases = {0};
  uint64_t low_mask = 0;
  int32_t *outside = cpf_xmalloc(e->value_count * sizeof(int32_t));
  size_t outside_count = 0;
  for (size_t i = 0; i < e->value_count; i++) {
    const cpm_enum_value *v = &e->values[i];
    const char *num = cpg_int32_literal(g, v->number);
    CPG_RENDER(g, &values, "enum_value", {"doc", cpg_doc(g, &v->loc, "  ")},
               {"name", cpn_enum_value(g->names, v)}, {"number", num});
    bool first = true;
    for (size_t k = 0; k < i; k++) first = first && e->values[k].number != v->number;
    if (!first) continue;  // an alias: the switch names the first value
    CPG_RENDER(g, &cases, "enum_case", {"number", num}, {"name", v->name});
    if (v->number >= 0 && v->number < 64) {
      low_mask |= UINT64_C(1) << v->number;
    } else {
      outside[outside_count++] = v->number;
    }
  }
  qsort(outside, outside_count, sizeof(int32_t), cmp_i32);
  CPG_RENDER(g, hdr, "enum", {"doc", cpg_doc(g, &e->loc, "")}, {"full_name", e->full_name}, {"enum", name},
             {"values", cpf_buf_str(&values)}, {"api", g->api});

  cpf_buf arr = {0};
  const char *values_ref = "NULL";
  if (outside_count > 0) {
    cpf_buf rows = {0};
    for (size_t i = 0; i < outside_count; i++) {
      CPG_RENDER(g, &rows, "array_row", {"value", cpg_int32_literal(g, outside[i])});
    }
    const char *arr_name = cpg_str(g, "%s__values", name);
    CPG_RENDER(g, &arr, "static_array", {"type", "int32_t"}, {"name", arr_name},
               {"rows", cpf_buf_str(&rows)});
    cpf_buf_free(&rows);
    values_ref = arr_name;
  }
  CPG_RENDER(g, src, "enum_table", {"values_array", cpf_buf_str(&arr)}, {"enum", name},
             {"low_mask", cpg_str(g, "UINT64_C(0x%016" PRIx64 ")", low_mask)},
             {"count", cpg_str(g, "%zu", outside_count)}, {"values_ref", values_ref},
             {"cases", cpf_buf_str(&cases)});
  cpf_buf_free(&arr);
  cpf_buf_free(&values);
  cpf_buf_free(&cases);
  free(outside);
}
