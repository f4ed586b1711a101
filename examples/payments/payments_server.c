// payments-server: proto/payments.proto's PaymentService on libcpay-grpc,
// with the standard health and reflection services.
//
//   payments-server [--listen HOST:PORT] [--workers N] [--require-token TOKEN]
//                   [--tls-cert PEM --tls-key PEM] [--max-recv-size BYTES]
//                   [--max-stored N]
//
// ChargeCard validates the request (INVALID_ARGUMENT otherwise) and charges
// once per idempotency key: a repeated key returns the stored response.
// Amounts above 500000 cents are declined. StreamTransactions sends the
// customer's transactions since a time, then live ones until the client
// leaves or its deadline passes. BatchCharge charges a client stream and
// answers with the totals and the failed keys. PaymentChat answers each
// message as it arrives. Every call's x-request-id is echoed back in the
// initial and trailing metadata; x-simulate-latency-ms delays ChargeCard
// (to try deadlines). SIGINT / SIGTERM shut down gracefully (5 s drain).
//
// Everything is kept in memory, in two fixed-capacity rings of --max-stored
// entries each (default 100000, about 42 MiB once both are full): the
// idempotency keys of the last N charges (declined ones included) and the
// last N transactions. The oldest entry makes room for a new one, so memory
// stays flat however long the server runs. An evicted key is forgotten, like
// a key past a real processor's retention window (Stripe keeps them 24 h): a
// retry after that charges again, so clients retry within the window only.
// An evicted transaction no longer streams. With glibc, malloc uses two
// arenas (MALLOC_ARENA_MAX overrides), so memory does not grow in steps as
// C-core adds threads under load.
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpay/grpc.h"
#include "payments.cpay_grpc.h"

#define DECLINE_ABOVE_CENTS 500000
#define MAX_KEY_BYTES 255
#define DEFAULT_MAX_STORED 100000
#define LIMIT_MAX_STORED 10000000

// The first response for an idempotency key. Fixed size, so the ring of them
// is allocated once.
typedef struct charge {
  char key[MAX_KEY_BYTES];
  uint8_t key_len;
  uint32_t next;  // the next charge in its hash bucket, as index + 1; 0 ends
  char tid[24];   // "txn_000042", NUL-terminated
  char ref[24];   // "auth_000042" or "decl_000042"
  payments_v1_ChargeStatus status;
  int64_t processed_at;
} charge;

typedef struct txn {
  char id[24];
  char customer[64];
  char currency[8];
  int64_t amount_cents;
  int64_t created_at;
} txn;

typedef struct store {
  pthread_mutex_t mu;
  pthread_cond_t added;
  size_t cap;  // --max-stored: entries in each ring
  // Charge number n (1-based, the n of its transaction id) lives at
  // charges[(n - 1) % cap] until charge n + cap replaces it.
  charge *charges;
  uint64_t charge_total;
  // Hash index over the live charges: heads of chains of index + 1.
  uint32_t *buckets;
  size_t bucket_mask;
  // Transaction number n (0-based, in the order stored) lives at
  // txns[n % cap] until transaction n + cap replaces it.
  txn *txns;
  uint64_t txn_total;
} store;

typedef struct server_ctx {
  store st;
  const char *token;  // required bearer token, or NULL
} server_ctx;

static int64_t now_unix(void) { return (int64_t)time(NULL); }

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// Allocates both rings for `cap` entries each. calloc leaves the pages
// untouched until they are written, so memory grows while the rings fill
// and stays flat after. False when out of memory.
static bool store_init(store *s, size_t cap) {
  memset(s, 0, sizeof *s);
  size_t buckets = 1;
  while (buckets < cap) buckets *= 2;
  s->cap = cap;
  s->bucket_mask = buckets - 1;
  s->charges = calloc(cap, sizeof *s->charges);
  s->txns = calloc(cap, sizeof *s->txns);
  s->buckets = calloc(buckets, sizeof *s->buckets);
  if (!s->charges || !s->txns || !s->buckets) return false;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->added, NULL);
  return true;
}

static void store_free(store *s) {
  free(s->charges);
  free(s->txns);
  free(s->buckets);
}

static bool valid_currency(cpay_str c) {
  if (c.size != 3) return false;
  for (size_t i = 0; i < 3; i++) {
    if (!isupper((unsigned char)c.data[i])) return false;
  }
  return true;
}

// Why `req` cannot be charged, or NULL.
static const char *invalid_reason(const payments_v1_ChargeRequest *req) {
  if (req->customer_id.size == 0) return "customer_id is required";
  if (req->amount_cents <= 0) return "amount_cents must be positive";
  if (!valid_currency(req->currency)) return "currency must be an ISO 4217 code such as USD";
  if (req->idempotency_key.size == 0) return "idempotency_key is required";
  if (req->idempotency_key.size > MAX_KEY_BYTES) return "idempotency_key is longer than 255 bytes";
  if (req->customer_id.size >= sizeof ((txn *)0)->customer) return "customer_id is too long";
  return NULL;
}

static size_t key_bucket(const store *s, cpay_str key) {
  uint64_t h = 14695981039346656037u;  // FNV-1a
  for (size_t i = 0; i < key.size; i++) h = (h ^ (unsigned char)key.data[i]) * 1099511628211u;
  return (size_t)(h & s->bucket_mask);
}

static charge *find_charge(store *s, cpay_str key) {
  for (uint32_t i = s->buckets[key_bucket(s, key)]; i; i = s->charges[i - 1].next) {
    charge *c = &s->charges[i - 1];
    if (c->key_len == key.size && memcmp(c->key, key.data, key.size) == 0) return c;
  }
  return NULL;
}

// Takes the oldest charge, at `slot`, out of the hash index before its slot
// is reused: its key is forgotten.
static void evict_charge(store *s, size_t slot) {
  charge *old = &s->charges[slot];
  uint32_t *link = &s->buckets[key_bucket(s, (cpay_str){old->key, old->key_len})];
  while (*link != slot + 1) link = &s->charges[*link - 1].next;
  *link = old->next;
}

// Copies a stored response onto the call's message (strings are copied
// onto the arena: the slot may be reused once the lock is released).
static void copy_resp(const charge *c, payments_v1_ChargeResponse *to, cpay_arena *a) {
  to->transaction_id = cpay_str_dup(a, cpay_str_from_c(c->tid));
  to->status = c->status;
  to->processor_reference = cpay_str_dup(a, cpay_str_from_c(c->ref));
  to->processed_at_unix = c->processed_at;
}

// Charges a valid request once per remembered idempotency key. Never fails:
// the rings were allocated at startup.
static void charge_once(store *s, const payments_v1_ChargeRequest *req,
                        payments_v1_ChargeResponse *out, cpay_arena *a) {
  pthread_mutex_lock(&s->mu);
  charge *c = find_charge(s, req->idempotency_key);
  if (c) {
    copy_resp(c, out, a);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  uint64_t id = ++s->charge_total;
  size_t slot = (size_t)((id - 1) % s->cap);
  if (id > s->cap) evict_charge(s, slot);
  c = &s->charges[slot];
  bool declined = req->amount_cents > DECLINE_ABOVE_CENTS;
  memcpy(c->key, req->idempotency_key.data, req->idempotency_key.size);
  c->key_len = (uint8_t)req->idempotency_key.size;
  snprintf(c->tid, sizeof c->tid, "txn_%06" PRIu64, id);
  snprintf(c->ref, sizeof c->ref, "%s_%06" PRIu64, declined ? "decl" : "auth", id);
  c->status = declined ? payments_v1_CHARGE_STATUS_DECLINED : payments_v1_CHARGE_STATUS_SUCCESS;
  c->processed_at = now_unix();
  size_t b = key_bucket(s, req->idempotency_key);
  c->next = s->buckets[b];
  s->buckets[b] = (uint32_t)(slot + 1);
  if (!declined) {
    txn *t = &s->txns[s->txn_total++ % s->cap];
    memset(t, 0, sizeof *t);
    memcpy(t->id, c->tid, sizeof t->id);
    memcpy(t->customer, req->customer_id.data, req->customer_id.size);
    memcpy(t->currency, req->currency.data, req->currency.size);
    t->amount_cents = req->amount_cents;
    t->created_at = c->processed_at;
    pthread_cond_broadcast(&s->added);
  }
  copy_resp(c, out, a);
  pthread_mutex_unlock(&s->mu);
}

static int64_t str_to_i64(cpay_str s) {
  char buf[24];
  size_t n = s.size < sizeof buf - 1 ? s.size : sizeof buf - 1;
  memcpy(buf, s.data, n);
  buf[n] = '\0';
  return strtoll(buf, NULL, 10);
}

static void echo_request_id(cpay_server_call *call) {
  cpay_str id = cpay_server_call_metadata_get(call, "x-request-id");
  if (!id.data) return;
  // Only fails for a bad key or after the headers went out: nothing to do then.
  cpay_code a = cpay_server_call_add_initial_metadata(call, "x-request-id", id);
  cpay_code b = cpay_server_call_add_trailing_metadata(call, "x-request-id", id);
  (void)a;
  (void)b;
}

// ---- handlers ---------------------------------------------------------------

static cpay_code charge_card(void *ctx, cpay_server_call *call, const payments_v1_ChargeRequest *req,
                             payments_v1_ChargeResponse *resp) {
  server_ctx *sc = ctx;
  echo_request_id(call);
  cpay_str lat = cpay_server_call_metadata_get(call, "x-simulate-latency-ms");
  if (lat.data) {
    int64_t ms = str_to_i64(lat);
    for (int64_t waited = 0; waited < ms; waited += 10) {
      if (cpay_server_call_is_cancelled(call)) {
        return cpay_server_call_set_status(call, CPAY_GRPC_CANCELLED, "client left");
      }
      sleep_ms(10);
    }
  }
  const char *why = invalid_reason(req);
  if (why) return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "%s", why);
  charge_once(&sc->st, req, resp, cpay_server_call_arena(call));
  return CPAY_OK;
}

static void fill_txn(const txn *t, payments_v1_Transaction *out) {
  out->id = cpay_str_from_c(t->id);
  out->customer_id = cpay_str_from_c(t->customer);
  out->amount_cents = t->amount_cents;
  out->currency = cpay_str_from_c(t->currency);
  out->created_at_unix = t->created_at;
}

static cpay_code stream_transactions(void *ctx, cpay_server_call *call,
                                     const payments_v1_TransactionStreamRequest *req) {
  server_ctx *sc = ctx;
  store *s = &sc->st;
  echo_request_id(call);
  if (req->customer_id.size == 0) {
    return cpay_server_call_set_status(call, CPAY_GRPC_INVALID_ARGUMENT, "customer_id is required");
  }
  uint64_t next = 0;  // number of the next transaction to look at
  for (;;) {
    txn batch[16];
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    if (next == s->txn_total) {
      // Wakes on a new transaction, and every 100 ms to notice a client
      // that left or a deadline that passed.
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += 100 * 1000 * 1000;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&s->added, &s->mu, &until);
    }
    // Transactions evicted meanwhile are skipped (a slow reader of a busy
    // server misses them, as it would miss them when starting later).
    if (s->txn_total - next > s->cap) next = s->txn_total - s->cap;
    while (next < s->txn_total && n < 16) {
      const txn *t = &s->txns[next++ % s->cap];
      if (strlen(t->customer) == req->customer_id.size &&
          memcmp(t->customer, req->customer_id.data, req->customer_id.size) == 0 &&
          t->created_at >= req->since_unix) {
        batch[n++] = *t;
      }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
      payments_v1_Transaction msg;
      memset(&msg, 0, sizeof msg);
      fill_txn(&batch[i], &msg);
      if (payments_v1_PaymentService_StreamTransactions_send_response(call, &msg, NULL) != CPAY_OK) {
        return CPAY_OK;  // the client left; nobody reads the status
      }
    }
    if (cpay_server_call_is_cancelled(call)) return CPAY_OK;
  }
}

static cpay_code batch_charge(void *ctx, cpay_server_call *call) {
  server_ctx *sc = ctx;
  echo_request_id(call);
  cpay_arena *call_arena = cpay_server_call_arena(call);
  payments_v1_BatchChargeResponse *out = payments_v1_BatchChargeResponse_new(call_arena);
  // Requests are read onto a scratch arena reset for each one, so a long
  // batch uses constant memory; failed keys are copied to the call's arena.
  cpay_arena *scratch = cpay_arena_new();
  if (!out || !scratch) {
    cpay_arena_free(scratch);
    return cpay_server_call_set_status(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
  }
  cpay_code code;
  for (;;) {
    cpay_arena_reset(scratch);
    payments_v1_ChargeRequest *req;
    code = payments_v1_PaymentService_BatchCharge_recv_request(call, scratch, &req, NULL);
    if (code != CPAY_OK || !req) break;
    out->total++;
    payments_v1_ChargeResponse resp;
    memset(&resp, 0, sizeof resp);
    bool ok = invalid_reason(req) == NULL;
    if (ok) {
      charge_once(&sc->st, req, &resp, scratch);
      ok = resp.status == payments_v1_CHARGE_STATUS_SUCCESS;
    }
    if (ok) {
      out->succeeded++;
      continue;
    }
    out->failed++;
    cpay_str key = req->idempotency_key.size ? req->idempotency_key : CPAY_STR("(no key)");
    code = payments_v1_BatchChargeResponse_add_failed_idempotency_keys(
        out, cpay_str_dup(call_arena, key), call_arena);
    if (code != CPAY_OK) break;
  }
  cpay_arena_free(scratch);
  if (code != CPAY_OK) return code;  // the status set by recv (INTERNAL) wins
  if (cpay_server_call_is_cancelled(call)) return CPAY_OK;
  return payments_v1_PaymentService_BatchCharge_send_response(call, out, NULL);
}

static cpay_code payment_chat(void *ctx, cpay_server_call *call) {
  echo_request_id(call);
  cpay_arena *scratch = cpay_arena_new();
  if (!scratch) return cpay_server_call_set_status(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
  cpay_code code;
  for (;;) {
    cpay_arena_reset(scratch);
    payments_v1_PaymentMessage *in;
    code = payments_v1_PaymentService_PaymentChat_recv_request(call, scratch, &in, NULL);
    if (code != CPAY_OK || !in) break;
    payments_v1_PaymentMessage *reply = payments_v1_PaymentMessage_new(scratch);
    char *text = reply ? cpay_arena_realloc(scratch, NULL, 0, in->text.size + 64) : NULL;
    if (!text) {
      code = cpay_server_call_set_status(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
      break;
    }
    int len = snprintf(text, in->text.size + 64, "support received: %.*s", (int)in->text.size,
                       in->text.data);
    reply->text = (cpay_str){text, (size_t)len};
    reply->sender = CPAY_STR("support");
    reply->sent_at_unix = now_unix();
    if (payments_v1_PaymentMessage_has_transaction_id(in)) {
      payments_v1_PaymentMessage_set_transaction_id(reply, in->transaction_id);
    }
    code = payments_v1_PaymentService_PaymentChat_send_response(call, reply, NULL);
    if (code != CPAY_OK) break;
  }
  cpay_arena_free(scratch);
  return code;
}

// Checks `authorization: Bearer <token>` on every PaymentService call when
// the server was started with --require-token.
static cpay_code check_token(void *ctx, cpay_server_call *call, const cpay_method *m) {
  server_ctx *sc = ctx;
  if (!sc->token || strncmp(m->path, "/payments.v1.", 13) != 0) return CPAY_OK;
  cpay_str auth = cpay_server_call_metadata_get(call, "authorization");
  size_t tl = strlen(sc->token);
  if (auth.size == 7 + tl && memcmp(auth.data, "Bearer ", 7) == 0 &&
      memcmp(auth.data + 7, sc->token, tl) == 0) {
    return CPAY_OK;
  }
  return cpay_server_call_set_status(call, CPAY_GRPC_UNAUTHENTICATED,
                                     auth.data ? "invalid token" : "missing authorization");
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n < 4096) break;
  }
  fclose(f);
  if (buf) buf[len] = '\0';
  return buf;
}

static int usage(void) {
  fprintf(stderr,
          "usage: payments-server [--listen HOST:PORT] [--workers N] [--require-token TOKEN]\n"
          "                       [--tls-cert PEM --tls-key PEM] [--max-recv-size BYTES]\n"
          "                       [--max-stored N]\n");
  return 2;
}

int main(int argc, char **argv) {
#if defined(M_ARENA_MAX)
  // glibc gives each new thread a malloc arena of its own (up to 8 per core)
  // and keeps every arena's high-water mark, so the resident size would step
  // up each time C-core's thread pool grows under load. Two arenas keep it
  // flat; MALLOC_ARENA_MAX in the environment still decides when set.
  if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
  const char *listen = "127.0.0.1:50051";
  const char *cert_path = NULL, *key_path = NULL;
  server_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  cpay_server_opts opts;
  memset(&opts, 0, sizeof opts);
  size_t max_stored = DEFAULT_MAX_STORED;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    if (strcmp(a, "--listen") == 0) {
      listen = v;
    } else if (strcmp(a, "--workers") == 0) {
      opts.workers = atoi(v);
    } else if (strcmp(a, "--require-token") == 0) {
      ctx.token = v;
    } else if (strcmp(a, "--tls-cert") == 0) {
      cert_path = v;
    } else if (strcmp(a, "--tls-key") == 0) {
      key_path = v;
    } else if (strcmp(a, "--max-recv-size") == 0) {
      opts.max_recv_size = atoi(v);
    } else if (strcmp(a, "--max-stored") == 0) {
      char *end;
      errno = 0;
      long long n = strtoll(v, &end, 10);
      if (errno || end == v || *end || n < 1 || n > LIMIT_MAX_STORED) {
        fprintf(stderr, "payments-server: --max-stored must be a number from 1 to %d, not %s\n",
                LIMIT_MAX_STORED, v);
        return 2;
      }
      max_stored = (size_t)n;
    } else {
      return usage();
    }
  }
  if ((cert_path == NULL) != (key_path == NULL)) return usage();
  if (!store_init(&ctx.st, max_stored)) {
    fprintf(stderr, "payments-server: out of memory for a store of %zu charges\n", max_stored);
    store_free(&ctx.st);
    return 1;
  }

  // Signals go to sigwait below, not to the worker threads.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  int rc = 1;
  char *cert = NULL, *key = NULL;
  cpay_status st = {0};
  cpay_server *srv = cpay_server_new(&opts, &st);
  if (!srv) goto out;
  cpay_server_tls_opts tls = {0};
  if (cert_path) {
    cert = read_file(cert_path);
    key = read_file(key_path);
    if (!cert || !key) {
      fprintf(stderr, "payments-server: cannot read %s or %s\n", cert_path, key_path);
      goto out;
    }
    tls.cert_chain = cert;
    tls.private_key = key;
  }
  const payments_v1_PaymentService_handlers handlers = {
      .ChargeCard = charge_card,
      .StreamTransactions = stream_transactions,
      .BatchCharge = batch_charge,
      .PaymentChat = payment_chat,
  };
  int port = 0;
  if (payments_v1_PaymentService_register(srv, &handlers, &ctx) != CPAY_OK ||
      cpay_server_add_interceptor(srv, check_token, &ctx, &st) != CPAY_OK ||
      cpay_server_enable_health(srv, &st) != CPAY_OK ||
      cpay_server_enable_reflection(srv, &st) != CPAY_OK ||
      cpay_server_listen(srv, listen, cert ? &tls : NULL, &port, &st) != CPAY_OK ||
      cpay_server_start(srv, &st) != CPAY_OK) {
    goto out;
  }
  printf("payments-server: listening on %s (port %d%s)\n", listen, port, cert ? ", tls" : "");
  fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  printf("payments-server: signal %d, draining calls for up to 5 s\n", sig);
  fflush(stdout);
  cpay_server_shutdown(srv, 5000);
  rc = 0;
out:
  if (rc) fprintf(stderr, "payments-server: %s\n", st.msg[0] ? st.msg : "startup failed");
  cpay_server_free(srv);
  free(cert);
  free(key);
  store_free(&ctx.st);
  return rc;
}
