// protoc-gen-cpay's breaking_lock= parameter: the lock check of cpay-breaking
// run on the CodeGeneratorRequest's files, so that generation fails on a
// breaking change.
#include "breaking/breaking.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

// The lock's text in `mem`, or NULL after adding why to `diag`.
static const char *read_lock(cpf_pool *mem, const char *lock_path, size_t *size, cpf_diag *diag) {
  FILE *f = fopen(lock_path, "rb");
  if (f == NULL) {
    cpf_diag_plain(diag, cpf_pool_printf(mem, "protoc-gen-cpay: breaking_lock: cannot open %s: %s "
                                              "(create it with `cpay-breaking --lock %s "
                                              "--update-lock DIR`)",
                                         lock_path, strerror(errno), lock_path));
    return NULL;
  }
  cpf_buf text = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cpf_buf_append(&text, chunk, n);
  bool read_ok = !ferror(f);
  fclose(f);
  *size = text.size;
  char *data = cpf_pool_own(mem, cpf_buf_take(&text));
  if (!read_ok) {
    cpf_diag_plain(diag, cpf_pool_printf(mem, "protoc-gen-cpay: breaking_lock: cannot read %s",
                                         lock_path));
    return NULL;
  }
  return data;
}

bool brk_check_lock(const cpm_pool *pool, const char *lock_path, cpf_diag *diag) {
  cpf_pool *mem = cpf_pool_new();
  bool ok = false;
  size_t size = 0;
  const char *text = read_lock(mem, lock_path, &size, diag);
  if (text == NULL) goto out_free_mem;
  char *err = NULL;
  brk_snap *lock = brk_lock_parse(mem, text, size, lock_path, &err);
  if (lock == NULL) {
    cpf_diag_plain(diag, cpf_pool_printf(mem, "protoc-gen-cpay: breaking_lock: %s", err));
    goto out_free_mem;
  }
  brk_snap *cur = brk_snap_from_pool(mem, pool, "");
  brk_findings found = {0};
  brk_compare(mem, lock, cur, BRK_CAT_ALL, &found);
  brk_findings_sort(&found);
  for (size_t i = 0; i < found.count; i++) {
    const brk_finding *fd = &found.v[i];
    if (fd->rule->note) continue;
    const char *fix_sep = fd->fix ? "; fix: " : "", *fix = fd->fix ? fd->fix : "";
    cpf_diag_plain(diag, fd->line > 0 ? cpf_pool_printf(mem, "%s:%d:%d: [%s] %s%s%s", fd->file,
                                                        fd->line, fd->col, fd->rule->id,
                                                        fd->message, fix_sep, fix)
                                      : cpf_pool_printf(mem, "%s: [%s] %s%s%s", fd->file,
                                                        fd->rule->id, fd->message, fix_sep, fix));
  }
  ok = brk_findings_errors(&found) == 0;
out_free_mem:
  cpf_pool_free(mem);
  return ok;
}
