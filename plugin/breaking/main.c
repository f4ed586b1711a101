// cpay-breaking: checks that a schema change keeps old readers and writers
// working, against a previous version (--against) and against the lock file
// of every number and name the schema ever used (--lock). See --help and
// docs/breaking.md.
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "breaking/breaking.h"
#include "cpay/port.h"

static const char kUsage[] =
    "usage: cpay-breaking [-I DIR]... [--rules wire|wire-json|all] [--format text|json|github]\n"
    "                     [--lock FILE [--update-lock [--force]]] [--against OLD] NEW\n"
    "\n"
    "Reports changes of NEW that break readers or writers of OLD (--against) or of\n"
    "any version recorded in the lock file (--lock).\n"
    "\n"
    "NEW and OLD are each:\n"
    "  DIR              every .proto file below DIR (DIR is the include path)\n"
    "  FILE.proto       one .proto file (its directory is the include path)\n"
    "  FILE             a FileDescriptorSet (protoc --descriptor_set_out, best\n"
    "                   with --include_source_info for positions)\n"
    "  git:REV[:DIR]    the files of a git revision (of DIR in it), read with\n"
    "                   `git archive` without touching the work tree\n"
    "\n"
    "Options:\n"
    "  -I DIR           another include path (imports that are not checked)\n"
    "  --rules CAT      wire: binary readers and gRPC; wire-json: also JSON and\n"
    "                   text format; all (default): also generated source code\n"
    "  --format FMT     text (default), json (one object per line), github\n"
    "                   (GitHub Actions annotations)\n"
    "  --against OLD    the previous version to compare with\n"
    "  --lock FILE      also compare with the history in FILE; without --against,\n"
    "                   with the history alone\n"
    "  --update-lock    record NEW in the lock after a passing check (creates a\n"
    "                   missing lock from NEW)\n"
    "  --force          with --update-lock: record NEW even though it breaks\n"
    "  --list-rules     print every rule ID with its category and exit\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n"
    "\n"
    "Exit status: 0 compatible, 1 breaking (or --update-lock refused), 2 the\n"
    "inputs or options could not be used.\n";

// ---- inputs ---------------------------------------------------------------

typedef struct strvec {
  char **v;
  size_t n;
} strvec;

static void strvec_push(strvec *s, char *str) {
  s->v = cpf_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
  s->v[s->n++] = str;
}

static void strvec_free(strvec *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

// Appends the .proto files below root/rel (relative to root) to `out`.
static bool scan_dir(const char *root, const char *rel, strvec *out, char **err) {
  char *path = *rel ? cpf_xasprintf("%s/%s", root, rel) : cpf_xstrdup(root);
  DIR *d = opendir(path);
  if (!d) {
    *err = cpf_xasprintf("cannot read directory %s: %s", path, strerror(errno));
    free(path);
    return false;
  }
  struct dirent *e;
  bool ok = true;
  while (ok && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;  // ., .., .git and other hidden entries
    char *child = *rel ? cpf_xasprintf("%s/%s", rel, e->d_name) : cpf_xstrdup(e->d_name);
    char *full = cpf_xasprintf("%s/%s", root, child);
    struct stat st;
    if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
      ok = scan_dir(root, child, out, err);
      free(child);
    } else {
      size_t len = strlen(child);
      if (len > 6 && strcmp(child + len - 6, ".proto") == 0) {
        strvec_push(out, child);
      } else {
        free(child);
      }
    }
    free(full);
  }
  closedir(d);
  free(path);
  return ok;
}

static bool read_file(const char *path, cpf_buf *out, char **err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *err = cpf_xasprintf("cannot open %s: %s", path, strerror(errno));
    return false;
  }
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cpf_buf_append(out, chunk, n);
  bool ok = !ferror(f);
  fclose(f);
  if (!ok) *err = cpf_xasprintf("cannot read %s", path);
  return ok;
}

// "dir/" and "./dir" become "dir"; "." becomes "".
static char *norm_prefix(const char *dir) {
  while (dir[0] == '.' && dir[1] == '/') dir += 2;
  char *p = cpf_xstrdup(dir);
  size_t len = strlen(p);
  while (len > 1 && p[len - 1] == '/') p[--len] = '\0';
  if (strcmp(p, ".") == 0) p[0] = '\0';
  return p;
}

static cpm_pool *load_dir(const char *dir, const strvec *incs, char **err) {
  strvec files = {0};
  cpm_pool *pool = NULL;
  if (!scan_dir(dir, "", &files, err)) goto out;
  if (files.n == 0) {
    *err = cpf_xasprintf("no .proto files below %s", dir);
    goto out;
  }
  qsort(files.v, files.n, sizeof *files.v, cmp_cstr);
  const char **inc = cpf_xmalloc((incs->n + 1) * sizeof *inc);
  inc[0] = dir;
  for (size_t i = 0; i < incs->n; i++) inc[i + 1] = incs->v[i];
  pool = cpm_load_protos(inc, incs->n + 1, (const char *const *)files.v, files.n, err);
  free(inc);
out:
  strvec_free(&files);
  return pool;
}

// Runs argv; its stdout and stderr go to `out_path` when it is not NULL.
static int run(char *const argv[], const char *out_path) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (out_path) {
      FILE *f = fopen(out_path, "w");
      if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
    }
    execvp(argv[0], argv);
    fprintf(stderr, "cpay-breaking: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

// ": " and the first line of a command's output, or "".
static char *git_reason(const char *log) {
  cpf_buf b = {0};
  char *err = NULL;
  char *r;
  if (read_file(log, &b, &err) && b.size) {
    size_t n = strcspn(b.data, "\n");
    r = cpf_xasprintf(": %.*s", (int)n, b.data);
  } else {
    r = cpf_xstrdup("");
  }
  free(err);
  cpf_buf_free(&b);
  return r;
}

static cpm_pool *load_git(const char *spec, const strvec *incs, char **prefix, char **err) {
  const char *rev_dir = spec + 4;
  const char *colon = strchr(rev_dir, ':');
  char *rev = colon ? cpf_xasprintf("%.*s", (int)(colon - rev_dir), rev_dir) : cpf_xstrdup(rev_dir);
  char *dir = colon ? norm_prefix(colon + 1) : cpf_xstrdup("");
  cpm_pool *pool = NULL;
  char tmpl[] = "/tmp/cpay-breaking-XXXXXX";
  const char *tmpdir_env = getenv("TMPDIR");
  char *tmp = tmpdir_env && *tmpdir_env ? cpf_xasprintf("%s/cpay-breaking-XXXXXX", tmpdir_env)
                                        : cpf_xstrdup(tmpl);
  if (*rev == '\0') {
    *err = cpf_xasprintf("%s: missing revision (expected git:REV[:DIR])", spec);
    goto out_free;
  }
  if (!mkdtemp(tmp)) {
    *err = cpf_xasprintf("cannot create a temporary directory: %s", strerror(errno));
    goto out_free;
  }
  char *verify = cpf_xasprintf("%s^{commit}", rev);
  char *check[] = {"git", "rev-parse", "--quiet", "--verify", verify, NULL};
  char *log = cpf_xasprintf("%s/git.log", tmp);
  int rc = run(check, log);
  free(verify);
  if (rc != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: %s is not a commit of the git repository here%s", spec, rev, why);
    free(why);
    free(log);
    goto out_rm;
  }
  char *tar = cpf_xasprintf("%s/tree.tar", tmp);
  char *tree = cpf_xasprintf("%s/tree", tmp);
  char *treeish = *dir ? cpf_xasprintf("%s:%s", rev, dir) : cpf_xstrdup(rev);
  char *out_opt = cpf_xasprintf("--output=%s", tar);
  char *archive[] = {"git", "archive", "--format=tar", out_opt, treeish, NULL};
  char *untar[] = {"tar", "-xf", tar, "-C", tree, NULL};
  if (mkdir(tree, 0700) != 0 || run(archive, log) != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: cannot read %s from git%s", spec, *dir ? treeish : rev, why);
    free(why);
  } else if (run(untar, log) != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: cannot unpack the files of %s%s", spec, treeish, why);
    free(why);
  } else {
    pool = load_dir(tree, incs, err);
    *prefix = cpf_xstrdup(dir);
  }
  free(tar);
  free(tree);
  free(treeish);
  free(out_opt);
  free(log);
out_rm:
  rm_tree(tmp);
out_free:
  free(tmp);
  free(rev);
  free(dir);
  return pool;
}

// Loads NEW or OLD. On success *prefix is the path shown before file names.
static cpm_pool *load_input(const char *spec, const strvec *incs, char **prefix, char **err) {
  *prefix = NULL;
  if (strncmp(spec, "git:", 4) == 0) return load_git(spec, incs, prefix, err);
  struct stat st;
  if (stat(spec, &st) != 0) {
    *err = cpf_xasprintf("cannot read %s: %s", spec, strerror(errno));
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    cpm_pool *pool = load_dir(spec, incs, err);
    if (pool) *prefix = norm_prefix(spec);
    return pool;
  }
  size_t len = strlen(spec);
  if (len > 6 && strcmp(spec + len - 6, ".proto") == 0) {
    const char *slash = strrchr(spec, '/');
    char *dir = slash ? cpf_xasprintf("%.*s", (int)(slash - spec), spec) : cpf_xstrdup(".");
    const char *base = slash ? slash + 1 : spec;
    const char **inc = cpf_xmalloc((incs->n + 1) * sizeof *inc);
    inc[0] = dir;
    for (size_t i = 0; i < incs->n; i++) inc[i + 1] = incs->v[i];
    cpm_pool *pool = cpm_load_protos(inc, incs->n + 1, &base, 1, err);
    free(inc);
    if (pool) *prefix = norm_prefix(dir);
    free(dir);
    return pool;
  }
  cpf_buf data = {0};
  cpm_pool *pool = NULL;
  if (read_file(spec, &data, err)) {
    char *why = NULL;
    pool = cpm_load_descriptor_set(data.data ? data.data : "", data.size, &why);
    if (!pool) {
      *err = cpf_xasprintf("%s is neither a directory, a .proto file nor a FileDescriptorSet: %s",
                           spec, why ? why : "cannot parse it");
    } else {
      *prefix = cpf_xstrdup("");
    }
    free(why);
  }
  cpf_buf_free(&data);
  return pool;
}

static brk_snap *load_snap(const char *what, const char *spec, const strvec *incs) {
  char *prefix = NULL, *err = NULL;
  cpm_pool *pool = load_input(spec, incs, &prefix, &err);
  if (!pool) {
    fprintf(stderr, "cpay-breaking: cannot load %s %s:\n%s\n", what, spec, err ? err : "unknown error");
    free(err);
    free(prefix);
    return NULL;
  }
  brk_snap *s = brk_snap_from_pool(pool, prefix);
  cpm_pool_free(pool);
  free(prefix);
  return s;
}

static bool write_lock(const char *path, const char *text) {
  char *tmp = cpf_xasprintf("%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) ok = false;
  if (!ok) {
    fprintf(stderr, "cpay-breaking: cannot write %s: %s\n", path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return ok;
}

// ---- main -----------------------------------------------------------------

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "cpay-breaking: %s%s%s (try --help)\n", msg, arg ? " " : "", arg ? arg : "");
  return 2;
}

int main(int argc, char **argv) {
  strvec incs = {0};
  const char *rules = "all", *format = "text", *lock_path = NULL, *against = NULL, *new_spec = NULL;
  bool update = false, force = false;
  int status = 2;
  brk_snap *cur = NULL, *old = NULL, *lock = NULL;
  brk_findings found = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dest = NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(kUsage, stdout);
      status = 0;
      goto out;
    } else if (strcmp(a, "--version") == 0) {
      printf("cpay-breaking %s\n", CPAY_VERSION_STRING);
      status = 0;
      goto out;
    } else if (strcmp(a, "--list-rules") == 0) {
      for (size_t k = 0; k < brk_rule_count; k++) {
        printf("%-38s %-9s %s%s\n", brk_rules[k].id, brk_category_name(brk_rules[k].category),
               brk_rules[k].note ? "(note) " : "", brk_rules[k].summary);
      }
      status = 0;
      goto out;
    } else if (strcmp(a, "--update-lock") == 0) {
      update = true;
      continue;
    } else if (strcmp(a, "--force") == 0) {
      force = true;
      continue;
    } else if (strncmp(a, "-I", 2) == 0 && a[2]) {
      strvec_push(&incs, cpf_xstrdup(a + 2));
      continue;
    }
    const char *keys[] = {"-I", "--rules", "--format", "--lock", "--against"};
    const char **dests[] = {NULL, &rules, &format, &lock_path, &against};
    const char *val = NULL;
    int key = -1;
    for (int k = 0; k < 5; k++) {
      size_t kl = strlen(keys[k]);
      if (strcmp(a, keys[k]) == 0) {
        if (i + 1 >= argc) {
          status = usage_error("missing value after", a);
          goto out;
        }
        key = k;
        val = argv[++i];
      } else if (k > 0 && strncmp(a, keys[k], kl) == 0 && a[kl] == '=') {
        key = k;
        val = a + kl + 1;
      }
    }
    if (key == 0) {
      strvec_push(&incs, cpf_xstrdup(val));
      continue;
    }
    if (key > 0) {
      dest = dests[key];
      *dest = val;
      continue;
    }
    if (a[0] == '-' && a[1]) {
      status = usage_error("unknown option", a);
      goto out;
    }
    if (new_spec) {
      status = usage_error("more than one NEW schema:", a);
      goto out;
    }
    new_spec = a;
  }
  brk_category cat;
  if (strcmp(rules, "wire") == 0) {
    cat = BRK_CAT_WIRE;
  } else if (strcmp(rules, "wire-json") == 0) {
    cat = BRK_CAT_WIRE_JSON;
  } else if (strcmp(rules, "all") == 0) {
    cat = BRK_CAT_ALL;
  } else {
    status = usage_error("--rules must be wire, wire-json or all, not", rules);
    goto out;
  }
  brk_format fmt;
  if (strcmp(format, "text") == 0) {
    fmt = BRK_FMT_TEXT;
  } else if (strcmp(format, "json") == 0) {
    fmt = BRK_FMT_JSON;
  } else if (strcmp(format, "github") == 0) {
    fmt = BRK_FMT_GITHUB;
  } else {
    status = usage_error("--format must be text, json or github, not", format);
    goto out;
  }
  if (!new_spec) {
    status = usage_error("missing the NEW schema", NULL);
    goto out;
  }
  if (update && !lock_path) {
    status = usage_error("--update-lock needs --lock FILE", NULL);
    goto out;
  }
  if (!against && !lock_path) {
    status = usage_error("nothing to compare NEW with: give --against OLD, --lock FILE or both", NULL);
    goto out;
  }
  if (force && !update) {
    status = usage_error("--force only applies to --update-lock", NULL);
    goto out;
  }
  if (lock_path) {
    cpf_buf text = {0};
    char *err = NULL;
    struct stat st;
    if (stat(lock_path, &st) != 0 && errno == ENOENT && update) {
      // A new lock: created from NEW below.
    } else if (!read_file(lock_path, &text, &err)) {
      fprintf(stderr, "cpay-breaking: cannot load the lock: %s%s\n", err,
              update ? "" : " (create it with --update-lock)");
      free(err);
      cpf_buf_free(&text);
      goto out;
    } else if ((lock = brk_lock_parse(text.data ? text.data : "", text.size, lock_path, &err)) == NULL) {
      fprintf(stderr, "cpay-breaking: cannot load the lock: %s\n", err);
      free(err);
      cpf_buf_free(&text);
      goto out;
    }
    cpf_buf_free(&text);
    if (lock && lock->version < 2) {
      fprintf(stderr,
              "cpay-breaking: note: %s is a version %d lock, without check lines: a cut or "
              "edited copy cannot be told from the real one; --update-lock rewrites it as "
              "version 2\n",
              lock_path, lock->version);
    }
  }
  if ((cur = load_snap("NEW", new_spec, &incs)) == NULL) goto out;
  if (against && (old = load_snap("OLD", against, &incs)) == NULL) goto out;
  if (old) brk_compare(old, cur, cat, &found);
  if (lock) brk_compare(lock, cur, cat, &found);
  brk_findings_sort(&found);
  cpf_buf out = {0};
  brk_findings_print(&found, fmt, &out);
  fputs(cpf_buf_str(&out), stdout);
  fflush(stdout);
  cpf_buf_free(&out);
  size_t errors = brk_findings_errors(&found);
  status = errors ? 1 : 0;
  if (errors && fmt == BRK_FMT_TEXT) {
    fprintf(stderr, "cpay-breaking: %zu breaking change%s\n", errors, errors == 1 ? "" : "s");
  }
  if (update) {
    if (errors && !force) {
      fprintf(stderr, "cpay-breaking: %s not updated (use --update-lock --force to accept the breaking changes)\n",
              lock_path);
    } else {
      brk_snap *merged = brk_lock_merge(lock, cur);
      char *text = brk_lock_format(merged);
      bool ok = write_lock(lock_path, text);
      free(text);
      brk_snap_free(merged);
      if (!ok) {
        status = 2;
      } else {
        if (errors) {
          fprintf(stderr, "cpay-breaking: %s updated, accepting %zu breaking change%s\n", lock_path,
                  errors, errors == 1 ? "" : "s");
        }
        status = 0;
      }
    }
  }
out:
  brk_findings_free(&found);
  brk_snap_free(cur);
  brk_snap_free(old);
  brk_snap_free(lock);
  strvec_free(&incs);
  return status;
}
