// Rich error status: the grpc-status-details-bin trailer, a serialized
// google.rpc.Status {code, message, details: repeated google.protobuf.Any},
// as gRPC's own libraries write and read it (grpc_status in Python,
// status.FromError in Go). google/rpc/status.proto and error_details.proto
// ship with cpay (runtime/grpc/proto/) and are compiled by its own plugin.
#include <string.h>

#include "google/rpc/status.cpay.h"
#include "grpc/internal.h"

#define TYPE_URL_PREFIX "type.googleapis.com/"

cpay_code cpay__detail_pack(const cpay_msg_table *t, const void *msg, cpay_arena *a,
                            cpay_rpc_detail *out, cpay_status *st) {
  size_t n = strlen(t->full_name);
  char *url = cpay_arena_malloc(a, sizeof TYPE_URL_PREFIX - 1 + n);
  if (!url) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an error detail");
  memcpy(url, TYPE_URL_PREFIX, sizeof TYPE_URL_PREFIX - 1);
  memcpy(url + sizeof TYPE_URL_PREFIX - 1, t->full_name, n);
  out->type_url = (cpay_str){url, sizeof TYPE_URL_PREFIX - 1 + n};
  return cpay_encode(msg, t, a, NULL, &out->value, st);
}

cpay_code cpay__status_details_encode(cpay_grpc_code code, cpay_str message,
                                      const cpay_rpc_detail *details, size_t count,
                                      cpay_arena *a, cpay_bytes *out, cpay_status *st) {
  google_rpc_Status *s = google_rpc_Status_new(a);
  if (!s) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an error status");
  s->code = (int32_t)code;
  s->message = message;
  for (size_t i = 0; i < count; i++) {
    google_protobuf_Any *any = google_rpc_Status_add_details(s, a);
    if (!any) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for an error status");
    any->type_url = details[i].type_url;
    any->value = details[i].value;
  }
  return google_rpc_Status_serialize(s, a, out, st);
}

cpay_code cpay__status_details_decode(const uint8_t *data, size_t size, cpay_grpc_code code,
                                      cpay_arena *a, cpay_rpc_detail **out, size_t *count,
                                      cpay_status *st) {
  *out = NULL;
  *count = 0;
  google_rpc_Status *s;
  cpay_status dst = {0};
  cpay_code c = google_rpc_Status_parse(data, size, a, &s, &dst);
  if (c != CPAY_OK) {
    return cpay_status_set(st, c == CPAY_ERR_NO_MEMORY ? c : CPAY_ERR_MALFORMED,
                           "grpc-status-details-bin: %s", cpay_status_msg(&dst));
  }
  // A trailer that contradicts the status is ignored, as grpc_status does.
  if (s->code != (int32_t)code) {
    return cpay_status_set(st, CPAY_ERR_MALFORMED,
                           "grpc-status-details-bin: its code %d is not the call's status %d",
                           (int)s->code, (int)code);
  }
  if (s->details.size == 0) return CPAY_OK;
  cpay_rpc_detail *d = cpay_arena_malloc(a, s->details.size * sizeof *d);
  if (!d) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for error details");
  for (size_t i = 0; i < s->details.size; i++) {
    d[i].type_url = s->details.data[i]->type_url;
    d[i].value = s->details.data[i]->value;
  }
  *out = d;
  *count = s->details.size;
  return CPAY_OK;
}

cpay_code cpay_rpc_result_detail(const cpay_rpc_result *res, const cpay_msg_table *t,
                                 cpay_arena *arena, void **out, cpay_status *st) {
  *out = NULL;
  cpay_str want = cpay_str_from_c(t->full_name);
  for (size_t i = 0; i < res->detail_count; i++) {
    cpay_str name;
    if (!cpay_any_type_name(res->details[i].type_url, &name) || !cpay_str_eq(name, want)) continue;
    void *msg = cpay_msg_new(t, arena);
    if (!msg) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for %s", t->full_name);
    cpay_code c = cpay_decode(res->details[i].value.data, res->details[i].value.size, msg, t,
                              arena, NULL, st);
    if (c == CPAY_OK) *out = msg;
    return c;
  }
  return cpay_status_set(st, CPAY_ERR_NOT_FOUND, "no %s among the %zu error details",
                         t->full_name, res->detail_count);
}
