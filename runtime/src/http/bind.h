// The binder of the HTTP listener (issue 18): the request message of a
// matched binding (route.h), built on an arena from, in this order,
//
// 1. the body, proto3 JSON: with body "*" the whole request, with a field
//    path that field's value (a message field takes the JSON object, or
//    the string form of a well-known type; a repeated, map or scalar field
//    takes the JSON array, object or value), with no body rule nothing:
//    a non-empty body is then refused;
// 2. the path variables, each a JSON string or number for its field;
// 3. the query parameters, "?a.b=1&tags=x&tags=y": dotted field paths by
//    proto or JSON name, '+' and percent-encoding decoded; a repeated
//    field takes every value given for it; enums by name or number; bools
//    true or false; Timestamp, Duration, FieldMask and the wrappers in
//    their JSON string forms; bytes in base64 or base64url.
//
// Values are converted by cpay_json_decode (cpay/json.h), one small JSON
// document per field, so the rules and messages are those of proto3 JSON.
#ifndef CPAY_SRC_HTTP_BIND_H_
#define CPAY_SRC_HTTP_BIND_H_

#include <stddef.h>

#include "cpay/json.h"
#include "http/route.h"

// The body limit when cpay__http_bind_opts.max_body is 0.
#define CPAY__HTTP_DEFAULT_MAX_BODY ((size_t)4 << 20)

typedef struct cpay__http_bind_opts {
  size_t max_body;  // bytes; 0: CPAY__HTTP_DEFAULT_MAX_BODY
  int max_depth;    // message nesting of the body; 0: CPAY_DEFAULT_MAX_DEPTH
  const cpay_registry *registry;  // types for google.protobuf.Any in the body; NULL: none
} cpay__http_bind_opts;

// Builds the request of match `m` on `a` into *out from `query` (the text
// after '?', without it; `query_len` 0 for none) and `body` (`body_len`
// bytes, as received). `opts` may be NULL. The message may alias nothing
// of the inputs: strings are copied onto `a`.
//
// Errors (the message says which parameter, variable or body offset):
// - CPAY_ERR_INVALID_ARGUMENT (answer 400): the body is not JSON for its
//   field ("body: $.optionalInt32: invalid integer \"x\" at offset 17") or
//   is nested deeper than max_depth, a body on a binding without one, a
//   path variable or query parameter whose value does not convert
//   ("query parameter 'optionalInt32': invalid integer \"abc\""), a
//   query parameter that names no field, a map, a message without a
//   string form, a field the path or the body sets, or a singular field
//   twice, bad percent-encoding in the query;
// - CPAY_ERR_TOO_LARGE (413): the body is longer than max_body;
// - CPAY_ERR_NO_MEMORY: `a` ran out (its byte limit, say).
CPAY_NODISCARD cpay_code cpay__http_bind(const cpay__http_match *m, const char *query,
                                         size_t query_len, const char *body, size_t body_len,
                                         const cpay__http_bind_opts *opts, cpay_arena *a,
                                         void **out, cpay_status *st);

#endif  // CPAY_SRC_HTTP_BIND_H_
