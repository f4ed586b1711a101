// The driver: every file protoc asked for, through the generators of gen_*.c.
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

// Generated lines are at most this long, but for a name or string from the
// .proto that does not fit on a line of its own (render.h, cpr_wrap).
enum { LINE_WIDTH = 100 };

// Adds the generated pair `base`+suffixes to `out` and empties `g`'s buffers.
static void add_pair(cpg_gen *g, cpf_output *out, const char *base, int len, const char *hsuffix,
                     const char *csuffix) {
  char *hname = cpf_xasprintf("%.*s%s", len, base, hsuffix);
  char *cname = cpf_xasprintf("%.*s%s", len, base, csuffix);
  cpr_wrap(&g->h, LINE_WIDTH);
  cpr_wrap(&g->c, LINE_WIDTH);
  size_t hs = g->h.size, cs = g->c.size;
  cpf_output_add(out, hname, cpf_buf_take(&g->h), hs);
  cpf_output_add(out, cname, cpf_buf_take(&g->c), cs);
  free(hname);
  free(cname);
}

// Reports (and clears) an internal error of the generator; true if there was one.
static bool report_bug(cpg_gen *g, cpf_diag *diag) {
  if (!g->bug) return false;
  char *msg = cpf_xasprintf("%s: internal error in protoc-gen-cpay: %s", g->file->name, g->bug);
  cpf_diag_plain(diag, msg);
  free(msg);
  free(g->bug);
  g->bug = NULL;
  return true;
}

void cpg_generate(const cpm_pool *pool, const cpg_options *opts, cpf_output *out, cpf_diag *diag) {
  cpn_names *names = cpn_names_new(pool);
  cpf_pool *tmp = cpf_pool_new();
  const char *api = opts->api_macro ? cpf_pool_printf(tmp, "%s ", opts->api_macro) : "";
  for (size_t i = 0; i < pool->to_generate_count; i++) {
    cpg_gen g = {0};
    g.file = pool->to_generate[i];
    g.names = names;
    g.diag = diag;
    g.opts = opts;
    g.pool = tmp;
    g.api = api;
    cpg_gen_file(&g);
    if (!report_bug(&g, diag) && cpf_diag_ok(diag)) {
      const char *base = g.file->name;
      size_t len = strlen(base);
      if (len > 6 && strcmp(base + len - 6, ".proto") == 0) len -= 6;
      add_pair(&g, out, base, (int)len, ".cpay.h", ".cpay.c");
      if (g.file->service_count > 0) {
        cpg_gen_grpc(&g);
        if (!report_bug(&g, diag)) add_pair(&g, out, base, (int)len, ".cpay_grpc.h", ".cpay_grpc.c");
      }
    }
    cpf_buf_free(&g.h);
    cpf_buf_free(&g.c);
  }
  cpf_pool_free(tmp);
  cpn_names_free(names);
}
