// The store behind payments-server: where charges are kept, once per
// idempotency key, and where StreamTransactions' history comes from.
//
// A store is a struct of function pointers (store_ops) followed, in the
// implementation's own struct, by its state: handlers call s->ops->charge
// without knowing which store runs, and a third store would add one file.
// Two exist: the in-memory rings (payments_server.c, the default) and
// PostgreSQL (store_pg.c, built when libpq is found).
//
// The live feed (the ring of recent transactions, the customers and their
// StreamTransactions subscribers, flow control) is not part of a store: both
// stores feed the one in payments_server.c. The memory store adds each new
// transaction as it charges; the PostgreSQL store adds, from a listener
// thread, every transaction committed by any replica, in commit order, and
// answers the history of each new subscription from the database
// (feed_take_pending / feed_attach_history below).
#ifndef PAYMENTS_STORE_H_
#define PAYMENTS_STORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/grpc.h"
#include "payments.cpay_grpc.h"

#define MAX_CUSTOMER_BYTES 63
#define DECLINE_ABOVE_CENTS 500000

// One transaction as the feed keeps and sends it.
typedef struct feed_txn {
  char id[24];  // "txn_000042", NUL-terminated
  char customer[MAX_CUSTOMER_BYTES + 1];
  char currency[8];
  int64_t amount_cents;
  int64_t created_at;
} feed_txn;

typedef struct feed feed;
typedef struct subscriber subscriber;
typedef struct store store;

typedef struct store_ops {
  const char *name;  // "memory", "postgres"
  // Charges a valid request (see invalid_reason in payments_server.c) once
  // per idempotency key: the first request for a key decides, a repeated
  // key gets the stored response. Strings of `out` go on `a`. Returns
  // CPAY_GRPC_OK, or the status to answer with and a message in `why`
  // (then nothing was acknowledged; a retry with the same key is safe).
  // `time_left_ms` (-1: no deadline) bounds how long it may take. Called
  // from the worker threads, concurrently.
  cpay_grpc_code (*charge)(store *s, const payments_v1_ChargeRequest *req, int64_t time_left_ms,
                           payments_v1_ChargeResponse *out, cpay_arena *a, char *why,
                           size_t why_size);
  // True when the feed's ring is the whole history (memory store): a new
  // subscription reads its history there. False: the store takes new
  // subscriptions with feed_take_pending and answers their history.
  bool feed_has_history;
  // Stops the store's threads; after the server has shut down.
  void (*stop)(store *s);
  // Frees the store (after stop). Accepts NULL.
  void (*destroy)(store *s);
} store_ops;

struct store {
  const store_ops *ops;
};

// ---- the feed, as a store uses it (payments_server.c) ----------------------

// The feed's lock, which the functions below need held.
void feed_lock(feed *f);
void feed_unlock(feed *f);
// Appends a transaction and sends it to its customer's subscribers.
void feed_add(feed *f, const feed_txn *t);
// Transactions the ring holds (--max-stored).
size_t feed_capacity(const feed *f);
// Calls `fn(ctx)` (under the lock) whenever a subscription is queued for
// its history, so that the store's thread wakes up.
void feed_set_waker(feed *f, void (*fn)(void *ctx), void *ctx);
// The oldest subscription waiting for its history, or NULL: its customer
// (NUL-terminated) and since_unix are copied out. The subscriber stays
// valid until it is handed back with feed_attach_history or
// feed_fail_pending, even if its call ends meanwhile.
subscriber *feed_take_pending(feed *f, char customer_id[MAX_CUSTOMER_BYTES + 1], int64_t *since);
// Gives `sub` its history, `n` transactions in order (`hist` from malloc,
// now the feed's), all older than the next one feed_add will get, and
// subscribes it to what follows.
void feed_attach_history(feed *f, subscriber *sub, feed_txn *hist, size_t n);
// Ends a taken subscription with `code` and `msg`.
void feed_fail_pending(feed *f, subscriber *sub, cpay_grpc_code code, const char *msg);
// True once the server is shutting down.
bool feed_closed(feed *f);

#if defined(PAYMENTS_STORE_PG)
// A PostgreSQL store on `conninfo` (a libpq connection string), feeding
// `f`; `replica_id` (recorded with each charge) must outlive the store and
// may be filled in until the first charge. Creates the schema if missing and starts the listener thread. NULL,
// with the reason in `err`, when the database cannot be reached or the
// schema cannot be created.
store *store_pg_new(feed *f, const char *conninfo, const char *replica_id, char *err,
                    size_t err_size);
#endif

#endif  // PAYMENTS_STORE_H_
