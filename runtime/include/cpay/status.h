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

typedef enum cpay_code {
  CPAY_OK = 0,
  CPAY_ERR_MALFORMED = 1,         // input is not valid for its format
  CPAY_ERR_NO_MEMORY = 2,         // the arena could not allocate (allocator or byte limit)
  CPAY_ERR_DEPTH = 3,             // nesting deeper than the configured limit
  CPAY_ERR_UTF8 = 4,              // a string field holds invalid UTF-8
  CPAY_ERR_REQUIRED = 5,          // a proto2 required field is missing
  CPAY_ERR_INVALID_ARGUMENT = 6,  // the caller passed something unusable
  CPAY_ERR_TOO_LARGE = 7,         // a size limit was exceeded
  CPAY_ERR_NOT_FOUND = 8,         // a lookup found nothing
  CPAY_ERR_INTERNAL = 9,          // a bug in cpay: please report it
} cpay_code;

#define CPAY_STATUS_MSG_SIZE 256

typedef struct cpay_status {
  cpay_code code;
  char msg[CPAY_STATUS_MSG_SIZE];  // NUL-terminated; empty when ok
} cpay_status;

// One fixed lower-case string per code, e.g. "malformed input".
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
