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
// keyword or it (or one of its helpers, e.g. Foo_send) collides with a
// service-level name (X_register, X_methods...) or another method's names.
// Methods are named in declaration order, so the result is deterministic.
static const char *const kHelperSuffixes[] = {"",      "_send",         "_recv",          "_finish",
                                              "_close_send", "_recv_request", "_send_response"};
static const char *const kServiceNames[] = {"register", "methods", "service", "handlers"};

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

static const char **method_names(cpg_gen *g, const cpm_service *svc) {
  name_set used = {0};
  for (size_t i = 0; i < sizeof kServiceNames / sizeof kServiceNames[0]; i++) {
    set_add(&used, kServiceNames[i]);
  }
  const char **names = cpf_xrealloc(NULL, (svc->method_count + 1) * sizeof *names);
  for (size_t i = 0; i < svc->method_count; i++) {
    const char *base = svc->methods[i].name;
    for (;;) {
      bool clash = cpn_is_keyword(base);
      for (size_t k = 0; !clash && k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
        clash = set_has(&used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]));
      }
      if (!clash) break;
      base = cpg_str(g, "%s_", base);
    }
    for (size_t k = 0; k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
      set_add(&used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]));
    }
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

static void gen_method_client(cpg_gen *g, const char *svc, const cpm_method *m, size_t index,
                              const char *fn, const char *req, const char *resp, const char *path) {
  const char *doc = cpg_doc(g, &m->loc, "");
  const char *idx = cpg_str(g, "%zu", index);
  if (!m->client_streaming && !m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_unary", {"doc", doc}, {"path", path}, {"fn", fn},
               {"req", req}, {"resp", resp}, {"svc", svc}, {"index", idx});
    return;
  }
  if (!m->client_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_start_req", {"doc", doc}, {"path", path}, {"fn", fn},
               {"req", req}, {"svc", svc}, {"index", idx});
  } else {
    const char *what = m->server_streaming ? "bidirectional streaming" : "client streaming";
    const char *steps = m->server_streaming
                            ? cpg_str(g, "%s_send and %s_recv in any order, %s_close_send "
                                         "when done sending, %s_finish", fn, fn, fn, fn)
                            : cpg_str(g, "%s_send each request, %s_finish for the response",
                                      fn, fn);
    CPG_RENDER(g, &g->h, "grpc_client_start", {"doc", doc}, {"path", path}, {"fn", fn},
               {"what", what}, {"steps", steps}, {"svc", svc}, {"index", idx});
    CPG_RENDER(g, &g->h, "grpc_client_send", {"fn", fn}, {"req", req});
  }
  if (m->client_streaming && m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_close_send", {"fn", fn});
  }
  if (m->server_streaming) {
    CPG_RENDER(g, &g->h, "grpc_client_recv", {"fn", fn}, {"resp", resp});
    CPG_RENDER(g, &g->h, "grpc_client_finish", {"fn", fn});
  } else {
    CPG_RENDER(g, &g->h, "grpc_client_finish_resp", {"fn", fn}, {"resp", resp});
  }
  if (m->client_streaming) {
    CPG_RENDER(g, &g->h, "grpc_server_recv", {"fn", fn}, {"req", req}, {"path", path});
  }
  CPG_RENDER(g, &g->h, "grpc_server_send", {"fn", fn}, {"resp", resp}, {"path", path},
             {"what", m->server_streaming ? "one response of the stream"
                                          : "the single response (with the status, when the "
                                            "handler returns)"});
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
  cpf_buf members = {0}, rows = {0}, cases = {0};
  for (size_t i = 0; i < s->method_count; i++) {
    const cpm_method *m = &s->methods[i];
    const char *path = cpg_str(g, "/%s/%s", s->full_name, m->name);
    const char *fn = cpg_str(g, "%s_%s", svc, names[i]);
    const char *req = cpn_message(g->names, m->input);
    const char *resp = cpn_message(g->names, m->output);
    const char *member = names[i];
    const char *idx = cpg_str(g, "%zu", i);
    CPG_RENDER(g, &rows, "grpc_method_row", {"path", path}, {"name", m->name},
               {"kind", kind_const(m)}, {"req", req}, {"resp", resp});
    if (!m->client_streaming && !m->server_streaming) {
      CPG_RENDER(g, &members, "grpc_handler_unary", {"path", path}, {"member", member},
                 {"req", req}, {"resp", resp});
      CPG_RENDER(g, &cases, "grpc_case_unary", {"index", idx}, {"member", member}, {"req", req},
                 {"resp", resp});
    } else if (!m->client_streaming) {
      CPG_RENDER(g, &members, "grpc_handler_req", {"path", path}, {"member", member},
                 {"req", req}, {"fn", fn});
      CPG_RENDER(g, &cases, "grpc_case_req", {"index", idx}, {"member", member}, {"req", req});
    } else {
      const char *what = m->server_streaming
                             ? cpg_str(g, "%s_recv_request and %s_send_response", fn, fn)
                             : cpg_str(g, "%s_recv_request until NULL, then %s_send_response "
                                          "once", fn, fn);
      CPG_RENDER(g, &members, "grpc_handler_stream", {"path", path}, {"member", member},
                 {"what", what});
      CPG_RENDER(g, &cases, "grpc_case_stream", {"index", idx}, {"member", member});
    }
  }
  CPG_RENDER(g, &g->h, "grpc_service_decl", {"doc", cpg_doc(g, &s->loc, "")},
             {"full_name", s->full_name}, {"api", g->api}, {"svc", svc}, {"count", count},
             {"members", cpf_buf_str(&members)});
  for (size_t i = 0; i < s->method_count; i++) {
    const cpm_method *m = &s->methods[i];
    gen_method_client(g, svc, m, i, cpg_str(g, "%s_%s", svc, names[i]),
                      cpn_message(g->names, m->input), cpn_message(g->names, m->output),
                      cpg_str(g, "/%s/%s", s->full_name, m->name));
  }
  CPG_RENDER(g, &g->c, "grpc_service_def", {"full_name", s->full_name}, {"svc", svc},
             {"count", count}, {"rows", cpf_buf_str(&rows)}, {"cases", cpf_buf_str(&cases)},
             {"prefix", prefix}, {"file_count", cpg_str(g, "%zu", nfiles)});
  cpf_buf_free(&members);
  cpf_buf_free(&rows);
  cpf_buf_free(&cases);
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
