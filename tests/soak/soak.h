// payments-soak's shared state: options, counters, the customers and keys a
// client thread has used, and the functions its four files export.
//
// soak_main.c runs the server process, the client threads, the memory
// samples, the final check and the report; soak_client.c is one client
// thread's actions through libcpay-grpc and their verification;
// soak_sub.c is its live subscriptions (StreamTransactions through the
// asynchronous API): short ones that watch the client's own charges arrive,
// and long-lived ones held open across the other actions; soak_raw.c is
// what libcpay-grpc cannot send: undecodable payloads (through gRPC
// C-core), raw TCP drops, and a proxy that resets a connection mid-call.
#ifndef CPAY_TESTS_SOAK_SOAK_H_
#define CPAY_TESTS_SOAK_SOAK_H_

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/grpc.h"
#include "payments.cpay_grpc.h"

// The server declines amounts above this (payments_server.c).
#define SOAK_DECLINE_ABOVE 500000
// Keys a customer uses before it is retired and checked; a retired
// customer's key space is then freed, so the client's memory is bounded.
#define SOAK_KEYS_PER_CUSTOMER 128
// A key's amount encodes its index, so a streamed transaction names the key
// that paid it: 100 + index charges, 600000 + index is declined.
#define SOAK_AMOUNT_BASE 100
#define SOAK_DECLINED_BASE 600000
#define SOAK_CUSTOMERS_PER_CLIENT 4
#define SOAK_MAX_BATCH 8
// Keys an active customer keeps free beyond a batch: one for its final
// check and two for subscriber sentinels (soak_sub.c).
#define SOAK_KEYS_RESERVED 3

typedef struct soak_opts {
  const char *server;  // the payments-server binary
  int clients;
  double seconds;
  uint64_t seed;
  int max_stored;     // passed to the server (--max-stored)
  int max_recv_size;  // passed to the server (--max-recv-size)
  int workers;        // passed to the server (--workers); 0: its default
  bool rss_check;
  double rss_limit_pct;  // fail when the server's RSS grows this much or more
  double warmup_pct;     // the warm level is taken after this share of the run ...
  double warmup_min_s;   // ... and no earlier than this
  uint32_t only;         // with --only: bit 1 << action for each action to run
} soak_opts;

// The methods, in proto order; calls are counted per method and status.
enum { SOAK_CHARGE, SOAK_STREAM, SOAK_BATCH, SOAK_CHAT, SOAK_METHODS };
#define SOAK_CODES 17  // gRPC status codes 0..16

// What a client thread does; counted per action.
typedef enum soak_action {
  A_CHARGE_NEW,
  A_CHARGE_DECLINED,
  A_CHARGE_RETRY,
  A_CHARGE_INVALID,
  A_CHARGE_DEADLINE,
  A_CHARGE_CANCEL,
  A_CHARGE_OVERSIZED,
  A_STREAM,
  A_STREAM_CANCEL,
  A_BATCH,
  A_BATCH_DEADLINE,
  A_BATCH_CANCEL,
  A_BATCH_OVERSIZED,
  A_CHAT,
  A_CHAT_DEADLINE,
  A_CHAT_CANCEL,
  A_CHAT_OVERSIZED,
  A_CHANNEL_DROP,
  A_RAW_GARBAGE,
  A_CONN_CUT,
  A_TCP_DROP,
  A_SUBSCRIBE,      // subscribe, charge, see each charge arrive, cancel
  A_SUB_CANCEL,     // the same, cancelled at a random moment
  A_SUB_DEADLINE,   // the same, ended by a short deadline
  A_SUB_CLOSE,      // the same, ended by closing the whole channel
  A_WATCH_CYCLE,    // a long-lived subscriber checked, ended, reopened
  A_SUB_SHUTDOWN,   // a subscriber open while the server shuts down
  A_VERIFY,
  A_COUNT
} soak_action;

extern const char *const soak_action_names[A_COUNT];

// What the client knows about one idempotency key.
typedef enum key_state {
  K_UNSENT = 0,
  K_NEVER,     // refused before charging (invalid, oversized): must never be charged
  K_MAYBE,     // sent, reply lost (deadline, cancel, disconnect): charged at most once
  K_APPLIED,   // charged (BatchCharge said so), transaction id not seen yet
  K_CHARGED,   // charged as `tid`
  K_DECLINED,  // declined (as `tid` when known)
} key_state;

typedef struct key_rec {
  uint8_t state;     // key_state
  uint8_t currency;  // index into soak_currencies
  uint8_t pad;       // extra bytes that make the key long
  bool declined;     // its amount is above SOAK_DECLINE_ABOVE
  uint32_t tid;      // the number of its transaction id, 0 when unknown
  int64_t processed_at;
  uint64_t seq;       // soak.keys_sent after it was first sent (retry window)
  uint64_t tid_floor;  // soak.max_tid before it was first sent: its id is larger
} key_rec;

typedef struct customer {
  char id[40];
  uint32_t used;  // keys handed out so far
  int64_t retired_ms;  // when it was retired (0: active)
  key_rec keys[SOAK_KEYS_PER_CUSTOMER];
} customer;

extern const char *const soak_currencies[3];

typedef struct soak_client {
  int index;
  uint64_t rng;
  char target[32];
  cpay_channel *ch;
  cpay_arena *arena;
  customer *active[SOAK_CUSTOMERS_PER_CLIENT];
  customer **retired;  // waiting for their check
  size_t retired_count, retired_cap;
  uint32_t generation;  // customers created so far
  void *raw;            // a C-core channel for raw calls (soak_raw.c)
  void *subs;           // the client's subscriptions (soak_sub.c)
} soak_client;

// What one stream of a customer's transactions has shown so far.
typedef struct txn_walk {
  int64_t since;
  uint32_t last;  // the last transaction number
  int64_t last_at;
  uint8_t seen[SOAK_KEYS_PER_CUSTOMER / 8];
  int count;
} txn_walk;

// Global state; counters are updated by every thread.
typedef struct soak_state {
  soak_opts opts;
  int port;
  int64_t start_unix;
  atomic_bool stop;
  atomic_long calls[SOAK_METHODS][SOAK_CODES];
  atomic_long no_status[SOAK_METHODS];  // calls that failed without a gRPC status
  atomic_long actions[A_COUNT];
  atomic_long wrong;
  _Atomic(uint64_t) keys_sent;   // distinct idempotency keys sent so far
  _Atomic(uint64_t) max_tid;     // the largest transaction number seen
  _Atomic(uint64_t) successes;   // keys known to have been charged (a lower bound)
  atomic_long retries;
  atomic_long txns_checked;
  atomic_long customers_checked;
  atomic_long double_charges;
  atomic_long subs_opened;      // asynchronous subscriptions started
  atomic_long watchers_opened;  // of which long-lived
  atomic_long live_txns;        // transactions subscribers received (all checked)
  atomic_long charges_awaited;  // charges seen to arrive on a subscription
  atomic_long exact_checks;     // subscriptions found to hold exactly their charges
} soak_state;

extern soak_state soak;

// ---- soak_main.c -----------------------------------------------------------

// Reports a reply that differs from what the server documents: counted,
// and printed (the first 200) with the client, the action and `fmt`.
void soak_wrong(const soak_client *c, soak_action a, const char *fmt, ...)
    CPAY_PRINTF(3, 4);
int64_t soak_now_ms(void);  // monotonic
void soak_sleep_ms(int64_t ms);
uint64_t soak_rand(soak_client *c);
// Uniform in [lo, hi].
int64_t soak_range(soak_client *c, int64_t lo, int64_t hi);

// ---- soak_client.c ---------------------------------------------------------

// Creates the client's channel and first customers; false with a message
// printed when that fails.
bool soak_client_init(soak_client *c, int index);
// One random action (or the check of a customer retired a while ago).
void soak_client_step(soak_client *c);
// The final check of every customer the client still knows (after the load
// has stopped, so it also checks that every charge the server must still
// hold is streamed).
void soak_client_final_check(soak_client *c);
void soak_client_free(soak_client *c);
// Counts a finished call and checks its status is one of `allowed` (bits
// of 1 << code); false (with a wrong reply reported) otherwise.
bool soak_expect(soak_client *c, soak_action a, int method, cpay_code rc,
                 const cpay_rpc_result *res, const cpay_status *st, uint32_t allowed);
// A random active customer with room for a batch and SOAK_KEYS_RESERVED
// more keys; retires a full one (closing its subscribers) and replaces it.
customer *soak_pick_customer(soak_client *c);
// Charges a new key of `cu` (an amount the server declines when `declined`)
// with a blocking ChargeCard that must succeed; checks and records the
// reply. Returns its transaction number (0 when the call failed, which is
// reported) and the key's index in *idx.
uint32_t soak_charge_key(soak_client *c, soak_action a, customer *cu, bool declined,
                         uint32_t *idx);
// Checks one streamed transaction of `cu` against the keys the client sent
// (the key its amount names, its currency, its transaction id, no key
// twice, in order, since w->since) and records it in `w`; returns its
// number (0 if bad). From the client's thread only.
uint32_t soak_check_txn(soak_client *c, soak_action a, customer *cu, txn_walk *w,
                        const payments_v1_Transaction *t);
// "txn_000042" -> 42; 0 when `s` is not `prefix` and a number.
uint32_t soak_parse_tid(cpay_str s, const char *prefix);
// A channel to `target` of the client's own (its own connection).
cpay_channel *soak_new_channel(const soak_client *c, const char *target);

// ---- soak_sub.c ------------------------------------------------------------

// Allocates the client's subscription state; false with a message printed.
bool soak_sub_init(soak_client *c);
// Before each action: checks what the long-lived subscribers received and
// opens those that are closed.
void soak_sub_tend(soak_client *c);
// A_SUBSCRIBE, A_SUB_CANCEL, A_SUB_DEADLINE or A_SUB_CLOSE.
void soak_sub_subscribe(soak_client *c, soak_action a);
// A_WATCH_CYCLE.
void soak_sub_watch_cycle(soak_client *c);
// `cu` was retired: its long-lived subscribers are checked and ended.
void soak_sub_customer_retired(soak_client *c, customer *cu);
// The client's channel was freed (action `a`): every subscriber on it must
// have ended CANCELLED, "the channel was closed". Call before a new channel
// is made.
void soak_sub_channel_closed(soak_client *c, soak_action a);
// The end of the run, before the customer checks: each long-lived
// subscriber must hold exactly its customer's charges since it subscribed;
// then all are ended.
void soak_sub_final_check(soak_client *c);
// Opens a subscription to stay open while the server shuts down, and, once
// the server has exited, checks it ended UNAVAILABLE.
void soak_sub_shutdown_open(soak_client *c);
void soak_sub_shutdown_check(soak_client *c);
// After the channel is freed. Accepts a client whose init failed.
void soak_sub_free(soak_client *c);

// ---- soak_raw.c ------------------------------------------------------------

// Sends undecodable bytes to a random method and expects INTERNAL.
void soak_raw_garbage(soak_client *c);
// A TCP proxy to the server for one connection, which soak_proxy_cut
// resets (both sides) and frees. NULL with a message printed on failure.
typedef struct soak_proxy soak_proxy;
soak_proxy *soak_proxy_start(int server_port);
int soak_proxy_port(const soak_proxy *p);
void soak_proxy_cut(soak_proxy *p);
// Opens a TCP connection to the server, writes a random prefix of an HTTP/2
// conversation or junk, and resets it.
void soak_tcp_drop(soak_client *c);
void soak_raw_free(soak_client *c);

#endif  // CPAY_TESTS_SOAK_SOAK_H_
