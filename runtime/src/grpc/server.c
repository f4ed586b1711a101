// Server side: a grpc_server whose calls arrive on the queue of an event
// loop. A few requests for new calls per method and event thread are kept
// outstanding (SLOTS_PER_METHOD), each re-requested as soon as taken; every
// method is registered with C-core, unary and server-streaming ones with
// the request delivered with the call, and a generic request catches
// unknown paths. A new call is checked (limits, interceptors, its request
// decoded) on its event thread, then a reactor handler starts there and a
// blocking one goes to the worker pool. A call's completions run one at a
// time on the event threads; nothing waits on a thread except blocking
// handlers.
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <grpc/compression.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

#include "cpay/gencode.h"
#include "grpc/internal.h"
#include "grpc/pool.h"

#define DEFAULT_WORKERS 16
#define DEFAULT_MAX_QUEUED 1024
#define DEFAULT_STALL_MS 30000
#define SLOTS_PER_METHOD 4

typedef struct svc_entry {
  const cpay_service_desc *desc;
  void *handlers;  // a copy of the caller's table
  void *ctx;
} svc_entry;

typedef struct method_entry {
  const cpay_method *method;
  size_t svc;    // index into svcs
  size_t index;  // index into the service's methods
  cpay_handler_style style;
  void *reg;  // C-core's registered method
} method_entry;

// One outstanding request for a new call on one loop queue: of a
// registered method (`me` set) or of any other path (`me` NULL).
typedef struct slot {
  cpay__op op;
  cpay_server *srv;
  const method_entry *me;
  grpc_completion_queue *cq;
  grpc_call *call;
  gpr_timespec deadline;      // registered calls
  grpc_call_details details;  // generic calls
  grpc_metadata_array md;
  grpc_byte_buffer *payload;  // the request, for methods registered with it
} slot;

struct cpay_server {
  grpc_server *server;
  cpay_server_opts opts;
  cpay_loop *loop;
  cpay_loop *own_loop;
  cpay__pool *pool;
  svc_entry *svcs;
  size_t svc_count;
  method_entry *methods;
  size_t method_count;
  cpay_server_interceptor *icpts;
  size_t icpt_count;
  cpay__server_hooks *hooks;  // attached transports (bridge.h)
  size_t hook_count;
  slot *slots;
  size_t slot_count;
  grpc_completion_queue *shutdown_cq;
  cpay__health *health;
  char *compression;
  atomic_bool shutting_down;
  atomic_int active;  // calls in progress, for max_calls
  pthread_mutex_t mu;  // the fields below
  pthread_cond_t cv;   // a call was freed or a request came back
  bool started;
  bool stopped;         // new calls are refused (admit)
  bool shutdown_done;   // the first cpay_server_shutdown has returned
  bool no_requests;     // the GOAWAY went out: taken slots are not requested again
  size_t pending_slots;  // requests C-core holds
  size_t live_calls;     // server calls not yet freed
  size_t admitted;       // of those, the ones handed to a handler (not health's)
};

struct cpay_server_call {
  cpay__rpc rpc;  // first: rpc.c's callbacks find the call from it
  cpay_server *srv;
  const method_entry *me;  // NULL for an unknown method
  const cpay_method *method;
  gpr_timespec deadline;
  cpay_md *md;
  size_t md_count;
  char *peer;
  const char *compression;
  cpay__md_out init_md;
  cpay__md_out trail_md;
  bool init_sent;
  // The status: set by set_status (first wins) or the handler's code.
  bool status_set;
  cpay_grpc_code code;
  cpay_str msg;
  cpay_rpc_detail *details;
  size_t detail_count;
  cpay_arena *out_arena;  // status message and details, from any thread (mu)
  grpc_slice status_slice;  // the message as sent, alive until the batch ends
  // The single response of a unary or client-streaming call: `resp` is the
  // message a handler fills, `resp_bb` the encoded one a blocking
  // client-streaming handler sent.
  void *resp;
  grpc_byte_buffer *resp_bb;
  // The end.
  bool finish_asked;
  bool status_started;
  bool status_done;
  int close_cancelled;  // C-core's out value
  bool close_done;
  atomic_bool cancelled;
  // Each cancellation callback runs once, when it is set by then: the
  // handler's cancel_fn and the reactor's on_cancel are set independently.
  bool cancel_fn_delivered;
  bool on_cancel_delivered;
  bool cancel_posted;   // op_cancel is pending
  bool cancel_running;  // cancel_fn runs now, on the event thread
  bool done;
  bool handler_running;  // a blocking handler has the call
  bool admitted;         // counted in srv->admitted
  // Callbacks.
  cpay_server_reactor reactor;
  void *state;
  void (*cancel_fn)(void *arg, cpay_server_call *call);
  void *cancel_arg;
  // The outcome of the last blocking read, for cpay_server_call_recv.
  bool read_ready;
  void *read_msg;
  cpay_code read_code;
  cpay__job job;
  // A new call's first steps (serve), run as its first completion so that
  // none of its callbacks overlaps them; what they take from the request.
  cpay__op op_serve;
  grpc_byte_buffer *payload;  // the request delivered with the call
  grpc_slice path;            // the path, when the method is unknown
  cpay_code md_code;          // the copy of the metadata
  cpay__op op_close;
  cpay__op op_md;
  cpay__op op_status;
  cpay__op op_cancel;
  // The arena starts here, so most calls never allocate a block. Last:
  // call_new zeroes everything before it.
  _Alignas(16) unsigned char arena_buf[512];
};

static _Thread_local cpay_server_call *tl_current;

cpay_server_call *cpay__current_server_call(void) { return tl_current; }

grpc_call *cpay__server_call_grpc(cpay_server_call *sc) { return sc->rpc.call; }

static bool server_shutting_down(const cpay_server *srv) {
  return atomic_load(&((cpay_server *)srv)->shutting_down);
}

size_t cpay__server_service_count(const cpay_server *srv) { return srv->svc_count; }

const cpay_service_desc *cpay__server_service(const cpay_server *srv, size_t i) {
  return srv->svcs[i].desc;
}

// ---- configuration -------------------------------------------------------------

cpay_server *cpay_server_new(const cpay_server_opts *opts, cpay_status *st) {
  static const cpay_server_opts kDefaults;
  if (!opts) opts = &kDefaults;
  if (opts->workers < 0 || opts->threads < 0 || opts->max_queued < 0 || opts->max_calls < 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "server: threads, workers, max_queued and max_calls must not be negative");
    return NULL;
  }
  if (opts->lame_duck_ms < 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "server: lame_duck_ms %d must not be negative (0: none)", opts->lame_duck_ms);
    return NULL;
  }
  if (opts->max_connection_age_ms < 0 || opts->max_connection_age_grace_ms < 0 ||
      opts->max_connection_idle_ms < 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "server: max_connection_age_ms %d, max_connection_age_grace_ms %d and "
                    "max_connection_idle_ms %d must not be negative (0: none)",
                    opts->max_connection_age_ms, opts->max_connection_age_grace_ms,
                    opts->max_connection_idle_ms);
    return NULL;
  }
  if (opts->compression && !cpay__valid_compression(opts->compression)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: unknown compression %s",
                    opts->compression);
    return NULL;
  }
  cpay_server *srv = calloc(1, sizeof *srv);
  if (!srv) goto out_nomem;
  srv->opts = *opts;
  if (!srv->opts.workers) srv->opts.workers = DEFAULT_WORKERS;
  if (!srv->opts.max_queued) srv->opts.max_queued = DEFAULT_MAX_QUEUED;
  if (!srv->opts.max_call_memory) srv->opts.max_call_memory = CPAY_SERVER_DEFAULT_CALL_MEMORY;
  if (!srv->opts.send_stall_timeout_ms) srv->opts.send_stall_timeout_ms = DEFAULT_STALL_MS;
  if (srv->opts.send_stall_timeout_ms < 0) srv->opts.send_stall_timeout_ms = 0;
  if (opts->compression) {
    size_t n = strlen(opts->compression) + 1;
    if (!(srv->compression = malloc(n))) goto out_nomem;
    memcpy(srv->compression, opts->compression, n);
  }
  srv->opts.compression = srv->compression;
  srv->loop = opts->loop;
  if (!srv->loop) {
    if (!(srv->own_loop = cpay__loop_new(opts->threads, st))) goto out_free;
    srv->loop = srv->own_loop;
  }
  if (!(srv->pool = cpay__pool_new(srv->opts.workers, srv->opts.max_queued))) goto out_nomem;
  pthread_mutex_init(&srv->mu, NULL);
  cpay__cond_init_monotonic(&srv->cv);
  grpc_arg args[13];
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
  // Connection age and idleness: C-core sends GOAWAY, so running calls
  // finish and the client opens a new connection for the next ones.
  if (opts->max_connection_age_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONNECTION_AGE_MS, {.integer = opts->max_connection_age_ms}};
  }
  if (opts->max_connection_age_grace_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, {.integer = opts->max_connection_age_grace_ms}};
  }
  if (opts->max_connection_idle_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONNECTION_IDLE_MS, {.integer = opts->max_connection_idle_ms}};
  }
  assert(n <= sizeof args / sizeof args[0]);
  grpc_channel_args cargs = {n, args};
  cpay__grpc_ref();
  srv->server = grpc_server_create(&cargs, NULL);
  srv->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->shutdown_cq, NULL);
  return srv;

out_nomem:
  cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a server");
out_free:
  if (srv) {
    cpay__pool_free(srv->pool);
    cpay_loop_free(srv->own_loop);
    free(srv->compression);
    free(srv);
  }
  return NULL;
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
  for (size_t i = 0; i < svc->method_count; i++) {
    if (svc->style && svc->style(handlers, i) == CPAY_HANDLER_BOTH) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "server: %s has both a blocking and a reactor handler",
                             svc->methods[i].path);
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
    // Tables from before handler styles have only blocking handlers.
    cpay_handler_style style = svc->style ? svc->style(copy, i) : CPAY_HANDLER_BLOCKING;
    ms[srv->method_count++] = (method_entry){&svc->methods[i], srv->svc_count, i, style, NULL};
  }
  srv->svc_count++;
  return CPAY_OK;
}

cpay_code cpay_server_add_interceptor(cpay_server *srv, const cpay_server_interceptor *icpt,
                                      cpay_status *st) {
  cpay_code c = not_started(srv, "add_interceptor", st);
  if (c != CPAY_OK) return c;
  cpay_server_interceptor *is = realloc(srv->icpts, (srv->icpt_count + 1) * sizeof *is);
  if (!is) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  srv->icpts = is;
  is[srv->icpt_count++] = *icpt;
  return CPAY_OK;
}

cpay_code cpay__server_attach(cpay_server *srv, const cpay__server_hooks *h, cpay_status *st) {
  cpay_code c = not_started(srv, "attach", st);
  if (c != CPAY_OK) return c;
  cpay__server_hooks *grown = realloc(srv->hooks, (srv->hook_count + 1) * sizeof *grown);
  if (!grown) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  srv->hooks = grown;
  srv->hooks[srv->hook_count++] = *h;
  return CPAY_OK;
}

cpay_channel *cpay__server_bridge(cpay_server *srv, const cpay_channel_opts *opts,
                                  cpay_status *st) {
  if (!srv->started || server_shutting_down(srv)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "server: a bridge needs a running server");
    return NULL;
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
    cpay_status_set(st, CPAY_ERR_UNAVAILABLE, "server: socketpair: %s", strerror(errno));
    return NULL;
  }
  cpay_channel_opts o = opts ? *opts : (cpay_channel_opts){0};
  o.tls = NULL;
  o.loop = srv->loop;
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  grpc_server_add_channel_from_fd(srv->server, fds[0], creds);
  grpc_server_credentials_release(creds);
  return cpay__channel_new_fd(fds[1], &o, st);
}

// ---- the handler's view of a call --------------------------------------------------

const cpay_method *cpay_server_call_method(const cpay_server_call *sc) { return sc->method; }

const char *cpay_server_call_peer(cpay_server_call *sc) {
  pthread_mutex_lock(&sc->rpc.mu);
  if (!sc->peer) sc->peer = grpc_call_get_peer(sc->rpc.call);
  pthread_mutex_unlock(&sc->rpc.mu);
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

bool cpay_server_call_is_cancelled(cpay_server_call *sc) { return atomic_load(&sc->cancelled); }

cpay_arena *cpay_server_call_arena(cpay_server_call *sc) { return sc->rpc.arena; }

cpay_code cpay_server_call_add_initial_metadata(cpay_server_call *sc, const char *key,
                                                cpay_str value) {
  pthread_mutex_lock(&sc->rpc.mu);
  cpay_code c = sc->init_sent ? CPAY_ERR_INVALID_ARGUMENT
                              : cpay__md_out_add(&sc->init_md, cpay_str_from_c(key), value, NULL);
  pthread_mutex_unlock(&sc->rpc.mu);
  return c;
}

cpay_code cpay_server_call_add_trailing_metadata(cpay_server_call *sc, const char *key,
                                                 cpay_str value) {
  pthread_mutex_lock(&sc->rpc.mu);
  cpay_code c = sc->status_started ? CPAY_ERR_INVALID_ARGUMENT
                                   : cpay__md_out_add(&sc->trail_md, cpay_str_from_c(key), value,
                                                      NULL);
  pthread_mutex_unlock(&sc->rpc.mu);
  return c;
}

cpay_code cpay_server_call_set_compression(cpay_server_call *sc, const char *name,
                                           cpay_status *st) {
  if (!name || !cpay__valid_compression(name)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown compression %s",
                           name ? name : "(null)");
  }
  pthread_mutex_lock(&sc->rpc.mu);
  cpay_code c = CPAY_OK;
  if (sc->init_sent) {
    c = cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                        "compression is chosen before the initial metadata is sent");
  } else {
    sc->compression = name;
  }
  pthread_mutex_unlock(&sc->rpc.mu);
  return c;
}

// The SEND_INITIAL_METADATA op: the handler's metadata, and the response
// compression through C-core's internal key. mu held.
static grpc_op initial_md_op(cpay_server_call *sc) {
  if (sc->compression) {
    (void)cpay__md_out_push(&sc->init_md,
                            cpay_str_from_c(GRPC_COMPRESSION_REQUEST_ALGORITHM_MD_KEY),
                            cpay_str_from_c(sc->compression), NULL);
  }
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  op.data.send_initial_metadata.count = sc->init_md.count;
  op.data.send_initial_metadata.metadata = sc->init_md.items;
  sc->init_sent = true;
  return op;
}

static size_t server_before_send(cpay__rpc *r, grpc_op *ops) {
  cpay_server_call *sc = (cpay_server_call *)r;
  if (sc->init_sent) return 0;
  ops[0] = initial_md_op(sc);
  return 1;
}

static void on_md_sent(cpay__op *op, bool ok) {
  (void)ok;
  cpay_server_call *sc = CPAY__CONTAINER_OF(op, cpay_server_call, op_md);
  cpay__rpc_batch_end(&sc->rpc);
}

cpay_code cpay_server_call_send_initial_metadata(cpay_server_call *sc, cpay_status *st) {
  pthread_mutex_lock(&sc->rpc.mu);
  cpay_code c = CPAY_OK;
  if (!sc->init_sent) {
    grpc_op op = initial_md_op(sc);
    if (!cpay__rpc_start_batch(&sc->rpc, &op, 1, &sc->op_md)) {
      c = cpay_status_set(st, CPAY_ERR_CANCELLED, "the call has ended");
    }
  }
  pthread_mutex_unlock(&sc->rpc.mu);
  return c;
}

// Records the status unless one is set.
static void set_status_v(cpay_server_call *sc, cpay_grpc_code code, const char *fmt, va_list ap)
    CPAY_PRINTF(3, 0);

static void set_status_v(cpay_server_call *sc, cpay_grpc_code code, const char *fmt,
                         va_list ap) {
  pthread_mutex_lock(&sc->rpc.mu);
  if (!sc->status_set && !sc->status_started) {
    sc->status_set = true;
    sc->code = code;
    if (!sc->out_arena) sc->out_arena = cpay_arena_new();
    sc->msg = sc->out_arena ? cpay__vformat(sc->out_arena, fmt, ap)
                            : CPAY_STR("out of memory for the status message");
  }
  pthread_mutex_unlock(&sc->rpc.mu);
}

cpay_code cpay_server_call_set_status(cpay_server_call *sc, cpay_grpc_code code, const char *fmt,
                                      ...) {
  va_list ap;
  va_start(ap, fmt);
  set_status_v(sc, code, fmt, ap);
  va_end(ap);
  return cpay_grpc_code_to_cpay(code);
}

cpay_code cpay_server_call_add_detail(cpay_server_call *sc, const cpay_msg_table *t,
                                      const void *msg, cpay_status *st) {
  pthread_mutex_lock(&sc->rpc.mu);
  cpay_code c = CPAY_OK;
  if (sc->status_started) {
    c = cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "the status was already sent");
    goto out_unlock;
  }
  if (!sc->out_arena && !(sc->out_arena = cpay_arena_new())) {
    c = cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an error detail");
    goto out_unlock;
  }
  cpay_rpc_detail *d = cpay_arena_realloc(sc->out_arena, sc->details,
                                          sc->detail_count * sizeof *d,
                                          (sc->detail_count + 1) * sizeof *d);
  if (!d) {
    c = cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an error detail");
    goto out_unlock;
  }
  sc->details = d;
  c = cpay__detail_pack(t, msg, sc->out_arena, &d[sc->detail_count], st);
  if (c == CPAY_OK) sc->detail_count++;
out_unlock:
  pthread_mutex_unlock(&sc->rpc.mu);
  return c;
}

static bool cancel_idle(cpay__rpc *r, void *arg) {
  (void)arg;
  return !((cpay_server_call *)r)->cancel_running;
}

// A cancellation callback set after the cancellation still runs: on the
// event thread, as always. mu held.
static void post_cancel(cpay_server_call *sc) {
  bool owed = (sc->cancel_fn && !sc->cancel_fn_delivered) ||
              (sc->reactor.on_cancel && !sc->on_cancel_delivered);
  if (owed && atomic_load(&sc->cancelled) && !sc->done && !sc->cancel_posted) {
    sc->cancel_posted = cpay__rpc_post(&sc->rpc, &sc->op_cancel);
  }
}

// Sets the cancellation callback; once replaced (or cleared), the old one
// is not running and never runs again, unless this thread is running it
// (it then returns first). mu held.
static void set_cancel_fn(cpay_server_call *sc, void (*fn)(void *, cpay_server_call *), void *arg) {
  sc->cancel_fn = fn;
  sc->cancel_arg = arg;
  sc->cancel_fn_delivered = false;  // a new callback runs once, even after another
  if (cpay__rpc_running() != &sc->rpc) (void)cpay__rpc_wait(&sc->rpc, cancel_idle, NULL, 0);
}

void cpay_server_call_on_cancel(cpay_server_call *sc, void (*fn)(void *arg, cpay_server_call *call),
                                void *arg) {
  pthread_mutex_lock(&sc->rpc.mu);
  set_cancel_fn(sc, fn, arg);
  post_cancel(sc);
  pthread_mutex_unlock(&sc->rpc.mu);
}

void cpay_server_call_react(cpay_server_call *sc, const cpay_server_reactor *r, void *state) {
  pthread_mutex_lock(&sc->rpc.mu);
  // A different on_cancel (or state) is a new one: it runs once, even
  // after the old one did.
  if (r->on_cancel != sc->reactor.on_cancel || state != sc->state) sc->on_cancel_delivered = false;
  sc->reactor = *r;
  sc->state = state;
  post_cancel(sc);
  pthread_mutex_unlock(&sc->rpc.mu);
}

// ---- ending a call ------------------------------------------------------------------

static void on_status_sent(cpay__op *op, bool ok) {
  (void)ok;
  cpay_server_call *sc = CPAY__CONTAINER_OF(op, cpay_server_call, op_status);
  pthread_mutex_lock(&sc->rpc.mu);
  sc->status_done = true;
  pthread_mutex_unlock(&sc->rpc.mu);
  cpay__rpc_batch_end(&sc->rpc);
}

// The queue is empty after finish: send the status, with the initial
// metadata if it has not gone out, the single response of a unary or
// client-streaming call when the status is OK, and the details of an
// error status. mu held.
static void server_drained(cpay__rpc *r) {
  cpay_server_call *sc = (cpay_server_call *)r;
  if (sc->status_started) return;
  sc->status_started = true;
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (!sc->init_sent) ops[n++] = initial_md_op(sc);
  cpay_grpc_code code = sc->status_set ? sc->code : CPAY_GRPC_OK;
  if (code == CPAY_GRPC_OK && sc->resp_bb) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = sc->resp_bb;
  }
  if (code != CPAY_GRPC_OK && sc->detail_count) {
    cpay_bytes bin;
    if (cpay__status_details_encode(code, sc->msg, sc->details, sc->detail_count, sc->out_arena,
                                    &bin, NULL) == CPAY_OK) {
      (void)cpay__md_out_push(&sc->trail_md, CPAY_STR("grpc-status-details-bin"),
                              (cpay_str){(const char *)bin.data, bin.size}, NULL);
    }
  }
  sc->status_slice = grpc_slice_from_copied_buffer(sc->msg.data ? sc->msg.data : "", sc->msg.size);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)code;
  ops[n].data.send_status_from_server.status_details = &sc->status_slice;
  ops[n].data.send_status_from_server.trailing_metadata_count = sc->trail_md.count;
  ops[n++].data.send_status_from_server.trailing_metadata = sc->trail_md.items;
  if (!cpay__rpc_start_batch(r, ops, n, &sc->op_status)) sc->status_done = true;
}

void cpay_server_call_finish(cpay_server_call *sc) {
  // The single response is encoded here, on the caller's thread.
  grpc_byte_buffer *bb = NULL;
  pthread_mutex_lock(&sc->rpc.mu);
  bool first = !sc->finish_asked;
  sc->finish_asked = true;
  bool encode = first && sc->resp && !sc->resp_bb && !sc->status_set;
  pthread_mutex_unlock(&sc->rpc.mu);
  if (!first) return;
  if (encode) {
    cpay_status est = {0};
    if (cpay__msg_to_bb(sc->resp, sc->method->response, &bb, &est) != CPAY_OK) {
      (void)cpay_server_call_set_status(
          sc, CPAY_GRPC_INTERNAL, "the response could not be encoded: %s", cpay_status_msg(&est));
    }
  }
  pthread_mutex_lock(&sc->rpc.mu);
  if (bb) sc->resp_bb = bb;
  cpay__rpc_close(&sc->rpc);
  pthread_mutex_unlock(&sc->rpc.mu);
}

void cpay_server_call_fail(cpay_server_call *sc, cpay_grpc_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_status_v(sc, code, fmt, ap);
  va_end(ap);
  cpay_server_call_finish(sc);
}

// Runs a reactor callback with the call as this thread's current one, so
// that calls it makes inherit the call's deadline and cancellation.
#define WITH_CURRENT(sc, stmt)            \
  do {                                    \
    cpay_server_call *saved_ = tl_current; \
    tl_current = (sc);                    \
    stmt;                                 \
    tl_current = saved_;                  \
  } while (0)

// Runs the cancellation callbacks set and not run yet; on the event thread.
static void deliver_cancel(cpay_server_call *sc) {
  pthread_mutex_lock(&sc->rpc.mu);
  void (*fn)(void *, cpay_server_call *) = NULL;
  void (*on_cancel)(void *, cpay_server_call *) = NULL;
  if (!sc->done && sc->cancel_fn && !sc->cancel_fn_delivered) {
    fn = sc->cancel_fn;
    sc->cancel_fn_delivered = true;
  }
  if (!sc->done && sc->reactor.on_cancel && !sc->on_cancel_delivered) {
    on_cancel = sc->reactor.on_cancel;
    sc->on_cancel_delivered = true;
  }
  void *arg = sc->cancel_arg;
  void *state = sc->state;
  sc->cancel_running = fn != NULL;
  pthread_mutex_unlock(&sc->rpc.mu);
  if (fn) {
    WITH_CURRENT(sc, fn(arg, sc));
    pthread_mutex_lock(&sc->rpc.mu);
    sc->cancel_running = false;
    cpay__rpc_wake(&sc->rpc);
    pthread_mutex_unlock(&sc->rpc.mu);
  }
  if (on_cancel) WITH_CURRENT(sc, on_cancel(state, sc));
}

static void on_cancel_post(cpay__op *op, bool ok) {
  (void)ok;
  cpay_server_call *sc = CPAY__CONTAINER_OF(op, cpay_server_call, op_cancel);
  pthread_mutex_lock(&sc->rpc.mu);
  sc->cancel_posted = false;
  pthread_mutex_unlock(&sc->rpc.mu);
  deliver_cancel(sc);
  cpay__rpc_batch_end(&sc->rpc);
}

static void on_close(cpay__op *op, bool ok) {
  cpay_server_call *sc = CPAY__CONTAINER_OF(op, cpay_server_call, op_close);
  pthread_mutex_lock(&sc->rpc.mu);
  sc->close_done = true;
  cpay__rpc_wake(&sc->rpc);  // await_close
  // A failed batch tells nothing of how the call ended: take it as
  // cancelled, so that nothing waits for a client that is gone.
  bool cancelled = !ok || sc->close_cancelled != 0;
  if (cancelled) {
    atomic_store(&sc->cancelled, true);
    cpay__rpc_fail_sends(&sc->rpc);
  }
  pthread_mutex_unlock(&sc->rpc.mu);
  if (cancelled) deliver_cancel(sc);
  cpay__rpc_batch_end(&sc->rpc);
}

// After each batch, and when a blocking handler returns: a call whose
// status went out (or that was cancelled), with nothing in flight and no
// handler running, ends: on_done, then the runtime's reference goes.
static void maybe_done(cpay_server_call *sc) {
  pthread_mutex_lock(&sc->rpc.mu);
  bool end = !sc->done && sc->close_done && sc->rpc.batches == 0 && !sc->handler_running &&
             (sc->status_done || atomic_load(&sc->cancelled));
  if (end) {
    sc->done = true;
    cpay__rpc_end(&sc->rpc);
  }
  void (*on_done)(void *, cpay_server_call *) = sc->reactor.on_done;
  void *state = sc->state;
  pthread_mutex_unlock(&sc->rpc.mu);
  if (!end) return;
  if (on_done) on_done(state, sc);
  cpay__rpc_unref(&sc->rpc);
}

static void server_batch_done(cpay__rpc *r) { maybe_done((cpay_server_call *)r); }

static void server_ready(cpay__rpc *r) {
  cpay_server_call *sc = (cpay_server_call *)r;
  pthread_mutex_lock(&r->mu);
  void (*on_ready)(void *, cpay_server_call *) = sc->reactor.on_ready;
  void *state = sc->state;
  pthread_mutex_unlock(&r->mu);
  if (on_ready) WITH_CURRENT(sc, on_ready(state, sc));
}

// ---- reading requests -------------------------------------------------------------

// The status for a request that does not decode: INTERNAL, as gRPC's own
// servers answer unparsable requests, or RESOURCE_EXHAUSTED when it would
// take more than the call's memory (max_call_memory).
static cpay_grpc_code undecodable_status(cpay_code c) {
  return c == CPAY_ERR_NO_MEMORY ? CPAY_GRPC_RESOURCE_EXHAUSTED : CPAY_GRPC_INTERNAL;
}

// Runs the interceptors' on_message; false (status set) when one rejects.
static bool intercept_message(cpay_server_call *sc, const void *msg, cpay_code *code) {
  cpay_server *srv = sc->srv;
  for (size_t i = 0; i < srv->icpt_count; i++) {
    if (!srv->icpts[i].on_message) continue;
    cpay_code c;
    WITH_CURRENT(sc, c = srv->icpts[i].on_message(srv->icpts[i].ctx, sc, sc->method, msg));
    if (c != CPAY_OK) {
      (void)cpay_server_call_set_status(sc, cpay_grpc_code_from_cpay(c),
                                        "rejected by an interceptor");
      *code = c;
      return false;
    }
  }
  return true;
}

static void server_read_done(cpay__rpc *r, void *msg, cpay_code code, const cpay_status *err) {
  cpay_server_call *sc = (cpay_server_call *)r;
  bool refused = false;  // the call ends with the status set here
  if (code != CPAY_OK) {
    (void)cpay_server_call_set_status(sc, undecodable_status(code),
                                      "request could not be decoded as %s: %s",
                                      sc->method->request->full_name, cpay_status_msg(err));
    refused = true;
  } else if (msg && !intercept_message(sc, msg, &code)) {
    msg = NULL;
    refused = true;
  }
  if (refused) cpay_server_call_finish(sc);
  pthread_mutex_lock(&r->mu);
  bool blocking = sc->handler_running;
  if (blocking) {
    sc->read_ready = true;
    sc->read_msg = msg;
    sc->read_code = code;
    cpay__rpc_wake(r);
  }
  cpay_fn *on_message = sc->reactor.on_message;
  void *state = sc->state;
  bool broken = r->read_broken;
  pthread_mutex_unlock(&r->mu);
  // A reactor gets NULL only for the client's half-close; a refused
  // request or a failed read (the call is over) end the call, and on_cancel
  // or on_done follow.
  if (blocking || refused || broken || !on_message) return;
  if (sc->method->server_deliver) {
    WITH_CURRENT(sc, sc->method->server_deliver(on_message, state, sc, msg));
  } else {
    WITH_CURRENT(sc, ((void (*)(void *, cpay_server_call *, void *))on_message)(state, sc, msg));
  }
}

static bool close_in(cpay__rpc *r, void *arg) {
  (void)arg;
  return ((cpay_server_call *)r)->close_done;
}

// After an operation failed because the call is over: waits until C-core
// has said how it ended (it does at once then), so that a handler that
// asks cpay_server_call_is_cancelled next gets the answer. Not on an event
// thread, which may be the one to run that completion. mu held.
static void await_close(cpay_server_call *sc) {
  if (!cpay__on_event_thread()) (void)cpay__rpc_wait(&sc->rpc, close_in, NULL, 0);
}

cpay_code cpay_server_call_read(cpay_server_call *sc, cpay_arena *arena, cpay_status *st) {
  return cpay__rpc_read(&sc->rpc, arena, st);
}

static bool read_in(cpay__rpc *r, void *arg) {
  (void)arg;
  return ((cpay_server_call *)r)->read_ready;
}

cpay_code cpay_server_call_recv(cpay_server_call *sc, cpay_arena *arena, void **msg,
                                cpay_status *st) {
  *msg = NULL;
  if (cpay__on_event_thread()) {
    // The read completes on the loop this thread would block.
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "%s: cpay_server_call_recv waits; a reactor reads with "
                           "cpay_server_call_read",
                           sc->method->path);
  }
  pthread_mutex_lock(&sc->rpc.mu);
  sc->read_ready = false;
  cpay_code code = cpay__rpc_read_locked(&sc->rpc, arena, st);
  pthread_mutex_unlock(&sc->rpc.mu);
  if (code == CPAY_ERR_CANCELLED) return CPAY_OK;  // the call ended: no more requests
  if (code != CPAY_OK) return code;
  pthread_mutex_lock(&sc->rpc.mu);
  (void)cpay__rpc_wait(&sc->rpc, read_in, NULL, 0);
  *msg = sc->read_msg;
  code = sc->read_code;
  if (sc->rpc.read_broken) await_close(sc);
  pthread_mutex_unlock(&sc->rpc.mu);
  if (code != CPAY_OK) {
    return cpay_status_set(st, code, "%s: %.*s", sc->method->path, (int)sc->msg.size,
                           sc->msg.data ? sc->msg.data : "");
  }
  return CPAY_OK;
}

// ---- sending responses -------------------------------------------------------------

static cpay_code check_streaming(cpay_server_call *sc, cpay_status *st) {
  cpay_method_kind k = sc->method->kind;
  if (k == CPAY_METHOD_SERVER_STREAMING || k == CPAY_METHOD_BIDI_STREAMING) return CPAY_OK;
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                         "%s: a single response is sent with the status, not written",
                         sc->method->path);
}

cpay_code cpay_server_call_write(cpay_server_call *sc, const void *msg, cpay_status *st) {
  cpay_code code = check_streaming(sc, st);
  if (code != CPAY_OK) return code;
  return cpay__rpc_write(&sc->rpc, msg, CPAY__WRITE_NOWAIT, st);
}

cpay_code cpay_server_call_send(cpay_server_call *sc, const void *msg, cpay_status *st) {
  if (sc->method->kind == CPAY_METHOD_CLIENT_STREAMING) {
    // Kept, and sent with the status when the handler returns.
    grpc_byte_buffer *bb;
    cpay_code code = cpay__msg_to_bb(msg, sc->method->response, &bb, st);
    if (code != CPAY_OK) return code;
    pthread_mutex_lock(&sc->rpc.mu);
    bool again = sc->resp_bb != NULL;
    if (!again) sc->resp_bb = bb;
    pthread_mutex_unlock(&sc->rpc.mu);
    if (!again) return CPAY_OK;
    grpc_byte_buffer_destroy(bb);
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: only one response may be sent",
                           sc->method->path);
  }
  cpay_code code = check_streaming(sc, st);
  if (code != CPAY_OK) return code;
  code = cpay__rpc_write(&sc->rpc, msg, CPAY__WRITE_FOR_ROOM, st);
  if (code == CPAY_ERR_CANCELLED) {
    pthread_mutex_lock(&sc->rpc.mu);
    await_close(sc);
    pthread_mutex_unlock(&sc->rpc.mu);
  }
  return code;
}

// ---- a new call ----------------------------------------------------------------------

static void server_call_free(cpay__rpc *r) {
  cpay_server_call *sc = (cpay_server_call *)r;
  cpay_server *srv = sc->srv;
  bool admitted = sc->admitted;
  grpc_call_unref(sc->rpc.call);
  if (sc->resp_bb) grpc_byte_buffer_destroy(sc->resp_bb);
  if (sc->status_started) grpc_slice_unref(sc->status_slice);
  cpay__md_out_free(&sc->init_md);
  cpay__md_out_free(&sc->trail_md);
  if (sc->peer) gpr_free(sc->peer);
  cpay_arena_free(sc->out_arena);
  cpay__rpc_destroy(&sc->rpc);
  cpay_arena_free(sc->rpc.arena);
  free(sc);
  atomic_fetch_sub(&srv->active, 1);
  pthread_mutex_lock(&srv->mu);
  if (admitted) srv->admitted--;
  if (--srv->live_calls == 0 || (admitted && srv->admitted == 0)) pthread_cond_broadcast(&srv->cv);
  pthread_mutex_unlock(&srv->mu);
}

static void on_serve(cpay__op *op, bool ok);

static const cpay__rpc_vt kServerCallVt = {
    .before_send = server_before_send,
    .drained = server_drained,
    .read_done = server_read_done,
    .ready = server_ready,
    .batch_done = server_batch_done,
    .free = server_call_free,
};

// The call object for a call C-core delivered on `s`; NULL when out of
// memory (the call is then cancelled).
static cpay_server_call *call_new(cpay_server *srv, slot *s, cpay_code *code) {
  cpay_server_call *sc = malloc(sizeof *sc);
  cpay_arena *arena = NULL;
  if (sc) {
    memset(sc, 0, offsetof(cpay_server_call, arena_buf));
    cpay_arena_opts ao = {.initial_block = sc->arena_buf, .initial_size = sizeof sc->arena_buf,
                          .alloc = &cpay__malloc_blocks, .max_bytes = srv->opts.max_call_memory,
                          .block_size = 2048};
    arena = cpay_arena_new_opts(&ao);
  }
  if (!arena) {
    free(sc);
    return NULL;
  }
  cpay__rpc_init(&sc->rpc, &kServerCallVt, arena, srv->opts.send_queue_bytes,
                 srv->opts.send_stall_timeout_ms);
  sc->rpc.call = s->call;
  sc->rpc.cq = s->cq;
  sc->rpc.loop = srv->loop;
  sc->srv = srv;
  sc->me = s->me;
  sc->compression = srv->compression;
  sc->op_serve = (cpay__op){.fn = on_serve, .rpc = &sc->rpc};
  sc->op_close = (cpay__op){.fn = on_close, .rpc = &sc->rpc};
  sc->op_md = (cpay__op){.fn = on_md_sent, .rpc = &sc->rpc};
  sc->op_status = (cpay__op){.fn = on_status_sent, .rpc = &sc->rpc};
  sc->op_cancel = (cpay__op){.fn = on_cancel_post, .rpc = &sc->rpc};
  sc->deadline = s->me ? s->deadline : s->details.deadline;
  *code = cpay__md_in_copy(&s->md, arena, &sc->md, &sc->md_count);
  atomic_fetch_add(&srv->active, 1);
  pthread_mutex_lock(&srv->mu);
  srv->live_calls++;
  pthread_mutex_unlock(&srv->mu);
  return sc;
}

static void run_blocking(cpay__job *j);

// Lets a new call reach its handler, counted, unless the server drains:
// then it is refused UNAVAILABLE having run nothing, so the client may
// retry it on another replica. Health calls always go through, uncounted:
// they answer NOT_SERVING and end, and never hold the drain up.
static bool admit(cpay_server_call *sc) {
  cpay_server *srv = sc->srv;
  if (srv->health && srv->svcs[sc->me->svc].ctx == srv->health) return true;
  pthread_mutex_lock(&srv->mu);
  bool open = !srv->stopped;
  if (open) srv->admitted++;
  pthread_mutex_unlock(&srv->mu);
  sc->admitted = open;
  if (!open) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_UNAVAILABLE,
                                      "the server is shutting down: retry on another replica");
  }
  return open;
}

// Decodes the request delivered with a unary or server-streaming call;
// false (status set) when it cannot be.
static bool take_request(cpay_server_call *sc, grpc_byte_buffer *payload, void **req) {
  const cpay_method *m = sc->method;
  if (!payload) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_INTERNAL, "the client sent no request message");
    return false;
  }
  cpay_status dst = {0};
  cpay_code c = cpay__bb_to_msg(payload, m->request, sc->rpc.arena, req, &dst);
  if (c != CPAY_OK) {
    (void)cpay_server_call_set_status(sc, undecodable_status(c),
                                      "request could not be decoded as %s: %s",
                                      m->request->full_name, cpay_status_msg(&dst));
    return false;
  }
  return true;
}

// Checks a new call and hands it to its handler; on the event thread.
static void serve(cpay_server_call *sc, grpc_byte_buffer *payload, cpay_code md_code,
                  grpc_slice path) {
  cpay_server *srv = sc->srv;
  const method_entry *me = sc->me;
  int max = srv->opts.max_calls;
  if (md_code != CPAY_OK) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_RESOURCE_EXHAUSTED,
                                      "out of memory for the request metadata");
    goto out_finish;
  }
  if (!me) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_UNIMPLEMENTED, "unknown method %.*s",
                                      (int)GRPC_SLICE_LENGTH(path),
                                      (const char *)GRPC_SLICE_START_PTR(path));
    goto out_finish;
  }
  sc->method = me->method;
  sc->rpc.send_t = me->method->response;
  sc->rpc.recv_t = me->method->request;
  if (me->style == CPAY_HANDLER_NONE) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_UNIMPLEMENTED, "%s is not implemented",
                                      me->method->path);
    goto out_finish;
  }
  if (!admit(sc)) goto out_finish;
  if (max > 0 && atomic_load(&srv->active) > max) {
    (void)cpay_server_call_set_status(sc, CPAY_GRPC_RESOURCE_EXHAUSTED,
                                      "server busy: %d calls in progress (max_calls)", max);
    goto out_finish;
  }
  const cpay_method *m = me->method;
  void *req = NULL;
  bool one_req = m->kind == CPAY_METHOD_UNARY || m->kind == CPAY_METHOD_SERVER_STREAMING;
  if (one_req && !take_request(sc, payload, &req)) goto out_finish;
  if (m->kind == CPAY_METHOD_UNARY ||
      (m->kind == CPAY_METHOD_CLIENT_STREAMING && me->style == CPAY_HANDLER_REACTOR)) {
    if (!(sc->resp = cpay_msg_new(m->response, sc->rpc.arena))) {
      (void)cpay_server_call_set_status(sc, CPAY_GRPC_RESOURCE_EXHAUSTED,
                                        "out of memory for the response");
      goto out_finish;
    }
  }
  for (size_t i = 0; i < srv->icpt_count; i++) {
    if (!srv->icpts[i].on_call) continue;
    cpay_code c;
    WITH_CURRENT(sc, c = srv->icpts[i].on_call(srv->icpts[i].ctx, sc, m, req));
    if (c != CPAY_OK) {
      (void)cpay_server_call_set_status(sc, cpay_grpc_code_from_cpay(c),
                                        "rejected by an interceptor");
      goto out_finish;
    }
  }
  const svc_entry *svc = &srv->svcs[me->svc];
  if (me->style == CPAY_HANDLER_REACTOR) {
    cpay_code c;
    WITH_CURRENT(sc, c = svc->desc->dispatch(svc->handlers, me->index, svc->ctx, sc, req, sc->resp));
    (void)c;  // a reactor start returns nothing of its own
    return;
  }
  // A blocking handler: the request stays on the call for the worker.
  sc->read_msg = req;
  sc->handler_running = true;
  sc->job.run = run_blocking;
  cpay__rpc_ref(&sc->rpc);
  if (cpay__pool_submit(srv->pool, &sc->job)) return;
  pthread_mutex_lock(&sc->rpc.mu);
  sc->handler_running = false;
  pthread_mutex_unlock(&sc->rpc.mu);
  cpay__rpc_unref(&sc->rpc);
  (void)cpay_server_call_set_status(
      sc, CPAY_GRPC_RESOURCE_EXHAUSTED,
      "server busy: %d blocking calls are waiting for a worker (max_queued)", srv->opts.max_queued);
out_finish:
  cpay_server_call_finish(sc);
}

static void run_blocking(cpay__job *j) {
  cpay_server_call *sc = CPAY__CONTAINER_OF(j, cpay_server_call, job);
  const method_entry *me = sc->me;
  const svc_entry *svc = &sc->srv->svcs[me->svc];
  void *req = sc->read_msg;
  sc->read_msg = NULL;
  cpay_code code;
  WITH_CURRENT(sc, code = svc->desc->dispatch(svc->handlers, me->index, svc->ctx, sc, req, sc->resp));
  // The handler's cancellation callback may point into its stack: it is
  // not running once the handler has returned, and never runs later.
  pthread_mutex_lock(&sc->rpc.mu);
  set_cancel_fn(sc, NULL, NULL);
  pthread_mutex_unlock(&sc->rpc.mu);
  if (code != CPAY_OK) {
    (void)cpay_server_call_set_status(sc, cpay_grpc_code_from_cpay(code), "handler failed: %s",
                                      cpay_code_str(code));
  } else if (me->method->kind == CPAY_METHOD_CLIENT_STREAMING) {
    pthread_mutex_lock(&sc->rpc.mu);
    bool sent = sc->resp_bb != NULL;
    pthread_mutex_unlock(&sc->rpc.mu);
    if (!sent) {
      (void)cpay_server_call_set_status(sc, CPAY_GRPC_INTERNAL,
                                        "handler returned OK without sending its response");
    }
  }
  cpay_server_call_finish(sc);
  pthread_mutex_lock(&sc->rpc.mu);
  sc->handler_running = false;
  pthread_mutex_unlock(&sc->rpc.mu);
  maybe_done(sc);
  cpay__rpc_unref(&sc->rpc);
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
    // C-core wants no payload pointer for a method registered without one.
    grpc_byte_buffer **payload = with_payload(s->me->method) ? &s->payload : NULL;
    return grpc_server_request_registered_call(srv->server, s->me->reg, &s->call, &s->deadline,
                                               &s->md, payload, s->cq, s->cq, &s->op);
  }
  grpc_call_details_init(&s->details);
  return grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, s->cq, s->cq, &s->op);
}

static void release_slot(slot *s) {
  grpc_metadata_array_destroy(&s->md);
  if (!s->me) grpc_call_details_destroy(&s->details);
}

// Requests `s` again, unless shutdown began; counts it out otherwise.
static void rerequest(cpay_server *srv, slot *s) {
  pthread_mutex_lock(&srv->mu);
  bool again = !srv->no_requests && request_slot(srv, s) == GRPC_CALL_OK;
  if (!again) {
    if (!srv->no_requests) release_slot(s);  // C-core refused it
    if (--srv->pending_slots == 0) pthread_cond_broadcast(&srv->cv);
  }
  pthread_mutex_unlock(&srv->mu);
}

static void on_new_call(cpay__op *op, bool ok) {
  slot *s = CPAY__CONTAINER_OF(op, slot, op);
  cpay_server *srv = s->srv;
  if (!ok) {  // shutting down: the request is cancelled
    release_slot(s);
    pthread_mutex_lock(&srv->mu);
    if (--srv->pending_slots == 0) pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    return;
  }
  cpay_code md_code = CPAY_OK;
  cpay_server_call *sc = call_new(srv, s, &md_code);
  if (sc) {
    sc->payload = s->payload;
    // The path of an unknown method, kept for its error message.
    sc->path = s->me ? grpc_empty_slice() : grpc_slice_ref(s->details.method);
    sc->md_code = md_code;
  } else {
    grpc_call_cancel_with_status(s->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
    grpc_call_unref(s->call);
    if (s->payload) grpc_byte_buffer_destroy(s->payload);
  }
  s->payload = NULL;
  release_slot(s);
  rerequest(srv, s);
  if (sc) cpay__op_run(&sc->op_serve, true);
}

// The first completion of a new call: the close notification, then serve.
static void on_serve(cpay__op *op, bool ok) {
  (void)ok;
  cpay_server_call *sc = CPAY__CONTAINER_OF(op, cpay_server_call, op_serve);
  grpc_op close_op;
  memset(&close_op, 0, sizeof close_op);
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &sc->close_cancelled;
  pthread_mutex_lock(&sc->rpc.mu);
  if (!cpay__rpc_start_batch(&sc->rpc, &close_op, 1, &sc->op_close)) sc->close_done = true;
  pthread_mutex_unlock(&sc->rpc.mu);
  serve(sc, sc->payload, sc->md_code, sc->path);
  if (sc->payload) grpc_byte_buffer_destroy(sc->payload);
  sc->payload = NULL;
  grpc_slice_unref(sc->path);
}

// ---- starting and stopping ---------------------------------------------------------

cpay_code cpay_server_start(cpay_server *srv, cpay_status *st) {
  cpay_code c = not_started(srv, "start", st);
  if (c != CPAY_OK) return c;
  grpc_completion_queue *cq = cpay__loop_cq(srv->loop);
  grpc_server_register_completion_queue(srv->server, cq, NULL);
  for (size_t i = 0; i < srv->method_count; i++) {
    method_entry *me = &srv->methods[i];
    me->reg = grpc_server_register_method(srv->server, me->method->path, NULL,
                                          with_payload(me->method)
                                              ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER
                                              : GRPC_SRM_PAYLOAD_NONE,
                                          0);
    if (!me->reg) return cpay_status_set(st, CPAY_ERR_INTERNAL, "server: cannot register %s", me->method->path);
  }
  // SLOTS_PER_METHOD requests per method and event thread, and as many
  // generic ones.
  size_t per_method = (size_t)SLOTS_PER_METHOD * (size_t)cpay__loop_threads(srv->loop);
  srv->slots = calloc((srv->method_count + 1) * per_method, sizeof *srv->slots);
  if (!srv->slots) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for call slots");
  for (size_t i = 0; i <= srv->method_count; i++) {
    for (size_t k = 0; k < per_method; k++) {
      slot *s = &srv->slots[srv->slot_count++];
      s->op.fn = on_new_call;
      s->srv = srv;
      s->me = i < srv->method_count ? &srv->methods[i] : NULL;
      s->cq = cq;
    }
  }
  srv->started = true;
  if (srv->health) {
    cpay__health_set(srv->health, "", true);
    for (size_t i = 0; i < srv->svc_count; i++) {
      cpay__health_set(srv->health, srv->svcs[i].desc->full_name, true);
    }
  }
  // The loop runs first, so that whatever C-core completes (also after a
  // failure below) is taken off its queues.
  c = cpay__loop_start(srv->loop, st);
  if (c != CPAY_OK) return c;
  grpc_server_start(srv->server);
  pthread_mutex_lock(&srv->mu);
  for (size_t i = 0; i < srv->slot_count; i++) {
    if (request_slot(srv, &srv->slots[i]) != GRPC_CALL_OK) {
      release_slot(&srv->slots[i]);
      pthread_mutex_unlock(&srv->mu);
      return cpay_status_set(st, CPAY_ERR_INTERNAL, "server: C-core refused a call request");
    }
    srv->pending_slots++;
  }
  pthread_mutex_unlock(&srv->mu);
  for (size_t i = 0; i < srv->hook_count; i++) {
    c = srv->hooks[i].start(srv->hooks[i].ctx, srv, st);
    if (c != CPAY_OK) return c;
  }
  return CPAY_OK;
}

// Waits, mu held, until no admitted call is left or `end_ms` (cpay__now_ms
// clock; negative: no limit) passes. True when none is left.
static bool wait_admitted(cpay_server *srv, int64_t end_ms) {
  struct timespec until = cpay__abs_monotonic(end_ms);
  while (srv->admitted > 0) {
    if (end_ms < 0) {
      pthread_cond_wait(&srv->cv, &srv->mu);
    } else if (cpay__now_ms() >= end_ms ||
               pthread_cond_timedwait(&srv->cv, &srv->mu, &until) == ETIMEDOUT) {
      break;
    }
  }
  return srv->admitted == 0;
}

// cpay_server_shutdown; `lame_duck` false skips opts.lame_duck_ms (as for
// a server being freed; one that never started skips it too).
static void shutdown_server(cpay_server *srv, int64_t grace_ms, bool lame_duck) {
  if (atomic_exchange(&srv->shutting_down, true)) {
    // Another thread shuts down: return when it does, when the server is
    // stopped.
    pthread_mutex_lock(&srv->mu);
    while (!srv->shutdown_done) pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    return;
  }
  pthread_mutex_lock(&srv->mu);
  lame_duck = lame_duck && srv->started;
  pthread_mutex_unlock(&srv->mu);
  if (srv->health) cpay__health_shutdown(srv->health);
  // Lame duck: NOT_SERVING while calls are still served, so that
  // health-checking clients and proxies move away before any is refused.
  if (lame_duck && srv->opts.lame_duck_ms > 0) {
    int64_t ms = srv->opts.lame_duck_ms;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  // From here new calls are refused UNAVAILABLE (admit), the requests
  // staying out so that they are answered at once. The grace runs from
  // here, for on_shutdown and the drain together.
  int64_t end_ms = grace_ms < 0 ? -1 : cpay__ms_from_now(grace_ms);
  pthread_mutex_lock(&srv->mu);
  srv->stopped = true;
  pthread_mutex_unlock(&srv->mu);
  for (size_t i = 0; i < srv->hook_count; i++) srv->hooks[i].stop(srv->hooks[i].ctx);
  if (srv->opts.on_shutdown) srv->opts.on_shutdown(srv->opts.on_shutdown_ctx);
  // The drain: the calls admitted so far run to their end, while the
  // connections stay open and quiet. Only then the GOAWAY: C-core 1.51 has
  // ended a few running streams UNAVAILABLE, messages unsent, when its
  // GOAWAY and their last writes crossed, and has cancelled calls sent just
  // before the client read it.
  pthread_mutex_lock(&srv->mu);
  bool drained = wait_admitted(srv, end_ms);
  // No new requests from here: the outstanding ones fail as C-core shuts
  // down and are counted out.
  srv->no_requests = true;
  pthread_mutex_unlock(&srv->mu);
  // The GOAWAY; C-core closes each connection once the client has seen it
  // (what is left of the grace, or force: cancel_all_calls).
  int tag;
  grpc_server_shutdown_and_notify(srv->server, srv->shutdown_cq, &tag);
  int64_t left = end_ms - cpay__now_ms();
  gpr_timespec close_by = end_ms < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                                     : cpay__deadline_in(left > 0 ? left : 0);
  if (!drained ||
      grpc_completion_queue_next(srv->shutdown_cq, close_by, NULL).type == GRPC_QUEUE_TIMEOUT) {
    grpc_server_cancel_all_calls(srv->server);
    grpc_completion_queue_next(srv->shutdown_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
  }
  // C-core is done with every call; the calls' last callbacks may still be
  // running on the loop, and the failed requests coming back.
  pthread_mutex_lock(&srv->mu);
  while (srv->live_calls > 0 || srv->pending_slots > 0) pthread_cond_wait(&srv->cv, &srv->mu);
  srv->shutdown_done = true;
  pthread_cond_broadcast(&srv->cv);
  pthread_mutex_unlock(&srv->mu);
}

void cpay_server_shutdown(cpay_server *srv, int64_t grace_ms) {
  shutdown_server(srv, grace_ms, true);
}

void cpay_server_free(cpay_server *srv) {
  if (!srv) return;
  shutdown_server(srv, 0, false);
  for (size_t i = 0; i < srv->hook_count; i++) srv->hooks[i].free(srv->hooks[i].ctx);
  free(srv->hooks);
  cpay__pool_free(srv->pool);
  grpc_server_destroy(srv->server);
  grpc_completion_queue_shutdown(srv->shutdown_cq);
  while (grpc_completion_queue_next(srv->shutdown_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
             .type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(srv->shutdown_cq);
  cpay_loop_free(srv->own_loop);
  free(srv->slots);
  for (size_t i = 0; i < srv->svc_count; i++) free(srv->svcs[i].handlers);
  free(srv->svcs);
  free(srv->methods);
  free(srv->icpts);
  free(srv->compression);
  cpay__health_free(srv->health);
  pthread_cond_destroy(&srv->cv);
  pthread_mutex_destroy(&srv->mu);
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
  if (srv->health && !server_shutting_down(srv)) cpay__health_set(srv->health, service, serving);
}
