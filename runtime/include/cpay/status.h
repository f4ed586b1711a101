// Result codes and the status object that carries an error's text.
//
// Every fallible cpay function returns a cpay_code (CPAY_OK is zero) and
// takes an optional cpay_status * that receives a human-readable message.
// The first error is kept: later failures do not overwrite it.
#ifndef CPAY_STATUS_H_
#define CPAY_STATUS_H_

#include <stddef.h>

#include "cpay/port.h"

CPAY_EXTERN_C_BEGIN

// The one table of result codes. Each row is
//   X(NAME, number, "description", GRPC, is_grpc)
// NAME gives CPAY_<NAME>; the description is cpay_code_str()'s text; GRPC is
// the gRPC status code a server sends when a handler fails with the code
// (cpay/grpc.h's CPAY_GRPC_<GRPC>). Rows with is_grpc 1 are named after
// their gRPC code and are what a client returns when a call ends with it:
// every gRPC code has exactly one such row, so a deadline, an unavailable
// server, a cancelled call and a bug are different codes. Numbers are stable;
// new codes are appended.
#define CPAY_CODE_TABLE(X)                                                                    \
  X(OK, 0, "ok", OK, 1)                                                                       \
  X(ERR_MALFORMED, 1, "malformed input", INVALID_ARGUMENT, 0)                                 \
  X(ERR_NO_MEMORY, 2, "out of memory", RESOURCE_EXHAUSTED, 0)                                 \
  X(ERR_DEPTH, 3, "nesting too deep", INVALID_ARGUMENT, 0)                                    \
  X(ERR_UTF8, 4, "invalid utf-8", INVALID_ARGUMENT, 0)                                        \
  X(ERR_REQUIRED, 5, "missing required field", INVALID_ARGUMENT, 0)                           \
  X(ERR_INVALID_ARGUMENT, 6, "invalid argument", INVALID_ARGUMENT, 1)                         \
  X(ERR_TOO_LARGE, 7, "too large", RESOURCE_EXHAUSTED, 0)                                     \
  X(ERR_NOT_FOUND, 8, "not found", NOT_FOUND, 1)                                              \
  X(ERR_INTERNAL, 9, "internal error", INTERNAL, 1)                                           \
  X(ERR_CANCELLED, 10, "cancelled", CANCELLED, 1)                                             \
  X(ERR_UNKNOWN, 11, "unknown error", UNKNOWN, 1)                                             \
  X(ERR_DEADLINE_EXCEEDED, 12, "deadline exceeded", DEADLINE_EXCEEDED, 1)                     \
  X(ERR_ALREADY_EXISTS, 13, "already exists", ALREADY_EXISTS, 1)                              \
  X(ERR_PERMISSION_DENIED, 14, "permission denied", PERMISSION_DENIED, 1)                     \
  X(ERR_RESOURCE_EXHAUSTED, 15, "resource exhausted", RESOURCE_EXHAUSTED, 1)                  \
  X(ERR_FAILED_PRECONDITION, 16, "failed precondition", FAILED_PRECONDITION, 1)               \
  X(ERR_ABORTED, 17, "aborted", ABORTED, 1)                                                   \
  X(ERR_OUT_OF_RANGE, 18, "out of range", OUT_OF_RANGE, 1)                                    \
  X(ERR_UNIMPLEMENTED, 19, "unimplemented", UNIMPLEMENTED, 1)                                 \
  X(ERR_UNAVAILABLE, 20, "unavailable", UNAVAILABLE, 1)                                       \
  X(ERR_DATA_LOSS, 21, "data loss", DATA_LOSS, 1)                                             \
  X(ERR_UNAUTHENTICATED, 22, "unauthenticated", UNAUTHENTICATED, 1)                           \
  X(ERR_WOULD_BLOCK, 23, "would block", RESOURCE_EXHAUSTED, 0)

typedef enum cpay_code {
#define CPAY__CODE_ENUM(name, num, text, grpc, is_grpc) CPAY_##name = num,
  CPAY_CODE_TABLE(CPAY__CODE_ENUM)
#undef CPAY__CODE_ENUM
} cpay_code;

// What the codes mean, beyond their names:
// - CPAY_ERR_MALFORMED: input is not valid for its format.
// - CPAY_ERR_NO_MEMORY: the arena could not allocate (allocator or byte limit).
// - CPAY_ERR_DEPTH: nesting deeper than the configured limit.
// - CPAY_ERR_UTF8: a string field holds invalid UTF-8.
// - CPAY_ERR_REQUIRED: a proto2 required field is missing.
// - CPAY_ERR_INVALID_ARGUMENT: the caller passed something unusable.
// - CPAY_ERR_TOO_LARGE: a size limit was exceeded.
// - CPAY_ERR_NOT_FOUND: a lookup found nothing.
// - CPAY_ERR_INTERNAL: a bug in cpay (please report it), or a gRPC peer
//   that answered INTERNAL.
// - CPAY_ERR_CANCELLED .. CPAY_ERR_UNAUTHENTICATED: a gRPC call ended with
//   that status (or a handler chose it, to send that status).
// - CPAY_ERR_WOULD_BLOCK: a gRPC call's send queue is full; wait for its
//   ready callback (see cpay/grpc.h).

#define CPAY_STATUS_MSG_SIZE 256

typedef struct cpay_status {
  cpay_code code;
  char msg[CPAY_STATUS_MSG_SIZE];  // NUL-terminated; empty when ok
} cpay_status;

// One fixed lower-case string per code, e.g. "out of memory"; "unknown
// code" for a number outside the table.
CPAY_API const char *cpay_code_str(cpay_code code);

// Resets `st` to CPAY_OK with an empty message. Accepts NULL.
CPAY_API void cpay_status_clear(cpay_status *st);

// The message, or "" for NULL or an ok status. Never NULL.
CPAY_API const char *cpay_status_msg(const cpay_status *st);

// Records an error in `st` (if non-NULL and still ok) and returns `code`.
// Used by generated code and the runtime; callers rarely need it.
CPAY_API cpay_code cpay_status_set(cpay_status *st, cpay_code code,
                                   const char *fmt, ...) CPAY_PRINTF(3, 4);

CPAY_EXTERN_C_END

#endif  // CPAY_STATUS_H_
