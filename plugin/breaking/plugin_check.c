// protoc-gen-cpay's breaking_lock= parameter: the lock check of cpay-breaking
// run on the CodeGeneratorRequest's files, so that generation fails on a
// breaking change.
#include "breaking/breaking.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

// The lock's text in `mem`, or NULL after adding why to `diag`.
static const char *read_lock(cps_pool *mem, const char *lock_path, size_t *size, cps_diag *diag) {
  FILE *f = fopen(lock_path, "rb");
  if (f == NULL) {
    cps_diag_plain(diag, cps_pool_printf(mem, "protoc-gen-cpay: breaking_lock: cannot open %s: %s "
                                              "(create it with `cpay-breaking --lock %s "
                                              "--update-lock DIR`)",
                                         lock_path, strerror(errno), lock_path));
    return NULL;
  }
  const char *data = cps_pool_read(mem, f, size);
  fclose(f);
  if (!data) {
    cps_diag_plain(diag, cps_pool_printf(mem, "protoc-gen-cpay: breaking_lock: cannot read %s",
                                         lock_path));
    return NULL;
  }
  return data;
}

bool cpb_check_lock(const cps_schema *schema, const char *lock_path, cps_diag *diag) {
  cps_pool *mem = cps_pool_new();
  bool ok = false;
  size_t size = 0;
  const char *text = read_lock(mem, lock_path, &size, diag);
  if (text == NULL) goto out_free_mem;
  char *err = NULL;
  cpb_snap *lock = cpb_lock_parse(mem, text, size, lock_path, &err);
  if (lock == NULL) {
    cps_diag_plain(diag, cps_pool_printf(mem, "protoc-gen-cpay: breaking_lock: %s", err));
    goto out_free_mem;
  }
  cpb_snap *cur = cpb_snap_from_schema(mem, schema, "");
  cpb_findings found = {0};
  cpb_compare(mem, lock, cur, CPB_CAT_ALL, &found);
  cpb_findings_sort(&found);
  for (size_t i = 0; i < found.count; i++) {
    const cpb_finding *fd = &found.v[i];
    if (fd->rule->note) continue;
    const char *fix_sep = fd->fix ? "; fix: " : "", *fix = fd->fix ? fd->fix : "";
    cps_diag_plain(diag, fd->line > 0 ? cps_pool_printf(mem, "%s:%d:%d: [%s] %s%s%s", fd->file,
                                                        fd->line, fd->col, fd->rule->id,
                                                        fd->message, fix_sep, fix)
                                      : cps_pool_printf(mem, "%s: [%s] %s%s%s", fd->file,
                                                        fd->rule->id, fd->message, fix_sep, fix));
  }
  ok = cpb_findings_errors(&found) == 0;
out_free_mem:
  cps_pool_free(mem);
  return ok;
}
