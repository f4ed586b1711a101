// The plugin protocol driver: stdin request, generator call, stdout response.
// Schema and parameter problems are reported in the response (protoc prints
// them and fails); unreadable requests and I/O errors go to stderr, exit 1.
#include "schema/request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "schema/buf.h"
#include "schema/params.h"

void cps_output_add(cps_output *o, const char *name, cps_buf *content) {
  o->files = cps_pool_grow(o->mem, o->files, o->count, &o->cap, sizeof *o->files);
  cps_out_file *f = &o->files[o->count++];
  f->name = cps_pool_strdup(o->mem, name);
  f->size = content->size;
  f->content = cps_pool_take(o->mem, content);
}

// The command line: --help, --version, or a run without protoc.
typedef struct cmdline {
  bool version, help;
  const char *descriptor_set;  // --descriptor-set FILE
  const char *out;             // --out DIR
  const char *param;           // --param PARAMS
  cps_param_list files;        // the files to generate (default: all in the set)
} cmdline;

// Handles the command line into *c; returns an exit status, or -1 to go on.
static int args(const cps_plugin *p, cps_pool *mem, int argc, char **argv, cmdline *c) {
  const cps_param_spec specs[] = {
      {"descriptor-set=FILE", CPS_PARAM_STRING, &c->descriptor_set,
       "generate without protoc, from FILE, a FileDescriptorSet\n"
       "(buf build -o FILE, protoc --descriptor_set_out=FILE);\n"
       "for the files named after the options, or all in FILE"},
      {"out=DIR", CPS_PARAM_STRING, &c->out,
       "with --descriptor-set: where to write (made if missing)"},
      {"param=PARAMS", CPS_PARAM_STRING, &c->param,
       "with --descriptor-set: the parameters, as for protoc"},
      {"version", CPS_PARAM_COMMAND, &c->version, "print the version and exit"},
      {"help", CPS_PARAM_COMMAND, &c->help, "print this help and exit"},
      {"h", CPS_PARAM_COMMAND, &c->help, NULL},
      {NULL, CPS_PARAM_LIST, &c->files, "FILE.proto"},
  };
  const int count = (int)(sizeof specs / sizeof specs[0]);
  const char *err = cps_args_parse(mem, argc, argv, specs, count);
  if (!err && !c->version && !c->help) {
    if (!c->descriptor_set && (c->out || c->param || c->files.count)) {
      err = "--out, --param and file names go with --descriptor-set";
    } else if (c->descriptor_set && !c->out) {
      err = "--descriptor-set needs --out DIR";
    }
  }
  if (err) {
    fprintf(stderr, "%s: %s (try --help)\n", p->name, err);
    return 1;
  }
  if (c->version) printf("%s %s\n", p->name, p->version);
  if (c->help) {
    cps_buf text = {0};
    cps_buf_puts(&text, p->usage);
    cps_params_help(p->params, p->param_count, &text);
    cps_buf_puts(&text, "\nOptions:\n");
    cps_args_help(specs, count, &text);
    fputs(cps_buf_str(&text), stdout);
    cps_buf_free(&text);
  }
  return c->version || c->help ? 0 : -1;
}

// Parses the parameters and runs the generator into *out. False with the
// problems in `diag` when either fails.
static bool generate(const cps_plugin *p, cps_pool *mem, const cps_schema *schema,
                     cps_output *out, cps_diag *diag) {
  const char *bad = cps_params_parse(mem, schema->parameter, p->params, p->param_count);
  if (bad) {
    cps_diag_plain(diag, cps_pool_printf(mem, "%s: %s", p->name, bad));
  } else {
    p->generate(p->ctx, schema, out, diag);
  }
  return cps_diag_ok(diag);
}

// Reads the request, generates, writes the response.
static int run(const cps_plugin *p, cps_pool *mem) {
  size_t size;
  const char *in = cps_pool_read(mem, stdin, &size);
  if (in == NULL) {
    fprintf(stderr, "%s: cannot read the request from stdin\n", p->name);
    return 1;
  }
  char *err = NULL;
  const cps_schema *schema = cps_load_request(mem, in, size, &err);
  if (schema == NULL) {
    fprintf(stderr, "%s: bad CodeGeneratorRequest: %s\n", p->name, err ? err : "unknown error");
    return 1;
  }
  cps_output out = {.mem = mem};
  cps_diag diag = {.mem = mem};
  uint8_t *resp = NULL;
  size_t resp_size = 0;
  bool ok = generate(p, mem, schema, &out, &diag)
                ? cps_encode_response(mem, NULL, out.files, out.count, &resp, &resp_size)
                : cps_encode_response(mem, cps_diag_text(&diag), NULL, 0, &resp, &resp_size);
  if (!ok) {
    fprintf(stderr, "%s: out of memory encoding the response\n", p->name);
    return 1;
  }
  if (fwrite(resp, 1, resp_size, stdout) != resp_size || fflush(stdout) != 0) {
    fprintf(stderr, "%s: cannot write the response to stdout\n", p->name);
    return 1;
  }
  return 0;
}

// Makes the directories of `path` up to its last '/' (path is modified and
// restored). False with errno set when one cannot be made.
static bool make_parents(char *path) {
  for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    bool ok = mkdir(path, 0777) == 0 || errno == EEXIST;
    *s = '/';
    if (!ok) return false;
  }
  return true;
}

// Writes every file of `out` under `dir`; false after the first failure,
// which it reports.
static bool write_files(const cps_plugin *p, cps_pool *mem, const char *dir,
                        const cps_output *out) {
  for (size_t i = 0; i < out->count; i++) {
    char *path = cps_pool_printf(mem, "%s/%s", dir, out->files[i].name);
    FILE *f = make_parents(path) ? fopen(path, "wb") : NULL;
    bool ok = f && fwrite(out->files[i].content, 1, out->files[i].size, f) == out->files[i].size;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) {
      fprintf(stderr, "%s: cannot write %s: %s\n", p->name, path, strerror(errno));
      return false;
    }
  }
  return true;
}

// --descriptor-set: loads the set, keeps the files named on the command line
// (every file in it when none is), generates and writes them under --out.
static int run_set(const cps_plugin *p, cps_pool *mem, const cmdline *c) {
  FILE *f = fopen(c->descriptor_set, "rb");
  size_t size = 0;
  const char *in = f ? cps_pool_read(mem, f, &size) : NULL;
  if (f) fclose(f);
  if (in == NULL) {
    fprintf(stderr, "%s: cannot read %s: %s\n", p->name, c->descriptor_set, strerror(errno));
    return 1;
  }
  char *err = NULL;
  cps_schema *schema = cps_load_descriptor_set(mem, in, size, &err);
  if (schema == NULL) {
    fprintf(stderr, "%s: %s: %s\n", p->name, c->descriptor_set, err ? err : "unknown error");
    return 1;
  }
  if (c->files.count > 0) {
    const cps_file **chosen = cps_pool_alloc(mem, c->files.count * sizeof *chosen);
    for (size_t i = 0; i < c->files.count; i++) {
      chosen[i] = NULL;
      for (size_t j = 0; j < schema->to_generate_count && !chosen[i]; j++) {
        if (strcmp(schema->to_generate[j]->name, c->files.items[i]) == 0) {
          chosen[i] = schema->to_generate[j];
        }
      }
      if (!chosen[i]) {
        fprintf(stderr, "%s: %s is not in %s\n", p->name, c->files.items[i], c->descriptor_set);
        return 1;
      }
    }
    schema->to_generate = chosen;
    schema->to_generate_count = c->files.count;
  }
  schema->parameter = c->param ? c->param : "";
  cps_output out = {.mem = mem};
  cps_diag diag = {.mem = mem};
  if (!generate(p, mem, schema, &out, &diag)) {
    fprintf(stderr, "%s\n", cps_diag_text(&diag));
    return 1;
  }
  return write_files(p, mem, c->out, &out) ? 0 : 1;
}

int cps_plugin_main(const cps_plugin *p, int argc, char **argv) {
  cps_pool *mem = cps_pool_new();
  cmdline c = {0};
  int status = args(p, mem, argc, argv, &c);
  if (status < 0) status = c.descriptor_set ? run_set(p, mem, &c) : run(p, mem);
  cps_pool_free(mem);
  return status;
}
