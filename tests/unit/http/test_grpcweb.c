// gRPC-Web framing: content types, the incremental reader (binary and
// base64 text, split at every byte, padding between chunks, every bad
// frame), the writers (read back by the reader), and grpc-timeout.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "http/grpcweb.h"

Suite *grpcweb_suite(void);

// ---- content types -----------------------------------------------------------------

typedef struct ct_case {
  const char *ct;
  cpay_code code;
  cpay__grpcweb_kind kind;
} ct_case;

static const ct_case kTypes[] = {
    {"application/grpc-web", CPAY_OK, CPAY__GRPCWEB_BINARY},
    {"application/grpc-web+proto", CPAY_OK, CPAY__GRPCWEB_BINARY},
    {"Application/GRPC-Web+Proto; charset=utf-8", CPAY_OK, CPAY__GRPCWEB_BINARY},
    {"application/grpc-web-text", CPAY_OK, CPAY__GRPCWEB_TEXT},
    {"application/grpc-web-text+proto", CPAY_OK, CPAY__GRPCWEB_TEXT},
    {" application/grpc-web-text-base64 ", CPAY_OK, CPAY__GRPCWEB_TEXT},
    {"application/grpc-web+json", CPAY_ERR_UNIMPLEMENTED, CPAY__GRPCWEB_NONE},
    {"application/grpc-web-text+thrift", CPAY_ERR_UNIMPLEMENTED, CPAY__GRPCWEB_NONE},
    {"application/grpc", CPAY_OK, CPAY__GRPCWEB_NONE},
    {"application/json", CPAY_OK, CPAY__GRPCWEB_NONE},
    {"application/grpc-webx", CPAY_OK, CPAY__GRPCWEB_NONE},
    {"", CPAY_OK, CPAY__GRPCWEB_NONE},
};

START_TEST(test_grpcweb_content_type) {
  const ct_case *tc = &kTypes[_i];
  cpay__grpcweb_kind k = CPAY__GRPCWEB_TEXT;
  cpay_status st = {0};
  ck_assert_int_eq(cpay__grpcweb_content_type(tc->ct, strlen(tc->ct), &k, &st), tc->code);
  ck_assert_int_eq(k, tc->kind);
  if (tc->code) ck_assert_ptr_nonnull(strstr(st.msg, "is not supported for gRPC-Web"));
}
END_TEST

// ---- reading -----------------------------------------------------------------------

// What the reader delivered: "len:first-byte;" per message, and the bytes.
typedef struct got {
  char log[4096];
  size_t total;
  int fail_at;  // the callback fails on this message (-1: never)
  int count;
} got;

static cpay_code collect(void *ctx, const uint8_t *msg, size_t len, bool compressed,
                         cpay_status *st) {
  got *g = ctx;
  if (g->count++ == g->fail_at) return cpay_status_set(st, CPAY_ERR_CANCELLED, "stop");
  size_t n = strlen(g->log);
  snprintf(g->log + n, sizeof g->log - n, "%zu:%02x%s;", len, len ? msg[len - 1] : 0,
           compressed ? "z" : "");
  g->total += len;
  return CPAY_OK;
}

// A stream of three frames: "hello", empty, and 300 bytes.
static size_t sample(uint8_t *buf) {
  size_t n = 0;
  const uint8_t h1[] = {0, 0, 0, 0, 5};
  memcpy(buf + n, h1, 5);
  n += 5;
  memcpy(buf + n, "hello", 5);
  n += 5;
  memset(buf + n, 0, 5);
  n += 5;
  const uint8_t h3[] = {0, 0, 0, 1, 44};
  memcpy(buf + n, h3, 5);
  n += 5;
  for (int i = 0; i < 300; i++) buf[n++] = (uint8_t)i;
  return n;
}

static const char kSampleLog[] = "5:6f;0:00;300:2b;";

// Feeds `chunks` (offsets into data, ending with len) and finishes.
static cpay_code run_reader(cpay__grpcweb_kind kind, const uint8_t *data, size_t len,
                            const size_t *cuts, size_t ncuts, size_t max, got *g,
                            cpay_status *st) {
  cpay_arena *a = cpay_arena_new();
  cpay__grpcweb_reader r;
  cpay__grpcweb_reader_init(&r, kind, max, false, a);
  size_t prev = 0;
  cpay_code c = CPAY_OK;
  for (size_t i = 0; i <= ncuts && !c; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    c = cpay__grpcweb_reader_feed(&r, data + prev, end - prev, collect, g, st);
    prev = end;
  }
  if (!c) c = cpay__grpcweb_reader_finish(&r, collect, g, st);
  cpay_arena_free(a);
  return c;
}

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reference base64 of the test itself, with padding.
static size_t to_b64(const uint8_t *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = kB64[v >> 18];
    out[o++] = kB64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? kB64[v & 63] : '=';
  }
  return o;
}

START_TEST(test_grpcweb_binary_every_split) {
  uint8_t data[400];
  size_t n = sample(data);
  for (size_t cut = 0; cut <= n; cut++) {
    got g = {.fail_at = -1};
    cpay_status st = {0};
    ck_assert_int_eq(run_reader(CPAY__GRPCWEB_BINARY, data, n, &cut, 1, 1000, &g, &st), CPAY_OK);
    ck_assert_msg(strcmp(g.log, kSampleLog) == 0, "cut at %zu: %s", cut, g.log);
  }
  // One byte at a time.
  size_t cuts[400];
  for (size_t i = 0; i < n; i++) cuts[i] = i;
  got g = {.fail_at = -1};
  cpay_status st = {0};
  ck_assert_int_eq(run_reader(CPAY__GRPCWEB_BINARY, data, n, cuts, n, 1000, &g, &st), CPAY_OK);
  ck_assert_str_eq(g.log, kSampleLog);
}
END_TEST

START_TEST(test_grpcweb_text_every_split) {
  uint8_t data[400];
  size_t n = sample(data);
  char text[1200];
  // Whole, and as three padded chunks (one per frame, as a server flushes).
  size_t whole = to_b64(data, n, text);
  size_t chunked = to_b64(data, 10, text + whole);
  chunked += to_b64(data + 10, 5, text + whole + chunked);
  chunked += to_b64(data + 15, n - 15, text + whole + chunked);
  ck_assert_ptr_nonnull(memchr(text + whole, '=', chunked));
  const char *forms[2] = {text, text + whole};
  size_t lens[2] = {whole, chunked};
  for (int f = 0; f < 2; f++) {
    for (size_t cut = 0; cut <= lens[f]; cut++) {
      got g = {.fail_at = -1};
      cpay_status st = {0};
      cpay_code c = run_reader(CPAY__GRPCWEB_TEXT, (const uint8_t *)forms[f], lens[f], &cut, 1,
                               1000, &g, &st);
      ck_assert_msg(c == CPAY_OK, "form %d cut at %zu: %s", f, cut, st.msg);
      ck_assert_msg(strcmp(g.log, kSampleLog) == 0, "form %d cut at %zu: %s", f, cut, g.log);
    }
  }
  // Without the final padding.
  ck_assert_int_eq(text[whole - 1], '=');
  size_t unpadded = whole;
  while (text[unpadded - 1] == '=') unpadded--;
  got g = {.fail_at = -1};
  cpay_status st = {0};
  ck_assert_int_eq(run_reader(CPAY__GRPCWEB_TEXT, (const uint8_t *)text, unpadded, NULL, 0, 1000,
                              &g, &st),
                   CPAY_OK);
  ck_assert_str_eq(g.log, kSampleLog);
}
END_TEST

typedef struct bad_case {
  cpay__grpcweb_kind kind;
  const char *data;
  size_t len;
  size_t max;
  cpay_code code;
  const char *msg;
} bad_case;

#define BIN(s) CPAY__GRPCWEB_BINARY, s, sizeof s - 1
#define TXT(s) CPAY__GRPCWEB_TEXT, s, sizeof s - 1

static const bad_case kBad[] = {
    {BIN("\0\0\0\0\1x\x80\0\0\0\0"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web: frame at offset 6 is a trailer frame (flags 0x80), which a request cannot send"},
    {BIN("\x02\0\0\0\0"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web: frame at offset 0 has unknown flags 0x02"},
    {BIN("\x01\0\0\0\1x"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web: frame at offset 0 is compressed but the request named no grpc-encoding (only "
     "identity is supported)"},
    {BIN("\0\0\0\0\x65"), 100, CPAY_ERR_TOO_LARGE,
     "grpc-web: frame at offset 0 holds 101 bytes, more than the limit of 100"},
    {BIN("\0\xff\xff\xff\xff"), 100, CPAY_ERR_TOO_LARGE,
     "grpc-web: frame at offset 0 holds 4294967295 bytes, more than the limit of 100"},
    {BIN("\0\0\0\0\1x\0\0"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web: truncated: the frame header at offset 6 ends after 2 of its 5 bytes"},
    {BIN("\0\0\0\0\3ab"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web: truncated: the frame at offset 0 ends after 2 of its 3 payload bytes"},
    {TXT("AAAAAAF4*A=="), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): byte 0x2a at text offset 8 is not base64"},
    {TXT("AAAAAAF4\nAAAA"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): byte 0x0a at text offset 8 is not base64"},
    {TXT("AAAAAAF4A==="), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): byte 0x3d at text offset 9 '=' comes too early in its base64 group"},
    {TXT("AAAAAAF4AA=A"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): byte 0x41 at text offset 11 is base64 data after '='"},
    {TXT("AAAAAAF4A"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): the text ends inside a base64 group at text offset 9"},
    // A trailer frame in text: decoded offsets.
    {TXT("AAAAAAF4gAAAAAA="), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): frame at offset 6 is a trailer frame (flags 0x80), which a request "
     "cannot send"},
    // A frame error before a base64 error is the one reported.
    {TXT("gAAAAAA=*"), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): frame at offset 0 is a trailer frame (flags 0x80), which a request "
     "cannot send"},
    {TXT("AAAAAA=="), 100, CPAY_ERR_INVALID_ARGUMENT,
     "grpc-web (text): truncated: the frame header at offset 0 ends after 4 of its 5 bytes"},
};

START_TEST(test_grpcweb_bad_input) {
  const bad_case *tc = &kBad[_i];
  // Whole, and one byte at a time: the same error.
  for (int split = 0; split < 2; split++) {
    size_t cuts[64];
    for (size_t i = 0; i < tc->len; i++) cuts[i] = i;
    got g = {.fail_at = -1};
    cpay_status st = {0};
    cpay_code c = run_reader(tc->kind, (const uint8_t *)tc->data, tc->len, cuts,
                             split ? tc->len : 0, tc->max, &g, &st);
    ck_assert_msg(c == tc->code, "case %d split %d: %d %s", _i, split, c, st.msg);
    ck_assert_str_eq(st.msg, tc->msg);
  }
}
END_TEST

// The callback's error stops the reader, which then refuses more input;
// compressed frames reach it when allowed.
START_TEST(test_grpcweb_reader_stops) {
  uint8_t data[400];
  size_t n = sample(data);
  got g = {.fail_at = 1};
  cpay_status st = {0};
  cpay_arena *a = cpay_arena_new();
  cpay__grpcweb_reader r;
  cpay__grpcweb_reader_init(&r, CPAY__GRPCWEB_BINARY, 1000, false, a);
  ck_assert_int_eq(cpay__grpcweb_reader_feed(&r, data, n, collect, &g, &st), CPAY_ERR_CANCELLED);
  ck_assert_str_eq(g.log, "5:6f;");
  cpay_status st2 = {0};
  ck_assert_int_eq(cpay__grpcweb_reader_feed(&r, data, n, collect, &g, &st2),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st2.msg, "grpc-web: the body already failed");
  cpay__grpcweb_reader_init(&r, CPAY__GRPCWEB_BINARY, 1000, true, a);
  got g2 = {.fail_at = -1};
  ck_assert_int_eq(cpay__grpcweb_reader_feed(&r, "\x01\0\0\0\1x", 6, collect, &g2, &st), CPAY_OK);
  ck_assert_int_eq(cpay__grpcweb_reader_finish(&r, collect, &g2, &st), CPAY_OK);
  ck_assert_str_eq(g2.log, "1:78z;");
  cpay_arena_free(a);
}
END_TEST

// ---- writing -----------------------------------------------------------------------

START_TEST(test_grpcweb_writers) {
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_bytes out;
  ck_assert_int_eq(cpay__grpcweb_data_frame((const uint8_t *)"hi", 2, CPAY__GRPCWEB_BINARY, a,
                                            &out, &st),
                   CPAY_OK);
  ck_assert_uint_eq(out.size, 7);
  ck_assert_int_eq(memcmp(out.data, "\0\0\0\0\2hi", 7), 0);
  ck_assert_int_eq(cpay__grpcweb_data_frame((const uint8_t *)"hi", 2, CPAY__GRPCWEB_TEXT, a, &out,
                                            &st),
                   CPAY_OK);
  ck_assert_uint_eq(out.size, 12);
  ck_assert_int_eq(memcmp(out.data, "AAAAAAJoaQ==", 12), 0);
  cpay_md md[2] = {{CPAY_STR("X-Request-Id"), CPAY_STR("abc 1")},
                   {CPAY_STR("grpc-status-details-bin"), {"\x00\xff\x10", 3}}};
  ck_assert_int_eq(cpay__grpcweb_trailers(CPAY_GRPC_INVALID_ARGUMENT,
                                          CPAY_STR("bad \"x\" 100% \xc3\xa9\r\n"), md, 2,
                                          CPAY__GRPCWEB_BINARY, a, &out, &st),
                   CPAY_OK);
  static const char want[] =
      "grpc-status:3\r\ngrpc-message:bad \"x\" 100%25 %C3%A9%0D%0A\r\n"
      "x-request-id:abc 1\r\ngrpc-status-details-bin:AP8Q\r\n";
  ck_assert_uint_eq(out.size, 5 + sizeof want - 1);
  ck_assert_int_eq(out.data[0], 0x80);
  ck_assert_int_eq(out.data[4], sizeof want - 1);
  ck_assert_int_eq(memcmp(out.data + 5, want, sizeof want - 1), 0);
  // OK without a message.
  ck_assert_int_eq(cpay__grpcweb_trailers(CPAY_GRPC_OK, CPAY_STR(""), NULL, 0,
                                          CPAY__GRPCWEB_BINARY, a, &out, &st),
                   CPAY_OK);
  ck_assert_uint_eq(out.size, 5 + 15);
  ck_assert_int_eq(memcmp(out.data, "\x80\0\0\0\x0fgrpc-status:0\r\n", 20), 0);
  ck_assert_int_eq(cpay__grpcweb_trailers(CPAY_GRPC_OK, CPAY_STR(""), NULL, 0, CPAY__GRPCWEB_TEXT,
                                          a, &out, &st),
                   CPAY_OK);
  ck_assert_int_eq(memcmp(out.data, "gAAAAA9ncnBjLXN0YXR1czowDQo=", out.size), 0);
  cpay_arena_free(a);
}
END_TEST

typedef struct bad_md {
  cpay_md md;
  const char *msg;
} bad_md;

static const bad_md kBadMd[] = {
    {{{"", 0}, {"v", 1}}, "grpc-web trailer 0: empty key"},
    {{{"a b", 3}, {"v", 1}}, "grpc-web trailer 'a b': byte 0x20 is not allowed in a key"},
    {{{"x:y", 3}, {"v", 1}}, "grpc-web trailer 'x:y': byte 0x3a is not allowed in a key"},
    {{{"Grpc-Status", 11}, {"0", 1}}, "grpc-web trailer 'Grpc-Status': reserved for the status"},
    {{{"x", 1}, {"a\r\nevil: 1", 10}},
     "grpc-web trailer 'x': byte 0x0d at 1 is not printable ASCII (name the key -bin for bytes)"},
};

START_TEST(test_grpcweb_bad_trailers) {
  cpay_arena *a = cpay_arena_new();
  cpay_status st = {0};
  cpay_bytes out;
  ck_assert_int_eq(cpay__grpcweb_trailers(CPAY_GRPC_OK, CPAY_STR(""), &kBadMd[_i].md, 1,
                                          CPAY__GRPCWEB_BINARY, a, &out, &st),
                   CPAY_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(st.msg, kBadMd[_i].msg);
  cpay_arena_free(a);
}
END_TEST

// What the writer writes, the reader reads (data frames; a trailer frame is
// refused, as a request must not carry one).
START_TEST(test_grpcweb_round_trip) {
  for (int k = 1; k <= 2; k++) {
    cpay__grpcweb_kind kind = (cpay__grpcweb_kind)k;
    cpay_arena *a = cpay_arena_new();
    cpay_status st = {0};
    cpay__grpcweb_reader r;
    cpay__grpcweb_reader_init(&r, kind, 1 << 20, false, a);
    got g = {.fail_at = -1};
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
    for (size_t len = 0; len < sizeof payload; len += 97) {
      cpay_bytes out;
      ck_assert_int_eq(cpay__grpcweb_data_frame(payload, len, kind, a, &out, &st), CPAY_OK);
      ck_assert_int_eq(cpay__grpcweb_reader_feed(&r, out.data, out.size, collect, &g, &st),
                       CPAY_OK);
    }
    ck_assert_int_eq(cpay__grpcweb_reader_finish(&r, collect, &g, &st), CPAY_OK);
    ck_assert_int_eq(g.count, 11);
    ck_assert_uint_eq(g.total, 97 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10));
    cpay_bytes tr;
    ck_assert_int_eq(cpay__grpcweb_trailers(CPAY_GRPC_OK, CPAY_STR(""), NULL, 0, kind, a, &tr, &st),
                     CPAY_OK);
    ck_assert_int_eq(cpay__grpcweb_reader_feed(&r, tr.data, tr.size, collect, &g, &st),
                     CPAY_ERR_INVALID_ARGUMENT);
    cpay_arena_free(a);
  }
}
END_TEST

// ---- grpc-timeout ------------------------------------------------------------------

typedef struct timeout_case {
  const char *s;
  int64_t ms;  // -1: refused
} timeout_case;

static const timeout_case kTimeouts[] = {
    {"1S", 1000},       {"500m", 500},          {"10u", 1},    {"1000u", 1},     {"1001u", 2},
    {"2M", 120000},     {"1H", 3600000},        {"0m", 0},     {"5n", 1},        {"0n", 0},
    {"99999999H", INT64_C(359999996400000)},    {"00000001S", 1000}, {"000000001S", -1},{"12345678m", 12345678},
    {"123456789S", -1}, {"1.5S", -1},           {"10", -1},    {"5s", -1},       {"S", -1},
    {"", -1},           {"-1S", -1},            {"1SS", -1},   {" 1S", -1},      {"1 S", -1},
};

START_TEST(test_grpcweb_timeout) {
  const timeout_case *tc = &kTimeouts[_i];
  int64_t ms = 42;
  cpay_status st = {0};
  cpay_code c = cpay__grpc_timeout_ms(tc->s, strlen(tc->s), &ms, &st);
  if (tc->ms < 0) {
    ck_assert_msg(c == CPAY_ERR_INVALID_ARGUMENT, "%s accepted", tc->s);
    ck_assert_int_eq(strncmp(st.msg, "grpc-timeout \"", 14), 0);
  } else {
    ck_assert_msg(c == CPAY_OK, "%s: %s", tc->s, st.msg);
    ck_assert_int_eq(ms, tc->ms);
  }
}
END_TEST

Suite *grpcweb_suite(void) {
  Suite *s = suite_create("grpcweb");
  TCase *tc = tcase_create("grpcweb");
  tcase_add_loop_test(tc, test_grpcweb_content_type, 0, (int)(sizeof kTypes / sizeof kTypes[0]));
  tcase_add_test(tc, test_grpcweb_binary_every_split);
  tcase_add_test(tc, test_grpcweb_text_every_split);
  tcase_add_loop_test(tc, test_grpcweb_bad_input, 0, (int)(sizeof kBad / sizeof kBad[0]));
  tcase_add_test(tc, test_grpcweb_reader_stops);
  tcase_add_test(tc, test_grpcweb_writers);
  tcase_add_loop_test(tc, test_grpcweb_bad_trailers, 0, (int)(sizeof kBadMd / sizeof kBadMd[0]));
  tcase_add_test(tc, test_grpcweb_round_trip);
  tcase_add_loop_test(tc, test_grpcweb_timeout, 0, (int)(sizeof kTimeouts / sizeof kTimeouts[0]));
  suite_add_tcase(s, tc);
  return s;
}
