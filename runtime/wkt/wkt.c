// The well-known-type helpers of cpay/wkt.h.
#include "cpay/wkt.h"

#include "google/protobuf/any.cpay.h"
#include "google/protobuf/api.cpay.h"
#include "google/protobuf/descriptor.cpay.h"
#include "google/protobuf/empty.cpay.h"
#include "google/protobuf/field_mask.cpay.h"
#include "google/protobuf/source_context.cpay.h"
#include "google/protobuf/struct.cpay.h"
#include "google/protobuf/type.cpay.h"
#include "google/protobuf/wrappers.cpay.h"

#define TIMESTAMP_MIN INT64_C(-62135596800)
#define TIMESTAMP_MAX INT64_C(253402300799)
#define DURATION_MAX INT64_C(315576000000)

bool cpay_timestamp_valid(const google_protobuf_Timestamp *ts) {
  return ts->seconds >= TIMESTAMP_MIN && ts->seconds <= TIMESTAMP_MAX && ts->nanos >= 0 &&
         ts->nanos <= 999999999;
}

cpay_code cpay_timestamp_from_timespec(google_protobuf_Timestamp *ts, struct timespec t,
                                       cpay_status *st) {
  if ((int64_t)t.tv_sec < TIMESTAMP_MIN || (int64_t)t.tv_sec > TIMESTAMP_MAX || t.tv_nsec < 0 ||
      t.tv_nsec > 999999999) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "timespec out of the range of google.protobuf.Timestamp");
  }
  ts->seconds = (int64_t)t.tv_sec;
  ts->nanos = (int32_t)t.tv_nsec;
  return CPAY_OK;
}

cpay_code cpay_timestamp_to_timespec(const google_protobuf_Timestamp *ts, struct timespec *out,
                                     cpay_status *st) {
  if (!cpay_timestamp_valid(ts)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "google.protobuf.Timestamp out of range (seconds %lld, nanos %d)",
                           (long long)ts->seconds, (int)ts->nanos);
  }
  time_t s = (time_t)ts->seconds;
  if ((int64_t)s != ts->seconds) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "timestamp does not fit time_t");
  }
  out->tv_sec = s;
  out->tv_nsec = ts->nanos;
  return CPAY_OK;
}

cpay_code cpay_timestamp_now(google_protobuf_Timestamp *ts, cpay_status *st) {
  struct timespec t;
  if (timespec_get(&t, TIME_UTC) != TIME_UTC) {
    return cpay_status_set(st, CPAY_ERR_INTERNAL, "timespec_get failed");
  }
  return cpay_timestamp_from_timespec(ts, t, st);
}

bool cpay_duration_valid(const google_protobuf_Duration *d) {
  if (d->seconds < -DURATION_MAX || d->seconds > DURATION_MAX) return false;
  if (d->nanos <= -1000000000 || d->nanos >= 1000000000) return false;
  return !((d->seconds < 0 && d->nanos > 0) || (d->seconds > 0 && d->nanos < 0));
}

void cpay_duration_from_ms(google_protobuf_Duration *d, int64_t ms) {
  // C division truncates toward zero, so seconds and nanos share the sign.
  d->seconds = ms / 1000;
  d->nanos = (int32_t)(ms % 1000) * 1000000;
}

cpay_code cpay_duration_to_ms(const google_protobuf_Duration *d, int64_t *ms, cpay_status *st) {
  if (!cpay_duration_valid(d)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "google.protobuf.Duration out of range (seconds %lld, nanos %d)",
                           (long long)d->seconds, (int)d->nanos);
  }
  // |seconds| <= 3.2e11, so seconds * 1000 fits easily.
  *ms = d->seconds * 1000 + d->nanos / 1000000;
  return CPAY_OK;
}

cpay_code cpay_wkt_register_types(cpay_registry *r) {
  cpay_code (*const fns[])(cpay_registry *) = {
      google_protobuf_any_proto_register_types,
      google_protobuf_api_proto_register_types,
      google_protobuf_descriptor_proto_register_types,
      google_protobuf_duration_proto_register_types,
      google_protobuf_empty_proto_register_types,
      google_protobuf_field_mask_proto_register_types,
      google_protobuf_source_context_proto_register_types,
      google_protobuf_struct_proto_register_types,
      google_protobuf_timestamp_proto_register_types,
      google_protobuf_type_proto_register_types,
      google_protobuf_wrappers_proto_register_types,
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    cpay_code c = fns[i](r);
    if (c) return c;
  }
  return CPAY_OK;
}
