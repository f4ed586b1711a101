// gRPC status codes: their names and their mapping to cpay codes in both
// directions, all taken from the one table of cpay/status.h.
#include <string.h>

#include "cpay/grpc.h"

#define GRPC_CODES 17  // 0..16: CPAY_GRPC_OK .. CPAY_GRPC_UNAUTHENTICATED

// Indexed by gRPC code: the row named after it. The other rows go past the
// end (GRPC_CODES + their number), so every row has a slot of its own and a
// gRPC code given twice would not compile.
#define SLOT(grpc, num, is_grpc) [(is_grpc) ? CPAY_GRPC_##grpc : GRPC_CODES + (num)]

static const cpay_code kToCpay[] = {
#define TO_CPAY(name, num, text, grpc, is_grpc) SLOT(grpc, num, is_grpc) = CPAY_##name,
    CPAY_CODE_TABLE(TO_CPAY)
#undef TO_CPAY
};

static const char *const kNames[] = {
#define NAME(name, num, text, grpc, is_grpc) SLOT(grpc, num, is_grpc) = (is_grpc) ? #grpc : NULL,
    CPAY_CODE_TABLE(NAME)
#undef NAME
};

static const cpay_grpc_code kFromCpay[] = {
#define FROM_CPAY(name, num, text, grpc, is_grpc) [CPAY_##name] = CPAY_GRPC_##grpc,
    CPAY_CODE_TABLE(FROM_CPAY)
#undef FROM_CPAY
};

const char *cpay_grpc_code_name(cpay_grpc_code code) {
  if ((unsigned)code >= GRPC_CODES || !kNames[code]) return "UNKNOWN_CODE";
  return kNames[code];
}

bool cpay_grpc_code_from_name(const char *name, cpay_grpc_code *out) {
  for (unsigned i = 0; name && i < GRPC_CODES; i++) {
    if (kNames[i] && strcmp(kNames[i], name) == 0) {
      *out = (cpay_grpc_code)i;
      return true;
    }
  }
  return false;
}

cpay_code cpay_grpc_code_to_cpay(cpay_grpc_code code) {
  if ((unsigned)code >= GRPC_CODES) return CPAY_ERR_UNKNOWN;
  return kToCpay[code];
}

cpay_grpc_code cpay_grpc_code_from_cpay(cpay_code code) {
  if ((unsigned)code >= sizeof kFromCpay / sizeof kFromCpay[0]) return CPAY_GRPC_UNKNOWN;
  return kFromCpay[code];
}

cpay_str cpay_md_get(const cpay_md *md, size_t count, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < count; i++) {
    if (md[i].key.size == n && memcmp(md[i].key.data, key, n) == 0) return md[i].value;
  }
  return (cpay_str){NULL, 0};
}
