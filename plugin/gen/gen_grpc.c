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
  cps_buf b = {0};
  for (const char *p = header; *p; p++) {
    char c = (char)toupper((unsigned char)*p);
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
    cps_buf_append(&b, &c, 1);
  }
  cps_buf_puts(&b, "_");
  return cps_pool_take(g->pool, &b);
}

static const char *kind_const(const cps_method *m) {
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
    "__server_deliver", "__client_deliver", "__http"};
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

static void set_add(cpg_gen *g, name_set *s, const char *name) {
  s->items = cps_pool_grow(g->pool, s->items, s->count, &s->cap, sizeof *s->items);
  s->items[s->count++] = name;
}

// The names method `base` takes: its helpers, and its reactor member.
static bool names_free(cpg_gen *g, const name_set *used, const char *base) {
  if (cpg_is_keyword(base) || set_has(used, cpg_str(g, "on_%s", base))) return false;
  for (size_t k = 0; k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
    if (set_has(used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]))) return false;
  }
  return true;
}

static const char **method_names(cpg_gen *g, const cps_service *svc) {
  name_set used = {0};
  for (size_t i = 0; i < sizeof kServiceNames / sizeof kServiceNames[0]; i++) {
    set_add(g, &used, kServiceNames[i]);
  }
  const char **names = cps_pool_alloc(g->pool, (svc->method_count + 1) * sizeof *names);
  for (size_t i = 0; i < svc->method_count; i++) {
    const char *base = svc->methods[i].name;
    while (!names_free(g, &used, base)) base = cpg_str(g, "%s_", base);
    for (size_t k = 0; k < sizeof kHelperSuffixes / sizeof kHelperSuffixes[0]; k++) {
      set_add(g, &used, cpg_str(g, "%s%s", base, kHelperSuffixes[k]));
    }
    set_add(g, &used, cpg_str(g, "on_%s", base));
    names[i] = base;
  }
  return names;
}

// Every file `f` depends on, transitively, each once, `f` first.
typedef struct file_list {
  const cps_file **items;
  size_t count;
  size_t cap;
} file_list;

static void collect_files(cpg_gen *g, file_list *l, const cps_file *f) {
  for (size_t i = 0; i < l->count; i++) {
    if (l->items[i] == f) return;
  }
  l->items = cps_pool_grow(g->pool, l->items, l->count, &l->cap, sizeof *l->items);
  l->items[l->count++] = f;
  for (size_t i = 0; i < f->dep_count; i++) collect_files(g, l, f->deps[i]);
}

static const char *hex_rows(cpg_gen *g, const uint8_t *data, size_t size) {
  cps_buf b = {0};
  for (size_t i = 0; i < size; i++) {
    if (i % 16 == 0) cps_buf_puts(&b, "   ");
    cps_buf_printf(&b, " 0x%02x,", data[i]);
    if (i % 16 == 15 || i + 1 == size) cps_buf_puts(&b, "\n");
  }
  return cps_pool_take(g->pool, &b);
}

static size_t gen_descriptors(cpg_gen *g, const char *prefix) {
  file_list files = {0};
  collect_files(g, &files, g->file);
  for (size_t i = 0; i < files.count; i++) {
    const cps_file *f = files.items[i];
    if (f->descriptor_size == 0) {
      g->bug = g->bug ? g->bug : cpg_str(g, "no descriptor for %s", f->name);
      continue;
    }
    cpg_print(g, &g->c,
              "// $name$ (serialized FileDescriptorProto, for server reflection).\n"
              "static const uint8_t $prefix$__grpc_file_$i$[$size$] = {\n"
              "$bytes$"
              "};\n"
              "\n",
              "name", f->name, "prefix", prefix, "i", cpg_str(g, "%zu", i), "size",
              cpg_str(g, "%zu", f->descriptor_size), "bytes",
              hex_rows(g, f->descriptor, f->descriptor_size), CPG_END);
  }
  cpg_print(g, &g->c,
            "// $source$ and its imports, for server reflection.\n"
            "static const cpay_file_descriptor $prefix$__grpc_files[$count$] = {\n",
            "source", g->file->name, "prefix", prefix, "count", cpg_str(g, "%zu", files.count),
            CPG_END);
  for (size_t i = 0; i < files.count; i++) {
    const cps_file *f = files.items[i];
    if (f->descriptor_size == 0) continue;
    cpg_print(g, &g->c, "    {\"$name$\", $prefix$__grpc_file_$i$, $size$},\n", "name", f->name,
              "prefix", prefix, "i", cpg_str(g, "%zu", i), "size",
              cpg_str(g, "%zu", f->descriptor_size), CPG_END);
  }
  cpg_print(g, &g->c, "};\n\n", CPG_END);
  return files.count;
}

// One method's names, types and the words of its comments.
typedef struct method_ctx {
  const cps_method *m;
  const char *svc;     // the service's C prefix
  const char *member;  // the method's member in the handler tables
  const char *fn;      // svc_Method: the prefix of every helper
  const char *req;     // C type names
  const char *resp;
  const char *path;    // "/pkg.Service/Method"
  const char *index;   // in the methods table
  // The blocking handler's extra parameters, its arguments in the dispatch
  // function, and what it does; the same for the reactor handler (on_).
  const char *params, *blocking_args, *what;
  const char *on_params, *reactor_args, *on_what;
} method_ctx;

// Fills the handler words of `x` according to the method's call mode.
static void handler_words(cpg_gen *g, method_ctx *x) {
  const cps_method *m = x->m;
  const char *req_cast = cpg_str(g, "(const %s *)req", x->req);
  const char *resp_cast = cpg_str(g, "(%s *)resp", x->resp);
  if (!m->client_streaming && !m->server_streaming) {
    x->params = x->on_params = cpg_str(g, ", const %s *req,\n      %s *resp", x->req, x->resp);
    x->blocking_args = x->reactor_args = cpg_str(g, ", %s, %s", req_cast, resp_cast);
    x->what = "fill `resp` (allocated on the call's arena)";
    x->on_what = "fill `resp`, then finish";
  } else if (!m->client_streaming) {
    x->params = x->on_params = cpg_str(g, ", const %s *req", x->req);
    x->blocking_args = x->reactor_args = cpg_str(g, ", %s", req_cast);
    x->what = cpg_str(g, "send with %s_send_response", x->fn);
    x->on_what = cpg_str(g, "write with %s_write_response, then finish", x->fn);
  } else {
    x->params = "";
    x->blocking_args = "";
    x->what = m->server_streaming
                  ? cpg_str(g, "%s_recv_request and %s_send_response", x->fn, x->fn)
                  : cpg_str(g, "%s_recv_request until NULL, then %s_send_response once", x->fn,
                            x->fn);
    if (m->server_streaming) {
      x->on_params = x->reactor_args = "";
      x->on_what = cpg_str(g, "%s_read_request and %s_write_response, then finish", x->fn, x->fn);
    } else {
      x->on_params = cpg_str(g, ", %s *resp", x->resp);
      x->reactor_args = cpg_str(g, ", %s", resp_cast);
      x->on_what = cpg_str(g, "%s_read_request until NULL, fill `resp`, then finish", x->fn);
    }
  }
}

// The blocking client stub of a call that starts with one request (unary or
// server streaming) or none (client and bidirectional streaming), and its
// send and close helpers.
static void client_start(cpg_gen *g, const method_ctx *x) {
  const cps_method *m = x->m;
  const char *doc = cpg_doc(g, &m->loc, "");
  if (!m->client_streaming && !m->server_streaming) {
    cpg_print(g, &g->h,
              "$doc$// $path$ (unary): blocks until the response or the\n"
              "// status; *resp is allocated on `arena`.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$(\n"
              "    cpay_channel *ch, const cpay_call_opts *opts, const $req$ *req,\n"
              "    cpay_arena *arena, $resp$ **resp, cpay_status *st) {\n"
              "  void *out = NULL;\n"
              "  cpay_code code = cpay_unary_call(ch, &$svc$_methods[$index$], opts, req, arena, "
              "&out, st);\n"
              "  *resp = ($resp$ *)out;\n"
              "  return code;\n"
              "}\n"
              "\n",
              "doc", doc, "path", x->path, "fn", x->fn, "req", x->req, "resp", x->resp, "svc",
              x->svc, "index", x->index, CPG_END);
  } else if (!m->client_streaming) {
    cpg_print(g, &g->h,
              "$doc$// $path$ (server streaming): sends `req` and\n"
              "// returns the call; read it with $fn$_recv\n"
              "// until the message is NULL, then $fn$_finish\n"
              "// and cpay_call_free.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$(\n"
              "    cpay_channel *ch, const cpay_call_opts *opts, const $req$ *req,\n"
              "    cpay_call **call, cpay_status *st) {\n"
              "  return cpay_call_start(ch, &$svc$_methods[$index$], opts, req, call, st);\n"
              "}\n"
              "\n",
              "doc", doc, "path", x->path, "fn", x->fn, "req", x->req, "svc", x->svc, "index",
              x->index, CPG_END);
  } else {
    const char *fn = x->fn;
    cpg_print(g, &g->h,
              "$doc$// $path$ ($what$): starts the call;\n"
              "// $steps$;\n"
              "// then cpay_call_free.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$(\n"
              "    cpay_channel *ch, const cpay_call_opts *opts, cpay_call **call, "
              "cpay_status *st) {\n"
              "  return cpay_call_start(ch, &$svc$_methods[$index$], opts, NULL, call, st);\n"
              "}\n"
              "\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_send(\n"
              "    cpay_call *call, const $req$ *msg, cpay_status *st) {\n"
              "  return cpay_call_send(call, msg, st);\n"
              "}\n"
              "\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_close_send(cpay_call *call, "
              "cpay_status *st) {\n"
              "  return cpay_call_close_send(call, st);\n"
              "}\n"
              "\n",
              "doc", doc, "path", x->path, "fn", fn, "req", x->req, "what",
              m->server_streaming ? "bidirectional streaming" : "client streaming", "steps",
              m->server_streaming
                  ? cpg_str(g, "%s_send and %s_recv in any order, %s_close_send "
                               "when done sending, %s_finish", fn, fn, fn, fn)
                  : cpg_str(g, "%s_send each request, %s_finish for the response", fn, fn),
              "svc", x->svc, "index", x->index, CPG_END);
  }
}

// The blocking client helpers that end a streaming call.
static void client_finish(cpg_gen *g, const method_ctx *x) {
  if (x->m->server_streaming) {
    cpg_print(g, &g->h,
              "// *msg is NULL at the end of the stream.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_recv(\n"
              "    cpay_call *call, cpay_arena *arena, $resp$ **msg, cpay_status *st) {\n"
              "  void *out = NULL;\n"
              "  cpay_code code = cpay_call_recv(call, arena, &out, st);\n"
              "  *msg = ($resp$ *)out;\n"
              "  return code;\n"
              "}\n"
              "\n"
              "// Waits for the status.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_finish(cpay_call *call, "
              "cpay_status *st) {\n"
              "  return cpay_call_finish(call, NULL, NULL, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, "resp", x->resp, CPG_END);
  } else if (x->m->client_streaming) {
    cpg_print(g, &g->h,
              "// Half-closes, receives the response onto `arena` and waits for the status.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_finish(\n"
              "    cpay_call *call, cpay_arena *arena, $resp$ **resp, cpay_status *st) {\n"
              "  void *out = NULL;\n"
              "  cpay_code code = cpay_call_finish(call, arena, &out, st);\n"
              "  *resp = ($resp$ *)out;\n"
              "  return code;\n"
              "}\n"
              "\n",
              "fn", x->fn, "resp", x->resp, CPG_END);
  }
}

// The asynchronous client: the typed reactor, the start function, reads
// and writes.
static void client_async(cpg_gen *g, const method_ctx *x) {
  const cps_method *m = x->m;
  bool one_req = !m->client_streaming;
  cpg_print(g, &g->h,
            "// $path$, asynchronously: the callbacks of a call (a\n"
            "// cpay_call_reactor with a typed on_message). They run on the channel's\n"
            "// loop and must not block.\n"
            "typedef struct $fn$_client_reactor {\n"
            "  // $on_message$\n"
            "  void (*on_message)(void *state, cpay_call *call, $resp$ *msg);\n"
            "  void (*on_metadata)(void *state, cpay_call *call, const cpay_md *md, size_t count);\n"
            "  void (*on_ready)(void *state, cpay_call *call);\n"
            "  void (*on_done)(void *state, cpay_call *call, const cpay_rpc_result *result);\n"
            "} $fn$_client_reactor;\n"
            "\n"
            "// Starts $path$ asynchronously: returns at once,\n"
            "// events go to `r` (copied) and `state`. With `call`, *call is a reference\n"
            "// to keep until cpay_call_free (which cancels the call if it is still running).\n"
            "static inline CPAY_NODISCARD cpay_code $fn$_async(\n"
            "    cpay_channel *ch, const cpay_call_opts *opts,$req_param$\n"
            "    const $fn$_client_reactor *r, void *state, cpay_call **call, cpay_status *st) {\n"
            "  const cpay_call_reactor cr = {(cpay_fn *)r->on_message, r->on_metadata, "
            "r->on_ready, r->on_done};\n"
            "  return cpay_call_start_async(ch, &$svc$_methods[$index$], opts, $req_arg$, &cr, "
            "state, call, st);\n"
            "}\n"
            "\n",
            "path", x->path, "fn", x->fn, "resp", x->resp, "on_message",
            m->server_streaming
                ? cpg_str(g, "Each response after %s_read; NULL at the end of the stream.", x->fn)
                : "The response, before on_done (when the status is OK).",
            "req_param", one_req ? cpg_str(g, " const %s *req,", x->req) : "", "req_arg",
            one_req ? "req" : "NULL", "svc", x->svc, "index", x->index, CPG_END);
  if (m->server_streaming) {
    cpg_print(g, &g->h,
              "// Asynchronous: asks for the next response onto `arena` (NULL: the call's);\n"
              "// on_message gets it.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_read(\n"
              "    cpay_call *call, cpay_arena *arena, cpay_status *st) {\n"
              "  return cpay_call_read(call, arena, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, CPG_END);
  }
  if (m->client_streaming) {
    cpg_print(g, &g->h,
              "// Asynchronous: queues a request; CPAY_ERR_WOULD_BLOCK when the send queue\n"
              "// is full (on_ready follows when there is room).\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_write(\n"
              "    cpay_call *call, const $req$ *msg, cpay_status *st) {\n"
              "  return cpay_call_write(call, msg, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, "req", x->req, CPG_END);
  }
}

// The server-side helpers of one method: blocking recv and send, the typed
// reactor, its reads and writes.
static void gen_method_server(cpg_gen *g, const method_ctx *x) {
  const cps_method *m = x->m;
  if (m->client_streaming) {
    cpg_print(g, &g->h,
              "// Server side of $path$: the next request onto\n"
              "// `arena`; *req is NULL once the client has half-closed.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_recv_request(\n"
              "    cpay_server_call *call, cpay_arena *arena, $req$ **req, cpay_status *st) {\n"
              "  void *out = NULL;\n"
              "  cpay_code code = cpay_server_call_recv(call, arena, &out, st);\n"
              "  *req = ($req$ *)out;\n"
              "  return code;\n"
              "}\n"
              "\n",
              "fn", x->fn, "req", x->req, "path", x->path, CPG_END);
  }
  if (m->client_streaming || m->server_streaming) {
    cpg_print(g, &g->h,
              "// Server side of $path$:\n"
              "// sends $what$.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_send_response(\n"
              "    cpay_server_call *call, const $resp$ *msg, cpay_status *st) {\n"
              "  return cpay_server_call_send(call, msg, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, "resp", x->resp, "path", x->path, "what",
              m->server_streaming
                  ? "one response of the stream"
                  : "the single response (with the status, when the handler returns)",
              CPG_END);
  }
  cpg_print(g, &g->h,
            "// $path$, served by a reactor: the events of a call (a\n"
            "// cpay_server_reactor with a typed on_message). They run on the server's\n"
            "// event threads, one at a time, and must not block.\n"
            "typedef struct $fn$_reactor {\n"
            "  // $on_message$\n"
            "  void (*on_message)(void *state, cpay_server_call *call, $req$ *msg);\n"
            "  void (*on_ready)(void *state, cpay_server_call *call);\n"
            "  void (*on_cancel)(void *state, cpay_server_call *call);\n"
            "  void (*on_done)(void *state, cpay_server_call *call);\n"
            "} $fn$_reactor;\n"
            "\n"
            "// Sets the call's reactor (copied) and `state`.\n"
            "static inline void $fn$_react(\n"
            "    cpay_server_call *call, const $fn$_reactor *r, void *state) {\n"
            "  const cpay_server_reactor sr = {(cpay_fn *)r->on_message, r->on_ready, "
            "r->on_cancel, r->on_done};\n"
            "  cpay_server_call_react(call, &sr, state);\n"
            "}\n"
            "\n",
            "path", x->path, "fn", x->fn, "req", x->req, "on_message",
            m->client_streaming
                ? cpg_str(g, "Each request after %s_read_request; NULL once the client "
                             "half-closed.", x->fn)
                : "Unused: the request comes with the start handler.",
            CPG_END);
  if (m->client_streaming) {
    cpg_print(g, &g->h,
              "// Reactor side of $path$: asks for the next request onto `arena`\n"
              "// (NULL: the call's); on_message gets it, NULL once the client half-closed.\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_read_request(\n"
              "    cpay_server_call *call, cpay_arena *arena, cpay_status *st) {\n"
              "  return cpay_server_call_read(call, arena, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, "path", x->path, CPG_END);
  }
  if (m->server_streaming) {
    cpg_print(g, &g->h,
              "// Reactor side of $path$: queues a response, from any thread;\n"
              "// CPAY_ERR_WOULD_BLOCK when the send queue is full (on_ready follows when\n"
              "// there is room).\n"
              "static inline CPAY_NODISCARD cpay_code $fn$_write_response(\n"
              "    cpay_server_call *call, const $resp$ *msg, cpay_status *st) {\n"
              "  return cpay_server_call_write(call, msg, st);\n"
              "}\n"
              "\n",
              "fn", x->fn, "resp", x->resp, "path", x->path, CPG_END);
  }
}

// The header part of a service: its tables, the handler table, register.
static void service_decl(cpg_gen *g, const cps_service *s, const char *svc, const method_ctx *xs) {
  const char *count = cpg_str(g, "%zu", s->method_count);
  cpg_print(g, &g->h,
            "$doc$// ---- service $full_name$ ----\n"
            "\n"
            "// The methods, in declaration order, and the service for cpay_server_add_service.\n"
            "$api$extern const cpay_method $svc$_methods[$count$];\n"
            "$api$extern const cpay_service_desc $svc$_service;\n"
            "\n"
            "// The server skeleton. Set, per method, one of two handlers, or neither\n"
            "// (the method then answers UNIMPLEMENTED):\n"
            "// - <Method>, blocking: runs on the server's worker pool and returns\n"
            "//   CPAY_OK, or sets a status with cpay_server_call_set_status;\n"
            "// - on_<Method>, a reactor: starts on an event thread, must not block, and\n"
            "//   ends the call with cpay_server_call_finish (or _fail), now or later,\n"
            "//   from any thread.\n"
            "typedef struct $svc$_handlers {\n",
            "doc", cpg_doc(g, &s->loc, ""), "full_name", s->full_name, "api", g->api, "svc", svc,
            "count", count, CPG_END);
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->h,
              "  // $path$:\n"
              "  // $what$.\n"
              "  cpay_code (*$member$)(void *ctx, cpay_server_call *call$params$);\n",
              "path", xs[i].path, "what", xs[i].what, "member", xs[i].member, "params",
              xs[i].params, CPG_END);
  }
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->h,
              "  // $path$ as a reactor:\n"
              "  // $what$.\n"
              "  void (*on_$member$)(void *ctx, cpay_server_call *call$params$);\n",
              "path", xs[i].path, "what", xs[i].on_what, "member", xs[i].member, "params",
              xs[i].on_params, CPG_END);
  }
  cpg_print(g, &g->h,
            "} $svc$_handlers;\n"
            "\n"
            "// Registers $full_name$ on `srv` (before cpay_server_start). The table is\n"
            "// copied; `ctx` is passed to every handler. CPAY_ERR_INVALID_ARGUMENT when a\n"
            "// method has both handlers (cpay_server_add_service with &$svc$_service\n"
            "// says which).\n"
            "$api$CPAY_NODISCARD cpay_code $svc$_register(\n"
            "    cpay_server *srv, const $svc$_handlers *h, void *ctx);\n"
            "\n",
            "svc", svc, "full_name", s->full_name, "api", g->api, CPG_END);
}

static const char *c_string_or_null(cpg_gen *g, const char *s) {
  return s ? cpg_c_string(g, s, strlen(s)) : "NULL";
}

// The HTTP bindings of a method as a static array of cpay_http_rule; returns
// the method table's last four members, which point at it.
static const char *route_table(cpg_gen *g, const method_ctx *x) {
  const cps_http_rule **rules;
  size_t n = cpg_http_bindings(g, x->m, &rules);
  cpg_print(g, &g->c,
            "// $path$ over HTTP: $what$.\n"
            "static const cpay_http_rule $fn$__http[$n$] = {\n",
            "path", x->path, "what",
            x->m->http ? "its google.api.http bindings" : "the default binding", "fn", x->fn, "n",
            cpg_str(g, "%zu", n), CPG_END);
  for (size_t i = 0; i < n; i++) {
    const cps_http_rule *r = rules[i];
    cpg_print(g, &g->c, "    {$verb$, $tpl$, $body$, $response_body$},\n", "verb",
              c_string_or_null(g, r->verb), "tpl", c_string_or_null(g, r->path), "body",
              c_string_or_null(g, r->body), "response_body", c_string_or_null(g, r->response_body),
              CPG_END);
  }
  cpg_print(g, &g->c, "};\n\n", CPG_END);
  return cpg_str(g, "&%s_desc, &%s_desc, %s__http, %zu", x->req, x->resp, x->fn, n);
}

// The source part of a service: the typed deliver functions, the methods
// table, the handler-style and dispatch functions, the service, register.
static void service_def(cpg_gen *g, const cps_service *s, const char *svc, const method_ctx *xs,
                        const char *prefix, size_t nfiles) {
  const char *count = cpg_str(g, "%zu", s->method_count);
  cpg_print(g, &g->c, "// ---- service $full_name$ ----\n\n", "full_name", s->full_name, CPG_END);
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->c,
              "// $path$: the typed on_message callbacks of its reactors.\n"
              "static void $fn$__server_deliver(cpay_fn *fn, void *state, cpay_server_call *call, "
              "void *msg) {\n"
              "  ((void (*)(void *, cpay_server_call *, $req$ *))fn)(state, call, ($req$ *)msg);\n"
              "}\n"
              "\n"
              "static void $fn$__client_deliver(cpay_fn *fn, void *state, cpay_call *call, "
              "void *msg) {\n"
              "  ((void (*)(void *, cpay_call *, $resp$ *))fn)(state, call, ($resp$ *)msg);\n"
              "}\n"
              "\n",
              "path", xs[i].path, "fn", xs[i].fn, "req", xs[i].req, "resp", xs[i].resp, CPG_END);
  }
  const char **http = cps_pool_alloc(g->pool, (s->method_count + 1) * sizeof *http);
  for (size_t i = 0; i < s->method_count; i++) {
    http[i] = g->opts->binary_only ? "NULL, NULL, NULL, 0" : route_table(g, &xs[i]);
  }
  cpg_print(g, &g->c, "const cpay_method $svc$_methods[$count$] = {\n", "svc", svc, "count",
            count, CPG_END);
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->c,
              "    {\"$path$\", \"$name$\", $kind$, &$req$_table, &$resp$_table,\n"
              "     $fn$__server_deliver, $fn$__client_deliver,\n"
              "     $http$},\n",
              "path", xs[i].path, "name", xs[i].m->name, "kind", kind_const(xs[i].m), "req",
              xs[i].req, "resp", xs[i].resp, "fn", xs[i].fn, "http", http[i], CPG_END);
  }
  cpg_print(g, &g->c,
            "};\n"
            "\n"
            "static cpay_handler_style $svc$__style(const void *handlers, size_t index) {\n"
            "  const $svc$_handlers *h = (const $svc$_handlers *)handlers;\n"
            "  switch (index) {\n",
            "svc", svc, CPG_END);
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->c,
              "    case $index$:\n"
              "      return (cpay_handler_style)(\n"
              "          (h->$member$ != NULL ? CPAY_HANDLER_BLOCKING : 0) |\n"
              "          (h->on_$member$ != NULL ? CPAY_HANDLER_REACTOR : 0));\n",
              "index", xs[i].index, "member", xs[i].member, CPG_END);
  }
  cpg_print(g, &g->c,
            "    default:\n"
            "      return CPAY_HANDLER_NONE;\n"
            "  }\n"
            "}\n"
            "\n"
            "static cpay_code $svc$__dispatch(\n"
            "    const void *handlers, size_t index, void *ctx, cpay_server_call *call,\n"
            "    const void *req, void *resp) {\n"
            "  const $svc$_handlers *h = (const $svc$_handlers *)handlers;\n"
            "  (void)req;\n"
            "  (void)resp;\n"
            "  switch (index) {\n",
            "svc", svc, CPG_END);
  for (size_t i = 0; i < s->method_count; i++) {
    cpg_print(g, &g->c,
              "    case $index$:\n"
              "      if (h->$member$ != NULL) {\n"
              "        return h->$member$(ctx, call$blocking_args$);\n"
              "      }\n"
              "      if (h->on_$member$ != NULL) {\n"
              "        h->on_$member$(ctx, call$reactor_args$);\n"
              "        return CPAY_OK;\n"
              "      }\n"
              "      break;\n",
              "index", xs[i].index, "member", xs[i].member, "blocking_args", xs[i].blocking_args,
              "reactor_args", xs[i].reactor_args, CPG_END);
  }
  cpg_print(g, &g->c,
            "    default:\n"
            "      break;\n"
            "  }\n"
            "  const char *path = index < $count$ ? $svc$_methods[index].path : \"method\";\n"
            "  return cpay_server_call_set_status(\n"
            "      call, CPAY_GRPC_UNIMPLEMENTED, \"%s is not implemented\", path);\n"
            "}\n"
            "\n"
            "const cpay_service_desc $svc$_service = {\n"
            "    \"$full_name$\", $svc$_methods, $count$, $svc$__dispatch, $prefix$__grpc_files, "
            "$file_count$,\n"
            "    $svc$__style,\n"
            "};\n"
            "\n"
            "cpay_code $svc$_register(cpay_server *srv, const $svc$_handlers *h, void *ctx) {\n"
            "  return cpay_server_add_service(srv, &$svc$_service, h, sizeof *h, ctx, NULL);\n"
            "}\n"
            "\n",
            "svc", svc, "count", count, "full_name", s->full_name, "prefix", prefix,
            "file_count", cpg_str(g, "%zu", nfiles), CPG_END);
}

static void gen_service(cpg_gen *g, const cps_service *s, const char *prefix, size_t nfiles) {
  const char *full = cpg_str(g, "%s%s%s", g->file->package, *g->file->package ? "." : "", s->name);
  // Dots to underscores, as messages are named.
  char *svc = cps_pool_strdup(g->pool, full);
  for (char *p = svc; *p; p++) {
    if (*p == '.') *p = '_';
  }
  const char **names = method_names(g, s);
  method_ctx *xs = cps_pool_alloc(g->pool, (s->method_count + 1) * sizeof *xs);
  for (size_t i = 0; i < s->method_count; i++) {
    const cps_method *m = &s->methods[i];
    xs[i] = (method_ctx){.m = m,
                         .svc = svc,
                         .member = names[i],
                         .fn = cpg_str(g, "%s_%s", svc, names[i]),
                         .req = cpg_name_message(g->names, m->input),
                         .resp = cpg_name_message(g->names, m->output),
                         .path = cpg_str(g, "/%s/%s", s->full_name, m->name),
                         .index = cpg_str(g, "%zu", i)};
    handler_words(g, &xs[i]);
  }
  service_decl(g, s, svc, xs);
  for (size_t i = 0; i < s->method_count; i++) {
    client_start(g, &xs[i]);
    client_finish(g, &xs[i]);
    client_async(g, &xs[i]);
    gen_method_server(g, &xs[i]);
  }
  service_def(g, s, svc, xs, prefix, nfiles);
}

void cpg_gen_grpc(cpg_gen *g) {
  const cps_file *f = g->file;
  const char *header = strip_proto(g, f->name, ".cpay_grpc.h");
  const char *guard = guard_of(g, header);
  const char *prefix = cpg_name_file_prefix(g->names, f);
  cpg_print(g, &g->h,
            "// Generated by protoc-gen-cpay $version$ from $source$. DO NOT EDIT.\n"
            "// gRPC: method tables, typed client stubs and server skeletons (libcpay-grpc).\n"
            "#ifndef $guard$\n"
            "#define $guard$\n"
            "\n"
            "#include \"cpay/grpc.h\"\n"
            "#include \"$msg_header$\"\n",
            "version", CPAY_VERSION_STRING, "source", f->name, "guard", guard, "msg_header",
            strip_proto(g, f->name, ".cpay.h"), CPG_END);
  cpg_print_header_open(g);
  const char *slash = strrchr(header, '/');
  cpg_print(g, &g->c,
            "// Generated by protoc-gen-cpay $version$ from $source$. DO NOT EDIT.\n"
            "#include \"$header$\"\n"
            "\n"
            "#include <stddef.h>\n"
            "#include <stdint.h>\n"
            "\n",
            "version", CPAY_VERSION_STRING, "source", f->name, "header",
            slash ? slash + 1 : header, CPG_END);
  size_t nfiles = gen_descriptors(g, prefix);
  for (size_t i = 0; i < f->service_count; i++) gen_service(g, &f->services[i], prefix, nfiles);
  cpg_print(g, &g->h,
            "CPAY_EXTERN_C_END\n"
            "\n"
            "#endif  // $guard$\n",
            "guard", guard, CPG_END);
}
