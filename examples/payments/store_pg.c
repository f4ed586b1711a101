// The PostgreSQL store of payments-server (--store postgres:CONNINFO): state
// shared by every replica that points at the same database, through libpq.
//
// Charges. Each idempotency key is the primary key of payments_charges, so
// exactly one charge exists per key whichever replicas its retries reach:
// payments_charge() (a function the server creates with the schema) inserts
// with ON CONFLICT DO NOTHING and, when another transaction won, returns the
// winner's row; a racing insert of the same key waits for the winner to
// commit or roll back. Charge numbers come from a sequence (transaction ids
// "txn_000042" unique across replicas). A successful charge is also a row
// of payments_transactions, in the same transaction; a declined one is
// recorded for its key only, as in the memory store.
//
// The live feed. Every transaction row gets a feed position from the one
// row of payments_feed_head (UPDATE ... SET pos = pos + 1), locked until the
// charge commits: positions are gapless (a rollback takes its increment
// back) and in commit order (the next charge gets its position only after
// the previous one committed), unlike sequence values, which concurrent
// transactions may commit out of order. So "every row past position P" is
// always a complete suffix: a reader that has applied up to P and reads
// feed_pos > P can skip nothing. The cost is that successful charges commit
// one at a time, holding the lock from the UPDATE to the commit only.
// The charge also sends NOTIFY payments_feed; each replica's listener
// thread (its own connection, LISTEN payments_feed) wakes on it, or every
// second regardless, reads the rows past its position and hands them to the
// in-process feed (payments_server.c), which streams them to subscribers.
// Notifications are wake-ups, not data: a lost one (a dropped connection)
// delays, the next read catches up. The same thread answers each new
// subscription's history (since_unix) from the database, bounded by its
// position, before subscribing it to what follows: no gap, no duplicate.
//
// Failures. Connections are made lazily, one per worker thread (the
// blocking handlers run on the --workers pool), with connect_timeout 2 s
// and statement_timeout 5 s; every statement also has a client-side limit
// (6 s, or the call's deadline when sooner) measured with poll(), so a
// database that stops answering cannot hold a worker (connecting takes up
// to connect_timeout, not cut by the deadline). A charge that fails on a
// broken or unanswering connection answers UNAVAILABLE and drops it; the
// next call reconnects. After a transient error (statement timeout,
// deadlock, serialization failure, 53xxx) on a healthy connection the
// connection is kept. A charge whose connection broke is tried once more on a new
// connection: that is safe because the key decides (the first try either
// committed, and the retry returns its row, or did not). Only a committed
// charge is acknowledged. While the database is down, new subscriptions end
// UNAVAILABLE; open ones stay open and resume where they were once the
// listener reconnects.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define CONNECT_TIMEOUT "2"  // seconds, libpq's connect_timeout (2 is its least)
#define STATEMENT_TIMEOUT_MS 5000
#define CLIENT_TIMEOUT_MS (STATEMENT_TIMEOUT_MS + 1000)
#define FEED_BATCH 1000  // rows per catch-up query
#define LISTEN_POLL_MS 1000
#define RECONNECT_MAX_MS 2000

// Created once by whichever replica gets the advisory lock first; the others
// wait for it and find everything there.
static const char kSchema[] =
    "BEGIN;\n"
    "SET LOCAL client_min_messages = warning;\n"  // no "already exists, skipping"
    "SELECT pg_advisory_xact_lock(74110019);\n"
    "CREATE SEQUENCE IF NOT EXISTS payments_charge_seq;\n"
    "CREATE TABLE IF NOT EXISTS payments_charges (\n"
    "  idempotency_key bytea PRIMARY KEY,\n"
    "  charge_no bigint NOT NULL UNIQUE,\n"
    "  transaction_id text NOT NULL UNIQUE,\n"
    "  status integer NOT NULL,\n"
    "  processor_reference text NOT NULL,\n"
    "  processed_at bigint NOT NULL,\n"
    "  customer_id text NOT NULL,\n"
    "  amount_cents bigint NOT NULL,\n"
    "  currency text NOT NULL,\n"
    "  served_by text NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS payments_transactions (\n"
    "  feed_pos bigint PRIMARY KEY,\n"
    "  transaction_id text NOT NULL UNIQUE REFERENCES payments_charges (transaction_id),\n"
    "  customer_id text NOT NULL,\n"
    "  amount_cents bigint NOT NULL,\n"
    "  currency text NOT NULL,\n"
    "  created_at bigint NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS payments_transactions_customer\n"
    "  ON payments_transactions (customer_id, feed_pos);\n"
    "CREATE TABLE IF NOT EXISTS payments_feed_head (\n"
    "  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),\n"
    "  pos bigint NOT NULL);\n"
    "INSERT INTO payments_feed_head (only_row, pos) VALUES (true, 0) ON CONFLICT DO NOTHING;\n"
    "CREATE OR REPLACE FUNCTION payments_charge(\n"
    "    p_key bytea, p_customer text, p_amount bigint, p_currency text, p_status integer,\n"
    "    p_declined boolean, p_now bigint, p_served_by text,\n"
    "    OUT o_transaction_id text, OUT o_status integer, OUT o_reference text,\n"
    "    OUT o_processed_at bigint)\n"
    "LANGUAGE plpgsql AS $fn$\n"
    "DECLARE\n"
    "  v_no bigint := nextval('payments_charge_seq');\n"
    "  v_digits text;\n"
    "  v_pos bigint;\n"
    "BEGIN\n"
    "  v_digits := CASE WHEN v_no < 1000000 THEN lpad(v_no::text, 6, '0') ELSE v_no::text END;\n"
    "  o_transaction_id := 'txn_' || v_digits;\n"
    "  o_reference := CASE WHEN p_declined THEN 'decl_' ELSE 'auth_' END || v_digits;\n"
    "  o_status := p_status;\n"
    "  o_processed_at := p_now;\n"
    "  INSERT INTO payments_charges VALUES (p_key, v_no, o_transaction_id, p_status,\n"
    "      o_reference, p_now, p_customer, p_amount, p_currency, p_served_by)\n"
    "    ON CONFLICT (idempotency_key) DO NOTHING;\n"
    "  IF NOT FOUND THEN\n"
    "    SELECT c.transaction_id, c.status, c.processor_reference, c.processed_at\n"
    "      INTO STRICT o_transaction_id, o_status, o_reference, o_processed_at\n"
    "      FROM payments_charges c WHERE c.idempotency_key = p_key;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF NOT p_declined THEN\n"
    "    UPDATE payments_feed_head SET pos = pos + 1 RETURNING pos INTO v_pos;\n"
    "    INSERT INTO payments_transactions\n"
    "      VALUES (v_pos, o_transaction_id, p_customer, p_amount, p_currency, p_now);\n"
    "    PERFORM pg_notify('payments_feed', v_pos::text);\n"
    "  END IF;\n"
    "END\n"
    "$fn$;\n"
    "COMMIT;\n";

static const char kCharge[] =
    "SELECT o_transaction_id, o_status, o_reference, o_processed_at "
    "FROM payments_charge($1, $2, $3, $4, $5, $6, $7, $8)";

static const char kFeedRead[] =
    "SELECT feed_pos, transaction_id, customer_id, amount_cents, currency, created_at "
    "FROM payments_transactions WHERE feed_pos > $1 ORDER BY feed_pos LIMIT $2";

static const char kHistory[] =
    "SELECT feed_pos, transaction_id, customer_id, amount_cents, currency, created_at "
    "FROM payments_transactions "
    "WHERE customer_id = $1 AND created_at >= $2 AND feed_pos <= $3 "
    "ORDER BY feed_pos LIMIT $4";

typedef struct pg_store {
  store base;
  feed *f;
  char *conninfo;
  const char *replica_id;  // x-served-by, recorded with each charge (borrowed)
  pthread_key_t conn_key;  // each worker thread's connection
  pthread_t listener;
  bool listener_started;
  atomic_bool stopping;
  int wake[2];       // a byte in wake[1] wakes the listener
  int64_t feed_pos;  // the listener's: the last position handed to the feed
} pg_store;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// libpq's messages end with a newline and may go on with hints on more
// lines; ours are the first line.
static void set_err(char *err, size_t n, const char *prefix, const char *msg) {
  snprintf(err, n, "%s%s", prefix, msg ? msg : "");
  err[strcspn(err, "\n")] = '\0';
}

// A failed result's message and SQLSTATE, without its context lines.
static void set_result_err(char *err, size_t n, const char *prefix, const PGresult *r) {
  const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (!primary) {
    set_err(err, n, prefix, PQresultErrorMessage(r));
    return;
  }
  snprintf(err, n, "%s%s (SQLSTATE %s)", prefix, primary, state ? state : "?");
  err[strcspn(err, "\n")] = '\0';
}

// The server's notices and warnings (and its last words when it goes away,
// "terminating connection due to administrator command") go to stderr as
// one line naming the program.
static void print_notice(void *arg, const char *msg) {
  (void)arg;
  fprintf(stderr, "payments-server: postgres: %.*s\n", (int)strcspn(msg, "\n"), msg);
}

// A new connection, or NULL with the reason in `err`. The caller's
// conninfo comes last, so its own connect_timeout or options win.
static PGconn *pg_connect(const pg_store *p, const char *app, char *err, size_t n) {
  const char *const keys[] = {"connect_timeout", "options", "application_name", "dbname", NULL};
  char options[64];
  snprintf(options, sizeof options, "-c statement_timeout=%d", STATEMENT_TIMEOUT_MS);
  const char *const vals[] = {CONNECT_TIMEOUT, options, app, p->conninfo, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (c && PQstatus(c) == CONNECTION_OK) {
    PQsetNoticeProcessor(c, print_notice, NULL);
    return c;
  }
  set_err(err, n, "cannot connect: ", c ? PQerrorMessage(c) : "out of memory");
  PQfinish(c);
  return NULL;
}

// Runs `sql` (with `nparams` parameters; negative: several statements, no
// parameters) and waits for its results until `deadline` (now_ms). Returns
// its result (the first failed one, if any), or NULL when the connection
// broke or the time ran out; `err` then says which, and the connection must
// be dropped: the statement's fate is unknown.
static PGresult *pg_run(PGconn *c, const char *sql, int nparams, const char *const *vals,
                        const int *lens, const int *fmts, int64_t deadline, char *err,
                        size_t n) {
  int sent = nparams < 0 ? PQsendQuery(c, sql)
                         : PQsendQueryParams(c, sql, nparams, NULL, vals, lens, fmts, 0);
  if (!sent) {
    set_err(err, n, "", PQerrorMessage(c));
    return NULL;
  }
  PGresult *kept = NULL;
  for (;;) {
    while (!PQisBusy(c)) {
      PGresult *r = PQgetResult(c);
      if (!r) {
        if (!kept) set_err(err, n, "", PQerrorMessage(c));
        return kept;
      }
      ExecStatusType rs = PQresultStatus(r);
      bool failed = rs == PGRES_FATAL_ERROR || rs == PGRES_BAD_RESPONSE;
      if (!kept || (failed && PQresultStatus(kept) != PGRES_FATAL_ERROR)) {
        PQclear(kept);
        kept = r;
      } else {
        PQclear(r);
      }
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      PQclear(kept);
      set_err(err, n, "", "no answer in time");
      return NULL;
    }
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0 || (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) ||
        (pfd.revents && !PQconsumeInput(c))) {
      PQclear(kept);
      set_err(err, n, "", PQerrorMessage(c));
      return NULL;
    }
  }
}

// Whether a failed statement is the database being away or busy (restart,
// shutdown, connection trouble, too many connections, a timeout, a
// deadlock), which a retry later may get past.
static bool transient(const PGresult *r) {
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (!state) return true;
  return strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
         strncmp(state, "53", 2) == 0 || strcmp(state, "57014") == 0 ||
         strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

static void drop_conn(void *c) { PQfinish(c); }

// ---- ChargeCard ---------------------------------------------------------------

static cpay_grpc_code pg_charge(store *base, const payments_v1_ChargeRequest *req,
                                int64_t time_left_ms, payments_v1_ChargeResponse *out,
                                cpay_arena *a, char *why, size_t why_size) {
  pg_store *p = (pg_store *)base;
  char customer[MAX_CUSTOMER_BYTES + 1], currency[8], amount[24], status[12], now[24];
  if (memchr(req->customer_id.data, '\0', req->customer_id.size)) {
    snprintf(why, why_size, "customer_id must not contain NUL bytes");
    return CPAY_GRPC_INVALID_ARGUMENT;
  }
  memcpy(customer, req->customer_id.data, req->customer_id.size);
  customer[req->customer_id.size] = '\0';
  memcpy(currency, req->currency.data, req->currency.size);
  currency[req->currency.size] = '\0';
  bool declined = req->amount_cents > DECLINE_ABOVE_CENTS;
  snprintf(amount, sizeof amount, "%" PRId64, req->amount_cents);
  snprintf(status, sizeof status, "%d",
           (int)(declined ? payments_v1_CHARGE_STATUS_DECLINED
                          : payments_v1_CHARGE_STATUS_SUCCESS));
  snprintf(now, sizeof now, "%" PRId64, (int64_t)time(NULL));
  const char *const vals[] = {req->idempotency_key.data, customer, amount, currency, status,
                              declined ? "t" : "f", now, p->replica_id};
  const int lens[] = {(int)req->idempotency_key.size, 0, 0, 0, 0, 0, 0, 0};
  const int fmts[] = {1, 0, 0, 0, 0, 0, 0, 0};  // the key is bytes, the rest text

  int64_t limit = CLIENT_TIMEOUT_MS;
  if (time_left_ms >= 0 && time_left_ms < limit) limit = time_left_ms;
  if (limit <= 0) {
    snprintf(why, why_size, "the deadline passed before the charge was made");
    return CPAY_GRPC_DEADLINE_EXCEEDED;
  }
  int64_t deadline = now_ms() + limit;
  char err[256] = "";
  // A second try only after a broken connection (see the file comment).
  for (int attempt = 0; attempt < 2; attempt++) {
    PGconn *c = pthread_getspecific(p->conn_key);
    if (c && PQstatus(c) != CONNECTION_OK) {
      PQfinish(c);
      c = NULL;
      pthread_setspecific(p->conn_key, NULL);
    }
    if (!c) {
      c = pg_connect(p, "payments-server", err, sizeof err);
      if (!c) break;
      pthread_setspecific(p->conn_key, c);
    }
    PGresult *r = pg_run(c, kCharge, 8, vals, lens, fmts, deadline, err, sizeof err);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      out->transaction_id = cpay_str_dup(a, cpay_str_from_c(PQgetvalue(r, 0, 0)));
      out->status = (payments_v1_ChargeStatus)atoi(PQgetvalue(r, 0, 1));
      out->processor_reference = cpay_str_dup(a, cpay_str_from_c(PQgetvalue(r, 0, 2)));
      out->processed_at_unix = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
      PQclear(r);
      return CPAY_GRPC_OK;
    }
    if (r) {
      bool again = transient(r);
      set_result_err(err, sizeof err, "", r);
      PQclear(r);
      if (!again) {
        snprintf(why, why_size, "database error: %s", err);
        return CPAY_GRPC_INTERNAL;
      }
      if (PQstatus(c) == CONNECTION_OK) break;  // a timeout or a deadlock: the client retries
    }
    // The connection broke or did not answer in time: never reuse it.
    PQfinish(c);
    pthread_setspecific(p->conn_key, NULL);
    if (now_ms() >= deadline) break;
  }
  snprintf(why, why_size,
           "database unavailable (a retry with the same idempotency_key charges at most once): "
           "%s",
           err);
  return CPAY_GRPC_UNAVAILABLE;
}

// ---- the listener thread: the live feed and subscriptions' history ------------

// A row of kFeedRead or kHistory as a feed_txn.
static void row_txn(const PGresult *r, int i, feed_txn *t) {
  memset(t, 0, sizeof *t);
  snprintf(t->id, sizeof t->id, "%s", PQgetvalue(r, i, 1));
  snprintf(t->customer, sizeof t->customer, "%s", PQgetvalue(r, i, 2));
  t->amount_cents = strtoll(PQgetvalue(r, i, 3), NULL, 10);
  snprintf(t->currency, sizeof t->currency, "%s", PQgetvalue(r, i, 4));
  t->created_at = strtoll(PQgetvalue(r, i, 5), NULL, 10);
}

// The rows of `r` as a malloc'd array (NULL when empty or out of memory).
static feed_txn *rows_txns(const PGresult *r, int rows) {
  feed_txn *ts = rows ? malloc((size_t)rows * sizeof *ts) : NULL;
  for (int i = 0; ts && i < rows; i++) row_txn(r, i, &ts[i]);
  return ts;
}

// Hands every committed transaction past p->feed_pos to the feed, in
// position order. False when the connection failed (err says why).
static bool catch_up(pg_store *p, PGconn *c, char *err, size_t n) {
  for (;;) {
    char pos[24], limit[24];
    snprintf(pos, sizeof pos, "%" PRId64, p->feed_pos);
    snprintf(limit, sizeof limit, "%d", FEED_BATCH);
    const char *const vals[] = {pos, limit};
    PGresult *r = pg_run(c, kFeedRead, 2, vals, NULL, NULL, now_ms() + CLIENT_TIMEOUT_MS, err, n);
    if (!r) return false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      set_result_err(err, n, "", r);
      PQclear(r);
      return false;
    }
    int rows = PQntuples(r);
    feed_txn *ts = rows_txns(r, rows);
    if (rows && !ts) {
      PQclear(r);
      set_err(err, n, "", "out of memory");
      return false;
    }
    feed_lock(p->f);
    for (int i = 0; i < rows; i++) feed_add(p->f, &ts[i]);
    feed_unlock(p->f);
    if (rows) p->feed_pos = strtoll(PQgetvalue(r, rows - 1, 0), NULL, 10);
    free(ts);
    PQclear(r);
    if (rows < FEED_BATCH) return true;
  }
}

// Answers the history of each waiting subscription (up to p->feed_pos, the
// feed's next transaction being the first after it) and subscribes it.
// False when the connection failed.
static bool serve_pending(pg_store *p, PGconn *c, char *err, size_t n) {
  size_t cap = feed_capacity(p->f);
  for (;;) {
    char customer[MAX_CUSTOMER_BYTES + 1], since[24], pos[24], limit[24];
    int64_t since_unix;
    feed_lock(p->f);
    subscriber *sub = feed_take_pending(p->f, customer, &since_unix);
    feed_unlock(p->f);
    if (!sub) return true;
    snprintf(since, sizeof since, "%" PRId64, since_unix);
    snprintf(pos, sizeof pos, "%" PRId64, p->feed_pos);
    snprintf(limit, sizeof limit, "%zu", cap + 1);
    const char *const vals[] = {customer, since, pos, limit};
    PGresult *r = pg_run(c, kHistory, 4, vals, NULL, NULL, now_ms() + CLIENT_TIMEOUT_MS, err, n);
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    if (r && !ok) set_result_err(err, n, "", r);
    int rows = ok ? PQntuples(r) : 0;
    feed_txn *ts = ok && (size_t)rows <= cap ? rows_txns(r, rows) : NULL;
    char msg[384];
    feed_lock(p->f);
    if (!ok) {
      snprintf(msg, sizeof msg, "database unavailable, subscribe again: %s", err);
      feed_fail_pending(p->f, sub, CPAY_GRPC_UNAVAILABLE, msg);
    } else if ((size_t)rows > cap) {
      snprintf(msg, sizeof msg,
               "more than %zu transactions since since_unix %s (--max-stored); subscribe with "
               "a later since_unix",
               cap, since);
      feed_fail_pending(p->f, sub, CPAY_GRPC_RESOURCE_EXHAUSTED, msg);
    } else if (rows && !ts) {
      feed_fail_pending(p->f, sub, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    } else {
      feed_attach_history(p->f, sub, ts, (size_t)rows);
    }
    feed_unlock(p->f);
    bool answered = r != NULL;
    PQclear(r);
    if (!answered || (!ok && PQstatus(c) != CONNECTION_OK)) return false;
  }
}

// While the listener has no connection, new subscriptions cannot get their
// history: they end UNAVAILABLE so that clients subscribe again (here or
// elsewhere) rather than wait without knowing.
static void fail_all_pending(pg_store *p, const char *err) {
  char msg[384];
  snprintf(msg, sizeof msg, "database unavailable, subscribe again: %s", err);
  feed_lock(p->f);
  char customer[MAX_CUSTOMER_BYTES + 1];
  int64_t since;
  subscriber *sub;
  while ((sub = feed_take_pending(p->f, customer, &since))) {
    feed_fail_pending(p->f, sub, CPAY_GRPC_UNAVAILABLE, msg);
  }
  feed_unlock(p->f);
}

// Waits up to `ms` for a byte on the wake pipe or input on `fd` (-1: none),
// then empties the pipe.
static void wait_wake(pg_store *p, int fd, int ms) {
  struct pollfd pfd[2] = {{.fd = p->wake[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
  if (poll(pfd, fd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR) return;
  char buf[64];
  while (read(p->wake[0], buf, sizeof buf) > 0) {
  }
}

// Frees the notifications libpq holds; true when there was one. Their
// payloads do not matter: every wakeup reads what was committed since.
static bool drain_notifies(PGconn *c) {
  bool any = false;
  PGnotify *note;
  while ((note = PQnotifies(c))) {
    PQfreemem(note);
    any = true;
  }
  return any;
}

static void wake_listener(void *ctx) {
  pg_store *p = ctx;
  ssize_t w = write(p->wake[1], "w", 1);  // a full pipe already wakes it
  (void)w;
}

static void *listener_main(void *arg) {
  pg_store *p = arg;
  PGconn *c = NULL;
  int backoff_ms = 100;
  bool was_down = false;
  char err[256];
  while (!atomic_load(&p->stopping)) {
    if (!c) {
      c = pg_connect(p, "payments-server feed", err, sizeof err);
      PGresult *r = c ? pg_run(c, "LISTEN payments_feed", 0, NULL, NULL, NULL,
                               now_ms() + CLIENT_TIMEOUT_MS, err, sizeof err)
                      : NULL;
      if (r && PQresultStatus(r) != PGRES_COMMAND_OK) set_result_err(err, sizeof err, "", r);
      if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(c);
        c = NULL;
        if (!was_down) fprintf(stderr, "payments-server: feed: database unavailable: %s\n", err);
        was_down = true;
        fail_all_pending(p, err);
        wait_wake(p, -1, backoff_ms);
        backoff_ms = backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff_ms * 2;
        continue;
      }
      PQclear(r);
      if (was_down) {
        fprintf(stderr, "payments-server: feed: reconnected, catching up from position %" PRId64 "\n",
                p->feed_pos);
      }
      was_down = false;
      backoff_ms = 100;
    }
    // LISTEN came first: a commit after this read notifies us.
    if (!catch_up(p, c, err, sizeof err) || !serve_pending(p, c, err, sizeof err)) {
      fprintf(stderr, "payments-server: feed: connection lost: %s\n", err);
      was_down = true;
      PQfinish(c);
      c = NULL;
      continue;
    }
    // A notification that arrived with the reads above is already in
    // libpq's queue, not on the socket: read again at once rather than
    // wait for the poll.
    if (!PQconsumeInput(c)) continue;  // the next statement finds it broken
    if (drain_notifies(c)) continue;
    wait_wake(p, PQsocket(c), LISTEN_POLL_MS);
    if (!PQconsumeInput(c)) continue;
    drain_notifies(c);
  }
  PQfinish(c);
  return NULL;
}

// ---- the store --------------------------------------------------------------

static void pg_stop(store *base) {
  pg_store *p = (pg_store *)base;
  if (!p->listener_started) return;
  atomic_store(&p->stopping, true);
  wake_listener(p);
  pthread_join(p->listener, NULL);
  p->listener_started = false;
}

static void pg_destroy(store *base) {
  pg_store *p = (pg_store *)base;
  if (!p) return;
  pg_stop(base);
  // The calling thread's connection, if it made one; worker threads' went
  // with them (the key's destructor).
  PQfinish(pthread_getspecific(p->conn_key));
  pthread_key_delete(p->conn_key);
  if (p->wake[0] >= 0) close(p->wake[0]);
  if (p->wake[1] >= 0) close(p->wake[1]);
  free(p->conninfo);
  free(p);
}

static const store_ops kPostgresStore = {
    .name = "postgres",
    .charge = pg_charge,
    .feed_has_history = false,
    .stop = pg_stop,
    .destroy = pg_destroy,
};

// Creates the schema (once, under an advisory lock: replicas may start
// together) and reads the feed's position: live transactions start after it.
static bool init_schema(pg_store *p, char *err, size_t n) {
  char why[256];
  PGconn *c = pg_connect(p, "payments-server", why, sizeof why);
  if (!c) {
    set_err(err, n, "", why);
    return false;
  }
  bool ok = false;
  PGresult *r = pg_run(c, kSchema, -1, NULL, NULL, NULL, now_ms() + 30000, why, sizeof why);
  if (r && PQresultStatus(r) != PGRES_COMMAND_OK) {
    set_result_err(err, n, "creating the schema: ", r);
  } else if (!r) {
    set_err(err, n, "creating the schema: ", why);
  } else {
    PQclear(r);
    r = pg_run(c, "SELECT pos FROM payments_feed_head", 0, NULL, NULL, NULL,
               now_ms() + CLIENT_TIMEOUT_MS, why, sizeof why);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      p->feed_pos = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
      ok = true;
    } else {
      if (r) {
        set_result_err(err, n, "reading the feed position: ", r);
      } else {
        set_err(err, n, "reading the feed position: ", why);
      }
    }
  }
  PQclear(r);
  PQfinish(c);
  return ok;
}

store *store_pg_new(feed *f, const char *conninfo, const char *replica_id, char *err,
                    size_t err_size) {
  char *parse_err = NULL;
  PQconninfoOption *parsed = PQconninfoParse(conninfo, &parse_err);
  if (!parsed) {
    set_err(err, err_size, "bad connection string: ", parse_err ? parse_err : "out of memory");
    PQfreemem(parse_err);
    return NULL;
  }
  PQconninfoFree(parsed);
  pg_store *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  p->base.ops = &kPostgresStore;
  p->f = f;
  p->wake[0] = p->wake[1] = -1;
  atomic_init(&p->stopping, false);
  if (pthread_key_create(&p->conn_key, drop_conn) != 0) {
    free(p);
    snprintf(err, err_size, "out of thread keys");
    return NULL;
  }
  p->conninfo = strdup(conninfo);
  p->replica_id = replica_id;
  if (!p->conninfo || pipe(p->wake) != 0 ||
      fcntl(p->wake[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(p->wake[1], F_SETFL, O_NONBLOCK) != 0) {
    snprintf(err, err_size, "out of memory or file descriptors");
    pg_destroy(&p->base);
    return NULL;
  }
  if (!init_schema(p, err, err_size)) {
    pg_destroy(&p->base);
    return NULL;
  }
  feed_set_waker(f, wake_listener, p);
  if (pthread_create(&p->listener, NULL, listener_main, p) != 0) {
    feed_set_waker(f, NULL, NULL);
    snprintf(err, err_size, "cannot start the feed thread");
    pg_destroy(&p->base);
    return NULL;
  }
  p->listener_started = true;
  return &p->base;
}
