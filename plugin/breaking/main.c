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
    "usage: cpay-breaking [-I DIR]... [--rules wire|wire-json|all]\n"
    "                     [--format text|json|github|junit] [--config FILE | --no-config]\n"
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
    "                   (GitHub Actions annotations), junit (JUnit XML)\n"
    "  --config FILE    the breaking settings: the `breaking:` section of a\n"
    "                   buf.yaml or cpay-breaking.yaml (use, except, ignore,\n"
    "                   ignore_only, ignore_unstable_packages); without it, the\n"
    "                   first cpay-breaking.yaml or buf.yaml from NEW's directory\n"
    "                   up to the repository's top is read\n"
    "  --no-config      read no configuration file\n"
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

// The model goes to `mem`; *err is malloc'd.
static cpm_pool *load_dir(cpf_pool *mem, const char *dir, const strvec *incs, char **err) {
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
  pool = cpm_load_protos(mem, inc, incs->n + 1, (const char *const *)files.v, files.n, err);
  if (!pool && *err) *err = cpf_xstrdup(*err);
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

// The first line a command prints (its stdout), or NULL when it fails.
static char *run_line(char *const argv[], const char *log) {
  if (run(argv, log) != 0) return NULL;
  cpf_buf b = {0};
  char *err = NULL;
  char *r = NULL;
  if (read_file(log, &b, &err)) r = cpf_xasprintf("%.*s", (int)strcspn(cpf_buf_str(&b), "\n"), cpf_buf_str(&b));
  free(err);
  cpf_buf_free(&b);
  return r;
}

// `base` (a directory inside the repository, "" for its root, "a/b/") joined
// with `rel` ("../proto", "."), with "." and ".." resolved; NULL when it
// leaves the repository.
static char *repo_join(const char *base, const char *rel) {
  char *all = cpf_xasprintf("%s/%s", base, rel);
  char **parts = cpf_xmalloc((strlen(all) + 1) * sizeof *parts);
  size_t n = 0;
  bool ok = true;
  for (char *save = NULL, *p = strtok_r(all, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    if (strcmp(p, ".") == 0) continue;
    if (strcmp(p, "..") == 0) {
      if (n == 0) ok = false;
      else n--;
      continue;
    }
    parts[n++] = p;
  }
  cpf_buf b = {0};
  for (size_t i = 0; ok && i < n; i++) cpf_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
  char *r = ok ? (b.data ? cpf_buf_take(&b) : cpf_xstrdup("")) : NULL;
  cpf_buf_free(&b);
  free(parts);
  free(all);
  return r;
}

// The git repository around the working directory: its top and where the
// working directory is inside it ("" at the top, else "dir/"). False when
// there is none.
typedef struct repo {
  char *top;
  char *here;
} repo;

// A file for a command's output, in TMPDIR; malloc'd path (unlink and free).
static char *tmp_file(void) {
  const char *dir = getenv("TMPDIR");
  char *path = cpf_xasprintf("%s/cpay-breaking-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    free(path);
    return NULL;
  }
  close(fd);
  return path;
}

// Finds the repository; `log` receives the commands' output (NULL: a
// temporary file).
static bool repo_find(repo *r, const char *log) {
  char *own = log ? NULL : tmp_file();
  if (!log && !own) return false;
  if (!log) log = own;
  char *top[] = {"git", "rev-parse", "--show-toplevel", NULL};
  char *pre[] = {"git", "rev-parse", "--show-prefix", NULL};
  r->top = run_line(top, log);
  r->here = r->top ? run_line(pre, log) : NULL;
  if (own) {
    unlink(own);
    free(own);
  }
  if (!r->here) {
    free(r->top);
    r->top = NULL;
    return false;
  }
  return true;
}

static void repo_free(repo *r) {
  free(r->top);
  free(r->here);
}

// Whether `rev` has `path` (repository-relative; "" is the root).
static bool rev_has(const char *top, const char *rev, const char *path, const char *log) {
  char *obj = cpf_xasprintf("%s:%s", rev, path);
  char *argv[] = {"git", "-C", (char *)top, "cat-file", "-e", obj, NULL};
  bool has = run(argv, log) == 0;
  free(obj);
  return has;
}

// NEW as given on the command line, for load_git.
static const char *g_new_spec;

// A git input: REV's files below DIR, DIR relative to the working directory
// as paths on the command line are (so it works from any directory of the
// repository). When DIR is NEW's own directory and REV does not have it yet,
// the schema is new: an empty OLD, with a note (the change that adds the
// schema compares with nothing). Any other DIR that REV lacks is an error,
// so that a mistyped path cannot pass a check.
static cpm_pool *load_git(cpf_pool *mem, const char *spec, const strvec *incs, char **prefix,
                          char **err, bool *empty) {
  const char *rev_dir = spec + 4;
  const char *colon = strchr(rev_dir, ':');
  char *rev = colon ? cpf_xasprintf("%.*s", (int)(colon - rev_dir), rev_dir) : cpf_xstrdup(rev_dir);
  char *dir = colon ? norm_prefix(colon + 1) : cpf_xstrdup("");
  cpm_pool *pool = NULL;
  repo rp = {0};
  char *full = NULL;
  const char *tmpdir_env = getenv("TMPDIR");
  char *tmp = tmpdir_env && *tmpdir_env ? cpf_xasprintf("%s/cpay-breaking-XXXXXX", tmpdir_env)
                                        : cpf_xstrdup("/tmp/cpay-breaking-XXXXXX");
  if (*rev == '\0') {
    *err = cpf_xasprintf("%s: missing revision (expected git:REV[:DIR])", spec);
    goto out_free;
  }
  if (!mkdtemp(tmp)) {
    *err = cpf_xasprintf("cannot create a temporary directory: %s", strerror(errno));
    goto out_free;
  }
  char *log = cpf_xasprintf("%s/git.log", tmp);
  if (!repo_find(&rp, log)) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: the working directory is not in a git repository%s", spec, why);
    free(why);
    goto out_log;
  }
  full = repo_join(rp.here, dir);
  if (!full) {
    *err = cpf_xasprintf("%s: %s is outside the repository (%s)", spec, dir, rp.top);
    goto out_log;
  }
  char *verify = cpf_xasprintf("%s^{commit}", rev);
  char *check[] = {"git", "-C", rp.top, "rev-parse", "--quiet", "--verify", verify, NULL};
  int rc = run(check, log);
  free(verify);
  if (rc != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: %s is not a commit of the git repository here%s", spec, rev, why);
    free(why);
    goto out_log;
  }
  *prefix = cpf_xstrdup(dir);
  if (*full && !rev_has(rp.top, rev, full, log)) {
    char *new_dir = g_new_spec && g_new_spec[0] != '/' && strncmp(g_new_spec, "git:", 4) != 0
                        ? repo_join(rp.here, g_new_spec)
                        : NULL;
    struct stat st;
    if (new_dir && strcmp(new_dir, full) == 0 && stat(g_new_spec, &st) == 0 && S_ISDIR(st.st_mode)) {
      fprintf(stderr, "cpay-breaking: note: %s has no %s yet: a new schema, with nothing to "
              "compare it with\n", rev, full);
      *empty = true;
    } else {
      *err = cpf_xasprintf("%s: %s has no %s%s", spec, rev, full,
                           new_dir ? " (and it is not NEW's directory, which would make it a new "
                                     "schema)" : "");
    }
    free(new_dir);
    goto out_log;
  }
  char *tar = cpf_xasprintf("%s/tree.tar", tmp);
  char *tree = cpf_xasprintf("%s/tree", tmp);
  char *treeish = *full ? cpf_xasprintf("%s:%s", rev, full) : cpf_xstrdup(rev);
  char *out_opt = cpf_xasprintf("--output=%s", tar);
  char *archive[] = {"git", "-C", rp.top, "archive", "--format=tar", out_opt, treeish, NULL};
  char *untar[] = {"tar", "-xf", tar, "-C", tree, NULL};
  if (mkdir(tree, 0700) != 0 || run(archive, log) != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: cannot read %s from git%s", spec, treeish, why);
    free(why);
  } else if (run(untar, log) != 0) {
    char *why = git_reason(log);
    *err = cpf_xasprintf("%s: cannot unpack the files of %s%s", spec, treeish, why);
    free(why);
  } else {
    pool = load_dir(mem, tree, incs, err);
  }
  free(tar);
  free(tree);
  free(treeish);
  free(out_opt);
out_log:
  free(log);
  rm_tree(tmp);
out_free:
  if (!pool && !*empty) {
    free(*prefix);
    *prefix = NULL;
  }
  repo_free(&rp);
  free(full);
  free(tmp);
  free(rev);
  free(dir);
  return pool;
}

// Loads NEW or OLD into `mem`. On success *prefix is the path shown before
// file names.
static cpm_pool *load_input(cpf_pool *mem, const char *spec, const strvec *incs, char **prefix,
                            char **err, bool *empty) {
  *prefix = NULL;
  *empty = false;
  if (strncmp(spec, "git:", 4) == 0) return load_git(mem, spec, incs, prefix, err, empty);
  struct stat st;
  if (stat(spec, &st) != 0) {
    *err = cpf_xasprintf("cannot read %s: %s", spec, strerror(errno));
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    cpm_pool *pool = load_dir(mem, spec, incs, err);
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
    cpm_pool *pool = cpm_load_protos(mem, inc, incs->n + 1, &base, 1, err);
    if (!pool && *err) *err = cpf_xstrdup(*err);
    free(inc);
    if (pool) *prefix = norm_prefix(dir);
    free(dir);
    return pool;
  }
  cpf_buf data = {0};
  cpm_pool *pool = NULL;
  if (read_file(spec, &data, err)) {
    char *why = NULL;
    pool = cpm_load_descriptor_set(mem, data.data ? data.data : "", data.size, &why);
    if (!pool) {
      *err = cpf_xasprintf("%s is neither a directory, a .proto file nor a FileDescriptorSet: %s",
                           spec, why ? why : "cannot parse it");
    } else {
      *prefix = cpf_xstrdup("");
    }
  }
  cpf_buf_free(&data);
  return pool;
}

// What to write instead of buf's git input (".git#branch=main,subdir=proto").
static char *buf_style_hint(const char *spec) {
  const char *hash = strchr(spec, '#');
  char *rev = NULL, *sub = NULL;
  for (const char *p = hash ? hash + 1 : ""; *p;) {
    size_t n = strcspn(p, ",");
    const char *eq = memchr(p, '=', n);
    if (eq) {
      size_t kl = (size_t)(eq - p);
      char *v = cpf_xasprintf("%.*s", (int)(n - kl - 1), eq + 1);
      if ((kl == 6 && strncmp(p, "branch", 6) == 0) || (kl == 3 && strncmp(p, "tag", 3) == 0) ||
          (kl == 3 && strncmp(p, "ref", 3) == 0)) {
        free(rev);
        rev = v;
      } else if (kl == 6 && strncmp(p, "subdir", 6) == 0) {
        free(sub);
        sub = v;
      } else {
        free(v);
      }
    }
    p += n + (p[n] == ',');
  }
  char *hint = cpf_xasprintf("cpay-breaking reads a git revision as git:REV[:DIR], DIR relative to "
                             "the working directory; buf's %s is git:%s%s%s",
                             spec, rev ? rev : "REV", sub ? ":" : "", sub ? sub : "");
  free(rev);
  free(sub);
  return hint;
}

// The snapshot of NEW or OLD, in `mem`.
static brk_snap *load_snap(cpf_pool *mem, const char *what, const char *spec, const strvec *incs) {
  char *prefix = NULL, *err = NULL;
  bool empty = false;
  cpf_pool *model_mem = cpf_pool_new();  // the model, dropped once it is snapshotted
  cpm_pool *pool = load_input(model_mem, spec, incs, &prefix, &err, &empty);
  if (!pool && !empty) {
    fprintf(stderr, "cpay-breaking: cannot load %s %s:\n%s\n", what, spec, err ? err : "unknown error");
    if (strstr(spec, ".git#") || strncmp(spec, ".git", 4) == 0 || strstr(spec, "#branch=") ||
        strstr(spec, "#tag=") || strstr(spec, "#ref=")) {
      char *hint = buf_style_hint(spec);
      fprintf(stderr, "cpay-breaking: hint: %s\n", hint);
      free(hint);
    }
    free(err);
    free(prefix);
    cpf_pool_free(model_mem);
    return NULL;
  }
  static const cpm_pool kNoFiles;
  brk_snap *s = brk_snap_from_pool(mem, pool ? pool : &kNoFiles, prefix);
  cpf_pool_free(model_mem);
  free(prefix);
  free(err);
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

// ---- inputs that do not line up ----------------------------------------------

// "3 files, 12 messages, 4 enums, 1 service" of a lock's block counts.
static char *describe_lock(const size_t counts[5]) {
  static const char *const what[5][2] = {{"file", "files"}, {"message", "messages"},
                                         {"enum", "enums"}, {"extended message", "extended messages"},
                                         {"service", "services"}};
  cpf_buf b = {0};
  for (int k = 0; k < 5; k++) {
    if (!counts[k] && k != 0) continue;
    cpf_buf_printf(&b, "%s%zu %s", b.size ? ", " : "", counts[k], what[k][counts[k] != 1]);
  }
  return cpf_buf_take(&b);
}

// Whether the base revision of a git OLD has the lock that is missing here:
// if it has, the branch lost it, and the history it kept with it (an error,
// with how to restore it); if not, this is the change that adds the schema
// (a note). Says which on stderr; UNKNOWN (silently) when OLD is no git
// revision or there is no repository.
typedef enum lock_base { LOCK_BASE_UNKNOWN, LOCK_BASE_HAS, LOCK_BASE_LACKS } lock_base;

static lock_base lock_in_base(const char *lock_path, const char *against) {
  if (!against || strncmp(against, "git:", 4) != 0) return LOCK_BASE_UNKNOWN;
  lock_base known = LOCK_BASE_UNKNOWN;
  const char *colon = strchr(against + 4, ':');
  char *rev = colon ? cpf_xasprintf("%.*s", (int)(colon - (against + 4)), against + 4)
                    : cpf_xstrdup(against + 4);
  repo rp = {0};
  char *full = NULL;
  if (repo_find(&rp, NULL) && (full = repo_join(rp.here, lock_path)) != NULL) {
    if (rev_has(rp.top, rev, full, "/dev/null")) {
      known = LOCK_BASE_HAS;
      fprintf(stderr, "cpay-breaking: %s does not exist, but %s has it: the history it keeps "
              "would be lost; restore it (git checkout %s -- %s)\n", lock_path, rev, rev, lock_path);
    } else {
      known = LOCK_BASE_LACKS;
      fprintf(stderr, "cpay-breaking: note: %s does not exist, nor in %s: no history to check "
              "yet (create it with --update-lock)\n", lock_path, rev);
    }
  }
  free(full);
  repo_free(&rp);
  free(rev);
  return known;
}

// GitHub places annotations by paths from the repository's top: findings
// made from a subdirectory get the path from there.
static void paths_from_repo_top(cpf_pool *mem, brk_findings *found) {
  repo rp = {0};
  if (!repo_find(&rp, NULL)) return;
  for (size_t i = 0; i < found->count && *rp.here; i++) {
    const char *f = found->v[i].file;
    if (f[0] == '/') continue;
    char *joined = repo_join(rp.here, f);
    if (joined) found->v[i].file = cpf_pool_own(mem, joined);
  }
  repo_free(&rp);
}

// Whether OLD and NEW share files, or a directory of one explains why not
// (then a hint and false): comparing `git:main` (proto/api.proto) with
// `proto` (api.proto) would report every element as deleted and added.
static bool roots_line_up(const brk_snap *old, const brk_snap *cur, const char *against,
                          const char *new_spec) {
  size_t old_files = 0, new_files = 0;
  for (size_t i = 0; i < old->block_count; i++) {
    const brk_block *b = &old->blocks[i];
    if (b->kind != BRK_FILE) continue;
    old_files++;
    if (brk_snap_find(cur, BRK_FILE, b->name)) return true;
  }
  for (size_t i = 0; i < cur->block_count; i++) new_files += cur->blocks[i].kind == BRK_FILE;
  if (!old_files || !new_files) return true;
  for (size_t i = 0; i < old->block_count; i++) {
    const brk_block *o = &old->blocks[i];
    if (o->kind != BRK_FILE) continue;
    for (size_t k = 0; k < cur->block_count; k++) {
      const brk_block *n = &cur->blocks[k];
      if (n->kind != BRK_FILE) continue;
      size_t ol = strlen(o->name), nl = strlen(n->name);
      const char *longer = ol > nl ? o->name : n->name, *shorter = ol > nl ? n->name : o->name;
      size_t ll = ol > nl ? ol : nl, sl = ol > nl ? nl : ol;
      if (ll == sl || longer[ll - sl - 1] != '/' || strcmp(longer + ll - sl, shorter) != 0) continue;
      int dl = (int)(ll - sl - 1);
      bool old_deeper = ol > nl;
      const char *spec = old_deeper ? against : new_spec;
      fprintf(stderr, "cpay-breaking: OLD (%s) and NEW (%s) have no file in common: OLD has %s, "
              "NEW has %s; their roots do not line up.\n", against, new_spec, o->name, n->name);
      // The input whose files are one directory deeper, given as that directory.
      char *fixed;
      if (strncmp(spec, "git:", 4) == 0) {
        fixed = strchr(spec + 4, ':') ? cpf_xasprintf("%s/%.*s", spec, dl, longer)
                                      : cpf_xasprintf("%s:%.*s", spec, dl, longer);
      } else if (strcmp(spec, ".") == 0) {
        fixed = cpf_xasprintf("%.*s", dl, longer);
      } else {
        fixed = cpf_xasprintf("%s/%.*s", spec, dl, longer);
      }
      fprintf(stderr, "cpay-breaking: hint: %s %s\n", old_deeper ? "--against" : "give NEW as",
              fixed);
      free(fixed);
      return false;
    }
  }
  return true;
}

// ---- configuration -------------------------------------------------------------

// `path` made absolute (from the working directory) and lexically normal.
static char *absolute(const char *path) {
  char cwd[4096];
  if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) return NULL;
  char *joined = repo_join(path[0] == '/' ? "" : cwd, path);
  char *r = joined ? cpf_xasprintf("/%s", joined) : NULL;
  free(joined);
  return r;
}

// Loads `path`, or (NULL) the first cpay-breaking.yaml or buf.yaml from
// NEW's directory up to the repository's top (or only NEW's directory and
// the working one outside a repository). False (after saying why) when a
// file is there but unusable.
static bool load_config(cpf_pool *mem, const char *path, const char *new_spec, brk_config **out) {
  *out = NULL;
  char *found = NULL;
  if (path) {
    found = cpf_xstrdup(path);
  } else {
    struct stat st;
    bool is_dir = strncmp(new_spec, "git:", 4) != 0 && stat(new_spec, &st) == 0 && S_ISDIR(st.st_mode);
    bool is_file = !is_dir && strncmp(new_spec, "git:", 4) != 0 && stat(new_spec, &st) == 0;
    char *start;
    if (is_dir) {
      start = cpf_xstrdup(new_spec);
    } else if (is_file && strrchr(new_spec, '/')) {
      start = cpf_xasprintf("%.*s", (int)(strrchr(new_spec, '/') - new_spec), new_spec);
    } else {
      start = cpf_xstrdup(".");
    }
    char *dir = absolute(start);
    free(start);
    repo rp = {0};
    bool in_repo = repo_find(&rp, NULL);
    char cwd[4096];
    const char *stop = in_repo ? rp.top : (getcwd(cwd, sizeof cwd) ? cwd : "/");
    while (dir && !found) {
      static const char *const names[] = {"cpay-breaking.yaml", "buf.yaml"};
      for (int k = 0; k < 2 && !found; k++) {
        char *cand = cpf_xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, names[k]);
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
          found = cand;
        } else {
          free(cand);
        }
      }
      // Up to the stop directory, never above it.
      size_t sl = strlen(stop);
      bool inside = strncmp(dir, stop, sl) == 0 && (dir[sl] == '/' || dir[sl] == '\0');
      if (!inside || strcmp(dir, stop) == 0) break;
      char *slash = strrchr(dir, '/');
      if (slash == dir) {
        dir[1] = '\0';
      } else {
        *slash = '\0';
      }
    }
    free(dir);
    repo_free(&rp);
    if (!found) return true;
    // Shown from the working directory where it is below it.
    size_t cl = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
    if (cl && strncmp(found, cwd, cl) == 0 && found[cl] == '/') {
      char *rel = cpf_xstrdup(found + cl + 1);
      free(found);
      found = rel;
    }
  }
  cpf_buf text = {0};
  char *err = NULL, *parse_err = NULL;
  bool ok = read_file(found, &text, &err);
  char *abs = ok ? absolute(found) : NULL;
  if (ok && abs) {
    *strrchr(abs, '/') = '\0';
    char *new_abs = strncmp(new_spec, "git:", 4) != 0 ? absolute(new_spec) : NULL;
    size_t al = strlen(abs);
    const char *module = new_abs && strncmp(new_abs, abs, al) == 0 &&
                                 (new_abs[al] == '/' || new_abs[al] == '\0')
                             ? new_abs + al + (new_abs[al] == '/')
                             : NULL;
    cpf_buf notes = {0};
    *out = brk_config_parse(mem, cpf_buf_str(&text), text.size, found, *abs ? abs : "/", module,
                            &parse_err, &notes);
    fputs(cpf_buf_str(&notes), stderr);
    cpf_buf_free(&notes);
    free(new_abs);
    ok = *out != NULL;
  }
  if (!ok) {
    fprintf(stderr, "cpay-breaking: cannot use the configuration: %s\n",
            err ? err : parse_err ? parse_err : found);
  } else if (!path) {
    fprintf(stderr, "cpay-breaking: note: breaking settings from %s\n", found);
  }
  free(abs);
  free(err);
  free(found);
  cpf_buf_free(&text);
  return ok;
}

// The package of the file a finding is in, from NEW (or OLD for a file
// that is gone).
static const char *package_of(const brk_snap *snap, const char *display) {
  if (!snap) return NULL;
  const char *name = display;
  size_t pl = strlen(snap->prefix);
  if (pl) {
    if (strncmp(display, snap->prefix, pl) != 0 || display[pl] != '/') return NULL;
    name = display + pl + 1;
  }
  const brk_block *f = brk_snap_find(snap, BRK_FILE, name);
  return f ? f->package : NULL;
}

// Drops the findings the configuration does not want.
static void apply_config(const brk_config *c, const brk_snap *old, const brk_snap *cur,
                         brk_findings *found) {
  size_t kept = 0;
  for (size_t i = 0; i < found->count; i++) {
    brk_finding *f = &found->v[i];
    char *abs = absolute(f->file);
    const char *pkg = package_of(cur, f->file);
    if (!pkg) pkg = package_of(old, f->file);
    bool drop = brk_config_ignores(c, f, abs ? abs : f->file, pkg);
    free(abs);
    if (!drop) found->v[kept++] = *f;
  }
  found->count = kept;
}

// ---- acknowledged breaks ----------------------------------------------------

// A break between OLD and NEW that the lock has recorded (the lock's latest
// version breaks OLD the same way, which only `--update-lock --force` writes)
// is acknowledged: reviewed in the lock's diff, it becomes a note. Returns
// how many findings of `found` it turned into notes.
static size_t accept_recorded(const brk_snap *old, const brk_snap *lock, const char *lock_path,
                              brk_category cat, brk_findings *found) {
  cpf_pool *mem = cpf_pool_new();  // the lock's latest version, compared and dropped
  brk_findings recorded = {0};
  brk_compare(mem, old, brk_lock_live(mem, lock), cat, &recorded);
  size_t n = 0;
  for (size_t i = 0; i < found->count; i++) {
    brk_finding *f = &found->v[i];
    if (f->rule->note) continue;
    for (size_t k = 0; k < recorded.count; k++) {
      const brk_finding *r = &recorded.v[k];
      if (r->rule == f->rule && strcmp(r->subject, f->subject) == 0 &&
          strcmp(r->message, f->message) == 0) {
        f->accepted = lock_path;
        n++;
        break;
      }
    }
  }
  cpf_pool_free(mem);
  return n;
}

// ---- main -----------------------------------------------------------------

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "cpay-breaking: %s%s%s (try --help)\n", msg, arg ? " " : "", arg ? arg : "");
  return 2;
}

int main(int argc, char **argv) {
  cpf_pool *mem = cpf_pool_new();  // the run's snapshots, findings and configuration
  strvec incs = {0};
  const char *rules = "all", *format = "text", *lock_path = NULL, *against = NULL, *new_spec = NULL;
  const char *config_path = NULL;
  bool update = false, force = false, no_config = false;
  brk_config *config = NULL;
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
    } else if (strcmp(a, "--no-config") == 0) {
      no_config = true;
      continue;
    } else if (strncmp(a, "-I", 2) == 0 && a[2]) {
      strvec_push(&incs, cpf_xstrdup(a + 2));
      continue;
    }
    const char *keys[] = {"-I", "--rules", "--format", "--lock", "--against", "--config"};
    const char **dests[] = {NULL, &rules, &format, &lock_path, &against, &config_path};
    const char *val = NULL;
    int key = -1;
    for (int k = 0; k < 6; k++) {
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
  } else if (strcmp(format, "junit") == 0) {
    fmt = BRK_FMT_JUNIT;
  } else {
    status = usage_error("--format must be text, json, github or junit, not", format);
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
  if (config_path && no_config) {
    status = usage_error("--config and --no-config exclude each other", NULL);
    goto out;
  }
  if (!no_config && !load_config(mem, config_path, new_spec, &config)) goto out;
  bool lock_existed = false;
  lock_base base;
  if (lock_path) {
    cpf_buf text = {0};
    char *err = NULL;
    struct stat st;
    bool missing = stat(lock_path, &st) != 0 && errno == ENOENT;
    lock_existed = !missing;
    if (missing && update) {
      // A new lock: created from NEW below.
    } else if (missing && (base = lock_in_base(lock_path, against)) != LOCK_BASE_UNKNOWN) {
      // Lost on this branch (an error), or the change that adds the schema
      // (no history yet, in the base either): lock_in_base said which.
      if (base == LOCK_BASE_HAS) goto out;
    } else if (!read_file(lock_path, &text, &err)) {
      fprintf(stderr, "cpay-breaking: cannot load the lock: %s%s\n", err,
              update ? "" : " (create it with --update-lock)");
      free(err);
      cpf_buf_free(&text);
      goto out;
    } else if ((lock = brk_lock_parse(mem, text.data ? text.data : "", text.size, lock_path,
                                      &err)) == NULL) {
      fprintf(stderr, "cpay-breaking: cannot load the lock: %s\n", err);
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
  g_new_spec = new_spec;
  if ((cur = load_snap(mem, "NEW", new_spec, &incs)) == NULL) goto out;
  if (against && (old = load_snap(mem, "OLD", against, &incs)) == NULL) goto out;
  if (old && !roots_line_up(old, cur, against, new_spec)) goto out;
  if (old) brk_compare(mem, old, cur, cat, &found);
  size_t accepted = old && lock ? accept_recorded(old, lock, lock_path, cat, &found) : 0;
  if (lock) brk_compare(mem, lock, cur, cat, &found);
  if (config) apply_config(config, old, cur, &found);
  if (fmt == BRK_FMT_GITHUB) paths_from_repo_top(mem, &found);
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
  if (accepted && fmt == BRK_FMT_TEXT) {
    fprintf(stderr, "cpay-breaking: %zu breaking change%s accepted: recorded in %s\n", accepted,
            accepted == 1 ? "" : "s", lock_path);
  }
  if (update) {
    if (errors && !force) {
      fprintf(stderr, "cpay-breaking: %s not updated (use --update-lock --force to accept the breaking changes)\n",
              lock_path);
    } else {
      brk_snap *merged = brk_lock_merge(mem, lock, cur);
      char *text = brk_lock_format(mem, merged);
      char *before = lock ? brk_lock_format(mem, lock) : NULL;
      bool lock_changed = !before || strcmp(before, text) != 0;
      size_t merged_counts[5] = {0};
      for (size_t i = 0; i < merged->block_count; i++) merged_counts[merged->blocks[i].kind]++;
      bool ok = write_lock(lock_path, text);
      if (!ok) {
        status = 2;
      } else {
        if (!lock_existed) {
          char *what = describe_lock(merged_counts);
          fprintf(stderr, "cpay-breaking: created %s, recording %s; commit it with the schema\n",
                  lock_path, what);
          free(what);
        } else if (errors) {
          fprintf(stderr, "cpay-breaking: %s updated, accepting %zu breaking change%s\n", lock_path,
                  errors, errors == 1 ? "" : "s");
        } else if (!lock_changed) {
          fprintf(stderr, "cpay-breaking: %s is up to date\n", lock_path);
        } else {
          fprintf(stderr, "cpay-breaking: %s updated\n", lock_path);
        }
        status = 0;
      }
    }
  }
out:
  strvec_free(&incs);
  cpf_pool_free(mem);
  return status;
}
