// Client side: channels over grpc_channel, and calls on the call core of
// rpc.c. An asynchronous call is bound to the queue of the channel's loop
// and reports to its reactor on the loop's threads. A blocking call is the
// same call bound to a private queue that the threads waiting in it drive,
// so a blocking client uses no thread of cpay's own and a completion never
// hops between threads.
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/compression.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "cpay/gencode.h"
#include "grpc/internal.h"
#include "mem/strdup.h"

#define DEFAULT_TIMEOUT_MS 30000

// C-core's handle for a method path registered on the channel, which saves
// parsing and interning the path on every call. An insert-only open-
// addressing table keyed by the path: lookups are lock-free, inserts take
// the mutex. When it is full, calls go unregistered.
#define REG_SLOTS 256

typedef struct reg_entry {
  _Atomic(char *) path;  // a copy, published after `handle` is written
  void *handle;
} reg_entry;

// The channel struct outlives cpay_channel_free while blocking calls made on
// it are still to be freed: each holds a reference, so a call never points
// at freed memory. `calls` lists the live calls, for cpay_channel_free to
// cancel.
struct cpay_channel {
  grpc_channel *ch;
  atomic_int refs;  // the owner's, until cpay_channel_free, plus one per call
  pthread_mutex_t calls_mu;
  pthread_cond_t calls_cv;  // an asynchronous call was freed
  cpay_call *calls;
  int async_calls;  // asynchronous ones whose on_done has not returned yet
  bool closing;     // cpay_channel_free runs: new calls are cancelled at once
  pthread_mutex_t reg_mu;
  reg_entry regs[REG_SLOTS];
  int64_t default_timeout_ms;
  char *compression;
  cpay_client_interceptor *icpts;
  size_t icpt_count;
  size_t send_queue_bytes;
  cpay_loop *loop;  // shared, or own_loop
  cpay_loop *own_loop;
  // Copies of the method policies (names included) when one hedges: cpay
  // runs hedging itself, so each unary call looks its policy up here.
  cpay_method_policy *policies;
  size_t policy_count;
  int watches;     // cpay_channel_on_state_change callbacks still to run
  bool destroyed;  // grpc_channel_destroy has begun (under calls_mu)
};

struct cpay_client_info {
  const cpay_method *method;
  const cpay_call_opts *opts;
  const void *req;
  cpay__md_out md;
  cpay_md *view;
};

struct cpay_call {
  cpay__rpc rpc;  // first: rpc.c's callbacks find the call from it
  cpay_channel *ch;
  cpay_call *prev, *next;  // in ch->calls, when listed
  bool listed;
  const cpay_method *method;
  bool async;
  cpay_call_reactor reactor;
  void *state;
  cpay_rpc_result *user_result;  // blocking: opts->result
  cpay_rpc_result result;        // asynchronous: what on_done gets
  cpay__md_out md_out;
  grpc_metadata_array init_md;
  grpc_metadata_array trail_md;
  grpc_status_code status;
  grpc_slice details;
  cpay_md *init_view;
  size_t init_count;
  bool init_received;
  bool status_received;
  bool close_started;
  bool done;  // the end was delivered (on_done) or seen by a blocking finish
  // A unary call's response, received with its one batch, and the arena it
  // is decoded onto.
  grpc_byte_buffer *unary_bb;
  cpay_arena *resp_arena;
  // Asynchronous calls: the single response of a client-streaming call
  // arrived; a message read before the initial metadata was delivered,
  // held until it has been.
  bool got_response;
  bool md_delivered;
  bool held;
  void *held_msg;
  // The outcome of the last blocking read, for cpay_call_recv.
  bool read_ready;
  void *read_msg;
  cpay_code read_code;
  cpay_status read_err;
  // A hedged unary call (see "hedging" below): its attempts and outcome.
  // It has no grpc_call of its own.
  struct hedge *hedge;
  // An attempt of a hedged call: it reports its end there, not to a reactor.
  struct hedge *attempt_of;
  cpay__op op_start;
  cpay__op op_init;
  cpay__op op_status;
  cpay__op op_close;
  // The arena starts here, so most calls never allocate a block. Last:
  // call_new zeroes everything before it.
  _Alignas(16) unsigned char arena_buf[1024];
};

static void free_policies(cpay_channel *ch) {
  for (size_t i = 0; i < ch->policy_count; i++) {
    free((char *)ch->policies[i].service);
    free((char *)ch->policies[i].method);
  }
  free(ch->policies);
}

// A channel to `target`, or over the connected socket `fd` when target is
// NULL (taken when the channel is made).
static cpay_channel *channel_new(const char *target, int fd, const cpay_channel_opts *opts,
                                 cpay_status *st) {
  static const cpay_channel_opts kDefaults;
  if (!opts) opts = &kDefaults;
  if (opts->compression && !cpay__valid_compression(opts->compression)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown compression %s", opts->compression);
    return NULL;
  }
  if (opts->tls && (!opts->tls->cert_chain) != (!opts->tls->private_key)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "tls: a client certificate needs its private key and the reverse");
    return NULL;
  }
  // The typed options' service config (cpay's default retry policy
  // included), or NULL: then the hand-written one, if any.
  char *gen_config = NULL;
  if (cpay__service_config(opts, &gen_config, st) != CPAY_OK) return NULL;
  cpay_channel *ch = calloc(1, sizeof *ch);
  if (!ch) {
    free(gen_config);
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a channel");
    return NULL;
  }
  ch->default_timeout_ms = opts->default_timeout_ms ? opts->default_timeout_ms : DEFAULT_TIMEOUT_MS;
  ch->send_queue_bytes = opts->send_queue_bytes;
  if (opts->interceptor_count) {
    ch->icpts = malloc(opts->interceptor_count * sizeof *ch->icpts);
    if (!ch->icpts) goto out_nomem;
    memcpy(ch->icpts, opts->interceptors, opts->interceptor_count * sizeof *ch->icpts);
    ch->icpt_count = opts->interceptor_count;
  }
  if (opts->compression &&
      !(ch->compression = cpay__strndup(NULL, opts->compression, strlen(opts->compression)))) {
    goto out_nomem;
  }
  bool hedges = false;
  for (size_t i = 0; i < opts->method_policy_count && !opts->service_config_json; i++) {
    hedges |= opts->method_policies[i].hedging.max_attempts != 0;
  }
  if (hedges) {
    ch->policies = calloc(opts->method_policy_count, sizeof *ch->policies);
    if (!ch->policies) goto out_nomem;
    ch->policy_count = opts->method_policy_count;
    for (size_t i = 0; i < ch->policy_count; i++) {
      const cpay_method_policy *p = &opts->method_policies[i];
      cpay_method_policy *q = &ch->policies[i];
      *q = *p;
      q->service = q->method = NULL;
      if ((p->service && !(q->service = cpay__strndup(NULL, p->service, strlen(p->service)))) ||
          (p->method && !(q->method = cpay__strndup(NULL, p->method, strlen(p->method))))) {
        goto out_nomem;
      }
    }
  }
  ch->loop = opts->loop;
  if (!ch->loop) {
    // Its thread starts with the first asynchronous call.
    if (!(ch->own_loop = cpay__loop_new(1, st))) goto out_free;
    ch->loop = ch->own_loop;
  }

  grpc_arg args[15];
  size_t n = 0;
  if (opts->keepalive_time_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = opts->keepalive_time_ms}};
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}};
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}};
  }
  if (opts->keepalive_timeout_ms > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = opts->keepalive_timeout_ms}};
  }
  if (opts->max_send_size) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = opts->max_send_size}};
  }
  if (opts->max_recv_size) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = opts->max_recv_size}};
  }
  if (opts->max_metadata_size > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_METADATA_SIZE, {.integer = opts->max_metadata_size}};
  }
  const char *config = opts->service_config_json ? opts->service_config_json : gen_config;
  if (config) {
    args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_ARG_SERVICE_CONFIG, {.string = (char *)config}};
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 1}};
  }
  if (opts->own_connection) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}};
  }
  if (opts->tls && opts->tls->server_name) {
    args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, {.string = (char *)opts->tls->server_name}};
  }
  args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_ARG_PRIMARY_USER_AGENT_STRING, {.string = "cpay/" CPAY_VERSION_STRING}};
  grpc_channel_args cargs = {n, args};

  cpay__grpc_ref();
  grpc_channel_credentials *creds;
  if (opts->tls) {
    grpc_ssl_pem_key_cert_pair pair = {opts->tls->private_key, opts->tls->cert_chain};
    creds = grpc_ssl_credentials_create(opts->tls->root_certs,
                                        opts->tls->cert_chain ? &pair : NULL, NULL, NULL);
  } else {
    creds = grpc_insecure_credentials_create();
  }
  if (target) {
    ch->ch = grpc_channel_create(target, creds, &cargs);
  } else {
    ch->ch = grpc_channel_create_from_fd("cpay-bridge", fd, creds, &cargs);
  }
  atomic_init(&ch->refs, 1);
  pthread_mutex_init(&ch->calls_mu, NULL);
  pthread_cond_init(&ch->calls_cv, NULL);
  pthread_mutex_init(&ch->reg_mu, NULL);
  grpc_channel_credentials_release(creds);
  free(gen_config);  // C-core copied the channel args
  return ch;

out_nomem:
  cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a channel");
out_free:
  free(gen_config);
  free_policies(ch);
  free(ch->compression);
  free(ch->icpts);
  free(ch);
  return NULL;
}

cpay_channel *cpay_channel_new(const char *target, const cpay_channel_opts *opts,
                               cpay_status *st) {
  if (!target || !*target) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "channel target is empty");
    return NULL;
  }
  return channel_new(target, -1, opts, st);
}

cpay_channel *cpay__channel_new_fd(int fd, const cpay_channel_opts *opts, cpay_status *st) {
  cpay_channel *ch = channel_new(NULL, fd, opts, st);
  if (!ch) close(fd);
  return ch;
}

const char *cpay_connectivity_name(cpay_connectivity s) {
  static const char *const kNames[] = {"idle", "connecting", "ready", "transient_failure",
                                       "shutdown"};
  if ((unsigned)s >= sizeof kNames / sizeof kNames[0]) return "unknown";
  return kNames[s];
}

// C-core's states have the numbers of cpay_connectivity.
_Static_assert((int)GRPC_CHANNEL_IDLE == (int)CPAY_CONN_IDLE &&
                   (int)GRPC_CHANNEL_CONNECTING == (int)CPAY_CONN_CONNECTING &&
                   (int)GRPC_CHANNEL_READY == (int)CPAY_CONN_READY &&
                   (int)GRPC_CHANNEL_TRANSIENT_FAILURE == (int)CPAY_CONN_TRANSIENT_FAILURE &&
                   (int)GRPC_CHANNEL_SHUTDOWN == (int)CPAY_CONN_SHUTDOWN,
               "connectivity numbering");

cpay_connectivity cpay_channel_state(cpay_channel *ch, bool try_to_connect) {
  return (cpay_connectivity)grpc_channel_check_connectivity_state(ch->ch, try_to_connect);
}

// A private queue, so the watch needs no loop thread: this thread waits on
// it, and the watch completes (at the latest) at the deadline.
cpay_code cpay_channel_watch_state(cpay_channel *ch, cpay_connectivity last, int64_t timeout_ms,
                                   cpay_connectivity *now, cpay_status *st) {
  grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch->ch, 0);
  bool changed = (int)s != (int)last;
  if (!changed) {
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_channel_watch_connectivity_state(ch->ch, (grpc_connectivity_state)last,
                                          cpay__deadline_in(timeout_ms), cq, NULL);
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    changed = ev.success;
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    s = grpc_channel_check_connectivity_state(ch->ch, 0);
  }
  *now = (cpay_connectivity)s;
  if (changed) return CPAY_OK;
  return cpay_status_set(st, CPAY_ERR_DEADLINE_EXCEEDED, "channel still %s after %lld ms",
                         cpay_connectivity_name(last), (long long)timeout_ms);
}

// A pending cpay_channel_on_state_change: C-core's watch, completing on
// the loop's queue with this op as its tag.
typedef struct state_watch {
  cpay__op op;  // first: the tag
  cpay_channel *ch;
  cpay_state_fn *fn;
  void *ctx;
} state_watch;

static void channel_unref(cpay_channel *ch);

static void on_state_watch(cpay__op *op, bool ok) {
  state_watch *w = (state_watch *)op;
  cpay_channel *ch = w->ch;
  // The state now; under the lock, so that cpay_channel_free does not
  // destroy the channel meanwhile (it runs these before it goes on).
  pthread_mutex_lock(&ch->calls_mu);
  cpay_connectivity now = ch->destroyed ? CPAY_CONN_SHUTDOWN
                                        : (cpay_connectivity)grpc_channel_check_connectivity_state(
                                              ch->ch, 0);
  pthread_mutex_unlock(&ch->calls_mu);
  w->fn(w->ctx, now, ok);
  pthread_mutex_lock(&ch->calls_mu);
  if (--ch->watches == 0) pthread_cond_broadcast(&ch->calls_cv);
  pthread_mutex_unlock(&ch->calls_mu);
  free(w);
  channel_unref(ch);
}

cpay_code cpay_channel_on_state_change(cpay_channel *ch, cpay_connectivity last,
                                       int64_t timeout_ms, cpay_state_fn *fn, void *ctx,
                                       cpay_status *st) {
  if (!fn) return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "no state callback");
  if ((unsigned)last > CPAY_CONN_SHUTDOWN) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown connectivity state %d",
                           (int)last);
  }
  if (cpay__loop_start(ch->loop, st) != CPAY_OK) return CPAY_ERR_NO_MEMORY;
  state_watch *w = calloc(1, sizeof *w);
  if (!w) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a state watch");
  w->op.fn = on_state_watch;
  w->ch = ch;
  w->fn = fn;
  w->ctx = ctx;
  pthread_mutex_lock(&ch->calls_mu);
  if (ch->closing) {
    pthread_mutex_unlock(&ch->calls_mu);
    free(w);
    return cpay_status_set(st, CPAY_ERR_CANCELLED, "the channel is being closed");
  }
  ch->watches++;
  atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
  grpc_channel_watch_connectivity_state(ch->ch, (grpc_connectivity_state)last,
                                        cpay__deadline_in(timeout_ms), cpay__loop_cq(ch->loop),
                                        &w->op);
  pthread_mutex_unlock(&ch->calls_mu);
  return CPAY_OK;
}

cpay_code cpay_channel_wait_ready(cpay_channel *ch, int64_t timeout_ms, cpay_status *st) {
  gpr_timespec deadline = cpay__deadline_in(timeout_ms);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch->ch, 1);
  bool timed_out = false;
  while (s != GRPC_CHANNEL_READY && s != GRPC_CHANNEL_SHUTDOWN && !timed_out) {
    grpc_channel_watch_connectivity_state(ch->ch, s, deadline, cq, NULL);
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    timed_out = !ev.success;  // the watch ends unsuccessfully at the deadline
    s = grpc_channel_check_connectivity_state(ch->ch, 1);
  }
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  if (s == GRPC_CHANNEL_READY) return CPAY_OK;
  static const char *const kNames[] = {"idle", "connecting", "ready", "transient failure",
                                       "shutdown"};
  return cpay_status_set(st, CPAY_ERR_UNAVAILABLE, "channel not ready after %lld ms (%s)",
                         (long long)timeout_ms, kNames[s]);
}

static void channel_unref(cpay_channel *ch) {
  if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&ch->calls_mu);
  pthread_cond_destroy(&ch->calls_cv);
  pthread_mutex_destroy(&ch->reg_mu);
  for (size_t i = 0; i < REG_SLOTS; i++) free(atomic_load(&ch->regs[i].path));
  free_policies(ch);
  free(ch->icpts);
  free(ch->compression);
  free(ch);
  cpay__grpc_unref();
}

// C-core lets a destroyed channel's calls run on to their deadlines; cpay
// cancels them, so that a thread blocked in one of them returns at once.
void cpay_channel_free(cpay_channel *ch) {
  if (!ch) return;
  pthread_mutex_lock(&ch->calls_mu);
  ch->closing = true;
  for (cpay_call *c = ch->calls; c; c = c->next) {
    grpc_call_cancel_with_status(c->rpc.call, GRPC_STATUS_CANCELLED, "the channel was closed",
                                 NULL);
  }
  // Asynchronous calls end on the loop: their on_done must have run before
  // the loop (if it is the channel's own) stops.
  while (ch->async_calls > 0) pthread_cond_wait(&ch->calls_cv, &ch->calls_mu);
  ch->destroyed = true;
  pthread_mutex_unlock(&ch->calls_mu);
  grpc_channel_destroy(ch->ch);
  // Destroying the channel ends its connectivity watches: their callbacks
  // run on the loop, which must still run them.
  pthread_mutex_lock(&ch->calls_mu);
  while (ch->watches > 0) pthread_cond_wait(&ch->calls_cv, &ch->calls_mu);
  pthread_mutex_unlock(&ch->calls_mu);
  ch->ch = NULL;
  cpay_loop_free(ch->own_loop);
  ch->own_loop = NULL;
  ch->loop = NULL;
  channel_unref(ch);
}

// ---- interceptors ------------------------------------------------------

const cpay_method *cpay_client_info_method(const cpay_client_info *info) { return info->method; }

const cpay_call_opts *cpay_client_info_opts(const cpay_client_info *info) { return info->opts; }

const void *cpay_client_info_request(const cpay_client_info *info) { return info->req; }

const cpay_md *cpay_client_info_metadata(const cpay_client_info *info, size_t *count) {
  cpay_client_info *mut = (cpay_client_info *)info;
  *count = info->md.count;
  cpay_md *view = realloc(mut->view, (info->md.count + 1) * sizeof *view);
  if (!view) {
    *count = 0;
    return NULL;
  }
  mut->view = view;
  for (size_t i = 0; i < info->md.count; i++) {
    // Short slices keep their bytes inline: point into the array element,
    // never into a copy of the slice.
    const grpc_metadata *m = &info->md.items[i];
    view[i].key = (cpay_str){(const char *)GRPC_SLICE_START_PTR(m->key), GRPC_SLICE_LENGTH(m->key)};
    view[i].value =
        (cpay_str){(const char *)GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value)};
  }
  return view;
}

cpay_code cpay_client_info_add_metadata(cpay_client_info *info, const char *key, cpay_str value) {
  return cpay__md_out_add(&info->md, cpay_str_from_c(key), value, NULL);
}

// ---- starting calls --------------------------------------------------------

static size_t reg_hash(const char *path) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h % REG_SLOTS;
}

// The registered handle of `m` on `ch`, registering it on first use; NULL
// when the table is full.
static void *registered(cpay_channel *ch, const cpay_method *m) {
  size_t h = reg_hash(m->path);
  for (size_t i = 0; i < REG_SLOTS; i++) {
    reg_entry *e = &ch->regs[(h + i) % REG_SLOTS];
    const char *ep = atomic_load_explicit(&e->path, memory_order_acquire);
    if (ep == NULL) break;
    if (strcmp(ep, m->path) == 0) return e->handle;
  }
  void *handle = NULL;
  pthread_mutex_lock(&ch->reg_mu);
  for (size_t i = 0; i < REG_SLOTS; i++) {
    reg_entry *e = &ch->regs[(h + i) % REG_SLOTS];
    const char *ep = atomic_load_explicit(&e->path, memory_order_relaxed);
    if (ep && strcmp(ep, m->path) == 0) {
      handle = e->handle;
      break;
    }
    if (ep == NULL) {
      char *copy = cpay__strndup(NULL, m->path, strlen(m->path));
      if (!copy) break;
      e->handle = grpc_channel_register_call(ch->ch, m->path, NULL, NULL);
      handle = e->handle;
      atomic_store_explicit(&e->path, copy, memory_order_release);
      break;
    }
  }
  pthread_mutex_unlock(&ch->reg_mu);
  return handle;
}

static const cpay__rpc_vt kCallVt;

// Runs the interceptors and builds the metadata the call starts with.
static cpay_code intercept(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                           const void *req, cpay__md_out *md, cpay_status *st) {
  cpay_client_info info = {m, opts, req, {0}, NULL};
  cpay_code code = CPAY_OK;
  for (size_t i = 0; i < opts->metadata_count && code == CPAY_OK; i++) {
    code = cpay__md_out_add(&info.md, opts->metadata[i].key, opts->metadata[i].value, st);
  }
  for (size_t i = 0; i < ch->icpt_count && code == CPAY_OK; i++) {
    code = ch->icpts[i].fn(ch->icpts[i].ctx, &info, st);
    if (code != CPAY_OK) cpay_status_set(st, code, "%s: interceptor failed", m->path);
  }
  free(info.view);
  const char *comp = opts->compression ? opts->compression : ch->compression;
  if (code == CPAY_OK && comp) {
    if (!cpay__valid_compression(comp)) {
      code = cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown compression %s", comp);
    } else {
      // C-core takes a per-call compression algorithm through this
      // internal key, which the public key check refuses.
      code = cpay__md_out_push(&info.md, cpay_str_from_c(GRPC_COMPRESSION_REQUEST_ALGORITHM_MD_KEY),
                               cpay_str_from_c(comp), st);
    }
  }
  if (code != CPAY_OK) {
    cpay__md_out_free(&info.md);
    return code;
  }
  *md = info.md;
  return CPAY_OK;
}

// The grpc_call of the server call this call inherits from, or NULL.
static grpc_call *parent_of(const cpay_call_opts *opts) {
  if (opts->detached) return NULL;
  cpay_server_call *p = opts->parent ? opts->parent : cpay__current_server_call();
  return p ? cpay__server_call_grpc(p) : NULL;
}

// A zeroed call of `m` on `ch` whose arena (*arena) starts in the call's
// own buffer, with its status fields ready; NULL when out of memory. The
// caller initialises c->rpc with the arena.
static cpay_call *call_alloc(cpay_channel *ch, const cpay_method *m, bool async,
                             cpay_arena **arena) {
  cpay_call *c = malloc(sizeof *c);
  if (!c) return NULL;
  memset(c, 0, offsetof(cpay_call, arena_buf));
  cpay_arena_opts ao = {.initial_block = c->arena_buf, .initial_size = sizeof c->arena_buf,
                        .alloc = &cpay__malloc_blocks};
  if (!(*arena = cpay_arena_new_opts(&ao))) {
    free(c);
    return NULL;
  }
  c->ch = ch;
  c->method = m;
  c->async = async;
  c->details = grpc_empty_slice();
  grpc_metadata_array_init(&c->init_md);
  grpc_metadata_array_init(&c->trail_md);
  return c;
}

// A new call on `ch` with metadata `md` (taken) and an absolute
// `deadline`, a child of `parent` (or NULL): on the channel's loop when
// `async`, else on a private queue. The grpc_call exists; nothing is
// started yet.
static cpay_code call_create(cpay_channel *ch, const cpay_method *m, cpay__md_out md, bool async,
                             grpc_call *parent, gpr_timespec deadline, cpay_call **out,
                             cpay_status *st) {
  *out = NULL;
  cpay_arena *arena = NULL;
  cpay_call *c = call_alloc(ch, m, async, &arena);
  grpc_completion_queue *cq = NULL;
  if (c) cq = async ? cpay__loop_cq(ch->loop) : grpc_completion_queue_create_for_next(NULL);
  if (!cq) {
    free(c);
    cpay__md_out_free(&md);
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a call");
  }
  cpay__rpc_init(&c->rpc, &kCallVt, arena, ch->send_queue_bytes, 0);
  c->op_start.rpc = c->op_init.rpc = c->op_status.rpc = c->op_close.rpc = &c->rpc;
  c->rpc.cq = cq;
  c->rpc.private_cq = !async;
  c->rpc.loop = async ? ch->loop : NULL;
  c->rpc.send_t = m->request;
  c->rpc.recv_t = m->response;
  c->md_out = md;
  c->resp_arena = arena;
  void *reg = registered(ch, m);
  if (reg) {
    c->rpc.call = grpc_channel_create_registered_call(ch->ch, parent, GRPC_PROPAGATE_DEFAULTS, cq,
                                                      reg, deadline, NULL);
  } else {
    c->rpc.call = grpc_channel_create_call(ch->ch, parent, GRPC_PROPAGATE_DEFAULTS, cq,
                                           grpc_slice_from_static_string(m->path), NULL,
                                           deadline, NULL);
  }
  atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
  // Listed (and counted) unless cpay_channel_free has begun: a call started
  // meanwhile (from a callback, say) is refused, or it would keep the
  // channel waiting.
  pthread_mutex_lock(&ch->calls_mu);
  c->listed = !ch->closing;
  if (c->listed) {
    c->next = ch->calls;
    if (c->next) c->next->prev = c;
    ch->calls = c;
    if (async) ch->async_calls++;
  }
  pthread_mutex_unlock(&ch->calls_mu);
  if (!c->listed) {
    cpay__rpc_unref(&c->rpc);
    return cpay_status_set(st, CPAY_ERR_CANCELLED, "%s: the channel was closed", m->path);
  }
  *out = c;
  return CPAY_OK;
}

// Clears the caller's result, keeping its arena.
static void clear_result(cpay_rpc_result *res) {
  if (!res) return;
  cpay_arena *keep = res->arena;
  memset(res, 0, sizeof *res);
  res->arena = keep;
}

// A new call on `ch` with `opts` (NULL: none): the interceptors run, then
// call_create.
static cpay_code call_new(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          const void *req, bool async, cpay_call **out, cpay_status *st) {
  static const cpay_call_opts kNoOpts;
  if (!opts) opts = &kNoOpts;
  *out = NULL;
  if (!ch->ch) return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "the channel was closed");
  if (async && cpay__loop_start(ch->loop, st) != CPAY_OK) return CPAY_ERR_NO_MEMORY;
  cpay__md_out md;
  cpay_code code = intercept(ch, m, opts, req, &md, st);
  if (code != CPAY_OK) return code;
  int64_t timeout = opts->timeout_ms ? opts->timeout_ms : ch->default_timeout_ms;
  code = call_create(ch, m, md, async, parent_of(opts), cpay__deadline_in(timeout), out, st);
  if (code != CPAY_OK) return code;
  if (!async) {
    (*out)->user_result = opts->result;
    clear_result(opts->result);
  }
  return CPAY_OK;
}

static void on_start(cpay__op *op, bool ok);
static void on_unary(cpay__op *op, bool ok);
static void on_init(cpay__op *op, bool ok);
static void on_status(cpay__op *op, bool ok);
static void on_close(cpay__op *op, bool ok);

// Starts the batches every call begins with: for a unary call (op_start
// is on_unary) one batch with everything; otherwise the initial metadata
// (with the request and the half-close, when there is one request), and
// the receipt of the initial metadata and of the status. mu held.
static bool start_batches(cpay_call *c, grpc_byte_buffer *req, uint32_t md_flags) {
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].flags = md_flags;
  ops[n].data.send_initial_metadata.count = c->md_out.count;
  ops[n++].data.send_initial_metadata.metadata = c->md_out.items;
  if (req) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = req;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    c->rpc.closing = true;
    c->close_started = true;
  }
  if (c->op_start.fn == on_unary) {
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &c->unary_bb;
    ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[n].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[n].data.recv_status_on_client.status = &c->status;
    ops[n++].data.recv_status_on_client.status_details = &c->details;
    return cpay__rpc_start_batch(&c->rpc, ops, n, &c->op_start);
  }
  if (!cpay__rpc_start_batch(&c->rpc, ops, n, &c->op_start)) return false;
  if (c->async && c->method->kind == CPAY_METHOD_CLIENT_STREAMING) {
    // The single response is read on its own, onto the call's arena. Here,
    // under the lock: once the batches run the call may end at any time.
    (void)cpay__rpc_read_locked(&c->rpc, NULL, NULL);  // fails only once ended
  }
  grpc_op init = {0};
  init.op = GRPC_OP_RECV_INITIAL_METADATA;
  init.data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
  grpc_op status = {0};
  status.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  status.data.recv_status_on_client.trailing_metadata = &c->trail_md;
  status.data.recv_status_on_client.status = &c->status;
  status.data.recv_status_on_client.status_details = &c->details;
  return cpay__rpc_start_batch(&c->rpc, &init, 1, &c->op_init) &&
         cpay__rpc_start_batch(&c->rpc, &status, 1, &c->op_status);
}

static void call_unref(cpay_call *c);
static void async_ended(cpay_call *c);
typedef struct hedge hedge;
static void hedge_attempt_done(hedge *h, cpay_call *a);

static bool no_batches(cpay__rpc *r, void *arg) {
  (void)arg;
  return r->batches == 0;
}

static uint32_t md_flags(const cpay_call_opts *opts) {
  return opts && opts->wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
}

// Starts `c` with the encoded request `bb` (NULL for client and bidi
// streaming; still the caller's); on failure releases `c` and returns the
// error.
static cpay_code call_begin_bb(cpay_call *c, grpc_byte_buffer *bb, uint32_t flags,
                               cpay_status *st) {
  cpay_code code = CPAY_OK;
  pthread_mutex_lock(&c->rpc.mu);
  bool started = start_batches(c, bb, flags);
  if (!started) {
    // A batch C-core took still completes, but calls nothing back.
    grpc_call_cancel(c->rpc.call, NULL);
    c->done = true;
    code = cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the call could not be started",
                           c->method->path);
  }
  pthread_mutex_unlock(&c->rpc.mu);
  if (code != CPAY_OK) {
    if (c->async) {
      async_ended(c);  // no on_done will come
    } else {
      // A batch C-core took completes on the private queue: take it off.
      pthread_mutex_lock(&c->rpc.mu);
      (void)cpay__rpc_wait(&c->rpc, no_batches, NULL, 0);
      pthread_mutex_unlock(&c->rpc.mu);
    }
    call_unref(c);
  }
  return code;
}

// Starts `c` with `req` (NULL for client and bidi streaming); on failure
// releases it and returns the error.
static cpay_code call_begin(cpay_call *c, const cpay_call_opts *opts, const void *req,
                            cpay_status *st) {
  const cpay_method *m = c->method;
  bool one_req = m->kind == CPAY_METHOD_SERVER_STREAMING || m->kind == CPAY_METHOD_UNARY;
  grpc_byte_buffer *bb = NULL;
  cpay_code code = one_req ? cpay__msg_to_bb(req, m->request, &bb, st) : CPAY_OK;
  if (code != CPAY_OK) {
    // Not started: as call_begin_bb's failure.
    c->done = true;
    if (c->async) async_ended(c);
    call_unref(c);
    return code;
  }
  code = call_begin_bb(c, bb, md_flags(opts), st);
  if (bb) grpc_byte_buffer_destroy(bb);  // C-core holds its own reference
  return code;
}

static cpay_code check_req(const cpay_method *m, const void *req, cpay_status *st) {
  bool one_req = m->kind == CPAY_METHOD_SERVER_STREAMING || m->kind == CPAY_METHOD_UNARY;
  if (one_req == (req != NULL)) return CPAY_OK;
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                         "%s: a request is passed for unary and server streaming methods only",
                         m->path);
}

// ---- completions ---------------------------------------------------------------

static void note_initial_md(cpay_call *c) {
  c->init_received = true;
  if (cpay__md_in_copy(&c->init_md, c->rpc.arena, &c->init_view, &c->init_count) != CPAY_OK) {
    c->init_count = 0;
  }
}

// The result of the call, onto `a`: code, message, metadata, details.
static void fill_result(cpay_call *c, cpay_rpc_result *res, cpay_arena *a) {
  res->code = (cpay_grpc_code)c->status;
  res->message = cpay__slice_dup(a, c->details);
  (void)cpay__md_in_copy(&c->init_md, a, &res->initial_md, &res->initial_md_count);
  (void)cpay__md_in_copy(&c->trail_md, a, &res->trailing_md, &res->trailing_md_count);
  res->details = NULL;
  res->detail_count = 0;
  if (c->status == GRPC_STATUS_OK) return;
  for (size_t i = 0; i < c->trail_md.count; i++) {
    const grpc_metadata *md = &c->trail_md.metadata[i];
    if (!grpc_slice_str_cmp(md->key, "grpc-status-details-bin")) {
      // A trailer that does not decode or contradicts the status is left
      // out, as grpc_status does; the status itself stands.
      (void)cpay__status_details_decode(GRPC_SLICE_START_PTR(md->value),
                                        GRPC_SLICE_LENGTH(md->value), res->code, a,
                                        &res->details, &res->detail_count, NULL);
      break;
    }
  }
}

static void deliver_message(cpay_call *c, void *msg) {
  if (!c->reactor.on_message) return;
  if (c->method->client_deliver) {
    c->method->client_deliver(c->reactor.on_message, c->state, c, msg);
  } else {
    ((void (*)(void *, cpay_call *, void *))c->reactor.on_message)(c->state, c, msg);
  }
}

static void deliver_metadata(cpay_call *c) {
  if (c->reactor.on_metadata) c->reactor.on_metadata(c->state, c, c->init_view, c->init_count);
}

static void on_start(cpay__op *op, bool ok) {
  (void)ok;  // a failed send shows in the status
  cpay_call *c = CPAY__CONTAINER_OF(op, cpay_call, op_start);
  cpay__rpc_batch_end(&c->rpc);
}

// An OK status without a usable response ends the call INTERNAL, as
// gRPC's own clients report it: what on_done gets.
static void fail_response(cpay_call *c, const char *fmt, ...) CPAY_PRINTF(2, 3);

static void fail_response(cpay_call *c, const char *fmt, ...) {
  char buf[CPAY_STATUS_MSG_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  c->status = GRPC_STATUS_INTERNAL;
  grpc_slice_unref(c->details);
  c->details = grpc_slice_from_copied_string(buf);
}

static void on_unary(cpay__op *op, bool ok) {
  (void)ok;
  cpay_call *c = CPAY__CONTAINER_OF(op, cpay_call, op_start);
  pthread_mutex_lock(&c->rpc.mu);
  note_initial_md(c);
  c->status_received = true;
  // An attempt of a hedged call delivers nothing: the hedge takes the
  // winner's response when it ends (call_batch_done).
  bool deliver = c->async && !c->done && !c->attempt_of;
  pthread_mutex_unlock(&c->rpc.mu);
  if (deliver) {
    deliver_metadata(c);
    void *resp = NULL;
    cpay_status dst = {0};
    if (c->status != GRPC_STATUS_OK) {
      // on_done reports it
    } else if (!c->unary_bb) {
      fail_response(c, "%s: OK status without a response", c->method->path);
    } else if (cpay__bb_to_msg(c->unary_bb, c->method->response, c->rpc.arena, &resp, &dst) !=
               CPAY_OK) {
      fail_response(c, "%s: the response could not be decoded as %s: %s", c->method->path,
                    c->method->response->full_name, cpay_status_msg(&dst));
    } else {
      deliver_message(c, resp);
    }
  }
  cpay__rpc_batch_end(&c->rpc);
}

static void on_init(cpay__op *op, bool ok) {
  (void)ok;
  cpay_call *c = CPAY__CONTAINER_OF(op, cpay_call, op_init);
  pthread_mutex_lock(&c->rpc.mu);
  note_initial_md(c);
  bool deliver = c->async && !c->done;
  pthread_mutex_unlock(&c->rpc.mu);
  if (deliver) {
    deliver_metadata(c);
    // Completions of separate batches come in any order: a message read
    // first waited for this.
    pthread_mutex_lock(&c->rpc.mu);
    c->md_delivered = true;
    bool held = c->held;
    c->held = false;
    pthread_mutex_unlock(&c->rpc.mu);
    if (held) deliver_message(c, c->held_msg);
  }
  cpay__rpc_batch_end(&c->rpc);
}

static void on_status(cpay__op *op, bool ok) {
  (void)ok;
  cpay_call *c = CPAY__CONTAINER_OF(op, cpay_call, op_status);
  pthread_mutex_lock(&c->rpc.mu);
  c->status_received = true;
  cpay__rpc_fail_sends(&c->rpc);
  pthread_mutex_unlock(&c->rpc.mu);
  cpay__rpc_batch_end(&c->rpc);
}

static void on_close(cpay__op *op, bool ok) {
  (void)ok;
  cpay_call *c = CPAY__CONTAINER_OF(op, cpay_call, op_close);
  cpay__rpc_batch_end(&c->rpc);
}

// The queue is empty after close_send: half-close. mu held.
static void call_drained(cpay__rpc *r) {
  cpay_call *c = (cpay_call *)r;
  if (c->close_started) return;
  c->close_started = true;
  grpc_op op = {0};
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  (void)cpay__rpc_start_batch(r, &op, 1, &c->op_close);  // a refusal shows in the status
}

static void call_read_done(cpay__rpc *r, void *msg, cpay_code code, const cpay_status *err) {
  cpay_call *c = (cpay_call *)r;
  cpay_status why = {0};
  if (code != CPAY_OK) {
    // The call ends INTERNAL, also when the server's OK status is in
    // already (call_batch_done then says so).
    cpay_status_set(&why, code, "%s: the response could not be decoded as %s: %s",
                    c->method->path, c->method->response->full_name, cpay_status_msg(err));
    grpc_call_cancel_with_status(r->call, GRPC_STATUS_INTERNAL, cpay_status_msg(&why), NULL);
  }
  if (c->async) {
    pthread_mutex_lock(&r->mu);
    if (msg) c->got_response = true;
    if (code != CPAY_OK) {
      c->read_code = code;
      c->read_err = why;
    }
    // The single response of a client stream comes alone, or not at all;
    // a response that did not decode is not the end of the stream.
    bool skip = (!msg && c->method->kind == CPAY_METHOD_CLIENT_STREAMING) || code != CPAY_OK;
    bool hold = !skip && !c->md_delivered;
    if (hold) {
      c->held = true;
      c->held_msg = msg;
    }
    pthread_mutex_unlock(&r->mu);
    if (!hold && !skip) deliver_message(c, msg);
    return;
  }
  pthread_mutex_lock(&r->mu);
  c->read_ready = true;
  c->read_msg = msg;
  c->read_code = code;
  c->read_err = *err;
  cpay__rpc_wake(r);
  pthread_mutex_unlock(&r->mu);
}

static void call_ready(cpay__rpc *r) {
  cpay_call *c = (cpay_call *)r;
  if (c->async && c->reactor.on_ready) c->reactor.on_ready(c->state, c);
}

// After each batch: an asynchronous call whose status is in and whose
// batches are all done ends here, with on_done.
static void call_batch_done(cpay__rpc *r) {
  cpay_call *c = (cpay_call *)r;
  if (!c->async) return;
  pthread_mutex_lock(&r->mu);
  bool end = c->status_received && r->batches == 0 && !c->done;
  if (end) {
    c->done = true;
    cpay__rpc_end(r);
  }
  pthread_mutex_unlock(&r->mu);
  if (!end) return;
  if (c->attempt_of) {
    hedge_attempt_done(c->attempt_of, c);
    async_ended(c);
    call_unref(c);
    return;
  }
  if (c->status == GRPC_STATUS_OK && c->read_code != CPAY_OK) {
    fail_response(c, "%s", cpay_status_msg(&c->read_err));
  } else if (c->status == GRPC_STATUS_OK && c->method->kind == CPAY_METHOD_CLIENT_STREAMING &&
             !c->got_response) {
    fail_response(c, "%s: OK status without a response", c->method->path);
  }
  fill_result(c, &c->result, r->arena);
  if (c->reactor.on_done) c->reactor.on_done(c->state, c, &c->result);
  async_ended(c);
  call_unref(c);
}

// The last reference went: off the channel's list, and freed.
static void call_free(cpay__rpc *r) {
  cpay_call *c = (cpay_call *)r;
  cpay_channel *ch = c->ch;
  if (c->listed) {
    pthread_mutex_lock(&ch->calls_mu);
    if (c->prev) {
      c->prev->next = c->next;
    } else {
      ch->calls = c->next;
    }
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&ch->calls_mu);
  }
  if (c->rpc.call) grpc_call_unref(c->rpc.call);
  if (c->rpc.private_cq) {
    grpc_completion_queue_shutdown(c->rpc.cq);
    while (grpc_completion_queue_next(c->rpc.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(c->rpc.cq);
  }
  if (c->unary_bb) grpc_byte_buffer_destroy(c->unary_bb);
  grpc_metadata_array_destroy(&c->init_md);
  grpc_metadata_array_destroy(&c->trail_md);
  grpc_slice_unref(c->details);
  cpay__md_out_free(&c->md_out);
  cpay__rpc_destroy(&c->rpc);
  cpay_arena_free(c->rpc.arena);
  free(c);
  channel_unref(ch);
}

static const cpay__rpc_vt kCallVt = {
    .before_send = NULL,
    .drained = call_drained,
    .read_done = call_read_done,
    .ready = call_ready,
    .batch_done = call_batch_done,
    .free = call_free,
};

// Drops a reference: the runtime's (after on_done, or a blocking call's
// end) or the caller's (cpay_call_free).
static void call_unref(cpay_call *c) { cpay__rpc_unref(&c->rpc); }

// An asynchronous call has delivered its on_done (or never will): the
// channel no longer waits for it.
static void async_ended(cpay_call *c) {
  cpay_channel *ch = c->ch;
  pthread_mutex_lock(&ch->calls_mu);
  if (--ch->async_calls == 0) pthread_cond_broadcast(&ch->calls_cv);
  pthread_mutex_unlock(&ch->calls_mu);
}

// ---- hedging -------------------------------------------------------------------
//
// gRFC A6 hedging of unary calls, which C-core 1.51 does not do: its
// service config parser (retry_service_config.cc) reads only "retryPolicy"
// per method, and its retry filter has no hedging (a TODO there). So cpay
// runs it above C-core, with no balancer of its own: each attempt is an
// ordinary asynchronous call on the channel (so round_robin picks a replica
// for each), started with the interceptors' metadata and the encoded
// request of the one logical call, with the call's absolute deadline.
//
// The logical call is a cpay_call without a grpc_call: its lock, references
// and arena are the hedge's, and a hedged asynchronous call is what the
// caller holds. It references its attempts until it is freed; each attempt
// references it until the attempt's end has been reported (attempts always
// run on the channel's loop, also for a blocking call, whose thread waits on
// the logical call's condition variable). A timer of the loop starts the
// next attempt after hedging_delay_ms; it references the logical call while
// armed.

struct hedge {
  cpay_call *call;  // the logical call
  cpay_hedging_policy pol;
  grpc_byte_buffer *req;  // the encoded request; each attempt sends a copy
  cpay__md_out md;        // the interceptors' metadata; each attempt sends a copy
  uint32_t flags;         // wait_for_ready
  grpc_call *parent;      // referenced, or NULL
  int64_t deadline_ms;    // cpay__now_ms clock; 0: none
  // Below, under the logical call's lock.
  cpay_call *attempts[CPAY__MAX_ATTEMPTS];  // referenced
  int started;
  int running;  // started and not yet reported their end
  bool committed;  // the outcome is known: no more attempts
  bool cancelled;  // the caller cancelled: no more attempts
  bool exhausted;  // an attempt could not start: no more
  cpay_call *last;     // the last attempt that ended
  cpay_call *outcome;  // once committed: the attempt whose end is the call's, or NULL
  cpay_code start_code;  // when no attempt could start: why
  cpay_status start_st;
  cpay__timer timer;
  bool timer_armed;
  // The timer fired but its callback has not taken the lock yet: it will
  // arm again or start the next attempt itself.
  bool fire_pending;
  int64_t next_at;  // when the next attempt is due (cpay__now_ms clock)
};

// The policy of `m` on `ch` when it hedges, else NULL.
static const cpay_method_policy *hedging_for(const cpay_channel *ch, const cpay_method *m) {
  if (!ch->policy_count || m->kind != CPAY_METHOD_UNARY) return NULL;
  const cpay_method_policy *p = cpay__method_policy(ch->policies, ch->policy_count, m->path);
  return p && p->hedging.max_attempts ? p : NULL;
}

static void hedge_timer_fn(cpay__timer *t);

static void hedge_disarm(hedge *h) {
  if (!h->timer_armed) return;
  h->timer_armed = false;
  if (cpay__timer_disarm(h->call->ch->loop, &h->timer)) {
    // Never the last reference: whoever disarms holds one.
    atomic_fetch_sub_explicit(&h->call->rpc.refs, 1, memory_order_acq_rel);
  } else {
    h->fire_pending = true;  // its callback drops the timer's reference
  }
}

// Arms the timer for the next attempt, due at h->next_at, unless none may
// follow or a fire is pending (its callback comes back here). Lock held.
// `kick`: the caller is not on the loop, whose threads may sleep past it.
static void hedge_arm(hedge *h, bool kick) {
  if (h->committed || h->cancelled || h->exhausted || h->started >= h->pol.max_attempts ||
      h->fire_pending || h->timer_armed) {
    return;
  }
  cpay_call *L = h->call;
  cpay__rpc_ref(&L->rpc);  // the timer's
  h->timer_armed = true;
  int armed = cpay__timer_arm(L->ch->loop, &h->timer, h->next_at);
  if (armed < 0) {
    // Out of memory: no more hedges; the attempts running decide.
    h->timer_armed = false;
    atomic_fetch_sub_explicit(&L->rpc.refs, 1, memory_order_acq_rel);
  } else if (armed > 0 && kick) {
    // Woken by an empty batch on the newest attempt. If that has ended
    // already, a loop thread is about to report it and will see the timer.
    cpay_call *a = h->attempts[h->started - 1];
    pthread_mutex_lock(&a->rpc.mu);
    (void)cpay__rpc_kick(&a->rpc);
    pthread_mutex_unlock(&a->rpc.mu);
  }
}

// The outcome is `a` (NULL: no attempt started or ended): the others are
// cancelled, no more start, and a blocking waiter wakes. Lock held.
static void hedge_commit(hedge *h, cpay_call *a) {
  h->committed = true;
  h->outcome = a;
  hedge_disarm(h);
  for (int i = 0; i < h->started; i++) {
    if (h->attempts[i] != a) {
      grpc_call_cancel_with_status(h->attempts[i]->rpc.call, GRPC_STATUS_CANCELLED,
                                   "another attempt of this hedged call won", NULL);
    }
  }
  cpay__rpc_wake(&h->call->rpc);
}

// Starts one attempt; lock held. False (and exhausted) when it could not.
static bool hedge_start_one(hedge *h) {
  cpay_call *L = h->call;
  cpay_channel *ch = L->ch;
  cpay_status st = {0};
  cpay__md_out md = {0};
  cpay_code code = CPAY_OK;
  for (size_t i = 0; i < h->md.count && code == CPAY_OK; i++) {
    const grpc_metadata *e = &h->md.items[i];
    code = cpay__md_out_push(
        &md, (cpay_str){(const char *)GRPC_SLICE_START_PTR(e->key), GRPC_SLICE_LENGTH(e->key)},
        (cpay_str){(const char *)GRPC_SLICE_START_PTR(e->value), GRPC_SLICE_LENGTH(e->value)},
        &st);
  }
  if (code != CPAY_OK) {
    cpay__md_out_free(&md);
    goto out_fail;
  }
  gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
  if (h->deadline_ms) {
    int64_t left = h->deadline_ms - cpay__now_ms();
    deadline = cpay__deadline_in(left > 0 ? left : 0);
  }
  cpay_call *a;
  code = call_create(ch, L->method, md, true, h->parent, deadline, &a, &st);
  if (code != CPAY_OK) goto out_fail;
  a->attempt_of = h;
  a->op_start.fn = on_unary;
  // References: the hedge's on the attempt, the attempt's on the hedge.
  cpay__rpc_ref(&a->rpc);
  cpay__rpc_ref(&L->rpc);
  h->attempts[h->started++] = a;
  h->running++;
  grpc_byte_buffer *bb = grpc_byte_buffer_copy(h->req);
  if (!bb) {
    grpc_call_cancel(a->rpc.call, NULL);
    a->done = true;
    async_ended(a);
    call_unref(a);
    h->running--;
    call_unref(L);
    code = cpay_status_set(&st, CPAY_ERR_NO_MEMORY, "out of memory for an attempt");
    goto out_fail;
  }
  code = call_begin_bb(a, bb, h->flags, &st);
  grpc_byte_buffer_destroy(bb);  // C-core took the slices it sends
  if (code != CPAY_OK) {
    // call_begin_bb released the runtime's reference; it reports no end.
    h->running--;
    call_unref(L);
    goto out_fail;
  }
  return true;

out_fail:
  h->exhausted = true;
  if (h->start_code == CPAY_OK) {
    h->start_code = code;
    h->start_st = st;
  }
  return false;
}

// Starts the next attempt(s) if the policy allows, and arms the timer for
// the one after. Lock held. `kick`: the caller is not on the loop, whose
// threads may sleep past the timer.
static void hedge_next(hedge *h, bool kick) {
  hedge_disarm(h);
  for (;;) {
    if (h->committed || h->cancelled || h->exhausted || h->started >= h->pol.max_attempts) {
      return;
    }
    // No attempt after the deadline; the first always goes (C-core ends it).
    if (h->started > 0 && h->deadline_ms && cpay__now_ms() >= h->deadline_ms) return;
    if (!hedge_start_one(h)) return;
    if (h->started >= h->pol.max_attempts) return;
    if (h->pol.hedging_delay_ms > 0) break;
  }
  // The delay counts from the newest attempt (one a non-fatal end started
  // early included).
  h->next_at = cpay__now_ms() + h->pol.hedging_delay_ms;
  hedge_arm(h, kick);
}

// With no attempt running and none to come, the last one's end is the
// call's. Lock held; true when this committed.
static bool hedge_settle(hedge *h) {
  if (h->committed || h->running > 0) return false;
  hedge_commit(h, h->last);
  return true;
}

static void hedge_deliver(hedge *h);

static void hedge_timer_fn(cpay__timer *t) {
  hedge *h = CPAY__CONTAINER_OF(t, hedge, timer);
  cpay_call *L = h->call;
  pthread_mutex_lock(&L->rpc.mu);
  h->timer_armed = false;
  h->fire_pending = false;
  if (cpay__now_ms() < h->next_at) {
    hedge_arm(h, false);  // an attempt started since it was armed: its delay
  } else {
    hedge_next(h, false);
  }
  bool deliver = hedge_settle(h) && L->async;
  pthread_mutex_unlock(&L->rpc.mu);
  if (deliver) hedge_deliver(h);
  call_unref(L);  // the timer's
}

// Attempt `a` ended (on the loop): OK or a fatal status commits it; a
// non-fatal one starts the next attempt at once.
static void hedge_attempt_done(hedge *h, cpay_call *a) {
  cpay_call *L = h->call;
  pthread_mutex_lock(&L->rpc.mu);
  h->running--;
  bool deliver = false;
  if (!h->committed) {
    h->last = a;
    uint32_t bit = (unsigned)a->status <= CPAY_GRPC_UNAUTHENTICATED
                       ? CPAY_GRPC_CODE_BIT((unsigned)a->status)
                       : 0;
    if (a->status == GRPC_STATUS_OK || !(h->pol.non_fatal_codes & bit)) {
      hedge_commit(h, a);
      deliver = L->async;
    } else {
      hedge_next(h, false);
      deliver = hedge_settle(h) && L->async;
    }
  }
  pthread_mutex_unlock(&L->rpc.mu);
  if (deliver) hedge_deliver(h);
  call_unref(L);  // the attempt's
}

// Cancels a hedged call: no more attempts; the running ones are cancelled
// and the call ends when they have (CANCELLED, unless one won first).
static void hedge_cancel(hedge *h) {
  cpay_call *L = h->call;
  pthread_mutex_lock(&L->rpc.mu);
  if (!h->committed && !h->cancelled) {
    h->cancelled = true;
    hedge_disarm(h);
    for (int i = 0; i < h->started; i++) grpc_call_cancel(h->attempts[i]->rpc.call, NULL);
  }
  pthread_mutex_unlock(&L->rpc.mu);
}

// The result of the hedged call onto `a`: the outcome's, or the error that
// kept every attempt from starting.
static void hedge_result(hedge *h, cpay_rpc_result *res, cpay_arena *a) {
  if (h->outcome) {
    fill_result(h->outcome, res, a);
    return;
  }
  cpay_arena *keep = res->arena;
  memset(res, 0, sizeof *res);
  res->arena = keep;
  res->code = cpay_grpc_code_from_cpay(h->start_code);
  res->message = cpay_str_dup(a, cpay_str_from_c(cpay_status_msg(&h->start_st)));
}

// Decodes the outcome's response onto `a` (the outcome ended OK). On
// failure *resp is NULL and `st` says why.
static cpay_code hedge_response(hedge *h, cpay_arena *a, void **resp, cpay_status *st) {
  const cpay_method *m = h->call->method;
  *resp = NULL;
  if (!h->outcome->unary_bb) {
    return cpay_status_set(st, CPAY_ERR_MALFORMED, "%s: OK status without a response", m->path);
  }
  return cpay__bb_to_msg(h->outcome->unary_bb, m->response, a, resp, st);
}

// An asynchronous hedged call ended: its callbacks, on the loop, as an
// ordinary unary call delivers them (metadata, message, done).
static void hedge_deliver(hedge *h) {
  cpay_call *L = h->call;
  cpay_arena *a = L->rpc.arena;
  hedge_result(h, &L->result, a);
  void *resp = NULL;
  if (L->result.code == CPAY_GRPC_OK) {
    cpay_status dst = {0};
    if (hedge_response(h, a, &resp, &dst) != CPAY_OK) {
      // As an unhedged call reports it (fail_response).
      L->result.code = CPAY_GRPC_INTERNAL;
      L->result.message = cpay_str_dup(a, cpay_str_from_c(cpay_status_msg(&dst)));
    }
  }
  pthread_mutex_lock(&L->rpc.mu);
  if (h->outcome) {
    L->init_received = true;
    if (cpay__md_in_copy(&h->outcome->init_md, a, &L->init_view, &L->init_count) != CPAY_OK) {
      L->init_count = 0;
    }
  }
  L->status_received = true;
  L->done = true;
  pthread_mutex_unlock(&L->rpc.mu);
  if (h->outcome) deliver_metadata(L);
  if (resp) deliver_message(L, resp);
  if (L->reactor.on_done) L->reactor.on_done(L->state, L, &L->result);
  async_ended(L);
  call_unref(L);  // the runtime's
}

static void hedge_call_free(cpay__rpc *r) {
  cpay_call *L = (cpay_call *)r;
  hedge *h = L->hedge;
  for (int i = 0; i < h->started; i++) call_unref(h->attempts[i]);
  if (h->req) grpc_byte_buffer_destroy(h->req);
  cpay__md_out_free(&h->md);
  if (h->parent) grpc_call_unref(h->parent);
  free(h);
  cpay_channel *ch = L->ch;
  cpay__rpc_destroy(&L->rpc);
  cpay_arena_free(L->rpc.arena);
  free(L);
  channel_unref(ch);
}

static void hedge_noop_batch(cpay__rpc *r) { (void)r; }

// A logical call has no batches of its own; only free is ever called.
static const cpay__rpc_vt kHedgeVt = {
    .batch_done = hedge_noop_batch,
    .free = hedge_call_free,
};

// A hedged call of `m` under policy `p`, with its first attempt started
// (the caller then waits, or returns). The runtime holds one reference
// until the end is delivered (asynchronous) or seen (blocking).
// With `caller_ref`, the caller gets a reference of its own too, taken
// before any callback can come.
static cpay_code hedge_start(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                             const cpay_method_policy *p, const void *req, bool async,
                             const cpay_call_reactor *reactor, void *state, bool caller_ref,
                             cpay_call **out, cpay_status *st) {
  static const cpay_call_opts kNoOpts;
  if (!opts) opts = &kNoOpts;
  *out = NULL;
  if (!ch->ch) return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "the channel was closed");
  if (cpay__loop_start(ch->loop, st) != CPAY_OK) return CPAY_ERR_NO_MEMORY;
  hedge *h = calloc(1, sizeof *h);
  cpay_arena *arena = NULL;
  cpay_call *L = h ? call_alloc(ch, m, async, &arena) : NULL;
  if (!L) {
    free(h);
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a call");
  }
  cpay_code code = intercept(ch, m, opts, req, &h->md, st);
  if (code == CPAY_OK) code = cpay__msg_to_bb(req, m->request, &h->req, st);
  if (code != CPAY_OK) {
    cpay__md_out_free(&h->md);
    free(h);
    cpay_arena_free(arena);
    free(L);
    return code;
  }
  cpay__rpc_init(&L->rpc, &kHedgeVt, arena, 0, 0);
  L->rpc.loop = ch->loop;
  L->hedge = h;
  h->call = L;
  h->pol = p->hedging;
  h->flags = md_flags(opts);
  h->parent = parent_of(opts);
  if (h->parent) grpc_call_ref(h->parent);  // later attempts start after it may have ended
  // One deadline for every attempt: the call's, or the policy's timeout if
  // earlier (C-core would apply that per attempt, from its start).
  int64_t timeout = opts->timeout_ms ? opts->timeout_ms : ch->default_timeout_ms;
  if (p->timeout_ms > 0 && (timeout < 0 || p->timeout_ms < timeout)) timeout = p->timeout_ms;
  if (timeout >= 0) h->deadline_ms = cpay__ms_from_now(timeout);
  h->timer.fn = hedge_timer_fn;
  atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
  pthread_mutex_lock(&ch->calls_mu);
  bool closing = ch->closing;
  if (!closing && async) ch->async_calls++;
  pthread_mutex_unlock(&ch->calls_mu);
  if (closing) {
    call_unref(L);
    return cpay_status_set(st, CPAY_ERR_CANCELLED, "%s: the channel was closed", m->path);
  }
  if (reactor) L->reactor = *reactor;
  L->state = state;
  if (caller_ref) cpay__rpc_ref(&L->rpc);
  pthread_mutex_lock(&L->rpc.mu);
  hedge_next(h, true);
  bool none = h->started == 0;
  pthread_mutex_unlock(&L->rpc.mu);
  if (none) {
    // A call that fails to start calls nothing back.
    code = cpay_status_set(st, h->start_code, "%s", cpay_status_msg(&h->start_st));
    if (async) async_ended(L);
    if (caller_ref) call_unref(L);
    call_unref(L);
    return code;
  }
  *out = L;
  return CPAY_OK;
}

static bool hedge_committed(cpay__rpc *r, void *arg) {
  (void)arg;
  return ((cpay_call *)r)->hedge->committed;
}

// cpay_unary_call under a hedging policy: the attempts run on the loop and
// this thread waits for the outcome.
// The error code and message of a call that ended with a status other
// than OK: "CODE: details".
static cpay_code status_error(const cpay_call *c, cpay_status *st) {
  cpay_grpc_code code = (cpay_grpc_code)c->status;
  return cpay_status_set(st, cpay_grpc_code_to_cpay(code), "%s: %.*s", cpay_grpc_code_name(code),
                         (int)GRPC_SLICE_LENGTH(c->details),
                         (const char *)GRPC_SLICE_START_PTR(c->details));
}

static cpay_code hedged_unary(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                              const cpay_method_policy *p, const void *req, cpay_arena *arena,
                              void **resp, cpay_status *st) {
  cpay_rpc_result *res = opts ? opts->result : NULL;
  clear_result(res);
  cpay_call *L;
  cpay_code code = hedge_start(ch, m, opts, p, req, false, NULL, NULL, false, &L, st);
  if (code != CPAY_OK) return code;
  hedge *h = L->hedge;
  pthread_mutex_lock(&L->rpc.mu);
  (void)cpay__rpc_wait(&L->rpc, hedge_committed, NULL, 0);
  pthread_mutex_unlock(&L->rpc.mu);
  // Committed: the outcome no longer changes (later attempts only end).
  if (res) hedge_result(h, res, res->arena ? res->arena : arena ? arena : L->rpc.arena);
  if (!h->outcome) {
    code = cpay_status_set(st, h->start_code, "%s", cpay_status_msg(&h->start_st));
  } else if (h->outcome->status != GRPC_STATUS_OK) {
    code = status_error(h->outcome, st);
  } else {
    code = hedge_response(h, arena, resp, st);
  }
  call_unref(L);  // the runtime's, which is the only one left but the attempts'
  return code;
}

// ---- blocking calls ------------------------------------------------------------

static bool status_in(cpay__rpc *r, void *arg) {
  (void)arg;
  cpay_call *c = (cpay_call *)r;
  return c->status_received && r->batches == 0;
}

// Waits for the status and turns it into the caller's result and code.
// `a`: where the result goes when the caller's result names no arena.
static cpay_code finish_status(cpay_call *c, cpay_arena *a, cpay_status *st) {
  pthread_mutex_lock(&c->rpc.mu);
  (void)cpay__rpc_wait(&c->rpc, status_in, NULL, 0);
  c->done = true;
  pthread_mutex_unlock(&c->rpc.mu);
  cpay_rpc_result *res = c->user_result;
  if (res) fill_result(c, res, res->arena ? res->arena : a ? a : c->rpc.arena);
  return c->status == GRPC_STATUS_OK ? CPAY_OK : status_error(c, st);
}

cpay_code cpay_unary_call(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          const void *req, cpay_arena *arena, void **resp, cpay_status *st) {
  *resp = NULL;
  const cpay_method_policy *p = hedging_for(ch, m);
  // On an event thread the attempts could wait for this very thread.
  if (p && !cpay__on_event_thread()) return hedged_unary(ch, m, opts, p, req, arena, resp, st);
  cpay_call *c;
  cpay_code code = call_new(ch, m, opts, req, false, &c, st);
  if (code != CPAY_OK) return code;
  c->op_start.fn = on_unary;
  code = call_begin(c, opts, req, st);
  if (code != CPAY_OK) return code;
  code = finish_status(c, arena, st);
  if (code == CPAY_OK) {
    if (!c->unary_bb) {
      code = cpay_status_set(st, CPAY_ERR_MALFORMED, "%s: OK status without a response", m->path);
    } else {
      code = cpay__bb_to_msg(c->unary_bb, m->response, arena, resp, st);
    }
  }
  cpay_call_free(c);
  return code;
}

cpay_code cpay_call_start(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          const void *req, cpay_call **call, cpay_status *st) {
  *call = NULL;
  cpay_code code = check_req(m, req, st);
  if (code != CPAY_OK) return code;
  cpay_call *c;
  code = call_new(ch, m, opts, req, false, &c, st);
  if (code != CPAY_OK) return code;
  // A unary call started here runs as a stream of one message.
  c->op_start.fn = on_start;
  c->op_init.fn = on_init;
  c->op_status.fn = on_status;
  c->op_close.fn = on_close;
  code = call_begin(c, opts, req, st);
  if (code == CPAY_OK) *call = c;
  return code;
}

static cpay_code refuse_async(cpay_call *c, const char *fn, const char *instead,
                              cpay_status *st) {
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: %s on an asynchronous call (use %s)",
                         c->method->path, fn, instead);
}

cpay_code cpay_call_send(cpay_call *c, const void *msg, cpay_status *st) {
  if (c->async) return refuse_async(c, "cpay_call_send", "cpay_call_write", st);
  cpay_code code = cpay__rpc_write(&c->rpc, msg, CPAY__WRITE_FOR_SENT, st);
  if (code != CPAY_ERR_CANCELLED) return code;
  // The call ended: its status says why when it is in; waiting for it
  // here could wait for the deadline.
  pthread_mutex_lock(&c->rpc.mu);
  bool in = c->status_received;
  pthread_mutex_unlock(&c->rpc.mu);
  if (!in || c->status == GRPC_STATUS_OK) {
    return cpay_status_set(st, CPAY_ERR_CANCELLED,
                           "%s: the call has ended; cpay_call_finish gives its status",
                           c->method->path);
  }
  cpay_grpc_code gc = (cpay_grpc_code)c->status;
  return cpay_status_set(st, cpay_grpc_code_to_cpay(gc), "%s: %s: %.*s", c->method->path,
                         cpay_grpc_code_name(gc), (int)GRPC_SLICE_LENGTH(c->details),
                         (const char *)GRPC_SLICE_START_PTR(c->details));
}

static void close_send(cpay_call *c) {
  pthread_mutex_lock(&c->rpc.mu);
  cpay__rpc_close(&c->rpc);
  pthread_mutex_unlock(&c->rpc.mu);
}

cpay_code cpay_call_close_send(cpay_call *c, cpay_status *st) {
  (void)st;
  if (c->hedge) return CPAY_OK;  // sent with the request, as for any unary call
  close_send(c);
  return CPAY_OK;
}

static bool read_in(cpay__rpc *r, void *arg) {
  (void)arg;
  return ((cpay_call *)r)->read_ready;
}

cpay_code cpay_call_recv(cpay_call *c, cpay_arena *arena, void **msg, cpay_status *st) {
  *msg = NULL;
  if (c->async) return refuse_async(c, "cpay_call_recv", "cpay_call_read", st);
  pthread_mutex_lock(&c->rpc.mu);
  c->read_ready = false;
  pthread_mutex_unlock(&c->rpc.mu);
  cpay_code code = cpay__rpc_read(&c->rpc, arena, st);
  if (code != CPAY_OK) return code;
  pthread_mutex_lock(&c->rpc.mu);
  (void)cpay__rpc_wait(&c->rpc, read_in, NULL, 0);
  pthread_mutex_unlock(&c->rpc.mu);
  *msg = c->read_msg;
  if (c->read_code != CPAY_OK) {
    return cpay_status_set(st, c->read_code, "%s: %s", c->method->path,
                           cpay_status_msg(&c->read_err));
  }
  return CPAY_OK;
}

cpay_code cpay_call_finish(cpay_call *c, cpay_arena *arena, void **resp, cpay_status *st) {
  if (resp) *resp = NULL;
  if (c->async) return refuse_async(c, "cpay_call_finish", "on_done", st);
  close_send(c);
  void *msg = NULL;
  cpay_code code = CPAY_OK;
  if (resp) code = cpay_call_recv(c, arena, &msg, st);
  cpay_code sc = finish_status(c, arena, st);
  if (sc != CPAY_OK) return sc;
  if (code != CPAY_OK) return code;
  if (resp && !msg) {
    return cpay_status_set(st, CPAY_ERR_MALFORMED, "%s: OK status without a response",
                           c->method->path);
  }
  if (resp) *resp = msg;
  return CPAY_OK;
}

static bool init_in(cpay__rpc *r, void *arg) {
  (void)arg;
  cpay_call *c = (cpay_call *)r;
  return c->init_received || c->status_received;
}

const cpay_md *cpay_call_initial_metadata(cpay_call *c, size_t *count) {
  pthread_mutex_lock(&c->rpc.mu);
  if (!c->async) (void)cpay__rpc_wait(&c->rpc, init_in, NULL, 0);
  *count = c->init_received ? c->init_count : 0;
  const cpay_md *md = c->init_received ? c->init_view : NULL;
  pthread_mutex_unlock(&c->rpc.mu);
  return md;
}

void cpay_call_cancel(cpay_call *c) {
  if (!c) return;
  if (c->hedge) {
    hedge_cancel(c->hedge);
  } else {
    grpc_call_cancel(c->rpc.call, NULL);
  }
}

void cpay_call_free(cpay_call *c) {
  if (!c) return;
  if (c->async) {
    // The caller's reference: cancel a call still running, and let it go
    // (its on_done still comes, and the runtime's reference lasts until it
    // returns).
    pthread_mutex_lock(&c->rpc.mu);
    bool done = c->done;
    if (!done && !c->hedge) grpc_call_cancel(c->rpc.call, NULL);
    pthread_mutex_unlock(&c->rpc.mu);
    if (!done && c->hedge) hedge_cancel(c->hedge);
    call_unref(c);
    return;
  }
  pthread_mutex_lock(&c->rpc.mu);
  if (!c->status_received) grpc_call_cancel(c->rpc.call, NULL);
  // Every batch must have completed (on this thread, which drives the
  // queue) before the call goes.
  (void)cpay__rpc_wait(&c->rpc, status_in, NULL, 0);
  cpay__rpc_end(&c->rpc);
  pthread_mutex_unlock(&c->rpc.mu);
  call_unref(c);
}

// ---- asynchronous calls ------------------------------------------------------------

cpay_code cpay_call_start_async(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                                const void *req, const cpay_call_reactor *r, void *state,
                                cpay_call **call, cpay_status *st) {
  if (call) *call = NULL;
  cpay_code code = check_req(m, req, st);
  if (code != CPAY_OK) return code;
  cpay_call *c;
  const cpay_method_policy *p = hedging_for(ch, m);
  if (p) {
    // The reactor is in place before the first attempt can end.
    code = hedge_start(ch, m, opts, p, req, true, r, state, call != NULL, &c, st);
    if (code == CPAY_OK && call) *call = c;
    return code;
  }
  code = call_new(ch, m, opts, req, true, &c, st);
  if (code != CPAY_OK) return code;
  if (r) c->reactor = *r;
  c->state = state;
  c->op_start.fn = m->kind == CPAY_METHOD_UNARY ? on_unary : on_start;
  c->op_init.fn = on_init;
  c->op_status.fn = on_status;
  c->op_close.fn = on_close;
  // The caller's reference, kept until cpay_call_free. Set before the call
  // starts: callbacks may come before this returns.
  if (call) {
    cpay__rpc_ref(&c->rpc);
    *call = c;
  }
  code = call_begin(c, opts, req, st);
  if (code != CPAY_OK) {
    if (call) {
      *call = NULL;
      call_unref(c);
    }
    return code;
  }
  return CPAY_OK;
}

// A hedged call is a unary one, whose one response comes by itself.
static cpay_code refuse_hedged(cpay_call *c, const char *fn, cpay_status *st) {
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                         "%s: %s on a hedged unary call (its response comes to on_message)",
                         c->method->path, fn);
}

cpay_code cpay_call_read(cpay_call *c, cpay_arena *arena, cpay_status *st) {
  if (c->hedge) return refuse_hedged(c, "cpay_call_read", st);
  if (!c->async) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "%s: cpay_call_read on a blocking call (use cpay_call_recv)",
                           c->method->path);
  }
  return cpay__rpc_read(&c->rpc, arena, st);
}

cpay_code cpay_call_write(cpay_call *c, const void *msg, cpay_status *st) {
  if (c->hedge) return refuse_hedged(c, "cpay_call_write", st);
  if (!c->async) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "%s: cpay_call_write on a blocking call (use cpay_call_send)",
                           c->method->path);
  }
  return cpay__rpc_write(&c->rpc, msg, CPAY__WRITE_NOWAIT, st);
}
