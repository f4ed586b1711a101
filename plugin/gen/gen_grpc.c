// gRPC services of one .proto file: foo.cpay_grpc.h (method tables, typed
// client stubs, the handler table of the server skeleton, typed stream
// helpers) and foo.cpay_grpc.c (the tables, the dispatch function, the
// register function and the embedded descriptors for server reflection).
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/port.h"
#include "gen/gen.h"

static const char *strip_proto(cpg_gen *g, const char *path, const char *suffix) {
  size_t len = strlen(path);
  if (len > 6 && strcmp(path + len - 6, ".proto") == 0) len -= 6;
  return cpg_str(g, "%.*s%s", (int)len, path, suffix);
}

static const char *guard_of(cpg_gen *g, const char *header) {
  cpf_buf b = {0};
  for (const char *p = header; *p; p++) {
    char c = (char)toupper((unsigned char)*p);
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
    cpf_buf_append(&b, &c, 1);
  }
  cpf_buf_puts(&b, "_");
  return cpg_own(g, cpf_buf_take(&b));
}

static const char *kind_const(const cpm_method *m) {
  if (m->client_streaming && m->server_streaming) return "CPAY_METHOD_BIDI_STREAMING";
  if (m->client_streaming) return "CPAY_METHOD_CLIENT_STREAMING";
  if (m->server_streaming) return "CPAY_METHOD_SERVER_STREAMING";
  return "CPAY_METHOD_UNARY";
}

// Per-method names: the method name, with `_` appended while it is a C
// keyword or it (or one of its helpers, e.g. Foo_send, or its reactor
// member on_Foo) collides with a service-level name (X_register,
// X_methods...) or another method's names. Methods are named in
// declaration order, so the result is deterministic.
static const char *const kHelperSuffixes[] = {
    "",          "_send",       "_recv",          "_finish",         "_close_send",
    "_recv_request", "_send_response", "_async",  "_read",           "_write",
    "_client_reactor", "_reactor", "_react",      "_read_request",   "_write_response",
    "__server_deliver", "__client_deliver"};
static const char *const kServiceNames[] = {"register", "methods", "service", "handlers",
                                            "_style", "_dispatch"};

typedef struct name_set {
  const char **items;
  size_t count;
  size_t cap;
} name_set;

static bool set_has(const name_set *s, const char *name) {
  for (size_t i = 0; i < s->count; i++) {
    if (strcmp(s->items[i], name) == 0) return true;
  }
  return false;
}

static void set_add(name_set *s, const char *name) {
  if (s->count == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 32;
    s->items = cpf_xrealloc(s->items, s->cap * sizeof *s->items);
  }
  s->items[s->count++] = name;
}

// The names method `base` takes: its helpers, and its reactor member.
static bool names_free(cpg_gen *g, const name_set *used, const char *base) {
  if (cpn_is_keyword(base) || set_has(used, cpg_str(g, "on_%s", base))) return false;
  for (size_t k = 0; k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
    if (set_has(used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]))) return false;
  }
  return true;
}

static const char **method_names(cpg_gen *g, const cpm_service *svc) {
  name_set used = {0};
  for (size_t i = 0; i < sizeof kServiceNames / sizeof kServiceNames[0]; i++) {
    set_add(&used, kServiceNames[i]);
  }
  const char **names = cpf_xrealloc(NULL, (svc->method_count + 1) * sizeof *names);
  for (size_t i = 0; i < svc->method_count; i++) {
    const char *base = svc->methods[i].name;
    while (!names_free(g, &used, base)) base = cpg_str(g, "%s_", base);
    for (size_t k = 0; k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
      set_add(&used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]));
    }
    set_add(&used, cpg_str(g, "on_%s", base));
    names[i] = base;
  }
  free(used.items);
  return names;
}

// Every file `f` depends on, transitively, each once, `f` first.
typedef struct file_list {
  const cpm_file **items;
  size_t count;
  size_t cap;
} file_list;

static void collect_files(file_list *l, const cpm_file *f) {
  for (size_t i = 0; i < l->count; i++) {
    if (l->items[i] == f) return;
  }
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    l->items = cpf_xrealloc(l->items, l->cap * sizeof *l->items);
  }
  l->items[l->count++] = f;
  for (size_t i = 0; i < f->dep_count; i++) collect_files(l, f->deps[i]);
}

static const char *hex_rows(cpg_gen *g, const uint8_t *data, size_t size) {
  cpf_buf b = {0};
  for (size_t i = 0; i < size; i++) {
    if (i % 16 == 0) cpf_buf_puts(&b, "   ");
    cpf_buf_printf(&b, " 0x%02x,", data[i]);
    if (i % 16 == 15 || i + 1 == size) cpf_buf_puts(&b, "\n");
  }
  return cpg_own(g, cpf_buf_take(&b));
}

static size_t gen_descriptors(cpg_gen *g, const char *prefix) {
  file_list files = {0};
  collect_files(&files, g->file);
  cpf_buf rows = {0};
  for (size_t i = 0; i < files.count; i++) {
    const cpm_file *f = files.items[i];
    const char *var = cpg_str(g, "%s__grpc_file_%zu", prefix, i);
    const char *size = cpg_str(g, "%zu", f->descriptor_size);
    if (f->descriptor_size == 0) {
      g->bug = g->bug ? g->bug : cpf_xasprintf("no descriptor for %s", f->name);
      continue;
    }
    CPG_RENDER(g, &g->c, "grpc_descriptor", {"name", f->name}, {"var", var}, {"size", size},
               {"bytes", hex_rows(g, f->descriptor, f->descriptor_size)});
    CPG_RENDER(g, &rows, "grpc_file_row", {"name", f->name}, {"var", var}, {"size", size});
  }
  CPG_RENDER(g, &g->c, "grpc_files", {"source", g->file->name}, {"prefix", prefix},
             {"count", cpg_str(g, "%zu", files.count)}, {"rows", cpf_buf_str(&rows)});
  cpf_buf_free(&rows);
  free(files.items);
  return files.count;
}

// One method's names and types, as the templates use them.
typedef struct method_ctx {
  const cpm_method *m;
  const char *svc;    // the service's C prefix
  const char *fn;     // svc_Method: the prefix of every helper
  const char *req;    // C type names
  const char *resp;
  const char *path;   // "/pkg.Service/Method"
  const char *index;  // in the methods table
} method_ctx;

// The blocking and asynchronous client stubs of one method.
static void gen_method_client(cpg_gen *g, const method_ctx *x) {
  const cpm_method *m = x->m;
  const char *doc = cpg_doc(g, &m->loc, "");
  if (!m->client_streaming && !m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_unary", {"doc", doc}, {"path", x->path}, {"fn", x->fn},
               {"req", x->req}, {"resp", x->resp}, {"svc", x->svc}, {"index", x->index});
  } else if (!m->client_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_start_req", {"doc", doc}, {"path", x->path}, {"fn", x->fn},
               {"req", x->req}, {"svc", x->svc}, {"index", x->index});
  } else {
    const char *fn = x->fn;
    const char *what = m->server_streaming ? "bidirectional streaming" : "client streaming";
    const char *steps = m->server_streaming
                            ? cpg_str(g, "%s_send and %s_recv in any order, %s_close_send "
                                         "when done sending, %s_finish", fn, fn, fn, fn)
                            : cpg_str(g, "%s_send each request, %s_finish for the response",
                                      fn, fn);
    CPG_RENDER(g, &g->h, "grpc_client_start", {"doc", doc}, {"path", x->path}, {"fn", fn},
               {"what", what}, {"steps", steps}, {"svc", x->svc}, {"index", x->index});
    CPG_RENDER(g, &g->h, "grpc_client_send", {"fn", fn}, {"req", x->req});
    CPG_RENDER(g, &g->h, "grpc_client_close_send", {"fn", fn});
  }
  if (m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_recv", {"fn", x->fn}, {"resp", x->resp});
    CPG_RENDER(g, &g->h, "grpc_client_finish", {"fn", x->fn});
  } else if (m->client_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_finish_resp", {"fn", x->fn}, {"resp", x->resp});
  }
  const char *on_message = m->server_streaming
                               ? cpg_str(g, "Each response after %s_read; NULL at the end of "
                                            "the stream.", x->fn)
                               : "The response, before on_done (when the status is OK).";
  bool one_req = !m->client_streaming;
  CPG_RENDER(g, &g->h, "grpc_client_reactor", {"path", x->path}, {"fn", x->fn},
             {"resp", x->resp}, {"on_message", on_message},
             {"req_param", one_req ? cpg_str(g, " const %s *req,", x->req) : ""},
             {"req_arg", one_req ? "req" : "NULL"}, {"svc", x->svc}, {"index", x->index});
  if (m->server_streaming) CPG_RENDER(g, &g->h, "grpc_client_read", {"fn", x->fn});
  if (m->client_streaming) CPG_RENDER(g, &g->h, "grpc_client_write", {"fn", x->fn}, {"req", x->req});
}

// The server-side helpers of one method: blocking recv and send, the typed
// reactor, its reads and writes.
static void gen_method_server(cpg_gen *g, const method_ctx *x) {
  const cpm_method *m = x->m;
  if (m->client_streaming) {
    CPG_RENDER(g, &g->h, "grpc_server_recv", {"fn", x->fn}, {"req", x->req}, {"path", x->path});
  }
  if (m->client_streaming || m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_server_send", {"fn", x->fn}, {"resp", x->resp}, {"path", x->path},
               {"what", m->server_streaming ? "one response of the stream"
                                            : "the single response (with the status, when the "
                                              "handler returns)"});
  }
  const char *on_message = m->client_streaming
                               ? cpg_str(g, "Each request after %s_read_request; NULL once the "
                                            "client half-closed.", x->fn)
                               : "Unused: the request comes with the start handler.";
  CPG_RENDER(g, &g->h, "grpc_server_reactor", {"path", x->path}, {"fn", x->fn}, {"req", x->req},
             {"on_message", on_message});
  if (m->client_streaming) CPG_RENDER(g, &g->h, "grpc_server_read", {"fn", x->fn}, {"path", x->path});
  if (m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_server_write", {"fn", x->fn}, {"resp", x->resp}, {"path", x->path});
  }
}

// The handler-table members, the dispatch and style cases, the typed
// deliver functions and the method row of one method.
typedef struct service_bufs {
  cpf_buf members, reactor_members, cases, style_cases, delivers, rows;
} service_bufs;

static void gen_method_tables(cpg_gen *g, const method_ctx *x, const char *member,
                              service_bufs *b) {
  const cpm_method *m = x->m;
  const char *params, *blocking_args, *on_params, *reactor_args, *what, *on_what;
  const char *req_cast = cpg_str(g, "(const %s *)req", x->req);
  const char *resp_cast = cpg_str(g, "(%s *)resp", x->resp);
  if (!m->client_streaming && !m->server_streaming) {
    params = on_params = cpg_str(g, ", const %s *req,\n      %s *resp", x->req, x->resp);
    blocking_args = reactor_args = cpg_str(g, ", %s, %s", req_cast, resp_cast);
    what = "fill `resp` (allocated on the call's arena)";
    on_what = "fill `resp`, then finish";
  } else if (!m->client_streaming) {
    params = on_params = cpg_str(g, ", const %s *req", x->req);
    blocking_args = reactor_args = cpg_str(g, ", %s", req_cast);
    what = cpg_str(g, "send with %s_send_response", x->fn);
    on_what = cpg_str(g, "write with %s_write_response, then finish", x->fn);
  } else {
    params = "";
    blocking_args = "";
    what = m->server_streaming
               ? cpg_str(g, "%s_recv_request and %s_send_response", x->fn, x->fn)
               : cpg_str(g, "%s_recv_request until NULL, then %s_send_response once", x->fn,
                         x->fn);
    if (m->server_streaming) {
      on_params = reactor_args = "";
      on_what = cpg_str(g, "%s_read_request and %s_write_response, then finish", x->fn, x->fn);
    } else {
      on_params = cpg_str(g, ", %s *resp", x->resp);
      reactor_args = cpg_str(g, ", %s", resp_cast);
      on_what = cpg_str(g, "%s_read_request until NULL, fill `resp`, then finish", x->fn);
    }
  }
  CPG_RENDER(g, &b->members, "grpc_handler", {"path", x->path}, {"member", member},
             {"what", what}, {"params", params});
  CPG_RENDER(g, &b->reactor_members, "grpc_handler_on", {"path", x->path}, {"member", member},
             {"what", on_what}, {"params", on_params});
  CPG_RENDER(g, &b->cases, "grpc_case", {"index", x->index}, {"member", member},
             {"blocking_args", blocking_args}, {"reactor_args", reactor_args});
  CPG_RENDER(g, &b->style_cases, "grpc_style_case", {"index", x->index}, {"member", member});
  CPG_RENDER(g, &b->delivers, "grpc_deliver", {"path", x->path}, {"fn", x->fn}, {"req", x->req},
             {"resp", x->resp});
  CPG_RENDER(g, &b->rows, "grpc_method_row", {"path", x->path}, {"name", m->name},
             {"kind", kind_const(m)}, {"req", x->req}, {"resp", x->resp}, {"fn", x->fn});
}

static void gen_service(cpg_gen *g, const cpm_service *s, const char *prefix, size_t nfiles) {
  const char *svc = cpg_str(g, "%s%s%s", g->file->package, *g->file->package ? "." : "", s->name);
  // Dots to underscores, as messages are named.
  char *c_svc = cpf_xstrdup(svc);
  for (char *p = c_svc; *p; p++) {
    if (*p == '.') *p = '_';
  }
  svc = cpg_own(g, c_svc);
  const char *count = cpg_str(g, "%zu", s->method_count);
  const char **names = method_names(g, s);
  method_ctx *xs = cpf_xrealloc(NULL, (s->method_count + 1) * sizeof *xs);
  service_bufs b = {0};
  for (size_t i = 0; i < s->method_count; i++) {
    const cpm_method *m = &s->methods[i];
    xs[i] = (method_ctx){m, svc, cpg_str(g, "%s_%s", svc, names[i]), cpn_message(g->names, m->input),
                         cpn_message(g->names, m->output), cpg_str(g, "/%s/%s", s->full_name, m->name),
                         cpg_str(g, "%zu", i)};
    gen_method_tables(g, &xs[i], names[i], &b);
  }
  CPG_RENDER(g, &g->h, "grpc_service_decl", {"doc", cpg_doc(g, &s->loc, "")},
             {"full_name", s->full_name}, {"api", g->api}, {"svc", svc}, {"count", count},
             {"members", cpf_buf_str(&b.members)},
             {"reactor_members", cpf_buf_str(&b.reactor_members)});
  for (size_t i = 0; i < s->method_count; i++) {
    gen_method_client(g, &xs[i]);
    gen_method_server(g, &xs[i]);
  }
  CPG_RENDER(g, &g->c, "grpc_service_def", {"full_name", s->full_name}, {"svc", svc},
             {"count", count}, {"rows", cpf_buf_str(&b.rows)}, {"cases", cpf_buf_str(&b.cases)},
             {"style_cases", cpf_buf_str(&b.style_cases)},
             {"delivers", cpf_buf_str(&b.delivers)}, {"prefix", prefix},
             {"file_count", cpg_str(g, "%zu", nfiles)});
  cpf_buf_free(&b.members);
  cpf_buf_free(&b.reactor_members);
  cpf_buf_free(&b.cases);
  cpf_buf_free(&b.style_cases);
  cpf_buf_free(&b.delivers);
  cpf_buf_free(&b.rows);
  free(xs);
  free(names);
}

void cpg_gen_grpc(cpg_gen *g) {
  const cpm_file *f = g->file;
  const char *header = strip_proto(g, f->name, ".cpay_grpc.h");
  const char *guard = guard_of(g, header);
  const char *prefix = cpn_file_prefix(g->names, f);
  CPG_RENDER(g, &g->h, "grpc_header_begin", {"version", CPAY_VERSION_STRING}, {"source", f->name},
             {"guard", guard}, {"msg_header", strip_proto(g, f->name, ".cpay.h")},
             {"gencode_version", cpg_str(g, "%d", CPAY_GENCODE_VERSION)});
  const char *slash = strrchr(header, '/');
  CPG_RENDER(g, &g->c, "grpc_source_begin", {"version", CPAY_VERSION_STRING}, {"source", f->name},
             {"header", slash ? slash + 1 : header});
  size_t nfiles = gen_descriptors(g, prefix);
  for (size_t i = 0; i < f->service_count; i++) gen_service(g, &f->services[i], prefix, nfiles);
  CPG_RENDER(g, &g->h, "header_end", {"guard", guard});
}
