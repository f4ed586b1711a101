// libcpay-grpc: gRPC clients and servers over gRPC C-core, blocking-first.
//
// A cpay_channel talks to one target; unary calls block until the answer
// (or the deadline) and streaming calls return a cpay_call with blocking
// send / recv / close_send / finish. A cpay_server listens on addresses and
// runs handlers on a pool of worker threads, one call per worker at a time.
// Generated code (foo.cpay_grpc.h) wraps all of this in typed functions, so
// programs rarely call the generic cpay_call_* / cpay_server_add_service
// functions below directly.
//
// Results: every fallible function returns a cpay_code and fills an optional
// cpay_status. When an RPC ends with a gRPC status other than OK, the cpay
// code is mapped from it through one table (cpay_grpc_code_to_cpay), the
// cpay_status message reads "DEADLINE_EXCEEDED: <server message>", and the
// exact gRPC code, message and metadata land in cpay_call_opts.result.
//
// Thread safety: channels and servers are thread-safe; a cpay_call is used
// by one thread at a time; a cpay_server_call only by its handler's thread
// (cpay_server_call_is_cancelled too).
#ifndef CPAY_GRPC_H_
#define CPAY_GRPC_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
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
// The cpay_code a client function returns for an RPC that ended with `code`
// (CPAY_OK for CPAY_GRPC_OK; CPAY_ERR_INTERNAL for codes without a closer
// cpay code).
CPAY_API cpay_code cpay_grpc_code_to_cpay(cpay_grpc_code code);
// The gRPC status a server sends for a handler that returned `code` without
// setting a status (CPAY_GRPC_OK for CPAY_OK).
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

typedef struct cpay_method {
  const char *path;  // "/payments.v1.PaymentService/ChargeCard"
  const char *name;  // "ChargeCard"
  cpay_method_kind kind;
  const cpay_msg_table *request;
  const cpay_msg_table *response;
} cpay_method;

// A serialized google.protobuf.FileDescriptorProto, for server reflection.
typedef struct cpay_file_descriptor {
  const char *name;  // "payments.proto"
  const uint8_t *data;
  size_t size;
} cpay_file_descriptor;

typedef struct cpay_server_call cpay_server_call;

// Calls the typed handler for method `index` of the service from the
// handler table `handlers`. For unary methods `req` and `resp` are set; for
// server streaming `req` only; for client and bidi streaming neither.
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
} cpay_service_desc;

// ---- channels (client) -----------------------------------------------------

typedef struct cpay_channel cpay_channel;
typedef struct cpay_call_opts cpay_call_opts;

// What a client interceptor sees and may change before a call starts.
typedef struct cpay_client_info cpay_client_info;
CPAY_API const cpay_method *cpay_client_info_method(const cpay_client_info *info);
// The call's options (never NULL; a zeroed struct when the caller passed NULL).
CPAY_API const cpay_call_opts *cpay_client_info_opts(const cpay_client_info *info);
// Metadata so far: the caller's, then what earlier interceptors added.
// Valid until the next cpay_client_info_add_metadata.
CPAY_API const cpay_md *cpay_client_info_metadata(const cpay_client_info *info, size_t *count);
// Adds an entry (copied). CPAY_ERR_INVALID_ARGUMENT for a key that is not
// valid gRPC metadata.
CPAY_API CPAY_NODISCARD cpay_code cpay_client_info_add_metadata(cpay_client_info *info,
                                                               const char *key,
                                                               cpay_str value);

// Runs before every call on the channel, in the order given. A non-OK return
// fails the call before anything is sent, with that code and `st`'s message.
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
  // A service config (JSON), e.g. a retry policy. NULL with retry_unavailable
  // set: cpay's default, retrying every method up to 4 attempts on UNAVAILABLE.
  const char *service_config_json;
  bool retry_unavailable;
  // Compression of requests: NULL or "identity", "deflate", "gzip".
  const char *compression;
  const cpay_client_interceptor *interceptors;  // copied
  size_t interceptor_count;
  // false: channels to the same target with the same options share their
  // connection (C-core's default); true: this channel opens its own, e.g. to
  // spread load over several connections (each carries at most the server's
  // limit of concurrent streams, often 100).
  bool own_connection;
} cpay_channel_opts;

// A channel to `target` ("host:port", "unix:/path", "dns:///name:port").
// Connects lazily. `opts` may be NULL (insecure, 30 s default deadline).
// NULL on failure (bad option) with `st` set. Free with cpay_channel_free.
CPAY_API cpay_channel *cpay_channel_new(const char *target, const cpay_channel_opts *opts,
                                        cpay_status *st);
// Waits until the channel is connected or `timeout_ms` passes (then
// CPAY_ERR_NOT_FOUND with the last connectivity state in `st`).
CPAY_API CPAY_NODISCARD cpay_code cpay_channel_wait_ready(cpay_channel *ch, int64_t timeout_ms,
                                                         cpay_status *st);
// Closes the channel. Calls still running on it are cancelled: they end
// with CANCELLED ("the channel was closed"), also in a thread blocked in
// one of them, and are freed with cpay_call_free as usual. Accepts NULL.
CPAY_API void cpay_channel_free(cpay_channel *ch);

// ---- calls (client) --------------------------------------------------------

// The outcome of a call, filled when it ends (unary call returns, finish).
typedef struct cpay_rpc_result {
  cpay_grpc_code code;
  char message[CPAY_STATUS_MSG_SIZE];  // the server's status message (truncated)
  // In: the arena the metadata below is copied to; NULL: not collected.
  cpay_arena *arena;
  cpay_md *initial_md;  // the server's initial metadata
  size_t initial_md_count;
  cpay_md *trailing_md;  // the server's trailing metadata
  size_t trailing_md_count;
} cpay_rpc_result;

struct cpay_call_opts {
  // Relative deadline: 0 takes the channel default, negative means none.
  int64_t timeout_ms;
  const cpay_md *metadata;  // sent with the request; copied when the call starts
  size_t metadata_count;
  bool wait_for_ready;      // queue while the channel is not connected
  const char *compression;  // overrides the channel's ("identity", "gzip", ...)
  cpay_rpc_result *result;  // optional out: status and metadata
};

typedef struct cpay_call cpay_call;

// A unary call: blocks until the response or the status. *resp is
// allocated on `arena`. Returns CPAY_OK, an error from the interceptors or
// the codec, or the cpay code mapped from the gRPC status.
CPAY_API CPAY_NODISCARD cpay_code cpay_unary_call(cpay_channel *ch, const cpay_method *m,
                                                  const cpay_call_opts *opts, const void *req,
                                                  cpay_arena *arena, void **resp,
                                                  cpay_status *st);
// Starts a streaming call. For server streaming `req` is the one request
// (sent and half-closed at once); otherwise it must be NULL. The call is
// owned by the caller: cpay_call_free it (after cpay_call_finish, or to
// cancel). *call is NULL when the call could not start.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_start(cpay_channel *ch, const cpay_method *m,
                                                  const cpay_call_opts *opts, const void *req,
                                                  cpay_call **call, cpay_status *st);
// Sends one request message (client and bidi streaming). Fails when the
// call has ended (the status is then available from cpay_call_finish).
CPAY_API CPAY_NODISCARD cpay_code cpay_call_send(cpay_call *call, const void *msg,
                                                 cpay_status *st);
// Half-closes: tells the server no more requests follow.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_close_send(cpay_call *call, cpay_status *st);
// Receives one response message onto `arena`; *msg is NULL at the end of
// the stream (then call cpay_call_finish for the status).
CPAY_API CPAY_NODISCARD cpay_code cpay_call_recv(cpay_call *call, cpay_arena *arena,
                                                 void **msg, cpay_status *st);
// Half-closes if needed, receives the single response of a client-streaming
// call when `resp` is non-NULL, and waits for the status. C-core gives the
// status only after the last response message has been received: on a
// server-streaming or bidi call, receive until *msg is NULL first, or finish
// waits for the server to end the call or for the deadline. To stop reading
// early, cpay_call_cancel before finishing (the status is then CANCELLED),
// or just cpay_call_free.
CPAY_API CPAY_NODISCARD cpay_code cpay_call_finish(cpay_call *call, cpay_arena *arena,
                                                   void **resp, cpay_status *st);
// The server's initial metadata (waits for it); valid until cpay_call_free.
CPAY_API const cpay_md *cpay_call_initial_metadata(cpay_call *call, size_t *count);
// Cancels the call (the server sees CANCELLED). Safe to call repeatedly.
CPAY_API void cpay_call_cancel(cpay_call *call);
// Cancels the call if it has not finished and frees it. Accepts NULL.
CPAY_API void cpay_call_free(cpay_call *call);

// ---- servers ---------------------------------------------------------------

typedef struct cpay_server cpay_server;

// Runs on the worker thread before the handler (in the order added). A
// non-OK return rejects the call: with the status set by
// cpay_server_call_set_status, or the one mapped from the returned code.
typedef cpay_code cpay_server_interceptor_fn(void *ctx, cpay_server_call *call,
                                             const cpay_method *method);

// TLS for a listening address. Strings are PEM, copied.
typedef struct cpay_server_tls_opts {
  const char *cert_chain;
  const char *private_key;
  const char *client_root_certs;  // optional: CA for client certificates
  bool require_client_cert;       // reject clients without a valid cert
} cpay_server_tls_opts;

#define CPAY_SERVER_DEFAULT_CALL_MEMORY ((size_t)64 << 20)

typedef struct cpay_server_opts {
  // Worker threads, and so the number of handlers running at once; calls
  // beyond that wait in C-core's queue. 0: 16.
  int workers;
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
  int keepalive_time_ms;           // 0: C-core's default (2 h)
  int keepalive_timeout_ms;        // 0: C-core's default (20 s)
  // The smallest interval between client keepalive pings the server
  // accepts; 0: C-core's default (5 min).
  int keepalive_min_ping_interval_ms;
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
// reflection.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_add_service(cpay_server *srv,
                                                          const cpay_service_desc *svc,
                                                          const void *handlers,
                                                          size_t handlers_size, void *ctx,
                                                          cpay_status *st);
// Adds an interceptor (before cpay_server_start).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_add_interceptor(cpay_server *srv,
                                                              cpay_server_interceptor_fn *fn,
                                                              void *ctx, cpay_status *st);
// Adds grpc.health.v1.Health (Check and Watch). The overall server ("")
// and every registered service report SERVING once the server starts, and
// NOT_SERVING as soon as shutdown begins. Before cpay_server_start only.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_enable_health(cpay_server *srv, cpay_status *st);
// Sets the health of `service` ("" for the whole server); wakes watchers.
CPAY_API void cpay_server_set_serving(cpay_server *srv, const char *service, bool serving);
// Adds grpc.reflection.v1 and v1alpha ServerReflection, answering from the
// descriptors of the registered services (and health / reflection itself).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_enable_reflection(cpay_server *srv,
                                                                cpay_status *st);
// Starts the workers. After this, only cpay_server_set_serving and
// cpay_server_shutdown may be called.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_start(cpay_server *srv, cpay_status *st);
// Stops accepting calls, marks health NOT_SERVING, lets running calls finish
// for up to `grace_ms` (negative: wait forever), then cancels the rest and
// waits for the workers. Idempotent.
CPAY_API void cpay_server_shutdown(cpay_server *srv, int64_t grace_ms);
// Shuts down (grace 0) if needed and frees the server. Accepts NULL.
CPAY_API void cpay_server_free(cpay_server *srv);

// ---- the handler's view of a call ------------------------------------------

CPAY_API const cpay_method *cpay_server_call_method(const cpay_server_call *call);
// "ipv4:127.0.0.1:40312"; valid during the handler.
CPAY_API const char *cpay_server_call_peer(cpay_server_call *call);
// The client's metadata; valid during the handler.
CPAY_API const cpay_md *cpay_server_call_metadata(const cpay_server_call *call, size_t *count);
// The value of the first client metadata entry named `key`, or {NULL, 0}.
CPAY_API cpay_str cpay_server_call_metadata_get(const cpay_server_call *call, const char *key);
// Milliseconds until the client's deadline (at least 0); -1 when it has none.
CPAY_API int64_t cpay_server_call_time_left_ms(const cpay_server_call *call);
// True once the client cancelled, the deadline passed, the connection
// dropped or the server is being forced down.
CPAY_API bool cpay_server_call_is_cancelled(cpay_server_call *call);
// An arena that lives until the call ends (requests and responses of unary
// calls live there too).
CPAY_API cpay_arena *cpay_server_call_arena(cpay_server_call *call);
// Adds initial metadata (sent with the first response, or with the status).
// CPAY_ERR_INVALID_ARGUMENT once it has been sent or for a bad key.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_add_initial_metadata(
    cpay_server_call *call, const char *key, cpay_str value);
// Adds trailing metadata (sent with the status).
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_add_trailing_metadata(
    cpay_server_call *call, const char *key, cpay_str value);
// Sets the status sent when the handler returns (the first one set wins).
// Returns the cpay code mapped from `code`, so a handler can write
// `return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "...");`.
CPAY_API cpay_code cpay_server_call_set_status(cpay_server_call *call, cpay_grpc_code code,
                                               const char *fmt, ...) CPAY_PRINTF(3, 4);
// Receives one request (client and bidi streaming) onto `arena`; *msg is
// NULL when the client half-closed. An undecodable message fails with
// CPAY_ERR_MALFORMED and sets the call's status to INTERNAL.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_recv(cpay_server_call *call,
                                                        cpay_arena *arena, void **msg,
                                                        cpay_status *st);
// Sends one response (server and bidi streaming; the single response of a
// client-streaming call). Fails once the client is gone.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_call_send(cpay_server_call *call,
                                                        const void *msg, cpay_status *st);

CPAY_EXTERN_C_END

#endif  // CPAY_GRPC_H_
