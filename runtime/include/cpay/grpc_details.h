// Typed rich error details: the standard messages of google/rpc/
// error_details.proto, added to a failing server call and read from a
// client's cpay_rpc_result (the grpc-status-details-bin trailer, a
// google.rpc.Status). For any other message type use
// cpay_server_call_add_detail and cpay_rpc_result_detail with its table.
//
// For each type T below (google.rpc.T, C type google_rpc_T):
//   cpay_code cpay_add_T(cpay_server_call *call, const google_rpc_T *d,
//                        cpay_status *st);
//   cpay_code cpay_get_T(const cpay_rpc_result *res, cpay_arena *arena,
//                        google_rpc_T **out, cpay_status *st);
// cpay_get_T gives CPAY_ERR_NOT_FOUND when the status carries no T.
//
//   google_rpc_BadRequest *br = google_rpc_BadRequest_new(cpay_server_call_arena(call));
//   google_rpc_BadRequest_FieldViolation *v = google_rpc_BadRequest_add_field_violations(br, a);
//   v->field = CPAY_STR("amount_cents");
//   v->description = CPAY_STR("must be positive");
//   (void)cpay_add_BadRequest(call, br, NULL);
//   cpay_server_call_fail(call, CPAY_GRPC_INVALID_ARGUMENT, "invalid charge");
#ifndef CPAY_GRPC_DETAILS_H_
#define CPAY_GRPC_DETAILS_H_

#include "cpay/grpc.h"
#include "google/rpc/error_details.cpay.h"

CPAY_EXTERN_C_BEGIN

#define CPAY_RPC_DETAIL_TYPES(X) \
  X(ErrorInfo)                   \
  X(RetryInfo)                   \
  X(DebugInfo)                   \
  X(QuotaFailure)                \
  X(PreconditionFailure)         \
  X(BadRequest)                  \
  X(RequestInfo)                 \
  X(ResourceInfo)                \
  X(Help)                        \
  X(LocalizedMessage)

#define CPAY__RPC_DETAIL_HELPERS(T)                                                          \
  static inline CPAY_NODISCARD cpay_code cpay_add_##T(cpay_server_call *call,                \
                                                      const google_rpc_##T *d,               \
                                                      cpay_status *st) {                     \
    return cpay_server_call_add_detail(call, &google_rpc_##T##_table, d, st);                \
  }                                                                                          \
  static inline CPAY_NODISCARD cpay_code cpay_get_##T(                                       \
      const cpay_rpc_result *res, cpay_arena *arena, google_rpc_##T **out, cpay_status *st) { \
    void *msg = NULL;                                                                        \
    cpay_code code = cpay_rpc_result_detail(res, &google_rpc_##T##_table, arena, &msg, st);  \
    *out = (google_rpc_##T *)msg;                                                            \
    return code;                                                                             \
  }

CPAY_RPC_DETAIL_TYPES(CPAY__RPC_DETAIL_HELPERS)

#undef CPAY__RPC_DETAIL_HELPERS

CPAY_EXTERN_C_END

#endif  // CPAY_GRPC_DETAILS_H_
