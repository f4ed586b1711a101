// cpay-breaking: checks that a schema change keeps old readers and writers
// working, against a previous version (--against) and against the lock file
// of every number and name the schema ever used (--lock). See --help and
// docs/breaking.md.
//
// Memory: one pool for the run (options, snapshots, findings, paths, error
// messages), freed at the end of main; each loaded schema model has a pool
// of its own, dropped once its snapshot is taken.
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
#include "schema/params.h"

// --help: this, the options (from the table in parse_options), kUsageTail.
static const char kUsageHead[] =
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
    "                   with --include_source_info for positions), or a buf image\n"
    "                   (buf build -o FILE; the files it marks as imports are not\n"
    "                   checked); editions schemas come this way\n"
    "  git:REV[:DIR]    the files of a git revision (of DIR in it), read with\n"
    "                   `git archive` without touching the work tree\n"
    "\n"
    "Options:\n";

static const char kUsageTail[] =
    "\n"
    "Exit status: 0 compatible, 1 breaking (or --update-lock refused), 2 the\n"
    "inputs or options could not be used.\n";

// The command line.
typedef struct options {
  cps_param_list includes;  // -I
  int rules;                // a cpb_category
  int format;               // a cpb_format
  const char *config_path, *against, *lock_path, *new_spec;
  bool no_config, update, force;
  bool list_rules, version, help;
} options;

// ---- inputs ---------------------------------------------------------------

typedef struct strvec {
  const char **v;
  size_t n, cap;
} strvec;

static void strvec_push(cps_pool *mem, strvec *s, const char *str) {
  s->v = cps_pool_grow(mem, s->v, s->n, &s->cap, sizeof *s->v);
  s->v[s->n++] = str;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Appends the .proto files below root/rel (relative to root) to `out`.
static bool scan_dir(cps_pool *mem, const char *root, const char *rel, strvec *out, char **err) {
  const char *path = *rel ? cps_pool_printf(mem, "%s/%s", root, rel) : root;
  DIR *d = opendir(path);
  if (!d) {
    *err = cps_pool_printf(mem, "cannot read directory %s: %s", path, strerror(errno));
    return false;
  }
  struct dirent *e;
  bool ok = true;
  while (ok && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;  // ., .., .git and other hidden entries
    const char *child = *rel ? cps_pool_printf(mem, "%s/%s", rel, e->d_name)
                             : cps_pool_strdup(mem, e->d_name);
    struct stat st;
    size_t len = strlen(child);
    if (stat(cps_pool_printf(mem, "%s/%s", root, child), &st) == 0 && S_ISDIR(st.st_mode)) {
      ok = scan_dir(mem, root, child, out, err);
    } else if (len > 6 && strcmp(child + len - 6, ".proto") == 0) {
      strvec_push(mem, out, child);
    }
  }
  closedir(d);
  return ok;
}

// The contents of `path` (with a NUL after them), or NULL with *err.
static const char *read_file(cps_pool *mem, const char *path, size_t *size, char **err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *err = cps_pool_printf(mem, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  const char *data = cps_pool_read(mem, f, size);
  fclose(f);
  if (!data) *err = cps_pool_printf(mem, "cannot read %s", path);
  return data;
}

// "dir/" and "./dir" become "dir"; "." becomes "".
static const char *norm_prefix(cps_pool *mem, const char *dir) {
  while (dir[0] == '.' && dir[1] == '/') dir += 2;
  char *p = cps_pool_strdup(mem, dir);
  size_t len = strlen(p);
  while (len > 1 && p[len - 1] == '/') p[--len] = '\0';
  if (strcmp(p, ".") == 0) p[0] = '\0';
  return p;
}

// `first`, then the -I directories.
static const char *const *include_dirs(cps_pool *mem, const char *first,
                                       const cps_param_list *incs) {
  const char **inc = cps_pool_alloc(mem, (incs->count + 1) * sizeof *inc);
  inc[0] = first;
  for (size_t i = 0; i < incs->count; i++) inc[i + 1] = incs->items[i];
  return inc;
}

// The line of `path`'s `edition = "...";` statement (an editions file), or 0,
// with the edition in *edition: the first line that starts with `edition`
// (after blanks), which is enough to explain a parse error.
static int edition_line(cps_pool *mem, const char *path, const char **edition) {
  size_t size;
  char *why = NULL;
  const char *text = read_file(mem, path, &size, &why);
  if (!text) return 0;
  int line = 1;
  for (const char *p = text; p < text + size; line++) {
    const char *nl = memchr(p, '\n', (size_t)(text + size - p));
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (strncmp(q, "edition", 7) == 0 && (q[7] == ' ' || q[7] == '\t' || q[7] == '=')) {
      const char *quote = strchr(q, '"');
      const char *end = quote ? strchr(quote + 1, '"') : NULL;
      *edition = end && (!nl || end < nl) ? cps_pool_strndup(mem, quote + 1, (size_t)(end - quote - 1))
                                           : "?";
      return line;
    }
    if (!nl) break;
    p = nl + 1;
  }
  return 0;
}

// After libprotoc failed on `files` (below `dir`): when one of them is an
// editions file, which libprotoc 3.21 cannot parse, *err gains what to do.
static void editions_hint(cps_pool *mem, const char *dir, const char *const *files, size_t n,
                          char **err) {
  for (size_t i = 0; i < n; i++) {
    const char *path = strcmp(dir, ".") == 0 ? files[i] : cps_pool_printf(mem, "%s/%s", dir, files[i]);
    const char *edition = NULL;
    int line = edition_line(mem, path, &edition);
    if (!line) continue;
    static const char kFix[] =
        "fix: give cpay-breaking descriptor sets built by a compiler that knows editions, for "
        "NEW and OLD alike:\n"
        "  buf build -o new.binpb                           (buf 1.32 or later; OLD: "
        "buf build '.git#ref=main' -o old.binpb)\n"
        "  protoc --include_source_info -o new.binpb FILES  (protoc 27 or later)\n"
        "  cpay-breaking --against old.binpb new.binpb      (--lock as before)\n"
        "or check the lock under `buf generate` with protoc-gen-cpay's breaking_lock= "
        "(docs/breaking.md, \"Editions\")";
    // The loader may have said what the file is already; then only the fix.
    if (*err && strstr(*err, "editions file")) {
      *err = cps_pool_printf(mem, "%s\n%s", *err, kFix);
    } else {
      *err = cps_pool_printf(mem,
                             "%s%s%s:%d: `edition = \"%s\";`: an editions file, which libprotoc "
                             "3.21 (what cpay-breaking reads .proto files with) cannot parse.\n%s",
                             *err ? *err : "", *err ? "\n" : "", files[i], line, edition, kFix);
    }
    return;
  }
}

static cps_schema *load_dir(cps_pool *mem, const char *dir, const cps_param_list *incs,
                            char **err) {
  strvec files = {0};
  if (!scan_dir(mem, dir, "", &files, err)) return NULL;
  if (files.n == 0) {
    *err = cps_pool_printf(mem, "no .proto files below %s", dir);
    return NULL;
  }
  qsort(files.v, files.n, sizeof *files.v, cmp_cstr);
  cps_schema *schema =
      cps_load_protos(mem, include_dirs(mem, dir, incs), incs->count + 1, files.v, files.n, err);
  if (!schema) editions_hint(mem, dir, files.v, files.n, err);
  return schema;
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
static const char *git_reason(cps_pool *mem, const char *log) {
  size_t size;
  char *err = NULL;
  const char *text = read_file(mem, log, &size, &err);
  if (!text || !size) return "";
  return cps_pool_printf(mem, ": %.*s", (int)strcspn(text, "\n"), text);
}

// The first line a command prints (its stdout), or NULL when it fails.
static char *run_line(cps_pool *mem, char *const argv[], const char *log) {
  if (run(argv, log) != 0) return NULL;
  size_t size;
  char *err = NULL;
  const char *text = read_file(mem, log, &size, &err);
  return text ? cps_pool_strndup(mem, text, strcspn(text, "\n")) : NULL;
}

// `base` (a directory inside the repository, "" for its root, "a/b/") joined
// with `rel` ("../proto", "."), with "." and ".." resolved; NULL when it
// leaves the repository.
static char *repo_join(cps_pool *mem, const char *base, const char *rel) {
  char *all = cps_pool_printf(mem, "%s/%s", base, rel);
  size_t len = strlen(all);
  const char **parts = cps_pool_alloc(mem, (len + 1) * sizeof *parts);
  size_t n = 0;
  for (char *save = NULL, *p = strtok_r(all, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    if (strcmp(p, ".") == 0) continue;
    if (strcmp(p, "..") == 0) {
      if (n == 0) return NULL;
      n--;
      continue;
    }
    parts[n++] = p;
  }
  char *r = cps_pool_alloc(mem, len + 1), *w = r;
  for (size_t i = 0; i < n; i++) {
    if (i) *w++ = '/';
    size_t pl = strlen(parts[i]);
    memcpy(w, parts[i], pl);
    w += pl;
  }
  *w = '\0';
  return r;
}

// The git repository around the working directory: its top and where the
// working directory is inside it ("" at the top, else "dir/").
typedef struct repo {
  char *top;
  char *here;
} repo;

// A file for a command's output, in TMPDIR (unlink it).
static char *tmp_file(cps_pool *mem) {
  const char *dir = getenv("TMPDIR");
  char *path = cps_pool_printf(mem, "%s/cpay-breaking-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  close(fd);
  return path;
}

// Finds the repository; false when there is none. `log` receives the
// commands' output (NULL: a temporary file).
static bool repo_find(cps_pool *mem, repo *r, const char *log) {
  r->top = r->here = NULL;
  char *own = log ? NULL : tmp_file(mem);
  if (!log && !own) return false;
  if (!log) log = own;
  char *top[] = {"git", "rev-parse", "--show-toplevel", NULL};
  char *pre[] = {"git", "rev-parse", "--show-prefix", NULL};
  r->top = run_line(mem, top, log);
  r->here = r->top ? run_line(mem, pre, log) : NULL;
  if (own) unlink(own);
  if (!r->here) r->top = NULL;
  return r->here != NULL;
}

// Whether `rev` has `path` (repository-relative; "" is the root).
static bool rev_has(cps_pool *mem, char *top, const char *rev, const char *path,
                    const char *log) {
  char *argv[] = {"git", "-C", top, "cat-file", "-e", cps_pool_printf(mem, "%s:%s", rev, path),
                  NULL};
  return run(argv, log) == 0;
}

// load_git in the temporary directory `tmp`: REV's files below DIR.
static cps_schema *load_git_in(cps_pool *mem, const options *o, const char *spec, const char *rev,
                               const char *dir, const char *tmp, const char **prefix, char **err,
                               bool *empty) {
  const char *log = cps_pool_printf(mem, "%s/git.log", tmp);
  repo rp;
  if (!repo_find(mem, &rp, log)) {
    *err = cps_pool_printf(mem, "%s: the working directory is not in a git repository%s", spec,
                           git_reason(mem, log));
    return NULL;
  }
  const char *full = repo_join(mem, rp.here, dir);
  if (!full) {
    *err = cps_pool_printf(mem, "%s: %s is outside the repository (%s)", spec, dir, rp.top);
    return NULL;
  }
  char *check[] = {"git", "-C", rp.top, "rev-parse", "--quiet", "--verify",
                   cps_pool_printf(mem, "%s^{commit}", rev), NULL};
  if (run(check, log) != 0) {
    *err = cps_pool_printf(mem, "%s: %s is not a commit of the git repository here%s", spec, rev,
                           git_reason(mem, log));
    return NULL;
  }
  *prefix = dir;
  if (*full && !rev_has(mem, rp.top, rev, full, log)) {
    const char *new_spec = o->new_spec;
    const char *new_dir = new_spec[0] != '/' && strncmp(new_spec, "git:", 4) != 0
                              ? repo_join(mem, rp.here, new_spec)
                              : NULL;
    struct stat st;
    if (new_dir && strcmp(new_dir, full) == 0 && stat(new_spec, &st) == 0 && S_ISDIR(st.st_mode)) {
      fprintf(stderr, "cpay-breaking: note: %s has no %s yet: a new schema, with nothing to "
              "compare it with\n", rev, full);
      *empty = true;
    } else {
      *err = cps_pool_printf(mem, "%s: %s has no %s%s", spec, rev, full,
                             new_dir ? " (and it is not NEW's directory, which would make it a new "
                                       "schema)" : "");
    }
    return NULL;
  }
  char *tar = cps_pool_printf(mem, "%s/tree.tar", tmp);
  char *tree = cps_pool_printf(mem, "%s/tree", tmp);
  char *treeish = *full ? cps_pool_printf(mem, "%s:%s", rev, full) : cps_pool_strdup(mem, rev);
  char *archive[] = {"git", "-C", rp.top, "archive", "--format=tar",
                     cps_pool_printf(mem, "--output=%s", tar), treeish, NULL};
  char *untar[] = {"tar", "-xf", tar, "-C", tree, NULL};
  if (mkdir(tree, 0700) != 0 || run(archive, log) != 0) {
    *err = cps_pool_printf(mem, "%s: cannot read %s from git%s", spec, treeish,
                           git_reason(mem, log));
    return NULL;
  }
  if (run(untar, log) != 0) {
    *err = cps_pool_printf(mem, "%s: cannot unpack the files of %s%s", spec, treeish,
                           git_reason(mem, log));
    return NULL;
  }
  return load_dir(mem, tree, &o->includes, err);
}

// A git input: REV's files below DIR, DIR relative to the working directory
// as paths on the command line are (so it works from any directory of the
// repository). When DIR is NEW's own directory and REV does not have it yet,
// the schema is new: an empty OLD, with a note (the change that adds the
// schema compares with nothing). Any other DIR that REV lacks is an error,
// so that a mistyped path cannot pass a check.
static cps_schema *load_git(cps_pool *mem, const options *o, const char *spec, const char **prefix,
                            char **err, bool *empty) {
  const char *rev_dir = spec + 4;
  const char *colon = strchr(rev_dir, ':');
  const char *rev = colon ? cps_pool_strndup(mem, rev_dir, (size_t)(colon - rev_dir)) : rev_dir;
  const char *dir = colon ? norm_prefix(mem, colon + 1) : "";
  const char *tmpdir_env = getenv("TMPDIR");
  char *tmp = cps_pool_printf(mem, "%s/cpay-breaking-XXXXXX",
                              tmpdir_env && *tmpdir_env ? tmpdir_env : "/tmp");
  if (*rev == '\0') {
    *err = cps_pool_printf(mem, "%s: missing revision (expected git:REV[:DIR])", spec);
    return NULL;
  }
  if (!mkdtemp(tmp)) {
    *err = cps_pool_printf(mem, "cannot create a temporary directory: %s", strerror(errno));
    return NULL;
  }
  cps_schema *schema = load_git_in(mem, o, spec, rev, dir, tmp, prefix, err, empty);
  rm_tree(tmp);
  return schema;
}

// ---- buf images ---------------------------------------------------------
//
// `buf build -o x.binpb` writes an image: a FileDescriptorSet whose files
// carry buf's ImageFileExtension (FileDescriptorProto field 8042), which
// marks the files the module imports (is_import, its field 1). Those are
// not the module's to check (buf breaking skips them too); a plain
// FileDescriptorSet (protoc) has no such marks and is checked whole.

// Reads a varint at *p (< end); false when it is cut short or too long.
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Skips a field of wire type `wt` at *p; false when the bytes are bad.
static bool skip_field(const uint8_t **p, const uint8_t *end, unsigned wt) {
  uint64_t v;
  switch (wt) {
    case 0: return read_varint(p, end, &v);
    case 1: if (end - *p < 8) return false; *p += 8; return true;
    case 2:
      if (!read_varint(p, end, &v) || v > (uint64_t)(end - *p)) return false;
      *p += v;
      return true;
    case 5: if (end - *p < 4) return false; *p += 4; return true;
    default: return false;
  }
}

// Whether the ImageFileExtension in [p, end) says is_import.
static bool ext_is_import(const uint8_t *p, const uint8_t *end) {
  bool imp = false;
  while (p < end) {
    uint64_t key, v;
    if (!read_varint(&p, end, &key)) return false;
    if (key == (1 << 3 | 0)) {
      if (!read_varint(&p, end, &v)) return false;
      imp = v != 0;
    } else if (!skip_field(&p, end, (unsigned)(key & 7))) {
      return false;
    }
  }
  return imp;
}

// The names of the files buf marked as imports in the image `data`
// (NULL-terminated, in `mem`); none for a plain descriptor set.
static const char **image_imports(cps_pool *mem, const uint8_t *data, size_t size, size_t *n) {
  const char **names = NULL;
  size_t cap = 0;
  *n = 0;
  const uint8_t *p = data, *end = data + size;
  while (p < end) {
    uint64_t key, len;
    if (!read_varint(&p, end, &key)) break;
    if (key != (1 << 3 | 2)) {
      if (!skip_field(&p, end, (unsigned)(key & 7))) break;
      continue;
    }
    if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p)) break;
    const uint8_t *f = p, *fend = p + len;
    p = fend;
    const char *name = NULL;
    bool imp = false;
    while (f < fend) {
      uint64_t k, l;
      if (!read_varint(&f, fend, &k)) break;
      if (k == (1 << 3 | 2) || k == ((uint64_t)8042 << 3 | 2)) {
        if (!read_varint(&f, fend, &l) || l > (uint64_t)(fend - f)) break;
        if (k == (1 << 3 | 2)) {
          name = cps_pool_strndup(mem, (const char *)f, (size_t)l);
        } else {
          imp = ext_is_import(f, f + l);
        }
        f += l;
      } else if (!skip_field(&f, fend, (unsigned)(k & 7))) {
        break;
      }
    }
    if (imp && name) {
      names = cps_pool_grow(mem, names, *n, &cap, sizeof *names);
      names[(*n)++] = name;
    }
  }
  return names;
}

// Drops the files a buf image marks as imports from schema->to_generate.
static void drop_image_imports(cps_pool *mem, cps_schema *schema, const char *data, size_t size) {
  size_t n;
  const char **imports = image_imports(mem, (const uint8_t *)data, size, &n);
  if (n == 0) return;
  const cps_file **keep = cps_pool_alloc(mem, (schema->to_generate_count + 1) * sizeof *keep);
  size_t k = 0;
  for (size_t i = 0; i < schema->to_generate_count; i++) {
    bool imported = false;
    for (size_t j = 0; j < n && !imported; j++) {
      imported = strcmp(imports[j], schema->to_generate[i]->name) == 0;
    }
    if (!imported) keep[k++] = schema->to_generate[i];
  }
  schema->to_generate = keep;
  schema->to_generate_count = k;
}

// Loads NEW or OLD into `mem`. On success *prefix is the path shown before
// file names; *empty says that a git OLD has no schema yet.
static cps_schema *load_input(cps_pool *mem, const options *o, const char *spec,
                              const char **prefix, char **err, bool *empty) {
  *prefix = NULL;
  *empty = false;
  if (strncmp(spec, "git:", 4) == 0) return load_git(mem, o, spec, prefix, err, empty);
  struct stat st;
  if (stat(spec, &st) != 0) {
    *err = cps_pool_printf(mem, "cannot read %s: %s", spec, strerror(errno));
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    cps_schema *schema = load_dir(mem, spec, &o->includes, err);
    if (schema) *prefix = norm_prefix(mem, spec);
    return schema;
  }
  size_t len = strlen(spec);
  if (len > 6 && strcmp(spec + len - 6, ".proto") == 0) {
    const char *slash = strrchr(spec, '/');
    const char *dir = slash ? cps_pool_strndup(mem, spec, (size_t)(slash - spec)) : ".";
    const char *base = slash ? slash + 1 : spec;
    cps_schema *schema = cps_load_protos(mem, include_dirs(mem, dir, &o->includes),
                                         o->includes.count + 1, &base, 1, err);
    if (schema) *prefix = norm_prefix(mem, dir);
    if (!schema) editions_hint(mem, dir, &base, 1, err);
    return schema;
  }
  size_t size;
  const char *data = read_file(mem, spec, &size, err);
  if (!data) return NULL;
  char *why = NULL;
  cps_schema *schema = cps_load_descriptor_set(mem, data, size, &why);
  if (!schema) {
    *err = cps_pool_printf(mem, "%s is neither a directory, a .proto file nor a FileDescriptorSet: %s",
                           spec, why ? why : "cannot parse it");
  } else {
    *prefix = "";
    drop_image_imports(mem, schema, data, size);
  }
  return schema;
}

// What to write instead of buf's git input (".git#branch=main,subdir=proto").
static const char *buf_style_hint(cps_pool *mem, const char *spec) {
  const char *hash = strchr(spec, '#');
  const char *rev = NULL, *sub = NULL;
  for (const char *p = hash ? hash + 1 : ""; *p;) {
    size_t n = strcspn(p, ",");
    const char *eq = memchr(p, '=', n);
    if (eq) {
      size_t kl = (size_t)(eq - p);
      const char *v = cps_pool_strndup(mem, eq + 1, n - kl - 1);
      if ((kl == 6 && strncmp(p, "branch", 6) == 0) || (kl == 3 && strncmp(p, "tag", 3) == 0) ||
          (kl == 3 && strncmp(p, "ref", 3) == 0)) {
        rev = v;
      } else if (kl == 6 && strncmp(p, "subdir", 6) == 0) {
        sub = v;
      }
    }
    p += n + (p[n] == ',');
  }
  return cps_pool_printf(mem, "cpay-breaking reads a git revision as git:REV[:DIR], DIR relative "
                              "to the working directory; buf's %s is git:%s%s%s",
                         spec, rev ? rev : "REV", sub ? ":" : "", sub ? sub : "");
}

// The snapshot of NEW or OLD (`what`) in `mem`, or NULL after saying why.
static cpb_snap *load_snap(cps_pool *mem, const options *o, const char *what, const char *spec) {
  cps_pool *model_mem = cps_pool_new();  // the model, dropped once it is snapshotted
  const char *prefix;
  char *err = NULL;
  bool empty;
  cps_schema *schema = load_input(model_mem, o, spec, &prefix, &err, &empty);
  cpb_snap *s = NULL;
  if (!schema && !empty) {
    fprintf(stderr, "cpay-breaking: cannot load %s %s:\n%s\n", what, spec, err ? err : "unknown error");
    if (strstr(spec, ".git#") || strncmp(spec, ".git", 4) == 0 || strstr(spec, "#branch=") ||
        strstr(spec, "#tag=") || strstr(spec, "#ref=")) {
      fprintf(stderr, "cpay-breaking: hint: %s\n", buf_style_hint(model_mem, spec));
    }
  } else {
    static const cps_schema kNoFiles;
    s = cpb_snap_from_schema(mem, schema ? schema : &kNoFiles, prefix);
  }
  cps_pool_free(model_mem);
  return s;
}

static bool write_lock(cps_pool *mem, const char *path, const char *text) {
  char *tmp = cps_pool_printf(mem, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) ok = false;
  if (!ok) {
    fprintf(stderr, "cpay-breaking: cannot write %s: %s\n", path, strerror(errno));
    remove(tmp);
  }
  return ok;
}

// ---- inputs that do not line up ----------------------------------------------

// "3 files, 12 messages, 4 enums, 1 service" of a lock's block counts.
static const char *describe_lock(cps_pool *mem, const size_t counts[5]) {
  static const char *const what[5][2] = {{"file", "files"}, {"message", "messages"},
                                         {"enum", "enums"}, {"extended message", "extended messages"},
                                         {"service", "services"}};
  cps_buf b = {0};
  for (int k = 0; k < 5; k++) {
    if (!counts[k] && k != 0) continue;
    cps_buf_printf(&b, "%s%zu %s", b.size ? ", " : "", counts[k], what[k][counts[k] != 1]);
  }
  return cps_pool_take(mem, &b);
}

// Whether the base revision of a git OLD has the lock that is missing here:
// if it has, the branch lost it, and the history it kept with it (an error,
// with how to restore it); if not, this is the change that adds the schema
// (a note). Says which on stderr; UNKNOWN (silently) when OLD is no git
// revision or there is no repository.
typedef enum lock_base { LOCK_BASE_UNKNOWN, LOCK_BASE_HAS, LOCK_BASE_LACKS } lock_base;

static lock_base lock_in_base(cps_pool *mem, const char *lock_path, const char *against) {
  if (!against || strncmp(against, "git:", 4) != 0) return LOCK_BASE_UNKNOWN;
  const char *colon = strchr(against + 4, ':');
  const char *rev = colon ? cps_pool_strndup(mem, against + 4, (size_t)(colon - (against + 4)))
                          : against + 4;
  repo rp;
  const char *full;
  if (!repo_find(mem, &rp, NULL) || (full = repo_join(mem, rp.here, lock_path)) == NULL) {
    return LOCK_BASE_UNKNOWN;
  }
  if (rev_has(mem, rp.top, rev, full, "/dev/null")) {
    fprintf(stderr, "cpay-breaking: %s does not exist, but %s has it: the history it keeps "
            "would be lost; restore it (git checkout %s -- %s)\n", lock_path, rev, rev, lock_path);
    return LOCK_BASE_HAS;
  }
  fprintf(stderr, "cpay-breaking: note: %s does not exist, nor in %s: no history to check "
          "yet (create it with --update-lock)\n", lock_path, rev);
  return LOCK_BASE_LACKS;
}

// GitHub places annotations by paths from the repository's top: findings
// made from a subdirectory get the path from there.
static void paths_from_repo_top(cps_pool *mem, cpb_findings *found) {
  repo rp;
  if (!repo_find(mem, &rp, NULL)) return;
  for (size_t i = 0; i < found->count && *rp.here; i++) {
    const char *f = found->v[i].file;
    if (f[0] == '/') continue;
    const char *joined = repo_join(mem, rp.here, f);
    if (joined) found->v[i].file = joined;
  }
}

// Whether OLD and NEW share files, or a directory of one explains why not
// (then a hint and false): comparing `git:main` (proto/api.proto) with
// `proto` (api.proto) would report every element as deleted and added.
static bool roots_line_up(cps_pool *mem, const cpb_snap *old, const cpb_snap *cur,
                          const char *against, const char *new_spec) {
  size_t old_files = 0, new_files = 0;
  for (size_t i = 0; i < old->block_count; i++) {
    const cpb_block *b = &old->blocks[i];
    if (b->kind != CPB_FILE) continue;
    old_files++;
    if (cpb_snap_find(cur, CPB_FILE, b->name)) return true;
  }
  for (size_t i = 0; i < cur->block_count; i++) new_files += cur->blocks[i].kind == CPB_FILE;
  if (!old_files || !new_files) return true;
  for (size_t i = 0; i < old->block_count; i++) {
    const cpb_block *o = &old->blocks[i];
    if (o->kind != CPB_FILE) continue;
    for (size_t k = 0; k < cur->block_count; k++) {
      const cpb_block *n = &cur->blocks[k];
      if (n->kind != CPB_FILE) continue;
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
      const char *fixed;
      if (strncmp(spec, "git:", 4) == 0) {
        fixed = strchr(spec + 4, ':') ? cps_pool_printf(mem, "%s/%.*s", spec, dl, longer)
                                      : cps_pool_printf(mem, "%s:%.*s", spec, dl, longer);
      } else if (strcmp(spec, ".") == 0) {
        fixed = cps_pool_printf(mem, "%.*s", dl, longer);
      } else {
        fixed = cps_pool_printf(mem, "%s/%.*s", spec, dl, longer);
      }
      fprintf(stderr, "cpay-breaking: hint: %s %s\n", old_deeper ? "--against" : "give NEW as",
              fixed);
      return false;
    }
  }
  return true;
}

// ---- configuration -------------------------------------------------------------

// `path` made absolute (from the working directory) and lexically normal.
static char *absolute(cps_pool *mem, const char *path) {
  char cwd[4096];
  if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) return NULL;
  const char *joined = repo_join(mem, path[0] == '/' ? "" : cwd, path);
  return joined ? cps_pool_printf(mem, "/%s", joined) : NULL;
}

// The first cpay-breaking.yaml or buf.yaml from NEW's directory up to the
// repository's top (or only NEW's directory and the working one outside a
// repository), shown from the working directory where it is below it; NULL
// when there is none.
static const char *find_config(cps_pool *mem, const char *new_spec) {
  struct stat st;
  bool is_dir = strncmp(new_spec, "git:", 4) != 0 && stat(new_spec, &st) == 0 && S_ISDIR(st.st_mode);
  bool is_file = !is_dir && strncmp(new_spec, "git:", 4) != 0 && stat(new_spec, &st) == 0;
  const char *start;
  if (is_dir) {
    start = new_spec;
  } else if (is_file && strrchr(new_spec, '/')) {
    start = cps_pool_strndup(mem, new_spec, (size_t)(strrchr(new_spec, '/') - new_spec));
  } else {
    start = ".";
  }
  char *dir = absolute(mem, start);
  repo rp;
  bool in_repo = repo_find(mem, &rp, NULL);
  char cwd[4096];
  const char *stop = in_repo ? rp.top : (getcwd(cwd, sizeof cwd) ? cwd : "/");
  const char *found = NULL;
  while (dir && !found) {
    static const char *const names[] = {"cpay-breaking.yaml", "buf.yaml"};
    for (int k = 0; k < 2 && !found; k++) {
      const char *cand = cps_pool_printf(mem, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, names[k]);
      if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) found = cand;
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
  size_t cl = found && getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
  if (cl && strncmp(found, cwd, cl) == 0 && found[cl] == '/') found += cl + 1;
  return found;
}

// Loads `path`, or (NULL) the one find_config finds. False (after saying
// why) when a file is there but unusable.
static bool load_config(cps_pool *mem, const char *path, const char *new_spec, cpb_config **out) {
  *out = NULL;
  const char *found = path ? path : find_config(mem, new_spec);
  if (!found) return true;
  size_t size;
  char *err = NULL;
  const char *text = read_file(mem, found, &size, &err);
  bool ok = text != NULL;
  char *abs = ok ? absolute(mem, found) : NULL;
  if (ok && abs) {
    *strrchr(abs, '/') = '\0';
    const char *new_abs = strncmp(new_spec, "git:", 4) != 0 ? absolute(mem, new_spec) : NULL;
    size_t al = strlen(abs);
    const char *module = new_abs && strncmp(new_abs, abs, al) == 0 &&
                                 (new_abs[al] == '/' || new_abs[al] == '\0')
                             ? new_abs + al + (new_abs[al] == '/')
                             : NULL;
    cps_buf notes = {0};
    *out = cpb_config_parse(mem, text, size, found, *abs ? abs : "/", module, &err, &notes);
    fputs(cps_buf_str(&notes), stderr);
    cps_buf_free(&notes);
    ok = *out != NULL;
  }
  if (!ok) {
    fprintf(stderr, "cpay-breaking: cannot use the configuration: %s\n", err ? err : found);
  } else if (!path) {
    fprintf(stderr, "cpay-breaking: note: breaking settings from %s\n", found);
  }
  return ok;
}

// The package of the file a finding is in, from NEW (or OLD for a file
// that is gone).
static const char *package_of(const cpb_snap *snap, const char *display) {
  if (!snap) return NULL;
  const char *name = display;
  size_t pl = strlen(snap->prefix);
  if (pl) {
    if (strncmp(display, snap->prefix, pl) != 0 || display[pl] != '/') return NULL;
    name = display + pl + 1;
  }
  const cpb_block *f = cpb_snap_find(snap, CPB_FILE, name);
  return f ? f->package : NULL;
}

// Drops the findings the configuration does not want.
static void apply_config(cps_pool *mem, const cpb_config *c, const cpb_snap *old,
                         const cpb_snap *cur, cpb_findings *found) {
  size_t kept = 0;
  for (size_t i = 0; i < found->count; i++) {
    const cpb_finding *f = &found->v[i];
    const char *abs = absolute(mem, f->file);
    const char *pkg = package_of(cur, f->file);
    if (!pkg) pkg = package_of(old, f->file);
    if (!cpb_config_ignores(c, f, abs ? abs : f->file, pkg)) found->v[kept++] = *f;
  }
  found->count = kept;
}

// ---- acknowledged breaks ----------------------------------------------------

// A break between OLD and NEW that the lock has recorded (the lock's latest
// version breaks OLD the same way, which only `--update-lock --force` writes)
// is acknowledged: reviewed in the lock's diff, it becomes a note. Returns
// how many findings of `found` it turned into notes.
static size_t accept_recorded(const cpb_snap *old, const cpb_snap *lock, const char *lock_path,
                              cpb_category cat, cpb_findings *found) {
  cps_pool *mem = cps_pool_new();  // the lock's latest version, compared and dropped
  cpb_findings recorded = {0};
  cpb_compare(mem, old, cpb_lock_live(mem, lock), cat, &recorded);
  size_t n = 0;
  for (size_t i = 0; i < found->count; i++) {
    cpb_finding *f = &found->v[i];
    if (f->rule->note) continue;
    for (size_t k = 0; k < recorded.count; k++) {
      const cpb_finding *r = &recorded.v[k];
      if (r->rule == f->rule && strcmp(r->subject, f->subject) == 0 &&
          strcmp(r->message, f->message) == 0) {
        f->accepted = lock_path;
        n++;
        break;
      }
    }
  }
  cps_pool_free(mem);
  return n;
}

// ---- the steps of a run -----------------------------------------------------------

static int usage_error(const char *msg) {
  fprintf(stderr, "cpay-breaking: %s (try --help)\n", msg);
  return 2;
}

// Reads the command line into *o. Returns -1 to go on, or the exit status:
// 0 after --help, --version or --list-rules, 2 for a usage error.
static int parse_options(cps_pool *mem, int argc, char **argv, options *o) {
  static const char *const kRules[] = {"wire", "wire-json", "all", NULL};  // cpb_category
  static const char *const kFormats[] = {"text", "json", "github", "junit", NULL};  // cpb_format
  memset(o, 0, sizeof *o);
  o->rules = CPB_CAT_ALL;
  o->format = CPB_FMT_TEXT;
  cps_param_choice rules = {kRules, &o->rules}, format = {kFormats, &o->format};
  const cps_param_spec specs[] = {
      {"I=DIR", CPS_PARAM_LIST, &o->includes, "another include path (imports that are not checked)"},
      {"rules=CAT", CPS_PARAM_CHOICE, &rules,
       "wire: binary readers and gRPC; wire-json: also JSON and\n"
       "text format; all (default): also generated source code"},
      {"format=FMT", CPS_PARAM_CHOICE, &format,
       "text (default), json (one object per line), github\n"
       "(GitHub Actions annotations), junit (JUnit XML)"},
      {"config=FILE", CPS_PARAM_STRING, &o->config_path,
       "the breaking settings: the `breaking:` section of a\n"
       "buf.yaml or cpay-breaking.yaml (use, except, ignore,\n"
       "ignore_only, ignore_unstable_packages); without it, the\n"
       "first cpay-breaking.yaml or buf.yaml from NEW's directory\n"
       "up to the repository's top is read"},
      {"no-config", CPS_PARAM_BOOL, &o->no_config, "read no configuration file"},
      {"against=OLD", CPS_PARAM_STRING, &o->against, "the previous version to compare with"},
      {"lock=FILE", CPS_PARAM_STRING, &o->lock_path,
       "also compare with the history in FILE; without --against,\n"
       "with the history alone"},
      {"update-lock", CPS_PARAM_BOOL, &o->update,
       "record NEW in the lock after a passing check (creates a\n"
       "missing lock from NEW)"},
      {"force", CPS_PARAM_BOOL, &o->force, "with --update-lock: record NEW even though it breaks"},
      {"list-rules", CPS_PARAM_COMMAND, &o->list_rules,
       "print every rule ID with its category and exit"},
      {"version", CPS_PARAM_COMMAND, &o->version, "print the version and exit"},
      {"help", CPS_PARAM_COMMAND, &o->help, "print this help and exit"},
      {"h", CPS_PARAM_COMMAND, &o->help, NULL},
      {NULL, CPS_PARAM_STRING, &o->new_spec, "NEW schema"},
  };
  int count = (int)(sizeof specs / sizeof specs[0]);
  const char *err = cps_args_parse(mem, argc, argv, specs, count);
  if (err) return usage_error(err);
  if (o->help) {
    cps_buf help = {0};
    cps_buf_puts(&help, kUsageHead);
    cps_args_help(specs, count, &help);
    cps_buf_puts(&help, kUsageTail);
    fputs(cps_buf_str(&help), stdout);
    cps_buf_free(&help);
    return 0;
  }
  if (o->version) {
    printf("cpay-breaking %s\n", CPAY_VERSION_STRING);
    return 0;
  }
  if (o->list_rules) {
    for (size_t k = 0; k < cpb_rule_count; k++) {
      printf("%-38s %-9s %s%s\n", cpb_rules[k].id, cpb_category_name(cpb_rules[k].category),
             cpb_rules[k].note ? "(note) " : "", cpb_rules[k].summary);
    }
    return 0;
  }
  if (o->update && !o->lock_path) return usage_error("--update-lock needs --lock FILE");
  if (!o->against && !o->lock_path) {
    return usage_error("nothing to compare NEW with: give --against OLD, --lock FILE or both");
  }
  if (o->force && !o->update) return usage_error("--force only applies to --update-lock");
  if (o->config_path && o->no_config) {
    return usage_error("--config and --no-config exclude each other");
  }
  return -1;
}

// Reads the lock of --lock into *lock: NULL for a missing one that
// --update-lock creates or that git says is not lost. False after saying
// why it cannot be used.
static bool load_lock(cps_pool *mem, const options *o, cpb_snap **lock, bool *existed) {
  *lock = NULL;
  struct stat st;
  bool missing = stat(o->lock_path, &st) != 0 && errno == ENOENT;
  *existed = !missing;
  if (missing && o->update) return true;  // a new lock: created from NEW
  if (missing) {
    // Lost on this branch (an error), or the change that adds the schema
    // (no history yet, in the base either): lock_in_base says which.
    lock_base base = lock_in_base(mem, o->lock_path, o->against);
    if (base != LOCK_BASE_UNKNOWN) return base == LOCK_BASE_LACKS;
  }
  size_t size;
  char *err = NULL;
  const char *text = read_file(mem, o->lock_path, &size, &err);
  if (!text) {
    fprintf(stderr, "cpay-breaking: cannot load the lock: %s%s\n", err,
            o->update ? "" : " (create it with --update-lock)");
    return false;
  }
  if ((*lock = cpb_lock_parse(mem, text, size, o->lock_path, &err)) == NULL) {
    fprintf(stderr, "cpay-breaking: cannot load the lock: %s\n", err);
    return false;
  }
  if ((*lock)->version < 2) {
    fprintf(stderr,
            "cpay-breaking: note: %s is a version %d lock, without check lines: a cut or "
            "edited copy cannot be told from the real one; --update-lock rewrites it as "
            "version 2 (3 when it has editions)\n",
            o->lock_path, (*lock)->version);
  }
  return true;
}

// Compares NEW (*cur) with OLD and with the lock, as the configuration
// says. *accepted counts the breaks the lock acknowledges. False after
// saying why an input cannot be used.
static bool compare(cps_pool *mem, const options *o, const cpb_config *config,
                    const cpb_snap *lock, cpb_snap **cur, cpb_findings *found, size_t *accepted) {
  cpb_snap *old = NULL;
  *accepted = 0;
  if ((*cur = load_snap(mem, o, "NEW", o->new_spec)) == NULL) return false;
  if (o->against && (old = load_snap(mem, o, "OLD", o->against)) == NULL) return false;
  if (old && !roots_line_up(mem, old, *cur, o->against, o->new_spec)) return false;
  if (old) cpb_compare(mem, old, *cur, (cpb_category)o->rules, found);
  if (old && lock) *accepted = accept_recorded(old, lock, o->lock_path, (cpb_category)o->rules, found);
  if (lock) cpb_compare(mem, lock, *cur, (cpb_category)o->rules, found);
  if (config) apply_config(mem, config, old, *cur, found);
  if (o->format == CPB_FMT_GITHUB) paths_from_repo_top(mem, found);
  cpb_findings_sort(found);
  return true;
}

// Prints the findings; returns how many break.
static size_t report(const options *o, const cpb_findings *found, size_t accepted) {
  cps_buf out = {0};
  cpb_findings_print(found, (cpb_format)o->format, &out);
  fputs(cps_buf_str(&out), stdout);
  fflush(stdout);
  cps_buf_free(&out);
  size_t errors = cpb_findings_errors(found);
  if (errors && o->format == CPB_FMT_TEXT) {
    fprintf(stderr, "cpay-breaking: %zu breaking change%s\n", errors, errors == 1 ? "" : "s");
  }
  if (accepted && o->format == CPB_FMT_TEXT) {
    fprintf(stderr, "cpay-breaking: %zu breaking change%s accepted: recorded in %s\n", accepted,
            accepted == 1 ? "" : "s", o->lock_path);
  }
  return errors;
}

// --update-lock: records NEW (`cur`) in the lock, unless it breaks and
// --force is not given. Returns the exit status.
static int update_lock(cps_pool *mem, const options *o, const cpb_snap *lock, bool existed,
                       const cpb_snap *cur, size_t errors) {
  if (errors && !o->force) {
    fprintf(stderr, "cpay-breaking: %s not updated (use --update-lock --force to accept the "
            "breaking changes)\n", o->lock_path);
    return 1;
  }
  cpb_snap *merged = cpb_lock_merge(mem, lock, cur);
  const char *text = cpb_lock_format(mem, merged);
  bool changed = !lock || strcmp(cpb_lock_format(mem, lock), text) != 0;
  if (!write_lock(mem, o->lock_path, text)) return 2;
  if (!existed) {
    size_t counts[5] = {0};
    for (size_t i = 0; i < merged->block_count; i++) counts[merged->blocks[i].kind]++;
    fprintf(stderr, "cpay-breaking: created %s, recording %s; commit it with the schema\n",
            o->lock_path, describe_lock(mem, counts));
  } else if (errors) {
    fprintf(stderr, "cpay-breaking: %s updated, accepting %zu breaking change%s\n", o->lock_path,
            errors, errors == 1 ? "" : "s");
  } else if (!changed) {
    fprintf(stderr, "cpay-breaking: %s is up to date\n", o->lock_path);
  } else {
    fprintf(stderr, "cpay-breaking: %s updated\n", o->lock_path);
  }
  return 0;
}

// The check the options ask for; returns the exit status.
static int check(cps_pool *mem, const options *o) {
  cpb_config *config = NULL;
  if (!o->no_config && !load_config(mem, o->config_path, o->new_spec, &config)) return 2;
  cpb_snap *lock = NULL, *cur;
  bool existed = false;
  if (o->lock_path && !load_lock(mem, o, &lock, &existed)) return 2;
  cpb_findings found = {0};
  size_t accepted;
  if (!compare(mem, o, config, lock, &cur, &found, &accepted)) return 2;
  size_t errors = report(o, &found, accepted);
  if (o->update) return update_lock(mem, o, lock, existed, cur, errors);
  return errors ? 1 : 0;
}

int main(int argc, char **argv) {
  cps_pool *mem = cps_pool_new();
  options o;
  int status = parse_options(mem, argc, argv, &o);
  if (status < 0) status = check(mem, &o);
  cps_pool_free(mem);
  return status;
}
