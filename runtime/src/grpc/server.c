// Server side: a grpc_server whose calls are taken by a pool of worker
// threads. The server keeps `workers` pending call requests per method
// ("slots"), all notified on one shared CQ_NEXT queue that every idle worker
// waits on, so a new call goes to whichever worker is free. Unary and
// server-streaming methods are registered with C-core to deliver the
// request message with the call (one round trip less); the others, and
// unknown methods, come through generic requests. Each slot owns the
// CQ_PLUCK queue its call's operations complete on, so a handler blocks only
// its own worker.
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/slice.h>

#include "cpay/gencode.h"
#include "grpc/internal.h"

#define DEFAULT_WORKERS 16

typedef struct svc_entry {
  const cpay_service_desc *desc;
  void *handlers;  // a copy of the caller's table
  void *ctx;
} svc_entry;

typedef struct method_entry {
  const cpay_method *method;
  size_t svc;    // index into svcs
  size_t index;  // index into the service's methods
  size_t path_len;
} method_entry;

typedef struct interceptor {
  cpay_server_interceptor_fn *fn;
  void *ctx;
} interceptor;

// One pending request for a call: of a registered method (`me` set) or
// generic (`me` NULL).
typedef struct slot {
  const method_entry *me;
  void *reg;                  // C-core's registered method
  grpc_completion_queue *cq;  // CQ_PLUCK the call is bound to
  grpc_call *call;
  gpr_timespec deadline;      // registered calls
  grpc_call_details details;  // generic calls
  grpc_metadata_array md;
  grpc_byte_buffer *payload;  // the request, for methods registered with it
} slot;

typedef struct worker {
  cpay_server *srv;
  pthread_t thread;
  cpay_arena *arena;    // the call's arena, reset after each call
  cpay_arena *scratch;  // encoding of streamed responses, reset after each
} worker;

struct cpay_server {
  grpc_server *server;
  cpay_server_opts opts;
  svc_entry *svcs;
  size_t svc_count;
  method_entry *methods;
  size_t method_count;
  interceptor *icpts;
  size_t icpt_count;
  worker *workers;
  int worker_count;
  grpc_completion_queue *shutdown_cq;
  grpc_completion_queue *cq;  // shared notifications of new calls
  slot *slots;
  size_t slot_count;
  pthread_mutex_t req_mu;  // orders re-requests against shutdown
  bool no_requests;
  cpay__health *health;
  bool started;
  bool stopped;
  atomic_bool shutting_down;
  pthread_mutex_t mu;
};

struct cpay_server_call {
  cpay_server *srv;
  worker *w;
  grpc_completion_queue *cq;  // the slot's CQ_PLUCK
  grpc_call *call;
  gpr_timespec deadline;
  grpc_slice path;
  const cpay_method *method;  // NULL for an unknown method
  grpc_metadata_array *req_md;
  grpc_byte_buffer *payload;  // the request, when delivered with the call
  cpay_md *md;
  size_t md_count;
  char *peer;
  cpay_arena *arena;
  cpay__md_out init_md;
  cpay__md_out trail_md;
  bool init_sent;
  bool status_set;
  cpay_grpc_code code;
  char msg[CPAY_STATUS_MSG_SIZE];
  bool close_done;
  int cancelled;
  int responses_sent;
  bool me_registered;  // the request came (or not) with the call
  grpc_byte_buffer *pending;  // the response of a client-streaming call
  int tag_op;
  int tag_close;
};

bool cpay__server_shutting_down(const cpay_server *srv) {
  return atomic_load(&((cpay_server *)srv)->shutting_down);
}

size_t cpay__server_service_count(const cpay_server *srv) { return srv->svc_count; }

const cpay_service_desc *cpay__server_service(const cpay_server *srv, size_t i) {
  return srv->svcs[i].desc;
}

cpay_server *cpay_server_new(const cpay_server_opts *opts, cpay_status *st) {
  static const cpay_server_opts kDefaults;
  if (!opts) opts = &kDefaults;
  if (opts->workers < 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: workers must not be negative");
    return NULL;
  }
  cpay_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a server");
    return NULL;
  }
  srv->opts = *opts;
  if (!srv->opts.workers) srv->opts.workers = DEFAULT_WORKERS;
  if (!srv->opts.max_call_memory) srv->opts.max_call_memory = CPAY_SERVER_DEFAULT_CALL_MEMORY;
  pthread_mutex_init(&srv->mu, NULL);
  pthread_mutex_init(&srv->req_mu, NULL);
  grpc_arg args[10];
  size_t n = 0;
  if (opts->max_streams_per_connection > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONCURRENT_STREAMS, {.integer = opts->max_streams_per_connection}};
  }
  if (opts->max_recv_size) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = opts->max_recv_size}};
  }
  if (opts->max_send_size) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = opts->max_send_size}};
  }
  if (opts->max_metadata_size > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_METADATA_SIZE, {.integer = opts->max_metadata_size}};
  }
  if (opts->keepalive_time_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = opts->keepalive_time_ms}};
  }
  if (opts->keepalive_timeout_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = opts->keepalive_timeout_ms}};
  }
  if (opts->keepalive_min_ping_interval_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, {.integer = opts->keepalive_min_ping_interval_ms}};
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}};
  }
  grpc_channel_args cargs = {n, args};
  cpay__grpc_ref();
  srv->server = grpc_server_create(&cargs, NULL);
  srv->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->shutdown_cq, NULL);
  return srv;
}

static cpay_code not_started(cpay_server *srv, const char *what, cpay_status *st) {
  if (!srv->started) return CPAY_OK;
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: %s after cpay_server_start", what);
}

cpay_code cpay_server_listen(cpay_server *srv, const char *addr, const cpay_server_tls_opts *tls,
                             int *port, cpay_status *st) {
  cpay_code c = not_started(srv, "listen", st);
  if (c != CPAY_OK) return c;
  grpc_server_credentials *creds;
  if (tls) {
    if (!tls->cert_chain || !tls->private_key) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "server tls: cert_chain and private_key are required");
    }
    grpc_ssl_pem_key_cert_pair pair = {tls->private_key, tls->cert_chain};
    grpc_ssl_client_certificate_request_type req =
        tls->require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
        : tls->client_root_certs ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                                 : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    creds = grpc_ssl_server_credentials_create_ex(tls->client_root_certs, &pair, 1, req, NULL);
  } else {
    creds = grpc_insecure_server_credentials_create();
  }
  int bound = grpc_server_add_http2_port(srv->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (bound <= 0) return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: cannot listen on %s", addr);
  if (port) *port = bound;
  return CPAY_OK;
}

cpay_code cpay_server_add_service(cpay_server *srv, const cpay_service_desc *svc,
                                  const void *handlers, size_t handlers_size, void *ctx,
                                  cpay_status *st) {
  cpay_code c = not_started(srv, "add_service", st);
  if (c != CPAY_OK) return c;
  for (size_t i = 0; i < srv->svc_count; i++) {
    if (strcmp(srv->svcs[i].desc->full_name, svc->full_name) == 0) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: service %s registered twice",
                             svc->full_name);
    }
  }
  svc_entry *svcs = realloc(srv->svcs, (srv->svc_count + 1) * sizeof *svcs);
  if (!svcs) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  srv->svcs = svcs;
  method_entry *ms = realloc(srv->methods, (srv->method_count + svc->method_count) * sizeof *ms);
  if (!ms) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  srv->methods = ms;
  void *copy = malloc(handlers_size ? handlers_size : 1);
  if (!copy) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  memcpy(copy, handlers, handlers_size);
  svcs[srv->svc_count] = (svc_entry){svc, copy, ctx};
  for (size_t i = 0; i < svc->method_count; i++) {
    ms[srv->method_count++] = (method_entry){&svc->methods[i], srv->svc_count, i,
                                             strlen(svc->methods[i].path)};
  }
  srv->svc_count++;
  return CPAY_OK;
}

cpay_code cpay_server_add_interceptor(cpay_server *srv, cpay_server_interceptor_fn *fn, void *ctx,
                                      cpay_status *st) {
  cpay_code c = not_started(srv, "add_interceptor", st);
  if (c != CPAY_OK) return c;
  interceptor *is = realloc(srv->icpts, (srv->icpt_count + 1) * sizeof *is);
  if (!is) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  srv->icpts = is;
  is[srv->icpt_count++] = (interceptor){fn, ctx};
  return CPAY_OK;
}

// ---- one call --------------------------------------------------------------

static bool run_batch(cpay_server_call *sc, const grpc_op *ops, size_t n) {
  if (grpc_call_start_batch(sc->call, ops, n, &sc->tag_op, NULL) != GRPC_CALL_OK) return false;
  grpc_event ev = grpc_completion_queue_pluck(sc->cq, &sc->tag_op,
                                              gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static grpc_op initial_md_op(cpay_server_call *sc) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  op.data.send_initial_metadata.count = sc->init_md.count;
  op.data.send_initial_metadata.metadata = sc->init_md.items;
  sc->init_sent = true;
  return op;
}

cpay_code cpay_server_call_set_status(cpay_server_call *sc, cpay_grpc_code code, const char *fmt,
                                      ...) {
  if (!sc->status_set) {
    sc->status_set = true;
    sc->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->msg, sizeof sc->msg, fmt, ap);
    va_end(ap);
  }
  return cpay_grpc_code_to_cpay(code);
}

const cpay_method *cpay_server_call_method(const cpay_server_call *sc) { return sc->method; }

const char *cpay_server_call_peer(cpay_server_call *sc) {
  if (!sc->peer) sc->peer = grpc_call_get_peer(sc->call);
  return sc->peer;
}

const cpay_md *cpay_server_call_metadata(const cpay_server_call *sc, size_t *count) {
  *count = sc->md_count;
  return sc->md;
}

cpay_str cpay_server_call_metadata_get(const cpay_server_call *sc, const char *key) {
  return cpay_md_get(sc->md, sc->md_count, key);
}

int64_t cpay_server_call_time_left_ms(const cpay_server_call *sc) {
  gpr_timespec d = sc->deadline;
  if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0) return -1;
  gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
  int64_t ms = gpr_time_to_millis(left);
  return ms < 0 ? 0 : ms;
}

bool cpay_server_call_is_cancelled(cpay_server_call *sc) {
  if (!sc->close_done) {
    grpc_event ev = grpc_completion_queue_pluck(sc->cq, &sc->tag_close,
                                                gpr_inf_past(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE) sc->close_done = true;
  }
  return sc->close_done && sc->cancelled;
}

cpay_arena *cpay_server_call_arena(cpay_server_call *sc) { return sc->arena; }

cpay_code cpay_server_call_add_initial_metadata(cpay_server_call *sc, const char *key,
                                                cpay_str value) {
  if (sc->init_sent) return CPAY_ERR_INVALID_ARGUMENT;
  return cpay__md_out_add(&sc->init_md, cpay_str_from_c(key), value, NULL);
}

cpay_code cpay_server_call_add_trailing_metadata(cpay_server_call *sc, const char *key,
                                                 cpay_str value) {
  return cpay__md_out_add(&sc->trail_md, cpay_str_from_c(key), value, NULL);
}

// The status for a request that does not decode: INTERNAL, as gRPC's own
// servers answer unparsable requests, or RESOURCE_EXHAUSTED when it would
// take more than the call's memory (max_call_memory).
static cpay_grpc_code undecodable_status(cpay_code c) {
  return c == CPAY_ERR_NO_MEMORY ? CPAY_GRPC_RESOURCE_EXHAUSTED : CPAY_GRPC_INTERNAL;
}

static cpay_code recv_raw(cpay_server_call *sc, cpay_arena *arena, const cpay_msg_table *t,
                          void **msg, cpay_status *st) {
  *msg = NULL;
  grpc_byte_buffer *bb = NULL;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &bb;
  bool ok = run_batch(sc, &op, 1);
  if (!ok || !bb) {
    if (bb) grpc_byte_buffer_destroy(bb);
    return CPAY_OK;
  }
  cpay_status dst = {0};
  cpay_code c = cpay__bb_to_msg(bb, t, arena, msg, &dst);
  grpc_byte_buffer_destroy(bb);
  if (c != CPAY_OK) {
    cpay_server_call_set_status(sc, undecodable_status(c), "request could not be decoded as %s: %s",
                                t->full_name, cpay_status_msg(&dst));
    cpay_status_set(st, c, "request could not be decoded as %s: %s", t->full_name,
                    cpay_status_msg(&dst));
  }
  return c;
}

cpay_code cpay_server_call_recv(cpay_server_call *sc, cpay_arena *arena, void **msg,
                                cpay_status *st) {
  return recv_raw(sc, arena, sc->method->request, msg, st);
}

cpay_code cpay_server_call_send(cpay_server_call *sc, const void *msg, cpay_status *st) {
  if (sc->method->kind == CPAY_METHOD_UNARY ||
      (sc->method->kind == CPAY_METHOD_CLIENT_STREAMING && sc->responses_sent > 0)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: only one response may be sent",
                           sc->method->path);
  }
  grpc_byte_buffer *bb;
  // The bytes are copied into the byte buffer: the scratch arena is reset
  // at once, so a long stream does not grow the call's arena.
  cpay_code c = cpay__msg_to_bb(msg, sc->method->response, sc->w->scratch, &bb, st);
  cpay_arena_reset(sc->w->scratch);
  if (c != CPAY_OK) return c;
  if (sc->method->kind == CPAY_METHOD_CLIENT_STREAMING) {
    // Sent together with the status when the handler returns.
    sc->responses_sent = 1;
    sc->pending = bb;
    return CPAY_OK;
  }
  grpc_op ops[2];
  size_t n = 0;
  if (!sc->init_sent) ops[n++] = initial_md_op(sc);
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = bb;
  bool ok = run_batch(sc, ops, n);
  grpc_byte_buffer_destroy(bb);
  if (!ok) {
    return cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the client is gone", sc->method->path);
  }
  sc->responses_sent++;
  return CPAY_OK;
}

static const method_entry *find_method(cpay_server *srv, grpc_slice path) {
  size_t len = GRPC_SLICE_LENGTH(path);
  const char *p = (const char *)GRPC_SLICE_START_PTR(path);
  for (size_t i = 0; i < srv->method_count; i++) {
    const method_entry *m = &srv->methods[i];
    if (m->path_len == len && memcmp(m->method->path, p, len) == 0) return m;
  }
  return NULL;
}

// Runs the interceptors and the handler, then sends the status (with the
// unary response, or the pending client-streaming one).
static void serve(cpay_server_call *sc, const method_entry *me) {
  cpay_server *srv = sc->srv;
  const cpay_method *m = me->method;
  cpay_code code = CPAY_OK;
  for (size_t i = 0; i < srv->icpt_count && code == CPAY_OK; i++) {
    code = srv->icpts[i].fn(srv->icpts[i].ctx, sc, m);
  }
  if (code != CPAY_OK) {
    cpay_server_call_set_status(sc, cpay_grpc_code_from_cpay(code), "rejected by an interceptor");
    return;
  }
  void *req = NULL, *resp = NULL;
  if (m->kind == CPAY_METHOD_UNARY || m->kind == CPAY_METHOD_SERVER_STREAMING) {
    if (sc->payload) {
      cpay_status dst = {0};
      cpay_code c = cpay__bb_to_msg(sc->payload, m->request, sc->arena, &req, &dst);
      if (c != CPAY_OK) {
        cpay_server_call_set_status(sc, undecodable_status(c), "request could not be decoded as %s: %s",
                                    m->request->full_name, cpay_status_msg(&dst));
        return;
      }
    } else if (sc->me_registered) {
      req = NULL;  // C-core delivered the call without a message
    } else if (recv_raw(sc, sc->arena, m->request, &req, NULL) != CPAY_OK) {
      return;
    }
    if (!req) {
      if (cpay_server_call_is_cancelled(sc)) {
        cpay_server_call_set_status(sc, CPAY_GRPC_CANCELLED, "cancelled before the request");
      } else {
        cpay_server_call_set_status(sc, CPAY_GRPC_INTERNAL, "the client sent no request message");
      }
      return;
    }
    if (m->kind == CPAY_METHOD_UNARY) {
      resp = cpay_msg_new(m->response, sc->arena);
      if (!resp) {
        cpay_server_call_set_status(sc, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
      }
    }
  }
  const svc_entry *svc = &srv->svcs[me->svc];
  code = svc->desc->dispatch(svc->handlers, me->index, svc->ctx, sc, req, resp);
  if (sc->status_set) return;
  if (code != CPAY_OK) {
    cpay_server_call_set_status(sc, cpay_grpc_code_from_cpay(code), "handler failed: %s",
                                cpay_code_str(code));
    return;
  }
  if (m->kind == CPAY_METHOD_UNARY) {
    cpay_status est = {0};
    if (cpay__msg_to_bb(resp, m->response, sc->arena, &sc->pending, &est) != CPAY_OK) {
      cpay_server_call_set_status(sc, CPAY_GRPC_INTERNAL, "response could not be encoded: %s",
                                  cpay_status_msg(&est));
    }
  } else if (m->kind == CPAY_METHOD_CLIENT_STREAMING && !sc->pending) {
    cpay_server_call_set_status(sc, CPAY_GRPC_INTERNAL,
                                "handler returned OK without sending its response");
  }
}

static void handle_call(worker *w, cpay_server_call *sc, const method_entry *me) {
  sc->arena = w->arena;
  grpc_op close_op;
  memset(&close_op, 0, sizeof close_op);
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &sc->cancelled;
  if (grpc_call_start_batch(sc->call, &close_op, 1, &sc->tag_close, NULL) != GRPC_CALL_OK) {
    sc->close_done = true;
  }
  if (cpay__md_in_copy(sc->req_md, sc->arena, &sc->md, &sc->md_count) != CPAY_OK) {
    cpay_server_call_set_status(sc, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory for metadata");
  }
  if (!me) {
    cpay_server_call_set_status(sc, CPAY_GRPC_UNIMPLEMENTED, "unknown method %.*s",
                                (int)GRPC_SLICE_LENGTH(sc->path),
                                (const char *)GRPC_SLICE_START_PTR(sc->path));
  } else if (!sc->status_set) {
    sc->method = me->method;
    serve(sc, me);
  }
  if (sc->status_set && sc->pending) {
    grpc_byte_buffer_destroy(sc->pending);  // an error status replaces the response
    sc->pending = NULL;
  }
  grpc_op ops[3];
  size_t n = 0;
  if (!sc->init_sent) ops[n++] = initial_md_op(sc);
  if (sc->pending) {
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = sc->pending;
  }
  grpc_slice details = grpc_slice_from_copied_string(sc->status_set ? sc->msg : "");
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status =
      sc->status_set ? (grpc_status_code)sc->code : GRPC_STATUS_OK;
  ops[n].data.send_status_from_server.status_details = &details;
  ops[n].data.send_status_from_server.trailing_metadata_count = sc->trail_md.count;
  ops[n++].data.send_status_from_server.trailing_metadata = sc->trail_md.items;
  (void)run_batch(sc, ops, n);
  grpc_slice_unref(details);
  if (sc->pending) grpc_byte_buffer_destroy(sc->pending);
  if (!sc->close_done) {
    grpc_completion_queue_pluck(sc->cq, &sc->tag_close, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
}

// Methods whose request is delivered with the call.
static bool with_payload(const cpay_method *m) {
  return m->kind == CPAY_METHOD_UNARY || m->kind == CPAY_METHOD_SERVER_STREAMING;
}

static grpc_call_error request_slot(cpay_server *srv, slot *s) {
  grpc_metadata_array_init(&s->md);
  s->call = NULL;
  s->payload = NULL;
  if (s->me) {
    return grpc_server_request_registered_call(srv->server, s->reg, &s->call, &s->deadline, &s->md,
                                               &s->payload, s->cq, srv->cq, s);
  }
  grpc_call_details_init(&s->details);
  return grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, s->cq, srv->cq, s);
}

static void release_slot(slot *s) {
  if (s->call) grpc_call_unref(s->call);
  s->call = NULL;
  if (s->payload) grpc_byte_buffer_destroy(s->payload);
  s->payload = NULL;
  grpc_metadata_array_destroy(&s->md);
  if (!s->me) grpc_call_details_destroy(&s->details);
}

static void run_slot(worker *w, slot *s) {
  cpay_server *srv = w->srv;
  cpay_server_call sc;
  memset(&sc, 0, sizeof sc);
  sc.srv = srv;
  sc.w = w;
  sc.cq = s->cq;
  sc.call = s->call;
  sc.req_md = &s->md;
  const method_entry *me = s->me;
  if (me) {
    sc.deadline = s->deadline;
    sc.path = grpc_slice_from_static_string(me->method->path);
    sc.payload = s->payload;
    sc.me_registered = true;
  } else {
    sc.deadline = s->details.deadline;
    sc.path = s->details.method;
    me = find_method(srv, s->details.method);
  }
  handle_call(w, &sc, me);
  cpay__md_out_free(&sc.init_md);
  cpay__md_out_free(&sc.trail_md);
  if (sc.peer) gpr_free(sc.peer);
  cpay_arena_reset(w->arena);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  cpay_server *srv = w->srv;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    slot *s = ev.tag;
    if (ev.success) run_slot(w, s);
    release_slot(s);
    pthread_mutex_lock(&srv->req_mu);
    if (!srv->no_requests && request_slot(srv, s) != GRPC_CALL_OK) {
      grpc_metadata_array_destroy(&s->md);
      if (!s->me) grpc_call_details_destroy(&s->details);
    }
    pthread_mutex_unlock(&srv->req_mu);
  }
  return NULL;
}

cpay_code cpay_server_start(cpay_server *srv, cpay_status *st) {
  cpay_code c = not_started(srv, "start", st);
  if (c != CPAY_OK) return c;
  int n = srv->opts.workers;
  srv->workers = calloc((size_t)n, sizeof *srv->workers);
  if (!srv->workers) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for workers");
  for (int i = 0; i < n; i++) {
    worker *w = &srv->workers[i];
    w->srv = srv;
    cpay_arena_opts ao = {.max_bytes = srv->opts.max_call_memory};
    w->arena = cpay_arena_new_opts(&ao);
    w->scratch = cpay_arena_new();
    if (!w->arena || !w->scratch) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for workers");
  }
  srv->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
  // `n` slots for every method that takes its request with the call, and
  // `n` generic ones (streaming methods, unknown methods).
  size_t registered = 0;
  for (size_t i = 0; i < srv->method_count; i++) registered += with_payload(srv->methods[i].method);
  srv->slots = calloc((registered + 1) * (size_t)n, sizeof *srv->slots);
  if (!srv->slots) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for call slots");
  for (size_t i = 0; i < srv->method_count; i++) {
    const method_entry *me = &srv->methods[i];
    if (!with_payload(me->method)) continue;
    void *reg = grpc_server_register_method(srv->server, me->method->path, NULL,
                                            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (!reg) return cpay_status_set(st, CPAY_ERR_INTERNAL, "server: cannot register %s", me->method->path);
    for (int k = 0; k < n; k++) srv->slots[srv->slot_count++] = (slot){.me = me, .reg = reg};
  }
  for (int k = 0; k < n; k++) srv->slots[srv->slot_count++] = (slot){.me = NULL};
  for (size_t i = 0; i < srv->slot_count; i++) {
    srv->slots[i].cq = grpc_completion_queue_create_for_pluck(NULL);
  }
  srv->started = true;
  if (srv->health) {
    cpay__health_set(srv->health, "", true);
    for (size_t i = 0; i < srv->svc_count; i++) {
      cpay__health_set(srv->health, srv->svcs[i].desc->full_name, true);
    }
  }
  grpc_server_start(srv->server);
  for (size_t i = 0; i < srv->slot_count; i++) {
    if (request_slot(srv, &srv->slots[i]) != GRPC_CALL_OK) {
      return cpay_status_set(st, CPAY_ERR_INTERNAL, "server: C-core refused a call request");
    }
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
      // The workers started so far serve; shutdown joins only those.
      srv->worker_count = i;
      return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "server: cannot start worker thread %d", i);
    }
    srv->worker_count = i + 1;
  }
  return CPAY_OK;
}

void cpay_server_shutdown(cpay_server *srv, int64_t grace_ms) {
  pthread_mutex_lock(&srv->mu);
  if (srv->stopped) {
    pthread_mutex_unlock(&srv->mu);
    return;
  }
  srv->stopped = true;
  atomic_store(&srv->shutting_down, true);
  if (srv->health) cpay__health_shutdown(srv->health);
  // No new requests from here: the pending ones fail as the server shuts
  // down, and the shared queue can then be shut down under the workers.
  pthread_mutex_lock(&srv->req_mu);
  srv->no_requests = true;
  pthread_mutex_unlock(&srv->req_mu);
  int tag;
  grpc_server_shutdown_and_notify(srv->server, srv->shutdown_cq, &tag);
  grpc_event ev = grpc_completion_queue_next(srv->shutdown_cq, cpay__deadline_in(grace_ms), NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    grpc_server_cancel_all_calls(srv->server);
    grpc_completion_queue_next(srv->shutdown_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
  }
  // Workers take the failed requests off the queue, then see its shutdown.
  if (srv->cq) grpc_completion_queue_shutdown(srv->cq);
  for (int i = 0; i < srv->worker_count; i++) pthread_join(srv->workers[i].thread, NULL);
  pthread_mutex_unlock(&srv->mu);
}

static void drain_next(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

void cpay_server_free(cpay_server *srv) {
  if (!srv) return;
  cpay_server_shutdown(srv, 0);
  grpc_server_destroy(srv->server);
  drain_next(srv->shutdown_cq);
  if (srv->cq) drain_next(srv->cq);  // empty unless no worker ever ran
  for (size_t i = 0; i < srv->slot_count; i++) {
    grpc_completion_queue_shutdown(srv->slots[i].cq);
    grpc_completion_queue_pluck(srv->slots[i].cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(srv->slots[i].cq);
  }
  free(srv->slots);
  for (int i = 0; i < srv->opts.workers && srv->workers; i++) {
    worker *w = &srv->workers[i];
    cpay_arena_free(w->arena);
    cpay_arena_free(w->scratch);
  }
  free(srv->workers);
  for (size_t i = 0; i < srv->svc_count; i++) free(srv->svcs[i].handlers);
  free(srv->svcs);
  free(srv->methods);
  free(srv->icpts);
  cpay__health_free(srv->health);
  pthread_mutex_destroy(&srv->mu);
  pthread_mutex_destroy(&srv->req_mu);
  free(srv);
  cpay__grpc_unref();
}

// ---- health (the state lives in health.c) --------------------------------

cpay_code cpay_server_enable_health(cpay_server *srv, cpay_status *st) {
  cpay_code c = not_started(srv, "enable_health", st);
  if (c != CPAY_OK) return c;
  if (srv->health) return CPAY_OK;
  srv->health = cpay__health_new();
  if (!srv->health) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  return cpay__health_register(srv, srv->health, st);
}

void cpay_server_set_serving(cpay_server *srv, const char *service, bool serving) {
  if (srv->health && !cpay__server_shutting_down(srv)) cpay__health_set(srv->health, service, serving);
}
