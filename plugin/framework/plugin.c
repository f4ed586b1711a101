// The plugin protocol driver: stdin request, generator call, stdout response.
// Schema and parameter problems are reported in the response (protoc prints
// them and fails); unreadable requests and I/O errors go to stderr, exit 1.
#include "framework/plugin.h"

#include <stdio.h>
#include <string.h>

#include "framework/buf.h"
#include "framework/params.h"

void cpf_output_add(cpf_output *o, const char *name, char *content, size_t size) {
  o->files = cpf_pool_grow(o->mem, o->files, o->count, &o->cap, sizeof *o->files);
  cpm_out_file *f = &o->files[o->count++];
  f->name = cpf_pool_strdup(o->mem, name);
  f->content = cpf_pool_own(o->mem, content);
  f->size = size;
}

// All of `f` in `mem`; *size is its length.
static const char *read_all(cpf_pool *mem, FILE *f, size_t *size) {
  cpf_buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cpf_buf_append(&b, chunk, n);
  *size = b.size;
  const char *data = cpf_pool_own(mem, cpf_buf_take(&b));
  return ferror(f) ? NULL : data;
}

// Handles the command line; returns an exit status, or -1 to go on.
static int args(const cpf_plugin *p, cpf_pool *mem, int argc, char **argv) {
  bool version = false, help = false;
  const cpf_param_spec specs[] = {
      {"version", CPF_PARAM_COMMAND, &version, "print the version and exit"},
      {"help", CPF_PARAM_COMMAND, &help, "print this help and exit"},
      {"h", CPF_PARAM_COMMAND, &help, NULL},
  };
  const char *err = cpf_args_parse(mem, argc, argv, specs, (int)(sizeof specs / sizeof specs[0]));
  if (err) {
    fprintf(stderr, "%s: %s (try --help)\n", p->name, err);
    return 1;
  }
  if (version) printf("%s %s\n", p->name, p->version);
  if (help) fputs(p->usage, stdout);
  return version || help ? 0 : -1;
}

// Reads the request, generates, writes the response.
static int run(const cpf_plugin *p, cpf_pool *mem) {
  size_t size;
  const char *in = read_all(mem, stdin, &size);
  if (in == NULL) {
    fprintf(stderr, "%s: cannot read the request from stdin\n", p->name);
    return 1;
  }
  char *err = NULL;
  const cpm_pool *pool = cpm_load_request(mem, in, size, &err);
  if (pool == NULL) {
    fprintf(stderr, "%s: bad CodeGeneratorRequest: %s\n", p->name, err ? err : "unknown error");
    return 1;
  }
  cpf_output out = {.mem = mem};
  cpf_diag diag = {0};
  p->generate(pool, &out, &diag);
  uint8_t *resp = NULL;
  size_t resp_size = 0;
  bool ok = cpf_diag_ok(&diag)
                ? cpm_encode_response(mem, NULL, out.files, out.count, &resp, &resp_size)
                : cpm_encode_response(mem, cpf_buf_str(&diag.text), NULL, 0, &resp, &resp_size);
  cpf_diag_free(&diag);
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

int cpf_plugin_main(const cpf_plugin *p, int argc, char **argv) {
  cpf_pool *mem = cpf_pool_new();
  int status = args(p, mem, argc, argv);
  if (status < 0) status = run(p, mem);
  cpf_pool_free(mem);
  return status;
}
