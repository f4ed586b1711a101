// The one table of gRPC status codes: names and their cpay_code mapping in
// both directions.
#include <string.h>

#include "cpay/grpc.h"

typedef struct code_row {
  cpay_grpc_code code;
  const char *name;
  cpay_code cpay;  // what a client returns for it
} code_row;

static const code_row kCodes[] = {
    {CPAY_GRPC_OK, "OK", CPAY_OK},
    {CPAY_GRPC_CANCELLED, "CANCELLED", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_UNKNOWN, "UNKNOWN", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_INVALID_ARGUMENT, "INVALID_ARGUMENT", CPAY_ERR_INVALID_ARGUMENT},
    {CPAY_GRPC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_NOT_FOUND, "NOT_FOUND", CPAY_ERR_NOT_FOUND},
    {CPAY_GRPC_ALREADY_EXISTS, "ALREADY_EXISTS", CPAY_ERR_INVALID_ARGUMENT},
    {CPAY_GRPC_PERMISSION_DENIED, "PERMISSION_DENIED", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED", CPAY_ERR_TOO_LARGE},
    {CPAY_GRPC_FAILED_PRECONDITION, "FAILED_PRECONDITION", CPAY_ERR_INVALID_ARGUMENT},
    {CPAY_GRPC_ABORTED, "ABORTED", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_OUT_OF_RANGE, "OUT_OF_RANGE", CPAY_ERR_INVALID_ARGUMENT},
    {CPAY_GRPC_UNIMPLEMENTED, "UNIMPLEMENTED", CPAY_ERR_NOT_FOUND},
    {CPAY_GRPC_INTERNAL, "INTERNAL", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_UNAVAILABLE, "UNAVAILABLE", CPAY_ERR_INTERNAL},
    {CPAY_GRPC_DATA_LOSS, "DATA_LOSS", CPAY_ERR_MALFORMED},
    {CPAY_GRPC_UNAUTHENTICATED, "UNAUTHENTICATED", CPAY_ERR_INTERNAL},
};

// The reverse direction: the status a server sends for a handler's cpay
// code. Codes the table maps from several gRPC codes pick one here.
typedef struct cpay_row {
  cpay_code cpay;
  cpay_grpc_code code;
} cpay_row;

static const cpay_row kFromCpay[] = {
    {CPAY_OK, CPAY_GRPC_OK},
    {CPAY_ERR_MALFORMED, CPAY_GRPC_INVALID_ARGUMENT},
    {CPAY_ERR_NO_MEMORY, CPAY_GRPC_RESOURCE_EXHAUSTED},
    {CPAY_ERR_DEPTH, CPAY_GRPC_INVALID_ARGUMENT},
    {CPAY_ERR_UTF8, CPAY_GRPC_INVALID_ARGUMENT},
    {CPAY_ERR_REQUIRED, CPAY_GRPC_INVALID_ARGUMENT},
    {CPAY_ERR_INVALID_ARGUMENT, CPAY_GRPC_INVALID_ARGUMENT},
    {CPAY_ERR_TOO_LARGE, CPAY_GRPC_RESOURCE_EXHAUSTED},
    {CPAY_ERR_NOT_FOUND, CPAY_GRPC_NOT_FOUND},
    {CPAY_ERR_INTERNAL, CPAY_GRPC_INTERNAL},
};

const char *cpay_grpc_code_name(cpay_grpc_code code) {
  if ((int)code < 0 || (size_t)code >= sizeof kCodes / sizeof kCodes[0]) return "UNKNOWN_CODE";
  return kCodes[code].name;
}

bool cpay_grpc_code_from_name(const char *name, cpay_grpc_code *out) {
  for (size_t i = 0; name && i < sizeof kCodes / sizeof kCodes[0]; i++) {
    if (strcmp(kCodes[i].name, name) == 0) {
      *out = kCodes[i].code;
      return true;
    }
  }
  return false;
}

cpay_code cpay_grpc_code_to_cpay(cpay_grpc_code code) {
  if ((int)code < 0 || (size_t)code >= sizeof kCodes / sizeof kCodes[0]) return CPAY_ERR_INTERNAL;
  return kCodes[code].cpay;
}

cpay_grpc_code cpay_grpc_code_from_cpay(cpay_code code) {
  for (size_t i = 0; i < sizeof kFromCpay / sizeof kFromCpay[0]; i++) {
    if (kFromCpay[i].cpay == code) return kFromCpay[i].code;
  }
  return CPAY_GRPC_UNKNOWN;
}

cpay_str cpay_md_get(const cpay_md *md, size_t count, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < count; i++) {
    if (md[i].key.size == n && memcmp(md[i].key.data, key, n) == 0) return md[i].value;
  }
  return (cpay_str){NULL, 0};
}
