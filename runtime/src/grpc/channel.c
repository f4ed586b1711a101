// Client side: channels over grpc_channel, and calls driven by one
// CQ_PLUCK completion queue each, so every operation blocks in the caller's
// thread without any thread of cpay's own.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/compression.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "grpc/internal.h"

#define DEFAULT_TIMEOUT_MS 30000

// Retries every method on UNAVAILABLE (C-core needs a name list; an empty
// name matches every method of every service).
static const char kRetryConfig[] =
    "{\"methodConfig\":[{\"name\":[{}],\"retryPolicy\":{\"maxAttempts\":4,"
    "\"initialBackoff\":\"0.1s\",\"maxBackoff\":\"2s\",\"backoffMultiplier\":2,"
    "\"retryableStatusCodes\":[\"UNAVAILABLE\"]}}]}";

// C-core's handle for a method path registered on the channel, which saves
// parsing and interning the path on every call. An insert-only open-
// addressing table keyed by the path: lookups are lock-free, inserts take
// the mutex. When it is full, calls go unregistered.
#define REG_SLOTS 256

typedef struct reg_entry {
  _Atomic(char *) path;  // a copy, published after `handle` is written
  void *handle;
} reg_entry;

// The channel struct outlives cpay_channel_free while calls made on it are
// still to be freed: each holds a reference, so a call never points at freed
// memory. `calls` lists those calls, for cpay_channel_free to cancel.
struct cpay_channel {
  grpc_channel *ch;
  atomic_int refs;  // the owner's, until cpay_channel_free, plus one per call
  pthread_mutex_t calls_mu;
  cpay_call *calls;
  pthread_mutex_t reg_mu;
  reg_entry regs[REG_SLOTS];
  int64_t default_timeout_ms;
  char *compression;
  cpay_client_interceptor *icpts;
  size_t icpt_count;
};

struct cpay_client_info {
  const cpay_method *method;
  const cpay_call_opts *opts;
  cpay__md_out md;
  cpay_md *view;
};

struct cpay_call {
  cpay_channel *ch;
  cpay_call *prev, *next;  // in ch->calls
  const cpay_method *method;
  grpc_call *call;
  grpc_completion_queue *cq;
  cpay_arena *arena;    // the unary request's bytes, the initial metadata view
  cpay_arena *scratch;  // encoding of streamed requests, reset after each
  cpay__md_out md_out;
  grpc_metadata_array init_md;
  grpc_metadata_array trail_md;
  grpc_status_code status;
  grpc_slice details;
  cpay_rpc_result *result;
  cpay_md *init_view;
  size_t init_count;
  bool init_received;
  bool half_closed;
  bool status_done;
  int tag_op;
  int tag_status;
  // The arena starts here, so most calls never allocate a block. Last:
  // call_new zeroes everything before it.
  _Alignas(16) unsigned char arena_buf[1024];
};

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static bool valid_compression(const char *name) {
  grpc_compression_algorithm alg;
  return grpc_compression_algorithm_parse(grpc_slice_from_static_string(name), &alg) != 0;
}

cpay_channel *cpay_channel_new(const char *target, const cpay_channel_opts *opts,
                               cpay_status *st) {
  static const cpay_channel_opts kDefaults;
  if (!opts) opts = &kDefaults;
  if (!target || !*target) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "channel target is empty");
    return NULL;
  }
  if (opts->compression && !valid_compression(opts->compression)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown compression %s", opts->compression);
    return NULL;
  }
  if (opts->tls && (!opts->tls->cert_chain) != (!opts->tls->private_key)) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "tls: a client certificate needs its private key and the reverse");
    return NULL;
  }
  cpay_channel *ch = calloc(1, sizeof *ch);
  if (!ch) {
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a channel");
    return NULL;
  }
  ch->default_timeout_ms = opts->default_timeout_ms ? opts->default_timeout_ms : DEFAULT_TIMEOUT_MS;
  if (opts->interceptor_count) {
    ch->icpts = malloc(opts->interceptor_count * sizeof *ch->icpts);
    if (!ch->icpts) goto out_nomem;
    memcpy(ch->icpts, opts->interceptors, opts->interceptor_count * sizeof *ch->icpts);
    ch->icpt_count = opts->interceptor_count;
  }
  if (opts->compression && !(ch->compression = xstrdup(opts->compression))) goto out_nomem;

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
  const char *config = opts->service_config_json;
  if (!config && opts->retry_unavailable) config = kRetryConfig;
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
  ch->ch = grpc_channel_create(target, creds, &cargs);
  atomic_init(&ch->refs, 1);
  pthread_mutex_init(&ch->calls_mu, NULL);
  pthread_mutex_init(&ch->reg_mu, NULL);
  grpc_channel_credentials_release(creds);
  return ch;

out_nomem:
  free(ch->icpts);
  free(ch);
  cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a channel");
  return NULL;
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
  return cpay_status_set(st, CPAY_ERR_NOT_FOUND, "channel not ready after %lld ms (%s)",
                         (long long)timeout_ms, kNames[s]);
}

static void channel_unref(cpay_channel *ch) {
  if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&ch->calls_mu);
  pthread_mutex_destroy(&ch->reg_mu);
  for (size_t i = 0; i < REG_SLOTS; i++) free(atomic_load(&ch->regs[i].path));
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
  for (cpay_call *c = ch->calls; c; c = c->next) {
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_CANCELLED, "the channel was closed", NULL);
  }
  pthread_mutex_unlock(&ch->calls_mu);
  grpc_channel_destroy(ch->ch);
  ch->ch = NULL;
  channel_unref(ch);
}

// ---- interceptors ------------------------------------------------------

const cpay_method *cpay_client_info_method(const cpay_client_info *info) { return info->method; }

const cpay_call_opts *cpay_client_info_opts(const cpay_client_info *info) { return info->opts; }

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

// ---- calls ---------------------------------------------------------------

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
      char *copy = xstrdup(m->path);
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

static void *block_alloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return malloc(new_size);
}

static const cpay_alloc kMalloc = {block_alloc, NULL};

static cpay_code fail_rpc(cpay_call *c, cpay_status *st);

// Runs the interceptors, then creates the grpc_call with its metadata.
static cpay_code call_new(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          cpay_call **out, cpay_status *st) {
  static const cpay_call_opts kNoOpts;
  if (!opts) opts = &kNoOpts;
  *out = NULL;
  cpay_client_info info = {m, opts, {0}, NULL};
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
    if (!valid_compression(comp)) {
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
  cpay_call *c = malloc(sizeof *c);
  cpay_arena *arena = NULL;
  if (c) {
    memset(c, 0, offsetof(cpay_call, arena_buf));
    cpay_arena_opts ao = {.initial_block = c->arena_buf, .initial_size = sizeof c->arena_buf,
                          .alloc = &kMalloc};
    arena = cpay_arena_new_opts(&ao);
  }
  if (!c || !arena) {
    free(c);
    cpay__md_out_free(&info.md);
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a call");
  }
  c->ch = ch;
  c->method = m;
  c->arena = arena;
  c->md_out = info.md;
  c->result = opts->result;
  c->details = grpc_empty_slice();
  int64_t timeout = opts->timeout_ms ? opts->timeout_ms : ch->default_timeout_ms;
  c->cq = grpc_completion_queue_create_for_pluck(NULL);
  void *reg = registered(ch, m);
  if (reg) {
    c->call = grpc_channel_create_registered_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                                  reg, cpay__deadline_in(timeout), NULL);
  } else {
    c->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                       grpc_slice_from_static_string(m->path), NULL,
                                       cpay__deadline_in(timeout), NULL);
  }
  grpc_metadata_array_init(&c->init_md);
  grpc_metadata_array_init(&c->trail_md);
  atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
  pthread_mutex_lock(&ch->calls_mu);
  c->next = ch->calls;
  if (c->next) c->next->prev = c;
  ch->calls = c;
  pthread_mutex_unlock(&ch->calls_mu);
  if (c->result) {
    c->result->code = CPAY_GRPC_OK;
    c->result->message[0] = '\0';
    c->result->initial_md = c->result->trailing_md = NULL;
    c->result->initial_md_count = c->result->trailing_md_count = 0;
  }
  *out = c;
  return CPAY_OK;
}

static uint32_t initial_md_flags(const cpay_call_opts *opts) {
  return opts && opts->wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
}

// Runs one batch and waits for it. False when the batch failed (the call
// has ended).
static bool run_batch(cpay_call *c, const grpc_op *ops, size_t n, void *tag) {
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
  if (e != GRPC_CALL_OK) return false;
  grpc_event ev = grpc_completion_queue_pluck(c->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void note_initial_md(cpay_call *c) {
  c->init_received = true;
  if (cpay__md_in_copy(&c->init_md, c->arena, &c->init_view, &c->init_count) != CPAY_OK) {
    c->init_count = 0;
  }
  if (c->result && c->result->arena) {
    (void)cpay__md_in_copy(&c->init_md, c->result->arena, &c->result->initial_md,
                           &c->result->initial_md_count);
  }
}

// Waits for the status (its batch was started with the call) and turns it
// into the cpay result.
static cpay_code finish_status(cpay_call *c, cpay_status *st) {
  if (!c->status_done) {
    grpc_completion_queue_pluck(c->cq, &c->tag_status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    c->status_done = true;
  }
  if (c->result) {
    c->result->code = (cpay_grpc_code)c->status;
    size_t n = GRPC_SLICE_LENGTH(c->details);
    if (n >= sizeof c->result->message) n = sizeof c->result->message - 1;
    memcpy(c->result->message, GRPC_SLICE_START_PTR(c->details), n);
    c->result->message[n] = '\0';
    if (c->result->arena) {
      (void)cpay__md_in_copy(&c->trail_md, c->result->arena, &c->result->trailing_md,
                             &c->result->trailing_md_count);
    }
  }
  if (c->status == GRPC_STATUS_OK) return CPAY_OK;
  return fail_rpc(c, st);
}

static cpay_code fail_rpc(cpay_call *c, cpay_status *st) {
  cpay_grpc_code code = (cpay_grpc_code)c->status;
  return cpay_status_set(st, cpay_grpc_code_to_cpay(code), "%s: %.*s", cpay_grpc_code_name(code),
                         (int)GRPC_SLICE_LENGTH(c->details),
                         (const char *)GRPC_SLICE_START_PTR(c->details));
}

static bool start_status(cpay_call *c) {
  grpc_op op = {0};
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &c->trail_md;
  op.data.recv_status_on_client.status = &c->status;
  op.data.recv_status_on_client.status_details = &c->details;
  return grpc_call_start_batch(c->call, &op, 1, &c->tag_status, NULL) == GRPC_CALL_OK;
}

cpay_code cpay_unary_call(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          const void *req, cpay_arena *arena, void **resp, cpay_status *st) {
  *resp = NULL;
  cpay_call *c;
  cpay_code code = call_new(ch, m, opts, &c, st);
  if (code != CPAY_OK) return code;
  grpc_byte_buffer *out_bb = NULL, *in_bb = NULL;
  code = cpay__msg_to_bb(req, m->request, c->arena, &out_bb, st);
  if (code != CPAY_OK) goto out_free;
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].flags = initial_md_flags(opts);
  ops[0].data.send_initial_metadata.count = c->md_out.count;
  ops[0].data.send_initial_metadata.metadata = c->md_out.items;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = out_bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &in_bb;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
  ops[5].data.recv_status_on_client.status = &c->status;
  ops[5].data.recv_status_on_client.status_details = &c->details;
  bool ran = run_batch(c, ops, 6, &c->tag_status);
  c->status_done = true;  // completed, or never started
  if (!ran) {
    code = cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the call could not be started", m->path);
    goto out_free;
  }
  note_initial_md(c);
  code = finish_status(c, st);
  if (code != CPAY_OK) goto out_free;
  if (!in_bb) {
    code = cpay_status_set(st, CPAY_ERR_MALFORMED, "%s: OK status without a response", m->path);
    goto out_free;
  }
  code = cpay__bb_to_msg(in_bb, m->response, arena, resp, st);
out_free:
  if (out_bb) grpc_byte_buffer_destroy(out_bb);
  if (in_bb) grpc_byte_buffer_destroy(in_bb);
  cpay_call_free(c);
  return code;
}

cpay_code cpay_call_start(cpay_channel *ch, const cpay_method *m, const cpay_call_opts *opts,
                          const void *req, cpay_call **call, cpay_status *st) {
  *call = NULL;
  bool one_req = m->kind == CPAY_METHOD_SERVER_STREAMING || m->kind == CPAY_METHOD_UNARY;
  if (one_req != (req != NULL)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "%s: a request is passed to cpay_call_start for unary and server "
                           "streaming methods only", m->path);
  }
  cpay_call *c;
  cpay_code code = call_new(ch, m, opts, &c, st);
  if (code != CPAY_OK) return code;
  grpc_byte_buffer *bb = NULL;
  if (req) {
    code = cpay__msg_to_bb(req, m->request, c->arena, &bb, st);
    if (code != CPAY_OK) goto out_fail;
  }
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].flags = initial_md_flags(opts);
  ops[n].data.send_initial_metadata.count = c->md_out.count;
  ops[n++].data.send_initial_metadata.metadata = c->md_out.items;
  if (bb) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    c->half_closed = true;
  }
  if (!start_status(c)) {
    c->status_done = true;
    code = cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the call could not be started", m->path);
    goto out_fail;
  }
  if (!run_batch(c, ops, n, &c->tag_op)) {
    code = finish_status(c, st);
    if (code == CPAY_OK) {
      code = cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the request could not be sent", m->path);
    }
    goto out_fail;
  }
  if (bb) grpc_byte_buffer_destroy(bb);
  *call = c;
  return CPAY_OK;
out_fail:
  if (bb) grpc_byte_buffer_destroy(bb);
  cpay_call_free(c);
  return code;
}

cpay_code cpay_call_send(cpay_call *c, const void *msg, cpay_status *st) {
  if (c->half_closed) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "%s: send after close_send",
                           c->method->path);
  }
  if (!c->scratch && !(c->scratch = cpay_arena_new())) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  }
  grpc_byte_buffer *bb;
  // The byte buffer holds a copy: reset at once, so a long stream runs in
  // constant memory.
  cpay_code code = cpay__msg_to_bb(msg, c->method->request, c->scratch, &bb, st);
  cpay_arena_reset(c->scratch);
  if (code != CPAY_OK) return code;
  grpc_op op = {0};
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = bb;
  bool ok = run_batch(c, &op, 1, &c->tag_op);
  grpc_byte_buffer_destroy(bb);
  if (ok) return CPAY_OK;
  code = finish_status(c, st);
  if (code == CPAY_OK) {
    code = cpay_status_set(st, CPAY_ERR_INTERNAL, "%s: the server ended the call", c->method->path);
  }
  return code;
}

cpay_code cpay_call_close_send(cpay_call *c, cpay_status *st) {
  if (c->half_closed) return CPAY_OK;
  c->half_closed = true;
  grpc_op op = {0};
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  if (run_batch(c, &op, 1, &c->tag_op)) return CPAY_OK;
  cpay_code code = finish_status(c, st);
  return code == CPAY_OK ? CPAY_OK : code;
}

cpay_code cpay_call_recv(cpay_call *c, cpay_arena *arena, void **msg, cpay_status *st) {
  *msg = NULL;
  grpc_byte_buffer *bb = NULL;
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  bool want_init = !c->init_received;
  if (want_init) {
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &bb;
  bool ok = run_batch(c, ops, n, &c->tag_op);
  if (want_init) note_initial_md(c);
  if (!ok || !bb) {
    if (bb) grpc_byte_buffer_destroy(bb);
    return CPAY_OK;  // the end of the stream; cpay_call_finish has the status
  }
  cpay_code code = cpay__bb_to_msg(bb, c->method->response, arena, msg, st);
  grpc_byte_buffer_destroy(bb);
  if (code != CPAY_OK) {
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL,
                                 "the response could not be decoded", NULL);
  }
  return code;
}

cpay_code cpay_call_finish(cpay_call *c, cpay_arena *arena, void **resp, cpay_status *st) {
  if (resp) *resp = NULL;
  if (!c->half_closed) {
    cpay_code ignored = cpay_call_close_send(c, NULL);  // a failure shows in the status
    (void)ignored;
  }
  void *msg = NULL;
  cpay_code code = CPAY_OK;
  if (resp) code = cpay_call_recv(c, arena, &msg, st);
  cpay_code sc = finish_status(c, st);
  if (sc != CPAY_OK) return sc;
  if (code != CPAY_OK) return code;
  if (resp && !msg) {
    return cpay_status_set(st, CPAY_ERR_MALFORMED, "%s: OK status without a response",
                           c->method->path);
  }
  if (resp) *resp = msg;
  return CPAY_OK;
}

const cpay_md *cpay_call_initial_metadata(cpay_call *c, size_t *count) {
  if (!c->init_received && !c->status_done) {
    grpc_op op = {0};
    op.op = GRPC_OP_RECV_INITIAL_METADATA;
    op.data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    (void)run_batch(c, &op, 1, &c->tag_op);
    note_initial_md(c);
  }
  *count = c->init_count;
  return c->init_view;
}

void cpay_call_cancel(cpay_call *c) {
  if (c && !c->status_done) grpc_call_cancel(c->call, NULL);
}

void cpay_call_free(cpay_call *c) {
  if (!c) return;
  // Off the channel's list before grpc_call_unref, so that a concurrent
  // cpay_channel_free never cancels a released call.
  cpay_channel *ch = c->ch;
  pthread_mutex_lock(&ch->calls_mu);
  if (c->prev) {
    c->prev->next = c->next;
  } else {
    ch->calls = c->next;
  }
  if (c->next) c->next->prev = c->prev;
  pthread_mutex_unlock(&ch->calls_mu);
  if (!c->status_done) {
    grpc_call_cancel(c->call, NULL);
    grpc_completion_queue_pluck(c->cq, &c->tag_status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
  grpc_call_unref(c->call);
  grpc_completion_queue_shutdown(c->cq);
  grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  grpc_completion_queue_destroy(c->cq);
  grpc_metadata_array_destroy(&c->init_md);
  grpc_metadata_array_destroy(&c->trail_md);
  grpc_slice_unref(c->details);
  cpay__md_out_free(&c->md_out);
  cpay_arena_free(c->arena);
  cpay_arena_free(c->scratch);
  free(c);
  channel_unref(ch);
}
