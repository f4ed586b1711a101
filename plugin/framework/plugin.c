// The plugin protocol driver: stdin request, generator call, stdout response.
// Schema and parameter problems are reported in the response (protoc prints
// them and fails); unreadable requests and I/O errors go to stderr, exit 1.
#include "framework/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/buf.h"

void cpf_output_add(cpf_output *o, const char *name, char *content, size_t size) {
  if (o->count == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 8;
    o->files = cpf_xrealloc(o->files, o->cap * sizeof(*o->files));
  }
  cpm_out_file *f = &o->files[o->count++];
  f->name = cpf_xstrdup(name);
  f->content = content;
  f->size = size;
}

void cpf_output_free(cpf_output *o) {
  for (size_t i = 0; i < o->count; i++) {
    free((char *)o->files[i].name);
    free((char *)o->files[i].content);
  }
  free(o->files);
  o->files = NULL;
  o->count = o->cap = 0;
}

static bool read_all(FILE *f, cpf_buf *b) {
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cpf_buf_append(b, chunk, n);
  return !ferror(f);
}

int cpf_plugin_main(const cpf_plugin *p, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("%s %s\n", p->name, p->version);
      return 0;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(p->usage, stdout);
      return 0;
    }
    fprintf(stderr, "%s: unknown argument %s (try --help)\n", p->name, argv[i]);
    return 1;
  }
  cpf_buf in = {0};
  if (!read_all(stdin, &in)) {
    fprintf(stderr, "%s: cannot read the request from stdin\n", p->name);
    cpf_buf_free(&in);
    return 1;
  }
  char *err = NULL;
  cpm_pool *pool = cpm_load_request(in.data, in.size, &err);
  cpf_buf_free(&in);
  if (pool == NULL) {
    fprintf(stderr, "%s: bad CodeGeneratorRequest: %s\n", p->name, err ? err : "unknown error");
    free(err);
    return 1;
  }
  cpf_output out = {0};
  cpf_diag diag = {0};
  p->generate(pool, &out, &diag);
  uint8_t *resp = NULL;
  size_t resp_size = 0;
  bool ok;
  if (cpf_diag_ok(&diag)) {
    ok = cpm_encode_response(NULL, out.files, out.count, &resp, &resp_size);
  } else {
    ok = cpm_encode_response(cpf_buf_str(&diag.text), NULL, 0, &resp, &resp_size);
  }
  int status = 0;
  if (!ok) {
    fprintf(stderr, "%s: out of memory encoding the response\n", p->name);
    status = 1;
  } else if (fwrite(resp, 1, resp_size, stdout) != resp_size || fflush(stdout) != 0) {
    fprintf(stderr, "%s: cannot write the response to stdout\n", p->name);
    status = 1;
  }
  free(resp);
  cpf_diag_free(&diag);
  cpf_output_free(&out);
  cpm_pool_free(pool);
  return status;
}
