// The service config of a channel's typed options (load-balancing policy,
// health checking, per-method retry policies, cpay's default retry policy)
// as the JSON C-core reads (gRFC A6 and the service config doc). The
// options are checked here, so that a bad value fails cpay_channel_new
// with a message instead of C-core dropping the whole config later. Output
// is deterministic: keys in a fixed order, policies in the caller's order.
// Hedging policies are checked here too but never written: C-core 1.51
// has no hedging, so channel.c runs them (cpay__method_policy finds a
// call's entry as C-core finds its methodConfig).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/internal.h"

// A growing string; `failed` after an allocation failed.
typedef struct buf {
  char *p;
  size_t len, cap;
  bool failed;
} buf;

static void put_n(buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void put(buf *b, const char *s) { put_n(b, s, strlen(s)); }

static void putf(buf *b, const char *fmt, ...) CPAY_PRINTF(2, 3);
static void putf(buf *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof tmp) {
    put_n(b, tmp, (size_t)n);
  } else {
    b->failed = true;  // only short numbers are formatted here
  }
}

// A JSON string: quotes, backslashes and control characters escaped; other
// bytes (UTF-8 included) as they are.
static void put_json_str(buf *b, const char *s) {
  put(b, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char esc[2] = {'\\', (char)*c};
      put_n(b, esc, 2);
    } else if (*c < 0x20) {
      putf(b, "\\u%04x", *c);
    } else {
      put_n(b, (const char *)c, 1);
    }
  }
  put(b, "\"");
}

// A protobuf Duration in JSON: "1.500s".
static void put_duration(buf *b, int64_t ms) {
  putf(b, "\"%lld.%03llds\"", (long long)(ms / 1000), (long long)(ms % 1000));
}

static void put_codes(buf *b, uint32_t codes) {
  put(b, "[");
  bool first = true;
  for (int c = 1; c <= CPAY_GRPC_UNAUTHENTICATED; c++) {
    if (!(codes & CPAY_GRPC_CODE_BIT(c))) continue;
    if (!first) put(b, ",");
    first = false;
    put_json_str(b, cpay_grpc_code_name((cpay_grpc_code)c));
  }
  put(b, "]");
}

static bool same_name(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

// Why policy `i` is refused, or CPAY_OK.
static cpay_code check_policy(const cpay_method_policy *ps, size_t i, cpay_status *st) {
  const cpay_method_policy *p = &ps[i];
  const char *svc = p->service ? p->service : "(every service)";
  const char *m = p->method ? p->method : "*";
  if (p->service && !*p->service) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu]: service is empty (NULL means every service)", i);
  }
  if (p->method && !*p->method) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s): method is empty (NULL means every method)",
                           i, svc);
  }
  if (!p->service && p->method) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu]: method %s needs its service", i, p->method);
  }
  for (size_t j = 0; j < i; j++) {
    if (same_name(ps[j].service, p->service) && same_name(ps[j].method, p->method)) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): the same methods as method_policies[%zu]",
                             i, svc, m, j);
    }
  }
  if (p->timeout_ms < 0) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s/%s): timeout_ms %lld is negative", i, svc, m,
                           (long long)p->timeout_ms);
  }
  uint32_t valid = 0;
  for (int c = 1; c <= CPAY_GRPC_UNAUTHENTICATED; c++) valid |= CPAY_GRPC_CODE_BIT(c);
  const cpay_hedging_policy *h = &p->hedging;
  if (h->max_attempts == 0) {
    if (h->hedging_delay_ms || h->non_fatal_codes) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): hedging settings without "
                             "hedging.max_attempts",
                             i, svc, m);
    }
  } else {
    if (p->max_attempts) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): a retry policy and a hedging policy "
                             "exclude each other",
                             i, svc, m);
    }
    if (h->max_attempts < 2 || h->max_attempts > CPAY__MAX_ATTEMPTS) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): hedging.max_attempts %d is outside "
                             "2..%d",
                             i, svc, m, h->max_attempts, CPAY__MAX_ATTEMPTS);
    }
    if (h->hedging_delay_ms < 0 || h->hedging_delay_ms > CPAY__MAX_HEDGING_DELAY_MS) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): hedging.hedging_delay_ms %lld is "
                             "outside 0..%lld",
                             i, svc, m, (long long)h->hedging_delay_ms,
                             (long long)CPAY__MAX_HEDGING_DELAY_MS);
    }
    if (h->non_fatal_codes & ~valid) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): hedging.non_fatal_codes 0x%x may name "
                             "only CANCELLED..UNAUTHENTICATED",
                             i, svc, m, (unsigned)h->non_fatal_codes);
    }
  }
  if (p->max_attempts == 0) {
    if (p->initial_backoff_ms || p->max_backoff_ms || p->backoff_multiplier != 0 ||
        p->retryable_codes) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] (%s/%s): retry settings without max_attempts",
                             i, svc, m);
    }
    return CPAY_OK;
  }
  if (p->max_attempts < 2 || p->max_attempts > CPAY__MAX_ATTEMPTS) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s/%s): max_attempts %d is outside 2..%d", i,
                           svc, m, p->max_attempts, CPAY__MAX_ATTEMPTS);
  }
  if (p->initial_backoff_ms <= 0 || p->max_backoff_ms <= 0) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s/%s): backoff must be positive (initial %lld "
                           "ms, max %lld ms)",
                           i, svc, m, (long long)p->initial_backoff_ms,
                           (long long)p->max_backoff_ms);
  }
  if (!(p->backoff_multiplier > 0) || !isfinite(p->backoff_multiplier)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s/%s): backoff_multiplier must be positive", i,
                           svc, m);
  }
  if (!p->retryable_codes || (p->retryable_codes & ~valid)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policies[%zu] (%s/%s): retryable_codes 0x%x must name at least "
                           "one status, and only CANCELLED..UNAUTHENTICATED",
                           i, svc, m, (unsigned)p->retryable_codes);
  }
  return CPAY_OK;
}

static void put_retry(buf *b, int max_attempts, int64_t initial_ms, int64_t max_ms, double mult,
                      uint32_t codes) {
  putf(b, "\"retryPolicy\":{\"maxAttempts\":%d,\"initialBackoff\":", max_attempts);
  put_duration(b, initial_ms);
  put(b, ",\"maxBackoff\":");
  put_duration(b, max_ms);
  // %.17g round-trips a double; the C locale (cpay never sets another)
  // writes a decimal point.
  putf(b, ",\"backoffMultiplier\":%.17g,\"retryableStatusCodes\":", mult);
  put_codes(b, codes);
  put(b, "}");
}

static void put_method_config(buf *b, const cpay_method_policy *p) {
  put(b, "{\"name\":[{");
  if (p->service) {
    put(b, "\"service\":");
    put_json_str(b, p->service);
  }
  if (p->method) {
    put(b, ",\"method\":");
    put_json_str(b, p->method);
  }
  put(b, "}]");
  if (p->timeout_ms > 0) {
    put(b, ",\"timeout\":");
    put_duration(b, p->timeout_ms);
  }
  if (p->wait_for_ready) put(b, ",\"waitForReady\":true");
  if (p->max_attempts) {
    put(b, ",");
    put_retry(b, p->max_attempts, p->initial_backoff_ms, p->max_backoff_ms, p->backoff_multiplier,
              p->retryable_codes);
  }
  put(b, "}");
}

cpay_code cpay__service_config(const cpay_channel_opts *o, char **out, cpay_status *st) {
  *out = NULL;
  bool typed = o->lb_policy != CPAY_LB_DEFAULT || o->health_check_service ||
               o->method_policy_count;
  if (o->service_config_json) {
    if (typed) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "service_config_json cannot be combined with lb_policy, "
                             "health_check_service or method_policies: write all of it in JSON, "
                             "or none");
    }
    // C-core 1.51 parses only "retryPolicy" per method (its
    // retry_service_config.cc; hedging there is a TODO) and would skip a
    // hedging policy without a word. cpay does not parse the user's JSON,
    // so it refuses the key rather than let it look as if it hedged.
    if (strstr(o->service_config_json, "\"hedgingPolicy\"")) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "service_config_json: hedgingPolicy is not supported there (C-core "
                             "1.51 ignores it); use method_policies[].hedging");
    }
    return CPAY_OK;  // the caller passes the hand-written one on
  }
  if (o->lb_policy < CPAY_LB_DEFAULT || o->lb_policy > CPAY_LB_ROUND_ROBIN) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "unknown lb_policy %d",
                           (int)o->lb_policy);
  }
  if (o->health_check_service && o->lb_policy != CPAY_LB_ROUND_ROBIN) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "health_check_service needs lb_policy CPAY_LB_ROUND_ROBIN (C-core's "
                           "pick_first ignores health)");
  }
  if (o->method_policy_count && !o->method_policies) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "method_policy_count %zu with no method_policies",
                           o->method_policy_count);
  }
  for (size_t i = 0; i < o->method_policy_count; i++) {
    cpay_code code = check_policy(o->method_policies, i, st);
    if (code != CPAY_OK) return code;
    if (!o->method_policies[i].service && o->retry_unavailable) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "method_policies[%zu] is for every service, and so is "
                             "retry_unavailable: set one of them",
                             i);
    }
  }
  if (!typed && !o->retry_unavailable) return CPAY_OK;

  buf b = {0};
  put(&b, "{");
  bool comma = false;
  if (o->lb_policy != CPAY_LB_DEFAULT) {
    put(&b, o->lb_policy == CPAY_LB_ROUND_ROBIN ? "\"loadBalancingConfig\":[{\"round_robin\":{}}]"
                                                : "\"loadBalancingConfig\":[{\"pick_first\":{}}]");
    comma = true;
  }
  if (o->health_check_service) {
    if (comma) put(&b, ",");
    put(&b, "\"healthCheckConfig\":{\"serviceName\":");
    put_json_str(&b, o->health_check_service);
    put(&b, "}");
    comma = true;
  }
  if (o->method_policy_count || o->retry_unavailable) {
    if (comma) put(&b, ",");
    put(&b, "\"methodConfig\":[");
    for (size_t i = 0; i < o->method_policy_count; i++) {
      if (i) put(&b, ",");
      put_method_config(&b, &o->method_policies[i]);
    }
    if (o->retry_unavailable) {
      // The empty name matches every method of every service that no
      // more specific entry names.
      if (o->method_policy_count) put(&b, ",");
      put(&b, "{\"name\":[{}],");
      put_retry(&b, 4, 100, 2000, 2, CPAY_GRPC_CODE_BIT(CPAY_GRPC_UNAVAILABLE));
      put(&b, "}");
    }
    put(&b, "]");
  }
  put(&b, "}");
  if (b.failed) {
    free(b.p);
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a service config");
  }
  *out = b.p;
  return CPAY_OK;
}

// Whether `name` (NUL-terminated) equals s[0..n).
static bool name_is(const char *name, const char *s, size_t n) {
  return strlen(name) == n && memcmp(name, s, n) == 0;
}

const cpay_method_policy *cpay__method_policy(const cpay_method_policy *ps, size_t count,
                                              const char *path) {
  // "/package.Service/Method"
  const char *slash = path[0] == '/' ? strrchr(path + 1, '/') : NULL;
  if (!slash) return NULL;
  const char *svc = path + 1;
  size_t svc_len = (size_t)(slash - svc);
  const char *method = slash + 1;
  const cpay_method_policy *of_service = NULL, *of_all = NULL;
  for (size_t i = 0; i < count; i++) {
    const cpay_method_policy *p = &ps[i];
    if (!p->service) {
      of_all = p;
    } else if (name_is(p->service, svc, svc_len)) {
      if (!p->method) {
        of_service = p;
      } else if (strcmp(p->method, method) == 0) {
        return p;
      }
    }
  }
  return of_service ? of_service : of_all;
}
