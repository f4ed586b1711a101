// REST/JSON and gRPC-Web for a cpay_server, from its own handlers
// (libcpay-http; meson: cpay_http_dep, pkg-config cpay-http).
//
// cpay_server_listen_http adds an HTTP/1.1 listener to a server. Every
// request it takes becomes a call of one of the server's registered
// methods, run by the same handlers, interceptors, limits and health as its
// gRPC calls:
//
// - REST/JSON: the method's google.api.http bindings (cpay_method.http_rules,
//   written by protoc-gen-cpay), path and query parameters and the body
//   bound to request fields, proto3 JSON out, errors as HTTP statuses with a
//   google.rpc.Status JSON body, server streaming as newline-delimited JSON.
// - gRPC-Web (application/grpc-web, +proto, -text): POST /package.Service/Method.
//
// docs/http.md has the binding rules, the header and metadata mapping, CORS
// and what is not supported.
#ifndef CPAY_HTTP_H_
#define CPAY_HTTP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/grpc.h"
#include "cpay/json.h"

CPAY_EXTERN_C_BEGIN

#define CPAY_HTTP_DEFAULT_MAX_BODY ((size_t)4 << 20)
#define CPAY_HTTP_DEFAULT_MAX_HEADERS ((size_t)16 << 10)

typedef struct cpay_http_opts {
  // HTTPS with this certificate and key (PEM, copied); NULL: plain HTTP.
  // client_root_certs and require_client_cert are not supported.
  const cpay_server_tls_opts *tls;
  // Largest request body, in bytes: a larger one is answered 413 (by evhttp,
  // before routing, so with its own small HTML page).
  // 0: CPAY_HTTP_DEFAULT_MAX_BODY.
  size_t max_body_bytes;
  // Largest request line and headers, in bytes: larger ones are answered
  // 400 by evhttp, and the connection closed. 0: CPAY_HTTP_DEFAULT_MAX_HEADERS.
  size_t max_header_bytes;
  // A connection that sends nothing of a request, or reads nothing of a
  // response, for this long is closed (and its call cancelled).
  // 0: 30 s; negative: never.
  int64_t io_timeout_ms;
  // REST responses: CPAY_JSON_EMIT_DEFAULTS, CPAY_JSON_PROTO_NAMES,
  // CPAY_JSON_ENUMS_AS_INTS (cpay/json.h).
  uint32_t json_flags;
  // Nesting allowed in request bodies; 0: CPAY_DEFAULT_MAX_DEPTH.
  int max_json_depth;
  // Types for google.protobuf.Any in REST bodies; NULL: none. Error bodies
  // print the google.rpc error details (BadRequest, ErrorInfo, ...).
  const cpay_registry *registry;
  // Request headers passed to handlers as metadata, lowercase, besides
  // "authorization" and "grpc-metadata-<key>" (passed as <key>), which
  // always are. gRPC-Web requests pass every header but the HTTP ones.
  const char *const *forward_headers;
  size_t forward_header_count;
  // Browser origins allowed by CORS ("https://shop.example", or "*" for
  // any); none: no CORS headers, and preflight requests are answered 403.
  const char *const *cors_origins;
  size_t cors_origin_count;
  // Serve only one of the two (both false: both).
  bool rest_only;
  bool grpc_web_only;
} cpay_http_opts;

// Listens for HTTP on `addr` ("127.0.0.1:8080", "[::1]:0"; a host name is
// resolved once) for `srv`, before cpay_server_start; the listener starts
// with the server, answers 503 once its shutdown begins, and is freed with
// it. *port (optional) receives the bound port. `opts` may be NULL. Serves
// the methods of every service registered by cpay_server_start, with their
// generated JSON descriptions and bindings (a method generated with
// formats=binary is served over gRPC-Web only); cpay_server_start fails
// (CPAY_ERR_INVALID_ARGUMENT, naming the method and template) when a
// binding does not compile.
CPAY_API CPAY_NODISCARD cpay_code cpay_server_listen_http(cpay_server *srv, const char *addr,
                                                          const cpay_http_opts *opts, int *port,
                                                          cpay_status *st);

CPAY_EXTERN_C_END

#endif  // CPAY_HTTP_H_
