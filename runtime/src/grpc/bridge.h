// What libcpay-http, a sibling library, needs of libcpay-grpc to serve
// REST and gRPC-Web from a server's own handlers: to start and stop with the
// server, to list its services, and a channel into it. Exported from the
// shared library (CPAY_API) but not public API: the names are cpay__ and
// this header is not installed.
//
// The channel is a gRPC connection over a socketpair, so an HTTP request
// becomes a call that goes through everything a gRPC call does (limits,
// interceptors, deadlines, cancellation, both handler styles) with no
// second path through the server. docs/design.md says why and what it costs.
#ifndef CPAY_SRC_GRPC_BRIDGE_H_
#define CPAY_SRC_GRPC_BRIDGE_H_

#include "cpay/grpc.h"

// Hooks an attached transport gets from the server it serves.
typedef struct cpay__server_hooks {
  // After the server started (its loop runs, calls are accepted): start
  // serving. A failure fails cpay_server_start with it.
  cpay_code (*start)(void *ctx, cpay_server *srv, cpay_status *st);
  // Shutdown begins (new gRPC calls are refused from now on): stop taking
  // requests. Calls in progress go on until they end or the grace passes.
  void (*stop)(void *ctx);
  // The server is being freed, after every call ended and before its loop
  // stops: free everything (channels made by cpay__server_bridge included).
  void (*free)(void *ctx);
  void *ctx;
} cpay__server_hooks;

// Attaches `h` (copied); before cpay_server_start. Hooks run in the order
// attached.
CPAY_API cpay_code cpay__server_attach(cpay_server *srv, const cpay__server_hooks *h,
                                       cpay_status *st);

// A channel whose calls reach `srv` over a connection of their own (a
// socketpair) and whose asynchronous callbacks run on the server's loop;
// after cpay_server_start. `opts` as for cpay_channel_new, less tls,
// keepalive, service config, own_connection and loop. Free it with
// cpay_channel_free before the server is freed (in the free hook).
CPAY_API cpay_channel *cpay__server_bridge(cpay_server *srv, const cpay_channel_opts *opts,
                                           cpay_status *st);

// The registered services, in the order added.
CPAY_API size_t cpay__server_service_count(const cpay_server *srv);
CPAY_API const cpay_service_desc *cpay__server_service(const cpay_server *srv, size_t i);

#endif  // CPAY_SRC_GRPC_BRIDGE_H_
