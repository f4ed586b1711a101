// Helpers for the well-known types (google/protobuf/*.proto, compiled into
// libcpay-wkt): google.protobuf.Timestamp to and from `struct timespec`,
// google.protobuf.Duration to and from milliseconds, and the registration
// of every well-known type for JSON's google.protobuf.Any. Link cpay_wkt_dep.
//
// Valid ranges (those of the .proto comments and of proto3 JSON):
// Timestamp 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z with
// nanos in [0, 1e9); Duration +-315576000000 s with nanos in (-1e9, 1e9) of
// the same sign as seconds.
#ifndef CPAY_WKT_H_
#define CPAY_WKT_H_

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cpay/json.h"
#include "cpay/status.h"
#include "google/protobuf/duration.cpay.h"
#include "google/protobuf/timestamp.cpay.h"

CPAY_EXTERN_C_BEGIN

// True when `ts` is in the valid range.
bool cpay_timestamp_valid(const google_protobuf_Timestamp *ts);
// Sets `ts` from `t` (seconds since the epoch, UTC). CPAY_ERR_INVALID_ARGUMENT
// when `t` is outside the valid range or t.tv_nsec outside [0, 1e9).
CPAY_NODISCARD cpay_code cpay_timestamp_from_timespec(google_protobuf_Timestamp *ts,
                                                      struct timespec t, cpay_status *st);
// `ts` as a timespec; CPAY_ERR_INVALID_ARGUMENT when `ts` is not valid (or
// does not fit time_t).
CPAY_NODISCARD cpay_code cpay_timestamp_to_timespec(const google_protobuf_Timestamp *ts,
                                                    struct timespec *out, cpay_status *st);
// The current time (CLOCK_REALTIME).
CPAY_NODISCARD cpay_code cpay_timestamp_now(google_protobuf_Timestamp *ts, cpay_status *st);

// True when `d` is in the valid range with consistent signs.
bool cpay_duration_valid(const google_protobuf_Duration *d);
// Sets `d` to `ms` milliseconds (any int64_t fits the range).
void cpay_duration_from_ms(google_protobuf_Duration *d, int64_t ms);
// `d` in milliseconds, truncated toward zero; CPAY_ERR_INVALID_ARGUMENT when
// `d` is not valid.
CPAY_NODISCARD cpay_code cpay_duration_to_ms(const google_protobuf_Duration *d, int64_t *ms,
                                             cpay_status *st);

// Adds every well-known message type to `r` (Any can then hold any of them).
CPAY_NODISCARD cpay_code cpay_wkt_register_types(cpay_registry *r);

CPAY_EXTERN_C_END

#endif  // CPAY_WKT_H_
