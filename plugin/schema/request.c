// The plugin protocol driver: stdin request, generator call, stdout response.
// Schema and parameter problems are reported in the response (protoc prints
// them and fails); unreadable requests and I/O errors go to stderr, exit 1.
#include "schema/request.h"

#include <stdio.h>
#include <string.h>

#include "schema/buf.h"
#include "schema/params.h"

void cps_output_add(cps_output *o, const char *name, cps_buf *content) {
  o->files = cps_pool_grow(o->mem, o->files, o->count, &o->cap, sizeof *o->files);
  cps_out_file *f = &o->files[o->count++];
  f->name = cps_pool_strdup(o->mem, name);
  f->size = content->size;
  f->content = cps_pool_take(o->mem, content);
}

// All of `f` in `mem`; *size is its length.
static const char *read_all(cps_pool *mem, FILE *f, size_t *size) {
  cps_buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cps_buf_append(&b, chunk, n);
  *size = b.size;
  const char *data = cps_pool_take(mem, &b);
  return ferror(f) ? NULL : data;
}

// Handles the command line; returns an exit status, or -1 to go on.
static int args(const cps_plugin *p, cps_pool *mem, int argc, char **argv) {
  bool version = false, help = false;
  const cps_param_spec specs[] = {
      {"version", CPS_PARAM_COMMAND, &version, "print the version and exit"},
      {"help", CPS_PARAM_COMMAND, &help, "print this help and exit"},
      {"h", CPS_PARAM_COMMAND, &help, NULL},
  };
  const char *err = cps_args_parse(mem, argc, argv, specs, (int)(sizeof specs / sizeof specs[0]));
  if (err) {
    fprintf(stderr, "%s: %s (try --help)\n", p->name, err);
    return 1;
  }
  if (version) printf("%s %s\n", p->name, p->version);
  if (help) {
    cps_buf text = {0};
    cps_buf_puts(&text, p->usage);
    cps_params_help(p->params, p->param_count, &text);
    cps_buf_puts(&text, "\nOptions:\n");
    cps_args_help(specs, (int)(sizeof specs / sizeof specs[0]), &text);
    fputs(cps_buf_str(&text), stdout);
    cps_buf_free(&text);
  }
  return version || help ? 0 : -1;
}

// Reads the request, generates, writes the response.
static int run(const cps_plugin *p, cps_pool *mem) {
  size_t size;
  const char *in = read_all(mem, stdin, &size);
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
  const char *bad = cps_params_parse(mem, schema->parameter, p->params, p->param_count);
  if (bad) {
    cps_diag_plain(&diag, cps_pool_printf(mem, "%s: %s", p->name, bad));
  } else {
    p->generate(p->ctx, schema, &out, &diag);
  }
  uint8_t *resp = NULL;
  size_t resp_size = 0;
  bool ok = cps_diag_ok(&diag)
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

int cps_plugin_main(const cps_plugin *p, int argc, char **argv) {
  cps_pool *mem = cps_pool_new();
  int status = args(p, mem, argc, argv);
  if (status < 0) status = run(p, mem);
  cps_pool_free(mem);
  return status;
}
