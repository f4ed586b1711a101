// Fuzz targets for the untrusted bytes libcpay-grpc reads itself (C-core
// parses HTTP/2 and the headers; these are what cpay does with them):
//
// - grpc_status_details (CPAY_FUZZ_GRPC=1): a client reading the
//   grpc-status-details-bin trailer of a failed call. The input is a
//   status code byte, then the trailer's bytes. Whatever decodes must carry
//   the call's code, and every detail must be readable by
//   cpay_rpc_result_detail as each of the standard types (decoding may fail,
//   cleanly); a round trip through the encoder must decode to the same
//   details. Done twice: in a roomy arena and in one of 2 KiB.
// - grpc_metadata (CPAY_FUZZ_GRPC=2): a server taking a call's metadata.
//   The input is a list of entries, each a key and a value with one-byte
//   lengths; they are copied onto the call's arena (with a small byte limit,
//   as max_call_memory sets), looked up, and validated for echoing them back
//   (cpay__md_out_add), as handlers do with x-request-id.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/slice.h>

#include "cpay/grpc_details.h"
#include "grpc/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const cpay_status *st) {
  fprintf(stderr, "fuzz_grpc: %s: %s\n", what, cpay_status_msg(st));
  abort();
}

#if CPAY_FUZZ_GRPC == 1

static const cpay_msg_table *const kDetailTypes[] = {
    &google_rpc_ErrorInfo_table,    &google_rpc_RetryInfo_table,
    &google_rpc_DebugInfo_table,    &google_rpc_QuotaFailure_table,
    &google_rpc_PreconditionFailure_table, &google_rpc_BadRequest_table,
    &google_rpc_RequestInfo_table,  &google_rpc_ResourceInfo_table,
    &google_rpc_Help_table,         &google_rpc_LocalizedMessage_table,
};

static void check_details(const uint8_t *data, size_t size, cpay_grpc_code code, size_t limit) {
  cpay_arena_opts ao = {.max_bytes = limit};
  cpay_arena *a = cpay_arena_new_opts(&ao);
  if (!a) abort();
  cpay_rpc_result res = {.code = code, .arena = a};
  cpay_status st = {0};
  cpay_code c = cpay__status_details_decode(data, size, code, a, &res.details, &res.detail_count, &st);
  if (c != CPAY_OK) {
    if (c != CPAY_ERR_MALFORMED && c != CPAY_ERR_NO_MEMORY) fail("an unexpected code", &st);
    if (st.code == CPAY_OK || !st.msg[0]) fail("a refused trailer must say why", &st);
    if (res.details || res.detail_count) fail("a refused trailer gave details", &st);
    cpay_arena_free(a);
    return;
  }
  for (size_t i = 0; i < sizeof kDetailTypes / sizeof kDetailTypes[0]; i++) {
    void *msg;
    cpay_status dst = {0};
    cpay_code dc = cpay_rpc_result_detail(&res, kDetailTypes[i], a, &msg, &dst);
    if (dc != CPAY_OK && !dst.msg[0]) fail("a detail that does not decode must say why", &dst);
    if ((dc == CPAY_OK) != (msg != NULL)) fail("a decoded detail without a message", &dst);
  }
  // What decoded encodes, and decodes to the same details.
  cpay_bytes again;
  cpay_status est = {0};
  if (cpay__status_details_encode(code, CPAY_STR("m"), res.details, res.detail_count, a, &again, &est) !=
      CPAY_OK) {
    if (est.code != CPAY_ERR_NO_MEMORY) fail("re-encoding details", &est);
    cpay_arena_free(a);
    return;
  }
  cpay_rpc_detail *d2;
  size_t n2;
  cpay_status st2 = {0};
  c = cpay__status_details_decode(again.data, again.size, code, a, &d2, &n2, &st2);
  if (c != CPAY_OK) {
    if (c != CPAY_ERR_NO_MEMORY) fail("re-encoded details do not decode", &st2);
    cpay_arena_free(a);
    return;
  }
  if (n2 != res.detail_count) fail("re-encoded details changed in number", &st2);
  for (size_t i = 0; i < n2; i++) {
    if (!cpay_str_eq(d2[i].type_url, res.details[i].type_url) ||
        d2[i].value.size != res.details[i].value.size ||
        (d2[i].value.size && memcmp(d2[i].value.data, res.details[i].value.data, d2[i].value.size))) {
      fail("re-encoded details changed", &st2);
    }
  }
  cpay_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  cpay_grpc_code code = (cpay_grpc_code)(data[0] % 17);
  check_details(data + 1, size - 1, code, 64u << 20);
  check_details(data + 1, size - 1, code, 2048);
  return 0;
}

#elif CPAY_FUZZ_GRPC == 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  grpc_metadata_array in;
  grpc_metadata_array_init(&in);
  grpc_metadata items[64];
  size_t n = 0, pos = 0;
  while (n < 64 && pos < size) {
    size_t kl = data[pos++];
    if (pos + kl > size) break;
    grpc_slice key = grpc_slice_from_copied_buffer((const char *)data + pos, kl);
    pos += kl;
    size_t vl = pos < size ? data[pos++] : 0;
    if (pos + vl > size) vl = size - pos;
    grpc_slice value = grpc_slice_from_copied_buffer((const char *)data + pos, vl);
    pos += vl;
    memset(&items[n], 0, sizeof items[n]);
    items[n].key = key;
    items[n].value = value;
    n++;
  }
  in.metadata = items;
  in.count = n;
  // The copy onto the call's arena, limited as max_call_memory limits it.
  size_t limits[] = {64u << 20, 512};
  for (size_t l = 0; l < 2; l++) {
    cpay_arena_opts ao = {.max_bytes = limits[l]};
    cpay_arena *a = cpay_arena_new_opts(&ao);
    if (!a) abort();
    cpay_md *md;
    size_t count;
    cpay_code c = cpay__md_in_copy(&in, a, &md, &count);
    if (c != CPAY_OK && c != CPAY_ERR_NO_MEMORY) {
      cpay_status st = {c, "md_in_copy"};
      fail("copying metadata", &st);
    }
    if (c == CPAY_OK) {
      if (count != n) abort();
      cpay__md_out out = {0};
      for (size_t i = 0; i < count; i++) {
        if (md[i].key.size != GRPC_SLICE_LENGTH(items[i].key) ||
            memcmp(md[i].key.data, GRPC_SLICE_START_PTR(items[i].key), md[i].key.size) != 0) {
          cpay_status st = {CPAY_ERR_INTERNAL, "a copied key differs"};
          fail("copying metadata", &st);
        }
        (void)cpay_md_get(md, count, "x-request-id");
        // Echoing an entry back is validated, never trusted.
        cpay_status st = {0};
        cpay_code oc = cpay__md_out_add(&out, md[i].key, md[i].value, &st);
        if (oc != CPAY_OK && (oc != CPAY_ERR_INVALID_ARGUMENT || !st.msg[0])) {
          fail("echoing metadata", &st);
        }
      }
      cpay__md_out_free(&out);
    }
    cpay_arena_free(a);
  }
  for (size_t i = 0; i < n; i++) {
    grpc_slice_unref(items[i].key);
    grpc_slice_unref(items[i].value);
  }
  return 0;
}

#else
#error "define CPAY_FUZZ_GRPC to 1 or 2"
#endif
