// The driver: every file protoc asked for, through the generators of gen_*.c.
#include <string.h>

#include "gen/gen.h"

// Generated lines are at most this long, but for a name or string from the
// .proto that does not fit on a line of its own (render.h, cpg_wrap).
enum { LINE_WIDTH = 100 };

// Adds the generated pair `base`+suffixes to `out`, which takes `g`'s buffers.
static void add_pair(cpg_gen *g, cps_output *out, const char *base, int len, const char *hsuffix,
                     const char *csuffix) {
  cpg_wrap(g->pool, &g->h, LINE_WIDTH);
  cpg_wrap(g->pool, &g->c, LINE_WIDTH);
  cps_output_add(out, cpg_str(g, "%.*s%s", len, base, hsuffix), &g->h);
  cps_output_add(out, cpg_str(g, "%.*s%s", len, base, csuffix), &g->c);
}

// Reports (and clears) an internal error of the generator; true if there was one.
static bool report_bug(cpg_gen *g, cps_diag *diag) {
  if (!g->bug) return false;
  cps_diag_plain(diag, cpg_str(g, "%s: internal error in protoc-gen-cpay: %s", g->file->name,
                               g->bug));
  g->bug = NULL;
  return true;
}

void cpg_generate(const cps_schema *schema, const cpg_options *opts, cps_output *out,
                  cps_diag *diag) {
  cps_pool *tmp = cps_pool_new();
  cpg_names *names = cpg_names_new(tmp);
  const char *api = opts->api_macro ? cps_pool_printf(tmp, "%s ", opts->api_macro) : "";
  for (size_t i = 0; i < schema->to_generate_count; i++) {
    cpg_gen g = {0};
    g.file = schema->to_generate[i];
    g.names = names;
    g.diag = diag;
    g.opts = opts;
    g.pool = tmp;
    g.api = api;
    cpg_http_check(&g);
    cpg_gen_file(&g);
    if (!report_bug(&g, diag) && cps_diag_ok(diag)) {
      const char *base = g.file->name;
      size_t len = strlen(base);
      if (len > 6 && strcmp(base + len - 6, ".proto") == 0) len -= 6;
      add_pair(&g, out, base, (int)len, ".cpay.h", ".cpay.c");
      if (g.file->service_count > 0) {
        cpg_gen_grpc(&g);
        if (!report_bug(&g, diag)) add_pair(&g, out, base, (int)len, ".cpay_grpc.h", ".cpay_grpc.c");
        if (opts->openapi) cpg_gen_openapi(&g, out);
      }
    }
    cps_buf_free(&g.h);
    cps_buf_free(&g.c);
  }
  cps_pool_free(tmp);
}
