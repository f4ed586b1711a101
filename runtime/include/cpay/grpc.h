// libcpay-grpc: gRPC clients and servers over gRPC C-core, event-driven.
//
// Threads. A cpay_loop is a small fixed set of event threads sharing one
// C-core completion queue (CQ_NEXT). A call's operations complete on
// whichever of them takes the completion, and its callbacks run one at a
// time, in order (never two of one call at once). A call that waits (for
// the network, the peer's next message, or the application) holds no
// thread, so one server holds tens of thousands of open streams on about
// one thread per core. Servers own a loop (or share one given in their
// options); a channel starts a one-thread loop of its own on its first
// asynchronous call (or uses one given in its options).
//
// Two styles, both typed by generated code (foo.cpay_grpc.h):
// - Blocking: unary calls return the response; streaming calls return a
//   cpay_call with blocking send / recv / close_send / finish. Blocking
//   client calls are driven by the threads that wait in them (no event
//   thread is used, except by hedged unary calls, whose attempts run on
//   the channel's loop: see cpay_hedging_policy), and one thread may
//   receive on a call while another sends on it. Blocking server handlers
//   run on a bounded worker pool.
// - Reactors: asynchronous client calls (cpay_call_start_async) and reactor
//   server handlers report events by callback (message received, ready to
//   send more, cancelled, done) and never block a thread. Writes may be
//   started from any thread; each call buffers at most `send_queue_bytes`
//   of written messages and then refuses more with CPAY_ERR_WOULD_BLOCK
//   until its ready callback says there is room.
// Health and reflection are reactors: they never wait for the worker pool.
//
// Results: every fallible function returns a cpay_code and fills an optional
// cpay_status. A call that ends with a gRPC status other than OK returns the
// cpay code named after it (CPAY_ERR_DEADLINE_EXCEEDED, CPAY_ERR_UNAVAILABLE,
// ...; the table is in cpay/status.h), the cpay_status reads
// "DEADLINE_EXCEEDED: <server message>" (cut at CPAY_STATUS_MSG_SIZE), and
// the exact code, the whole message, the metadata and any rich error details
// (google.rpc.Status) are in the call's cpay_rpc_result.
//
// Thread safety: loops, channels and servers are thread-safe. On a call
// (client or server), any function may be called from any thread, except
// that one blocking operation of each kind (send, recv) runs at a time, and
// callbacks of one call never run concurrently with each other.
#ifndef CPAY_GRPC_H_
#define CPAY_GRPC_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/reflect.h"
#include "cpay/status.h"

CPAY_EXTERN_C_BEGIN

// ---- status codes ----------------------------------------------------------

// gRPC status codes (the numbers are the protocol's).
typedef enum cpay_grpc_code {
  CPAY_GRPC_OK = 0,
  CPAY_GRPC_CANCELLED = 1,
  CPAY_GRPC_UNKNOWN = 2,
  CPAY_GRPC_INVALID_ARGUMENT = 3,
  CPAY_GRPC_DEADLINE_EXCEEDED = 4,
  CPAY_GRPC_NOT_FOUND = 5,
  CPAY_GRPC_ALREADY_EXISTS = 6,
  CPAY_GRPC_PERMISSION_DENIED = 7,
  CPAY_GRPC_RESOURCE_EXHAUSTED = 8,
  CPAY_GRPC_FAILED_PRECONDITION = 9,
  CPAY_GRPC_ABORTED = 10,
  CPAY_GRPC_OUT_OF_RANGE = 11,
  CPAY_GRPC_UNIMPLEMENTED = 12,
  CPAY_GRPC_INTERNAL = 13,
  CPAY_GRPC_UNAVAILABLE = 14,
  CPAY_GRPC_DATA_LOSS = 15,
  CPAY_GRPC_UNAUTHENTICATED = 16,
} cpay_grpc_code;

// "INVALID_ARGUMENT" etc.; "UNKNOWN_CODE" for numbers outside 0..16.
CPAY_API const char *cpay_grpc_code_name(cpay_grpc_code code);
// The code named `name` (as above); false when there is none.
CPAY_API bool cpay_grpc_code_from_name(const char *name, cpay_grpc_code *out);
// The cpay_code a client function returns for a call that ended with `code`
// (CPAY_OK for CPAY_GRPC_OK, CPAY_ERR_DEADLINE_EXCEEDED for
// CPAY_GRPC_DEADLINE_EXCEEDED, ...; CPAY_ERR_UNKNOWN outside 0..16).
CPAY_API cpay_code cpay_grpc_code_to_cpay(cpay_grpc_code code);
// The gRPC status a server sends for a handler that failed with `code`
// without setting a status (CPAY_GRPC_OK for CPAY_OK).
CPAY_API cpay_grpc_code cpay_grpc_code_from_cpay(cpay_code code);

// ---- metadata --------------------------------------------------------------

// One metadata entry. Keys are lower-case ASCII; a key ending in "-bin"
// carries arbitrary bytes (base64 on the wire, done by C-core), other
// values are printable ASCII.
typedef struct cpay_md {
  cpay_str key;
  cpay_str value;
} cpay_md;

// The value of the first entry named `key` (a C string) in md[0..count),
// or {NULL, 0}.
CPAY_API cpay_str cpay_md_get(const cpay_md *md, size_t count, const char *key);

// ---- methods and services (used by generated code) -------------------------

typedef enum cpay_method_kind {
  CPAY_METHOD_UNARY = 0,
  CPAY_METHOD_SERVER_STREAMING = 1,
  CPAY_METHOD_CLIENT_STREAMING = 2,
  CPAY_METHOD_BIDI_STREAMING = 3,
} cpay_method_kind;

typedef struct cpay_call cpay_call;
typedef struct cpay_server_call cpay_server_call;

// Any function, kept in a reactor for its typed caller (below).
typedef void cpay_fn(void);
// Generated per method: call `fn`, a typed on_message callback cast to
// cpay_fn *, with `msg` as the method's request (server) or response
// (client) type. C calls a function only through its own type, so the
// generated code, which knows the type, makes the call.
typedef void cpay_server_deliver_fn(cpay_fn *fn, void *state, cpay_server_call *call, void *msg);
typedef void cpay_client_deliver_fn(cpay_fn *fn, void *state, cpay_call *call, void *msg);

// One HTTP binding of a method, from its google.api.http option (the rule,
// then each of its additional_bindings), or the default binding of a method
// without one: POST /package.Service/Method with the request as the body.
// Served by cpay/http.h; docs/http.md has the rules.
typedef struct cpay_http_rule {
  const char *verb;  // "GET", "PUT", "POST", "DELETE", "PATCH", or a custom verb
  // The path template as written: "/v1/{name=customers/*}/transactions:watch".
  const char *path;
  // NULL: no body (fields come from the path and the query); "*": the whole
  // request; else the path of the request field the body fills ("charge").
  const char *body;
  // NULL: the whole response is the body; else the path of the response
  // field that is ("transactions").
  const char *response_body;
} cpay_http_rule;

typedef struct cpay_method {
  const char *path;  // "/payments.v1.PaymentService/ChargeCard"
  const char *name;  // "ChargeCard"
  cpay_method_kind kind;
  const cpay_msg_table *request;
  const cpay_msg_table *response;
  // Set by generated code; NULL in a hand-written method, whose reactors'
  // on_message then has the untyped shape (void *state, call, void *msg).
  cpay_server_deliver_fn *server_deliver;
  cpay_client_deliver_fn *client_deliver;
  // The request and response descriptions (names for JSON), and the HTTP
  // bindings (at least the default one): NULL and 0 when generated with
  // formats=binary, which leaves the method to gRPC alone.
  const cpay_msg_desc *request_desc;
  const cpay_msg_desc *response_desc;
  const cpay_http_rule *http_rules;
  size_t http_rule_count;
} cpay_method;

// A serialized google.protobuf.FileDescriptorProto, for server reflection.
typedef struct cpay_file_descriptor {
  const char *name;  // "payments.proto"
  const uint8_t *data;
  size_t size;
} cpay_file_descriptor;

// Which handler a service's handler table sets for a method.
typedef enum cpay_handler_style {
  CPAY_HANDLER_NONE = 0,      // neither: the method answers UNIMPLEMENTED
  CPAY_HANDLER_BLOCKING = 1,  // runs on the worker pool
  CPAY_HANDLER_REACTOR = 2,   // starts on an event thread and must not block
  CPAY_HANDLER_BOTH = 3,      // an error, refused by cpay_server_add_service
} cpay_handler_style;

// Generated per service. `style` tells which handler the table `handlers`
// sets for method `index`; `dispatch` runs it: a blocking handler returns
// its result, a reactor start returns CPAY_OK at once. `req` is set for
// unary and server-streaming methods, `resp` for unary and (reactors only)
// client-streaming methods.
typedef cpay_handler_style cpay_service_style_fn(const void *handlers, size_t index);
typedef cpay_code cpay_service_dispatch_fn(const void *handlers, size_t index, void *ctx,
                                           cpay_server_call *call, const void *req,
                                           void *resp);

typedef struct cpay_service_desc {
  const char *full_name;  // "payments.v1.PaymentService"
  const cpay_method *methods;
  size_t method_count;
  cpay_service_dispatch_fn *dispatch;
  // The file declaring the service first, then its imports, transitively.
  const cpay_file_descriptor *files;
  size_t file_count;
  cpay_service_style_fn *style;
} cpay_service_desc;

// ---- event loops -----------------------------------------------------------

typedef struct cpay_loop cpay_loop;

typedef struct cpay_loop_opts {
  int threads;  // event threads; 0: one per online CPU
} cpay_loop_opts;

// A loop with its threads running, to share among servers and channels
// (a server's handlers calling other services on the server's own threads,
// say). `opts` may be NULL. NULL with `st` set on failure.
CPAY_API cpay_loop *cpay_loop_new(const cpay_loop_opts *opts, cpay_status *st);
// Stops the threads and frees the loop. Free every server and channel that
// uses it first. Must not be called from one of its threads. Accepts NULL.
CPAY_API void cpay_loop_free(cpay_loop *loop);

// ---- channels (client) -----------------------------------------------------

typedef struct cpay_channel cpay_channel;
typedef struct cpay_call_opts cpay_call_opts;

// What a client interceptor sees and may change before a call starts.
typedef struct cpay_client_info cpay_client_info;
CPAY_API const cpay_method *cpay_client_info_method(const cpay_client_info *info);
// The call's options (never NULL; a zeroed struct when the caller passed NULL).
CPAY_API const cpay_call_opts *cpay_client_info_opts(const cpay_client_info *info);
// The request (unary and server-streaming calls), or NULL.
CPAY_API const void *cpay_client_info_request(const cpay_client_info *info);
// Metadata so far: the caller's, then what earlier interceptors added.
// Valid until the next cpay_client_info_add_metadata.
CPAY_API const cpay_md *cpay_client_info_metadata(const cpay_client_info *info, size_t *count);
// Adds an entry (copied). CPAY_ERR_INVALID_ARGUMENT for a key that is not
// valid gRPC metadata.
CPAY_API CPAY_NODISCARD cpay_code cpay_client_info_add_metadata(cpay_client_info *info,
                                                               const char *key,
                                                               cpay_str value);

// Runs before every call on the channel, in the order given, on the thread
// starting the call. A non-OK return fails the call before anything is sent,
// with that code and `st`'s message.
typedef cpay_code cpay_client_interceptor_fn(void *ctx, cpay_client_info *info,
                                             cpay_status *st);
typedef struct cpay_client_interceptor {
  cpay_client_interceptor_fn *fn;
  void *ctx;
} cpay_client_interceptor;

// TLS for a channel. Strings are PEM and are copied by cpay_channel_new.
typedef struct cpay_tls_opts {
  const char *root_certs;   // NULL: the system's roots (C-core's default)
  const char *cert_chain;   // optional client certificate ...
  const char *private_key;  // ... and its key (both or neither)
  const char *server_name;  // optional: expected name in the server cert
} cpay_tls_opts;

// How a channel with several addresses spreads its calls (C-core's
// policies; cpay has no balancer of its own).
typedef enum cpay_lb_policy {
  CPAY_LB_DEFAULT = 0,      // C-core's default, pick_first
  CPAY_LB_PICK_FIRST = 1,   // one connection: the first address that connects
  CPAY_LB_ROUND_ROBIN = 2,  // a connection to every address, calls in turn
} cpay_lb_policy;

// The bit of gRPC status `code` in cpay_method_policy.retryable_codes.
#define CPAY_GRPC_CODE_BIT(code) (UINT32_C(1) << (code))

// A hedging policy (gRFC A6) for unary methods, run by cpay itself: C-core
// 1.51 parses only retryPolicy from a service config and ignores
// hedgingPolicy. Each attempt is an ordinary call on the channel (so
// round_robin sends them to different replicas): attempt 1 goes at once;
// while no attempt has ended with OK or a fatal status, another goes after
// every hedging_delay_ms, and at once after an attempt fails with a
// non-fatal status. The first attempt to end with OK or a fatal status (any
// code not in non_fatal_codes) is the call's: its response, status and
// metadata are what the caller gets, and the other attempts are cancelled.
// When every attempt failed non-fatally, the last one's status is the
// call's. The call's deadline bounds all attempts. Only for idempotent
// methods: the server may run the request several times.
typedef struct cpay_hedging_policy {
  // Attempts in all, the first included: 2..5 (gRPC's limit); 0: none.
  int max_attempts;
  // Time between attempts, counted from the newest one: 0 (all attempts at
  // once) to 86400000 (a day).
  int64_t hedging_delay_ms;
  // Statuses after which the next attempt goes at once instead of ending
  // the call: CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE) | ...; may be 0;
  // not OK.
  uint32_t non_fatal_codes;
} cpay_hedging_policy;

// A retry or hedging policy, a deadline and wait_for_ready for the methods
// of a service (gRFC A6; retries as C-core implements them, hedging by cpay,
// see cpay_hedging_policy).
typedef struct cpay_method_policy {
  // "payments.v1.PaymentService"; NULL: every service (`method` must then
  // be NULL too). At most one policy per (service, method).
  const char *service;
  const char *method;  // "ChargeCard"; NULL: every method of `service`
  // Attempts in all, the first included: 2..5 (gRPC's limit); 0: no retry
  // policy (then the backoff fields and retryable_codes must be 0).
  int max_attempts;
  int64_t initial_backoff_ms;  // > 0
  int64_t max_backoff_ms;      // > 0
  double backoff_multiplier;   // > 0
  // The statuses that are retried: CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE)
  // | ...; not empty, not OK.
  uint32_t retryable_codes;
  // Deadline of the methods' calls that set none (the earlier of this and
  // the call's own applies); 0: none.
  int64_t timeout_ms;
  // Calls queue while the channel is not ready instead of failing
  // UNAVAILABLE at once (as cpay_call_opts.wait_for_ready per call).
  bool wait_for_ready;
  // Hedging instead of retries (not both: CPAY_ERR_INVALID_ARGUMENT). It
  // applies to unary calls made with cpay_unary_call (the generated blocking
  // stubs) and cpay_call_start_async (the generated async stubs); streaming
  // methods it names, and unary calls made with cpay_call_start, run
  // unhedged, as one attempt. The channel's interceptors run once per call,
  // before the first attempt, and every attempt sends the metadata they
  // produced (the same for all: cpay sends no grpc-previous-rpc-attempts,
  // which C-core 1.51 servers do not pass on to handlers anyway).
  // Hedged calls run on the channel's loop, also blocking ones (the calling
  // thread waits for the outcome); a blocking hedged call made on an event
  // thread runs unhedged, since waiting there could stall its own attempts.
  cpay_hedging_policy hedging;
} cpay_method_policy;

// A channel's connectivity (C-core's).
typedef enum cpay_connectivity {
  CPAY_CONN_IDLE = 0,
  CPAY_CONN_CONNECTING = 1,
  CPAY_CONN_READY = 2,
  CPAY_CONN_TRANSIENT_FAILURE = 3,
  CPAY_CONN_SHUTDOWN = 4,
} cpay_connectivity;

// "idle", "connecting", "ready", "transient_failure", "shutdown";
// "unknown" otherwise.
CPAY_API const char *cpay_connectivity_name(cpay_connectivity s);

// Bytes of written messages a call holds before refusing more (client and
// server): 0 in the options below means this.
#define CPAY_DEFAULT_SEND_QUEUE_BYTES ((size_t)64 << 10)

typedef struct cpay_channel_opts {
  const cpay_tls_opts *tls;  // NULL: plaintext (insecure)
  // Deadline of calls that set none: 0 means 30 s; negative means none
  // (calls are unbounded unless they set a timeout).
  int64_t default_timeout_ms;
  int keepalive_time_ms;     // 0: no keepalive pings
  int keepalive_timeout_ms;  // 0: C-core's default (20 s)
  int max_send_size;         // bytes; 0: unlimited (C-core's default)
  int max_recv_size;         // bytes; 0: 4 MiB (C-core's default); -1: unlimited
  // Largest metadata (headers or trailers) accepted from the server, in
  // bytes; 0: 8 KiB (C-core's default).
  int max_metadata_size;
  // A service config (JSON), for what the typed options below do not say.
  // It cannot be combined with lb_policy, health_check_service or
  // method_policies (CPAY_ERR_INVALID_ARGUMENT): write all of it in JSON,
  // or none. With it, retry_unavailable is ignored. A "hedgingPolicy" in it
  // is refused (CPAY_ERR_INVALID_ARGUMENT): C-core would ignore it; hedge
  // with method_policies[].hedging instead.
  const char *service_config_json;
  // cpay's default retry policy: every method up to 4 attempts on
  // UNAVAILABLE (backoff 0.1 s, x2, at most 2 s). method_policies take
  // precedence for the methods they name; a policy for every service
  // (service NULL) cannot be combined with it.
  bool retry_unavailable;
  // Several addresses: target "ipv4:10.0.0.1:50051,10.0.0.2:50051",
  // "ipv6:[::1]:50051,[::1]:50052", or "dns:///name:port" (every address
  // the name resolves to).
  cpay_lb_policy lb_policy;
  // Client-side health checking: the channel watches
  // grpc.health.v1.Health/Watch for this service on each address ("": the
  // whole server) and sends no calls to an address that is not SERVING
  // (a server without the health service counts as serving). NULL: off.
  // Needs CPAY_LB_ROUND_ROBIN (C-core's pick_first ignores health).
  const char *health_check_service;
  // Per-method policies (copied into the channel's service config).
  const cpay_method_policy *method_policies;
  size_t method_policy_count;
  // Compression of requests: NULL or "identity", "deflate", "gzip".
  const char *compression;
  const cpay_client_interceptor *interceptors;  // copied
  size_t interceptor_count;
  // false: channels to the same target with the same options share their
  // connection (C-core's default); true: this channel opens its own, e.g. to
  // spread load over several connections (each carries at most the server's
  // limit of concurrent streams, often 100).
  bool own_connection;
  // Where asynchronous calls run their callbacks: NULL starts a loop of one
  // thread, owned by the channel, on the first asynchronous call. Blocking
  // calls never use it. A shared loop must outlive the channel.
  cpay_loop *loop;
  // Written-but-unsent bytes per call before writes are refused; 0:
  // CPAY_DEFAULT_SEND_QUEUE_BYTES.
  size_t send_queue_bytes;
} cpay_channel_opts;

// A channel to `target` ("host:port", "unix:/path", "dns:///name:port").
// Connects lazily. `opts` may be NULL (insecure, 30 s default deadline).
// NULL on failure (bad option) with `st` set. Free with cpay_channel_free.
CPAY_API cpay_channel *cpay_channel_new(const char *target, const cpay_channel_opts *opts,
                                        cpay_status *st);
// The channel's connectivity now; `try_to_connect` starts connecting an
// idle channel. Thread-safe.
CPAY_API cpay_connectivity cpay_channel_state(cpay_channel *ch, bool try_to_connect);
// Blocks until the channel's connectivity differs from `last` (*now gets
// the new state, CPAY_OK) or `timeout_ms` passes (CPAY_ERR_DEADLINE_EXCEEDED,
// *now the state then). Does not itself start connecting: see
// cpay_channel_state. Any thread, but not one of the channel's loop.
CPAY_API CPAY_NODISCARD cpay_code cpay_channel_watch_state(cpay_channel *ch,
                                                          cpay_connectivity last,
                                                          int64_t timeout_ms,
                                                          cpay_connectivity *now,
                                                          cpay_status *st);
// What cpay_channel_on_state_change calls: `now` is the new state
// (changed true), or the state at the timeout (changed false).
typedef void cpay_state_fn(void *ctx, cpay_connectivity now, bool changed);
// Calls `fn` once, on the channel's loop, when the connectivity differs
// from `last` (at once if it already does) or after `timeout_ms`
// (negative: no timeout), whichever comes first: C-core's one-shot watch,
// without blocking a thread. To follow every change, register again from
// `fn` with the state it got. Does not itself start connecting (see
// cpay_channel_state). cpay_channel_free delivers the pending ones
// (CPAY_CONN_SHUTDOWN) before it returns; `fn` must not free the channel.
// CPAY_ERR_CANCELLED once cpay_channel_free has begun. Thread-safe.
CPAY_API CPAY_NODISCARD cpay_code cpay_channel_on_state_change(cpay_channel *ch,
                                                              cpay_connectivity last,
                                                              int64_t timeout_ms,
                                                              cpay_state_fn *fn, void *ctx,
                                                              cpay_status *st);
// Waits until the channel is connected or `timeout_ms` passes (then
// CPAY_ERR_UNAVAILABLE with the last connectivity state in `st`).
CPAY_API CPAY_NODISCARD cpay_code cpay_channel_wait_ready(cpay_channel *ch, int64_t timeout_ms,
                                                         cpay_status *st);
// Closes the channel. Calls still running on it are cancelled: they end
// with CANCELLED ("the channel was closed"), also in a thread blocked in
// one of them; blocking calls are still freed with cpay_call_free, and
// asynchronous ones still get their on_done. A call started meanwhile (by
// one of those callbacks, say) fails to start, CPAY_ERR_CANCELLED. Waits
// until the on_done have returned, which run on the loop: so not from any
// callback of its calls, nor from any thread of the loop it uses. Accepts
// NULL.
CPAY_API void cpay_channel_free(cpay_channel *ch);

// ---- calls (client) --------------------------------------------------------

// One google.protobuf.Any of a rich error status (google.rpc.Status.details).
typedef struct cpay_rpc_detail {
  cpay_str type_url;  // "type.googleapis.com/google.rpc.BadRequest"
  cpay_bytes value;   // the serialized message
} cpay_rpc_detail;

// The outcome of a call.
typedef struct cpay_rpc_result {
  cpay_grpc_code code;
  cpay_str message;  // the server's status message, whole (NUL-terminated)
  // In (blocking calls): the arena the strings, metadata and details below
  // are copied to; NULL: the arena given to cpay_unary_call or
  // cpay_call_finish, or, when that is NULL too, memory of the call's that
  // lives until cpay_call_free. Asynchronous calls ignore it: their result
  // lives until on_done returns.
  cpay_arena *arena;
  cpay_md *initial_md;  // the server's initial metadata
  size_t initial_md_count;
  cpay_md *trailing_md;  // the server's trailing metadata
  size_t trailing_md_count;
  // The details of a rich error status: the server's grpc-status-details-bin
  // trailer (a google.rpc.Status whose code matched the call's), or none.
  cpay_rpc_detail *details;
  size_t detail_count;
} cpay_rpc_result;

// Decodes the first detail of type `t` in `res` onto `arena`.
// CPAY_ERR_NOT_FOUND when there is none; the decoder's code when it does not
// decode. See cpay/grpc_details.h for typed forms (google.rpc.BadRequest...).
CPAY_API CPAY_NODISCARD cpay_code cpay_rpc_result_detail(const cpay_rpc_result *res,
                                                        const cpay_msg_table *t,
                                                        cpay_arena *arena, void **out,
                                                        cpay_status *st);

struct cpay_call_opts {
  // Relative deadline: 0 takes the channel default, negative means none.
  int64_t timeout_ms;
  const cpay_md *metadata;  // sent with the request; copied when the call starts
  size_t metadata_count;
  bool wait_for_ready;      // queue while the channel is not connected
  const char *compression;  // overrides the channel's ("identity", "gzip", ...)
  cpay_rpc_result *result;  // blocking calls: optional out, status and metadata
  // The server call this call is made for: it inherits that call's deadline
  // (the earlier of the two applies) and is cancelled when it is. NULL: the
  // server call whose handler or callback is running on this thread, if any.
  cpay_server_call *parent;
  bool detached;  // inherit from no server call, not even this thread's
};

// A unary call: blocks until the response or the status. *resp is
// allocated on `arena`. Returns CPAY_OK, an error from the interceptors or
// the codec, or the cpay code of the gRPC status.
CPAY_API CPAY_NODISCARD cpay_code cpay_unary_call(cpay_channel *ch, const cpay_method *m,
                                                  const cpay_call_opts *opts, const void *req,
                                                  cpay_arena *arena, void **resp,
                                                  cpay_status *st);
// Starts a blocking streaming call. For server streaming (and unary) `req`
// is the one request (sent and half-closed at once); otherwise it must be
// NULL. Owned by the caller: cpay_call_free it (after cpay_call_finish, or
// to cancel). *call is NULL when the call could not start.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_start(cpay_channel *ch, const cpay_method *m,
                                                  const cpay_call_opts *opts, const void *req,
                                                  cpay_call **call, cpay_status *st);
// Sends one request message (client and bidi streaming) and returns once
// C-core has taken it for the connection (it then goes out under HTTP/2
// flow control, as the server reads). Fails once the call has ended: with
// the code of its status when that has arrived, else CPAY_ERR_CANCELLED
// (cpay_call_finish then gives the status). Blocking calls only:
// asynchronous ones use cpay_call_write.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_send(cpay_call *call, const void *msg,
                                                 cpay_status *st);
// Half-closes once the queued messages are sent: no more requests follow.
// Does not wait.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_close_send(cpay_call *call, cpay_status *st);
// Receives one response message onto `arena`; *msg is NULL at the end of
// the stream (then call cpay_call_finish for the status). May run on one
// thread while cpay_call_send runs on another.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_recv(cpay_call *call, cpay_arena *arena,
                                                 void **msg, cpay_status *st);
// Half-closes if needed, receives the single response of a client-streaming
// call when `resp` is non-NULL, and waits for the status. C-core gives the
// status only after the last response message has been received: on a
// server-streaming or bidi call, receive until *msg is NULL first, or finish
// waits for the server to end the call or for the deadline. To stop reading
// early, cpay_call_cancel before finishing (the status is then CANCELLED),
// or just cpay_call_free. Blocking calls only.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_finish(cpay_call *call, cpay_arena *arena,
                                                   void **resp, cpay_status *st);
// The server's initial metadata (a blocking call waits for it); valid until
// cpay_call_free.
CPAY_API const cpay_md *cpay_call_initial_metadata(cpay_call *call, size_t *count);
// Cancels the call (the server sees CANCELLED). Safe to call repeatedly,
// from any thread, while the caller holds the call: until cpay_call_free,
// or, for an asynchronous call started without a reference, in its
// callbacks.
CPAY_API void cpay_call_cancel(cpay_call *call);
// Releases the caller's call. A blocking call is cancelled if it has not
// finished, and freed. An asynchronous call (started with a reference) is
// cancelled if it has not ended; its callbacks still come, on_done last,
// and it is freed when that has returned. From any thread, also inside the
// call's own callbacks. Accepts NULL.
CPAY_API void cpay_call_free(cpay_call *call);

// The callbacks of an asynchronous call. They run on the channel's loop,
// one at a time, and must not block. Any may be NULL.
typedef struct cpay_call_reactor {
  // A response message, decoded onto the arena given to cpay_call_read, or
  // the call's own arena (valid until on_done returns). Server and bidi
  // streaming: after each cpay_call_read, NULL at the end of the stream.
  // Unary and client streaming: the single response, on its own, before
  // on_done (a call whose OK status comes without a response, or with one
  // that does not decode, ends INTERNAL instead). After on_metadata. The
  // typed form is the generated X_client_reactor.
  cpay_fn *on_message;
  // The server's initial metadata (valid until on_done returns).
  void (*on_metadata)(void *state, cpay_call *call, const cpay_md *md, size_t count);
  // A write was refused with CPAY_ERR_WOULD_BLOCK and there is room again.
  void (*on_ready)(void *state, cpay_call *call);
  // The last callback: the call has ended, with `result` (valid until
  // on_done returns). Its memory goes when this has returned and the
  // caller's reference (if it took one) was released with cpay_call_free.
  void (*on_done)(void *state, cpay_call *call, const cpay_rpc_result *result);
} cpay_call_reactor;

// Starts an asynchronous call: returns at once; `r` (copied) and `state`
// receive its events on the channel's loop. `req` as for cpay_call_start.
// With `call` non-NULL, *call receives a reference to the call, for
// cpay_call_read, _write, _close_send and _cancel from any thread, until
// you cpay_call_free it (before or after it ended). With `call` NULL the
// call is reachable only in its callbacks, and goes after on_done. A call
// that fails to start returns its error and never calls back.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_start_async(cpay_channel *ch, const cpay_method *m,
                                                        const cpay_call_opts *opts,
                                                        const void *req,
                                                        const cpay_call_reactor *r,
                                                        void *state, cpay_call **call,
                                                        cpay_status *st);
// Asks for the next response message (server and bidi streaming) onto
// `arena` (NULL: the call's arena); on_message delivers it. One read at a
// time: CPAY_ERR_INVALID_ARGUMENT while one is pending.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_read(cpay_call *call, cpay_arena *arena,
                                                 cpay_status *st);
// Queues one request message (client and bidi streaming) and returns at
// once: CPAY_OK, CPAY_ERR_WOULD_BLOCK when the send queue is full (the
// message is not taken; on_ready follows when there is room),
// CPAY_ERR_CANCELLED once the call has ended, or CPAY_ERR_INVALID_ARGUMENT
// after cpay_call_close_send or on a blocking call.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_write(cpay_call *call, const void *msg,
                                                  cpay_status *st);

// ---- servers ---------------------------------------------------------------

typedef struct cpay_server cpay_server;

// Server interceptors run on the event thread, before the handler, and must
// not block. A non-OK return rejects the call: with the status set by
// cpay_server_call_set_status, or the one mapped from the returned code.
typedef struct cpay_server_interceptor {
  // When a call starts, after its request is decoded: `req` for unary and
  // server-streaming methods, NULL for client and bidi streaming.
  cpay_code (*on_call)(void *ctx, cpay_server_call *call, const cpay_method *m,
                       const void *req);
  // Each request message of a client or bidi stream, before the handler.
  cpay_code (*on_message)(void *ctx, cpay_server_call *call, const cpay_method *m,
                          const void *msg);
  void *ctx;
} cpay_server_interceptor;

// TLS for a listening address. Strings are PEM, copied.
typedef struct cpay_server_tls_opts {
  const char *cert_chain;
  const char *private_key;
  const char *client_root_certs;  // optional: CA for client certificates
  bool require_client_cert;       // reject clients without a valid cert
} cpay_server_tls_opts;

#define CPAY_SERVER_DEFAULT_CALL_MEMORY ((size_t)64 << 20)

typedef struct cpay_server_opts {
  // Event threads of the server's own loop; 0: one per online CPU.
  int threads;
  // A loop to run on instead (shared with channels, say); it must outlive
  // the server. `threads` is then ignored.
  cpay_loop *loop;
  // Worker threads for blocking handlers, started as needed; 0: 16.
  int workers;
  // Blocking calls waiting for a free worker; a call beyond that is answered
  // RESOURCE_EXHAUSTED at once. 0: 1024.
  int max_queued;
  // Calls in progress at once, of every kind; beyond it a new call is
  // answered RESOURCE_EXHAUSTED at once. 0: no limit.
  int max_calls;
  int max_streams_per_connection;  // HTTP/2 MAX_CONCURRENT_STREAMS; 0: C-core's
  int max_recv_size;               // bytes; 0: 4 MiB (C-core's default); -1: unlimited
  int max_send_size;               // bytes; 0: unlimited
  // Largest request metadata accepted, in bytes; 0: 8 KiB (C-core's
  // default). Larger headers end the call with RESOURCE_EXHAUSTED.
  int max_metadata_size;
  // Memory one call may use on its arena (the decoded requests, the
  // metadata copies and whatever the handler allocates there), in bytes;
  // 0: CPAY_SERVER_DEFAULT_CALL_MEMORY. A request that would decode beyond
  // it is answered RESOURCE_EXHAUSTED: it bounds how much a small hostile
  // message (say, millions of empty sub-messages) can make the server hold.
  size_t max_call_memory;
  // Written-but-unsent bytes per call before writes are refused; 0:
  // CPAY_DEFAULT_SEND_QUEUE_BYTES.
  size_t send_queue_bytes;
  // A client that reads nothing for this long while responses wait for it
  // that the handler cannot hand on (a write was refused and on_ready is
  // owed, a blocking send waits for room, or the call finished with
  // responses unsent) has the call ended RESOURCE_EXHAUSTED: a waiting
  // blocking send returns CPAY_ERR_RESOURCE_EXHAUSTED, a reactor gets
  // on_cancel (also when it stopped writing to wait for on_ready), and
  // later writes fail. Noticed within twice the time. 0: 30 s; negative:
  // never.
  int64_t send_stall_timeout_ms;
  // Compression of responses: NULL or "identity", "deflate", "gzip";
  // per call with cpay_server_call_set_compression.
  const char *compression;
  int keepalive_time_ms;     // 0: C-core's default (2 h)
  int keepalive_timeout_ms;  // 0: C-core's default (20 s)
  // The smallest interval between client keepalive pings the server
  // accepts; 0: C-core's default (5 min).
  int keepalive_min_ping_interval_ms;
  // A connection older than this is sent GOAWAY: its running calls go on,
  // new ones go to a fresh connection, so long-lived clients spread over
  // replicas added since they connected (C-core varies it by up to 10%
  // either way, so clients do not all reconnect at once).
  // 0: none (C-core's default); negative: refused by cpay_server_new.
  int max_connection_age_ms;
  // After that GOAWAY, how long calls still running on the old connection
  // may go on before C-core closes it and they fail UNAVAILABLE. 0: no
  // limit (C-core's default).
  int max_connection_age_grace_ms;
  // A connection with no call for this long is sent GOAWAY and closed.
  // 0: none (C-core's default).
  int max_connection_idle_ms;
  // Lame duck: at shutdown, health says NOT_SERVING for this long while
  // calls are still served as usual, so that clients with health checking
  // (cpay_channel_opts.health_check_service) and proxies' health checks
  // send elsewhere before any call is refused; set it above their check
  // interval (HAProxy: inter x fall). Then the drain. 0: none; negative:
  // refused by cpay_server_new.
  int lame_duck_ms;
  // Called once when shutdown begins, after new calls are refused and health
  // says NOT_SERVING, on the thread calling cpay_server_shutdown: end
  // long-lived streams here (subscriptions, say) so they drain within the
  // grace period. Optional.
  void (*on_shutdown)(void *ctx);
  void *on_shutdown_ctx;
} cpay_server_opts;

// A server (not yet listening). `opts` may be NULL. NULL with `st` set on
// failure. Free with cpay_server_free.
CPAY_API cpay_server *cpay_server_new(const cpay_server_opts *opts, cpay_status *st);
// Listens on `addr` ("127.0.0.1:50051", "[::]:0", "unix:/path"); `tls` NULL
// means plaintext. *port (optional) receives the bound port, useful with
// port 0. Before cpay_server_start only.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_listen(cpay_server *srv, const char *addr,
                                                     const cpay_server_tls_opts *tls,
                                                     int *port, cpay_status *st);
// Registers a service; `handlers` (handlers_size bytes) is copied and passed
// to svc->dispatch. Generated foo_Service_register() functions call this.
// Before cpay_server_start only. Also makes the service's files available to
// reflection. CPAY_ERR_INVALID_ARGUMENT when a method has both a blocking
// and a reactor handler.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_add_service(cpay_server *srv,
                                                          const cpay_service_desc *svc,
                                                          const void *handlers,
                                                          size_t handlers_size, void *ctx,
                                                          cpay_status *st);
// Adds an interceptor, copied (before cpay_server_start). They run in the
// order added.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_add_interceptor(
    cpay_server *srv, const cpay_server_interceptor *icpt, cpay_status *st);
// Adds grpc.health.v1.Health (Check and Watch). The overall server ("")
// and every registered service report SERVING once the server starts, and
// NOT_SERVING as soon as shutdown begins (Watch streams then end). Before
// cpay_server_start only.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_enable_health(cpay_server *srv, cpay_status *st);
// Sets the health of `service` ("" for the whole server); tells watchers.
CPAY_API void cpay_server_set_serving(cpay_server *srv, const char *service, bool serving);
// Adds grpc.reflection.v1 and v1alpha ServerReflection, answering from the
// descriptors of the registered services (and health / reflection itself).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_enable_reflection(cpay_server *srv,
                                                                cpay_status *st);
// Starts serving. After this, only cpay_server_set_serving and
// cpay_server_shutdown may be called.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_start(cpay_server *srv, cpay_status *st);
// Marks health NOT_SERVING, serves on for opts.lame_duck_ms, then refuses
// new calls (UNAVAILABLE, before any handler: safe to retry elsewhere),
// runs on_shutdown, lets the running calls finish for up to `grace_ms`
// (negative: wait forever), and only then closes the listeners and sends
// GOAWAY on every connection; calls still running after the grace are
// cancelled: their cancellation callbacks run, their writes fail and their
// reads end (docs/services.md, "Draining and connection age"). Returns when
// every call has ended, which includes every blocking handler having
// returned: a handler that ignores cancellation delays it (poll
// cpay_server_call_is_cancelled, or use cpay_server_call_on_cancel, in long
// handlers). A second caller waits for the first. Not from an event thread
// or a handler.
CPAY_API void cpay_server_shutdown(cpay_server *srv, int64_t grace_ms);
// Shuts down (grace 0) if needed and frees the server. Accepts NULL.
CPAY_API void cpay_server_free(cpay_server *srv);

// ---- a call on the server (both handler styles) ----------------------------
//
// A server call is valid until its on_done returns (reactors) or its
// blocking handler returns. Code on other threads that keeps the pointer
// (a list of subscribers, say) must drop it by then: remove it in on_done
// under the lock it writes under.

CPAY_API const cpay_method *cpay_server_call_method(const cpay_server_call *call);
// "ipv4:127.0.0.1:40312".
CPAY_API const char *cpay_server_call_peer(cpay_server_call *call);
// The client's metadata.
CPAY_API const cpay_md *cpay_server_call_metadata(const cpay_server_call *call, size_t *count);
// The value of the first client metadata entry named `key`, or {NULL, 0}.
CPAY_API cpay_str cpay_server_call_metadata_get(const cpay_server_call *call, const char *key);
// Milliseconds until the client's deadline (at least 0); -1 when it has none.
CPAY_API int64_t cpay_server_call_time_left_ms(const cpay_server_call *call);
// True once the client cancelled, the deadline passed, the connection
// dropped or the server is being forced down.
CPAY_API bool cpay_server_call_is_cancelled(cpay_server_call *call);
// Runs `fn` once, on an event thread, when the call is cancelled as above
// (soon after, if it already is); never for a call that ends
// normally. For blocking handlers too: a handler that is busy learns of the
// cancellation without polling. Replaces an earlier one; once this returns,
// the earlier one is not running and never runs again (except when called
// from that callback itself), and neither is the handler's once the
// blocking handler has returned, so `arg` may point into its stack.
CPAY_API void cpay_server_call_on_cancel(cpay_server_call *call,
                                         void (*fn)(void *arg, cpay_server_call *call),
                                         void *arg);
// An arena that lives until the call ends (unary requests and responses
// live there too). Not thread-safe: use it from one thread at a time.
CPAY_API cpay_arena *cpay_server_call_arena(cpay_server_call *call);
// Adds initial metadata (sent with the first response, the status, or
// cpay_server_call_send_initial_metadata). CPAY_ERR_INVALID_ARGUMENT once
// it has been sent or for a bad key.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_add_initial_metadata(
    cpay_server_call *call, const char *key, cpay_str value);
// Sends the initial metadata now, without waiting for a response (a
// subscription confirms it is registered, say). Does not wait.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_send_initial_metadata(
    cpay_server_call *call, cpay_status *st);
// Adds trailing metadata (sent with the status).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_add_trailing_metadata(
    cpay_server_call *call, const char *key, cpay_str value);
// Compresses this call's responses with `name` ("identity", "deflate",
// "gzip"), overriding the server's; before the initial metadata is sent.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_set_compression(cpay_server_call *call,
                                                                  const char *name,
                                                                  cpay_status *st);
// Sets the status sent when the call ends (the first one set wins); the
// message may be of any length. Returns the cpay code of `code`, so a
// blocking handler can write
// `return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "...");`.
CPAY_API cpay_code cpay_server_call_set_status(cpay_server_call *call, cpay_grpc_code code,
                                               const char *fmt, ...) CPAY_PRINTF(3, 4);
// Adds a rich error detail: `msg` of table `t`, sent packed in a
// google.protobuf.Any inside the grpc-status-details-bin trailer (a
// google.rpc.Status) when the call ends with a status other than OK. See
// cpay/grpc_details.h for typed forms (google.rpc.BadRequest...).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_add_detail(cpay_server_call *call,
                                                             const cpay_msg_table *t,
                                                             const void *msg,
                                                             cpay_status *st);

// ---- blocking handlers ------------------------------------------------------

// Receives one request (client and bidi streaming) onto `arena`; *msg is
// NULL when the client half-closed or the call is over (then
// cpay_server_call_is_cancelled is already true if it was cancelled). An undecodable message fails with its
// decoder code and ends the call INTERNAL (RESOURCE_EXHAUSTED when it would
// take more than max_call_memory). Not on an event thread (a reactor reads
// with cpay_server_call_read): CPAY_ERR_INVALID_ARGUMENT.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_recv(cpay_server_call *call,
                                                        cpay_arena *arena, void **msg,
                                                        cpay_status *st);
// Sends one response (server and bidi streaming; the single response of a
// client-streaming call): queues it, waiting only while the send queue is
// full (on an event thread it returns CPAY_ERR_WOULD_BLOCK instead). Fails
// with CPAY_ERR_CANCELLED once the client is gone (and
// cpay_server_call_is_cancelled is then true if it cancelled), and with
// CPAY_ERR_RESOURCE_EXHAUSTED when the client read nothing for
// send_stall_timeout_ms (the call is then ended).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_send(cpay_server_call *call,
                                                        const void *msg, cpay_status *st);

// ---- reactor handlers -------------------------------------------------------

// The events of a reactor call, after its start handler (the handler
// table's on_<Method>). They run on the server's event threads, one at a
// time, in order, and must not block. Any may be NULL. The typed form is the generated
// X_reactor, set with X_react.
typedef struct cpay_server_reactor {
  // A request message (client and bidi streaming) after each
  // cpay_server_call_read, decoded onto the arena given there; NULL once
  // the client half-closed. A request that does not decode, or that an
  // interceptor rejects, ends the call with that status instead, and a
  // cancelled call gets on_cancel: no on_message then, and on_done
  // follows.
  cpay_fn *on_message;
  // A write was refused with CPAY_ERR_WOULD_BLOCK and there is room again.
  void (*on_ready)(void *state, cpay_server_call *call);
  // The client cancelled, the deadline passed or the connection dropped.
  // Writes fail from now on; finishing is optional.
  void (*on_cancel)(void *state, cpay_server_call *call);
  // The last callback: the call has ended. Free `state` here.
  void (*on_done)(void *state, cpay_server_call *call);
} cpay_server_reactor;

// Sets the call's reactor (copied) and `state`; usually in the start
// handler, before any read or write.
CPAY_API void cpay_server_call_react(cpay_server_call *call, const cpay_server_reactor *r,
                                     void *state);
// Asks for the next request message (client and bidi streaming) onto
// `arena` (NULL: the call's arena); on_message delivers it. One read at a
// time: CPAY_ERR_INVALID_ARGUMENT while one is pending.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_read(cpay_server_call *call,
                                                        cpay_arena *arena, cpay_status *st);
// Queues one response (server and bidi streaming) and returns at once, from
// any thread: CPAY_OK, CPAY_ERR_WOULD_BLOCK when the send queue is full
// (the message is not taken; on_ready follows when there is room),
// CPAY_ERR_CANCELLED once the call was cancelled, or
// CPAY_ERR_INVALID_ARGUMENT after cpay_server_call_finish.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_write(cpay_server_call *call,
                                                         const void *msg, cpay_status *st);
// Ends the call once the queued responses are sent, with the status set by
// cpay_server_call_set_status, or OK; for unary and client-streaming
// methods an OK status carries the response the start handler was given.
// From any thread; later calls do nothing.
CPAY_API void cpay_server_call_finish(cpay_server_call *call);
// cpay_server_call_set_status, then cpay_server_call_finish.
CPAY_API void cpay_server_call_fail(cpay_server_call *call, cpay_grpc_code code,
                                    const char *fmt, ...) CPAY_PRINTF(3, 4);

CPAY_EXTERN_C_END

#endif  // CPAY_GRPC_H_
