// gRPC-Web framing: a reader that runs base64 decoding (for -text) and frame
// parsing as two small state machines over whatever chunks arrive, handing
// over payloads in place when a chunk holds them whole, and the writers of
// data and trailer frames. The base64 here is streaming (groups may span
// chunks, padding may come between chunks), which the JSON code's
// whole-string base64 is not, and libcpay does not export it.
#include "http/grpcweb.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---- content types -------------------------------------------------------------

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

// Whether the `n` bytes at `s` equal the lower-case C string `lit`,
// ignoring case.
static bool eq_nocase(const char *s, size_t n, const char *lit) {
  size_t i = 0;
  for (; i < n && lit[i]; i++) {
    if (lower(s[i]) != lit[i]) return false;
  }
  return i == n && lit[i] == 0;
}

cpay_code cpay__grpcweb_content_type(const char *ct, size_t len, cpay__grpcweb_kind *kind,
                                     cpay_status *st) {
  *kind = CPAY__GRPCWEB_NONE;
  const char *semi = memchr(ct, ';', len);
  size_t n = semi ? (size_t)(semi - ct) : len;
  while (n && (ct[0] == ' ' || ct[0] == '\t')) {
    ct++;
    n--;
  }
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  static const char kBase[] = "application/grpc-web";
  size_t bl = sizeof kBase - 1;
  if (n < bl || !eq_nocase(ct, bl, kBase)) return CPAY_OK;
  const char *rest = ct + bl;
  size_t rn = n - bl;
  cpay__grpcweb_kind k = CPAY__GRPCWEB_BINARY;
  if (rn >= 5 && eq_nocase(rest, 5, "-text")) {
    k = CPAY__GRPCWEB_TEXT;
    rest += 5;
    rn -= 5;
    if (eq_nocase(rest, rn, "-base64")) rn = 0;
  }
  if (rn == 0 || eq_nocase(rest, rn, "+proto")) {
    *kind = k;
    return CPAY_OK;
  }
  if (rest[0] == '+') {
    return cpay_status_set(st, CPAY_ERR_UNIMPLEMENTED,
                           "content type %.*s: the %.*s codec is not supported for gRPC-Web "
                           "(only protobuf)",
                           (int)(n > 96 ? 96 : n), ct, (int)(rn > 32 ? 32 : rn - 1), rest + 1);
  }
  return CPAY_OK;  // "application/grpc-webfoo": not gRPC-Web
}

// ---- base64 --------------------------------------------------------------------

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding of `n` bytes into `out` (4 * ((n + 2) / 3)
// bytes); returns the length.
static size_t b64_encode(const uint8_t *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = kB64[v >> 18];
    out[o++] = kB64[(v >> 12) & 63];
    out[o++] = kB64[(v >> 6) & 63];
    out[o++] = kB64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = kB64[v >> 18];
    out[o++] = kB64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

static size_t b64_len(size_t n) { return 4 * ((n + 2) / 3); }

// ---- reading frames ------------------------------------------------------------------

void cpay__grpcweb_reader_init(cpay__grpcweb_reader *r, cpay__grpcweb_kind kind,
                               size_t max_message, bool allow_compressed, cpay_arena *a) {
  memset(r, 0, sizeof *r);
  r->text = kind == CPAY__GRPCWEB_TEXT;
  r->allow_compressed = allow_compressed;
  r->max_message = max_message;
  r->a = a;
}

static cpay_code fail(cpay__grpcweb_reader *r, cpay_status *st, cpay_code code, const char *fmt,
                      ...) CPAY_PRINTF(4, 5);

static cpay_code fail(cpay__grpcweb_reader *r, cpay_status *st, cpay_code code, const char *fmt,
                      ...) {
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  r->failed = true;
  return cpay_status_set(st, code, "grpc-web%s: %s", r->text ? " (text)" : "", what);
}

// Checks the frame header just completed, starting its payload.
static cpay_code start_frame(cpay__grpcweb_reader *r, cpay_status *st) {
  uint8_t flags = r->hdr[0];
  uint32_t len = (uint32_t)r->hdr[1] << 24 | (uint32_t)r->hdr[2] << 16 |
                 (uint32_t)r->hdr[3] << 8 | r->hdr[4];
  unsigned long long at = (unsigned long long)r->frame_off;
  if (flags & 0x80) {
    return fail(r, st, CPAY_ERR_INVALID_ARGUMENT,
                "frame at offset %llu is a trailer frame (flags 0x%02x), which a request "
                "cannot send",
                at, flags);
  }
  if (flags & 0x7e) {
    return fail(r, st, CPAY_ERR_INVALID_ARGUMENT, "frame at offset %llu has unknown flags 0x%02x",
                at, flags);
  }
  if ((flags & 1) && !r->allow_compressed) {
    return fail(r, st, CPAY_ERR_INVALID_ARGUMENT,
                "frame at offset %llu is compressed but the request named no grpc-encoding "
                "(only identity is supported)",
                at);
  }
  if (len > r->max_message) {
    return fail(r, st, CPAY_ERR_TOO_LARGE,
                "frame at offset %llu holds %lu bytes, more than the limit of %zu", at,
                (unsigned long)len, r->max_message);
  }
  r->compressed = flags & 1;
  r->need = len;
  r->got = 0;
  return CPAY_OK;
}

static cpay_code deliver(cpay__grpcweb_reader *r, const uint8_t *msg, size_t len,
                         cpay__grpcweb_on_message *fn, void *ctx, cpay_status *st) {
  r->hdr_n = 0;
  r->got = r->need = 0;
  cpay_code c = fn(ctx, msg, len, r->compressed, st);
  if (c) r->failed = true;
  return c;
}

// Frames from `n` decoded bytes at `p`.
static cpay_code read_frames(cpay__grpcweb_reader *r, const uint8_t *p, size_t n,
                             cpay__grpcweb_on_message *fn, void *ctx, cpay_status *st) {
  while (n > 0) {
    if (r->hdr_n < 5) {
      if (r->hdr_n == 0) r->frame_off = r->off;
      size_t k = 5 - r->hdr_n < n ? 5 - r->hdr_n : n;
      memcpy(r->hdr + r->hdr_n, p, k);
      r->hdr_n += (unsigned)k;
      r->off += k;
      p += k;
      n -= k;
      if (r->hdr_n < 5) return CPAY_OK;
      cpay_code c = start_frame(r, st);
      if (c) return c;
      if (r->need == 0 && (c = deliver(r, p, 0, fn, ctx, st))) return c;
      continue;
    }
    if (r->got == 0 && n >= r->need) {
      // The whole payload is in this chunk: hand it over in place.
      size_t k = r->need;
      r->off += k;
      cpay_code c = deliver(r, p, k, fn, ctx, st);
      if (c) return c;
      p += k;
      n -= k;
      continue;
    }
    if (r->buf_cap < r->need) {
      size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
      while (cap < r->need) cap *= 2;
      if (cap > r->max_message) cap = r->max_message;
      uint8_t *grown = cpay_arena_malloc(r->a, cap);
      if (!grown) {
        r->failed = true;
        return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(r->a));
      }
      if (r->got) memcpy(grown, r->buf, r->got);
      r->buf = grown;
      r->buf_cap = cap;
    }
    size_t k = r->need - r->got < n ? r->need - r->got : n;
    memcpy(r->buf + r->got, p, k);
    r->got += k;
    r->off += k;
    p += k;
    n -= k;
    if (r->got == r->need) {
      cpay_code c = deliver(r, r->buf, r->need, fn, ctx, st);
      if (c) return c;
    }
  }
  return CPAY_OK;
}

// The bytes of the base64 group held (quad_n characters, `pad` of them
// '='), into `out`; returns how many.
static size_t group_bytes(const cpay__grpcweb_reader *r, uint8_t out[3]) {
  unsigned data = r->quad_n - r->pad;
  uint32_t v = 0;
  for (unsigned i = 0; i < 4; i++) v = v << 6 | (i < data ? r->quad[i] : 0);
  out[0] = (uint8_t)(v >> 16);
  out[1] = (uint8_t)(v >> 8);
  out[2] = (uint8_t)v;
  return data - 1;  // 2 characters give 1 byte, 3 give 2, 4 give 3
}

// Why base64 character `c` cannot come next in the group, or NULL.
static const char *b64_problem(const cpay__grpcweb_reader *r, unsigned char c) {
  if (c == '=') return r->quad_n - r->pad < 2 ? "'=' comes too early in its base64 group" : NULL;
  if (b64_value(c) < 0) return "is not base64";
  return r->pad ? "is base64 data after '='" : NULL;
}

// Decodes base64 text into frames, a bounded block at a time. The bytes
// decoded before a bad character are read as frames first, so that an
// error comes out the same however the text was cut into chunks.
static cpay_code read_text(cpay__grpcweb_reader *r, const uint8_t *p, size_t n,
                           cpay__grpcweb_on_message *fn, void *ctx, cpay_status *st) {
  uint8_t block[768];
  size_t bn = 0;
  for (size_t i = 0; i < n; i++, r->text_off++) {
    unsigned char c = p[i];
    const char *problem = b64_problem(r, c);
    if (problem) {
      cpay_code code = read_frames(r, block, bn, fn, ctx, st);
      if (code) return code;
      return fail(r, st, CPAY_ERR_INVALID_ARGUMENT, "byte 0x%02x at text offset %llu %s", c,
                  (unsigned long long)r->text_off, problem);
    }
    if (c == '=') {
      r->pad++;
      r->quad_n++;
    } else {
      r->quad[r->quad_n++] = (uint8_t)b64_value(c);
    }
    if (r->quad_n < 4) continue;
    bn += group_bytes(r, block + bn);
    r->quad_n = r->pad = 0;
    if (bn + 3 > sizeof block) {
      cpay_code code = read_frames(r, block, bn, fn, ctx, st);
      if (code) return code;
      bn = 0;
    }
  }
  return read_frames(r, block, bn, fn, ctx, st);
}

cpay_code cpay__grpcweb_reader_feed(cpay__grpcweb_reader *r, const void *data, size_t len,
                                    cpay__grpcweb_on_message *fn, void *ctx, cpay_status *st) {
  if (r->failed) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "grpc-web: the body already failed");
  }
  if (r->text) return read_text(r, data, len, fn, ctx, st);
  return read_frames(r, data, len, fn, ctx, st);
}

cpay_code cpay__grpcweb_reader_finish(cpay__grpcweb_reader *r, cpay__grpcweb_on_message *fn,
                                      void *ctx, cpay_status *st) {
  if (r->failed) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "grpc-web: the body already failed");
  }
  if (r->text && r->quad_n) {
    if (r->quad_n == 1) {
      return fail(r, st, CPAY_ERR_INVALID_ARGUMENT,
                  "the text ends inside a base64 group at text offset %llu",
                  (unsigned long long)r->text_off);
    }
    // A last group without its padding: what it holds.
    uint8_t b[3];
    size_t n = group_bytes(r, b);
    r->quad_n = r->pad = 0;
    cpay_code c = read_frames(r, b, n, fn, ctx, st);
    if (c) return c;
  }
  if (r->hdr_n > 0 && r->hdr_n < 5) {
    return fail(r, st, CPAY_ERR_INVALID_ARGUMENT,
                "truncated: the frame header at offset %llu ends after %u of its 5 bytes",
                (unsigned long long)r->frame_off, r->hdr_n);
  }
  if (r->hdr_n == 5) {
    return fail(r, st, CPAY_ERR_INVALID_ARGUMENT,
                "truncated: the frame at offset %llu ends after %zu of its %zu payload bytes",
                (unsigned long long)r->frame_off, r->got, r->need);
  }
  return CPAY_OK;
}

// ---- writing frames ------------------------------------------------------------------

// The frame (flags, length, the `n` bytes at `body`) into *out, in base64
// for text.
static cpay_code frame(uint8_t flags, const uint8_t *body, size_t n, cpay__grpcweb_kind kind,
                       cpay_arena *a, cpay_bytes *out, cpay_status *st) {
  if (n > UINT32_MAX) {
    return cpay_status_set(st, CPAY_ERR_TOO_LARGE, "grpc-web: a frame of %zu bytes is too large",
                           n);
  }
  uint8_t hdr[5] = {flags, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  size_t total = 5 + n;
  uint8_t *buf = cpay_arena_malloc(a, kind == CPAY__GRPCWEB_TEXT ? total + b64_len(total) : total);
  if (!buf) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(a));
  memcpy(buf, hdr, 5);
  if (n) memcpy(buf + 5, body, n);
  if (kind != CPAY__GRPCWEB_TEXT) {
    *out = (cpay_bytes){buf, total};
    return CPAY_OK;
  }
  char *text = (char *)buf + total;
  *out = (cpay_bytes){(const uint8_t *)text, b64_encode(buf, total, text)};
  return CPAY_OK;
}

cpay_code cpay__grpcweb_data_frame(const uint8_t *payload, size_t len, cpay__grpcweb_kind kind,
                                   cpay_arena *a, cpay_bytes *out, cpay_status *st) {
  return frame(0, payload, len, kind, a, out, st);
}

// A trailer block under construction (bounded by the inputs' sizes).
typedef struct tbuf {
  char *p;
  size_t n, cap;
} tbuf;

static void tput(tbuf *b, const char *s, size_t n) {
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool ends_with_bin(cpay_str k) {
  return k.size >= 4 && eq_nocase(k.data + k.size - 4, 4, "-bin");
}

cpay_code cpay__grpcweb_trailers(cpay_grpc_code code, cpay_str message, const cpay_md *md,
                                 size_t count, cpay__grpcweb_kind kind, cpay_arena *a,
                                 cpay_bytes *out, cpay_status *st) {
  // Check every entry and size the block: "grpc-status:" 10 digits at
  // most, "grpc-message:" up to 3 bytes per message byte.
  size_t cap = 32 + 16 + 3 * message.size;
  for (size_t i = 0; i < count; i++) {
    cpay_str k = md[i].key, v = md[i].value;
    if (k.size == 0) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "grpc-web trailer %zu: empty key", i);
    }
    for (size_t j = 0; j < k.size; j++) {
      if (!key_char(lower(k.data[j]))) {
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "grpc-web trailer '%.*s': byte 0x%02x is not allowed in a key",
                               (int)(k.size > 64 ? 64 : k.size), k.data,
                               (unsigned char)k.data[j]);
      }
    }
    if (eq_nocase(k.data, k.size, "grpc-status") || eq_nocase(k.data, k.size, "grpc-message")) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "grpc-web trailer '%.*s': reserved for the status", (int)k.size,
                             k.data);
    }
    bool bin = ends_with_bin(k);
    for (size_t j = 0; !bin && j < v.size; j++) {
      unsigned char c = (unsigned char)v.data[j];
      if (c < 0x20 || c > 0x7e) {
        return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                               "grpc-web trailer '%.*s': byte 0x%02x at %zu is not printable "
                               "ASCII (name the key -bin for bytes)",
                               (int)(k.size > 64 ? 64 : k.size), k.data, c, j);
      }
    }
    cap += k.size + 3 + (bin ? b64_len(v.size) : v.size);
  }
  tbuf b = {cpay_arena_malloc(a, cap), 0, cap};
  if (!b.p) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(a));
  char num[24];
  int nl = snprintf(num, sizeof num, "grpc-status:%d\r\n", (int)code);
  tput(&b, num, (size_t)nl);
  if (message.size) {
    tput(&b, "grpc-message:", 13);
    for (size_t j = 0; j < message.size; j++) {
      unsigned char c = (unsigned char)message.data[j];
      if (c >= 0x20 && c <= 0x7e && c != '%') {
        b.p[b.n++] = (char)c;
      } else {
        snprintf(num, sizeof num, "%%%02X", c);
        tput(&b, num, 3);
      }
    }
    tput(&b, "\r\n", 2);
  }
  for (size_t i = 0; i < count; i++) {
    cpay_str k = md[i].key, v = md[i].value;
    for (size_t j = 0; j < k.size; j++) b.p[b.n++] = lower(k.data[j]);
    b.p[b.n++] = ':';
    if (ends_with_bin(k)) {
      b.n += b64_encode((const uint8_t *)v.data, v.size, b.p + b.n);
    } else {
      tput(&b, v.data, v.size);
    }
    tput(&b, "\r\n", 2);
  }
  return frame(0x80, (const uint8_t *)b.p, b.n, kind, a, out, st);
}

// ---- grpc-timeout --------------------------------------------------------------------

cpay_code cpay__grpc_timeout_ms(const char *s, size_t len, int64_t *ms, cpay_status *st) {
  *ms = 0;
  size_t digits = 0;
  int64_t v = 0;
  while (digits < len && s[digits] >= '0' && s[digits] <= '9') {
    if (digits < 8) v = v * 10 + (s[digits] - '0');
    digits++;
  }
  const char *why = NULL;
  if (digits == 0) {
    why = "expected 1 to 8 digits, then a unit";
  } else if (digits > 8) {
    why = "more than 8 digits";
  } else if (len != digits + 1) {
    why = len == digits ? "no unit (H, M, S, m, u or n)" : "expected one unit after the digits";
  }
  if (!why) {
    switch (s[digits]) {
      case 'H':
        *ms = v * 3600000;
        return CPAY_OK;
      case 'M':
        *ms = v * 60000;
        return CPAY_OK;
      case 'S':
        *ms = v * 1000;
        return CPAY_OK;
      case 'm':
        *ms = v;
        return CPAY_OK;
      case 'u':
        *ms = (v + 999) / 1000;
        return CPAY_OK;
      case 'n':
        *ms = (v + 999999) / 1000000;
        return CPAY_OK;
      default:
        why = "unknown unit (H, M, S, m, u or n)";
    }
  }
  return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "grpc-timeout \"%.*s\": %s",
                         (int)(len > 32 ? 32 : len), s, why);
}

// ---- base64 for header values ---------------------------------------------------------

cpay_code cpay__http_b64_encode(const void *data, size_t len, cpay_arena *a, cpay_str *out) {
  char *o = cpay_arena_malloc(a, b64_len(len) + 1);
  if (!o) return CPAY_ERR_NO_MEMORY;
  size_t n = b64_encode(data, len, o);
  o[n] = 0;
  *out = (cpay_str){o, n};
  return CPAY_OK;
}

cpay_code cpay__http_b64_decode(const char *s, size_t len, cpay_arena *a, cpay_bytes *out) {
  // Padding is optional; gRPC clients may leave it out.
  while (len && s[len - 1] == '=') len--;
  if (len % 4 == 1) return CPAY_ERR_INVALID_ARGUMENT;
  uint8_t *o = cpay_arena_malloc(a, len / 4 * 3 + 3);
  if (!o) return CPAY_ERR_NO_MEMORY;
  size_t n = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0) return CPAY_ERR_INVALID_ARGUMENT;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[n++] = (uint8_t)(acc >> bits);
    }
  }
  *out = (cpay_bytes){o, n};
  return CPAY_OK;
}
