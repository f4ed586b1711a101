// protoc-gen-cpay's breaking_lock= parameter: the lock check of cpay-breaking
// run on the CodeGeneratorRequest's files, so that generation fails on a
// breaking change.
#include "breaking/breaking.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool brk_check_lock(const cpm_pool *pool, const char *lock_path, cpf_diag *diag) {
  cpf_buf text = {0};
  bool ok = false;
  FILE *f = fopen(lock_path, "rb");
  if (f == NULL) {
    char *msg = cpf_xasprintf("protoc-gen-cpay: breaking_lock: cannot open %s: %s (create it with "
                              "`cpay-breaking --lock %s --update-lock DIR`)",
                              lock_path, strerror(errno), lock_path);
    cpf_diag_plain(diag, msg);
    free(msg);
    return false;
  }
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cpf_buf_append(&text, chunk, n);
  bool read_ok = !ferror(f);
  fclose(f);
  if (!read_ok) {
    char *msg = cpf_xasprintf("protoc-gen-cpay: breaking_lock: cannot read %s", lock_path);
    cpf_diag_plain(diag, msg);
    free(msg);
    goto out_free_text;
  }
  char *err = NULL;
  brk_snap *lock = brk_lock_parse(cpf_buf_str(&text), text.size, lock_path, &err);
  if (lock == NULL) {
    char *msg = cpf_xasprintf("protoc-gen-cpay: breaking_lock: %s", err);
    cpf_diag_plain(diag, msg);
    free(msg);
    free(err);
    goto out_free_text;
  }
  brk_snap *cur = brk_snap_from_pool(pool, "");
  brk_findings found = {0};
  brk_compare(lock, cur, BRK_CAT_ALL, &found);
  brk_findings_sort(&found);
  for (size_t i = 0; i < found.count; i++) {
    const brk_finding *fd = &found.v[i];
    if (fd->rule->note) continue;
    char *msg = fd->line > 0
                    ? cpf_xasprintf("%s:%d:%d: [%s] %s%s%s", fd->file, fd->line, fd->col,
                                    fd->rule->id, fd->message, fd->fix ? "; fix: " : "",
                                    fd->fix ? fd->fix : "")
                    : cpf_xasprintf("%s: [%s] %s%s%s", fd->file, fd->rule->id, fd->message,
                                    fd->fix ? "; fix: " : "", fd->fix ? fd->fix : "");
    cpf_diag_plain(diag, msg);
    free(msg);
  }
  ok = brk_findings_errors(&found) == 0;
  brk_findings_free(&found);
  brk_snap_free(cur);
  brk_snap_free(lock);
out_free_text:
  cpf_buf_free(&text);
  return ok;
}
