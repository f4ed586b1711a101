// Formats only the JSON mapping needs: base64, RFC 3339 timestamps and
// durations.
#include <inttypes.h>
#include <stdio.h>

#include "json/json_internal.h"

// ---- base64 -------------------------------------------------------------------

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cpay__base64_encode(const uint8_t *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
    out[o++] = b64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
    out[o++] = '=';
  }
  return o;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool cpay__base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len) {
  // Padding: only at the end, and only to a multiple of four.
  size_t pad = 0;
  while (n > 0 && in[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (pad && (n + pad) % 4 != 0) return false;
  if (n % 4 == 1) return false;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(in[i]);
    if (v < 0) return false;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out_len = o;
  return true;
}

// ---- time --------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

// Appends ".fff", ".ffffff" or ".fffffffff" for nonzero nanos.
static int fmt_nanos(char *p, int32_t nanos) {
  if (nanos == 0) return 0;
  if (nanos % 1000000 == 0) return sprintf(p, ".%03d", (int)(nanos / 1000000));
  if (nanos % 1000 == 0) return sprintf(p, ".%06d", (int)(nanos / 1000));
  return sprintf(p, ".%09d", (int)nanos);
}

bool cpay__fmt_timestamp(int64_t seconds, int32_t nanos, char buf[40]) {
  if (seconds < CPAY__TIMESTAMP_MIN || seconds > CPAY__TIMESTAMP_MAX) return false;
  if (nanos < 0 || nanos > 999999999) return false;
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  int n = sprintf(buf, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, mo, d, (int)(rem / 3600),
                  (int)(rem / 60 % 60), (int)(rem % 60));
  n += fmt_nanos(buf + n, nanos);
  buf[n++] = 'Z';
  buf[n] = '\0';
  return true;
}

// Reads exactly `count` digits.
static bool digits(const char **p, const char *end, int count, int *out) {
  if (end - *p < count) return false;
  int v = 0;
  for (int i = 0; i < count; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += count;
  *out = v;
  return true;
}

// ".d{1,9}" when present; false on a bad fraction.
static bool read_fraction(const char **p, const char *end, int32_t *nanos) {
  *nanos = 0;
  if (*p >= end || **p != '.') return true;
  (*p)++;
  int count = 0;
  int32_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    if (++count > 9) return false;
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  if (count == 0) return false;
  for (int i = count; i < 9; i++) v *= 10;
  *nanos = v;
  return true;
}

bool cpay__parse_timestamp(const char *s, size_t n, int64_t *seconds, int32_t *nanos) {
  const char *p = s, *end = s + n;
  int y, mo, d, h, mi, se;
  if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
      p >= end || *p++ != '-' || !digits(&p, end, 2, &d) || p >= end || *p++ != 'T' ||
      !digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi) ||
      p >= end || *p++ != ':' || !digits(&p, end, 2, &se)) {
    return false;
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) {
    return false;
  }
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  if (!read_fraction(&p, end, nanos)) return false;
  int64_t offset = 0;
  if (p < end && *p == 'Z') {
    p++;
  } else if (p < end && (*p == '+' || *p == '-')) {
    int sign = *p++ == '-' ? -1 : 1;
    int oh, om;
    if (!digits(&p, end, 2, &oh) || p >= end || *p++ != ':' || !digits(&p, end, 2, &om) ||
        oh > 23 || om > 59) {
      return false;
    }
    offset = sign * (int64_t)(oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (p != end) return false;
  int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
                 offset;
  if (secs < CPAY__TIMESTAMP_MIN || secs > CPAY__TIMESTAMP_MAX) return false;
  *seconds = secs;
  return true;
}

bool cpay__fmt_duration(int64_t seconds, int32_t nanos, char buf[40]) {
  if (seconds < -CPAY__DURATION_MAX || seconds > CPAY__DURATION_MAX) return false;
  if (nanos <= -1000000000 || nanos >= 1000000000) return false;
  if ((seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0)) return false;
  int n = 0;
  if (seconds < 0 || nanos < 0) buf[n++] = '-';
  uint64_t s = seconds < 0 ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
  n += sprintf(buf + n, "%" PRIu64, s);
  n += fmt_nanos(buf + n, nanos < 0 ? -nanos : nanos);
  buf[n++] = 's';
  buf[n] = '\0';
  return true;
}

bool cpay__parse_duration(const char *s, size_t n, int64_t *seconds, int32_t *nanos) {
  const char *p = s, *end = s + n;
  bool neg = false;
  if (p < end && *p == '-') {
    neg = true;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9') return false;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (v > CPAY__DURATION_MAX) return false;
    v = v * 10 + (*p++ - '0');
  }
  int32_t ns;
  if (!read_fraction(&p, end, &ns)) return false;
  if (p >= end || *p++ != 's' || p != end) return false;
  if (v > CPAY__DURATION_MAX) return false;
  *seconds = neg ? -v : v;
  *nanos = neg ? -ns : ns;
  return true;
}
